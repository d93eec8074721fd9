"""Writing tables: by file extension, atomically, with text cells made safe for spreadsheets.

:func:`write_table` writes ``.csv`` (UTF-8 with a byte-order mark, so Excel shows Chinese text), ``.xlsx``
(xlsxwriter) or ``.parquet``. The table is first written to a temporary file in the same folder, flushed
to disk (``fsync``) and then moved over the final name with :func:`os.replace`, which is atomic on one file
system: a crash or an error part-way leaves either the previous file intact or no file at all, never a
half-written file under the final name. For CSV and Excel, text cells that start like a formula are
escaped with :func:`psyscreen.privacy.safe_frame`.

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
import tempfile
from pathlib import Path
from typing import Callable, Union

import pandas as pd

from .privacy import safe_frame

__all__ = ["write_table", "atomic_write", "sync_folder", "UnsupportedFormatError", "TABLE_SUFFIXES"]

TABLE_SUFFIXES = (".csv", ".xlsx", ".parquet")


class UnsupportedFormatError(ValueError):
    """The output name has an extension psyscreen cannot write."""


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    safe_frame(frame).to_csv(path, index=False, encoding="utf-8-sig", lineterminator="\r\n")


def _write_xlsx(frame: pd.DataFrame, path: Path) -> None:
    # Strings are written as strings: never read as formulas, URLs or numbers (ids keep leading zeros).
    options = {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}
    with pd.ExcelWriter(path, engine="xlsxwriter", engine_kwargs={"options": options}) as writer:
        safe_frame(frame).to_excel(writer, index=False, sheet_name="Sheet1")


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

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "letter.html"
    >>> atomic_write(path, "<p>你好</p>".encode("utf-8")).read_text("utf-8")
    '<p>你好</p>'
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}")
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
    if sync_folder:
        _fsync_dir(folder)
    return path


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
