"""The follow-up sheet of a school workbook (随访记录): how a school without a connection records its follow-up.

One pre-filled row per flagged student of the school (the student id as the workbook shows it, grade, class, wave,
level, the deadline of the first action from the protocol's ``follow_up`` section), then the columns of an event
for the school to fill in: the entry number (记录序号), the kind of event (a drop-down list of
:data:`psyscreen.followup.EVENT_KINDS` in words), the date (a date cell with date validation), by whom, the outcome
(a drop-down list of every outcome word; the sheet 填写选项 says which words go with which kind), the reassessed
level (1 / 2 / 3 / 无), referred to, a note. A student with several events gets several rows: the school copies the
student's row into a blank row under the list and numbers it 2, 3, ...

The headers and the pre-filled cells are protected (sheet protection without a password: it prevents slips, not
intent); the cells to fill in are not. Every text written is made inert (:func:`psyscreen.privacy.safe_cell`).
``psyscreen followup import`` (:mod:`psyscreen.workspace.imports`) reads the sheet back by its headers, in either
language.

Examples
--------
>>> [c.zh for c in COLUMNS][:4]
['学校', '学号', '学生编码', '年级']
>>> header_codes(["学号", "Event", "日期", "whatever"])
{'student_id': 0, 'kind': 1, 'date': 2}
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Sequence

import pandas as pd

from .. import followup
from ..privacy import safe_cell

__all__ = ["COLUMNS", "FollowupColumn", "SHEET_NAMES", "CHOICES_SHEET_NAMES", "followup_rows", "followup_renderer",
           "header_codes", "BLANK_ROWS"]


@dataclass(frozen=True)
class FollowupColumn:
    """One column of the follow-up sheet: ``fixed`` columns are pre-filled and protected; the others are filled in."""

    code: str
    zh: str
    en: str
    fixed: bool
    width: float = 12


COLUMNS: tuple[FollowupColumn, ...] = (
    FollowupColumn("school", "学校", "School", True, 14),
    FollowupColumn("student_id", "学号", "Student id", True, 14),
    # the archive's key of the student, when it differs from the id shown (a pseudonymised screening)
    FollowupColumn("student_key", "学生编码", "Student key", True, 18),
    FollowupColumn("grade", "年级", "Grade", True, 6),
    FollowupColumn("class", "班级", "Class", True, 6),
    FollowupColumn("wave", "批次", "Wave", True, 9),
    FollowupColumn("level", "预警等级", "Warning level", True, 12),
    FollowupColumn("critical", "危机作答", "Critical answer", True, 8),
    FollowupColumn("deadline", "首次处置期限", "First action by", True, 12),
    FollowupColumn("entry", "记录序号", "Entry", False, 8),
    FollowupColumn("kind", "事件类型", "Event", False, 14),
    FollowupColumn("date", "日期", "Date", False, 12),
    FollowupColumn("by", "负责人", "By whom", False, 10),
    FollowupColumn("outcome", "结果", "Outcome", False, 22),
    FollowupColumn("reassessed_level", "再评估等级", "Reassessed level", False, 10),
    FollowupColumn("to", "转介机构", "Referred to", False, 18),
    FollowupColumn("note", "备注", "Note", False, 30),
)

#: The sheet's name, by language.
SHEET_NAMES = {"zh": "随访记录", "en": "Follow-up"}
#: The sheet of drop-down choices (which outcomes go with which event), by language.
CHOICES_SHEET_NAMES = {"zh": "填写选项", "en": "Choices"}
#: Blank rows under the pre-filled ones, for a school's further events (at least this many).
BLANK_ROWS = 200

_LEVEL_WORDS = {"zh": ["1", "2", "3", "无"], "en": ["1", "2", "3", "None"]}  # the import reads both

_TEXT = {
    "zh": {
        "title": "{school} 随访记录（无网络的学校填写后交县级中心；{wave}）· 保密",
        "instructions": [
            "填写说明：",
            "1. 每名预警学生已预填一行。发生一次跟进（复核、约谈、家校沟通、转介、结案等），就在该生的行填写一次：事件类型、日期、负责人，以及该事件需要的结果、再评估等级或转介机构。",
            "2. 同一学生有多次跟进：复制该生整行，粘贴到名单下方的空行，把“记录序号”改为 2、3……，再填写新的事件。同一学生的记录序号不能重复。",
            "3. 日期写成日期（如 2026-09-03）；不能填写将来的日期。“结果”按事件类型从下拉列表选择（见“填写选项”表）；约谈评估填写“再评估等级”（1、2、3 或 无）；转介填写“转介机构”和“结果”。",
            "4. 已交县级中心的记录如需更正，直接修改该行后再次提交：县级中心导入时记为更正，原记录保留。灰色单元格为预填内容，请勿修改。",
            "首次处置期限按方案的随访时限自本表生成之日计算，以县级中心系统中的期限为准。",
        ],
        "choices_title": "各事件类型需填写的内容与可选结果",
        "choices_head": ("事件类型", "需填写", "可选结果"),
        "kinds_head": "事件类型（下拉）", "outcomes_head": "结果（下拉）", "levels_head": "再评估等级（下拉）",
        "kind_prompt": "从列表选择事件类型", "date_prompt": "填写日期，如 2026-09-03",
        "date_error": "请填写日期，如 2026-09-03（不能是将来的日期）",
        "list_error": "请从下拉列表中选择", "outcome_prompt": "按事件类型选择（见“填写选项”表）",
        "entry_prompt": "同一学生的第几条记录：1、2、3……", "entry_error": "请填写正整数 1、2、3……",
        "yes": "是",
    },
    "en": {
        "title": "{school}: follow-up record (for schools without a connection; return to the county center; {wave}) "
                 "· confidential",
        "instructions": [
            "How to fill in:",
            "1. Every flagged student has a row. For each follow-up step (review, interview, family contact, referral, "
            "closing...), fill in the student's row: the event, the date, by whom, and what that event needs (outcome, "
            "reassessed level, referred to).",
            "2. Several events for one student: copy the student's whole row into a blank row under the list, change "
            "'Entry' to 2, 3, ..., and fill in the new event. A student's entry numbers must differ.",
            "3. Dates as dates (2026-09-03), never in the future. Choose the outcome from the list that fits the event "
            "(sheet 'Choices'); an interview needs the reassessed level (1, 2, 3 or none); a referral needs 'Referred "
            "to' and an outcome.",
            "4. To correct a row already sent, change it and send the file again: the county records a correction and "
            "keeps the earlier entry. Grey cells are pre-filled: do not change them.",
            "The first-action deadline counts from the day this workbook was made, by the protocol's follow-up rules; "
            "the county's record is authoritative.",
        ],
        "choices_title": "What each event needs, and its outcomes",
        "choices_head": ("Event", "Fill in", "Outcomes"),
        "kinds_head": "Events (list)", "outcomes_head": "Outcomes (list)", "levels_head": "Reassessed level (list)",
        "kind_prompt": "Choose the event from the list", "date_prompt": "A date, e.g. 2026-09-03",
        "date_error": "Write a date, e.g. 2026-09-03 (not in the future)",
        "list_error": "Choose from the list", "outcome_prompt": "Choose the outcome for the event (sheet 'Choices')",
        "entry_prompt": "The student's entry number: 1, 2, 3, ...", "entry_error": "Write a whole number 1, 2, 3, ...",
        "yes": "yes",
    },
}


def header_codes(headers: Sequence) -> dict[str, int]:
    """Column code -> position, for the headers of a follow-up sheet in either language (others ignored)."""
    words = {}
    for c in COLUMNS:
        for w in (c.zh, c.en, c.code):
            words[w.casefold()] = c.code
    out: dict[str, int] = {}
    for j, h in enumerate(headers):
        if h is None:
            continue
        code = words.get(str(h).strip().casefold())
        if code is not None and code not in out:
            out[code] = j
    return out


def outcome_words(lang: str) -> list[str]:
    """Every outcome in words of ``lang``, each once, in the order of :data:`psyscreen.followup.OUTCOMES`."""
    out: list[str] = []
    for group in followup.OUTCOMES.values():
        for zh, en in group.values():
            w = zh if lang == "zh" else en
            if w not in out:
                out.append(w)
    return out


def followup_rows(students: pd.DataFrame, ids: pd.DataFrame, levels: pd.DataFrame, *, protocol, school: str,
                  wave, opened_on: dt.date) -> pd.DataFrame:
    """The pre-filled rows: one per flagged student (critical first, then by level, grade, class, id).

    ``ids`` and ``levels`` are :func:`identity_columns` and :func:`resolve_levels` of ``students`` (same index).
    Columns: the codes of the fixed :data:`COLUMNS`; ``deadline`` is ``opened_on`` plus the protocol's days for the
    level (:meth:`psyscreen.protocol.Protocol.deadline_policy`); ``student_key`` only where it differs from the id.
    """
    flagged = levels["flagged"].to_numpy(dtype=bool)
    policy = protocol.deadline_policy()
    crit = (students["critical"].fillna(False).astype(bool) if "critical" in students.columns
            else pd.Series(False, index=students.index))
    rank = pd.to_numeric(levels["sort_rank"], errors="coerce")
    keys = students["student_key"].astype("string")
    sid = ids["student_id"].astype("string")
    grade = students["grade"] if "grade" in students.columns else pd.Series(pd.NA, index=students.index)
    cls = students["class"].astype("string") if "class" in students.columns else pd.Series(pd.NA, index=students.index)
    if isinstance(wave, pd.Series):
        wave_col = wave.astype("string")
    else:
        wave_col = pd.Series(wave, index=students.index, dtype="string")
    deadline = [opened_on + dt.timedelta(days=policy.days(int(r) if r == r else None, bool(c)))
                for r, c in zip(rank.tolist(), crit.tolist())]
    rows = pd.DataFrame({
        "school": school, "student_id": sid, "student_key": keys.where(keys != sid, pd.NA), "grade": grade,
        "class": cls, "wave": wave_col, "level": levels["level_label"], "critical": crit, "deadline": deadline,
        "_c": ~crit.to_numpy(dtype=bool), "_r": rank, "_g": pd.to_numeric(grade, errors="coerce"),
        "_k": cls.fillna(""), "_i": sid.fillna(""),
    }, index=students.index)[flagged]
    rows = rows.sort_values(["_c", "_r", "_g", "_k", "_i"], kind="stable")
    return rows.drop(columns=["_c", "_r", "_g", "_k", "_i"]).reset_index(drop=True)


def _value(v):
    if v is None or v is pd.NA:
        return None
    if isinstance(v, float) and v != v:
        return None
    if hasattr(v, "item") and not isinstance(v, (str, bytes)):
        v = v.item()
    return safe_cell(v) if isinstance(v, str) else v


def followup_renderer(rows: pd.DataFrame, *, lang: str = "zh", school: str = "", wave: str = "",
                      blank_rows: int = BLANK_ROWS):
    """The ``render`` of the follow-up :class:`psyscreen.io.Sheet`: writes the sheet and its choices sheet.

    Parameters
    ----------
    rows : DataFrame
        :func:`followup_rows`.
    lang : {"zh", "en"}
    school, wave : str
        For the title line.
    blank_rows : int
        Blank rows to fill in under the pre-filled ones (at least; more when the list is long).
    """
    t = _TEXT[lang]
    show_key = "student_key" in rows.columns and rows["student_key"].notna().any()
    columns = [c for c in COLUMNS if show_key or c.code != "student_key"]

    def render(wb, ws):
        fmt = {
            "title": wb.add_format({"bold": True, "font_size": 12, "locked": True}),
            "help": wb.add_format({"text_wrap": True, "valign": "top", "font_color": "#333333", "locked": True}),
            "head": wb.add_format({"bold": True, "bg_color": "#dfe7f1", "border": 1, "text_wrap": True,
                                   "valign": "top", "locked": True}),
            "fixed": wb.add_format({"bg_color": "#eeeeee", "valign": "top", "border": 1, "border_color": "#cccccc",
                                    "locked": True}),
            "fixed_date": wb.add_format({"bg_color": "#eeeeee", "valign": "top", "num_format": "yyyy-mm-dd",
                                         "border": 1, "border_color": "#cccccc", "locked": True}),
            "input": wb.add_format({"valign": "top", "locked": False, "border": 1, "border_color": "#cccccc"}),
            "input_wrap": wb.add_format({"valign": "top", "locked": False, "text_wrap": True, "border": 1,
                                         "border_color": "#cccccc"}),
            "input_date": wb.add_format({"valign": "top", "locked": False, "num_format": "yyyy-mm-dd", "border": 1,
                                         "border_color": "#cccccc"}),
        }
        choices_name = CHOICES_SHEET_NAMES[lang]
        choices = wb.add_worksheet(choices_name)
        ref = _write_choices(wb, choices, lang)

        ncol = len(columns)
        ws.write_string(0, 0, str(safe_cell(t["title"].format(school=school, wave=wave))), fmt["title"])
        r = 1
        for line in t["instructions"]:
            ws.merge_range(r, 0, r, ncol - 1, str(safe_cell(line)), fmt["help"])
            ws.set_row(r, 30 if len(line) > 60 else None)
            r += 1
        head = r + 1
        for j, c in enumerate(columns):
            ws.write_string(head, j, c.zh if lang == "zh" else c.en, fmt["head"])
            ws.set_column(j, j, c.width, fmt["input_wrap"] if c.code == "note" else
                          fmt["input_date"] if c.code == "date" else fmt["input"])
        first = head + 1
        n = len(rows)
        last = first + n + max(blank_rows, n) - 1
        yes = t["yes"]
        for i, values in enumerate(rows.to_dict("records")):
            for j, c in enumerate(columns):
                if c.fixed:
                    v = values.get(c.code)
                    if c.code == "critical":
                        v = yes if bool(v) else None
                    v = _value(v)
                    if isinstance(v, dt.date):
                        ws.write_datetime(first + i, j, dt.datetime.combine(v, dt.time()), fmt["fixed_date"])
                    elif v is None:
                        ws.write_blank(first + i, j, None, fmt["fixed"])
                    elif isinstance(v, str):
                        ws.write_string(first + i, j, v, fmt["fixed"])
                    else:
                        ws.write_number(first + i, j, v, fmt["fixed"])
                elif c.code == "entry":
                    ws.write_number(first + i, j, 1, fmt["input"])
                else:
                    ws.write_blank(first + i, j, None, fmt["input_date"] if c.code == "date" else
                                   fmt["input_wrap"] if c.code == "note" else fmt["input"])
        for i in range(first + n, last + 1):  # the blank rows: every cell may be filled in (a copied row pasted)
            for j, c in enumerate(columns):
                ws.write_blank(i, j, None, fmt["input_date"] if c.code in ("date", "deadline") else fmt["input"])
        col = {c.code: j for j, c in enumerate(columns)}
        _validate(ws, first, last, col, ref, t)
        ws.freeze_panes(first, col["entry"])
        ws.autofilter(head, 0, last, ncol - 1)
        ws.protect("", {"insert_rows": True, "delete_rows": False, "autofilter": True, "sort": False,
                        "format_columns": True, "format_rows": True, "select_locked_cells": True,
                        "select_unlocked_cells": True})
        ws.set_landscape()
        ws.fit_to_pages(1, 0)
        ws.repeat_rows(head)

    return render


def _write_choices(wb, ws, lang: str) -> dict[str, str]:
    """The choices sheet: what each kind needs and its outcomes, and the three drop-down lists. Returns the lists'
    ranges (absolute references, for data validation)."""
    t = _TEXT[lang]
    head = wb.add_format({"bold": True, "bg_color": "#dfe7f1", "border": 1, "text_wrap": True})
    wrap = wb.add_format({"text_wrap": True, "valign": "top"})
    ws.write_string(0, 0, t["choices_title"], wb.add_format({"bold": True}))
    for j, h in enumerate(t["choices_head"]):
        ws.write_string(1, j, h, head)
    r = 2
    for k in followup.EVENT_KINDS.values():
        needs = [f.zh if lang == "zh" else f.en for f in k.fields if f.required]
        outs = []
        for f in k.fields:
            if f.kind == "choice":
                outs += [zh if lang == "zh" else en for zh, en in followup.OUTCOMES[f.choices[0]].values()]
            if f.kind == "level":
                outs += _LEVEL_WORDS[lang]
        ws.write_string(r, 0, k.zh if lang == "zh" else k.en, wrap)
        ws.write_string(r, 1, ("、" if lang == "zh" else ", ").join(needs), wrap)
        ws.write_string(r, 2, ("、" if lang == "zh" else ", ").join(outs), wrap)
        r += 1
    ws.set_column(0, 0, 16)
    ws.set_column(1, 1, 30)
    ws.set_column(2, 2, 50)
    lists = {
        "kind": (t["kinds_head"], [k.zh if lang == "zh" else k.en for k in followup.EVENT_KINDS.values()]),
        "outcome": (t["outcomes_head"], outcome_words(lang)),
        "reassessed_level": (t["levels_head"], _LEVEL_WORDS[lang]),
    }
    ref = {}
    quoted = "'" + ws.get_name().replace("'", "''") + "'"
    for j, (code, (title, words)) in enumerate(lists.items(), start=4):
        ws.write_string(1, j, title, head)
        for i, w in enumerate(words):
            ws.write_string(2 + i, j, w)
        letter = chr(ord("A") + j)
        ref[code] = f"={quoted}!${letter}$3:${letter}${2 + len(words)}"
        ws.set_column(j, j, 24)
    ws.protect("", {"select_locked_cells": True, "select_unlocked_cells": True})
    return ref


def _validate(ws, first: int, last: int, col: dict, ref: dict, t: dict) -> None:
    """Drop-down lists, date and entry-number validation on the input columns."""
    for code in ("kind", "outcome", "reassessed_level"):
        prompt = {"kind": t["kind_prompt"], "outcome": t["outcome_prompt"]}.get(code)
        opts = {"validate": "list", "source": ref[code], "error_title": "", "error_message": t["list_error"],
                "ignore_blank": True}
        if prompt:
            opts["input_message"] = prompt
        ws.data_validation(first, col[code], last, col[code], opts)
    ws.data_validation(first, col["date"], last, col["date"], {
        "validate": "date", "criteria": "between", "minimum": dt.date(2000, 1, 1), "maximum": dt.date(2099, 12, 31),
        "input_message": t["date_prompt"], "error_message": t["date_error"], "ignore_blank": True})
    ws.data_validation(first, col["entry"], last, col["entry"], {
        "validate": "integer", "criteria": ">=", "value": 1, "input_message": t["entry_prompt"],
        "error_message": t["entry_error"], "ignore_blank": True})
