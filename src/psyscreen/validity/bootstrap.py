"""Nonparametric bootstrap confidence intervals for CFA fit indices, composite reliability, AVE and omega.

Rows (persons) are resampled with replacement (within each group for a multi-group CFA, as
``lavaan::bootstrapLavaan``), the analysis is repeated on every resample, and the interval is the
percentile interval: the ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles of the bootstrap
values (numpy's default linear interpolation, R's ``quantile(type = 7)``). The random numbers come
from ``numpy.random.default_rng(seed)``: the same seed gives the same intervals. A resample on which
the analysis fails (the fit does not converge, is not identified, a singular covariance) is counted
in ``n_failed`` and reported in ``warnings``, never dropped silently; the intervals use the
resamples that succeeded (``n_valid`` per statistic).

No Python package bootstraps lavaan-equal CFA statistics, hence this module; the point estimates
are those of :func:`psyscreen.validity.cfa.cfa` and :func:`psyscreen.omega.omega` (lavaan / semTools
and psych equal); the intervals themselves are random and are not compared with R's.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pandas as pd

from psyscreen._results import ResultMixin
from psyscreen.validity.cfa import CFAError, CFAResult, ModelSpecificationError, cfa

__all__ = ["BootstrapResult", "bootstrap_cfa", "bootstrap_omega"]

_KEY_COLUMNS = ("statistic", "factor", "group")


@dataclass(frozen=True, eq=False)  # holds a DataFrame
class BootstrapResult(ResultMixin):
    """Percentile bootstrap confidence intervals.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per statistic: statistic, [factor, group,] estimate (on the full data), ci_lower,
        ci_upper (percentile interval), boot_se (standard deviation of the bootstrap values),
        n_valid (resamples that gave the statistic).
    n_boot : int
        Resamples drawn.
    n_failed : int
        Resamples on which the analysis failed (not in the intervals).
    failures : Mapping-like tuple of (error type, count)
        Why they failed.
    level : float
        Confidence level of the intervals.
    seed : int or None
        The seed of ``numpy.random.default_rng``.
    method : str
        ``"percentile"``.
    warnings : tuple of str
        Failed resamples, statistics with too few valid resamples.
    """

    table: pd.DataFrame
    n_boot: int
    n_failed: int
    failures: tuple[tuple[str, int], ...]
    level: float
    seed: int | None
    method: str = "percentile"
    warnings: tuple[str, ...] = ()

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()


def _run(point: dict[tuple, float], statistic: Callable[[pd.DataFrame], dict[tuple, float]], data: pd.DataFrame,
         strata: np.ndarray | None, n_boot: int, seed: int | None, level: float,
         errors: tuple[type[BaseException], ...], what: str) -> BootstrapResult:
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 2:
        raise ValueError(f"n_boot must be an integer of at least 2 (1000 or more for intervals), got {n_boot!r}")
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level!r}")
    rng = np.random.default_rng(seed)
    n = len(data)
    blocks = [np.arange(n)] if strata is None else [np.flatnonzero(strata == s) for s in pd.unique(strata)]
    keys = list(point)
    values = np.full((n_boot, len(keys)), np.nan)
    failures: dict[str, int] = {}
    for b in range(n_boot):
        rows = np.concatenate([blk[rng.integers(0, blk.size, blk.size)] for blk in blocks])
        sample = data.iloc[rows].reset_index(drop=True)
        try:
            with warnings.catch_warnings():  # warnings of single resamples are not the user's
                warnings.simplefilter("ignore")
                stats = statistic(sample)
        except errors as err:
            failures[type(err).__name__] = failures.get(type(err).__name__, 0) + 1
            continue
        values[b] = [stats.get(k, np.nan) for k in keys]
    lo_q, hi_q = (1 - level) / 2, (1 + level) / 2
    valid = np.isfinite(values)
    n_valid = valid.sum(0)
    lower, upper, se = (np.full(len(keys), np.nan) for _ in range(3))
    for k in range(len(keys)):
        v = values[valid[:, k], k]
        if v.size >= 2:
            lower[k], upper[k] = np.quantile(v, [lo_q, hi_q])
            se[k] = v.std(ddof=1)
    rows = [dict(zip(_KEY_COLUMNS, key)) for key in keys]
    table = pd.DataFrame(rows)
    table["estimate"] = [point[k] for k in keys]
    table["ci_lower"], table["ci_upper"], table["boot_se"], table["n_valid"] = lower, upper, se, n_valid
    table = table.dropna(axis=1, how="all")
    n_failed = int(sum(failures.values()))
    notes = []
    if n_failed:
        why = ", ".join(f"{name} {count}" for name, count in sorted(failures.items()))
        notes.append(f"{n_failed} of {n_boot} bootstrap resamples failed ({why}) and are not in the {what} intervals")
    few = [" ".join(str(p) for p in key if p is not None) for key, nv in zip(keys, n_valid) if nv < 2]
    if few:
        notes.append(f"no interval (fewer than 2 valid resamples) for: {few}")
    for note in notes:
        warnings.warn(note, stacklevel=3)
    return BootstrapResult(table=table, n_boot=int(n_boot), n_failed=n_failed,
                           failures=tuple(sorted(failures.items())), level=float(level), seed=seed,
                           warnings=tuple(notes))


_FIT_STATS = ("cfi", "tli", "rmsea", "srmr")


def _cfa_stats(res: CFAResult) -> dict[tuple, float]:
    out: dict[tuple, float] = {("fit", name, None): float(res.fit[name]) for name in _FIT_STATS}
    multi = "group" in res.reliability
    for row in res.reliability.itertuples(index=False):
        group = row.group if multi else None
        for col in ("omega", "ave"):
            out[(col, row.factor, group)] = float(getattr(row, col))
    return {((k[1], None, None) if k[0] == "fit" else k): v for k, v in out.items()}


def bootstrap_cfa(data: pd.DataFrame, model: str, *, n_boot: int = 1000, seed: int | None = None,
                  level: float = 0.95, **cfa_options: Any) -> BootstrapResult:
    """Percentile bootstrap intervals for CFA fit indices and each factor's composite reliability and AVE.

    Parameters
    ----------
    data : pandas.DataFrame
        The data of the fit (one row per person).
    model : str
        lavaan model syntax (see :func:`psyscreen.validity.cfa.cfa`).
    n_boot : int, default 1000
        Resamples. 1000 or more for a 95% interval.
    seed : int, optional
        Seed of ``numpy.random.default_rng``: the same seed gives the same intervals.
    level : float, default 0.95
        Confidence level.
    **cfa_options
        Passed to :func:`psyscreen.validity.cfa.cfa` (``std_lv``, ``group``, ``group_equal``, ...).
        With ``group``, rows are resampled within each group.

    Returns
    -------
    BootstrapResult
        Rows ``cfi``, ``tli``, ``rmsea``, ``srmr`` and per factor (and group) ``omega`` (composite
        reliability, ``semTools::compRelSEM(obs.var = FALSE)``) and ``ave`` (``semTools::AVE(obs.var =
        FALSE)``); estimate from the full data, percentile ``ci_lower``/``ci_upper``.

    Raises
    ------
    CFAError
        The model cannot be fitted to the full data (the errors of :func:`cfa`).
    ValueError
        ``n_boot`` below 2 or ``level`` outside (0, 1).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(7)
    >>> f = rng.normal(size=(300, 1))
    >>> df = pd.DataFrame(f @ [[.8, .7, .6, .5]] + rng.normal(scale=.6, size=(300, 4)), columns=list("abcd"))
    >>> boot = bootstrap_cfa(df, "f =~ a + b + c + d", n_boot=50, seed=1)
    >>> row = boot.table.set_index("statistic").loc["cfi"]
    >>> bool(row["ci_lower"] <= row["estimate"] <= row["ci_upper"]), boot.n_failed
    (True, 0)
    """
    full = cfa(data, model, **cfa_options)
    group = cfa_options.get("group")
    strata = None
    if group is not None:
        strata = data[group].to_numpy()
        keep = pd.notna(strata)
        data, strata = data.loc[keep], strata[keep]
    return _run(_cfa_stats(full), lambda d: _cfa_stats(cfa(d, model, **cfa_options)), data, strata,
                n_boot, seed, level, (CFAError, np.linalg.LinAlgError), "CFA")


def bootstrap_omega(items: pd.DataFrame, n_factors: int = 3, *, n_boot: int = 1000, seed: int | None = None,
                    level: float = 0.95, **omega_options: Any) -> BootstrapResult:
    """Percentile bootstrap intervals for omega_total and omega_h (:func:`psyscreen.omega.omega`).

    Also reached as ``omega(items, n_factors, n_boot=..., seed=...)`` (its ``bootstrap`` field).
    Rows of ``items`` are resampled (with their missing answers: each resample keeps its own
    complete cases, as ``omega`` does). Parameters and result as :func:`bootstrap_cfa`; the rows are
    ``omega_total`` and ``omega_h`` (only omega_total for one factor, where omega_h is not defined).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> g, s = rng.normal(size=(400, 1)), rng.normal(size=(400, 3))
    >>> x = 0.6 * g + 0.5 * np.repeat(s, 3, axis=1) + rng.normal(scale=0.6, size=(400, 9))
    >>> boot = bootstrap_omega(pd.DataFrame(x, columns=[f"i{j}" for j in range(9)]), 3, n_boot=30, seed=2)
    >>> boot.table["statistic"].tolist()
    ['omega_total', 'omega_h']
    """
    from psyscreen.omega import omega  # omega imports this module for its n_boot option
    from psyscreen.validity.efa import FactorAnalysisError

    if not isinstance(items, pd.DataFrame):
        raise ModelSpecificationError(f"items must be a pandas DataFrame, got {type(items).__name__}")
    omega_options = {k: v for k, v in omega_options.items() if k not in ("n_boot", "seed", "level")}

    def stats(frame: pd.DataFrame) -> dict[tuple, float]:
        res = omega(frame, n_factors, **omega_options)
        out = {("omega_total", None, None): res.omega_total}
        if n_factors > 1:
            out[("omega_h", None, None)] = res.omega_h
        return out

    return _run(stats(items), stats, items, None, n_boot, seed, level,
                (FactorAnalysisError, np.linalg.LinAlgError, ValueError), "omega")
