"""Limited-information model fit: M2 (Maydeu-Olivares & Joe, 2006) and C2 (Cai & Monroe, 2014), as R mirt ``M2()``.

The statistic compares low-order margins of the data with those the model implies,

    M2 = N (p - pi)' C (p - pi),   C = D_c (D_c' Xi D_c)^-1 D_c',

``p`` the observed and ``pi`` the model's margins, ``Xi`` their per-student covariance under the model,
``D`` the Jacobian of ``pi`` with respect to the free parameters and ``D_c`` an orthonormal complement of
``D`` (so the statistic does not move with the parameter estimates to first order). ``df`` = number of
margins - number of free parameters. Which margins (mirt's ``type``):

* ``"M2*"`` (mirt's default; Cai & Hansen, 2013): each item's mean score and the cross products
  ``E[X_i X_j]``. For binary items this is Maydeu-Olivares & Joe's M2 exactly.
* ``"C2"`` (Cai & Monroe, 2014): each item's category proportions ``P(X_i = k)``, k = 1..K-1, and the cross
  products ``E[X_i X_j]``; for ordinal items with few items (where M2* has no degrees of freedom left) this is
  the one mirt can give. Binary items: the same as M2*.

With them: ``RMSEA = sqrt(max(M2 - df, 0) / (df (N - 1)))`` and its 90% interval from the noncentral
chi-square (``sqrt(lambda / (df N))`` at the noncentralities that put M2 at the 95th and 5th percentiles,
with N, not N - 1, as mirt has it), ``SRMSR`` (the root mean square of observed minus model-implied
inter-item correlations), and the limited-information ``TLI`` and ``CFI`` against mirt's null model (every
slope 0, each item's intercepts free; its margins are fitted exactly by the observed cumulative proportions,
so the null model needs no iterations; M2 does not move with the intercepts to first order anyway).

The model's margins and ``Xi`` are integrals over mirt's fixed quadrature (61 equally spaced nodes on
[-6, 6], normal weights with the model's latent mean and variance); the Jacobian is taken by central
differences of the margins in the parameters (the margins are smooth and cheap, and the statistic is
invariant to the step to far below the reported precision). Owned here because no Python library computes
M2/C2 against mirt (checked against the stored mirt figures in tests/test_irt_itemfit.py). For polytomous
items ``"M2*"`` uses the item means and cross products (Cai & Hansen's reduced margins); the stored mirt
references could check only its refusal for Science (too few df), not a value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, stats

from psyscreen._results import ResultMixin, one_row
from psyscreen.irt._model import ItemParams, trace
from psyscreen.irt.itemfit import ItemFitError, as_codes, latent_quadrature, unwrap

__all__ = ["m2", "M2Result", "M2Error"]


class M2Error(ValueError):
    """Raised when M2 cannot be computed (missing answers, too few degrees of freedom)."""


@dataclass(frozen=True)
class M2Result(ResultMixin):
    """Result of :func:`m2` (mirt ``M2()``'s columns).

    Attributes
    ----------
    type : str
        ``"M2*"`` or ``"C2"``.
    M2, df, p : float, int, float
        The statistic, its degrees of freedom and p value (chi-square).
    RMSEA, RMSEA_5, RMSEA_95 : float
        RMSEA and its 90% confidence interval.
    SRMSR : float
        Standardised root mean square residual of the inter-item correlations.
    TLI, CFI : float
        Limited-information fit indices against the null model (slopes 0).
    n : int
        Students used.
    """

    type: str
    M2: float
    df: int
    p: float
    RMSEA: float
    RMSEA_5: float
    RMSEA_95: float
    SRMSR: float
    TLI: float
    CFI: float
    n: int

    def to_frame(self) -> pd.DataFrame:
        return one_row(type=self.type, M2=self.M2, df=self.df, p=self.p, RMSEA=self.RMSEA,
                       RMSEA_5=self.RMSEA_5, RMSEA_95=self.RMSEA_95, SRMSR=self.SRMSR, TLI=self.TLI,
                       CFI=self.CFI, n=self.n)


# ------------------------------------------------------------------------------------------------
# the statistics: each a product of one function of one or two items
# ------------------------------------------------------------------------------------------------
def _design(n_cat: np.ndarray, type_: str) -> np.ndarray:
    """G[s, i, k]: statistic s's function of item i's category k (1 where the item is not involved)."""
    n_items, k_max = len(n_cat), int(n_cat.max())
    score = np.arange(k_max, dtype=float)
    rows = []
    for i in range(n_items):
        if type_ == "C2" or n_cat[i] == 2:
            for k in range(1, int(n_cat[i])):
                g = np.ones((n_items, k_max))
                g[i] = (score == k).astype(float)
                rows.append(g)
        else:
            g = np.ones((n_items, k_max))
            g[i] = score
            rows.append(g)
    for i in range(n_items):
        for j in range(i + 1, n_items):
            g = np.ones((n_items, k_max))
            g[i] = score
            g[j] = score
            rows.append(g)
    return np.array(rows)


def _observed(codes: np.ndarray, n_cat: np.ndarray, type_: str) -> np.ndarray:
    n_items = codes.shape[1]
    out = []
    for i in range(n_items):
        if type_ == "C2" or n_cat[i] == 2:
            out.extend((codes[:, i] == k).mean() for k in range(1, int(n_cat[i])))
        else:
            out.append(codes[:, i].mean())
    cross = codes.T @ codes / len(codes)
    iu = np.triu_indices(n_items, 1)
    return np.concatenate([np.array(out, dtype=float), cross[iu]])


def _conditional(G: np.ndarray, P: np.ndarray) -> np.ndarray:
    """E[s | theta_q] = prod_i E[g_si(X_i) | theta_q], shape (n_stats, n_nodes); one batched matmul per item."""
    cond = np.matmul(G.transpose(1, 0, 2), P.transpose(0, 2, 1))   # (items, stats, nodes)
    return np.prod(cond, axis=0)


def _margins(params: ItemParams, G: np.ndarray, nodes: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Model-implied E[s] = sum_q w_q prod_i E[g_si(X_i) | theta_q]."""
    return _conditional(G, trace(params, nodes)) @ w


def _xi(params: ItemParams, G: np.ndarray, nodes: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Per-student covariance of the statistics under the model (conditional independence given theta)."""
    P = trace(params, nodes)
    n_s = G.shape[0]
    second = np.zeros((n_s, n_s))
    for q in range(len(nodes)):                                # a loop over nodes, not students
        prod = np.ones((n_s, n_s))
        for i in range(G.shape[1]):
            gi = G[:, i, :]
            prod *= (gi * P[i, q]) @ gi.T
        second += w[q] * prod
    mean = _conditional(G, P) @ w
    return second - np.outer(mean, mean)


# ------------------------------------------------------------------------------------------------
# free parameters <-> ItemParams
# ------------------------------------------------------------------------------------------------
def _pack(params: ItemParams, var: float, free_slopes: bool) -> np.ndarray:
    parts = []
    for i in range(params.n_items):
        if free_slopes:
            parts.append([params.a[i]])
        parts.append(params.d[i, : params.n_cat[i] - 1])
    if params.model == "Rasch":
        parts.append([var])
    return np.concatenate([np.asarray(p, dtype=float) for p in parts])


def _unpack(params: ItemParams, vec: np.ndarray, var: float, free_slopes: bool) -> tuple[ItemParams, float]:
    a, d = params.a.copy(), params.d.copy()
    pos = 0
    for i in range(params.n_items):
        if free_slopes:
            a[i] = vec[pos]
            pos += 1
        k = params.n_cat[i] - 1
        d[i, :k] = vec[pos:pos + k]
        pos += k
    if params.model == "Rasch":
        var = float(vec[pos])
    return ItemParams(params.items, params.model, a, d, params.n_cat), var


def _statistic(params, var, mean, codes, type_, n_points, lim, free_slopes) -> tuple[float, int]:
    """M2, df and the model-implied margins for parameters ``params`` with latent N(mean, var)."""
    nodes, w = latent_quadrature(n_points, lim, mean, var)
    G = _design(params.n_cat, type_)
    observed = _observed(codes, params.n_cat, type_)
    pi = _margins(params, G, nodes, w)
    theta = _pack(params, var, free_slopes)
    jac = np.empty((len(pi), len(theta)))
    for j in range(len(theta)):
        h = 1e-5 * max(1.0, abs(theta[j]))
        up, dn = theta.copy(), theta.copy()
        up[j] += h
        dn[j] -= h
        pu, vu = _unpack(params, up, var, free_slopes)
        pd_, vd = _unpack(params, dn, var, free_slopes)
        jac[:, j] = (_margins(pu, G, *latent_quadrature(n_points, lim, mean, vu))
                     - _margins(pd_, G, *latent_quadrature(n_points, lim, mean, vd))) / (2 * h)
    df = len(pi) - len(theta)
    if df < 1:
        raise M2Error(f"the statistic has {len(pi)} margins for {len(theta)} free parameters: too few degrees "
                      "of freedom (use type='C2' for ordinal items, or more items)")
    q, _ = np.linalg.qr(jac, mode="complete")
    comp = q[:, len(theta):]
    xi = _xi(params, G, nodes, w)
    resid = observed - pi
    u = comp.T @ resid
    stat = len(codes) * float(u @ np.linalg.solve(comp.T @ xi @ comp, u))
    return stat, df


def _rmsea_ci(stat: float, df: int, n: int, level: float = 0.90) -> tuple[float, float]:
    """RMSEA interval from the noncentral chi-square (the noncentrality where ``stat`` is at each tail)."""
    lo_p, hi_p = 1 - (1 - level) / 2, (1 - level) / 2

    def ncp_at(prob: float) -> float:
        f = lambda lam: stats.ncx2.cdf(stat, df, lam) - prob if lam > 0 else stats.chi2.cdf(stat, df) - prob
        if f(0.0) < 0:
            return 0.0
        upper = max(10.0, stat)
        while f(upper) > 0:
            upper *= 2
        return optimize.brentq(f, 0.0, upper, xtol=1e-12)

    lam_lo, lam_hi = ncp_at(lo_p), ncp_at(hi_p)
    # mirt divides the noncentrality by df * N here (the point estimate uses N - 1)
    return float(np.sqrt(lam_lo / (df * n))), float(np.sqrt(lam_hi / (df * n)))


def _srmsr(params: ItemParams, var: float, mean: float, codes: np.ndarray, n_points, lim) -> float:
    nodes, w = latent_quadrature(n_points, lim, mean, var)
    P = trace(params, nodes)
    k = np.arange(P.shape[2], dtype=float)
    m1 = P @ k                                                 # E[X_i | theta], (items, nodes)
    m2 = P @ k ** 2
    mu = m1 @ w
    cross = (m1 * w) @ m1.T
    np.fill_diagonal(cross, m2 @ w)
    cov = cross - np.outer(mu, mu)
    sd = np.sqrt(np.diag(cov))
    r_model = cov / np.outer(sd, sd)
    r_obs = np.corrcoef(codes, rowvar=False)
    iu = np.tril_indices(codes.shape[1], -1)
    return float(np.sqrt(np.mean((r_obs - r_model)[iu] ** 2)))


def m2(params, data, *, type: str = "M2*", latent_mean: float | None = None, latent_var: float | None = None,
       n_points: int = 61, lim: tuple[float, float] = (-6.0, 6.0), ci: float = 0.90) -> M2Result:
    """Limited-information goodness of fit of a fitted unidimensional IRT model, as R mirt ``M2(mod, type=)``.

    Parameters
    ----------
    params : IRTResult or ItemParams
        A single-group fit of :func:`psyscreen.irt.fit`, or its item parameters.
    data : pandas.DataFrame or numpy.ndarray
        The responses the model was fitted to (see :func:`psyscreen.irt.itemfit.as_codes`); no missing answers
        (mirt refuses them too).
    type : {"M2*", "C2"}
        Which margins (see the module docstring). For binary items both are Maydeu-Olivares & Joe's M2.
    latent_mean, latent_var : float, optional
        The latent distribution (default: the fit's; N(0, 1) for ItemParams). For Rasch models mirt estimates
        the variance; it counts as a parameter.
    n_points, lim : int, tuple
        Quadrature (mirt: 61 points on [-6, 6]).
    ci : float
        Level of the RMSEA interval.

    Returns
    -------
    M2Result

    Examples
    --------
    >>> rng = np.random.default_rng(3)
    >>> p = ItemParams(tuple("abcde"), "2PL", np.full(5, 1.5), np.linspace(-1, 1, 5)[:, None], np.full(5, 2))
    >>> probs = trace(p, rng.standard_normal(3000))[:, :, 1].T
    >>> fit = m2(p, (rng.random(probs.shape) < probs).astype(float))
    >>> fit.df, bool(fit.p > 0.001), bool(fit.RMSEA < 0.05)
    (5, True, True)
    """
    if type not in ("M2*", "C2"):
        raise M2Error(f"type must be 'M2*' or 'C2', not {type!r} (mirt's plain 'M2' is for binary items, "
                      "where it equals 'M2*')")
    try:
        params, latent_mean, latent_var = unwrap(params, latent_mean, latent_var)
        codes = as_codes(params, data)
    except ItemFitError as exc:
        raise M2Error(str(exc)) from None
    if np.isnan(codes).any():
        raise M2Error("M2 needs complete answers: leave out (or impute) the students with a missing answer, "
                      "as mirt M2() does")
    n = len(codes)
    n_cat = params.n_cat
    stat, df = _statistic(params, latent_var, latent_mean, codes, type, n_points, lim, params.model != "Rasch")
    p = float(stats.chi2.sf(stat, df))
    rmsea = float(np.sqrt(max(stat - df, 0.0) / (df * (n - 1))))
    r_lo, r_hi = _rmsea_ci(stat, df, n, ci)
    # null model: slopes 0, intercepts at the observed cumulative proportions (graded / 2PL, as mirt's)
    d0 = np.full_like(params.d, np.nan)
    for i in range(params.n_items):
        for k in range(1, n_cat[i]):
            share = float((codes[:, i] >= k).mean())
            d0[i, k - 1] = np.log(share / (1 - share))
    null = ItemParams(params.items, "graded" if n_cat.max() > 2 else "2PL", np.zeros(params.n_items), d0, n_cat)
    null_stat, null_df = _statistic(null, 1.0, 0.0, codes, type, n_points, lim, False)
    tli = (null_stat / null_df - stat / df) / (null_stat / null_df - 1)
    cfi = float(np.clip(1 - (stat - df) / (null_stat - null_df), 0.0, 1.0))
    srmsr = _srmsr(params, latent_var, latent_mean, codes, n_points, lim)
    return M2Result(type, stat, int(df), p, rmsea, r_lo, r_hi, srmsr, float(tli), cfi, n)
