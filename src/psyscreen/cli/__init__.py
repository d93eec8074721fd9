"""The ``psyscreen`` command line: click commands over the Python API (nothing here the API cannot do)."""

from __future__ import annotations

import importlib
import sys

import click

from .. import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="psyscreen")
def main() -> None:
    """psyscreen: score school mental-health screenings, analyse scales, flag and route follow-up."""


# Each command group lives in its own module; a module registers the commands it defines.
for _name in ("instruments", "protocols", "score", "screen", "mapping", "analyze", "archive"):
    try:
        _module = importlib.import_module(f"{__name__}.{_name}")
    except ModuleNotFoundError as exc:  # a command group not built yet
        if exc.name != f"{__name__}.{_name}":
            raise
        continue
    for _command in getattr(_module, "COMMANDS", ()):
        main.add_command(_command)


def run() -> None:  # pragma: no cover - console entry point
    sys.exit(main())
