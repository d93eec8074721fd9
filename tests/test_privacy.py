"""privacy: keyed pseudonyms (checked against the standard library's hmac), key files, small-cell suppression
(checked with an independent linear-programming attack on the published totals)."""

from __future__ import annotations

import hashlib
import hmac
import os
import stat

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog

from psyscreen.privacy import KeyFileError, add_margins, load_key, new_key, pseudonymise, suppress_small

KEY = bytes(range(32))


# ---- pseudonymise ------------------------------------------------------------------------------

def test_pseudonymise_equals_hmac_sha256_and_keeps_missing():
    ids = pd.Series(["00123", "4567", None, "00123", "张三01"], index=[5, 6, 7, 8, 9], name="student_id")
    out = pseudonymise(ids, KEY)
    expected = [hmac.new(KEY, s.encode("utf-8"), hashlib.sha256).hexdigest() for s in ["00123", "4567"]]
    assert out.loc[5] == expected[0] and out.loc[6] == expected[1]
    assert out.loc[9] == hmac.new(KEY, "张三01".encode(), hashlib.sha256).hexdigest()
    assert pd.isna(out.loc[7])
    assert out.loc[8] == out.loc[5]                      # deterministic within a call
    assert list(out.index) == [5, 6, 7, 8, 9] and out.name == "student_id"


def test_pseudonymise_deterministic_per_key_and_differs_across_keys():
    ids = pd.Series([f"{i:06d}" for i in range(200)])
    a1, a2 = pseudonymise(ids, KEY), pseudonymise(ids, KEY)
    b = pseudonymise(ids, bytes(reversed(KEY)))
    assert a1.equals(a2)
    assert (a1 != b).all()
    assert a1.nunique() == 200 and a1.str.fullmatch(r"[0-9a-f]{64}").all()
    assert "000001" not in set(a1)


def test_pseudonymise_refuses_short_key():
    with pytest.raises(KeyFileError, match="too short"):
        pseudonymise(pd.Series(["1"]), b"short")


# ---- key files ---------------------------------------------------------------------------------

def test_new_key_is_private_and_loads(tmp_path):
    path = new_key(tmp_path / "wave.key")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    text = path.read_text().strip()
    assert len(text) == 64 and int(text, 16) >= 0
    key = load_key(path)
    assert key == bytes.fromhex(text) and len(key) == 32
    with pytest.raises(FileExistsError):
        new_key(path)
    assert new_key(tmp_path / "b.key").read_text() != path.read_text()


def test_load_key_refuses_empty_short_missing_without_showing_the_key(tmp_path):
    empty = tmp_path / "empty.key"
    empty.write_text("  \n")
    with pytest.raises(KeyFileError, match="empty"):
        load_key(empty)
    short = tmp_path / "short.key"
    short.write_text("deadbeefcafe")
    with pytest.raises(KeyFileError, match="too short") as info:
        load_key(short)
    assert "deadbeefcafe" not in str(info.value)
    with pytest.raises(KeyFileError, match="no key file"):
        load_key(tmp_path / "absent.key")


# ---- suppression -------------------------------------------------------------------------------

def _table(seed, schools=3, grades=(7, 8, 9), sexes=("F", "M")):
    rng = np.random.default_rng(seed)
    idx = pd.MultiIndex.from_product([[f"S{i}" for i in range(schools)], list(grades), list(sexes)],
                                     names=["school", "grade", "sex"])
    lam = np.array([1.0, 2.5, 6.0, 40.0])
    return pd.DataFrame(rng.poisson(lam, (len(idx), 4)), index=idx, columns=["l1", "l2", "l3", "none"])


def _published_sums(table: pd.DataFrame, T="Total"):
    """Every sum a reader can check in the published table, derived here from the labels (not from the library):
    row totals, and each subtotal row = the rows one level below it."""
    keys = [k if isinstance(k, tuple) else (k,) for k in table.index]   # a one-level index as 1-tuples
    cols = list(table.columns)
    pos = {(k, c): i * len(cols) + j for i, k in enumerate(keys) for j, c in enumerate(cols)}
    eqs = []
    for k in keys:
        eqs.append((pos[(k, T)], [pos[(k, c)] for c in cols if c != T]))
    for k in keys:
        depth = next((d for d, v in enumerate(k) if v == T), len(k))
        if depth == len(k):
            continue
        kids = [kk for kk in keys if kk[:depth] == k[:depth] and kk[depth] != T
                and all(v == T for v in kk[depth + 1:])]
        for c in cols:
            eqs.append((pos[(k, c)], [pos[(kk, c)] for kk in kids]))
    return eqs


def _intervals(full: pd.DataFrame, shown: pd.DataFrame, min_cell: int, marks: int = 1):
    """For every hidden cell, the smallest and largest value consistent with everything shown (LP relaxation).

    ``marks=1``: every hidden cell carries one mark, so a reader knows only that it is 0 or more (what the tables
    publish). ``marks=2``: a reader also knows which hidden cells are small (1 to min_cell - 1), as the old ``<5``
    mark told."""
    vals = full.to_numpy(dtype=float).ravel()
    hid = shown.isna().to_numpy().ravel()
    small = (vals >= 1) & (vals < min_cell)
    hidx = np.flatnonzero(hid)
    col = {c: j for j, c in enumerate(hidx)}
    A, b = [], []
    for t, comps in _published_sums(full):
        row = np.zeros(len(hidx))
        rhs = 0.0
        for c, sign in [(t, -1.0)] + [(c, 1.0) for c in comps]:
            if hid[c]:
                row[col[c]] += sign
            else:
                rhs -= sign * vals[c]
        if row.any():
            A.append(row)
            b.append(rhs)
        else:
            assert abs(rhs) < 1e-9  # the shown cells alone must add up
    bounds = [(1, min_cell - 1) if small[c] and marks == 2 else (0, None) for c in hidx]
    out = {}
    for j, c in enumerate(hidx):
        obj = np.zeros(len(hidx))
        obj[j] = 1
        lo = linprog(obj, A_eq=np.array(A), b_eq=np.array(b), bounds=bounds, method="highs")
        hi = linprog(-obj, A_eq=np.array(A), b_eq=np.array(b), bounds=bounds, method="highs")
        assert lo.status == 0 and hi.status in (0, 3)   # feasible (the truth is a solution); a count may be unbounded
        out[c] = (lo.fun, np.inf if hi.status == 3 else -hi.fun, small[c])
    return out


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_suppression_no_small_count_visible_and_none_recoverable(seed):
    counts = _table(seed)
    full = add_margins(counts)
    shown = suppress_small(counts, 5)
    assert shown.shape == full.shape and list(shown.index) == list(full.index)
    vis = shown.to_numpy(dtype=float, na_value=np.nan)
    assert not ((vis >= 1) & (vis <= 4)).any()            # primary: no count 1..4 shown anywhere
    both = shown.notna()
    assert (shown[both] == full[both]).all().all()        # what is shown is the truth
    small = ((full >= 1) & (full < 5)).to_numpy().sum()
    assert small > 0                                      # the case is not trivial
    intervals = _intervals(full, shown, 5)
    assert len(intervals) > sum(is_small for *_, is_small in intervals.values())   # secondary cells too
    for cell, (lo, hi, is_small) in intervals.items():
        # no hidden cell, small or not, is pinned down by the totals and what its mark says (0 or more)
        assert hi - lo >= 1 - 1e-6, (cell, lo, hi)


def test_suppression_one_level_index_and_nothing_small():
    c = pd.DataFrame({"red": [2, 10, 12], "none": [40, 50, 60]}, index=pd.Index(["A", "B", "C"], name="school"))
    shown = suppress_small(c)
    assert pd.isna(shown.loc["A", "red"])
    assert shown.isna().sum(axis=1).loc["A"] >= 2 and shown["red"].isna().sum() >= 2
    big = pd.DataFrame({"a": [10, 20], "b": [0, 30], "c": [6, 0]}, index=pd.Index(["x", "y"]))
    assert suppress_small(big).equals(add_margins(big))   # zeros and large counts are shown as they are
    with pytest.raises(ValueError):
        suppress_small(c * -1)


def test_safe_frame_leaves_numbers_in_object_columns_alone():
    import pandas as pd

    from psyscreen.privacy import safe_frame

    frame = pd.DataFrame({"ints": pd.Series([1, -2, 3], dtype=object),
                          "mixed": pd.Series([-5, "=SUM(A1)", "ok"], dtype=object)})
    out = safe_frame(frame)
    assert out["ints"].tolist() == [1, -2, 3]
    assert out["mixed"].tolist() == [-5, "'=SUM(A1)", "ok"]


def _pinned_by_rank(full: pd.DataFrame, hidden: np.ndarray) -> np.ndarray:
    """Hidden cells the published sums determine exactly, by brute-force linear algebra: a cell is determined iff
    adding its unit vector to the sums (restricted to the hidden cells) does not raise their rank."""
    hidx = np.flatnonzero(hidden)
    col = {c: j for j, c in enumerate(hidx)}
    rows = []
    for t, comps in _published_sums(full):
        row = np.zeros(len(hidx))
        for c, sign in [(t, -1.0)] + [(c, 1.0) for c in comps]:
            if hidden[c]:
                row[col[c]] += sign
        rows.append(row)
    A = np.array(rows)
    rank = np.linalg.matrix_rank(A)
    out = np.zeros(hidden.size, bool)
    for j, c in enumerate(hidx):
        unit = np.zeros((1, len(hidx)))
        unit[0, j] = 1.0
        out[c] = np.linalg.matrix_rank(np.vstack([A, unit])) == rank
    return out


@pytest.mark.parametrize("seed", range(12))
def test_exact_audit_equals_a_rank_test(seed):
    # The audit finds cells the sums pin down as bridges of a graph (privacy._determined); it must agree with
    # plain linear algebra for any pattern of hidden cells, in one-, two- and three-level tables.
    from psyscreen import privacy

    rng = np.random.default_rng(seed)
    shape = [dict(schools=1, grades=(7,), sexes=("F", "M", "?")), dict(schools=3, grades=(7, 8), sexes=("F", "M")),
             dict(schools=2, grades=(7, 8, 9), sexes=("F",))][seed % 3]
    counts = _table(seed, **shape)
    if seed % 4 == 3:
        counts = counts.groupby(level="school").sum()
    full = add_margins(counts)
    sums = privacy._equations(full, "Total")
    n = full.size
    for share in (0.15, 0.35, 0.6):
        hidden = rng.random(n) < share
        got = privacy._determined(privacy._hidden_graph(sums, hidden), n)
        assert np.array_equal(got, _pinned_by_rank(full, hidden)), (seed, share)


@pytest.mark.parametrize("seed", range(12))
def test_bounds_audit_equals_two_linear_programs_per_cell(seed):
    # privacy._pinned finds the hidden cells that the sums and the bounds a reader knows pin down, from a flow graph
    # (held cells, then bridges); it must agree with the LP attack of this file, for the bounds of one mark (>= 0)
    # and for tighter ones (1..4 for a small count, as two marks told).
    from psyscreen import privacy

    rng = np.random.default_rng(100 + seed)
    shape = [dict(schools=2, grades=(7,), sexes=("F", "M")), dict(schools=3, grades=(7, 8), sexes=("F", "M")),
             dict(schools=2, grades=(7, 8, 9), sexes=("F",))][seed % 3]
    counts = _table(seed, **shape)
    if seed % 4 == 3:
        counts = counts.groupby(level="school").sum()
    full = add_margins(counts)
    vals = full.to_numpy(dtype=float).ravel()
    primary = (vals >= 1) & (vals < 5)
    sums = privacy._equations(full, "Total")
    found = {1: 0, 2: 0}
    for share in (0.1, 0.3, 0.5):
        hidden = primary | (rng.random(vals.size) < share)
        shown = full.mask(hidden.reshape(full.shape))
        for marks in (1, 2):
            lower = np.where(primary & (marks == 2), 1.0, 0.0)
            upper = np.where(primary & (marks == 2), 4.0, np.inf)
            expected = sorted(c for c, (lo, hi, _) in _intervals(full, shown, 5, marks).items() if hi - lo < 1 - 1e-7)
            pinned = privacy._pinned(privacy._hidden_graph(sums, hidden), vals, lower, upper)
            assert sorted(pinned.tolist()) == expected, (seed, share, marks)
            found[marks] += len(expected)
    assert found[1] > 0 and found[2] >= found[1]   # some cells are pinned: the comparison is not trivial


@pytest.mark.parametrize("seed", range(6))
def test_add_margins_every_row_once_every_sum_holds_subtotals_after_their_group(seed):
    rng = np.random.default_rng(seed)
    counts = _table(seed, schools=4, grades=(9, 7, 8))
    counts = counts.iloc[rng.permutation(len(counts))[: len(counts) - 3]]   # shuffled, some rows missing
    full = add_margins(counts)
    body = [k for k in full.index if "Total" not in k]
    assert sorted(body) == sorted(counts.index) and len(body) == len(counts)
    assert full.loc[body, counts.columns].equals(counts.loc[body].astype("Int64"))
    vals = full.to_numpy(dtype=float).ravel()
    for t, comps in _published_sums(full):
        assert vals[t] == vals[comps].sum()
    keys = list(full.index)
    assert keys[-1] == ("Total",) * 3
    for i, k in enumerate(keys):
        depth = next((d for d, v in enumerate(k) if v == "Total"), 3)
        if 0 < depth < 3:   # a subtotal comes after every row of its group, and right after the group ends
            members = [j for j, kk in enumerate(keys) if kk[:depth] == k[:depth] and j != i]
            assert max(members) == i - 1


def test_add_margins_refuses_a_total_label_the_data_uses():
    c = pd.DataFrame({"a": [1, 2], "b": [3, 4]},
                     index=pd.MultiIndex.from_tuples([("Total", 7), ("B", 7)], names=["school", "grade"]))
    with pytest.raises(ValueError, match="'Total' is also a value of school"):
        add_margins(c)
    with pytest.raises(ValueError, match="total label"):
        suppress_small(c)
    assert add_margins(c, total="Total*").loc[("Total*", "Total*"), "Total*"] == 10


@pytest.mark.parametrize("seed", range(2))
def test_joint_suppression_no_cell_of_either_table_pinned_with_files_split_and_merged(seed):
    # suppress_tables ties the participation table to the level table through the files' schools (a school split
    # over two files, two schools in one file, a file with no scored student); an integer-programming reader of
    # both tables and those ties pins no hidden cell, and a shared count is hidden in both or in neither.
    from scipy.optimize import Bounds, LinearConstraint, milp

    from psyscreen.privacy import suppress_tables

    rng = np.random.default_rng(seed)
    counts = _table(seed, schools=4, grades=(7, 8), sexes=("F", "M"))
    n_school = counts.groupby(level="school").sum().sum(axis=1)
    split = int(rng.integers(1, n_school["S0"]))
    files = {"a": ["S0"], "b": ["S0"], "c": ["S1", "S2"], "d": ["S3"], "e": []}
    scored = {"a": split, "b": n_school["S0"] - split, "c": n_school["S1"] + n_school["S2"], "d": n_school["S3"], "e": 0}
    part = pd.DataFrame({"scored": pd.Series(scored), "quarantined": rng.integers(0, 4, 5),
                         "duplicates": rng.integers(0, 3, 5)})
    levels, participation = suppress_tables(counts, 5, participation=part, schools_of=files)
    full_l, full_p = add_margins(counts), add_margins(part)
    cells = [("L", i) for i in range(full_l.size)] + [("P", i) for i in range(full_p.size)]
    vals = np.concatenate([full_l.to_numpy(dtype=float).ravel(), full_p.to_numpy(dtype=float).ravel()])
    hid = np.concatenate([levels.isna().to_numpy().ravel(), participation.isna().to_numpy().ravel()])
    assert hid.any()
    pos = {c: k for k, c in enumerate(cells)}
    rows = []
    for t, comps in _published_sums(full_l):
        rows.append({pos[("L", t)]: -1, **{pos[("L", c)]: 1 for c in comps}})
    for t, comps in _published_sums(full_p):
        rows.append({pos[("P", t)]: -1, **{pos[("P", c)]: 1 for c in comps}})
    ncol_l, ncol_p = full_l.shape[1], full_p.shape[1]
    lkeys, pkeys = list(full_l.index), list(full_p.index)
    school_n = {k[0]: pos[("L", i * ncol_l + ncol_l - 1)] for i, k in enumerate(lkeys) if k[1:] == ("Total", "Total")}
    file_n = {k: pos[("P", i * ncol_p)] for i, k in enumerate(pkeys)}
    rows.append({file_n["a"]: 1, file_n["b"]: 1, school_n["S0"]: -1})
    rows.append({file_n["c"]: 1, school_n["S1"]: -1, school_n["S2"]: -1})
    rows.append({file_n["d"]: 1, school_n["S3"]: -1})
    rows.append({file_n["e"]: 1})
    rows.append({file_n["Total"]: 1, school_n["Total"]: -1})
    A = np.zeros((len(rows), len(cells)))
    for r, eq in enumerate(rows):
        for k, v in eq.items():
            A[r, k] += v
    assert np.allclose(A @ vals, 0)   # the ties hold in the data
    lo = np.where(hid, 0, vals)
    hi = np.where(hid, vals.max(), vals)
    cons = LinearConstraint(A, 0, 0)
    for k in np.flatnonzero(hid):
        obj = np.zeros(len(cells))
        obj[k] = 1
        a = milp(obj, integrality=np.ones(len(cells)), bounds=Bounds(lo, hi), constraints=cons)
        b = milp(-obj, integrality=np.ones(len(cells)), bounds=Bounds(lo, hi), constraints=cons)
        assert a.status == 0 and b.status == 0
        assert -b.fun - a.fun >= 1 - 1e-6, (cells[k], a.fun, -b.fun)
    for f, ss in files.items():   # a file's scored count with one school: hidden exactly when the school's total is
        if len(ss) == 1 and scored[f] == n_school[ss[0]]:
            assert hid[file_n[f]] == hid[school_n[ss[0]]]
    assert not hid[file_n["e"]]   # a 0 that the level table implies is never hidden
