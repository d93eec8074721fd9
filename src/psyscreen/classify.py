"""Warning levels: a protocol's rules applied to whole columns of scores, with the reasons in words.

:func:`classify` takes the output of :func:`psyscreen.score` (and, for rules on single answers, the answer
columns) and a protocol (:mod:`psyscreen.protocol`), and returns one row per student:

``level``
    an ordered categorical: the protocol's level codes, most urgent first, then ``"invalid: re-test"`` and
    ``"none"``. NA only where nothing could be decided because data are missing (the reasons say which).
``level_rank``
    nullable integer: 1 = most urgent, ..., k for the k levels, k + 1 for ``"none"``; NA for an invalid
    sheet or an undecided row. Sorting by it lists the students to see first.
``reasons`` / ``reasons_en``
    one string per student (Chinese / English), the reasons joined by ``"; "``, most urgent first; ``""``
    when nothing fired. One string column (not a list) so the frame writes to parquet and Excel as is;
    split on ``"; "`` to get the list.
``critical``
    bool: some instrument's critical item fired.
``retest``
    bool: some sheet of the protocol was invalid (its validity scale fired); its scores were not used.

How a level is decided, per student (vectorised: the only loops are over rules and instruments):

1. A sheet marked invalid (``<id>.valid == False``) is never scored: every reference to that instrument
   reads as missing, and the reasons say "invalid: re-test".
2. A critical answer (``<id>.critical``) sets the protocol's critical level (default the top level),
   whatever the totals; the reason names the item, the answer and the instrument's message. It also
   applies on an invalid sheet unless the protocol says ``on_invalid_sheet: retest``.
3. Every rule that holds puts the student at its level; the most urgent wins. Its reason is kept, and so is
   the reason of every other rule that holds, except a rule on the same score as a more urgent one already
   said (the bands of one scale: "PHQ-9 total 18 (>= 15 ...)" is said once, not also "(>= 10 ...)").
4. Nothing fired: ``"invalid: re-test"`` if a sheet was invalid, NA if some rule or critical item could not
   be evaluated because data are missing, ``"none"`` otherwise. A rule more urgent than the level reached
   that could not be evaluated is reported in the reasons ("not decided ...").

Examples
--------
>>> import pandas as pd
>>> from psyscreen import score
>>> answers = pd.DataFrame({**{f"phq9.{i}": [0, 2, 1] for i in range(1, 10)},
...                         **{f"gad7.{i}": [0, 2, 0] for i in range(1, 8)}})
>>> answers.loc[1, "phq9.9"], answers.loc[2, "phq9.9"] = 0, 2
>>> out = classify(score(answers, ["phq9", "gad7"]), "default")
>>> out["level"].tolist(), out["level_rank"].tolist()
(['none', 'level2', 'level1'], [4, 2, 1])
>>> print(out.loc[2, "reasons_en"].split("; ")[0][:40])
PHQ-9 item 9 = 2 (More than half the day
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Union

import numpy as np
import pandas as pd

from .instrument import Instrument
from .protocol import INVALID_LEVEL, NONE_LEVEL, Protocol, load_protocol, split_ref
from .rules import evaluate, references

__all__ = ["classify", "ClassifyError"]


class ClassifyError(ValueError):
    """Scores that cannot be classified with the protocol (columns absent, text where a number is needed)."""


def _name(inst: Instrument) -> str:
    return inst.abbreviation or inst.id


def _ref_words(ref: str, insts: dict, lang: str) -> str:
    """A score or answer reference in words: ``gad7.total`` -> ``GAD-7 总分``, ``phq9.9`` -> ``PHQ-9 第9题``."""
    iid, _, name = ref.partition(".")
    inst = insts.get(iid)
    if inst is None:
        return ref
    if name.isdigit():
        return f"{_name(inst)} 第{name}题" if lang == "zh" else f"{_name(inst)} item {name}"
    try:
        label = inst.scale(name).name.get(lang)
    except (KeyError, AttributeError):
        return ref
    return f"{_name(inst)} {label}" if label else ref


def _as_float(col: pd.Series) -> np.ndarray:
    """A score, flag or band column as floats (NaN = missing; a band by its position)."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        codes = col.cat.codes.to_numpy().astype(float)
        codes[codes < 0] = np.nan
        return codes
    if pd.api.types.is_bool_dtype(col.dtype) or pd.api.types.is_numeric_dtype(col.dtype):
        return col.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    num = pd.to_numeric(col, errors="coerce")
    if (num.isna() & col.notna()).any():
        raise ClassifyError(f"column {col.name!r} holds text; a protocol condition compares numbers")
    return num.to_numpy(dtype=float, na_value=np.nan)


def _append(acc: np.ndarray, mask: np.ndarray, text) -> None:
    """acc[mask] += "; " + text (text a str or an object array aligned with acc)."""
    if not mask.any():
        return
    t = text[mask] if isinstance(text, np.ndarray) else np.full(int(mask.sum()), text, dtype=object)
    cur = acc[mask]
    acc[mask] = np.where(cur == "", t, cur + "; " + t)


def _fmt(v: float):
    return int(v) if float(v).is_integer() else round(float(v), 3)


def _templated(template: str, values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The reason template filled per row; formatted once per distinct value (not per student)."""
    out = np.full(len(values), "", dtype=object)
    if "{" not in template:
        out[mask] = template
        return out
    vals = values[mask]
    known = ~np.isnan(vals)
    texts = np.full(len(vals), template.replace("{value}", "NA"), dtype=object)
    if known.any():
        uniq, inv = np.unique(vals[known], return_inverse=True)
        filled = np.array([template.format(value=_fmt(u)) for u in uniq], dtype=object)
        texts[known] = filled[inv]
    out[mask] = texts
    return out


def _critical_text(inst: Instrument, items: str, lang: str) -> str:
    """ "9=2" -> "PHQ-9 item 9 = 2 (More than half the days): <message>" (one text per distinct value)."""
    by_item = {c.item: c for c in inst.critical}
    parts = []
    for pair in str(items).split(","):
        num, _, ans = pair.partition("=")
        try:
            n, a = int(num), float(ans)
        except ValueError:
            continue
        label = next((o.zh if lang == "zh" else o.en for o in inst.response_set(inst.item(n).responses)
                      if o.code == a), None) if n in {it.number for it in inst.item_list} else None
        msg = by_item[n].message.get(lang) if n in by_item else ""
        a_txt = f"{_fmt(a)}" + (f"（{label}）" if lang == "zh" and label else f" ({label})" if label else "")
        head = f"{_name(inst)} 第{n}题 = {a_txt}" if lang == "zh" else f"{_name(inst)} item {n} = {a_txt}"
        parts.append(f"{head}{'：' if lang == 'zh' else ': '}{msg}" if msg else head)
    if parts:
        return "; ".join(parts)
    msgs = " / ".join(c.message.get(lang) for c in inst.critical)
    return f"{_name(inst)}：{msgs}" if lang == "zh" else f"{_name(inst)}: {msgs}"


def _first_said(said: dict, cond, fired: np.ndarray) -> np.ndarray:
    """Where a rule's reason is new: it fired and no more urgent rule on the same scores was said already.

    Rules are visited most urgent first; rules that read the same references (``phq9.total >= 15`` and
    ``phq9.total >= 10``) form one group, so a student reads "PHQ-9 total 18 (>= 15 ...)" once, not also
    "(>= 10 ...)". Rules on other references (another scale, or a scale together with an item) are their own.

    Examples
    --------
    >>> import numpy as np
    >>> from psyscreen.rules import parse_condition
    >>> said = {}
    >>> _first_said(said, parse_condition({"scale": "phq9.total", "ge": 15}), np.array([True, False])).tolist()
    [True, False]
    >>> _first_said(said, parse_condition({"scale": "phq9.total", "ge": 10}), np.array([True, True])).tolist()
    [False, True]
    """
    group = frozenset(references(cond))
    before = said.get(group)
    new = fired if before is None else fired & ~before
    said[group] = fired if before is None else before | fired
    return new


def classify(scores: pd.DataFrame, protocol: Union[str, Path, Protocol], *,
             answers: Optional[pd.DataFrame] = None) -> pd.DataFrame:
    """Warning level, reasons and critical flag for every student, by a screening protocol.

    Parameters
    ----------
    scores : DataFrame
        The output of :func:`psyscreen.score` for the protocol's instruments (columns ``<id>.<scale>``,
        ``<id>.<rule>``, ``<id>.critical``, ``<id>.critical_items``, ``<id>.valid``). It may also hold the
        answer columns ``<id>.<item>``.
    protocol : str, Path or Protocol
        A shipped protocol id (``"default"``), a YAML path, or a loaded :class:`~psyscreen.protocol.Protocol`.
    answers : DataFrame, optional
        The answer columns, for rules on single items (``{item: phq9.9, ge: 1}``) when ``scores`` lacks them.
        Same index as ``scores``.

    Returns
    -------
    DataFrame
        Same index as ``scores``: ``level`` (ordered categorical), ``level_rank`` (Int64, 1 = most urgent,
        k + 1 = none, NA for invalid / undecided), ``reasons`` (zh) and ``reasons_en`` (strings joined by
        ``"; "``), ``critical`` (bool), ``retest`` (bool).

    Raises
    ------
    ClassifyError
        A column the protocol needs is absent, or holds text.
    ProtocolError
        The protocol does not load.

    Notes
    -----
    No R equivalent: the rules are the protocol's, each citing its published source.

    Examples
    --------
    >>> import pandas as pd
    >>> scores = pd.DataFrame({"phq9.total": [3.0, 12.0], "phq9.critical": [False, False],
    ...                        "phq9.critical_items": [None, None], "gad7.total": [2.0, float("nan")]})
    >>> out = classify(scores, "default")
    >>> out["level"].astype(str).tolist()
    ['none', 'level3']
    """
    p = load_protocol(protocol)
    insts = p.load_instruments()
    n = len(scores)
    if answers is not None and not answers.index.equals(scores.index):
        raise ClassifyError("answers must have the same index as scores")
    levels = p.levels_by_rank
    k = len(levels)

    def column(name: str, needed_for: str) -> pd.Series:
        if name in scores.columns:
            return scores[name]
        if answers is not None and name in answers.columns:
            return answers[name]
        hint = (" (rules on single answers need the answer columns: pass answers=)" if needed_for == "item"
                else " (score the answers with psyscreen.score for every instrument of the protocol)")
        raise ClassifyError(f"protocol {p.id}: column {name!r} is absent{hint}")

    # 1. invalid sheets
    invalid: dict[str, np.ndarray] = {}
    any_invalid = np.zeros(n, dtype=bool)
    for iid, inst in insts.items():
        if inst.validity is not None and f"{iid}.valid" in scores.columns:
            v = _as_float(scores[f"{iid}.valid"])
            invalid[iid] = v == 0
            any_invalid |= invalid[iid]
    reasons = {"zh": np.full(n, "", dtype=object), "en": np.full(n, "", dtype=object)}

    cache: dict[tuple[str, str], np.ndarray] = {}

    def resolve(kind: str, ref: str) -> np.ndarray:
        if (kind, ref) not in cache:
            iid, name = split_ref(ref)
            x = _as_float(column(ref, kind)).copy()
            if iid in invalid and name != "valid":
                x[invalid[iid]] = np.nan  # an invalid sheet is never scored
            cache[(kind, ref)] = x
        return cache[(kind, ref)]

    best = np.full(n, np.inf)
    critical = np.zeros(n, dtype=bool)
    pending: list[tuple[int, np.ndarray, str, str]] = []  # (rank, unknown mask, zh, en) for "not decided"

    # 2. critical answers
    if p.critical.enabled:
        crit_rank = p.level(p.critical.level).rank
        ids = p.critical.instruments or [i for i in insts if insts[i].critical]
        for iid in ids:
            inst = insts[iid]
            c = _as_float(column(f"{iid}.critical", "rule"))
            fired = c == 1
            unknown = np.isnan(c)
            if p.critical.on_invalid_sheet == "retest" and iid in invalid:
                fired &= ~invalid[iid]
                unknown |= invalid[iid]
            critical |= fired
            best[fired] = np.minimum(best[fired], crit_rank)
            items_col = scores.get(f"{iid}.critical_items")
            if fired.any():
                keys = (items_col.astype(object).where(items_col.notna(), "").to_numpy()
                        if items_col is not None else np.full(n, "", dtype=object))[fired]
                uniq, inv = np.unique(keys.astype(str), return_inverse=True)
                for lang in ("zh", "en"):
                    texts = np.array([_critical_text(inst, u, lang) for u in uniq], dtype=object)[inv]
                    full = np.full(n, "", dtype=object)
                    full[fired] = texts
                    _append(reasons[lang], fired, full)
            pending.append((crit_rank, unknown,
                            f"无法判定：{_name(inst)} 危机条目未作答", f"not decided: {_name(inst)} critical item(s) not answered"))

    # 3. rules, most urgent first (reasons then read most urgent first); of the rules reading the same
    #    scores (the bands of one scale: PHQ-9 >= 15 and >= 10), only the most urgent that fired is said
    order = sorted(p.rule_conditions(), key=lambda rc: p.level(rc[0].level).rank)
    said: dict[frozenset, np.ndarray] = {}
    for rule, cond in order:
        rank = p.level(rule.level).rank
        value, known = evaluate(cond, resolve)
        first = resolve(*references(cond)[0])
        new = _first_said(said, cond, value)
        for lang in ("zh", "en"):
            _append(reasons[lang], new, _templated(rule.reason.get(lang), first, new))
        best[value] = np.minimum(best[value], rank)
        refs = list(dict.fromkeys(r for _, r in references(cond)))
        zh = "、".join(_ref_words(r, insts, "zh") for r in refs)
        en = ", ".join(_ref_words(r, insts, "en") for r in refs)
        pending.append((rank, ~known, f"无法判定：{zh} 缺失（作答不全）或答卷无效", f"not decided: {en} missing "
                        "(items not answered) or invalid"))

    # 4. what could not be decided, where it matters (a more urgent level than the one reached)
    #    (said once: the rules reading the same scores give the same words)
    undecided = np.zeros(n, dtype=bool)
    told: dict[str, np.ndarray] = {}
    for rank, unknown, zh, en in sorted(pending, key=lambda t: t[0]):
        matters = unknown & (rank < best) & ~any_invalid  # on an invalid sheet the re-test reason says it
        undecided |= matters
        if zh in told:
            matters = matters & ~told[zh]
            told[zh] |= matters
        else:
            told[zh] = matters.copy()
        _append(reasons["zh"], matters, zh)
        _append(reasons["en"], matters, en)
    for iid, bad in invalid.items():
        inst = insts[iid]
        msg = inst.validity.message
        _append(reasons["zh"], bad, f"{_name(inst)}：{p.invalid.reason.zh}（{msg.zh}）")
        _append(reasons["en"], bad, f"{_name(inst)}: {p.invalid.reason.en} ({msg.en})")

    reached = np.isfinite(best)
    codes = np.full(n, -1, dtype=np.int64)
    cats = p.categories
    codes[reached] = best[reached].astype(np.int64) - 1
    codes[~reached & any_invalid] = cats.index(INVALID_LEVEL)
    codes[~reached & ~any_invalid & ~undecided] = cats.index(NONE_LEVEL)
    rank = np.where(reached, best, np.where(codes == cats.index(NONE_LEVEL), k + 1, np.nan))
    out = pd.DataFrame({
        "level": pd.Categorical.from_codes(codes, categories=cats, ordered=True),
        "level_rank": pd.array(np.where(np.isnan(rank), None, rank), dtype="Int64"),
        "reasons": pd.array(reasons["zh"], dtype="string"),
        "reasons_en": pd.array(reasons["en"], dtype="string"),
        "critical": critical,
        "retest": any_invalid,
    }, index=scores.index)
    assert len(levels) == cats.index(INVALID_LEVEL)
    return out
