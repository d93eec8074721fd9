"""UPI: hand-worked answer sheets traced to research/instruments.md section 3 (and 7).

Every expected number below follows from the rule quoted beside it (是 = 1, 否 = 0), not from running psyscreen.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from psyscreen import scoring
from psyscreen.instrument import load_instrument

from ..sheets import answer_sheet

ID = "upi"
# research/instruments.md 3: lie (测伪) items 5, 20, 35, 50; total = sum of the 56 non-lie items of 1-60
LIE = [5, 20, 35, 50]
NON_LIE = [n for n in range(1, 61) if n not in LIE]
KEY_CLASS2 = [8, 16, 26]
# non-lie items that no classification rule reads on its own: used to set the total without side effects
PLAIN = [n for n in NON_LIE if n not in (8, 16, 25, 26)]


def sheet(rows) -> pd.DataFrame:
    return answer_sheet(ID, 64, rows)


def blank() -> np.ndarray:
    return np.zeros(64)


def yes(row, items):
    row[np.asarray(items) - 1] = 1
    return row


def score(rows):
    return scoring.score(sheet(rows), [ID])


def test_item_map_as_the_source_says():
    inst = load_instrument(ID)
    assert len(NON_LIE) == 56
    assert sorted(inst.scale("total").item_numbers) == NON_LIE
    assert sorted(inst.scale("lie").item_numbers) == LIE
    assert set(inst.scale("total").item_numbers).isdisjoint(LIE)
    assert inst.scale("total").score_range(inst) == (0.0, 56.0)
    assert len(inst.item_list) == 64                   # 60 + 4 auxiliary items
    assert [o.code for o in inst.responses] == [0, 1]  # 否 = 0, 是 = 1
    assert not inst.licence.text_redistributable
    assert all(it.zh is None and it.en is None for it in inst.item_list)
    assert inst.validity is None                       # lie-rule direction UNCONFIRMED: no validity output


def test_all_no_and_all_yes():
    out = score([blank(), np.ones(64)])
    assert out[f"{ID}.total"].tolist() == [0.0, 56.0]   # 56 non-lie items x 0 / x 1
    assert out[f"{ID}.lie"].tolist() == [0.0, 4.0]
    assert out[f"{ID}.category"].tolist() == [3, 1]      # nothing -> class 3; total 56 >= 25 -> class 1
    assert out[f"{ID}.critical"].tolist() == [False, True]


def test_lie_items_do_not_enter_the_total():
    out = score([yes(blank(), LIE)])
    assert out[f"{ID}.total"].iloc[0] == 0.0
    assert out[f"{ID}.lie"].iloc[0] == 4.0
    assert out[f"{ID}.category"].iloc[0] == 3


@pytest.mark.parametrize("total, category", [
    (19, 3), (20, 2),   # class 2: 20 <= total < 25
    (24, 2), (25, 1),   # class 1: total >= 25
])
def test_total_boundaries(total, category):
    out = score([yes(blank(), PLAIN[:total])])
    assert out[f"{ID}.total"].iloc[0] == total
    assert out[f"{ID}.category"].iloc[0] == category
    assert out[f"{ID}.critical"].iloc[0] == False  # noqa: E712  (item 25 not answered yes)


def test_item_25_is_critical_and_class_1():
    out = score([blank(), yes(blank(), [25])])
    assert out[f"{ID}.critical"].tolist() == [False, True]
    assert out[f"{ID}.critical_items"].iloc[1] == "25=1"
    assert out[f"{ID}.total"].tolist() == [0.0, 1.0]
    assert out[f"{ID}.category"].tolist() == [3, 1]     # item 25 = 是 -> class 1 whatever the total


def test_consultation_request_item_64_is_class_1():
    out = score([yes(blank(), [64])])
    assert out[f"{ID}.total"].iloc[0] == 0.0            # item 64 is not in the total
    assert out[f"{ID}.category"].iloc[0] == 1
    assert out[f"{ID}.critical"].iloc[0] == False  # noqa: E712


@pytest.mark.parametrize("item", KEY_CLASS2)
def test_key_items_8_16_26_give_class_2(item):
    out = score([yes(blank(), [item])])
    assert out[f"{ID}.total"].iloc[0] == 1.0
    assert out[f"{ID}.category"].iloc[0] == 2            # "one of items 8, 16, 26 = 是" (OR reading)


def test_class_1_takes_precedence_over_class_2():
    # total 25 with item 8 = 是: class 1 first (research/instruments.md 3, "Precedence")
    out = score([yes(yes(blank(), [8]), PLAIN[:24])])
    assert out[f"{ID}.total"].iloc[0] == 25.0
    assert out[f"{ID}.category"].iloc[0] == 1


def test_auxiliary_items_61_to_63_do_not_classify():
    # the "two or more of 61-63" extension is UNCONFIRMED and not implemented
    out = score([yes(blank(), [61, 62, 63])])
    assert out[f"{ID}.category"].iloc[0] == 3
    # and their columns are optional
    frame = sheet([blank()]).drop(columns=[f"{ID}.61", f"{ID}.62", f"{ID}.63"])
    assert scoring.score(frame, [ID])[f"{ID}.category"].iloc[0] == 3


def test_missing_answer_is_missing_not_no():
    rows = np.stack([blank(), yes(blank(), [8]), yes(blank(), [25])])
    rows[:, 0] = np.nan                                   # item 1 unanswered on every sheet
    out = score(rows)
    assert out[f"{ID}.total"].isna().all()                # all 56 required; 55 answered is not a total
    assert out[f"{ID}.total.answered"].tolist() == [55, 55, 55]
    assert "total: 55 item(s) answered, needs 56 of 56" in out[f"{ID}.incomplete"].iloc[0]
    # class 1 cannot be ruled out without the total -> undecided (NA), not class 3 or 2
    assert pd.isna(out[f"{ID}.category"].iloc[0])
    assert pd.isna(out[f"{ID}.category"].iloc[1])
    # item 25 = 是 decides class 1 whatever is missing
    assert out[f"{ID}.category"].iloc[2] == 1
    assert out[f"{ID}.critical"].tolist() == [False, False, True]
