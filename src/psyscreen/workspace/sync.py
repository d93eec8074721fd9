"""Open a case for every flagged student of every archived wave, and copy their growth file into the workspace.

The archive (:mod:`psyscreen.archive`, SQLite) stays the record of the screenings; the workspace keeps a copy of
what its pages show (level, reasons, scores per wave) for the students who have a case, so that it can run on
PostgreSQL on another machine. Running it again adds only what is new: a wave imported since, a student flagged
again (the new case points at the last one: ``previous``).
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from .._results import ResultMixin
from ..followup import deadline_for
from ..protocol import ProtocolError, load_protocol
from .models import Case, Screening

__all__ = ["sync_cases", "SyncResult"]


@dataclass(frozen=True)
class SyncResult(ResultMixin):
    """What :func:`sync_cases` added: cases opened, screenings copied, waves seen."""

    cases_opened: int
    screenings_copied: int
    waves: tuple
    protocols_not_found: tuple = ()  # protocol ids of waves whose cases got the default deadlines

    def __str__(self) -> str:
        text = (f"{self.cases_opened} case(s) opened, {self.screenings_copied} screening(s) copied from "
                f"{len(self.waves)} wave(s)")
        if self.protocols_not_found:
            text += (f"; protocol(s) {', '.join(self.protocols_not_found)} not found: their new cases got the default "
                     "deadlines and level codes (give the protocol file with --protocol)")
        return text


def _protocol(protocol_id, cache: dict):
    """The wave's protocol by id, loaded once per sync; None when it is neither shipped nor given."""
    if protocol_id not in cache:
        try:
            cache[protocol_id] = load_protocol(protocol_id)
        except ProtocolError:  # a county's own protocol file, not given: its deadlines are the defaults
            cache[protocol_id] = None
    return cache[protocol_id]


def sync_cases(archive: str | Path, *, protocols=()) -> SyncResult:
    """Open the cases of every flagged student in the archive that has none yet (idempotent).

    Parameters
    ----------
    archive : path
        The county's archive file (``psyscreen archive import``).
    protocols : sequence of path, name or Protocol
        The county's own protocol files, for waves screened with a protocol that is not shipped: its deadlines
        (``follow_up``), level words and actions. A wave's protocol is found by its id.

    Returns
    -------
    SyncResult
    """
    from ..archive import connect

    given = [load_protocol(p) for p in protocols]
    cache: dict = {p.id: p for p in given}
    with connect(archive, create=False) as con:
        con.row_factory = sqlite3.Row
        rows = con.execute(
            "SELECT st.student_key, w.wave, w.wave_date, i.imported_at, i.protocol_id, s.school, s.grade, "
            "s.class AS klass, s.level, s.level_rank, s.flagged, s.critical, s.reasons, s.reasons_en, s.student_id, "
            "s.wave_id FROM screenings s JOIN waves w ON w.id = s.wave_id JOIN students st ON st.id = s.student_id "
            "LEFT JOIN imports i ON i.wave_id = s.wave_id "
            "WHERE s.student_id IN (SELECT student_id FROM screenings WHERE flagged = 1) ORDER BY w.wave").fetchall()
        scores: dict = {}
        for sid, wid, name, value in con.execute(
                "SELECT x.student_id, x.wave_id, c.name, x.value FROM scores x JOIN scales c ON c.id = x.scale_id "
                "WHERE x.student_id IN (SELECT student_id FROM screenings WHERE flagged = 1)"):
            if value is not None:
                scores.setdefault((sid, wid), {})[name] = value
    have_screen = set(Screening.objects.values_list("student_key", "wave"))
    have_case, last_case = {}, {}  # (key, wave) -> case; key -> the student's latest case so far
    for pk, k, w in Case.objects.order_by("wave").values_list("pk", "student_key", "wave"):
        have_case[(k, w)] = last_case[k] = pk
    default_policy = load_protocol("default").deadline_policy()
    policies: dict = {}  # protocol id -> its deadline policy, worked out once
    level_words: dict = {}  # (protocol id, level) -> the level's words, looked up once
    new_screens, new_cases = [], []
    with transaction.atomic():
        for r in rows:
            key, wave = r["student_key"], r["wave"]
            protocol = _protocol(r["protocol_id"], cache)
            if (r["protocol_id"], r["level"]) not in level_words:
                level_words[r["protocol_id"], r["level"]] = _level_words(protocol, r["level"])
            words = level_words[r["protocol_id"], r["level"]]
            if (key, wave) not in have_screen:
                new_screens.append(Screening(level_name=words[0], level_name_en=words[1],
                    student_key=key, wave=wave, wave_date=_date(r["wave_date"]), school=r["school"] or "",
                    grade=r["grade"], klass=r["klass"] or "", level=r["level"] or "", level_rank=r["level_rank"],
                    flagged=bool(r["flagged"]), critical=bool(r["critical"]), reasons=r["reasons"] or "",
                    reasons_en=r["reasons_en"] or "", scores=scores.get((r["student_id"], r["wave_id"]), {})))
            if not r["flagged"]:
                continue
            if (key, wave) in have_case:
                last_case[key] = have_case[(key, wave)]
                continue
            if r["protocol_id"] not in policies:
                policies[r["protocol_id"]] = protocol.deadline_policy() if protocol else default_policy
            opened_on = _local_date(r["imported_at"]) or _date(r["wave_date"]) or timezone.localdate()
            deadline = deadline_for(opened_on, r["level_rank"], bool(r["critical"]), policies[r["protocol_id"]])
            case = Case(  # its id (a random UUID) is set here, so a later wave's case can point at it
                student_key=key, wave=wave, school=r["school"] or "", grade=r["grade"], klass=r["klass"] or "",
                level=r["level"] or "", level_name=words[0], level_name_en=words[1], level_rank=r["level_rank"],
                critical=bool(r["critical"]), reasons=r["reasons"] or "", reasons_en=r["reasons_en"] or "",
                action=words[2], action_en=words[3], opened_on=opened_on, deadline=deadline,
                previous_id=last_case.get(key))
            new_cases.append(case)
            have_case[(key, wave)] = last_case[key] = case.pk
        Case.objects.bulk_create(new_cases, batch_size=2000)
        Screening.objects.bulk_create(new_screens, batch_size=2000)
    return SyncResult(cases_opened=len(new_cases), screenings_copied=len(new_screens),
                      waves=tuple(sorted({r["wave"] for r in rows})),
                      protocols_not_found=tuple(sorted(str(k) for k, v in cache.items() if v is None)))


def _date(text) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(str(text)[:10])
    except ValueError:
        return None


def _local_date(text) -> dt.date | None:
    """The day, in the workspace's time zone (Asia/Shanghai), of an ISO time such as the archive's imported_at."""
    if not text:
        return None
    try:
        moment = dt.datetime.fromisoformat(str(text))
    except ValueError:
        return _date(text)
    if moment.tzinfo is None:
        return moment.date()
    return timezone.localtime(moment).date()


def _level_words(protocol, level: str) -> tuple[str, str, str, str]:
    """The protocol's words for a level code: name (zh, en) and suggested action (zh, en); empty when the
    protocol or the level is unknown."""
    if protocol is None or not level:
        return "", "", "", ""
    try:
        lv = protocol.level(level)
    except KeyError:
        return "", "", "", ""
    return lv.name.zh, lv.name.en, lv.action.zh, lv.action.en
