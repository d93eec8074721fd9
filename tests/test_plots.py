"""Plots: figures come back (no pyplot state), show what they should, and Chinese renders as Chinese."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
import warnings

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib import font_manager  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from psyscreen import plots  # noqa: E402
from psyscreen.norms import NormTable  # noqa: E402
from psyscreen.validity.roc import roc  # noqa: E402

TITLE = "学生心理健康筛查：抑郁量表（PHQ-9）得分分布"


def _render(fig: Figure, caplog) -> list[str]:
    """Draw a figure to PNG and return every missing-glyph message (warnings or log records)."""
    caplog.clear()
    with warnings.catch_warnings(record=True) as rec, caplog.at_level(logging.WARNING):
        warnings.simplefilter("always")
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=60)
    assert buf.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"
    msgs = [str(w.message) for w in rec] + [r.getMessage() for r in caplog.records]
    return [m for m in msgs if "missing from font" in m]


def test_cjk_font_found_registered_and_covers_text():
    font = plots.cjk_font()
    assert font is not None
    assert font.path.is_file()
    assert font.covers(TITLE + plots.SAMPLE_TEXT)
    assert plots.missing_glyphs(font.path, "抑郁焦虑敏感度特异度百分等级") == []
    # the font is known to matplotlib's font manager under the reported family name
    registered = {f.name for f in font_manager.fontManager.ttflist if f.fname == str(font.path)}
    assert registered == {font.family}
    # matplotlib's own DejaVu Sans lacks these glyphs: the cmap check can fail
    dejavu = font_manager.findfont("DejaVu Sans")
    assert plots.missing_glyphs(dejavu, "抑郁") == ["抑", "郁"]


def test_chinese_title_renders_without_missing_glyphs(caplog, tmp_path):
    res = roc([1, 2, 3, 4, 5, 6, 7, 8], [0, 0, 1, 0, 1, 1, 0, 1], n_boot=0)
    fig = plots.roc_curve(res, title=TITLE)
    assert _render(fig, caplog) == []
    ax = fig.axes[0]
    assert ax.get_title() == TITLE
    used = font_manager.findfont(ax.title.get_fontproperties())
    assert used == str(plots.cjk_font().path)
    assert ax.get_xlabel() == "1 − 特异度"
    fig.savefig(tmp_path / "roc.png")
    assert (tmp_path / "roc.png").stat().st_size > 5000


def test_without_the_cjk_font_the_glyphs_are_missing(caplog):
    """Negative control: the same title in DejaVu Sans alone does raise missing-glyph messages."""
    with matplotlib.rc_context({"font.family": ["DejaVu Sans"]}):
        fig = Figure()
        fig.add_subplot().set_title(TITLE)
    assert len(_render(fig, caplog)) > 0


def test_font_not_registered_at_import():
    code = (
        "import psyscreen, psyscreen.plots, psyscreen.norms, psyscreen.validity.roc\n"
        "from matplotlib import font_manager\n"
        "before = {f.fname for f in font_manager.fontManager.ttflist}\n"
        "font = psyscreen.plots.cjk_font()\n"
        "after = {f.fname for f in font_manager.fontManager.ttflist}\n"
        "assert font is not None, 'no CJK font'\n"
        "if font.source != 'system':\n"
        "    assert str(font.path) not in before, 'registered at import'\n"
        "assert str(font.path) in after, 'not registered at use'\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr


def test_no_pyplot_figures_left_open():
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    plots.scree([2.0, 1.0, 0.5])
    assert plt.get_fignums() == before


def test_item_distributions_shares(caplog):
    frame = pd.DataFrame(
        {
            "phq9.1": [0, 1, 1, 2, 3, np.nan, 0, 0],
            "phq9.2": [3, 3, 3, 2, 2, 1, 0, np.nan],
        }
    )
    labels = {"phq9.1": "做事时提不起劲或没有兴趣", "phq9.2": "感到心情低落、沮丧或绝望"}
    cat_labels = {0: "完全不会", 1: "好几天", 2: "一半以上的天数", 3: "几乎每天"}
    fig = plots.item_distributions(frame, labels=labels, category_labels=cat_labels)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    bars = ax.patches
    # 4 categories + missing, 2 items each
    assert len(bars) == 10
    widths = np.array([b.get_width() for b in bars]).reshape(5, 2)
    np.testing.assert_allclose(widths.sum(axis=0), [1.0, 1.0])
    # first item (top bar, y = 1): category 0 is 3 of 8 answers; missing is 1 of 8
    assert widths[0, 0] == pytest.approx(3 / 8)
    assert widths[4, 0] == pytest.approx(1 / 8)
    assert widths[3, 1] == pytest.approx(3 / 8)
    ticks = {t.get_text() for t in ax.get_yticklabels()}
    assert ticks == set(labels.values())
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["完全不会", "好几天", "一半以上的天数", "几乎每天", "缺失"]
    assert _render(fig, caplog) == []
    with pytest.raises(KeyError, match="nope"):
        plots.item_distributions(frame, ["nope"])


def test_scree_with_parallel_line(caplog):
    ev = [5.1, 2.8, 1.9, 1.5, 1.1, 0.9]
    pa = [1.4, 1.3, 1.2, 1.15, 1.12, 1.0]
    fig = plots.scree(ev, pa)
    ax = fig.axes[0]
    lines = ax.get_lines()
    assert lines[0].get_ydata().tolist() == ev
    assert lines[1].get_ydata().tolist() == pa
    texts = [t.get_text() for t in ax.texts]
    assert texts == ["建议保留 4 个因子"]
    assert _render(fig, caplog) == []
    en = plots.scree(ev, pa, lang="en", kaiser=False)
    assert [t.get_text() for t in en.axes[0].texts] == ["suggests 4 factors"]
    assert len(en.axes[0].get_lines()) == 2
    with pytest.raises(ValueError, match="lang"):
        plots.scree(ev, lang="fr")


def test_roc_curve_data():
    rng = np.random.default_rng(0)
    score = rng.normal(size=200)
    crit = (rng.random(200) < 1 / (1 + np.exp(-2 * score))).astype(int)
    res = roc(score, crit, n_boot=0)
    fig = plots.roc_curve(res)
    ax = fig.axes[0]
    curve, diag, best = ax.get_lines()
    x, y = curve.get_xdata(), curve.get_ydata()
    assert x[0] == 0 and y[0] == 0 and x[-1] == 1 and y[-1] == 1
    assert np.all(np.diff(x) >= 0) and np.all(np.diff(y) >= 0)
    # trapezoid area under the plotted curve is the AUC
    assert np.trapezoid(y, x) == pytest.approx(res.auc, abs=1e-12)
    assert best.get_xdata()[0] == pytest.approx(1 - res.youden.specificity)
    assert best.get_ydata()[0] == pytest.approx(res.youden.sensitivity)
    assert f"{res.auc:.3f}" in ax.get_legend().get_texts()[0].get_text()


def test_norm_curves_one_line_per_grade_panel_per_sex(caplog):
    rng = np.random.default_rng(1)
    df = pd.DataFrame(
        {
            "grade": rng.choice(["初一", "初二", "初三"], 600),
            "sex": rng.choice(["男", "女"], 600),
            "phq9.total": rng.integers(0, 28, 600).astype(float),
        }
    )
    nt = NormTable().fit(df, ["phq9.total"])
    fig = plots.norm_curves(nt, "phq9.total", order=["初一", "初二", "初三"])
    assert len(fig.axes) == 2
    assert {ax.get_title() for ax in fig.axes} == {"sex=男", "sex=女"}
    for ax in fig.axes:
        sex = ax.get_title().split("=")[1]
        lines = ax.get_lines()
        assert len(lines) == 3
        for line, grade in zip(lines, ["初一", "初二", "初三"]):
            lk = nt.lookup_.query("grade == @grade and sex == @sex")
            assert line.get_xdata().tolist() == lk["score"].tolist()
            assert line.get_ydata().tolist() == lk["pr"].tolist()
    assert _render(fig, caplog) == []
    tn = plots.norm_curves(nt, "phq9.total", kind="tn")
    assert tn.axes[0].get_ylabel() == "标准化 T 分数"
    with pytest.raises(KeyError, match="not in the norm table"):
        plots.norm_curves(nt, "gad7.total")
    with pytest.raises(ValueError, match="not fitted"):
        plots.norm_curves(NormTable(), "phq9.total")


MATH_NAME = "学校$\\foo$"  # mathtext would parse $\foo$ and stop the figure (unknown symbol)


def test_text_from_the_data_is_plain_text_never_mathtext(caplog, tmp_path):
    # A school (or stratum, item, title) named with dollar signs is drawn as written: every plot draws and saves
    # after its context has closed, and the text read back is the name itself.
    rng = np.random.default_rng(2)
    df = pd.DataFrame({"school": rng.choice([MATH_NAME, "一中"], 300), "sex": rng.choice([MATH_NAME, "女"], 300),
                       "phq9.total": rng.integers(0, 28, 300).astype(float)})
    nt = NormTable(by=["school", "sex"]).fit(df, ["phq9.total"])
    figs = {
        "norms": plots.norm_curves(nt, "phq9.total", title=MATH_NAME),
        "items": plots.item_distributions(pd.DataFrame({"a": [0, 1, 1, 2]}), labels={"a": MATH_NAME},
                                          category_labels={0: MATH_NAME}, title=MATH_NAME),
        "roc": plots.roc_curve(roc([1, 2, 3, 4, 5, 6], [0, 0, 1, 0, 1, 1], n_boot=0), title=MATH_NAME),
        "scree": plots.scree([2.0, 1.0, 0.5], title=MATH_NAME),
    }
    for name, fig in figs.items():
        assert _render(fig, caplog) == [], name
        fig.savefig(tmp_path / f"{name}.svg")
    assert figs["norms"]._suptitle.get_text() == MATH_NAME
    assert f"school={MATH_NAME}" in {t.get_text() for t in figs["norms"].axes[-1].get_legend().get_texts()}
    assert MATH_NAME in {t.get_text() for t in figs["items"].axes[0].get_yticklabels()}
    svg = (tmp_path / "items.svg").read_text("utf-8")
    assert "foo" in svg  # the characters are drawn (as glyphs or text), not a math symbol lookup
