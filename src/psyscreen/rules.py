"""Rules as data: a small condition language, parsed strictly and evaluated on whole columns.

A condition is a mapping read from YAML. It is never evaluated as code. The forms are

``{item: 9, ge: 1}``
    compare an item answer (``item``), a scale score (``scale``) or a rule output (``rule``) with one
    operator: ``eq``, ``ne``, ``ge``, ``gt``, ``le`` or ``lt``.
``{any: [...]}``, ``{all: [...]}``
    disjunction and conjunction of conditions.
``{at_least: 2, of: [...]}``
    at least *k* of the listed conditions hold.
``{count: [...], ge: 5}``
    compare the number of listed conditions that hold with one operator.

References are unqualified inside an instrument file (``scale: total``) and qualified as
``<instrument>.<name>`` in a protocol (``scale: phq9.total``). A mapping with two operators, two
references or an unknown key could be read two ways and is rejected with its location.

Evaluation uses three-valued logic, because a missing answer is not a "no": every condition yields
``(value, known)`` boolean arrays. A comparison on a missing value is unknown; ``any`` is true when one
branch is true, false when all are known false, unknown otherwise; ``all`` mirrors it.

Examples
--------
>>> import numpy as np
>>> cond = parse_condition({"any": [{"scale": "total", "gt": 160}, {"scale": "pst", "gt": 43}]}, "example")
>>> cols = {("scale", "total"): np.array([161.0, 100.0, np.nan]), ("scale", "pst"): np.array([0.0, 44.0, 10.0])}
>>> value, known = evaluate(cond, lambda kind, ref: cols[(kind, ref)])
>>> value.tolist(), known.tolist()
([True, True, False], [True, True, False])
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Callable, Optional, Union

import numpy as np

OPERATORS: dict[str, Callable] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "ge": operator.ge,
    "gt": operator.gt,
    "le": operator.le,
    "lt": operator.lt,
}
SYMBOLS = {"eq": "=", "ne": "≠", "ge": "≥", "gt": ">", "le": "≤", "lt": "<"}
REFERENCE_KINDS = ("item", "scale", "rule")


class RuleError(ValueError):
    """A condition that cannot be read, or could be read two ways. The message names where it is."""


@dataclass(frozen=True)
class Compare:
    """``<kind> <ref> <op> <value>``, e.g. item 9 ge 1."""

    kind: str
    ref: str
    op: str
    value: float

    def describe(self) -> str:
        return f"{self.kind} {self.ref} {SYMBOLS[self.op]} {_fmt(self.value)}"


@dataclass(frozen=True)
class AnyOf:
    conditions: tuple

    def describe(self) -> str:
        return " or ".join(f"({c.describe()})" for c in self.conditions)


@dataclass(frozen=True)
class AllOf:
    conditions: tuple

    def describe(self) -> str:
        return " and ".join(f"({c.describe()})" for c in self.conditions)


@dataclass(frozen=True)
class AtLeast:
    k: int
    conditions: tuple

    def describe(self) -> str:
        inner = "; ".join(c.describe() for c in self.conditions)
        return f"at least {self.k} of [{inner}]"


@dataclass(frozen=True)
class Count:
    conditions: tuple
    op: str
    value: float

    def describe(self) -> str:
        inner = "; ".join(c.describe() for c in self.conditions)
        return f"count of [{inner}] {SYMBOLS[self.op]} {_fmt(self.value)}"


Condition = Union[Compare, AnyOf, AllOf, AtLeast, Count]


def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else str(v)


def _one_operator(obj: dict, where: str) -> tuple[str, float]:
    ops = [k for k in obj if k in OPERATORS]
    if len(ops) != 1:
        raise RuleError(
            f"{where}: needs exactly one comparison operator out of {', '.join(OPERATORS)}, found "
            f"{ops or 'none'}; write a range as all: [{{ge: ...}}, {{lt: ...}}]"
        )
    op = ops[0]
    value = obj[op]
    if isinstance(value, bool):
        value = float(value)
    if not isinstance(value, (int, float)):
        raise RuleError(f"{where}.{op}: the value must be a number, got {value!r}")
    return op, float(value)


def _check_keys(obj: dict, allowed: set, where: str) -> None:
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise RuleError(f"{where}: unknown key(s) {unknown}; allowed here: {sorted(allowed)}")


def parse_condition(obj, where: str = "condition") -> Condition:
    """Parse a condition mapping into frozen dataclasses, rejecting anything ambiguous.

    Parameters
    ----------
    obj : dict
        The condition as read from YAML.
    where : str
        The location used in error messages, e.g. ``"phq9.yaml: critical[0].when"``.

    Returns
    -------
    Condition

    Examples
    --------
    >>> parse_condition({"item": 9, "ge": 1}).describe()
    'item 9 ≥ 1'
    """
    if not isinstance(obj, dict) or not obj:
        raise RuleError(f"{where}: a condition must be a non-empty mapping, got {obj!r}")
    forms = [k for k in ("any", "all", "at_least", "count", *REFERENCE_KINDS) if k in obj]
    if len(forms) != 1:
        raise RuleError(
            f"{where}: a condition must have exactly one of any / all / at_least / count / item / scale / rule; "
            f"found {forms or 'none'} (it could be read two ways)"
        )
    form = forms[0]
    if form in ("any", "all"):
        _check_keys(obj, {form}, where)
        subs = _parse_list(obj[form], f"{where}.{form}")
        return AnyOf(subs) if form == "any" else AllOf(subs)
    if form == "at_least":
        _check_keys(obj, {"at_least", "of"}, where)
        k = obj["at_least"]
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise RuleError(f"{where}.at_least: must be a positive whole number, got {k!r}")
        subs = _parse_list(obj.get("of"), f"{where}.of")
        if k > len(subs):
            raise RuleError(f"{where}: at_least {k} of {len(subs)} conditions can never hold")
        return AtLeast(k, subs)
    if form == "count":
        _check_keys(obj, {"count", *OPERATORS}, where)
        op, value = _one_operator(obj, where)
        return Count(_parse_list(obj["count"], f"{where}.count"), op, value)
    _check_keys(obj, {form, *OPERATORS}, where)
    op, value = _one_operator(obj, where)
    ref = obj[form]
    if not isinstance(ref, (str, int)) or isinstance(ref, bool):
        raise RuleError(f"{where}.{form}: must name one {form}, got {ref!r}")
    return Compare(form, str(ref), op, value)


def _parse_list(items, where: str) -> tuple:
    if not isinstance(items, list) or not items:
        raise RuleError(f"{where}: must be a non-empty list of conditions")
    return tuple(parse_condition(c, f"{where}[{i}]") for i, c in enumerate(items))


def references(cond: Condition) -> list[tuple[str, str]]:
    """All ``(kind, ref)`` pairs a condition reads, in order of appearance."""
    if isinstance(cond, Compare):
        return [(cond.kind, cond.ref)]
    out: list[tuple[str, str]] = []
    for c in cond.conditions:
        out.extend(references(c))
    return out


Resolver = Callable[[str, str], np.ndarray]
Unasked = Callable[[str, str], Optional[np.ndarray]]


def evaluate(cond: Condition, resolve: Resolver, unasked: Optional[Unasked] = None) -> tuple[np.ndarray, np.ndarray]:
    """Evaluate a condition on whole columns with three-valued logic.

    Parameters
    ----------
    cond : Condition
    resolve : callable
        ``resolve(kind, ref)`` returns a float array (NaN where the value is missing).
    unasked : callable, optional
        ``unasked(kind, ref)`` returns a bool array marking the rows where the reference was not asked (an
        optional item absent from the form or left blank), or None. There a comparison is known not to
        hold, instead of unknown: a question the form did not ask cannot have been answered yes.

    Returns
    -------
    value, known : numpy.ndarray of bool
        ``value`` is meaningful only where ``known``; where not known it is False.

    Examples
    --------
    >>> import numpy as np
    >>> cond = parse_condition({"any": [{"scale": "total", "ge": 25}, {"item": 64, "eq": 1}]})
    >>> cols = {("scale", "total"): np.array([10.0, 10.0]), ("item", "64"): np.array([np.nan, 1.0])}
    >>> evaluate(cond, lambda k, r: cols[(k, r)])[1].tolist()
    [False, True]
    >>> evaluate(cond, lambda k, r: cols[(k, r)],
    ...          lambda k, r: np.isnan(cols[(k, r)]) if k == "item" else None)[1].tolist()
    [True, True]
    """
    if isinstance(cond, Compare):
        x = np.asarray(resolve(cond.kind, cond.ref), dtype=float)
        known = ~np.isnan(x)
        with np.errstate(invalid="ignore"):
            value = OPERATORS[cond.op](x, cond.value) & known
        skipped = unasked(cond.kind, cond.ref) if unasked is not None else None
        if skipped is not None:
            known = known | skipped
        return value, known
    parts = [evaluate(c, resolve, unasked) for c in cond.conditions]
    values = np.stack([p[0] for p in parts])
    knowns = np.stack([p[1] for p in parts])
    n_true = values.sum(axis=0)
    n_unknown = (~knowns).sum(axis=0)
    if isinstance(cond, AnyOf):
        value = n_true > 0
        return value, value | (n_unknown == 0)
    if isinstance(cond, AllOf):
        n_false = (knowns & ~values).sum(axis=0)
        value = (n_true == len(parts))
        return value, value | (n_false > 0)
    if isinstance(cond, AtLeast):
        value = n_true >= cond.k
        impossible = n_true + n_unknown < cond.k
        return value, value | impossible
    # Count: the count is known only when every part is known.
    known = n_unknown == 0
    value = OPERATORS[cond.op](n_true, cond.value) & known
    return value, known
