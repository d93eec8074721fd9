"""Item fit: Orlando and Thissen's S-X2, as R mirt's ``itemfit(mod)`` (its default statistic).

S-X2 (Orlando & Thissen, 2000; Kang & Chen, 2007, for polytomous items) compares, for each item, the
observed proportion of each category among the students with summed score ``s`` with the proportion the
model implies for that summed score. The model's side needs the distribution of the summed score given
theta, built item by item with the Lord-Wingersky (1984) recursion over the quadrature nodes (vectorised
over nodes and scores; the recursion runs over items, never over students):

    E_ik(s) = N_s * integral P_i(k | theta) L_{-i}(s - k | theta) g(theta) dtheta
                  / integral L(s | theta) g(theta) dtheta,

``L`` the summed-score likelihood of all items, ``L_{-i}`` that of the other items, ``g`` the latent
density on mirt's quadrature (61 equally spaced nodes on [-6, 6], normal weights with the model's mean and
variance), ``N_s`` the number of students with score ``s``; the scores 0 and the maximum are left out.

Sparse tables are collapsed before the chi-square is summed, with mirt's rule for ``mincell = 1`` (its
default; see :func:`_collapse`): a summed score whose cells are impossible for the item (e.g. score 1 with
category 3) joins the nearest possible score; empty scores and scores held by one student join a
neighbour; within a score, the smallest expected cell joins its smaller neighbour category until every
cell reaches ``mincell``; rare top categories join the one below; and finally any score row with an
expected cell below ``mincell`` joins a neighbouring row. ``df`` = (expected cells left, not empty) -
(score rows left) - (the item's free parameters) - (free parameters of the latent distribution: 1 for
Rasch, whose variance is estimated). ``RMSEA = sqrt(max(S_X2 / df - 1, 0) / (N - 1))``.

Owned here because no Python library computes S-X2 with mirt's collapsing (girth has none; PyPI ``mirt`` is
checked only against itself). Students with a missing answer are left out, as ``itemfit(mod, na.rm = TRUE)``
does (S-X2 needs complete summed scores).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from psyscreen._results import ResultMixin
from psyscreen.irt._model import ItemParams, encode, trace

__all__ = ["itemfit", "ItemFitResult", "ItemFitError", "summed_score_likelihood", "latent_quadrature",
           "n_free_item_params", "as_codes", "unwrap"]


class ItemFitError(ValueError):
    """Raised when the data cannot be checked against the item parameters."""


def latent_quadrature(n_points: int = 61, lim: tuple[float, float] = (-6.0, 6.0), mean: float = 0.0,
                      var: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """mirt's fixed quadrature with the latent density N(mean, var): equally spaced nodes, normalised weights.

    Examples
    --------
    >>> nodes, w = latent_quadrature(5, (-2, 2), var=4.0)
    >>> nodes.tolist(), round(float(w.sum()), 12), bool(w[0] == w[-1])
    ([-2.0, -1.0, 0.0, 1.0, 2.0], 1.0, True)
    """
    if not var > 0:
        raise ItemFitError(f"the latent variance must be positive, not {var}")
    nodes = np.linspace(float(lim[0]), float(lim[1]), int(n_points))
    dens = np.exp(-0.5 * (nodes - mean) ** 2 / var)
    return nodes, dens / dens.sum()


def summed_score_likelihood(probs: np.ndarray, n_cat: np.ndarray) -> np.ndarray:
    """Lord-Wingersky recursion: ``P(S = s | theta_q)`` for the summed score of the given items.

    Parameters
    ----------
    probs : numpy.ndarray, shape (n_items, n_nodes, k_max)
        Category probabilities at the nodes (as :func:`psyscreen.irt.trace` returns them).
    n_cat : numpy.ndarray of int, shape (n_items,)

    Returns
    -------
    numpy.ndarray, shape (sum(n_cat - 1) + 1, n_nodes)

    Examples
    --------
    >>> p = np.array([[[0.5, 0.5]], [[0.5, 0.5]]])          # two fair coins at one node
    >>> summed_score_likelihood(p, np.array([2, 2]))[:, 0].tolist()
    [0.25, 0.5, 0.25]
    """
    n_nodes = probs.shape[1]
    like = np.ones((1, n_nodes))
    for i in range(probs.shape[0]):
        k_i = int(n_cat[i])
        new = np.zeros((like.shape[0] + k_i - 1, n_nodes))
        for k in range(k_i):
            new[k:k + like.shape[0]] += like * probs[i, :, k]
        like = new
    return like


def n_free_item_params(params: ItemParams) -> np.ndarray:
    """Free parameters per item as mirt counts them: slope + K-1 intercepts (Rasch: K-1 intercepts)."""
    extra = 0 if params.model == "Rasch" else 1
    return params.n_cat - 1 + extra


def unwrap(model, latent_mean: float | None, latent_var: float | None) -> tuple[ItemParams, float, float]:
    """ItemParams and the latent mean/variance from an :class:`IRTResult` (single group) or ItemParams."""
    if isinstance(model, ItemParams):
        return model, 0.0 if latent_mean is None else latent_mean, 1.0 if latent_var is None else latent_var
    if hasattr(model, "group_params") and hasattr(model, "latent"):
        if len(model.group_params) != 1:
            raise ItemFitError("item and model fit are for a single-group fit; fit each group on its own")
        lat = model.latent.iloc[0]
        return (model.params, float(lat["mean"]) if latent_mean is None else latent_mean,
                float(lat["var"]) if latent_var is None else latent_var)
    raise ItemFitError(f"expected a fitted IRTResult or ItemParams, not {type(model).__name__}")


def as_codes(params: ItemParams, data) -> np.ndarray:
    """Responses as a float array of codes 0..K-1 (NaN missing), checked against ``params``.

    A DataFrame is coded with :func:`psyscreen.irt.encode` (each item's sorted observed values, as mirt does)
    and its columns are taken by the parameter's item names; an array is taken as codes already.
    """
    if isinstance(data, pd.DataFrame):
        missing = [i for i in params.items if i not in data.columns]
        if missing:
            raise ItemFitError(f"the data have no column(s) {missing}; pass the items the model was fitted to")
        enc = encode(data[list(params.items)])
        codes = enc.codes
        short = [params.items[j] for j in range(params.n_items) if enc.n_cat[j] != params.n_cat[j]]
        if short:
            raise ItemFitError(
                f"item(s) {short} have a different number of observed categories than the model "
                f"({dict(zip(params.items, params.n_cat.tolist()))}); use the data the model was fitted to")
    else:
        codes = np.asarray(data, dtype=float)
        if codes.ndim != 2 or codes.shape[1] != params.n_items:
            raise ItemFitError(f"data must have one column per item ({params.n_items}), got shape {codes.shape}")
        seen = codes[~np.isnan(codes)]
        if seen.size and (np.any(seen != np.round(seen)) or seen.min() < 0):
            raise ItemFitError("coded data must hold the category codes 0..K-1 (NaN for missing)")
        over = np.nanmax(np.where(np.isnan(codes), -1, codes), axis=0) >= params.n_cat
        if over.any():
            raise ItemFitError(f"item(s) {[params.items[j] for j in np.where(over)[0]]} have codes beyond "
                               "their number of categories")
    return codes


def _collapse(obs: np.ndarray, exp: np.ndarray, mincell: float) -> tuple[np.ndarray, np.ndarray] | None:
    """mirt's collapsing of one item's S-X2 table (scores in rows, categories in columns).

    ``exp`` holds NaN where a (score, category) cell is impossible. Returns the collapsed (O, E) with NaN in
    the cells that do not count, or None when fewer than two score rows are left (no statistic). The steps
    follow mirt 1.47's behaviour, including its detail that the within-row collapsing (step 4) looks up the
    rows flagged *before* the single-student rows were merged (step 3).
    """
    O = obs.astype(float).copy()
    E = exp.copy()
    # 1. impossible cells: low-score rows join the first fully possible row, high-score rows the last one
    bad = np.isnan(E).any(axis=1)
    E = np.nan_to_num(E, nan=0.0)
    if bad.any():
        idx = np.where(bad)[0]
        half = len(idx) // 2
        up, low = idx[:half], idx[half:]
        keep = np.ones(len(E), dtype=bool)
        if len(up):
            tgt = up.max() + 1
            rows = np.arange(up[0], tgt + 1)
            E[tgt], O[tgt] = E[rows].sum(axis=0), O[rows].sum(axis=0)
            keep[up[0]:tgt] = False
        if len(low):
            tgt = low.min() - 1
            rows = np.arange(tgt, low[-1] + 1)
            E[tgt], O[tgt] = E[rows].sum(axis=0), O[rows].sum(axis=0)
            keep[tgt + 1:low[-1] + 1] = False
        O, E = O[keep], E[keep]
    if len(O) == 0:
        return None
    # 2. empty score rows go
    nonempty = O.sum(axis=1) != 0
    O, E = O[nonempty], E[nonempty]
    if len(O) < 2:
        return None
    flagged = (E < mincell).any(axis=1)            # rows flagged before step 3 (mirt's order)
    # 3. a row held by one student joins the next row; a last such row joins the one before
    drop = []
    for j in range(len(O) - 1):
        if O[j].sum() == 1:
            drop.append(j)
            O[j + 1] += O[j]
            E[j + 1] += E[j]
    if drop:
        keep = np.ones(len(O), dtype=bool)
        keep[drop] = False
        O, E = O[keep], E[keep]
    if len(O) >= 2 and O[-1].sum() == 1:
        O[-2] += O[-1]
        E[-2] += E[-1]
        O, E = O[:-1], E[:-1]
    if len(O) < 2:
        return None
    n_col = E.shape[1]
    # 4. within a flagged row, the smallest expected cell joins its smaller neighbour until all >= mincell
    if n_col > 2:
        for j in range(len(E)):
            if not flagged[j]:
                continue
            e, o = list(E[j]), list(O[j])
            while len(e) > 2:
                m = min(e)
                w = max(i for i, v in enumerate(e) if v == m)
                if w == 0:
                    pick = 1
                elif w == len(e) - 1:
                    pick = w - 1
                else:
                    pick = w - 1 if e[w - 1] <= e[w + 1] else w + 1
                e[pick] += e[w]
                o[pick] += o[w]
                del e[w], o[w]
                if all(v >= mincell for v in e):
                    break
            E[j] = e + [0.0] * (n_col - len(e))
            O[j] = o + [0.0] * (n_col - len(o))
    # 5. a rare last category joins the one before
    if n_col > 2:
        while E.shape[1] > 2:
            if not E[:, -1].sum() < mincell * np.ceil(len(E) * 0.1):
                break
            E[:, -2] += E[:, -1]
            O[:, -2] += O[:, -1]
            E, O = E[:, :-1], O[:, :-1]
    # 6. a category with a positive expected count in under 5% of the rows joins the one below
    dropcol = np.zeros(E.shape[1], dtype=bool)
    for j in range(E.shape[1] - 1, 0, -1):
        if (E[:, j] > 0).sum() / len(E) < 0.05:
            dropcol[j] = True
            E[:, j - 1] += E[:, j]
            O[:, j - 1] += O[:, j]
    E, O = E[:, ~dropcol], O[:, ~dropcol]
    if E.shape[1] < 2:
        return None
    # 7. a row with an expected cell below mincell joins a neighbouring row (the one with fewer students)
    while len(E) > 1:
        low = ((E < mincell) & (E != 0)).any(axis=1)
        if not low.any():
            break
        w = int(np.argmax(low))
        if w == 0:
            pick = 1
        elif w == len(E) - 1:
            pick = w - 1
        else:
            pick = w - 1 if O[w - 1].sum() <= O[w + 1].sum() else w + 1
        E[pick] += E[w]
        O[pick] += O[w]
        E, O = np.delete(E, w, axis=0), np.delete(O, w, axis=0)
    if len(E) < 2:
        return None
    E = np.where(E == 0, np.nan, E)
    return O, E


@dataclass(frozen=True)
class ItemFitResult(ResultMixin):
    """Result of :func:`itemfit`.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per item: ``item, S_X2, df, RMSEA, p`` (mirt's ``S_X2, df.S_X2, RMSEA.S_X2, p.S_X2``).
        ``S_X2`` and ``p`` are NaN where no degrees of freedom are left after collapsing (see ``warnings``).
    n_used : int
        Students with complete answers (those the statistic uses).
    mincell : float
        Minimum expected cell count used for collapsing.
    observed, expected : dict
        Per item, the collapsed observed and expected tables (rows: score groups left; NaN cells do not
        count), for a reader who wants to see where an item misfits.
    warnings : tuple of str
    """

    table: pd.DataFrame = field(repr=False)
    n_used: int
    mincell: float
    observed: dict = field(repr=False, compare=False)
    expected: dict = field(repr=False, compare=False)
    warnings: tuple[str, ...] = ()

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()


def itemfit(params, data, *, latent_mean: float | None = None, latent_var: float | None = None,
            mincell: float = 1.0, n_points: int = 61, lim: tuple[float, float] = (-6.0, 6.0)) -> ItemFitResult:
    """S-X2 item fit (Orlando & Thissen) of every item, as R mirt ``itemfit(mod)``.

    Parameters
    ----------
    params : IRTResult or ItemParams
        A single-group fit of :func:`psyscreen.irt.fit`, or its item parameters.
    data : pandas.DataFrame or numpy.ndarray
        The responses the model was fitted to: a DataFrame with the items as columns (coded as
        :func:`psyscreen.irt.encode` codes them), or an array of codes 0..K-1 with NaN for missing.
    latent_mean, latent_var : float, optional
        The latent distribution (default: the fit's, N(0, 1) for ItemParams; mirt estimates the variance of
        Rasch models).
    mincell : float
        Minimum expected count per cell before collapsing (mirt's ``mincell``, default 1).
    n_points, lim : int, tuple
        Quadrature (mirt: 61 points on [-6, 6] for one factor).

    Returns
    -------
    ItemFitResult

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> p = ItemParams(tuple("abcde"), "2PL", np.full(5, 1.2), np.linspace(-1, 1, 5)[:, None], np.full(5, 2))
    >>> theta = rng.standard_normal(2000)
    >>> probs = trace(p, theta)[:, :, 1].T
    >>> x = (rng.random(probs.shape) < probs).astype(float)
    >>> fit = itemfit(p, x)
    >>> fit.table["df"].tolist()
    [2, 2, 2, 2, 2]
    >>> bool((fit.table["p"] > 0.001).all())
    True
    """
    params, latent_mean, latent_var = unwrap(params, latent_mean, latent_var)
    codes = as_codes(params, data)
    notes: list[str] = []
    complete = ~np.isnan(codes).any(axis=1)
    if not complete.all():
        n_out = int((~complete).sum())
        msg = (f"{n_out} student(s) with a missing answer were left out of S-X2 (it needs complete summed "
               "scores; as mirt itemfit(na.rm = TRUE))")
        warnings.warn(msg, stacklevel=2)
        notes.append(msg)
    codes = codes[complete].astype(int)
    n = len(codes)
    if n < 2:
        raise ItemFitError("S-X2 needs at least two students with complete answers")
    if params.n_items < 3:
        raise ItemFitError("S-X2 needs at least three items (a summed score of the other items)")
    nodes, w = latent_quadrature(n_points, lim, latent_mean, latent_var)
    probs = trace(params, nodes)                              # (items, nodes, k_max)
    n_cat = params.n_cat
    total_like = summed_score_likelihood(probs, n_cat)        # (S+1, nodes)
    p_score = total_like @ w                                  # P(S = s)
    s_max = total_like.shape[0] - 1
    score = codes.sum(axis=1)
    n_s = np.bincount(score, minlength=s_max + 1)[1:s_max]   # students per score 1..max-1
    extra = 1 if params.model == "Rasch" else 0               # mirt's free latent variance for Rasch
    n_par = n_free_item_params(params)
    rows, obs_tabs, exp_tabs = [], {}, {}
    others = np.ones(params.n_items, dtype=bool)
    for i, name in enumerate(params.items):
        others[:] = True
        others[i] = False
        rest = summed_score_likelihood(probs[others], n_cat[others])   # (S - K_i + 2, nodes)
        k_i = int(n_cat[i])
        joint = np.full((s_max + 1, k_i), np.nan)
        for k in range(k_i):
            joint[k:k + rest.shape[0], k] = rest @ (probs[i, :, k] * w)
        expected = (joint / p_score[:, None])[1:s_max] * n_s[:, None]
        observed = np.zeros((s_max + 1, k_i))
        np.add.at(observed, (score, codes[:, i]), 1.0)
        observed = observed[1:s_max]
        coll = _collapse(observed, expected, mincell)
        if coll is None:
            stat, df = np.nan, 0
        else:
            o, e = coll
            cells = ~np.isnan(e)
            stat = float(np.sum((o[cells] - e[cells]) ** 2 / e[cells]))
            df = int(cells.sum() - len(e) - n_par[i] - extra)
            obs_tabs[name], exp_tabs[name] = o, e
        df = max(df, 0)
        if df == 0:
            stat = np.nan
            notes.append(f"item {name!r}: no degrees of freedom left for S-X2 after collapsing sparse cells")
        p = float(stats.chi2.sf(stat, df)) if df > 0 else np.nan
        rmsea = float(np.sqrt(max(stat / df - 1.0, 0.0) / (n - 1))) if df > 0 else np.nan
        rows.append({"item": name, "S_X2": stat, "df": df, "RMSEA": rmsea, "p": p})
    if any("no degrees of freedom" in m for m in notes):
        for m in notes:
            if "no degrees of freedom" in m:
                warnings.warn(m, stacklevel=2)
    return ItemFitResult(pd.DataFrame(rows), n, float(mincell), obs_tabs, exp_tabs, tuple(notes))
