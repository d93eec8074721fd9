"""Small shared helpers for result objects (frozen dataclasses with ``to_frame`` and an HTML repr)."""

from __future__ import annotations

import html

import pandas as pd


class ResultMixin:
    """Give a frozen dataclass result an HTML repr built from its ``to_frame()``.

    Subclasses implement ``to_frame() -> pandas.DataFrame``; notebooks then show the
    table instead of a long dataclass repr.
    """

    def to_frame(self) -> pd.DataFrame:  # pragma: no cover - subclasses override
        raise NotImplementedError

    def _repr_html_(self) -> str:
        title = html.escape(type(self).__name__)
        return f"<div><strong>{title}</strong>{self.to_frame().to_html()}{_notes_html(self)}</div>"


def _notes_html(result) -> str:
    """Rows used and dropped, and the warnings, of a result that has them (``n_used``, ``n_dropped``, ``warnings``)."""
    parts = []
    if getattr(result, "n_used", None) is not None and getattr(result, "n_dropped", None) is not None:
        parts.append(f"<p>rows used: {result.n_used:,}; rows dropped: {result.n_dropped:,}</p>")
    warnings = getattr(result, "warnings", None) or ()
    if warnings:
        items = "".join(f"<li>{html.escape(str(w))}</li>" for w in warnings)
        parts.append(f"<p>Warnings:</p><ul>{items}</ul>")
    return "".join(parts)


def one_row(**columns) -> pd.DataFrame:
    """A one-row frame of named scalars: the ``to_frame()`` of a summary result.

    Examples
    --------
    >>> one_row(alpha=0.8, n=120).to_dict("records")
    [{'alpha': 0.8, 'n': 120}]
    """
    return pd.DataFrame({name: [value] for name, value in columns.items()})
