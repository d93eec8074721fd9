"""Class teachers' lists: who in the class needs attention, at which level, and what to do -- nothing else."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import pandas as pd

from .._text import map_unique
from ..io import Sheet, sync_folder, unique_file_names, write_workbook
from ._common import HEADERS, PathLike

__all__ = ["write_class_lists", "class_labels", "CLASS_LIST_FIELDS"]

#: The only fields a class list carries (in this order).
CLASS_LIST_FIELDS = ("student_id", "name", "level", "action")


def _grade_text(grade: str) -> str:
    try:
        g = float(grade)
    except ValueError:
        return str(grade)
    return str(int(g)) if g.is_integer() else str(grade)


def class_labels(grade: pd.Series, cls: pd.Series) -> tuple[pd.Series, dict]:
    """Each student's class label (``<grade>-<class>``, ``NA`` for a missing part) and ``{label: file name}``.

    The file names are unique per class (:func:`psyscreen.io.unique_file_names`): classes ``1/2`` and ``1_2`` of
    one grade do not share a file. Labels are made by column and once per distinct grade, not per student.

    Examples
    --------
    >>> labels, files = class_labels(pd.Series([8, 8, 8]), pd.Series(["1/2", "1_2", "1/2"]))
    >>> labels.tolist(), len(set(files.values()))
    (['8-1/2', '8-1_2', '8-1/2'], 2)
    """
    g = map_unique(grade.astype("string"), _grade_text).astype("string").fillna("NA")
    labels = (g + "-" + cls.astype("string").fillna("NA")).astype(object)
    return labels, unique_file_names(sorted(labels.unique()))


def write_class_lists(rows: pd.DataFrame, folder: PathLike, *, lang: str = "zh", level_colours=None,
                      prefix: str = "", notes: Optional[dict] = None, alert: Optional[str] = None) -> list[Path]:
    """Write ``<folder>/[<prefix>]<grade>-<class>.xlsx`` for every class in ``rows``.

    ``rows`` holds every student of the school with ``class_label`` and ``class_file`` (see :func:`class_labels`),
    ``student_id``, ``name``, ``level_label``, ``action``, ``sort_rank`` and ``listed`` (bool: the student goes
    on the list -- a warning level, or a sheet to re-test). A class with nobody listed still gets its (empty)
    list, so a teacher can tell "nobody" from "not processed". The list has exactly the columns of
    :data:`CLASS_LIST_FIELDS`: no score, no answer, no reason. ``notes`` (``{class_label: title}``) and ``alert``
    (the run's notice) are written above the table.
    """
    h = HEADERS[lang]
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    headers = [h["student_id"], h["name"], h["level"], h["action"]]
    # One sort of the school, then each class is a slice of plain arrays: no pandas operation per class.
    ordered = rows.sort_values(["sort_rank", "student_id"], kind="stable")
    listed = ordered["listed"].to_numpy(dtype=bool)
    columns = [ordered[c].to_numpy(dtype=object) for c in ("student_id", "name", "level_label", "action")]
    files = dict(zip(ordered["class_label"], ordered["class_file"]))
    classes = ordered.groupby("class_label", sort=True).indices  # {label: positions}
    written = []
    for label, where in classes.items():
        where = where[listed[where]]
        out = pd.DataFrame({hd: col[where] for hd, col in zip(headers, columns)})
        sheet = Sheet(str(label), out, wrap=(h["action"],), level_column=h["level"], level_colours=level_colours,
                      note=(notes or {}).get(label), alert=alert)
        written.append(write_workbook(folder / f"{prefix}{files[label]}.xlsx", [sheet], sync_folder=False))
    sync_folder(folder)
    return written
