"""``psyscreen analyze``: the figures in the written workbooks equal R's (../shared/reference/expected.json).

Each test runs the command with click's CliRunner on the reference data, reads the workbook back with
openpyxl and compares with the figures psych, lavaan and pROC printed on the same data.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner

from psyscreen.cli import main
from psyscreen.norms import NormTable


def run(args: list[str], ok: bool = True):
    result = CliRunner().invoke(main, ["analyze", *map(str, args)], catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output
    return result


def sheet(path: Path, name: str) -> pd.DataFrame:
    """A sheet read back with openpyxl alone (header in row 1)."""
    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        rows = list(wb[name].iter_rows(values_only=True))
    finally:
        wb.close()
    return pd.DataFrame(rows[1:], columns=list(rows[0]))


SCALES = ["agree", "conscientious", "extraversion", "neuroticism", "openness"]


# ------------------------------------------------------------------------------------------------
# reliability
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("scale", SCALES)
def test_reliability_pairwise_equals_psych_alpha(scale, expected, reference_dir, tmp_path):
    keys = expected["keys"][scale]  # psych-style keys: "-A1" reverses A1
    out = tmp_path / f"{scale}.xlsx"
    run(["reliability", reference_dir / "items.csv", f"--items={','.join(keys)}", "--min", 1, "--max", 6,
         "-o", out])
    ref = expected["alpha"][scale]["pairwise"]
    summary = sheet(out, "alpha").iloc[0]
    assert summary["alpha"] == pytest.approx(ref["raw_alpha"], abs=1e-6)
    assert summary["std_alpha"] == pytest.approx(ref["std_alpha"], abs=1e-6)
    assert summary["average_r"] == pytest.approx(ref["average_r"], abs=1e-6)
    assert summary["n"] == 2800
    assert summary["reversed"] == ", ".join(expected["alpha"][scale]["reversed"]) or summary["reversed"] is None
    items = sheet(out, "alpha_items").set_index("item")
    assert list(items.index) == expected["alpha"][scale]["items"]
    for col, key in (("alpha_if_dropped", "alpha_if_dropped"), ("r_drop", "r_drop")):
        want = pd.Series(ref[key])[items.index]
        np.testing.assert_allclose(items[col].astype(float), want.to_numpy(), atol=1e-6)
    # one-factor omega total (psych::omega(nfactors = 1)) on the complete cases
    om = sheet(out, "omega").iloc[0]
    assert om["omega_total"] == pytest.approx(expected["omega1"][scale]["omega_total"], abs=1e-3)
    assert om["n"] == expected["omega1"][scale]["n"]


def test_reliability_listwise_with_reverse_option(expected, reference_dir, tmp_path):
    out = tmp_path / "c.xlsx"
    run(["reliability", reference_dir / "items.csv", "--items", "C1,C2,C3,C4,C5", "--reverse", "C4,C5",
         "--min", "1", "--max", "6", "--nan-policy", "listwise", "-o", out])
    ref = expected["alpha"]["conscientious"]["complete"]
    summary = sheet(out, "alpha").iloc[0]
    assert summary["n"] == ref["n"]
    assert summary["alpha"] == pytest.approx(ref["raw_alpha"], abs=1e-6)
    assert summary["std_alpha"] == pytest.approx(ref["std_alpha"], abs=1e-6)
    assert summary["g6"] == pytest.approx(ref["G6"], abs=1e-6)
    items = sheet(out, "alpha_items").set_index("item")
    np.testing.assert_allclose(items["r_drop"].astype(float), pd.Series(ref["r_drop"])[items.index], atol=1e-6)
    about = dict(sheet(out, "about").itertuples(index=False))
    assert about["data_sha256"] and len(about["data_sha256"]) == 64
    assert about["rows"] == 2800


def test_reliability_omega_three_factors_equals_psych_omega(expected, reference_dir, tmp_path):
    keys = expected["keys"]
    items = keys["agree"] + keys["conscientious"] + keys["extraversion"]
    out = tmp_path / ("omega.xlsx")
    run(["reliability", reference_dir / "items.csv", f"--items={','.join(items)}", "--min", "1", "--max", "6",
         "--omega-factors", "3", "-o", out])
    om = sheet(out, "omega").iloc[0]
    ref = expected["omega"]
    assert om["n"] == ref["n"]
    assert om["omega_h"] == pytest.approx(ref["omega_h"], abs=1e-3)
    assert om["omega_total"] == pytest.approx(ref["omega_total"], abs=1e-3)
    assert om["alpha"] == pytest.approx(ref["alpha"], abs=1e-3)


def test_reliability_from_instrument_scale(tmp_path):
    """--instrument phq9 --scale total takes phq9.1..phq9.9; alpha checked against the textbook formula."""
    from psyscreen.synthetic import simulate_answers, simulate_students

    students = simulate_students(300, seed=3)
    answers = simulate_answers(students, ["phq9"], seed=4)
    data = tmp_path / "phq9.csv"
    answers.assign(sex=students["sex"].to_numpy()).to_csv(data, index=False)
    out = tmp_path / "phq9.xlsx"
    run(["reliability", data, "--instrument", "phq9", "--scale", "total", "-o", out])
    items = sheet(out, "alpha_items")
    assert items["item"].tolist() == [f"phq9.{i}" for i in range(1, 10)]
    x = answers[[f"phq9.{i}" for i in range(1, 10)]].to_numpy()
    k = x.shape[1]
    textbook = k / (k - 1) * (1 - x.var(axis=0, ddof=1).sum() / x.sum(axis=1).var(ddof=1))
    assert sheet(out, "alpha").iloc[0]["alpha"] == pytest.approx(textbook, abs=1e-9)


# ------------------------------------------------------------------------------------------------
# item analysis
# ------------------------------------------------------------------------------------------------
def test_items_r_drop_and_alpha_if_dropped_equal_psych(expected, reference_dir, tmp_path):
    out = tmp_path / "items.xlsx"
    run(["items", reference_dir / "items.csv", "--items=N1,N2,N3,N4,N5", "--min", "1", "--max", "6", "-o", out])
    tab = sheet(out, "item_analysis").set_index("item")
    ref = expected["alpha"]["neuroticism"]["complete"]
    np.testing.assert_allclose(tab["r_drop"].astype(float), pd.Series(ref["r_drop"])[tab.index], atol=1e-6)
    np.testing.assert_allclose(tab["alpha_if_dropped"].astype(float),
                               pd.Series(ref["alpha_if_dropped"])[tab.index], atol=1e-6)
    summary = sheet(out, "item_summary").iloc[0]
    assert summary["n"] == ref["n"]
    assert summary["alpha"] == pytest.approx(ref["raw_alpha"], abs=1e-6)
    assert (tab["cr"].astype(float) > 0).all()  # every neuroticism item separates the top and bottom groups


def test_items_html_report_is_self_contained(reference_dir, tmp_path):
    out = tmp_path / "items.html"
    run(["items", reference_dir / "items.csv", "--items=N1,N2,N3,N4,N5", "-o", out])
    text = out.read_text(encoding="utf-8")
    assert text.count("data:image/png;base64,") == 1
    assert "http://" not in text and "https://" not in text
    assert "<caption>item_analysis</caption>" in text


# ------------------------------------------------------------------------------------------------
# EFA
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("rotation", ["oblimin", "varimax"])
def test_efa_loadings_equal_psych_fa(rotation, expected, reference_dir, tmp_path):
    ref = expected["efa"]
    out = tmp_path / "efa.xlsx"
    run(["efa", reference_dir / "items.csv", "--items", ",".join(ref["items"]), "--factors", "5",
         "--rotation", rotation, "--no-parallel", "-o", out])
    tab = sheet(out, "efa_loadings").set_index("item")
    assert list(tab.index) == ref["items"]
    factors = [c for c in tab.columns if c not in ("h2", "u2")]
    got = tab[factors].to_numpy(dtype=float)
    want = np.asarray(ref[rotation]["loadings"], dtype=float)
    # match factors by Tucker congruence and sign
    cong = (got.T @ want) / np.sqrt(np.outer((got**2).sum(0), (want**2).sum(0)))
    order = np.abs(cong).argmax(axis=0)
    assert sorted(order.tolist()) == list(range(5))
    signs = np.sign(cong[order, range(5)])
    assert (np.abs(cong[order, range(5)]) >= 0.999).all()
    np.testing.assert_allclose(got[:, order] * signs, want, atol=1e-3)
    if "communalities" in ref[rotation]:
        np.testing.assert_allclose(tab["h2"].astype(float), pd.Series(ref[rotation]["communalities"])[tab.index],
                                   atol=1e-3)
    kmo = sheet(out, "kmo").set_index("item")
    assert kmo.loc["overall", "MSA"] == pytest.approx(ref["kmo"], abs=1e-6)
    bart = sheet(out, "bartlett").iloc[0]
    assert bart["chisq"] == pytest.approx(ref["bartlett"]["chisq"], abs=1e-6 * ref["bartlett"]["chisq"])
    assert bart["df"] == ref["bartlett"]["df"]
    assert bart["n"] == ref["n"]


def test_efa_without_factors_uses_parallel_analysis(expected, reference_dir, tmp_path):
    out = tmp_path / "efa.xlsx"
    items = ",".join(expected["keys"]["neuroticism"] + [k.lstrip("-") for k in expected["keys"]["extraversion"]])
    run(["efa", reference_dir / "items.csv", "--items", items, "--n-iter", "5", "--seed", "1", "-o", out])
    pa = sheet(out, "parallel").iloc[0]
    loadings = sheet(out, "efa_loadings")
    assert pa["n_factors"] >= 1
    assert len([c for c in loadings.columns if c not in ("item", "h2", "u2")]) == pa["n_factors"]


# ------------------------------------------------------------------------------------------------
# CFA and invariance
# ------------------------------------------------------------------------------------------------
FIT = ["chisq", "df", "pvalue", "cfi", "tli", "rmsea", "srmr", "aic", "bic"]


def test_cfa_fit_and_loadings_equal_lavaan(expected, reference_dir, tmp_path):
    ref = expected["cfa"]
    model = tmp_path / "hs.lav"
    model.write_text(ref["model"], encoding="utf-8")
    out = tmp_path / "cfa.xlsx"
    run(["cfa", reference_dir / "cfa.csv", "--model", model, "-o", out])
    fit = sheet(out, "fit").iloc[0]
    for key in FIT:
        assert fit[key] == pytest.approx(ref["fit"][key], abs=1e-3, rel=1e-6), key
    assert fit["ntotal"] == ref["n"]
    std = sheet(out, "std_loadings")
    got = {f"{f}=~{i}": e for f, i, e in zip(std["factor"], std["item"], std["estimate"])}
    assert set(got) == set(ref["std_loadings"])
    for key, value in ref["std_loadings"].items():
        assert got[key] == pytest.approx(value, abs=1e-3), key


def test_invariance_steps_equal_lavaan(reference_dir, tmp_path):
    ref = json.loads((reference_dir / "invariance.json").read_text())
    out = tmp_path / "inv.xlsx"
    # invariance.csv holds lavaan's `school` in a column named `group`
    run(["invariance", reference_dir / "invariance.csv", "--model", ref["model"], "--group", "group", "-o", out])
    tab = sheet(out, "invariance").set_index("step")
    assert list(tab.index) == list(ref["steps"])
    for step, figures in ref["steps"].items():
        for key, value in figures.items():
            assert tab.loc[step, key] == pytest.approx(value, abs=1e-3, rel=1e-6), (step, key)
    # the deltas are differences of the rows
    assert tab.loc["metric", "delta_cfi"] == pytest.approx(
        ref["steps"]["metric"]["cfi"] - ref["steps"]["configural"]["cfi"], abs=1e-3)


# ------------------------------------------------------------------------------------------------
# ROC
# ------------------------------------------------------------------------------------------------
def test_roc_equals_proc(expected, reference_dir, tmp_path):
    ref = expected["roc"]
    out = tmp_path / "roc.xlsx"
    run(["roc", reference_dir / "roc.csv", "--score", "score", "--criterion", "criterion", "--n-boot", "100",
         "-o", out])
    row = sheet(out, "roc").iloc[0]
    assert row["n_cases"] + row["n_controls"] == ref["n"]
    assert row["auc"] == pytest.approx(ref["auc"], abs=1e-6)
    assert row["auc_ci_low"] == pytest.approx(ref["auc_ci_delong"][0], abs=1e-6)
    assert row["auc_ci_high"] == pytest.approx(ref["auc_ci_delong"][1], abs=1e-6)
    assert row["threshold"] == pytest.approx(ref["youden"]["threshold"], abs=1e-6)
    assert row["sensitivity"] == pytest.approx(ref["youden"]["sensitivity"], abs=1e-6)
    assert row["specificity"] == pytest.approx(ref["youden"]["specificity"], abs=1e-6)
    cuts = sheet(out, "roc_cuts")
    j = cuts["youden_j"].astype(float)
    assert j.max() == pytest.approx(ref["youden"]["sensitivity"] + ref["youden"]["specificity"] - 1, abs=1e-6)


def test_roc_positive_value_and_html(reference_dir, tmp_path):
    data = pd.read_csv(reference_dir / "roc.csv")
    data["criterion"] = np.where(data["criterion"] == 1, "case", "control")
    path = tmp_path / "roc_text.csv"
    data.to_csv(path, index=False)
    out = tmp_path / "roc.html"
    run(["roc", path, "--score", "score", "--criterion", "criterion", "--positive", "case", "--n-boot", "0",
         "-o", out])
    text = out.read_text(encoding="utf-8")
    assert "data:image/png;base64," in text and "0.573" in text


# ------------------------------------------------------------------------------------------------
# norms
# ------------------------------------------------------------------------------------------------
@pytest.fixture()
def wave(tmp_path) -> Path:
    from psyscreen.synthetic import simulate_answers, simulate_students

    students = simulate_students(600, seed=11, grades=range(7, 10))
    answers = simulate_answers(students, ["phq9"], seed=12)
    frame = pd.concat([students[["grade", "sex"]], answers], axis=1)
    path = tmp_path / "wave.csv"
    frame.to_csv(path, index=False, encoding="gb18030")  # Chinese Excel's CSV; read_table detects it
    return path


def test_norms_workbook_and_json_percentile_ranks(wave, tmp_path):
    out, js = tmp_path / "norms.xlsx", tmp_path / "norms.json"
    run(["norms", wave, "--scales", "phq9.total", "--by", "grade,sex", "-o", out, "--json", js])
    frame = pd.read_csv(wave, encoding="gb18030")
    total = frame[[f"phq9.{i}" for i in range(1, 10)]].sum(axis=1, min_count=9)
    for table in (NormTable.from_excel(out), NormTable.from_json(js)):
        assert table.scales_ == ["phq9.total"]
        probe = frame.assign(**{"phq9.total": total})
        got = table.transform(probe)["phq9.total.pr"].to_numpy()
        # percentile rank by hand: 100 * (below + equal / 2) / n within the grade x sex stratum
        want = np.empty(len(probe))
        for _, idx in probe.groupby(["grade", "sex"]).groups.items():
            ref = total[idx].to_numpy()
            x = ref[:, None]
            want[probe.index.get_indexer(idx)] = 100 * ((ref[None, :] < x).sum(1) + (ref[None, :] == x).sum(1) / 2) / len(ref)
        np.testing.assert_allclose(got, want, atol=1e-9)
    wb = openpyxl.load_workbook(out, read_only=True)
    assert "about" in wb.sheetnames
    wb.close()


def test_norms_html_report_has_curves(wave, tmp_path):
    out = tmp_path / "norms.html"
    run(["norms", wave, "--scales", "phq9.total", "--by", "grade,sex", "-o", out])
    assert out.read_text(encoding="utf-8").count("data:image/png;base64,") == 1


# ------------------------------------------------------------------------------------------------
# bad input: one line, exit code 1, no traceback, nothing written
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "args, needle",
    [
        (["reliability", "{items}", "--items", "A1,A2,ZZ9", "-o", "{out}"], "ZZ9 not in DATA"),
        (["reliability", "{items}", "--items", "A1,A2", "--reverse", "B7", "-o", "{out}"], "B7"),
        (["reliability", "{items}", "-o", "{out}"], "--items"),
        (["reliability", "{items}", "--instrument", "phq9", "-o", "{out}"], "phq9.1"),
        (["reliability", "{items}", "--instrument", "no_such_scale_xyz", "-o", "{out}"], "no_such_scale_xyz"),
        (["reliability", "{items}", "--items", "A1,A2", "-o", "{bad_suffix}"], ".xlsx or .html"),
        (["cfa", "{cfa}", "--model", "f =~ x1 + x2 + nope", "-o", "{out}"], "nope"),
        (["cfa", "{cfa}", "--model", "gibberish", "-o", "{out}"], "lavaan syntax"),
        (["roc", "{items}", "--score", "A1", "--criterion", "education", "-o", "{out}"], "--positive"),
        (["roc", "{items}", "--score", "nope", "--criterion", "gender", "-o", "{out}"], "nope"),
        (["invariance", "{inv}", "--model", "f =~ x1 + x2 + x3", "--group", "grp", "-o", "{out}"], "grp"),
        (["efa", "{items}", "--items", "A1,A2,A3", "--factors", "5", "-o", "{out}"], "n_factors"),
        (["reliability", "{inv}", "--items", "group,x1", "-o", "{out}"], "text"),
        (["norms", "{items}", "--scales", "A1", "--by", "school", "-o", "{out}"], "school"),
    ],
)
def test_bad_input_is_one_line(args, needle, reference_dir, tmp_path):
    paths = {"items": reference_dir / "items.csv", "cfa": reference_dir / "cfa.csv",
             "inv": reference_dir / "invariance.csv", "out": tmp_path / "out.xlsx",
             "bad_suffix": tmp_path / "out.pdf"}
    result = CliRunner().invoke(main, ["analyze", *[a.format(**paths) for a in args]])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert needle in lines[0]
    assert not (tmp_path / "out.xlsx").exists()


# ------------------------------------------------------------------------------------------------
# the researcher's path meets the county's: score -> analyze norms -> NormTable.read -> a screened wave
# ------------------------------------------------------------------------------------------------
def test_norms_from_score_output_round_trip_and_match_a_screened_wave(tmp_path):
    import psyscreen

    sample = Path(__file__).resolve().parents[1] / "data" / "sample"
    cmap = sample / "column_map.csv"
    wave = tmp_path / "march.xlsx"
    res = CliRunner().invoke(main, ["score", str(sample / "2026-03"), "--protocol", "default", "--map", str(cmap),
                                    "--keep-items", "-o", str(wave)])
    assert res.exit_code == 0, res.output
    xl, js = tmp_path / "norms.xlsx", tmp_path / "norms.json"
    run(["norms", wave, "--scales", "phq9.total,gad7.total", "--by", "grade,sex", "-o", xl, "--json", js])
    from_xl, from_js = NormTable.read(xl), NormTable.read(js)
    assert from_xl.strata_ == from_js.strata_
    pd.testing.assert_frame_equal(from_xl.table_, from_js.table_, check_exact=True)
    sexes = {s for _, s in from_js.strata_ if isinstance(s, str)}
    assert sexes == {"F", "M"}  # one coding: never 女 beside F
    screened = psyscreen.screen(sample / "2026-09", protocol="default", wave="2026-09", out=tmp_path / "out",
                                column_map=cmap, reports=False, workers=1)
    students = pd.read_parquet(screened.paths["students"])
    known = students.dropna(subset=["grade", "sex"])
    strata = set(from_js._groups(known))
    assert strata and strata <= set(from_js.strata_)  # every stratum of the wave has its norm
    probe = from_js.transform(known)
    assert probe["phq9.total.pr"].notna().sum() == known["phq9.total"].notna().sum()


def test_analyze_reads_a_raw_export_with_a_column_map(tmp_path):
    import psyscreen
    from psyscreen.reliability import alpha

    sample = Path(__file__).resolve().parents[1] / "data" / "sample"
    export, cmap = sample / "2026-09" / "实验中学.csv", sample / "column_map.csv"
    bare = run(["reliability", export, "--instrument", "phq9", "-o", tmp_path / "x.xlsx"], ok=False)
    assert bare.exit_code == 1 and "--map" in bare.output  # the raw export's headers: say what to give
    out = tmp_path / "phq9.xlsx"
    res = run(["reliability", export, "--map", cmap, "--instrument", "phq9", "-o", out])
    assert "1 row(s) of DATA set aside" in res.output  # the answer that is not a code: named by row, not used
    wave = psyscreen.read_exports(export, protocol="default", column_map=cmap)
    want = alpha(wave.items("phq9"))
    assert sheet(out, "alpha").iloc[0]["alpha"] == pytest.approx(want.alpha, abs=1e-12)
    about = dict(sheet(out, "about").itertuples(index=False, name=None))
    assert about["map"] == str(cmap) and len(about["map_sha256"]) == 64
    js = tmp_path / "norms.json"
    run(["norms", export, "--map", cmap, "--scales", "phq9.total", "--by", "grade,sex", "-o", js])
    assert {s for _, s in NormTable.read(js).strata_} == {"F", "M"}  # coded as screen codes them


# ------------------------------------------------------------------------------------------------
# how the reports show numbers, and their Chinese labels
# ------------------------------------------------------------------------------------------------
def _formats(path: Path, name: str) -> dict:
    """Header -> (value, number_format) of the first data row of a sheet."""
    wb = openpyxl.load_workbook(path)
    ws = wb[name]
    return {h.value: (c.value, c.number_format) for h, c in zip(ws[1], ws[2])}


def test_workbooks_show_coefficients_rates_and_counts_with_number_formats(reference_dir, tmp_path):
    out = tmp_path / "alpha.xlsx"
    run(["reliability", reference_dir / "items.csv", "--items", "A1,A2,A3,A4,A5", "--reverse", "A1", "--min", 1,
         "--max", 6, "-o", out])
    alpha = _formats(out, "alpha")
    assert isinstance(alpha["alpha"][0], float) and alpha["alpha"][1] == "0.000"
    assert alpha["n"] == (2800, "0")
    assert _formats(out, "alpha_items")["r_drop"][1] == "0.000"
    roc = tmp_path / "roc.xlsx"
    run(["roc", reference_dir / "roc.csv", "--score", "score", "--criterion", "criterion", "--n-boot", 0, "-o", roc])
    cuts = _formats(roc, "roc_cuts")
    assert cuts["sensitivity"][1] == "0.0%" and 0 <= cuts["sensitivity"][0] <= 1  # the value stays a proportion
    assert cuts["tp"][1] == "0"
    wb = openpyxl.load_workbook(roc)
    general = [(ws.title, c.coordinate) for ws in wb.worksheets if ws.title != "about"
               for row in ws.iter_rows(min_row=2) for c in row
               if isinstance(c.value, float) and c.number_format == "General"]
    assert not general  # no float is shown as 0.817401250081985


def test_lang_zh_labels_the_workbook_and_the_page_in_chinese(reference_dir, tmp_path):
    args = ["reliability", reference_dir / "items.csv", "--items", "A1,A2,A3,A4,A5", "--reverse", "A1", "--min", 1,
            "--max", 6]
    en, zh, page = tmp_path / "en.xlsx", tmp_path / "zh.xlsx", tmp_path / "zh.html"
    run([*args, "-o", en])
    run([*args, "-o", zh, "--lang", "zh"])
    run([*args, "-o", page, "--lang", "zh"])
    a_en, a_zh = sheet(en, "alpha"), sheet(zh, "alpha")
    assert list(a_en.columns)[:2] == ["alpha", "std_alpha"]  # en (the default) as before
    assert list(a_zh.columns)[:2] == ["α系数", "标准化α"] and "人数" in a_zh.columns
    assert a_zh.iloc[0]["α系数"] == a_en.iloc[0]["alpha"]  # the same number, still a number
    assert list(sheet(zh, "alpha_items").columns)[:3] == ["题目", "删除该题后α", "校正题总相关"]
    assert sheet(zh, "about").columns.tolist() == ["项目", "值"]
    text = page.read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in text and "<h1>信度分析</h1>" in text and "<th>α系数</th>" in text
    import re

    assert not re.search(r"<td>-?\d+\.\d{5,}</td>", text)  # numbers shown rounded


def test_efa_ordered_equals_psych_fa_on_polychoric_correlations(tmp_path):
    """--ordered: the EFA of the polychoric matrix, as psych::fa(x, 3, cor = "poly") (tests/data/poly_psych.R)."""
    data_dir = Path(__file__).resolve().parent / "data"
    ref = json.loads((data_dir / "poly_psych.json").read_text())["hs4"]["fa3"]
    out = tmp_path / "efa.xlsx"
    items = pd.read_csv(data_dir / "poly_hs4.csv").columns.tolist()
    run(["efa", data_dir / "poly_hs4.csv", "--items", ",".join(items), "--factors", "3", "--ordered",
         "--no-parallel", "-o", out])
    tab = sheet(out, "efa_loadings").set_index("item")
    got = tab[[c for c in tab.columns if c not in ("h2", "u2")]].to_numpy(dtype=float)
    want = np.asarray(ref["loadings"], dtype=float)
    cong = (got.T @ want) / np.sqrt(np.outer((got**2).sum(0), (want**2).sum(0)))
    order = np.abs(cong).argmax(axis=0)
    assert sorted(order.tolist()) == [0, 1, 2] and (np.abs(cong[order, range(3)]) >= 0.999).all()
    np.testing.assert_allclose(got[:, order] * np.sign(cong[order, range(3)]), want, atol=1e-3)
