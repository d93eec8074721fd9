"""Class teachers' lists: who in the class needs attention, at which level, and what to do -- nothing else."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ._common import HEADERS, PathLike, Sheet, file_name, write_workbook

__all__ = ["write_class_lists", "CLASS_LIST_FIELDS"]

#: The only fields a class list carries (in this order).
CLASS_LIST_FIELDS = ("student_id", "name", "level", "action")


def write_class_lists(rows: pd.DataFrame, folder: PathLike, *, lang: str = "zh", level_colours=None) -> list[Path]:
    """Write ``<folder>/<grade>-<class>.xlsx`` for every class in ``rows``.

    ``rows`` holds every student of the school with ``grade``, ``class``, ``student_id``, ``name``,
    ``level_label``, ``action`` and ``listed`` (bool: the student goes on the list -- a warning level, or a sheet
    to re-test). A class with nobody listed still gets its (empty) list, so a teacher can tell "nobody" from
    "not processed". The list has exactly the columns of :data:`CLASS_LIST_FIELDS`: no score, no answer, no
    reason.
    """
    h = HEADERS[lang]
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    cols = {"student_id": h["student_id"], "name": h["name"], "level_label": h["level"], "action": h["action"]}
    for (grade, cls), grp in rows.groupby(["grade", "class"], sort=True, dropna=False):
        listed = grp[grp["listed"]].sort_values(["sort_rank", "student_id"], kind="stable")
        out = listed[list(cols)].rename(columns=cols).reset_index(drop=True)
        g = "NA" if pd.isna(grade) else (str(int(grade)) if isinstance(grade, (int, float)) or str(grade).isdigit() else str(grade))
        c = "NA" if pd.isna(cls) else str(cls)
        path = folder / f"{file_name(g)}-{file_name(c)}.xlsx"
        sheet = f"{g}-{c}"
        write_workbook(path, [Sheet(sheet, out, wrap=(h["action"],), level_column=h["level"], level_colours=level_colours)])
        written.append(path)
    return written
