"""Reading real exports and turning them into response frames: the ingest end of a screening wave.

Three steps, each usable on its own:

1. :func:`read_table` reads one file (CSV in UTF-8, UTF-8 with BOM, GB18030/GBK or UTF-16, detected and
   recorded; ``.xlsx``/``.xls`` through python-calamine; ``.parquet``) into a :class:`RawTable`: every cell
   as text (student ids keep their leading zeros), trailing empty rows and columns dropped and counted, and
   the index holding the row number a person sees in the file (header = row 1 by default).
2. :func:`normalise` maps the columns (a column map from :func:`load_column_map`, headers already named
   ``<instrument>.<item>``, or the usual Chinese field headers such as 学号 / 姓名 / 班级) and turns the
   answers into codes: a response code or an option label (zh, en or an alias from the instrument file),
   after Unicode NFKC (full-width digits) and with stray spaces removed. An answer that is neither is never
   guessed: it becomes a located *problem* and its row is set aside.
3. :func:`score_table` scores the rows without problems and returns the scores, the quarantine (one line
   per problem: file, sheet, row, cell, column, item, value, reason) and the :class:`Ledger`, for which
   ``rows_read == rows_scored + rows_quarantined`` always holds.

Steps 2 and 3 are pure functions over DataFrames; only :func:`read_table` and :func:`load_column_map` touch
files. Nothing here logs or prints; error messages name files, sheets, rows and columns, never a student's
name, id or answer (the quarantine table itself shows the value: it is written for a person to fix).

Examples
--------
>>> import pandas as pd
>>> raw = RawTable.from_frame(pd.DataFrame({"学号": ["007"], **{f"第{i}题": ["好几天"] for i in range(1, 10)}}))
>>> cmap = {"学号": "student_id", **{f"第{i}题": f"phq9.{i}" for i in range(1, 10)}}
>>> out = score_table(raw, ["phq9"], column_map=cmap)
>>> out.scores[["student_id", "phq9.total"]].to_dict("records")
[{'student_id': '007', 'phq9.total': 9.0}]
>>> out.ledger.rows_read, out.ledger.rows_scored, out.ledger.rows_quarantined
(1, 1, 0)
"""

from __future__ import annotations

import csv
import io
import posixpath
import re
import unicodedata
import zipfile
from zlib import error as zlib_error
from xml.etree import ElementTree
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Mapping, Optional, Sequence, Union

import numpy as np
import pandas as pd

from ._results import ResultMixin
from ._text import text_key
from .instrument import Instrument, load_instrument
from .scoring import score_with_quarantine

__all__ = [
    "FIELDS",
    "FIELD_ALIASES",
    "RawTable",
    "Normalised",
    "Ledger",
    "ScoredTable",
    "IngestError",
    "UnreadableFileError",
    "ColumnMapError",
    "MissingItemColumnsError",
    "read_table",
    "read_sheets",
    "load_column_map",
    "normalise",
    "score_table",
    "PROBLEM_COLUMNS",
]

#: Fields (non-item columns) a column map may target, in the order they are written out.
FIELDS = ("student_id", "name", "school", "grade", "class", "sex", "submitted_at", "duration")

#: Export headers recognised as fields without a column map (compared after NFKC, spaces removed, casefold).
FIELD_ALIASES: dict[str, str] = {
    "学号": "student_id", "学籍号": "student_id", "student_number": "student_id",
    "姓名": "name", "学校": "school", "学校名称": "school", "年级": "grade", "班级": "class", "班": "class",
    "性别": "sex", "提交时间": "submitted_at", "提交答卷时间": "submitted_at", "答题时间": "submitted_at",
    "所用时间": "duration", "答题时长": "duration", "用时": "duration",
}

#: Columns of a problems / quarantine table.
PROBLEM_COLUMNS = ("file", "sheet", "row", "cell", "column", "item", "value", "reason")

_ITEM_RE = re.compile(r"^([a-z][a-z0-9_]*)\.(\d+)$")
_EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".xlsb", ".ods")
_CSV_SUFFIXES = (".csv", ".tsv", ".txt")
_SAV_SUFFIXES = (".sav", ".zsav")


# ---- errors ------------------------------------------------------------------------------------

class IngestError(ValueError):
    """A file or column map that cannot be used, located (file, sheet, row, column) with what to do."""

    def __init__(self, message: str, *, file: Optional[str] = None, sheet: Optional[str] = None,
                 row: Optional[int] = None, column: Optional[str] = None, hint: Optional[str] = None):
        self.file, self.sheet, self.row, self.column, self.hint = file, sheet, row, column, hint
        where = []
        if file is not None:
            where.append(str(file))
        if sheet is not None:
            where.append(f"sheet {sheet!r}")
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column {column!r}")
        text = (", ".join(where) + ": " if where else "") + message
        if hint:
            text += f". {hint}"
        super().__init__(text)


class UnreadableFileError(IngestError):
    """The file cannot be read as a table (missing, wrong format, unknown text encoding, broken CSV)."""


class ColumnMapError(IngestError):
    """A column map that is malformed, names an impossible target, or maps two columns to one target."""

    def __init__(self, file: Optional[str], problems: Sequence[str]):
        self.problems = list(problems)
        shown = "; ".join(self.problems[:10]) + (f"; ... ({len(self.problems)} problems)" if len(self.problems) > 10 else "")
        super().__init__(f"{len(self.problems)} problem(s) in the column map: {shown}", file=file,
                         hint="Each line of a column map holds a source column of the export and a target "
                              "'<instrument>.<item number>' (e.g. phq9.1) or a field "
                              f"({', '.join(FIELDS)})")


class MissingItemColumnsError(IngestError):
    """Item columns an instrument needs are not in the file (after the column map)."""

    def __init__(self, file: Optional[str], sheet: Optional[str], missing: Mapping[str, Sequence[str]],
                 unmapped: Sequence[str] = (), map_sources_absent: Sequence[str] = ()):
        self.missing = {k: list(v) for k, v in missing.items()}
        parts = []
        for inst, cols in self.missing.items():
            shown = ", ".join(cols[:12]) + (" ..." if len(cols) > 12 else "")
            parts.append(f"{inst}: {len(cols)} item column(s) missing ({shown})")
        hint = ("Give a column map (--map FILE: two columns, the export's header and the target such as "
                "'第1题,phq9.1') or rename the headers to '<instrument>.<item number>'")
        if unmapped:
            hint += f"; unmapped headers in the file: {', '.join(list(unmapped)[:12])}" + (" ..." if len(unmapped) > 12 else "")
        if map_sources_absent:
            hint += (f"; the map names column(s) not in the file: {', '.join(list(map_sources_absent)[:8])}"
                     + (" ..." if len(map_sources_absent) > 8 else ""))
        super().__init__("; ".join(parts), file=file, sheet=sheet, hint=hint)


# ---- results -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class RawTable(ResultMixin):
    """One sheet of an export, every cell as text.

    Attributes
    ----------
    frame : DataFrame
        Text cells (missing = NA); columns are the header cells (NFKC, outer spaces stripped; an empty header
        becomes ``column <letter>``, a repeated one gets `` [2]``, `` [3]``...); the index (named ``row``) is the
        row number a person sees in the file (1-based, the header row counts).
    file, sheet, encoding : str or None
        Where the table came from and, for text files, the encoding that was detected.
    header_row : int
        The row number of the header (1 unless told or unless the file starts with empty rows).
    empty_rows_dropped, empty_columns_dropped : int
        Empty rows and columns that were dropped: those after the last one that holds something, and the empty
        rows of a run of more than :data:`MAX_EMPTY_RUN` below the table.
    detached_rows : tuple of int
        Rows that hold something but lie below such a run (a stray value far below the table): they are in
        ``frame`` (so that they are counted) and :func:`normalise` sets each aside as a problem.
    """

    frame: pd.DataFrame
    file: Optional[str] = None
    sheet: Optional[str] = None
    encoding: Optional[str] = None
    header_row: int = 1
    empty_rows_dropped: int = 0
    empty_columns_dropped: int = 0
    source_headers: tuple[str, ...] = ()
    detached_rows: tuple[int, ...] = ()

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, *, file: Optional[str] = None, sheet: Optional[str] = None) -> "RawTable":
        """Wrap an in-memory frame (e.g. built in a notebook) as if row 1 were its header."""
        cells = _as_text(frame.reset_index(drop=True))
        cells = cells.mask(_blank(cells))
        headers = _clean_headers([str(c) for c in frame.columns])
        cells.columns = headers
        cells.index = pd.RangeIndex(2, 2 + len(cells), name="row")
        return cls(frame=cells, file=file, sheet=sheet, source_headers=tuple(str(c) for c in frame.columns))

    def to_frame(self) -> pd.DataFrame:
        return self.frame


@dataclass(frozen=True)
class Normalised(ResultMixin):
    """Answers as codes, fields as text, and the located problems.

    Attributes
    ----------
    frame : DataFrame
        Index = file row number. Field columns (text) in :data:`FIELDS` order, then the item columns
        ``<instrument>.<item>`` as floats (NaN = not answered). A cell with a problem is NaN when its text is
        not a number, and keeps its number when it is a number outside the response codes (so that
        :func:`psyscreen.score` refuses it rather than score it).
    problems : DataFrame
        One line per problem, columns :data:`PROBLEM_COLUMNS`; ``value`` is the text as given.
    columns : dict
        Source header -> target column, for the columns that were used.
    unused_columns : tuple
        Headers of the file that map to nothing (kept out of ``frame``).
    """

    frame: pd.DataFrame
    problems: pd.DataFrame
    columns: dict = field(default_factory=dict)
    unused_columns: tuple = ()
    file: Optional[str] = None
    sheet: Optional[str] = None

    @property
    def quarantined_rows(self) -> pd.Index:
        """Row numbers with at least one problem."""
        return pd.Index(self.problems["row"].unique())

    @property
    def good(self) -> pd.DataFrame:
        """The rows without problems: what may be scored."""
        return self.frame.loc[~self.frame.index.isin(self.quarantined_rows)]

    def to_frame(self) -> pd.DataFrame:
        return self.frame


@dataclass(frozen=True)
class Ledger(ResultMixin):
    """What happened to the rows of one file: ``rows_read == rows_scored + rows_quarantined``."""

    file: Optional[str]
    sheet: Optional[str]
    encoding: Optional[str]
    rows_read: int
    rows_scored: int
    rows_quarantined: int
    empty_rows_dropped: int = 0
    empty_columns_dropped: int = 0

    def __post_init__(self) -> None:
        assert self.rows_read == self.rows_scored + self.rows_quarantined, "ledger does not balance"

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([self.__dict__])


@dataclass(frozen=True)
class ScoredTable(ResultMixin):
    """Scores of one file: identifying fields then score columns, the quarantine and the ledger.

    Attributes
    ----------
    scores : DataFrame
        Index = file row number. ``file``, ``sheet`` (Excel only), ``row``, the fields present, the item
        answers if asked for, then the score columns of each instrument.
    quarantine : DataFrame
        One line per problem (:data:`PROBLEM_COLUMNS`).
    ledger : Ledger
    """

    scores: pd.DataFrame
    quarantine: pd.DataFrame
    ledger: Ledger

    def to_frame(self) -> pd.DataFrame:
        return self.scores


# ---- reading -----------------------------------------------------------------------------------

#: Text columns of a read table: pandas' string dtype with Python storage (pd.NA for blanks). Building it from the
#: cells' Python strings is about 5x cheaper than the pyarrow storage, and the table is small per column.
_TEXT = pd.StringDtype("python")

def _excel_letter(j: int) -> str:
    s = ""
    j += 1
    while j:
        j, r = divmod(j - 1, 26)
        s = chr(65 + r) + s
    return s


def _norm_header(text: str) -> str:
    return unicodedata.normalize("NFKC", str(text)).strip()


def _clean_headers(headers: Sequence[str]) -> list[str]:
    out: list[str] = []
    seen: dict[str, int] = {}
    for j, h in enumerate(headers):
        h = "" if h is None or (isinstance(h, float) and np.isnan(h)) else _norm_header(h)
        if h == "" or h.lower() == "nan":
            h = f"column {_excel_letter(j)}"
        n = seen.get(h, 0) + 1
        seen[h] = n
        out.append(h if n == 1 else f"{h} [{n}]")
    return out


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Every cell as text (NA for missing); integral floats print without '.0'."""
    cols = {}
    for j in range(frame.shape[1]):
        s = frame.iloc[:, j]
        if pd.api.types.is_float_dtype(s.dtype):
            vals = s.to_numpy(dtype=float, na_value=np.nan)
            integral = np.isfinite(vals) & (np.mod(vals, 1) == 0) & (np.abs(vals) < 2**53)
            text = s.astype("string")
            if integral.any():
                text[integral] = pd.Series(vals[integral].astype(np.int64), index=s.index[integral]).astype("string")
            cols[j] = text
        else:
            cols[j] = s.astype("string")
    out = pd.DataFrame(cols, index=frame.index)
    out.columns = frame.columns
    return out


def _decode(data: bytes, file: str) -> tuple[str, str]:
    """Text and the encoding it was read with: BOMs, then strict UTF-8, then GB18030 / charset-normalizer."""
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data[3:].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as exc:
            raise UnreadableFileError(f"starts with a UTF-8 byte-order mark but is not valid UTF-8 ({exc.reason} at byte {exc.start + 3})",
                                      file=file, hint="Save the file again as 'CSV UTF-8' from Excel") from None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            raise UnreadableFileError("starts with a UTF-16 byte-order mark but is not valid UTF-16", file=file,
                                      hint="Save the file again as 'CSV UTF-8' from Excel") from None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    # Not UTF-8: most often GBK/GB18030 from Chinese Excel. GB18030 is a superset of GBK and GB2312.
    gb: Optional[str]
    try:
        gb = data.decode("gb18030")
    except UnicodeDecodeError:
        gb = None
    if gb is not None and re.search(r"[\u4e00-\u9fff]", gb):
        return gb, "gb18030"
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is not None and best.encoding:
        enc = best.encoding
        if enc.replace("-", "").replace("_", "").lower() in ("gb2312", "gbk", "gb18030", "hz") and gb is not None:
            return gb, "gb18030"
        return str(best), enc
    if gb is not None:
        return gb, "gb18030"
    raise UnreadableFileError("the text encoding could not be recognised (not UTF-8, not GB18030/GBK)", file=file,
                              hint="Open the file in Excel and save it as 'CSV UTF-8', or as .xlsx")


def _sniff_delimiter(text: str, suffix: str) -> str:
    if suffix == ".tsv":
        return "\t"
    sample = "\n".join(text[:20000].splitlines()[:20])
    try:
        return csv.Sniffer().sniff(sample, delimiters=",\t;|").delimiter
    except csv.Error:
        return "\t" if suffix == ".txt" and "\t" in sample else ","


def _read_csv_cells(path: Path, file: str) -> tuple[pd.DataFrame, str]:
    data = path.read_bytes()
    text, encoding = _decode(data, file)
    sep = _sniff_delimiter(text, path.suffix.lower())
    # Width of the widest record, so that ragged rows do not stop the C parser.
    try:
        width = max((len(r) for r in csv.reader(io.StringIO(text), delimiter=sep)), default=0)
    except csv.Error as exc:
        raise UnreadableFileError(f"not a readable CSV table ({exc})", file=file) from None
    if width == 0:
        return pd.DataFrame(dtype="string"), encoding
    try:
        cells = pd.read_csv(io.StringIO(text), sep=sep, header=None, names=range(width), dtype=str,
                            keep_default_na=False, na_filter=False, skip_blank_lines=False, engine="c")
    except (pd.errors.ParserError, ValueError) as exc:
        raise UnreadableFileError(f"not a readable CSV table ({str(exc).splitlines()[0]})", file=file) from None
    return cells, encoding


def _blank(cells: pd.DataFrame) -> np.ndarray:
    """True where a cell is missing or only whitespace (vectorised)."""
    if cells.shape[1] == 0:
        return np.zeros(cells.shape, dtype=bool)
    stacked = cells.astype("string")
    empty = stacked.isna().to_numpy() | stacked.apply(lambda s: s.str.strip() == "").fillna(True).to_numpy(dtype=bool)
    return empty


def _cell_text(v) -> Optional[str]:
    """One distinct cell value as text: None for blank; integral numbers without '.0' (ids keep their digits)."""
    if v is None:
        return None
    if isinstance(v, str):
        return v if v.strip() else None
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        if v != v:
            return None
        return str(int(v)) if float(v).is_integer() and abs(v) < 2**53 else repr(float(v))
    return str(v)


def _text_grid(cells) -> tuple[list[np.ndarray], np.ndarray]:
    """Every cell as text or None (blank or only whitespace), converted once per distinct value of a column.

    Returns the columns (object arrays of str/None) and the blank mask (rows x columns).
    """
    grid = cells.to_numpy(dtype=object) if isinstance(cells, pd.DataFrame) else cells
    n, k = grid.shape
    cols: list[np.ndarray] = []
    blank = np.empty((n, k), dtype=bool)
    for j in range(k):
        col = grid[:, j]
        codes, uniq = pd.factorize(col, use_na_sentinel=True)  # NaN/None -> -1
        texts = [_cell_text(u) for u in uniq] + [None]
        arr = np.array(texts, dtype=object)
        empty = np.array([t is None for t in texts], dtype=bool)
        cols.append(arr[codes])  # code -1 (missing) picks the trailing None
        blank[:, j] = empty[codes]
    return cols, blank


#: Limits on what one worksheet may make the reader allocate (far beyond any school export: the 300,000
#: students of a county in ONE sheet of 50 columns are 1.5e7 cells and about 450 MB of sheet XML).
MAX_SHEET_BYTES = 512 << 20      # the sheet's XML once unpacked (ZipInfo.file_size, read from the zip's directory)
MAX_CELLS = 50_000_000           # rows x columns of the grid that is built
#: A sheet whose declared extent (<dimension ref=...>) holds more cells than this, and more than
#: SPARSE_CELLS_PER_BYTE per byte of its XML, is mostly empty (a stray value far away): it is read cell by cell
#: (only the stored cells) instead of as one dense grid, which for a value typed in XFD1048576 would be 1.7e10
#: cells (python-calamine then aborts the whole process, which no Python code can catch).
SPARSE_MIN_CELLS = 200_000
SPARSE_CELLS_PER_BYTE = 2
#: Empty rows in a row below the table's last row beyond which a row is not part of the table (see
#: :func:`read_table`).
MAX_EMPTY_RUN = 1000

_DIMENSION = re.compile(rb'<(?:\w+:)?dimension\s+ref="([A-Z]{0,3})(\d*)(?::([A-Z]{1,3})(\d+))?"')
_REL_NS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"


def _column_number(letters: str) -> int:
    """1-based column number of Excel column letters (``A`` = 1, ``XFD`` = 16384)."""
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n


def _sheet_parts(zf: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name -> worksheet part in the zip, from xl/workbook.xml and its relationships (both small)."""
    try:
        book = ElementTree.fromstring(zf.read("xl/workbook.xml"))
        rels = ElementTree.fromstring(zf.read("xl/_rels/workbook.xml.rels"))
    except (KeyError, ElementTree.ParseError):
        return {}
    target = {r.get("Id"): r.get("Target", "") for r in rels}
    parts = {}
    for sh in book.iter():
        if sh.tag.endswith("}sheet") and sh.get("name") is not None:
            t = target.get(sh.get(f"{_REL_NS}id"), "")
            parts[sh.get("name")] = t.lstrip("/") if t.startswith("/") else posixpath.normpath(posixpath.join("xl", t))
    return parts


def _sheet_plans(path: Path, file: str) -> dict[str, tuple[str, int, int]]:
    """For each worksheet of an .xlsx/.xlsm: how to read it (``dense``/``sparse``) and its declared extent.

    Only the zip's central directory and the first 4 KB of each sheet's XML are read (no sheet is unpacked):
    a sheet whose XML unpacks to more than :data:`MAX_SHEET_BYTES` is refused, one whose declared extent is
    huge but whose XML is small is read sparsely.
    """
    plans: dict[str, tuple[str, int, int]] = {}
    try:
        with zipfile.ZipFile(path) as zf:
            for name, part in _sheet_parts(zf).items():
                try:
                    info = zf.getinfo(part)
                except KeyError:
                    continue
                if info.file_size > MAX_SHEET_BYTES:
                    raise UnreadableFileError(
                        f"the sheet unpacks to {info.file_size / 2**20:,.0f} MB of XML (more than "
                        f"{MAX_SHEET_BYTES / 2**20:,.0f} MB): far more than a school export", file=file, sheet=name,
                        hint="Export the data again (one school or one grade per file), or save it as CSV")
                with zf.open(info) as fh:
                    head = fh.read(4096)
                m = _DIMENSION.search(head)
                rows = cols = 0
                if m and m.group(4):
                    rows, cols = int(m.group(4)), _column_number(m.group(3).decode())
                elif m and m.group(2):
                    rows, cols = int(m.group(2)), _column_number(m.group(1).decode() or "A")
                cells = rows * cols
                sparse = cells > SPARSE_MIN_CELLS and cells > SPARSE_CELLS_PER_BYTE * max(info.file_size, 1)
                plans[name] = ("sparse" if sparse else "dense", rows, cols)
    except (zipfile.BadZipFile, OSError, EOFError, zlib_error):
        return {}  # not a readable zip: calamine says so with its own error
    return plans


def _sparse_grid(path: Path, file: str, name: str, n_rows: int, n_cols: int):
    """A mostly empty worksheet read cell by cell (openpyxl's streaming parser: stored cells only).

    Returns the grid of the rows and columns that hold something (rows within :data:`MAX_EMPTY_RUN` of each
    other kept with the empty rows between them, so that the table reads as from a dense grid), the 0-based
    file row of each grid row, and the declared extent.
    """
    try:
        from openpyxl import load_workbook
        from openpyxl.worksheet._reader import WorkSheetParser

        wb = load_workbook(path, read_only=True, data_only=True)
        ws = wb[name]
        cells: dict[int, dict[int, object]] = {}
        with ws._get_source() as src:
            parser = WorkSheetParser(src, ws._shared_strings, data_only=True, epoch=wb.epoch,
                                     date_formats=wb._date_formats, timedelta_formats=wb._timedelta_formats)
            for r, row in parser.parse():
                for c in row:
                    v = c.get("value")
                    if v is None or (isinstance(v, str) and not v.strip()):
                        continue
                    cells.setdefault(r - 1, {})[c["column"] - 1] = v
        wb.close()
    except Exception as exc:
        raise UnreadableFileError(f"the sheet could not be read ({type(exc).__name__})", file=file, sheet=name) from None
    filled = np.array(sorted(cells), dtype=np.int64)
    if not len(filled):
        return np.empty((0, 0), dtype=object), np.empty(0, dtype=np.int64), n_rows, n_cols
    keep = [np.array([filled[0]])]
    for a, b in zip(filled[:-1], filled[1:]):  # one step per row that holds something (a sparse sheet has few)
        keep.append(np.arange(a + 1, b + 1) if b - a - 1 <= MAX_EMPTY_RUN else np.array([b]))
    rows = np.concatenate(keep)
    width = max(max(v) for v in cells.values()) + 1
    if len(rows) * width > MAX_CELLS:
        raise UnreadableFileError(
            f"the sheet holds values spread over {len(rows):,} rows and {width:,} columns (more than "
            f"{MAX_CELLS:,} cells): values typed far away from the table", file=file, sheet=name,
            hint="Delete the rows and columns below and to the right of the table (Ctrl+End shows the last "
                 "used cell), save, and screen again")
    grid = np.full((len(rows), width), None, dtype=object)
    at = {int(r): i for i, r in enumerate(rows)}
    for r, vals in cells.items():
        for c, v in vals.items():
            grid[at[r], c] = v
    return grid, rows, max(n_rows, int(filled[-1]) + 1), max(n_cols, width)


def _excel_grids(path: Path, file: str) -> list[tuple]:
    """Every sheet of a workbook: (name, grid of Python values, 0-based file rows or None, rows, columns).

    python-calamine reads each sheet straight into a grid (no pandas round trip). For .xlsx/.xlsm the zip is
    checked first (:func:`_sheet_plans`): a sheet that would make the reader allocate without bound is read
    sparsely or refused with an :class:`UnreadableFileError`, never handed to calamine.
    """
    plans = _sheet_plans(path, file) if path.suffix.lower() in (".xlsx", ".xlsm") else {}
    try:
        from python_calamine import CalamineWorkbook

        wb = CalamineWorkbook.from_path(str(path))
        names = list(wb.sheet_names)
    except Exception as exc:  # calamine raises its own error types for broken files
        raise UnreadableFileError(f"not a readable Excel workbook ({type(exc).__name__})", file=file,
                                  hint="Check that the file opens in Excel; save it again as .xlsx") from None
    if not names:
        raise UnreadableFileError("the workbook has no sheet", file=file)
    grids = []
    for name in names:
        how, n_rows, n_cols = plans.get(name, ("dense", 0, 0))
        if how == "sparse":
            grids.append((name, *_sparse_grid(path, file, name, n_rows, n_cols)))
            continue
        if n_rows * n_cols > MAX_CELLS:
            raise UnreadableFileError(
                f"the sheet declares {n_rows:,} rows and {n_cols:,} columns (more than {MAX_CELLS:,} cells)",
                file=file, sheet=name, hint="Export the data again (one school or one grade per file), or save "
                                            "it as CSV")
        try:
            rows = wb.get_sheet_by_name(name).to_python(skip_empty_area=False)
        except Exception as exc:
            raise UnreadableFileError(f"the sheet could not be read ({type(exc).__name__})", file=file,
                                      sheet=name) from None
        width = max((len(r) for r in rows), default=0)
        if rows and width and any(len(r) != width for r in rows):
            rows = [list(r) + [None] * (width - len(r)) for r in rows]
        grid = np.empty((len(rows), width), dtype=object)
        if rows and width:
            grid[:, :] = rows
        grids.append((name, grid, None, grid.shape[0], grid.shape[1]))
    return grids


def _sav_grid(path: Path, file: str) -> pd.DataFrame:
    """An SPSS .sav file as a grid: the variable names as the first row, then the values (codes, not labels)."""
    try:
        import pyreadstat

        data, _meta = pyreadstat.read_sav(str(path), apply_value_formats=False)
    except Exception as exc:
        raise UnreadableFileError(f"not a readable SPSS file ({type(exc).__name__})", file=file) from None
    header = pd.DataFrame([[str(c) for c in data.columns]], columns=range(data.shape[1]), dtype=object)
    body = data.astype(object)
    body.columns = range(data.shape[1])
    return pd.concat([header, body], ignore_index=True)


def _detect_header(blank: np.ndarray) -> int:
    """0-based header row: the first row at least half as full as the fullest of the first 25 rows.

    Title rows above the header (one merged cell: a title, an export date) hold one or two cells and are
    skipped.
    """
    filled = (~blank).sum(axis=1)
    rows = np.flatnonzero(filled > 0)
    if not len(rows):
        return 0
    early = rows[:25]
    need = max(2, int(np.ceil(0.5 * filled[early].max())))
    ok = early[filled[early] >= need]
    return int(ok[0]) if len(ok) else int(rows[0])


def _two_row_header(blank: np.ndarray, h: int, last_col: int) -> bool:
    """A merged two-row header: the top row has gaps (merged group cells) that the next row fills, and the
    next row is blank under some header of the top row (cells merged downwards)."""
    if h + 1 >= blank.shape[0]:
        return False
    top = ~blank[h, :last_col + 1]
    nxt = ~blank[h + 1, :last_col + 1]
    if not top.any():
        return False
    gaps = ~top
    gaps[:int(np.flatnonzero(top)[0])] = False
    return bool(gaps.any() and nxt[gaps].all() and (top & ~nxt).any())


_ID_LIKE = re.compile(r"^(?:\d{6,}|0\d{2,})$")  # a student id: 6+ digits, or digits with a leading zero


@lru_cache(maxsize=1)
def _answer_labels() -> frozenset:
    """Every response option label (zh, en, aliases) of the shipped instruments, as comparison keys."""
    from .instrument import list_instruments

    keys = set()
    for iid in list_instruments():
        inst = load_instrument(iid)
        for it in inst.item_list:
            keys.update(k for k in inst.label_map(it.number) if not _is_number(k))
    return frozenset(keys)


def _is_number(text: str) -> bool:
    try:
        return np.isfinite(float(text))
    except ValueError:
        return False


def _looks_like_answers(header: Sequence[str]) -> bool:
    """True when a header row reads as a student's row: a student id, or mostly answers.

    Answers are response labels (好几天, Several days) or numbers that repeat (a few response codes over many
    items: at most half of them distinct). Column headers numbered 1..9, 1..7 (two instruments) are distinct
    enough to stay headers; a student id (six or more digits, or digits with a leading zero) never is one.
    """
    cells = [text_key(t) for t in header if t]
    if not cells:
        return False
    if any(_ID_LIKE.match(c) for c in cells):
        return True
    labels = _answer_labels()
    numbers = [c for c in cells if _is_number(c)]
    n_labels = sum(c in labels for c in cells)
    answerish = len(numbers) + n_labels
    repeats = n_labels > 0 or (len(numbers) >= 3 and len(set(numbers)) <= len(numbers) / 2)
    return 2 * answerish >= len(cells) and repeats


def _table_end(blank: np.ndarray, file_rows: np.ndarray, h: int) -> tuple[int, np.ndarray]:
    """The grid row where the table ends and the grid rows below it that hold something.

    The table ends before the first run of more than :data:`MAX_EMPTY_RUN` empty rows below its header: a
    value typed far below it (an ``x`` in row 1048576) is a row of its own, set aside, not the end of a table of
    a million empty rows.
    """
    filled = np.flatnonzero(~blank.all(axis=1))
    filled = filled[filled >= h]
    if not len(filled):
        return h, filled
    gaps = np.diff(file_rows[filled]) - 1
    breaks = np.flatnonzero(gaps > MAX_EMPTY_RUN)
    if not len(breaks):
        return int(filled[-1]), filled[:0]
    return int(filled[breaks[0]]), filled[breaks[0] + 1:]


def _table_from_grid(cells, file: str, sheet: Optional[str], encoding: Optional[str],
                     header_row: Optional[int] = None, rows: Optional[np.ndarray] = None,
                     extent: Optional[tuple[int, int]] = None) -> RawTable:
    """A RawTable from a grid of cells: the header found below title rows (or as told), a two-row merged header
    joined into one header per column, trailing empty rows and columns dropped and counted.

    ``rows`` holds the 0-based file row of each grid row when the grid is not every row of the sheet (a sparse
    sheet); ``extent`` is the sheet's (rows, columns), to count what was dropped.
    """
    cols, blank = _text_grid(cells) if cells.size else ([], np.zeros((0, 0), dtype=bool))
    file_rows = np.arange(blank.shape[0], dtype=np.int64) if rows is None else np.asarray(rows, dtype=np.int64)
    n_rows, n_cols = extent or blank.shape
    if not blank.size or blank.all():
        raise UnreadableFileError("the table is empty", file=file, sheet=sheet,
                                  hint="Check that this is the right file (and sheet)")
    two = False
    if header_row is None:
        h = _detect_header(blank)
        last_row, detached = _table_end(blank, file_rows, h)
        last_col = int(np.flatnonzero(~blank[max(h - 1, 0):last_row + 1].all(axis=0))[-1])
        if h > 0 and (~blank[h - 1, :last_col + 1]).sum() >= 2 and _two_row_header(blank, h - 1, last_col):
            h, two = h - 1, True  # the group row of a merged header sits above the fuller item row
        elif _two_row_header(blank, h, last_col):
            two = True
    else:
        if header_row < 1:
            raise UnreadableFileError(f"header row {header_row} does not exist (rows start at 1)", file=file, sheet=sheet)
        h = int(np.searchsorted(file_rows, header_row - 1))
        last_filled = int(file_rows[np.flatnonzero(~blank.all(axis=1))[-1]])
        if header_row - 1 > last_filled:
            raise UnreadableFileError(f"header row {header_row} is past the last row with data ({last_filled + 1})",
                                      file=file, sheet=sheet)
        if file_rows[h] != header_row - 1:
            raise UnreadableFileError(f"header row {header_row} is empty", file=file, sheet=sheet,
                                      hint="Give the row that holds the column names")
        last_row, detached = _table_end(blank, file_rows, h)
    filled_cols = np.flatnonzero(~blank[h:last_row + 1].all(axis=0))
    last_col = int(filled_cols[-1]) if len(filled_cols) else -1
    top = ["" if blank[h, j] else str(cols[j][h]) for j in range(last_col + 1)]
    start = h + 1
    if two:
        sub = ["" if blank[h + 1, j] else str(cols[j][h + 1]) for j in range(last_col + 1)]
        group, joined = "", []
        for t, s in zip(top, sub):
            if t:
                group = t
            # a cell merged down keeps its own text; an item under a merged group becomes "group item"
            joined.append(f"{group} {s}".strip() if s and group else (s or t))
        top = joined
        start = h + 2
    if header_row is None and _looks_like_answers(top):
        raise UnreadableFileError(
            "the first row of the table holds answers or a student id, not column names: the export seems to "
            "have been saved without its header row", file=file, sheet=sheet, row=int(file_rows[h]) + 1,
            hint="Add the header row (学号, 姓名 and the question columns, as the survey platform names them) above "
                 "the first student, or export again with the headers, and screen again")
    if rows is None and not len(detached):  # the usual case: consecutive rows, a RangeIndex
        take: Union[slice, np.ndarray] = slice(start, last_row + 1)
        index = pd.RangeIndex(start + 1, last_row + 2, name="row")
    else:
        take = np.r_[np.arange(start, last_row + 1), detached]
        index = pd.Index(file_rows[take] + 1, name="row")
    body = pd.DataFrame({j: pd.array(cols[j][take], dtype=_TEXT) for j in range(last_col + 1)}, index=index)
    body.columns = _clean_headers(top)
    return RawTable(frame=body, file=file, sheet=sheet, encoding=encoding, header_row=int(file_rows[h]) + 1,
                    empty_rows_dropped=int(n_rows - 1 - file_rows[last_row] - len(detached)),
                    empty_columns_dropped=int(n_cols - 1 - last_col), source_headers=tuple(top),
                    detached_rows=tuple(int(r) + 1 for r in file_rows[detached]))


def _parquet_grid(path: Path, file: str) -> pd.DataFrame:
    try:
        data = pd.read_parquet(path)
    except Exception as exc:
        raise UnreadableFileError(f"not a readable parquet file ({type(exc).__name__})", file=file) from None
    header = pd.DataFrame([[str(c) for c in data.columns]], columns=range(data.shape[1]))
    body = _as_text(data.reset_index(drop=True))
    body.columns = range(data.shape[1])
    return pd.concat([header.astype("string"), body], ignore_index=True)


def _grids(path: Path, file: str) -> tuple[list[tuple], Optional[str]]:
    """For every sheet of the file: (sheet name, grid, 0-based file rows or None, rows, columns); and the text
    encoding (CSV)."""
    suffix = path.suffix.lower()

    def whole(cells):
        return (None, cells, None, *cells.shape)
    if suffix in _CSV_SUFFIXES:
        cells, encoding = _read_csv_cells(path, file)
        return [whole(cells)], encoding
    if suffix in _EXCEL_SUFFIXES:
        return list(_excel_grids(path, file)), None
    if suffix in _SAV_SUFFIXES:
        return [whole(_sav_grid(path, file))], None
    if suffix == ".parquet":
        return [whole(_parquet_grid(path, file))], None
    raise UnreadableFileError(f"cannot read {suffix or 'a file without extension'!r} files", file=file,
                              hint="Give a .csv, .xlsx, .xls, .sav or .parquet file")


def read_table(path: Union[str, Path], *, sheet: Optional[Union[str, int]] = None,
               header_row: Optional[int] = None) -> RawTable:
    """Read one export into a :class:`RawTable` of text cells.

    Parameters
    ----------
    path : str or Path
        ``.csv``/``.tsv``/``.txt`` (encoding and delimiter detected), ``.xlsx``/``.xls``/``.xlsm``/``.ods``
        (python-calamine), SPSS ``.sav`` (pyreadstat: codes, not value labels; headers are the variable
        names) or ``.parquet``.
    sheet : str or int, optional
        Excel sheet name or 0-based position; default the first sheet (:func:`read_sheets` reads them all).
    header_row : int, optional
        The row (1-based, as numbered in the file) holding the headers. Default: found. Title rows above the
        header (a merged title cell, an export date) are skipped: the header is the first row at least half
        as full as the fullest of the first rows. A two-row header with merged cells (``PHQ-9`` merged over
        ``1 2 3 ...``, ``学号`` merged down over both rows) becomes one header per column (``PHQ-9 1``).

    Returns
    -------
    RawTable

    Raises
    ------
    UnreadableFileError
        The file is missing or cannot be read as a table; the message says what to do.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.csv"
    >>> _ = p.write_bytes("学号,第1题\\n007,1\\n,\\n".encode("gbk"))
    >>> t = read_table(p)
    >>> t.encoding, t.frame["学号"].tolist(), t.frame.index.tolist(), t.empty_rows_dropped
    ('gb18030', ['007'], [2], 1)
    >>> p2 = pathlib.Path(tempfile.mkdtemp()) / "b.csv"
    >>> _ = p2.write_text("2026年秋季筛查\\n学号,姓名,第1题\\n007,张三,1\\n", encoding="utf-8")
    >>> t = read_table(p2)
    >>> t.header_row, list(t.frame.columns), t.frame.index.tolist()
    (2, ['学号', '姓名', '第1题'], [3])
    """
    path = Path(path)
    file = str(path)
    if not path.is_file():
        raise UnreadableFileError("file not found", file=file)
    grids, encoding = _grids(path, file)
    if path.suffix.lower() in _EXCEL_SUFFIXES:
        names = [g[0] for g in grids]
        if sheet is None:
            k = 0
        elif isinstance(sheet, int):
            if not 0 <= sheet < len(names):
                raise UnreadableFileError(f"no sheet number {sheet}; sheets: {', '.join(names)}", file=file)
            k = sheet
        else:
            if sheet not in names:
                raise UnreadableFileError(f"no sheet {sheet!r}; sheets: {', '.join(names)}", file=file,
                                          hint="Give one of these with --sheet")
            k = names.index(sheet)
        grids = [grids[k]]
    name, cells, rows, n_rows, n_cols = grids[0]
    return _table_from_grid(cells, file, name, encoding, header_row, rows, (n_rows, n_cols))


def read_sheets(path: Union[str, Path]) -> list[RawTable]:
    """Every sheet of an export that holds a table (as :func:`read_table` reads one), empty sheets left out.

    Raises
    ------
    UnreadableFileError
        The file cannot be read, or no sheet holds a table.

    Examples
    --------
    >>> import tempfile, pathlib, pandas as pd
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.xlsx"
    >>> with pd.ExcelWriter(p, engine="xlsxwriter") as w:
    ...     pd.DataFrame({"说明": ["答卷见后两页"]}).to_excel(w, sheet_name="说明", index=False)
    ...     pd.DataFrame({"学号": ["001"], "gad7.1": [2]}).to_excel(w, sheet_name="初一", index=False)
    ...     _ = w.book.add_worksheet("空白")
    >>> [(t.sheet, len(t.frame)) for t in read_sheets(p)]
    [('说明', 1), ('初一', 1)]
    """
    path = Path(path)
    file = str(path)
    if not path.is_file():
        raise UnreadableFileError("file not found", file=file)
    grids, encoding = _grids(path, file)
    tables = []
    for name, cells, rows, n_rows, n_cols in grids:
        try:
            t = _table_from_grid(cells, file, name, encoding, rows=rows, extent=(n_rows, n_cols))
        except UnreadableFileError:
            if len(grids) == 1:
                raise
            continue  # an empty sheet among others
        if len(t.frame) or len(grids) == 1:
            tables.append(t)
    if not tables:
        raise UnreadableFileError("no sheet holds a table", file=file, hint="Check that this is the right file")
    return tables


# ---- column maps -------------------------------------------------------------------------------

def _check_target(target: str, instruments: Optional[Sequence[Instrument]]) -> Optional[str]:
    """None when ``target`` is a valid column-map target, else what is wrong with it."""
    if target in FIELDS:
        return None
    m = _ITEM_RE.match(target)
    if not m:
        return (f"target {target!r} is neither '<instrument>.<item number>' (e.g. phq9.1) nor a field "
                f"({', '.join(FIELDS)})")
    if instruments is not None:
        by_id = {i.id: i for i in instruments}
        inst = by_id.get(m.group(1))
        if inst is not None and int(m.group(2)) not in {it.number for it in inst.item_list}:
            return f"target {target!r}: {inst.id} has items 1..{max(it.number for it in inst.item_list)}"
    return None


def load_column_map(path: Union[str, Path], instruments: Optional[Iterable[Union[str, Instrument]]] = None) -> dict[str, str]:
    """Read a column map: two columns, the export's header and its target.

    A target is ``<instrument>.<item number>`` (``phq9.1``) or one of :data:`FIELDS`. The first row is taken
    as a header (and skipped) when its target cell is not a valid target (e.g. ``source,target`` or
    ``原列名,目标``). Blank lines are skipped.

    Parameters
    ----------
    path : str or Path
        ``.csv`` (any encoding :func:`read_table` detects) or an Excel file (first sheet).
    instruments : list, optional
        When given, item targets of these instruments are checked against their item numbers.

    Returns
    -------
    dict
        Source header (NFKC, outer spaces stripped) -> target.

    Raises
    ------
    ColumnMapError
        Every problem, each with its line number: an empty cell, a bad target, a source listed twice, a
        third column with content. Two different sources for one target are allowed (a county map covering
        several exports); two of them present in the same file stop that file in :func:`normalise`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "map.csv"
    >>> _ = p.write_text("source,target\\n学号,student_id\\n第1题,phq9.1\\n", encoding="utf-8")
    >>> load_column_map(p)
    {'学号': 'student_id', '第1题': 'phq9.1'}
    """
    insts = None if instruments is None else [load_instrument(i) for i in ([instruments] if isinstance(instruments, (str, Instrument)) else instruments)]
    path = Path(path)
    try:
        raw = read_table(path, header_row=1)
    except UnreadableFileError as exc:
        if "the table is empty" in str(exc):
            raise ColumnMapError(str(path), ["the file is empty"]) from None
        raise
    # read_table took row 1 as the header: put it back as a data line and decide.
    first = pd.DataFrame([list(raw.source_headers)], index=pd.Index([raw.header_row], name="row"))
    body = raw.frame.copy()
    body.columns = range(body.shape[1])
    first.columns = range(first.shape[1])
    lines = pd.concat([first.astype("string"), body.astype("string")])
    problems: list[str] = []
    if lines.shape[1] < 2:
        raise ColumnMapError(str(path), ["the map needs two columns: the source header and the target"])
    if lines.shape[1] > 2:
        extra = lines.iloc[:, 2:].notna().any(axis=1)
        for r in lines.index[extra]:
            problems.append(f"line {r}: more than two cells (only source and target are read)")
    src = lines.iloc[:, 0].map(lambda v: None if pd.isna(v) else _norm_header(v), na_action=None)
    tgt = lines.iloc[:, 1].map(lambda v: None if pd.isna(v) else text_key(v), na_action=None)
    start = 0
    if tgt.iloc[0] is None or _check_target(tgt.iloc[0], None) is not None:
        start = 1  # a header line
    out: dict[str, str] = {}
    first_line: dict[str, int] = {}
    for r, s, t in zip(lines.index[start:], src.iloc[start:], tgt.iloc[start:]):
        if not s and not t:
            continue
        if not s:
            problems.append(f"line {r}: the source column is empty (target {t!r})")
            continue
        if not t:
            problems.append(f"line {r}: no target for source {s!r}")
            continue
        why = _check_target(t, insts)
        if why:
            problems.append(f"line {r}: {why}")
            continue
        k = text_key(s)
        if k in first_line:
            problems.append(f"line {r}: source {s!r} is already mapped on line {first_line[k]}")
            continue
        # Two different sources may share a target: a county map covers several schools' exports
        # (``第1题`` in one, ``1、做事时...`` in another). Two such sources present in the SAME file are an
        # error, raised by normalise() when that file is read.
        first_line[k] = r
        out[s] = t
    if problems:
        raise ColumnMapError(str(path), problems)
    if not out:
        raise ColumnMapError(str(path), ["the map has no source/target lines"])
    return out


# ---- normalising -------------------------------------------------------------------------------

def _empty_problems() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="Int64" if c == "row" else object) for c in PROBLEM_COLUMNS})


def _resolve_columns(raw: RawTable, insts: Sequence[Instrument], column_map: Optional[Mapping[str, str]]):
    """Source header -> target, the unused headers, and the map sources absent from the file."""
    cmap = {text_key(k): text_key(v) for k, v in (column_map or {}).items()}
    for src, t in (column_map or {}).items():
        why = _check_target(text_key(t), insts)
        if why:
            raise ColumnMapError(raw.file, [f"{src!r}: {why}"])
    aliases = {text_key(k): v for k, v in FIELD_ALIASES.items()}
    inst_ids = {i.id for i in insts}
    item_numbers = {i.id: {it.number for it in i.item_list} for i in insts}
    candidates: list[tuple[str, str, bool]] = []  # (header, target, named in the map)
    unused: list[str] = []
    found_keys = set()
    for h in raw.frame.columns:
        k = text_key(h)
        found_keys.add(k)
        if k in cmap:
            candidates.append((h, cmap[k], True))
            continue
        if _ITEM_RE.match(text_key(h)) or text_key(h) in FIELDS:
            t = text_key(h)
        elif k in aliases:
            t = aliases[k]
        else:
            unused.append(h)
            continue
        m = _ITEM_RE.match(t)
        if m and (m.group(1) not in inst_ids or int(m.group(2)) not in item_numbers[m.group(1)]):
            unused.append(h)  # another instrument, or an item number the instrument does not have
            continue
        candidates.append((h, t, False))
    # The map wins: its columns first; a header recognised only by name may not take a field it already gave.
    by_target: dict[str, str] = {}
    chosen: set[str] = set()
    for h, t, explicit in sorted(candidates, key=lambda c: not c[2]):
        if t in by_target:
            if t in FIELDS and not explicit:
                unused.append(h)  # e.g. both 学号 and 学籍号, or the map named another column for the field
                continue
            raise ColumnMapError(raw.file, [f"columns {by_target[t]!r} and {h!r} both map to {t!r}"])
        by_target[t] = h
        chosen.add(h)
    mapping = {h: t for h, t, _ in candidates if h in chosen}  # in the order of the file
    absent = [k for k in (column_map or {}) if text_key(k) not in found_keys]
    return mapping, unused, absent


def _code_lookup(values: np.ndarray, inst: Instrument, number: int) -> tuple[dict, dict]:
    """For each distinct text answer: its code (float) and, if it is not acceptable, why."""
    codes = inst.item_codes(number)
    labels = inst.label_map(number)
    code_of: dict = {}
    why: dict = {}
    shown = ", ".join(f"{c:g}" for c in codes)
    for v in values:
        k = text_key(v)
        if k == "":
            code_of[v] = np.nan
            continue
        if k in labels:
            code_of[v] = labels[k]
            continue
        try:
            x = float(k)
        except ValueError:
            x = None
        if x is not None and np.isfinite(x):
            code_of[v] = x
            if not np.isin(x, codes):
                why[v] = (f"not a response code of {inst.id} item {number} (codes {shown}; "
                          f"range {codes[0]:g}-{codes[-1]:g})")
        else:
            code_of[v] = np.nan
            why[v] = (f"neither a response code ({shown}) nor an option label of {inst.id} item {number}")
    return code_of, why


def normalise(raw: RawTable, instruments: Union[str, Instrument, Iterable[Union[str, Instrument]]],
              column_map: Optional[Mapping[str, str]] = None) -> Normalised:
    """Map the columns of ``raw`` and turn its answers into response codes.

    Parameters
    ----------
    raw : RawTable
        From :func:`read_table` (or :meth:`RawTable.from_frame`).
    instruments : str, Instrument or list of them
    column_map : dict, optional
        Source header -> target (``<instrument>.<item>`` or a field), e.g. from :func:`load_column_map`.
        Headers already named ``<instrument>.<item>``, named like a field, or one of :data:`FIELD_ALIASES`
        need no map; the map wins over these.

    Returns
    -------
    Normalised

    Raises
    ------
    MissingItemColumnsError
        A scored item of an instrument has no column; lists them and suggests a column map.
    ColumnMapError
        Two columns map to one target, or a map target is not an item of the instrument.

    Notes
    -----
    Each answer cell is compared after NFKC (full-width digits and letters become ASCII), with all whitespace
    removed and case folded, to the item's response codes and to its option labels (zh, en, aliases). The
    comparison runs once per distinct value of a column (``Series.map``), not once per row. Blank cells are
    NaN (not answered), never 0. Entirely empty rows inside the table are set aside as problems.

    Examples
    --------
    >>> import pandas as pd
    >>> answers = {f"gad7.{i}": ["1"] * 4 for i in range(2, 8)}
    >>> raw = RawTable.from_frame(pd.DataFrame({"gad7.1": ["Several days", "３", " ", "7"], **answers}))
    >>> n = normalise(raw, "gad7")
    >>> n.frame["gad7.1"].tolist()
    [1.0, 3.0, nan, 7.0]
    >>> n.problems[["row", "cell", "column", "value"]].to_dict("records")
    [{'row': 5, 'cell': 'A5', 'column': 'gad7.1', 'value': '7'}]
    """
    if isinstance(instruments, (str, Instrument)):
        instruments = [instruments]
    insts = [load_instrument(i) for i in instruments]
    mapping, unused, absent = _resolve_columns(raw, insts, column_map)
    targets = set(mapping.values())
    missing = {}
    for inst in insts:
        lost = [c for c in inst.required_item_columns if c not in targets]
        if lost:
            missing[inst.id] = lost
    if missing:
        raise MissingItemColumnsError(raw.file, raw.sheet, missing, unmapped=unused, map_sources_absent=absent)

    src = raw.frame
    position = {h: j for j, h in enumerate(src.columns)}
    out: dict[str, pd.Series] = {}
    field_cols = sorted((h for h, t in mapping.items() if t in FIELDS), key=lambda h: FIELDS.index(mapping[h]))
    for h in field_cols:
        s = src[h].astype("string")
        uniq = s.dropna().unique()
        clean = {v: (unicodedata.normalize("NFKC", v).strip() or None) for v in uniq}
        out[mapping[h]] = s.map(clean).astype("string")
    parts = []
    for inst in insts:
        for it in inst.item_list:
            target = f"{inst.id}.{it.number}"
            h = next((k for k, t in mapping.items() if t == target), None)
            if h is None:  # an unscored or optional item without a column
                out[target] = pd.Series(np.nan, index=src.index, dtype=float)
                continue
            s = src[h]
            given = s.dropna()
            code_of, why = _code_lookup(given.unique(), inst, it.number)
            out[target] = s.map(code_of).astype(float)
            if why:
                bad = given[given.isin(list(why))]
                parts.append(pd.DataFrame({
                    "file": raw.file, "sheet": raw.sheet, "row": bad.index.to_numpy(),
                    "cell": _excel_letter(position[h]) + bad.index.astype(str),
                    "column": h, "item": target, "value": bad.to_numpy(dtype=object),
                    "reason": bad.map(why).to_numpy(dtype=object),
                }))
    if raw.detached_rows:
        rows = pd.Index(raw.detached_rows)
        parts.append(pd.DataFrame({
            "file": raw.file, "sheet": raw.sheet, "row": rows.to_numpy(), "cell": "A" + rows.astype(str),
            "column": "", "item": "", "value": "",
            "reason": (f"the row lies below more than {MAX_EMPTY_RUN:,} empty rows after the table: not read as a "
                       "student. If it belongs to the table, delete the empty rows above it and screen again; "
                       "otherwise delete it")}))
    empty_row = src.isna().all(axis=1) & ~src.index.isin(raw.detached_rows)
    if empty_row.any():
        rows = src.index[empty_row.to_numpy()]
        parts.append(pd.DataFrame({"file": raw.file, "sheet": raw.sheet, "row": rows.to_numpy(),
                                   "cell": "A" + rows.astype(str), "column": "", "item": "", "value": "",
                                   "reason": "the row is empty"}))
    frame = pd.DataFrame(out, index=src.index)
    problems = (pd.concat(parts, ignore_index=True) if parts else _empty_problems())
    problems = problems.astype({"row": "Int64"}).sort_values(["row", "cell"], kind="stable").reset_index(drop=True)
    problems = problems[list(PROBLEM_COLUMNS)]
    return Normalised(frame=frame, problems=problems, columns=dict(mapping), unused_columns=tuple(unused),
                      file=raw.file, sheet=raw.sheet)


def score_table(raw: RawTable, instruments: Union[str, Instrument, Iterable[Union[str, Instrument]]],
                column_map: Optional[Mapping[str, str]] = None, *, keep_items: bool = False) -> ScoredTable:
    """Normalise and score one table; rows with a problem are quarantined, never guessed.

    Parameters
    ----------
    raw : RawTable
    instruments : str, Instrument or list of them
    column_map : dict, optional
        See :func:`normalise`.
    keep_items : bool
        Also keep the item answers (codes) in ``scores``.

    Returns
    -------
    ScoredTable
        ``scores`` (one row per scored row: ``file``, ``sheet`` for Excel, ``row``, fields, [items], scores),
        ``quarantine`` (one line per problem) and ``ledger`` (rows read = rows scored + rows quarantined).
    """
    if isinstance(instruments, (str, Instrument)):
        instruments = [instruments]
    insts = [load_instrument(i) for i in instruments]
    norm = normalise(raw, insts, column_map)
    good = norm.good
    item_cols = [c for inst in insts for c in inst.item_columns]
    scored = score_with_quarantine(good[item_cols], insts)
    problems = norm.problems
    if len(scored.quarantine):  # a guard: normalise already checks the codes, scoring checks again
        q = scored.quarantine
        inv = {t: h for h, t in norm.columns.items()}
        position = {h: j for j, h in enumerate(raw.frame.columns)}
        extra = pd.DataFrame({
            "file": raw.file, "sheet": raw.sheet, "row": q["row"].to_numpy(),
            "cell": [f"{_excel_letter(position[inv[c]])}{r}" if c in inv else "" for c, r in zip(q["column"], q["row"])],
            "column": [inv.get(c, c) for c in q["column"]], "item": q["column"].to_numpy(),
            "value": q["value"].to_numpy(dtype=object), "reason": q["reason"].to_numpy(dtype=object)})
        problems = pd.concat([problems, extra.astype({"row": "Int64"})], ignore_index=True)
    bad_rows = set(problems["row"].dropna().astype(int).tolist())
    kept = scored.scores.loc[~scored.scores.index.isin(list(bad_rows))]
    fields = good.loc[kept.index, [c for c in FIELDS if c in good.columns]]
    front = pd.DataFrame({"file": pd.Series(raw.file, index=kept.index, dtype="string")})
    if raw.sheet is not None:
        front["sheet"] = pd.Series(raw.sheet, index=kept.index, dtype="string")
    front["row"] = kept.index.to_numpy(dtype=np.int64)
    blocks = [front, fields]
    if keep_items:
        blocks.append(good.loc[kept.index, item_cols])
    blocks.append(kept)
    scores = pd.concat(blocks, axis=1)
    ledger = Ledger(file=raw.file, sheet=raw.sheet, encoding=raw.encoding, rows_read=len(raw.frame),
                    rows_scored=len(scores), rows_quarantined=len(bad_rows),
                    empty_rows_dropped=raw.empty_rows_dropped, empty_columns_dropped=raw.empty_columns_dropped)
    return ScoredTable(scores=scores, quarantine=problems.reset_index(drop=True), ledger=ledger)
