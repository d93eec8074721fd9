"""McDonald's omega (hierarchical and total) by the Schmid-Leiman transformation, as psych::omega.

The steps are psych 2.2.9's (``psych::omega`` -> ``omegah`` -> ``schmid``), on the correlation matrix of
the listwise complete cases:

1. ``fa(R, n_factors, fm = "minres", rotate = "varimax")`` (see :mod:`psyscreen.validity.efa`);
2. ``GPArotation::oblimin`` of those loadings (gamma 0, no Kaiser normalisation) -> pattern ``F`` and
   factor correlations ``Phi``;
3. a one-factor minres analysis of ``Phi`` gives the loadings ``b`` of the group factors on the general
   factor (with two group factors, psych's ``option = "equal"``: both ``sqrt(|phi_12|)``);
4. Schmid-Leiman: general loadings ``g = F b``; group loadings ``sign(F) * |F| * sqrt(1 - b^2)``;
   ``h2`` = row sums of squares of the varimax loadings, ``u2 = 1 - h2``;
5. ``flip``: items whose general loading is negative are reflected (their rows and columns of R change
   sign), as psych does by default, so negatively keyed items need not be reversed first;
6. with ``Vt`` the sum of all elements of the (flipped) correlation matrix:
   ``omega_h = (sum g)^2 / Vt``, ``omega_total = (Vt - sum u2) / Vt``,
   ``alpha = (Vt - p) / Vt * p / (p - 1)`` (standardised alpha of the flipped items),
   ``G6 = (Vt - p + sum SMC) / Vt``.

With ``n_factors = 1`` the model is the one-factor minres fit and ``omega_total`` is the model-based
``(sum l)^2 / ((sum l)^2 + sum u)``; ``omega_h`` is not defined (NaN).

Warnings, with psych's meaning, go through :func:`warnings.warn` and into ``OmegaResult.warnings``: rows
dropped (listwise), an ultra-Heywood case in the factor analysis (a communality above 1, psych::fa's
warning), a Heywood case (a communality of 1), and two group factors (psych's schmid: "Three factors are
required for identification -- general factor loadings set to be equal").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from psyscreen._blas import small_blas
from psyscreen._items import correlation_input, emit, select_items
from psyscreen._results import ResultMixin, one_row
from psyscreen.validity.efa import (
    FactorAnalysisError,
    _fa_matrix,
    _heywood_messages,
    _item_input,
    _oblimin,
    _smc,
)

__all__ = ["omega", "OmegaResult", "OmegaError"]


class OmegaError(FactorAnalysisError):
    """Raised when omega cannot be computed for the items given (and why)."""


@dataclass(frozen=True, eq=False)
class OmegaResult(ResultMixin):
    """The result of :func:`omega`.

    Attributes
    ----------
    omega_h : float
        Omega hierarchical: the share of total-score variance due to the general factor (NaN with one factor).
    omega_total : float
        Omega total: the share of total-score variance due to all common factors.
    alpha : float
        Standardised alpha of the (flipped) items, as psych::omega prints it.
    g6 : float
        Guttman's lambda 6.
    omega_limit : float
        omega_h / (share of common variance), psych's ``omega.lim`` (NaN with one factor).
    ecv : float
        Explained common variance of the general factor (NaN with one factor).
    n : int
        Listwise complete cases used (``n_obs`` for a matrix); also ``n_used``.
    n_factors : int
    loadings : DataFrame
        Schmid-Leiman solution, one row per item: ``g``, ``F1*``.. (group factors), ``h2``, ``u2``, ``p2``
        (share of h2 due to g). Rows of flipped items are reflected, as psych prints them.
    general_loadings : Series
        Loadings of the group factors on the general factor (``F1``..).
    phi : DataFrame
        Correlations of the oblique group factors.
    groups : DataFrame
        psych's ``omega.group``: for ``g`` and each group factor (items assigned to their largest group
        loading) omega ``total``, ``general`` and ``group``.
    key : Series
        +1 or -1 per item: -1 where psych's flip reflected the item.
    n_dropped : int
        Rows left out because an item was unanswered (listwise).
    warnings : tuple of str
        What the analysis warned about: rows dropped, (ultra-)Heywood cases, two group factors.
    bootstrap : BootstrapResult or None
        With ``n_boot``: percentile bootstrap intervals of omega_total and omega_h
        (:func:`psyscreen.validity.bootstrap.bootstrap_omega`).
    """

    omega_h: float
    omega_total: float
    alpha: float
    g6: float
    omega_limit: float
    ecv: float
    n: int
    n_factors: int
    loadings: pd.DataFrame
    general_loadings: pd.Series
    phi: pd.DataFrame
    groups: pd.DataFrame
    key: pd.Series
    n_dropped: int = 0
    warnings: tuple[str, ...] = ()

    @property
    def n_used(self) -> int:
        return self.n
    bootstrap: Any = None

    def to_frame(self) -> pd.DataFrame:
        """The coefficients as one row."""
        return one_row(omega_h=self.omega_h, omega_total=self.omega_total, alpha=self.alpha, G6=self.g6,
                       omega_limit=self.omega_limit, ECV=self.ecv, n=self.n, n_factors=self.n_factors,
                       n_used=self.n, n_dropped=self.n_dropped)


def _reverse(items: pd.DataFrame, reverse: Iterable[str], lo: float | None, hi: float | None) -> pd.DataFrame:
    reverse = [reverse] if isinstance(reverse, str) else list(reverse)
    if not reverse:
        return items
    unknown = [str(r) for r in reverse if r not in items.columns]
    if unknown:
        raise OmegaError(f"items to reverse are not among the item columns: {', '.join(unknown)}")
    bad = [str(r) for r in reverse if not pd.api.types.is_numeric_dtype(items[r])]
    if bad:
        raise OmegaError(f"item columns must be numeric; not numeric: {', '.join(bad)}")
    block = items[reverse].astype(float)
    lo_v = block.min() if lo is None else lo
    hi_v = block.max() if hi is None else hi
    out = items.copy()
    out[reverse] = lo_v + hi_v - block
    return out


def _general_loadings(phi: np.ndarray) -> np.ndarray:
    k = phi.shape[0]
    if k > 2:
        return _fa_matrix(phi, 1, "minres", "none").loadings[:, 0]
    # two group factors: psych's option = "equal"
    root = np.sqrt(abs(phi[0, 1]))
    return np.array([root, np.sign(phi[0, 1]) * root])


def omega(
    data: pd.DataFrame,
    n_factors: int = 3,
    reverse: Iterable[str] = (),
    *,
    min: float | None = None,  # noqa: A002 - the names psych uses for the item range
    max: float | None = None,  # noqa: A002
    flip: bool = True,
    items=None,
    n_obs: int | None = None,
    n_boot: int = 0,
    seed: int | None = None,
    level: float = 0.95,
) -> OmegaResult:
    """McDonald's omega_h and omega_total from a Schmid-Leiman solution, as psych::omega.

    Parameters
    ----------
    data : DataFrame
        One numeric column per item. Rows with any missing item are dropped (listwise complete cases; one
        warning says how many). Or a correlation or covariance matrix with ``n_obs``, as
        ``psych::omega(R, n.obs = n_obs)``.
    n_factors : int
        Number of group factors (psych's ``nfactors``, default 3). With 1, the one-factor model's
        omega_total is returned and omega_h is NaN; with 2, the general loadings are set equal
        (psych's ``option = "equal"``: both ``sqrt(|phi_12|)``), which psych warns is under-identified; so
        does this function.
    reverse : iterable of str
        Items to reverse first, as ``min + max - x``. With ``flip=True`` (the default) this does not change
        omega or alpha: items that load negatively on the general factor are reflected anyway.
    min, max : float, optional
        The item range used for reversing (e.g. 1 and 6). Default: the observed minimum and maximum of
        each reversed item (as psych::reverse.code).
    flip : bool
        Reflect items that load negatively on the general factor (psych's ``flip = TRUE``).
    items : list of column labels or str, optional
        The item columns of ``data``, or an instrument id (``"phq9"``). Without it, a frame with columns
        that are plainly not items (text, id, age, gender, grade, class, school, ...) is refused.
    n_obs : int, optional
        The number of respondents behind a correlation matrix given as ``data`` (required with one).
    n_boot : int, default 0
        With 2 or more (1000 for a report): percentile bootstrap intervals of omega_total and omega_h
        from that many resamples of the rows, in the ``bootstrap`` field (seeded by ``seed``, at
        ``level``; failed resamples counted there); see :func:`psyscreen.validity.bootstrap.bootstrap_omega`.
    seed : int, optional
        Seed of ``numpy.random.default_rng`` for the bootstrap: the same seed, the same intervals.
    level : float, default 0.95
        Confidence level of the bootstrap intervals.

    Returns
    -------
    OmegaResult

    Notes
    -----
    Matches ``psych::omega(x, nfactors = n_factors, fm = "minres", rotate = "oblimin")`` with ``x`` the
    complete cases: omega_h, omega.tot, alpha, G6, omega.lim, ECV, the Schmid-Leiman table and omega.group.
    With ``n_factors = 1`` omega_total is ``(sum l)^2 / ((sum l)^2 + sum u)`` of ``psych::fa(x, 1)``, which
    differs slightly from psych::omega's ``omega.tot`` for one factor (that one divides by the observed
    total variance).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> g, s = rng.normal(size=(800, 1)), rng.normal(size=(800, 3))
    >>> x = 0.6 * g + 0.5 * np.repeat(s, 3, axis=1) + rng.normal(scale=0.6, size=(800, 9))
    >>> res = omega(pd.DataFrame(x, columns=[f"i{j}" for j in range(9)]), n_factors=3)
    >>> bool(0 < res.omega_h < res.omega_total < 1)
    True
    """
    if isinstance(n_factors, bool) or not isinstance(n_factors, (int, np.integer)) or n_factors < 1:
        raise OmegaError(f"n_factors must be a positive integer, got {n_factors!r}")
    if not isinstance(data, pd.DataFrame):
        raise OmegaError(f"data must be a pandas DataFrame of item columns, got {type(data).__name__}")
    if n_obs is None:
        correlation_input(data, None, error=OmegaError)  # refuses a correlation matrix given without n_obs
        frame = _reverse(select_items(data, items, error=OmegaError), reverse, min, max)
        inp = _item_input(frame, list(frame.columns), min_items=3)
    else:
        if n_boot:
            raise OmegaError("bootstrap intervals (n_boot) resample the answers: pass the item answers, "
                             "not a correlation matrix")
        inp = _item_input(data, items, n_obs, min_items=3)
    names, r = inp.names, inp.r
    if n_obs is not None:  # a matrix: reversing an item changes the sign of its correlations
        unknown = [str(c) for c in ([reverse] if isinstance(reverse, str) else reverse) if c not in names]
        if unknown:
            raise OmegaError(f"items to reverse are not among the item columns: {', '.join(unknown)}")
        sign = np.where(np.isin(names, [reverse] if isinstance(reverse, str) else list(reverse)), -1.0, 1.0)
        r = r * np.outer(sign, sign)
    p, k = len(names), int(n_factors)
    if k >= p:
        raise OmegaError(f"n_factors must be smaller than the number of items ({p}), got {k}")

    # Schmid-Leiman (psych::schmid)
    with small_blas(p):
        orth = _fa_matrix(r, k, "minres", "varimax")
        if k == 1:
            pattern, phi, gload = orth.loadings, np.eye(1), np.ones(1)
        else:
            pattern, phi = _oblimin(orth.loadings)
            gload = _general_loadings(phi)
    notes = inp.warnings + _heywood_messages(orth.communality, names)
    if k == 2:
        notes += (f"two group factors do not identify the general factor: its loadings on them are set equal "
                  f"(sqrt(|phi12|) = {gload[0]:.3f}), so omega_h rests on that constraint (psych: 'Three "
                  "factors are required for identification -- general factor loadings set to be equal. Proceed "
                  "with caution'); prefer 3 or more group factors",)
    orth = orth.loadings
    g = pattern @ gload
    h2 = np.sum(orth**2, axis=1)
    u2 = 1.0 - h2
    group = np.sign(pattern) * np.sqrt(np.clip(pattern**2 * (1.0 - gload**2), 0.0, None))

    key = np.ones(p)
    if flip:
        key = np.where(g < 0, -1.0, 1.0)
        g, group = g * key, group * key[:, None]
        r = r * np.outer(key, key)

    vt = float(r.sum())
    alpha = (vt - p) / vt * p / (p - 1)
    g6 = (vt - p + float(_smc(r).sum())) / vt
    if k == 1:
        common = float(g.sum()) ** 2
        omega_total = common / (common + float(u2.sum()))
        omega_h = omega_limit = ecv = float("nan")
    else:
        omega_total = (vt - float(u2.sum())) / vt
        omega_h = float(g.sum()) ** 2 / vt
        omega_limit = float(g.sum()) ** 2 / (vt - float(u2.sum()))
        ev = np.sum(np.column_stack([g, group]) ** 2, axis=0)
        ecv = float(ev[0] / ev.sum())

    group_names = [f"F{i + 1}*" for i in range(k)]
    sl = pd.DataFrame(np.column_stack([g, group]), index=names, columns=["g", *group_names])
    sl["h2"], sl["u2"], sl["p2"] = h2, u2, g**2 / h2

    # psych's omega.group: items go to the group factor on which they load most
    assign = np.argmax(np.abs(group), axis=1)
    onehot = (assign[:, None] == np.arange(k)).astype(float)  # items x groups
    v_group = np.einsum("ig,ij,jg->g", onehot, r, onehot)  # an empty group gives 0 / 0 = NaN, as psych's NA
    s_group = np.sum(group * onehot, axis=0)
    s_general = onehot.T @ g
    with np.errstate(invalid="ignore", divide="ignore"):
        groups = pd.DataFrame(
            {
                "total": np.r_[(vt - float(u2.sum())) / vt, (s_group**2 + s_general**2) / v_group],
                "general": np.r_[float(g.sum()) ** 2 / vt, s_general**2 / v_group],
                "group": np.r_[float(np.sum(s_group**2)) / vt, s_group**2 / v_group],
            },
            index=["g", *group_names],
        )

    factor_names = [f"F{i + 1}" for i in range(k)]
    return OmegaResult(
        omega_h=omega_h,
        omega_total=float(omega_total),
        alpha=float(alpha),
        g6=float(g6),
        omega_limit=omega_limit,
        ecv=ecv,
        n=inp.n_used,
        n_factors=k,
        loadings=sl,
        general_loadings=pd.Series(gload, index=factor_names, name="g"),
        phi=pd.DataFrame(phi, index=factor_names, columns=factor_names),
        groups=groups,
        key=pd.Series(key.astype(int), index=names, name="key"),
        n_dropped=inp.n_dropped,
        warnings=emit(notes),
        bootstrap=None if not n_boot else _bootstrap(frame, n_factors, flip, n_boot, seed, level),
    )


def _bootstrap(items: pd.DataFrame, n_factors: int, flip: bool, n_boot: int, seed: int | None,
               level: float) -> Any:
    from psyscreen.validity.bootstrap import bootstrap_omega

    return bootstrap_omega(items, n_factors, flip=flip, n_boot=n_boot, seed=seed, level=level)
