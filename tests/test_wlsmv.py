"""Ordinal CFA (WLSMV) against lavaan 0.6.14: tests/data/wlsmv_lavaan.R made the figures in wlsmv_lavaan.json.

lavaan: ``cfa(model, data, ordered = items, estimator = "WLSMV")`` (DWLS, delta parameterization,
``se = "robust.sem"``, ``test = "scaled.shifted"``), its sample statistics (thresholds, polychoric
correlations, ``lavInspect(fit, "gamma")``, ``"wls.v"``), ``parameterEstimates(standardized = TRUE)``
and ``fitMeasures()``, on four data sets: HolzingerSwineford1939 cut into 4 categories, psychTools::bfi
(6 categories, missing answers), a synthetic 4-point set with a rare category, psychTools::tai.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from psyscreen.validity._ordinal_stats import bivariate_normal_cdf, ordinal_stats, polychoric_pair
from psyscreen.validity.cfa import ModelSpecificationError, cfa

DATA = Path(__file__).resolve().parent / "data"
REF = json.loads((DATA / "wlsmv_lavaan.json").read_text())
FILES = {"hs4": "wlsmv_hs4.csv", "hs4_stdlv": "wlsmv_hs4.csv", "bfi": "wlsmv_bfi.csv",
         "synthetic": "wlsmv_synthetic.csv", "tai": "wlsmv_tai.csv"}
CASES = list(FILES)


def _data(name: str) -> pd.DataFrame:
    return pd.read_csv(DATA / FILES[name])


@pytest.fixture(scope="module")
def fits() -> dict:
    out = {}
    for name in CASES:
        r = REF[name]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out[name] = cfa(_data(name), r["model"], ordered=True, std_lv=r["std_lv"])
    return out


def _model_order(r: dict) -> list[str]:
    return list(dict.fromkeys(name.split("|")[0] for name in r["th_names"]))


@pytest.mark.parametrize("name", ["hs4", "synthetic", "bfi", "tai"])
def test_sample_statistics_equal_lavaan(name):
    r = REF[name]
    items = _model_order(r)
    d = _data(name)[items].dropna()
    codes = np.column_stack([pd.Categorical(d[c]).codes for c in items])
    st = ordinal_stats(codes)
    np.testing.assert_allclose(st.th, r["th"], atol=1e-10)
    np.testing.assert_allclose(st.cor, np.array(r["cor"]), atol=1e-6)
    np.testing.assert_allclose(1.0 / np.diag(st.gamma), r["wls_v_diag"], rtol=1e-5)
    if "gamma" in r:
        np.testing.assert_allclose(st.gamma, np.array(r["gamma"]), atol=1e-6)


@pytest.mark.parametrize("name", CASES)
def test_estimates_and_robust_se_equal_lavaan(fits, name):
    r = REF[name]
    got = fits[name].params
    ref = pd.DataFrame(r["params"])
    m = ref.merge(got, on=["lhs", "op", "rhs"], suffixes=("_r", ""), how="left")
    assert len(m) == len(ref) and m["est"].notna().all(), "every lavaan row is in the table"
    np.testing.assert_allclose(m["est"], m["est_r"], atol=1e-4)
    np.testing.assert_allclose(m["std_all"], m["std_all_r"], atol=1e-4)
    free = m["free"].to_numpy()
    np.testing.assert_allclose(m.loc[free, "se"], m.loc[free, "se_r"], atol=1e-3, rtol=1e-4)
    assert (m.loc[m["op"] == "|", "rhs"].str.startswith("t")).all()


@pytest.mark.parametrize("name", CASES)
def test_fit_measures_equal_lavaan(fits, name):
    r = REF[name]
    fit = fits[name].fit
    for key, want in r["fit"].items():
        got = fit[key]
        if want is None:  # lavaan prints NA (srmr_mplus for categorical data)
            assert math.isnan(got), key
        else:
            assert got == pytest.approx(want, rel=1e-3, abs=1e-3), key


def test_rows_used_and_dropped_reported_with_one_warning():
    r = REF["bfi"]
    with pytest.warns(UserWarning, match="dropped") as rec:
        res = cfa(_data("bfi"), r["model"], ordered=True)
    assert len([w for w in rec if "dropped" in str(w.message)]) == 1
    assert res.n_used == r["ntotal"] == 2632
    assert res.n_dropped == r["norig"] - r["ntotal"]
    assert res.estimator == "WLSMV"
    assert len(res.warnings) == 1 and "dropped" in res.warnings[0]


def test_issue_figures_tai_ml_cfi_against_wlsmv_scaled_cfi(fits):
    """The issue's comparison: ML CFI 0.868 on the tai items against lavaan's WLSMV scaled CFI 0.919."""
    r = REF["tai"]
    assert round(r["ml_cfi"], 3) == 0.868
    assert round(fits["tai"].fit["cfi.scaled"], 3) == 0.919
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ml = cfa(_data("tai"), r["model"])
    assert ml.fit["cfi"] == pytest.approx(r["ml_cfi"], abs=1e-3)


def test_ordered_and_estimator_choices_are_checked():
    d = _data("hs4")
    model = REF["hs4"]["model"]
    with pytest.raises(ModelSpecificationError, match="WLSMV"):
        cfa(d, model, ordered=True, estimator="ML")
    with pytest.raises(ModelSpecificationError, match="ordered"):
        cfa(d, model, estimator="WLSMV")
    with pytest.raises(ModelSpecificationError, match="x9"):
        cfa(d, model, ordered=["x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8"])
    res = cfa(d, model, ordered=[f"x{k}" for k in range(1, 10)], estimator="wlsmv")
    assert res.fit["df"] == REF["hs4"]["fit"]["df"]


def test_bivariate_normal_against_closed_forms():
    # P(X<=0, Y<=0) = 1/4 + asin(rho) / (2 pi), for low and high correlations (both branches of Genz's method)
    for rho in (-0.95, -0.5, 0.1, 0.6, 0.93, 0.999):
        assert bivariate_normal_cdf(0.0, 0.0, rho) == pytest.approx(0.25 + math.asin(rho) / (2 * math.pi), abs=1e-14)
    assert bivariate_normal_cdf(np.inf, 0.3, 0.5) == pytest.approx(0.6179114221889527, abs=1e-14)
    assert bivariate_normal_cdf(-np.inf, 0.3, 0.5) == 0.0


def test_tetrachoric_empty_cell_follows_lavaan_zero_add():
    # one empty cell in a 2 x 2 table: 0.5 moved in with the margins kept (lavaan zero.add = c(0.5, 0))
    t = np.array([[30.0, 0.0], [20.0, 50.0]])
    a = np.array([-0.0])  # thresholds fixed: the step is in the table only
    b = np.array([0.2])
    adjusted = polychoric_pair(t + np.array([[-0.5, 0.5], [0.5, -0.5]]), a, b)
    assert polychoric_pair(t, a, b) == pytest.approx(adjusted, abs=1e-12)
    assert abs(adjusted) < 0.999


def test_cli_cfa_ordered_wlsmv_equals_lavaan(tmp_path):
    from click.testing import CliRunner

    from psyscreen.cli import main

    r = REF["hs4"]
    out = tmp_path / "cfa.xlsx"
    result = CliRunner().invoke(main, ["analyze", "cfa", str(DATA / FILES["hs4"]), "--model", r["model"],
                                       "--ordered", "all", "--estimator", "WLSMV", "-o", str(out)])
    assert result.exit_code == 0, result.output
    fit = pd.read_excel(out, sheet_name="fit", engine="openpyxl").iloc[0]
    for key in ("chisq.scaled", "cfi.scaled", "rmsea.scaled", "cfi.robust", "srmr"):
        assert fit[key] == pytest.approx(r["fit"][key], abs=1e-3), key


MULTI = {"synthetic_configural": "wlsmv_synthetic.csv", "synthetic_thr_load": "wlsmv_synthetic.csv",
         "bfi_gender_thr_load": "wlsmv_bfi.csv"}


@pytest.mark.parametrize("name", list(MULTI))
def test_multigroup_wlsmv_equals_lavaan(name):
    """group = and group.equal = c("thresholds", "loadings") for ordered items (lavaan then frees the
    scaling factors and factor means in the second group); robust CFI/RMSEA NA when thresholds are equal."""
    r = REF[name]
    d = pd.read_csv(DATA / MULTI[name])
    d[r["group"]] = d[r["group"]].astype("string")
    equal = [] if r["group_equal"] == "none" else r["group_equal"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = cfa(d, r["model"], ordered=True, group=r["group"], group_equal=equal)
    ref = pd.DataFrame(r["params"])
    ref["group"] = ref["group"].map(lambda g: r["group_labels"][g - 1])
    got = res.params.assign(group=res.params["group"].astype(str))
    m = ref.merge(got, on=["lhs", "op", "rhs", "group"], suffixes=("_r", ""), how="left")
    assert len(m) == len(ref) and m["est"].notna().all()
    np.testing.assert_allclose(m["est"], m["est_r"], atol=1e-4)
    free = m["free"].to_numpy()
    np.testing.assert_allclose(m.loc[free, "se"], m.loc[free, "se_r"], atol=1e-3, rtol=1e-4)
    np.testing.assert_allclose(m["std_all"], m["std_all_r"], atol=1e-4)
    for key, want in r["fit"].items():
        if want is None:
            assert math.isnan(res.fit[key]), key
        else:
            assert res.fit[key] == pytest.approx(want, rel=1e-3, abs=1e-3), key
