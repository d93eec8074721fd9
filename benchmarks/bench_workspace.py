"""Benchmark: the follow-up workspace under its busiest ten minutes, on SQLite and on PostgreSQL.

Run: ``python benchmarks/bench_workspace.py [--users 50] [--events 10] [--threads 8] [--store sqlite|postgresql|both]``.

What "ten minutes' worth of requests" means here: the busiest hour of a county office is the day after a wave's
critical list goes out, when every school's psychological teacher and the county center's staff enter the
interviews and reviews of the day. We take 50 people working at once and a generous rate of one event a minute
each (opening the case, posting the form, the case page it returns to, and one of the two lists again: 4
requests), so ten minutes are 50 x 10 = 500 events, 50 logins (2 requests each) and 100 list pages after the
logins: 2,200 requests. They are sent as fast as the server answers (no pause between a person's requests), so
the ten minutes are compressed into however long the server takes: a stress at least as hard as the real ten
minutes. The time limit bounds a run to 15 minutes per store.

Everything runs on 127.0.0.1: the sample county's 2026-09 wave (data/sample) screened and archived, 237 cases
opened, 50 accounts (10 of the county center, 40 school psychological teachers over the four schools), then
``psyscreen serve`` in a subprocess (waitress, ``--threads``) with its embedded SQLite, and again with a real
PostgreSQL server started here (Debian's postgresql; durable commits, PostgreSQL's defaults). Printed per store:
requests/s, the 50th and 95th percentile page time of each page kind, errors, events lost, and the server
process's peak resident memory (VmHWM).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # tests.workspace.pg: the servers and the users the tests use too
sys.path.insert(0, str(REPO / "src"))

from tests.workspace.pg import (PostgresServer, WorkspaceServer, load_accounts, make_accounts,  # noqa: E402
                                run_load, sample_archive, stored_notes_postgres, stored_notes_sqlite)

PASSWORD = "Tq7-follow-up-bench"
KINDS = ("login_page", "login", "critical_first", "cases_first", "critical", "cases", "case", "event")


def pct(values, q):
    """The q-th percentile (nearest rank) of ``values``."""
    v = sorted(values)
    return v[min(len(v) - 1, max(0, int(round(q / 100 * len(v) + 0.5)) - 1))] if v else float("nan")


def one_store(store: str, template: Path, folder: Path, args) -> dict:
    archive = folder / f"{store}.db"
    shutil.copy(template, archive)
    pg = None
    url = None
    if store == "postgresql":
        pg = PostgresServer(fsync=True)
        url = pg.start()
    try:
        accounts = load_accounts(archive, args.users, prefix="bench")
        make_accounts(archive, url, accounts, PASSWORD)
        tag = f"bench-{store}-{int(time.time())}"
        with WorkspaceServer(archive, url, threads=args.threads, log=folder / f"serve-{store}.log") as server:
            res = run_load(server.port, [a["username"] for a in accounts], PASSWORD, args.events, tag=tag,
                           time_limit=args.time_limit)
            peak = server.peak_rss_mib()
        stored = stored_notes_sqlite(archive, tag) if url is None else stored_notes_postgres(url, tag)
    finally:
        if pg is not None:
            pg.stop()
    times = defaultdict(list)
    for h in res.hits:
        times[h.kind].append(h.seconds * 1000)
    return {"store": store, "requests": len(res.hits), "seconds": res.seconds, "times": times,
            "errors": len(res.bad()), "failures": res.failures, "accepted": len(res.notes),
            "lost": len(res.notes - set(stored)), "extra": len(set(stored) - res.notes), "peak_mib": peak}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=50)
    ap.add_argument("--events", type=int, default=10, help="events per user (one a minute for ten minutes)")
    ap.add_argument("--threads", type=int, default=8, help="psyscreen serve --threads")
    ap.add_argument("--store", choices=["sqlite", "postgresql", "both"], default="both")
    ap.add_argument("--time-limit", type=float, default=900, help="seconds of sending at most, per store")
    ap.add_argument("--dir", type=Path, default=None, help="work folder (default: a temporary one, removed)")
    args = ap.parse_args()
    folder = args.dir or Path(tempfile.mkdtemp(prefix="bench-workspace-"))
    folder.mkdir(parents=True, exist_ok=True)
    stores = ["sqlite", "postgresql"] if args.store == "both" else [args.store]
    n_req = args.users * (4 + 4 * args.events)
    print(f"workspace load: {args.users} users at once, {args.events} events each ({args.users * args.events} "
          f"events, {n_req} requests), psyscreen serve --threads {args.threads}, 127.0.0.1; {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f} at the start")
    try:
        template = sample_archive(folder / "archive")
        for store in stores:
            r = one_store(store, template, folder, args)
            print(f"\n{store}: {r['requests']} requests in {r['seconds']:.1f} s = {r['requests'] / r['seconds']:.1f} "
                  f"requests/s; errors {r['errors']}; events accepted {r['accepted']}, lost {r['lost']}, "
                  f"unexpected {r['extra']}; server peak memory {r['peak_mib']:.0f} MiB")
            for f in r["failures"][:5]:
                print(f"  user stopped: {f}")
            print(f"  {'page':<15} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
            for kind in KINDS:
                t = r["times"].get(kind, [])
                if t:
                    print(f"  {kind:<15} {len(t):>5} {statistics.median(t):>8.0f} {pct(t, 95):>8.0f} "
                          f"{max(t):>8.0f}")
            every = [x for t in r["times"].values() for x in t]
            print(f"  {'every page':<15} {len(every):>5} {statistics.median(every):>8.0f} {pct(every, 95):>8.0f} "
                  f"{max(every):>8.0f}")
            print(f"  load average {os.getloadavg()[0]:.1f} at the end")
    finally:
        if args.dir is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
