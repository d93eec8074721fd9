"""Column-map suggestions from question text and the loading of checked maps."""

from __future__ import annotations

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
