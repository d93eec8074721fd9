"""`psyscreen history` and `psyscreen compare` with the follow-up record: each wave's case and events, and for a
student flagged again what was done last time.

The CLI configures Django on the archive it is given, which is not this test session's database: those tests
run it in a subprocess. The record itself (psyscreen.workspace.record) is tested in-process on pytest-django's
test database.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from django.utils import timezone

from psyscreen.archive import compare, import_wave
from psyscreen.synthetic import simulate_students

from ..test_archive import wave_frames, write_wave_dir
from .conftest import make_case

REPO = Path(__file__).resolve().parents[2]
TODAY = timezone.localdate()  # the workspace's day (in China), as `history` counts overdue


def cli(*args, check=True) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")]))
    r = subprocess.run([sys.executable, "-m", "psyscreen", *map(str, args)], capture_output=True, text=True,
                       env=env, timeout=300)
    if check:
        assert r.returncode == 0, r.stdout + r.stderr
    return r


# Records events straight into the workspace of an archive (the web form and the Excel import are other
# helpers' paths): {"key", "wave", "back": days the case is dated back, "events": [[kind, date, fields, fix]]};
# ``fix`` is the index of an earlier event of the same case that this one corrects.
RECORD = r'''
import datetime as dt, json, sys
from psyscreen.workspace import configure
configure(db=sys.argv[1], secret_file=None)
from django.utils import timezone
from psyscreen.workspace.models import Case, Event
today = timezone.localdate()
for spec in json.loads(sys.argv[2]):
    case = Case.objects.get(student_key=spec["key"], wave=spec["wave"])
    if spec.get("back"):
        days = (case.deadline - case.opened_on).days
        opened = today - dt.timedelta(days=spec["back"])
        Case.objects.filter(pk=case.pk).update(opened_on=opened, deadline=opened + dt.timedelta(days=days))
    made = []
    for kind, date, fields, fix in spec.get("events", []):
        made.append(Event.objects.create(case=case, kind=kind, occurred_on=dt.date.fromisoformat(date),
                                         fields=fields, corrects=made[fix] if fix is not None else None))
'''


def record(db: Path, specs: list) -> None:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")]))
    r = subprocess.run([sys.executable, "-c", RECORD, str(db), json.dumps(specs)], capture_output=True, text=True,
                       env=env, timeout=120)
    assert r.returncode == 0, r.stderr


@pytest.fixture(scope="module")
def county(tmp_path_factory):
    """Two small waves in an archive (no workspace yet), and which students are flagged again / newly."""
    root = tmp_path_factory.mktemp("county")
    r = simulate_students(300, seed=41, schools=["一中", "二中"], grades=range(7, 10))
    s1, a1 = wave_frames(r, "2026-03", seed=42)
    s2, a2 = wave_frames(r, "2026-09", seed=43)
    db = root / "county.db"
    import_wave(write_wave_dir(root / "a", "2026-03", s1, a1), db)
    import_wave(write_wave_dir(root / "b", "2026-09", s2, a2, created="2026-09-20T10:00:00+08:00"), db)
    st = compare(db, "2026-03", "2026-09").students.set_index("student_key")
    again = sorted(st.index[st["status"] == "persistent"])
    new = sorted(st.index[st["status"] == "new"])
    others = st.loc[st["status"].isin(["undecided", "invalid"])]
    assert len(again) >= 5 and len(new) >= 1
    return {"root": root, "db": db, "again": again, "new": new, "status": st["status"], "others": others}


@pytest.fixture(scope="module")
def followed(county, tmp_path_factory):
    """A copy of the county's archive with its workspace: cases opened, and a follow-up recorded:

    A (flagged again): interviewed, referred, closed as in care at the March case; B: reviewed only (never
    interviewed); C: interviewed after the deadline; D (new in September): an interview recorded by mistake and
    corrected, the case past its deadline: overdue.
    """
    import shutil

    db = tmp_path_factory.mktemp("followed") / "county.db"
    shutil.copy(county["db"], db)
    out = cli("followup", "sync", "--db", db).stdout
    assert "case(s) opened" in out
    a, b, c = county["again"][:3]
    d = county["new"][0]
    t = TODAY.isoformat()
    record(db, [
        {"key": a, "wave": "2026-03", "events": [
            ["interviewed", t, {"by": "王老师", "reassessed_level": "1"}, None],
            ["referred", t, {"by": "王老师", "to": "县医院", "outcome": "treatment"}, None],
            ["closed", t, {"by": "王老师", "outcome": "in_care"}, None]]},
        {"key": b, "wave": "2026-03", "events": [["reviewed", t, {"by": "李老师", "outcome": "confirmed"}, None]]},
        {"key": c, "wave": "2026-03", "back": 40, "events": [
            ["interviewed", t, {"by": "李老师", "reassessed_level": "2"}, None]]},
        {"key": d, "wave": "2026-09", "back": 40, "events": [
            ["interviewed", t, {"by": "李老师", "reassessed_level": "2"}, None],
            ["reviewed", t, {"by": "李老师", "outcome": "confirmed", "note": "上一条记错了学生"}, 0]]},
    ])
    return {"db": db, "a": a, "b": b, "c": c, "d": d}


# ---- history ------------------------------------------------------------------------------------------------

def test_history_without_a_workspace_shows_the_screenings_and_says_no_follow_up(county):
    key = county["again"][0]
    r = cli("history", key, "--db", county["db"], "--lang", "en")
    assert "March 2026" in r.stdout and "September 2026" in r.stdout  # the screenings, as before
    assert "no follow-up is recorded: the workspace has not been opened on this archive" in r.stdout
    # reading the record made no workspace tables in the archive
    import sqlite3

    with sqlite3.connect(county["db"]) as con:
        names = {n for (n,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert not any(n.startswith("workspace_") for n in names)


def test_history_shows_each_wave_with_its_case_and_events(followed):
    out = cli("history", followed["a"], "--db", followed["db"], "--lang", "en").stdout
    follow = out[out.index("\nfollow-up\n"):]
    march, september = follow.index("March 2026"), follow.index("September 2026")
    assert march < september
    block = follow[march:september]
    assert "status: closed" in block and "not overdue" in block and "(on time)" in block
    assert f"{TODAY.isoformat()} interviewed: by whom 王老师; reassessed level 1" in block
    assert "referred: by whom 王老师; referred to 县医院; outcome in treatment" in block
    assert "closed: by whom 王老师; reason in the care of a medical institution" in block
    after = follow[september:]  # flagged again: the September case, nothing recorded yet
    assert "status: open: nothing recorded yet" in after and "(nothing recorded yet)" in after


def test_history_marks_overdue_and_corrected_events(followed):
    out = cli("history", followed["d"], "--db", followed["db"], "--lang", "en").stdout
    follow = out[out.index("\nfollow-up\n"):]
    march, september = follow.index("March 2026"), follow.index("September 2026")
    assert "not flagged in this wave: no case" in follow[march:september]
    sep = follow[september:]
    # the interview was corrected (it drops out of the state): past the deadline with no first action
    assert "OVERDUE" in sep and "status: reviewed" in sep and "first action" not in sep
    assert "interviewed: by whom 李老师; reassessed level 2 (corrected)" in sep
    assert "reviewed: by whom 李老师; outcome confirmed: needs follow-up; why 上一条记错了学生" in sep
    assert "(corrected)" not in sep.split("reviewed: by whom")[1]
    zh = cli("history", followed["c"], "--db", followed["db"]).stdout
    assert "随访" in zh and "个案：期限" in zh and "（逾期）" in zh  # interviewed after its deadline


def test_history_of_an_unknown_student_names_no_key(followed):
    r = cli("history", "NOPE-123", "--db", followed["db"], check=False)
    assert r.returncode != 0 and "not found" in r.stdout + r.stderr
    assert "NOPE-123" not in (r.stdout + r.stderr).replace("history", "")


# ---- compare: what was done last time ------------------------------------------------------------------------

def test_compare_says_what_was_done_last_time(followed, county, tmp_path):
    n = len(county["again"])
    r = cli("compare", "--db", followed["db"], "--from", "2026-03", "--to", "2026-09", "--lang", "en",
            "--out", tmp_path / "cmp")
    # A closed and referred; A and C interviewed (C late); every other student flagged again: never interviewed
    assert (f"flagged again: {n}; of them last case closed 1, referred 1, never interviewed {n - 2}, "
            f"interviewed late 1, no case recorded 0") in r.stdout
    zh = cli("compare", "--db", followed["db"], "--from", "2026-03", "--to", "2026-09").stdout
    assert f"再次预警：{n} 人；其上次个案：已结案 1，已转介 1，未约谈 {n - 2}，约谈逾期 1" in zh

    sheets = [pd.read_excel(p, sheet_name="flags", engine="calamine", dtype=str)
              for p in sorted((tmp_path / "cmp" / "schools").rglob("*.xlsx"))]
    flags = pd.concat(sheets, ignore_index=True).fillna("").set_index("student key")
    again = flags[flags["outcome"] == "persistent flag"]
    assert set(again.index) == set(county["again"])
    assert (again["last case: wave"] == "March 2026").all()
    a, b, c = (again.loc[followed[k]] for k in "abc")
    assert (a["last case: status"], a["last case: close reason"], a["last case: interview"],
            a["last case: referred"]) == ("closed", "in the care of a medical institution", "interviewed on time",
                                          "yes")
    assert (b["last case: status"], b["last case: interview"], b["last case: referred"]) == (
        "reviewed", "never interviewed", "no")
    assert c["last case: interview"] == "interviewed late"
    # every other outcome keeps its own row, with nothing about a last case (undecided, invalid, new...)
    rest = flags[flags["outcome"] != "persistent flag"]
    assert len(rest) and (rest[["last case: status", "last case: interview"]] == "").all().all()
    assert not set(rest.index) & set(county["again"])

    county_sheet = pd.read_excel(tmp_path / "cmp" / "county" / "compare-2026-03-2026-09.xlsx",
                                 sheet_name="flagged again, last time", engine="calamine")
    total = county_sheet.set_index("school").loc["Total"]
    assert str(total["Total"]) == str(n)
    about = pd.read_excel(tmp_path / "cmp" / "county" / "compare-2026-03-2026-09.xlsx", sheet_name="about",
                          engine="calamine").iloc[:, 0].tolist()
    assert any(str(x).startswith(f"flagged again: {n}; of them last case closed 1") for x in about)
    # the county workbook names no student
    for s in pd.read_excel(tmp_path / "cmp" / "county" / "compare-2026-03-2026-09.xlsx", sheet_name=None,
                           engine="calamine").values():
        assert not s.astype(str).isin(county["again"]).any().any()


def test_compare_without_a_workspace_says_no_follow_up(county, tmp_path):
    r = cli("compare", "--db", county["db"], "--from", "2026-03", "--to", "2026-09", "--lang", "en",
            "--out", tmp_path / "cmp")
    assert f"flagged again: {len(county['again'])} (no follow-up is recorded in this archive)" in r.stdout
    flags = pd.read_excel(next((tmp_path / "cmp" / "schools").rglob("*.xlsx")), sheet_name="flags",
                          engine="calamine")
    assert "last case: status" not in flags.columns


def test_with_last_time_keeps_only_students_flagged_again(county):
    """Undecided, invalid and new students are never 'flagged again', even with an earlier case."""
    cmp = compare(county["db"], "2026-03", "2026-09")
    keys = list(county["others"].index[:3]) + county["new"][:2] + county["again"][:2]
    last = pd.DataFrame({"last_wave": "2026-03", "last_status": "closed", "last_close_reason": "resolved",
                         "last_interview": "on time", "last_referred": False},
                        index=pd.Index(keys, name="student_key"))
    c = cmp.with_last_time(last)
    assert list(c.last_time.index) == county["again"][:2]
    counts = c.flagged_again()
    assert counts["flagged_again"] == len(county["again"]) and counts["closed"] == 2
    assert counts["no_case"] == len(county["again"]) - 2
    with pytest.raises(Exception, match="lacks the column"):
        cmp.with_last_time(last.drop(columns="last_referred"))


# ---- the record, in-process ----------------------------------------------------------------------------------

def _event(case, kind, day, fields, corrects=None):
    from psyscreen.workspace.models import Event

    return Event.objects.create(case=case, kind=kind, occurred_on=day, fields=fields, corrects=corrects)


def test_student_record_gives_each_case_its_state_and_events(db):
    from psyscreen.workspace import record

    assert record.has_record()
    march = make_case(student_key="S9", wave="2026-03", opened_on=dt.date(2026, 3, 20),
                      deadline=dt.date(2026, 3, 27))
    sept = make_case(student_key="S9", wave="2026-09", opened_on=dt.date(2026, 9, 20),
                     deadline=dt.date(2026, 9, 20), previous=march, critical=True)
    make_case(student_key="S10", wave="2026-09")
    _event(march, "interviewed", dt.date(2026, 3, 30), {"by": "王老师", "reassessed_level": "2"})
    _event(march, "referred", dt.date(2026, 4, 2), {"by": "王老师", "to": "县医院", "outcome": "seen"})
    wrong = _event(sept, "closed", dt.date(2026, 9, 20), {"by": "王老师", "outcome": "resolved"})
    _event(sept, "reopened", dt.date(2026, 9, 21), {"by": "王老师", "note": "记错了"}, corrects=wrong)

    got = record.student_record("S9", today=dt.date(2026, 10, 1))
    assert [c.wave for c in got] == ["2026-03", "2026-09"]
    m, s = got
    assert (m.status, m.interviewed_on, m.interviewed_on_time, m.on_time, m.referred, m.closed) == (
        "referred", dt.date(2026, 3, 30), False, False, True, False)
    assert m.deadline == dt.date(2026, 3, 27) and not m.overdue  # acted on, though late
    assert [e.kind for e in m.events] == ["interviewed", "referred"]
    # the close was corrected: it drops out of the state but stays in the record, marked
    assert s.critical and not s.closed and s.overdue and s.first_action_on is None
    assert [e.kind for e in s.events] == ["closed", "reopened"] and [e.kind for e in s.live_events] == ["reopened"]
    assert str(wrong.pk) in s.corrected
    assert record.student_record("nobody") == []


def test_last_cases_is_the_last_case_before_the_later_wave(db):
    from psyscreen.workspace import record

    old = make_case(student_key="S1", wave="2025-09", opened_on=dt.date(2025, 9, 20), deadline=dt.date(2025, 9, 27))
    mar = make_case(student_key="S1", wave="2026-03", opened_on=dt.date(2026, 3, 20), deadline=dt.date(2026, 3, 27))
    make_case(student_key="S1", wave="2026-09")  # the later wave itself: not "last time"
    make_case(student_key="S2", wave="2026-09")
    _event(old, "closed", dt.date(2025, 9, 22), {"by": "王老师", "outcome": "resolved"})
    _event(mar, "interviewed", dt.date(2026, 3, 21), {"by": "王老师", "reassessed_level": "none"})
    last = record.last_cases(["S1", "S2", "S3"], "2026-09", today=dt.date(2026, 10, 1))
    assert list(last) == ["S1"]
    assert (last["S1"].wave, last["S1"].status, last["S1"].interviewed_on_time) == ("2026-03", "interviewed", True)
    assert record.last_cases(["S1"], "2026-03")["S1"].close_reason == "resolved"
    assert record.status_label("open", "en").startswith("open") and record.status_label("closed") == "结案"


def test_archive_delete_erases_the_follow_up_record_too(followed, tmp_path):
    """`archive delete` removes the student's cases and events from the workspace in the same file; the audit log
    keeps its entries without the case, and no key is printed."""
    import shutil
    import sqlite3

    db = tmp_path / "county.db"
    shutil.copy(followed["db"], db)
    key = followed["a"]
    r = cli("archive", "delete", key, "--db", db, "--reason", "consent withdrawn")
    assert "follow-up record: 2 case(s), 3 event(s)" in r.stdout, r.stdout
    assert key not in r.stdout + r.stderr
    with sqlite3.connect(db) as con:
        left = sum(con.execute(f"SELECT count(*) FROM {t} WHERE student_key = ?", (key,)).fetchone()[0]
                   for t in ("workspace_case", "workspace_screening"))
        erased = con.execute("SELECT detail FROM workspace_auditentry WHERE action = 'erase_student'").fetchall()
        others = con.execute("SELECT count(*) FROM workspace_event").fetchone()[0]
    assert left == 0 and len(erased) == 1 and "consent withdrawn" in erased[0][0]
    assert others > 0  # the other students' events stay
    with pytest.raises(sqlite3.DatabaseError), sqlite3.connect(db) as con:  # and stay append-only
        con.execute("DELETE FROM workspace_event")
