"""DASS-21 answer sheets worked by hand from research/instruments.md section 6.1.

Rule (6.1): 21 items coded 0-3, no reverse items; each subscale = sum of its 7 items x 2; Lovibond manual bands on
the x2 scores. No published missing-item rule: psyscreen needs all 7 answers of a subscale.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import psyscreen

from ..sheets import answer_sheet, spread

ID, N = "dass21", 21

# The source's table, copied from research/instruments.md 6.1 (independently of instruments/dass21.yaml).
SOURCE_MAP = {
    "depression": [3, 5, 10, 13, 16, 17, 21],
    "anxiety": [2, 4, 7, 9, 15, 19, 20],
    "stress": [1, 6, 8, 11, 12, 14, 18],
}


def sheet(rows) -> pd.DataFrame:
    return answer_sheet(ID, N, rows)


def with_raw_sum(scale: str, raw: int) -> list[float]:
    """All items 0 except the scale's items, filled with 3s then the remainder, so the scale's raw sum is `raw`."""
    row = [0.0] * N
    for item, v in zip(SOURCE_MAP[scale], spread(raw, len(SOURCE_MAP[scale]), 3)):
        row[item - 1] = v
    return row


def test_item_map_partitions_items_as_the_source_table():
    inst = psyscreen.load_instrument(ID)
    for scale, items in SOURCE_MAP.items():
        assert sorted(inst.scale(scale).item_numbers) == sorted(items)
    every = sorted(n for items in SOURCE_MAP.values() for n in items)
    assert every == list(range(1, N + 1))  # the three subscales partition items 1..21 exactly
    assert not any(it.reverse for it in inst.item_list)  # 6.1: no reverse items
    assert all(inst.scale(s).multiplier == 2 for s in SOURCE_MAP)


def test_all_minimum_and_all_maximum():
    out = psyscreen.score(sheet([[0] * N, [3] * N]), ID)
    for s in SOURCE_MAP:
        # all 0 -> 0 x 2 = 0 (normal); all 3 -> 7 x 3 x 2 = 42 (extremely severe)
        assert out[f"{ID}.{s}"].tolist() == [0.0, 42.0]
        assert out[f"{ID}.{s}.band"].astype(str).tolist() == ["normal", "extremely_severe"]


def test_scales_read_only_their_own_items():
    # only the depression items answered 1: depression 7 x 1 x 2 = 14, anxiety and stress 0
    row = [0] * N
    for i in SOURCE_MAP["depression"]:
        row[i - 1] = 1
    out = psyscreen.score(sheet([row]), ID)
    assert out.loc[0, f"{ID}.depression"] == 14.0
    assert out.loc[0, f"{ID}.anxiety"] == 0.0
    assert out.loc[0, f"{ID}.stress"] == 0.0


# Lovibond bands on x2 scores (6.1). x2 scores are even, so each boundary is tested at the even scores either side:
# depression 0-9 / 10-13 / 14-20 / 21-27 / 28+; anxiety 0-7 / 8-9 / 10-14 / 15-19 / 20+;
# stress 0-14 / 15-18 / 19-25 / 26-33 / 34+.
BOUNDARIES = [
    ("depression", 4, 8, "normal"), ("depression", 5, 10, "mild"),          # 8 <= 9 ; 10 >= 10
    ("depression", 6, 12, "mild"), ("depression", 7, 14, "moderate"),       # 12 <= 13 ; 14 >= 14
    ("depression", 10, 20, "moderate"), ("depression", 11, 22, "severe"),   # 20 <= 20 ; 22 >= 21
    ("depression", 13, 26, "severe"), ("depression", 14, 28, "extremely_severe"),  # 26 <= 27 ; 28 >= 28
    ("anxiety", 3, 6, "normal"), ("anxiety", 4, 8, "mild"),                  # 6 <= 7 ; 8 >= 8
    ("anxiety", 5, 10, "moderate"),                                          # 8 <= 9 (above) ; 10 >= 10
    ("anxiety", 7, 14, "moderate"), ("anxiety", 8, 16, "severe"),            # 14 <= 14 ; 16 >= 15
    ("anxiety", 9, 18, "severe"), ("anxiety", 10, 20, "extremely_severe"),   # 18 <= 19 ; 20 >= 20
    ("stress", 7, 14, "normal"), ("stress", 8, 16, "mild"),                  # 14 <= 14 ; 16 >= 15
    ("stress", 9, 18, "mild"), ("stress", 10, 20, "moderate"),               # 18 <= 18 ; 20 >= 19
    ("stress", 12, 24, "moderate"), ("stress", 13, 26, "severe"),            # 24 <= 25 ; 26 >= 26
    ("stress", 16, 32, "severe"), ("stress", 17, 34, "extremely_severe"),    # 32 <= 33 ; 34 >= 34
]


@pytest.mark.parametrize("scale, raw, expected, band", BOUNDARIES)
def test_band_boundaries(scale, raw, expected, band):
    out = psyscreen.score(sheet([with_raw_sum(scale, raw)]), ID)
    assert out.loc[0, f"{ID}.{scale}"] == expected  # raw sum x 2
    assert str(out.loc[0, f"{ID}.{scale}.band"]) == band


def test_missing_answer_is_never_scored_as_zero():
    # one depression item unanswered: no published rule, all 7 needed -> depression missing, not a smaller sum;
    # the other subscales are untouched (anxiety 7 x 2 x 2 = 28, stress 28).
    row = [2.0] * N
    row[SOURCE_MAP["depression"][0] - 1] = np.nan
    out = psyscreen.score(sheet([row]), ID)
    assert np.isnan(out.loc[0, f"{ID}.depression"])
    assert pd.isna(out.loc[0, f"{ID}.depression.band"])
    assert out.loc[0, f"{ID}.depression.answered"] == 6
    assert "depression" in out.loc[0, f"{ID}.incomplete"]
    assert out.loc[0, f"{ID}.anxiety"] == 28.0
    assert out.loc[0, f"{ID}.stress"] == 28.0


def test_answers_outside_0_to_3_are_rejected():
    with pytest.raises(psyscreen.ResponseError):
        psyscreen.score(sheet([[4] + [0] * (N - 1)]), ID)


def test_no_item_text_ships():
    inst = psyscreen.load_instrument(ID)
    assert all(it.zh is None and it.en is None for it in inst.item_list)
