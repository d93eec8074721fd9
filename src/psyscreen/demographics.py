"""Demographic fields of an export, normalised: grade, sex, school, class and the student id.

Schools write the same fact many ways (``初一``, ``七年级``, ``7``, ``Grade 7``; ``男``, ``M``, ``1``). The
functions here turn each field into one coding, once per *distinct* value (``Series.map``), never per row:

``grade``
    nullable ``Int64``: **1-12 for school grades** (primary 1-6, junior 初一..初三 = 7-9, senior 高一..高三 =
    10-12) and **13-16 for college years** (大一..大四). Chinese numerals, full-width digits, ``年级``/``级``
    suffixes and ``Grade 7`` / ``G7`` are understood. Anything else (an enrolment year such as ``2024级``, a
    typo) is NA: never guessed.
``sex``
    text ``"F"`` / ``"M"``: 女 / 女性 / F / female / girl and 男 / 男性 / M / male / boy, and the national code
    (GB/T 2261.1-2003: 1 = male, 2 = female). Anything else is NA.
``school``, ``class``
    NFKC (full-width digits and letters become ASCII), outer spaces removed and inner runs of spaces
    collapsed; a class written as a number (``3``, ``03``, ``３班``, ``(3)班``, ``3 班``) becomes ``"3"``.
``student_id``
    text, NFKC and trimmed: leading zeros are kept (the id is never a number).

Examples
--------
>>> import pandas as pd
>>> normalise_grade(pd.Series(["初一", "高二", "四年级", "大一", "７", "Grade 9", "2024级"])).tolist()
[7, 11, 4, 13, 7, 9, <NA>]
>>> normalise_sex(pd.Series(["男", "F", "2", "female", "?"])).tolist()
['M', 'F', 'F', 'F', <NA>]
>>> normalise_class(pd.Series(["３班", " (03)班", "实验班"])).tolist()
['3', '3', '实验班']
"""

from __future__ import annotations

import re
import unicodedata
from typing import Optional

import pandas as pd

from ._text import map_unique, text_key, tidy_text

__all__ = [
    "normalise_grade",
    "normalise_sex",
    "normalise_text",
    "normalise_class",
    "normalise_id",
    "normalise_demographics",
    "GRADE_CODING",
]

#: How grades are coded (documentation, also written to the manifest).
GRADE_CODING = "1-12 school grades (初一=7, 高一=10), 13-16 college years (大一=13 ... 大四=16)"

_ZH_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10,
              "两": 2}


def _zh_number(text: str) -> Optional[int]:
    """``"十二"`` -> 12, ``"七"`` -> 7, ``"12"`` -> 12; None when not a number."""
    if text.isdigit():
        return int(text)
    if not text or any(ch not in _ZH_DIGITS for ch in text):
        return None
    if text == "十":
        return 10
    if text.startswith("十"):
        return 10 + _ZH_DIGITS[text[1:]] if len(text) == 2 else None
    if len(text) == 1:
        return _ZH_DIGITS[text]
    if len(text) == 2 and text[1] == "十":
        return _ZH_DIGITS[text[0]] * 10
    if len(text) == 3 and text[1] == "十":
        return _ZH_DIGITS[text[0]] * 10 + _ZH_DIGITS[text[2]]
    return None


_STAGE_OFFSET = {"小学": 0, "小": 0, "初中": 6, "初": 6, "高中": 9, "高": 9, "大学": 12, "大": 12,
                 "七年级": None}
_STAGE_RE = re.compile(r"^(小学|小|初中|初|高中|高|大学|大)([一二三四五六七八九十\d]{1,2})(年级|年|级)?$")
_GRADE_RE = re.compile(r"^(?:grade|g|year|y|gr\.?)?([一二三四五六七八九十\d]{1,3})(?:年级|年|级|th|st|nd|rd)?$")
_STAGE_MAX = {0: 6, 6: 3, 9: 3, 12: 4}


def _grade_of(text) -> Optional[int]:
    t = text_key(text)
    if t == "":
        return None
    m = _STAGE_RE.match(t)
    if m:
        off = _STAGE_OFFSET[m.group(1)]
        n = _zh_number(m.group(2))
        if n is None or not 1 <= n <= _STAGE_MAX[off]:
            return None
        return off + n
    m = _GRADE_RE.match(t)
    if m:
        n = _zh_number(m.group(1))
        if n is not None and 1 <= n <= 16:
            return n
    if t in ("研一", "研究生"):
        return None
    return None


def _map_unique(s: pd.Series, fn) -> pd.Series:
    """Apply ``fn`` once per distinct non-missing value of ``s`` read as text."""
    return map_unique(s.astype("string"), fn)


def normalise_grade(s: pd.Series) -> pd.Series:
    """Grades as ``Int64``: 1-12 school grades, 13-16 college years (see :data:`GRADE_CODING`).

    Parameters
    ----------
    s : Series
        Grade as written in the export (text or numbers).

    Returns
    -------
    Series
        ``Int64``, NA where the text is not a grade.

    Examples
    --------
    >>> import pandas as pd
    >>> normalise_grade(pd.Series(["初三", "高一", "六年级", "十二年级", "大四", None])).tolist()
    [9, 10, 6, 12, 16, <NA>]
    """
    out = _map_unique(s, _grade_of)
    return pd.Series(pd.array(out.astype(object).where(out.notna(), None).tolist(), dtype="Int64"),
                     index=s.index, name=s.name)


_SEX = {"男": "M", "男性": "M", "男生": "M", "m": "M", "male": "M", "boy": "M", "1": "M",
        "女": "F", "女性": "F", "女生": "F", "f": "F", "female": "F", "girl": "F", "2": "F"}


def normalise_sex(s: pd.Series) -> pd.Series:
    """Sex as ``"F"`` / ``"M"`` (text), NA otherwise; codes follow GB/T 2261.1 (1 = male, 2 = female).

    Examples
    --------
    >>> import pandas as pd
    >>> normalise_sex(pd.Series(["女", "Ｍ", "1", "男性", "9"])).tolist()
    ['F', 'M', 'M', 'M', <NA>]
    """
    return _map_unique(s, lambda v: _SEX.get(text_key(v))).astype("string")


def normalise_text(s: pd.Series) -> pd.Series:
    """NFKC, outer spaces removed, inner whitespace runs made one space; empty -> NA.

    Examples
    --------
    >>> import pandas as pd
    >>> normalise_text(pd.Series(["  实验 中学 ", "　", "ＡＢ"])).tolist()
    ['实验 中学', <NA>, 'AB']
    """
    def one(v):
        t = tidy_text(v)
        return t or None

    return _map_unique(s, one).astype("string")


_CLASS_RE = re.compile(r"^[(（]?0*(\d{1,3})[)）]?(班)?$")


def normalise_class(s: pd.Series) -> pd.Series:
    """Class names: trimmed text; a class written as a number (``03``, ``３班``, ``(3)班``) becomes ``"3"``.

    Examples
    --------
    >>> import pandas as pd
    >>> normalise_class(pd.Series(["3班", "03", "高二(3)班"])).tolist()
    ['3', '3', '高二(3)班']
    """
    def one(v):
        t = tidy_text(v)
        m = _CLASS_RE.match(t.replace(" ", ""))
        if m:
            return str(int(m.group(1)))
        return t or None

    return _map_unique(s, one).astype("string")


def normalise_id(s: pd.Series) -> pd.Series:
    """Student ids as text: NFKC and trimmed; leading zeros kept; empty -> NA.

    Examples
    --------
    >>> import pandas as pd
    >>> normalise_id(pd.Series([" ００７ ", "0012", ""])).tolist()
    ['007', '0012', <NA>]
    """
    def one(v):
        t = re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(v)))
        return t or None

    return _map_unique(s, one).astype("string")


def normalise_demographics(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with ``student_id``, ``school``, ``grade``, ``class``, ``sex`` normalised (those present).

    Other columns are left as they are. The original text of a grade or sex that could not be read is not
    kept (it is NA): count the NAs to report how many.

    Examples
    --------
    >>> import pandas as pd
    >>> f = normalise_demographics(pd.DataFrame({"student_id": ["001"], "grade": ["高二"], "sex": ["女"],
    ...                                          "class": ["２班"], "school": [" 一中 "]}))
    >>> [str(v) for v in f.iloc[0]]
    ['001', '11', 'F', '2', '一中']
    """
    out = frame.copy()
    fns = {"student_id": normalise_id, "school": normalise_text, "grade": normalise_grade,
           "class": normalise_class, "sex": normalise_sex, "name": normalise_text}
    for col, fn in fns.items():
        if col in out.columns:
            out[col] = fn(out[col])
    return out
