"""Erasing a student (archive delete) from the follow-up record: gone, audit kept unlinked, triggers back."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, transaction

from psyscreen.workspace.erase import erase_student
from psyscreen.workspace.models import AuditEntry, Case, Event, Screening

from .conftest import make_case


def test_erasure_removes_the_student_and_keeps_who_looked(accounts, cases):
    case = cases["critical"]
    later = make_case(student_key="S0001", wave="2027-03", previous=case)
    first = Event.objects.create(case=case, kind="reviewed", occurred_on=case.opened_on,
                                 fields={"outcome": "confirmed"}, recorded_by=accounts["school"])
    Event.objects.create(case=case, kind="reviewed", occurred_on=case.opened_on, fields={"outcome": "not_confirmed"},
                         corrects=first, recorded_by=accounts["school"])
    AuditEntry.objects.create(user=accounts["school"], username="psy1", action="view_case", case=later)
    other = Event.objects.create(case=cases["school_b"], kind="reviewed", occurred_on=case.opened_on,
                                 fields={"outcome": "confirmed"}, recorded_by=accounts["school_b"])

    result = erase_student("S0001", "consent withdrawn")

    assert (result.cases, result.events, result.screenings, result.audit_unlinked) == (2, 2, 2, 1)
    assert not Case.objects.filter(student_key="S0001").exists()
    assert not Screening.objects.filter(student_key="S0001").exists()
    assert Event.objects.filter(pk=other.pk).exists()  # nobody else's record is touched
    kept = AuditEntry.objects.get(action="view_case")
    assert kept.case_id is None and kept.username == "psy1"
    log = AuditEntry.objects.get(action="erase_student")
    assert "consent withdrawn" in log.detail and "S0001" not in log.detail
    # the database refuses changes again after the erasure
    with pytest.raises(DatabaseError), transaction.atomic():
        Event.objects.filter(pk=other.pk).update(kind="closed")
    assert erase_student("S0001", "again") == type(result)(0, 0, 0, 0)


def test_erasure_needs_a_reason(cases):
    with pytest.raises(ValueError):
        erase_student("S0001", " ")
    assert Case.objects.filter(student_key="S0001").exists()
