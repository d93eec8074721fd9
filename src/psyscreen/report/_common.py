"""Shared pieces of the screening outputs: level labels, bilingual headers, identities.

Workbooks are written with :func:`psyscreen.io.write_workbook` (styled, every text cell inert, atomic).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

import pandas as pd

from .._text import map_unique
from ..protocol import INVALID_LEVEL, NONE_LEVEL, UNDECIDED_LEVEL, Protocol, load_protocol

PathLike = Union[str, Path]

LANGS = ("zh", "en")

#: Column headers of the outputs, by language.
HEADERS = {
    "zh": {
        "school": "学校", "grade": "年级", "class": "班级", "sex": "性别", "student_id": "学号", "student_key": "学生编码",
        "name": "姓名", "level": "预警等级", "level_rank": "等级序号", "critical": "危机作答", "reasons": "原因",
        "action": "建议措施", "wave": "批次", "n": "筛查人数", "careless_longstring": "疑似规律作答",
        "careless_fast": "疑似作答过快", "retest": "需重测", "seat": "座号",
    },
    "en": {
        "school": "School", "grade": "Grade", "class": "Class", "sex": "Sex", "student_id": "Student id",
        "student_key": "Student key", "name": "Name", "level": "Warning level", "level_rank": "Level rank",
        "critical": "Critical answer", "reasons": "Reasons", "action": "Suggested action", "wave": "Wave",
        "n": "Screened", "careless_longstring": "Longstring answers", "careless_fast": "Too fast", "retest": "Re-test",
        "seat": "Seat",
    },
}

_SPECIAL = {
    "zh": {NONE_LEVEL: "无预警", INVALID_LEVEL: "答卷无效，需重测", UNDECIDED_LEVEL: "未能判定（数据缺失）"},
    "en": {NONE_LEVEL: "no warning", INVALID_LEVEL: "invalid sheet: re-test", UNDECIDED_LEVEL: "not decided (missing data)"},
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
