"""The follow-up workspace: cases, events, accounts and the audit log, in Django, on SQLite or PostgreSQL.

The statistical core of psyscreen knows nothing of this package. ``psyscreen serve --db county.db`` configures
Django with :func:`configure` (SQLite: the workspace's tables live in the county's archive file beside the
growth file; ``--database-url postgresql://...`` for a county with many users), applies the migrations, copies
the flagged students of every archived wave into cases (:func:`psyscreen.workspace.sync.sync_cases`) and serves
the pages with waitress.

Django brings the authentication, sessions, CSRF protection, password hashing and schema migrations;
django-axes slows repeated failed logins. Nothing of these is written here.
"""

from .config import configure, migrate

__all__ = ["configure", "migrate"]
