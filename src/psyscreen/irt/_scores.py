"""Person scores (EAP, MAP, ML) with standard errors and the summed-score EAP table, as ``mirt::fscores``.

* EAP: posterior mean and SD over ``quadpts = 121`` equally spaced nodes on [-6, 6] (mirt's ``fscores``
  defaults for one dimension) with the fitted latent distribution of the person's group as the prior.
* MAP: posterior mode by Newton's method (the log-posterior of these models is concave in theta); SE =
  ``1 / sqrt(-d2 log posterior)`` at the mode.
* ML: likelihood maximum, SE = ``1 / sqrt(-d2 log L)``. A pattern with every answer in the lowest (highest)
  category has no finite maximum: theta is ``-inf`` (``+inf``) as in mirt, SE NaN, and the ``note`` column says
  why; rows without any answer get NaN with a note.
* ``T = 50 + 10 theta`` (the PROMIS-style metric of the calibration sample, whose latent is N(0, 1)).
* EAPsum (``fscores(method = "EAPsum", full.scores = FALSE)``): the likelihood of each summed score at every
  node by the Lord-Wingersky recursion, then the posterior mean/SD per summed score; ``observed`` counts the
  complete-case totals and ``expected = n * P(total)``, ``std_res = |observed - expected| / sqrt(expected)``.
  The total is on the items' own scale: sum of the 0..K-1 codes plus each item's lowest label (equal to the raw
  sum when every item's labels are consecutive integers).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from psyscreen.irt._em import prior_weights
from psyscreen.irt._errors import IRTDataError, IRTError
from psyscreen.irt._estep import collapse, pattern_loglik
from psyscreen.irt._model import encode, quadrature, trace_arrays

__all__ = ["scores", "eap_sum", "FSCORES_QUADPTS"]

FSCORES_QUADPTS = 121


def _group_index(result, n_rows, groups):
    if len(result.groups) == 1:
        return np.zeros(n_rows, dtype=int)
    if groups is None:
        raise IRTError("this is a multiple-group fit: pass groups= (one label per row) to score with each group's model")
    labels = np.asarray(groups).astype(str)
    lookup = {g: i for i, g in enumerate(result.groups)}
    unknown = sorted(set(labels) - set(lookup))
    if unknown:
        raise IRTError(f"groups {unknown} are not groups of the fit ({list(result.groups)})")
    return np.array([lookup[v] for v in labels])


def _theta_derivs(model, a, d, n_cat, x, theta):
    """Per pattern: sum over answered items of d/dtheta and d2/dtheta2 of log P(x | theta)."""
    probs = trace_arrays(model, a, d, n_cat, theta)  # (J, P, K)
    k_max = probs.shape[2]
    if model == "Rasch":
        kk = np.arange(k_max)[None, None, :]
        mean = (probs * kk).sum(axis=2, keepdims=True)
        var = (probs * (kk - mean) ** 2).sum(axis=2)
        d1 = a[:, None, None] * (kk - mean)
        d2 = np.broadcast_to((-(a**2)[:, None] * var)[:, :, None], d1.shape)
    else:
        z = a[:, None, None] * theta[None, :, None] + d[:, None, :]
        star = np.concatenate([np.ones(z.shape[:2] + (1,)), 0.5 * (1 + np.tanh(0.5 * np.nan_to_num(z, nan=-np.inf))),
                               np.zeros(z.shape[:2] + (1,))], axis=2)[:, :, : k_max + 1]
        w = star * (1 - star)
        v = w * (1 - 2 * star)
        p = np.maximum(probs, 1e-300)
        dp = a[:, None, None] * (w[:, :, :-1] - w[:, :, 1:])
        d2p = (a**2)[:, None, None] * (v[:, :, :-1] - v[:, :, 1:])
        d1 = dp / p
        d2 = d2p / p - d1**2
    rows = np.arange(x.shape[0])
    g1 = np.zeros(x.shape[0])
    g2 = np.zeros(x.shape[0])
    for j in range(x.shape[1]):
        seen = x[:, j] >= 0
        g1[seen] += d1[j, rows[seen], x[seen, j]]
        g2[seen] += d2[j, rows[seen], x[seen, j]]
    return g1, g2


def _newton(model, a, d, n_cat, x, start, mean, var, use_prior, max_iter=200, tol=1e-10):
    theta = start.copy()
    for _ in range(max_iter):
        g1, g2 = _theta_derivs(model, a, d, n_cat, x, theta)
        if use_prior:
            g1 = g1 - (theta - mean) / var
            g2 = g2 - 1.0 / var
        step = np.clip(-g1 / np.minimum(g2, -1e-12), -1.0, 1.0)
        theta = theta + step
        if np.max(np.abs(step), initial=0.0) < tol:
            break
    g1, g2 = _theta_derivs(model, a, d, n_cat, x, theta)
    if use_prior:
        g2 = g2 - 1.0 / var
    return theta, 1.0 / np.sqrt(-g2)


def scores(result, items: pd.DataFrame, method: str = "EAP", *, groups=None, quadpts: int = FSCORES_QUADPTS,
           theta_lim=(-6.0, 6.0)) -> pd.DataFrame:
    """Person scores with standard errors (mirt ``fscores(full.scores = TRUE, full.scores.SE = TRUE)``).

    Parameters
    ----------
    result : IRTResult
    items : pandas.DataFrame
        The item columns of the fit (same names), one row per person; NaN for a missing answer.
    method : {"EAP", "MAP", "ML"}
    groups : array_like, optional
        One group label per row (multiple-group fits only).
    quadpts, theta_lim
        EAP quadrature (mirt's ``fscores`` defaults: 121 nodes on [-6, 6]).

    Returns
    -------
    pandas.DataFrame
        ``theta``, ``se``, ``T`` (= 50 + 10 theta) and ``note`` (empty unless the score is not finite), indexed
        like ``items``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from psyscreen.irt import fit
    >>> rng = np.random.default_rng(3)
    >>> th = rng.normal(size=400)
    >>> data = pd.DataFrame({f"x{i}": (th + rng.logistic(size=400) > c).astype(int) for i, c in enumerate([-1, 0, 1])})
    >>> s = fit(data, "2PL", se=False).scores(data, "ML")
    >>> s.loc[data.sum(axis=1) == 0, "note"].iloc[0]
    'all answers in the lowest category: the ML estimate is -inf'
    """
    if method not in ("EAP", "MAP", "ML"):
        raise IRTError(f"method must be 'EAP', 'MAP' or 'ML', not {method!r}")
    frame = pd.DataFrame(items)
    missing_cols = [c for c in result.items if c not in frame.columns]
    if missing_cols:
        raise IRTDataError(f"items {missing_cols} of the fitted model are not in the data")
    frame = frame[list(result.items)]
    try:
        codes = encode(frame, categories=result.categories).codes
    except ValueError as exc:
        raise IRTDataError(str(exc)) from None
    gidx = _group_index(result, len(frame), groups)
    n_cat = result.params.n_cat
    theta = np.full(len(frame), np.nan)
    se = np.full(len(frame), np.nan)
    note = np.array([""] * len(frame), dtype=object)
    empty = np.all(np.isnan(codes), axis=1)
    note[empty] = "no answers: no score"
    nodes, _ = quadrature(quadpts, theta_lim)
    for g, params in enumerate(result.group_params):
        rows = np.where((gidx == g) & ~empty)[0]
        if rows.size == 0:
            continue
        mean, var = float(result.latent["mean"].iloc[g]), float(result.latent["var"].iloc[g])
        pat = collapse(codes[rows], int(n_cat.max()))
        ll = pattern_loglik(pat.x, np.log(np.maximum(trace_arrays(params.model, params.a, params.d, n_cat, nodes), 1e-300)),
                           pat.onehot)
        post = np.exp(ll - ll.max(axis=1, keepdims=True)) * prior_weights(nodes, mean, var)[None, :]
        post /= post.sum(axis=1, keepdims=True)
        eap = post @ nodes
        eap_sd = np.sqrt(np.maximum(post @ nodes**2 - eap**2, 0.0))
        if method == "EAP":
            t, s = eap, eap_sd
        else:
            t, s = _newton(params.model, params.a, params.d, n_cat, pat.x, eap, mean, var, method == "MAP")
            if method == "ML":
                answered = pat.x >= 0
                low = np.all((pat.x == 0) | ~answered, axis=1)
                high = np.all((pat.x == n_cat[None, :] - 1) | ~answered, axis=1)
                t = np.where(low, -np.inf, np.where(high, np.inf, t))
                s = np.where(low | high, np.nan, s)
                pat_note = np.where(low, "all answers in the lowest category: the ML estimate is -inf",
                                    np.where(high, "all answers in the highest category: the ML estimate is +inf", ""))
                note[rows] = pat_note[pat.inverse]
        theta[rows] = t[pat.inverse]
        se[rows] = s[pat.inverse]
    return pd.DataFrame({"theta": theta, "se": se, "T": 50.0 + 10.0 * theta, "note": note}, index=frame.index)


def _sum_likelihood(probs: np.ndarray, n_cat: np.ndarray) -> np.ndarray:
    """Lord-Wingersky: P(total of 0..K-1 codes = s | theta_q), shape (max_total + 1, n_nodes)."""
    n_nodes = probs.shape[1]
    dist = np.ones((1, n_nodes))
    for j in range(probs.shape[0]):
        k = int(n_cat[j])
        new = np.zeros((dist.shape[0] + k - 1, n_nodes))
        for c in range(k):
            new[c : c + dist.shape[0]] += dist * probs[j, :, c][None, :]
        dist = new
    return dist


def eap_sum(result, *, items: pd.DataFrame | None = None, group: int = 0, quadpts: int = FSCORES_QUADPTS,
            theta_lim=(-6.0, 6.0)) -> pd.DataFrame:
    """The summed-score EAP table (mirt ``fscores(method = "EAPsum", full.scores = FALSE)``).

    Parameters
    ----------
    result : IRTResult
    items : pandas.DataFrame, optional
        Data for the ``observed`` / ``expected`` columns (complete cases); without it those columns are omitted.
    group : int
        Which group's parameters and latent distribution (multiple-group fits).

    Returns
    -------
    pandas.DataFrame
        ``total`` (raw summed score), ``theta`` (EAP), ``se`` (posterior SD), ``T``, ``p_total`` and, with data,
        ``observed``, ``expected``, ``std_res``.
    """
    params = result.group_params[group]
    nodes, _ = quadrature(quadpts, theta_lim)
    probs = trace_arrays(params.model, params.a, params.d, params.n_cat, nodes)
    lik = _sum_likelihood(probs, params.n_cat)
    prior = prior_weights(nodes, float(result.latent["mean"].iloc[group]), float(result.latent["var"].iloc[group]))
    joint = lik * prior[None, :]
    p_total = joint.sum(axis=1)
    theta = joint @ nodes / p_total
    sd = np.sqrt(np.maximum(joint @ nodes**2 / p_total - theta**2, 0.0))
    offset = sum(c[0] for c in result.categories)
    total = np.arange(lik.shape[0]) + offset
    out = pd.DataFrame({"total": total, "theta": theta, "se": sd, "T": 50 + 10 * theta, "p_total": p_total})
    if items is not None:
        codes = encode(pd.DataFrame(items)[list(result.items)], categories=result.categories).codes
        complete = codes[~np.isnan(codes).any(axis=1)]
        observed = np.bincount(complete.sum(axis=1).astype(int), minlength=lik.shape[0])
        expected = complete.shape[0] * p_total
        out["observed"] = observed
        out["expected"] = expected
        out["std_res"] = np.abs(observed - expected) / np.sqrt(expected)
    return out
