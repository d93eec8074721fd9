"""Modification indices of a fitted ML CFA, as ``lavaan::modindices``.

For every parameter the model fixes (a cross-loading, a residual covariance, a factor covariance
fixed at 0, a fixed intercept or latent mean, and in multi-group models a marker loading that the
equality constraints make estimable), the modification index is the score (Lagrange multiplier)
test of freeing it alone, with one degree of freedom, from the expected information of the
fitted model:

``mi = N/2 * g_2^2 / V``, ``epc = -g_2 / V``, ``V = H_22 - H_21 H_11^-1 H_12``,

where ``g_2`` is the gradient of the ML discrepancy ``F = sum_g (n_g / N) F_g`` in the fixed
parameter at the estimates and ``H`` its expected information (the Hessian of ``F``) over the
free parameters (``1``) and the fixed one (``2``). The epc is the expected parameter change
(Saris, Satorra and Sörbom, 1987); ``sepc.lv`` standardizes it by the factor variances,
``sepc.all`` (and ``sepc.nox``: a CFA has no exogenous observed covariates) also by the observed
model-implied standard deviations, and residual covariances by the residual standard deviations,
as lavaan. A parameter whose freeing would leave the model unidentified (``V`` zero: a marker
loading of a one-group model, a fixed factor variance under ``std_lv``) has no index and is left
out, as lavaan's ``na.remove = TRUE``.

The algorithm is owned here because no Python SEM package reproduces lavaan's table; it reuses
the engine of :mod:`psyscreen.validity.cfa` (same parameterization, equality constraints as
shared parameters).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from psyscreen.validity.cfa import CFAError, CFAResult, _fill, _Model, _Objective

__all__ = ["modindices"]

# freeing a parameter is taken as not identified when the information it adds beyond the free
# parameters is below this fraction of its own information (lavaan then reports NA)
_UNIDENTIFIED = 1e-8


def _candidates(model: _Model) -> list[tuple[str, int, int, int]]:
    """The fixed cells of every group, in lavaan's order: =~, ov ~~ ov, lv ~~ lv, then ~1."""
    p, m = len(model.ov), len(model.lv)
    out = []
    for g in range(model.n_groups):
        free = {name: getattr(model, name)[0][g] for name in ("lam", "psi", "theta", "nu", "alpha")}
        out += [("lam", g, i, f) for f in range(m) for i in range(p) if not free["lam"][i, f]]
        out += [("theta", g, i, j) for i in range(p) for j in range(i, p) if not free["theta"][i, j]]
        out += [("psi", g, a, b) for a in range(m) for b in range(a, m) if not free["psi"][a, b]]
        if model.meanstructure:
            out += [("nu", g, i, 0) for i in range(p) if not free["nu"][i, 0]]
            out += [("alpha", g, f, 0) for f in range(m) if not free["alpha"][f, 0]]
    return out


def _extend(model: _Model, cand: list[tuple[str, int, int, int]]) -> _Model:
    """The model with every candidate cell as an extra free parameter (indices q, q+1, ...)."""
    specs = {name: tuple(a.copy() for a in getattr(model, name)) for name in ("lam", "psi", "theta", "nu", "alpha")}
    for k, (name, g, i, j) in enumerate(cand):
        mask, idx, _ = specs[name]
        for a, b in {(i, j), (j, i)} if name in ("psi", "theta") else {(i, j)}:
            mask[g, a, b], idx[g, a, b] = True, model.q + k
    return replace(model, q=model.q + len(cand), **specs)


def modindices(result: CFAResult, *, minimum_value: float = 0.0, sort: bool = True) -> pd.DataFrame:
    """Modification indices of a fitted CFA, as ``lavaan::modindices(fit)``.

    Parameters
    ----------
    result : CFAResult
        A fit of :func:`psyscreen.validity.cfa.cfa` (single- or multi-group, ML).
    minimum_value : float, default 0
        Keep only rows with ``mi`` at least this large (lavaan's ``minimum.value``).
    sort : bool, default True
        Sort by ``mi``, largest first (lavaan's ``sort. = TRUE``); False keeps lavaan's order
        (loadings, covariances, intercepts; group by group).

    Returns
    -------
    pandas.DataFrame
        lhs, op, rhs, [group,] mi, epc, sepc.lv, sepc.all, sepc.nox: one row per fixed parameter
        that could be freed (cross-loadings ``f =~ x``, residual covariances ``x ~~ y``, fixed factor
        covariances, fixed intercepts or means ``x ~1``).

    Raises
    ------
    CFAError
        The result carries no fitted model (built by hand, not by ``cfa``).

    Notes
    -----
    Equals ``lavaan::modindices(fit)`` (lavaan 0.6.14; defaults ``standardized = TRUE``,
    ``free.remove = TRUE``, ``na.remove = TRUE``) for ML fits with expected information, including
    multi-group fits with ``group.equal`` (a marker loading then has an index in each group). The
    index asks for freeing one parameter in one group; releasing an equality constraint is a
    different test (lavaan's ``lavTestScore``).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from psyscreen.validity import cfa
    >>> rng = np.random.default_rng(4)
    >>> f = rng.multivariate_normal([0, 0], [[1, .4], [.4, 1]], size=400)
    >>> x = f @ [[.8, .7, .6, 0, 0, 0], [0, 0, .6, .8, .7, .6]] + rng.normal(scale=.6, size=(400, 6))
    >>> fit = cfa(pd.DataFrame(x, columns=list("abcdef")), "f1 =~ a + b + c; f2 =~ d + e + f")
    >>> top = modindices(fit).iloc[0]
    >>> (top["lhs"], top["op"], top["rhs"])
    ('f2', '=~', 'c')
    """
    if not isinstance(result, CFAResult) or result._engine is None:
        raise CFAError("modindices needs a fit returned by psyscreen.validity.cfa (it carries the fitted model)")
    if result.estimator != "ML" or result.missing != "listwise":
        raise CFAError(
            f"modindices is computed for ML fits of complete rows (lavaan's expected information); this fit is "
            f"estimator={result.estimator!r}, missing={result.missing!r}: refit with estimator='ML' to look for "
            "the parameter to free, then refit the freed model with your estimator")
    model, sample, x = result._engine
    cand = _candidates(model)
    multi = model.n_groups > 1
    columns = ["lhs", "op", "rhs"] + (["group"] if multi else []) + ["mi", "epc", "sepc.lv", "sepc.all", "sepc.nox"]
    if not cand:
        return pd.DataFrame(columns=columns)
    ext = _extend(model, cand)
    start = np.array([getattr(model, name)[2][g, i, j] for name, g, i, j in cand])
    obj = _Objective(ext, sample)
    obj._eval(np.concatenate([x, start]))
    q = model.q
    H, grad = obj.H, obj.g
    h22 = np.diag(H)[q:]
    v = h22 - np.einsum("ik,ik->k", H[:q, q:], np.linalg.solve(H[:q, :q], H[:q, q:]))
    keep = v > _UNIDENTIFIED * np.abs(h22)
    g2 = grad[q:]
    with np.errstate(divide="ignore", invalid="ignore"):
        mi = sample.N / 2 * g2**2 / v
        epc = -g2 / v

    xb = x[None, :]
    lam, psi, th = (_fill(spec, xb)[0] for spec in (model.lam, model.psi, model.theta))
    sigma = lam @ psi @ np.swapaxes(lam, -1, -2) + th
    sd_ov = np.sqrt(np.diagonal(sigma, axis1=-2, axis2=-1))
    sd_lv = np.sqrt(np.abs(np.diagonal(psi, axis1=-2, axis2=-1)))
    sd_th = np.sqrt(np.abs(np.diagonal(th, axis1=-2, axis2=-1)))
    rows = []
    for k, (name, g, i, j) in enumerate(cand):
        if not keep[k]:
            continue
        e = epc[k]
        if name == "lam":
            lhs, op, rhs = model.lv[j], "=~", model.ov[i]
            lv_, all_ = e * sd_lv[g, j], e * sd_lv[g, j] / sd_ov[g, i]
        elif name == "theta":
            lhs, op, rhs = model.ov[i], "~~", model.ov[j]
            lv_ = e
            all_ = e / sigma[g, i, i] if i == j else e / (sd_th[g, i] * sd_th[g, j])
        elif name == "psi":
            lhs, op, rhs = model.lv[i], "~~", model.lv[j]
            lv_ = all_ = e / (sd_lv[g, i] * sd_lv[g, j])
        elif name == "nu":
            lhs, op, rhs = model.ov[i], "~1", ""
            lv_, all_ = e, e / sd_ov[g, i]
        else:
            lhs, op, rhs = model.lv[i], "~1", ""
            lv_ = all_ = e / sd_lv[g, i]
        row = {"lhs": lhs, "op": op, "rhs": rhs}
        if multi:
            row["group"] = result.groups[g]
        rows.append({**row, "mi": mi[k], "epc": e, "sepc.lv": lv_, "sepc.all": all_, "sepc.nox": all_})
    out = pd.DataFrame(rows, columns=columns)
    out = out[out["mi"] >= minimum_value]
    if sort:
        out = out.sort_values("mi", ascending=False, kind="stable")
    return out.reset_index(drop=True)
