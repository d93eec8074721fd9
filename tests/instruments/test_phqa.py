"""PHQ-A: hand-worked answer sheets traced to research/instruments.md section 1b (and 1 / 7 where named).

Every expected number below follows from the rule quoted beside it, not from running psyscreen.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from psyscreen import scoring
from psyscreen.instrument import load_instrument

from ..sheets import spread

ID = "phqa"
SYMPTOMS = list(range(1, 10))


def sheet(symptoms, *, q10=0, q11=0, q12=0, q13=0) -> pd.DataFrame:
    """One row per answer sheet; ``symptoms`` is rows x 9 (items 1-9, 0-3; NaN = unanswered)."""
    X = np.atleast_2d(np.asarray(symptoms, dtype=float))
    n = X.shape[0]
    data = {f"{ID}.{i}": X[:, i - 1] for i in SYMPTOMS}
    for num, v in ((10, q10), (11, q11), (12, q12), (13, q13)):
        data[f"{ID}.{num}"] = np.broadcast_to(np.asarray(v, dtype=float), (n,)).copy()
    return pd.DataFrame(data)


def score(frame):
    return scoring.score(frame, [ID])


def test_key_only_and_form_pinned():
    inst = load_instrument(ID)
    # 1b: licence UNCONFIRMED -> no item text in the file
    assert not inst.licence.text_redistributable
    assert all(it.zh is None and it.en is None for it in inst.item_list)
    # 1b: item order differs from the PHQ-9; the form must say which one this is
    assert "item 1 = feeling down" in inst.form and "item 2 = little interest" in inst.form


def test_item_map_total_is_items_1_to_9():
    # 1b: "total = items 1-9, 0-27"
    inst = load_instrument(ID)
    assert inst.scale("total").item_numbers == tuple(range(1, 10))
    assert inst.scale("total").method == "sum"
    assert inst.scale("total").score_range(inst) == (0.0, 27.0)
    # follow-up questions: 10 and 11 unscored, 12 and 13 yes/no read by the critical rules
    assert not inst.item(10).scored and not inst.item(11).scored
    assert [o.code for o in inst.response_set(inst.item(12).responses)] == [0, 1]


def test_all_minimum_and_all_maximum():
    out = score(sheet([[0] * 9, [3] * 9]))
    # all 0 -> total 0 (sum of nine 0s); all 3 -> 9 x 3 = 27
    assert out[f"{ID}.total"].tolist() == [0.0, 27.0]
    assert out[f"{ID}.total.band"].astype(str).tolist() == ["minimal", "severe"]
    # all 0: no item 9 >= 1 and no yes -> not critical; all 3: item 9 = 3 >= 1 -> critical
    assert out[f"{ID}.critical"].tolist() == [False, True]
    # GLAD-PC: all 0 negative; all 3 positive
    assert out[f"{ID}.symptom_positive"].tolist() == [False, True]


@pytest.mark.parametrize("total, band", [
    (4, "minimal"), (5, "mild"),              # >= 5 mild (section 1, CamCOPS severity())
    (9, "mild"), (10, "moderate"),            # >= 10 moderate
    (14, "moderate"), (15, "moderately_severe"),  # >= 15 moderately severe
    (19, "moderately_severe"), (20, "severe"),    # >= 20 severe
])
def test_band_boundaries(total, band):
    # spread `total` over items 1-8 as 1s then 2s/3s so that the sum is exactly `total` (item 9 = 0)
    row = np.array(spread(total, 8, 3) + [0])
    assert row.sum() == total
    out = score(sheet(row))
    assert out[f"{ID}.total"].iloc[0] == total
    assert out[f"{ID}.total.band"].astype(str).iloc[0] == band


def test_critical_item9_fires_at_1_not_at_0():
    rows = np.zeros((2, 9))
    rows[1, 8] = 1  # item 9 = 1: "1, 2 or 3 on item 9" -> positive (1b / 7)
    out = score(sheet(rows))
    assert out[f"{ID}.critical"].tolist() == [False, True]
    assert pd.isna(out[f"{ID}.critical_items"].iloc[0])
    assert out[f"{ID}.critical_items"].iloc[1] == "9=1"
    # item 9 = 1 alone is a GLAD-PC positive; total 1 stays "minimal"
    assert out[f"{ID}.symptom_positive"].tolist() == [False, True]
    assert out[f"{ID}.total"].tolist() == [0.0, 1.0]


@pytest.mark.parametrize("item", [12, 13])
def test_critical_suicide_questions(item):
    # 1b / 7: a yes to either extra suicide question -> immediate follow-up; no -> not fired
    kw = {f"q{item}": [0, 1]}
    out = score(sheet(np.zeros((2, 9)), **kw))
    assert out[f"{ID}.critical"].tolist() == [False, True]
    assert out[f"{ID}.critical_items"].iloc[1] == f"{item}=1"
    # the yes/no answer does not enter the total (total = items 1-9 only)
    assert out[f"{ID}.total"].tolist() == [0.0, 0.0]


def test_unanswered_suicide_question_is_unknown_not_no():
    # item 12 blank, everything else 0: critical cannot be known false (missing is not "no")
    out = score(sheet(np.zeros((1, 9)), q12=np.nan))
    assert pd.isna(out[f"{ID}.critical"].iloc[0])
    # ...but if item 9 fires anyway, it is known true
    row = np.zeros(9)
    row[8] = 2
    out = score(sheet(row, q12=np.nan))
    assert out[f"{ID}.critical"].tolist() == [True]


def test_glad_pc_rule_items_1_to_8_at_2():
    # 1b: "2 or 3 on items 1-8" is positive; 1 on items 1-8 is not
    rows = np.zeros((3, 9))
    rows[0, :8] = 1          # eight 1s: total 8, nothing at >= 2 -> negative
    rows[1, 4] = 2           # item 5 = 2 -> positive
    rows[2, 7] = 3           # item 8 = 3 -> positive
    out = score(sheet(rows))
    assert out[f"{ID}.symptom_positive"].tolist() == [False, True, True]
    assert out[f"{ID}.total"].tolist() == [8.0, 2.0, 3.0]


def test_all_items_required_and_missing_never_zero():
    # no published missing-data rule -> all 9 symptom items required (8 answered -> total missing)
    rows = np.ones((2, 9))
    rows[1, 3] = np.nan
    out = score(sheet(rows))
    assert out[f"{ID}.total"].iloc[0] == 9.0          # nine 1s
    assert np.isnan(out[f"{ID}.total"].iloc[1])       # not 8 (a missing answer is not 0)
    assert out[f"{ID}.total.answered"].tolist() == [9, 8]
    assert "total: 8 item(s) answered, needs 9 of 9" in out[f"{ID}.incomplete"].iloc[1]
    assert pd.isna(out[f"{ID}.total.band"].iloc[1])
