"""The county's dashboard: per school, how far the follow-up of the flagged students has come, with small counts
suppressed for the read-only leadership views, and a plot.

The columns overlap (a reviewed student is also flagged), so they are not the categories of one partition and
:func:`psyscreen.privacy.suppress_small` (which audits row sums) does not apply as such. The published sums are the
county's total row; the rule is the project's (:mod:`psyscreen.privacy`): every count from 1 to ``min_cell - 1`` is
hidden (marked :data:`psyscreen.privacy.HIDDEN`), and then, column by column, a total never has exactly one hidden
count under it and the hidden counts under a shown total add up to ``min_cell`` or more (else one more count is
hidden, the smallest first); a school whose flagged count is hidden has every count hidden (each is at most the
flagged count).

Examples
--------
>>> suppress_columns([[12, 3], [7, 7], [20, 9]], min_cell=5)
[[12, '*'], [7, '*'], [20, 9]]
"""

from __future__ import annotations

import base64
import io
from collections import defaultdict
from dataclasses import dataclass

from django.utils import timezone

from .. import followup
from ..privacy import HIDDEN


__all__ = ["COLUMNS", "SchoolRow", "school_rows", "case_counts", "suppress_columns", "table", "plot_png"]

#: The dashboard's columns, in order (keys of :mod:`psyscreen.workspace.words`).
COLUMNS = ("flagged", "reviewed", "interviewed_on_time", "referred", "closed", "overdue")
MIN_CELL = 5


@dataclass
class SchoolRow:
    school: str
    counts: list


def school_rows(cases=None, wave: str | None = None) -> list[SchoolRow]:
    """Per school (sorted by name): flagged, reviewed, interviewed within the deadline, referred, closed, overdue.

    Every case's state is worked out from its events (:func:`psyscreen.followup.case_state`); the cases and events
    are read as plain rows, two queries in all, since a county's dashboard over every wave counts tens of
    thousands of cases (``benchmarks/bench_case_lists.py``).
    """
    from .models import Case, Event, domain_event

    today = timezone.localdate()
    qs = Case.objects.all() if cases is None else cases
    if wave:
        qs = qs.filter(wave=wave)
    events: dict = defaultdict(list)
    rows = Event.objects.filter(case__in=qs).order_by("recorded_at").values_list("case_id", *Event.DOMAIN_COLUMNS)
    for case_id, *columns in rows.iterator(chunk_size=5000):
        events[case_id].append(domain_event(*columns))
    by_school: dict[str, list] = {}
    for pk, school, deadline in qs.order_by().values_list("pk", "school", "deadline").iterator(chunk_size=5000):
        row = by_school.setdefault(school, [0] * len(COLUMNS))
        for j, hit in enumerate(case_counts(followup.case_state(events.get(pk, ())), deadline, today)):
            row[j] += int(hit)
    return [SchoolRow(k, v) for k, v in sorted(by_school.items())]


def case_counts(state: followup.CaseState, deadline, today) -> tuple[bool, ...]:
    """Which of the dashboard's :data:`COLUMNS` one case counts in, from its state and deadline."""
    on_time = state.interviewed_on is not None and state.interviewed_on <= deadline
    return (True, state.reviewed is not None, on_time, state.referred, state.closed, state.overdue(deadline, today))


def suppress_columns(rows: list[list[int]], min_cell: int = MIN_CELL) -> list[list]:
    """Hide small counts (``1 <= n < min_cell``) and what would reveal them through the column totals; the first
    column is the flagged count, which bounds the others in its row. Hidden cells become ``"*"``.

    Examples
    --------
    >>> suppress_columns([[3, 3], [40, 10], [30, 12]])  # school 1 hidden; the flagged total needs a second hidden
    [['*', '*'], [40, 10], ['*', '*']]
    """
    n = len(rows)
    if n == 0:
        return []
    m = len(rows[0])
    hidden = [[1 <= v < min_cell for v in r] for r in rows]
    for i in range(n):
        if hidden[i][0]:
            hidden[i] = [True] * m
    changed = True
    while changed:
        changed = False
        for j in range(m):
            col = [rows[i][j] for i in range(n)]
            hid = [i for i in range(n) if hidden[i][j]]
            if not hid:
                continue
            shown = [i for i in range(n) if not hidden[i][j]]
            if (len(hid) == 1 or sum(col[i] for i in hid) < min_cell) and shown:
                pick = min(shown, key=lambda i: (col[i] == 0, col[i]))
                hidden[pick][j] = True
                if j == 0:
                    hidden[pick] = [True] * m
                changed = True
    return [[HIDDEN if hidden[i][j] else rows[i][j] for j in range(m)] for i in range(n)]


def table(rows: list[SchoolRow], *, suppress: bool) -> tuple[list[tuple[str, list]], list]:
    """The dashboard's body (school, counts) and total row, suppressed when ``suppress``.

    With suppression a hidden count is ``"*"`` and the totals are shown (the hidden counts under them can be
    neither singled out nor pinned, see :func:`suppress_columns`).
    """
    counts = [r.counts for r in rows]
    totals = [sum(c[j] for c in counts) for j in range(len(COLUMNS))]
    if suppress:
        counts = suppress_columns(counts)
        totals = [HIDDEN if 1 <= t < MIN_CELL else t for t in totals]
    return [(r.school, c) for r, c in zip(rows, counts)], totals


def plot_png(body: list[tuple[str, list]], words: dict) -> str:
    """A horizontal bar chart per school of flagged, interviewed on time, closed and overdue, as a PNG data URI
    (inline in the page: no static files). Hidden counts are not drawn."""
    from matplotlib.figure import Figure

    from ..plots import _rc_context

    shown = ("flagged", "interviewed_on_time", "closed", "overdue")
    colours = ("#1f4e79", "#2e7d32", "#757575", "#c62828")
    schools = [s for s, _ in body]
    with _rc_context():
        fig = Figure(figsize=(7.5, 0.55 * max(len(schools), 2) + 1.2), layout="constrained")
        ax = fig.add_subplot()
        height = 0.8 / len(shown)
        for k, (key, colour) in enumerate(zip(shown, colours)):
            j = COLUMNS.index(key)
            ys = [i + k * height for i in range(len(schools))]
            vals = [c[j] if isinstance(c[j], int) else 0 for _, c in body]
            ax.barh(ys, vals, height=height, color=colour, label=words[key])
        ax.set_yticks([i + 0.4 - height / 2 for i in range(len(schools))], schools)
        ax.invert_yaxis()
        ax.legend(loc="lower right", fontsize=8)
        ax.grid(axis="x", alpha=0.3)
        ax.xaxis.get_major_locator().set_params(integer=True)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=90)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
