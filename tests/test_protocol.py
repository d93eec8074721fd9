"""Protocol files: schema, structural rejection of ambiguous protocols, checks against the instruments, CLI."""

from __future__ import annotations

import textwrap

import pytest
import yaml
from click.testing import CliRunner

import psyscreen
from psyscreen.cli.protocols import protocols as protocols_cli
from psyscreen.protocol import ProtocolError, check_protocol, list_protocols, load_protocol

BASE = textwrap.dedent("""
    id: county
    version: "0.1"
    name: {zh: 某县方案, en: County protocol}
    population: {stages: [junior], grades: [7, 8, 9], label: {zh: 初中, en: junior high}}
    instruments: [phq9, gad7]
    levels:
      - {rank: 1, code: level1, name: {zh: 一级, en: L1}, colour: "#d32f2f", action: {zh: 立即, en: now}}
      - {rank: 2, code: level2, name: {zh: 二级, en: L2}, colour: orange, action: {zh: 一周内, en: within a week}}
    rules:
      - id: dep
        when: {scale: phq9.total, ge: 10}
        level: 2
        reason: {zh: "PHQ-9 总分 {value}", en: "PHQ-9 total {value}"}
        source: research/instruments.md 1
""")


def write(tmp_path, text=BASE, edit=None, name="county.yaml"):
    data = yaml.safe_load(text)
    if edit:
        edit(data)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize("pid", list_protocols())
def test_every_shipped_protocol_loads_and_checks_clean(pid):
    p = load_protocol(pid)
    assert check_protocol(p) == []
    assert set(p.instrument_ids) <= set(psyscreen.list_instruments())
    assert p.id == pid


def test_shipped_set_and_default_levels():
    assert {"default", "primary", "junior", "senior", "college"} <= set(list_protocols())
    p = load_protocol("default")
    assert p.instrument_ids == ["phq9", "gad7"]
    assert [(lv.rank, lv.code, lv.name.zh[:4]) for lv in p.levels_by_rank] == [
        (1, "level1", "一级预警"), (2, "level2", "二级预警"), (3, "level3", "三级预警")]
    assert p.categories == ["level1", "level2", "level3", "invalid: re-test", "none"]
    assert p.critical.enabled and p.level(p.critical.level).rank == 1
    # every rule cites its source
    for pid in list_protocols():
        assert all(r.source for r in load_protocol(pid).rules)


def test_a_valid_county_file_loads_from_a_path(tmp_path):
    p = load_protocol(write(tmp_path))
    assert p.id == "county" and [r.id for r in p.rules] == ["dep"]
    assert load_protocol(p) is p


@pytest.mark.parametrize("edit, expected", [
    (lambda d: d["rules"][0]["when"].update(scale="total"), "not qualified"),
    (lambda d: d["rules"][0]["when"].update(gt=3), "exactly one comparison operator"),
    (lambda d: d["rules"][0].update(level=3), "no level with rank 3"),
    (lambda d: d["rules"][0].update(level="red"), "no level with code 'red'"),
    (lambda d: d["levels"][1].update(code="level1"), "used by more than one level"),
    (lambda d: d["levels"][1].update(rank=3), "ranks must run 1..2"),
    (lambda d: d["levels"][1].update(code="none"), "reserved"),
    (lambda d: d["rules"][0]["reason"].update(en="total {score}"), "unknown placeholder"),
    (lambda d: d["rules"].append(dict(d["rules"][0])), "used more than once"),
    (lambda d: d["instruments"].append("phq9"), "listed more than once"),
    (lambda d: d.update(colour="red"), "'colour' is not a known field"),
    (lambda d: d["levels"][0].pop("action"), "levels[0] (line "),
])
def test_ambiguous_or_broken_protocols_are_rejected_with_the_place(tmp_path, edit, expected):
    path = write(tmp_path, edit=edit)
    with pytest.raises(ProtocolError) as err:
        load_protocol(path, check=False)
    assert expected in str(err.value)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("edit, expected", [
    (lambda d: d["rules"][0]["when"].update(scale="scl90.total"), "not in the protocol's instruments"),
    (lambda d: d["rules"][0]["when"].update(scale="phq9.totl"), "phq9 has no scale 'totl'"),
    (lambda d: d["rules"][0].update(when={"rule": "gad7.positive", "eq": 1}), "gad7 has no rule output 'positive'"),
    (lambda d: d["rules"][0].update(when={"item": "phq9.12", "ge": 1}), "phq9 has no item '12'"),
    (lambda d: d["instruments"].append("nosuch"), "'nosuch' is not a shipped instrument"),
    (lambda d: d["rules"][0].update(level=1), "levels.level2: unreachable"),
])
def test_check_protocol_against_the_instruments(tmp_path, edit, expected):
    path = write(tmp_path, edit=edit)
    p = load_protocol(path, check=False)
    problems = check_protocol(p)
    assert any(expected in x for x in problems), problems
    with pytest.raises(ProtocolError):
        load_protocol(path)


def test_level1_unreachable_without_critical_items(tmp_path):
    # gad7 has no critical items: with critical level 1 and no rule at level 1, level 1 cannot be reached
    path = write(tmp_path, edit=lambda d: d.update(instruments=["gad7"], rules=[
        {**d["rules"][0], "when": {"scale": "gad7.total", "ge": 10}}]))
    assert check_protocol(path) == ["levels.level1: unreachable -- no rule gives level 1 and no instrument has critical items"]


def test_band_and_reserved_outputs_are_known_references(tmp_path):
    path = write(tmp_path, edit=lambda d: d["rules"].append(
        {**d["rules"][0], "id": "sev", "level": 1, "when": {"scale": "phq9.total.band", "ge": 4}}))
    assert check_protocol(path) == []
    path = write(tmp_path, edit=lambda d: d["rules"].append(
        {**d["rules"][0], "id": "crit", "level": 1, "when": {"rule": "phq9.critical", "eq": 1}}))
    assert check_protocol(path) == []


def test_cli_validate_list_show(tmp_path):
    runner = CliRunner()
    res = runner.invoke(protocols_cli, ["validate"])
    assert res.exit_code == 0 and "default: ok" in res.output
    bad = write(tmp_path, edit=lambda d: d["rules"][0]["when"].update(scale="phq9.totl"), name="bad.yaml")
    res = runner.invoke(protocols_cli, ["validate", str(write(tmp_path)), str(bad)])
    assert res.exit_code == 1
    assert "county.yaml: ok" in res.output and "phq9 has no scale 'totl'" in res.output
    res = runner.invoke(protocols_cli, ["list"])
    assert res.exit_code == 0 and all(pid in res.output for pid in list_protocols())
    res = runner.invoke(protocols_cli, ["show", "default", "--lang", "zh"])
    assert res.exit_code == 0 and "一级预警" in res.output and "scale phq9.total ≥ 15 -> level 2" in res.output
    res = runner.invoke(protocols_cli, ["show", "nosuch"])
    assert res.exit_code != 0 and "no shipped protocol 'nosuch'" in res.output


def test_follow_up_section_is_checked_and_gives_the_deadlines(tmp_path):
    def good(d):
        d["follow_up"] = {"days": {1: 0, "level2": 5}, "default_days": 20, "source": "county plan 2026"}

    policy = load_protocol(write(tmp_path, edit=good)).deadline_policy()
    assert (policy.days(1, False), policy.days(2, False), policy.days(9, False), policy.days(2, True)) == (0, 5, 20, 0)

    def bad(d):
        d["follow_up"] = {"days": {3: 1, "level9": 2}, "done_by": ["phoned"], "source": "x"}

    with pytest.raises(ProtocolError) as err:
        load_protocol(write(tmp_path, edit=bad, name="bad.yaml"))
    for where in ("follow_up.days.3: no level with rank 3", "follow_up.days.level9", "follow_up.done_by: 'phoned'"):
        assert where in str(err.value)
    # without a section: the defaults, and the source says they are the county's choice
    assert "county's choice" in load_protocol(write(tmp_path, name="plain.yaml")).deadline_policy().source
