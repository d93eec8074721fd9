"""Shared by tests/test_mlr.py and tests/test_fiml.py: lavaan 0.6.14's figures for MLR and FIML.

tests/data/mlr_lavaan.json was written by tests/data/mlr_lavaan.R (parameterEstimates() and
fitMeasures() of each fit, lavInspect nobs/norig, lavTestLRT of the invariance steps).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from psyscreen.validity.cfa import CFAResult, cfa

DATA = Path(__file__).resolve().parent / "data"
REF = json.loads((DATA / "mlr_lavaan.json").read_text())
FILES = {"hs": "hs.csv", "PoliticalDemocracy": "political_democracy.csv", "hs_missing": "hs_missing.csv",
         "bfi_ac": "bfi_ac.csv"}
#: the measures lavaan's fitMeasures prints that psyscreen computes (all but rmr, crmr, gfi, cn ...)
NOT_COMPUTED = {"rmr", "rmr_nomean", "srmr_bentler_nomean", "crmr", "crmr_nomean", "srmr_mplus",
                "srmr_mplus_nomean", "cn_05", "cn_01", "gfi", "agfi", "pgfi"}


@lru_cache(maxsize=None)
def data(name: str) -> pd.DataFrame:
    return pd.read_csv(DATA / FILES[name])


def fit_like(ref: dict, **kw) -> CFAResult:
    """Fit the model of a reference entry with the same options as lavaan."""
    return cfa(data(ref["data"]), ref["model"], estimator=ref["estimator"], missing=ref["missing"],
               group=ref.get("group"), group_equal=tuple(ref.get("group_equal") or ()), **kw)


def assert_fit_measures(res: CFAResult, ref_fit: dict, *, skip: set = frozenset()) -> None:
    """Every fit measure lavaan printed equals psyscreen's to 1e-3 (relative 1e-6 for the large ones)."""
    for name, value in ref_fit.items():
        if name in NOT_COMPUTED or name in skip:
            continue
        assert name in res.fit, f"{name} is missing from the fit measures"
        got = res.fit[name]
        if value is None or not np.isfinite(value):
            assert got is None or not np.isfinite(got), name
            continue
        assert got == pytest.approx(value, abs=1e-3, rel=1e-6), name


def assert_params(res: CFAResult, ref_params: dict) -> None:
    """Estimates to 1e-4 and standard errors to 1e-3 on lavaan's whole parameter table."""
    lav = pd.DataFrame(ref_params)
    mine = res.params.copy()
    mine["gnum"] = mine["group"].map({g: k + 1 for k, g in enumerate(res.groups)}) if "group" in mine else 1
    merged = lav.merge(mine, left_on=["lhs", "op", "rhs", "group"], right_on=["lhs", "op", "rhs", "gnum"],
                       how="outer", suffixes=("_lav", ""), indicator=True)
    assert (merged["_merge"] == "both").all(), merged.loc[merged["_merge"] != "both", ["lhs", "op", "rhs"]]
    assert np.max(np.abs(merged["est"] - merged["est_lav"])) < 1e-4
    free = merged["free"].to_numpy(dtype=bool)
    assert np.max(np.abs(merged["se"][free] - merged["se_lav"][free])) < 1e-3
