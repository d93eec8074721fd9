"""The scoring engine: parity with R psych, hand-worked PHQ-9 / GAD-7 sheets, missing data, properties."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import psyscreen
from psyscreen.scoring import MissingColumnsError, ResponseError

from .sheets import answer_sheet


sheet = answer_sheet  # (instrument, number of items, rows of answers; None = not answered)


# ---- parity with psych::scoreItems --------------------------------------------------------------

def test_score_items_equals_psych_scoreitems(reference_dir, expected):
    items = pd.read_csv(reference_dir / "items.csv")
    ref = pd.read_csv(reference_dir / "scale_means.csv")
    keys = expected["keys"]
    ours = psyscreen.score_items(items, keys, min=expected["item_min"], max=expected["item_max"])
    for scale in keys:
        np.testing.assert_array_equal(ours[scale].isna().to_numpy(), ref[scale].isna().to_numpy())
        np.testing.assert_allclose(ours[scale].to_numpy(), ref[scale].to_numpy(), atol=1e-9, rtol=0, equal_nan=True)
    assert ours.index.equals(items.index)


def test_score_items_sum_is_keyed_sum_and_never_silently_smaller(reference_dir, expected):
    items = pd.read_csv(reference_dir / "items.csv")
    keys = expected["keys"]
    sums = psyscreen.score_items(items, keys, min=1, max=6, method="sum")
    means = psyscreen.score_items(items, keys, min=1, max=6)
    cols = [k.lstrip("-") for k in keys["agree"]]
    complete = items[cols].notna().all(axis=1)
    # complete rows: the sum of the keyed answers, A1 reversed as 7 - x (expected.json keys, min 1, max 6)
    manual = (7 - items["A1"]) + items[["A2", "A3", "A4", "A5"]].sum(axis=1)
    np.testing.assert_allclose(sums.loc[complete, "agree"], manual[complete])
    # an incomplete row has no sum unless min_answered allows a prorated one
    assert sums.loc[~complete, "agree"].isna().all()
    prorated = psyscreen.score_items(items, keys, min=1, max=6, method="sum", min_answered=4)
    partial = items[cols].notna().sum(axis=1) == 4
    assert partial.any()
    np.testing.assert_allclose(prorated.loc[partial, "agree"], means.loc[partial, "agree"] * 5)


# ---- PHQ-9 hand-worked sheets (bands: CamCOPS phq9.py severity(), >=5 mild, >=10 moderate, >=15, >=20) ----

@pytest.mark.parametrize(
    "answers, total, band",
    [
        ([0] * 9, 0, "minimal"),                        # all minimum
        ([3] * 9, 27, "severe"),                        # all maximum: 9 x 3
        ([1, 1, 1, 1, 0, 0, 0, 0, 0], 4, "minimal"),    # 4 < 5
        ([1, 1, 1, 1, 1, 0, 0, 0, 0], 5, "mild"),       # 5 >= 5
        ([2, 2, 2, 1, 1, 1, 0, 0, 0], 9, "mild"),       # 9 < 10
        ([2, 2, 2, 2, 1, 1, 0, 0, 0], 10, "moderate"),  # 10 >= 10
        ([2, 2, 2, 2, 2, 2, 2, 0, 0], 14, "moderate"),  # 14 < 15
        ([3, 3, 3, 2, 2, 2, 0, 0, 0], 15, "moderately_severe"),
        ([3, 3, 3, 3, 3, 3, 1, 0, 0], 19, "moderately_severe"),
        ([3, 3, 3, 3, 3, 3, 2, 0, 0], 20, "severe"),    # 20 >= 20
    ],
)
def test_phq9_band_boundaries(answers, total, band):
    out = psyscreen.score(sheet("phq9", 9, [answers]), "phq9")
    assert out.loc[0, "phq9.total"] == total
    assert out.loc[0, "phq9.total.band"] == band
    assert out.loc[0, "phq9.total.answered"] == 9


@pytest.mark.parametrize("item9, critical", [(0, False), (1, True), (2, True), (3, True)])
def test_phq9_item9_is_critical_at_one_or_more(item9, critical):
    # MII FHIR IG: any positive response (>= 1) to item 9 requires immediate evaluation, whatever the total
    out = psyscreen.score(sheet("phq9", 9, [[0] * 8 + [item9]]), "phq9")
    assert bool(out.loc[0, "phq9.critical"]) is critical
    assert (out.loc[0, "phq9.critical_items"] == f"9={item9}") if critical else pd.isna(out.loc[0, "phq9.critical_items"])


def test_phq9_critical_unknown_when_item9_missing_and_nothing_else_fired():
    out = psyscreen.score(sheet("phq9", 9, [[1] * 8 + [None]]), "phq9")
    assert pd.isna(out.loc[0, "phq9.critical"])


def test_phq9_prorating_limit():
    # qscorer / Arrieta 2017: score when at most 2 of 9 items are missing, missing = mean of answered
    two_missing = [2, 2, 2, 2, 2, 2, 2, None, None]   # 7 answered, mean 2 -> 2 x 9 = 18
    three_missing = [2, 2, 2, 2, 2, 2, None, None, None]  # 6 answered -> not scored
    uneven = [3, 3, 3, 0, 0, 0, 1, None, 0]            # 8 answered, sum 10, mean 1.25 -> 11.25
    out = psyscreen.score(sheet("phq9", 9, [two_missing, three_missing, uneven]), "phq9")
    assert out.loc[0, "phq9.total"] == 18
    assert out.loc[0, "phq9.total.band"] == "moderately_severe"
    assert np.isnan(out.loc[1, "phq9.total"])
    assert pd.isna(out.loc[1, "phq9.total.band"])
    assert out.loc[1, "phq9.incomplete"] == "total: 6 item(s) answered, needs 7 of 9 answered"
    assert out.loc[2, "phq9.total"] == pytest.approx(11.25)
    assert out.loc[2, "phq9.total.band"] == "moderate"
    assert pd.isna(out.loc[0, "phq9.incomplete"])


def test_phq9_major_depressive_syndrome_algorithm():
    # CamCOPS is_mds: >=1 core item (1 or 2) at >=2, and >=5 counted symptoms (items 1-8 at >=2, item 9 at >=1)
    core_plus_four = [2, 0, 2, 2, 2, 0, 0, 0, 1]   # core 1, count = 1+3 (items 3,4,5) + item 9 = 5
    no_core = [1, 1, 2, 2, 2, 2, 2, 2, 1]          # count 7 but no core item at >= 2
    four_only = [2, 2, 2, 2, 0, 0, 0, 0, 0]        # count 4
    out = psyscreen.score(sheet("phq9", 9, [core_plus_four, no_core, four_only]), "phq9")
    assert out["phq9.major_depressive_syndrome"].tolist() == [True, False, False]


# ---- GAD-7 (CamCOPS gad7.py severity(): >=5 mild, >=10 moderate, >=15 severe) -----------------------

@pytest.mark.parametrize(
    "answers, total, band",
    [
        ([0] * 7, 0, "minimal"),
        ([3] * 7, 21, "severe"),
        ([1, 1, 1, 1, 0, 0, 0], 4, "minimal"),
        ([1, 1, 1, 1, 1, 0, 0], 5, "mild"),
        ([2, 2, 2, 1, 1, 1, 0], 9, "mild"),
        ([2, 2, 2, 2, 1, 1, 0], 10, "moderate"),
        ([2, 2, 2, 2, 2, 2, 2], 14, "moderate"),
        ([3, 3, 3, 2, 2, 2, 0], 15, "severe"),
    ],
)
def test_gad7_band_boundaries(answers, total, band):
    out = psyscreen.score(sheet("gad7", 7, [answers]), "gad7")
    assert out.loc[0, "gad7.total"] == total
    assert out.loc[0, "gad7.total.band"] == band


def test_gad7_needs_every_item_missing_is_never_zero():
    out = psyscreen.score(sheet("gad7", 7, [[3, 3, 3, 3, 3, 3, None]]), "gad7")
    assert np.isnan(out.loc[0, "gad7.total"])
    assert out.loc[0, "gad7.total.answered"] == 6
    assert "needs 7 of 7" in out.loc[0, "gad7.incomplete"]


# ---- errors and contracts ----------------------------------------------------------------------

def test_out_of_range_answer_is_not_clipped():
    frame = sheet("gad7", 7, [[1] * 7, [1, 1, 1, 4, 1, 1, 1]])
    with pytest.raises(ResponseError) as err:
        psyscreen.score(frame, "gad7")
    assert "gad7.4" in str(err.value) and "4" not in str(err.value).split("columns:")[0].replace("gad7", "")
    result = psyscreen.score_with_quarantine(frame, "gad7")
    assert result.scores.index.tolist() == [0]
    q = result.quarantine
    assert q[["row", "column", "value"]].values.tolist() == [[1, "gad7.4", "4.0"]]
    assert "not a response code" in q.loc[0, "reason"]


def test_missing_item_column_is_located():
    frame = sheet("phq9", 9, [[0] * 9]).drop(columns=["phq9.3"])
    with pytest.raises(MissingColumnsError, match=r"phq9: 1 item column\(s\) missing: phq9.3"):
        psyscreen.score(frame, "phq9")


def test_index_is_kept_and_two_instruments_side_by_side():
    frame = pd.concat([sheet("phq9", 9, [[1] * 9, [0] * 9]), sheet("gad7", 7, [[2] * 7, [0] * 7])], axis=1)
    frame.index = pd.Index(["s-17", "s-03"], name="student")
    out = psyscreen.score(frame, ["phq9", "gad7"])
    assert out.index.equals(frame.index)
    assert out.loc["s-17", "phq9.total"] == 9 and out.loc["s-17", "gad7.total"] == 14


def test_unscored_item_is_optional_and_ignored():
    frame = sheet("phq9", 9, [[1] * 9])
    frame["phq9.10"] = [3.0]
    assert psyscreen.score(frame, "phq9").loc[0, "phq9.total"] == 9


# ---- properties --------------------------------------------------------------------------------

answers = hnp.arrays(
    np.float64, st.tuples(st.integers(1, 30), st.just(9)),
    elements=st.sampled_from([0.0, 1.0, 2.0, 3.0, np.nan]),
)


@settings(max_examples=60, deadline=None)
@given(answers, st.randoms(use_true_random=False))
def test_shuffling_rows_or_columns_changes_no_score(X, rnd):
    frame = pd.DataFrame(X, columns=[f"phq9.{i}" for i in range(1, 10)])
    base = psyscreen.score(frame, "phq9")
    rows = list(frame.index)
    cols = list(frame.columns)
    rnd.shuffle(rows)
    rnd.shuffle(cols)
    shuffled = psyscreen.score(frame.loc[rows, cols], "phq9")
    pd.testing.assert_frame_equal(shuffled.loc[base.index], base)


@settings(max_examples=60, deadline=None)
@given(answers)
def test_scores_stay_within_the_scale_range(X):
    out = psyscreen.score(pd.DataFrame(X, columns=[f"phq9.{i}" for i in range(1, 10)]), "phq9")
    t = out["phq9.total"].dropna()
    assert ((t >= 0) & (t <= 27)).all()
    assert (out["phq9.total"].isna() == (np.sum(~np.isnan(X), axis=1) < 7)).all()


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.float64, st.tuples(st.integers(1, 25), st.just(7)),
                  elements=st.sampled_from([0.0, 1.0, 2.0, 3.0, 5.0, -1.0, np.nan])))
def test_rows_in_equal_rows_scored_plus_quarantined(X):
    frame = pd.DataFrame(X, columns=[f"gad7.{i}" for i in range(1, 8)])
    result = psyscreen.score_with_quarantine(frame, "gad7")
    assert len(result.scores) + result.n_quarantined == len(frame)
    assert set(result.scores.index).isdisjoint(set(result.quarantine["row"]))


def test_positive_mean_without_positive_answers_is_undefined_not_incomplete():
    # SCL-90 PSDI = mean of the items >= 2 (research/instruments.md 2); with no such item it is undefined
    frame = pd.DataFrame([[1.0] * 90], columns=[f"scl90.{i}" for i in range(1, 91)])
    out = psyscreen.score(frame, "scl90")
    assert np.isnan(out.loc[0, "scl90.psdi"]) and out.loc[0, "scl90.pst"] == 0
    assert out.loc[0, "scl90.incomplete"] == "psdi: no answer >= 2, undefined"


@pytest.mark.parametrize("bad", [4.0, -1.0, 2.5, 300.0, 1e20, np.inf, -0.5])
def test_every_kind_of_invalid_number_is_caught(bad):
    # the fast validity check (an int8 round trip) must reject fractions, negatives, overflows and infinities
    frame = sheet("phq9", 9, [[1] * 9, [1] * 9])
    frame.loc[1, "phq9.4"] = bad
    result = psyscreen.score_with_quarantine(frame, "phq9")
    assert result.scores.index.tolist() == [0]
    assert result.quarantine["column"].tolist() == ["phq9.4"]


def test_reverse_keys_and_validity_on_a_reversed_item(tmp_path):
    # CES-D reverses items 4, 8, 12, 16 as 3 - x (CamCOPS cesd.py); a reversed out-of-range code is still caught
    frame = pd.DataFrame([[0.0] * 20], columns=[f"cesd.{i}" for i in range(1, 21)])
    assert psyscreen.score(frame, "cesd").loc[0, "cesd.total"] == 12  # 4 reversed items x 3
    frame.loc[0, "cesd.8"] = 4
    assert psyscreen.score_with_quarantine(frame, "cesd").n_quarantined == 1


def test_scale_mixing_response_ranges_and_reversals():
    # items 1-2 coded 0-3, items 3-4 coded 1-5 (item 4 reversed: 6 - x); sum and prorated mean by hand
    from psyscreen.instrument import Instrument

    inst = Instrument.model_validate({
        "id": "mix", "version": "1", "name": {"zh": "混合", "en": "mix"}, "source": "test",
        "licence": {"text_redistributable": False, "note": "test"}, "population": "test",
        "responses": [{"code": c, "zh": str(c), "en": str(c)} for c in range(4)],
        "response_sets": {"five": [{"code": c, "zh": str(c), "en": str(c)} for c in range(1, 6)]},
        "items": ["1-2", {"number": 3, "responses": "five"}, {"number": 4, "responses": "five", "reverse": True}],
        "scales": [{"id": "total", "name": {"zh": "总", "en": "total"}, "items": ["1-4"],
                    "missing": {"min_answered": 3, "prorate": True}}],
    })
    frame = sheet("mix", 4, [[3, 0, 5, 1], [2, None, 1, 5], [0, 0, 1, 0]])
    result = psyscreen.score_with_quarantine(frame, inst)
    total = result.scores["mix.total"]
    assert total[0] == 3 + 0 + 5 + (6 - 1)  # 13
    assert total[1] == pytest.approx((2 + 1 + (6 - 5)) / 3 * 4)  # 3 answered, prorated: 16 / 3
    assert result.quarantine["column"].tolist() == ["mix.4"]  # 0 is not a code of the 1-5 item
