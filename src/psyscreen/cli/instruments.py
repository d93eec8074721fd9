"""``psyscreen instruments list|show|validate``."""

from __future__ import annotations

import sys

import click

from ..instrument import InstrumentError, list_instruments, load_instrument


@click.group("instruments")
def instruments() -> None:
    """List, show and validate instrument definitions."""


@instruments.command("list")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="en", show_default=True)
def list_(lang: str) -> None:
    """The instruments shipped with psyscreen."""
    for iid in list_instruments():
        inst = load_instrument(iid)
        click.echo(f"{iid:10s} {inst.version:6s} {inst.name.get(lang)}")


@instruments.command("show")
@click.argument("instrument")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="en", show_default=True)
def show(instrument: str, lang: str) -> None:
    """Scales, bands, critical items and rules of INSTRUMENT (an id or a YAML path)."""
    try:
        click.echo(load_instrument(instrument).describe(lang))
    except InstrumentError as exc:
        raise click.ClickException(str(exc)) from None


@instruments.command("validate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
def validate(paths: tuple[str, ...]) -> None:
    """Check instrument definition files; exit 1 if any has a problem."""
    failed = 0
    for path in paths:
        try:
            inst = load_instrument(path)
        except InstrumentError as exc:
            failed += 1
            click.echo(str(exc), err=True)
        else:
            click.echo(f"{path}: ok ({inst.id} {inst.version}, {len(inst.item_list)} items, {len(inst.scales)} scales)")
    sys.exit(1 if failed else 0)


COMMANDS = [instruments]
