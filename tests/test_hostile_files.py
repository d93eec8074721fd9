"""Hostile exports (tests/ugly/corpus.py): a file's trouble is that file's, never the run's; the reader's memory
is bounded before anything is unpacked; far-away values and a missing header row are never miscounted and never
disclosed."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from psyscreen import ingest
from psyscreen.cli import main
from psyscreen.ingest import UnreadableFileError, read_table, score_table
from psyscreen.screening import read_export

from .ugly.corpus import headerless, stray_cell, unpacks_to

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": f"{REPO / 'src'}{os.pathsep}{REPO}"}


def _screen(folder: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "psyscreen", "screen", str(folder), "--out", str(out),
                           "--wave", "2026-09", "--lang", "en", *extra], capture_output=True, text=True, env=ENV,
                          timeout=600)


def _inputs(out: Path) -> dict:
    return {f["file"]: f for f in json.loads((out / "manifest.json").read_text("utf-8"))["inputs"]}


def test_a_space_typed_in_xfd1048576_no_longer_aborts_the_run(tmp_path):
    folder = tmp_path / "exports"
    folder.mkdir()
    path, s, _ = stray_cell(folder, "stray_space.xlsx", 1048575, 16383, " ", n=30, seed=41)
    good, s2, _ = stray_cell(folder, "good.xlsx", 31, 0, "", n=20, seed=42)
    assert path.stat().st_size < 20_000
    done = _screen(folder, tmp_path / "out")  # a subprocess: python-calamine's abort would kill pytest
    assert done.returncode == 0, done.stderr[-2000:]
    assert "memory allocation" not in done.stderr
    files = _inputs(tmp_path / "out")
    assert files["stray_space.xlsx"]["status"] == "ok" and files["stray_space.xlsx"]["scored"] == len(s)
    assert files["good.xlsx"]["scored"] == len(s2)


def test_a_sheet_that_unpacks_beyond_the_limit_is_that_files_failure(tmp_path):
    folder = tmp_path / "exports"
    folder.mkdir()
    huge, _, _ = unpacks_to(folder, "huge.xlsx", ingest.MAX_SHEET_BYTES // 2**20 + 16)
    assert huge.stat().st_size < 2_000_000  # small on disk, hundreds of MB unpacked
    _, s, _ = stray_cell(folder, "good.xlsx", 31, 0, "", n=20, seed=43)
    done = _screen(folder, tmp_path / "out")
    assert done.returncode == 1  # one file not processed
    files = _inputs(tmp_path / "out")
    assert files["huge.xlsx"]["status"] == "unreadable"
    assert "sheet 'Sheet1'" in files["huge.xlsx"]["reason"] and "MB" in files["huge.xlsx"]["reason"]
    assert files["good.xlsx"]["scored"] == len(s)
    assert "huge.xlsx" in done.stdout + done.stderr


def test_the_size_check_reads_no_sheet_whole(tmp_path, monkeypatch):
    path, _, _ = unpacks_to(tmp_path, "big.xlsx", 64)
    monkeypatch.setattr(ingest, "MAX_SHEET_BYTES", 32 << 20)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(UnreadableFileError, match="unpacks to 64 MB"):
        read_table(path)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 32 * 1024  # KB: nothing unpacked
    monkeypatch.setattr(ingest, "MAX_SHEET_BYTES", 512 << 20)
    assert len(read_table(path).frame) == 2  # under the limit: read as usual


def test_declared_extent_beyond_the_cell_limit_is_refused_with_what_to_do(tmp_path, monkeypatch):
    path, _, _ = stray_cell(tmp_path, "far.xlsx", 1048575, 16383, "x", n=5)
    monkeypatch.setattr(ingest, "MAX_CELLS", 1000)  # a tiny limit: the far value's grid exceeds it
    with pytest.raises(UnreadableFileError) as info:
        read_table(path)
    assert "sheet 'Sheet1'" in str(info.value) and "Delete the rows and columns below" in str(info.value)


def _memory_and_count(path: Path) -> dict:
    code = textwrap.dedent(f"""
        import json, resource, time
        from psyscreen.screening import read_export
        from psyscreen.ingest import score_table
        t = time.time()
        raw = read_export({str(path)!r})[0]
        out = score_table(raw, ["phq9", "gad7"])
        print(json.dumps(dict(rows=out.ledger.rows_read, scored=out.ledger.rows_scored,
                              quarantined=out.ledger.rows_quarantined, lines=len(out.quarantine),
                              reasons=out.quarantine["reason"].tolist(), dropped=out.ledger.empty_rows_dropped,
                              mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, s=time.time() - t)))
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def test_a_lone_x_far_below_the_table_is_one_quarantined_row_not_a_million(tmp_path):
    path, s, _ = stray_cell(tmp_path, "x_below.xlsx", 1048575, 0, "x", n=30, seed=44)
    base, _, _ = stray_cell(tmp_path, "plain.xlsx", 31, 0, "", n=30, seed=44)
    got, plain = _memory_and_count(path), _memory_and_count(base)
    assert got["rows"] == len(s) + 1 and got["scored"] == len(s) and got["quarantined"] == 1
    assert got["lines"] == 1 and "below more than" in got["reasons"][0]
    assert got["dropped"] == 1048576 - (len(s) + 1) - 1  # the empty rows between, counted, not rows
    assert got["mb"] < plain["mb"] + 150 and got["s"] < 30  # was 3 GB and 1,048,524 quarantine lines


def test_interior_empty_rows_stay_rows_and_trailing_ones_are_dropped(tmp_path):
    import pandas as pd

    path = tmp_path / "gaps.csv"
    head = "学号," + ",".join(f"phq9.{i}" for i in range(1, 10))
    row = lambda sid: f"{sid}," + ",".join(["1"] * 9)  # noqa: E731
    path.write_text("\n".join([head, row("001"), ",,,,,,,,,,", row("002"), *([",,,,,,,,,,"] * 5)]) + "\n",
                    encoding="utf-8")
    raw = read_table(path)
    out = score_table(raw, ["phq9"])
    assert (out.ledger.rows_read, out.ledger.rows_scored, out.ledger.rows_quarantined) == (3, 2, 1)
    assert out.quarantine["reason"].tolist() == ["the row is empty"] and raw.empty_rows_dropped == 5
    far = tmp_path / "far.csv"
    far.write_text("\n".join([head, row("001"), *([",,,,,,,,,,"] * (ingest.MAX_EMPTY_RUN + 1)), row("002")]) + "\n",
                   encoding="utf-8")
    out = score_table(read_table(far), ["phq9"])
    assert (out.ledger.rows_read, out.ledger.rows_scored, out.ledger.rows_quarantined) == (2, 1, 1)
    assert pd.Series(out.quarantine["row"]).tolist() == [ingest.MAX_EMPTY_RUN + 4]


@pytest.mark.parametrize("name, answers_as", [("nohead.csv", "codes"), ("nohead.xlsx", "codes"),
                                              ("nohead_labels.csv", "labels")])
def test_an_export_without_its_header_row_is_stopped_without_showing_the_student(tmp_path, name, answers_as):
    folder = tmp_path / "exports"
    folder.mkdir()
    path, s, _ = headerless(folder, name, n=31, answers_as=answers_as)
    with pytest.raises(UnreadableFileError) as info:
        read_export(path)
    first_id, first_name = s["student_id"].iloc[0], s["name"].iloc[0]
    message = str(info.value)
    assert "row 1" in message and "header row" in message and "Add the header row" in message
    assert first_id not in message and first_name not in message
    key = tmp_path / "k.key"
    assert CliRunner().invoke(main, ["key", "new", str(key)]).exit_code == 0
    for extra in ((), ("--pseudonymise", str(key))):
        out = tmp_path / f"out{len(extra)}"
        res = CliRunner().invoke(main, ["screen", str(folder), "--out", str(out), "--wave", "2026-09", "--lang", "en",
                                        *extra])
        assert res.exit_code == 1
        files = _inputs(out)
        assert files[name]["status"] == "unreadable" and "header row" in files[name]["reason"]
        assert first_id not in res.output and first_name not in res.output
        for written in out.rglob("*"):
            if written.is_file() and written.suffix in (".csv", ".json", ".html"):
                text = written.read_text("utf-8", errors="replace")
                assert first_id not in text and first_name not in text, written


def test_headers_that_are_item_numbers_stay_headers(tmp_path):
    path = tmp_path / "numbered.csv"
    heads = ["学号", "姓名"] + [str(i) for i in range(1, 10)] + [str(i) for i in range(1, 8)]
    path.write_text(",".join(heads) + "\n" + ",".join(["0070001", "张三"] + ["1"] * 16) + "\n", encoding="utf-8")
    raw = read_table(path)
    assert raw.header_row == 1 and len(raw.frame) == 1
