"""The per-school contacts file: who a family calls about a letter (the school's psychological teacher).

A CSV (UTF-8 or GB18030, as Chinese Excel saves it) or xlsx file with one row per school and the columns

============================  ==================================================
``school`` / ``学校``          the school's name, as in the exports
``name`` / ``联系人``          the psychological teacher (or 心理教师 / 姓名)
``phone`` / ``电话``           a telephone number (or 联系电话 / 手机)
============================  ==================================================

A row needs the school and a name or a phone. :func:`load_contacts` returns ``{school: contact text}``; the
text fills the letters' contact line (``write_school(contact=...)``). A school not in the file gets the default
line, which names the class teacher.

Examples
--------
>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "contacts.csv"
>>> _ = path.write_text("学校,联系人,电话\\n一中,王老师,0571-88886666\\n", encoding="utf-8")
>>> load_contacts(path)
{'一中': '心理教师 王老师，电话 0571-88886666'}
>>> load_contacts(path, lang="en")
{'一中': 'the psychological teacher, 王老师, telephone 0571-88886666'}
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import Union

import pandas as pd

from ._common import check_lang

__all__ = ["load_contacts", "ContactsError", "contact_text"]

_COLUMNS = {
    "school": ("school", "学校", "学校名称"),
    "name": ("name", "联系人", "心理教师", "姓名", "contact"),
    "phone": ("phone", "电话", "联系电话", "手机", "telephone", "tel"),
}
_MAX_BYTES = 5_000_000  # a contacts file is a few hundred rows: anything larger is not one


class ContactsError(ValueError):
    """A contacts file that cannot be used: every problem located by file, row and column, and what to write."""

    def __init__(self, path, problems: list[str]):
        self.path, self.problems = str(path), list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{path}: {len(self.problems)} problem(s) in the contacts file:\n{lines}")


def contact_text(name: str, phone: str, lang: str = "zh") -> str:
    """The contact line of a letter from a name and a phone (either may be empty, not both).

    Examples
    --------
    >>> contact_text("王老师", "", "zh"), contact_text("", "123", "en")
    ('心理教师 王老师', "the school's psychological counselling office, telephone 123")
    """
    name, phone = name.strip(), phone.strip()
    if lang == "zh":
        who = f"心理教师 {name}" if name else "学校心理辅导室"
        return f"{who}，电话 {phone}" if phone else who
    who = f"the psychological teacher, {name}" if name else "the school's psychological counselling office"
    return f"{who}, telephone {phone}" if phone else who


def _clean(value) -> str:
    if value is None or (isinstance(value, float) and value != value) or value is pd.NA:
        return ""
    if isinstance(value, float) and value.is_integer():  # a phone typed as a number in Excel
        value = int(value)
    text = unicodedata.normalize("NFC", str(value)).strip()
    return re.sub(r"^(\d+)\.0$", r"\1", text)


def _read(path: Path) -> pd.DataFrame:
    """The file as text cells, its first row holding the headers (:func:`psyscreen.ingest.read_table`: the
    encoding of a CSV detected as for an export; an xlsx read with calamine)."""
    from ..ingest import IngestError, read_table

    try:
        raw = read_table(path, header_row=1)
    except IngestError as exc:
        if "the table is empty" in str(exc):
            return pd.DataFrame()
        raise ContactsError(path, [f"{exc}: save it as CSV or xlsx with the columns school/学校, name/联系人, "
                                   "phone/电话"]) from None
    head = pd.DataFrame([list(raw.source_headers)], index=[raw.header_row])
    body = raw.frame.set_axis(range(raw.frame.shape[1]), axis=1)
    return pd.concat([head.set_axis(range(head.shape[1]), axis=1), body]).astype(object)


def load_contacts(path: Union[str, Path], *, lang: str = "zh") -> dict[str, str]:
    """Read a contacts file (see the module's text): ``{school: contact text}`` for the letters.

    Parameters
    ----------
    path : str or Path
        ``.csv`` or ``.xlsx``; the first row holds the headers (English or Chinese, any case).
    lang : {"zh", "en"}
        The language of the contact text.

    Raises
    ------
    ContactsError
        With each problem located (``row 4, column 电话: ...``): a missing column, a row without a school, a row
        with neither name nor phone, a school given twice with different contacts.
    FileNotFoundError
        When the file does not exist.
    """
    check_lang(lang)
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"contacts file {path} does not exist")
    if path.stat().st_size > _MAX_BYTES:
        raise ContactsError(path, [f"the file is larger than {_MAX_BYTES // 1_000_000} MB: a contacts file has one "
                                   "row per school (school, name, phone)"])
    try:
        table = _read(path)
    except ContactsError:
        raise
    except Exception as exc:
        raise ContactsError(path, [f"not readable as CSV or xlsx ({type(exc).__name__}): save it as CSV (UTF-8) "
                                   "or xlsx with the columns school/学校, name/联系人, phone/电话"]) from None
    if table.empty:
        raise ContactsError(path, ["the file is empty: write a header row (学校, 联系人, 电话) and one row per school"])
    headers = [_clean(h).casefold() for h in table.iloc[0].tolist()]
    where: dict[str, int] = {}
    for key, names in _COLUMNS.items():
        for j, h in enumerate(headers):
            if h in names and key not in where:
                where[key] = j
    problems = []
    if "school" not in where:
        problems.append(f"row 1: no school column (学校 / school); the headers are {[h for h in headers if h]}")
    if "name" not in where and "phone" not in where:
        problems.append("row 1: neither a name (联系人 / name) nor a phone (电话 / phone) column")
    if problems:
        raise ContactsError(path, problems)
    head = {k: str(table.iat[0, j]).strip() for k, j in where.items()}
    out: dict[str, str] = {}
    for r in range(1, len(table)):  # one row per school: a few hundred rows at most
        cell = {k: _clean(table.iat[r, j]) for k, j in where.items()}
        if not any(cell.values()):
            continue  # a blank row
        row = int(table.index[r])  # as the spreadsheet numbers it
        school, name, phone = cell["school"], cell.get("name", ""), cell.get("phone", "")
        if not school:
            problems.append(f"row {row}, column {head['school']}: no school name; write the school as in the exports")
            continue
        if not name and not phone:
            cols = " / ".join(head[k] for k in ("name", "phone") if k in head)
            problems.append(f"row {row}, column {cols}: neither a name nor a phone for {school}; write at least one")
            continue
        text = contact_text(name, phone, lang)
        if school in out and out[school] != text:
            problems.append(f"row {row}, column {head['school']}: {school} is given twice with different contacts; "
                            "keep one row per school")
            continue
        out[school] = text
    if problems:
        raise ContactsError(path, problems)
    return out
