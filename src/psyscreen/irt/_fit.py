"""``fit``: unidimensional graded / 2PL / Rasch models by marginal maximum likelihood (EM), as R mirt.

Equals ``mirt::mirt(data, 1, itemtype = model)`` with its defaults (EM over 61 equally spaced nodes on
[-6, 6], N(0, 1) latent distribution, stop when no parameter moves more than 1e-4, at most 500 cycles) and,
with ``groups=``, ``mirt::multipleGroup(data, 1, group, invariance = ...)``. Standard errors are the observed
information of the marginal likelihood (mirt's ``SE.type = "Oakes"``, see :mod:`._se`). We own this
algorithm because no Python library fits these models checked against mirt (issue 12).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from psyscreen.irt._em import State, e_all, em
from psyscreen.irt._errors import IRTConvergenceError, IRTDataError, IRTGroupError
from psyscreen.irt._estep import collapse
from psyscreen.irt._model import MODELS, encode, quadrature
from psyscreen.irt._result import IRTResult, build_result
from psyscreen.irt._se import observed_information
from psyscreen.irt._structure import build_structure

__all__ = ["fit", "MIN_GROUP_SIZE"]

MIN_GROUP_SIZE = 20


def _split_groups(frame: pd.DataFrame, groups):
    if groups is None:
        return frame, None
    if isinstance(groups, str) and groups in frame.columns:
        labels = frame[groups]
        frame = frame.drop(columns=groups)
    else:
        labels = pd.Series(np.asarray(groups), index=frame.index)
        if len(labels) != len(frame):
            raise IRTGroupError(f"groups has {len(labels)} entries but the items have {len(frame)} rows")
    return frame, labels


def _start(model: str, codes: np.ndarray, n_cat: np.ndarray, st) -> State:
    """Start values: slope 1, intercepts from the marginal category proportions, N(0, 1) latent."""
    free_items = []
    for j in range(codes.shape[1]):
        col = codes[~np.isnan(codes[:, j]), j]
        k = int(n_cat[j])
        props = np.bincount(col.astype(int), minlength=k) / col.size
        props = np.clip(props, 1e-3, None)
        props /= props.sum()
        if model == "Rasch":
            beta = np.cumsum(np.log(props[1:] / props[:-1]))
        else:
            above = np.clip(1.0 - np.cumsum(props)[:-1], 1e-3, 1 - 1e-3)
            beta = np.concatenate([[1.0], 1.2 * np.log(above / (1 - above))])
        vec = np.zeros(st.n_free_item[j])
        for ix in st.idx[j]:
            vec[ix] = beta
        free_items.append(vec)
    return State(free_items, np.zeros(st.n_groups), np.ones(st.n_groups))


def _check_groups(codes_by_group, labels, st, n_cat, items):
    for g, (codes, label) in enumerate(zip(codes_by_group, labels)):
        if codes.shape[0] < MIN_GROUP_SIZE:
            raise IRTGroupError(
                f"group {label!r} has {codes.shape[0]} students with answers; a multiple-group IRT fit needs at "
                f"least {MIN_GROUP_SIZE} per group: merge small groups or leave them out"
            )
        for j, item in enumerate(items):
            if st.shared_d[j] and (st.model == "Rasch" or st.shared_a[j]):
                continue
            seen = np.unique(codes[:, j][~np.isnan(codes[:, j])])
            if seen.size < n_cat[j]:
                raise IRTGroupError(
                    f"in group {label!r} item {item!r} uses {seen.size} of its {n_cat[j]} categories, so its "
                    "group-specific intercepts cannot be estimated: constrain the item across groups "
                    "(invariance=[..., item]) or merge sparse categories"
                )


def fit(
    items: pd.DataFrame,
    model: str = "graded",
    *,
    quadpts: int = 61,
    theta_lim: tuple[float, float] = (-6.0, 6.0),
    tol: float = 1e-4,
    max_cycles: int = 500,
    groups=None,
    invariance=(),
    se: bool = True,
    allow_nonconvergence: bool = False,
) -> IRTResult:
    """Fit a unidimensional IRT model by marginal maximum likelihood (EM), as ``mirt::mirt``.

    Parameters
    ----------
    items : pandas.DataFrame
        One column per item, numeric answers; NaN for a missing answer (skipped in the likelihood).
        Each item's observed values are coded 0 .. K-1 in sorted order (as mirt does).
    model : {"graded", "2PL", "Rasch"}
        Samejima's graded response model, the two-parameter logistic (binary items), or the Rasch family
        (slopes fixed at 1 and the latent variance estimated; partial credit for polytomous items).
    quadpts, theta_lim : int, (float, float)
        The fixed quadrature: ``quadpts`` equally spaced nodes on ``theta_lim`` (mirt: 61 on [-6, 6]).
    tol, max_cycles : float, int
        EM stops when no free parameter changes by more than ``tol`` in a cycle (mirt ``TOL = 1e-4``,
        ``NCYCLES = 500``).
    groups : str or array_like, optional
        A column of ``items`` or one label per row: a multiple-group fit (``mirt::multipleGroup``); the first
        group (category order if categorical, else sorted) is the reference with a N(0, 1) latent.
    invariance : sequence of str
        Any of ``"slopes"``, ``"intercepts"`` (equal across groups), ``"free_means"``, ``"free_var"`` (latent
        mean/variance of the non-reference groups estimated), and item names (all of that item's parameters
        equal across groups: anchor items). Without free_means/free_var every group's latent is N(0, 1).
    se : bool
        Compute standard errors from the observed information (Oakes' identity, in closed form: see
        :mod:`._se`).
    allow_nonconvergence : bool
        Return an unconverged fit (with a warning) instead of raising :class:`IRTConvergenceError`.

    Returns
    -------
    IRTResult

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> theta = rng.normal(size=500)
    >>> data = pd.DataFrame({f"x{i}": (theta + rng.logistic(size=500) > c).astype(int)
    ...                      for i, c in enumerate([-1.0, 0.0, 1.0, 0.5])})
    >>> res = fit(data, "2PL")
    >>> res.converged, res.n_used, res.params.a.shape
    (True, 500, (4,))
    """
    if model not in MODELS:
        raise IRTDataError(f"model must be one of {list(MODELS)}, not {model!r}")
    frame, labels = _split_groups(pd.DataFrame(items), groups)
    if frame.shape[1] < 2:
        raise IRTDataError("an IRT model needs at least two items")
    try:
        enc = encode(frame)
    except ValueError as exc:
        raise IRTDataError(str(exc)) from None
    codes = enc.codes
    answered = ~np.all(np.isnan(codes), axis=1)
    notes = []
    if labels is not None:
        has_group = labels.notna().to_numpy()
        if (~has_group & answered).any():
            notes.append(f"{int((~has_group & answered).sum())} rows without a group were left out")
        answered &= has_group
    n_dropped = int((~answered).sum())
    if n_dropped:
        notes.append(f"{n_dropped} rows without any answer (or group) were left out")
    codes = codes[answered]
    n_cat = np.array([int(np.unique(codes[~np.isnan(codes[:, j]), j]).size) for j in range(codes.shape[1])])
    if np.any(n_cat < 2):
        bad = [enc.items[j] for j in np.where(n_cat < 2)[0]]
        raise IRTDataError(
            f"item(s) {bad} have a single observed category (everyone gave the same answer): an IRT model "
            "cannot estimate them; leave them out"
        )
    if model == "2PL" and np.any(n_cat > 2):
        bad = [enc.items[j] for j in np.where(n_cat > 2)[0]]
        raise IRTDataError(f"2PL is for binary items but {bad} have more than two categories: use model='graded'")
    cats = tuple(enc.categories)
    if labels is None:
        group_labels = ("all",)
        codes_by_group = [codes]
    else:
        lab = labels[answered]
        if isinstance(lab.dtype, pd.CategoricalDtype):
            order = [c for c in lab.cat.categories if (lab == c).any()]
        else:
            order = sorted(pd.unique(lab), key=lambda v: (str(type(v)), v))
        if len(order) < 2:
            raise IRTGroupError(f"groups= has {len(order)} group(s); a multiple-group fit needs at least two")
        group_labels = tuple(str(v) for v in order)
        codes_by_group = [codes[(lab == v).to_numpy()] for v in order]
    st = build_structure(model, n_cat, enc.items, len(group_labels), invariance)
    if len(group_labels) > 1:
        _check_groups(codes_by_group, group_labels, st, n_cat, enc.items)
    k_max = int(n_cat.max())
    patterns = [collapse(c, k_max) for c in codes_by_group]
    nodes, _ = quadrature(quadpts, theta_lim)
    state, converged, cycles, _ = em(st, _start(model, codes, n_cat, st), patterns, nodes, tol, max_cycles)
    loglik = e_all(st, state, patterns, nodes, False)[0]
    info = None
    if se and converged:
        info = observed_information(st, state, patterns, nodes)
    result = build_result(
        st=st, state=state, items=enc.items, categories=cats, group_labels=group_labels, loglik=loglik,
        n_used=int(codes.shape[0]), n_dropped=n_dropped, converged=converged, iterations=cycles,
        information=info, notes=notes, quadpts=quadpts, theta_lim=tuple(theta_lim), tol=tol,
    )
    if not converged:
        message = (
            f"the {model} model did not converge in {max_cycles} EM cycles (largest parameter change still "
            f">= {tol}); try more cycles (max_cycles=), merging sparse answer categories (fewer categories), "
            "dropping items with near-zero slopes, or a simpler model"
        )
        if not allow_nonconvergence:
            raise IRTConvergenceError(message, result)
        warnings.warn(message, stacklevel=2)
        result = result.with_warning(message)
    for w in result.warnings:
        if w not in notes:
            continue
        warnings.warn(w, stacklevel=2)
    return result
