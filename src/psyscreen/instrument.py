"""Instrument definitions as data: the schema, the loader and the checks that catch authoring mistakes.

One YAML file per instrument lives in ``instruments/`` (packaged with the wheel). A file is validated
against the schema below *and* against the semantic checks in :func:`check_instrument` before anything
uses it; a broken file raises :class:`InstrumentError` listing every problem with the file and the field,
and nothing is loaded half-way.

Examples
--------
>>> phq9 = load_instrument("phq9")
>>> phq9.id, len(phq9.item_list), [s.id for s in phq9.scales]
('phq9', 10, ['total'])
>>> phq9.scale("total").score_range(phq9)
(0.0, 27.0)
"""

from __future__ import annotations

import difflib
import hashlib
import re
import types
import typing
import unicodedata
from functools import cached_property, lru_cache
from importlib import resources
from pathlib import Path
from typing import Literal, Optional, Union

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ._text import text_key
from .rules import Condition, RuleError, parse_condition, references

__all__ = [
    "Instrument",
    "InstrumentError",
    "list_instruments",
    "load_instrument",
    "instrument_dir",
]

_ID = r"^[a-z][a-z0-9_]*$"


class InstrumentError(ValueError):
    """An instrument definition that cannot be used, with every problem located by file and field."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{source}: {len(self.problems)} problem(s) in the instrument definition:\n{lines}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Text(_Strict):
    """A bilingual label."""

    zh: str
    en: str

    def get(self, lang: str = "zh") -> str:
        return self.zh if lang == "zh" else self.en


class Licence(_Strict):
    text_redistributable: bool = Field(description="May the item text be shipped? If not, the file holds the key only.")
    note: str
    source: Optional[str] = None


class ResponseOption(_Strict):
    code: float
    zh: str
    en: str
    aliases: tuple[str, ...] = ()


class Item(_Strict):
    number: int = Field(ge=1)
    zh: Optional[str] = None
    en: Optional[str] = None
    reverse: bool = False
    responses: Optional[str] = Field(default=None, description="name of a set in response_sets; default set if absent")
    scored: bool = True
    optional: bool = Field(default=False, description=(
        "the item may be absent from an export (a shorter form of the instrument, e.g. the 60-item UPI): its "
        "column is not required, and a rule's condition on it is read as not holding where it is unanswered "
        "(the form did not ask it); the rule's output then says it was decided without the item"))


class Band(_Strict):
    code: str = Field(pattern=_ID)
    zh: str
    en: str
    ge: Optional[float] = None
    gt: Optional[float] = None
    le: Optional[float] = None
    lt: Optional[float] = None

    @property
    def lower(self) -> tuple[Optional[str], Optional[float]]:
        if self.ge is not None:
            return "ge", self.ge
        if self.gt is not None:
            return "gt", self.gt
        return None, None

    @property
    def upper(self) -> tuple[Optional[str], Optional[float]]:
        if self.le is not None:
            return "le", self.le
        if self.lt is not None:
            return "lt", self.lt
        return None, None

    def describe(self) -> str:
        sym = {"ge": "≥", "gt": ">", "le": "≤", "lt": "<"}
        parts = [f"{sym[op]} {v:g}" for op, v in (self.lower, self.upper) if op]
        return " and ".join(parts) or "any score"


class Missing(_Strict):
    """How many answered items a scale needs, and whether a sum is prorated."""

    min_answered: Optional[int] = Field(default=None, ge=1, description="default: every item")
    prorate: bool = False
    source: Optional[str] = None


class Scale(_Strict):
    id: str = Field(pattern=_ID)
    name: Text
    items: Optional[list[Union[int, str]]] = None
    of_scales: Optional[list[str]] = None
    method: Literal["sum", "mean", "count", "positive_mean"] = "sum"
    threshold: Optional[float] = Field(default=None, description="count / positive_mean: an answer counts when >= this")
    multiplier: float = 1.0
    missing: Missing = Missing()
    bands: list[Band] = []
    bands_source: Optional[str] = None
    reliability: Optional[float] = Field(default=None, gt=0, lt=1)
    reliability_source: Optional[str] = None
    higher_is_worse: bool = True
    note: Optional[str] = None

    @cached_property
    def item_numbers(self) -> tuple[int, ...]:
        return tuple(_expand_numbers(self.items or []))

    @property
    def min_answered(self) -> int:
        return self.missing.min_answered or len(self.item_numbers)

    def score_range(self, instrument: "Instrument") -> tuple[float, float]:
        """The lowest and highest score this scale can take."""
        if self.of_scales:
            lows, highs = zip(*(instrument.scale(s).score_range(instrument) for s in self.of_scales))
            return float(sum(lows)), float(sum(highs))
        lo = np.array([instrument.item_range(n)[0] for n in self.item_numbers])
        hi = np.array([instrument.item_range(n)[1] for n in self.item_numbers])
        m = self.multiplier
        if self.method == "sum":
            return float(lo.sum() * m), float(hi.sum() * m)
        if self.method == "mean":
            return float(lo.mean() * m), float(hi.mean() * m)
        if self.method == "count":
            return 0.0, float(len(self.item_numbers) * m)
        return float((self.threshold or 0) * m), float(hi.max() * m)


class Critical(_Strict):
    item: int
    when: dict
    message: Text
    source: str


class Rule(_Strict):
    """A derived output ``<instrument>.<id>``: a flag (``when``) or an ordered category (``cases``)."""

    id: str = Field(pattern=_ID)
    name: Text
    when: Optional[dict] = None
    cases: Optional[list[dict]] = None
    default: Optional[Union[int, str]] = None
    source: str
    note: Optional[str] = None


class Validity(_Strict):
    """A lie / validity scale: the sheet is invalid ("re-test") when ``invalid_when`` holds."""

    invalid_when: dict
    message: Text
    source: str


class Instrument(_Strict):
    """One instrument, as read from its YAML definition. Use :func:`load_instrument` to get one."""

    id: str = Field(pattern=_ID)
    version: str
    name: Text
    abbreviation: Optional[str] = None
    source: str
    licence: Licence
    population: str
    timeframe: Optional[Text] = None
    instructions: Optional[Text] = None
    form: Optional[str] = Field(default=None, description="which language form / item order this file follows")
    responses: list[ResponseOption]
    response_sets: dict[str, list[ResponseOption]] = {}
    items: list[Union[int, str, Item]]
    scales: list[Scale]
    critical: list[Critical] = []
    rules: list[Rule] = []
    validity: Optional[Validity] = None
    notes: list[str] = []
    path: Optional[str] = Field(default=None, exclude=True)
    sha256: Optional[str] = Field(default=None, exclude=True)

    @field_validator("items", mode="before")
    @classmethod
    def _items_list(cls, v):
        if not isinstance(v, list):
            raise ValueError("items must be a list of numbers, ranges like '1-90', or item mappings")
        return v

    # ---- derived views -------------------------------------------------------------------------
    @cached_property
    def item_list(self) -> tuple[Item, ...]:
        """Every item as an :class:`Item`, in number order (ranges expanded)."""
        out: list[Item] = []
        for entry in self.items:
            if isinstance(entry, Item):
                out.append(entry)
            else:
                out.extend(Item(number=n) for n in _expand_numbers([entry]))
        return tuple(sorted(out, key=lambda it: it.number))

    @cached_property
    def _items_by_number(self) -> dict[int, Item]:
        return {it.number: it for it in self.item_list}

    def item(self, number: int) -> Item:
        return self._items_by_number[int(number)]

    def response_set(self, name: Optional[str]) -> list[ResponseOption]:
        return self.responses if name is None else self.response_sets[name]

    def item_codes(self, number: int) -> np.ndarray:
        return np.array(sorted(o.code for o in self.response_set(self.item(number).responses)))

    def item_range(self, number: int) -> tuple[float, float]:
        codes = self.item_codes(number)
        return float(codes[0]), float(codes[-1])

    def scale(self, scale_id: str) -> Scale:
        for s in self.scales:
            if s.id == scale_id:
                return s
        raise KeyError(f"{self.id} has no scale {scale_id!r}; scales: {[s.id for s in self.scales]}")

    @property
    def item_columns(self) -> list[str]:
        """Item column names ``<id>.<number>`` in number order."""
        return [f"{self.id}.{it.number}" for it in self.item_list]

    @property
    def required_item_columns(self) -> list[str]:
        """The item columns an export must have: the scored items that are not optional.

        Examples
        --------
        >>> cols = load_instrument("upi").required_item_columns
        >>> len(cols), "upi.64" in cols
        (60, False)
        """
        return [f"{self.id}.{it.number}" for it in self.item_list if it.scored and not it.optional]

    @cached_property
    def optional_items(self) -> frozenset[int]:
        """Numbers of the items marked ``optional: true`` (see :class:`Item`)."""
        return frozenset(it.number for it in self.item_list if it.optional)

    @property
    def scale_columns(self) -> list[str]:
        return [f"{self.id}.{s.id}" for s in self.scales]

    @cached_property
    def critical_conditions(self) -> tuple[Condition, ...]:
        return tuple(self.conditions[f"critical[{i}].when"] for i in range(len(self.critical)))

    @cached_property
    def conditions(self) -> dict[str, Condition]:
        """Every condition in the file, parsed once, keyed by where it stands (``"rules.category.cases[0]"``)."""
        return dict(_all_conditions(self))

    def label_map(self, number: int) -> dict[str, float]:
        """Every accepted spelling of an item's options (zh, en, aliases) mapped to its code."""
        out: dict[str, float] = {}
        for o in self.response_set(self.item(number).responses):
            for text in (o.zh, o.en, *o.aliases):
                out[text_key(text)] = o.code
        return out

    def describe(self, lang: str = "en") -> str:
        """A short human-readable summary (used by ``psyscreen instruments show``)."""
        lines = [f"{self.id} {self.version}: {self.name.get(lang)}", f"source: {self.source}",
                 f"population: {self.population}",
                 f"licence: {'item text included' if any(it.zh or it.en for it in self.item_list) else 'scoring key only'}"
                 f" ({self.licence.note})",
                 f"items: {len(self.item_list)}; responses: "
                 + ", ".join(f"{o.code:g}={o.zh if lang == 'zh' else o.en}" for o in self.responses)]
        for s in self.scales:
            lo, hi = s.score_range(self)
            what = f"{s.method} of {len(s.item_numbers)} items" if s.items else f"sum of {', '.join(s.of_scales or [])}"
            lines.append(f"  scale {s.id} ({s.name.get(lang)}): {what}, range {lo:g}-{hi:g}, "
                         f"needs {s.min_answered if s.items else 'all'} answered"
                         + (", prorated" if s.missing.prorate else ""))
            for b in s.bands:
                lines.append(f"    band {b.code}: {b.describe()} ({b.zh if lang == 'zh' else b.en})")
        for c in self.critical:
            lines.append(f"  critical: item {c.item} {_describe_when(c.when)}: {c.message.get(lang)}")
        for r in self.rules:
            lines.append(f"  rule {r.id}: {r.name.get(lang)}")
        if self.validity:
            lines.append(f"  validity: invalid when {self.conditions['validity.invalid_when'].describe()}")
        return "\n".join(lines)


def _describe_when(when: dict) -> str:
    sym = {"eq": "=", "ne": "≠", "ge": "≥", "gt": ">", "le": "≤", "lt": "<"}
    return " ".join(f"{sym[k]} {v:g}" for k, v in when.items() if k in sym)


def _expand_numbers(entries) -> list[int]:
    out: list[int] = []
    for e in entries:
        if isinstance(e, bool):
            raise ValueError(f"not an item number: {e!r}")
        if isinstance(e, int):
            out.append(e)
        elif isinstance(e, str) and re.fullmatch(r"\s*\d+\s*-\s*\d+\s*", e):
            a, b = (int(x) for x in e.split("-"))
            if b < a:
                raise ValueError(f"range {e!r} runs backwards")
            out.extend(range(a, b + 1))
        elif isinstance(e, str) and e.strip().isdigit():
            out.append(int(e))
        elif isinstance(e, Item):
            out.append(e.number)
        else:
            raise ValueError(f"not an item number or range like '1-15': {e!r}")
    return out


# ---- semantic checks ---------------------------------------------------------------------------

def check_instrument(inst: Instrument) -> list[str]:
    """Authoring checks beyond the schema; returns located problems (empty when the file is sound)."""
    problems: list[str] = []
    try:
        items = inst.item_list
    except ValueError as exc:
        return [f"items: {exc}"]
    numbers = [it.number for it in items]
    dupes = sorted({n for n in numbers if numbers.count(n) > 1})
    if dupes:
        problems.append(f"items: item number(s) {dupes} listed more than once")
    if numbers and sorted(set(numbers)) != list(range(1, max(numbers) + 1)):
        missing = sorted(set(range(1, max(numbers) + 1)) - set(numbers))
        problems.append(f"items: numbers must run 1..{max(numbers)} without gaps; missing {missing}")
    n_items = max(numbers) if numbers else 0

    codes = [o.code for o in inst.responses]
    if len(set(codes)) != len(codes):
        problems.append("responses: the same code is used twice")
    for name, opts in inst.response_sets.items():
        c = [o.code for o in opts]
        if len(set(c)) != len(c):
            problems.append(f"response_sets.{name}: the same code is used twice")
    for it in items:
        if it.responses is not None and it.responses not in inst.response_sets:
            problems.append(f"items[{it.number}].responses: no response set named {it.responses!r}; "
                            f"defined: {sorted(inst.response_sets)}")
        if not inst.licence.text_redistributable and (it.zh or it.en):
            problems.append(f"items[{it.number}]: the licence says item text may not be redistributed, "
                            "but the file holds text; keep the scoring key only")
    if problems:
        return problems

    scale_ids = [s.id for s in inst.scales]
    if len(set(scale_ids)) != len(scale_ids):
        problems.append(f"scales: duplicated scale id(s) {sorted({s for s in scale_ids if scale_ids.count(s) > 1})}")
    reserved = {"critical", "incomplete", "valid"} | {r.id for r in inst.rules}
    for s in inst.scales:
        if s.id in reserved:
            problems.append(f"scales.{s.id}: the id clashes with a rule or reserved output name")
    in_some_scale: set[int] = set()
    for s in inst.scales:
        where = f"scales.{s.id}"
        if bool(s.items) == bool(s.of_scales):
            problems.append(f"{where}: give exactly one of items or of_scales")
            continue
        if s.of_scales:
            for other in s.of_scales:
                if other not in scale_ids or other == s.id:
                    problems.append(f"{where}.of_scales: {other!r} is not another scale of {inst.id}")
            if s.method != "sum" or s.missing.min_answered:
                problems.append(f"{where}: a scale made of scales is their sum and is missing when any is missing")
            continue
        try:
            nums = list(s.item_numbers)
        except ValueError as exc:
            problems.append(f"{where}.items: {exc}")
            continue
        dup = sorted({n for n in nums if nums.count(n) > 1})
        if dup:
            problems.append(f"{where}.items: item(s) {dup} listed twice")
        bad = sorted(n for n in set(nums) if not 1 <= n <= n_items)
        if bad:
            problems.append(f"{where}.items: item number(s) {bad} out of range 1..{n_items}")
            continue
        in_some_scale.update(nums)
        if s.missing.min_answered and s.missing.min_answered > len(set(nums)):
            problems.append(f"{where}.missing.min_answered: {s.missing.min_answered} is more than the "
                            f"{len(set(nums))} items of the scale")
        if s.method == "sum" and not s.missing.prorate and s.min_answered < len(set(nums)):
            problems.append(f"{where}.missing: a sum that allows missing items must prorate (prorate: true); "
                            "otherwise a missing answer would silently count as 0")
        if s.method in ("count", "positive_mean") and s.threshold is None:
            problems.append(f"{where}.threshold: method {s.method} needs a threshold")
        if s.missing.prorate and s.method != "sum":
            problems.append(f"{where}.missing.prorate: only a sum is prorated")
        for n in nums:
            if inst.item(n).reverse and n in in_some_scale and not inst.item(n).scored:
                problems.append(f"{where}: item {n} is marked unscored but used in a scale")
    if problems:
        return problems
    for it in items:
        if it.scored and it.number not in in_some_scale and not _used_elsewhere(inst, it.number):
            problems.append(f"items[{it.number}]: the item is in no scale, rule or critical list "
                            "(mark it scored: false if that is intended)")
    for s in inst.scales:
        problems.extend(_check_bands(inst, s))
    for i, c in enumerate(inst.critical):
        if not 1 <= c.item <= n_items:
            problems.append(f"critical[{i}].item: item {c.item} out of range 1..{n_items}")
        elif inst.item(c.item).optional:
            problems.append(f"critical[{i}].item: item {c.item} is marked optional; a critical item is never "
                            "optional (an unanswered critical item must stay 'not decided'): remove optional: true")
    problems.extend(_check_conditions(inst, n_items, scale_ids))
    return problems


def _used_elsewhere(inst: Instrument, number: int) -> bool:
    refs = {int(c.item) for c in inst.critical}
    for cond in inst.conditions.values():
        refs.update(int(r) for k, r in references(cond) if k == "item" and r.isdigit())
    return number in refs


def _all_conditions(inst: Instrument):
    for i, c in enumerate(inst.critical):
        yield f"critical[{i}].when", parse_condition({"item": c.item, **c.when}, f"critical[{i}].when")
    for r in inst.rules:
        if r.when is not None:
            yield f"rules.{r.id}.when", parse_condition(r.when, f"rules.{r.id}.when")
        for j, case in enumerate(r.cases or []):
            yield f"rules.{r.id}.cases[{j}]", parse_condition(case.get("when"), f"rules.{r.id}.cases[{j}].when")
    if inst.validity:
        yield "validity.invalid_when", parse_condition(inst.validity.invalid_when, "validity.invalid_when")


def _check_conditions(inst: Instrument, n_items: int, scale_ids: list[str]) -> list[str]:
    problems: list[str] = []
    rule_ids = [r.id for r in inst.rules]
    for r in inst.rules:
        if (r.when is None) == (r.cases is None):
            problems.append(f"rules.{r.id}: give exactly one of when (a flag) or cases (a category)")
        for j, case in enumerate(r.cases or []):
            if set(case) != {"value", "when"}:
                problems.append(f"rules.{r.id}.cases[{j}]: each case needs exactly value and when")
    if problems:
        return problems
    try:
        conds = list(_all_conditions(inst))
    except RuleError as exc:
        return [str(exc)]
    for where, cond in conds:
        for kind, ref in references(cond):
            if kind == "item" and not (ref.isdigit() and 1 <= int(ref) <= n_items):
                problems.append(f"{where}: item {ref} does not exist (items 1..{n_items})")
            elif kind == "scale" and ref not in scale_ids:
                problems.append(f"{where}: scale {ref!r} does not exist; scales: {scale_ids}")
            elif kind == "rule" and ref not in rule_ids:
                problems.append(f"{where}: rule {ref!r} does not exist; rules: {rule_ids}")
    return problems


def _check_bands(inst: Instrument, s: Scale) -> list[str]:
    where = f"scales.{s.id}.bands"
    problems: list[str] = []
    if not s.bands:
        return problems
    for b in s.bands:
        if b.ge is not None and b.gt is not None or b.le is not None and b.lt is not None:
            problems.append(f"{where}.{b.code}: give one lower operator (ge or gt) and one upper (le or lt)")
    if problems:
        return problems
    lo, hi = s.score_range(inst)
    bands = sorted(s.bands, key=lambda b: (-np.inf if b.lower[1] is None else b.lower[1]))
    first_op, first_v = bands[0].lower
    if first_op is not None and (first_v > lo or first_v == lo and first_op == "gt"):
        problems.append(f"{where}: the lowest band starts at {bands[0].describe()}, leaving scores from {lo:g} uncovered")
    last_op, last_v = bands[-1].upper
    if last_op is not None and (last_v < hi or last_v == hi and last_op == "lt"):
        problems.append(f"{where}: the highest band ends at {bands[-1].describe()}, leaving scores up to {hi:g} uncovered")
    for a, b in zip(bands, bands[1:]):
        up_op, up_v = a.upper
        low_op, low_v = b.lower
        if up_op is None or low_op is None:
            problems.append(f"{where}: bands {a.code} and {b.code} overlap (an open end in the middle)")
        elif up_v < low_v:
            problems.append(f"{where}: a gap between {a.code} ({a.describe()}) and {b.code} ({b.describe()})")
        elif up_v > low_v:
            problems.append(f"{where}: {a.code} ({a.describe()}) and {b.code} ({b.describe()}) overlap")
        elif (up_op, low_op) not in (("lt", "ge"), ("le", "gt")):
            problems.append(f"{where}: at {up_v:g} the bands {a.code} and {b.code} "
                            + ("both include" if (up_op, low_op) == ("le", "ge") else "both exclude")
                            + " the boundary; use lt/ge or le/gt")
    return problems


# ---- loading -----------------------------------------------------------------------------------

def instrument_dir() -> Path:
    """The folder of the instrument files shipped with psyscreen."""
    return Path(str(resources.files("psyscreen") / "instruments"))


def list_instruments() -> list[str]:
    """Ids of the instruments shipped with psyscreen.

    Examples
    --------
    >>> "phq9" in list_instruments()
    True
    """
    return shipped_ids(instrument_dir())


def load_instrument(id_or_path: Union[str, Path, Instrument]) -> Instrument:
    """Load and validate an instrument by id (shipped) or from a YAML path.

    Raises
    ------
    InstrumentError
        with every problem located by file and field; nothing is loaded half-way.

    Examples
    --------
    >>> load_instrument("gad7").scale("total").bands[-1].code
    'severe'
    """
    if isinstance(id_or_path, Instrument):
        return id_or_path
    return _load_cached(*locate_definition(id_or_path, instrument_dir(), "instrument", InstrumentError))


def shipped_ids(folder: Path) -> list[str]:
    """Ids of the definition files (``<id>.yaml``) in ``folder``."""
    return sorted(p.stem for p in folder.glob("*.yaml"))


def _id_key(text: str) -> str:
    """An id as compared by :func:`shipped_id`: NFKC, case folded, punctuation and spaces removed."""
    return re.sub(r"[\W_]+", "", unicodedata.normalize("NFKC", text)).casefold()


def shipped_id(name: str, folder: Path, kind: str = "instrument",
               error: type[InstrumentError] = InstrumentError) -> str:
    """The shipped id that ``name`` means: exact, or the one id equal to it up to case and punctuation.

    ``PHQ-9``, ``PHQ9``, ``phq_9`` and ``phq 9`` all mean ``phq9``. When nothing matches, the error names the
    closest ids (:mod:`difflib`) and lists the shipped ones.

    Examples
    --------
    >>> [shipped_id(x, instrument_dir()) for x in ("phq9", "PHQ-9", "phq_9", "Gad 7")]
    ['phq9', 'phq9', 'phq9', 'gad7']
    """
    ids = shipped_ids(folder)
    if name in ids:
        return name
    keys = {_id_key(i): i for i in ids}
    found = keys.get(_id_key(name))
    if found is not None:
        return found
    close = difflib.get_close_matches(_id_key(name), list(keys), n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(repr(keys[c]) for c in close)}?" if close else ""
    raise error(name, [f"no shipped {kind} {name!r}{hint}; shipped: {', '.join(ids)}"])


def locate_definition(name_or_path, folder: Path, kind: str, error: type[InstrumentError]) -> tuple[str, str]:
    """The resolved path and sha256 of a definition named by id (``<folder>/<id>.yaml``) or by path.

    Shared by the instrument and protocol loaders (the digest keys their caches, so an edited file is re-read).
    """
    text = str(name_or_path)
    path = Path(text)
    if not (text.endswith((".yaml", ".yml")) or path.is_file()):
        path = folder / f"{shipped_id(text, folder, kind, error)}.yaml"
    if not path.is_file():
        raise error(str(path), ["file not found"])
    resolved = path.resolve()
    return str(resolved), hashlib.sha256(resolved.read_bytes()).hexdigest()


_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's safe loader: the same types, 10x faster


def read_definition(path: str, digest: str, model: type[BaseModel], error: type[InstrumentError], folder: Path):
    """Read a YAML definition file and validate it against a pydantic ``model``.

    Shared by the instrument and protocol loaders: an unreadable file, a file that is not one mapping, or a
    schema violation raises ``error(path, problems)`` with every problem located by field; a file shipped in
    ``folder`` must carry the id of its file name.
    """
    try:
        data = yaml.load(Path(path).read_bytes().decode("utf-8"), Loader=_SAFE_LOADER)
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise error(path, [f"not readable YAML (UTF-8): {exc}"]) from None
    if not isinstance(data, dict):
        raise error(path, ["the file must hold one mapping (id, version, name, ...)"])
    try:
        definition = model.model_validate({**data, "path": path, "sha256": digest})
    except ValidationError as exc:
        raise error(path, schema_problems(exc, model, Path(path).read_text("utf-8"))) from None
    if Path(path).parent == folder.resolve() and Path(path).stem != definition.id:
        raise error(path, [f"id: {definition.id!r} must match the file name {Path(path).stem!r}"])
    return definition


@lru_cache(maxsize=128)
def _load_cached(path: str, digest: str) -> Instrument:
    inst = read_definition(path, digest, Instrument, InstrumentError, instrument_dir())
    problems = check_instrument(inst)
    if problems:
        raise InstrumentError(path, problems)
    return inst


# ---- schema errors in the YAML's words --------------------------------------------------------------

#: How a value of a union field is written, by (model, field): said once instead of one error per branch.
_UNION_FORMS = {
    ("Instrument", "items"): "an item is written as a number (4), a range in quotes ('1-90'), or a mapping "
                             "{number: 1, zh: ..., en: ...}",
    ("Scale", "items"): "a scale's item is written as a number (4) or a range in quotes ('1-90')",
}


def _args(tp) -> tuple:
    """The alternatives of a Union/Optional annotation (None left out), else ``(tp,)``."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return tuple(a for a in typing.get_args(tp) if a is not type(None))
    return (tp,)


def _is_model(tp) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _walk_schema(model, loc: tuple):
    """Follow a pydantic error location through the model's annotations.

    Returns the place (keys and indices of the YAML, union branch tags removed), the model that holds the last
    field, the position in the place where a union was entered (or None) and its (model, field) owner.
    """
    tp, owner, place, union_at, union_of, last_field = model, model, [], None, None, None
    for part in loc:
        alts = _args(tp)
        if len(alts) > 1:  # a union: this part of the location names the branch tried
            pick = next((a for a in alts if getattr(a, "__name__", None) == part), None)
            if union_at is None:
                union_at, union_of = len(place), (getattr(owner, "__name__", ""), last_field)
            if pick is not None or not isinstance(part, int):
                tp = pick
                continue
        tp = alts[0] if alts else None
        if _is_model(tp):
            owner, last_field = tp, part
            field = tp.model_fields.get(part) if isinstance(part, str) else None
            place.append(part)
            tp = field.annotation if field is not None else None
            continue
        origin = typing.get_origin(tp)
        place.append(part)
        if origin in (list, tuple):
            tp = typing.get_args(tp)[0]
        elif origin is dict:
            tp = typing.get_args(tp)[1]
        else:
            tp = None
    return place, owner, union_at, union_of


def _place_text(place) -> str:
    out = ""
    for p in place:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(top level)"


def _yaml_node(root, place):
    """The YAML node at ``place`` (deepest one found) and the line of its key or item (1-based)."""
    node, line = root, None
    for p in place:
        if isinstance(node, yaml.MappingNode):
            hit = next(((k, v) for k, v in node.value if getattr(k, "value", None) == str(p)), None)
            if hit is None:
                break
            line, node = hit[0].start_mark.line + 1, hit[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(p, int) and p < len(node.value):
            node = node.value[p]
            line = node.start_mark.line + 1
        else:
            break
    return node, line


def _field_message(err: dict, owner, node) -> str:
    """What is wrong with one field and what to write, in the YAML's terms."""
    kind, last = err.get("type", ""), err["loc"][-1] if err.get("loc") else ""
    fields = list(owner.model_fields) if _is_model(owner) else []
    fields = [f for f in fields if f not in ("path", "sha256")]
    if kind == "extra_forbidden":
        close = difflib.get_close_matches(str(last), fields, n=1, cutoff=0.5)
        return (f"{str(last)!r} is not a known field" + (f" (did you mean {close[0]!r}?)" if close else "")
                + (f"; the fields here are {', '.join(fields)}" if fields else ""))
    if kind == "missing":
        return f"{str(last)!r} is missing: add '{last}: ...'"
    raw = node.value if isinstance(node, yaml.ScalarNode) else None
    if kind == "string_type" and isinstance(err.get("input"), bool) and raw is not None:
        return (f"YAML reads {raw} as {str(err['input']).lower()} (yes/no/on/off/true/false are truth values), "
                f"not as text: write it in quotes, '{raw}'")
    if kind in ("int_type", "int_parsing", "int_from_float", "float_type", "float_parsing"):
        want = "a whole number" if kind.startswith("int") else "a number"
        return f"write {want}" + (f" (found {raw!r})" if raw is not None else "")
    return str(err.get("msg"))


def schema_problems(exc: ValidationError, model, text: str = "") -> list[str]:
    """A pydantic ValidationError as problems a person can act on: the YAML's place, its line, what to write.

    One problem per place: the errors of every branch of a union (an item that is a number, a text or a
    mapping) are said once, as the forms the field takes, plus the problems of the branch the YAML meant (a
    mapping's unknown field, with the closest known one).

    Examples
    --------
    >>> from pydantic import ValidationError
    >>> text = "id: toy\\nitems:\\n  - {number: 1, texte: hi}\\n"
    >>> try:
    ...     Instrument.model_validate(yaml.safe_load(text))
    ... except ValidationError as exc:
    ...     problems = schema_problems(exc, Instrument, text)
    >>> [p for p in problems if p.startswith("items")]  # doctest: +NORMALIZE_WHITESPACE
    ["items[0] (line 3): an item is written as a number (4), a range in quotes ('1-90'), or a mapping
      {number: 1, zh: ..., en: ...}; 'texte' is not a known field; the fields here are number, zh, en, reverse,
      responses, scored, optional"]
    """
    try:
        root = yaml.compose(text) if text else None
    except yaml.YAMLError:
        root = None
    groups: dict = {}
    for err in exc.errors():
        place, owner, union_at, union_of = _walk_schema(model, tuple(err.get("loc", ())))
        if union_at is not None:
            key = tuple(place[:union_at])
        else:  # a missing field is said at its mapping (the field has no line of its own)
            key = tuple(place[:-1] if err.get("type") == "missing" and place else place)
        groups.setdefault(key, []).append((err, place, owner, union_at, union_of))
    problems = []
    for key, errs in groups.items():
        node, line = _yaml_node(root, key) if root is not None else (None, None)
        where = _place_text(key) + (f" (line {line})" if line else "")
        messages = []
        union = next((e for e in errs if e[3] is not None), None)
        if union is not None:
            form = _UNION_FORMS.get(union[4]) or f"write one of the allowed forms ({union[0].get('msg')})"
            messages.append(form)
            inner = [e for e in errs if e[3] is not None and len(e[1]) > e[3] and _is_model(e[2])]
            if isinstance(union[0].get("input"), dict):
                for err, place, owner, _, _ in inner:
                    sub = place[union[3]:]
                    sub_node, _ = _yaml_node(node, sub) if node is not None else (None, None)
                    prefix = "" if len(sub) <= 1 and err.get("type") in ("extra_forbidden", "missing") else f"{_place_text(sub)}: "
                    messages.append(prefix + _field_message(err, owner, sub_node))
        for err, place, owner, union_at, _ in errs:
            if union_at is not None:
                continue
            messages.append(_field_message(err, owner, node))
        problems.append(f"{where}: " + "; ".join(dict.fromkeys(messages)))
    return problems
