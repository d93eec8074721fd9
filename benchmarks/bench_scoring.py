"""Scoring speed and memory: psyscreen against a plain numpy matrix product and a per-row pandas apply.

Run ``python benchmarks/bench_scoring.py`` (``make bench``); ``--students`` and ``--items`` change the size
(default 1,000,000 x 100, about 0.8 GB of answers). Prints wall times, the two ratios and peak memory.

* lower bound: ``X @ W`` on a complete float matrix (no validation, no missing data, no reverse keys);
* psyscreen: ``psyscreen.score`` on the same answers as a DataFrame (validation of every answer, reverse
  keys, missing-data rule with prorating, answered counts, bands, reasons);
* obvious alternative: ``DataFrame.apply(score_row, axis=1)`` doing the same per student in Python, timed on
  a sample and scaled to the full cohort.

Goals (issue 2): within 3x of the numpy bound, at least 100x faster than the per-row apply, peak memory under
3x the item matrix.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np
import pandas as pd

import psyscreen
from psyscreen.instrument import Instrument


def make_instrument(n_items: int, n_scales: int) -> Instrument:
    per = n_items // n_scales
    return Instrument.model_validate({
        "id": "bench", "version": "1", "name": {"zh": "基准", "en": "bench"}, "source": "synthetic",
        "licence": {"text_redistributable": False, "note": "synthetic"}, "population": "none",
        "responses": [{"code": c, "zh": str(c), "en": str(c)} for c in range(1, 6)],
        "items": [{"number": i, "reverse": i % 7 == 0} for i in range(1, n_items + 1)],
        "scales": [{"id": f"s{k}", "name": {"zh": f"s{k}", "en": f"s{k}"},
                    "items": [f"{k * per + 1}-{(k + 1) * per}"], "method": "sum",
                    "missing": {"min_answered": per - 2, "prorate": True},
                    "bands": [{"code": "low", "zh": "低", "en": "low", "ge": per, "lt": 3 * per},
                              {"code": "high", "zh": "高", "en": "high", "ge": 3 * per, "le": 5 * per}]}
                   for k in range(n_scales)],
    })


def score_row(row: pd.Series, inst: Instrument) -> pd.Series:
    """The obvious per-student implementation of the same rules."""
    out = {}
    for s in inst.scales:
        vals = []
        for n in s.item_numbers:
            x = row[f"bench.{n}"]
            if not np.isnan(x):
                vals.append(6 - x if inst.item(n).reverse else x)
        out[s.id] = np.mean(vals) * len(s.item_numbers) if len(vals) >= s.min_answered else np.nan
    return pd.Series(out)


def best_of(repeats: int, fn) -> float:
    """The fastest of a few runs (the least disturbed by other work on the machine)."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description="psyscreen scoring benchmark")
    ap.add_argument("--students", type=int, default=1_000_000)
    ap.add_argument("--items", type=int, default=100)
    ap.add_argument("--scales", type=int, default=10)
    ap.add_argument("--apply-sample", type=int, default=2_000)
    args = ap.parse_args()
    n, k = args.students, args.items
    inst = make_instrument(k, args.scales)
    rng = np.random.default_rng(0)
    X = rng.integers(1, 6, (n, k)).astype(float)
    X[rng.random((n, k)) < 0.002] = np.nan
    frame = pd.DataFrame(X, columns=[f"bench.{i}" for i in range(1, k + 1)])
    matrix_bytes = X.nbytes
    W = np.zeros((k, args.scales))
    for j, s in enumerate(inst.scales):
        W[[i - 1 for i in s.item_numbers], j] = 1
    complete = np.nan_to_num(X, nan=3.0)
    del X

    t_numpy = best_of(3, lambda: complete @ W)
    del complete
    t_ours = best_of(3, lambda: psyscreen.score(frame, inst))
    tracemalloc.start()  # a separate run: tracing slows numpy's allocations
    scores = psyscreen.score(frame, inst)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    sample = frame.iloc[: args.apply_sample]
    t0 = time.perf_counter()
    by_row = sample.apply(score_row, axis=1, inst=inst)
    t_apply = (time.perf_counter() - t0) * n / len(sample)
    np.testing.assert_allclose(by_row.to_numpy(), scores.iloc[: len(sample)][[f"bench.{s.id}" for s in inst.scales]].to_numpy())

    print(f"{n:,} students x {k} items ({matrix_bytes / 2**20:,.0f} MiB of answers), {args.scales} scales")
    print(f"numpy X @ W (lower bound)      {t_numpy:8.2f} s")
    print(f"psyscreen.score                {t_ours:8.2f} s   {t_ours / t_numpy:6.1f} x the numpy bound (goal <= 3)")
    print(f"per-row pandas apply (scaled)  {t_apply:8.1f} s   psyscreen is {t_apply / t_ours:,.0f} x faster (goal >= 100)")
    print(f"peak memory in psyscreen.score {peak / 2**20:8,.0f} MiB = {peak / matrix_bytes:.2f} x the item matrix (goal < 3)")


if __name__ == "__main__":
    main()
