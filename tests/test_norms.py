"""Norm tables: percentile ranks, z/T, normalised T, stanines, warnings, errors and round trips."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from psyscreen.norms import (
    STANINE_CUTS,
    NormError,
    NormFileError,
    NormTable,
    NormWarning,
    UnknownStratumError,
    stanine,
)


def _fit(frame, scales, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NormWarning)
        return NormTable(**kw).fit(frame, scales)


@pytest.fixture(scope="module")
def county():
    rng = np.random.default_rng(42)
    n = 900
    df = pd.DataFrame(
        {
            "grade": rng.choice([7, 8, 9], n),
            "sex": rng.choice(["男", "女"], n),
            "phq9.total": rng.integers(0, 28, n).astype(float),
            "gad7.total": np.round(rng.normal(8, 4, n), 1),
        }
    )
    df.loc[[3, 10, 77], "phq9.total"] = np.nan
    return df


def test_hand_worked_percentile_ranks():
    ref = pd.DataFrame({"g": ["a"] * 4, "s": [1.0, 2.0, 2.0, 3.0]})
    nt = _fit(ref, ["s"], by=("g",))
    new = pd.DataFrame({"g": ["a"] * 6, "s": [1.0, 2.0, 3.0, 2.5, 0.0, 4.0]})
    pr = nt.transform(new)["s.pr"].tolist()
    # 1: (0 + 1/2)/4; 2: (1 + 2/2)/4; 3: (3 + 1/2)/4; 2.5 unseen: 3 below; 0: none below; 4: all below
    assert pr == [12.5, 50.0, 87.5, 75.0, 0.0, 100.0]


def test_pr_equals_scipy_percentileofscore(county):
    nt = _fit(county, ["phq9.total", "gad7.total"])
    new = county.copy()
    new["gad7.total"] = new["gad7.total"] + 0.05  # mostly unseen scores
    out = nt.transform(new)
    for (g, s), idx in new.groupby(["grade", "sex"]).groups.items():
        for scale in ["phq9.total", "gad7.total"]:
            ref = county.loc[(county.grade == g) & (county.sex == s), scale].dropna().to_numpy()
            x = new.loc[idx, scale].to_numpy()
            ok = ~np.isnan(x)
            expected = np.array([stats.percentileofscore(ref, v, kind="mean") for v in x[ok]])
            np.testing.assert_allclose(out.loc[idx, f"{scale}.pr"].to_numpy()[ok], expected, rtol=0, atol=1e-9)


def test_z_t_tn_against_scipy(county):
    nt = _fit(county, ["phq9.total", "gad7.total"])
    out = nt.transform(county)
    for (g, s), idx in county.groupby(["grade", "sex"]).groups.items():
        for scale in ["phq9.total", "gad7.total"]:
            x = county.loc[idx, scale].to_numpy()
            z = stats.zscore(x, ddof=1, nan_policy="omit")
            np.testing.assert_allclose(out.loc[idx, f"{scale}.z"], z, atol=1e-12)
            np.testing.assert_allclose(out.loc[idx, f"{scale}.t"], 50 + 10 * z, atol=1e-10)
            n = np.sum(~np.isnan(x))
            pr = out.loc[idx, f"{scale}.pr"].to_numpy()
            tn = 50 + 10 * stats.norm.ppf(np.clip(pr, 50 / n, 100 - 50 / n) / 100)
            np.testing.assert_allclose(out.loc[idx, f"{scale}.tn"], tn, atol=1e-10)
    # the fitted summary agrees with pandas (ddof=1)
    row = nt.table_.query("grade == 8 and sex == '女' and scale == 'gad7.total'").iloc[0]
    ref = county.loc[(county.grade == 8) & (county.sex == "女"), "gad7.total"]
    assert row["n"] == ref.count()
    assert row["mean"] == pytest.approx(ref.mean(), abs=1e-12)
    assert row["sd"] == pytest.approx(ref.std(ddof=1), abs=1e-12)


def test_out_of_range_scores_clipped_for_normalised_t():
    ref = pd.DataFrame({"s": np.arange(1.0, 41.0)})
    nt = _fit(ref, "s", by=())
    out = nt.transform(pd.DataFrame({"s": [-5.0, 1.0, 40.0, 99.0]}))
    assert out["s.pr"].tolist() == [0.0, 1.25, 98.75, 100.0]
    low = 50 + 10 * stats.norm.ppf(0.5 / 40)
    assert out["s.tn"].tolist() == pytest.approx([low, low, 100 - low, 100 - low], abs=1e-12)
    assert np.isfinite(out["s.tn"]).all()
    assert out["s.stanine"].tolist() == [1, 1, 9, 9]


def test_stanine_boundaries():
    eps = 1e-9
    below = stanine(STANINE_CUTS - eps)
    at = stanine(STANINE_CUTS)
    assert below.tolist() == [1, 2, 3, 4, 5, 6, 7, 8]
    assert at.tolist() == [2, 3, 4, 5, 6, 7, 8, 9]
    assert stanine(np.array([-9.0, 0.0, 9.0])).tolist() == [1, 5, 9]
    assert np.isnan(stanine(np.array([np.nan]))[0])
    # the boundaries cut a normal distribution into the textbook 4-7-12-17-20-17-12-7-4 percent
    shares = np.diff(stats.norm.cdf(np.concatenate([[-np.inf], STANINE_CUTS, [np.inf]]))) * 100
    np.testing.assert_allclose(shares, [4, 7, 12, 17, 20, 17, 12, 7, 4], atol=0.7)


def test_stanines_follow_normalised_z(county):
    nt = _fit(county, ["gad7.total"])
    out = nt.transform(county)
    zn = (out["gad7.total.tn"] - 50) / 10
    expected = 1 + np.searchsorted(STANINE_CUTS, zn.to_numpy(), side="right")
    assert out["gad7.total.stanine"].tolist() == expected.tolist()


def test_nan_scores_stay_nan(county):
    nt = _fit(county, ["phq9.total"])
    out = nt.transform(county)
    nan_rows = county["phq9.total"].isna()
    for suf in ["pr", "z", "t", "tn"]:
        assert out.loc[nan_rows, f"phq9.total.{suf}"].isna().all()
        assert out.loc[~nan_rows, f"phq9.total.{suf}"].notna().all()
    assert out.loc[nan_rows, "phq9.total.stanine"].isna().all()
    assert str(out["phq9.total.stanine"].dtype) == "Int64"
    # transform returns a copy and leaves the input alone
    assert "phq9.total.pr" not in county.columns


def test_small_stratum_warns_and_large_does_not(county):
    small = county.iloc[:100]
    with pytest.warns(NormWarning, match=r"grade=\d, sex=[男女] has \d+ scores on 'phq9.total'"):
        nt = NormTable(min_stratum=30).fit(small, ["phq9.total"])
    assert nt.table_["small"].all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nt = NormTable(min_stratum=30).fit(county, ["phq9.total"])
    assert not nt.table_["small"].any()


def test_unknown_stratum_is_refused(county):
    nt = _fit(county, ["phq9.total"])
    new = county.iloc[:5].copy()
    new.loc[new.index[0], "grade"] = 12
    with pytest.raises(UnknownStratumError, match=r"grade=12, sex=[男女] \(1 rows\)"):
        nt.transform(new)
    new = county.iloc[:5].copy()
    new["sex"] = new["sex"].astype(object)
    new.loc[new.index[0], "sex"] = None
    with pytest.raises(UnknownStratumError, match="sex=nan|sex=None"):
        nt.transform(new)
    assert issubclass(UnknownStratumError, NormError) and issubclass(NormError, ValueError)


def test_other_errors(county):
    with pytest.raises(NormError, match="not fitted"):
        NormTable().transform(county)
    with pytest.raises(NormError, match="stratum column"):
        NormTable(by=("class",)).fit(county, ["phq9.total"])
    with pytest.raises(NormError, match="not in the data"):
        NormTable().fit(county, ["nope"])
    nt = _fit(county, ["phq9.total"])
    with pytest.raises(NormError, match="not fitted"):
        nt.transform(county, scales=["gad7.total"])
    with pytest.raises(NormError, match="not in the data"):
        nt.transform(county.drop(columns="phq9.total"))


def test_fitted_attributes(county):
    nt = NormTable().fit(county, ["phq9.total", "gad7.total"], description="synthetic county")
    assert nt.scales_ == ["phq9.total", "gad7.total"]
    assert sorted(nt.strata_) == sorted({(g, s) for g, s in zip(county.grade, county.sex)})
    assert nt.fitted_on_["description"] == "synthetic county"
    assert nt.fitted_on_["n_rows"] == len(county)
    n_total = sum(e["phq9.total"] for e in nt.fitted_on_["n"])
    assert n_total == county["phq9.total"].notna().sum()
    assert "T" in nt.fitted_on_["date"]
    # lookup_ holds each stratum's distinct scores with their frequencies
    lk = nt.lookup_.query("grade == 7 and sex == '男' and scale == 'phq9.total'")
    ref = county.loc[(county.grade == 7) & (county.sex == "男"), "phq9.total"].dropna()
    assert lk["count"].sum() == ref.size
    assert lk["score"].tolist() == sorted(ref.unique().tolist())


def test_single_stratum():
    ref = pd.DataFrame({"s": [1.0, 2.0, 2.0, 3.0]})
    nt = _fit(ref, ["s"], by=())
    assert nt.strata_ == [()]
    assert nt.transform(ref)["s.pr"].tolist() == [12.5, 50, 50, 87.5]


def _new_wave(county):
    new = county.copy()
    new["gad7.total"] = new["gad7.total"] + 0.03  # unseen scores
    new.loc[5, "gad7.total"] = 99.0  # off the top
    return new


def test_json_round_trip_exact(county, tmp_path):
    tiny = pd.DataFrame({"grade": [10, 10], "sex": ["男", "男"], "phq9.total": [4.0, np.nan], "gad7.total": [1.0, 2.0]})
    ref = pd.concat([county, tiny], ignore_index=True)  # one stratum with n = 1 (sd undefined)
    nt = _fit(ref, ["phq9.total", "gad7.total"])
    path = nt.to_json(tmp_path / "norms.json")
    back = NormTable.from_json(path)
    new = _new_wave(ref)
    pd.testing.assert_frame_equal(back.transform(new), nt.transform(new), check_exact=True)
    pd.testing.assert_frame_equal(back.table_, nt.table_, check_exact=True)
    assert back.fitted_on_ == nt.fitted_on_
    d = json.loads(path.read_text(encoding="utf-8"))
    assert d["version"] == 1 and d["by"] == ["grade", "sex"]
    one = next(e for e in d["strata"] if e["stratum"] == {"grade": 10, "sex": "男"})
    assert one["scales"]["phq9.total"] == {"n": 1, "mean": 4.0, "sd": None, "scores": [4.0], "counts": [1], "pr": [50.0]}


def test_excel_round_trip_exact_and_readable(county, tmp_path):
    from openpyxl import load_workbook

    ref = county.assign(**{"item.mean": county["phq9.total"] / 9})  # 17-digit scores like 1.2222222222222223
    nt = _fit(ref, ["phq9.total", "gad7.total", "item.mean"])
    path = nt.to_excel(tmp_path / "norms.xlsx")
    back = NormTable.from_excel(path)
    new = _new_wave(ref)
    pd.testing.assert_frame_equal(back.transform(new), nt.transform(new), check_exact=True)
    pd.testing.assert_frame_equal(back.lookup_, nt.lookup_, check_exact=True)
    assert back.strata_ == nt.strata_
    assert back.fitted_on_["date"] == nt.fitted_on_["date"]
    wb = load_workbook(path, read_only=True)
    assert wb.sheetnames == ["about", "strata", "phq9.total", "gad7.total", "item.mean", "_exact"]
    assert wb["_exact"].sheet_state == "hidden"
    head = next(wb["phq9.total"].iter_rows(values_only=True))
    assert head[:5] == ("score", "grade=7, sex=女 n", "grade=7, sex=女 PR", "grade=7, sex=女 T", "grade=7, sex=女 Tn")
    rows = list(wb["phq9.total"].iter_rows(values_only=True))[1:]
    lk = nt.lookup_.query("grade == 7 and sex == '女' and scale == 'phq9.total'").set_index("score")
    for r in rows:
        if r[1]:
            assert r[2] == pytest.approx(lk.loc[r[0], "pr"], abs=0.005)
    wb.close()


def test_damaged_files_raise(tmp_path, county):
    p = tmp_path / "x.json"
    p.write_text("{not json", encoding="utf-8")
    with pytest.raises(NormFileError):
        NormTable.from_json(p)
    p.write_text(json.dumps({"format": "something else"}), encoding="utf-8")
    with pytest.raises(NormFileError, match="not a psyscreen norm table"):
        NormTable.from_json(p)
    nt = _fit(county, ["phq9.total"])
    d = json.loads(nt.to_json(tmp_path / "ok.json").read_text(encoding="utf-8"))
    del d["strata"][0]["scales"]["phq9.total"]["counts"]
    p.write_text(json.dumps(d), encoding="utf-8")
    with pytest.raises(NormFileError, match="damaged"):
        NormTable.from_json(p)
    q = tmp_path / "bad.xlsx"
    q.write_bytes(b"not a workbook")
    with pytest.raises(NormFileError):
        NormTable.from_excel(q)


@settings(max_examples=60, deadline=None)
@given(
    ref=st.lists(st.integers(0, 30), min_size=1, max_size=50),
    new=st.lists(st.floats(-5, 35, allow_nan=False), min_size=1, max_size=30),
)
def test_pr_bounded_and_monotone(ref, new):
    nt = _fit(pd.DataFrame({"s": np.array(ref, dtype=float)}), "s", by=())
    x = np.sort(np.array(new))
    out = nt.transform(pd.DataFrame({"s": x}))
    pr = out["s.pr"].to_numpy()
    assert ((pr >= 0) & (pr <= 100)).all()
    assert (np.diff(pr) >= 0).all()
    assert (np.diff(out["s.tn"].to_numpy()) >= 0).all()
    assert (np.diff(out["s.stanine"].to_numpy(dtype=float)) >= 0).all()


def test_excel_text_that_looks_like_a_formula_stays_text(tmp_path):
    # A stratum value or a description from the data must never become a formula in the workbook, and must
    # come back as it was (the round trip stays exact).
    from openpyxl import load_workbook

    rng = np.random.default_rng(3)
    ref = pd.DataFrame({"sex": ["=1+2", "女"] * 60, "phq9.total": rng.integers(0, 27, 120).astype(float)})
    nt = NormTable(by=["sex"], min_stratum=10).fit(ref, "phq9.total", description='=HYPERLINK("http://x","y")')
    path = nt.to_excel(tmp_path / "norms.xlsx")
    wb = load_workbook(path)
    cells = [c for ws in wb.worksheets for row in ws.iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    assert any(c.value == "=1+2" for c in cells)
    back = NormTable.from_excel(path)
    assert back.fitted_on_["description"] == '=HYPERLINK("http://x","y")'
    pd.testing.assert_frame_equal(back.transform(ref), nt.transform(ref), check_exact=True)


def test_read_loads_the_json_and_the_workbook_by_their_content(county, tmp_path):
    nt = _fit(county, ["phq9.total", "gad7.total"])
    new = _new_wave(county)
    js, xl = nt.to_json(tmp_path / "n.json"), nt.to_excel(tmp_path / "n.xlsx")
    renamed = tmp_path / "norms.dat"  # a renamed workbook still loads: the kind is told by the bytes
    renamed.write_bytes(xl.read_bytes())
    bom = tmp_path / "bom.json"  # JSON saved by an editor that writes a byte-order mark
    bom.write_bytes(b"\xef\xbb\xbf" + js.read_bytes())
    for path in (js, xl, renamed, bom):
        back = NormTable.read(path)
        assert back.strata_ == nt.strata_
        pd.testing.assert_frame_equal(back.transform(new), nt.transform(new), check_exact=True)


def test_read_refuses_what_is_not_a_norm_table_with_a_located_message(county, tmp_path):
    from openpyxl import Workbook

    scores = tmp_path / "scores.xlsx"  # a workbook, but a table of scores, not of norms
    wb = Workbook()
    wb.active.append(["student_id", "phq9.total"])
    wb.save(scores)
    text = tmp_path / "norms.csv"
    text.write_text("grade,sex,pr\n7,F,50\n", encoding="utf-8")
    gbk = tmp_path / "gbk.json"
    gbk.write_bytes('{"format": "年级"}'.encode("gbk"))
    cases = {scores: "not a psyscreen norm table", text: "not a norm table", tmp_path / "absent.json": "cannot be read",
             gbk: "not UTF-8"}
    for path, needle in cases.items():
        with pytest.raises(NormFileError, match=needle) as info:
            NormTable.read(path)
        assert info.value.path == str(path) and str(path) in str(info.value)
        assert "UnicodeDecodeError" not in str(info.value)
    # a json table refuses to load as a workbook's bytes, and the message says what to give
    with pytest.raises(NormFileError, match="analyze norms"):
        NormTable.from_json(scores)
