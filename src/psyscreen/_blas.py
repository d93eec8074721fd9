"""One BLAS thread for the small-matrix loops of the factor-analysis fits (EFA, omega, CFA).

The fits repeat eigen-decompositions, inverses and products of p x p matrices (p items, usually < 100)
hundreds of times. A multi-threaded BLAS (OpenBLAS, MKL) starts its thread pool for each of these tiny
calls; on a machine whose cores are busy the threads wait for one another and an EFA of 5,000 x 30 answers
takes 0.3-0.7 s instead of 0.03 s with one thread (``benchmarks/bench_efa_threads.py`` measures it).
:func:`small_blas` limits BLAS to one thread (threadpoolctl) for the duration of such a fit and restores the
previous limits after it; for large matrices (``p >= SMALL_P``) it leaves BLAS alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from threadpoolctl import ThreadpoolController

__all__ = ["SMALL_P", "small_blas"]

SMALL_P = 200  # matrices at least this wide gain from BLAS threads
_controller: ThreadpoolController | None = None  # finding the BLAS libraries takes ~5 ms: once per process


def _blas() -> ThreadpoolController:
    global _controller
    if _controller is None:
        _controller = ThreadpoolController()
    return _controller


@contextmanager
def small_blas(p: int | None = None) -> Iterator[None]:
    """Run the block with one BLAS thread when the matrices are small (``p < SMALL_P`` or ``p`` unknown).

    Examples
    --------
    >>> import numpy as np
    >>> with small_blas(30):
    ...     float(np.linalg.eigvalsh(np.eye(3)).sum())
    3.0
    """
    if p is not None and p >= SMALL_P:
        yield
        return
    with _blas().limit(limits=1, user_api="blas"):
        yield
