"""report: the four-level outputs carry what each level needs and nothing more; formulas inert; counts suppressed."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

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
    assert {"PHQ-9 总分", "GAD-7 总分", "PHQ-9 总分 分级", "原因", "预警等级"} <= set(header)
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
    sch = df[df["school"] == "一中"]
    flagged = sch[sch["level_rank"] <= 3]
    assert len(out["letters"]) == len(flagged) == len({p.name for p in out["letters"]})
    names = dict(zip(ident["student_key"], ident["name"]))
    level1 = psyscreen.load_protocol("default").level(1)
    for p in out["letters"]:
        html = p.read_text("utf-8")
        assert "PHQ" not in html and "GAD" not in html and "第9题" not in html and "总分" not in html
        assert "<script>" not in html
        assert "如有疑问，请联系：孩子的班主任。" in html  # no contact known: the class teacher, not a blank line
        assert level1.action.zh not in html and "不得等到批次结束" not in html  # never the staff instruction
        assert "2026年9月" in html and "2026-09" not in html  # the wave as a person writes it
    texts = [p.read_text("utf-8") for p in out["letters"]]
    assert sum("&lt;script&gt;alert(1)&lt;/script&gt;李" in t for t in texts) == 1
    crit = sch[sch["critical"]]
    first = next(t for t in texts if f"<strong>{names[crit['student_key'].iloc[2]]}</strong>" in t)
    assert level1.family.zh in first  # the protocol's text for parents at level 1
    assert not [p.name for p in out["letters"] if any(n in p.name for n in flagged["student_key"].map(names))]


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


def test_pseudonymised_keys_never_name_a_file(wave, tmp_path):
    df, ident, _, _ = wave
    key = bytes(range(32))
    sch = df[df["school"] == "实验中学"].copy()
    ids = sch["student_key"]
    sch["student_key"] = pseudonymise(ids, key)
    idn = ident.assign(student_key=pseudonymise(ident["student_key"], key))
    out = write_school(sch, tmp_path / "s", protocol="default", identities=idn, lang="en")
    files = [p.name for p in (tmp_path / "s").rglob("*") if p.is_file()]
    assert len(out["letters"]) == int((sch["level_rank"] <= 3).sum()) and out["class_letters"]
    for name in files:
        assert not re.search(r"[0-9a-f]{64}", name), name
        assert not any(str(i) in name for i in ids), name
    assert all(re.fullmatch(r"\d+-\d+_\d{2,}", p.stem) for p in out["letters"])
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


# ---- the run: wave and county in titles and names, the notice on top (issue 10) ----------------------------

from psyscreen.wave import NotProcessed, RunInfo  # noqa: E402

INCOMPLETE = RunInfo("2026-09", county="城南区", status="incomplete",
                     not_processed=(NotProcessed("阳光小学.xlsx", "stopped", 412),))
MACHINE_HEADER = re.compile(r"^[a-z0-9_]+\.[a-z0-9_.]+$")


def _red(cell) -> bool:
    rgb = cell.font.color.rgb if cell.font is not None and cell.font.color is not None else None
    return bool(cell.font.bold) and isinstance(rgb, str) and rgb.upper().endswith("C00000")


@pytest.fixture(scope="module")
def run_out(wave, tmp_path_factory):
    df, ident, _, _ = wave
    folder = tmp_path_factory.mktemp("run") / "一中"
    return write_school(df[df["school"] == "一中"], folder, protocol="default", identities=ident,
                        run=INCOMPLETE), folder


def test_run_names_every_file_a_person_handles_with_the_wave(run_out):
    out, folder = run_out
    assert out["workbook"].name == "2026-09_一中.xlsx"
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert files and all(p.name.startswith("2026-09_") for p in files)
    assert {p.name for p in out["classes"]} <= {p.name for p in (folder / "classes").iterdir()}
    assert all(re.fullmatch(r"2026-09_\d+-\d+\.xlsx", p.name) for p in out["classes"])
    assert all(re.fullmatch(r"2026-09_\d+-\d+_全班告知书\.html", p.name) for p in out["class_letters"])


def test_run_title_and_notice_on_top_of_workbook_class_lists_and_critical_list(run_out, wave, tmp_path):
    out, _ = run_out
    df, ident, _, _ = wave
    crit = write_critical(df[df["critical"]].merge(ident, on="student_key"), tmp_path / "c.xlsx",
                          protocol="default", run=INCOMPLETE)
    for path in [out["workbook"], crit, *out["classes"]]:
        ws = openpyxl.load_workbook(path).worksheets[0]
        first, second = ws["A1"], ws["A2"]
        assert first.value == INCOMPLETE.notice("zh") and "阳光小学.xlsx" in first.value, path.name
        assert _red(first), path.name
        assert second.value.startswith("城南区 2026年9月 "), (path.name, second.value)
    assert "危机作答名单" in openpyxl.load_workbook(crit).worksheets[0]["A2"].value
    # English: the same, in English
    en = write_critical(df[df["critical"]].merge(ident, on="student_key"), tmp_path / "e.xlsx", lang="en",
                        run=INCOMPLETE)
    ws = openpyxl.load_workbook(en).worksheets[0]
    assert ws["A1"].value.startswith("This wave is INCOMPLETE") and ws["A2"].value.startswith("城南区 September 2026")


def test_critical_list_written_while_files_are_read_says_so(wave, tmp_path):
    df, ident, _, _ = wave
    running = RunInfo("2026-09", status="in_progress")
    path = write_critical(df[df["critical"]].head(0), tmp_path / "c.xlsx", run=running)  # nothing found yet
    ws = openpyxl.load_workbook(path).worksheets[0]
    assert ws["A1"].value == running.notice("zh") and "仍在生成中" in ws["A1"].value and _red(ws["A1"])
    done = write_critical(df[df["critical"]], tmp_path / "d.xlsx", run=RunInfo("2026-09"))
    ws = openpyxl.load_workbook(done).worksheets[0]
    assert ws["A1"].value == "2026年9月 危机作答名单（当天处理）" and not _red(ws["A1"])
    assert [c.value for c in ws[2]][:3] == ["学校", "年级", "班级"]


def test_letters_name_county_and_wave(run_out):
    out, _ = run_out
    html = out["letters"][0].read_text("utf-8")
    assert "城南区 2026年9月" in html and "学校于" not in html


# ---- names that clean alike stay apart ----------------------------------------------------------------------

def test_classes_and_students_that_clean_alike_get_their_own_files(wave, tmp_path):
    df, ident, _, _ = wave
    sch = df[df["school"] == "二中"].copy()
    flagged = sch.index[sch["level_rank"] <= 3]
    sch.loc[sch["class"] == "1", "class"] = "1/2"
    sch.loc[sch["class"] == "2", "class"] = "1_2"
    sch.loc[sch["class"] == "3", "class"] = "长" * 90  # 270 bytes: more than a file name may have
    idn = ident.copy()
    idn.loc[flagged[:6], "name"] = "张伟"  # namesakes
    out = write_school(sch, tmp_path / "二中", protocol="default", identities=idn, run=RunInfo("2026-09"))
    n_classes = sch.groupby(["grade", "class"]).ngroups
    assert len(out["classes"]) == len({p.name for p in out["classes"]}) == n_classes
    assert len({p.name for p in (tmp_path / "二中" / "classes").iterdir()}) == n_classes
    letters = {p.name for p in (tmp_path / "二中" / "letters").iterdir()}
    assert len({p.name for p in out["letters"]}) == len(out["letters"]) == len(flagged)
    assert letters == {p.name for p in out["letters"]} | {p.name for p in out["class_letters"]}
    assert all(len(p.name.encode()) <= 255 for p in (tmp_path / "二中").rglob("*"))


# ---- Chinese outputs are Chinese ------------------------------------------------------------------------

def _parquet_like(df: pd.DataFrame) -> pd.DataFrame:
    """The wave as screen writes students.parquet: string bands, nullable flags, level_name, undecided."""
    out = df.copy()
    for c in [c for c in out.columns if c.endswith(".band")]:
        out[c] = out[c].astype("string")
    out["level"] = out["level"].astype("string").fillna("undecided")
    out["level_name"] = out["level"]
    out["careless_longstring"] = False
    out["careless_fast"] = False
    return out


CODES = {"minimal", "mild", "moderate", "moderately_severe", "severe", "undecided", "none", "level1", "level2",
         "level3", "invalid: re-test", "True", "False"}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_school_workbook_speaks_the_language_without_machine_headers_or_codes(wave, tmp_path, lang):
    df, ident, answers, _ = wave
    sch = df[df["school"] == "实验中学"].copy()
    one = sch.index[:3]
    gaps = answers.loc[one].copy()
    gaps["gad7.1"] = float("nan")  # one GAD-7 item missing: total not scored, the level undecided
    scores = score(gaps, ["phq9", "gad7"])
    sch.loc[one, scores.columns] = scores.to_numpy()
    sch.loc[one, "level"] = None
    out = write_school(_parquet_like(sch), tmp_path / lang, protocol="default", identities=ident, lang=lang)
    rows = _sheet(out["workbook"])
    header = rows[1]
    assert not [h for h in header if MACHINE_HEADER.match(str(h))], header
    assert "level_name" not in header
    codes = CODES - ({"minimal", "mild", "moderate", "severe"} if lang == "en" else set())  # English labels = codes
    seen = set()
    for _, cell in _cells(out["workbook"]):
        assert not isinstance(cell.value, bool), cell.coordinate
        assert str(cell.value) not in codes, (cell.coordinate, cell.value)
        seen.add(cell.value)
    body = pd.DataFrame(rows[2:], columns=header)
    if lang == "zh":
        assert {"PHQ-9 总分", "PHQ-9 总分 分级", "PHQ-9 危机作答", "GAD-7 缺失说明"} <= set(header)
        assert "无或极轻微" in seen and {"是", "否"} <= set(body["PHQ-9 危机作答"].dropna())
        assert "总分：作答 6 题，至少需作答 7 题（共 7 题），未计分" in set(body["GAD-7 缺失说明"].dropna())
        assert "未能判定（数据缺失）" in set(body["预警等级"])
    else:
        assert {"PHQ-9 Total score", "PHQ-9 Total score band", "GAD-7 missing answers"} <= set(header)
        assert "none or minimal" in seen and {"yes", "no"} <= set(body["PHQ-9 critical answer"].dropna())
        assert any("needs at least 7 of 7" in str(v) for v in body["GAD-7 missing answers"].dropna())


def test_screen_lang_zh_school_workbook_is_chinese_end_to_end(tmp_path):
    from click.testing import CliRunner

    from psyscreen.cli import main

    sample = Path(__file__).resolve().parents[1] / "data" / "sample"
    res = CliRunner().invoke(main, ["screen", str(sample / "2026-09"), "--map", str(sample / "column_map.csv"),
                                    "--wave", "2026-09", "--lang", "zh", "--out", str(tmp_path / "out"),
                                    "--workers", "1"])
    assert res.exit_code == 0, res.output
    books = [p for p in (tmp_path / "out" / "schools").glob("*/*.xlsx")]
    assert len(books) == 4
    for path in books:
        header = next(r for r in _sheet(path) if "学号" in r)
        assert not [h for h in header if MACHINE_HEADER.match(str(h))], (path.name, header)
        for _, cell in _cells(path):
            assert not isinstance(cell.value, bool) and str(cell.value) not in CODES, (path.name, cell.value)
        assert list((path.parent / "letters").glob("*全班告知书.html"))


# ---- letters a school can hand out -------------------------------------------------------------------------

def test_one_print_file_per_class_in_seat_order_one_letter_per_page(wave, tmp_path):
    df, ident, _, _ = wave
    sch = df[df["school"] == "二中"].copy()
    rng = __import__("numpy").random.default_rng(3)
    sch["seat"] = rng.permutation(len(sch)) + 1  # seat order differs from id order
    out = write_school(sch, tmp_path / "二中", protocol="default", identities=ident, run=RunInfo("2026-09"))
    flagged = sch[sch["level_rank"] <= 3].merge(ident[["student_key", "name"]], on="student_key")
    per_class = flagged.groupby(["grade", "class"]).size()
    assert len(out["class_letters"]) == len(per_class)
    total = 0
    for path in out["class_letters"]:
        doc = path.read_text("utf-8")
        g, c = re.fullmatch(r"2026-09_(\d+)-(\d+)_全班告知书", path.stem).groups()
        members = flagged[(flagged["grade"] == int(g)) & (flagged["class"] == c)].sort_values("seat")
        assert doc.count('<section class="letter">') == len(members) == per_class[(int(g), c)]
        assert "break-after: page" in doc and doc.count("<html") == 1
        at = [doc.index(f"<strong>{n}</strong>") for n in members["name"] if n and "<" not in n and "=" not in n]
        assert at == sorted(at)  # in seat order
        total += len(members)
    assert total == len(out["letters"])
    # the single letters are numbered in the same order: 01 is the first seat of its class
    first = {re.fullmatch(r"2026-09_(\d+)-(\d+)_01", p.stem).groups(): p for p in out["letters"] if p.stem.endswith("_01")}
    assert len(first) == len(per_class)
    for (g, c), path in first.items():
        seat1 = flagged[(flagged["grade"] == int(g)) & (flagged["class"] == c)].sort_values("seat")["name"].iloc[0]
        assert f"<strong>{seat1}</strong>" in path.read_text("utf-8") or "<" in seat1 or "=" in seat1


def test_a_protocol_without_family_texts_never_prints_the_staff_action(wave, tmp_path):
    import yaml

    df, ident, _, _ = wave
    src = psyscreen.load_protocol("default")
    data = yaml.safe_load(Path(src.path).read_text("utf-8"))
    for lv in data["levels"]:
        lv.pop("family")
    mine = tmp_path / "mine.yaml"
    mine.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    sch = df[df["school"] == "二中"]
    out = write_school(sch, tmp_path / "s", protocol=str(mine), identities=ident, lang="en")
    actions = [lv.action.en for lv in src.levels]
    from psyscreen.report.letters import DEFAULT_FAMILY

    for p in out["letters"]:
        html = p.read_text("utf-8")
        assert not any(a in html for a in actions)
        assert any(t["en"] in html.replace("&#39;", "'") for t in DEFAULT_FAMILY.values())


def test_contacts_file_fills_the_contact_line(wave, tmp_path):
    from psyscreen.report import load_contacts

    df, ident, _, _ = wave
    csv = tmp_path / "contacts.csv"
    csv.write_bytes("学校,联系人,电话\n二中,王老师,0571-88886666\n一中,李老师,\n".encode("gb18030"))
    contacts = load_contacts(csv)
    assert contacts == {"二中": "心理教师 王老师，电话 0571-88886666", "一中": "心理教师 李老师"}
    out = write_school(df[df["school"] == "二中"], tmp_path / "二中", protocol="default", identities=ident,
                       contact=contacts.get("二中"))
    html = out["letters"][0].read_text("utf-8")
    assert "如有疑问，请联系：心理教师 王老师，电话 0571-88886666。" in html and "班主任。" not in html
    # xlsx with English headers; a phone typed as a number keeps its digits
    book = tmp_path / "contacts.xlsx"
    pd.DataFrame({"School": ["二中"], "Name": ["Ms Wang"], "Phone": [13800001111]}).to_excel(book, index=False)
    assert load_contacts(book, lang="en") == {"二中": "the psychological teacher, Ms Wang, telephone 13800001111"}


def test_contacts_file_errors_are_located(tmp_path):
    from psyscreen.report import ContactsError, load_contacts

    bad = tmp_path / "bad.csv"
    bad.write_text("学校,联系人,电话\n,王老师,123\n二中,,\n三中,赵老师,1\n三中,钱老师,2\n", "utf-8")
    with pytest.raises(ContactsError) as err:
        load_contacts(bad)
    text = str(err.value)
    assert "row 2, column 学校: no school name" in text
    assert "row 3, column 联系人 / 电话: neither a name nor a phone for 二中" in text
    assert "row 5, column 学校: 三中 is given twice" in text
    nohead = tmp_path / "nohead.csv"
    nohead.write_text("name,phone\n王老师,1\n", "utf-8")
    with pytest.raises(ContactsError, match=r"row 1: no school column \(学校 / school\)"):
        load_contacts(nohead)


def test_county_chart_draws_a_school_named_like_mathtext(wave, tmp_path):
    df, _, _, ledger = wave
    odd = "学校$\\foo$"
    out = write_county(df.assign(school=df["school"].replace({"二中": odd})), ledger.replace({"二中": odd}), tmp_path,
                       protocol="default")
    html = out["report"].read_text("utf-8")
    assert html.count("<svg") >= 2 and "foo" in html
