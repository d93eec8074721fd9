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

__all__ = ["reason_in", "reasons_in", "file_reason_in"]


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


# why a file was stopped, skipped or not read (the ledger's reason): said part by part ("; ", ". Suggested map")
_FILE_ZH = [
    (re.compile(r"(?P<inst>\w+): (?P<n>\d+) item column\(s\) not mapped \((?P<cols>.*)\)"),
     lambda m: f"{_inst(m)}：{m['n']} 个题目列未对应（{m['cols']}）"),
    (re.compile(r"Suggested map: (?P<path>.*) \(check it, then pass it with --map\)"),
     lambda m: f"建议的列对应表：{m['path']}（请核对后用 --map 传入）"),
    (re.compile(r"(?P<where>sheet '[^']*': )?(?P<n>\d+) column\(s\) whose map line is still marked 'check': "
                r"(?P<cols>.*)"),
     lambda m: f"{m['n']} 列的对应行仍标记为 check（待核对）：{m['cols']}"),
    (re.compile(r"the file could not be read or processed \((?P<kind>\w+)\); its students were not screened: "
                r"check the file \(open and save it again, or export it anew\)"),
     lambda m: f"文件无法读取或处理（{m['kind']}），其学生未被筛查：请检查该文件（打开后重新保存，或重新导出）"),
    (re.compile(r"not an export: a note or readme \(by its name\)"), lambda m: "不是导出文件：按文件名是说明或备注"),
    (re.compile(r"not an export: none of its first lines splits into 3 or more columns.*", re.S),
     lambda m: "不是导出文件：前几行都不能分成 3 列以上（制表符、逗号、分号或 |），是说明文字而不是表格"),
    (re.compile(r"not an export: (?P<what>.*) is not a table format psyscreen reads"),
     lambda m: f"不是导出文件：{m['what']} 不是 psyscreen 能读取的表格格式"),
]


def file_reason_in(text, lang: str = "zh"):
    """Why a file was stopped, skipped or not read, in ``lang`` (each known part said in Chinese).

    Examples
    --------
    >>> file_reason_in("phq9: 9 item column(s) not mapped (phq9.1, phq9.2). Suggested map: out/maps/a.map.csv "
    ...                "(check it, then pass it with --map)", "zh")
    'PHQ-9：9 个题目列未对应（phq9.1, phq9.2）。建议的列对应表：out/maps/a.map.csv（请核对后用 --map 传入）'
    """
    if lang != "zh" or not isinstance(text, str) or not text:
        return text
    head, sep, tail = text.partition(". Suggested map: ")
    parts = [_said(p, _FILE_ZH) for p in head.split("; ")]
    out = "；".join(parts)
    if sep:
        out += "。" + _said("Suggested map: " + tail, _FILE_ZH)
    return out


def _said(text: str, table) -> str:
    for pattern, say in table:
        m = pattern.fullmatch(text.strip())
        if m:
            return say(m)
    return text


def reason_in(text, lang: str = "zh"):
    """One reason in ``lang`` (``zh``: a known English form said in Chinese; ``en`` or an unknown form: as it is)."""
    if lang != "zh" or not isinstance(text, str):
        return text
    return _said(text, _ZH)


def reasons_in(reasons: pd.Series, lang: str = "zh") -> pd.Series:
    """:func:`reason_in` over a column, once per distinct text."""
    if lang != "zh" or not len(reasons):
        return reasons
    return map_unique(reasons, lambda t: reason_in(t, lang))
