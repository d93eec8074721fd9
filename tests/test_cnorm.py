"""Continuous norms (psyscreen.norms_continuous) against R cNORM 3.6.0 (shared/reference/cnorm), and on their own terms:
raking, weighted ranks, save/load, screen --norms, bad input, and a simulation against conventional norms."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from scipy import stats

from psyscreen.norms import ContinuousNorms, NormTable, read_norms
from psyscreen.norms_continuous import (ContinuousNormError, compute_weights, norm_ci, rank_percentiles,
                                        rank_sliding_window, select_taylor_model)

REF = Path(__file__).resolve().parents[2] / "shared" / "reference" / "cnorm" / "ppvt"
REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "sample"


@pytest.fixture(scope="module")
def ppvt():
    return pd.read_csv(REF / "data.csv"), json.loads((REF / "expected.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def fits(ppvt):
    d, _ = ppvt
    L = 50 + 10 * stats.norm.ppf(rank_percentiles(d["raw"], d["group"]))
    return {key: select_taylor_model(L, d["group"], d["raw"], k=k, t=3) for key, k in (("default", 5), ("k4_t3", 4))}


# ---- 1. ranks ---------------------------------------------------------------------------------------------------


def test_rankit_ranks_equal_cnorm_rank_by_group(ppvt):
    d, _ = ppvt
    ref = pd.read_csv(REF / "ranks_all.csv")
    p = rank_percentiles(d["raw"], d["group"])
    np.testing.assert_allclose(p[ref["row"] - 1], ref["percentile"], atol=1e-6)
    np.testing.assert_allclose(50 + 10 * stats.norm.ppf(p[ref["row"] - 1]), ref["normValue"], atol=1e-6)


def test_other_ranking_methods_and_descend():
    x = np.array([1.0, 2.0, 2.0, 5.0])
    r = np.array([1.0, 2.5, 2.5, 4.0])
    assert rank_percentiles(x, method="blom").tolist() == pytest.approx(((r - 3 / 8) / (4 + 1 / 4)).tolist())
    assert rank_percentiles(x, method="van_der_waerden").tolist() == pytest.approx((r / 5).tolist())
    assert rank_percentiles(x, method="tukey").tolist() == pytest.approx(((r - 1 / 3) / (4 + 1 / 3)).tolist())
    assert rank_percentiles(x, descend=True).tolist() == pytest.approx((1 - (r - 0.5) / 4).tolist())
    with pytest.raises(ContinuousNormError, match="unknown ranking method"):
        rank_percentiles(x, method="nope")


def test_weighted_ranks_match_a_hand_worked_example():
    # scores 1, 2, 2, 3 with weights 1, 1, 2, 4 (sum 8, scaled to n = 4: 0.5, 0.5, 1, 2)
    # RankIt: share below + half the share equal -> 1: 0.25/4... by hand: (0 + 0.5/2)/4, (0.5 + 1.5/2)/4, same, (2 + 2/2)/4
    p = rank_percentiles([1, 2, 2, 3], weights=[1, 1, 2, 4])
    assert p.tolist() == pytest.approx([0.0625, 0.3125, 0.3125, 0.75])
    assert rank_percentiles([1, 2, 2, 3], weights=[3, 3, 3, 3]).tolist() == rank_percentiles([1, 2, 2, 3]).tolist()


def test_sliding_window_ranks_within_the_window():
    raw = np.array([5.0, 1.0, 3.0, 9.0, 7.0])
    age = np.array([1.0, 1.2, 1.4, 3.0, 3.1])
    p = rank_sliding_window(raw, age, width=1.0, min_window=1)
    # window of the first three: ages 1..1.4; of the last two: 3..3.1
    assert p.tolist() == pytest.approx([2.5 / 3, 0.5 / 3, 1.5 / 3, 1.5 / 2, 0.5 / 2])
    with pytest.raises(ContinuousNormError, match="sliding window"):
        rank_sliding_window(raw, age, width=1.0, min_window=3)


def test_raking_reproduces_the_margins():
    rng = np.random.default_rng(3)
    n = 900
    f = pd.DataFrame({"grade": rng.choice([7, 8, 9], n, p=[0.5, 0.3, 0.2]),
                      "sex": rng.choice(["F", "M"], n, p=[0.7, 0.3]),
                      "urban": rng.choice(["urban", "rural"], n, p=[0.8, 0.2])})
    margins = {"grade": {7: 1 / 3, 8: 1 / 3, 9: 1 / 3}, "sex": {"F": 0.49, "M": 0.51},
               "urban": {"urban": 0.6, "rural": 0.4}}
    w = compute_weights(f, margins)
    assert w.mean() == pytest.approx(1.0) and (w > 0).all()
    for var, m in margins.items():
        share = pd.Series(w).groupby(f[var].to_numpy()).sum() / w.sum()
        for level, target in m.items():
            assert share[level] == pytest.approx(target, abs=1e-8)
    with pytest.raises(ContinuousNormError, match="without a margin"):
        compute_weights(f, {"sex": {"F": 1.0}})


# ---- 2. the Taylor model ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["default", "k4_t3"])
def test_selected_model_terms_coefficients_and_r2_equal_cnorm(ppvt, fits, key):
    _, exp = ppvt
    m, subsets, warns = fits[key]
    ref = exp[key]["model"]
    assert m.term_names == ref["terms"] and not warns
    assert subsets.rule == "highest consistent model" and subsets.chosen == ref["n_terms"]
    for name, b in ref["coefficients"].items():
        assert m.coefficients[name] == pytest.approx(b, rel=1e-6)
    assert m.r2 == pytest.approx(ref["R2"], abs=1e-9)
    assert m.adj_r2 == pytest.approx(ref["adjR2"], abs=1e-9)
    assert m.rmse == pytest.approx(ref["rmse"], rel=1e-8)
    assert (m.min_norm, m.max_norm, m.min_raw, m.max_raw) == pytest.approx(
        (ref["minL1"], ref["maxL1"], ref["minRaw"], ref["maxRaw"]))
    # the screened subsets searched (the largest sizes, down to the one chosen) equal cNORM's
    scr = exp[key]["subsets_screened"]
    for _, row in subsets.frame.iterrows():
        i = scr["terms"].index(row["size"])
        sel = scr["selected"][i]
        assert set(row["terms"].split(" + ")) == set([sel] if isinstance(sel, str) else sel)
        assert row["consistent"] == scr["consistent"][i]
        assert row["r2"] == pytest.approx(scr["rsq"][i], abs=1e-9)


@pytest.mark.parametrize("key, k", [("default", 5), ("k4_t3", 4)])
def test_every_size_screened_equals_cnorm(ppvt, key, k):
    # an R2 no model reaches: every size is searched and screened; leaps::regsubsets (exhaustive, nbest = 10) and
    # cNORM's consistency screen give these subsets, also for the middle sizes (up to 1.35 million subsets each)
    d, exp = ppvt
    L = 50 + 10 * stats.norm.ppf(rank_percentiles(d["raw"], d["group"]))
    _, subsets, warns = select_taylor_model(L, d["group"], d["raw"], k=k, t=3, r2=1.0)
    scr = exp[key]["subsets_screened"]
    assert subsets.frame["size"].tolist() == scr["terms"] and any("no model reaches" in w for w in warns)
    for _, row in subsets.frame.iterrows():
        i = scr["terms"].index(row["size"])
        sel = scr["selected"][i]
        assert set(row["terms"].split(" + ")) == set([sel] if isinstance(sel, str) else sel), row["size"]
        assert row["consistent"] == scr["consistent"][i]
        assert row["r2"] == pytest.approx(scr["rsq"][i], abs=1e-9)


def test_stated_number_of_terms_and_r2_rule(ppvt):
    d, exp = ppvt
    L = 50 + 10 * stats.norm.ppf(rank_percentiles(d["raw"], d["group"]))
    scr = exp["default"]["subsets_screened"]
    m, _, _ = select_taylor_model(L, d["group"], d["raw"], k=5, t=3, terms=5)
    assert set(m.term_names) == set(scr["selected"][4])
    m, sub, _ = select_taylor_model(L, d["group"], d["raw"], k=5, t=3, r2=0.99)
    first = next(s for s, a in zip(scr["terms"], scr["adjr2"]) if a >= 0.99)
    assert len(m.terms) == first and sub.rule.startswith("adjusted R2")


# ---- 3. inversion, prediction, consistency, tables -----------------------------------------------------------------


@pytest.mark.parametrize("key", ["default", "k4_t3"])
def test_predict_norm_and_raw_equal_cnorm(ppvt, fits, key):
    _, exp = ppvt
    m = fits[key][0]
    g = exp[key]["predictNorm"]["grid"]
    norm, outside = m.predict_norm(g["raw"], g["age"], min_norm=25, max_norm=75)
    np.testing.assert_allclose(norm, g["norm"], atol=0.1)
    np.testing.assert_allclose(norm, g["norm"], atol=1e-6)  # in fact far closer
    assert outside[np.isin(norm, (25, 75))].all() and not outside[(norm > 25) & (norm < 75)].any()
    g = exp[key]["predictRaw"]["grid"]
    np.testing.assert_allclose(m.predict_raw(g["norm"], g["age"]), g["raw_clipped"], atol=1e-6)
    np.testing.assert_allclose(m.predict_raw(g["norm"], g["age"], clip=False), g["raw_unclipped"], atol=1e-6)


@pytest.mark.parametrize("key", ["default", "k4_t3"])
def test_norm_and_raw_tables_with_confidence_intervals_equal_cnorm(ppvt, fits, key):
    _, exp = ppvt
    m = fits[key][0]
    cn = ContinuousNorms(age="group")
    cn._set_fitted({((), "raw"): m}, ["raw"], pd.DataFrame(), (), {})
    for tables, mine in ((exp[key]["normTable"]["tables"], cn.norm_table([4, 7, 10, 13, 16], reliability=0.94)),
                         (exp[key]["rawTable"]["tables"], cn.raw_table([4, 7, 10, 13, 16], reliability=0.94))):
        for age, ref in tables.items():
            got = mine[float(age)]
            for col in ("norm", "raw", "percentile", "lowerCI", "upperCI", "lowerCI_PR", "upperCI_PR"):
                np.testing.assert_allclose(got[col], ref[col], atol=1e-6, err_msg=f"{key} {age} {col}")


def test_check_consistency_reports_where_curves_cross_as_cnorm(ppvt, fits):
    _, exp = ppvt
    assert exp["k4_t3"]["checkConsistency"]["default"]["value"] is True  # cNORM: violations (at age 7.6)
    bad = ContinuousNorms()
    bad._set_fitted({((), "raw"): fits["k4_t3"][0]}, ["raw"], pd.DataFrame(), (), {})
    rep = bad.check_consistency()
    assert not rep.consistent
    assert rep.violations["age"].min() <= 7.6 <= rep.violations["age"].max()
    assert (rep.violations["norm_from"] > 75).all() and "cross" in str(rep)
    assert bad.check_consistency(min_norm=25, max_norm=75).consistent  # cNORM: none within 25..75
    good = ContinuousNorms()
    good._set_fitted({((), "raw"): fits["default"][0]}, ["raw"], pd.DataFrame(), (), {})
    assert good.check_consistency().consistent and exp["default"]["checkConsistency"]["default"]["value"] is False


def test_norm_ci_from_reliability():
    lo, hi = norm_ci(np.array([25.0, 50.0]), reliability=0.94, ci=0.9)
    half = stats.norm.ppf(0.95) * 10 * np.sqrt(0.94 * 0.06)
    np.testing.assert_allclose(lo, [26.5 - half, 50 - half])
    np.testing.assert_allclose(hi, [26.5 + half, 50 + half])


# ---- the estimator on the sample: transform, marking, save/load, screen --norms ----------------------------------------


def _synthetic(n_per_grade=150, seed=7, grades=range(4, 13)):
    rng = np.random.default_rng(seed)
    g = np.repeat(np.array(list(grades)), n_per_grade)
    sex = rng.choice(["F", "M"], g.size)
    latent = rng.normal(size=g.size)
    score = np.clip(np.round(2 + 0.6 * (g - 4) + 3.5 * np.exp(0.35 * latent) + 0.8 * (sex == "F")), 0, 27)
    return pd.DataFrame({"grade": g, "sex": sex, "phq9.total": score})


@pytest.fixture(scope="module")
def fitted():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ContinuousNorms(by=("sex",), k=4, t=2).fit(_synthetic(), ["phq9.total"], description="synthetic")


def test_transform_marks_values_outside_the_modelled_range(fitted):
    new = pd.DataFrame({"grade": [6, 6, 6, 20, np.nan], "sex": ["F", "F", "F", "F", "F"],
                        "phq9.total": [7.0, 200.0, -50.0, 7.0, 7.0]})
    out = fitted.transform(new)
    assert out["phq9.total.outside"].tolist() == [False, True, True, True, False]
    m = fitted.models_[(("F",), "phq9.total")]
    assert out["phq9.total.t"].iloc[1] == pytest.approx(m.max_norm) and out["phq9.total.t"].iloc[2] == pytest.approx(
        m.min_norm)
    assert np.isnan(out["phq9.total.t"].iloc[4])  # no grade: no norm, not a guess
    assert out["phq9.total.pr"].iloc[0] == pytest.approx(100 * stats.norm.cdf((out["phq9.total.t"].iloc[0] - 50) / 10))
    kinds = fitted.predict_norm([7.0], [6], stratum="F", kind="percentile")
    assert kinds["norm"].iloc[0] == pytest.approx(out["phq9.total.pr"].iloc[0])


def test_sex_as_separate_models_differ(fitted):
    f = fitted.predict_norm([8.0], [8], stratum="F")["norm"].iloc[0]
    m = fitted.predict_norm([8.0], [8], stratum="M")["norm"].iloc[0]
    assert f < m  # girls score 0.8 higher: the same raw score is less unusual for a girl


def test_json_and_excel_round_trip_exactly(fitted, tmp_path):
    probe = _synthetic(20, seed=11)
    want = fitted.transform(probe)
    js = read_norms(fitted.to_json(tmp_path / "c.json"))
    xl = read_norms(fitted.to_excel(tmp_path / "c.xlsx", reliability=0.85))
    for back in (js, xl):
        assert isinstance(back, ContinuousNorms)
        pd.testing.assert_frame_equal(back.transform(probe), want, check_exact=True)
    assert isinstance(read_norms(NormTable(by=("grade",), min_stratum=1).fit(probe, ["phq9.total"]).to_json(
        tmp_path / "n.json")), NormTable)
    from openpyxl import load_workbook

    wb = load_workbook(tmp_path / "c.xlsx", read_only=True)
    assert {"about", "models", "_exact"} <= set(wb.sheetnames)
    head = next(wb[wb.sheetnames[2]].iter_rows(values_only=True))
    assert "grade 4.5 T" in head and "grade 5 PR" in head  # grades and half-grades
    wb.close()


def test_print_tables_raw_to_t_per_half_grade_with_ci(fitted):
    t = fitted.print_tables(reliability=0.85)
    assert set(t["grade"]) == set(np.arange(4, 12.01, 0.5))
    one = t[(t["sex"] == "F") & (t["grade"] == 7)]
    assert one["norm"].is_monotonic_increasing and (one["lowerCI"] < one["norm"]).all()


def test_screen_uses_a_continuous_norm_file_through_the_cli(tmp_path):
    from psyscreen.cli import main

    cmap = SAMPLE / "column_map.csv"
    ref = tmp_path / "ref.xlsx"
    res = CliRunner().invoke(main, ["score", str(SAMPLE / "2026-03"), "--protocol", "default", "--map", str(cmap),
                                    "-o", str(ref)])
    assert res.exit_code == 0, res.output
    js = tmp_path / "cnorm.json"
    res = CliRunner().invoke(main, ["analyze", "norms", str(ref), "--scales", "phq9.total", "--by", "grade,sex",
                                    "--continuous", "--k", "4", "--t", "2", "-o", str(js)])
    assert res.exit_code == 0, res.output
    cn = read_norms(js)
    assert isinstance(cn, ContinuousNorms) and cn.strata_ == [("F",), ("M",)] and cn.age == "grade"
    res = CliRunner().invoke(main, ["screen", str(SAMPLE / "2026-09"), "--map", str(cmap), "--out",
                                    str(tmp_path / "out"), "--norms", str(js), "--workers", "1"])
    assert res.exit_code == 0, res.output
    st = pd.read_parquet(tmp_path / "out" / "students.parquet")
    known = st.dropna(subset=["grade", "sex", "phq9.total"])
    assert known["phq9.total.t"].notna().all() and len(known)
    want = cn.transform(known)["phq9.total.t"].to_numpy()
    np.testing.assert_allclose(known["phq9.total.t"].to_numpy(), want)
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["norms"]["scales"] == ["phq9.total"]


# ---- bad input ----------------------------------------------------------------------------------------------------


def test_too_few_ages_no_variance_and_unfittable_models_are_clear_errors():
    d = _synthetic(60)
    with pytest.raises(ContinuousNormError, match="distinct value"):
        ContinuousNorms().fit(d[d["grade"].isin([7, 8, 9])], "phq9.total")
    flat = d.copy()
    flat.loc[flat["grade"] == 9, "phq9.total"] = 4.0
    with pytest.raises(ContinuousNormError, match="no variance in grade \\[9\\]"):
        ContinuousNorms(k=3, t=2).fit(flat, "phq9.total")
    with pytest.raises(ContinuousNormError, match="terms=40"):
        ContinuousNorms(k=3, t=2, terms=40).fit(d, "phq9.total")
    with pytest.raises(ContinuousNormError, match="not of the form"):
        ContinuousNorms(terms=["L1", "X2"]).fit(d, "phq9.total")
    with pytest.raises(ContinuousNormError, match="rank deficient"):
        ContinuousNorms(terms=["L1", "L1"]).fit(d, "phq9.total")
    with pytest.raises(ContinuousNormError, match="not fitted"):
        ContinuousNorms().transform(d)


# ---- simulation: continuous norms recover true T scores better than conventional ones -----------------------------


def test_continuous_norms_recover_true_t_scores_better_than_conventional_norms():
    """Population: score = 20 + 2.5 (grade - 4) + (4 + 0.3 (grade - 4)) z, z ~ N(0, 1): the true T of a raw score x in
    grade g is 50 + 10 (x - mu_g) / sd_g. 100 students per grade (grades 4..12), 20 seeded samples; error = RMSE of
    the T of a grid of raw scores (true T 30..70) against the truth, per grade."""
    grades = np.arange(4, 13)
    mu, sd = 20 + 2.5 * (grades - 4), 4 + 0.3 * (grades - 4)
    err_c, err_n = [], []
    for seed in range(20):
        rng = np.random.default_rng(seed)
        g = np.repeat(grades, 100)
        x = np.round(mu[g - 4] + sd[g - 4] * rng.normal(size=g.size), 1)
        sample = pd.DataFrame({"grade": g, "score": x})
        cn = ContinuousNorms(k=3, t=2).fit(sample, "score")
        nt = NormTable(by=("grade",), min_stratum=1).fit(sample, "score")
        probe = pd.DataFrame({"grade": np.repeat(grades, 9)})
        true_t = np.tile(np.linspace(30, 70, 9), grades.size)
        probe["score"] = mu[probe["grade"] - 4] + sd[probe["grade"] - 4] * (true_t - 50) / 10
        err_c.append(np.sqrt(np.mean((cn.transform(probe)["score.t"] - true_t) ** 2)))
        err_n.append(np.sqrt(np.mean((nt.transform(probe)["score.tn"] - true_t) ** 2)))
    rmse_c, rmse_n = float(np.mean(err_c)), float(np.mean(err_n))
    print(f"RMSE of T: continuous {rmse_c:.2f}, conventional {rmse_n:.2f}")
    assert rmse_c < 0.8 * rmse_n


# ---- sex as a covariate in one shared model (cNORM's covariate) ------------------------------------------------


def test_covariate_model_is_the_regression_with_cov_terms_and_collapses_per_level(tmp_path):
    from psyscreen.norms_continuous import collapse_terms

    d = _synthetic()
    terms = ["L1", "L2", "A1", "L1A1", "COV", "L1COV", "A1COV"]
    cn = ContinuousNorms(covariate="sex", k=2, t=1, terms=terms).fit(d, "phq9.total")
    # by hand: ranks within grade x sex, then least squares of raw on the terms with COV = 1 for "M"
    L = 50 + 10 * stats.norm.ppf(rank_percentiles(d["phq9.total"], d["grade"].astype(str) + d["sex"]))
    A, C, y = d["grade"].to_numpy(float), (d["sex"] == "M").to_numpy(float), d["phq9.total"].to_numpy(float)
    X = np.column_stack([np.ones(len(d)), L, L ** 2, A, L * A, C, L * C, A * C])
    b = np.linalg.lstsq(X, y, rcond=None)[0]
    f, m = cn.models_[(("F",), "phq9.total")], cn.models_[(("M",), "phq9.total")]
    assert f.term_names == ["L1", "L2", "A1", "L1A1"]
    np.testing.assert_allclose(f.coef, b[[0, 1, 2, 3, 4]], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(m.coef, [b[0] + b[5], b[1] + b[6], b[2], b[3] + b[7], b[4]], rtol=1e-6, atol=1e-9)
    # the plain model at a level predicts what the covariate model predicts
    t3, c3 = ((1, 0, 0), (0, 0, 1), (1, 1, 1)), (2.0, 0.5, -1.0, 0.25)
    for c in (0.0, 1.0):
        t2, c2 = collapse_terms(t3, c3, c)
        Lg, Ag = np.array([40.0, 60.0]), np.array([5.0, 7.0])
        want = c3[0] + c3[1] * Lg + c3[2] * c + c3[3] * Lg * Ag * c
        got = c2[0] + sum(k_ * Lg ** i * Ag ** j for (i, j), k_ in zip(t2, c2[1:]))
        np.testing.assert_allclose(got, want)
    back = read_norms(cn.to_json(tmp_path / "cov.json"))
    assert back.covariate == "sex" and back.by == ()
    pd.testing.assert_frame_equal(back.transform(d.head(50)), cn.transform(d.head(50)), check_exact=True)


def test_covariate_selected_model_separates_the_sexes_and_bad_covariates_are_errors():
    d = _synthetic()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cn = ContinuousNorms(covariate="sex", k=4, t=2).fit(d, "phq9.total")
    assert any("COV" in t for t in cn.table_["terms"].iloc[0].split(" + "))
    f = cn.predict_norm([8.0], [8], stratum="F")["norm"].iloc[0]
    m = cn.predict_norm([8.0], [8], stratum="M")["norm"].iloc[0]
    assert f < m  # girls score 0.8 higher in the population: the same raw score is less unusual for a girl
    with pytest.raises(ContinuousNormError, match="exactly two"):
        ContinuousNorms(covariate="grp", k=2, t=1).fit(d.assign(grp=np.arange(len(d)) % 3), "phq9.total")
    with pytest.raises(ContinuousNormError, match="both a covariate"):
        ContinuousNorms(by="sex", covariate="sex").fit(d, "phq9.total")


def test_a_spent_node_budget_of_the_model_search_is_a_warning():
    d = _synthetic()
    L = 50 + 10 * stats.norm.ppf(rank_percentiles(d["phq9.total"], d["grade"].astype(str) + d["sex"]))
    A, C, y = d["grade"].to_numpy(float), (d["sex"] == "M").to_numpy(float), d["phq9.total"].to_numpy(float)
    # k = 2, t = 1 with the covariate: 11 candidates, within the default budget: exact, every size screened
    _, sub, warns = select_taylor_model(L, A, y, k=2, t=1, covariate=C, r2=0.999)
    assert not any("local search" in w for w in warns) and sub.frame["size"].tolist() == list(range(1, 12))
    _, sub2, warns2 = select_taylor_model(L, A, y, k=2, t=1, covariate=C, r2=0.999, max_nodes=5)
    assert any("local search" in w for w in warns2)
    # the sizes searched exactly before the budget ran out are the same subsets
    same = sub2.frame.set_index("size")["terms"] == sub.frame.set_index("size")["terms"]
    assert same.loc[11]
