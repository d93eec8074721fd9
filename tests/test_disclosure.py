"""The county summary attacked as a reader would: from the published workbook alone (every sheet together, the
marks and what the footnote says they mean), with integer programs (scipy's milp), try to pin each hidden count
and to learn the level of a member of a group one knows. None may succeed. Also: one mark for every hidden cell,
a count shared by two sheets hidden in both or neither, charts that draw only what the tables show and take any
school name as plain text, and the wave, county and completeness notice in the titles."""

from __future__ import annotations

import re

import numpy as np
import openpyxl
import pandas as pd
import pytest
from scipy.optimize import Bounds, LinearConstraint, milp

from psyscreen import classify, score, synthetic
from psyscreen.report import write_county
from psyscreen.wave import NotProcessed, RunInfo

T = "合计"


def _county(seed=11, n=700, schools=("一中", "二中", "实验中学"), teaching_point=True):
    """A synthetic county; a teaching point of 3 students who all gave a critical answer (level 1); a per-file
    ledger (no school column) whose files are named after their school, with a few quarantined rows."""
    st = synthetic.simulate_students(n, seed=seed, grades=range(7, 10), schools=list(schools))
    scores = score(synthetic.simulate_answers(st, ["phq9", "gad7"], seed=seed + 1), ["phq9", "gad7"])
    df = pd.concat([st[["student_id", "school", "grade", "class", "sex"]], scores, classify(scores, "default")], axis=1)
    df = df.rename(columns={"student_id": "student_key"}).assign(sex=lambda d: d["sex"].map({"男": "M", "女": "F"}))
    if teaching_point:
        red = df.index[df["level"] == "level1"][:3]
        assert len(red) == 3
        df.loc[red, ["school", "grade", "sex"]] = ["教学点", 8, "F"]
    df["file"] = df["school"] + ".csv"
    rng = np.random.default_rng(seed)
    ledger = df.groupby("file").size().rename("scored").reset_index()
    ledger["quarantined"] = rng.integers(0, 4, len(ledger))
    ledger["duplicates"] = rng.integers(0, 3, len(ledger))
    ledger["rows"] = ledger[["scored", "quarantined", "duplicates"]].sum(axis=1)
    return df, ledger


def _sheet(path, name):
    ws = openpyxl.load_workbook(path)[name]
    rows = [[c.value for c in r] for r in ws.iter_rows()]
    head = next(i for i, r in enumerate(rows) if sum(isinstance(v, str) for v in r) >= 3)
    return rows[head], rows[head + 1:]


class Reader:
    """Everything a reader can write down from the published summary: one unknown per count cell (a shown count is
    fixed), and the sums the labels imply."""

    def __init__(self, summary):
        self.var, self.value, self.lo, self.hi, self.eqs = {}, [], [], [], []
        header, body = _sheet(summary, "等级分布")
        self.levels = [h for h in header[4:] if not str(h).endswith("比例")]
        cols = [header[3], *self.levels]
        self.marks = set()
        self.rows = []
        for r in body:
            key = tuple(r[:3])
            self.rows.append(key)
            for c in cols:
                j = header.index(c)
                self._cell(("L", key, c), r[j])
                if c != header[3]:   # a rate is published only where its count and its row total are
                    rate = r[j + 1]
                    assert rate is None or (isinstance(r[j], int) and isinstance(r[3], int)), (key, c, rate)
        self.n = header[3]
        for key in self.rows:    # row sums
            self.eqs.append({("L", key, self.n): -1, **{("L", key, c): 1 for c in self.levels}})
        for key in self.rows:    # each subtotal = the rows one level below it
            d = next((i for i, v in enumerate(key) if v == T), 3)
            if d == 3:
                continue
            kids = [k for k in self.rows if k[:d] == key[:d] and k[d] != T and all(v == T for v in k[d + 1:])]
            for c in cols:
                self.eqs.append({("L", key, c): -1, **{("L", k, c): 1 for k in kids}})
        pheader, pbody = _sheet(summary, "参与情况")
        pcols = pheader[1:5]          # rows read, scored, quarantined, duplicates
        for r in pbody:
            for c, v in zip(pcols, r[1:5]):
                self._cell(("P", r[0], c), v)
            assert r[5] is None or (isinstance(r[1], int) and isinstance(r[2], int))
        files = [r[0] for r in pbody]
        for f in files:
            self.eqs.append({("P", f, pcols[0]): -1, **{("P", f, c): 1 for c in pcols[1:]}})
        for c in pcols:
            self.eqs.append({("P", T, c): -1, **{("P", f, c): 1 for f in files if f != T}})
        # the participation sheet's scored counts are the level sheet's screened counts: the file 一中.csv holds
        # the school 一中 (a reader reads it from the name), and the grand totals are the same students
        self.eqs.append({("P", T, pcols[1]): 1, ("L", (T, T, T), self.n): -1})
        for f in files:
            school = (str(f).removesuffix(".csv"), T, T)
            if f != T and school in self.rows:
                self.eqs.append({("P", f, pcols[1]): 1, ("L", school, self.n): -1})

    def _cell(self, name, v):
        self.var[name] = len(self.value)
        self.value.append(v)
        if isinstance(v, str):
            self.marks.add(v)

    def attack(self, sizes=None):
        """Bounds from the marks as the footnote defines them; milp for the smallest and largest value. ``sizes``:
        the true size of each group (row), which a reader who knows the group's members knows even when hidden."""
        n = len(self.value)
        top = max(v for v in self.value if isinstance(v, int))
        hidden = [i for i, v in enumerate(self.value) if isinstance(v, str)]
        two_marks = any(m.startswith("<") for m in self.marks)
        lo = np.array([v if isinstance(v, int) else 0 for v in self.value], float)
        hi = np.array([v if isinstance(v, int) else top for v in self.value], float)
        extra = []
        if two_marks:   # "<5" is 1..4, so the other mark is not: 0 or 5 and more (one binary per such cell)
            for i in hidden:
                if self.value[i].startswith("<"):
                    lo[i], hi[i] = 1, int(self.value[i][1:]) - 1
                else:
                    extra.append(i)
        m = n + len(extra)
        A = np.zeros((len(self.eqs) + 2 * len(extra), m))
        lb, ub = np.zeros(A.shape[0]), np.zeros(A.shape[0])
        for e, eq in enumerate(self.eqs):
            for name, k in eq.items():
                A[e, self.var[name]] += k
        for j, i in enumerate(extra):
            r = len(self.eqs) + 2 * j
            A[r, i], A[r, n + j], lb[r], ub[r] = 1, -top, -np.inf, 0       # x <= top * b
            A[r + 1, i], A[r + 1, n + j], lb[r + 1], ub[r + 1] = 1, -5, 0, np.inf   # x >= 5 * b
        bounds = Bounds(np.concatenate([lo, np.zeros(len(extra))]), np.concatenate([hi, np.ones(len(extra))]))
        cons = LinearConstraint(A, lb, ub)

        def opt(obj, fix=None):
            b = bounds
            if fix is not None:
                lo2, hi2 = bounds.lb.copy(), bounds.ub.copy()
                lo2[fix[0]] = hi2[fix[0]] = fix[1]
                b = Bounds(lo2, hi2)
            res = milp(obj, integrality=np.ones(m), bounds=b, constraints=cons)
            assert res.status == 0
            return res.fun

        ranges = {}
        for i in hidden:
            obj = np.zeros(m)
            obj[i] = 1
            ranges[i] = (round(opt(obj)), round(-opt(-obj)))
        learnt = []   # a member of a group one knows: a level count equal to its row's total in every solution
        for key in self.rows:
            t = self.var[("L", key, self.n)]
            for c in self.levels:
                obj = np.zeros(m)
                obj[t], obj[self.var[("L", key, c)]] = -1, 1
                obj_t = np.zeros(m)
                obj_t[t] = -1
                if round(-opt(obj)) == 0 and round(-opt(obj_t)) >= 1:
                    learnt.append((key, c))
                if sizes is not None and sizes[key] > 0 and round(-opt(obj, (t, sizes[key]))) == 0:
                    learnt.append((key, c, "knowing the group's size"))
        return ranges, learnt


def _sizes(df, rows):
    """The true number of students of every row of the level sheet (school, grade label, sex label, or 合计)."""
    from psyscreen.report.letters import grade_label

    g = df.assign(grade=df["grade"].map(lambda v: grade_label(v, "zh")), sex=df["sex"].replace({"F": "女", "M": "男"}))
    out = {}
    for key in rows:
        sel = np.ones(len(g), bool)
        for col, v in zip(("school", "grade", "sex"), key):
            if v != T:
                sel &= (g[col] == v).to_numpy()
        out[key] = int(sel.sum())
    return out


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    df, ledger = _county()
    out = write_county(df, ledger, tmp_path_factory.mktemp("county"), protocol="default")
    return out, df, ledger


def test_a_reader_with_integer_programs_pins_no_hidden_cell_and_learns_no_members_level(published):
    out, df, _ = published
    reader = Reader(out["summary"])
    sizes = _sizes(df, reader.rows)
    shown_n = {k: reader.value[reader.var[("L", k, reader.n)]] for k in reader.rows}
    assert all(sizes[k] == v for k, v in shown_n.items() if isinstance(v, int))   # the sizes are the right ones
    ranges, learnt = reader.attack(sizes)
    assert len(ranges) > 10                                   # plenty hidden: the attack has work to do
    pinned = {k: r for k, r in ranges.items() if r[0] == r[1]}
    assert not pinned, [(list(reader.var)[k], r) for k, r in pinned.items()]
    assert not learnt


def test_teaching_point_of_three_all_level_one_shows_nothing_about_them(published):
    out, _, _ = published
    header, body = _sheet(out["summary"], "等级分布")
    row = next(r for r in body if r[0] == "教学点" and r[1] == T)
    counts = [row[j] for j, h in enumerate(header) if j >= 3 and not str(h).endswith("比例")]
    assert counts == ["*"] * len(counts)                      # total hidden: every level hidden, zeros included
    html = out["report"].read_text("utf-8")
    cells = re.findall(r"<tr><td>教学点</td>(.*?)</tr>", html)[0]
    found = re.findall(r"<td>([^<]*)</td>", cells)          # screened, then count and rate per level
    assert [found[0], *found[1::2]] == ["*"] * len(counts) and not any(found[2::2])


def test_a_level_count_equal_to_its_row_total_is_hidden_whatever_its_size(tmp_path):
    df, ledger = _county(teaching_point=False)
    whole = df.index[df["level"] == "none"][:7]
    df.loc[whole, ["school", "grade", "sex", "file"]] = ["分校", 9, "M", "分校.csv"]
    ledger = df.groupby("file").size().rename("scored").reset_index().assign(quarantined=0, duplicates=0)
    ledger["rows"] = ledger["scored"]
    out = write_county(df, ledger, tmp_path, protocol="default")
    header, body = _sheet(out["summary"], "等级分布")
    row = next(r for r in body if r[0] == "分校" and r[1] == T)
    counts = dict(zip(header, row))
    assert counts[header[-2]] == "*"                           # all 7 at "none": that count is hidden
    for r in body:   # nowhere does a shown level count equal its shown row total
        n = r[3]
        if isinstance(n, int) and n > 0:
            assert not any(r[j] == n for j, h in enumerate(header) if j > 3 and not str(h).endswith("比例")), r


def test_one_mark_and_a_shared_count_hidden_in_both_sheets_or_neither(published):
    out, df, _ = published
    header, body = _sheet(out["summary"], "等级分布")
    pheader, pbody = _sheet(out["summary"], "参与情况")
    marks = {v for r in body + pbody for v in r if isinstance(v, str) and not re.search(r"[\w.]", v)}
    assert marks == {"*"}
    school_n = {r[0]: r[3] for r in body if r[1] == T}
    for r in pbody:
        name = T if r[0] == T else r[0].removesuffix(".csv")
        assert (r[2] == "*") == (school_n[name] == "*"), (r, school_n[name])
        if school_n[name] != "*":
            assert r[2] == school_n[name]


def test_charts_draw_only_shown_values_and_take_names_as_plain_text(tmp_path, monkeypatch):
    from psyscreen.report import county as county_module

    figures = []
    real = county_module._svg
    monkeypatch.setattr(county_module, "_svg", lambda fig: (figures.append(fig), real(fig))[1])
    df, ledger = _county()
    odd = "学校$\\foo$"
    df["school"] = df["school"].replace({"二中": odd})
    ledger["file"] = ledger["file"].replace({"二中.csv": odd + ".csv"})
    df["file"] = df["file"].replace({"二中.csv": odd + ".csv"})
    out = write_county(df, ledger, tmp_path, protocol="default")
    html = out["report"].read_text("utf-8")
    assert odd in html and "图中只画出表格公开的比例" in html
    assert figures
    for fig in figures:
        for ax in fig.axes:
            assert not [t.get_text() for t in ax.texts]        # no stray marks on an empty axis
            labels = [t.get_text() for t in ax.get_yticklabels() + ax.get_xticklabels()]
            assert not any(lb.startswith("<") or lb == "*" for lb in labels)
    names = [t.get_text() for fig in figures for ax in fig.axes for t in ax.get_yticklabels()]
    assert odd in names


def test_title_names_county_and_wave_and_an_incomplete_run_says_so_on_top(tmp_path):
    df, ledger = _county(teaching_point=False)
    run = RunInfo("2026-09", county="城南区", status="incomplete",
                  not_processed=(NotProcessed("阳光小学.xlsx", "stopped", 412),))
    out = write_county(df, ledger, tmp_path, protocol="default", run=run)
    first = openpyxl.load_workbook(out["summary"]).worksheets[0]["A1"].value
    assert first.startswith("城南区 2026年9月 心理健康筛查 区县汇总") and "阳光小学.xlsx" in first and "不完整" in first
    html = out["report"].read_text("utf-8")
    assert "<title>城南区 2026年9月 心理健康筛查 区县汇总</title>" in html
    top = html[html.index("<h1>"):html.index("<h2>")]
    assert "阳光小学.xlsx" in top and "不完整" in top
    en = write_county(df, ledger, tmp_path / "en", protocol="default", lang="en", run=run)
    assert "INCOMPLETE" in en["report"].read_text("utf-8").split("<h2>")[0]
    plain = write_county(df, ledger, tmp_path / "plain", protocol="default", run=RunInfo("2026-09"))
    assert 'class="notice"' not in plain["report"].read_text("utf-8")
