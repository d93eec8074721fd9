"""MHT: hand-worked answer sheets traced to research/instruments.md section 4.

Every expected number below follows from the rule quoted beside it (是 = 1, 不是 = 0; raw scores), not from
running psyscreen.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from psyscreen import scoring
from psyscreen.instrument import load_instrument

from ..sheets import answer_sheet

ID = "mht"

# research/instruments.md section 4, "Scale -> item map" table (code 68402812969) and the lie items,
# copied out independently of the YAML.
SOURCE_MAP = {
    "learning_anxiety": list(range(1, 16)),        # 学习焦虑 1-15
    "social_anxiety": list(range(16, 26)),         # 对人焦虑 16-25
    "loneliness": list(range(26, 36)),             # 孤独倾向 26-35
    "self_blame": list(range(36, 46)),             # 自责倾向 36-45
    "oversensitivity": list(range(46, 56)),        # 过敏倾向 46-55
    "somatic": list(range(56, 71)),                # 身体症状 56-70
    "phobia": list(range(71, 81)),                 # 恐怖倾向 71-80
    "impulsivity": [81, 83, 85, 87, 89, 91, 93, 95, 97, 99],  # 冲动倾向
}
SOURCE_COUNTS = {"learning_anxiety": 15, "social_anxiety": 10, "loneliness": 10, "self_blame": 10,
                 "oversensitivity": 10, "somatic": 15, "phobia": 10, "impulsivity": 10}
LIE = [82, 84, 86, 88, 90, 92, 94, 96, 98, 100]
CONTENT = sorted(n for items in SOURCE_MAP.values() for n in items)


def sheet(rows) -> pd.DataFrame:
    return answer_sheet(ID, 100, rows)


def blank() -> np.ndarray:
    return np.zeros(100)


def yes(row, items):
    row[np.asarray(items, dtype=int) - 1] = 1
    return row


def score(rows):
    return scoring.score(sheet(rows), [ID])


def test_item_map_partitions_items_as_the_source_table():
    inst = load_instrument(ID)
    for scale, items in SOURCE_MAP.items():
        assert len(items) == SOURCE_COUNTS[scale]
        assert sorted(inst.scale(scale).item_numbers) == items, scale
    assert sorted(inst.scale("lie").item_numbers) == LIE
    # 8 content scales (90 items) + 10 lie items partition 1..100 exactly
    assert len(CONTENT) == 90 and len(set(CONTENT)) == 90
    assert sorted(CONTENT + LIE) == list(range(1, 101))
    assert inst.scale("total").of_scales == list(SOURCE_MAP)
    assert inst.scale("total").score_range(inst) == (0.0, 90.0)
    assert not inst.licence.text_redistributable
    assert all(it.zh is None and it.en is None for it in inst.item_list)
    assert any("RAW scores" in n for n in inst.notes)   # raw-score reading stated


def test_all_no_and_all_yes():
    out = score([blank(), np.ones(100)])
    for scale, items in SOURCE_MAP.items():
        assert out[f"{ID}.{scale}"].tolist() == [0.0, float(len(items))]
        assert out[f"{ID}.{scale}.band"].astype(str).tolist() == ["low", "high"]
    assert out[f"{ID}.total"].tolist() == [0.0, 90.0]          # 90 content items, lie items excluded
    assert out[f"{ID}.total.band"].astype(str).tolist() == ["general", "key_attention"]
    assert out[f"{ID}.lie"].tolist() == [0.0, 10.0]
    assert out[f"{ID}.valid"].tolist() == [True, False]        # lie 10 >= 7 -> invalid


def test_lie_items_do_not_enter_the_total():
    out = score([yes(blank(), LIE)])
    assert out[f"{ID}.total"].iloc[0] == 0.0
    assert out[f"{ID}.impulsivity"].iloc[0] == 0.0             # odd items 81-99 only
    assert out[f"{ID}.lie"].iloc[0] == 10.0


@pytest.mark.parametrize("lie, valid", [(6, True), (7, False)])
def test_lie_rule_boundary(lie, valid):
    # "得分在7分以上者 ... 作废", read as >= 7 (code 68402812969): 6 valid, 7 invalid
    out = score([yes(blank(), LIE[:lie])])
    assert out[f"{ID}.lie"].iloc[0] == lie
    assert out[f"{ID}.valid"].iloc[0] == valid


@pytest.mark.parametrize("total, band", [
    (55, "general"), (56, "attention"),          # 56-64 needs attention (code 68402812969, single source)
    (64, "attention"), (65, "key_attention"),    # >= 65 (code 1107933596; 中国健康心理学杂志 2016)
])
def test_total_band_boundaries(total, band):
    out = score([yes(blank(), CONTENT[:total])])
    assert out[f"{ID}.total"].iloc[0] == total
    assert out[f"{ID}.total.band"].astype(str).iloc[0] == band
    assert out[f"{ID}.valid"].iloc[0] == True  # noqa: E712  (no lie item answered 是)


@pytest.mark.parametrize("scale", ["social_anxiety", "learning_anxiety", "somatic", "impulsivity"])
@pytest.mark.parametrize("raw, band", [(3, "low"), (4, "medium"), (7, "medium"), (8, "high")])
def test_content_scale_band_boundaries(scale, raw, band):
    # raw scores: <= 3 low ("3分以下"), 4-7 medium, >= 8 high ("8分以上"); same raw cut on 15-item scales
    out = score([yes(blank(), SOURCE_MAP[scale][:raw])])
    assert out[f"{ID}.{scale}"].iloc[0] == raw
    assert out[f"{ID}.{scale}.band"].astype(str).iloc[0] == band
    assert out[f"{ID}.total"].iloc[0] == raw


def test_missing_answer_is_missing_not_no():
    rows = np.stack([yes(blank(), CONTENT[:70]), blank()])
    rows[0, 0] = np.nan      # item 1 (学习焦虑) unanswered: that scale and the total are missing
    rows[1, 81] = np.nan     # item 82 (lie) unanswered: lie missing, validity unknown
    out = score(rows)
    assert np.isnan(out[f"{ID}.learning_anxiety"].iloc[0])
    assert np.isnan(out[f"{ID}.total"].iloc[0])          # not 69: a missing answer is not 0
    assert pd.isna(out[f"{ID}.total.band"].iloc[0])
    assert out[f"{ID}.social_anxiety"].iloc[0] == 10.0   # other scales still scored
    assert out[f"{ID}.learning_anxiety.answered"].iloc[0] == 14
    assert "learning_anxiety: 14 item(s) answered, needs 15 of 15" in out[f"{ID}.incomplete"].iloc[0]
    assert out[f"{ID}.valid"].iloc[0] == True  # noqa: E712
    assert np.isnan(out[f"{ID}.lie"].iloc[1])
    assert pd.isna(out[f"{ID}.valid"].iloc[1])           # unknown, not "valid"
    assert out[f"{ID}.total"].iloc[1] == 0.0
