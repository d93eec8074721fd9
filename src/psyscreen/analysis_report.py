"""Analysis reports: turn psychometric result objects into a workbook or a self-contained HTML page.

The statistics live in :mod:`psyscreen.reliability`, :mod:`psyscreen.omega`, :mod:`psyscreen.validity`
and :mod:`psyscreen.norms`; this module only lays their results out for a person. A report is a title,
a few facts about where the figures came from (:attr:`AnalysisReport.meta`: input file and its SHA-256,
options, psyscreen version, date), notes, and sections of tables and figures:

* ``.xlsx``: an ``about`` sheet (the facts and notes), then one sheet per table, the header in row 1 and
  numbers written at full precision (openpyxl); figures are left to the HTML report.
* ``.html``: one file with every table and every plot inline (PNG as base64), nothing fetched from elsewhere.

Both are written atomically (:func:`psyscreen.io.atomic_write`): a failure leaves the previous file, or none.

Examples
--------
>>> import numpy as np, pandas as pd, tempfile, pathlib
>>> from psyscreen.reliability import alpha
>>> rng = np.random.default_rng(1)
>>> t = rng.normal(size=200)
>>> x = pd.DataFrame({f"i{j}": np.round(3 + t + rng.normal(size=200)) for j in range(4)})
>>> rep = AnalysisReport.from_results("Reliability", [alpha(x)])
>>> [tab.name for sec in rep.sections for tab in sec.tables]
['alpha', 'alpha_items']
>>> out = rep.write(pathlib.Path(tempfile.mkdtemp()) / "alpha.xlsx")
>>> read_sheet(out, "alpha")["n"].tolist()
[200]
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Union

import numpy as np
import pandas as pd

from . import __version__
from .io import atomic_write
from .privacy import safe_cell

__all__ = [
    "AnalysisReport",
    "ReportFormatError",
    "Section",
    "Table",
    "file_sha256",
    "label",
    "number_format",
    "read_sheet",
    "sections_for",
    "title",
]

REPORT_SUFFIXES = (".xlsx", ".html", ".htm")


class ReportFormatError(ValueError):
    """The output name has an extension a report cannot be written as."""


@dataclass
class Table:
    """One table of a report: a sheet in the workbook, an HTML table in the page."""

    name: str
    frame: pd.DataFrame
    caption: str = ""
    index: bool = False  # write the frame's index as the first column(s)


@dataclass
class Section:
    """A heading, a few lines of text, tables and matplotlib figures (``(caption, figure)`` pairs)."""

    title: str
    text: str = ""
    tables: list[Table] = field(default_factory=list)
    figures: list[tuple[str, Any]] = field(default_factory=list)


def _wants_index(frame: pd.DataFrame) -> bool:
    idx = frame.index
    return not (isinstance(idx, pd.RangeIndex) and idx.start == 0 and idx.step == 1 and idx.name is None)


def _table(name: str, frame: pd.DataFrame, caption: str = "") -> Table:
    return Table(name, frame, caption, index=_wants_index(frame))


def _one_row(mapping: Mapping[str, Any]) -> pd.DataFrame:
    return pd.DataFrame({k: [v] for k, v in mapping.items()})


# ------------------------------------------------------------------------------------------------
# result objects -> sections
# ------------------------------------------------------------------------------------------------
def _alpha_section(res) -> Section:
    summary = res.to_frame()
    summary["ci_level"] = res.ci_level
    summary["nan_policy"] = res.nan_policy
    summary["reversed"] = ", ".join(map(str, res.reversed))
    summary["min"] = res.min
    summary["max"] = res.max
    items = res.items.copy()
    items.index.name = items.index.name or "item"
    text = (f"Cronbach's alpha = {res.alpha:.3f} (Feldt {res.ci_level:.0%} CI {res.ci[0]:.3f} to {res.ci[1]:.3f}), "
            f"standardized alpha {res.std_alpha:.3f}, Guttman's lambda 6 {res.g6:.3f}, mean inter-item r "
            f"{res.average_r:.3f}; {res.n_items} items, n = {res.n} ({res.nan_policy}). R: psych::alpha.")
    return Section("Cronbach's alpha", text, [_table("alpha", summary), _table("alpha_items", items)])


def _omega_section(res) -> Section:
    text = (f"omega total = {res.omega_total:.3f}"
            + ("" if math.isnan(res.omega_h) else f", omega hierarchical = {res.omega_h:.3f}")
            + f" ({res.n_factors} factor(s), n = {res.n}). R: psych::omega (minres, oblimin, Schmid-Leiman).")
    tables = [_table("omega", res.to_frame())]
    loadings = res.loadings.copy()
    loadings.index.name = loadings.index.name or "item"
    tables.append(_table("omega_loadings", loadings))
    return Section("McDonald's omega", text, tables)


def _split_half_section(res) -> Section:
    return Section("Split-half reliability", "Spearman-Brown corrected split halves and Guttman's lambdas "
                   "(R: psych::splitHalf).", [_table("split_half", res.to_frame())])


def _item_analysis_section(res) -> Section:
    items = res.items.copy()
    items.index.name = items.index.name or "item"
    summary = _one_row({
        "alpha": res.alpha, "n": res.n, "n_dropped": res.n_dropped, "n_high": res.n_high, "n_low": res.n_low,
        "cut_high": res.cut_high, "cut_low": res.cut_low, "group_fraction": res.group_fraction,
        "equal_var": res.equal_var, "min": res.min, "max": res.max,
    })
    tables = [_table("item_analysis", items), _table("item_summary", summary)]
    text = (f"Critical ratio of the top and bottom {res.group_fraction:.0%} (n = {res.n_high} and {res.n_low}), "
            f"corrected item-total r, alpha if dropped, floor and ceiling, on {res.n} complete rows "
            f"({res.n_dropped} dropped).")
    if res.warnings:
        tables.append(_table("warnings", pd.DataFrame({"warning": list(res.warnings)})))
        text += " Warnings: " + " ".join(res.warnings)
    return Section("Item analysis", text, tables)


def _efa_section(res) -> Section:
    loadings = res.to_frame()
    loadings.index.name = loadings.index.name or "item"
    phi = res.phi.copy()
    phi.index.name = "factor"
    variance = res.variance.copy()
    variance.index.name = "statistic"
    eig = res.eigenvalues.copy()
    kmo = res.kmo.to_frame()
    kmo.index.name = "item"
    text = (f"{res.n_factors} factor(s), {res.method} with {res.rotation} rotation, n = {res.n}; "
            f"KMO = {res.kmo.overall:.3f}; Bartlett chi2({res.bartlett.df}) = {res.bartlett.chisq:.1f}, "
            f"p = {res.bartlett.p:.3g}. R: psych::fa.")
    tables = [_table("efa_loadings", loadings), _table("efa_phi", phi), _table("efa_variance", variance),
              _table("eigenvalues", eig), _table("kmo", kmo), _table("bartlett", res.bartlett.to_frame())]
    return Section("Exploratory factor analysis", text, tables)


def _parallel_section(res) -> Section:
    from .plots import scree

    ev = res.eigenvalues.copy()
    summary = _one_row({"n_factors": res.n_factors, "n_components": res.n_components, "n": res.n,
                        "n_iter": res.n_iter, "quantile": res.quantile, "method": res.method})
    fig = scree(ev["fa_observed"].to_numpy(), ev["fa_threshold"].to_numpy())
    text = (f"Parallel analysis ({res.n_iter} simulated data sets) suggests {res.n_factors} factor(s) and "
            f"{res.n_components} component(s). R: psych::fa.parallel.")
    return Section("Parallel analysis", text, [_table("parallel", summary), _table("parallel_eigen", ev)],
                   [("Scree plot with parallel analysis", fig)])


def _cfa_section(res) -> Section:
    fit = _one_row(res.fit.to_dict())
    f = res.fit
    text = (f"chi2({f.df}) = {f.chisq:.2f}, p = {f.pvalue:.3g}; CFI = {f.cfi:.3f}, TLI = {f.tli:.3f}, "
            f"RMSEA = {f.rmsea:.3f} (90% CI {f.rmsea_ci_lower:.3f} to {f.rmsea_ci_upper:.3f}), SRMR = {f.srmr:.3f}; "
            f"n = {f.ntotal}. R: lavaan::cfa, fitMeasures.")
    if "chisq.scaled" in f:
        text += (f" Scaled (estimator {res.estimator}): chi2({f.df}) = {f.chisq_scaled:.2f}, "
                 f"p = {f.pvalue_scaled:.3g}; CFI = {f.cfi_scaled:.3f}, TLI = {f.tli_scaled:.3f}, "
                 f"RMSEA = {f.rmsea_scaled:.3f}.")
    text += (f" Rows used: {res.n_used}, dropped: {res.n_dropped} (missing = {res.missing!r}).")
    tables = [_table("fit", fit), _table("std_loadings", res.std_loadings), _table("reliability", res.reliability),
              _table("parameters", res.params)]
    if res.warnings:
        tables.append(_table("cfa_warnings", pd.DataFrame({"warning": list(res.warnings)})))
        text += " Warnings: " + " ".join(res.warnings)
    return Section("Confirmatory factor analysis", text, tables)


def _invariance_section(res) -> Section:
    table = res.table.copy()
    table.index.name = table.index.name or "step"
    text = (f"Across {res.group} ({', '.join(map(str, res.groups))}): invariance holds up to the "
            f"{res.level or 'no'} step (delta CFI >= {res.cutoffs[0]}, delta RMSEA <= {res.cutoffs[1]}). "
            "R: lavaan::cfa(group.equal = ...).")
    text += f" Estimator {res.estimator}; rows used: {res.n_used}, dropped: {res.n_dropped} (missing = {res.missing!r})."
    tables = [_table("invariance", table)]
    if res.warnings:
        tables.append(_table("invariance_warnings", pd.DataFrame({"warning": list(res.warnings)})))
        text += " Warnings: " + " ".join(res.warnings)
    return Section("Measurement invariance", text, tables)


def _roc_section(res) -> Section:
    from .plots import roc_curve

    summary = res.to_frame()
    counts = _one_row({"n_cases": res.n_cases, "n_controls": res.n_controls, "n_dropped": res.n_dropped,
                       "auc": res.auc, "auc_se": res.auc_se, "auc_ci_low": res.auc_ci[0],
                       "auc_ci_high": res.auc_ci[1], "threshold": res.youden.threshold,
                       "sensitivity": res.youden.sensitivity, "specificity": res.youden.specificity,
                       "youden_j": res.youden.youden_j, "direction": res.direction})
    text = (f"AUC = {res.auc:.3f} (DeLong {res.level:.0%} CI {res.auc_ci[0]:.3f} to {res.auc_ci[1]:.3f}); "
            f"Youden's best cut: score > {res.youden.threshold:g} (sensitivity {res.youden.sensitivity:.3f}, "
            f"specificity {res.youden.specificity:.3f}); {res.n_cases} cases, {res.n_controls} controls. R: pROC::roc.")
    return Section("ROC analysis", text, [_table("roc", counts), _table("roc_summary", summary),
                                          _table("roc_cuts", res.table)], [("ROC curve", roc_curve(res))])


def _norms_section(res) -> Section:
    from .plots import norm_curves

    figures = []
    if res._by:
        for scale in res.scales_:
            figures.append((f"Norm curves: {scale}", norm_curves(res, scale)))
    text = (f"Norms of {', '.join(res.scales_)} by {', '.join(res._by) or 'the whole sample'}: "
            f"{len(res.strata_)} strata. Percentile rank = 100 x (below + equal / 2) / n.")
    return Section("Norms", text, [_table("norms", res.table_), _table("lookup", res.lookup_)], figures)


def _with_warnings(section: Section, result: Any) -> Section:
    """Add the result's ``warnings`` (rows dropped, Heywood cases, ...) to its section: a table and the text."""
    warns = [str(w) for w in (getattr(result, "warnings", None) or ())]
    if not warns or any(t.name.endswith("warnings") for t in section.tables):
        return section
    name = f"{section.tables[0].name}_warnings"[:31] if section.tables else "warnings"
    section.tables.append(_table(name, pd.DataFrame({"warning": warns})))
    section.text = (section.text + " Warnings: " + " ".join(warns)).strip()
    return section


def sections_for(result: Any) -> list[Section]:
    """The report sections for one result object of psyscreen's statistics.

    Known: AlphaResult, OmegaResult, SplitHalfResult, ItemAnalysisResult, EFAResult, ParallelAnalysisResult,
    CFAResult, InvarianceResult, ROCResult, a fitted NormTable, a :class:`Section`, or a DataFrame (one table).
    """
    if isinstance(result, Section):
        return [result]
    if isinstance(result, pd.DataFrame):
        return [Section("Table", "", [_table("table", result)])]
    builders = {
        "AlphaResult": _alpha_section,
        "OmegaResult": _omega_section,
        "SplitHalfResult": _split_half_section,
        "ItemAnalysisResult": _item_analysis_section,
        "EFAResult": _efa_section,
        "ParallelAnalysisResult": _parallel_section,
        "CFAResult": _cfa_section,
        "InvarianceResult": _invariance_section,
        "ROCResult": _roc_section,
        "NormTable": _norms_section,
    }
    for cls in type(result).__mro__:
        if cls.__name__ in builders:
            return [_with_warnings(builders[cls.__name__](result), result)]
    if hasattr(result, "to_frame"):
        return [Section(type(result).__name__, "", [_table(type(result).__name__.lower()[:31], result.to_frame())])]
    raise TypeError(f"no report layout for {type(result).__name__}; pass a DataFrame or a Section instead.")


# ------------------------------------------------------------------------------------------------
# the report
# ------------------------------------------------------------------------------------------------
def file_sha256(path: Union[str, Path]) -> str:
    """SHA-256 of a file's bytes (for the provenance lines of a report)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


_BAD_SHEET = re.compile(r"[\[\]:*?/\\]")


def _sheet_name(name: str, used: set[str]) -> str:
    base = _BAD_SHEET.sub("_", name).strip("'") or "sheet"
    base = base[:31]
    out, k = base, 2
    while out.lower() in used:
        suffix = f"_{k}"
        out, k = base[: 31 - len(suffix)] + suffix, k + 1
    used.add(out.lower())
    return out


def _cell(v: Any) -> Any:
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, (np.bool_, bool)):
        return bool(v)
    if isinstance(v, (np.integer, int)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        f = float(v)
        return None if math.isnan(f) else (str(f) if math.isinf(f) else f)
    if isinstance(v, (str, np.str_)):
        return safe_cell(str(v))
    if isinstance(v, (tuple, list)):
        return safe_cell(", ".join(map(str, v)))
    if isinstance(v, (pd.Timestamp, datetime)):
        return v.isoformat()
    return safe_cell(str(v))


def _flat(frame: pd.DataFrame, index: bool) -> pd.DataFrame:
    out = frame.copy()
    if isinstance(out.columns, pd.MultiIndex):
        out.columns = [" ".join(map(str, c)) for c in out.columns]
    out.columns = [str(c) for c in out.columns]
    if index:
        names = [n if n is not None else ("index" if out.index.nlevels == 1 else f"level_{i}")
                 for i, n in enumerate(out.index.names)]
        out.index.names = names
        out = out.reset_index()
    return out


# ------------------------------------------------------------------------------------------------
# how numbers are shown, and the Chinese labels
# ------------------------------------------------------------------------------------------------
#: Columns holding a proportion (0-1), shown as a percentage.
_RATES = {"sensitivity", "specificity", "ppv", "npv", "floor", "ceiling", "group_fraction", "ci_level", "quantile"}
#: Columns holding a p value.
_P_VALUES = {"p", "pvalue", "cr_p", "delta_pvalue", "p_value", "baseline.pvalue", "rmsea.pvalue",
             "rmsea.notclose.pvalue"}
#: Columns on the scale of scores or of test statistics: two decimals.
_TWO = {"chisq", "baseline_chisq", "baseline.chisq", "delta_chisq", "aic", "bic", "bic2", "loglik", "logl",
        "unrestricted.logl", "cr", "z", "mean", "sd", "mean_high",
        "mean_low", "threshold", "score", "pr", "t", "tn", "cut_high", "cut_low", "min", "max"}

#: Excel number format -> the same display in Python (for the HTML tables).
_PY_FORMAT = {"0": "{:.0f}", "0.0%": "{:.1%}", "0.0000": "{:.4f}", "0.00": "{:.2f}", "0.000": "{:.3f}"}


def number_format(name: str, values: Any) -> Union[str, None]:
    """The Excel number format a column of a report is shown with (None: not a number column).

    Counts and other whole numbers ``0``; proportions ``0.0%`` (only when every value lies in 0-1); p values
    ``0.0000``; scores and test statistics ``0.00``; coefficients (alpha, loadings, r, fit indices) ``0.000``.
    The cell keeps the full value; only its display is rounded.

    Examples
    --------
    >>> import numpy as np
    >>> [number_format(n, v) for n, v in [("alpha", [0.8174]), ("n", [120.0]), ("sensitivity", [0.91]),
    ...                                   ("pvalue", [0.0312]), ("chisq", [35.2]), ("item", ["A1"])]]
    ['0.000', '0', '0.0%', '0.0000', '0.00', None]
    """
    arr = pd.Series(values)
    if pd.api.types.is_bool_dtype(arr.dtype):
        return None
    num = pd.to_numeric(arr, errors="coerce")
    if arr.notna().sum() == 0 or num.notna().sum() < arr.notna().sum():
        return None
    x = num.dropna().to_numpy(dtype=float)
    x = x[np.isfinite(x)]
    key = str(name).lower()
    base = _unsuffixed(key.rsplit(" ", 1)[-1])
    if base in _RATES or key.startswith("prop_"):
        return "0.0%" if x.size == 0 or ((x >= 0) & (x <= 1)).all() else "0.000"
    if base in _P_VALUES:
        return "0.0000"
    if x.size and (np.mod(x, 1) == 0).all():
        return "0"
    if base in _TWO:
        return "0.00"
    return "0.000"


_ZH_LABELS = {
    # provenance
    "field": "项目", "value": "值", "title": "标题", "command": "命令", "data": "数据文件", "data_sha256": "数据文件 SHA-256",
    "rows": "行数", "map": "列映射文件", "map_sha256": "列映射文件 SHA-256", "psyscreen_version": "psyscreen 版本",
    "created": "生成时间", "note": "说明", "items": "题目", "instrument": "量表", "scale": "分量表", "reverse": "反向计分题",
    "nan_policy": "缺失值处理", "omega_factors": "omega 群因子数", "group_fraction": "高低分组比例", "factors": "因子数",
    "rotation": "旋转", "method": "方法", "seed": "随机种子", "model": "模型", "group": "分组", "steps": "步骤",
    "criterion": "效标", "positive": "阳性值", "direction": "方向", "n_boot": "自助抽样次数", "scales": "分量表",
    "by": "分层", "min_stratum": "最小层人数", "std_lv": "潜变量方差标准化",
    # statistics
    "alpha": "α系数", "std_alpha": "标准化α", "g6": "Guttman λ6", "G6": "Guttman λ6", "average_r": "平均题间相关",
    "ci_low": "置信区间下限", "ci_high": "置信区间上限", "n": "人数", "n_items": "题目数", "ci_level": "置信水平",
    "reversed": "反向计分题", "min": "最小值", "max": "最大值", "item": "题目", "alpha_if_dropped": "删除该题后α",
    "r_drop": "校正题总相关", "mean": "平均数", "sd": "标准差", "omega_h": "ωh（层级）", "omega_total": "ω总",
    "omega_limit": "ω极限", "ECV": "共同方差解释比例", "n_factors": "因子数", "g": "一般因子", "h2": "共同度",
    "u2": "独特性", "p2": "一般因子占比", "statistic": "统计量", "cr": "决断值", "cr_df": "决断值自由度",
    "cr_p": "决断值 p", "mean_high": "高分组平均数", "mean_low": "低分组平均数", "floor": "地板效应",
    "ceiling": "天花板效应", "n_dropped": "剔除人数", "n_used": "使用人数", "n_high": "高分组人数", "n_low": "低分组人数",
    "cut_high": "高分组临界分", "cut_low": "低分组临界分", "equal_var": "方差齐性", "warning": "提示",
    "factor": "因子", "position": "序号", "observed": "实际特征值", "common": "共同因子特征值", "MSA": "取样适切性",
    "chisq": "χ²", "df": "自由度", "p": "p 值", "pvalue": "p 值", "n_components": "成分数", "n_iter": "模拟次数",
    "quantile": "分位数", "pc_observed": "主成分实际特征值", "pc_simulated": "主成分模拟特征值",
    "pc_threshold": "主成分临界值", "fa_observed": "因子实际特征值", "fa_simulated": "因子模拟特征值",
    "fa_threshold": "因子临界值", "cfi": "CFI", "tli": "TLI", "rmsea": "RMSEA", "rmsea_ci_low": "RMSEA 90%CI 下限",
    "rmsea_ci_high": "RMSEA 90%CI 上限", "srmr": "SRMR", "aic": "AIC", "bic": "BIC", "loglik": "对数似然",
    "npar": "参数个数", "baseline_chisq": "基线模型 χ²", "baseline_df": "基线模型自由度", "n_groups": "组数",
    # lavaan's fitMeasures names
    "fmin": "拟合函数最小值", "baseline.chisq": "基线模型 χ²", "baseline.df": "基线模型自由度",
    "baseline.pvalue": "基线模型 p 值", "nnfi": "NNFI", "rfi": "RFI", "nfi": "NFI", "pnfi": "PNFI", "ifi": "IFI",
    "rni": "RNI", "logl": "对数似然", "unrestricted.logl": "饱和模型对数似然", "ntotal": "人数", "bic2": "样本校正 BIC",
    "rmsea.ci.lower": "RMSEA 90%CI 下限", "rmsea.ci.upper": "RMSEA 90%CI 上限", "rmsea.ci.level": "RMSEA 置信水平",
    "rmsea.pvalue": "RMSEA≤0.05 检验 p 值", "rmsea.close.h0": "近似拟合检验 RMSEA 界值",
    "rmsea.notclose.pvalue": "RMSEA≥0.08 检验 p 值", "rmsea.notclose.h0": "不良拟合检验 RMSEA 界值",
    "srmr_bentler": "SRMR（Bentler）", "mfi": "MFI", "ecvi": "ECVI", "ngroups": "组数",
    "estimate": "估计值", "se": "标准误", "omega": "组合信度", "ave": "平均方差抽取量", "lhs": "左侧", "op": "关系",
    "rhs": "右侧", "label": "标签", "free": "自由参数", "est": "估计值", "z": "z", "std_all": "标准化估计值",
    "std_all_se": "标准化估计标准误", "step": "步骤", "group_equal": "等同约束", "delta_chisq": "Δχ²",
    "delta_df": "Δ自由度", "delta_pvalue": "Δp 值", "delta_cfi": "ΔCFI", "delta_rmsea": "ΔRMSEA", "delta_srmr": "ΔSRMR",
    "verdict": "结论", "n_cases": "病例数", "n_controls": "对照数", "auc": "AUC", "auc_se": "AUC 标准误",
    "auc_ci_low": "AUC 置信区间下限", "auc_ci_high": "AUC 置信区间上限", "threshold": "临界分",
    "sensitivity": "灵敏度", "specificity": "特异度", "youden_j": "约登指数", "ci_method": "置信区间方法",
    "ppv": "阳性预测值", "npv": "阴性预测值", "tp": "真阳性", "fp": "假阳性", "tn": "标准化T分数", "fn": "假阴性",
    "sex": "性别", "grade": "年级", "school": "学校", "class": "班级", "small": "人数不足", "score": "原始分",
    "count": "人数", "pr": "百分等级", "t": "T分数",
}
#: Labels that differ by table (``tn`` is a true-negative count in a ROC table, a normalised T in a norm table).
_ZH_BY_TABLE = {("roc_cuts", "tn"): "真阴性"}

_ZH_TITLES = {
    "Reliability": "信度分析", "Item analysis": "项目分析", "Exploratory factor analysis": "探索性因素分析",
    "Confirmatory factor analysis": "验证性因素分析", "Measurement invariance": "测量等值性", "ROC analysis": "ROC 分析",
    "Norms": "常模", "Cronbach's alpha": "Cronbach α系数", "McDonald's omega": "McDonald ω系数",
    "Split-half reliability": "分半信度", "Parallel analysis": "平行分析", "Answer distributions": "作答分布",
    "Table": "表",
}


def label(name: Any, lang: str = "en", table: str = "") -> str:
    """The header a person reads for a column (``lang="zh"``: Chinese; ``"en"``: the column's own name).

    Examples
    --------
    >>> label("alpha", "zh"), label("alpha_if_dropped", "zh"), label("alpha", "en"), label("A1", "zh")
    ('α系数', '删除该题后α', 'alpha', 'A1')
    """
    text = str(name)
    if lang != "zh":
        return text
    found = _ZH_BY_TABLE.get((table, text)) or _ZH_LABELS.get(text)
    if found is None and _unsuffixed(text) != text:  # lavaan's robust variants: cfi.scaled, rmsea.robust ...
        base, suffix = text.rsplit(".", 1)
        found = f"{_ZH_LABELS.get(base, base)}（{_ZH_SUFFIX[suffix]}）"
    return found or text


#: lavaan's suffixes of the fit measures of a robust estimator, and how they read in Chinese.
_ZH_SUFFIX = {"scaled": "校正", "robust": "稳健"}


def _unsuffixed(name: str) -> str:
    """A fit measure's name without lavaan's ``.scaled`` / ``.robust`` suffix (its format and label are the base's)."""
    base, _, suffix = name.rpartition(".")
    return base if base and suffix in _ZH_SUFFIX else name


def title(text: str, lang: str = "en") -> str:
    """A report or section title in the report's language."""
    return _ZH_TITLES.get(text, text) if lang == "zh" else text


@dataclass
class AnalysisReport:
    """A report of psychometric results: ``write(path)`` gives an ``.xlsx`` workbook or an ``.html`` page.

    ``lang="zh"`` writes the titles, the column headers and the provenance labels in Chinese (sheet names and
    the values stay as they are, so a program reads both); numbers are shown with :func:`number_format`.
    """

    title: str
    sections: list[Section] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    lang: str = "en"

    @classmethod
    def from_results(cls, title: str, results: Iterable[Any], *, meta: Mapping[str, Any] | None = None,
                     notes: Sequence[str] = (), lang: str = "en") -> AnalysisReport:
        """Build a report from result objects (see :func:`sections_for`), in order."""
        if lang not in ("zh", "en"):
            raise ValueError(f"lang must be 'zh' or 'en', not {lang!r}")
        sections = [s for r in results for s in sections_for(r)]
        return cls(title, sections, dict(meta or {}), list(notes), lang)

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table by name (as the workbook's sheets are named, before any shortening)."""
        return {t.name: t.frame for s in self.sections for t in s.tables}

    def _about(self) -> list[tuple[str, Any]]:
        rows: list[tuple[str, Any]] = [("title", title(self.title, self.lang))]
        rows += [(str(k), v) for k, v in self.meta.items()]
        rows += [("psyscreen_version", __version__),
                 ("created", datetime.now(timezone.utc).replace(microsecond=0).isoformat())]
        rows += [("note", n) for n in self.notes]
        return [(label(k, self.lang), v) for k, v in rows]

    # -- writers -----------------------------------------------------------------------------------
    def write(self, path: Union[str, Path]) -> Path:
        """Write the report; the format follows the extension (``.xlsx``, ``.html``)."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix == ".xlsx":
            return self.to_excel(path)
        if suffix in (".html", ".htm"):
            return self.to_html(path)
        raise ReportFormatError(f"cannot write a report as '{path.name}': use .xlsx or .html.")

    def to_excel(self, path: Union[str, Path]) -> Path:
        """A workbook: ``about`` first, then one sheet per table (header in row 1)."""
        from openpyxl import Workbook
        from openpyxl.styles import Font
        from openpyxl.utils import get_column_letter

        bold = Font(bold=True)
        wb = Workbook()
        ws = wb.active
        ws.title = "about"
        ws.append([label("field", self.lang), label("value", self.lang)])
        for k, v in self._about():
            ws.append([_cell(k), _cell(v)])
        for c in ws[1]:
            c.font = bold
        ws.column_dimensions["A"].width = 20
        ws.column_dimensions["B"].width = 90
        used = {"about"}
        for section in self.sections:
            for table in section.tables:
                frame = _flat(table.frame, table.index)
                sheet = wb.create_sheet(_sheet_name(table.name, used))
                heads = [label(c, self.lang, table.name) for c in frame.columns]
                sheet.append([_cell(c) for c in heads])
                for c in sheet[1]:
                    c.font = bold
                cols = [frame[c].to_numpy(dtype=object) for c in frame.columns]
                for row in zip(*cols):
                    sheet.append([_cell(v) for v in row])
                sheet.freeze_panes = "A2"
                for j, name in enumerate(frame.columns, start=1):
                    fmt = number_format(name, frame[name])
                    if fmt is not None and len(frame):
                        for (cell,) in sheet.iter_rows(min_row=2, max_row=len(frame) + 1, min_col=j, max_col=j):
                            if isinstance(cell.value, (int, float)) and not isinstance(cell.value, bool):
                                cell.number_format = fmt
                    width = len(str(heads[j - 1])) * (2 if self.lang == "zh" else 1) + 2
                    sheet.column_dimensions[get_column_letter(j)].width = max(10, min(40, width))
        return atomic_write(path, lambda tmp: wb.save(tmp))

    def to_html_string(self) -> str:
        """The report as one self-contained HTML document (figures inline as PNG)."""
        import matplotlib.pyplot as plt

        esc = html.escape
        parts = [
            "<!DOCTYPE html>",
            f'<html lang="{"zh-CN" if self.lang == "zh" else "en"}"><head><meta charset="utf-8">',
            f"<title>{esc(title(self.title, self.lang))}</title>",
            "<style>body{font-family:system-ui,'Noto Sans CJK SC','Microsoft YaHei',sans-serif;margin:2em;"
            "max-width:1100px}table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:.9em}"
            "th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}th{background:#f3f3f3}"
            "caption{text-align:left;font-weight:bold;padding:.3em 0}.about td{text-align:left}"
            "figure{margin:1em 0}img{max-width:100%}</style></head><body>",
            f"<h1>{esc(title(self.title, self.lang))}</h1>",
            '<table class="about">',
        ]
        for k, v in self._about():
            parts.append(f"<tr><th>{esc(str(k))}</th><td>{esc(str(v))}</td></tr>")
        parts.append("</table>")
        for section in self.sections:
            parts.append(f"<h2>{esc(title(section.title, self.lang))}</h2>")
            if section.text:
                parts.append(f"<p>{esc(section.text)}</p>")
            for caption, fig in section.figures:
                buf = io.BytesIO()
                fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
                plt.close(fig)
                data = base64.b64encode(buf.getvalue()).decode("ascii")
                parts.append(f'<figure><img alt="{esc(caption)}" src="data:image/png;base64,{data}">'
                             f"<figcaption>{esc(caption)}</figcaption></figure>")
            for table in section.tables:
                frame = _flat(table.frame, table.index)
                formatters = {}
                for name in frame.columns:
                    fmt = number_format(name, frame[name])
                    if fmt is not None:
                        formatters[name] = _html_number(_PY_FORMAT[fmt])
                shown = frame.set_axis([label(c, self.lang, table.name) for c in frame.columns], axis=1)
                body = shown.to_html(index=False, escape=True, na_rep="",
                                     formatters=[formatters.get(c) for c in frame.columns],
                                     float_format=lambda v: f"{v:.4g}" if abs(v) >= 1e4 else f"{v:.3f}")
                cap = esc(table.caption or table.name)
                parts.append(body.replace("<thead>", f"<caption>{cap}</caption><thead>", 1))
        parts.append("</body></html>")
        return "\n".join(parts)

    def to_html(self, path: Union[str, Path]) -> Path:
        """Write :meth:`to_html_string` to ``path`` (UTF-8), atomically."""
        text = self.to_html_string()
        return atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))

    def close_figures(self) -> None:
        """Close the matplotlib figures held by the sections (after writing an ``.xlsx`` only)."""
        import matplotlib.pyplot as plt

        for section in self.sections:
            for _, fig in section.figures:
                plt.close(fig)


def _html_number(pattern: str):
    def fmt(v: Any) -> str:
        if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
            return ""
        try:
            return pattern.format(float(v))
        except (TypeError, ValueError):
            return str(v)  # pandas escapes what a formatter returns
    return fmt


def read_sheet(path: Union[str, Path], sheet: str) -> pd.DataFrame:
    """Read one sheet of a report workbook back as a DataFrame (header in row 1), with openpyxl."""
    from openpyxl import load_workbook

    wb = load_workbook(path, read_only=True, data_only=True)
    try:
        if sheet not in wb.sheetnames:
            raise KeyError(f"no sheet '{sheet}' in {Path(path).name}; sheets are {wb.sheetnames}")
        rows = list(wb[sheet].iter_rows(values_only=True))
    finally:
        wb.close()
    if not rows:
        return pd.DataFrame()
    return pd.DataFrame(rows[1:], columns=list(rows[0]))
