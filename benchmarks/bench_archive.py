"""Benchmark: ten waves of 300,000 students into the growth-file store, then a history and a compare.

Run: ``python benchmarks/bench_archive.py [--students 300000] [--waves 10] [--dir /tmp/bench_archive]``.
Each wave folder is built the way ``psyscreen screen`` writes it (students.parquet with scores, bands, levels and
reasons from psyscreen.score + psyscreen.classify("default"); answers.parquet with the PHQ-9 and GAD-7 answers),
from a synthetic county where each wave keeps its students (trait stability 0.7), about 8 % leave and as many
arrive. Building the folders is timed apart from the imports. Prints times and the store's size.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import time
from pathlib import Path

import numpy as np
import pandas as pd

import psyscreen
from psyscreen import archive
from psyscreen.synthetic import next_wave, simulate_answers, simulate_students

INSTRUMENTS = ["phq9", "gad7"]


def wave_dir(folder: Path, wave: str, roster: pd.DataFrame, seed: int) -> Path:
    answers = simulate_answers(roster, INSTRUMENTS, seed=seed, missing_rate=0.002)
    scores = psyscreen.score(answers, INSTRUMENTS)
    cl = psyscreen.classify(scores, "default", answers=answers)
    students = pd.DataFrame({
        "student_key": roster["student_id"].astype(str).to_numpy(), "school": roster["school"].to_numpy(),
        "grade": roster["grade"].astype(int).to_numpy(), "class": roster["class"].astype(str).to_numpy(),
        "sex": np.where(roster["sex"] == "女", "F", "M"), "wave": wave}, index=roster.index)
    students = pd.concat([students, scores.drop(columns=["phq9.critical_items"]),
                          cl[["level_rank", "reasons", "critical"]]], axis=1)
    students.insert(len(students.columns) - 3, "level", cl["level"].astype(str))
    students["careless_longstring"] = False
    students["careless_fast"] = False
    folder.mkdir(parents=True, exist_ok=True)
    students.to_parquet(folder / "students.parquet", index=False)
    pd.concat([students[["student_key", "wave"]], answers], axis=1).to_parquet(folder / "answers.parquet", index=False)
    n = len(students)
    manifest = {"tool": {"name": "psyscreen", "version": psyscreen.__version__}, "wave": wave,
                "created": f"{wave}-20T10:00:00+08:00",
                "protocol": {"id": "default", "version": "1.0", "sha256": "-"},
                "instruments": [{"id": i, "version": "1.0", "sha256": "-"} for i in INSTRUMENTS],
                "inputs": [], "totals": {"rows": n, "scored": n, "quarantined": 0, "duplicates": 0},
                "levels": students["level"].value_counts().to_dict(), "pseudonymised": False,
                "outputs": ["students.parquet", "answers.parquet"]}
    (folder / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, default=int))
    return folder


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--students", type=int, default=300_000)
    ap.add_argument("--waves", type=int, default=10)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/bench_archive"))
    args = ap.parse_args()
    root = args.dir
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    schools = [f"第{i}中学" for i in range(1, 41)]
    labels = [f"{2026 + i // 2}-{'03' if i % 2 == 0 else '09'}" for i in range(args.waves)]

    t0 = time.perf_counter()
    roster = simulate_students(args.students, seed=1, schools=schools, grades=range(4, 13))
    dirs = []
    for i, label in enumerate(labels):
        if i:
            roster = next_wave(roster, seed=100 + i, promote=False)
            leave = np.random.default_rng(200 + i).random(len(roster)) < 0.08
            fresh = simulate_students(int(leave.sum()), seed=300 + i, schools=schools, grades=range(4, 13))
            fresh["student_id"] = "N" + str(i) + "-" + fresh["student_id"]
            roster = pd.concat([roster[~leave], fresh], ignore_index=True)
        dirs.append(wave_dir(root / label, label, roster, seed=10 + i))
    t_build = time.perf_counter() - t0
    print(f"built {len(dirs)} wave folders of {args.students:,} students in {t_build:.1f} s (not part of the store)")

    db = root / "county.db"
    times = []
    for d in dirs:
        res = archive.import_wave(d, db)
        times.append(res.seconds)
        print(f"  {res}")
    t_again = time.perf_counter()
    again = archive.import_wave(dirs[-1], db)
    t_again = time.perf_counter() - t_again
    assert again.status == "already imported"
    with sqlite3.connect(db) as con:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                  for t in ("students", "screenings", "scores", "answers")}
    size = db.stat().st_size

    last = pd.read_parquet(dirs[-1] / "students.parquet", columns=["student_key"])["student_key"]
    key = last[~last.str.startswith("N")].iloc[len(last) // 3]  # a student screened in every wave
    t1 = time.perf_counter()
    h = archive.history(db, key)
    t_hist = time.perf_counter() - t1
    t1 = time.perf_counter()
    cmp = archive.compare(db, labels[-2], labels[-1])
    t_cmp = time.perf_counter() - t1
    t1 = time.perf_counter()
    files = archive.write_comparison(cmp, root / "compare")
    t_write = time.perf_counter() - t1
    t1 = time.perf_counter()
    tr = archive.test_retest(db, ["phq9.total"])
    t_tr = time.perf_counter() - t1

    print()
    print(f"imports: {len(times)} waves, total {sum(times):.1f} s, mean {np.mean(times):.1f} s, "
          f"max {max(times):.1f} s per wave")
    print(f"re-import of a wave already there: {t_again:.2f} s (nothing added)")
    print(f"rows: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    print(f"store size: {size / 2**20:.0f} MiB ({size / counts['screenings']:.0f} bytes per student x wave)")
    print(f"history of one student ({len(h.timeline)} waves): {t_hist * 1000:.1f} ms")
    print(f"compare {labels[-2]} -> {labels[-1]} ({len(cmp.students):,} students, {len(cmp.changes):,} changes): "
          f"{t_cmp:.1f} s; writing {len(files)} workbooks: {t_write:.1f} s")
    print(f"test-retest of phq9.total over {len(tr.table)} wave pairs: {t_tr:.1f} s "
          f"(r {tr.table['r'].mean():.3f}, ICC2 {tr.table['icc2'].mean():.3f})")


if __name__ == "__main__":
    main()
