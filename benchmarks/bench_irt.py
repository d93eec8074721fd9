"""Benchmark: the graded response model for 20 items x 50,000 simulated students (issue 12).

Run from the repository root::

    PYTHONPATH=src python benchmarks/bench_irt.py [--n 50000] [--threads 2] [--baseline REV] [--baseline-se]

Prints, for ``psyscreen.irt.fit`` (EM, no SEs), the observed-information SEs, EAP scores and the EAPsum table:

* wall and CPU time, measured without tracemalloc (it slows numpy's allocations down);
* peak traced memory, from a separate run of each step under tracemalloc;
* with ``--baseline REV`` (e.g. ``eb4e49e``, the engine before the dense E-step, SQUAREM and the analytic
  Oakes information): the same steps of that git revision, run in a subprocess on the same data, and the
  ratio old / new. ``--baseline-se`` includes the old SEs (two E-steps per parameter: minutes).

BLAS is limited to ``--threads`` threads (threadpoolctl). On a machine whose cores are busy with other work,
``--threads 1`` can be much faster than 2: OpenBLAS threads wait for each other. ../shared/reference/irt gives
no R mirt timing, so there is no ratio to R.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd


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


def steps(data: pd.DataFrame, with_se: bool = True) -> dict:
    """name -> zero-argument callable, in order (each later step reuses the fit of the first)."""
    from psyscreen import irt

    state = {}

    def fit():
        state["res"] = irt.fit(data, "graded", se=False)
        return state["res"]

    def information():
        # what fit(se=True) adds: the observed information at the estimates (and its inverse)
        from psyscreen.irt._estep import collapse
        from psyscreen.irt._model import encode, quadrature
        from psyscreen.irt._se import observed_information

        res = state["res"]
        patterns = [collapse(encode(data).codes, int(res.params.n_cat.max()))]
        info = observed_information(res.structure, res.state, patterns, quadrature(res.quadpts, res.theta_lim)[0])
        return np.linalg.inv(info)

    out = {"fit (EM, no SEs)": fit}
    if with_se:
        out["SEs (Oakes)"] = information
    out["EAP scores"] = lambda: state["res"].scores(data)
    out["EAPsum table"] = lambda: state["res"].eap_sum()
    return out


def measure(n: int, threads: int, with_se: bool = True) -> dict:
    from threadpoolctl import threadpool_limits

    with threadpool_limits(threads):
        data = simulate(n)
        times = {}
        for name, fn in steps(data, with_se).items():
            t0, c0 = time.perf_counter(), time.process_time()
            out = fn()
            times[name] = {"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0}
            if name.startswith("fit (EM"):
                times[name]["cycles"] = int(out.iterations)
                times[name]["loglik"] = float(out.loglik)
        for name, fn in steps(data, with_se).items():  # a second pass for the memory only
            tracemalloc.start()
            fn()
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            times[name]["peak_mib"] = peak / 2**20
    return times


def baseline(rev: str, n: int, threads: int, with_se: bool) -> dict:
    """The same measurement for git revision ``rev`` of psyscreen, in a subprocess."""
    root = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "-C", str(root), "archive", rev, "src"], check=True, capture_output=True)
        subprocess.run(["tar", "-x", "-C", tmp], input=archive.stdout, check=True)
        env = dict(os.environ, PYTHONPATH=str(Path(tmp) / "src"))
        code = (f"import sys, json; sys.path.insert(0, {str(Path(__file__).parent)!r}); import bench_irt as b; "
                f"print(json.dumps(b.measure({n}, {threads}, {with_se})))")
        out = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def show(times: dict, old: dict | None = None) -> None:
    head = f"{'step':<20} {'wall s':>8} {'cpu s':>8} {'peak MiB':>9}"
    if old:
        head += f" {'old wall s':>11} {'old/new':>8}"
    print(head)
    for name, t in times.items():
        line = f"{name:<20} {t['wall']:8.2f} {t['cpu']:8.2f} {t.get('peak_mib', float('nan')):9.1f}"
        if old and name in old:
            line += f" {old[name]['wall']:11.2f} {old[name]['wall'] / t['wall']:8.1f}"
        print(line)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=50_000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--baseline", help="a git revision to compare with (e.g. eb4e49e)")
    ap.add_argument("--baseline-se", action="store_true", help="also time the baseline's SEs (slow)")
    args = ap.parse_args(argv)
    print(f"graded model, 20 items x {args.n:,} students (5 categories, 2% missing), BLAS threads {args.threads}")
    times = measure(args.n, args.threads)
    f = times["fit (EM, no SEs)"]
    print(f"EM: {f['cycles']} cycles, loglik {f['loglik']:.4f}")
    old = None
    if args.baseline:
        old = baseline(args.baseline, args.n, args.threads, args.baseline_se)
        o = old["fit (EM, no SEs)"]
        print(f"baseline {args.baseline}: {o['cycles']} EM cycles, loglik {o['loglik']:.4f}")
    show(times, old)


if __name__ == "__main__":
    main()
