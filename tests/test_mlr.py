"""estimator="MLR" (complete data) against lavaan 0.6.14: robust SEs, Yuan-Bentler scaled test, fit measures.

Reference figures: tests/data/mlr_lavaan.R -> tests/data/mlr_lavaan.json (via tests/mlr_helpers.py).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from psyscreen.analysis_report import sections_for
from psyscreen.cli import main
from psyscreen.validity import cfa, invariance
from psyscreen.validity._robust import satorra_bentler_2001
from psyscreen.validity.cfa import ModelSpecificationError

from .mlr_helpers import REF, assert_fit_measures, assert_params, data, fit_like

MLR_COMPLETE = ["hs3_mlr", "pd_mlr", "hs3_school_mlr", "hs3_school_metric_mlr", "hsmis_mlr_listwise",
                "bfi_mlr_listwise"]
#: the names fitMeasures prints for MLR beyond ML's
MLR_NAMES = ["chisq.scaled", "df.scaled", "pvalue.scaled", "chisq.scaling.factor", "baseline.chisq.scaled",
             "baseline.df.scaled", "baseline.pvalue.scaled", "baseline.chisq.scaling.factor", "cfi.scaled",
             "tli.scaled", "cfi.robust", "tli.robust", "nnfi.scaled", "nnfi.robust", "rfi.scaled", "nfi.scaled",
             "pnfi.scaled", "ifi.scaled", "rni.scaled", "rni.robust", "scaling.factor.h1", "scaling.factor.h0",
             "rmsea.scaled", "rmsea.ci.lower.scaled", "rmsea.ci.upper.scaled", "rmsea.pvalue.scaled",
             "rmsea.notclose.pvalue.scaled", "rmsea.robust", "rmsea.ci.lower.robust", "rmsea.ci.upper.robust",
             "rmsea.pvalue.robust", "rmsea.notclose.pvalue.robust"]


@pytest.fixture(scope="module")
def fits():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the listwise fits warn about dropped rows
        return {key: fit_like(REF["fits"][key]) for key in MLR_COMPLETE}


@pytest.mark.parametrize("key", MLR_COMPLETE)
def test_mlr_estimates_and_robust_se_equal_lavaan(fits, key):
    assert_params(fits[key], REF["fits"][key]["params"])


@pytest.mark.parametrize("key", MLR_COMPLETE)
def test_mlr_fit_measures_equal_lavaan(fits, key):
    ref = REF["fits"][key]
    assert set(MLR_NAMES) <= set(ref["fit"])
    assert_fit_measures(fits[key], ref["fit"])
    assert fits[key].estimator == "MLR"


def test_mlr_se_differ_from_ml_se():
    """The robust SEs are not the ML ones (a hook that ignored estimator= would pass the ML test)."""
    ref = REF["fits"]["hs3_mlr"]
    ml = cfa(data("hs"), ref["model"])
    mlr = fit_like(ref)
    assert np.allclose(ml.params["est"], mlr.params["est"], atol=1e-6)
    free = ml.params["free"].to_numpy()
    assert np.max(np.abs(ml.params["se"][free] - mlr.params["se"][free])) > 0.01
    assert "chisq.scaled" not in ml.fit


def test_scaled_difference_equals_lavtestlrt_closed_form():
    """Satorra-Bentler (2001) from lavaan's own chisq, df and scaling factors equals lavTestLRT."""
    ref = REF["invariance"]["inv_hs_school_mlr"]
    steps = ["configural", "metric", "scalar", "strict"]
    for a, b, lrt in zip(steps[:-1], steps[1:], ref["lrt"]):
        fa, fb = ref["fit"][a], ref["fit"][b]
        td, ddf, p = satorra_bentler_2001(fb["chisq"], fb["df"], fb["chisq.scaling.factor"],
                                          fa["chisq"], fa["df"], fa["chisq.scaling.factor"])
        assert ddf == lrt["df_diff"]
        assert td == pytest.approx(lrt["chisq_diff"], abs=1e-6)
        assert p == pytest.approx(lrt["pvalue"], abs=1e-6)


def test_invariance_mlr_equals_lavaan():
    ref = REF["invariance"]["inv_hs_school_mlr"]
    res = invariance(data("hs"), ref["model"], "school", estimator="MLR")
    t = res.table
    for lrt in ref["lrt"]:
        assert "satorra.bentler.2001" in lrt["method"]
        assert t.loc[lrt["step"], "delta_chisq"] == pytest.approx(lrt["chisq_diff"], abs=1e-3)
        assert t.loc[lrt["step"], "delta_df"] == lrt["df_diff"]
        assert t.loc[lrt["step"], "delta_pvalue"] == pytest.approx(lrt["pvalue"], abs=1e-3)
    for step, fm in ref["fit"].items():
        assert res.fits[step].fit["chisq.scaled"] == pytest.approx(fm["chisq.scaled"], abs=1e-3)
        # the table's cfi / rmsea (and the deltas and verdicts) are the scaled measures
        assert t.loc[step, "cfi"] == pytest.approx(fm["cfi.scaled"], abs=1e-3)
        assert t.loc[step, "rmsea"] == pytest.approx(fm["rmsea.scaled"], abs=1e-3)
        assert t.loc[step, "chisq_scaled"] == pytest.approx(fm["chisq.scaled"], abs=1e-3)
    assert t.loc["metric", "delta_cfi"] == pytest.approx(
        ref["fit"]["metric"]["cfi.scaled"] - ref["fit"]["configural"]["cfi.scaled"], abs=1e-3)
    assert (res.estimator, res.n_used, res.n_dropped) == ("MLR", 301, 0)


def test_listwise_deletion_is_counted_and_warned_once():
    """The issue's example: cfa kept 145 of 301 rows silently; now n_used/n_dropped say so, with one warning."""
    ref = REF["fits"]["hsmis_mlr_listwise"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = fit_like(ref)
    msg = "cfa dropped 156 of 301 rows with a missing answer (listwise); use missing='ml' to keep them"
    assert [str(w.message) for w in caught] == [msg]
    assert (res.n_used, res.n_dropped) == (ref["nobs"], ref["norig"] - ref["nobs"]) == (145, 156)
    assert res.warnings == (msg,)
    assert "n_used = 145, n_dropped = 156" in res._repr_html_()
    text = sections_for(res)[0].text
    assert "Rows used: 145, dropped: 156" in text and "chi2(24) = " in text and "Scaled (estimator MLR)" in text


def test_invariance_warns_once_for_all_steps():
    ref = REF["fits"]["hsmis_mlr_listwise"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = invariance(data("hs_missing"), ref["model"], "school", steps=("configural", "metric"))
    assert len(caught) == 1 and str(caught[0].message).startswith("invariance dropped 156 of 301 rows")
    assert (res.n_used, res.n_dropped) == (145, 156) and len(res.warnings) == 1
    assert "n_dropped = 156" in res._repr_html_()
    assert "dropped: 156" in sections_for(res)[0].text


def test_complete_data_gives_no_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = cfa(data("hs"), REF["fits"]["hs3_mlr"]["model"])
    assert (res.n_used, res.n_dropped, res.warnings) == (301, 0, ())


def test_unknown_estimator_or_missing_is_refused():
    model = REF["fits"]["hs3_mlr"]["model"]
    with pytest.raises(ModelSpecificationError, match="'ML', 'MLR' or 'WLSMV'"):
        cfa(data("hs"), model, estimator="WLS")
    with pytest.raises(ModelSpecificationError, match="'listwise' or 'ml'"):
        cfa(data("hs"), model, missing="pairwise")


def _sheet(path, name) -> pd.DataFrame:
    return pd.read_excel(path, sheet_name=name, engine="openpyxl")


def test_cli_cfa_and_invariance_with_estimator_and_missing(tmp_path):
    ref = REF["fits"]["hsmis_fiml_mlr"]
    src = tmp_path / "hs_missing.csv"
    data("hs_missing").to_csv(src, index=False)
    out = tmp_path / "cfa.xlsx"
    result = CliRunner().invoke(main, ["analyze", "cfa", str(src), "--model", ref["model"], "--estimator", "MLR",
                                       "--missing", "ml", "-o", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    fit = _sheet(out, "fit").iloc[0]
    for name in ("chisq", "chisq.scaled", "cfi.scaled", "rmsea.robust", "logl"):
        assert fit[name] == pytest.approx(ref["fit"][name], abs=1e-3, rel=1e-6), name
    assert fit["ntotal"] == 301
    inv = REF["invariance"]["inv_hsmis_school_fiml_mlr"]
    out = tmp_path / "inv.xlsx"
    result = CliRunner().invoke(main, ["analyze", "invariance", str(src), "--model", inv["model"], "--group",
                                       "school", "--estimator", "MLR", "--missing", "ml", "-o", str(out)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    tab = _sheet(out, "invariance").set_index("step")
    for lrt in inv["lrt"]:
        assert tab.loc[lrt["step"], "delta_chisq"] == pytest.approx(lrt["chisq_diff"], abs=1e-3)
