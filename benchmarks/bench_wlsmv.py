"""Benchmark: polychoric statistics + WLSMV CFA on 5,000 students x 20 four-point items, against lavaan.

Run: ``python benchmarks/bench_wlsmv.py``. The data (benchmarks/data/wlsmv_5000x20.csv, 4 factors x 5
items) and lavaan 0.6.14's time for ``cfa(model, data, ordered = items, estimator = "WLSMV")`` on them
(median of 3 runs) come from benchmarks/data/bench_wlsmv_lavaan.R, stored in bench_wlsmv_lavaan.json.
Prints psyscreen's time (median of 3 runs; the sample statistics apart, and within them the 190 pairwise
polychoric fits, done all at once), the ratio to lavaan's time, peak traced Python memory, and checks that
both fits agree (scaled chi-square, scaled CFI).
"""

from __future__ import annotations

import json
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

from psyscreen.validity import cfa
from psyscreen.validity._ordinal_stats import _pairs, ordinal_stats, polychoric_pairs
from psyscreen.validity._wls import one_blas_thread

HERE = Path(__file__).resolve().parent / "data"


def main() -> None:
    ref = json.loads((HERE / "bench_wlsmv_lavaan.json").read_text())
    data = pd.read_csv(HERE / "wlsmv_5000x20.csv")
    codes = np.column_stack([pd.Categorical(data[c]).codes for c in data.columns])
    st = ordinal_stats(codes)
    k = int(codes.max()) + 1
    pi, pj = _pairs(codes.shape[1])
    tables = np.stack([np.bincount(codes[:, i] * k + codes[:, j], minlength=k * k).reshape(k, k) for i, j in
                       zip(pi, pj)])
    ths = [st.th[st.th_item == i] for i in range(codes.shape[1])]
    t_stats, t_all, t_poly = [], [], []
    for _ in range(3):
        t0 = time.perf_counter()
        polychoric_pairs(tables, [ths[i] for i in pi], [ths[j] for j in pj])
        t_poly.append(time.perf_counter() - t0)
        with one_blas_thread():  # as cfa(ordered=) runs them
            t0 = time.perf_counter()
            ordinal_stats(codes)
            t_stats.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        res = cfa(data, ref["model"], ordered=True)
        t_all.append(time.perf_counter() - t0)
    tracemalloc.start()
    cfa(data, ref["model"], ordered=True)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    ours, theirs = float(np.median(t_all)), float(ref["lavaan_seconds"])
    print(f"data: {len(data)} students x {data.shape[1]} items; model: 4 factors")
    print(f"sample statistics (thresholds, polychoric, Gamma): {np.median(t_stats):.2f} s, of which the "
          f"{len(pi)} polychoric fits {np.median(t_poly):.3f} s")
    print(f"psyscreen cfa(ordered=True) WLSMV: {ours:.2f} s; lavaan {ref['lavaan_version']}: {theirs:.2f} s; "
          f"ratio psyscreen/lavaan = {ours / theirs:.2f}")
    print(f"peak traced Python memory: {peak / 2**20:.1f} MiB")
    print(f"chisq.scaled {res.fit['chisq.scaled']:.4f} (lavaan {ref['chisq_scaled']:.4f}); "
          f"cfi.scaled {res.fit['cfi.scaled']:.4f} (lavaan {ref['cfi_scaled']:.4f})")


if __name__ == "__main__":
    main()
