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

__all__ = ["item_derivs", "item_loglik", "newton_item", "newton_items"]

_TINY = 1e-300


def _graded_parts(beta: np.ndarray, theta: np.ndarray):
    """Cumulative curves of graded items ``beta`` (..., 1 + K-1): P_k, W = P*(1-P*), V = W(1-2P*), over nodes."""
    a, d = beta[..., :1], beta[..., 1:]
    n_k = d.shape[-1] + 1
    star = np.zeros(beta.shape[:-1] + (theta.size, n_k + 1))
    star[..., 0] = 1.0
    star[..., 1:n_k] = 0.5 * (1.0 + np.tanh(0.5 * (a[..., None, :] * theta[:, None] + d[..., None, :])))
    w = star * (1.0 - star)
    v = w * (1.0 - 2.0 * star)
    p = star[..., :-1] - star[..., 1:]
    return p, w, v


def item_loglik(model: str, beta: np.ndarray, theta: np.ndarray, n_cat: int) -> np.ndarray:
    """log P(X = k | theta) for one item (n_nodes, n_cat), or a batch ``beta`` (B, npar) -> (B, n_nodes, n_cat).

    NaN for an item whose parameters are invalid (graded intercepts not decreasing).
    """
    if model == "Rasch":
        zero = np.zeros(beta.shape[:-1] + (1,))
        z = np.arange(n_cat) * theta[:, None] + np.concatenate([zero, beta], axis=-1)[..., None, :]
        top = z.max(axis=-1, keepdims=True)
        return z - top - np.log(np.exp(z - top).sum(axis=-1, keepdims=True))
    p, _, _ = _graded_parts(beta, theta)
    bad = np.any(p <= 0, axis=(-2, -1)) | np.any(np.diff(beta[..., 1:], axis=-1) >= 0, axis=-1)
    out = np.log(np.maximum(p, _TINY))
    if out.ndim == 2:
        return np.full(p.shape, np.nan) if bad else out
    out[bad] = np.nan
    return out


def item_derivs(model: str, beta: np.ndarray, theta: np.ndarray, n_cat: int):
    """First and second derivatives of log P_k(theta_q) in the item's parameters.

    Returns ``(dlog, d2log)`` with shapes (npar, n_nodes, n_cat) and (npar, npar, n_nodes, n_cat); a batch
    ``beta`` (B, npar) adds a leading axis B to both.
    """
    beta = np.asarray(beta, dtype=float)
    if beta.ndim == 1:
        dlog, d2log = item_derivs(model, beta[None], theta, n_cat)
        return dlog[0], d2log[0]
    n_b, n_q = beta.shape[0], theta.size
    if model == "Rasch":
        p = np.exp(item_loglik(model, beta, theta, n_cat))[:, :, 1:]  # (B, Q, K-1): P_1..P_{K-1}
        m = n_cat - 1
        pt = p.transpose(0, 2, 1)  # (B, m, Q)
        dlog = -np.repeat(pt[:, :, :, None], n_cat, axis=3)  # d log P_k / d d_m = delta_km - P_m
        dlog[:, np.arange(m), :, np.arange(1, n_cat)] += 1.0
        cov = pt[:, :, None, :] * pt[:, None, :, :]  # (B, m, m, Q)
        cov[:, np.arange(m), np.arange(m)] -= pt
        return dlog, np.repeat(cov[..., None], n_cat, axis=4)
    p, w, v = _graded_parts(beta, theta)  # (B, Q, K), (B, Q, K+1)
    npar = n_cat
    dp = np.zeros((n_b, npar, n_q, n_cat))
    d2p = np.zeros((n_b, npar, npar, n_q, n_cat))
    th = theta[:, None]
    dp[:, 0] = th * (w[..., :-1] - w[..., 1:])
    d2p[:, 0, 0] = th**2 * (v[..., :-1] - v[..., 1:])
    for m in range(1, n_cat):  # a loop over the item's intercepts
        dp[:, m, :, m] = w[..., m]
        dp[:, m, :, m - 1] = -w[..., m]
        d2p[:, m, m, :, m] = v[..., m]
        d2p[:, m, m, :, m - 1] = -v[..., m]
        d2p[:, 0, m, :, m] = theta * v[..., m]
        d2p[:, 0, m, :, m - 1] = -theta * v[..., m]
        d2p[:, m, 0] = d2p[:, 0, m]
    p = np.maximum(p, _TINY)[:, None]
    dlog = dp / p
    d2log = d2p / p[:, None] - dlog[:, :, None] * dlog[:, None, :]
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


def _objective_batch(model, free, counts, theta, n_cat, derivs=True):
    """ll (B,), gradient (B, npar) and Hessian (B, npar, npar) of a batch of single-vector items."""
    logp = item_loglik(model, free, theta, n_cat)
    ok = np.all(np.isfinite(logp), axis=(1, 2))
    ll = np.where(ok, np.sum(counts * np.where(np.isfinite(logp), logp, 0.0), axis=(1, 2)), -np.inf)
    if not derivs:
        return ll, None, None
    dlog, d2log = item_derivs(model, free, theta, n_cat)
    return ll, np.einsum("bqk,bpqk->bp", counts, dlog), np.einsum("bqk,bpzqk->bpz", counts, d2log)


def newton_items(model, free, counts, theta, n_cat, max_iter=50, tol=1e-9):
    """:func:`newton_item` for a batch of items with one free vector each (B, npar) and counts (B, Q, K).

    The same Newton iteration, step cap and step halving as :func:`newton_item`, run on all items at once
    (each item stops on its own).
    """
    free = np.array(free, dtype=float)
    ll, grad, hess = _objective_batch(model, free, counts, theta, n_cat)
    active = np.isfinite(ll)
    eye = np.eye(free.shape[1])
    for _ in range(max_iter):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        neg = -hess[idx]
        low = np.linalg.eigvalsh(neg)[:, 0]
        ridge = np.where(low > 0, 0.0, np.abs(low) + 1e-3 * np.maximum(1.0, np.abs(neg).max(axis=(1, 2))))
        step = np.linalg.solve(neg + ridge[:, None, None] * eye, grad[idx][:, :, None])[:, :, 0]
        big = np.abs(step).max(axis=1)
        step *= np.where(big > 2.0, 2.0 / np.maximum(big, 1e-300), 1.0)[:, None]
        t = np.ones(idx.size)
        accepted = np.zeros(idx.size, dtype=bool)
        cand = free[idx].copy()
        while True:
            todo = ~accepted & (t > 1e-8)
            if not todo.any():
                break
            trial = free[idx[todo]] + t[todo, None] * step[todo]
            new_ll = _objective_batch(model, trial, counts[idx[todo]], theta, n_cat, derivs=False)[0]
            good = new_ll >= ll[idx[todo]] - 1e-12 * np.abs(ll[idx[todo]])
            pos = np.flatnonzero(todo)
            cand[pos[good]] = trial[good]
            accepted[pos[good]] = True
            t[pos[~good]] *= 0.5
        active[idx[~accepted]] = False  # no ascent step left
        acc = idx[accepted]
        if acc.size == 0:
            break
        moved = np.abs(cand[accepted] - free[acc]).max(axis=1)
        free[acc] = cand[accepted]
        ll[acc], grad[acc], hess[acc] = _objective_batch(model, free[acc], counts[acc], theta, n_cat)
        active[acc[moved < tol]] = False
    return free
