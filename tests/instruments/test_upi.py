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


# ---- the 60-item form: items 61-64 absent (research/instruments.md 3; upi.yaml, category rule) ----------------
# Without item 64 the category is decided on items 1-60 alone: class 1 if total >= 25 or item 25 = 是; else
# class 2 if 20 <= total < 25 or one of 8, 16, 26 = 是; else class 3. Each sheet says it was decided without 64.

NOTE = "decided without item(s) 64"


def score60(rows):
    frame = answer_sheet(ID, 60, [np.asarray(r)[:60] for r in rows])
    return scoring.score(frame, [ID])


def test_60_item_form_scores_without_the_auxiliary_columns():
    inst = load_instrument(ID)
    assert {it.number for it in inst.item_list if it.optional} == {61, 62, 63, 64}
    assert f"{ID}.64" not in inst.required_item_columns and len(inst.required_item_columns) == 60
    out = score60([blank(), np.ones(64)])
    assert out[f"{ID}.total"].tolist() == [0.0, 56.0]
    assert out[f"{ID}.category"].tolist() == [3, 1]       # all no: nothing fires; all yes: total 56 >= 25
    assert out[f"{ID}.category.note"].str.startswith(NOTE).all()


@pytest.mark.parametrize("total, category", [
    (19, 3), (20, 2),   # class 2: 20 <= total < 25
    (24, 2), (25, 1),   # class 1: total >= 25
])
def test_60_item_form_total_boundaries(total, category):
    out = score60([yes(blank(), PLAIN[:total])])
    assert out[f"{ID}.total"].iloc[0] == total
    assert out[f"{ID}.category"].iloc[0] == category
    assert out[f"{ID}.category.note"].iloc[0].startswith(NOTE)


@pytest.mark.parametrize("items, category", [
    ([25], 1),                  # item 25 = 是 -> class 1 (and critical)
    ([8], 2), ([16], 2), ([26], 2),
    ([8] + PLAIN[:24], 1),      # total 25 with item 8: class 1 first
    (PLAIN[:19] + [16], 2),     # total 20: class 2 either way
])
def test_60_item_form_key_items(items, category):
    out = score60([yes(blank(), items)])
    assert out[f"{ID}.category"].iloc[0] == category
    assert out[f"{ID}.critical"].iloc[0] == (25 in items)


def test_60_item_form_missing_answer_is_still_missing():
    row = blank()
    row[0] = np.nan                                          # item 1 unanswered: the total needs all 56
    out = score60([row])
    assert pd.isna(out[f"{ID}.category"].iloc[0])             # class 1 cannot be ruled out
    assert pd.isna(out[f"{ID}.category.note"].iloc[0])        # nothing was decided


def test_64_item_form_reads_item_64_and_a_blank_64_as_no_request():
    rows = np.stack([yes(blank(), [64]), blank(), blank()])
    rows[2, 63] = np.nan                                      # item 64 left blank on the 64-item form
    out = score(rows)
    assert out[f"{ID}.category"].tolist() == [1, 3, 3]        # a request is class 1; blank = no request
    assert out[f"{ID}.category.note"].isna().tolist() == [True, True, False]


def test_a_critical_item_cannot_be_optional(tmp_path):
    text = (load_instrument(ID).path and open(load_instrument(ID).path, encoding="utf-8").read())
    bad = tmp_path / "upi_bad.yaml"
    bad.write_text(text.replace("  - \"1-60\"\n", "  - \"1-24\"\n  - {number: 25, optional: true}\n  - \"26-60\"\n"),
                   encoding="utf-8")
    from psyscreen.instrument import InstrumentError

    with pytest.raises(InstrumentError, match="critical item is never optional"):
        load_instrument(bad)


def test_score_command_on_a_60_item_export(tmp_path):
    from click.testing import CliRunner

    from psyscreen.cli import main

    rows = [yes(blank(), PLAIN[:20]), yes(blank(), [25]), blank()]
    export = tmp_path / "college.csv"
    frame = answer_sheet(ID, 60, [r[:60] for r in rows]).astype(int)
    frame.insert(0, "学号", ["c1", "c2", "c3"])
    frame.to_csv(export, index=False)
    out = tmp_path / "scores.csv"
    res = CliRunner().invoke(main, ["score", str(export), "-i", ID, "-o", str(out)])
    assert res.exit_code == 0, res.output
    table = pd.read_csv(out, encoding="utf-8-sig")
    assert table[f"{ID}.total"].tolist() == [20.0, 1.0, 0.0]
    assert table[f"{ID}.category"].tolist() == [2, 1, 3]
    assert table[f"{ID}.category.note"].str.startswith(NOTE).all()
