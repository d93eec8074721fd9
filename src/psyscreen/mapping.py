"""Column maps for survey-platform exports: suggest one from the question text, load one a person checked.

Survey platforms name a column by the question (``1、做事时提不起劲或没有兴趣``) or by its number (``第1题``,
``Q1``). :func:`suggest_map` matches each header against the item text (zh and en) of the protocol's
instruments: the header is normalised (NFKC, numbering such as ``1、`` / ``第1题`` / ``Q1.`` / ``(1)``
stripped, punctuation and spaces removed, case folded) and compared with :class:`difflib.SequenceMatcher`;
the ratio is the **confidence**. Each item is given to at most one header (best confidence first). Field
headers (学号, 姓名, 班级 ...) are recognised by name. A header that is only a number (``第3题``) is
matched by position in the protocol's item order, with a low confidence: a person must check it.

Every suggestion carries a ``status``:

``ok``
    confidence >= 0.90 and clearly better than the second-best item (margin >= 0.10), or a field by name;
``check``
    a plausible match a person must confirm (confidence >= 0.60, or by position);
``unmapped``
    nothing close: no target.

:func:`load_map` reads a map (the two columns ``source,target`` of :func:`psyscreen.ingest.load_column_map`,
optionally with the ``confidence``/``status`` columns written by ``psyscreen map suggest``). A line whose status
is still ``check`` is **doubtful**: ``psyscreen screen`` stops a file that has such a column and says so (it never
guesses silently). Unlike one file's map, a county map may send two different headers to one target (``第1题``
and ``1、做事时...`` are the same item in two schools' exports); only two such headers present in the *same* file
are an error (raised when that file is read).

Examples
--------
>>> s = suggest_map(["序号", "学号", "1、做事时提不起劲或没有兴趣", "2. 感到心情低落,沮丧或绝望", "IP"], "default")
>>> s[["source", "target", "status"]].values.tolist()
[['序号', '', 'unmapped'], ['学号', 'student_id', 'ok'], ['1、做事时提不起劲或没有兴趣', 'phq9.1', 'ok'], ['2. 感到心情低落,沮丧或绝望', 'phq9.2', 'ok'], ['IP', '', 'unmapped']]
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional, Sequence, Union

import numpy as np
import pandas as pd

from ._results import ResultMixin

__all__ = ["normalise_header", "suggest_map", "load_map", "ColumnMap", "MapFileError", "MAP_COLUMNS",
           "OK_CONFIDENCE", "CHECK_CONFIDENCE", "MARGIN"]

MAP_COLUMNS = ("source", "target", "confidence", "status", "matched_text")
OK_CONFIDENCE = 0.90
CHECK_CONFIDENCE = 0.60
MARGIN = 0.10
POSITION_CONFIDENCE = 0.50

_NUMBERING = re.compile(
    r"^\s*(?:第\s*\d+\s*题|[qQ]\s*\d+|\(\s*\d+\s*\)|（\s*\d+\s*）|\d+(?:\.\d+)*)\s*[、.．:：)）\-_\s]*")
_ONLY_NUMBER = re.compile(r"^\s*(?:第\s*(\d+)\s*题|[a-zA-Z]{1,4}\s*[_.\-]?\s*(\d+)|题\s*(\d+)|(\d+))\s*$")
_PUNCT = re.compile(r"[\W_]+", re.UNICODE)


class MapFileError(ValueError):
    """A map file that cannot be used (located by line)."""


def normalise_header(text: str) -> str:
    """Header text for comparison: NFKC, numbering stripped, punctuation and spaces removed, casefolded.

    Examples
    --------
    >>> normalise_header("1、做事时提不起劲或没有兴趣"), normalise_header("Q2. Feeling down, depressed")
    ('做事时提不起劲或没有兴趣', 'feelingdowndepressed')
    """
    t = unicodedata.normalize("NFKC", str(text))
    t = _NUMBERING.sub("", t, count=1)
    return _PUNCT.sub("", t).casefold()


def _field_aliases() -> dict[str, str]:
    from .ingest import FIELD_ALIASES, FIELDS

    out = {re.sub(r"\s+", "", unicodedata.normalize("NFKC", k)).casefold(): v for k, v in FIELD_ALIASES.items()}
    out.update({f: f for f in FIELDS})
    return out


def _instruments(protocol_or_instruments) -> list:
    from .instrument import Instrument, load_instrument
    from .protocol import Protocol, load_protocol

    if isinstance(protocol_or_instruments, Protocol):
        return list(protocol_or_instruments.load_instruments().values())
    if isinstance(protocol_or_instruments, (str, Path)):
        try:
            return list(load_protocol(protocol_or_instruments).load_instruments().values())
        except Exception:
            return [load_instrument(protocol_or_instruments)]
    return [i if isinstance(i, Instrument) else load_instrument(i) for i in protocol_or_instruments]


def suggest_map(headers: Sequence[str], protocol) -> pd.DataFrame:
    """Suggest a target for every header, with a confidence and a status (``ok``/``check``/``unmapped``).

    Parameters
    ----------
    headers : sequence of str
        The export's column headers, in order.
    protocol : str, Path, Protocol or list of instrument ids
        Whose items to match against.

    Returns
    -------
    DataFrame
        Columns :data:`MAP_COLUMNS`, one row per header in the input order; ``matched_text`` is the item text
        (or the field) matched.
    """
    insts = _instruments(protocol)
    aliases = _field_aliases()
    targets: list[str] = []
    texts: list[list[str]] = []
    shown: list[str] = []
    for inst in insts:
        for it in inst.item_list:
            if not it.scored:
                continue
            t = f"{inst.id}.{it.number}"
            cands = [normalise_header(x) for x in (getattr(it, "zh", None), getattr(it, "en", None)) if x]
            abbrev = normalise_header(inst.abbreviation or inst.id)
            cands += [f"{abbrev}{it.number}", f"{inst.id}{it.number}"]
            targets.append(t)
            texts.append([c for c in cands if c])
            shown.append(getattr(it, "zh", None) or getattr(it, "en", None) or t)
    n_h, n_t = len(headers), len(targets)
    score = np.zeros((n_h, n_t))
    rows = [dict(source=str(h), target="", confidence=0.0, status="unmapped", matched_text="") for h in headers]
    item_headers = []
    for i, h in enumerate(headers):
        key = re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(h))).casefold()
        if key in aliases:
            rows[i].update(target=aliases[key], confidence=1.0, status="ok", matched_text=aliases[key])
            continue
        if key in targets:  # already named <instrument>.<item>
            rows[i].update(target=key, confidence=1.0, status="ok", matched_text=key)
            continue
        norm = normalise_header(h)
        if not norm:
            continue
        item_headers.append(i)
        sm = difflib.SequenceMatcher(autojunk=False)
        sm.set_seq2(norm)
        for j, cands in enumerate(texts):
            best = 0.0
            for c in cands:
                sm.set_seq1(c)
                if sm.real_quick_ratio() > best and sm.quick_ratio() > best:
                    best = max(best, sm.ratio())
            score[i, j] = best
    # one item per header, best first (greedy on the confidence)
    taken_t: set[int] = set()
    done_h: set[int] = set()
    order = sorted(((score[i, j], i, j) for i in item_headers for j in range(n_t) if score[i, j] >= CHECK_CONFIDENCE),
                   reverse=True)
    for conf, i, j in order:
        if i in done_h or j in taken_t:
            continue
        others = np.delete(score[i], j)
        second = float(others.max()) if others.size else 0.0
        status = "ok" if conf >= OK_CONFIDENCE and conf - second >= MARGIN else "check"
        rows[i].update(target=targets[j], confidence=round(float(conf), 3), status=status, matched_text=shown[j])
        done_h.add(i)
        taken_t.add(j)
    # headers that are only a number: by position in the protocol's item order
    for i, h in enumerate(headers):
        if rows[i]["status"] != "unmapped":
            continue
        m = _ONLY_NUMBER.match(unicodedata.normalize("NFKC", str(h)))
        if m:
            k = int(next(g for g in m.groups() if g)) - 1
            if 0 <= k < n_t and k not in taken_t:
                rows[i].update(target=targets[k], confidence=POSITION_CONFIDENCE, status="check",
                               matched_text=f"position {k + 1}: {shown[k]}")
                taken_t.add(k)
    return pd.DataFrame(rows, columns=list(MAP_COLUMNS))


@dataclass(frozen=True)
class ColumnMap(ResultMixin):
    """A column map read by :func:`load_map`.

    Attributes
    ----------
    mapping : dict
        Source header -> target, for the lines a person accepted (status ``ok`` or no status).
    doubtful : dict
        Source header -> target for lines still marked ``check``: a file with such a column is stopped.
    path : str or None
    """

    mapping: dict
    doubtful: dict = field(default_factory=dict)
    path: Optional[str] = None

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([(s, t, "ok") for s, t in self.mapping.items()]
                            + [(s, t, "check") for s, t in self.doubtful.items()],
                            columns=["source", "target", "status"])


def load_map(path: Union[str, Path], instruments: Optional[Iterable] = None) -> ColumnMap:
    """Read a column map (``source,target[,confidence,status,...]``, csv or xlsx).

    A header line is recognised by its first cell (``source``/``原列名``...) or by a target cell that is no
    valid target. Lines with an empty target, or status ``unmapped``, are ignored. Status ``check`` lines are
    kept apart as :attr:`ColumnMap.doubtful`. Two different sources may share one target (a county map).

    Raises
    ------
    MapFileError
        A bad target, a source listed twice with different targets, no usable line.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "map.csv"
    >>> _ = p.write_text("source,target,status\\n第1题,phq9.1,ok\\n1、做事,phq9.1,ok\\n第2题,phq9.2,check\\n",
    ...                  encoding="utf-8")
    >>> m = load_map(p)
    >>> m.mapping, m.doubtful
    ({'第1题': 'phq9.1', '1、做事': 'phq9.1'}, {'第2题': 'phq9.2'})
    """
    from ._text import text_key
    from .ingest import FIELDS, UnreadableFileError, _check_target, read_table
    from .instrument import load_instrument

    insts = None if instruments is None else [load_instrument(i) for i in instruments]
    path = Path(path)
    try:
        raw = read_table(path, header_row=1)
    except UnreadableFileError as exc:
        raise MapFileError(str(exc)) from None
    head = [str(h) for h in raw.source_headers]
    lines = raw.frame.copy()
    lines.columns = range(lines.shape[1])
    first = pd.DataFrame([head], index=pd.Index([raw.header_row], name="row"))
    first.columns = range(first.shape[1])
    lines = pd.concat([first.astype("string"), lines.astype("string")])
    if lines.shape[1] < 2:
        raise MapFileError(f"{path}: the map needs two columns: the source header and the target")
    status_col = None
    start = 0
    h0 = [re.sub(r"\s+", "", unicodedata.normalize("NFKC", x)).casefold() for x in head]
    t0 = text_key(head[1]) if head[1] else ""
    if h0[0] in ("source", "原列名", "源列名", "列名", "header") or _check_target(t0, None) is not None:
        start = 1
        if "status" in h0:
            status_col = h0.index("status")
    problems: list[str] = []
    mapping: dict[str, str] = {}
    doubtful: dict[str, str] = {}
    seen: dict[str, tuple[str, int]] = {}
    for r, row in zip(lines.index[start:], lines.iloc[start:].itertuples(index=False)):
        s = None if pd.isna(row[0]) else unicodedata.normalize("NFKC", str(row[0])).strip()
        t = None if pd.isna(row[1]) else text_key(str(row[1]))
        st = "ok"
        if status_col is not None and status_col < len(row) and not pd.isna(row[status_col]):
            st = str(row[status_col]).strip().casefold()
        if not s:
            if t:
                problems.append(f"line {r}: the source column is empty (target {t!r})")
            continue
        if not t or st == "unmapped":
            continue
        why = _check_target(t, insts)
        if why:
            problems.append(f"line {r}: {why}")
            continue
        k = re.sub(r"\s+", "", s).casefold()
        if k in seen and seen[k][0] != t:
            problems.append(f"line {r}: source {s!r} is already mapped to {seen[k][0]!r} on line {seen[k][1]}")
            continue
        seen[k] = (t, r)
        if st in ("check", "?", "doubtful"):
            doubtful[s] = t
        else:
            mapping[s] = t
    if problems:
        raise MapFileError(f"{path}: {len(problems)} problem(s) in the column map: " + "; ".join(problems[:10]))
    if not mapping and not doubtful:
        raise MapFileError(f"{path}: the map has no source/target lines")
    _ = FIELDS
    return ColumnMap(mapping=mapping, doubtful=doubtful, path=str(path))
