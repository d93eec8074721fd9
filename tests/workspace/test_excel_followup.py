"""The Excel way into the follow-up record: the school workbook's follow-up sheet, filled in as a school would
(openpyxl), imported with :func:`psyscreen.workspace.imports.import_followup`; and the CLI in a subprocess.

The damaged fill-ins are the ones schools send: dates typed as text or as a serial number, a nonsense date, a
future date, an unknown outcome, a student not in the wave, a row edited after it was imported, a file imported
twice, blank rows.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from psyscreen import classify, followup, score, synthetic
from psyscreen.report import write_school
from psyscreen.report._common import resolve_levels
from psyscreen.report.followup_sheet import COLUMNS, SHEET_NAMES, header_codes
from psyscreen.wave import RunInfo

REPO = Path(__file__).resolve().parents[2]
WAVE = "2026-09"
MADE = dt.date(2026, 9, 10)     # the day the workbook was written (deadlines count from it)
TODAY = dt.date(2026, 10, 1)    # the import's today: later dates are refused
FORMULA_KEY = "-20260901"       # a student id that starts like a formula


@pytest.fixture(scope="module")
def school(tmp_path_factory):
    """One school's screening (一中) and its workbook; returns (workbook path, students frame, flagged keys)."""
    st = synthetic.simulate_students(240, seed=21, grades=range(7, 10), schools=["一中"])
    answers = synthetic.simulate_answers(st, ["phq9", "gad7"], seed=22)
    scores = score(answers, ["phq9", "gad7"])
    levels = classify(scores, "default")
    df = pd.concat([st[["student_id", "school", "grade", "class", "sex"]], scores, levels], axis=1)
    df = df.rename(columns={"student_id": "student_key"})
    df["sex"] = df["sex"].map({"男": "M", "女": "F"})
    df["class"] = df["class"].astype(str)
    df["wave"] = WAVE
    from psyscreen.protocol import load_protocol

    flagged = resolve_levels(df, load_protocol("default"), "zh")["flagged"]
    assert flagged.sum() >= 8
    df.loc[flagged[flagged].index[3], "student_key"] = FORMULA_KEY
    folder = tmp_path_factory.mktemp("school") / "一中"
    out = write_school(df, folder, protocol="default", run=RunInfo(WAVE), date=MADE.isoformat())
    return out["workbook"], df, df.loc[flagged, "student_key"].tolist()


@pytest.fixture
def cases(db, school):
    """A case for every flagged student of the school (as `followup sync` opens them from the archive)."""
    from psyscreen.workspace.models import Case

    _, df, keys = school
    out = {}
    for key in keys:
        r = df.loc[df["student_key"] == key].iloc[0]
        out[key] = Case.objects.create(student_key=key, wave=WAVE, school="一中", grade=int(r["grade"]),
                                       klass=str(r["class"]), level=str(r["level"]), level_rank=int(r["level_rank"]),
                                       critical=bool(r["critical"]), opened_on=MADE, deadline=MADE)
    return out


def _sheet(wb):
    return wb[SHEET_NAMES["zh"]]


def _layout(ws):
    """(header row, code -> column number, [(row, student id) of the pre-filled rows])."""
    for r in range(1, 41):
        codes = header_codes([c.value for c in ws[r]])
        if "kind" in codes:
            cols = {k: v + 1 for k, v in codes.items()}
            pre = []
            rr = r + 1
            while ws.cell(rr, cols["student_id"]).value is not None:
                pre.append((rr, ws.cell(rr, cols["student_id"]).value))
                rr += 1
            return r, cols, pre
    raise AssertionError("no header row")


def fill(src: Path, dst: Path, edits: dict) -> Path:
    """Fill in ``src`` as a school would and save it as ``dst``: ``edits`` maps an Excel row to {code: value}."""
    wb = openpyxl.load_workbook(src)
    ws = _sheet(wb)
    _, cols, _ = _layout(ws)
    for row, values in edits.items():
        for code, value in values.items():
            ws.cell(row, cols[code]).value = value
    dst.parent.mkdir(parents=True, exist_ok=True)
    wb.save(dst)
    return dst


def layout(path: Path):
    return _layout(_sheet(openpyxl.load_workbook(path)))


def copy_row(src: Path, dst: Path, from_row: int, to_row: int, values: dict) -> Path:
    """A school copies a student's row into a blank row and fills in another event."""
    wb = openpyxl.load_workbook(src)
    ws = _sheet(wb)
    _, cols, _ = _layout(ws)
    for c in range(1, ws.max_column + 1):
        ws.cell(to_row, c).value = ws.cell(from_row, c).value
    for code, value in values.items():
        ws.cell(to_row, cols[code]).value = value
    wb.save(dst)
    return dst


def run_import(*files, today=TODAY, rejects=None):
    from psyscreen.workspace.imports import import_followup

    return import_followup(list(files), today=today, rejects=rejects)


# ---------------------------------------------------------------------------------------------------------------
# the sheet
# ---------------------------------------------------------------------------------------------------------------


def test_the_sheet_has_a_row_per_flagged_student_lists_dates_and_protection(school):
    path, df, keys = school
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames[:4] == ["学生名单", "班级汇总", "等级与措施", "随访记录"]
    ws = _sheet(wb)
    head, cols, pre = _layout(ws)
    assert sorted(str(k).lstrip("'") for _, k in pre) == sorted(str(k) for k in keys) != []
    # the formula-like id is written inert, and read back as the id
    assert "'" + FORMULA_KEY in [k for _, k in pre]
    assert "student_key" not in cols  # keys are the ids here: no second column
    first = pre[0][0]
    # deadlines: the protocol's days from the day the workbook was made (critical first: the same day)
    from psyscreen.protocol import load_protocol

    policy = load_protocol("default").deadline_policy()
    for row, key in pre:
        r = df.loc[df["student_key"] == str(key).lstrip("'")].iloc[0]
        want = MADE + dt.timedelta(days=policy.days(int(r["level_rank"]), bool(r["critical"])))
        assert ws.cell(row, cols["deadline"]).value.date() == want
        assert ws.cell(row, cols["wave"]).value == WAVE and ws.cell(row, cols["entry"]).value == 1
    assert ws.cell(first, cols["deadline"]).number_format == "yyyy-mm-dd"
    assert ws.cell(first, cols["date"]).number_format == "yyyy-mm-dd"
    # protected headers and pre-filled cells; the cells to fill in are open, in the blank rows too
    assert ws.protection.sheet
    assert ws.cell(head, cols["kind"]).protection.locked and ws.cell(first, cols["student_id"]).protection.locked
    for code in ("entry", "kind", "date", "by", "outcome", "reassessed_level", "to", "note"):
        assert not ws.cell(first, cols[code]).protection.locked, code
    blank = pre[-1][0] + 5
    assert not ws.cell(blank, cols["student_id"]).protection.locked
    # drop-down lists from the choices sheet; a date validation on the date column
    choices = wb["填写选项"]
    dv = {ws.cell(1, cols[c]).column_letter: c for c in cols}
    found = {}
    for v in ws.data_validations.dataValidation:
        letter = str(v.sqref).split(":")[0].rstrip("0123456789")
        found[dv[letter]] = v
        assert f"{first}" in str(v.sqref).split(":")[0]
    assert found["date"].type == "date" and found["entry"].type == "whole"

    def listed(v):
        ref = v.formula1.split("!")[1].replace("$", "")
        return [c.value for row in choices[ref] for c in row]

    assert listed(found["kind"]) == [k.zh for k in followup.EVENT_KINDS.values()]
    assert set(listed(found["outcome"])) == {zh for g in followup.OUTCOMES.values() for zh, _ in g.values()}
    assert listed(found["reassessed_level"]) == ["1", "2", "3", "无"]
    # every level drop-down word, every kind and outcome word is accepted by the import's validation
    for kind in listed(found["kind"]):
        assert followup._kind_code(kind)
    assert followup._level("无") == "none"


# ---------------------------------------------------------------------------------------------------------------
# the round trip
# ---------------------------------------------------------------------------------------------------------------


def test_round_trip_records_the_events_and_a_second_import_adds_nothing(tmp_path, school, cases):
    from psyscreen.workspace.models import AuditEntry, Event

    path, _, _ = school
    _, cols, pre = layout(path)
    (r1, k1), (r2, k2), (r3, k3), (r4, k4) = pre[:4]
    last = pre[-1][0]
    filled = fill(path, tmp_path / "一中.xlsx", {
        r1: {"kind": "复核", "date": dt.datetime(2026, 9, 11), "by": "王老师", "outcome": "确认需跟进"},
        r2: {"kind": "约谈评估", "date": dt.datetime(2026, 9, 12), "by": "王老师", "reassessed_level": "2",
             "note": "-不愿多谈家里的事"},
        r3: {"kind": "转介", "date": dt.datetime(2026, 9, 13), "by": "李老师", "to": "县人民医院心理科",
             "outcome": "待反馈"},
        r4: {"kind": "结案", "date": dt.datetime(2026, 9, 14), "by": "李老师", "outcome": "复核未确认"},
    })
    filled = copy_row(filled, filled, r2, last + 3, {"entry": 2, "kind": "家校沟通", "date": dt.datetime(2026, 9, 15),
                                                     "by": "王老师", "outcome": "电话", "reassessed_level": None,
                                                     "note": None})
    res = run_import(filled)
    assert (res.added, res.corrected, res.unchanged, res.rejected) == (5, 0, 0, 0), res.problems
    assert res.ignored == len(pre) - 4
    key = lambda k: str(k).lstrip("'")  # noqa: E731
    ev = Event.objects.get(case=cases[key(k1)])
    assert (ev.kind, ev.occurred_on, ev.fields) == ("reviewed", dt.date(2026, 9, 11),
                                                    {"by": "王老师", "outcome": "confirmed"})
    assert ev.recorded_by is None and ev.source == f"excel: 一中.xlsx 随访记录 row {r1}"
    two = list(Event.objects.filter(case=cases[key(k2)]).order_by("occurred_on"))
    assert [e.kind for e in two] == ["interviewed", "family_contacted"]
    assert two[0].fields["reassessed_level"] == "2" and two[1].fields["outcome"] == "phone"
    assert two[0].fields["note"] == "-不愿多谈家里的事"  # kept as typed
    assert Event.objects.get(case=cases[key(k3)]).fields["to"] == "县人民医院心理科"
    assert cases[key(k4)].state().closed
    audit = AuditEntry.objects.get(action="import")
    assert audit.user is None and audit.username == "import" and "added 5" in audit.detail
    assert AuditEntry.objects.filter(action="add_event", username="import").count() == 5
    # the same file again (and under another name): nothing added
    again = run_import(filled)
    assert (again.added, again.corrected, again.unchanged, again.rejected) == (0, 0, 5, 0)
    renamed = shutil.copy(filled, tmp_path / "一中（第二次发送）.xlsx")
    assert run_import(renamed, filled).added == 0
    assert Event.objects.count() == 5


def test_the_formula_like_id_finds_its_case(tmp_path, school, cases):
    from psyscreen.workspace.models import Event

    path, _, _ = school
    _, _, pre = layout(path)
    row = [r for r, k in pre if k == "'" + FORMULA_KEY][0]
    res = run_import(fill(path, tmp_path / "f.xlsx", {row: {"kind": "复核", "date": "2026-09-20", "by": "王老师",
                                                            "outcome": "未确认（误报）"}}))
    assert res.added == 1 and Event.objects.get().case == cases[FORMULA_KEY]


def test_typed_dates_are_read_and_bad_dates_refused(tmp_path, school, cases):
    from psyscreen.workspace.models import Event

    path, _, _ = school
    _, cols, pre = layout(path)
    rows = [r for r, _ in pre]
    base = {"kind": "复核", "by": "王老师", "outcome": "确认需跟进"}
    typed = {rows[0]: "2026/9/3", rows[1]: "2026年9月3日", rows[2]: 46268, rows[3]: "2026.9.3",
             rows[4]: "九月初", rows[5]: "2026-10-05", rows[6]: "2026-02-30"}
    filled = fill(path, tmp_path / "dates.xlsx", {r: dict(base, date=d) for r, d in typed.items()})
    res = run_import(filled, rejects=tmp_path / "rejects.xlsx")
    assert (res.added, res.rejected) == (4, 3)
    assert {e.occurred_on for e in Event.objects.all()} == {dt.date(2026, 9, 3)}
    letter = openpyxl.utils.get_column_letter(cols["date"])
    bad = {p.row: p for p in res.problems}
    assert set(bad) == {rows[4], rows[5], rows[6]}
    for p in bad.values():
        assert (p.file, p.sheet, p.column, p.header) == ("dates.xlsx", "随访记录", letter, "日期")
    assert "write it as 2026-09-03" in bad[rows[4]].problem
    assert "future" in bad[rows[5]].problem
    assert "no such day" in bad[rows[6]].problem
    assert str(bad[rows[4]]).startswith(f"dates.xlsx 随访记录 row {rows[4]} column {letter} (日期): ")


def test_unknown_outcome_a_student_not_in_the_wave_and_a_field_of_another_event(tmp_path, school, cases):
    path, _, _ = school
    _, cols, pre = layout(path)
    rows = [r for r, _ in pre]
    last = rows[-1]
    filled = fill(path, tmp_path / "bad.xlsx", {
        rows[0]: {"kind": "复核", "date": "2026-09-12", "by": "王老师", "outcome": "还行"},
        rows[1]: {"kind": "约谈评估", "date": "2026-09-12", "by": "王老师", "reassessed_level": "2",
                  "outcome": "确认需跟进"},
        rows[2]: {"kind": "见面", "date": "2026-09-12", "by": "王老师"},
        rows[3]: {"kind": "约谈评估", "date": "2026-09-12", "reassessed_level": "四级"},
        last + 1: {"school": "一中", "student_id": "99999999", "wave": WAVE, "entry": 1, "kind": "复核",
                   "date": "2026-09-12", "by": "王老师", "outcome": "确认需跟进"},
        last + 2: {"student_id": str(pre[5][1]), "wave": "2026-03", "kind": "复核", "date": "2026-09-12",
                   "by": "王老师", "outcome": "确认需跟进"},
        last + 3: {"student_id": str(pre[6][1]), "entry": "第二次", "kind": "复核", "date": "2026-09-12",
                   "by": "王老师", "outcome": "确认需跟进"},
    })
    res = run_import(filled, rejects=tmp_path / "bad.rejects.xlsx")
    assert (res.added, res.rejected) == (0, 7)
    by_row = {}
    for p in res.problems:
        by_row.setdefault(p.row, []).append(p)
    letter = lambda code: openpyxl.utils.get_column_letter(cols[code])  # noqa: E731
    assert [(p.column, p.header) for p in by_row[rows[0]]] == [(letter("outcome"), "结果")]
    assert "确认需跟进" in by_row[rows[0]][0].problem  # what to write
    assert [p.column for p in by_row[rows[1]]] == [letter("outcome")] and "leave it blank" in by_row[rows[1]][0].problem
    assert [p.column for p in by_row[rows[2]]] == [letter("kind")] and "约谈评估" in by_row[rows[2]][0].problem
    assert sorted(p.header for p in by_row[rows[3]]) == ["再评估等级", "负责人"]  # every rejected cell
    assert [p.column for p in by_row[last + 1]] == [letter("student_id")] and "no flagged student" in by_row[last + 1][0].problem
    assert "wave 2026-03" in by_row[last + 2][0].problem
    assert [p.column for p in by_row[last + 3]] == [letter("entry")]
    # no student id in any message
    for p in res.problems:
        for _, k in pre:
            assert str(k).lstrip("'") not in str(p)
        assert "99999999" not in str(p)
    # the rejects workbook: every rejected row, with its reason, in the sheet's own columns
    wb = openpyxl.load_workbook(res.rejects_file)
    ws = wb["随访记录"]
    head = [c.value for c in ws[2]]
    assert head[:len(COLUMNS)] == [c.zh for c in COLUMNS] and head[-2:] == ["问题", "来源"]
    body = [[c.value for c in row] for row in ws.iter_rows(min_row=3)]
    assert len(body) == 7 and all(r[-2] for r in body)
    assert any("还行" in str(r) for r in body)


def test_a_fixed_rejects_workbook_imports(tmp_path, school, cases):
    from psyscreen.workspace.models import Event

    path, _, _ = school
    _, _, pre = layout(path)
    filled = fill(path, tmp_path / "x.xlsx", {pre[0][0]: {"kind": "复核", "date": "2026年9月31日", "by": "王老师",
                                                          "outcome": "确认需跟进"}})
    res = run_import(filled, rejects=tmp_path / "x.rejects.xlsx")
    assert res.rejected == 1 and res.rejects_file.is_file()
    wb = openpyxl.load_workbook(res.rejects_file)
    ws = wb["随访记录"]
    col = [c.value for c in ws[2]].index("日期") + 1
    ws.cell(3, col).value = "2026年9月30日"
    wb.save(tmp_path / "x.fixed.xlsx")
    fixed = run_import(tmp_path / "x.fixed.xlsx")
    assert (fixed.added, fixed.rejected) == (1, 0)
    assert Event.objects.get().occurred_on == dt.date(2026, 9, 30)


def test_an_edited_row_is_a_correction_never_an_edit(tmp_path, school, cases):
    from psyscreen.workspace.models import Event

    path, _, pre = school[0], None, layout(school[0])[2]
    row, key = pre[0]
    case = cases[str(key).lstrip("'")]
    v1 = fill(path, tmp_path / "v1" / "一中.xlsx", {row: {"kind": "复核", "date": "2026-09-11", "by": "王老师",
                                                         "outcome": "确认需跟进"}})
    assert run_import(v1).added == 1
    first = Event.objects.get(case=case)
    # the school changes its mind: not confirmed; the file is sent again (another folder, same name)
    v2 = fill(v1, tmp_path / "v2" / "一中.xlsx", {row: {"outcome": "未确认（误报）"}})
    res = run_import(v2)
    assert (res.added, res.corrected, res.unchanged) == (0, 1, 0)
    second = Event.objects.exclude(pk=first.pk).get(case=case)
    assert second.corrects_id == first.pk and second.fields["outcome"] == "not_confirmed"
    assert Event.objects.get(pk=first.pk).fields["outcome"] == "confirmed"  # the first one is kept as it was
    assert case.state().reviewed == "not_confirmed"
    # the same edited file again: nothing; the earlier file again: a correction back (the record says so)
    assert (run_import(v2).corrected, Event.objects.filter(case=case).count()) == (0, 2)
    back = run_import(v1)
    assert back.corrected == 1
    third = Event.objects.filter(case=case).order_by("recorded_at").last()
    assert third.corrects_id == second.pk and case.state().reviewed == "confirmed"
    assert run_import(v1).unchanged == 1 and Event.objects.filter(case=case).count() == 3
    # the date written another way is the same event
    v3 = fill(v1, tmp_path / "v3.xlsx", {row: {"date": "2026/9/11"}})
    assert run_import(v3).unchanged == 1


def test_blank_rows_are_ignored_and_one_entry_number_twice_is_refused(tmp_path, school, cases):
    from psyscreen.workspace.models import Event

    path, _, _ = school
    _, _, pre = layout(path)
    row = pre[0][0]
    last = pre[-1][0]
    filled = fill(path, tmp_path / "dup.xlsx", {row: {"kind": "复核", "date": "2026-09-11", "by": "王老师",
                                                      "outcome": "确认需跟进"},
                                                pre[1][0]: {"note": "   "}})  # only spaces: blank
    filled = copy_row(filled, filled, row, last + 2, {"kind": "约谈评估", "outcome": None, "reassessed_level": 1})
    res = run_import(filled)
    assert (res.added, res.rejected, res.ignored) == (1, 1, len(pre) - 1)
    (p,) = res.problems
    assert p.row == last + 2 and p.header == "记录序号" and f"row {row}" in p.problem
    assert Event.objects.count() == 1
    nothing = run_import(path)  # the workbook as written: every row blank
    assert (nothing.added, nothing.rejected, nothing.ignored) == (0, 0, len(pre))


def test_a_file_that_is_no_workbook_or_has_no_follow_up_sheet_is_reported(tmp_path, db):
    junk = tmp_path / "junk.xlsx"
    junk.write_bytes(b"not a zip")
    other = tmp_path / "other.xlsx"
    wb = openpyxl.Workbook()
    wb.active.append(["学号", "姓名"])
    wb.save(other)
    res = run_import(junk, other, rejects=tmp_path / "r.xlsx")
    assert res.added == 0 and [p.file for p in res.problems] == ["junk.xlsx", "other.xlsx"]
    assert "not a readable" in res.problems[0].problem and "no follow-up sheet" in res.problems[1].problem
    assert openpyxl.load_workbook(res.rejects_file).sheetnames[-1] == "无法读取的文件"


# ---------------------------------------------------------------------------------------------------------------
# the command line, in a subprocess (Django is configured once per test session, with another database)
# ---------------------------------------------------------------------------------------------------------------


def _cli(*args, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    return subprocess.run([sys.executable, "-m", "psyscreen", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_cli_followup_import_on_an_archived_sample_wave(tmp_path):
    sample = REPO / "data" / "sample"
    out, db = tmp_path / "out", tmp_path / "county.db"
    r = _cli("screen", sample / WAVE / "第一高级中学.csv", "--wave", WAVE, "--map", sample / "column_map.csv", "--out", out, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert _cli("archive", "import", out, "--db", db, cwd=tmp_path).returncode == 0
    r = _cli("followup", "sync", "--db", db, cwd=tmp_path)
    assert r.returncode == 0 and "case(s) opened" in r.stdout, r.stderr
    book = next((out / "schools").glob("*/*.xlsx"))
    _, cols, pre = layout(book)
    assert pre
    ids = [str(k).lstrip("'") for _, k in pre]
    filled = fill(book, tmp_path / "back" / book.name, {
        pre[0][0]: {"kind": "复核", "date": "2026-09-11", "by": "王老师", "outcome": "确认需跟进"},
        pre[1][0]: {"kind": "约谈评估", "date": "2026/9/12", "by": "王老师", "reassessed_level": "无"},
        pre[2][0]: {"kind": "结案", "date": "2026-09-13", "by": "王老师", "outcome": "好了"},
    })
    r = _cli("followup", "import", filled, "--db", db, cwd=tmp_path)
    assert r.returncode == 1, r.stderr  # a row was rejected
    assert "2 event(s) added" in r.stdout and "1 row(s) rejected" in r.stdout
    assert f"row {pre[2][0]} column {openpyxl.utils.get_column_letter(cols['outcome'])} (结果)" in r.stderr
    for text in (r.stdout, r.stderr):
        assert not any(i in text for i in ids)
    rejects = filled.with_name(filled.stem + ".rejects.xlsx")
    assert rejects.is_file()
    again = _cli("followup", "import", filled, "--db", db, "--rejects", tmp_path / "r2.xlsx", cwd=tmp_path)
    assert "0 event(s) added" in again.stdout and "2 unchanged" in again.stdout
    with sqlite3.connect(db) as con:
        tables = [t for (t,) in con.execute("SELECT name FROM sqlite_master WHERE type='table'") if t.endswith("_event")]
        (table,) = tables
        rows = con.execute(f"SELECT kind, source, recorded_by_id FROM {table} ORDER BY kind").fetchall()
        audit = [t for (t,) in con.execute("SELECT name FROM sqlite_master WHERE type='table'")
                 if t.endswith("_auditentry")][0]
        imports = con.execute(f"SELECT username, detail FROM {audit} WHERE action = 'import'").fetchall()
    assert [(k, s, u) for k, s, u in rows] == [
        ("interviewed", f"excel: {book.name} 随访记录 row {pre[1][0]}", None),
        ("reviewed", f"excel: {book.name} 随访记录 row {pre[0][0]}", None)]
    assert len(imports) == 2 and all(u == "import" for u, _ in imports)


def test_an_english_pseudonymised_workbook_round_trips_by_the_key(tmp_path, school, cases):
    from psyscreen.workspace.models import Event

    _, df, keys = school
    ident = pd.DataFrame({"student_key": df["student_key"], "student_id": "ID" + df.index.astype(str),
                          "name": "某某"})
    book = write_school(df, tmp_path / "en", protocol="default", identities=ident, lang="en",
                        run=RunInfo(WAVE))["workbook"]
    wb = openpyxl.load_workbook(book)
    ws = wb["Follow-up"]
    _, cols, pre = _layout(ws)
    row, shown = pre[0]
    key = str(ws.cell(row, cols["student_key"]).value).lstrip("'")
    assert key in keys and not str(shown).startswith(key)
    ws.cell(row, cols["kind"]).value = "interviewed"
    ws.cell(row, cols["date"]).value = dt.datetime(2026, 9, 15)
    ws.cell(row, cols["by"]).value = "Ms Wang"
    ws.cell(row, cols["reassessed_level"]).value = "None"
    wb.save(tmp_path / "en.xlsx")
    res = run_import(tmp_path / "en.xlsx")
    assert (res.added, res.rejected) == (1, 0), res.problems
    ev = Event.objects.get()
    assert ev.case == cases[key] and ev.fields["reassessed_level"] == "none"
    assert ev.source == f"excel: en.xlsx Follow-up row {row}"
