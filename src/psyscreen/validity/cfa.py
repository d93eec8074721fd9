"""Confirmatory factor analysis by maximum likelihood, with the fit indices lavaan prints.

The estimator is owned here (scipy): the model is small, and lavaan's conventions are matched
exactly rather than approximated through another SEM package:

- discrepancy ``F = log|Sigma| + tr(S Sigma^-1) - log|S| - p`` (+ the mean part
  ``(ybar - mu)' Sigma^-1 (ybar - mu)`` with a mean structure), ``S`` with divisor ``N``
  (``likelihood = "normal"``), ``chisq = sum_g n_g F_g``;
- standard errors from the expected information (``information = "expected"``, ``se = "standard"``);
- marker method (first loading fixed to 1), free latent (co)variances and residual variances;
- RMSEA with ``N`` (not ``N - 1``) and lavaan's ``sqrt(G)`` multi-group factor, its 90% CI by
  inverting the noncentral chi-square; SRMR as Bentler's (lavaan's default ``srmr``);
  CFI and TLI against the independence model.

``estimator="MLR"`` (robust standard errors, Yuan-Bentler scaled test) lives in
:mod:`psyscreen.validity._robust`, ``missing="ml"`` (FIML) in :mod:`psyscreen.validity._fiml`;
both enter :func:`cfa` through one hook after the fit.

Multi-group models (``group=``) with equality constraints (``group_equal=``) use the same engine;
:func:`psyscreen.validity.invariance.invariance` builds the usual sequence of them.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Iterator, Sequence

import numpy as np
import pandas as pd
from scipy import optimize, stats

from psyscreen._blas import small_blas
from psyscreen._results import ResultMixin
from psyscreen.validity import _fiml, _robust
from psyscreen.validity._lavaan_syntax import ModelSyntaxError, ParTerm, parse_model

__all__ = [
    "CFAError",
    "CFAResult",
    "ConvergenceError",
    "FitMeasures",
    "IdentificationError",
    "InsufficientDataError",
    "ModelSpecificationError",
    "ModelSyntaxError",
    "NotPositiveDefiniteError",
    "cfa",
]

GROUP_EQUAL_TYPES = (
    "loadings",
    "intercepts",
    "residuals",
    "residual.covariances",
    "lv.variances",
    "lv.covariances",
    "means",
)


# --------------------------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------------------------
class CFAError(ValueError):
    """Base class for the errors of :func:`cfa` and :func:`~psyscreen.validity.invariance.invariance`."""


class ModelSpecificationError(CFAError):
    """The model names a variable the data does not have, or asks for something unsupported."""


class NotPositiveDefiniteError(CFAError):
    """The sample covariance matrix (of a group) is not positive definite."""


class InsufficientDataError(CFAError):
    """Too few complete rows (in a group) to estimate the model."""


class ConvergenceError(CFAError):
    """The optimiser did not converge; the message carries the optimiser's own message."""


class IdentificationError(CFAError):
    """The information matrix is singular: the model is not identified."""


# --------------------------------------------------------------------------------------------
# results
# --------------------------------------------------------------------------------------------
# short attribute names kept for the fields the results had before they were keyed by lavaan's names
_FIT_ALIASES = {
    "rmsea_ci_low": "rmsea.ci.lower",
    "rmsea_ci_high": "rmsea.ci.upper",
    "loglik": "logl",
    "n": "ntotal",
    "baseline_chisq": "baseline.chisq",
    "baseline_df": "baseline.df",
    "n_groups": "ngroups",
}


@dataclass(frozen=True, eq=False)
class FitMeasures(Mapping, ResultMixin):
    """Fit measures keyed by lavaan's own names, as ``lavaan::fitMeasures()`` prints them.

    A read-only mapping: ``fit["cfi"]``, ``fit["rmsea.ci.lower"]``, ``fit["chisq.scaled"]`` (robust
    estimators), ``dict(fit)``; attribute access turns ``_`` into ``.`` (``fit.cfi``,
    ``fit.chisq_scaled``, ``fit.rmsea_ci_lower``). The short names of earlier versions still work
    (``fit.rmsea_ci_low``, ``fit.loglik``, ``fit.n``, ``fit.baseline_chisq``). ``ngroups`` is not a
    fitMeasures name; it is the number of groups (lavaan's ``lavInspect(fit, "ngroups")``).

    Examples
    --------
    >>> fm = FitMeasures({"chisq": 85.3, "df": 24, "cfi": 0.931, "rmsea.ci.lower": 0.071, "logl": -3737.7})
    >>> fm["cfi"], fm.rmsea_ci_lower, fm.rmsea_ci_low, fm.loglik
    (0.931, 0.071, 0.071, -3737.7)
    >>> list(fm)[:2]
    ['chisq', 'df']
    """

    values: Mapping[str, Any]

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", MappingProxyType(dict(self.values)))

    def _key(self, name: str) -> str:
        if name in self.values:
            return name
        name = _FIT_ALIASES.get(name, name)
        return name if name in self.values else name.replace("_", ".")

    def __getitem__(self, key: str) -> Any:
        return self.values[self._key(key)]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name == "values":
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"no fit measure {name!r}; available: {list(self.values)}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self.values)

    def __len__(self) -> int:
        return len(self.values)

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in self.values.items())
        return f"FitMeasures({shown})"

    def to_dict(self) -> dict[str, Any]:
        return dict(self.values)

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"value": pd.Series(self.to_dict(), dtype=object)})


@dataclass(frozen=True, eq=False)  # holds DataFrames: compare the fields, not the result
class CFAResult(ResultMixin):
    """Result of :func:`cfa`.

    Attributes
    ----------
    fit : FitMeasures
        chisq, df, pvalue, cfi, tli, rmsea (+ 90% CI), srmr, aic, bic, loglik, n, npar.
    params : pandas.DataFrame
        One row per parameter (free and fixed): lhs, op, rhs, [group,] label, free, est, se, z,
        pvalue, std_all, std_all_se -- lavaan's ``parameterEstimates()`` with ``std.all``.
    std_loadings : pandas.DataFrame
        factor, item, [group,] estimate, se: standardized (std.all) loadings with delta-method
        SEs, as lavaan's ``standardizedSolution()``.
    reliability : pandas.DataFrame
        Per factor (and group): n_items, composite reliability ``omega`` (model-implied total
        variance, ``semTools::compRelSEM(obs.var = FALSE)``) and ``omega_obs`` (observed total
        variance, ``obs.var = TRUE``), AVE ``ave`` (``semTools::AVE(obs.var = FALSE)``) and ``ave_obs``
        (``obs.var = TRUE``); NaN AVE for a factor whose items load on other factors.
    model : str
        The model text.
    groups : tuple
        Group labels (one ``None`` entry for a single-group fit).
    group_equal : tuple of str
        The equality constraints across groups.
    n_obs : tuple of int
        Rows used per group (complete rows under listwise deletion; rows with any answer under FIML).
    vcov : numpy.ndarray
        Covariance matrix of the free parameters (expected information for ML with complete
        data; observed information under FIML; the robust sandwich for MLR).
    iterations : int
        Optimiser iterations.
    n_used, n_dropped : int
        Rows of the data used by the fit and rows dropped (a missing answer under listwise
        deletion; no answer at all, or no group, under FIML).
    estimator : str
        "ML", "MLR", or "WLSMV" for ordered items (then ``params`` has threshold rows ``item | t1``).
    missing : str
        "listwise" or "ml" (FIML).
    warnings : tuple of str
        What the analysis warned about (e.g. dropped rows), also issued with ``warnings.warn``.
    group_partial : tuple of str
        The parameters released from ``group_equal`` (lavaan's ``group.partial``).
    """

    fit: FitMeasures
    params: pd.DataFrame
    std_loadings: pd.DataFrame
    reliability: pd.DataFrame
    model: str
    groups: tuple
    group_equal: tuple[str, ...]
    n_obs: tuple[int, ...]
    vcov: np.ndarray = field(repr=False)
    iterations: int = 0
    n_used: int = 0
    n_dropped: int = 0
    estimator: str = "ML"
    missing: str = "listwise"
    warnings: tuple[str, ...] = ()
    group_partial: tuple[str, ...] = ()
    _engine: Any = field(default=None, repr=False)  # (model, sample statistics, estimates) for modindices

    def to_frame(self) -> pd.DataFrame:
        """The parameter table (as lavaan's ``parameterEstimates(fit, standardized = TRUE)``)."""
        return self.params.copy()

    def _repr_html_(self) -> str:
        return _robust.html_with_header(self, f"estimator {self.estimator}, missing {self.missing}")

    def modindices(self, *, minimum_value: float = 0.0, sort: bool = True) -> pd.DataFrame:
        """Modification indices, as ``lavaan::modindices(fit)``; see :func:`psyscreen.validity.modindices.modindices`."""
        from psyscreen.validity.modindices import modindices

        return modindices(self, minimum_value=minimum_value, sort=sort)


# --------------------------------------------------------------------------------------------
# the model: parameter table -> index arrays
# --------------------------------------------------------------------------------------------
@dataclass
class _Entry:
    mat: str  # "lam", "psi", "theta", "nu", "alpha"
    g: int
    i: int
    j: int
    lhs: str
    op: str
    rhs: str
    fixed: float | None
    label: str | None
    eq_type: str | None  # the group_equal type this entry belongs to


@dataclass
class _Model:
    ov: list[str]
    lv: list[str]
    n_groups: int
    meanstructure: bool
    entries: list[_Entry]
    index: np.ndarray  # per entry: free parameter index or -1
    q: int
    # per matrix: (free mask, index array, fixed values) with a leading group axis
    lam: tuple[np.ndarray, np.ndarray, np.ndarray]
    psi: tuple[np.ndarray, np.ndarray, np.ndarray]
    theta: tuple[np.ndarray, np.ndarray, np.ndarray]
    nu: tuple[np.ndarray, np.ndarray, np.ndarray]
    alpha: tuple[np.ndarray, np.ndarray, np.ndarray]
    notes: tuple[str, ...] = ()  # what the model builder decided for the user (said in the result's warnings)


def _build_model(
    terms: list[ParTerm],
    columns: Sequence[str],
    n_groups: int,
    *,
    std_lv: bool,
    group_equal: Sequence[str],
    meanstructure: bool,
    orthogonal: bool = False,
    group_partial: Sequence[tuple[str, str, str]] = (),
) -> _Model:
    lv: list[str] = []
    for t in terms:
        if t.op == "=~" and t.lhs not in lv:
            lv.append(t.lhs)
    if not lv:
        raise ModelSpecificationError("the model defines no factor ('f =~ item1 + item2 + ...')")
    colset = set(map(str, columns))
    ov: list[str] = []
    for t in terms:
        names = [t.rhs] if t.op == "=~" else [t.lhs] + ([t.rhs] if t.rhs else [])
        for name in names:
            if name in lv:
                if t.op == "=~":
                    raise ModelSpecificationError(
                        f"line {t.line}: {name!r} is a factor measured by factor {t.lhs!r}; "
                        "higher-order factors are not supported"
                    )
                continue
            if name not in colset:
                raise ModelSpecificationError(
                    f"line {t.line}: variable {name!r} is not a column of the data "
                    f"(nor a factor defined with '=~'); columns are {sorted(colset)}"
                )
            if name not in ov:
                ov.append(name)
    for name in lv:
        if name in colset:
            raise ModelSpecificationError(
                f"factor name {name!r} is also a column of the data; rename the factor"
            )
    p, m, G = len(ov), len(lv), n_groups
    oi = {v: k for k, v in enumerate(ov)}
    li = {v: k for k, v in enumerate(lv)}

    # user terms keyed by (lhs, op, rhs); '~~' is looked up in both orders
    user: dict[tuple[str, str, str], ParTerm] = {}
    for t in terms:
        if t.op == "~~" and (t.lhs in lv) != (t.rhs in lv):
            raise ModelSpecificationError(
                f"line {t.line}: covariance between a factor and an observed variable "
                f"({t.lhs} ~~ {t.rhs}) is not supported"
            )
        if (t.lhs, t.op, t.rhs) in user or (t.op == "~~" and (t.rhs, t.op, t.lhs) in user):
            raise ModelSpecificationError(f"line {t.line}: parameter '{t.lhs} {t.op} {t.rhs}' is given twice")
        user[(t.lhs, t.op, t.rhs)] = t

    entries: list[_Entry] = []
    eq = set(group_equal)
    # A latent mean the model frees ('f ~ 1') with the intercepts of its indicators also free is not
    # identified. The model asks for the factor means, so their indicators' intercepts are fixed at 0
    # where the model does not write them (lavaan::growth's int.ov.free = FALSE): the growth model
    # then gives lavaan::growth's df 5 and chi-square 8.07 on Demo.growth, where lavaan::cfa fits an
    # unidentified model (df 1, with a warning) and an earlier psyscreen kept the means at 0 (df 7).
    freed_means = [f for f in lv if (f, "~1", "") in user and user[(f, "~1", "")].fixed is None]
    zero_intercepts: list[str] = []
    if meanstructure and freed_means and (G == 1 or "intercepts" not in eq):
        indicators = {f: [t.rhs for t in terms if t.op == "=~" and t.lhs == f] for f in freed_means}
        # only for factors none of whose indicators' intercepts the model writes (else the model decides)
        untouched = [f for f in freed_means if not any((v, "~1", "") in user for v in indicators[f])]
        zero_intercepts = [v for v in ov if any(v in indicators[f] for f in untouched)]
    notes = (
        (f"the model frees the mean of {', '.join(untouched)}: the intercepts of "
         f"{', '.join(zero_intercepts)} are fixed at 0, as lavaan::growth does (freeing both is not "
         "identified); write e.g. 'x1 ~ 1' to free an intercept",) if zero_intercepts else ()
    )

    def add(mat: str, g: int, i: int, j: int, lhs: str, op: str, rhs: str,
            default_fixed: float | None, eq_type: str) -> None:
        t = user.get((lhs, op, rhs))
        fixed, label = default_fixed, None
        if t is not None:
            label = t.label
            if t.fixed is not None:
                fixed = t.fixed
            elif t.free or mat == "alpha":  # a latent mean the model names ('f ~ 1') is free, as in lavaan
                fixed = None
        entries.append(_Entry(mat, g, i, j, lhs, op, rhs, fixed, label, eq_type))

    for g in range(G):
        for f in lv:
            items = [t.rhs for t in terms if t.op == "=~" and t.lhs == f]
            for k, item in enumerate(items):
                default = 1.0 if (k == 0 and not std_lv) else None
                add("lam", g, oi[item], li[f], f, "=~", item, default, "loadings")
        for v in ov:
            add("theta", g, oi[v], oi[v], v, "~~", v, None, "residuals")
        for t in terms:  # user residual covariances, in the order written
            if t.op == "~~" and t.lhs in oi and t.rhs in oi and t.lhs != t.rhs:
                entries.append(_Entry("theta", g, oi[t.lhs], oi[t.rhs], t.lhs, "~~", t.rhs,
                                      t.fixed, t.label, "residual.covariances"))
        for f in lv:
            free_var_here = std_lv and g > 0 and "loadings" in eq and "lv.variances" not in eq
            add("psi", g, li[f], li[f], f, "~~", f, None if (not std_lv or free_var_here) else 1.0, "lv.variances")
        for a in range(m):
            for b in range(a + 1, m):
                fa, fb = lv[a], lv[b]
                t = user.get((fa, "~~", fb)) or user.get((fb, "~~", fa))
                lhs, rhs = (t.lhs, t.rhs) if t is not None else (fa, fb)
                # orthogonal=True (lavaan's orthogonal): covariances the model does not name are fixed at 0
                cov = (0.0 if orthogonal else None) if t is None else t.fixed
                entries.append(_Entry("psi", g, a, b, lhs, "~~", rhs, cov,
                                      None if t is None else t.label, "lv.covariances"))
        if meanstructure:
            for v in ov:
                add("nu", g, oi[v], 0, v, "~1", "", 0.0 if v in zero_intercepts else None, "intercepts")
            for f in lv:
                free_mean = g > 0 and "intercepts" in eq and "means" not in eq
                add("alpha", g, li[f], 0, f, "~1", "", None if free_mean else 0.0, "means")
        elif any(t.op == "~1" for t in terms):  # pragma: no cover - caller switches meanstructure on
            raise AssertionError("intercepts in the model need meanstructure")

    # free parameter indices: same key = same parameter
    keys: dict[Any, int] = {}
    index = np.full(len(entries), -1, dtype=int)
    partial = {(lhs, op, rhs) for lhs, op, rhs in group_partial} | {
        (rhs, op, lhs) for lhs, op, rhs in group_partial if op == "~~"}
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

    shapes = {"lam": (p, m), "psi": (m, m), "theta": (p, p), "nu": (p, 1), "alpha": (m, 1)}
    mats = {}
    for name, shape in shapes.items():
        idx = np.full((G, *shape), -1, dtype=int)
        val = np.zeros((G, *shape))
        for n_e, e in enumerate(entries):
            if e.mat != name:
                continue
            cells = [(e.i, e.j)] + ([(e.j, e.i)] if name in ("psi", "theta") and e.i != e.j else [])
            for i, j in cells:
                idx[e.g, i, j] = index[n_e]
                val[e.g, i, j] = 0.0 if e.fixed is None else e.fixed
        mats[name] = (idx >= 0, idx, val)
    return _Model(ov, lv, G, meanstructure, entries, index, len(keys),
                  mats["lam"], mats["psi"], mats["theta"], mats["nu"], mats["alpha"], notes)


def _fill(spec: tuple[np.ndarray, np.ndarray, np.ndarray], thetas: np.ndarray) -> np.ndarray:
    """Matrices for a batch of parameter vectors: (B, q) -> (B, G, r, c)."""
    mask, idx, val = spec
    out = np.broadcast_to(val, (thetas.shape[0], *val.shape)).copy()
    out[:, mask] = thetas[:, idx[mask]]
    return out


def _implied(model: _Model, thetas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Model-implied covariances (B, G, p, p) and means (B, G, p)."""
    lam = _fill(model.lam, thetas)
    psi = _fill(model.psi, thetas)
    th = _fill(model.theta, thetas)
    sigma = lam @ psi @ np.swapaxes(lam, -1, -2) + th
    nu = _fill(model.nu, thetas)[..., 0]
    alpha = _fill(model.alpha, thetas)
    mu = nu + (lam @ alpha)[..., 0]
    return sigma, mu


def _jacobian(model: _Model, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """d Sigma / d theta (q, G, p, p) and d mu / d theta (q, G, p) by central differences.

    Sigma and mu are polynomials of degree <= 2 in each single parameter (unless one label ties
    parameters of different matrices), so the central difference is exact up to rounding.
    """
    q = x.size
    h = 1e-4 * np.maximum(1.0, np.abs(x))
    steps = np.diag(h)
    sig, mu = _implied(model, np.vstack([x + steps, x - steps]))
    dsig = (sig[:q] - sig[q:]) / (2 * h)[:, None, None, None]
    dmu = (mu[:q] - mu[q:]) / (2 * h)[:, None, None]
    return dsig, dmu


# --------------------------------------------------------------------------------------------
# sample statistics and the ML discrepancy
# --------------------------------------------------------------------------------------------
@dataclass
class _Sample:
    S: np.ndarray  # (G, p, p), divisor n_g
    ybar: np.ndarray  # (G, p)
    n: np.ndarray  # (G,)
    logdet_S: np.ndarray  # (G,)
    patterns: list | None = None  # per group: the rows by pattern of missingness (_fiml.Pattern)

    @property
    def N(self) -> int:
        return int(self.n.sum())

    @property
    def w(self) -> np.ndarray:
        return self.n / self.n.sum()


class _Objective:
    """ML discrepancy with cached value, gradient and expected-information Hessian."""

    def __init__(self, model: _Model, sample: _Sample) -> None:
        self.model, self.sample = model, sample
        self._x: np.ndarray | None = None

    def _eval(self, x: np.ndarray) -> None:
        if self._x is not None and np.array_equal(x, self._x):
            return
        self._x = x.copy()
        m, s = self.model, self.sample
        sigma, mu = _implied(m, x[None, :])
        sigma, mu = sigma[0], mu[0]
        q = x.size
        try:
            chol = np.linalg.cholesky(sigma)
        except np.linalg.LinAlgError:
            self.f, self.g, self.H, self.ok = np.inf, np.zeros(q), np.eye(q), False
            return
        self.ok = True
        logdet = 2 * np.log(np.diagonal(chol, axis1=-2, axis2=-1)).sum(-1)
        p = sigma.shape[-1]
        sinv = np.linalg.inv(sigma)
        d = s.ybar - mu if m.meanstructure else np.zeros_like(mu)
        sinv_d = np.einsum("gij,gj->gi", sinv, d)
        fg = logdet + np.einsum("gij,gji->g", s.S, sinv) - s.logdet_S - p + np.einsum("gi,gi->g", d, sinv_d)
        w = s.w
        self.fg = fg
        self.f = float(w @ fg)
        dsig, dmu = _jacobian(m, x)
        W = sinv - sinv @ (s.S + d[:, :, None] * d[:, None, :]) @ sinv
        G = w.size
        self.g = dsig.reshape(q, -1) @ (W * w[:, None, None]).ravel()
        self.g -= 2 * dmu.reshape(q, -1) @ (sinv_d * w[:, None]).ravel()
        # expected information: H_kl = sum_g w_g tr(Sinv dS_k Sinv dS_l) (+ 2 w_g dmu_k' Sinv dmu_l)
        A = sinv[None] @ dsig  # (q, G, p, p)
        At = np.swapaxes(A, -1, -2) * w[None, :, None, None]
        H = A.reshape(q, -1) @ At.reshape(q, -1).T
        if m.meanstructure:
            B = np.einsum("kgi,gij->kgj", dmu, sinv) * w[None, :, None]  # rows dmu_k' Sinv
            H = H + 2 * B.reshape(q, G * p) @ dmu.reshape(q, G * p).T
        self.H = (H + H.T) / 2
        self.sigma, self.mu, self.sinv, self.logdet = sigma, mu, sinv, logdet

    def fun(self, x: np.ndarray) -> float:
        self._eval(x)
        return self.f

    def jac(self, x: np.ndarray) -> np.ndarray:
        self._eval(x)
        return self.g

    def hess(self, x: np.ndarray) -> np.ndarray:
        self._eval(x)
        return self.H


def _start_values(model: _Model, sample: _Sample) -> np.ndarray:
    """Starting values: a one-factor principal-axis solution per factor block, rescaled to the markers."""
    x = np.zeros(model.q)
    seen = np.zeros(model.q, dtype=bool)
    G = model.n_groups
    lam = np.zeros((G, len(model.ov), len(model.lv)))
    psi = np.zeros((G, len(model.lv), len(model.lv)))
    lam_mask, lam_idx, lam_val = model.lam
    for g in range(G):
        S = sample.S[g]
        sd = np.sqrt(np.diag(S))
        for f in range(len(model.lv)):
            items = np.flatnonzero(lam_mask[g, :, f] | (lam_val[g, :, f] != 0))
            if items.size == 0:
                continue
            R = S[np.ix_(items, items)] / np.outer(sd[items], sd[items])
            if items.size >= 2:
                vals, vecs = np.linalg.eigh(R)
                load = vecs[:, -1] * np.sqrt(max(vals[-1] - 1 + 1e-9, 0.1 * vals[-1]))
                load = np.clip(load, -0.95, 0.95)
            else:
                load = np.array([0.7])
            L = load * sd[items]
            fixed = ~lam_mask[g, items, f]
            if fixed.any():  # rescale so the (first) fixed loading takes its value
                k = np.flatnonzero(fixed)[0]
                v = lam_val[g, items[k], f]
                if v != 0 and L[k] != 0:
                    scale = L[k] / v
                    lam[g, items, f] = L / scale
                    psi[g, f, f] = scale**2
                    continue
            if L[0] < 0:  # a factor identified by its variance: first loading positive, as lavaan's start values
                L = -L
            lam[g, items, f] = L
            psi[g, f, f] = 1.0
    th0 = 0.5 * np.diagonal(sample.S, axis1=1, axis2=2)

    def put(spec, values):
        mask, idx, _ = spec
        for k, v in zip(idx[mask], values[mask]):
            if not seen[k]:
                x[k], seen[k] = v, True

    put(model.lam, lam)
    put(model.psi, psi)
    theta0 = np.zeros((G, len(model.ov), len(model.ov)))
    theta0[:, np.arange(len(model.ov)), np.arange(len(model.ov))] = th0
    put(model.theta, theta0)
    put(model.nu, sample.ybar[..., None])
    put(model.alpha, np.zeros((G, len(model.lv), 1)))
    return x


# --------------------------------------------------------------------------------------------
# fit measures
# --------------------------------------------------------------------------------------------
def _rmsea_ci(chisq: float, df: int, N: int, G: int, level: float = 0.90) -> tuple[float, float]:
    """lavaan's RMSEA confidence interval: invert the noncentral chi-square in its ncp."""
    if df < 1:
        return float("nan"), float("nan")
    lo_p, hi_p = 1 - (1 - level) / 2, (1 - level) / 2

    def f_lo(lam: float) -> float:
        return stats.ncx2.cdf(chisq, df, lam) - lo_p if lam > 0 else stats.chi2.cdf(chisq, df) - lo_p

    def f_hi(lam: float) -> float:
        return stats.ncx2.cdf(chisq, df, lam) - hi_p if lam > 0 else stats.chi2.cdf(chisq, df) - hi_p

    if f_lo(0.0) < 0:
        lower = 0.0
    else:
        lam_l = optimize.brentq(f_lo, 0.0, chisq, xtol=1e-12)
        lower = np.sqrt(lam_l / (N * df))
    n_rmsea = max(N, chisq * 4)
    if f_hi(n_rmsea) > 0 or f_hi(0.0) < 0:
        upper = 0.0
    else:
        lam_u = optimize.brentq(f_hi, 0.0, n_rmsea, xtol=1e-12)
        upper = np.sqrt(lam_u / (N * df))
    return float(lower * np.sqrt(G)), float(upper * np.sqrt(G))


def _fit_measures(model: _Model, sample: _Sample, obj: _Objective) -> FitMeasures:
    G, N, p, q = model.n_groups, sample.N, len(model.ov), model.q
    chisq = float(sample.n @ obj.fg)
    moments = p * (p + 1) // 2 + (p if model.meanstructure else 0)
    df = G * moments - q
    pvalue = float(stats.chi2.sf(chisq, df)) if df > 0 else float("nan")
    diag = np.diagonal(sample.S, axis1=1, axis2=2)
    base_chisq = float(sample.n @ (np.log(diag).sum(1) - sample.logdet_S))
    base_df = G * p * (p - 1) // 2
    rmsea = float(np.sqrt(max(chisq - df, 0.0) / (N * df)) * np.sqrt(G)) if df > 0 else 0.0
    ci_lo, ci_hi = _rmsea_ci(chisq, df, N, G)
    # SRMR (Bentler): residuals standardised by the observed sds, diagonal included, per group,
    # then weighted by the group sizes
    sd = np.sqrt(diag)
    resid = (sample.S - obj.sigma) / (sd[:, :, None] * sd[:, None, :])
    tri = np.tril_indices(p)
    ssq = (resid[:, tri[0], tri[1]] ** 2).sum(1)
    if model.meanstructure:
        ssq = ssq + (((sample.ybar - obj.mu) / sd) ** 2).sum(1)
    srmr = float(sample.w @ np.sqrt(ssq / moments))
    d = sample.ybar - obj.mu if model.meanstructure else np.zeros_like(obj.mu)
    quad = np.einsum("gi,gij,gj->g", d, obj.sinv, d)
    trace = np.einsum("gij,gji->g", sample.S, obj.sinv)
    loglik = float(-0.5 * sample.n @ (p * np.log(2 * np.pi) + obj.logdet + trace + quad))
    unrestricted = float(-0.5 * sample.n @ (p * np.log(2 * np.pi) + sample.logdet_S + p))
    return FitMeasures({
        "npar": int(q), "fmin": chisq / (2 * N), "chisq": chisq, "df": int(df), "pvalue": pvalue,
        **_incremental(chisq, df, base_chisq, base_df),
        "logl": loglik, "unrestricted.logl": unrestricted,
        "aic": float(-2 * loglik + 2 * q), "bic": float(-2 * loglik + q * np.log(N)),
        "ntotal": N, "bic2": float(-2 * loglik + q * np.log((N + 2) / 24)),
        "rmsea": rmsea, "rmsea.ci.lower": ci_lo, "rmsea.ci.upper": ci_hi, "rmsea.ci.level": 0.90,
        **_rmsea_tests(chisq, df, N, G),
        "srmr": srmr, "srmr_bentler": srmr,
        "mfi": float(np.exp(-0.5 * (chisq - df) / N)), "ecvi": float((chisq + 2 * q) / N),
        "ngroups": G,
    })


def _incremental(chisq: float, df: int, base_chisq: float, base_df: int) -> dict[str, float]:
    """The baseline test and the incremental indices, by lavaan's formulas (``fitMeasures``)."""
    t1 = max(chisq - df, 0.0)
    t2 = max(chisq - df, base_chisq - base_df, 0.0)
    cfi = 1.0 if t2 == 0 else 1.0 - t1 / t2
    per_df = chisq / df if df > 0 else 0.0
    base_per_df = base_chisq / base_df
    tli = (base_per_df - per_df) / (base_per_df - 1.0) if df > 0 else 1.0
    nfi = (base_chisq - chisq) / base_chisq
    return {
        "baseline.chisq": base_chisq, "baseline.df": int(base_df),
        "baseline.pvalue": float(stats.chi2.sf(base_chisq, base_df)),
        "cfi": float(cfi), "tli": float(tli), "nnfi": float(tli),
        "rfi": float((base_per_df - per_df) / base_per_df),
        "nfi": float(nfi), "pnfi": float(df / base_df * nfi),
        "ifi": float((base_chisq - chisq) / (base_chisq - df)),
        "rni": float(1.0 - (chisq - df) / (base_chisq - base_df)),
    }


def _rmsea_tests(chisq: float, df: int, N: int, G: int) -> dict[str, float]:
    """Tests of close fit (RMSEA <= 0.05) and of not-close fit (RMSEA >= 0.08), as lavaan."""
    if df < 1:
        return {"rmsea.pvalue": float("nan"), "rmsea.close.h0": 0.05,
                "rmsea.notclose.pvalue": float("nan"), "rmsea.notclose.h0": 0.08}
    close = stats.ncx2.sf(chisq, df, N * df * 0.05**2 / G)
    notclose = stats.ncx2.cdf(chisq, df, N * df * 0.08**2 / G)
    return {"rmsea.pvalue": float(close), "rmsea.close.h0": 0.05,
            "rmsea.notclose.pvalue": float(notclose), "rmsea.notclose.h0": 0.08}


# --------------------------------------------------------------------------------------------
# standardized solution
# --------------------------------------------------------------------------------------------
def _std_all(model: _Model, thetas: np.ndarray) -> np.ndarray:
    """std.all value of every entry for a batch of parameter vectors: (B, q) -> (B, n_entries)."""
    lam = _fill(model.lam, thetas)
    psi = _fill(model.psi, thetas)
    th = _fill(model.theta, thetas)
    sigma = lam @ psi @ np.swapaxes(lam, -1, -2) + th
    nu = _fill(model.nu, thetas)[..., 0]
    alpha = _fill(model.alpha, thetas)[..., 0]
    sd_ov = np.sqrt(np.diagonal(sigma, axis1=-2, axis2=-1))
    sd_lv = np.sqrt(np.abs(np.diagonal(psi, axis1=-2, axis2=-1)))
    sd_th = np.sqrt(np.abs(np.diagonal(th, axis1=-2, axis2=-1)))
    out = np.empty((thetas.shape[0], len(model.entries)))
    for k, e in enumerate(model.entries):
        g, i, j = e.g, e.i, e.j
        if e.mat == "lam":
            out[:, k] = lam[:, g, i, j] * sd_lv[:, g, j] / sd_ov[:, g, i]
        elif e.mat == "psi":
            out[:, k] = psi[:, g, i, j] / (sd_lv[:, g, i] * sd_lv[:, g, j])
        elif e.mat == "theta" and i == j:
            out[:, k] = th[:, g, i, i] / sigma[:, g, i, i]
        elif e.mat == "theta":  # residual covariances as correlations of the residuals (cov.std = TRUE)
            out[:, k] = th[:, g, i, j] / (sd_th[:, g, i] * sd_th[:, g, j])
        elif e.mat == "nu":
            out[:, k] = nu[:, g, i] / sd_ov[:, g, i]
        else:  # alpha
            out[:, k] = alpha[:, g, i] / sd_lv[:, g, i]
    return out


# --------------------------------------------------------------------------------------------
# input checks
# --------------------------------------------------------------------------------------------
def _sample_stats(data: pd.DataFrame, ov: list[str], group: str | None,
                  missing: str = "listwise") -> tuple[_Sample, list, int]:
    cols = ov + ([group] if group is not None else [])
    sub = data[cols]
    complete = sub.notna().all(axis=1).to_numpy()
    if missing == "ml":  # FIML keeps every row with a group and at least one answer
        complete = sub[ov].notna().any(axis=1).to_numpy() & (group is None or sub[group].notna().to_numpy())
    dropped = int((~complete).sum())
    sub = sub.loc[complete]
    bad = [c for c in ov if not pd.api.types.is_numeric_dtype(sub[c]) or pd.api.types.is_bool_dtype(sub[c])]
    if bad:
        raise ModelSpecificationError(f"model variables must be numeric columns; not numeric: {bad}")
    X = sub[ov].to_numpy(dtype=float)
    if group is None:
        labels: list = [None]
        codes = np.zeros(len(sub), dtype=int)
    else:
        gcol = sub[group]
        if isinstance(gcol.dtype, pd.CategoricalDtype):
            labels = [c for c in gcol.cat.categories if (gcol == c).any()]
        else:
            labels = list(pd.unique(gcol))
        codes = pd.Categorical(gcol, categories=labels).codes
        if len(labels) < 2:
            raise InsufficientDataError(f"group column {group!r} has {len(labels)} group(s) with complete rows; need 2")
    p = len(ov)
    G = len(labels)
    S = np.empty((G, p, p))
    ybar = np.empty((G, p))
    n = np.bincount(codes, minlength=G)
    patterns: list = []
    for g in range(G):
        where = f"group {labels[g]!r}" if group is not None else "the data"
        if n[g] <= p:
            raise InsufficientDataError(
                f"{where} has {n[g]} complete rows for {p} model variables; need at least {p + 1} "
                "(and many more for a trustworthy CFA)"
            )
        Xg = X[codes == g]
        patterns.append(_fiml.group_patterns(Xg))
        if missing == "ml":  # the saturated (h1) moments by EM
            ybar[g], S[g], _ = _fiml.em_saturated(patterns[g], p)
        else:
            ybar[g] = Xg.mean(0)
            Z = Xg - ybar[g]
            S[g] = Z.T @ Z / n[g]
        var = np.diag(S[g])
        const = [ov[k] for k in np.flatnonzero(var <= 1e-12 * max(1.0, float(var.max())))]
        if const:
            raise NotPositiveDefiniteError(f"sample covariance of {where} is not positive definite: "
                                           f"{const} have no variance")
        R = S[g] / np.sqrt(np.outer(var, var))
        ev = np.linalg.eigvalsh(R)
        if ev[0] <= 1e-10:
            raise NotPositiveDefiniteError(
                f"sample covariance of {where} is not positive definite (smallest eigenvalue of the "
                f"correlation matrix {ev[0]:.3g}): some items are linear combinations of others"
            )
    logdet = np.linalg.slogdet(S)[1]
    return _Sample(S, ybar, n, logdet, patterns), labels, dropped


# --------------------------------------------------------------------------------------------
# the public function
# --------------------------------------------------------------------------------------------
def cfa(
    data: pd.DataFrame,
    model: str,
    *,
    estimator: str | None = None,
    std_lv: bool = False,
    group: str | None = None,
    group_equal: Sequence[str] = (),
    meanstructure: bool | None = None,
    ordered: bool | Sequence[str] | None = None,
    missing: str = "listwise",
    orthogonal: bool = False,
    group_partial: Sequence[str] = (),
) -> CFAResult:
    """Confirmatory factor analysis by maximum likelihood, as ``lavaan::cfa``.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per person; the model's observed variables as numeric columns. Rows with a
        missing value on a model variable (or the group) are dropped (listwise, lavaan's default).
    model : str
        lavaan model syntax: ``f =~ a + b + c`` (first loading fixed to 1 unless ``std_lv``),
        ``a ~~ b`` (residual or factor covariance), ``x ~ 1`` (intercept), premultipliers
        ``1*a`` (fixed), ``NA*a`` (free), ``lab*a`` (label: equal labels, equal parameters);
        ``#`` comments; newlines or ``;`` between statements.
    estimator : {"ML", "MLR", "WLSMV"}, optional
        "ML" (normal-theory maximum likelihood, the default for continuous items); "MLR" adds robust
        (Huber-White) standard errors, the Yuan-Bentler scaled chi-square (lavaan
        ``test = "yuan.bentler.mplus"``) and the ``.scaled`` / ``.robust`` fit measures, as lavaan's
        ``estimator = "MLR"``; "WLSMV" (the default when ``ordered`` is given): DWLS on thresholds and
        polychoric correlations with robust standard errors and the scaled-shifted test, as
        ``lavaan::cfa(..., ordered = items, estimator = "WLSMV")``; see :mod:`psyscreen.validity._wls`.
    std_lv : bool, default False
        Identify the factors by fixing their variances to 1 and freeing all loadings.
    group : str, optional
        Column with the group of each row: a multi-group fit (with a mean structure).
    group_equal : sequence of str
        Parameters held equal across groups, as lavaan's ``group.equal``: any of "loadings",
        "intercepts", "residuals", "residual.covariances", "lv.variances", "lv.covariances",
        "means". With "intercepts" (and not "means") the factor means are free in every group
        but the first, as in lavaan.
    meanstructure : bool, optional
        Estimate intercepts (default: only for a multi-group fit, when the model has ``~ 1`` or
        with FIML). The fit of a single-group model does not change with it.
    ordered : bool or sequence of str, optional
        The ordinal items (``True``: every model item), as lavaan's ``ordered =``. Their categories
        are the sorted distinct values; rows with a missing answer are dropped (listwise, lavaan's
        default), with one warning. ``group_equal`` may then also hold "thresholds" (lavaan then
        frees the scaling factors and factor means in the later groups).
    missing : {"listwise", "ml"}
        "listwise" drops every row with a missing answer (and warns how many); "ml" is full
        information maximum likelihood (lavaan ``missing = "ml"``, continuous items only): every row
        with at least one answer is used, the saturated model is estimated by EM, standard errors
        come from the observed information.
    orthogonal : bool, default False
        Fix the covariances between factors that the model does not name to 0 (lavaan's
        ``orthogonal = TRUE``), e.g. for a bifactor model.
    group_partial : sequence of str
        Parameters released from ``group_equal`` (lavaan's ``group.partial``), written as in the
        model: ``"f =~ x3"`` (a loading), ``"x7 ~ 1"`` (an intercept), ``"x1 ~~ x1"`` (a residual
        variance), ``"x1 ~~ x2"``, and with WLSMV ``"x1 | t1"`` (a threshold): estimated freely in
        every group (partial invariance).

    Returns
    -------
    CFAResult
        ``fit``, ``params``, ``std_loadings``, ``reliability``; ``to_frame()`` is the parameter table.

    Raises
    ------
    ModelSyntaxError
        The model text is not understood (with line and token).
    ModelSpecificationError
        A variable is not in the data, a higher-order factor, a non-numeric column.
    NotPositiveDefiniteError, InsufficientDataError
        The sample covariance of a group is singular; too few complete rows.
    IdentificationError, ConvergenceError
        The model is not identified; the optimiser failed (its message is included).

    Notes
    -----
    A latent mean named in the model (``f ~ 1``) is free, as in lavaan. It is identified only when
    intercepts are fixed or held equal across groups: where the model leaves the intercepts of that
    factor's indicators unwritten (one group, or no equal intercepts), they are fixed at 0 as
    ``lavaan::growth`` does, and the result's ``warnings`` say so (``lavaan::cfa`` would fit the
    unidentified model with a warning). :func:`psyscreen.validity.growth.growth` fits a growth model
    with all of lavaan::growth's defaults.

    Matches ``lavaan::cfa(model, data, estimator = "ML")`` (lavaan 0.6.14, default options:
    ``likelihood = "normal"``, ``information = "expected"``, ``se = "standard"``) and
    ``fitMeasures(fit)``; ``std_loadings`` is ``standardizedSolution(fit)`` (``std.all``) for the
    ``=~`` rows. AIC and BIC use the full log-likelihood with the sample means; without a mean
    structure the means are not counted in ``npar`` (as lavaan). ``reliability`` holds composite
    reliability and AVE by both definitions of ``semTools::compRelSEM`` / ``semTools::AVE``
    (semTools 0.5.6): ``omega`` and ``ave`` divide by the model-implied total variance
    (``obs.var = FALSE``), ``omega_obs`` and ``ave_obs`` by the observed one (``obs.var = TRUE``,
    semTools' default); see :func:`_reliability`.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(1)
    >>> f = rng.normal(size=(500, 1))
    >>> df = pd.DataFrame(f @ [[0.8, 0.7, 0.6, 0.5]] + rng.normal(scale=0.6, size=(500, 4)),
    ...                   columns=["a", "b", "c", "d"])
    >>> res = cfa(df, "f =~ a + b + c + d")
    >>> res.fit.df
    2
    >>> bool(res.fit.cfi > 0.95)
    True
    """
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    is_ordered = ordered is not None and ordered is not False
    est = ("WLSMV" if is_ordered else "ML") if estimator is None else str(estimator).upper()
    if est not in ("ML", "MLR", "WLSMV"):
        raise ModelSpecificationError(f"estimator {estimator!r} is not supported; use 'ML', 'MLR' or 'WLSMV'")
    if est != "WLSMV" and is_ordered:
        raise ModelSpecificationError("ordered items need estimator='WLSMV' (ML treats items as continuous: "
                                      "drop ordered= for an ML fit)")
    if est == "WLSMV" and not is_ordered:
        raise ModelSpecificationError("estimator='WLSMV' needs the ordinal items: pass ordered=True "
                                      "(all model items) or ordered=[items]")
    if missing not in ("listwise", "ml"):
        raise ModelSpecificationError(f"missing={missing!r} is not understood; use 'listwise' or 'ml' (FIML)")
    if est == "WLSMV" and missing == "ml":
        raise ModelSpecificationError("missing='ml' (FIML) is for continuous items; WLSMV with ordered items "
                                      "uses the rows with every answer (listwise, as lavaan)")
    estimator = est
    group_equal = tuple(group_equal) if not isinstance(group_equal, str) else (group_equal,)
    allowed = GROUP_EQUAL_TYPES + (("thresholds",) if est == "WLSMV" else ())
    unknown = [t for t in group_equal if t not in allowed]
    if unknown:
        raise ModelSpecificationError(f"group_equal {unknown} not understood; use any of {list(allowed)}")
    if group is not None and group not in data.columns:
        raise ModelSpecificationError(f"group column {group!r} is not in the data")
    if group is None and group_equal:
        raise ModelSpecificationError("group_equal needs a group column (group=...)")
    partial = _parse_partial(group_partial) if est != "WLSMV" else ()  # WLSMV parses its own (thresholds too)
    if (partial or group_partial) and not group_equal:
        raise ModelSpecificationError("group_partial releases constraints of group_equal; give group_equal too")
    terms = parse_model(model)
    if meanstructure is None:
        meanstructure = group is not None or any(t.op == "~1" for t in terms) or missing == "ml"
    if missing == "ml" and not meanstructure:
        raise ModelSpecificationError("missing='ml' (FIML) needs the mean structure; leave meanstructure unset")
    if not meanstructure and any(t.op == "~1" for t in terms):
        raise ModelSpecificationError("the model has intercepts ('~ 1'); they need meanstructure=True")

    # the variables, then the sample statistics per group
    probe = _build_model(terms, list(map(str, data.columns)), 1, std_lv=std_lv,
                         group_equal=(), meanstructure=bool(meanstructure))
    if est == "WLSMV":
        from psyscreen.validity._wls import cfa_ordinal

        if orthogonal:
            raise ModelSpecificationError("orthogonal= is not yet available with WLSMV; write the zero "
                                          "covariances into the model ('f1 ~~ 0*f2')")

        items = probe.ov if ordered is True else ([ordered] if isinstance(ordered, str) else list(ordered))
        return cfa_ordinal(data.rename(columns=str), model, terms, probe.ov, probe.lv, ordered=items,
                           group=group, group_equal=group_equal, std_lv=std_lv, group_partial=group_partial)
    sample, labels, n_dropped = _sample_stats(data.rename(columns=str), probe.ov, group, missing)
    mod = _build_model(terms, list(map(str, data.columns)), len(labels), std_lv=std_lv,
                       group_equal=group_equal, meanstructure=bool(meanstructure),
                       orthogonal=orthogonal, group_partial=partial)
    named = {(e.lhs, e.op, e.rhs) for e in mod.entries} | {(e.rhs, e.op, e.lhs) for e in mod.entries if e.op == "~~"}
    not_in_model = [" ".join(t) for t in partial if t not in named]
    if not_in_model:
        raise ModelSpecificationError(f"group_partial names parameters the model does not have: {not_in_model}")

    obj = _Objective(mod, sample) if missing == "listwise" else _fiml.FIMLObjective(mod, sample)
    x0 = _start_values(mod, sample)
    iterates = [x0]
    with np.errstate(all="ignore"), small_blas(len(mod.ov)):  # p x p matrices: one BLAS thread
        try:
            opt = optimize.minimize(
                obj.fun, x0, jac=obj.jac, hess=obj.hess, method="trust-exact",
                options={"gtol": 1e-9, "maxiter": 2000}, callback=lambda xk: iterates.append(np.copy(xk)),
            )
        except (ValueError, np.linalg.LinAlgError) as exc:  # the step breaks down at a noise-level gradient
            opt = optimize.OptimizeResult(x=iterates[-1], success=False, nit=len(iterates) - 1, message=str(exc))
    obj._eval(opt.x)
    if not opt.success or not obj.ok:
        # trust-exact stops when it can make no progress; accept a stationary point
        if not (obj.ok and np.max(np.abs(obj.g)) < 1e-6):
            raise ConvergenceError(
                f"the ML fit did not converge after {opt.nit} iterations: {opt.message} "
                f"(max |gradient| {np.max(np.abs(obj.g)) if obj.ok else float('nan'):.3g})"
            )
    x = opt.x
    H = obj.H
    ev = np.linalg.eigvalsh(H)
    if ev[0] <= 1e-10 * max(ev[-1], 1.0):
        hint = ""
        if any(e.mat == "alpha" and k >= 0 for e, k in zip(mod.entries, mod.index)):
            hint = ("; the model frees latent means ('f ~ 1'): fix the observed intercepts ('x1 ~ 0*1', ...) "
                    "or fit it with psyscreen.validity.growth, as lavaan::growth")
        raise IdentificationError(
            "the model is not identified (the information matrix is singular): check that every factor "
            "has a fixed loading or variance and enough indicators" + hint
        )
    vcov = 2.0 / sample.N * np.linalg.inv(H)
    fit = _fit_measures(mod, sample, obj)
    if missing == "ml" or estimator == "MLR":  # observed information, FIML figures, sandwich, scaled test
        vcov, fit = _robust.inference(mod, sample, obj, x, fit, estimator=estimator, fiml=missing == "ml")
    se_free = np.sqrt(np.clip(np.diag(vcov), 0, None))

    # parameter table
    est_entries = np.array([x[k] if k >= 0 else (e.fixed or 0.0) for e, k in zip(mod.entries, mod.index)])
    se = np.array([se_free[k] if k >= 0 else np.nan for k in mod.index])
    with np.errstate(divide="ignore", invalid="ignore"):
        z = est_entries / se
    pval = 2 * stats.norm.sf(np.abs(z))
    std = _std_all(mod, x[None, :])[0]
    hstep = 1e-6 * np.maximum(1.0, np.abs(x))
    both = _std_all(mod, np.vstack([x + np.diag(hstep), x - np.diag(hstep)]))
    J = ((both[: x.size] - both[x.size:]) / (2 * hstep)[:, None]).T  # (entries, q)
    std_se = np.sqrt(np.clip(np.einsum("ek,kl,el->e", J, vcov, J), 0, None))
    # a factor variance is 1 in the standardized metric whatever the estimates: no SE
    std_se[[e.mat == "psi" and e.i == e.j for e in mod.entries]] = np.nan

    multi = group is not None
    params = pd.DataFrame({
        "lhs": [e.lhs for e in mod.entries],
        "op": [e.op for e in mod.entries],
        "rhs": [e.rhs for e in mod.entries],
        "group": [labels[e.g] for e in mod.entries],
        "label": [e.label or "" for e in mod.entries],
        "free": mod.index >= 0,
        "est": est_entries,
        "se": se,
        "z": z,
        "pvalue": pval,
        "std_all": std,
        "std_all_se": std_se,
    })
    if not multi:
        params = params.drop(columns="group")
    load = params[params["op"] == "=~"]
    std_loadings = pd.DataFrame({"factor": load["lhs"].to_numpy(), "item": load["rhs"].to_numpy()})
    if multi:
        std_loadings["group"] = load["group"].to_numpy()
    std_loadings["estimate"] = load["std_all"].to_numpy()
    std_loadings["se"] = load["std_all_se"].to_numpy()

    reliability = _reliability(mod, x, sample, labels, multi)
    return CFAResult(
        fit=fit, params=params.reset_index(drop=True), std_loadings=std_loadings, reliability=reliability,
        model=model, groups=tuple(labels), group_equal=group_equal, n_obs=tuple(int(v) for v in sample.n),
        vcov=vcov, iterations=int(opt.nit), n_used=sample.N, n_dropped=n_dropped, estimator=estimator,
        missing=missing, warnings=_robust.dropped_rows_warning("cfa", sample.N, n_dropped, missing) + _said(mod.notes),
        group_partial=tuple(" ".join(t).replace(" ~1 ", " ~ 1") for t in partial), _engine=(mod, sample, x),
    )


def _parse_partial(group_partial: Sequence[str]) -> tuple[tuple[str, str, str], ...]:
    """``["f =~ x3", "x7 ~ 1", "x1 ~~ x1"]`` -> ((lhs, op, rhs), ...) with ``~1`` for intercepts."""
    if isinstance(group_partial, str):
        group_partial = (group_partial,)
    out = []
    for text in group_partial:
        if "|" in str(text):
            raise ModelSpecificationError(f"group_partial entry {text!r} is a threshold: thresholds belong to ordered "
                                          "items, fitted by WLSMV (ordered=True)")
        try:
            terms = parse_model(str(text))
        except ModelSyntaxError as err:
            raise ModelSpecificationError(f"group_partial entry {text!r} is not a parameter: {err}") from None
        if len(terms) != 1:
            raise ModelSpecificationError(
                f"group_partial entry {text!r} must name one parameter, e.g. 'f =~ x3', 'x7 ~ 1', 'x1 ~~ x1'")
        t = terms[0]
        out.append((t.lhs, t.op, t.rhs))
    return tuple(out)


def _said(notes: tuple[str, ...]) -> tuple[str, ...]:
    """Issue each note as a warning and return them for the result's ``warnings``."""
    for note in notes:
        warnings.warn(note, UserWarning, stacklevel=3)
    return tuple(notes)


def _reliability(model: _Model, x: np.ndarray, sample: _Sample, labels: list, multi: bool) -> pd.DataFrame:
    """Composite reliability and AVE of each factor, by both definitions of semTools 0.5.6.

    For factor ``f`` with items ``I`` (the items with a non-zero loading on ``f``):

    - ``omega`` = ``(sum_I lambda_if)^2 psi_ff / 1' Sigma_II 1`` with ``Sigma`` the model-implied
      covariance matrix: the denominator holds every factor, cross-loading and residual covariance
      (``semTools::compRelSEM(fit, obs.var = FALSE)``);
    - ``omega_obs``: the same numerator over ``1' S_II 1``, the observed total variance of the sum
      score (``compRelSEM(fit, obs.var = TRUE)``, semTools' default);
    - ``ave`` = ``sum_I lambda_if^2 psi_ff / sum_I Sigma_ii`` (``semTools::AVE(fit, obs.var = FALSE)``)
      and ``ave_obs`` with the observed variances ``S_ii`` (``AVE(fit)``). AVE is undefined (NaN, as
      semTools' NA) for a factor whose items load on another factor too (e.g. a bifactor model).
    """
    lam = _fill(model.lam, x[None, :])[0]
    psi = _fill(model.psi, x[None, :])[0]
    th = _fill(model.theta, x[None, :])[0]
    sigma = lam @ psi @ np.swapaxes(lam, -1, -2) + th
    rows = []
    for g in range(model.n_groups):
        loads_on = lam[g] != 0
        for f, name in enumerate(model.lv):
            items = np.flatnonzero(loads_on[:, f])
            true = lam[g, items, f].sum() ** 2 * psi[g, f, f]
            block = np.ix_(items, items)
            common = (lam[g, items, f] ** 2).sum() * psi[g, f, f]
            complex_items = loads_on[items].sum(axis=1) > 1
            nan = float("nan")
            row = {"factor": name, "n_items": int(items.size),
                   "omega": float(true / sigma[g][block].sum()),
                   "omega_obs": float(true / sample.S[g][block].sum()),
                   "ave": nan if complex_items.any() else float(common / np.trace(sigma[g][block])),
                   "ave_obs": nan if complex_items.any() else float(common / np.trace(sample.S[g][block]))}
            if multi:
                row = {"factor": name, "group": labels[g], **{k: v for k, v in row.items() if k != "factor"}}
            rows.append(row)
    return pd.DataFrame(rows)
