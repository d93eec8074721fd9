"""IRT person scores, the EAPsum table and information equal R mirt 1.47 (../shared/reference/irt).

Scores and information are exact functions of the item parameters, so (as the reference README advises) they are
recomputed from mirt's stored parameters and compared tightly; the scores of our own fit are compared loosely.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from psyscreen import irt  # noqa: E402
from psyscreen.irt import plots as irt_plots  # noqa: E402

REF = Path(__file__).resolve().parents[2] / "shared" / "reference" / "irt"
CASES = [("lsat7_2pl", "2PL"), ("lsat7_rasch", "Rasch"), ("science_graded", "graded")]


def _nan(values):
    return np.array([np.nan if v is None else v for v in values], dtype=float)


@pytest.fixture(scope="module", params=CASES, ids=[c[0] for c in CASES])
def case(request):
    name, model = request.param
    e = json.loads((REF / name / "expected.json").read_text())
    data = pd.read_csv(REF / name / "data.csv")
    res = irt.fit(data, model, se=False)
    v = np.array(e["coef"]["slope_intercept"]["items"]["values"], dtype=float)
    p = irt.ItemParams(res.items, model, v[:, 0], v[:, 1 : res.params.k_max], res.params.n_cat)
    latent = res.latent.copy()
    latent.loc[0, "var"] = e["coef"]["slope_intercept"]["cov"]["values"][0][0]
    at_mirt = dataclasses.replace(res, params=p, group_params=(p,), latent=latent)
    return e, data, res, at_mirt


@pytest.mark.parametrize("method", ["EAP", "MAP"])
def test_pattern_scores_equal_mirt(case, method):
    _check_patterns(*case, method)


@pytest.mark.parametrize("name,model", CASES[:2])
def test_ml_pattern_scores_equal_mirt_with_infinite_extremes(name, model):
    e = json.loads((REF / name / "expected.json").read_text())
    data = pd.read_csv(REF / name / "data.csv")
    res = irt.fit(data, model, se=False)
    v = np.array(e["coef"]["slope_intercept"]["items"]["values"], dtype=float)
    p = irt.ItemParams(res.items, model, v[:, 0], v[:, 1:2], res.params.n_cat)
    latent = res.latent.copy()
    latent.loc[0, "var"] = e["coef"]["slope_intercept"]["cov"]["values"][0][0]
    _check_patterns(e, data, res, dataclasses.replace(res, params=p, group_params=(p,), latent=latent), "ML")


def _check_patterns(e, data, res, at_mirt, method):
    key = f"fscores_patterns_{method}"
    tab = e[key].get("table", e[key])
    patterns = pd.DataFrame({it: tab[it] for it in res.items})
    ours = at_mirt.scores(patterns, method)
    f1, se = _nan(tab["F1"]), _nan(tab["SE_F1"])
    fin = np.isfinite(f1)
    tol = 1e-8 if method == "EAP" else 1e-4  # MAP/ML: mirt's optimiser stops at ~1e-5
    np.testing.assert_allclose(ours["theta"].to_numpy()[fin], f1[fin], atol=tol)
    np.testing.assert_allclose(ours["se"].to_numpy()[fin], se[fin], atol=tol)
    np.testing.assert_allclose(ours["T"], 50 + 10 * ours["theta"])
    # our own fit: scores to 1e-2 (mirt stops short of the likelihood maximum, see test_irt_fit)
    own = res.scores(patterns, method)
    np.testing.assert_allclose(own["theta"].to_numpy()[fin], f1[fin], atol=2e-2)
    if method == "ML":
        low = (patterns == 0).all(axis=1).to_numpy()
        high = (patterns == patterns.max()).all(axis=1).to_numpy()
        assert np.all(ours["theta"][low] == -np.inf) and np.all(ours["theta"][high] == np.inf)
        assert ours["note"][low | high].str.contains("ML estimate is").all()
        assert ours["se"][low | high].isna().all() and (ours["note"][~(low | high)] == "").all()


def test_full_scores_equal_mirt():
    e = json.loads((REF / "science_graded" / "expected.json").read_text())
    data = pd.read_csv(REF / "science_graded" / "data.csv")
    res = irt.fit(data, "graded", se=False)
    v = np.array(e["coef"]["slope_intercept"]["items"]["values"], dtype=float)
    p = irt.ItemParams(res.items, "graded", v[:, 0], v[:, 1:], res.params.n_cat)
    at_mirt = dataclasses.replace(res, params=p, group_params=(p,))
    for method, key, tol in [("EAP", "fscores_EAP_full", 1e-8), ("MAP", "fscores_MAP_full", 1e-4)]:
        s = at_mirt.scores(data, method)
        np.testing.assert_allclose(s["theta"], e[key]["F1"], atol=tol)
        np.testing.assert_allclose(s["se"], e[key]["SE_F1"], atol=tol)
    lsat = json.loads((REF / "lsat7_2pl" / "expected.json").read_text())
    d7 = pd.read_csv(REF / "lsat7_2pl" / "data.csv")
    own = irt.fit(d7, "2PL", se=False).scores(d7)
    np.testing.assert_allclose(own["theta"], lsat["fscores_full"]["F1"], atol=2e-3)
    np.testing.assert_allclose(own["se"], lsat["fscores_full"]["SE_F1"], atol=2e-3)


def test_eap_sum_table_equals_mirt():
    e = json.loads((REF / "science_graded" / "expected.json").read_text())
    data = pd.read_csv(REF / "science_graded" / "data.csv")
    res = irt.fit(data, "graded", se=False)
    v = np.array(e["coef"]["slope_intercept"]["items"]["values"], dtype=float)
    p = irt.ItemParams(res.items, "graded", v[:, 0], v[:, 1:], res.params.n_cat)
    table = dataclasses.replace(res, params=p, group_params=(p,)).eap_sum(items=data)
    ref = e["fscores_EAPsum_table"]
    np.testing.assert_array_equal(table["total"], ref["Sum.Scores"])
    np.testing.assert_allclose(table["theta"], ref["F1"], atol=1e-8)
    np.testing.assert_allclose(table["se"], ref["SE_F1"], atol=1e-8)
    np.testing.assert_array_equal(table["observed"], ref["observed"])
    np.testing.assert_allclose(table["expected"], ref["expected"], atol=1e-6)
    np.testing.assert_allclose(table["std_res"], ref["std.res"], atol=1e-6)
    np.testing.assert_allclose(res.eap_sum()["theta"], ref["F1"], atol=5e-3)


def test_information_equals_mirt(case):
    e, _, _, at_mirt = case
    theta = e["info"]["theta"]
    info = at_mirt.item_information(theta)
    for item in at_mirt.items:
        np.testing.assert_allclose(info[item], e["info"]["item_information"][item], atol=1e-8)
    np.testing.assert_allclose(at_mirt.test_information(theta), e["info"]["test_information"], atol=1e-8)
    np.testing.assert_allclose(at_mirt.se_curve(theta), 1 / np.sqrt(e["info"]["test_information"]), atol=1e-8)


def test_trace_lines_equal_mirt():
    e = json.loads((REF / "science_graded" / "expected.json").read_text())
    v = np.array(e["coef"]["slope_intercept"]["items"]["values"], dtype=float)
    names = tuple(e["probtrace"]["items"])
    p = irt.ItemParams(names, "graded", v[:, 0], v[:, 1:], np.array([4] * 4))
    tr = irt.trace(p, e["probtrace"]["theta"])
    for j, name in enumerate(names):
        np.testing.assert_allclose(tr[j], np.array(e["probtrace"]["items"][name]["values"]), atol=1e-10)
        expected = (tr[j] * np.arange(4)).sum(axis=1)  # mirt's expected score on the 0..K-1 codes
        np.testing.assert_allclose(expected, e["expected_item_score"][name], atol=1e-10)


def test_information_at_raw_and_theta_cutoffs():
    data = pd.read_csv(REF / "science_graded" / "data.csv")
    res = irt.fit(data, "graded", se=False)
    table = res.information_at([8, 12], scale="raw")
    eap = res.eap_sum().set_index("total")["theta"]
    np.testing.assert_allclose(table.attrs["theta"], eap.loc[[8, 12]].to_numpy())
    test = table.loc["test information"].to_numpy()
    np.testing.assert_allclose(test, res.test_information(table.attrs["theta"]))
    np.testing.assert_allclose(table.loc[[f"share {i}" for i in res.items]].sum(), 1.0)
    on_theta = res.information_at([0.0])
    assert on_theta.loc["standard error"].iloc[0] == pytest.approx(float(res.se_curve([0.0])[0]))
    with pytest.raises(irt.IRTError, match="not attainable"):
        res.information_at([3], scale="raw")


def test_scores_bad_input(case):
    _, data, res, _ = case
    with pytest.raises(irt.IRTError, match="method"):
        res.scores(data, "WLE")
    with pytest.raises(irt.IRTDataError, match="not in the data"):
        res.scores(data.iloc[:, 1:])
    empty = data.astype(float).copy()
    empty.iloc[0] = np.nan
    s = res.scores(empty)
    assert np.isnan(s["theta"].iloc[0]) and s["note"].iloc[0] == "no answers: no score"


def test_plots_run_in_both_languages():
    data = pd.read_csv(REF / "science_graded" / "data.csv")
    res = irt.fit(data, "graded", se=False)
    for lang in ("zh", "en"):
        icc = irt_plots.item_characteristic_curves(res, lang=lang)
        info = irt_plots.information_curves(res, cutoffs=res.information_at([8], scale="raw").attrs["theta"],
                                            lang=lang)
        assert isinstance(icc, Figure) and isinstance(info, Figure)
        assert len(icc.axes) == 4 and len(info.axes) == 2
    assert icc.axes[0].get_xlabel() == "Latent trait θ"
    assert irt_plots.information_curves(res).axes[0].get_ylabel() == "信息量"
