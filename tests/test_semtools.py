"""Latent means, growth models, composite reliability/AVE, HTMT, modification indices and partial
invariance against lavaan 0.6.14 / semTools 0.5.6 (figures of tests/data/semtools_ref.R)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from psyscreen.validity import cfa
from psyscreen.validity.cfa import IdentificationError, ModelSpecificationError
from psyscreen.validity.growth import growth

from .lavaan_helpers import compare_with_lavaan

DATA = Path(__file__).resolve().parent / "data"
REF = json.loads((DATA / "semtools_ref.json").read_text())
SHARED = Path(__file__).resolve().parents[2] / "shared" / "reference"


@pytest.fixture(scope="module")
def frames() -> dict[str, pd.DataFrame]:
    return {
        "hs": pd.read_csv(SHARED / "cfa.csv"),
        "inv": pd.read_csv(SHARED / "invariance.csv"),
        "dg": pd.read_csv(DATA / "semtools_demo_growth.csv"),
        "pd": pd.read_csv(DATA / "semtools_political_democracy.csv"),
        "bfi": pd.read_csv(DATA / "semtools_bfi.csv"),
    }


# ---------------------------------------------------------------- latent means (silent error 1)
def test_issue_growth_model_under_cfa_frees_the_means_and_fixes_the_intercepts(frames) -> None:
    # The issue: cfa(data, "i =~ ...; s =~ ...; i ~ 1; s ~ 1") kept the latent means at 0 (df 7, chisq 366.0)
    # where the issue asks for lavaan's df 5 and chisq 8.07 (lavaan::growth). lavaan::cfa itself frees the
    # means beside four free intercepts, a model that is not identified (it warns; df 1). psyscreen fixes the
    # unwritten intercepts of the indicators at 0, says so, and so equals lavaan's fit of the identified model.
    assert REF["growth"]["dg_cfa_issue"]["fit"]["df"] == 1
    with pytest.warns(UserWarning, match="intercepts of t1, t2, t3, t4 are fixed at 0"):
        res = cfa(frames["dg"], REF["growth"]["dg_cfa_issue"]["model"])
    compare_with_lavaan(res, REF["growth"]["dg_cfa_fixed"])  # df 5, chisq 8.069
    assert res.fit.df == 5 and res.fit.chisq == pytest.approx(8.069, abs=1e-3)
    assert any("lavaan::growth" in w for w in res.warnings)


@pytest.mark.parametrize("case", ["dg_cfa_fixed", "hs_latent_means"])
def test_named_latent_means_are_free_as_in_lavaan(frames, case: str) -> None:
    ref = REF["growth"][case]
    data = frames["dg"] if case.startswith("dg") else frames["hs"]
    res = cfa(data, ref["model"])
    compare_with_lavaan(res, ref)  # dg: df 5, chisq 8.069 (the issue's figures); was df 7, chisq 366.0
    means = res.params[(res.params["op"] == "~1") & res.params["lhs"].isin(["i", "s", "visual", "textual"])]
    assert means["free"].all()


@pytest.mark.parametrize("case, frame", [("dg_growth", "dg"), ("pd_growth", "pd")])
def test_growth_equals_lavaan_growth(frames, case: str, frame: str) -> None:
    ref = REF["growth"][case]
    res = growth(frames[frame], ref["model"])
    compare_with_lavaan(res, ref)


# ---------------------------------------------------------------- composite reliability and AVE (silent error 2)
_REL_DATA = {"hs3": "hs", "hs_bifactor": "hs", "pd_rescov": "pd", "bfi3": "bfi", "bfi_bifactor": "bfi"}
_REL_COLUMNS = {"omega": "cr_implied", "omega_obs": "cr_observed", "ave": "ave_implied", "ave_obs": "ave_observed"}


@pytest.fixture(scope="module")
def rel_fits(frames) -> dict:
    out = {}
    for case, frame in _REL_DATA.items():
        ref = REF["reliability"][case]
        out[case] = cfa(frames[frame], ref["model"], std_lv=ref["options"]["std_lv"],
                        orthogonal=ref["options"]["orthogonal"])
    return out


@pytest.mark.parametrize("case", list(_REL_DATA))
def test_fits_behind_reliability_equal_lavaan(rel_fits, case: str) -> None:
    compare_with_lavaan(rel_fits[case], REF["reliability"][case])


@pytest.mark.parametrize("case", list(_REL_DATA))
@pytest.mark.parametrize("column", list(_REL_COLUMNS))
def test_composite_reliability_and_ave_equal_semtools(rel_fits, case: str, column: str) -> None:
    ref = pd.Series(REF["reliability"][case]["reliability"][_REL_COLUMNS[column]], dtype=float)
    got = rel_fits[case].reliability.set_index("factor")[column].reindex(ref.index)
    # semTools gives NA (AVE undefined) where items load on two factors: NaN here, at the same places
    assert got.isna().tolist() == ref.isna().tolist()
    assert np.nanmax(np.abs(got - ref).to_numpy(), initial=0.0) < 1e-5


def test_bifactor_reliability_uses_the_model_implied_total_variance(rel_fits) -> None:
    # the simple-structure formula (sum lambda)^2 psi / ((sum lambda)^2 psi + sum theta) overstated it
    rel = rel_fits["hs_bifactor"].reliability.set_index("factor")
    p = rel_fits["hs_bifactor"].params
    lam = p[(p["op"] == "=~") & (p["lhs"] == "g")]["est"]
    theta = p[(p["op"] == "~~") & (p["lhs"] == p["rhs"]) & p["lhs"].str.startswith("x")]["est"]
    simple = lam.sum() ** 2 / (lam.sum() ** 2 + theta.sum())
    assert simple > rel.loc["g", "omega"] + 0.1
    assert rel.loc["g", "omega"] == pytest.approx(REF["reliability"]["hs_bifactor"]["reliability"]["cr_implied"]["g"],
                                                  abs=1e-5)


def test_reliability_per_group_equals_semtools(frames) -> None:
    ref = REF["reliability_groups"]
    res = cfa(frames["inv"], ref["model"], group="group")
    rel = res.reliability.set_index(["group", "factor"])
    for column, key in _REL_COLUMNS.items():
        for gnum, values in ref["reliability"][key].items():
            label = res.groups[int(gnum) - 1]
            for factor, value in values.items():
                assert rel.loc[(label, factor), column] == pytest.approx(value, abs=1e-5), (column, label, factor)


# ---------------------------------------------------------------- partial invariance (group.partial)
@pytest.mark.parametrize("case", ["hs_scalar", "bfi_strict", "hs_metric"])
def test_group_partial_equals_lavaan(frames, case: str) -> None:
    ref = REF["partial"][case]
    res = cfa(frames[ref["data"]], ref["model"], group=ref["group"], group_equal=ref["group_equal"],
              group_partial=ref["group_partial"])
    compare_with_lavaan(res, ref)
    released = res.params.set_index(["lhs", "op", "rhs"])
    for text in ref["group_partial"]:
        lhs, op, rhs = (text.replace("~ 1", "~1 ").split() + [""])[:3]
        est = released.loc[(lhs, op, rhs), "est"]
        assert est.iloc[0] != pytest.approx(est.iloc[1], abs=1e-6), text  # estimated per group


def test_invariance_with_group_partial(frames) -> None:
    from psyscreen.validity import invariance

    ref = REF["partial"]["hs_scalar"]
    res = invariance(frames["inv"], ref["model"], "group", steps=("configural", "metric", "scalar"),
                     group_partial=ref["group_partial"])
    assert res.table.loc["scalar", "chisq"] == pytest.approx(ref["fit"]["chisq"], abs=1e-3)
    assert res.table.loc["scalar", "df"] == ref["fit"]["df"]
    # metric releases the loading too; the intercept is released only where intercepts are equal
    assert res.table.loc["metric", "df"] == res.table.loc["configural", "df"] + 5
    with pytest.raises(ModelSpecificationError, match="does not have"):
        cfa(frames["inv"], ref["model"], group="group", group_equal=["loadings"], group_partial=["visual =~ x9"])


# ---------------------------------------------------------------- modification indices
_MI_DATA = {"hs3": "hs", "hs_bifactor": "hs", "pd_rescov": "pd", "bfi3": "bfi", "hs_groups_loadings": "inv",
            "bfi_gender_scalar": "bfi", "dg_growth_fixed": "dg"}


@pytest.mark.parametrize("case", list(_MI_DATA))
def test_modindices_equal_lavaan(frames, case: str) -> None:
    from psyscreen.validity import modindices

    ref = REF["modindices"][case]
    opts = ref["options"] or {}
    res = cfa(frames[_MI_DATA[case]], ref["model"], std_lv=opts.get("std_lv", False),
              orthogonal=opts.get("orthogonal", False), group=opts.get("group"), group_equal=opts.get("group_equal", ()))
    mi = modindices(res)
    assert mi.equals(res.modindices())
    assert (np.diff(mi["mi"].to_numpy()) <= 0).all()  # sorted, largest first
    lav = pd.DataFrame(ref["mi"])
    lav["rhs"] = lav["rhs"].fillna("")
    mi["gnum"] = mi["group"].map({g: k + 1 for k, g in enumerate(res.groups)}) if "group" in mi else 1
    merged = lav.merge(mi, left_on=["lhs", "op", "rhs", "group"], right_on=["lhs", "op", "rhs", "gnum"],
                       how="outer", indicator=True, suffixes=("_lav", ""))
    # the same rows as lavaan: no free parameter, no unidentified one (lavaan's NA rows)
    assert (merged["_merge"] == "both").all(), merged.loc[merged["_merge"] != "both", ["lhs", "op", "rhs"]]
    # a statistic of the fit: 1e-3, relative for the large ones (bfi: mi 99.985 vs lavaan 99.987, from
    # lavaan's own convergence of the estimates)
    for col in ("mi", "epc", "sepc.lv", "sepc.all", "sepc.nox"):
        got, want = merged[col].to_numpy(float), merged[col + "_lav"].to_numpy(float)
        assert np.all(np.abs(got - want) <= 1e-3 * np.maximum(1.0, 0.1 * np.abs(want))), col


def test_modindices_minimum_value_and_top_row(frames) -> None:
    res = cfa(frames["hs"], REF["modindices"]["hs3"]["model"])
    mi = res.modindices(minimum_value=10)
    # lavaan: visual =~ x9 36.411, x7 ~~ x8 34.145, visual =~ x7 18.631, x8 ~~ x9 14.946
    assert mi[["lhs", "op", "rhs"]].values.tolist() == [["visual", "=~", "x9"], ["x7", "~~", "x8"],
                                                        ["visual", "=~", "x7"], ["x8", "~~", "x9"]]
    assert mi["mi"].iloc[0] == pytest.approx(36.411, abs=1e-3)


# ---------------------------------------------------------------- HTMT and the Fornell-Larcker table
@pytest.mark.parametrize("case, frame", [("hs3", "hs"), ("pd", "pd"), ("bfi3", "bfi")])
@pytest.mark.parametrize("variant", ["htmt2", "htmt"])
def test_htmt_equals_semtools(frames, case: str, frame: str, variant: str) -> None:
    from psyscreen.validity import htmt

    ref = REF["htmt"][case]
    got = htmt(frames[frame], ref["model"], htmt2=variant == "htmt2")
    want = np.array(ref[variant]).T  # stored column by column; semTools fills the lower triangle
    lower = np.tril_indices(len(ref["factors"]))
    assert list(got.index) == ref["factors"]
    assert np.max(np.abs(got.to_numpy()[lower] - want[lower])) < 1e-10
    assert np.allclose(got.to_numpy(), got.to_numpy().T)


@pytest.mark.parametrize("case, frame", [("hs3", "hs"), ("pd_rescov", "pd"), ("bfi3", "bfi")])
def test_fornell_larcker_table(rel_fits, frames, case: str, frame: str) -> None:
    from psyscreen.validity import discriminant_validity

    ref = REF["reliability"][case]
    dv = discriminant_validity(rel_fits[case], frames[frame])
    cor_lv = np.array(ref["cor_lv"]).T
    ave = pd.Series(ref["reliability"]["ave_implied"], dtype=float)[ref["lv_names"]].to_numpy()
    m = dv.matrix.loc[ref["lv_names"], ref["lv_names"]].to_numpy()
    assert np.allclose(np.diag(m), np.sqrt(ave), atol=1e-5)
    off = ~np.eye(len(ave), dtype=bool)
    assert np.allclose(m[off], cor_lv[off], atol=1e-4)
    for row in dv.pairs.itertuples():
        assert row.fornell_larcker == (min(row.sqrt_ave_a, row.sqrt_ave_b) > abs(row.correlation))
        assert row.htmt_ok == (row.htmt < 0.85)


def test_fornell_larcker_refuses_a_bifactor_model(rel_fits) -> None:
    from psyscreen.validity import discriminant_validity
    from psyscreen.validity.cfa import CFAError

    with pytest.raises(CFAError, match="AVE is undefined"):
        discriminant_validity(rel_fits["hs_bifactor"])


# ---------------------------------------------------------------- bootstrap intervals
def test_bootstrap_cfa_point_estimates_equal_lavaan_and_semtools(frames) -> None:
    from psyscreen.validity import bootstrap_cfa

    ref = REF["reliability"]["hs3"]
    boot = bootstrap_cfa(frames["hs"], ref["model"], n_boot=20, seed=11)
    t = boot.table
    assert boot.method == "percentile" and boot.n_boot == 20 and boot.n_failed == 0 and boot.warnings == ()
    fit = t[t["factor"].isna()].set_index("statistic")
    for name in ("cfi", "tli", "rmsea", "srmr"):
        assert fit.loc[name, "estimate"] == pytest.approx(ref["fit"][name], abs=1e-6)
    for stat, key in (("omega", "cr_implied"), ("ave", "ave_implied")):
        got = t[t["statistic"] == stat].set_index("factor")["estimate"]
        for factor, value in ref["reliability"][key].items():
            assert got[factor] == pytest.approx(value, abs=1e-5)
    # coverage sanity: percentile intervals around the full-data estimates, all 20 resamples used
    assert (t["ci_lower"] <= t["estimate"]).all() and (t["estimate"] <= t["ci_upper"]).all()
    assert (t["n_valid"] == 20).all() and (t["boot_se"] > 0).all()


def test_bootstrap_is_reproducible_by_seed(frames) -> None:
    from psyscreen.validity import bootstrap_cfa

    model = REF["reliability"]["pd_rescov"]["model"]
    a = bootstrap_cfa(frames["pd"], model, n_boot=15, seed=3)
    b = bootstrap_cfa(frames["pd"], model, n_boot=15, seed=3)
    c = bootstrap_cfa(frames["pd"], model, n_boot=15, seed=4)
    pd.testing.assert_frame_equal(a.table, b.table)
    assert not np.allclose(a.table["ci_lower"], c.table["ci_lower"])


def test_bootstrap_multigroup_resamples_within_groups(frames) -> None:
    from psyscreen.validity import bootstrap_cfa

    boot = bootstrap_cfa(frames["inv"], REF["partial"]["hs_metric"]["model"], group="group",
                         group_equal=["loadings"], n_boot=8, seed=5)
    per_group = boot.table[boot.table["statistic"] == "omega"]
    assert set(per_group["group"]) == set(frames["inv"]["group"])
    ref = REF["reliability_groups"]["reliability"]["cr_implied"]
    assert len(per_group) == 3 * len(ref)


def test_bootstrap_counts_and_reports_failed_resamples() -> None:
    from psyscreen.validity import bootstrap_cfa

    rng = np.random.default_rng(0)
    f = rng.normal(size=(50, 1))
    df = pd.DataFrame(f @ [[0.8, 0.7, 0.6]] + rng.normal(scale=0.6, size=(50, 3)), columns=["a", "b", "c"])
    df["d"] = 0.0
    df.loc[7, "d"] = 1.0  # a resample without row 7 has no variance on d: that fit fails
    with pytest.warns(UserWarning, match="bootstrap resamples failed"):
        boot = bootstrap_cfa(df, "f =~ a + b + c + d", n_boot=40, seed=1)
    assert 0 < boot.n_failed < 40
    assert dict(boot.failures) == {"NotPositiveDefiniteError": boot.n_failed}
    assert (boot.table["n_valid"] == 40 - boot.n_failed).all()
    assert "not in the CFA intervals" in boot.warnings[0]


@pytest.mark.parametrize("case, k", [("raw3", 3), ("raw4", 4)])
def test_omega_bootstrap_point_estimates_equal_psych(frames, case: str, k: int) -> None:
    from psyscreen.omega import omega

    ref = json.loads((DATA / "omega_bfi_psych.json").read_text())
    items = frames["bfi"][ref["items"]]
    res = omega(items, k, n_boot=12, seed=9)
    again = omega(items, k, n_boot=12, seed=9).bootstrap
    t = res.bootstrap.table.set_index("statistic")
    assert t.loc["omega_total", "estimate"] == pytest.approx(ref[case]["omega_total"], abs=1e-6)
    assert t.loc["omega_h", "estimate"] == pytest.approx(ref[case]["omega_h"], abs=1e-6)
    assert (t["ci_lower"] <= t["estimate"]).all() and (t["estimate"] <= t["ci_upper"]).all()
    pd.testing.assert_frame_equal(res.bootstrap.table, again.table)
    assert omega(items, k).bootstrap is None
