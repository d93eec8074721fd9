"""``psyscreen protocols list|show|validate``."""

from __future__ import annotations

import sys

import click

from ..instrument import InstrumentError
from ..protocol import check_protocol, list_protocols, load_protocol


@click.group("protocols")
def protocols() -> None:
    """List, show and validate screening protocols (warning levels and rules)."""


@protocols.command("list")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="en", show_default=True)
def list_(lang: str) -> None:
    """The protocols shipped with psyscreen."""
    for pid in list_protocols():
        try:
            p = load_protocol(pid, check=False)
        except InstrumentError as exc:
            click.echo(f"{pid:10s} (does not load: {exc.problems[0] if exc.problems else exc})")
            continue
        click.echo(f"{pid:10s} {p.version:6s} {p.name.get(lang)} [{', '.join(p.instrument_ids)}]")


@protocols.command("show")
@click.argument("protocol")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="en", show_default=True)
def show(protocol: str, lang: str) -> None:
    """Levels, rules and policies of PROTOCOL (an id or a YAML path)."""
    try:
        click.echo(load_protocol(protocol, check=False).describe(lang))
    except InstrumentError as exc:
        raise click.ClickException(str(exc)) from None


@protocols.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(dir_okay=False))
def validate(paths: tuple[str, ...]) -> None:
    """Check protocol files (default: every shipped protocol) against the schema and the instruments they name;
    exit 1 if any has a problem."""
    failed = 0
    for path in paths or tuple(list_protocols()):
        try:
            p = load_protocol(path, check=False)
            problems = check_protocol(p)
        except InstrumentError as exc:
            failed += 1
            click.echo(str(exc), err=True)
            continue
        if problems:
            failed += 1
            click.echo(f"{path}: {len(problems)} problem(s):\n" + "\n".join(f"  - {x}" for x in problems), err=True)
        else:
            click.echo(f"{path}: ok ({p.id} {p.version}, {len(p.instruments)} instruments, {len(p.levels)} levels, "
                       f"{len(p.rules)} rules)")
    sys.exit(1 if failed else 0)


COMMANDS = [protocols]
