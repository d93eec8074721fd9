"""K10 answer sheets worked by hand from research/instruments.md section 6.5.

Rule (6.5): 10 items; Australian coding 1-5, total 10-50; ABS 4817.0.55.001 bands 10-15 low, 16-21 moderate,
22-29 high, 30-50 very high. No published missing-item rule: all 10 answers needed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import psyscreen

from ..sheets import answer_sheet, spread

ID, N = "k10", 10


def sheet(rows) -> pd.DataFrame:
    return answer_sheet(ID, N, rows)


def with_total(total: int) -> list[int]:
    """Every item at least 1 (the coding's floor), then 4 extra points per item until the total is reached."""
    return [1 + extra for extra in spread(total - N, N, 4)]


def test_key_is_the_australian_coding():
    inst = psyscreen.load_instrument(ID)
    assert [o.code for o in inst.responses] == [1, 2, 3, 4, 5]
    assert inst.scale("total").score_range(inst) == (10.0, 50.0)
    assert sorted(inst.scale("total").item_numbers) == list(range(1, 11))
    assert not any(it.reverse for it in inst.item_list)


def test_all_minimum_and_all_maximum():
    out = psyscreen.score(sheet([[1] * N, [5] * N]), ID)
    assert out[f"{ID}.total"].tolist() == [10.0, 50.0]  # 10 x 1; 10 x 5
    assert out[f"{ID}.total.band"].astype(str).tolist() == ["low", "very_high"]


@pytest.mark.parametrize(
    "total, band",
    [
        (15, "low"), (16, "moderate"),        # 10-15 / 16-21
        (21, "moderate"), (22, "high"),       # 16-21 / 22-29
        (29, "high"), (30, "very_high"),      # 22-29 / 30-50
    ],
)
def test_abs_band_boundaries(total, band):
    out = psyscreen.score(sheet([with_total(total)]), ID)
    assert out.loc[0, f"{ID}.total"] == total
    assert str(out.loc[0, f"{ID}.total.band"]) == band


def test_missing_answer_is_never_scored_as_zero():
    out = psyscreen.score(sheet([[5] * 9 + [None]]), ID)
    assert np.isnan(out.loc[0, f"{ID}.total"])
    assert out.loc[0, f"{ID}.total.answered"] == 9
    assert pd.isna(out.loc[0, f"{ID}.total.band"])


def test_zero_to_four_coding_is_rejected():
    # a US 0-4 export must be recoded (+1) first; a 0 is not a K10 code here
    with pytest.raises(psyscreen.ResponseError):
        psyscreen.score(sheet([[0] * N]), ID)
