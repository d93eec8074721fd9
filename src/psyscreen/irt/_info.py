"""Item and test information, the standard error curve, and the information at an instrument's cutoffs.

Item information is Fisher's ``I_j(theta) = sum_k P'_jk(theta)^2 / P_jk(theta)`` (mirt ``iteminfo``), test
information their sum (mirt ``testinfo``, without the prior), and the SE curve ``1 / sqrt(test information)``.
A raw cutoff (a total score) is placed on theta through the summed-score EAP table (:func:`._scores.eap_sum`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from psyscreen.irt._errors import IRTError
from psyscreen.irt._model import ItemParams, trace_arrays

__all__ = ["item_information", "test_information", "se_curve", "information_at"]


def _info_matrix(params: ItemParams, theta) -> np.ndarray:
    theta = np.atleast_1d(np.asarray(theta, dtype=float))
    a, d, n_cat = params.a, params.d, params.n_cat
    probs = trace_arrays(params.model, a, d, n_cat, theta)  # (J, T, K)
    k_max = probs.shape[2]
    if params.model == "Rasch":
        kk = np.arange(k_max)[None, None, :]
        mean = (probs * kk).sum(axis=2, keepdims=True)
        return (a**2)[:, None] * (probs * (kk - mean) ** 2).sum(axis=2)
    z = a[:, None, None] * theta[None, :, None] + d[:, None, :]
    star = 0.5 * (1 + np.tanh(0.5 * np.nan_to_num(z, nan=-np.inf)))
    ones = np.ones(star.shape[:2] + (1,))
    star = np.concatenate([ones, star, 0 * ones], axis=2)
    w = star * (1 - star)
    dp = a[:, None, None] * (w[:, :, :-1] - w[:, :, 1:])
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(probs > 0, dp**2 / np.where(probs > 0, probs, 1.0), 0.0)
    return terms.sum(axis=2)


def item_information(params: ItemParams, theta) -> pd.DataFrame:
    """Item information at ``theta``: one column per item, indexed by theta (mirt ``iteminfo``).

    Examples
    --------
    >>> p = ItemParams(("x",), "2PL", np.array([2.0]), np.array([[0.0]]), np.array([2]))
    >>> float(item_information(p, [0.0]).iloc[0, 0])  # a^2 P Q = 4 * 0.25
    1.0
    """
    theta = np.atleast_1d(np.asarray(theta, dtype=float))
    return pd.DataFrame(_info_matrix(params, theta).T, columns=list(params.items),
                        index=pd.Index(theta, name="theta"))


def test_information(params: ItemParams, theta) -> np.ndarray:
    """Test information (sum of the item informations; mirt ``testinfo``)."""
    return _info_matrix(params, theta).sum(axis=0)


def se_curve(params: ItemParams, theta) -> np.ndarray:
    """Standard error of measurement ``1 / sqrt(test information)`` at ``theta``."""
    return 1.0 / np.sqrt(test_information(params, theta))


def information_at(result, cutoffs, scale: str = "theta", *, group: int = 0) -> pd.DataFrame:
    """Where the scale decides: item and test information at each cutoff, as a table for a committee.

    Parameters
    ----------
    result : IRTResult
    cutoffs : sequence of float
        Cut points on theta (``scale="theta"``) or raw total scores (``scale="raw"``; placed on theta through
        the summed-score EAP table, so a raw cutoff must be an attainable total).
    scale : {"theta", "raw"}

    Returns
    -------
    pandas.DataFrame
        One row per item (its information at each cutoff and its share of the test information, ``share_*``),
        then rows ``test information``, ``standard error`` and ``reliability`` (conditional:
        ``var I / (var I + 1)`` with ``var`` the latent variance); one column per
        cutoff, labelled with the cutoff and its theta. ``attrs["theta"]`` holds the thetas.
    """
    cut = np.atleast_1d(np.asarray(cutoffs, dtype=float))
    if scale == "theta":
        theta = cut
        labels = [f"θ={c:g}" for c in cut]
    elif scale == "raw":
        table = result.eap_sum(group=group)
        lookup = dict(zip(table["total"].round(9), table["theta"]))
        bad = [c for c in cut if round(float(c), 9) not in lookup]
        if bad:
            raise IRTError(
                f"raw cutoff(s) {bad} are not attainable totals of these items "
                f"({table['total'].min():g}..{table['total'].max():g})"
            )
        theta = np.array([lookup[round(float(c), 9)] for c in cut])
        labels = [f"total {c:g} (θ={t:.2f})" for c, t in zip(cut, theta)]
    else:
        raise IRTError(f"scale must be 'theta' or 'raw', not {scale!r}")
    params = result.group_params[group]
    info = _info_matrix(params, theta)  # (J, n_cut)
    test = info.sum(axis=0)
    rows = {item: info[j] for j, item in enumerate(params.items)}
    rows.update({f"share {item}": info[j] / test for j, item in enumerate(params.items)})
    rows["test information"] = test
    rows["standard error"] = 1.0 / np.sqrt(test)
    var = float(result.latent["var"].iloc[group])
    rows["reliability"] = var * test / (var * test + 1.0)
    out = pd.DataFrame(rows, index=labels).T
    out.attrs["theta"] = theta.tolist()
    return out
