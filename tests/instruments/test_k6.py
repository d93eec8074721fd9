"""K6 answer sheets worked by hand from research/instruments.md section 6.5.

Rule (6.5): 6 items coded 0-4, total 0-24; >= 13 probable serious mental illness (Kessler 2003; INSPQ; IPUMS
PDISTRESSK6); >= 5 moderate distress (Prochaska 2012). No published missing-item rule: all 6 answers needed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import psyscreen

from ..sheets import answer_sheet, spread

ID, N = "k6", 6


def sheet(rows) -> pd.DataFrame:
    return answer_sheet(ID, N, rows)


def with_total(total: int) -> list[int]:
    return spread(total, N, 4)


def test_key_as_the_source():
    inst = psyscreen.load_instrument(ID)
    assert [o.code for o in inst.responses] == [0, 1, 2, 3, 4]
    assert sorted(inst.scale("total").item_numbers) == list(range(1, 7))
    assert not any(it.reverse for it in inst.item_list)
    assert all(it.zh is None and it.en is None for it in inst.item_list)


def test_all_minimum_and_all_maximum():
    out = psyscreen.score(sheet([[0] * N, [4] * N]), ID)
    assert out[f"{ID}.total"].tolist() == [0.0, 24.0]  # 6 x 0; 6 x 4
    assert out[f"{ID}.total.band"].astype(str).tolist() == ["low", "serious"]
    assert out[f"{ID}.probable_smi"].tolist() == [False, True]


@pytest.mark.parametrize(
    "total, band, smi",
    [
        (4, "low", False), (5, "moderate", False),        # Prochaska >= 5
        (12, "moderate", False), (13, "serious", True),   # Kessler >= 13
    ],
)
def test_cutoffs_both_sides(total, band, smi):
    out = psyscreen.score(sheet([with_total(total)]), ID)
    assert out.loc[0, f"{ID}.total"] == total
    assert str(out.loc[0, f"{ID}.total.band"]) == band
    assert bool(out.loc[0, f"{ID}.probable_smi"]) is smi


def test_missing_answer_is_never_scored_as_zero():
    out = psyscreen.score(sheet([[4, 4, 4, 4, 4, None]]), ID)
    # 5 answered summing 20 would pass 13; the total is missing instead and the flag is undecided (NA)
    assert np.isnan(out.loc[0, f"{ID}.total"])
    assert pd.isna(out.loc[0, f"{ID}.probable_smi"])


def test_one_to_five_coding_is_rejected():
    with pytest.raises(psyscreen.ResponseError):
        psyscreen.score(sheet([[5] * N]), ID)
