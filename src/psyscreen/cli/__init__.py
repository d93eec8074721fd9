"""The ``psyscreen`` command line: click commands over the Python API (nothing here the API cannot do)."""

from __future__ import annotations

import click

from .. import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="psyscreen")
def main() -> None:
    """psyscreen: score school mental-health screenings, analyse scales, flag and route follow-up."""


# Each command group lives in its own module, which lists the commands it defines in COMMANDS.
from . import analyze, archive, followup, instruments, key, mapping, protocols, score, screen  # noqa: E402

for _module in (instruments, protocols, score, screen, mapping, analyze, archive, followup, key):
    for _command in _module.COMMANDS:
        main.add_command(_command)
