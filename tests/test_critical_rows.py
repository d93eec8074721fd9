"""Counts that mean what they say (issue 10): one critical-list row per student, critical answers that cannot be
read are escalated, a sheet with no answer is a student not screened.

Every expected number comes from the sheets written here (or from scripts/make_sample.py's facts), never from
psyscreen's own output.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner

from psyscreen.cli import main

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "sample"
PHQ = [f"phq9.{i}" for i in range(1, 10)]
GAD = [f"gad7.{i}" for i in range(1, 8)]


def critical_rows(path: Path) -> list[dict]:
    """The critical list as header -> value dicts (text as a person reads it)."""
    ws = openpyxl.load_workbook(path).worksheets[0]
    rows = list(ws.iter_rows(values_only=True))
    # the title (and, for an incomplete run, the notice) lines stand above the header: one filled cell each
    at = next(i for i, r in enumerate(rows) if sum(v is not None for v in r) > 1)
    head = rows[at]
    return [dict(zip(head, r)) for r in rows[at + 1:]]


def sheet_row(sid, name, phq, gad, when="2026-09-10 09:00", school="一中", klass="1"):
    return {"学号": sid, "姓名": name, "学校": school, "年级": "初一", "班级": klass, "提交时间": when,
            **dict(zip(PHQ, phq)), **dict(zip(GAD, gad))}


def run_screen(folder: Path, out: Path, *extra) -> tuple[int, str]:
    res = CliRunner().invoke(main, ["screen", str(folder), "--out", str(out), "--wave", "2026-09", *extra])
    return res.exit_code, res.output


# ---- one row per student -------------------------------------------------------------------------------

def test_demo_critical_list_has_one_row_per_student_and_names_the_duplicate_rows(tmp_path):
    res = CliRunner().invoke(main, ["demo", "--out", str(tmp_path / "demo")])
    assert res.exit_code == 0, res.output
    rows = critical_rows(tmp_path / "demo" / "critical.xlsx")
    ids = [r["学号"] for r in rows]
    assert len(ids) == len(set(ids))  # the demo gave 61 rows for 60 students
    students = pd.read_parquet(tmp_path / "demo" / "students.parquet")
    assert set(ids) == set(students.loc[students["critical"], "student_key"])
    # scripts/make_sample.py: one duplicate submission in 第一高级中学.csv; if its student is critical, the entry
    # names both rows; an entry fed by one row names none
    fed = [r for r in rows if r.get("来源（同一学号多份作答）")]
    for r in fed:
        assert r["来源（同一学号多份作答）"].count("第一高级中学.csv 第") == 2
        assert "保留" in r["说明"]
    assert len(fed) == 1
    manifest = json.loads((tmp_path / "demo" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["critical"] == len(rows)


def test_two_copies_of_one_school_give_each_student_once(tmp_path):
    exports = tmp_path / "exports"
    exports.mkdir()
    src = SAMPLE / "2026-09" / "实验中学.csv"
    shutil.copy(src, exports / "a.csv")
    shutil.copy(src, exports / "b.csv")
    code, output = run_screen(exports, tmp_path / "out", "--map", str(SAMPLE / "column_map.csv"))
    assert code == 0, output
    rows = critical_rows(tmp_path / "out" / "critical.xlsx")
    ids = [r["学号"] for r in rows]
    assert ids and len(ids) == len(set(ids))  # 66 rows for 22 students before
    for r in rows:  # every entry was fed by the two copies: both are named
        assert "a.csv 第" in r["来源（同一学号多份作答）"] and "b.csv 第" in r["来源（同一学号多份作答）"]
    students = pd.read_parquet(tmp_path / "out" / "students.parquet")
    assert set(ids) == set(students.loc[students["critical"], "student_key"])


def test_a_critical_answer_in_the_submission_not_kept_still_reaches_the_list(tmp_path):
    exports = tmp_path / "exports"
    exports.mkdir()
    pd.DataFrame([
        sheet_row("0101", "甲", [0] * 8 + [2], [0] * 7, when="2026-09-10 09:00"),  # earlier: item 9 = 2
        sheet_row("0102", "乙", [0] * 9, [0] * 7),
        sheet_row("0101", "甲", [0] * 9, [0] * 7, when="2026-09-10 10:00"),         # later: kept by the ledger
    ]).to_csv(exports / "s.csv", index=False)
    code, output = run_screen(exports, tmp_path / "out", "--lang", "en")
    assert code == 0, output
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["totals"] == {"rows": 3, "scored": 2, "quarantined": 0, "duplicates": 1}
    rows = critical_rows(tmp_path / "out" / "critical.xlsx")
    assert [r["Student id"] for r in rows] == ["0101"]
    assert rows[0]["Reasons"].startswith("PHQ-9 item 9 = 2")
    assert rows[0]["Sources (several submissions)"] == "s.csv row 2; s.csv row 4"
    assert "keeps s.csv row 4" in rows[0]["Note"] and "critical answer in s.csv row 2" in rows[0]["Note"]


# ---- a critical answer that cannot be read -------------------------------------------------------------

@pytest.mark.parametrize("lang", ["zh", "en"])
def test_unreadable_critical_answer_is_quarantined_and_on_the_critical_list(tmp_path, lang):
    exports = tmp_path / "exports"
    exports.mkdir()
    pd.DataFrame([
        sheet_row("0201", "丙", [1] * 8 + ["4"], [0] * 7),
        sheet_row("0202", "丁", [0] * 8 + ["9"], [0] * 7),
        sheet_row("0203", "戊", [0] * 8 + ["x"], [0] * 7),
        sheet_row("0204", "己", [0] * 8 + ["0"], [0] * 7, klass="2"),
        sheet_row("0205", "庚", ["7"] + [0] * 8, [0] * 7, klass="2"),  # unreadable, not on a critical item
    ]).to_csv(exports / "s.csv", index=False)
    code, output = run_screen(exports, tmp_path / "out", "--lang", lang)
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["totals"]["quarantined"] == 4 and manifest["totals"]["scored"] == 1
    quarantine = pd.read_excel(tmp_path / "out" / "quarantine.xlsx", dtype=str, engine="openpyxl", header=1)
    assert quarantine.shape[0] >= 4
    rows = critical_rows(tmp_path / "out" / "critical.xlsx")
    id_col, reason_col, level_col = (("学号", "原因", "预警等级") if lang == "zh" else
                                     ("Student id", "Reasons", "Warning level"))
    assert sorted(r[id_col] for r in rows) == ["0201", "0202", "0203"]
    for r in rows:
        if lang == "zh":
            assert r[reason_col].startswith("危机条目作答无法识别（PHQ-9 第9题）：请当天核实")
            assert r[level_col] == "一级预警（红色）"
            assert "危机条目未作答" not in r[reason_col]
        else:
            assert r[reason_col].startswith("critical item unreadable (PHQ-9 item 9): check today")
            assert r[level_col] == "Level 1 warning (red)"
            assert "not answered" not in r[reason_col]
    assert manifest["critical"] == 3


# ---- a sheet with no answer is a student not screened ---------------------------------------------------

def test_a_row_with_no_answer_is_not_screened_not_undecided(tmp_path):
    exports = tmp_path / "exports"
    exports.mkdir()
    blank = [None] * 9
    pd.DataFrame([
        sheet_row("0301", "辛", [0] * 9, [0] * 7),
        sheet_row("0302", "壬", blank, [None] * 7),      # on the roster, answered nothing
        sheet_row("0303", "癸", [1] * 9, [None] * 7),     # GAD-7 not answered: screened, GAD-7 undecided
    ]).to_csv(exports / "s.csv", index=False)
    code, output = run_screen(exports, tmp_path / "out")
    assert code == 0, output
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["totals"] == {"rows": 3, "scored": 2, "quarantined": 1, "duplicates": 0}
    assert manifest["inputs"][0]["quarantined"] == 1
    students = pd.read_parquet(tmp_path / "out" / "students.parquet")
    assert len(students) == 2 and "0302" not in set(students["student_key"])
    quarantine = pd.read_excel(tmp_path / "out" / "quarantine.xlsx", dtype=str, engine="openpyxl", header=1)
    reasons = quarantine.iloc[:, -1].tolist()
    assert any("所有计分题目均未作答：视为未参加筛查" in str(r) for r in reasons)  # the reason, in the run's language
    assert sum("未参加筛查" in str(r) for r in reasons) == 1


def test_not_screened_duplicate_of_a_screened_student_is_a_duplicate(tmp_path):
    # the same student on the roster (blank) and with a sheet: screened once, the blank row set aside
    exports = tmp_path / "exports"
    exports.mkdir()
    pd.DataFrame([
        sheet_row("0401", "子", [None] * 9, [None] * 7, when="2026-09-10 11:00"),
        sheet_row("0401", "子", [0] * 9, [0] * 7, when="2026-09-10 09:00"),
    ]).to_csv(exports / "s.csv", index=False)
    code, output = run_screen(exports, tmp_path / "out")
    assert code == 0, output
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["totals"] == {"rows": 2, "scored": 1, "quarantined": 0, "duplicates": 1}
    students = pd.read_parquet(tmp_path / "out" / "students.parquet")
    assert students["level"].tolist() == ["none"]  # the answered sheet is kept, not the later blank one


# ---- the UPI in its 60-item form (items 61-64 absent) --------------------------------------------------

def test_college_screen_of_a_60_item_upi_export_scores_and_says_so(tmp_path):
    exports = tmp_path / "exports"
    exports.mkdir()
    n_yes = [20, 0, 26]  # UPI items answered yes among the plain items 1-4, 6, 7 ...: totals 20, 0 (item 25), 26
    plain = [n for n in range(1, 61) if n not in (5, 20, 35, 50, 8, 16, 25, 26)]
    rows = []
    for k, sid in enumerate(["c1", "c2", "c3"]):
        upi = {f"upi.{n}": 0 for n in range(1, 61)}
        upi.update({f"upi.{n}": 1 for n in plain[:n_yes[k]]})
        if sid == "c2":
            upi["upi.25"] = 1
        rows.append({"学号": sid, "姓名": "某", "学校": "某大学", "年级": "大一", "班级": "1", **upi,
                     **{f"scl90.{n}": 1 for n in range(1, 91)}, **{f"phq9.{n}": 0 for n in range(1, 10)}})
    pd.DataFrame(rows).to_csv(exports / "college.csv", index=False)
    res = CliRunner().invoke(main, ["screen", str(exports), "--out", str(tmp_path / "out"), "--wave", "2026-09",
                                    "--protocol", "college", "--lang", "en"])
    assert res.exit_code == 0, res.output
    students = pd.read_parquet(tmp_path / "out" / "students.parquet").set_index("student_key")
    # upi.yaml: without item 64, class 1 = total >= 25 or item 25; class 2 = 20 <= total < 25; else class 3
    assert students.loc[["c1", "c2", "c3"], "upi.category"].tolist() == [2, 1, 1]
    assert students["upi.category.note"].str.startswith("decided without item(s) 64").all()
    # college.yaml: UPI item 25 -> critical level 1; class 1 -> level 2; class 2 -> level 3
    assert students.loc[["c1", "c2", "c3"], "level"].tolist() == ["level3", "level1", "level2"]
