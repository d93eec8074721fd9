"""The growth file takes waves a county can trust (issue 10): incomplete waves, schools not screened, outcomes
that are never miscounted, both languages, safe file names, concurrent imports and a full or damaged store."""

from __future__ import annotations

import json
import multiprocessing as mp
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from psyscreen import archive
from psyscreen.archive import (ArchiveError, IncompleteWaveError, StoreDamagedError, StoreFullError, compare,
                               import_wave, store_digest)
from psyscreen.cli import main
from psyscreen.protocol import INVALID_LEVEL, NONE_LEVEL, UNDECIDED_LEVEL
from psyscreen.synthetic import simulate_students

from .test_archive import wave_frames, write_wave_dir

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "sample"


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def mark_incomplete(folder: Path) -> dict:
    """Give the manifest of a run that stopped files the keys of an incomplete wave, unless it has them.

    Newer screenings write ``status``, ``not_processed`` and ``schools_not_screened`` themselves; for a manifest
    without them the stopped files of ``inputs`` are taken (the sample's files are named after their school).
    """
    path = folder / "manifest.json"
    m = json.loads(path.read_text(encoding="utf-8"))
    if "status" not in m:
        stopped = [f for f in m["inputs"] if f["status"] != "ok"]
        m["not_processed"] = [{"file": f["file"], "status": f["status"], "rows_in_file": f["rows_in_file"],
                               "reason": f["reason"], "schools": [Path(f["file"]).stem]} for f in stopped]
        m["schools_not_screened"] = sorted(s for f in m["not_processed"] for s in f["schools"])
        m["status"] = "incomplete" if stopped else "complete"
        path.write_text(json.dumps(m, ensure_ascii=False), encoding="utf-8")
    return m


@pytest.fixture(scope="module")
def sample_waves(tmp_path_factory):
    """The sample county: March and September with the column map, and September without it (two schools stop)."""
    from psyscreen.screening import screen

    root = tmp_path_factory.mktemp("sample")
    for name, wave, cmap in (("mar", "2026-03", True), ("sep", "2026-09", True), ("stopped", "2026-09", False)):
        screen([SAMPLE / wave], protocol="default", wave=wave, out=root / name,
               column_map=SAMPLE / "column_map.csv" if cmap else None, reports=False)
    m = mark_incomplete(root / "stopped")
    assert m["status"] == "incomplete" and len(m["schools_not_screened"]) == 2
    return root


# --------------------------------------------------------------------------------------------------
# 1. an incomplete wave is refused unless asked for; what it lacks is recorded
# --------------------------------------------------------------------------------------------------


def test_import_refuses_an_incomplete_wave_unless_allowed(sample_waves, tmp_path):
    db = tmp_path / "county.db"
    stopped = json.loads((sample_waves / "stopped" / "manifest.json").read_text(encoding="utf-8"))
    r = run("archive", "import", sample_waves / "stopped", "--db", db)
    assert r.exit_code != 0
    assert "incomplete" in r.output and "--allow-incomplete" in r.output and "internal error" not in r.output
    for school in stopped["schools_not_screened"]:
        assert school in r.output
    assert not db.exists() or archive.waves(db).empty
    with pytest.raises(IncompleteWaveError) as err:
        import_wave(sample_waves / "stopped", db)
    assert err.value.schools == stopped["schools_not_screened"] and err.value.status == "incomplete"
    r = run("archive", "import", sample_waves / "stopped", "--db", db, "--allow-incomplete")
    assert r.exit_code == 0, r.output
    assert "INCOMPLETE" in r.output
    w = archive.waves(db).set_index("wave")
    assert w.loc["2026-09", "status"] == "incomplete"
    assert w.loc["2026-09", "schools_not_screened"] == stopped["schools_not_screened"]
    r = run("archive", "waves", "--db", db)
    assert r.exit_code == 0 and "incomplete" in r.output and stopped["schools_not_screened"][0] in r.output
    # a complete wave (and one from before the status key) imports as before
    r = run("archive", "import", sample_waves / "mar", "--db", db)
    assert r.exit_code == 0, r.output
    assert archive.waves(db).set_index("wave").loc["2026-03", "status"] == "complete"


def test_schema_3_upgrade_keeps_old_waves_complete_and_moves_english_reasons(tmp_path, sample_waves):
    db = tmp_path / "old.db"
    with archive.connect(db, _upto=2) as con:
        con.execute("INSERT INTO students VALUES (1, 'S1')")
        con.execute("INSERT INTO waves VALUES (1, '2025-09', '2025-09-01'), (2, '2026-03', '2026-03-01')")
        for wid, lang in ((1, "zh"), (2, "en")):
            con.execute("INSERT INTO imports(wave_id, manifest_sha256, manifest, imported_at) VALUES (?,?,?,?)",
                        (wid, str(wid) * 64, json.dumps({"wave": "x", "lang": lang}), "2026-01-01"))
        con.execute("INSERT INTO screenings VALUES (1,1,'一中',8,'1','F','level3',3,1,0,'PHQ-9 总分 11',0,0),"
                    "(2,1,'一中',8,'1','F','level3',3,1,0,'PHQ-9 total 11',0,0)")
    h = archive.history(db, "S1")
    assert h.timeline["reasons"].tolist()[0] == "PHQ-9 总分 11"
    assert h.timeline["reasons_en"].tolist()[1] == "PHQ-9 total 11"
    assert pd.isna(h.timeline["reasons"].tolist()[1])
    assert archive.waves(db)["status"].tolist() == ["complete", "complete"]


# --------------------------------------------------------------------------------------------------
# 2 and 8. a school not screened is its own outcome, and compare says so
# --------------------------------------------------------------------------------------------------


def test_compare_school_not_screened_is_never_absent(sample_waves, tmp_path):
    full, part = tmp_path / "full.db", tmp_path / "part.db"
    for folder in ("mar", "sep"):
        import_wave(sample_waves / folder, full)
    import_wave(sample_waves / "mar", part)
    import_wave(sample_waves / "stopped", part, allow_incomplete=True)
    missing = json.loads((sample_waves / "stopped" / "manifest.json").read_text(encoding="utf-8"))[
        "schools_not_screened"]
    truth = compare(full, "2026-03", "2026-09").students.set_index("student_key")
    cmp = compare(part, "2026-03", "2026-09")
    st = cmp.students.set_index("student_key")
    mar = pd.read_parquet(sample_waves / "mar" / "students.parquet").set_index("student_key")
    sep = pd.read_parquet(sample_waves / "stopped" / "students.parquet").set_index("student_key")
    of_missing = mar.index[mar["school"].isin(missing) & ~mar.index.isin(sep.index)]
    assert len(of_missing) > 800
    assert set(st.index[st["status"] == "school not screened"]) == set(of_missing)
    # absent: exactly the absentees of the full data outside the schools not screened (the issue: 139 vs 31)
    truly_absent = truth.index[truth["status"] == "absent"]
    expect = set(truly_absent[~mar.loc[truly_absent, "school"].isin(missing)])
    assert set(st.index[st["status"] == "absent"]) == expect and len(expect) <= 31
    assert (truth["status"] == "absent").sum() == 31
    assert not st.loc[of_missing, "status"].isin(["absent", "resolved", "persistent", "new"]).any()
    # the other way round the school was not screened in the earlier wave: its students are not 'new'
    back = compare(part, "2026-09", "2026-03").students.set_index("student_key")["status"]
    assert set(back.index[back == "school not screened before"]) == set(of_missing)
    # the terminal says it, in both languages, with a row for every outcome
    db_args = ["--db", part, "--from", "2026-03", "--to", "2026-09"]
    r = run("compare", *db_args, "--lang", "en")
    assert r.exit_code == 0, r.output
    assert "school not screened in September 2026: " + ", ".join(missing) in r.output
    assert f"{len(of_missing)} student(s) of March 2026" in r.output
    for label in archive.OUTCOME_LABELS["en"].values():
        assert label in r.output
    r = run("compare", *db_args, "--out", tmp_path / "cmp")
    assert r.exit_code == 0, r.output
    assert "2026年9月未筛查的学校：" + "、".join(missing) in r.output and "学校本次未筛查" in r.output
    county = pd.read_excel(tmp_path / "cmp" / "county" / "compare-2026-03-2026-09.xlsx", sheet_name=None,
                           engine="calamine")
    table = county["各校预警变化"].set_index("学校")
    # every student of a school not screened has that outcome: a count equal to its row's total, which the county
    # table hides with its row (privacy.suppress_small's group rule); the notes give the number instead
    assert (table.loc[missing, "学校本次未筛查"].astype(str) == "*").all()
    assert (table.loc[missing, "上次预警、本次未参加筛查"].astype(str) == "*").all()
    assert any("2026年9月未筛查的学校" in str(x) for x in county["说明"].iloc[:, 0])


# --------------------------------------------------------------------------------------------------
# 3. undecided and invalid are their own outcomes
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_waves(tmp_path_factory):
    root = tmp_path_factory.mktemp("small")
    r = simulate_students(300, seed=21, schools=["一中", "二中"], grades=range(7, 10))
    s1, a1 = wave_frames(r, "2026-03", seed=22)
    s2, a2 = wave_frames(r, "2026-09", seed=23)
    return {"root": root, "s1": s1, "a1": a1, "s2": s2, "a2": a2}


def test_compare_undecided_and_invalid_are_never_resolved_or_persistent(small_waves, tmp_path):
    s1, s2 = small_waves["s1"].copy(), small_waves["s2"].copy()
    flag = lambda s: s["level_rank"].fillna(9).le(3) & (s["level"] != NONE_LEVEL)  # noqa: E731
    both = flag(s1).to_numpy() & flag(s2).to_numpy()  # same roster, same row order
    was = flag(s1).to_numpy() & ~flag(s2).to_numpy()
    assert both.sum() >= 4 and was.sum() >= 4
    to_invalid = np.flatnonzero(both)[:2].tolist() + np.flatnonzero(was)[:2].tolist()
    to_undecided = np.flatnonzero(both)[2:4].tolist() + np.flatnonzero(was)[2:4].tolist()
    s2.loc[to_invalid, ["level", "level_rank"]] = [INVALID_LEVEL, pd.NA]
    s2.loc[to_undecided, ["level", "level_rank"]] = [UNDECIDED_LEVEL, pd.NA]
    s1.loc[[0, 1], ["level", "level_rank"]] = [UNDECIDED_LEVEL, pd.NA]  # undecided before: never 'resolved'
    db = tmp_path / "c.db"
    import_wave(write_wave_dir(tmp_path / "a", "2026-03", s1, small_waves["a1"]), db)
    import_wave(write_wave_dir(tmp_path / "b", "2026-09", s2, small_waves["a2"]), db)
    st = compare(db, "2026-03", "2026-09").students.set_index("student_key")["status"]
    keys = s2["student_key"]
    assert (st[keys[to_invalid]] == "invalid").all()
    assert (st[keys[to_undecided]] == "undecided").all()
    assert set(st.index[st == "invalid"]) == set(keys[s2["level"] == INVALID_LEVEL])
    assert set(st.index[st == "undecided"]) == set(keys[s2["level"] == UNDECIDED_LEVEL])
    resolved_or_persistent = st[st.isin(["resolved", "persistent"])].index
    assert not set(resolved_or_persistent) & set(keys[s2["level"].isin([INVALID_LEVEL, UNDECIDED_LEVEL])])
    assert not set(resolved_or_persistent) & set(s1["student_key"][:2]) - set(st.index[flag(s2).to_numpy()])
    r = run("compare", "--db", db, "--from", "2026-03", "--to", "2026-09", "--lang", "en", "--out", tmp_path / "o")
    assert r.exit_code == 0, r.output
    counts = compare(db, "2026-03", "2026-09").to_frame().set_index("status")["students"]
    assert counts["invalid"] == 4 and counts["undecided"] == (s2["level"] == UNDECIDED_LEVEL).sum() >= 4
    rows = {line.split("│")[1].strip(): line.split("│")[2].strip() for line in r.output.splitlines()
            if line.count("│") == 3}
    assert rows["invalid sheet now (re-test)"] == "4" and rows["undecided now (answers missing)"] == str(
        counts["undecided"])
    assert rows["persistent flag"] == str(counts["persistent"]) and rows["resolved"] == str(counts["resolved"])
    county = pd.read_excel(tmp_path / "o" / "county" / "compare-2026-03-2026-09.xlsx", sheet_name="flags by school",
                           engine="calamine")
    assert {"invalid sheet now (re-test)", "undecided now (answers missing)", "school not screened in this wave"} <= set(
        county.columns)


# --------------------------------------------------------------------------------------------------
# 4. language
# --------------------------------------------------------------------------------------------------


def test_compare_workbooks_speak_the_chosen_language(small_waves, tmp_path):
    db = tmp_path / "c.db"
    import_wave(write_wave_dir(tmp_path / "a", "2026-03", small_waves["s1"], small_waves["a1"]), db)
    import_wave(write_wave_dir(tmp_path / "b", "2026-09", small_waves["s2"], small_waves["a2"]), db)
    out = tmp_path / "zh"
    r = run("compare", "--db", db, "--from", "2026-03", "--to", "2026-09", "--out", out)
    assert r.exit_code == 0, r.output
    assert "2026年3月 → 2026年9月" in r.output and "持续预警" in r.output and "persistent" not in r.output
    wb = pd.read_excel(out / "schools" / "一中" / "一中-compare-2026-03-2026-09.xlsx", sheet_name=None,
                       engine="calamine")
    assert list(wb) == ["预警变化", "可靠变化", "信度"]
    flags = wb["预警变化"]
    assert {"学生编码", "学校", "等级（2026年3月）", "等级（2026年9月）", "结果"} <= set(flags.columns)
    assert set(flags["结果"]) <= set(archive.OUTCOME_LABELS["zh"].values()) and len(flags)
    words = set(flags.astype(str).to_numpy().ravel())
    assert not words & {"new", "persistent", "resolved", "level3", "none", "True", "False"}
    assert {"是", "否"} <= words and {"无预警", "三级预警（黄色）"} & words
    assert set(wb["可靠变化"]["类别"]) <= {"可靠恶化", "可靠改善"}
    assert wb["信度"]["信度来源"].str.startswith("量表定义").all()
    county = pd.read_excel(out / "county" / "compare-2026-03-2026-09.xlsx", sheet_name=None, engine="calamine")
    assert list(county) == ["各校预警变化", "可靠变化", "信度", "说明"]
    assert "合计" in county["各校预警变化"].columns and "新增预警 比例" in county["各校预警变化"].columns
    r = run("compare", "--db", db, "--from", "2026-03", "--to", "2026-09", "--out", tmp_path / "en", "--lang", "en")
    assert r.exit_code == 0 and "March 2026 → September 2026" in r.output and "persistent flag" in r.output
    wb = pd.read_excel(tmp_path / "en" / "schools" / "一中" / "一中-compare-2026-03-2026-09.xlsx", sheet_name=None,
                       engine="calamine")
    assert list(wb) == ["flags", "reliable change", "reliability"]
    assert "level (September 2026)" in wb["flags"].columns and not {"是", "否"} & set(wb["flags"].astype(str).stack())


def test_history_prints_the_reasons_of_the_chosen_language(small_waves, tmp_path):
    db = tmp_path / "c.db"
    s1, s2 = small_waves["s1"], small_waves["s2"]
    # the first wave's folder has no English reasons (as `screen` writes students.parquet today): said, not hidden
    import_wave(write_wave_dir(tmp_path / "a", "2026-03", s1.drop(columns="reasons_en"), small_waves["a1"]), db)
    import_wave(write_wave_dir(tmp_path / "b", "2026-09", s2, small_waves["a2"]), db)
    flagged = s1["level"].astype(str).str.startswith("level") & s2["level"].astype(str).str.startswith("level")
    key = s2.loc[flagged, "student_key"].iloc[0]
    en = s2.set_index("student_key").loc[key, "reasons_en"]
    zh = s2.set_index("student_key").loc[key, "reasons"]
    r = run("history", key, "--db", db, "--lang", "en")
    assert r.exit_code == 0, r.output
    flat = " ".join(r.output.split())
    assert en.split(" (")[0] in flat and zh.split("（")[0] not in flat.replace(en, "")
    assert "September 2026" in flat and "March 2026" in flat
    assert "reasons of March 2026 are stored in Chinese only" in flat
    r = run("history", key, "--db", db)
    assert r.exit_code == 0 and zh.split("（")[0] in " ".join(r.output.split()) and "2026年9月" in r.output
    assert "level3" not in r.output and "none" not in r.output


# --------------------------------------------------------------------------------------------------
# 5. school names never lead out of --out, and never share a workbook
# --------------------------------------------------------------------------------------------------


def test_compare_out_keeps_every_school_inside_and_apart(small_waves, tmp_path):
    s1, s2 = small_waves["s1"].copy(), small_waves["s2"].copy()
    names = np.array(["..", "_", "A/B中学", "A_B中学"])
    for s in (s1, s2):
        s["school"] = names[np.arange(len(s)) % 4]
    db = tmp_path / "c.db"
    import_wave(write_wave_dir(tmp_path / "a", "2026-03", s1, small_waves["a1"]), db)
    import_wave(write_wave_dir(tmp_path / "b", "2026-09", s2, small_waves["a2"]), db)
    out = tmp_path / "deep" / "cmp"
    r = run("compare", "--db", db, "--from", "2026-03", "--to", "2026-09", "--out", out, "--lang", "en")
    assert r.exit_code == 0, r.output
    assert [p.name for p in (tmp_path / "deep").iterdir()] == ["cmp"]
    assert sorted(p.name for p in out.iterdir()) == ["county", "schools"]
    books = sorted(out.glob("schools/*/*.xlsx"))
    assert len(books) == 4 and len({p.parent.name for p in books}) == 4
    seen = set()
    for p in books:
        assert p.resolve().is_relative_to((out / "schools").resolve())
        school = set(pd.read_excel(p, sheet_name="flags", engine="calamine")["school"].astype(str))
        assert len(school) == 1
        seen |= school
    assert seen == set(names)


# --------------------------------------------------------------------------------------------------
# 6. two imports at the same moment
# --------------------------------------------------------------------------------------------------


def _racer(barrier, queue, folder, db):
    barrier.wait()
    try:
        queue.put(("ok", import_wave(folder, db).status))
    except Exception as exc:  # reported to the test
        queue.put((type(exc).__name__, str(exc)))


def _race(folders, db) -> list:
    ctx = mp.get_context("fork")
    barrier, queue = ctx.Barrier(len(folders)), ctx.Queue()
    procs = [ctx.Process(target=_racer, args=(barrier, queue, f, db)) for f in folders]
    for p in procs:
        p.start()
    out = [queue.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    return sorted(out)


@pytest.fixture(scope="module")
def race_folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("race")
    r = simulate_students(60, seed=31)
    out = {}
    for name, wave, pseudo in (("w1", "2026-03", False), ("w2", "2026-09", False), ("p2", "2026-09", True)):
        s, a = wave_frames(r, wave, seed=32)
        out[name] = write_wave_dir(root / name, wave, s, a, pseudonymised=pseudo)
    return out


def test_concurrent_first_imports_into_a_new_store(race_folders, tmp_path):
    for i in range(10):
        db = tmp_path / f"new{i}.db"
        res = _race([race_folders["w1"], race_folders["w2"]], db)
        assert res == [("ok", "imported"), ("ok", "imported")], res
        assert archive.waves(db)["wave"].tolist() == ["2026-03", "2026-09"]


def test_concurrent_plain_and_pseudonymised_imports_never_both_accepted(race_folders, tmp_path):
    for i in range(10):
        db = tmp_path / f"mix{i}.db"
        res = _race([race_folders["w1"], race_folders["p2"]], db)
        assert [r[0] for r in res] == ["ArchiveError", "ok"], res
        assert "link across waves" in res[0][1]
        with sqlite3.connect(db) as con:
            assert con.execute("SELECT count(DISTINCT pseudonymised) FROM imports").fetchone()[0] == 1


def test_concurrent_imports_of_the_same_wave(race_folders, tmp_path):
    for i in range(10):
        db = tmp_path / f"same{i}.db"
        res = _race([race_folders["w1"], race_folders["w1"]], db)
        assert res == [("ok", "already imported"), ("ok", "imported")], res


# --------------------------------------------------------------------------------------------------
# 7. a full disk or a damaged store says what happened and what to do
# --------------------------------------------------------------------------------------------------


def test_full_disk_is_a_clear_error_and_changes_nothing(small_waves, tmp_path, monkeypatch):
    db = tmp_path / "c.db"
    import_wave(write_wave_dir(tmp_path / "a", "2026-03", small_waves["s1"], small_waves["a1"]), db)
    before = store_digest(db)
    with sqlite3.connect(db) as con:
        pages = con.execute("PRAGMA page_count").fetchone()[0]
    opened = archive._open

    def tiny(path):  # the disk fills after a few more pages
        con = opened(path)
        con.execute(f"PRAGMA max_page_count = {pages + 3}")
        return con

    monkeypatch.setattr(archive, "_open", tiny)
    r = run("archive", "import", write_wave_dir(tmp_path / "b", "2026-09", small_waves["s2"], small_waves["a2"]),
            "--db", db)
    assert r.exit_code != 0
    assert "disk holding the archive is full" in r.output and "Free space" in r.output
    assert "internal error" not in r.output and "OperationalError" not in r.output
    with pytest.raises(StoreFullError):
        import_wave(tmp_path / "b", db)
    monkeypatch.setattr(archive, "_open", opened)
    assert store_digest(db) == before
    assert import_wave(tmp_path / "b", db).status == "imported"


def test_a_file_that_is_not_a_store(tmp_path, small_waves):
    db = tmp_path / "county.db"
    db.write_bytes(b"this is a spreadsheet, not an archive\n" * 200)
    folder = write_wave_dir(tmp_path / "a", "2026-03", small_waves["s1"], small_waves["a1"])
    for args in (["archive", "import", folder, "--db", db], ["archive", "waves", "--db", db],
                 ["history", "x", "--db", db]):
        r = run(*args)
        assert r.exit_code != 0
        assert "damaged or is not a psyscreen archive" in r.output and "restore it from the latest backup" in r.output
        assert "internal error" not in r.output


def test_a_damaged_store(tmp_path, small_waves):
    db = tmp_path / "county.db"
    import_wave(write_wave_dir(tmp_path / "a", "2026-03", small_waves["s1"], small_waves["a1"]), db)
    key = small_waves["s1"]["student_key"].iloc[0]
    with sqlite3.connect(db) as con:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page = con.execute("PRAGMA page_size").fetchone()[0]
        n = con.execute("PRAGMA page_count").fetchone()[0]
    raw = bytearray(db.read_bytes())
    rng = np.random.default_rng(0)
    for p in range(2, n):  # every page but the header: the tables' b-trees are garbage now
        raw[p * page + 8:(p + 1) * page] = rng.integers(0, 256, page - 8, dtype=np.uint8).tobytes()
    db.write_bytes(bytes(raw))
    shutil.copy(db, tmp_path / "copy.db")
    with pytest.raises(StoreDamagedError, match="malformed|not a database"):
        archive.history(db, key)
    r = run("compare", "--db", db, "--from", "2026-03", "--to", "2026-03")
    assert r.exit_code != 0 and "damaged" in r.output and "backup" in r.output
    assert "internal error" not in r.output and "DatabaseError" not in r.output
    r = run("history", key, "--db", db)
    assert r.exit_code != 0 and "damaged" in r.output and key not in r.output.replace("history", "")
    with pytest.raises(ArchiveError):
        import_wave(write_wave_dir(tmp_path / "b", "2026-09", small_waves["s2"], small_waves["a2"]), db)
