"""The M-step: each item's expected-count log-likelihood maximised by Newton's method.

For one item with expected counts ``r[k, q]`` (persons answering ``k`` at node ``theta_q``) the complete-data
log-likelihood is ``sum_qk r[k, q] log P_k(theta_q)``. Its gradient and Hessian are analytic here (graded/2PL
through the cumulative curves, Rasch/partial credit through the adjacent-category form), so each M-step is a
few Newton steps with step halving (mirt uses BFGS on the same function; the fixed point is the same).
With several groups an item's free parameters may be shared (invariance) or group-specific: ``idx[g]`` maps a
group's item vector onto the item's free vector and the groups' gradients and Hessians are added up.
"""

from __future__ import annotations

import numpy as np

__all__ = ["item_derivs", "item_loglik", "newton_item"]

_TINY = 1e-300


def _graded_parts(beta: np.ndarray, theta: np.ndarray):
    a, d = beta[0], beta[1:]
    n_q, n_k = theta.size, d.size + 1
    star = np.zeros((n_q, n_k + 1))
    star[:, 0] = 1.0
    star[:, 1:n_k] = 0.5 * (1.0 + np.tanh(0.5 * (a * theta[:, None] + d[None, :])))
    w = star * (1.0 - star)
    v = w * (1.0 - 2.0 * star)
    p = star[:, :-1] - star[:, 1:]
    return p, w, v


def item_loglik(model: str, beta: np.ndarray, theta: np.ndarray, n_cat: int) -> np.ndarray:
    """log P(X = k | theta) for one item, shape (n_nodes, n_cat); NaN when the parameters are invalid."""
    if model == "Rasch":
        z = np.arange(n_cat)[None, :] * theta[:, None] + np.concatenate([[0.0], beta])[None, :]
        top = z.max(axis=1, keepdims=True)
        return z - top - np.log(np.exp(z - top).sum(axis=1, keepdims=True))
    p, _, _ = _graded_parts(beta, theta)
    if np.any(p <= 0) or np.any(np.diff(beta[1:]) >= 0):
        return np.full(p.shape, np.nan)
    return np.log(np.maximum(p, _TINY))


def item_derivs(model: str, beta: np.ndarray, theta: np.ndarray, n_cat: int):
    """First and second derivatives of log P_k(theta_q) in the item's parameters.

    Returns ``(dlog, d2log)`` with shapes (npar, n_nodes, n_cat) and (npar, npar, n_nodes, n_cat).
    """
    n_q = theta.size
    if model == "Rasch":
        logp = item_loglik(model, beta, theta, n_cat)
        p = np.exp(logp)[:, 1:]  # (Q, K-1): P_1..P_{K-1}
        m = n_cat - 1
        dlog = -np.repeat(p.T[:, :, None], n_cat, axis=2)  # d log P_k / d d_m = delta_km - P_m
        for k in range(1, n_cat):
            dlog[k - 1, :, k] += 1.0
        cov = p.T[:, None, :] * p.T[None, :, :]  # (m, m, Q)
        cov[np.arange(m), np.arange(m)] -= p.T
        d2log = np.repeat(cov[:, :, :, None], n_cat, axis=3)
        return dlog, d2log
    p, w, v = _graded_parts(beta, theta)
    npar = n_cat
    dp = np.zeros((npar, n_q, n_cat))
    d2p = np.zeros((npar, npar, n_q, n_cat))
    th = theta[:, None]
    dp[0] = th * (w[:, :-1] - w[:, 1:])
    d2p[0, 0] = th**2 * (v[:, :-1] - v[:, 1:])
    for m in range(1, n_cat):
        dp[m, :, m] = w[:, m]
        dp[m, :, m - 1] = -w[:, m]
        d2p[m, m, :, m] = v[:, m]
        d2p[m, m, :, m - 1] = -v[:, m]
        d2p[0, m, :, m] = theta * v[:, m]
        d2p[0, m, :, m - 1] = -theta * v[:, m]
        d2p[m, 0] = d2p[0, m]
    p = np.maximum(p, _TINY)
    dlog = dp / p
    d2log = d2p / p - dlog[:, None] * dlog[None, :]
    return dlog, d2log


def _objective(model, free, idx, counts, theta, n_cat, derivs=True):
    ll = 0.0
    grad = np.zeros(free.size)
    hess = np.zeros((free.size, free.size))
    for ix, r in zip(idx, counts):
        beta = free[ix]
        logp = item_loglik(model, beta, theta, n_cat)
        if not np.all(np.isfinite(logp)):
            return -np.inf, None, None
        ll += float(np.sum(r * logp))
        if derivs:
            dlog, d2log = item_derivs(model, beta, theta, n_cat)
            g = np.einsum("qk,pqk->p", r, dlog)
            h = np.einsum("qk,pzqk->pz", r, d2log)
            np.add.at(grad, ix, g)
            np.add.at(hess, (ix[:, None], ix[None, :]), h)
    return ll, grad, hess


def newton_item(model, free, idx, counts, theta, n_cat, max_iter=50, tol=1e-9):
    """Maximise one item's expected-count log-likelihood over its free parameters.

    ``idx`` is a list (one per group) of index arrays into ``free``; ``counts`` the matching list of
    (n_nodes, n_cat) expected counts. Returns the new free vector.
    """
    if len(idx) > 1 and all(np.array_equal(idx[0], ix) for ix in idx[1:]):
        idx, counts = [idx[0]], [sum(counts)]
    free = np.array(free, dtype=float)
    ll, grad, hess = _objective(model, free, idx, counts, theta, n_cat)
    for _ in range(max_iter):
        neg = -hess
        try:
            np.linalg.cholesky(neg)
            step = np.linalg.solve(neg, grad)
        except np.linalg.LinAlgError:
            ridge = abs(np.linalg.eigvalsh(neg).min()) + 1e-3 * max(1.0, np.abs(neg).max())
            step = np.linalg.solve(neg + ridge * np.eye(free.size), grad)
        # cap very long steps (far from the optimum) before halving
        big = np.abs(step).max()
        if big > 2.0:
            step *= 2.0 / big
        t = 1.0
        while t > 1e-8:
            cand = free + t * step
            new_ll, new_grad, new_hess = _objective(model, cand, idx, counts, theta, n_cat)
            if new_ll >= ll - 1e-12 * abs(ll):
                break
            t *= 0.5
        else:
            break
        moved = np.abs(cand - free).max()
        free, ll, grad, hess = cand, new_ll, new_grad, new_hess
        if moved < tol:
            break
    return free
