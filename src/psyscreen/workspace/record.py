"""The follow-up record of students, read from the workspace as plain data for the command line.

``psyscreen history`` and ``psyscreen compare`` live in the statistical core's CLI, which knows nothing of Django:
they call :func:`psyscreen.workspace.configure` and then the functions here, which return dataclasses of dates,
codes and :class:`psyscreen.followup.Event` (no model instance leaves this module). An archive on which the
workspace was never opened has no workspace tables: :func:`has_record` says so, and the caller shows the
screenings alone.

Examples
--------
After ``configure(db="county.db")``::

    for case in student_record("S0001"):
        print(case.wave, case.status, case.overdue, followup.describe(case.events, "en"))
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Iterable, Optional

from .. import followup

__all__ = ["CaseRecord", "has_record", "student_record", "last_cases", "status_label"]

#: a case's status in words (the status codes of :func:`psyscreen.followup.case_state`); "open" is no event
_STATUS_WORDS = {"open": ("未处理", "open: nothing recorded yet")}


def status_label(status: str, lang: str = "zh") -> str:
    """A case's status (``open``, ``reviewed`` ... ``closed``, ``reopened``) in words.

    Examples
    --------
    >>> status_label("open", "en"), status_label("interviewed")
    ('open: nothing recorded yet', '约谈评估')
    """
    if status in _STATUS_WORDS:
        zh, en = _STATUS_WORDS[status]
        return zh if lang == "zh" else en
    return followup.label(status, lang)


@dataclass(frozen=True)
class CaseRecord:
    """One case of a student (one flagged wave): its dates, what its events add up to, and the events.

    ``on_time`` says whether the first action (an interview or closing the case, as the protocol's
    ``done_by``) came by the deadline; ``interviewed_on_time`` whether an interview did. ``events`` are in the
    order they were recorded, corrected ones included (``corrected`` holds their ids).
    """

    wave: str
    case_id: str
    level: str
    critical: bool
    opened_on: dt.date
    deadline: dt.date
    status: str
    overdue: bool
    on_time: bool
    first_action_on: Optional[dt.date]
    interviewed_on: Optional[dt.date]
    interviewed_on_time: Optional[bool]
    reviewed: Optional[str]
    referred: bool
    closed: bool
    close_reason: Optional[str]
    current_level: Optional[str]
    events: tuple = ()
    corrected: frozenset = field(default_factory=frozenset)

    @property
    def live_events(self) -> list:
        """The events that count (those no later event corrects)."""
        return [e for e in self.events if e.ident not in self.corrected]


def has_record() -> bool:
    """Whether the configured database holds the workspace's tables (the workspace was opened on it)."""
    from django.db import connection

    from .models import Case, Event

    names = set(connection.introspection.table_names())
    return Case._meta.db_table in names and Event._meta.db_table in names


def _record(case, today: dt.date) -> CaseRecord:
    events = case.domain_events()
    state = followup.case_state(events)
    return CaseRecord(
        wave=case.wave, case_id=str(case.pk), level=case.level, critical=case.critical, opened_on=case.opened_on,
        deadline=case.deadline, status=state.status, overdue=state.overdue(case.deadline, today),
        on_time=state.on_time(case.deadline), first_action_on=state.first_action_on,
        interviewed_on=state.interviewed_on,
        interviewed_on_time=None if state.interviewed_on is None else state.interviewed_on <= case.deadline,
        reviewed=state.reviewed, referred=state.referred, closed=state.closed, close_reason=state.close_reason,
        current_level=state.current_level, events=tuple(events), corrected=state.corrected)


def student_record(student_key: str, *, today: Optional[dt.date] = None) -> list[CaseRecord]:
    """Every case of one student, in wave order (an empty list: no case, or no workspace tables).

    Parameters
    ----------
    student_key : str
        The key the waves were archived with.
    today : date, optional
        The day against which a deadline is overdue (default: today in China, as the workspace counts).
    """
    from .models import Case

    if not has_record():
        return []
    today = today or followup.today_in_china()
    cases = Case.objects.filter(student_key=str(student_key)).prefetch_related("events").order_by("wave")
    return [_record(c, today) for c in cases]


def last_cases(student_keys: Iterable[str], before_wave: str, *,
               today: Optional[dt.date] = None) -> dict[str, CaseRecord]:
    """For each student, their last case of a wave before ``before_wave`` (students with none are left out).

    This is "what was done last time" for a student flagged again in ``before_wave``.
    """
    from .models import Case

    if not has_record():
        return {}
    today = today or followup.today_in_china()
    keys = sorted({str(k) for k in student_keys})
    out: dict[str, CaseRecord] = {}
    for i in range(0, len(keys), 500):  # bounded IN lists (SQLite's variable limit)
        cases = (Case.objects.filter(student_key__in=keys[i:i + 500], wave__lt=str(before_wave))
                 .prefetch_related("events").order_by("student_key", "wave"))
        for c in cases:  # ordered by wave: the last one wins
            out[c.student_key] = c
    return {k: _record(c, today) for k, c in out.items()}
