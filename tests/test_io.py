"""io.write_table (formats, BOM, atomic replace) and privacy.safe_cell / safe_frame (formula injection)."""

from __future__ import annotations

import os

import numpy as np
import openpyxl
import pandas as pd
import pytest

import psyscreen.io as pio
from psyscreen.io import UnsupportedFormatError, atomic_write, write_table
from psyscreen.privacy import safe_cell, safe_frame

DANGEROUS = ["=1+2", "+SUM(A1:A2)", "-2+3", "@SUM(A1)", "=HYPERLINK(\"http://evil\",\"x\")", "\t=1"]


def frame():
    return pd.DataFrame({
        "student_id": pd.Series(["00123", "04567", "00009"], dtype="string"),
        "name": ["张三", "=cmd|' /C calc'!A0", None],
        "phq9.total": [7.0, np.nan, -1.0],
    })


# ---- safe_cell / safe_frame --------------------------------------------------------------------

@pytest.mark.parametrize("text", DANGEROUS)
def test_safe_cell_prefixes_formula_text(text):
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize("value", ["张三", "00123", "a=b", "", "1-2", 3, -3.5, None, True])
def test_safe_cell_leaves_other_values(value):
    assert safe_cell(value) is value or safe_cell(value) == value


def test_safe_frame_text_columns_only_and_headers():
    df = pd.DataFrame({
        "=bad header": ["=1", "ok"],
        "obj": pd.Series(["+1", 5], dtype=object),
        "str": pd.Series(["@x", None], dtype="string"),
        "cat": pd.Categorical(["-x", "y"]),
        "num": [-1.0, -2.0],
    })
    out = safe_frame(df)
    assert list(out.columns)[0] == "'=bad header"
    assert out.iloc[:, 0].tolist() == ["'=1", "ok"]
    assert out["obj"].tolist() == ["'+1", 5]
    assert out["str"].iloc[0] == "'@x" and pd.isna(out["str"].iloc[1])
    assert out["cat"].astype(str).tolist() == ["'-x", "y"]
    assert out["num"].tolist() == [-1.0, -2.0] and out["num"].dtype == float
    assert df.iloc[0, 0] == "=1"  # the input is not modified


# ---- formats -----------------------------------------------------------------------------------

def test_csv_has_bom_keeps_chinese_and_leading_zeros(tmp_path):
    path = write_table(frame(), tmp_path / "out.csv")
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    back = pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert back["student_id"].tolist() == ["00123", "04567", "00009"]
    assert back["name"].iloc[0] == "张三"


def test_csv_formula_cell_written_inert(tmp_path):
    path = write_table(frame(), tmp_path / "out.csv")
    text = path.read_text(encoding="utf-8-sig")
    lines = text.splitlines()
    assert lines[2].split(",")[1].startswith("'=cmd")
    assert not any(cell.startswith(("=", "+", "@")) for line in lines for cell in line.split(","))


def test_xlsx_formula_cell_is_text_not_formula(tmp_path):
    df = pd.DataFrame({"note": DANGEROUS, "score": np.arange(len(DANGEROUS)) - 2.0,
                       "student_id": ["00123"] * len(DANGEROUS)})
    path = write_table(df, tmp_path / "out.xlsx")
    ws = openpyxl.load_workbook(path).active
    notes = [ws.cell(row=r, column=1) for r in range(2, len(DANGEROUS) + 2)]
    assert all(c.data_type == "s" for c in notes)  # 's' = string; a formula would be 'f'
    assert [c.value for c in notes] == ["'" + t for t in DANGEROUS]
    scores = [ws.cell(row=r, column=2).value for r in range(2, len(DANGEROUS) + 2)]
    assert scores == list(np.arange(len(DANGEROUS)) - 2.0)  # numbers stay numbers, negatives included
    assert ws.cell(row=2, column=3).value == "00123" and ws.cell(row=2, column=3).data_type == "s"
    assert not any(c.data_type == "f" for row in ws.iter_rows() for c in row)


def test_parquet_round_trip_unescaped(tmp_path):
    df = frame()
    path = write_table(df, tmp_path / "out.parquet")
    back = pd.read_parquet(path)
    assert back["name"].iloc[1] == df["name"].iloc[1]  # parquet is not a spreadsheet: values as they are
    assert back["student_id"].tolist() == ["00123", "04567", "00009"]


def test_unsupported_extension(tmp_path):
    with pytest.raises(UnsupportedFormatError, match=r"\.json"):
        write_table(frame(), tmp_path / "out.json")
    assert not (tmp_path / "out.json").exists()


# ---- atomicity ---------------------------------------------------------------------------------

def _crash_mid_write(frame, path):
    with open(path, "wb") as fh:
        fh.write(b"\xef\xbb\xbfstudent_id,na")  # half a file
        fh.flush()
    raise OSError("disk full (simulated)")


def test_crash_mid_write_leaves_old_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "out.csv"
    path.write_text("old,content\n", encoding="utf-8")
    monkeypatch.setitem(pio._WRITERS, ".csv", _crash_mid_write)
    with pytest.raises(OSError, match="simulated"):
        write_table(frame(), path)
    assert path.read_text(encoding="utf-8") == "old,content\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]  # no temp file left behind


def test_crash_mid_write_leaves_no_file(tmp_path, monkeypatch):
    monkeypatch.setitem(pio._WRITERS, ".csv", _crash_mid_write)
    with pytest.raises(OSError):
        write_table(frame(), tmp_path / "new.csv")
    assert list(tmp_path.iterdir()) == []


def test_failure_at_replace_keeps_old_file(tmp_path, monkeypatch):
    path = tmp_path / "out.xlsx"
    write_table(pd.DataFrame({"a": [1]}), path)
    before = path.read_bytes()

    def broken_replace(src, dst):
        raise OSError("power cut (simulated)")

    monkeypatch.setattr(pio.os, "replace", broken_replace)
    with pytest.raises(OSError, match="simulated"):
        write_table(frame(), path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.xlsx"]


def test_atomic_write_replaces_and_fsyncs(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(pio.os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    path = tmp_path / "x.csv"
    path.write_text("old")
    atomic_write(path, lambda tmp: tmp.write_text("new"))
    assert path.read_text() == "new"
    assert synced  # the data was flushed to disk before the rename


def test_atomic_write_gives_the_usual_permissions(tmp_path):
    import os

    from psyscreen.io import atomic_write

    old = os.umask(0o027)
    try:
        path = atomic_write(tmp_path / "out.txt", lambda p: p.write_text("x"))
    finally:
        os.umask(old)
    assert (path.stat().st_mode & 0o777) == 0o640
