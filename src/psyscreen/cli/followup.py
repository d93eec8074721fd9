"""``psyscreen serve`` and ``psyscreen followup ...``: the follow-up workspace on the command line.

``serve`` starts the web workspace; ``followup sync`` opens the cases of newly archived waves; ``followup import``
merges the follow-up sheets schools filled in (:mod:`psyscreen.workspace.imports`); ``followup
account`` makes an account (the county center makes every account). Nothing printed here names a student.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import click

__all__ = ["COMMANDS", "serve_cmd", "followup_group"]

_DB = click.option("--db", type=click.Path(dir_okay=False, path_type=Path), default=None,
                   help="The county's archive (SQLite); the workspace's tables live in it unless --database-url.")
_URL = click.option("--database-url", envvar="PSYSCREEN_DATABASE_URL", default=None,
                    help="postgresql://user:password@host:port/name: keep the workspace in PostgreSQL "
                         "(many users). Also read from PSYSCREEN_DATABASE_URL.")
_SECRET = click.option("--secret-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
                       help="Where the workspace's secret key is kept (made on first use, readable by you only). "
                            "Default: beside the archive (COUNTY.db.secret).")


def _start(db: Optional[Path], database_url: Optional[str], secret_file: Optional[Path], **options) -> None:
    from ..workspace import configure, migrate
    from ..workspace.config import ConfigurationError

    if db is not None and not db.exists():
        raise click.ClickException(f"{db}: no archive there (create it with `psyscreen archive import DIR --db {db}`)")
    if secret_file is None and db is not None:
        secret_file = db.with_name(db.name + ".secret")
    try:
        configure(db=None if database_url else db, database_url=database_url, secret_file=secret_file,
                  archive=db, **options)
        migrate()
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from None
    except Exception as exc:  # the database could not be reached or upgraded: say which kind, not the data
        raise click.ClickException(f"the workspace's database could not be opened ({type(exc).__name__}: "
                                   f"{str(exc).splitlines()[0] if str(exc) else ''})") from None


_PROTOCOL = click.option("--protocol", "protocols", multiple=True,
                         help="The county's own protocol file (repeatable), for waves screened with a protocol "
                              "that is not shipped: its follow-up deadlines, level words and actions.")


def _sync(db: Optional[Path], protocols=()) -> None:
    if db is None:
        return
    from ..protocol import ProtocolError
    from ..workspace.sync import sync_cases

    try:
        click.echo(str(sync_cases(db, protocols=protocols)))
    except ProtocolError as exc:
        raise click.ClickException(str(exc)) from None


@click.command("serve")
@_DB
@_URL
@_SECRET
@click.option("--host", default="127.0.0.1", show_default=True,
              help="The address to listen on (127.0.0.1: this machine only; 0.0.0.0: the office network).")
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int, help="Requests served at the same time.")
@click.option("--pseudonymise", is_flag=True, help="The county level sees pseudonyms instead of student ids.")
@_PROTOCOL
def serve_cmd(db, database_url, secret_file, host, port, threads, pseudonymise, protocols) -> None:
    """Start the follow-up workspace: cases, events, the county dashboard, in a browser.

    The cases of every flagged student in the archive are opened first (as `followup sync`).
    Stop it with Ctrl+C.
    """
    hosts = ["127.0.0.1", "localhost"] + ([host] if host not in ("127.0.0.1", "localhost", "0.0.0.0") else [])
    if host == "0.0.0.0":
        hosts = ["*"]
    _start(db, database_url, secret_file, pseudonymise=pseudonymise, allowed_hosts=hosts)
    _sync(db, protocols)
    from waitress import serve
    from django.core.wsgi import get_wsgi_application

    click.echo(f"psyscreen workspace on http://{'127.0.0.1' if host == '0.0.0.0' else host}:{port}/ (Ctrl+C stops)")
    serve(get_wsgi_application(), host=host, port=port, threads=threads, ident="psyscreen", _quiet=True)


@click.group("followup")
def followup_group() -> None:
    """The follow-up record: open cases from the archive, import schools' fill-ins, make accounts."""


@followup_group.command("sync")
@_DB
@_URL
@_SECRET
@_PROTOCOL
def sync_cmd(db, database_url, secret_file, protocols) -> None:
    """Open a case for every flagged student of every archived wave that has none yet (safe to repeat)."""
    if db is None:
        raise click.ClickException("--db: the county's archive is needed to open cases")
    _start(db, database_url, secret_file)
    _sync(db, protocols)


@followup_group.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_DB
@_URL
@_SECRET
@click.option("--rejects", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The workbook of rejected rows, with their reasons, to fix and import again "
                   "(default: FIRST_FILE.rejects.xlsx beside the first file; written only when a row is rejected).")
@_PROTOCOL
def import_cmd(files, db, database_url, secret_file, rejects, protocols) -> None:
    """Merge the follow-up sheets (随访记录) schools filled in: validated, safe to repeat.

    The same file imported twice adds nothing; a row changed since it was imported is recorded as a correction
    of its earlier event (nothing is edited or removed). Every rejected cell is listed with file, sheet, row,
    column and what to write; the exit status is 1 when some row was rejected (the other rows are recorded).

    Example:
      psyscreen followup import 2026-09_一中.xlsx 2026-09_二中.xlsx --db county.db
    """
    _start(db, database_url, secret_file)
    _sync(db, protocols)  # the cases of waves archived since the last sync, so that their rows find them
    from ..workspace.imports import import_followup

    if rejects is None:
        rejects = files[0].with_name(files[0].stem + ".rejects.xlsx")
    result = import_followup(files, rejects=rejects)
    for problem in result.problems:
        click.echo(str(problem), err=True)
    click.echo(str(result))
    if result.rejects_file is not None:
        click.echo(f"rejected rows, with what to write: {result.rejects_file}")
    if result.rejected or result.problems:
        raise SystemExit(1)


@followup_group.command("account")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(["county", "school", "class", "leader"]),
              help="county: the county center; school: a school's psychological teacher; class: a class teacher; "
                   "leader: read-only aggregates.")
@click.option("--school", default="", help="The school (roles school and class).")
@click.option("--grade", type=int, default=None, help="The grade (role class), as in the archive (1-16).")
@click.option("--class", "klass", default="", help="The class (role class), as in the archive.")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="Asked for when not given; Django's password rules apply.")
@_DB
@_URL
@_SECRET
def account_cmd(username, role, school, grade, klass, password, db, database_url, secret_file) -> None:
    """Make an account (or change its role and password)."""
    _start(db, database_url, secret_file)
    from ..workspace.accounts import AccountError, make_account

    try:
        make_account(username, password, role, school=school, grade=grade, klass=klass)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"account {username}: {role}" + (f", {school}" if school else ""))


@followup_group.command("erase")
@click.argument("student_key")
@click.option("--reason", required=True, help="Why (e.g. 'graduated', 'consent withdrawn'); kept in the audit log.")
@_DB
@_URL
@_SECRET
def erase_cmd(student_key, reason, db, database_url, secret_file) -> None:
    """Erase STUDENT_KEY's follow-up record (cases, events, copied screenings); the audit log keeps who looked at
    what, without the case. `psyscreen archive delete` does this itself for the workspace beside the archive."""
    _start(db, database_url, secret_file)
    from ..workspace.erase import erase_student

    click.echo(str(erase_student(student_key, reason)))


COMMANDS = [serve_cmd, followup_group]
