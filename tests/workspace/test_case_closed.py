"""A case's stored ``closed`` flag (what the lists filter on in SQL) always says what its events say
(:func:`psyscreen.followup.case_state`), whichever way the events come in, and a workspace made before the flag
existed gets it from its events when migrated."""

from __future__ import annotations

import datetime as dt
import importlib
import random

import pytest

from .conftest import make_case

FIELDS = {
    "reviewed": {"by": "王老师", "outcome": "confirmed"},
    "interviewed": {"by": "王老师", "reassessed_level": "2"},
    "plan": {"by": "王老师", "note": "每周谈话"},
    "closed": {"by": "王老师", "outcome": "resolved"},
    "reopened": {"by": "王老师", "note": "再次谈话"},
}


def stored_closed(case) -> bool:
    from psyscreen.workspace.models import Case

    return Case.objects.values_list("closed", flat=True).get(pk=case.pk)


@pytest.mark.parametrize("seed", range(6))
def test_the_stored_flag_follows_the_events_through_closes_reopens_and_corrections(db, seed):
    from psyscreen.workspace.models import Case, Event

    rng = random.Random(seed)
    case = make_case(student_key=f"R{seed}")
    made = []
    seen = set()
    kinds = ["closed", "reopened"] + [rng.choice(list(FIELDS)) for _ in range(12)]
    for i, kind in enumerate(kinds):
        target = None
        uncorrected = [e for e in made if not e.corrections.exists()]
        if i > 1 and uncorrected and rng.random() < 0.3:  # a correction of an earlier event
            target = rng.choice(uncorrected)
        made.append(Event.objects.create(case=case, kind=kind, occurred_on=dt.date(2026, 9, 1 + i),
                                         fields=FIELDS[kind], corrects=target, source="test"))
        fresh = Case.objects.get(pk=case.pk)
        assert fresh.closed == fresh.state().closed, (seed, i, kind, target)
        seen.add(fresh.closed)
        assert made[-1].case.closed == fresh.closed  # the instance in hand is told too
    assert seen == {True, False}


def test_a_correction_that_undoes_a_close_reopens_the_case_in_the_lists(client, accounts):
    from psyscreen.workspace.models import Case, Event

    case = make_case(student_key="S0100", level="level1", level_rank=1)
    close = Event.objects.create(case=case, kind="closed", occurred_on=dt.date(2026, 9, 11),
                                 fields=FIELDS["closed"], source="test")
    assert stored_closed(case)
    client.force_login(accounts["school"])
    assert str(case.pk) not in client.get("/critical/").content.decode()
    assert str(case.pk) not in client.get("/cases/").content.decode()
    Event.objects.create(case=case, kind="interviewed", occurred_on=dt.date(2026, 9, 11),
                         fields=FIELDS["interviewed"], corrects=close, source="test")
    assert not stored_closed(case) and not Case.objects.get(pk=case.pk).state().closed
    assert str(case.pk) in client.get("/critical/").content.decode()
    assert str(case.pk) in client.get("/cases/").content.decode()


def test_the_migration_gives_existing_cases_the_flag_from_their_events(db):
    from django.apps import apps

    from psyscreen.workspace.models import Case, Event

    closed = make_case(student_key="M1")
    Event.objects.create(case=closed, kind="closed", occurred_on=dt.date(2026, 9, 12), fields=FIELDS["closed"],
                         source="test")
    reopened = make_case(student_key="M2")
    for kind, day in (("closed", 12), ("reopened", 13)):
        Event.objects.create(case=reopened, kind=kind, occurred_on=dt.date(2026, 9, day), fields=FIELDS[kind],
                             source="test")
    untouched = make_case(student_key="M3")
    Case.objects.update(closed=False)  # as a workspace made before migration 0004 had it
    migration = importlib.import_module("psyscreen.workspace.migrations.0004_case_closed")
    migration.closed_from_events(apps, None)
    assert [stored_closed(c) for c in (closed, reopened, untouched)] == [True, False, False]
