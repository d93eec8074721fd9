"""The EM cycle of marginal maximum likelihood over a fixed quadrature (Bock & Aitkin, 1981), as mirt's EM.

mirt (``mirt(data, 1, itemtype, method = "EM")``) integrates over ``quadpts = 61`` equally spaced nodes on
``theta_lim = c(-6, 6)`` with N(mean, var) density weights normalised to sum to one; it stops when no
parameter moved by more than ``TOL = 1e-4`` in a cycle, after at most ``NCYCLES = 500`` cycles. This module
does the same cycle: E-step (:mod:`._estep`), Newton M-step per item (:mod:`._mstep`), then the latent means
and variances that are free in closed form (the moments of the expected node counts).

Acceleration: mirt applies Ramsay's extrapolation; here every third cycle a SQUAREM-style step is tried
(Varadhan & Roland, 2008: extrapolate along the last two EM displacements) and kept only when it does not
lower the log-likelihood, so the fixed point and the answer are those of plain EM. Convergence: a plain EM
cycle moves no parameter by more than ``tol * POLISH`` (see ``POLISH``: 1e-6 for mirt's ``TOL = 1e-4``).
"""

from __future__ import annotations

import numpy as np

from psyscreen.irt._estep import Patterns, estep
from psyscreen.irt._model import trace_arrays
from psyscreen.irt._mstep import newton_item
from psyscreen.irt._structure import Structure

__all__ = ["State", "group_items", "prior_weights", "e_all", "em", "POLISH"]

# The cycle stops when a plain EM cycle moves no parameter by more than tol * POLISH. EM creeps towards its
# fixed point (the contraction rate of slopes and of a free latent variance is near 1), so mirt's own stop at a
# change of TOL = 1e-4 leaves its estimates up to ~1e-2 short of the maximum on the reference data (its logLik is
# below the maximum). The tighter stop puts these estimates at the maximum mirt is approaching.
POLISH = 1e-2


class State:
    """Free parameters of a fit: one vector per item, and the latent mean/variance of every group."""

    def __init__(self, free_items, mean, var):
        self.free_items = [np.asarray(f, dtype=float) for f in free_items]
        self.mean = np.asarray(mean, dtype=float)
        self.var = np.asarray(var, dtype=float)

    def copy(self) -> State:
        return State([f.copy() for f in self.free_items], self.mean.copy(), self.var.copy())

    def vector(self, st: Structure) -> np.ndarray:
        return np.concatenate(self.free_items + [self.mean[st.mean_free], self.var[st.var_free]])

    @classmethod
    def from_vector(cls, vec: np.ndarray, st: Structure, template: State) -> State:
        out, pos = template.copy(), 0
        for j, size in enumerate(st.n_free_item):
            out.free_items[j] = vec[pos : pos + size].copy()
            pos += size
        nm = int(st.mean_free.sum())
        out.mean[st.mean_free] = vec[pos : pos + nm]
        pos += nm
        out.var[st.var_free] = vec[pos : pos + int(st.var_free.sum())]
        return out


def group_items(st: Structure, state: State, g: int) -> tuple[np.ndarray, np.ndarray]:
    """Slopes (J,) and intercepts (J, k_max - 1) of group ``g``."""
    n_items, k_max = len(st.n_cat), int(st.n_cat.max())
    a = np.ones(n_items)
    d = np.full((n_items, k_max - 1), np.nan)
    for j in range(n_items):
        beta = state.free_items[j][st.idx[j][g]]
        if st.model != "Rasch":
            a[j], beta = beta[0], beta[1:]
        d[j, : beta.size] = beta
    return a, d


def prior_weights(nodes: np.ndarray, mean: float, var: float) -> np.ndarray:
    dens = np.exp(-0.5 * (nodes - mean) ** 2 / var)
    return dens / dens.sum()


def e_all(st: Structure, state: State, patterns: list[Patterns], nodes: np.ndarray):
    """E-step in every group: (total loglik, [counts per group], [node mass per group], [posteriors])."""
    total, counts, masses, posts = 0.0, [], [], []
    for g, pat in enumerate(patterns):
        a, d = group_items(st, state, g)
        probs = trace_arrays(st.model, a, d, st.n_cat, nodes)
        ll, r, mass, post = estep(pat, probs, prior_weights(nodes, state.mean[g], state.var[g]))
        total += ll
        counts.append(r)
        masses.append(mass)
        posts.append(post)
    return total, counts, masses, posts


def m_all(st: Structure, state: State, counts, masses, nodes: np.ndarray) -> State:
    new = state.copy()
    for j in range(len(st.n_cat)):
        k = int(st.n_cat[j])
        per_group = [counts[g][j, :k, :].T for g in range(st.n_groups)]
        new.free_items[j] = newton_item(st.model, state.free_items[j], list(st.idx[j]), per_group, nodes, k)
    for g in range(st.n_groups):
        n = masses[g].sum()
        if st.mean_free[g]:
            new.mean[g] = float(masses[g] @ nodes / n)
        if st.var_free[g]:
            new.var[g] = float(masses[g] @ (nodes - new.mean[g]) ** 2 / n)
    return new


def _loglik(st, state, patterns, nodes) -> float:
    return e_all(st, state, patterns, nodes)[0]


def em(st: Structure, start: State, patterns: list[Patterns], nodes: np.ndarray, tol: float, max_cycles: int):
    """Run EM from ``start``; returns (state, converged, cycles, loglik history)."""
    state = start
    history = []
    prev_vec = state.vector(st)
    disp = []
    for cycle in range(1, max_cycles + 1):
        ll, counts, masses, _ = e_all(st, state, patterns, nodes)
        history.append(ll)
        new = m_all(st, state, counts, masses, nodes)
        vec = new.vector(st)
        change = float(np.max(np.abs(vec - prev_vec))) if vec.size else 0.0
        if not np.all(np.isfinite(vec)):
            return state, False, cycle, history
        if change < tol * POLISH:
            return new, True, cycle, history
        disp.append(vec - prev_vec)
        state, prev_vec = new, vec
        if len(disp) >= 2 and cycle % 3 == 0:
            state, prev_vec = _squarem(st, state, disp[-2], disp[-1], patterns, nodes, ll)
            disp = []
    return state, False, max_cycles, history


def _squarem(st, state, r, v2, patterns, nodes, ll_before):
    """Extrapolate along the last two EM displacements; keep the step only if the loglik does not drop."""
    v = v2 - r
    nv = float(np.sqrt(v @ v))
    if nv == 0:
        return state, state.vector(st)
    alpha = -float(np.sqrt(r @ r)) / nv
    alpha = max(min(alpha, -1.0), -10.0)
    base = state.vector(st)
    # x_new = x0 - 2 alpha r + alpha^2 v, taken from the current point x0 + r + v2 ~ base
    x0 = base - r - v2
    cand_vec = x0 - 2 * alpha * r + alpha**2 * v
    cand = State.from_vector(cand_vec, st, state)
    if np.any(cand.var <= 0):
        return state, base
    ll_cand = _loglik(st, cand, patterns, nodes)
    # EM never lowers the likelihood, so beating the last E-step's value keeps the sequence monotone
    if np.isfinite(ll_cand) and ll_cand >= ll_before:
        return cand, cand_vec
    return state, base
