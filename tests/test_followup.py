"""The follow-up rules (psyscreen.followup) on their own, without a store: dates as schools type them, events in
either language, deadlines at their boundaries, a case's state through corrections and reopening, and the day in
China.

The expected values are worked by hand from the rules written in docs/followup.md and the protocols'
``follow_up`` sections; dates are checked against the calendar (Excel's serial 45658 is 2025-01-01, the serial
Excel shows for that day in the 1900 date system).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from psyscreen.followup import (EVENT_KINDS, OUTCOMES, DeadlinePolicy, Event, EventError, case_state, deadline_for,
                                describe, parse_date, today_in_china, validate_event)

DAY = dt.date(2026, 9, 10)


# --- dates ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("typed", ["2026-09-03", "2026/9/3", "2026.9.3", "2026年9月3日", " 2026 年 9 月 3 日 ",
                                   "2026-09-03 00:00:00", "2026-09-03T08:30", dt.date(2026, 9, 3),
                                   dt.datetime(2026, 9, 3, 17, 45), 46268, 46268.0, 46268.75, np.int64(46268),
                                   np.float64(46268)])
def test_a_date_is_read_as_schools_type_it(typed):
    assert parse_date(typed) == dt.date(2026, 9, 3)


def test_excel_serials_count_from_the_1900_system():
    assert parse_date(45658) == dt.date(2025, 1, 1)
    assert parse_date(45658 + 365) == dt.date(2026, 1, 1)


@pytest.mark.parametrize("typed, says", [
    ("2026-02-30", "no such day"), ("2026-13-01", "no such day"), ("soon", "not a date"), ("9/3/2026", "not a date"),
    ("3.9", "not a date"), (7, "not a date"), (True, "not a date"), (-46268, "not a date")])
def test_what_is_not_a_date_is_refused_with_what_to_write(typed, says):
    with pytest.raises(ValueError) as err:
        parse_date(typed)
    assert says in str(err.value) and "2026-09-03" in str(err.value)
    assert str(typed) not in str(err.value)  # the cell's text is not echoed (it could be anything)


# --- events ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["closed", "结案", "closed ", "CLOSED"])
def test_an_event_kind_is_its_code_or_its_words(kind):
    ev = validate_event(kind, {"date": "2026-09-10", "by": "李老师", "outcome": "resolved"}, today=DAY)
    assert ev.kind == "closed"


@pytest.mark.parametrize("outcome", ["in_care", "转介后由医疗机构持续干预", "in the care of a medical institution",
                                     "In The Care Of A Medical Institution", " in_care "])
def test_an_outcome_is_its_code_or_either_languages_words(outcome):
    ev = validate_event("closed", {"date": "2026-09-10", "by": "李老师", "outcome": outcome}, today=DAY)
    assert ev.fields["outcome"] == "in_care"


def test_an_outcome_of_another_event_is_refused_with_this_events_words():
    with pytest.raises(EventError) as err:  # "seen" is a referral's outcome, not a close reason
        validate_event("closed", {"date": "2026-09-10", "by": "李老师", "outcome": "seen"}, today=DAY)
    assert set(err.value.problems) == {"outcome"}
    assert all(zh in err.value.problems["outcome"] for zh, _ in OUTCOMES["close"].values())


@pytest.mark.parametrize("typed, code", [("1", "1"), ("一级", "1"), ("level2", "2"), (3, "3"), (2.0, "2"),
                                         ("无", "none"), ("None", "none"), ("无风险", "none")])
def test_a_reassessed_level_is_a_rank_or_none(typed, code):
    ev = validate_event("interviewed", {"date": DAY, "by": "王老师", "reassessed_level": typed}, today=DAY)
    assert ev.fields["reassessed_level"] == code


def test_the_day_itself_is_accepted_and_the_next_day_refused():
    values = {"by": "王老师", "reassessed_level": "2"}
    assert validate_event("interviewed", {"date": DAY, **values}, today=DAY).occurred_on == DAY
    with pytest.raises(EventError) as err:
        validate_event("interviewed", {"date": DAY + dt.timedelta(days=1), **values}, today=DAY)
    assert "future" in err.value.problems["date"]


def test_every_problem_is_reported_at_once_by_field():
    with pytest.raises(EventError) as err:
        validate_event("referred", {"date": "", "by": "  ", "outcome": "cured", "colour": "red", "note": float("nan")},
                       today=DAY)
    assert set(err.value.problems) == {"date", "by", "to", "outcome", "colour"}
    assert "missing" in err.value.problems["to"] and "转介机构" in err.value.problems["to"]
    assert "not a field" in err.value.problems["colour"]


def test_an_unknown_event_kind_names_the_kinds_to_write():
    with pytest.raises(EventError) as err:
        validate_event("visited", {"date": DAY, "by": "王老师"}, today=DAY)
    assert set(err.value.problems) == {"kind"}
    assert all(k.zh in err.value.problems["kind"] for k in EVENT_KINDS.values())


def test_a_note_longer_than_2000_characters_is_refused():
    base = {"date": DAY, "by": "王老师"}
    assert validate_event("plan", {**base, "note": "谈" * 2000}, today=DAY).fields["note"] == "谈" * 2000
    with pytest.raises(EventError) as err:
        validate_event("plan", {**base, "note": "谈" * 2001}, today=DAY)
    assert "2,000" in err.value.problems["note"]


def test_the_default_today_is_the_day_in_china():
    china = dt.timezone(dt.timedelta(hours=8))  # China keeps UTC+8 all year (no daylight saving since 1991)
    before = dt.datetime.now(china).date()
    got = today_in_china()
    after = dt.datetime.now(china).date()
    assert got in (before, after)
    # an event dated the day in China is never "in the future", whatever the machine's zone
    validate_event("suspended", {"date": got, "by": "王老师"})
    with pytest.raises(EventError):
        validate_event("suspended", {"date": after + dt.timedelta(days=1), "by": "王老师"})


def test_describe_puts_the_event_in_words_without_codes():
    ev = validate_event("referred", {"date": "2026/9/4", "by": "王老师", "to": "县医院", "outcome": "在治疗中"},
                        today=DAY)
    assert describe([ev]) == ["2026-09-04 转介: 负责人 王老师; 转介机构 县医院; 转介结果 在治疗中"]
    assert describe([ev], "en") == ["2026-09-04 referred: by whom 王老师; referred to 县医院; outcome in treatment"]


# --- deadlines ---------------------------------------------------------------------------------------------------
def test_deadlines_count_the_levels_days_from_the_day_the_case_opened():
    policy = DeadlinePolicy(critical_days=0, days_by_rank={1: 1, 2: 7}, default_days=30)
    opened = dt.date(2026, 9, 28)
    assert deadline_for(opened, 1, False, policy) == dt.date(2026, 9, 29)
    assert deadline_for(opened, 2, False, policy) == dt.date(2026, 10, 5)  # across the month's end
    assert deadline_for(opened, 3, False, policy) == dt.date(2026, 10, 28)  # a rank without days: the default
    assert deadline_for(opened, None, False, policy) == dt.date(2026, 10, 28)
    assert deadline_for(opened, 3, True, policy) == opened  # a critical answer: the same day, whatever the level


# --- a case's state ----------------------------------------------------------------------------------------------
def ev(kind, day, ident, corrects=None, **fields):
    return Event(kind, dt.date(2026, 9, day), fields, corrects=corrects, ident=ident)


def test_overdue_starts_the_day_after_the_deadline():
    deadline = dt.date(2026, 9, 8)
    open_case = case_state([])
    assert open_case.status == "open" and open_case.first_action_on is None
    assert not open_case.overdue(deadline, deadline)
    assert open_case.overdue(deadline, deadline + dt.timedelta(days=1))
    reviewed = case_state([ev("reviewed", 3, "a", outcome="confirmed")])
    assert reviewed.status == "reviewed" and reviewed.overdue(deadline, dt.date(2026, 9, 9))  # a review is no
    # interview: the deadline asks for one
    closed = case_state([ev("closed", 20, "a", outcome="not_confirmed")])
    assert not closed.overdue(deadline, dt.date(2026, 12, 1))  # closed late is late, but no longer overdue
    assert not closed.on_time(deadline)


def test_on_time_is_the_first_interview_or_close_on_or_before_the_deadline():
    deadline = dt.date(2026, 9, 8)
    s = case_state([ev("interviewed", 8, "a", reassessed_level="2")])
    assert s.on_time(deadline) and not s.overdue(deadline, dt.date(2026, 9, 30))
    late = case_state([ev("interviewed", 9, "a", reassessed_level="2")])
    assert not late.on_time(deadline)
    # recorded out of order: the earliest date counts, not the first recorded
    s = case_state([ev("closed", 12, "a", outcome="resolved"), ev("interviewed", 5, "b", reassessed_level="3")])
    assert s.first_action_on == dt.date(2026, 9, 5) and s.on_time(deadline)


def test_a_correction_takes_the_corrected_event_out_of_the_state():
    wrong = ev("closed", 5, "a", outcome="resolved")
    fixed = ev("reviewed", 5, "b", corrects="a", outcome="confirmed")
    s = case_state([wrong, fixed])
    assert s.corrected == {"a"}
    assert (s.status, s.closed, s.close_reason, s.first_action_on) == ("reviewed", False, None, None)
    assert s.overdue(dt.date(2026, 9, 6), dt.date(2026, 9, 7))


def test_the_furthest_step_is_the_status_and_a_reopened_case_moves_on_again():
    s = case_state([ev("referred", 4, "a", to="县医院", outcome="pending"), ev("reviewed", 5, "b", outcome="confirmed"),
                    ev("interviewed", 6, "c", reassessed_level="1")])
    assert s.status == "referred" and s.referred and s.reviewed == "confirmed" and s.current_level == "1"
    s = case_state([ev("interviewed", 4, "a", reassessed_level="2"), ev("closed", 5, "b", outcome="resolved"),
                    ev("plan", 6, "c", note="x")])
    assert (s.status, s.closed) == ("closed", True)  # a plan after the close does not reopen the case
    s = case_state([ev("closed", 5, "a", outcome="resolved"), ev("reopened", 7, "b", note="再次筛出")])
    assert (s.status, s.closed, s.close_reason) == ("reopened", False, None)
    s = case_state([ev("closed", 5, "a", outcome="resolved"), ev("reopened", 7, "b", note="x"),
                    ev("interviewed", 8, "c", reassessed_level="none")])
    assert (s.status, s.current_level, s.interviewed_on) == ("interviewed", "none", dt.date(2026, 9, 8))
