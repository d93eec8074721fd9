"""Ordinal CFA by diagonally weighted least squares with robust corrections (lavaan's WLSMV).

Equals ``lavaan::cfa(model, data, ordered = items, estimator = "WLSMV")`` (lavaan 0.6.14 defaults):

- the model is fitted to lavaan's sample statistics of the ordinal items (thresholds and polychoric
  correlations, :mod:`psyscreen.validity._ordinal_stats`) by DWLS: minimise
  ``sum_g (n_g / N) (s_g - sigma_g)' W_g (s_g - sigma_g)`` with ``W_g = diag(Gamma_g)^-1``;
- the delta parameterization: scaling factors (``y ~*~ y``) fixed to 1 in the first group, latent
  response intercepts fixed to 0, residual variances derived (``theta_ii = 1 / delta_i^2 -
  (Lambda Psi Lambda')_ii``, reported as fixed, as lavaan); thresholds ``y | t1, t2, ...`` are
  parameters; implied correlations ``D (Lambda Psi Lambda' + Theta) D`` off the diagonal, implied
  thresholds ``D (tau - Lambda alpha)``;
- robust standard errors ``se = "robust.sem"``: ``E^-1 (sum_g f_g Delta_g' W_g Gamma_g W_g Delta_g)
  E^-1 / N`` with ``E = sum_g f_g Delta_g' W_g Delta_g``;
- the mean-and-variance adjusted ("scaled-shifted") test (Asparouhov and Muthen, 2010):
  ``T_ss = a T + b``, ``a = sqrt(df / tr((U Gamma)^2))``, ``b = df - a tr(U Gamma)``, lavaan's
  ``chisq.scaling.factor = 1 / a``;
- the baseline model: thresholds free, correlations 0 (per group), with its own scaled-shifted test;
- the robust CFI/TLI/RMSEA of Savalei (2021) for categorical data (lavaan's "catML" route): the ML
  discrepancy of the polychoric matrix from the DWLS-implied correlations, with its trace correction;
- the other fit measures ``fitMeasures()`` prints for WLSMV under lavaan's names (srmr = Bentler's on
  the correlations, crmr, rmr, wrmr, gfi, agfi, pgfi, cn_05/cn_01, mfi ...); ``srmr_mplus`` is NaN as
  in lavaan (it prints NA for categorical data).

Group equality constraints follow lavaan's ``group.equal`` for ordered items: ``"thresholds"`` holds
the thresholds equal and then frees the scaling factors and the factor means in every group but the
first (as lavaan does), ``"loadings"``, ``"lv.variances"``, ``"lv.covariances"``,
``"residual.covariances"`` as for ML; ``"intercepts"`` changes nothing (latent response intercepts are
fixed to 0). ``group_partial`` exempts parameters from those equalities, as lavaan's ``group.partial``
(``"x1 | t2"``, ``"f =~ x3"``, ``"x2 ~ 1"``).

Asparouhov, T., & Muthen, B. (2010). Simple second order chi-square correction. Mplus technical
appendix. Savalei, V. (2021). Improving fit indices in structural equation modeling with categorical
data. *Multivariate Behavioral Research, 56*, 390-407.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd
from scipy import optimize, stats
from threadpoolctl import threadpool_limits

from psyscreen.validity._lavaan_syntax import ParTerm
from psyscreen.validity._ordinal_stats import OrdinalStats, _pairs

__all__ = ["OrdinalModel", "build_ordinal_model", "cfa_ordinal", "fit_dwls"]

_MATS = ("lam", "tau", "theta", "psi", "delta", "nu", "alpha")


@dataclass
class _OEntry:
    mat: str
    g: int
    i: int
    j: int
    lhs: str
    op: str
    rhs: str
    fixed: float | None
    label: str | None
    eq_type: str | None


@dataclass
class OrdinalModel:
    """Parameter table of an ordinal CFA (delta parameterization) with its index arrays."""

    ov: list[str]
    lv: list[str]
    n_groups: int
    n_th: np.ndarray  # thresholds per item
    entries: list[_OEntry]
    index: np.ndarray
    q: int
    specs: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]

    @property
    def th_item(self) -> np.ndarray:
        return np.repeat(np.arange(len(self.ov)), self.n_th)


def build_ordinal_model(
    terms: list[ParTerm],
    ov: list[str],
    lv: list[str],
    n_th: Sequence[int],
    n_groups: int,
    *,
    std_lv: bool,
    group_equal: Sequence[str] = (),
    free_scales: bool | Sequence[bool] | None = None,
    free_means: bool | None = None,
    free_intercepts: bool = False,
    group_partial: Sequence[str] = (),
) -> OrdinalModel:
    """The parameter table of an ordinal CFA; ``ov``/``lv`` as the ML model found them.

    ``free_scales`` / ``free_means``: free the scaling factors (all items, or a mask per item) / factor
    means in groups 2+ (default: when thresholds are held equal, as lavaan). ``free_intercepts``: free
    the latent-response intercepts in groups 2+ unless held equal (Wu and Estabrook's identification).
    ``group_partial``: parameters exempt from ``group_equal`` (lavaan's ``group.partial``).
    """
    p, m, G = len(ov), len(lv), n_groups
    n_th = np.asarray(n_th, dtype=int)
    oi = {v: k for k, v in enumerate(ov)}
    li = {v: k for k, v in enumerate(lv)}
    eq = set(group_equal)
    partial = {parse_partial(t) for t in ([group_partial] if isinstance(group_partial, str) else group_partial)}
    partial |= {(r, o, lh) for lh, o, r in partial if o == "~~"}  # "x1 ~~ x2" is "x2 ~~ x1"
    if free_scales is None:
        free_scales = "thresholds" in eq
    scale_free = np.broadcast_to(np.asarray(free_scales, dtype=bool), (p,))
    if free_means is None:
        free_means = "thresholds" in eq
    user: dict[tuple[str, str, str], ParTerm] = {}
    for t in terms:
        user[(t.lhs, t.op, t.rhs)] = t
    entries: list[_OEntry] = []

    def add(mat, g, i, j, lhs, op, rhs, default_fixed, eq_type, key=None):
        t = user.get(key or (lhs, op, rhs))
        fixed, label = default_fixed, None
        if t is not None:
            label = t.label
            if t.fixed is not None:
                fixed = t.fixed
            elif t.free:
                fixed = None
        entries.append(_OEntry(mat, g, i, j, lhs, op, rhs, fixed, label, eq_type))

    th_start = np.concatenate([[0], np.cumsum(n_th)])
    for g in range(G):
        for f in lv:
            items = [t.rhs for t in terms if t.op == "=~" and t.lhs == f]
            for k, item in enumerate(items):
                add("lam", g, oi[item], li[f], f, "=~", item, 1.0 if (k == 0 and not std_lv) else None, "loadings")
        for v in ov:
            for k in range(n_th[oi[v]]):
                add("tau", g, th_start[oi[v]] + k, 0, v, "|", f"t{k + 1}", None, "thresholds")
        for v in ov:  # residual variances: derived in the delta parameterization
            entries.append(_OEntry("theta", g, oi[v], oi[v], v, "~~", v, 0.0, None, None))
        for t in terms:
            if t.op == "~~" and t.lhs in oi and t.rhs in oi and t.lhs != t.rhs:
                entries.append(_OEntry("theta", g, oi[t.lhs], oi[t.rhs], t.lhs, "~~", t.rhs, t.fixed, t.label,
                                       "residual.covariances"))
        for f in lv:
            free_var_here = std_lv and g > 0 and "loadings" in eq and "lv.variances" not in eq
            add("psi", g, li[f], li[f], f, "~~", f, None if (not std_lv or free_var_here) else 1.0, "lv.variances")
        for a in range(m):
            for b in range(a + 1, m):
                t = user.get((lv[a], "~~", lv[b])) or user.get((lv[b], "~~", lv[a]))
                lhs, rhs = (t.lhs, t.rhs) if t is not None else (lv[a], lv[b])
                entries.append(_OEntry("psi", g, a, b, lhs, "~~", rhs, None if t is None else t.fixed,
                                       None if t is None else t.label, "lv.covariances"))
        for v in ov:
            add("delta", g, oi[v], 0, v, "~*~", v, None if (g > 0 and scale_free[oi[v]]) else 1.0, None)
        for v in ov:
            nu_free = g > 0 and (free_intercepts and ("intercepts" not in eq or (v, "~1", "") in partial))
            add("nu", g, oi[v], 0, v, "~1", "", None if nu_free else 0.0, "intercepts")
        for f in lv:
            add("alpha", g, li[f], 0, f, "~1", "", None if (g > 0 and free_means) else 0.0, "means")

    known = {(e.lhs, e.op, e.rhs) for e in entries}
    unknown = {t for t in partial if t not in known and (t[2], t[1], t[0]) not in known}
    if unknown:
        from psyscreen.validity.cfa import ModelSpecificationError

        raise ModelSpecificationError(
            f"group_partial names parameters the model does not have: {sorted(' '.join(u).strip() for u in unknown)}"
            " (thresholds are 'item | t1', 'item | t2', ...; loadings 'factor =~ item'; intercepts 'item ~ 1')")
    keys: dict[Any, int] = {}
    index = np.full(len(entries), -1, dtype=int)
    for n_e, e in enumerate(entries):
        if e.fixed is not None:
            continue
        if e.label is not None:
            key: Any = ("label", e.label)
        elif G > 1 and e.eq_type in eq and (e.lhs, e.op, e.rhs) not in partial:
            key = ("eq", e.mat, e.i, e.j)
        else:
            key = ("free", e.g, e.mat, e.i, e.j)
        if key not in keys:
            keys[key] = len(keys)
        index[n_e] = keys[key]
    shapes = {"lam": (p, m), "tau": (int(n_th.sum()), 1), "theta": (p, p), "psi": (m, m), "delta": (p, 1),
              "nu": (p, 1), "alpha": (m, 1)}
    specs = {}
    for name, shape in shapes.items():
        idx = np.full((G, *shape), -1, dtype=int)
        val = np.zeros((G, *shape))
        for n_e, e in enumerate(entries):
            if e.mat != name or (name == "theta" and e.i == e.j):
                continue
            cells = [(e.i, e.j)] + ([(e.j, e.i)] if name in ("psi", "theta") and e.i != e.j else [])
            for i, j in cells:
                idx[e.g, i, j] = index[n_e]
                val[e.g, i, j] = 0.0 if e.fixed is None else e.fixed
        specs[name] = (idx >= 0, idx, val)
    return OrdinalModel(ov, lv, G, n_th, entries, index, len(keys), specs)


_PARTIAL_OPS = ("=~", "~*~", "~~", "|", "~")


def parse_partial(text: str) -> tuple[str, str, str]:
    """A lavaan ``group.partial`` entry (``"x1 | t1"``, ``"f =~ x3"``, ``"x2 ~ 1"``, ``"x1 ~~ x2"``) as
    (lhs, op, rhs) of the parameter table.

    Examples
    --------
    >>> parse_partial("y2|t2"), parse_partial("f =~ x3"), parse_partial("x4 ~ 1")
    (('y2', '|', 't2'), ('f', '=~', 'x3'), ('x4', '~1', ''))
    """
    from psyscreen.validity.cfa import ModelSpecificationError

    s = "".join(str(text).split())
    for op in _PARTIAL_OPS:
        lhs, found, rhs = s.partition(op)
        if found and lhs and rhs:
            if op == "~":
                if rhs != "1":
                    break
                return lhs, "~1", ""
            return lhs, op, rhs
    raise ModelSpecificationError(
        f"group_partial entry {text!r} not understood: use lavaan's forms 'x1 | t1' (threshold), "
        "'f =~ x3' (loading), 'x2 ~ 1' (intercept), 'f ~~ f' or 'x1 ~~ x2' ((co)variance)")


def one_blas_thread():
    """Context: one BLAS thread. The WLSMV matrices are small (a few hundred rows at most): several BLAS
    threads only contend on a busy machine (ordinal invariance on 301 rows: 9.3 s with the default threads
    on a loaded 2-core machine, 0.7 s with one)."""
    return threadpool_limits(limits=1, user_api="blas")


def _fill(spec, thetas: np.ndarray) -> np.ndarray:
    mask, idx, val = spec
    out = np.broadcast_to(val, (thetas.shape[0], *val.shape)).copy()
    out[:, mask] = thetas[:, idx[mask]]
    return out


def _matrices(model: OrdinalModel, thetas: np.ndarray) -> dict[str, np.ndarray]:
    mats = {k: _fill(model.specs[k], thetas) for k in _MATS}
    lam, psi = mats["lam"], mats["psi"]
    common = lam @ psi @ np.swapaxes(lam, -1, -2)
    d = mats["delta"][..., 0]
    th_diag = 1.0 / d**2 - np.diagonal(common, axis1=-2, axis2=-1)
    theta = mats["theta"].copy()
    p = theta.shape[-1]
    theta[..., np.arange(p), np.arange(p)] = th_diag
    mats["theta"] = theta
    mats["sigma"] = common + theta  # latent response covariance (diag = 1 / delta^2)
    return mats


def _implied(model: OrdinalModel, thetas: np.ndarray) -> np.ndarray:
    """Implied [thresholds, correlations] per group: (B, G, nth + pstar)."""
    mats = _matrices(model, thetas)
    d = mats["delta"][..., 0]
    p = d.shape[-1]
    i, j = _pairs(p)
    corr = mats["sigma"][..., i, j] * d[..., i] * d[..., j]
    mu = mats["nu"][..., 0] + (mats["lam"] @ mats["alpha"])[..., 0]
    item = model.th_item
    th = d[..., item] * (mats["tau"][..., 0] - mu[..., item])
    return np.concatenate([th, corr], axis=-1)


def _jacobian(model: OrdinalModel, x: np.ndarray) -> np.ndarray:
    """d implied / d theta: (G, k, q), central differences (exact to rounding: degree <= 2 per parameter)."""
    q = x.size
    h = 1e-4 * np.maximum(1.0, np.abs(x))
    out = _implied(model, np.vstack([x + np.diag(h), x - np.diag(h)]))
    return np.moveaxis((out[:q] - out[q:]) / (2 * h)[:, None, None], 0, -1)


@dataclass
class DWLSFit:
    x: np.ndarray
    vcov: np.ndarray
    fit: dict[str, Any]
    implied: np.ndarray  # (G, k)
    iterations: int
    chisq: float = float("nan")  # the DWLS statistic (lavaan's standard test)
    df: int = 0
    E_inv: np.ndarray | None = None  # inverse of the expected information sum_g f_g D_g' W_g D_g
    D: list | None = None  # per-group Jacobians at the estimate
    W: list | None = None  # per-group diagonal weights
    gamma: list | None = None
    fg: np.ndarray | None = None


def _start(model: OrdinalModel, stats_: list[OrdinalStats]) -> np.ndarray:
    x = np.zeros(model.q)
    seen = np.zeros(model.q, dtype=bool)

    def put(name, values):
        mask, idx, _ = model.specs[name]
        for k, v in zip(idx[mask], values[mask]):
            if not seen[k]:
                x[k], seen[k] = v, True

    G, p, m = model.n_groups, len(model.ov), len(model.lv)
    lam = np.zeros((G, p, m))
    psi = np.zeros((G, m, m))
    mask, _, val = model.specs["lam"]
    for g in range(G):
        R = stats_[g].cor
        for f in range(m):
            items = np.flatnonzero(mask[g, :, f] | (val[g, :, f] != 0))
            if items.size >= 2:
                w, v = np.linalg.eigh(R[np.ix_(items, items)])
                load = v[:, -1] * np.sqrt(max(w[-1] - 1, 0.1 * w[-1]))
                # orient the factor by its first item (positive), as lavaan's start values do
                load = np.clip(load if load[0] >= 0 else -load, -0.9, 0.9)
            else:
                load = np.full(items.size, 0.7)
            fixed = ~mask[g, items, f]
            if fixed.any() and load[np.flatnonzero(fixed)[0]] != 0:
                k = np.flatnonzero(fixed)[0]
                scale = load[k] / val[g, items[k], f]
                lam[g, items, f] = load / scale
                psi[g, f, f] = scale**2
            else:
                lam[g, items, f] = load
                psi[g, f, f] = 1.0
        for a in range(m):
            for b in range(a + 1, m):
                psi[g, a, b] = psi[g, b, a] = 0.3 * np.sqrt(psi[g, a, a] * psi[g, b, b])
    put("lam", lam)
    put("psi", psi)
    put("tau", np.stack([s.th for s in stats_])[..., None])
    put("delta", np.ones((G, p, 1)))
    put("theta", np.zeros((G, p, p)))
    put("nu", np.zeros((G, p, 1)))
    put("alpha", np.zeros((G, m, 1)))
    return x


def _scaled_shifted(T: float, df: int, W: list[np.ndarray], D: list[np.ndarray], E_inv: np.ndarray,
                    gam: list[np.ndarray], fg: np.ndarray) -> tuple[float, float, float]:
    """tr(U Gamma), tr((U Gamma)^2) and the scaled-shifted statistic with lavaan's weighting."""
    V = _bdiag([fg[g] * np.diag(W[g]) for g in range(len(W))])
    Gam = _bdiag([gam[g] / fg[g] for g in range(len(W))])
    Dall = np.vstack(D)
    VD = V @ Dall
    U = V - VD @ E_inv @ VD.T
    UG = U @ Gam
    tr1 = float(np.trace(UG))
    tr2 = float(np.sum(UG * UG.T))
    a = np.sqrt(df / tr2) if df > 0 else np.nan
    b = df - a * tr1
    return float(a * T + b), float(1.0 / a), float(b)


def _bdiag(blocks: list[np.ndarray]) -> np.ndarray:
    n = sum(b.shape[0] for b in blocks)
    out = np.zeros((n, n))
    k = 0
    for b in blocks:
        out[k:k + b.shape[0], k:k + b.shape[0]] = b
        k += b.shape[0]
    return out


def fit_dwls(model: OrdinalModel, stats_: list[OrdinalStats]) -> DWLSFit:
    """Fit the ordinal model by DWLS; robust SEs and lavaan's WLSMV fit measures."""
    G = model.n_groups
    n = np.array([s.n for s in stats_], dtype=float)
    N = float(n.sum())
    fg = n / N
    obs = np.stack([s.wls_obs for s in stats_])  # (G, k)
    gam = [s.gamma for s in stats_]
    W = [1.0 / np.diag(gm) for gm in gam]
    # lavaan weighs the groups by n_g - 1 for the (D)WLS estimators (its statistic is sum (n_g - 1) F_g)
    fw = (n - 1) / (N - G)
    sw = np.sqrt(np.stack(W) * fw[:, None])

    def resid(x):
        return (sw * (obs - _implied(model, x[None])[0])).ravel()

    def jac(x):
        return -(sw[:, :, None] * _jacobian(model, x)).reshape(-1, x.size)

    x0 = _start(model, stats_)
    with np.errstate(all="ignore"):
        sol = optimize.least_squares(resid, x0, jac=jac, method="trf", xtol=1e-15, ftol=1e-15, gtol=1e-12,
                                     max_nfev=2000)
    x = sol.x
    from psyscreen.validity.cfa import ConvergenceError, IdentificationError

    if sol.status <= 0:
        raise ConvergenceError(f"the DWLS fit did not converge: {sol.message}")
    implied = _implied(model, x[None])[0]
    r = obs - implied
    D = list(_jacobian(model, x))  # per group (k, q)
    E = sum(fg[g] * D[g].T @ (W[g][:, None] * D[g]) for g in range(G))
    ev = np.linalg.eigvalsh(E)
    if ev[0] <= 1e-10 * max(ev[-1], 1.0):
        raise IdentificationError("the ordinal model is not identified (the information matrix is singular): "
                                  "check that every factor has a fixed loading or variance")
    E_inv = np.linalg.inv(E)
    meat = sum(fg[g] * (W[g][:, None] * D[g]).T @ gam[g] @ (W[g][:, None] * D[g]) for g in range(G))
    # lavaan uses N - G for the (D)WLS estimators: in its vcov and its test statistic
    vcov = E_inv @ meat @ E_inv / (N - G)
    X2 = float(sum((n[g] - 1) * np.sum(W[g] * r[g] ** 2) for g in range(G)))
    k = obs.shape[1]
    df = int(G * k - model.q)
    fit = _fit_measures(model, stats_, x, X2, df, D, W, E_inv, gam, fg, n, obs, implied)
    return DWLSFit(x=x, vcov=vcov, fit=fit, implied=implied, iterations=int(sol.nfev), chisq=X2, df=df,
                   E_inv=E_inv, D=D, W=W, gamma=gam, fg=fg)


# --------------------------------------------------------------------------------------------
# fit measures
# --------------------------------------------------------------------------------------------
def _rmsea(X2: float, df: float, N: float, G: int, c_hat: float = 1.0) -> float:
    if not (np.isfinite(X2) and np.isfinite(df)):
        return float("nan")
    return float(np.sqrt(max(X2 / N / df - c_hat / N, 0.0)) * np.sqrt(G)) if df > 0 else 0.0


def _rmsea_ci(X2: float, df: float, N: float, G: int, c_hat: float = 1.0, level: float = 0.90):
    if not (np.isfinite(X2) and np.isfinite(df)) or df < 1:
        return (float("nan"), float("nan")) if not np.isfinite(X2) else (0.0, 0.0)

    def cdf(lam: float) -> float:
        return float(stats.ncx2.cdf(X2, df, lam)) if lam > 0 else float(stats.chi2.cdf(X2, df))

    up, lo = 1 - (1 - level) / 2, (1 - level) / 2
    if cdf(0.0) - up < 0:
        lower = 0.0
    else:
        lam = optimize.brentq(lambda v: cdf(v) - up, 0.0, X2, xtol=1e-12)
        lower = np.sqrt(c_hat * lam / (N * df)) * np.sqrt(G)
    nr = max(N, X2 * 4)
    if cdf(nr) - lo > 0 or cdf(0.0) - lo < 0:
        upper = 0.0
    else:
        lam = optimize.brentq(lambda v: cdf(v) - lo, 0.0, nr, xtol=1e-12)
        upper = np.sqrt(c_hat * lam / (N * df)) * np.sqrt(G)
    return float(lower), float(upper)


def _close(X2, df, N, G, c_hat=1.0, h0=0.05, notclose=False):
    if not np.isfinite(X2) or df < 1:
        return float("nan")
    ncp = N * df / c_hat * h0**2 / G
    cdf = float(stats.ncx2.cdf(X2, df, ncp))
    return cdf if notclose else 1.0 - cdf


def _cfi(X2, df, X2n, dfn, c=1.0, cn=1.0, robust=False):
    if not all(np.isfinite(v) for v in (X2, X2n, c, cn)):
        return float("nan")
    if robust and df > 0 and c != 1 and cn != 1:
        t1, t2 = max(X2 - c * df, 0.0), max(X2 - c * df, X2n - cn * dfn, 0.0)
    else:
        t1, t2 = max(X2 - df, 0.0), max(X2 - df, X2n - dfn, 0.0)
    return 1.0 if (abs(t1) < 1.5e-8 and abs(t2) < 1.5e-8) else 1.0 - t1 / t2


def _tli(X2, df, X2n, dfn, c=1.0, cn=1.0, robust=False):
    if not all(np.isfinite(v) for v in (X2, X2n, c, cn)):
        return float("nan")
    if robust and df > 0 and c != 1 and cn != 1:
        t1, t2 = (X2 - c * df) * dfn, (X2n - cn * dfn) * df
    else:
        t1, t2 = (X2 - df) * dfn, (X2n - dfn) * df
    return 1.0 - t1 / t2 if (df > 0 and abs(t2) > 0) else 1.0


def _rni(X2, df, X2n, dfn, c=1.0, cn=1.0, robust=False):
    if not all(np.isfinite(v) for v in (X2, X2n, c, cn)):
        return float("nan")
    if robust and df > 0 and c != 1 and cn != 1:
        t1, t2 = X2 - c * df, X2n - cn * dfn
    else:
        t1, t2 = X2 - df, X2n - dfn
    return float("nan") if abs(t2) < 1.5e-8 else 1.0 - t1 / t2


def _nfi(X2, df, X2n, dfn):
    """Normed fit index; NaN when the model has more df than the baseline (as lavaan)."""
    if df > dfn or X2n == 0:
        return float("nan")
    return (X2n - X2) / X2n if df > 0 else 1.0


def _rfi(X2, df, X2n, dfn):
    if df > dfn:
        return float("nan")
    if df > 0 and dfn > 0:
        t1, t2 = X2n / dfn - X2 / df, X2n / dfn
        return 1.0 if (t1 < 0 or t2 < 0) else t1 / t2
    return 1.0


def _pnfi(X2, df, X2n, dfn):
    return df / dfn * (X2n - X2) / X2n if (dfn > 0 and X2n > 0) else float("nan")


def _ifi(X2, df, X2n):
    t1, t2 = X2n - X2, X2n - df
    if t2 < 0:
        return 1.0
    return float("nan") if abs(t2) < 1.5e-8 else t1 / t2


def _catml(model, stats_, x, D, W, E_inv, gam, fg, n, df_dwls):
    """Savalei's (2021) robust-CFI ingredients (lavaan's lav_fit_catml_dwls): ML on the correlations."""
    G = model.n_groups
    p = len(model.ov)
    pstar = p * (p - 1) // 2
    nan = dict(XX3=np.nan, df3=np.nan, c3=np.nan, XX3n=np.nan, df3n=np.nan, c3n=np.nan)
    # lavaan 0.6.14 drops the threshold rows for its catML fit; when thresholds are constrained equal
    # (across groups or by labels) that fit fails and fitMeasures prints NA: so do we
    tau_idx = [model.index[k] for k, e in enumerate(model.entries) if e.mat == "tau" and model.index[k] >= 0]
    if len(tau_idx) != len(set(tau_idx)):
        return nan
    for s in stats_:
        if np.linalg.eigvalsh(s.cor)[0] < np.sqrt(np.finfo(float).eps):
            return nan
    mats = _matrices(model, x[None])
    d = mats["delta"][0, ..., 0]
    i, j = _pairs(p)
    XX3 = 0.0
    XX3n = 0.0
    Vs, Ws, Gs, Ds = [], [], [], []
    nth = int(model.n_th.sum())
    for g in range(G):
        S = mats["sigma"][0, g] * np.outer(d[g], d[g])
        R = stats_[g].cor
        Si = np.linalg.inv(S)
        F = np.linalg.slogdet(S)[1] + np.trace(R @ Si) - np.linalg.slogdet(R)[1] - p
        XX3 += n[g] * F
        XX3n += n[g] * (-np.linalg.slogdet(R)[1])
        V = Si[np.ix_(i, i)] * Si[np.ix_(j, j)] + Si[np.ix_(i, j)] * Si[np.ix_(j, i)]
        Vs.append(fg[g] * V)
        Ws.append(fg[g] * np.diag(W[g][nth:]))
        Gs.append(gam[g][nth:, nth:] / fg[g])
        Ds.append(D[g][nth:])
    # parameters without thresholds, scales and intercepts: lavaan's catML parameter count
    free_mats = {model.entries[k].mat for k in range(len(model.entries)) if model.index[k] >= 0}
    q_cat = len({model.index[k] for k, e in enumerate(model.entries)
                 if model.index[k] >= 0 and e.mat in ("lam", "psi", "theta")})
    del free_mats
    df3 = G * pstar - q_cat
    Wall, Vall, Gall, Dall = _bdiag(Ws), _bdiag(Vs), _bdiag(Gs), np.vstack(Ds)
    WiU = np.eye(Wall.shape[0]) - Dall @ E_inv @ Dall.T @ Wall
    ks = float(np.trace(WiU.T @ Vall @ WiU @ Gall))
    return dict(XX3=float(XX3), df3=float(df3), c3=ks / df3, XX3n=float(XX3n), df3n=float(G * pstar),
                c3n=float(np.trace(Gall)) / (G * pstar))


def _fit_measures(model, stats_, x, X2, df, D, W, E_inv, gam, fg, n, obs, implied) -> dict[str, Any]:
    G = model.n_groups
    N = float(n.sum()) - G  # lavaan's N for the DWLS fit measures (lav_utils_get_ntotal: ntotal - ngroups)
    nth = int(model.n_th.sum())
    k = obs.shape[1]
    q = model.q
    X2s, sf, shift = _scaled_shifted(X2, df, W, D, E_inv, gam, fg)
    # baseline: thresholds free, correlations zero, per group
    X2n = float(sum((n[g] - 1) * np.sum(W[g][nth:] * obs[g, nth:] ** 2) for g in range(G)))
    dfn = G * (k - nth)
    Dn = []
    for g in range(G):
        Dg = np.zeros((k, G * nth))
        Dg[:nth, g * nth:(g + 1) * nth] = np.eye(nth)
        Dn.append(Dg)
    En = sum(fg[g] * Dn[g].T @ (W[g][:, None] * Dn[g]) for g in range(G))
    X2ns, sfn, _ = _scaled_shifted(X2n, dfn, W, Dn, np.linalg.inv(En), gam, fg)
    pv = float(stats.chi2.sf(X2, df)) if df > 0 else float("nan")
    pvs = float(stats.chi2.sf(X2s, df)) if df > 0 else float("nan")
    cat = _catml(model, stats_, x, D, W, E_inv, gam, fg, n, df)
    XX3, df3, c3, XX3n, c3n = cat["XX3"], cat["df3"], cat["c3"], cat["XX3n"], cat["c3n"]

    out: dict[str, Any] = {
        "npar": int(q), "fmin": X2 / (2 * (N + G)), "chisq": X2, "df": int(df), "pvalue": pv,
        "chisq.scaled": X2s, "df.scaled": int(df), "pvalue.scaled": pvs, "chisq.scaling.factor": sf,
        "baseline.chisq": X2n, "baseline.df": int(dfn), "baseline.pvalue": float(stats.chi2.sf(X2n, dfn)),
        "baseline.chisq.scaled": X2ns, "baseline.df.scaled": int(dfn),
        "baseline.pvalue.scaled": float(stats.chi2.sf(X2ns, dfn)), "baseline.chisq.scaling.factor": sfn,
        "cfi": _cfi(X2, df, X2n, dfn), "tli": _tli(X2, df, X2n, dfn),
        "cfi.scaled": _cfi(X2s, df, X2ns, dfn), "tli.scaled": _tli(X2s, df, X2ns, dfn),
        "cfi.robust": _cfi(XX3, df, XX3n, dfn, c3, c3n, robust=True),
        "tli.robust": _tli(XX3, df, XX3n, dfn, c3, c3n, robust=True),
        "nnfi": _tli(X2, df, X2n, dfn), "rfi": _rfi(X2, df, X2n, dfn), "nfi": _nfi(X2, df, X2n, dfn),
        "pnfi": _pnfi(X2, df, X2n, dfn), "ifi": _ifi(X2, df, X2n), "rni": _rni(X2, df, X2n, dfn),
        "nnfi.scaled": _tli(X2s, df, X2ns, dfn), "rfi.scaled": _rfi(X2s, df, X2ns, dfn),
        "nfi.scaled": _nfi(X2s, df, X2ns, dfn), "pnfi.scaled": _pnfi(X2s, df, X2ns, dfn),
        "ifi.scaled": _ifi(X2s, df, X2ns), "rni.scaled": _rni(X2s, df, X2ns, dfn),
        "nnfi.robust": _tli(XX3, df, XX3n, dfn, c3, c3n, robust=True),
        "rni.robust": _rni(XX3, df, XX3n, dfn, c3, c3n, robust=True),
    }
    lo, hi = _rmsea_ci(X2, df, N, G)
    los, his = _rmsea_ci(X2s, df, N, G)
    lor, hir = _rmsea_ci(XX3 / c3, df3, N, G, c_hat=c3) if np.isfinite(c3) else (float("nan"),) * 2
    out.update({
        "rmsea": _rmsea(X2, df, N, G), "rmsea.ci.lower": lo, "rmsea.ci.upper": hi, "rmsea.ci.level": 0.90,
        "rmsea.pvalue": _close(X2, df, N, G), "rmsea.close.h0": 0.05,
        "rmsea.notclose.pvalue": _close(X2, df, N, G, h0=0.08, notclose=True), "rmsea.notclose.h0": 0.08,
        "rmsea.scaled": _rmsea(X2s, df, N, G), "rmsea.ci.lower.scaled": los, "rmsea.ci.upper.scaled": his,
        "rmsea.pvalue.scaled": _close(X2s, df, N, G),
        "rmsea.notclose.pvalue.scaled": _close(X2s, df, N, G, h0=0.08, notclose=True),
        "rmsea.robust": _rmsea(XX3, df3, N, G, c3), "rmsea.ci.lower.robust": lor, "rmsea.ci.upper.robust": hir,
        "rmsea.pvalue.robust": _close(XX3 / c3, df3, N, G, c3),
        "rmsea.notclose.pvalue.robust": _close(XX3 / c3, df3, N, G, c3, h0=0.08, notclose=True),
    })
    # residual-based indices on the correlation metric (lavaan's lav_residuals_summary, unbiased = FALSE)
    p = len(model.ov)
    pstar = p * (p - 1) // 2
    r = obs - implied
    rc2 = (r[:, nth:] ** 2).sum(1)
    rt2 = (r[:, :nth] ** 2).sum(1)
    w = n / n.sum()
    out.update({
        "rmr": float(w @ np.sqrt((rc2 + rt2) / (pstar + p + nth))),
        "rmr_nomean": float(w @ np.sqrt(rc2 / (pstar + p))),
        "srmr": float(w @ np.sqrt(rc2 / (pstar + p))),
        "srmr_bentler": float(w @ np.sqrt((rc2 + rt2) / (pstar + p + nth))),
        "srmr_bentler_nomean": float(w @ np.sqrt(rc2 / (pstar + p))),
        "crmr": float(w @ np.sqrt((rc2 + rt2) / (pstar + nth))),
        "crmr_nomean": float(w @ np.sqrt(rc2 / pstar)),
        "srmr_mplus": float("nan"), "srmr_mplus_nomean": float("nan"),
    })
    nel = G * k
    crit = stats.chi2.ppf([0.95, 0.99], df) if df > 0 else [np.nan, np.nan]
    gfi_g = np.array([1 - np.sum(W[g] * r[g] ** 2) / np.sum(W[g] * obs[g] ** 2) for g in range(G)])
    gfi = float(gfi_g[0]) if G == 1 else float(n @ gfi_g / n.sum())
    out.update({
        "cn_05": float(crit[0] / (X2 / N) + 1), "cn_01": float(crit[1] / (X2 / N) + 1),
        "gfi": gfi, "agfi": 1 - (nel / df) * (1 - gfi) if df > 0 else 1.0,
        "pgfi": (df / nel) * gfi, "mfi": float(np.exp(-0.5 * (X2 - df) / N)),
        "wrmr": float(np.sqrt(X2 / k)),  # lavaan counts the statistics of the first group only
        "ntotal": int(N + G), "ngroups": G, "chisq.shift.parameter": shift,
    })
    return out


def params_frame(model: OrdinalModel, fitres: DWLSFit, labels: list, multi: bool) -> pd.DataFrame:
    """lavaan's parameterEstimates(standardized = TRUE) for the ordinal model."""
    x, vcov = fitres.x, fitres.vcov
    est = _entry_values(model, x[None])[0]
    se_free = np.sqrt(np.clip(np.diag(vcov), 0, None))
    se = np.array([se_free[k] if k >= 0 else np.nan for k in model.index])
    with np.errstate(divide="ignore", invalid="ignore"):
        z = est / se
    std = _std_all(model, x[None])[0]
    h = 1e-6 * np.maximum(1.0, np.abs(x))
    both = _std_all(model, np.vstack([x + np.diag(h), x - np.diag(h)]))
    J = ((both[: x.size] - both[x.size:]) / (2 * h)[:, None]).T
    std_se = np.sqrt(np.clip(np.einsum("ek,kl,el->e", J, vcov, J), 0, None))
    std_se[[(e.mat == "psi" and e.i == e.j) or model.index[k] < 0 and e.mat != "theta"
            for k, e in enumerate(model.entries)]] = np.nan
    frame = pd.DataFrame({
        "lhs": [e.lhs for e in model.entries], "op": [e.op for e in model.entries],
        "rhs": [e.rhs for e in model.entries], "group": [labels[e.g] for e in model.entries],
        "label": [e.label or "" for e in model.entries], "free": model.index >= 0,
        "est": est, "se": se, "z": z, "pvalue": 2 * stats.norm.sf(np.abs(z)), "std_all": std, "std_all_se": std_se,
    })
    return frame if multi else frame.drop(columns="group")


def _entry_values(model: OrdinalModel, thetas: np.ndarray) -> np.ndarray:
    mats = _matrices(model, thetas)
    out = np.empty((thetas.shape[0], len(model.entries)))
    for k, e in enumerate(model.entries):
        out[:, k] = mats[e.mat][:, e.g, e.i, e.j]
    return out


def _std_all(model: OrdinalModel, thetas: np.ndarray) -> np.ndarray:
    mats = _matrices(model, thetas)
    sd_ov = np.sqrt(np.diagonal(mats["sigma"], axis1=-2, axis2=-1))
    sd_lv = np.sqrt(np.abs(np.diagonal(mats["psi"], axis1=-2, axis2=-1)))
    th = mats["theta"]
    sd_th = np.sqrt(np.abs(np.diagonal(th, axis1=-2, axis2=-1)))
    item = model.th_item
    out = np.empty((thetas.shape[0], len(model.entries)))
    for k, e in enumerate(model.entries):
        g, i, j = e.g, e.i, e.j
        if e.mat == "lam":
            out[:, k] = mats["lam"][:, g, i, j] * sd_lv[:, g, j] / sd_ov[:, g, i]
        elif e.mat == "psi":
            out[:, k] = mats["psi"][:, g, i, j] / (sd_lv[:, g, i] * sd_lv[:, g, j])
        elif e.mat == "theta" and i == j:
            out[:, k] = th[:, g, i, i] / sd_ov[:, g, i] ** 2
        elif e.mat == "theta":
            out[:, k] = th[:, g, i, j] / (sd_th[:, g, i] * sd_th[:, g, j])
        elif e.mat == "tau":
            out[:, k] = mats["tau"][:, g, i, 0] / sd_ov[:, g, item[i]]
        elif e.mat == "nu":
            out[:, k] = mats["nu"][:, g, i, 0] / sd_ov[:, g, i]
        elif e.mat == "alpha":
            out[:, k] = mats["alpha"][:, g, i, 0] / sd_lv[:, g, i]
        else:  # delta (scaling factor): 1 in the standardized metric, as lavaan
            out[:, k] = 1.0
    return out


# --------------------------------------------------------------------------------------------
# the cfa() entry point for ordered items
# --------------------------------------------------------------------------------------------
@dataclass
class OrdinalData:
    """The sample statistics of the ordinal items, per group, and the rows used."""

    stats: list
    labels: list
    n_cat: list
    n_used: int
    n_dropped: int
    warnings: tuple[str, ...] = ()  # the dropped-rows warning, for the result's ``warnings``


def ordinal_data(data: pd.DataFrame, ov: list[str], *, ordered: Sequence[str], group: str | None,
                 stacklevel: int = 4) -> OrdinalData:
    """Listwise-complete rows, category codes and lavaan's WLS statistics per group (one warning if rows drop)."""
    import warnings

    from psyscreen.validity.cfa import InsufficientDataError, ModelSpecificationError
    from psyscreen.validity._ordinal_stats import ordinal_stats

    not_ordered = [v for v in ov if v not in set(ordered)]
    if not_ordered:
        raise ModelSpecificationError(
            f"estimator WLSMV here needs every model item ordered; not in ordered: {not_ordered} "
            "(pass ordered=True for all model items)")
    cols = ov + ([group] if group is not None else [])
    sub = data[cols]
    complete = sub.notna().all(axis=1).to_numpy()
    n_dropped = int((~complete).sum())
    sub = sub.loc[complete]
    dropped_warning: tuple[str, ...] = ()
    if n_dropped:
        msg = (f"{n_dropped} of {len(data)} rows have a missing answer on a model item"
               f"{' or the group' if group is not None else ''} and were dropped (listwise deletion, "
               f"lavaan's default for ordered items); {len(sub)} rows used")
        warnings.warn(msg, UserWarning, stacklevel=stacklevel)
        dropped_warning = (msg,)
    codes = np.empty((len(sub), len(ov)), dtype=int)
    n_cat = []
    for k, v in enumerate(ov):
        cat = pd.Categorical(sub[v])
        if len(cat.categories) < 2:
            raise ModelSpecificationError(f"ordered item {v!r} has {len(cat.categories)} observed category; "
                                          "it needs at least 2")
        codes[:, k] = cat.codes
        n_cat.append(len(cat.categories))
    if group is None:
        labels: list = [None]
        gcodes = np.zeros(len(sub), dtype=int)
    else:
        gcol = sub[group]
        labels = ([c for c in gcol.cat.categories if (gcol == c).any()]
                  if isinstance(gcol.dtype, pd.CategoricalDtype) else list(pd.unique(gcol)))
        gcodes = np.asarray(pd.Categorical(gcol, categories=labels).codes)
        if len(labels) < 2:
            raise InsufficientDataError(f"group column {group!r} has {len(labels)} group(s) with complete rows")
    st = []
    for g in range(len(labels)):
        cg = codes[gcodes == g]
        where = f"group {labels[g]!r}" if group is not None else "the data"
        if len(cg) <= len(ov):
            raise InsufficientDataError(f"{where} has {len(cg)} complete rows for {len(ov)} ordered items")
        counts = [np.bincount(cg[:, k], minlength=n_cat[k]) for k in range(len(ov))]
        empty = [ov[k] for k in range(len(ov)) if (counts[k] == 0).any()]
        if empty:
            raise ModelSpecificationError(
                f"in {where}, items {empty} have a category nobody chose (categories must be observed in "
                "every group); merge rare categories first")
        s = ordinal_stats(cg, np.asarray(n_cat))
        if np.linalg.eigvalsh(s.cor)[0] <= 0:
            warnings.warn(f"the polychoric correlation matrix of {where} is not positive definite; DWLS still "
                          "fits it, but the robust CFI/TLI/RMSEA are NaN (as lavaan)", UserWarning,
                          stacklevel=stacklevel)
        st.append(s)
    return OrdinalData(st, labels, n_cat, int(len(sub)), n_dropped, dropped_warning)


def cfa_ordinal(data: pd.DataFrame, model_text: str, terms: list[ParTerm], ov: list[str], lv: list[str], *,
                ordered: Sequence[str], group: str | None, group_equal: Sequence[str], std_lv: bool,
                free_scales: bool | None = None, free_means: bool | None = None,
                group_partial: Sequence[str] = ()):
    """WLSMV fit of an all-ordinal CFA; returns a :class:`~psyscreen.validity.cfa.CFAResult`."""
    with one_blas_thread():
        od = ordinal_data(data, ov, ordered=ordered, group=group, stacklevel=4)
        mod = build_ordinal_model(terms, ov, lv, [k - 1 for k in od.n_cat], len(od.labels), std_lv=std_lv,
                                  group_equal=group_equal, free_scales=free_scales, free_means=free_means,
                                  group_partial=group_partial)
        return fit_ordinal(mod, od, model_text, group_equal, multi=group is not None)[0]


def fit_ordinal(mod: OrdinalModel, od: OrdinalData, model_text: str, group_equal: Sequence[str], *,
                multi: bool):
    """Fit a built ordinal model to the statistics; returns (CFAResult, DWLSFit)."""
    from psyscreen.validity.cfa import CFAResult, FitMeasures

    st, labels, n_dropped = od.stats, od.labels, od.n_dropped
    res = fit_dwls(mod, st)
    params = params_frame(mod, res, labels, multi)
    load = params[params["op"] == "=~"]
    std_loadings = pd.DataFrame({"factor": load["lhs"].to_numpy(), "item": load["rhs"].to_numpy()})
    if multi:
        std_loadings["group"] = load["group"].to_numpy()
    std_loadings["estimate"] = load["std_all"].to_numpy()
    std_loadings["se"] = load["std_all_se"].to_numpy()
    return CFAResult(
        fit=FitMeasures(res.fit), params=params.reset_index(drop=True), std_loadings=std_loadings,
        reliability=_reliability(mod, res.x, labels, multi), model=model_text, groups=tuple(labels),
        group_equal=tuple(group_equal), n_obs=tuple(int(s.n) for s in st), vcov=res.vcov,
        iterations=res.iterations, n_used=od.n_used, n_dropped=n_dropped, estimator="WLSMV",
        warnings=od.warnings,
    ), res


def _reliability(model: OrdinalModel, x: np.ndarray, labels: list, multi: bool) -> pd.DataFrame:
    """Composite reliability and AVE on the latent-response scale (as for ML, from the model)."""
    mats = _matrices(model, x[None])
    lam, psi, th, sig = mats["lam"][0], mats["psi"][0], mats["theta"][0], mats["sigma"][0]
    rows = []
    for g in range(model.n_groups):
        for f, name in enumerate(model.lv):
            items = np.flatnonzero(lam[g, :, f] != 0)
            true = lam[g, items, f].sum() ** 2 * psi[g, f, f]
            err = th[g][np.ix_(items, items)].sum()
            std_l = lam[g, items, f] * np.sqrt(psi[g, f, f]) / np.sqrt(sig[g, items, items])
            row = {"factor": name, "n_items": int(items.size), "omega": true / (true + err),
                   "ave": float(np.mean(std_l**2))}
            if multi:
                row = {"factor": name, "group": labels[g], **{k: v for k, v in row.items() if k != "factor"}}
            rows.append(row)
    return pd.DataFrame(rows)
