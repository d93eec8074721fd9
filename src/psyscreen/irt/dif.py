"""Differential item functioning (DIF) by likelihood ratio, as R mirt ``DIF(mod, which.par, scheme = "drop")``.

The baseline is the fully invariant multiple-group model (mirt ``multipleGroup(data, 1, group,
invariance = c("slopes", "intercepts", "free_means", "free_var"))``): every item's parameters equal across
groups, the latent mean and variance of the non-reference groups free. Then, one item at a time, that item's
equality constraints (its slope, its intercepts, or both: ``which_par``) are dropped, the model is refitted with
every other item as an anchor, and the two fits are compared:

    X2 = 2 (loglik_free - loglik_invariant),  df = freed parameters x (groups - 1),

with the AIC, SABIC and BIC differences (``free - invariant``: negative values favour DIF). This is mirt's
``scheme = "drop"``; its p values are unadjusted unless ``p_adjust`` says otherwise.

A significant X2 says an item works differently; how much it matters is told by effect sizes computed from the
item's group-specific parameters in the freed model (Meade, 2010, "A taxonomy of effect size measures for the
differential functioning of items and scales", J. Appl. Psych. 95, 728-743; mirt's ``empirical_ES`` gives the
sample versions):

* ``SIDS`` (signed item difference): the reference minus the focal group's expected item score, averaged over
  the focal group's latent distribution (its estimated normal, on the quadrature). Positive: at the same trait
  level the focal group scores the item lower. In answer-category steps.
* ``UIDS``: the same with the absolute difference (differences of both signs do not cancel: non-uniform DIF).
* ``ESSD``: SIDS divided by the pooled observed standard deviation of the item score (a Cohen's d-like size).
* ``signed_area`` / ``unsigned_area``: Raju's (1988) areas between the two expected-score curves over
  theta in [-4, 4] with equal weight (not tied to any group's distribution).

Owned here because it needs the project's multiple-group fit (:func:`psyscreen.irt.fit`); no Python library
does IRT LR-DIF against mirt.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from psyscreen._results import ResultMixin
from psyscreen.irt._model import ItemParams, encode, trace
from psyscreen.irt.itemfit import latent_quadrature

__all__ = ["dif", "DIFResult", "DIFError", "expected_score"]

WHICH_PAR = ("all", "slopes", "intercepts")


class DIFError(ValueError):
    """Raised when DIF cannot be tested as asked (one group, unknown option, ...)."""


def expected_score(params: ItemParams, theta) -> np.ndarray:
    """Expected item scores ``E[X_i | theta]`` in codes 0..K-1, shape (n_items, n_theta).

    Examples
    --------
    >>> p = ItemParams(("x",), "2PL", np.array([1.0]), np.array([[0.0]]), np.array([2]))
    >>> expected_score(p, [0.0]).tolist()
    [[0.5]]
    """
    probs = trace(params, theta)
    return probs @ np.arange(probs.shape[2], dtype=float)


@dataclass(frozen=True)
class DIFResult(ResultMixin):
    """Result of :func:`dif`.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per item (and focal group when there are more than two groups): ``item, focal, X2, df, p,
        p_adj, dif, dAIC, dSABIC, dBIC, SIDS, UIDS, ESSD, signed_area, unsigned_area, converged``.
    baseline : IRTResult
        The fully invariant multiple-group fit every item is compared against.
    reference : str
        The reference group (the engine's first group).
    which_par : str
    p_adjust : str
    alpha : float
        ``dif`` is ``p_adj < alpha``.
    warnings : tuple of str
    """

    table: pd.DataFrame = field(repr=False)
    baseline: object = field(repr=False, compare=False)
    reference: str
    which_par: str
    p_adjust: str
    alpha: float
    warnings: tuple[str, ...] = ()

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    @property
    def flagged(self) -> list[str]:
        """Items with significant DIF."""
        return list(dict.fromkeys(self.table.loc[self.table["dif"], "item"]))


def _adjust(p: np.ndarray, method: str) -> np.ndarray:
    p = np.asarray(p, dtype=float)
    if method == "none":
        return p
    m = len(p)
    order = np.argsort(p)
    ranked = p[order]
    if method == "holm":
        adj = np.maximum.accumulate(np.minimum((m - np.arange(m)) * ranked, 1.0))
    else:  # BH
        adj = np.minimum.accumulate((m / np.arange(1, m + 1) * ranked)[::-1])[::-1]
        adj = np.minimum(adj, 1.0)
    out = np.empty(m)
    out[order] = adj
    return out


def _sabic(res) -> float:
    return -2 * res.loglik + res.n_params * np.log((res.n_used + 2) / 24)


def _invariance(which_par: str, anchors) -> list[str]:
    base = list(anchors) + ["free_means", "free_var"]
    if which_par == "slopes":        # slope freed: intercepts stay equal everywhere
        return ["intercepts"] + base
    if which_par == "intercepts":    # intercepts freed: slopes stay equal everywhere
        return ["slopes"] + base
    return base


def _n_freed(model: str, n_cat: int, which_par: str) -> int:
    slopes = 0 if model == "Rasch" else 1
    if which_par == "slopes":
        return slopes
    if which_par == "intercepts":
        return n_cat - 1
    return slopes + n_cat - 1


def dif(items: pd.DataFrame, group, *, model: str = "graded", which_par: str = "all", scheme: str = "drop",
        p_adjust: str = "none", alpha: float = 0.05, **fit_kwargs) -> DIFResult:
    """Likelihood-ratio DIF of each item between groups, as R mirt ``DIF(mod, which.par, scheme = "drop")``.

    Parameters
    ----------
    items : pandas.DataFrame
        One column per item (numeric answers, NaN missing); may hold the group column too.
    group : str or array_like
        A column of ``items`` or one label per row (e.g. sex). The first group (as the engine orders them) is
        the reference, the others are focal groups.
    model : {"graded", "2PL", "Rasch"}
    which_par : {"all", "slopes", "intercepts"}
        Which of the tested item's parameters are freed across groups (mirt ``which.par = c("a1", "d1", ...)``,
        all by default; ``"slopes"`` tests non-uniform DIF only, ``"intercepts"`` uniform DIF only).
    scheme : {"drop"}
        Start from the fully invariant model and free one item at a time (the only scheme offered).
    p_adjust : {"none", "holm", "BH"}
        Adjustment of the p values over items (mirt ``p.adjust``, default none).
    alpha : float
        Level at which an item is flagged.
    **fit_kwargs
        Passed to :func:`psyscreen.irt.fit` (e.g. ``quadpts``, ``tol``).

    Returns
    -------
    DIFResult

    Examples
    --------
    >>> rng = np.random.default_rng(2)
    >>> sex = np.repeat(["F", "M"], 1000)
    >>> theta = rng.normal(size=2000)
    >>> harder = np.where(sex == "M", 1.0, 0.0)                 # item x3 is harder for boys at equal theta
    >>> data = pd.DataFrame({f"x{i}": (1.5 * theta + rng.logistic(size=2000) > c + (harder if i == 3 else 0))
    ...                      .astype(int) for i, c in enumerate(np.linspace(-1, 1, 8))})
    >>> res = dif(data, sex, model="2PL", p_adjust="holm")
    >>> res.flagged, int(res.table["df"].iloc[0])
    (['x3'], 2)
    """
    from psyscreen.irt import fit

    if scheme != "drop":
        raise DIFError(f"scheme {scheme!r} is not offered; use scheme='drop' (mirt's default for this test)")
    if which_par not in WHICH_PAR:
        raise DIFError(f"which_par must be one of {WHICH_PAR}, not {which_par!r}")
    if p_adjust not in ("none", "holm", "BH"):
        raise DIFError(f"p_adjust must be 'none', 'holm' or 'BH', not {p_adjust!r}")
    if which_par == "slopes" and model == "Rasch":
        raise DIFError("Rasch slopes are fixed at 1: test which_par='intercepts' (or 'all')")
    frame = pd.DataFrame(items)
    if isinstance(group, str):
        if group not in frame.columns:
            raise DIFError(f"the data have no group column {group!r}")
        labels = frame[group]
        frame = frame.drop(columns=group)
    else:
        labels = pd.Series(np.asarray(group), index=frame.index)
        if len(labels) != len(frame):
            raise DIFError(f"group has {len(labels)} entries but the items have {len(frame)} rows")
    names = [str(c) for c in frame.columns]
    fit_kwargs.setdefault("se", False)
    baseline = fit(frame, model, groups=labels.to_numpy(), invariance=names + ["free_means", "free_var"],
                   **fit_kwargs)
    groups = list(baseline.groups)
    if len(groups) < 2:
        raise DIFError("DIF needs at least two groups")
    notes = list(baseline.warnings)
    theta_grid = np.linspace(-4.0, 4.0, 161)
    coded = encode(frame).codes                       # answers as codes 0..K-1, the expected scores' unit
    lab = labels.astype(str).to_numpy()
    rows = []
    for j, item in enumerate(names):
        anchors = [n for n in names if n != item]
        free = fit(frame, model, groups=labels.to_numpy(), invariance=_invariance(which_par, anchors),
                   **{"allow_nonconvergence": True, **fit_kwargs})   # one item's refit failing is reported, not fatal
        if not free.converged:
            notes.append(f"item {item!r}: the model with its parameters freed did not converge")
        x2 = max(2.0 * (free.loglik - baseline.loglik), 0.0)
        df = _n_freed(model, int(baseline.params.n_cat[j]), which_par) * (len(groups) - 1)
        p = float(stats.chi2.sf(x2, df))
        ref_p = free.group_params[0]
        es_ref_grid = expected_score(ref_p, theta_grid)[j]
        for g in range(1, len(groups)):
            foc_p = free.group_params[g]
            lat = free.latent.iloc[g]
            nodes, w = latent_quadrature(free.quadpts, free.theta_lim, float(lat["mean"]), float(lat["var"]))
            diff = expected_score(ref_p, nodes)[j] - expected_score(foc_p, nodes)[j]
            sids, uids = float(diff @ w), float(np.abs(diff) @ w)
            x_ref, x_foc = coded[lab == groups[0], j], coded[lab == groups[g], j]
            x_ref, x_foc = x_ref[~np.isnan(x_ref)], x_foc[~np.isnan(x_foc)]
            pooled = np.sqrt(((len(x_ref) - 1) * x_ref.var(ddof=1) + (len(x_foc) - 1) * x_foc.var(ddof=1))
                             / (len(x_ref) + len(x_foc) - 2))
            grid_diff = es_ref_grid - expected_score(foc_p, theta_grid)[j]
            rows.append({
                "item": item, "focal": groups[g], "X2": x2, "df": df, "p": p,
                "dAIC": free.aic - baseline.aic, "dSABIC": _sabic(free) - _sabic(baseline),
                "dBIC": free.bic - baseline.bic,
                "SIDS": sids, "UIDS": uids, "ESSD": sids / pooled if pooled > 0 else np.nan,
                "signed_area": float(np.trapezoid(grid_diff, theta_grid)),
                "unsigned_area": float(np.trapezoid(np.abs(grid_diff), theta_grid)),
                "converged": bool(free.converged),
            })
    table = pd.DataFrame(rows)
    per_item = table.drop_duplicates("item")[["item", "p"]]
    adj = dict(zip(per_item["item"], _adjust(per_item["p"].to_numpy(), p_adjust)))
    table.insert(5, "p_adj", table["item"].map(adj))
    table.insert(6, "dif", table["p_adj"] < alpha)
    for msg in notes[len(baseline.warnings):]:
        warnings.warn(msg, stacklevel=2)
    return DIFResult(table, baseline, str(groups[0]), which_par, p_adjust, float(alpha), tuple(notes))

