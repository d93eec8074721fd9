"""The screen command's wiring to the other parts: contacts for the letters, the archive and incomplete waves,
both languages of the reasons for the growth file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
from click.testing import CliRunner

from psyscreen import archive
from psyscreen.cli import main

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


def _invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_contacts_file_fills_the_letters_of_its_school(tmp_path):
    contacts = tmp_path / "contacts.csv"
    contacts.write_text("学校,联系人,电话\n实验中学,王老师,0571-88886666\n", encoding="utf-8")
    r = _invoke("screen", SAMPLE / "2026-09", "--map", SAMPLE / "column_map.csv", "--out", tmp_path / "o",
                "--contacts", contacts, "--workers", "1")
    assert r.exit_code == 0, r.output
    letters = list((tmp_path / "o" / "schools" / "实验中学" / "letters").glob("*.html"))
    assert letters and all("0571-88886666" in p.read_text(encoding="utf-8") for p in letters)
    other = list((tmp_path / "o" / "schools" / "第一高级中学" / "letters").glob("*.html"))
    assert other and not any("0571-88886666" in p.read_text(encoding="utf-8") for p in other)


def test_bad_contacts_file_is_a_usage_error_with_its_place(tmp_path):
    contacts = tmp_path / "contacts.csv"
    contacts.write_text("单位,电话\n实验中学,123\n", encoding="utf-8")
    r = _invoke("screen", SAMPLE / "2026-09", "--map", SAMPLE / "column_map.csv", "--out", tmp_path / "o",
                "--contacts", contacts)
    assert r.exit_code == 2 and "contacts.csv" in r.output


def test_incomplete_wave_is_not_imported_unless_allowed(tmp_path):
    db = tmp_path / "county.db"
    # without the column map two of the four schools stop: the wave is incomplete
    r = _invoke("screen", SAMPLE / "2026-09", "--out", tmp_path / "a", "--archive", db, "--workers", "1")
    assert r.exit_code == 1
    assert "NOT imported" in r.output or "未导入" in r.output
    assert not db.exists() or archive.waves(db).empty
    r = _invoke("screen", SAMPLE / "2026-09", "--out", tmp_path / "b", "--archive", db, "--allow-incomplete",
                "--workers", "1")
    assert r.exit_code == 1, r.output
    w = archive.waves(db)
    assert list(w["wave"]) == ["2026-09"] and w["status"].iloc[0] == "incomplete"


def test_students_table_carries_reasons_in_both_languages_for_the_archive(tmp_path):
    r = _invoke("screen", SAMPLE / "2026-09", "--map", SAMPLE / "column_map.csv", "--out", tmp_path / "o",
                "--archive", tmp_path / "county.db", "--workers", "1")
    assert r.exit_code == 0, r.output
    st = pd.read_parquet(tmp_path / "o" / "students.parquet")
    flagged = st[st["reasons"].str.len() > 0]
    assert len(flagged) and (flagged["reasons_en"].str.len() > 0).all()
    assert not flagged["reasons_en"].str.contains(r"[\u4e00-\u9fff]").any()  # English, not the Chinese again
    key = flagged["student_key"].iloc[0]
    text, only_other = archive.history(tmp_path / "county.db", key).reasons("en")
    assert text.tolist() == [flagged["reasons_en"].iloc[0]] and only_other == []
    h = _invoke("history", key, "--db", tmp_path / "county.db", "--lang", "en")
    assert h.exit_code == 0 and flagged["reasons"].iloc[0][:8] not in h.output  # not the Chinese reasons
    assert flagged["reasons_en"].iloc[0].split(" (")[0] in h.output


def test_why_a_file_stopped_is_said_in_the_chosen_language(tmp_path):
    exports = tmp_path / "2026-09"
    exports.mkdir()
    shutil.copy(SAMPLE / "2026-09" / "实验中学.csv", exports)
    (exports / "说明.txt").write_text("各校请于九月底前上传导出文件。\n", encoding="utf-8")
    zh = _invoke("screen", exports, "--out", tmp_path / "zh", "--workers", "1")
    assert zh.exit_code == 1
    assert "PHQ-9：9 个题目列未对应" in zh.output and "建议的列对应表" in zh.output
    assert "not mapped" not in zh.output and "不是导出文件" in zh.output
    page = (tmp_path / "zh" / "index.html").read_text(encoding="utf-8")
    assert "个题目列未对应" in page and "not mapped" not in page
    en = _invoke("screen", exports, "--out", tmp_path / "en", "--lang", "en", "--workers", "1")
    assert "phq9: 9 item column(s) not mapped" in en.output and "未对应" not in en.output
    # the manifest keeps the reason as the program wrote it, in either run
    import json

    m = json.loads((tmp_path / "zh" / "manifest.json").read_text(encoding="utf-8"))
    assert "item column(s) not mapped" in m["not_processed"][0]["reason"]
