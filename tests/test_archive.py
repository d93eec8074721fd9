"""The growth-file store: imports (atomic, idempotent, conflicts), history, compare, test-retest, stewardship."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from scipy import stats

import psyscreen
from psyscreen import archive
from psyscreen.archive import (ArchiveError, ImportConflictError, StudentNotFoundError, compare, delete_student,
                               export_research, history, import_wave, store_digest)
from psyscreen.synthetic import next_wave, simulate_answers, simulate_students

REPO = Path(__file__).resolve().parents[1]
INSTRUMENTS = ["phq9", "gad7"]


# --------------------------------------------------------------------------------------------------
# a wave folder in the layout of `psyscreen screen --out DIR` (screening_contract.md)
# --------------------------------------------------------------------------------------------------


def wave_frames(roster: pd.DataFrame, wave: str, seed: int, instruments=INSTRUMENTS, missing_rate=0.0):
    answers = simulate_answers(roster, instruments, seed=seed, missing_rate=missing_rate)
    scores = psyscreen.score(answers, instruments)
    students = pd.DataFrame({
        "student_key": roster["student_id"].astype(str).to_numpy(),
        "school": roster["school"].to_numpy(),
        "grade": roster["grade"].astype(int).to_numpy(),
        "class": roster["class"].astype(str).to_numpy(),
        "sex": np.where(roster["sex"] == "女", "F", "M"),
        "wave": wave,
    }, index=roster.index)
    students = pd.concat([students, scores.drop(columns=[c for c in scores.columns if c.endswith(".critical_items")])],
                         axis=1)
    if set(instruments) == {"phq9", "gad7"}:
        cl = psyscreen.classify(scores, "default", answers=answers)
        students["level"] = cl["level"].astype(str)
        students["level_rank"] = cl["level_rank"]
        students["reasons"] = cl["reasons"]
        students["reasons_en"] = cl["reasons_en"]
        students["critical"] = cl["critical"]
    else:  # a protocol by hand: flagged when the first instrument's total >= 10
        tot = scores[f"{instruments[0]}.total"]
        students["level"] = np.where(tot >= 10, "level3", "none")
        students["level_rank"] = pd.array(np.where(tot >= 10, 3, 4), dtype="Int64")
        students["reasons"] = np.where(tot >= 10, "total >= 10", "")
        students["critical"] = False
    students["careless_longstring"] = False
    students["careless_fast"] = False
    ans = pd.concat([students[["student_key", "wave"]], answers], axis=1)
    return students.reset_index(drop=True), ans.reset_index(drop=True)


def write_wave_dir(folder: Path, wave: str, students: pd.DataFrame, answers: pd.DataFrame,
                   instruments=INSTRUMENTS, created="2026-03-20T10:00:00+08:00", pseudonymised=False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    students.to_parquet(folder / "students.parquet", index=False)
    answers.to_parquet(folder / "answers.parquet", index=False)
    n = len(students)
    manifest = {
        "tool": {"name": "psyscreen", "version": psyscreen.__version__}, "wave": wave, "created": created,
        "protocol": {"id": "default", "version": "1.0", "sha256": "0" * 64},
        "instruments": [{"id": i, "version": "1.0", "sha256": "1" * 64} for i in instruments],
        "inputs": [{"file": "a.xlsx", "sha256": "2" * 64, "rows": n, "scored": n, "quarantined": 0,
                    "duplicates": 0, "status": "ok", "reason": None}],
        "totals": {"rows": n, "scored": n, "quarantined": 0, "duplicates": 0},
        "levels": students["level"].value_counts().to_dict(), "pseudonymised": pseudonymised,
        "outputs": ["students.parquet", "answers.parquet"],
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, default=int), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def two_waves(tmp_path_factory):
    """Two waves of one cohort (wave 2: 30 students gone, 20 new), as wave folders."""
    root = tmp_path_factory.mktemp("waves")
    r1 = simulate_students(600, seed=11, schools=["一中", "二中"], grades=range(7, 12))
    s1, a1 = wave_frames(r1, "2026-03", seed=12, missing_rate=0.01)
    r2 = next_wave(r1, seed=13, promote=False)
    flagged1 = s1.loc[s1["level_rank"].fillna(9) <= 3, "student_key"]
    gone = set(flagged1.iloc[:10]) | set(s1["student_key"].iloc[-20:])  # flagged and unflagged leavers
    r2 = r2[~r2["student_id"].isin(gone)]
    newcomers = simulate_students(20, seed=14, schools=["一中", "二中"], grades=range(7, 12))
    r2 = pd.concat([r2, newcomers], ignore_index=True)
    s2, a2 = wave_frames(r2, "2026-09", seed=15)
    d1 = write_wave_dir(root / "2026-03", "2026-03", s1, a1)
    d2 = write_wave_dir(root / "2026-09", "2026-09", s2, a2, created="2026-09-20T10:00:00+08:00")
    return {"d1": d1, "d2": d2, "s1": s1, "s2": s2, "a1": a1, "a2": a2, "gone": gone}


@pytest.fixture()
def store(tmp_path, two_waves):
    db = tmp_path / "county.db"
    import_wave(two_waves["d1"], db)
    import_wave(two_waves["d2"], db)
    return db


def count(db, sql):
    with sqlite3.connect(db) as con:
        return con.execute(sql).fetchone()[0]


# --------------------------------------------------------------------------------------------------
# import
# --------------------------------------------------------------------------------------------------


def test_import_stores_every_record(tmp_path, two_waves):
    db = tmp_path / "c.db"
    res = import_wave(two_waves["d1"], db)
    s1, a1 = two_waves["s1"], two_waves["a1"]
    assert res.status == "imported" and res.students == len(s1) == res.new_students
    assert count(db, "SELECT count(*) FROM screenings") == len(s1)
    n_scores = int(s1[["phq9.total", "gad7.total"]].notna().sum().sum())
    assert res.scores == n_scores == count(db, "SELECT count(*) FROM scores WHERE value IS NOT NULL")
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        prov = con.execute("SELECT manifest_sha256, tool_version, protocol_id, inputs FROM imports").fetchone()
    assert prov[0] == hashlib.sha256((two_waves["d1"] / "manifest.json").read_bytes()).hexdigest()
    assert prov[1] == psyscreen.__version__ and prov[2] == "default" and json.loads(prov[3])[0]["file"] == "a.xlsx"
    # the packed answers come back exactly, blanks as NaN
    with archive.connect(db) as con:
        back = archive._answers_frame(con, 1)
        ids = pd.read_sql_query("SELECT id, student_key FROM students", con).set_index("id")["student_key"]
    back.index = ids.reindex(back.index).to_numpy()
    items = [c for c in a1.columns if c not in ("student_key", "wave")]
    expect = a1.set_index("student_key")[items].reindex(back.index)
    assert a1[items].isna().to_numpy().any()
    np.testing.assert_array_equal(back[items].to_numpy(), expect.to_numpy(dtype="float64"))
    # second wave: only the newcomers are new students
    res2 = import_wave(two_waves["d2"], db)
    assert res2.new_students == len(set(two_waves["s2"]["student_key"]) - set(s1["student_key"])) == 20


def test_import_is_idempotent(tmp_path, two_waves):
    db = tmp_path / "c.db"
    import_wave(two_waves["d1"], db)
    before = store_digest(db)
    again = import_wave(two_waves["d1"], db)
    assert again.status == "already imported" and not again.added and again.students == 0
    assert "already imported" in str(again)
    assert store_digest(db) == before


def test_conflicting_reimport_is_refused_unless_replace(tmp_path, two_waves):
    db = tmp_path / "c.db"
    import_wave(two_waves["d1"], db)
    before = store_digest(db)
    s1, a1 = two_waves["s1"].copy(), two_waves["a1"]
    s1.loc[0, "phq9.total"] = 26.0
    other = write_wave_dir(tmp_path / "rerun", "2026-03", s1, a1, created="2026-03-21T09:00:00+08:00")
    with pytest.raises(ImportConflictError, match="replace"):
        import_wave(other, db)
    assert store_digest(db) == before
    res = import_wave(other, db, replace=True)
    assert res.status == "replaced" and res.new_students == 0
    assert count(db, "SELECT count(*) FROM waves") == 1 and count(db, "SELECT count(*) FROM imports") == 1
    assert count(db, "SELECT count(*) FROM screenings") == len(s1)
    t = history(db, s1.loc[0, "student_key"]).timeline
    assert t["phq9.total"].tolist() == [26.0]


def test_incomplete_wave_dir_is_refused(tmp_path, two_waves):
    s1, a1 = two_waves["s1"], two_waves["a1"]
    d = write_wave_dir(tmp_path / "w", "2026-03", s1, a1)
    s1.iloc[:-1].to_parquet(d / "students.parquet", index=False)  # a row lost after the manifest was written
    with pytest.raises(ArchiveError, match="manifest counts"):
        import_wave(d, tmp_path / "c.db")
    with pytest.raises(ArchiveError, match="manifest.json"):
        import_wave(tmp_path, tmp_path / "c.db")


def test_killed_import_leaves_the_store_unchanged(tmp_path, two_waves):
    db = tmp_path / "c.db"
    import_wave(two_waves["d1"], db)
    before = store_digest(db)
    rows_before = count(db, "SELECT count(*) FROM screenings")
    marker = tmp_path / "in-transaction"
    env = dict(os.environ, **{archive.PAUSE_ENV: str(marker)})
    code = f"from psyscreen.archive import import_wave; import_wave({str(two_waves['d2'])!r}, {str(db)!r})"
    proc = subprocess.Popen([sys.executable, "-c", code], env=env)
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert proc.poll() is None, "the import ended before reaching its pause"
            assert time.monotonic() < deadline, "the import never reached its pause"
            time.sleep(0.05)
        # the child has written the new wave's screenings inside its open transaction
        assert Path(str(db) + "-wal").stat().st_size > 0
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert store_digest(db) == before
    assert count(db, "SELECT count(*) FROM screenings") == rows_before
    assert count(db, "SELECT count(*) FROM waves") == 1
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # and the wave imports cleanly afterwards
    assert import_wave(two_waves["d2"], db).status == "imported"


def test_mixing_pseudonymised_and_plain_keys_is_refused(tmp_path, two_waves):
    db = tmp_path / "c.db"
    import_wave(two_waves["d1"], db)
    d = write_wave_dir(tmp_path / "p", "2026-09", two_waves["s2"], two_waves["a2"], pseudonymised=True)
    with pytest.raises(ArchiveError, match="link across waves"):
        import_wave(d, db)


# --------------------------------------------------------------------------------------------------
# history
# --------------------------------------------------------------------------------------------------


def test_history_is_the_students_timeline(store, two_waves):
    s1, s2 = two_waves["s1"].set_index("student_key"), two_waves["s2"].set_index("student_key")
    key = sorted(set(s1.index) & set(s2.index))[3]
    h = history(store, key)
    t = h.timeline
    assert t["wave"].tolist() == ["2026-03", "2026-09"]
    for i, s in enumerate((s1, s2)):
        assert t.loc[i, "phq9.total"] == s.loc[key, "phq9.total"]
        assert t.loc[i, "gad7.total"] == s.loc[key, "gad7.total"]
        assert t.loc[i, "level"] == s.loc[key, "level"]
        assert t.loc[i, "school"] == s.loc[key, "school"]
    assert h.scales == ["gad7.total", "phq9.total"]
    assert "<table" in h._repr_html_()
    fig = h.plot()
    ax = fig.axes[0]
    assert len(ax.lines) == 2 and [x.get_text() for x in ax.get_xticklabels()] == ["2026年3月", "2026年9月"]
    assert [x.get_text() for x in h.plot(lang="en").axes[0].get_xticklabels()] == ["March 2026", "September 2026"]
    font = psyscreen.plots.cjk_font()
    assert font is not None and font.family in ax.title.get_fontfamily()


def test_history_unknown_student_does_not_echo_the_key(store):
    with pytest.raises(StudentNotFoundError) as err:
        history(store, "0099887766")
    assert "0099887766" not in str(err.value) and "not found" in str(err.value)
    with pytest.raises(ArchiveError, match="no archive"):
        history(store.parent / "nope.db", "x")


# --------------------------------------------------------------------------------------------------
# compare
# --------------------------------------------------------------------------------------------------


def _flagged(s):
    return s.set_index("student_key")["level_rank"].fillna(9).le(3)


def test_compare_statuses(store, two_waves):
    s1, s2 = two_waves["s1"], two_waves["s2"]
    f1, f2 = _flagged(s1), _flagged(s2)
    cmp = compare(store, "2026-03", "2026-09")
    st = cmp.students.set_index("student_key")["status"]
    assert len(st) == len(set(s1["student_key"]) | set(s2["student_key"]))
    both = f1.index.intersection(f2.index)
    assert set(st[st == "persistent"].index) == set(both[f1[both] & f2[both]])
    assert set(st[st == "resolved"].index) == set(both[f1[both] & ~f2[both]])
    assert set(st[st == "new"].index) == set(f2[f2].index) - set(f1[f1].index)
    absent = set(f1[f1].index) - set(f2.index)
    assert set(cmp.absent_flagged["student_key"]) == absent and len(absent) >= 10
    summary = cmp.to_frame().set_index("status")["students"]
    assert summary.sum() == len(st) and summary["absent"] == len(absent)


def test_compare_reliable_change_matches_jacobson_truax(store, two_waves):
    s1, s2 = two_waves["s1"].set_index("student_key"), two_waves["s2"].set_index("student_key")
    cmp = compare(store, "2026-03", "2026-09")
    definition = yaml.safe_load((REPO / "instruments" / "phq9.yaml").read_text(encoding="utf-8"))
    r = next(s["reliability"] for s in definition["scales"] if s["id"] == "total")
    rel = cmp.reliability.set_index("scale")
    assert rel.loc["phq9.total", "reliability"] == r and rel.loc["phq9.total", "source"].startswith("definition")
    sd = s1["phq9.total"].std(ddof=1)
    ch = cmp.changes[cmp.changes["scale"] == "phq9.total"].set_index("student_key")
    both = s1.index.intersection(s2.index)
    x1, x2 = s1.loc[both, "phq9.total"], s2.loc[both, "phq9.total"]
    ok = x1.notna() & x2.notna()
    rci = ((x2 - x1) / (sd * np.sqrt(2 * (1 - r))))[ok]
    np.testing.assert_allclose(ch.loc[rci.index, "rci"].to_numpy(), rci.to_numpy(), atol=1e-12)
    worse = set(rci[rci > 1.959963984540054].index)
    assert set(ch[ch["category"] == "reliable deterioration"].index) == worse and worse
    # reliable deterioration is reported for students under every cutoff too
    below = ch[ch["below_cutoff_deterioration"]]
    assert len(below) > 0 and not below["flagged_to"].any()
    assert (below["category"] == "reliable deterioration").all()


def test_compare_estimates_reliability_when_the_definition_has_none(tmp_path):
    """K6 has no reliability in its YAML: Cronbach's alpha of the from-wave answers (closed form) is used."""
    r1 = simulate_students(400, seed=3)
    s1, a1 = wave_frames(r1, "2025-09", seed=4, instruments=["k6", "phq9"])
    s2, a2 = wave_frames(next_wave(r1, seed=5, promote=False), "2026-03", seed=6, instruments=["k6", "phq9"])
    db = tmp_path / "c.db"
    import_wave(write_wave_dir(tmp_path / "a", "2025-09", s1, a1, instruments=["k6", "phq9"]), db)
    import_wave(write_wave_dir(tmp_path / "b", "2026-03", s2, a2, instruments=["k6", "phq9"]), db)
    rel = compare(db, "2025-09", "2026-03").reliability.set_index("scale")
    x = a1[[f"k6.{i}" for i in range(1, 7)]].to_numpy()
    k = x.shape[1]
    alpha = k / (k - 1) * (1 - x.var(axis=0, ddof=1).sum() / x.sum(axis=1).var(ddof=1))
    assert rel.loc["k6.total", "source"].startswith("estimated: Cronbach's alpha")
    assert abs(rel.loc["k6.total", "reliability"] - alpha) < 1e-10


def test_compare_unknown_wave(store):
    with pytest.raises(ArchiveError, match="not in the store"):
        compare(store, "2026-03", "2027-03")


# --------------------------------------------------------------------------------------------------
# test-retest against psych::ICC (psychTools::sai, two occasions)
# --------------------------------------------------------------------------------------------------


def test_test_retest_matches_psych_icc(tmp_path, reference_dir, expected):
    ret = pd.read_csv(reference_dir / "retest.csv")
    db = tmp_path / "c.db"
    for wave, col in (("2024-03", "anx.1"), ("2024-09", "anx.2")):
        students = pd.DataFrame({"student_key": ret["study"] + "-" + ret["id"].astype(str), "school": "s",
                                 "grade": 8, "class": "1", "sex": "F", "wave": wave,
                                 "sai.anx": ret[col].astype(float), "level": "none",
                                 "level_rank": pd.array([4] * len(ret), dtype="Int64"), "reasons": "",
                                 "critical": False})
        answers = students[["student_key", "wave"]]
        d = write_wave_dir(tmp_path / wave, wave, students, answers, instruments=["sai"])
        import_wave(d, db)
    tr = archive.test_retest(db).table
    row = tr[tr["scale"] == "sai.anx"].iloc[0]
    ref = expected["icc"]["table"]
    assert row["n"] == expected["icc"]["n"]
    for t in ("ICC1", "ICC2", "ICC3"):
        assert abs(row[t.lower()] - ref[t]["icc"]) < 1e-6
        assert abs(row[t.lower() + "_low"] - ref[t]["lower"]) < 1e-6
        assert abs(row[t.lower() + "_high"] - ref[t]["upper"]) < 1e-6
    assert abs(row["r"] - stats.pearsonr(ret["anx.1"], ret["anx.2"]).statistic) < 1e-12
    # the scale has no reliability in any definition: compare says it estimated one, from the two waves
    rel = compare(db, "2024-03", "2024-09").reliability.set_index("scale")
    assert rel.loc["sai.anx", "source"].startswith("estimated: test-retest")
    assert abs(rel.loc["sai.anx", "reliability"] - row["r"]) < 1e-12


# --------------------------------------------------------------------------------------------------
# schema migrations
# --------------------------------------------------------------------------------------------------


def test_v1_store_is_upgraded(tmp_path):
    db = tmp_path / "old.db"
    with archive.connect(db, _upto=1) as con:
        assert archive.schema_version(con) == 1
        con.execute("INSERT INTO students VALUES (1, 'S1'), (2, 'S2')")
        con.execute("INSERT INTO waves VALUES (1, '2025-09', '2025-09-01')")
        con.execute("INSERT INTO screenings VALUES (1,1,'一中',8,'1','F','level3',3,1,0,'PHQ-9 总分 11',0,0),"
                    "(1,2,'一中',8,'2','M','none',4,0,0,'',0,0)")
        con.execute("INSERT INTO scores VALUES (1,'phq9.total',1,11.0,'moderate'),(1,'phq9.total',2,3.0,'minimal'),"
                    "(1,'gad7.total',1,8.0,'mild')")
    with archive.connect(db) as con:
        assert archive.schema_version(con) == archive.SCHEMA_VERSION == 3
        versions = [r[0] for r in con.execute("SELECT version FROM schema_migrations ORDER BY version")]
        assert versions == [1, 2, 3]
        assert sorted(r[0] for r in con.execute("SELECT name FROM scales")) == ["gad7.total", "phq9.total"]
        assert con.execute("SELECT count(*) FROM deletions").fetchone()[0] == 0
        assert con.execute("PRAGMA foreign_key_check").fetchall() == []
    t = history(db, "S1").timeline
    assert t.loc[0, "phq9.total"] == 11.0 and t.loc[0, "gad7.total"] == 8.0 and t.loc[0, "level"] == "level3"
    assert delete_student(db, "S2", "graduated").rows_removed["scores"] == 1


def test_newer_schema_is_refused(tmp_path):
    db = tmp_path / "new.db"
    with archive.connect(db) as con:
        con.execute("INSERT INTO schema_migrations VALUES (99, 'future', '2030-01-01')")
    with pytest.raises(ArchiveError, match="newer"):
        archive.connect(db)


# --------------------------------------------------------------------------------------------------
# stewardship
# --------------------------------------------------------------------------------------------------


def test_delete_student_removes_every_record_and_logs_a_keyed_hash(store, two_waves):
    key = two_waves["s1"]["student_key"].iloc[5]
    assert key in set(two_waves["s2"]["student_key"])
    res = delete_student(store, key, "consent withdrawn")
    assert res.rows_removed["screenings"] == 2 and res.rows_removed["answers"] == 2
    with pytest.raises(StudentNotFoundError):
        history(store, key)
    for t in ("screenings", "scores", "answers"):
        assert count(store, f"SELECT count(*) FROM {t} t JOIN students s ON s.id = t.student_id "
                            f"WHERE s.student_key = '{key}'") == 0
    with sqlite3.connect(store) as con:
        log = con.execute("SELECT key_hash, reason, rows_removed FROM deletions").fetchall()
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert len(log) == 1 and log[0][1] == "consent withdrawn" and key not in repr(log)
    assert len(log[0][0]) == 64 and log[0][0] != hashlib.sha256(key.encode()).hexdigest()
    assert key.encode() not in Path(store).read_bytes()  # secure_delete: not even in free pages
    # a replayed import of an older wave folder leaves the deleted student out
    d = write_wave_dir(store.parent / "again", "2025-09", two_waves["s1"].assign(wave="2025-09"),
                       two_waves["a1"].assign(wave="2025-09"))
    res2 = import_wave(d, store)
    assert res2.skipped_deleted == 1 and res2.students == len(two_waves["s1"]) - 1
    with pytest.raises(StudentNotFoundError):
        history(store, key)
    with pytest.raises(ArchiveError, match="reason"):
        delete_student(store, two_waves["s1"]["student_key"].iloc[6], " ")


def test_export_research_is_deidentified(store, two_waves, tmp_path):
    key = "research-key-0123456789abcdef"
    out = export_research(store, tmp_path / "r.parquet", key, coarsen="year")
    back = pd.read_parquet(tmp_path / "r.parquet")
    assert len(back) == len(out) == len(two_waves["s1"]) + len(two_waves["s2"])
    assert not {"student_key", "name", "class", "school", "reasons"} & set(back.columns)
    keys = set(two_waves["s1"]["student_key"]) | set(two_waves["s2"]["student_key"])
    assert not keys & set(back["research_id"]) and not keys & set(back.astype(str).to_numpy().ravel())
    assert set(back["wave"]) == {"2026"} and set(back["wave_seq"]) == {1, 2}
    assert not back[["research_id", "wave_seq"]].duplicated().any()
    # pseudonyms link a student across waves, and change with the key
    linked = back.groupby("research_id")["wave_seq"].nunique()
    assert (linked == 2).sum() == len(set(two_waves["s1"]["student_key"]) & set(two_waves["s2"]["student_key"]))
    other = export_research(store, tmp_path / "r2.csv", "another-research-key-xyz", coarsen="month")
    assert not set(other["research_id"]) & set(back["research_id"])
    assert set(other["wave"]) == {"2026-03", "2026-09"}
    # scores travel unchanged
    k0 = two_waves["s1"]["student_key"].iloc[0]
    rid = hashlib.new("sha256")  # the pseudonym is HMAC-SHA-256(key, "student:" + key), first 32 hex digits
    import hmac
    rid = hmac.new(key.encode(), ("student:" + k0).encode(), hashlib.sha256).hexdigest()[:32]
    row = back[(back["research_id"] == rid) & (back["wave_seq"] == 1)].iloc[0]
    assert row["phq9.total"] == two_waves["s1"]["phq9.total"].iloc[0]
    with pytest.raises(ArchiveError, match="too short"):
        export_research(store, tmp_path / "r3.csv", "short")


# --------------------------------------------------------------------------------------------------
# suppression and the compare workbooks
# --------------------------------------------------------------------------------------------------


def test_cli_archive_history_compare(tmp_path, two_waves):
    from psyscreen.cli import main

    db = tmp_path / "county.db"
    runner = CliRunner()
    r = runner.invoke(main, ["archive", "import", str(two_waves["d1"]), "--db", str(db)])
    assert r.exit_code == 0, r.output
    assert "imported" in r.output
    r = runner.invoke(main, ["archive", "import", str(two_waves["d1"]), "--db", str(db)])
    assert r.exit_code == 0 and "already imported" in r.output
    r = runner.invoke(main, ["archive", "import", str(two_waves["d2"]), "--db", str(db)])
    assert r.exit_code == 0, r.output
    key = two_waves["s2"]["student_key"].iloc[0]
    r = runner.invoke(main, ["history", key, "--db", str(db), "--plot", str(tmp_path / "h.png")])
    assert r.exit_code == 0, r.output
    assert "2026年9月" in r.output and (tmp_path / "h.png").stat().st_size > 1000
    r = runner.invoke(main, ["history", "0000000000", "--db", str(db)])
    assert r.exit_code != 0 and "not found" in r.output and "0000000000" not in r.output.replace("history", "")
    out = tmp_path / "cmp"
    r = runner.invoke(main, ["compare", "--db", str(db), "--from", "2026-03", "--to", "2026-09", "--out", str(out),
                             "--lang", "en"])
    assert r.exit_code == 0, r.output
    schools = sorted(p.name for p in (out / "schools").iterdir())
    assert schools == ["一中", "二中"]
    county = pd.read_excel(out / "county" / "compare-2026-03-2026-09.xlsx", sheet_name=None, engine="calamine")
    flags = county["flags by school"].set_index("school")
    assert "student_key" not in flags.columns
    statuses = ["new flag", "persistent flag", "resolved", "flagged before, absent now", "not flagged"]
    shown = flags[statuses + ["Total"]].astype(str)
    nums = shown.apply(pd.to_numeric, errors="coerce")
    assert not ((nums >= 1) & (nums <= 4)).any().any()  # no count of 1-4 is shown
    # the county table follows psyscreen.privacy.suppress_small on counts made here from the wave folders
    from psyscreen.privacy import suppress_small
    f1, f2 = _flagged(two_waves["s1"]), _flagged(two_waves["s2"])
    school = pd.concat([two_waves["s1"].set_index("student_key")["school"],
                        two_waves["s2"].set_index("student_key")["school"]])
    school = school[~school.index.duplicated(keep="last")]
    both = f1.index.intersection(f2.index)
    status = pd.Series("not flagged", index=school.index)
    status[both[f1[both] & ~f2[both]]] = "resolved"
    status[list(set(f1[f1].index) - set(f2.index))] = "flagged before, absent now"
    status[f2[f2].index] = "new flag"
    status[both[f1[both] & f2[both]]] = "persistent flag"
    counts = pd.crosstab(school, status).reindex(columns=statuses, fill_value=0)
    counts.index.name = "school"
    hidden = suppress_small(counts, 5)
    assert shown.isin(["<5", "*"]).to_numpy().tolist() == hidden.isna().to_numpy().tolist()
    assert (nums.fillna(-1).to_numpy() == hidden.fillna(-1).to_numpy()).all()
    assert (flags["new flag rate"].isna() | ~shown["new flag"].isin(["<5", "*"])).all()
    wb = pd.read_excel(out / "schools" / "一中" / "一中-compare-2026-03-2026-09.xlsx", sheet_name=None, engine="calamine")
    assert set(wb) == {"flags", "reliable change", "reliability"}
    assert set(wb["flags"]["outcome"]) <= {"new flag", "persistent flag", "resolved", "flagged before, absent now"}
    r = runner.invoke(main, ["archive", "retest", "--db", str(db)])
    assert r.exit_code == 0 and "phq9.total" in r.output
    (tmp_path / "research.key").write_text("abcdefghijklmnopqrstuvwxyz\n")
    r = runner.invoke(main, ["archive", "export", str(tmp_path / "x.csv"), "--db", str(db), "--key-file",
                             str(tmp_path / "research.key")])
    assert r.exit_code == 0 and (tmp_path / "x.csv").exists()
    r = runner.invoke(main, ["archive", "delete", key, "--db", str(db), "--reason", "graduated"])
    assert r.exit_code == 0 and key not in r.output
    r = runner.invoke(main, ["archive", "waves", "--db", str(db)])
    assert r.exit_code == 0 and "2026-03" in r.output


# --------------------------------------------------------------------------------------------------
# end to end: psyscreen.screening.screen(..., archive=db) on the bundled sample county
# --------------------------------------------------------------------------------------------------


def test_screen_then_archive_end_to_end(tmp_path):
    from psyscreen.screening import screen

    sample = REPO / "data" / "sample"
    db = tmp_path / "county.db"
    frames = {}
    for w in ("2026-03", "2026-09"):
        res = screen([sample / w], protocol="default", wave=w, out=tmp_path / w,
                     column_map=sample / "column_map.csv", archive=db, reports=False)
        assert res.ok
        frames[w] = pd.read_parquet(tmp_path / w / "students.parquet")
    w = archive.waves(db)
    assert w["wave"].tolist() == ["2026-03", "2026-09"]
    assert w["students"].tolist() == [len(frames["2026-03"]), len(frames["2026-09"])]
    # the same folder again adds nothing
    before = store_digest(db)
    assert import_wave(tmp_path / "2026-09", db).status == "already imported"
    assert store_digest(db) == before
    # a student screened twice: the timeline is what the two folders say
    a, b = (frames[k].set_index("student_key") for k in ("2026-03", "2026-09"))
    key = sorted(set(a.index) & set(b.index))[7]
    t = history(db, key).timeline
    assert t["phq9.total"].tolist() == [a.loc[key, "phq9.total"], b.loc[key, "phq9.total"]]
    assert t["level"].tolist() == [a.loc[key, "level"], b.loc[key, "level"]]
    assert t["reasons"].fillna("").tolist() == [a.loc[key, "reasons"] or "", b.loc[key, "reasons"] or ""]
    # statuses from the two folders, computed here
    def flagged(f):
        lv = f["level"].astype(str)
        return f["level_rank"].notna() & (lv != "none") & ~lv.str.startswith("invalid")
    f1, f2 = flagged(a), flagged(b)
    cmp = compare(db, "2026-03", "2026-09")
    st = cmp.students.set_index("student_key")["status"]
    both = a.index.intersection(b.index)
    assert set(st[st == "persistent"].index) == set(both[f1[both] & f2[both]])
    assert set(st[st == "new"].index) == set(f2[f2].index) - set(f1[f1].index)
    assert set(st[st == "absent"].index) == set(f1[f1].index) - set(b.index)
    invalid = b["level"].astype(str).str.startswith("invalid")
    undecided = b["level"].astype(str) == "undecided"
    resolved = both[f1[both] & ~f2[both] & ~invalid[both] & ~undecided[both]]
    assert set(st[st == "resolved"].index) == set(resolved) and len(resolved) > 0
    # a flagged student whose later sheet could not be decided (an item missing) is undecided, never resolved
    went_undecided = both[f1[both] & undecided[both]]
    assert len(went_undecided) > 0 and (st[went_undecided] == "undecided").all()
    assert set(st[st == "undecided"].index) == set(undecided[undecided].index)
    assert cmp.to_frame().set_index("status").loc["undecided", "students"] == int(undecided.sum()) > 0
    files = archive.write_comparison(cmp, tmp_path / "cmp")
    assert len(files) == len(set(a["school"]) | set(b["school"])) + 1
