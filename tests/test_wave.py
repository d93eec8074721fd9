"""Wave labels (YYYY-MM only), the run's completeness notice, and file names that are safe and unique."""

from __future__ import annotations

import pytest

from psyscreen.io import file_name, unique_file_names
from psyscreen.wave import NotProcessed, RunInfo, WaveError, parse_wave, wave_label


@pytest.mark.parametrize("bad", ["sept", "2026/09", "2026-9", "2026-13", "2026-00", "26-09", "", "2026-09-01"])
def test_wave_refuses_other_forms_with_the_expected_one(bad):
    with pytest.raises(WaveError, match="YYYY-MM"):
        parse_wave(bad)


def test_wave_labels_as_written():
    assert wave_label("2026-03", "zh") == "2026年3月"
    assert wave_label("2026-09", "en") == "September 2026"


def test_notice_names_the_files_and_rows_not_read():
    info = RunInfo("2026-09", status="incomplete", not_processed=(NotProcessed("a.csv", "stopped", 10),
                                                                  NotProcessed("b.xlsx", "unreadable", 5)))
    assert "a.csv" in info.notice("en") and "b.xlsx" in info.notice("en") and "15 row(s)" in info.notice("en")
    assert RunInfo("2026-09").notice("zh") is None
    assert RunInfo.from_dict(info.to_dict()) == info
    with pytest.raises(ValueError):
        RunInfo("2026-09", status="done")


def test_file_names_are_safe_and_bounded_in_bytes():
    assert file_name("..") == "_" and file_name("NUL") == "NUL_" and file_name("com1.txt") == "com1.txt_"
    assert "\u202e" not in file_name("abc\u202etxt")
    long = "第" * 200
    assert len(file_name(long).encode("utf-8")) <= 120


def test_unique_file_names_never_merge_two_labels():
    labels = [".", "..", "A/B中学", "A_B中学", "a_b中学", "学校$\\foo$", "X" * 300, "X" * 301]
    names = unique_file_names(labels)
    assert len(set(n.casefold() for n in names.values())) == len(labels)
    assert unique_file_names(["A/B中学", "A_B中学"])["A/B中学"] == names["A/B中学"]  # stable across calls
    assert all(len(n.encode("utf-8")) <= 120 for n in names.values())
