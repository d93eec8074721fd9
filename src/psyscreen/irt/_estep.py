"""The E-step: response patterns collapsed once, their likelihoods at the quadrature nodes, expected counts.

Identical response patterns (missing answers included) are collapsed once with their frequencies. Each
pattern is also stored as a dense one-hot row over (item, category) cells -- 1 where item ``j`` was answered
``k``, a missing answer is a row of zeros for that item -- so that both halves of the E-step are one BLAS
matrix product over all patterns and nodes (float64):

* ``log L[p, q] = onehot[p] @ log_trace[:, q]`` (the sum of the answered items' log category probabilities);
* the expected counts ``r[(j, k), q] = onehot.T @ (freq * posterior)``.

No loop runs over persons or patterns. The one-hot matrix costs ``8 * n_patterns * n_items * k_max`` bytes
(40 MB for 50,000 distinct patterns of 20 five-category items); the (patterns, nodes) posterior is the other
large array. Dense products beat a sparse one-hot here: scipy's sparse-dense product is single-threaded and
about ten times slower at this size (benchmarks/bench_irt.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Patterns", "collapse", "pattern_loglik", "estep"]

@dataclass(frozen=True, eq=False)
class Patterns:
    """Unique response patterns ``x`` (int, -1 missing), their frequencies, the row -> pattern map, one-hot rows."""

    x: np.ndarray
    freq: np.ndarray
    inverse: np.ndarray
    onehot: np.ndarray  # (n_patterns, n_items * k_max) float64: 1 where item j answered k

    @property
    def n(self) -> float:
        return float(self.freq.sum())


def _unique_rows(x: np.ndarray, k_max: int):
    """np.unique(x, axis=0) with inverse and counts; rows packed into one int64 key when they fit."""
    n_items = x.shape[1]
    base = k_max + 1
    if n_items * np.log2(base) < 62:
        key = np.zeros(x.shape[0], dtype=np.int64)
        for j in range(n_items):  # a loop over items, vectorised over rows
            key = key * base + (x[:, j].astype(np.int64) + 1)
        _, first, inverse, counts = np.unique(key, return_index=True, return_inverse=True, return_counts=True)
        return x[first], inverse.reshape(-1), counts
    uniq, inverse, counts = np.unique(x, axis=0, return_inverse=True, return_counts=True)
    return uniq, inverse.reshape(-1), counts


def onehot_matrix(x: np.ndarray, k_max: int) -> np.ndarray:
    """Dense (n_patterns, n_items * k_max) indicator of the answered (item, category) cells."""
    n_pat, n_items = x.shape
    out = np.zeros((n_pat, n_items * k_max))
    rows, cols = np.nonzero(x >= 0)
    out[rows, cols * k_max + x[rows, cols]] = 1.0
    return out


def collapse(codes: np.ndarray, k_max: int, weights: np.ndarray | None = None) -> Patterns:
    """Collapse rows of 0..K-1 codes (NaN missing) into unique patterns with frequencies."""
    x = np.where(np.isnan(codes), -1, codes).astype(np.int64)
    uniq, inverse, counts = _unique_rows(x, k_max)
    if weights is None:
        freq = counts.astype(float)
    else:
        freq = np.bincount(inverse, weights=weights, minlength=len(uniq))
    return Patterns(uniq, freq, inverse, onehot_matrix(uniq, k_max))


def _flat(log_trace: np.ndarray) -> np.ndarray:
    """(n_items, n_nodes, k_max) -> (n_items * k_max, n_nodes), rows ordered as the one-hot columns."""
    n_items, n_nodes, k_max = log_trace.shape
    return np.ascontiguousarray(log_trace.transpose(0, 2, 1).reshape(n_items * k_max, n_nodes))


def pattern_loglik(x: np.ndarray, log_trace: np.ndarray, onehot: np.ndarray | None = None) -> np.ndarray:
    """log P(pattern | theta_q) for every pattern and node: shape (n_patterns, n_nodes).

    ``log_trace`` is (n_items, n_nodes, k_max); a missing answer (-1) adds nothing (one BLAS product with the
    patterns' one-hot rows).
    """
    if onehot is None:
        onehot = onehot_matrix(x, log_trace.shape[2])
    return onehot @ _flat(log_trace)


def _safe_log(p: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log(np.clip(p, 1e-300, None))


def estep(patterns: Patterns, probs: np.ndarray, prior: np.ndarray, posterior: bool = True):
    """Posterior over nodes per pattern, the log-likelihood and the expected counts.

    Parameters
    ----------
    patterns : Patterns
    probs : ndarray (n_items, n_nodes, k_max)
        Category trace lines at the nodes.
    prior : ndarray (n_nodes,)
        Prior weights at the nodes (summing to 1).
    posterior : bool
        Return the posterior weights (EM cycles need only the counts: False saves a pass over them).

    Returns
    -------
    loglik : float
        sum over patterns of freq * log sum_q prior_q L_pq.
    counts : ndarray (n_items, k_max, n_nodes)
        Expected number of persons answering k to item j at node q.
    node_mass : ndarray (n_nodes,)
        Expected number of persons at node q.
    post : ndarray (n_patterns, n_nodes) or None
        Posterior weights per pattern (rows sum to 1); None unless ``posterior``.
    """
    n_items, n_nodes, k_max = probs.shape
    post = patterns.onehot @ _flat(_safe_log(probs))
    post += _safe_log(prior)[None, :]
    top = post.max(axis=1, keepdims=True)
    post -= top
    np.exp(post, out=post)
    marg = post.sum(axis=1)
    loglik = float(patterns.freq @ (np.log(marg) + top[:, 0]))
    post *= (patterns.freq / marg)[:, None]  # frequency-weighted posteriors
    counts = (patterns.onehot.T @ post).reshape(n_items, k_max, n_nodes)
    node_mass = post.sum(axis=0)
    if not posterior:
        return loglik, counts, node_mass, None
    post *= (1.0 / patterns.freq)[:, None]
    return loglik, counts, node_mass, post
