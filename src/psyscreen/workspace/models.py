"""The workspace's record: accounts with their role, screenings copied from the archive, cases, append-only
events and the append-only audit log.

A case is one flagged student in one wave; its id is a random UUID, the only thing about it that appears in a
URL. Events and audit entries are never updated or deleted: :meth:`save` and :meth:`delete` refuse, and the
database refuses too (triggers made by migration 0002).
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.conf import settings
from django.utils import timezone
from django.db import models, transaction

from .. import followup

ROLES = (
    ("county", "县级中心"),
    ("school", "学校心理教师"),
    ("class", "班主任"),
    ("leader", "领导（只读汇总）"),
)


class AppendOnlyError(RuntimeError):
    """An event or an audit entry cannot be changed or removed; record a correction instead."""


class AppendOnly(models.Model):
    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError(f"{type(self).__name__} is append-only: record a new one instead")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError(f"{type(self).__name__} is append-only and cannot be deleted")


class Account(models.Model):
    """What a user may see: a role, and the school (and grade and class) it is for."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="account")
    role = models.CharField(max_length=10, choices=ROLES)
    school = models.CharField(max_length=200, blank=True)
    grade = models.IntegerField(null=True, blank=True)
    klass = models.CharField("class", max_length=100, blank=True)
    lang = models.CharField(max_length=2, default="zh")

    def __str__(self):
        return f"{self.user.username} ({self.role})"


class Screening(models.Model):
    """One archived screening of a student who has a case (every wave of that student, flagged or not)."""

    student_key = models.CharField(max_length=128, db_index=True)
    wave = models.CharField(max_length=32)
    wave_date = models.DateField(null=True)
    school = models.CharField(max_length=200)
    grade = models.IntegerField(null=True)
    klass = models.CharField(max_length=100, blank=True)
    level = models.CharField(max_length=32, blank=True)
    level_name = models.CharField(max_length=100, blank=True)  # the protocol's words for the level (zh)
    level_name_en = models.CharField(max_length=100, blank=True)
    level_rank = models.IntegerField(null=True)
    flagged = models.BooleanField(default=False)
    critical = models.BooleanField(default=False)
    reasons = models.TextField(blank=True)
    reasons_en = models.TextField(blank=True)
    scores = models.JSONField(default=dict)  # scale -> value

    class Meta:
        constraints = [models.UniqueConstraint(fields=["student_key", "wave"], name="screening_once")]
        ordering = ["wave"]


class Case(models.Model):
    """One flagged student in one wave: opened when the wave reaches the workspace, with its deadline."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    student_key = models.CharField(max_length=128, db_index=True)
    wave = models.CharField(max_length=32, db_index=True)
    school = models.CharField(max_length=200, db_index=True)
    grade = models.IntegerField(null=True)
    klass = models.CharField(max_length=100, blank=True)
    level = models.CharField(max_length=32)
    level_name = models.CharField(max_length=100, blank=True)  # the protocol's words for the level (zh)
    level_name_en = models.CharField(max_length=100, blank=True)
    level_rank = models.IntegerField(null=True)
    critical = models.BooleanField(default=False)
    reasons = models.TextField(blank=True)
    reasons_en = models.TextField(blank=True)
    action = models.TextField(blank=True)  # the protocol's suggested action at this level (zh)
    action_en = models.TextField(blank=True)
    opened_on = models.DateField()
    deadline = models.DateField()
    previous = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="next")
    # whether the events close the case (followup.case_state), kept by Event.save in the event's transaction so
    # that the lists ask the database for the open cases instead of working out every case's state
    closed = models.BooleanField(default=False, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["student_key", "wave"], name="case_once")]
        ordering = ["deadline", "level_rank"]

    def domain_events(self) -> list:
        """The events as :class:`psyscreen.followup.Event`, in the order they were recorded."""
        return [e.as_domain() for e in sorted(self.events.all(), key=lambda e: e.recorded_at)]

    def state(self, policy=None) -> followup.CaseState:
        return followup.case_state(self.domain_events(), policy)

    def overdue(self, today: dt.date | None = None) -> bool:
        return self.state().overdue(self.deadline, today or timezone.localdate())


class Event(AppendOnly):
    """One follow-up event of a case; never changed: a correction is a new event with ``corrects`` set."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=32, choices=[(k, v.zh) for k, v in followup.EVENT_KINDS.items()])
    occurred_on = models.DateField()
    fields = models.JSONField(default=dict)
    corrects = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="corrections")
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT)
    recorded_at = models.DateTimeField(auto_now_add=True)
    source = models.CharField(max_length=300, default="web")  # "web", or "excel: <file name> <sheet> row <n>"
    # the same fill-in row imported twice has the same key: the second import adds nothing
    source_key = models.CharField(max_length=64, null=True, blank=True, unique=True)

    class Meta:
        ordering = ["recorded_at"]

    def save(self, *args, **kwargs):
        """Store the (new) event and, in the same transaction, whether its case is now closed.

        The case's row is locked first (PostgreSQL; SQLite's write transactions are one at a time anyway), so
        that two events recorded at once on one case see each other when the case's state is worked out.
        """
        with transaction.atomic():
            list(Case.objects.select_for_update().filter(pk=self.case_id).values_list("pk", flat=True))
            super().save(*args, **kwargs)
            events = Event.objects.filter(case_id=self.case_id).order_by("recorded_at")
            closed = followup.case_state([e.as_domain() for e in events]).closed
            Case.objects.filter(pk=self.case_id).update(closed=closed)
        if Event.case.is_cached(self):
            self.case.closed = closed

    #: the columns :func:`domain_event` takes, in its order (for ``values_list`` when no model instance is needed)
    DOMAIN_COLUMNS = ("kind", "occurred_on", "fields", "corrects_id", "id")

    def as_domain(self) -> followup.Event:
        return domain_event(self.kind, self.occurred_on, self.fields, self.corrects_id, self.id)


def domain_event(kind, occurred_on, fields, corrects_id, pk) -> followup.Event:
    """A stored event's columns (:attr:`Event.DOMAIN_COLUMNS`) as a :class:`psyscreen.followup.Event`."""
    return followup.Event(kind=kind, occurred_on=occurred_on, fields=dict(fields),
                          corrects=str(corrects_id) if corrects_id else None, ident=str(pk))


class AuditEntry(AppendOnly):
    """Who looked at or changed what, when: every view of a student's page and every change."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT)
    username = models.CharField(max_length=150)
    action = models.CharField(max_length=40)
    case = models.ForeignKey(Case, null=True, on_delete=models.PROTECT)
    detail = models.TextField(blank=True)

    class Meta:
        ordering = ["-at"]
