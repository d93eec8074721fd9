"""Merge the follow-up sheets schools filled in (随访记录) into the workspace's record.

A school without a connection fills in the follow-up sheet of its workbook
(:mod:`psyscreen.report.followup_sheet`) and sends the file back; ``psyscreen followup import FILE...`` calls
:func:`import_followup`, which

* reads every follow-up sheet of every file (found by its headers, in Chinese or English; other sheets are
  skipped), row by row; a row with no event filled in is ignored;
* checks each row's event with :func:`psyscreen.followup.validate_event` (the same rules as the web form) and
  finds its case by the student and the wave (the student key column when the sheet has one, else the id);
* records an :class:`~psyscreen.workspace.models.Event` per accepted row, with ``source`` naming the file, sheet
  and row and ``recorded_by`` empty (the file, not a workspace user, is the source).

The same row imported again adds nothing. A row is identified by its school, student, wave and entry number
(记录序号), not by its place in the file, so a file renamed or re-sorted is still the same record. A row imported
before and then changed becomes a **new** event that corrects the earlier one (``corrects``): nothing is edited
or removed. The event's ``source_key`` is ``x1:<row identity>:<hash of the content and of the event it
corrects>``; the database's unique constraint on it keeps two imports running at once from adding a row twice.

Every rejected cell is reported with file, sheet, row, column, what is wrong and what to write; the messages name
rows, never students. The rejected rows, with their reasons, go to a rejects workbook with the sheet's own
columns, which a person can fix and import again.

Examples
--------
>>> r = ImportResult(added=3, unchanged=1, corrected=1, rejected=2, ignored=40, files=("一中.xlsx",))
>>> str(r)
'1 file(s): 3 event(s) added, 1 corrected, 1 unchanged, 2 row(s) rejected, 40 row(s) without an event ignored'
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional, Sequence, Union

import pandas as pd
from django.utils import timezone
from django.db import IntegrityError, transaction

from .. import followup
from .._results import ResultMixin
from ..privacy import FORMULA_PREFIXES
from ..report.followup_sheet import COLUMNS, SHEET_NAMES, header_codes
from .models import AuditEntry, Case, Event

__all__ = ["import_followup", "read_followup_rows", "ImportResult", "Reject", "FillRow", "write_rejects"]

PathLike = Union[str, Path]

#: The columns of an event (a row with none of them filled in is blank).
EVENT_COLUMNS = ("kind", "date", "by", "outcome", "reassessed_level", "to", "note")
_FIELD_COLUMNS = ("date", "by", "outcome", "reassessed_level", "to", "note")
_HEADER_SEARCH = 40  # rows searched for the header row (the title and the instructions come first)
_WORDS = {c.code: c for c in COLUMNS}


@dataclass(frozen=True)
class Reject:
    """One rejected cell (or a file or sheet that could not be read): where, what is wrong, what to write."""

    file: str
    sheet: str
    row: int       # the row as Excel numbers it (0: the file or sheet as a whole)
    column: str    # the column letter ("" for the row or file as a whole)
    header: str    # the column's header
    problem: str

    def __str__(self) -> str:
        where = f"{self.file}"
        if self.sheet:
            where += f" {self.sheet}"
        if self.row:
            where += f" row {self.row}"
        if self.column:
            where += f" column {self.column} ({self.header})"
        return f"{where}: {self.problem}"


@dataclass(frozen=True)
class FillRow:
    """One filled-in row of a follow-up sheet: where it is, its cells by column code, and the whole row as read."""

    file: str
    sheet: str
    row: int
    cells: dict
    letters: dict  # code -> column letter
    headers: dict  # code -> header as written
    raw: tuple = ()

    def blank(self) -> bool:
        """No event filled in (the student's columns may be)."""
        return all(_blank(self.cells.get(c)) for c in EVENT_COLUMNS)

    def empty(self) -> bool:
        """Nothing at all in the sheet's columns (the spare rows under the list)."""
        return all(_blank(v) for v in self.cells.values())


@dataclass(frozen=True)
class ImportResult(ResultMixin):
    """What :func:`import_followup` did: events added, corrected, unchanged; rows rejected; rows ignored (a
    student's row with no event filled in; wholly empty rows are not counted).

    ``problems`` are the rejected cells (:class:`Reject`), ``rejects_file`` the workbook of rejected rows (None
    when nothing was rejected or none was asked for).
    """

    added: int = 0
    unchanged: int = 0
    corrected: int = 0
    rejected: int = 0
    ignored: int = 0
    files: tuple = ()
    problems: tuple = ()
    rejects_file: Optional[Path] = None

    def __str__(self) -> str:
        return (f"{len(self.files)} file(s): {self.added} event(s) added, {self.corrected} corrected, "
                f"{self.unchanged} unchanged, {self.rejected} row(s) rejected, {self.ignored} row(s) without an event ignored")

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([{"added": self.added, "corrected": self.corrected, "unchanged": self.unchanged,
                              "rejected": self.rejected, "ignored": self.ignored}])


def _blank(v) -> bool:
    return v is None or (isinstance(v, str) and not v.strip()) or (isinstance(v, float) and v != v)


def _inert_undone(v):
    """A text cell as the school meant it: the apostrophe put before a formula-like text on writing is removed."""
    if isinstance(v, str) and len(v) > 1 and v[0] == "'" and v[1:].startswith(FORMULA_PREFIXES):
        return v[1:]
    return v


def _text(v) -> str:
    """An id, a wave or a school as text: a number typed into the cell loses its ``.0``."""
    v = _inert_undone(v)
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, (dt.datetime, dt.date)):
        return v.strftime("%Y-%m")  # a wave Excel took for a date
    return str(v).strip()


def read_followup_rows(path: PathLike) -> tuple[list[FillRow], list[Reject]]:
    """Every row under the header of every follow-up sheet of one workbook, and what could not be read.

    A sheet is a follow-up sheet when one of its first rows has the headers of an event (事件类型 / Event) and of
    a student (学号 / 学生编码). Rows are numbered as Excel numbers them.
    """
    from openpyxl import load_workbook
    from openpyxl.utils import get_column_letter

    path = Path(path)
    rows: list[FillRow] = []
    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # not an xlsx file, damaged, encrypted: say so, go on with the other files
        return [], [Reject(path.name, "", 0, "", "", f"not a readable .xlsx workbook ({type(exc).__name__}); "
                                                    f"save it from Excel as .xlsx and import it again")]
    found = False
    try:
        for ws in wb.worksheets:
            if hasattr(ws, "reset_dimensions"):
                ws.reset_dimensions()  # some writers record a wrong size: read every stored row
            it = ws.iter_rows(values_only=True)
            codes, header_row, headers = None, None, ()
            for r, values in enumerate(it, start=1):
                if codes is None:
                    if r > _HEADER_SEARCH:
                        break
                    found_codes = header_codes(values)
                    if "kind" in found_codes and ({"student_id", "student_key"} & set(found_codes)):
                        codes, header_row, headers = found_codes, r, values
                    continue
                cells = {code: (_inert_undone(values[j]) if j < len(values) else None) for code, j in codes.items()}
                if all(_blank(v) for v in cells.values()):
                    continue  # a spare row (a sheet formatted down to its last row has a million of them)
                rows.append(FillRow(
                    file=path.name, sheet=ws.title, row=r, cells=cells,
                    letters={code: get_column_letter(j + 1) for code, j in codes.items()},
                    headers={code: str(headers[j]) for code, j in codes.items()},
                    raw=tuple(values)))
            if codes is not None:
                found = True
    finally:
        wb.close()
    if not found:
        return rows, [Reject(path.name, "", 0, "", "", f"no follow-up sheet ({SHEET_NAMES['zh']}) in this workbook: "
                                                       f"fill in the {SHEET_NAMES['zh']} sheet of the school's "
                                                       f"workbook and send that file")]
    return rows, []


def _entry(v) -> int:
    if _blank(v):
        return 1
    if isinstance(v, bool):
        raise ValueError
    if isinstance(v, (int, float)) and float(v).is_integer() and v >= 1:
        return int(v)
    text = str(v).strip()
    if text.isdigit() and int(text) >= 1:
        return int(text)
    raise ValueError


def _defaults(rows: Sequence[FillRow], code: str) -> dict:
    """The most common value of ``code`` per sheet (a school or a wave left blank in a typed row is the sheet's)."""
    counts: dict = {}
    for r in rows:
        c = counts.setdefault((r.file, r.sheet), Counter())
        if not _blank(r.cells.get(code)):
            c[_text(r.cells[code])] += 1
    return {where: (c.most_common(1)[0][0] if c else "") for where, c in counts.items()}


def _content(ev: followup.Event) -> str:
    return json.dumps([ev.kind, ev.occurred_on.isoformat(), sorted(ev.fields.items())], ensure_ascii=False)


def _stored_content(e: Event) -> str:
    return json.dumps([e.kind, e.occurred_on.isoformat(), sorted(dict(e.fields).items())], ensure_ascii=False)


def _digest(*parts: str, n: int) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:n]


@dataclass
class _Checked:
    row: FillRow
    problems: list = field(default_factory=list)
    event: Optional[followup.Event] = None
    case: Optional[Case] = None
    ident: str = ""


def _check(row: FillRow, today: dt.date, school_default: str, wave_default: str, cases: dict) -> _Checked:
    """Every problem of one row (its identity, its event, its case), each as a :class:`Reject`."""
    out = _Checked(row)

    def reject(code: str, problem: str) -> None:
        out.problems.append(Reject(row.file, row.sheet, row.row, row.letters.get(code, ""),
                                   row.headers.get(code, _WORDS[code].zh if code in _WORDS else code), problem))

    c = row.cells
    key_col = "student_key" if not _blank(c.get("student_key")) else "student_id"
    key = "" if _blank(c.get(key_col)) else _text(c[key_col])
    if not key:
        reject("student_id", "missing: the student id; copy the student's row from the list above")
    wave = wave_default if _blank(c.get("wave")) else _text(c["wave"])
    school = school_default if _blank(c.get("school")) else _text(c["school"])
    try:
        entry = _entry(c.get("entry"))
    except ValueError:
        entry = None
        reject("entry", "not a whole number; write 1 for a student's first event, 2, 3, ... for the next ones")
    kind = c.get("kind")
    values = {name: c.get(name) for name in _FIELD_COLUMNS if not _blank(c.get(name))}
    if _blank(kind):
        reject("kind", "missing: choose the event from the list (" + "、".join(k.zh for k in
                                                                                followup.EVENT_KINDS.values()) + ")")
    else:
        try:
            out.event = followup.validate_event(str(kind), values, today=today)
        except followup.EventError as exc:
            spec = followup.EVENT_KINDS.get(followup._kind_code(kind) or "")
            for name, problem in exc.problems.items():
                if spec is not None and problem.startswith("not a field"):
                    problem = (f"{spec.zh} ({spec.en}) has no {_WORDS[name].zh} ({_WORDS[name].en}): leave it blank, "
                               f"or choose the event it belongs to")
                reject(name if name in _WORDS else "kind", problem)
    if key and wave:
        case = cases.get((key, wave))
        if case is None:
            reject(key_col, f"no flagged student with this id in wave {wave}: check the id against the school's list "
                            f"(copy the student's row; only flagged students have a follow-up)")
        elif school and case.school != school:
            reject("school", "this student's case belongs to another school: copy the row from your school's list")
        else:
            out.case = case
    elif key and not wave:
        reject("wave", "missing: the wave (批次), e.g. 2026-09; copy the student's row from the list")
    if out.case is not None and entry is not None:
        out.ident = _digest(out.case.school, out.case.student_key, out.case.wave, str(entry), n=24)
    return out


def import_followup(files: Iterable[PathLike], *, today: Optional[dt.date] = None,
                    rejects: Optional[PathLike] = None) -> ImportResult:
    """Import the follow-up sheets of ``files`` into the workspace (idempotent; a changed row is a correction).

    Parameters
    ----------
    files : iterable of path
        The workbooks schools sent back (``.xlsx``).
    today : date, optional
        Events dated after it are refused. Default: today.
    rejects : path, optional
        Where to write the workbook of rejected rows (only when some row is rejected).

    Returns
    -------
    ImportResult
        The counts, every rejected cell (``problems``) and the rejects workbook written.

    Notes
    -----
    Everything is one transaction: an import either records all its accepted rows or none. Each event added
    gets an audit entry (``add_event``, user ``import``), and the import one with its counts (``import``).

    Examples
    --------
    After :func:`psyscreen.workspace.configure` (it writes to the workspace's database, so not a doctest)::

        result = import_followup(["一中.xlsx"], rejects="一中.rejects.xlsx")
        print(result)  # added, unchanged, corrected, rejected, ignored
    """
    today = today or timezone.localdate()
    files = [Path(f) for f in files]
    rows: list[FillRow] = []
    problems: list[Reject] = []
    for f in files:
        got, bad = read_followup_rows(f)
        rows += got
        problems += bad
    filled = [r for r in rows if not r.blank()]
    ignored = sum(1 for r in rows if r.blank() and not r.empty())
    schools, waves = _defaults(filled, "school"), _defaults(filled, "wave")
    wanted = set()
    for r in filled:
        for code in ("student_key", "student_id"):
            if not _blank(r.cells.get(code)):
                wanted.add(_text(r.cells[code]))
    cases = {}
    keys = sorted(wanted)
    for i in range(0, len(keys), 500):
        for case in Case.objects.filter(student_key__in=keys[i:i + 500]):
            cases[(case.student_key, case.wave)] = case
    checked = [_check(r, today, schools.get((r.file, r.sheet), ""), waves.get((r.file, r.sheet), ""), cases)
               for r in filled]
    # one row identity twice in this import with different events: the second is refused (the entry numbers of a
    # student must differ); the same event twice (a file given twice) is one event
    seen: dict[str, tuple] = {}
    for ch in checked:
        if ch.problems or not ch.ident:
            continue
        content = _content(ch.event)
        if ch.ident in seen and seen[ch.ident][0] != content:
            first = seen[ch.ident][1]
            ch.problems.append(Reject(ch.row.file, ch.row.sheet, ch.row.row, ch.row.letters.get("entry", ""),
                                      ch.row.headers.get("entry", _WORDS["entry"].zh),
                                      f"this student's entry number is also used by {first.file} {first.sheet} row "
                                      f"{first.row}: give this event the next number (2, 3, ...)"))
        else:
            seen.setdefault(ch.ident, (content, ch.row))
    added = corrected = unchanged = 0
    with transaction.atomic():
        for ch in checked:
            if ch.problems:
                continue
            outcome = _record(ch)
            added += outcome == "added"
            corrected += outcome == "corrected"
            unchanged += outcome == "unchanged"
        bad_rows = [ch for ch in checked if ch.problems]
        for ch in bad_rows:
            problems += ch.problems
        AuditEntry.objects.create(
            user=None, username="import", action="import",
            detail=(f"{', '.join(f.name for f in files)}: added {added}, corrected {corrected}, unchanged "
                    f"{unchanged}, rejected {len(bad_rows)}, ignored {ignored}")[:2000])
    written = None
    if rejects is not None and (bad_rows or problems):
        written = write_rejects([(ch.row, ch.problems) for ch in bad_rows], rejects,
                                file_problems=[p for p in problems if not p.row])
    return ImportResult(added=added, unchanged=unchanged, corrected=corrected, rejected=len(bad_rows),
                        ignored=ignored, files=tuple(f.name for f in files), problems=tuple(problems),
                        rejects_file=written)


def _record(ch: _Checked) -> str:
    """Store one checked row: ``added``, ``corrected`` (a new event correcting the row's last one) or
    ``unchanged``."""
    prefix = f"x1:{ch.ident}:"
    chain = list(Event.objects.filter(source_key__startswith=prefix).order_by("recorded_at"))
    corrected_ids = {e.corrects_id for e in chain if e.corrects_id}
    heads = [e for e in chain if e.pk not in corrected_ids]
    head = heads[-1] if heads else None
    content = _content(ch.event)
    if head is not None and _stored_content(head) == content:
        return "unchanged"
    source_key = prefix + _digest(content, str(head.pk) if head else "", n=35)
    source = f"excel: {ch.row.file} {ch.row.sheet} row {ch.row.row}"[:300]
    try:
        with transaction.atomic():
            Event.objects.create(case=ch.case, kind=ch.event.kind, occurred_on=ch.event.occurred_on,
                                 fields=ch.event.fields, corrects=head, recorded_by=None, source=source,
                                 source_key=source_key)
    except IntegrityError:  # another import recorded this very row a moment ago
        return "unchanged"
    AuditEntry.objects.create(user=None, username="import", action="add_event", case=ch.case,
                              detail=f"{ch.event.kind} ({source})"[:2000])
    return "added" if head is None else "corrected"


def write_rejects(rows: Sequence[tuple], path: PathLike, *, file_problems: Sequence[Reject] = ()) -> Path:
    """A workbook of the rejected rows, to fix and import again: the follow-up sheet's columns (as the rows had
    them), then what is wrong (问题) and where the row came from (来源).

    ``rows`` are ``(FillRow, [Reject, ...])``; ``file_problems`` (files or sheets that could not be read) are listed
    on a second sheet.
    """
    from ..io import Sheet, write_workbook

    codes = [c for c in COLUMNS]
    data = []
    for row, probs in rows:
        rec = {c.zh: row.cells.get(c.code) for c in codes}
        rec["问题"] = "；".join(f"{p.column}列（{p.header}）：{p.problem}" if p.column else p.problem for p in probs)
        rec["来源"] = f"{row.file} {row.sheet} 第{row.row}行"
        data.append(rec)
    frame = pd.DataFrame(data, columns=[c.zh for c in codes] + ["问题", "来源"])
    frame = frame.astype(object).where(frame.notna(), None)
    sheets = [Sheet(SHEET_NAMES["zh"], frame, wrap=("问题",),
                    note="退回的随访记录：按“问题”列修改后，可再次导入本文件（已导入的行不会重复）")]
    if file_problems:
        sheets.append(Sheet("无法读取的文件", pd.DataFrame({"文件": [p.file for p in file_problems],
                                                          "问题": [p.problem for p in file_problems]})))
    return write_workbook(Path(path), sheets)
