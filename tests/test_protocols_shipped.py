"""Every shipped protocol runs end to end on a simulated cohort answering its instruments."""

from __future__ import annotations

import pandas as pd
import pytest

import psyscreen
from psyscreen.synthetic import simulate_answers, simulate_students


@pytest.mark.parametrize("name", psyscreen.list_protocols())
def test_protocol_classifies_a_simulated_cohort(name):
    protocol = psyscreen.load_protocol(name)
    instruments = list(protocol.instruments)
    students = simulate_students(400, seed=3)
    answers = simulate_answers(students, instruments, seed=4)
    scores = psyscreen.score(answers, instruments)
    out = psyscreen.classify(scores, protocol, answers=answers)
    assert out.index.equals(answers.index)
    assert out["level"].notna().all()
    flagged = out["level_rank"].notna() & (out["level"].astype(str) != "none")
    assert flagged.any() and not flagged.all()
    assert (out.loc[flagged, "reasons"].str.len() > 0).all()


def test_mht_lie_scale_marks_the_sheet_invalid_in_the_primary_protocol():
    # MHT lie items 82, 84, ..., 100; lie >= 7 -> invalid: re-test (research/instruments.md 4, mht.yaml)
    cols = {f"mht.{i}": [0.0, 0.0] for i in range(1, 101)}
    frame = pd.DataFrame(cols)
    for i in range(82, 101, 2):
        frame.loc[0, f"mht.{i}"] = 1.0  # lie = 10
    frame.loc[1, [f"mht.{i}" for i in range(1, 66)]] = 1.0  # total >= 65, lie 0
    other = simulate_answers(simulate_students(2, seed=1), ["cesdc", "scared"], seed=2) * 0
    scores = psyscreen.score(pd.concat([frame, other], axis=1), ["mht", "cesdc", "scared"])
    out = psyscreen.classify(scores, "primary")
    assert out.loc[0, "level"] == "invalid: re-test"
    assert out.loc[1, "level"] == "level3" and "MHT" in out.loc[1, "reasons_en"]
    assert scores.loc[0, "mht.lie"] == 10 and scores.loc[0, "mht.valid"] == False  # kept, marked invalid
    assert len(out) == 2


@pytest.mark.parametrize("name", psyscreen.list_protocols())
def test_follow_up_deadlines_say_what_the_level_actions_say(name):
    """Each shipped protocol states its follow-up deadlines with a source, and they agree with the words of its
    level actions: "当天" (the same day) is 0 days, "一周内" (within a week) at most 7."""
    protocol = psyscreen.load_protocol(name)
    assert protocol.follow_up is not None and protocol.follow_up.source
    policy = protocol.deadline_policy()
    for level in protocol.levels:
        days = policy.days(level.rank, critical=False)
        if "当天" in level.action.zh:
            assert days == 0, (name, level.code)
        elif "一周内" in level.action.zh:
            assert 1 <= days <= 7, (name, level.code)
        else:
            assert "county's choice" in protocol.follow_up.source, (name, level.code)
    assert policy.days(None, critical=True) == 0
