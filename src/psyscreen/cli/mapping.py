"""``psyscreen map suggest``: a column map for a survey-platform export, for a person to check."""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["map_group", "suggest", "COMMANDS"]


@click.group("map")
def map_group() -> None:
    """Column maps: match an export's headers to the instruments' items."""


@click.command("suggest")
@click.argument("export", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--protocol", default="default", show_default=True, metavar="NAME|YAML")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The map to write (.csv or .xlsx).")
def suggest(export: Path, protocol: str, output: Path) -> None:
    """Suggest a map for EXPORT: each header, its target, a confidence and a status (ok / check / unmapped).

    Check every 'check' line (set its status to ok, or correct the target) before passing the map to
    `psyscreen screen --map`: lines still marked 'check' stop the file.
    """
    from ..ingest import IngestError
    from ..io import write_table
    from ..mapping import suggest_map
    from ..screening import read_export

    try:
        tables = read_export(export)
    except IngestError as exc:
        raise click.ClickException(str(exc)) from None
    headers: list[str] = []
    for t in tables:
        headers += [h for h in t.frame.columns if h not in headers]
    sug = suggest_map(headers, protocol)
    if output.resolve() == export.resolve():
        raise click.UsageError("the map would overwrite the export: choose another -o")
    write_table(sug, output)
    counts = sug["status"].value_counts().to_dict()
    click.echo(f"wrote {output}: {counts.get('ok', 0)} ok, {counts.get('check', 0)} to check, "
               f"{counts.get('unmapped', 0)} unmapped")
    missing = []
    from ..mapping import _instruments

    targets = set(sug["target"])
    for inst in _instruments(protocol):
        lost = [c for c in inst.required_item_columns if c not in targets]
        missing += lost
    if missing:
        click.echo(f"items with no column: {', '.join(missing[:16])}{' ...' if len(missing) > 16 else ''}")


map_group.add_command(suggest)
COMMANDS = [map_group]
