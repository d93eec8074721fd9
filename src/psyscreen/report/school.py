"""One school's outputs: the psychological teacher's workbook, the class teachers' lists, the family letters."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd

from ..followup import parse_date, today_in_china
from ..io import Sheet, file_name, write_workbook
from ..protocol import INVALID_LEVEL, UNDECIDED_LEVEL
from ..wave import RunInfo
from ._columns import DROPPED_COLUMNS, instruments_for, readable_columns
from ._common import (HEADERS, PathLike, check_lang, get_protocol, identity_columns, level_infos, resolve_levels,
                      sex_label)
from .classes import class_labels, write_class_lists
from .followup_sheet import SHEET_NAMES as FOLLOWUP_SHEET, followup_renderer, followup_rows
from .letters import family_text, grade_label, write_letters

__all__ = ["write_school"]

_ITEM = re.compile(r"^[a-z][a-z0-9_]*\.\d+$")  # an item answer column (phq9.9): never written here
_BASE = ("student_key", "school", "grade", "class", "sex", "wave", "level", "level_rank", "reasons", "reasons_en",
         "reasons_zh",
         "critical", "retest", "careless_longstring", "careless_fast", "student_id", "name") + DROPPED_COLUMNS
_TEXT = {
    "zh": {"workbook": "{school} 学生心理健康筛查结果（心理教师用）", "confidential": "保密：仅供心理教师使用",
           "class": "{school} {cls} 关注名单（班主任用）", "yes": "是",
           "sheets": ("学生名单", "班级汇总", "等级与措施")},
    "en": {"workbook": "{school}: screening results (for the psychological teacher)",
           "confidential": "confidential: for the psychological teacher",
           "class": "{school} {cls}: students to attend to (for the class teacher)", "yes": "yes",
           "sheets": ("Students", "Classes", "Levels and actions")},
}


def _class_title(grade, cls: str, lang: str) -> str:
    """The class as a person names it: 初二 3班 / grade 8 class 3."""
    if lang == "zh":
        return f"{grade_label(grade, lang)} {cls}班" if cls.isdigit() else f"{grade_label(grade, lang)} {cls}"
    return f"grade {grade_label(grade, lang)} class {cls}"


def _opened_on(date: Optional[str]) -> dt.date:
    """The day the follow-up deadlines count from: the workbook's date (``date``, if it is one), else today."""
    if date:
        try:
            return parse_date(date)
        except ValueError:
            pass
    return today_in_china()


def write_school(students: pd.DataFrame, folder: PathLike, *, protocol, lang: str = "zh",
                 identities: Optional[pd.DataFrame] = None, template=None, letter_template=None,
                 contact: Optional[str] = None, date: Optional[str] = None, run: Optional[RunInfo] = None) -> dict:
    """Write one school's outputs into ``folder``.

    - ``<folder>/[<wave>_]<school>.xlsx``: the psychological teacher's workbook. Sheet 1 lists every student with
      id, name, grade, class, sex, level, critical flag, the reasons in words, every scale score, band and rule
      column and the quality flags -- headers and values in words of ``lang`` (``PHQ-9 总分 分级`` = 中重度, 是/否;
      see :mod:`psyscreen.report._columns`) -- sorted critical first, then by level (most urgent first), grade,
      class. Sheet 2 counts the levels per class. Sheet 3 states each level's suggested action. Sheet 4 (随访记录)
      is the follow-up record for a school without a connection: one row per flagged student to fill in, with
      drop-down lists and protected headers (:mod:`psyscreen.report.followup_sheet`), read back by
      ``psyscreen followup import``; a fifth sheet (填写选项) lists what each event needs.
    - ``<folder>/classes/[<wave>_]<grade>-<class>.xlsx``: one list per class for the class teacher: student id,
      name, level and suggested action of the students at a warning level or to be re-tested, and nothing else.
      File names are unique per class (:func:`psyscreen.io.unique_file_names`).
    - ``<folder>/letters/``: one printable letter per student at a warning level (rank 1..k) for the family, and
      one print file per class with all of them, one per page (names: :mod:`psyscreen.report.letters`; never
      the student id or key): the level and the protocol's text for families (never the staff action), the
      contact; no answers, scores or reasons.

    With ``run`` (:class:`psyscreen.wave.RunInfo`), every workbook names the county, the wave and what it is in its
    first line, every file name a person handles starts with the wave (``2026-09_``), and when the run is not
    complete its notice (the files not processed) is the first line of the workbook and of each class list, in
    red. Without ``run`` the names are as before (``<school>.xlsx``, ``classes/<grade>-<class>.xlsx``).

    Parameters
    ----------
    students : DataFrame
        One school's rows of ``students.parquet`` (``student_key``, ``school``, ``grade``, ``class``, ``sex``,
        scale columns, bands, ``level``, ``level_rank``, ``reasons``, ``critical``, ...). Item answer columns, if
        any, are ignored.
    folder : str or Path
        Created if needed.
    protocol : Protocol or str
        Gives the level names, colours and suggested actions.
    lang : {"zh", "en"}
    identities : DataFrame, optional
        ``student_key``, ``student_id``, ``name`` (kept at the school level). Without it the id shown is the
        ``student_key`` and names are blank.
    template, letter_template : optional
        The letter template: jinja2 source / :class:`jinja2.Template` (``template``) or a file path
        (``letter_template``). Default: the shipped template for ``lang``.
    contact : str, optional
        The letters' contact line (the school's psychological teacher and phone, e.g. from
        :func:`psyscreen.report.load_contacts`); default: the class teacher.
    date : str, optional
        The letters' date (default today).
    run : RunInfo, optional
        The wave, county and completeness of the run (titles, notice, file-name prefix).

    Returns
    -------
    dict
        ``{"workbook": Path, "classes": [Path, ...], "letters": [Path, ...], "class_letters": [Path, ...]}``.
    """
    check_lang(lang)
    if template is not None and letter_template is not None:
        raise ValueError("give the letter template either as template= or as letter_template=, not both")
    p = get_protocol(protocol)
    h = HEADERS[lang]
    if "student_key" not in students.columns:
        raise KeyError("the students frame needs a 'student_key' column")
    schools = students["school"].dropna().unique() if "school" in students.columns else []
    if len(schools) > 1:
        raise ValueError(f"write_school takes one school's students; got {len(schools)} schools")
    school = str(schools[0]) if len(schools) else "school"
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)

    lv = resolve_levels(students, p, lang)
    ids = identity_columns(students, identities)
    infos = level_infos(p, lang)
    colours = {i.label: i.colour for i in infos}
    crit = (students["critical"].fillna(False).astype(bool) if "critical" in students.columns
            else pd.Series(False, index=students.index))
    grade = students["grade"] if "grade" in students.columns else pd.Series(pd.NA, index=students.index)
    cls = students["class"].astype("string") if "class" in students.columns else pd.Series(pd.NA, index=students.index, dtype="string")

    t = _TEXT[lang]
    prefix = f"{run.prefix}_" if run is not None else ""
    alert = run.notice(lang) if run is not None else None

    # ---- the psychological teacher's workbook --------------------------------------------------
    reasons_col = "reasons_en" if lang == "en" and "reasons_en" in students.columns else "reasons"
    main = pd.DataFrame({
        h["student_id"]: ids["student_id"], h["name"]: ids["name"], h["grade"]: grade, h["class"]: cls,
        h["sex"]: sex_label(students["sex"], lang) if "sex" in students.columns else pd.NA,
        h["level"]: lv["level_label"], h["critical"]: np.where(crit, t["yes"], ""),
        h["reasons"]: students[reasons_col].astype("string") if reasons_col in students.columns else pd.NA,
    }, index=students.index)
    extra = [c for c in students.columns if c not in _BASE and not _ITEM.match(str(c))]
    dotted = [c for c in extra if "." in str(c)]
    for c in extra:
        if c not in dotted:
            main[h.get(c, c)] = students[c]
    if dotted:
        main = pd.concat([main, readable_columns(students, dotted, instruments_for(dotted, p.load_instruments()), lang)],
                         axis=1)
    for c in ("retest", "careless_longstring", "careless_fast"):
        if c in students.columns:
            main[h[c]] = np.where(students[c].fillna(False).astype(bool), t["yes"], "")
    order = pd.DataFrame({"c": ~crit.to_numpy(), "r": lv["sort_rank"].to_numpy(),
                          "g": pd.to_numeric(grade, errors="coerce").to_numpy(), "k": cls.fillna("").to_numpy(),
                          "i": ids["student_id"].fillna("").to_numpy()}, index=students.index)
    main = main.loc[order.sort_values(["c", "r", "g", "k", "i"], kind="stable").index].reset_index(drop=True)

    labels = [i.label for i in infos]
    by_class = pd.crosstab([grade.rename(h["grade"]), cls.rename(h["class"])],
                           pd.Categorical(lv["level_label"], categories=labels), dropna=False)
    by_class = by_class.loc[:, [c for c in labels if c in by_class.columns and (by_class[c].sum() > 0 or c in labels[:len(p.levels)])]]
    by_class.insert(0, h["n"], by_class.sum(axis=1) if by_class.shape[1] else 0)
    by_class[h["critical"]] = crit.groupby([grade, cls]).sum().reindex(by_class.index).fillna(0).astype(int).to_numpy()
    by_class = by_class[by_class[h["n"]] > 0].reset_index()
    by_class.columns = [str(c) for c in by_class.columns]
    legend = pd.DataFrame({h["level"]: [i.label for i in infos if i.flagged or i.action],
                           h["action"]: [i.action for i in infos if i.flagged or i.action]})
    note = f"{p.name.get(lang)} {p.version} · {t['confidential']}"
    if run is not None:
        note = f"{run.title(t['workbook'].format(school=school), lang)} · {note}"
    wave_of = (run.wave if run is not None
               else students["wave"].astype("string") if "wave" in students.columns else "")
    follow = followup_rows(students, ids, lv, protocol=p, school=school, wave=wave_of, opened_on=_opened_on(date))
    wave_words = run.wave if run is not None else "、".join(sorted(set(follow["wave"].dropna().astype(str))))
    workbook = write_workbook(folder / f"{prefix}{file_name(school)}.xlsx", [
        Sheet(t["sheets"][0], main, wrap=(h["reasons"],), level_column=h["level"], level_colours=colours, note=note,
              alert=alert),
        Sheet(t["sheets"][1], by_class),
        Sheet(t["sheets"][2], legend, wrap=(h["action"],), level_column=h["level"], level_colours=colours),
        Sheet(FOLLOWUP_SHEET[lang], pd.DataFrame(),
              render=followup_renderer(follow, lang=lang, school=school, wave=wave_words)),
    ])

    # ---- class teachers' lists -----------------------------------------------------------------
    class_label, class_files = class_labels(grade, cls)
    firsts = pd.DataFrame({"label": class_label, "grade": grade, "cls": cls.fillna("")}).drop_duplicates("label")
    class_title = {lab: _class_title(g, c, lang) for lab, g, c in firsts.itertuples(index=False)}
    notes = None
    if run is not None:
        notes = {lab: run.title(t["class"].format(school=school, cls=title), lang) for lab, title in class_title.items()}
    rows = pd.DataFrame({"class_label": class_label, "class_file": class_label.map(class_files),
                         "student_id": ids["student_id"], "name": ids["name"],
                         "level_label": lv["level_label"], "action": lv["action"], "sort_rank": lv["sort_rank"],
                         "listed": lv["flagged"] | lv["level_key"].isin([INVALID_LEVEL, UNDECIDED_LEVEL])},
                        index=students.index)
    classes = write_class_lists(rows, folder / "classes", lang=lang, level_colours=colours, prefix=prefix,
                                notes=notes, alert=alert)

    # ---- family letters ------------------------------------------------------------------------
    flagged = lv["flagged"].to_numpy()
    colour_of = {i.key: i.colour for i in infos}
    family = {lvl.code: family_text(lvl, len(p.levels), lang) for lvl in p.levels}
    wave = (pd.Series(run.wave, index=students.index) if run is not None
            else students["wave"].astype("string") if "wave" in students.columns else "")
    letter_rows = pd.DataFrame({
        "class_file": rows["class_file"], "class_title": class_label.map(class_title),
        "student_id": ids["student_id"], "name": ids["name"], "school": school,
        "grade": grade, "class": cls, "wave": wave,
        "level_label": lv["level_label"], "action": lv["level_key"].map(family), "colour": lv["level_key"].map(colour_of),
    }, index=students.index)
    if "seat" in students.columns:
        letter_rows["seat"] = students["seat"]
    letters = write_letters(letter_rows[flagged], folder / "letters", lang=lang,
                            template=template if template is not None else letter_template,
                            contact=contact, date=date, prefix=prefix, county=run.county if run is not None else None)
    return {"workbook": workbook, "classes": classes, "letters": letters["letters"],
            "class_letters": letters["classes"]}
