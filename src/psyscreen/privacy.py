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


@dataclass(frozen=True)
class _Sums:
    """The published sums of a table from :func:`add_margins`, in flat cell indices.

    ``eqs[e]`` is (total cell, component cells); ``implied[e]`` marks a sum that follows from the others (the row
    sum of a subtotal row is the sum of its children's row sums, each column summed down the tree); ``sign[e]``
    (+1 or -1) orients the others so that each cell is added in one and subtracted in the other (see
    :func:`_hidden_graph`).
    """

    eqs: list
    implied: _np.ndarray
    sign: _np.ndarray


def _equations(table: pd.DataFrame, total: str) -> _Sums:
    """Row sums (each row's total column = its other columns) and column sums (each subtotal row = the rows or
    subtotals one level below it, column by column) of a table from :func:`add_margins`."""
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
    implied = [d < nlev for d in depth]
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
            implied.append(False)
    # row sums and the total column's sums count +1, the other columns' sums -1 (checked in _hidden_graph)
    sign = _np.array([1 if t % ncol == tcol else -1 for t, _ in eqs])
    return _Sums(eqs, _np.array(implied, dtype=bool), sign)


class _Graph(NamedTuple):
    """Hidden cells as edges: ``cells[k]`` (flat index) runs from node ``tail[k]`` to node ``head[k]``."""

    cells: _np.ndarray
    tail: _np.ndarray
    head: _np.ndarray
    n_nodes: int


def _hidden_graph(sums: _Sums, hidden: _np.ndarray) -> _Graph:
    """The hidden cells as the edges of a directed graph whose nodes are the independent sums.

    Without the implied sums, every cell of a table from :func:`add_margins` is in at most two sums: a body cell in
    its row's sum and its column's sum one level up, a subtotal cell in the sum it totals and the sum one level up,
    a grand total in one sum only. With each sum multiplied by its ``sign``, a cell in two sums is added in one
    (its head) and subtracted in the other (its tail); a cell in one sum gets an outside node as its other end. The
    constraint matrix restricted to the hidden cells is then that graph's incidence matrix: changes of the hidden
    cells that keep every published sum are exactly the circulations (flows that balance at every node).
    """
    outside = len(sums.eqs)
    ends: dict[int, list[tuple[int, int]]] = {}
    for e, (t, comps) in enumerate(sums.eqs):
        if sums.implied[e]:
            continue
        if hidden[t]:
            ends.setdefault(int(t), []).append((e, -int(sums.sign[e])))
        for c in comps[hidden[comps]]:
            ends.setdefault(int(c), []).append((e, int(sums.sign[e])))
    cells, tail, head = [], [], []
    for c, es in ends.items():
        if len(es) == 1:
            es = es + [(outside, -es[0][1])]
        if len(es) != 2 or es[0][1] == es[1][1]:
            raise AssertionError("the sums do not form a graph; the table is not from add_margins")
        cells.append(c)
        tail.append(es[0][0] if es[0][1] < 0 else es[1][0])
        head.append(es[1][0] if es[0][1] < 0 else es[0][0])
    return _Graph(_np.array(cells, int), _np.array(tail, int), _np.array(head, int), outside + 1)


def _determined(hidden_graph: _Graph, n: int) -> _np.ndarray:
    """Hidden cells that the published sums pin down exactly (ignoring bounds).

    A hidden cell can change while every sum stays as published exactly when it lies on a cycle of the graph of
    :func:`_hidden_graph` (a circulation can run around the cycle); so it is pinned down when it is a bridge. This
    is the same answer as a rank test (the cell's unit vector in the row space of the sums restricted to the
    hidden cells), in time linear in the table's size.
    """
    import networkx as nx

    out = _np.zeros(n, bool)
    cells, tail, head, _ = hidden_graph
    graph = nx.Graph()
    graph.add_edges_from((u, v, {"cell": c}) for c, u, v in zip(cells.tolist(), tail.tolist(), head.tolist()))
    for u, v in nx.bridges(graph):
        out[graph.edges[u, v]["cell"]] = True
    return out


def _pinned(hidden_graph: _Graph, vals: _np.ndarray, primary: _np.ndarray, min_cell: int) -> _np.ndarray:
    """Hidden small cells whose value the sums and the bounds a reader knows pin down (their range is below 1).

    The bounds: a hidden small count is between 1 and ``min_cell - 1``, any other count at least 0. On the graph of
    :func:`_hidden_graph` the feasible tables are flows within those bounds; the true table is one of them. A cell
    can move by 1 exactly when one of its residual arcs (forward if it is below its upper bound, backward if above
    its lower bound) lies on a directed cycle of the residual graph -- for a cell with both arcs, a cycle other than
    the two arcs themselves. Since the constraint matrix is an incidence matrix (totally unimodular), this is the
    same answer as the smallest and largest value from two linear programs per cell, found with one strongly
    connected components pass and a search for the cells that need one.
    """
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import breadth_first_order, connected_components

    cells, tail, head, n_nodes = hidden_graph
    x = vals[cells]
    small = primary[cells]
    lower = _np.where(small, 1.0, 0.0)
    upper = _np.where(small, min_cell - 1.0, _np.inf)
    up, down = x < upper, x > lower                  # forward arc tail -> head, backward arc head -> tail
    src = _np.concatenate([tail[up], head[down]])
    dst = _np.concatenate([head[up], tail[down]])
    graph = csr_matrix((_np.ones(src.size), (src, dst)), shape=(n_nodes, n_nodes))
    _, comp = connected_components(graph, directed=True, connection="strong")
    same = comp[tail] == comp[head]
    movable = same & (up | down)
    # A cell with both arcs and its ends in one component may owe that to its own two arcs: search again without them.
    for j in _np.flatnonzero(small & same & up & down):
        g = graph.copy()
        g[tail[j], head[j]] = 0.0
        g[head[j], tail[j]] = 0.0
        g.eliminate_zeros()
        movable[j] = ((breadth_first_order(g, head[j], directed=True, return_predecessors=False) == tail[j]).any()
                      or (breadth_first_order(g, tail[j], directed=True, return_predecessors=False) == head[j]).any())
    return cells[small & ~movable]


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
          small count is between 1 and ``min_cell - 1``, every count is at least 0): its smallest and largest
          possible values must be at least 1 apart (the same answer as two linear programs per cell, found as
          cycles of a flow graph the sums make, see ``_pinned``); else one more cell of its sums is hidden.

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
    sums = _equations(table, total)
    eqs = sums.eqs
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
        hidden_graph = _hidden_graph(sums, hidden)  # one graph per round for both audits
        exposed = _np.flatnonzero(_determined(hidden_graph, vals.size))
        if exposed.size == 0:
            exposed = _pinned(hidden_graph, vals, primary, min_cell)
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
