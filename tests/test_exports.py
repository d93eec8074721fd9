"""``psyscreen.read_exports``: the notebook reads exports exactly as ``psyscreen screen`` does."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import psyscreen
from psyscreen.exports import EXPORT_LEDGER_COLUMNS, ExportsError, ExportsWarning, read_exports

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
MAP = SAMPLE / "column_map.csv"


@pytest.fixture(scope="module")
def september():
    return read_exports(SAMPLE / "2026-09", protocol="default", column_map=MAP)


def test_the_frame_is_the_screened_wave(september, tmp_path):
    res = psyscreen.screen(SAMPLE / "2026-09", protocol="default", wave="2026-09", out=tmp_path / "out",
                           column_map=MAP, reports=False, workers=1)
    students = pd.read_parquet(res.paths["students"])
    frame = september.frame
    assert september.ok and len(frame) == res.totals["scored"] == len(students)
    # same students, with the same demographic coding as the screening gives them
    mine = frame.set_index("student_id")[["school", "grade", "class", "sex"]].sort_index()
    theirs = students.set_index("student_key")[["school", "grade", "class", "sex"]].sort_index()
    mine.index.name = theirs.index.name = None
    pd.testing.assert_frame_equal(mine, theirs, check_dtype=False)
    # the item columns score to the screening's totals
    scores = psyscreen.score(frame, ["phq9", "gad7"])
    got = pd.Series(scores["phq9.total"].to_numpy(), index=frame["student_id"]).sort_index()
    want = pd.Series(students["phq9.total"].to_numpy(), index=students["student_key"]).sort_index()
    np.testing.assert_array_equal(got.to_numpy(), want.to_numpy())
    # the ledger balances per file and matches screen's
    led = september.ledger
    assert list(led.columns) == list(EXPORT_LEDGER_COLUMNS)
    assert (led["rows"] == led["kept"] + led["quarantined"] + led["duplicates"]).all()
    assert led["kept"].tolist() == res.ledger["scored"].tolist()
    assert led["quarantined"].tolist() == res.ledger["quarantined"].tolist()
    assert len(september.quarantine) and set(september.quarantine["file"]) <= set(led["file"])
    assert len(september.duplicates) == res.totals["duplicates"]


def test_frame_columns_and_codings(september):
    f = september.frame
    assert f.columns[:6].tolist() == ["student_id", "name", "school", "grade", "class", "sex"]
    assert f.columns[-3:].tolist() == ["file", "sheet", "row"]
    assert september.item_columns == [c for c in f.columns if c.startswith(("phq9.", "gad7."))]
    assert set(f["sex"].dropna()) == {"F", "M"} and str(f["grade"].dtype) == "Int64"
    assert september.items("phq9").columns.tolist()[:9] == [f"phq9.{i}" for i in range(1, 10)]
    assert "phq9.10" in f.columns and "phq9.10" not in september.items("phq9")  # not scored
    assert september.to_frame() is f and september.instruments == ("phq9", "gad7")


def test_instruments_instead_of_a_protocol_and_a_dict_map(tmp_path):
    export = tmp_path / "a.csv"
    rows = ["学号,性别,年级," + ",".join(f"Q{i}" for i in range(1, 10)),
            "001,女,初一," + ",".join(["1"] * 9), "002,男,7," + ",".join(["2"] * 9)]
    export.write_text("\n".join(rows) + "\n", encoding="utf-8")
    got = read_exports(export, instruments=["phq9"], column_map={f"Q{i}": f"phq9.{i}" for i in range(1, 10)})
    assert got.frame["student_id"].tolist() == ["001", "002"]
    assert got.frame["sex"].tolist() == ["F", "M"] and got.frame["grade"].tolist() == [7, 7]
    assert got.frame["school"].tolist() == ["a", "a"]  # no school column: the file's name, as screen does
    assert got.instruments == ("phq9",)


def test_a_partial_read_warns_and_says_which_files(tmp_path):
    with pytest.warns(ExportsWarning, match="2 of 4 file") as caught:
        got = read_exports(SAMPLE / "2026-09", protocol="default", maps_dir=tmp_path / "maps")  # no map
    assert not got.ok and (got.ledger["status"] == "stopped").sum() == 2
    assert got.ledger.loc[got.ledger["status"] == "stopped", "kept"].eq(0).all()
    assert (tmp_path / "maps").is_dir()  # the suggested maps, named in the reason
    text = str(caught[0].message)
    assert not any(s in text for s in got.frame["student_id"].head(50))


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ExportsError, match="not found"):
        read_exports(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ExportsError, match="no export file"):
        read_exports(tmp_path / "empty")
    with pytest.raises(ExportsError, match="say what to read"):
        read_exports(SAMPLE / "2026-09", protocol=None)


def test_a_blank_sheet_and_a_broken_file_are_read_as_screen_reads_them(tmp_path):
    """The same per-file reader as screen: a row with no answer is not screened, a failing file is that file's."""
    folder = tmp_path / "2026-09"
    folder.mkdir()
    head = "学号,姓名,学校,年级,班级,性别," + ",".join(f"phq9.{i}" for i in range(1, 10)) + "," + \
        ",".join(f"gad7.{i}" for i in range(1, 8))
    answered = ",".join(["1"] * 16)
    blank = ",".join([""] * 16)
    (folder / "一中.csv").write_text(f"{head}\n0001,甲,一中,8,1,男,{answered}\n0002,乙,一中,8,1,女,{blank}\n",
                                     encoding="utf-8")
    (folder / "坏.xlsx").write_bytes(b"PK\x03\x04 not a workbook")
    with pytest.warns(ExportsWarning):
        got = read_exports(folder, protocol="default")
    assert got.frame["student_id"].tolist() == ["0001"]
    led = got.ledger.set_index("file")
    assert led.loc["一中.csv", "quarantined"] == 1 and led.loc["坏.xlsx", "status"] == "unreadable"
    assert got.quarantine["reason"].str.contains("not screened").any()


def test_a_row_without_a_school_takes_its_files_school_or_the_file_name():
    from psyscreen.screening import fill_school

    school = pd.Series(["一中", None, "一中", None, None], dtype="string")
    files = np.array([0, 0, 0, 1, 1])
    got = fill_school(school, files, ["一中导出", "二中"])
    assert got.tolist() == ["一中", "一中", "一中", "二中", "二中"]
