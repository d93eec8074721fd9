"""Answer sheets for tests: one row per answer vector, item columns ``<instrument>.<n>``."""

from __future__ import annotations

import numpy as np
import pandas as pd


def answer_sheet(instrument: str, n_items: int, rows) -> pd.DataFrame:
    """Rows of answers (item 1 first) as a frame; ``None`` or NaN = not answered."""
    values = np.atleast_2d(np.array([[np.nan if a is None else a for a in row] for row in np.atleast_2d(np.asarray(rows, dtype=object))],
                                    dtype=float))
    return pd.DataFrame(values, columns=[f"{instrument}.{i}" for i in range(1, n_items + 1)])
