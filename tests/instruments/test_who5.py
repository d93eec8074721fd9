"""WHO-5 answer sheets worked by hand from research/instruments.md section 6.4.

Rule (6.4): 5 items coded 0 (at no time) - 5 (all of the time); raw = sum 0-25; percent = raw x 4 (0-100);
percent <= 50 -> screen for depression (Topp et al. 2015). No reverse items; no published missing-item rule.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import psyscreen

from ..sheets import answer_sheet, spread

ID, N = "who5", 5


def sheet(rows) -> pd.DataFrame:
    return answer_sheet(ID, N, rows)


def with_raw(raw: int) -> list[int]:
    return spread(raw, N, 5)


def test_key_as_the_source():
    inst = psyscreen.load_instrument(ID)
    assert [o.code for o in inst.responses] == [0, 1, 2, 3, 4, 5]
    assert not any(it.reverse for it in inst.item_list)
    for s in ("raw", "percent"):
        assert sorted(inst.scale(s).item_numbers) == [1, 2, 3, 4, 5]
        assert not inst.scale(s).higher_is_worse  # well-being: higher is better
    assert inst.scale("percent").multiplier == 4


def test_all_minimum_and_all_maximum():
    out = psyscreen.score(sheet([[0] * N, [5] * N]), ID)
    assert out[f"{ID}.raw"].tolist() == [0.0, 25.0]          # 5 x 0, 5 x 5
    assert out[f"{ID}.percent"].tolist() == [0.0, 100.0]     # x 4
    assert out[f"{ID}.percent.band"].astype(str).tolist() == ["screen_for_depression", "above_cutoff"]


@pytest.mark.parametrize(
    "raw, percent, band",
    [
        (12, 48.0, "screen_for_depression"),  # 48 <= 50
        (13, 52.0, "above_cutoff"),           # 52 > 50: raw 12/13 are the whole scores either side of 50 %
    ],
)
def test_cut_at_50_percent_both_sides(raw, percent, band):
    out = psyscreen.score(sheet([with_raw(raw)]), ID)
    assert out.loc[0, f"{ID}.raw"] == raw
    assert out.loc[0, f"{ID}.percent"] == percent
    assert str(out.loc[0, f"{ID}.percent.band"]) == band


def test_missing_answer_is_never_scored_as_zero():
    out = psyscreen.score(sheet([[5, 5, 5, 5, None]]), ID)
    # 4 of 5 answered: raw and percent missing (all 5 needed), never 20 / 80
    assert np.isnan(out.loc[0, f"{ID}.raw"])
    assert np.isnan(out.loc[0, f"{ID}.percent"])
    assert pd.isna(out.loc[0, f"{ID}.percent.band"])
    assert out.loc[0, f"{ID}.raw.answered"] == 4
