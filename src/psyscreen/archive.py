"""The growth-file store (一生一档): every screening wave of a county in one embedded SQLite file.

One file per county, no server: the standard library's :mod:`sqlite3` in WAL mode with foreign keys on. A wave
comes in from the output folder of ``psyscreen screen`` (``manifest.json``, ``students.parquet``,
``answers.parquet``) with :func:`import_wave`; a student's timeline comes out with :func:`history`, the change
between two waves with :func:`compare`, test-retest evidence with :func:`test_retest`. :func:`delete_student` and
:func:`export_research` are the stewardship side.

Schema (version :data:`SCHEMA_VERSION`, upgraded in place by numbered migrations recorded in
``schema_migrations``):

* ``students(id, student_key)``: one row per student key (the student id, or its keyed hash when the screening
  was pseudonymised);
* ``waves(id, wave, wave_date)``; ``imports``: the provenance of the wave's data (manifest sha256 and text, input
  files with their hashes, tool / protocol / instrument versions, ``imported_at``) and its completeness
  (``status`` ``complete`` / ``incomplete``, ``county``, ``not_processed``: the files the run did not process);
  one import per wave;
* ``schools_not_screened(wave_id, school)``: the schools a wave lacks (their export was not processed), so that
  :func:`compare` counts their students as "school not screened", never absent or resolved;
* ``screenings``: one row per student x wave: school, grade, class, sex, level, level rank, ``flagged``,
  ``critical``, ``reasons`` (Chinese) and ``reasons_en`` (English), quality flags;
* ``scales`` (name such as ``phq9.total``, the definition's reliability and its source, direction, items) and
  ``scores(wave_id, scale_id, student_id, value, band)``, long: one row per student x wave x scale;
* ``answers(wave_id, student_id, codes)``: the item answers of one student in one wave, **packed** as a
  little-endian float array (NaN = not answered) in the column order the wave's import records
  (``imports.answer_columns``);
* ``deletions``: one row per deleted student: a keyed hash (HMAC-SHA-256 with a secret kept in the store),
  the reason, the time and the number of rows removed; never the key itself.

Why answers are packed and scores long: ten waves of 300,000 students answering PHQ-9 and GAD-7 are 51 million
item answers. Long (one row per answer) would cost about 20 bytes a row plus index, some 1.5 GB, and minutes to
insert; real SQL columns per item would need an ``ALTER TABLE`` whenever a protocol adds an instrument. Answers
are only ever read whole (a student's sheet, or a wave for re-analysis or a research extract), never filtered by
item in SQL, so one ~70-byte blob per student x wave (3 million rows) is the compact, exact choice (codes are
small numbers, exact in float32; float64 is used when they are not). Scores are what queries filter and join on
(compare, test-retest, "everyone over 15 last March"), and there are few per student, so they stay long and
queryable.

Every import is one transaction: a crash or a kill part-way leaves the store as it was (SQLite's atomic commit;
the test suite kills a real import mid-way with SIGKILL and checks the store is unchanged). Its checks against the
store (already imported, pseudonymised or plain keys) run inside that write transaction, and migrations re-check
the version under the write lock, so imports at the same moment behave as if one came after the other. An
incomplete wave is refused unless asked for (``allow_incomplete``). SQLite's own errors leave as typed
:class:`ArchiveError` subclasses that say what to do (:class:`StoreFullError`, :class:`StoreDamagedError`,
:class:`StoreBusyError`).

Examples
--------
>>> import tempfile, pathlib
>>> db = pathlib.Path(tempfile.mkdtemp()) / "county.db"
>>> with connect(db) as con:
...     schema_version(con) == SCHEMA_VERSION
True
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import sqlite3
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
import pandas as pd

from ._results import ResultMixin
from .protocol import INVALID_LEVEL, NONE_LEVEL, UNDECIDED_LEVEL
from .wave import wave_label

__all__ = [
    "SCHEMA_VERSION",
    "ArchiveError",
    "ImportConflictError",
    "StudentNotFoundError",
    "IncompleteWaveError",
    "StoreFullError",
    "StoreDamagedError",
    "StoreBusyError",
    "ImportResult",
    "History",
    "Comparison",
    "LAST_TIME_COLUMNS",
    "TestRetest",
    "DeletionResult",
    "connect",
    "schema_version",
    "import_wave",
    "WaveGaps",
    "wave_gaps",
    "waves",
    "history",
    "compare",
    "write_comparison",
    "test_retest",
    "delete_student",
    "export_research",
    "store_digest",
]

PathLike = Union[str, Path]

#: Environment variable read by :func:`import_wave` for the crash test: when set to a file path, the import writes
#: that file half-way through its transaction and sleeps, so a test can kill the process mid-import.
PAUSE_ENV = "PSYSCREEN_ARCHIVE_PAUSE_MIDWAY"


class ArchiveError(ValueError):
    """The store or a wave folder cannot be used as asked (the message says why and what to do)."""


class ImportConflictError(ArchiveError):
    """The wave is already in the store with different content; pass ``replace=True`` to replace it."""


class StudentNotFoundError(ArchiveError, LookupError):
    """No student with that key is in the store (the message does not repeat the key)."""


class IncompleteWaveError(ArchiveError):
    """The wave folder's manifest says the run is not complete (files not processed, schools not screened).

    Import it anyway with ``allow_incomplete=True`` (``--allow-incomplete``): the store then records the schools
    the wave lacks, and :func:`compare` shows their students as "school not screened", never absent or resolved.

    Attributes
    ----------
    wave : str
    status : str
        The manifest's ``status`` (``"incomplete"``, or ``"in_progress"`` for a run that did not finish).
    not_processed : list of dict
        The manifest's ``not_processed`` entries (``file``, ``status``, ``rows_in_file``, ``reason``, ``schools``).
    schools : list of str
        The schools not screened in the wave.
    """

    def __init__(self, message: str, *, wave: str, status: str, not_processed: list, schools: list):
        super().__init__(message)
        self.wave, self.status, self.not_processed, self.schools = wave, status, not_processed, schools


class StoreFullError(ArchiveError):
    """The disk (or the store's size limit) is full: the transaction was rolled back, the store is unchanged."""


class StoreDamagedError(ArchiveError):
    """The file is not a psyscreen store, or it is damaged (restore it from a backup)."""


class StoreBusyError(ArchiveError):
    """Another process held the store's write lock for longer than the busy timeout."""


# --------------------------------------------------------------------------------------------------
# schema and migrations
# --------------------------------------------------------------------------------------------------

_V1 = """
CREATE TABLE students (
    id INTEGER PRIMARY KEY,
    student_key TEXT NOT NULL UNIQUE
);
CREATE TABLE waves (
    id INTEGER PRIMARY KEY,
    wave TEXT NOT NULL UNIQUE,
    wave_date TEXT
);
CREATE TABLE imports (
    id INTEGER PRIMARY KEY,
    wave_id INTEGER NOT NULL UNIQUE REFERENCES waves(id) ON DELETE CASCADE,
    manifest_sha256 TEXT NOT NULL UNIQUE,
    manifest TEXT NOT NULL,
    source_dir TEXT,
    inputs TEXT,
    tool_version TEXT,
    protocol_id TEXT,
    protocol_version TEXT,
    protocol_sha256 TEXT,
    instruments TEXT,
    pseudonymised INTEGER,
    answer_columns TEXT,
    answer_dtype TEXT,
    n_students INTEGER,
    imported_at TEXT NOT NULL
);
CREATE TABLE screenings (
    wave_id INTEGER NOT NULL REFERENCES waves(id) ON DELETE CASCADE,
    student_id INTEGER NOT NULL REFERENCES students(id) ON DELETE CASCADE,
    school TEXT, grade INTEGER, class TEXT, sex TEXT,
    level TEXT, level_rank INTEGER, flagged INTEGER, critical INTEGER, reasons TEXT,
    careless_longstring INTEGER, careless_fast INTEGER,
    PRIMARY KEY (wave_id, student_id)
) WITHOUT ROWID;
CREATE INDEX screenings_student ON screenings(student_id);
CREATE TABLE scores (
    wave_id INTEGER NOT NULL REFERENCES waves(id) ON DELETE CASCADE,
    scale TEXT NOT NULL,
    student_id INTEGER NOT NULL REFERENCES students(id) ON DELETE CASCADE,
    value REAL,
    band TEXT,
    PRIMARY KEY (wave_id, scale, student_id)
) WITHOUT ROWID;
CREATE INDEX scores_student ON scores(student_id);
CREATE TABLE answers (
    wave_id INTEGER NOT NULL REFERENCES waves(id) ON DELETE CASCADE,
    student_id INTEGER NOT NULL REFERENCES students(id) ON DELETE CASCADE,
    codes BLOB NOT NULL,
    PRIMARY KEY (wave_id, student_id)
) WITHOUT ROWID;
CREATE INDEX answers_student ON answers(student_id);
"""

# v2: scales get their own table (reliability from the definition, direction, items) and scores point at it;
# the deletion log and the store's secret for its keyed hashes.
_V2 = """
CREATE TABLE scales (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    instrument TEXT,
    reliability REAL,
    reliability_source TEXT,
    higher_is_worse INTEGER NOT NULL DEFAULT 1,
    items TEXT
);
INSERT INTO scales(name, instrument) SELECT DISTINCT scale, substr(scale, 1, instr(scale, '.') - 1) FROM scores;
CREATE TABLE scores_v2 (
    wave_id INTEGER NOT NULL REFERENCES waves(id) ON DELETE CASCADE,
    scale_id INTEGER NOT NULL REFERENCES scales(id),
    student_id INTEGER NOT NULL REFERENCES students(id) ON DELETE CASCADE,
    value REAL,
    band TEXT,
    PRIMARY KEY (wave_id, scale_id, student_id)
) WITHOUT ROWID;
INSERT INTO scores_v2 SELECT s.wave_id, c.id, s.student_id, s.value, s.band FROM scores s JOIN scales c ON c.name = s.scale;
DROP TABLE scores;
ALTER TABLE scores_v2 RENAME TO scores;
CREATE INDEX scores_student ON scores(student_id);
CREATE TABLE deletions (
    id INTEGER PRIMARY KEY,
    key_hash TEXT NOT NULL,
    reason TEXT NOT NULL,
    rows_removed TEXT NOT NULL,
    deleted_at TEXT NOT NULL
);
CREATE INDEX deletions_hash ON deletions(key_hash);
CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO meta VALUES ('log_secret', lower(hex(randomblob(32))));
"""

# v3: whether a wave is complete, which files it did not process and which schools it lacks (a school not
# screened is never counted absent or resolved); reasons in both languages (``reasons`` is Chinese, ``reasons_en``
# English: a wave screened with ``--lang en`` had its English reasons in ``reasons``, moved here).
_V3 = """
ALTER TABLE imports ADD COLUMN status TEXT NOT NULL DEFAULT 'complete';
ALTER TABLE imports ADD COLUMN county TEXT;
ALTER TABLE imports ADD COLUMN not_processed TEXT;
UPDATE imports SET status = coalesce(json_extract(manifest, '$.status'), 'complete'),
    county = json_extract(manifest, '$.county'), not_processed = json_extract(manifest, '$.not_processed');
CREATE TABLE schools_not_screened (
    wave_id INTEGER NOT NULL REFERENCES waves(id) ON DELETE CASCADE,
    school TEXT NOT NULL,
    PRIMARY KEY (wave_id, school)
) WITHOUT ROWID;
INSERT OR IGNORE INTO schools_not_screened SELECT i.wave_id, j.value FROM imports i,
    json_each(i.manifest, '$.schools_not_screened') j WHERE json_type(i.manifest, '$.schools_not_screened') = 'array';
ALTER TABLE screenings ADD COLUMN reasons_en TEXT;
UPDATE screenings SET reasons_en = reasons, reasons = NULL
    WHERE wave_id IN (SELECT wave_id FROM imports WHERE json_extract(manifest, '$.lang') = 'en');
"""

_MIGRATIONS: list[tuple[int, str, str]] = [
    (1, "students, waves, imports, screenings, scores (long, scale by name), answers (packed)", _V1),
    (2, "scales table with reliability; scores by scale id; deletion log; store secret", _V2),
    (3, "wave status, files not processed, schools not screened; reasons in Chinese and English", _V3),
]
SCHEMA_VERSION = _MIGRATIONS[-1][0]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def schema_version(con: sqlite3.Connection) -> int:
    """The schema version of an open store (0 for an empty file)."""
    has = con.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='schema_migrations'").fetchone()
    if not has:
        return 0
    v = con.execute("SELECT max(version) FROM schema_migrations").fetchone()[0]
    return int(v or 0)


def _migrate(con: sqlite3.Connection, upto: int = SCHEMA_VERSION) -> None:
    """Apply the migrations the store lacks, each in its own transaction, recording each one.

    Safe when several processes open a brand-new (or old) store at the same moment: each migration runs under
    the write lock (``BEGIN IMMEDIATE``) and first re-reads the version, so a migration another process has just
    applied is skipped instead of failing with "table ... already exists".
    """
    current = schema_version(con)
    if current > SCHEMA_VERSION:
        raise ArchiveError(f"the store has schema version {current}, newer than this psyscreen "
                           f"understands ({SCHEMA_VERSION}); update psyscreen")
    if current >= upto:
        return
    applied = False
    for version, description, sql in _MIGRATIONS:
        if version > upto:
            break
        con.execute("BEGIN IMMEDIATE")
        try:
            con.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                        "description TEXT NOT NULL, applied_at TEXT NOT NULL)")
            if version > schema_version(con):  # not applied by another process meanwhile
                for statement in _statements(sql):
                    con.execute(statement)
                con.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)", (version, description, _now()))
                applied = True
            con.execute("COMMIT")
        except BaseException:
            _rollback(con)
            raise
    fk = con.execute("PRAGMA foreign_key_check").fetchall() if applied and current else []  # after an upgrade
    if fk:
        raise StoreDamagedError(f"the store fails its foreign-key check ({len(fk)} rows); restore it from a backup")


def _rollback(con: sqlite3.Connection) -> None:
    """Roll back the open transaction, if SQLite has not already done so (it does on a full disk, for one)."""
    if con.in_transaction:
        con.execute("ROLLBACK")


def _statements(sql: str) -> list[str]:
    return [s.strip() for s in sql.split(";") if s.strip()]


class _Store:
    """A connection used as a context manager that closes (not only commits) on exit."""

    def __init__(self, con: sqlite3.Connection):
        self.con = con

    def __enter__(self) -> sqlite3.Connection:
        return self.con

    def __exit__(self, *exc) -> None:
        self.con.close()


def _open(path: Path) -> sqlite3.Connection:
    """The raw connection (autocommit; 30 s busy timeout: another process's import is waited for)."""
    return sqlite3.connect(path, isolation_level=None, timeout=30)


def connect(db: PathLike, *, create: bool = True, _upto: int = SCHEMA_VERSION) -> _Store:
    """Open (and create or upgrade) a store; use as ``with connect(db) as con:``.

    Parameters
    ----------
    db : str or Path
        The store's file (one per county).
    create : bool, default True
        Create the file when it does not exist; with False a missing file raises :class:`ArchiveError`.

    Returns
    -------
    context manager yielding a :class:`sqlite3.Connection` in autocommit mode (WAL journal, foreign keys on,
    a 30 s busy timeout); the schema is upgraded to :data:`SCHEMA_VERSION` first. Two processes creating the
    same new store at once both succeed.

    Raises
    ------
    StoreDamagedError, StoreFullError, ArchiveError
        The file is not a store or is damaged, the disk is full, or the store is newer than this psyscreen.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with connect(pathlib.Path(tempfile.mkdtemp()) / "c.db") as con:
    ...     con.execute("SELECT count(*) FROM waves").fetchone()
    (0,)
    """
    path = Path(db)
    if not path.exists() and not create:
        raise ArchiveError(f"{path}: no archive there (create one with `psyscreen archive import DIR --db {path}`)")
    if not path.parent.exists():
        raise ArchiveError(f"{path}: the folder {path.parent} does not exist")
    with _store_errors(path):
        con = _open(path)
        try:
            if con.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                _set_wal(con)
            con.execute("PRAGMA synchronous=NORMAL")
            con.execute("PRAGMA foreign_keys=ON")
            _migrate(con, _upto)
        except BaseException:
            con.close()
            raise
    return _Store(con)


def _set_wal(con: sqlite3.Connection) -> None:
    """Switch a new store to WAL; a second process doing the same at that moment is waited for, not failed."""
    deadline = time.monotonic() + 30
    while True:
        try:
            con.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _store_error(path: Optional[Path], exc: sqlite3.Error) -> ArchiveError:
    """The typed :class:`ArchiveError` for a SQLite error: what happened and what to do (never a student value)."""
    where = f"{path}: " if path is not None else ""
    msg = str(exc)
    low = msg.lower()
    if "full" in low:
        return StoreFullError(
            f"{where}the disk holding the archive is full (SQLite: {msg}); nothing was written (the change was "
            "rolled back, the store is as it was before). Free space on that disk, or move the archive to a disk "
            "with room, and run the command again")
    if "not a database" in low or "malformed" in low or "corrupt" in low:
        return StoreDamagedError(
            f"{where}the archive file is damaged or is not a psyscreen archive (SQLite: {msg}). Check that --db "
            "names the county's archive; if it does, restore it from the latest backup and import the waves "
            "screened since that backup again (`psyscreen archive import`)")
    if "locked" in low or "busy" in low:
        return StoreBusyError(
            f"{where}another program is writing the archive and did not finish within 30 s (SQLite: {msg}); "
            "wait until it is done and run the command again")
    if "readonly" in low or "read-only" in low or "unable to open" in low or "i/o" in low:
        return ArchiveError(
            f"{where}the archive file cannot be written or read (SQLite: {msg}); check that the file and its "
            "folder exist and are writable by you, and that the disk is attached, then run the command again")
    return ArchiveError(f"{where}the archive could not be used (SQLite: {msg}); nothing was changed. Check the "
                        "file with `sqlite3 FILE 'PRAGMA integrity_check'` and restore it from a backup if damaged")


class _store_errors:
    """Context manager: sqlite3 errors inside become the typed :class:`ArchiveError` of :func:`_store_error`."""

    def __init__(self, path: Optional[PathLike] = None):
        self.path = Path(path) if path is not None else None

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, exc, tb) -> bool:
        if exc is not None and isinstance(exc, sqlite3.Error):
            raise _store_error(self.path, exc) from None
        return False


def _translating(fn):
    """Decorator for the public functions: SQLite errors leave as typed :class:`ArchiveError` naming the store."""
    import functools
    import inspect

    sig = inspect.signature(fn)

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        db = sig.bind_partial(*args, **kwargs).arguments.get("db")
        with _store_errors(db):
            return fn(*args, **kwargs)

    return wrapper


@_translating
def store_digest(db: PathLike) -> str:
    """SHA-256 over the content of every table (rows in a fixed order): equal digests mean equal stores.

    Used to show that a failed or killed import left the store exactly as it was.
    """
    with connect(db, create=False) as con:
        h = hashlib.sha256()
        tables = [r[0] for r in con.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        for t in tables:
            cols = [r[1] for r in con.execute(f"PRAGMA table_info({t})")]
            order = ", ".join(f'"{c}"' for c in cols)
            h.update(f"\x00table {t} {cols}\x00".encode())
            for row in con.execute(f'SELECT * FROM "{t}" ORDER BY {order}'):
                h.update(repr(row).encode())
        return h.hexdigest()


# --------------------------------------------------------------------------------------------------
# import
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportResult(ResultMixin):
    """What :func:`import_wave` did.

    Attributes
    ----------
    wave : str
    status : str
        ``"imported"``, ``"replaced"`` (an earlier import of the wave was replaced) or ``"already imported"``
        (the same manifest was imported before: nothing was added).
    manifest_sha256 : str
    students : int
        Students screened in the wave (rows of students.parquet stored).
    new_students : int
        Of those, students the store had not seen before.
    scores : int
        Scale values stored (non-missing).
    answers : int
        Answer sheets stored.
    skipped_deleted : int
        Rows left out because the student was deleted from the store before (consent withdrawn, graduated).
    seconds : float
    """

    wave: str
    status: str
    manifest_sha256: str
    students: int = 0
    new_students: int = 0
    scores: int = 0
    answers: int = 0
    skipped_deleted: int = 0
    seconds: float = 0.0

    @property
    def added(self) -> bool:
        return self.status != "already imported"

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([self.__dict__])

    def __str__(self) -> str:
        if not self.added:
            return f"wave {self.wave}: already imported (manifest {self.manifest_sha256[:12]}); nothing added"
        return (f"wave {self.wave}: {self.status} {self.students} students ({self.new_students} new), "
                f"{self.scores} scores, {self.answers} answer sheets"
                + (f", {self.skipped_deleted} deleted student(s) left out" if self.skipped_deleted else "")
                + f" in {self.seconds:.1f} s")


_NON_SCALE_SUFFIXES = {"critical", "critical_items", "valid", "incomplete"}


def _scale_specs(manifest: dict, columns: Sequence[str], frame: pd.DataFrame) -> list[dict]:
    """The scale columns of students.parquet with their metadata from the instrument definitions.

    An instrument that cannot be loaded (a county's own YAML not installed here) falls back to the numeric
    columns ``<id>.<name>`` that are neither bands nor rule / quality columns, without reliability.
    """
    from .instrument import load_instrument

    specs = []
    cols = set(columns)
    for entry in manifest.get("instruments", []):
        iid = entry["id"] if isinstance(entry, dict) else str(entry)
        try:
            inst = load_instrument(iid)
        except Exception:
            inst = None
        if inst is not None:
            for s in inst.scales:
                name = f"{iid}.{s.id}"
                if name not in cols:
                    continue
                items = [f"{iid}.{n}" for n in s.item_numbers] if s.items else None
                specs.append({"name": name, "instrument": iid, "reliability": s.reliability,
                              "reliability_source": s.reliability_source, "higher_is_worse": s.higher_is_worse,
                              "items": items, "method": s.method,
                              "min": min(inst.item_range(n)[0] for n in s.item_numbers) if s.items else None,
                              "max": max(inst.item_range(n)[1] for n in s.item_numbers) if s.items else None,
                              "reverse": [f"{iid}.{it.number}" for it in inst.item_list
                                          if it.reverse and it.number in s.item_numbers] if s.items else []})
            continue
        for c in columns:
            parts = c.split(".")
            if (len(parts) == 2 and parts[0] == iid and parts[1] not in _NON_SCALE_SUFFIXES
                    and not parts[1].isdigit() and pd.api.types.is_float_dtype(frame[c].dtype)):
                specs.append({"name": c, "instrument": iid, "reliability": None, "reliability_source": None,
                              "higher_is_worse": True, "items": None})
    return specs


def _wave_date(wave: str, created: Optional[str]) -> Optional[str]:
    m = re.match(r"^(\d{4})-(\d{2})(?:-(\d{2}))?", wave)
    if m:
        return f"{m.group(1)}-{m.group(2)}-{m.group(3) or '01'}"
    return created[:10] if created else None


def _nullable(values: pd.Series) -> list:
    """Python values for sqlite3 (numpy scalars are not bindable), None for missing."""
    obj = values.astype(object)
    return obj.where(values.notna(), None).tolist()


def _int_or_none(values: pd.Series) -> list:
    num = pd.to_numeric(values, errors="coerce")
    return [None if v is None else int(v) for v in _nullable(num)]


def _bool_or_none(values: pd.Series) -> list:
    s = values.astype("boolean") if not pd.api.types.is_bool_dtype(values.dtype) else values
    return [None if v is None else int(bool(v)) for v in _nullable(s)]


def _log_hash(secret: str, key: str) -> str:
    return hmac.new(bytes.fromhex(secret), key.encode("utf-8"), hashlib.sha256).hexdigest()


def _secret(con: sqlite3.Connection) -> str:
    return con.execute("SELECT value FROM meta WHERE name='log_secret'").fetchone()[0]


def _pause_hook(con: sqlite3.Connection) -> None:
    marker = os.environ.get(PAUSE_ENV)
    if marker:
        # spill the uncommitted pages to the WAL file, as a large import does on its own, so that the kill
        # leaves uncommitted frames on disk for recovery to ignore
        con.execute("PRAGMA cache_size=1")
        con.execute("PRAGMA cache_spill=1")
        for table in ("screenings", "scores", "answers", "students"):
            con.execute(f"SELECT * FROM {table}").fetchall()  # page reads push the dirty pages out
        Path(marker).write_text("in transaction")
        time.sleep(float(os.environ.get(PAUSE_ENV + "_SECONDS", "60")))


def _read_wave_dir(out_dir: Path) -> tuple[dict, str, pd.DataFrame, Optional[pd.DataFrame]]:
    mpath = out_dir / "manifest.json"
    if not mpath.is_file():
        raise ArchiveError(f"{out_dir}: no manifest.json; give the output folder of `psyscreen screen`")
    raw = mpath.read_bytes()
    try:
        manifest = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArchiveError(f"{mpath}: not valid JSON ({type(exc).__name__})") from None
    if not isinstance(manifest, dict) or not manifest.get("wave"):
        raise ArchiveError(f"{mpath}: the manifest names no wave")
    spath = out_dir / "students.parquet"
    if not spath.is_file():
        raise ArchiveError(f"{out_dir}: no students.parquet")
    students = pd.read_parquet(spath)
    apath = out_dir / "answers.parquet"
    answers = pd.read_parquet(apath) if apath.is_file() else None
    return manifest, hashlib.sha256(raw).hexdigest(), students, answers


def _check_wave_frames(manifest: dict, students: pd.DataFrame, answers: Optional[pd.DataFrame]) -> None:
    wave = str(manifest["wave"])
    if "student_key" not in students.columns:
        raise ArchiveError("students.parquet has no student_key column")
    if students["student_key"].isna().any():
        raise ArchiveError(f"students.parquet: {int(students['student_key'].isna().sum())} row(s) without a student_key")
    dup = students["student_key"].duplicated()
    if dup.any():
        raise ArchiveError(f"students.parquet: {int(dup.sum())} student key(s) appear more than once in the wave")
    if "wave" in students.columns and not (students["wave"].astype(str) == wave).all():
        raise ArchiveError(f"students.parquet: rows of another wave than the manifest's ({wave})")
    scored = (manifest.get("totals") or {}).get("scored")
    if scored is not None and int(scored) != len(students):
        raise ArchiveError(f"students.parquet has {len(students)} rows but the manifest counts {scored} scored; "
                           "the folder is incomplete or was edited: screen the wave again")
    if answers is not None:
        if "student_key" not in answers.columns:
            raise ArchiveError("answers.parquet has no student_key column")
        if answers["student_key"].duplicated().any() or answers["student_key"].isna().any():
            raise ArchiveError("answers.parquet: student keys missing or repeated")


@dataclass(frozen=True)
class WaveGaps:
    """What a wave's manifest says it lacks (:func:`wave_gaps`).

    Attributes
    ----------
    status : str
        ``"complete"`` (also for manifests from before the ``status`` key), ``"incomplete"`` or ``"in_progress"``.
    not_processed : list of dict
        ``file``, ``status``, ``rows_in_file``, ``reason``, ``schools`` of each file not processed.
    schools : list of str
        Sorted: the manifest's ``schools_not_screened`` and the schools of the files not processed.
    unattributed : list of str
        Files not processed whose school is not known: their students may be counted absent.
    """

    status: str
    not_processed: list
    schools: list
    unattributed: list

    @property
    def complete(self) -> bool:
        return self.status == "complete"


def wave_gaps(manifest: dict) -> WaveGaps:
    """The completeness of a wave from its ``manifest.json`` (a dict).

    Examples
    --------
    >>> g = wave_gaps({"wave": "2026-09", "status": "incomplete", "schools_not_screened": ["实验中学"],
    ...                "not_processed": [{"file": "实验中学.csv", "status": "stopped", "rows_in_file": 416,
    ...                                   "schools": ["实验中学"]}]})
    >>> g.complete, g.schools, g.unattributed
    (False, ['实验中学'], [])
    >>> wave_gaps({"wave": "2025-09"}).complete  # a manifest from before the status key
    True
    """
    status = str(manifest.get("status") or "complete")
    files = [dict(f) for f in (manifest.get("not_processed") or []) if isinstance(f, dict)]
    schools = {str(x) for x in (manifest.get("schools_not_screened") or [])}
    for f in files:
        schools.update(str(x) for x in (f.get("schools") or []))
    unattributed = [str(f.get("file")) for f in files if not f.get("schools")]
    return WaveGaps(status=status, not_processed=files, schools=sorted(schools), unattributed=unattributed)


def _incomplete_error(wave: str, gaps: WaveGaps) -> IncompleteWaveError:
    files = ", ".join(f"{f.get('file')} ({f.get('status')}, {f.get('rows_in_file', '?')} rows)"
                      for f in gaps.not_processed) or "not named in the manifest"
    schools = ", ".join(gaps.schools) or "unknown"
    what = ("did not finish (status in_progress)" if gaps.status == "in_progress"
            else f"is incomplete: {len(gaps.not_processed)} file(s) were not processed: {files}")
    return IncompleteWaveError(
        f"wave {wave} {what}; schools not screened: {schools}. Fix those files and screen the wave again "
        "(then import that folder), or import this one anyway with --allow-incomplete (allow_incomplete=True): "
        "compare will then show those schools' students as 'school not screened', not absent",
        wave=wave, status=gaps.status, not_processed=gaps.not_processed, schools=gaps.schools)


@_translating
def import_wave(out_dir: PathLike, db: PathLike, *, replace: bool = False,
                allow_incomplete: bool = False) -> ImportResult:
    """Add one screening wave (the output folder of ``psyscreen screen``) to the store, all or nothing.

    Parameters
    ----------
    out_dir : str or Path
        A folder with ``manifest.json``, ``students.parquet`` and (optionally) ``answers.parquet``.
    db : str or Path
        The store; created when absent.
    replace : bool, default False
        Replace the wave when it is already in the store from a different manifest (a re-screening).
    allow_incomplete : bool, default False
        Import a wave whose manifest ``status`` is not ``complete``; the store records the files not processed
        and the schools not screened (:func:`compare` shows their students as "school not screened").

    Returns
    -------
    ImportResult
        ``status`` says whether the wave was imported, replaced, or already there (same manifest sha256:
        nothing added).

    Raises
    ------
    IncompleteWaveError
        The wave is incomplete and ``allow_incomplete`` is False (nothing is written).
    ImportConflictError
        The wave is in the store from another manifest and ``replace`` is False.
    StoreFullError, StoreDamagedError, StoreBusyError
        The disk is full, the store is damaged, or another import held it too long (the store is unchanged).
    ArchiveError
        The folder is not a complete wave folder, or mixes pseudonymised and plain keys with the store.

    Notes
    -----
    Everything is written in one ``BEGIN IMMEDIATE ... COMMIT`` transaction, and every check against the store
    (already imported, another manifest of the wave, pseudonymised or plain keys) runs inside it: a crash, an
    error or a kill part-way leaves the store exactly as it was, and two imports at the same moment behave as
    if one came after the other. Students deleted from the store earlier (see :func:`delete_student`) are left
    out, so a withdrawn consent stays withdrawn.

    Examples
    --------
    After ``psyscreen screen ... --out out/2026-03``::

        res = import_wave("out/2026-03", "county.db")
        print(res)   # wave 2026-03: imported 48210 students (48210 new), ...
    """
    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    manifest, sha, students, answers = _read_wave_dir(out_dir)
    _check_wave_frames(manifest, students, answers)
    wave = str(manifest["wave"])
    gaps = wave_gaps(manifest)
    if not gaps.complete and not allow_incomplete:
        raise _incomplete_error(wave, gaps)
    with connect(db) as con:
        con.execute("BEGIN IMMEDIATE")
        try:
            done = con.execute("SELECT w.wave FROM imports i JOIN waves w ON w.id = i.wave_id "
                               "WHERE i.manifest_sha256 = ?", (sha,)).fetchone()
            if done:
                con.execute("ROLLBACK")
                return ImportResult(wave=done[0], status="already imported", manifest_sha256=sha,
                                    seconds=time.perf_counter() - t0)
            _check_key_type(con, manifest)
            res = _import_in_transaction(con, out_dir, manifest, sha, students, answers, replace, gaps)
            con.execute("COMMIT")
        except BaseException:
            _rollback(con)
            raise
    return ImportResult(wave=wave, manifest_sha256=sha, seconds=time.perf_counter() - t0, **res)


def _check_key_type(con: sqlite3.Connection, manifest: dict) -> None:
    """Pseudonymised and plain student keys never share a store (run inside the import's write transaction)."""
    pseudo = manifest.get("pseudonymised")
    if pseudo is None:
        return
    other = con.execute("SELECT count(*) FROM imports WHERE pseudonymised IS NOT NULL AND pseudonymised != ?",
                        (int(bool(pseudo)),)).fetchone()[0]
    if other:
        raise ArchiveError("this wave's keys are " + ("pseudonymised" if pseudo else "plain student ids")
                           + " but the store's waves are not: their students would not link across waves; "
                           "screen the wave again the same way as the others")


def _reasons_by_language(students: pd.DataFrame, manifest: dict) -> tuple[pd.Series, pd.Series]:
    """The reasons in Chinese and in English: ``reasons_zh`` / ``reasons_en`` columns when the folder has them,
    else ``reasons`` in the run's language (the manifest's ``lang``, Chinese when absent), NA for the other."""
    lang = str(manifest.get("lang") or "zh")
    missing = pd.Series(pd.NA, index=students.index, dtype="string")
    out = []
    for code in ("zh", "en"):
        if f"reasons_{code}" in students.columns:
            out.append(students[f"reasons_{code}"].astype("string"))
        elif lang == code and "reasons" in students.columns:
            out.append(students["reasons"].astype("string"))
        else:
            out.append(missing)
    return out[0], out[1]


def _import_in_transaction(con, out_dir, manifest, sha, students, answers, replace, gaps) -> dict:
    wave = str(manifest["wave"])
    status = "imported"
    row = con.execute("SELECT id FROM waves WHERE wave = ?", (wave,)).fetchone()
    if row is not None:
        if not replace:
            raise ImportConflictError(
                f"wave {wave} is already in the store from another screening run (a different manifest); "
                "pass --replace (replace=True) to replace it with this one")
        con.execute("DELETE FROM waves WHERE id = ?", (row[0],))  # cascades to imports, screenings, scores, answers
        status = "replaced"
    cur = con.execute("INSERT INTO waves(wave, wave_date) VALUES (?, ?)",
                      (wave, _wave_date(wave, manifest.get("created"))))
    wave_id = cur.lastrowid

    # deleted students stay out
    skipped = 0
    if con.execute("SELECT count(*) FROM deletions").fetchone()[0]:
        secret = _secret(con)
        gone = {r[0] for r in con.execute("SELECT key_hash FROM deletions")}
        keys = students["student_key"].astype(str)
        hashed = np.array([_log_hash(secret, k) for k in keys.tolist()])
        drop = np.isin(hashed, list(gone))
        skipped = int(drop.sum())
        if skipped:
            dropped = set(keys[drop].tolist())
            students = students[~drop]
            if answers is not None:
                answers = answers[~answers["student_key"].astype(str).isin(dropped)]

    # students: keys of both files, new ones added
    keys = pd.concat([students["student_key"], answers["student_key"] if answers is not None else None]
                     ).astype(str).drop_duplicates()
    con.execute("CREATE TEMP TABLE IF NOT EXISTS _keys (k TEXT PRIMARY KEY)")
    con.execute("DELETE FROM _keys")
    con.executemany("INSERT INTO _keys VALUES (?)", ((k,) for k in keys.tolist()))
    before = con.execute("SELECT count(*) FROM students").fetchone()[0]
    con.execute("INSERT OR IGNORE INTO students(student_key) SELECT k FROM _keys")
    new_students = con.execute("SELECT count(*) FROM students").fetchone()[0] - before
    idmap = pd.read_sql_query("SELECT s.student_key AS k, s.id FROM students s JOIN _keys ON _keys.k = s.student_key",
                              con)
    ids = pd.Series(idmap["id"].to_numpy(), index=idmap["k"].astype(str).to_numpy())
    con.execute("DELETE FROM _keys")
    sid = ids.reindex(students["student_key"].astype(str).to_numpy()).to_numpy()

    # screenings
    def col(name):
        return students[name] if name in students.columns else pd.Series([None] * len(students),
                                                                          index=students.index, dtype=object)

    level = col("level").astype("string")
    rank = pd.to_numeric(col("level_rank"), errors="coerce")
    flagged = (rank.notna() & level.notna() & (level != NONE_LEVEL) & (level != UNDECIDED_LEVEL)
               & ~level.str.startswith("invalid").fillna(False))
    crit = col("critical")
    reasons_zh, reasons_en = _reasons_by_language(students, manifest)
    rows = zip(
        [wave_id] * len(students), sid.tolist(),
        _nullable(col("school").astype("string")), _int_or_none(col("grade")),
        _nullable(col("class").astype("string")), _nullable(col("sex").astype("string")),
        _nullable(level), _int_or_none(rank), flagged.astype(int).tolist(),
        _bool_or_none(crit) if "critical" in students.columns else [None] * len(students),
        _nullable(reasons_zh), _nullable(reasons_en),
        _bool_or_none(col("careless_longstring")) if "careless_longstring" in students.columns else [None] * len(students),
        _bool_or_none(col("careless_fast")) if "careless_fast" in students.columns else [None] * len(students),
    )
    con.executemany("INSERT INTO screenings(wave_id, student_id, school, grade, class, sex, level, level_rank, "
                    "flagged, critical, reasons, reasons_en, careless_longstring, careless_fast) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
    con.executemany("INSERT OR IGNORE INTO schools_not_screened VALUES (?, ?)",
                    [(wave_id, school) for school in gaps.schools])

    # scales and scores
    specs = _scale_specs(manifest, list(students.columns), students)
    n_scores = 0
    for spec in specs:
        con.execute("INSERT OR IGNORE INTO scales(name, instrument) VALUES (?, ?)", (spec["name"], spec["instrument"]))
        if spec["reliability"] is not None or spec["items"] is not None:
            con.execute("UPDATE scales SET reliability = ?, reliability_source = ?, higher_is_worse = ?, items = ? "
                        "WHERE name = ?",
                        (spec["reliability"], spec["reliability_source"], int(spec["higher_is_worse"]),
                         json.dumps({k: spec.get(k) for k in ("items", "method", "min", "max", "reverse")}),
                         spec["name"]))
        scale_id = con.execute("SELECT id FROM scales WHERE name = ?", (spec["name"],)).fetchone()[0]
        values = pd.to_numeric(students[spec["name"]], errors="coerce").astype("float64")
        band_col = spec["name"] + ".band"
        bands = students[band_col].astype("string") if band_col in students.columns else None
        keep = values.notna().to_numpy() | (bands.notna().to_numpy() if bands is not None else False)
        order = np.argsort(sid[keep], kind="stable")
        v = values[keep].iloc[order]
        b = bands[keep].iloc[order] if bands is not None else None
        con.executemany("INSERT INTO scores VALUES (?,?,?,?,?)",
                        zip([wave_id] * len(v), [scale_id] * len(v), sid[keep][order].tolist(), _nullable(v),
                            _nullable(b) if b is not None else [None] * len(v)))
        n_scores += int(values.notna().sum())

    # answers, packed
    n_answers = 0
    answer_columns, dtype = None, None
    if answers is not None:
        answer_columns = [c for c in answers.columns if c not in ("student_key", "wave")]
        mat = answers[answer_columns].apply(pd.to_numeric, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        m32 = mat.astype("<f4")
        exact = np.array_equal(m32.astype("float64"), mat, equal_nan=True)
        dtype = "<f4" if exact else "<f8"
        packed = np.ascontiguousarray(m32 if exact else mat.astype("<f8"))
        width = packed.dtype.itemsize * max(len(answer_columns), 1)
        blobs = packed.view(np.dtype((np.void, width))).ravel().tolist() if answer_columns else [b""] * len(answers)
        aid = ids.reindex(answers["student_key"].astype(str).to_numpy()).to_numpy()
        order = np.argsort(aid, kind="stable")
        con.executemany("INSERT INTO answers VALUES (?,?,?)",
                        zip([wave_id] * len(aid), aid[order].tolist(), [blobs[i] for i in order.tolist()]))
        n_answers = len(aid)

    _pause_hook(con)  # test hook: a kill here, with most of the wave written, must leave the store as it was
    protocol = manifest.get("protocol") or {}
    con.execute(
        "INSERT INTO imports(wave_id, manifest_sha256, manifest, source_dir, inputs, tool_version, protocol_id, "
        "protocol_version, protocol_sha256, instruments, pseudonymised, answer_columns, answer_dtype, n_students, "
        "imported_at, status, county, not_processed) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (wave_id, sha, json.dumps(manifest, ensure_ascii=False), str(out_dir.resolve()),
         json.dumps(manifest.get("inputs"), ensure_ascii=False), (manifest.get("tool") or {}).get("version"),
         protocol.get("id"), protocol.get("version"), protocol.get("sha256"),
         json.dumps(manifest.get("instruments"), ensure_ascii=False),
         None if manifest.get("pseudonymised") is None else int(bool(manifest["pseudonymised"])),
         json.dumps(answer_columns) if answer_columns is not None else None, dtype, len(students), _now(),
         gaps.status, manifest.get("county"),
         json.dumps(gaps.not_processed, ensure_ascii=False) if gaps.not_processed else None))
    return {"status": status, "students": len(students), "new_students": int(new_students), "scores": n_scores,
            "answers": n_answers, "skipped_deleted": skipped}


# --------------------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------------------


@_translating
def waves(db: PathLike) -> pd.DataFrame:
    """The waves in the store with their provenance and completeness.

    Columns: wave, date, students, manifest sha256, versions, imported_at, ``status`` (``complete`` or
    ``incomplete``), ``county`` and ``schools_not_screened`` (a list per wave).
    """
    with connect(db, create=False) as con:
        w = pd.read_sql_query(
            "SELECT w.id, w.wave, w.wave_date, i.n_students AS students, i.manifest_sha256, i.tool_version, "
            "i.protocol_id, i.protocol_version, i.instruments, i.imported_at, i.status, i.county FROM waves w "
            "LEFT JOIN imports i ON i.wave_id = w.id ORDER BY w.wave", con)
        gaps = pd.read_sql_query("SELECT wave_id, school FROM schools_not_screened ORDER BY school", con)
    missing = gaps.groupby("wave_id")["school"].agg(list)
    w["schools_not_screened"] = [missing.get(i, []) for i in w["id"]]
    return w.drop(columns="id")


def _student_id(con, key: str) -> int:
    row = con.execute("SELECT id FROM students WHERE student_key = ?", (str(key),)).fetchone()
    if row is None:
        raise StudentNotFoundError("student not found in the archive (check the key, or whether the student "
                                   "was deleted)")
    return int(row[0])


@dataclass(frozen=True, eq=False)
class History(ResultMixin):
    """One student's growth file: a row per wave.

    Attributes
    ----------
    student_key : str
    timeline : DataFrame
        ``wave``, ``wave_date``, ``school``, ``grade``, ``class``, ``level``, ``level_rank``, ``flagged``,
        ``critical``, ``reasons`` (Chinese), ``reasons_en`` (English; NA for a wave whose folder had no English
        reasons), ``protocol_id`` and one column per scale (``phq9.total``...), in wave order.
    scales : list of str
    """

    student_key: str
    timeline: pd.DataFrame
    scales: list = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        return self.timeline

    def reasons(self, lang: str = "zh") -> tuple[pd.Series, list]:
        """The reasons of each wave in ``lang``, and the waves that have them only in the other language.

        A wave screened before both languages were kept has its reasons in the run's language only: that
        text is shown (rather than nothing) and the wave is listed, so that the caller can say so.

        Examples
        --------
        >>> t = pd.DataFrame({"wave": ["2026-03"], "reasons": ["PHQ-9 总分 18"], "reasons_en": [pd.NA]})
        >>> text, other = History("k", t).reasons("en")
        >>> text.tolist(), other
        (['PHQ-9 总分 18'], ['2026-03'])
        """
        want, other = ("reasons", "reasons_en") if lang == "zh" else ("reasons_en", "reasons")
        t = self.timeline
        mine = t[want].astype("string") if want in t.columns else pd.Series(pd.NA, index=t.index, dtype="string")
        theirs = t[other].astype("string") if other in t.columns else pd.Series(pd.NA, index=t.index, dtype="string")
        fallback = mine.isna() & theirs.notna() & (theirs != "")
        return mine.fillna(theirs), t.loc[fallback.to_numpy(), "wave"].astype(str).tolist()

    def plot(self, scales: Optional[Sequence[str]] = None, *, lang: str = "zh", ax=None):
        """A small chart of the scale scores across waves; flagged waves are marked with a red ring.

        Drawn with psyscreen.plots' style and CJK font; returns a :class:`matplotlib.figure.Figure`.
        """
        from .plots import _figure, _rc_context

        scales = list(scales or self.scales)
        t = self.timeline
        x = np.arange(len(t))
        with _rc_context():
            fig, ax = _figure(ax, (max(3.5, 1.1 * len(t) + 2), 3.0))
            for s in scales:
                ax.plot(x, t[s].to_numpy(dtype="float64", na_value=np.nan), marker="o", label=s)
                hit = t["flagged"].fillna(False).to_numpy(dtype=bool)
                ax.scatter(x[hit], t.loc[hit, s].to_numpy(dtype="float64", na_value=np.nan), s=140,
                           facecolors="none", edgecolors="#d32f2f", linewidths=1.5, zorder=3)
            ax.set_xticks(x, [wave_label(w, lang) for w in t["wave"].astype(str)])
            ax.set_xlabel("筛查批次" if lang == "zh" else "wave")
            ax.set_ylabel("得分" if lang == "zh" else "score")
            ax.set_title("成长档案：量表得分（红圈 = 预警）" if lang == "zh" else "Growth file: scale scores (red ring = flagged)")
            ax.grid(alpha=0.3)
            if scales:
                ax.legend(frameon=False, fontsize="small")
        return fig


@_translating
def history(db: PathLike, student_key: str) -> History:
    """The timeline of one student across every wave in the store.

    Parameters
    ----------
    db : str or Path
    student_key : str
        The key the waves were imported with (student id, or its keyed hash).

    Returns
    -------
    History

    Raises
    ------
    StudentNotFoundError
        No such student (the message does not repeat the key).
    """
    with connect(db, create=False) as con:
        sid = _student_id(con, student_key)
        base = pd.read_sql_query(
            "SELECT w.wave, w.wave_date, s.school, s.grade, s.class, s.sex, s.level, s.level_rank, s.flagged, "
            "s.critical, s.reasons, s.reasons_en, i.protocol_id FROM screenings s JOIN waves w ON w.id = s.wave_id "
            "LEFT JOIN imports i ON i.wave_id = s.wave_id WHERE s.student_id = ? "
            "ORDER BY w.wave", con, params=(sid,))
        sc = pd.read_sql_query(
            "SELECT w.wave, c.name AS scale, x.value FROM scores x JOIN waves w ON w.id = x.wave_id "
            "JOIN scales c ON c.id = x.scale_id WHERE x.student_id = ?", con, params=(sid,))
    scales = sorted(sc["scale"].unique().tolist())
    if len(sc):
        wide = sc.pivot(index="wave", columns="scale", values="value").reset_index()
        base = base.merge(wide, on="wave", how="left")
    for c in ("flagged", "critical"):
        base[c] = base[c].astype("boolean")
    base["level_rank"] = base["level_rank"].astype("Int64")
    return History(student_key=str(student_key), timeline=base, scales=scales)


def _wave_frame(con, wave: str) -> tuple[int, pd.DataFrame]:
    row = con.execute("SELECT id FROM waves WHERE wave = ?", (str(wave),)).fetchone()
    if row is None:
        have = [r[0] for r in con.execute("SELECT wave FROM waves ORDER BY wave")]
        raise ArchiveError(f"wave {wave!r} is not in the store; it has {have}")
    wid = int(row[0])
    base = pd.read_sql_query(
        "SELECT s.student_id, st.student_key, s.school, s.grade, s.class, s.sex, s.level, s.level_rank, s.flagged, "
        "s.critical FROM screenings s JOIN students st ON st.id = s.student_id WHERE s.wave_id = ?",
        con, params=(wid,))
    return wid, base


def _scores_wide(con, wid: int) -> pd.DataFrame:
    sc = pd.read_sql_query("SELECT x.student_id, c.name AS scale, x.value FROM scores x JOIN scales c "
                           "ON c.id = x.scale_id WHERE x.wave_id = ?", con, params=(wid,))
    if sc.empty:
        return pd.DataFrame(index=pd.Index([], name="student_id"))
    return sc.pivot(index="student_id", columns="scale", values="value")


def _answers_frame(con, wid: int) -> pd.DataFrame:
    meta = con.execute("SELECT answer_columns, answer_dtype FROM imports WHERE wave_id = ?", (wid,)).fetchone()
    if meta is None or meta[0] is None:
        return pd.DataFrame()
    cols = json.loads(meta[0])
    rows = con.execute("SELECT student_id, codes FROM answers WHERE wave_id = ? ORDER BY student_id", (wid,)).fetchall()
    if not rows:
        return pd.DataFrame(columns=cols, dtype="float64")
    sid, blobs = zip(*rows)
    mat = np.frombuffer(b"".join(blobs), dtype=meta[1]).reshape(len(rows), len(cols)).astype("float64")
    return pd.DataFrame(mat, columns=cols, index=pd.Index(np.asarray(sid), name="student_id"))


def _scale_meta(con) -> pd.DataFrame:
    return pd.read_sql_query("SELECT name, reliability, reliability_source, higher_is_worse, items FROM scales",
                             con).set_index("name")


# --------------------------------------------------------------------------------------------------
# compare
# --------------------------------------------------------------------------------------------------


#: The outcomes of :func:`compare`, in the order of its tables (codes; :data:`OUTCOME_LABELS` for people).
OUTCOMES = ("new", "persistent", "resolved", "absent", "undecided", "invalid", "school not screened",
            "school not screened before", "not flagged")

OUTCOME_LABELS = {
    "zh": {"new": "新增预警", "persistent": "持续预警", "resolved": "预警解除", "absent": "上次预警、本次未参加筛查",
           "undecided": "本次无法判定（作答缺失）", "invalid": "本次答卷无效（需重测）",
           "school not screened": "学校本次未筛查", "school not screened before": "学校上次未筛查",
           "not flagged": "未预警"},
    "en": {"new": "new flag", "persistent": "persistent flag", "resolved": "resolved",
           "absent": "flagged before, absent now", "undecided": "undecided now (answers missing)",
           "invalid": "invalid sheet now (re-test)", "school not screened": "school not screened in this wave",
           "school not screened before": "school not screened in the earlier wave", "not flagged": "not flagged"},
}


@dataclass(frozen=True, eq=False)
class Comparison(ResultMixin):
    """Change between two waves.

    Attributes
    ----------
    from_wave, to_wave : str
    students : DataFrame
        One row per student in either wave: ``student_key``, ``school``, ``grade``, ``class`` (of the later
        wave when present), ``level_from``, ``level_to``, ``flagged_from``, ``flagged_to``, ``status``, one of
        :data:`OUTCOMES`:

        * ``"school not screened"``: not in the later wave, and the school of the earlier wave is one the later
          wave lacks (its export was not processed): nothing is known of the student now;
        * ``"school not screened before"``: not in the earlier wave, whose school lacked the student's school;
        * ``"invalid"`` / ``"undecided"``: screened in the later wave, but the sheet failed a validity scale /
          no level could be decided because answers are missing: never resolved, never persistent;
        * ``"persistent"`` (flagged both times), ``"new"`` (flagged now, not flagged or not screened before),
          ``"absent"`` (flagged before, not screened now, the school screened), ``"resolved"`` (flagged before,
          screened now with a decided level and not flagged);
        * ``"not flagged"`` otherwise.
    changes : DataFrame
        Long: one row per student screened in both waves x scale: ``student_key``, ``school``, ``grade``,
        ``class``, ``scale``, ``x1``, ``x2``, ``change``, ``rci``, ``category`` (Jacobson-Truax),
        ``flagged_to`` and ``below_cutoff_deterioration`` (reliable deterioration in a student not flagged now).
    reliability : DataFrame
        Per scale: ``reliability``, ``source`` (``"definition: ..."`` or ``"estimated: ..."``), ``sd_from``,
        ``n_from`` and ``s_diff``.
    gaps : dict
        ``{"from": WaveGaps, "to": WaveGaps}``: the status, files not processed and schools not screened of each
        wave, as the store recorded them at import.
    protocol : str, optional
        The later wave's protocol id (for the level names in the workbooks).
    """

    from_wave: str
    to_wave: str
    students: pd.DataFrame
    changes: pd.DataFrame
    reliability: pd.DataFrame
    gaps: dict = field(default_factory=dict)
    protocol: Optional[str] = None
    last_time: Optional[pd.DataFrame] = None

    STATUSES = OUTCOMES

    def with_last_time(self, last: pd.DataFrame) -> "Comparison":
        """This comparison with "what was done last time" for the students flagged again (``persistent``).

        The follow-up record is not in this store (it lives in the workspace): the caller reads it and passes
        one row per student that had a case before the later wave, indexed by ``student_key``, with the columns
        of :data:`LAST_TIME_COLUMNS`. Rows of students who are not flagged again are dropped; undecided, invalid
        and not-screened students are never flagged again (they keep their own outcome).

        Examples
        --------
        >>> st = pd.DataFrame({"student_key": ["a", "b", "c"], "status": ["persistent", "persistent", "new"]})
        >>> last = pd.DataFrame({"last_wave": ["2026-03", "2026-03"], "last_status": ["closed", "open"],
        ...     "last_close_reason": ["resolved", None], "last_interview": ["on time", "never"],
        ...     "last_referred": [True, False]}, index=pd.Index(["a", "c"], name="student_key"))
        >>> c = Comparison("2026-03", "2026-09", st, pd.DataFrame(), pd.DataFrame()).with_last_time(last)
        >>> counts = c.flagged_again()
        >>> counts["flagged_again"], counts["with_case"], counts["closed"], counts["referred"], counts["no_case"]
        (2, 1, 1, 1, 1)
        """
        from dataclasses import replace

        missing = [c for c in LAST_TIME_COLUMNS if c not in last.columns]
        if missing:
            raise ArchiveError(f"last-time record lacks the column(s) {missing}")
        again = set(self.students.loc[self.students["status"] == "persistent", "student_key"].astype(str))
        frame = last.loc[[str(k) in again for k in last.index], list(LAST_TIME_COLUMNS)].copy()
        frame.index = pd.Index([str(k) for k in frame.index], name="student_key")
        return replace(self, last_time=frame)

    def flagged_again(self) -> dict:
        """Counts of the students flagged again and what was done at their last case (needs
        :meth:`with_last_time`; without it only ``flagged_again`` is known)."""
        n = int((self.students["status"] == "persistent").sum())
        out = {"flagged_again": n}
        t = self.last_time
        if t is None:
            return out
        out.update(with_case=len(t), closed=int((t["last_status"] == "closed").sum()),
                   referred=int(t["last_referred"].fillna(False).astype(bool).sum()),
                   never_interviewed=int((t["last_interview"] == "never").sum()),
                   interviewed_late=int((t["last_interview"] == "late").sum()), no_case=n - len(t))
        return out

    def flagged_again_line(self, lang: str = "zh") -> str:
        """The terminal's count line for the students flagged again.

        Examples
        --------
        >>> st = pd.DataFrame({"student_key": ["a"], "status": ["persistent"]})
        >>> Comparison("2026-03", "2026-09", st, pd.DataFrame(), pd.DataFrame()).flagged_again_line("en")
        'flagged again: 1 (no follow-up is recorded in this archive)'
        """
        c = self.flagged_again()
        if "with_case" not in c:
            return (f"再次预警：{c['flagged_again']} 人（本档案没有随访记录）" if lang == "zh" else
                    f"flagged again: {c['flagged_again']} (no follow-up is recorded in this archive)")
        if lang == "zh":
            return (f"再次预警：{c['flagged_again']} 人；其上次个案：已结案 {c['closed']}，已转介 {c['referred']}，"
                    f"未约谈 {c['never_interviewed']}，约谈逾期 {c['interviewed_late']}，无个案记录 {c['no_case']}")
        return (f"flagged again: {c['flagged_again']}; of them last case closed {c['closed']}, referred "
                f"{c['referred']}, never interviewed {c['never_interviewed']}, interviewed late "
                f"{c['interviewed_late']}, no case recorded {c['no_case']}")

    def to_frame(self) -> pd.DataFrame:
        """Counts by status (county total), one row for every outcome (zeros included)."""
        counts = self.students["status"].value_counts().reindex(list(self.STATUSES), fill_value=0)
        return counts.rename_axis("status").reset_index(name="students")

    @property
    def absent_flagged(self) -> pd.DataFrame:
        """Students flagged in the earlier wave who were not screened in the later one (their school was)."""
        return self.students[self.students["status"] == "absent"]

    def notes(self, lang: str = "zh") -> list[str]:
        """What a reader must know to read the counts: schools not screened, incomplete waves.

        Examples
        --------
        >>> st = pd.DataFrame({"status": ["school not screened", "absent"]})
        >>> g = {"from": WaveGaps("complete", [], [], []), "to": WaveGaps("incomplete", [], ["实验中学"], [])}
        >>> note = Comparison("2026-03", "2026-09", st, pd.DataFrame(), pd.DataFrame(), gaps=g).notes("en")[0]
        >>> note.split(";")[0]
        'school not screened in September 2026: 实验中学 (its export was not processed)'
        >>> note.split(";")[1]
        " 1 student(s) of March 2026 there are counted as 'school not screened in this wave', not as absent or resolved"
        """
        out = []
        counts = self.students["status"].value_counts()
        for side, wave, other, code in (("to", self.to_wave, self.from_wave, "school not screened"),
                                        ("from", self.from_wave, self.to_wave, "school not screened before")):
            g = self.gaps.get(side)
            if g is None:
                continue
            n = int(counts.get(code, 0))
            w, o = wave_label(wave, lang), wave_label(other, lang)
            if g.schools:
                sep = "、" if lang == "zh" else ", "
                out.append(
                    f"{w}未筛查的学校：{sep.join(g.schools)}（其导出文件未处理）；{o}在这些学校的 {n} 名学生计为"
                    f"“{OUTCOME_LABELS['zh'][code]}”，不计为缺测或预警解除" if lang == "zh" else
                    f"school not screened in {w}: {sep.join(g.schools)} (its export was not processed); {n} "
                    f"student(s) of {o} there are counted as '{OUTCOME_LABELS['en'][code]}', not as absent or "
                    "resolved")
            if g.unattributed:
                files = ", ".join(g.unattributed)
                out.append(f"{w}不完整：未处理的文件 {files} 的学校未知，其学生可能被计为缺测" if lang == "zh" else
                           f"{w} is incomplete: the school of the unprocessed file(s) {files} is not known, so "
                           "their students may be counted absent")
        return out


#: The columns of "what was done last time" (:meth:`Comparison.with_last_time`): the wave of the student's last
#: case, its status (``open``, a :data:`psyscreen.followup.EVENT_KINDS` code, ``closed``), its close reason (a
#: ``close`` outcome code, or missing), the interview (``on time``, ``late`` or ``never``) and whether the
#: student was referred.
LAST_TIME_COLUMNS = ("last_wave", "last_status", "last_close_reason", "last_interview", "last_referred")

_LAST_TIME_WORDS = {
    "zh": {"open": "未处理", "on time": "按期约谈", "late": "逾期约谈", "never": "未约谈",
           "closed": "已结案", "open_interviewed": "未结案，已约谈", "open_never": "未结案，未约谈",
           "no_case": "无个案记录"},
    "en": {"open": "open: nothing recorded", "on time": "interviewed on time", "late": "interviewed late",
           "never": "never interviewed", "closed": "last case closed", "open_interviewed": "open, interviewed",
           "open_never": "open, never interviewed", "no_case": "no case recorded"},
}


def _last_time_columns(cmp: "Comparison", rows: pd.DataFrame, lang: str, w: dict) -> pd.DataFrame:
    """The "what was done last time" columns, in words, for the rows of a school's flags sheet."""
    from . import followup

    words = _LAST_TIME_WORDS[lang]
    t = cmp.last_time.reindex(rows["student_key"].astype(str).tolist())

    def status(v):
        if not isinstance(v, str):
            return ""
        return words["open"] if v == "open" else followup.label(v, lang) if v in followup.EVENT_KINDS else v

    def reason(v):
        return followup.label(v, lang, group="close") if isinstance(v, str) and v in followup.OUTCOMES["close"] \
            else ""

    again = (rows["status"] == "persistent").to_numpy()
    has = t["last_status"].notna().to_numpy()
    out = pd.DataFrame(index=rows.index)
    out["last_wave"] = [wave_label(v, lang) if isinstance(v, str) else "" for v in t["last_wave"]]
    out["last_status"] = [status(v) for v in t["last_status"]]
    out.loc[again & ~has, "last_status"] = words["no_case"]
    out["last_close_reason"] = [reason(v) for v in t["last_close_reason"]]
    out["last_interview"] = [words.get(v, "") if isinstance(v, str) else "" for v in t["last_interview"]]
    ref = t["last_referred"].astype("boolean")
    out["last_referred"] = np.where(ref.isna(), "", np.where(ref.fillna(False), w["yes"], w["no"]))
    return out


def _estimate_reliability(con, wid_from: int, scale: str, meta: pd.Series, scores_from: pd.Series,
                          scores_to: pd.Series) -> tuple[float, str]:
    """Cronbach's alpha of the from-wave answers when the scale's items are known, else the test-retest r."""
    from .reliability import alpha

    items = json.loads(meta["items"]) if isinstance(meta.get("items"), str) else None
    if items and items.get("items") and items.get("method") in ("sum", "mean"):
        ans = _answers_frame(con, wid_from)
        cols = items["items"]
        if not ans.empty and all(c in ans.columns for c in cols):
            res = alpha(ans[cols], reverse=items.get("reverse") or (), min=items.get("min"), max=items.get("max"))
            return float(res.alpha), f"estimated: Cronbach's alpha of the {len(ans)} from-wave answer sheets"
    both = pd.concat([scores_from, scores_to], axis=1, join="inner").dropna()
    if len(both) < 3:
        raise ArchiveError(f"{scale}: no reliability in the definition and too few students to estimate one")
    r = float(np.corrcoef(both.iloc[:, 0], both.iloc[:, 1])[0, 1])
    return r, f"estimated: test-retest Pearson r between the two waves (n = {len(both)})"


@_translating
def compare(db: PathLike, from_wave: str, to_wave: str, *, ci: float = 0.95) -> Comparison:
    """New, persistent and resolved flags, absentees, and reliable change per scale between two waves.

    Parameters
    ----------
    db : str or Path
    from_wave, to_wave : str
        Wave labels as imported (``"2026-03"``).
    ci : float, default 0.95
        Level of the reliable change criterion (``|RCI| > 1.96``).

    Returns
    -------
    Comparison

    Notes
    -----
    The outcome of each student (``students.status``) is described at :class:`Comparison`; a school the later
    (earlier) wave lacks, as recorded at import from the wave's manifest, makes its students "school not
    screened" ("school not screened before") rather than absent, new or resolved.

    Reliable change is Jacobson and Truax (1991) via :func:`psyscreen.reliability.reliable_change`, with
    ``sd`` the standard deviation (n - 1) of the scale in the from-wave and the reliability of the scale's
    definition (``reliability`` in its YAML); a scale without one uses Cronbach's alpha of the from-wave's
    stored answers, or failing that the Pearson correlation between the two waves; ``reliability.source`` says
    which. A reliable deterioration is reported even when the student stays under every cutoff.
    """
    from .reliability import reliable_change

    with connect(db, create=False) as con:
        w1, a = _wave_frame(con, from_wave)
        w2, b = _wave_frame(con, to_wave)
        s1, s2 = _scores_wide(con, w1), _scores_wide(con, w2)
        meta = _scale_meta(con)

        m = a.merge(b, on=["student_id", "student_key"], how="outer", suffixes=("_from", "_to"), indicator=True)
        gaps = {"from": _stored_gaps(con, w1), "to": _stored_gaps(con, w2)}
        protocol = con.execute("SELECT protocol_id FROM imports WHERE wave_id = ?", (w2,)).fetchone()
        status = _outcomes(m, gaps)
        in_from, in_to = _membership(m)
        students = pd.DataFrame({
            "student_key": m["student_key"].astype("string"),
            "school": m["school_to"].where(in_to, m["school_from"]).astype("string"),
            "grade": m["grade_to"].where(in_to, m["grade_from"]).astype("Int64"),
            "class": m["class_to"].where(in_to, m["class_from"]).astype("string"),
            "level_from": m["level_from"].astype("string"),
            "level_to": m["level_to"].astype("string"),
            "flagged_from": _flag_column(m["flagged_from"], in_from),
            "flagged_to": _flag_column(m["flagged_to"], in_to),
            "status": pd.Series(status, dtype="string"),
        })
        students.attrs["student_id"] = m["student_id"].to_numpy()

        both_ids = m.loc[in_from & in_to, "student_id"].to_numpy()
        info = students[in_from & in_to].set_index(pd.Index(both_ids, name="student_id"))
        rel_rows, parts = [], []
        for scale in sorted(set(s1.columns) & set(s2.columns)):
            x1 = s1[scale].reindex(both_ids)
            x2 = s2[scale].reindex(both_ids)
            sd = float(s1[scale].dropna().std(ddof=1))
            n_from = int(s1[scale].notna().sum())
            mrow = meta.loc[scale] if scale in meta.index else pd.Series(dtype=object)
            r = mrow.get("reliability")
            if r is not None and pd.notna(r):
                r, source = float(r), f"definition: {mrow.get('reliability_source') or 'instrument YAML'}"
            else:
                r, source = _estimate_reliability(con, w1, scale, mrow, s1[scale], s2[scale])
            higher = bool(mrow.get("higher_is_worse", 1)) if pd.notna(mrow.get("higher_is_worse", 1)) else True
            rel_rows.append({"scale": scale, "reliability": r, "source": source, "sd_from": sd, "n_from": n_from,
                             "s_diff": sd * np.sqrt(2.0) * np.sqrt(1.0 - r)})
            rc = reliable_change(x1.to_numpy(), x2.to_numpy(), r, sd, ci=ci, higher_is_worse=higher)
            rc.index = pd.Index(both_ids, name="student_id")
            part = pd.concat([info[["student_key", "school", "grade", "class", "flagged_to"]], rc], axis=1)
            part.insert(4, "scale", scale)
            part = part[part["category"].notna()]
            parts.append(part)
    changes = (pd.concat(parts, ignore_index=True) if parts else
               pd.DataFrame(columns=["student_key", "school", "grade", "class", "scale", "flagged_to", "x1", "x2",
                                     "change", "rci", "category"]))
    changes["below_cutoff_deterioration"] = ((changes["category"] == "reliable deterioration")
                                             & ~changes["flagged_to"].fillna(False).astype(bool))
    return Comparison(from_wave=str(from_wave), to_wave=str(to_wave), students=students, changes=changes,
                      reliability=pd.DataFrame(rel_rows), gaps=gaps, protocol=protocol[0] if protocol else None)


def _membership(m: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """In the earlier wave, in the later wave (boolean arrays) of the outer merge of the two waves."""
    return (m["_merge"].isin(["left_only", "both"]).to_numpy(), m["_merge"].isin(["right_only", "both"]).to_numpy())


def _flag_column(flagged: pd.Series, present: np.ndarray) -> pd.arrays.BooleanArray:
    return pd.array(np.where(present, flagged.fillna(0).astype(bool).to_numpy(), None), dtype="boolean")


def _outcomes(m: pd.DataFrame, gaps: dict) -> np.ndarray:
    """The outcome (:data:`OUTCOMES`) of each row of the outer merge of two waves, vectorised.

    Examples
    --------
    >>> m = pd.DataFrame({"_merge": ["both", "both", "both", "left_only", "left_only"],
    ...     "flagged_from": [1, 1, 1, 1, 1], "flagged_to": [0, 0, 1, None, None],
    ...     "level_from": ["level3"] * 5, "level_to": ["undecided", "none", "level3", None, None],
    ...     "school_from": ["一中"] * 4 + ["二中"], "school_to": ["一中"] * 3 + [None, None]})
    >>> g = {"from": WaveGaps("complete", [], [], []), "to": WaveGaps("incomplete", [], ["二中"], [])}
    >>> _outcomes(m, g).tolist()
    ['undecided', 'resolved', 'persistent', 'absent', 'school not screened']
    """
    in_from, in_to = _membership(m)
    f1 = m["flagged_from"].fillna(0).astype(bool).to_numpy() & in_from
    f2 = m["flagged_to"].fillna(0).astype(bool).to_numpy() & in_to
    lv_to = m["level_to"].astype("string")
    invalid_to = in_to & lv_to.str.startswith("invalid").fillna(False).to_numpy(dtype=bool)
    undecided_to = in_to & (lv_to.isna() | (lv_to == UNDECIDED_LEVEL)).fillna(True).to_numpy(dtype=bool)
    gone_school = ~in_to & m["school_from"].isin(gaps["to"].schools).to_numpy(dtype=bool)
    new_school = ~in_from & m["school_to"].isin(gaps["from"].schools).to_numpy(dtype=bool)
    return np.select(
        [gone_school, new_school, invalid_to, undecided_to, f1 & f2, f2, f1 & ~in_to, f1],
        ["school not screened", "school not screened before", "invalid", "undecided", "persistent", "new",
         "absent", "resolved"], default="not flagged").astype(object)


def _stored_gaps(con: sqlite3.Connection, wid: int) -> WaveGaps:
    """The completeness of a wave as recorded at import (a wave imported before schema 3 is complete)."""
    row = con.execute("SELECT status, not_processed FROM imports WHERE wave_id = ?", (wid,)).fetchone()
    schools = [r[0] for r in con.execute("SELECT school FROM schools_not_screened WHERE wave_id = ? ORDER BY school",
                                         (wid,))]
    files = json.loads(row[1]) if row and row[1] else []
    return WaveGaps(status=(row[0] if row else None) or "complete", not_processed=files, schools=schools,
                    unattributed=[str(f.get("file")) for f in files if not f.get("schools")])


# --------------------------------------------------------------------------------------------------
# small-cell suppression and the compare workbooks
# --------------------------------------------------------------------------------------------------


def _suppressed(counts: pd.DataFrame, min_cell: int, *, total: str = "Total", rate: str = "rate") -> pd.DataFrame:
    """Counts with margins for publication: every hidden cell shown as "*" (one mark), rates blanked.

    The rule is :func:`psyscreen.privacy.suppress_small` (the same as the screening's county summary); the
    display follows :mod:`psyscreen.report.county` (one mark for every hidden cell, so it narrows nothing).
    ``total`` names the margins (made distinct from every label) and ``rate`` the rate columns (``<c> rate``).
    """
    from .privacy import HIDDEN, add_margins, suppress_small, total_label

    counts = counts.astype("int64")
    labels = [v for level in range(counts.index.nlevels) for v in counts.index.get_level_values(level).astype(str)]
    total = total_label(total, [*labels, *counts.columns])
    full = add_margins(counts, total=total)
    hidden = suppress_small(counts, min_cell, total=total)
    shown = full.astype(object).mask(hidden.isna().to_numpy(dtype=bool), HIDDEN)
    num = hidden.astype("Float64")
    den = num[total]
    rates = num.div(den.where(den > 0), axis=0).drop(columns=[total]).astype(float)
    out = pd.DataFrame(index=full.index)
    out[total] = shown[total]
    for c in counts.columns:
        out[c] = shown[c]
        out[f"{c} {rate}"] = rates[c].round(4)
    return out.reset_index()


def _write_sheets(path: Path, sheets: dict[str, pd.DataFrame]) -> Path:
    """The comparison workbooks, written like the screening outputs (styled, inert cells, atomic)."""
    from .io import Sheet, write_workbook

    return write_workbook(path, [Sheet(name, frame) for name, frame in sheets.items()])


_CATEGORY_LABELS = {
    "zh": {"reliable deterioration": "可靠恶化", "reliable improvement": "可靠改善", "no reliable change": "无可靠变化",
           "reliable deterioration, flagged": "可靠恶化（本次预警）",
           "reliable deterioration, under cutoff": "可靠恶化（未达预警线）"},
    "en": {},
}


def _words(lang: str, wf: str, wt: str) -> dict:
    """The headers, sheet names and notes of the compare workbooks in ``lang`` (waves as a person writes them)."""
    if lang == "zh":
        return {
            "sheets": {"flags": "预警变化", "reliable change": "可靠变化", "reliability": "信度",
                       "flags by school": "各校预警变化", "flagged again": "再次预警的上次处理", "about": "说明"},
            "columns": {"student_key": "学生编码", "school": "学校", "grade": "年级", "class": "班级",
                        "level_from": f"等级（{wf}）", "level_to": f"等级（{wt}）", "flagged_from": f"预警（{wf}）",
                        "flagged_to": f"预警（{wt}）", "status": "结果", "scale": "量表", "x1": f"得分（{wf}）",
                        "x2": f"得分（{wt}）", "change": "变化", "rci": "可靠变化指数（RCI）", "category": "类别",
                        "below_cutoff_deterioration": "可靠恶化但未达预警线", "reliability": "信度",
                        "source": "信度来源", "sd_from": f"标准差（{wf}）", "n_from": f"人数（{wf}）",
                        "s_diff": "差值标准误（S_diff）", "last_wave": "上次个案批次", "last_status": "上次个案状态",
                        "last_close_reason": "上次结案原因", "last_interview": "上次约谈", "last_referred": "上次是否转介"},
            "yes": "是", "no": "否", "total": "合计", "rate": "比例", "note": "说明",
            "about": [f"{wf} → {wt} 两次筛查对比；本工作簿不含任何学生身份信息",
                      "*：已隐藏（所有隐藏单元格同一标记，可能为 0 或任何人数）：1 至 {m1} 的计数、等于该行合计的计数、"
                      "合计被隐藏的行的全部计数，以及为防止由合计推算出以上各项而一并隐藏的单元格"
                      "（psyscreen.privacy.suppress_small）；隐藏处比例留空",
                      "可靠变化：Jacobson-Truax 法，|RCI| > 1.96；“未达预警线”= 本次未预警"],
        }
    return {
        "sheets": {k: k for k in ("flags", "reliable change", "reliability", "flags by school", "about")}
        | {"flagged again": "flagged again, last time"},
        "columns": {"student_key": "student key", "school": "school", "grade": "grade", "class": "class",
                    "level_from": f"level ({wf})", "level_to": f"level ({wt})", "flagged_from": f"flagged ({wf})",
                    "flagged_to": f"flagged ({wt})", "status": "outcome", "scale": "scale", "x1": f"score ({wf})",
                    "x2": f"score ({wt})", "change": "change", "rci": "reliable change index (RCI)",
                    "category": "category", "below_cutoff_deterioration": "reliable deterioration under the cutoff",
                    "reliability": "reliability", "source": "source of the reliability",
                    "sd_from": f"SD ({wf})", "n_from": f"n ({wf})", "s_diff": "SE of the difference (S_diff)",
                    "last_wave": "last case: wave", "last_status": "last case: status",
                    "last_close_reason": "last case: close reason", "last_interview": "last case: interview",
                    "last_referred": "last case: referred"},
        "yes": "yes", "no": "no", "total": "Total", "rate": "rate", "note": "note",
        "about": [f"compare {wf} -> {wt}; no student identity in this workbook",
                  "*: hidden (one mark for every hidden cell; it may be 0 or any count): counts from 1 to {m1}, a "
                  "count equal to its row's total, every count of a row whose total is hidden, and cells hidden so "
                  "that none of these can be worked out from the totals (psyscreen.privacy.suppress_small); rates "
                  "blank where hidden",
                  "reliable change: Jacobson-Truax, |RCI| > 1.96; 'under cutoff' = not flagged in the later wave"],
    }


def _level_labels(values: pd.Series, protocol: Optional[str], lang: str) -> pd.Series:
    """Level codes as the protocol names them in ``lang`` (codes it does not know are kept as they are)."""
    from ._text import map_unique
    from .report._common import _SPECIAL, level_infos

    names = dict(_SPECIAL[lang])
    try:
        from .protocol import load_protocol

        names.update({i.key: i.label for i in level_infos(load_protocol(protocol), lang)} if protocol else {})
    except Exception:  # a county's own protocol not installed here: the codes stay
        pass
    return map_unique(values.astype("string"), lambda v: names.get(v, v)).astype("string")


def _source_text(source: str, lang: str, wf: str) -> str:
    """The reliability's source (``definition: ...`` / ``estimated: ...``) in ``lang``."""
    if lang != "zh":
        return source
    m = re.match(r"estimated: Cronbach's alpha of the (\d+) from-wave answer sheets", source)
    if m:
        return f"估计：{wf} 的 {m.group(1)} 份答卷的 Cronbach α"
    m = re.match(r"estimated: test-retest Pearson r between the two waves \(n = (\d+)\)", source)
    if m:
        return f"估计：两次筛查之间的重测 Pearson r（n = {m.group(1)}）"
    return source.replace("definition: ", "量表定义：", 1)


def _yes_no(values: pd.Series, w: dict) -> pd.Series:
    b = values.astype("boolean")
    return pd.Series(np.where(b.isna(), "", np.where(b.fillna(False), w["yes"], w["no"])), index=values.index)


def _flag_sheet(cmp: Comparison, rows: pd.DataFrame, lang: str, w: dict) -> pd.DataFrame:
    out = rows.copy()
    if cmp.last_time is not None:
        out = pd.concat([out, _last_time_columns(cmp, rows, lang, w)], axis=1)
    out["level_from"] = _level_labels(out["level_from"], cmp.protocol, lang)
    out["level_to"] = _level_labels(out["level_to"], cmp.protocol, lang)
    for c in ("flagged_from", "flagged_to"):
        out[c] = _yes_no(out[c], w)
    out["status"] = out["status"].map(OUTCOME_LABELS[lang])
    return out.rename(columns=w["columns"])


def _change_sheet(rows: pd.DataFrame, lang: str, w: dict) -> pd.DataFrame:
    out = rows.copy()
    out["category"] = out["category"].map(lambda c: _CATEGORY_LABELS[lang].get(c, c))
    for c in ("flagged_to", "below_cutoff_deterioration"):
        out[c] = _yes_no(out[c], w)
    return out.rename(columns=w["columns"])


def _reliability_sheet(cmp: Comparison, lang: str, w: dict, wf: str) -> pd.DataFrame:
    rel = cmp.reliability.copy()
    if "source" in rel.columns:
        rel["source"] = [_source_text(str(x), lang, wf) for x in rel["source"]]
    return rel.rename(columns=w["columns"])


#: The order of the outcomes in a school's list: who needs action first.
_LIST_ORDER = {"new": 0, "persistent": 1, "undecided": 2, "invalid": 3, "absent": 4, "school not screened": 5,
               "school not screened before": 6, "resolved": 7}


def _inside(folder: Path, path: Path) -> Path:
    """``path``, after checking that it lies inside ``folder`` (a school name never leads out of it)."""
    if not path.resolve().is_relative_to(folder.resolve()):
        raise ArchiveError(f"refusing to write {path.name!r} outside the output folder {folder}")
    return path


def write_comparison(cmp: Comparison, out_dir: PathLike, *, min_cell: int = 5, lang: str = "zh") -> list[Path]:
    """Write a :class:`Comparison`: one workbook per school and a county summary with small-cell suppression.

    ``out_dir/schools/<school>/<school>-compare-<from>-<to>.xlsx``: sheets ``flags`` (new, persistent,
    undecided, invalid, absent, school-not-screened and resolved students, most urgent first), ``reliable
    change`` (every reliable change, the deteriorations under the cutoff marked) and ``reliability`` (what each
    scale's criterion used). ``out_dir/county/compare-<from>-<to>.xlsx``: counts by school x outcome (every
    outcome of :data:`OUTCOMES`) and by school x scale x category, counts of 1 to ``min_cell - 1``, and what
    would reveal them or a whole group, shown as "*" (:func:`psyscreen.privacy.suppress_small`, the rule of the
    screening's county summary), and an ``about`` sheet with the notes of :meth:`Comparison.notes`; no student
    keys. Files are written atomically.

    With :meth:`Comparison.with_last_time` (the follow-up record), a school's ``flags`` sheet says for each
    student flagged again what was done at the last case (its wave, status, close reason, interview, referral),
    and the county workbook gets a ``flagged again`` sheet: by school, the last case closed, open and
    interviewed, open and never interviewed, or no case recorded (suppressed like the others).

    Parameters
    ----------
    cmp : Comparison
    out_dir : str or Path
    min_cell : int, default 5
    lang : {"zh", "en"}, default "zh"
        Language of the sheet names, headers, outcomes, levels and notes; waves are written as a person writes
        them (``2026年9月``). The codes stay in :attr:`Comparison.students` for programs.

    Notes
    -----
    School folder and file names are :func:`psyscreen.io.unique_file_names` of the school names: two schools
    whose names clean alike (``A/B中学`` and ``A_B中学``) never share a workbook, and a school named ``..``
    never leads out of ``out_dir``.

    Examples
    --------
    ``write_comparison(compare("county.db", "2026-03", "2026-09"), "cmp", lang="en")``
    """
    from .io import unique_file_names

    if lang not in ("zh", "en"):
        raise ArchiveError(f"lang must be 'zh' or 'en', not {lang!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    wf, wt = wave_label(cmp.from_wave, lang), wave_label(cmp.to_wave, lang)
    w = _words(lang, wf, wt)
    sheet = w["sheets"]
    written = []
    st, ch = cmp.students, cmp.changes
    tag = f"{cmp.from_wave}-{cmp.to_wave}"
    schools = sorted(st["school"].dropna().unique().tolist())
    names = unique_file_names(schools)
    listed = (st["status"] != "not flagged") & ((st["status"] != "school not screened before")
                                                | st["flagged_to"].fillna(False).astype(bool))
    reliability = _reliability_sheet(cmp, lang, w, wf)
    for school in schools:
        folder = _inside(out, out / "schools" / names[school])
        flags = st[(st["school"] == school) & listed].copy()
        flags = (flags.assign(_o=flags["status"].map(_LIST_ORDER)).sort_values(["_o", "grade", "class"])
                 .drop(columns="_o"))
        rc = ch[(ch["school"] == school) & (ch["category"] != "no reliable change")].sort_values(
            ["category", "scale", "rci"], ascending=[True, True, False])
        path = _inside(out, folder / f"{names[school]}-compare-{tag}.xlsx")
        written.append(_write_sheets(path, {sheet["flags"]: _flag_sheet(cmp, flags, lang, w),
                                            sheet["reliable change"]: _change_sheet(rc, lang, w),
                                            sheet["reliability"]: reliability}))
    county = out / "county"
    school_col = w["columns"]["school"]
    by_school = pd.crosstab(st["school"].fillna("?"), st["status"]).reindex(columns=list(OUTCOMES), fill_value=0)
    by_school = by_school.rename(columns=OUTCOME_LABELS[lang])
    by_school.index.name = school_col
    by_school.columns.name = None
    cats = ["reliable deterioration, flagged", "reliable deterioration, under cutoff", "reliable improvement",
            "no reliable change"]
    kind = pd.Series(ch["category"].astype(str).to_numpy(), index=ch.index)
    kind[ch["category"] == "reliable deterioration"] = np.where(
        ch.loc[ch["category"] == "reliable deterioration", "below_cutoff_deterioration"].to_numpy(dtype=bool),
        cats[1], cats[0])
    rc_tables = []
    for scale in sorted(ch["scale"].unique().tolist()):
        part = ch["scale"] == scale
        counts = pd.crosstab(ch.loc[part, "school"].fillna("?"), kind[part]).reindex(columns=cats, fill_value=0)
        counts = counts.rename(columns=lambda c: _CATEGORY_LABELS[lang].get(c, c))
        counts.index.name = school_col
        counts.columns.name = None
        table = _suppressed(counts, min_cell, total=w["total"], rate=w["rate"])
        table.insert(0, w["columns"]["scale"], scale)
        rc_tables.append(table)
    about = [line.format(m=min_cell, m1=min_cell - 1) for line in w["about"]] + cmp.notes(lang)
    sheets = {
        sheet["flags by school"]: _suppressed(by_school, min_cell, total=w["total"], rate=w["rate"]),
        sheet["reliable change"]: pd.concat(rc_tables, ignore_index=True) if rc_tables else pd.DataFrame(),
        sheet["reliability"]: reliability}
    if cmp.last_time is not None:
        sheets[sheet["flagged again"]] = _flagged_again_by_school(cmp, min_cell, lang, w)
        about.append(cmp.flagged_again_line(lang))
    sheets[sheet["about"]] = pd.DataFrame({w["note"]: about})
    written.append(_write_sheets(county / f"compare-{tag}.xlsx", sheets))
    return written


def _flagged_again_by_school(cmp: Comparison, min_cell: int, lang: str, w: dict) -> pd.DataFrame:
    """Students flagged again, by school x what their last case came to (closed; open and interviewed; open and
    never interviewed; no case recorded), with small-cell suppression."""
    words = _LAST_TIME_WORDS[lang]
    st = cmp.students[cmp.students["status"] == "persistent"]
    cats = ["closed", "open_interviewed", "open_never", "no_case"]
    if st.empty:
        return pd.DataFrame(columns=[w["columns"]["school"], *(words[c] for c in cats)])
    t = cmp.last_time.reindex(st["student_key"].astype(str).tolist())
    status = t["last_status"].to_numpy(dtype=object)
    never = (t["last_interview"] == "never").to_numpy(dtype=bool)
    has = t["last_status"].notna().to_numpy(dtype=bool)
    kind = np.where(~has, "no_case", np.where(status == "closed", "closed",
                                              np.where(never, "open_never", "open_interviewed")))
    counts = pd.crosstab(st["school"].fillna("?").to_numpy(), kind).reindex(columns=cats, fill_value=0)
    counts = counts.rename(columns=words)
    counts.index.name = w["columns"]["school"]
    counts.columns.name = None
    return _suppressed(counts, min_cell, total=w["total"], rate=w["rate"])


# --------------------------------------------------------------------------------------------------
# test-retest
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class TestRetest(ResultMixin):
    """Test-retest evidence per scale between consecutive waves.

    Attributes
    ----------
    table : DataFrame
        One row per scale x consecutive wave pair: ``scale``, ``wave_from``, ``wave_to``, ``n`` (students with
        the scale in both), ``r`` (Pearson), ``icc1``, ``icc2``, ``icc3`` with ``*_low`` / ``*_high`` bounds
        (Shrout and Fleiss, as ``psych::ICC``).
    """

    __test__ = False  # not a pytest class
    table: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        return self.table


@_translating
def test_retest(db: PathLike, scales: Optional[Sequence[str]] = None, *, ci: float = 0.95) -> TestRetest:
    """ICC and Pearson correlation of each scale between consecutive waves in the store.

    Parameters
    ----------
    db : str or Path
    scales : list of str, optional
        Scale names (``phq9.total``); default every scale present in two consecutive waves.
    ci : float

    Returns
    -------
    TestRetest

    Notes
    -----
    The ICC is :func:`psyscreen.reliability.icc` (``psych::ICC(cbind(wave1, wave2), lmer = FALSE)``) on the
    students with the scale in both waves; ``r`` is Pearson's correlation on the same students (``cor(x, y)``).
    """
    from .reliability import icc

    rows = []
    with connect(db, create=False) as con:
        wl = con.execute("SELECT id, wave FROM waves ORDER BY wave").fetchall()
        frames = {wid: _scores_wide(con, wid) for wid, _ in wl}
    for (w1, l1), (w2, l2) in zip(wl[:-1], wl[1:]):
        a, b = frames[w1], frames[w2]
        for scale in sorted(set(a.columns) & set(b.columns)):
            if scales is not None and scale not in scales:
                continue
            both = pd.concat([a[scale], b[scale]], axis=1, join="inner", keys=["x1", "x2"]).dropna()
            n = len(both)
            row = {"scale": scale, "wave_from": l1, "wave_to": l2, "n": n}
            if n >= 3:
                row["r"] = float(np.corrcoef(both["x1"], both["x2"])[0, 1])
                long = pd.DataFrame({"t": np.tile(both.index.to_numpy(), 2), "w": np.repeat([l1, l2], n),
                                     "y": np.concatenate([both["x1"].to_numpy(), both["x2"].to_numpy()])})
                res = icc(long, "t", "w", "y", ci=ci).set_index("type")
                for t in ("ICC1", "ICC2", "ICC3"):
                    row[t.lower()] = float(res.loc[t, "icc"])
                    row[t.lower() + "_low"] = float(res.loc[t, "ci_low"])
                    row[t.lower() + "_high"] = float(res.loc[t, "ci_high"])
            rows.append(row)
    cols = ["scale", "wave_from", "wave_to", "n", "r", "icc1", "icc1_low", "icc1_high", "icc2", "icc2_low",
            "icc2_high", "icc3", "icc3_low", "icc3_high"]
    return TestRetest(table=pd.DataFrame(rows).reindex(columns=cols))


test_retest.__test__ = False  # a library function, not a pytest test


# --------------------------------------------------------------------------------------------------
# stewardship
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeletionResult(ResultMixin):
    """What :func:`delete_student` removed: rows per table, and the keyed hash written to the deletion log."""

    key_hash: str
    reason: str
    rows_removed: dict

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([{"table": k, "rows": v} for k, v in self.rows_removed.items()])


@_translating
def delete_student(db: PathLike, student_key: str, reason: str) -> DeletionResult:
    """Remove every record of one student (graduated, consent withdrawn), and log that it was done.

    The log row (table ``deletions``) holds an HMAC-SHA-256 of the key with the store's own secret, the reason,
    the time and how many rows went from each table: enough to answer "was this student deleted?" for someone
    who knows the key, and nothing that identifies the student to anyone else. A later import of a wave with
    that student leaves the student out.

    Raises
    ------
    StudentNotFoundError
    ArchiveError
        An empty reason.
    """
    if not reason or not str(reason).strip():
        raise ArchiveError("give the reason for the deletion (e.g. 'graduated', 'consent withdrawn')")
    with connect(db, create=False) as con:
        con.execute("PRAGMA secure_delete=ON")  # overwrite the freed pages: the key leaves the file
        con.execute("BEGIN IMMEDIATE")
        try:
            sid = _student_id(con, student_key)
            removed = {t: con.execute(f"SELECT count(*) FROM {t} WHERE student_id = ?", (sid,)).fetchone()[0]
                       for t in ("screenings", "scores", "answers")}
            removed["students"] = 1
            con.execute("DELETE FROM students WHERE id = ?", (sid,))  # cascades
            left = sum(con.execute(f"SELECT count(*) FROM {t} WHERE student_id = ?", (sid,)).fetchone()[0]
                       for t in ("screenings", "scores", "answers"))
            assert left == 0, "cascade left rows behind"
            key_hash = _log_hash(_secret(con), str(student_key))
            con.execute("INSERT INTO deletions(key_hash, reason, rows_removed, deleted_at) VALUES (?,?,?,?)",
                        (key_hash, str(reason).strip(), json.dumps(removed), _now()))
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return DeletionResult(key_hash=key_hash, reason=str(reason).strip(), rows_removed=removed)


def _key_bytes(key: Union[str, bytes, Path]) -> bytes:
    if isinstance(key, Path):
        key = key.read_bytes().strip()
    if isinstance(key, str):
        key = key.encode("utf-8")
    if len(key) < 16:
        raise ArchiveError("the research key is too short: use at least 16 bytes (e.g. 32 random bytes in hex)")
    return key


def _coarse(wave_dates: pd.Series, labels: pd.Series, coarsen: str) -> pd.Series:
    d = wave_dates.fillna(labels).astype(str)
    ok = d.str.match(r"^\d{4}-\d{2}")
    if not ok.all():
        raise ArchiveError("a wave has no date to coarsen (label not like YYYY-MM); rename the wave")
    return d.str[:7] if coarsen == "month" else d.str[:4]


@_translating
def export_research(db: PathLike, path: PathLike, key: Union[str, bytes, Path], *, coarsen: str = "month",
                    include_answers: bool = False) -> pd.DataFrame:
    """A de-identified research extract: keyed pseudonyms, no names or classes, wave dates coarsened.

    Parameters
    ----------
    db : str or Path
    path : str or Path
        ``.parquet``, ``.csv`` or ``.xlsx``; written atomically.
    key : str, bytes or Path
        The research key (at least 16 bytes; a Path is read as a key file). Student keys are re-hashed
        ``HMAC-SHA-256(key, student_key)`` (first 32 hex digits) and schools coded the same way, so the
        extract links across waves but not back to the store without the key.
    coarsen : {"month", "year"}
        Wave dates as ``YYYY-MM`` or ``YYYY``; ``wave_seq`` (1, 2, ...) keeps the order of waves.
    include_answers : bool
        Add the item answers.

    Returns
    -------
    DataFrame
        What was written: ``research_id``, ``wave``, ``wave_seq``, ``school_code``, ``grade``, ``sex``,
        ``level``, ``level_rank``, ``flagged``, ``critical`` and the scale columns.
    """
    from .io import write_table

    if coarsen not in ("month", "year"):
        raise ArchiveError(f"coarsen must be 'month' or 'year', got {coarsen!r}")
    k = _key_bytes(key)
    parts = []
    with connect(db, create=False) as con:
        wl = con.execute("SELECT id, wave, wave_date FROM waves ORDER BY wave").fetchall()
        for seq, (wid, label, wdate) in enumerate(wl, start=1):
            _, base = _wave_frame(con, label)
            base = base.set_index("student_id")
            sc = _scores_wide(con, wid)
            frame = base.join(sc, how="left")
            if include_answers:
                frame = frame.join(_answers_frame(con, wid), how="left")
            frame.insert(0, "wave", _coarse(pd.Series([wdate] * len(frame), dtype=object),
                                            pd.Series([label] * len(frame), dtype=object), coarsen).to_numpy())
            frame.insert(1, "wave_seq", seq)
            parts.append(frame)
    if not parts:
        raise ArchiveError("the store holds no wave to export")
    out = pd.concat(parts)

    def pseud(values: pd.Series, prefix: str, n: int) -> list:
        uniq = values.astype(str).unique().tolist()
        codes = {u: hmac.new(k, (prefix + u).encode("utf-8"), hashlib.sha256).hexdigest()[:n] for u in uniq}
        return values.astype(str).map(codes).tolist()

    out.insert(0, "research_id", pseud(out["student_key"], "student:", 32))
    out.insert(3, "school_code", pseud(out["school"].fillna(""), "school:", 8))
    out = out.drop(columns=["student_key", "school", "class"]).reset_index(drop=True)
    for c in ("flagged", "critical"):
        out[c] = out[c].astype("boolean")
    out["level_rank"] = out["level_rank"].astype("Int64")
    write_table(out, path)
    return out
