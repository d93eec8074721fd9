"""Class teachers' lists: who in the class needs attention, at which level, and what to do -- nothing else."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..io import Sheet, file_name, sync_folder, write_workbook

from ._common import HEADERS, PathLike

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
    headers = [h["student_id"], h["name"], h["level"], h["action"]]
    # One sort of the school, then each class is a slice of plain arrays: no pandas operation per class.
    ordered = rows.sort_values(["sort_rank", "student_id"], kind="stable")
    listed = ordered["listed"].to_numpy(dtype=bool)
    columns = [ordered[c].to_numpy(dtype=object) for c in ("student_id", "name", "level_label", "action")]
    classes = ordered.groupby(["grade", "class"], sort=True, dropna=False).indices  # {(grade, class): positions}
    written = []
    for (grade, cls), where in classes.items():
        where = where[listed[where]]
        out = pd.DataFrame({hd: col[where] for hd, col in zip(headers, columns)})
        g = "NA" if pd.isna(grade) else (str(int(grade)) if isinstance(grade, (int, float)) or str(grade).isdigit() else str(grade))
        c = "NA" if pd.isna(cls) else str(cls)
        path = folder / f"{file_name(g)}-{file_name(c)}.xlsx"
        sheet = Sheet(f"{g}-{c}", out, wrap=(h["action"],), level_column=h["level"], level_colours=level_colours)
        written.append(write_workbook(path, [sheet], sync_folder=False))
    sync_folder(folder)
    return written
