"""Real servers for the workspace's tests and its benchmark: PostgreSQL, ``psyscreen serve``, and users over HTTP.

- :class:`PostgresServer` and the session fixture :func:`postgres_url`: a throw-away PostgreSQL server from
  Debian's ``postgresql`` package (``initdb`` into a temporary folder, ``pg_ctl start`` on 127.0.0.1 with a free
  port and its unix socket in that folder, a database and a user with a password; stopped and removed at the
  end). As root, ``initdb`` refuses to run: the server runs as the ``postgres`` system user (``runuser``) in a
  folder it owns. Without the server programs the tests fail (never skip) saying to run ``make test``, which
  installs them (scripts/system_deps.sh).
- :func:`sample_archive`: the 2026-09 wave of the bundled sample county (data/sample) screened and archived, as
  ``psyscreen screen --archive`` does.
- :class:`WorkspaceServer`: ``python -m psyscreen serve`` in a subprocess (Django is configured once per test
  process, with SQLite; the PostgreSQL path and the real server are exercised through subprocesses).
- :class:`WebUser` (one person's browser: cookies, CSRF tokens, timed requests) and :func:`run_load` (many of
  them at once, each logging in and recording events through the pages); the load test and
  benchmarks/bench_workspace.py use them.

Nothing here listens beyond the loopback.
"""

from __future__ import annotations

import datetime as dt
import glob
import http.client
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Optional
from urllib.parse import quote, urlencode

import pytest

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "data" / "sample"

MISSING = ("PostgreSQL's server programs (initdb, pg_ctl from Debian's postgresql package) were not found: run "
           "`make test`, which installs the packages the tests need (scripts/system_deps.sh), or "
           "`apt-get install postgresql`.")


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server can be started here (what is missing, and what to do)."""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pg_bindir() -> Optional[Path]:
    """The folder of ``initdb`` and ``pg_ctl``: ``$PSYSCREEN_PG_BIN`` when set (only there), else Debian's newest
    /usr/lib/postgresql/N/bin, else the PATH's; None when there is none."""
    env = os.environ.get("PSYSCREEN_PG_BIN")
    candidates = [Path(env)] if env else []
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                      key=lambda p: [int(x) for x in re.findall(r"\d+", Path(p).parent.name)] or [0])
    if not env:
        candidates += [Path(p) for p in reversed(versions)]
        on_path = shutil.which("initdb")
        if on_path:
            candidates.append(Path(on_path).parent)
    for c in candidates:
        if (c / "initdb").is_file() and (c / "pg_ctl").is_file() and (c / "postgres").is_file():
            return c
    return None


class PostgresServer:
    """A PostgreSQL server of its own in a temporary folder, on 127.0.0.1, for one test session.

    Parameters
    ----------
    fsync : bool
        False (tests): fsync and synchronous commit off, faster and as correct while the machine stays up.
        True (benchmark): PostgreSQL's defaults, durable commits.

    Examples
    --------
    A real server, so not a doctest (the fixtures ``postgres`` and ``postgres_url`` use it)::

        server = PostgresServer()
        url = server.start()        # postgresql://psyscreen:...@127.0.0.1:PORT/workspace
        server.stop()
    """

    user = "psyscreen"
    dbname = "workspace"

    def __init__(self, *, fsync: bool = False):
        self.fsync = fsync
        self.password = secrets.token_urlsafe(16)
        self.port: Optional[int] = None
        self.dir: Optional[Path] = None
        self.bindir: Optional[Path] = None
        self._as: list = []

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}:{quote(self.password, safe='')}@127.0.0.1:{self.port}/{self.dbname}"

    def _run(self, *args, check=True) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(LC_ALL="C.UTF-8", LANG="C.UTF-8")
        r = subprocess.run([*self._as, *map(str, args)], capture_output=True, text=True, env=env, cwd=self.dir,
                           timeout=120)
        if check and r.returncode != 0:
            raise PostgresUnavailable(f"{Path(str(args[0])).name} failed ({r.returncode}): {r.stderr.strip()}"
                                      f"\n{self.log_tail()}")
        return r

    def log_tail(self, n: int = 20) -> str:
        log = self.dir / "server.log" if self.dir else None
        if log and log.exists():
            return "server log:\n" + "\n".join(log.read_text(errors="replace").splitlines()[-n:])
        return ""

    def start(self) -> str:
        """initdb, start, make the user and the database; returns the ``postgresql://`` URL."""
        self.bindir = pg_bindir()
        if self.bindir is None:
            raise PostgresUnavailable(MISSING)
        self.dir = Path(tempfile.mkdtemp(prefix="psyscreen-pg-"))
        if os.geteuid() == 0:  # initdb refuses root: the server runs as the postgres system user, in its own folder
            try:
                pw = pwd.getpwnam("postgres")
            except KeyError:
                raise PostgresUnavailable("running as root, and there is no `postgres` system user to run the "
                                          "server as: run `make test` (Debian's postgresql package makes it)") from None
            runuser = shutil.which("runuser")
            if runuser is None:
                raise PostgresUnavailable("running as root, and `runuser` (util-linux) is missing to start the "
                                          "server as the postgres user")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            self._as = [runuser, "-u", "postgres", "--"]
        data, sock = self.dir / "data", self.dir / "sock"
        self._run("mkdir", "-m", "700", sock)
        self._run(self.bindir / "initdb", "-D", data, "-U", "postgres", "--auth-local=trust",
                  "--auth-host=scram-sha-256", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync")
        self.port = free_port()
        opts = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {sock} -c max_connections=200"
        if not self.fsync:
            opts += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run(self.bindir / "pg_ctl", "-D", data, "-l", self.dir / "server.log", "-o", opts, "-w", "-t", "60",
                  "start")
        psql = [self.bindir / "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", sock, "-p", self.port,
                "-U", "postgres", "-d", "postgres"]
        self._run(*psql, "-c", f"CREATE ROLE {self.user} LOGIN PASSWORD '{self.password}'")
        self._run(*psql, "-c", f"CREATE DATABASE {self.dbname} OWNER {self.user}")
        return self.url

    def stop(self) -> None:
        """Stop the server and remove its folder."""
        if self.dir is None:
            return
        if self.bindir is not None and (self.dir / "data" / "postmaster.pid").exists():
            self._run(self.bindir / "pg_ctl", "-D", self.dir / "data", "-m", "fast", "-w", "stop", check=False)
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None

    def connect(self):
        """A psycopg connection as the workspace's user (autocommit)."""
        import psycopg

        return psycopg.connect(self.url, autocommit=True)


@pytest.fixture(scope="session")
def postgres():
    """A started :class:`PostgresServer` for the session; a test fails (not skips) when PostgreSQL is missing."""
    server = PostgresServer()
    problem = None
    try:
        server.start()
    except PostgresUnavailable as exc:
        problem = str(exc)
    if problem:
        server.stop()
        pytest.fail(problem, pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_url(postgres) -> str:
    """``postgresql://user:password@127.0.0.1:port/workspace`` of the session's real PostgreSQL server."""
    return postgres.url


# --------------------------------------------------------------------------------------------------------------
# the sample archive and the psyscreen command
# --------------------------------------------------------------------------------------------------------------


def sample_archive(folder: Path, wave: str = "2026-09") -> Path:
    """Screen one wave of the bundled sample county and archive it (as ``psyscreen screen --archive``);
    returns the archive file (237 flagged students in 2026-09, four schools). A few seconds."""
    from psyscreen.screening import screen

    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "county.db"
    res = screen([SAMPLE / wave], protocol="default", wave=wave, out=folder / wave,
                 column_map=SAMPLE / "column_map.csv", archive=db, reports=False, workers=1)
    assert res.ok, res
    return db


def child_env() -> dict:
    """The environment of a psyscreen subprocess: this checkout's source first, no database URL inherited."""
    env = {k: v for k, v in os.environ.items() if k not in ("PSYSCREEN_DATABASE_URL",) and not k.startswith("PG")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src")] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return env


def run_psyscreen(*args, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``python -m psyscreen ARGS`` and return it (stdout and stderr as text); asserts it succeeded."""
    r = subprocess.run([sys.executable, "-m", "psyscreen", *map(str, args)], capture_output=True, text=True,
                       env=child_env(), timeout=timeout)
    assert r.returncode == 0, f"psyscreen {args[0]} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}"
    return r


_MAKE_ACCOUNTS = """
import json, sys
from psyscreen.workspace import configure, migrate
spec = json.loads(sys.argv[1])
configure(db=None if spec["url"] else spec["archive"], database_url=spec["url"], archive=spec["archive"])
migrate()
from django.contrib.auth import get_user_model
from django.db import transaction
from psyscreen.workspace.accounts import make_account
from psyscreen.workspace.models import Account
first = None
with transaction.atomic():
    for a in spec["accounts"]:
        if first is None:
            first = make_account(a["username"], spec["password"], a["role"], school=a.get("school", ""))
            continue
        # the same password: its hash is copied (one PBKDF2 instead of one per account)
        user = get_user_model().objects.create(username=a["username"], password=first.password)
        Account.objects.create(user=user, role=a["role"], school=a.get("school", ""))
print(len(spec["accounts"]))
"""


def make_accounts(archive: Path, database_url: Optional[str], accounts: list, password: str) -> None:
    """Make many accounts in one subprocess (``followup account`` makes one per process): ``accounts`` is a list
    of dicts with username, role and school."""
    import json

    spec = {"archive": str(archive), "url": database_url, "accounts": accounts, "password": password}
    r = subprocess.run([sys.executable, "-c", _MAKE_ACCOUNTS, json.dumps(spec)], capture_output=True, text=True,
                       env=child_env(), timeout=300)
    assert r.returncode == 0, f"making accounts failed:\n{r.stdout}\n{r.stderr}"


class WorkspaceServer:
    """``python -m psyscreen serve --db ARCHIVE [--database-url URL] --port P`` in a subprocess, on 127.0.0.1.

    Use as a context manager; :meth:`peak_rss_mib` reads the server's peak resident memory (Linux).
    """

    def __init__(self, archive: Path, database_url: Optional[str] = None, *, threads: int = 8,
                 log: Optional[Path] = None):
        self.archive, self.database_url, self.threads = Path(archive), database_url, threads
        self.log = Path(log) if log else self.archive.with_name(f"serve-{secrets.token_hex(4)}.log")
        self.port: Optional[int] = None
        self.proc: Optional[subprocess.Popen] = None

    def start(self, timeout: float = 120) -> "WorkspaceServer":
        self.port = free_port()
        args = [sys.executable, "-m", "psyscreen", "serve", "--db", str(self.archive), "--port", str(self.port),
                "--host", "127.0.0.1", "--threads", str(self.threads)]
        if self.database_url:
            args += ["--database-url", self.database_url]
        self._logf = open(self.log, "wb")
        self.proc = subprocess.Popen(args, stdout=self._logf, stderr=subprocess.STDOUT, env=child_env())
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise AssertionError(f"psyscreen serve exited ({self.proc.returncode}):\n{self.output()}")
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                c.request("GET", "/login/")
                if c.getresponse().status == 200:
                    c.close()
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise AssertionError(f"psyscreen serve did not answer within {timeout:.0f} s:\n{self.output()}")

    def output(self) -> str:
        self._logf.flush()
        return self.log.read_text(errors="replace")

    def peak_rss_mib(self) -> Optional[float]:
        """The server process's peak resident memory (VmHWM) so far, in MiB; None where /proc is not there."""
        try:
            text = Path(f"/proc/{self.proc.pid}/status").read_text()
        except OSError:
            return None
        m = re.search(r"^VmHWM:\s+(\d+) kB", text, re.M)
        return int(m.group(1)) / 1024 if m else None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "_logf", None):
            self._logf.close()

    def __enter__(self):
        return self.start() if self.proc is None else self

    def __exit__(self, *exc):
        self.stop()


# --------------------------------------------------------------------------------------------------------------
# users over HTTP
# --------------------------------------------------------------------------------------------------------------

CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
CASE_ROW = re.compile(r'data-case="([0-9a-f-]{36})"')


@dataclass
class Hit:
    """One request: its page kind, seconds from sending to the whole answer read, the HTTP status (0: no
    answer, the error's class in ``error``)."""

    kind: str
    seconds: float
    status: int
    error: str = ""


class WebUser:
    """One person's browser against the workspace: a keep-alive connection, the cookies Django sets, the CSRF
    token of the last form; every request timed into :attr:`hits`. Redirects are not followed by itself."""

    def __init__(self, port: int, timeout: float = 120):
        self.port, self.timeout = port, timeout
        self.cookies: dict = {}
        self.hits: list[Hit] = []
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def request(self, method: str, path: str, kind: str, form: Optional[dict] = None, *, csrf_header: bool = False):
        """Send one request; returns (status, body text, Location header)."""
        headers = {"Host": f"127.0.0.1:{self.port}"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        t0 = time.perf_counter()
        try:
            self.conn.request(method, path, body=body, headers=headers)
            r = self.conn.getresponse()
            text = r.read().decode("utf-8", errors="replace")
        except (OSError, http.client.HTTPException) as exc:
            self.hits.append(Hit(kind, time.perf_counter() - t0, 0, type(exc).__name__))
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            return 0, "", ""
        self.hits.append(Hit(kind, time.perf_counter() - t0, r.status))
        for header in r.headers.get_all("Set-Cookie") or []:
            c = SimpleCookie()
            c.load(header)
            for name, morsel in c.items():
                if morsel["max-age"] == "0" or morsel.value == "":
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return r.status, text, r.headers.get("Location", "")

    def get(self, path: str, kind: str):
        return self.request("GET", path, kind)

    def post(self, path: str, form: dict, kind: str, page: Optional[str] = None):
        """POST a form with the CSRF token of ``page`` (the form's page) when given."""
        if page is not None:
            m = CSRF_INPUT.search(page)
            assert m, "the page has no CSRF token"
            form = {"csrfmiddlewaretoken": m.group(1), **form}
        return self.request("POST", path, kind, form)

    def login(self, username: str, password: str) -> int:
        """The login page, then the form; returns the POST's status (302 when logged in)."""
        status, page, _ = self.get("/login/", "login_page")
        if status != 200:
            return status
        status, _, _ = self.post("/login/", {"username": username, "password": password}, "login", page)
        return status

    def close(self) -> None:
        self.conn.close()


def event_form(note: str, day: Optional[dt.date] = None) -> dict:
    """An interview (约谈评估) as the case page's form sends it; ``note`` makes it findable in the store."""
    day = day or dt.date.today() - dt.timedelta(days=1)
    return {"kind": "interviewed", "date": day.isoformat(), "by": "王老师", "reassessed_level": "2", "note": note}


@dataclass
class LoadResult:
    """What :func:`run_load` did: every request, the notes of the events the server accepted (302), the
    seconds from the first login to the last answer, and each user's failure if one stopped early."""

    hits: list = field(default_factory=list)
    notes: set = field(default_factory=set)
    seconds: float = 0.0
    failures: list = field(default_factory=list)

    def bad(self) -> list:
        """Every request answered with something other than 200 or 302 (or not answered)."""
        return [h for h in self.hits if h.status not in (200, 302)]


def run_load(port: int, usernames: list, password: str, events_per_user: int, *, tag: str,
             time_limit: float = 600, list_after_event: bool = True) -> LoadResult:
    """Every user at once (a barrier after the threads start): log in, open the critical list and the open
    cases, then ``events_per_user`` times: open a case, record an interview through its form (CSRF token from
    the page), follow the redirect back to the case page, and open a list again (critical or open cases, in
    turn; not with ``list_after_event=False``). Each event's note is ``{tag}-{user}-{i}``. Stops sending when
    ``time_limit`` seconds have passed.

    Requests per user: 2 (log in) + 2 (lists) + 4 per event (3 without the list).
    """
    result = LoadResult()
    lock = threading.Lock()
    barrier = threading.Barrier(len(usernames))
    start = [0.0]
    deadline = [0.0]

    def one(u: int, name: str):
        web = WebUser(port)
        notes = set()
        try:
            barrier.wait(timeout=60)
            if u == 0:
                start[0] = time.perf_counter()
            if web.login(name, password) != 302:
                raise AssertionError(f"{name}: login refused")
            # the first lists, amid everyone's logins, are timed apart from the later ones
            status, page, _ = web.get("/critical/", "critical_first")
            status2, page2, _ = web.get("/cases/", "cases_first")
            ids = sorted(set(CASE_ROW.findall(page)) | set(CASE_ROW.findall(page2)))
            if not ids:
                raise AssertionError(f"{name}: no case to open ({status}, {status2})")
            for i in range(events_per_user):
                if time.perf_counter() > deadline[0]:
                    raise AssertionError(f"{name}: time limit reached after {i} events")
                case = ids[(u * 7 + i) % len(ids)]
                status, page, _ = web.get(f"/case/{case}/", "case")
                if status != 200:
                    continue
                note = f"{tag}-{u}-{i}"
                status, _, location = web.post(f"/case/{case}/event/", event_form(note), "event", page)
                if status == 302:
                    notes.add(note)
                    if location:
                        web.get(location, "case")
                if list_after_event:
                    web.get("/critical/" if i % 2 else "/cases/", "critical" if i % 2 else "cases")
        except Exception as exc:  # noqa: BLE001 - reported in the result, the test asserts there is none
            with lock:
                result.failures.append(f"{name}: {type(exc).__name__}: {exc}")
        finally:
            web.close()
            with lock:
                result.hits.extend(web.hits)
                result.notes |= notes

    deadline[0] = time.perf_counter() + time_limit
    threads = [threading.Thread(target=one, args=(u, n), daemon=True) for u, n in enumerate(usernames)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=time_limit + 120)
    result.seconds = time.perf_counter() - (start[0] or t0)
    if any(t.is_alive() for t in threads):
        result.failures.append("some users were still waiting for an answer after the time limit")
    return result


def load_accounts(archive: Path, n: int, prefix: str = "load") -> list:
    """``n`` accounts for a load run: every fifth one the county center, the others school psychological
    teachers spread over the archive's schools with flagged students."""
    import sqlite3

    with sqlite3.connect(archive) as con:
        schools = [r[0] for r in con.execute(
            "SELECT DISTINCT school FROM screenings WHERE flagged = 1 ORDER BY school")]
    out = []
    for i in range(n):
        if i % 5 == 0 or not schools:
            out.append({"username": f"{prefix}{i:03d}", "role": "county"})
        else:
            out.append({"username": f"{prefix}{i:03d}", "role": "school", "school": schools[i % len(schools)]})
    return out


def stored_notes_sqlite(archive: Path, prefix: str) -> list:
    """The notes of the web events stored in the SQLite workspace (the archive file) that start with ``prefix``."""
    import sqlite3

    with sqlite3.connect(archive) as con:
        return [r[0] for r in con.execute(
            "SELECT json_extract(fields, '$.note') FROM workspace_event WHERE source = 'web' "
            "AND json_extract(fields, '$.note') LIKE ? || '%'", (prefix,))]


def stored_notes_postgres(url: str, prefix: str) -> list:
    """The same, counted in PostgreSQL."""
    import psycopg

    with psycopg.connect(url) as con:
        return [r[0] for r in con.execute(
            "SELECT fields->>'note' FROM workspace_event WHERE source = 'web' AND fields->>'note' LIKE %s || '%%'",
            (prefix,))]
