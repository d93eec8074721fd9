"""Notification letters for families: one printable HTML page per flagged student, and one print file per class.

Templates are jinja2 with autoescaping on (a name such as ``<script>`` is printed as text) in a sandboxed
environment (a county-edited template cannot reach Python internals) and strict undefined variables (a typo in a
template stops with the variable's name instead of printing a blank). The default templates are
``psyscreen/report/templates/letter_zh.html.j2`` and ``letter_en.html.j2``; copy one, edit it, and pass its path
as ``letter_template``.

Variables a template can use: ``student_name``, ``school``, ``grade`` (in words, e.g. 初二), ``class_name``,
``level`` (the level's name), ``action`` (the text for families at that level: the protocol level's ``family``
text, or :func:`family_text`'s default -- never the staff action, which is an instruction to the school),
``contact`` (the school's psychological teacher and telephone from a contacts file, see
:func:`psyscreen.report.load_contacts`; "the class teacher" when none is known), ``date``, ``wave`` (as a person
writes it: 2026年9月 / September 2026), ``county`` (may be empty) and ``colour`` (the level's colour). No answer,
score or reason is passed to a template, so a letter cannot disclose them.

Files (:func:`write_letters`), in ``letters/`` of the school's folder, named for the person who prints them --
never by student id or pseudonymous key:

- ``[<wave>_]<grade>-<class>_<NN>.html``: one letter per student; ``NN`` is the student's place in the class's
  letters (seat order when the data has a ``seat`` column, else student id order), so the files sort as the class
  sits and match the pages of the class's print file. The student's name is in the letter, not in its file name:
  file names travel where a name must not (the manifest at county level, the temporary name in an error message
  when the disk is full).
- ``[<wave>_]<grade>-<class>_全班告知书.html`` (``_letters.html`` in English): every letter of the class in the same
  order, one per printed page (CSS ``break-after: page``), for the class teacher to print as one document.
"""

from __future__ import annotations

import datetime as _dt
import re
from html import escape
from importlib import resources
from pathlib import Path
from typing import Mapping, Optional, Union

import jinja2
import numpy as np
import pandas as pd
from jinja2.sandbox import SandboxedEnvironment

from ..io import atomic_write, sync_folder, unique_file_names
from ..wave import wave_label
from ._common import PathLike, check_lang

__all__ = ["letter_template", "render_letter", "write_letters", "grade_label", "family_text", "class_print_file",
           "LETTER_FIELDS", "DEFAULT_CONTACT"]

#: The variables given to a letter template.
LETTER_FIELDS = ("student_name", "school", "grade", "class_name", "level", "action", "contact", "date", "wave",
                 "county", "colour")
#: The contact named when a school has none in the contacts file: the class teacher, who hands the letter out.
DEFAULT_CONTACT = {"zh": "孩子的班主任", "en": "your child's class teacher"}
#: The print file of a class, after the class's name.
CLASS_FILE_SUFFIX = {"zh": "全班告知书", "en": "letters"}

#: Texts for families when a protocol's level has no ``family`` text (by the level's urgency in its protocol).
DEFAULT_FAMILY = {
    "urgent": {
        "zh": "学校心理教师将尽快（当天）与您联系，当面沟通孩子的情况。请您今天多陪伴孩子，留意孩子的言行，把家中的药品和其他"
              "可能伤害自己的物品妥善收好；建议尽快带孩子到精神卫生专业机构或医院心理科就诊评估。",
        "en": "The school's psychological teacher will contact you very soon (today) to talk with you in person about "
              "your child. Please stay close to your child today, pay attention to what they say and do, and put "
              "medicines and anything they could hurt themselves with out of reach; we advise you to take your child "
              "to a mental-health service or a hospital's psychology department for an assessment soon.",
    },
    "attention": {
        "zh": "学校心理教师将与孩子个别谈心，并与您联系，共同商量如何帮助孩子。请您多与孩子交流，留意孩子情绪和睡眠的变化；"
              "如您担心孩子的状况，可带孩子到医院心理科或精神卫生专业机构咨询。",
        "en": "The school's psychological teacher will talk with your child individually and contact you, so that the "
              "school and the family can agree how to help. Please talk with your child often and watch for changes "
              "in mood and sleep; if you are worried, you may consult a hospital's psychology department or a "
              "mental-health service.",
    },
    "watch": {
        "zh": "班主任和学校将在日常学习和生活中多关心孩子，并在下次筛查时再次了解孩子的情况。请您多陪伴、倾听孩子，帮助孩子"
              "保持规律的作息和适量的运动。",
        "en": "The class teacher and the school will pay a little more attention to your child in everyday school "
              "life, and the next screening will look again at how your child is doing. Please spend time with your "
              "child, listen, and help them keep regular sleep and some exercise.",
    },
}


def family_text(level, n_levels: int, lang: str = "zh") -> str:
    """What the family letter says at a protocol level: its ``family`` text, else a default by urgency.

    The default is "urgent" for rank 1 of a protocol with several levels, "watch" for the last rank and
    "attention" in between. The level's ``action`` (an instruction to the school's staff) is never used.

    Examples
    --------
    >>> from psyscreen import load_protocol
    >>> p = load_protocol("default")
    >>> family_text(p.level(1), 3).startswith("学校心理教师将尽快")
    True
    """
    if getattr(level, "family", None) is not None:
        return level.family.get(lang)
    kind = "urgent" if level.rank == 1 and n_levels > 1 else "watch" if level.rank == n_levels else "attention"
    return DEFAULT_FAMILY[kind][lang]

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


_HEAD = re.compile(r"<head[^>]*>(.*?)</head>", re.S | re.I)
_BODY = re.compile(r"<body[^>]*>(.*)</body>", re.S | re.I)
_TITLE = re.compile(r"<title>.*?</title>", re.S | re.I)
_PAGES = ("<style>\n  .letter { break-after: page; page-break-after: always; }\n"
          "  .letter:last-child { break-after: auto; page-break-after: auto; }\n</style>\n")


def class_print_file(letters: list[str], title: str, lang: str = "zh") -> str:
    """One HTML document of a class's letters (already rendered), one letter per printed page.

    The ``<head>`` (styles) of the first letter is kept, its ``<title>`` replaced by ``title`` (escaped); the
    ``<body>`` of each letter becomes a ``<section class="letter">`` followed by a page break
    (``break-after: page``). A template without ``<head>`` / ``<body>`` is taken whole as a letter's body.

    Examples
    --------
    >>> doc = class_print_file(["<html><head><title>a</title></head><body><p>1</p></body></html>",
    ...                         "<html><head><title>a</title></head><body><p>2</p></body></html>"], "8-1")
    >>> doc.count('<section class="letter">'), "break-after: page" in doc, "<title>8-1</title>" in doc
    (2, True, True)
    """
    head = _HEAD.search(letters[0]) if letters else None
    head_html = _TITLE.sub("", head.group(1)) if head else '<meta charset="utf-8">'
    bodies = []
    for html in letters:
        m = _BODY.search(html)
        bodies.append(f'<section class="letter">\n{m.group(1) if m else html}\n</section>')
    return (f'<!DOCTYPE html>\n<html lang="{"zh-CN" if lang == "zh" else "en"}">\n<head>\n'
            f"<title>{escape(title)}</title>\n{head_html}\n{_PAGES}</head>\n<body>\n" + "\n".join(bodies)
            + "\n</body>\n</html>\n")


def _text(rows: pd.DataFrame, col: str) -> np.ndarray:
    if col not in rows.columns:
        return np.full(len(rows), "", dtype=object)
    return rows[col].astype("string").fillna("").to_numpy(dtype=object)


def write_letters(rows: pd.DataFrame, folder: PathLike, *, lang: str = "zh", template=None,
                  contact: Optional[str] = None, date: Optional[str] = None, prefix: str = "",
                  county: Optional[str] = None) -> dict:
    """Write one letter per row and one print file per class into ``folder`` (names: see the module's text).

    Parameters
    ----------
    rows : DataFrame
        The flagged students (the caller restricts them): ``class_file`` (the class's unique file-name label,
        e.g. ``8-1``), ``class_title`` (the class as a person names it), ``student_id`` (order within the class;
        ``seat`` first when present), ``name``, ``school``, ``grade``, ``class``, ``wave``, ``level_label``,
        ``action`` (the text for families) and ``colour``. ``student_key`` is never used in a file name.
    folder : str or Path
        Created if needed.
    lang : {"zh", "en"}
    template : optional
        See :func:`letter_template`.
    contact : str, optional
        The contact line (default :data:`DEFAULT_CONTACT`: the class teacher).
    date : str, optional
        Default today.
    prefix : str
        Put before every file name (the wave: ``2026-09_``).
    county : str, optional
        For the letter's subtitle.

    Returns
    -------
    dict
        ``{"letters": [Path, ...] (in class and seat order), "classes": [Path, ...] (one per class)}``.
    """
    check_lang(lang)
    tpl = letter_template(template, lang=lang)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    date = date or _dt.date.today().isoformat()
    contact = contact.strip() if contact and contact.strip() else DEFAULT_CONTACT[lang]
    if not len(rows):
        return {"letters": [], "classes": []}
    # class, then seat (when known), then student id: one sort; places within the class by a group count
    order = [c for c in ("class_file", "seat", "student_id") if c in rows.columns]
    rows = rows.sort_values(order, kind="stable", key=lambda s: pd.to_numeric(s, errors="coerce")
                            if s.name == "seat" else s.astype("string")).reset_index(drop=True)
    cls_file = rows["class_file"].astype(str)
    place = rows.groupby("class_file", sort=False).cumcount().to_numpy() + 1
    width = cls_file.map(cls_file.value_counts()).astype(str).str.len().clip(lower=2).to_numpy()
    names = _text(rows, "name")
    nn = pd.Series([str(p).zfill(int(w)) for p, w in zip(place.tolist(), width.tolist())], dtype=object)
    labels = (cls_file + "_" + nn).tolist()  # unique: the class's file label is unique, the place within it too
    safe = unique_file_names(labels)

    schools, classes, waves = _text(rows, "school"), _text(rows, "class"), _text(rows, "wave")
    titles, levels, actions, colours = (_text(rows, c) for c in ("class_title", "level_label", "action", "colour"))
    grades = rows["grade"].to_numpy(dtype=object) if "grade" in rows.columns else np.full(len(rows), "", dtype=object)
    grade_words = {g: grade_label(g, lang) for g in pd.unique(grades)}
    wave_words = {w: wave_label(w, lang) if w else "" for w in pd.unique(waves)}
    written, class_files, bodies = [], [], []
    for i in range(len(rows)):  # one file per flagged student: the loop is over files written, not a computation
        cls = classes[i]
        ctx = {
            "student_name": names[i], "school": schools[i], "grade": grade_words[grades[i]],
            "class_name": (f"{cls}班" if lang == "zh" and cls.isdigit() else cls), "level": levels[i],
            "action": actions[i], "contact": contact, "date": date, "wave": wave_words[waves[i]],
            "county": county or "", "colour": colours[i] or "#555555",
        }
        html = render_letter(ctx, tpl, lang=lang)
        written.append(atomic_write(folder / f"{prefix}{safe[labels[i]]}.html", html.encode("utf-8"), sync_folder=False))
        bodies.append(html)
        if i + 1 == len(rows) or cls_file.iat[i + 1] != cls_file.iat[i]:  # the class's last letter: its print file
            title = f"{schools[i]} {titles[i]} {CLASS_FILE_SUFFIX[lang] if lang == 'zh' else 'family letters'}"
            doc = class_print_file(bodies, title.strip(), lang)
            path = folder / f"{prefix}{cls_file.iat[i]}_{CLASS_FILE_SUFFIX[lang]}.html"
            class_files.append(atomic_write(path, doc.encode("utf-8"), sync_folder=False))
            bodies = []
    sync_folder(folder)
    return {"letters": written, "classes": class_files}
