"""CES-DC answer sheets worked by hand from research/instruments.md section 6.3.

Rule (6.3): 20 items, 0 Not at all / 1 A little / 2 Some / 3 A lot; items 4, 8, 12, 16 reversed; total 0-60;
Weissman et al. 1980 cutoff "scores over 15", which instruments/cesdc.yaml reads as total > 15 (the source is
ambiguous between > 15 and >= 15). No published missing-item rule: all 20 answers needed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import psyscreen

from ..sheets import answer_sheet, spread

ID, N = "cesdc", 20
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
    assert [o.en for o in inst.responses] == ["Not at all", "A little", "Some", "A lot"]  # 6.3 anchors, codes 0-3
    assert [o.code for o in inst.responses] == [0, 1, 2, 3]


def test_all_zero_all_three_and_range_ends():
    lowest = [3 if i in SOURCE_REVERSED else 0 for i in range(1, N + 1)]
    highest = [0 if i in SOURCE_REVERSED else 3 for i in range(1, N + 1)]
    out = psyscreen.score(sheet([[0] * N, [3] * N, lowest, highest]), ID)
    # all 0: the 4 reverse items score 3 each -> 12; all 3: 16 items x 3 + 4 x 0 = 48;
    # reverse items answered 3 and the rest 0 -> 0; the opposite -> 60
    assert out[f"{ID}.total"].tolist() == [12.0, 48.0, 0.0, 60.0]
    assert out[f"{ID}.total.band"].astype(str).tolist() == ["below_cutoff", "above_cutoff", "below_cutoff",
                                                            "above_cutoff"]


@pytest.mark.parametrize("total, band", [(14, "below_cutoff"), (15, "below_cutoff"), (16, "above_cutoff")])
def test_cutoff_over_15_both_sides(total, band):
    # "scores over 15": 15 is not over 15 (below), 16 is (above); 14 is below under either reading
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
