"""IRT charts in :mod:`psyscreen.plots` style: item characteristic curves and information with the SE curve.

Figures are built without pyplot (returned, never shown), with Chinese labels by default (``lang="en"`` for
English) in the CJK font :mod:`psyscreen.plots` finds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from matplotlib.figure import Figure

from psyscreen.irt._info import item_information, se_curve, test_information
from psyscreen.irt._model import trace
from psyscreen.plots import _figure, _rc_context

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = ["item_characteristic_curves", "information_curves"]

_TEXT = {
    "zh": {"icc_title": "条目特征曲线", "theta": "潜在特质 θ", "prob": "作答概率", "cat": "选项 {c}",
           "info_title": "信息函数与测量标准误", "info": "信息量", "test": "测验信息", "se": "标准误",
           "cut": "界值"},
    "en": {"icc_title": "Item characteristic curves", "theta": "Latent trait θ", "prob": "Probability",
           "cat": "category {c}", "info_title": "Information and standard error", "info": "Information",
           "test": "test information", "se": "standard error", "cut": "cutoff"},
}


def _txt(lang: str) -> dict:
    if lang not in _TEXT:
        raise ValueError(f"lang must be one of {sorted(_TEXT)}; got {lang!r}.")
    return _TEXT[lang]


def item_characteristic_curves(result, items=None, *, theta=None, title=None, lang="zh") -> Figure:
    """Category probability curves, one panel per item (mirt ``plot(type = "trace")``).

    Examples
    --------
    >>> from psyscreen.irt import ItemParams
    >>> from types import SimpleNamespace
    >>> p = ItemParams(("x1", "x2"), "2PL", np.array([1.0, 2.0]), np.array([[0.0], [1.0]]), np.array([2, 2]))
    >>> fig = item_characteristic_curves(SimpleNamespace(params=p, categories=((0, 1), (0, 1))), lang="en")
    >>> len(fig.axes)
    2
    """
    t = _txt(lang)
    params = result.params
    names = list(params.items) if items is None else list(items)
    grid = np.linspace(-4, 4, 161) if theta is None else np.asarray(theta, dtype=float)
    probs = trace(params, grid)
    n = len(names)
    cols = min(3, n)
    rows = int(np.ceil(n / cols))
    with _rc_context():
        fig = Figure(figsize=(4.0 * cols, 3.0 * rows), layout="constrained")
        for i, name in enumerate(names):
            j = params.items.index(name)
            ax = fig.add_subplot(rows, cols, i + 1)
            for k in range(int(params.n_cat[j])):
                ax.plot(grid, probs[j, :, k], label=t["cat"].format(c=f"{result.categories[j][k]:g}"))
            ax.set_title(name)
            ax.set_ylim(0, 1)
            ax.set_xlabel(t["theta"])
            ax.set_ylabel(t["prob"])
            ax.legend(frameon=False, fontsize=7)
        fig.suptitle(t["icc_title"] if title is None else title)
    return fig


def information_curves(result, *, theta=None, cutoffs=None, show_items=True, title=None, lang="zh",
                       ax: Axes | None = None) -> Figure:
    """Test (and item) information with the standard error curve on a second axis; cutoffs (theta) marked."""
    t = _txt(lang)
    params = result.params
    grid = np.linspace(-4, 4, 161) if theta is None else np.asarray(theta, dtype=float)
    with _rc_context():
        fig, ax = _figure(ax, (7.0, 4.2))
        if show_items:
            info = item_information(params, grid)
            for name in params.items:
                ax.plot(grid, info[name], linewidth=0.8, alpha=0.7, label=name)
        ax.plot(grid, test_information(params, grid), color="black", linewidth=2, label=t["test"])
        ax.set_xlabel(t["theta"])
        ax.set_ylabel(t["info"])
        ax2 = ax.twinx()
        ax2.plot(grid, se_curve(params, grid), color="C3", linestyle="--", label=t["se"])
        ax2.set_ylabel(t["se"])
        for c in [] if cutoffs is None else np.atleast_1d(cutoffs):
            ax.axvline(float(c), color="0.4", linestyle=":", linewidth=1)
            ax.annotate(f"{t['cut']} θ={float(c):.2f}", xy=(float(c), 0.98), xycoords=("data", "axes fraction"),
                        ha="left", va="top", fontsize=8)
        lines = ax.get_lines() + ax2.get_lines()
        ax.legend(lines, [ln.get_label() for ln in lines], frameon=False, fontsize=7, loc="upper left")
        ax.set_title(t["info_title"] if title is None else title)
    return fig
