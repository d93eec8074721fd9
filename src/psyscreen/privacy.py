"""Privacy helpers: cell values that a spreadsheet program will not execute.

A CSV or Excel file that psyscreen writes may carry text that came from an export (a student's free
answer, a column header, a value set aside in the quarantine). Spreadsheet programs treat a cell whose
text starts with ``=``, ``+``, ``-`` or ``@`` as a formula ("CSV / formula injection", OWASP); a tab or a
carriage return at the start is treated the same way by some of them. :func:`safe_cell` makes such text
inert by putting an apostrophe ``'`` in front of it, the prefix spreadsheet users know for "this is
text": the value stays readable (``'=1+2``), nothing runs, and a person can see it was escaped.

Only text is touched: numbers, booleans, dates and missing values pass through unchanged, so a numeric
score column written by psyscreen is never turned into text.

Examples
--------
>>> safe_cell("=HYPERLINK(\\"http://x\\")")
'\\'=HYPERLINK("http://x")'
>>> safe_cell("张三"), safe_cell(-3), safe_cell("00123")
('张三', -3, '00123')
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
import pandas as pd

__all__ = ["safe_cell", "safe_frame", "FORMULA_PREFIXES"]

#: First characters that make a spreadsheet program read a text cell as a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_PATTERN = r"^[=+\-@\t\r]"


def safe_cell(value: Any) -> Any:
    """Return ``value`` with an apostrophe in front if it is text that starts like a formula.

    Parameters
    ----------
    value : any
        A cell value. Only ``str`` values are changed.

    Returns
    -------
    any
        ``"'" + value`` for text starting with one of :data:`FORMULA_PREFIXES`, else ``value`` unchanged.
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _safe_series(s: pd.Series) -> pd.Series:
    if isinstance(s.dtype, pd.CategoricalDtype):
        cats = s.cat.categories
        if cats.dtype == object or pd.api.types.is_string_dtype(cats.dtype):
            return s.cat.rename_categories([safe_cell(c) for c in cats])
        return s
    if not (s.dtype == object or pd.api.types.is_string_dtype(s.dtype)):
        return s
    if s.dtype == object:
        kind = pd.api.types.infer_dtype(s, skipna=True)
        if kind not in ("string", "mixed", "mixed-integer", "mixed-integer-float"):
            return s  # no text at all (e.g. integers held in an object column): numbers are never touched
        if kind != "string":  # text mixed with numbers: only the text cells are candidates
            is_text = np.fromiter((isinstance(v, str) for v in s.to_numpy()), dtype=bool, count=len(s))
            text = s.where(is_text)
            hit = text.astype("string").str.match(_PATTERN).fillna(False).astype(bool)
            if not hit.any():
                return s
            out = s.copy()
            out[hit] = "'" + s[hit].astype(str)
            return out
    hit = s.str.match(_PATTERN).fillna(False).astype(bool)  # NaN -> False
    if not hit.any():
        return s
    out = s.copy()
    out[hit] = "'" + s[hit].astype(str)
    return out


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with every text cell (and column name) made inert with :func:`safe_cell`.

    Vectorised per column (``Series.str.match``); numeric, boolean and date columns are returned as they
    are. Categorical columns have their text categories escaped.

    Examples
    --------
    >>> import pandas as pd
    >>> out = safe_frame(pd.DataFrame({"note": ["=1+2", "ok", None], "score": [-1.0, 2.0, 3.0]}))
    >>> out["note"].tolist(), out["score"].tolist()
    (["'=1+2", 'ok', nan], [-1.0, 2.0, 3.0])
    """
    out = frame.copy()
    for j in range(out.shape[1]):
        col = out.iloc[:, j]
        new = _safe_series(col)
        if new is not col:
            out.isetitem(j, new)
    out.columns = [safe_cell(c) for c in out.columns]
    return out


# ---- pseudonymous ids, key files, small-cell suppression (report helper) -------------------------------------
#
# Everything below is used by the screening outputs (psyscreen.report): ids leave the school level only as a
# keyed hash, and aggregate tables leave the county only with small counts suppressed.

import hashlib as _hashlib
import hmac as _hmac
import os as _os
import secrets as _secrets
from pathlib import Path as _Path

import numpy as _np

__all__ += [  # noqa: F821 - extends the list defined at the top of the module
    "KeyFileError",
    "MIN_KEY_BYTES",
    "pseudonymise",
    "load_key",
    "new_key",
    "add_margins",
    "suppress_small",
    "TOTAL",
]

#: The shortest key :func:`load_key` accepts, in bytes (HMAC-SHA-256 keys should have at least 128 bits).
MIN_KEY_BYTES = 16
#: Label of the total rows and column added by :func:`add_margins`.
TOTAL = "Total"


class KeyFileError(ValueError):
    """A pseudonymisation key file that is missing, empty or too short (the message never shows the key)."""


def pseudonymise(ids: pd.Series, key: bytes) -> pd.Series:
    """Replace student ids by their keyed hash: HMAC-SHA-256 of the UTF-8 id, as 64 hex digits.

    The same id and key always give the same hash (so waves can be linked), a different key gives unrelated
    hashes, and without the key the id cannot be recovered or confirmed by hashing guesses (unlike a plain
    SHA-256 of an id, which is trivially reversed by trying every possible id).

    The hash is computed with the standard library's :mod:`hmac` in a list comprehension over the *distinct* ids
    (``hmac`` has no vectorised form; one HMAC costs about a microsecond, so 300,000 ids take well under a
    second), then mapped back onto the Series. Missing ids stay missing.

    Parameters
    ----------
    ids : Series
        Student ids (any dtype; each is converted with ``str`` first, so ``00123`` must already be text to
        keep its leading zeros).
    key : bytes
        The secret key (see :func:`load_key`, :func:`new_key`).

    Returns
    -------
    Series
        Same index and name, string dtype.

    Raises
    ------
    KeyFileError
        If ``key`` is not bytes or shorter than :data:`MIN_KEY_BYTES`.

    Examples
    --------
    >>> import hashlib, hmac
    >>> key = bytes(range(32))
    >>> out = pseudonymise(pd.Series(["00123", None]), key)
    >>> out[0] == hmac.new(key, b"00123", hashlib.sha256).hexdigest(), out.isna().tolist()
    (True, [False, True])
    """
    if not isinstance(key, (bytes, bytearray)):
        raise KeyFileError("the pseudonymisation key must be bytes (use psyscreen.privacy.load_key)")
    if len(key) < MIN_KEY_BYTES:
        raise KeyFileError(f"the pseudonymisation key is too short ({len(key)} bytes; at least {MIN_KEY_BYTES} needed)")
    key = bytes(key)
    s = pd.Series(ids)
    present = s.notna()
    codes, uniques = pd.factorize(s[present].astype(str))
    hashed = _np.array([_hmac.new(key, u.encode("utf-8"), _hashlib.sha256).hexdigest() for u in uniques],
                       dtype=object)
    out = pd.Series(pd.NA, index=s.index, dtype="string", name=s.name)
    if len(codes):
        out[present] = hashed[codes]
    return out


def load_key(path) -> bytes:
    """Read a pseudonymisation key file (as written by :func:`new_key`).

    The file holds the key as hex digits (64 for 32 bytes; surrounding white space is ignored); a file that is
    not hex is used as raw bytes. The key itself is never printed, logged or put into an error message.

    Raises
    ------
    KeyFileError
        If the file does not exist, is empty, or the key is shorter than :data:`MIN_KEY_BYTES` bytes.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "wave.key"
    >>> _ = new_key(p)
    >>> len(load_key(p))
    32
    """
    path = _Path(path)
    if not path.is_file():
        raise KeyFileError(f"{path}: no key file there; create one with `psyscreen key new {path}` "
                           "(psyscreen.privacy.new_key) and keep it away from the outputs")
    raw = path.read_bytes()
    text = raw.strip()
    if not text:
        raise KeyFileError(f"{path}: the key file is empty; create a key with psyscreen.privacy.new_key")
    try:
        key = bytes.fromhex(text.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        key = raw
    if len(key) < MIN_KEY_BYTES:
        raise KeyFileError(f"{path}: the key is too short ({len(key)} bytes; at least {MIN_KEY_BYTES} bytes, "
                           f"i.e. {2 * MIN_KEY_BYTES} hex digits, are needed); create one with psyscreen.privacy.new_key")
    return key


def new_key(path, *, overwrite: bool = False) -> _Path:
    """Write a new random key (32 bytes from :mod:`secrets`, as 64 hex digits) to ``path``, readable by the owner only.

    The file is created with permissions 0600 from the start (never world-readable, even for an instant).
    An existing key is not replaced unless ``overwrite=True``: losing a key breaks the link between waves.

    Returns
    -------
    Path
        The key file.
    """
    path = _Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path}: a key file exists already; it is kept (pass overwrite=True to replace it)")
    tmp = path.with_name(f".{path.name}.{_secrets.token_hex(4)}.tmp")
    fd = _os.open(tmp, _os.O_WRONLY | _os.O_CREAT | _os.O_EXCL, 0o600)
    try:
        with _os.fdopen(fd, "w") as fh:
            fh.write(_secrets.token_hex(32) + "\n")
            fh.flush()
            _os.fsync(fh.fileno())
        _os.chmod(tmp, 0o600)  # in case a umask or file system widened it
        _os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def add_margins(counts: pd.DataFrame, *, total: str = TOTAL) -> pd.DataFrame:
    """``counts`` with a total column and total rows: one per value of each leading index level, and a grand total.

    For an index (school, grade, sex), rows ``(school, total, total)`` hold each school's subtotal and
    ``(total, total, total)`` the grand total; the column ``total`` holds row sums. Subtotal rows follow
    their group; the grand total comes last. The values are integers (Int64).

    Examples
    --------
    >>> c = pd.DataFrame({"a": [1, 2], "b": [3, 4]}, index=pd.Index(["x", "y"], name="g"))
    >>> add_margins(c).to_dict("index")
    {'x': {'a': 1, 'b': 3, 'Total': 4}, 'y': {'a': 2, 'b': 4, 'Total': 6}, 'Total': {'a': 3, 'b': 7, 'Total': 10}}
    """
    body = counts.astype("Int64").copy()
    body[total] = body.sum(axis=1).astype("Int64")
    idx = body.index
    nlev = idx.nlevels
    if nlev == 1:
        grand = body.sum().to_frame().T
        grand.index = pd.Index([total], name=idx.name)
        return pd.concat([body, grand]).astype("Int64")
    # Each row's place: per level, the first-appearance rank of its label path down to that level; a subtotal
    # row ranks after every row of its group at the levels it totals over. One sort then puts each subtotal
    # after its group and the grand total last.
    paths = [pd.MultiIndex.from_arrays([idx.get_level_values(i) for i in range(d + 1)]) for d in range(nlev)]
    ranks = _np.column_stack([pd.factorize(path)[0] for path in paths])
    pieces, places = [body], [ranks]
    for d in range(nlev - 1, -1, -1):  # subtotals over the last nlev - d levels (d = 0: the grand total)
        if d:
            sub = body.groupby(level=list(range(d)), sort=False, dropna=False).sum()
            first = body.index.to_frame(index=False).iloc[:, :d].drop_duplicates().index  # a row of each group
            place = ranks[first].copy()
        else:
            sub = body.sum().to_frame().T
            place = _np.zeros((1, nlev), int)
        labels = [sub.index.get_level_values(i) for i in range(d)]
        sub.index = pd.MultiIndex.from_arrays(labels + [[total] * len(sub)] * (nlev - d), names=idx.names)
        place[:, d:] = len(body) + 1
        pieces.append(sub)
        places.append(place)
    out = pd.concat(pieces)
    order = _np.lexsort(_np.vstack(places).T[::-1])
    return out.iloc[order].astype("Int64")


def _equations(table: pd.DataFrame, total: str) -> tuple[list[tuple[int, _np.ndarray]], _np.ndarray]:
    """The published sums of a table from :func:`add_margins`, as (total cell, component cells) in flat indices.

    Row sums: each row's total column = its other columns. Column sums: each subtotal row = the rows (or the
    subtotals) one level below it, column by column. Also returns, per sum, whether it is implied by the others:
    the row sum of a subtotal row is the sum of its children's row sums (each column summed down the tree).
    """
    nrow, ncol = table.shape
    cols = list(table.columns)
    tcol = cols.index(total)
    comp_cols = _np.array([j for j in range(ncol) if j != tcol])
    eqs: list[tuple[int, _np.ndarray]] = []
    for i in range(nrow):
        eqs.append((i * ncol + tcol, i * ncol + comp_cols))
    idx = table.index
    nlev = idx.nlevels
    keys = [k if isinstance(k, tuple) else (k,) for k in idx]
    # depth of a row: number of leading non-total labels (a body row has depth nlev)
    depth = [next((d for d, v in enumerate(k) if v == total), nlev) for k in keys]
    implied = _np.array([d < nlev for d in depth], dtype=bool)
    # the children of a subtotal row (depth d): rows of depth d + 1 that share its first d labels
    children: dict[tuple, list[int]] = {}
    for r, (k, d) in enumerate(zip(keys, depth)):
        if d >= 1:
            children.setdefault((d, k[:d - 1]), []).append(r)
    for i, (k, d) in enumerate(zip(keys, depth)):
        if d == nlev:
            continue
        kids = children.get((d + 1, k[:d]))
        if not kids:
            continue
        kids = _np.array(kids)
        for j in range(ncol):
            eqs.append((i * ncol + j, kids * ncol + j))
    implied = _np.concatenate([implied, _np.zeros(len(eqs) - nrow, bool)])
    return eqs, implied


def _determined(eqs, implied: _np.ndarray, n: int, hidden: _np.ndarray) -> _np.ndarray:
    """Hidden cells that the published sums pin down exactly (ignoring bounds).

    Without the implied sums (:func:`_equations`), every cell of a table from :func:`add_margins` is in at most
    two sums: a body cell in its row's sum and its column's sum one level up, a subtotal cell in the sum it totals
    and the sum one level up, a grand total in one. So the sums are the nodes of a graph and each hidden cell is an
    edge between its two sums (or to one outside node when it is in only one), and the constraint matrix is, up to
    the sign of its rows, that graph's incidence matrix: changes to the hidden cells that leave every sum as
    published are exactly the circulations on the graph. A hidden cell is therefore pinned down exactly when it is
    on no cycle -- when it is a bridge of the graph. This is the same answer as a rank test (the cell's unit vector
    in the row space of the sums restricted to the hidden cells) in time linear in the table's size.
    """
    import networkx as nx

    out = _np.zeros(n, bool)
    ends: dict[int, list[int]] = {}
    for e, (t, comps) in enumerate(eqs):
        if implied[e]:
            continue
        for c in (t, *comps):
            if hidden[c]:
                ends.setdefault(int(c), []).append(e)
    graph = nx.Graph()
    outside = -1
    for c, es in ends.items():
        if len(es) > 2:
            raise AssertionError("a cell is in more than two independent sums; the table is not from add_margins")
        graph.add_edge(es[0], es[1] if len(es) == 2 else outside, cell=c)
    for u, v in nx.bridges(graph):
        out[graph.edges[u, v]["cell"]] = True
    return out


#: Up to this many hidden cells, :func:`suppress_small` also audits with linear programs that use the bounds a
#: reader knows (a hidden small count is 1..min_cell-1, any count is >= 0); above it only the exact audit runs.
_LP_AUDIT_MAX = 3000


def _pinned(eqs, vals: _np.ndarray, hidden: _np.ndarray, primary: _np.ndarray, min_cell: int) -> _np.ndarray:
    """Hidden small cells whose range, given every shown value, every published sum and the bounds, is narrower
    than 1 (found with two linear programs per cell, HiGHS)."""
    from scipy.optimize import linprog
    from scipy.sparse import coo_matrix

    hid = _np.flatnonzero(hidden)
    pos = -_np.ones(vals.size, int)
    pos[hid] = _np.arange(hid.size)
    rows, cols, coef, rhs = [], [], [], []
    r = 0
    for t, comps in eqs:
        cells = _np.concatenate([[t], comps])
        sign = _np.concatenate([[-1.0], _np.ones(len(comps))])
        h = pos[cells] >= 0
        if not h.any():
            continue
        rows += [r] * int(h.sum())
        cols += pos[cells[h]].tolist()
        coef += sign[h].tolist()
        rhs.append(-float((sign[~h] * vals[cells[~h]]).sum()))
        r += 1
    if r == 0:
        return _np.array([], int)
    A = coo_matrix((coef, (rows, cols)), shape=(r, hid.size)).tocsr()
    b = _np.array(rhs)
    bounds = [(1, min_cell - 1) if primary[c] else (0, None) for c in hid]
    # Any two feasible tables that differ by 1 or more at a cell prove that cell is not pinned down. A few
    # linear programs in random directions give such tables for most cells at once; only the cells they leave
    # undecided get their own pair of programs (smallest and largest value).
    rng = _np.random.default_rng(0)
    lo_seen = _np.full(hid.size, _np.inf)
    hi_seen = _np.full(hid.size, -_np.inf)

    def solve(obj) -> Optional[float]:
        res = linprog(obj, A_eq=A, b_eq=b, bounds=bounds, method="highs")
        if res.status != 0:
            return None
        _np.minimum(lo_seen, res.x, out=lo_seen)
        _np.maximum(hi_seen, res.x, out=hi_seen)
        return res.fun

    small = _np.array([primary[c] for c in hid])
    for _ in range(4):
        direction = rng.normal(size=hid.size)
        solve(direction)
        solve(-direction)
    out = []
    for j in _np.flatnonzero(small):
        if hi_seen[j] - lo_seen[j] >= 1 - 1e-7:
            continue
        obj = _np.zeros(hid.size)
        obj[j] = 1.0
        lo, hi = solve(obj), solve(-obj)
        if lo is not None and hi is not None and (-hi - lo) < 1 - 1e-7:
            out.append(hid[j])
    return _np.array(out, int)


def suppress_small(counts: pd.DataFrame, min_cell: int = 5, *, total: str = TOTAL,
                   fixed_hidden: pd.DataFrame | None = None, avoid: pd.DataFrame | None = None) -> pd.DataFrame:
    """Counts with margins (:func:`add_margins`) where small counts, and whatever would reveal them, are hidden.

    The rule
    --------
    1. **Primary**: every cell (body, subtotal or total) with ``1 <= count < min_cell`` is hidden. Zeros are
       shown (they are structural information, not a person).
    2. **Secondary**, for every published sum (a row's total = its cells; a subtotal = the rows below it,
       column by column), repeated until nothing changes:

       a. a sum never has exactly one hidden cell (it would be the total minus the others): hide one more,
          the cheapest of the sum's other cells -- the smallest non-zero body count first, then zeros, then
          totals last;
       b. when the total of a sum is shown, the hidden cells of the sum must add up to ``min_cell`` or more
          (else "the two hidden cells together are 3" still reveals a small count), and must include a cell that
          is not itself small (two hidden small cells adding up to 8 must both be 4, since a reader knows a
          hidden small cell is at most ``min_cell - 1``): hide one more likewise;
       c. no hidden cell may be pinned down by combining the sums (an exact linear-algebra audit of the
          whole system: a hidden cell is exposed when the unit vector of that cell lies in the row space
          of the sums restricted to hidden cells; found in linear time as the bridges of the graph the sums make,
          see ``_determined``); an exposed cell gets one more hidden cell in one of its sums;
       d. no hidden small count may be pinned down by the sums together with the bounds a reader knows (a hidden
          small count is between 1 and ``min_cell - 1``, every count is at least 0): for each hidden small cell two
          linear programs find its smallest and largest possible value; if they are less than 1 apart, one more
          cell of its sums is hidden. (Run when at most 3,000 cells are hidden; larger tables get rules a-c.)

    Rates derived from a hidden count, or from a row whose total is hidden, must be blanked by the caller.

    Parameters
    ----------
    counts : DataFrame
        Non-negative integer counts: index = groups (a MultiIndex such as school x grade x sex gives nested
        subtotals), columns = categories (e.g. warning levels). Without totals: they are added here.
    min_cell : int, default 5
        The smallest count that may be shown.
    total : str
        Label of the total column and rows.
    fixed_hidden : DataFrame of bool, optional
        Cells (same labels as the result) to hide whatever their count, e.g. because another published
        table hides them.
    avoid : DataFrame of bool, optional
        Cells to choose for secondary suppression only when nothing else will do, e.g. because another
        published table shows them (hiding them here would protect nothing).

    Returns
    -------
    DataFrame
        The table with margins, Int64, hidden cells ``<NA>``. Primary cells are those of ``add_margins(counts)``
        with ``1 <= count < min_cell``; the other ``<NA>`` cells are secondary.

    Examples
    --------
    >>> c = pd.DataFrame({"red": [2, 10, 12], "none": [40, 50, 60]}, index=pd.Index(["A", "B", "C"], name="school"))
    >>> out = suppress_small(c)
    >>> out.isna().sum().sum() >= 2 and pd.isna(out.loc["A", "red"])
    True
    """
    if min_cell < 1:
        raise ValueError(f"min_cell must be at least 1; got {min_cell}")
    if (counts < 0).any().any():
        raise ValueError("counts must not be negative")
    table = add_margins(counts, total=total)
    nrow, ncol = table.shape
    vals = table.to_numpy(dtype=float, na_value=0.0).ravel()
    primary = (vals >= 1) & (vals < min_cell)
    hidden = primary.copy()
    if fixed_hidden is not None:
        fh = fixed_hidden.reindex(index=table.index, columns=table.columns, fill_value=False)
        hidden |= fh.to_numpy(dtype=bool).ravel()
    if not hidden.any():
        return table
    eqs, implied = _equations(table, total)
    is_total = _np.zeros((nrow, ncol), bool)
    is_total[:, list(table.columns).index(total)] = True
    keys = [k if isinstance(k, tuple) else (k,) for k in table.index]
    is_total[[total in k for k in keys], :] = True
    is_total = is_total.ravel()
    big = 10.0 * (vals.max() + 1)
    cost = _np.where(vals > 0, vals, big) + _np.where(is_total, 100 * big, 0.0)
    if avoid is not None:
        av = avoid.reindex(index=table.index, columns=table.columns, fill_value=False).to_numpy(dtype=bool).ravel()
        cost = cost + _np.where(av, 10_000 * big, 0.0)
    cell_eqs: list[list[int]] = [[] for _ in range(vals.size)]
    for e, (t, comps) in enumerate(eqs):
        for c in (t, *comps):
            cell_eqs[c].append(e)

    def hide_one_more(e: int) -> bool:
        t, comps = eqs[e]
        cells = _np.concatenate([[t], comps])
        cand = cells[~hidden[cells]]
        if cand.size == 0:
            return False
        hidden[cand[_np.argmin(cost[cand])]] = True
        return True

    for _ in range(10 * vals.size):
        changed = False
        for e, (t, comps) in enumerate(eqs):
            k = int(hidden[t]) + int(hidden[comps].sum())
            if k == 1:
                changed |= hide_one_more(e)
            elif not hidden[t] and k >= 1:
                hc = comps[hidden[comps]]
                if vals[hc].sum() < min_cell or primary[hc].all():
                    changed |= hide_one_more(e)
        if changed:
            continue
        exposed = _np.flatnonzero(_determined(eqs, implied, vals.size, hidden))
        if exposed.size == 0 and hidden.sum() <= _LP_AUDIT_MAX:
            exposed = _pinned(eqs, vals, hidden, primary, min_cell)
        if exposed.size == 0:
            break
        for c in exposed:
            for e in cell_eqs[c]:
                if hide_one_more(e):
                    changed = True
                    break
        if not changed:  # nothing left to hide: hide every cell of the exposed cells' sums
            break
    out = table.copy()
    out[pd.DataFrame(hidden.reshape(nrow, ncol), index=table.index, columns=table.columns)] = pd.NA
    return out
