"""Polychoric and tetrachoric correlations of ordered items, matching R's psych (and lavaan on request).

A polychoric correlation is the correlation of two standard normal variables that, cut at thresholds, give the
observed two-way table of two ordinal items (Olsson, 1979, two-step estimator: the thresholds come from the
marginal proportions, then rho maximises the likelihood of the table). No Python library computes it the way the
R packages that reviewers use do, with their rules for missing answers, empty cells and non-positive-definite
matrices, so the algorithm is our own and follows:

* ``psych::polychoric(x)`` (psych 2.2.9, its defaults ``global = TRUE, correct = 0.5, smooth = TRUE,
  max.cat = 8``), ``convention="psych"`` (the default);
* ``psych::tetrachoric(x)`` (defaults ``correct = 0.5, smooth = TRUE``) for 0/1 items (:func:`tetrachoric`);
* ``lavaan::lavCor(x, ordered = names(x))`` (lavaan 0.6-14, ``missing = "listwise"``, no smoothing),
  ``convention="lavaan"``.

How each is computed (and so how we compute it)
-----------------------------------------------
* **Answers.** Items are integer codes. psych shifts every item by the smallest code of *all* items, so that
  the categories are the values ``min .. max`` of the whole set (at most ``max_categories`` = 8 of them, psych's
  ``max.cat``).
* **Missing answers.** psych uses every available answer: the thresholds of an item come from all its answers,
  the table of a pair from the rows that answered both (pairwise). lavCor's default is listwise: only rows with
  every item answered are used, for thresholds and tables alike (``missing="pairwise"`` gives lavaan's pairwise).
* **Thresholds.** ``tau_k = qnorm(P(answer <= k))`` from the item's marginal proportions; ``+inf`` / ``-inf``
  where an item never uses the highest / lowest categories of the set, two equal thresholds where it skips a
  middle one (lavaan has no threshold for a category nobody used; the correlations are the same).
* **Global or per-pair thresholds (psych's** ``global`` **).** With ``global_thresholds=True`` each pair uses the
  item thresholds above. psych switches this off by itself (with a warning) when the items do not all have the
  same highest category, and so do we when ``global_thresholds=None`` (the default). Per pair, psych then drops
  the empty rows and columns of the table, applies the continuity correction (below) and takes the thresholds
  from the corrected table's margins.
* **The continuity correction** ``correct`` **(0.5).** psych applies it *only* to per-pair thresholds (not
  in its default global mode, whatever ``correct`` is): every empty cell of the (proportion) table becomes
  ``correct / N`` with ``N`` the pair's number of rows, i.e. an empty cell counts as half an observation, and
  the margins are taken from that table; psych warns how many pairs were corrected. ``psych::tetrachoric``
  replaces every empty cell of a 2 x 2 table by ``correct`` (a count) before fitting, with the global
  thresholds. lavaan (``zero.add = c(0.5, 0)``, ``zero.keep.margins = TRUE``) touches only a 2 x 2 table with
  exactly one empty cell: it adds ``correct`` to that cell and its opposite and takes it from the other two
  (the margins stay), and sets rho to +1 / -1 when two cells are empty.
* **rho.** The maximum of the table's multinomial log likelihood ``sum n_ij log P_ij(rho)`` (cells with
  ``P_ij = 0`` left out, as psych does). psych searches it with R's ``optimize`` on (-1, 1) at its default
  tolerance (~1.2e-4), which stops typically 2e-5 (at most ~1e-4) short of the maximum; we run the same search
  (Brent's golden-section / parabolic minimiser, vectorised over all pairs), so that rho equals psych's to
  ~1e-10. ``exact=True`` (and the lavaan convention) gives the exact maximum instead: the root of the
  likelihood's derivative (a cell probability's derivative is a sum of bivariate normal densities at its
  corners), bracketed by a few bisections and then found by false position (Illinois), all pairs together, to
  ~1e-13; lavaan's ``nlminb`` gets within ~1e-8 of it and bounds rho to [-0.999, 0.999].
* **Empty cells left as they are.** A pair whose used categories form a 2 x 2 table with an empty cell has no
  maximum inside (-1, 1): the likelihood keeps rising towards +-1 and psych returns wherever its search stops.
  psych says nothing; we warn that such a correlation is not identified (psych's default global mode on 0/1
  items, or ``correct=0``).
* **Bivariate normal probabilities** are Genz's (2004) method (Drezner-Wesolowsky with Gauss-Legendre
  quadrature, 20 points), vectorised in numpy over all cells of all pairs: accurate to ~1e-15 (checked against
  ``scipy.stats.multivariate_normal.cdf``, which takes one call per point, and against quadrature).
* **Smoothing.** A matrix that is not positive definite (smallest eigenvalue below machine epsilon) is smoothed
  as ``psych::cor.smooth`` does: eigenvalues below 1e-12 are set to 1e-10, all are rescaled to sum to the number
  of items, and the rebuilt matrix is rescaled to a correlation matrix. psych warns "Matrix was not positive
  definite, smoothing was done"; so do we (``warnings.warn`` and the result's ``warnings``). lavCor does not
  smooth.

The building blocks that a WLSMV fit reuses are :func:`thresholds_from_counts`, :func:`bivariate_tables` and
:func:`_pair_rho` (one pair) / :func:`_pairs_rho` (many pairs at once), with :func:`bvn_cdf` underneath.
"""

from __future__ import annotations

import warnings as _warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy import special

from psyscreen._results import ResultMixin

__all__ = [
    "polychoric",
    "tetrachoric",
    "cor_smooth",
    "PolychoricResult",
    "PolychoricError",
    "bvn_cdf",
    "thresholds_from_counts",
    "bivariate_tables",
]

Convention = Literal["psych", "lavaan"]
Missing = Literal["pairwise", "listwise"]

_RHO_BOUND = {"psych": 1.0 - 1e-7, "lavaan": 0.999}
_BISECTIONS = 8  # bisections before false position
_FALSE_POSITION = 80  # at most; the loop stops when every pair has converged (typically after 5-10)


class PolychoricError(ValueError):
    """Raised when items cannot be given polychoric (or tetrachoric) correlations, and why."""


# --------------------------------------------------------------------------------------------------
# the bivariate normal distribution, vectorised (Genz 2004)
# --------------------------------------------------------------------------------------------------

_GL_X, _GL_W = np.polynomial.legendre.leggauss(20)


def _bvn_upper(h: np.ndarray, k: np.ndarray, r: np.ndarray) -> np.ndarray:
    """P(X > h, Y > k) for finite h, k and |r| <= 1 (Genz's BVNU, 20-point Gauss-Legendre throughout)."""
    out = np.empty(h.shape)
    hk = h * k
    near = np.abs(r) >= 0.925
    far = ~near
    if far.any():
        hf, kf, rf, hkf = h[far], k[far], r[far], hk[far]
        hs = (hf * hf + kf * kf) / 2.0
        asr = np.arcsin(rf)
        sn = np.sin(asr[:, None] * (_GL_X + 1.0) / 2.0)
        terms = np.exp((sn * hkf[:, None] - hs[:, None]) / (1.0 - sn * sn)) @ _GL_W
        out[far] = terms * asr / (4.0 * np.pi) + special.ndtr(-hf) * special.ndtr(-kf)
    if near.any():
        hn, kn, rn, hkn = h[near], k[near].copy(), r[near], hk[near].copy()
        neg = rn < 0
        kn[neg] = -kn[neg]
        hkn[neg] = -hkn[neg]
        bvn = np.zeros(hn.shape)
        inner = np.abs(rn) < 1.0
        if inner.any():
            hi, ki, ri, hki = hn[inner], kn[inner], rn[inner], hkn[inner]
            as_ = (1.0 - ri) * (1.0 + ri)
            a = np.sqrt(as_)
            bs = (hi - ki) ** 2
            c = (4.0 - hki) / 8.0
            d = (12.0 - hki) / 16.0
            val = a * np.exp(-(bs / as_ + hki) / 2.0) * (1.0 - c * (bs - as_) * (1.0 - d * bs / 5.0) / 3.0
                                                         + c * d * as_ * as_ / 5.0)
            b = np.sqrt(bs)
            tail = np.exp(-hki / 2.0) * np.sqrt(2.0 * np.pi) * special.ndtr(-b / a) * b * (
                1.0 - c * bs * (1.0 - d * bs / 5.0) / 3.0)
            val = val - np.where(hki > -160.0, tail, 0.0)
            a2 = a / 2.0
            xs = (a2[:, None] * (_GL_X + 1.0)) ** 2
            rs = np.sqrt(1.0 - xs)
            ex = -(bs[:, None] / xs + hki[:, None]) / 2.0
            with np.errstate(over="ignore", invalid="ignore"):
                g = np.exp(ex) * (np.exp(-hki[:, None] * (1.0 - rs) / (2.0 * (1.0 + rs))) / rs
                                  - (1.0 + c[:, None] * xs * (1.0 + d[:, None] * xs)))
            g = np.where(ex > -100.0, g, 0.0)
            val = val + a2 * (g @ _GL_W)
            bvn[inner] = -val / (2.0 * np.pi)
        pos = ~neg
        bvn[pos] += special.ndtr(-np.maximum(hn[pos], kn[pos]))
        bvn[neg] = -bvn[neg]
        add = neg & (kn > hn)
        bvn[add] += np.where(hn[add] < 0, special.ndtr(kn[add]) - special.ndtr(hn[add]),
                             special.ndtr(-hn[add]) - special.ndtr(-kn[add]))
        out[near] = bvn
    return out


def bvn_cdf(h, k, r) -> np.ndarray:
    """Bivariate standard normal distribution function P(X <= h, Y <= k) with correlation ``r``.

    Vectorised over broadcast arrays; ``h`` and ``k`` may be infinite. Genz's (2004) method, accurate to
    about 1e-15.

    Examples
    --------
    >>> float(bvn_cdf(0.0, 0.0, 0.5))  # 1/4 + asin(0.5) / (2 pi) = 1/3
    0.3333333333333333
    >>> bvn_cdf([-np.inf, np.inf], [0.0, 0.0], 0.3).tolist()
    [0.0, 0.5]
    """
    h, k, r = np.broadcast_arrays(np.asarray(h, float), np.asarray(k, float), np.asarray(r, float))
    out = np.zeros(h.shape)
    fin = np.isfinite(h) & np.isfinite(k)
    if fin.any():
        out[fin] = _bvn_upper(-h[fin], -k[fin], r[fin])
    hi_h = np.isposinf(h) & ~np.isneginf(k)
    out[hi_h] = special.ndtr(k[hi_h])
    hi_k = np.isposinf(k) & np.isfinite(h)
    out[hi_k] = special.ndtr(h[hi_k])
    return out


def _bvn_pdf(h: np.ndarray, k: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Bivariate standard normal density, 0 where h or k is infinite."""
    fin = np.isfinite(h) & np.isfinite(k)
    hh, kk = np.where(fin, h, 0.0), np.where(fin, k, 0.0)
    one = 1.0 - r * r
    q = (hh * hh - 2.0 * r * hh * kk + kk * kk) / (2.0 * one)
    return np.where(fin, np.exp(-q) / (2.0 * np.pi * np.sqrt(one)), 0.0)


# --------------------------------------------------------------------------------------------------
# building blocks: thresholds, tables, rho of one pair or of many
# --------------------------------------------------------------------------------------------------


def thresholds_from_counts(counts) -> np.ndarray:
    """Thresholds ``qnorm(cumulative proportion)`` from category counts (last axis = categories).

    Returns one threshold fewer than categories: ``-inf`` below the first used category, ``+inf`` above the
    last, equal values around an unused middle category.

    Examples
    --------
    >>> thresholds_from_counts([10, 20, 10]).round(4).tolist()
    [-0.6745, 0.6745]
    >>> thresholds_from_counts([0, 5, 5, 0]).tolist()
    [-inf, 0.0, inf]
    """
    counts = np.asarray(counts, dtype=float)
    cum = np.cumsum(counts, axis=-1)
    total = cum[..., -1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        prop = cum[..., :-1] / total
    # exactly 0 and 1 where no (or every) answer lies below: +-inf, not a large finite number
    prop = np.where(cum[..., :-1] == 0, 0.0, np.where(cum[..., :-1] == total, 1.0, prop))
    return special.ndtri(prop)


def bivariate_tables(codes: np.ndarray, n_categories: int) -> np.ndarray:
    """All two-way tables of a (rows x items) array of category codes ``0 .. n_categories - 1`` (NaN = missing).

    Returns an (items x items x categories x categories) array of counts over the rows that answered both
    items (pairwise), built with one matrix product of the one-hot codes (no loop over rows or pairs). The
    diagonal blocks hold each item's category counts on their diagonal.

    Examples
    --------
    >>> t = bivariate_tables(np.array([[0, 1], [1, 1], [np.nan, 0]]), 2)
    >>> t[0, 1].tolist()
    [[0.0, 1.0], [0.0, 1.0]]
    """
    codes = np.asarray(codes, dtype=float)
    n, p = codes.shape
    k = int(n_categories)
    onehot = np.zeros((n, p * k))
    rows, cols = np.nonzero(~np.isnan(codes))
    onehot[rows, cols * k + codes[rows, cols].astype(np.int64)] = 1.0
    return (onehot.T @ onehot).reshape(p, k, p, k).transpose(0, 2, 1, 3)


def _cuts(tau: np.ndarray) -> np.ndarray:
    """Thresholds (..., K - 1) with -inf and +inf added at the ends: (..., K + 1)."""
    tau = np.asarray(tau, dtype=float)
    pad = np.broadcast_to(np.inf, tau.shape[:-1] + (1,))
    return np.concatenate([-pad, tau, pad], axis=-1)


def _cell_grid(fun, a: np.ndarray, b: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """Rectangle sums over the cells of a grid function: (m, R+1) x (m, C+1) cuts -> (m, R, C)."""
    g = fun(a[:, :, None], b[:, None, :], rho[:, None, None])
    return g[:, 1:, 1:] - g[:, :-1, 1:] - g[:, 1:, :-1] + g[:, :-1, :-1]


def _score(tables: np.ndarray, a: np.ndarray, b: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """Derivative in rho of sum n log P over the cells with P > 0 (d Phi2 / d rho = phi2)."""
    prob = _cell_grid(bvn_cdf, a, b, rho)
    dens = _cell_grid(_bvn_pdf, a, b, rho)
    ok = prob > 0
    return np.sum(np.where(ok, tables * dens / np.where(ok, prob, 1.0), 0.0), axis=(1, 2))


def _neg_loglik(tables: np.ndarray, a: np.ndarray, b: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """-sum n log P over the cells with P > 0 (psych's polyF / tetraF)."""
    prob = _cell_grid(bvn_cdf, a, b, rho)
    ok = prob > 0
    return -np.sum(np.where(ok, tables * np.log(np.where(ok, prob, 1.0)), 0.0), axis=(1, 2))


_GOLD = (3.0 - np.sqrt(5.0)) / 2.0
R_OPTIMIZE_TOL = np.finfo(float).eps ** 0.25  # R's optimize(tol = .Machine$double.eps^0.25)


def _brent_min(fun, lo: float, hi: float, tol: float, m: int, maxiter: int = 200) -> np.ndarray:
    """Brent's (1973) golden-section / parabolic minimiser, vectorised over ``m`` problems.

    The algorithm of R's ``optimize`` (Forsythe, Malcolm and Moler's ``fmin``) with its stopping rule
    ``|x - mid| <= 2 tol1 - (b - a) / 2``, ``tol1 = sqrt(eps) |x| + tol / 3``: run with R's tolerance it
    reproduces the point where psych stops. ``fun(x, idx)`` evaluates the problems ``idx`` at ``x``.
    """
    sqeps = np.sqrt(np.finfo(float).eps)
    a, b = np.full(m, float(lo)), np.full(m, float(hi))
    x = a + _GOLD * (b - a)
    v, w = x.copy(), x.copy()
    d, e = np.zeros(m), np.zeros(m)
    fx = fun(x, np.arange(m))
    fv, fw = fx.copy(), fx.copy()
    active = np.ones(m, dtype=bool)
    for _ in range(maxiter):
        xm = (a + b) / 2.0
        tol1 = sqeps * np.abs(x) + tol / 3.0
        t2 = 2.0 * tol1
        active &= ~(np.abs(x - xm) <= t2 - (b - a) / 2.0)
        if not active.any():
            break
        idx = np.flatnonzero(active)
        xi, wi, vi, ai, bi, ei, di = x[idx], w[idx], v[idx], a[idx], b[idx], e[idx], d[idx]
        fxi, fwi, fvi, tol1i, t2i, xmi = fx[idx], fw[idx], fv[idx], tol1[idx], t2[idx], xm[idx]
        # a parabola through x, w, v where the last steps were long enough
        fit = np.abs(ei) > tol1i
        r = np.where(fit, (xi - wi) * (fxi - fvi), 0.0)
        q = np.where(fit, (xi - vi) * (fxi - fwi), 0.0)
        p = np.where(fit, (xi - vi) * q - (xi - wi) * r, 0.0)
        q = np.where(fit, 2.0 * (q - r), 0.0)
        p = np.where(q > 0, -p, p)
        q = np.abs(q)
        r = np.where(fit, ei, 0.0)
        ei = np.where(fit, di, ei)
        golden = (np.abs(p) >= np.abs(q * 0.5 * r)) | (p <= q * (ai - xi)) | (p >= q * (bi - xi))
        e_gold = np.where(xi < xmi, bi - xi, ai - xi)
        with np.errstate(divide="ignore", invalid="ignore"):
            d_par = np.where(golden, 0.0, p / np.where(q == 0, 1.0, q))
        u_par = xi + d_par
        near_end = ((u_par - ai) < t2i) | ((bi - u_par) < t2i)
        d_par = np.where(near_end, np.where(xi >= xmi, -tol1i, tol1i), d_par)
        ei = np.where(golden, e_gold, ei)
        di = np.where(golden, _GOLD * e_gold, d_par)
        u = np.where(np.abs(di) >= tol1i, xi + di, np.where(di > 0, xi + tol1i, xi - tol1i))
        fu = fun(u, idx)
        better = fu <= fxi
        # bracket, then the three best points
        ai = np.where(better, np.where(u < xi, ai, xi), np.where(u < xi, u, ai))
        bi = np.where(better, np.where(u < xi, xi, bi), np.where(u < xi, bi, u))
        to_w = ~better & ((fu <= fwi) | (wi == xi))
        to_v = ~better & ~to_w & ((fu <= fvi) | (vi == xi) | (vi == wi))
        vn = np.where(better | to_w, wi, np.where(to_v, u, vi))
        fvn = np.where(better | to_w, fwi, np.where(to_v, fu, fvi))
        wn = np.where(better, xi, np.where(to_w, u, wi))
        fwn = np.where(better, fxi, np.where(to_w, fu, fwi))
        x[idx], fx[idx] = np.where(better, u, xi), np.where(better, fu, fxi)
        v[idx], fv[idx], w[idx], fw[idx] = vn, fvn, wn, fwn
        a[idx], b[idx], e[idx], d[idx] = ai, bi, ei, di
    return x


def _pairs_rho(tables, tau_rows, tau_cols, bound: float = _RHO_BOUND["psych"], tol: float | None = None) -> np.ndarray:
    """Maximum-likelihood rho of many tables at once, given their thresholds.

    ``tables`` is (m, R, C) counts or proportions, ``tau_rows`` (m, R - 1) and ``tau_cols`` (m, C - 1).
    ``tol=None``: the exact maximum in ``[-bound, bound]``, by bisection on the score (all pairs together, to
    ~1e-16). ``tol > 0``: R's ``optimize`` on (-1, 1) with that tolerance (psych's search, see
    :func:`_brent_min`).
    """
    tables = np.asarray(tables, dtype=float)
    a, b = _cuts(tau_rows), _cuts(tau_cols)
    m = tables.shape[0]
    if tol is not None:
        return _brent_min(lambda r, i: _neg_loglik(tables[i], a[i], b[i], r), -1.0, 1.0, tol, m)
    # A few bisections first, without testing the score at the bounds themselves (there, cells of probability
    # 0 are left out and can make it look positive): they start at 0 and move towards a bound only while the
    # score points there. Then the Illinois variant of false position on the bracket, which converges
    # superlinearly; a pair whose bracket still touches a bound goes on by bisection.
    lo, hi = np.full(m, -bound), np.full(m, bound)
    for _ in range(_BISECTIONS):
        mid = (lo + hi) / 2.0
        up = _score(tables, a, b, mid) > 0
        lo, hi = np.where(up, mid, lo), np.where(up, hi, mid)
    f_lo, f_hi = _score(tables, a, b, lo), _score(tables, a, b, hi)
    bracket = (f_lo > 0) & (f_hi < 0)
    side = np.zeros(m)
    c_last = np.full(m, np.nan)
    for _ in range(_FALSE_POSITION):
        if np.all(hi - lo <= 4 * np.finfo(float).eps):
            break
        with np.errstate(divide="ignore", invalid="ignore"):
            c = np.where(bracket, (lo * f_hi - hi * f_lo) / (f_hi - f_lo), (lo + hi) / 2.0)
        c = np.where(np.isfinite(c) & (c >= lo) & (c <= hi), c, (lo + hi) / 2.0)
        if np.all(np.abs(c - c_last) <= 1e-13):
            break
        c_last = c
        f_c = _score(tables, a, b, c)
        up = f_c > 0
        exact = f_c == 0
        f_hi = np.where(up & (side > 0), f_hi / 2.0, f_hi)
        f_lo = np.where(~up & (side < 0), f_lo / 2.0, f_lo)
        lo, f_lo = np.where(up | exact, c, lo), np.where(up, f_c, f_lo)
        hi, f_hi = np.where(~up | exact, c, hi), np.where(~up, f_c, f_hi)
        side = np.where(up, 1.0, -1.0)
    return np.where(np.isnan(c_last), (lo + hi) / 2.0, c_last)


def _pair_rho(
    table, tau_row, tau_col, correct: float = 0.0, *, bound: float = _RHO_BOUND["psych"], tol: float | None = None
) -> float:
    """Polychoric correlation of one two-way table given the row and column thresholds.

    ``table`` is an R x C array of counts, ``tau_row`` the R - 1 thresholds of the row item and ``tau_col``
    the C - 1 of the column item (:func:`thresholds_from_counts`). With ``correct > 0`` each empty cell counts
    as ``correct`` observations (psych::tetrachoric's correction; psych::polychoric's per-pair mode also
    recomputes the thresholds from the corrected table, see :func:`_local_thresholds`). ``tol=None`` gives the
    exact maximum within ``[-bound, bound]``; ``tol=R_OPTIMIZE_TOL`` stops where psych's R ``optimize`` stops.

    Examples
    --------
    >>> t = np.array([[40, 10], [10, 40]])
    >>> tau = thresholds_from_counts(t.sum(axis=1))
    >>> round(_pair_rho(t, tau, tau), 6)  # sin(2 pi (0.4 - 1/4)) = sin(0.3 pi)
    0.809017
    """
    table = np.asarray(table, dtype=float)
    if correct > 0:
        table = np.where(table == 0, correct, table)
    tau_row, tau_col = np.atleast_1d(tau_row)[None], np.atleast_1d(tau_col)[None]
    return float(_pairs_rho(table[None], tau_row, tau_col, bound, tol)[0])


def _local_thresholds(tables: np.ndarray, correct: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """psych's per-pair (``global = FALSE``) tables and thresholds: (tables, tau_rows, tau_cols, corrected).

    The tables become proportions; the empty rows and columns are left out (their thresholds repeat the one
    before, so they have no probability); every other empty cell becomes ``correct / N``; the thresholds are
    ``qnorm`` of the cumulative margins of that corrected table.
    """
    tot = tables.sum(axis=(1, 2))
    prop = tables / tot[:, None, None]
    rows_on = tables.sum(axis=2) > 0
    cols_on = tables.sum(axis=1) > 0
    active = rows_on[:, :, None] & cols_on[:, None, :]
    empty = active & (tables == 0)
    corrected = empty.any(axis=(1, 2)) & (correct > 0)
    if correct > 0:
        prop = np.where(empty, correct / tot[:, None, None], prop)

    def cuts(margin: np.ndarray, on: np.ndarray) -> np.ndarray:
        cum = np.cumsum(margin, axis=1)[:, :-1]
        below = np.cumsum(on, axis=1)[:, :-1] > 0  # a used category at or below the cut
        above = np.cumsum(on[:, ::-1], axis=1)[:, ::-1][:, 1:] > 0  # a used category above the cut
        with np.errstate(invalid="ignore"):
            tau = special.ndtri(np.where(below & above, cum, 0.5))
        return np.where(~below, -np.inf, np.where(~above, np.inf, tau))

    return prop, cuts(prop.sum(axis=2), rows_on), cuts(prop.sum(axis=1), cols_on), corrected


def _at_boundary(tables: np.ndarray) -> np.ndarray:
    """Pairs whose used categories form a 2 x 2 table with an empty cell: the likelihood rises towards +-1."""
    rows_on = tables.sum(axis=2) > 0
    cols_on = tables.sum(axis=1) > 0
    two = (rows_on.sum(axis=1) == 2) & (cols_on.sum(axis=1) == 2)
    empty = ((tables == 0) & rows_on[:, :, None] & cols_on[:, None, :]).any(axis=(1, 2))
    return two & empty


def _warn_boundary(messages: list[str], names: list, iu: np.ndarray, ju: np.ndarray, mask: np.ndarray) -> None:
    if mask.any():
        pairs = [f"{names[i]}-{names[j]}" for i, j in zip(iu[mask], ju[mask])]
        _warn(messages, f"the 2 x 2 table of {', '.join(pairs[:10])} has an empty cell that was not corrected: "
                        "the likelihood keeps rising towards +-1, so the correlation is not identified (the value "
                        "is where the search stopped); use a continuity correction (tetrachoric(), or "
                        "global_thresholds=False with correct > 0)")


def _lavaan_2x2(tables: np.ndarray, correct: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """lavaan's empty-cell rule for 2 x 2 tables: (tables, fixed rho or NaN, adjusted?)."""
    tables = tables.copy()
    fixed = np.full(tables.shape[0], np.nan)
    adjusted = np.zeros(tables.shape[0], dtype=bool)
    if tables.shape[1:] != (2, 2):
        return tables, fixed, adjusted
    zero = tables == 0
    nzero = zero.sum(axis=(1, 2))
    two = nzero == 2
    fixed[two] = np.where(tables[two, 0, 0] > 0, 1.0, -1.0)
    one = (nzero == 1) & (correct > 0)
    diag = zero[:, 0, 0] | zero[:, 1, 1]
    step = np.where(diag, correct, -correct)[one]
    tables[one, 0, 0] += step
    tables[one, 1, 1] += step
    tables[one, 0, 1] -= step
    tables[one, 1, 0] -= step
    adjusted[one] = True
    return tables, fixed, adjusted


# --------------------------------------------------------------------------------------------------
# smoothing (psych::cor.smooth)
# --------------------------------------------------------------------------------------------------


def cor_smooth(r, eig_tol: float = 1e-12) -> tuple[np.ndarray, bool]:
    """Smooth a correlation matrix that is not positive definite, as ``psych::cor.smooth``.

    If the smallest eigenvalue is below machine epsilon, eigenvalues below ``eig_tol`` are set to
    ``100 * eig_tol``, all are rescaled to sum to the number of variables, and the rebuilt matrix is rescaled
    to unit diagonal. Returns ``(matrix, smoothed)``; a positive definite matrix comes back unchanged.

    Examples
    --------
    >>> r = np.array([[1, .9, .9], [.9, 1, -.9], [.9, -.9, 1]])
    >>> s, done = cor_smooth(r)
    >>> done, bool(np.linalg.eigvalsh(s).min() > 0), np.allclose(np.diag(s), 1)
    (True, True, True)
    """
    r = np.asarray(r, dtype=float)
    values, vectors = np.linalg.eigh(r)
    if values.min() >= np.finfo(float).eps:
        return r.copy(), False
    values = np.where(values < eig_tol, 100.0 * eig_tol, values)
    values = values * r.shape[0] / values.sum()
    s = (vectors * values) @ vectors.T
    d = 1.0 / np.sqrt(np.diag(s))
    s = s * np.outer(d, d)
    return (s + s.T) / 2.0, True


# --------------------------------------------------------------------------------------------------
# the result
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class PolychoricResult(ResultMixin):
    """Polychoric (or tetrachoric) correlations of items, with their thresholds.

    Attributes
    ----------
    rho : DataFrame
        Items x items correlations (smoothed if ``smoothed``).
    tau : DataFrame
        Items x thresholds ``t1 .. t{K-1}``: the threshold between the k-th and (k+1)-th answer value of the
        set (counting from the smallest value any item uses); ``-inf`` / ``+inf`` where the item does not use
        the lowest / highest categories.
    n_obs : DataFrame
        Items x items number of rows behind each correlation (pairwise; the diagonal: answers per item).
    smoothed : bool
        Whether the matrix was not positive definite and was smoothed (psych::cor.smooth).
    warnings : tuple of str
        What was warned while computing (smoothing, corrected empty cells, per-pair thresholds, ...).
    n_used, n_dropped : int
        Rows that entered at least one correlation, and rows that did not (listwise: incomplete rows;
        pairwise: rows with fewer than two answers).
    convention : str
        ``"psych"`` or ``"lavaan"``.
    global_thresholds : bool
        Whether each pair used the item thresholds (psych's ``global``) or its own.
    corrected_pairs : int
        Number of item pairs whose empty cells were corrected.
    """

    rho: pd.DataFrame
    tau: pd.DataFrame
    n_obs: pd.DataFrame
    smoothed: bool
    warnings: tuple[str, ...]
    n_used: int
    n_dropped: int
    convention: str
    global_thresholds: bool
    corrected_pairs: int

    def to_frame(self) -> pd.DataFrame:
        """The correlation matrix."""
        return self.rho


# --------------------------------------------------------------------------------------------------
# input
# --------------------------------------------------------------------------------------------------


def _codes(items: pd.DataFrame, *, min_items: int = 2) -> tuple[np.ndarray, list]:
    if not isinstance(items, pd.DataFrame):
        raise PolychoricError(f"items must be a pandas DataFrame of item columns, got {type(items).__name__}")
    names = list(items.columns)
    if len(names) < min_items:
        raise PolychoricError(f"at least {min_items} item columns are needed, got {len(names)}")
    bad = [str(c) for c in names if not (pd.api.types.is_numeric_dtype(items[c]) or items[c].isna().all())]
    if bad:
        raise PolychoricError(
            f"item columns must hold numeric answer codes; not numeric: {', '.join(bad)} "
            "(convert the answers to numbers first)"
        )
    x = items.to_numpy(dtype=float, na_value=np.nan)
    fin = ~np.isnan(x)
    if np.isinf(x).any() or np.any(x[fin] != np.round(x[fin])):
        cols = [str(n) for j, n in enumerate(names) if np.any(np.isinf(x[:, j]))
                or np.any(x[fin[:, j], j] != np.round(x[fin[:, j], j]))]
        raise PolychoricError(
            f"polychoric correlations need ordered categories coded as integers; not integer: {', '.join(cols)}"
        )
    return x, names


def _check_categories(x: np.ndarray, names: list, max_categories: int) -> tuple[np.ndarray, int]:
    """Shift to codes 0.. by the smallest answer of all items (as psych); refuse single-category items."""
    answered = ~np.isnan(x)
    one = [str(n) for j, n in enumerate(names) if len(np.unique(x[answered[:, j], j])) < 2]
    if one:
        raise PolychoricError(
            f"item(s) with fewer than two observed answer categories (no variance): {', '.join(one)}; "
            "a correlation needs at least two; drop the item(s)"
        )
    lo, hi = np.nanmin(x), np.nanmax(x)
    k = int(hi - lo + 1)
    if k > max_categories:
        spans = {str(n): int(np.nanmax(x[:, j]) - np.nanmin(x[:, j]) + 1) for j, n in enumerate(names)}
        wide = [f"{n} ({s})" for n, s in spans.items() if s > max_categories]
        which = f"items with more than {max_categories} values: {', '.join(wide)}" if wide else (
            f"together the items span {k} values ({lo:g} to {hi:g})")
        raise PolychoricError(
            f"polychoric correlations are for items with at most {max_categories} ordered categories "
            f"(psych's max.cat); {which}. Use Pearson correlations (cor='pearson') for such items, or recode them"
        )
    return x - lo, k


# --------------------------------------------------------------------------------------------------
# polychoric / tetrachoric
# --------------------------------------------------------------------------------------------------


def _warn(messages: list[str], text: str, stacklevel: int = 3) -> None:
    """Warn (pointing at the caller of polychoric / tetrachoric) and keep the text for the result."""
    messages.append(text)
    _warnings.warn(text, UserWarning, stacklevel=stacklevel)


def _finish(
    rho_pairs: np.ndarray, names: list, tau: np.ndarray, tables: np.ndarray, *, smooth: bool, messages: list[str],
    n_used: int, n_dropped: int, convention: str, global_thresholds: bool, corrected: int, kind: str = "polychoric",
) -> PolychoricResult:
    p = len(names)
    iu = np.triu_indices(p, 1)
    r = np.eye(p)
    r[iu] = rho_pairs
    r = r + np.triu(r, 1).T
    smoothed = False
    if smooth:
        r, smoothed = cor_smooth(r)
        if smoothed:
            _warn(messages, f"the {kind} correlation matrix was not positive definite; it was smoothed as "
                            "psych::cor.smooth does (eigenvalues floored at 1e-10, rescaled to a correlation matrix)",
                  stacklevel=4)
    counts = tables.sum(axis=(2, 3))
    return PolychoricResult(
        rho=pd.DataFrame(r, index=names, columns=names),
        tau=pd.DataFrame(tau, index=names, columns=[f"t{i + 1}" for i in range(tau.shape[1])]),
        n_obs=pd.DataFrame(counts.astype(np.int64), index=names, columns=names),
        smoothed=bool(smoothed),
        warnings=tuple(messages),
        n_used=int(n_used),
        n_dropped=int(n_dropped),
        convention=convention,
        global_thresholds=bool(global_thresholds),
        corrected_pairs=int(corrected),
    )


def polychoric(
    items: pd.DataFrame,
    *,
    correct: float = 0.5,
    smooth: bool | None = None,
    global_thresholds: bool | None = None,
    convention: Convention = "psych",
    missing: Missing | None = None,
    max_categories: int = 8,
    exact: bool | None = None,
) -> PolychoricResult:
    """Polychoric correlations and thresholds of ordinal items, as ``psych::polychoric`` (or ``lavaan::lavCor``).

    Parameters
    ----------
    items : DataFrame
        One column per item, answers coded as integers (NaN = not answered), at most ``max_categories``
        values in all.
    correct : float
        Continuity correction of empty cells (psych's ``correct``, lavaan's ``zero.add[1]``); 0 for none. With
        the psych convention it acts only when the thresholds are per pair (see the module docstring).
    smooth : bool or None
        Smooth a matrix that is not positive definite as psych::cor.smooth (warning). None: as the
        convention does (psych: yes, lavaan: no).
    global_thresholds : bool or None
        psych's ``global``: True, each pair uses the item thresholds; False, each pair its own (from its
        corrected table). None: True unless the items do not all have the same highest category (psych's rule,
        with its warning). Ignored by the lavaan convention (always the item thresholds).
    convention : {"psych", "lavaan"}
        Whose polychoric correlations to reproduce.
    missing : {"pairwise", "listwise"} or None
        Rows used: every available answer (pairwise) or only rows with every item answered. None: psych
        pairwise, lavaan listwise (lavCor's default).
    max_categories : int
        Refuse more answer values than this (psych's ``max.cat = 8``).
    exact : bool or None
        True: each rho is the exact maximum of its likelihood. False: the search stops where psych's (R's
        ``optimize``, tolerance ~1.2e-4) stops, which reproduces psych to ~1e-10 and lies within ~1e-4
        (typically 2e-5) of the maximum. None: False for psych, True for lavaan (whose optimiser gets within
        ~1e-8).

    Returns
    -------
    PolychoricResult
        ``rho``, ``tau``, ``n_obs``, ``smoothed``, ``warnings``, ``n_used``, ``n_dropped``.

    Raises
    ------
    PolychoricError
        Items that are not integer codes, an item with a single answer category, too many categories.

    Notes
    -----
    Matches ``psych::polychoric(x)`` (``convention="psych"``: correlations to ~1e-10, thresholds to 1e-12) and
    ``lavaan::lavCor(x, ordered = names(x))`` (``convention="lavaan"``: to ~1e-7; ``missing="pairwise"`` for
    ``lavCor(..., missing = "pairwise")``).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> z = rng.multivariate_normal([0, 0, 0], [[1, .5, .5], [.5, 1, .5], [.5, .5, 1]], size=2000)
    >>> x = pd.DataFrame(np.digitize(z, [-1.0, 0.0, 1.0]), columns=["a", "b", "c"])
    >>> res = polychoric(x)
    >>> bool(np.allclose(res.rho.to_numpy()[np.triu_indices(3, 1)], 0.5, atol=0.05))
    True
    >>> res.tau.columns.tolist(), res.n_used
    (['t1', 't2', 't3'], 2000)
    """
    if convention not in _RHO_BOUND:
        raise PolychoricError(f"convention must be 'psych' or 'lavaan', got {convention!r}")
    if missing is None:
        missing = "pairwise" if convention == "psych" else "listwise"
    if missing not in ("pairwise", "listwise"):
        raise PolychoricError(f"missing must be 'pairwise' or 'listwise', got {missing!r}")
    if not correct >= 0:
        raise PolychoricError(f"correct must be a number >= 0, got {correct!r}")
    if smooth is None:
        smooth = convention == "psych"
    if exact is None:
        exact = convention == "lavaan"
    tol = None if exact else R_OPTIMIZE_TOL
    x, names = _codes(items)
    n_rows = x.shape[0]
    if missing == "listwise":
        x = x[~np.isnan(x).any(axis=1)]
        if x.shape[0] < 2:
            raise PolychoricError(f"only {x.shape[0]} rows have every item answered (listwise); use missing='pairwise'")
        n_used = x.shape[0]
    else:
        n_used = int(np.sum((~np.isnan(x)).sum(axis=1) >= 2))
    codes, k = _check_categories(x, names, max_categories)
    p = len(names)
    tables = bivariate_tables(codes, k)
    iu, ju = np.triu_indices(p, 1)
    pair_tables = tables[iu, ju]
    marg = tables[np.arange(p), np.arange(p)].diagonal(axis1=1, axis2=2)
    tau = thresholds_from_counts(marg)
    messages: list[str] = []

    few = pair_tables.sum(axis=(1, 2)) < 2
    if few.any():
        pairs = [f"{names[i]}-{names[j]}" for i, j in zip(iu[few], ju[few])]
        raise PolychoricError(
            f"item pairs answered together by fewer than 2 rows: {', '.join(pairs[:10])}; "
            "no correlation can be estimated for them"
        )
    corrected = 0
    if convention == "lavaan":
        global_thresholds = True
        adj, fixed, adjusted = _lavaan_2x2(pair_tables, correct)
        rho = _pairs_rho(adj, tau[iu], tau[ju], _RHO_BOUND["lavaan"], tol)
        rho = np.where(np.isnan(fixed), rho, fixed)
        corrected = int(adjusted.sum())
        if np.any(~np.isnan(fixed)):
            bad = [f"{names[i]}-{names[j]}" for i, j in zip(iu[~np.isnan(fixed)], ju[~np.isnan(fixed)])]
            _warn(messages, f"two empty cells in the 2 x 2 table of {', '.join(bad)}: rho set to +1 or -1 (as lavaan)")
        if corrected:
            _warn(messages, f"{corrected} item pair(s) had one empty cell in a 2 x 2 table: {correct} was moved "
                            "into it and its opposite cell, keeping the margins (lavaan's zero.add)")
    else:
        if global_thresholds is None:
            top = np.array([np.nanmax(codes[:, j]) for j in range(p)])
            global_thresholds = bool(top.min() == top.max())
            if not global_thresholds:
                _warn(messages, "the items do not have an equal number of response alternatives: thresholds are "
                                "estimated per pair (psych's global = FALSE)")
        if global_thresholds:
            _warn_boundary(messages, names, iu, ju, _at_boundary(pair_tables))
            rho = _pairs_rho(pair_tables / pair_tables.sum(axis=(1, 2), keepdims=True), tau[iu], tau[ju], tol=tol)
        else:
            prop, tr, tc, fixed = _local_thresholds(pair_tables, correct)
            one = (np.isfinite(tr).sum(axis=1) == 0) | (np.isfinite(tc).sum(axis=1) == 0)
            broken = np.isnan(tr).any(axis=1) | np.isnan(tc).any(axis=1) | one
            if broken.any():
                pairs = [f"{names[i]}-{names[j]}" for i, j in zip(iu[broken], ju[broken])]
                raise PolychoricError(
                    f"no per-pair thresholds for the item pairs {', '.join(pairs[:10])} (a single category in the "
                    "rows that answered both, or the continuity correction pushed a margin past 1); "
                    "use global_thresholds=True or correct=0"
                )
            if correct == 0:
                _warn_boundary(messages, names, iu, ju, _at_boundary(pair_tables))
            rho = _pairs_rho(prop, tr, tc, tol=tol)
            corrected = int(fixed.sum())
            if corrected:
                _warn(messages, f"{corrected} item pair(s) had empty cells, each set to correct / N = {correct} / N "
                                "(psych's continuity correction). Examine your data carefully")
    if np.any(np.abs(rho) >= _RHO_BOUND[convention] - 1e-9):
        _warn(messages, "some polychoric correlations lie at the boundary (+-1): the categories of those items "
                        "are (almost) perfectly ordered together")
    return _finish(rho, names, tau, tables, smooth=smooth, messages=messages, n_used=n_used,
                   n_dropped=n_rows - n_used, convention=convention, global_thresholds=global_thresholds,
                   corrected=corrected)


def tetrachoric(
    items: pd.DataFrame, *, correct: float = 0.5, smooth: bool = True, exact: bool = False
) -> PolychoricResult:
    """Tetrachoric correlations of two-valued (0/1) items, as ``psych::tetrachoric``.

    Each item is shifted by its own smallest answer (psych) and must then be 0/1. Thresholds
    ``-qnorm(mean)`` come from each item's answers (pairwise available), each pair's 2 x 2 table from the rows
    that answered both; an empty cell is replaced by ``correct`` observations (0.5, psych's default; 0 for
    none); a matrix that is not positive definite is smoothed as psych::cor.smooth (with a warning).

    Parameters
    ----------
    items : DataFrame
        One column per item with two answer values (NaN = not answered).
    correct : float
        Count that replaces an empty cell of a 2 x 2 table.
    smooth : bool
        Smooth a matrix that is not positive definite.
    exact : bool
        True: the exact maximum of each likelihood; False: stop where psych's search stops (see
        :func:`polychoric`).

    Returns
    -------
    PolychoricResult
        ``tau`` has one column ``t1``.

    Notes
    -----
    Matches ``psych::tetrachoric(x)`` to ~1e-10.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(2)
    >>> z = rng.multivariate_normal([0, 0], [[1, .6], [.6, 1]], size=3000)
    >>> res = tetrachoric(pd.DataFrame((z > [0.0, 0.5]).astype(int), columns=["a", "b"]))
    >>> round(float(res.rho.loc["a", "b"]), 1)
    0.6
    """
    if not correct >= 0:
        raise PolychoricError(f"correct must be a number >= 0, got {correct!r}")
    x, names = _codes(items)
    x = x - np.nanmin(x, axis=0)
    answered = ~np.isnan(x)
    more = [str(n) for j, n in enumerate(names) if np.nanmax(x[:, j]) > 1]
    if more:
        raise PolychoricError(
            f"tetrachoric correlations need two-valued items; with more than two values: {', '.join(more)} "
            "(use polychoric)"
        )
    codes, _ = _check_categories(x, names, 2)
    p = len(names)
    tables = bivariate_tables(codes, 2)
    iu, ju = np.triu_indices(p, 1)
    pair = tables[iu, ju]
    few = pair.sum(axis=(1, 2)) <= 2
    if few.any():
        bad = [f"{names[i]}-{names[j]}" for i, j in zip(iu[few], ju[few])]
        raise PolychoricError(f"item pairs answered together by 2 rows or fewer: {', '.join(bad[:10])}")
    tau = thresholds_from_counts(tables[np.arange(p), np.arange(p)].diagonal(axis1=1, axis2=2))
    messages: list[str] = []
    if correct == 0:
        _warn_boundary(messages, names, iu, ju, _at_boundary(pair))
    empty = (pair == 0).any(axis=(1, 2)) & (correct > 0)
    if correct > 0:
        pair = np.where(pair == 0, correct, pair)
    if empty.any():
        _warn(messages, f"{int(empty.sum())} item pair(s) had an empty cell, replaced by correct = {correct} "
                        "(psych's continuity correction). Check your data")
    rho = _pairs_rho(pair, tau[iu], tau[ju], tol=None if exact else R_OPTIMIZE_TOL)
    n_used = int(np.sum(answered.sum(axis=1) >= 2))
    return _finish(rho, names, tau, tables, smooth=smooth, messages=messages, n_used=n_used,
                   n_dropped=x.shape[0] - n_used, convention="psych", global_thresholds=True,
                   corrected=int(empty.sum()), kind="tetrachoric")
