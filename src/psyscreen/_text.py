"""Text normalisation shared by the readers, the column maps, the demographics, the instrument labels and the outputs.

Exports from Chinese survey platforms mix full-width and half-width characters and stray spaces; everything
that compares text goes through these two functions so the rules are the same everywhere.

Examples
--------
>>> text_key(" 几乎 每天　"), text_key("ＰＨＱ9.1")
('几乎每天', 'phq9.1')
>>> tidy_text("  实验  中学 ")
'实验 中学'
"""

from __future__ import annotations

import re
import unicodedata

import pandas as pd

_SPACE = re.compile(r"\s+")


def text_key(text) -> str:
    """A comparison key: NFKC (full-width becomes ASCII), every whitespace removed, casefolded."""
    return _SPACE.sub("", unicodedata.normalize("NFKC", str(text))).casefold()


def tidy_text(text) -> str:
    """Text as shown: NFKC, whitespace runs made one space, outer spaces removed."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", str(text))).strip()


def map_unique(values: pd.Series, fn) -> pd.Series:
    """``fn`` applied once per distinct non-missing value (a label per grade, sex, level: not per student).

    Missing values stay missing, and so do values for which ``fn`` returns None.

    Examples
    --------
    >>> map_unique(pd.Series(["男", "女", None, "男"]), {"男": "M", "女": "F"}.get).tolist()
    ['M', 'F', nan, 'M']
    """
    return values.map({v: fn(v) for v in values.dropna().unique()})
