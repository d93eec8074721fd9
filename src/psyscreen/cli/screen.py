"""``psyscreen screen`` (one wave of a county, end to end) and ``psyscreen demo`` (the sample county).

The commands do what :func:`psyscreen.screening.screen` does, plus progress bars (rich, on a terminal) and a
closing table. Nothing printed carries a student's name, id or answer: file names, counts, columns only.

The closing text is in the chosen ``--lang``: the ledger per file, the levels with the protocol's level names, and
whether the wave is complete. An incomplete wave is said to be INCOMPLETE, with the files not processed and their
row counts, and the critical list line says that those files were not checked for critical answers.

Exit status: 0 when every export was read and processed and every output written (quarantined rows are processed:
they are listed in quarantine.xlsx for a person to fix; files that are not exports, such as a ``说明.txt``, are
listed as skipped); 1 when a file could not be read or was stopped (unmapped or doubtful columns), or an output
could not be written: the wave is incomplete; 2 for a usage error.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import click

__all__ = ["screen", "demo", "COMMANDS", "find_sample", "closing_lines", "progress_columns"]


def _one_line(exc: BaseException) -> str:
    lines = [ln.strip(" -") for ln in str(exc).splitlines() if ln.strip()]
    return "; ".join(lines) if lines else type(exc).__name__


def find_sample() -> Optional[Path]:
    """data/sample of this checkout (beside src/) or under the current directory (or a parent)."""
    here = Path(__file__).resolve()
    candidates = [p / "data" / "sample" for p in here.parents]
    cwd = Path.cwd().resolve()
    candidates += [p / "data" / "sample" for p in (cwd, *cwd.parents)]
    for c in candidates:
        if c.is_dir() and (c / "column_map.csv").is_file():
            return c
    return None


_SAY = {
    "zh": {"file": "文件", "status": "状态", "rows": "行数", "scored": "已计分", "quarantined": "待核对",
           "duplicates": "重复", "total": "合计（{n} 个文件）", "level": "预警等级", "students": "学生数",
           "critical_row": "危机作答名单", "ok": "已处理", "stopped": "已停止", "unreadable": "无法读取",
           "skipped": "已跳过（非导出文件）", "results": "结果在 {out}",
           "complete": "本批次完整：全部导出文件均已读取并处理。",
           "incomplete": "本批次不完整（INCOMPLETE）：以下 {n} 个文件未处理，其学生未被筛查：",
           "file_line": "  {file}：{status}，{rows} 行未读取：{reason}",
           "critical": "危机作答名单：{path}（{n} 行）：请当天处理。",
           "critical_partial": "危机作答名单：{path}（{n} 行），只含已读取的文件；未处理的文件（{files}）未检查危机作答，"
                               "请更正后尽快重新筛查。",
           "critical_none_read": "危机作答名单：{path}（0 行）：没有检查任何学生——全部文件均未处理（{files}），"
                                 "不能据此认为没有危机学生。",
           "quarantine": "待核对：{path}（{n} 行）：请按表中所列更正数据。",
           "skipped_line": "  已跳过 {file}：{reason}", "warning_line": "  注意 {file}：{reason}",
           "failed": "以下输出未能生成（其余已写出，manifest.json 已记录）：", "norms": "常模：{note}",
           "index": "各文件交给谁：{path}"},
    "en": {"file": "file", "status": "status", "rows": "rows", "scored": "scored", "quarantined": "quarantined",
           "duplicates": "duplicates", "total": "total ({n} files)", "level": "level", "students": "students",
           "critical_row": "critical list", "ok": "ok", "stopped": "stopped", "unreadable": "unreadable",
           "skipped": "skipped (not an export)", "results": "results in {out}",
           "complete": "The wave is complete: every export was read and processed.",
           "incomplete": "The wave is INCOMPLETE: {n} file(s) were not processed; their students were not screened:",
           "file_line": "  {file}: {status}, {rows} row(s) not read: {reason}",
           "critical": "critical list: {path} ({n} row(s)): act on it today",
           "critical_partial": "critical list: {path} ({n} row(s)) covers the files read only; the files not processed "
                               "({files}) were NOT checked for critical answers: fix them and screen again soon",
           "critical_none_read": "critical list: {path} (0 rows): NOTHING was checked for critical answers, no file was "
                                 "processed ({files}); this does not mean that no student is at risk",
           "quarantine": "quarantine: {path} ({n} row(s)): fix the values listed there",
           "skipped_line": "  skipped {file}: {reason}", "warning_line": "  warning {file}: {reason}",
           "failed": "these outputs could not be written (the others were; manifest.json records it):",
           "norms": "norms: {note}", "index": "which file goes to whom: {path}"},
}


def progress_columns() -> tuple:
    """The columns of the progress display: what, bar, done/total, elapsed and remaining time."""
    from rich.progress import BarColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    return (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(), TimeRemainingColumn(compact=True, elapsed_when_finished=True))


def closing_lines(res, lang: str = "zh") -> list[tuple[str, bool]]:
    """The closing text of ``psyscreen screen`` after the tables: ``[(line, to_stderr)]``.

    An incomplete wave says so plainly, names the files not processed with their row counts, and the critical
    list line says that those files were not checked for critical answers (never "act on it today" as if the
    list were complete).
    """
    from ..report._reasons import file_reason_in

    say = _SAY[lang]
    run = res.run
    lines: list[tuple[str, bool]] = []
    led = res.ledger.to_dict("records")
    missed = run.not_processed if run is not None else ()
    if missed:
        lines.append((say["incomplete"].format(n=len(missed)), True))
        lines += [(say["file_line"].format(file=p.file, status=say.get(p.status, p.status), rows=p.rows_in_file,
                                           reason=file_reason_in(p.reason, lang)), True) for p in missed]
    for r in led:
        if r["status"] == "skipped":
            lines.append((say["skipped_line"].format(file=r["file"], reason=file_reason_in(r["reason"], lang)), True))
        elif r["status"] == "ok" and r["reason"]:
            lines.append((say["warning_line"].format(file=r["file"], reason=r["reason"]), True))
    failed = res.manifest.get("failed_outputs") or []
    if failed:
        lines.append((say["failed"], True))
        lines += [(f"  {f['output']}: {f['reason']}", True) for f in failed]
    note = (res.manifest.get("norms") or {}).get("note")
    if note:
        lines.append((say["norms"].format(note=note), True))
    lines.append((say["results"].format(out=res.out), False))
    if "index" in res.paths:
        lines.append((say["index"].format(path=res.paths["index"]), False))
    files = ", ".join(p.file for p in missed)
    if not missed:
        crit = say["critical"]
    elif res.totals["rows"] == 0:
        crit = say["critical_none_read"]
    else:
        crit = say["critical_partial"]
    lines.append((crit.format(path=res.paths["critical"], n=res.critical, files=files), bool(missed)))
    if res.totals["quarantined"]:
        lines.append((say["quarantine"].format(path=res.paths["quarantine"], n=res.totals["quarantined"]), False))
    if not missed and not failed:
        lines.append((say["complete"], False))
    return lines


def _run(inputs, protocol, wave, out, map_path, norms, pseudonymise, lang, archive, min_cell, debug, *,
         workers=None, county=None, replace=False, contacts=None, allow_incomplete=False) -> int:
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from ..norms import NormError
    from ..report._common import level_infos
    from ..screening import ScreenError, screen as run_screen

    err = Console(stderr=True)
    labels = {"zh": {"read": "读取导出文件", "score": "计分与分级", "write": "写出数据表", "schools": "写出学校文件夹与汇总"},
              "en": {"read": "reading exports", "score": "scoring and classifying", "write": "writing tables",
                     "schools": "writing school folders and the county summary"}}[lang]
    try:
        with Progress(*progress_columns(), console=err, transient=True, disable=not err.is_terminal) as bar:
            tasks: dict = {}

            def progress(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    tasks[stage] = bar.add_task(labels.get(stage, stage), total=max(total, 1))
                bar.update(tasks[stage], completed=done, total=max(total, 1))

            res = run_screen(list(inputs), protocol=protocol, wave=wave, out=out, column_map=map_path, norms=norms,
                             pseudonymise=pseudonymise, lang=lang, archive=archive, min_cell=min_cell,
                             progress=progress, workers=workers, county=county, replace=replace,
                             contacts=contacts, allow_incomplete=allow_incomplete)
    except (ScreenError, NormError) as exc:
        raise click.UsageError(_one_line(exc)) from None
    except click.ClickException:
        raise
    except Exception as exc:
        from ..archive import ArchiveError
        from ..ingest import IngestError
        from ..instrument import InstrumentError

        if isinstance(exc, (IngestError, InstrumentError, ArchiveError, OSError)):
            raise click.ClickException(_one_line(exc)) from None
        if debug:
            raise
        raise click.ClickException(f"internal error ({type(exc).__name__}); rerun with --debug to see the "
                                   "traceback, and report it without the data") from None

    say = _SAY[lang]
    run = res.run
    table = Table(title=f"psyscreen screen: {run.label(lang) if run else res.manifest.get('wave')}")
    for col in ("file", "status", "rows", "scored", "quarantined", "duplicates"):
        table.add_column(say[col], justify="left" if col in ("file", "status") else "right")
    for r in res.ledger.to_dict("records"):
        table.add_row(Path(r["file"]).name, say.get(r["status"], r["status"]), str(r["rows"]), str(r["scored"]),
                      str(r["quarantined"]), str(r["duplicates"]))
    t = res.totals
    table.add_row(say["total"].format(n=len(res.ledger)), "", str(t["rows"]), str(t["scored"]),
                  str(t["quarantined"]), str(t["duplicates"]))
    con = Console(width=120)
    con.print(table)
    from ..protocol import load_protocol

    names = {i.key: i.label for i in level_infos(load_protocol(protocol), lang)}
    lv = Table(title=say["level"])
    lv.add_column(say["level"])
    lv.add_column(say["students"], justify="right")
    for k, v in res.levels.items():
        lv.add_row(names.get(k, k), str(v))
    lv.add_row(say["critical_row"], str(res.critical))
    con.print(lv)
    for line, to_err in closing_lines(res, lang):
        click.echo(line, err=to_err)
    for note in res.notes:
        click.echo(note, err=True)
    return 0 if res.ok else 1


@click.command("screen")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--protocol", default="default", show_default=True, metavar="NAME|YAML",
              help="A shipped protocol id or a protocol YAML file.")
@click.option("--wave", metavar="YYYY-MM", help="The wave, e.g. 2026-09 (default: the input folder's name).")
@click.option("--county", metavar="NAME", help="The county or district: shown in the title of every output.")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="The output folder: new or empty (one run, one folder).")
@click.option("--replace", is_flag=True,
              help="Remove the previous run's outputs from --out first (only a folder with a manifest.json).")
@click.option("--map", "map_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A column map (source,target[,confidence,status]); lines marked 'check' stop their file.")
@click.option("--norms", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A norm table (.json or the .xlsx of `analyze norms`): adds <scale>.pr and <scale>.t.")
@click.option("--pseudonymise", "pseudonymise", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              metavar="KEYFILE", help="Replace student ids by their HMAC-SHA-256 under this key in the school "
              "folders, tables and county outputs. critical.xlsx keeps names and raw ids on purpose: it is for the "
              "county center's action the same day.")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.option("--contacts", type=click.Path(exists=True, dir_okay=False, path_type=Path), metavar="FILE",
              help="Contacts per school (CSV/xlsx: school, name, phone): the contact line of the family letters.")
@click.option("--archive", type=click.Path(dir_okay=False, path_type=Path), metavar="DB",
              help="Also import the wave into this growth-file archive (a complete wave only, unless "
              "--allow-incomplete).")
@click.option("--allow-incomplete", is_flag=True,
              help="With --archive: import the wave even if some files were not processed (the archive records "
              "the schools it lacks).")
@click.option("--min-cell", default=5, show_default=True, help="County summary: suppress counts below this.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Processes writing the school folders (default: one per CPU).")
@click.option("--debug", is_flag=True, help="Show the traceback of an unexpected error.")
def screen(inputs, protocol, wave, county, out, replace, map_path, norms, pseudonymise, lang, contacts, archive,
           allow_incomplete, min_cell, workers, debug) -> None:
    """Screen one wave: EXPORT files or folders -> critical list, school folders, county summary, manifest.

    The output folder gets index.html, which says which file goes to whom. With --pseudonymise, critical.xlsx
    still carries names and raw student ids, on purpose: it is for the county center's action the same day.

    \b
    Example:
      psyscreen screen exports/2026-09 --protocol default --wave 2026-09 --map map.csv --out out/2026-09
    """
    sys.exit(_run(inputs, protocol, wave, out, map_path, norms, pseudonymise, lang, archive, min_cell, debug,
                  workers=workers, county=county, replace=replace, contacts=contacts,
                  allow_incomplete=allow_incomplete))


@click.command("demo")
@click.option("--out", "out", default="out/demo", show_default=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.option("--debug", is_flag=True)
@click.option("--workspace", is_flag=True,
              help="Also build the demo's follow-up workspace: screen and archive every sample wave in "
                   "OUT/county.db, open the cases, make a demo account per role, record a few demo events, and "
                   "print how to start it (`make demo` does this).")
def demo(out, lang, debug, workspace) -> None:
    """Screen the bundled sample county's latest wave with the default protocol.

    With --workspace, also the demo's growth-file archive (every sample wave) and its follow-up workspace.
    Running it again starts the demo afresh (the folder OUT is the demo's own).
    """
    sample = find_sample()
    if sample is None:
        raise click.ClickException("data/sample not found: run this from the psyscreen checkout "
                                   "(or `make sample` to write it)")
    waves = sorted(p for p in sample.iterdir() if p.is_dir())
    if not waves:
        raise click.ClickException(f"{sample} holds no wave folder")
    latest = waves[-1]
    click.echo(f"screening {latest} with the default protocol")
    # the demo's folder is the demo's: a previous demo run there is replaced (a folder of anything else is refused)
    rc = _run([latest], "default", latest.name, out, sample / "column_map.csv", None, None, lang, None, 5, debug,
              replace=True)
    if rc == 0 and workspace:
        _demo_workspace(sample, waves, out, lang)
    sys.exit(rc)


def _demo_workspace(sample: Path, waves: list, out: Path, lang: str) -> None:
    """The demo's archive (every sample wave) and follow-up workspace; prints how to start it.

    The latest wave's folder is ``out`` itself (screened just before); every earlier wave is screened into
    ``out/waves/<wave>`` (tables only), then each is imported into ``out/county.db``.
    """
    from ..archive import import_wave
    from ..screening import screen as run_screen
    from ..workspace import configure, migrate

    db = out / "county.db"
    folders = []
    for w in waves[:-1]:
        click.echo(f"screening {w} for the demo's archive" if lang == "en" else f"为演示档案筛查 {w}")
        res = run_screen([w], protocol="default", wave=w.name, out=out / "waves" / w.name,
                         column_map=sample / "column_map.csv", lang=lang, reports=False, replace=True)
        if not res.ok:
            raise click.ClickException(f"the sample wave {w.name} did not screen completely")
        folders.append(out / "waves" / w.name)
    folders.append(out)
    for f in folders:
        click.echo(str(import_wave(f, db)))
    configure(db=db, secret_file=db.with_name(db.name + ".secret"), archive=db)
    migrate()
    from ..workspace.demo import seed_demo  # the models: once Django is configured
    from ..workspace.sync import sync_cases

    click.echo(str(sync_cases(db)))
    ws = seed_demo()
    for line in ws.lines(db, lang):
        click.echo(line)


COMMANDS = [screen, demo]
