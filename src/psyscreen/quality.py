"""Data quality of one screening wave: duplicated students and careless responding.

Duplicates are *resolved* (one sheet per student is kept, the others are set aside and counted in the
ledger); careless responding is *flagged*, never deleted: a flagged sheet is still scored and still
classified (a careless sheet with a critical answer is still a critical answer), and the flag tells the
psychological teacher to read it with care.

Rules (stated here, written to the manifest):

Duplicates
    A student id seen more than once in a wave keeps **its latest submission**: the latest ``submitted_at``
    when the export has a submission time, otherwise the later file (in the order given), then the later
    row. A submission that can be scored is preferred to one that has a problem (quarantined): the latest
    *scorable* submission is kept; when none can be scored, the latest one is quarantined. Every other
    submission is set aside as a duplicate. Rows without a student id are not duplicates (they are
    quarantined upstream: they cannot be routed).
Longstring (:func:`longstring`)
    The longest run of identical answers down the questionnaire (the protocol's items in order) reaches
    ``min_run`` items (default **10**). Runs of an item's lowest code ("not at all") are not counted by
    default (``ignore_floor=True``): "never" to every symptom is the expected answer of a student without
    symptoms, and counting it would flag the healthy majority on symptom scales. Based on Johnson (2005)
    and Curran (2016), who flag runs longer than what attentive respondents give on a page of items.
Too fast (:func:`too_fast`)
    Where a duration column exists: fewer than ``seconds_per_item`` (default **2 s**) per answered item, the
    bound of Huang, Curran, Keeney, Poposki & DeShon (2012, J Bus Psychol 27:99-114). Durations are read
    from seconds (``245``, ``245秒``, ``245s``), ``4分5秒``, ``00:04:05`` / ``4:05``.

Examples
--------
>>> import pandas as pd
>>> items = pd.DataFrame({f"x.{i}": [2, 0, i % 3] for i in range(1, 13)})
>>> longstring(items).tolist()
[True, False, False]
>>> too_fast(pd.Series(["20秒", "3分", None]), n_items=16).tolist()
[True, False, False]
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
import pandas as pd

from ._results import ResultMixin

__all__ = ["resolve_duplicates", "Duplicates", "longest_run", "longstring", "parse_duration", "too_fast",
           "LONGSTRING_MIN_RUN", "SECONDS_PER_ITEM", "DUPLICATE_RULE"]

LONGSTRING_MIN_RUN = 10
SECONDS_PER_ITEM = 2.0
DUPLICATE_RULE = ("same student id more than once in a wave: the latest scorable submission is kept "
                  "(by submitted_at, else later file, else later row); the others are set aside as duplicates")


@dataclass(frozen=True)
class Duplicates(ResultMixin):
    """Which rows are kept and which are set aside as duplicates.

    Attributes
    ----------
    keep : ndarray of bool
        Aligned with the input rows: True for the row kept (every row without an id is kept).
    table : DataFrame
        One line per row set aside: ``position`` (in the input), ``kept_position`` (the row kept instead),
        ``rule``. No id is in it: join on positions to see them.
    """

    keep: np.ndarray
    table: pd.DataFrame

    @property
    def n_set_aside(self) -> int:
        return int((~self.keep).sum())

    def to_frame(self) -> pd.DataFrame:
        return self.table


def _timestamps(s: Optional[pd.Series], n: int) -> np.ndarray:
    """Submission times as int64 nanoseconds; missing/unreadable -> the smallest value (oldest)."""
    if s is None:
        return np.zeros(n, dtype=np.int64)
    t = pd.to_datetime(s.astype("string").str.strip(), errors="coerce", format="mixed")
    out = t.to_numpy(dtype="datetime64[ns]").astype(np.int64)
    out[t.isna().to_numpy()] = np.iinfo(np.int64).min
    return out


def resolve_duplicates(ids: pd.Series, *, submitted_at: Optional[pd.Series] = None,
                       order: Optional[Sequence[int]] = None, ok: Optional[Sequence[bool]] = None) -> Duplicates:
    """Keep one submission per student id: the latest scorable one (see the module notes for the rule).

    Parameters
    ----------
    ids : Series
        Student ids (text; NA = no id, never a duplicate).
    submitted_at : Series, optional
        Submission times (text or datetime), same length.
    order : sequence of int, optional
        The input order to break ties (file number * big + row); default the position.
    ok : sequence of bool, optional
        True where the row can be scored; scorable rows are preferred.

    Returns
    -------
    Duplicates

    Examples
    --------
    >>> import pandas as pd
    >>> d = resolve_duplicates(pd.Series(["01", "02", "01"]),
    ...                        submitted_at=pd.Series(["2026-09-10 09:00", "2026-09-10 09:01", "2026-09-10 08:00"]))
    >>> d.keep.tolist(), d.table["kept_position"].tolist()
    ([True, True, False], [0])
    """
    n = len(ids)
    has_id = ids.notna().to_numpy()
    pos = np.arange(n)
    frame = pd.DataFrame({
        "id": ids.to_numpy(dtype=object),
        "ok": np.ones(n, dtype=bool) if ok is None else np.asarray(ok, dtype=bool),
        "t": _timestamps(None if submitted_at is None else submitted_at.reset_index(drop=True), n),
        "order": pos if order is None else np.asarray(order, dtype=np.int64),
        "pos": pos,
    })[has_id]
    frame = frame.sort_values(["id", "ok", "t", "order"], kind="stable")
    last = ~frame["id"].duplicated(keep="last").to_numpy()
    keep = np.ones(n, dtype=bool)
    dropped = frame.loc[~last]
    keep[dropped["pos"].to_numpy()] = False
    kept_pos = frame.loc[last].set_index("id")["pos"]
    table = pd.DataFrame({"position": dropped["pos"].to_numpy(dtype=np.int64),
                          "kept_position": kept_pos.reindex(dropped["id"]).to_numpy(dtype=np.int64),
                          "rule": "latest scorable submission kept"})
    return Duplicates(keep=keep, table=table.sort_values("position").reset_index(drop=True))


def longest_run(items: pd.DataFrame, *, ignore_floor: bool = True, floors: Optional[Sequence[float]] = None) -> np.ndarray:
    """Length of the longest run of identical (answered) answers along the columns, per row.

    Vectorised over rows (the loop is over the columns). A missing answer breaks a run. With
    ``ignore_floor``, an answer equal to its column's floor (``floors``, default each column's minimum
    code seen... pass the instrument's lowest codes) breaks a run too.
    """
    x = items.to_numpy(dtype=float, na_value=np.nan)
    n, k = x.shape
    if k == 0:
        return np.zeros(n, dtype=np.int64)
    valid = ~np.isnan(x)
    if ignore_floor:
        fl = np.nanmin(x, axis=0) if floors is None else np.asarray(floors, dtype=float)
        valid &= x != fl[None, :]
    run = valid[:, 0].astype(np.int64)
    best = run.copy()
    for j in range(1, k):
        same = valid[:, j] & valid[:, j - 1] & (x[:, j] == x[:, j - 1])
        run = np.where(same, run + 1, valid[:, j].astype(np.int64))
        np.maximum(best, run, out=best)
    return best


def longstring(items: pd.DataFrame, *, min_run: int = LONGSTRING_MIN_RUN, ignore_floor: bool = True,
               floors: Optional[Sequence[float]] = None) -> pd.Series:
    """Flag rows whose longest run of identical answers reaches ``min_run`` items.

    Parameters
    ----------
    items : DataFrame
        Answer codes in questionnaire order (NaN = not answered).
    min_run : int
        Default :data:`LONGSTRING_MIN_RUN` (10).
    ignore_floor : bool
        Do not count runs of the lowest code (see the module notes).
    floors : sequence of float, optional
        The lowest response code of each column (default: the lowest code seen in the column).

    Returns
    -------
    Series of bool (same index).

    Examples
    --------
    >>> import pandas as pd
    >>> items = pd.DataFrame({f"x.{i}": [0, 3] for i in range(1, 11)})
    >>> longstring(items).tolist(), longstring(items, ignore_floor=False).tolist()
    ([False, True], [True, True])
    """
    return pd.Series(longest_run(items, ignore_floor=ignore_floor, floors=floors) >= min_run,
                     index=items.index, dtype=bool)


_HMS = re.compile(r"^(?:(\d+):)?(\d+):(\d+(?:\.\d+)?)$")
_ZH = re.compile(r"^(?:(\d+(?:\.\d+)?)(?:小时|时|h))?(?:(\d+(?:\.\d+)?)(?:分钟|分|min|m))?(?:(\d+(?:\.\d+)?)(?:秒钟|秒|sec|s))?$")


def _seconds(text) -> float:
    t = re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(text))).lower()
    if not t:
        return np.nan
    try:
        return float(t)
    except ValueError:
        pass
    m = _HMS.match(t)
    if m:
        h = float(m.group(1) or 0)
        return h * 3600 + float(m.group(2)) * 60 + float(m.group(3))
    m = _ZH.match(t)
    if m and any(m.groups()):
        h, mi, s = (float(g) if g else 0.0 for g in m.groups())
        return h * 3600 + mi * 60 + s
    return np.nan


def parse_duration(s: pd.Series) -> pd.Series:
    """Durations as seconds (float, NaN when unreadable); parsed once per distinct text.

    Examples
    --------
    >>> import pandas as pd
    >>> parse_duration(pd.Series(["245秒", "4分5秒", "00:04:05", "4:05", "245", "abc"])).tolist()
    [245.0, 245.0, 245.0, 245.0, 245.0, nan]
    """
    txt = s.astype("string")
    uniq = txt.dropna().unique()
    return txt.map({v: _seconds(v) for v in uniq}).astype(float)


def too_fast(duration: pd.Series, *, n_items, seconds_per_item: float = SECONDS_PER_ITEM) -> pd.Series:
    """Flag sheets completed in less than ``seconds_per_item`` per item (NaN duration: not flagged).

    Parameters
    ----------
    duration : Series
        As written in the export (see :func:`parse_duration`) or seconds.
    n_items : int or Series
        Items answered (per row) or on the form.
    seconds_per_item : float
        Default :data:`SECONDS_PER_ITEM` (2 s, Huang et al. 2012).
    """
    secs = duration.astype(float) if pd.api.types.is_numeric_dtype(duration.dtype) else parse_duration(duration)
    need = np.asarray(n_items, dtype=float) * seconds_per_item
    flag = secs.to_numpy(dtype=float) < need
    return pd.Series(flag, index=duration.index, dtype=bool)
