"""The workspace's pages through Django's test client: the event form and corrections, the growth file, what each
role sees, find, the dashboard with suppression, exports, the audit log, accounts, errors, sessions, axes."""

from __future__ import annotations

import datetime as dt
import io
import re
from html.parser import HTMLParser

import pytest
from django.test import override_settings

from psyscreen.workspace.models import AuditEntry, Case, Event

from .conftest import PASSWORD, make_case

KEYS = ("S0001", "S0002", "S0003")


@pytest.fixture(autouse=True)
def fast_hashing(settings):
    """Django's fast test hasher (MD5) for the accounts of these tests; hashing itself is tested in
    test_the_county_makes_an_account_with_django_password_validation (with the production hashers)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher",
                                 "django.contrib.auth.hashers.PBKDF2PasswordHasher"]


def _html(response) -> str:
    return response.content.decode()


def _post_event(client, case, **fields):
    return client.post(f"/case/{case.pk}/event/", fields)


# ---- the event form ------------------------------------------------------------------------------------------

def test_event_form_is_built_from_the_event_kinds(client, accounts, cases):
    from psyscreen import followup

    client.force_login(accounts["school"])
    page = _html(client.get(f"/case/{cases['critical'].pk}/"))
    form = page[page.index('id="event-form"'):]
    kinds = re.search(r'<select name="kind"[^>]*id="id_kind"[^>]*>(.*?)</select>', form, re.S).group(1)
    assert re.findall(r'value="([^"]+)"', kinds) == list(followup.EVENT_KINDS)
    assert '<input type="date" name="date"' in form and 'id="id_date"' in form
    outcome = re.search(r'<select name="outcome" id="id_outcome">(.*?)</select>', form, re.S).group(1)
    codes = set(re.findall(r'value="([^"]*)"', outcome)) - {""}
    assert codes == {c for group in followup.OUTCOMES.values() for c in group}
    assert "风险解除" in outcome  # the words of the page language
    level = re.search(r'<select name="reassessed_level" id="id_reassessed_level">(.*?)</select>', form, re.S).group(1)
    assert re.findall(r'value="([^"]*)"', level) == ["", "1", "2", "3", "none"]
    for name in ("by", "note", "to"):
        assert f'id="id_{name}"' in form
    client.get("/lang/en/")
    page = _html(client.get(f"/case/{cases['critical'].pk}/"))
    assert "risk resolved" in page and "风险解除" not in page


def test_an_invalid_event_shows_every_problem_next_to_its_field_and_stores_nothing(client, accounts, cases):
    client.force_login(accounts["school"])
    case = cases["critical"]
    future = (dt.date.today() + dt.timedelta(days=3)).isoformat()
    r = _post_event(client, case, kind="closed", date=future, by="", outcome="")
    assert r.status_code == 200
    page = _html(r)
    assert 'id="error-date"' in page and "日期晚于今天" in page
    assert 'id="error-by"' in page and 'id="error-outcome"' in page
    assert not Event.objects.filter(case=case).exists()
    # a field the chosen kind does not have is refused, not silently dropped
    r = _post_event(client, case, kind="suspended", date="2026-09-11", by="王老师", to="县医院")
    assert r.status_code == 200 and 'id="error-to"' in _html(r)
    assert not Event.objects.filter(case=case).exists()
    client.get("/lang/en/")
    r = _post_event(client, case, kind="closed", date=future, by="", outcome="")
    assert "a date in the future" in _html(r) and "日期晚于今天" not in _html(r)


def test_every_problem_of_validate_event_has_chinese_words():
    from psyscreen import followup
    from psyscreen.workspace.words import problem_words

    bad = [("closed", {"date": "soon", "by": "", "outcome": "fine"}), ("closed", {"date": "2026-02-30"}),
           ("interviewed", {"date": "2999-01-01", "reassessed_level": "7", "to": "x"}),
           ("plan", {"note": "x" * 2001}), ("nonsense", {})]
    problems = []
    for kind, values in bad:
        with pytest.raises(followup.EventError) as exc:
            followup.validate_event(kind, values, today=dt.date(2026, 9, 1))
        problems += exc.value.problems.values()
    assert len(problems) >= 9
    for p in problems:
        zh = problem_words(p, "zh")
        assert zh != p and not re.search(r"[a-z]{3,}", zh), (p, zh)
        en = problem_words(p, "en")
        assert not re.search(r"[\u4e00-\u9fff]", en), (p, en)


def test_an_event_is_shown_in_words_and_a_correction_strikes_the_old_one_through(client, accounts, cases):
    client.force_login(accounts["school"])
    case = cases["critical"]
    r = _post_event(client, case, kind="referred", date="2026-09-11", by="王老师", to="县医院", outcome="pending")
    assert r.status_code == 302 and r["Location"] == f"/case/{case.pk}/"
    first = Event.objects.get(case=case)
    page = _html(client.get(f"/case/{case.pk}/"))
    assert "转介" in page and "待反馈" in page and "县医院" in page
    assert f'data-kind="referred" data-event="{first.pk}"' in page
    assert "已保存" in page  # Django's messages
    correct = _html(client.get(f"/case/{case.pk}/?correct={first.pk}"))
    assert 'id="correcting"' in correct and f'value="{first.pk}"' in correct  # the hidden corrects field
    r = _post_event(client, case, kind="referred", date="2026-09-11", by="王老师", to="市精神卫生中心",
                    outcome="seen", corrects=str(first.pk))
    assert r.status_code == 302
    second = Event.objects.exclude(pk=first.pk).get(case=case)
    assert second.corrects_id == first.pk
    first.refresh_from_db()
    assert first.fields["to"] == "县医院"  # never edited
    page = _html(client.get(f"/case/{case.pk}/"))
    row = re.search(rf'<tr class="event corrected"[^>]*data-event="{first.pk}".*?</tr>', page, re.S).group(0)
    assert "<del>" in row and "correct-link" not in row
    assert AuditEntry.objects.filter(action="correct_event", case=case).count() == 1
    # a corrected event cannot be corrected a second time; an event of another case cannot be corrected here
    r = _post_event(client, case, kind="referred", date="2026-09-11", by="王老师", to="x", outcome="seen",
                    corrects=str(first.pk))
    assert r.status_code == 200 and Event.objects.filter(case=case).count() == 2
    other = make_case(student_key="S0009", klass="1")
    r = _post_event(client, other, kind="suspended", date="2026-09-11", by="王老师", corrects=str(second.pk))
    assert r.status_code == 200 and not Event.objects.filter(case=other).exists()


def test_the_case_page_is_the_growth_file(client, accounts, cases):
    last = make_case(student_key="S0001", wave="2026-03", level="level2", level_rank=2, opened_on=dt.date(2026, 3, 5),
                     deadline=dt.date(2026, 3, 12), reasons="SDQ 困难总分 20", reasons_en="SDQ total 20")
    Event.objects.create(case=last, kind="closed", occurred_on=dt.date(2026, 4, 1),
                         fields={"by": "李老师", "outcome": "resolved"}, recorded_by=accounts["school"])
    now = cases["critical"]
    Case.objects.filter(pk=now.pk).update(previous=last)
    client.force_login(accounts["school"])
    page = _html(client.get(f"/case/{now.pk}/"))
    growth = page[page.index('id="growth-file"'):]
    growth = growth[:growth.index("</table>")]
    assert "2026-03" in growth and "2026-09" in growth and "SDQ 困难总分 20" in growth
    assert 'id="flagged-again"' in page and "风险解除" in page  # what was done last time
    assert 'id="overdue"' in page  # the critical case's deadline (2026-09-10) has passed
    assert f'href="/case/{last.pk}/"' in page  # every case of the student, with its events
    assert 'id="scores-link"' in page
    # the class teacher: levels and actions, no reasons, no scores link
    client.force_login(accounts["class"])
    page = _html(client.get(f"/case/{now.pk}/"))
    assert 'id="growth-file"' in page and "2026-03" in page
    assert "PHQ-9" not in page and "SDQ" not in page and 'id="scores-link"' not in page
    assert "一周内约谈" in page or "interview" in page


def test_the_class_teacher_never_sees_a_score(client, accounts, cases):
    client.force_login(accounts["class"])
    for url in ("/critical/", "/cases/", f"/case/{cases['critical'].pk}/"):
        page = _html(client.get(url))
        assert "PHQ-9" not in page and "16" not in re.sub(r"<[^>]+>|[0-9a-f-]{36}|\d{4}-\d{2}-\d{2}", "", page)
    assert client.get(f"/case/{cases['critical'].pk}/scores/").status_code == 403


def test_school_teacher_sees_the_scores_page(client, accounts, cases):
    client.force_login(accounts["school"])
    page = _html(client.get(f"/case/{cases['critical'].pk}/scores/"))
    assert "phq9.total" in page and "16" in page


# ---- lists and find --------------------------------------------------------------------------------------------

def test_the_critical_list_puts_the_overdue_first_and_says_by_how_much(client, accounts, cases):
    make_case(student_key="S0010", level="level1", level_rank=1, deadline=dt.date.today() + dt.timedelta(days=5),
              opened_on=dt.date.today())
    client.force_login(accounts["school"])
    page = _html(client.get("/critical/"))
    order = re.findall(r'data-case="([0-9a-f-]{36})"', page)
    assert order[0] == str(cases["critical"].pk)
    assert "overdue-mark" in page and "S0010" in page
    from django.utils import timezone

    days = (timezone.localdate() - dt.date(2026, 9, 10)).days
    assert f"已逾期 {days}" in page


def test_find_goes_to_the_latest_case_by_post_and_never_shows_the_key(client, accounts, cases):
    newer = make_case(student_key="S0001", wave="2027-03", opened_on=dt.date(2027, 3, 1), deadline=dt.date(2027, 3, 8))
    client.force_login(accounts["school"])
    r = client.post("/find/", {"key": "S0001"})
    assert r.status_code == 302 and r["Location"] == f"/case/{newer.pk}/"
    r = client.post("/find/", {"key": "S0003"})  # another school's student: not found
    assert r.status_code == 302 and r["Location"] == "/cases/"
    entries = AuditEntry.objects.filter(action="find")
    assert entries.count() == 2 and not any("S000" in e.detail for e in entries)
    assert client.get("/find/").status_code == 405


# ---- pseudonyms ------------------------------------------------------------------------------------------------

@override_settings(PSYSCREEN_PSEUDONYMISE=True)
def test_the_county_sees_pseudonyms_and_the_school_sees_keys(client, accounts, cases):
    from psyscreen.workspace.access import pseudonym

    client.force_login(accounts["county"])
    _post_event(client, cases["critical"], kind="suspended", date="2026-09-11", by="王老师")
    for url in ("/critical/", "/cases/", f"/case/{cases['critical'].pk}/", f"/case/{cases['critical'].pk}/scores/",
                "/audit/", "/dashboard/"):
        page = _html(client.get(url))
        assert not any(k in page for k in KEYS), url
    assert pseudonym("S0003") in _html(client.get("/cases/"))
    for table in ("critical", "cases"):
        text = _xlsx_text(client.get(f"/export/{table}.xlsx"))
        assert not any(k in text for k in KEYS) and pseudonym("S0001") in text
    r = client.post("/find/", {"key": pseudonym("S0003")})
    assert r["Location"] == f"/case/{cases['school_b'].pk}/"
    assert client.post("/find/", {"key": "S0003"})["Location"] == "/cases/"  # the key itself finds nothing
    client.force_login(accounts["school"])
    assert "S0001" in _html(client.get("/cases/"))


# ---- no student key in a URL -----------------------------------------------------------------------------------

class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.urls = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("href", "action", "src", "formaction") and value and not value.startswith("data:"):
                self.urls.append(value)


@pytest.mark.parametrize("who", ["county", "school", "class", "leader"])
def test_no_student_key_in_any_url_a_page_links_to(client, accounts, cases, who):
    make_case(student_key="S0001", wave="2026-03", opened_on=dt.date(2026, 3, 5), deadline=dt.date(2026, 3, 12))
    client.force_login(accounts[who])
    seen, todo, urls = set(), ["/", "/critical/", "/cases/", "/dashboard/", "/audit/", "/accounts/",
                               f"/case/{cases['critical'].pk}/"], []
    while todo:
        url = todo.pop()
        if url in seen or not url.startswith("/") or url.startswith("/logout") or url.endswith(".xlsx"):
            continue
        seen.add(url)
        r = client.get(url)
        if r.status_code in (301, 302):
            urls.append(r["Location"])
            todo.append(r["Location"])
            continue
        if r.status_code != 200:
            continue
        parser = _Links()
        parser.feed(_html(r))
        urls += parser.urls
        todo += [u.split("#")[0] for u in parser.urls if "/lang/" not in u]
    assert len(seen) > 3
    for u in urls:
        assert not any(k in u for k in KEYS), u
    for k in KEYS:
        assert not any(k in e.detail for e in AuditEntry.objects.all())


# ---- audit -----------------------------------------------------------------------------------------------------

def test_every_view_of_a_student_page_and_every_change_is_audited(client, accounts, cases):
    case = cases["critical"]
    client.force_login(accounts["school"])
    client.get(f"/case/{case.pk}/")
    client.get(f"/case/{case.pk}/scores/")
    _post_event(client, case, kind="suspended", date="2026-09-11", by="王老师")
    client.get("/export/cases.xlsx")
    got = list(AuditEntry.objects.order_by("at", "id").values_list("username", "action", "case_id", "detail"))
    assert got[0] == ("psy1", "view_case", case.pk, "")
    assert got[1] == ("psy1", "view_scores", case.pk, "")
    assert ("psy1", "add_event", case.pk, "suspended") in got
    assert got[-1][:3] == ("psy1", "export", None) and got[-1][3].startswith("cases: 2 row")
    # the county reads it, newest first; nobody else may
    client.force_login(accounts["county"])
    page = _html(client.get("/audit/"))
    actions = re.findall(r'class="audit-entry" data-action="([a-z_]+)"', page)
    assert actions[0] == "export" and actions[-1] == "view_case"
    for who in ("school", "class", "leader"):
        client.force_login(accounts[who])
        assert client.get("/audit/").status_code == 403


def test_the_audit_log_is_paginated(client, accounts, cases):
    from psyscreen.workspace.views.admin import PAGE_SIZE

    for _ in range(PAGE_SIZE + 3):
        AuditEntry.objects.create(user=accounts["school"], username="psy1", action="view_case", case=cases["critical"])
    client.force_login(accounts["county"])
    first = _html(client.get("/audit/"))
    assert first.count('class="audit-entry"') == PAGE_SIZE and 'id="page-next"' in first
    second = _html(client.get("/audit/?page=2"))
    assert second.count('class="audit-entry"') == 3
    assert client.get("/audit/?page=abc").status_code == 200


# ---- dashboard -------------------------------------------------------------------------------------------------

def _dashboard_cases():
    for i in range(7):
        c = make_case(student_key=f"A{i:03d}", school="一中", opened_on=dt.date(2026, 9, 1), deadline=dt.date(2026, 9, 8))
        if i < 6:
            Event.objects.create(case=c, kind="interviewed", occurred_on=dt.date(2026, 9, 5),
                                 fields={"by": "王", "reassessed_level": "2"})
    for i in range(3):
        make_case(student_key=f"B{i:03d}", school="二中", opened_on=dt.date(2026, 9, 1), deadline=dt.date(2026, 9, 8))
    for i in range(8):
        c = make_case(student_key=f"C{i:03d}", school="三中", opened_on=dt.date(2026, 9, 1), deadline=dt.date(2026, 9, 8))
        Event.objects.create(case=c, kind="closed", occurred_on=dt.date(2026, 9, 3),
                             fields={"by": "李", "outcome": "resolved"})


def _dashboard_cells(page) -> dict:
    rows = re.findall(r'<tr data-school="([^"]+)"><td>[^<]*</td>(.*?)</tr>', page, re.S)
    return {s: re.findall(r'<td class="num">([^<]*)</td>', cells) for s, cells in rows}


def test_the_county_dashboard_counts_per_school(client, accounts):
    _dashboard_cases()
    client.force_login(accounts["county"])
    page = _html(client.get("/dashboard/"))
    cells = _dashboard_cells(page)
    # flagged, reviewed, interviewed on time, referred, closed, overdue
    assert cells["一中"] == ["7", "0", "6", "0", "0", "1"]
    assert cells["二中"] == ["3", "0", "0", "0", "0", "3"]
    assert cells["三中"] == ["8", "0", "0", "0", "8", "0"]
    assert 'src="data:image/png;base64,' in page and 'id="nav-dashboard"' in page


def test_the_dashboard_leaves_out_a_corrected_event(client, accounts):
    _dashboard_cases()
    for c in Case.objects.filter(school="三中")[:2]:  # two closes that were mistakes, corrected to reviews
        Event.objects.create(case=c, kind="reviewed", occurred_on=dt.date(2026, 9, 3), corrects=c.events.get(),
                             fields={"by": "李", "outcome": "confirmed"})
    client.force_login(accounts["county"])
    cells = _dashboard_cells(_html(client.get("/dashboard/")))
    assert cells["三中"] == ["8", "2", "0", "0", "6", "2"]  # reviewed 2, closed 6, and the two are now overdue


def test_the_leader_sees_small_counts_suppressed(client, accounts):
    _dashboard_cases()
    client.force_login(accounts["leader"])
    page = _html(client.get("/dashboard/"))
    cells = _dashboard_cells(page)
    assert cells["二中"] == ["*"] * 6  # 3 flagged: every count of the school hidden
    assert cells["一中"][5] == "*" and cells["一中"][0] != "3"  # 1 overdue hidden
    for col in range(6):  # never exactly one hidden count under a total
        assert sum(cells[s][col] == "*" for s in cells) != 1
    assert "S0001" not in page and 'id="suppressed-note"' in page
    assert client.get("/critical/").status_code == 403
    text = _xlsx_text(client.get("/export/dashboard.xlsx"))
    assert "*" in text
    assert client.get("/export/cases.xlsx").status_code == 403


# ---- exports ---------------------------------------------------------------------------------------------------

def _xlsx_text(response) -> str:
    import openpyxl

    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    wb = openpyxl.load_workbook(io.BytesIO(response.content))
    return "\n".join(str(v) for ws in wb.worksheets for row in ws.iter_rows(values_only=True) for v in row
                     if v is not None)


@pytest.mark.parametrize("table", ["critical", "cases", "dashboard"])
def test_exports_open_and_escape_formulas(client, accounts, table):
    import openpyxl

    make_case(student_key="S0100", level="level1", level_rank=1, critical=True, reasons="=HYPERLINK(\"http://x\")",
              action="+1 同日", deadline=dt.date(2026, 9, 10))
    client.force_login(accounts["county"])
    r = client.get(f"/export/{table}.xlsx")
    wb = openpyxl.load_workbook(io.BytesIO(r.content))
    values = [c for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value is not None]
    assert values
    assert not any(c.data_type == "f" for c in values)  # nothing Excel would run
    if table != "dashboard":
        texts = [c.value for c in values]
        assert "'=HYPERLINK(\"http://x\")" in texts and "'+1 同日" in texts
        assert "S0100" in texts
    assert AuditEntry.objects.filter(action="export", detail__startswith=table).count() == 1
    assert client.get("/export/everything.xlsx").status_code == 404


def test_the_class_teacher_cannot_export(client, accounts, cases):
    client.force_login(accounts["class"])
    assert client.get("/export/critical.xlsx").status_code == 403


# ---- accounts --------------------------------------------------------------------------------------------------

def test_the_county_makes_an_account_with_django_password_validation(client, accounts, settings):
    from django.contrib.auth import get_user_model

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]  # the production default
    client.force_login(accounts["county"])
    page = _html(client.get("/accounts/"))
    assert "teacher71" in page and 'id="account-form"' in page
    weak = dict(username="psy3", password="12345678", password2="12345678", role="school", school="三中", lang="zh")
    r = client.post("/accounts/", weak)
    assert r.status_code == 200 and 'id="error-password"' in _html(r)
    assert not AuditEntry.objects.filter(action="make_account").exists()
    no_school = dict(weak, password="Lz9-good-password", password2="Lz9-good-password", school="")
    assert 'id="error-school"' in _html(client.post("/accounts/", no_school))
    taken = dict(no_school, username="psy1", school="三中")
    assert 'id="error-username"' in _html(client.post("/accounts/", taken))
    r = client.post("/accounts/", dict(no_school, school="三中"))
    assert r.status_code == 302
    user = get_user_model().objects.get(username="psy3")
    assert user.check_password("Lz9-good-password") and user.password.startswith("pbkdf2_sha256$")
    assert user.account.role == "school" and user.account.school == "三中"
    assert AuditEntry.objects.filter(action="make_account", detail="psy3 (school)").exists()
    client.force_login(accounts["school"])
    assert client.post("/accounts/", dict(no_school, username="psy4", school="三中")).status_code == 403


# ---- errors, sessions, failed logins, language ---------------------------------------------------------------

def test_error_pages_show_no_path_and_no_student_key(client, accounts, cases):
    from django.conf import settings

    assert settings.DEBUG is False
    client.force_login(accounts["school"])
    r = client.get("/students/S0001/answers/")
    assert r.status_code == 404 and 'id="error-message"' in _html(r) and "S0001" not in _html(r)
    r = client.get(f"/case/{cases['school_b'].pk}/")
    assert r.status_code == 404 and str(cases["school_b"].pk) not in _html(r)
    client.force_login(accounts["class"])
    r = client.get(f"/case/{cases['critical'].pk}/scores/")
    assert r.status_code == 403 and 'id="error-message"' in _html(r) and "您无权" in _html(r)
    r = client.get("/critical/", HTTP_HOST="S0001.example")  # a disallowed host: 400
    assert r.status_code == 400 and "S0001" not in _html(r) and 'id="error-message"' in _html(r)


def test_a_server_error_page_shows_nothing_of_the_error(client, accounts, cases, monkeypatch):
    from psyscreen.workspace.views import cases as case_views

    def broken(user, key):
        raise RuntimeError(f"student {key} broke the page")

    monkeypatch.setattr(case_views, "student_label", broken)
    client.raise_request_exception = False
    client.force_login(accounts["school"])
    r = client.get(f"/case/{cases['critical'].pk}/")
    assert r.status_code == 500
    page = _html(r)
    assert 'id="error-message"' in page and "S0001" not in page and "RuntimeError" not in page


def test_a_post_without_a_csrf_token_is_refused(accounts, cases):
    from django.test import Client

    c = Client(enforce_csrf_checks=True)
    c.force_login(accounts["school"])
    r = c.post(f"/case/{cases['critical'].pk}/event/", {"kind": "suspended", "date": "2026-09-11", "by": "王"})
    assert r.status_code == 403 and 'id="error-message"' in _html(r) and "表单已过期" in _html(r)
    assert not Event.objects.exists()


def test_an_idle_session_expires(client, accounts, cases):
    from django.conf import settings
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    assert settings.SESSION_COOKIE_AGE <= 12 * 3600 and settings.SESSION_SAVE_EVERY_REQUEST
    client.force_login(accounts["school"])
    assert client.get("/critical/").status_code == 200
    Session.objects.update(expire_date=timezone.now() - dt.timedelta(seconds=1))
    r = client.get("/critical/")
    assert r.status_code == 302 and r["Location"].startswith("/login/")


def test_the_sixth_wrong_password_locks_out_even_the_right_one(client, accounts):
    from django.conf import settings

    assert settings.AXES_FAILURE_LIMIT == 5
    for _ in range(4):
        r = client.post("/login/", {"username": "psy1", "password": "wrong-password"})
        assert r.status_code == 200 and 'id="login-error"' in _html(r)
    r = client.post("/login/", {"username": "psy1", "password": "wrong-password"})  # the 5th failure locks
    assert r.status_code == 429 and 'id="locked"' in _html(r)
    r = client.post("/login/", {"username": "psy1", "password": PASSWORD})  # the 6th try, the right password
    assert r.status_code == 429 and 'id="locked"' in _html(r)
    assert "_auth_user_id" not in client.session
    assert client.get("/critical/").status_code == 302
    # another user from the same machine is not locked out
    r = client.post("/login/", {"username": "county", "password": PASSWORD})
    assert r.status_code == 302


def test_the_right_password_logs_in(client, accounts):
    r = client.post("/login/", {"username": "psy1", "password": PASSWORD})
    assert r.status_code == 302
    assert client.get("/critical/").status_code == 200


def test_the_english_pages_have_no_chinese_words_but_the_data(client, accounts, cases):
    case = cases["critical"]
    client.force_login(accounts["county"])
    _post_event(client, case, kind="closed", date="2099-01-01", by="王老师", outcome="resolved")
    client.get("/lang/en/")
    _post_event(client, case, kind="referred", date="2026-09-11", by="王老师", to="县医院", outcome="seen")
    data = ("一中", "二中", "王老师", "县医院", "中文")
    pages = {url: _html(client.get(url)) for url in ("/critical/", "/cases/", f"/case/{case.pk}/", "/dashboard/",
                                                     "/audit/", "/accounts/", f"/case/{case.pk}/scores/")}
    pages["invalid event"] = _html(_post_event(client, case, kind="closed", date="2099-01-01", by="", outcome=""))
    for url, page in pages.items():
        text = re.sub(r"<[^>]+>", " ", page.replace('src="data:image', ""))
        for d in data:
            text = text.replace(d, "")
        assert not re.findall(r"[\u4e00-\u9fff]+", text), (url, re.findall(r".{20}[\u4e00-\u9fff]+.{20}", text))


def test_words_switch_between_chinese_and_english(client, accounts, cases):
    from psyscreen.workspace.words import WORDS

    assert all(len(v) == 2 and v[0] and v[1] for v in WORDS.values())
    client.force_login(accounts["school"])
    assert "危急名单" in _html(client.get("/critical/"))
    r = client.get("/lang/en/?next=/cases/")
    assert r.status_code == 302 and r["Location"] == "/cases/"
    page = _html(client.get("/critical/"))
    assert "Critical list" in page and "危急名单" not in page
    assert client.get("/lang/zh/?next=https://evil.example/")["Location"] == "/"


def test_a_server_error_is_logged_without_its_message(client, accounts, cases, monkeypatch, caplog):
    """A 500 is logged (path with an opaque id, the code's frames), never the message that may quote data."""
    import logging

    from psyscreen.workspace.logs import DataFreeFormatter
    from psyscreen.workspace.views import cases as case_views

    def boom(*args, **kwargs):
        raise RuntimeError("student S0001 answered 3")

    monkeypatch.setattr(case_views, "render", boom)
    client.raise_request_exception = False
    client.force_login(accounts["county"])
    with caplog.at_level(logging.ERROR, logger="django.request"):
        r = client.get(f"/case/{cases['critical'].pk}/")
    assert r.status_code == 500 and "S0001" not in r.content.decode()
    records = [rec for rec in caplog.records if rec.name == "django.request"]
    assert records, "the server error was not logged"
    text = DataFreeFormatter("%(message)s").format(records[0])
    assert "RuntimeError" in text and "S0001" not in text and str(cases["critical"].pk) in text
