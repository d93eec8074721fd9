"""Measurement invariance across groups: configural, metric, scalar and strict multi-group CFA.

For ordered items (WLSMV) the steps are configural, thresholds, metric, scalar (Wu and Estabrook,
2016), see :mod:`psyscreen.validity._wls_invariance`.

Each step is a multi-group maximum-likelihood CFA (:func:`psyscreen.validity.cfa.cfa` with
``group=`` and ``group_equal=``) with the constraints of lavaan's ``group.equal``; the table
reports the fit of each step and its change from the previous one, with a verdict by the
cutoffs of Chen (2007).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from psyscreen._results import ResultMixin
from psyscreen.validity import _robust
from psyscreen.validity._wls_invariance import ORDINAL_STEPS, invariance_ordinal
from psyscreen.validity.cfa import CFAResult, ModelSpecificationError, cfa

__all__ = ["STEPS", "InvarianceResult", "invariance"]

#: The steps and the parameters each holds equal across groups (lavaan ``group.equal``).
STEPS: dict[str, tuple[str, ...]] = {
    "configural": (),
    "metric": ("loadings",),
    "scalar": ("loadings", "intercepts"),
    "strict": ("loadings", "intercepts", "residuals"),
}

_FIT_COLUMNS = ("chisq", "df", "pvalue", "cfi", "tli", "rmsea", "srmr", "aic", "bic")


@dataclass(frozen=True, eq=False)  # holds DataFrames: compare the fields, not the result
class InvarianceResult(ResultMixin):
    """Result of :func:`invariance`.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per step (index: step name): group_equal, chisq, df, pvalue, cfi, tli, rmsea,
        srmr, aic, bic, delta_chisq, delta_df, delta_pvalue (chi-square difference test against
        the previous step), delta_cfi, delta_rmsea, delta_srmr, verdict. With MLR: pvalue, cfi,
        tli, rmsea are the scaled measures, chisq_scaled and scaling_factor are added and
        delta_chisq / delta_pvalue are the Satorra-Bentler (2001) scaled difference test.
    fits : Mapping[str, CFAResult]
        The multi-group fit of each step.
    level : str or None
        The last step of the unbroken run of steps that hold (``"configural"`` when only the
        configural model stands; None when no step was tested).
    group : str
        The group column.
    groups : tuple
        The group labels, in the order of their first appearance in the data.
    cutoffs : tuple of float
        (delta CFI, delta RMSEA) cutoffs used for the verdicts.
    estimator, missing : str
        "ML", "MLR", or "WLSMV" for ordered items (steps of Wu and Estabrook, 2016; see
        :func:`invariance`); "listwise" or "ml" (FIML).
    n_used, n_dropped : int
        Rows used by the fits and rows dropped.
    warnings : tuple of str
        What the analysis warned about (e.g. dropped rows), also issued once with ``warnings.warn``.
    """

    table: pd.DataFrame
    fits: Mapping[str, CFAResult]
    level: str | None
    group: str
    groups: tuple
    cutoffs: tuple[float, float]
    estimator: str = "ML"
    missing: str = "listwise"
    n_used: int = 0
    n_dropped: int = 0
    warnings: tuple[str, ...] = ()

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    def _repr_html_(self) -> str:
        basis = "scaled fit measures (MLR)" if self.estimator == "MLR" else "ML fit measures"
        return _robust.html_with_header(self, f"estimator {self.estimator}, missing {self.missing}, {basis}")


def invariance(
    data: pd.DataFrame,
    model: str,
    group: str,
    *,
    steps: Sequence[str] | None = None,
    std_lv: bool = False,
    group_partial: Sequence[str] = (),
    delta_cfi: float = -0.010,
    delta_rmsea: float = 0.015,
    ordered: bool | Sequence[str] | None = None,
    estimator: str | None = None,
    missing: str = "listwise",
) -> InvarianceResult:
    """Test measurement invariance of a CFA model across groups, step by step.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per person: the model's items and the group column.
    model : str
        lavaan model syntax (see :func:`psyscreen.validity.cfa.cfa`).
    group : str
        Column with the group (e.g. sex, grade, school).
    steps : sequence of str, optional
        Any of "configural", "metric", "scalar", "strict" (default all four), in this order; for
        ordered items any of "configural", "thresholds", "metric", "scalar" (default all four). Each
        later step is compared with the step before it in this list.
    std_lv : bool, default False
        Identify factors by their variances (fixed to 1 in the first group) instead of markers.
    group_partial : sequence of str
        Parameters released from the equality constraints of every step that holds their kind
        equal (partial invariance, lavaan's ``group.partial``): ``"f =~ x3"`` (loading), ``"x7 ~ 1"``
        (intercept), ``"x1 ~~ x1"`` (residual variance), and for ordered items ``"x1 | t2"``
        (threshold). A released intercept keeps the factor means free in groups after the first, as
        in lavaan.
    delta_cfi, delta_rmsea : float
        Cutoffs for the verdicts: a step "holds" when its change in CFI from the previous step is
        at least ``delta_cfi`` (-0.010) and its change in RMSEA at most ``delta_rmsea`` (0.015).
    ordered : bool or sequence of str, optional
        Ordinal items (``True``: every model item): the steps are then WLSMV fits (see Notes).
    estimator : {"ML", "MLR", "WLSMV"}, optional
        Default "ML", or "WLSMV" when ``ordered`` is given. With "MLR" the table's ``pvalue``,
        ``cfi``, ``tli`` and ``rmsea`` are the *scaled* measures (lavaan's ``pvalue.scaled``,
        ``cfi.scaled``, ``tli.scaled``, ``rmsea.scaled``: available with complete data and with FIML
        alike), the deltas and verdicts use them, ``chisq_scaled`` and ``scaling_factor`` are added,
        and ``delta_chisq`` / ``delta_pvalue`` are the Satorra-Bentler (2001) scaled difference test
        (``lavTestLRT(method = "satorra.bentler.2001")``, lavaan's default for MLR).
    missing : {"listwise", "ml"}
        As :func:`psyscreen.validity.cfa.cfa`: listwise deletion (with one warning for all steps)
        or FIML (continuous items).

    Returns
    -------
    InvarianceResult
        ``table`` (one row per step), ``fits`` (each step's :class:`CFAResult`) and ``level``.

    Raises
    ------
    ValueError
        Unknown or out-of-order steps; and the errors of :func:`psyscreen.validity.cfa.cfa`
        (unknown variable, a group with too few rows or a singular covariance, non-convergence).

    Notes
    -----
    The steps are multi-group ML fits with a mean structure, as
    ``lavaan::cfa(model, data, group = group, group.equal = ...)`` (lavaan 0.6.14) with
    ``group.equal`` = none (configural), ``"loadings"`` (metric),
    ``c("loadings", "intercepts")`` (scalar; latent means then free in every group but the first)
    and ``c("loadings", "intercepts", "residuals")`` (strict). Fit measures are lavaan's
    (``chisq = sum n_g F_g``, RMSEA with N and the sqrt(G) factor, SRMR with the mean
    residuals, weighted by group size). The chi-square difference test is the plain likelihood
    ratio test of nested ML models (``lavTestLRT``, ``method = "standard"`` for ML).

    The verdict uses the cutoffs of Chen (2007), recommended for total samples above 300 with
    unequal group sizes: invariance holds when delta CFI >= -0.010 together with
    delta RMSEA <= 0.015 (Chen adds delta SRMR <= 0.030 for loadings and <= 0.010 for
    intercepts and residuals; it is reported as ``delta_srmr`` but not used in the verdict).
    Chen, F. F. (2007). Sensitivity of goodness of fit indexes to lack of measurement
    invariance. *Structural Equation Modeling, 14*(3), 464-504.
    https://doi.org/10.1080/10705510701301834

    **Ordered items** (``estimator="WLSMV"``): the steps are configural, thresholds, metric
    (thresholds + loadings) and scalar (+ intercepts), identified as Wu and Estabrook (2016) do --
    the models ``semTools::measEq.syntax(model, data, ordered = items, parameterization = "delta",
    ID.fac = "std.lv", ID.cat = "Wu.Estabrook.2016", group =, group.equal =, group.partial =)``
    writes, fitted by ``lavaan::cfa(..., estimator = "WLSMV")``: thresholds are tested first because
    equal loadings alone do not restrict an ordinal model; each step frees the scaling factors,
    intercepts or factor moments its equalities make identifiable (see
    :mod:`psyscreen.validity._wls_invariance`). Factors are identified by ``std.lv`` whatever
    ``std_lv`` says (the fit of every step does not depend on it). The table then reports the
    unscaled ``chisq``, ``df`` and ``pvalue``, the scaled-shifted ``chisq_scaled``/``pvalue_scaled``,
    ``cfi_scaled``, ``tli_scaled``, ``rmsea_scaled`` and ``srmr``; ``delta_chisq``/``delta_df``/
    ``delta_pvalue`` are ``lavTestLRT(fit1, fit0)``'s scaled-shifted difference test
    (``method = "satorra.2000"``), and ``delta_cfi``/``delta_rmsea`` the changes in the *scaled*
    CFI and RMSEA (the robust ones are NA in lavaan once thresholds are equal). Strict invariance
    cannot be tested in the delta parameterization.
    Wu, H., & Estabrook, R. (2016). Identification of confirmatory factor analysis models of
    different levels of invariance for ordered categorical outcomes. *Psychometrika, 81*,
    1014-1045.

    The configural step has no previous step: its verdict is "baseline". Later verdicts are
    "holds" or "does not hold"; ``level`` stops at the first step that does not hold (the
    usual next move is partial invariance, not testing the later steps).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(2)
    >>> f = rng.normal(size=(600, 1))
    >>> items = f @ [[0.8, 0.7, 0.6, 0.5]] + rng.normal(scale=0.6, size=(600, 4))
    >>> df = pd.DataFrame(items, columns=["a", "b", "c", "d"]).assign(sex=np.repeat(["F", "M"], 300))
    >>> res = invariance(df, "f =~ a + b + c + d", "sex")
    >>> list(res.table.index)
    ['configural', 'metric', 'scalar', 'strict']
    >>> res.table["df"].tolist()
    [4, 7, 10, 14]

    Four-point items, WLSMV (thresholds before loadings):

    >>> cats = pd.DataFrame(np.digitize(items, [-0.8, 0.0, 0.8]), columns=["a", "b", "c", "d"])
    >>> res = invariance(cats.assign(sex=df["sex"]), "f =~ a + b + c + d", "sex", ordered=True)
    >>> list(res.table.index), res.table["df"].tolist()
    (['configural', 'thresholds', 'metric', 'scalar'], [4, 8, 11, 14])
    """
    is_ordered = ordered is not None and ordered is not False
    est = ("WLSMV" if is_ordered else "ML") if estimator is None else str(estimator).upper()
    if est not in ("ML", "MLR", "WLSMV") or (est == "WLSMV") != is_ordered:
        raise ModelSpecificationError(f"estimator {estimator!r} with ordered={ordered!r}: use ordered=True|[items] "
                                      "with estimator 'WLSMV', or continuous items with 'ML' or 'MLR'")
    if est == "WLSMV" and missing != "listwise":
        raise ModelSpecificationError("missing='ml' (FIML) is for continuous items; WLSMV uses the rows with every "
                                      "answer (listwise, as lavaan)")
    all_steps = ORDINAL_STEPS if est == "WLSMV" else STEPS
    steps = list(all_steps) if steps is None else list(steps)
    unknown = [s for s in steps if s not in all_steps]
    if unknown:
        extra = " (strict invariance cannot be tested in the delta parameterization)" if "strict" in unknown else ""
        raise ModelSpecificationError(f"unknown invariance step(s) {unknown}; use any of {list(all_steps)}{extra}")
    order = [list(all_steps).index(s) for s in steps]
    if not steps or order != sorted(set(order)):
        raise ModelSpecificationError(f"steps must be distinct and in the order {list(all_steps)}, got {steps}")
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    if group not in data.columns:
        raise ModelSpecificationError(f"group column {group!r} is not in the data")

    if est == "WLSMV":
        fits, table, labels = invariance_ordinal(data, model, group, ordered=ordered, steps=steps,
                                                 group_partial=group_partial)
        return _verdicts(table, fits, steps, group, tuple(labels), delta_cfi, delta_rmsea, est, missing)
    fits: dict[str, CFAResult] = {}
    with warnings.catch_warnings():  # the dropped rows are the same in every step: warn once below
        warnings.simplefilter("ignore", UserWarning)
        for step in steps:
            eq = STEPS[step]
            fits[step] = cfa(data, model, std_lv=std_lv, group=group, group_equal=eq,
                             group_partial=group_partial if eq else (), estimator=est, missing=missing)
    robust = est == "MLR"

    rows = []
    for step in steps:
        f = fits[step].fit
        row = {"group_equal": ", ".join(STEPS[step]) or "none", **{c: f[c] for c in _FIT_COLUMNS}}
        if robust:
            row.update({c: f[f"{c}.scaled"] for c in ("pvalue", "cfi", "tli", "rmsea")})
            row.update({"chisq_scaled": f["chisq.scaled"], "scaling_factor": f["chisq.scaling.factor"]})
        rows.append(row)
    table = pd.DataFrame(rows, index=pd.Index(steps, name="step"))
    table["df"] = table["df"].astype(int)
    prev = table.shift(1)
    table["delta_chisq"] = table["chisq"] - prev["chisq"]
    table["delta_df"] = (table["df"] - prev["df"]).astype("Int64")
    d_df = (table["df"] - prev["df"]).to_numpy(dtype=float)
    if robust:  # Satorra-Bentler (2001) scaled difference of each step against the previous one
        sb = [(np.nan, np.nan)] + [
            _robust.satorra_bentler_2001(fits[b].fit["chisq"], fits[b].fit["df"], fits[b].fit["chisq.scaling.factor"],
                                         fits[a].fit["chisq"], fits[a].fit["df"], fits[a].fit["chisq.scaling.factor"])[::2]
            for a, b in zip(steps[:-1], steps[1:])
        ]
        table["delta_chisq"] = [t for t, _ in sb]
        table["delta_pvalue"] = [pv for _, pv in sb]
    else:
        with np.errstate(invalid="ignore"):
            table["delta_pvalue"] = np.where(
                d_df > 0, stats.chi2.sf(np.clip(table["delta_chisq"].to_numpy(dtype=float), 0, None), d_df), np.nan
            )
    table["delta_cfi"] = table["cfi"] - prev["cfi"]
    table["delta_rmsea"] = table["rmsea"] - prev["rmsea"]
    table["delta_srmr"] = table["srmr"] - prev["srmr"]
    return _verdicts(table, fits, steps, group, next(iter(fits.values())).groups, delta_cfi, delta_rmsea, est,
                     missing)


def _verdicts(table, fits, steps, group, groups, delta_cfi, delta_rmsea, est, missing) -> InvarianceResult:
    eps = 1e-12
    holds = (table["delta_cfi"] >= delta_cfi - eps) & (table["delta_rmsea"] <= delta_rmsea + eps)
    verdict = np.where(holds.to_numpy(), "holds", "does not hold").astype(object)
    verdict[0] = "baseline"
    table["verdict"] = verdict

    level: str | None = steps[0]
    for step, v in zip(steps[1:], verdict[1:]):
        if v != "holds":
            break
        level = step
    first = next(iter(fits.values()))
    said = first.warnings if est == "WLSMV" else _robust.dropped_rows_warning(
        "invariance", first.n_used, first.n_dropped, missing)
    return InvarianceResult(
        table=table, fits=fits, level=level, group=group, groups=groups, cutoffs=(delta_cfi, delta_rmsea),
        estimator=est, missing=missing, n_used=first.n_used, n_dropped=first.n_dropped, warnings=said,
    )
