"""`make demo` (`psyscreen demo --workspace`): the demo's archive, cases, accounts and events, and how to start it."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from django.utils import timezone

from .conftest import make_case

REPO = Path(__file__).resolve().parents[2]


def test_demo_builds_the_archive_cases_accounts_and_says_how_to_start(tmp_path):
    out = tmp_path / "demo"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")]))
    start = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "psyscreen", "demo", "--out", str(out), "--workspace", "--lang", "en"],
                       capture_output=True, text=True, env=env, timeout=240, cwd=REPO)
    took = time.monotonic() - start
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    db = out / "county.db"
    # how to start the workspace, the URL, each demo account with its password, said to be demo-only
    assert f"psyscreen serve --db {db}" in r.stdout and "http://127.0.0.1:8000/" in r.stdout
    assert "DEMO ONLY" in r.stdout
    for user, password in (("demo-county", "sample-maple-4821"), ("demo-school", "sample-cedar-5937"),
                           ("demo-class", "sample-birch-6143"), ("demo-leader", "sample-aspen-7259")):
        assert any(user in line and password in line for line in r.stdout.splitlines()), user
    assert (out / "manifest.json").is_file() and (out / "critical.xlsx").is_file()  # the screening, as before
    with sqlite3.connect(db) as con:
        q = lambda sql: con.execute(sql).fetchall()  # noqa: E731
        assert [w for (w,) in q("SELECT wave FROM waves ORDER BY wave")] == ["2026-03", "2026-09"]
        flagged = q("SELECT COUNT(*) FROM screenings WHERE flagged = 1")[0][0]
        assert q("SELECT COUNT(*) FROM workspace_case")[0][0] == flagged > 0
        again = q("SELECT COUNT(*) FROM workspace_case WHERE previous_id IS NOT NULL")[0][0]
        assert again > 0  # some students are flagged again: their new case points at the last one
        roles = dict(q("SELECT u.username, a.role FROM auth_user u JOIN workspace_account a ON a.user_id = u.id"))
        assert roles == {"demo-county": "county", "demo-school": "school", "demo-class": "class",
                         "demo-leader": "leader"}
        (school, grade, klass), = q("SELECT school, grade, klass FROM workspace_account WHERE role = 'class'")
        assert q("SELECT school FROM workspace_account WHERE role = 'school'") == [(school,)]
        kinds = [k for (k,) in q("SELECT kind FROM workspace_event WHERE source = 'demo'")]
        assert {"interviewed", "closed", "referred"} <= set(kinds)
        today = timezone.localdate().isoformat()  # the demo dates its cases by the day in China
        overdue = q("SELECT c.id FROM workspace_case c LEFT JOIN workspace_event e ON e.case_id = c.id "
                    f"WHERE c.deadline < '{today}' AND e.id IS NULL")
        assert len(overdue) == 1  # one urgent case left alone, past its deadline
        in_class = con.execute("SELECT COUNT(*) FROM workspace_case WHERE school = ? AND grade = ? AND klass = ? "
                               "AND wave = '2026-09'", (school, grade, klass)).fetchone()[0]
        assert in_class >= 3  # the class teacher's class has cases to show
        # passwords are hashed by Django, never stored as written
        assert all(not h.endswith("2026") and h.startswith("pbkdf2_") for (h,) in q("SELECT password FROM auth_user"))
    assert took < 120, took  # ~40 s on a busy machine; the point is that `make demo` stays fast


def test_seed_demo_twice_adds_nothing_and_the_accounts_log_in(client, db):
    from psyscreen.workspace.demo import DEMO_ACCOUNTS, seed_demo
    from psyscreen.workspace.models import Case, Event

    today = timezone.localdate()
    make_case(student_key="K1", wave="2026-03", school="一中", grade=7, klass="1")
    for i, (critical, rank) in enumerate([(True, 1), (False, 2), (False, 3)]):
        make_case(student_key=f"K{i + 1}", wave="2026-09", school="一中", grade=8, klass="2", critical=critical,
                  level_rank=rank, opened_on=today, deadline=today + dt.timedelta(days=7 if rank > 1 else 0))
    make_case(student_key="K9", wave="2026-09", school="二中", grade=8, klass="1", opened_on=today,
              deadline=today + dt.timedelta(days=7))
    first = seed_demo(today=today)
    n = Event.objects.count()
    again = seed_demo(today=today)
    assert Event.objects.count() == n > 0 and first == again
    assert (first.school, first.grade, first.klass) == ("一中", 8, "2")
    overdue = [c for c in Case.objects.all() if c.overdue(today)]
    assert [c.student_key for c in overdue] == ["K1"] and overdue[0].wave == "2026-09"  # the critical one
    assert Case.objects.get(student_key="K1", wave="2026-03").events.filter(kind="referred").exists()
    # each demo account logs in and sees its pages
    for user, (role, password) in DEMO_ACCOUNTS.items():
        r = client.post("/login/", {"username": user, "password": password})  # the real form (axes needs it)
        assert r.status_code == 302 and client.session.get("_auth_user_id"), user
        page = client.get("/dashboard/" if role == "leader" else "/cases/")
        assert page.status_code in (200, 501), (user, page.status_code)  # the dashboard is another helper's
        if role == "class":
            html = page.content.decode()
            assert str(overdue[0].pk) in html
            assert str(Case.objects.get(student_key="K9").pk) not in html
        client.logout()
    lines = "\n".join(first.lines("out/demo/county.db", "en"))
    assert ".venv/bin/psyscreen serve --db out/demo/county.db" in lines and "K1" not in lines
