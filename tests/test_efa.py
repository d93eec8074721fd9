"""EFA, KMO, Bartlett and parallel analysis against psych (shared/reference/expected.json and tests/data)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from psyscreen.validity.efa import (
    FactorAnalysisError,
    bartlett,
    congruence,
    efa,
    kmo,
    match_factors,
    parallel_analysis,
)

DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="module")
def bfi(reference_dir, expected) -> pd.DataFrame:
    items = pd.read_csv(reference_dir / "items.csv")
    return items[expected["efa"]["items"]]


@pytest.fixture(scope="module")
def extra() -> dict:
    # psych figures beyond expected.json, produced by tests/data/efa_bfi_psych.R
    return json.loads((DATA / "efa_bfi_psych.json").read_text())


# --- the factor-matching helper --------------------------------------------------------------------


def test_congruence_is_tuckers_coefficient():
    a = np.array([[0.8, 0.1], [0.7, 0.0], [0.1, 0.6], [0.0, 0.5]])
    b = np.array([[0.5, 0.2], [0.4, 0.3], [0.2, 0.7], [0.1, 0.1]])
    c = congruence(a, b)
    by_hand = (a[:, 0] @ b[:, 1]) / np.sqrt((a[:, 0] @ a[:, 0]) * (b[:, 1] @ b[:, 1]))
    assert c.shape == (2, 2)
    assert c[0, 1] == pytest.approx(by_hand, abs=1e-12)
    assert congruence(a, -a)[1, 1] == pytest.approx(-1.0)


def test_match_factors_undoes_permutation_and_reflection():
    rng = np.random.default_rng(3)
    ref = np.abs(rng.normal(size=(12, 4))) * np.kron(np.eye(4), np.ones((3, 1))) + 0.05 * rng.normal(size=(12, 4))
    shuffled = ref[:, [2, 0, 3, 1]] * np.array([1.0, -1.0, -1.0, 1.0])
    m = match_factors(shuffled, ref)
    assert m.order.tolist() == [1, 3, 0, 2]
    assert m.signs.tolist() == [-1.0, 1.0, 1.0, -1.0]
    np.testing.assert_allclose(m.aligned, ref, atol=1e-12)
    np.testing.assert_allclose(m.congruence, 1.0, atol=1e-12)
    with pytest.raises(FactorAnalysisError):
        match_factors(ref[:, :3], ref)


# --- expected.json: psych::fa(bfi complete cases, 5, fm = "minres") ------------------------------


def _matched(res_loadings: pd.DataFrame, ref: np.ndarray):
    m = match_factors(res_loadings.to_numpy(), ref)
    assert m.congruence.min() >= 0.999
    return m


def test_efa_varimax_matches_psych(bfi, expected):
    ref = expected["efa"]
    res = efa(bfi, ref["nfactors"], rotation="varimax")
    assert res.n == ref["n"]
    m = _matched(res.loadings, np.array(ref["varimax"]["loadings"]))
    np.testing.assert_allclose(m.aligned, np.array(ref["varimax"]["loadings"]), atol=1e-3)
    h2 = pd.Series(ref["varimax"]["communalities"])
    np.testing.assert_allclose(res.communalities[h2.index], h2, atol=1e-3)
    np.testing.assert_allclose(res.uniquenesses + res.communalities, 1.0, atol=1e-12)
    np.testing.assert_allclose(res.phi.to_numpy(), np.eye(5), atol=1e-12)


def test_efa_oblimin_matches_psych(bfi, expected):
    ref = expected["efa"]
    res = efa(bfi, ref["nfactors"], rotation="oblimin", method="minres")
    m = _matched(res.loadings, np.array(ref["oblimin"]["loadings"]))
    np.testing.assert_allclose(m.aligned, np.array(ref["oblimin"]["loadings"]), atol=1e-3)
    phi = res.phi.to_numpy()[np.ix_(m.order, m.order)] * np.outer(m.signs, m.signs)
    np.testing.assert_allclose(phi, np.array(ref["oblimin"]["phi"]), atol=1e-3)


def test_kmo_and_bartlett_match_psych(bfi, expected, extra):
    ref = expected["efa"]
    k = kmo(bfi)
    assert k.overall == pytest.approx(ref["kmo"], abs=1e-6)
    assert float(k) == k.overall
    np.testing.assert_allclose(k.items.to_numpy(), extra["kmo"]["MSAi"], atol=1e-6)
    assert list(k.items.index) == ref["items"]
    b = bartlett(bfi)
    assert b.chisq == pytest.approx(ref["bartlett"]["chisq"], abs=1e-6)
    assert b.df == ref["bartlett"]["df"]
    assert b.n == ref["n"]
    res = efa(bfi, 5)
    assert res.kmo.overall == pytest.approx(ref["kmo"], abs=1e-6)
    assert res.bartlett.chisq == pytest.approx(ref["bartlett"]["chisq"], abs=1e-6)


def test_bartlett_p_value_matches_psych(bfi, extra):
    small = bfi.dropna().iloc[:300, list(range(5)) + list(range(10, 15))]
    b = bartlett(small)
    ref = extra["small_bartlett"]
    assert b.chisq == pytest.approx(ref["chisq"], abs=1e-6)
    assert b.p == pytest.approx(ref["p"], abs=1e-6, rel=1e-6)
    assert kmo(small).overall == pytest.approx(extra["small_kmo"], abs=1e-6)


# --- tests/data: psych's own order, names, signs and tables ----------------------------------------


@pytest.mark.parametrize(
    ("key", "rotation", "method"),
    [
        ("minres_none", "none", "minres"),
        ("minres_varimax", "varimax", "minres"),
        ("minres_oblimin", "oblimin", "minres"),
        ("minres_promax", "promax", "minres"),
        ("ml_oblimin", "oblimin", "ml"),
        ("ml_varimax", "varimax", "ml"),
    ],
)
def test_efa_reproduces_psych_order_names_and_tables(bfi, extra, key, rotation, method):
    ref = extra[key]
    res = efa(bfi, 5, rotation=rotation, method=method)
    assert list(res.loadings.columns) == ref["columns"]
    np.testing.assert_allclose(res.loadings.to_numpy(), np.array(ref["loadings"]), atol=1e-3)
    np.testing.assert_allclose(res.communalities.to_numpy(), ref["communality"], atol=1e-3)
    variance = np.array(ref["variance"])
    assert list(res.variance.index) == ref["variance_rows"]
    np.testing.assert_allclose(res.variance.to_numpy(), variance, atol=1e-3)
    if "phi" in ref:
        np.testing.assert_allclose(res.phi.to_numpy(), np.array(ref["phi"]), atol=1e-3)
        np.testing.assert_allclose(res.structure.to_numpy(), res.loadings.to_numpy() @ res.phi.to_numpy())


def test_efa_one_factor_and_small_ml_promax(bfi, extra):
    one = efa(bfi, 1)
    assert list(one.loadings.columns) == ["MR1"]
    np.testing.assert_allclose(one.loadings["MR1"], np.array(extra["minres_1"]["loadings"]).ravel(), atol=1e-3)
    small = bfi.dropna().iloc[:300, list(range(5)) + list(range(10, 15))]
    res = efa(small, 2, rotation="promax", method="ml")
    ref = extra["small_ml_promax"]
    assert list(res.loadings.columns) == ref["columns"]
    np.testing.assert_allclose(res.loadings.to_numpy(), np.array(ref["loadings"]), atol=1e-3)
    np.testing.assert_allclose(res.phi.to_numpy(), np.array(ref["phi"]), atol=1e-3)


# --- behaviour --------------------------------------------------------------------------------------


def test_listwise_complete_cases_and_result_shape(bfi):
    res = efa(bfi, 5, rotation="oblimin")
    assert res.n == int(bfi.notna().all(axis=1).sum())
    frame = res.to_frame()
    assert list(frame.columns) == list(res.loadings.columns) + ["h2", "u2"]
    assert "<table" in res._repr_html_()
    eig = res.eigenvalues
    assert eig.shape == (25, 2)
    assert eig["observed"].sum() == pytest.approx(25.0)
    assert res.variance.loc["Cumulative Var"].iloc[-1] == pytest.approx(res.communalities.sum() / 25)


def test_reversing_an_item_only_flips_its_loadings(bfi):
    base = efa(bfi, 5, rotation="oblimin")
    flipped = bfi.assign(A1=7 - bfi["A1"])
    res = efa(flipped, 5, rotation="oblimin")
    m = match_factors(res.loadings.to_numpy(), base.loadings.to_numpy())
    aligned = pd.DataFrame(m.aligned, index=base.loadings.index)
    np.testing.assert_allclose(aligned.loc["A1"], -base.loadings.loc["A1"], atol=1e-6)
    np.testing.assert_allclose(aligned.drop(index="A1"), base.loadings.drop(index="A1"), atol=1e-6)


def test_bad_input_raises_typed_errors(bfi):
    with pytest.raises(FactorAnalysisError, match="n_factors"):
        efa(bfi, 25)
    with pytest.raises(FactorAnalysisError, match="rotation"):
        efa(bfi, 2, rotation="geomin")
    with pytest.raises(FactorAnalysisError, match="method"):
        efa(bfi, 2, method="pa")
    with pytest.raises(FactorAnalysisError, match="numeric"):
        efa(bfi.assign(A1=bfi["A1"].astype(str)), 2)
    with pytest.raises(FactorAnalysisError, match="without variance"):
        efa(bfi.assign(A1=3.0), 2)
    with pytest.raises(FactorAnalysisError, match="complete"):
        kmo(bfi.iloc[:10])
    assert issubclass(FactorAnalysisError, ValueError)


# --- parallel analysis ------------------------------------------------------------------------------


def test_parallel_analysis_on_bfi_suggests_five_or_six_factors(bfi, extra):
    # psych::fa.parallel on the complete cases reports 6 factors and 5 components
    ref = extra["parallel"]
    pa = parallel_analysis(bfi, n_iter=100, seed=2024)
    assert pa.n_factors in (5, 6)
    assert pa.n_components in (5, 6)
    assert pa.n_factors == ref["nfact"]
    # observed eigenvalues are deterministic: components of R, and psych's fa(R, 1)$values
    np.testing.assert_allclose(pa.eigenvalues["pc_observed"], ref["pc_values"], atol=1e-6)
    np.testing.assert_allclose(pa.eigenvalues["fa_observed"], ref["fa_values"], atol=1e-4)
    # simulated means are random; 100 simulations each side agree well within these bounds
    np.testing.assert_allclose(pa.eigenvalues["pc_simulated"], ref["pc_sim"], atol=0.01)
    np.testing.assert_allclose(pa.eigenvalues["fa_simulated"], ref["fa_sim"], atol=0.04)
    eig = pa.eigenvalues
    assert list(eig.columns) == [
        "pc_observed", "pc_simulated", "pc_threshold", "fa_observed", "fa_simulated", "fa_threshold",
    ]
    obs, thr = eig["fa_observed"].to_numpy(), eig["fa_threshold"].to_numpy()
    assert (obs[: pa.n_factors] > thr[: pa.n_factors]).all() and obs[pa.n_factors] <= thr[pa.n_factors]
    assert eig["fa_observed"].iloc[0] == pytest.approx(efa(bfi, 1).eigenvalues["common"].iloc[0], abs=1e-10)


def test_parallel_analysis_noise_and_two_factors():
    rng = np.random.default_rng(11)
    noise = pd.DataFrame(rng.normal(size=(600, 10)), columns=[f"n{i}" for i in range(10)])
    pa = parallel_analysis(noise, seed=5)
    assert pa.n_factors == 0 and pa.n_components == 0

    f = rng.normal(size=(600, 2))
    pattern = np.kron(np.eye(2), np.full((1, 5), 0.6))
    two = pd.DataFrame(f @ pattern + rng.normal(scale=0.8, size=(600, 10)), columns=[f"t{i}" for i in range(10)])
    pa2 = parallel_analysis(two, seed=5, quantile=None)
    assert pa2.n_factors == 2 and pa2.n_components == 2
    again = parallel_analysis(two, seed=5, quantile=None)
    pd.testing.assert_frame_equal(pa2.eigenvalues, again.eigenvalues)
    with pytest.raises(FactorAnalysisError, match="quantile"):
        parallel_analysis(two, quantile=1.5)


# --- cor = "poly": psych::fa(x, k, cor = "poly") and fa.parallel(x, cor = "poly") (tests/data/poly_psych.R) ---


@pytest.fixture(scope="module")
def poly_ref() -> dict:
    return json.loads((DATA / "poly_psych.json").read_text())


def _poly_sets(reference_dir, poly_ref):
    bfi10 = pd.read_csv(reference_dir / "items.csv")[poly_ref["bfi"]["items"]]  # with its missing answers
    hs4 = pd.read_csv(DATA / "poly_hs4.csv")
    return {"bfi": (bfi10, 2, "fa2"), "hs4": (hs4, 3, "fa3")}


@pytest.mark.parametrize("name", ["bfi", "hs4"])
def test_efa_on_polychoric_matrix_matches_psych(name, reference_dir, poly_ref):
    x, k, key = _poly_sets(reference_dir, poly_ref)[name]
    ref = poly_ref[name][key]
    res = efa(x, k, cor="poly")
    assert list(res.loadings.columns) == ref["columns"]
    m = _matched(res.loadings, np.array(ref["loadings"]))
    np.testing.assert_allclose(m.aligned, np.array(ref["loadings"]), atol=1e-3)
    np.testing.assert_allclose(res.communalities, ref["communality"], atol=1e-3)
    np.testing.assert_allclose(res.phi.to_numpy(), np.array(ref["phi"]), atol=1e-3)
    assert res.cor == "poly" and res.missing == "pairwise"
    assert res.n == int((x.notna().sum(axis=1) >= 2).sum())


def test_efa_poly_differs_from_pearson_on_cut_items(poly_ref):
    # the gap the issue describes: Pearson loadings of 4-category items are smaller than the polychoric ones
    hs4 = pd.read_csv(DATA / "poly_hs4.csv")
    pearson = efa(hs4, 3)
    ref = poly_ref["hs4"]["fa3_pearson"]
    m = _matched(pearson.loadings, np.array(ref["loadings"]))
    np.testing.assert_allclose(m.aligned, np.array(ref["loadings"]), atol=1e-3)  # complete data: psych's too
    assert pearson.cor == "pearson" and pearson.missing == "listwise"
    assert efa(hs4, 3, cor="poly").communalities.mean() > pearson.communalities.mean() + 0.05


@pytest.mark.parametrize("name", ["bfi", "hs4"])
def test_parallel_analysis_poly_observed_eigenvalues_match_psych(name, reference_dir, poly_ref):
    x, _, _ = _poly_sets(reference_dir, poly_ref)[name]
    pa = parallel_analysis(x, n_iter=3, seed=1, cor="poly")
    ref = poly_ref[name]["parallel"]
    np.testing.assert_allclose(pa.eigenvalues["pc_observed"], ref["pc_observed"], atol=1e-6)
    np.testing.assert_allclose(pa.eigenvalues["fa_observed"], ref["fa_observed"], atol=1e-6)
    assert pa.cor == "poly"


def test_kmo_and_bartlett_on_the_polychoric_matrix_match_psych(reference_dir, poly_ref):
    x, _, _ = _poly_sets(reference_dir, poly_ref)["bfi"]
    k = kmo(x, cor="poly")
    assert k.overall == pytest.approx(poly_ref["bfi"]["kmo"]["MSA"], abs=1e-6)
    np.testing.assert_allclose(k.items, poly_ref["bfi"]["kmo"]["MSAi"], atol=1e-6)
    b = bartlett(x, cor="poly")  # every bfi row has two answers, so n = nrow(x) as in the R call
    assert b.n == len(x)
    assert b.chisq == pytest.approx(poly_ref["bfi"]["bartlett"]["chisq"], rel=1e-6)
    assert b.df == poly_ref["bfi"]["bartlett"]["df"]


def test_efa_poly_refusals_are_factor_analysis_errors():
    x = pd.DataFrame({"a": [1, 2, 3, 1, 2], "b": [1.5, 2, 1, 2, 3], "c": [1, 1, 2, 3, 2]})
    with pytest.raises(FactorAnalysisError, match="not integer: b"):
        efa(x, 1, cor="poly", items=["a", "b", "c"])
    with pytest.raises(FactorAnalysisError, match="cor must be"):
        efa(x, 1, cor="spearman")


def test_efa_poly_carries_the_polychoric_warnings_and_rows():
    """The smoothing of a non-positive-definite polychoric matrix is said in the EFA result, not only warned."""
    x = pd.read_csv(Path(__file__).resolve().parent / "data" / "poly_nonpd.csv")
    x.iloc[:3, :] = np.nan  # three rows without any answer: left out of the pairwise matrix
    with pytest.warns(UserWarning):
        res = efa(x, 2, cor="poly")
    assert res.cor == "poly" and res.missing == "pairwise"
    assert (res.n_used, res.n_dropped) == (len(x) - 3, 3)
    assert any("smooth" in w for w in res.warnings)
    assert any("3 of" in w for w in res.warnings)
