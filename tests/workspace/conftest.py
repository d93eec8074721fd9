"""Fixtures of the workspace tests: a synthetic archive with cases, and one account per role."""

from __future__ import annotations

import datetime as dt

import pytest

PASSWORD = "Tq7-follow-up-test"


def make_case(**kw):
    from psyscreen.workspace.models import Case, Screening

    base = dict(student_key="S0001", wave="2026-09", school="一中", grade=7, klass="1", level="level2", level_rank=2,
                critical=False, reasons="PHQ-9 总分 16（≥15）", reasons_en="PHQ-9 total 16 (>= 15)",
                action="一周内约谈", action_en="interview within a week", opened_on=dt.date(2026, 9, 10),
                deadline=dt.date(2026, 9, 17))
    base.update(kw)
    Screening.objects.get_or_create(
        student_key=base["student_key"], wave=base["wave"],
        defaults=dict(school=base["school"], grade=base["grade"], klass=base["klass"], level=base["level"],
                      level_rank=base["level_rank"], flagged=True, critical=base["critical"],
                      reasons=base["reasons"], reasons_en=base["reasons_en"], scores={"phq9.total": 16.0}))
    return Case.objects.create(**base)


@pytest.fixture
def accounts(db):
    """One account per role: county, school psychological teacher (一中, 二中), class teacher (一中 7-1), leader."""
    from psyscreen.workspace.accounts import make_account

    return {
        "county": make_account("county", PASSWORD, "county"),
        "school": make_account("psy1", PASSWORD, "school", school="一中"),
        "school_b": make_account("psy2", PASSWORD, "school", school="二中"),
        "class": make_account("teacher71", PASSWORD, "class", school="一中", grade=7, klass="1"),
        "leader": make_account("leader", PASSWORD, "leader"),
    }


@pytest.fixture
def cases(db):
    """Cases in two schools and two classes: a critical one (一中 7-1), a level-2 (一中 7-2), one in 二中."""
    return {
        "critical": make_case(student_key="S0001", level="level1", level_rank=1, critical=True,
                              deadline=dt.date(2026, 9, 10)),
        "other_class": make_case(student_key="S0002", klass="2"),
        "school_b": make_case(student_key="S0003", school="二中"),
    }
