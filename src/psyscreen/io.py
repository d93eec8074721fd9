"""Writing tables: by file extension, atomically, with text cells made safe for spreadsheets.

:func:`write_table` writes ``.csv`` (UTF-8 with a byte-order mark, so Excel shows Chinese text), ``.xlsx``
(xlsxwriter) or ``.parquet``. The table is first written to a temporary file in the same folder, flushed
to disk (``fsync``) and then moved over the final name with :func:`os.replace`, which is atomic on one file
system: a crash or an error part-way leaves either the previous file intact or no file at all, never a
half-written file under the final name. For CSV and Excel, text cells that start like a formula are
escaped (:func:`psyscreen.privacy.safe_frame`, :func:`psyscreen.privacy.safe_cell`).

:func:`write_workbook` writes the styled workbooks of the screening outputs (several sheets, readable widths,
frozen header, level colours); ``write_table``'s ``.xlsx`` is the same writer with one plain sheet.

Examples
--------
>>> import pandas as pd, tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "scores.csv"
>>> write_table(pd.DataFrame({"student_id": ["00123"], "phq9.total": [7.0]}), path).name
'scores.csv'
>>> path.read_bytes()[:3] == b"\\xef\\xbb\\xbf"
True
"""

from __future__ import annotations

import os
import re
import tempfile
import unicodedata
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Callable, Optional, Union

import numpy as np
import pandas as pd

from .privacy import safe_cell, safe_frame

__all__ = ["write_table", "atomic_write", "sync_folder", "write_workbook", "workbook_bytes", "Sheet", "file_name",
           "unique_file_names", "UnsupportedFormatError", "TABLE_SUFFIXES"]

TABLE_SUFFIXES = (".csv", ".xlsx", ".parquet")


class UnsupportedFormatError(ValueError):
    """The output name has an extension psyscreen cannot write."""


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    safe_frame(frame).to_csv(path, index=False, encoding="utf-8-sig", lineterminator="\r\n")


def _write_xlsx(frame: pd.DataFrame, path: Path) -> None:
    path.write_bytes(workbook_bytes([Sheet("Sheet1", frame)]))


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    frame.to_parquet(path, index=False)


_WRITERS: dict[str, Callable[[pd.DataFrame, Path], None]] = {
    ".csv": _write_csv,
    ".xlsx": _write_xlsx,
    ".parquet": _write_parquet,
}


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory handles
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def sync_folder(folder: Union[str, Path]) -> None:
    """Flush a folder's entries (new and renamed files) to disk.

    :func:`atomic_write` does this after every file; a writer of many files into one folder passes
    ``sync_folder=False`` to each and calls this once at the end.
    """
    _fsync_dir(Path(folder))


def atomic_write(path: Union[str, Path], content: Union[bytes, Callable[[Path], None]], *,
                 sync_folder: bool = True) -> Path:
    """Write ``path`` atomically: to a temporary file beside it, fsync it, then move it over ``path``.

    Parameters
    ----------
    path : str or Path
        The file to write; its folder must exist.
    content : bytes or callable
        The file's bytes, or ``write(tmp)``, a function that writes the temporary file given its path.
    sync_folder : bool, default True
        Also flush the folder entry after the rename. A writer of many files into one folder passes ``False``
        and calls :func:`sync_folder` once when done.

    Returns
    -------
    Path
        ``path``. If writing fails, the temporary file is removed and ``path`` is left as it was.

    Raises
    ------
    OSError
        The folder is missing, read-only or full (the same subclass and errno as the system's error). Its message
        names the folder, never the file: a file name may hold a student's id (a letter), and the temporary
        name is random (``.psyscreen-<random>.tmp.<ext>``), never derived from the file's name.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "letter.html"
    >>> atomic_write(path, "<p>你好</p>".encode("utf-8")).read_text("utf-8")
    '<p>你好</p>'
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    try:
        _write_and_replace(path, folder, content)
    except OSError as exc:
        raise _folder_error(exc, path, folder) from None
    if sync_folder:
        _fsync_dir(folder)
    return path


#: A file extension kept on the temporary file (writers such as pandas choose their format by it); anything
#: else (a dotted id such as ``a.0456171197``) is left out.
_SUFFIX = re.compile(r"\.[A-Za-z][A-Za-z0-9]{0,7}")


def _folder_error(exc: OSError, path: Path, folder: Path) -> OSError:
    """The same kind of OSError, naming the folder only (a file name may carry a student's id)."""
    if exc.errno is not None:
        return OSError(exc.errno, f"{exc.strerror or type(exc).__name__} (writing a file in this folder)", str(folder))
    text = str(exc) or type(exc).__name__
    for name in sorted({str(path), path.name, path.stem}, key=len, reverse=True):
        if len(name) >= 3:
            text = text.replace(name, "<file>")
    return type(exc)(f"{text} (writing a file in the folder {str(folder)!r})")


def _write_and_replace(path: Path, folder: Path, content) -> None:
    suffix = path.suffix if _SUFFIX.fullmatch(path.suffix) else ""
    fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=".psyscreen-", suffix=f".tmp{suffix}")
    tmp = Path(tmp_name)
    try:
        if isinstance(content, (bytes, bytearray, memoryview)):
            with os.fdopen(fd, "wb") as fh:
                fh.write(content)
                fh.flush()
                os.fsync(fh.fileno())
        else:
            os.close(fd)
            content(tmp)
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; the final file gets the user's usual permissions
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


# ---- styled workbooks (the screening outputs, write_table's .xlsx) -------------------------------------

_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]+')
_RESERVED = re.compile(r"(CON|PRN|AUX|NUL|COM[0-9]|LPT[0-9])(\..*)?", re.IGNORECASE)
NAME_BYTES = 120  # UTF-8 bytes of a name part: room for a prefix and suffix under the usual 255-byte limit


def _cut_bytes(text: str, limit: int) -> str:
    """The longest prefix of ``text`` whose UTF-8 form has at most ``limit`` bytes (never a broken character)."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[:limit].decode("utf-8", errors="ignore")


def file_name(text, *, max_bytes: int = NAME_BYTES) -> str:
    """A file-name-safe form of a school / class / key label.

    Path separators and control characters become ``_``; invisible format characters (right-to-left overrides,
    zero-width joiners) are removed; leading and trailing dots and spaces go (so ``.`` and ``..`` are never
    names); Windows' reserved device names (``CON``, ``NUL``, ``COM1`` ...) get a trailing ``_``; the result is
    cut to ``max_bytes`` bytes of UTF-8 (file systems limit bytes, not characters). Two labels may clean to the
    same name: use :func:`unique_file_names` where names must be unique.

    Examples
    --------
    >>> file_name("A/B中学"), file_name(".."), file_name("con"), file_name("\u202etxt.exe")
    ('A_B中学', '_', 'con_', 'txt.exe')
    >>> len(file_name("长" * 100).encode())
    120
    """
    s = unicodedata.normalize("NFC", str(text))
    s = "".join(ch for ch in s if unicodedata.category(ch) != "Cf").strip()
    s = _UNSAFE.sub("_", s).strip(". ") or "_"
    s = _cut_bytes(s, max_bytes).strip(". ") or "_"
    if _RESERVED.fullmatch(s):
        s += "_"
    return s


def unique_file_names(labels, *, max_bytes: int = NAME_BYTES) -> dict:
    """A distinct safe file name for each distinct label: ``{label: name}``.

    Labels whose :func:`file_name` forms collide (compared without case, as Windows and macOS file systems do)
    are told apart by a short digest of the label itself (``A_B中学~3f9a1c``); one label that is already its
    own safe name (the first in sorted order) keeps it. The digest depends only on the label, so a school or class keeps its name from wave
    to wave.

    Examples
    --------
    >>> names = unique_file_names(["A/B中学", "A_B中学", ".", ".."])
    >>> names["A_B中学"], len(set(names.values()))
    ('A_B中学', 4)
    """
    import hashlib

    distinct = list(dict.fromkeys(str(x) for x in labels))
    safe = {lab: file_name(lab, max_bytes=max_bytes) for lab in distinct}
    groups: dict = {}
    for lab in distinct:
        groups.setdefault(safe[lab].casefold(), []).append(lab)
    out = {}
    for members in groups.values():
        keeper = next((lab for lab in sorted(members) if safe[lab] == lab), None) if len(members) > 1 else members[0]
        for lab in members:
            if lab == keeper:
                out[lab] = safe[lab]
            else:
                tag = hashlib.sha256(lab.encode("utf-8")).hexdigest()[:6]
                out[lab] = f"{file_name(lab, max_bytes=max_bytes - 7)}~{tag}"
    return out


def display_width(values) -> int:
    """Display width of the longest value (East Asian wide characters count two; missing values count zero).

    Examples
    --------
    >>> display_width(["ab", "初二", None, 3.5])
    4
    """
    best = 0
    for v in set(values):  # cell values repeat (levels, classes): each distinct one is measured once
        if v is None or (isinstance(v, float) and np.isnan(v)):
            continue
        s = str(v)
        w = len(s) if s.isascii() else sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in s)
        best = max(best, w)
    return best


def _cell(value):
    """One cell as a Python value xlsxwriter writes as it is: None for missing, text made inert."""
    if isinstance(value, str):
        return safe_cell(value)
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    return value


def _cells(series: pd.Series) -> list:
    """A column's cells as Python values (see :func:`_cell`), without a pandas operation per cell."""
    dtype = series.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "biu":  # numpy bool and integers: never missing, never text
        return series.tolist()
    if isinstance(dtype, np.dtype) and dtype.kind == "f":
        return [None if v != v else v for v in series.tolist()]
    return [_cell(v) for v in series.to_numpy(dtype=object, na_value=None).tolist()]


@dataclass
class Sheet:
    """One worksheet: a frame, and how to present it."""

    name: str
    frame: pd.DataFrame
    wrap: tuple = ()                  # columns wrapped (long text)
    percent: tuple = ()               # columns shown as percentages
    level_column: Optional[str] = None  # column coloured by level
    level_colours: Optional[dict] = None  # label -> colour
    note: Optional[str] = None        # a line above the table
    alert: Optional[str] = None       # a line above the note, in bold red (e.g. "this wave is incomplete: ...")
    # a sheet that writes itself (drop-down lists, protection: the follow-up sheet of a school workbook):
    # ``render(workbook, worksheet)`` is called instead of writing ``frame``; it must make its text cells inert
    render: Optional[Callable] = None


def workbook_bytes(sheets: list[Sheet]) -> bytes:
    """An xlsx file (bytes) of styled sheets: bold coloured header, frozen header row, filters, readable widths.

    Every text cell and header is made inert (:func:`psyscreen.privacy.safe_cell`); strings are written as
    strings, never as formulas, URLs or numbers. The cells of a ``level_column`` are filled with their level's
    colour.
    """
    import xlsxwriter

    buffer = BytesIO()
    options = {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False,
               "nan_inf_to_errors": False, "in_memory": True, "default_date_format": "yyyy-mm-dd hh:mm:ss"}
    wb = xlsxwriter.Workbook(buffer, options)
    head = wb.add_format({"bold": True, "bg_color": "#dfe7f1", "border": 1, "text_wrap": True, "valign": "top"})
    wrap = wb.add_format({"text_wrap": True, "valign": "top"})
    top = wb.add_format({"valign": "top"})
    pct = wb.add_format({"num_format": "0.0%", "valign": "top"})
    note_fmt = wb.add_format({"italic": True, "font_color": "#555555"})
    alert_fmt = wb.add_format({"bold": True, "font_color": "#c00000"})
    level_fmts: dict[tuple, object] = {}
    used = set()
    for sh in sheets:
        name = file_name(sh.name).replace("[", "(").replace("]", ")")[:31] or "Sheet"
        while name.lower() in used:
            name = name[:28] + f"_{len(used)}"
        used.add(name.lower())
        ws = wb.add_worksheet(name)
        if sh.render is not None:
            sh.render(wb, ws)
            continue
        r0 = 0
        if sh.alert:
            ws.write_string(r0, 0, str(safe_cell(sh.alert)), alert_fmt)
            r0 += 1
        if sh.note:
            ws.write_string(r0, 0, str(safe_cell(sh.note)), note_fmt)
            r0 += 1
        frame = sh.frame
        n, m = frame.shape
        for j, col in enumerate(frame.columns):
            header = str(safe_cell(str(col)))
            ws.write_string(r0, j, header, head)
            values = _cells(frame.iloc[:, j])
            fmt = wrap if col in sh.wrap else pct if col in sh.percent else top
            if col == sh.level_column and sh.level_colours:
                colours = {safe_cell(label): colour for label, colour in sh.level_colours.items()}
                for i, v in enumerate(values):
                    colour = colours.get(v)
                    if colour:
                        key = (colour, fmt is wrap)
                        if key not in level_fmts:
                            level_fmts[key] = wb.add_format({"bg_color": colour, "bold": True, "font_color": _ink(colour),
                                                             "valign": "top", "text_wrap": fmt is wrap})
                        ws.write(r0 + 1 + i, j, v, level_fmts[key])
                    else:
                        ws.write(r0 + 1 + i, j, v, fmt)
            elif values:
                ws.write_column(r0 + 1, j, values, fmt)
            width = min(max(display_width([header]) * 0.9, display_width(values[:5000])) + 2, 60)
            ws.set_column(j, j, max(width, 6))
        ws.freeze_panes(r0 + 1, 0)
        if m:
            ws.autofilter(r0, 0, r0 + max(n, 1), m - 1)
        ws.set_landscape()
        ws.fit_to_pages(1, 0)
        ws.repeat_rows(r0)
    wb.close()
    return buffer.getvalue()


def write_workbook(path: Union[str, Path], sheets: list[Sheet], *, sync_folder: bool = True) -> Path:
    """Write :func:`workbook_bytes` of ``sheets`` to ``path`` atomically (see :func:`atomic_write`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(path, workbook_bytes(sheets), sync_folder=sync_folder)


def _ink(colour: str) -> str:
    """Black or white text, whichever reads better on ``colour`` (#rrggbb)."""
    if not colour.startswith("#") or len(colour) != 7:
        return "#000000"
    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return "#000000" if 0.299 * r + 0.587 * g + 0.114 * b > 150 else "#ffffff"


def write_table(frame: pd.DataFrame, path: Union[str, Path]) -> Path:
    """Write ``frame`` to ``path`` (format from the extension), atomically.

    Parameters
    ----------
    frame : DataFrame
        Written without its index.
    path : str or Path
        ``.csv`` (UTF-8 with BOM), ``.xlsx`` or ``.parquet``. The folder must exist.

    Returns
    -------
    Path
        The path written.

    Raises
    ------
    UnsupportedFormatError
        For any other extension.
    """
    path = Path(path)
    writer = _WRITERS.get(path.suffix.lower())
    if writer is None:
        raise UnsupportedFormatError(
            f"{path}: cannot write {path.suffix or 'a file without extension'!r}; "
            f"use one of {', '.join(TABLE_SUFFIXES)}")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"{path}: the folder {path.parent} does not exist")
    return atomic_write(path, lambda tmp: writer(frame, tmp))
