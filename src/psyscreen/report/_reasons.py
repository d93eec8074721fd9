"""The reasons of quarantined rows in the reader's language.

The reader and the scorer state why a row was set aside in English (``not a response code of phq9 item 4 (codes 0,
1, 2, 3; range 0-3)``): those texts stay in the machine tables. The workbooks a person fixes the data from
(``quarantine.xlsx``) show them in the chosen language: each known form is matched and said again in Chinese; a
text of an unknown form is kept as it is rather than guessed.

Examples
--------
>>> reason_in("not a response code of phq9 item 4 (codes 0, 1, 2, 3; range 0-3)", "zh")
'不是 PHQ-9 第4题的作答代码（可用代码 0, 1, 2, 3；范围 0-3）'
>>> reason_in("the row is empty", "en")
'the row is empty'
"""

from __future__ import annotations

import re
from functools import lru_cache

import pandas as pd

from .._text import map_unique

__all__ = ["reason_in", "reasons_in"]


@lru_cache(maxsize=None)
def _abbreviation(instrument_id: str) -> str:
    from ..instrument import load_instrument

    try:
        inst = load_instrument(instrument_id)
    except Exception:  # noqa: BLE001 - a label is a courtesy: an unknown id is shown as it is
        return instrument_id
    return inst.abbreviation or inst.id


def _inst(m: re.Match, group: str = "inst") -> str:
    return _abbreviation(m.group(group))


_ZH = [
    (re.compile(r"not a response code of (?P<inst>\w+) item (?P<n>\d+) \(codes (?P<codes>[^;)]*); "
                r"range (?P<range>[^)]*)\)"),
     lambda m: f"不是 {_inst(m)} 第{m['n']}题的作答代码（可用代码 {m['codes']}；范围 {m['range']}）"),
    (re.compile(r"not a response code of (?P<inst>\w+) item (?P<n>\d+) \(codes (?P<codes>[^)]*)\)"),
     lambda m: f"不是 {_inst(m)} 第{m['n']}题的作答代码（可用代码 {m['codes']}）"),
    (re.compile(r"neither a response code \((?P<codes>[^)]*)\) nor an option label of (?P<inst>\w+) item "
                r"(?P<n>\d+)"),
     lambda m: f"既不是作答代码（{m['codes']}），也不是 {_inst(m)} 第{m['n']}题的选项文字"),
    (re.compile(r"the row is empty"), lambda m: "该行为空"),
    (re.compile(r"the row lies below more than (?P<n>[\d,]+) empty rows after the table.*", re.S),
     lambda m: f"该行位于表格下方 {m['n']} 个以上空行之后，未作为学生读取：如属于本表，请删除其上方的空行后重新筛查；"
               "否则请删除该行"),
    (re.compile(r"no student id: the row cannot be routed"), lambda m: "缺少学号：无法分派到学校、班级"),
    (re.compile(r"no answer to any scored item: not screened"), lambda m: "所有计分题目均未作答：视为未参加筛查"),
]


def reason_in(text, lang: str = "zh"):
    """One reason in ``lang`` (``zh``: a known English form said in Chinese; ``en`` or an unknown form: as it is)."""
    if lang != "zh" or not isinstance(text, str):
        return text
    for pattern, say in _ZH:
        m = pattern.fullmatch(text.strip())
        if m:
            return say(m)
    return text


def reasons_in(reasons: pd.Series, lang: str = "zh") -> pd.Series:
    """:func:`reason_in` over a column, once per distinct text."""
    if lang != "zh" or not len(reasons):
        return reasons
    return map_unique(reasons, lambda t: reason_in(t, lang))
