"""Measurement invariance against lavaan 0.6.14 multi-group CFA (group.equal steps)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from psyscreen.validity.cfa import InsufficientDataError, ModelSpecificationError, NotPositiveDefiniteError, cfa
from psyscreen.validity.invariance import InvarianceResult, invariance

from .lavaan_helpers import EXTRA, compare_with_lavaan  # figures of tests/data/lavaan_cfa_extra.R

REF = Path(__file__).resolve().parents[2] / "shared" / "reference"
EXPECTED = json.loads((REF / "invariance.json").read_text())
MODEL = EXPECTED["model"]
STEPS = ["configural", "metric", "scalar", "strict"]


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return pd.read_csv(REF / "invariance.csv")


@pytest.fixture(scope="module")
def result(data: pd.DataFrame) -> InvarianceResult:
    return invariance(data, MODEL, "group")


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("name", ["chisq", "df", "pvalue", "cfi", "tli", "rmsea", "srmr"])
def test_fit_matches_lavaan(result: InvarianceResult, step: str, name: str) -> None:
    assert result.table.loc[step, name] == pytest.approx(EXPECTED["steps"][step][name], abs=1e-5, rel=0)


@pytest.mark.parametrize("step", STEPS)
def test_parameters_match_lavaan(result: InvarianceResult, step: str) -> None:
    # estimates, SEs, std.all and their SEs per group; more fit measures (AIC, BIC, RMSEA CI, logl)
    compare_with_lavaan(result.fits[step], EXTRA["invariance"][step])


def test_chi_square_difference_matches_lavTestLRT(result: InvarianceResult) -> None:
    lrt = EXTRA["lrt"]
    t = result.table
    assert np.isnan(t["delta_chisq"].iloc[0])
    assert np.allclose(t["delta_chisq"].iloc[1:], lrt["chisq_diff"][1:], atol=1e-5)
    assert t["delta_df"].iloc[1:].tolist() == lrt["df_diff"][1:]
    assert np.allclose(t["delta_pvalue"].iloc[1:], lrt["p"][1:], atol=1e-6)


def test_deltas_and_verdicts(result: InvarianceResult) -> None:
    t = result.table
    assert list(t.index) == STEPS
    ref = EXPECTED["steps"]
    for prev, step in zip(STEPS, STEPS[1:]):
        d_cfi = ref[step]["cfi"] - ref[prev]["cfi"]
        d_rmsea = ref[step]["rmsea"] - ref[prev]["rmsea"]
        assert t.loc[step, "delta_cfi"] == pytest.approx(d_cfi, abs=1e-5)
        assert t.loc[step, "delta_rmsea"] == pytest.approx(d_rmsea, abs=1e-5)
        expected = "holds" if (d_cfi >= -0.010 and d_rmsea <= 0.015) else "does not hold"
        assert t.loc[step, "verdict"] == expected
    # from lavaan's figures: metric holds (dCFI -0.002), scalar does not (dCFI -0.038)
    assert t["verdict"].tolist()[:3] == ["baseline", "holds", "does not hold"]
    assert result.level == "metric"
    assert result.groups == ("Pasteur", "Grant-White")  # lavaan's order: first appearance
    assert result.to_frame().equals(t)
    assert "<table" in result._repr_html_()


def test_constraints_are_equalities_across_groups(result: InvarianceResult) -> None:
    p = result.fits["scalar"].params
    load = p[(p["op"] == "=~")].pivot(index=["lhs", "rhs"], columns="group", values="est")
    assert np.allclose(load.iloc[:, 0], load.iloc[:, 1], atol=0)
    ints = p[(p["op"] == "~1") & p["lhs"].str.startswith("x")].pivot(index="lhs", columns="group", values="est")
    assert np.allclose(ints.iloc[:, 0], ints.iloc[:, 1], atol=0)
    means = p[(p["op"] == "~1") & ~p["lhs"].str.startswith("x")]
    first = means[means["group"] == "Pasteur"]
    assert (first["est"] == 0).all() and not first["free"].any()
    assert means[means["group"] == "Grant-White"]["free"].all()
    conf = result.fits["configural"].params
    conf_load = conf[(conf["op"] == "=~") & conf["free"]].pivot(index=["lhs", "rhs"], columns="group", values="est")
    assert not np.allclose(conf_load.iloc[:, 0], conf_load.iloc[:, 1], atol=1e-3)


def test_verdict_cutoffs_are_parameters(data: pd.DataFrame) -> None:
    lax = invariance(data, MODEL, "group", steps=["configural", "metric", "scalar"], delta_cfi=-0.05, delta_rmsea=0.02)
    assert lax.table["verdict"].tolist() == ["baseline", "holds", "holds"]
    assert lax.level == "scalar"
    assert lax.cutoffs == (-0.05, 0.02)


def test_skipping_a_step_compares_with_the_previous_listed(data: pd.DataFrame, result: InvarianceResult) -> None:
    two = invariance(data, MODEL, "group", steps=["configural", "scalar"])
    full = result.table
    assert two.table.loc["scalar", "delta_df"] == full.loc["scalar", "df"] - full.loc["configural", "df"] == 12
    assert two.table.loc["scalar", "delta_chisq"] == pytest.approx(
        full.loc["scalar", "chisq"] - full.loc["configural", "chisq"], abs=1e-6)


def test_group_order_does_not_change_fit(data: pd.DataFrame, result: InvarianceResult) -> None:
    flipped = data.iloc[::-1].reset_index(drop=True)
    res = invariance(flipped, MODEL, "group", steps=["configural", "scalar"])
    assert res.groups == ("Grant-White", "Pasteur")
    assert res.table.loc["scalar", "chisq"] == pytest.approx(result.table.loc["scalar", "chisq"], abs=1e-6)


def test_errors(data: pd.DataFrame) -> None:
    with pytest.raises(ModelSpecificationError, match="'x99'"):
        invariance(data, MODEL.replace("x9", "x99"), "group")
    with pytest.raises(ModelSpecificationError, match="group column"):
        invariance(data, MODEL, "school")
    with pytest.raises(ModelSpecificationError, match="order"):
        invariance(data, MODEL, "group", steps=["metric", "configural"])
    with pytest.raises(ModelSpecificationError, match="unknown"):
        invariance(data, MODEL, "group", steps=["configural", "partial"])
    tiny = pd.concat([data[data["group"] == "Pasteur"], data[data["group"] == "Grant-White"].head(5)])
    with pytest.raises(InsufficientDataError, match="Grant-White.*5 complete rows"):
        invariance(tiny, MODEL, "group")
    one = data[data["group"] == "Pasteur"]
    with pytest.raises(InsufficientDataError, match="need 2"):
        invariance(one, MODEL, "group")
    collinear = data.assign(x10=np.where(data["group"] == "Pasteur", data["x1"] - data["x2"], np.arange(len(data)) % 7))
    with pytest.raises(NotPositiveDefiniteError, match="Pasteur"):
        cfa(collinear, MODEL.replace("x3", "x3 + x10"), group="group")


def test_std_lv_identification_gives_lavaan_fit(data: pd.DataFrame) -> None:
    # std_lv: factor variances fixed to 1 in the first group only once loadings are equal
    res = invariance(data, MODEL, "group", steps=["configural", "metric", "scalar"], std_lv=True)
    for step in ["configural", "metric", "scalar"]:
        for name in ["chisq", "df", "cfi", "rmsea", "srmr"]:
            assert res.table.loc[step, name] == pytest.approx(EXPECTED["steps"][step][name], abs=1e-5)
    p = res.fits["metric"].params
    var = p[(p["op"] == "~~") & (p["lhs"] == "visual") & (p["rhs"] == "visual")].set_index("group")
    assert var.loc["Pasteur", "est"] == 1.0 and not var.loc["Pasteur", "free"]
    # lavaan 0.6.14, cfa(..., group.equal = "loadings", std.lv = TRUE): visual ~~ visual in group 2 = 0.897 (0.225)
    assert var.loc["Grant-White", "est"] == pytest.approx(0.897, abs=5e-4)
    assert var.loc["Grant-White", "se"] == pytest.approx(0.225, abs=5e-4)
