"""Likelihood-ratio DIF (mirt DIF scheme="drop") on data simulated with DIF in one item by design.

mirt's DIF figures are not among the stored references, so the test is what the method must do: find the item
given DIF, leave the others, count the freed parameters as df, and size the effect in the right direction.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from psyscreen.irt import fit
from psyscreen.irt.dif import DIFError, _adjust, dif, expected_score


def simulate(seed: int, n: int = 2000, n_items: int = 10, dif_item: int = 3, shift: float = 0.8):
    """Graded 4-category items; for boys the DIF item's thresholds are ``shift`` higher at equal theta."""
    rng = np.random.default_rng(seed)
    sex = np.repeat(["F", "M"], n // 2)
    theta = rng.normal(size=n) + np.where(sex == "M", 0.3, 0.0)     # boys also higher on the trait (impact)
    data = {}
    for i, c in enumerate(np.linspace(-1, 1, n_items)):
        s = c + (np.where(sex == "M", shift, 0.0) if i == dif_item else 0.0)
        lat = 1.4 * theta + rng.logistic(size=n)
        data[f"x{i}"] = (lat > s - 1.5).astype(int) + (lat > s) + (lat > s + 1.5)
    frame = pd.DataFrame(data)
    frame["sex"] = sex
    return frame


@pytest.fixture(scope="module")
def graded():
    frame = simulate(1)
    return frame, dif(frame.drop(columns="sex"), frame["sex"].to_numpy(), p_adjust="holm")


def test_the_item_with_dif_is_flagged_and_no_other(graded):
    _, res = graded
    assert res.flagged == ["x3"]
    row = res.table.set_index("item").loc["x3"]
    assert row["p"] < 1e-6 and row["dAIC"] < 0 and row["dBIC"] < 0
    # the item is harder for boys (the focal group): at equal theta they score lower -> positive SIDS
    assert res.reference == "F" and row["focal"] == "M"
    assert row["SIDS"] > 0.2 and row["UIDS"] >= row["SIDS"] and row["ESSD"] > 0.15
    others = res.table[res.table["item"] != "x3"]
    assert (others["UIDS"] < row["UIDS"] / 2).all()


def test_df_counts_the_freed_parameters_and_the_baseline_is_the_invariant_model(graded):
    frame, res = graded
    assert (res.table["df"] == 4).all()                                  # graded, 4 categories: a + 3 d
    items = frame.drop(columns="sex")
    base = fit(items, "graded", groups=frame["sex"].to_numpy(),
               invariance=["slopes", "intercepts", "free_means", "free_var"], se=False)
    assert res.baseline.loglik == pytest.approx(base.loglik, abs=1e-2)  # anchoring every item = slopes+intercepts
    assert res.baseline.n_params == base.n_params == 10 * 4 + 2
    # X2 = 2 (loglik_free - loglik_invariant) and dAIC = -X2 + 2 df
    np.testing.assert_allclose(res.table["dAIC"], -res.table["X2"] + 2 * res.table["df"], atol=1e-8)


def test_uniform_dif_only_frees_intercepts_and_slopes_only_frees_one():
    frame = simulate(2, n=1500, n_items=8, dif_item=1, shift=1.0)
    items, sex = frame.drop(columns="sex"), frame["sex"]
    res_d = dif(frame, "sex", which_par="intercepts", p_adjust="holm")
    assert (res_d.table["df"] == 3).all()
    assert "x1" in res_d.flagged and res_d.table["X2"].idxmax() == 1
    res_a = dif(items, sex.to_numpy(), which_par="slopes")
    assert (res_a.table["df"] == 1).all()
    # the DIF is in the thresholds only: freeing the slope alone explains much less of it
    assert res_a.table.loc[1, "X2"] < res_d.table.loc[1, "X2"] / 2


def test_binary_2pl_dif():
    rng = np.random.default_rng(2)
    sex = np.repeat(["F", "M"], 1000)
    theta = rng.normal(size=2000)
    harder = np.where(sex == "M", 1.0, 0.0)
    data = pd.DataFrame({f"x{i}": (1.5 * theta + rng.logistic(size=2000) > c + (harder if i == 3 else 0))
                         .astype(int) for i, c in enumerate(np.linspace(-1, 1, 8))})
    res = dif(data, sex, model="2PL", p_adjust="holm")
    assert res.flagged == ["x3"] and (res.table["df"] == 2).all()
    rasch = dif(data, sex, model="Rasch", p_adjust="holm")
    assert rasch.flagged == ["x3"] and (rasch.table["df"] == 1).all()  # Rasch: only the intercept is freed


def test_p_adjustment():
    p = np.array([0.01, 0.04, 0.03, 0.5])
    np.testing.assert_allclose(_adjust(p, "holm"), [0.04, 0.09, 0.09, 0.5])             # R p.adjust(p, "holm")
    np.testing.assert_allclose(_adjust(p, "BH"), [0.04, 0.16 / 3, 0.16 / 3, 0.5])       # p.adjust(p, "BH")
    np.testing.assert_array_equal(_adjust(p, "none"), p)


def test_expected_score_is_the_category_mean():
    from psyscreen.irt import ItemParams, trace

    p = ItemParams(("x",), "graded", np.array([1.2]), np.array([[1.0, -0.5, -2.0]]), np.array([4]))
    th = np.array([-1.0, 0.0, 2.0])
    np.testing.assert_allclose(expected_score(p, th)[0], trace(p, th)[0] @ np.arange(4))


def test_bad_requests_are_named():
    frame = simulate(3, n=200, n_items=3)
    with pytest.raises(DIFError, match="scheme"):
        dif(frame, "sex", scheme="add")
    with pytest.raises(DIFError, match="which_par"):
        dif(frame, "sex", which_par="d1")
    with pytest.raises(DIFError, match="no group column"):
        dif(frame, "school")
    with pytest.raises(DIFError, match="Rasch slopes"):
        dif(frame, "sex", model="Rasch", which_par="slopes")
