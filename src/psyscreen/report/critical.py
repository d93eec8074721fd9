"""The critical list: students with a critical answer (e.g. thoughts of self-harm), written first."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import pandas as pd

from ..io import Sheet, write_workbook
from ..wave import RunInfo
from ._common import HEADERS, PathLike, check_lang, get_protocol, resolve_levels

__all__ = ["write_critical"]


_TITLE = {"zh": "危机作答名单（当天处理）", "en": "critical list (act today)"}


def write_critical(students_critical: pd.DataFrame, path: PathLike, *, lang: str = "zh",
                   protocol=None, run: Optional[RunInfo] = None) -> Path:
    """Write ``critical.xlsx``: one row per student with a critical answer, for action the same day.

    Columns: school, grade, class, student id (``student_id`` when the frame has it, else ``student_key``),
    name (when the frame has it), level and the reasons in words; ``sources`` and ``note`` when the frame has
    them filled (a student whose entry several submissions fed). Sorted by school, grade, class. Text cells
    are made inert (:func:`psyscreen.privacy.safe_frame`) and the file is written atomically.

    Parameters
    ----------
    students_critical : DataFrame
        The critical students (rows of ``students.parquet`` with ``critical`` true, joined to names at the
        school level if known). Rows where a ``critical`` column is false are dropped.
    path : str or Path
        The ``.xlsx`` file; its folder is created if needed.
    lang : {"zh", "en"}
        Headers, level names and (when the frame has ``reasons_en``) the reasons.
    protocol : Protocol or str, optional
        Shows the protocol's level names instead of the codes in ``level``.
    run : RunInfo, optional
        The wave, county and completeness of the run: the first line names them (``城南区 2026年9月
        危机作答名单``); when the run is not complete (``in_progress`` while files are still read, ``incomplete``
        when files were not processed) its notice, naming the files not checked, is the line above, in red.

    Returns
    -------
    Path

    Examples
    --------
    >>> import pandas as pd, tempfile, pathlib
    >>> df = pd.DataFrame({"school": ["一中"], "class": ["3"], "student_key": ["001"], "name": ["张三"],
    ...                    "level": ["level1"], "reasons": ["PHQ-9 第9题 = 2"], "critical": [True]})
    >>> write_critical(df, pathlib.Path(tempfile.mkdtemp()) / "critical.xlsx").name
    'critical.xlsx'
    """
    check_lang(lang)
    h = HEADERS[lang]
    df = students_critical
    if "critical" in df.columns:
        df = df[df["critical"].fillna(False).astype(bool)]
    out = pd.DataFrame(index=df.index)
    for col in ("school", "grade", "class"):
        if col in df.columns:
            out[h[col]] = df[col]
    id_col = "student_id" if "student_id" in df.columns else "student_key"
    if id_col not in df.columns:
        raise KeyError("the critical students need a 'student_id' or 'student_key' column")
    out[h[id_col]] = df[id_col].astype("string")
    if "name" in df.columns:
        out[h["name"]] = df["name"].astype("string")
    if protocol is not None and len(df):
        out[h["level"]] = resolve_levels(df, get_protocol(protocol), lang)["level_label"]
    elif "level" in df.columns:
        out[h["level"]] = df["level"].astype("string")
    reasons = "reasons_en" if lang == "en" and "reasons_en" in df.columns else "reasons"
    if reasons in df.columns:
        out[h["reasons"]] = df[reasons].astype("string")
    # one row per student: where several submissions fed it, the rows (and why this one is shown)
    for col, head in (("sources", {"zh": "来源（同一学号多份作答）", "en": "Sources (several submissions)"}),
                      ("note", {"zh": "说明", "en": "Note"})):
        if col in df.columns and df[col].notna().any():
            out[head[lang]] = df[col].astype("string")
    sort = [h[c] for c in ("school", "grade", "class") if h[c] in out.columns]
    if sort and len(out):
        out = out.sort_values(sort, kind="stable")
    wrap = tuple(c for c in (h["reasons"], "说明", "Note") if c in out.columns)
    note = run.title(_TITLE[lang], lang) if run is not None else None
    alert = run.notice(lang) if run is not None else None
    return write_workbook(path, [Sheet("critical" if lang == "en" else "危机作答", out.reset_index(drop=True),
                                       wrap=wrap, note=note, alert=alert)])
