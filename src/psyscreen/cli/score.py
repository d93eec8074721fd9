"""``psyscreen score``: score export files and write one table, with the quarantine beside it.

The command does what :func:`psyscreen.ingest.read_table`, :func:`~psyscreen.ingest.score_table` and
:func:`psyscreen.io.write_table` do in a notebook, plus a progress display and a closing summary. It never
prints a student's name, id or answer: the terminal shows file names, counts, columns and row numbers; the
values to fix are in the quarantine file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import click
import pandas as pd

from ..classify import ClassifyError, classify

__all__ = ["score", "COMMANDS", "quarantine_path"]


def quarantine_path(output: Path) -> Path:
    """``<stem>.quarantine.<ext>`` beside the output (CSV when the output is parquet: it is for a person)."""
    ext = output.suffix.lower() if output.suffix.lower() in (".csv", ".xlsx") else ".csv"
    return output.with_name(f"{output.stem}.quarantine{ext}")


def _one_line(exc: BaseException) -> str:
    lines = [ln.strip(" -") for ln in str(exc).splitlines() if ln.strip()]
    return "; ".join(lines) if lines else type(exc).__name__


def _classify(frame: pd.DataFrame, protocol: str) -> pd.DataFrame:
    try:
        result = classify(frame, protocol)
    except ClassifyError as exc:  # located, and without student data: show it as the reason
        raise click.ClickException(_one_line(exc)) from None
    new = [c for c in result.columns if c not in frame.columns]
    return result[new]


@click.command("score")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("-i", "--instrument", "instruments", multiple=True, metavar="ID|YAML",
              help="An instrument to score (repeat for several); default: the protocol's instruments.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The scores table: .csv, .xlsx or .parquet (by the extension).")
@click.option("--map", "map_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A column map: two columns, the export's header and the target (phq9.1, student_id, ...).")
@click.option("--protocol", metavar="NAME|YAML", help="Add warning levels and reasons with this protocol.")
@click.option("--sheet", help="The Excel sheet to read (default: the first).")
@click.option("--keep-items", is_flag=True, help="Also write the item answers (as codes).")
@click.option("--debug", is_flag=True, help="Show the traceback of an unexpected error.")
def score(inputs: tuple[Path, ...], instruments: tuple[str, ...], output: Path, map_path: Optional[Path],
          protocol: Optional[str], sheet: Optional[str], keep_items: bool, debug: bool) -> None:
    """Score INPUT files (csv, xlsx, xls, parquet), or every export in INPUT folders, and write the scores to OUTPUT.

    Demographics are normalised exactly as ``psyscreen screen`` does (sex F/M, grade 1-16, class and school
    text tidied), so that norms built from OUTPUT have the strata of a screened wave. Rows with an answer that is neither a response code nor an option label are set aside, with the file,
    row, column, value and reason, in <output stem>.quarantine.<csv|xlsx> beside the output. Every row read
    is either scored or quarantined; the closing table counts them per file.

    \b
    Example:
      psyscreen score school_a.xlsx school_b.csv -i phq9 -i gad7 --map map.csv -o scores.xlsx
      psyscreen score exports/2026-03 --protocol default --map map.csv --keep-items -o wave.xlsx
    """
    try:
        _run(inputs, instruments, output, map_path, protocol, sheet, keep_items)
    except click.ClickException:
        raise
    except Exception as exc:
        from ..ingest import IngestError
        from ..instrument import InstrumentError
        from ..io import UnsupportedFormatError
        from ..scoring import MissingColumnsError, ResponseError

        if isinstance(exc, (IngestError, InstrumentError, UnsupportedFormatError, MissingColumnsError,
                            ResponseError, OSError)):
            raise click.ClickException(_one_line(exc)) from None
        if debug:
            raise
        # The message of an unexpected error may quote data: name only its type.
        raise click.ClickException(f"internal error ({type(exc).__name__}); rerun with --debug to see the "
                                   "traceback, and report it without the data") from None


def _run(inputs, instruments, output, map_path, protocol, sheet, keep_items) -> None:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from ..demographics import normalise_demographics
    from ..ingest import PROBLEM_COLUMNS, load_column_map, read_table, score_table
    from ..instrument import load_instrument
    from ..io import TABLE_SUFFIXES, UnsupportedFormatError, write_table
    from ..screening import find_inputs

    if output.suffix.lower() not in TABLE_SUFFIXES:
        raise UnsupportedFormatError(f"{output}: the output must end in {', '.join(TABLE_SUFFIXES)}")
    if not output.parent.exists():
        raise click.ClickException(f"{output}: the folder {output.parent} does not exist")
    qpath = quarantine_path(output)
    folders = [p for p in inputs if p.is_dir()]
    inputs = tuple(find_inputs(inputs))
    if not inputs:
        raise click.UsageError(f"no export file (csv, xlsx, xls, sav, parquet) in {', '.join(map(str, folders))}")
    for path in inputs:
        if path.resolve() in (output.resolve(), qpath.resolve()):
            raise click.UsageError(f"{path} is an input: writing {output.name} would overwrite it; choose another -o")
    ids = list(instruments)
    if protocol:
        from ..protocol import load_protocol

        needed = list(load_protocol(protocol).instruments)
        if not ids:
            ids = needed
        else:
            lacking = [i for i in needed if i not in ids]
            if lacking:
                raise click.UsageError(f"the protocol {protocol} uses {', '.join(needed)}: add "
                                       + " ".join(f"-i {i}" for i in lacking))
    if not ids:
        raise click.UsageError("give at least one instrument (-i phq9 -i gad7) or a --protocol")
    insts = [load_instrument(i) for i in ids]
    column_map = load_column_map(map_path, insts) if map_path else None
    item_cols = [c for inst in insts for c in inst.item_columns]

    err = Console(stderr=True)
    results = []
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=err, transient=True, disable=not err.is_terminal) as progress:
        task = progress.add_task("scoring", total=len(inputs))
        for path in inputs:
            progress.update(task, description=f"reading {path.name}")
            raw = read_table(path, sheet=sheet)
            progress.update(task, description=f"scoring {path.name}")
            results.append(score_table(raw, insts, column_map, keep_items=keep_items or bool(protocol)))
            progress.advance(task)

    # the demographics coded as screen codes them (F/M, grade 1-16): norms from this table fit a screened wave
    scores = normalise_demographics(pd.concat([r.scores for r in results], ignore_index=True))
    if protocol:
        scores = pd.concat([scores, _classify(scores, protocol)], axis=1)
        if not keep_items:
            scores = scores.drop(columns=[c for c in item_cols if c in scores.columns])
    quarantine = pd.concat([r.quarantine for r in results], ignore_index=True)
    quarantine = quarantine[list(PROBLEM_COLUMNS)]
    write_table(scores, output)
    write_table(quarantine, qpath)

    table = Table(title="psyscreen score")
    for col in ("file", "sheet", "encoding", "rows read", "scored", "quarantined"):
        table.add_column(col, justify="right" if col in ("rows read", "scored", "quarantined") else "left")
    for r in results:
        lg = r.ledger
        table.add_row(Path(lg.file).name if lg.file else "", lg.sheet or "", lg.encoding or "",
                      str(lg.rows_read), str(lg.rows_scored), str(lg.rows_quarantined))
    totals = [sum(getattr(r.ledger, f) for r in results) for f in ("rows_read", "rows_scored", "rows_quarantined")]
    if len(results) > 1:
        table.add_row("total", "", "", *(str(t) for t in totals))
    out = Console(width=120)
    out.print(table)
    click.echo(f"wrote {output} ({totals[1]} rows)")
    n_problems = len(quarantine)
    if totals[2]:
        click.echo(f"quarantine: {qpath} ({totals[2]} rows, {n_problems} problem(s)): fix the values listed there "
                   "and score those rows again")
    else:
        click.echo(f"quarantine: {qpath} (empty)")


COMMANDS = [score]
