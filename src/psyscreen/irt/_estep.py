"""The E-step: response patterns collapsed once, their likelihoods at the quadrature nodes, expected counts.

Identical response patterns (missing answers included) are collapsed once with their frequencies; every
step is then vectorised over patterns x nodes, with a loop over items only (never over persons).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

__all__ = ["Patterns", "collapse", "pattern_loglik", "estep"]


@dataclass(frozen=True, eq=False)
class Patterns:
    """Unique response patterns ``x`` (int, -1 missing), their frequencies and the row -> pattern map."""

    x: np.ndarray
    freq: np.ndarray
    inverse: np.ndarray
    onehot: sparse.csr_matrix  # (n_patterns, n_items * k_max): 1 where item j answered k
    onehot_t: sparse.csr_matrix  # its transpose, stored row-major for the expected counts

    @property
    def n(self) -> float:
        return float(self.freq.sum())


def collapse(codes: np.ndarray, k_max: int, weights: np.ndarray | None = None) -> Patterns:
    """Collapse rows of 0..K-1 codes (NaN missing) into unique patterns with frequencies."""
    x = np.where(np.isnan(codes), -1, codes).astype(np.int16 if k_max < 32000 else np.int32)
    uniq, inverse, counts = np.unique(x, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    if weights is None:
        freq = counts.astype(float)
    else:
        freq = np.bincount(inverse, weights=weights, minlength=len(uniq))
    n_pat, n_items = uniq.shape
    rows, cols = np.nonzero(uniq >= 0)
    onehot = sparse.csr_matrix(
        (np.ones(rows.size), (rows, cols * k_max + uniq[rows, cols])), shape=(n_pat, n_items * k_max)
    )
    return Patterns(uniq.astype(np.int64), freq, inverse, onehot, onehot.T.tocsr())


def pattern_loglik(x: np.ndarray, log_trace: np.ndarray, onehot: sparse.csr_matrix | None = None) -> np.ndarray:
    """log P(pattern | theta_q) for every pattern and node: shape (n_patterns, n_nodes).

    ``log_trace`` is (n_items, n_nodes, k_max); a missing answer (-1) adds nothing. With the patterns' one-hot
    matrix this is one sparse-dense product (one term per answered item).
    """
    if onehot is not None:
        n_items, n_nodes, k_max = log_trace.shape
        flat = np.ascontiguousarray(log_trace.transpose(0, 2, 1).reshape(n_items * k_max, n_nodes))
        return np.asarray(onehot @ flat)
    n_items, n_nodes, k_max = log_trace.shape
    out = np.zeros((x.shape[0], n_nodes))
    for j in range(n_items):
        # rows 0..k_max-1 are the categories; row -1 (index k_max) is zeros for a missing answer
        table = np.zeros((k_max + 1, n_nodes))
        table[:k_max] = log_trace[j].T
        out += table[x[:, j]]
    return out


def _safe_log(p: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log(np.clip(p, 1e-300, None))


def estep(patterns: Patterns, probs: np.ndarray, prior: np.ndarray):
    """Posterior over nodes per pattern, the log-likelihood and the expected counts.

    Parameters
    ----------
    patterns : Patterns
    probs : ndarray (n_items, n_nodes, k_max)
        Category trace lines at the nodes.
    prior : ndarray (n_nodes,)
        Prior weights at the nodes (summing to 1).

    Returns
    -------
    loglik : float
        sum over patterns of freq * log sum_q prior_q L_pq.
    counts : ndarray (n_items, k_max, n_nodes)
        Expected number of persons answering k to item j at node q.
    node_mass : ndarray (n_nodes,)
        Expected number of persons at node q.
    post : ndarray (n_patterns, n_nodes)
        Posterior weights per pattern (rows sum to 1).
    """
    n_items, n_nodes, k_max = probs.shape
    post = pattern_loglik(patterns.x, _safe_log(probs), patterns.onehot)
    post += _safe_log(prior)[None, :]
    top = post.max(axis=1, keepdims=True)
    post -= top
    np.exp(post, out=post)
    marg = post.sum(axis=1, keepdims=True)
    loglik = float(patterns.freq @ (np.log(marg[:, 0]) + top[:, 0]))
    post *= (1.0 / marg)
    weighted = post * patterns.freq[:, None]
    counts = np.asarray(patterns.onehot_t @ weighted).reshape(n_items, k_max, n_nodes)
    node_mass = weighted.sum(axis=0)
    return loglik, counts, node_mass, post
