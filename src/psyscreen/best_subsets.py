"""Exact best-subset regression by branch and bound (Furnival & Wilson's leaps and bounds).

For a response ``y`` and ``p`` candidate columns ``X`` (with an intercept always in the model), find for
every number of terms ``s = 1..p`` the ``nbest`` subsets with the smallest residual sum of squares (the
largest R2). This is what R's ``leaps::regsubsets(method = "exhaustive", nbest = , nvmax = p,
really.big = TRUE)`` returns, and what cNORM's ``bestModel`` builds its model choice on.

Why this module exists: no Python library has an exact best-subset search (scikit-learn and statsmodels
offer stepwise or penalised selection, which may miss the best subset), and enumerating all ``2^p``
subsets is too slow for cNORM's default of 23 candidate terms (8.4 million subsets, about 100 s).

Method (G. M. Furnival & R. W. Wilson 1974, "Regressions by leaps and bounds", *Technometrics* 16:
499-511; in the drop-one tree form of C. Gatu & E. J. Kontoghiorghes 2006, *J. Comput. Graph. Stat.* 15:
139-156): the RSS of a subset never falls when terms are dropped, so the RSS of a set ``V`` bounds that of
every subset of ``V``. A node of the search tree is an ordered set ``V`` whose first ``k`` terms are fixed;
its subtree holds every subset of ``V`` that keeps those ``k``; its children drop one free term each
(dropping the ``i``-th free term fixes the free terms before it), so every subset is visited once. A child
is searched only if its RSS is below the ``nbest``-th best RSS found so far for some size its subtree can
still reach; the rest of the tree is cut off, which is exact. At each node the drop-one RSS increases of all
free terms come at once from the triangular factor (``b_i^2 / [(X'X)^-1]_ii``), and the free terms are
ordered by them, largest first, so the large subtrees are the ones that lose the most important term and
are cut early (the "ordering" of Furnival & Wilson). A node's triangular factor ``R`` and rotated response
``Q'y`` come from a QR of the columns of its set in the full model's factor (the numerically stable route;
the normal equations are too ill-conditioned for high-order polynomial terms, whose scaled design has a
condition number near 1e8). Unlike the depth-first original, the tree is searched level by level: all nodes
of one size and number of fixed terms are factored together (batched LAPACK calls), and good subsets of
every size are found first by two beam searches, so that the cuts work from the start. The order
of the search changes only how much is cut, never the result.

Ties: subsets are ranked by RSS, and subsets whose RSS are equal as floating-point numbers by their sorted
column indices (lexicographically smaller first). The search cuts a subtree only when its bound exceeds the
threshold by a relative 1e-10, so subsets tied to that precision are never lost to the cut; a tie to fewer
digits than that is decided by rounding, as in ``regsubsets``.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from scipy.linalg import solve_triangular

__all__ = ["BestSubsets", "best_subsets", "iter_best_subsets", "SubsetSearchError"]

_RTOL = 1e-10  # a subtree is cut only when its bound exceeds the threshold by this relative margin
_FTOL = 1e-6  # the same for the drop-one formula's bound (less accurate than a QR)


class SubsetSearchError(ValueError):
    """The best-subset search cannot be done on these data (rank deficient design, bad arguments)."""


@dataclass(frozen=True)
class BestSubsets:
    """Result of :func:`best_subsets`.

    Attributes
    ----------
    subsets : dict
        ``{size: list of tuples}``: the ``nbest`` best subsets of each size searched, best first, each a
        sorted tuple of column indices (fewer than ``nbest`` when fewer subsets of that size exist).
    rss : dict
        ``{size: ndarray}``: their residual sums of squares.
    tss : float
        Total sum of squares about the (weighted) mean: ``R2 = 1 - rss / tss``.
    nodes : int
        Number of nodes of the search tree expanded (a measure of the work done).
    approximate : tuple of int
        Sizes found by local search because ``max_nodes`` was reached (empty: every size is exact).
    """

    subsets: dict
    rss: dict
    tss: float
    nodes: int
    approximate: tuple = ()

    def r2(self, size: int) -> np.ndarray:
        """R2 of the best subsets of ``size`` terms."""
        return 1.0 - self.rss[size] / self.tss


def _reduce(X: np.ndarray, y: np.ndarray, w: np.ndarray | None, intercept: bool):
    """Centre (weighted) and scale the columns; return the triangular factor, rotated response, RSS of the
    full model and the TSS."""
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    if X.ndim != 2 or y.ndim != 1 or X.shape[0] != y.size:
        raise SubsetSearchError(f"X must be (n, p) and y (n,) (got {X.shape} and {y.shape}).")
    w = np.ones(y.size) if w is None else np.asarray(w, dtype=float)
    if not (np.isfinite(X).all() and np.isfinite(y).all() and np.isfinite(w).all()) or (w <= 0).any():
        raise SubsetSearchError("X, y and the weights must be finite (drop the cases with missing values) and the "
                                "weights positive.")
    sw = np.sqrt(w)
    if intercept:
        X = X - (w @ X) / w.sum()
        y = y - (w @ y) / w.sum()
    Xc = X * sw[:, None]
    yc = y * sw
    norms = np.sqrt((Xc ** 2).sum(0))
    if (norms == 0).any():
        raise SubsetSearchError(f"columns {np.flatnonzero(norms == 0).tolist()} are constant: drop them.")
    Q, R = np.linalg.qr(Xc / norms)
    d = np.abs(np.diag(R))
    if d.min() <= 1e-10 * d.max():
        raise SubsetSearchError("the design is rank deficient (a column is a combination of others): drop "
                                "the redundant columns.")
    z = Q.T @ yc
    res = yc - Q @ z
    return R, z, float(res @ res), float(yc @ yc)


def best_subsets(X, y, *, nbest: int = 1, sizes: Iterable[int] | None = None, weights=None,
                 intercept: bool = True, max_nodes: int | None = None) -> BestSubsets:
    """The ``nbest`` subsets of columns of ``X`` with the smallest RSS, for every number of columns.

    Exact (branch and bound, see the module docstring); equals R's ``leaps::regsubsets(x, y,
    method = "exhaustive", nbest = nbest, nvmax = p, really.big = TRUE)`` (with ``weights`` its ``weights``).

    Parameters
    ----------
    X : array (n, p)
        Candidate columns (no intercept column: ``intercept=True`` puts one in every model).
    y : array (n,)
        Response.
    nbest : int
        Subsets kept per size.
    sizes : iterable of int, optional
        Sizes wanted (default ``1..p``); the search does not spend time on the others.
    weights : array (n,), optional
        Case weights (weighted least squares).
    intercept : bool
        Include an intercept in every model (default, as ``regsubsets``).
    max_nodes : int, optional
        A bound on the work (nodes of the search tree factored or waiting). Unbounded by default (exact). When
        it is reached, the sizes not yet final are found by local search instead (the best subsets of a
        forward and a backward beam search, improved by one-in-one-out swaps until no swap helps): good, not
        proven best; they are listed in ``approximate``. The search is from the largest size down, so the
        large sizes are exact first.

    Returns
    -------
    BestSubsets

    Raises
    ------
    SubsetSearchError
        Shapes do not match, a value is missing, a column is constant, or the design is rank deficient.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(50, 5))
    >>> y = X[:, 1] - 2 * X[:, 3] + rng.normal(size=50)
    >>> res = best_subsets(X, y)
    >>> res.subsets[1], res.subsets[2]
    ([(3,)], [(1, 3)])
    """
    R, z, rss_full, tss, want = _prepare(X, y, nbest, sizes, weights, intercept)
    sub, rss, nodes = {}, {}, 0
    approx = []
    for s, best, nodes, exact in _leaps(R, z, rss_full, nbest, want, max_nodes):
        sub[s], rss[s] = [c for _, c in best], np.array([r for r, _ in best])
        if not exact:
            approx.append(s)
    return BestSubsets(sub, rss, tss, nodes, tuple(sorted(approx)))


def iter_best_subsets(X, y, *, nbest: int = 1, sizes: Iterable[int] | None = None, weights=None,
                      intercept: bool = True, max_nodes: int | None = None):
    """:func:`best_subsets` one size at a time, from the largest down, each as soon as it is final.

    The search is level by level, so the best subsets of ``s`` terms are known (exactly) before the smaller
    sizes are searched: a caller that needs only the largest sizes (cNORM's "highest consistent model")
    stops early and saves the rest of the search.

    Yields
    ------
    (size, subsets, r2, exact)
        ``subsets`` a list of sorted tuples of column indices (best first), ``r2`` their R2, ``exact`` False
        for a size found by local search after ``max_nodes`` was reached (see :func:`best_subsets`).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(50, 5))
    >>> y = X[:, 1] - 2 * X[:, 3] + rng.normal(size=50)
    >>> [s for s, _, _, _ in iter_best_subsets(X, y, sizes=[2, 4])]
    [4, 2]
    """
    R, z, rss_full, tss, want = _prepare(X, y, nbest, sizes, weights, intercept)
    for s, best, _, exact in _leaps(R, z, rss_full, nbest, want, max_nodes):
        yield s, [c for _, c in best], 1.0 - np.array([r for r, _ in best]) / tss, exact


def _prepare(X, y, nbest, sizes, weights, intercept):
    if nbest < 1:
        raise SubsetSearchError(f"nbest must be >= 1 (got {nbest}).")
    R, z, rss_full, tss = _reduce(X, y, weights, intercept)
    p = R.shape[0]
    want = np.zeros(p + 1, dtype=bool)
    for s in (range(1, p + 1) if sizes is None else sizes):
        if not 1 <= int(s) <= p:
            raise SubsetSearchError(f"size {s} is not between 1 and {p}.")
        want[int(s)] = True
    return R, z, rss_full, tss, want


def _rss_batch(M: np.ndarray, cols: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """Exact RSS of each subset (rows of ``cols``) from the augmented factor ``M = [[R, z], [0, sqrt(rss)]]``."""
    p = M.shape[1] - 1
    out = np.empty(len(cols))
    for lo in range(0, len(cols), chunk):
        c = cols[lo:lo + chunk]
        A = np.moveaxis(M[:, np.column_stack([c, np.full(len(c), p)])], 1, 0)
        r = np.linalg.qr(A, mode="r")
        out[lo:lo + chunk] = r[:, c.shape[1], c.shape[1]] ** 2
    return out


def _leaps(R: np.ndarray, z: np.ndarray, rss_full: float, nbest: int, want: np.ndarray, max_nodes: int | None):
    """Branch and bound over the drop-one tree, level by level (all nodes of one size and number of fixed terms
    are processed together, vectorised); thresholds are seeded by beam searches first. Yields
    ``(size, [(rss, cols), ...], nodes so far, exact)`` for each size wanted as soon as it is final (from p down).
    Past ``max_nodes`` nodes (factored or waiting) the exact search stops; the sizes not yet final are then
    the beam searches' best, improved by one-in-one-out swaps until no swap helps (``exact`` False)."""
    p = R.shape[0]
    M = np.zeros((p + 1, p + 1))
    M[:p, :p], M[:p, p], M[p, p] = R, z, np.sqrt(rss_full)
    found: list[list] = [[] for _ in range(p + 1)]  # per size: sorted [(rss, cols)], at most nbest
    thr = np.where(want, np.inf, -np.inf)  # the nbest-th best RSS so far (inf: fewer found; -inf: not wanted)

    def record(s: int, rss: float, cols: tuple) -> None:
        lst = found[s]
        if not want[s] or rss > thr[s] or any(c == cols for _, c in lst):
            return
        bisect.insort(lst, (rss, cols))
        if len(lst) > nbest:
            lst.pop()
        if len(lst) == nbest:
            thr[s] = lst[-1][0]

    def record_many(cols: np.ndarray, rss: np.ndarray) -> None:
        s = cols.shape[1]
        for i in np.flatnonzero(rss <= thr[s]):
            record(s, float(rss[i]), tuple(sorted(cols[i].tolist())))

    _seed(M, p, nbest, want, record_many)
    frontier: dict[int, list] = {0: [np.arange(p, dtype=np.int16)[None, :]]}
    nodes = work = 0
    budget = np.inf if max_nodes is None else max_nodes
    for m in range(p, 0, -1):
        if not want[1:m + 1].any():
            return
        nxt: dict[int, list] = {}
        stop = m
        if work + sum(len(v) for f in frontier.values() for v in f) > budget:
            break
        for k in sorted(frontier):
            if work > budget:
                break
            allV = np.concatenate(frontier[k])
            for lo_ in range(0, len(allV), 2048):
                if work > budget:
                    break
                Vs = allV[lo_:lo_ + 2048]
                n = len(Vs)
                A = np.moveaxis(M[:, np.column_stack([Vs, np.full(n, p)])], 1, 0)
                Ra = np.linalg.qr(A, mode="r")
                rss = Ra[:, m, m] ** 2
                record_many(Vs, rss)
                work += n
                lo = max(k, 1)
                if lo > m - 1:
                    continue
                go = (rss[:, None] * (1 - _RTOL) < thr[None, lo:m]).any(1)
                if not go.any():
                    continue
                Vs, Ra, rss = Vs[go], Ra[go], rss[go]
                nodes += len(Vs)
                Rinv = np.linalg.inv(Ra[:, :m, :m])
                beta = np.einsum("nij,nj->ni", Rinv, Ra[:, :m, m])
                drop = beta[:, k:] ** 2 / (Rinv[:, k:, :] ** 2).sum(2)  # RSS increase when a free term is dropped
                order = np.argsort(-drop, axis=1, kind="stable")
                free = k + order
                child = rss[:, None] + np.take_along_axis(drop, order, 1)
                # child i drops free[i] and fixes free[:i]: sizes k+i (>= 1) .. m-1 (itself) can still improve
                top = np.maximum.accumulate(thr[k:m][::-1])[::-1]
                push = child * (1 - _FTOL) < top[None, :]
                for i in np.flatnonzero(push.any(0)):
                    rows = np.flatnonzero(push[:, i])
                    idx = np.concatenate([np.broadcast_to(np.arange(k), (rows.size, k)), free[rows, :i],
                                          free[rows, i + 1:]], axis=1)
                    nxt.setdefault(k + i, []).append(np.take_along_axis(Vs[rows], idx, 1))
                    work += rows.size
        if work > budget:  # this level is not finished: its size is not final
            break
        frontier = nxt
        if want[m]:  # every subset of m terms that could enter the list was a node of this level
            yield m, list(found[m]), nodes, True
    else:
        return
    for s in range(stop, 0, -1):  # the budget is spent: the smaller sizes by local search
        if want[s]:
            _swap_search(M, p, s, found, record_many)
            yield s, list(found[s]), nodes, False


def _swap_search(M: np.ndarray, p: int, s: int, found: list, record_many, rounds: int = 10) -> None:
    """Replace one term of the best subsets of ``s`` terms by one left out, as long as that finds better ones."""
    for _ in range(rounds):
        before = list(found[s])
        cand = []
        for _, c in before:
            out = np.setdiff1d(np.arange(p), c)
            for i in range(s):
                rest = np.delete(np.array(c), i)
                cand.append(np.column_stack([np.tile(rest, (out.size, 1)), out]))
        if not cand:
            return
        c = np.unique(np.sort(np.concatenate(cand), axis=1), axis=0)
        record_many(c, _rss_batch(M, c))
        if found[s] == before:
            return


def _seed(M: np.ndarray, p: int, nbest: int, want: np.ndarray, record_many, beam: int = 20) -> None:
    """Good (not necessarily best) subsets of every size, so that the search cuts from the start: a backward
    and a forward beam search (the ``beam`` best of each size are extended by one term less / more)."""
    cur = np.arange(p)[None, :]
    for s in range(p - 1, 0, -1):
        c = np.unique(np.sort(np.concatenate([np.delete(cur, i, axis=1) for i in range(s + 1)]), axis=1), axis=0)
        r = _rss_batch(M, c)
        cur = c[np.argsort(r, kind="stable")[:beam]]
        record_many(c, r)
    cur = np.zeros((1, 0), dtype=int)
    for s in range(1, p):
        add = [np.column_stack([np.tile(row, (p - s + 1, 1)), np.setdiff1d(np.arange(p), row)]) for row in cur]
        c = np.unique(np.sort(np.concatenate(add), axis=1), axis=0)
        r = _rss_batch(M, c)
        cur = c[np.argsort(r, kind="stable")[:beam]]
        record_many(c, r)
