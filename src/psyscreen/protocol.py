"""Screening protocols as data: which instruments a screening uses, its warning levels and the rules.

A protocol lives in ``instruments/protocols/<id>.yaml`` (packaged with the wheel) or in any YAML file a
county writes. It is validated when loaded, in two passes, and nothing is loaded half-way:

1. the schema (pydantic) and the structure: levels ranked 1..k without gaps, every rule's condition parsed
   with :func:`psyscreen.rules.parse_condition`, every reference qualified as ``<instrument>.<name>``, reason
   templates that use only ``{value}``. A protocol that could be read two ways (an unqualified reference, a
   level named twice, two rules with one id, a level called ``none``) is rejected here.
2. :func:`check_protocol`: the protocol against the instrument definitions it names -- every referenced
   instrument is in ``instruments`` and exists, every scale / rule / item exists in that instrument, and every
   level can be reached by some rule or by the critical-item policy.

Problems raise :class:`ProtocolError` (an :class:`~psyscreen.instrument.InstrumentError`) listing each one
with the file and the field.

References in protocol conditions
---------------------------------
``{scale: phq9.total, ge: 20}``
    the scale score column ``phq9.total``. ``{scale: sdq.total.band, ge: 2}`` compares a band by its
    position (0 = the lowest band of the instrument's list).
``{rule: scl90.positive_screen, eq: 1}``
    a rule output of the instrument (flags are 1 / 0), or ``<id>.critical`` / ``<id>.valid``.
``{item: phq9.9, ge: 1}``
    a raw answer (``classify`` needs the answer columns for these).

Examples
--------
>>> p = load_protocol("default")
>>> p.instruments, [lv.code for lv in p.levels]
(['phq9', 'gad7'], ['level1', 'level2', 'level3'])
>>> p.level(1).name.en
'Level 1 warning (red)'
"""

from __future__ import annotations

import re
import string
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Literal, Optional, Union

from pydantic import Field

from .instrument import (Instrument, InstrumentError, Text, _Strict, list_instruments, load_instrument, locate_definition,
                         read_definition, shipped_ids)
from .rules import Condition, RuleError, parse_condition, references

__all__ = [
    "Protocol",
    "ProtocolError",
    "Level",
    "ProtocolRule",
    "check_protocol",
    "list_protocols",
    "load_protocol",
    "protocol_dir",
    "NONE_LEVEL",
    "INVALID_LEVEL",
    "UNDECIDED_LEVEL",
]

_ID = r"^[a-z][a-z0-9_]*$"
NONE_LEVEL = "none"
INVALID_LEVEL = "invalid: re-test"  # a validity (lie) scale failed
UNDECIDED_LEVEL = "undecided"  # no level could be decided because answers are missing (outputs of a screening)
_RESERVED_OUTPUTS = ("critical", "valid")


class ProtocolError(InstrumentError):
    """A protocol that cannot be used, with every problem located by file and field."""

    def __init__(self, source: str, problems: list[str]):
        super().__init__(source, problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        self.args = (f"{source}: {len(self.problems)} problem(s) in the protocol:\n{lines}",)

    def __str__(self) -> str:
        return self.args[0]


class Population(_Strict):
    """Who the protocol is for: school stage(s) and grades (college: 1 = freshmen)."""

    stages: list[Literal["primary", "junior", "senior", "college"]] = Field(min_length=1)
    grades: list[int] = Field(default=[], description="grades within the stage(s); college 1 = freshmen")
    label: Text


class Level(_Strict):
    """One warning level. Rank 1 is the most urgent."""

    rank: int = Field(ge=1)
    code: str = Field(pattern=_ID, description="the value in the `level` column, e.g. level1")
    name: Text
    colour: str = Field(pattern=r"^(#[0-9a-fA-F]{6}|[a-z]+)$")
    action: Text = Field(description="what the school should do for a student at this level")
    family: Optional[Text] = Field(
        default=None,
        description="what the family letter says at this level, written for parents (never the staff action); "
                    "absent: a general text by the level's urgency (psyscreen.report.letters.family_text)")


Reason = Text  # a reason is a bilingual text; templates may use {value}


class ProtocolRule(_Strict):
    """A condition on qualified references that puts a student at a level, with the reason in words."""

    id: str = Field(pattern=_ID)
    when: dict
    level: Union[int, str] = Field(description="the level's rank (1 = most urgent) or its code")
    reason: Reason = Field(description="may use {value}: the value of the first reference in `when`")
    source: str
    note: Optional[str] = None


class CriticalPolicy(_Strict):
    """What a critical answer (``<id>.critical``) does: by default it puts the student at the top level."""

    enabled: bool = True
    level: Union[int, str] = 1
    instruments: Optional[list[str]] = Field(default=None, description="default: every instrument that has critical items")
    on_invalid_sheet: Literal["level", "retest"] = Field(
        default="level",
        description="a critical answer on a sheet its validity scale marks invalid still sets the level (default), "
                    "or only asks for a re-test")
    source: Optional[str] = None


class InvalidPolicy(_Strict):
    """What an invalid sheet (``<id>.valid == False``) does: no score of that sheet is used; re-test."""

    reason: Reason = Reason(zh="答卷无效，需重测", en="invalid: re-test")
    source: Optional[str] = None


class FollowUpSection(_Strict):
    """How soon a flagged student must be seen: days from the case's opening to its first action, by level.

    ``days`` maps a level's rank or code to days; levels not named get ``default_days``. ``critical_days`` is
    for a critical answer (0: the same day). ``done_by`` are the event kinds that meet the deadline. ``source``
    says where the numbers come from; where they are local policy it must say so.
    """

    critical_days: int = Field(default=0, ge=0)
    days: dict[Union[int, str], int] = Field(default_factory=dict)
    default_days: int = Field(default=30, ge=0)
    done_by: list[str] = ["interviewed", "closed"]
    source: str


class Protocol(_Strict):
    """A screening protocol, as read from its YAML definition. Use :func:`load_protocol` to get one."""

    id: str = Field(pattern=_ID)
    version: str
    name: Text
    description: Optional[Text] = None
    population: Population
    instruments: list[str] = Field(min_length=1, description="shipped ids, or YAML paths relative to this file")
    levels: list[Level] = Field(min_length=1)
    levels_source: Optional[str] = None
    rules: list[ProtocolRule] = []
    critical: CriticalPolicy = CriticalPolicy()
    invalid: InvalidPolicy = InvalidPolicy()
    follow_up: Optional[FollowUpSection] = None
    notes: list[str] = []
    path: Optional[str] = Field(default=None, exclude=True)
    sha256: Optional[str] = Field(default=None, exclude=True)

    # ---- derived views -------------------------------------------------------------------------
    @property
    def levels_by_rank(self) -> list[Level]:
        return sorted(self.levels, key=lambda lv: lv.rank)

    def level(self, ref: Union[int, str]) -> Level:
        """A level by rank (int) or code (str)."""
        for lv in self.levels:
            if (isinstance(ref, int) and not isinstance(ref, bool) and lv.rank == ref) or lv.code == ref:
                return lv
        raise KeyError(f"protocol {self.id} has no level {ref!r}; levels: {[lv.code for lv in self.levels_by_rank]}")

    @property
    def instrument_ids(self) -> list[str]:
        """The ids of the instruments (an entry may be a YAML path; its id is the file name)."""
        return [Path(e).stem if e.endswith((".yaml", ".yml")) else e for e in self.instruments]

    def load_instruments(self) -> dict[str, Instrument]:
        """The instruments, by id (paths are read relative to the protocol file)."""
        out = {}
        for entry, iid in zip(self.instruments, self.instrument_ids):
            out[iid] = load_instrument(self._instrument_source(entry))
        return out

    def _instrument_source(self, entry: str) -> str:
        if entry.endswith((".yaml", ".yml")) and self.path and not Path(entry).is_absolute():
            return str(Path(self.path).parent / entry)
        return entry

    def rule_conditions(self) -> list[tuple[ProtocolRule, Condition]]:
        return [(r, parse_condition(r.when, f"rules.{r.id}.when")) for r in self.rules]

    @property
    def categories(self) -> list[str]:
        """The ordered categories of the ``level`` column: most urgent first, then "invalid: re-test", "none"."""
        return [lv.code for lv in self.levels_by_rank] + [INVALID_LEVEL, NONE_LEVEL]

    def deadline_policy(self):
        """The follow-up deadlines (:class:`psyscreen.followup.DeadlinePolicy`) of this protocol.

        Without a ``follow_up`` section: a critical answer and level 1 the same day, level 2 within 7 days
        (the default protocol's level actions), every other level within 30 days; the source says these are the
        county's choice.

        Examples
        --------
        >>> p = load_protocol("default").deadline_policy()
        >>> p.days(2, False), p.days(3, True)
        (7, 0)
        """
        from .followup import DeadlinePolicy

        fu = self.follow_up
        if fu is None:
            return DeadlinePolicy(source="psyscreen default, the county's choice: critical and level 1 the same "
                                         "day, level 2 within 7 days, other levels within 30 days")
        by_rank = {self.level(int(k) if str(k).isdigit() else k).rank: int(v) for k, v in fu.days.items()}
        return DeadlinePolicy(critical_days=fu.critical_days, days_by_rank=by_rank, default_days=fu.default_days,
                              done_by=tuple(fu.done_by), source=fu.source)

    def describe(self, lang: str = "en") -> str:
        """A short human-readable summary (used by ``psyscreen protocols show``)."""
        lines = [f"{self.id} {self.version}: {self.name.get(lang)}",
                 f"population: {self.population.label.get(lang)} (stages {', '.join(self.population.stages)}"
                 + (f"; grades {', '.join(map(str, self.population.grades))}" if self.population.grades else "") + ")",
                 f"instruments: {', '.join(self.instruments)}"]
        for lv in self.levels_by_rank:
            lines.append(f"  level {lv.rank} {lv.code} ({lv.name.get(lang)}, {lv.colour}): {lv.action.get(lang)}")
        if self.critical.enabled:
            lines.append(f"  critical answers -> level {self.level(self.critical.level).rank}")
        for r, cond in self.rule_conditions():
            lines.append(f"  rule {r.id}: {cond.describe()} -> level {self.level(r.level).rank}")
        lines.append(f"  invalid sheet -> {INVALID_LEVEL!r} ({self.invalid.reason.get(lang)})")
        return "\n".join(lines)


# ---- structural checks (no instrument needed) ----------------------------------------------------

def split_ref(ref: str) -> tuple[str, str]:
    """``"phq9.total"`` -> ``("phq9", "total")``; an unqualified reference raises ValueError."""
    if "." not in ref:
        raise ValueError(ref)
    inst, rest = ref.split(".", 1)
    return inst, rest


def _structure(p: Protocol) -> list[str]:
    problems: list[str] = []
    ranks = sorted(lv.rank for lv in p.levels)
    if ranks != list(range(1, len(ranks) + 1)):
        problems.append(f"levels: ranks must run 1..{len(ranks)} without gaps or repeats; got {ranks}")
    for key in ("code",):
        vals = [getattr(lv, key) for lv in p.levels]
        dupes = sorted({v for v in vals if vals.count(v) > 1})
        if dupes:
            problems.append(f"levels: the {key}(s) {dupes} are used by more than one level")
    for lang in ("zh", "en"):
        names = [lv.name.get(lang) for lv in p.levels]
        dupes = sorted({v for v in names if names.count(v) > 1})
        if dupes:
            problems.append(f"levels: the {lang} name(s) {dupes} are used by more than one level")
    for lv in p.levels:
        if lv.code in (NONE_LEVEL, "invalid"):
            problems.append(f"levels.{lv.code}: {lv.code!r} is reserved for students with no warning / invalid sheets")
    ids = p.instrument_ids
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        problems.append(f"instruments: {dupes} listed more than once")
    rule_ids = [r.id for r in p.rules]
    dupes = sorted({i for i in rule_ids if rule_ids.count(i) > 1})
    if dupes:
        problems.append(f"rules: rule id(s) {dupes} used more than once")
    codes = {lv.code for lv in p.levels}
    rank_set = set(ranks)

    def level_ok(ref, where):
        if isinstance(ref, bool):
            problems.append(f"{where}: give a level rank (1 = most urgent) or code, got {ref!r}")
        elif isinstance(ref, int) and ref not in rank_set:
            problems.append(f"{where}: no level with rank {ref}; ranks {ranks}")
        elif isinstance(ref, str) and ref not in codes:
            problems.append(f"{where}: no level with code {ref!r}; codes {sorted(codes)}")

    level_ok(p.critical.level, "critical.level")
    if p.follow_up is not None:
        from .followup import EVENT_KINDS

        for key in p.follow_up.days:
            level_ok(int(key) if str(key).isdigit() else key, f"follow_up.days.{key}")
        for kind in p.follow_up.done_by:
            if kind not in EVENT_KINDS:
                problems.append(f"follow_up.done_by: {kind!r} is not an event kind; kinds {sorted(EVENT_KINDS)}")
    for r in p.rules:
        where = f"rules.{r.id}"
        level_ok(r.level, f"{where}.level")
        try:
            cond = parse_condition(r.when, f"{where}.when")
        except RuleError as exc:
            problems.append(str(exc))
            continue
        for kind, ref in references(cond):
            try:
                inst, name = split_ref(ref)
            except ValueError:
                problems.append(f"{where}.when: {kind} {ref!r} is not qualified; write <instrument>.<name>, "
                                f"e.g. {kind}: phq9.{ref} (an unqualified name could be read two ways)")
                continue
            if not re.fullmatch(_ID, inst) or not name:
                problems.append(f"{where}.when: {kind} {ref!r} is not of the form <instrument>.<name>")
        for lang in ("zh", "en"):
            text = r.reason.get(lang)
            try:
                fields = [f for _, f, _, _ in string.Formatter().parse(text) if f is not None]
            except ValueError as exc:
                problems.append(f"{where}.reason.{lang}: not a valid template ({exc}); write braces as {{{{ }}}}")
                continue
            bad = [f for f in fields if f.split(":")[0] != "value"]
            if bad:
                problems.append(f"{where}.reason.{lang}: unknown placeholder(s) {bad}; only {{value}} is filled in")
    if p.critical.instruments:
        for iid in p.critical.instruments:
            if iid not in p.instrument_ids:
                problems.append(f"critical.instruments: {iid!r} is not one of the protocol's instruments {p.instrument_ids}")
    return problems


# ---- semantic checks against the instruments ----------------------------------------------------

def _instrument_outputs(inst: Instrument) -> tuple[set[str], set[str], set[int]]:
    scales = {s.id for s in inst.scales} | {f"{s.id}.band" for s in inst.scales if s.bands}
    rules = {r.id for r in inst.rules}
    if inst.critical:
        rules.add("critical")
    if inst.validity:
        rules.add("valid")
    items = {it.number for it in inst.item_list}
    return scales, rules, items


def check_protocol(protocol: Union[str, Path, Protocol]) -> list[str]:
    """Check a protocol against the instrument definitions it names; returns located problems.

    Checks that every instrument exists and loads, that every rule references only instruments listed in
    ``instruments`` and only scales, rules and items those instruments define, and that every level can be
    reached (by a rule, or by the critical-item policy when some instrument has critical items).

    Parameters
    ----------
    protocol : str, Path or Protocol

    Returns
    -------
    list of str
        Empty when the protocol is sound.

    Examples
    --------
    >>> check_protocol("default")
    []
    """
    p = protocol if isinstance(protocol, Protocol) else load_protocol(protocol, check=False)
    problems: list[str] = []
    shipped = set(list_instruments())
    insts: dict[str, Instrument] = {}
    for entry, iid in zip(p.instruments, p.instrument_ids):
        try:
            inst = load_instrument(p._instrument_source(entry))
        except InstrumentError as exc:
            if iid not in shipped and not Path(entry).suffix:
                problems.append(f"instruments: {iid!r} is not a shipped instrument; shipped: {', '.join(sorted(shipped))}")
            else:
                problems.append(f"instruments: {entry!r} does not load: {'; '.join(exc.problems) or exc}")
            continue
        if inst.id != iid:
            problems.append(f"instruments: {entry!r} holds instrument {inst.id!r}; name the file {inst.id}.yaml")
        insts[iid] = inst
    reached: set[int] = set()
    for r, cond in p.rule_conditions():
        where = f"rules.{r.id}.when"
        reached.add(p.level(r.level).rank)
        for kind, ref in references(cond):
            iid, name = split_ref(ref)
            if iid not in p.instrument_ids:
                problems.append(f"{where}: {kind} {ref!r} names instrument {iid!r}, which is not in the protocol's "
                                f"instruments {p.instrument_ids}")
                continue
            if iid not in insts:
                continue
            scales, rules, items = _instrument_outputs(insts[iid])
            if kind == "scale" and name not in scales:
                problems.append(f"{where}: {iid} has no scale {name!r}; scales: {sorted(scales)}")
            elif kind == "rule" and name not in rules:
                problems.append(f"{where}: {iid} has no rule output {name!r}; rules: {sorted(rules)}")
            elif kind == "item" and not (name.isdigit() and int(name) in items):
                problems.append(f"{where}: {iid} has no item {name!r} (items 1..{max(items)})")
    if p.critical.enabled:
        crit = [i for i in (p.critical.instruments or p.instrument_ids) if i in insts and insts[i].critical]
        if p.critical.instruments:
            for i in p.critical.instruments:
                if i in insts and not insts[i].critical:
                    problems.append(f"critical.instruments: {i} has no critical items")
        if crit:
            reached.add(p.level(p.critical.level).rank)
    for lv in p.levels_by_rank:
        if lv.rank not in reached:
            problems.append(f"levels.{lv.code}: unreachable -- no rule gives level {lv.rank}"
                            + (" and no instrument has critical items" if lv.rank == p.level(p.critical.level).rank else ""))
    return problems


# ---- loading ------------------------------------------------------------------------------------

def protocol_dir() -> Path:
    """The folder of the protocol files shipped with psyscreen."""
    return Path(str(resources.files("psyscreen") / "instruments" / "protocols"))


def list_protocols() -> list[str]:
    """Ids of the protocols shipped with psyscreen.

    Examples
    --------
    >>> "default" in list_protocols()
    True
    """
    return shipped_ids(protocol_dir())


def load_protocol(name_or_path: Union[str, Path, Protocol], *, check: bool = True) -> Protocol:
    """Load and validate a protocol by id (shipped) or from a YAML path.

    Parameters
    ----------
    name_or_path : str, Path or Protocol
    check : bool, default True
        Also run :func:`check_protocol` (against the instrument definitions) and raise on any problem.

    Raises
    ------
    ProtocolError
        with every problem located by file and field; nothing is loaded half-way.

    Examples
    --------
    >>> load_protocol("default").level(3).code
    'level3'
    """
    if isinstance(name_or_path, Protocol):
        p = name_or_path
    else:
        p = _load_cached(*locate_definition(name_or_path, protocol_dir(), "protocol", ProtocolError))
    if check:
        problems = check_protocol(p)
        if problems:
            raise ProtocolError(p.path or p.id, problems)
    return p


@lru_cache(maxsize=64)
def _load_cached(path: str, digest: str) -> Protocol:
    p = read_definition(path, digest, Protocol, ProtocolError, protocol_dir())
    problems = _structure(p)
    if problems:
        raise ProtocolError(path, problems)
    return p
