"""Write data/sample: a small synthetic county screened in March and September (deterministic).

Run ``python scripts/make_sample.py --out data/sample`` (``make sample``). Nothing here is real: names are
drawn from lists of common characters, ids are random digits, answers come from psyscreen.synthetic.

Four schools, grades 4-12, about 1,600 students, each school exporting the way real platforms do:

* 阳光小学 (grades 4-6): xlsx, Chinese field headers, codes.
* 实验中学 (grades 7-9): GBK-encoded CSV with headers 第1题 .. 第16题 (PHQ-9 then GAD-7), a blank or two,
  one out-of-range code.
* 第一高级中学 (grades 10-12): UTF-8 CSV with the option labels (几乎每天 ...) instead of codes, a few
  full-width digits and stray spaces, and one student submitted twice.
* 城南九年一贯制学校 (grades 4-9): a survey-platform xlsx whose headers are the question text
  (``1、做事时提不起劲或没有兴趣``) with 序号, 提交答卷时间, 所用时间 and IP columns.

``column_map.csv`` maps every school's headers to psyscreen's names (``phq9.1``, ``student_id`` ...).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from psyscreen import load_instrument
from psyscreen.synthetic import next_wave, simulate_answers, simulate_students

SEED = 20260301
INSTRUMENTS = ["phq9", "gad7"]
SCHOOLS = {
    "阳光小学": range(4, 7),
    "实验中学": range(7, 10),
    "第一高级中学": range(10, 13),
    "城南九年一贯制学校": range(4, 10),
}
SIZES = {"阳光小学": 380, "实验中学": 420, "第一高级中学": 420, "城南九年一贯制学校": 400}
GRADE_ZH = {4: "四年级", 5: "五年级", 6: "六年级", 7: "初一", 8: "初二", 9: "初三", 10: "高一", 11: "高二", 12: "高三"}
FIELDS_ZH = {"student_id": "学号", "name": "姓名", "school": "学校", "grade": "年级", "class": "班级", "sex": "性别"}


def roster(seed: int) -> pd.DataFrame:
    parts = []
    for k, (school, grades) in enumerate(SCHOOLS.items()):
        parts.append(simulate_students(SIZES[school], seed=seed + k, grades=grades, schools=[school]))
    students = pd.concat(parts, ignore_index=True)
    # ids unique across the county
    students["student_id"] = [f"{i:010d}" for i in np.random.default_rng(seed).choice(10**9, len(students), replace=False)]
    return students


def labels_for(answers: pd.DataFrame, lang: str = "zh") -> pd.DataFrame:
    out = answers.astype(object)
    for col in answers.columns:
        iid, num = col.split(".")
        inst = load_instrument(iid)
        opts = {o.code: (o.zh if lang == "zh" else o.en) for o in inst.response_set(inst.item(int(num)).responses)}
        out[col] = answers[col].map(opts)
    return out


def item_text_header(col: str) -> str:
    iid, num = col.split(".")
    inst = load_instrument(iid)
    offset = 0 if iid == "phq9" else 9
    return f"{int(num) + offset}、{inst.item(int(num)).zh}"


def write_wave(students: pd.DataFrame, wave: str, out: Path, seed: int) -> dict[str, Path]:
    rng = np.random.default_rng(seed)
    answers = simulate_answers(students, INSTRUMENTS, seed=seed, missing_rate=0.004)
    scored_cols = [c for c in answers.columns if c != "phq9.10"]
    answers = answers[scored_cols]
    folder = out / wave
    folder.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    base = students[["student_id", "name", "school", "grade", "class", "sex"]]

    # 阳光小学: xlsx, Chinese field headers, codes
    s = base["school"] == "阳光小学"
    frame = pd.concat([base[s].rename(columns=FIELDS_ZH), answers[s]], axis=1)
    frame["年级"] = frame["年级"].map(GRADE_ZH)
    frame["班级"] = frame["班级"].astype(str) + "班"
    path = folder / "阳光小学.xlsx"
    frame.to_excel(path, index=False, engine="xlsxwriter")
    written["阳光小学"] = path

    # 实验中学: GBK CSV, 第N题 headers, one out-of-range code
    s = base["school"] == "实验中学"
    items = answers[s].copy()
    items.columns = [f"第{j}题" for j in range(1, items.shape[1] + 1)]
    items.iloc[int(rng.integers(len(items))), 3] = 5  # a code the form does not have (PHQ-9 is 0-3)
    frame = pd.concat([base[s].rename(columns=FIELDS_ZH), items], axis=1)
    frame["性别"] = frame["性别"].map({"男": "M", "女": "F"})
    path = folder / "实验中学.csv"
    frame.to_csv(path, index=False, encoding="gbk", float_format="%g")
    written["实验中学"] = path

    # 第一高级中学: UTF-8 CSV with option labels, full-width digits and spaces, one duplicate submission
    s = base["school"] == "第一高级中学"
    items = labels_for(answers[s])
    frame = pd.concat([base[s], items], axis=1)
    frame["class"] = frame["class"].astype(str).str.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    frame.iloc[:5, frame.columns.get_loc("phq9.1")] = " " + frame.iloc[:5]["phq9.1"].astype(str) + " "
    dup = frame.iloc[[7]].copy()
    frame = pd.concat([frame, dup], ignore_index=True)
    frame["submitted_at"] = pd.Timestamp(f"{wave}-10 08:00") + pd.to_timedelta(np.arange(len(frame)) * 37, unit="s")
    path = folder / "第一高级中学.csv"
    frame.to_csv(path, index=False, encoding="utf-8")
    written["第一高级中学"] = path

    # 城南九年一贯制学校: survey-platform xlsx, headers = question text, answers = labels
    s = base["school"] == "城南九年一贯制学校"
    items = labels_for(answers[s])
    items.columns = [item_text_header(c) for c in items.columns]
    n = int(s.sum())
    platform = pd.DataFrame({
        "序号": np.arange(1, n + 1),
        "提交答卷时间": (pd.Timestamp(f"{wave}-12 09:00") + pd.to_timedelta(np.arange(n) * 53, unit="s")).astype(str),
        "所用时间": [f"{int(x)}秒" for x in rng.integers(90, 600, n)],
        "来源IP": [f"10.{a}.{b}.{c}" for a, b, c in rng.integers(0, 255, (n, 3))],
    })
    demo = base[s].rename(columns=FIELDS_ZH).reset_index(drop=True)
    demo["年级"] = demo["年级"].map(GRADE_ZH)
    frame = pd.concat([platform, demo.drop(columns=["学校"]), items.reset_index(drop=True)], axis=1)
    frame.insert(4, "学校", "城南九年一贯制学校")
    path = folder / "城南九年一贯制学校.xlsx"
    frame.to_excel(path, index=False, engine="xlsxwriter")
    written["城南九年一贯制学校"] = path
    return written


def column_map() -> pd.DataFrame:
    rows = [(zh, field) for field, zh in FIELDS_ZH.items()]
    rows += [(f"第{j}题", f"phq9.{j}") for j in range(1, 10)]
    rows += [(f"第{j + 9}题", f"gad7.{j}") for j in range(1, 8)]
    rows += [(item_text_header(f"phq9.{j}"), f"phq9.{j}") for j in range(1, 10)]
    rows += [(item_text_header(f"gad7.{j}"), f"gad7.{j}") for j in range(1, 8)]
    rows += [("提交答卷时间", "submitted_at"), ("所用时间", "duration")]
    return pd.DataFrame(rows, columns=["source", "target"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="data/sample", type=Path)
    args = parser.parse_args()
    march = roster(SEED)
    september = next_wave(march, seed=SEED + 1)
    # a few students miss the September screening; a new grade-4 intake joins
    absent = np.random.default_rng(SEED + 2).choice(len(september), 12, replace=False)
    september = september.drop(september.index[absent])
    intake = simulate_students(90, seed=SEED + 3, grades=[4], schools=["阳光小学", "城南九年一贯制学校"])
    taken = set(march["student_id"])
    intake["student_id"] = [f"{i:010d}" for i in np.random.default_rng(SEED + 4).choice(10**9, 200, replace=False)
                            if f"{i:010d}" not in taken][:len(intake)]
    september = pd.concat([september, intake], ignore_index=True)
    args.out.mkdir(parents=True, exist_ok=True)
    write_wave(march, "2026-03", args.out, SEED + 10)
    write_wave(september, "2026-09", args.out, SEED + 20)
    column_map().to_csv(args.out / "column_map.csv", index=False, encoding="utf-8")
    (args.out / "README.md").write_text(
        "# Sample county (synthetic)\n\nWritten by `scripts/make_sample.py` (seed fixed); no real student data.\n"
        f"Waves 2026-03 ({len(march)} students) and 2026-09 ({len(september)} students), four schools, grades 4-12;\n"
        "see the script's docstring for the mess each school's export carries. `column_map.csv` maps every\n"
        "school's headers to psyscreen's column names.\n", encoding="utf-8")
    print(f"wrote {args.out}: 2026-03 {len(march)} students, 2026-09 {len(september)} students")


if __name__ == "__main__":
    main()
