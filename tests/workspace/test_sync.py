"""Opening cases from the archive: level words, local dates, and a county's own protocol file."""

from __future__ import annotations

import datetime as dt
import sqlite3

import yaml

from psyscreen.archive import import_wave
from psyscreen.protocol import protocol_dir
from psyscreen.synthetic import simulate_students
from psyscreen.workspace.models import Case
from psyscreen.workspace.sync import sync_cases

from ..test_archive import wave_frames, write_wave_dir


def _archive(tmp_path, protocol_id="default"):
    r = simulate_students(200, seed=5, schools=["一中"], grades=range(7, 9))
    s, a = wave_frames(r, "2026-09", seed=6)
    folder = write_wave_dir(tmp_path / "w", "2026-09", s, a)
    db = tmp_path / "county.db"
    import_wave(folder, db)
    with sqlite3.connect(db) as con:
        # the moment of import, 20:30 UTC on 1 September: 2 September in China, where the deadline counts
        con.execute("UPDATE imports SET imported_at = '2026-09-01T20:30:00+00:00', protocol_id = ?", (protocol_id,))
    return db


def test_cases_carry_the_protocols_level_words_and_open_on_the_local_day(db, tmp_path):
    result = sync_cases(_archive(tmp_path))
    assert result.cases_opened > 0 and result.protocols_not_found == ()
    case = Case.objects.filter(level="level2", critical=False).first()
    assert (case.level_name, case.level_name_en) == ("二级预警（橙色）", "Level 2 warning (orange)")
    assert case.opened_on == dt.date(2026, 9, 2)
    assert case.deadline == dt.date(2026, 9, 9)  # level 2: within 7 days (the default protocol's follow_up)


def test_a_countys_own_protocol_gives_its_deadlines_and_words(db, tmp_path):
    db_file = _archive(tmp_path, protocol_id="county_plan")
    first = sync_cases(db_file)  # the protocol is not shipped and not given: defaults, and said so
    assert first.protocols_not_found == ("county_plan",) and "--protocol" in str(first)
    Case.objects.all().delete()
    data = yaml.safe_load((protocol_dir() / "default.yaml").read_text(encoding="utf-8"))
    data["id"] = "county_plan"
    data["instruments"] = ["phq9", "gad7"]
    data["follow_up"]["days"] = {1: 0, 2: 3, 3: 14}
    data["levels"][1]["name"] = {"zh": "二级（县定）", "en": "Level 2 (county)"}
    own = tmp_path / "county_plan.yaml"
    own.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    second = sync_cases(db_file, protocols=[own])
    assert second.protocols_not_found == ()
    case = Case.objects.filter(level="level2", critical=False).first()
    assert case.level_name == "二级（县定）" and (case.deadline - case.opened_on).days == 3


def test_a_student_flagged_again_gets_a_case_pointing_at_the_last_one(db, tmp_path):
    r = simulate_students(300, seed=41, schools=["一中"], grades=range(7, 10))
    db_file = tmp_path / "county.db"
    flagged = {}
    for i, wave in enumerate(("2026-03", "2026-09", "2027-03")):
        s, a = wave_frames(r, wave, seed=50 + i)
        import_wave(write_wave_dir(tmp_path / wave, wave, s, a), db_file)
        with sqlite3.connect(db_file) as con:
            flagged[wave] = {k for (k,) in con.execute(
                "SELECT st.student_key FROM screenings s JOIN students st ON st.id = s.student_id "
                "JOIN waves w ON w.id = s.wave_id WHERE s.flagged = 1 AND w.wave = ?", (wave,))}
    sync_cases(db_file)
    cases = {(c.student_key, c.wave): c for c in Case.objects.select_related("previous")}
    assert len(cases) == sum(map(len, flagged.values()))
    linked = 0
    for (key, wave), case in cases.items():
        earlier = [w for w in sorted(flagged) if w < wave and key in flagged[w]]
        if earlier:  # the student's latest earlier case, whatever waves lie between
            assert case.previous is not None and (case.previous.student_key, case.previous.wave) == (key, earlier[-1])
            linked += 1
        else:
            assert case.previous is None
    assert linked >= 5
