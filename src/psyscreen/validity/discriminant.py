"""Discriminant validity: the heterotrait-monotrait ratio (HTMT) and the Fornell-Larcker table.

- :func:`htmt` equals ``semTools::htmt(model, data)`` (semTools 0.5.6; its defaults
  ``missing = "listwise"``, ``absolute = TRUE``, ``htmt2 = TRUE``): from the Pearson correlations
  of the model's items (complete rows), the heterotrait-heteromethod correlations of two factors
  over the monotrait-heteromethod correlations within each, by geometric means (HTMT2, Roemer,
  Schuberth and Henseler, 2021) or by arithmetic means (``htmt2=False``, the HTMT of Henseler,
  Ringle and Sarstedt, 2015). semTools is the reference because no Python package computes it.
- :func:`discriminant_validity` sets the square root of each factor's AVE (model-implied,
  ``semTools::AVE(fit, obs.var = FALSE)``) against the model's factor correlations (Fornell and
  Larcker, 1981), with a verdict per pair, and adds HTMT when the data are given.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from psyscreen._results import ResultMixin
from psyscreen.validity._lavaan_syntax import parse_model
from psyscreen.validity.cfa import CFAError, CFAResult, ModelSpecificationError, _fill

__all__ = ["DiscriminantValidity", "discriminant_validity", "htmt"]


def _factor_items(model: str) -> dict[str, list[str]]:
    items: dict[str, list[str]] = {}
    for t in parse_model(model):
        if t.op == "=~":
            items.setdefault(t.lhs, []).append(t.rhs)
    if not items:
        raise ModelSpecificationError("the model defines no factor ('f =~ item1 + item2 + ...')")
    return items


def _mean(values: np.ndarray, geometric: bool) -> float:
    return float(np.exp(np.mean(np.log(values)))) if geometric else float(np.mean(values))


def htmt(data: pd.DataFrame, model: str, *, htmt2: bool = True, absolute: bool = True) -> pd.DataFrame:
    """Heterotrait-monotrait ratio of the factors of a model, as ``semTools::htmt(model, data)``.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per person; the model's items as numeric columns. Rows missing any model item are
        dropped (``missing = "listwise"``).
    model : str
        lavaan syntax; only the ``=~`` lines are used (the items of each factor).
    htmt2 : bool, default True
        Geometric means of the correlations (HTMT2, semTools' default); False for arithmetic means
        (the original HTMT).
    absolute : bool, default True
        Use absolute correlations (semTools' default), so reverse-keyed items do not cancel.

    Returns
    -------
    pandas.DataFrame
        Symmetric factors x factors matrix with 1 on the diagonal. Values below 0.85 (or 0.90 for
        conceptually close constructs) support discriminant validity (Henseler et al., 2015).

    Raises
    ------
    ModelSpecificationError
        A model item is not a numeric column; a factor has a single item (no monotrait
        correlation); with ``htmt2`` a correlation is not positive (use ``absolute=True``).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(5)
    >>> f = rng.multivariate_normal([0, 0], [[1, .5], [.5, 1]], size=500)
    >>> x = np.repeat(f, 3, axis=1) * .8 + rng.normal(scale=.6, size=(500, 6))
    >>> h = htmt(pd.DataFrame(x, columns=list("abcdef")), "f1 =~ a + b + c; f2 =~ d + e + f")
    >>> bool(0.4 < h.loc["f1", "f2"] < 0.6)
    True
    """
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    items = _factor_items(model)
    names = list(dict.fromkeys(i for block in items.values() for i in block))
    missing = [n for n in names if n not in data.columns]
    if missing:
        raise ModelSpecificationError(f"model items {missing} are not columns of the data")
    bad = [n for n in names if not pd.api.types.is_numeric_dtype(data[n])]
    if bad:
        raise ModelSpecificationError(f"model items must be numeric columns; not numeric: {bad}")
    x = data[names].dropna().to_numpy(dtype=float)
    r = np.corrcoef(x, rowvar=False)
    if absolute:
        r = np.abs(r)
    pos = {n: k for k, n in enumerate(names)}
    factors = list(items)
    mono = {}
    for f, block in items.items():
        if len(block) < 2:
            raise ModelSpecificationError(f"factor {f!r} has one item: HTMT needs two or more items per factor")
        idx = [pos[i] for i in block]
        within = r[np.ix_(idx, idx)][np.triu_indices(len(idx), 1)]
        if htmt2 and np.any(within <= 0):
            raise ModelSpecificationError(f"factor {f!r} has a non-positive item correlation: HTMT2 takes "
                                          "geometric means; use absolute=True or htmt2=False")
        mono[f] = _mean(within, htmt2)
    out = np.eye(len(factors))
    for a in range(len(factors)):
        for b in range(a):
            ia = [pos[i] for i in items[factors[a]]]
            ib = [pos[i] for i in items[factors[b]]]
            het = r[np.ix_(ia, ib)].ravel()
            if htmt2 and np.any(het <= 0):
                raise ModelSpecificationError(f"factors {factors[b]!r} and {factors[a]!r} have a non-positive "
                                              "item correlation: use absolute=True or htmt2=False")
            out[a, b] = out[b, a] = _mean(het, htmt2) / np.sqrt(mono[factors[a]] * mono[factors[b]])
    return pd.DataFrame(out, index=pd.Index(factors, name="factor"), columns=factors)


@dataclass(frozen=True, eq=False)  # holds DataFrames
class DiscriminantValidity(ResultMixin):
    """Result of :func:`discriminant_validity`.

    Attributes
    ----------
    matrix : pandas.DataFrame
        Factors x factors: sqrt(AVE) on the diagonal, factor correlations off it (the
        Fornell-Larcker table); for a multi-group fit the index is (group, factor).
    pairs : pandas.DataFrame
        One row per pair of factors (and group): factor_a, factor_b, correlation, sqrt_ave_a,
        sqrt_ave_b, fornell_larcker (True when both sqrt(AVE) exceed the absolute correlation),
        and with data htmt and htmt_ok (HTMT below the cutoff).
    htmt_cutoff : float
        The HTMT cutoff used.
    """

    matrix: pd.DataFrame
    pairs: pd.DataFrame
    htmt_cutoff: float

    def to_frame(self) -> pd.DataFrame:
        return self.pairs.copy()


def discriminant_validity(result: CFAResult, data: pd.DataFrame | None = None, *,
                          htmt_cutoff: float = 0.85) -> DiscriminantValidity:
    """Fornell-Larcker table (sqrt(AVE) against factor correlations) of a fitted CFA, with HTMT.

    Parameters
    ----------
    result : CFAResult
        A fit of :func:`psyscreen.validity.cfa.cfa` with two or more factors.
    data : pandas.DataFrame, optional
        The data of the fit: adds the HTMT (:func:`htmt`, semTools' defaults) of each pair.
    htmt_cutoff : float, default 0.85
        HTMT below it supports discriminant validity (0.90 for conceptually close constructs).

    Returns
    -------
    DiscriminantValidity

    Raises
    ------
    CFAError
        Fewer than two factors, a factor without AVE (its items load on other factors too, e.g. a
        bifactor model), or a result not made by ``cfa``.

    Notes
    -----
    AVE is ``semTools::AVE(fit, obs.var = FALSE)`` (the ``ave`` column of ``result.reliability``);
    correlations are the model's (``lavInspect(fit, "cor.lv")``). Fornell and Larcker (1981):
    discriminant validity holds for a pair when each factor's AVE exceeds their squared correlation.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from psyscreen.validity import cfa
    >>> rng = np.random.default_rng(6)
    >>> f = rng.multivariate_normal([0, 0], [[1, .4], [.4, 1]], size=500)
    >>> df = pd.DataFrame(np.repeat(f, 3, axis=1) * .8 + rng.normal(scale=.6, size=(500, 6)), columns=list("abcdef"))
    >>> dv = discriminant_validity(cfa(df, "f1 =~ a + b + c; f2 =~ d + e + f"), df)
    >>> dv.pairs[["factor_a", "factor_b", "fornell_larcker", "htmt_ok"]].values.tolist()
    [['f1', 'f2', True, True]]
    """
    if not isinstance(result, CFAResult) or result._engine is None:
        raise CFAError("discriminant_validity needs a fit returned by psyscreen.validity.cfa")
    model, _, x = result._engine
    lv = model.lv
    if len(lv) < 2:
        raise CFAError("discriminant validity needs a model with two or more factors")
    rel = result.reliability
    if rel["ave"].isna().any():
        bad = sorted(set(rel.loc[rel["ave"].isna(), "factor"]))
        raise CFAError(f"AVE is undefined for {bad} (their items load on other factors too, e.g. a bifactor "
                       "model): the Fornell-Larcker criterion does not apply; use htmt()")
    psi = _fill(model.psi, x[None, :])[0]
    sd = np.sqrt(np.abs(np.diagonal(psi, axis1=-2, axis2=-1)))
    cor = psi / (sd[:, :, None] * sd[:, None, :])
    h = htmt(data, result.model) if data is not None else None
    multi = model.n_groups > 1
    mats, rows = [], []
    for g in range(model.n_groups):
        r = rel[rel["group"] == result.groups[g]] if multi else rel
        ave = r.set_index("factor")["ave"].reindex(lv).to_numpy()
        m = cor[g].copy()
        np.fill_diagonal(m, np.sqrt(ave))
        frame = pd.DataFrame(m, index=pd.Index(lv, name="factor"), columns=lv)
        mats.append(frame)
        for a in range(len(lv)):
            for b in range(a + 1, len(lv)):
                row = {"factor_a": lv[a], "factor_b": lv[b]}
                if multi:
                    row["group"] = result.groups[g]
                c = float(cor[g, a, b])
                row.update(correlation=c, sqrt_ave_a=float(np.sqrt(ave[a])), sqrt_ave_b=float(np.sqrt(ave[b])),
                           fornell_larcker=bool(min(ave[a], ave[b]) > c**2))
                if h is not None:
                    row.update(htmt=float(h.loc[lv[a], lv[b]]), htmt_ok=bool(h.loc[lv[a], lv[b]] < htmt_cutoff))
                rows.append(row)
    matrix = pd.concat(mats, keys=list(result.groups), names=["group"]) if multi else mats[0]
    return DiscriminantValidity(matrix=matrix, pairs=pd.DataFrame(rows), htmt_cutoff=float(htmt_cutoff))
