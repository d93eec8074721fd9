"""Plots of continuous norms (psyscreen.plots.percentile_curves, norm_score_distribution): they draw, and the
lines, points and labels are the model's and the sample's (no pixel checks)."""

from __future__ import annotations

import io
import warnings

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from scipy import stats  # noqa: E402

from psyscreen import plots  # noqa: E402
from psyscreen.norms import BetaBinomialNorms, ContinuousNorms  # noqa: E402


def _sample(seed=5):
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(4, 10), 120)
    sex = rng.choice(["F", "M"], g.size)
    p = rng.beta(1.5, 9 - 0.4 * (g - 4) - 1.0 * (sex == "F"))
    return pd.DataFrame({"grade": g, "sex": sex, "phq9.total": rng.binomial(27, p)})


@pytest.fixture(scope="module")
def fitted():
    d = _sample()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cn = ContinuousNorms(by="sex", k=3, t=2).fit(d, "phq9.total")
    return d, cn


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=50)
    return buf.getvalue()


def test_percentile_curves_are_the_model_and_points_the_observed_percentiles(fitted):
    d, cn = fitted
    fig = plots.percentile_curves(cn, "phq9.total", d, percentiles=(10, 50, 90))
    assert len(fig.axes) == 2 and {ax.get_title() for ax in fig.axes} == {"sex=F", "sex=M"}
    assert fig._suptitle.get_text() == "phq9.total 百分位曲线（连续常模）"
    assert fig.axes[0].get_xlabel() == "年级" and fig.axes[0].get_ylabel() == "原始分"
    ax = fig.axes[0]
    lines = [ln for ln in ax.get_lines() if ln.get_linestyle() == "-"]
    points = [ln for ln in ax.get_lines() if ln.get_marker() == "o"]
    assert [ln.get_label() for ln in lines] == ["P10", "P50", "P90"] and len(points) == 3
    x = lines[2].get_xdata()
    np.testing.assert_allclose(lines[2].get_ydata(), cn.predict_raw(50 + 10 * stats.norm.ppf(0.9) + 0 * x, x,
                                                                   stratum="F"))
    girls = d[d["sex"] == "F"]
    want = girls.groupby("grade")["phq9.total"].quantile(0.9)
    np.testing.assert_allclose(points[2].get_xdata(), want.index.to_numpy(float))
    np.testing.assert_allclose(points[2].get_ydata(), want.to_numpy(float))
    assert _png(fig)[:4] == b"\x89PNG"
    en = plots.percentile_curves(cn, data=None, lang="en")
    assert en._suptitle.get_text() == "phq9.total percentile curves (continuous norms)"
    assert en.axes[0].get_xlabel() == "Grade" and not [ln for ln in en.axes[0].get_lines() if ln.get_marker() == "o"]
    with pytest.raises(KeyError, match="not in the continuous norms"):
        plots.percentile_curves(cn, "gad7.total")
    with pytest.raises(ValueError, match="between 0 and 100"):
        plots.percentile_curves(cn, percentiles=(0, 50))
    with pytest.raises(ValueError, match="not fitted"):
        plots.percentile_curves(ContinuousNorms())


def test_norm_score_distribution_one_box_per_grade_and_beta_binomial_too(fitted):
    d, cn = fitted
    fig = plots.norm_score_distribution(cn, d)
    assert fig.axes[0].get_ylabel() == "T 分数" and fig._suptitle.get_text() == "phq9.total 各年级常模分数分布"
    ax = fig.axes[[a.get_title() for a in fig.axes].index("sex=M")]
    assert [tk.get_text() for tk in ax.get_xticklabels()] == [str(g) for g in range(4, 10)]
    medians = [ln.get_ydata()[0] for ln in ax.get_lines() if ln.get_color() in ("C1", "#ff7f0e")]
    scored = cn.transform(d[d["sex"] == "M"])
    np.testing.assert_allclose(medians, scored.groupby("grade")["phq9.total.t"].median())
    assert _png(fig)[:4] == b"\x89PNG"
    bb = BetaBinomialNorms(n_items=27, alpha_degree=2, beta_degree=2).fit(d, "phq9.total")
    for f in (plots.percentile_curves(bb, data=d, lang="en"), plots.norm_score_distribution(bb, d, lang="en")):
        assert len(f.axes) == 1 and f.axes[0].get_xlabel() == "Grade"
        assert _png(f)[:4] == b"\x89PNG"
