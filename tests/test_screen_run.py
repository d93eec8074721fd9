"""One screening run as a record a county can rely on (issue 10): complete or visibly not, one run per folder,
a checked wave, people-facing tables, unique school folders, notes skipped, one file's failure kept to that file,
norms errors shown, the protocol's population checked, progress that moves, workers that end with their parent,
a critical list marked while it is written, and an index page saying which file goes to whom.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner

import psyscreen.report
import psyscreen.screening as screening
from psyscreen.cli import main
from psyscreen.screening import ScreenError, screen
from psyscreen.wave import RunInfo

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "sample"
SAMPLE_MAP = SAMPLE / "column_map.csv"
WAVE = SAMPLE / "2026-09"
FIELDS_ZH = {"student_id": "学号", "name": "姓名", "school": "学校", "grade": "年级", "class": "班级", "sex": "性别"}


def _rows_in(path: Path) -> int:
    """Data rows of a sample export, read independently of psyscreen."""
    if path.suffix == ".csv":
        return len(pd.read_csv(path, encoding="gb18030", dtype=str))
    return len(pd.read_excel(path, dtype=str, engine="calamine"))


def _county(folder: Path, schools: list, n: int, *, seed: int = 3, grades=range(7, 13)) -> Path:
    """A synthetic county: one CSV per school, canonical item headers, Chinese field headers."""
    from psyscreen.synthetic import simulate_answers, simulate_students

    s = simulate_students(n, seed=seed, grades=grades, schools=schools)
    a = simulate_answers(s, ["phq9", "gad7"], seed=seed)
    a = a[[c for c in a.columns if c != "phq9.10"]].astype("Int64")
    frame = pd.concat([s[list(FIELDS_ZH)].rename(columns=FIELDS_ZH), a], axis=1)
    folder.mkdir(parents=True, exist_ok=True)
    for k, (_, part) in enumerate(frame.groupby("学校", sort=True)):
        part.to_csv(folder / f"school{k:03d}.csv", index=False, encoding="utf-8")
    return folder


# ---- a partial wave (no column map: two of four files stop) ------------------------------------------------

@pytest.fixture(scope="module")
def partial(tmp_path_factory):
    out = tmp_path_factory.mktemp("partial") / "out"
    res = CliRunner().invoke(main, ["screen", str(WAVE), "--out", str(out), "--lang", "en", "--workers", "1",
                                    "--county", "城南<区>"])
    return res, out


def test_manifest_says_incomplete_with_the_files_and_schools_not_screened(partial):
    res, out = partial
    assert res.exit_code == 1, res.output
    m = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert m["status"] == "incomplete" and m["county"] == "城南<区>"
    stopped = {f["file"]: f for f in m["inputs"] if f["status"] != "ok"}
    assert set(stopped) == {"实验中学.csv", "城南九年一贯制学校.xlsx"}
    np_ = {p["file"]: p for p in m["not_processed"]}
    assert set(np_) == set(stopped)
    for name, p in np_.items():
        assert p["status"] == "stopped" and p["reason"]
        assert p["rows_in_file"] == _rows_in(WAVE / name)
        assert p["schools"] == [Path(name).stem]  # the school column's values (here each file is one school)
    assert m["schools_not_screened"] == sorted(["实验中学", "城南九年一贯制学校"])
    assert m["failed_outputs"] == []


def test_screen_result_has_status_and_run(tmp_path):
    res = screen([WAVE], out=tmp_path / "o", reports=False, county="城南区")
    assert res.status == "incomplete" and not res.ok
    assert isinstance(res.run, RunInfo) and res.run.status == "incomplete" and res.run.county == "城南区"
    assert {p.file for p in res.run.not_processed} == {"实验中学.csv", "城南九年一贯制学校.xlsx"}
    full = screen([WAVE], out=tmp_path / "full", column_map=SAMPLE_MAP, reports=False)
    assert full.status == "complete" and full.ok and full.run.complete and full.manifest["status"] == "complete"
    assert full.manifest["not_processed"] == [] and full.manifest["schools_not_screened"] == []


def test_terminal_says_incomplete_and_what_was_not_checked(partial):
    res, out = partial
    text = res.output
    assert "INCOMPLETE" in text
    for name in ("实验中学.csv", "城南九年一贯制学校.xlsx"):
        assert f"{name}: stopped, {_rows_in(WAVE / name)} row(s) not read" in text
    crit = [ln for ln in text.splitlines() if ln.startswith("critical list:")]
    assert len(crit) == 1
    assert "NOT checked for critical answers" in crit[0] and "act on it today" not in text
    assert "实验中学.csv" in crit[0]


def test_terminal_with_nothing_processed_says_nothing_was_checked(tmp_path):
    exports = tmp_path / "2026-09"
    exports.mkdir()
    shutil.copy(WAVE / "实验中学.csv", exports)
    for lang, expect in (("en", "NOTHING was checked for critical answers"), ("zh", "没有检查任何学生")):
        res = CliRunner().invoke(main, ["screen", str(exports), "--out", str(tmp_path / lang), "--lang", lang,
                                        "--workers", "1"])
        assert res.exit_code == 1, res.output
        assert expect in res.output
        assert "act on it today" not in res.output and "请当天处理" not in res.output


def test_writers_get_the_run(tmp_path, monkeypatch):
    """write_critical: in progress while files are read, then the final run; the other writers get the final run."""
    seen = {"critical": [], "school": [], "county": []}
    real = {k: getattr(psyscreen.report, f"write_{k}") for k in seen}

    def spy(kind):
        def f(*args, run=None, **kwargs):
            seen[kind].append(run)
            return real[kind](*args, **kwargs)
        return f

    for kind in seen:
        monkeypatch.setattr(psyscreen.report, f"write_{kind}", spy(kind))
    res = screen([WAVE], out=tmp_path / "o", workers=1)
    statuses = [r.status for r in seen["critical"]]
    assert statuses[0] == "in_progress" and statuses[-1] == "incomplete"
    assert set(statuses[:-1]) == {"in_progress"}  # every write before the last says it is still being written
    assert seen["critical"][-1] == res.run
    assert len(seen["school"]) == 2 and all(r == res.run for r in seen["school"] + seen["county"])
    # the manifest is the last file written
    m = (tmp_path / "o" / "manifest.json").stat().st_mtime_ns
    assert all(p.stat().st_mtime_ns <= m for p in (tmp_path / "o").rglob("*") if p.is_file())


# ---- one run, one folder ----------------------------------------------------------------------------------

def test_a_folder_of_another_run_is_refused_or_replaced(tmp_path):
    out = tmp_path / "out"
    runner = CliRunner()
    first = runner.invoke(main, ["screen", str(WAVE), "--map", str(SAMPLE_MAP), "--out", str(out), "--workers", "1"])
    assert first.exit_code == 0, first.output
    stale = out / "schools" / "旧学校" / "letters" / "0001.html"
    stale.parent.mkdir(parents=True)
    stale.write_text("a letter of another wave", encoding="utf-8")
    again = runner.invoke(main, ["screen", str(SAMPLE / "2026-03"), "--map", str(SAMPLE_MAP), "--out", str(out)])
    assert again.exit_code == 2
    assert "another run" in again.output and "--replace" in again.output
    assert stale.is_file()  # nothing removed
    rep = runner.invoke(main, ["screen", str(SAMPLE / "2026-03"), "--map", str(SAMPLE_MAP), "--out", str(out),
                               "--replace", "--workers", "1"])
    assert rep.exit_code == 0, rep.output
    assert not stale.exists() and not (out / "schools" / "旧学校").exists()
    m = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert m["wave"] == "2026-03"
    present = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file() and p.name != "manifest.json")
    assert sorted(m["outputs"]) == present  # exactly the files of this run


def test_replace_refuses_a_folder_that_is_not_a_psyscreen_output(tmp_path):
    out = tmp_path / "docs"
    out.mkdir()
    (out / "thesis.docx").write_bytes(b"not ours")
    runner = CliRunner()
    res = runner.invoke(main, ["screen", str(WAVE), "--map", str(SAMPLE_MAP), "--out", str(out)])
    assert res.exit_code == 2 and "thesis.docx" in res.output
    res = runner.invoke(main, ["screen", str(WAVE), "--map", str(SAMPLE_MAP), "--out", str(out), "--replace"])
    assert res.exit_code == 2 and "no manifest.json" in res.output and "nothing was removed" in res.output
    assert (out / "thesis.docx").read_bytes() == b"not ours"
    with pytest.raises(ScreenError, match="another run|holds"):
        screen([WAVE], out=out, column_map=SAMPLE_MAP, reports=False)


def test_replace_keeps_the_inputs_of_the_run(tmp_path):
    out = tmp_path / "out"
    screen([WAVE], out=out, column_map=SAMPLE_MAP, reports=False)
    exports = out / "2026-09"
    shutil.copytree(WAVE, exports)
    with pytest.raises(ScreenError, match="inside the output folder"):
        screen([exports], out=out, column_map=SAMPLE_MAP, reports=False, replace=True)
    assert (exports / "实验中学.csv").is_file()


def test_a_killed_run_can_be_replaced(tmp_path):
    """A run stopped before its manifest leaves its marker: --replace still knows the folder is psyscreen's."""
    out = tmp_path / "out"
    screen([WAVE], out=out, column_map=SAMPLE_MAP, reports=False)
    (out / "manifest.json").unlink()
    (out / screening._MARKER).write_text("{}", encoding="utf-8")
    res = screen([WAVE], out=out, column_map=SAMPLE_MAP, reports=False, replace=True)
    assert res.ok and not (out / screening._MARKER).exists()


# ---- the wave -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("wave", ["sept", "2026/09", "2026-9", "2026-13"])
def test_wave_is_checked(tmp_path, wave):
    res = CliRunner().invoke(main, ["screen", str(WAVE), "--map", str(SAMPLE_MAP), "--out", str(tmp_path / "o"),
                                    "--wave", wave])
    assert res.exit_code == 2
    assert "YYYY-MM" in res.output and "2026-09" in res.output
    assert not (tmp_path / "o").exists()


def test_wave_from_a_folder_name_is_checked(tmp_path):
    exports = tmp_path / "2026_09"
    shutil.copytree(WAVE, exports)
    with pytest.raises(ScreenError, match="YYYY-MM"):
        screen([exports], out=tmp_path / "o", column_map=SAMPLE_MAP, reports=False)


# ---- tables for people ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("lang", ["zh", "en"])
def test_quarantine_and_duplicates_are_written_for_people(tmp_path, lang):
    res = screen([WAVE], out=tmp_path / "o", column_map=SAMPLE_MAP, reports=False, lang=lang, county="城南区")
    expect = {"zh": (("待核对数据", "重复提交"), ["文件", "工作表", "行", "单元格", "列", "题目", "取值", "原因"], "城南区 2026年9月"),
              "en": (("quarantine", "duplicates"), ["File", "Sheet", "Row", "Cell", "Column", "Item", "Value",
                                                     "Reason"], "城南区 September 2026")}[lang]
    for path, sheet in zip((res.paths["quarantine"], res.paths["duplicates"]), expect[0]):
        wb = openpyxl.load_workbook(path)
        assert wb.sheetnames == [sheet]
        assert str(wb.active["A1"].value).startswith(expect[2])  # the title line names county and wave
    q = pd.read_excel(res.paths["quarantine"], header=1, dtype=str, engine="calamine")
    assert list(q.columns) == expect[1]  # every column kept, labelled in the language
    assert len(q) == res.totals["quarantined"] == 1
    # the reason in the language too (the sample's one: an answer that is not a response code of PHQ-9 item 4)
    reason = q.iloc[0, -1]
    assert (reason.startswith("不是 PHQ-9 第4题的作答代码") if lang == "zh" else
            reason.startswith("not a response code of phq9 item 4")), reason
    d = pd.read_excel(res.paths["duplicates"], header=1, dtype=str, engine="calamine")
    assert len(d) == res.totals["duplicates"] and d.shape[1] == 6
    # the parquet tables keep the codes
    st_ = pd.read_parquet(res.paths["students"])
    assert "level" in st_.columns and set(st_["level"]) <= {"level1", "level2", "level3", "none", "undecided",
                                                            "invalid: re-test"}


# ---- file names -------------------------------------------------------------------------------------------

def test_schools_whose_names_clean_alike_get_their_own_folders(tmp_path):
    names = ["A/B中学", "A_B中学", "A:B中学", "A*B中学", "A?B中学", "A|B中学", 'A"B中学', "A<B中学", "A>B中学",
             "a_b中学", "A\\B中学", ".", "..", "...", "CON", "con", "Con"]
    folder = _county(tmp_path / "2026-09", names, 17 * 12, seed=5)
    st_ = pd.concat([pd.read_csv(p, dtype=str) for p in folder.glob("*.csv")])
    assert st_["学校"].nunique() == 17
    res = screen([folder], out=tmp_path / "o", workers=1)
    assert res.ok, res.ledger[["file", "status", "reason"]]
    folders = [p for p in (tmp_path / "o" / "schools").iterdir() if p.is_dir()]
    assert len(folders) == 17
    assert len({p.name.casefold() for p in folders}) == 17
    assert all(list(p.glob("*.xlsx")) for p in folders)


# ---- files that are not exports --------------------------------------------------------------------------------

def test_notes_in_the_exports_folder_are_skipped(tmp_path):
    exports = tmp_path / "2026-09"
    shutil.copytree(WAVE, exports)
    (exports / "说明.txt").write_text("各校请于九月底前上传导出文件。\n联系人：王老师\n", encoding="utf-8")
    (exports / "notice.csv").write_text("Upload by the end of September, please.\n", encoding="utf-8")
    (exports / "通知.docx").write_bytes(b"PK\x03\x04 not a table")
    # a tab-separated export saved as .txt is an export, not a note
    pd.read_csv(WAVE / "实验中学.csv", encoding="gb18030", dtype=str).head(20).assign(学校="文本中学").to_csv(
        exports / "文本中学.txt", sep="\t", index=False, encoding="utf-8")
    out = tmp_path / "o"
    res = CliRunner().invoke(main, ["screen", str(exports), "--map", str(SAMPLE_MAP), "--out", str(out),
                                    "--lang", "en", "--workers", "1"])
    assert res.exit_code == 0, res.output
    m = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    by = {f["file"]: f for f in m["inputs"]}
    for name in ("说明.txt", "notice.csv", "通知.docx"):
        assert by[name]["status"] == "skipped" and by[name]["reason"].startswith("not an export"), name
        assert by[name]["rows"] == 0
        assert f"skipped {name}: not an export" in res.output
    assert by["文本中学.txt"]["status"] == "ok" and by["文本中学.txt"]["scored"] == 20
    assert m["status"] == "complete" and m["not_processed"] == []


def test_table_sniffing_rule(tmp_path):
    def sniff(name, text, enc="utf-8"):
        p = tmp_path / name
        p.write_bytes(text.encode(enc))
        return screening._skip_reason(p)

    assert sniff("a.csv", "学号,姓名,phq9.1\n1,张三,0\n") is None
    assert sniff("b.txt", "学号\t姓名\tphq9.1\n1\t张三\t0\n", "gb18030") is None
    assert sniff("c.txt", "标题行\n\n学号;姓名;phq9.1\n") is None  # a title row above the header
    assert sniff("d.csv", "") is None  # an empty export is the reader's to report, not a note
    assert sniff("e.txt", "学号\t姓名\tphq9.1\n", "utf-16") is None  # Excel's "Unicode text"
    assert sniff("f.txt", "请于九月底前上传，谢谢。\n") is not None
    assert sniff("README.txt", "a\tb\tc\n") is not None  # named as a note
    assert sniff("g.pdf", "%PDF") is not None


# ---- one file's failure is that file's ------------------------------------------------------------------------

def test_a_file_that_fails_in_any_way_is_unreadable_and_the_run_goes_on(tmp_path, monkeypatch):
    real = screening.read_export

    def read(path):
        if Path(path).name == "实验中学.csv":
            raise MemoryError("1,234,567 bytes for 张三")  # the message must not reach any output
        return real(path)

    monkeypatch.setattr(screening, "read_export", read)
    res = CliRunner().invoke(main, ["screen", str(WAVE), "--map", str(SAMPLE_MAP), "--out", str(tmp_path / "o"),
                                    "--lang", "en", "--workers", "1"])
    assert res.exit_code == 1, res.output
    m = json.loads((tmp_path / "o" / "manifest.json").read_text(encoding="utf-8"))
    by = {f["file"]: f for f in m["inputs"]}
    assert by["实验中学.csv"]["status"] == "unreadable" and "MemoryError" in by["实验中学.csv"]["reason"]
    assert all(by[f]["status"] == "ok" for f in by if f != "实验中学.csv")
    assert m["status"] == "incomplete" and m["schools_not_screened"] == ["实验中学"]
    assert (tmp_path / "o" / "county" / "report.html").is_file()
    text = res.output + (tmp_path / "o" / "manifest.json").read_text(encoding="utf-8")
    assert "张三" not in text and "1,234,567" not in text


def test_a_school_whose_outputs_fail_does_not_lose_the_manifest(tmp_path, monkeypatch):
    real = psyscreen.report.write_school

    def write(students, folder, **kw):
        if (students["school"] == "实验中学").any():
            raise OSError(36, "File name too long", str(folder / "0815701650.html"))
        return real(students, folder, **kw)

    monkeypatch.setattr(psyscreen.report, "write_school", write)
    res = CliRunner().invoke(main, ["screen", str(WAVE), "--map", str(SAMPLE_MAP), "--out", str(tmp_path / "o"),
                                    "--lang", "en", "--workers", "1"])
    assert res.exit_code == 1, res.output
    m = json.loads((tmp_path / "o" / "manifest.json").read_text(encoding="utf-8"))
    assert m["status"] == "incomplete"
    assert m["failed_outputs"] == [{"output": "schools/实验中学", "reason": "OSError: File name too long"}]
    assert "schools/实验中学: OSError: File name too long" in res.output
    assert "0815701650" not in res.output and "0815701650" not in json.dumps(m)
    for school in ("阳光小学", "第一高级中学", "城南九年一贯制学校"):
        assert (tmp_path / "o" / "schools" / school / f"2026-09_{school}.xlsx").is_file()
    assert (tmp_path / "o" / "county" / "summary.xlsx").is_file()


# ---- norms ------------------------------------------------------------------------------------------------

def test_norms_file_errors_are_shown(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    res = CliRunner().invoke(main, ["screen", str(WAVE), "--map", str(SAMPLE_MAP), "--out", str(tmp_path / "o"),
                                    "--norms", str(bad)])
    assert res.exit_code == 2, res.output
    assert "not valid JSON" in res.output and "internal error" not in res.output


def test_norms_that_match_no_stratum_are_a_usage_error_and_xlsx_norms_are_read(tmp_path):
    from psyscreen.norms import NormTable

    ref = screen([SAMPLE / "2026-03"], wave="2026-03", out=tmp_path / "ref", column_map=SAMPLE_MAP, reports=False)
    st_ = pd.read_parquet(ref.paths["students"])
    alien = st_.assign(sex=st_["sex"].map({"M": "男", "F": "女"}).fillna("女"))
    path = NormTable(by=["sex"], min_stratum=5).fit(alien, ["phq9.total"]).to_json(tmp_path / "alien.json")
    res = CliRunner().invoke(main, ["screen", str(WAVE), "--map", str(SAMPLE_MAP), "--out", str(tmp_path / "o"),
                                    "--norms", str(path), "--workers", "1"])
    assert res.exit_code == 2, res.output
    out = " ".join(res.output.split())
    assert "matches no student" in out and "sex=女" in out and "sex=F" in out
    xlsx = NormTable(by=["sex"], min_stratum=5).fit(st_, ["phq9.total"]).to_excel(tmp_path / "norms.xlsx")
    ok = screen([WAVE], out=tmp_path / "o2", column_map=SAMPLE_MAP, norms=xlsx, reports=False)
    assert pd.read_parquet(ok.paths["students"])["phq9.total.pr"].notna().all()


# ---- the protocol's population --------------------------------------------------------------------------------

def test_population_is_checked_per_file(tmp_path):
    res = screen([WAVE], out=tmp_path / "o", column_map=SAMPLE_MAP, reports=False, lang="en")
    led = res.ledger.set_index("file")
    st_ = pd.read_parquet(res.paths["students"])
    assert led.loc["阳光小学.xlsx", "rows"] == led.loc["阳光小学.xlsx", "scored"]  # every row of it is in st_
    n = int(st_.loc[st_["school"] == "阳光小学", "grade"].between(4, 6).sum())
    assert n > 0
    assert led.loc["阳光小学.xlsx", "status"] == "ok"
    assert led.loc["阳光小学.xlsx", "reason"] == (
        f"{n} student(s) in grade(s) 4-6, outside the population of protocol default (junior, senior, college): "
        "use protocol primary")
    assert led.loc["第一高级中学.csv", "reason"] == ""
    assert res.ok  # a warning, not a stop


def test_population_grades():
    from psyscreen.protocol import load_protocol

    assert screening.population_grades(load_protocol("default").population) == frozenset(range(7, 17))
    assert screening.population_grades(load_protocol("senior").population) == frozenset({10, 11, 12})
    assert screening._span([4, 5, 6, 9, 13, 14]) == "4-6, 9, 13-14"


# ---- progress ---------------------------------------------------------------------------------------------

def test_progress_moves_in_every_phase(tmp_path):
    calls = []
    screen([WAVE], out=tmp_path / "o", column_map=SAMPLE_MAP, workers=2,
           progress=lambda stage, done, total: calls.append((stage, done, total)))
    stages = [c[0] for c in calls]
    for stage in ("read", "score", "write", "schools"):
        done = [d for s, d, _ in calls if s == stage]
        total = {t for s, _, t in calls if s == stage}
        assert len(total) == 1 and done == list(range(0 if stage != "schools" else 1, total.pop() + 1)), stage
    assert len([1 for s in stages if s == "schools"]) == 5  # the county and the four schools, one by one
    assert stages.index("schools") > max(i for i, s in enumerate(stages) if s == "write")


def test_progress_display_shows_remaining_time():
    from rich.progress import TimeRemainingColumn

    from psyscreen.cli.screen import progress_columns

    assert any(isinstance(c, TimeRemainingColumn) for c in progress_columns())


# ---- workers end with their parent --------------------------------------------------------------------------

def _children(pid: int) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(d.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def test_kill_9_of_the_screen_ends_its_report_workers(tmp_path):
    # Linux, as the county servers and CI are: the workers are forked and watched with prctl, /proc lists them
    folder = _county(tmp_path / "2026-09", [f"第{k:02d}中学" for k in range(40)], 8000, seed=7)
    script = textwrap.dedent(f"""
        import sys
        from psyscreen.screening import screen
        def progress(stage, done, total):
            if stage == "schools":
                print("schools", done, flush=True)
        screen([{str(folder)!r}], out={str(tmp_path / "o")!r}, workers=2, progress=progress)
    """)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            env=env, text=True)
    workers: list[int] = []
    try:
        line = proc.stdout.readline()  # the first school job is done: the workers are busy with the others
        assert line.startswith("schools"), line
        workers = _children(proc.pid)
        assert len(workers) >= 2
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(_alive(w) for w in workers):
            time.sleep(0.1)
        survivors = [w for w in workers if _alive(w)]
        assert not survivors
    finally:
        if proc.poll() is None:
            proc.kill()
        for w in workers + _children(proc.pid):  # never leave a worker behind, even when the test fails
            if _alive(w):
                os.kill(w, signal.SIGKILL)


# ---- the index page ---------------------------------------------------------------------------------------

def test_index_page_incomplete_en(partial):
    _, out = partial
    html = (out / "index.html").read_text(encoding="utf-8")
    assert "城南&lt;区&gt; September 2026" in html and "城南<区>" not in html
    assert "INCOMPLETE" in html and "实验中学.csv" in html and "城南九年一贯制学校.xlsx" in html
    for name, reader in (("critical.xlsx", "county mental-health center"), ("county/summary.xlsx", "leadership"),
                         ("county/report.html", "leadership"), ("classes/", "class teachers"),
                         ("letters/", "families"), ("quarantine.xlsx", "data staff"),
                         ("psychological teacher", "psychological teacher")):
        assert name in html and reader in html
    assert 'href="critical.xlsx"' in html and 'href="county/report.html"' in html
    assert "index.html" in json.loads((out / "manifest.json").read_text(encoding="utf-8"))["outputs"]


def test_index_page_zh_and_pseudonymise(tmp_path):
    key = tmp_path / "k.key"
    key.write_text(os.urandom(32).hex())
    res = CliRunner().invoke(main, ["screen", str(WAVE), "--map", str(SAMPLE_MAP), "--out", str(tmp_path / "o"),
                                    "--pseudonymise", str(key), "--workers", "1"])
    assert res.exit_code == 0, res.output
    html = (tmp_path / "o" / "index.html").read_text(encoding="utf-8")
    assert "2026年9月" in html and "完整" in html
    for reader in ("县（区）心理健康辅导中心", "学校心理教师", "班主任", "家长", "数据管理人员"):
        assert reader in html
    assert "critical.xlsx 有意保留姓名与原始学号" in html
    help_text = " ".join(CliRunner().invoke(main, ["screen", "--help"]).output.split())
    assert "critical.xlsx keeps names and raw ids on purpose" in help_text
