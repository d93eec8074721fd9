"""The EM cycle of marginal maximum likelihood over a fixed quadrature (Bock & Aitkin, 1981), as mirt's EM.

mirt (``mirt(data, 1, itemtype, method = "EM")``) integrates over ``quadpts = 61`` equally spaced nodes on
``theta_lim = c(-6, 6)`` with N(mean, var) density weights normalised to sum to one; it stops when no
parameter moved by more than ``TOL = 1e-4`` in a cycle, after at most ``NCYCLES = 500`` cycles. This module
does the same cycle: E-step (:mod:`._estep`), Newton M-step per item (:mod:`._mstep`), then the latent means
and variances that are free in closed form (the moments of the expected node counts).

Acceleration: mirt applies Ramsay's extrapolation; here SQUAREM (Varadhan & Roland, 2008, scheme SqS3): two
EM cycles, a step along their displacements ``x0 - 2 alpha r + alpha^2 v`` with ``alpha = -|r| / |v|``, then a
stabilising EM cycle. The extrapolated point is pulled back towards the plain double EM step until its
log-likelihood is not below that of the start (EM never lowers it), so the sequence is monotone and the
fixed point and the answer are those of plain EM. Convergence: a plain EM
cycle moves no parameter by more than ``tol * POLISH`` (see ``POLISH``: 1e-6 for mirt's ``TOL = 1e-4``).
"""

from __future__ import annotations

import numpy as np

from psyscreen.irt._estep import Patterns, estep
from psyscreen.irt._model import trace_arrays
from psyscreen.irt._mstep import newton_item, newton_items
from psyscreen.irt._structure import Structure

__all__ = ["State", "group_items", "prior_weights", "e_all", "em", "POLISH"]

# The cycle stops when a plain EM cycle moves no parameter by more than tol * POLISH. EM creeps towards its
# fixed point (the contraction rate of slopes and of a free latent variance is near 1), so mirt's own stop at a
# change of TOL = 1e-4 leaves its estimates up to ~1e-2 short of the maximum on the reference data (its logLik is
# below the maximum). The tighter stop puts these estimates at the maximum mirt is approaching.
POLISH = 1e-2
# SQUAREM's largest extrapolation step to start with and its growth when that step was taken (Varadhan &
# Roland's defaults step.max0 = 1, mstep = 4)
STEP_MAX0 = 1.0
STEP_FACTOR = 4.0


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


def e_all(st: Structure, state: State, patterns: list[Patterns], nodes: np.ndarray, posterior: bool = True):
    """E-step in every group: (total loglik, [counts per group], [node mass per group], [posteriors or None])."""
    total, counts, masses, posts = 0.0, [], [], []
    for g, pat in enumerate(patterns):
        a, d = group_items(st, state, g)
        probs = trace_arrays(st.model, a, d, st.n_cat, nodes)
        ll, r, mass, post = estep(pat, probs, prior_weights(nodes, state.mean[g], state.var[g]), posterior)
        total += ll
        counts.append(r)
        masses.append(mass)
        posts.append(post)
    return total, counts, masses, posts


def m_all(st: Structure, state: State, counts, masses, nodes: np.ndarray) -> State:
    """The M-step: every item's Newton maximisation, then the free latent means and variances in closed form.

    Items whose free vector is used whole by every group (all single-group fits; invariant items) are
    maximised together, one batch per number of categories (:func:`newton_items`); the others one by one.
    """
    new = state.copy()
    batches = {}
    for j in range(len(st.n_cat)):
        k = int(st.n_cat[j])
        per_group = [counts[g][j, :k, :].T for g in range(st.n_groups)]
        whole = np.arange(st.n_free_item[j])
        if all(np.array_equal(ix, whole) for ix in st.idx[j]):
            batches.setdefault(k, []).append((j, sum(per_group)))
        else:
            new.free_items[j] = newton_item(st.model, state.free_items[j], list(st.idx[j]), per_group, nodes, k)
    for k, members in batches.items():
        js = [j for j, _ in members]
        free = newton_items(st.model, np.stack([state.free_items[j] for j in js]),
                            np.stack([r for _, r in members]), nodes, k)
        for j, f in zip(js, free):
            new.free_items[j] = f
    for g in range(st.n_groups):
        n = masses[g].sum()
        if st.mean_free[g]:
            new.mean[g] = float(masses[g] @ nodes / n)
        if st.var_free[g]:
            new.var[g] = float(masses[g] @ (nodes - new.mean[g]) ** 2 / n)
    return new


def _valid(st: Structure, state: State) -> bool:
    """A candidate point where the model is defined: positive variances, ordered graded intercepts."""
    if not np.all(np.isfinite(state.vector(st))) or np.any(state.var <= 0):
        return False
    if st.model == "Rasch":
        return True
    for g in range(st.n_groups):
        _, d = group_items(st, state, g)
        steps = np.diff(d, axis=1)
        if np.any(steps[np.isfinite(steps)] >= 0):
            return False
    return True


def em(st: Structure, start: State, patterns: list[Patterns], nodes: np.ndarray, tol: float, max_cycles: int):
    """Run EM from ``start`` with SQUAREM acceleration; returns (state, converged, cycles, loglik history).

    ``cycles`` counts EM cycles (E-step + M-step). ``history`` holds the log-likelihood at the start of every
    SQUAREM round, which never decreases. Converged: an EM cycle moved no parameter by more than
    ``tol * POLISH``; the answer is that cycle's M-step.
    """
    limit = tol * POLISH
    history, cycles, step_max = [], 0, STEP_MAX0

    def cycle(state, e):
        # one EM cycle from `state` whose E-step `e` = (loglik, counts, masses, posteriors) is known
        nonlocal cycles
        cycles += 1
        new = m_all(st, state, e[1], e[2], nodes)
        vec, old = new.vector(st), state.vector(st)
        if not np.all(np.isfinite(vec)):
            return new, vec, np.inf
        return new, vec, (float(np.max(np.abs(vec - old))) if vec.size else 0.0)

    x0, e0 = start, e_all(st, start, patterns, nodes, False)
    while True:
        history.append(e0[0])
        p0 = x0.vector(st)
        x1, p1, change = cycle(x0, e0)
        if not np.isfinite(change):
            return x0, False, cycles, history
        if change < limit or cycles >= max_cycles:
            return x1, change < limit, cycles, history
        x2, p2, change = cycle(x1, e_all(st, x1, patterns, nodes, False))
        if not np.isfinite(change):
            return x1, False, cycles, history
        if change < limit or cycles >= max_cycles:
            return x2, change < limit, cycles, history
        r = p1 - p0
        v = (p2 - p1) - r
        nv = float(np.sqrt(v @ v))
        alpha = -float(np.sqrt(r @ r)) / nv if nv > 0 else -1.0
        alpha = max(min(alpha, -1.0), -step_max)
        # the SqS3 step, pulled back towards alpha = -1 (which is x2, the plain double EM step) until its
        # log-likelihood is not below that of x0: the sequence stays monotone, as plain EM is
        while alpha < -1.0:
            cand = State.from_vector(p0 - 2 * alpha * r + alpha**2 * v, st, x0)
            if _valid(st, cand):
                e_cand = e_all(st, cand, patterns, nodes, False)
                if np.isfinite(e_cand[0]) and e_cand[0] >= e0[0]:
                    break
            alpha = (alpha - 1.0) / 2.0
            if alpha > -1.01:
                alpha = -1.0
        if alpha == -step_max:
            step_max *= STEP_FACTOR
        if alpha == -1.0:
            cand, e_cand = x2, e_all(st, x2, patterns, nodes, False)
        # the stabilising EM cycle from the accepted point
        x0, _, change = cycle(cand, e_cand)
        if not np.isfinite(change):
            return cand, False, cycles, history
        if change < limit or cycles >= max_cycles:
            return x0, change < limit, cycles, history
        e0 = e_all(st, x0, patterns, nodes, False)
