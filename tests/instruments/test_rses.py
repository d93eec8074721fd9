"""Rosenberg Self-Esteem Scale (Chinese form) answer sheets worked by hand from research/instruments.md 6.7.

Rule (6.7): 10 items, 4-point, coded 1-4 (total 10-40); in the CHINESE item order the reverse items are
3, 5, 8, 9, 10 (chameiwang; JWileymisc .scoreRSES) -- not the English order's 2, 5, 6, 8, 9. Item-8 policy
(instruments/rses.yaml): item 8 reversed in `total` as the published key does; `total_without_item8` is the
9-item "delete" remedy of 中国心理卫生杂志 2008(9):661. No cutoffs; no published missing-item rule.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import psyscreen

from ..sheets import answer_sheet

ID, N = "rses", 10
SOURCE_REVERSED_CHINESE = {3, 5, 8, 9, 10}   # research/instruments.md 6.7, Chinese order
ENGLISH_REVERSED = {2, 5, 6, 8, 9}           # research/instruments.md 6.7, English order (must NOT be used)


def sheet(rows) -> pd.DataFrame:
    return answer_sheet(ID, N, rows)


def test_key_is_the_chinese_order():
    inst = psyscreen.load_instrument(ID)
    reversed_items = {it.number for it in inst.item_list if it.reverse}
    assert reversed_items == SOURCE_REVERSED_CHINESE
    assert reversed_items != ENGLISH_REVERSED
    assert sorted(inst.scale("total").item_numbers) == list(range(1, 11))
    assert sorted(inst.scale("total_without_item8").item_numbers) == [1, 2, 3, 4, 5, 6, 7, 9, 10]
    assert [o.code for o in inst.responses] == [1, 2, 3, 4]
    assert all(it.zh is None and it.en is None for it in inst.item_list)
    assert not inst.scale("total").higher_is_worse


def test_all_same_answers_and_range_ends():
    positive = [1, 2, 4, 6, 7]
    lowest = [1 if i in positive else 4 for i in range(1, N + 1)]
    highest = [4 if i in positive else 1 for i in range(1, N + 1)]
    out = psyscreen.score(sheet([[1] * N, [4] * N, lowest, highest]), ID)
    # all 1: 5 positive items x 1 + 5 reverse items x (1 + 4 - 1 = 4) = 5 + 20 = 25
    # all 4: 5 x 4 + 5 x 1 = 25
    # lowest self-esteem: 10; highest: 40
    assert out[f"{ID}.total"].tolist() == [25.0, 25.0, 10.0, 40.0]
    # without item 8 (reverse): all 1 -> 25 - 4 = 21; all 4 -> 25 - 1 = 24; range 9-36
    assert out[f"{ID}.total_without_item8"].tolist() == [21.0, 24.0, 9.0, 36.0]
    assert not any(c.endswith(".band") for c in out.columns)  # no official cutoffs


@pytest.mark.parametrize("item8, total", [(1, 31.0), (2, 30.0), (3, 29.0), (4, 28.0)])
def test_item8_policy_reversed_in_total_and_absent_from_the_nine_item_total(item8, total):
    row = [3, 3, 2, 3, 2, 3, 3, item8, 2, 2]
    # positive items 1, 2, 4, 6, 7 = 3 each -> 15; reverse items 3, 5, 9, 10 answered 2 -> 3 each -> 12;
    # item 8 reversed: 5 - item8 -> total = 27 + 5 - item8 (31, 30, 29, 28)
    out = psyscreen.score(sheet([row]), ID)
    assert out.loc[0, f"{ID}.total"] == total
    assert out.loc[0, f"{ID}.total_without_item8"] == 27.0


def test_missing_answers_are_never_scored_as_zero():
    no8 = [3] * N
    no8[7] = np.nan
    no1 = [3] * N
    no1[0] = np.nan
    out = psyscreen.score(sheet([no8, no1]), ID)
    # item 8 missing: 10-item total missing; 9-item total scored: 5 x 3 + 4 x 2 = 23
    assert np.isnan(out.loc[0, f"{ID}.total"])
    assert out.loc[0, f"{ID}.total_without_item8"] == 23.0
    # item 1 missing: both missing (all items needed)
    assert np.isnan(out.loc[1, f"{ID}.total"])
    assert np.isnan(out.loc[1, f"{ID}.total_without_item8"])
    assert out.loc[1, f"{ID}.total.answered"] == 9


def test_zero_is_not_a_response_code():
    # the form is coded 1-4; a 0-3 export must be recoded first, never scored as is
    with pytest.raises(psyscreen.ResponseError):
        psyscreen.score(sheet([[0] * N]), ID)
