"""Sample statistics of ordinal items as lavaan computes them for WLSMV (its "two-step" estimator).

lavaan (0.6.14, ``cfa(..., ordered = items, estimator = "WLSMV")``) fits an ordinal CFA not to the
raw data but to three sample statistics, which this module computes the same way:

1. **thresholds** of each item: univariate ML, i.e. ``qnorm`` of the cumulative proportions of its
   categories (``lavInspect(fit, "sampstat")$th``);
2. **polychoric correlations** of each pair of items by bivariate ML *given* the thresholds of step 1
   (the two-step estimator of Olsson, 1979), with lavaan's conventions: the correlation is kept in
   [-0.999, 0.999]; a 2 x 2 table with one empty cell gets 0.5 added to that cell (and the margins
   kept, lavaan's ``zero.add = c(0.5, 0)``, ``zero.keep.margins = TRUE``), a 2 x 2 table with two empty
   cells gives +-1; larger tables are used as they are;
3. their **asymptotic covariance matrix** ``Gamma`` (lavaan's ``NACOV``, ``lavInspect(fit, "gamma")``,
   scaled by the sample size: ``Var(stats) ~ Gamma / n``) by the estimating-equation argument of
   Muthen (1984): with the case-wise scores ``s_i`` of the univariate likelihoods (thresholds) and of the
   bivariate likelihoods (correlations), ``Gamma = n B^-1 (sum_i s_i s_i') B^-T``, where ``B`` is the
   block-triangular matrix of cross-products of scores (univariate threshold blocks; the correlation
   scores against the bivariate threshold scores; the correlation scores squared). lavaan uses the
   outer products of scores (not the expected second derivatives) for ``B``; so does this module.

The case-wise scores are built from the derivatives of each contingency-table cell, indexed by the cell
each person falls in (no loop over persons); all pairs are fitted together (the Fisher-scoring steps
of every pair at once, on tables zero-padded to the largest number of categories). The bivariate normal
probabilities use Genz's (2004) algorithm (Gauss-Legendre quadrature of Drezner and Wesolowsky's
integral), accurate to ~1e-15.

Why it is owned here: no Python library computes lavaan's WLSMV statistics (or its Gamma); the
polychoric estimator here is lavaan's two-step one, kept small so that it can be unified with
:mod:`psyscreen.validity.polychoric` (psych's ``polychoric()`` conventions) later.

References: Olsson, U. (1979). Maximum likelihood estimation of the polychoric correlation coefficient.
*Psychometrika, 44*, 443-460. Muthen, B. (1984). A general structural equation model with dichotomous,
ordered categorical, and continuous latent variable indicators. *Psychometrika, 49*, 115-132. Genz, A.
(2004). Numerical computation of rectangular bivariate and trivariate normal and t probabilities.
*Statistics and Computing, 14*, 251-260.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import special

from psyscreen.validity.polychoric import bvn_cdf

__all__ = ["OrdinalStats", "bivariate_normal_cdf", "ordinal_stats", "polychoric_pair", "polychoric_pairs"]

_RHO_BOUND = 0.999


def bivariate_normal_cdf(h, k, rho) -> np.ndarray:
    """Lower-orthant probability ``P(X <= h, Y <= k)`` of the standard bivariate normal.

    The one implementation of the package (Genz's 2004 algorithm, as lavaan's ``pbivnorm``):
    :func:`psyscreen.validity.polychoric.bvn_cdf`, clipped to [0, 1].

    Examples
    --------
    >>> round(float(bivariate_normal_cdf(0.0, 0.0, 0.5)), 12)  # 1/4 + asin(0.5) / (2 pi) = 1/3
    0.333333333333
    """
    return np.clip(bvn_cdf(h, k, rho), 0.0, 1.0)


def _npdf(x: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * x * x) / np.sqrt(2 * np.pi)


def polychoric_pair(table: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """Two-step ML polychoric correlation of one contingency table, given the thresholds.

    lavaan's conventions (``lav_bvord_cor_twostep_fit``, ``zero.add = c(0.5, 0)``,
    ``zero.keep.margins = TRUE``): the estimate is kept in [-0.999, 0.999]; a 2 x 2 table with one
    empty cell has 0.5 moved into that cell and its diagonal partner (margins kept); with two empty
    cells the correlation is +-1. The log-likelihood ``sum n_kl log P_kl(rho)`` is maximised by
    Fisher scoring with step halving (:func:`polychoric_pairs` does many tables at once).

    Examples
    --------
    >>> import numpy as np
    >>> t = np.array([[40., 10.], [10., 40.]])
    >>> round(polychoric_pair(t, np.array([0.0]), np.array([0.0])), 6)  # -cos(2 pi 0.4)
    0.809017
    """
    table = np.asarray(table, dtype=float)
    return float(polychoric_pairs(table[None], [np.asarray(a, float)], [np.asarray(b, float)])[0])


def _bounds(th: list[np.ndarray], k: int) -> np.ndarray:
    """Category bounds [-inf, thresholds, +inf, +inf ...] padded with +inf to k + 1 columns."""
    out = np.full((len(th), k + 1), np.inf)
    out[:, 0] = -np.inf
    for r, t in enumerate(th):
        out[r, 1:1 + t.size] = t
    return out


def _cells_many(A: np.ndarray, B: np.ndarray, rho: np.ndarray, deriv: bool):
    """Cell probabilities (and d/drho) of many padded bivariate probit tables: (T, K1, K2)."""
    F = bivariate_normal_cdf(A[:, :, None], B[:, None, :], rho[:, None, None])
    P = F[:, 1:, 1:] - F[:, :-1, 1:] - F[:, 1:, :-1] + F[:, :-1, :-1]
    if not deriv:
        return P
    fin = np.isfinite(A)[:, :, None] & np.isfinite(B)[:, None, :]
    Af, Bf = np.where(np.isfinite(A), A, 0.0), np.where(np.isfinite(B), B, 0.0)
    q = (1 - rho * rho)[:, None, None]
    h, k = Af[:, :, None], Bf[:, None, :]
    dens = np.where(fin, np.exp(-(h * h - 2 * rho[:, None, None] * h * k + k * k) / (2 * q))
                    / (2 * np.pi * np.sqrt(q)), 0.0)
    dP = dens[:, 1:, 1:] - dens[:, :-1, 1:] - dens[:, 1:, :-1] + dens[:, :-1, :-1]
    return P, dP


def polychoric_pairs(tables: np.ndarray, a: list[np.ndarray], b: list[np.ndarray]) -> np.ndarray:
    """Two-step polychoric correlations of many tables at once (all Fisher-scoring steps together).

    ``tables``: (T, K1, K2) counts, each table zero-padded to the largest size; ``a[t]``, ``b[t]``: the
    thresholds of table t's row and column item. Conventions as :func:`polychoric_pair`.
    """
    tables = np.array(tables, dtype=float)
    T = tables.shape[0]
    rho = np.zeros(T)
    todo = np.ones(T, dtype=bool)
    for t in range(T):  # lavaan's 2 x 2 conventions (few tables: tetrachoric pairs with empty cells)
        if a[t].size == 1 and b[t].size == 1:
            tab = tables[t, :2, :2]
            zeros = np.flatnonzero(tab.ravel() == 0)
            if zeros.size == 2:
                warnings.warn("two empty cells in a 2 x 2 table: the tetrachoric correlation is set to +-1",
                              RuntimeWarning, stacklevel=3)
                rho[t], todo[t] = (1.0 if tab[0, 0] > 0 else -1.0), False
                continue
            if zeros.size == 1:
                add = 0.5 if zeros[0] in (0, 3) else -0.5
                tables[t, :2, :2] = tab + add * np.array([[1.0, -1.0], [-1.0, 1.0]])
                tab = tables[t, :2, :2]
            if tab[0, 0] * tab[1, 1] == tab[0, 1] * tab[1, 0]:
                rho[t], todo[t] = 0.0, False
    A = _bounds(a, tables.shape[1])
    B = _bounds(b, tables.shape[2])
    n = tables.sum(axis=(1, 2))
    pos = tables > 0

    def loglik(idx: np.ndarray, r: np.ndarray) -> np.ndarray:
        P = _cells_many(A[idx], B[idx], r, deriv=False)
        return np.sum(np.where(pos[idx], tables[idx] * np.log(np.clip(P, 1e-300, None)), 0.0), axis=(1, 2))

    idx = np.flatnonzero(todo)
    ll = np.zeros(T)
    if idx.size:
        ll[idx] = loglik(idx, rho[idx])
    for _ in range(200):
        if not idx.size:
            break
        P, dP = _cells_many(A[idx], B[idx], rho[idx], deriv=True)
        Pc = np.clip(P, 1e-300, None)
        score = np.sum(tables[idx] * dP / Pc, axis=(1, 2))
        info = n[idx] * np.sum(dP * dP / Pc, axis=(1, 2))
        step = np.where(info > 0, score / np.where(info > 0, info, 1.0), 0.0)
        old = rho[idx]
        new = np.clip(old + step, -_RHO_BOUND, _RHO_BOUND)
        ll_new = loglik(idx, new)
        for _h in range(40):  # step halving where the likelihood fell
            bad = ll_new < ll[idx] - 1e-12 * np.abs(ll[idx])
            if not bad.any():
                break
            new[bad] = (old[bad] + new[bad]) / 2
            ll_new[bad] = loglik(idx[bad], new[bad])
        done = np.abs(new - old) < 1e-11
        rho[idx], ll[idx] = new, ll_new
        idx = idx[~done]
    return rho


# --------------------------------------------------------------------------------------------
# all items: thresholds, correlations, Gamma
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OrdinalStats:
    """lavaan's WLS sample statistics of one group of ordinal items.

    Attributes
    ----------
    th : numpy.ndarray
        Thresholds, item by item (item 1 t1, t2, ..., item 2 t1, ...), lavaan's order.
    th_item : numpy.ndarray
        The item (column index) of each threshold.
    cor : numpy.ndarray
        (p, p) polychoric correlation matrix.
    gamma : numpy.ndarray
        Asymptotic covariance (times n) of ``[th, cor[pairs]]`` (lavaan's NACOV), pairs in lavaan's
        order ``(0,1), (0,2), ..., (0,p-1), (1,2), ...``.
    n : int
        Rows.
    n_cat : tuple of int
        Categories per item.
    """

    th: np.ndarray
    th_item: np.ndarray
    cor: np.ndarray
    gamma: np.ndarray
    n: int
    n_cat: tuple[int, ...]

    @property
    def pairs(self) -> tuple[np.ndarray, np.ndarray]:
        p = self.cor.shape[0]
        return _pairs(p)

    @property
    def wls_obs(self) -> np.ndarray:
        i, j = self.pairs
        return np.concatenate([self.th, self.cor[i, j]])


def _pairs(p: int) -> tuple[np.ndarray, np.ndarray]:
    i, j = np.triu_indices(p, 1)
    return i, j  # row-wise upper triangle = lavaan's column-wise lower triangle


def ordinal_stats(codes: np.ndarray, n_cat: np.ndarray | None = None) -> OrdinalStats:
    """Thresholds, two-step polychoric correlations and their NACOV for integer category codes.

    Parameters
    ----------
    codes : numpy.ndarray
        (n, p) integer codes 0 .. K_j - 1 (complete rows); every category of every item observed.
    n_cat : array of int, optional
        Categories per item (default: ``codes.max(0) + 1``).

    Returns
    -------
    OrdinalStats

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> z = rng.multivariate_normal([0, 0, 0], [[1, .5, .4], [.5, 1, .3], [.4, .3, 1]], size=2000)
    >>> codes = np.digitize(z, [-0.5, 0.4, 1.2])
    >>> st = ordinal_stats(codes)
    >>> st.gamma.shape  # 3 items x 3 thresholds + 3 correlations
    (12, 12)
    >>> bool(abs(st.cor[0, 1] - 0.5) < 0.05)
    True
    """
    codes = np.asarray(codes)
    n, p = codes.shape
    K = (codes.max(0) + 1) if n_cat is None else np.asarray(n_cat)
    # step 1: thresholds and univariate scores
    th_list, sc_th_cols, th_item = [], [], []
    start = np.zeros(p + 1, dtype=int)
    for j in range(p):
        counts = np.bincount(codes[:, j], minlength=K[j]).astype(float)
        cum = np.cumsum(counts)[:-1] / n
        a = special.ndtri(cum)
        th_list.append(a)
        th_item += [j] * a.size
        start[j + 1] = start[j] + a.size
        # d log P_k / d a_m = phi(a_m) (delta_km - delta_k,m+1) / P_k
        Pk = counts / n
        D = np.zeros((K[j], K[j] - 1))
        m = np.arange(K[j] - 1)
        D[m, m] = _npdf(a) / Pk[m]
        D[m + 1, m] = -_npdf(a) / Pk[m + 1]
        sc_th_cols.append(D[codes[:, j]])
    th = np.concatenate(th_list)
    SC_TH = np.hstack(sc_th_cols)
    nth = th.size

    # step 2: correlations and bivariate scores, all pairs at once on tables padded to the largest size
    pi, pj = _pairs(p)
    pstar = pi.size
    kmax = int(np.max(K))
    # (n, pairs): the cell of each person in each padded table
    cell = (codes[:, pi] * kmax + codes[:, pj]).astype(np.int32)
    tables = np.bincount((cell + np.arange(pstar) * kmax * kmax).ravel(),
                         minlength=pstar * kmax * kmax).reshape(pstar, kmax, kmax).astype(float)
    rho = polychoric_pairs(tables, [th_list[i] for i in pi], [th_list[j] for j in pj])
    R = np.eye(p)
    R[pi, pj] = R[pj, pi] = rho
    A, B = _bounds([th_list[i] for i in pi], kmax), _bounds([th_list[j] for j in pj], kmax)
    with np.errstate(divide="ignore", invalid="ignore"):
        P, dP = _cells_many(A, B, rho, deriv=True)
        Pc = np.where(P > 0, P, 1.0)
        s_rho = (dP / Pc).reshape(pstar, -1)
        SC_COR = np.take_along_axis(s_rho, cell.T, axis=1).T
        # A21: correlation scores against the bivariate threshold scores, from the tables
        w = tables * (dP / Pc) / Pc
        sd = np.sqrt(1 - rho * rho)[:, None, None]
        r3 = rho[:, None, None]
        fa, fb = np.isfinite(A[:, 1:-1]), np.isfinite(B[:, 1:-1])  # real thresholds (not padding)
        ta, tb = np.where(fa, A[:, 1:-1], 0.0), np.where(fb, B[:, 1:-1], 0.0)
        # d F(a_m, B_l) / d a_m = phi(a_m) Phi((B_l - rho a_m) / s), differenced over l
        Ga = special.ndtr((B[:, None, :] - r3 * ta[:, :, None]) / sd) * _npdf(ta)[:, :, None]
        Da = Ga[:, :, 1:] - Ga[:, :, :-1]  # (pairs, kmax - 1, kmax)
        da = np.where(fa, np.sum((w[:, :-1, :] - w[:, 1:, :]) * Da, axis=2), 0.0)
        Gb = special.ndtr((A[:, :, None] - r3 * tb[:, None, :]) / sd) * _npdf(tb)[:, None, :]
        Db = Gb[:, 1:, :] - Gb[:, :-1, :]  # (pairs, kmax, kmax - 1)
        db = np.where(fb, np.sum((w[:, :, :-1] - w[:, :, 1:]) * Db, axis=1), 0.0)
    A21 = np.zeros((pstar, nth))
    rows = np.arange(pstar)
    for m in range(kmax - 1):  # threshold m of the row item and of the column item of every pair
        ok = fa[:, m]
        A21[rows[ok], start[pi[ok]] + m] = da[ok, m]
        ok = fb[:, m]
        A21[rows[ok], start[pj[ok]] + m] = db[ok, m]
    SC = np.hstack([SC_TH, SC_COR])
    INNER = SC.T @ SC
    A11 = np.zeros((nth, nth))
    for j in range(p):
        sl = slice(start[j], start[j + 1])
        A11[sl, sl] = INNER[sl, sl]
    A11_inv = np.zeros_like(A11)
    for j in range(p):
        sl = slice(start[j], start[j + 1])
        A11_inv[sl, sl] = np.linalg.inv(A11[sl, sl])
    a22 = np.diag(INNER)[nth:]
    A22_inv = 1.0 / a22
    Binv = np.zeros((nth + pstar, nth + pstar))
    Binv[:nth, :nth] = A11_inv
    Binv[nth:, :nth] = -(A22_inv[:, None] * A21) @ A11_inv
    Binv[nth:, nth:] = np.diag(A22_inv)
    gamma = n * (Binv @ INNER @ Binv.T)
    return OrdinalStats(th=th, th_item=np.asarray(th_item), cor=R, gamma=(gamma + gamma.T) / 2, n=int(n),
                        n_cat=tuple(int(v) for v in K))
