"""Benchmark: the workspace's lists after years of waves, when most cases are closed.

Run: ``python benchmarks/bench_case_lists.py [--cases 20000] [--open 0.08] [--repeat 5]``.

A county's workspace keeps every case of every wave. After ten waves of a 30,000-student county flagging about
7 % a wave, it holds some 20,000 cases, most of them closed with a few events each. The critical list and the open
cases list show only the open ones. This measures building those two lists for the county center's account (who
sees every school) two ways:

- as the workspace does it: the database is asked for the open cases (the case's ``closed`` flag, which
  ``Event.save`` keeps from the events), and only their events are read to work out their state;
- the obvious alternative (what the workspace did before the flag): read every case with its events, work out
  each state, and drop the closed ones.

The county dashboard over every wave has to work out every case's state; it is timed as the workspace builds it
(cases and events read as plain rows) and as model instances with their events prefetched.

Both must give the same rows (checked). The cases and events are written with ``bulk_create`` (the setup is not
what is measured), and the flag is then set by the migration's own rule. Printed: the best of ``--repeat`` runs
of each, their ratio, and the peak Python memory of one run of each (tracemalloc).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import sys
import tempfile
import time
import tracemalloc
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))


def build(n_cases: int, open_share: float, seed: int = 7) -> None:
    import random

    from django.apps import apps

    from psyscreen.workspace.models import Case, Event

    migration = importlib.import_module("psyscreen.workspace.migrations.0004_case_closed")
    rng = random.Random(seed)
    waves = [f"{2022 + i // 2}-{'03' if i % 2 == 0 else '09'}" for i in range(10)]
    cases, events = [], []
    for i in range(n_cases):
        wave = waves[min(len(waves) - 1, i * len(waves) // n_cases)]
        opened = dt.date(int(wave[:4]), int(wave[5:]), 10)
        rank = rng.choice((1, 2, 2, 3, 3, 3))
        c = Case(id=uuid.uuid4(), student_key=f"K{i:06d}", wave=wave, school=f"school {i % 40}", grade=7 + i % 3,
                 klass=str(1 + i % 8), level=f"level{rank}", level_rank=rank, critical=rng.random() < 0.05,
                 opened_on=opened, deadline=opened + dt.timedelta(days=7))
        cases.append(c)
        is_open = i >= n_cases * (1 - open_share) or rng.random() < 0.01
        steps = [("reviewed", {"by": "王老师", "outcome": "confirmed"})]
        if not is_open:
            steps += [("interviewed", {"by": "王老师", "reassessed_level": "3"}),
                      ("closed", {"by": "王老师", "outcome": "resolved"})]
        for j, (kind, fields) in enumerate(steps[:rng.randint(0, len(steps)) if is_open else len(steps)]):
            events.append(Event(id=uuid.uuid4(), case=c, kind=kind, occurred_on=opened + dt.timedelta(days=j),
                                fields=fields, source="bench"))
    Case.objects.bulk_create(cases, batch_size=2000)
    Event.objects.bulk_create(events, batch_size=2000)
    migration.closed_from_events(apps, None)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=20000)
    ap.add_argument("--open", type=float, default=0.08, help="share of the cases still open (the latest wave's)")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    from psyscreen.workspace import configure, migrate

    folder = Path(tempfile.mkdtemp(prefix="bench-lists-"))
    configure(db=folder / "county.db", secret_file=None)
    migrate()
    from django.test import RequestFactory
    from django.utils import timezone

    from psyscreen.workspace import dashboard

    from psyscreen.workspace.accounts import make_account
    from psyscreen.workspace.access import cases_for
    from psyscreen.workspace.models import Case, Event
    from psyscreen.workspace.views.cases import case_rows, critical_rows, open_rows

    t0 = time.perf_counter()
    build(args.cases, args.open)
    print(f"{Case.objects.count():,} cases ({Case.objects.filter(closed=False).count():,} open), "
          f"{Event.objects.count():,} events, written in {time.perf_counter() - t0:.1f} s")

    request = RequestFactory().get("/cases/")
    request.user = make_account("bench-county", "Tq7-bench-lists-pass", "county")
    request.lang = "zh"

    def every_state():  # the obvious alternative: every case's state, then drop the closed ones
        rows = [r for r in case_rows(request, cases_for(request.user)) if not r["state"].closed]
        rows.sort(key=lambda r: (not r["overdue"], r["case"].deadline, r["case"].level_rank or 99))
        return rows

    def ids(rows):
        return [r["case"].pk for r in rows]

    def dashboard_by_instances():  # the obvious alternative: every case as a model, its events prefetched
        today = timezone.localdate()
        by_school = {}
        for c in Case.objects.prefetch_related("events"):
            row = by_school.setdefault(c.school, [0] * len(dashboard.COLUMNS))
            for j, hit in enumerate(dashboard.case_counts(c.state(), c.deadline, today)):
                row[j] += int(hit)
        return [dashboard.SchoolRow(k, v) for k, v in sorted(by_school.items())]

    assert dashboard.school_rows() == dashboard_by_instances(), "the two dashboards differ"

    assert ids(open_rows(request)) == ids(every_state()), "the two ways give different lists"
    timings = {}
    for name, fn in (("open cases, flag in SQL", lambda: open_rows(request)),
                     ("critical list, flag in SQL", lambda: critical_rows(request)),
                     ("open cases, every case's state", every_state),
                     ("dashboard, every wave, as rows", dashboard.school_rows),
                     ("dashboard, every wave, as models", dashboard_by_instances)):
        best = min(_timed(fn) for _ in range(args.repeat))
        tracemalloc.start()
        fn()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        timings[name] = best
        print(f"{name:36s} best of {args.repeat}: {best * 1000:8.1f} ms   peak Python memory {peak / 2**20:7.1f} MiB")
    ratio = timings["open cases, every case's state"] / timings["open cases, flag in SQL"]
    print(f"the open cases list is {ratio:.1f}x faster with the flag than working out every case's state")
    ratio = timings["dashboard, every wave, as models"] / timings["dashboard, every wave, as rows"]
    print(f"the dashboard over every wave is {ratio:.1f}x faster reading rows than model instances")


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


if __name__ == "__main__":
    main()
