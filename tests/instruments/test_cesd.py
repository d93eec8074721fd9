"""CES-D answer sheets worked by hand from research/instruments.md section 6.3.

Rule (6.3): 20 items coded 0-3; items 4, 8, 12, 16 reversed (3 - x); total 0-60; depression risk >= 16
(CamCOPS cesd.py DEPRESSION_RISK_THRESHOLD). No published missing-item rule: all 20 answers needed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import psyscreen

from ..sheets import answer_sheet, spread

ID, N = "cesd", 20
SOURCE_REVERSED = {4, 8, 12, 16}  # research/instruments.md 6.3


def sheet(rows) -> pd.DataFrame:
    return answer_sheet(ID, N, rows)


def with_total(total: int) -> list[float]:
    """Raw answers whose keyed total is `total`: scored values 3, 3, ... then the rest, 0 elsewhere."""
    return [3 - v if i in SOURCE_REVERSED else v for i, v in enumerate(spread(total, N, 3), 1)]


def test_key_as_the_source_table():
    inst = psyscreen.load_instrument(ID)
    assert {it.number for it in inst.item_list if it.reverse} == SOURCE_REVERSED
    assert sorted(inst.scale("total").item_numbers) == list(range(1, N + 1))
    assert all(it.zh is None and it.en is None for it in inst.item_list)


def test_all_zero_all_three_and_range_ends():
    lowest = [3 if i in SOURCE_REVERSED else 0 for i in range(1, N + 1)]
    highest = [0 if i in SOURCE_REVERSED else 3 for i in range(1, N + 1)]
    out = psyscreen.score(sheet([[0] * N, [3] * N, lowest, highest]), ID)
    # all 0: the 4 reverse items score 3 each -> 12; all 3: 16 items x 3 + 4 x 0 = 48;
    # reverse items answered 3 and the rest 0 -> 0; the opposite -> 60
    assert out[f"{ID}.total"].tolist() == [12.0, 48.0, 0.0, 60.0]
    assert out[f"{ID}.total.band"].astype(str).tolist() == ["below_cutoff", "depression_risk", "below_cutoff",
                                                            "depression_risk"]


@pytest.mark.parametrize("total, band", [(15, "below_cutoff"), (16, "depression_risk")])
def test_cutoff_16_both_sides(total, band):
    # CamCOPS: depression risk when total >= 16
    out = psyscreen.score(sheet([with_total(total)]), ID)
    assert out.loc[0, f"{ID}.total"] == total
    assert str(out.loc[0, f"{ID}.total.band"]) == band


def test_missing_answer_is_never_scored_as_zero():
    row = with_total(30)
    row[3] = np.nan  # reverse item 4 unanswered: 19 answered, total missing (all 20 needed)
    out = psyscreen.score(sheet([row]), ID)
    assert np.isnan(out.loc[0, f"{ID}.total"])
    assert out.loc[0, f"{ID}.total.answered"] == 19
    assert pd.isna(out.loc[0, f"{ID}.total.band"])
    assert "total" in out.loc[0, f"{ID}.incomplete"]
