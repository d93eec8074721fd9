"""Charts for screening analyses, with Chinese labels that render as Chinese.

Every function returns a :class:`matplotlib.figure.Figure` built without pyplot (no global state,
safe under the Agg backend, nothing is shown); pass ``ax=`` to draw into an existing axes instead.

Chinese text needs a font with CJK glyphs: matplotlib's bundled DejaVu Sans has none and draws
boxes. On first use (not at ``import psyscreen``) :func:`cjk_font` finds one and registers it with
matplotlib's font manager, looking in this order:

1. a font set with :func:`use_font` or the ``PSYSCREEN_CJK_FONT`` environment variable (a file path);
2. a font shipped inside psyscreen (``psyscreen/fonts/``), if the package carries one;
3. Noto Sans SC from the PyPI package ``pylopdf-fonts-zh-cn`` (SIL OFL, ~17 MB);
4. Noto Sans CJK SC from the PyPI package ``mplfonts``;
5. a system font: Noto Sans CJK / Source Han Sans / WenQuanYi / SimHei / Microsoft YaHei / PingFang.

Text is then set in that font with DejaVu Sans as the fallback for any glyph it lacks.
"""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
from matplotlib import font_manager
from matplotlib.figure import Figure

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

    from psyscreen.norms import NormTable
    from psyscreen.validity.roc import ROCResult

__all__ = [
    "CJKFont",
    "CJKFontWarning",
    "cjk_font",
    "use_font",
    "item_distributions",
    "scree",
    "roc_curve",
    "norm_curves",
    "percentile_curves",
    "norm_score_distribution",
]

SAMPLE_TEXT = "心理健康筛查量表百分等级常模年级男女阳性敏感度特异度"
_SYSTEM_NAMES = (
    "notosanscjksc",
    "notosanssc",
    "notosanscjk",
    "sourcehansans",
    "wqy-microhei",
    "wqy-zenhei",
    "simhei",
    "msyh",
    "pingfang",
)


class CJKFontWarning(UserWarning):
    """No font with Chinese glyphs was found: Chinese labels will show as boxes."""


@dataclass(frozen=True)
class CJKFont:
    """The font used for Chinese text: its file, the family name matplotlib knows it by, and where it came from."""

    path: Path
    family: str
    source: str

    def covers(self, text: str) -> bool:
        """True when the font has a glyph for every non-space character of ``text``."""
        return not missing_glyphs(self.path, text)


def missing_glyphs(path: str | Path, text: str) -> list[str]:
    """Characters of ``text`` (spaces aside) that the font file at ``path`` has no glyph for.

    Reads the font's cmap with fontTools (a matplotlib dependency); for a collection (.ttc/.otc)
    the first font is checked.
    """
    from fontTools.ttLib import TTCollection, TTFont

    path = Path(path)
    if path.suffix.lower() in (".ttc", ".otc"):
        font = TTCollection(str(path), lazy=True).fonts[0]
    else:
        font = TTFont(str(path), lazy=True)
    try:
        cmap = font.getBestCmap() or {}
    finally:
        font.close()
    return sorted({ch for ch in text if not ch.isspace() and ord(ch) not in cmap})


_override: Path | None = None


def use_font(path: str | Path | None) -> None:
    """Use this font file for Chinese text from now on (``None`` returns to the automatic choice)."""
    global _override
    _override = None if path is None else Path(path)
    if _override is not None and not _override.is_file():
        raise FileNotFoundError(f"font file {_override} does not exist.")
    cjk_font.cache_clear()


def _candidates() -> list[tuple[Path, str]]:
    out: list[tuple[Path, str]] = []
    env = os.environ.get("PSYSCREEN_CJK_FONT")
    if _override is not None:
        out.append((_override, "use_font()"))
    if env:
        out.append((Path(env), "PSYSCREEN_CJK_FONT"))
    bundled = Path(__file__).with_name("fonts")
    if bundled.is_dir():
        out += [(p, "psyscreen/fonts") for p in sorted(bundled.iterdir()) if p.suffix.lower() in (".otf", ".ttf", ".ttc")]
    try:
        import pylopdf_fonts_zh_cn

        out.append((Path(pylopdf_fonts_zh_cn.sans_path()), "pylopdf-fonts-zh-cn"))
    except ImportError:
        pass
    try:
        import mplfonts

        out.append((Path(mplfonts.__file__).with_name("fonts") / "NotoSansCJKsc-Regular.otf", "mplfonts"))
    except ImportError:
        pass
    system = font_manager.findSystemFonts()
    for key in _SYSTEM_NAMES:
        out += [(Path(p), "system") for p in sorted(system) if key in Path(p).name.lower().replace(" ", "")]
    return out


@functools.lru_cache(maxsize=1)
def cjk_font() -> CJKFont | None:
    """Find a font with Chinese glyphs, register it with matplotlib, and return it (cached).

    Returns None, with a :class:`CJKFontWarning`, when there is none; install one with
    ``pip install pylopdf-fonts-zh-cn`` (or point ``PSYSCREEN_CJK_FONT`` at a .otf/.ttf file).
    """
    for path, source in _candidates():
        if not path.is_file():
            continue
        try:
            if missing_glyphs(path, SAMPLE_TEXT):
                continue
            font_manager.fontManager.addfont(str(path))
            family = font_manager.FontProperties(fname=str(path)).get_name()
        except Exception:  # a broken font file: try the next one
            continue
        return CJKFont(path=path, family=family, source=source)
    warnings.warn(
        "no font with Chinese glyphs was found, so Chinese labels will show as boxes; "
        "install one with `pip install pylopdf-fonts-zh-cn`, or set PSYSCREEN_CJK_FONT to a font file.",
        CJKFontWarning,
        stacklevel=2,
    )
    return None


def _rc() -> dict:
    """rcParams for a figure: the CJK font first, DejaVu Sans as the glyph fallback; every text plain.

    ``text.parse_math`` is off, so a label from the data (a school named ``学校$\\foo$``, a stratum value, an
    item label) is drawn as the characters it has, never parsed as mathtext (where an unknown command such as
    ``\\foo`` raises and stops the figure). A Text takes the setting when it is created, so every artist of a
    figure is made inside :class:`_rc_context`.
    """
    font = cjk_font()
    families = ([font.family] if font else []) + ["DejaVu Sans"]
    return {"font.family": families, "axes.unicode_minus": False, "text.parse_math": False}


def _figure(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax
    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.add_subplot()


_TEXT = {
    "zh": {
        "items_title": "条目作答分布",
        "share": "作答比例",
        "missing": "缺失",
        "scree_title": "碎石图与平行分析",
        "factor": "因子序号",
        "eigen": "特征值",
        "observed": "实际数据",
        "parallel": "平行分析（模拟数据）",
        "kaiser": "特征值 = 1",
        "suggested": "建议保留 {k} 个因子",
        "roc_title": "ROC 曲线",
        "fpr": "1 − 特异度",
        "tpr": "敏感度",
        "chance": "随机判断",
        "youden": "最佳界值 {t:g}（敏感度 {se:.2f}，特异度 {sp:.2f}）",
        "auc": "AUC = {auc:.3f}（95% CI {lo:.3f}–{hi:.3f}）",
        "norm_title": "{scale} 常模曲线",
        "raw": "原始分",
        "pr": "百分等级",
        "t": "T 分数",
        "tn": "标准化 T 分数",
        "pc_title": "{scale} 百分位曲线（连续常模）",
        "observed_pct": "观测百分位（点）",
        "grade": "年级",
        "dist_title": "{scale} 各年级常模分数分布",
    },
    "en": {
        "items_title": "Item response distributions",
        "share": "Share of answers",
        "missing": "missing",
        "scree_title": "Scree plot with parallel analysis",
        "factor": "Factor number",
        "eigen": "Eigenvalue",
        "observed": "observed",
        "parallel": "parallel analysis (simulated)",
        "kaiser": "eigenvalue = 1",
        "suggested": "suggests {k} factors",
        "roc_title": "ROC curve",
        "fpr": "1 − specificity",
        "tpr": "Sensitivity",
        "chance": "chance",
        "youden": "best cut-off {t:g} (sens {se:.2f}, spec {sp:.2f})",
        "auc": "AUC = {auc:.3f} (95% CI {lo:.3f}–{hi:.3f})",
        "norm_title": "{scale} norm curves",
        "raw": "Raw score",
        "pr": "Percentile rank",
        "t": "T score",
        "tn": "Normalised T score",
        "pc_title": "{scale} percentile curves (continuous norms)",
        "observed_pct": "observed percentiles (points)",
        "grade": "Grade",
        "dist_title": "{scale} norm scores by grade",
    },
}

Lang = Literal["zh", "en"]


def _txt(lang: str) -> dict[str, str]:
    if lang not in _TEXT:
        raise ValueError(f"lang must be one of {sorted(_TEXT)}; got {lang!r}.")
    return _TEXT[lang]


def item_distributions(
    frame: pd.DataFrame,
    items: Sequence[str] | None = None,
    *,
    labels: Mapping[str, str] | None = None,
    categories: Sequence | None = None,
    category_labels: Mapping | None = None,
    show_missing: bool = True,
    title: str | None = None,
    lang: Lang = "zh",
    ax: Axes | None = None,
) -> Figure:
    """Stacked bars of the answer shares of each item (one bar per item, 100% wide).

    Parameters
    ----------
    frame : DataFrame
        Item answers, one column per item (e.g. ``phq9.1`` ... ``phq9.9``); NaN is a missing answer.
    items : sequence of str, optional
        Columns to show, top to bottom (default: all columns).
    labels : mapping, optional
        Item column -> text shown on the axis (e.g. the Chinese item stem).
    categories : sequence, optional
        Answer categories in order (default: every value seen, sorted).
    category_labels : mapping, optional
        Category -> legend text (e.g. ``{0: "完全不会", 3: "几乎每天"}``).
    show_missing : bool
        Add a grey "missing" segment for unanswered items.
    title, lang, ax
        Title (default per ``lang``), label language (``"zh"`` or ``"en"``), axes to draw into.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import pandas as pd
    >>> fig = item_distributions(pd.DataFrame({"a": [0, 1, 1, None], "b": [2, 2, 1, 0]}))
    >>> len(fig.axes[0].patches) > 0
    True
    """
    t = _txt(lang)
    items = list(frame.columns if items is None else items)
    absent = [c for c in items if c not in frame.columns]
    if absent:
        raise KeyError(f"item column(s) {absent} not in the data.")
    data = frame[items].apply(pd.to_numeric, errors="coerce")
    values = data.to_numpy(dtype=float, na_value=np.nan)
    if categories is None:
        categories = np.unique(values[~np.isnan(values)]).tolist()
    cats = np.asarray(categories, dtype=float)
    # shares: (items x categories) from a broadcast comparison, no loop over rows
    counts = (values[:, :, None] == cats[None, None, :]).sum(axis=0).astype(float)
    n_missing = np.isnan(values).sum(axis=0).astype(float)
    total = values.shape[0] if values.shape[0] else 1
    shares = counts / total
    miss_share = n_missing / total
    with _rc_context():
        fig, ax = _figure(ax, (8, 0.45 * len(items) + 1.8))
        from matplotlib import colormaps

        cmap = colormaps["RdYlBu_r"]
        colours = cmap(np.linspace(0.1, 0.9, max(len(cats), 1)))
        y = np.arange(len(items))[::-1]
        left = np.zeros(len(items))
        for j, c in enumerate(categories):
            name = (category_labels or {}).get(c, f"{c:g}" if isinstance(c, (int, float)) else str(c))
            ax.barh(y, shares[:, j], left=left, color=colours[j], label=name, height=0.7)
            left += shares[:, j]
        if show_missing and n_missing.any():
            ax.barh(y, miss_share, left=left, color="0.8", label=t["missing"], height=0.7)
        ax.set_yticks(y, [(labels or {}).get(c, c) for c in items])
        ax.set_xlim(0, 1)
        ax.xaxis.set_major_formatter(_percent)
        ax.set_xlabel(t["share"])
        ax.set_title(t["items_title"] if title is None else title)
        ax.legend(ncols=min(len(categories) + 1, 7), loc="lower center", bbox_to_anchor=(0.5, 1.06), frameon=False, fontsize="small")
    return fig


def _percent(x, _pos=None) -> str:
    return f"{100 * x:.0f}%"


def scree(
    eigenvalues,
    parallel=None,
    *,
    kaiser: bool = True,
    title: str | None = None,
    lang: Lang = "zh",
    ax: Axes | None = None,
) -> Figure:
    """Scree plot of observed eigenvalues, with the parallel-analysis line.

    Parameters
    ----------
    eigenvalues : array-like
        Observed eigenvalues, largest first (e.g. of the item correlation matrix).
    parallel : array-like, optional
        The parallel-analysis reference (e.g. the 95th percentile of eigenvalues of simulated
        random data, as ``psych::fa.parallel``), same length or longer. The suggested number of
        factors (leading observed eigenvalues above it) is written on the plot.
    kaiser : bool
        Draw the eigenvalue = 1 line.
    title, lang, ax
        As in :func:`item_distributions`.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> fig = scree([3.1, 1.6, 0.9, 0.5], [1.3, 1.1, 1.0, 0.9])
    >>> fig.axes[0].get_lines()[0].get_ydata().tolist()
    [3.1, 1.6, 0.9, 0.5]
    """
    t = _txt(lang)
    ev = np.asarray(eigenvalues, dtype=float).ravel()
    if ev.size == 0:
        raise ValueError("no eigenvalues to plot.")
    x = np.arange(1, ev.size + 1)
    with _rc_context():
        fig, ax = _figure(ax, (6.5, 4.2))
        ax.plot(x, ev, "o-", color="C0", label=t["observed"])
        if parallel is not None:
            pa = np.asarray(parallel, dtype=float).ravel()[: ev.size]
            ax.plot(x[: pa.size], pa, "s--", color="C3", markersize=4, label=t["parallel"])
            above = ev[: pa.size] > pa
            k = int(np.argmin(above)) if not above.all() else int(pa.size)
            ax.annotate(t["suggested"].format(k=k), xy=(0.98, 0.95), xycoords="axes fraction", ha="right", va="top")
        if kaiser:
            ax.axhline(1.0, color="0.5", linewidth=0.8, linestyle=":", label=t["kaiser"])
        ax.set_xticks(x)
        ax.set_xlabel(t["factor"])
        ax.set_ylabel(t["eigen"])
        ax.set_title(t["scree_title"] if title is None else title)
        ax.legend(frameon=False, loc="center right")
    return fig


def roc_curve(
    result: ROCResult,
    *,
    mark_youden: bool = True,
    title: str | None = None,
    lang: Lang = "zh",
    ax: Axes | None = None,
) -> Figure:
    """The empirical ROC curve of a :func:`psyscreen.validity.roc` result, with AUC and the Youden cut-off.

    Examples
    --------
    >>> from psyscreen.validity.roc import roc
    >>> fig = roc_curve(roc([1, 2, 3, 4, 5, 6], [0, 0, 1, 0, 1, 1], n_boot=0))
    >>> [float(v) for v in fig.axes[0].get_xlim()]
    [0.0, 1.0]
    """
    t = _txt(lang)
    tab = result.table.sort_values(["specificity", "sensitivity"], ascending=[False, True])
    fpr = 1 - tab["specificity"].to_numpy()
    tpr = tab["sensitivity"].to_numpy()
    with _rc_context():
        fig, ax = _figure(ax, (5.2, 5.2))
        lo, hi = result.auc_ci
        ax.plot(fpr, tpr, "-", color="C0", drawstyle="default", label=t["auc"].format(auc=result.auc, lo=lo, hi=hi))
        ax.plot([0, 1], [0, 1], ":", color="0.5", label=t["chance"])
        if mark_youden:
            y = result.youden
            ax.plot(
                [1 - y.specificity],
                [y.sensitivity],
                "o",
                color="C3",
                label=t["youden"].format(t=y.threshold, se=y.sensitivity, sp=y.specificity),
            )
        ax.set_xlim(0.0, 1.0)
        ax.set_ylim(0.0, 1.0)
        ax.set_aspect("equal")
        ax.set_xlabel(t["fpr"])
        ax.set_ylabel(t["tpr"])
        ax.set_title(t["roc_title"] if title is None else title)
        ax.legend(loc="lower right", fontsize="small", frameon=False)
    return fig


def norm_curves(
    table: NormTable,
    scale: str,
    *,
    kind: Literal["pr", "t", "tn"] = "pr",
    order: Sequence | None = None,
    title: str | None = None,
    lang: Lang = "zh",
) -> Figure:
    """Norm curves of one scale: raw score against percentile rank (or T), one line per grade.

    The first ``by`` column of the table (e.g. ``grade``) gives the lines; the other ``by`` columns
    (e.g. ``sex``) give one panel each. Points are the reference sample's distinct scores.

    Parameters
    ----------
    table : NormTable
        A fitted norm table.
    scale : str
        One of ``table.scales_``.
    kind : {"pr", "t", "tn"}
        Percentile rank, linear T, or normalised T on the y axis.
    order : sequence, optional
        Order of the lines (values of the first ``by`` column, e.g. ``["初一", "初二", "初三"]``);
        default sorted.
    title, lang
        As in :func:`item_distributions`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    t = _txt(lang)
    if not hasattr(table, "lookup_"):
        raise ValueError("the norm table is not fitted yet.")
    if scale not in table.scales_:
        raise KeyError(f"scale {scale!r} is not in the norm table; it has {table.scales_}.")
    if kind not in ("pr", "t", "tn"):
        raise ValueError(f"kind must be 'pr', 't' or 'tn'; got {kind!r}.")
    by = list(table.fitted_on_["by"])
    look = table.lookup_[table.lookup_["scale"] == scale]
    line_col = by[0] if by else None
    panel_cols = by[1:]
    panels = [()] if not panel_cols else sorted({tuple(r) for r in look[panel_cols].itertuples(index=False)}, key=str)
    with _rc_context():
        fig = Figure(figsize=(4.2 * len(panels) + 1, 4.2), layout="constrained")
        axes = fig.subplots(1, len(panels), sharey=True, squeeze=False)[0]
        if line_col is None:
            line_values = [None]
        elif order is not None:
            line_values = list(order)
        else:
            line_values = sorted(look[line_col].unique(), key=lambda v: (str(type(v)), v))
        from matplotlib import colormaps

        colours = colormaps["viridis"](np.linspace(0, 0.9, max(len(line_values), 1)))
        for ax, pkey in zip(axes, panels):
            sub = look
            for c, v in zip(panel_cols, pkey):
                sub = sub[sub[c] == v]
            for colour, lv in zip(colours, line_values):
                part = sub if line_col is None else sub[sub[line_col] == lv]
                if part.empty:
                    continue
                label = None if line_col is None else f"{line_col}={lv}"
                ax.plot(part["score"], part[kind], "-", marker=".", color=colour, label=label)
            ax.set_title(", ".join(f"{c}={v}" for c, v in zip(panel_cols, pkey)) or None)
            ax.set_xlabel(t["raw"])
            ax.grid(alpha=0.3)
        axes[0].set_ylabel(t[kind])
        if kind == "pr":
            axes[0].set_ylim(0, 100)
        if line_col is not None:
            axes[-1].legend(frameon=False, fontsize="small")
        fig.suptitle(t["norm_title"].format(scale=scale) if title is None else title)
    return fig


def _continuous_setup(norms, scale, lang):
    t = _txt(lang)
    if not hasattr(norms, "models_"):
        raise ValueError("the continuous norms are not fitted yet.")
    scale = norms.scales_[0] if scale is None else scale
    if scale not in norms.scales_:
        raise KeyError(f"scale {scale!r} is not in the continuous norms; they have {norms.scales_}.")
    xlabel = t["grade"] if norms.age == "grade" else norms.age
    return t, scale, xlabel, list(norms.strata_), list(norms._by)


def _rows_of(data: pd.DataFrame, by: list, key: tuple) -> pd.DataFrame:
    from psyscreen.norms import _py

    sub = data
    for c, v in zip(by, key):
        sub = sub[sub[c].map(_py) == v]
    return sub


def percentile_curves(
    norms,
    scale: str | None = None,
    data: pd.DataFrame | None = None,
    *,
    percentiles: Sequence[float] = (3, 10, 25, 50, 75, 90, 97),
    title: str | None = None,
    lang: Lang = "zh",
) -> Figure:
    """Percentile curves of continuous norms over grade: the raw score at each percentile as the model gives it
    (lines), and, with the norm sample ``data``, the observed percentiles of each grade (points in the line's
    colour): where points stray from their line, the model misfits that grade.

    Parameters
    ----------
    norms : ContinuousNorms or BetaBinomialNorms
        Fitted continuous norms; one panel per stratum (``by`` / covariate level).
    scale : str, optional
        One of ``norms.scales_`` (default the first).
    data : pandas.DataFrame, optional
        The norm sample (columns ``norms.age``, the ``by`` columns and ``scale``).
    percentiles : sequence of float
        Percentiles (0..100) drawn.
    title, lang
        As in :func:`item_distributions`.

    Returns
    -------
    matplotlib.figure.Figure
        Each panel has one line per percentile labelled ``P<p>`` (and one point series per percentile).
    """
    t, scale, xlabel, strata, by = _continuous_setup(norms, scale, lang)
    pcts = np.asarray(percentiles, dtype=float)
    if pcts.size == 0 or np.any((pcts <= 0) | (pcts >= 100)):
        raise ValueError("percentiles must lie strictly between 0 and 100.")
    from matplotlib import colormaps
    from scipy import stats

    T = 50 + 10 * stats.norm.ppf(pcts / 100)
    colours = colormaps["viridis"](np.linspace(0, 0.9, pcts.size))
    with _rc_context():
        fig = Figure(figsize=(4.4 * len(strata) + 1.2, 4.4), layout="constrained")
        axes = fig.subplots(1, len(strata), sharey=True, squeeze=False)[0]
        for ax, key in zip(axes, strata):
            m = norms.models_[(key, scale)]
            ages = np.linspace(m.min_age, m.max_age, 120)
            obs = None
            if data is not None:
                sub = _rows_of(data, by, key)
                x = pd.to_numeric(sub[scale], errors="coerce")
                a = pd.to_numeric(sub[norms.age], errors="coerce")
                ok = x.notna() & a.notna()
                obs = x[ok].groupby(a[ok]).quantile(list(pcts / 100)).unstack()
            for i, (p, tv, colour) in enumerate(zip(pcts, T, colours)):
                ax.plot(ages, norms.predict_raw(np.full(ages.size, tv), ages, scale=scale, stratum=key), "-",
                        color=colour, label=f"P{p:g}")
                if obs is not None:
                    ax.plot(obs.index.to_numpy(float), obs.iloc[:, i].to_numpy(float), "o", color=colour, ms=3.5,
                            label=t["observed_pct"] if i == 0 else None)
            ax.set_title(", ".join(f"{c}={v}" for c, v in zip(by, key)) or None)
            ax.set_xlabel(xlabel)
            ax.grid(alpha=0.3)
        axes[0].set_ylabel(t["raw"])
        axes[-1].legend(frameon=False, fontsize="small", loc="upper left", bbox_to_anchor=(1.0, 1.0))
        fig.suptitle(t["pc_title"].format(scale=scale) if title is None else title)
    return fig


def norm_score_distribution(
    norms,
    data: pd.DataFrame,
    scale: str | None = None,
    *,
    title: str | None = None,
    lang: Lang = "zh",
) -> Figure:
    """Distribution of the norm scores (T) the continuous norms give ``data``, one box per grade and a panel per
    stratum: in the norm sample itself each box should sit at 50 with quartiles near 43 and 57 in every grade;
    a grade whose box drifts is normed too high or too low there.

    Parameters
    ----------
    norms : ContinuousNorms or BetaBinomialNorms
    data : pandas.DataFrame
        Students with ``norms.age``, the ``by`` columns and ``scale``.
    scale, title, lang
        As in :func:`percentile_curves`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    t, scale, xlabel, strata, by = _continuous_setup(norms, scale, lang)
    scored = norms.transform(data[[c for c in dict.fromkeys([*by, norms.age, scale]) if c in data.columns]],
                             [scale])
    with _rc_context():
        fig = Figure(figsize=(4.4 * len(strata) + 1, 4.2), layout="constrained")
        axes = fig.subplots(1, len(strata), sharey=True, squeeze=False)[0]
        for ax, key in zip(axes, strata):
            sub = _rows_of(scored, by, key)
            a = pd.to_numeric(sub[norms.age], errors="coerce")
            tv = sub[f"{scale}.t"]
            ok = a.notna() & tv.notna()
            groups = sorted(a[ok].unique())
            ax.boxplot([tv[ok][a[ok] == g].to_numpy(float) for g in groups], positions=np.asarray(groups, float),
                       widths=0.5 * (np.min(np.diff(groups)) if len(groups) > 1 else 1.0), manage_ticks=False)
            ax.set_xticks(np.asarray(groups, float), [f"{g:g}" for g in groups])
            ax.axhline(50, color="grey", lw=0.8, ls="--")
            ax.set_title(", ".join(f"{c}={v}" for c, v in zip(by, key)) or None)
            ax.set_xlabel(xlabel)
            ax.grid(alpha=0.3, axis="y")
        axes[0].set_ylabel(t["t"])
        fig.suptitle(t["dist_title"].format(scale=scale) if title is None else title)
    return fig


class _rc_context:
    """Apply :func:`_rc` while a figure is built: artists keep the font and the plain-text setting they were made
    with, so the figure can be drawn (saved) later, outside the context."""

    def __enter__(self):
        import matplotlib as mpl

        self._ctx = mpl.rc_context(_rc())
        self._ctx.__enter__()
        return self

    def __exit__(self, *exc):
        return self._ctx.__exit__(*exc)
