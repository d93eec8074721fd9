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
  files with their hashes, tool / protocol / instrument versions, ``imported_at``); one import per wave;
* ``screenings``: one row per student x wave: school, grade, class, sex, level, level rank, ``flagged``,
  ``critical``, reasons, quality flags;
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
the test suite kills a real import mid-way with SIGKILL and checks the store is unchanged).

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

__all__ = [
    "SCHEMA_VERSION",
    "ArchiveError",
    "ImportConflictError",
    "StudentNotFoundError",
    "ImportResult",
    "History",
    "Comparison",
    "TestRetest",
    "DeletionResult",
    "connect",
    "schema_version",
    "import_wave",
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

_MIGRATIONS: list[tuple[int, str, str]] = [
    (1, "students, waves, imports, screenings, scores (long, scale by name), answers (packed)", _V1),
    (2, "scales table with reliability; scores by scale id; deletion log; store secret", _V2),
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
    """Apply the migrations the store lacks, each in its own transaction, recording each one."""
    con.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                "description TEXT NOT NULL, applied_at TEXT NOT NULL)")
    current = schema_version(con)
    if current > SCHEMA_VERSION:
        raise ArchiveError(f"the store has schema version {current}, newer than this psyscreen "
                           f"understands ({SCHEMA_VERSION}); update psyscreen")
    applied = False
    for version, description, sql in _MIGRATIONS:
        if version <= current or version > upto:
            continue
        applied = True
        con.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(sql):
                con.execute(statement)
            con.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)", (version, description, _now()))
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    fk = con.execute("PRAGMA foreign_key_check").fetchall() if applied and current else []  # after an upgrade
    if fk:
        raise ArchiveError(f"the store fails its foreign-key check ({len(fk)} rows); restore it from a backup")


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
    context manager yielding a :class:`sqlite3.Connection` in autocommit mode (WAL journal, foreign keys on);
    the schema is upgraded to :data:`SCHEMA_VERSION` first.
    """
    path = Path(db)
    if not path.exists() and not create:
        raise ArchiveError(f"{path}: no archive there (create one with `psyscreen archive import DIR --db {path}`)")
    if not path.parent.exists():
        raise ArchiveError(f"{path}: the folder {path.parent} does not exist")
    con = sqlite3.connect(path, isolation_level=None, timeout=30)
    try:
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=NORMAL")
        con.execute("PRAGMA foreign_keys=ON")
        _migrate(con, _upto)
    except sqlite3.DatabaseError as exc:
        con.close()
        raise ArchiveError(f"{path}: not a psyscreen archive, or damaged ({exc})") from None
    except BaseException:
        con.close()
        raise
    return _Store(con)


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


def import_wave(out_dir: PathLike, db: PathLike, *, replace: bool = False) -> ImportResult:
    """Add one screening wave (the output folder of ``psyscreen screen``) to the store, all or nothing.

    Parameters
    ----------
    out_dir : str or Path
        A folder with ``manifest.json``, ``students.parquet`` and (optionally) ``answers.parquet``.
    db : str or Path
        The store; created when absent.
    replace : bool, default False
        Replace the wave when it is already in the store from a different manifest (a re-screening).

    Returns
    -------
    ImportResult
        ``status`` says whether the wave was imported, replaced, or already there (same manifest sha256:
        nothing added).

    Raises
    ------
    ImportConflictError
        The wave is in the store from another manifest and ``replace`` is False.
    ArchiveError
        The folder is not a complete wave folder, or mixes pseudonymised and plain keys with the store.

    Notes
    -----
    Everything is written in one ``BEGIN IMMEDIATE ... COMMIT`` transaction: a crash, an error or a kill
    part-way leaves the store exactly as it was. Students deleted from the store earlier (see
    :func:`delete_student`) are left out, so a withdrawn consent stays withdrawn.

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
    with connect(db) as con:
        done = con.execute("SELECT w.wave FROM imports i JOIN waves w ON w.id = i.wave_id "
                           "WHERE i.manifest_sha256 = ?", (sha,)).fetchone()
        if done:
            return ImportResult(wave=done[0], status="already imported", manifest_sha256=sha,
                                seconds=time.perf_counter() - t0)
        pseudo = manifest.get("pseudonymised")
        if pseudo is not None:
            other = con.execute("SELECT count(*) FROM imports WHERE pseudonymised IS NOT NULL AND pseudonymised != ?",
                                (int(bool(pseudo)),)).fetchone()[0]
            if other:
                raise ArchiveError("this wave's keys are " + ("pseudonymised" if pseudo else "plain student ids")
                                   + " but the store's waves are not: their students would not link across waves; "
                                   "screen the wave again the same way as the others")
        con.execute("BEGIN IMMEDIATE")
        try:
            res = _import_in_transaction(con, out_dir, manifest, sha, students, answers, replace)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return ImportResult(wave=wave, manifest_sha256=sha, seconds=time.perf_counter() - t0, **res)


def _import_in_transaction(con, out_dir, manifest, sha, students, answers, replace) -> dict:
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
    flagged = (rank.notna() & level.notna() & (level != "none") & ~level.str.startswith("invalid").fillna(False))
    crit = col("critical")
    rows = zip(
        [wave_id] * len(students), sid.tolist(),
        _nullable(col("school").astype("string")), _int_or_none(col("grade")),
        _nullable(col("class").astype("string")), _nullable(col("sex").astype("string")),
        _nullable(level), _int_or_none(rank), flagged.astype(int).tolist(),
        _bool_or_none(crit) if "critical" in students.columns else [None] * len(students),
        _nullable(col("reasons").astype("string")),
        _bool_or_none(col("careless_longstring")) if "careless_longstring" in students.columns else [None] * len(students),
        _bool_or_none(col("careless_fast")) if "careless_fast" in students.columns else [None] * len(students),
    )
    con.executemany("INSERT INTO screenings VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)

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
        "imported_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (wave_id, sha, json.dumps(manifest, ensure_ascii=False), str(out_dir.resolve()),
         json.dumps(manifest.get("inputs"), ensure_ascii=False), (manifest.get("tool") or {}).get("version"),
         protocol.get("id"), protocol.get("version"), protocol.get("sha256"),
         json.dumps(manifest.get("instruments"), ensure_ascii=False),
         None if manifest.get("pseudonymised") is None else int(bool(manifest["pseudonymised"])),
         json.dumps(answer_columns) if answer_columns is not None else None, dtype, len(students), _now()))
    return {"status": status, "students": len(students), "new_students": int(new_students), "scores": n_scores,
            "answers": n_answers, "skipped_deleted": skipped}


# --------------------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------------------


def waves(db: PathLike) -> pd.DataFrame:
    """The waves in the store with their provenance: wave, date, students, manifest sha256, versions, imported_at."""
    with connect(db, create=False) as con:
        return pd.read_sql_query(
            "SELECT w.wave, w.wave_date, i.n_students AS students, i.manifest_sha256, i.tool_version, "
            "i.protocol_id, i.protocol_version, i.instruments, i.imported_at FROM waves w "
            "LEFT JOIN imports i ON i.wave_id = w.id ORDER BY w.wave", con)


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
        ``critical``, ``reasons`` and one column per scale (``phq9.total``...), in wave order.
    scales : list of str
    """

    student_key: str
    timeline: pd.DataFrame
    scales: list = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        return self.timeline

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
            ax.set_xticks(x, t["wave"].astype(str).tolist())
            ax.set_xlabel("筛查批次" if lang == "zh" else "wave")
            ax.set_ylabel("得分" if lang == "zh" else "score")
            ax.set_title("成长档案：量表得分（红圈 = 预警）" if lang == "zh" else "Growth file: scale scores (red ring = flagged)")
            ax.grid(alpha=0.3)
            if scales:
                ax.legend(frameon=False, fontsize="small")
        return fig


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
            "s.critical, s.reasons FROM screenings s JOIN waves w ON w.id = s.wave_id WHERE s.student_id = ? "
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


@dataclass(frozen=True, eq=False)
class Comparison(ResultMixin):
    """Change between two waves.

    Attributes
    ----------
    from_wave, to_wave : str
    students : DataFrame
        One row per student in either wave: ``student_key``, ``school``, ``grade``, ``class`` (of the later
        wave when present), ``level_from``, ``level_to``, ``flagged_from``, ``flagged_to``, ``status``:
        ``"new"`` (flagged now, not flagged or not screened before), ``"persistent"`` (flagged both times),
        ``"resolved"`` (flagged before, screened and not flagged now), ``"absent"`` (flagged before, not
        screened now), ``"undecided"`` (flagged before, invalid sheet now), ``"not flagged"`` otherwise.
    changes : DataFrame
        Long: one row per student screened in both waves x scale: ``student_key``, ``school``, ``grade``,
        ``class``, ``scale``, ``x1``, ``x2``, ``change``, ``rci``, ``category`` (Jacobson-Truax),
        ``flagged_to`` and ``below_cutoff_deterioration`` (reliable deterioration in a student not flagged now).
    reliability : DataFrame
        Per scale: ``reliability``, ``source`` (``"definition: ..."`` or ``"estimated: ..."``), ``sd_from``,
        ``n_from`` and ``s_diff``.
    """

    from_wave: str
    to_wave: str
    students: pd.DataFrame
    changes: pd.DataFrame
    reliability: pd.DataFrame

    STATUSES = ("new", "persistent", "resolved", "absent", "undecided", "not flagged")

    def to_frame(self) -> pd.DataFrame:
        """Counts by status (county total)."""
        counts = self.students["status"].value_counts().reindex(list(self.STATUSES), fill_value=0)
        return counts.rename_axis("status").reset_index(name="students")

    @property
    def absent_flagged(self) -> pd.DataFrame:
        """Students flagged in the earlier wave who were not screened in the later one."""
        return self.students[self.students["status"] == "absent"]


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
        in_from = m["_merge"].isin(["left_only", "both"]).to_numpy()
        in_to = m["_merge"].isin(["right_only", "both"]).to_numpy()
        f1 = m["flagged_from"].fillna(0).astype(bool).to_numpy()
        f2 = m["flagged_to"].fillna(0).astype(bool).to_numpy()
        invalid_to = m["level_to"].astype("string").str.startswith("invalid").fillna(False).to_numpy(dtype=bool)
        status = np.select(
            [f2, f1 & ~in_to, f1 & in_to & invalid_to, f1 & in_to],
            ["new", "absent", "undecided", "resolved"], default="not flagged").astype(object)
        status[f1 & f2] = "persistent"
        students = pd.DataFrame({
            "student_key": m["student_key"].astype("string"),
            "school": m["school_to"].where(in_to, m["school_from"]).astype("string"),
            "grade": m["grade_to"].where(in_to, m["grade_from"]).astype("Int64"),
            "class": m["class_to"].where(in_to, m["class_from"]).astype("string"),
            "level_from": m["level_from"].astype("string"),
            "level_to": m["level_to"].astype("string"),
            "flagged_from": pd.array(np.where(in_from, f1, None), dtype="boolean"),
            "flagged_to": pd.array(np.where(in_to, f2, None), dtype="boolean"),
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
                      reliability=pd.DataFrame(rel_rows))


# --------------------------------------------------------------------------------------------------
# small-cell suppression and the compare workbooks
# --------------------------------------------------------------------------------------------------


def _suppressed(counts: pd.DataFrame, min_cell: int) -> pd.DataFrame:
    """Counts with margins for publication: every hidden cell shown as "*" (one mark), rates blanked.

    The rule is :func:`psyscreen.privacy.suppress_small` (the same as the screening's county summary); the
    display follows :mod:`psyscreen.report.county` (one mark for every hidden cell, so it narrows nothing).
    """
    from .privacy import HIDDEN, TOTAL, add_margins, suppress_small, total_label

    counts = counts.astype("int64")
    labels = [v for level in range(counts.index.nlevels) for v in counts.index.get_level_values(level).astype(str)]
    total = total_label(TOTAL, [*labels, *counts.columns])
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
        out[f"{c} rate"] = rates[c].round(4)
    return out.reset_index()


def _write_sheets(path: Path, sheets: dict[str, pd.DataFrame]) -> Path:
    """The comparison workbooks, written like the screening outputs (styled, inert cells, atomic)."""
    from .io import Sheet, write_workbook

    return write_workbook(path, [Sheet(name, frame) for name, frame in sheets.items()])


_SAFE_NAME = re.compile(r"[\\/:*?\"<>|\x00-\x1f]")


def write_comparison(cmp: Comparison, out_dir: PathLike, *, min_cell: int = 5) -> list[Path]:
    """Write a :class:`Comparison`: one workbook per school and a county summary with small-cell suppression.

    ``out_dir/schools/<school>/<school>-compare-<from>-<to>.xlsx``: sheets ``flags`` (new, persistent,
    resolved, absent, undecided students, most urgent first), ``reliable change`` (every reliable change, the
    deteriorations under the cutoff marked) and ``reliability`` (what each scale's criterion used).
    ``out_dir/county/compare-<from>-<to>.xlsx``: counts by school x status and by school x scale x category,
    counts of 1 to ``min_cell - 1``, and what would reveal them or a whole group, shown as "*"
    (:func:`psyscreen.privacy.suppress_small`, the rule of the screening's county summary); no student keys.
    Files are written atomically.
    """
    out = Path(out_dir)
    written = []
    st, ch = cmp.students, cmp.changes
    tag = f"{cmp.from_wave}-{cmp.to_wave}"
    order = {"new": 0, "persistent": 1, "undecided": 2, "absent": 3, "resolved": 4}
    for school in sorted(st["school"].dropna().unique().tolist()):
        folder = out / "schools" / _SAFE_NAME.sub("_", school)
        folder.mkdir(parents=True, exist_ok=True)
        flags = st[(st["school"] == school) & (st["status"] != "not flagged")].copy()
        flags = flags.assign(_o=flags["status"].map(order)).sort_values(["_o", "grade", "class"]).drop(columns="_o")
        rc = ch[(ch["school"] == school) & (ch["category"] != "no reliable change")].sort_values(
            ["category", "scale", "rci"], ascending=[True, True, False])
        written.append(_write_sheets(folder / f"{_SAFE_NAME.sub('_', school)}-compare-{tag}.xlsx",
                                     {"flags": flags, "reliable change": rc, "reliability": cmp.reliability}))
    county = out / "county"
    county.mkdir(parents=True, exist_ok=True)
    statuses = ["new", "persistent", "resolved", "absent", "undecided", "not flagged"]
    by_school = pd.crosstab(st["school"].fillna("?"), st["status"]).reindex(columns=statuses, fill_value=0)
    by_school.index.name = "school"
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
        counts.index.name = "school"
        table = _suppressed(counts, min_cell)
        table.insert(0, "scale", scale)
        rc_tables.append(table)
    written.append(_write_sheets(county / f"compare-{tag}.xlsx", {
        "flags by school": _suppressed(by_school, min_cell),
        "reliable change": pd.concat(rc_tables, ignore_index=True) if rc_tables else pd.DataFrame(),
        "reliability": cmp.reliability,
        "about": pd.DataFrame({"note": [
            f"compare {cmp.from_wave} -> {cmp.to_wave}; no student identity in this workbook",
            f"*: hidden (one mark for every hidden cell; it may be 0 or any count): counts from 1 to {min_cell - 1}, "
            "a count equal to its row's total, every count of a row whose total is hidden, and cells hidden so that "
            "none of these can be worked out from the totals (psyscreen.privacy.suppress_small); rates blank where hidden",
            "reliable change: Jacobson-Truax, |RCI| > 1.96; 'under cutoff' = not flagged in the later wave"]})}))
    return written


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
