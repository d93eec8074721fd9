"""RCADS answer sheets worked by hand from research/instruments.md section 6.9.

Rule (6.9): 47 items coded 0 (Never) - 3 (Always); six scales; total anxiety = sum of the five anxiety scales;
total = all 47 items. Raw scores only (T-score norms UNCONFIRMED). No published missing-item rule: all needed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

import psyscreen

from ..sheets import answer_sheet

ID, N = "rcads", 47

# The source's table, copied from research/instruments.md 6.9 (independently of instruments/rcads.yaml).
SOURCE_MAP = {
    "separation_anxiety": [5, 9, 17, 18, 33, 45, 46],
    "generalized_anxiety": [1, 13, 22, 27, 35, 37],
    "panic": [3, 14, 24, 26, 28, 34, 36, 39, 41],
    "social_phobia": [4, 7, 8, 12, 20, 30, 32, 38, 43],
    "ocd": [10, 16, 23, 31, 42, 44],
    "depression": [2, 6, 11, 15, 19, 21, 25, 29, 40, 47],
}
ANXIETY = ["separation_anxiety", "generalized_anxiety", "panic", "social_phobia", "ocd"]


def sheet(rows) -> pd.DataFrame:
    return answer_sheet(ID, N, rows)


def test_item_map_partitions_items_as_the_source_table():
    inst = psyscreen.load_instrument(ID)
    for scale, items in SOURCE_MAP.items():
        assert sorted(inst.scale(scale).item_numbers) == sorted(items)
    assert sorted(n for v in SOURCE_MAP.values() for n in v) == list(range(1, N + 1))
    assert 33 in inst.scale("separation_anxiety").item_numbers and 36 in inst.scale("panic").item_numbers
    assert not any(it.reverse for it in inst.item_list)


def test_all_minimum_and_all_maximum():
    out = psyscreen.score(sheet([[0] * N, [3] * N]), ID)
    for scale, items in SOURCE_MAP.items():
        assert out[f"{ID}.{scale}"].tolist() == [0.0, 3.0 * len(items)]
    # total anxiety = 3 x (7 + 6 + 9 + 9 + 6) = 111; total = 3 x 47 = 141
    assert out[f"{ID}.total_anxiety"].tolist() == [0.0, 111.0]
    assert out[f"{ID}.total"].tolist() == [0.0, 141.0]


def test_each_scale_reads_only_its_items():
    # each scale's items answered with one code: separation 1, gad 2, panic 3, social 1, ocd 2, depression 3
    codes = dict(zip(SOURCE_MAP, [1, 2, 3, 1, 2, 3]))
    row = [0] * N
    for scale, items in SOURCE_MAP.items():
        for i in items:
            row[i - 1] = codes[scale]
    out = psyscreen.score(sheet([row]), ID)
    expected = {s: codes[s] * len(items) for s, items in SOURCE_MAP.items()}
    # separation 7, gad 12, panic 27, social 9, ocd 12, depression 30
    assert expected == {"separation_anxiety": 7, "generalized_anxiety": 12, "panic": 27, "social_phobia": 9,
                        "ocd": 12, "depression": 30}
    for s, v in expected.items():
        assert out.loc[0, f"{ID}.{s}"] == v
    assert out.loc[0, f"{ID}.total_anxiety"] == 7 + 12 + 27 + 9 + 12   # 67
    assert out.loc[0, f"{ID}.total"] == 67 + 30                         # 97 = sum of all 47 answers
    assert sum(row) == 97


def test_missing_answer_is_never_scored_as_zero():
    row = [1.0] * N
    row[35] = np.nan  # item 36 (panic) unanswered
    out = psyscreen.score(sheet([row]), ID)
    assert np.isnan(out.loc[0, f"{ID}.panic"])
    assert np.isnan(out.loc[0, f"{ID}.total_anxiety"])
    assert np.isnan(out.loc[0, f"{ID}.total"])
    assert out.loc[0, f"{ID}.depression"] == 10.0   # complete: 10 x 1
    assert out.loc[0, f"{ID}.ocd"] == 6.0
