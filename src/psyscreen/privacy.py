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

from typing import Any

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
from dataclasses import dataclass
from typing import NamedTuple
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
    "suppress_tables",
    "HIDDEN",
    "TOTAL",
    "total_label",
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
    not hex (a passphrase) is used as raw bytes without its trailing line ending: the CR/LF characters at the end
    of the file are removed, so a passphrase saved with a Unix (LF) or Windows (CRLF) line ending, or with none,
    is the same key. Any other character (spaces included) is part of the passphrase. The key itself is never
    printed, logged or put into an error message. Make a key with ``psyscreen key new FILE``.

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
    >>> _ = p.write_bytes(b"a long county passphrase\\r\\n")
    >>> load_key(p) == b"a long county passphrase"
    True
    """
    path = _Path(path)
    if not path.is_file():
        raise KeyFileError(f"{path}: no key file there; create one with `psyscreen key new {path}` "
                           "and keep it away from the outputs")
    raw = path.read_bytes()
    text = raw.strip()
    if not text:
        raise KeyFileError(f"{path}: the key file is empty; create a key with `psyscreen key new {path} --force` "
                           "(this replaces it: only if no wave was pseudonymised with it)")
    try:
        key = bytes.fromhex(text.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        key = raw.rstrip(b"\r\n")  # a passphrase: its line ending is not part of it
    if len(key) < MIN_KEY_BYTES:
        raise KeyFileError(f"{path}: the key is too short ({len(key)} bytes; at least {MIN_KEY_BYTES} bytes, "
                           f"i.e. {2 * MIN_KEY_BYTES} hex digits, are needed); create one with `psyscreen key new FILE`")
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


def total_label(preferred: str, labels) -> str:
    """``preferred``, or ``preferred`` with ``*`` appended until it is none of ``labels``.

    The margins of a table are found by their label, so a school, grade or class that happens to be called
    "Total" (合计) must not be mistaken for one: pick the total label with this.

    Examples
    --------
    >>> total_label("合计", ["一中", "合计"])
    '合计*'
    """
    used = {str(v) for v in labels}
    label = preferred
    while label in used:
        label += "*"
    return label


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
    clash = [str(name if name is not None else f"index level {level}") for level, name in enumerate(counts.index.names)
             if (counts.index.get_level_values(level).astype(str) == total).any()]
    if clash or total in counts.columns:
        raise ValueError(f"the total label {total!r} is also a value of {', '.join(clash) or 'the columns'}; "
                         f"choose another, e.g. with psyscreen.privacy.total_label")
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


#: The one mark of a hidden cell in a published table. Every hidden cell gets it, whatever the reason it is hidden
#: (a small count, a count that would reveal a whole group, or one hidden to protect another): a reader learns only
#: that the cell is a count (0 or more), never that it is small. Two marks (``<5`` for a small count, ``*`` for the
#: others) told a reader 1-4 and "0 or 5 and up", which pinned hidden counts exactly.
HIDDEN = "*"


@dataclass(frozen=True)
class _Sums:
    """The published sums of one or more tables, over the cells of all of them numbered flat.

    ``eqs[e]`` is ``(cells, coefs)``: the sum ``coefs @ vals[cells]`` is 0 (a total is -1, its parts +1). ``active``
    marks a set of sums that spans all of them and in which every cell is in at most two sums: with each active sum
    multiplied by a sign, a cell in two of them is added in one (its ``head``) and subtracted in the other (its
    ``tail``); a cell in one only has the outside node (``n_nodes - 1``) as its other end. The hidden cells are
    then the edges of a graph (see :func:`_hidden_graph`).
    """

    eqs: list
    active: _np.ndarray
    tail: _np.ndarray
    head: _np.ndarray
    n_nodes: int


class _Raw(NamedTuple):
    """The sums of one table from :func:`add_margins` (flat cells from ``offset``), before orientation."""

    eqs: list
    implied: list
    row_sum: dict    # row -> index of its row sum in eqs
    col_sum: dict    # (row, column) -> index of the sum that totals that subtotal cell


def _raw_equations(table: pd.DataFrame, total: str, offset: int = 0) -> _Raw:
    """Row sums (each row's total column = its other columns) and column sums (each subtotal row = the rows or
    subtotals one level below it, column by column) of a table from :func:`add_margins`. The row sum of a
    subtotal row is implied by the others (it is the sum of its children's row sums)."""
    nrow, ncol = table.shape
    tcol = list(table.columns).index(total)
    comp_cols = _np.array([j for j in range(ncol) if j != tcol])
    keys = [k if isinstance(k, tuple) else (k,) for k in table.index]
    nlev = table.index.nlevels
    depth = [next((d for d, v in enumerate(k) if v == total), nlev) for k in keys]
    eqs, implied, row_sum, col_sum = [], [], {}, {}
    for i in range(nrow):
        row_sum[i] = len(eqs)
        eqs.append((offset + _np.concatenate([[i * ncol + tcol], i * ncol + comp_cols]),
                    _np.concatenate([[-1], _np.ones(ncol - 1, int)])))
        implied.append(depth[i] < nlev)
    children: dict[tuple, list[int]] = {}
    for r, (k, d) in enumerate(zip(keys, depth)):
        if d >= 1:
            children.setdefault((d, k[:d - 1]), []).append(r)
    for i, (k, d) in enumerate(zip(keys, depth)):
        kids = children.get((d + 1, k[:d])) if d < nlev else None
        if not kids:
            continue
        kids = _np.array(kids)
        for j in range(ncol):
            col_sum[(i, j)] = len(eqs)
            eqs.append((offset + _np.concatenate([[i * ncol + j], kids * ncol + j]),
                        _np.concatenate([[-1], _np.ones(len(kids), int)])))
            implied.append(False)
    return _Raw(eqs, implied, row_sum, col_sum)


def _orient(eqs: list, active: _np.ndarray, n_cells: int) -> _Sums:
    """Signs for the active sums so that every cell is added in one and subtracted in the other (a two-colouring,
    found by a breadth-first search over the sums); the cells' ends in the graph of :func:`_hidden_graph`."""
    act = _np.flatnonzero(active)
    rows = _np.concatenate([_np.full(len(eqs[e][0]), e) for e in act]) if act.size else _np.zeros(0, int)
    cells = _np.concatenate([eqs[e][0] for e in act]) if act.size else _np.zeros(0, int)
    coefs = _np.concatenate([eqs[e][1] for e in act]) if act.size else _np.zeros(0, int)
    count = _np.bincount(cells, minlength=n_cells)
    if (count > 2).any():
        raise AssertionError("a cell is in more than two independent sums; the sums do not form a graph")
    order = _np.argsort(cells, kind="stable")
    cells, rows, coefs = cells[order], rows[order], coefs[order]
    first = _np.searchsorted(cells, _np.arange(n_cells))
    pair = count == 2
    e1, e2 = _np.full(n_cells, -1), _np.full(n_cells, -1)
    c1, c2 = _np.zeros(n_cells, int), _np.zeros(n_cells, int)
    has = count >= 1
    e1[has], c1[has] = rows[first[has]], coefs[first[has]]
    e2[pair], c2[pair] = rows[first[pair] + 1], coefs[first[pair] + 1]
    # s[e2] = -s[e1] * c1 * c2: an edge between the two sums of each cell with that parity
    links: dict[int, list[tuple[int, int]]] = {}
    for c in _np.flatnonzero(pair):
        par = -int(c1[c] * c2[c])
        links.setdefault(int(e1[c]), []).append((int(e2[c]), par))
        links.setdefault(int(e2[c]), []).append((int(e1[c]), par))
    sign = _np.zeros(len(eqs), int)
    for root in act:
        if sign[root]:
            continue
        sign[root] = 1
        stack = [int(root)]
        while stack:
            e = stack.pop()
            for f, par in links.get(e, ()):
                want = sign[e] * par
                if sign[f] == 0:
                    sign[f] = want
                    stack.append(f)
                elif sign[f] != want:
                    raise AssertionError("the sums cannot be oriented; the tables are not from add_margins")
    outside = len(eqs)
    o1 = _np.where(has, sign[_np.maximum(e1, 0)] * c1, 0)
    end1, end2 = _np.where(has, e1, outside), _np.where(pair, e2, outside)
    # o1 > 0: the cell is added in its first sum (its head); the other end is its tail
    tail = _np.where(o1 > 0, end2, end1)
    head = _np.where(o1 > 0, end1, end2)
    return _Sums(eqs, active, tail, head, outside + 1)


def _equations(table: pd.DataFrame, total: str) -> _Sums:
    """The published sums of one table from :func:`add_margins` (see :class:`_Sums`)."""
    raw = _raw_equations(table, total)
    return _orient(raw.eqs, ~_np.array(raw.implied, dtype=bool), table.size)


class _Graph(NamedTuple):
    """Hidden cells as edges: ``cells[k]`` (flat index) runs from node ``tail[k]`` to node ``head[k]``."""

    cells: _np.ndarray
    tail: _np.ndarray
    head: _np.ndarray
    n_nodes: int


def _hidden_graph(sums: _Sums, hidden: _np.ndarray) -> _Graph:
    """The hidden cells as the edges of a directed graph whose nodes are the active sums.

    Each active sum, multiplied by its sign, adds a cell in one sum (its head) and subtracts it in the other (its
    tail). The constraint matrix restricted to the hidden cells is then that graph's incidence matrix: changes of the
    hidden cells that keep every published sum are exactly the circulations (flows that balance at every node).
    """
    cells = _np.flatnonzero(hidden)
    return _Graph(cells, sums.tail[cells], sums.head[cells], sums.n_nodes)


def _bridges(tail: _np.ndarray, head: _np.ndarray) -> _np.ndarray:
    """Which edges of an undirected multigraph are bridges (an edge with a parallel twin or a loop never is)."""
    import networkx as nx

    out = _np.zeros(tail.size, bool)
    if not tail.size:
        return out
    lo, hi = _np.minimum(tail, head), _np.maximum(tail, head)
    pairs, inverse, mult = _np.unique(_np.stack([lo, hi], axis=1), axis=0, return_inverse=True, return_counts=True)
    graph = nx.Graph()
    graph.add_edges_from(map(tuple, pairs.tolist()))
    bridge = {(min(u, v), max(u, v)) for u, v in nx.bridges(graph)}
    is_bridge = _np.array([(int(a), int(b)) in bridge for a, b in pairs], dtype=bool) & (mult == 1)
    return is_bridge[inverse.ravel()]


def _determined(hidden_graph: _Graph, n: int) -> _np.ndarray:
    """Hidden cells that the published sums pin down exactly (ignoring bounds).

    A hidden cell can change while every sum stays as published exactly when it lies on a cycle of the graph of
    :func:`_hidden_graph` (a circulation can run around the cycle); so it is pinned down when it is a bridge. This
    is the same answer as a rank test (the cell's unit vector in the row space of the sums restricted to the
    hidden cells), in time linear in the table's size.
    """
    out = _np.zeros(n, bool)
    cells, tail, head, _ = hidden_graph
    out[cells[_bridges(tail, head)]] = True
    return out


def _pinned(hidden_graph: _Graph, vals: _np.ndarray, lower: _np.ndarray, upper: _np.ndarray) -> _np.ndarray:
    """Hidden cells whose value the sums and the bounds a reader knows pin down (the range is a single value).

    ``lower`` and ``upper`` (one per flat cell) are what a reader knows of each hidden cell without the sums (with
    one mark for every hidden cell: 0 and no upper bound). The feasible tables are the flows of the graph of
    :func:`_hidden_graph` within those bounds; the true table is one of them. A cell at one of its bounds is
    held there exactly when its residual arc (forward when it can grow, backward when it can shrink) lies on no
    directed cycle of the residual graph: one strongly connected components pass. Those cells are the implicit
    equalities of the polytope; every other cell is free to move in its relative interior, so it is pinned exactly
    when the sums pin it once the held cells are fixed: a bridge of the graph without them. Since the constraint
    matrix is an incidence matrix (totally unimodular), this is the same answer as the smallest and largest value
    from two linear programs per cell, in time linear in the number of hidden cells.
    """
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    cells, tail, head, n_nodes = hidden_graph
    if not cells.size:
        return cells
    x = vals[cells]
    up, down = x < upper[cells], x > lower[cells]    # forward arc tail -> head, backward arc head -> tail
    src = _np.concatenate([tail[up], head[down]])
    dst = _np.concatenate([head[up], tail[down]])
    graph = csr_matrix((_np.ones(src.size), (src, dst)), shape=(n_nodes, n_nodes))
    _, comp = connected_components(graph, directed=True, connection="strong")
    held = ~(up & down) & ~((up | down) & (comp[tail] == comp[head]))
    bridge = _np.zeros(cells.size, bool)
    free = ~held
    bridge[free] = _bridges(tail[free], head[free])
    return cells[held | bridge]


class _Table(NamedTuple):
    frame: pd.DataFrame      # with margins
    offset: int              # first flat cell
    raw: _Raw
    first_eq: int            # index of its first sum in the joint list


def _suppress(vals: _np.ndarray, sums: _Sums, primary: _np.ndarray, cost: _np.ndarray, min_cell: int,
              groups: tuple | None) -> _np.ndarray:
    """The hidden cells: ``primary``, then more until every rule of :func:`suppress_small` holds (see there).

    ``cost`` orders the candidates for secondary suppression (``inf``: never hidden); ``groups`` is ``(totals,
    members)``: the flat cell of each group's total and of its category counts (rule 2 of :func:`suppress_small`).
    """
    from scipy.sparse import csr_matrix

    n = vals.size
    hidden = primary.copy()
    eqs = sums.eqs
    lens = [len(c) for c, _ in eqs]
    indptr = _np.concatenate([[0], _np.cumsum(lens)])
    cols = _np.concatenate([c for c, _ in eqs])
    coef = _np.concatenate([k for _, k in eqs]).astype(float)
    rows = _np.repeat(_np.arange(len(eqs)), lens)
    member = csr_matrix((_np.ones(cols.size), (rows, cols)), shape=(len(eqs), n))
    positive = csr_matrix(((coef > 0).astype(float), (rows, cols)), shape=(len(eqs), n))
    by_cell = member.T.tocsr()
    lower, upper = _np.zeros(n), _np.full(n, _np.inf)   # all a reader knows of a cell marked HIDDEN

    def hide_one_more(e: int) -> bool:
        cells = cols[indptr[e]:indptr[e + 1]]
        cand = cells[~hidden[cells] & _np.isfinite(cost[cells])]
        if cand.size == 0:
            return False
        hidden[cand[_np.argmin(cost[cand])]] = True
        return True

    def needs_more(e: int) -> bool:
        cells, k = cols[indptr[e]:indptr[e + 1]], coef[indptr[e]:indptr[e + 1]]
        h = hidden[cells]
        m = int(h.sum())
        if m != 1 and (m == 0 or m == h.size):
            return False
        # rule 1: never a lone hidden cell; rule 3: hidden parts of a shown total add up to min_cell or more
        return m == 1 or ((k[h] > 0).all() or (k[h] < 0).all()) and vals[cells[h]].sum() < min_cell

    for _ in range(10 * n + 10):
        changed = False
        if groups is not None:  # rule 2: a group whose total is hidden has every count hidden
            totals, members = groups
            add = members[hidden[totals]].ravel()
            add = add[~hidden[add]]
            if add.size:
                hidden[add] = True
                changed = True
        h = hidden.astype(float)
        k_all = member @ h
        k_pos = positive @ h
        hsum = member @ (h * vals)
        size = _np.asarray(lens)
        same = (k_pos == 0) | (k_pos == k_all)
        cand = _np.flatnonzero((k_all == 1) | ((k_all >= 2) & (k_all < size) & same & (hsum < min_cell)))
        for e in cand:  # in order; each choice may settle the next sums
            if needs_more(int(e)):
                changed |= hide_one_more(int(e))
        if changed:
            continue
        exposed = _pinned(_hidden_graph(sums, hidden), vals, lower, upper)
        if exposed.size == 0 and groups is not None:
            # a reader who knows a group's members knows its size, hidden or not: with every group total known, a
            # count equal to its group's total must still not be pinned (that would be every member's level)
            totals, members = groups
            whole = members[(vals[members] == vals[totals][:, None]) & (vals[totals][:, None] > 0)]
            if whole.size:
                known = hidden.copy()
                known[totals] = False
                pinned = _pinned(_hidden_graph(sums, known), vals, lower, upper)
                exposed = pinned[_np.isin(pinned, whole)]
        if exposed.size == 0:
            break
        for c in exposed:
            for e in by_cell.indices[by_cell.indptr[c]:by_cell.indptr[c + 1]]:
                if hide_one_more(int(e)):
                    changed = True
                    break
        if not changed:  # nothing left to hide in the exposed cells' sums
            break
    return hidden


def _cost(table: pd.DataFrame, total: str, vals: _np.ndarray, big: float) -> _np.ndarray:
    """Secondary suppression takes the smallest non-zero count first, then zeros, then totals last."""
    is_total = _np.zeros(table.shape, bool)
    is_total[:, list(table.columns).index(total)] = True
    keys = [k if isinstance(k, tuple) else (k,) for k in table.index]
    is_total[[total in k for k in keys], :] = True
    return _np.where(vals > 0, vals, big) + _np.where(is_total.ravel(), 100 * big, 0.0)


def _check(counts: pd.DataFrame, min_cell: int) -> None:
    if min_cell < 1:
        raise ValueError(f"min_cell must be at least 1; got {min_cell}")
    if (counts < 0).any().any():
        raise ValueError("counts must not be negative")


def suppress_small(counts: pd.DataFrame, min_cell: int = 5, *, total: str = TOTAL) -> pd.DataFrame:
    """Counts with margins (:func:`add_margins`) where small counts, and whatever would reveal them, are hidden.

    The rows are groups of people (school x grade x sex) and the columns the categories they fall in (warning
    levels); a reader may know who is in a group. Every hidden cell is published with one mark (:data:`HIDDEN`),
    so that a reader knows of a hidden cell only that it is a count, 0 or more.

    The rule
    --------
    1. **Small counts**: every cell (body, subtotal or total) with ``1 <= count < min_cell`` is hidden.
    2. **Group disclosure** (the "all in one category" rule of Statistics Canada and the ONS): a category count
       equal to its group's total (every member of the group in that category; this is also the case where all
       the other categories are 0) is hidden whatever its size; and when a group's total is hidden, every count
       of the group is hidden, zeros included.
    3. **Secondary**, for every published sum (a row's total = its cells; a subtotal = the rows below it, column
       by column), repeated until nothing changes:

       a. a sum never has exactly one hidden cell (it would be the total minus the others): hide one more, the
          cheapest of the sum's other cells -- the smallest non-zero count first, then zeros, then totals last;
       b. when the total of a sum is shown, its hidden cells add up to ``min_cell`` or more;
       c. no hidden cell may be pinned to a single value by the sums together with what a reader knows of a hidden
          cell (0 or more): its smallest and largest possible values must differ (the same answer as two linear
          programs per cell, found from the cycles of a flow graph the sums make, see ``_pinned``); else one more
          cell of its sums is hidden.

       d. a reader who knows a group's members knows its size even when it is hidden: with every group's total
          taken as known, a count equal to its group's total must still not be pinned (rule c again, for those
          counts); else one more cell of its sums is hidden.

    Rules 1, 2, 3c and 3d mean that a reader who knows a group's members learns no member's level: that would need
    a category count forced to equal the group's total in every table consistent with what is shown.
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

    Returns
    -------
    DataFrame
        The table with margins, Int64, hidden cells ``<NA>``.

    See Also
    --------
    suppress_tables : the same rule over a second table that shares counts with this one (participation).

    Examples
    --------
    >>> c = pd.DataFrame({"red": [2, 10, 12], "none": [40, 50, 60]}, index=pd.Index(["A", "B", "C"], name="school"))
    >>> out = suppress_small(c)
    >>> out.isna().sum().sum() >= 2 and pd.isna(out.loc["A", "red"])
    True
    """
    return suppress_tables(counts, min_cell, total=total)[0]


def suppress_tables(counts: pd.DataFrame, min_cell: int = 5, *, total: str = TOTAL,
                    participation: pd.DataFrame | None = None, scored: str = "scored",
                    schools_of: dict | None = None) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """:func:`suppress_small` of ``counts`` and of a second table that publishes some of the same counts, audited
    together as a reader would read them.

    ``participation`` has one row per school or per file and its own categories (e.g. ``scored``, ``quarantined``,
    ``duplicates``; their total is the rows read). Its ``scored`` column counts the same students as ``counts``:
    its total is the grand total of ``counts``, and the rows of one school (``schools_of``) add up to that school's
    total in ``counts``. Both tables are suppressed as one system of sums: a count published in both is one cell
    (hidden in both or in neither), no hidden cell of either table can be pinned from the sums of both, and a
    count is not hidden in one table when the other shows it. Rules 1 and 3 of :func:`suppress_small` apply to
    both tables, rule 2 (groups) to ``counts``.

    Parameters
    ----------
    counts : DataFrame
        As for :func:`suppress_small`; the first index level is the school.
    participation : DataFrame, optional
        Non-negative counts, one row per school or file, with the column ``scored``.
    scored : str
        The column of ``participation`` that counts the students of ``counts``.
    schools_of : dict, optional
        For each row label of ``participation``, the schools (first-level labels of ``counts``) whose students it
        holds. Without it, only the grand totals are tied together.

    Returns
    -------
    (DataFrame, DataFrame or None)
        Both tables with margins, Int64, hidden cells ``<NA>``.

    Examples
    --------
    >>> c = pd.DataFrame({"red": [2, 10], "none": [40, 50]}, index=pd.Index(["A", "B"], name="school"))
    >>> p = pd.DataFrame({"scored": [42, 60], "quarantined": [3, 0]}, index=pd.Index(["a.csv", "b.csv"]))
    >>> levels, part = suppress_tables(c, participation=p, schools_of={"a.csv": ["A"], "b.csv": ["B"]})
    >>> pd.isna(levels.loc["A", "red"]), pd.isna(part.loc["a.csv", "quarantined"])
    (True, True)
    """
    _check(counts, min_cell)
    lev = add_margins(counts, total=total)
    n1 = lev.size
    raw1 = _raw_equations(lev, total)
    eqs, active = list(raw1.eqs), [not i for i in raw1.implied]
    tables = [_Table(lev, 0, raw1, 0)]
    vals = lev.to_numpy(dtype=float, na_value=0.0).ravel()
    big = 10.0 * (vals.max() + 1)
    cost = _cost(lev, total, vals, big)
    if participation is not None:
        _check(participation, min_cell)
        part = add_margins(participation, total=total)
        raw2 = _raw_equations(part, total, offset=n1)
        pvals = part.to_numpy(dtype=float, na_value=0.0).ravel()
        vals = _np.concatenate([vals, pvals])
        big = 10.0 * (vals.max() + 1)
        cost = _np.concatenate([_cost(lev, total, vals[:n1], big), _cost(part, total, pvals, big)])
        tables.append(_Table(part, n1, raw2, len(eqs)))
        eqs += raw2.eqs
        active += [not i for i in raw2.implied]
        _link(tables, total, scored, schools_of, vals, eqs, active, cost)
    sums = _orient(eqs, _np.array(active, dtype=bool), vals.size)
    primary = (vals >= 1) & (vals < min_cell)
    nrow, ncol = lev.shape
    tcol = list(lev.columns).index(total)
    totals = _np.arange(nrow) * ncol + tcol
    members = (_np.arange(nrow) * ncol)[:, None] + _np.array([j for j in range(ncol) if j != tcol])[None, :]
    primary[members] |= (vals[members] == vals[totals][:, None]) & (vals[totals][:, None] > 0)
    hidden = _suppress(vals, sums, primary, cost, min_cell, (totals, members)) if primary.any() else primary
    out = []
    for tab in tables:
        frame = tab.frame.copy()
        mask = hidden[tab.offset:tab.offset + frame.size].reshape(frame.shape)
        out.append(frame.mask(mask).astype("Int64"))
    return out[0], (out[1] if len(out) > 1 else None)


def _link(tables: list, total: str, scored: str, schools_of, vals, eqs: list, active: list, cost) -> None:
    """Tie the participation table's ``scored`` cells to the level table's totals (see :func:`suppress_tables`).

    Always: participation's grand ``scored`` = the level table's grand total (one sum of two cells). With
    ``schools_of``: the files and schools fall into groups (connected: a file holds these schools, a school comes
    from these files); per group, its files' ``scored`` add up to its schools' totals. Then two sums follow from
    the others and are left out of the graph (the level table's grand total = the schools' totals; the
    participation's grand ``scored`` = its rows), and participation's grand row sum is kept in it, so that every
    cell stays in at most two independent sums. Ties that do not hold in the data are not made (the tables do
    not describe the same students there, so a reader cannot subtract one from the other). The ``scored`` cells
    of participation rows are chosen for secondary suppression only when nothing else will do.
    """
    lev, part = tables[0], tables[1]
    lf, pf = lev.frame, part.frame
    ncol1, ncol2 = lf.shape[1], pf.shape[1]
    t1, s2 = list(lf.columns).index(total), list(pf.columns).index(scored)
    big = cost[_np.isfinite(cost)].max()
    g1 = (lf.shape[0] - 1) * ncol1 + t1                      # the level table's grand total
    g2 = part.offset + (pf.shape[0] - 1) * ncol2 + s2        # participation's grand scored
    if vals[g1] != vals[g2]:
        return
    eqs.append((_np.array([g1, g2]), _np.array([1, -1])))
    active.append(True)
    body2 = [i for i, k in enumerate(pf.index) if k != total]
    # a count both tables publish is hidden last (hiding it hides it in both): the scored counts, their grand total
    # and the level table's grand total
    cost[[part.offset + i * ncol2 + s2 for i in body2] + [g1, g2]] += 10 * big
    if schools_of is None:
        return
    keys1 = [k if isinstance(k, tuple) else (k,) for k in lf.index]
    school_cell = {k[0]: i * ncol1 + t1 for i, k in enumerate(keys1)     # (school, total, total) rows
                   if k[0] != total and all(v == total for v in k[1:])}
    file_cell = {pf.index[i]: part.offset + i * ncol2 + s2 for i in body2}
    parent: dict = {}

    def find(a):
        while parent.setdefault(a, a) != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for f in file_cell:
        find(("f", f))
        for s in schools_of.get(f, ()):
            if s not in school_cell:
                return
            parent[find(("s", s))] = find(("f", f))
    for s in school_cell:
        find(("s", s))
    cost[list(school_cell.values())] += 10 * big
    groups: dict = {}
    for node in list(parent):
        groups.setdefault(find(node), []).append(node)
    new = []
    for nodes in groups.values():
        cells = [file_cell[v] for k, v in nodes if k == "f"] + [school_cell[v] for k, v in nodes if k == "s"]
        coefs = [1 if k == "f" else -1 for k, _ in nodes]
        if vals[_np.array(cells)] @ _np.array(coefs) != 0:
            return                      # the tables disagree here: tie only the grand totals
        new.append((_np.array(cells), _np.array(coefs)))
        if all(k == "f" for k, _ in nodes):
            cost[_np.array(cells)] = _np.inf   # a file with none of the level table's students: its 0 stays shown
    eqs += new
    active += [True] * len(new)
    active[lev.raw.col_sum[(lf.shape[0] - 1, t1)]] = False
    active[part.first_eq + part.raw.col_sum[(pf.shape[0] - 1, s2)]] = False
    active[part.first_eq + part.raw.row_sum[pf.shape[0] - 1]] = True
