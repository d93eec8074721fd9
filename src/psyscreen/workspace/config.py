"""Django settings for the workspace, made in code (no settings module to find): :func:`configure`.

Examples
--------
>>> db_settings(None, "postgresql://u:p@127.0.0.1:5433/county")["ENGINE"]
'django.db.backends.postgresql'
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Optional, Union
from urllib.parse import unquote, urlparse

from .. import followup

__all__ = ["configure", "migrate", "db_settings", "ConfigurationError"]

SESSION_HOURS = 8


class ConfigurationError(RuntimeError):
    """The workspace cannot start as asked (what is wrong, and what to do)."""


def db_settings(db: Optional[Union[str, Path]], database_url: Optional[str]) -> dict:
    """Django's ``DATABASES['default']`` for an SQLite file or a ``postgresql://user:pass@host:port/name`` URL."""
    if database_url:
        u = urlparse(database_url)
        if u.scheme not in ("postgres", "postgresql"):
            raise ConfigurationError(f"--database-url: only postgresql://user:password@host:port/name is supported, "
                                     f"not {u.scheme}://")
        return {"ENGINE": "django.db.backends.postgresql", "NAME": unquote(u.path.lstrip("/")),
                "USER": unquote(u.username or ""), "PASSWORD": unquote(u.password or ""),
                "HOST": u.hostname or "", "PORT": str(u.port or ""), "CONN_MAX_AGE": 60,
                "OPTIONS": {"connect_timeout": 10}}
    if db is None:
        raise ConfigurationError("give the county's archive file (--db county.db) or a --database-url")
    # IMMEDIATE: a writer takes the lock at BEGIN, so two writers wait for each other (timeout) instead of one
    # failing with "database is locked" half-way; WAL lets readers go on while one writes.
    return {"ENGINE": "django.db.backends.sqlite3", "NAME": str(db),
            "OPTIONS": {"timeout": 30, "transaction_mode": "IMMEDIATE",
                        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"}}


def _secret_key(secret_file: Optional[Path]) -> str:
    env = os.environ.get("PSYSCREEN_SECRET_KEY")
    if env:
        return env
    if secret_file is None:
        return secrets.token_urlsafe(50)
    if secret_file.exists():
        return secret_file.read_text().strip()
    secret_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    key = secrets.token_urlsafe(50)
    with os.fdopen(fd, "w") as f:
        f.write(key)
    return key


def settings_dict(db=None, database_url=None, *, secret_file=None, debug=False, pseudonymise=False,
                  archive=None, allowed_hosts=("127.0.0.1", "localhost")) -> dict:
    """Every Django setting the workspace uses."""
    here = Path(__file__).parent
    return dict(
        DEBUG=debug,
        SECRET_KEY=_secret_key(Path(secret_file) if secret_file else None),
        ALLOWED_HOSTS=list(allowed_hosts),
        DATABASES={"default": db_settings(db, database_url)},
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions",
                        "django.contrib.messages", "axes", "psyscreen.workspace"],
        MIDDLEWARE=["django.middleware.security.SecurityMiddleware",
                    "django.contrib.sessions.middleware.SessionMiddleware",
                    "django.middleware.common.CommonMiddleware",
                    "django.middleware.csrf.CsrfViewMiddleware",
                    "django.contrib.auth.middleware.AuthenticationMiddleware",
                    "django.contrib.messages.middleware.MessageMiddleware",
                    "django.middleware.clickjacking.XFrameOptionsMiddleware",
                    "psyscreen.workspace.middleware.LanguageMiddleware",
                    "psyscreen.workspace.middleware.NoStoreMiddleware",
                    "axes.middleware.AxesMiddleware"],
        AUTHENTICATION_BACKENDS=["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"],
        ROOT_URLCONF="psyscreen.workspace.urls",
        STATIC_URL="/static/",  # no static files (styles are inline); Django's test server needs it set
        TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates", "DIRS": [],
                    "APP_DIRS": True,
                    "OPTIONS": {"context_processors": ["django.template.context_processors.request",
                                                       "django.contrib.auth.context_processors.auth",
                                                       "django.contrib.messages.context_processors.messages",
                                                       "psyscreen.workspace.middleware.words"]}}],
        LOGIN_URL="login",
        LOGIN_REDIRECT_URL="home",
        LOGOUT_REDIRECT_URL="login",
        AUTH_PASSWORD_VALIDATORS=[
            {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
            {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
            {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
            {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"}],
        SESSION_COOKIE_AGE=SESSION_HOURS * 3600,
        SESSION_EXPIRE_AT_BROWSER_CLOSE=True,
        SESSION_SAVE_EVERY_REQUEST=True,  # the age counts from the last request: an idle session expires
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        CSRF_COOKIE_SAMESITE="Lax",
        X_FRAME_OPTIONS="DENY",
        CSRF_FAILURE_VIEW="psyscreen.workspace.views.auth.csrf_failure",
        USE_TZ=True,
        TIME_ZONE=followup.TIME_ZONE,  # pages, forms and sync count days in China
        LANGUAGE_CODE="zh-hans",
        USE_I18N=False,
        AXES_FAILURE_LIMIT=5,
        AXES_COOLOFF_TIME=timedelta(minutes=15),
        AXES_LOCKOUT_PARAMETERS=[["username", "ip_address"]],
        AXES_RESET_ON_SUCCESS=True,
        AXES_VERBOSE=False,
        AXES_LOCKOUT_TEMPLATE="workspace/locked.html",
        LOGGING={"version": 1, "disable_existing_loggers": False,
                 "formatters": {"data_free": {"()": "psyscreen.workspace.logs.DataFreeFormatter",
                                              "format": "%(asctime)s %(levelname)s %(message)s"}},
                 "handlers": {"null": {"class": "logging.NullHandler"},
                              "stderr": {"class": "logging.StreamHandler", "formatter": "data_free"}},
                 "loggers": {
                     # axes logs the username of every failed login: kept out of the server log
                     "axes": {"handlers": ["null"], "propagate": False},
                     # server errors (500): the path (opaque ids only) and the code's frames, no message
                     "django.request": {"handlers": ["stderr"], "level": "ERROR", "propagate": False}}},
        PSYSCREEN_PSEUDONYMISE=pseudonymise,
        PSYSCREEN_ARCHIVE=str(archive) if archive else (str(db) if db else None),
    )


def configure(db=None, database_url=None, **options) -> None:
    """Configure Django for the workspace and set it up; once per process.

    Parameters
    ----------
    db : path, optional
        The county's archive (SQLite). Without ``database_url`` the workspace's tables live in it too.
    database_url : str, optional
        ``postgresql://user:password@host:port/name``: the workspace's tables live there; the archive
        (``archive=`` or ``db``) is read to open the cases.
    **options
        ``secret_file``, ``debug``, ``pseudonymise``, ``archive``, ``allowed_hosts``: see :func:`settings_dict`.
    """
    import django
    from django.conf import settings

    if settings.configured:
        current = settings.DATABASES["default"]
        wanted = db_settings(db, database_url)
        if (current["ENGINE"], current["NAME"]) != (wanted["ENGINE"], wanted["NAME"]):
            raise ConfigurationError("the workspace is already configured for another database in this process")
        return
    settings.configure(**settings_dict(db, database_url, **options))
    django.setup()


def migrate(verbosity: int = 0) -> None:
    """Create or upgrade the workspace's tables (Django's migrations)."""
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=verbosity)
