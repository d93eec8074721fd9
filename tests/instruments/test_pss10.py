"""PSS-10 answer sheets worked by hand from research/instruments.md section 6.6.

Rule (6.6): 10 items coded 0-4; items 4, 5, 7, 8 reversed (4 - x); total 0-40; helplessness = items
1, 2, 3, 6, 9, 10; self-efficacy = items 4, 5, 7, 8 (BioPsyKit pss(), computed after reversing). No cutoffs; no
published missing-item rule: all answers needed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import psyscreen

from ..sheets import answer_sheet

ID, N = "pss10", 10
SOURCE_REVERSED = {4, 5, 7, 8}
SOURCE_MAP = {"helplessness": [1, 2, 3, 6, 9, 10], "self_efficacy": [4, 5, 7, 8]}


def sheet(rows) -> pd.DataFrame:
    return answer_sheet(ID, N, rows)


def test_key_as_the_source_table():
    inst = psyscreen.load_instrument(ID)
    assert {it.number for it in inst.item_list if it.reverse} == SOURCE_REVERSED
    for s, items in SOURCE_MAP.items():
        assert sorted(inst.scale(s).item_numbers) == items
    assert sorted(n for v in SOURCE_MAP.values() for n in v) == list(range(1, 11))  # the two partition 1..10
    assert sorted(inst.scale("total").item_numbers) == list(range(1, 11))


def test_all_same_answers_and_range_ends():
    lowest = [4 if i in SOURCE_REVERSED else 0 for i in range(1, N + 1)]
    highest = [0 if i in SOURCE_REVERSED else 4 for i in range(1, N + 1)]
    out = psyscreen.score(sheet([[0] * N, [4] * N, lowest, highest]), ID)
    # all 0: helplessness 0; self-efficacy 4 reversed items x 4 = 16; total 16
    # all 4: helplessness 6 x 4 = 24; self-efficacy 0; total 24
    # lowest stress: 0 / 0 / 0; highest: 24 / 16 / 40
    assert out[f"{ID}.helplessness"].tolist() == [0.0, 24.0, 0.0, 24.0]
    assert out[f"{ID}.self_efficacy"].tolist() == [16.0, 0.0, 0.0, 16.0]
    assert out[f"{ID}.total"].tolist() == [16.0, 24.0, 0.0, 40.0]
    assert not any(c.endswith(".band") for c in out.columns)  # no official cutoffs


def test_mixed_sheet():
    row = [1, 2, 3, 1, 0, 2, 3, 4, 1, 2]
    # helplessness: items 1,2,3,6,9,10 = 1+2+3+2+1+2 = 11
    # self-efficacy reversed: (4-1)+(4-0)+(4-3)+(4-4) = 3+4+1+0 = 8; total 19
    out = psyscreen.score(sheet([row]), ID)
    assert out.loc[0, f"{ID}.helplessness"] == 11.0
    assert out.loc[0, f"{ID}.self_efficacy"] == 8.0
    assert out.loc[0, f"{ID}.total"] == 19.0


def test_missing_answer_is_never_scored_as_zero():
    row = [2.0] * N
    row[4] = np.nan  # item 5 (self-efficacy, reversed) unanswered
    out = psyscreen.score(sheet([row]), ID)
    assert np.isnan(out.loc[0, f"{ID}.self_efficacy"])
    assert np.isnan(out.loc[0, f"{ID}.total"])
    assert out.loc[0, f"{ID}.helplessness"] == 12.0  # 6 x 2, complete
    assert out.loc[0, f"{ID}.total.answered"] == 9


def test_answers_outside_0_to_4_are_rejected():
    with pytest.raises(psyscreen.ResponseError):
        psyscreen.score(sheet([[5] + [0] * (N - 1)]), ID)
