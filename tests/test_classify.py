"""Warning levels: hand-worked sheets on the default protocol, missing data, invalid sheets, properties."""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from psyscreen import score
from psyscreen.classify import ClassifyError, classify
from psyscreen.protocol import load_protocol

from .sheets import spread


def sheets(phq9_rows, gad7_rows):
    """Answer frame from lists of 9 PHQ-9 and 7 GAD-7 answers per student (None = not answered)."""
    data = {f"phq9.{i + 1}": [r[i] for r in phq9_rows] for i in range(9)}
    data.update({f"gad7.{i + 1}": [r[i] for r in gad7_rows] for i in range(7)})
    return pd.DataFrame(data, dtype=float)


def run(phq9_rows, gad7_rows, protocol="default"):
    return classify(score(sheets(phq9_rows, gad7_rows), ["phq9", "gad7"]), protocol)


def phq(total_without_9, item9=0):
    """A PHQ-9 sheet whose items 1-8 sum to the given total (answers of 3 then the rest), item 9 as given."""
    return spread(total_without_9, 8, 3) + [item9]


def gad(total):
    return spread(total, 7, 3)


def test_hand_worked_boundaries_of_the_default_protocol():
    # default.yaml: PHQ-9 / GAD-7 >= 10 -> level 3; >= 15 -> level 2; PHQ-9 item 9 >= 1 -> level 1.
    out = run([phq(9), phq(10), phq(14), phq(15), phq(0), phq(0), phq(0)],
              [gad(0), gad(0), gad(0), gad(0), gad(9), gad(10), gad(15)])
    assert out["level"].astype(str).tolist() == ["none", "level3", "level3", "level2", "none", "level3", "level2"]
    assert out["level_rank"].tolist() == [4, 3, 3, 2, 4, 3, 2]
    assert out["reasons_en"].tolist()[:4] == [
        "", "PHQ-9 total 10 (>= 10: screen positive for depression)",
        "PHQ-9 total 14 (>= 10: screen positive for depression)",
        "PHQ-9 total 15 (>= 15: moderately severe or severe depressive symptoms)"]
    assert out.loc[6, "reasons"] == "GAD-7 总分 15（≥15，重度焦虑症状）"
    assert not out["critical"].any() and not out["retest"].any()
    assert list(out["level"].cat.categories) == ["level1", "level2", "level3", "invalid: re-test", "none"]
    assert out["level"].cat.ordered


def test_a_scale_whose_bands_all_fire_is_said_once_at_the_highest():
    # PHQ-9 total 18 passes both the >= 15 (level 2) and the >= 10 (level 3) rule of default.yaml: the reason is
    # the highest band, once; another scale that fires is still said, each once
    out = run([phq(18), phq(18), phq(12)], [gad(0), gad(16), gad(11)])
    assert out["level"].astype(str).tolist() == ["level2", "level2", "level3"]
    assert out.loc[0, "reasons"] == "PHQ-9 总分 18（≥15，中重度及以上抑郁症状）"
    assert out.loc[0, "reasons_en"] == "PHQ-9 total 18 (>= 15: moderately severe or severe depressive symptoms)"
    assert out.loc[1, "reasons_en"].split("; ") == [
        "PHQ-9 total 18 (>= 15: moderately severe or severe depressive symptoms)",
        "GAD-7 total 16 (>= 15: severe anxiety symptoms)"]
    assert out.loc[1, "reasons"].count("PHQ-9") == 1 and out.loc[1, "reasons"].count("GAD-7") == 1
    assert out.loc[2, "reasons"].split("; ") == ["PHQ-9 总分 12（≥10，筛查阳性）", "GAD-7 总分 11（≥10，筛查阳性）"]


def test_critical_item_wins_whatever_the_total_with_the_answer_in_words():
    # PHQ-9 item 9 = 2 with every other answer 0: total 2, far below any cutoff -> still level 1
    out = run([phq(0, item9=2), phq(0, item9=1)], [gad(0), gad(20)])
    assert out["level"].astype(str).tolist() == ["level1", "level1"]
    assert out["critical"].tolist() == [True, True]
    assert out.loc[0, "reasons_en"].startswith("PHQ-9 item 9 = 2 (More than half the days): PHQ-9 item 9")
    assert out.loc[0, "reasons"].startswith("PHQ-9 第9题 = 2（一半以上的天数）：")
    # the critical reason comes first, the other fired rules follow
    assert out.loc[1, "reasons_en"].split("; ")[0].startswith("PHQ-9 item 9 = 1 (Several days)")
    assert "GAD-7 total 20 (>= 15: severe anxiety symptoms)" in out.loc[1, "reasons_en"]


def test_missing_data_gives_na_only_when_nothing_could_be_decided():
    nan = None
    all_missing = [nan] * 9
    six_answered = [0, 0, 0, 0, 0, nan, nan, nan, 0]  # 6 answered incl. item 9; 7 needed for the PHQ-9 total
    out = run([all_missing, six_answered, all_missing], [gad(0), gad(0), gad(12)])
    assert out["level"].isna().tolist() == [True, True, False]
    assert out["level_rank"].isna().tolist() == [True, True, False]
    # student 0: the critical item and the PHQ-9 rules cannot be evaluated
    assert "not decided: PHQ-9 critical item(s) not answered" in out.loc[0, "reasons_en"]
    # in words a teacher reads (the scale, not a rule id), said once though several rules read the PHQ-9 total
    said = "not decided: PHQ-9 Total score missing (items not answered) or invalid"
    assert out.loc[0, "reasons_en"].count(said) == 1 and "rule" not in out.loc[0, "reasons_en"]
    assert out.loc[0, "reasons"].count("无法判定：PHQ-9 总分 缺失（作答不全）或答卷无效") == 1
    # student 1: item 9 answered 0 (critical known False), but the total is missing
    assert "critical" not in out.loc[1, "reasons_en"]
    assert out.loc[1, "reasons_en"].count(said) == 1
    # student 2: GAD-7 12 decides level 3; the reasons say a more urgent level could not be ruled out
    assert out.loc[2, "level"] == "level3"
    assert out.loc[2, "reasons_en"].startswith("GAD-7 total 12 (>= 10: screen positive for anxiety); not decided:")
    assert out.loc[2, "reasons_en"].count(said) == 1  # from the more urgent PHQ-9 rules, said once


def test_prorated_value_in_the_reason():
    # 8 answered items (seven 2s, item 9 = 0): sum 14, prorated 14 * 9 / 8 = 15.75 (phq9.yaml: min_answered 7,
    # prorate) -> >= 15 -> level 2
    out = run([[2, 2, 2, 2, 2, 2, 2, None, 0]], [gad(0)])
    assert out.loc[0, "level"] == "level2"
    assert "PHQ-9 total 15.75" in out.loc[0, "reasons_en"]  # (14 / 8) * 9 = 15.75


TOY = textwrap.dedent("""
    id: toy
    version: "1"
    name: {zh: 玩具量表, en: Toy scale}
    abbreviation: TOY
    source: test fixture
    licence: {text_redistributable: true, note: test}
    population: test
    responses:
      - {code: 0, zh: 否, en: "no"}
      - {code: 1, zh: 有时, en: sometimes}
      - {code: 2, zh: 常常, en: often}
      - {code: 3, zh: 总是, en: always}
    items: ["1-4"]
    scales:
      - {id: total, name: {zh: 总分, en: Total}, items: ["1-3"]}
    critical:
      - {item: 3, when: {ge: 3}, message: {zh: 危机, en: crisis}, source: test}
    validity:
      invalid_when: {item: 4, ge: 2}
      message: {zh: 测谎题得分过高, en: lie item too high}
      source: test
""")

TOY_PROTOCOL = textwrap.dedent("""
    id: toyp
    version: "1"
    name: {zh: 玩具方案, en: Toy protocol}
    population: {stages: [junior], label: {zh: 测试, en: test}}
    instruments: [toy.yaml]
    levels:
      - {rank: 1, code: red, name: {zh: 红, en: red}, colour: red, action: {zh: 立即, en: now}}
      - {rank: 2, code: amber, name: {zh: 黄, en: amber}, colour: orange, action: {zh: 关注, en: watch}}
    critical: {level: red, on_invalid_sheet: %s}
    rules:
      - id: high
        when: {scale: toy.total, ge: 5}
        level: amber
        reason: {zh: "总分 {value}", en: "total {value}"}
        source: test
      - id: item1
        when: {item: toy.1, ge: 3}
        level: amber
        reason: {zh: "第1题 {value}", en: "item 1 = {value}"}
        source: test
""")


@pytest.fixture
def toy(tmp_path):
    (tmp_path / "toy.yaml").write_text(TOY, encoding="utf-8")
    paths = {}
    for policy in ("level", "retest"):
        paths[policy] = tmp_path / f"toyp_{policy}.yaml"
        paths[policy].write_text(TOY_PROTOCOL % policy, encoding="utf-8")
    return paths, tmp_path / "toy.yaml"


def test_invalid_sheet_is_never_scored_into_a_level(toy):
    paths, inst = toy
    answers = pd.DataFrame({"toy.1": [3, 3, 0, 0, 3], "toy.2": [3, 3, 0, 0, 0], "toy.3": [0, 0, 3, 3, 0],
                            "toy.4": [0, 2, 0, 2, np.nan]}, dtype=float)
    scores = score(answers, [str(inst)])
    out = classify(scores, paths["level"], answers=answers)
    assert out["level"].astype(str).tolist() == ["amber", "invalid: re-test", "red", "red", "amber"]
    assert out["retest"].tolist() == [False, True, False, True, False]
    assert out.loc[1, "level_rank"] is pd.NA
    assert out.loc[1, "reasons_en"] == "TOY: invalid: re-test (lie item too high)"
    assert out.loc[0, "reasons_en"] == "total 6; item 1 = 3"
    assert out.loc[2, "reasons_en"] == "TOY item 3 = 3 (always): crisis"
    # the critical answer on the invalid sheet still sets the level (default policy), and the re-test is said
    assert out.loc[3, "reasons_en"] == "TOY item 3 = 3 (always): crisis; TOY: invalid: re-test (lie item too high)"
    # validity unknown (lie item missing) is not invalid: the sheet is scored
    assert out.loc[4, "level"] == "amber"
    strict = classify(scores, paths["retest"], answers=answers)
    assert strict["level"].astype(str).tolist() == ["amber", "invalid: re-test", "red", "invalid: re-test", "amber"]
    assert strict["critical"].tolist() == [False, False, True, False, False]
    # protocol passed as a loaded object gives the same
    pd.testing.assert_frame_equal(classify(scores, load_protocol(paths["level"]), answers=answers), out)
    # item rules need the answers
    with pytest.raises(ClassifyError, match="toy.1.*answers="):
        classify(scores, paths["level"])


def test_missing_score_columns_are_a_located_error():
    scores = score(sheets([phq(3)], [gad(3)]), ["phq9"])
    with pytest.raises(ClassifyError, match="'gad7.total' is absent"):
        classify(scores, "default")


# ---- properties -------------------------------------------------------------------------------------

answer = st.one_of(st.integers(0, 3).map(float), st.just(np.nan))
students = st.lists(st.tuples(st.lists(answer, min_size=9, max_size=9), st.lists(answer, min_size=7, max_size=7)),
                    min_size=1, max_size=25)


@settings(max_examples=60, deadline=None)
@given(students, st.data())
def test_a_worse_answer_never_makes_the_level_less_urgent(rows, data):
    frame = sheets([r[0] for r in rows], [r[1] for r in rows])
    col = data.draw(st.sampled_from(list(frame.columns)))
    worse = frame.copy()
    worse[col] = np.minimum(worse[col] + data.draw(st.integers(1, 3)), 3)  # NaN stays missing
    before = classify(score(frame, ["phq9", "gad7"]), "default")
    after = classify(score(worse, ["phq9", "gad7"]), "default")
    both = before["level_rank"].notna() & after["level_rank"].notna()
    assert (after.loc[both, "level_rank"] <= before.loc[both, "level_rank"]).all()
    # a decided row never becomes undecided because an answer got worse
    assert not (before["level"].notna() & after["level"].isna()).any()
    assert (after["critical"] | ~before["critical"]).all()


@settings(max_examples=60, deadline=None)
@given(students)
def test_critical_always_wins_and_only_critical_gives_level1(rows):
    frame = sheets([r[0] for r in rows], [r[1] for r in rows])
    out = classify(score(frame, ["phq9", "gad7"]), "default")
    fired = (frame["phq9.9"] >= 1).to_numpy()
    assert (out["level"].astype(object)[fired] == "level1").all()
    assert (out["level_rank"][fired] == 1).all()
    assert (out["critical"].to_numpy() == fired).all()
    assert (out["level"].astype(object)[~fired] != "level1").all()  # no default rule gives level 1


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.lists(st.integers(0, 3), min_size=4, max_size=4)), min_size=1, max_size=30))
def test_invalid_sheets_never_get_a_level_unless_critical(tmp_path_factory, rows):
    tmp = tmp_path_factory.mktemp("toy")
    (tmp / "toy.yaml").write_text(TOY, encoding="utf-8")
    (tmp / "p.yaml").write_text(TOY_PROTOCOL % "retest", encoding="utf-8")
    (tmp / "q.yaml").write_text(TOY_PROTOCOL % "level", encoding="utf-8")
    answers = pd.DataFrame([r[0] for r in rows], columns=[f"toy.{i}" for i in range(1, 5)], dtype=float)
    scores = score(answers, [str(tmp / "toy.yaml")])
    invalid = (answers["toy.4"] >= 2).to_numpy()
    crit = (answers["toy.3"] >= 3).to_numpy()
    strict = classify(scores, tmp / "p.yaml", answers=answers)
    assert (strict["level"].astype(object)[invalid] == "invalid: re-test").all()
    assert strict["level_rank"][invalid].isna().all()
    default = classify(scores, tmp / "q.yaml", answers=answers)
    assert (default["level"].astype(object)[invalid & ~crit] == "invalid: re-test").all()
    assert (default["level"].astype(object)[crit] == "red").all()
    assert (default["retest"].to_numpy() == invalid).all()
