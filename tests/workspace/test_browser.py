"""The workspace through a real browser (headless Chromium, Selenium) against the live Django server.

Each role's main path (sign in, the critical list with what is overdue, a case, record an interview, close the
case, sign out) and each forbidden path (a class teacher opening a score page or another class, school A opening
school B's case, a form without its CSRF token, a guessed case id, a signed-out visitor), plus what a browser
keeps: no student key in any URL, and no case page shown by the back button after signing out.
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.utils import timezone

from .browser import Browser, browser, chrome, fast_passwords, flushable_db, live_server  # noqa: F401  (fixtures)
from .conftest import PASSWORD, make_case

TODAY = timezone.localdate().isoformat()  # the workspace's day (in China), as its forms check dates


@pytest.fixture
def world(fast_passwords, accounts, cases):
    """The conftest's accounts and cases, and one more level-1 case of 一中 7-1 whose deadline is still ahead
    (on the critical list, not overdue)."""
    fresh = make_case(student_key="S0004", level="level1", level_rank=1, opened_on=timezone.localdate(),
                      deadline=timezone.localdate() + dt.timedelta(days=30))
    return {"accounts": accounts, "cases": {**cases, "fresh": fresh}}


def events_of(case):
    from psyscreen.workspace.models import Event

    return list(Event.objects.filter(case=case).order_by("recorded_at"))


def assert_no_student_key_in_urls(b: Browser):
    from psyscreen.workspace.models import Case, Screening

    keys = set(Case.objects.values_list("student_key", flat=True)) | set(
        Screening.objects.values_list("student_key", flat=True))
    assert keys and b.urls
    leaks = [u for u in b.urls if any(k in u for k in keys)]
    assert not leaks, f"student keys in URLs: {leaks}"


def row(b: Browser, case):
    rows = b.all(f"tr[data-case='{case.pk}']")
    return rows[0] if rows else None


def listed(b: Browser) -> set:
    return {r.get_attribute("data-case") for r in b.all("#case-table tr[data-case]")}


def assert_error_page(page, status: int, b: Browser):
    assert page.status == status, (page.status, page.url)
    assert b.has("#error-message")
    assert not b.has("#case-status")


# --- each role's main path -------------------------------------------------------------------------------------
@pytest.mark.parametrize("who", ["county", "school"])
def test_main_path_interview_close_logout(browser, world, who):
    b, cases, user = browser, world["cases"], world["accounts"][who]
    critical = cases["critical"]

    page = b.login(user.username, PASSWORD)
    assert page.path == "/critical/" and page.status == 200
    assert b.has("#nav-critical") and b.has("#nav-cases") and b.has("#logout")
    # the critical list: the overdue case marked, the one still in time not
    assert {str(critical.pk), str(cases["fresh"].pk)} <= listed(b)
    assert row(b, critical).find_elements("css selector", ".overdue-mark")
    assert "overdue" in row(b, critical).get_attribute("class").split()
    assert not row(b, cases["fresh"]).find_elements("css selector", ".overdue-mark")
    assert str(cases["other_class"].pk) not in listed(b)  # level 2: not on the critical list

    page = b._after(row(b, critical).find_element("css selector", "a.case-link").click)
    assert page.path == f"/case/{critical.pk}/" and page.status == 200
    assert b.text("#case-status") == "open" and b.has("#overdue")
    assert b.has("#growth-file") and b.has("#scores-link")  # the school and the county see the reasons

    page = b.record_event("interviewed", date=TODAY, by="王老师", reassessed_level="2", note="谈话顺利")
    assert page.path == f"/case/{critical.pk}/" and page.status == 200
    assert b.text("#case-status") == "interviewed"
    assert not b.has("#overdue")  # acted on: no longer overdue
    assert len(b.all("#events tr.event[data-kind='interviewed']")) == 1
    [ev] = events_of(critical)
    assert (ev.kind, ev.fields["reassessed_level"], ev.fields["by"], ev.recorded_by_id, ev.source) == (
        "interviewed", "2", "王老师", user.pk, "web")

    page = b.record_event("closed", date=TODAY, by="王老师", outcome="resolved")
    assert page.status == 200 and b.text("#case-status") == "closed"
    assert len(b.all("#events tr.event")) == 2 and b.has("#events tr.event[data-kind='closed']")
    assert [(e.kind, e.fields.get("outcome")) for e in events_of(critical)] == [
        ("interviewed", None), ("closed", "resolved")]

    b.click("#nav-critical")
    assert str(critical.pk) not in listed(b) and str(cases["fresh"].pk) in listed(b)  # closed: off the list

    b.get(f"/case/{critical.pk}/")
    page = b.logout()
    assert page.path == "/login/" and not b.has("#logout") and b.has("#id_username")
    # the back button after signing out: the case page was not kept (Cache-Control: no-store), the browser asks
    # again and the server sends it to the login page
    page = b.back()
    assert not b.has("#case-status") and not b.has("#events")
    assert page.path == "/login/"
    assert critical.student_key not in page.text
    assert_no_student_key_in_urls(b)


def test_class_teacher_sees_their_class_and_records_an_interview(browser, world):
    b, cases, user = browser, world["cases"], world["accounts"]["class"]
    mine = {str(cases["critical"].pk), str(cases["fresh"].pk)}

    page = b.login(user.username, PASSWORD)
    assert page.path == "/critical/" and page.status == 200
    assert listed(b) == mine
    assert row(b, cases["critical"]).find_elements("css selector", ".overdue-mark")
    page = b.click("#nav-cases")
    assert page.path == "/cases/" and listed(b) == mine  # their class only: not 7-2, not 二中
    assert "PHQ" not in page.text  # the reasons quote scores: never shown to a class teacher

    page = b._after(row(b, cases["critical"]).find_element("css selector", "a.case-link").click)
    assert page.status == 200 and b.text("#case-status") == "open"
    # the level and the suggested action, never a score or the reasons that quote one
    assert b.has("#case-status") and not b.has("#scores-link")
    assert "PHQ" not in page.text and "phq9" not in page.html and "16.0" not in page.text
    page = b.record_event("interviewed", date=TODAY, by="班主任张老师", reassessed_level="none")
    assert page.status == 200 and b.text("#case-status") == "interviewed"
    [ev] = events_of(cases["critical"])
    assert (ev.kind, ev.fields["reassessed_level"], ev.recorded_by_id) == ("interviewed", "none", user.pk)

    page = b.logout()
    assert page.path == "/login/" and not b.has("#logout")
    assert_no_student_key_in_urls(b)


def test_leader_sees_the_dashboard_only(browser, world):
    """The leader lands on the dashboard (built by another branch; a 501 stub fails here until it is merged)."""
    b, cases = browser, world["cases"]
    page = b.login(world["accounts"]["leader"].username, PASSWORD)
    assert page.path == "/dashboard/"
    assert page.status == 200, f"the dashboard answers {page.status}"
    assert b.has("#nav-dashboard") and b.has("#logout")
    assert not b.has("#nav-critical") and not b.has("#nav-cases") and not b.has("#case-table")
    assert not any(c.student_key in page.text for c in cases.values())
    page = b.get(f"/case/{cases['critical'].pk}/")  # no student page for the leadership
    assert_error_page(page, 403, b)
    assert cases["critical"].student_key not in page.text
    assert_no_student_key_in_urls(b)


# --- forbidden paths -------------------------------------------------------------------------------------------
def test_class_teacher_cannot_open_a_score_page_or_another_class(browser, world):
    b, cases = browser, world["cases"]
    b.login(world["accounts"]["class"].username, PASSWORD)
    page = b.get(f"/case/{cases['critical'].pk}/scores/")
    assert_error_page(page, 403, b)
    assert "phq9" not in page.text.lower() and not b.has("#scores")
    for other in ("other_class", "school_b"):
        page = b.get(f"/case/{cases[other].pk}/")
        assert_error_page(page, 404, b)
        assert cases[other].student_key not in page.text
    assert_no_student_key_in_urls(b)


def test_school_a_cannot_open_or_write_to_school_b(browser, world):
    b, cases = browser, world["cases"]
    b.login(world["accounts"]["school"].username, PASSWORD)
    page = b.get(f"/case/{cases['school_b'].pk}/")
    assert_error_page(page, 404, b)
    assert cases["school_b"].student_key not in page.text
    # a form of their own case, pointed at school B's case: refused the same way, nothing recorded
    b.get(f"/case/{cases['critical'].pk}/")
    b.driver.execute_script("document.getElementById('event-form').action = arguments[0];",
                            f"/case/{cases['school_b'].pk}/event/")
    page = b.record_event("interviewed", date=TODAY, by="王老师", reassessed_level="1")
    assert_error_page(page, 404, b)
    assert events_of(cases["school_b"]) == [] and events_of(cases["critical"]) == []
    assert_no_student_key_in_urls(b)


def test_a_form_without_its_csrf_token_is_refused(browser, world):
    b, case = browser, world["cases"]["critical"]
    b.login(world["accounts"]["school"].username, PASSWORD)
    b.get(f"/case/{case.pk}/")
    removed = b.driver.execute_script(
        "const t = document.querySelectorAll('#event-form input[name=csrfmiddlewaretoken]');"
        "t.forEach(e => e.remove()); return t.length;")
    assert removed == 1
    page = b.record_event("interviewed", date=TODAY, by="王老师", reassessed_level="1")
    assert_error_page(page, 403, b)
    assert events_of(case) == []
    # the same form with its token goes through: the refusal was the missing token
    b.get(f"/case/{case.pk}/")
    page = b.record_event("interviewed", date=TODAY, by="王老师", reassessed_level="1")
    assert page.status == 200 and b.text("#case-status") == "interviewed"
    assert len(events_of(case)) == 1
    assert_no_student_key_in_urls(b)


def test_a_guessed_case_id_is_not_found(browser, world):
    b = browser
    b.login(world["accounts"]["county"].username, PASSWORD)  # the county sees every case, and still: 404
    for guess in (uuid.uuid4(), "00000000-0000-0000-0000-000000000001"):
        page = b.get(f"/case/{guess}/")
        assert_error_page(page, 404, b)
    page = b.get("/case/not-a-case/")
    assert_error_page(page, 404, b)
    assert_no_student_key_in_urls(b)


def test_a_signed_out_visitor_is_sent_to_the_login_page(browser, world):
    b, case = browser, world["cases"]["critical"]
    for path in (f"/case/{case.pk}/", f"/case/{case.pk}/scores/", "/critical/", "/cases/"):
        page = b.get(path)
        assert page.path == "/login/", (path, page.url)
        assert b.has("#id_username") and not b.has("#case-status") and not b.has("#case-table")
        assert case.student_key not in page.text
    assert_no_student_key_in_urls(b)


def test_repeated_failed_logins_are_refused_even_with_the_right_password(browser, world):
    b, user = browser, world["accounts"]["school"]
    for i in range(6):
        page = b.login(user.username, f"wrong-{i}")
        assert not b.has("#logout")
        assert b.has("#login-error") or b.has("#locked")
    page = b.login(user.username, PASSWORD)
    assert b.has("#locked") and not b.has("#logout")
    page = b.get("/critical/")
    assert page.path == "/login/"
    # another account from the same browser is not locked out
    b.login(world["accounts"]["school_b"].username, PASSWORD)
    assert b.has("#logout")
