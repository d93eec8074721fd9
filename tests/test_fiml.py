"""missing="ml" (FIML) with the ML and MLR estimators against lavaan 0.6.14.

HolzingerSwineford1939 with missing answers injected in R (seeded; listwise keeps 145 of 301
rows), psychTools::bfi A1-A5/C1-C5 with their real missing answers, and multi-group fits.
Reference figures: tests/data/mlr_lavaan.R -> tests/data/mlr_lavaan.json.
"""

from __future__ import annotations

import importlib
import warnings

import numpy as np
import pytest

from psyscreen.validity import cfa, invariance
from psyscreen.validity._fiml import em_saturated, group_patterns, pattern_loglik
from psyscreen.validity.cfa import ModelSpecificationError

from .mlr_helpers import REF, assert_fit_measures, assert_params, data, fit_like

FIML = ["hsmis_fiml", "hsmis_fiml_mlr", "hsmis_school_fiml_mlr", "bfi_fiml", "bfi_fiml_mlr", "bfi_gender_fiml_mlr"]


@pytest.fixture(scope="module")
def fits():
    return {key: fit_like(REF["fits"][key]) for key in FIML}


@pytest.mark.parametrize("key", FIML)
def test_fiml_estimates_and_se_equal_lavaan(fits, key):
    assert_params(fits[key], REF["fits"][key]["params"])


@pytest.mark.parametrize("key", FIML)
def test_fiml_fit_measures_equal_lavaan(fits, key):
    """chisq against the EM saturated model, FIML baseline, logl, the FIML-corrected robust CFI/RMSEA ..."""
    ref = REF["fits"][key]
    for name in ("unrestricted.logl", "baseline.chisq", "cfi.robust", "rmsea.robust"):
        assert name in ref["fit"]
    assert_fit_measures(fits[key], ref["fit"])


@pytest.mark.parametrize("key", FIML)
def test_fiml_uses_every_row(fits, key):
    ref = REF["fits"][key]
    res = fits[key]
    nobs = ref["nobs"] if isinstance(ref["nobs"], list) else [ref["nobs"]]
    assert list(res.n_obs) == nobs
    assert res.n_used == sum(nobs) and res.n_dropped == 0 and res.warnings == ()
    assert res.missing == "ml"


def test_the_issue_example_keeps_all_301_rows(fits):
    listwise = REF["fits"]["hsmis_ml_listwise"]
    with pytest.warns(UserWarning, match="dropped 156 of 301"):
        lw = fit_like(listwise)
    assert lw.n_used == listwise["nobs"] == 145
    assert fits["hsmis_fiml"].n_used == REF["fits"]["hsmis_fiml"]["nobs"] == 301
    assert_fit_measures(lw, listwise["fit"])


def test_saturated_model_by_em_reaches_lavaan_h1_loglik():
    ref = REF["fits"]["bfi_fiml"]["fit"]
    X = data("bfi_ac")[[f"{s}{k}" for s in "AC" for k in range(1, 6)]].to_numpy(dtype=float)
    X = X[~np.isnan(X).all(1)]
    pats = group_patterns(X)
    assert sum(pt.n for pt in pats) == len(X) and pats[0].obs.all()
    mu, sigma, it = em_saturated(pats, X.shape[1])
    assert pattern_loglik(pats, sigma, mu) == pytest.approx(ref["unrestricted.logl"], abs=1e-3)
    # with complete data the saturated model is the sample mean and covariance (divisor n)
    C = X[~np.isnan(X).any(1)]
    mu_c, sig_c, _ = em_saturated(group_patterns(C), C.shape[1])
    assert np.allclose(mu_c, C.mean(0)) and np.allclose(sig_c, np.cov(C.T, bias=True))


def test_row_without_answers_is_dropped_with_a_warning():
    ref = REF["fits"]["hsmis_fiml"]
    d = data("hs_missing").copy()
    d.loc[0, [f"x{k}" for k in range(1, 10)]] = np.nan
    with pytest.warns(UserWarning, match="dropped 1 of 301 rows with no answer"):
        res = cfa(d, ref["model"], missing="ml")
    assert (res.n_used, res.n_dropped) == (300, 1)
    same = cfa(d.iloc[1:], ref["model"], missing="ml")
    assert np.allclose(res.params["est"], same.params["est"], atol=1e-8)


def test_fiml_needs_the_mean_structure():
    with pytest.raises(ModelSpecificationError, match="mean structure"):
        cfa(data("hs_missing"), REF["fits"]["hsmis_fiml"]["model"], missing="ml", meanstructure=False)


@pytest.mark.parametrize("key", ["inv_hsmis_school_fiml_mlr", "inv_bfi_gender_fiml_ml"])
def test_invariance_with_fiml_equals_lavaan(key):
    ref = REF["invariance"][key]
    res = invariance(data(ref["data"]), ref["model"], ref["group"], estimator=ref["estimator"], missing="ml")
    suffix = ".scaled" if ref["estimator"] == "MLR" else ""
    for lrt in ref["lrt"]:
        assert res.table.loc[lrt["step"], "delta_chisq"] == pytest.approx(lrt["chisq_diff"], abs=1e-3)
        assert res.table.loc[lrt["step"], "delta_pvalue"] == pytest.approx(lrt["pvalue"], abs=1e-3)
    for step, fm in ref["fit"].items():
        assert res.table.loc[step, "chisq"] == pytest.approx(fm["chisq"], abs=1e-3)
        assert res.table.loc[step, "cfi"] == pytest.approx(fm["cfi" + suffix], abs=1e-3)
        assert res.table.loc[step, "rmsea"] == pytest.approx(fm["rmsea" + suffix], abs=1e-3)
    assert res.missing == "ml" and res.n_dropped == 0


def test_fiml_work_is_per_pattern_not_per_person():
    """2,800 bfi rows collapse to a few dozen patterns; the objective holds one stacked array per group."""
    ref = REF["fits"]["bfi_fiml"]
    cfa_module = importlib.import_module("psyscreen.validity.cfa")
    X = data("bfi_ac")[[f"{s}{k}" for s in "AC" for k in range(1, 6)]].to_numpy(dtype=float)
    pats = group_patterns(X)
    assert len(pats) < 60 and sum(pt.n for pt in pats) == 2800
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = cfa_module.cfa(data("bfi_ac"), ref["model"], missing="ml")
    assert res.n_used == 2800


@pytest.mark.parametrize("estimator", ["ML", "MLR"])
def test_just_identified_model_with_fiml(estimator):
    """A saturated model (df 0) fits under FIML (the trust-region step used to break down at the optimum);
    lavaan 0.6.14 prints chisq 0, cfi.robust 1, tli.robust 1, rmsea.robust 0 for it."""
    res = cfa(data("hs_missing"), "f =~ x1 + x2 + x3", missing="ml", estimator=estimator)
    assert res.fit.df == 0 and res.fit.chisq == pytest.approx(0.0, abs=1e-6)
    assert res.fit["cfi.robust"] == pytest.approx(1.0) and res.fit["tli.robust"] == 1.0
    assert res.fit["rmsea.robust"] == 0.0
