"""One school's outputs: the psychological teacher's workbook, the class teachers' lists, the family letters."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd

from ..io import Sheet, file_name, write_workbook
from ..protocol import INVALID_LEVEL, UNDECIDED_LEVEL
from ._common import (HEADERS, PathLike, check_lang, get_protocol, identity_columns, level_infos, resolve_levels,
                      sex_label)
from .classes import write_class_lists
from .letters import write_letters

__all__ = ["write_school"]

_ITEM = re.compile(r"^[a-z][a-z0-9_]*\.\d+$")  # an item answer column (phq9.9): never written here
_BASE = ("student_key", "school", "grade", "class", "sex", "wave", "level", "level_rank", "reasons", "reasons_en",
         "critical", "retest", "careless_longstring", "careless_fast", "student_id", "name")


def write_school(students: pd.DataFrame, folder: PathLike, *, protocol, lang: str = "zh",
                 identities: Optional[pd.DataFrame] = None, template=None, letter_template=None,
                 contact: Optional[str] = None, date: Optional[str] = None, run=None) -> dict:
    """Write one school's outputs into ``folder``.

    - ``<folder>/<school>.xlsx``: the psychological teacher's workbook. Sheet 1 lists every student with id, name,
      grade, class, sex, level, critical flag, the reasons in words, every scale score, band and rule column and
      the quality flags, sorted critical first, then by level (most urgent first), grade, class. Sheet 2 counts
      the levels per class. Sheet 3 states each level's suggested action.
    - ``<folder>/classes/<grade>-<class>.xlsx``: one list per class for the class teacher: student id, name,
      level and suggested action of the students at a warning level or to be re-tested, and nothing else.
    - ``<folder>/letters/<student_key>.html``: one printable letter per student at a warning level (rank 1..k)
      for the family, from the template (see :mod:`psyscreen.report.letters`): level and suggested action, a
      contact placeholder; no answers, scores or reasons.

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
    contact, date : str, optional
        Filled into the letters (default: a contact placeholder, today's date).

    Returns
    -------
    dict
        ``{"workbook": Path, "classes": [Path, ...], "letters": [Path, ...]}``.
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

    # ---- the psychological teacher's workbook --------------------------------------------------
    reasons_col = "reasons_en" if lang == "en" and "reasons_en" in students.columns else "reasons"
    main = pd.DataFrame({
        h["student_id"]: ids["student_id"], h["name"]: ids["name"], h["grade"]: grade, h["class"]: cls,
        h["sex"]: sex_label(students["sex"], lang) if "sex" in students.columns else pd.NA,
        h["level"]: lv["level_label"], h["critical"]: np.where(crit, "是" if lang == "zh" else "yes", ""),
        h["reasons"]: students[reasons_col].astype("string") if reasons_col in students.columns else pd.NA,
    }, index=students.index)
    extra = [c for c in students.columns if c not in _BASE and not _ITEM.match(str(c))]
    for c in extra:
        main[c] = students[c]
    for c in ("retest", "careless_longstring", "careless_fast"):
        if c in students.columns:
            main[h[c]] = np.where(students[c].fillna(False).astype(bool), "是" if lang == "zh" else "yes", "")
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
    title = {"zh": ("学生名单", "班级汇总", "等级与措施"), "en": ("Students", "Classes", "Levels and actions")}[lang]
    note = (f"{p.name.get(lang)} {p.version}" + (" · 保密：仅供心理教师使用" if lang == "zh"
                                                 else " · confidential: for the psychological teacher"))
    workbook = write_workbook(folder / f"{file_name(school)}.xlsx", [
        Sheet(title[0], main, wrap=(h["reasons"],), level_column=h["level"], level_colours=colours, note=note),
        Sheet(title[1], by_class),
        Sheet(title[2], legend, wrap=(h["action"],), level_column=h["level"], level_colours=colours),
    ])

    # ---- class teachers' lists -----------------------------------------------------------------
    rows = pd.DataFrame({"grade": grade, "class": cls, "student_id": ids["student_id"], "name": ids["name"],
                         "level_label": lv["level_label"], "action": lv["action"], "sort_rank": lv["sort_rank"],
                         "listed": lv["flagged"] | lv["level_key"].isin([INVALID_LEVEL, UNDECIDED_LEVEL])},
                        index=students.index)
    classes = write_class_lists(rows, folder / "classes", lang=lang, level_colours=colours)

    # ---- family letters ------------------------------------------------------------------------
    flagged = lv["flagged"].to_numpy()
    colour_of = {i.key: i.colour for i in infos}
    letter_rows = pd.DataFrame({
        "student_key": students["student_key"].astype("string"), "name": ids["name"], "school": school,
        "grade": grade, "class": cls, "wave": students["wave"].astype("string") if "wave" in students.columns else "",
        "level_label": lv["level_label"], "action": lv["action"], "colour": lv["level_key"].map(colour_of),
    }, index=students.index)[flagged]
    letters = write_letters(letter_rows, folder / "letters", lang=lang,
                            template=template if template is not None else letter_template,
                            contact=contact, date=date)
    return {"workbook": workbook, "classes": classes, "letters": letters}
