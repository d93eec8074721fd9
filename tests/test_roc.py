"""ROC: AUC, DeLong CI and Youden cut-off against pROC, plus brute-force and property checks."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from psyscreen.validity.roc import ROCInputError, ROCResult, roc

REF = Path(__file__).resolve().parents[2] / "shared" / "reference"


@pytest.fixture(scope="module")
def ref():
    data = pd.read_csv(REF / "roc.csv")
    expected = json.loads((REF / "expected.json").read_text(encoding="utf-8"))["roc"]
    return data, expected


def test_matches_proc(ref):
    data, e = ref
    res = roc(data["score"], data["criterion"], n_boot=0)
    assert res.n_cases + res.n_controls == e["n"]
    assert res.auc == pytest.approx(e["auc"], abs=1e-6)
    assert res.auc_ci == pytest.approx(tuple(e["auc_ci_delong"]), abs=1e-6)
    assert res.youden.threshold == pytest.approx(e["youden"]["threshold"], abs=1e-6)
    assert res.youden.sensitivity == pytest.approx(e["youden"]["sensitivity"], abs=1e-6)
    assert res.youden.specificity == pytest.approx(e["youden"]["specificity"], abs=1e-6)
    assert res.youden_ci is None
    assert res.n_dropped == 0


def test_direction_greater_on_negated_score_mirrors(ref):
    data, e = ref
    res = roc(-data["score"], data["criterion"], direction=">", n_boot=0)
    assert res.auc == pytest.approx(e["auc"], abs=1e-6)
    assert res.youden.threshold == pytest.approx(-e["youden"]["threshold"], abs=1e-6)
    assert res.youden.sensitivity == pytest.approx(e["youden"]["sensitivity"], abs=1e-6)
    assert roc(-data["score"], data["criterion"], direction="auto", n_boot=0).direction == ">"
    assert roc(data["score"], data["criterion"], direction="auto", n_boot=0).direction == "<"


def _brute(score, crit):
    """O(n^2) Mann-Whitney AUC and DeLong variance straight from the definitions."""
    x = score[crit == 1]
    y = score[crit == 0]
    psi = (x[:, None] > y[None, :]) + 0.5 * (x[:, None] == y[None, :])
    auc = psi.mean()
    v10 = psi.mean(axis=1)
    v01 = psi.mean(axis=0)
    var = (v10.var(ddof=1) / x.size if x.size > 1 else 0.0) + (v01.var(ddof=1) / y.size if y.size > 1 else 0.0)
    return auc, var


def test_against_brute_force_and_mann_whitney():
    rng = np.random.default_rng(3)
    score = rng.integers(0, 12, size=300).astype(float)  # many ties
    crit = (rng.random(300) < 0.3 + 0.04 * score).astype(int)
    res = roc(score, crit, n_boot=0)
    auc, var = _brute(score, crit)
    assert res.auc == pytest.approx(auc, abs=1e-12)
    assert res.auc_se == pytest.approx(np.sqrt(var), abs=1e-12)
    u = stats.mannwhitneyu(score[crit == 1], score[crit == 0]).statistic
    assert res.auc == pytest.approx(u / (res.n_cases * res.n_controls), abs=1e-12)
    z = stats.norm.ppf(0.975)
    assert res.auc_ci == pytest.approx((auc - z * np.sqrt(var), auc + z * np.sqrt(var)), abs=1e-12)


def test_table_every_cut_by_hand():
    score = np.array([1, 2, 3, 4, 5, 6], dtype=float)
    crit = np.array([0, 0, 1, 0, 1, 1])
    res = roc(score, crit, n_boot=0)
    t = res.table
    assert t["threshold"].tolist() == [-np.inf, 1.5, 2.5, 3.5, 4.5, 5.5, np.inf]
    for _, row in t.iterrows():
        pos = score > row["threshold"]
        tp = np.sum(pos & (crit == 1))
        fp = np.sum(pos & (crit == 0))
        tn = np.sum(~pos & (crit == 0))
        fn = np.sum(~pos & (crit == 1))
        assert row["sensitivity"] == pytest.approx(tp / 3)
        assert row["specificity"] == pytest.approx(tn / 3)
        assert row["youden_j"] == pytest.approx(tp / 3 + tn / 3 - 1)
        if tp + fp:
            assert row["ppv"] == pytest.approx(tp / (tp + fp))
        else:
            assert np.isnan(row["ppv"])
        if tn + fn:
            assert row["npv"] == pytest.approx(tn / (tn + fn))
        else:
            assert np.isnan(row["npv"])
    assert res.auc == pytest.approx(8 / 9)
    # J ties at 2.5 and 4.5 (both 2/3): the lower is reported and the tie is counted
    assert res.youden.threshold == 2.5
    assert res.youden.n_tied == 2


def test_missing_values_dropped_and_counted():
    score = pd.Series([1.0, 2.0, np.nan, 4.0, 5.0, 6.0, 3.0])
    crit = pd.Series([0, 0, 1, 0, 1, 1, np.nan])
    res = roc(score, crit, n_boot=0)
    assert res.n_dropped == 2
    assert (res.n_cases, res.n_controls) == (2, 3)
    full = roc(score.dropna().iloc[:-1], crit.iloc[[0, 1, 3, 4, 5]], n_boot=0)
    assert res.auc == full.auc


def test_bad_input_raises_typed_errors():
    with pytest.raises(ROCInputError, match="0 \\(control\\) / 1"):
        roc([1, 2, 3], [0, 1, 2], n_boot=0)
    with pytest.raises(ROCInputError, match="both cases and controls"):
        roc([1, 2, 3], [1, 1, 1], n_boot=0)
    with pytest.raises(ROCInputError, match="length"):
        roc([1, 2, 3], [0, 1], n_boot=0)
    with pytest.raises(ROCInputError, match="direction"):
        roc([1, 2, 3], [0, 1, 1], direction="up", n_boot=0)
    with pytest.raises(ROCInputError, match="numeric"):
        roc(["a", "b"], [0, 1], n_boot=0)
    with pytest.raises(ValueError):  # ROCInputError is a ValueError
        roc([1, 2, 3], [0, 1, 1], ci=95)


def test_bootstrap_replicates_match_roc_on_the_resample():
    """The vectorised bootstrap gives, per replicate, what roc() gives on that resample."""
    roc_module = importlib.import_module("psyscreen.validity.roc")  # the module, not the function

    rng_data = np.random.default_rng(11)
    score = np.round(rng_data.normal(size=120), 1)
    crit = (rng_data.random(120) < stats.norm.cdf(score)).astype(int)
    uniq = np.unique(score)
    idx = np.searchsorted(uniq, score)
    ci_, co_ = idx[crit == 1], idx[crit == 0]
    b = 40
    thr, sens, spec = roc_module._bootstrap_youden(ci_, co_, uniq, b, np.random.default_rng(5))
    # redraw the same indices as the implementation does (cases then controls, one chunk)
    rng = np.random.default_rng(5)
    dc = rng.integers(0, ci_.size, size=(b, ci_.size))
    dn = rng.integers(0, co_.size, size=(b, co_.size))
    xc, xn = score[crit == 1], score[crit == 0]
    for r in range(b):
        s = np.concatenate([xc[dc[r]], xn[dn[r]]])
        c = np.concatenate([np.ones(ci_.size), np.zeros(co_.size)])
        one = roc(s, c, n_boot=0)
        assert thr[r] == pytest.approx(one.youden.threshold, abs=1e-12)
        assert sens[r] == pytest.approx(one.youden.sensitivity, abs=1e-12)
        assert spec[r] == pytest.approx(one.youden.specificity, abs=1e-12)


def test_bootstrap_ci_seeded(ref):
    data, _ = ref
    a = roc(data["score"], data["criterion"], n_boot=300, seed=7)
    b = roc(data["score"], data["criterion"], n_boot=300, seed=7)
    c = roc(data["score"], data["criterion"], n_boot=300, seed=8)
    assert a.youden_ci == b.youden_ci
    assert a.youden_ci != c.youden_ci
    lo, hi = a.youden_ci.threshold
    assert lo <= a.youden.threshold <= hi
    assert data["score"].min() < lo <= hi < data["score"].max()
    assert a.youden_ci.n_boot == 300
    slo, shi = a.youden_ci.sensitivity
    assert 0 <= slo <= shi <= 1


def test_result_is_frozen_with_frame_and_html(ref):
    data, _ = ref
    res = roc(data["score"], data["criterion"], n_boot=50, seed=1)
    assert isinstance(res, ROCResult)
    with pytest.raises(AttributeError):
        res.auc = 0.5
    frame = res.to_frame()
    assert frame.loc["auc", "estimate"] == res.auc
    assert frame.loc["auc", "ci_low"] == res.auc_ci[0]
    assert frame.loc["threshold", "ci_high"] == res.youden_ci.threshold[1]
    assert "ROCResult" in res._repr_html_()


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 20), st.booleans()), min_size=2, max_size=60).filter(
        lambda v: 0 < sum(c for _, c in v) < len(v)
    )
)
def test_properties(pairs):
    score = np.array([p[0] for p in pairs], dtype=float)
    crit = np.array([p[1] for p in pairs])
    res = roc(score, crit, n_boot=0)
    auc, _ = _brute(score, crit.astype(int))
    assert res.auc == pytest.approx(auc, abs=1e-12)
    assert 0 <= res.auc_ci[0] <= res.auc <= res.auc_ci[1] <= 1
    flipped = roc(-score, crit, n_boot=0)
    assert flipped.auc == pytest.approx(1 - res.auc, abs=1e-12)
    t = res.table
    assert t["sensitivity"].is_monotonic_decreasing
    assert t["specificity"].is_monotonic_increasing
    assert res.youden.youden_j == pytest.approx(t["youden_j"].max())
