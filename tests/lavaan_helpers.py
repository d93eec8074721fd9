"""Shared by the CFA and invariance tests: compare a fit with lavaan's full parameter table."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from psyscreen.validity.cfa import CFAResult

# tests/data/lavaan_cfa_extra.json was written by tests/data/lavaan_cfa_extra.R (lavaan 0.6.14):
# parameterEstimates() and standardizedSolution() of each fit, and more fitMeasures().
EXTRA = json.loads((Path(__file__).resolve().parent / "data" / "lavaan_cfa_extra.json").read_text())


def compare_with_lavaan(res: CFAResult, ref: dict, *, tol: float = 1e-4) -> None:
    """Assert fit measures and the whole parameter table (est, se, std.all and its se) agree."""
    for name, value in ref["fit"].items():
        assert res.fit[name] == pytest.approx(value, abs=tol), name
    lav = pd.DataFrame(ref["params"])
    lav = lav[lav["op"] != "=="]
    mine = res.params.copy()
    gnum = {g: k + 1 for k, g in enumerate(res.groups)}
    mine["gnum"] = mine["group"].map(gnum) if "group" in mine else 1
    merged = lav.merge(mine, left_on=["lhs", "op", "rhs", "group"], right_on=["lhs", "op", "rhs", "gnum"],
                       how="outer", suffixes=("_lav", ""), indicator=True)
    assert (merged["_merge"] == "both").all(), merged.loc[merged["_merge"] != "both", ["lhs", "op", "rhs"]]
    for lav_col, col in [("est_lav", "est"), ("se_lav", "se"), ("std_all_lav", "std_all"), ("std_se", "std_all_se")]:
        ref_v = pd.to_numeric(merged[lav_col]).to_numpy(dtype=float)
        got = merged[col].to_numpy(dtype=float)
        # lavaan prints se 0 where a parameter is fixed; psyscreen leaves it missing
        fixed = np.isnan(got)
        assert np.all(ref_v[fixed] == 0), lav_col
        assert np.max(np.abs(got[~fixed] - ref_v[~fixed])) < tol, lav_col
