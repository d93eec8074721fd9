"""The demo's workspace: one demo account per role and a few follow-up events, so that no page is empty.

``psyscreen demo --workspace`` (``make demo``) screens the sample county's waves, archives them in
``out/demo/county.db``, opens the cases (:func:`psyscreen.workspace.sync.sync_cases`) and then calls
:func:`seed_demo`. Everything here is for the synthetic sample only: the passwords are printed on the terminal
and written in the README, so an account made here must never reach a real county's workspace.

Running it again on the same archive changes nothing (accounts are updated in place, each event has a fixed
``source_key``).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from .. import followup
from .accounts import make_account
from .models import AuditEntry, Case, Event

__all__ = ["DEMO_ACCOUNTS", "DemoWorkspace", "seed_demo"]

#: username -> (role, password): demo-only (printed, and in the README)
DEMO_ACCOUNTS = {
    "demo-county": ("county", "sample-maple-4821"),
    "demo-school": ("school", "sample-cedar-5937"),
    "demo-class": ("class", "sample-birch-6143"),
    "demo-leader": ("leader", "sample-aspen-7259"),
}

#: how many days before today the demo's overdue case is dated as opened (its deadline has passed)
OVERDUE_BACK_DAYS = 10


@dataclass(frozen=True)
class DemoWorkspace:
    """What :func:`seed_demo` made: the accounts with their scope, and the events it recorded."""

    school: str
    grade: int
    klass: str
    accounts: tuple  # (username, role, password, scope: dict)
    events: tuple  # ((zh, en), wave) for each demo event, no student key
    overdue_wave: str

    def lines(self, db, lang: str = "zh") -> list[str]:
        """How to start the workspace and log in, for the terminal."""
        zh = lang == "zh"
        out = ["", "随访工作台（演示）：" if zh else "The follow-up workspace (demo):",
               f"  .venv/bin/psyscreen serve --db {db}",
               "  然后在浏览器打开 http://127.0.0.1:8000/ （Ctrl+C 停止）" if zh else
               "  then open http://127.0.0.1:8000/ in a browser (Ctrl+C stops it)",
               "演示账号（仅供演示，切勿用于真实数据）：" if zh else
               "Demo accounts (DEMO ONLY: never use these in a real county's workspace):"]
        for user, role, password, scope in self.accounts:
            out.append(f"  {user:<12} {password:<18} {_scope(role, scope, zh)}")
        out.append(("已记录的演示随访：" if zh else "Demo follow-up recorded: ") + ("；" if zh else "; ").join(
            f"{what[0] if zh else what[1]} ({wave})" for what, wave in self.events))
        return out


def _scope(role: str, scope: dict, zh: bool) -> str:
    if role == "county":
        return "县级中心：全部学校" if zh else "county center: every school"
    if role == "leader":
        return "领导：只读汇总" if zh else "leader: aggregates only"
    if role == "school":
        return f"学校心理教师：{scope['school']}" if zh else f"school psychological teacher: {scope['school']}"
    return (f"班主任：{scope['school']} {scope['grade']}年级 {scope['klass']}班" if zh else
            f"class teacher: {scope['school']} grade {scope['grade']} class {scope['klass']}")


def _pick_class(cases: list) -> tuple[str, int, str]:
    """The school and class with the most cases of the latest wave that include a critical or level-1 case."""
    latest = max(c.wave for c in cases)
    now = [c for c in cases if c.wave == latest and c.grade is not None and c.klass]
    urgent = {(c.school, c.grade, c.klass) for c in now if c.critical or c.level_rank == 1}
    count = Counter((c.school, c.grade, c.klass) for c in now)
    best = sorted(count, key=lambda k: (k not in urgent, -count[k], k))
    if not best:
        raise RuntimeError("the demo archive has no flagged student with a class: nothing to show")
    return best[0]


def _record(case, kind: str, values: dict, user, key: str, today: dt.date) -> bool:
    """Record one demo event once (``source_key`` ``demo:<key>``); False when it is already there."""
    if Event.objects.filter(source_key=f"demo:{key}").exists():
        return False
    ev = followup.validate_event(kind, values, today=today)
    Event.objects.create(case=case, kind=ev.kind, occurred_on=ev.occurred_on, fields=ev.fields, recorded_by=user,
                         source="demo", source_key=f"demo:{key}")
    AuditEntry.objects.create(user=user, username=user.get_username(), action="add_event", case=case,
                              detail=f"{ev.kind} (demo)")
    return True


def seed_demo(*, today: dt.date | None = None) -> DemoWorkspace:
    """Make the demo accounts and record the demo events on the cases already opened (sync first).

    In the chosen class (the one with the most cases of the latest wave, an urgent one among them): one case
    interviewed today, one reviewed as a false alarm and closed, one urgent case left alone and dated
    :data:`OVERDUE_BACK_DAYS` days back so that it is overdue. For two students of that school flagged in both
    waves, the earlier case: one interviewed, referred and closed as in care, one interviewed with an in-school
    plan and left open; the others were never interviewed (what ``psyscreen compare`` reports as "what was done
    last time").
    """
    today = today or timezone.localdate()  # the day in China, as the pages count overdue
    cases = list(Case.objects.all().order_by("wave", "student_key"))
    if not cases:
        raise RuntimeError("no case is open: run the sync first")
    school, grade, klass = _pick_class(cases)
    latest = max(c.wave for c in cases)
    with transaction.atomic():
        users = {}
        accounts = []
        for name, (role, password) in DEMO_ACCOUNTS.items():
            scope = dict(school=school) if role == "school" else (
                dict(school=school, grade=grade, klass=klass) if role == "class" else {})
            users[role] = make_account(name, password, role, **scope)
            accounts.append((name, role, password, scope))
        psy, teacher = users["school"], users["class"]
        mine = [c for c in cases if (c.school, c.grade, c.klass) == (school, grade, klass) and c.wave == latest]
        urgent = [c for c in mine if c.critical or c.level_rank == 1]
        overdue = urgent[0] if urgent else mine[0]
        rest = [c for c in mine if c.pk != overdue.pk]
        events = []
        if rest:
            c = rest[0]
            _record(c, "reviewed", {"date": today, "by": "班主任（演示）", "outcome": "confirmed"}, teacher,
                    "interview-review", today)
            _record(c, "interviewed", {"date": today, "by": "心理教师（演示）", "reassessed_level": "2",
                                       "note": "演示记录"}, psy, "interview", today)
            events.append((("约谈（按期）", "interviewed on time"), c.wave))
        if len(rest) > 1:
            c = rest[1]
            _record(c, "reviewed", {"date": today, "by": "心理教师（演示）", "outcome": "not_confirmed",
                                    "note": "演示：作答时理解有误"}, psy, "close-review", today)
            _record(c, "closed", {"date": today, "by": "心理教师（演示）", "outcome": "not_confirmed"}, psy,
                    "close", today)
            events.append((("复核未确认并结案", "reviewed, not confirmed, closed"), c.wave))
        # the overdue case: left alone, opened earlier than the sync opened it (the demo's only back-dating)
        days = (overdue.deadline - overdue.opened_on).days
        opened = today - dt.timedelta(days=OVERDUE_BACK_DAYS)
        Case.objects.filter(pk=overdue.pk).update(opened_on=opened, deadline=opened + dt.timedelta(days=days))
        events.append((("未处理，已逾期", "left alone: overdue"), overdue.wave))
        # flagged again: what was done at the earlier case
        again_keys = {c.student_key for c in cases if c.wave == latest and c.school == school}
        earlier = [c for c in cases if c.wave < latest and c.student_key in again_keys]
        if earlier:
            c = earlier[0]
            _record(c, "interviewed", {"date": today, "by": "心理教师（演示）", "reassessed_level": "1"}, psy,
                    "again-interview", today)
            _record(c, "referred", {"date": today, "by": "心理教师（演示）", "to": "县人民医院心理科（演示）",
                                    "outcome": "treatment"}, psy, "again-referred", today)
            _record(c, "closed", {"date": today, "by": "心理教师（演示）", "outcome": "in_care"}, psy,
                    "again-closed", today)
            events.append((("上次个案：约谈、转介、结案", "earlier case: interviewed, referred, closed"), c.wave))
        if len(earlier) > 1:
            c = earlier[1]
            _record(c, "interviewed", {"date": today, "by": "心理教师（演示）", "reassessed_level": "3"}, psy,
                    "again-interview-2", today)
            _record(c, "plan", {"date": today, "by": "心理教师（演示）", "note": "每两周谈话一次（演示）"}, psy,
                    "again-plan", today)
            events.append((("上次个案：约谈、校内支持计划，未结案", "earlier case: interviewed, in-school plan, still open"), c.wave))
    return DemoWorkspace(school=school, grade=grade, klass=klass, accounts=tuple(accounts), events=tuple(events),
                         overdue_wave=overdue.wave)
