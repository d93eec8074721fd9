"""psyscreen.reliability against R's psych (2.2.9).

Outside references:
* ``shared/reference/expected.json`` (sections ``keys``, ``alpha``, ``icc``) on ``items.csv`` / ``retest.csv``;
* ``tests/data/reliability_psych.json``: extra psych figures (splitHalf, guttman, Feldt bounds, ICC F/df/p and a
  three-rater ICC), produced by ``tests/data/reliability_psych.R`` (the exact R calls are in that script);
* ``scipy.stats.ttest_ind`` and ``numpy.corrcoef`` for the item-analysis t tests and item-total r;
* hand arithmetic from the Jacobson and Truax (1991) formulas for the reliable change index.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import stats

from psyscreen.reliability import (
    AlphaResult,
    ItemAnalysisResult,
    ReliabilityInputError,
    SplitHalfResult,
    alpha,
    icc,
    item_analysis,
    reliable_change,
    sem,
    sem_band,
    split_half,
)

REF = Path(__file__).resolve().parents[2] / "shared" / "reference"
DATA = Path(__file__).resolve().parent / "data"
EXPECTED = json.loads((REF / "expected.json").read_text(encoding="utf-8"))
EXTRA = json.loads((DATA / "reliability_psych.json").read_text(encoding="utf-8"))
SCALES = list(EXPECTED["keys"])
TOL = 1e-6


@pytest.fixture(scope="module")
def bfi() -> pd.DataFrame:
    return pd.read_csv(REF / "items.csv")


def _scale(bfi: pd.DataFrame, keys: list[str]) -> tuple[pd.DataFrame, list[str]]:
    cols = [k.lstrip("-") for k in keys]
    rev = [k[1:] for k in keys if k.startswith("-")]
    return bfi[cols], rev


# --------------------------------------------------------------------------------------------------
# alpha
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("scale", SCALES)
def test_alpha_pairwise_matches_psych(bfi, scale):
    x, rev = _scale(bfi, EXPECTED["keys"][scale])
    ref = EXPECTED["alpha"][scale]["pairwise"]
    res = alpha(x, rev, min=EXPECTED["item_min"], max=EXPECTED["item_max"])
    assert isinstance(res, AlphaResult)
    assert res.alpha == pytest.approx(ref["raw_alpha"], abs=TOL)
    assert res.std_alpha == pytest.approx(ref["std_alpha"], abs=TOL)
    assert res.average_r == pytest.approx(ref["average_r"], abs=TOL)
    for item in x.columns:
        assert res.items.loc[item, "alpha_if_dropped"] == pytest.approx(ref["alpha_if_dropped"][item], abs=TOL)
        assert res.items.loc[item, "r_drop"] == pytest.approx(ref["r_drop"][item], abs=TOL)
    assert res.n == len(x)


@pytest.mark.parametrize("scale", SCALES)
def test_alpha_complete_matches_psych(bfi, scale):
    x, rev = _scale(bfi, EXPECTED["keys"][scale])
    ref = EXPECTED["alpha"][scale]["complete"]
    res = alpha(x, rev, min=1, max=6, nan_policy="listwise")
    assert res.n == ref["n"]
    assert res.alpha == pytest.approx(ref["raw_alpha"], abs=TOL)
    assert res.std_alpha == pytest.approx(ref["std_alpha"], abs=TOL)
    assert res.g6 == pytest.approx(ref["G6"], abs=TOL)
    for item in x.columns:
        assert res.items.loc[item, "alpha_if_dropped"] == pytest.approx(ref["alpha_if_dropped"][item], abs=TOL)
        assert res.items.loc[item, "r_drop"] == pytest.approx(ref["r_drop"][item], abs=TOL)


@pytest.mark.parametrize("name", list(EXTRA["sets"]))
def test_alpha_feldt_ci_and_item_stats_match_psych(bfi, name):
    ref = EXTRA["sets"][name]
    x, rev = _scale(bfi, ref["items"])
    res = alpha(x, rev, min=1, max=6)
    assert res.ci[0] == pytest.approx(ref["alpha_feldt_pairwise"]["lower"], abs=TOL)
    assert res.ci[1] == pytest.approx(ref["alpha_feldt_pairwise"]["upper"], abs=TOL)
    assert res.n == ref["alpha_feldt_pairwise"]["n"]
    for k, item in zip(ref["items"], x.columns, strict=True):
        assert res.items.loc[item, "mean"] == pytest.approx(ref["item_means_pairwise"][k], abs=TOL)
        assert res.items.loc[item, "sd"] == pytest.approx(ref["item_sd_pairwise"][k], abs=TOL)
    comp = alpha(x, rev, min=1, max=6, nan_policy="listwise")
    assert comp.n == ref["alpha_feldt_complete"]["n"]
    assert comp.ci[0] == pytest.approx(ref["alpha_feldt_complete"]["lower"], abs=TOL)
    assert comp.ci[1] == pytest.approx(ref["alpha_feldt_complete"]["upper"], abs=TOL)


def test_alpha_r_drop_is_pearson_r_with_rest_score_on_complete_cases(bfi):
    x, rev = _scale(bfi, EXPECTED["keys"]["conscientious"])
    keyed = x.dropna().astype(float)
    keyed[rev] = 7 - keyed[rev]
    res = alpha(x, rev, min=1, max=6, nan_policy="listwise")
    for item in x.columns:
        rest = keyed.drop(columns=item).sum(axis=1)
        r = np.corrcoef(keyed[item], rest)[0, 1]
        assert res.items.loc[item, "r_drop"] == pytest.approx(r, abs=1e-12)


def test_alpha_infers_range_when_not_given(bfi):
    x, rev = _scale(bfi, EXPECTED["keys"]["agree"])
    res = alpha(x, rev)
    assert res.range_inferred and (res.min, res.max) == (1.0, 6.0)
    assert res.alpha == pytest.approx(EXPECTED["alpha"]["agree"]["pairwise"]["raw_alpha"], abs=TOL)
    assert not alpha(x, rev, min=1, max=6).range_inferred


def test_alpha_frame_and_html(bfi):
    x, rev = _scale(bfi, EXPECTED["keys"]["openness"])
    res = alpha(x, rev, min=1, max=6)
    frame = res.to_frame()
    assert frame.loc[0, "alpha"] == res.alpha and frame.loc[0, "ci_low"] == res.ci[0]
    assert "AlphaResult" in res._repr_html_()
    assert res.ci[0] < res.alpha < res.ci[1]
    assert list(res.items.columns) == ["alpha_if_dropped", "r_drop", "mean", "sd"]


def test_alpha_two_items_has_no_alpha_if_dropped():
    x = pd.DataFrame({"a": [1, 2, 3, 4, 5, 3], "b": [2, 1, 4, 3, 5, 3]})
    res = alpha(x)
    assert res.items["alpha_if_dropped"].isna().all()
    r = np.corrcoef(x["a"], x["b"])[0, 1]
    assert res.items["r_drop"].to_numpy() == pytest.approx([r, r])
    assert res.alpha == pytest.approx(2 * x.cov().loc["a", "b"] * 2 / x.sum(axis=1).var())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"reverse": ["Z9"]}, "not columns"),
        ({"nan_policy": "everything"}, "nan_policy"),
        ({"min": 1, "max": 5}, "outside"),
        ({"min": 6, "max": 1}, "below"),
        ({"ci": 1.5}, "confidence level"),
    ],
)
def test_alpha_rejects_bad_input(bfi, kwargs, message):
    x, _ = _scale(bfi, EXPECTED["keys"]["agree"])
    with pytest.raises(ReliabilityInputError, match=message):
        alpha(x, **kwargs)


def test_alpha_rejects_constant_and_text_items():
    x = pd.DataFrame({"a": [1, 2, 3], "b": [2, 2, 2], "c": [1, 3, 2]})
    with pytest.raises(ReliabilityInputError, match="no variance"):
        alpha(x)
    with pytest.raises(ReliabilityInputError, match="not numeric"):
        alpha(x.assign(b=["x", "y", "z"]))
    with pytest.raises(ReliabilityInputError, match="DataFrame"):
        alpha(x.to_numpy())


_item_frames = arrays(
    np.float64,
    st.tuples(st.integers(6, 30), st.integers(3, 6)),
    elements=st.integers(1, 5).map(float),
)


def _usable(a: np.ndarray) -> bool:
    return bool((a.std(axis=0) > 0).all()) and bool(np.linalg.matrix_rank(np.cov(a.T)) == a.shape[1])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(a=_item_frames.filter(_usable), seed=st.integers(0, 2**32 - 1))
def test_alpha_unchanged_by_permuting_rows_and_columns(a, seed):
    x = pd.DataFrame(a, columns=[f"i{j}" for j in range(a.shape[1])])
    rng = np.random.default_rng(seed)
    base = alpha(x, min=1, max=5)
    rows = alpha(x.iloc[rng.permutation(len(x))], min=1, max=5)
    cols = alpha(x[list(rng.permutation(x.columns))], min=1, max=5)
    for other in (rows, cols):
        assert other.alpha == pytest.approx(base.alpha, abs=1e-10)
        assert other.std_alpha == pytest.approx(base.std_alpha, abs=1e-10)
        assert other.g6 == pytest.approx(base.g6, abs=1e-10)
        pd.testing.assert_frame_equal(other.items.loc[base.items.index], base.items, atol=1e-10, rtol=0)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(a=_item_frames.filter(_usable), which=st.integers(0, 5))
def test_reversing_an_item_twice_is_identity(a, which):
    x = pd.DataFrame(a, columns=[f"i{j}" for j in range(a.shape[1])])
    item = x.columns[which % x.shape[1]]
    flipped = x.assign(**{item: 6 - x[item]})
    once = alpha(x, min=1, max=5)
    twice = alpha(flipped, reverse=[item], min=1, max=5)
    assert twice.alpha == pytest.approx(once.alpha, abs=1e-10)
    pd.testing.assert_frame_equal(twice.items, once.items, atol=1e-10, rtol=0)


# --------------------------------------------------------------------------------------------------
# split half and Guttman's lambdas
# --------------------------------------------------------------------------------------------------


def _split_cases():
    for name, ref in EXTRA["sets"].items():
        for mode in ("pairwise", "complete"):
            for covar in (False, True):
                yield pytest.param(name, mode, covar, id=f"{name}-{mode}-{'covar' if covar else 'cor'}")


@pytest.mark.parametrize(("name", "mode", "covar"), list(_split_cases()))
def test_split_half_matches_psych_splithalf(bfi, name, mode, covar):
    ref_set = EXTRA["sets"][name]
    ref = ref_set[f"{mode}_{'covar' if covar else 'cor'}"]
    x, rev = _scale(bfi, ref_set["items"])
    res = split_half(x, rev, min=1, max=6, covar=covar, nan_policy="pairwise" if mode == "pairwise" else "listwise")
    assert isinstance(res, SplitHalfResult)
    assert res.lambda2 == pytest.approx(ref["lambda2"], abs=TOL)
    assert res.lambda6 == pytest.approx(ref["lambda6"], abs=TOL)
    assert res.lambda3 == pytest.approx(ref["alpha"], abs=TOL)
    assert res.average_r == pytest.approx(ref["av_r"], abs=TOL)
    raw = np.asarray(ref["raw"])
    # every split psych examined is among ours, with the same coefficient
    assert np.abs(res.splits[:, None] - raw[None, :]).min(axis=0).max() < TOL
    assert res.exhaustive
    if len(ref_set["items"]) % 2 == 0:  # psych examines every split once: identical summaries
        assert res.n_splits == ref["n_splits"]
        assert res.max_split == pytest.approx(ref["maxrb"], abs=TOL)
        assert res.min_split == pytest.approx(ref["minrb"], abs=TOL)
        assert res.mean_split == pytest.approx(ref["meanr"], abs=TOL)
    else:  # psych stops half-way through the combinations; we examine all of them
        assert res.n_splits == math.comb(len(ref_set["items"]), len(ref_set["items"]) // 2) > ref["n_splits"]
        assert res.max_split >= ref["maxrb"] - TOL
        assert res.min_split <= ref["minrb"] + TOL


@pytest.mark.parametrize("name", list(EXTRA["sets"]))
def test_split_half_lambdas_match_psych_guttman(bfi, name):
    ref_set = EXTRA["sets"][name]
    ref = ref_set["guttman_complete"]
    x, rev = _scale(bfi, ref_set["items"])
    res = split_half(x, rev, min=1, max=6, nan_policy="listwise")
    for lam in ("lambda1", "lambda2", "lambda3", "lambda5", "lambda6"):
        assert getattr(res, lam) == pytest.approx(ref[lam], abs=TOL), lam
    if len(ref_set["items"]) % 2 == 0:
        assert res.lambda4 == pytest.approx(ref["lambda4"], abs=TOL)
    else:
        assert res.lambda4 >= ref["lambda4"] - TOL


def test_split_half_odd_even_by_hand_on_raw_half_scores(bfi):
    x, rev = _scale(bfi, EXPECTED["keys"]["neuroticism"] + EXPECTED["keys"]["openness"])
    keyed = x.dropna().astype(float)
    keyed[rev] = 7 - keyed[rev]
    res = split_half(x, rev, min=1, max=6, covar=True, nan_policy="listwise")
    odd = keyed.iloc[:, 0::2].sum(axis=1)
    even = keyed.iloc[:, 1::2].sum(axis=1)
    r = np.corrcoef(odd, even)[0, 1]
    assert res.odd_even_r == pytest.approx(r, abs=1e-12)
    assert res.odd_even == pytest.approx(2 * r / (1 + r), abs=1e-12)
    total = odd + even
    assert res.odd_even_guttman == pytest.approx(2 * (1 - (odd.var() + even.var()) / total.var()), abs=1e-12)
    first, second = keyed.iloc[:, :5].sum(axis=1), keyed.iloc[:, 5:].sum(axis=1)
    assert res.first_second_r == pytest.approx(np.corrcoef(first, second)[0, 1], abs=1e-12)


def test_split_half_consistent_with_alpha(bfi):
    x, rev = _scale(bfi, EXPECTED["keys"]["extraversion"])
    sh = split_half(x, rev, min=1, max=6)
    al = alpha(x, rev, min=1, max=6)
    assert sh.lambda3 == pytest.approx(al.std_alpha, abs=1e-12)
    assert sh.lambda6 == pytest.approx(al.g6, abs=1e-12)
    assert sh.min_split <= sh.odd_even_guttman <= sh.max_split
    assert sh.min_split <= sh.mean_split <= sh.max_split
    assert sh.lambda1 < sh.lambda3 <= sh.lambda2
    assert split_half(x, rev, min=1, max=6, covar=True).lambda3 == pytest.approx(al.alpha, abs=1e-12)
    assert sh.to_frame().set_index("statistic").loc["lambda4", "value"] == sh.lambda4


def test_split_half_samples_when_there_are_too_many_splits():
    rng = np.random.default_rng(3)
    t = rng.normal(size=(150, 1))
    x = pd.DataFrame(t + rng.normal(size=(150, 18)), columns=[f"i{j}" for j in range(18)])
    a = split_half(x, n_sample=500, random_state=1)
    b = split_half(x, n_sample=500, random_state=1)
    assert not a.exhaustive and a.n_splits == 500
    assert a.max_split == b.max_split  # reproducible with a seed
    full = split_half(x.iloc[:, :10])
    assert full.exhaustive and full.n_splits == math.comb(9, 4)
    with pytest.raises(ReliabilityInputError, match="at least 3"):
        split_half(x.iloc[:, :2])


# --------------------------------------------------------------------------------------------------
# ICC
# --------------------------------------------------------------------------------------------------


def _long(wide: pd.DataFrame) -> pd.DataFrame:
    return wide.rename_axis("target").reset_index().melt(id_vars="target", var_name="rater", value_name="y")


@pytest.fixture(scope="module")
def retest_long() -> pd.DataFrame:
    rt = pd.read_csv(REF / "retest.csv")
    return _long(rt[["anx.1", "anx.2"]])


def test_icc_matches_expected_json(retest_long):
    res = icc(retest_long, "target", "rater", "y")
    ref = EXPECTED["icc"]
    assert list(res.columns) == ["type", "icc", "f", "df1", "df2", "p", "ci_low", "ci_high"]
    assert res.attrs["n_targets"] == ref["n"]
    for row in res.itertuples():
        want = ref["table"][row.type]
        assert row.icc == pytest.approx(want["icc"], abs=TOL)
        assert row.ci_low == pytest.approx(want["lower"], abs=TOL)
        assert row.ci_high == pytest.approx(want["upper"], abs=TOL)


@pytest.mark.parametrize("case", ["retest", "three_raters"])
def test_icc_f_df_p_match_psych(bfi, case):
    ref = EXTRA["icc"][case]
    if case == "retest":
        wide = pd.read_csv(REF / "retest.csv")[["anx.1", "anx.2"]]
    else:
        wide = bfi.iloc[:80][["A2", "A3", "A4"]]  # one target has a missing rating: dropped, as na.omit
    res = icc(_long(wide), "target", "rater", "y")
    assert res.attrs["n_targets"] == ref["n"]
    assert res["type"].tolist() == ref["type"]
    for col, key in [("icc", "icc"), ("f", "f"), ("ci_low", "lower"), ("ci_high", "upper")]:
        np.testing.assert_allclose(res[col], ref[key], rtol=0, atol=TOL)
    np.testing.assert_array_equal(res["df1"], ref["df1"])
    np.testing.assert_array_equal(res["df2"], ref["df2"])
    np.testing.assert_allclose(res["p"], ref["p"], rtol=1e-6, atol=0)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_icc_ignores_row_order_of_the_long_frame(retest_long, seed):
    shuffled = retest_long.sample(frac=1.0, random_state=seed % (2**31))
    a = icc(retest_long, "target", "rater", "y")
    b = icc(shuffled, "target", "rater", "y")
    pd.testing.assert_frame_equal(a, b, atol=1e-12, rtol=0)


def test_icc_rejects_bad_input(retest_long):
    with pytest.raises(ReliabilityInputError, match="more than once"):
        icc(pd.concat([retest_long, retest_long.iloc[:1]]), "target", "rater", "y")
    with pytest.raises(ReliabilityInputError, match="not in frame"):
        icc(retest_long, "target", "who", "y")
    with pytest.raises(ReliabilityInputError, match="at least 2 raters"):
        icc(retest_long[retest_long["rater"] == "anx.1"], "target", "rater", "y")


# --------------------------------------------------------------------------------------------------
# SEM and reliable change (Jacobson and Truax 1991, p. 14: SE = s1 sqrt(1 - rxx), S_diff = sqrt(2 SE^2),
# RC = (x2 - x1) / S_diff, reliable when |RC| > 1.96)
# --------------------------------------------------------------------------------------------------


def test_sem_by_hand():
    assert sem(10.0, 0.75) == pytest.approx(5.0, abs=1e-12)  # 10 * sqrt(0.25)
    assert sem(15.0, 0.64) == pytest.approx(9.0, abs=1e-12)  # 15 * sqrt(0.36)
    np.testing.assert_allclose(sem([10.0, 15.0], [0.75, 0.64]), [5.0, 9.0], atol=1e-12)
    with pytest.raises(ReliabilityInputError):
        sem(10, 1.2)


def test_sem_band_by_hand():
    s = pd.Series([50.0, 62.0], index=["p1", "p2"])
    band = sem_band(s, sd=10, reliability=0.75, ci=0.95)
    z = 1.959963984540054
    assert band.index.tolist() == ["p1", "p2"]
    np.testing.assert_allclose(band["low"], [50 - 5 * z, 62 - 5 * z], atol=1e-9)
    np.testing.assert_allclose(band["high"], [50 + 5 * z, 62 + 5 * z], atol=1e-9)


def test_reliable_change_by_hand():
    # sd 10, r .75: SE = 5, S_diff = sqrt(2 * 25) = 7.0710678; cut 1.96
    x1 = pd.Series([20.0, 20.0, 20.0, 20.0, np.nan], index=list("abcde"))
    x2 = pd.Series([5.0, 25.0, 35.0, 33.0, 10.0], index=list("abcde"))
    res = reliable_change(x1, x2, reliability=0.75, sd=10)
    np.testing.assert_allclose(res["rci"].iloc[:4], [-15 / 7.0710678118654755, 5 / 7.0710678118654755,
                                                     15 / 7.0710678118654755, 13 / 7.0710678118654755], atol=1e-12)
    assert res["category"].iloc[:4].tolist() == [
        "reliable improvement", "no reliable change", "reliable deterioration", "no reliable change",
    ]
    assert pd.isna(res["category"].iloc[4]) and np.isnan(res["rci"].iloc[4])
    assert res.index.tolist() == list("abcde")
    # 13 / 7.071 = 1.838 > 1.645: reliable at the 90 per cent level
    assert reliable_change([20.0], [33.0], 0.75, 10, ci=0.90)["category"].iloc[0] == "reliable deterioration"
    # a scale where higher is better: the fall of 15 is a deterioration
    flip = reliable_change(x1, x2, reliability=0.75, sd=10, higher_is_worse=False)
    assert flip["category"].iloc[0] == "reliable deterioration"
    assert flip["category"].iloc[2] == "reliable improvement"


@settings(max_examples=50, deadline=None)
@given(
    a=arrays(np.float64, 8, elements=st.floats(0, 100)),
    b=arrays(np.float64, 8, elements=st.floats(0, 100)),
    r=st.floats(0.0, 0.99),
)
def test_reliable_change_is_antisymmetric(a, b, r):
    fwd = reliable_change(a, b, r, 7.5)
    back = reliable_change(b, a, r, 7.5)
    np.testing.assert_allclose(fwd["rci"], -back["rci"], atol=1e-12)
    swap = {"reliable improvement": "reliable deterioration", "reliable deterioration": "reliable improvement"}
    assert back["category"].tolist() == [swap.get(c, c) for c in fwd["category"]]


def test_reliable_change_rejects_bad_input():
    with pytest.raises(ReliabilityInputError, match="equal length"):
        reliable_change([1, 2], [1, 2, 3], 0.8, 5)
    with pytest.raises(ReliabilityInputError, match="sd"):
        reliable_change([1], [2], 0.8, 0)
    with pytest.raises(ReliabilityInputError, match="undefined"):
        reliable_change([1], [2], 1.0, 5)
    with pytest.raises(ReliabilityInputError, match="different indexes"):
        reliable_change(pd.Series([1.0, 2.0], index=[1, 2]), pd.Series([1.0, 2.0], index=[2, 1]), 0.8, 5)


# --------------------------------------------------------------------------------------------------
# item analysis
# --------------------------------------------------------------------------------------------------


def _groups(total: np.ndarray, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    g = math.ceil(fraction * len(total))
    s = np.sort(total)
    return total >= s[len(total) - g], total <= s[g - 1]


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("equal_var", [True, False])
def test_item_analysis_matches_scipy_and_psych(bfi, scale, equal_var):
    x, rev = _scale(bfi, EXPECTED["keys"][scale])
    res = item_analysis(x, rev, min=1, max=6, equal_var=equal_var)
    assert isinstance(res, ItemAnalysisResult)
    ref = EXPECTED["alpha"][scale]["complete"]
    assert res.n == ref["n"] and res.n_dropped == len(x) - ref["n"]
    assert res.alpha == pytest.approx(ref["raw_alpha"], abs=TOL)
    keyed = x.dropna().astype(float)
    keyed[rev] = 7 - keyed[rev]
    high, low = _groups(keyed.sum(axis=1).to_numpy(), 0.27)
    assert (res.n_high, res.n_low) == (high.sum(), low.sum())
    for item in x.columns:
        row = res.items.loc[item]
        t = stats.ttest_ind(keyed[item][high], keyed[item][low], equal_var=equal_var)
        assert row["cr"] == pytest.approx(t.statistic, abs=1e-9)
        assert row["cr_p"] == pytest.approx(t.pvalue, rel=1e-6, abs=1e-300)
        assert row["cr_df"] == pytest.approx(t.df, abs=1e-9)
        assert row["r_drop"] == pytest.approx(ref["r_drop"][item], abs=TOL)
        assert row["alpha_if_dropped"] == pytest.approx(ref["alpha_if_dropped"][item], abs=TOL)
        counts = keyed[item].value_counts(normalize=True)
        assert row["floor"] == pytest.approx(counts.get(1.0, 0.0), abs=1e-12)
        assert row["ceiling"] == pytest.approx(counts.get(6.0, 0.0), abs=1e-12)
        for code in range(1, 7):
            assert row[f"prop_{code}"] == pytest.approx(counts.get(float(code), 0.0), abs=1e-12)
    props = res.items[[f"prop_{c}" for c in range(1, 7)]].sum(axis=1)
    np.testing.assert_allclose(props, 1.0, atol=1e-12)


def test_item_analysis_flags_unkeyed_reverse_item(bfi):
    x, _ = _scale(bfi, EXPECTED["keys"]["agree"])
    res = item_analysis(x, min=1, max=6)  # A1 is reverse-worded but left unkeyed here
    assert res.items.loc["A1", "r_drop"] < 0
    flagged = [w for w in res.warnings if "looks reverse-keyed" in w]
    assert len(flagged) == 1 and flagged[0].startswith("A1:")
    keyed = item_analysis(x, ["A1"], min=1, max=6)
    assert not any("reverse" in w for w in keyed.warnings)
    wrongly = item_analysis(x, ["A1", "A2"], min=1, max=6)  # A2 reversed by mistake
    assert any(w.startswith("A2:") and "after reversing" in w for w in wrongly.warnings)
    assert res.to_frame() is res.items and "ItemAnalysisResult" in res._repr_html_()


def test_item_analysis_includes_ties_at_the_cut():
    x = pd.DataFrame(
        {"a": [1, 1, 2, 2, 3, 3, 4, 4, 5, 5], "b": [1, 2, 1, 2, 3, 3, 4, 5, 4, 5], "c": [1, 1, 2, 3, 3, 3, 5, 4, 5, 4]}
    )
    res = item_analysis(x, min=1, max=5, group_fraction=0.27)
    total = x.sum(axis=1)  # 3, 4, 5, 7, 9, 9, 13, 13, 14, 14; g = ceil(2.7) = 3
    assert (res.cut_low, res.cut_high) == (5.0, 13.0)
    assert (res.n_low, res.n_high) == ((total <= 5).sum(), (total >= 13).sum()) == (3, 4)
    with pytest.raises(ReliabilityInputError, match="group_fraction"):
        item_analysis(x, group_fraction=0.6)


def test_omega_is_reachable_from_reliability():
    import psyscreen.omega
    import psyscreen.reliability

    assert psyscreen.reliability.omega is psyscreen.omega.omega
