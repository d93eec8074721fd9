"""The county summary: counts and rates by school x grade x sex x level, and participation, small counts hidden.

Nothing here carries an identity: only counts. Every hidden cell is shown with one mark (``*``,
:data:`psyscreen.privacy.HIDDEN`), whatever the reason it is hidden, so the mark tells a reader nothing about the
count: counts from 1 to ``min_cell - 1`` are hidden, so is a count equal to its row's total (everyone in the row at
one level) and every count of a row whose total is hidden, and further cells so that no hidden count can be worked
out from the totals of the level table and the participation table read together
(:func:`psyscreen.privacy.suppress_tables` states the rule). A rate is blank where its count or its row total is
hidden. The charts of ``report.html`` draw the shown rates only: a hidden value is not drawn at all.
"""

from __future__ import annotations

import datetime as _dt
import io
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from .. import __version__
from .._text import map_unique
from ..io import Sheet, atomic_write, write_workbook
from ..privacy import HIDDEN, add_margins, suppress_tables, total_label
from ..wave import RunInfo
from ._common import HEADERS, PathLike, check_lang, get_protocol, level_infos, resolve_levels
from .letters import grade_label

__all__ = ["write_county", "county_tables"]

_TXT = {
    "zh": {"total": "合计", "participation": "参与情况", "levels": "等级分布", "about": "说明", "rows": "读取行数",
           "scored": "计分人数", "quarantined": "隔离待核行数", "duplicates": "重复行数", "rate": "比例",
           "part_rate": "计分率", "file": "文件", "title": "心理健康筛查 区县汇总", "by_school": "各校预警比例",
           "by_grade": "各校分年级预警比例", "county": "全区县合计",
           "hidden": "*：已隐藏。人数为 1–{m1} 的格隐藏；某一等级人数等于该行筛查人数（该行学生全在同一等级）时，"
                     "无论多少都隐藏；一行的筛查人数被隐藏时，该行各等级人数（包括 0）全部隐藏；另有部分格"
                     "（可能是 0）一并隐藏，使任何隐藏格都不能由合计、比例或本汇总的其他表格推算出来。"
                     "所有隐藏格用同一个 * 表示，* 可能是 0，也可能是任何人数。",
           "chart_note": "图中只画出表格公开的比例；被隐藏的数值不画。",
           "rate_note": "比例 = 该等级人数 / 该行筛查人数；人数或合计被隐藏时比例留空",
           "protocol": "筛查方案", "created": "生成时间", "wave": "批次", "status": "批次状态", "tool": "软件", "min_cell": "最小公开人数",
           "no_identity": "本汇总不含任何学生身份信息。"},
    "en": {"total": "Total", "participation": "Participation", "levels": "Levels", "about": "About", "rows": "Rows read",
           "scored": "Scored", "quarantined": "Quarantined", "duplicates": "Duplicates", "rate": "rate",
           "part_rate": "Scored rate", "file": "File", "title": "Mental-health screening: county summary",
           "by_school": "Warning rates by school", "by_grade": "Warning rates by grade, per school",
           "county": "County total",
           "hidden": "*: hidden. A count from 1 to {m1} is hidden; a level count equal to its row's number screened "
                     "(everyone in the row at one level) is hidden whatever its size; when a row's number screened is "
                     "hidden, every count of the row is hidden, zeros included; further cells (zeros too) are hidden so "
                     "that no hidden cell can be worked out from the totals, the rates or the other table of this "
                     "summary. Every hidden cell has the same mark *: it may be 0 or any count.",
           "chart_note": "The charts draw only the rates the tables show; hidden values are not drawn.",
           "rate_note": "rate = students at the level / students screened in the row; blank where a count or the row total is hidden",
           "protocol": "Protocol", "created": "Created", "wave": "Wave", "status": "Wave status", "tool": "Tool", "min_cell": "Smallest count shown",
           "no_identity": "This summary carries no student identity."},
}

_LEDGER_ALIASES = {"rows_read": "rows", "rows_scored": "scored", "rows_quarantined": "quarantined",
                   "duplicate": "duplicates"}


def _shown(full: pd.DataFrame, hidden: pd.DataFrame) -> pd.DataFrame:
    """Display values: the count, or the one mark :data:`~psyscreen.privacy.HIDDEN` for a hidden cell (object)."""
    return full.astype(object).mask(hidden.isna().to_numpy(dtype=bool), HIDDEN)


def _rates(hidden: pd.DataFrame, total: str) -> pd.DataFrame:
    """count / row total where both are shown (float, NaN elsewhere)."""
    num = hidden.astype("Float64")
    den = num[total]
    r = num.div(den.where(den > 0), axis=0)
    return r.drop(columns=[total]).astype(float)


def county_tables(students: pd.DataFrame, ledger: pd.DataFrame | None, *, protocol, lang: str = "zh",
                  min_cell: int = 5) -> dict:
    """The county's tables, suppressed together (:func:`psyscreen.privacy.suppress_tables`).

    Returns ``levels`` (display: counts, ``*`` for hidden, rates), ``levels_counts`` (Int64 with NA for hidden
    cells), ``levels_rates``, ``levels_display``, ``participation`` (display, or None without a ledger) and
    ``participation_counts``, the level labels and colours, and the total label. The participation table is per
    school when the ledger has ``school``, else per file; with a ``file`` column in ``students`` each file's
    scored count is audited against its schools' totals in the level table.
    """
    check_lang(lang)
    p = get_protocol(protocol)
    t = _TXT[lang]
    tot = t["total"]
    infos = level_infos(p, lang)
    lv = resolve_levels(students, p, lang)
    present = set(lv["level_key"])
    cats = [i for i in infos if i.flagged or i.key in ("none",) or i.key in present]
    labels = [i.label for i in cats]
    level_cat = pd.Categorical(lv["level_label"], categories=labels)
    sex = students["sex"].astype("string").fillna("?") if "sex" in students.columns else pd.Series("?", index=students.index)
    if lang == "zh":
        sex = sex.replace({"F": "女", "M": "男"})
    grade = pd.to_numeric(students["grade"], errors="coerce") if "grade" in students.columns else pd.Series(np.nan, index=students.index)
    keys = pd.DataFrame({"school": students["school"].astype("string").fillna("?"),
                         "grade": map_unique(grade, lambda g: grade_label(g, lang)).fillna("?"),
                         "grade_num": grade.fillna(99), "sex": sex, "level": level_cat}, index=students.index)
    keys = keys.sort_values(["school", "grade_num", "sex"], kind="stable")
    # a school, grade or sex that happens to be called 合计 / Total must not be taken for a margin
    named = [*keys["school"].unique(), *keys["grade"].unique(), *keys["sex"].unique(), *labels]
    if ledger is not None:
        named += [v for c in ("school", "file") if c in ledger.columns for v in ledger[c].astype(str).unique()]
    tot = total_label(tot, named)
    counts = pd.crosstab([keys["school"], keys["grade"], keys["sex"]], keys["level"], dropna=False)
    counts = counts.loc[counts.sum(axis=1) > 0]
    # keep the grade order numeric (crosstab sorts labels as text)
    order = keys.drop_duplicates(["school", "grade", "sex"]).set_index(["school", "grade", "sex"]).index
    counts = counts.reindex(order)
    counts.columns = [str(c) for c in counts.columns]
    counts.index.names = [HEADERS[lang]["school"], HEADERS[lang]["grade"], HEADERS[lang]["sex"]]
    full = add_margins(counts, total=tot)
    part_counts, schools_of, part_index = _participation_counts(students, ledger, keys["school"], lang)
    hidden, ph = suppress_tables(counts, min_cell, total=tot, participation=part_counts, scored="scored",
                                 schools_of=schools_of)
    display = _shown(full, hidden)
    rates = _rates(hidden, tot)
    # a long table: n, then count and rate per level
    n_label = HEADERS[lang]["n"]
    levels = pd.DataFrame(index=full.index)
    levels[n_label] = display[tot]
    for c in counts.columns:
        levels[c] = display[c]
        levels[f"{c} {t['rate']}"] = rates[c]
    levels = levels.reset_index()

    part = None
    if ph is not None:
        pdisp = _shown(add_margins(part_counts, total=tot), ph)
        prate = ph["scored"].astype("Float64") / ph[tot].astype("Float64").where(ph[tot] > 0)
        part = pd.DataFrame({t["rows"]: pdisp[tot], t["scored"]: pdisp["scored"], t["quarantined"]: pdisp["quarantined"],
                             t["duplicates"]: pdisp["duplicates"], t["part_rate"]: prate.astype(float)})
        part.index.name = part_index
        part = part.reset_index()
    return {"levels": levels, "levels_counts": hidden, "levels_rates": rates, "levels_display": display,
            "participation": part, "participation_counts": ph, "level_labels": list(counts.columns),
            "flagged_labels": [i.label for i in cats if i.flagged], "colours": {i.label: i.colour for i in cats},
            "total": tot}


def _participation_counts(students: pd.DataFrame, ledger: pd.DataFrame | None, school: pd.Series, lang: str):
    """Participation counts (scored, quarantined, duplicates) per school or per file, which schools each row holds
    (to audit it with the level table), and the name of its first column.

    Per school when the ledger has a ``school`` column; else per file, and the schools of a file are those of its
    students when ``students`` has a ``file`` column (the export each student was read from). Without either, only
    the grand totals of the two tables are tied together in the audit.
    """
    if ledger is None or not len(ledger):
        return None, None, None
    led = ledger.rename(columns=_LEDGER_ALIASES)
    need = [c for c in ("rows", "scored", "quarantined") if c not in led.columns]
    if need:
        raise KeyError(f"the ledger needs the column(s) {need} (rows, scored, quarantined[, duplicates])")
    if "duplicates" not in led.columns:
        led = led.assign(duplicates=0)
    by = "school" if "school" in led.columns else "file"
    g = led.groupby(led[by].astype("string").fillna("?"), sort=True)[["scored", "quarantined", "duplicates"]].sum()
    g = g.astype("int64")
    g.index.name = None
    if by == "school":
        schools_of = {s: [s] for s in g.index}
    elif "file" in students.columns:
        pairs = pd.DataFrame({"f": students["file"].astype("string").to_numpy(), "s": school.reindex(students.index)
                              .to_numpy()}).dropna().drop_duplicates()
        schools_of = {f: list(ss) for f, ss in pairs.groupby("f", sort=False)["s"]}
    else:
        schools_of = None
    return g, schools_of, HEADERS[lang]["school"] if by == "school" else _TXT[lang]["file"]


def write_county(students: pd.DataFrame, ledger: pd.DataFrame | None, folder: PathLike, *, protocol,
                 lang: str = "zh", min_cell: int = 5, run: RunInfo | None = None) -> dict:
    """Write ``<folder>/summary.xlsx`` and ``<folder>/report.html`` (no identities; small counts suppressed).

    Parameters
    ----------
    students : DataFrame
        ``students.parquet`` (``school``, ``grade``, ``sex``, ``level``...), and ``file`` (the export each student
        was read from) when the ledger is per file. Only these columns are read.
    ledger : DataFrame or None
        One row per input file with ``rows``, ``scored``, ``quarantined`` and ``duplicates`` (or the
        ``rows_read`` / ``rows_scored`` / ``rows_quarantined`` names of :class:`psyscreen.ingest.Ledger`), and
        ``school`` for participation per school (else it is given per ``file``).
    folder : str or Path
        Created if needed.
    protocol : Protocol or str
    lang : {"zh", "en"}
    min_cell : int, default 5
        Counts from 1 to ``min_cell - 1`` are hidden, with group and secondary suppression
        (:func:`psyscreen.privacy.suppress_tables`).
    run : RunInfo, optional
        The wave and county, named in the titles, and whether the run is complete: when it is not, both files
        open with its notice (the files not processed, whose students are not in these counts).

    Returns
    -------
    dict
        ``{"summary": Path, "report": Path}``.

    Examples
    --------
    >>> from psyscreen.wave import RunInfo
    >>> write_county(students, ledger, "out/county", protocol="default", run=RunInfo("2026-09", county="城南区"))  # doctest: +SKIP
    """
    check_lang(lang)
    p = get_protocol(protocol)
    t = _TXT[lang]
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tabs = county_tables(students, ledger, protocol=p, lang=lang, min_cell=min_cell)
    title = run.title(t["title"], lang) if run is not None else t["title"]
    notice = run.notice(lang) if run is not None else None
    head = f"{title} · {notice}" if notice else title
    hidden_note = t["hidden"].format(m1=min_cell - 1)
    rate_cols = tuple(c for c in tabs["levels"].columns if str(c).endswith(f" {t['rate']}"))
    rows = [(t["title"], title)]
    if run is not None:
        rows += [(t["wave"], run.label(lang)), (t["status"], notice or run.status)]
    rows += [(t["protocol"], f"{p.id} {p.version} ({p.name.get(lang)})"), (t["tool"], f"psyscreen {__version__}"),
             (t["created"], _dt.datetime.now().isoformat(timespec="seconds")), (t["min_cell"], str(min_cell)),
             ("", hidden_note), ("", t["chart_note"]), ("", t["rate_note"]), ("", t["no_identity"])]
    about = pd.DataFrame(rows, columns=["", " "])
    sheets = [Sheet(t["levels"], tabs["levels"], percent=rate_cols, note=f"{head} · {hidden_note}")]
    if tabs["participation"] is not None:
        sheets.append(Sheet(t["participation"], tabs["participation"], percent=(t["part_rate"],),
                            note=f"{head} · {hidden_note}"))
    sheets.append(Sheet(t["about"], about, wrap=(" ",), note=head))
    summary = write_workbook(folder / "summary.xlsx", sheets)
    html = _report_html(tabs, p, lang, min_cell, title, notice)
    report = atomic_write(folder / "report.html", lambda tmp: tmp.write_text(html, encoding="utf-8"))
    return {"summary": summary, "report": report}


# ---- report.html ---------------------------------------------------------------------------------

def _svg(fig) -> str:
    buf = io.StringIO()
    import matplotlib as mpl

    with mpl.rc_context({"svg.fonttype": "path"}):  # glyphs drawn as paths: no font needed to view the page
        fig.savefig(buf, format="svg", bbox_inches="tight")
    text = buf.getvalue()
    return text[text.index("<svg"):]


def _bars(ax, groups: list[str], series: dict, colours: dict, horizontal: bool) -> None:
    """Grouped bars of the shown rates; a hidden rate (NaN) is not drawn at all, and nothing marks its place."""
    k = max(len(series), 1)
    width = 0.8 / k
    pos = np.arange(len(groups))
    for j, (label, vals) in enumerate(series.items()):
        x = pos - 0.4 + width * (j + 0.5)
        v = np.asarray(vals, dtype=float)
        ok = ~np.isnan(v)
        colour = colours.get(label) or "#777777"
        if horizontal:
            ax.barh(x[ok], v[ok], height=width, color=colour, label=label)
        else:
            ax.bar(x[ok], v[ok], width=width, color=colour, label=label)


def _handles(labels, colours):
    from matplotlib.patches import Patch

    return [Patch(color=colours.get(lb) or "#777777", label=lb) for lb in labels]


def _charts(tabs: dict, lang: str) -> list[tuple[str, str]]:
    import matplotlib as mpl
    from matplotlib.figure import Figure
    from matplotlib.ticker import PercentFormatter

    from .. import plots

    t = _TXT[lang]
    tot = tabs["total"]
    rates = tabs["levels_rates"]
    flagged = tabs["flagged_labels"]
    idx = rates.index
    out = []
    # chart text is plain text: a school called 学校$\\foo$ is drawn as written, never parsed as mathtext
    with plots._rc_context(), mpl.rc_context({"text.parse_math": False}):
        # by school: the school subtotal rows
        sch = [k for k in idx if k[1] == tot and k[0] != tot]
        if sch:
            names = [k[0] for k in sch]
            fig = Figure(figsize=(8, 0.5 * len(sch) * max(1, len(flagged) / 2) + 1.6), layout="constrained")
            ax = fig.add_subplot()
            _bars(ax, names, {c: rates.loc[sch, c].to_numpy() for c in flagged}, tabs["colours"], horizontal=True)
            ax.set_yticks(np.arange(len(names)), names)
            ax.invert_yaxis()
            ax.xaxis.set_major_formatter(PercentFormatter(1.0))
            ax.set_title(t["by_school"])
            ax.legend(handles=_handles(flagged, tabs["colours"]), frameon=False, fontsize="small", loc="lower right")
            out.append((t["by_school"], _svg(fig)))
        # by grade within each school: the school x grade subtotal rows, one panel per school; a county with
        # many schools gets one heat map per warning level instead (hundreds of panels are unreadable and slow)
        schools = [k[0] for k in sch]
        if len(schools) > _MAX_PANELS:
            out.extend(_grade_heatmaps(tabs, schools, lang))
        elif schools:
            ncol = min(3, len(schools))
            nrow = int(np.ceil(len(schools) / ncol))
            fig = Figure(figsize=(4.2 * ncol, 3.0 * nrow + 0.6), layout="constrained")
            axes = fig.subplots(nrow, ncol, squeeze=False, sharey=True)
            for ax, s in zip(axes.ravel(), schools):
                rows = [k for k in idx if k[0] == s and k[1] != tot and k[2] == tot]
                grades = [k[1] for k in rows]
                _bars(ax, grades, {c: rates.loc[rows, c].to_numpy() for c in flagged}, tabs["colours"], horizontal=False)
                ax.set_xticks(np.arange(len(grades)), grades)
                ax.set_title(s, fontsize="medium")
                ax.yaxis.set_major_formatter(PercentFormatter(1.0))
            for ax in axes.ravel()[len(schools):]:
                ax.set_visible(False)
            handles = _handles(flagged, tabs["colours"])
            if handles:
                fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), frameon=False, fontsize="small")
            fig.suptitle(t["by_grade"])
            out.append((t["by_grade"], _svg(fig)))
    return out


_MAX_PANELS = 12  # schools drawn as separate bar panels; more are drawn as heat maps


def _grade_heatmaps(tabs: dict, schools: list, lang: str) -> list[tuple[str, str]]:
    """One heat map per warning level: rate by school (rows) x grade (columns); hidden rates stay blank."""
    from matplotlib.colors import LinearSegmentedColormap
    from matplotlib.figure import Figure
    from matplotlib.ticker import PercentFormatter

    t = _TXT[lang]
    tot = tabs["total"]
    rates = tabs["levels_rates"]
    rows = [k for k in rates.index if k[0] != tot and k[1] != tot and k[2] == tot]
    grades = list(dict.fromkeys(k[1] for k in rows))
    pos_s = {s: i for i, s in enumerate(schools)}
    pos_g = {g: j for j, g in enumerate(grades)}
    out = []
    for level in tabs["flagged_labels"]:
        grid = np.full((len(schools), len(grades)), np.nan)
        values = rates.loc[rows, level].to_numpy(dtype=float)
        grid[[pos_s[k[0]] for k in rows], [pos_g[k[1]] for k in rows]] = values
        fig = Figure(figsize=(1.2 + 0.55 * len(grades), 1.5 + 0.16 * len(schools)), layout="constrained")
        ax = fig.add_subplot()
        ax.set_facecolor("#eeeeee")  # blank: no students, or the rate is hidden
        cmap = LinearSegmentedColormap.from_list(level, ["#ffffff", tabs["colours"].get(level) or "#777777"])
        image = ax.imshow(np.ma.masked_invalid(grid), aspect="auto", cmap=cmap, vmin=0, interpolation="nearest")
        ax.set_xticks(np.arange(len(grades)), grades)
        ax.set_yticks(np.arange(len(schools)), schools, fontsize=6)
        fig.colorbar(image, ax=ax, format=PercentFormatter(1.0), shrink=0.5)
        ax.set_title(f"{t['by_grade']}: {level}", fontsize="medium")
        out.append((f"{t['by_grade']}: {level}", _svg(fig)))
    return out


def _report_html(tabs: dict, p, lang: str, min_cell: int, title: str, notice: str | None) -> str:
    from .letters import _environment

    t = _TXT[lang]
    tot = tabs["total"]
    disp, rates = tabs["levels_display"], tabs["levels_rates"]
    labels = tabs["level_labels"]
    grand = (tot,) * disp.index.nlevels
    county = [{"label": c, "count": disp.loc[grand, c], "rate": _pct(rates.loc[grand, c]),
               "colour": tabs["colours"].get(c) or "#9e9e9e"} for c in labels]
    sch_rows = [k for k in disp.index if k[1] == tot]
    by_school = [{"school": (t["county"] if k[0] == tot else k[0]), "n": disp.loc[k, tot],
                  "cells": [(disp.loc[k, c], _pct(rates.loc[k, c])) for c in labels]} for k in sch_rows]
    part = tabs["participation"]
    part_rows = None
    if part is not None:
        part_rows = {"header": [str(c) for c in part.columns],
                     "rows": [[_pct(v) if j == len(part.columns) - 1 else v for j, v in enumerate(r)]
                              for r in part.itertuples(index=False)]}
    charts = _charts(tabs, lang)
    src = (resources.files("psyscreen") / "report" / "templates" / "county.html.j2").read_text("utf-8")
    return _environment().from_string(src).render(
        t=t, lang=lang, title=title, notice=notice, protocol=f"{p.name.get(lang)} ({p.id} {p.version})",
        n=disp.loc[grand, tot], county=county, labels=labels, by_school=by_school, part=part_rows, charts=charts,
        chart_note=t["chart_note"], version=__version__, created=_dt.datetime.now().isoformat(timespec="seconds"),
        legend=[t["hidden"].format(m1=min_cell - 1), t["rate_note"], t["chart_note"], t["no_identity"]])


def _pct(v) -> str:
    return "" if v is None or pd.isna(v) else f"{100 * float(v):.1f}%"
