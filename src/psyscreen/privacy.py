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
    hit = s.str.match(_PATTERN).fillna(False).astype(bool)  # non-text cells of an object column: NaN -> False
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
