"""Issue 11's silent errors in alpha, split_half, efa, omega, kmo, bartlett and parallel analysis.

Reference figures: tests/data/efafix_psych.R -> efafix_psych.json (psych 2.2.9) and the efafix_*.csv data.
"""

from __future__ import annotations

import importlib
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from psyscreen import reliability
from psyscreen._items import PsychometricWarning
from psyscreen.analysis_report import AnalysisReport
from psyscreen.omega import OmegaError, omega
from psyscreen.reliability import ReliabilityInputError, alpha, split_half
from psyscreen.validity.efa import (
    FactorAnalysisError,
    bartlett,
    efa,
    kmo,
    match_factors,
    parallel_analysis,
)

DATA = Path(__file__).resolve().parent / "data"
REF = json.loads((DATA / "efafix_psych.json").read_text())
efa_module = importlib.import_module("psyscreen.validity.efa")  # the package exports the function
BIG5 = [f"{t}{i}" for t in "ACENO" for i in range(1, 6)]


def _names(v) -> list[str]:
    """jsonlite writes a one-element vector as a scalar."""
    return [v] if isinstance(v, str) else list(v)


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PsychometricWarning)
        return fn(*args, **kwargs)


@pytest.fixture(scope="module")
def bfi(reference_dir) -> pd.DataFrame:
    return pd.read_csv(reference_dir / "items.csv")  # 25 items, then gender, education, age, id


# --- 1. Guttman's lambda 6 on a pairwise matrix that is not positive definite -------------------------


@pytest.mark.parametrize("case", ["nonpd_bfi", "nonpd_synth"])
def test_lambda6_on_a_non_positive_definite_pairwise_matrix_equals_psych(case):
    ref = REF[case]
    x = pd.read_csv(DATA / f"efafix_{case}.csv")
    assert ref["min_eigen"] < 0  # the pairwise correlation matrix is not positive definite
    a = _quiet(alpha, x)
    assert a.alpha == pytest.approx(ref["raw_alpha"], abs=1e-6)
    assert a.g6 == pytest.approx(ref["G6"], abs=1e-6)  # was -0.51 and 1.22
    s = _quiet(split_half, x)
    assert s.lambda6 == pytest.approx(ref["split_lambda6"], abs=1e-6)
    assert s.lambda2 == pytest.approx(ref["split_lambda2"], abs=1e-6)
    sc = _quiet(split_half, x, covar=True)
    assert sc.lambda6 == pytest.approx(ref["split_lambda6_covar"], abs=1e-6)
    for value in (a.g6, s.lambda6, sc.lambda6):
        assert 0.0 <= value <= 1.0


@pytest.mark.parametrize("case", ["nonpd_bfi", "nonpd_synth"])
def test_one_smc_for_the_package_clipped_as_psych(case):
    assert reliability._smc is efa_module._smc  # no second, unclipped copy
    x = pd.read_csv(DATA / f"efafix_{case}.csv")
    smc = efa_module._smc(x.cov().to_numpy())  # psych::smc(cov2cor(cov(x, use = "pairwise")))
    np.testing.assert_allclose(smc, REF[case]["smc"], atol=1e-8)
    assert smc.min() >= 0.0 and smc.max() <= 1.0


# --- 2. warnings with psych's meaning --------------------------------------------------------------


@pytest.mark.parametrize("scale", ["A", "C", "E"])
def test_alpha_names_items_negatively_correlated_with_the_total(bfi, scale):
    ref = REF["negative"][scale]
    x = bfi[ref["items"]]
    with pytest.warns(PsychometricWarning, match="probably should be reversed") as rec:
        res = alpha(x, nan_policy="listwise")
    negative = _names(ref["negative"])
    msg = next(w for w in res.warnings if "reversed" in w)
    assert msg in [str(r.message) for r in rec]
    named = msg.split("item(s) ")[1].split(" correlate")[0].split(", ")
    assert named == negative
    keyed = _quiet(alpha, x, reverse=negative, min=1, max=6)
    assert not any("reversed" in w for w in keyed.warnings)


@pytest.mark.parametrize("case", ["nonpd_bfi", "nonpd_synth"])
def test_split_half_names_negative_items_as_psych_principal(case):
    x = pd.read_csv(DATA / f"efafix_{case}.csv")
    res = _quiet(split_half, x)
    msg = next(w for w in res.warnings if "reversed" in w)
    assert msg.split("item(s) ")[1].split(" correlate")[0].split(", ") == _names(REF[case]["negative"])


@pytest.mark.parametrize("seed", ["4", "7"])
def test_ultra_heywood_case_warned_in_efa_and_omega(seed):
    ref = REF["ultra"][seed]
    x = pd.read_csv(DATA / ref["file"])
    with pytest.warns(PsychometricWarning, match="ultra-Heywood"):
        res = efa(x, 3)
    # an improper solution: psych's optimiser stops within ~1e-3 of ours
    np.testing.assert_allclose(res.communalities.to_numpy(), ref["communality"], atol=5e-3)
    ultra = [w for w in res.warnings if w.startswith("ultra-Heywood")]
    assert len(ultra) == 1
    assert [n for n in x.columns if f"{n} (" in ultra[0]] == _names(ref["ultra"])
    with pytest.warns(PsychometricWarning, match="ultra-Heywood"):
        om = omega(x, 3)
    assert any(w.startswith("ultra-Heywood") for w in om.warnings)
    assert om.omega_h == pytest.approx(ref["omega_h"], abs=1e-3)
    assert om.omega_total == pytest.approx(ref["omega_total"], abs=1e-3)


def test_heywood_case_warned_bfi_ten_factors(bfi):
    ref = REF["heywood_bfi10"]
    res = _quiet(efa, bfi[BIG5], 10)
    np.testing.assert_allclose(res.communalities.to_numpy(), ref["communality"], atol=1e-4)
    msg = next(w for w in res.warnings if w.startswith("Heywood case"))
    for name in _names(ref["heywood"]):
        assert f"{name} (" in msg


def test_heywood_case_warned_on_a_correlation_matrix():
    ref = REF["heywood_thurstone4"]
    h = REF["thurstone_cov"]
    R = pd.DataFrame(h["matrix"], index=h["names"], columns=h["names"])
    with pytest.warns(PsychometricWarning, match="Heywood case"):
        res = efa(R, 4, n_obs=213)
    np.testing.assert_allclose(res.communalities.to_numpy(), ref["communality"], atol=1e-4)
    msg = next(w for w in res.warnings if w.startswith("Heywood case"))
    assert [n for n in h["names"] if f"{n} (" in msg] == _names(ref["heywood"])


@pytest.mark.parametrize("case", ["two_ac", "two_no"])
def test_omega_two_group_factors_warns_and_sets_general_loadings_equal(bfi, case):
    ref = REF[case]
    with pytest.warns(PsychometricWarning, match="two group factors"):
        res = omega(bfi[ref["items"]], 2)
    assert res.n_used == ref["n"]
    assert res.omega_h == pytest.approx(ref["omega_h"], abs=1e-6)
    assert res.omega_total == pytest.approx(ref["omega_total"], abs=1e-6)
    np.testing.assert_allclose(res.general_loadings.to_numpy(), ref["gloading"], atol=1e-6)
    assert res.phi.iloc[0, 1] == pytest.approx(ref["phi12"], abs=1e-6)
    assert any("set equal" in w for w in res.warnings)
    assert not any("two group factors" in w for w in _quiet(omega, bfi[ref["items"]], 3).warnings)


# --- 3. a correlation or covariance matrix with n_obs ------------------------------------------------


@pytest.mark.parametrize("case", ["harman74", "thurstone_cov"])
def test_correlation_matrix_with_n_obs_equals_psych_fa(case):
    ref = REF[case]
    k = len(ref["loadings_columns"])
    M = pd.DataFrame(ref["matrix"], index=ref["names"], columns=ref["names"])
    res = efa(M, k, n_obs=ref["n_obs"])
    assert res.n_used == res.n == ref["n_obs"] and res.n_dropped == 0
    assert list(res.loadings.columns) == ref["loadings_columns"]
    np.testing.assert_allclose(res.loadings.to_numpy(), ref["loadings"], atol=1e-4)
    np.testing.assert_allclose(res.communalities.to_numpy(), ref["communality"], atol=1e-6)
    np.testing.assert_allclose(res.phi.to_numpy(), ref["phi"], atol=1e-4)
    for b in (res.bartlett, bartlett(M, n_obs=ref["n_obs"])):
        assert b.chisq == pytest.approx(ref["bartlett"]["chisq"], rel=1e-9)
        assert b.df == ref["bartlett"]["df"]
        assert b.p == pytest.approx(ref["bartlett"]["p"], rel=1e-6)
    kk = kmo(M, n_obs=ref["n_obs"])
    assert kk.overall == pytest.approx(ref["kmo"], abs=1e-9)
    np.testing.assert_allclose(kk.items.to_numpy(), ref["kmo_items"], atol=1e-9)
    pa = parallel_analysis(M, n_iter=5, seed=1, n_obs=ref["n_obs"])
    np.testing.assert_allclose(pa.eigenvalues["pc_observed"], ref["pc_values"], atol=1e-9)
    np.testing.assert_allclose(pa.eigenvalues["fa_observed"], ref["fa_values"], atol=1e-6)
    assert pa.n_used == ref["n_obs"]
    om = omega(M, k, n_obs=ref["n_obs"])
    assert om.omega_h == pytest.approx(ref["omega_h"], abs=1e-5)
    assert om.omega_total == pytest.approx(ref["omega_total"], abs=1e-5)


@pytest.mark.parametrize("fn", [efa, omega, kmo, bartlett, parallel_analysis])
def test_correlation_matrix_without_n_obs_is_refused(fn):
    h = REF["harman74"]
    R = pd.DataFrame(h["matrix"], index=h["names"], columns=h["names"])
    args = (R, 4) if fn in (efa, omega) else (R,)
    with pytest.raises(FactorAnalysisError, match="this looks like a correlation matrix; pass n_obs="):
        fn(*args)


def test_n_obs_with_raw_answers_is_refused(bfi):
    with pytest.raises(FactorAnalysisError, match="n_obs is given"):
        efa(bfi[BIG5], 5, n_obs=100)


# --- 4. item columns by name; non-item columns refused ------------------------------------------------


@pytest.mark.parametrize("fn", [efa, omega, alpha, split_half, kmo, bartlett, parallel_analysis])
def test_non_item_columns_are_refused_and_named(bfi, fn):
    args = (bfi, 5) if fn in (efa, omega) else (bfi,)
    with pytest.raises((FactorAnalysisError, ReliabilityInputError), match=r"items=\[") as exc:
        fn(*args)
    for col in ("gender", "education", "age", "id"):
        assert f"'{col}'" in str(exc.value)
    assert "'A1'" not in str(exc.value)


def test_items_selects_the_item_columns(bfi):
    cols = BIG5[:10]
    a, b = _quiet(alpha, bfi, items=cols), _quiet(alpha, bfi[cols])
    assert a.alpha == b.alpha and a.g6 == b.g6 and a.n_used == b.n_used
    e1, e2 = _quiet(efa, bfi, 2, items=cols), _quiet(efa, bfi[cols], 2)
    np.testing.assert_array_equal(e1.loadings.to_numpy(), e2.loadings.to_numpy())
    o1, o2 = _quiet(omega, bfi, 3, items=cols), _quiet(omega, bfi[cols], 3)
    assert o1.omega_h == o2.omega_h
    assert _quiet(split_half, bfi, items=cols).lambda6 == _quiet(split_half, bfi[cols]).lambda6
    assert _quiet(kmo, bfi, items=cols).overall == _quiet(kmo, bfi[cols]).overall
    with pytest.raises(FactorAnalysisError, match="not in the data: Z9"):
        efa(bfi, 2, items=[*cols, "Z9"])


def test_items_as_an_instrument_id():
    rng = np.random.default_rng(5)
    n = 300
    t = rng.normal(size=(n, 1))
    answers = np.clip(np.round(1 + t + rng.normal(scale=0.8, size=(n, 9))), 0, 3)
    frame = pd.DataFrame(answers, columns=[f"phq9.{i}" for i in range(1, 10)])
    frame.insert(0, "student_id", np.arange(n) + 20250001)
    frame["age"] = rng.integers(12, 16, size=n)
    frame["gender"] = rng.choice(["m", "f"], size=n)
    by_id = alpha(frame, items="phq9")
    assert by_id.n_items == 9
    assert by_id.alpha == alpha(frame.filter(like="phq9.")).alpha
    assert _quiet(efa, frame, 1, items="phq9").loadings.index.tolist() == [f"phq9.{i}" for i in range(1, 10)]
    with pytest.raises(ReliabilityInputError, match="'student_id'.*'age'.*'gender'"):
        alpha(frame)
    with pytest.raises(FactorAnalysisError, match="lack 7 item column"):
        efa(frame, 1, items="gad7")


def test_numbers_unlike_the_items_are_refused():
    rng = np.random.default_rng(2)
    x = pd.DataFrame(rng.integers(1, 6, size=(200, 5)), columns=list("abcde"))
    x["score_total"] = x.sum(axis=1) * 1.5
    with pytest.raises(OmegaError, match="'score_total' \\(values are not small whole numbers"):
        omega(x, 2)
    continuous = pd.DataFrame(rng.normal(size=(200, 6)), columns=list("abcdef"))  # nothing to compare with
    assert _quiet(efa, continuous, 1).n_used == 200


# --- 5. rows used and dropped -------------------------------------------------------------------------


def _dropped(rec) -> list[str]:
    return [str(r.message) for r in rec if str(r.message).startswith("dropped")]


@pytest.mark.parametrize("fn", [efa, omega, kmo, bartlett, parallel_analysis, alpha, split_half])
def test_rows_dropped_are_counted_and_warned_once(bfi, fn):
    n_rows, n_complete = REF["n_rows"], REF["n_complete"]
    args = (bfi, 5) if fn in (efa, omega) else (bfi,)
    kwargs = {"nan_policy": "listwise"} if fn in (alpha, split_half) else {}
    with pytest.warns(PsychometricWarning) as rec:
        res = fn(*args, items=BIG5, **kwargs)
    want = f"dropped {n_rows - n_complete:,} of {n_rows:,} rows with a missing answer (listwise)"
    assert _dropped(rec) == [want]
    assert res.n_used == n_complete and res.n_dropped == n_rows - n_complete
    assert want in res.warnings
    if hasattr(res, "n"):
        assert res.n == res.n_used


def test_pairwise_alpha_drops_only_rows_without_any_answer(bfi):
    x = bfi[BIG5[:5]].copy()
    x.iloc[:3] = np.nan  # three rows with no answer
    with pytest.warns(PsychometricWarning) as rec:
        res = alpha(x)
    assert res.n_used == len(x) - 3 and res.n_dropped == 3
    assert _dropped(rec) == [f"dropped 3 of {len(x):,} rows without any answer (pairwise)"]


def test_complete_data_gives_no_row_warning(bfi):
    x = bfi[BIG5].dropna()
    with warnings.catch_warnings():
        warnings.simplefilter("error", PsychometricWarning)
        res = efa(x, 5)
    assert res.n_dropped == 0 and res.warnings == ()


def test_rows_and_warnings_shown_in_frames_html_and_reports(bfi):
    a = _quiet(alpha, bfi, items=BIG5[:5], nan_policy="listwise")
    row = a.to_frame().iloc[0]
    assert row["n_used"] == a.n_used and row["n_dropped"] == a.n_dropped > 0
    o = _quiet(omega, bfi, 2, items=BIG5[:10])
    assert o.to_frame().iloc[0]["n_dropped"] == o.n_dropped > 0
    s = _quiet(split_half, bfi, items=BIG5[:6], nan_policy="listwise")
    assert s.to_frame().set_index("statistic").loc["n_dropped", "value"] == s.n_dropped
    e = _quiet(efa, bfi, 5, items=BIG5)
    page = e._repr_html_()
    assert f"rows dropped: {e.n_dropped:,}" in page and "dropped 364 of 2,800" in page
    rep = AnalysisReport.from_results("Checks", [e, o])
    tables = {t.name: t.frame for sec in rep.sections for t in sec.tables}
    assert list(tables["efa_loadings_warnings"]["warning"]) == list(e.warnings)
    assert "two group factors" in " ".join(tables["omega_warnings"]["warning"])
    assert "Warnings:" in rep.sections[1].text


# --- 6. one BLAS thread for the small-matrix fits ------------------------------------------------------


def test_small_blas_limits_blas_threads_and_restores_them():
    from threadpoolctl import threadpool_info

    from psyscreen._blas import SMALL_P, small_blas

    def blas_threads():
        return [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]

    before = blas_threads()
    assert before  # numpy's BLAS is visible to threadpoolctl
    with small_blas(30):
        assert set(blas_threads()) == {1}
    assert blas_threads() == before
    with small_blas(SMALL_P):
        assert blas_threads() == before
