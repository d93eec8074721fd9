"""The shared interface of the IRT engine: item parameters, category trace lines, quadrature, coding.

Parameters are kept in mirt's slope-intercept form (``coef(mod, simplify = TRUE)``):

* ``graded`` (Samejima's graded response model, mirt ``itemtype = "graded"``): the cumulative curves
  ``P(X >= k | theta) = logistic(a * theta + d_k)`` for ``k = 1 .. K-1`` with ``d_1 > d_2 > ...``;
  ``P(X = k) = P(X >= k) - P(X >= k + 1)``.
* ``2PL`` (binary items): ``P(X = 1 | theta) = logistic(a * theta + d)``, one intercept column.
* ``Rasch`` (mirt ``itemtype = "Rasch"``): slopes fixed at 1 for every item and the latent variance
  estimated instead. Binary items are the 1PL ``logistic(theta + d)``; items with more categories are
  the partial credit model in mirt's form ``P(X = k) ∝ exp(k * theta + d_k)`` with ``d_0 = 0`` (the
  ``d`` columns hold ``d_1 .. d_{K-1}``, so a binary Rasch item is the special case ``K = 2``).

The IRT metric (``coef(mod, IRTpars = TRUE)``): ``b_k = -d_k / a`` for graded and 2PL; for Rasch
(partial credit) the step difficulties ``b_k = -(d_k - d_{k-1}) / a`` (equal to ``-d`` for binary items).

Responses are coded 0 .. K-1 per item, as mirt recodes each item's sorted observed values; missing
answers are NaN. :func:`encode` does that coding.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["ItemParams", "MODELS", "trace", "quadrature", "encode", "Encoded"]

MODELS = ("graded", "2PL", "Rasch")


def _logistic(x: np.ndarray) -> np.ndarray:
    # numerically safe logistic without overflow warnings
    return 0.5 * (1.0 + np.tanh(0.5 * x))


@dataclass(frozen=True, eq=False)
class ItemParams:
    """Item parameters of a unidimensional IRT model in mirt's slope-intercept form.

    Attributes
    ----------
    items : tuple of str
        Item names, in column order.
    model : str
        ``"graded"``, ``"2PL"`` or ``"Rasch"``.
    a : numpy.ndarray, shape (n_items,)
        Slopes (all 1 for Rasch).
    d : numpy.ndarray, shape (n_items, k_max - 1)
        Intercepts ``d1 .. d_{K-1}``; NaN beyond an item's own ``n_cat - 1``.
    n_cat : numpy.ndarray of int, shape (n_items,)
        Number of categories per item.

    Examples
    --------
    >>> p = ItemParams(("x1", "x2"), "2PL", np.array([1.0, 2.0]), np.array([[0.5], [-1.0]]),
    ...                np.array([2, 2]))
    >>> p.irt().round(3).to_dict("records")
    [{'item': 'x1', 'a': 1.0, 'b1': -0.5}, {'item': 'x2', 'a': 2.0, 'b1': 0.5}]
    """

    items: tuple[str, ...]
    model: str
    a: np.ndarray
    d: np.ndarray
    n_cat: np.ndarray

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise ValueError(f"model must be one of {MODELS}, not {self.model!r}")
        a = np.asarray(self.a, dtype=float)
        d = np.atleast_2d(np.asarray(self.d, dtype=float))
        n_cat = np.asarray(self.n_cat, dtype=int)
        if a.shape != (len(self.items),) or d.shape[0] != len(self.items) or n_cat.shape != a.shape:
            raise ValueError("a, d and n_cat must have one row per item")
        object.__setattr__(self, "items", tuple(str(i) for i in self.items))
        object.__setattr__(self, "a", a)
        object.__setattr__(self, "d", d)
        object.__setattr__(self, "n_cat", n_cat)

    @property
    def n_items(self) -> int:
        return len(self.items)

    @property
    def k_max(self) -> int:
        return int(self.n_cat.max())

    def _names(self, prefix: str) -> list[str]:
        return [f"{prefix}{k + 1}" for k in range(self.d.shape[1])]

    def b(self) -> np.ndarray:
        """IRT-metric thresholds ``b`` (n_items, k_max - 1), NaN where an item has no such category."""
        if self.model == "Rasch":
            prev = np.concatenate([np.zeros((self.n_items, 1)), self.d[:, :-1]], axis=1)
            return -(self.d - prev) / self.a[:, None]
        return -self.d / self.a[:, None]

    def irt(self) -> pd.DataFrame:
        """The IRT parameterisation: ``a, b1 .. bk`` per item (mirt ``coef(IRTpars = TRUE)``)."""
        frame = pd.DataFrame(self.b(), columns=self._names("b"))
        frame.insert(0, "a", self.a)
        frame.insert(0, "item", list(self.items))
        return frame

    def to_frame(self) -> pd.DataFrame:
        """Both metrics per item: ``a1, d1 .. dk`` (slope-intercept) and ``a, b1 .. bk``."""
        frame = pd.DataFrame(self.d, columns=self._names("d"))
        frame.insert(0, "a1", self.a)
        frame.insert(0, "item", list(self.items))
        irt = self.irt().drop(columns="item")
        return pd.concat([frame, irt], axis=1)


def trace(params: ItemParams, theta) -> np.ndarray:
    """Category probabilities ``P(X_i = k | theta)`` (mirt ``probtrace``).

    Parameters
    ----------
    params : ItemParams
    theta : array_like, shape (n_theta,)

    Returns
    -------
    numpy.ndarray, shape (n_items, n_theta, k_max)
        Zeros beyond an item's ``n_cat``.

    Examples
    --------
    >>> p = ItemParams(("x",), "graded", np.array([1.0]), np.array([[1.0, -1.0]]), np.array([3]))
    >>> trace(p, [0.0]).round(4).tolist()
    [[[0.2689, 0.4621, 0.2689]]]
    """
    theta = np.atleast_1d(np.asarray(theta, dtype=float))
    return trace_arrays(params.model, params.a, params.d, params.n_cat, theta)


def trace_arrays(model: str, a: np.ndarray, d: np.ndarray, n_cat: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """:func:`trace` on bare arrays (the engine's inner loop)."""
    n_items, k_max = a.size, int(n_cat.max())
    kk = np.arange(k_max)
    valid = kk[None, :] < n_cat[:, None]  # (items, k_max)
    if model == "Rasch":
        # partial credit: log P(k) = k * a * theta + d_k - log sum, d_0 = 0
        dd = np.concatenate([np.zeros((n_items, 1)), np.nan_to_num(d[:, : k_max - 1], nan=0.0)], axis=1)
        z = kk[None, None, :] * (a[:, None, None] * theta[None, :, None]) + dd[:, None, :]
        z = np.where(valid[:, None, :], z, -np.inf)
        z -= z.max(axis=2, keepdims=True)
        ez = np.exp(z)
        return ez / ez.sum(axis=2, keepdims=True)
    # graded / 2PL: cumulative P(X >= k), k = 0..k_max, with P(>=0) = 1, P(>= n_cat) = 0
    cum = np.zeros((n_items, theta.size, k_max + 1))
    cum[:, :, 0] = 1.0
    z = a[:, None, None] * theta[None, :, None] + d[:, None, : k_max - 1]
    star = _logistic(np.nan_to_num(z, nan=-np.inf))
    cum[:, :, 1:k_max] = star
    probs = cum[:, :, :-1] - cum[:, :, 1:]
    return np.where(valid[:, None, :], probs, 0.0)


def quadrature(n_points: int = 61, lim: tuple[float, float] = (-6.0, 6.0)) -> tuple[np.ndarray, np.ndarray]:
    """mirt's EM quadrature: equally spaced nodes on ``lim``, N(0, 1) density weights summing to 1.

    Examples
    --------
    >>> nodes, weights = quadrature(5, (-2, 2))
    >>> nodes.tolist(), round(float(weights.sum()), 12)
    ([-2.0, -1.0, 0.0, 1.0, 2.0], 1.0)
    """
    nodes = np.linspace(float(lim[0]), float(lim[1]), int(n_points))
    dens = np.exp(-0.5 * nodes**2)
    return nodes, dens / dens.sum()


@dataclass(frozen=True, eq=False)
class Encoded:
    """Items coded 0 .. K-1 per item (float, NaN missing) with each item's original category labels."""

    codes: np.ndarray
    items: tuple[str, ...]
    categories: tuple[tuple, ...]

    @property
    def n_cat(self) -> np.ndarray:
        return np.array([len(c) for c in self.categories], dtype=int)


def encode(items: pd.DataFrame, categories=None) -> Encoded:
    """Map each item's sorted observed values to 0 .. K-1, as mirt does; NaN stays missing.

    Parameters
    ----------
    items : pandas.DataFrame
        One column per item, numeric answers (NaN for missing).
    categories : sequence of sequences, optional
        The labels to code against (e.g. those of a fitted model); values outside them raise ``ValueError``.

    Examples
    --------
    >>> enc = encode(pd.DataFrame({"x": [1, 3, np.nan, 3], "y": [0, 1, 1, 0]}))
    >>> enc.codes.tolist(), enc.categories
    ([[0.0, 0.0], [1.0, 1.0], [nan, 1.0], [1.0, 0.0]], ((1.0, 3.0), (0.0, 1.0)))
    """
    frame = pd.DataFrame(items)
    values = frame.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    bad = frame.notna().to_numpy() & np.isnan(values)
    if bad.any():
        col = frame.columns[np.where(bad.any(axis=0))[0][0]]
        raise ValueError(f"item {col!r} has non-numeric answers; code the answers as numbers first")
    codes = np.full(values.shape, np.nan)
    cats = []
    for j in range(values.shape[1]):
        col = values[:, j]
        seen = ~np.isnan(col)
        labels = np.unique(col[seen]) if categories is None else np.asarray(categories[j], dtype=float)
        idx = np.searchsorted(labels, col[seen])
        idx_c = np.clip(idx, 0, max(len(labels) - 1, 0))
        if len(labels) == 0 or np.any(labels[idx_c] != col[seen]):
            raise ValueError(f"item {frame.columns[j]!r} has answers outside its categories {labels.tolist()}")
        codes[seen, j] = idx
        cats.append(tuple(float(v) for v in labels))
    return Encoded(codes, tuple(str(c) for c in frame.columns), tuple(cats))
