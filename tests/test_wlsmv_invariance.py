"""Ordinal measurement invariance (WLSMV) against semTools 0.5.6 + lavaan 0.6.14.

tests/data/wlsmv_invariance.R wrote wlsmv_invariance.json: for each step the syntax of
``measEq.syntax(..., parameterization = "delta", ID.fac = "std.lv", ID.cat = "Wu.Estabrook.2016",
group.equal =, group.partial =)`` fitted by ``cfa(..., estimator = "WLSMV")`` (fitMeasures,
parameterEstimates) and ``lavTestLRT(previous, step)``; on psychTools::bfi by gender, HolzingerSwineford1939
(4 categories) by school, and a synthetic set with a binary item and a non-invariant threshold (also with
``group.partial``). And lavaan's own ``group.equal`` + ``group.partial`` for ordered items.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from psyscreen.validity import invariance
from psyscreen.validity._wls import parse_partial
from psyscreen.validity.cfa import ModelSpecificationError, cfa

DATA = Path(__file__).resolve().parent / "data"
REF = json.loads((DATA / "wlsmv_invariance.json").read_text())
FILES = {"bfi_gender": "wlsmv_bfi.csv", "synthetic": "wlsmv_invariance_synthetic.csv",
         "synthetic_partial": "wlsmv_invariance_synthetic.csv", "hs4_school": "wlsmv_hs4.csv"}
OPS = ("=~", "|", "~~", "~*~", "~1")


def _data(name: str, group: str) -> pd.DataFrame:
    d = pd.read_csv(DATA / FILES[name])
    d[group] = d[group].astype(str)
    return d


@pytest.fixture(scope="module")
def results() -> dict:
    out = {}
    for name in FILES:
        r = REF[name]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out[name] = invariance(_data(name, r["group"]), r["model"], r["group"], ordered=True,
                                   group_partial=r["partial"])
    return out


def _close(got: float, want, key: str) -> None:
    if want is None:
        assert math.isnan(got), key
    else:
        assert got == pytest.approx(want, rel=1e-3, abs=1e-3), key


@pytest.mark.parametrize("name", list(FILES))
def test_each_step_equals_measeq_syntax_fitted_by_lavaan(results, name):
    res = results[name]
    assert res.estimator == "WLSMV"
    assert list(res.table.index) == ["configural", "thresholds", "metric", "scalar"]
    for step, r in REF[name]["steps"].items():
        fit = res.fits[step]
        for key, want in r["fit"].items():
            _close(fit.fit[key], want, f"{step} {key}")
        ref = pd.DataFrame(r["params"])
        ref = ref[ref["op"].isin(OPS)].copy()
        ref["group"] = ref["group"].map(lambda g: r["group_labels"][g - 1])
        got = fit.params.assign(group=fit.params["group"].astype(str))
        m = ref.merge(got, on=["lhs", "op", "rhs", "group"], suffixes=("_r", ""), how="left")
        assert len(m) == len(ref) and m["est"].notna().all(), step
        np.testing.assert_allclose(m["est"], m["est_r"], atol=1e-4, err_msg=step)
        free = m["free"].to_numpy()
        np.testing.assert_allclose(m.loc[free, "se"], m.loc[free, "se_r"], atol=1e-3, rtol=1e-4, err_msg=step)
        # every free parameter of lavaan is free here and every fixed one fixed
        assert (m["se_r"].notna() & (m["se_r"] > 0)).to_numpy().tolist() == free.tolist(), step


@pytest.mark.parametrize("name", list(FILES))
def test_step_differences_equal_lavtestlrt_satorra2000(results, name):
    table = results[name].table
    steps = REF[name]["steps"]
    for step, r in steps.items():
        row = table.loc[step]
        if "lrt" not in r:
            assert pd.isna(row["delta_chisq"]) and row["verdict"] == "baseline"
            continue
        assert "satorra.2000" in r["lrt"]["heading"]
        assert row["delta_chisq"] == pytest.approx(r["lrt"]["chisq_diff"], rel=1e-4, abs=1e-4), step
        assert int(row["delta_df"]) == r["lrt"]["df_diff"], step
        assert row["delta_pvalue"] == pytest.approx(r["lrt"]["pvalue"], rel=1e-3, abs=1e-5), step
    names = list(steps)
    for prev, step in zip(names, names[1:]):
        want_cfi = steps[step]["fit"]["cfi.scaled"] - steps[prev]["fit"]["cfi.scaled"]
        want_rmsea = steps[step]["fit"]["rmsea.scaled"] - steps[prev]["fit"]["rmsea.scaled"]
        assert table.loc[step, "delta_cfi"] == pytest.approx(want_cfi, abs=1e-3)
        assert table.loc[step, "delta_rmsea"] == pytest.approx(want_rmsea, abs=1e-3)


def test_synthetic_non_invariant_threshold_is_found_and_freed(results):
    """The seeded shift of y2's second threshold: the thresholds step fails the difference test; freeing
    ``y2 | t2`` (partial invariance) makes it hold."""
    full, part = results["synthetic"].table, results["synthetic_partial"].table
    assert full.loc["thresholds", "delta_pvalue"] < 0.001
    assert part.loc["thresholds", "delta_pvalue"] > 0.5
    assert results["synthetic_partial"].level == "scalar"


def test_cfa_group_partial_equals_lavaan_group_partial():
    r = REF["cfa_partial"]
    d = _data("synthetic", r["group"])
    res = cfa(d, r["model"], ordered=True, group=r["group"], group_equal=r["group_equal"],
              group_partial=r["partial"])
    for key, want in r["fit"].items():
        _close(res.fit[key], want, key)
    ref = pd.DataFrame(r["params"])
    ref = ref[ref["op"].isin(OPS)].copy()
    ref["group"] = ref["group"].map(lambda g: r["group_labels"][g - 1])
    m = ref.merge(res.params.assign(group=res.params["group"].astype(str)), on=["lhs", "op", "rhs", "group"],
                  suffixes=("_r", ""), how="left")
    assert len(m) == len(ref) and m["est"].notna().all()
    np.testing.assert_allclose(m["est"], m["est_r"], atol=1e-4)
    # the freed threshold differs between the groups, the held ones do not
    t = res.params[(res.params["lhs"] == "y2") & (res.params["op"] == "|")].set_index(["rhs", "group"])["est"]
    assert abs(t[("t2", "a")] - t[("t2", "b")]) > 0.1 and t[("t1", "a")] == t[("t1", "b")]


def test_ordinal_invariance_choices_are_checked():
    r = REF["synthetic"]
    d = _data("synthetic", r["group"])
    with pytest.raises(ModelSpecificationError, match="delta parameterization"):
        invariance(d, r["model"], "group", ordered=True, steps=["configural", "strict"])
    with pytest.raises(ModelSpecificationError, match="WLSMV"):
        invariance(d, r["model"], "group", group_partial=["y2 | t2"])
    with pytest.raises(ModelSpecificationError, match="group_partial entry"):
        parse_partial("y2 t2")
    with pytest.raises(ModelSpecificationError, match="does not have"):  # a typo is not silently ignored
        invariance(d, r["model"], "group", ordered=True, steps=["configural", "thresholds"], group_partial=["y2|t4"])
    with pytest.raises(ModelSpecificationError, match="estimator"):
        invariance(d, r["model"], "group", ordered=True, estimator="ML")
    assert parse_partial(" f1=~ y3 ") == ("f1", "=~", "y3")


def test_cli_invariance_ordered_wlsmv_equals_lavaan(tmp_path):
    from click.testing import CliRunner

    from psyscreen.cli import main

    r = REF["hs4_school"]
    out = tmp_path / "inv.xlsx"
    result = CliRunner().invoke(main, ["analyze", "invariance", str(DATA / FILES["hs4_school"]), "--model",
                                       r["model"], "--group", r["group"], "--ordered", "all", "--estimator",
                                       "WLSMV", "-o", str(out)])
    assert result.exit_code == 0, result.output
    sheets = pd.read_excel(out, sheet_name=None, engine="openpyxl")
    table = next(t for t in sheets.values() if "delta_chisq" in t.columns)
    table = table.set_index(table.columns[0])
    for step, ref in r["steps"].items():
        assert table.loc[step, "chisq_scaled"] == pytest.approx(ref["fit"]["chisq.scaled"], abs=1e-3), step
        assert table.loc[step, "cfi_scaled"] == pytest.approx(ref["fit"]["cfi.scaled"], abs=1e-3), step
        if "lrt" in ref:
            assert table.loc[step, "delta_chisq"] == pytest.approx(ref["lrt"]["chisq_diff"], abs=1e-3), step


def test_ordinal_invariance_drops_incomplete_rows_once_with_one_warning():
    r = REF["bfi_gender"]
    d = _data("bfi_gender", r["group"])
    with pytest.warns(UserWarning, match="dropped") as rec:
        res = invariance(d, r["model"], r["group"], ordered=True, steps=["configural", "thresholds"])
    assert len([w for w in rec if "dropped" in str(w.message)]) == 1
    n_used = json.loads((DATA / "wlsmv_lavaan.json").read_text())["bfi"]["ntotal"]  # lavaan's, same rows
    assert all(f.n_used == n_used and f.n_dropped == len(d) - n_used for f in res.fits.values())
