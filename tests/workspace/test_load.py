"""Load on the loopback: 50 people at once, each logging in and recording events through the real server.

Bounded in count (50 users x 3 events, 650 requests per store) and in time (the users stop sending after
TIME_LIMIT seconds, which fails the test). The server is ``psyscreen serve`` in a subprocess on 127.0.0.1, once with
its embedded SQLite (the archive file) and once with a real PostgreSQL server (tests/workspace/pg.py). Asserted:
nothing lost (every event the server accepted is in the store, counted with SQL, and nothing else is), no error
page (every answer 200 or 302), nothing in the server's output about an error. No timing is asserted; the page
times are reported by benchmarks/bench_workspace.py.
"""

from __future__ import annotations

import shutil
from collections import Counter

import pytest

from .pg import (WorkspaceServer, load_accounts, make_accounts, postgres, postgres_url,  # noqa: F401 (fixtures)
                 run_load, sample_archive, stored_notes_postgres, stored_notes_sqlite)

USERS = 50
EVENTS = 3
TIME_LIMIT = 300  # seconds of sending at most
PASSWORD = "Tq7-follow-up-test"


@pytest.fixture(scope="module")
def load_archive(tmp_path_factory):
    return sample_archive(tmp_path_factory.mktemp("load-archive"))


@pytest.mark.parametrize("store", ["sqlite", "postgresql"])
def test_fifty_users_at_once_lose_nothing_and_see_no_error_page(store, request, load_archive, tmp_path):
    archive = tmp_path / "county.db"  # the SQLite workspace lives in the archive: each store its own copy
    shutil.copy(load_archive, archive)
    url = request.getfixturevalue("postgres_url") if store == "postgresql" else None
    tag = f"load-{store}"
    accounts = load_accounts(archive, USERS, prefix=f"{store[:2]}user")
    make_accounts(archive, url, accounts, PASSWORD)
    with WorkspaceServer(archive, url) as server:
        result = run_load(server.port, [a["username"] for a in accounts], PASSWORD, EVENTS, tag=tag,
                          time_limit=TIME_LIMIT, list_after_event=False)
        output = server.output()
    assert not result.failures, result.failures[:5]
    bad = Counter((h.kind, h.status, h.error) for h in result.bad())
    assert not bad, f"answers other than 200/302: {dict(bad)}"
    assert len(result.hits) == USERS * (4 + 3 * EVENTS)
    kinds = Counter(h.kind for h in result.hits)
    assert kinds["event"] == USERS * EVENTS and kinds["login"] == USERS
    # nothing lost: every accepted event is in the store once, and the store has no other event of this run
    assert len(result.notes) == USERS * EVENTS
    stored = stored_notes_sqlite(archive, tag) if url is None else stored_notes_postgres(url, tag)
    assert sorted(stored) == sorted(result.notes)
    for word in ("Traceback", "locked", "Error"):
        assert word not in output, output[-3000:]
