"""Screening a whole county: speed and peak memory of ``psyscreen.screen`` (not a test).

Run ``python benchmarks/bench_screen.py`` (``--students``, ``--files``, ``--xlsx-files`` change the size). It writes a
synthetic county (:mod:`psyscreen.synthetic`: 300,000 students in 200 school exports by default, PHQ-9 + GAD-7, Chinese
field headers, a few blanks) to a temporary folder, then times, each in a fresh Python process so that the peak
resident memory (``ru_maxrss``) belongs to that step alone:

1. ``screen`` of the 200 CSV files, end to end (read, map, normalise, critical list, duplicates, score, classify,
   students/answers parquet, quarantine) **without** the report writers (``reports=False``);
2. the same **with** the report writers (school workbooks, class lists, letters, county summary with suppression);
3. ``screen`` of the same county as ``.xlsx`` files (python-calamine), tables only;
4. reading those ``.xlsx`` files with :func:`psyscreen.screening.read_export` (calamine), nothing else;
5. reading them with openpyxl (``pandas.read_excel(engine="openpyxl")``), nothing else.
Imports are done before the clock starts.

``--baseline REF`` measures a second version of psyscreen side by side in the same run: REF (a git commit, e.g.
``HEAD~1``, checked out into a temporary worktree) and this checkout run the screening phases alternately on the same
county, so that a busy machine slows both alike; the ratio new/old is printed per phase.

Goals (issue 5): steps 1 and 2 under 2 minutes on a 2-core machine; reading the xlsx files (step 4) at least 8x
faster than openpyxl (step 5). Step 3 is printed for information: the whole screening from xlsx against openpyxl's
reading alone.
The machine may be shared (other processes running): the load average is printed with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

FIELDS_ZH = {"student_id": "学号", "name": "姓名", "school": "学校", "grade": "年级", "class": "班级", "sex": "性别"}


def make_county(folder: Path, n_students: int, n_files: int, *, xlsx_files: int, seed: int = 1) -> dict:
    from psyscreen.synthetic import simulate_answers, simulate_students

    schools = [f"第{k + 1:03d}中学" for k in range(n_files)]
    t = time.perf_counter()
    s = simulate_students(n_students, seed=seed, grades=range(4, 13), schools=schools)
    s["student_id"] = np.char.zfill(np.arange(n_students).astype(str), 10)
    a = simulate_answers(s, ["phq9", "gad7"], seed=seed, missing_rate=0.002)
    a = a[[c for c in a.columns if c != "phq9.10"]]
    frame = pd.concat([s[list(FIELDS_ZH)].rename(columns=FIELDS_ZH), a], axis=1)
    frame["性别"] = frame["性别"].astype(str)
    text = {c: frame[c].map(lambda v: "" if pd.isna(v) else f"{int(v)}") for c in a.columns}
    for c, v in text.items():
        frame[c] = v
    csv_dir, xlsx_dir = folder / "csv", folder / "xlsx"
    csv_dir.mkdir(parents=True)
    xlsx_dir.mkdir(parents=True)
    groups = dict(tuple(frame.groupby("学校", sort=True)))
    for k, (name, part) in enumerate(groups.items()):
        part.to_csv(csv_dir / f"{name}.csv", index=False, encoding="utf-8")
        if k < xlsx_files:
            part.to_excel(xlsx_dir / f"{name}.xlsx", index=False, engine="xlsxwriter")
    xlsx_rows = sum(len(p) for p in list(groups.values())[:xlsx_files])
    return {"students": n_students, "files": len(groups), "xlsx_files": min(xlsx_files, len(groups)),
            "xlsx_rows": xlsx_rows, "seconds_to_generate": round(time.perf_counter() - t, 1)}


def _phase(kind: str, folder: Path, out: Path) -> dict:
    import openpyxl  # noqa: F401  (imports are not timed)

    import psyscreen.classify  # noqa: F401
    import psyscreen.report  # noqa: F401
    from psyscreen.screening import read_export, screen

    t = time.perf_counter()
    if kind.startswith("screen"):
        inputs = folder / ("xlsx" if "xlsx" in kind else "csv")
        res = screen([inputs], protocol="default", wave="2026-09", out=out, reports=kind.endswith("reports"))
        extra = {"rows": res.totals["rows"], "scored": res.totals["scored"], "critical": res.critical,
                 "ok": res.ok}
    elif kind == "openpyxl":
        n = 0
        for f in sorted((folder / "xlsx").glob("*.xlsx")):
            n += len(pd.read_excel(f, engine="openpyxl", dtype=str))
        extra = {"rows": n}
    elif kind == "calamine":
        n = 0
        for f in sorted((folder / "xlsx").glob("*.xlsx")):
            n += sum(len(t.frame) for t in read_export(f))
        extra = {"rows": n}
    else:
        raise SystemExit(f"unknown phase {kind}")
    secs = time.perf_counter() - t
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    workers_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # the largest report worker, if any
    if workers_kb:
        extra["worker_peak_rss_mb"] = round(workers_kb / 1024, 1)
    if kind.endswith("reports"):
        extra["files_written"] = sum(1 for _ in out.rglob("*") if _.is_file())
    return {"phase": kind, "seconds": round(secs, 2), "peak_rss_mb": round(peak_kb / 1024, 1), **extra}


def _run_child(kind: str, folder: Path, out: Path, src: Path | None = None) -> dict:
    """Run one phase in a fresh process; ``src``: the ``src`` folder of the psyscreen version to time."""
    cmd = [sys.executable, __file__, "--phase", kind, "--data", str(folder), "--out", str(out)]
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(src)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        raise SystemExit(f"{kind} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--students", type=int, default=300_000)
    ap.add_argument("--files", type=int, default=200)
    ap.add_argument("--xlsx-files", type=int, default=200, help="how many of the schools also as .xlsx")
    ap.add_argument("--skip-reports", action="store_true", help="do not time the run with the report writers")
    ap.add_argument("--baseline", metavar="REF",
                    help="also time git commit REF (e.g. HEAD~1), alternating with this checkout, and print ratios")
    ap.add_argument("--rounds", type=int, default=2, help="with --baseline: alternating rounds per phase")
    ap.add_argument("--phase", help=argparse.SUPPRESS)
    ap.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.phase:
        print(json.dumps(_phase(args.phase, args.data, args.out)))
        return
    tmp = Path(tempfile.mkdtemp(prefix="psyscreen-bench-"))
    try:
        info = make_county(tmp / "data", args.students, args.files, xlsx_files=args.xlsx_files)
        if args.baseline:
            _side_by_side(args, tmp, info)
            return
        print(f"county: {info['students']:,} students in {info['files']} CSV files "
              f"({info['xlsx_files']} also as xlsx, {info['xlsx_rows']:,} rows); generated in {info['seconds_to_generate']} s")
        print(f"machine: {os.cpu_count()} CPU(s); load average before: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
        results = []
        phases = ["screen-csv"] + ([] if args.skip_reports else ["screen-csv-reports"]) + ["screen-xlsx", "calamine", "openpyxl"]
        for kind in phases:
            r = _run_child(kind, tmp / "data", tmp / f"out-{kind}")
            results.append(r)
            print(f"  {kind:20s} {r['seconds']:8.1f} s   peak RSS {r['peak_rss_mb']:8.1f} MB   "
                  + ", ".join(f"{k} {v}" for k, v in r.items() if k not in ("phase", "seconds", "peak_rss_mb")))
        by = {r["phase"]: r for r in results}
        print(f"load average after: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
        goal = 120.0
        print(f"CSV end to end, tables only: {by['screen-csv']['seconds']:.1f} s (goal < {goal:.0f} s: "
              f"{'met' if by['screen-csv']['seconds'] < goal else 'NOT met'})")
        if "screen-csv-reports" in by:
            s = by["screen-csv-reports"]["seconds"]
            print(f"CSV end to end with reports: {s:.1f} s (goal < {goal:.0f} s: {'met' if s < goal else 'NOT met'})")
        r2 = by["openpyxl"]["seconds"] / by["calamine"]["seconds"]
        print(f"xlsx reading (the goal): psyscreen.screening.read_export (calamine) {by['calamine']['seconds']:.1f} s "
              f"vs openpyxl {by['openpyxl']['seconds']:.1f} s: {r2:.1f}x (goal >= 8x: {'met' if r2 >= 8 else 'NOT met'})")
        ratio = by["openpyxl"]["seconds"] / by["screen-xlsx"]["seconds"]
        print(f"xlsx end to end (for information): screen from xlsx, tables only, {by['screen-xlsx']['seconds']:.1f} s; "
              f"openpyxl alone needs {by['openpyxl']['seconds']:.1f} s just to read the files ({ratio:.1f}x)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _side_by_side(args, tmp: Path, info: dict) -> None:
    """Time this checkout and git commit ``args.baseline`` alternately on one county; print new/old ratios."""
    repo = Path(__file__).resolve().parents[1]
    old = tmp / "baseline"
    subprocess.run(["git", "-C", str(repo), "worktree", "add", "--detach", "-q", str(old), args.baseline], check=True)
    try:
        print(f"county: {info['students']:,} students in {info['files']} CSV files; "
              f"baseline {args.baseline} against this checkout, {args.rounds} alternating round(s)")
        print(f"machine: {os.cpu_count()} CPU(s); load average before: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
        phases = ["screen-csv"] + ([] if args.skip_reports else ["screen-csv-reports"])
        for kind in phases:
            times = {"old": [], "new": []}
            for k in range(args.rounds):
                for label, src in (("old", old / "src"), ("new", repo / "src")):
                    out = tmp / f"out-{kind}-{label}-{k}"
                    r = _run_child(kind, tmp / "data", out, src)
                    times[label].append(r["seconds"])
                    shutil.rmtree(out, ignore_errors=True)
                    print(f"  {kind:20s} {label}  {r['seconds']:8.1f} s   peak RSS {r['peak_rss_mb']:8.1f} MB")
            best_old, best_new = min(times["old"]), min(times["new"])
            print(f"{kind}: best of {args.rounds}: baseline {best_old:.1f} s, this checkout {best_new:.1f} s "
                  f"(new/old {best_new / best_old:.2f})")
        print(f"load average after: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        subprocess.run(["git", "-C", str(repo), "worktree", "remove", "--force", str(old)], check=False)


if __name__ == "__main__":
    main()
