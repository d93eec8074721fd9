"""SCL-90: hand-worked answer sheets traced to research/instruments.md section 2 (and 7).

Every expected number below follows from the rule quoted beside it (1-5 coding), not from running psyscreen.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from psyscreen import scoring
from psyscreen.instrument import load_instrument

from ..sheets import answer_sheet

ID = "scl90"

# research/instruments.md section 2, "Factor item map" table, copied out independently of the YAML.
SOURCE_MAP = {
    "somatization": [1, 4, 12, 27, 40, 42, 48, 49, 52, 53, 56, 58],
    "obsessive_compulsive": [3, 9, 10, 28, 38, 45, 46, 51, 55, 65],
    "interpersonal_sensitivity": [6, 21, 34, 36, 37, 41, 61, 69, 73],
    "depression": [5, 14, 15, 20, 22, 26, 29, 30, 31, 32, 54, 71, 79],
    "anxiety": [2, 17, 23, 33, 39, 57, 72, 78, 80, 86],
    "hostility": [11, 24, 63, 67, 74, 81],
    "phobic_anxiety": [13, 25, 47, 50, 70, 75, 82],
    "paranoid_ideation": [8, 18, 43, 68, 76, 83],
    "psychoticism": [7, 16, 35, 62, 77, 84, 85, 87, 88, 90],
    "additional": [19, 44, 59, 60, 64, 66, 89],
}
SOURCE_COUNTS = {"somatization": 12, "obsessive_compulsive": 10, "interpersonal_sensitivity": 9, "depression": 13,
                 "anxiety": 10, "hostility": 6, "phobic_anxiety": 7, "paranoid_ideation": 6, "psychoticism": 10,
                 "additional": 7}
NINE = [f for f in SOURCE_MAP if f != "additional"]


def sheet(rows) -> pd.DataFrame:
    return answer_sheet(ID, 90, rows)


def ones(n=1) -> np.ndarray:
    return np.ones((n, 90))


def put(row, items, value):
    row[np.asarray(items) - 1] = value
    return row


def score(rows):
    return scoring.score(sheet(rows), [ID])


def test_item_map_partitions_items_as_the_source_table():
    inst = load_instrument(ID)
    for factor, items in SOURCE_MAP.items():
        assert len(items) == SOURCE_COUNTS[factor]
        assert sorted(inst.scale(factor).item_numbers) == sorted(items), factor
        assert inst.scale(factor).method == "mean"
    every = sorted(n for items in SOURCE_MAP.values() for n in items)
    assert every == list(range(1, 91))  # "Counts sum to 90": each item in exactly one group
    for s in ("total", "gsi", "pst", "psdi"):
        assert inst.scale(s).item_numbers == tuple(range(1, 91))
    assert [o.code for o in inst.responses] == [1, 2, 3, 4, 5]
    assert not inst.licence.text_redistributable
    assert all(it.zh is None and it.en is None for it in inst.item_list)


def test_all_minimum():
    out = score(ones())
    for f in SOURCE_MAP:
        assert out[f"{ID}.{f}"].iloc[0] == 1.0            # mean of 1s
    assert out[f"{ID}.total"].iloc[0] == 90.0             # 90 x 1
    assert out[f"{ID}.gsi"].iloc[0] == 1.0                # 90 / 90
    assert out[f"{ID}.pst"].iloc[0] == 0.0                # no item >= 2
    assert np.isnan(out[f"{ID}.psdi"].iloc[0])            # (90 - 90) / 0: undefined
    assert out[f"{ID}.positive_screen"].tolist() == [False]


def test_all_maximum():
    out = score(5 * ones())
    for f in SOURCE_MAP:
        assert out[f"{ID}.{f}"].iloc[0] == 5.0
    assert out[f"{ID}.total"].iloc[0] == 450.0            # 90 x 5
    assert out[f"{ID}.gsi"].iloc[0] == 5.0
    assert out[f"{ID}.pst"].iloc[0] == 90.0
    assert out[f"{ID}.psdi"].iloc[0] == 5.0               # (450 - 0) / 90
    assert out[f"{ID}.positive_screen"].tolist() == [True]


def test_total_boundary_160_vs_161():
    # Extra points over the all-1 baseline (90), keeping every one of the nine factors below 2 and PST <= 43:
    base = ones()[0]
    put(base, [19, 44, 59, 60, 64, 66, 89], 5)   # additional: 7 x 4 = 28 extra (does not count as a factor)
    put(base, [1, 4], 5)                         # somatization: 8 extra -> (12 + 8) / 12 = 1.667
    put(base, [3, 9], 5)                         # obsessive-compulsive: 8 -> (10 + 8) / 10 = 1.8
    put(base, [6, 21], 5)                        # interpersonal: 8 -> (9 + 8) / 9 = 1.889
    put(base, [5, 14, 15], 5)                    # depression: 12 -> (13 + 12) / 13 = 1.923
    put(base, [2], 5)                            # anxiety: 4
    at160 = put(base.copy(), [17], 3)            # anxiety: +2 -> (10 + 6) / 10 = 1.6; extras 28+8+8+8+12+4+2 = 70
    at161 = put(base.copy(), [17], 4)            # anxiety: +3 -> 1.7; extras 71
    out = score([at160, at161])
    assert out[f"{ID}.total"].tolist() == [160.0, 161.0]
    assert out[f"{ID}.pst"].tolist() == [18.0, 18.0]      # 7 + 2 + 2 + 2 + 3 + 2 items >= 2
    assert max(out[f"{ID}.{f}"].max() for f in NINE) < 2
    assert out[f"{ID}.additional"].tolist() == [5.0, 5.0]
    # "总分 > 160": 160 is not positive, 161 is
    assert out[f"{ID}.positive_screen"].tolist() == [False, True]
    assert out[f"{ID}.gsi"].tolist() == pytest.approx([160 / 90, 161 / 90], abs=1e-12)


def _pst_sheet(k: int) -> np.ndarray:
    """k items at 2, never every item of one factor (so each factor mean is (n + j) / n < 2)."""
    row = ones()[0]
    pool = [n for f in SOURCE_MAP for n in SOURCE_MAP[f][1:]]  # all but the first item of every group: 80 items
    put(row, pool[:k], 2)
    return row


def test_pst_boundary_43_vs_44():
    out = score([_pst_sheet(43), _pst_sheet(44)])
    assert out[f"{ID}.pst"].tolist() == [43.0, 44.0]
    assert out[f"{ID}.total"].tolist() == [133.0, 134.0]   # 90 + 43, 90 + 44: both <= 160
    assert max(out[f"{ID}.{f}"].max() for f in NINE) < 2
    # "阳性项目数 > 43": 43 is not positive, 44 is
    assert out[f"{ID}.positive_screen"].tolist() == [False, True]
    # PSDI = (total - negative count) / PST = (133 - 47) / 43 = 2 (every positive item is a 2)
    assert out[f"{ID}.psdi"].tolist() == [2.0, 2.0]


@pytest.mark.parametrize("factor", NINE)
def test_each_of_the_nine_factors_at_2_fires(factor):
    items = SOURCE_MAP[factor]
    at2 = put(ones()[0], items, 2)                       # factor mean exactly 2 -> ">= 2" fires
    below = put(at2.copy(), items[:1], 1)                # one item back to 1 -> (2n - 1) / n < 2
    out = score([at2, below])
    n = len(items)
    assert out[f"{ID}.{factor}"].tolist() == pytest.approx([2.0, (2 * n - 1) / n], abs=1e-12)
    assert out[f"{ID}.total"].tolist() == [90.0 + n, 90.0 + n - 1]   # far below 160; PST n <= 13 <= 43
    assert out[f"{ID}.positive_screen"].tolist() == [True, False]


def test_additional_items_do_not_count_as_a_factor():
    # all seven additional items at 5: mean 5, total 90 + 28 = 118, PST 7 -> no part of the rule holds
    out = score([put(ones()[0], SOURCE_MAP["additional"], 5)])
    assert out[f"{ID}.additional"].iloc[0] == 5.0
    assert out[f"{ID}.total"].iloc[0] == 118.0
    assert out[f"{ID}.pst"].iloc[0] == 7.0
    assert out[f"{ID}.positive_screen"].tolist() == [False]


def test_psdi_hand_worked():
    # item 1 = 5, item 2 = 3, rest 1: total 96, PST 2, negative count 88 -> (96 - 88) / 2 = 4
    out = score([put(put(ones()[0], [1], 5), [2], 3)])
    assert out[f"{ID}.total"].iloc[0] == 96.0
    assert out[f"{ID}.pst"].iloc[0] == 2.0
    assert out[f"{ID}.psdi"].iloc[0] == 4.0


def test_psdi_equals_the_published_formula_algebraically():
    # 阳性症状均分 = (总分 - 阴性项目数) / 阳性项目数 (1-5 coding), computed here from the formula itself,
    # against psyscreen's positive_mean: a negative item is exactly 1, so 总分 - 阴性项目数 = sum of positives.
    rng = np.random.default_rng(20261123)
    X = rng.integers(1, 6, size=(500, 90)).astype(float)
    X[:50] = np.where(rng.random((50, 90)) < 0.97, 1.0, X[:50])   # some sparse sheets (few positives)
    out = score(X)
    total = X.sum(axis=1)
    pst = (X >= 2).sum(axis=1)
    negative = 90 - pst
    with np.errstate(invalid="ignore", divide="ignore"):
        published = (total - negative) / pst
    np.testing.assert_allclose(out[f"{ID}.total"], total, atol=1e-9)
    np.testing.assert_allclose(out[f"{ID}.pst"], pst, atol=0)
    np.testing.assert_allclose(out[f"{ID}.gsi"], total / 90, atol=1e-12)
    np.testing.assert_allclose(out[f"{ID}.psdi"], published, atol=1e-12)   # NaN where PST = 0 on both sides
    for f, items in SOURCE_MAP.items():
        np.testing.assert_allclose(out[f"{ID}.{f}"], X[:, np.array(items) - 1].mean(axis=1), atol=1e-12)
    # the rule, written out from the source text, on the same sheets
    factors = np.column_stack([X[:, np.array(SOURCE_MAP[f]) - 1].mean(axis=1) for f in NINE])
    expected = (total > 160) | (pst > 43) | (factors >= 2).any(axis=1)
    assert out[f"{ID}.positive_screen"].to_numpy(dtype=bool).tolist() == expected.tolist()


def test_missing_answer_is_missing_not_zero():
    row = ones(3)
    row[:, 0] = np.nan                               # item 1 (somatization) unanswered on every sheet
    put(row[1], SOURCE_MAP["hostility"], 2)          # sheet 2: hostility mean 2 -> positive whatever is missing
    out = score(row)
    assert out[f"{ID}.somatization"].isna().all()    # all 12 items required, 11 answered
    assert out[f"{ID}.total"].isna().all()           # all 90 required (not 89)
    assert out[f"{ID}.pst"].isna().all()
    assert out[f"{ID}.somatization.answered"].tolist() == [11, 11, 11]
    assert out[f"{ID}.obsessive_compulsive"].tolist() == [1.0, 1.0, 1.0]   # other factors unaffected
    # sheet 1: total and PST unknown, no factor known >= 2 -> the screen is unknown, not "negative"
    assert pd.isna(out[f"{ID}.positive_screen"].iloc[0])
    assert out[f"{ID}.positive_screen"].iloc[1] == True  # noqa: E712  (hostility >= 2 is known)
    assert "somatization: 11 item(s) answered, needs 12 of 12" in out[f"{ID}.incomplete"].iloc[0]


def test_zero_to_four_coding_is_rejected_not_rescaled():
    # Cutoffs are for 1-5 coding (section 2); a 0 is not a response code and must not be scored
    with pytest.raises(scoring.ResponseError):
        score(np.zeros((1, 90)))


def test_no_critical_entries_but_items_15_and_59_documented():
    inst = load_instrument(ID)
    assert inst.critical == []                        # no official rule (sections 2 and 7)
    text = " ".join(inst.notes)
    assert "Item 15" in text and "item 59" in text and "local policy" in text


def test_both_1986_norm_versions_in_notes():
    text = " ".join(load_instrument(ID).notes)
    # section 2 "Chinese norms": the two disagreeing values of each version
    for figure in ("1.65 ± 0.61", "1.46 ± 0.55", "1.65 ± 0.51", "1.48 ± 0.56", "1.37 ± 0.48", "1.29 ± 0.42"):
        assert figure in text
    assert "additional" in text and "nine factors" in text
