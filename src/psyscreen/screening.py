"""One screening wave of a county, end to end: exports in, routed outputs and a manifest out.

:func:`screen` is the Python face of ``psyscreen screen``; the command adds only a progress display and a
closing table. The flow (DESIGN.md, "The flow of one screening wave"):

0. **the folder**: one run, one folder. ``out`` must be new or empty; a folder holding another run is refused
   unless ``replace=True`` (``--replace``), which removes that run's outputs first (only in a psyscreen output
   folder). Files given that are not exports (another format, a note such as ``说明.txt``: see
   :func:`collect_inputs`) are listed with status ``skipped`` and do not make the run incomplete.
1. **read** every export (:func:`read_export`: csv in any detected encoding, xlsx/xls with title rows above
   the header, a two-row header with merged cells, several sheets; SPSS ``.sav``; parquet). A file that
   cannot be read, or whose reading fails in any way (memory included), is reported (status ``unreadable``)
   and the others still run. Students in grades outside the protocol's population are a warning of their file.
2. **map** the columns with the column map (:func:`psyscreen.mapping.load_map`) and the names psyscreen knows.
   Nothing is guessed: a file with unmapped item columns, or with a column whose map line is still marked
   ``check``, is stopped (status ``stopped``) with the list of what is missing and a suggested map written to
   ``DIR/maps/<file>.map.csv`` for a person to check; the other files continue.
3. **normalise** answers (:func:`psyscreen.ingest.normalise`) and demographics
   (:mod:`psyscreen.demographics`); a row with an answer that is not a response code or label, or without a
   student id, is quarantined (file, sheet, row, column, value, reason).
4. **critical answers first**: as soon as a file is read, rows with a critical answer (any row: scored,
   quarantined or a duplicate) go to ``DIR/critical.xlsx``, rewritten as the batch goes (at most every 2 s,
   and never more than a fifth of the reading time), marked "still being written" until complete, and
   complete before any scoring of the batch starts.
5. **duplicates** (:func:`psyscreen.quality.resolve_duplicates`, latest scorable submission kept);
   **careless responding** flagged (longstring, too fast), not deleted.
6. **score**, **norm** (``norms=``: ``.pr``/``.t`` columns), **classify** with the protocol.
7. **write**: ``students.parquet``, ``answers.parquet``, ``quarantine.xlsx`` and ``duplicates.xlsx`` (for
   people: headers in the run's language, the wave in the title line), the school folders (one per school,
   :func:`psyscreen.io.unique_file_names`) and the county summary (:mod:`psyscreen.report`; a writer that fails
   is recorded, the others are written), ``index.html`` (which file goes to whom), then ``manifest.json`` last.

Every output gets the run's :class:`psyscreen.wave.RunInfo` (wave, county, ``complete``/``incomplete`` and the
files not processed); the critical list, rewritten while files are read, says ``in_progress`` until the end. The
manifest's ``status`` is ``complete`` only when every export was processed and every output written.

The ledger, per file and in total: ``rows = scored + quarantined + duplicates``. A stopped or unreadable file
enters the ledger with ``rows = 0`` (nothing of it was processed; ``rows_in_file`` says how many rows it
holds) and makes :attr:`ScreenResult.ok` False (``psyscreen screen`` then exits with status 1).

Nothing here logs or prints a student's name, id or answer: logs carry file names, counts and column names.

Examples
--------
>>> import psyscreen.screening as s, pathlib, tempfile
>>> sample = pathlib.Path(s.__file__).resolve().parents[2] / "data" / "sample"
>>> res = s.screen([sample / "2026-09"], protocol="default", wave="2026-09",
...                out=pathlib.Path(tempfile.mkdtemp()) / "out", column_map=sample / "column_map.csv",
...                reports=False)
>>> res.ok, res.totals["rows"] == res.totals["scored"] + res.totals["quarantined"] + res.totals["duplicates"]
(True, True)
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
import os
import re
import shutil
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Optional, Sequence, Union

import numpy as np
import pandas as pd

from . import __version__, report
from ._results import ResultMixin
from .demographics import GRADE_CODING, normalise_demographics
from .ingest import (PROBLEM_COLUMNS, ColumnMapError, IngestError, MissingItemColumnsError, RawTable, normalise)
from .io import Sheet, atomic_write, file_name, unique_file_names, write_table, write_workbook
from .mapping import ColumnMap, MapFileError, load_map, suggest_map
from .instrument import load_instrument
from .protocol import INVALID_LEVEL, NONE_LEVEL, UNDECIDED_LEVEL, load_protocol
from .quality import (DUPLICATE_RULE, LONGSTRING_MIN_RUN, SECONDS_PER_ITEM, longstring, resolve_duplicates,
                      too_fast)
from .wave import NotProcessed, RunInfo, WaveError, parse_wave


__all__ = ["screen", "ScreenResult", "read_export", "find_inputs", "collect_inputs", "Inputs", "ScreenError",
           "LEDGER_COLUMNS", "INPUT_SUFFIXES", "population_grades"]

log = logging.getLogger("psyscreen.screening")

INPUT_SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx", ".xlsm", ".xls", ".ods", ".sav", ".parquet")
LEDGER_COLUMNS = ("file", "sha256", "rows", "scored", "quarantined", "duplicates", "status", "reason")
_CRITICAL_EVERY = 2.0  # seconds: the critical list is rewritten at most this often while files are read
_ORDER_BASE = 10_000_000  # order key = file number * base + row number


class ScreenError(ValueError):
    """Arguments that make a screening impossible (no input, a bad protocol, map or key file)."""


# ---- results -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ScreenResult(ResultMixin):
    """What one :func:`screen` run produced.

    Attributes
    ----------
    out : Path
        The output folder.
    paths : dict
        Output name -> path (``manifest``, ``students``, ``answers``, ``critical``, ``quarantine``, ``county``,
        ``schools``, ``maps``...).
    ledger : DataFrame
        One row per input file: :data:`LEDGER_COLUMNS` (``file`` is the file name), ``rows_in_file`` and
        ``path``.
    totals : dict
        ``rows``, ``scored``, ``quarantined``, ``duplicates`` over all files.
    levels : dict
        Level -> number of students.
    critical : int
        Students (rows) on the critical list.
    ok : bool
        The run is complete: every export was read and processed (no ``unreadable`` or ``stopped`` file;
        ``skipped`` files, which are not exports, do not count) and every output was written.
    manifest : dict
    status : {"complete", "incomplete"}
        As in the manifest: ``incomplete`` when a file was not processed or an output could not be written.
    run : RunInfo
    notes : tuple of str
        What the run did not do that a person must know (e.g. an incomplete wave not imported into the archive).
        Wave, county, status and the files not processed, as every output shows them.
    """

    out: Path
    paths: dict
    ledger: pd.DataFrame
    totals: dict
    levels: dict
    critical: int
    ok: bool
    manifest: dict = field(default_factory=dict)
    status: str = "complete"
    run: Optional[RunInfo] = None
    notes: tuple = ()

    @property
    def counts(self) -> dict:
        """Totals and levels in one dict (files, students, quarantined ...)."""
        return {"files": len(self.ledger), **self.totals, "critical": self.critical, "levels": dict(self.levels)}

    def to_frame(self) -> pd.DataFrame:
        return self.ledger


# ---- reading ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Inputs:
    """The files a screening was given: the exports, and the files set aside as not exports (with the reason)."""

    exports: list
    skipped: list  # [(Path, reason)]


_DOC_NAME = re.compile(r"readme|read_me|说明|备注|注意事项|须知|notes?\b", re.IGNORECASE)
_TEXT_SUFFIXES = (".csv", ".tsv", ".txt")
_SNIFF_BYTES = 64 * 1024
_SNIFF_LINES = 20


def _looks_like_table(path: Path) -> bool:
    """True when one of the first 20 non-empty lines splits into 3 or more columns on a tab, comma, ``;`` or ``|``.

    An export always has a header with a student id and the item columns, so a text file none of whose first
    lines has three columns is a note (``说明.txt``), not an export. Text that cannot be decoded, and an empty
    file, count as a table: the reader then says what is wrong with it (an empty export is not a note).
    """
    with open(path, "rb") as fh:
        head = fh.read(_SNIFF_BYTES)
    if not head.strip() or head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head:
        return True  # empty, or UTF-16 (Excel's "Unicode text" export): the reader decides
    for enc in ("utf-8", "gb18030"):
        try:
            text = head.decode(enc)
            break
        except UnicodeDecodeError as exc:
            if exc.start > len(head) - 4:  # a character cut by the sniffing window
                text = head[:exc.start].decode(enc)
                break
    else:
        return True
    lines = [ln for ln in text.splitlines() if ln.strip()][:_SNIFF_LINES]
    return any(ln.count(d) >= 2 for ln in lines for d in ("\t", ",", ";", "|"))


def _skip_reason(path: Path) -> Optional[str]:
    """Why ``path`` is not an export (None when it may be one).

    The rule: a file whose extension is not a table format psyscreen reads (:data:`INPUT_SUFFIXES`); a ``.txt``
    named like a note (``说明``, ``readme``, ``备注``, ``注意事项``, ``notes``); a ``.csv``/``.tsv``/``.txt`` with no
    table in its first lines (:func:`_looks_like_table`).
    """
    suffix = path.suffix.lower()
    if suffix not in INPUT_SUFFIXES:
        return f"not an export: {suffix or 'a file without extension'} is not a table format psyscreen reads"
    if suffix == ".txt" and _DOC_NAME.search(path.stem):
        return "not an export: a note or readme (by its name)"
    if suffix in _TEXT_SUFFIXES:
        try:
            if not _looks_like_table(path):
                return ("not an export: none of its first lines splits into 3 or more columns "
                        "(tab, comma, semicolon or |): a note, not a table")
        except OSError:
            return None  # the reader reports it as unreadable
    return None


def collect_inputs(paths: Iterable[Union[str, Path]]) -> Inputs:
    """The exports among the files given and inside the folders given, and the files that are not exports.

    Folders are searched recursively (sorted; hidden files and Office lock files ``~$...`` are ignored). A file
    that is not an export (see :func:`_skip_reason`: another format, a note such as ``说明.txt``, a text file
    with no table in it) is returned in ``skipped`` with the reason; :func:`screen` lists it in the ledger and
    the manifest with status ``skipped``, and it does not make the run incomplete.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "一中.csv").write_text("学号,姓名,PHQ1,PHQ2\\n1,张三,0,1\\n", encoding="utf-8")
    >>> _ = (d / "说明.txt").write_text("请于九月底前上传。\\n", encoding="utf-8")
    >>> found = collect_inputs([d])
    >>> [p.name for p in found.exports], [(p.name, r[:13]) for p, r in found.skipped]
    (['一中.csv'], [('说明.txt', 'not an export')])
    """
    out: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            out.extend(sorted(f for f in p.rglob("*") if f.is_file() and not f.name.startswith((".", "~$"))))
        else:
            out.append(p)
    seen, exports, skipped = set(), [], []
    for p in out:
        k = p.resolve()
        if k in seen:
            continue
        seen.add(k)
        reason = _skip_reason(p) if p.is_file() else None
        if reason:
            skipped.append((p, reason))
        else:
            exports.append(p)
    return Inputs(exports, skipped)


def find_inputs(paths: Iterable[Union[str, Path]]) -> list[Path]:
    """The export files given, and those inside folders given (see :func:`collect_inputs`; notes are left out)."""
    return collect_inputs(paths).exports


def read_export(path: Union[str, Path]) -> list[RawTable]:
    """Every sheet of one export that holds a table: :func:`psyscreen.ingest.read_sheets`.

    Title rows above the header are skipped, a two-row header with merged cells becomes one header per
    column (``PHQ-9 1``), every non-empty sheet of a workbook is returned, SPSS ``.sav`` files are read.

    Raises
    ------
    UnreadableFileError
        The file cannot be read, or holds no table at all.
    """
    from .ingest import read_sheets

    return read_sheets(path)


# ---- helpers -------------------------------------------------------------------------------------

def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _pseudonymiser(keyfile: Optional[Union[str, Path]]) -> Optional[Callable[[pd.Series], pd.Series]]:
    """``ids -> keys`` with :func:`psyscreen.privacy.pseudonymise` under the key in ``keyfile`` (None: no key)."""
    if keyfile is None:
        return None
    from .privacy import load_key, pseudonymise

    try:
        key = load_key(keyfile)
    except ValueError as exc:  # KeyFileError: the message never shows the key
        raise ScreenError(str(exc)) from None
    return lambda ids: pseudonymise(ids, key)


@dataclass
class _FileOutcome:
    path: Path
    sha256: str = ""
    status: str = "ok"
    reason: str = ""
    rows_in_file: int = 0
    frame: Optional[pd.DataFrame] = None  # fields + items + _file/_sheet/_row/_order/_ok
    problems: Optional[pd.DataFrame] = None
    notes: list = field(default_factory=list)
    schools: list = field(default_factory=list)  # the school names in its school column (when recognised)


def _school_names(tables: Sequence[RawTable], mapping: dict) -> list[str]:
    """The distinct values of the school column of a file's sheets (a mapped column or a known header)."""
    from ._text import text_key
    from .ingest import FIELD_ALIASES

    known = {text_key(k) for k, v in FIELD_ALIASES.items() if v == "school"} | {"school"}
    mapped = {text_key(h) for h, t in mapping.items() if t == "school"}
    names: set[str] = set()
    for raw in tables:
        for h in raw.frame.columns:
            if text_key(h) in known | mapped:
                v = raw.frame[h].dropna().astype(str).str.strip()
                names |= set(v[v != ""].unique().tolist())
    return sorted(names)


def _stop_reason(exc: Exception, suggested: Optional[Path]) -> str:
    if isinstance(exc, MissingItemColumnsError):
        parts = [f"{inst}: {len(cols)} item column(s) not mapped ({', '.join(cols[:12])}{' ...' if len(cols) > 12 else ''})"
                 for inst, cols in exc.missing.items()]
        text = "; ".join(parts)
    else:
        text = str(exc)
    if suggested is not None:
        text += f". Suggested map: {suggested} (check it, then pass it with --map)"
    return text


def _write_suggestion(raw: RawTable, protocol, maps_dir: Path, path: Path) -> Optional[Path]:
    try:
        sug = suggest_map(list(raw.frame.columns), protocol)
    except Exception:  # a suggestion is a help, never a reason to fail
        return None
    maps_dir.mkdir(parents=True, exist_ok=True)
    target = maps_dir / f"{file_name(path.stem)}{'.' + file_name(raw.sheet) if raw.sheet else ''}.map.csv"
    write_table(sug, target)
    return target


def _process_file(path: Path, number: int, insts, protocol, cmap: Optional[ColumnMap], maps_dir: Path) -> _FileOutcome:
    out = _FileOutcome(path=path)
    try:
        out.sha256 = _sha256(path)
    except OSError:
        out.status, out.reason = "unreadable", "file not found or not readable"
        return out
    try:
        tables = read_export(path)
    except (IngestError, OSError) as exc:
        out.status = "unreadable"
        out.reason = str(exc) if isinstance(exc, IngestError) else f"cannot read the file ({type(exc).__name__})"
        return out
    out.rows_in_file = sum(len(t.frame) for t in tables)
    mapping = dict(cmap.mapping) if cmap else {}
    try:
        out.schools = _school_names(tables, mapping)
    except Exception:  # noqa: BLE001 - the names only label a file that is not processed
        out.schools = []
    doubtful = dict(cmap.doubtful) if cmap else {}
    item_ids = {i.id for i in insts}
    frames, problems = [], []
    used_tables = 0
    first_error: Optional[tuple[Exception, RawTable]] = None
    for raw in tables:
        keys = {re.sub(r"\s+", "", h).casefold(): h for h in raw.frame.columns}
        dbt = [h for s, h in ((re.sub(r"\s+", "", unicodedata.normalize("NFKC", s)).casefold(), s) for s in doubtful)
               if s in keys]
        # a county map: keep only the lines whose source is in this sheet (two such lines for one target
        # in the same sheet are an error raised by normalise)
        local = {h: t for h, t in mapping.items() if re.sub(r"\s+", "", unicodedata.normalize("NFKC", h)).casefold() in keys}
        if dbt:
            sug = _write_suggestion(raw, protocol, maps_dir, path)
            where = f"sheet {raw.sheet!r}: " if raw.sheet and len(tables) > 1 else ""
            out.status = "stopped"
            out.reason = (f"{where}{len(dbt)} column(s) whose map line is still marked 'check': "
                          f"{', '.join(dbt[:12])}{' ...' if len(dbt) > 12 else ''}"
                          + (f". Suggested map: {sug} (check it, then pass it with --map)" if sug else ""))
            return out
        try:
            norm = normalise(raw, insts, local)
        except (MissingItemColumnsError, ColumnMapError) as exc:
            # a sheet with no column of the screening at all (notes, a code book) is skipped when another
            # sheet holds the data; otherwise the file stops
            touches = [h for h in raw.frame.columns
                       if (local.get(h) or h).split(".")[0] in item_ids or (local.get(h) or h) == "student_id"
                       or h in ("学号",)]
            if isinstance(exc, MissingItemColumnsError) and not touches and len(tables) > 1:
                out.notes.append(f"sheet {raw.sheet!r} skipped: no column of the screening")
                out.rows_in_file -= len(raw.frame)
                continue
            if first_error is None:
                first_error = (exc, raw)
            continue
        used_tables += 1
        f = normalise_demographics(norm.frame)
        f["_file"] = number
        f["_sheet"] = raw.sheet
        f["_row"] = f.index.to_numpy(dtype=np.int64)
        frames.append(f.reset_index(drop=True))
        p = norm.problems.copy()
        if "student_id" in f.columns:
            no_id = f["student_id"].isna().to_numpy()
            rows = f["_row"].to_numpy()[no_id]
            src = next((h for h, t in norm.columns.items() if t == "student_id"), "student_id")
            already = set(p["row"].dropna().astype(int).tolist())
            rows = [r for r in rows if r not in already]
            if rows:
                p = pd.concat([p, pd.DataFrame({"file": raw.file, "sheet": raw.sheet, "row": rows, "cell": "",
                                                "column": src, "item": "", "value": "",
                                                "reason": "no student id: the row cannot be routed"})],
                              ignore_index=True)
        else:
            first_error = first_error or (MissingItemColumnsError(raw.file, raw.sheet, {"fields": ["student_id"]}), raw)
            frames.pop()
            used_tables -= 1
            continue
        problems.append(p)
    if first_error is not None:
        exc, raw = first_error
        sug = _write_suggestion(raw, protocol, maps_dir, path)
        where = f"sheet {raw.sheet!r}: " if raw.sheet and len(tables) > 1 else ""
        out.status = "stopped"
        out.reason = where + _stop_reason(exc, sug)
        out.frame = None
        return out
    out.frame = pd.concat(frames, ignore_index=True) if frames else None
    out.problems = (pd.concat(problems, ignore_index=True) if problems else
                    pd.DataFrame(columns=list(PROBLEM_COLUMNS)))
    if out.frame is not None:
        bad = pd.MultiIndex.from_arrays([out.problems["sheet"].astype(object).where(out.problems["sheet"].notna(), None),
                                         out.problems["row"].astype("Int64").astype(object)]) if len(out.problems) else None
        key = pd.MultiIndex.from_arrays([out.frame["_sheet"].astype(object).where(out.frame["_sheet"].notna(), None),
                                         out.frame["_row"].astype(object)])
        out.frame["_ok"] = ~key.isin(bad) if bad is not None else True
        out.frame["_order"] = number * _ORDER_BASE + out.frame["_row"].to_numpy(dtype=np.int64)
    return out


NOT_SCREENED_REASON = "no answer to any scored item: not screened"


def _mark_not_screened(o: _FileOutcome, insts) -> None:
    """Quarantine the rows of a read file that answer no scored item of the protocol's instruments.

    Such a row is a student who was not screened (absent, a blank sheet, a roster line), not a screened
    student whose level is ``undecided``: it is quarantined with :data:`NOT_SCREENED_REASON`, so the ledger's
    ``rows = scored + quarantined + duplicates`` counts it as not screened. Rows already quarantined for
    another reason (an empty row, no id, an unreadable answer) keep their reason. In place, vectorised.

    Examples
    --------
    >>> import pandas as pd
    >>> from psyscreen.instrument import load_instrument
    >>> f = pd.DataFrame({**{f"gad7.{i}": [1.0, None] for i in range(1, 8)}, "_sheet": None, "_row": [2, 3],
    ...                   "_ok": True})
    >>> o = _FileOutcome(path=Path("a.csv"), frame=f, problems=pd.DataFrame(columns=list(PROBLEM_COLUMNS)))
    >>> _mark_not_screened(o, [load_instrument("gad7")])
    >>> o.frame["_ok"].tolist(), o.problems["row"].tolist()
    ([True, False], [3])
    """
    if o.status != "ok" or o.frame is None or not len(o.frame):
        return
    scored = [f"{i.id}.{it.number}" for i in insts for it in i.item_list if it.scored]
    ok = o.frame["_ok"].to_numpy(dtype=bool)
    none = ok & o.frame[scored].isna().all(axis=1).to_numpy()
    if not none.any():
        return
    rows = o.frame.loc[none]
    o.frame["_ok"] = ok & ~none
    o.problems = pd.concat([o.problems, pd.DataFrame({
        "file": o.path.name, "sheet": rows["_sheet"].to_numpy(dtype=object),
        "row": rows["_row"].to_numpy(dtype=np.int64), "cell": "", "column": "", "item": "", "value": "",
        "reason": NOT_SCREENED_REASON})], ignore_index=True)


def _critical_unreadable(frame: pd.DataFrame, insts, protocol, problems: pd.DataFrame) -> dict[str, np.ndarray]:
    """Rows whose answer to a critical item cannot be read (not a response code), with the reason in words.

    Such a row is quarantined (its answer is not guessed), and the student also goes on the critical list: a
    critical answer that cannot be read may be the one that matters, so it is checked the same day. Returns
    ``{"mask": bool array, "zh": texts, "en": texts}`` aligned with ``frame`` (empty texts where not unreadable).
    """
    n = len(frame)
    out = {"mask": np.zeros(n, dtype=bool), "zh": np.full(n, "", dtype=object), "en": np.full(n, "", dtype=object)}
    if not protocol.critical.enabled:
        return out
    ids = protocol.critical.instruments or [i.id for i in insts if i.critical]
    key = pd.MultiIndex.from_arrays([frame["_sheet"].astype(object).where(frame["_sheet"].notna(), None),
                                     frame["_row"].astype(object)])
    for inst in insts:
        if inst.id not in ids:
            continue
        for c in inst.critical:
            col = f"{inst.id}.{c.item}"
            x = frame[col].to_numpy(dtype=float)
            bad = ~np.isnan(x) & ~np.isin(x, inst.item_codes(c.item))  # a number that is not a code
            p = problems.loc[problems["item"] == col] if len(problems) else problems
            if len(p):  # text that is neither a code nor a label (NaN in the frame, located in the problems)
                pk = pd.MultiIndex.from_arrays([p["sheet"].astype(object).where(p["sheet"].notna(), None),
                                                p["row"].astype("Int64").astype(object)])
                bad |= key.isin(pk)
            if not bad.any():
                continue
            name = inst.abbreviation or inst.id
            out["mask"] |= bad
            _join_text(out["zh"], bad, f"危机条目作答无法识别（{name} 第{c.item}题）：请当天核实")
            _join_text(out["en"], bad, f"critical item unreadable ({name} item {c.item}): check today")
    return out


def _join_text(acc: np.ndarray, mask: np.ndarray, text: str) -> None:
    acc[mask] = np.where(acc[mask] == "", text, acc[mask] + "; " + text)


def _critical_rows(frame: pd.DataFrame, insts, protocol, problems: pd.DataFrame) -> pd.DataFrame:
    """Rows of one file with a critical answer (any row, problems masked), with the reason in words.

    A row whose answer to a critical item cannot be read (``4`` or ``x`` on PHQ-9 item 9) is on the list too,
    at the protocol's critical level, with the reason "critical item unreadable (PHQ-9 item 9): check today":
    until a person has read the sheet, the worst reading is assumed (it is also in the quarantine).
    """
    from ._text import map_unique
    from .classify import classify
    from .scoring import score

    crit_insts = [i for i in insts if i.critical]
    if frame is None or not len(frame) or not crit_insts:
        return pd.DataFrame()
    items = frame[[c for i in insts for c in i.item_columns]].copy()
    for inst in insts:  # mask cells that are not a response code, so that scoring accepts every row
        for c in inst.item_columns:
            n = int(c.split(".")[1])
            codes = inst.item_codes(n)
            x = items[c].to_numpy(dtype=float)
            items[c] = np.where(np.isin(x, codes), x, np.nan)
    scores = score(items, insts)
    fired = np.zeros(len(frame), dtype=bool)
    for inst in crit_insts:
        col = scores.get(f"{inst.id}.critical")
        if col is not None:
            fired |= col.fillna(False).to_numpy(dtype=bool)
    unread = _critical_unreadable(frame, insts, protocol, problems)
    listed = fired | unread["mask"]
    if not listed.any():
        return pd.DataFrame()
    sub = scores.loc[listed]
    cls = classify(sub, protocol, answers=items.loc[listed])
    out = frame.loc[listed, [c for c in ("student_id", "name", "school", "grade", "class", "sex", "submitted_at")
                             if c in frame.columns] + ["_file", "_sheet", "_row", "_order", "_ok"]].copy()
    level = cls["level"].astype("string").to_numpy(dtype=object)
    rank = cls["level_rank"].astype("Float64").to_numpy(dtype=float, na_value=np.inf)
    reasons = {"zh": cls["reasons"].fillna("").to_numpy(dtype=object),
               "en": cls["reasons_en"].fillna("").to_numpy(dtype=object)}
    bad = unread["mask"][listed]
    if bad.any():
        crit = protocol.level(protocol.critical.level)
        worse = bad & (rank > crit.rank)
        level[worse], rank[worse] = crit.code, crit.rank
        for lang in ("zh", "en"):  # "unreadable" first; "critical item not answered" would contradict it
            rest = map_unique(pd.Series(reasons[lang][bad], dtype="string"), _drop_not_answered).to_numpy(dtype=object)
            head = unread[lang][listed][bad]
            reasons[lang][bad] = np.where(rest == "", head, head + "; " + rest.astype(object))
    out["reasons"] = reasons["zh"]
    out["reasons_en"] = reasons["en"]
    out["level"] = level
    out["_rank"] = rank
    return out


def _drop_not_answered(text: str) -> str:
    """A reasons string without its "critical item(s) not answered" parts (zh and en)."""
    parts = [p for p in str(text).split("; ")
             if p and not (p.startswith("无法判定：") and "危机条目未作答" in p)
             and not (p.startswith("not decided: ") and "critical item(s) not answered" in p)]
    return "; ".join(parts)


_CRITICAL_COLUMNS = ("student_key", "student_id", "name", "school", "grade", "class", "reasons", "level", "status",
                     "file", "row", "sources", "note")


def _source_labels(rows: pd.DataFrame, paths: Sequence[Path], multi_sheet: set, lang: str) -> np.ndarray:
    """``a.csv row 12`` (zh ``a.csv 第12行``) for each row; the sheet is named in workbooks with several."""
    names = np.array([Path(p).name for p in paths], dtype=object)[rows["_file"].to_numpy(dtype=np.int64)]
    sheet = rows["_sheet"].astype(object).where(rows["_sheet"].notna(), "").to_numpy(dtype=object)
    named = np.isin(rows["_file"].to_numpy(dtype=np.int64), list(multi_sheet)) & (sheet != "")
    where = np.where(named, names + np.where(named, " [" + sheet.astype(str) + "]", ""), names)
    r = rows["_row"].to_numpy(dtype=np.int64).astype(str).astype(object)
    return where + (" 第" + r + "行" if lang == "zh" else " row " + r)


def _submission_columns(o: _FileOutcome, cols: list) -> dict:
    """The columns of a read file that the duplicate rule reads, as plain arrays, made once per file and kept."""
    cached = getattr(o, "_submissions", None)
    if cached is None:
        f = o.frame
        cached = {c: (f[c].to_numpy(dtype=object, na_value=None) if c in f.columns else np.full(len(f), None, dtype=object))
                  if c in ("student_id", "submitted_at", "_sheet") else f[c].to_numpy() for c in cols}
        cached["_multi_sheet"] = bool(len(f)) and f["_sheet"].nunique() > 1
        o._submissions = cached
    return cached


def _critical_sources(crit: pd.DataFrame, paths: Sequence[Path], lang: str, outcomes) -> pd.DataFrame:
    """One entry per student of the critical rows: the row shown, its reasons, and the rows that fed it.

    The ledger's duplicate rule (:data:`psyscreen.quality.DUPLICATE_RULE`) is applied to every submission of
    the critical students read so far (``outcomes``), so the submission named as kept is the one the ledger
    keeps. The row shown is the critical row that rule prefers; the reasons are those of every critical row of
    the student (each said once) and the level the most urgent: a critical answer in a submission that is not
    the kept one still reaches the list. Rows without a student id are entries of their own.
    """
    c = crit.reset_index(drop=True)
    ids = c["student_id"].astype("string") if "student_id" in c else pd.Series(pd.NA, index=c.index, dtype="string")
    ent = pd.Series(ids.to_numpy(dtype=object), index=c.index)
    ent[ids.isna().to_numpy()] = ["\0row" + str(i) for i in np.flatnonzero(ids.isna().to_numpy())]
    cols = ["student_id", "submitted_at", "_file", "_sheet", "_row", "_order", "_ok"]
    read = [_submission_columns(o, cols) for o in outcomes
            if getattr(o, "frame", None) is not None and o.status == "ok" and "student_id" in o.frame.columns]
    wanted = pd.Index(ids.dropna().unique().to_numpy(dtype=object))
    if read:  # the critical students with several submissions: one hash lookup over the ids read so far
        every = {c: np.concatenate([r[c] for r in read]) for c in cols}
        hit = np.flatnonzero(wanted.get_indexer(every["student_id"]) >= 0)
        hit = hit[pd.Series(every["student_id"][hit]).duplicated(keep=False).to_numpy()]
        sub = pd.DataFrame({c: v[hit] for c, v in every.items()})
    else:
        sub = pd.DataFrame(columns=cols)
    multi_sheet = {int(r["_file"][0]) for r in read if r["_multi_sheet"]}
    # the representative critical row of each student: the one the duplicate rule keeps among them
    rep = np.ones(len(c), dtype=bool)
    twice = (ids.notna() & ids.duplicated(keep=False)).to_numpy()
    if twice.any():
        d = c.loc[twice]
        rep[twice] = resolve_duplicates(ids[twice], submitted_at=d.get("submitted_at"),
                                        order=d["_order"].to_numpy(dtype=np.int64), ok=d["_ok"].to_numpy(dtype=bool)).keep
    shown = c.loc[rep].copy()
    shown["_ent"] = ent[rep].to_numpy()
    # a student with several critical rows: the reasons of all, representative first, each said once; the
    # most urgent level (the few such students only; the others keep their row as it is)
    c["_ent"] = ent.to_numpy()
    c["_first"] = ~rep
    several_rows = c["_ent"].duplicated(keep=False).to_numpy()
    if several_rows.any():
        order = c.loc[several_rows].sort_values(["_ent", "_first"], kind="stable")
        sel = shown["_ent"].isin(order["_ent"]).to_numpy()
        for col in ("reasons", "reasons_en"):
            joined = order.groupby("_ent", sort=False)[col].agg(
                lambda s: "; ".join(dict.fromkeys(p for t in s for p in str(t).split("; ") if p)))
            shown.loc[sel, col] = joined.reindex(shown.loc[sel, "_ent"]).to_numpy()
        best = order.sort_values(["_ent", "_rank"], kind="stable").drop_duplicates("_ent").set_index("_ent")
        shown.loc[sel, "level"] = best["level"].reindex(shown.loc[sel, "_ent"]).to_numpy()
    shown["sources"] = pd.NA
    shown["note"] = pd.NA
    # every submission of each critical student: several -> the sources and a note in words
    if len(sub):
        sub = sub.astype({"student_id": "string"}).reset_index(drop=True)
        kept = resolve_duplicates(sub["student_id"], submitted_at=sub["submitted_at"],
                                  order=sub["_order"].to_numpy(dtype=np.int64), ok=sub["_ok"].to_numpy(dtype=bool)).keep
        sub["_label"] = _source_labels(sub, paths, multi_sheet, lang)
        ckey = pd.MultiIndex.from_arrays([c["_file"].astype(np.int64), c["_sheet"].astype(object).where(c["_sheet"].notna(), None),
                                          c["_row"].astype(np.int64)])
        skey = pd.MultiIndex.from_arrays([sub["_file"].astype(np.int64), sub["_sheet"].astype(object).where(sub["_sheet"].notna(), None),
                                          sub["_row"].astype(np.int64)])
        sub["_crit"] = skey.isin(ckey)
        sub["_kept"] = kept
        sub = sub.sort_values("_order", kind="stable")
        g = sub.groupby("student_id", sort=False)
        n = g.size()
        several = n[n > 1].index
        if len(several):
            s = sub[sub["student_id"].isin(several)]
            gs = s.groupby("student_id", sort=False)
            sep = "；" if lang == "zh" else "; "
            sources = gs["_label"].agg(sep.join)
            kept_at = s.loc[s["_kept"]].set_index("student_id")["_label"]
            crit_at = s.loc[s["_crit"]].groupby("student_id", sort=False)["_label"].agg(("、" if lang == "zh" else ", ").join)
            table = pd.DataFrame({"n": n.reindex(several), "sources": sources, "kept": kept_at.reindex(several),
                                  "crit": crit_at.reindex(several)})
            if lang == "zh":
                note = ("该学号有 " + table["n"].astype(str) + " 份作答；按重复提交规则（同一学号保留最新的可计分作答）保留 "
                        + table["kept"] + "；危机作答见 " + table["crit"])
            else:
                note = (table["n"].astype(str) + " submissions with this student id; the duplicate rule (latest "
                        "scorable submission kept) keeps " + table["kept"] + "; critical answer in " + table["crit"])
            sel = shown["_ent"].isin(several).to_numpy()
            shown.loc[sel, "sources"] = table["sources"].reindex(shown.loc[sel, "_ent"]).to_numpy()
            shown.loc[sel, "note"] = note.reindex(shown.loc[sel, "_ent"]).to_numpy()
    return shown.drop(columns=["_ent"])


def _critical_frame(crit: pd.DataFrame, paths: Sequence[Path], lang: str, keyer, outcomes=()) -> pd.DataFrame:
    """The critical list: one row per student (duplicates resolved as the ledger does; see
    :func:`_critical_sources`), ``sources`` and ``note`` naming the rows that fed an entry when there are several.
    """
    if crit is None or not len(crit):
        return pd.DataFrame({c: pd.Series(dtype="string") for c in _CRITICAL_COLUMNS})
    c = _critical_sources(crit, paths, lang, outcomes)
    ids = c["student_id"].astype("string") if "student_id" in c else pd.Series(pd.NA, index=c.index, dtype="string")
    out = pd.DataFrame({
        "student_key": keyer(ids) if keyer else ids,
        "student_id": ids,
        "name": c["name"].astype("string") if "name" in c else pd.Series(pd.NA, index=c.index, dtype="string"),
        "school": c.get("school", pd.Series(pd.NA, index=c.index)).astype("string"),
        "grade": c.get("grade", pd.Series(pd.NA, index=c.index)).astype("Int64"),
        "class": c.get("class", pd.Series(pd.NA, index=c.index)).astype("string"),
        "reasons": (c["reasons"] if lang == "zh" else c["reasons_en"]).astype("string"),
        "level": c["level"].astype("string"),
        "status": np.where(c["_ok"].to_numpy(dtype=bool), "scored", "quarantined"),
        "file": np.array([Path(p).name for p in paths], dtype=object)[c["_file"].to_numpy(dtype=np.int64)],
        "row": c["_row"].astype(np.int64),
        "sources": c["sources"].astype("string"),
        "note": c["note"].astype("string"),
    })
    return out.reset_index(drop=True)


def _write_critical(frame: pd.DataFrame, path: Path, lang: str, protocol, run: Optional[RunInfo] = None) -> None:
    report.write_critical(frame, path, lang=lang, protocol=protocol, run=run)


# ---- one run, one folder -----------------------------------------------------------------------------

_MARKER = ".psyscreen-run"  # written first, removed after manifest.json: a killed run's folder is still ours


def _prepare_out(out: Path, replace: bool, own: Sequence[Path]) -> None:
    """Make ``out`` an empty folder for this run, or refuse (:class:`ScreenError`) when it holds another run.

    A folder with files is used only with ``replace=True``, and only when it is a psyscreen output (it has a
    ``manifest.json``, or the marker of a run that was stopped before its manifest): its previous contents are
    removed (inside ``out`` only; links are removed, never followed). ``own`` are this run's own files (inputs,
    map, norms, key, archive): ``--replace`` refuses a folder that holds one of them.
    """
    if out.exists() and not out.is_dir():
        raise ScreenError(f"the output folder {out} is a file: give a folder (--out)")
    entries = sorted(out.iterdir()) if out.is_dir() else []
    if not entries:
        out.mkdir(parents=True, exist_ok=True)
        return
    ours = (out / "manifest.json").is_file() or (out / _MARKER).is_file()
    if not replace:
        what = ("the outputs of another run (manifest.json)" if ours else
                f"{len(entries)} file(s) or folder(s) ({', '.join(e.name for e in entries[:3])}"
                f"{' ...' if len(entries) > 3 else ''})")
        raise ScreenError(f"the output folder {out} already holds {what}: one run, one folder. Give a new or empty "
                          "folder with --out" + (", or pass --replace to remove that run's outputs first" if ours else ""))
    if not ours:
        raise ScreenError(f"--replace refused: {out} holds files but no manifest.json, so it is not a psyscreen output "
                          "folder; nothing was removed. Give a new or empty folder with --out")
    root = out.resolve()
    for p in own:
        rp = Path(p).resolve()
        if rp == root or root in rp.parents:
            raise ScreenError(f"--replace refused: {p} (given to this run) is inside the output folder {out}; "
                              "nothing was removed. Move it out of the folder, or give another --out")
    for e in entries:
        if e.is_dir() and not e.is_symlink():
            shutil.rmtree(e)
        else:
            e.unlink()


# ---- the population of the protocol ----------------------------------------------------------------

#: Grades of each school stage, coded as :data:`psyscreen.demographics.GRADE_CODING` (college years 13-16).
STAGE_GRADES = {"primary": range(1, 7), "junior": range(7, 10), "senior": range(10, 13), "college": range(13, 17)}


def population_grades(population) -> frozenset:
    """The grades a protocol's population covers, coded as in ``students.parquet`` (college year 1 = 13).

    Every grade of its stages when ``grades`` is empty; else the listed grades that fall in its stages (a
    college protocol's ``grades: [1]`` is the freshmen, grade 13).

    Examples
    --------
    >>> from psyscreen.protocol import load_protocol
    >>> sorted(population_grades(load_protocol("college").population))
    [13]
    >>> sorted(population_grades(load_protocol("primary").population))
    [4, 5, 6]
    """
    out: set[int] = set()
    for stage in population.stages:
        rng = STAGE_GRADES[stage]
        if population.grades:
            out |= {g + 12 if stage == "college" else g for g in population.grades} & set(rng)
        else:
            out |= set(rng)
    return frozenset(out)


def _span(grades: Sequence[int]) -> str:
    """``[4, 5, 6, 9]`` -> ``'4-6, 9'``."""
    parts, run = [], [grades[0]]
    for g in grades[1:]:
        if g == run[-1] + 1:
            run.append(g)
        else:
            parts.append(run)
            run = [g]
    parts.append(run)
    return ", ".join(f"{r[0]}-{r[-1]}" if len(r) > 1 else f"{r[0]}" for r in parts)


_FITTING: dict = {}


def _fitting_protocols(grades: frozenset) -> list[str]:
    """Shipped protocols whose population covers every one of ``grades``."""
    if grades not in _FITTING:
        from .protocol import list_protocols

        fit = []
        for pid in list_protocols():
            try:
                if grades <= population_grades(load_protocol(pid).population):
                    fit.append(pid)
            except Exception:  # a shipped protocol that does not load is checked by its own tests
                continue
        _FITTING[grades] = fit
    return _FITTING[grades]


def _population_note(frame: pd.DataFrame, proto, lang: str) -> Optional[str]:
    """A warning when students of one file are in grades outside the protocol's population (None otherwise)."""
    if frame is None or "grade" not in frame.columns or not len(frame):
        return None
    allowed = population_grades(proto.population)
    g = pd.to_numeric(frame["grade"], errors="coerce").to_numpy(dtype=float)
    outside = ~np.isnan(g) & ~np.isin(g, list(allowed))
    n = int(outside.sum())
    if not n:
        return None
    grades = sorted(int(x) for x in np.unique(g[outside]))
    fit = _fitting_protocols(frozenset(grades))
    if lang == "zh":
        use = f"请改用协议 {'、'.join(fit)}" if fit else "没有内置协议适用于这些年级，请选用适合的协议"
        return (f"{n} 名学生在 {_span(grades)} 年级，不在本协议（{proto.id}）的适用人群内"
                f"（{proto.population.label.get('zh')}）：{use}")
    use = f"use protocol {' or '.join(fit)}" if fit else "no shipped protocol covers them: choose a protocol for them"
    return (f"{n} student(s) in grade(s) {_span(grades)}, outside the population of protocol {proto.id} "
            f"({', '.join(proto.population.stages)}): {use}")


# ---- reading one file, isolated ------------------------------------------------------------------------

def fill_school(school: pd.Series, file_numbers: np.ndarray, file_stems: Sequence[str]) -> pd.Series:
    """A row without a school gets the school most rows of its file name, else (no school column) the file's name.

    Looked up once per file, not per student. Shared by :func:`screen` and :func:`psyscreen.read_exports`.
    """
    school = school.astype("string")
    missing = school.isna()
    if not missing.any():
        return school
    fno = pd.Series(np.asarray(file_numbers), index=school.index)
    named = pd.DataFrame({"f": fno, "s": school}).dropna()
    usual = named.groupby("f")["s"].agg(lambda x: x.value_counts().index[0]) if len(named) else pd.Series(dtype=object)
    fallback = pd.Series({k: usual.get(k, file_stems[k]) for k in fno.unique()}, dtype="string")
    return school.where(~missing, fno.map(fallback).astype("string"))


_FAILED_FILE = ("the file could not be read or processed ({kind}); its students were not screened: check the file "
                "(open and save it again, or export it anew)")


def read_file(path: Path, number: int, insts, proto, cmap, maps_dir: Path) -> _FileOutcome:
    """Read, map and normalise one export as a screening does; any failure is this file's, not the run's.

    :func:`_process_file`, then rows with no answer to any scored item set aside as not screened. An exception
    of any kind (MemoryError included) makes the file ``unreadable`` with a reason that names the kind of
    failure only (an exception's message may quote a cell). Shared by :func:`screen` and
    :func:`psyscreen.read_exports`.
    """
    try:
        o = _process_file(path, number, insts, proto, cmap, maps_dir)
        _mark_not_screened(o, insts)
        return o
    except Exception as exc:  # noqa: BLE001 - one file's failure must not stop the county
        o = _FileOutcome(path=path, status="unreadable",
                         reason=_FAILED_FILE.format(kind=type(exc).__name__))
        try:
            o.sha256 = _sha256(path)
        except OSError:
            pass
        log.warning("%s: unreadable (%s)", path.name, type(exc).__name__)
        return o


def _read_one(path: Path, number: int, insts, proto, cmap, maps_dir: Path, lang: str) -> tuple[_FileOutcome, pd.DataFrame]:
    """:func:`read_file`, the population check, and the file's critical answers (isolated the same way)."""
    o = read_file(path, number, insts, proto, cmap, maps_dir)
    if o.status != "ok":
        return o, pd.DataFrame()
    try:
        note = _population_note(o.frame, proto, lang)
        if note:
            o.notes.append(note)
        return o, _critical_rows(o.frame, insts, proto, o.problems)
    except Exception as exc:  # noqa: BLE001 - one file's failure must not stop the county
        log.warning("%s: unreadable (%s)", path.name, type(exc).__name__)
        return _FileOutcome(path=path, sha256=o.sha256, status="unreadable",
                            reason=_FAILED_FILE.format(kind=type(exc).__name__)), pd.DataFrame()


# ---- the report writers ----------------------------------------------------------------------------


def _call(job):
    fn, args, kwargs = job
    fn(*args, **kwargs)


_PR_SET_PDEATHSIG = 1


def _worker_init(parent: int) -> None:
    """Initializer of a report worker: the worker ends when the screening process ends, even by ``kill -9``.

    On Linux the kernel sends SIGKILL to the worker when its parent dies (``prctl(PR_SET_PDEATHSIG)``); on
    every system a watcher thread ends the worker when its parent process is no longer its parent.
    """
    import signal
    import sys
    import threading

    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # no libc symbol: the watcher below still ends the worker
            pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="psyscreen-parent-watch", daemon=True).start()


def _failure(exc: BaseException) -> str:
    """A failure in words without the exception's message (it may quote a name or an id in a path)."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{type(exc).__name__}: {exc.strerror}"
    return type(exc).__name__


def _run_report_jobs(jobs: list, workers: Optional[int], progress) -> list[tuple[str, str]]:
    """Write the school folders and the county outputs, in worker processes when there are several schools.

    ``jobs`` are ``(output, fn, args, kwargs)``; each writes its own files (atomically), so they are
    independent: a job that fails is reported (``[(output, reason)]``, returned) and the others are written.
    ``progress(done)`` is called as each job finishes. ``workers=None`` uses every CPU; 1 writes in this process.
    Worker processes end with this process (:func:`_worker_init`).
    """
    failed: list[tuple[str, str]] = []
    n = workers or os.cpu_count() or 1
    if n <= 1 or len(jobs) < 4 or not hasattr(os, "fork"):
        for done, (name, *job) in enumerate(jobs, 1):
            try:
                _call(job)
            except Exception as exc:  # noqa: BLE001 - one output's failure must not lose the others
                failed.append((name, _failure(exc)))
            progress(done)
        return failed
    import concurrent.futures as cf
    import multiprocessing as mp

    with cf.ProcessPoolExecutor(max_workers=min(n, len(jobs)), mp_context=mp.get_context("fork"),
                                initializer=_worker_init, initargs=(os.getpid(),)) as pool:
        futures = {pool.submit(_call, tuple(job)): name for name, *job in jobs}
        for done, fut in enumerate(cf.as_completed(futures), 1):
            try:
                fut.result()
            except Exception as exc:  # noqa: BLE001 - including a worker that died (BrokenProcessPool)
                failed.append((futures[fut], _failure(exc)))
            progress(done)
    return failed


def screen(inputs: Union[str, Path, Sequence[Union[str, Path]]], *, protocol: Union[str, Path] = "default",
           wave: Optional[str] = None, out: Union[str, Path], column_map: Optional[Union[str, Path]] = None,
           norms: Optional[Union[str, Path]] = None, pseudonymise: Optional[Union[str, Path]] = None,
           lang: str = "zh", archive: Optional[Union[str, Path]] = None, reports: bool = True,
           min_cell: int = 5, progress: Optional[Callable[[str, int, int], None]] = None,
           workers: Optional[int] = None, county: Optional[str] = None, replace: bool = False,
           contacts: Optional[Union[str, Path]] = None, allow_incomplete: bool = False) -> ScreenResult:
    """Screen one wave: read every export, score, classify, route, and write the output folder.

    Parameters
    ----------
    inputs : path or list of paths
        Export files and/or folders holding them (see :func:`find_inputs`).
    protocol : str or Path
        A shipped protocol id (``"default"``) or a YAML file.
    wave : str, optional
        The wave label ``YYYY-MM`` (``"2026-09"``, checked with :func:`psyscreen.wave.parse_wave`); default the
        name of the (first) input folder when it looks like one.
    out : str or Path
        The output folder: new or empty. A folder that holds another run is refused unless ``replace``.
    column_map : str or Path, optional
        A column map (``--map``): :func:`psyscreen.mapping.load_map`.
    norms : str or Path, optional
        A :class:`psyscreen.norms.NormTable` file, ``.json`` or the ``.xlsx`` that ``analyze norms`` writes: adds
        ``<scale>.pr`` and ``<scale>.t`` columns. A table none of whose strata occurs in the wave is refused.
    pseudonymise : str or Path, optional
        A key file: ``student_key`` is the HMAC-SHA-256 of the id (the key is never written out). The school
        folders, tables and county outputs then carry keys; ``critical.xlsx`` keeps the raw ids and names on
        purpose: it is for the county center's action the same day (the index page says so).
    lang : {"zh", "en"}
        Language of reasons and reports.
    archive : str or Path, optional
        A growth-file database: the wave is imported into it at the end (``psyscreen.archive.import_wave``).
    reports : bool
        Write the school folders and the county summary (the report writers); False writes only the
        tables, the critical list and the manifest.
    min_cell : int
        Small-cell suppression threshold of the county summary (counts 1 .. min_cell - 1 are suppressed).
    workers : int, optional
        Processes writing the school folders and the county outputs (default: one per CPU; 1 = this process).
    progress : callable, optional
        ``progress(stage, done, total)``, called as files are read (``read``), as the wave is scored
        (``score``), as the tables are written (``write``) and as each school folder or the county outputs are
        finished (``schools``).
    county : str, optional
        The county (or district): in the titles of the outputs and in the manifest.
    replace : bool
        Remove the previous run's outputs from ``out`` first (only a folder that holds a psyscreen output).
    contacts : str or Path, optional
        A contacts file (:func:`psyscreen.report.load_contacts`: school, psychological teacher, phone): fills the
        contact line of each school's family letters.
    allow_incomplete : bool
        With ``archive``: import the wave even when it is incomplete (the archive then records the schools it
        lacks). Without it an incomplete wave is not imported, and :attr:`ScreenResult.notes` says so.

    Returns
    -------
    ScreenResult
        ``status`` is ``complete`` or ``incomplete`` (a file not processed, or an output not written), as in
        the manifest (``status``, ``not_processed``, ``schools_not_screened``, ``failed_outputs``).

    Raises
    ------
    ScreenError
        No input, a wave that is not ``YYYY-MM``, an unknown language, a map, norm or key file that cannot be
        used, an output folder that holds another run.
    """
    if lang not in ("zh", "en"):
        raise ScreenError(f"lang must be 'zh' or 'en', not {lang!r}")
    if isinstance(inputs, (str, Path)):
        inputs = [inputs]
    found = collect_inputs(inputs)
    paths = found.exports
    if not paths:
        raise ScreenError("no input file: give export files or folders that hold them"
                          + (f" ({len(found.skipped)} file(s) found are not exports)" if found.skipped else ""))
    wave = _wave_of(wave, inputs)
    proto = load_protocol(protocol)
    insts = [load_instrument(i) for i in proto.load_instruments().values()]
    try:
        cmap = load_map(column_map, insts) if column_map else None
    except MapFileError as exc:
        raise ScreenError(str(exc)) from None
    norm_table = _load_norms(norms) if norms is not None else None
    keyer = _pseudonymiser(pseudonymise)
    contact_of = _load_contacts(contacts, lang) if contacts is not None else {}
    out = Path(out)
    own = [Path(x) for x in inputs] + [Path(x) for x in (column_map, norms, pseudonymise, archive, contacts)
                                       if x is not None]
    _prepare_out(out, replace, own)
    (out / _MARKER).write_text(json.dumps({"wave": wave, "started": _dt.datetime.now(_dt.timezone.utc).isoformat(
        timespec="seconds")}), encoding="utf-8")
    maps_dir = out / "maps"
    item_cols = [c for i in insts for c in i.item_columns]
    notify = progress or (lambda stage, done, total: None)
    t0 = time.perf_counter()
    log.info("screening wave %s: %d input file(s), protocol %s", wave, len(paths), proto.id)

    # 1-4: read, map, normalise; the critical list grows as files are read
    outcomes: list[_FileOutcome] = []
    crit_parts: list[pd.DataFrame] = []
    crit_path = out / "critical.xlsx"
    reading = RunInfo(wave, county=county, status="in_progress")
    _write_critical(_critical_frame(None, paths, lang, keyer, outcomes), crit_path, lang, proto, run=reading)
    last_write = time.perf_counter()
    written_crit = 0
    pause = _CRITICAL_EVERY  # seconds between rewrites: at least 2 s, and 4x the last rewrite took

    for k, path in enumerate(paths):
        notify("read", k, len(paths))
        o, c = _read_one(path, k, insts, proto, cmap, maps_dir, lang)
        outcomes.append(o)
        if o.status != "ok":
            log.warning("%s: %s (%s)", path.name, o.status, o.reason)
            continue
        if len(c):
            crit_parts.append(c)
        n_crit = sum(len(x) for x in crit_parts)
        if n_crit != written_crit and time.perf_counter() - last_write > pause:
            began = time.perf_counter()
            _write_critical(_critical_frame(pd.concat(crit_parts, ignore_index=True) if crit_parts else None,
                                            paths, lang, keyer, outcomes), crit_path, lang, proto, run=reading)
            last_write, written_crit = time.perf_counter(), n_crit
            # a large county's list takes a while to write: rewriting it costs at most a fifth of the reading time
            pause = max(_CRITICAL_EVERY, 4 * (last_write - began))
        log.info("%s: read %d row(s)", path.name, o.rows_in_file)
    notify("read", len(paths), len(paths))
    run = _run_info(wave, county, outcomes)
    crit_all = pd.concat(crit_parts, ignore_index=True) if crit_parts else None
    critical_table = _critical_frame(crit_all, paths, lang, keyer, outcomes)
    _write_critical(critical_table, crit_path, lang, proto, run=run)  # complete before anything is scored
    log.info("critical list written: %d row(s)", len(critical_table))

    # 5: duplicates across the wave
    notify("score", 0, 4)
    good = [o for o in outcomes if o.status == "ok" and o.frame is not None]
    if good:
        allrows = pd.concat([o.frame for o in good], ignore_index=True)
    else:
        allrows = pd.DataFrame({c: pd.Series(dtype=float) for c in item_cols + ["_file", "_row", "_order"]})
        allrows["_ok"] = pd.Series(dtype=bool)
        allrows["_sheet"] = pd.Series(dtype=object)
    for c in ("student_id", "name", "school", "grade", "class", "sex", "submitted_at", "duration"):
        if c not in allrows.columns:
            allrows[c] = pd.Series(pd.NA, index=allrows.index, dtype="Int64" if c == "grade" else "string")
    dup = resolve_duplicates(allrows["student_id"], submitted_at=allrows["submitted_at"],
                             order=allrows["_order"].to_numpy(dtype=np.int64), ok=allrows["_ok"].to_numpy(dtype=bool))
    is_dup = ~dup.keep
    scored_mask = allrows["_ok"].to_numpy(dtype=bool) & ~is_dup
    quarantined_mask = ~allrows["_ok"].to_numpy(dtype=bool) & ~is_dup
    dup_table = allrows.loc[is_dup, ["_file", "_sheet", "_row"]].reset_index(drop=True)
    if len(dup.table):
        kept = allrows.iloc[dup.table["kept_position"].to_numpy()]
        dup_table = pd.DataFrame({
            "file": [paths[i].name for i in allrows["_file"].to_numpy()[dup.table["position"].to_numpy()]],
            "sheet": allrows["_sheet"].to_numpy()[dup.table["position"].to_numpy()],
            "row": allrows["_row"].to_numpy()[dup.table["position"].to_numpy()],
            "kept_file": [paths[i].name for i in kept["_file"].to_numpy()],
            "kept_row": kept["_row"].to_numpy(),
            "rule": DUPLICATE_RULE})

    # 6: score, norms, classify, quality flags
    from .classify import classify
    from .scoring import score_with_quarantine

    students_rows = allrows.loc[scored_mask].reset_index(drop=True)
    notify("score", 1, 4)
    scored = score_with_quarantine(students_rows[item_cols], insts)
    notify("score", 2, 4)
    if len(scored.quarantine):  # a guard: normalise already checked the codes
        bad_pos = np.unique(scored.quarantine["row"].to_numpy())
        keep = ~np.isin(np.arange(len(students_rows)), bad_pos)
        extra = students_rows.iloc[bad_pos]
        moved = np.flatnonzero(scored_mask)[bad_pos]
        scored_mask[moved] = False
        quarantined_mask[moved] = True
        q = scored.quarantine
        outcomes_problems = pd.DataFrame({
            "file": [str(paths[i]) for i in extra["_file"].to_numpy()[np.searchsorted(bad_pos, q["row"].to_numpy())]],
            "sheet": extra["_sheet"].to_numpy()[np.searchsorted(bad_pos, q["row"].to_numpy())],
            "row": extra["_row"].to_numpy()[np.searchsorted(bad_pos, q["row"].to_numpy())],
            "cell": "", "column": q["column"].to_numpy(), "item": q["column"].to_numpy(),
            "value": q["value"].astype(str).to_numpy(), "reason": q["reason"].to_numpy()})
        students_rows = students_rows.loc[keep].reset_index(drop=True)
        scores = scored.scores.reset_index(drop=True)
    else:
        outcomes_problems = None
        scores = scored.scores.reset_index(drop=True)
    answers = students_rows[item_cols].reset_index(drop=True)
    cls = classify(scores, proto, answers=answers)
    notify("score", 3, 4)

    ids = students_rows["student_id"].astype("string")
    keys = keyer(ids) if keyer else ids
    students = pd.DataFrame({
        "student_key": keys.to_numpy(),
        "school": students_rows["school"].astype("string").to_numpy(),
        "grade": students_rows["grade"].astype("Int64").array,
        "class": students_rows["class"].astype("string").to_numpy(),
        "sex": students_rows["sex"].astype("string").to_numpy(),
        "wave": wave,
    })
    students = students.astype({"student_key": "string", "school": "string", "class": "string", "sex": "string",
                                "wave": "string", "grade": "Int64"})
    students["school"] = fill_school(students["school"], students_rows["_file"].to_numpy(), [p.stem for p in paths])
    score_cols = [c for c in scores.columns if c not in ("incomplete",)]
    for c in score_cols:
        col = scores[c]
        if isinstance(col.dtype, pd.CategoricalDtype):
            col = col.astype("string")
        students[c] = col.to_numpy() if not pd.api.types.is_extension_array_dtype(col.dtype) else col.array
    norm_note = None
    if norm_table is not None:
        students, norm_note = _apply_norms(students, norm_table)
    # NA from classify: a rule could not be evaluated because answers are missing (not a lie-scale failure)
    level = cls["level"].astype("string").fillna(UNDECIDED_LEVEL)
    students["level"] = level.to_numpy()
    students["level"] = students["level"].astype("string")
    names = {lv.code: lv.name.zh if lang == "zh" else lv.name.en for lv in proto.levels_by_rank}
    students["level_name"] = students["level"].map(names).fillna(students["level"]).astype("string")
    students["level_rank"] = cls["level_rank"].astype("Int64").array
    students["reasons"] = (cls["reasons"] if lang == "zh" else cls["reasons_en"]).astype("string").fillna("").to_numpy()
    students["reasons"] = students["reasons"].astype("string")
    # the other language too, so that the growth file can show either (archive: reasons_zh / reasons_en)
    other = "en" if lang == "zh" else "zh"
    students[f"reasons_{other}"] = cls["reasons_en" if other == "en" else "reasons"].astype("string").fillna("").array
    students["critical"] = cls["critical"].to_numpy(dtype=bool)
    # longstring down the questionnaire: the scored items in the order of the protocol's instruments
    seq = [f"{i.id}.{it.number}" for i in insts for it in i.item_list if it.scored]
    floors = [float(i.item_codes(it.number)[0]) for i in insts for it in i.item_list if it.scored]
    students["careless_longstring"] = longstring(answers[seq], floors=floors).to_numpy()
    dur = students_rows["duration"]
    n_answered = answers.notna().sum(axis=1).to_numpy()
    students["careless_fast"] = too_fast(dur.reset_index(drop=True), n_items=n_answered).to_numpy()
    answers_out = pd.concat([pd.DataFrame({"student_key": students["student_key"], "wave": students["wave"]}),
                             answers], axis=1)
    notify("score", 4, 4)
    identities = pd.DataFrame({"student_key": students["student_key"], "student_id": ids.to_numpy(),
                               "name": students_rows["name"].astype("string").to_numpy(),
                               "school": students["school"]}).astype("string")

    # ledger
    qparts = [o.problems for o in good if o.problems is not None and len(o.problems)]
    if outcomes_problems is not None:
        qparts.append(outcomes_problems)
    quarantine = pd.concat(qparts, ignore_index=True) if qparts else pd.DataFrame(columns=list(PROBLEM_COLUMNS))
    quarantine = quarantine[list(PROBLEM_COLUMNS)]
    quarantine["file"] = quarantine["file"].map(lambda f: Path(str(f)).name if pd.notna(f) else f)
    # problems of rows set aside as duplicates are not theirs to fix: keep them out of the quarantine table
    if is_dup.any() and len(quarantine):
        dkey = set(zip([paths[i].name for i in allrows.loc[is_dup, "_file"]],
                       allrows.loc[is_dup, "_sheet"].astype(object).where(allrows.loc[is_dup, "_sheet"].notna(), None),
                       allrows.loc[is_dup, "_row"].astype(int)))
        qkey = list(zip(quarantine["file"], quarantine["sheet"].astype(object).where(quarantine["sheet"].notna(), None),
                        quarantine["row"].astype(int)))
        quarantine = quarantine.loc[[k not in dkey for k in qkey]].reset_index(drop=True)
    per_file = pd.DataFrame({"_file": allrows["_file"].to_numpy(dtype=np.int64), "s": scored_mask, "q": quarantined_mask,
                             "d": is_dup}).groupby("_file").sum()
    ledger_rows = []
    for k, o in enumerate(outcomes):
        s = int(per_file["s"].get(k, 0)) if o.status == "ok" else 0
        q = int(per_file["q"].get(k, 0)) if o.status == "ok" else 0
        d = int(per_file["d"].get(k, 0)) if o.status == "ok" else 0
        rows = s + q + d
        if o.status == "ok":
            assert rows == o.rows_in_file, "ledger does not balance"
        reason = o.reason or "; ".join(o.notes)
        ledger_rows.append({"file": o.path.name, "path": str(o.path), "sha256": o.sha256, "rows": rows, "scored": s, "quarantined": q,
                            "duplicates": d, "status": o.status, "reason": reason, "rows_in_file": o.rows_in_file})
    for path, why in found.skipped:  # not exports: listed, never read
        ledger_rows.append({"file": path.name, "path": str(path), "sha256": _sha256_or_empty(path), "rows": 0,
                            "scored": 0, "quarantined": 0, "duplicates": 0, "status": "skipped", "reason": why,
                            "rows_in_file": 0})
    ledger = pd.DataFrame(ledger_rows, columns=list(LEDGER_COLUMNS) + ["rows_in_file", "path"])
    totals = {k: int(ledger[k].sum()) for k in ("rows", "scored", "quarantined", "duplicates")}
    assert totals["rows"] == totals["scored"] + totals["quarantined"] + totals["duplicates"]
    assert totals["scored"] == len(students)
    levels = {str(k): int(v) for k, v in students["level"].value_counts(sort=False).items()}
    ordered = [lv.code for lv in proto.levels_by_rank] + [INVALID_LEVEL, UNDECIDED_LEVEL, NONE_LEVEL]
    levels = {k: levels.get(k, 0) for k in ordered if k in levels or k in [lv.code for lv in proto.levels_by_rank]}

    # 7: write (the tables, then the reports, then the index page; the manifest last)
    failed: list[tuple[str, str]] = []
    notify("write", 0, 4)
    written: dict[str, Path] = {"critical": crit_path}
    written["students"] = write_table(students, out / "students.parquet")
    notify("write", 1, 4)
    written["answers"] = write_table(answers_out, out / "answers.parquet")
    notify("write", 2, 4)
    written["quarantine"] = _write_for_people(quarantine, out / "quarantine.xlsx", "quarantine", run, lang)
    notify("write", 3, 4)
    if len(dup_table):
        written["duplicates"] = _write_for_people(dup_table, out / "duplicates.xlsx", "duplicates", run, lang)
    notify("write", 4, 4)
    if maps_dir.is_dir():
        written["maps"] = maps_dir
    if reports:
        folders = _school_folders(students["school"])
        # the county summary audits its participation table (per file) with its level table (per school): it needs
        # the file each student came from
        source = pd.Categorical.from_codes(students_rows["_file"].to_numpy(dtype=np.int64), [p.name for p in paths])
        jobs = _report_jobs(students, ledger, identities, out, folders, proto, lang, min_cell, run,
                            county_students=students.assign(file=source), contacts=contact_of)
        failed += _run_report_jobs(jobs, workers, lambda done: notify("schools", done, len(jobs)))
        written["schools"] = out / "schools"
        written["county"] = out / "county"
    try:
        from .report.index import write_index

        written["index"] = write_index(out, run, lang=lang, pseudonymised=keyer is not None,
                                       outputs=_index_outputs(out, written, reports),
                                       failed=[name for name, _ in failed])
    except Exception as exc:  # noqa: BLE001 - the index page is a guide; its failure must not lose the manifest
        failed.append(("index.html", _failure(exc)))
    for name, why in failed:
        log.warning("output not written: %s (%s)", name, why)

    status = "complete" if run.complete and not failed else "incomplete"
    manifest = _manifest(out, wave, proto, insts, ledger, totals, levels, keyer is not None, lang, norm_table,
                         norm_note, len(critical_table))
    manifest.update(_status_entries(run, status, outcomes, failed))
    written["manifest"] = out / "manifest.json"
    atomic_write(written["manifest"],
                 lambda tmp: tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8"))
    (out / _MARKER).unlink(missing_ok=True)

    notes: list[str] = []
    if archive is not None:  # the growth file takes the finished output folder
        from .archive import import_wave

        if status == "complete" or allow_incomplete:
            import_wave(out, archive, allow_incomplete=allow_incomplete)
            written["archive"] = Path(archive)
        else:
            notes.append(_NOT_IMPORTED[lang].format(db=Path(archive).name, out=out))
            log.warning("wave %s is incomplete: not imported into the archive", wave)

    log.info("wave %s (%s): %d file(s), %d row(s), %d scored, %d quarantined, %d duplicate(s), %.1f s", wave, status,
             len(ledger), totals["rows"], totals["scored"], totals["quarantined"], totals["duplicates"],
             time.perf_counter() - t0)
    return ScreenResult(out=out, paths=written, ledger=ledger, totals=totals, levels=levels,
                        critical=len(critical_table), ok=status == "complete", manifest=manifest, status=status,
                        run=run, notes=tuple(notes))


# ---- the run: wave, norms, status ------------------------------------------------------------------------

_NOT_IMPORTED = {
    "zh": "本批次不完整，未导入成长档案 {db}：补齐未处理的文件后重新筛查；或确认后用 "
          "psyscreen archive import {out} --db {db} --allow-incomplete 导入（档案会记录缺少的学校）。",
    "en": "the wave is incomplete and was NOT imported into the archive {db}: screen it again with the files not "
          "processed, or import it knowingly with psyscreen archive import {out} --db {db} --allow-incomplete "
          "(the archive then records the schools it lacks).",
}


def _load_contacts(path, lang: str) -> dict:
    """school -> contact line, from a contacts file (:func:`psyscreen.report.load_contacts`); errors as ScreenError."""
    from .report import ContactsError, load_contacts

    try:
        return load_contacts(path, lang=lang)
    except ContactsError as exc:
        raise ScreenError(str(exc)) from None


def _wave_of(wave: Optional[str], inputs: Sequence) -> str:
    """The wave given (checked), else the name of the first input folder named like ``YYYY-MM`` (checked)."""
    if wave is None:
        for p in inputs:
            name = Path(p).name if Path(p).is_dir() else Path(p).parent.name
            if re.fullmatch(r"\d{4}-\d{1,2}|\d{4}[-/_.]\d{2}", name):
                wave = name
                break
    if wave is None:
        raise ScreenError("give the wave (e.g. --wave 2026-09): it could not be read from the folder name")
    try:
        return parse_wave(wave)
    except WaveError as exc:
        raise ScreenError(f"{exc}: give --wave YYYY-MM") from None


def _load_norms(path: Union[str, Path]):
    """The norm table of ``--norms``: the ``.json`` or ``.xlsx`` that ``analyze norms`` writes."""
    from .norms import NormError, read_norms

    path = Path(path)
    try:
        return read_norms(path)  # a NormTable or ContinuousNorms, told by the file's bytes, not its name
    except NormError as exc:
        raise ScreenError(f"--norms: {exc}") from None
    except (UnicodeDecodeError, OSError, ValueError) as exc:
        raise ScreenError(f"--norms {path.name}: not a norm table ({type(exc).__name__}); give the .json or .xlsx "
                          "file that `psyscreen analyze norms` writes") from None


def _sha256_or_empty(path: Path) -> str:
    try:
        return _sha256(path)
    except OSError:
        return ""


def _run_info(wave: str, county: Optional[str], outcomes: Sequence[_FileOutcome]) -> RunInfo:
    """The run as every output shows it: complete, or incomplete with the files not processed."""
    missed = tuple(NotProcessed(o.path.name, o.status, int(o.rows_in_file), o.reason)
                   for o in outcomes if o.status != "ok")
    return RunInfo(wave, county=county, status="incomplete" if missed else "complete", not_processed=missed)


def _status_entries(run: RunInfo, status: str, outcomes: Sequence[_FileOutcome], failed) -> dict:
    """The manifest's ``status``, ``county``, ``not_processed`` (with the schools of each file),
    ``schools_not_screened`` and ``failed_outputs``."""
    by_name = {o.path.name: o for o in outcomes}
    missed = []
    for p in run.not_processed:
        o = by_name.get(p.file)
        schools = sorted(o.schools) if o is not None and o.schools else [Path(p.file).stem]
        missed.append({"file": p.file, "status": p.status, "rows_in_file": int(p.rows_in_file), "reason": p.reason,
                       "schools": schools})
    return {"status": status, "county": run.county, "not_processed": missed,
            "schools_not_screened": sorted({s for m in missed for s in m["schools"]}),
            "failed_outputs": [{"output": name, "reason": why} for name, why in failed]}


# ---- outputs for people ---------------------------------------------------------------------------------

_PEOPLE = {
    "quarantine": {
        "zh": {"sheet": "待核对数据", "title": "待核对数据（未计分）",
               "note": "以下作答未能计分：请按文件、工作表、行、列核对原始数据并更正，然后重新筛查。",
               "columns": {"file": "文件", "sheet": "工作表", "row": "行", "cell": "单元格", "column": "列",
                           "item": "题目", "value": "取值", "reason": "原因"}},
        "en": {"sheet": "quarantine", "title": "quarantine (rows not scored)",
               "note": "These answers could not be scored: fix them in the export (file, sheet, row, column), then "
                       "screen again.",
               "columns": {"file": "File", "sheet": "Sheet", "row": "Row", "cell": "Cell", "column": "Column",
                           "item": "Item", "value": "Value", "reason": "Reason"}},
    },
    "duplicates": {
        "zh": {"sheet": "重复提交", "title": "重复提交",
               "note": "同一学号在本批次中出现多次：保留最新一份可计分的答卷（按提交时间，其次较后的文件，其次较后的行），"
                       "其余列于此表，不计分。",
               "columns": {"file": "文件", "sheet": "工作表", "row": "行", "kept_file": "保留的文件",
                           "kept_row": "保留的行", "rule": "规则"},
               "rule": "保留最新一份可计分的答卷"},
        "en": {"sheet": "duplicates", "title": "duplicate submissions",
               "note": DUPLICATE_RULE + ".",
               "columns": {"file": "File", "sheet": "Sheet", "row": "Row", "kept_file": "Kept file",
                           "kept_row": "Kept row", "rule": "Rule"},
               "rule": "latest scorable submission kept"},
    },
}


def _write_for_people(frame: pd.DataFrame, path: Path, kind: str, run: RunInfo, lang: str) -> Path:
    """``quarantine.xlsx`` / ``duplicates.xlsx``: headers in ``lang``, a named sheet, the wave in the title line.

    Every column is kept (file, sheet, row, column, reason ...); only the header labels are translated.
    """
    t = _PEOPLE[kind][lang]
    f = frame.copy()
    if "row" in f.columns:
        f["row"] = f["row"].astype("Int64")
    if "kept_row" in f.columns:
        f["kept_row"] = f["kept_row"].astype("Int64")
    if "rule" in f.columns:
        f["rule"] = t["rule"]
    if "reason" in f.columns:
        from .report._reasons import reasons_in

        f["reason"] = reasons_in(f["reason"], lang)
    f = f.rename(columns=t["columns"])
    note = " ".join(x for x in (run.title(t["title"], lang), t["note"], run.notice(lang)) if x)
    return write_workbook(path, [Sheet(t["sheet"], f.reset_index(drop=True), wrap=(t["columns"].get("reason", ""),),
                                       note=note)])


def _school_folders(schools: pd.Series) -> dict:
    """School -> folder name under ``schools/``: distinct for every school (:func:`psyscreen.io.unique_file_names`)."""
    names = sorted(schools.dropna().astype(str).unique().tolist())
    return unique_file_names(names)


def _report_jobs(students, ledger, identities, out: Path, folders: dict, proto, lang: str, min_cell: int,
                 run: RunInfo, *, county_students=None, contacts: Optional[dict] = None) -> list:
    """The report jobs ``(output, fn, args, kwargs)``: the county outputs, then one per school folder.

    ``county_students``: the students with the ``file`` each came from, for the county summary's joint audit of
    its participation and level tables (default: ``students``). ``contacts``: school -> the contact line of
    its letters.
    """
    schools_dir, county = out / "schools", out / "county"
    schools_dir.mkdir(exist_ok=True)
    county.mkdir(exist_ok=True)
    jobs = [("county", report.write_county, (students if county_students is None else county_students, ledger, county),
             {"protocol": proto, "lang": lang, "min_cell": min_cell, "run": run})]
    school = students["school"].astype("string")
    for sch, name in folders.items():
        sel = (school == sch).fillna(False).to_numpy(dtype=bool)
        folder = schools_dir / name
        jobs.append((f"schools/{name}", report.write_school, (students.loc[sel].reset_index(drop=True), folder),
                     {"protocol": proto, "lang": lang, "identities": identities.loc[sel].reset_index(drop=True),
                      "run": run, "contact": (contacts or {}).get(str(sch))}))
    return jobs


def _index_outputs(out: Path, written: dict, reports: bool) -> dict:
    """What the index page links to: output key -> path relative to ``out`` (only those written)."""
    rel = {}
    for key in ("critical", "quarantine", "duplicates", "students"):
        if key in written and Path(written[key]).is_file():
            rel[key] = Path(written[key]).relative_to(out).as_posix()
    if reports:
        for key, name in (("summary", "county/summary.xlsx"), ("report", "county/report.html")):
            if (out / name).is_file():
                rel[key] = name
        if (out / "schools").is_dir():
            rel["schools"] = "schools/"
    return rel


def _apply_norms(students: pd.DataFrame, table) -> tuple[pd.DataFrame, Optional[str]]:
    """Add ``<scale>.pr`` and ``<scale>.t`` for the strata the table has; other rows get NaN (and a note)."""
    if hasattr(table, "_screen_apply"):  # continuous norms: by stratum and grade
        from .norms import NormError

        try:
            return table._screen_apply(students)
        except NormError as exc:
            raise ScreenError(f"--norms: {exc}") from None
    by = list(table._by)
    frame = students.copy()
    groups = table._groups(frame)
    known = [k for k in groups if k in table._refs]
    unknown_n = sum(len(v) for k, v in groups.items() if k not in table._refs)
    rows = np.concatenate([groups[k] for k in known]) if known else np.array([], dtype=int)
    for s in table.scales_:
        for suf in ("pr", "t"):
            frame[f"{s}.{suf}"] = np.nan
    if len(rows):
        sub = table.transform(frame.iloc[rows][by + [s for s in table.scales_ if s in frame.columns]])
        for s in table.scales_:
            for suf in ("pr", "t"):
                col = frame[f"{s}.{suf}"].to_numpy(copy=True)
                col[rows] = sub[f"{s}.{suf}"].to_numpy(dtype=float)
                frame[f"{s}.{suf}"] = col
    if len(frame) and not known:
        from .norms import _label

        has = sorted(_label(by, k) for k in table._refs)
        wave = sorted(_label(by, k) for k in groups)
        raise ScreenError(f"--norms: the norm table matches no student of this wave: its strata ({'/'.join(by)}) are "
                          f"{'; '.join(has[:8])}{' ...' if len(has) > 8 else ''}, the wave's are "
                          f"{'; '.join(wave[:8])}{' ...' if len(wave) > 8 else ''}. Give a norm table built on the "
                          "same coding (from the students.parquet of `screen` or the output of `score`); the "
                          "critical list was written, rerun with --replace")
    note = (f"{unknown_n} student(s) in strata ({'/'.join(by)}) the norm table does not have: no .pr/.t"
            if unknown_n else None)
    return frame, note


def _manifest(out: Path, wave, proto, insts, ledger, totals, levels, pseudonymised, lang, norm_table, norm_note,
              n_critical) -> dict:
    proto_sha = _sha256(Path(proto.path)) if proto.path and Path(proto.path).is_file() else None
    outputs = sorted(str(p.relative_to(out)).replace("\\", "/") for p in out.rglob("*")
                     if p.is_file() and not p.name.startswith(".") and p.name != "manifest.json")
    m = {
        "tool": {"name": "psyscreen", "version": __version__},
        "wave": wave,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "protocol": {"id": proto.id, "version": proto.version, "sha256": proto_sha},
        "instruments": [{"id": i.id, "version": i.version, "sha256": i.sha256} for i in insts],
        "inputs": [{"file": r["file"], "path": r["path"], "sha256": r["sha256"], "rows": int(r["rows"]),
                    "scored": int(r["scored"]), "quarantined": int(r["quarantined"]),
                    "duplicates": int(r["duplicates"]), "status": r["status"], "reason": r["reason"],
                    "rows_in_file": int(r["rows_in_file"])} for r in ledger.to_dict("records")],
        "totals": totals,
        "levels": levels,
        "critical": n_critical,
        "pseudonymised": bool(pseudonymised),
        "lang": lang,
        "rules": {"duplicates": DUPLICATE_RULE,
                  "longstring": f"longest run of identical answers (not the lowest code) >= {LONGSTRING_MIN_RUN} items",
                  "too_fast": f"< {SECONDS_PER_ITEM:g} s per answered item (where a duration column exists)",
                  "grade": GRADE_CODING,
                  "level": f"'{INVALID_LEVEL}' when a validity (lie) scale failed; '{UNDECIDED_LEVEL}' when a level "
                           f"could not be decided because answers are missing (see reasons); '{NONE_LEVEL}' otherwise"},
        "outputs": outputs,
    }
    if norm_table is not None:
        m["norms"] = {"scales": list(norm_table.scales_), "by": list(norm_table._by), "note": norm_note}
    return m
