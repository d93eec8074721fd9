"""What an item analysis is given: which columns are items, a correlation matrix instead of answers, rows used.

Shared by :mod:`psyscreen.reliability`, :mod:`psyscreen.omega` and :mod:`psyscreen.validity.efa`, so that
``alpha``, ``split_half``, ``omega``, ``efa``, ``kmo``, ``bartlett`` and ``parallel_analysis`` read their input
the same way:

* :func:`select_items` takes the item columns by name (a list, or an instrument id such as ``"phq9"`` resolved
  through :func:`psyscreen.instrument.load_instrument`), or, when none are named, refuses a frame that carries
  columns that are plainly not items (text, an id, age, gender, grade, class, school, or numbers unlike the
  other columns) instead of analysing them as items;
* :func:`correlation_input` accepts a correlation or covariance matrix with ``n_obs`` (as ``psych::fa(R,
  n.obs = )`` does) and refuses a square symmetric frame labelled like one when ``n_obs`` is missing (it would
  otherwise be read as that many rows of answers);
* :func:`dropped_message` and :func:`emit` say, once, how many rows an analysis left out.

Nothing here does I/O or prints: warnings go through :func:`warnings.warn` and into the result's ``warnings``.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["PsychometricWarning", "correlation_input", "dropped_message", "emit", "non_item_columns",
           "select_items"]


class PsychometricWarning(UserWarning):
    """A result that stands but needs a look (rows dropped, a Heywood case, an item keyed the wrong way)."""


# names of columns that describe the respondent, not an answer (compared case-insensitively)
_NON_ITEM_NAMES = frozenset({
    "id", "sid", "pid", "uid", "student", "studentid", "student_id", "student_no", "name", "age", "gender",
    "sex", "grade", "class", "school", "education", "edu", "wave", "date", "time", "year", "district",
    "county", "ethnicity", "race", "birthday", "birth", "dob", "phone",
    "学号", "编号", "序号", "姓名", "年龄", "性别", "年级", "班级", "学校", "民族", "日期", "学段", "区县",
})
_ID_SUFFIX = re.compile(r"[_.\s-]id$", re.IGNORECASE)


def _small_integers(values: np.ndarray) -> bool:
    """All answers whole numbers between -10 and 10 (what a rating-scale item holds)."""
    v = values[~np.isnan(values)]
    return bool(np.all(v == np.round(v)) and np.all(np.abs(v) <= 10)) if v.size else True


def non_item_columns(frame: pd.DataFrame) -> list[tuple[str, str]]:
    """Columns of ``frame`` that are plainly not items, each with the reason.

    A column is not an item when it is not numeric, when its name is that of a respondent's attribute (id,
    student_id, age, gender, sex, grade, class, school, education, ... or their Chinese names, or a name ending
    in ``_id``), or when its values are not small whole numbers while most of the other columns hold small
    whole numbers (age 12-18 or a student number among 0-3 answers).

    Examples
    --------
    >>> import pandas as pd
    >>> x = pd.DataFrame({"q1": [0, 1, 3], "q2": [1, 2, 2], "q3": [0, 0, 1], "age": [13, 15, 14],
    ...                   "sno": [20231, 20232, 20233], "gender": ["m", "f", "f"]})
    >>> [c for c, _ in non_item_columns(x)]
    ['age', 'sno', 'gender']
    """
    out: list[tuple[str, str]] = []
    numeric = []
    for col in frame.columns:
        name = str(col).strip()
        if not pd.api.types.is_numeric_dtype(frame[col]) or pd.api.types.is_bool_dtype(frame[col]):
            out.append((col, "not numeric"))
        elif name.lower() in _NON_ITEM_NAMES or _ID_SUFFIX.search(name):
            out.append((col, "named like a respondent's attribute, not an item"))
        else:
            numeric.append(col)
    small = {c: _small_integers(frame[c].to_numpy(dtype=float, na_value=np.nan)) for c in numeric}
    if sum(small.values()) >= max(2, len(numeric) / 2):
        out.extend((c, "values are not small whole numbers like the other columns") for c in numeric if not small[c])
    order = {c: i for i, c in enumerate(frame.columns)}
    return sorted(out, key=lambda t: order[t[0]])


def _instrument_columns(instrument_id: str, frame: pd.DataFrame, error: type[Exception]) -> list:
    from .instrument import InstrumentError, load_instrument  # the statistics need the loader only here

    try:
        inst = load_instrument(instrument_id)
    except InstrumentError as exc:
        raise error(f"items={instrument_id!r} is neither a list of columns nor a known instrument: {exc}") from exc
    scored = [it for it in inst.item_list if it.scored]
    missing = [f"{inst.id}.{it.number}" for it in scored
               if not it.optional and f"{inst.id}.{it.number}" not in frame.columns]
    if missing:
        raise error(f"the data lack {len(missing)} item column(s) of {inst.id}: {', '.join(missing[:10])}"
                    + (" ..." if len(missing) > 10 else "") + f" (item columns are named '{inst.id}.<number>')")
    return [f"{inst.id}.{it.number}" for it in scored if f"{inst.id}.{it.number}" in frame.columns]


def select_items(frame, items: Sequence | str | None, *, error: type[Exception]) -> pd.DataFrame:
    """The item columns of ``frame``: those named by ``items``, or all of them when none look like non-items.

    Parameters
    ----------
    frame : pandas.DataFrame
        Answers, one row per respondent.
    items : list of column labels, str or None
        The item columns; a string is an instrument id (``"phq9"``) whose scored item columns
        (``phq9.1`` ..) are taken. None: every column, after refusing those :func:`non_item_columns` finds.
    error : exception class
        Raised (with a message that lists the columns) when the columns cannot be used.

    Examples
    --------
    >>> import pandas as pd
    >>> x = pd.DataFrame({"id": [1, 2, 3], "phq9.1": [0, 1, 2], "phq9.2": [1, 1, 3]})
    >>> list(select_items(x, ["phq9.1", "phq9.2"], error=ValueError).columns)
    ['phq9.1', 'phq9.2']
    >>> select_items(x, None, error=ValueError)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: the data hold column(s) that are not items: 'id' (named like a respondent's attribute, ...
    """
    if not isinstance(frame, pd.DataFrame):
        raise error(f"the data must be a pandas DataFrame with one column per item, got {type(frame).__name__}")
    if items is None:
        bad = non_item_columns(frame)
        if bad:
            listed = "; ".join(f"{c!r} ({why})" for c, why in bad)
            raise error(f"the data hold column(s) that are not items: {listed}; pass items=[...] with the item "
                        'columns (or an instrument id such as items="phq9")')
        return frame
    cols = _instrument_columns(items, frame, error) if isinstance(items, str) else list(items)
    unknown = [str(c) for c in cols if c not in frame.columns]
    if unknown:
        raise error(f"items names columns that are not in the data: {', '.join(unknown)}")
    if len(set(cols)) != len(cols):
        raise error("items names a column more than once")
    return frame[cols]


def _looks_like_matrix(frame: pd.DataFrame) -> bool:
    p = frame.shape[1]
    if frame.shape[0] != p or p < 2 or list(frame.index) != list(frame.columns):
        return False
    if not all(pd.api.types.is_numeric_dtype(frame[c]) for c in frame.columns):
        return False
    m = frame.to_numpy(dtype=float, na_value=np.nan)
    return bool(np.isfinite(m).all() and np.allclose(m, m.T, rtol=1e-8, atol=1e-10) and (np.diag(m) > 0).all())


def correlation_input(frame, n_obs: int | None, *, error: type[Exception]) -> tuple[np.ndarray, list] | None:
    """A correlation matrix from a correlation or covariance matrix given with ``n_obs``; None for answers.

    With ``n_obs`` the frame must be a square symmetric matrix with the item labels as index and columns
    (a covariance matrix is turned into correlations, as psych does unless ``covar = TRUE``). Without
    ``n_obs`` a frame that looks like such a matrix is refused: read as answers it would be ``p`` respondents.

    Examples
    --------
    >>> import pandas as pd
    >>> R = pd.DataFrame([[4.0, 2.0], [2.0, 9.0]], index=["a", "b"], columns=["a", "b"])
    >>> r, names = correlation_input(R, 100, error=ValueError)
    >>> round(float(r[0, 1]), 4), names
    (0.3333, ['a', 'b'])
    """
    if not isinstance(frame, pd.DataFrame):
        return None
    if n_obs is None:
        if _looks_like_matrix(frame):
            raise error("this looks like a correlation matrix; pass n_obs= (the number of respondents it was "
                        "computed from) to analyse it as one, or pass the answers (it is square and symmetric, "
                        "with the same labels on its rows and columns, so it would be read as "
                        f"{frame.shape[0]} respondents)")
        return None
    if isinstance(n_obs, bool) or not isinstance(n_obs, (int, np.integer)) or n_obs < 2:
        raise error(f"n_obs must be the whole number of respondents (at least 2), got {n_obs!r}")
    if not _looks_like_matrix(frame):
        raise error("n_obs is given, so the data must be a correlation or covariance matrix: square, symmetric, "
                    "finite, a positive diagonal, with the item labels as both index and columns")
    m = frame.to_numpy(dtype=float)
    s = np.sqrt(np.diag(m))
    r = m / np.outer(s, s)
    np.fill_diagonal(r, 1.0)
    return r, list(frame.columns)


def dropped_message(n_dropped: int, n_total: int, how: str = "listwise") -> tuple[str, ...]:
    """The one warning an analysis gives when it left rows out, as a 0- or 1-tuple.

    Examples
    --------
    >>> dropped_message(1961, 3896)
    ('dropped 1,961 of 3,896 rows with a missing answer (listwise)',)
    >>> dropped_message(0, 3896)
    ()
    """
    if n_dropped <= 0:
        return ()
    what = "with a missing answer" if how == "listwise" else "without any answer"
    return (f"dropped {n_dropped:,} of {n_total:,} rows {what} ({how})",)


def emit(messages: Sequence[str], stacklevel: int = 3) -> tuple[str, ...]:
    """Warn each message (:class:`PsychometricWarning`) and return them as the result's ``warnings``."""
    for msg in messages:
        warnings.warn(msg, PsychometricWarning, stacklevel=stacklevel)
    return tuple(messages)
