"""``psyscreen screen`` (one wave of a county, end to end) and ``psyscreen demo`` (the sample county).

The commands do what :func:`psyscreen.screening.screen` does, plus progress bars (rich, on a terminal) and a
closing table. Nothing printed carries a student's name, id or answer: file names, counts, columns only.

Exit status: 0 when every file was read and processed (quarantined rows are processed: they are listed in
quarantine.xlsx for a person to fix); 1 when a file could not be read or was stopped (unmapped or doubtful
columns); 2 for a usage error.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import click

__all__ = ["screen", "demo", "COMMANDS", "find_sample"]


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


def _run(inputs, protocol, wave, out, map_path, norms, pseudonymise, lang, archive, min_cell, debug, *,
         workers=None) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from ..screening import ScreenError, screen as run_screen

    err = Console(stderr=True)
    labels = {"read": "reading exports", "score": "scoring and classifying", "schools": "writing school folders",
              "write": "writing outputs"}
    try:
        with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                      TimeElapsedColumn(), console=err, transient=True, disable=not err.is_terminal) as bar:
            tasks: dict = {}

            def progress(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    tasks[stage] = bar.add_task(labels.get(stage, stage), total=max(total, 1))
                bar.update(tasks[stage], completed=done, total=max(total, 1))

            res = run_screen(list(inputs), protocol=protocol, wave=wave, out=out, column_map=map_path, norms=norms,
                             pseudonymise=pseudonymise, lang=lang, archive=archive, min_cell=min_cell,
                             progress=progress, workers=workers)
    except ScreenError as exc:
        raise click.UsageError(_one_line(exc)) from None
    except click.ClickException:
        raise
    except Exception as exc:
        from ..ingest import IngestError
        from ..instrument import InstrumentError

        if isinstance(exc, (IngestError, InstrumentError, OSError)):
            raise click.ClickException(_one_line(exc)) from None
        if debug:
            raise
        raise click.ClickException(f"internal error ({type(exc).__name__}); rerun with --debug to see the "
                                   "traceback, and report it without the data") from None

    table = Table(title=f"psyscreen screen: wave {res.manifest.get('wave')}")
    for col in ("file", "status", "rows", "scored", "quarantined", "duplicates"):
        table.add_column(col, justify="left" if col in ("file", "status") else "right")
    for r in res.ledger.to_dict("records"):
        table.add_row(Path(r["file"]).name, r["status"], str(r["rows"]), str(r["scored"]), str(r["quarantined"]),
                      str(r["duplicates"]))
    t = res.totals
    table.add_row(f"total ({len(res.ledger)} files)", "", str(t["rows"]), str(t["scored"]), str(t["quarantined"]),
                  str(t["duplicates"]))
    con = Console(width=120)
    con.print(table)
    lv = Table(title="levels")
    lv.add_column("level")
    lv.add_column("students", justify="right")
    for k, v in res.levels.items():
        lv.add_row(k, str(v))
    lv.add_row("critical list", str(res.critical))
    con.print(lv)
    for r in res.ledger.to_dict("records"):
        if r["status"] != "ok":
            click.echo(f"{Path(r['file']).name}: {r['status']}: {r['reason']}", err=True)
    click.echo(f"results in {res.out}")
    click.echo(f"critical list: {res.paths['critical']} ({res.critical} row(s)): act on it today")
    if t["quarantined"]:
        click.echo(f"quarantine: {res.paths['quarantine']} ({t['quarantined']} row(s)): fix the values listed there")
    if not res.ok:
        click.echo("not every file was processed: see above", err=True)
    return 0 if res.ok else 1


@click.command("screen")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--protocol", default="default", show_default=True, metavar="NAME|YAML",
              help="A shipped protocol id or a protocol YAML file.")
@click.option("--wave", metavar="YYYY-MM", help="The wave (default: the input folder's name, e.g. 2026-09).")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="The output folder.")
@click.option("--map", "map_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A column map (source,target[,confidence,status]); lines marked 'check' stop their file.")
@click.option("--norms", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A norm table (JSON): adds <scale>.pr and <scale>.t.")
@click.option("--pseudonymise", "pseudonymise", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              metavar="KEYFILE", help="Replace student ids by their HMAC-SHA-256 under this key.")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.option("--archive", type=click.Path(dir_okay=False, path_type=Path), metavar="DB",
              help="Also import the wave into this growth-file archive.")
@click.option("--min-cell", default=5, show_default=True, help="County summary: suppress counts below this.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Processes writing the school folders (default: one per CPU).")
@click.option("--debug", is_flag=True, help="Show the traceback of an unexpected error.")
def screen(inputs, protocol, wave, out, map_path, norms, pseudonymise, lang, archive, min_cell, workers, debug) -> None:
    """Screen one wave: EXPORT files or folders -> critical list, school folders, county summary, manifest.

    \b
    Example:
      psyscreen screen exports/2026-09 --protocol default --wave 2026-09 --map map.csv --out out/2026-09
    """
    sys.exit(_run(inputs, protocol, wave, out, map_path, norms, pseudonymise, lang, archive, min_cell, debug,
                  workers=workers))


@click.command("demo")
@click.option("--out", "out", default="out/demo", show_default=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.option("--debug", is_flag=True)
def demo(out, lang, debug) -> None:
    """Screen the bundled sample county's latest wave with the default protocol."""
    sample = find_sample()
    if sample is None:
        raise click.ClickException("data/sample not found: run this from the psyscreen checkout "
                                   "(or `make sample` to write it)")
    waves = sorted(p for p in sample.iterdir() if p.is_dir())
    if not waves:
        raise click.ClickException(f"{sample} holds no wave folder")
    latest = waves[-1]
    click.echo(f"screening {latest} with the default protocol")
    sys.exit(_run([latest], "default", latest.name, out, sample / "column_map.csv", None, None, lang, None, 5, debug))


COMMANDS = [screen, demo]
