"""Answer sheets for tests: one row per answer vector, item columns ``<instrument>.<n>``."""

from __future__ import annotations

import numpy as np
import pandas as pd


def answer_sheet(instrument: str, n_items: int, rows) -> pd.DataFrame:
    """Rows of answers (item 1 first) as a frame; ``None`` or NaN = not answered."""
    values = np.atleast_2d(np.array([[np.nan if a is None else a for a in row] for row in np.atleast_2d(np.asarray(rows, dtype=object))],
                                    dtype=float))
    return pd.DataFrame(values, columns=[f"{instrument}.{i}" for i in range(1, n_items + 1)])


def spread(total: int, slots: int, top: int) -> list[int]:
    """``slots`` scores that sum to ``total``: ``top``, ``top``, ... then the remainder, then 0 (worked by hand).

    >>> spread(7, 4, 3)
    [3, 3, 1, 0]
    """
    out, left = [], total
    for _ in range(slots):
        out.append(min(top, left))
        left -= out[-1]
    assert left == 0, f"{total} does not fit in {slots} slots of at most {top}"
    return out
