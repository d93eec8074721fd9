"""``psyscreen screen`` end to end: the sample county (both waves) and the ugly corpus (tests/ugly/corpus.py).

Checks the output layout contract (screening_contract.md), the ledger invariant, that class lists carry no score,
answer or reason, that small counts are suppressed, that a formula cell comes out inert, that no identifier
reaches a log or the terminal, and the ledger under hypothesis-generated damage.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings, strategies as st

import psyscreen
from psyscreen.cli import main
from psyscreen.screening import ScreenResult, read_export, screen

from .ugly.corpus import FORMULA_NAME, ITEMS, PHQ, build

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "sample"
SAMPLE_MAP = SAMPLE / "column_map.csv"
WAVES = ["2026-03", "2026-09"]
# facts of the sample county, from scripts/make_sample.py (the generator), not from psyscreen's output
SAMPLE_DUPLICATES = {"第一高级中学.csv": 1}
SAMPLE_QUARANTINED = {"实验中学.csv": 1}

STUDENT_COLUMNS = ["student_key", "school", "grade", "class", "sex", "wave", "level", "level_rank", "reasons",
                   "critical", "careless_longstring", "careless_fast"]


def _ledger_balances(m: dict) -> None:
    for f in m["inputs"]:
        assert f["rows"] == f["scored"] + f["quarantined"] + f["duplicates"], f["file"]
    t = m["totals"]
    assert t["rows"] == t["scored"] + t["quarantined"] + t["duplicates"]
    for k in ("rows", "scored", "quarantined", "duplicates"):
        assert t[k] == sum(f[k] for f in m["inputs"])


def _sheet_cells(path: Path):
    wb = openpyxl.load_workbook(path)
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                yield ws.title, c


@pytest.fixture(scope="module", params=WAVES)
def sample_run(request, tmp_path_factory):
    wave = request.param
    out = tmp_path_factory.mktemp(f"sample-{wave}") / "out"
    res = screen([SAMPLE / wave], protocol="default", wave=wave, out=out, column_map=SAMPLE_MAP)
    return wave, res


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return build(tmp_path_factory.mktemp("ugly") / "exports")


@pytest.fixture(scope="module")
def corpus_run(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("ugly-out") / "out"
    return screen([corpus.folder], protocol="default", wave="2026-09", out=out, column_map=corpus.map_path)


# ---- the sample county, both waves --------------------------------------------------------------------

def test_sample_layout_contract(sample_run):
    wave, res = sample_run
    out = res.out
    assert isinstance(res, ScreenResult) and res.ok
    m = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert m["tool"]["name"] == "psyscreen" and m["tool"]["version"] == psyscreen.__version__
    assert m["wave"] == wave
    proto_file = REPO / "instruments" / "protocols" / "default.yaml"
    assert m["protocol"] == {"id": "default", "version": "1.0",
                             "sha256": hashlib.sha256(proto_file.read_bytes()).hexdigest()}
    for inst in m["instruments"]:
        y = REPO / "instruments" / f"{inst['id']}.yaml"
        assert inst["sha256"] == hashlib.sha256(y.read_bytes()).hexdigest()
    names = sorted(p.name for p in (SAMPLE / wave).iterdir())
    assert sorted(f["file"] for f in m["inputs"]) == names
    for f in m["inputs"]:
        assert f["sha256"] == hashlib.sha256((SAMPLE / wave / f["file"]).read_bytes()).hexdigest()
        assert f["status"] == "ok"
        assert set(f) >= {"file", "sha256", "rows", "scored", "quarantined", "duplicates", "status", "reason"}
    _ledger_balances(m)
    assert m["pseudonymised"] is False
    # every output listed exists, and every file in the folder is listed
    present = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and p.name != "manifest.json")
    assert sorted(m["outputs"]) == present
    for rel in ("students.parquet", "answers.parquet", "critical.xlsx", "quarantine.xlsx", "county/summary.xlsx",
                "county/report.html"):
        assert (out / rel).is_file(), rel
    for school in ("阳光小学", "实验中学", "第一高级中学", "城南九年一贯制学校"):
        d = out / "schools" / school
        assert (d / f"2026-09_{school}.xlsx").is_file() or (d / f"2026-03_{school}.xlsx").is_file()
        assert list((d / "classes").glob("*-*.xlsx"))
        assert list((d / "letters").glob("*.html"))


def test_sample_rows_match_the_files_and_the_generator(sample_run):
    wave, res = sample_run
    m = res.manifest
    for f in m["inputs"]:
        path = SAMPLE / wave / f["file"]
        if path.suffix == ".csv":
            raw = path.read_bytes()
            text = raw.decode("gbk") if f["file"] == "实验中学.csv" else raw.decode("utf-8")
            n = len([ln for ln in text.splitlines()[1:] if ln.strip()])
        else:
            n = openpyxl.load_workbook(path, read_only=True).worksheets[0].max_row - 1
        assert f["rows"] == n, f["file"]
        assert f["duplicates"] == SAMPLE_DUPLICATES.get(f["file"], 0)
        assert f["quarantined"] == SAMPLE_QUARANTINED.get(f["file"], 0)


def test_students_table(sample_run):
    wave, res = sample_run
    st_ = pd.read_parquet(res.out / "students.parquet")
    assert len(st_) == res.totals["scored"]
    for c in STUDENT_COLUMNS + ["phq9.total", "gad7.total", "phq9.total.band", "gad7.total.band", "phq9.critical"]:
        assert c in st_.columns, c
    assert "name" not in st_.columns and "student_id" not in st_.columns
    assert not [c for c in st_.columns if re.fullmatch(r"(phq9|gad7)\.\d+", c)], "no item answers in students"
    assert st_["student_key"].is_unique
    assert st_["student_key"].str.fullmatch(r"\d{10}").all()  # ids kept as text with their leading zeros
    assert str(st_["grade"].dtype) == "Int64" and st_["grade"].between(4, 12).all()
    assert set(st_["sex"].dropna()) == {"F", "M"}
    assert (st_["wave"] == wave).all()
    assert str(st_["level_rank"].dtype) == "Int64"
    levels = {"level1", "level2", "level3", "none", "invalid: re-test", "undecided"}
    assert set(st_["level"]) <= levels
    assert res.manifest["levels"] == {k: int(v) for k, v in st_["level"].value_counts().items()
                                      if k in res.manifest["levels"]} | {}
    assert sum(res.manifest["levels"].values()) == len(st_)
    # a critical answer is level 1 (the default protocol) and names the item in words
    crit = st_[st_["critical"]]
    assert len(crit) and (crit["level"] == "level1").all()
    assert crit["reasons"].str.contains("第9题").all()
    ans = pd.read_parquet(res.out / "answers.parquet")
    assert ans["student_key"].tolist() == st_["student_key"].tolist()
    assert [c for c in ans.columns if c.startswith("phq9.")][:9] == PHQ
    # the totals are the sums of the answers (complete sheets)
    full = ans[PHQ].notna().all(axis=1).to_numpy()
    assert np.allclose(ans.loc[full, PHQ].sum(axis=1), st_.loc[full, "phq9.total"])


def test_undecided_is_not_invalid(sample_run):
    # the default protocol (PHQ-9 + GAD-7) has no lie scale: no sheet can be invalid; a level that cannot be
    # decided comes from missing answers (GAD-7 needs all 7; PHQ-9 item 9 blank), and the reasons say so
    _, res = sample_run
    st_ = pd.read_parquet(res.out / "students.parquet")
    assert "invalid: re-test" not in set(st_["level"])
    undecided = st_[st_["level"] == "undecided"]
    assert len(undecided) > 0
    missing = undecided["phq9.total"].isna() | undecided["gad7.total"].isna() | undecided["phq9.critical"].isna()
    assert missing.all()  # a missing scale, or the suicide item unanswered (cannot be ruled out)
    assert undecided["reasons"].str.contains("无法判定").all()


def test_sample_scores_agree_with_independent_reading(sample_run):
    """The survey-platform file (question headers, labels) scored by hand with pandas + the instrument labels."""
    wave, res = sample_run
    path = SAMPLE / wave / "城南九年一贯制学校.xlsx"
    raw = pd.read_excel(path, dtype=str, engine="openpyxl")
    phq = psyscreen.load_instrument("phq9")
    label = {o.zh: o.code for o in phq.response_set(phq.item(1).responses)}
    qcols = [c for c in raw.columns if re.match(r"^[1-9]、", c)]
    assert len(qcols) == 9
    codes = raw[qcols].apply(lambda s: s.map(label))
    complete = codes.notna().all(axis=1)
    expect = dict(zip(raw.loc[complete, "学号"], codes[complete].sum(axis=1)))
    st_ = pd.read_parquet(res.out / "students.parquet")
    got = dict(zip(st_["student_key"], st_["phq9.total"]))
    assert len(expect) > 300
    for k, v in expect.items():
        assert got[k] == v


def test_class_lists_carry_no_score_answer_or_reason(sample_run):
    wave, res = sample_run
    st_ = pd.read_parquet(res.out / "students.parquet")
    reasons = set(st_["reasons"].dropna()) - {""}
    lists = list((res.out / "schools").rglob("classes/*.xlsx"))
    assert lists
    forbidden_header = re.compile(r"phq|gad|总分|得分|分数|原因|reason|score|answer|作答|第\d+题|total|band", re.I)
    for path in lists:
        for title, cell in _sheet_cells(path):
            v = cell.value
            if v is None:
                continue
            assert not (cell.row == 1 and forbidden_header.search(str(v))), (path.name, v)
            assert str(v) not in reasons, path.name
            assert not re.search(r"PHQ|GAD|总分|第\d+题", str(v)), (path.name, v)
            assert not isinstance(v, float), (path.name, v)  # no score cell (ids are text)


def test_county_summary_suppresses_small_counts(sample_run):
    wave, res = sample_run
    path = res.out / "county" / "summary.xlsx"
    found_suppressed = False
    checked = 0
    for ws in openpyxl.load_workbook(path).worksheets:
        rows = list(ws.iter_rows(values_only=True))
        head = next((i for i, r in enumerate(rows) if sum(isinstance(v, str) and v != "" for v in r) >= 2), None)
        if head is None:
            continue
        header = [str(h or "") for h in rows[head]]
        for r in rows[head + 1:]:
            for h, v in zip(header, r):
                if v == "*":   # the one mark of a hidden cell
                    found_suppressed = True
                if "比例" in h or "率" in h or "rate" in h.lower():
                    continue
                if isinstance(v, (int, float)) and not isinstance(v, bool) and float(v).is_integer():
                    checked += 1
                    assert not 1 <= v <= 4, (ws.title, h, v)
    assert checked > 50
    assert found_suppressed
    html = (res.out / "county" / "report.html").read_text(encoding="utf-8")
    assert "阳光小学" in html  # Chinese rendered as Chinese text
    ids = pd.read_parquet(res.out / "answers.parquet")["student_key"]
    assert not any(i in html for i in ids.iloc[:200])


def test_critical_list(sample_run):
    wave, res = sample_run
    st_ = pd.read_parquet(res.out / "students.parquet")
    crit_ids = set(st_.loc[st_["critical"], "student_key"])
    text = [str(c.value) for _, c in _sheet_cells(res.out / "critical.xlsx") if c.value is not None]
    for k in crit_ids:
        assert k in text  # every scored critical student is on the list, id kept as text
    assert res.critical >= len(crit_ids)


# ---- the ugly corpus ------------------------------------------------------------------------------------

def test_corpus_ledger_per_file(corpus, corpus_run):
    res = corpus_run
    led = res.ledger.set_index("file")
    for name, path in corpus.files.items():
        f = corpus.facts[name]
        row = led.loc[path.name]
        assert row["status"] == f.status, (name, row["reason"])
        assert row["rows"] == row["scored"] + row["quarantined"] + row["duplicates"]
        if f.status == "ok":
            assert row["rows"] == f.rows, name
            assert row["duplicates"] == f.duplicates, name
            assert row["quarantined"] == f.quarantined, name
        else:
            assert row["rows"] == 0 and row["reason"]
    assert not res.ok
    _ledger_balances(res.manifest)


def test_corpus_unreadable_and_stopped_files_reported_others_run(corpus, corpus_run):
    led = corpus_run.ledger.set_index("file")
    assert "not a readable Excel workbook" in led.loc["broken.xlsx", "reason"]
    reason = led.loc["unmapped.csv", "reason"]
    assert "phq9.1" in reason and "gad7.7" in reason and "Suggested map" in reason
    sug = corpus_run.out / "maps" / "unmapped.map.csv"
    assert sug.is_file() and str(sug) in reason
    assert led.loc["unmapped.csv", "rows_in_file"] == 12
    st_ = pd.read_parquet(corpus_run.out / "students.parquet")
    assert set(st_["school"]) == {"标题中学", "合并表头学校", "多表学校", "老版本学校", "统计学校", "平台中学"}


def test_corpus_scores_equal_the_answers_written(corpus, corpus_run):
    """Every readable layout (title rows, merged header, sheets, xls, sav, GBK labels) gives back the answers."""
    st_ = pd.read_parquet(corpus_run.out / "students.parquet").set_index("student_key")
    ans = pd.read_parquet(corpus_run.out / "answers.parquet").set_index("student_key")
    written = corpus.answers.copy()
    written.index = corpus.roster["student_id"]
    for name in ("title_rows", "merged_header", "sheets", "old_xls", "sav"):
        ids = corpus.facts[name].ids
        assert set(ids) <= set(st_.index), name
        assert np.array_equal(ans.loc[ids, ITEMS].to_numpy(), written.loc[ids, ITEMS].to_numpy()), name
        assert np.allclose(st_.loc[ids, "phq9.total"], written.loc[ids, PHQ].sum(axis=1)), name
    # demographics of the xls (grade numbers, sex codes 1/2, "3班") and of the sav
    ros = corpus.roster.set_index("student_id")
    for name in ("old_xls", "sav", "merged_header", "title_rows"):
        ids = corpus.facts[name].ids
        assert st_.loc[ids, "grade"].tolist() == ros.loc[ids, "grade"].tolist(), name
        assert st_.loc[ids, "sex"].tolist() == ros.loc[ids, "sex"].map({"男": "M", "女": "F"}).tolist(), name
        assert st_.loc[ids, "class"].tolist() == ros.loc[ids, "class"].astype(str).tolist(), name


def test_corpus_duplicates_latest_submission_kept(corpus, corpus_run):
    ids = corpus.facts["gbk"].ids
    ans = pd.read_parquet(corpus_run.out / "answers.parquet").set_index("student_key")
    assert ans.loc[ids[10], "phq9.1"] == 0  # re-submitted later with 完全不会: the later one kept
    assert ans.loc[ids[12], "phq9.1"] == 3  # re-submitted earlier: the original (later) one kept
    dups = pd.read_excel(corpus_run.out / "duplicates.xlsx", dtype=str, engine="calamine", header=1)
    assert len(dups) == 3
    assert not any(i in dups.to_string() for i in ids)  # the duplicates table carries rows, not ids


def test_corpus_careless_flags(corpus, corpus_run):
    st_ = pd.read_parquet(corpus_run.out / "students.parquet").set_index("student_key")
    ids = corpus.facts["gbk"].ids
    assert st_.loc[ids[:3], "careless_longstring"].all()
    assert st_.loc[ids[:2], "careless_fast"].all()
    assert st_["careless_longstring"].sum() == 3  # the three all-3 sheets; none of the simulated ones
    assert st_["careless_fast"].sum() == 2
    # flagged, not deleted: still scored and classified
    assert (st_.loc[ids[:3], "phq9.total"] == 27).all()
    assert (st_.loc[ids[:3], "level"] == "level1").all()


def test_corpus_quarantine_and_critical_first(corpus, corpus_run):
    # written for people (lang zh): Chinese headers, every column kept; the title line above names the wave
    q = pd.read_excel(corpus_run.out / "quarantine.xlsx", dtype=str, engine="calamine", header=1)
    assert list(q.columns) == ["文件", "工作表", "行", "单元格", "列", "题目", "取值", "原因"]
    assert q["文件"].tolist() == ["platform_gbk.csv"]
    assert q["取值"].tolist() == ["有时候吧"] and q["题目"].tolist() == ["gad7.3"]
    assert q["行"].tolist() == ["22"]  # header is row 1, data row 20 (0-based) is file row 22


def test_formula_cell_comes_out_inert(corpus, corpus_run):
    hits = []
    for path in [corpus_run.out / "critical.xlsx", *(corpus_run.out / "schools").rglob("*.xlsx")]:
        for _, cell in _sheet_cells(path):
            v = cell.value
            assert cell.data_type != "f", (path.name, cell.coordinate)
            if isinstance(v, str) and "HYPERLINK" in v:
                assert v.startswith("'="), (path.name, v)
                hits.append(path.name)
    assert "critical.xlsx" in hits  # the student with the formula name has a critical answer
    assert len(hits) >= 2


def test_critical_list_complete_before_scoring(corpus, tmp_path):
    seen = {}

    def progress(stage, done, total):
        if stage == "score" and "critical" not in seen:
            path = tmp_path / "out" / "critical.xlsx"
            seen["critical"] = path.is_file()
            seen["students"] = (tmp_path / "out" / "students.parquet").exists()
            seen["names"] = [str(c.value) for _, c in _sheet_cells(path)] if path.is_file() else []

    res = screen([corpus.folder], protocol="default", wave="2026-09", out=tmp_path / "out",
                 column_map=corpus.map_path, reports=False, progress=progress)
    assert seen["critical"] and not seen["students"]
    assert FORMULA_NAME in "".join(seen["names"]).replace("'=", "=")
    st_ = pd.read_parquet(tmp_path / "out" / "students.parquet")
    for k in st_.loc[st_["critical"], "student_key"]:
        assert k in seen["names"]
    assert res.critical >= int(st_["critical"].sum())


def test_no_identifier_in_logs_or_terminal(corpus, tmp_path, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    runner = CliRunner()
    # --workers 1: the report writers log in this process, where caplog and capsys can see them
    cli = runner.invoke(main, ["screen", str(corpus.folder), "--wave", "2026-09", "--map", str(corpus.map_path),
                               "--out", str(tmp_path / "cli"), "--workers", "1"])
    assert cli.exit_code == 1  # a file unreadable, one stopped
    captured = capsys.readouterr()
    manifest = (tmp_path / "cli" / "manifest.json").read_text(encoding="utf-8")
    text = caplog.text + captured.out + captured.err + cli.output
    assert "psyscreen.screening" in caplog.text  # the run logged (at DEBUG and above) through caplog
    assert "broken.xlsx" in text and "unmapped.csv" in text  # the logs do say something
    secrets = [i for i in corpus.roster["student_id"]] + [n for n in corpus.roster["name"] if n != FORMULA_NAME]
    secrets += corpus.facts["unmapped"].ids + corpus.facts["unmapped"].names + ["有时候吧"]
    leaked = [s for s in secrets if s in text]
    assert not leaked
    # the manifest names letter files by student key (the contract), but carries no name and no answer
    names = [n for n in corpus.roster["name"] if n != FORMULA_NAME]
    assert not [n for n in names if n in manifest]


def test_pseudonymise(corpus, tmp_path):
    keyfile = tmp_path / "wave.key"
    key = os.urandom(32)
    keyfile.write_text(key.hex())
    out = tmp_path / "out"
    res = screen([corpus.folder], protocol="default", wave="2026-09", out=out, column_map=corpus.map_path,
                 pseudonymise=keyfile)
    assert res.manifest["pseudonymised"] is True
    st_ = pd.read_parquet(out / "students.parquet")
    ans = pd.read_parquet(out / "answers.parquet")
    ids = corpus.facts["old_xls"].ids
    expect = {hmac.new(key, i.encode(), hashlib.sha256).hexdigest() for i in ids}
    assert expect <= set(st_["student_key"])
    assert st_["student_key"].str.fullmatch(r"[0-9a-f]{64}").all()
    assert (ans["student_key"] == st_["student_key"]).all()
    raw_ids = set(corpus.roster["student_id"])
    for path in [out / "students.parquet", out / "answers.parquet", out / "manifest.json",
                 *(out / "county").rglob("*")]:
        data = path.read_bytes()
        assert key.hex().encode() not in data and key not in data
        if path.suffix in (".json", ".html"):
            txt = data.decode("utf-8")
            assert not [i for i in raw_ids if i in txt], path.name
    assert not set(pd.read_parquet(out / "students.parquet")["student_key"]) & raw_ids


def test_norms_add_pr_and_t(corpus, tmp_path):
    from psyscreen.norms import NormTable

    ref = screen([SAMPLE / "2026-03"], protocol="default", wave="2026-03", out=tmp_path / "ref",
                 column_map=SAMPLE_MAP, reports=False)
    ref_st = pd.read_parquet(ref.out / "students.parquet")
    table = NormTable(by=["sex"], min_stratum=30).fit(ref_st, ["phq9.total", "gad7.total"])
    path = table.to_json(tmp_path / "norms.json")
    res = screen([SAMPLE / "2026-09"], protocol="default", wave="2026-09", out=tmp_path / "out",
                 column_map=SAMPLE_MAP, norms=path, reports=False)
    st_ = pd.read_parquet(res.out / "students.parquet")
    direct = NormTable.from_json(path).transform(st_[["sex", "phq9.total", "gad7.total"]])
    for c in ("phq9.total.pr", "phq9.total.t", "gad7.total.pr", "gad7.total.t"):
        assert np.allclose(st_[c], direct[c], equal_nan=True), c
    assert st_["phq9.total.pr"].notna().sum() > 1000


def test_lang_en_and_cli_exit_zero(tmp_path):
    runner = CliRunner()
    out = tmp_path / "out"
    res = runner.invoke(main, ["screen", str(SAMPLE / "2026-09"), "--map", str(SAMPLE_MAP), "--out", str(out),
                               "--lang", "en"])
    assert res.exit_code == 0, res.output
    assert "scored" in res.output and "quarantined" in res.output
    # the levels table shows the protocol's level names, not the codes
    assert "Level 1 warning (red)" in res.output and "no warning" in res.output and "level1" not in res.output
    st_ = pd.read_parquet(out / "students.parquet")
    r = st_.loc[st_["critical"], "reasons"]
    assert r.str.contains("item 9").all() and not r.str.contains("第9题").any()
    assert json.loads((out / "manifest.json").read_text())["wave"] == "2026-09"  # from the folder name


def test_doubtful_map_line_stops_only_that_file(tmp_path):
    m = pd.read_csv(SAMPLE_MAP, dtype=str)
    m["status"] = "ok"
    m.loc[m["source"] == "第5题", "status"] = "check"
    mp = tmp_path / "map.csv"
    m.to_csv(mp, index=False)
    res = screen([SAMPLE / "2026-09"], protocol="default", out=tmp_path / "out", column_map=mp, reports=False)
    led = res.ledger.set_index("file")
    assert led.loc["实验中学.csv", "status"] == "stopped"
    assert "第5题" in led.loc["实验中学.csv", "reason"] and "check" in led.loc["实验中学.csv", "reason"]
    assert (led.drop(index="实验中学.csv")["status"] == "ok").all()
    assert not res.ok


def test_demo_command(tmp_path):
    res = CliRunner().invoke(main, ["demo", "--out", str(tmp_path / "demo")])
    assert res.exit_code == 0, res.output
    assert f"结果在 {tmp_path / 'demo'}" in res.output
    # the sample screens grades 4-12 with the default protocol (junior, senior, college): said, per file
    assert re.search(r"阳光小学.xlsx：\d+ 名学生在 4-6 年级，不在本协议（default）的适用人群内.*请改用协议 primary", res.output)
    assert "本批次完整" in res.output
    assert (tmp_path / "demo" / "manifest.json").is_file()


def test_read_export_layouts(corpus):
    t = read_export(corpus.files["title_rows"])
    assert len(t) == 1 and t[0].header_row == 3 and len(t[0].frame) == 40
    assert t[0].frame.index[0] == 4 and t[0].empty_rows_dropped == 3
    m = read_export(corpus.files["merged_header"])[0]
    assert list(m.frame.columns[:8]) == ["学号", "姓名", "学校", "年级", "班级", "性别", "PHQ-9 1", "PHQ-9 2"]
    assert m.frame.columns[15] == "GAD-7 1" and m.frame.index[0] == 4
    sheets = read_export(corpus.files["sheets"])
    assert [s.sheet for s in sheets] == ["说明", "初一", "初二"]
    sav = read_export(corpus.files["sav"])[0]
    assert sav.frame["xh"].tolist() == corpus.facts["sav"].ids


# ---- the ledger under damage ------------------------------------------------------------------------------

_CLEAN = None


def _clean_frame() -> pd.DataFrame:
    global _CLEAN
    if _CLEAN is None:
        from psyscreen.synthetic import simulate_answers, simulate_students

        s = simulate_students(30, seed=3, grades=[7, 8])
        a = simulate_answers(s, ["phq9", "gad7"], seed=3)[ITEMS].astype(int).astype(str)
        f = pd.DataFrame({"学号": s["student_id"], "姓名": s["name"], "学校": "一中", "年级": "初一",
                          "班级": s["class"].astype(str), "性别": s["sex"]})
        _CLEAN = pd.concat([f.reset_index(drop=True), a.reset_index(drop=True)], axis=1)
    return _CLEAN.copy()


damage = st.lists(st.tuples(st.sampled_from(["blank", "bad_code", "garbage", "formula", "dup", "no_id",
                                             "empty_row", "drop_row", "fullwidth"]),
                            st.integers(0, 29), st.integers(0, 21)), min_size=0, max_size=12)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(damage)
def test_ledger_holds_under_damage(tmp_path_factory, hits):
    f = _clean_frame()
    extra = []
    for kind, r, c in hits:
        r = r % len(f)
        col = f.columns[c]
        if kind == "blank":
            f.iloc[r, c] = ""
        elif kind == "bad_code":
            f.iloc[r, max(c, 6)] = "7"
        elif kind == "garbage":
            f.iloc[r, c] = "??"
        elif kind == "formula":
            f.iloc[r, c] = "=1+2"
        elif kind == "dup":
            extra.append(f.iloc[[r]].copy())
        elif kind == "no_id":
            f.iloc[r, 0] = ""
        elif kind == "empty_row":
            f.iloc[r, :] = ""
        elif kind == "fullwidth":
            f.iloc[r, c] = str(f.iloc[r, c]).translate(str.maketrans("0123456789", "０１２３４５６７８９"))
        elif kind == "drop_row" and len(f) > 2:
            f = f.drop(index=f.index[min(r, len(f) - 1)])
        _ = col
    f = pd.concat([f, *extra], ignore_index=True)
    folder = tmp_path_factory.mktemp("damaged")
    (folder / "in").mkdir()
    f.to_csv(folder / "in" / "a.csv", index=False, encoding="utf-8")
    f.iloc[: len(f) // 2].to_csv(folder / "in" / "b.csv", index=False, encoding="gbk")
    res = screen([folder / "in"], protocol="default", wave="2026-09", out=folder / "out", column_map=SAMPLE_MAP,
                 reports=False)
    _ledger_balances(res.manifest)
    n_rows = {"a.csv": len(f), "b.csv": len(f) // 2}
    for r in res.manifest["inputs"]:
        assert r["status"] == "ok"
        # every data row of the file (a fully empty trailing row is dropped as trailing, not read)
        tail = 0
        part = f if r["file"] == "a.csv" else f.iloc[: len(f) // 2]
        blank = (part.astype(str).apply(lambda s: s.str.strip()) == "").all(axis=1).to_numpy()
        while tail < len(blank) and blank[len(blank) - 1 - tail]:
            tail += 1
        assert r["rows"] == n_rows[r["file"]] - tail
    st_ = pd.read_parquet(folder / "out" / "students.parquet")
    assert len(st_) == res.totals["scored"] and st_["student_key"].is_unique


def test_unreadable_demographics_are_missing_not_guessed(tmp_path):
    raw = pd.read_csv(SAMPLE / "2026-09" / "实验中学.csv", encoding="gbk", dtype=str)
    raw.loc[0:3, "年级"] = "初四"      # no such grade
    raw.loc[4:6, "性别"] = "未填"
    raw.loc[9, "学校"] = None           # one row without its school: the file's school
    (tmp_path / "in").mkdir()
    raw.to_csv(tmp_path / "in" / "x.csv", index=False)
    res = screen([tmp_path / "in"], wave="2026-09", out=tmp_path / "out", column_map=SAMPLE_MAP, reports=False)
    st_ = pd.read_parquet(tmp_path / "out" / "students.parquet").set_index("student_key")
    ids = raw["学号"]
    assert st_.loc[ids[0:3], "grade"].isna().all() and st_.loc[ids[0:3], "phq9.total"].notna().any()
    assert st_.loc[ids[4:6], "sex"].isna().all()
    assert st_.loc[ids[9], "school"] == "实验中学"
    assert res.totals["scored"] == len(raw) - 1  # the generator's one out-of-range code (quarantined)


def test_parallel_report_writers_write_what_one_process_writes(tmp_path):
    sample = Path(__file__).resolve().parents[1] / "data" / "sample" / "2026-09"
    runs = {}
    for workers in (1, 2):
        out = tmp_path / f"w{workers}"
        screen([sample], protocol="default", wave="2026-09", out=out,
               column_map=sample.parent / "column_map.csv", workers=workers)
        runs[workers] = out
    files = {w: sorted(p.relative_to(o).as_posix() for p in o.rglob("*") if p.is_file()) for w, o in runs.items()}
    assert files[1] == files[2] and len(files[1]) > 100
    for rel in ("county/summary.xlsx", "schools/实验中学/2026-09_实验中学.xlsx"):
        a = pd.read_excel(runs[1] / rel, sheet_name=None, engine="calamine")
        b = pd.read_excel(runs[2] / rel, sheet_name=None, engine="calamine")
        assert a.keys() == b.keys()
        stamp = r"^\d{4}-\d{2}-\d{2}T[\d:]+$"  # when the file was written differs, nothing else may
        for name in a:
            pd.testing.assert_frame_equal(a[name].replace(stamp, "", regex=True), b[name].replace(stamp, "", regex=True))
