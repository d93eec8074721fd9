"""Standard errors from the observed information, as mirt's ``SE.type = "Oakes"``.

Oakes' identity writes the observed-data Hessian as the derivative of the Fisher score
``d/dbeta Q(beta | beta')`` taken in both arguments. Here the score of the marginal log-likelihood is computed
analytically (Fisher's identity: the complete-data item gradients at the E-step's expected counts, plus the
gradient of the normalised latent weights for free means/variances), and its Jacobian is taken by central
differences (step 1e-5 relative) -- numerically the same quantity mirt computes (it too differentiates the
E-step numerically). The covariance matrix is the inverse of the negated, symmetrised Hessian.
"""

from __future__ import annotations

import numpy as np

from psyscreen.irt._em import State, e_all, group_items
from psyscreen.irt._mstep import _objective
from psyscreen.irt._structure import Structure

__all__ = ["score", "observed_information"]


def score(st: Structure, state: State, patterns, nodes) -> np.ndarray:
    """Gradient of the marginal log-likelihood in the free parameters (Fisher's identity)."""
    _, counts, masses, _ = e_all(st, state, patterns, nodes)
    parts = []
    for j in range(len(st.n_cat)):
        k = int(st.n_cat[j])
        per_group = [counts[g][j, :k, :].T for g in range(st.n_groups)]
        _, grad, _ = _objective(st.model, state.free_items[j], list(st.idx[j]), per_group, nodes, k)
        parts.append(grad if grad is not None else np.full(st.n_free_item[j], np.nan))
    g_mean, g_var = [], []
    for g in range(st.n_groups):
        mu, var = state.mean[g], state.var[g]
        dens = np.exp(-0.5 * (nodes - mu) ** 2 / var)
        w = dens / dens.sum()
        dm = (nodes - mu) / var
        dv = ((nodes - mu) ** 2 - var) / (2 * var**2)
        if st.mean_free[g]:
            g_mean.append(masses[g] @ (dm - w @ dm))
        if st.var_free[g]:
            g_var.append(masses[g] @ (dv - w @ dv))
    return np.concatenate(parts + [np.array(g_mean), np.array(g_var)])


def observed_information(st: Structure, state: State, patterns, nodes, rel_step: float = 1e-5) -> np.ndarray:
    """Negative Hessian of the marginal log-likelihood (central differences of the analytic score)."""
    x = state.vector(st)
    n = x.size
    hess = np.zeros((n, n))
    for i in range(n):
        h = rel_step * max(1.0, abs(x[i]))
        up, down = x.copy(), x.copy()
        up[i] += h
        down[i] -= h
        s_up = score(st, State.from_vector(up, st, state), patterns, nodes)
        s_down = score(st, State.from_vector(down, st, state), patterns, nodes)
        hess[:, i] = (s_up - s_down) / (2 * h)
    return -(hess + hess.T) / 2
