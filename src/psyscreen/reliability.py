"""Reliability: Cronbach's alpha, split-half and Guttman's lambdas, item analysis, ICC, SEM, reliable change.

Every figure here is a closed form that equals R's psych (2.2.9) to 1e-6 on the same data:

=====================  ==========================================================
psyscreen              R
=====================  ==========================================================
:func:`alpha`          ``psych::alpha(x, keys, use = "pairwise")``
:func:`split_half`     ``psych::splitHalf(x, check.keys = FALSE)`` and ``psych::guttman``
:func:`icc`            ``psych::ICC(wide, lmer = FALSE)`` (Shrout and Fleiss 1979)
:func:`item_analysis`  ``psych::alpha`` (r.drop, alpha if dropped) + ``t.test(var.equal = TRUE)``
:func:`sem`            ``sd * sqrt(1 - r)``
:func:`reliable_change`  Jacobson and Truax (1991)
:func:`omega`          ``psych::omega`` (lives in :mod:`psyscreen.omega`)
=====================  ==========================================================

Input: answers, one column per item; name the items with ``items=`` (a list, or an instrument id such as
``"phq9"``) when the frame carries other columns (id, age, gender, ...), which are refused otherwise.
Warnings (rows left out, items that correlate negatively with the scale) go through :func:`warnings.warn` and
into the result's ``warnings``.

The module does no file I/O and never prints.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from ._items import dropped_message, emit, select_items
from ._results import ResultMixin, one_row
from .omega import omega  # psych::omega lives in omega.py; psyscreen.reliability.omega is the public name
from .validity.efa import _smc  # psych::smc, one for the package

__all__ = [
    "AlphaResult",
    "ItemAnalysisResult",
    "ReliabilityInputError",
    "SplitHalfResult",
    "alpha",
    "icc",
    "item_analysis",
    "omega",
    "reliable_change",
    "sem",
    "sem_band",
    "split_half",
]


class ReliabilityInputError(ValueError):
    """Input that a reliability function cannot use (names the column or argument and what to do)."""


# --------------------------------------------------------------------------------------------------
# shared helpers
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Keyed:
    data: pd.DataFrame  # float items, reversed items already flipped
    min: float
    max: float
    inferred_range: bool


def _keyed_items(
    items: pd.DataFrame,
    reverse: Iterable[str] | str,
    min: float | None,  # noqa: A002 - public name mirrors psych's min/max
    max: float | None,  # noqa: A002
    *,
    min_items: int = 2,
) -> _Keyed:
    """Validate ``items``, coerce to float and reverse the ``reverse`` items as ``min + max - x``."""
    if not isinstance(items, pd.DataFrame):
        raise ReliabilityInputError(
            f"items must be a pandas DataFrame with one column per item, got {type(items).__name__}"
        )
    if items.shape[1] < min_items:
        raise ReliabilityInputError(f"need at least {min_items} item columns, got {items.shape[1]}")
    if items.columns.has_duplicates:
        dup = sorted({str(c) for c in items.columns[items.columns.duplicated()]})
        raise ReliabilityInputError(f"duplicated item columns: {dup}")
    data = {}
    for col in items.columns:
        try:
            data[col] = pd.to_numeric(items[col], errors="raise").astype("float64")
        except (ValueError, TypeError) as exc:
            raise ReliabilityInputError(
                f"item column {col!r} is not numeric; map the answers to numbers first"
            ) from exc
    x = pd.DataFrame(data, index=items.index)
    arr = x.to_numpy()
    if np.isinf(arr).any():
        bad = [str(c) for c in x.columns[np.isinf(arr).any(axis=0)]]
        raise ReliabilityInputError(f"item columns {bad} hold infinite values")
    if isinstance(reverse, str):
        reverse = [reverse]
    reverse = list(reverse)
    unknown = [r for r in reverse if r not in x.columns]
    if unknown:
        raise ReliabilityInputError(f"reverse names items that are not columns of items: {unknown}")
    inferred = min is None or max is None
    lo = float(np.nanmin(arr)) if min is None and np.isfinite(arr).any() else min
    hi = float(np.nanmax(arr)) if max is None and np.isfinite(arr).any() else max
    if min is not None and max is not None:
        if not min < max:
            raise ReliabilityInputError(f"min ({min}) must be below max ({max})")
        outside = (arr < min) | (arr > max)
        if outside.any():
            bad = [str(c) for c in x.columns[outside.any(axis=0)]]
            raise ReliabilityInputError(
                f"items {bad} hold values outside [{min}, {max}]; fix the data or the min/max"
            )
    if reverse:
        if lo is None or hi is None:
            raise ReliabilityInputError("cannot reverse items: no observed value to infer min/max from")
        x[reverse] = (lo + hi) - x[reverse]
    return _Keyed(x, np.nan if lo is None else float(lo), np.nan if hi is None else float(hi), inferred)


def _check_nan_policy(nan_policy: str) -> None:
    if nan_policy not in ("pairwise", "listwise"):
        raise ReliabilityInputError(f'nan_policy must be "pairwise" or "listwise", got {nan_policy!r}')


def _cov(x: pd.DataFrame, nan_policy: str) -> tuple[pd.DataFrame, np.ndarray]:
    """Return the rows used and the item covariance matrix (R's ``cov(x, use=...)``)."""
    if nan_policy == "listwise":
        x = x.dropna()
        if len(x) < 2:
            raise ReliabilityInputError(f"only {len(x)} complete rows; need at least 2")
    C = x.cov(ddof=1).to_numpy()  # pandas: pairwise complete observations, like use="pairwise"
    if np.isnan(C).any():
        i, j = np.argwhere(np.isnan(C))[0]
        raise ReliabilityInputError(
            f"items {x.columns[i]!r} and {x.columns[j]!r} have fewer than 2 rows answered together"
        )
    var = np.diag(C)
    if (var <= 0).any():
        bad = [str(c) for c in x.columns[var <= 0]]
        raise ReliabilityInputError(f"items {bad} have no variance; drop them before this analysis")
    return x, C


def _cov2cor(C: np.ndarray) -> np.ndarray:
    s = np.sqrt(np.diag(C))
    R = C / np.outer(s, s)
    np.fill_diagonal(R, 1.0)
    return R


def _rows(data: pd.DataFrame, nan_policy: str) -> tuple[int, int, tuple[str, ...]]:
    """Rows used and left out, and the warning about the latter (not yet warned).

    Listwise: the rows with every item answered. Pairwise: the rows with at least one item answered (each
    covariance uses the rows that answered both of its items); a row with no answer at all is left out.
    """
    answered = data.notna()
    used = int(answered.all(axis=1).sum()) if nan_policy == "listwise" else int(answered.any(axis=1).sum())
    dropped = len(data) - used
    return used, dropped, dropped_message(dropped, len(data), nan_policy)


def _negative_items(R: np.ndarray, names) -> tuple[str, ...]:
    """psych's check: items with a negative loading on the first principal component of ``R`` (the total).

    ``psych::alpha`` (and ``splitHalf(check.keys = TRUE)``) compute ``principal(x)`` and warn that the items
    whose loading is negative "were negatively correlated with the total scale and probably should be
    reversed"; the component is reflected so that its loadings sum to a positive number, as psych does.
    """
    values, vectors = np.linalg.eigh(R)
    first = vectors[:, -1] * np.sqrt(max(values[-1], 0.0))
    if first.sum() < 0:
        first = -first
    bad = [str(names[i]) for i in np.flatnonzero(first < 0)]
    if not bad:
        return ()
    return (f"item(s) {', '.join(bad)} correlate negatively with the total scale (a negative loading on its first "
            "principal component): they probably should be reversed; pass them in reverse=[...] (psych: 'Some items "
            "were negatively correlated with the total scale and probably should be reversed')",)


def _alpha_raw(C: np.ndarray) -> float:
    k = C.shape[0]
    return k / (k - 1) * (1.0 - np.trace(C) / C.sum())


def _alpha_if_dropped(C: np.ndarray) -> np.ndarray:
    """Raw alpha of the scale without each item, vectorised (psych ``alpha.drop$raw_alpha``)."""
    k = C.shape[0]
    if k < 3:
        return np.full(k, np.nan)
    d = np.diag(C)
    total = C.sum()
    col = C.sum(axis=0)
    sum_without = total - 2.0 * col + d  # sum of C with row i and column i removed
    trace_without = np.trace(C) - d
    return (k - 1) / (k - 2) * (1.0 - trace_without / sum_without)


def _r_drop(C: np.ndarray) -> np.ndarray:
    """Corrected item-total r: item vs the sum of the other items (psych ``item.stats$r.drop``)."""
    d = np.diag(C)
    col = C.sum(axis=0)
    v_rest = C.sum() - 2.0 * col + d
    return (col - d) / np.sqrt(d * v_rest)


# --------------------------------------------------------------------------------------------------
# alpha
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class AlphaResult(ResultMixin):
    """Cronbach's alpha and its companions, as ``psych::alpha`` prints them.

    Attributes
    ----------
    alpha : float
        Raw alpha, ``k/(k-1) * (1 - tr(C)/sum(C))`` on the item covariance matrix ``C``.
    std_alpha : float
        Standardized alpha, the same on the correlation matrix ``R = cov2cor(C)``.
    g6 : float
        Guttman's lambda 6 as psych computes it: ``1 - sum(1 - smc_i) / sum(R)``.
    average_r : float
        Mean off-diagonal element of ``R``.
    ci : tuple of float
        Feldt confidence interval ``(low, high)`` for raw alpha.
    ci_level : float
        Confidence level of ``ci``.
    n : int
        Rows the statistics rest on, also ``n_used``: for ``"pairwise"`` the rows with at least one answer
        (psych's Feldt CI counts every row, rows without any answer too); for ``"listwise"`` the complete rows.
    n_items : int
    nan_policy : str
    items : pandas.DataFrame
        One row per item: ``alpha_if_dropped``, ``r_drop``, ``mean``, ``sd`` (of the keyed item).
    reversed : tuple of str
        Items that were reversed, as ``min + max - x``.
    min, max : float
        The range used for reversing.
    range_inferred : bool
        True when ``min``/``max`` were not given and were taken from the observed data.
    n_dropped : int
        Rows left out: without a complete set of answers (``"listwise"``) or without any answer (``"pairwise"``).
    warnings : tuple of str
        What the analysis warned about: rows left out, items that correlate negatively with the scale.
    """

    alpha: float
    std_alpha: float
    g6: float
    average_r: float
    ci: tuple[float, float]
    ci_level: float
    n: int
    n_items: int
    nan_policy: str
    items: pd.DataFrame = field(repr=False)
    reversed: tuple[str, ...] = ()
    min: float = float("nan")
    max: float = float("nan")
    range_inferred: bool = False
    n_dropped: int = 0
    warnings: tuple[str, ...] = ()

    @property
    def n_used(self) -> int:
        return self.n

    def to_frame(self) -> pd.DataFrame:
        """One-row summary: alpha, std_alpha, g6, average_r, ci_low, ci_high, n, n_items, n_used, n_dropped."""
        return one_row(alpha=self.alpha, std_alpha=self.std_alpha, g6=self.g6, average_r=self.average_r,
                       ci_low=self.ci[0], ci_high=self.ci[1], n=self.n, n_items=self.n_items, n_used=self.n,
                       n_dropped=self.n_dropped)


def _feldt_ci(a: float, n: int, k: int, level: float) -> tuple[float, float]:
    """Feldt (1965) interval, as psych::alpha.ci: ``1 - (1 - alpha) * F_q(n - 1, (n - 1)(k - 1))``."""
    if n < 2:
        return (float("nan"), float("nan"))
    p = 1.0 - level
    df1, df2 = n - 1, (n - 1) * (k - 1)
    low = 1.0 - (1.0 - a) * stats.f.ppf(1.0 - p / 2.0, df1, df2)
    high = 1.0 - (1.0 - a) * stats.f.ppf(p / 2.0, df1, df2)
    return (float(low), float(high))


def _check_ci(ci: float) -> None:
    if not 0.0 < ci < 1.0:
        raise ReliabilityInputError(f"ci is a confidence level strictly between 0 and 1, got {ci!r}")


def alpha(
    data: pd.DataFrame,
    reverse: Sequence[str] | str = (),
    *,
    min: float | None = None,  # noqa: A002
    max: float | None = None,  # noqa: A002
    ci: float = 0.95,
    nan_policy: str = "pairwise",
    items: Sequence | str | None = None,
) -> AlphaResult:
    """Cronbach's alpha with standardized alpha, Guttman's lambda 6, alpha-if-dropped and r.drop.

    Matches ``psych::alpha(items, keys = reverse, use = "pairwise")`` (psych 2.2.9) to 1e-6.

    Parameters
    ----------
    data : pandas.DataFrame
        One column per item, one row per respondent; missing answers are NaN.
    reverse : sequence of str, optional
        Items to reverse as ``min + max - x`` before the analysis.
    min, max : float, optional
        The lowest and highest possible response. Give them whenever ``reverse`` is given: when either is
        missing it is **inferred from the data** (the smallest and largest value over all items, as psych does),
        which is wrong when nobody chose an extreme answer; ``result.range_inferred`` then is True. When both are
        given, a value outside ``[min, max]`` raises :class:`ReliabilityInputError`.
    ci : float, default 0.95
        Level of the Feldt interval.
    nan_policy : {"pairwise", "listwise"}, default "pairwise"
        ``"pairwise"``: each covariance from the rows that answered both items (R's ``use = "pairwise"``,
        psych's default); ``n`` is then the number of rows with an answer, as in psych's Feldt interval.
        ``"listwise"``: complete cases only. Rows left out are counted in ``n_dropped`` and warned about once.
    items : list of column labels or str, optional
        The item columns of ``data``, or an instrument id (``"phq9"``: its scored item columns). Without it,
        a frame with columns that are plainly not items (text, id, age, gender, grade, class, school, ...) is
        refused.

    Returns
    -------
    AlphaResult

    Notes
    -----
    With ``C`` the item covariance matrix, ``R = cov2cor(C)`` and ``k`` items:

    * ``alpha = k/(k-1) * (1 - tr(C)/sum(C))``; ``std_alpha`` is the same on ``R``;
    * ``average_r = (sum(R) - k) / (k (k-1))``;
    * ``g6 = 1 - sum(1 - smc) / sum(R)``, ``smc_i = 1 - 1/(R^-1)_ii`` set to 1 above 1 and to 0 below 0, as
      ``psych::smc`` does (a pairwise ``R`` need not be positive definite), so ``g6`` never exceeds 1;
    * ``alpha_if_dropped`` is raw alpha on ``C`` without row and column ``i``;
    * ``r_drop_i = (sum_j C_ij - C_ii) / sqrt(C_ii * sum(C_-i,-i))`` (item vs the rest of the scale).

    Under ``"pairwise"`` all of these use the pairwise covariance matrix, as psych does.

    Items with a negative loading on the first principal component of ``R`` are named in a warning
    ("probably should be reversed"), as ``psych::alpha`` warns when it is given no keys; here the check is
    made on the keyed items, so an item is also named when reversing it was wrong.

    Feldt's interval (Feldt 1965; Feldt, Woodruff and Salih 1987), as ``psych::alpha.ci``::

        low  = 1 - (1 - alpha) * F(1 - (1 - ci)/2; n - 1, (n - 1)(k - 1))
        high = 1 - (1 - alpha) * F((1 - ci)/2;     n - 1, (n - 1)(k - 1))

    where ``F(q; d1, d2)`` is the ``q`` quantile of the F distribution.

    Examples
    --------
    >>> import pandas as pd
    >>> from psyscreen.reliability import alpha
    >>> x = pd.DataFrame({"a": [1, 2, 3, 4, 5], "b": [2, 2, 4, 4, 5], "c": [5, 4, 3, 2, 2]})
    >>> res = alpha(x, reverse=["c"], min=1, max=5)
    >>> round(res.alpha, 4)  # R: psych::alpha(x, keys = "c")$total$raw_alpha
    0.9767
    >>> res.items.columns.tolist()
    ['alpha_if_dropped', 'r_drop', 'mean', 'sd']
    """
    _check_nan_policy(nan_policy)
    _check_ci(ci)
    keyed = _keyed_items(select_items(data, items, error=ReliabilityInputError), reverse, min, max)
    used, C = _cov(keyed.data, nan_policy)
    k = C.shape[0]
    R = _cov2cor(C)
    sum_r = R.sum()
    a = _alpha_raw(C)
    std_a = k / (k - 1) * (1.0 - k / sum_r)
    g6 = 1.0 - (k - _smc(R).sum()) / sum_r
    av_r = (sum_r - k) / (k * (k - 1))
    n, n_dropped, notes = _rows(keyed.data, nan_policy)
    table = pd.DataFrame(
        {
            "alpha_if_dropped": _alpha_if_dropped(C),
            "r_drop": _r_drop(C),
            "mean": used.mean().to_numpy(),
            "sd": used.std(ddof=1).to_numpy(),
        },
        index=pd.Index(keyed.data.columns, name="item"),
    )
    return AlphaResult(
        alpha=float(a),
        std_alpha=float(std_a),
        g6=float(g6),
        average_r=float(av_r),
        ci=_feldt_ci(a, n, k, ci),
        ci_level=ci,
        n=n,
        n_items=k,
        nan_policy=nan_policy,
        items=table,
        reversed=tuple([reverse] if isinstance(reverse, str) else reverse),
        min=keyed.min,
        max=keyed.max,
        range_inferred=keyed.inferred_range,
        n_dropped=n_dropped,
        warnings=emit(notes + _negative_items(R, keyed.data.columns)),
    )


# --------------------------------------------------------------------------------------------------
# split half and Guttman's lambdas
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SplitHalfResult(ResultMixin):
    """Split-half reliabilities and Guttman's (1945) lambdas.

    Attributes
    ----------
    odd_even, first_second : float
        Spearman-Brown ``2 r / (1 + r)`` of the correlation ``r`` between the two half scores (items 1, 3, 5, ...
        vs 2, 4, 6, ...; first ``ceil(k/2)`` items vs the rest).
    odd_even_r, first_second_r : float
        The uncorrected correlation between the half scores.
    odd_even_guttman, first_second_guttman : float
        Guttman's split-half coefficient (Flanagan-Rulon) ``4 C_AB / V_T`` for that split.
    lambda1 .. lambda6 : float
        Guttman's lambdas as ``psych::guttman`` defines them; ``lambda3`` is alpha, ``lambda4`` the largest
        split-half coefficient over the splits examined (psych's "maximum split half reliability").
    max_split, min_split, mean_split : float
        Largest (``= lambda4``), smallest (Revelle's beta) and mean ``4 C_AB / V_T`` over the splits examined.
    average_r : float
        Mean off-diagonal element of the matrix analysed.
    n_splits : int
        Number of splits examined.
    exhaustive : bool
        True when every split into halves of ``floor(k/2)`` and ``ceil(k/2)`` items was examined.
    covar : bool
        True: the covariance matrix (raw item scores) was analysed; False: the correlation matrix
        (standardized items, psych's default).
    n : int
        Rows used, also ``n_used`` (as in :class:`AlphaResult`).
    splits : numpy.ndarray
        ``4 C_AB / V_T`` of every split examined (psych's ``raw = TRUE`` output), e.g. for a histogram.
    n_dropped : int
        Rows left out (as in :class:`AlphaResult`).
    warnings : tuple of str
        What the analysis warned about: rows left out, items that correlate negatively with the scale.
    """

    odd_even: float
    odd_even_r: float
    odd_even_guttman: float
    first_second: float
    first_second_r: float
    first_second_guttman: float
    lambda1: float
    lambda2: float
    lambda3: float
    lambda4: float
    lambda5: float
    lambda6: float
    max_split: float
    min_split: float
    mean_split: float
    average_r: float
    n_splits: int
    exhaustive: bool
    covar: bool
    n: int
    n_items: int
    splits: np.ndarray = field(repr=False, default_factory=lambda: np.empty(0))
    n_dropped: int = 0
    warnings: tuple[str, ...] = ()

    @property
    def n_used(self) -> int:
        return self.n

    def to_frame(self) -> pd.DataFrame:
        """Two-column table: statistic, value (the coefficients, then n_used and n_dropped)."""
        names = [
            "odd_even", "odd_even_r", "odd_even_guttman", "first_second", "first_second_r",
            "first_second_guttman", "lambda1", "lambda2", "lambda3", "lambda4", "lambda5", "lambda6",
            "max_split", "min_split", "mean_split", "average_r", "n_used", "n_dropped",
        ]  # fmt: skip
        return pd.DataFrame({"statistic": names, "value": [getattr(self, n) for n in names]})


def _half_stats(M: np.ndarray, a: np.ndarray) -> tuple[float, float, float]:
    """Correlation between the half sums, its Spearman-Brown step-up, and Guttman's 4 C_AB / V_T."""
    b = 1.0 - a
    vaa, vbb, cab = a @ M @ a, b @ M @ b, a @ M @ b
    r = cab / math.sqrt(vaa * vbb)
    return float(r), float(2 * r / (1 + r)), float(4 * cab / M.sum())


def _split_matrix(k: int, n_sample: int, rng: np.random.Generator) -> tuple[np.ndarray, bool]:
    """0/1 rows marking the first half of each split: all distinct splits, or a random sample of them."""
    m = k // 2
    n_distinct = math.comb(k - 1, m - 1) if k % 2 == 0 else math.comb(k, m)
    if n_distinct <= n_sample:
        if k % 2 == 0:  # halves of equal size: fix item 0 in the first half to count each split once
            combos = [(0, *c) for c in itertools.combinations(range(1, k), m - 1)]
        else:
            combos = list(itertools.combinations(range(k), m))
        idx = np.array(combos, dtype=np.intp)
        exhaustive = True
    else:
        idx = np.argsort(rng.random((n_sample, k)), axis=1)[:, :m]
        exhaustive = False
    A = np.zeros((len(idx), k))
    np.put_along_axis(A, idx, 1.0, axis=1)
    return A, exhaustive


def split_half(
    data: pd.DataFrame,
    reverse: Sequence[str] | str = (),
    *,
    min: float | None = None,  # noqa: A002
    max: float | None = None,  # noqa: A002
    covar: bool = False,
    nan_policy: str = "pairwise",
    n_sample: int = 10000,
    random_state: int | np.random.Generator | None = 0,
    items: Sequence | str | None = None,
) -> SplitHalfResult:
    """Odd-even and first-second split-half reliability, all-splits summaries and Guttman's lambdas 1-6.

    Matches ``psych::splitHalf(items, covar = covar, check.keys = FALSE)`` (lambda 2, lambda 6, alpha, and the
    maximum / minimum / mean split for an even number of items) and ``psych::guttman`` (lambdas 1, 2, 3, 5, 6)
    to 1e-6; see Notes for where this function and psych differ on purpose.

    Parameters
    ----------
    data : pandas.DataFrame
        One column per item (at least 3).
    reverse, min, max :
        As in :func:`alpha`.
    covar : bool, default False
        False analyses the correlation matrix (standardized items; psych's default). True analyses the
        covariance matrix, i.e. raw item sums: then ``odd_even_r`` is the correlation between the raw half
        scores that SPSS's split-half model reports.
    nan_policy : {"pairwise", "listwise"}
        As in :func:`alpha`; the matrix is ``cov2cor(cov(x, use = "pairwise"))`` as in splitHalf.
    n_sample : int, default 10000
        When there are more distinct splits than this, examine this many random splits instead (as psych).
    random_state : int, Generator or None, default 0
        Seed for the random splits (only used when not exhaustive).
    items : list of column labels or str, optional
        The item columns of ``data`` (or an instrument id), as in :func:`alpha`.

    Returns
    -------
    SplitHalfResult

    Notes
    -----
    With ``M`` the matrix analysed, ``V_T = sum(M)``, ``k`` items:

    * ``lambda1 = 1 - tr(M)/V_T``; ``lambda3 = k/(k-1) lambda1`` (alpha);
    * ``lambda2 = (V_T - tr(M) + sqrt(k/(k-1) * sum_{i!=j} M_ij^2)) / V_T``;
    * ``lambda4 = max over splits (A, B) of 4 M_AB / V_T`` (``M_AB`` the sum of the cross block);
    * ``lambda5 = lambda1 + 2 sqrt(max_j sum_{i!=j} M_ij^2) / V_T``;
    * ``lambda6 = (V_T - tr(M) + sum(smc)) / V_T`` (smc from the correlation matrix, times the item variances
      when ``covar=True``, as ``psych::smc(covar = TRUE)``), the smc set to 1 above 1 and to 0 below 0 as
      psych does, so ``lambda6`` never exceeds 1 on a pairwise matrix that is not positive definite.

    Items with a negative loading on the first principal component are named in a warning, as
    ``psych::splitHalf`` warns before it reverses them (``check.keys = TRUE``); here they are not reversed.

    For an odd number of items psych's splitHalf enumerates only ``choose(k, k %/% 2) / 2`` of the
    ``choose(k, k %/% 2)`` distinct splits (it stops half-way through the combinations); this function examines
    all of them, so its ``max_split`` can be larger and ``min_split`` smaller than psych's, and ``mean_split``
    differs. For an even number of items both examine every split once and agree.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from psyscreen.reliability import split_half
    >>> rng = np.random.default_rng(1)
    >>> t = rng.normal(size=(200, 1))
    >>> x = pd.DataFrame(t + rng.normal(size=(200, 6)), columns=list("abcdef"))
    >>> res = split_half(x)
    >>> res.n_splits, res.exhaustive
    (10, True)
    >>> bool(res.min_split <= res.odd_even_guttman <= res.max_split)
    True
    """
    _check_nan_policy(nan_policy)
    if n_sample < 1:
        raise ReliabilityInputError(f"n_sample must be at least 1, got {n_sample}")
    keyed = _keyed_items(select_items(data, items, error=ReliabilityInputError), reverse, min, max, min_items=3)
    used, C = _cov(keyed.data, nan_policy)
    n_used, n_dropped, notes = _rows(keyed.data, nan_policy)
    k = C.shape[0]
    M = C if covar else _cov2cor(C)
    vt = M.sum()
    tr = np.trace(M)
    off = M - np.diag(np.diag(M))
    lam1 = 1.0 - tr / vt
    lam2 = (vt - tr + math.sqrt(k / (k - 1) * (off**2).sum())) / vt
    lam3 = k / (k - 1) * lam1
    lam5 = lam1 + 2.0 * math.sqrt((off**2).sum(axis=0).max()) / vt
    lam6 = (vt - tr + _smc(M, covar=covar).sum()) / vt

    rng = random_state if isinstance(random_state, np.random.Generator) else np.random.default_rng(random_state)
    A, exhaustive = _split_matrix(k, n_sample, rng)
    cross = ((A @ M) * (1.0 - A)).sum(axis=1)
    coef = 4.0 * cross / vt

    odd = (np.arange(k) % 2 == 0).astype(float)
    first = (np.arange(k) < math.ceil(k / 2)).astype(float)
    oe_r, oe_sb, oe_g = _half_stats(M, odd)
    fs_r, fs_sb, fs_g = _half_stats(M, first)
    av_r = float(off.sum() / (k * (k - 1)))
    return SplitHalfResult(
        odd_even=oe_sb,
        odd_even_r=oe_r,
        odd_even_guttman=oe_g,
        first_second=fs_sb,
        first_second_r=fs_r,
        first_second_guttman=fs_g,
        lambda1=float(lam1),
        lambda2=float(lam2),
        lambda3=float(lam3),
        lambda4=float(coef.max()),
        lambda5=float(lam5),
        lambda6=float(lam6),
        max_split=float(coef.max()),
        min_split=float(coef.min()),
        mean_split=float(coef.mean()),
        average_r=av_r,
        n_splits=int(len(coef)),
        exhaustive=exhaustive,
        covar=covar,
        n=n_used,
        n_items=k,
        splits=coef,
        n_dropped=n_dropped,
        warnings=emit(notes + _negative_items(_cov2cor(C), keyed.data.columns)),
    )


# --------------------------------------------------------------------------------------------------
# standard error of measurement and reliable change
# --------------------------------------------------------------------------------------------------


def _check_reliability(reliability) -> np.ndarray:
    r = np.asarray(reliability, dtype=float)
    if np.any((r < 0) | (r > 1)):
        raise ReliabilityInputError(f"reliability must lie in [0, 1], got {reliability!r}")
    return r


def sem(sd, reliability):
    """Standard error of measurement, ``sd * sqrt(1 - reliability)``.

    Parameters
    ----------
    sd : float or array-like
        Standard deviation of the observed scores (in a reference or norm sample).
    reliability : float or array-like
        Reliability of the scores (alpha, omega or test-retest), in ``[0, 1]``.

    Returns
    -------
    float or numpy.ndarray
        Same shape as the broadcast inputs; a float for scalar inputs.

    Examples
    --------
    >>> from psyscreen.reliability import sem
    >>> round(sem(10, 0.91), 10)
    3.0
    """
    r = _check_reliability(reliability)
    s = np.asarray(sd, dtype=float)
    if np.any(s < 0):
        raise ReliabilityInputError(f"sd must not be negative, got {sd!r}")
    out = s * np.sqrt(1.0 - r)
    return float(out) if out.ndim == 0 else out


def sem_band(scores, sd: float, reliability: float, *, ci: float = 0.95) -> pd.DataFrame:
    """Confidence band ``score -/+ z * SEM`` around observed scores.

    Parameters
    ----------
    scores : float, array-like or pandas.Series
        Observed scores.
    sd, reliability : float
        As in :func:`sem`.
    ci : float, default 0.95
        Two-sided level; ``z`` is the ``1 - (1 - ci)/2`` standard normal quantile (1.96 for 0.95).

    Returns
    -------
    pandas.DataFrame
        Columns ``score``, ``sem``, ``low``, ``high``; the index of ``scores`` when it is a Series.

    Examples
    --------
    >>> from psyscreen.reliability import sem_band
    >>> sem_band([50, 60], sd=10, reliability=0.91).round(3)
       score  sem    low   high
    0   50.0  3.0  44.12  55.88
    1   60.0  3.0  54.12  65.88
    """
    _check_ci(ci)
    index = scores.index if isinstance(scores, pd.Series) else None
    x = np.atleast_1d(np.asarray(scores, dtype=float))
    e = sem(sd, reliability)
    z = stats.norm.ppf(1.0 - (1.0 - ci) / 2.0)
    return pd.DataFrame(
        {"score": x, "sem": np.broadcast_to(e, x.shape), "low": x - z * e, "high": x + z * e}, index=index
    )


def reliable_change(
    x1,
    x2,
    reliability: float,
    sd: float,
    *,
    ci: float = 0.95,
    higher_is_worse: bool = True,
) -> pd.DataFrame:
    """Jacobson-Truax reliable change index for each person.

    ``SE = sd * sqrt(1 - r)``, ``S_diff = sqrt(2 SE^2) = sd * sqrt(2) * sqrt(1 - r)`` and
    ``RCI = (x2 - x1) / S_diff`` (Jacobson and Truax 1991, p. 14). A change is reliable when
    ``|RCI| > z``, with ``z`` the ``1 - (1 - ci)/2`` normal quantile (1.96 for ``ci = 0.95``).

    Parameters
    ----------
    x1, x2 : array-like or pandas.Series
        Scores before and after, position by position (two Series must share one index); NaN gives NaN.
    reliability : float
        Reliability of the measure (Jacobson and Truax used test-retest).
    sd : float
        Standard deviation of the pre-test scores (of a normal or pre-treatment sample).
    ci : float, default 0.95
    higher_is_worse : bool, default True
        True for symptom scales (a fall is an improvement); False when a higher score is better.

    Returns
    -------
    pandas.DataFrame
        Columns ``x1``, ``x2``, ``change``, ``rci`` and ``category`` (``"reliable improvement"``,
        ``"reliable deterioration"``, ``"no reliable change"``, or missing when a score is missing).

    Examples
    --------
    >>> from psyscreen.reliability import reliable_change
    >>> reliable_change([20, 20], [5, 25], reliability=0.75, sd=10)[["rci", "category"]].round(4)
          rci              category
    0 -2.1213  reliable improvement
    1  0.7071    no reliable change
    """
    _check_ci(ci)
    r = float(_check_reliability(reliability))
    if not (np.isfinite(sd) and sd > 0):
        raise ReliabilityInputError(f"sd must be a positive number, got {sd!r}")
    if r >= 1.0:
        raise ReliabilityInputError("reliability 1 leaves no measurement error; the RCI is undefined")
    if isinstance(x1, pd.Series) and isinstance(x2, pd.Series) and not x1.index.equals(x2.index):
        raise ReliabilityInputError("x1 and x2 are Series with different indexes; align them (same people) first")
    index = x1.index if isinstance(x1, pd.Series) else (x2.index if isinstance(x2, pd.Series) else None)
    a = np.atleast_1d(np.asarray(x1, dtype=float))
    b = np.atleast_1d(np.asarray(x2, dtype=float))
    if a.shape != b.shape or a.ndim != 1:
        raise ReliabilityInputError(f"x1 and x2 must be 1-d and of equal length, got {a.shape} and {b.shape}")
    s_diff = sd * math.sqrt(2.0) * math.sqrt(1.0 - r)
    change = b - a
    rci = change / s_diff
    z = stats.norm.ppf(1.0 - (1.0 - ci) / 2.0)
    worse = rci > z if higher_is_worse else rci < -z
    better = rci < -z if higher_is_worse else rci > z
    labels = np.select(
        [np.isnan(rci), better, worse],
        ["", "reliable improvement", "reliable deterioration"],
        default="no reliable change",
    )
    category = pd.Series(labels, index=index, dtype="string").replace("", pd.NA)
    return pd.DataFrame({"x1": a, "x2": b, "change": change, "rci": rci, "category": category.array}, index=index)


# --------------------------------------------------------------------------------------------------
# ICC
# --------------------------------------------------------------------------------------------------


def icc(
    frame: pd.DataFrame,
    targets: str,
    raters: str,
    ratings: str,
    *,
    ci: float = 0.95,
) -> pd.DataFrame:
    """Intraclass correlations ICC1, ICC2, ICC3, ICC1k, ICC2k, ICC3k (Shrout and Fleiss 1979).

    Matches ``psych::ICC(wide, lmer = FALSE)`` (psych 2.2.9) to 1e-6, including its F tests and confidence
    bounds, where ``wide`` has one row per target and one column per rater.

    Parameters
    ----------
    frame : pandas.DataFrame
        Long format: one row per (target, rater) rating.
    targets, raters, ratings : str
        Column names: who or what is rated (e.g. student), who rates or which occasion, and the rating.
    ci : float, default 0.95

    Returns
    -------
    pandas.DataFrame
        One row per type with columns ``type``, ``icc``, ``f``, ``df1``, ``df2``, ``p``, ``ci_low``, ``ci_high``.
        Targets without a rating from every rater are dropped first (listwise, as psych with ``lmer = FALSE``);
        ``frame.attrs["n_targets"]`` and ``["n_raters"]`` record what was used.

    Notes
    -----
    From the two-way ANOVA mean squares ``MSB`` (targets), ``MSJ`` (raters), ``MSE`` (residual) and the one-way
    ``MSW`` (within targets), with ``n`` targets and ``k`` raters:

    * ICC1 = (MSB - MSW)/(MSB + (k-1) MSW), F = MSB/MSW on (n-1, n(k-1));
    * ICC2 = (MSB - MSE)/(MSB + (k-1) MSE + k (MSJ - MSE)/n), F = MSB/MSE on (n-1, (n-1)(k-1));
    * ICC3 = (MSB - MSE)/(MSB + (k-1) MSE), F = MSB/MSE;
    * ICC1k = (MSB - MSW)/MSB, ICC2k = (MSB - MSE)/(MSB + (MSJ - MSE)/n), ICC3k = (MSB - MSE)/MSB.

    Bounds: ``F_L = F / F(1-a/2; df1, df2)``, ``F_U = F * F(1-a/2; df2, df1)``; ICC1 and ICC3 bounds
    ``(F_L - 1)/(F_L + k - 1)`` and ``(F_U - 1)/(F_U + k - 1)``, ICC1k and ICC3k bounds ``1 - 1/F_L``,
    ``1 - 1/F_U``; ICC2 uses Satterthwaite's degrees of freedom as in Shrout and Fleiss (1979) eq. 10-12,
    and ICC2k steps the ICC2 bounds up by Spearman-Brown.

    Examples
    --------
    >>> import pandas as pd
    >>> from psyscreen.reliability import icc
    >>> long = pd.DataFrame({"id": [1, 1, 2, 2, 3, 3, 4, 4], "occasion": ["t1", "t2"] * 4,
    ...                      "score": [1.0, 1.5, 2.0, 2.0, 3.0, 3.5, 4.0, 3.5]})
    >>> icc(long, "id", "occasion", "score")[["type", "icc"]].round(4)  # as psych::ICC
        type     icc
    0   ICC1  0.9308
    1   ICC2  0.9302
    2   ICC3  0.9160
    3  ICC1k  0.9641
    4  ICC2k  0.9639
    5  ICC3k  0.9562
    """
    _check_ci(ci)
    if not isinstance(frame, pd.DataFrame):
        raise ReliabilityInputError(f"frame must be a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in (targets, raters, ratings) if c not in frame.columns]
    if missing:
        raise ReliabilityInputError(f"columns {missing} are not in frame")
    dup = frame.duplicated([targets, raters])
    if dup.any():
        raise ReliabilityInputError(
            f"{int(dup.sum())} (target, rater) pairs are rated more than once; aggregate or fix them first"
        )
    try:
        values = pd.to_numeric(frame[ratings], errors="raise").astype("float64")
    except (ValueError, TypeError) as exc:
        raise ReliabilityInputError(f"ratings column {ratings!r} is not numeric") from exc
    long = pd.DataFrame({"t": frame[targets].to_numpy(), "r": frame[raters].to_numpy(), "y": values.to_numpy()})
    wide = long.pivot(index="t", columns="r", values="y").dropna()
    x = wide.to_numpy()
    n, k = x.shape
    if k < 2:
        raise ReliabilityInputError(f"need at least 2 raters, got {k}")
    if n < 2:
        raise ReliabilityInputError(f"need at least 2 targets rated by every rater, got {n}")

    gm = x.mean()
    ss_total = ((x - gm) ** 2).sum()
    ss_b = k * ((x.mean(axis=1) - gm) ** 2).sum()
    ss_j = n * ((x.mean(axis=0) - gm) ** 2).sum()
    ss_e = ss_total - ss_b - ss_j
    msb = ss_b / (n - 1)
    msj = ss_j / (k - 1)
    mse = ss_e / ((n - 1) * (k - 1))
    msw = (ss_total - ss_b) / (n * (k - 1))

    icc1 = (msb - msw) / (msb + (k - 1) * msw)
    icc2 = (msb - mse) / (msb + (k - 1) * mse + k * (msj - mse) / n)
    icc3 = (msb - mse) / (msb + (k - 1) * mse)
    icc1k = (msb - msw) / msb
    icc2k = (msb - mse) / (msb + (msj - mse) / n)
    icc3k = (msb - mse) / msb

    a = 1.0 - ci
    f1, df1n, df1d = msb / msw, n - 1, n * (k - 1)
    f2, df2d = msb / mse, (n - 1) * (k - 1)
    p1 = stats.f.sf(f1, df1n, df1d)
    p2 = stats.f.sf(f2, df1n, df2d)
    q = 1.0 - a / 2.0
    f1l, f1u = f1 / stats.f.ppf(q, df1n, df1d), f1 * stats.f.ppf(q, df1d, df1n)
    f3l, f3u = f2 / stats.f.ppf(q, df1n, df2d), f2 * stats.f.ppf(q, df2d, df1n)
    fj = msj / mse
    vn = (k - 1) * (n - 1) * (k * icc2 * fj + n * (1 + (k - 1) * icc2) - k * icc2) ** 2
    vd = (n - 1) * k**2 * icc2**2 * fj**2 + (n * (1 + (k - 1) * icc2) - k * icc2) ** 2
    v = vn / vd
    fu, fl = stats.f.ppf(q, n - 1, v), stats.f.ppf(q, v, n - 1)
    l2 = n * (msb - fu * mse) / (fu * (k * msj + (k * n - k - n) * mse) + n * msb)
    u2 = n * (fl * msb - mse) / (k * msj + (k * n - k - n) * mse + n * fl * msb)

    out = pd.DataFrame(
        {
            "type": ["ICC1", "ICC2", "ICC3", "ICC1k", "ICC2k", "ICC3k"],
            "icc": [icc1, icc2, icc3, icc1k, icc2k, icc3k],
            "f": [f1, f2, f2, f1, f2, f2],
            "df1": [df1n] * 6,
            "df2": [df1d, df2d, df2d, df1d, df2d, df2d],
            "p": [p1, p2, p2, p1, p2, p2],
            "ci_low": [
                (f1l - 1) / (f1l + k - 1), l2, (f3l - 1) / (f3l + k - 1),
                1 - 1 / f1l, l2 * k / (1 + l2 * (k - 1)), 1 - 1 / f3l,
            ],
            "ci_high": [
                (f1u - 1) / (f1u + k - 1), u2, (f3u - 1) / (f3u + k - 1),
                1 - 1 / f1u, u2 * k / (1 + u2 * (k - 1)), 1 - 1 / f3u,
            ],
        }
    )  # fmt: skip
    out.attrs["n_targets"] = n
    out.attrs["n_raters"] = k
    return out


# --------------------------------------------------------------------------------------------------
# item analysis
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ItemAnalysisResult(ResultMixin):
    """Classical item analysis of one scale.

    Attributes
    ----------
    items : pandas.DataFrame
        One row per item: ``cr`` (critical ratio: t of high vs low group), ``cr_df``, ``cr_p``, ``mean_high``,
        ``mean_low``, ``r_drop`` (corrected item-total r), ``alpha_if_dropped``, ``mean``, ``sd``, ``floor``,
        ``ceiling`` (proportion at ``min`` / ``max``), then ``prop_<code>`` for each response code.
    warnings : list of str
        Plain-language flags (negative corrected item-total r, ...).
    alpha : float
        Raw alpha of the whole scale on the rows used.
    n : int
        Complete rows used.
    n_dropped : int
        Rows dropped because an item was missing.
    n_high, n_low : int
        Sizes of the high and low groups.
    cut_high, cut_low : float
        Total scores at or above / at or below which a row is in the high / low group.
    equal_var : bool
        True: Student's pooled-variance t; False: Welch's t.
    """

    items: pd.DataFrame = field(repr=False)
    warnings: list[str]
    alpha: float
    n: int
    n_dropped: int
    n_high: int
    n_low: int
    cut_high: float
    cut_low: float
    group_fraction: float
    equal_var: bool
    min: float
    max: float
    range_inferred: bool

    def to_frame(self) -> pd.DataFrame:
        """The per-item table."""
        return self.items


def _code_label(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def item_analysis(
    items: pd.DataFrame,
    reverse: Sequence[str] | str = (),
    *,
    min: float | None = None,  # noqa: A002
    max: float | None = None,  # noqa: A002
    group_fraction: float = 0.27,
    equal_var: bool = True,
) -> ItemAnalysisResult:
    """Item analysis for scale development: critical ratio, corrected item-total r, alpha if dropped, floor/ceiling.

    Works on complete cases (rows with any item missing are dropped and counted in ``n_dropped``); all
    statistics use the keyed items (reversed items as ``min + max - x``), so ``floor`` is the share at the
    lowest *keyed* score and the ``prop_<code>`` columns are the keyed response distribution.

    Parameters
    ----------
    items : pandas.DataFrame
        One column per item.
    reverse, min, max :
        As in :func:`alpha`. ``min``/``max`` also define the floor, the ceiling and the response codes
        (``min, min+1, ..., max`` when both are whole numbers); when not given they are inferred from the data.
    group_fraction : float, default 0.27
        Share of respondents in each extreme group (Kelley's 27 per cent).
    equal_var : bool, default True
        True: the independent-samples Student t with pooled variance, which Chinese scale-development papers
        usually report (``t.test(var.equal = TRUE)``, ``scipy.stats.ttest_ind``); False: Welch's t.

    Returns
    -------
    ItemAnalysisResult

    Notes
    -----
    *Groups.* Rows are sorted by total score; ``g = ceil(group_fraction * n)``. The low cut is the ``g``-th
    lowest total and the high cut the ``g``-th highest; the low group is every row with a total at or below the
    low cut and the high group every row at or above the high cut, so people tied at a cut are all included
    (the usual SPSS practice of recoding the total at its 27th and 73rd percentile scores).

    *Critical ratio.* ``cr = (mean_high - mean_low) / se`` per item, two-sided p. Items that do not separate the
    groups (small ``cr``, large ``p``) are candidates for deletion.

    *Corrected item-total r* is ``r_drop`` of :func:`alpha` (psych's ``r.drop``): the item against the sum of
    the other items.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from psyscreen.reliability import item_analysis
    >>> rng = np.random.default_rng(0)
    >>> t = rng.normal(size=300)
    >>> x = pd.DataFrame({f"i{j}": np.clip(np.round(3 + t + rng.normal(size=300)), 1, 5) for j in range(4)})
    >>> x["i4"] = 6 - x["i0"]  # a reversed item left unkeyed
    >>> res = item_analysis(x, min=1, max=5)
    >>> res.warnings[0].startswith("i4")
    True
    """
    if not 0.0 < group_fraction <= 0.5:
        raise ReliabilityInputError(f"group_fraction must be in (0, 0.5], got {group_fraction!r}")
    keyed = _keyed_items(items, reverse, min, max)
    complete = keyed.data.dropna()
    n = len(complete)
    n_dropped = len(keyed.data) - n
    if n < 4:
        raise ReliabilityInputError(f"only {n} complete rows; item analysis needs more")
    _, C = _cov(complete, "listwise")
    x = complete.to_numpy()
    total = x.sum(axis=1)
    g = math.ceil(group_fraction * n)
    ordered = np.sort(total)
    cut_low, cut_high = ordered[g - 1], ordered[n - g]
    low, high = total <= cut_low, total >= cut_high
    if (low & high).any():
        raise ReliabilityInputError(
            "the high and low groups overlap (too many tied total scores); use a smaller group_fraction"
        )
    xh, xl = x[high], x[low]
    nh, nl = len(xh), len(xl)
    mh, ml = xh.mean(axis=0), xl.mean(axis=0)
    vh, vl = xh.var(axis=0, ddof=1), xl.var(axis=0, ddof=1)
    if equal_var:
        df = np.full(x.shape[1], float(nh + nl - 2))
        sp2 = ((nh - 1) * vh + (nl - 1) * vl) / df
        se = np.sqrt(sp2 * (1.0 / nh + 1.0 / nl))
    else:
        a, b = vh / nh, vl / nl
        se = np.sqrt(a + b)
        with np.errstate(invalid="ignore", divide="ignore"):
            df = (a + b) ** 2 / (a**2 / (nh - 1) + b**2 / (nl - 1))
    with np.errstate(invalid="ignore", divide="ignore"):
        t = (mh - ml) / se
    p = 2.0 * stats.t.sf(np.abs(t), df)

    lo, hi = keyed.min, keyed.max
    table = pd.DataFrame(
        {
            "cr": t,
            "cr_df": df,
            "cr_p": p,
            "mean_high": mh,
            "mean_low": ml,
            "r_drop": _r_drop(C),
            "alpha_if_dropped": _alpha_if_dropped(C),
            "mean": x.mean(axis=0),
            "sd": x.std(axis=0, ddof=1),
            "floor": (x == lo).mean(axis=0),
            "ceiling": (x == hi).mean(axis=0),
        },
        index=pd.Index(complete.columns, name="item"),
    )
    if float(lo).is_integer() and float(hi).is_integer() and hi - lo <= 100:
        codes = np.arange(lo, hi + 1.0)
        extra = np.setdiff1d(np.unique(x), codes)
        codes = np.union1d(codes, extra)
    else:
        codes = np.unique(x)
    props = (x[:, :, None] == codes[None, None, :]).mean(axis=0)
    for j, code in enumerate(codes):
        table[f"prop_{_code_label(code)}"] = props[:, j]

    warns: list[str] = []
    rev = set([reverse] if isinstance(reverse, str) else reverse)
    for item, r in zip(table.index, table["r_drop"], strict=True):
        if r < 0:
            if item in rev:
                warns.append(
                    f"{item}: corrected item-total r = {r:.3f} < 0 after reversing it; "
                    "check whether it should really be reverse-keyed"
                )
            else:
                warns.append(
                    f"{item}: corrected item-total r = {r:.3f} < 0; it looks reverse-keyed but is not keyed so"
                )
    for item, pv in zip(table.index, table["cr_p"], strict=True):
        if not pv < 0.05:
            warns.append(
                f"{item}: critical ratio not significant (p = {pv:.3g}); it does not separate high and low scorers"
            )
    return ItemAnalysisResult(
        items=table,
        warnings=warns,
        alpha=float(_alpha_raw(C)),
        n=n,
        n_dropped=n_dropped,
        n_high=int(nh),
        n_low=int(nl),
        cut_high=float(cut_high),
        cut_low=float(cut_low),
        group_fraction=group_fraction,
        equal_var=equal_var,
        min=lo,
        max=hi,
        range_inferred=keyed.inferred_range,
    )
