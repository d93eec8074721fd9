"""Instrument definitions: schema, authoring checks with located messages, CLI, packaging."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import psyscreen
from psyscreen.cli import main
from psyscreen.instrument import InstrumentError, instrument_dir

REPO = Path(__file__).resolve().parents[1]

MINIMAL = {
    "id": "toy",
    "version": "0.1",
    "name": {"zh": "玩具量表", "en": "Toy scale"},
    "source": "test fixture",
    "licence": {"text_redistributable": False, "note": "fixture"},
    "population": "none",
    "responses": [{"code": 0, "zh": "否", "en": "No"}, {"code": 1, "zh": "是", "en": "Yes"}],
    "items": ["1-4"],
    "scales": [{"id": "total", "name": {"zh": "总分", "en": "Total"}, "items": ["1-4"],
                "bands": [{"code": "low", "zh": "低", "en": "low", "ge": 0, "lt": 2},
                          {"code": "high", "zh": "高", "en": "high", "ge": 2, "le": 4}]}],
}


def write(tmp_path, data, name="toy.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def variant(**changes):
    data = yaml.safe_load(yaml.safe_dump(MINIMAL))
    for dotted, value in changes.items():
        target = data
        *parents, last = dotted.split("__")
        for p in parents:
            target = target[int(p)] if p.isdigit() else target[p]
        target[int(last) if last.isdigit() else last] = value
    return data


def problems_of(tmp_path, data) -> str:
    with pytest.raises(InstrumentError) as err:
        psyscreen.load_instrument(write(tmp_path, data))
    return str(err.value)


def test_minimal_file_loads_and_scores(tmp_path):
    inst = psyscreen.load_instrument(write(tmp_path, MINIMAL))
    assert inst.item_columns == ["toy.1", "toy.2", "toy.3", "toy.4"]
    assert inst.scale("total").score_range(inst) == (0.0, 4.0)


@pytest.mark.parametrize(
    "changes, expected",
    [
        ({"scales__0__items": ["1-3"]}, "items[4]: the item is in no scale"),
        ({"scales__0__items": ["1-4", 2]}, "scales.total.items: item(s) [2] listed twice"),
        ({"scales__0__items": ["1-5"]}, "item number(s) [5] out of range 1..4"),
        ({"scales__0__bands__1__ge": 1}, "overlap"),
        ({"scales__0__bands__1__ge": 3}, "a gap between low"),
        ({"scales__0__bands__0__lt": None, "scales__0__bands__0__le": 2}, "both include the boundary"),
        ({"scales__0__bands__1__le": 3}, "leaving scores up to 4 uncovered"),
        ({"scales__0__method": "median"}, "scales[0].method (line "),
        ({"items": ["1-3", 5]}, "without gaps; missing [4]"),
        ({"licence__text_redistributable": False, "items": ["1-3", {"number": 4, "zh": "题干"}]},
         "may not be redistributed"),
        ({"scales__0__missing": {"min_answered": 3}}, "must prorate"),
        ({"rules": [{"id": "flag", "name": {"zh": "x", "en": "x"}, "source": "s",
                     "when": {"scale": "totl", "ge": 3}}]}, "scale 'totl' does not exist"),
        ({"rules": [{"id": "flag", "name": {"zh": "x", "en": "x"}, "source": "s",
                     "when": {"scale": "total", "ge": 3, "lt": 4}}]}, "exactly one comparison operator"),
        ({"rules": [{"id": "flag", "name": {"zh": "x", "en": "x"}, "source": "s",
                     "when": {"scale": "total", "item": 1, "ge": 3}}]}, "could be read two ways"),
        ({"critical": [{"item": 9, "when": {"ge": 1}, "message": {"zh": "x", "en": "x"}, "source": "s"}]},
         "critical[0].item: item 9 out of range"),
        ({"surprise": 1}, "surprise (line "),
    ],
)
def test_authoring_mistakes_are_located(tmp_path, changes, expected):
    message = problems_of(tmp_path, variant(**changes))
    assert "toy.yaml" in message
    assert expected in message


def test_unreadable_yaml_is_located(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("id: [unclosed\n", encoding="utf-8")
    with pytest.raises(InstrumentError, match=r"(?s)broken.yaml: 1 problem.*not readable YAML.*line 1"):
        psyscreen.load_instrument(path)


def test_unknown_shipped_id_lists_what_is_shipped():
    with pytest.raises(InstrumentError, match="no shipped instrument 'phq99'.*phq9"):
        psyscreen.load_instrument("phq99")


def test_every_shipped_instrument_loads_and_has_sources():
    ids = psyscreen.list_instruments()
    assert {"phq9", "gad7"} <= set(ids)
    for iid in ids:
        inst = psyscreen.load_instrument(iid)
        assert inst.id == iid
        assert inst.source and inst.licence.note
        for s in inst.scales:
            if s.bands:
                assert s.bands_source, f"{iid}.{s.id}: bands without a source"


def test_key_only_instruments_hold_no_item_text():
    for iid in psyscreen.list_instruments():
        inst = psyscreen.load_instrument(iid)
        if not inst.licence.text_redistributable:
            assert not any(it.zh or it.en for it in inst.item_list), iid


def test_instrument_files_ship_inside_the_package():
    assert (instrument_dir() / "phq9.yaml").is_file()
    assert (REPO / "src" / "psyscreen" / "instruments").resolve() == (REPO / "instruments").resolve()


def test_cli_list_show_validate(tmp_path):
    runner = CliRunner()
    listed = runner.invoke(main, ["instruments", "list"])
    assert listed.exit_code == 0 and "phq9" in listed.output
    shown = runner.invoke(main, ["instruments", "show", "phq9", "--lang", "zh"])
    assert shown.exit_code == 0 and "critical: item 9 ≥ 1" in shown.output
    good = runner.invoke(main, ["instruments", "validate", str(write(tmp_path, MINIMAL))])
    assert good.exit_code == 0 and "ok" in good.output
    bad = runner.invoke(main, ["instruments", "validate", str(write(tmp_path, variant(scales__0__items=["1-3"]), "bad.yaml"))])
    assert bad.exit_code == 1 and "bad.yaml" in bad.output and "in no scale" in bad.output


def test_python_dash_m_works():
    done = subprocess.run([sys.executable, "-m", "psyscreen", "instruments", "list"], capture_output=True, text=True,
                          check=True)
    assert "gad7" in done.stdout


def test_a_shipped_definition_must_carry_its_file_name_as_id(tmp_path):
    from psyscreen.instrument import Instrument, locate_definition, read_definition

    (tmp_path / "other.yaml").write_bytes((instrument_dir() / "phq9.yaml").read_bytes())
    path, digest = locate_definition("other", tmp_path, "instrument", InstrumentError)
    with pytest.raises(InstrumentError, match="id: 'phq9' must match the file name 'other'"):
        read_definition(path, digest, Instrument, InstrumentError, tmp_path)
    assert read_definition(path, digest, Instrument, InstrumentError, tmp_path / "elsewhere").id == "phq9"
    with pytest.raises(InstrumentError, match="no shipped instrument 'nosuch'; shipped: other"):
        locate_definition("nosuch", tmp_path, "instrument", InstrumentError)


# ---- ids as people type them, schema errors in the YAML's words --------------------------------

@pytest.mark.parametrize("typed", ["phq-9", "PHQ9", "PHQ-9", "phq_9", "Phq 9", "ＰＨＱ－９"])
def test_case_and_punctuation_variants_of_an_id_are_the_instrument(typed):
    assert psyscreen.load_instrument(typed).id == "phq9"
    runner = CliRunner()
    shown = runner.invoke(main, ["instruments", "show", typed])
    assert shown.exit_code == 0, shown.output
    assert shown.output == runner.invoke(main, ["instruments", "show", "phq9"]).output


def test_score_accepts_an_instrument_id_as_people_write_it(tmp_path):
    data = tmp_path / "a.csv"
    data.write_text("student_id," + ",".join(f"phq9.{i}" for i in range(1, 10)) + "\n001," + ",".join(["1"] * 9) + "\n",
                    encoding="utf-8")
    res = CliRunner().invoke(main, ["score", str(data), "-i", "PHQ-9", "-o", str(tmp_path / "out.csv")])
    assert res.exit_code == 0, res.output
    assert "phq9.total" in (tmp_path / "out.csv").read_text(encoding="utf-8")


def test_protocol_ids_accept_variants_and_unknown_ids_get_the_closest():
    from psyscreen.protocol import ProtocolError, load_protocol

    assert load_protocol("Default").id == "default" and load_protocol("JUNIOR").id == "junior"
    with pytest.raises(ProtocolError, match="did you mean 'junior'"):
        load_protocol("junoir")
    res = CliRunner().invoke(main, ["protocols", "show", "Senior"])
    assert res.exit_code == 0 and "senior" in res.output.lower()


def test_an_unknown_id_suggests_the_closest_ones():
    res = CliRunner().invoke(main, ["instruments", "show", "phg9"])
    assert res.exit_code == 1 and "did you mean 'phq9'" in res.output and "shipped:" in res.output
    with pytest.raises(InstrumentError) as info:
        psyscreen.load_instrument("zzzz")
    assert "did you mean" not in str(info.value)


def test_validate_says_where_in_the_yaml_and_what_to_write(tmp_path):
    data = variant(items=[{"number": 1, "texte": "做事时提不起劲"}, 2, "3-4"])
    data["scales"][0]["methd"] = "sum"
    data["responses"][0]["en"] = "No"
    path = tmp_path / "typo.yaml"
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False).replace("en: 'No'", "en: No")
    path.write_text(text, encoding="utf-8")
    lines = text.splitlines()
    res = CliRunner().invoke(main, ["instruments", "validate", str(path)])
    assert res.exit_code == 1
    out = res.output
    assert "Input should be a valid" not in out and "Extra inputs" not in out  # no pydantic union dump
    item_line = next(i for i, ln in enumerate(lines, 1) if "texte" in ln)
    item_start = max(i for i, ln in enumerate(lines[:item_line], 1) if ln.lstrip().startswith("- "))
    assert f"items[0] (line {item_start}): an item is written as a number" in out
    assert "'texte' is not a known field" in out and "number, zh, en" in out
    methd_line = next(i for i, ln in enumerate(lines, 1) if "methd" in ln)
    assert f"scales[0].methd (line {methd_line}): 'methd' is not a known field (did you mean 'method'?)" in out
    no_line = next(i for i, ln in enumerate(lines, 1) if "en: No" in ln)
    assert f"responses[0].en (line {no_line}): YAML reads No as false" in out and "'No'" in out
    assert out.count("items[0]") == 1  # one problem per place, not one per union branch
