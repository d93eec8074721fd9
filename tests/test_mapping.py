"""Column-map suggestions from question text and the loading of checked maps."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from psyscreen import load_instrument
from psyscreen.mapping import MapFileError, load_map, normalise_header, suggest_map


def _headers(style: str) -> list[str]:
    phq, gad = load_instrument("phq9"), load_instrument("gad7")
    texts = [phq.item(i).zh for i in range(1, 10)] + [gad.item(i).zh for i in range(1, 8)]
    if style == "platform":
        return [f"{k + 1}、{t}" for k, t in enumerate(texts)]
    if style == "dotted":
        return [f"Q{k + 1}. {t}" for k, t in enumerate(texts)]
    return [f"（{k + 1}）{t}" for k, t in enumerate(texts)]


@pytest.mark.parametrize("style", ["platform", "dotted", "paren"])
def test_platform_question_headers_matched_to_items(style):
    heads = ["序号", "提交答卷时间", "所用时间", "来源IP", "学号", "姓名"] + _headers(style)
    s = suggest_map(heads, "default")
    expected = [f"phq9.{i}" for i in range(1, 10)] + [f"gad7.{i}" for i in range(1, 8)]
    assert s["target"].tolist()[6:] == expected
    assert (s["status"].iloc[6:] == "ok").all()
    assert s["target"].tolist()[:6] == ["", "submitted_at", "duration", "", "student_id", "name"]
    assert s["status"].tolist()[0] == "unmapped"


def test_altered_text_is_doubtful_not_ok():
    phq = load_instrument("phq9")
    heads = [f"{i}、{phq.item(i).zh}" for i in range(1, 10)]
    heads[1] = "2、最近心情不太好"  # a rewording: a person must check it
    s = suggest_map(heads, ["phq9"])
    row = s.iloc[1]
    assert row["status"] in ("check", "unmapped")
    assert row["status"] != "ok"
    assert s["status"].iloc[0] == "ok"
    # every item goes to at most one header
    t = s["target"][s["target"] != ""]
    assert t.is_unique


def test_numbered_headers_are_matched_by_position_for_checking():
    s = suggest_map(["学号"] + [f"第{i}题" for i in range(1, 17)], "default")
    assert s["target"].tolist()[1:4] == ["phq9.1", "phq9.2", "phq9.3"]
    assert s["target"].tolist()[10] == "gad7.1"
    assert (s["status"].iloc[1:] == "check").all()
    assert (s["confidence"].iloc[1:] < 0.9).all()


def test_normalise_header():
    assert normalise_header("第3题：入睡困难") == "入睡困难"
    assert normalise_header("(12) Worrying too much") == "worryingtoomuch"
    assert normalise_header("３．感觉疲倦") == "感觉疲倦"


def test_load_map_county_map_and_doubtful_lines(tmp_path):
    p = tmp_path / "m.csv"
    pd.DataFrame({"source": ["学号", "第1题", "1、做事时提不起劲或没有兴趣", "第2题", "IP"],
                  "target": ["student_id", "phq9.1", "phq9.1", "phq9.2", ""],
                  "confidence": [1, 0.5, 1.0, 0.5, 0],
                  "status": ["ok", "ok", "ok", "check", "unmapped"]}).to_csv(p, index=False)
    m = load_map(p)
    assert m.mapping == {"学号": "student_id", "第1题": "phq9.1", "1、做事时提不起劲或没有兴趣": "phq9.1"}
    assert m.doubtful == {"第2题": "phq9.2"}


def test_load_map_plain_two_columns_and_errors(tmp_path):
    p = tmp_path / "m.csv"
    p.write_text("学号,student_id\n第1题,phq9.1\n", encoding="utf-8")
    assert load_map(p).mapping == {"学号": "student_id", "第1题": "phq9.1"}
    bad = tmp_path / "bad.csv"
    bad.write_text("source,target\n第1题,phq9.1\n第1题,phq9.2\n第3题,phq9.99\n", encoding="utf-8")
    with pytest.raises(MapFileError) as err:
        load_map(bad, ["phq9"])
    assert "line 3" in str(err.value) and "line 4" in str(err.value)


def test_suggest_cli_writes_a_map(tmp_path):
    from click.testing import CliRunner

    from psyscreen.cli import main

    export = tmp_path / "export.csv"
    pd.DataFrame({h: ["0"] for h in ["学号"] + _headers("platform")}).to_csv(export, index=False)
    out = tmp_path / "map.csv"
    res = CliRunner().invoke(main, ["map", "suggest", str(export), "--protocol", "default", "-o", str(out)])
    assert res.exit_code == 0, res.output
    m = pd.read_csv(out, encoding="utf-8-sig", dtype=str)
    assert m["target"].tolist()[1] == "phq9.1"
    assert "17 ok" in res.output
    # the map loads as it is (a person may still edit it)
    assert load_map(out).mapping["学号"] == "student_id"


def test_county_map_two_sources_one_target(tmp_path):
    """A county map may send 第1题 and the question text to phq9.1; two such headers in ONE file stop that file."""
    from psyscreen.ingest import ColumnMapError, RawTable, load_column_map, normalise

    p = tmp_path / "county.csv"
    p.write_text("source,target\n第1题,gad7.1\n1、感觉紧张、焦虑或急切,gad7.1\n" +
                 "".join(f"第{i}题,gad7.{i}\n" for i in range(2, 8)), encoding="utf-8")
    cmap = load_column_map(p, ["gad7"])
    assert cmap["第1题"] == cmap["1、感觉紧张、焦虑或急切"] == "gad7.1"
    one = RawTable.from_frame(pd.DataFrame({f"第{i}题": ["1"] for i in range(1, 8)}))
    assert normalise(one, "gad7", cmap).frame["gad7.1"].tolist() == [1.0]
    other = RawTable.from_frame(pd.DataFrame({"1、感觉紧张、焦虑或急切": ["2"], **{f"第{i}题": ["1"] for i in range(2, 8)}}))
    assert normalise(other, "gad7", cmap).frame["gad7.1"].tolist() == [2.0]
    both = RawTable.from_frame(pd.DataFrame({"第1题": ["1"], "1、感觉紧张、焦虑或急切": ["2"],
                                             **{f"第{i}题": ["1"] for i in range(2, 8)}}))
    with pytest.raises(ColumnMapError, match="both map to 'gad7.1'"):
        normalise(both, "gad7", cmap)


def test_screen_stops_only_the_file_with_two_sources_for_one_target(tmp_path):
    from psyscreen.screening import screen

    sample = Path(__file__).resolve().parents[1] / "data" / "sample"
    folder = tmp_path / "in"
    folder.mkdir()
    raw = pd.read_csv(sample / "2026-09" / "实验中学.csv", encoding="gbk", dtype=str)
    raw.to_csv(folder / "ok.csv", index=False)
    bad = raw.copy()
    bad.insert(7, "1、做事时提不起劲或没有兴趣", bad["第1题"])  # the same item twice in one file
    bad.to_csv(folder / "both.csv", index=False)
    res = screen([folder], protocol="default", wave="2026-09", out=tmp_path / "out",
                 column_map=sample / "column_map.csv", reports=False)
    led = res.ledger.set_index("file")
    assert led.loc["ok.csv", "status"] == "ok" and led.loc["ok.csv", "scored"] > 400
    assert led.loc["both.csv", "status"] == "stopped"
    assert "both map to 'phq9.1'" in led.loc["both.csv", "reason"]
