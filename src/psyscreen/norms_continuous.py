"""Continuous norms across grades: raw score as a smooth function of the norm score and of grade (age).

Conventional norms (:class:`psyscreen.norms.NormTable`) rank each grade x sex stratum on its own, which
needs a few hundred students per cell. Continuous norming (A. Lenhard, W. Lenhard, Suggate & Segerer
2016, *Assessment* 25; W. Lenhard, A. Lenhard & Gary 2019, *PLoS ONE* 14: e0222279) pools the grades:

1. **rank** every student within the grade (or within a sliding window of continuous age) and turn the
   percentile into a location ``L`` on the norm scale (T by default): :func:`rank_percentiles`,
   :func:`rank_sliding_window`;
2. **regress** the raw score on the powers ``L^1..L^k``, ``A^1..A^t`` of location and age ``A`` and all
   their products ``L^i A^j`` (a Taylor polynomial); the terms are chosen by an exhaustive best-subset
   search (the ``nbest = 10`` best subsets of each size by R2), and of each size the best subset whose
   percentile curves do not cross at the youngest and the oldest age modelled is kept; without a stated
   criterion the largest such model is taken (cNORM 3.6: "highest consistent model"), else the first
   size reaching a stated adjusted R2, or a stated number of terms: :func:`select_taylor_model`;
3. **invert** the fitted surface: a raw score at an age gives the norm score ``L`` that the polynomial maps
   to it, found numerically and vectorised over persons (grid bracket, then bisection), clipped at the
   modelled norm range and marked when clipped: :meth:`TaylorModel.predict_norm`.

Sex (or another binary variable) enters either as separate models (``by=("sex",)``) or as a covariate of
one shared model (``covariate="sex"``, cNORM's ``covariate``): ranks within grade x sex, and ``COV`` and
its products with every ``L^i A^j`` join the candidate terms, so the sexes share what they have in common.

Why this module exists: no Python library does continuous norming; R's cNORM (AGPL-3) does. This is an
own implementation from the papers and the package documentation, checked against cNORM 3.6.0's figures
(``cnorm()`` with defaults ``k = 5, t = 3``, RankIt ranks within group, ``extensive = TRUE``;
``predictNorm``, ``predictRaw``, ``normTable``, ``rawTable``, ``checkConsistency``,
``cnorm.betabinomial``): ranks and regression coefficients of the same model to 1e-6, norm scores to
0.1 T. The least squares are solved by QR on scaled columns: the powers reach 1e9 and the normal
equations are too ill-conditioned to give cNORM's coefficients.

:class:`psyscreen.norms.ContinuousNorms` (defined here, re-exported from :mod:`psyscreen.norms`) is the
estimator, in the style of ``NormTable``: ``fit`` / ``transform``, learned attributes ending in ``_``,
saved and loaded as JSON or Excel, read by ``psyscreen screen --norms``. The beta-binomial model for bounded
counts is in :mod:`psyscreen.norms_betabinomial`.
"""

from __future__ import annotations

import json
import math
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from .best_subsets import SubsetSearchError, iter_best_subsets
from .norms import NormError, NormFileError, NormWarning, UnknownStratumError, _label, _py, _version, stanine

__all__ = [
    "ContinuousNorms",
    "ContinuousNormError",
    "TaylorModel",
    "Consistency",
    "RANK_METHODS",
    "rank_percentiles",
    "rank_sliding_window",
    "compute_weights",
    "select_taylor_model",
    "norm_ci",
]

FORMAT = "psyscreen.norms.continuous"
FORMAT_VERSION = 1


def check_format(d: dict, source: str, fmt: str, version: int, what: str) -> None:
    """Refuse a saved norm file of another kind or version (one message for every kind of norm file)."""
    if d.get("format") != fmt:
        raise NormFileError(f"{source} is not a psyscreen {what} (format={d.get('format')!r}).")
    if d.get("version") != version:
        raise NormFileError(f"{source} has {what} version {d.get('version')!r}; this psyscreen reads {version}.")

RANK_METHODS = {
    "blom": (3 / 8, 1 / 4),
    "tukey": (1 / 3, 1 / 3),
    "van_der_waerden": (0.0, 1.0),
    "rankit": (0.5, 0.0),
}
"""Plotting positions ``p = (r - a) / (n + b)`` of the ranking methods, keyed by name: ``(a, b)``
(cNORM's ``method`` 1 = Blom, 2 = Tukey, 3 = Van der Waerden, 4 = RankIt, the default); ``r`` is the
mid-rank (ties get the average rank)."""

SCALES = {"T": (50.0, 10.0), "z": (0.0, 1.0), "IQ": (100.0, 15.0)}


class ContinuousNormError(NormError):
    """Continuous norms cannot be fitted or applied as asked (too few ages, no variance, no model)."""


# ---------------------------------------------------------------------------------------------
# 1. ranking
# ---------------------------------------------------------------------------------------------


def _check_method(method: str) -> tuple[float, float]:
    try:
        return RANK_METHODS[method]
    except KeyError:
        raise ContinuousNormError(f"unknown ranking method {method!r}; use one of {sorted(RANK_METHODS)}.") from None


def _weighted_midranks(raw: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Mid-rank of each score within one group, weights scaled to sum to n:
    ``r = W_below + W_equal / 2 + 1/2`` (the average rank when every weight is 1)."""
    n = raw.size
    w = w * (n / w.sum())
    order = np.argsort(raw, kind="stable")
    xs, ws = raw[order], w[order]
    uniq, start = np.unique(xs, return_index=True)
    wsum = np.add.reduceat(ws, start)
    below = np.concatenate([[0.0], np.cumsum(wsum)[:-1]])
    idx = np.searchsorted(uniq, raw)
    return below[idx] + wsum[idx] / 2.0 + 0.5


def rank_percentiles(raw, group=None, *, weights=None, method: str = "rankit", descend: bool = False) -> np.ndarray:
    """Percentile (0..1) of each raw score within its group, as cNORM's ``rankByGroup``.

    ``p = (r - a) / (n + b)`` with ``r`` the mid-rank in the group and ``(a, b)`` from :data:`RANK_METHODS`
    (RankIt: ``(r - 1/2) / n``). With ``weights`` (e.g. from :func:`compute_weights`), the weights are scaled
    to sum to the group's n and ``r = (weight below) + (weight equal) / 2 + 1/2``: RankIt then gives the
    weighted share below plus half the weighted share equal, and unit weights give the unweighted ranks.

    Parameters
    ----------
    raw : array_like
        Raw scores (no NaN).
    group : array_like, optional
        Group of each score (e.g. grade); one group when omitted.
    weights : array_like, optional
        Positive case weights.
    method : str, default "rankit"
        A key of :data:`RANK_METHODS`.
    descend : bool, default False
        Rank so that low raw scores get high percentiles.

    Returns
    -------
    ndarray
        Percentiles in (0, 1).

    Examples
    --------
    >>> rank_percentiles([3, 1, 2, 2], [1, 1, 1, 1]).tolist()
    [0.875, 0.125, 0.5, 0.5]
    """
    raw = np.asarray(raw, dtype=float)
    if np.isnan(raw).any():
        raise ContinuousNormError("raw scores contain NaN: drop the missing scores before ranking.")
    a, b = _check_method(method)
    grp = np.zeros(raw.size) if group is None else np.asarray(group)
    w = np.ones(raw.size) if weights is None else np.asarray(weights, dtype=float)
    if (w <= 0).any() or not np.isfinite(w).all():
        raise ContinuousNormError("weights must be positive and finite.")
    x = -raw if descend else raw
    out = np.empty(raw.size)
    codes, inv = np.unique(grp, return_inverse=True)
    for g in range(codes.size):  # a loop over groups (grades), vectorised within each
        pos = np.flatnonzero(inv == g)
        r = _weighted_midranks(x[pos], w[pos])
        out[pos] = (r - a) / (pos.size + b)
    return out


def rank_sliding_window(raw, age, width: float, *, weights=None, method: str = "rankit",
                        descend: bool = False, min_window: int = 10) -> np.ndarray:
    """Percentile of each raw score among the cases whose age is within ``width / 2`` of its own
    (cNORM's ``rankBySlidingWindow``): ranking by continuous age, without age groups.

    Parameters
    ----------
    raw, age : array_like
        Raw scores and continuous ages (or grades with fractions).
    width : float
        Window width in age units (e.g. 1 year).
    weights, method, descend
        As :func:`rank_percentiles`.
    min_window : int, default 10
        Fewer cases than this in any window raise :class:`ContinuousNormError`.

    Examples
    --------
    >>> rank_sliding_window([1, 2, 3, 10], [1.0, 1.1, 1.2, 5.0], width=1.0, min_window=1).round(3).tolist()
    [0.167, 0.5, 0.833, 0.5]
    """
    raw = np.asarray(raw, dtype=float)
    age = np.asarray(age, dtype=float)
    a, b = _check_method(method)
    w = np.ones(raw.size) if weights is None else np.asarray(weights, dtype=float)
    x = -raw if descend else raw
    out = np.empty(raw.size)
    half = width / 2.0
    for lo in range(0, raw.size, 512):  # chunks of persons x all persons: vectorised, bounded memory
        sl = slice(lo, lo + 512)
        win = np.abs(age[None, :] - age[sl, None]) <= half + 1e-12
        n = win.sum(1)
        if (n < min_window).any():
            raise ContinuousNormError(f"a sliding window of width {width} holds only {int(n.min())} cases "
                                      f"(min_window={min_window}): widen the window or rank by grade.")
        ww = np.where(win, w[None, :], 0.0)
        scale = n / ww.sum(1)
        below = (ww * (x[None, :] < x[sl, None])).sum(1) * scale
        equal = (ww * (x[None, :] == x[sl, None])).sum(1) * scale
        r = below + equal / 2.0 + 0.5
        out[sl] = (r - a) / (n + b)
    return out


def compute_weights(frame: pd.DataFrame, margins: Mapping[str, Mapping], *, max_iter: int = 200,
                    tol: float = 1e-10) -> np.ndarray:
    """Raking weights (iterative proportional fitting) that give a sample known population margins,
    as cNORM's ``computeWeights``: each variable's weighted shares are made equal to its margin in turn
    until none moves by more than ``tol``.

    Parameters
    ----------
    frame : pandas.DataFrame
        The norm sample with the margin variables (e.g. grade, sex, urban).
    margins : mapping
        ``{variable: {level: population share}}``; shares of a variable are rescaled to sum to 1.
    max_iter, tol
        Stopping rule.

    Returns
    -------
    ndarray
        One positive weight per row, scaled to mean 1.

    Raises
    ------
    ContinuousNormError
        A variable is absent, a sample level has no margin, a margin level has no case, or raking does
        not converge.

    Examples
    --------
    >>> f = pd.DataFrame({"sex": ["F", "F", "F", "M"]})
    >>> compute_weights(f, {"sex": {"F": 0.5, "M": 0.5}}).tolist()
    [0.6666666666666666, 0.6666666666666666, 0.6666666666666666, 2.0]
    """
    n = len(frame)
    w = np.ones(n)
    plan = []
    for var, shares in margins.items():
        if var not in frame.columns:
            raise ContinuousNormError(f"margin variable {var!r} is not a column of the norm sample.")
        col = frame[var].map(_py).to_numpy(dtype=object)
        shares = {_py(k): float(v) for k, v in shares.items()}
        total = sum(shares.values())
        levels = list(shares)
        seen = set(col.tolist())
        if seen - set(levels):
            raise ContinuousNormError(f"{var!r} has levels {sorted(map(str, seen - set(levels)))} without a margin.")
        empty = [lv for lv in levels if lv not in seen and shares[lv] > 0]
        if empty:
            raise ContinuousNormError(f"{var!r}: no case in the sample has level(s) {empty}; raking cannot reach "
                                      "their margin (merge levels or collect cases).")
        idx = np.array([levels.index(v) for v in col])
        plan.append((idx, np.array([shares[lv] / total for lv in levels])))
    for _ in range(max_iter):
        worst = 0.0
        for idx, target in plan:
            cur = np.bincount(idx, weights=w, minlength=target.size) / w.sum()
            ratio = np.divide(target, cur, out=np.ones_like(target), where=cur > 0)
            worst = max(worst, float(np.abs(cur - target).max()))
            w = w * ratio[idx]
        if worst < tol:
            return w / w.mean()
    raise ContinuousNormError(f"raking did not converge in {max_iter} iterations (largest margin gap {worst:.2g}): "
                              "the margins may be incompatible with the sample (an empty cell).")


# ---------------------------------------------------------------------------------------------
# 2. the Taylor polynomial and its selection
# ---------------------------------------------------------------------------------------------


def term_name(i: int, j: int, c: int = 0) -> str:
    return (f"L{i}" if i else "") + (f"A{j}" if j else "") + ("COV" if c else "")


def all_terms(k: int, t: int, covariate: bool = False) -> list[tuple]:
    """Terms in cNORM's order: L1..Lk, A1..At, then L1A1..LkA1, L1A2, ... LkAt. With a (binary, 0/1)
    ``covariate``, the terms are ``(i, j, c)`` triples: the same terms (``c = 0``), then ``COV`` and every
    term times ``COV`` (``c = 1``): the covariate shifts the whole surface, and its interactions with L and A
    let it change the spread and the course over age (as cNORM's ``covariate`` option)."""
    base = ([(i, 0) for i in range(1, k + 1)] + [(0, j) for j in range(1, t + 1)]
            + [(i, j) for j in range(1, t + 1) for i in range(1, k + 1)])
    if not covariate:
        return base
    return [(i, j, 0) for i, j in base] + [(0, 0, 1)] + [(i, j, 1) for i, j in base]


def parse_term(name: str) -> tuple:
    m = re.fullmatch(r"(?:L(\d+))?(?:A(\d+))?(COV)?", name)
    if not m or not name:
        raise ContinuousNormError(f"term {name!r} is not of the form L<i>, A<j>, L<i>A<j> (optionally + 'COV').")
    ij = int(m.group(1) or 0), int(m.group(2) or 0)
    return (*ij, 1) if m.group(3) else ij


def _design(L: np.ndarray, A: np.ndarray, terms: Sequence[tuple], C: np.ndarray | None = None) -> np.ndarray:
    L = np.asarray(L, dtype=float)
    A = np.asarray(A, dtype=float)
    if not terms:
        return np.empty((L.size, 0))
    return np.column_stack([L ** q[0] * A ** q[1] * (C ** q[2] if len(q) > 2 else 1.0) for q in terms])


def collapse_terms(terms: Sequence[tuple], coef: Sequence[float], cov: float) -> tuple[tuple, tuple]:
    """The plain Taylor model ``(terms, coef)`` of a covariate model at covariate value ``cov`` (0 or 1): the
    ``COV`` terms are added to their partners (``COV`` itself to the intercept)."""
    acc = {(): float(coef[0])}
    order = [()]
    for q, b in zip(terms, coef[1:]):
        ij = (q[0], q[1])
        f = cov ** q[2] if len(q) > 2 else 1.0
        key = () if ij == (0, 0) else ij
        if key not in acc:
            acc[key] = 0.0
            order.append(key)
        acc[key] += f * float(b)
    return tuple(order[1:]), tuple(acc[k_] for k_ in order)


def _wls(X: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, float]:
    """Weighted least squares with an intercept by QR on max-scaled columns; (coefficients, RSS)."""
    Xi = np.column_stack([np.ones(y.size), X])
    sw = np.sqrt(w)
    s = np.abs(Xi).max(0)
    s[s == 0] = 1.0
    Q, R = np.linalg.qr((Xi / s) * sw[:, None])
    d = np.abs(np.diag(R))
    if d.size and d.min() <= 1e-12 * d.max():
        raise ContinuousNormError("the regression is rank deficient (a term is a combination of others, or there are "
                                  "fewer distinct ages or scores than terms): lower k or t, or give fewer terms.")
    beta = np.linalg.solve(R, Q.T @ (y * sw)) / s
    res = y - Xi @ beta
    return beta, float(w @ res ** 2)


@dataclass(frozen=True)
class TaylorModel:
    """A fitted Taylor polynomial ``raw = b0 + sum b_ij L^i A^j`` with its modelled range.

    Attributes
    ----------
    terms : tuple of (int, int)
        Powers ``(i, j)`` of L and A of each term (``L1`` is ``(1, 0)``, ``L2A1`` is ``(2, 1)``).
    coef : tuple of float
        Intercept, then one coefficient per term.
    min_norm, max_norm : float
        Range of the locations L the model was fitted on (cNORM ``minL1``/``maxL1``).
    min_age, max_age : float
        Range of the ages (``minA1``/``maxA1``).
    min_raw, max_raw : float
        Range of the raw scores (``minRaw``/``maxRaw``).
    r2, adj_r2, rmse : float
        Fit (weighted when fitted with weights); rmse = sqrt(RSS / sum of weights) on the raw scale.
    n : int
    descend : bool
        High raw scores mean low norm scores.
    scale_mean, scale_sd : float
        The norm scale of L (T: 50, 10).
    """

    terms: tuple
    coef: tuple
    min_norm: float
    max_norm: float
    min_age: float
    max_age: float
    min_raw: float
    max_raw: float
    r2: float
    adj_r2: float
    rmse: float
    n: int
    descend: bool = False
    scale_mean: float = 50.0
    scale_sd: float = 10.0

    @property
    def term_names(self) -> list[str]:
        return [term_name(*q) for q in self.terms]

    @property
    def coefficients(self) -> dict[str, float]:
        """``{"(Intercept)": b0, "L1": ..., ...}`` in cNORM's naming."""
        return dict(zip(["(Intercept)", *self.term_names], self.coef))

    @property
    def k(self) -> int:
        return max([i for i, _ in self.terms] + [0])

    def _poly_in_L(self, age: np.ndarray) -> np.ndarray:
        """Coefficients c_0..c_k of the polynomial in L at each age: shape (n, k + 1)."""
        age = np.atleast_1d(np.asarray(age, dtype=float))
        C = np.zeros((age.size, self.k + 1))
        C[:, 0] = self.coef[0]
        for (i, j), b in zip(self.terms, self.coef[1:]):
            C[:, i] += b * age ** j
        return C

    def predict_raw(self, norm, age, *, clip: bool = True) -> np.ndarray:
        """Raw score at norm score ``norm`` (on the model's scale) and ``age`` (cNORM ``predictRaw``);
        clipped to ``[min_raw, max_raw]`` unless ``clip=False``. Broadcasts ``norm`` against ``age``."""
        norm, age = np.broadcast_arrays(np.asarray(norm, dtype=float), np.asarray(age, dtype=float))
        C = self._poly_in_L(age.ravel())
        L = norm.ravel()
        out = np.zeros(L.size)
        for i in range(C.shape[1] - 1, -1, -1):  # Horner over the (few) powers, vectorised over persons
            out = out * L + C[:, i]
        out = out.reshape(norm.shape)
        return np.clip(out, self.min_raw, self.max_raw) if clip else out

    def predict_norm(self, raw, age, *, min_norm: float | None = None, max_norm: float | None = None,
                     grid: int = 256, tol: float = 1e-10) -> tuple[np.ndarray, np.ndarray]:
        """Norm score of each raw score at its age: the root ``L`` of ``predict_raw(L, age) = raw``.

        Each person's curve is evaluated on a grid of ``grid`` norm scores over ``[min_norm, max_norm]``
        (default: the modelled range); the first bracket where it passes the raw score is refined by
        bisection. A raw score below (above) the curve's value at the lowest (highest) norm score gets
        that bound and is marked; so is an age outside the modelled ages (its curve is the one at the
        nearest modelled age). NaN raw or age gives NaN, unmarked.

        Returns
        -------
        norm : ndarray
            Norm scores on the model's scale.
        outside : ndarray of bool
            True where the value was clipped at the modelled range.
        """
        raw, age = np.broadcast_arrays(np.asarray(raw, dtype=float), np.asarray(age, dtype=float))
        shape = raw.shape
        raw, age = raw.ravel(), age.ravel()
        lo = self.min_norm if min_norm is None else float(min_norm)
        hi = self.max_norm if max_norm is None else float(max_norm)
        ok = ~(np.isnan(raw) | np.isnan(age))
        a = np.clip(np.where(ok, age, self.min_age), self.min_age, self.max_age)
        age_out = ok & ((age < self.min_age - 1e-9) | (age > self.max_age + 1e-9))
        C = self._poly_in_L(a)
        sign = -1.0 if self.descend else 1.0
        Lg = np.linspace(lo, hi, grid)
        V = np.zeros((a.size, grid))
        for i in range(C.shape[1] - 1, -1, -1):
            V = V * Lg[None, :] + C[:, i][:, None]
        f = sign * (V - np.where(ok, raw, 0.0)[:, None])  # increasing in L when consistent
        below = f[:, 0] > 0
        above = f[:, -1] < 0
        cross = (f[:, :-1] < 0) & (f[:, 1:] >= 0)
        j = np.argmax(cross, axis=1)
        has = cross.any(axis=1)
        left, right = Lg[j], Lg[np.minimum(j + 1, grid - 1)]
        x = np.where(ok, raw, 0.0)
        for _ in range(80):  # vectorised bisection
            mid = (left + right) / 2.0
            val = np.zeros(mid.size)
            for i in range(C.shape[1] - 1, -1, -1):
                val = val * mid + C[:, i]
            go_right = sign * (val - x) < 0
            left = np.where(go_right, mid, left)
            right = np.where(go_right, right, mid)
            if float(np.max(right - left, initial=0.0)) < tol:
                break
        L = (left + right) / 2.0
        L = np.where(has, L, np.where(below, lo, np.where(above, hi, np.where(f[:, 0] == 0, lo, hi))))
        L = np.where(below, lo, np.where(above, hi, L))
        outside = ok & (below | above | age_out)
        L = np.where(ok, L, np.nan)
        return L.reshape(shape), outside.reshape(shape)


def _adj_r2(r2: float, n: int, p: int) -> float:
    return 1.0 - (1.0 - r2) * (n - 1) / (n - p - 1) if n - p - 1 > 0 else math.nan


def _monotone_at_ends(terms, coef, lo, hi, a_lo, a_hi, descend, grid=200) -> bool:
    if any(len(q) > 2 for q in terms):  # a covariate model: consistent at both covariate values
        return all(_monotone_at_ends(*collapse_terms(terms, coef, c), lo, hi, a_lo, a_hi, descend, grid)
                   for c in (0.0, 1.0))
    m = TaylorModel(tuple(terms), tuple(coef), lo, hi, a_lo, a_hi, -np.inf, np.inf, 0, 0, 0, 0, descend)
    Lg = np.linspace(lo, hi, grid)
    v = m.predict_raw(Lg[None, :], np.array([[a_lo], [a_hi]]), clip=False)
    d = np.diff(v, axis=1) * (-1.0 if descend else 1.0)
    return bool((d >= 0).all())


@dataclass(frozen=True)
class Subsets:
    """The best subset of each size after the consistency screen (cNORM's ``model$subsets``)."""

    frame: pd.DataFrame  # size, terms, r2, adj_r2, consistent
    chosen: int  # number of terms of the selected model
    rule: str


def _one_thread():
    """Limit BLAS to one thread: the many small factorisations here only lose time to thread hand-offs."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(1)


def select_taylor_model(L, A, raw, *, k: int = 5, t: int = 3, weights=None, terms: int | Sequence[str] | None = None,
                        r2: float | None = None, nbest: int = 10, descend: bool = False,
                        scale: tuple[float, float] = (50.0, 10.0), covariate=None,
                        max_nodes: int | str | None = "auto") -> tuple[TaylorModel, Subsets, tuple[str, ...]]:
    """Best-subset Taylor polynomial of raw score on location ``L`` and age ``A`` (cNORM ``bestModel``).

    All ``(k + 1)(t + 1) - 1`` terms ``L^i A^j`` are candidates. For each number of terms the ``nbest``
    subsets with the highest R2 are found by an exact best-subset search (leaps and bounds,
    :func:`psyscreen.best_subsets.best_subsets`, as cNORM's ``leaps::regsubsets``); the first of them (by R2) whose percentile curves
    rise monotonically with L at the youngest and at the oldest modelled age is that size's model (if none
    does, the best is kept and marked inconsistent). The model returned is

    - ``terms`` given as a number: that size's model; as names: exactly those terms;
    - else ``r2`` given: the smallest size whose model reaches that adjusted R2;
    - else the largest size whose model is consistent ("highest consistent model", cNORM's default).

    The search is exact for every size; it runs from the largest size down and stops at the first consistent
    size for the default rule (only the stated size is searched when ``terms`` is a number). k = 5, t = 3
    (23 candidates) on 1,600 students takes a few seconds.

    The one fallback is for covariate models: 2k + 2t + 2kt + 1 candidates (47 for k = 5, t = 3) can make the
    exact search run for hours, so there ``max_nodes="auto"`` bounds it at 250,000 nodes of the search tree
    (k = 5, t = 3 with sex on 1,600 students: 30 s, exact for the four largest sizes); the sizes not final by then are found by local search (beam and swap search,
    :func:`psyscreen.best_subsets.best_subsets`), and a warning names them. ``max_nodes=None`` searches
    exactly however long it takes; a number sets the bound (also for models without a covariate, which are
    unbounded under ``"auto"``).

    ``covariate`` (a 0/1 array, e.g. sex) adds ``COV`` and the products of every term with it to the
    candidates (:func:`all_terms`); the model returned then has ``(i, j, c)`` terms, and
    :func:`collapse_terms` gives the plain model at either covariate value. Consistency is required at both.

    Returns
    -------
    (TaylorModel, Subsets, warnings)

    Raises
    ------
    ContinuousNormError
        Bad ``k``/``t``/``terms``, or a model that cannot be fitted (rank deficient).
    """
    if max_nodes == "auto":
        max_nodes = None if covariate is None else _COVARIATE_MAX_NODES
    with _one_thread():
        return _select(L, A, raw, k=k, t=t, weights=weights, terms=terms, r2=r2, nbest=nbest, descend=descend,
                       scale=scale, covariate=covariate, max_nodes=max_nodes)


_COVARIATE_MAX_NODES = 250_000


def _select(L, A, raw, *, k, t, weights, terms, r2, nbest, descend, scale, covariate, max_nodes):
    L = np.asarray(L, dtype=float)
    A = np.asarray(A, dtype=float)
    y = np.asarray(raw, dtype=float)
    w = np.ones(y.size) if weights is None else np.asarray(weights, dtype=float)
    if k < 1 or t < 0:
        raise ContinuousNormError(f"k must be >= 1 and t >= 0 (got k={k}, t={t}).")
    C = None if covariate is None else np.asarray(covariate, dtype=float)
    if C is not None and not np.isin(C, (0.0, 1.0)).all():
        raise ContinuousNormError("the covariate must be coded 0/1 (a binary covariate, as cNORM's).")
    cand = all_terms(k, t, covariate=C is not None)
    p = len(cand)
    warns: list[str] = []
    lo_n, hi_n, a_lo, a_hi = float(L.min()), float(L.max()), float(A.min()), float(A.max())

    def make(sel: Sequence[tuple[int, int]]) -> TaylorModel:
        if C is not None:
            sel = [tuple(q) + (0,) * (3 - len(q)) for q in sel]
        beta, rss = _wls(_design(L, A, sel, C), y, w)
        ybar = float(w @ y / w.sum())
        tss = float(w @ (y - ybar) ** 2)
        r2_ = 1.0 - rss / tss
        return TaylorModel(tuple(sel), tuple(float(b) for b in beta), lo_n, hi_n, a_lo, a_hi, float(y.min()),
                           float(y.max()), r2_, _adj_r2(r2_, y.size, len(sel)), math.sqrt(rss / w.sum()),
                           int(y.size), descend, *scale)

    if terms is not None and not isinstance(terms, (int, np.integer)):
        sel = [parse_term(s) for s in terms]
        m = make(sel)
        sub = pd.DataFrame([{"size": len(sel), "terms": " + ".join(m.term_names), "r2": m.r2, "adj_r2": m.adj_r2,
                             "consistent": _monotone_at_ends(m.terms, m.coef, lo_n, hi_n, a_lo, a_hi, descend)}])
        return m, Subsets(sub, len(sel), "terms given"), tuple(warns)
    if isinstance(terms, (int, np.integer)) and not 1 <= terms <= p:
        raise ContinuousNormError(f"terms={terms} is not between 1 and {p} (the number of candidate terms for "
                                  f"k={k}, t={t}).")
    if y.size <= p + 1:
        raise ContinuousNormError(f"{y.size} cases cannot fit a model with up to {p} terms: give more cases or "
                                  "lower k and t.")
    X = _design(L, A, cand, C)
    if (X == X[0]).all(0).any():
        raise ContinuousNormError("a term is constant in the data (one age only?): continuous norms need ages that "
                                  "vary.")
    Xi = np.column_stack([np.ones(y.size), X])
    sfull = np.abs(Xi).max(0)
    Qf, Rfull = np.linalg.qr(Xi / sfull * np.sqrt(w)[:, None])
    cfull = Qf.T @ (y * np.sqrt(w))
    rows: dict[int, dict] = {}

    def size_model(s: int, combs: list, rsq: np.ndarray) -> dict:
        pick, consistent = 0, False
        for o, comb in enumerate(combs):  # best first: the first with monotone curves at both ends
            sel = [cand[c] for c in comb]
            cols = np.concatenate([[0], np.asarray(comb) + 1])  # the reduced problem: min |c - R_S b| (full QR)
            b_s = np.linalg.lstsq(Rfull[:, cols], cfull, rcond=None)[0]
            beta = b_s / sfull[cols]
            if _monotone_at_ends(sel, beta, lo_n, hi_n, a_lo, a_hi, descend):
                pick, consistent = o, True
                break
        sel = [cand[c] for c in combs[pick]]
        rows[s] = {"size": s, "terms": " + ".join(term_name(*q) for q in sel), "r2": float(rsq[pick]),
                   "adj_r2": _adj_r2(float(rsq[pick]), y.size, s), "consistent": consistent, "_sel": sel}
        return rows[s]

    given = isinstance(terms, (int, np.integer))
    # sizes come from the largest down, each exact as soon as it is yielded (leaps and bounds, level by level)
    search = iter_best_subsets(X, y, nbest=nbest, weights=w, sizes=[int(terms)] if given else None,
                               max_nodes=max_nodes)
    approx: list[int] = []

    def sizes():
        for s, combs, rsq, exact in search:
            if not exact:
                approx.append(s)
            yield s, combs, rsq

    try:
        if given:
            chosen, rule = int(terms), f"{int(terms)} terms given"
            for s, combs, rsq in sizes():
                size_model(s, combs, rsq)
        elif r2 is not None:
            rule = f"adjusted R2 >= {r2}"
            for s, combs, rsq in sizes():
                size_model(s, combs, rsq)
            chosen = next((s for s in sorted(rows) if rows[s]["adj_r2"] >= r2), 0)
            if not chosen:
                chosen = p
                warns.append(f"no model reaches adjusted R2 {r2}; the full model ({p} terms) is used.")
        else:
            chosen, rule = 0, "highest consistent model"
            for s, combs, rsq in sizes():
                if size_model(s, combs, rsq)["consistent"]:
                    chosen = s
                    break  # the smaller sizes are not needed: the rest of the search is skipped
            if not chosen:
                chosen = p
                warns.append("no model has monotone percentile curves at the youngest and oldest age; the full "
                             "model is used: check_consistency() shows where curves cross; lower k or t, or give "
                             "terms.")
    except SubsetSearchError as e:
        raise ContinuousNormError(f"the model search failed: {e} Lower k or t, or give terms.") from e
    finally:
        search.close()
    if approx:
        warns.append(f"the exact best-subset search stopped after {max_nodes} nodes: sizes {min(approx)}-"
                     f"{max(approx)} were found by local search (best found, not proven best); give "
                     "max_nodes=None to search exactly, or lower k or t.")
    if not rows[chosen]["consistent"] and "no model" not in " ".join(warns):
        warns.append(f"the selected model ({chosen} terms) has crossing percentile curves at an age boundary; "
                     "see check_consistency().")
    m = make(rows[chosen]["_sel"])
    sub = pd.DataFrame([{k_: v for k_, v in rows[s].items() if not k_.startswith("_")} for s in sorted(rows)])
    return m, Subsets(sub, chosen, rule), tuple(warns)


# ---------------------------------------------------------------------------------------------
# 3. consistency and confidence intervals
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Consistency:
    """Where percentile curves cross (the raw score falls while the norm score rises at a fixed age).

    Attributes
    ----------
    consistent : bool
        No crossing on the grid checked.
    violations : pandas.DataFrame
        One row per age with a crossing: ``age``, ``norm_from``, ``norm_to`` (the norm-score range where the
        curve falls), ``largest_dip`` (raw points).
    ages : tuple of float
        The age range checked; ``norms`` the norm range.
    """

    consistent: bool
    violations: pd.DataFrame
    ages: tuple
    norms: tuple

    def __str__(self) -> str:
        if self.consistent:
            return (f"no crossing percentile curves for ages {self.ages[0]:g}..{self.ages[1]:g} and norm scores "
                    f"{self.norms[0]:g}..{self.norms[1]:g}")
        a = self.violations["age"]
        return (f"percentile curves cross at {len(a)} age point(s) from {a.min():.2f} to {a.max():.2f} "
                f"(norm scores {self.violations['norm_from'].min():.1f}..{self.violations['norm_to'].max():.1f})")


def check_model_consistency(model: TaylorModel, *, min_age=None, max_age=None, min_norm=None, max_norm=None,
                            age_step: float | None = None, norm_step: float = 0.05) -> Consistency:
    """Check that the raw score rises (falls, when descending) with the norm score at every age of a grid.

    Default grid: the modelled ages in 100 steps (``age_step``), the modelled norm range in steps of 0.05.
    """
    a0 = model.min_age if min_age is None else float(min_age)
    a1 = model.max_age if max_age is None else float(max_age)
    n0 = model.min_norm if min_norm is None else float(min_norm)
    n1 = model.max_norm if max_norm is None else float(max_norm)
    ages = np.linspace(a0, a1, 101) if age_step is None else np.arange(a0, a1 + 1e-9, age_step)
    Lg = np.arange(n0, n1 + 1e-9, norm_step)
    v = model.predict_raw(Lg[None, :], ages[:, None], clip=False) * (-1.0 if model.descend else 1.0)
    d = np.diff(v, axis=1) < 0
    dip = (np.maximum.accumulate(v, axis=1) - v).max(1)
    rows = []
    for i in np.flatnonzero(d.any(1)):
        Ls = Lg[1:][d[i]]
        rows.append({"age": float(ages[i]), "norm_from": float(Ls.min() - norm_step), "norm_to": float(Ls.max()),
                     "largest_dip": float(dip[i])})
    viol = pd.DataFrame(rows, columns=["age", "norm_from", "norm_to", "largest_dip"])
    return Consistency(not rows, viol, (a0, a1), (n0, n1))


def norm_ci(norm, reliability: float, ci: float = 0.9, mean: float = 50.0, sd: float = 10.0):
    """Confidence interval of a norm score from the scale's reliability (as cNORM's tables): centred on the
    estimated true score ``mean + rel (norm - mean)``, half-width ``z * sd * sqrt(rel (1 - rel))``.

    Examples
    --------
    >>> [round(float(v), 4) for v in norm_ci(25.0, 0.94, 0.9)]
    [22.5937, 30.4063]
    """
    if not 0 < reliability < 1:
        raise ContinuousNormError(f"reliability must be between 0 and 1 (got {reliability}).")
    norm = np.asarray(norm, dtype=float)
    z = stats.norm.ppf(1 - (1 - ci) / 2)
    est = mean + reliability * (norm - mean)
    half = z * sd * math.sqrt(reliability * (1 - reliability))
    return est - half, est + half


# ---------------------------------------------------------------------------------------------
# 4. the estimator
# ---------------------------------------------------------------------------------------------


def _model_to_dict(m: TaylorModel) -> dict:
    return {"terms": m.term_names, "coef": list(m.coef), "min_norm": m.min_norm, "max_norm": m.max_norm,
            "min_age": m.min_age, "max_age": m.max_age, "min_raw": m.min_raw, "max_raw": m.max_raw, "r2": m.r2,
            "adj_r2": m.adj_r2, "rmse": m.rmse, "n": m.n, "descend": m.descend, "scale_mean": m.scale_mean,
            "scale_sd": m.scale_sd}


def _model_from_dict(d: dict) -> TaylorModel:
    return TaylorModel(tuple(parse_term(s) for s in d["terms"]), tuple(float(c) for c in d["coef"]),
                       *(float(d[k]) for k in ("min_norm", "max_norm", "min_age", "max_age", "min_raw", "max_raw",
                                               "r2", "adj_r2", "rmse")),
                       int(d["n"]), bool(d["descend"]), float(d["scale_mean"]), float(d["scale_sd"]))


class ContinuousNorms:
    """Continuous norms over grade (or age): one smooth Taylor-polynomial model per scale and stratum.

    Parameters
    ----------
    age : str, default "grade"
        The column modelled as age ``A`` (grade, or age in years).
    by : sequence of str, default ()
        Columns with a separate model each (e.g. ``("sex",)``); ``()`` pools everyone.
    k, t : int, default 5, 3
        Highest power of the location L and of the age A.
    terms : int or sequence of str, optional
        Fix the number of terms, or the terms themselves (``["L1", "A1", "L1A1"]``).
    r2 : float, optional
        Take the smallest model reaching this adjusted R2 (instead of the highest consistent model).
    ranking : str, default "rankit"
        Ranking method (:data:`RANK_METHODS`).
    group : str, optional
        Column to rank within (default: ``age``); ignored when ``window`` is given.
    window : float, optional
        Rank by a sliding window of this width over ``age`` (continuous age) instead of within groups.
    weights : str, optional
        Column of case weights (e.g. from :func:`compute_weights`), used in ranking and regression.
    descend : bool, default False
        High raw scores mean low norm scores.
    min_ages : int, default 4
        Fewer distinct ages than ``max(min_ages, t + 1)`` in a stratum raise :class:`ContinuousNormError`.
    covariate : str, optional
        A binary column (e.g. ``"sex"``) modelled as a covariate in one shared model (cNORM's ``covariate``),
        instead of a separate model per level (``by``): students are ranked within age group x level, and
        ``COV`` (0 for the first level in sorted order, 1 for the second) and its products with every
        ``L^i A^j`` term join the candidate terms (:func:`all_terms`). The shared model borrows strength across
        the levels where they do not differ. After fitting it is applied as the plain model at each level
        (:func:`collapse_terms`), stored per level like a ``by`` column: ``transform``, the tables and the
        files work as with ``by``. The candidates double (47 for k = 5, t = 3): prefer smaller k and t.

    Attributes
    ----------
    models_ : dict
        ``{(stratum key, scale): TaylorModel}``.
    table_ : pandas.DataFrame
        One row per stratum and scale: n, number of terms, terms, R2, adjusted R2, RMSE, the modelled
        age and norm range, whether the curves are consistent, the selection rule.
    subsets_ : dict
        ``{(stratum key, scale): DataFrame}`` of the screened best subsets searched.
    scales_, strata_ : list
    warnings_ : tuple of str
    fitted_on_ : dict

    Notes
    -----
    Output columns of :meth:`transform` for each scale: ``<scale>.t`` (the norm score on the T scale),
    ``<scale>.z``, ``<scale>.pr`` (percentile 0..100), ``<scale>.stanine`` and ``<scale>.outside`` (True
    where the raw score or the age lay outside the modelled range and the value was clipped to it).

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> g = np.repeat(np.arange(1, 7), 150)
    >>> ref = pd.DataFrame({"grade": g, "score": np.round(10 + 3 * g + rng.normal(0, 4, g.size))})
    >>> cn = ContinuousNorms(k=3, t=2).fit(ref, "score")
    >>> out = cn.transform(pd.DataFrame({"grade": [3, 3.5], "score": [19.0, 19.0]}))
    >>> bool(out["score.t"].iloc[0] > out["score.t"].iloc[1])   # same raw score, older pupil: lower T
    True
    """

    _FORMAT = FORMAT
    _METHOD = ("continuous norming (Lenhard et al. 2016, 2019; as R cNORM): ranks within grade, Taylor polynomial "
               "of raw score in T score and grade")

    def __init__(self, age: str = "grade", by: Sequence[str] | str = (), *, k: int = 5, t: int = 3,
                 terms: int | Sequence[str] | None = None, r2: float | None = None, ranking: str = "rankit",
                 group: str | None = None, window: float | None = None, weights: str | None = None,
                 descend: bool = False, min_ages: int = 4, covariate: str | None = None):
        self.age = age
        self.by = by
        self.k = k
        self.t = t
        self.terms = terms
        self.r2 = r2
        self.ranking = ranking
        self.group = group
        self.window = window
        self.weights = weights
        self.descend = descend
        self.min_ages = min_ages
        self.covariate = covariate

    @property
    def _fit_by(self) -> tuple[str, ...]:
        return (self.by,) if isinstance(self.by, str) else tuple(self.by or ())

    @property
    def _by(self) -> tuple[str, ...]:
        """The columns that pick a model when applying: ``by`` and the covariate (one plain model per level)."""
        cov = getattr(self, "covariate", None)
        return self._fit_by + ((cov,) if cov else ())

    def _groups(self, frame: pd.DataFrame, by: Sequence[str] | None = None) -> dict[tuple, np.ndarray]:
        by = list(self._by if by is None else by)
        missing = [b for b in by + [self.age] if b not in frame.columns]
        if missing:
            raise ContinuousNormError(f"column(s) {missing} not in the data; columns are {list(frame.columns)[:20]}.")
        if not by:
            return {(): np.arange(len(frame))}
        out = {}
        for key, pos in frame.groupby(by, dropna=False, sort=True, observed=True).indices.items():
            key = key if isinstance(key, tuple) else (key,)
            out[tuple(_py(k) for k in key)] = np.asarray(pos)
        return out

    def _check_fitted(self) -> None:
        if not hasattr(self, "models_"):
            raise ContinuousNormError("this ContinuousNorms is not fitted yet; call .fit(frame, scales) or load one.")

    # -- fit ---------------------------------------------------------------------------------
    def fit(self, frame: pd.DataFrame, scales: Iterable[str] | str, *, description: str = "") -> ContinuousNorms:
        """Rank, select and fit a model for each scale in each ``by`` stratum of the norm sample.

        Raises
        ------
        ContinuousNormError
            Too few distinct ages, a scale without variance in an age group, a model that cannot be fitted.
        """
        scales = [scales] if isinstance(scales, str) else list(scales)
        if not scales:
            raise ContinuousNormError("no scales given to fit.")
        cov_col = self.covariate
        absent = [s for s in scales + [c for c in (self.weights, cov_col) if c] if s not in frame.columns]
        if absent:
            raise ContinuousNormError(f"column(s) {absent} not in the data.")
        if cov_col and cov_col in self._fit_by:
            raise ContinuousNormError(f"{cov_col!r} is both a covariate and a 'by' column; choose one.")
        mean, sd = SCALES["T"]
        models, subsets, table, warns = {}, {}, [], []
        for key, pos in self._groups(frame, self._fit_by).items():
            sub = frame.iloc[pos]
            for s in scales:
                raw = pd.to_numeric(sub[s], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
                age = pd.to_numeric(sub[self.age], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
                w = (pd.to_numeric(sub[self.weights], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
                     if self.weights else np.ones(raw.size))
                ok = ~(np.isnan(raw) | np.isnan(age) | np.isnan(w))
                cov = None
                where = f"{s!r} in {_label(self._fit_by, key)}"
                if cov_col:
                    cv = sub[cov_col].map(_py).to_numpy(dtype=object)
                    ok &= pd.notna(sub[cov_col]).to_numpy()
                    levels = sorted(set(cv[ok]), key=str)
                    if len(levels) != 2:
                        raise ContinuousNormError(f"{where}: the covariate {cov_col!r} has {len(levels)} level(s) "
                                                  f"{levels[:5]}; it must have exactly two (use by= for more).")
                    cov = (cv[ok] == levels[1]).astype(float)
                raw, age, w = raw[ok], age[ok], w[ok]
                n_ages = np.unique(age).size
                need = max(self.min_ages, self.t + 1)
                if n_ages < need:
                    raise ContinuousNormError(
                        f"{where} has {n_ages} distinct value(s) of {self.age!r}; a model with t={self.t} needs at "
                        f"least {need}. Use NormTable for a few grades, or lower t.")
                if self.window is None:
                    grp = age if self.group is None else sub[self.group].to_numpy()[ok]
                    if cov is not None:  # rank within age group x covariate level
                        grp = pd.factorize(pd.Series(grp).astype(str) + "|" + pd.Series(cov).astype(str))[0]
                    flat = pd.Series(raw).groupby(pd.Series(grp)).nunique()
                    if (flat < 2).any():
                        raise ContinuousNormError(
                            f"{where}: the score has no variance in {self.group or self.age} "
                            f"{[_py(v) for v in flat.index[flat < 2]]} (every student has the same score): "
                            "it cannot be ranked; drop that group or check the data.")
                    p = rank_percentiles(raw, grp, weights=w, method=self.ranking, descend=self.descend)
                else:
                    p = np.empty(raw.size)
                    for c in ([None] if cov is None else [0.0, 1.0]):
                        at = np.ones(raw.size, bool) if c is None else cov == c
                        p[at] = rank_sliding_window(raw[at], age[at], self.window, weights=w[at],
                                                    method=self.ranking, descend=self.descend)
                L = mean + sd * stats.norm.ppf(p)
                m, subs, wn = select_taylor_model(L, age, raw, k=self.k, t=self.t, weights=w, terms=self.terms,
                                                  r2=self.r2, descend=self.descend, covariate=cov)
                for msg in wn:
                    warns.append(f"{where}: {msg}")
                parts = ([(key, m, None)] if cov is None else
                         [(key + (lv,), _at_level(m, c, cov == c, L, age, raw), lv) for c, lv in enumerate(levels)])
                for k_, m_, lv in parts:
                    models[(k_, s)] = m_
                    subsets[(k_, s)] = subs.frame
                    cons = check_model_consistency(m_)
                    table.append({**dict(zip(self._by, k_)), "scale": s, "n": m_.n, "n_terms": len(m.terms),
                                  "terms": " + ".join(m.term_names), "r2": m.r2, "adj_r2": m.adj_r2,
                                  "rmse": m.rmse, "min_age": m_.min_age, "max_age": m_.max_age,
                                  "min_norm": m_.min_norm, "max_norm": m_.max_norm, "consistent": cons.consistent,
                                  "rule": subs.rule + ("" if lv is None else f"; covariate {cov_col} = {lv!r}")})
        for msg in warns:
            warnings.warn(msg, NormWarning, stacklevel=2)
        self._set_fitted(models, scales, pd.DataFrame(table), tuple(warns), {
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "description": description,
            "n_rows": int(len(frame)), "psyscreen_version": _version()})
        self.subsets_ = subsets
        return self

    def _set_fitted(self, models, scales, table, warns, meta) -> None:
        self.models_ = models
        self.scales_ = list(scales)
        self.strata_ = list(dict.fromkeys(k for k, _ in models))
        self.table_ = table
        self.warnings_ = tuple(warns)
        self.fitted_on_ = {**meta, "by": list(self._by), "age": self.age, "scales": list(scales)}
        if not hasattr(self, "subsets_"):
            self.subsets_ = {}

    # -- apply -------------------------------------------------------------------------------
    def _model(self, scale: str | None, stratum) -> TaylorModel:
        self._check_fitted()
        scale = self.scales_[0] if scale is None else scale
        key = () if stratum is None else (tuple(stratum) if isinstance(stratum, (tuple, list)) else (stratum,))
        key = tuple(_py(k) for k in key)
        if (key, scale) not in self.models_:
            raise UnknownStratumError(f"no continuous norm for scale {scale!r} in stratum {_label(self._by, key)}; "
                                      f"fitted: {self.scales_} x {[_label(self._by, k) for k in self.strata_]}.")
        return self.models_[(key, scale)]

    def predict_norm(self, raw, age, *, scale: str | None = None, stratum=None, kind: str = "T",
                     min_norm: float | None = None, max_norm: float | None = None) -> pd.DataFrame:
        """Norm scores of raw scores at ages: a frame with ``norm`` (on ``kind``: "T", "z", "IQ" or
        "percentile" 0..100) and ``outside`` (clipped at the modelled range)."""
        m = self._model(scale, stratum)
        L, out = m.predict_norm(raw, age, min_norm=min_norm, max_norm=max_norm)
        return pd.DataFrame({"norm": _convert(L, m, kind), "outside": out})

    def predict_raw(self, norm, age, *, scale: str | None = None, stratum=None, clip: bool = True) -> np.ndarray:
        """Raw score at a T score and age (clipped to the observed raw range unless ``clip=False``)."""
        return self._model(scale, stratum).predict_raw(norm, age, clip=clip)

    def check_consistency(self, *, scale: str | None = None, stratum=None, **kw) -> Consistency:
        """Where the percentile curves of a model cross (see :func:`check_model_consistency`)."""
        return check_model_consistency(self._model(scale, stratum), **kw)

    def transform(self, frame: pd.DataFrame, scales: Iterable[str] | None = None) -> pd.DataFrame:
        """Add ``<scale>.t``, ``.z``, ``.pr``, ``.stanine`` and ``.outside`` for each scale.

        Raises
        ------
        UnknownStratumError
            Rows of a ``by`` stratum without a model.
        """
        self._check_fitted()
        scales = self.scales_ if scales is None else ([scales] if isinstance(scales, str) else list(scales))
        unknown = [s for s in scales if s not in self.scales_]
        if unknown:
            raise ContinuousNormError(f"scale(s) {unknown} were not fitted; this model has {self.scales_}.")
        groups = self._groups(frame)
        unseen = [k for k in groups if k not in self.strata_]
        if unseen:
            raise UnknownStratumError(f"no continuous norms for stratum {'; '.join(_label(self._by, k) for k in unseen[:5])}"
                                      f"; fitted on {[_label(self._by, k) for k in self.strata_]}.")
        out = frame.copy()
        n = len(frame)
        age = pd.to_numeric(frame[self.age], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        for s in scales:
            x = pd.to_numeric(frame[s], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            L, outside = np.full(n, np.nan), np.zeros(n, dtype=bool)
            for key, pos in groups.items():
                L[pos], outside[pos] = self.models_[(key, s)].predict_norm(x[pos], age[pos])
            z = (L - 50.0) / 10.0
            out[f"{s}.t"] = L
            out[f"{s}.z"] = z
            out[f"{s}.pr"] = 100.0 * stats.norm.cdf(z)
            out[f"{s}.stanine"] = pd.array(stanine(z), dtype="Int64")
            out[f"{s}.outside"] = outside
        return out

    def fit_transform(self, frame: pd.DataFrame, scales, **kwargs) -> pd.DataFrame:
        return self.fit(frame, scales, **kwargs).transform(frame)

    def _screen_apply(self, students: pd.DataFrame) -> tuple[pd.DataFrame, str | None]:
        """For ``screen --norms``: ``.pr`` and ``.t`` for rows with a known stratum and age, NaN (and a note)
        for the others; rows outside the modelled range are counted in the note."""
        frame = students.copy()
        for s in self.scales_:
            for suf in ("pr", "t"):
                frame[f"{s}.{suf}"] = np.nan
        age = pd.to_numeric(frame.get(self.age, pd.Series(np.nan, index=frame.index)), errors="coerce")
        groups = self._groups(frame.assign(**{self.age: age})) if self.age in frame.columns else {}
        rows = [pos[age.iloc[pos].notna().to_numpy()] for k, pos in groups.items() if k in self.strata_]
        rows = np.concatenate(rows) if rows else np.array([], dtype=int)
        if len(frame) and not len(rows):
            raise NormError(f"the continuous norm table matches no student of this wave (strata "
                            f"{[_label(self._by, k) for k in self.strata_][:8]}, {self.age} "
                            f"{self.table_['min_age'].min():g}..{self.table_['max_age'].max():g}).")
        n_out = 0
        if len(rows):
            sub = self.transform(frame.iloc[rows][list(self._by) + [self.age] +
                                                  [s for s in self.scales_ if s in frame.columns]])
            for s in self.scales_:
                for suf in ("pr", "t"):
                    col = frame[f"{s}.{suf}"].to_numpy(copy=True)
                    col[rows] = sub[f"{s}.{suf}"].to_numpy(dtype=float)
                    frame[f"{s}.{suf}"] = col
                n_out += int(sub[f"{s}.outside"].sum())
        notes = []
        if len(frame) - len(rows):
            notes.append(f"{len(frame) - len(rows)} student(s) without a {'/'.join([*self._by, self.age])} the "
                         "continuous norms have: no .pr/.t")
        if n_out:
            notes.append(f"{n_out} score(s) outside the modelled range: clipped to its edge")
        return frame, "; ".join(notes) or None

    def __repr__(self) -> str:
        state = f", {len(self.strata_)} strata x {len(self.scales_)} scales" if hasattr(self, "models_") else ""
        return f"ContinuousNorms(age={self.age!r}, by={self._by!r}, k={self.k}, t={self.t}{state})"

    # -- tables a publisher prints -------------------------------------------------------------
    def norm_table(self, ages, *, scale: str | None = None, stratum=None, norms=None, reliability: float | None = None,
                   ci: float = 0.9) -> dict[float, pd.DataFrame]:
        """T score -> raw score per age (cNORM ``normTable``): ``norm``, ``raw``, ``percentile`` and, with a
        ``reliability``, ``lowerCI``, ``upperCI``, ``lowerCI_PR``, ``upperCI_PR``. Default norms 25..75."""
        m = self._model(scale, stratum)
        norms = np.arange(25.0, 76.0) if norms is None else np.asarray(norms, dtype=float)
        out = {}
        for a in np.atleast_1d(ages):
            f = pd.DataFrame({"norm": norms, "raw": m.predict_raw(norms, float(a)),
                              "percentile": 100 * stats.norm.cdf((norms - 50) / 10)})
            out[float(a)] = _add_ci(f, reliability, ci)
        return out

    def raw_table(self, ages, *, scale: str | None = None, stratum=None, raws=None, reliability: float | None = None,
                  ci: float = 0.9, step: float = 1.0) -> dict[float, pd.DataFrame]:
        """Raw score -> T score and percentile per age (cNORM ``rawTable``), with ``outside`` marking raw scores
        whose norm was clipped at the modelled range, and the confidence interval when ``reliability`` is given.
        Default raw scores: the observed range in steps of ``step``."""
        m = self._model(scale, stratum)
        raws = np.arange(m.min_raw, m.max_raw + step / 2, step) if raws is None else np.asarray(raws, dtype=float)
        out = {}
        for a in np.atleast_1d(ages):
            L, outside = m.predict_norm(raws, float(a))
            f = pd.DataFrame({"raw": raws, "norm": L, "percentile": 100 * stats.norm.cdf((L - 50) / 10),
                              "outside": outside})
            out[float(a)] = _add_ci(f, reliability, ci)
        return out

    def print_tables(self, *, step: float = 0.5, reliability: float | None = None, ci: float = 0.9) -> pd.DataFrame:
        """One long frame of raw -> T and percentile for every stratum, scale and grade (and half-grade, with the
        default ``step`` 0.5) over the modelled range: what a manual prints."""
        self._check_fitted()
        rows = []
        for (key, s), m in self.models_.items():
            ages = np.arange(math.ceil(m.min_age / step) * step, m.max_age + 1e-9, step)
            for a, f in self.raw_table(ages, scale=s, stratum=key, reliability=reliability, ci=ci).items():
                f.insert(0, self.age, a)
                f.insert(0, "scale", s)
                for b, v in reversed(list(zip(self._by, key))):
                    f.insert(0, b, v)
                rows.append(f)
        return pd.concat(rows, ignore_index=True)

    # -- save / load -----------------------------------------------------------------------------
    def _to_dict(self) -> dict:
        self._check_fitted()
        return {
            "format": FORMAT, "version": FORMAT_VERSION, "age": self.age, "by": list(self._by),
            "settings": {"k": self.k, "t": self.t, "terms": self.terms if self.terms is None or isinstance(
                self.terms, int) else list(self.terms), "r2": self.r2, "ranking": self.ranking, "group": self.group,
                         "window": self.window, "weights": self.weights, "descend": self.descend,
                         "min_ages": self.min_ages, "covariate": self.covariate},
            "scales": self.scales_, "fitted_on": self.fitted_on_, "warnings": list(self.warnings_),
            "definitions": {"t": "norm score L on the T scale: the root of raw = b0 + sum b_ij L^i A^j at the age",
                            "pr": "100 * Phi((T - 50) / 10)", "outside": "raw or age outside the modelled range: "
                            "the value is that of the range's edge"},
            "models": [{"stratum": dict(zip(self._by, key)), "scale": s, **_model_to_dict(m)}
                       for (key, s), m in self.models_.items()],
            "table": json.loads(self.table_.to_json(orient="records")),
        }

    @classmethod
    def _from_dict(cls, d: dict, source: str) -> ContinuousNorms:
        check_format(d, source, FORMAT, FORMAT_VERSION, "continuous norm table")
        try:
            st = d["settings"]
            cov = st.get("covariate")
            cn = cls(age=d["age"], by=tuple(b for b in d["by"] if b != cov), k=st["k"], t=st["t"],
                     terms=st["terms"], r2=st["r2"], ranking=st["ranking"], group=st["group"], window=st["window"],
                     weights=st["weights"], descend=st["descend"], min_ages=st["min_ages"], covariate=cov)
            models = {(tuple(_py(e["stratum"][b]) for b in d["by"]), e["scale"]): _model_from_dict(e)
                      for e in d["models"]}
            meta = {k: v for k, v in d["fitted_on"].items() if k not in ("by", "age", "scales")}
            cn._set_fitted(models, d["scales"], pd.DataFrame(d["table"]), tuple(d.get("warnings", ())), meta)
        except (KeyError, TypeError, ValueError) as exc:
            raise NormFileError(f"{source} is damaged or incomplete: {type(exc).__name__}: {exc}.") from None
        return cn

    def to_json(self, path: str | Path) -> Path:
        """Save as JSON (coefficients with Python's round-trip repr: :meth:`from_json` gives back the same norms)."""
        path = Path(path)
        path.write_text(json.dumps(self._to_dict(), ensure_ascii=False, indent=1), encoding="utf-8")
        return path

    @classmethod
    def from_json(cls, path: str | Path) -> ContinuousNorms:
        path = Path(path)
        try:
            d = json.loads(path.read_text(encoding="utf-8-sig"))
        except (OSError, ValueError) as exc:
            raise NormFileError(f"{path} cannot be read as JSON ({type(exc).__name__}).", path=path) from None
        return cls._from_dict(d, str(path))

    def to_excel(self, path: str | Path, *, reliability: float | None = None, ci: float = 0.9,
                 step: float = 0.5) -> Path:
        """A workbook to print and to load: ``about`` (format, provenance, how to read), ``models`` (terms, R2,
        ranges), one sheet per scale and stratum with raw -> T and percentile per grade and half-grade (with
        confidence intervals when ``reliability`` is given), and a hidden ``_exact`` sheet holding the JSON
        that :meth:`from_excel` loads."""
        from openpyxl import Workbook
        from openpyxl.styles import Font

        from .norms import _sheet_names

        d = self._to_dict()
        wb = Workbook()
        about = wb.active
        about.title = "about"
        for row in [("psyscreen continuous norm table", ""), ("format", d["format"]), ("version", d["version"]),
                    ("age", self.age), ("models by", ", ".join(self._by) or "(none)"),
                    ("scales", ", ".join(self.scales_)), ("fitted", self.fitted_on_.get("date", "")),
                    ("description", self.fitted_on_.get("description", "")),
                    ("method", self._METHOD),
                    ("How to read", "one sheet per scale (and stratum): find the raw score and the grade; T = 50 + "
                                    "10 z; PR = percentile; outside = beyond the modelled range (edge value)"),
                    ("reliability", "" if reliability is None else reliability),
                    ("_exact", "hidden sheet with the model psyscreen loads; refit rather than edit")]:
            about.append(list(row))
        about["A1"].font = Font(bold=True, size=14)
        about.column_dimensions["B"].width = 100
        ms = wb.create_sheet("models")
        cols = list(self.table_.columns)
        ms.append(cols)
        for r in self.table_.itertuples(index=False):
            ms.append([_plain(v) for v in r])
        tables = self.print_tables(step=step, reliability=reliability, ci=ci)
        names = _sheet_names([f"{s} {_label(self._by, k)}" if self._by else s for k, s in self.models_])
        for (key, s), name in zip(self.models_, names.values()):
            ws = wb.create_sheet(name)
            f = tables[(tables["scale"] == s)]
            for b, v in zip(self._by, key):
                f = f[f[b].map(_py) == v]
            wide = f.pivot_table(index="raw", columns=self.age, values=["norm", "percentile"])
            ws.append(["raw"] + [f"{self.age} {a:g} {'T' if v == 'norm' else 'PR'}" for v, a in wide.columns])
            for raw, row in wide.round(1).iterrows():
                ws.append([_plain(raw)] + [_plain(v) for v in row])
            ws.freeze_panes = "B2"
        ex = wb.create_sheet("_exact")
        ex.sheet_state = "hidden"
        text = json.dumps(d, ensure_ascii=False)
        for i in range(0, len(text), 30000):
            ex.append([text[i:i + 30000]])
        for sheet in wb.worksheets:
            for row in sheet.iter_rows():
                for cell in row:
                    if cell.data_type == "f":
                        cell.data_type = "s"
        path = Path(path)
        wb.save(path)
        return path

    @classmethod
    def from_excel(cls, path: str | Path) -> ContinuousNorms:
        import io

        from openpyxl import load_workbook

        path = Path(path)
        try:
            wb = load_workbook(io.BytesIO(path.read_bytes()), read_only=True, data_only=True)
        except Exception as exc:
            raise NormFileError(f"{path} could not be opened as a workbook ({type(exc).__name__}).", path=path) from None
        try:
            if "_exact" not in wb.sheetnames:
                raise NormFileError(f"{path} is not a psyscreen continuous norm workbook (no '_exact' sheet).",
                                    path=path)
            text = "".join(r[0] or "" for r in wb["_exact"].iter_rows(values_only=True))
            d = json.loads(text)
        except ValueError as exc:
            raise NormFileError(f"{path}: its '_exact' sheet is damaged ({exc}); refit rather than edit.",
                                path=path) from None
        finally:
            wb.close()
        return cls._from_dict(d, str(path))


def _at_level(m: TaylorModel, c: int, at: np.ndarray, L, age, raw) -> TaylorModel:
    """The plain model of a covariate model at covariate value ``c`` (``at``: that level's rows, whose ranges
    it keeps)."""
    terms, coef = collapse_terms(m.terms, m.coef, float(c))
    return TaylorModel(terms, coef, float(L[at].min()), float(L[at].max()), float(age[at].min()),
                       float(age[at].max()), float(raw[at].min()), float(raw[at].max()), m.r2, m.adj_r2, m.rmse,
                       int(at.sum()), m.descend, m.scale_mean, m.scale_sd)


def _plain(v):
    v = v.item() if hasattr(v, "item") else v
    return None if isinstance(v, float) and math.isnan(v) else v


def _convert(L: np.ndarray, m: TaylorModel, kind: str) -> np.ndarray:
    z = (L - m.scale_mean) / m.scale_sd
    if kind == "percentile":
        return 100 * stats.norm.cdf(z)
    if kind not in SCALES:
        raise ContinuousNormError(f"kind must be one of {[*SCALES, 'percentile']} (got {kind!r}).")
    mu, sd = SCALES[kind]
    return mu + sd * z


def _add_ci(f: pd.DataFrame, reliability, ci) -> pd.DataFrame:
    if reliability is None:
        return f
    lo, hi = norm_ci(f["norm"].to_numpy(), reliability, ci)
    f["lowerCI"], f["upperCI"] = lo, hi
    f["lowerCI_PR"], f["upperCI_PR"] = 100 * stats.norm.cdf((lo - 50) / 10), 100 * stats.norm.cdf((hi - 50) / 10)
    return f


def read_norm_file(path: str | Path):
    """A :class:`psyscreen.norms.NormTable` or a :class:`ContinuousNorms`, from the file's own format key
    (JSON) or its ``about`` sheet (workbook)."""
    from .norms import NormTable
    from .norms_betabinomial import FORMAT as BB_FORMAT, BetaBinomialNorms

    path = Path(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError as exc:
        raise NormFileError(f"{path}: the norm file cannot be read ({exc.strerror or type(exc).__name__}).",
                            path=path) from None
    if head.startswith(b"PK\x03\x04"):
        from openpyxl import load_workbook
        import io

        try:
            wb = load_workbook(io.BytesIO(path.read_bytes()), read_only=True, data_only=True)
            fmt = ({r[0]: r[1] for r in wb["about"].iter_rows(values_only=True) if r and r[0]}.get("format")
                   if "about" in wb.sheetnames else None)
            wb.close()
        except Exception:
            fmt = None
        if fmt == FORMAT:
            return ContinuousNorms.from_excel(path)
        if fmt == BB_FORMAT:
            return BetaBinomialNorms.from_excel(path)
        return NormTable.read(path)
    if FORMAT.encode() in head:
        return ContinuousNorms.from_json(path)
    if BB_FORMAT.encode() in head:
        return BetaBinomialNorms.from_json(path)
    return NormTable.read(path)
