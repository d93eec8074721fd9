"""The instruments' columns of a school workbook in words: headers and values a psychological teacher reads.

``students.parquet`` keeps the machine columns a program reads (``phq9.total``, ``phq9.total.band`` = ``minimal``,
``phq9.critical`` = ``True``, ``gad7.incomplete`` = ``total: 6 item(s) answered, needs 7 of 7 answered``). A
workbook a person reads shows the same columns as the instrument names them, in the chosen language:

=============================  =============================  ==========================================
column                         header (zh)                    values (zh)
=============================  =============================  ==========================================
``phq9.total``                 PHQ-9 总分                     the score
``phq9.total.band``            PHQ-9 总分 分级                the band's label (无或极轻微, 中重度 ...)
``phq9.total.answered``        PHQ-9 总分 作答题数            the count
``phq9.total.pr`` / ``.t``     PHQ-9 总分 百分等级 / T分数    the norm scores
``phq9.critical``              PHQ-9 危机作答                 是 / 否 (blank: not known)
``phq9.critical_items``        PHQ-9 危机题目                 第9题=2
``phq9.<rule>``                PHQ-9 <the rule's name>        是 / 否, or the category
``<id>.valid``                 <abbr> 答卷有效                是 / 否
``phq9.incomplete``            PHQ-9 缺失说明                 总分：作答 6 题，至少需作答 7 题（共 7 题），未计分
=============================  =============================  ==========================================

Labels are looked up once per column and once per distinct value (never per student).

Examples
--------
>>> import pandas as pd
>>> from psyscreen import load_instrument
>>> df = pd.DataFrame({"gad7.total.band": ["minimal", None], "gad7.incomplete": [None, "total: 6 item(s) answered, needs 7 of 7 answered"]})
>>> out = readable_columns(df, list(df.columns), {"gad7": load_instrument("gad7")}, "zh")
>>> list(out.columns)
['GAD-7 总分 分级', 'GAD-7 缺失说明']
>>> out.iloc[:, 0].tolist()[0], out.iloc[1, 1]
('无或极轻微', '总分：作答 6 题，至少需作答 7 题（共 7 题），未计分')
"""

from __future__ import annotations

import re
from typing import Iterable, Optional

import numpy as np
import pandas as pd

from .._text import map_unique
from ..instrument import Instrument, load_instrument

__all__ = ["readable_columns", "instruments_for", "yes_no", "incomplete_text", "DROPPED_COLUMNS"]

#: Columns of ``students.parquet`` a workbook never shows: ``level_name`` repeats the level column in words.
DROPPED_COLUMNS = ("level_name",)

_WORDS = {
    "zh": {"answered": "作答题数", "band": "分级", "pr": "百分等级", "t": "T分数", "z": "z分数", "tn": "标准化T分数",
           "critical": "危机作答", "critical_items": "危机题目", "valid": "答卷有效", "incomplete": "缺失说明",
           "yes": "是", "no": "否"},
    "en": {"answered": "items answered", "band": "band", "pr": "percentile rank", "t": "T score", "z": "z score",
           "tn": "normalised T score", "critical": "critical answer", "critical_items": "critical items",
           "valid": "valid sheet", "incomplete": "missing answers", "yes": "yes", "no": "no"},
}
_SUFFIXES = ("answered", "pr", "t", "z", "tn")  # derived columns of a scale (band is mapped to its labels)
_NEEDS = re.compile(r"(?P<scale>[a-z][a-z0-9_]*): (?P<got>\d+) item\(s\) answered, needs (?P<need>\d+) of (?P<n>\d+) answered")
_ALL_OF = re.compile(r"(?P<scale>[a-z][a-z0-9_]*): (?P<got>\d+) item\(s\) answered, all of (?P<of>.+) scored")
_UNDEFINED = re.compile(r"(?P<scale>[a-z][a-z0-9_]*): no answer >= (?P<thr>\S+), undefined")
_LEAD = re.compile(r"(?P<scale>[a-z][a-z0-9_]*): (?P<rest>.*)")
_ITEM = re.compile(r"(\d+)=([^,]*)")


def instruments_for(columns: Iterable[str], known: Optional[dict] = None) -> dict[str, Instrument]:
    """The instruments named by ``<id>.<...>`` columns: those in ``known``, then the shipped ones by id.

    A prefix that is no instrument (or one that cannot be loaded) is left out: its columns keep their names.
    """
    out = dict(known or {})
    for prefix in dict.fromkeys(str(c).split(".", 1)[0] for c in columns if "." in str(c)):
        if prefix in out:
            continue
        try:
            out[prefix] = load_instrument(prefix)
        except Exception:  # not an instrument id (or a broken definition): keep the column's own name
            continue
    return out


def yes_no(values: pd.Series, lang: str) -> pd.Series:
    """True / False as 是 / 否 (yes / no); missing stays blank.

    Examples
    --------
    >>> yes_no(pd.Series([True, False, None], dtype="boolean"), "zh").tolist()
    ['是', '否', None]
    """
    w = _WORDS[lang]
    b = values.astype("boolean")
    out = np.full(len(values), None, dtype=object)
    known = b.notna().to_numpy()
    truth = b.fillna(False).to_numpy(dtype=bool)
    out[known & truth] = w["yes"]
    out[known & ~truth] = w["no"]
    return pd.Series(out, index=values.index, dtype=object)


def _is_flag(values: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(values.dtype):
        return True
    if values.dtype == object:
        distinct = set(values.dropna().unique().tolist())
        return bool(distinct) and distinct <= {True, False}
    return False


def _scale_name(inst: Instrument, scale_id: str, lang: str) -> str:
    for sc in inst.scales:
        if sc.id == scale_id:
            return sc.name.get(lang)
    return scale_id


def incomplete_text(text: str, inst: Instrument, lang: str) -> str:
    """Why a scale has no score (scoring's ``<id>.incomplete`` text) in words of ``lang``, scale names included.

    Examples
    --------
    >>> from psyscreen import load_instrument
    >>> incomplete_text("total: 6 item(s) answered, needs 7 of 7 answered", load_instrument("gad7"), "en")
    'Total score: 6 item(s) answered, needs at least 7 of 7: not scored'
    """
    parts = []
    for part in str(text).split("; "):
        name = lambda m: _scale_name(inst, m.group("scale"), lang)  # noqa: E731
        if m := _NEEDS.fullmatch(part):
            parts.append(f"{name(m)}：作答 {m['got']} 题，至少需作答 {m['need']} 题（共 {m['n']} 题），未计分" if lang == "zh"
                         else f"{name(m)}: {m['got']} item(s) answered, needs at least {m['need']} of {m['n']}: not scored")
        elif m := _ALL_OF.fullmatch(part):
            of = [_scale_name(inst, s.strip(), lang) for s in m["of"].split(",")]
            parts.append(f"{name(m)}：需 {'、'.join(of)} 均已计分，未计分" if lang == "zh"
                         else f"{name(m)}: needs {', '.join(of)} all scored: not scored")
        elif m := _UNDEFINED.fullmatch(part):
            parts.append(f"{name(m)}：没有 ≥{m['thr']} 的作答，无法计算" if lang == "zh"
                         else f"{name(m)}: no answer >= {m['thr']}: undefined")
        elif m := _LEAD.fullmatch(part):  # a reason this module does not know: the scale named, the words kept
            parts.append(f"{name(m)}：{m['rest']}" if lang == "zh" else f"{name(m)}: {m['rest']}")
        else:
            parts.append(part)
    return "；".join(parts) if lang == "zh" else "; ".join(parts)


def _critical_items(text: str, lang: str) -> str:
    pairs = _ITEM.findall(str(text))
    if not pairs:
        return str(text)
    if lang == "zh":
        return "，".join(f"第{i}题={v}" for i, v in pairs)
    return ", ".join(f"item {i} = {v}" for i, v in pairs)


def _one(col: str, values: pd.Series, inst: Optional[Instrument], lang: str) -> tuple[str, pd.Series]:
    """The header and values of one instrument column."""
    w = _WORDS[lang]
    if inst is None:
        return col, (yes_no(values, lang) if _is_flag(values) else values)
    abbr = inst.abbreviation or inst.name.get(lang)
    rest = col.split(".", 1)[1]
    scales = {sc.id: sc for sc in inst.scales}
    rules = {r.id: r for r in inst.rules}
    head, _, suffix = rest.partition(".")
    if head in scales and suffix == "band":
        labels = {b.code: (b.zh if lang == "zh" else b.en) for b in scales[head].bands}
        text = values.astype("string")
        return f"{abbr} {scales[head].name.get(lang)} {w['band']}", map_unique(text, lambda v: labels.get(v, v))
    if head in scales and suffix in _SUFFIXES:
        return f"{abbr} {scales[head].name.get(lang)} {w[suffix]}", values
    if head in scales and not suffix:
        return f"{abbr} {scales[head].name.get(lang)}", values
    if rest == "critical_items":
        return f"{abbr} {w['critical_items']}", map_unique(values.astype("string"), lambda v: _critical_items(v, lang))
    if rest == "incomplete":
        return (f"{abbr} {w['incomplete']}",
                map_unique(values.astype("string"), lambda v: incomplete_text(v, inst, lang)))
    if rest in ("critical", "valid"):
        header = f"{abbr} {w[rest]}"
    elif rest in rules:
        header = f"{abbr} {rules[rest].name.get(lang)}"
    else:
        header = f"{abbr} {rest}"
    return header, (yes_no(values, lang) if _is_flag(values) else values)


def readable_columns(frame: pd.DataFrame, columns: list, instruments: dict, lang: str) -> pd.DataFrame:
    """``frame[columns]`` with headers and values in words of ``lang`` (see the module's table).

    Parameters
    ----------
    frame : DataFrame
        Rows of ``students.parquet``.
    columns : list of str
        The instrument columns to show (``<id>.<scale>[.<suffix>]``, ``<id>.<rule>`` ...), in order.
    instruments : dict
        ``{id: Instrument}`` (see :func:`instruments_for`); a column whose instrument is not there keeps its name
        (its True / False values are still written as words).
    lang : {"zh", "en"}

    Returns
    -------
    DataFrame
        Same index; one column per input column. Two columns that would get one header keep the second's machine
        name in brackets, so nothing is overwritten.
    """
    out = {}
    for col in columns:
        inst = instruments.get(str(col).split(".", 1)[0]) if "." in str(col) else None
        header, values = _one(str(col), frame[col], inst, lang)
        if header in out:
            header = f"{header} ({col})"
        out[header] = values
    return pd.DataFrame(out, index=frame.index)
