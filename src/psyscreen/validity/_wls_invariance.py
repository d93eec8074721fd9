"""Ordinal measurement invariance by WLSMV: Wu and Estabrook's (2016) sequence and lavaan's difference test.

The steps are the models ``semTools::measEq.syntax(configural.model, data, ordered = items,
parameterization = "delta", ID.fac = "std.lv", ID.cat = "Wu.Estabrook.2016", group =, group.equal =,
group.partial =)`` writes (semTools 0.5.6), fitted as ``lavaan::cfa(..., estimator = "WLSMV")`` (0.6.14):

- **configural**: thresholds free in every group; factor variances 1 and factor means 0, latent-response
  intercepts 0 and scaling factors 1 in every group;
- **thresholds**: thresholds equal; the intercepts and (items with 3+ categories) the scaling factors are
  then free in groups 2+ (a binary item keeps its scale at 1: one threshold cannot identify both);
- **metric** (thresholds + loadings): loadings equal; the factor variances free in groups 2+;
- **scalar** (+ intercepts): intercepts equal (0 in every group); the factor means free in groups 2+, and
  the scaling factors of binary items too (now identified by the equal threshold and intercept).

Thresholds come before loadings because Wu and Estabrook show that, for ordinal items, equal loadings alone
do not constrain the model (under the usual identification they are not testable), while equal thresholds
are: the thresholds step is the first testable restriction, with scales and intercepts freed so that it
restricts nothing but the thresholds. Strict invariance (residual variances) cannot be tested in the delta
parameterization (semTools refuses it too). ``group_partial`` exempts parameters from the equalities, as
``group.partial``.

Consecutive steps are compared as ``lavaan::lavTestLRT(fit1, fit0)`` does for the scaled-shifted test of
WLSMV: ``method = "satorra.2000"`` with ``scaled.shifted = TRUE`` and ``A.method = "delta"`` (Satorra,
2000; Asparouhov and Muthen, 2010): with the unscaled DWLS statistics ``T0 - T1`` and ``m = df0 - df1``,
the restriction matrix ``A`` spans the orthogonal complement of ``pinv(Delta1) Delta0`` (Jacobians of the
implied statistics at each model's estimate), ``M = P^-1 A' (A P^-1 A')^+ A P^-1`` with ``P`` the expected
information of the less restricted model, ``U = V Delta1 M Delta1' V`` and
``T = a (T0 - T1) + b``, ``a = sqrt(m / tr((U Gamma)^2))``, ``b = m - a tr(U Gamma)``, on ``m`` df.

Wu, H., & Estabrook, R. (2016). Identification of confirmatory factor analysis models of different levels of
invariance for ordered categorical outcomes. *Psychometrika, 81*, 1014-1045. Satorra, A. (2000). Scaled and
adjusted restricted tests in multi-sample analysis of moment structures. In *Innovations in Multivariate
Statistical Analysis* (pp. 233-247). Kluwer.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from scipy import linalg, stats

from psyscreen.validity._wls import (DWLSFit, build_ordinal_model, fit_ordinal, one_blas_thread, ordinal_data,
                                     parse_partial)

__all__ = ["ORDINAL_STEPS", "invariance_ordinal", "scaled_difference_test"]

#: The ordinal steps and what each holds equal across groups (Wu and Estabrook's order).
ORDINAL_STEPS: dict[str, tuple[str, ...]] = {
    "configural": (),
    "thresholds": ("thresholds",),
    "metric": ("thresholds", "loadings"),
    "scalar": ("thresholds", "loadings", "intercepts"),
}


def scaled_difference_test(fit1: DWLSFit, fit0: DWLSFit) -> tuple[float, int, float]:
    """Scaled-shifted chi-square difference of nested WLSMV fits (``fit0`` the more restricted).

    lavaan's ``lavTestLRT(fit1, fit0)`` for WLSMV (``method = "satorra.2000"``, ``scaled.shifted = TRUE``,
    ``A.method = "delta"``). Returns (chi-square difference, df difference, p value).
    """
    m = int(fit0.df - fit1.df)
    d_t = float(fit0.chisq - fit1.chisq)
    if m <= 0:
        return d_t, m, float("nan")
    D1, D0 = np.vstack(fit1.D), np.vstack(fit0.D)
    H = np.linalg.pinv(D1) @ D0
    u, sv, _ = np.linalg.svd(H, full_matrices=True)
    rank = int(np.sum(sv > max(H.shape) * np.finfo(float).eps * (sv[0] if sv.size else 0.0)))
    A = u[:, rank:].T
    P_inv = fit1.E_inv
    APA = A @ P_inv @ A.T
    M = P_inv @ A.T @ np.linalg.pinv(APA) @ A @ P_inv
    fg = fit1.fg
    G = len(fit1.D)
    tr1 = 0.0
    for g in range(G):
        WD = fit1.W[g][:, None] * fit1.D[g]
        tr1 += fg[g] * float(np.trace(M @ WD.T @ fit1.gamma[g] @ WD))
    VD = np.vstack([fit1.W[g][:, None] * fit1.D[g] for g in range(G)])
    UG = VD @ M @ VD.T @ linalg.block_diag(*[fg[g] * fit1.gamma[g] for g in range(G)])
    tr2 = float(np.sum(UG * UG.T))
    a = np.sqrt(m / tr2)
    b = m - a * tr1
    t = float(a * d_t + b)
    return t, m, float(stats.chi2.sf(t, m))


def invariance_ordinal(data: pd.DataFrame, model: str, group: str, *, ordered, steps: Sequence[str],
                       group_partial: Sequence[str] = ()):
    """Fit the ordinal invariance steps; returns (fits, table, group labels)."""
    with one_blas_thread():
        return _invariance_ordinal(data, model, group, ordered=ordered, steps=steps, group_partial=group_partial)


def _invariance_ordinal(data, model, group, *, ordered, steps, group_partial):
    from psyscreen.validity._lavaan_syntax import parse_model
    from psyscreen.validity.cfa import _build_model

    terms = parse_model(model)
    probe = _build_model(terms, list(map(str, data.columns)), 1, std_lv=True, group_equal=(), meanstructure=False)
    ov, lv = probe.ov, probe.lv
    items = ov if ordered is True else ([ordered] if isinstance(ordered, str) else list(ordered))
    od = ordinal_data(data.rename(columns=str), ov, ordered=items, group=group, stacklevel=5)
    n_th = np.array([k - 1 for k in od.n_cat])
    partial = [parse_partial(t) for t in ([group_partial] if isinstance(group_partial, str) else group_partial)]
    fits, internals = {}, {}
    for step in steps:
        eq = ORDINAL_STEPS[step]
        thr = "thresholds" in eq
        # scales: items with 3+ categories once thresholds are equal; binary items once intercepts are too
        scales = (n_th >= 2) | (("intercepts" in eq) & ~np.isin(ov, [t[0] for t in partial if t[1] == "~1"]))
        mod = build_ordinal_model(terms, ov, lv, n_th, len(od.labels), std_lv=True, group_equal=eq,
                                  free_scales=scales if thr else False, free_means="intercepts" in eq,
                                  free_intercepts=thr, group_partial=group_partial)
        fits[step], internals[step] = fit_ordinal(mod, od, model, eq, multi=True)
    rows = []
    prev = None
    for step in steps:
        f = fits[step].fit
        row = {"group_equal": ", ".join(ORDINAL_STEPS[step]) or "none", "chisq": f["chisq"], "df": f["df"],
               "pvalue": f["pvalue"], "chisq_scaled": f["chisq.scaled"], "pvalue_scaled": f["pvalue.scaled"],
               "cfi_scaled": f["cfi.scaled"], "tli_scaled": f["tli.scaled"], "rmsea_scaled": f["rmsea.scaled"],
               "srmr": f["srmr"]}
        if prev is None:
            row.update(delta_chisq=np.nan, delta_df=pd.NA, delta_pvalue=np.nan)
        else:
            t, m, pv = scaled_difference_test(internals[prev], internals[step])
            row.update(delta_chisq=t, delta_df=m, delta_pvalue=pv)
        rows.append(row)
        prev = step
    table = pd.DataFrame(rows, index=pd.Index(list(steps), name="step"))
    table["df"] = table["df"].astype(int)
    table["delta_df"] = table["delta_df"].astype("Int64")
    shifted = table.shift(1)
    table["delta_cfi"] = table["cfi_scaled"] - shifted["cfi_scaled"]
    table["delta_rmsea"] = table["rmsea_scaled"] - shifted["rmsea_scaled"]
    table["delta_srmr"] = table["srmr"] - shifted["srmr"]
    return fits, table, od.labels
