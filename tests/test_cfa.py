"""CFA against lavaan 0.6.14 (lavaan::cfa, ML, default options) on HolzingerSwineford1939."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import optimize

from psyscreen.validity._lavaan_syntax import ModelSyntaxError, parse_model
from psyscreen.validity.cfa import (
    CFAResult,
    ConvergenceError,
    IdentificationError,
    InsufficientDataError,
    ModelSpecificationError,
    NotPositiveDefiniteError,
    cfa,
)

from .lavaan_helpers import EXTRA, compare_with_lavaan  # figures of tests/data/lavaan_cfa_extra.R

cfa_module = importlib.import_module("psyscreen.validity.cfa")  # the module, not the re-exported function

REF = Path(__file__).resolve().parents[2] / "shared" / "reference"
EXPECTED = json.loads((REF / "expected.json").read_text())["cfa"]
HS_MODEL = EXPECTED["model"]


@pytest.fixture(scope="module")
def hs() -> pd.DataFrame:
    return pd.read_csv(REF / "cfa.csv")


@pytest.fixture(scope="module")
def fit(hs: pd.DataFrame) -> CFAResult:
    return cfa(hs, HS_MODEL)


# ---------------------------------------------------------------- the reference figures
@pytest.mark.parametrize("name", ["chisq", "df", "pvalue", "cfi", "tli", "rmsea", "srmr", "aic", "bic"])
def test_fit_measures_match_lavaan(fit: CFAResult, name: str) -> None:
    # iterative fit: the standard asks 1e-3; this estimator gets within 1e-6 absolute
    assert fit.fit[name] == pytest.approx(EXPECTED["fit"][name], abs=1e-6, rel=0)


def test_n_and_npar(fit: CFAResult) -> None:
    assert fit.fit.n == EXPECTED["n"] == 301
    assert fit.fit.npar == 21  # lavaan: no mean parameters without a mean structure
    assert fit.n_obs == (301,)


def test_standardized_loadings_match_lavaan(fit: CFAResult) -> None:
    got = {f"{r.factor}=~{r.item}": r.estimate for r in fit.std_loadings.itertuples()}
    assert set(got) == set(EXPECTED["std_loadings"])
    for key, value in EXPECTED["std_loadings"].items():
        assert got[key] == pytest.approx(value, abs=1e-5), key


def test_loglik_is_consistent_with_aic_bic(fit: CFAResult) -> None:
    f = fit.fit
    assert f.aic == pytest.approx(-2 * f.loglik + 2 * f.npar, abs=1e-9)
    assert f.bic == pytest.approx(-2 * f.loglik + np.log(f.n) * f.npar, abs=1e-9)


def test_rmsea_ci_brackets_rmsea_and_inverts_noncentral_chisq(fit: CFAResult) -> None:
    f = fit.fit
    assert f.rmsea_ci_low < f.rmsea < f.rmsea_ci_high
    # lavaan prints [0.071, 0.114] for this model
    assert f.rmsea_ci_low == pytest.approx(0.071, abs=5e-4)
    assert f.rmsea_ci_high == pytest.approx(0.114, abs=5e-4)
    from scipy import stats

    lam_lo = f.rmsea_ci_low**2 * f.n * f.df
    lam_hi = f.rmsea_ci_high**2 * f.n * f.df
    assert stats.ncx2.cdf(f.chisq, f.df, lam_lo) == pytest.approx(0.95, abs=1e-8)
    assert stats.ncx2.cdf(f.chisq, f.df, lam_hi) == pytest.approx(0.05, abs=1e-8)


def test_fit_is_dict_like(fit: CFAResult) -> None:
    d = dict(fit.fit)
    assert d["chisq"] == fit.fit.chisq
    assert {"chisq", "df", "pvalue", "cfi", "tli", "rmsea", "rmsea.ci.lower", "rmsea.ci.upper", "srmr",
            "aic", "bic", "logl", "ntotal"} <= set(fit.fit.keys())
    with pytest.raises(KeyError):
        fit.fit["gfi"]


def test_params_table(fit: CFAResult) -> None:
    p = fit.params
    assert len(p) == 24  # 9 loadings, 9 residual variances, 3 factor variances, 3 covariances
    assert int(p["free"].sum()) == 21
    markers = p[(p["op"] == "=~") & ~p["free"]]
    assert markers["rhs"].tolist() == ["x1", "x4", "x7"]
    assert (markers["est"] == 1.0).all() and markers["se"].isna().all()
    free = p[p["free"]]
    assert np.allclose(free["z"], free["est"] / free["se"])
    assert (free["se"] > 0).all()
    assert fit.to_frame().equals(p)
    assert "<table" in fit._repr_html_()


def test_std_loading_ses_are_delta_method(fit: CFAResult) -> None:
    se = fit.std_loadings["se"].to_numpy()
    assert np.all(np.isfinite(se)) and np.all(se > 0) and np.all(se < 0.2)
    # lavaan standardizedSolution(): x1 0.772 (0.055), x5 0.855 (0.022)
    got = fit.std_loadings.set_index("item")["se"]
    assert got["x1"] == pytest.approx(0.055, abs=1e-3)
    assert got["x5"] == pytest.approx(0.022, abs=1e-3)


def test_reliability_composite_and_ave(fit: CFAResult) -> None:
    rel = fit.reliability.set_index("factor")
    p = fit.params
    for factor, block in fit.std_loadings.groupby("factor"):
        lam = p[(p["op"] == "=~") & (p["lhs"] == factor)]
        theta = p[(p["op"] == "~~") & (p["lhs"] == p["rhs"]) & p["lhs"].isin(lam["rhs"])]["est"]
        psi = p[(p["op"] == "~~") & (p["lhs"] == factor) & (p["rhs"] == factor)]["est"].iloc[0]
        true = lam["est"].sum() ** 2 * psi
        assert rel.loc[factor, "omega"] == pytest.approx(true / (true + theta.sum()), abs=1e-12)
        # AVE as semTools::AVE(obs.var = FALSE): explained over total model-implied item variance
        # (not the mean squared standardized loading; tests/test_semtools.py checks it against semTools)
        assert rel.loc[factor, "ave"] == pytest.approx(
            (lam["est"] ** 2).sum() * psi / ((lam["est"] ** 2).sum() * psi + theta.sum()), abs=1e-12)
        assert rel.loc[factor, "n_items"] == 3
    # textual: loadings .85 or more, so omega is high; visual is weak
    assert rel.loc["textual", "omega"] > 0.85 > rel.loc["visual", "omega"]


# ---------------------------------------------------------------- identification and options
def test_std_lv_gives_the_same_fit_and_standardized_solution(hs: pd.DataFrame, fit: CFAResult) -> None:
    alt = cfa(hs, HS_MODEL, std_lv=True)
    for name in ("chisq", "df", "cfi", "rmsea", "srmr", "aic"):
        assert alt.fit[name] == pytest.approx(fit.fit[name], abs=1e-6)
    assert np.allclose(alt.std_loadings["estimate"], fit.std_loadings["estimate"], atol=1e-6)
    p = alt.params
    assert (p.loc[p["op"] == "=~", "free"]).all()
    variances = p[(p["op"] == "~~") & (p["lhs"] == p["rhs"]) & p["lhs"].isin(["visual", "textual", "speed"])]
    assert (variances["est"] == 1.0).all() and not variances["free"].any()


def test_meanstructure_does_not_change_single_group_fit(hs: pd.DataFrame, fit: CFAResult) -> None:
    alt = cfa(hs, HS_MODEL, meanstructure=True)
    assert alt.fit.chisq == pytest.approx(fit.fit.chisq, abs=1e-6)
    assert alt.fit.df == fit.fit.df
    assert alt.fit.npar == fit.fit.npar + 9
    ints = alt.params[alt.params["op"] == "~1"].set_index("lhs")["est"]
    assert np.allclose(ints[[f"x{i}" for i in range(1, 10)]], hs.mean().to_numpy(), atol=1e-6)


def test_fixed_value_label_and_residual_covariance(hs: pd.DataFrame, fit: CFAResult) -> None:
    fixed = cfa(hs, HS_MODEL.replace("x2", "0.5*x2"))
    assert fixed.fit.df == 25
    row = fixed.params[(fixed.params["op"] == "=~") & (fixed.params["rhs"] == "x2")].iloc[0]
    assert row["est"] == 0.5 and not row["free"]
    assert fixed.fit.chisq >= fit.fit.chisq - 1e-8  # a constrained model never fits better

    labelled = cfa(hs, HS_MODEL.replace("x5 + x6", "a*x5 + a*x6"))
    assert labelled.fit.df == 25
    est = labelled.params.set_index("rhs").loc[["x5", "x6"]]
    est = est[est["op"] == "=~"]
    assert est["est"].iloc[0] == est["est"].iloc[1]

    rescov = cfa(hs, HS_MODEL + "\nx7 ~~ x8  # speeded tasks")
    assert rescov.fit.df == 23
    assert rescov.fit.chisq < fit.fit.chisq
    # the same model written on one line with ';' separators
    one_line = cfa(hs, "visual =~ x1 + x2 + x3; textual =~ x4 + x5 + x6; speed =~ x7 + x8 + x9; x7 ~~ x8")
    assert one_line.fit.chisq == pytest.approx(rescov.fit.chisq, abs=1e-8)


def test_orthogonal_factors_by_fixed_covariances(hs: pd.DataFrame, fit: CFAResult) -> None:
    model = HS_MODEL + "\nvisual ~~ 0*textual\nvisual ~~ 0*speed\ntextual ~~ 0*speed"
    orth = cfa(hs, model)
    assert orth.fit.df == 27
    assert orth.fit.chisq > fit.fit.chisq


def test_listwise_deletion(hs: pd.DataFrame) -> None:
    holes = hs.copy()
    holes.loc[[0, 5, 10], "x3"] = np.nan
    with pytest.warns(UserWarning, match="cfa dropped 3 of 301 rows with a missing answer"):
        res = cfa(holes, HS_MODEL)
    assert res.fit.n == 298 and (res.n_used, res.n_dropped) == (298, 3)
    direct = cfa(hs.drop(index=[0, 5, 10]), HS_MODEL)
    assert res.fit.chisq == pytest.approx(direct.fit.chisq, abs=1e-8)


# ---------------------------------------------------------------- errors
def test_unknown_variable(hs: pd.DataFrame) -> None:
    with pytest.raises(ModelSpecificationError, match=r"line 2.*'x44'"):
        cfa(hs, "visual =~ x1 + x2 + x3\ntextual =~ x44 + x5 + x6")


def test_syntax_error_is_located(hs: pd.DataFrame) -> None:
    with pytest.raises(ModelSyntaxError) as info:
        cfa(hs, "visual =~ x1 + x2 + x3\n\nspeed ~ x7 + x8")
    assert info.value.line == 3
    assert "line 3" in str(info.value)
    with pytest.raises(ModelSyntaxError) as info:
        parse_model("f =~ a + 2b")
    assert info.value.token == "2b"
    with pytest.raises(ModelSyntaxError, match="':='"):
        parse_model("f =~ a + b + c\nd := a*b")


def test_parser_premultipliers_and_comments() -> None:
    terms = parse_model("# header\nf =~ NA*a + l1*b +\n  0.5*c ! trailing\n a ~~ b; a ~ 1")
    got = [(t.lhs, t.op, t.rhs, t.fixed, t.free, t.label, t.line) for t in terms]
    assert got == [
        ("f", "=~", "a", None, True, None, 2),
        ("f", "=~", "b", None, False, "l1", 2),
        ("f", "=~", "c", 0.5, False, None, 2),
        ("a", "~~", "b", None, False, None, 4),
        ("a", "~1", "", None, False, None, 4),
    ]


def test_not_positive_definite(hs: pd.DataFrame) -> None:
    bad = hs.assign(x10=hs["x1"] + hs["x2"])
    with pytest.raises(NotPositiveDefiniteError, match="not positive definite"):
        cfa(bad, HS_MODEL.replace("x3", "x3 + x10"))
    const = hs.assign(x10=1.0)
    with pytest.raises(NotPositiveDefiniteError, match="x10"):
        cfa(const, HS_MODEL.replace("x3", "x3 + x10"))


def test_too_few_rows(hs: pd.DataFrame) -> None:
    with pytest.raises(InsufficientDataError, match="9 model variables"):
        cfa(hs.head(8), HS_MODEL)


def test_not_identified(hs: pd.DataFrame) -> None:
    with pytest.raises(IdentificationError):
        cfa(hs, HS_MODEL.replace("visual =~ x1", "visual =~ NA*x1"))


def test_non_convergence_carries_the_optimiser_message(hs: pd.DataFrame, monkeypatch) -> None:
    real = optimize.minimize

    def one_step(*args, **kwargs):
        kwargs["options"] = {**kwargs.get("options", {}), "maxiter": 1}
        return real(*args, **kwargs)

    monkeypatch.setattr(cfa_module.optimize, "minimize", one_step)
    with pytest.raises(ConvergenceError, match="Maximum number of iterations"):
        cfa(hs, HS_MODEL)


def test_bad_arguments(hs: pd.DataFrame) -> None:
    with pytest.raises(ModelSpecificationError, match="estimator"):
        cfa(hs, HS_MODEL, estimator="WLSMV")
    with pytest.raises(TypeError):
        cfa(hs.to_numpy(), HS_MODEL)
    with pytest.raises(ModelSpecificationError, match="group_equal"):
        cfa(hs, HS_MODEL, group_equal=("loadings",))
    with pytest.raises(ModelSpecificationError, match="numeric"):
        cfa(hs.assign(x1=hs["x1"].astype(str)), HS_MODEL)


def test_full_parameter_table_matches_lavaan(fit: CFAResult) -> None:
    compare_with_lavaan(fit, EXTRA["hs"])


def test_labels_residual_covariance_std_lv_match_lavaan(hs: pd.DataFrame) -> None:
    ref = EXTRA["hs_rescov_label_stdlv"]
    compare_with_lavaan(cfa(hs, ref["model"], std_lv=True), ref)


# tests/data/lavaan_fitmeasures.json: every fitMeasures() figure of three lavaan fits
# (tests/data/lavaan_fitmeasures.R, lavaan 0.6.14)
FIT_MEASURES = json.loads((Path(__file__).resolve().parent / "data" / "lavaan_fitmeasures.json").read_text())
COMPUTED = {"npar", "fmin", "chisq", "df", "pvalue", "baseline.chisq", "baseline.df", "baseline.pvalue", "cfi", "tli",
            "nnfi", "rfi", "nfi", "pnfi", "ifi", "rni", "logl", "unrestricted.logl", "aic", "bic", "ntotal", "bic2",
            "rmsea", "rmsea.ci.lower", "rmsea.ci.upper", "rmsea.ci.level", "rmsea.pvalue", "rmsea.close.h0",
            "rmsea.notclose.pvalue", "rmsea.notclose.h0", "srmr", "srmr_bentler", "mfi", "ecvi"}


@pytest.mark.parametrize("name", sorted(FIT_MEASURES))
def test_fit_measures_under_lavaan_names_equal_lavaan(name: str) -> None:
    ref = FIT_MEASURES[name]
    group = ref["group"] if isinstance(ref["group"], str) else None
    data = pd.read_csv(REF / "cfa.csv") if group is None else pd.read_csv(REF / "invariance.csv")
    res = cfa(data, ref["model"], group=None if group is None else "group", group_equal=ref["group_equal"])
    assert COMPUTED <= set(res.fit)
    for key in COMPUTED:
        assert res.fit[key] == pytest.approx(ref["fit"][key], abs=1e-6, rel=1e-6), key
    # attribute access by lavaan's name with '_' for '.', and the short names of earlier versions
    assert res.fit.rmsea_ci_lower == res.fit["rmsea.ci.lower"] == res.fit.rmsea_ci_low
    assert res.fit.loglik == res.fit["logl"] and res.fit.n == res.fit["ntotal"]
