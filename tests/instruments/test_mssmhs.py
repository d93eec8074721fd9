"""MSSMHS: hand-worked answer sheets traced to research/instruments.md section 5.

Every expected number below follows from the rule quoted beside it (1-5 coding; factor = sum / 6,
total = sum / 60; bands [1,2) [2,3) [3,4) [4,5) [5]), not from running psyscreen.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from psyscreen import scoring
from psyscreen.instrument import load_instrument

from ..sheets import answer_sheet

ID = "mssmhs"

# research/instruments.md section 5, "Factor item map" table, copied out independently of the YAML.
SOURCE_MAP = {
    "obsessive": [3, 10, 12, 22, 23, 48],               # 强迫症状
    "paranoid": [11, 20, 24, 26, 47, 49],               # 偏执
    "hostility": [19, 21, 25, 50, 52, 58],              # 敌对
    "interpersonal": [4, 17, 18, 45, 51, 59],           # 人际关系紧张与敏感
    "depression": [5, 13, 14, 16, 44, 57],              # 抑郁
    "anxiety": [6, 15, 34, 43, 46, 56],                 # 焦虑
    "study_pressure": [31, 33, 36, 38, 40, 55],         # 学习压力感
    "maladjustment": [1, 8, 9, 29, 39, 41],             # 适应不良
    "emotional_instability": [2, 7, 27, 32, 35, 53],    # 情绪不平衡
    "psychological_imbalance": [28, 30, 37, 42, 54, 60],  # 心理不平衡
}
BAND_CODES = ["none", "mild", "moderate", "marked", "severe"]


def sheet(rows) -> pd.DataFrame:
    return answer_sheet(ID, 60, rows)


def score(rows):
    return scoring.score(sheet(rows), [ID])


def factor_sheet(factor: str, total: int) -> np.ndarray:
    """All items 1 except `factor`, whose six answers sum to `total` (filled 5, 5, ... then the rest)."""
    row = np.ones(60)
    items = np.array(SOURCE_MAP[factor]) - 1
    extra = total - 6
    for j in items:
        add = min(4, extra)
        row[j] += add
        extra -= add
    assert extra == 0
    return row


def test_item_map_partitions_items_as_the_source_table():
    inst = load_instrument(ID)
    for factor, items in SOURCE_MAP.items():
        assert len(items) == 6
        assert sorted(inst.scale(factor).item_numbers) == items, factor
        assert inst.scale(factor).method == "mean"
    assert sorted(n for items in SOURCE_MAP.values() for n in items) == list(range(1, 61))
    assert inst.scale("total").item_numbers == tuple(range(1, 61))
    assert inst.scale("total").method == "mean"
    assert [o.code for o in inst.responses] == [1, 2, 3, 4, 5]
    assert not inst.licence.text_redistributable
    assert all(it.zh is None and it.en is None for it in inst.item_list)
    assert inst.critical == []                               # none defined


@pytest.mark.parametrize("value, band", [(1, "none"), (2, "mild"), (3, "moderate"), (4, "marked"), (5, "severe")])
def test_all_the_same_answer(value, band):
    # every item = v -> every factor mean v and 总均分 v (the research file's oracle: all-2 -> 2.00 -> 轻度)
    out = score(np.full((1, 60), value))
    for s in [*SOURCE_MAP, "total"]:
        assert out[f"{ID}.{s}"].iloc[0] == value
        assert out[f"{ID}.{s}.band"].astype(str).iloc[0] == band
    assert out[f"{ID}.attention"].iloc[0] == (value >= 2)


@pytest.mark.parametrize("factor", ["obsessive", "psychological_imbalance"])
@pytest.mark.parametrize("factor_sum, band", [
    (11, "none"), (12, "mild"),          # 11/6 = 1.83 < 2; 12/6 = 2.00 -> 轻度 "2-2.99"
    (17, "mild"), (18, "moderate"),      # 17/6 = 2.83; 18/6 = 3.00 -> 中等 "3-3.99"
    (23, "moderate"), (24, "marked"),    # 23/6 = 3.83; 24/6 = 4.00 -> 偏重 "4-4.99"
    (29, "marked"), (30, "severe"),      # 29/6 = 4.83; 30/6 = 5 -> 严重
])
def test_factor_band_boundaries(factor, factor_sum, band):
    out = score(factor_sheet(factor, factor_sum))
    assert out[f"{ID}.{factor}"].iloc[0] == pytest.approx(factor_sum / 6, abs=1e-12)
    assert out[f"{ID}.{factor}.band"].astype(str).iloc[0] == band
    # total = (54 + factor_sum) / 60: at most 84 / 60 = 1.4 -> "none"
    assert out[f"{ID}.total"].iloc[0] == pytest.approx((54 + factor_sum) / 60, abs=1e-12)
    assert out[f"{ID}.total.band"].astype(str).iloc[0] == "none"
    # "any factor >= 2 需要引起注意"
    assert out[f"{ID}.attention"].iloc[0] == (factor_sum >= 12)


@pytest.mark.parametrize("total_sum, band", [(119, "none"), (120, "mild"), (179, "mild"), (180, "moderate"),
                                             (239, "moderate"), (240, "marked"), (299, "marked"), (300, "severe")])
def test_total_mean_band_boundaries(total_sum, band):
    # spread total_sum over 60 items: q items at (base + 1), the rest at base
    base, q = divmod(total_sum, 60)
    row = np.full(60, float(base))
    row[:q] += 1
    assert row.sum() == total_sum and row.min() >= 1 and row.max() <= 5
    out = score(row)
    assert out[f"{ID}.total"].iloc[0] == pytest.approx(total_sum / 60, abs=1e-12)
    assert out[f"{ID}.total.band"].astype(str).iloc[0] == band


def test_missing_answer_is_missing_not_zero():
    row = np.full((2, 60), 2.0)
    row[0, 2] = np.nan                       # item 3 (强迫症状) unanswered
    row[1, :] = 1.0
    row[1, 2] = np.nan
    out = score(row)
    assert np.isnan(out[f"{ID}.obsessive"]).all()            # 5 of 6 answered: missing, not 10/6
    assert np.isnan(out[f"{ID}.total"]).all()                # 59 of 60: missing
    assert out[f"{ID}.obsessive.answered"].tolist() == [5, 5]
    assert "obsessive: 5 item(s) answered, needs 6 of 6" in out[f"{ID}.incomplete"].iloc[0]
    assert out[f"{ID}.paranoid"].tolist() == [2.0, 1.0]      # other factors still scored
    # sheet 1: another factor is known >= 2 -> attention; sheet 2: nothing known >= 2, one factor unknown -> NA
    assert out[f"{ID}.attention"].iloc[0] == True  # noqa: E712
    assert pd.isna(out[f"{ID}.attention"].iloc[1])
    assert pd.isna(out[f"{ID}.obsessive.band"].iloc[1])


def test_bands_are_the_published_ones():
    inst = load_instrument(ID)
    for s in inst.scales:
        got = [(b.code, b.lower, b.upper) for b in s.bands]
        assert got == [("none", ("ge", 1), ("lt", 2)), ("mild", ("ge", 2), ("lt", 3)),
                       ("moderate", ("ge", 3), ("lt", 4)), ("marked", ("ge", 4), ("lt", 5)),
                       ("severe", ("ge", 5), ("le", 5))], s.id
