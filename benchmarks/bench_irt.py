"""Benchmark: the graded response model for 20 items x 50,000 simulated students (issue 12).

Run from the repository root: ``PYTHONPATH=src python benchmarks/bench_irt.py [n_students]``. Prints the wall
time and peak traced memory (tracemalloc) of ``psyscreen.irt.fit`` without and with standard errors, and of EAP
scoring, with BLAS limited to 2 threads. ../shared/reference/irt gives no R mirt timing, so no ratio is printed.
"""

from __future__ import annotations

import sys
import time
import tracemalloc

import numpy as np
import pandas as pd

from psyscreen import irt


def simulate(n: int, n_items: int = 20, n_cat: int = 5, seed: int = 2024) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=n)
    a = rng.uniform(0.8, 2.5, n_items)
    d = np.sort(rng.normal(0, 1.2, (n_items, n_cat - 1)), axis=1)[:, ::-1] + np.linspace(1.5, -1.5, n_cat - 1)
    star = 1 / (1 + np.exp(-(a[None, :, None] * theta[:, None, None] + d[None])))
    u = rng.random((n, n_items, 1))
    codes = (u < star).sum(axis=2).astype(float)
    codes[rng.random(codes.shape) < 0.02] = np.nan  # 2% missing answers
    return pd.DataFrame(codes, columns=[f"item{i + 1:02d}" for i in range(n_items)])


def timed(label, fn):
    tracemalloc.start()
    t0 = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"{label:<34} {seconds:8.2f} s   peak {peak / 2**20:8.1f} MiB")
    return out


def main(n: int = 50_000) -> None:
    try:
        from threadpoolctl import threadpool_limits

        limits = threadpool_limits(2)
    except ImportError:  # pragma: no cover
        limits = None
    data = simulate(n)
    print(f"graded model, {data.shape[1]} items x {n:,} students (5 categories, 2% missing), 2 threads")
    res = timed("fit (no SEs)", lambda: irt.fit(data, "graded", se=False))
    print(f"  {res.iterations} EM cycles, loglik {res.loglik:.2f}, converged {res.converged}")
    timed("fit with SEs (observed information)", lambda: irt.fit(data, "graded"))
    timed("EAP scores", lambda: res.scores(data))
    timed("EAPsum table", lambda: res.eap_sum())
    del limits


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50_000)
