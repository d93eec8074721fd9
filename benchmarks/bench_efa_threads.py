"""EFA with one BLAS thread (psyscreen._blas.small_blas) against the same EFA with BLAS's own thread count.

Run ``python benchmarks/bench_efa_threads.py [--rows 5000] [--items 30] [--factors 5] [--repeat 20] [--busy 0]``.
The fits repeat small p x p eigen-decompositions; a multi-threaded BLAS wakes its threads for each of them, which
costs most when the cores are busy with other work. ``--busy N`` starts N processes that spin for the length of the
run (a shared machine), and stops them at the end. Prints the median time per EFA with and without the limit, the
ratio, and the BLAS libraries threadpoolctl sees.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import multiprocessing as mp
import statistics
import time

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_info

efa_module = importlib.import_module("psyscreen.validity.efa")  # the module (the package exports the function)


def _spin(stop) -> None:
    x = 0
    while not stop.is_set():
        x += 1


def _data(rows: int, items: int, factors: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    per = items // factors
    pattern = np.zeros((factors, items))
    for f in range(factors):
        pattern[f, f * per:(f + 1) * per] = 0.7
    x = rng.normal(size=(rows, factors)) @ pattern + rng.normal(scale=0.7, size=(rows, items))
    answers = np.clip(np.round(2 + x), 0, 4)  # 5-point items
    return pd.DataFrame(answers, columns=[f"i{j + 1}" for j in range(items)])


def _time(data: pd.DataFrame, factors: int, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        efa_module.efa(data, factors)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=5000)
    ap.add_argument("--items", type=int, default=30)
    ap.add_argument("--factors", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--busy", type=int, default=0, help="spinning processes to start beside the benchmark")
    args = ap.parse_args()

    data = _data(args.rows, args.items, args.factors)
    blas = [(p["internal_api"], p["num_threads"]) for p in threadpool_info() if p["user_api"] == "blas"]
    print(f"EFA of {args.rows:,} x {args.items} answers, {args.factors} factors (minres, oblimin); "
          f"BLAS {blas}; {args.busy} busy process(es); median of {args.repeat}")

    stop = mp.Event()
    spinners = [mp.Process(target=_spin, args=(stop,), daemon=True) for _ in range(args.busy)]
    for p in spinners:
        p.start()
    try:
        efa_module.efa(data, args.factors)  # warm-up
        limited = _time(data, args.factors, args.repeat)
        original = efa_module.small_blas
        efa_module.small_blas = lambda p=None: contextlib.nullcontext()  # BLAS keeps its own threads
        try:
            unlimited = _time(data, args.factors, args.repeat)
        finally:
            efa_module.small_blas = original
    finally:
        stop.set()
        for p in spinners:
            p.join(timeout=5)

    print(f"one BLAS thread (psyscreen) : {limited * 1000:8.1f} ms per EFA")
    print(f"BLAS's own threads          : {unlimited * 1000:8.1f} ms per EFA")
    print(f"ratio (own threads / one)   : {unlimited / limited:8.2f}")


if __name__ == "__main__":
    main()
