"""Exact best-subset search (psyscreen.best_subsets, leaps and bounds) against brute-force enumeration of every
subset; against leaps::regsubsets through cNORM's stored selections in tests/test_cnorm.py."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from psyscreen.best_subsets import SubsetSearchError, best_subsets
from psyscreen.norms_continuous import _design, all_terms


def _brute(X, y, nbest, w=None):
    """Every subset by its own least-squares fit (with an intercept): the nbest smallest RSS per size."""
    w = np.ones(y.size) if w is None else w
    sw = np.sqrt(w)
    out = {}
    for s in range(1, X.shape[1] + 1):
        fits = []
        for c in itertools.combinations(range(X.shape[1]), s):
            Z = np.column_stack([np.ones(y.size), X[:, c]]) * sw[:, None]
            b = np.linalg.lstsq(Z, y * sw, rcond=None)[0]
            r = y * sw - Z @ b
            fits.append((float(r @ r), c))
        fits.sort()
        out[s] = fits[:nbest]
    return out


def _assert_same(res, brute):
    for s, want in brute.items():
        assert res.subsets[s] == [c for _, c in want], s
        np.testing.assert_allclose(res.rss[s], [r for r, _ in want], rtol=1e-9)


@pytest.mark.parametrize("seed, p", [(1, 10), (2, 11), (3, 12), (4, 12)])
@pytest.mark.parametrize("nbest", [1, 5])
def test_equals_brute_force_on_random_correlated_problems(seed, p, nbest):
    rng = np.random.default_rng(seed)
    n = 40
    X = rng.normal(size=(n, p)) @ rng.normal(size=(p, p)) * 0.5 + rng.normal(size=(n, p))
    y = X[:, :3] @ rng.normal(size=3) + 2 * rng.normal(size=n)
    res = best_subsets(X, y, nbest=nbest)
    _assert_same(res, _brute(X, y, nbest))
    assert res.nodes < 2 ** p  # it cuts the tree: fewer nodes expanded than subsets exist
    np.testing.assert_allclose(res.r2(1), 1 - res.rss[1] / (((y - y.mean()) ** 2).sum()))


def test_equals_brute_force_on_an_ill_conditioned_weighted_taylor_design():
    # the design cNORM uses (powers of location and age and their products: k = 2, t = 3 -> 11 terms), weighted
    rng = np.random.default_rng(5)
    n = 600
    age = rng.integers(4, 13, n).astype(float)
    L = 50 + 10 * rng.normal(size=n)
    y = np.clip(np.round(0.02 * np.clip(L - 20, 0, None) ** 1.6 + 0.4 * age + rng.normal(size=n)), 0, None)
    w = rng.uniform(0.5, 2.0, n)
    X = _design(L, age, all_terms(2, 3))
    res = best_subsets(X, y, nbest=3, weights=w)
    _assert_same(res, _brute(X, y, 3, w))


def test_only_the_sizes_asked_for_and_errors():
    rng = np.random.default_rng(6)
    X = rng.normal(size=(30, 8))
    y = X[:, 0] + rng.normal(size=30)
    res = best_subsets(X, y, nbest=2, sizes=[3, 5])
    assert set(res.subsets) == {3, 5}
    brute = _brute(X, y, 2)
    assert res.subsets[3] == [c for _, c in brute[3]] and res.subsets[5] == [c for _, c in brute[5]]
    assert best_subsets(X, y, nbest=4).subsets[8] == [tuple(range(8))]  # fewer subsets than nbest exist
    with pytest.raises(SubsetSearchError, match="rank deficient"):
        best_subsets(np.column_stack([X, X[:, 1] + X[:, 2]]), y)
    with pytest.raises(SubsetSearchError, match="constant"):
        best_subsets(np.column_stack([X, np.ones(30)]), y)
    with pytest.raises(SubsetSearchError, match="finite"):
        best_subsets(X, np.where(np.arange(30) == 3, np.nan, y))
    with pytest.raises(SubsetSearchError, match="between 1 and 8"):
        best_subsets(X, y, sizes=[9])


def test_a_node_budget_keeps_the_large_sizes_exact_and_marks_the_rest():
    rng = np.random.default_rng(7)
    n, p = 60, 12
    X = rng.normal(size=(n, p)) @ rng.normal(size=(p, p)) * 0.5 + rng.normal(size=(n, p))
    y = X[:, :4] @ rng.normal(size=4) + rng.normal(size=n)
    res = best_subsets(X, y, nbest=3, max_nodes=40)
    brute = _brute(X, y, 3)
    assert res.approximate and max(res.approximate) < p  # stopped, after the largest sizes were final
    for s in range(1, p + 1):
        if s in res.approximate:  # local search: real subsets with their true RSS, never better than the best
            own = [_brute(X[:, list(c)], y, 1)[s][0][0] for c in res.subsets[s]]
            np.testing.assert_allclose(res.rss[s], own, rtol=1e-9)
            assert len(set(res.subsets[s])) == 3 and res.rss[s][0] >= brute[s][0][0] * (1 - 1e-9)
        else:
            assert res.subsets[s] == [c for _, c in brute[s]]
    assert best_subsets(X, y, nbest=3).approximate == ()
