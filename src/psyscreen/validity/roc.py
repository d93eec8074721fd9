"""ROC analysis of a screening score against a binary criterion: AUC, DeLong CI, Youden cut-off.

Matches pROC (Robin et al., 2011)::

    r <- pROC::roc(criterion, score, direction = "<", levels = c(0, 1))
    pROC::auc(r); pROC::ci.auc(r, method = "delong")
    pROC::coords(r, "best", best.method = "youden")

Everything is computed from one sort of the scores and cumulative counts; the DeLong variance
uses the placement values (DeLong, DeLong & Clarke-Pearson 1988, in the fast form of Sun & Xu 2014),
found with ``np.searchsorted`` rather than a comparison of every case with every control.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

from psyscreen._results import ResultMixin, one_row

__all__ = ["roc", "ROCResult", "YoudenPoint", "YoudenCI", "ROCInputError"]


class ROCInputError(ValueError):
    """Raised when the score or criterion given to :func:`roc` cannot be analysed."""


@dataclass(frozen=True)
class YoudenPoint(ResultMixin):
    """The cut-off that maximises Youden's J = sensitivity + specificity - 1.

    ``threshold`` is the midpoint between two adjacent observed scores (as pROC prints it);
    a score above it (direction ``"<"``) or below it (direction ``">"``) is called positive.
    """

    threshold: float
    sensitivity: float
    specificity: float
    youden_j: float
    n_tied: int = 1
    """How many cut-offs reach the same maximal J (the lowest-scoring one is reported)."""

    def to_frame(self) -> pd.DataFrame:
        return one_row(threshold=self.threshold, sensitivity=self.sensitivity, specificity=self.specificity,
                       youden_j=self.youden_j, n_tied=self.n_tied)


@dataclass(frozen=True)
class YoudenCI(ResultMixin):
    """Stratified bootstrap percentile intervals for the Youden-optimal cut-off."""

    threshold: tuple[float, float]
    sensitivity: tuple[float, float]
    specificity: tuple[float, float]
    level: float
    n_boot: int
    seed: int | None

    def to_frame(self) -> pd.DataFrame:
        rows = {
            "threshold": self.threshold,
            "sensitivity": self.sensitivity,
            "specificity": self.specificity,
        }
        return pd.DataFrame(rows, index=["ci_low", "ci_high"]).T


@dataclass(frozen=True)
class ROCResult(ResultMixin):
    """Result of :func:`roc`.

    Attributes
    ----------
    auc : float
        Area under the empirical ROC curve (ties count one half).
    auc_se : float
        DeLong standard error of the AUC.
    auc_ci : tuple of float
        DeLong confidence interval (normal approximation, clipped to [0, 1]) as in
        ``pROC::ci.auc(method = "delong")``.
    level : float
        Confidence level of ``auc_ci`` and ``youden_ci``.
    youden : YoudenPoint
        Youden-optimal cut-off.
    youden_ci : YoudenCI or None
        Bootstrap percentile intervals of that cut-off (None when ``n_boot=0``).
    table : pandas.DataFrame
        Every cut-off (``-inf``, the midpoints between adjacent distinct scores, ``+inf``)
        with sensitivity, specificity, ppv, npv and youden_j.
    n_cases, n_controls : int
        Criterion 1 and criterion 0 counts after dropping missing values.
    n_dropped : int
        Rows dropped because the score or the criterion was missing.
    direction : str
        ``"<"`` (controls score lower than cases) or ``">"``.
    """

    auc: float
    auc_se: float
    auc_ci: tuple[float, float]
    level: float
    youden: YoudenPoint
    youden_ci: YoudenCI | None
    table: pd.DataFrame = field(repr=False, compare=False)
    n_cases: int
    n_controls: int
    n_dropped: int
    direction: str

    def to_frame(self) -> pd.DataFrame:
        """Summary: AUC and the Youden cut-off with their intervals, one row each."""
        lo_t = hi_t = lo_se = hi_se = lo_sp = hi_sp = np.nan
        if self.youden_ci is not None:
            lo_t, hi_t = self.youden_ci.threshold
            lo_se, hi_se = self.youden_ci.sensitivity
            lo_sp, hi_sp = self.youden_ci.specificity
        return pd.DataFrame(
            {
                "estimate": [self.auc, self.youden.threshold, self.youden.sensitivity, self.youden.specificity],
                "ci_low": [self.auc_ci[0], lo_t, lo_se, lo_sp],
                "ci_high": [self.auc_ci[1], hi_t, hi_se, hi_sp],
                "ci_method": ["DeLong", "bootstrap", "bootstrap", "bootstrap"],
            },
            index=pd.Index(["auc", "threshold", "sensitivity", "specificity"], name="statistic"),
        )


def _as_float(values, name: str) -> np.ndarray:
    if isinstance(values, (pd.Series, pd.Index)):
        values = values.to_numpy(dtype=float, na_value=np.nan)
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ROCInputError(f"{name} must be numeric; could not convert it to numbers ({exc}).") from None
    if arr.ndim != 1:
        raise ROCInputError(f"{name} must be one-dimensional; got shape {arr.shape}.")
    return arr


def _counts_by_value(values: np.ndarray, uniq: np.ndarray) -> np.ndarray:
    """Count of each of ``uniq`` (sorted) in ``values``."""
    return np.bincount(np.searchsorted(uniq, values), minlength=uniq.size)


def _delong(cases: np.ndarray, controls: np.ndarray) -> tuple[float, float]:
    """AUC and its DeLong variance from placement values (ties count one half)."""
    sc = np.sort(controls)
    sx = np.sort(cases)
    # V10: for each case, the share of controls below it (+ half the ties)
    below = np.searchsorted(sc, cases, side="left")
    upto = np.searchsorted(sc, cases, side="right")
    v10 = (below + 0.5 * (upto - below)) / sc.size
    # V01: for each control, the share of cases above it (+ half the ties)
    above = sx.size - np.searchsorted(sx, controls, side="right")
    ties = np.searchsorted(sx, controls, side="right") - np.searchsorted(sx, controls, side="left")
    v01 = (above + 0.5 * ties) / sx.size
    auc = float(v10.mean())
    var = 0.0
    if cases.size > 1:
        var += float(np.var(v10, ddof=1)) / cases.size
    if controls.size > 1:
        var += float(np.var(v01, ddof=1)) / controls.size
    return auc, var


def _best_cut(j: np.ndarray) -> np.ndarray:
    """Index of the first maximum of J along the last axis (ties resolved to the lowest cut)."""
    return np.argmax(j, axis=-1)


def _bootstrap_youden(
    case_idx: np.ndarray,
    control_idx: np.ndarray,
    uniq: np.ndarray,
    n_boot: int,
    rng: np.random.Generator,
    chunk: int = 250,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stratified bootstrap of the Youden cut-off, all replicates at once (in chunks).

    ``case_idx`` and ``control_idx`` are the positions of each observation in ``uniq``
    (sorted distinct scores). Cut k (k = 0..K) calls positive every score above uniq[k-1]
    (cut 0 is -inf, cut K is +inf). Returns threshold, sensitivity and specificity per replicate.
    """
    k = uniq.size
    thr = np.empty(n_boot)
    sens = np.empty(n_boot)
    spec = np.empty(n_boot)
    pos = np.arange(k)
    for start in range(0, n_boot, chunk):
        b = min(chunk, n_boot - start)
        # counts of each distinct value per replicate: offset row r into [r*k, (r+1)*k)
        offs = (np.arange(b) * k)[:, None]
        pc = case_idx[rng.integers(0, case_idx.size, size=(b, case_idx.size))] + offs
        pn = control_idx[rng.integers(0, control_idx.size, size=(b, control_idx.size))] + offs
        cc = np.bincount(pc.ravel(), minlength=b * k).reshape(b, k)
        cn = np.bincount(pn.ravel(), minlength=b * k).reshape(b, k)
        zeros = np.zeros((b, 1))
        # cut after value k: TP = cases above, TN = controls at or below
        sens_k = 1.0 - np.hstack([zeros, np.cumsum(cc, axis=1)]) / case_idx.size
        spec_k = np.hstack([zeros, np.cumsum(cn, axis=1)]) / control_idx.size
        j = sens_k + spec_k - 1.0
        # cuts between values absent from a replicate repeat their neighbour; argmax takes the first
        best = _best_cut(j)
        rows = np.arange(b)
        present = (cc + cn) > 0
        last_present = np.maximum.accumulate(np.where(present, pos, -1), axis=1)
        next_present = np.flip(
            np.minimum.accumulate(np.flip(np.where(present, pos, k), axis=1), axis=1), axis=1
        )
        lo_i = np.where(best > 0, last_present[rows, np.maximum(best - 1, 0)], -1)
        hi_i = np.where(best < k, next_present[rows, np.minimum(best, k - 1)], k)
        lo_v = np.where(lo_i >= 0, uniq[np.clip(lo_i, 0, k - 1)], -np.inf)
        hi_v = np.where(hi_i < k, uniq[np.clip(hi_i, 0, k - 1)], np.inf)
        with np.errstate(invalid="ignore"):
            t = np.where(np.isinf(lo_v), -np.inf, np.where(np.isinf(hi_v), np.inf, (lo_v + hi_v) / 2))
        thr[start : start + b] = t
        sens[start : start + b] = sens_k[rows, best]
        spec[start : start + b] = spec_k[rows, best]
    return thr, sens, spec


def roc(
    score,
    criterion,
    *,
    direction: Literal["<", ">", "auto"] = "<",
    ci: float = 0.95,
    n_boot: int = 2000,
    seed: int | None = None,
) -> ROCResult:
    """ROC analysis of a score against a binary criterion.

    Parameters
    ----------
    score : array-like of float
        The screening score (e.g. a scale score). NaN rows are dropped and counted.
    criterion : array-like of {0, 1} or bool
        1 / True marks a case (e.g. a clinical diagnosis), 0 / False a control.
        NaN rows are dropped and counted.
    direction : {"<", ">", "auto"}, default "<"
        ``"<"``: controls score lower than cases, so a score *above* the threshold is positive.
        ``">"``: the reverse. ``"auto"``: pROC's rule, ``"<"`` when the median of the controls is at
        most the median of the cases, else ``">"``.
    ci : float, default 0.95
        Confidence level for the DeLong AUC interval and the bootstrap interval of the cut-off.
    n_boot : int, default 2000
        Stratified bootstrap replicates for ``youden_ci`` (cases and controls are resampled
        separately, pROC's ``boot.stratified = TRUE``); 0 skips the bootstrap.
    seed : int, optional
        Seed of the bootstrap (``numpy.random.default_rng``); the same seed gives the same interval.

    Returns
    -------
    ROCResult
        ``auc``, ``auc_se``, ``auc_ci``, ``youden``, ``youden_ci``, ``table`` and the counts.

    Notes
    -----
    The cut-offs are those of pROC: ``-inf``, the midpoint between every two adjacent distinct
    scores, and ``+inf``; at cut-off t, sensitivity is the share of cases with score > t and
    specificity the share of controls with score <= t (direction ``"<"``). PPV and NPV are the
    predictive values *in this sample* (they depend on its prevalence); NaN where nobody is
    called positive (or negative). When several cut-offs share the maximal J the lowest one is
    reported and ``youden.n_tied`` says how many there were (pROC would list them all).
    The bootstrap replicate's cut-off is likewise the midpoint of the scores present in that
    replicate, and the interval is the percentile interval of the replicates.

    R equivalent::

        r <- pROC::roc(criterion, score, direction = "<", levels = c(0, 1))
        pROC::ci.auc(r, method = "delong")
        pROC::coords(r, "best", best.method = "youden")

    Examples
    --------
    >>> import numpy as np
    >>> from psyscreen.validity.roc import roc
    >>> res = roc([1, 2, 3, 4, 5, 6], [0, 0, 1, 0, 1, 1], n_boot=0)
    >>> round(res.auc, 4)
    0.8889
    >>> res.youden.threshold, round(res.youden.sensitivity, 3), round(res.youden.specificity, 3)
    (2.5, 1.0, 0.667)
    """
    if not 0 < ci < 1:
        raise ROCInputError(f"ci must be between 0 and 1 (e.g. 0.95); got {ci!r}.")
    if direction not in ("<", ">", "auto"):
        raise ROCInputError(f"direction must be '<', '>' or 'auto'; got {direction!r}.")
    n_boot = int(n_boot)
    if n_boot < 0:
        raise ROCInputError(f"n_boot must be 0 or more; got {n_boot}.")

    x = _as_float(score, "score")
    y = _as_float(criterion, "criterion")
    if x.size != y.size:
        raise ROCInputError(f"score and criterion differ in length ({x.size} vs {y.size}).")
    keep = ~(np.isnan(x) | np.isnan(y))
    n_dropped = int(x.size - keep.sum())
    x, y = x[keep], y[keep]
    if np.isinf(x).any():
        raise ROCInputError("score contains infinite values; use NaN for a missing score.")
    bad = ~np.isin(y, (0.0, 1.0))
    if bad.any():
        shown = ", ".join(map(repr, np.unique(y[bad])[:5].tolist()))
        raise ROCInputError(
            f"criterion must be coded 0 (control) / 1 (case) or False / True; found other values: {shown}."
        )
    is_case = y == 1.0
    n_cases = int(is_case.sum())
    n_controls = int(is_case.size - n_cases)
    if n_cases == 0 or n_controls == 0:
        raise ROCInputError(
            f"both cases and controls are needed; after dropping {n_dropped} missing rows "
            f"there are {n_cases} cases and {n_controls} controls."
        )

    if direction == "auto":
        direction = "<" if np.median(x[~is_case]) <= np.median(x[is_case]) else ">"
    # work on a score where "higher means case"; flip back at the end
    s = x if direction == "<" else -x

    auc, var = _delong(s[is_case], s[~is_case])
    se = float(np.sqrt(var))
    z = stats.norm.ppf(0.5 + ci / 2)
    auc_ci = (float(max(auc - z * se, 0.0)), float(min(auc + z * se, 1.0)))

    # every cut-off from one sort: counts per distinct value, cumulative from the bottom
    uniq = np.unique(s)
    idx = np.searchsorted(uniq, s)
    cc = np.bincount(idx[is_case], minlength=uniq.size)
    cn = np.bincount(idx[~is_case], minlength=uniq.size)
    cum_c = np.concatenate([[0], np.cumsum(cc)])  # cases at or below each cut
    cum_n = np.concatenate([[0], np.cumsum(cn)])  # controls at or below each cut
    tp = n_cases - cum_c
    fn = cum_c
    tn = cum_n
    fp = n_controls - cum_n
    sens = tp / n_cases
    spec = tn / n_controls
    with np.errstate(invalid="ignore", divide="ignore"):
        ppv = np.where(tp + fp > 0, tp / np.maximum(tp + fp, 1), np.nan)
        npv = np.where(tn + fn > 0, tn / np.maximum(tn + fn, 1), np.nan)
    thr = np.concatenate([[-np.inf], (uniq[:-1] + uniq[1:]) / 2, [np.inf]])
    j = sens + spec - 1.0
    best = int(_best_cut(j))
    jmax = j[best]
    n_tied = int(np.sum(np.isclose(j, jmax, rtol=0, atol=1e-12)))

    sign = 1.0 if direction == "<" else -1.0
    table = pd.DataFrame(
        {
            "threshold": sign * thr,
            "sensitivity": sens,
            "specificity": spec,
            "ppv": ppv,
            "npv": npv,
            "youden_j": j,
            "tp": tp,
            "fp": fp,
            "tn": tn,
            "fn": fn,
        }
    )
    if direction == ">":
        table = table.iloc[::-1].reset_index(drop=True)
    youden = YoudenPoint(
        threshold=float(sign * thr[best]),
        sensitivity=float(sens[best]),
        specificity=float(spec[best]),
        youden_j=float(jmax),
        n_tied=n_tied,
    )

    youden_ci = None
    if n_boot > 0:
        rng = np.random.default_rng(seed)
        bt, bs, bp = _bootstrap_youden(idx[is_case], idx[~is_case], uniq, n_boot, rng)
        q = [(1 - ci) / 2, 1 - (1 - ci) / 2]
        t_lo, t_hi = np.sort(sign * np.quantile(bt, q))
        youden_ci = YoudenCI(
            threshold=(float(t_lo), float(t_hi)),
            sensitivity=tuple(float(v) for v in np.quantile(bs, q)),
            specificity=tuple(float(v) for v in np.quantile(bp, q)),
            level=float(ci),
            n_boot=n_boot,
            seed=seed,
        )

    return ROCResult(
        auc=auc,
        auc_se=se,
        auc_ci=auc_ci,
        level=float(ci),
        youden=youden,
        youden_ci=youden_ci,
        table=table,
        n_cases=n_cases,
        n_controls=n_controls,
        n_dropped=n_dropped,
        direction=direction,
    )
