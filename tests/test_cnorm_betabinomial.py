"""Beta-binomial continuous norms (psyscreen.norms_betabinomial) against R cNORM 3.6.0 cnorm.betabinomial
(shared/reference/cnorm/ppvt, n = 228) and on their own terms: save/load, screen --norms, bad input."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from psyscreen.norms import BetaBinomialNorms, read_norms
from psyscreen.norms_betabinomial import fit_beta_binomial
from psyscreen.norms_continuous import ContinuousNormError

REF = Path(__file__).resolve().parents[2] / "shared" / "reference" / "cnorm" / "ppvt"


@pytest.fixture(scope="module")
def ppvt_bb():
    d = pd.read_csv(REF / "data.csv")
    e = json.loads((REF / "expected.json").read_text(encoding="utf-8"))["betabinomial"]
    bb = BetaBinomialNorms(age="age", n_items=228).fit(d, "raw")
    return bb, e


def test_fit_equals_cnorm_betabinomial(ppvt_bb):
    bb, e = ppvt_bb
    m = bb.models_[((), "raw")]
    st = e["standardization"]
    assert m.age_mean == pytest.approx(st["age_mean"], rel=1e-12) and m.age_sd == pytest.approx(st["age_sd"], rel=1e-12)
    assert (len(m.alpha) - 1, len(m.beta) - 1) == (e["settings"]["alpha_degree"], e["settings"]["beta_degree"])
    # the log-likelihood at least as high as cNORM's, and equal to 1e-6 relative (cNORM's optim stops earlier)
    ll = e["diagnostics"]["log_likelihood"]
    assert m.loglik >= ll - 1e-6 and m.loglik == pytest.approx(ll, rel=1e-6)
    assert m.aic == pytest.approx(e["diagnostics"]["AIC"], rel=1e-6) and m.bic == pytest.approx(
        e["diagnostics"]["BIC"], rel=1e-6)
    coef = np.r_[m.alpha, m.beta]
    ref = np.r_[e["alpha_est"], e["beta_est"]]
    np.testing.assert_allclose(coef, ref, rtol=0, atol=2e-4 * np.abs(ref).max())   # ~1e-4 of the coefficients' size
    assert np.all(np.abs(coef - ref) < 0.01 * np.array(e["se"]))  # and < 1% of a standard error
    np.testing.assert_allclose(m.se, e["se"], rtol=1e-3)


def test_predictions_moments_and_norm_table_equal_cnorm(ppvt_bb):
    bb, e = ppvt_bb
    g = e["predict_grid"]["grid"]
    got = bb.predict_norm(g["score"], g["age"])["norm"].to_numpy()
    np.testing.assert_allclose(got, g["norm"], atol=0.01)
    pc = e["predicted_coefficients"]
    mom = bb.models_[((), "raw")].moments(pc["age"])
    for c in ("a", "b", "mu", "sigma"):
        np.testing.assert_allclose(mom[c], pc[c], rtol=2e-4)
    tables = bb.norm_table(pc["age"], reliability=0.94, ci=0.9)
    for a, want in e["normTable"]["tables"].items():
        got = tables[float(a)]
        assert got["x"].tolist() == want["x"]
        for c in ("Px", "Pcum"):
            np.testing.assert_allclose(got[c], want[c], rtol=5e-3, atol=1e-6)
        for c in ("Percentile", "norm", "lowerCI", "upperCI", "lowerCI_PR", "upperCI_PR"):
            np.testing.assert_allclose(got[c], want[c], atol=0.02)


def _counts(n_per_grade=150, seed=3):
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(4, 13), n_per_grade)
    sex = rng.choice(["F", "M"], g.size)
    p = rng.beta(1.5, 9 - 0.3 * (g - 4) - 1.0 * (sex == "F"))
    return pd.DataFrame({"grade": g, "sex": sex, "phq9.total": rng.binomial(27, p)})


def test_transform_marks_outside_and_round_trips_through_json_and_excel(tmp_path):
    bb = BetaBinomialNorms(by="sex", n_items=27, alpha_degree=2, beta_degree=2).fit(_counts(), "phq9.total")
    new = pd.DataFrame({"grade": [6, 6, 20, 6, np.nan], "sex": ["F"] * 5, "phq9.total": [7, 30, 7, 0, 7]})
    out = bb.transform(new)
    assert out["phq9.total.outside"].tolist() == [False, True, True, False, False]
    assert np.isnan(out["phq9.total.t"].iloc[4])
    assert out["phq9.total.pr"].iloc[0] == pytest.approx(100 * stats.norm.cdf((out["phq9.total.t"].iloc[0] - 50) / 10))
    f, m = (bb.predict_norm([8], [8], stratum=s)["norm"].iloc[0] for s in ("F", "M"))
    assert f < m  # girls score higher: the same count is less unusual for a girl
    raw = bb.predict_raw([50, 60], [8, 8], stratum="F")
    assert raw[0] <= raw[1] and bb.check_consistency(stratum="F").consistent
    probe = _counts(10, seed=9)
    want = bb.transform(probe)
    for back in (read_norms(bb.to_json(tmp_path / "b.json")), read_norms(bb.to_excel(tmp_path / "b.xlsx", reliability=.8))):
        assert isinstance(back, BetaBinomialNorms)
        pd.testing.assert_frame_equal(back.transform(probe), want, check_exact=True)
    t = bb.print_tables()
    assert set(t["grade"]) == set(np.arange(4, 12.01, 0.5))
    assert t[(t["sex"] == "M") & (t["grade"] == 7)]["norm"].is_monotonic_increasing


def test_screen_applies_a_beta_binomial_norm_file(tmp_path):
    bb = BetaBinomialNorms(by="sex", n_items=27, alpha_degree=2, beta_degree=2).fit(_counts(), "phq9.total")
    frame, note = read_norms(bb.to_json(tmp_path / "b.json"))._screen_apply(
        pd.DataFrame({"grade": [5, 5, 30], "sex": ["F", None, "M"], "phq9.total": [3, 3, 3]}))
    assert frame["phq9.total.t"].notna().tolist() == [True, False, True]
    assert "1 student(s) without" in note and "outside the modelled range" in note


def test_bad_input_is_a_clear_error():
    d = _counts(30)
    with pytest.raises(ContinuousNormError, match="whole raw scores 0..20"):
        BetaBinomialNorms(n_items=20).fit(d.assign(**{"phq9.total": d["phq9.total"] + 5}), "phq9.total")
    with pytest.raises(ContinuousNormError, match="distinct ages"):
        fit_beta_binomial(np.repeat([1.0, 2.0], 50), np.arange(100) % 5, 10)
    with pytest.raises(ContinuousNormError, match="no variance"):
        fit_beta_binomial(np.arange(100) % 6, np.full(100, 3.0), 10)
    with pytest.warns(Warning, match="n_items not given"):
        BetaBinomialNorms(alpha_degree=1, beta_degree=1).fit(d, "phq9.total")


def test_counts_without_overdispersion_warn_that_the_model_degenerates():
    rng = np.random.default_rng(4)
    g = np.repeat(np.arange(1, 7), 200)
    d = pd.DataFrame({"grade": g, "x": rng.binomial(20, 0.2 + 0.02 * g)})  # plain binomial: alpha, beta -> infinity
    with pytest.warns(Warning, match="almost no overdispersion"):
        BetaBinomialNorms(n_items=20, alpha_degree=1, beta_degree=1).fit(d, "x")
