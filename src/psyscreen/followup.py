"""The follow-up of a flagged student, from flag to closed case: the events, their fields, deadlines and state.

This module is the vocabulary and the rules, free of any store: the web workspace
(:mod:`psyscreen.workspace`) and the Excel fill-in (``psyscreen followup import``) both validate an event with
:func:`validate_event` and derive a case's state with :func:`case_state`, so the two ways in keep one record.

The chain follows the national notices and the local plans that put them into practice (教思政厅函〔2021〕10号;
教育部等十七部门《全面加强和改进新时代学生心理健康工作专项行动计划（2023—2025年）》 "完善心理预警干预"):
screening, a check by the class teacher and the psychological teacher (复核), an interview with a reassessment of
the risk (约谈), contact with the family (家校沟通), an in-school support plan or a referral to a medical
institution (转介), a return-to-school assessment after a suspension (复学评估), and closing the case (结案) with its
reason; the next wave reopens it if the student is flagged again.

Events are append-only. A correction is a new event that names the event it corrects (``corrects``); the
corrected event stays in the record, marked as corrected, and drops out of the state.

Examples
--------
>>> ev = validate_event("interviewed", {"date": "2026-09-03", "by": "王老师", "reassessed_level": "2"})
>>> ev.kind, ev.occurred_on.isoformat(), ev.fields["reassessed_level"]
('interviewed', '2026-09-03', '2')
>>> state = case_state([ev])
>>> state.status, state.interviewed_on.isoformat()
('interviewed', '2026-09-03')
"""

from __future__ import annotations

import datetime as dt
import numbers
import re
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Optional, Sequence
from zoneinfo import ZoneInfo

__all__ = [
    "EVENT_KINDS",
    "OUTCOMES",
    "EventKind",
    "FieldSpec",
    "Event",
    "EventError",
    "CaseState",
    "DeadlinePolicy",
    "validate_event",
    "case_state",
    "deadline_for",
    "parse_date",
    "TIME_ZONE",
    "today_in_china",
    "label",
]

#: The zone of the days that deadlines, event dates and "overdue" are counted in: the day in China, whatever the
#: zone of the machine that runs the job (a county's server may keep UTC, 8 hours behind).
TIME_ZONE = "Asia/Shanghai"


def today_in_china() -> dt.date:
    """Today's date in China (:data:`TIME_ZONE`), the day follow-up deadlines count in.

    Examples
    --------
    >>> today_in_china() >= dt.datetime.now(dt.timezone.utc).date()  # China is ahead of UTC, never behind
    True
    """
    return dt.datetime.now(ZoneInfo(TIME_ZONE)).date()


@dataclass(frozen=True)
class FieldSpec:
    """One field of an event: its name, words, kind (``date``, ``text``, ``choice``, ``level``) and choices."""

    name: str
    zh: str
    en: str
    kind: str = "text"
    required: bool = False
    choices: tuple = ()


@dataclass(frozen=True)
class EventKind:
    """One kind of follow-up event (复核, 约谈...), with its fields; ``date`` is when it happened."""

    code: str
    zh: str
    en: str
    fields: tuple = ()

    def field(self, name: str) -> FieldSpec:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)


# The outcomes a fill-in may use, per choice field: code -> (zh, en). The Excel drop-down lists and the web forms
# offer these words; the import accepts the code or either word.
OUTCOMES: dict[str, dict[str, tuple[str, str]]] = {
    "review": {
        "confirmed": ("确认需跟进", "confirmed: needs follow-up"),
        "not_confirmed": ("未确认（误报）", "not confirmed (false alarm)"),
    },
    "referral": {
        "pending": ("待反馈", "awaiting feedback"),
        "seen": ("已就诊", "seen by the service"),
        "treatment": ("在治疗中", "in treatment"),
        "declined": ("家长拒绝", "declined by the family"),
    },
    "return": {
        "may_return": ("同意复学", "may return to school"),
        "not_yet": ("暂缓复学", "not yet"),
    },
    "close": {
        "resolved": ("风险解除", "risk resolved"),
        "not_confirmed": ("复核未确认", "not confirmed at review"),
        "in_care": ("转介后由医疗机构持续干预", "in the care of a medical institution"),
        "left_school": ("毕业或转学", "graduated or left the school"),
        "other": ("其他（见备注）", "other (see the note)"),
    },
    "contact": {
        "in_person": ("面谈", "in person"),
        "phone": ("电话", "by phone"),
        "message": ("书面或短信", "in writing or by message"),
    },
}

_DATE = FieldSpec("date", "日期", "date", "date", required=True)
_BY = FieldSpec("by", "负责人", "by whom", "text", required=True)
_NOTE = FieldSpec("note", "备注", "note", "text")

EVENT_KINDS: dict[str, EventKind] = {k.code: k for k in (
    EventKind("reviewed", "复核", "reviewed", (
        _DATE, _BY, FieldSpec("outcome", "复核结果", "outcome", "choice", True, ("review",)),
        FieldSpec("note", "原因", "why", "text"))),
    EventKind("interviewed", "约谈评估", "interviewed", (
        _DATE, _BY, FieldSpec("reassessed_level", "再评估等级", "reassessed level", "level", True), _NOTE)),
    EventKind("family_contacted", "家校沟通", "family contacted", (
        _DATE, _BY, FieldSpec("outcome", "方式", "how", "choice", True, ("contact",)), _NOTE)),
    EventKind("plan", "校内支持计划", "in-school support plan", (
        _DATE, _BY, FieldSpec("note", "计划内容", "the plan", "text", True))),
    EventKind("referred", "转介", "referred", (
        _DATE, _BY, FieldSpec("to", "转介机构", "referred to", "text", True),
        FieldSpec("outcome", "转介结果", "outcome", "choice", True, ("referral",)), _NOTE)),
    EventKind("suspended", "休学", "suspended", (_DATE, _BY, _NOTE)),
    EventKind("return_assessed", "复学评估", "return-to-school assessment", (
        _DATE, _BY, FieldSpec("outcome", "评估结论", "outcome", "choice", True, ("return",)), _NOTE)),
    EventKind("closed", "结案", "closed", (
        _DATE, _BY, FieldSpec("outcome", "结案原因", "reason", "choice", True, ("close",)), _NOTE)),
    EventKind("reopened", "重新开启", "reopened", (
        _DATE, _BY, FieldSpec("note", "原因", "why", "text", True))),
)}

# a reassessed level is a rank of the protocol, or "none" (no risk found at interview)
LEVEL_CHOICES = ("1", "2", "3", "none")


class EventError(ValueError):
    """An event that cannot be recorded; ``problems`` maps a field name to what is wrong and what to write."""

    def __init__(self, problems: Mapping[str, str]):
        self.problems = dict(problems)
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.problems.items()))


@dataclass(frozen=True)
class Event:
    """A validated follow-up event (not yet stored): kind, the date it happened and its fields (codes, text)."""

    kind: str
    occurred_on: dt.date
    fields: dict = field(default_factory=dict)
    corrects: Optional[str] = None  # the stored id of the event this one corrects
    ident: Optional[str] = None  # the stored id, once stored


def label(kind_or_outcome: str, lang: str = "zh", *, group: Optional[str] = None) -> str:
    """The words for an event kind, or for an outcome code of ``group``.

    Examples
    --------
    >>> label("closed"), label("in_care", "en", group="close")
    ('结案', 'in the care of a medical institution')
    """
    if group is None:
        k = EVENT_KINDS[kind_or_outcome]
        return k.zh if lang == "zh" else k.en
    zh, en = OUTCOMES[group][kind_or_outcome]
    return zh if lang == "zh" else en


def parse_date(value) -> dt.date:
    """A date from a date, a datetime, an Excel serial number or text such as ``2026-09-03``, ``2026/9/3``,
    ``2026.9.3`` or ``2026年9月3日``; raises ValueError with what to write.

    Examples
    --------
    >>> parse_date("2026年9月3日"), parse_date(46268)
    (datetime.date(2026, 9, 3), datetime.date(2026, 9, 3))
    """
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, numbers.Real) and not isinstance(value, bool):  # numpy's numbers too
        if 20000 < value < 80000:  # an Excel serial day (1900 system): 1954 to 2119
            return dt.date(1899, 12, 30) + dt.timedelta(days=int(value))
        raise ValueError("not a date; write it as 2026-09-03")
    text = str(value).strip()
    # a date, perhaps with the time a spreadsheet or a CSV export puts after it ("2026-09-03 00:00:00")
    m = re.fullmatch(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
                     r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?", text)
    if not m:
        raise ValueError(f"not a date ({len(text)} characters); write it as 2026-09-03")
    try:
        return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        raise ValueError("no such day; write it as 2026-09-03") from None


def _choice(spec: FieldSpec, value) -> str:
    group = OUTCOMES[spec.choices[0]]
    text = str(value).strip()
    for code, (zh, en) in group.items():
        if text in (code, zh, en) or text.casefold() in (code.casefold(), en.casefold()):
            return code
    words = "、".join(zh for zh, _ in group.values())
    raise ValueError(f"unknown {spec.en}; write one of: {words}")


def _level(value) -> str:
    text = str(value).strip().casefold()
    text = {"一级": "1", "二级": "2", "三级": "3", "无": "none", "无风险": "none", "level1": "1", "level2": "2",
            "level3": "3", "1.0": "1", "2.0": "2", "3.0": "3"}.get(text, text)
    if text not in LEVEL_CHOICES:
        raise ValueError("unknown level; write 1, 2, 3 or none (无)")
    return text


def validate_event(kind: str, values: Mapping, *, today: Optional[dt.date] = None,
                   corrects: Optional[str] = None) -> Event:
    """Check one event's fields and return it cleaned (dates as dates, outcomes as codes).

    Parameters
    ----------
    kind : str
        An :data:`EVENT_KINDS` code, or its Chinese or English words.
    values : mapping
        Field name -> value as typed (text, number, date). Missing or blank required fields are errors.
    today : date, optional
        A date after ``today`` is refused (an event is recorded after it happens). Default: today in China
        (:func:`today_in_china`).

    Raises
    ------
    EventError
        With every problem, by field, each saying what to write.

    Examples
    --------
    >>> validate_event("closed", {"date": "2026-09-30", "by": "李老师", "outcome": "风险解除"}).fields["outcome"]
    'resolved'
    >>> try:
    ...     validate_event("closed", {"date": "soon", "by": "", "outcome": "fine"})
    ... except EventError as e:
    ...     sorted(e.problems)
    ['by', 'date', 'outcome']
    """
    code = _kind_code(kind)
    if code is None:
        words = "、".join(k.zh for k in EVENT_KINDS.values())
        raise EventError({"kind": f"unknown event; write one of: {words}"})
    spec = EVENT_KINDS[code]
    today = today or today_in_china()
    unknown = set(values) - {f.name for f in spec.fields}
    problems: dict[str, str] = {name: f"not a field of {spec.en}" for name in sorted(unknown)}
    clean: dict = {}
    when = None
    for f in spec.fields:
        raw = values.get(f.name)
        blank = raw is None or (isinstance(raw, str) and not raw.strip()) or (isinstance(raw, float) and raw != raw)
        if blank:
            if f.required:
                problems[f.name] = f"missing; fill in {f.zh} ({f.en})"
            continue
        try:
            if f.kind == "date":
                when = parse_date(raw)
                if when > today:
                    raise ValueError("a date in the future; an event is recorded after it happens")
            elif f.kind == "choice":
                clean[f.name] = _choice(f, raw)
            elif f.kind == "level":
                clean[f.name] = _level(raw)
            else:
                text = str(raw).strip()
                if len(text) > 2000:
                    raise ValueError("longer than 2,000 characters; shorten it")
                clean[f.name] = text
        except ValueError as exc:
            problems[f.name] = str(exc)
    if problems:
        raise EventError(problems)
    return Event(kind=code, occurred_on=when, fields=clean, corrects=corrects)


def _kind_code(kind) -> Optional[str]:
    text = str(kind).strip()
    for code, k in EVENT_KINDS.items():
        if text in (code, k.zh, k.en) or text.casefold() == k.en.casefold():
            return code
    return None


@dataclass(frozen=True)
class DeadlinePolicy:
    """How soon a case must see its first action, by warning level: ``days`` after the case opened.

    ``done_by`` are the event kinds that meet the deadline (an interview, or closing the case). A critical
    answer has its own (shorter) deadline. ``source`` says where the numbers come from, or that they are the
    county's choice.
    """

    critical_days: int = 0
    days_by_rank: Mapping[int, int] = field(default_factory=lambda: {1: 0, 2: 7})
    default_days: int = 30
    done_by: tuple = ("interviewed", "closed")
    source: str = ""

    def days(self, level_rank: Optional[int], critical: bool) -> int:
        if critical:
            return self.critical_days
        if level_rank is None:
            return self.default_days
        return int(self.days_by_rank.get(int(level_rank), self.default_days))


def deadline_for(opened_on: dt.date, level_rank: Optional[int], critical: bool, policy: DeadlinePolicy) -> dt.date:
    """The last day on which the first action is on time (``opened_on`` + the level's days).

    Examples
    --------
    >>> deadline_for(dt.date(2026, 9, 1), 2, False, DeadlinePolicy())
    datetime.date(2026, 9, 8)
    >>> deadline_for(dt.date(2026, 9, 1), 3, True, DeadlinePolicy())  # a critical answer: the same day
    datetime.date(2026, 9, 1)
    """
    return opened_on + dt.timedelta(days=policy.days(level_rank, critical))


@dataclass(frozen=True)
class CaseState:
    """What the events of one case add up to.

    ``status`` is the furthest step reached, in the order open, reviewed, interviewed, family contacted,
    plan, referred, suspended, return assessed, closed (a later ``reopened`` makes it ``reopened``).
    ``current_level`` is the last reassessed level, or None. ``first_action_on`` is the date of the first event
    that meets the deadline. ``corrected`` are the ids of events a later event corrects.
    """

    status: str
    reviewed: Optional[str]
    interviewed_on: Optional[dt.date]
    first_action_on: Optional[dt.date]
    referred: bool
    closed: bool
    close_reason: Optional[str]
    current_level: Optional[str]
    corrected: frozenset = frozenset()

    def overdue(self, deadline: dt.date, today: dt.date) -> bool:
        """Past its deadline with no first action yet (a case closed or acted on in time is not overdue)."""
        return self.first_action_on is None and not self.closed and today > deadline

    def on_time(self, deadline: dt.date) -> bool:
        """Whether the first action came on or before the deadline."""
        return self.first_action_on is not None and self.first_action_on <= deadline


_ORDER = ("open", "reviewed", "interviewed", "family_contacted", "plan", "referred", "suspended", "return_assessed")


def case_state(events: Sequence[Event], policy: Optional[DeadlinePolicy] = None) -> CaseState:
    """The state of a case from its events, in the order they were recorded; corrected events are left out.

    Examples
    --------
    >>> a = Event("reviewed", dt.date(2026, 9, 2), {"outcome": "confirmed"}, ident="a")
    >>> b = Event("closed", dt.date(2026, 9, 20), {"outcome": "resolved"}, ident="b")
    >>> s = case_state([a, b])
    >>> s.status, s.closed, s.close_reason, s.first_action_on
    ('closed', True, 'resolved', datetime.date(2026, 9, 20))
    """
    policy = policy or DeadlinePolicy()
    corrected = frozenset(e.corrects for e in events if e.corrects)
    live = [e for e in events if e.ident is None or e.ident not in corrected]
    status, reviewed, interviewed_on, first, referred = "open", None, None, None, False
    closed, reason, level = False, None, None
    for e in live:
        if e.kind == "reopened":
            closed, reason, status = False, None, "reopened"
            continue
        if e.kind == "closed":
            closed, reason, status = True, e.fields.get("outcome"), "closed"
        elif not closed and _ORDER.index(e.kind) > _ORDER.index(status if status in _ORDER else "open"):
            status = e.kind
        if e.kind == "reviewed":
            reviewed = e.fields.get("outcome")
        if e.kind == "interviewed":
            interviewed_on = interviewed_on or e.occurred_on
            level = e.fields.get("reassessed_level")
        if e.kind == "referred":
            referred = True
        if e.kind in policy.done_by and (first is None or e.occurred_on < first):
            first = e.occurred_on
    return CaseState(status=status, reviewed=reviewed, interviewed_on=interviewed_on, first_action_on=first,
                     referred=referred, closed=closed, close_reason=reason, current_level=level,
                     corrected=corrected)


def kinds_for(lang: str = "zh") -> list[tuple[str, str]]:
    """(code, words) of every event kind, for a drop-down list."""
    return [(k.code, k.zh if lang == "zh" else k.en) for k in EVENT_KINDS.values()]


def describe(events: Iterable[Event], lang: str = "zh") -> list[str]:
    """One line of words per event, for a terminal or a report (no student key in it).

    Examples
    --------
    >>> describe([Event("closed", dt.date(2026, 9, 20), {"outcome": "resolved", "by": "李老师"})], "en")
    ['2026-09-20 closed: by whom 李老师; reason risk resolved']
    """
    out = []
    for e in events:
        spec = EVENT_KINDS[e.kind]
        parts = []
        for f in spec.fields:
            if f.name == "date" or f.name not in e.fields:
                continue
            v = e.fields[f.name]
            if f.kind == "choice":
                v = label(v, lang, group=f.choices[0])
            parts.append(f"{f.zh if lang == 'zh' else f.en} {v}")
        out.append(f"{e.occurred_on.isoformat()} {label(e.kind, lang)}: " + "; ".join(parts))
    return out
