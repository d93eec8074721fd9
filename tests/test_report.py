"""report: the four-level outputs carry what each level needs and nothing more; formulas inert; counts suppressed."""

from __future__ import annotations

import re
import warnings

import openpyxl
import pandas as pd
import pytest

import psyscreen
from psyscreen import classify, score, synthetic
from psyscreen.privacy import pseudonymise
from psyscreen.report import render_letter, write_county, write_critical, write_school

FORMULA_NAME = '=HYPERLINK("http://evil.example","x")'
HTML_NAME = "<script>alert(1)</script>李"


@pytest.fixture(scope="module")
def wave():
    st = synthetic.simulate_students(900, seed=11, grades=range(7, 13), schools=["一中", "二中", "实验中学"])
    answers = synthetic.simulate_answers(st, ["phq9", "gad7"], seed=12)
    scores = score(answers, ["phq9", "gad7"])
    levels = classify(scores, "default")
    df = pd.concat([st[["student_id", "school", "grade", "class", "sex"]], scores, levels], axis=1)
    df = df.rename(columns={"student_id": "student_key"})
    df["sex"] = df["sex"].map({"男": "M", "女": "F"})
    df["class"] = df["class"].astype(str)
    df["wave"] = "2026-09"
    ident = pd.DataFrame({"student_key": st["student_id"], "student_id": st["student_id"], "name": st["name"]})
    one = df.index[(df["school"] == "一中") & df["critical"]]
    ident.loc[one[0], "name"] = FORMULA_NAME
    ident.loc[one[1], "name"] = HTML_NAME
    ledger = pd.DataFrame({"file": ["a.xlsx", "b.csv", "c.csv"], "school": ["一中", "二中", "实验中学"],
                           "quarantined": [3, 0, 12], "duplicates": [0, 2, 0]})
    ledger["scored"] = df.groupby("school").size().reindex(ledger["school"]).to_numpy()
    ledger["rows"] = ledger[["scored", "quarantined", "duplicates"]].sum(axis=1)
    return df, ident, answers, ledger


@pytest.fixture(scope="module")
def school_out(wave, tmp_path_factory):
    df, ident, _, _ = wave
    folder = tmp_path_factory.mktemp("school") / "一中"
    return write_school(df[df["school"] == "一中"], folder, protocol="default", identities=ident), df, ident


def _cells(path):
    wb = openpyxl.load_workbook(path)
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                yield ws.title, c


def _sheet(path, idx=0):
    ws = openpyxl.load_workbook(path).worksheets[idx]
    rows = [[c.value for c in r] for r in ws.iter_rows()]
    return rows


# ---- class lists -------------------------------------------------------------------------------

def test_class_lists_have_only_id_name_level_action(school_out):
    out, df, _ = school_out
    sch = df[df["school"] == "一中"]
    assert len(out["classes"]) == sch.groupby(["grade", "class"]).ngroups
    seen = 0
    for path in out["classes"]:
        rows = _sheet(path)
        assert rows[0] == ["学号", "姓名", "预警等级", "建议措施"]
        text = " ".join(str(v) for r in rows[1:] for v in r if v is not None)
        assert "PHQ" not in text and "GAD" not in text and "总分" not in text and "第9题" not in text
        for r in rows[1:]:
            assert r[2] in {"一级预警（红色）", "二级预警（橙色）", "三级预警（黄色）", "答卷无效，需重测", "未能判定（数据缺失）"}
            assert r[3]  # a suggested action for every listed student
        seen += len(rows) - 1
    assert seen == int((sch["level_rank"] <= 3).sum())  # every flagged student, nobody else


def test_class_list_names_files_by_grade_and_class(school_out):
    out, df, _ = school_out
    names = {p.name for p in out["classes"]}
    sch = df[df["school"] == "一中"]
    assert names == {f"{g}-{c}.xlsx" for g, c in sch[["grade", "class"]].drop_duplicates().itertuples(index=False)}


def test_level_cells_carry_their_level_colour_and_lists_are_most_urgent_first(school_out):
    out, _, _ = school_out
    from psyscreen.report._common import level_infos

    infos = level_infos(psyscreen.load_protocol("default"), "zh")   # the protocol's levels, then re-test etc.
    colour = {i.label: i.colour.lstrip("#").upper() for i in infos if i.colour}
    rank = {i.label: i.rank for i in infos}
    coloured = 0
    for path in [*out["classes"], out["workbook"]]:
        ws = openpyxl.load_workbook(path).worksheets[0]
        header_row = 2 if path == out["workbook"] else 1
        heads = [c.value for c in ws[header_row]]
        j = heads.index("预警等级")
        cells = [row[j] for row in ws.iter_rows(min_row=header_row + 1)]
        for c in cells:
            fill = c.fill.fgColor.rgb if c.fill.fill_type == "solid" else None
            if c.value in colour:
                assert fill is not None and fill.endswith(colour[c.value]), (path.name, c.coordinate, fill)
                coloured += 1
            else:
                assert fill is None, (path.name, c.coordinate, c.value, fill)
        if path != out["workbook"]:
            ranks = [rank.get(c.value, 9) for c in cells]
            assert ranks == sorted(ranks)
    assert coloured > 0


# ---- school workbook ---------------------------------------------------------------------------

def test_school_workbook_sorted_critical_first_with_reasons(school_out):
    out, df, _ = school_out
    rows = _sheet(out["workbook"])
    header = rows[1]  # row 0 is the note line
    body = pd.DataFrame(rows[2:], columns=header)
    sch = df[df["school"] == "一中"]
    assert len(body) == len(sch)
    assert {"phq9.total", "gad7.total", "phq9.total.band", "原因", "预警等级"} <= set(header)
    crit = body["危机作答"].fillna("") == "是"
    assert crit.sum() == sch["critical"].sum() and crit.iloc[: crit.sum()].all()
    order = {"一级预警（红色）": 1, "二级预警（橙色）": 2, "三级预警（黄色）": 3, "无预警": 5}
    ranks = body.loc[~crit, "预警等级"].map(order)
    assert ranks.is_monotonic_increasing
    assert body.loc[crit, "原因"].str.contains("PHQ-9 第9题").all()
    assert not any(re.fullmatch(r"phq9\.\d+", str(h)) for h in header)  # no item answers


# ---- formula injection -------------------------------------------------------------------------

def test_formula_like_name_is_inert_in_every_workbook(school_out, wave, tmp_path):
    out, df, ident = school_out
    crit = df[df["critical"]].merge(ident, on="student_key")
    paths = [out["workbook"], *out["classes"], write_critical(crit, tmp_path / "critical.xlsx", protocol="default")]
    found = 0
    for path in paths:
        for sheet, c in _cells(path):
            assert c.data_type != "f", (path.name, sheet, c.coordinate, c.value)
            if isinstance(c.value, str) and "HYPERLINK" in c.value:
                assert c.value == "'" + FORMULA_NAME
                found += 1
    assert found >= 3  # school workbook, the class list and the critical list


def test_critical_list_columns(wave, tmp_path):
    df, ident, _, _ = wave
    crit = df[df["critical"]].merge(ident, on="student_key")
    rows = _sheet(write_critical(crit, tmp_path / "c.xlsx", protocol="default"))
    assert rows[0] == ["学校", "年级", "班级", "学号", "姓名", "预警等级", "原因"]
    assert len(rows) - 1 == int(df["critical"].sum())
    rows_en = _sheet(write_critical(crit, tmp_path / "e.xlsx", lang="en"))
    assert rows_en[0][-1] == "Reasons" and "item 9" in rows_en[1][-1]


# ---- letters -----------------------------------------------------------------------------------

def test_letters_one_per_flagged_no_answers_names_escaped(school_out, wave):
    out, df, ident = school_out
    _, _, answers, _ = wave
    sch = df[df["school"] == "一中"]
    flagged = sch[sch["level_rank"] <= 3]
    assert {p.stem for p in out["letters"]} == set(flagged["student_key"])
    for p in out["letters"]:
        html = p.read_text("utf-8")
        assert "PHQ" not in html and "GAD" not in html and "第9题" not in html and "总分" not in html
        assert "<script>" not in html
        assert "联系人" in html
    key = ident.loc[ident["name"] == HTML_NAME, "student_key"].iloc[0]
    html = next(p for p in out["letters"] if p.stem == key).read_text("utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;李" in html
    assert "当天由心理教师面谈评估" in html  # the protocol's action for level 1


def test_custom_template_and_strict_variables(tmp_path, school_out, wave):
    df = wave[0]
    tpl = tmp_path / "mine.html.j2"
    tpl.write_text("<p>{{ student_name }} / {{ level }} / {{ action }} / {{ contact }}</p>", "utf-8")
    sch = df[df["school"] == "二中"]
    out = write_school(sch, tmp_path / "二中", protocol="default", letter_template=tpl, contact="王老师 123")
    html = out["letters"][0].read_text("utf-8")
    assert html.startswith("<p>") and "王老师 123" in html and "预警" in html
    with pytest.raises(ValueError, match="answers"):
        render_letter({"student_name": "x"}, "{{ answers }}")


def test_pseudonymised_keys_name_the_letters(wave, tmp_path):
    df, ident, _, _ = wave
    key = bytes(range(32))
    sch = df[df["school"] == "实验中学"].copy()
    ids = sch["student_key"]
    sch["student_key"] = pseudonymise(ids, key)
    idn = ident.assign(student_key=pseudonymise(ident["student_key"], key))
    out = write_school(sch, tmp_path / "s", protocol="default", identities=idn, lang="en")
    assert all(re.fullmatch(r"[0-9a-f]{64}", p.stem) for p in out["letters"])
    rows = _sheet(out["classes"][0])
    assert rows[0] == ["Student id", "Name", "Warning level", "Suggested action"]
    listed = [r[0] for r in rows[1:]]
    assert set(listed) <= set(ids)  # the school level shows the real id, joined back from the identities


# ---- county ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def county(wave, tmp_path_factory):
    df, _, _, ledger = wave
    folder = tmp_path_factory.mktemp("county")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = write_county(df, ledger, folder, protocol="default")
    return out, caught, df


def test_county_no_small_count_anywhere(county):
    out, _, df = county
    small = []
    for sheet, c in _cells(out["summary"]):
        v = c.value
        if isinstance(v, bool):
            continue
        if isinstance(v, (int, float)) and float(v).is_integer() and 1 <= v <= 4 and c.number_format != "0.0%":
            small.append((sheet, c.coordinate, v))
        if isinstance(v, str) and re.fullmatch(r"\s*[1-4]\s*", v):
            small.append((sheet, c.coordinate, v))
    assert not small
    html = out["report"].read_text("utf-8")
    text = re.sub(r"<svg.*?</svg>", "", html, flags=re.S)
    assert not re.search(r">\s*[1-4]\s*<", text)
    assert "<td>*</td>" in text and "&lt;5" not in text   # one mark for every hidden cell: it narrows nothing


def test_county_secondary_suppression_per_row(county):
    out, _, df = county
    rows = _sheet(out["summary"])
    header, body = rows[1], rows[2:]
    count_cols = [j for j, h in enumerate(header) if j >= 3 and not str(h).endswith("比例")]
    n_small = 0
    for r in body:
        assert not any(r[j] == "<5" for j in count_cols)
        hidden = [r[j] for j in count_cols if r[j] == "*"]
        n_small += len(hidden)
        assert len(hidden) != 1, r  # a lone hidden cell would be the total minus the others
        for j, h in enumerate(header):  # a rate is blank where its count is hidden
            if str(h).endswith("比例") and r[j - 1] == "*":
                assert r[j] is None
    assert n_small > 0
    total_row = body[-1]
    assert total_row[3] == len(df)  # the county total is shown


def test_county_has_no_identity(county, wave):
    out, _, df = county
    _, ident, _, _ = wave
    text = out["report"].read_text("utf-8")
    cells = " ".join(str(c.value) for _, c in _cells(out["summary"]) if c.value is not None)
    for sid, name in ident[["student_id", "name"]].head(200).itertuples(index=False):
        assert sid not in text and sid not in cells
        assert name not in cells


def test_county_chart_chinese_renders_with_cjk_font(county):
    out, caught, _ = county
    from psyscreen.plots import cjk_font

    assert cjk_font() is not None
    glyph = [str(w.message) for w in caught if "glyph" in str(w.message).lower() or "missing from" in str(w.message)]
    assert not glyph
    html = out["report"].read_text("utf-8")
    assert html.count("<svg") >= 2 and "各校预警比例" in html


def test_county_participation_balances(county, wave):
    out, _, _ = county
    _, _, _, ledger = wave
    ws = openpyxl.load_workbook(out["summary"])["参与情况"]
    rows = [[c.value for c in r] for r in ws.iter_rows()][1:]   # under the title line
    assert rows[0][:5] == ["学校", "读取行数", "计分人数", "隔离待核行数", "重复行数"]
    last = rows[-1]
    assert last[0] == "合计" and last[2] == int(ledger["scored"].sum())
    shown = {r[0]: r for r in rows[1:-1]}
    assert shown["实验中学"][1] == int(ledger.loc[2, "rows"])  # nothing small there: shown as is


def test_many_schools_get_heat_maps_of_published_rates(tmp_path):
    # more than report.county._MAX_PANELS schools: one heat map per warning level instead of a panel per school;
    # the maps draw only rates the summary publishes (a hidden rate stays blank)
    from psyscreen.report import county as county_module

    schools = [f"学校{i:02d}" for i in range(county_module._MAX_PANELS + 3)]
    st = synthetic.simulate_students(3000, seed=5, grades=range(7, 10), schools=schools)
    scores = score(synthetic.simulate_answers(st, ["phq9", "gad7"], seed=6), ["phq9", "gad7"])
    df = pd.concat([st[["student_id", "school", "grade", "class", "sex"]], scores, classify(scores, "default")], axis=1)
    df = df.rename(columns={"student_id": "student_key"}).assign(sex=lambda d: d["sex"].map({"男": "M", "女": "F"}))
    ledger = df.groupby("school").size().rename("scored").reset_index().assign(quarantined=0, duplicates=0)
    ledger["rows"], ledger["file"] = ledger["scored"], ledger["school"] + ".csv"
    out = write_county(df, ledger, tmp_path, protocol="default")
    html = out["report"].read_text("utf-8")
    level_names = [lv.name.zh for lv in psyscreen.load_protocol("default").levels_by_rank]
    assert all(f"各校分年级预警比例: {name}" in html for name in level_names)
    assert html.count("<svg") == 1 + len(level_names)  # the by-school bars, then one heat map per level


def test_a_school_called_total_is_a_school_not_a_margin(wave, tmp_path):
    # Margins are found by their label: a school named 合计 must keep its own rows, and the county total takes
    # another label instead of being confused with it.
    from psyscreen.report.county import county_tables

    df, _, _, ledger = wave
    df = df.assign(school=df["school"].replace({"二中": "合计"}))
    ledger = ledger.assign(school=ledger["school"].replace({"二中": "合计"}))
    tabs = county_tables(df, ledger, protocol="default")
    assert tabs["total"] == "合计*"
    levels = tabs["levels"]
    schools = levels.iloc[:, 0]
    assert (schools == "合计").sum() > 2 and schools.iloc[-1] == "合计*"
    n = tabs["levels_counts"]
    school_total = n.loc[("合计", "合计*", "合计*"), "合计*"]
    assert school_total == (df["school"] == "合计").sum()
    assert n.loc[("合计*",) * 3, "合计*"] == len(df)
    assert write_county(df, ledger, tmp_path, protocol="default")["summary"].is_file()
