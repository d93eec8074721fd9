"""Benchmark: opening the follow-up cases of a county's archive (``psyscreen followup sync``).

Run: ``python benchmarks/bench_sync.py [--students 30000] [--waves 4] [--dir /tmp/bench_sync]``.

The archive is built by ``benchmarks/bench_archive.py`` with the same arguments (a synthetic county, every wave
screened with the shipped ``default`` protocol; at 30,000 students and 4 waves, 18,660 flagged student-waves). The
workspace's tables go into a copy of it, and ``sync_cases`` is timed twice: the first sync, which opens every case,
and a second, which finds nothing new. It is run on two copies:

- the waves' protocol shipped (``default``);
- the waves' protocol a county's own file that was not given (``protocol_id`` set to an unknown id), so every case
  gets the default deadlines.

Then the step that writes the cases is timed apart. The cases are written with one ``bulk_create``, and by the
obvious alternative, one ``INSERT`` per case (``Case.objects.create`` in one transaction), to print the ratio.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))


def copy_archive(src: Path, folder: Path, protocol_id: str | None) -> Path:
    db = folder / f"county-{protocol_id or 'shipped'}.db"
    shutil.copy(src, db)
    if protocol_id:
        with sqlite3.connect(db) as con:
            con.execute("UPDATE imports SET protocol_id = ?", (protocol_id,))
    return db


def one(db: Path, name: str, write_step: bool) -> None:
    """Time the syncs of one archive (in its own process: Django is configured once per process)."""
    from django.db import transaction

    from psyscreen.workspace import configure, migrate

    configure(db=db, secret_file=None)
    migrate()
    from psyscreen.workspace.models import Case
    from psyscreen.workspace.sync import sync_cases

    t0 = time.perf_counter()
    first = sync_cases(db)
    t1 = time.perf_counter()
    again = sync_cases(db)
    t2 = time.perf_counter()
    linked = Case.objects.filter(previous__isnull=False).count()
    print(f"{name:20s} first sync {t1 - t0:6.2f} s ({first.cases_opened:,} cases opened, {linked:,} linked to "
          f"the student's last case; {(t1 - t0) / max(first.cases_opened, 1) * 1e3:.2f} ms a case); "
          f"again {t2 - t1:5.2f} s ({again.cases_opened} opened)", flush=True)
    if not write_step:
        return
    fields = [f.attname for f in Case._meta.concrete_fields]
    rows = list(Case.objects.order_by("wave").values(*fields))
    timings = {}
    for how in ("bulk_create", "one INSERT per case"):
        Case.objects.all().delete()  # cases without events: nothing else refers to them
        objs = [Case(**r) for r in rows]
        t0 = time.perf_counter()
        with transaction.atomic():
            if how == "bulk_create":
                Case.objects.bulk_create(objs, batch_size=2000)
            else:
                for o in objs:
                    o.save(force_insert=True)
        timings[how] = time.perf_counter() - t0
        assert Case.objects.count() == len(rows)
        print(f"writing {len(rows):,} cases, {how:20s} {timings[how]:6.2f} s")
    print(f"one INSERT per case takes {timings['one INSERT per case'] / timings['bulk_create']:.1f}x as long as "
          "bulk_create")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--students", type=int, default=30_000)
    ap.add_argument("--waves", type=int, default=4)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/bench_sync"))
    ap.add_argument("--one", nargs=3, metavar=("DB", "NAME", "WRITE_STEP"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        db, name, write_step = args.one
        one(Path(db), name, write_step == "1")
        return

    archive = args.dir / "county.db"
    subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_archive.py"), "--students", str(args.students),
                    "--waves", str(args.waves), "--dir", str(args.dir)], check=True, stdout=subprocess.DEVNULL)
    folder = Path(tempfile.mkdtemp(prefix="bench-sync-"))
    for name, protocol_id, write_step in (("protocol shipped", None, "1"),
                                          ("protocol not given", "county_own_plan", "0")):
        db = copy_archive(archive, folder, protocol_id)
        subprocess.run([sys.executable, __file__, "--one", str(db), name, write_step], check=True)


if __name__ == "__main__":
    main()
