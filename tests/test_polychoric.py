"""Polychoric and tetrachoric correlations against psych and lavaan (tests/data/poly_psych.R -> .json)."""

from __future__ import annotations

import importlib
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from psyscreen.validity import PolychoricError, PolychoricResult, polychoric, tetrachoric

poly = importlib.import_module("psyscreen.validity.polychoric")  # the module (the package exports the function)

DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="module")
def ref() -> dict:
    return json.loads((DATA / "poly_psych.json").read_text())


def _arr(values) -> np.ndarray:
    """A JSON matrix with null for R's Inf / NA."""
    return np.array([[np.nan if v is None else v for v in row] for row in values], dtype=float)


def _csv(name: str) -> pd.DataFrame:
    return pd.read_csv(DATA / f"poly_{name}.csv")


@pytest.fixture(scope="module")
def bfi(reference_dir, ref) -> pd.DataFrame:
    return pd.read_csv(reference_dir / "items.csv")[ref["bfi"]["items"]]


def _warned(fn, *args, **kwargs):
    """(result, texts of the warnings raised)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = fn(*args, **kwargs)
    return res, [str(w.message) for w in caught]


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


# --- the bivariate normal distribution --------------------------------------------------------------


def _plackett(h: float, k: float, r: float) -> float:
    # Phi2(h, k; r) = Phi(h) Phi(k) + int_0^r phi2(h, k; t) dt (an independent route to the same number)
    def dens(t):
        return np.exp(-(h * h - 2 * t * h * k + k * k) / (2 * (1 - t * t))) / (2 * np.pi * np.sqrt(1 - t * t))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return stats.norm.cdf(h) * stats.norm.cdf(k) + integrate.quad(dens, 0.0, r, epsabs=1e-15, epsrel=1e-13)[0]


def test_bvn_cdf_is_accurate_to_1e10_against_scipy_and_quadrature():
    rng = np.random.default_rng(7)
    h, k = rng.normal(scale=1.5, size=400), rng.normal(scale=1.5, size=400)
    r = np.concatenate([rng.uniform(-0.999, 0.999, 300), rng.choice([-1, 1], 100) * rng.uniform(0.9, 0.9999, 100)])
    mine = poly.bvn_cdf(h, k, r)
    sp = np.array([stats.multivariate_normal([0, 0], [[1, c], [c, 1]]).cdf([a, b]) for a, b, c in zip(h, k, r)])
    np.testing.assert_allclose(mine, sp, atol=1e-10, rtol=0)
    quad = np.array([_plackett(a, b, c) for a, b, c in zip(h[:150], k[:150], r[:150])])
    np.testing.assert_allclose(mine[:150], quad, atol=1e-10, rtol=0)


def test_bvn_cdf_limits():
    assert poly.bvn_cdf(0.0, 0.0, 0.5) == pytest.approx(1 / 3, abs=1e-15)  # 1/4 + asin(r) / (2 pi)
    np.testing.assert_allclose(poly.bvn_cdf([np.inf, 0.3, -np.inf, np.inf], [0.3, np.inf, 1.0, np.inf], 0.4),
                               [stats.norm.cdf(0.3), stats.norm.cdf(0.3), 0.0, 1.0], atol=1e-15)
    # r = +-1: the upper and lower Frechet bounds
    assert poly.bvn_cdf(0.2, 0.5, 1.0) == pytest.approx(stats.norm.cdf(0.2), abs=1e-14)
    assert poly.bvn_cdf(0.2, 0.5, -1.0) == pytest.approx(stats.norm.cdf(0.2) + stats.norm.cdf(0.5) - 1, abs=1e-14)


# --- building blocks ----------------------------------------------------------------------------------


def test_pair_rho_of_a_median_split_table_is_the_closed_form():
    # with both thresholds 0 the ML rho solves p11 = 1/4 + asin(rho) / (2 pi)
    t = np.array([[45, 5], [5, 45]])
    tau = poly.thresholds_from_counts(t.sum(axis=1))
    assert tau.tolist() == [0.0]
    assert poly._pair_rho(t, tau, tau) == pytest.approx(np.sin(2 * np.pi * (0.45 - 0.25)), abs=1e-12)
    # psych's search (R optimize) stops within its tolerance of it
    assert poly._pair_rho(t, tau, tau, tol=poly.R_OPTIMIZE_TOL) == pytest.approx(np.sin(0.4 * np.pi), abs=1e-4)


def test_bivariate_tables_count_pairwise_complete_rows():
    codes = np.array([[0, 2, 1], [1, 2, np.nan], [1, 0, 0], [np.nan, 1, 1]])
    t = poly.bivariate_tables(codes, 3)
    assert t.shape == (3, 3, 3, 3)
    assert t[0, 1].tolist() == [[0, 0, 1], [1, 0, 1], [0, 0, 0]]
    assert t[0, 2].sum() == 2 and t[1, 2].sum() == 3
    np.testing.assert_array_equal(t[1, 1].diagonal(), [1, 1, 2])  # item counts


def test_thresholds_from_counts_marks_unused_end_categories_infinite():
    tau = poly.thresholds_from_counts(np.array([[0, 3, 3, 0], [1, 1, 1, 1]]))
    assert tau[0].tolist() == [-np.inf, 0.0, np.inf]
    np.testing.assert_allclose(tau[1], stats.norm.ppf([0.25, 0.5, 0.75]), atol=1e-15)


# --- psych::polychoric -------------------------------------------------------------------------------


def _check_psych(res: PolychoricResult, expected: dict, rho_tol: float = 1e-6) -> None:
    np.testing.assert_allclose(res.rho.to_numpy(), _arr(expected["rho"]), atol=rho_tol, rtol=0)
    tau_r, tau = _arr(expected["tau"]), res.tau.to_numpy()
    assert np.array_equal(np.isfinite(tau), np.isfinite(tau_r))  # +-Inf where R has them
    np.testing.assert_allclose(tau[np.isfinite(tau)], tau_r[np.isfinite(tau_r)], atol=1e-6, rtol=0)


def test_polychoric_bfi_with_missing_answers_equals_psych(bfi, ref):
    res = _quiet(polychoric, bfi)
    _check_psych(res, ref["bfi"])
    assert res.convention == "psych" and res.global_thresholds and not res.smoothed
    assert res.n_obs.to_numpy().diagonal().tolist() == bfi.notna().sum().tolist()
    assert res.n_obs.loc["A1", "C5"] == int((bfi["A1"].notna() & bfi["C5"].notna()).sum())
    assert res.n_used + res.n_dropped == len(bfi) == ref["bfi"]["n"]


def test_polychoric_cut_holzinger_swineford_equals_psych(ref):
    _check_psych(_quiet(polychoric, _csv("hs4")), ref["hs4"])


def test_psych_global_mode_ignores_the_correction_even_with_empty_cells(ref):
    syn = _csv("synthetic")
    tables = poly.bivariate_tables(syn.to_numpy(float) - 1, 4)
    assert (tables[np.triu_indices(6, 1)] == 0).any()  # the data do have empty cells
    res = _quiet(polychoric, syn)
    _check_psych(res, ref["synthetic"])
    assert res.corrected_pairs == 0
    np.testing.assert_array_equal(_quiet(polychoric, syn, correct=0).rho, res.rho)


def test_per_pair_thresholds_apply_the_continuity_correction_as_psych(ref):
    syn = _csv("synthetic")
    with pytest.warns(UserWarning, match="continuity correction"):
        res = polychoric(syn, global_thresholds=False)
    np.testing.assert_allclose(res.rho.to_numpy(), _arr(ref["synthetic"]["local"]["rho"]), atol=1e-6, rtol=0)
    assert not res.global_thresholds
    # psych's warning counts the corrected pairs ("15 cells were adjusted ...")
    assert str(res.corrected_pairs) == ref["synthetic"]["local"]["r_warnings"].split()[0]
    assert any("continuity correction" in w for w in res.warnings)
    plain = _quiet(polychoric, syn, global_thresholds=False, correct=0)
    np.testing.assert_allclose(plain.rho.to_numpy(), _arr(ref["synthetic"]["local_nocorrect"]["rho"]), atol=1e-6)
    assert np.abs(plain.rho.to_numpy() - res.rho.to_numpy()).max() > 1e-3  # the correction matters here


def test_unequal_numbers_of_categories_switch_to_per_pair_thresholds_as_psych(ref):
    hsmix = _csv("hsmix")
    res, raised = _warned(polychoric, hsmix)
    assert any("equal number of response alternatives" in w for w in raised)
    assert list(res.warnings) == raised
    assert any("continuity correction" in w for w in res.warnings)
    assert not res.global_thresholds
    _check_psych(res, ref["hsmix"])
    assert res.corrected_pairs == int(ref["hsmix"]["r_warnings"][1].split()[0])


def test_not_positive_definite_matrix_is_smoothed_as_cor_smooth_with_a_warning(ref):
    x = _csv("nonpd")
    assert ref["nonpd"]["raw_min_eigen"] < 0
    raw = _quiet(polychoric, x, smooth=False)
    np.testing.assert_allclose(raw.rho.to_numpy(), np.array(ref["nonpd"]["raw"]), atol=1e-6)
    assert not raw.smoothed and not raw.warnings
    with pytest.warns(UserWarning, match="not positive definite"):
        res = polychoric(x)
    assert res.smoothed
    assert any("smoothed" in w for w in res.warnings)
    np.testing.assert_allclose(res.rho.to_numpy(), np.array(ref["nonpd"]["rho"]), atol=1e-6)
    assert np.linalg.eigvalsh(res.rho.to_numpy()).min() > 0


def test_cor_smooth_equals_psych_on_r_own_matrix(ref):
    s, done = poly.cor_smooth(np.array(ref["nonpd"]["raw"]))
    assert done
    np.testing.assert_allclose(s, np.array(ref["nonpd"]["smoothed_by_cor_smooth"]), atol=1e-10, rtol=0)
    pd_matrix = np.array(ref["hs4"]["rho"])
    same, done = poly.cor_smooth(pd_matrix)
    assert not done and np.array_equal(same, pd_matrix)


def test_exact_maximum_is_within_psychs_search_tolerance_and_no_worse(bfi, ref):
    psych_like = _quiet(polychoric, bfi)
    exact = _quiet(polychoric, bfi, exact=True)
    diff = np.abs(exact.rho.to_numpy() - psych_like.rho.to_numpy())
    assert diff.max() < 1e-4 and diff.max() > 0
    # at the exact maximum the score (derivative of the log likelihood) is zero; at psych's point it is not
    x = bfi.to_numpy(float) - 1
    t = poly.bivariate_tables(x, 6)
    tau = psych_like.tau.to_numpy()
    a, b = poly._cuts(tau[[0]]), poly._cuts(tau[[5]])
    tab = t[0, 5][None] / t[0, 5].sum()
    s_exact = poly._score(tab, a, b, np.array([exact.rho.iloc[0, 5]]))
    s_psych = poly._score(tab, a, b, np.array([psych_like.rho.iloc[0, 5]]))
    assert abs(s_exact[0]) < 1e-9 < abs(s_psych[0])


# --- lavaan::lavCor(ordered = names(x)) -----------------------------------------------------------------


@pytest.mark.parametrize(
    "name, missing",
    [("bfi", "listwise"), ("bfi", "pairwise"), ("hs4", "listwise"), ("hsmix", "listwise"),
     ("synthetic", "listwise"), ("synthetic", "pairwise"), ("ability", "listwise")],
)
def test_lavaan_convention_equals_lavcor(name, missing, ref, bfi):
    x = bfi if name == "bfi" else _csv(name)
    expected = ref[name]["lavaan" if missing == "listwise" else "lavaan_pairwise"]
    res = _quiet(polychoric, x, convention="lavaan", missing=None if missing == "listwise" else missing)
    np.testing.assert_allclose(res.rho.to_numpy(), np.array(expected["rho"]), atol=1e-6, rtol=0)
    assert not res.smoothed  # lavCor does not smooth
    # thresholds under lavaan's names (an item has as many as it has categories, less one)
    th = dict(zip(expected["th_names"], expected["th"]))
    for item in x.columns:
        ours = res.tau.loc[item].to_numpy()
        ours = ours[np.isfinite(ours)]
        theirs = [th[f"{item}|t{j + 1}"] for j in range(len(ours))]
        np.testing.assert_allclose(ours, theirs, atol=1e-6, rtol=0)
    if missing == "listwise":
        assert res.n_used == int(x.notna().all(axis=1).sum())
        assert res.n_dropped == len(x) - res.n_used


def test_lavaan_moves_half_an_observation_into_a_2x2_empty_cell(ref):
    x = _csv("sparse_binary")
    with pytest.warns(UserWarning, match="zero.add"):
        res = polychoric(x, convention="lavaan")
    np.testing.assert_allclose(res.rho.to_numpy(), np.array(ref["sparse_binary"]["lavaan"]["rho"]), atol=1e-6)
    assert res.corrected_pairs == sum(c > 0 for c in ref["sparse_binary"]["empty_cells_per_pair"])


# --- psych::tetrachoric --------------------------------------------------------------------------------


def test_tetrachoric_ability_equals_psych(ref):
    x = _csv("ability")
    res = _quiet(tetrachoric, x)
    np.testing.assert_allclose(res.rho.to_numpy(), np.array(ref["ability"]["rho"]), atol=1e-6, rtol=0)
    np.testing.assert_allclose(res.tau["t1"].to_numpy(), ref["ability"]["tau"], atol=1e-6, rtol=0)
    # psych::polychoric on the same 0/1 items gives the same numbers (no empty cells here)
    np.testing.assert_allclose(_quiet(polychoric, x).rho.to_numpy(), _arr(ref["ability"]["polychoric"]["rho"]),
                               atol=1e-6)


def test_tetrachoric_corrects_empty_cells_and_smooths_as_psych(ref):
    x = _csv("sparse_binary")
    with pytest.warns(UserWarning):
        res = tetrachoric(x)
    np.testing.assert_allclose(res.rho.to_numpy(), np.array(ref["sparse_binary"]["rho"]), atol=1e-6, rtol=0)
    np.testing.assert_allclose(res.tau["t1"].to_numpy(), ref["sparse_binary"]["tau"], atol=1e-6)
    assert res.smoothed and ref["sparse_binary"]["r_warnings"] == "Matrix was not positive definite, smoothing was done"
    assert res.corrected_pairs == sum(c > 0 for c in ref["sparse_binary"]["empty_cells_per_pair"])
    assert any("empty cell" in w for w in res.warnings)


def test_tetrachoric_not_positive_definite_equals_psych(ref):
    x = _csv("nonpd_binary")
    raw = _quiet(tetrachoric, x, smooth=False)
    np.testing.assert_allclose(raw.rho.to_numpy(), np.array(ref["nonpd_binary"]["raw"]), atol=1e-6)
    res = _quiet(tetrachoric, x)
    assert res.smoothed
    np.testing.assert_allclose(res.rho.to_numpy(), np.array(ref["nonpd_binary"]["rho"]), atol=1e-6)
    lav = _quiet(polychoric, x, convention="lavaan")
    np.testing.assert_allclose(lav.rho.to_numpy(), np.array(ref["nonpd_binary"]["lavaan"]["rho"]), atol=1e-6)


def test_uncorrected_empty_2x2_cell_is_reported_as_not_identified():
    x = _csv("sparse_binary")
    with pytest.warns(UserWarning, match="not identified"):
        res = polychoric(x, smooth=False)
    assert not res.smoothed
    assert any("b1-b2" in w and "not identified" in w for w in res.warnings)
    _, raised = _warned(tetrachoric, x, correct=0)
    assert any("not identified" in w for w in raised)


# --- refusals --------------------------------------------------------------------------------------------


def test_item_with_one_category_is_refused_by_name():
    x = pd.DataFrame({"a": [1, 2, 3, 2, 1], "b": [2, 2, 2, 2, np.nan], "c": [1, 1, 2, 3, 3]})
    with pytest.raises(PolychoricError, match=r"no variance.*\bb\b"):
        polychoric(x)
    with pytest.raises(PolychoricError, match=r"\bb\b"):
        tetrachoric(x[["b", "c"]].assign(c=[0, 1, 0, 1, 1]))


def test_too_many_categories_is_refused_naming_the_items():
    rng = np.random.default_rng(0)
    x = pd.DataFrame({"few": rng.integers(1, 5, 1000), "many": rng.integers(1, 11, 1000)})
    with pytest.raises(PolychoricError, match=r"at most 8.*many \(10\)"):
        polychoric(x)
    assert _quiet(polychoric, x, max_categories=10).rho.shape == (2, 2)


def test_non_integer_answers_and_non_binary_tetrachoric_are_refused():
    with pytest.raises(PolychoricError, match="integers; not integer: b"):
        polychoric(pd.DataFrame({"a": [1, 2, 3, 1], "b": [1.5, 2, 3, 1]}))
    with pytest.raises(PolychoricError, match="two-valued items.*: a"):
        tetrachoric(pd.DataFrame({"a": [0, 1, 2, 1], "b": [0, 1, 1, 0]}))
    with pytest.raises(PolychoricError, match="DataFrame"):
        polychoric(np.zeros((5, 2)))
    with pytest.raises(PolychoricError, match="convention"):
        polychoric(pd.DataFrame({"a": [0, 1], "b": [1, 0]}), convention="mplus")


def test_pair_answered_together_by_too_few_rows_is_refused():
    x = pd.DataFrame({"a": [1, 2, 1, 2, np.nan, np.nan], "b": [np.nan, np.nan, np.nan, 1, 2, 1],
                      "c": [1, 2, 2, 1, 2, 1]})
    with pytest.raises(PolychoricError, match="a-b"):
        polychoric(x)


def test_result_frame_and_html():
    res = _quiet(polychoric, _csv("hs4"))
    assert res.to_frame() is res.rho
    assert "PolychoricResult" in res._repr_html_()
    assert res.rho.index.tolist() == res.tau.index.tolist() == [f"x{i}" for i in range(1, 10)]


def test_margin_pushed_past_one_by_the_correction_is_refused_not_nan():
    # 50 rows of a 4-point and a 10-point item: per-pair thresholds (unequal categories) and so many empty
    # cells that the corrected cumulative margin exceeds 1; psych would carry on with NaN cell probabilities
    rng = np.random.default_rng(0)
    x = pd.DataFrame({"few": rng.integers(1, 5, 50), "many": rng.integers(1, 11, 50)})
    with pytest.raises(PolychoricError, match="few-many.*correct=0"):
        _quiet(polychoric, x, max_categories=10)
    assert np.isfinite(_quiet(polychoric, x, max_categories=10, correct=0).rho.to_numpy()).all()


def test_lavaan_sets_rho_to_one_when_a_2x2_table_has_two_empty_cells(ref):
    x = _csv("perfect")  # p2 repeats p1
    res, raised = _warned(polychoric, x, convention="lavaan")
    assert any("two empty cells" in w for w in raised)
    np.testing.assert_allclose(res.rho.to_numpy(), np.array(ref["perfect"]["lavaan"]["rho"]), atol=1e-6)
    assert res.rho.loc["p1", "p2"] == 1.0
    assert any("two empty cells" in w for w in ref["perfect"]["r_warnings"])
