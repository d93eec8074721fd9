"""psych::omega (Schmid-Leiman omega_h, omega_total) against shared/reference/expected.json and tests/data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from psyscreen.omega import OmegaError, omega
from psyscreen.validity.efa import FactorAnalysisError

DATA = Path(__file__).resolve().parent / "data"
REVERSED_ACE = ["A1", "C4", "C5", "E1", "E2"]


@pytest.fixture(scope="module")
def items(reference_dir) -> pd.DataFrame:
    return pd.read_csv(reference_dir / "items.csv")


@pytest.fixture(scope="module")
def extra() -> dict:
    # psych figures beyond expected.json, produced by tests/data/omega_bfi_psych.R
    return json.loads((DATA / "omega_bfi_psych.json").read_text())


def _na(table) -> np.ndarray:
    return np.array([[np.nan if v == "NA" else v for v in row] for row in table], dtype=float)


@pytest.mark.parametrize("reverse", [(), REVERSED_ACE])
def test_omega_three_factors_matches_expected(items, expected, reverse):
    ref = expected["omega"]
    res = omega(items[ref["items"]], n_factors=ref["nfactors"], reverse=reverse, min=1, max=6)
    assert res.n == ref["n"]
    assert res.omega_h == pytest.approx(ref["omega_h"], abs=1e-3)
    assert res.omega_total == pytest.approx(ref["omega_total"], abs=1e-3)
    assert res.alpha == pytest.approx(ref["alpha"], abs=1e-6)
    # psych flips the negatively keyed items itself; after reversing them first nothing is left to flip
    flipped = set(res.key.index[res.key < 0])
    assert flipped == (set() if reverse else set(REVERSED_ACE))


def test_omega_one_factor_per_scale_matches_expected(items, expected):
    for scale, keys in expected["keys"].items():
        cols = [k.lstrip("-") for k in keys]
        rev = [k[1:] for k in keys if k.startswith("-")]
        ref = expected["omega1"][scale]
        res = omega(items[cols], n_factors=1, reverse=rev, min=expected["item_min"], max=expected["item_max"])
        assert res.n == ref["n"], scale
        assert res.omega_total == pytest.approx(ref["omega_total"], abs=1e-3), scale
        assert np.isnan(res.omega_h)
        # with psych's flip the keys need not be applied first ...
        assert omega(items[cols], n_factors=1).omega_total == pytest.approx(ref["omega_total"], abs=1e-3)
        # ... but without flip and without reversal the total score is wrong for keyed scales
        unflipped = omega(items[cols], n_factors=1, flip=False).omega_total
        assert (unflipped < ref["omega_total"] - 0.05) == bool(rev), scale


@pytest.mark.parametrize("case", ["raw3", "reversed3", "raw2", "raw4"])
def test_omega_tables_match_psych(items, extra, case):
    ref = extra[case]
    k = int(case[-1])
    reverse = REVERSED_ACE if case.startswith("reversed") else ()
    res = omega(items[extra["items"]], n_factors=k, reverse=reverse, min=1, max=6)
    assert res.n == extra["n"]
    assert res.omega_h == pytest.approx(ref["omega_h"], abs=1e-3)
    assert res.omega_total == pytest.approx(ref["omega_total"], abs=1e-3)
    assert res.alpha == pytest.approx(ref["alpha"], abs=1e-6)
    assert res.g6 == pytest.approx(ref["G6"], abs=1e-6)
    assert res.omega_limit == pytest.approx(ref["omega_limit"], abs=1e-3)
    assert res.ecv == pytest.approx(ref["ECV"], abs=1e-3)
    assert list(res.loadings.columns) == ref["sl_columns"]
    np.testing.assert_allclose(res.loadings.to_numpy(), np.array(ref["sl"]), atol=1e-3)
    assert res.key.tolist() == ref["key"]
    np.testing.assert_allclose(res.general_loadings.to_numpy(), ref["gloading"], atol=1e-3)
    np.testing.assert_allclose(res.phi.to_numpy(), np.array(ref["phi"]), atol=1e-3)
    np.testing.assert_allclose(res.groups.to_numpy(), _na(ref["group"]), atol=1e-3)


def test_omega_result_and_errors(items, expected):
    cols = expected["omega"]["items"]
    res = omega(items[cols])
    frame = res.to_frame()
    assert frame.loc[0, "omega_h"] == res.omega_h and frame.loc[0, "n"] == res.n
    assert "<table" in res._repr_html_()
    assert res.omega_h < res.omega_total
    # h2 = g^2 + sum of squared group loadings (Schmid-Leiman keeps the communalities, up to the
    # minres fit of Phi, exact for three group factors)
    sl = res.loadings
    np.testing.assert_allclose(sl["h2"], (sl[["g", "F1*", "F2*", "F3*"]] ** 2).sum(axis=1), atol=1e-5)
    with pytest.raises(OmegaError, match="not among"):
        omega(items[cols], reverse=["Z9"])
    with pytest.raises(OmegaError, match="n_factors"):
        omega(items[cols], n_factors=0)
    with pytest.raises(OmegaError, match="smaller"):
        omega(items[cols[:3]], n_factors=3)
    with pytest.raises(FactorAnalysisError, match="numeric"):
        omega(items[cols].assign(A2="x"))
    # reversing with the observed range by default: min + max - x of each reversed item
    observed = omega(items[cols], reverse=["A1"])
    assert observed.alpha == pytest.approx(res.alpha, abs=1e-12)


def test_omega_accepts_nullable_integers_and_non_string_labels(items, expected):
    ref = expected["omega"]
    ace = items[ref["items"]].astype("Int64")  # pandas' nullable integers, missing as pd.NA
    ace.columns = range(len(ref["items"]))
    res = omega(ace, n_factors=3, reverse=[0, 8, 9], min=1, max=6)
    assert res.n == ref["n"]
    assert res.omega_h == pytest.approx(ref["omega_h"], abs=1e-3)
    assert list(res.loadings.index) == list(range(15))
    assert res.key.tolist() == [1] * 8 + [1, 1, -1, -1, 1, 1, 1]  # E1, E2 still flipped by psych's rule
