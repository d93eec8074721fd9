"""The workspace's first paths through Django's test client: roles see what they may, events are append-only."""

from __future__ import annotations

import pytest

from psyscreen.workspace.models import AppendOnlyError, AuditEntry, Event


def test_county_sees_every_critical_case_and_records_an_interview(client, accounts, cases):
    client.force_login(accounts["county"])
    page = client.get("/critical/")
    assert page.status_code == 200
    assert str(cases["critical"].pk) in page.content.decode()
    url = f"/case/{cases['critical'].pk}/event/"
    r = client.post(url, {"kind": "interviewed", "date": "2026-09-10", "by": "王老师", "reassessed_level": "1"})
    assert r.status_code == 302
    ev = Event.objects.get(case=cases["critical"])
    assert (ev.kind, ev.fields["reassessed_level"], ev.recorded_by) == ("interviewed", "1", accounts["county"])
    assert AuditEntry.objects.filter(action="add_event", case=cases["critical"]).count() == 1
    assert not cases["critical"].overdue()


def test_class_teacher_sees_only_their_class_and_no_reasons(client, accounts, cases):
    client.force_login(accounts["class"])
    page = client.get("/cases/").content.decode()
    assert str(cases["critical"].pk) in page
    assert str(cases["other_class"].pk) not in page and str(cases["school_b"].pk) not in page
    assert "PHQ-9" not in page  # the reasons quote scores: never shown to a class teacher
    assert client.get(f"/case/{cases['other_class'].pk}/").status_code == 404
    assert client.get(f"/case/{cases['critical'].pk}/scores/").status_code == 403


def test_school_a_cannot_open_school_b(client, accounts, cases):
    client.force_login(accounts["school"])
    assert client.get(f"/case/{cases['school_b'].pk}/").status_code == 404
    assert client.get(f"/case/{cases['critical'].pk}/").status_code == 200


def test_events_are_append_only(accounts, cases):
    ev = Event.objects.create(case=cases["critical"], kind="reviewed", occurred_on=cases["critical"].opened_on,
                              fields={"outcome": "confirmed"}, recorded_by=accounts["school"])
    ev.fields = {"outcome": "not_confirmed"}
    with pytest.raises(AppendOnlyError):
        ev.save()
    with pytest.raises(AppendOnlyError):
        ev.delete()
    from django.db import DatabaseError, transaction

    with pytest.raises(DatabaseError), transaction.atomic():  # the database refuses too (migration 0002)
        Event.objects.filter(pk=ev.pk).update(kind="closed")


def test_class_teacher_is_not_told_which_student_gave_a_critical_answer(client, accounts, cases):
    """A critical mark says how a student answered the self-harm item: the level says enough to a class teacher."""
    mark = 'class="crit"'
    client.force_login(accounts["class"])
    assert mark not in client.get("/critical/").content.decode()
    assert mark not in client.get(f"/case/{cases['critical'].pk}/").content.decode()
    client.force_login(accounts["school"])
    assert mark in client.get(f"/case/{cases['critical'].pk}/").content.decode()
