"""``psyscreen score``: CliRunner and a real subprocess (``python -m psyscreen score``)."""

from __future__ import annotations

import os
import subprocess
import sys

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner

from psyscreen.cli import main

NAMES = ["张三", "李四", "王五"]
IDS = ["00123", "00456", "07890"]
HEADERS = ["学号", "姓名", "班级"] + [f"第{i}题" for i in range(1, 10)] + [f"G{i}" for i in range(1, 8)]


def _rows():
    return [
        HEADERS,
        [IDS[0], NAMES[0], "1班"] + ["1"] * 9 + ["2"] * 7,                    # phq9 9, gad7 14
        [IDS[1], NAMES[1], "1班"] + ["几乎每天"] * 9 + ["Not at all"] * 7,    # phq9 27, gad7 0
        [IDS[2], NAMES[2], "2班"] + ["0"] * 8 + ["maybe-later"] + ["1"] * 7,  # quarantined (item 9)
    ]


@pytest.fixture
def files(tmp_path):
    export = tmp_path / "school_a.csv"
    export.write_bytes(("\r\n".join(",".join(r) for r in _rows()) + "\r\n").encode("gbk"))
    cmap = tmp_path / "map.csv"
    lines = ["source,target"] + [f"第{i}题,phq9.{i}" for i in range(1, 10)] + [f"G{i},gad7.{i}" for i in range(1, 8)]
    cmap.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return export, cmap


def _no_student_data(text):
    return not any(s in text for s in NAMES + IDS + ["maybe-later"])


def test_score_csv_output_and_quarantine(tmp_path, files):
    export, cmap = files
    out = tmp_path / "scores.csv"
    res = CliRunner().invoke(main, ["score", str(export), "-i", "phq9", "-i", "gad7", "--map", str(cmap), "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "school_a.csv" in res.output and "quarantine" in res.output
    assert _no_student_data(res.output)
    table = pd.read_csv(out, encoding="utf-8-sig", dtype={"student_id": str})
    assert table["student_id"].tolist() == IDS[:2]
    assert table["phq9.total"].tolist() == [9.0, 27.0] and table["gad7.total"].tolist() == [14.0, 0.0]
    cols = list(table.columns)
    assert cols[:5] == ["file", "row", "student_id", "name", "class"]
    assert cols.index("class") < cols.index("phq9.total") < cols.index("gad7.total")
    assert not any(c in cols for c in ("phq9.1", "gad7.7"))  # no item answers without --keep-items
    q = pd.read_csv(tmp_path / "scores.quarantine.csv", encoding="utf-8-sig")
    assert q[["row", "column", "value"]].to_dict("records") == [{"row": 4, "column": "第9题", "value": "maybe-later"}]
    assert "reason" in q.columns and q["file"].iloc[0] == str(export)


def test_summary_counts_per_file_and_total(tmp_path, files):
    export, cmap = files
    xlsx = tmp_path / "school_b.xlsx"
    wb = openpyxl.Workbook()
    for r in _rows()[:3]:
        wb.active.append(r)
    wb.save(xlsx)
    out = tmp_path / "scores.xlsx"
    res = CliRunner().invoke(main, ["score", str(export), str(xlsx), "-i", "phq9", "-i", "gad7", "--map", str(cmap),
                                    "-o", str(out)])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    row_a = next(ln for ln in lines if "school_a.csv" in ln)
    row_b = next(ln for ln in lines if "school_b.xlsx" in ln)
    total = next(ln for ln in lines if "total" in ln and "│" in ln)
    assert [c.strip() for c in row_a.split("│")[-4:-1]] == ["3", "2", "1"]
    assert [c.strip() for c in row_b.split("│")[-4:-1]] == ["2", "2", "0"]
    assert [c.strip() for c in total.split("│")[-4:-1]] == ["5", "4", "1"]
    back = pd.read_excel(out, engine="calamine", dtype={"student_id": str})
    assert len(back) == 4 and back["student_id"].tolist() == IDS[:2] * 2
    assert (tmp_path / "scores.quarantine.xlsx").exists()


def test_keep_items_and_parquet_output(tmp_path, files):
    export, cmap = files
    out = tmp_path / "scores.parquet"
    res = CliRunner().invoke(main, ["score", str(export), "-i", "phq9", "--map", str(cmap), "-o", str(out), "--keep-items"])
    assert res.exit_code == 0, res.output
    table = pd.read_parquet(out)
    assert table["phq9.9"].tolist() == [1.0, 3.0]
    assert table["student_id"].tolist() == IDS[:2]
    assert (tmp_path / "scores.quarantine.csv").exists()  # a person fixes it: never parquet


def test_formula_in_an_export_is_inert_in_the_output(tmp_path, files):
    export, cmap = files
    rows = _rows()
    rows[1][1] = "=HYPERLINK(\"http://x\")"
    export.write_bytes(("\r\n".join(",".join(r) for r in rows) + "\r\n").encode("gbk"))
    out = tmp_path / "scores.xlsx"
    res = CliRunner().invoke(main, ["score", str(export), "-i", "phq9", "--map", str(cmap), "-o", str(out)])
    assert res.exit_code == 0, res.output
    ws = openpyxl.load_workbook(out).active
    header = [c.value for c in ws[1]]
    cell = ws.cell(row=2, column=header.index("name") + 1)
    assert cell.data_type == "s" and cell.value.startswith("'=")


@pytest.mark.parametrize("args,needle", [
    (["-i", "phq9"], "phq9: 9 item column(s) missing"),         # no map
    (["-i", "nosuch", "--map", "{map}"], "no shipped instrument 'nosuch'"),
    (["-i", "phq9", "--map", "{badmap}"], "line 2"),
])
def test_fatal_errors_one_line_no_traceback(tmp_path, files, args, needle):
    export, cmap = files
    bad = tmp_path / "bad.csv"
    bad.write_text("source,target\n第1题,phq 9 . one\n", encoding="utf-8")
    args = [a.format(map=cmap, badmap=bad) for a in args]
    out = tmp_path / "scores.csv"
    res = CliRunner().invoke(main, ["score", str(export), *args, "-o", str(out)])
    assert res.exit_code != 0
    assert needle in res.output
    assert "Traceback" not in res.output
    error_lines = [ln for ln in res.output.splitlines() if ln.startswith("Error:")]
    assert len(error_lines) == 1
    assert _no_student_data(res.output)
    assert not out.exists()


def test_unsupported_output_extension(tmp_path, files):
    export, cmap = files
    res = CliRunner().invoke(main, ["score", str(export), "-i", "phq9", "--map", str(cmap), "-o", str(tmp_path / "x.json")])
    assert res.exit_code != 0 and ".csv, .xlsx, .parquet" in res.output


def test_protocol_adds_level_and_reasons(tmp_path, files, monkeypatch):
    export, cmap = files
    calls = {}

    def classify(scores, protocol):
        calls["columns"] = list(scores.columns)
        calls["protocol"] = protocol
        level = scores["phq9.total"].ge(20).map({True: "level1", False: "none"})
        return pd.DataFrame({"level": level, "reasons": level.map({"level1": "PHQ-9 total >= 20", "none": ""})})

    monkeypatch.setattr("psyscreen.cli.score.classify", classify)  # a stand-in: what the CLI passes and writes
    out = tmp_path / "s.csv"
    res = CliRunner().invoke(main, ["score", str(export), "-i", "phq9", "-i", "gad7", "--map", str(cmap), "-o", str(out),
                                    "--protocol", "default"])
    assert res.exit_code == 0, res.output
    assert calls["protocol"] == "default" and "phq9.9" in calls["columns"]  # classify sees the answers
    table = pd.read_csv(out, encoding="utf-8-sig", keep_default_na=False)
    assert table["level"].tolist() == ["none", "level1"]
    assert table["reasons"].tolist() == ["", "PHQ-9 total >= 20"]
    assert "phq9.9" not in table.columns


def _env():
    env = dict(os.environ)
    src = str(__import__("pathlib").Path(__file__).resolve().parents[1] / "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    return env


def test_subprocess_python_m_psyscreen_score(tmp_path, files):
    export, cmap = files
    out = tmp_path / "scores.csv"
    proc = subprocess.run([sys.executable, "-m", "psyscreen", "score", str(export), "-i", "phq9", "-i", "gad7",
                           "--map", str(cmap), "-o", str(out)], capture_output=True, text=True, env=_env(), timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert _no_student_data(proc.stdout + proc.stderr)
    assert pd.read_csv(out, encoding="utf-8-sig")["phq9.total"].tolist() == [9.0, 27.0]


def test_subprocess_fatal_error_exit_code(tmp_path):
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"not a workbook")
    proc = subprocess.run([sys.executable, "-m", "psyscreen", "score", str(broken), "-i", "phq9", "-o",
                           str(tmp_path / "o.csv")], capture_output=True, text=True, env=_env(), timeout=120)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and "not a readable Excel workbook" in proc.stderr


def test_refuses_to_overwrite_an_input(tmp_path, files):
    export, cmap = files
    before = export.read_bytes()
    res = CliRunner().invoke(main, ["score", str(export), "-i", "phq9", "--map", str(cmap), "-o", str(export)])
    assert res.exit_code != 0 and "would overwrite it" in res.output
    assert export.read_bytes() == before


def test_protocol_with_the_real_classify(tmp_path, files):
    export, cmap = files
    out = tmp_path / "s.csv"
    res = CliRunner().invoke(main, ["score", str(export), "--map", str(cmap), "-o", str(out), "--protocol", "default"])
    assert res.exit_code == 0, res.output
    table = pd.read_csv(out, encoding="utf-8-sig", dtype={"student_id": str})
    assert {"level", "reasons", "phq9.total", "gad7.total"} <= set(table.columns)
    assert table["student_id"].tolist() == IDS[:2]
    # PHQ-9 27 with item 9 answered 3 is at least as urgent as PHQ-9 9 / GAD-7 14
    assert table["level_rank"].iloc[1] <= table["level_rank"].iloc[0]
    assert isinstance(table["reasons"].iloc[1], str) and table["reasons"].iloc[1]
    assert "phq9.9" not in table.columns
    res = CliRunner().invoke(main, ["score", str(export), "-i", "phq9", "--map", str(cmap), "-o", str(out),
                                    "--protocol", "default"])
    assert res.exit_code != 0 and "-i gad7" in res.output


# ---- demographics coded as screen codes them; folders ----------------------------------------------------

def _mixed_export(path, ids, sexes, grades):
    """An export whose sex and grade are written one school's way (男/女 or M/F; 初一 or 7 ...)."""
    head = ["学号", "性别", "年级"] + [f"第{i}题" for i in range(1, 10)]
    rows = [head] + [[i, s, g] + [str(k % 4)] * 9 for k, (i, s, g) in enumerate(zip(ids, sexes, grades))]
    path.write_text("\n".join(",".join(r) for r in rows) + "\n", encoding="utf-8")
    return path


def test_score_normalises_demographics_so_norm_strata_match_screen(tmp_path, files):
    _, cmap = files
    a = _mixed_export(tmp_path / "a.csv", ["a1", "a2", "a3", "a4"], ["男", "女", "男", "女"], ["初一", "七年级", "初二", "八年级"])
    b = _mixed_export(tmp_path / "b.csv", ["b1", "b2", "b3", "b4"], ["M", "F", "m", "f"], ["7", "7", "8", "8"])
    wave = tmp_path / "wave.xlsx"
    res = CliRunner().invoke(main, ["score", str(a), str(b), "-i", "phq9", "--map", str(cmap), "--keep-items",
                                    "-o", str(wave)])
    assert res.exit_code == 0, res.output
    norms = tmp_path / "norms.json"
    res = CliRunner().invoke(main, ["analyze", "norms", str(wave), "--scales", "phq9.total", "--by", "grade,sex",
                                    "-o", str(norms)])
    assert res.exit_code == 0, res.output
    from psyscreen.norms import NormTable

    table = NormTable.from_json(norms)
    assert sorted(table.strata_) == [(7, "F"), (7, "M"), (8, "F"), (8, "M")]  # never sex=女 beside sex=F
    assert table.table_["n"].tolist() == [2, 2, 2, 2]


def test_score_accepts_a_folder(tmp_path, files):
    _, cmap = files
    folder = tmp_path / "exports"
    folder.mkdir()
    _mixed_export(folder / "a.csv", ["a1", "a2"], ["男", "女"], ["初一", "初一"])
    _mixed_export(folder / "b.csv", ["b1", "b2"], ["M", "F"], ["7", "7"])
    out = tmp_path / "scores.csv"
    res = CliRunner().invoke(main, ["score", str(folder), "-i", "phq9", "--map", str(cmap), "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "a.csv" in res.output and "b.csv" in res.output
    table = pd.read_csv(out, encoding="utf-8-sig")
    assert table["student_id"].tolist() == ["a1", "a2", "b1", "b2"]
    assert table["sex"].tolist() == ["M", "F", "M", "F"] and table["grade"].tolist() == [7] * 4
    empty = tmp_path / "empty"
    empty.mkdir()
    res = CliRunner().invoke(main, ["score", str(empty), "-i", "phq9", "-o", str(tmp_path / "x.csv")])
    assert res.exit_code != 0 and "no export file" in res.output
