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
        ({"scales__0__method": "median"}, "scales.0.method"),
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
        ({"surprise": 1}, "surprise: Extra inputs are not permitted"),
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
