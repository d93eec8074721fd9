"""ingest: reading messy exports, column maps, normalising answers, the quarantine and the ledger.

Every test file is built here from code in tmp_path. Expected scores are worked by hand from the answers
(PHQ-9 total = sum of the nine codes; GAD-7 total = sum of seven).
"""

from __future__ import annotations

import numpy as np
import openpyxl
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from psyscreen.ingest import (
    ColumnMapError,
    MissingItemColumnsError,
    RawTable,
    UnreadableFileError,
    load_column_map,
    normalise,
    read_table,
    score_table,
)

ZH_HEADERS = ["学号", "姓名", "班级"] + [f"第{i}题" for i in range(1, 10)]
MAP_LINES = ["原列名,目标", "学号,student_id", "姓名,name", "班级,class"] + [f"第{i}题,phq9.{i}" for i in range(1, 10)]


def csv_bytes(rows, encoding="utf-8", sep=","):
    return ("\r\n".join(sep.join(r) for r in rows) + "\r\n").encode(encoding)


def phq_rows():
    """Three students; the answers as codes and labels; their totals worked by hand."""
    return [
        ZH_HEADERS,
        ["00123", "张三", "1班"] + ["1"] * 9,                      # 9
        ["00456", "李四", "1班"] + ["完全不会", "好几天", "一半以上的天数", "几乎每天"] + ["0"] * 5,  # 0+1+2+3 = 6
        ["07890", "王五", "2班"] + ["Nearly every day"] * 2 + ["several days"] + ["有几天"] * 6,  # 3+3+1+6 = 13
    ]


EXPECTED_TOTALS = [9.0, 6.0, 13.0]


@pytest.fixture
def map_path(tmp_path):
    p = tmp_path / "map.csv"
    p.write_bytes(csv_bytes([line.split(",") for line in MAP_LINES], "gbk"))
    return p


# ---- encodings ---------------------------------------------------------------------------------

@pytest.mark.parametrize("encoding,recorded", [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"),
                                               ("gbk", "gb18030"), ("gb18030", "gb18030")])
def test_csv_encodings_detected(tmp_path, encoding, recorded):
    p = tmp_path / "export.csv"
    p.write_bytes(csv_bytes(phq_rows(), encoding))
    raw = read_table(p)
    assert raw.encoding == recorded
    assert list(raw.frame.columns) == ZH_HEADERS
    assert raw.frame["姓名"].tolist() == ["张三", "李四", "王五"]
    assert raw.frame.index.tolist() == [2, 3, 4]  # header = row 1


def test_gbk_csv_with_chinese_headers_and_column_map(tmp_path, map_path):
    p = tmp_path / "export.csv"
    p.write_bytes(csv_bytes(phq_rows(), "gbk"))
    cmap = load_column_map(map_path)
    assert cmap["第1题"] == "phq9.1" and cmap["学号"] == "student_id"
    out = score_table(read_table(p), ["phq9"], cmap)
    assert out.scores["phq9.total"].tolist() == EXPECTED_TOTALS
    assert out.scores["student_id"].tolist() == ["00123", "00456", "07890"]
    assert out.scores["name"].tolist() == ["张三", "李四", "王五"]
    assert list(out.scores.columns[:6]) == ["file", "row", "student_id", "name", "class", "phq9.total"]
    assert not any(c.startswith("phq9.") and c.split(".")[1].isdigit() for c in out.scores.columns)
    assert len(out.quarantine) == 0
    assert (out.ledger.rows_read, out.ledger.rows_scored, out.ledger.rows_quarantined) == (3, 3, 0)
    assert out.ledger.encoding == "gb18030"


def test_tab_separated_utf16_excel_unicode_text(tmp_path):
    p = tmp_path / "export.txt"
    p.write_bytes(csv_bytes(phq_rows(), "utf-16", sep="\t"))
    raw = read_table(p)
    assert raw.encoding == "utf-16"
    assert raw.frame["学号"].tolist() == ["00123", "00456", "07890"]


def test_quoted_multiline_cell_keeps_row_numbers_as_records(tmp_path):
    rows = [["学号", "备注"] + [f"phq9.{i}" for i in range(1, 10)],
            ["001", '"line one\nline two"'] + ["1"] * 9,
            ["002", "x"] + ["9"] + ["1"] * 8]
    p = tmp_path / "e.csv"
    p.write_bytes(csv_bytes(rows))
    out = score_table(read_table(p), "phq9")
    assert out.quarantine["row"].tolist() == [3]  # the record a spreadsheet shows as row 3
    assert out.quarantine["cell"].tolist() == ["C3"]


# ---- answers: labels, full-width digits, spaces, blanks, bad values ----------------------------

def test_labels_fullwidth_spaces_and_aliases():
    frame = pd.DataFrame({
        "phq9.1": ["  Several   Days ", "１", "几乎天天", " 2 "],
        **{f"phq9.{i}": ["0"] * 4 for i in range(2, 10)},
    })
    norm = normalise(RawTable.from_frame(frame), "phq9")
    assert norm.frame["phq9.1"].tolist() == [1.0, 1.0, 3.0, 2.0]
    assert len(norm.problems) == 0


def test_blank_is_nan_not_zero_and_prorated():
    answers = {f"phq9.{i}": ["2", "2"] for i in range(1, 10)}
    answers["phq9.3"] = ["", "2"]
    answers["phq9.4"] = ["  ", "2"]
    out = score_table(RawTable.from_frame(pd.DataFrame(answers)), "phq9", keep_items=True)
    assert np.isnan(out.scores["phq9.3"].iloc[0]) and np.isnan(out.scores["phq9.4"].iloc[0])
    # 7 answered items of 2 = 14, prorated to 9 items (the instrument's rule): 14 / 7 * 9 = 18; not 14.
    assert out.scores["phq9.total"].tolist() == [18.0, 18.0]
    assert out.scores["phq9.total.answered"].tolist() == [7, 9]


def test_out_of_range_and_unknown_answers_quarantined_with_column_and_value(tmp_path, map_path):
    rows = phq_rows()
    rows[2][3 + 8] = "5"          # item 9 of row 3: not a code
    rows[3][3 + 0] = "有时"        # item 1 of row 4: not a label
    p = tmp_path / "export.csv"
    p.write_bytes(csv_bytes(rows, "gbk"))
    out = score_table(read_table(p), "phq9", load_column_map(map_path))
    q = out.quarantine
    assert q[["row", "cell", "column", "item", "value"]].to_dict("records") == [
        {"row": 3, "cell": "L3", "column": "第9题", "item": "phq9.9", "value": "5"},
        {"row": 4, "cell": "D4", "column": "第1题", "item": "phq9.1", "value": "有时"},
    ]
    assert "not a response code" in q["reason"].iloc[0] and "0-3" in q["reason"].iloc[0]
    assert "nor an option label" in q["reason"].iloc[1]
    assert set(q["file"]) == {str(p)}
    assert out.scores["student_id"].tolist() == ["00123"]
    assert (out.ledger.rows_read, out.ledger.rows_scored, out.ledger.rows_quarantined) == (3, 1, 2)


def test_out_of_range_number_kept_so_direct_scoring_refuses_it():
    from psyscreen import ResponseError, score

    answers = {f"phq9.{i}": ["1"] for i in range(1, 10)}
    answers["phq9.2"] = ["4"]
    norm = normalise(RawTable.from_frame(pd.DataFrame(answers)), "phq9")
    assert norm.frame["phq9.2"].iloc[0] == 4.0
    assert norm.good.empty
    with pytest.raises(ResponseError):
        score(norm.frame, "phq9")


def test_labels_of_a_response_set_are_per_item():
    # phq9 item 10 uses the 'difficulty' set: its labels are accepted there and only there.
    answers = {f"phq9.{i}": ["0", "0"] for i in range(1, 10)}
    answers["phq9.10"] = ["有点困难", "好几天"]
    norm = normalise(RawTable.from_frame(pd.DataFrame(answers)), "phq9")
    assert norm.frame["phq9.10"].iloc[0] == 1.0
    assert norm.problems["row"].tolist() == [3] and norm.problems["item"].tolist() == ["phq9.10"]


def test_two_instruments_and_headers_passing_through():
    answers = {**{f"PHQ9.{i}": ["1"] for i in range(1, 10)}, **{f"gad7.{i}": ["2"] for i in range(1, 8)},
               "学号": ["0042"], "Submitted_At": ["2024-03-01 08:00"], "IP地址": ["10.0.0.1"]}
    norm = normalise(RawTable.from_frame(pd.DataFrame(answers)), ["phq9", "gad7"])
    assert norm.frame["student_id"].tolist() == ["0042"]
    assert norm.frame["submitted_at"].tolist() == ["2024-03-01 08:00"]
    assert "IP地址" in norm.unused_columns and "IP地址" not in norm.frame.columns
    out = score_table(RawTable.from_frame(pd.DataFrame(answers)), ["phq9", "gad7"])
    assert out.scores[["phq9.total", "gad7.total"]].iloc[0].tolist() == [9.0, 14.0]


def test_interior_empty_row_is_quarantined_trailing_ones_dropped(tmp_path):
    rows = [["学号"] + [f"phq9.{i}" for i in range(1, 10)] + [""],
            ["001"] + ["1"] * 9 + [""],
            [""] * 11,
            ["002"] + ["0"] * 9 + [""],
            [""] * 11,
            [""] * 11]
    p = tmp_path / "e.csv"
    p.write_bytes(csv_bytes(rows))
    raw = read_table(p)
    assert raw.empty_rows_dropped == 2 and raw.empty_columns_dropped == 1
    out = score_table(raw, "phq9")
    assert out.quarantine[["row", "reason"]].to_dict("records") == [{"row": 3, "reason": "the row is empty"}]
    assert (out.ledger.rows_read, out.ledger.rows_scored, out.ledger.rows_quarantined) == (3, 2, 1)
    assert out.scores["row"].tolist() == [2, 4]


def test_header_after_leading_empty_rows(tmp_path):
    rows = [[""] * 10, [""] * 10, ["学号"] + [f"phq9.{i}" for i in range(1, 10)], ["001"] + ["1"] * 9]
    p = tmp_path / "e.csv"
    p.write_bytes(csv_bytes(rows))
    raw = read_table(p)
    assert raw.header_row == 3 and raw.frame.index.tolist() == [4]


# ---- Excel and parquet -------------------------------------------------------------------------

def _xlsx(path, rows, sheet="答卷"):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "说明"
    ws.append(["这是说明页"])
    ws2 = wb.create_sheet(sheet)
    for r in rows:
        ws2.append(r)
    wb.save(path)


def test_xlsx_via_calamine_leading_zero_ids_and_numbers(tmp_path):
    rows = [["学号"] + [f"phq9.{i}" for i in range(1, 10)],
            ["00123"] + [1] * 9,            # id as text, codes as numbers
            ["00456"] + [2.0] * 8 + [None],  # codes as floats; a blank cell
            [None] * 10]
    p = tmp_path / "school.xlsx"
    _xlsx(p, rows)
    raw = read_table(p, sheet="答卷")
    assert raw.sheet == "答卷" and raw.encoding is None
    assert raw.frame["学号"].tolist() == ["00123", "00456"]
    assert raw.frame["phq9.1"].tolist() == ["1", "2"]
    out = score_table(raw, "phq9")
    assert out.scores["student_id"].tolist() == ["00123", "00456"]
    assert out.scores["sheet"].tolist() == ["答卷", "答卷"]
    # 8 answered items of 2 = 16, prorated: 16 / 8 * 9 = 18
    assert out.scores["phq9.total"].tolist() == [9.0, 18.0]


def test_xlsx_first_sheet_by_default_and_unknown_sheet(tmp_path):
    p = tmp_path / "school.xlsx"
    _xlsx(p, [["a"], ["b"]])
    assert read_table(p).sheet == "说明"
    with pytest.raises(UnreadableFileError, match="no sheet 'Sheet9'.*说明, 答卷"):
        read_table(p, sheet="Sheet9")


def test_parquet_input(tmp_path):
    df = pd.DataFrame({"student_id": ["00123", "00456"], **{f"gad7.{i}": [3, np.nan] for i in range(1, 8)}})
    df["gad7.1"] = [3.0, 1.0]
    p = tmp_path / "in.parquet"
    df.to_parquet(p)
    raw = read_table(p)
    assert raw.frame["gad7.2"].tolist()[0] == "3"
    out = score_table(raw, "gad7")
    assert out.scores["student_id"].tolist() == ["00123", "00456"]
    assert out.scores["gad7.total"].iloc[0] == 21.0
    assert np.isnan(out.scores["gad7.total"].iloc[1])  # 1 of 7 answered: missing, never 1


# ---- errors ------------------------------------------------------------------------------------

def test_map_file_with_bad_target_is_located(tmp_path):
    p = tmp_path / "map.csv"
    p.write_text("source,target\n学号,student_id\n第1题,phq9_1\n第2题,phq9.2\n第3题,grade_level\n", encoding="utf-8")
    with pytest.raises(ColumnMapError) as err:
        load_column_map(p)
    msg = str(err.value)
    assert str(p) in msg and "line 3" in msg and "'phq9_1'" in msg and "line 5" in msg and "grade_level" in msg
    assert "line 4" not in msg


def test_map_file_duplicates_and_item_out_of_range(tmp_path):
    p = tmp_path / "map.xlsx"
    wb = openpyxl.Workbook()
    for r in (["第1题", "phq9.1"], ["第1题", "phq9.2"], ["第3题", "phq9.1"], ["第4题", "phq9.12"]):
        wb.active.append(r)
    wb.save(p)
    with pytest.raises(ColumnMapError) as err:
        load_column_map(p, ["phq9"])
    msg = str(err.value)
    assert "line 2: source '第1题' is already mapped on line 1" in msg
    # two sources for one target are allowed in a county map (different schools' headers); see test_mapping
    assert "line 3" not in msg
    assert "line 4" in msg and "items 1..10" in msg


def test_missing_item_columns_listed_with_a_hint(tmp_path):
    rows = [["学号", "第1题", "第2题"], ["S-SECRET-ID", "1", "2"]]
    p = tmp_path / "e.csv"
    p.write_bytes(csv_bytes(rows))
    with pytest.raises(MissingItemColumnsError) as err:
        normalise(read_table(p), "gad7")
    msg = str(err.value)
    assert str(p) in msg and "gad7: 7 item column(s) missing (gad7.1, gad7.2" in msg
    assert "column map" in msg and "第1题" in msg
    assert "S-SECRET-ID" not in msg  # never a student's id
    assert err.value.missing["gad7"][-1] == "gad7.7"


def test_two_columns_to_one_target():
    raw = RawTable.from_frame(pd.DataFrame({"a": ["1"], "b": ["1"]}))
    with pytest.raises(ColumnMapError, match="'a' and 'b' both map to 'gad7.1'"):
        normalise(raw, "gad7", {"a": "gad7.1", "b": "gad7.1"})


@pytest.mark.parametrize("name,content,match", [
    ("broken.xlsx", b"this is not a zip file", "not a readable Excel workbook"),
    ("broken.parquet", b"PAR1 nope", "not a readable parquet"),
    ("data.json", b"{}", "cannot read '.json'"),
    ("empty.csv", b"", "the table is empty"),
    ("binary.csv", bytes(range(128, 256)) * 3, "encoding could not be recognised.*save it as 'CSV UTF-8'"),
])
def test_unreadable_files(tmp_path, name, content, match):
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(UnreadableFileError, match=match) as err:
        read_table(p)
    assert str(p) in str(err.value)


def test_missing_file():
    with pytest.raises(UnreadableFileError, match="file not found"):
        read_table("/nonexistent/x.csv")


def test_label_mapping_runs_per_distinct_value(monkeypatch):
    import psyscreen.ingest as ingest

    seen = []
    real = ingest._code_lookup

    def spy(values, inst, number):
        seen.append(len(values))
        return real(values, inst, number)

    monkeypatch.setattr(ingest, "_code_lookup", spy)
    n = 5000
    answers = {f"gad7.{i}": np.resize(["0", "好几天", "3"], n) for i in range(1, 8)}
    normalise(RawTable.from_frame(pd.DataFrame(answers)), "gad7")
    assert seen == [3] * 7  # one lookup per column over its 3 distinct values, not 5000 rows


# ---- the ledger: rows read = rows scored + rows quarantined ------------------------------------

DAMAGE = st.sampled_from(["", "  ", "9", "-1", "abc", "1.5", "几乎每天", "Not at all", "３", " 2 ", None])
VALID_DAMAGE = {"", "  ", "几乎每天", "Not at all", "３", " 2 ", None}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), n=st.integers(1, 25))
def test_ledger_balances_under_random_damage(data, n):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    answers = rng.integers(0, 4, size=(n, 9)).astype(str).astype(object)
    cells = data.draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, 8), DAMAGE), max_size=20))
    for r, c, v in cells:
        answers[r, c] = v
    blank_rows = data.draw(st.sets(st.integers(0, n - 1), max_size=3))
    ids = np.array([f"{i:05d}" for i in range(n)], dtype=object)
    for r in blank_rows:
        answers[r, :] = None
        ids[r] = None
    frame = pd.DataFrame(answers, columns=[f"phq9.{i}" for i in range(1, 10)])
    frame.insert(0, "student_id", ids)
    out = score_table(RawTable.from_frame(frame), "phq9")
    lg = out.ledger
    assert lg.rows_read == n == lg.rows_scored + lg.rows_quarantined
    # which rows must be quarantined, worked out independently: a damaged cell that is not valid, or a blank row
    final = {(r, c): answers[r, c] for r, c, _ in cells}
    expected_bad = {r + 2 for (r, c), v in final.items() if v is not None and v not in VALID_DAMAGE}
    expected_bad |= {r + 2 for r in blank_rows}
    assert set(out.quarantine["row"].astype(int)) == expected_bad
    assert set(out.scores["row"]) == set(range(2, n + 2)) - expected_bad


def test_item_header_beyond_the_instrument_is_unused():
    answers = {f"gad7.{i}": ["1"] for i in range(1, 9)}  # gad7 has 7 items; gad7.8 is not one of them
    norm = normalise(RawTable.from_frame(pd.DataFrame(answers)), "gad7")
    assert "gad7.8" in norm.unused_columns and "gad7.8" not in norm.frame.columns


def test_the_map_wins_over_a_recognised_field_header():
    frame = pd.DataFrame({"学号": ["serial-1"], "考号": ["00042"], **{f"gad7.{i}": ["1"] for i in range(1, 8)}})
    norm = normalise(RawTable.from_frame(frame), "gad7", {"考号": "student_id"})
    assert norm.frame["student_id"].tolist() == ["00042"]
    assert "学号" in norm.unused_columns
    with pytest.raises(ColumnMapError, match="both map to 'gad7.1'"):
        normalise(RawTable.from_frame(frame), "gad7", {"考号": "gad7.1"})  # the file already has gad7.1
