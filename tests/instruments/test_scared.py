"""SCARED answer sheets worked by hand from research/instruments.md section 6.8.

Rule (6.8): 41 items coded 0-2; five subscales with Birmaher cutoffs (panic/somatic 7, generalized anxiety 9,
separation 5, social 8, school avoidance 3; read as >= in instruments/scared.yaml, the source being ambiguous);
total 0-82 with the original cutoff >= 25; Chinese norm cutoff total >= 23 (rule chinese_cutoff).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import psyscreen

from ..sheets import answer_sheet, spread

ID, N = "scared", 41

# The source's table, copied from research/instruments.md 6.8 (independently of instruments/scared.yaml):
# scale -> (items, cutoff)
SOURCE_MAP = {
    "panic_somatic": ([1, 6, 9, 12, 15, 18, 19, 22, 24, 27, 30, 34, 38], 7),
    "generalized_anxiety": ([5, 7, 14, 21, 23, 28, 33, 35, 37], 9),
    "separation_anxiety": ([4, 8, 13, 16, 20, 25, 29, 31], 5),
    "social_anxiety": ([3, 10, 26, 32, 39, 40, 41], 8),
    "school_avoidance": ([2, 11, 17, 36], 3),
}


def sheet(rows) -> pd.DataFrame:
    return answer_sheet(ID, N, rows)


def fill(items, total: int, row=None) -> list[float]:
    """Answers 2, 2, ... then the remainder on `items` (0 elsewhere unless `row` is given)."""
    row = list(row) if row is not None else [0.0] * N
    for i, v in zip(items, spread(total, len(items), 2)):
        row[i - 1] = v
    return row


def test_item_map_partitions_items_as_the_source_table():
    inst = psyscreen.load_instrument(ID)
    for scale, (items, _) in SOURCE_MAP.items():
        assert sorted(inst.scale(scale).item_numbers) == sorted(items)
    assert sorted(n for items, _ in SOURCE_MAP.values() for n in items) == list(range(1, N + 1))
    assert sorted(inst.scale("total").item_numbers) == list(range(1, N + 1))
    assert not any(it.reverse for it in inst.item_list)
    assert all(it.zh is None and it.en is None for it in inst.item_list)  # licence UNCONFIRMED: key only


def test_all_minimum_and_all_maximum():
    out = psyscreen.score(sheet([[0] * N, [2] * N]), ID)
    # all 2: each subscale = 2 x its number of items; total = 2 x 41 = 82
    for scale, (items, _) in SOURCE_MAP.items():
        assert out[f"{ID}.{scale}"].tolist() == [0.0, 2.0 * len(items)]
        assert out[f"{ID}.{scale}.band"].astype(str).tolist() == ["below_cutoff", "at_or_above_cutoff"]
    assert out[f"{ID}.total"].tolist() == [0.0, 82.0]
    assert out[f"{ID}.total.band"].astype(str).tolist() == ["below_cutoff", "anxiety_disorder_possible"]
    assert out[f"{ID}.chinese_cutoff"].tolist() == [False, True]


@pytest.mark.parametrize("scale", list(SOURCE_MAP))
def test_subscale_cutoffs_both_sides(scale):
    items, cut = SOURCE_MAP[scale]
    out = psyscreen.score(sheet([fill(items, cut - 1), fill(items, cut)]), ID)
    # cutoff - 1 -> below; cutoff itself -> at or above (the ">=" reading stated in scared.yaml)
    assert out[f"{ID}.{scale}"].tolist() == [cut - 1.0, float(cut)]
    assert out[f"{ID}.{scale}.band"].astype(str).tolist() == ["below_cutoff", "at_or_above_cutoff"]


@pytest.mark.parametrize(
    "total, band, chinese",
    [
        (22, "below_cutoff", False),               # 22 < 23: neither cutoff
        (23, "below_cutoff", True),                # Chinese cutoff >= 23 fires; 23 < 25
        (24, "below_cutoff", True),                # 24 < 25
        (25, "anxiety_disorder_possible", True),   # original cutoff >= 25
    ],
)
def test_total_cutoffs_original_and_chinese(total, band, chinese):
    out = psyscreen.score(sheet([fill(range(1, N + 1), total)]), ID)
    assert out.loc[0, f"{ID}.total"] == total
    assert str(out.loc[0, f"{ID}.total.band"]) == band
    assert bool(out.loc[0, f"{ID}.chinese_cutoff"]) is chinese


def test_missing_answer_is_never_scored_as_zero():
    row = [2.0] * N
    row[1] = np.nan  # item 2 (school avoidance) unanswered
    out = psyscreen.score(sheet([row]), ID)
    # school avoidance and total are missing (all items needed), the other subscales are complete
    assert np.isnan(out.loc[0, f"{ID}.school_avoidance"])
    assert np.isnan(out.loc[0, f"{ID}.total"])
    assert out.loc[0, f"{ID}.total.answered"] == 40
    assert out.loc[0, f"{ID}.panic_somatic"] == 26.0
    # the Chinese cutoff rule cannot be decided on a missing total: NA, not False
    assert pd.isna(out.loc[0, f"{ID}.chinese_cutoff"])
