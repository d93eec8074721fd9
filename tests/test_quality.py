"""Duplicates (latest scorable submission kept), longstring and too-fast flags (hand-worked cases)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from psyscreen.quality import longest_run, longstring, parse_duration, resolve_duplicates, too_fast


def test_latest_submission_kept():
    ids = pd.Series(["a", "b", "a", "a", None, None])
    t = pd.Series(["2026-09-10 09:00", "2026-09-10 09:00", "2026-09-10 11:00", "2026-09-10 10:00", None, None])
    d = resolve_duplicates(ids, submitted_at=t)
    assert d.keep.tolist() == [False, True, True, False, True, True]  # rows without id are never duplicates
    assert d.table["position"].tolist() == [0, 3]
    assert d.table["kept_position"].tolist() == [2, 2]
    assert d.n_set_aside == 2


def test_without_times_the_later_row_wins_and_order_breaks_ties():
    ids = pd.Series(["x", "x", "y", "y"])
    assert resolve_duplicates(ids).keep.tolist() == [False, True, False, True]
    # order says row 0 came later (e.g. from a later file)
    assert resolve_duplicates(ids, order=[9, 1, 2, 3]).keep.tolist() == [True, False, False, True]


def test_scorable_submission_preferred_over_a_later_one_with_a_problem():
    ids = pd.Series(["x", "x", "z", "z"])
    t = pd.Series(["2026-09-10 09:00", "2026-09-10 10:00", "2026-09-10 09:00", "2026-09-10 10:00"])
    d = resolve_duplicates(ids, submitted_at=t, ok=[True, False, False, False])
    assert d.keep.tolist() == [True, False, False, True]  # z: none scorable -> the latest is kept (to quarantine)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", "c", None]), min_size=0, max_size=30))
def test_one_row_kept_per_id(ids):
    s = pd.Series(ids, dtype="string")
    d = resolve_duplicates(s)
    kept = s[d.keep]
    assert kept.dropna().is_unique
    assert set(kept.dropna()) == set(s.dropna())
    assert d.n_set_aside == s.notna().sum() - s.dropna().nunique()


def test_longest_run_by_hand():
    items = pd.DataFrame([[1, 1, 1, 2, 2, np.nan, 2],
                          [0, 0, 0, 0, 0, 0, 0],
                          [3, 3, 3, 3, 3, 3, 3]], columns=[f"i{k}" for k in range(7)])
    assert longest_run(items, ignore_floor=False).tolist() == [3, 7, 7]
    assert longest_run(items, floors=[0] * 7).tolist() == [3, 0, 7]  # the floor (0) breaks runs
    assert longstring(items, min_run=7, floors=[0] * 7).tolist() == [False, False, True]
    assert longstring(items, min_run=7, ignore_floor=False).tolist() == [False, True, True]


@pytest.mark.parametrize("text, secs", [("245", 245), ("245秒", 245), ("245s", 245), ("4分5秒", 245),
                                        ("4分钟5秒", 245), ("00:04:05", 245), ("4:05", 245), ("1小时", 3600),
                                        ("３分", 180), ("12.5", 12.5)])
def test_durations(text, secs):
    assert parse_duration(pd.Series([text])).iloc[0] == pytest.approx(secs)


def test_unreadable_duration_is_nan_and_not_flagged():
    d = pd.Series(["很快", None, "20秒", "40秒"])
    assert np.isnan(parse_duration(d).iloc[0])
    assert too_fast(d, n_items=16).tolist() == [False, False, True, False]  # 16 items x 2 s = 32 s
    assert too_fast(d, n_items=16, seconds_per_item=3).tolist() == [False, False, True, True]
    assert too_fast(pd.Series([31.0, 32.0]), n_items=16).tolist() == [True, False]
