"""The workspace on a real PostgreSQL server (tests/workspace/pg.py starts one), through the real commands.

Django is configured once per test process, with SQLite (tests/conftest.py), so the PostgreSQL path runs in
subprocesses: ``psyscreen followup sync`` and ``followup account`` with ``--database-url``, then ``psyscreen
serve`` on the loopback, used over HTTP like a browser (cookies, the forms' CSRF tokens); what it stored is read
back with psycopg.
"""

from __future__ import annotations

import re
import sqlite3
from types import SimpleNamespace

import psycopg
import pytest

from .pg import (CASE_ROW, WebUser, WorkspaceServer, event_form, postgres, postgres_url,  # noqa: F401 (fixtures)
                 run_psyscreen, sample_archive)

PASSWORD = "Tq7-follow-up-test"


@pytest.fixture(scope="module")
def pg_workspace(tmp_path_factory, postgres):
    """The sample county's 2026-09 wave archived, its cases opened in PostgreSQL, a county and a school account
    made there, and ``psyscreen serve`` running on them."""
    folder = tmp_path_factory.mktemp("pg-workspace")
    archive = sample_archive(folder)
    with sqlite3.connect(archive) as con:
        flagged = con.execute("SELECT count(*) FROM screenings WHERE flagged = 1").fetchone()[0]
        school = con.execute("SELECT school FROM screenings WHERE flagged = 1 GROUP BY school "
                             "ORDER BY count(*) DESC LIMIT 1").fetchone()[0]
    sync = run_psyscreen("followup", "sync", "--db", archive, "--database-url", postgres.url)
    run_psyscreen("followup", "account", "county1", "--role", "county", "--password", PASSWORD,
                  "--db", archive, "--database-url", postgres.url)
    run_psyscreen("followup", "account", "psy1", "--role", "school", "--school", school, "--password", PASSWORD,
                  "--db", archive, "--database-url", postgres.url)
    with WorkspaceServer(archive, postgres.url) as server:
        yield SimpleNamespace(archive=archive, url=postgres.url, server=server, school=school, flagged=flagged,
                              sync_output=sync.stdout)


def rows(url, sql, *args):
    with psycopg.connect(url) as con:
        return con.execute(sql, args).fetchall()


@pytest.fixture
def logged_in(pg_workspace):
    """``logged_in(username="county1")``: a :class:`WebUser` signed in to the served workspace; its connection
    is closed after the test."""
    users = []

    def log_in(username: str = "county1") -> WebUser:
        web = WebUser(pg_workspace.server.port)
        users.append(web)
        assert web.login(username, PASSWORD) == 302
        return web

    yield log_in
    for web in users:
        web.close()


def test_sync_opens_every_flagged_students_case_in_postgres_once(pg_workspace):
    ws = pg_workspace
    opened = int(re.search(r"(\d+) case\(s\) opened", ws.sync_output).group(1))
    assert opened == ws.flagged > 0
    # serve synced again at start, and so does this: nothing new
    again = run_psyscreen("followup", "sync", "--db", ws.archive, "--database-url", ws.url)
    assert again.stdout.startswith("0 case(s) opened")
    assert rows(ws.url, "SELECT count(*) FROM workspace_case")[0][0] == ws.flagged
    # the workspace's tables are in PostgreSQL, not in the archive
    with sqlite3.connect(ws.archive) as con:
        assert not con.execute("SELECT name FROM sqlite_master WHERE name = 'workspace_case'").fetchall()
    users = dict(rows(ws.url, "SELECT username, password FROM auth_user"))
    assert set(users) >= {"county1", "psy1"}
    assert all(h.startswith("pbkdf2_sha256$") and PASSWORD not in h for h in users.values())  # hashed by Django


def test_log_in_open_the_critical_list_and_record_an_interview(pg_workspace, logged_in):
    ws = pg_workspace
    web = logged_in()
    status, page, _ = web.get("/critical/", "critical")
    assert status == 200
    shown = CASE_ROW.findall(page)
    critical = {str(r[0]) for r in rows(ws.url, "SELECT id FROM workspace_case WHERE critical OR level_rank = 1")}
    assert shown and set(shown) <= critical
    case = shown[0]
    status, page, _ = web.get(f"/case/{case}/", "case")
    assert status == 200 and 'id="event-form"' in page
    status, _, location = web.post(f"/case/{case}/event/", event_form("pg-interview-1"), "event", page)
    assert (status, location) == (302, f"/case/{case}/")
    status, page, _ = web.get(location, "case")
    assert status == 200 and 'data-kind="interviewed"' in page
    stored = rows(ws.url, "SELECT e.case_id, e.kind, e.fields->>'reassessed_level', e.source, u.username "
                          "FROM workspace_event e JOIN auth_user u ON u.id = e.recorded_by_id "
                          "WHERE e.fields->>'note' = %s", "pg-interview-1")
    assert [(str(c), k, lv, src, u) for c, k, lv, src, u in stored] == [
        (case, "interviewed", "2", "web", "county1")]
    audit = rows(ws.url, "SELECT action, username FROM workspace_auditentry WHERE case_id = %s ORDER BY at", case)
    assert ("view_case", "county1") in audit and ("add_event", "county1") in audit


def test_a_school_sees_only_its_school(pg_workspace, logged_in):
    ws = pg_workspace
    web = logged_in("psy1")
    status, page, _ = web.get("/cases/", "cases")
    assert status == 200
    shown = set(CASE_ROW.findall(page))
    mine = {str(r[0]) for r in rows(ws.url, "SELECT id FROM workspace_case WHERE school = %s", ws.school)}
    assert shown and shown <= mine
    other = rows(ws.url, "SELECT id FROM workspace_case WHERE school <> %s LIMIT 1", ws.school)[0][0]
    assert web.get(f"/case/{other}/", "case")[0] == 404


def test_postgres_refuses_to_change_or_remove_events_and_audit_entries(pg_workspace, logged_in):
    ws = pg_workspace
    web = logged_in()
    case = rows(ws.url, "SELECT id FROM workspace_case ORDER BY id LIMIT 1")[0][0]
    status, page, _ = web.get(f"/case/{case}/", "case")
    assert web.post(f"/case/{case}/event/", event_form("pg-append-only"), "event", page)[0] == 302
    before = {t: rows(ws.url, f"SELECT count(*) FROM {t}")[0][0] for t in ("workspace_event", "workspace_auditentry")}
    assert all(n > 0 for n in before.values())
    for table, change in (("workspace_event", "SET kind = 'closed'"), ("workspace_auditentry", "SET action = 'x'")):
        for sql in (f"UPDATE {table} {change}", f"DELETE FROM {table}"):
            with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                rows(ws.url, sql)
    assert {t: rows(ws.url, f"SELECT count(*) FROM {t}")[0][0] for t in before} == before
    assert rows(ws.url, "SELECT kind FROM workspace_event WHERE fields->>'note' = 'pg-append-only'") == [
        ("interviewed",)]


def test_a_post_without_the_csrf_token_is_refused(pg_workspace, logged_in):
    ws = pg_workspace
    web = logged_in()
    case = rows(ws.url, "SELECT id FROM workspace_case ORDER BY id DESC LIMIT 1")[0][0]
    assert web.get(f"/case/{case}/", "case")[0] == 200
    status, page, _ = web.post(f"/case/{case}/event/", event_form("pg-no-csrf"), "event")  # no token
    assert status == 403 and 'id="error-message"' in page
    # a wrong token is refused too
    status, _, _ = web.request("POST", f"/case/{case}/event/", "event",
                               {"csrfmiddlewaretoken": "x" * 64, **event_form("pg-no-csrf")})
    assert status == 403
    assert rows(ws.url, "SELECT count(*) FROM workspace_event WHERE fields->>'note' = 'pg-no-csrf'")[0][0] == 0


def test_erasing_a_student_in_postgres_keeps_the_rest_append_only(pg_workspace, logged_in):
    """`followup erase` removes one student's cases and events in PostgreSQL, in one transaction that lifts and
    restores the append-only triggers; other students' events stay and stay unchangeable."""
    ws = pg_workspace
    web = logged_in()
    case, key = rows(ws.url, "SELECT id, student_key FROM workspace_case ORDER BY id DESC LIMIT 1")[0]
    status, page, _ = web.get(f"/case/{case}/", "case")
    assert web.post(f"/case/{case}/event/", event_form("pg-erase"), "event", page)[0] == 302
    others = rows(ws.url, "SELECT count(*) FROM workspace_event e JOIN workspace_case c ON c.id = e.case_id "
                          "WHERE c.student_key <> %s", key)[0][0]
    out = run_psyscreen("followup", "erase", key, "--reason", "graduated", "--db", ws.archive,
                        "--database-url", ws.url).stdout
    assert "erased" in out and key not in out
    assert rows(ws.url, "SELECT count(*) FROM workspace_case WHERE student_key = %s", key)[0][0] == 0
    assert rows(ws.url, "SELECT count(*) FROM workspace_event WHERE fields->>'note' = 'pg-erase'")[0][0] == 0
    assert rows(ws.url, "SELECT count(*) FROM workspace_event")[0][0] == others > 0
    assert rows(ws.url, "SELECT count(*) FROM workspace_auditentry WHERE action = 'erase_student'")[0][0] == 1
    with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
        rows(ws.url, "DELETE FROM workspace_event")
