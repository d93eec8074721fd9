"""S-X2 item fit and M2/C2 model fit against R mirt 1.47 (../shared/reference/irt/*/expected.json).

Both are exact functions of the item parameters and the data, so they are recomputed from the parameters mirt
estimated (stored beside the figures) and compared tightly.
"""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest

from psyscreen.irt import ItemParams, trace
from psyscreen.irt.itemfit import ItemFitError, _collapse, itemfit, latent_quadrature, summed_score_likelihood
from psyscreen.irt.m2 import M2Error, m2

FITS = {"lsat7_2pl": "2PL", "lsat7_rasch": "Rasch", "science_graded": "graded"}


def load(reference_dir, name):
    folder = reference_dir / "irt" / name
    ref = json.loads((folder / "expected.json").read_text())
    data = pd.read_csv(folder / "data.csv")
    si = ref["coef"]["slope_intercept"]
    vals = np.array(si["items"]["values"], dtype=float)
    dcols = [j for j, c in enumerate(si["items"]["colnames"]) if c.startswith("d")]
    n_cat = np.array([data[c].nunique() for c in data.columns])
    params = ItemParams(tuple(si["items"]["rownames"]), FITS[name], vals[:, 0], vals[:, dcols], n_cat)
    return ref, data, params, float(si["cov"]["values"][0][0])


@pytest.mark.parametrize("name", list(FITS))
def test_s_x2_equals_mirt_itemfit(reference_dir, name):
    ref, data, params, var = load(reference_dir, name)
    res = itemfit(params, data, latent_var=var)
    exp = pd.DataFrame(ref["itemfit_S_X2"])
    assert res.table["item"].tolist() == exp["item"].tolist()
    assert res.table["df"].tolist() == exp["df.S_X2"].tolist()        # mirt's collapsing and df count
    np.testing.assert_allclose(res.table["S_X2"], exp["S_X2"], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(res.table["p"], exp["p.S_X2"], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(res.table["RMSEA"], exp["RMSEA.S_X2"], atol=1e-6)
    assert res.n_used == len(data) and res.warnings == ()


def test_graded_tables_were_collapsed_as_mirt_collapses(reference_dir):
    # science: 13 summed scores x 4 categories before collapsing; the df 6/9/8/11 come only from the collapsing
    _, data, params, _ = load(reference_dir, "science_graded")
    res = itemfit(params, data)
    score = (data - data.min()).sum(axis=1)
    inner = int(((score > 0) & (score < 12)).sum())                    # the lowest and highest scores do not count
    for name, o in res.observed.items():
        e = res.expected[name]
        assert o.shape == e.shape and len(e) < 11
        assert np.nanmin(e) >= 1.0                                     # mincell = 1 reached
        assert o.sum() == inner                                     # every student still counted once
        assert np.nansum(e) == pytest.approx(inner, rel=1e-9)     # and every expected student


def test_lord_wingersky_equals_enumerating_every_pattern():
    params = ItemParams(("a", "b", "c"), "graded", np.array([1.0, 1.5, 0.7]),
                        np.array([[1.0, -0.5], [0.3, np.nan], [2.0, 0.0]]), np.array([3, 2, 3]))
    nodes = np.array([-1.0, 0.2, 1.3])
    P = trace(params, nodes)
    like = summed_score_likelihood(P, params.n_cat)
    brute = np.zeros_like(like)
    for pat in itertools.product(range(3), range(2), range(3)):
        brute[sum(pat)] += P[0, :, pat[0]] * P[1, :, pat[1]] * P[2, :, pat[2]]
    np.testing.assert_allclose(like, brute, atol=1e-15)
    np.testing.assert_allclose(like.sum(axis=0), 1.0)


def test_missing_answers_are_left_out_with_a_warning(reference_dir):
    _, data, params, var = load(reference_dir, "lsat7_2pl")
    holed = data.astype(float).copy()
    holed.iloc[[3, 500, 999], 2] = np.nan
    with pytest.warns(UserWarning, match="3 student"):
        res = itemfit(params, holed, latent_var=var)
    assert res.n_used == len(data) - 3 and "na.rm" in res.warnings[0]
    full = itemfit(params, data.drop(index=[3, 500, 999]), latent_var=var)
    pd.testing.assert_frame_equal(res.table, full.table)


def test_collapse_merges_a_single_student_row_and_sparse_cells():
    obs = np.array([[1, 0], [3, 2], [5, 5], [0, 0], [2, 8]], dtype=float)
    exp = np.array([[0.6, 0.4], [3.1, 1.9], [5.5, 4.5], [0.0, 0.0], [1.5, 8.5]])
    o, e = _collapse(obs, exp, 1.0)
    # the empty row goes, the one-student first row joins the next: 3 rows with all 10+10 students
    assert o.shape == (3, 2) and o.sum() == obs.sum()
    np.testing.assert_allclose(o[0], [4, 2])
    np.testing.assert_allclose(e[0], [3.7, 2.3])


def test_bad_input_is_named():
    params = ItemParams(("a", "b", "c"), "2PL", np.ones(3), np.zeros((3, 1)), np.full(3, 2))
    with pytest.raises(ItemFitError, match="no column"):
        itemfit(params, pd.DataFrame({"a": [0, 1], "b": [1, 0]}))
    with pytest.raises(ItemFitError, match="beyond"):
        itemfit(params, np.array([[0, 1, 2], [1, 0, 1]], dtype=float))
    with pytest.raises(ItemFitError, match="variance"):
        latent_quadrature(var=0.0)


@pytest.mark.parametrize("name", ["lsat7_2pl", "lsat7_rasch"])
def test_m2_equals_mirt_for_binary_items(reference_dir, name):
    ref, data, params, var = load(reference_dir, name)
    res = m2(params, data, latent_var=var)
    exp = ref["M2"]
    assert res.df == exp["df"]
    for key in ("M2", "p", "RMSEA", "RMSEA_5", "RMSEA_95", "SRMSR", "TLI", "CFI"):
        assert getattr(res, key) == pytest.approx(exp[key], rel=1e-5, abs=1e-7), key
    # binary items: M2* and C2 are the same statistic (Maydeu-Olivares & Joe's M2)
    assert m2(params, data, latent_var=var, type="C2").M2 == pytest.approx(res.M2, rel=1e-10)


def test_c2_equals_mirt_for_graded_items_and_m2_star_says_why_not(reference_dir):
    ref, data, params, _ = load(reference_dir, "science_graded")
    res = m2(params, data, type="C2")
    exp = ref["M2"]["C2"]
    assert res.df == exp["df"]
    for key in ("M2", "p", "RMSEA", "RMSEA_5", "RMSEA_95", "SRMSR", "TLI", "CFI"):
        assert getattr(res, key) == pytest.approx(exp[key], rel=1e-5, abs=1e-7), key
    assert "too few degrees of freedom" in ref["M2"]["M2*"]["error"]
    with pytest.raises(M2Error, match="too few degrees of freedom"):
        m2(params, data)                                                # 10 margins, 16 parameters


def test_m2_refuses_missing_answers(reference_dir):
    _, data, params, var = load(reference_dir, "lsat7_2pl")
    holed = data.astype(float)
    holed.iloc[0, 0] = np.nan
    with pytest.raises(M2Error, match="complete answers"):
        m2(params, holed, latent_var=var)


def test_from_a_fit_of_the_engine(reference_dir):
    # the whole path: fit (psyscreen.irt.fit, the latent variance of a Rasch fit included) -> S-X2 and M2;
    # estimates agree with mirt's to ~1e-3, so the statistics agree to a few hundredths
    from psyscreen.irt import fit

    for name in ("lsat7_rasch", "science_graded"):
        ref, data, _, _ = load(reference_dir, name)
        res = fit(data, FITS[name], se=False)
        table = itemfit(res, data).table
        np.testing.assert_allclose(table["S_X2"], ref["itemfit_S_X2"]["S_X2"], atol=0.05)
        stat = m2(res, data, type="C2")
        exp = ref["M2"] if name == "lsat7_rasch" else ref["M2"]["C2"]
        assert stat.M2 == pytest.approx(exp["M2"], abs=0.05) and stat.df == exp["df"]
