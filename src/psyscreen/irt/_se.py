"""Standard errors from the observed information, as mirt's ``SE.type = "Oakes"``.

Oakes' identity writes the observed-data Hessian as the derivative of the Fisher score
``d/dbeta Q(beta | beta')`` in both arguments: the complete-data Hessian at the E-step's expected counts plus
the derivative of those counts in ``beta'``. That second term is the posterior covariance of the complete-data
score (Louis, 1982), so the Hessian is computed here in closed form, with no numerical differentiation:

    -d2 l = -sum_j sum_kq r_jkq d2 log P_jk(theta_q)  -  sum_p f_p Cov_post(p)[s_pq]

where ``s_pq`` is the complete-data score of pattern ``p`` at node ``q`` (every answered item's
``d log P_j(x_pj | theta_q)``, plus ``d log w_q`` of the normalised latent weights for a free mean or variance).
The covariance term is one weighted cross-product (BLAS ``syrk``) over the (pattern, node) cells with a
posterior weight above ``POST_FLOOR`` (the rest changes the information by less than ~1e-9 of itself). mirt
takes the same quantity by numerical differentiation of the E-step; both equal the observed information, and
:func:`observed_information` equals mirt's Oakes covariance at mirt's estimates to 1e-4 in the SEs
(tests/test_irt_fit.py).
"""

from __future__ import annotations

import numpy as np

from psyscreen.irt._em import State, e_all
from psyscreen.irt._mstep import _objective, item_derivs
from psyscreen.irt._structure import Structure

__all__ = ["observed_information", "POST_FLOOR"]

POST_FLOOR = 1e-12
_CHUNK_ELEMENTS = 2**22  # (cells x parameters) per block of the cross-product, ~32 MB


def _latent_derivs(nodes: np.ndarray, mean: float, var: float):
    """First (2, Q) and second (2, 2, Q) derivatives of the normalised log weights in (mean, var)."""
    dev = nodes - mean
    dens = np.exp(-0.5 * dev**2 / var)
    w = dens / dens.sum()
    d1 = np.stack([dev / var, dev**2 / (2 * var**2)])
    d2 = np.array([[np.full_like(dev, -1 / var), -dev / var**2], [-dev / var**2, -(dev**2) / var**3]])
    m1 = d1 @ w
    cov = (d1 - m1[:, None]) @ ((d1 - m1[:, None]) * w).T
    return d1 - m1[:, None], d2 - (d2 @ w)[:, :, None] - cov[:, :, None]


def _layout(st: Structure):
    """Global column of every item's free vector start, and of each group's free mean / variance."""
    offsets = np.concatenate([[0], np.cumsum(st.n_free_item)]).astype(int)
    pos = int(offsets[-1])
    mean_col, var_col = {}, {}
    for g in np.flatnonzero(st.mean_free):
        mean_col[int(g)], pos = pos, pos + 1
    for g in np.flatnonzero(st.var_free):
        var_col[int(g)], pos = pos, pos + 1
    return offsets, mean_col, var_col


def _posterior_covariance(table: np.ndarray, x: np.ndarray, post: np.ndarray, freq: np.ndarray) -> np.ndarray:
    """sum_p f_p Cov_post(p)[s_pq] for one group, over padded per-item score blocks.

    ``table`` is (n_blocks, n_rows, width): block ``j``'s complete-data score for code ``c`` at node ``q`` in
    row ``c * Q + q``; ``x`` (n_patterns, n_blocks) holds each pattern's row code per block (a zero row for a
    missing answer). Computed as ``sum w s s' - sum_p f_p sbar_p sbar_p'`` over the cells kept, a block of
    patterns at a time: one gather for the scores, one ``syrk`` for the cross-product, one GEMM for the means.
    """
    n_blocks, n_rows, width = table.shape
    n_nodes = post.shape[1]
    n_loc = n_blocks * width
    flat = table.reshape(n_blocks * n_rows, width)
    # posterior means of every (block, code) score row: post @ table, then pick each pattern's code
    by_node = np.ascontiguousarray(table.reshape(n_blocks, n_rows // n_nodes, n_nodes, width).transpose(2, 0, 1, 3))
    by_node = by_node.reshape(n_nodes, -1)
    n_codes = n_rows // n_nodes
    keep = post > POST_FLOOR
    n_pat = post.shape[0]
    block = max(1, int(_CHUNK_ELEMENTS // (n_loc * max(1, int(keep.sum(axis=1).max())))))
    cross = np.zeros((n_loc, n_loc))
    base = np.arange(n_blocks) * n_rows
    for a in range(0, n_pat, block):  # blocks of patterns, each vectorised over its (pattern, node) cells
        b = min(n_pat, a + block)
        xb = x[a:b]
        # sum_p f_p sbar_p sbar_p'
        means = (post[a:b] @ by_node).reshape(b - a, n_blocks, n_codes, width)
        sbar = np.take_along_axis(means, xb[:, :, None, None], axis=2).reshape(b - a, n_loc)
        cross -= (sbar * freq[a:b, None]).T @ sbar
        # sum over the kept cells of f_p post_pq s_pq s_pq'
        pi, qi = np.nonzero(keep[a:b])
        rows = base[None, :] + xb[pi] * n_nodes + qi[:, None]
        s = np.take(flat, rows.ravel(), axis=0).reshape(pi.size, n_loc)
        s *= np.sqrt(post[pi + a, qi] * freq[pi + a])[:, None]
        cross += s.T @ s
    return cross


def observed_information(st: Structure, state: State, patterns, nodes) -> np.ndarray:
    """Negative Hessian of the marginal log-likelihood in the free parameters (Oakes / Louis, analytic).

    Parameters
    ----------
    st : Structure
    state : State
        The parameters at which to evaluate (normally the estimates).
    patterns : list of Patterns
        One per group.
    nodes : ndarray
        The quadrature nodes.

    Returns
    -------
    ndarray (n_params, n_params)
        In the order of ``state.vector(st)``.
    """
    _, counts, masses, posts = e_all(st, state, patterns, nodes)
    offsets, mean_col, var_col = _layout(st)
    n_par = st.n_params
    info = np.zeros((n_par, n_par))
    k_max = int(st.n_cat.max())
    # complete-data information of the items (expected counts) ...
    for j in range(len(st.n_cat)):
        k = int(st.n_cat[j])
        per_group = [counts[g][j, :k, :].T for g in range(st.n_groups)]
        _, _, hess = _objective(st.model, state.free_items[j], list(st.idx[j]), per_group, nodes, k)
        sl = slice(offsets[j], offsets[j + 1])
        info[sl, sl] -= hess
    for g, pat in enumerate(patterns):
        d1, d2 = _latent_derivs(nodes, state.mean[g], state.var[g])
        which = [i for i, free in enumerate((g in mean_col, g in var_col)) if free]
        lat_cols = [(mean_col, var_col)[i][g] for i in which]
        # ... and of the latent mean / variance (expected node masses)
        if which:
            info[np.ix_(lat_cols, lat_cols)] -= (d2[np.ix_(which, which)] * masses[g]).sum(axis=2)
        # minus the posterior covariance of the complete-data score: one padded block per item (rows: code
        # 0..k_max-1 at each node, then zeros for a missing answer) and one for the latent weights (code 0)
        widths = [st.idx[j][g].size for j in range(len(st.n_cat))] + [len(which)]
        width = max(widths)
        n_blocks = len(st.n_cat) + (1 if which else 0)
        table = np.zeros((n_blocks, (k_max + 1) * nodes.size, width))
        cols = np.full((n_blocks, width), -1)
        for j in range(len(st.n_cat)):
            k = int(st.n_cat[j])
            ix = st.idx[j][g]
            dlog, _ = item_derivs(st.model, state.free_items[j][ix], nodes, k)  # (npar, Q, k)
            table[j, : k * nodes.size, : ix.size] = dlog.transpose(2, 1, 0).reshape(k * nodes.size, ix.size)
            cols[j, : ix.size] = offsets[j] + ix
        codes = pat.x % (k_max + 1)  # a missing answer (-1) points at the zero rows
        if which:
            table[-1, : nodes.size, : len(which)] = d1[which].T
            cols[-1, : len(which)] = lat_cols
            codes = np.concatenate([codes, np.zeros((codes.shape[0], 1), dtype=codes.dtype)], axis=1)
        cov = _posterior_covariance(table, codes, posts[g], pat.freq)
        real = cols.ravel() >= 0
        glob = cols.ravel()[real]
        info[np.ix_(glob, glob)] -= cov[np.ix_(real, real)]
    return (info + info.T) / 2
