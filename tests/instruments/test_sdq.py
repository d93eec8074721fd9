"""SDQ self-report answer sheets worked by hand from research/instruments.md section 6.2.

Rule (6.2): 25 items coded 0-2; items 7, 11, 14, 21, 25 reverse-scored (2-1-0); five 5-item scales; a scale is
prorated (mean of answered x 5, not rounded: the rounding step is UNCONFIRMED) when >= 3 of its 5 items are
answered; total difficulties = emotional + conduct + hyperactivity + peer, missing if any of the four is missing.
Bands: Du, Kou & Coghill 2008 Table 4, self-report.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import psyscreen

from ..sheets import answer_sheet, spread

ID, N = "sdq", 25

# The source's table, copied from research/instruments.md 6.2 (independently of instruments/sdq.yaml).
SOURCE_MAP = {
    "emotional": [3, 8, 13, 16, 24],
    "conduct": [5, 7, 12, 18, 22],
    "hyperactivity": [2, 10, 15, 21, 25],
    "peer": [6, 11, 14, 19, 23],
    "prosocial": [1, 4, 9, 17, 20],
}
SOURCE_REVERSED = {7, 11, 14, 21, 25}
DIFFICULTIES = ["emotional", "conduct", "hyperactivity", "peer"]


def sheet(rows) -> pd.DataFrame:
    return answer_sheet(ID, N, rows)


def scored(values: dict[int, float | None]) -> list[float]:
    """Raw answers giving the wanted *scored* value per item (reverse items answered 2 - value).

    Items not listed score 0 (so reverse items not listed are answered 2). None = not answered.
    """
    row = []
    for i in range(1, N + 1):
        v = values.get(i, 0)
        if v is None:
            row.append(np.nan)
        else:
            row.append(2 - v if i in SOURCE_REVERSED else v)
    return row


def fill(scale: str, total: int) -> dict[int, int]:
    """Scored values on a scale's items (2s first) summing to `total`."""
    return dict(zip(SOURCE_MAP[scale], spread(total, len(SOURCE_MAP[scale]), 2)))


def test_item_map_and_reverse_keys_as_the_source_table():
    inst = psyscreen.load_instrument(ID)
    for scale, items in SOURCE_MAP.items():
        assert sorted(inst.scale(scale).item_numbers) == sorted(items)
    assert sorted(n for v in SOURCE_MAP.values() for n in v) == list(range(1, N + 1))  # exact partition
    assert {it.number for it in inst.item_list if it.reverse} == SOURCE_REVERSED
    assert inst.scale("total_difficulties").of_scales == DIFFICULTIES  # prosocial excluded
    assert all(it.zh is None and it.en is None for it in inst.item_list)  # key only (Youthinmind)


def test_all_zero_and_all_two_answers():
    out = psyscreen.score(sheet([[0] * N, [2] * N]), ID)
    # all answers 0: reverse items score 2 -> conduct 2 (item 7), hyperactivity 4 (21, 25), peer 4 (11, 14),
    # emotional 0, prosocial 0; total difficulties 0 + 2 + 4 + 4 = 10
    # all answers 2: reverse items score 0 -> emotional 10, conduct 8, hyperactivity 6, peer 6, prosocial 10;
    # total 10 + 8 + 6 + 6 = 30
    expect = {"emotional": [0, 10], "conduct": [2, 8], "hyperactivity": [4, 6], "peer": [4, 6],
              "prosocial": [0, 10], "total_difficulties": [10, 30]}
    for s, v in expect.items():
        assert out[f"{ID}.{s}"].tolist() == [float(x) for x in v], s


def test_score_range_ends():
    # lowest difficulties: every difficulty item scores 0, prosocial scores 0 -> total 0, prosocial 0 (abnormal)
    # highest: every item scores 2 -> each scale 10, total 40
    out = psyscreen.score(sheet([scored({}), scored({i: 2 for i in range(1, N + 1)})]), ID)
    assert out[f"{ID}.total_difficulties"].tolist() == [0.0, 40.0]
    assert out[f"{ID}.total_difficulties.band"].astype(str).tolist() == ["normal", "abnormal"]
    assert out[f"{ID}.prosocial.band"].astype(str).tolist() == ["abnormal", "normal"]


# Du, Kou & Coghill 2008 self-report bands, each cut tested on both sides:
# emotional 0-4 / 5 / 6-10; conduct 0-3 / 4 / 5-10; hyperactivity 0-5 / 6 / 7-10; peer 0-4 / 5 / 6-10.
SCALE_BOUNDARIES = [
    ("emotional", 4, "normal"), ("emotional", 5, "borderline"), ("emotional", 6, "abnormal"),
    ("conduct", 3, "normal"), ("conduct", 4, "borderline"), ("conduct", 5, "abnormal"),
    ("hyperactivity", 5, "normal"), ("hyperactivity", 6, "borderline"), ("hyperactivity", 7, "abnormal"),
    ("peer", 4, "normal"), ("peer", 5, "borderline"), ("peer", 6, "abnormal"),
    # prosocial runs the other way: 6-10 normal / 5 borderline / 0-4 abnormal
    ("prosocial", 4, "abnormal"), ("prosocial", 5, "borderline"), ("prosocial", 6, "normal"),
]


@pytest.mark.parametrize("scale, value, band", SCALE_BOUNDARIES)
def test_scale_band_boundaries(scale, value, band):
    out = psyscreen.score(sheet([scored(fill(scale, value))]), ID)
    assert out.loc[0, f"{ID}.{scale}"] == value
    assert str(out.loc[0, f"{ID}.{scale}.band"]) == band


@pytest.mark.parametrize("total, band", [(14, "normal"), (15, "borderline"), (17, "borderline"), (18, "abnormal")])
def test_total_difficulties_band_boundaries(total, band):
    # total 0-14 normal / 15-17 borderline / 18-40 abnormal: spread the total over the four difficulty scales
    values, left = {}, total
    for s in DIFFICULTIES:
        part = min(10, left)
        values.update(fill(s, part))
        left -= part
    out = psyscreen.score(sheet([scored(values)]), ID)
    assert out.loc[0, f"{ID}.total_difficulties"] == total
    assert str(out.loc[0, f"{ID}.total_difficulties.band"]) == band


def test_prorating_limit_three_of_five():
    three = scored({3: 2, 8: 2, 13: 1, 16: None, 24: None})     # 3 answered, sum 5
    two = scored({3: 2, 8: 2, 13: None, 16: None, 24: None})    # 2 answered: below the limit
    four = scored({3: 1, 8: 1, 13: 1, 16: 0, 24: None})         # 4 answered, sum 3
    out = psyscreen.score(sheet([three, two, four]), ID)
    e = out[f"{ID}.emotional"].to_numpy()
    # 3 answered: rowMeans 5/3 x 5 = 8.333... (not rounded: rounding UNCONFIRMED) -> abnormal (>= 6)
    assert e[0] == pytest.approx(25 / 3, abs=1e-12)
    assert str(out.loc[0, f"{ID}.emotional.band"]) == "abnormal"
    # 2 answered: n_missing = 3, not < 3 -> missing, never the sum 4
    assert np.isnan(e[1])
    assert out.loc[1, f"{ID}.emotional.answered"] == 2
    # 4 answered: 3/4 x 5 = 3.75 -> normal (below 5)
    assert e[2] == pytest.approx(3.75, abs=1e-12)
    assert str(out.loc[2, f"{ID}.emotional.band"]) == "normal"


def test_prorating_keeps_reverse_keys():
    # conduct with item 7 (reverse) and 22 unanswered; 5, 12, 18 answered 1 -> mean 1 x 5 = 5 (abnormal)
    row = scored({5: 1, 7: None, 12: 1, 18: 1, 22: None})
    # and conduct with item 7 answered 0 (scores 2), items 5, 12 answered 0, 18 and 22 missing -> 2/3 x 5
    row2 = scored({5: 0, 7: 2, 12: 0, 18: None, 22: None})
    out = psyscreen.score(sheet([row, row2]), ID)
    assert out.loc[0, f"{ID}.conduct"] == pytest.approx(5.0)
    assert out.loc[1, f"{ID}.conduct"] == pytest.approx(10 / 3)
    assert sheet([row2]).loc[0, f"{ID}.7"] == 0  # the raw answer was 0, reversed to 2


def test_fractional_prorated_total_falls_in_the_band_it_has_reached():
    # emotional 4 answered, scored sum 3 -> 3.75; conduct 3, hyperactivity 5, peer 3 (all answered)
    # total = 3.75 + 3 + 5 + 3 = 14.75 -> normal (below 15: the half-open reading stated in sdq.yaml)
    values = {**fill("conduct", 3), **fill("hyperactivity", 5), **fill("peer", 3),
              3: 1, 8: 1, 13: 1, 16: 0, 24: None}
    # and the same with emotional 4 answered, scored sum 4 -> 5.0; total 16 -> borderline
    values2 = {**values, 16: 1}
    out = psyscreen.score(sheet([scored(values), scored(values2)]), ID)
    assert out[f"{ID}.total_difficulties"].tolist() == pytest.approx([14.75, 16.0])
    assert out[f"{ID}.total_difficulties.band"].astype(str).tolist() == ["normal", "borderline"]


def test_total_missing_when_any_difficulty_scale_is_missing_and_prosocial_does_not_count():
    # peer has only 2 answers -> peer missing -> total difficulties missing (never a total of three scales)
    no_peer = scored({6: 1, 11: 1, 14: None, 19: None, 23: None})
    # prosocial entirely unanswered -> prosocial missing, total difficulties still scored (prosocial excluded):
    # all other items score 0 -> total 0
    no_prosocial = scored({1: None, 4: None, 9: None, 17: None, 20: None})
    out = psyscreen.score(sheet([no_peer, no_prosocial]), ID)
    assert np.isnan(out.loc[0, f"{ID}.peer"])
    assert np.isnan(out.loc[0, f"{ID}.total_difficulties"])
    assert pd.isna(out.loc[0, f"{ID}.total_difficulties.band"])
    assert out.loc[0, f"{ID}.emotional"] == 0.0
    assert np.isnan(out.loc[1, f"{ID}.prosocial"])
    assert out.loc[1, f"{ID}.total_difficulties"] == 0.0
