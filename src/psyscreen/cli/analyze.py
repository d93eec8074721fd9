"""``psyscreen analyze``: reliability, item analysis, EFA, CFA, invariance, ROC and norms from the command line.

Each subcommand reads one table (csv in any encoding :func:`psyscreen.ingest.read_table` detects, xlsx/xls or
parquet), runs the same functions a notebook would call (:mod:`psyscreen.reliability`, :mod:`psyscreen.omega`,
:mod:`psyscreen.validity`, :mod:`psyscreen.norms`) and writes a workbook (``.xlsx``: an ``about`` sheet with the
provenance, then one sheet per table) or a self-contained HTML report with the plots (``.html``), see
:mod:`psyscreen.analysis_report`. Bad input (a missing column, an unknown instrument, a model that does not
fit) ends with a one-line message and exit code 1, never a traceback (``--debug`` shows it).

\b
Examples:
  psyscreen analyze reliability items.csv --items A1,A2,A3,A4,A5 --reverse A1 --min 1 --max 6 -o agree.xlsx
  psyscreen analyze reliability wave.xlsx --instrument phq9 --scale total -o phq9.html
  psyscreen analyze efa items.csv --items A1,A2,... --factors 5 --rotation oblimin -o efa.xlsx
  psyscreen analyze cfa hs.csv --model "visual =~ x1 + x2 + x3; textual =~ x4 + x5 + x6" -o cfa.xlsx
  psyscreen analyze invariance hs.csv --model model.lav --group school -o inv.xlsx
  psyscreen analyze invariance phq.csv --model model.lav --group sex --ordered all -o inv.xlsx
  psyscreen analyze roc data.csv --score phq9.total --criterion diagnosis -o roc.html
  psyscreen analyze norms wave.xlsx --scales phq9.total --by grade,sex -o norms.xlsx --json norms.json
  psyscreen analyze reliability export.csv --map column_map.csv --instrument phq9 -o phq9.xlsx
  psyscreen analyze irt wave.xlsx --instrument phq9 --group sex -o phq9_irt.html
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

import click
import numpy as np
import pandas as pd

__all__ = ["analyze", "COMMANDS", "read_data"]


# ------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------
def _one_line(exc: BaseException) -> str:
    text = exc.args[0] if isinstance(exc, KeyError) and exc.args and isinstance(exc.args[0], str) else str(exc)
    lines = [ln.strip(" -") for ln in text.splitlines() if ln.strip()]
    return "; ".join(lines) if lines else type(exc).__name__


def _split(text: Optional[str]) -> list[str]:
    if not text:
        return []
    return [t.strip() for t in text.replace("，", ",").split(",") if t.strip()]


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """A column whose every non-blank cell is a number becomes float; other columns stay text."""
    out = {}
    for col in frame.columns:
        s = frame[col]
        if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
            out[col] = s.astype(float)
            continue
        text = s.astype("string").str.strip()
        text = text.mask(text == "")
        num = pd.to_numeric(text, errors="coerce")
        if int(num.notna().sum()) == int(text.notna().sum()) and text.notna().any():
            out[col] = num.astype(float)
        else:
            out[col] = text
    return pd.DataFrame(out, index=frame.index)


def read_data(path: Path, sheet: Optional[str] = None, column_map: Optional[Path] = None) -> pd.DataFrame:
    """Read DATA as a DataFrame: a column whose every non-blank cell is a number becomes float, others text.

    Uses :func:`psyscreen.ingest.read_table` (encoding detection for CSV, calamine for Excel, parquet). With a
    column map (``--map``), DATA is read as ``psyscreen screen`` reads an export: the map's columns are renamed
    to their targets, answers (codes or option labels) become response codes, the demographics are coded as
    the screening codes them (sex F/M, grade 1-16), and a row with an answer that is not a response code is
    set aside with a warning naming its row numbers; the columns the map does not name are kept as they are.
    """
    from ..ingest import read_table

    raw = read_table(path, sheet=sheet)
    if column_map is not None:
        return _read_mapped(raw, column_map)
    return _typed(raw.frame.reset_index(drop=True))


def _read_mapped(raw, column_map: Path) -> pd.DataFrame:
    from ..demographics import normalise_demographics
    from ..ingest import normalise
    from ..instrument import list_instruments
    from ..mapping import load_map
    from .._text import text_key

    cmap = load_map(column_map)
    headers = {text_key(h) for h in raw.frame.columns}
    doubtful = [s for s in cmap.doubtful if text_key(s) in headers]
    if doubtful:
        raise click.ClickException(f"{column_map}: {len(doubtful)} line(s) still marked 'check' name columns of DATA "
                                   f"({', '.join(doubtful[:8])}): check them, then mark them ok")
    local = {h: t for h, t in cmap.mapping.items() if text_key(h) in headers}  # a county map: this file's lines
    known = set(list_instruments())
    insts = list(dict.fromkeys(t.split(".", 1)[0] for t in local.values()
                               if "." in t and t.split(".", 1)[0] in known))
    norm = normalise(raw, insts, local)
    frame = normalise_demographics(norm.frame)
    if len(norm.problems):
        rows = sorted(set(norm.problems["row"].dropna().astype(int)))
        shown = ", ".join(map(str, rows[:12])) + (" ..." if len(rows) > 12 else "")
        warnings.warn(f"{len(rows)} row(s) of DATA set aside: an answer that is not a response code (rows {shown}; "
                      "`psyscreen score` writes them to a quarantine file with the reason)", UserWarning, stacklevel=2)
        frame = frame.loc[~frame.index.isin(rows)]
    rest = _typed(raw.frame.loc[frame.index, list(norm.unused_columns)]) if norm.unused_columns else None
    out = frame if rest is None else pd.concat([frame, rest], axis=1)
    out = out.reset_index(drop=True)
    out.index.name = None
    grade = out.get("grade")
    if grade is not None:  # numbers, as read_data reads a grade column without a map
        out["grade"] = grade.astype("Float64").astype(float)
    return out


def _need_columns(frame: pd.DataFrame, columns: list[str], what: str = "column") -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        shown = ", ".join(map(str, list(frame.columns)[:30])) + (" ..." if frame.shape[1] > 30 else "")
        hint = ("" if click.get_current_context().meta.get(_MAP_KEY) else
                "; if DATA is a raw export, give its column map with --map")
        raise click.ClickException(f"{what}(s) {', '.join(missing)} not in DATA; its columns are: {shown}{hint}")


def _need_numeric(frame: pd.DataFrame, columns: list[str]) -> None:
    bad = [c for c in columns if not pd.api.types.is_numeric_dtype(frame[c].dtype)]
    if bad:
        raise click.ClickException(
            f"column(s) {', '.join(bad)} hold text, not numbers; analyze wants item codes (score the export "
            "with `psyscreen score --keep-items` first, or fix the cells)")


def _items_spec(frame: pd.DataFrame, items: Optional[str], reverse: Optional[str], instrument: Optional[str],
                scale: Optional[str], lo: Optional[float], hi: Optional[float]) -> dict[str, Any]:
    """The item columns, reversed items and range from --items/--reverse/--min/--max or --instrument/--scale."""
    rev = _split(reverse)
    if instrument:
        from ..instrument import load_instrument

        inst = load_instrument(instrument)
        sc = inst.scale(scale) if scale else inst.scales[0]
        if sc.of_scales:
            raise click.ClickException(
                f"{inst.id}.{sc.id} is made of scales ({', '.join(sc.of_scales)}), not items: choose an item scale "
                f"with --scale ({', '.join(s.id for s in inst.scales if not s.of_scales)})")
        numbers = list(sc.item_numbers)
        cols = [f"{inst.id}.{n}" for n in numbers]
        if items:
            raise click.ClickException("give either --items or --instrument, not both")
        rev = rev or [f"{inst.id}.{n}" for n in numbers if inst.item(n).reverse]
        ranges = np.array([inst.item_range(n) for n in numbers])
        lo = float(ranges[:, 0].min()) if lo is None else lo
        hi = float(ranges[:, 1].max()) if hi is None else hi
        label = f"{inst.id}.{sc.id}"
    else:
        if not items:
            raise click.ClickException("say which items to analyse: --items A1,A2,... or --instrument ID --scale ID")
        cols = []
        for it in _split(items):
            if it.startswith("-") and it not in frame.columns:  # psych-style key: -A1 is reversed
                it = it[1:]
                rev.append(it)
            cols.append(it)
        label = ", ".join(cols)
    if len(set(cols)) != len(cols):
        raise click.ClickException("an item is listed twice in --items")
    _need_columns(frame, cols, "item column")
    stray = [r for r in rev if r not in cols]
    if stray:
        raise click.ClickException(f"--reverse names {', '.join(stray)}, which is not among the items")
    _need_numeric(frame, cols)
    return {"columns": cols, "reverse": rev, "min": lo, "max": hi, "label": label}


def _check_output(output: Path, allowed: tuple[str, ...]) -> None:
    if output.suffix.lower() not in allowed:
        raise click.ClickException(f"cannot write '{output.name}': the output must end in {' or '.join(allowed)}")
    folder = output.parent if str(output.parent) else Path(".")
    if not folder.is_dir():
        raise click.ClickException(f"the folder '{folder}' of the output does not exist")


def _run(title: str, data: Path, output: Path, options: dict[str, Any], debug: bool,
         compute: Callable[[pd.DataFrame], list[Any]], sheet: Optional[str] = None,
         allowed: tuple[str, ...] = (".xlsx", ".html")) -> None:
    """Read DATA, compute the results, write the report; turn expected errors into one-line messages."""
    from ..analysis_report import AnalysisReport, file_sha256

    column_map = click.get_current_context().meta.get(_MAP_KEY)
    lang = click.get_current_context().meta.get(_LANG_KEY) or "en"
    try:
        _check_output(output, allowed)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            frame = read_data(data, sheet, column_map)
            results = compute(frame)
        notes = list(dict.fromkeys(str(w.message).splitlines()[0] for w in caught
                                   if not issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning))))
        for note in notes:
            click.echo(f"warning: {note}", err=True)
        meta = {"command": f"psyscreen analyze {click.get_current_context().info_name}", "data": str(data),
                "data_sha256": file_sha256(data), "rows": len(frame)}
        if column_map is not None:
            meta.update({"map": str(column_map), "map_sha256": file_sha256(column_map)})
        meta.update({k: (", ".join(map(str, v)) if isinstance(v, (list, tuple)) else v)
                     for k, v in options.items() if v not in (None, "", [], ())})
        if results and callable(results[0]):  # a custom writer (norms)
            results[0](output, meta, notes)
        else:
            report = AnalysisReport.from_results(title, results, meta=meta, notes=notes, lang=lang)
            report.write(output)
            report.close_figures()
    except click.ClickException:
        raise
    except (ValueError, KeyError, LookupError, OSError, TypeError, np.linalg.LinAlgError) as exc:
        if debug:
            raise
        raise click.ClickException(_one_line(exc)) from None
    except Exception as exc:  # noqa: BLE001 - one line for a person, the traceback with --debug
        if debug:
            raise
        raise click.ClickException(f"unexpected error ({type(exc).__name__}): {_one_line(exc)}; "
                                   "rerun with --debug for the traceback") from None
    click.echo(f"wrote {output}")


_MAP_KEY = "psyscreen.analyze.map"
_LANG_KEY = "psyscreen.analyze.lang"


def _remember_map(ctx: click.Context, _param, value: Optional[Path]) -> Optional[Path]:
    ctx.meta[_MAP_KEY] = value
    return value


def _remember_lang(ctx: click.Context, _param, value: str) -> str:
    ctx.meta[_LANG_KEY] = value
    return value


def _common(func):
    """DATA, -o/--output, --sheet, --map, --lang and --debug, shared by every subcommand."""
    func = click.option("--debug", is_flag=True, help="Show the traceback of an error.")(func)
    func = click.option("--lang", type=click.Choice(["zh", "en"]), default="en", show_default=True,
                        expose_value=False, callback=_remember_lang,
                        help="Language of the report's titles and column headers (zh: Chinese); the values and "
                             "the sheet names stay the same, so a program reads either.")(func)
    func = click.option("--map", "column_map", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                        expose_value=False, callback=_remember_map,
                        help="A column map (as for screen and score): DATA is read as an export, its columns "
                             "renamed, answers made codes and demographics coded as screen codes them.")(func)
    func = click.option("--sheet", help="The Excel sheet to read (default: the first).")(func)
    func = click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
                        help="The report: .xlsx (a workbook) or .html (with plots).")(func)
    func = click.argument("data", type=click.Path(exists=True, dir_okay=False, path_type=Path))(func)
    return func


def _item_options(func):
    """--items/--reverse/--min/--max or --instrument/--scale."""
    for opt in reversed([
        click.option("--items", metavar="A1,A2,...", help="Item columns, comma-separated (a leading - reverses one)."),
        click.option("--reverse", metavar="A1,...", help="Items to reverse as min + max - x."),
        click.option("--min", "lo", type=float, help="Lowest response code (for reversing; default: observed)."),
        click.option("--max", "hi", type=float, help="Highest response code (for reversing; default: observed)."),
        click.option("--instrument", metavar="ID|YAML", help="Take the items and reverse keys of this instrument's scale."),
        click.option("--scale", metavar="ID", help="The instrument's scale (default: its first)."),
    ]):
        func = opt(func)
    return func


# ------------------------------------------------------------------------------------------------
# commands
# ------------------------------------------------------------------------------------------------
@click.group("analyze")
def analyze() -> None:
    """Psychometric analyses of item data, written as a workbook (.xlsx) or an HTML report (.html).

    The figures follow R's psych, lavaan and pROC; each command names the Python function it calls.
    """


@analyze.command("reliability")
@_common
@_item_options
@click.option("--nan-policy", type=click.Choice(["pairwise", "listwise"]), default="pairwise", show_default=True,
              help="pairwise: psych::alpha's default; listwise: complete cases only.")
@click.option("--omega-factors", type=int, default=1, show_default=True,
              help="Group factors for omega (1: one-factor omega total; 3: psych::omega's default).")
@click.option("--ci", type=float, default=0.95, show_default=True, help="Confidence level of alpha's Feldt CI.")
def reliability_cmd(data, output, sheet, debug, items, reverse, lo, hi, instrument, scale, nan_policy,
                    omega_factors, ci):
    """Cronbach's alpha (alpha if dropped, r.drop), omega and split-half reliability of one scale.

    psyscreen.reliability.alpha, psyscreen.omega.omega, psyscreen.reliability.split_half.
    """
    def compute(frame):
        from ..omega import omega
        from ..reliability import alpha, split_half

        spec = _items_spec(frame, items, reverse, instrument, scale, lo, hi)
        x = frame[spec["columns"]]
        kw = {"min": spec["min"], "max": spec["max"]}
        out = [alpha(x, spec["reverse"], ci=ci, nan_policy=nan_policy, **kw),
               omega(x, omega_factors, spec["reverse"], **kw)]
        if len(spec["columns"]) >= 2:
            out.append(split_half(x, spec["reverse"], nan_policy=nan_policy, **kw))
        return out

    _run("Reliability", data, output, {"items": items, "instrument": instrument, "scale": scale,
                                        "reverse": reverse, "min": lo, "max": hi, "nan_policy": nan_policy,
                                        "omega_factors": omega_factors}, debug, compute, sheet)


@analyze.command("items")
@_common
@_item_options
@click.option("--group-fraction", type=float, default=0.27, show_default=True,
              help="Share of respondents in each extreme group for the critical ratio.")
@click.option("--welch", is_flag=True, help="Welch's t for the critical ratio (default: Student's pooled t).")
def items_cmd(data, output, sheet, debug, items, reverse, lo, hi, instrument, scale, group_fraction, welch):
    """Item analysis: critical ratio, corrected item-total r, alpha if dropped, floor/ceiling, answer shares.

    psyscreen.reliability.item_analysis; the HTML report adds the item distribution plot.
    """
    def compute(frame):
        from ..analysis_report import Section
        from ..plots import item_distributions
        from ..reliability import item_analysis

        spec = _items_spec(frame, items, reverse, instrument, scale, lo, hi)
        x = frame[spec["columns"]]
        res = item_analysis(x, spec["reverse"], min=spec["min"], max=spec["max"],
                            group_fraction=group_fraction, equal_var=not welch)
        fig = item_distributions(x)
        return [res, Section("Answer distributions", "Share of each answer per item (as answered, not keyed).",
                             figures=[("Item distributions", fig)])]

    _run("Item analysis", data, output, {"items": items, "instrument": instrument, "scale": scale,
                                          "reverse": reverse, "min": lo, "max": hi,
                                          "group_fraction": group_fraction}, debug, compute, sheet)


@analyze.command("efa")
@_common
@_item_options
@click.option("--factors", type=int, help="Number of factors (default: parallel analysis's suggestion).")
@click.option("--rotation", type=click.Choice(["oblimin", "varimax", "promax", "quartimin", "none"]),
              default="oblimin", show_default=True)
@click.option("--method", type=click.Choice(["minres", "ml"]), default="minres", show_default=True)
@click.option("--parallel/--no-parallel", default=True, show_default=True, help="Run parallel analysis too.")
@click.option("--n-iter", type=int, default=20, show_default=True, help="Simulated data sets for parallel analysis.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed of parallel analysis.")
@click.option("--ordered", is_flag=True,
              help="Ordinal items: analyse polychoric correlations (psych::fa(cor = 'poly')), every answer used.")
def efa_cmd(data, output, sheet, debug, items, reverse, lo, hi, instrument, scale, factors, rotation, method,
            parallel, n_iter, seed, ordered):
    """Exploratory factor analysis with KMO, Bartlett and parallel analysis (scree plot in HTML).

    psyscreen.validity.efa (psych::fa), parallel_analysis (psych::fa.parallel). Reverse keys are not
    applied: an EFA shows them as negative loadings.
    """
    def compute(frame):
        from ..validity import efa, parallel_analysis

        spec = _items_spec(frame, items, None, instrument, scale, lo, hi)
        x = frame[spec["columns"]]
        out = []
        k = factors
        if parallel or k is None:
            pa = parallel_analysis(x, n_iter=n_iter, seed=seed, method=method, cor=cor)
            out.append(pa)
            if k is None:
                k = max(1, pa.n_factors)
        out.insert(0, efa(x, k, rotation=rotation, method=method, cor=cor))
        return out

    cor = "poly" if ordered else "pearson"
    _run("Exploratory factor analysis", data, output,
         {"items": items, "instrument": instrument, "scale": scale, "factors": factors, "rotation": rotation,
          "method": method, "cor": cor, "seed": seed if parallel or factors is None else None}, debug, compute,
         sheet)


def _model_text(model: str) -> str:
    path = Path(model)
    try:
        if len(model) < 4096 and "=~" not in model and path.is_file():
            return path.read_text(encoding="utf-8-sig")
    except OSError:
        pass
    if "=~" not in model and "~~" not in model:
        raise click.ClickException(f"--model is neither a file nor lavaan syntax such as 'f =~ a + b + c': {model!r}")
    return model


def _ml_options(func):
    """--estimator ML|MLR|WLSMV and --missing listwise|ml, shared by cfa and invariance."""
    func = click.option("--missing", type=click.Choice(["listwise", "ml"]), default="listwise", show_default=True,
                        help="listwise: drop rows with a missing answer; ml: FIML (lavaan missing='ml').")(func)
    return click.option("--estimator", type=click.Choice(["ML", "MLR", "WLSMV"], case_sensitive=False), default=None,
                        help="ML (the default), MLR (robust SEs, Yuan-Bentler scaled chi-square) or WLSMV "
                             "(ordinal items; the default with --ordered).")(func)


@analyze.command("cfa")
@_common
@click.option("--model", required=True, metavar="FILE|SYNTAX", help="lavaan model syntax, or a file holding it.")
@click.option("--std-lv", is_flag=True, help="Identify factors by unit variances instead of marker loadings.")
@click.option("--ordered", default=None, metavar="all|ITEMS",
              help="Ordinal items ('all' = every model item, or a comma list): fit by WLSMV (lavaan ordered=).")
@_ml_options
def cfa_cmd(data, output, sheet, debug, model, std_lv, ordered, estimator, missing):
    """Confirmatory factor analysis (ML, MLR or WLSMV): fit measures, standardized loadings, composite reliability, AVE.

    psyscreen.validity.cfa (lavaan::cfa, fitMeasures, standardizedSolution; ordered = ..., estimator = "WLSMV").
    """
    def compute(frame):
        from ..validity import cfa

        items = None if ordered is None else (True if ordered.strip().lower() == "all" else _split(ordered))
        return [cfa(frame, _model_text(model), std_lv=std_lv, ordered=items, estimator=estimator, missing=missing)]

    _run("Confirmatory factor analysis", data, output,
         {"model": model, "std_lv": std_lv or None, "ordered": ordered, "estimator": estimator, "missing": missing},
         debug, compute, sheet)


@analyze.command("invariance")
@_common
@click.option("--model", required=True, metavar="FILE|SYNTAX", help="lavaan model syntax, or a file holding it.")
@click.option("--group", required=True, help="The group column (e.g. sex, grade, school).")
@click.option("--steps", default=None,
              help="Steps to fit, in order [default: configural,metric,scalar,strict; with --ordered "
                   "configural,thresholds,metric,scalar].")
@click.option("--std-lv", is_flag=True, help="Identify factors by unit variances instead of marker loadings.")
@click.option("--ordered", default=None, metavar="all|ITEMS",
              help="Ordinal items ('all' = every model item, or a comma list): WLSMV steps of Wu & Estabrook "
                   "(2016), thresholds before loadings.")
@click.option("--group-partial", default=None, metavar="PARAMS",
              help="Parameters left free across groups, comma list in lavaan syntax (e.g. 'x1 | t2,f =~ x3').")
@_ml_options
def invariance_cmd(data, output, sheet, debug, model, group, steps, std_lv, ordered, group_partial, estimator,
                   missing):
    """Measurement invariance across groups: configural, metric, scalar, strict, with delta CFI/RMSEA.

    psyscreen.validity.invariance (lavaan group.equal; ordered items: semTools measEq.syntax
    ID.cat = "Wu.Estabrook.2016", lavTestLRT).
    """
    def compute(frame):
        from ..validity import invariance

        _need_columns(frame, [group], "group column")
        items = None if ordered is None else (True if ordered.strip().lower() == "all" else _split(ordered))
        return [invariance(frame, _model_text(model), group, steps=_split(steps) or None, std_lv=std_lv,
                           ordered=items, estimator=estimator, missing=missing, group_partial=_split(group_partial))]

    _run("Measurement invariance", data, output,
         {"model": model, "group": group, "steps": steps, "ordered": ordered, "estimator": estimator,
          "missing": missing, "group_partial": group_partial}, debug, compute, sheet)


def _criterion(values: pd.Series, positive: Optional[str], name: str) -> pd.Series:
    if positive is not None:
        text = values.astype("string").str.strip()
        try:
            pos_num = float(positive)
        except ValueError:
            pos_num = None
        hit = text == positive
        if pos_num is not None and pd.api.types.is_numeric_dtype(values.dtype):
            hit = values == pos_num
        return hit.astype(float).where(values.notna())
    if pd.api.types.is_numeric_dtype(values.dtype):
        seen = set(np.unique(values.dropna().to_numpy(dtype=float)))
        if not seen <= {0.0, 1.0}:
            raise click.ClickException(
                f"criterion column '{name}' holds {', '.join(f'{v:g}' for v in sorted(seen)[:6])}, not 0/1: say which value marks a case "
                "with --positive")
        return values.astype(float)
    text = values.astype("string").str.strip().str.lower()
    mapping = {"1": 1.0, "0": 0.0, "true": 1.0, "false": 0.0, "yes": 1.0, "no": 0.0, "是": 1.0, "否": 0.0}
    out = text.map(mapping)
    if out.isna().sum() > values.isna().sum():
        raise click.ClickException(f"criterion column '{name}' is not 0/1 or true/false: say which value marks a "
                                   "case with --positive")
    return out.astype(float)


@analyze.command("roc")
@_common
@click.option("--score", "score_col", required=True,
              help="The screening score column; an absent <instrument>.<scale> is scored from its items.")
@click.option("--criterion", required=True, help="The criterion column: 1/true = case, 0/false = control.")
@click.option("--positive", metavar="VALUE", help="The criterion value that marks a case (others are controls).")
@click.option("--direction", type=click.Choice(["<", ">", "auto"]), default="<", show_default=True,
              help="'<': cases score higher (a score above the cut is positive).")
@click.option("--ci", type=float, default=0.95, show_default=True)
@click.option("--n-boot", type=int, default=2000, show_default=True,
              help="Bootstrap replicates for the CI of the best cut (0: none).")
@click.option("--seed", type=int, default=0, show_default=True)
def roc_cmd(data, output, sheet, debug, score_col, criterion, positive, direction, ci, n_boot, seed):
    """ROC of a score against a criterion: AUC with DeLong CI, Youden's cut, every cut's sensitivity/specificity/PPV/NPV.

    psyscreen.validity.roc (pROC::roc, ci.auc, coords "best").
    """
    def compute(frame):
        from ..validity import roc

        _need_columns(frame, [criterion])
        frame = _scale_columns(frame, [score_col])  # an absent <instrument>.<scale> is scored from its items
        _need_numeric(frame, [score_col])
        crit = _criterion(frame[criterion], positive, criterion)
        return [roc(frame[score_col], crit, direction=direction, ci=ci, n_boot=n_boot, seed=seed)]

    _run("ROC analysis", data, output, {"score": score_col, "criterion": criterion, "positive": positive,
                                         "direction": direction, "n_boot": n_boot, "seed": seed}, debug,
         compute, sheet)


def _scale_columns(frame: pd.DataFrame, scales: list[str]) -> pd.DataFrame:
    """Add ``<instrument>.<scale>`` columns that are absent but can be scored from the instrument's items."""
    absent = [s for s in scales if s not in frame.columns]
    if not absent:
        return frame
    from ..instrument import list_instruments
    from ..scoring import score

    known = set(list_instruments())
    insts = list(dict.fromkeys(s.split(".", 1)[0] for s in absent if "." in s and s.split(".", 1)[0] in known))
    unscorable = [s for s in absent if "." not in s or s.split(".", 1)[0] not in known]
    if unscorable:
        _need_columns(frame, unscorable, "scale column")
    scored = score(frame, insts)
    _need_columns(scored, absent, "scale")
    return pd.concat([frame, scored[absent]], axis=1)


@analyze.command("norms")
@_common
@click.option("--scales", required=True, metavar="COL,...",
              help="Score columns to norm (e.g. phq9.total); an absent <instrument>.<scale> is scored from its items.")
@click.option("--by", default="grade,sex", show_default=True, help="Stratum columns ('' for one norm).")
@click.option("--min-stratum", type=int, default=30, show_default=True, help="Warn below this many scores.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also save the table as JSON (for programs: NormTable.from_json).")
@click.option("--description", default="", help="What the reference sample is (kept in the table).")
@click.option("--continuous", is_flag=True,
              help="Continuous norms over --age (psyscreen.norms.ContinuousNorms, as R cNORM): one smooth model per "
                   "stratum of the other --by columns.")
@click.option("--age", default="grade", show_default=True, help="With --continuous: the age/grade column.")
@click.option("--k", "k_power", type=int, default=5, show_default=True, help="With --continuous: power of the norm score.")
@click.option("--t", "t_power", type=int, default=3, show_default=True, help="With --continuous: power of age.")
def norms_cmd(data, output, sheet, debug, scales, by, min_stratum, json_path, description, continuous, age, k_power,
              t_power):
    """Norms by stratum (percentile rank, T, normalised T, stanine), saved as Excel, JSON or an HTML report.

    psyscreen.norms.NormTable: -o x.xlsx writes the workbook NormTable.from_excel reads back; -o x.json the
    JSON; -o x.html a report with the norm curves.
    """
    def compute(frame):
        from ..analysis_report import AnalysisReport
        from ..io import atomic_write
        from ..norms import NormTable

        cols = _split(scales)
        strata = _split(by)
        _need_columns(frame, strata, "stratum column")
        frame = _scale_columns(frame, cols)
        if continuous:
            from ..norms import ContinuousNorms

            _need_columns(frame, [age], "age column")
            if Path(output).suffix.lower() == ".html":
                raise click.UsageError("--continuous writes .xlsx or .json (a printable table and the model).")
            table = ContinuousNorms(age=age, by=tuple(b for b in strata if b != age), k=k_power, t=t_power).fit(
                frame, cols, description=description or f"psyscreen analyze norms --continuous {Path(data).name}")
        else:
            table = NormTable(by=tuple(strata), min_stratum=min_stratum).fit(
                frame, cols, description=description or f"psyscreen analyze norms {Path(data).name}")

        def write(path: Path, meta: dict, notes: list[str]) -> None:
            suffix = path.suffix.lower()
            if suffix == ".xlsx":
                atomic_write(path, lambda tmp: table.to_excel(tmp))
            elif suffix == ".json":
                atomic_write(path, lambda tmp: table.to_json(tmp))
            else:
                report = AnalysisReport.from_results("Norms", [table], meta=meta, notes=notes,
                                                     lang=click.get_current_context().meta.get(_LANG_KEY) or "en")
                report.write(path)
                report.close_figures()
            if json_path is not None:
                _check_output(json_path, (".json",))
                atomic_write(json_path, lambda tmp: table.to_json(tmp))
                click.echo(f"wrote {json_path}")

        return [write]

    _run("Norms", data, output, {"scales": scales, "by": by, "min_stratum": min_stratum}, debug, compute, sheet,
         allowed=(".xlsx", ".json", ".html"))


def _cutoffs(instrument: Optional[str], scale: Optional[str], cutoffs: Optional[str]) -> tuple[list[float], str]:
    """Raw cutoffs from --cutoffs, else the lower bounds of the instrument scale's bands (all but the lowest)."""
    if cutoffs:
        try:
            return [float(c) for c in _split(cutoffs)], "--cutoffs"
        except ValueError:
            raise click.ClickException(f"--cutoffs must be numbers separated by commas, not {cutoffs!r}") from None
    if not instrument:
        return [], ""
    from ..instrument import load_instrument

    inst = load_instrument(instrument)
    sc = inst.scale(scale) if scale else inst.scales[0]
    lows = []
    for band in sc.bands[1:]:
        op, value = band.lower
        if op == "ge":
            lows.append(float(value))
        elif op == "gt":                               # a total above v starts at the next whole score
            lows.append(float(np.floor(value) + 1))
    return lows, f"{inst.id}.{sc.id} bands"


@analyze.command("irt")
@_common
@_item_options
@click.option("--model", "irt_model", type=click.Choice(["graded", "2PL", "Rasch"]), default="graded",
              show_default=True, help="Graded response (ordinal items), 2PL (binary) or Rasch/partial credit.")
@click.option("--group", help="A group column (e.g. sex, urban/rural): adds likelihood-ratio DIF per item.")
@click.option("--cutoffs", metavar="X,...", help="Cutoffs on the total score (default: the instrument's bands).")
@click.option("--cutoff-scale", type=click.Choice(["raw", "theta"]), default="raw", show_default=True,
              help="Whether --cutoffs are total scores or thetas.")
@click.option("--p-adjust", type=click.Choice(["none", "holm", "BH"]), default="holm", show_default=True,
              help="Adjustment of the DIF p values over items.")
def irt_cmd(data, output, sheet, debug, items, reverse, lo, hi, instrument, scale, irt_model, group, cutoffs,
            cutoff_scale, p_adjust):
    """Item response theory: item parameters, S-X2 item fit, M2/C2 model fit, information at the cutoffs, DIF.

    psyscreen.irt.fit (mirt::mirt), itemfit (mirt::itemfit), m2 (mirt::M2), dif (mirt::DIF scheme "drop");
    the HTML report adds the item characteristic and information curves.
    """
    def compute(frame):
        from .. import irt
        from ..analysis_report import Section, Table
        from ..irt.m2 import M2Error
        from ..irt.plots import information_curves, item_characteristic_curves

        spec = _items_spec(frame, items, reverse, instrument, scale, lo, hi)
        x = frame[spec["columns"]].copy()
        for col in spec["reverse"]:
            x[col] = (spec["min"] if spec["min"] is not None else x[col].min()) + (
                spec["max"] if spec["max"] is not None else x[col].max()) - x[col]
        res = irt.fit(x, irt_model)
        lang = click.get_current_context().meta.get(_LANG_KEY) or "en"
        out = [Section("IRT model", f"{irt_model} model fitted by marginal maximum likelihood (EM, {res.quadpts} "
                                    f"quadrature points on {res.theta_lim[0]:g}..{res.theta_lim[1]:g}); standard "
                                    "errors from the observed information (Oakes). Slopes a and thresholds b "
                                    "(IRT metric) beside mirt's slope-intercept a1, d.",
                       [Table("irt_fit", res.summary()), Table("irt_items", res.to_frame())])]
        complete = x.dropna()
        fit_tables, fit_text = [], []
        try:
            stat = irt.m2(res, complete, type="M2*" if int(res.params.n_cat.max()) == 2 else "C2")
            fit_tables.append(Table("irt_m2", stat.to_frame()))
            fit_text.append(f"{stat.type} on {stat.n} complete answer sheets.")
        except M2Error as exc:                       # e.g. too few items for its degrees of freedom
            fit_text.append(f"No M2: {exc}.")
        item_fit = irt.itemfit(res, x)
        fit_tables.append(Table("irt_itemfit", item_fit.to_frame()))
        fit_text.append("S-X2 (Orlando & Thissen) per item; p < .05 flags an item whose observed answers at each "
                        "total score depart from the model's.")
        out.append(Section("Model and item fit", " ".join(fit_text), fit_tables))
        cuts, where = _cutoffs(instrument, scale, cutoffs)
        figures = []
        if cuts:
            at = res.information_at(cuts, scale=cutoff_scale)
            thetas = at.attrs["theta"]
            out.append(Section("Information at the cutoffs",
                               f"Item and test information where the scale decides (cutoffs from {where}); a "
                               "test information of 10 is a standard error of about 0.32 (reliability ~ .90).",
                               [Table("irt_cutoffs", at, index=True)]))
        else:
            thetas = None
        figures.append(("Information", information_curves(res, cutoffs=thetas, lang=lang)))
        figures.append(("Item characteristic curves", item_characteristic_curves(res, lang=lang)))
        out.append(Section("Curves", "Category probabilities per item, test information and its standard error.",
                           figures=figures))
        if group:
            _need_columns(frame, [group], "group column")
            d = irt.dif(x, frame[group].to_numpy(), model=irt_model, p_adjust=p_adjust)
            out.append(Section(
                "Differential item functioning",
                f"Likelihood-ratio DIF by {group} (reference group {d.reference}): each item's parameters freed in "
                "turn against the fully invariant multiple-group model (mirt DIF, scheme 'drop'); p adjusted "
                f"({p_adjust}). SIDS/UIDS: signed/unsigned expected item-score difference (reference minus focal) "
                "over the focal group's trait distribution; ESSD: SIDS in pooled SDs (Meade 2010).",
                [Table("irt_dif", d.to_frame())]))
        return out

    _run("Item response theory", data, output,
         {"items": items, "instrument": instrument, "scale": scale, "reverse": reverse, "model": irt_model,
          "group": group, "cutoffs": cutoffs}, debug, compute, sheet)


COMMANDS = [analyze]
