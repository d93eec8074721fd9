"""A corpus of ugly school exports, built from code in a temporary folder (nothing real, nothing committed).

:func:`build` writes one file per kind of mess a county receives and returns a :class:`Corpus`: the paths, the
column map a person would have checked, and the facts each file was built with (rows, duplicates, ids and
names of the students in it, the rows with a problem), so that tests compare the pipeline with what was put
in, never with what the pipeline itself produced.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from psyscreen.instrument import load_instrument
from psyscreen.synthetic import simulate_answers, simulate_students

PHQ = [f"phq9.{i}" for i in range(1, 10)]
GAD = [f"gad7.{i}" for i in range(1, 8)]
ITEMS = PHQ + GAD
FIELDS_ZH = {"student_id": "学号", "name": "姓名", "school": "学校", "grade": "年级", "class": "班级", "sex": "性别"}
GRADE_ZH = {4: "四年级", 5: "五年级", 6: "六年级", 7: "初一", 8: "初二", 9: "初三", 10: "高一", 11: "高二", 12: "高三"}
FORMULA_NAME = '=HYPERLINK("http://x.invalid","点我")'


@dataclass
class Facts:
    rows: int = 0                 # data rows in the file
    duplicates: int = 0           # rows that must be set aside as duplicates
    quarantined: int = 0          # rows that must be quarantined
    status: str = "ok"
    ids: list = field(default_factory=list)
    names: list = field(default_factory=list)


@dataclass
class Corpus:
    folder: Path
    files: dict                   # name -> Path
    facts: dict                   # name -> Facts
    map_path: Path
    roster: pd.DataFrame          # every student written (student_id, name, school, grade, class, sex)
    answers: pd.DataFrame         # their answer codes (same index as roster)


def labels(answers: pd.DataFrame) -> pd.DataFrame:
    out = answers.astype(object)
    for col in answers.columns:
        iid, num = col.split(".")
        inst = load_instrument(iid)
        opts = {o.code: o.zh for o in inst.response_set(inst.item(int(num)).responses)}
        out[col] = answers[col].map(opts)
    return out


def _students(n, seed, school, grades):
    s = simulate_students(n, seed=seed, grades=grades, schools=[school])
    s["student_id"] = [f"{seed % 100:02d}{i:06d}" for i in range(n)]  # leading zeros on purpose
    a = simulate_answers(s, ["phq9", "gad7"], seed=seed)[ITEMS]
    return s, a


def _fields(s: pd.DataFrame) -> pd.DataFrame:
    f = s[["student_id", "name", "school", "grade", "class", "sex"]].rename(columns=FIELDS_ZH).copy()
    f["年级"] = f["年级"].map(GRADE_ZH)
    return f.reset_index(drop=True)


def build(folder: Path, seed: int = 7) -> Corpus:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    files, facts, rosters, answers = {}, {}, [], []

    def keep(name, s, a, fact):
        rosters.append(s)
        answers.append(a)
        fact.ids = s["student_id"].tolist()
        fact.names = s["name"].tolist()
        facts[name] = fact

    # 1. title rows above the header, trailing empty rows and columns, a formula in a name (xlsx)
    s, a = _students(40, seed + 1, "标题中学", range(7, 10))
    s.loc[s.index[0], "name"] = FORMULA_NAME
    a.loc[a.index[0], "phq9.9"] = 3  # the formula student has a critical answer: shows up in critical.xlsx
    frame = pd.concat([_fields(s), a.reset_index(drop=True).astype(int)], axis=1)
    path = folder / "title_rows.xlsx"
    with pd.ExcelWriter(path, engine="xlsxwriter", engine_kwargs={"options": {"strings_to_formulas": False}}) as w:
        frame.to_excel(w, sheet_name="Sheet1", startrow=2, index=False)
        ws = w.sheets["Sheet1"]
        ws.merge_range(0, 0, 0, frame.shape[1] - 1, "2026年秋季学期心理健康筛查 标题中学")
        ws.write(1, 0, "导出时间：2026-09-12")
        for r in range(len(frame) + 3, len(frame) + 6):
            ws.write(r, 0, "   ")  # trailing rows of spaces
        ws.write(3, frame.shape[1] + 2, " ")  # a trailing column of a space
    files["title_rows"] = path
    keep("title_rows", s, a, Facts(rows=40))

    # 2. a two-row header with merged cells (xlsx)
    s, a = _students(30, seed + 2, "合并表头学校", range(4, 7))
    path = folder / "merged_header.xlsx"
    fields = _fields(s)
    with pd.ExcelWriter(path, engine="xlsxwriter") as w:
        ws = w.book.add_worksheet("答卷")
        ws.merge_range(0, 0, 0, 21, "阳光问卷导出")
        for j, h in enumerate(fields.columns):
            ws.merge_range(1, j, 2, j, h)
        ws.merge_range(1, 6, 1, 14, "PHQ-9")
        ws.merge_range(1, 15, 1, 21, "GAD-7")
        for k in range(9):
            ws.write(2, 6 + k, k + 1)
        for k in range(7):
            ws.write(2, 15 + k, k + 1)
        for i in range(len(s)):
            for j, v in enumerate(fields.iloc[i]):
                ws.write_string(3 + i, j, str(v))
            for k, c in enumerate(ITEMS):
                ws.write_number(3 + i, 6 + k, float(a.iloc[i][c]))
    files["merged_header"] = path
    keep("merged_header", s, a, Facts(rows=30))

    # 3. several sheets: a notes sheet and two grades (xlsx)
    s1, a1 = _students(20, seed + 3, "多表学校", [7])
    s2, a2 = _students(25, seed + 4, "多表学校", [8])
    s2["student_id"] = [f"9{x}" for x in s2["student_id"]]
    path = folder / "sheets.xlsx"
    with pd.ExcelWriter(path, engine="xlsxwriter") as w:
        pd.DataFrame({"说明": ["本文件包含初一、初二两个年级的答卷", "请勿修改"]}).to_excel(w, sheet_name="说明", index=False)
        pd.concat([_fields(s1), a1.reset_index(drop=True)], axis=1).to_excel(w, sheet_name="初一", index=False)
        pd.concat([_fields(s2), a2.reset_index(drop=True)], axis=1).to_excel(w, sheet_name="初二", index=False)
    files["sheets"] = path
    keep("sheets", pd.concat([s1, s2], ignore_index=True), pd.concat([a1, a2], ignore_index=True), Facts(rows=45))

    # 4. an old .xls (xlwt), sex as codes 1/2, grade as numbers
    import xlwt

    s, a = _students(25, seed + 5, "老版本学校", range(10, 13))
    path = folder / "old.xls"
    book = xlwt.Workbook(encoding="utf-8")
    sh = book.add_sheet("data")
    heads = list(FIELDS_ZH.values()) + ITEMS
    for j, h in enumerate(heads):
        sh.write(0, j, h)
    for i in range(len(s)):
        r = s.iloc[i]
        vals = [r["student_id"], r["name"], r["school"], int(r["grade"]), f"{int(r['class'])}班",
                1 if r["sex"] == "男" else 2]
        for j, v in enumerate(vals):
            sh.write(1 + i, j, v)
        for k, c in enumerate(ITEMS):
            sh.write(1 + i, 6 + k, int(a.iloc[i][c]))
    book.save(str(path))
    files["old_xls"] = path
    keep("old_xls", s, a, Facts(rows=25))

    # 5. SPSS .sav with variable and value labels (pyreadstat)
    import pyreadstat

    s, a = _students(30, seed + 6, "统计学校", range(7, 10))
    df = pd.DataFrame({"xh": s["student_id"].to_numpy(), "xm": s["name"].to_numpy(), "xx": s["school"].to_numpy(),
                       "nj": s["grade"].astype(float).to_numpy(), "bj": s["class"].astype(float).to_numpy(),
                       "xb": np.where(s["sex"] == "男", 1.0, 2.0)})
    for k, c in enumerate(ITEMS):
        df[f"Q{k + 1}"] = a[c].to_numpy(dtype=float)
    path = folder / "survey.sav"
    pyreadstat.write_sav(df, str(path), column_labels=["学号", "姓名", "学校", "年级", "班级", "性别"] + ITEMS,
                         variable_value_labels={"xb": {1.0: "男", 2.0: "女"}})
    files["sav"] = path
    keep("sav", s, a, Facts(rows=30))

    # 6. GBK csv with option labels, duplicates (latest kept), too-fast durations, longstrings, a bad label
    s, a = _students(50, seed + 8, "平台中学", range(10, 13))
    a.iloc[:3] = 3.0          # three longstrings (all "nearly every day")
    frame = pd.concat([_fields(s), labels(a).reset_index(drop=True)], axis=1)
    frame["性别"] = frame["性别"].map({"男": "M", "女": "F"})
    frame["提交答卷时间"] = [f"2026-09-12 08:{i:02d}:00" for i in range(len(frame))]
    frame["所用时间"] = [f"{t}秒" for t in np.r_[[10, 15], np.full(len(frame) - 2, 300)]]  # two too fast
    # duplicates: rows 10 and 11 submitted again later with other answers; row 12 submitted again EARLIER
    frame.loc[10, PHQ[0]] = "几乎每天"
    frame.loc[12, PHQ[0]] = "几乎每天"
    dup = frame.iloc[[10, 11, 12]].copy()
    dup.loc[:, "提交答卷时间"] = ["2026-09-12 10:00:00", "2026-09-12 10:05:00", "2026-09-12 07:00:00"]
    dup.loc[dup.index[0], PHQ[0]] = "完全不会"   # the later submission of row 10: kept
    dup.loc[dup.index[2], PHQ[0]] = "完全不会"   # the earlier submission of row 12: set aside
    frame = pd.concat([frame, dup], ignore_index=True)
    frame.loc[20, GAD[2]] = "有时候吧"  # not an option label: quarantined
    path = folder / "platform_gbk.csv"
    frame.to_csv(path, index=False, encoding="gbk")
    files["gbk"] = path
    keep("gbk", s, a, Facts(rows=53, duplicates=3, quarantined=1))

    # 7. an unreadable file
    path = folder / "broken.xlsx"
    path.write_bytes(b"PK\x03\x04 this is not really a workbook" + bytes(range(256)))
    files["broken"] = path
    facts["broken"] = Facts(rows=0, status="unreadable")

    # 8. unmapped question columns (Q1..Q16 with no map line): stopped, others continue
    s, a = _students(12, seed + 9, "未映射学校", [9])
    items = a.copy()
    items.columns = [f"T{k + 1}" for k in range(16)]
    path = folder / "unmapped.csv"
    pd.concat([_fields(s), items.reset_index(drop=True)], axis=1).to_csv(path, index=False, encoding="utf-8")
    files["unmapped"] = path
    facts["unmapped"] = Facts(rows=0, status="stopped", ids=s["student_id"].tolist(), names=s["name"].tolist())

    # the map a person checked: fields by name, items by the header each school used
    rows = [(h, f) for f, h in FIELDS_ZH.items()]
    rows += [(f"PHQ-9 {k}", f"phq9.{k}") for k in range(1, 10)] + [(f"GAD-7 {k}", f"gad7.{k}") for k in range(1, 8)]
    rows += [(f"Q{k + 1}", c) for k, c in enumerate(ITEMS)]
    rows += [("xh", "student_id"), ("xm", "name"), ("xx", "school"), ("nj", "grade"), ("bj", "class"), ("xb", "sex")]
    rows += [("提交答卷时间", "submitted_at"), ("所用时间", "duration")]
    map_path = folder.parent / "corpus_map.csv"
    pd.DataFrame(rows, columns=["source", "target"]).to_csv(map_path, index=False, encoding="utf-8")
    roster = pd.concat(rosters, ignore_index=True)[["student_id", "name", "school", "grade", "class", "sex"]]
    return Corpus(folder=folder, files=files, facts=facts, map_path=map_path, roster=roster,
                  answers=pd.concat(answers, ignore_index=True))


# ---- hostile files: each must be that file's failure (or read right), never the run's --------------------

def _table_frame(n, seed, school="边界中学"):
    s, a = _students(n, seed, school, range(7, 10))
    return s, a, pd.concat([_fields(s), a.reset_index(drop=True).astype(int)], axis=1)


def stray_cell(folder: Path, name: str, row: int, col: int, value: str, n: int = 30, seed: int = 31):
    """An xlsx of ``n`` students and one more value typed at (row, col) (0-based; 1048575, 16383 = XFD1048576).

    A few KB on disk; its sheet declares the extent up to that cell."""
    s, a, frame = _table_frame(n, seed)
    path = Path(folder) / name
    with pd.ExcelWriter(path, engine="xlsxwriter") as w:
        frame.to_excel(w, sheet_name="Sheet1", index=False)
        w.sheets["Sheet1"].write_string(row, col, value)
    return path, s, a


def headerless(folder: Path, name: str, n: int = 31, seed: int = 33, answers_as="codes"):
    """An export saved without its header row: the first line is the first student."""
    s, a, frame = _table_frame(n, seed)
    if answers_as == "labels":
        frame[ITEMS] = labels(a).reset_index(drop=True)
    path = Path(folder) / name
    if path.suffix == ".csv":
        frame.to_csv(path, index=False, header=False, encoding="utf-8")
    else:
        with pd.ExcelWriter(path, engine="xlsxwriter") as w:
            frame.to_excel(w, sheet_name="Sheet1", index=False, header=False)
    return path, s, a


def unpacks_to(folder: Path, name: str, megabytes: int):
    """A valid xlsx of two students whose sheet XML unpacks to about ``megabytes`` MB (white space between the
    rows, which XML allows): a few hundred KB on disk, written without compressing the bulk (its deflate blocks
    are repeated), so that building it is quick."""
    import zlib

    s, a, frame = _table_frame(2, 35)
    small = Path(folder) / ".small.xlsx"
    with pd.ExcelWriter(small, engine="xlsxwriter") as w:
        frame.to_excel(w, sheet_name="Sheet1", index=False)
    import zipfile

    with zipfile.ZipFile(small) as zf:
        members = {i.filename: zf.read(i) for i in zf.infolist()}
    small.unlink()
    sheet = members["xl/worksheets/sheet1.xml"]
    cut = sheet.index(b"</sheetData>")
    chunk = b" " * (1 << 20)

    def deflate(data, final):
        c = zlib.compressobj(6, zlib.DEFLATED, -15)
        return c.compress(data) + c.flush(zlib.Z_FINISH if final else zlib.Z_FULL_FLUSH)
    head, block, tail = deflate(sheet[:cut], False), deflate(chunk, False), deflate(sheet[cut:], True)
    crc = zlib.crc32(sheet[:cut])
    for _ in range(megabytes):
        crc = zlib.crc32(chunk, crc)
    crc = zlib.crc32(sheet[cut:], crc)
    big = (head + block * megabytes + tail, crc, len(sheet) + megabytes * len(chunk))
    import struct

    path = Path(folder) / name
    out, central = bytearray(), bytearray()
    for fname, data in members.items():
        if fname == "xl/worksheets/sheet1.xml":
            comp, crc_, size = big
        else:
            comp, crc_, size = deflate(data, True), zlib.crc32(data), len(data)
        nm = fname.encode()
        offset = len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc_, len(comp), size, len(nm), 0) + nm + comp
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0x21, crc_, len(comp), size,
                               len(nm), 0, 0, 0, 0, 0, offset) + nm
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central), len(out), 0)
    path.write_bytes(bytes(out + central + end))
    return path, s, a
