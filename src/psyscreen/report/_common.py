"""Shared pieces of the screening outputs: level labels, file names, bilingual headers, styled workbooks.

Every workbook is written with xlsxwriter (strings written as strings: never formulas, URLs or numbers), every
text cell first made inert with :func:`psyscreen.privacy.safe_cell`, and every file written atomically with
:func:`psyscreen.io.atomic_write` (a crash leaves the previous file or none, never half a file).
"""

from __future__ import annotations

import io
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

import numpy as np
import pandas as pd

from .._text import map_unique
from ..io import atomic_write
from ..privacy import safe_cell
from ..protocol import INVALID_LEVEL, NONE_LEVEL, UNDECIDED_LEVEL, Protocol, load_protocol

PathLike = Union[str, Path]

LANGS = ("zh", "en")

#: Column headers of the outputs, by language.
HEADERS = {
    "zh": {
        "school": "学校", "grade": "年级", "class": "班级", "sex": "性别", "student_id": "学号", "student_key": "学生编码",
        "name": "姓名", "level": "预警等级", "level_rank": "等级序号", "critical": "危机作答", "reasons": "原因",
        "action": "建议措施", "wave": "批次", "n": "筛查人数", "careless_longstring": "疑似规律作答",
        "careless_fast": "疑似作答过快", "retest": "需重测",
    },
    "en": {
        "school": "School", "grade": "Grade", "class": "Class", "sex": "Sex", "student_id": "Student id",
        "student_key": "Student key", "name": "Name", "level": "Warning level", "level_rank": "Level rank",
        "critical": "Critical answer", "reasons": "Reasons", "action": "Suggested action", "wave": "Wave",
        "n": "Screened", "careless_longstring": "Longstring answers", "careless_fast": "Too fast", "retest": "Re-test",
    },
}

_SPECIAL = {
    "zh": {NONE_LEVEL: "无预警", INVALID_LEVEL: "答卷无效，需重测", UNDECIDED_LEVEL: "未能判定（数据缺失）"},
    "en": {NONE_LEVEL: "no warning", INVALID_LEVEL: "invalid: re-test", UNDECIDED_LEVEL: "not decided (missing data)"},
}
_SPECIAL_ACTION = {
    "zh": {INVALID_LEVEL: "组织学生重新作答本次筛查问卷。", UNDECIDED_LEVEL: "核对缺失作答，必要时组织重测。"},
    "en": {INVALID_LEVEL: "Have the student answer the screening again.",
           UNDECIDED_LEVEL: "Check the missing answers; re-test if needed."},
}


def check_lang(lang: str) -> str:
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {LANGS}; got {lang!r}")
    return lang


def get_protocol(protocol) -> Protocol:
    return protocol if isinstance(protocol, Protocol) else load_protocol(protocol)


@dataclass(frozen=True)
class LevelInfo:
    """One value of the ``level`` column as the outputs show it."""

    key: str          # "level1" ..., "invalid: re-test", "none", "undecided"
    rank: float       # 1..k for warning levels, k + 1 invalid, k + 2 none, k + 3 undecided (sorting)
    label: str        # the level's name in the language
    action: str       # the suggested action ("" for none)
    colour: Optional[str]
    flagged: bool     # a warning level (rank 1..k)


def level_infos(protocol: Protocol, lang: str) -> list[LevelInfo]:
    """The protocol's levels (most urgent first), then invalid, none and undecided."""
    k = len(protocol.levels)
    out = [LevelInfo(lv.code, lv.rank, lv.name.get(lang), lv.action.get(lang), lv.colour, True)
           for lv in protocol.levels_by_rank]
    out.append(LevelInfo(INVALID_LEVEL, k + 1, _SPECIAL[lang][INVALID_LEVEL], _SPECIAL_ACTION[lang][INVALID_LEVEL],
                         "#9e9e9e", False))
    out.append(LevelInfo(NONE_LEVEL, k + 2, _SPECIAL[lang][NONE_LEVEL], "", None, False))
    out.append(LevelInfo(UNDECIDED_LEVEL, k + 3, _SPECIAL[lang][UNDECIDED_LEVEL], _SPECIAL_ACTION[lang][UNDECIDED_LEVEL],
                         "#bdbdbd", False))
    return out


def resolve_levels(students: pd.DataFrame, protocol: Protocol, lang: str) -> pd.DataFrame:
    """``level_key``, ``level_label``, ``action``, ``sort_rank`` and ``flagged`` for each student (same index).

    The ``level`` column may hold the protocol's level codes (as :func:`psyscreen.classify` returns them) or
    the level names in Chinese or English; ``none`` / ``invalid: re-test`` / NA are understood too. Where
    ``level`` is absent, ``level_rank`` is used.
    """
    infos = level_infos(protocol, lang)
    lookup: dict[str, LevelInfo] = {}
    for lv, info in zip(protocol.levels_by_rank, infos):
        for alias in (lv.code, lv.name.zh, lv.name.en):
            lookup[alias] = info
    by_key = {i.key: i for i in infos}
    for key in (INVALID_LEVEL, NONE_LEVEL, UNDECIDED_LEVEL):
        lookup[key] = by_key[key]
        lookup[_SPECIAL["zh"][key]] = by_key[key]
    if "level" in students.columns:
        text = students["level"].astype("string")
    elif "level_rank" in students.columns:
        rank_to_code = {lv.rank: lv.code for lv in protocol.levels}
        rank_to_code[len(protocol.levels) + 1] = NONE_LEVEL
        text = pd.to_numeric(students["level_rank"], errors="coerce").map(rank_to_code).astype("string")
    else:
        raise KeyError("the students frame needs a 'level' (or 'level_rank') column")
    keys = map_unique(text, lambda v: lookup[v].key if v in lookup else None)
    unknown = text.notna() & keys.isna()
    if unknown.any():
        raise ValueError(f"level value(s) {sorted(set(text[unknown]))} are not levels of protocol {protocol.id}")
    keys = keys.fillna(UNDECIDED_LEVEL).astype(str)
    table = pd.DataFrame([i.__dict__ for i in infos]).set_index("key")
    out = pd.DataFrame({"level_key": keys}, index=students.index)
    out["level_label"] = table["label"].reindex(keys).to_numpy()
    out["action"] = table["action"].reindex(keys).to_numpy()
    out["sort_rank"] = table["rank"].reindex(keys).to_numpy().astype(float)
    out["flagged"] = table["flagged"].reindex(keys).to_numpy().astype(bool)
    return out


_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]+')


def file_name(text) -> str:
    """A file-name-safe form of a school / class / key label (path separators and control characters replaced)."""
    s = unicodedata.normalize("NFC", str(text)).strip()
    s = _UNSAFE.sub("_", s).strip(". ") or "_"
    return s[:120]


def display_width(values) -> int:
    """Display width of the longest value (East Asian wide characters count two; missing values count zero).

    Examples
    --------
    >>> display_width(["ab", "初二", None, 3.5])
    4
    """
    best = 0
    for v in set(values):  # cell values repeat (levels, classes): each distinct one is measured once
        if v is None or (isinstance(v, float) and np.isnan(v)):
            continue
        s = str(v)
        w = len(s) if s.isascii() else sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in s)
        best = max(best, w)
    return best


def _cell(value):
    """One cell as a Python value xlsxwriter writes as it is: None for missing, text made inert."""
    if isinstance(value, str):
        return safe_cell(value)
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    return value


def _cells(series: pd.Series) -> list:
    """A column's cells as Python values (see :func:`_cell`), without a pandas operation per cell."""
    dtype = series.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "biu":  # numpy bool and integers: never missing, never text
        return series.tolist()
    if isinstance(dtype, np.dtype) and dtype.kind == "f":
        return [None if v != v else v for v in series.tolist()]
    return [_cell(v) for v in series.to_numpy(dtype=object, na_value=None).tolist()]


@dataclass
class Sheet:
    """One worksheet: a frame, and how to present it."""

    name: str
    frame: pd.DataFrame
    wrap: tuple = ()                  # columns wrapped (long text)
    percent: tuple = ()               # columns shown as percentages
    level_column: Optional[str] = None  # column coloured by level
    level_colours: Optional[dict] = None  # label -> colour
    note: Optional[str] = None        # a line above the table


def workbook_bytes(sheets: list[Sheet]) -> bytes:
    """An xlsx file (bytes) of styled sheets: bold coloured header, frozen header row, filters, readable widths.

    Every text cell and header is made inert (:func:`psyscreen.privacy.safe_cell`); strings are written as
    strings, never as formulas, URLs or numbers. The cells of a ``level_column`` are filled with their level's
    colour.
    """
    import xlsxwriter

    buffer = io.BytesIO()
    options = {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False,
               "nan_inf_to_errors": False, "in_memory": True}
    wb = xlsxwriter.Workbook(buffer, options)
    head = wb.add_format({"bold": True, "bg_color": "#dfe7f1", "border": 1, "text_wrap": True, "valign": "top"})
    wrap = wb.add_format({"text_wrap": True, "valign": "top"})
    top = wb.add_format({"valign": "top"})
    pct = wb.add_format({"num_format": "0.0%", "valign": "top"})
    note_fmt = wb.add_format({"italic": True, "font_color": "#555555"})
    level_fmts: dict[tuple, object] = {}
    used = set()
    for sh in sheets:
        name = file_name(sh.name).replace("[", "(").replace("]", ")")[:31] or "Sheet"
        while name.lower() in used:
            name = name[:28] + f"_{len(used)}"
        used.add(name.lower())
        ws = wb.add_worksheet(name)
        r0 = 0
        if sh.note:
            ws.write_string(0, 0, str(safe_cell(sh.note)), note_fmt)
            r0 = 1
        frame = sh.frame
        n, m = frame.shape
        for j, col in enumerate(frame.columns):
            header = str(safe_cell(str(col)))
            ws.write_string(r0, j, header, head)
            values = _cells(frame.iloc[:, j])
            fmt = wrap if col in sh.wrap else pct if col in sh.percent else top
            if col == sh.level_column and sh.level_colours:
                colours = {safe_cell(label): colour for label, colour in sh.level_colours.items()}
                for i, v in enumerate(values):
                    colour = colours.get(v)
                    if colour:
                        key = (colour, fmt is wrap)
                        if key not in level_fmts:
                            level_fmts[key] = wb.add_format({"bg_color": colour, "bold": True, "font_color": _ink(colour),
                                                             "valign": "top", "text_wrap": fmt is wrap})
                        ws.write(r0 + 1 + i, j, v, level_fmts[key])
                    else:
                        ws.write(r0 + 1 + i, j, v, fmt)
            elif values:
                ws.write_column(r0 + 1, j, values, fmt)
            width = min(max(display_width([header]) * 0.9, display_width(values[:5000])) + 2, 60)
            ws.set_column(j, j, max(width, 6))
        ws.freeze_panes(r0 + 1, 0)
        if m:
            ws.autofilter(r0, 0, r0 + max(n, 1), m - 1)
        ws.set_landscape()
        ws.fit_to_pages(1, 0)
        ws.repeat_rows(r0)
    wb.close()
    return buffer.getvalue()


def write_workbook(path: PathLike, sheets: list[Sheet], *, sync_folder: bool = True) -> Path:
    """Write :func:`workbook_bytes` of ``sheets`` to ``path`` atomically (see :func:`psyscreen.io.atomic_write`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(path, workbook_bytes(sheets), sync_folder=sync_folder)


def _ink(colour: str) -> str:
    """Black or white text, whichever reads better on ``colour`` (#rrggbb)."""
    if not colour.startswith("#") or len(colour) != 7:
        return "#000000"
    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return "#000000" if 0.299 * r + 0.587 * g + 0.114 * b > 150 else "#ffffff"


def identity_columns(students: pd.DataFrame, identities: Optional[pd.DataFrame]) -> pd.DataFrame:
    """``student_id`` and ``name`` for each student (same index), from ``identities`` joined on ``student_key``.

    Without identities the id is the ``student_key`` and the name is empty.
    """
    out = pd.DataFrame(index=students.index)
    keys = students["student_key"].astype("string")
    if identities is None:
        out["student_id"] = keys
        out["name"] = pd.Series(pd.NA, index=students.index, dtype="string")
        return out
    missing = [c for c in ("student_key", "student_id", "name") if c not in identities.columns]
    if missing:
        raise KeyError(f"identities need the column(s) {missing} (student_key, student_id, name)")
    ident = identities.drop_duplicates("student_key", keep="last").copy()
    ident["student_key"] = ident["student_key"].astype("string")
    ident = ident.set_index("student_key")
    out["student_id"] = ident["student_id"].astype("string").reindex(keys).to_numpy()
    out["student_id"] = out["student_id"].astype("string").fillna(keys)
    out["name"] = ident["name"].astype("string").reindex(keys).to_numpy()
    out["name"] = out["name"].astype("string")
    return out


def sex_label(sex: pd.Series, lang: str) -> pd.Series:
    m = {"zh": {"F": "女", "M": "男"}, "en": {"F": "F", "M": "M"}}[lang]
    return map_unique(sex.astype("string"), lambda v: m.get(v, v))
