"""The synthetic sample county: deterministic, realistic, and as messy as the issue asks."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import psyscreen
from psyscreen import reliability

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "sample"


@pytest.fixture(scope="module")
def make_sample():
    spec = importlib.util.spec_from_file_location("make_sample", REPO / "scripts" / "make_sample.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def march(make_sample):
    students = make_sample.roster(make_sample.SEED)
    answers = psyscreen.synthetic.simulate_answers(students, make_sample.INSTRUMENTS, seed=1)
    return students, answers


def test_committed_sample_is_what_the_generator_writes(make_sample, tmp_path, monkeypatch):
    monkeypatch.setattr("sys.argv", ["make_sample.py", "--out", str(tmp_path)])
    make_sample.main()
    for wave in ("2026-03", "2026-09"):
        for name in ("实验中学.csv", "第一高级中学.csv"):
            assert (tmp_path / wave / name).read_bytes() == (SAMPLE / wave / name).read_bytes(), name
        for name in ("阳光小学.xlsx", "城南九年一贯制学校.xlsx"):
            new = pd.read_excel(tmp_path / wave / name, engine="calamine", dtype=str)
            old = pd.read_excel(SAMPLE / wave / name, engine="calamine", dtype=str)
            pd.testing.assert_frame_equal(new, old)
    assert (tmp_path / "column_map.csv").read_bytes() == (SAMPLE / "column_map.csv").read_bytes()


def test_county_shape(march):
    students, _ = march
    assert len(students) >= 1500
    assert students["school"].nunique() >= 3
    assert set(students["grade"]) == set(range(4, 13))
    assert students["student_id"].is_unique


def test_answers_have_realistic_reliability_and_a_few_flags(march):
    _, answers = march
    for iid, n in (("phq9", 9), ("gad7", 7)):
        res = reliability.alpha(answers[[f"{iid}.{i}" for i in range(1, n + 1)]])
        assert 0.8 <= res.alpha <= 0.9, (iid, res.alpha)
    scores = psyscreen.score(answers, ["phq9", "gad7"])
    r = np.corrcoef(scores["phq9.total"], scores["gad7.total"])[0, 1]
    assert 0.4 < r < 0.8  # the two scales correlate through correlated latent traits
    elevated = (scores["phq9.total"] >= 10).mean()
    assert 0.02 < elevated < 0.15
    critical = int(scores["phq9.critical"].sum())
    assert 5 <= critical <= 0.05 * len(scores)


def test_the_exports_carry_the_mess_the_issue_lists():
    gbk = (SAMPLE / "2026-09" / "实验中学.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        gbk.decode("utf-8")
    text = gbk.decode("gbk")
    assert "第1题" in text
    body = pd.read_csv(SAMPLE / "2026-09" / "实验中学.csv", encoding="gbk")
    assert (body.filter(like="题") == 5).to_numpy().sum() == 1  # the out-of-range code (PHQ-9 is 0-3)
    labels = pd.read_csv(SAMPLE / "2026-09" / "第一高级中学.csv", dtype=str)
    assert labels["phq9.2"].isin(["完全不会", "好几天", "一半以上的天数", "几乎每天"]).mean() > 0.95
    assert labels["student_id"].duplicated().sum() == 1
    assert labels["student_id"].str.startswith("0").any()  # leading zeros kept as text
    platform = pd.read_excel(SAMPLE / "2026-09" / "城南九年一贯制学校.xlsx", engine="calamine")
    assert {"序号", "提交答卷时间", "所用时间"} <= set(platform.columns)
    assert any(c.startswith("1、做事时提不起劲") for c in platform.columns)
    primary = pd.read_excel(SAMPLE / "2026-09" / "阳光小学.xlsx", engine="calamine")
    assert primary.filter(like="phq9").isna().to_numpy().sum() > 0  # blanks


def test_next_wave_keeps_the_trait_distribution_and_its_stability():
    students = psyscreen.synthetic.simulate_students(20000, seed=7)
    later = psyscreen.synthetic.next_wave(students, seed=8, promote=False)
    for trait in ("dep", "anx"):
        before, after = students[trait], later[trait]
        assert abs(after.mean() - before.mean()) < 0.03 and abs(after.std() - before.std()) < 0.03
        assert np.corrcoef(before, after)[0, 1] == pytest.approx(0.7, abs=0.02)
