"""Erasing one student from the follow-up record, when the archive deletes them (graduated, consent withdrawn).

Events and audit entries are append-only (migration 0002's triggers refuse UPDATE and DELETE). Erasure is the one
lawful exception, and it is done in one transaction: the triggers are lifted, the student's events, cases and
copied screenings are deleted, the audit entries that pointed at those cases are kept but no longer point at
anything (who looked, when and what they did stays; whom it was about goes), a new audit entry records the
erasure with its reason and counts (never the key), and the triggers are put back before the commit. A failure
part-way leaves everything as it was, triggers included (SQLite and PostgreSQL both roll back DDL).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from django.db import connection, transaction

from .._results import ResultMixin
from .models import AuditEntry, Case, Event, Screening

__all__ = ["erase_student", "ErasureResult"]

_TRIGGERS = importlib.import_module("psyscreen.workspace.migrations.0002_append_only")


class _Editor:
    """What migration 0002's functions use of a schema editor, on a plain cursor: Django's SQLite schema editor
    cannot run inside a transaction with foreign keys on, and the erasure must be one transaction."""

    def __init__(self, cursor):
        self.connection = connection
        self._cursor = cursor

    def execute(self, sql, params=()):
        self._cursor.execute(sql, params)


@dataclass(frozen=True)
class ErasureResult(ResultMixin):
    """How many rows the erasure removed (cases, events, screenings) and how many audit entries it unlinked."""

    cases: int
    events: int
    screenings: int
    audit_unlinked: int

    def __str__(self) -> str:
        return (f"{self.cases} case(s), {self.events} event(s), {self.screenings} screening(s) erased; "
                f"{self.audit_unlinked} audit entr(ies) kept without the case")


def erase_student(student_key: str, reason: str, *, by: str = "archive delete") -> ErasureResult:
    """Remove every follow-up record of ``student_key`` (see the module's text); a student with none is a no-op.

    Examples
    --------
    After :func:`psyscreen.workspace.configure` (it writes to the workspace's database, so not a doctest)::

        erase_student("20260101", "consent withdrawn")
    """
    if not reason or not str(reason).strip():
        raise ValueError("give the reason for the erasure (e.g. 'graduated', 'consent withdrawn')")
    with transaction.atomic():
        case_ids = list(Case.objects.filter(student_key=student_key).values_list("pk", flat=True))
        screenings = Screening.objects.filter(student_key=student_key)
        n_screenings = screenings.count()
        if not case_ids and not n_screenings:
            return ErasureResult(0, 0, 0, 0)
        events = Event.objects.filter(case_id__in=case_ids)
        audit = AuditEntry.objects.filter(case_id__in=case_ids)
        n_events, n_audit = events.count(), audit.count()
        with connection.cursor() as cursor:
            editor = _Editor(cursor)
            _TRIGGERS.backwards(None, editor)
            audit.update(case=None)
            Event.objects.filter(case_id__in=case_ids).update(corrects=None)
            events._raw_delete(events.db)
            Case.objects.filter(pk__in=case_ids).update(previous=None)
            Case.objects.filter(pk__in=case_ids)._raw_delete(Case.objects.db)
            screenings._raw_delete(screenings.db)
            _TRIGGERS.forwards(None, editor)
        result = ErasureResult(len(case_ids), n_events, n_screenings, n_audit)
        AuditEntry.objects.create(user=None, username=by, action="erase_student",
                                  detail=f"{str(reason).strip()}: {result}")
    return result
