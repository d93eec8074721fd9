"""Notification letters for families: one printable HTML page per flagged student, from an editable template.

Templates are jinja2 with autoescaping on (a name such as ``<script>`` is printed as text) in a sandboxed
environment (a county-edited template cannot reach Python internals) and strict undefined variables (a typo in a
template stops with the variable's name instead of printing a blank). The default templates are
``psyscreen/report/templates/letter_zh.html.j2`` and ``letter_en.html.j2``; copy one, edit it, and pass its path
as ``letter_template``.

Variables a template can use: ``student_name``, ``school``, ``grade`` (in words, e.g. 初二), ``class_name``,
``level`` (the level's name), ``action`` (the protocol's suggested action for that level), ``contact``,
``date``, ``wave`` and ``colour`` (the level's colour). No answer, score or reason is passed to a template, so a
letter cannot disclose them.
"""

from __future__ import annotations

import datetime as _dt
from importlib import resources
from pathlib import Path
from typing import Mapping, Optional, Union

import jinja2
import numpy as np
import pandas as pd
from jinja2.sandbox import SandboxedEnvironment

from ..io import atomic_write, file_name, sync_folder
from ._common import PathLike, check_lang

__all__ = ["letter_template", "render_letter", "write_letters", "grade_label", "LETTER_FIELDS", "DEFAULT_CONTACT"]

#: The variables given to a letter template.
LETTER_FIELDS = ("student_name", "school", "grade", "class_name", "level", "action", "contact", "date", "wave", "colour")
DEFAULT_CONTACT = {"zh": "（心理教师姓名、联系电话）", "en": "(the psychological teacher's name and telephone)"}

_ZH_GRADES = {1: "一年级", 2: "二年级", 3: "三年级", 4: "四年级", 5: "五年级", 6: "六年级", 7: "初一", 8: "初二",
              9: "初三", 10: "高一", 11: "高二", 12: "高三", 13: "大一", 14: "大二", 15: "大三", 16: "大四"}


def grade_label(grade, lang: str = "zh") -> str:
    """Grade 1-12 (school) or 13-16 (college years 1-4) in words: 8 -> 初二 / "8"; 13 -> 大一 / "college year 1"."""
    try:
        g = int(grade)
    except (TypeError, ValueError):
        return "" if grade is None or grade is pd.NA else str(grade)
    if lang == "zh":
        return _ZH_GRADES.get(g, str(g))
    return f"college year {g - 12}" if g > 12 else str(g)


def _environment() -> SandboxedEnvironment:
    return SandboxedEnvironment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
                                lstrip_blocks=True, keep_trailing_newline=True)


def letter_template(template: Union[None, str, Path, jinja2.Template] = None, *, lang: str = "zh") -> jinja2.Template:
    """The letter template: the default for ``lang``, a template file (a path), or jinja2 source text.

    A ``str`` is read as a file path when such a file exists, otherwise as template source.
    """
    check_lang(lang)
    if isinstance(template, jinja2.Template):
        return template
    env = _environment()
    if template is None:
        src = (resources.files("psyscreen") / "report" / "templates" / f"letter_{lang}.html.j2").read_text("utf-8")
        return env.from_string(src)
    if isinstance(template, Path) or (isinstance(template, str) and "\n" not in template and len(template) < 4096
                                       and Path(template).is_file()):
        path = Path(template)
        if not path.is_file():
            raise FileNotFoundError(f"letter template {path} does not exist")
        return env.from_string(path.read_text("utf-8"))
    return env.from_string(str(template))


def render_letter(context: Mapping[str, object], template=None, *, lang: str = "zh") -> str:
    """Render one letter (HTML text) from ``context`` (the :data:`LETTER_FIELDS`).

    Examples
    --------
    >>> html = render_letter({"student_name": "<b>张三</b>", "school": "一中", "grade": "初二", "class_name": "3班",
    ...                       "level": "一级预警", "action": "当天面谈", "contact": "王老师", "date": "2026-09-20",
    ...                       "wave": "2026-09", "colour": "#d32f2f"})
    >>> "&lt;b&gt;张三&lt;/b&gt;" in html and "<b>张三" not in html
    True
    """
    tpl = letter_template(template, lang=lang)
    try:
        return tpl.render(**{k: context.get(k, "") for k in LETTER_FIELDS})
    except jinja2.UndefinedError as exc:
        raise ValueError(f"the letter template uses a variable that is not given: {exc.message}; "
                         f"available: {', '.join(LETTER_FIELDS)}") from None


def write_letters(rows: pd.DataFrame, folder: PathLike, *, lang: str = "zh", template=None,
                  contact: Optional[str] = None, date: Optional[str] = None) -> list[Path]:
    """Write ``<folder>/<student_key>.html`` for each row of ``rows``.

    ``rows`` carries ``student_key``, ``name``, ``school``, ``grade``, ``class``, ``wave`` (optional),
    ``level_label``, ``action`` and ``colour`` -- already restricted to flagged students by the caller.
    """
    check_lang(lang)
    tpl = letter_template(template, lang=lang)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    date = date or _dt.date.today().isoformat()
    contact = DEFAULT_CONTACT[lang] if contact is None else contact
    written = []

    def text(col: str) -> np.ndarray:
        if col not in rows.columns:
            return np.full(len(rows), "", dtype=object)
        return rows[col].astype("string").fillna("").to_numpy(dtype=object)

    keys, names, schools, classes, waves = (text(c) for c in ("student_key", "name", "school", "class", "wave"))
    levels, actions, colours = text("level_label"), text("action"), text("colour")
    grades = rows["grade"].to_numpy(dtype=object) if "grade" in rows.columns else np.full(len(rows), "", dtype=object)
    for i in range(len(rows)):  # one file per flagged student: the loop is over files written, not a computation
        cls = classes[i]
        ctx = {
            "student_name": names[i], "school": schools[i], "grade": grade_label(grades[i], lang),
            "class_name": (f"{cls}班" if lang == "zh" and cls.isdigit() else cls), "level": levels[i],
            "action": actions[i], "contact": contact, "date": date, "wave": waves[i], "colour": colours[i] or "#555555",
        }
        html = render_letter(ctx, tpl, lang=lang)
        path = folder / f"{file_name(keys[i])}.html"
        written.append(atomic_write(path, html.encode("utf-8"), sync_folder=False))
    sync_folder(folder)
    return written
