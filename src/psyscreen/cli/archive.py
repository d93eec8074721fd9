"""``psyscreen archive ...``, ``psyscreen history`` and ``psyscreen compare``: the growth-file store on the CLI.

Everything here calls :mod:`psyscreen.archive`; the terminal shows counts, waves and the timeline the user
asked for, never a student key in an error message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import click

__all__ = ["COMMANDS", "archive_group", "history_cmd", "compare_cmd"]

_DB = click.option("--db", required=True, type=click.Path(dir_okay=False, path_type=Path),
                   help="The county's archive file (SQLite).")


_URL = click.option("--database-url", envvar="PSYSCREEN_DATABASE_URL", default=None,
                    help="postgresql://user:password@host:port/name: the workspace that holds the follow-up record, "
                         "when it is not in the archive file. Also read from PSYSCREEN_DATABASE_URL.")

_RECORD_WORDS = {
    "zh": {"none": "没有随访记录：本档案尚未开启随访工作台（psyscreen followup sync --db {db} 开启个案）。",
           "no_case": "没有随访记录（该生没有个案）。", "not_read": "随访记录未读取：{why}",
           "follow": "随访", "no_flag": "  本批次未预警，无个案", "case": "  个案：期限 {deadline}，{overdue}，状态：{status}",
           "overdue": "已逾期", "not_overdue": "未逾期", "no_events": "  （尚无随访记录）",
           "on_time": "按期", "late": "逾期", "first": "，首次处理 {date}（{when}）", "corrected": "（已被更正）"},
    "en": {"none": "no follow-up is recorded: the workspace has not been opened on this archive "
                   "(psyscreen followup sync --db {db} opens the cases).",
           "no_case": "no follow-up is recorded (the student has no case).", "not_read": "follow-up not read: {why}",
           "follow": "follow-up", "no_flag": "  not flagged in this wave: no case",
           "case": "  case: deadline {deadline}, {overdue}, status: {status}", "overdue": "OVERDUE",
           "not_overdue": "not overdue", "no_events": "  (nothing recorded yet)", "on_time": "on time",
           "late": "late", "first": ", first action {date} ({when})", "corrected": " (corrected)"},
}


def _follow_up_record(db: Path, database_url: Optional[str]):
    """The workspace's follow-up record (:mod:`psyscreen.workspace.record`) on ``db`` or ``database_url``, or
    None when that database has no workspace tables; raises ``LookupError(why)`` when it cannot be read here."""
    from ..workspace import configure
    from ..workspace.config import ConfigurationError

    try:
        configure(db=None if database_url else db, database_url=database_url, secret_file=None, archive=db)
        from ..workspace import record

        return record if record.has_record() else None
    except ConfigurationError as exc:
        raise LookupError(str(exc)) from None
    except Exception as exc:  # the database could not be reached: say which kind, not the data
        raise click.ClickException(f"the follow-up record could not be read ({type(exc).__name__}: "
                                   f"{str(exc).splitlines()[0] if str(exc) else ''})") from None


def _has_workspace_tables(db: Path) -> bool:
    """Whether the archive file holds the workspace's tables (read with sqlite3, without starting Django)."""
    import sqlite3

    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return con.execute("SELECT 1 FROM sqlite_master WHERE name = 'workspace_case'").fetchone() is not None
    finally:
        con.close()


def _fail(exc: Exception) -> click.ClickException:
    from ..archive import ArchiveError

    if isinstance(exc, ArchiveError):
        return click.ClickException(str(exc))
    return click.ClickException(f"internal error ({type(exc).__name__}); report it without the data")


def _existing_db(db: Path) -> None:
    if not db.exists():
        raise click.ClickException(f"{db}: no archive there (create one with `psyscreen archive import DIR --db {db}`)")


@click.group("archive")
def archive_group() -> None:
    """The growth-file store: add waves, list them, delete a student, export for research."""


@archive_group.command("import")
@click.argument("out_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@_DB
@click.option("--replace", is_flag=True, help="Replace the wave if it was imported from a different screening run.")
@click.option("--allow-incomplete", is_flag=True,
              help="Import a wave whose screening run did not process every file; its missing schools are recorded "
                   "and `compare` shows their students as 'school not screened'.")
def import_cmd(out_dir: Path, db: Path, replace: bool, allow_incomplete: bool) -> None:
    """Add the wave in OUT_DIR (the output folder of `psyscreen screen`) to the archive, all or nothing.

    A wave whose manifest says it is incomplete (files not processed) is refused unless --allow-incomplete.
    """
    from ..archive import import_wave, wave_gaps

    try:
        res = import_wave(out_dir, db, replace=replace, allow_incomplete=allow_incomplete)
    except Exception as exc:
        raise _fail(exc) from None
    click.echo(str(res))
    if res.added:
        gaps = wave_gaps(_manifest(out_dir))
        if not gaps.complete:
            click.echo(f"wave {res.wave} is INCOMPLETE: schools not screened: {', '.join(gaps.schools) or 'unknown'}"
                       + (f"; files with no known school: {', '.join(gaps.unattributed)}" if gaps.unattributed else "")
                       + "; recorded in the archive (compare shows their students as 'school not screened')")


def _manifest(out_dir: Path) -> dict:
    import json

    return json.loads((out_dir / "manifest.json").read_text(encoding="utf-8"))


@archive_group.command("waves")
@_DB
def waves_cmd(db: Path) -> None:
    """List the waves in the archive with their provenance."""
    from rich.console import Console
    from rich.table import Table

    from ..archive import waves

    _existing_db(db)
    try:
        w = waves(db)
    except Exception as exc:
        raise _fail(exc) from None
    table = Table(title=f"waves in {db.name}")
    for col in ("wave", "students", "status", "schools not screened", "protocol", "tool", "manifest", "imported"):
        table.add_column(col)
    for r in w.itertuples(index=False):
        table.add_row(str(r.wave), str(r.students), str(r.status), ", ".join(r.schools_not_screened),
                      f"{r.protocol_id} {r.protocol_version}", str(r.tool_version), str(r.manifest_sha256)[:12],
                      str(r.imported_at))
    Console(width=120).print(table)


@archive_group.command("delete")
@click.argument("student_key")
@_DB
@_URL
@click.option("--reason", required=True, help="Why (e.g. 'graduated', 'consent withdrawn'); kept in the log.")
def delete_cmd(student_key: str, db: Path, database_url: Optional[str], reason: str) -> None:
    """Delete every record of STUDENT_KEY; the deletion log keeps a keyed hash, the reason and the time.

    The student's follow-up record (cases, events) goes too, from the workspace in the same file or at
    --database-url; the audit log keeps who looked at what, without the case.
    """
    from ..archive import delete_student

    _existing_db(db)
    try:
        res = delete_student(db, student_key, reason)
    except Exception as exc:
        raise _fail(exc) from None
    rows = ", ".join(f"{k}: {v}" for k, v in res.rows_removed.items())
    click.echo(f"deleted 1 student ({rows}); logged as {res.key_hash[:12]}... ({res.reason})")
    if database_url is None and not _has_workspace_tables(db):
        return  # the workspace was never opened on this archive: nothing more to erase
    try:
        record = _follow_up_record(db, database_url)
    except (LookupError, click.ClickException) as exc:
        raise click.ClickException(f"the follow-up record was not erased ({exc}); run `psyscreen followup erase` "
                                   "with the same key and reason where the workspace is") from None
    if record is not None:
        from ..workspace.erase import erase_student

        click.echo(f"follow-up record: {erase_student(student_key, reason)}")


@archive_group.command("export")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@_DB
@click.option("--key-file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The research key (a file with at least 16 bytes): pseudonyms are keyed hashes with it.")
@click.option("--coarsen", type=click.Choice(["month", "year"]), default="month", show_default=True,
              help="Wave dates as YYYY-MM or YYYY.")
@click.option("--answers", "include_answers", is_flag=True, help="Include the item answers.")
def export_cmd(path: Path, db: Path, key_file: Path, coarsen: str, include_answers: bool) -> None:
    """Write a de-identified research extract to PATH (.parquet, .csv or .xlsx)."""
    from ..archive import export_research

    _existing_db(db)
    try:
        out = export_research(db, path, key_file, coarsen=coarsen, include_answers=include_answers)
    except Exception as exc:
        raise _fail(exc) from None
    click.echo(f"wrote {path} ({len(out)} rows, {out['research_id'].nunique()} pseudonymous students)")


@archive_group.command("retest")
@_DB
def retest_cmd(db: Path) -> None:
    """Test-retest evidence per scale: Pearson r and ICC between consecutive waves."""
    from rich.console import Console
    from rich.table import Table

    from ..archive import test_retest

    _existing_db(db)
    try:
        t = test_retest(db).table
    except Exception as exc:
        raise _fail(exc) from None
    table = Table(title="test-retest between consecutive waves")
    for col in ("scale", "from", "to", "n", "r", "ICC2 [95% CI]", "ICC3"):
        table.add_column(col, justify="right" if col not in ("scale", "from", "to") else "left")
    for r in t.itertuples(index=False):
        table.add_row(r.scale, r.wave_from, r.wave_to, str(r.n), f"{r.r:.3f}",
                      f"{r.icc2:.3f} [{r.icc2_low:.3f}, {r.icc2_high:.3f}]", f"{r.icc3:.3f}")
    Console(width=120).print(table)


_HISTORY_COLUMNS = {
    "zh": {"wave": "筛查批次", "school": "学校", "grade": "年级", "class": "班级", "level": "等级", "reasons": "原因"},
    "en": {"wave": "wave", "school": "school", "grade": "grade", "class": "class", "level": "level",
           "reasons": "reasons"},
}


@click.command("history")
@click.argument("student_key")
@_DB
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also save a small chart of the scores (.png or .svg).")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@_URL
def history_cmd(student_key: str, db: Path, plot_path: Optional[Path], lang: str, database_url: Optional[str]) -> None:
    """Show the growth file of STUDENT_KEY: every wave, scores, level and reasons, then each wave's follow-up
    case (deadline, overdue or not, status) and its events, from the workspace (psyscreen serve)."""
    from rich.console import Console
    from rich.table import Table

    from ..archive import _level_labels, history
    from ..wave import wave_label

    _existing_db(db)
    try:
        h = history(db, student_key)
    except Exception as exc:
        raise _fail(exc) from None
    t = h.timeline.copy()
    t["wave_code"] = t["wave"].astype(str)
    t["reasons"], other = h.reasons(lang)
    t["wave"] = [wave_label(w, lang) for w in t["wave"].astype(str)]
    for protocol, rows in t.groupby(t["protocol_id"].fillna(""), sort=False).groups.items():
        t.loc[rows, "level"] = _level_labels(t.loc[rows, "level"], protocol or None, lang).to_numpy()
    names = _HISTORY_COLUMNS[lang]
    table = Table(title="growth file" if lang == "en" else "成长档案")
    cols = ["wave", "school", "grade", "class", *h.scales, "level", "reasons"]
    for c in cols:
        table.add_column(names.get(c, c))
    for _, row in t.iterrows():
        table.add_row(*("" if v is None or (not isinstance(v, str) and v != v) else
                        (f"{v:g}" if isinstance(v, float) else str(v)) for v in (row.get(c) for c in cols)))
    Console(width=160).print(table)
    if other:
        waves = ", ".join(wave_label(w, lang) for w in other)
        click.echo(f"注意：{waves} 的原因仅以英文保存（该批次的筛查结果没有中文原因）" if lang == "zh" else
                   f"note: the reasons of {waves} are stored in Chinese only (that wave's screening folder had no "
                   "English reasons); screen it again to have them in English")
    _echo_follow_up(student_key, db, database_url, t, lang)
    if plot_path is not None:
        from ..io import atomic_write

        fig = h.plot(lang=lang)
        atomic_write(plot_path, lambda tmp: fig.savefig(tmp, format=plot_path.suffix.lstrip(".") or "png", dpi=120))
        click.echo(f"chart: {plot_path}")


def _echo_follow_up(student_key: str, db: Path, database_url: Optional[str], timeline, lang: str) -> None:
    """Each wave's level and reasons, then its case and events in words (psyscreen.followup.describe)."""
    from .. import followup
    from ..wave import wave_label

    say = _RECORD_WORDS[lang]
    try:
        record = _follow_up_record(db, database_url)
    except LookupError as exc:
        click.echo(say["not_read"].format(why=exc))
        return
    if record is None:
        click.echo(say["none"].format(db=db))
        return
    cases = {c.wave: c for c in record.student_record(student_key)}
    if not cases:
        click.echo(say["no_case"])
        return
    click.echo(f"\n{say['follow']}")
    waves = [(str(w), wave_label(str(w), lang)) for w in timeline["wave_code"]]
    waves += [(w, wave_label(w, lang)) for w in sorted(set(cases) - {w for w, _ in waves})]
    rows = {str(r["wave_code"]): r for _, r in timeline.iterrows()}
    for code, label in waves:
        r = rows.get(code)
        head = label
        if r is not None:
            bits = [str(v) for v in (r.get("level"), r.get("reasons")) if isinstance(v, str) and v]
            head += ": " + " · ".join(bits) if bits else ""
        click.echo(head)
        case = cases.get(code)
        if case is None:
            click.echo(say["no_flag"])
            continue
        line = say["case"].format(deadline=case.deadline.isoformat(),
                                  overdue=say["overdue"] if case.overdue else say["not_overdue"],
                                  status=record.status_label(case.status, lang))
        if case.first_action_on is not None:
            line += say["first"].format(date=case.first_action_on.isoformat(),
                                        when=say["on_time" if case.on_time else "late"])
        click.echo(line)
        if not case.events:
            click.echo(say["no_events"])
        for e, text in zip(case.events, followup.describe(case.events, lang)):
            click.echo(f"    {text}" + (say["corrected"] if e.ident in case.corrected else ""))


_COMPARE_WORDS = {
    "zh": {"outcome": "结果", "students": "学生数", "rel": "可靠变化（Jacobson-Truax）",
           "rel_cols": ("量表", "信度", "来源", "可靠恶化", "其中未达预警线", "可靠改善"),
           "wrote": "已写出 {n} 个工作簿：{out}"},
    "en": {"outcome": "outcome", "students": "students", "rel": "reliable change (Jacobson-Truax)",
           "rel_cols": ("scale", "reliability", "source", "deteriorated", "of which under cutoff", "improved"),
           "wrote": "wrote {n} workbooks under {out}"},
}


@click.command("compare")
@_DB
@click.option("--from", "from_wave", required=True, help="The earlier wave (e.g. 2026-03).")
@click.option("--to", "to_wave", required=True, help="The later wave (e.g. 2026-09).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Write a workbook per school and a county summary here.")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True,
              help="Language of the terminal tables and the workbooks.")
@_URL
def compare_cmd(db: Path, from_wave: str, to_wave: str, out_dir: Optional[Path], lang: str,
                database_url: Optional[str]) -> None:
    """New, persistent and resolved flags, absentees, undecided and invalid sheets, schools not screened, and
    reliable change between two waves; for a student flagged again, what was done at the last case (from the
    workspace's follow-up record)."""
    from rich.console import Console
    from rich.table import Table

    from ..archive import OUTCOME_LABELS, _source_text, compare, write_comparison
    from ..wave import wave_label

    _existing_db(db)
    try:
        cmp = compare(db, from_wave, to_wave)
    except Exception as exc:
        raise _fail(exc) from None
    words = _COMPARE_WORDS[lang]
    wf, wt = wave_label(cmp.from_wave, lang), wave_label(cmp.to_wave, lang)
    table = Table(title=f"{wf} → {wt}")
    table.add_column(words["outcome"])
    table.add_column(words["students"], justify="right")
    for r in cmp.to_frame().itertuples(index=False):
        table.add_row(OUTCOME_LABELS[lang][r.status], str(r.students))
    Console(width=120).print(table)
    for note in cmp.notes(lang):
        click.echo(note)
    cmp = _with_last_time(cmp, db, database_url, lang)
    click.echo(cmp.flagged_again_line(lang))
    rel = Table(title=words["rel"])
    for c in words["rel_cols"]:
        rel.add_column(c)
    ch = cmp.changes
    for r in cmp.reliability.itertuples(index=False):
        part = ch[ch["scale"] == r.scale]
        rel.add_row(r.scale, f"{r.reliability:.3f}", _source_text(r.source, lang, wf),
                    str(int((part["category"] == "reliable deterioration").sum())),
                    str(int(part["below_cutoff_deterioration"].sum())),
                    str(int((part["category"] == "reliable improvement").sum())))
    Console(width=160).print(rel)
    if out_dir is not None:
        try:
            files = write_comparison(cmp, out_dir, lang=lang)
        except Exception as exc:
            raise _fail(exc) from None
        click.echo(words["wrote"].format(n=len(files), out=out_dir))


def _with_last_time(cmp, db: Path, database_url: Optional[str], lang: str):
    """``cmp`` with what was done at the last case of each student flagged again, when the workspace has a
    follow-up record (else ``cmp`` as it is)."""
    import pandas as pd

    from ..archive import LAST_TIME_COLUMNS

    try:
        record = _follow_up_record(db, database_url)
    except LookupError as exc:
        click.echo(_RECORD_WORDS[lang]["not_read"].format(why=exc))
        return cmp
    if record is None:
        return cmp
    again = cmp.students.loc[cmp.students["status"] == "persistent", "student_key"].astype(str).tolist()
    last = record.last_cases(again, cmp.to_wave)
    rows = [(k, c.wave, c.status, c.close_reason,
             "never" if c.interviewed_on is None else "on time" if c.interviewed_on_time else "late", c.referred)
            for k, c in last.items()]
    frame = pd.DataFrame([r[1:] for r in rows], columns=list(LAST_TIME_COLUMNS),
                         index=pd.Index([r[0] for r in rows], name="student_key"))
    return cmp.with_last_time(frame)


COMMANDS = [archive_group, history_cmd, compare_cmd]
