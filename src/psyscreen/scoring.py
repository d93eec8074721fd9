"""Scoring: instrument keys as matrices, applied to the whole cohort at once.

The answers of one instrument are one float array (students x items, NaN = not answered). Reverse keys
are ``min + max - x``; scale sums and answered counts are matrix products with a 0/1 key matrix; means,
prorating and the missing-data rule are element-wise. No Python loop runs over students: the only loops
are over scales, rules and row blocks (blocks bound the memory on very large cohorts).

Missing is missing: a scale that lacks the answered items its definition needs is NaN, and the reason is
written in ``<instrument>.incomplete``. An answer outside an item's response codes is never clipped or
guessed: :func:`score` raises :class:`ResponseError`, and :func:`score_with_quarantine` sets the row aside
with the column, the value and the reason.

Examples
--------
>>> import pandas as pd
>>> frame = pd.DataFrame({f"phq9.{i}": [1, 3] for i in range(1, 10)})
>>> out = score(frame, ["phq9"])
>>> out["phq9.total"].tolist(), out["phq9.total.band"].astype(str).tolist()
([9.0, 27.0], ['mild', 'severe'])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence, Union

import numpy as np
import pandas as pd

from ._results import ResultMixin
from .instrument import Instrument, load_instrument
from .rules import evaluate, parse_condition

__all__ = ["score", "score_with_quarantine", "score_items", "Scored", "ResponseError", "MissingColumnsError",
           "item_matrix", "response_problems"]

BLOCK_ROWS = 1 << 16


class ResponseError(ValueError):
    """Answers outside an item's response codes. Carries the located problems (no answer values)."""

    def __init__(self, problems: pd.DataFrame):
        self.problems = problems
        n_rows = problems["row"].nunique()
        cols = ", ".join(sorted(problems["column"].unique())[:10])
        super().__init__(
            f"{len(problems)} answer(s) outside the response codes in {n_rows} row(s), columns: {cols}. "
            "Fix the export or the column map, or use score_with_quarantine() / the CLI, which set such rows aside."
        )


class MissingColumnsError(KeyError):
    """Item columns an instrument needs are absent from the frame."""

    def __init__(self, instrument: str, missing: Sequence[str]):
        self.instrument = instrument
        self.missing = list(missing)
        shown = ", ".join(self.missing[:12]) + (" ..." if len(self.missing) > 12 else "")
        super().__init__(
            f"{instrument}: {len(self.missing)} item column(s) missing: {shown}. Item columns are named "
            f"'<instrument>.<item number>'; map the export's headers with a column map file."
        )

    def __str__(self) -> str:  # KeyError quotes its message otherwise
        return self.args[0]


@dataclass(frozen=True)
class Scored(ResultMixin):
    """Scores for the rows that could be scored, and the rows set aside with their reasons.

    Attributes
    ----------
    scores : DataFrame
        Score columns, indexed like the input rows that were scored.
    quarantine : DataFrame
        One row per problem: ``row`` (the input index label), ``column``, ``value``, ``reason``.
    """

    scores: pd.DataFrame
    quarantine: pd.DataFrame

    @property
    def n_quarantined(self) -> int:
        return int(self.quarantine["row"].nunique()) if len(self.quarantine) else 0

    def to_frame(self) -> pd.DataFrame:
        return self.scores


InstrumentsArg = Union[str, Instrument, Iterable[Union[str, Instrument]]]


def _instruments(instruments: InstrumentsArg) -> list[Instrument]:
    if isinstance(instruments, (str, Instrument)):
        instruments = [instruments]
    return [load_instrument(i) for i in instruments]


def item_matrix(frame: pd.DataFrame, inst: Instrument, *, scored_only: bool = False) -> np.ndarray:
    """The instrument's answers as one float array (rows x items in number order, NaN = missing).

    Columns of unscored items that are absent become NaN; a missing scored item column raises
    :class:`MissingColumnsError`. Text that is not a number becomes NaN here; use
    :func:`response_problems` first to catch it.
    """
    items = [it for it in inst.item_list if it.scored or not scored_only]
    needed = [f"{inst.id}.{it.number}" for it in items if it.scored]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise MissingColumnsError(inst.id, missing)
    X = np.full((len(frame), len(items)), np.nan)
    for j, it in enumerate(items):
        col = f"{inst.id}.{it.number}"
        if col in frame.columns:
            X[:, j] = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return X


def response_problems(frame: pd.DataFrame, inst: Instrument) -> pd.DataFrame:
    """Answers that are not one of the item's response codes (vectorised per item).

    Returns
    -------
    DataFrame
        ``row`` (index label), ``column``, ``value`` (as given), ``reason``; empty when all answers are valid.
    """
    parts = []
    for it in inst.item_list:
        col = f"{inst.id}.{it.number}"
        if col not in frame.columns:
            continue
        raw = frame[col]
        num = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        given = raw.notna().to_numpy() & (raw.astype(str).str.strip() != "").to_numpy()
        codes = inst.item_codes(it.number)
        bad = given & ~np.isin(num, codes)
        if bad.any():
            idx = np.flatnonzero(bad)
            lo, hi = codes[0], codes[-1]
            parts.append(pd.DataFrame({
                "row": frame.index[idx],
                "column": col,
                "value": raw.iloc[idx].astype(str).to_numpy(),
                "reason": f"not a response code of {inst.id} item {it.number} "
                          f"(codes {', '.join(f'{c:g}' for c in codes)}; range {lo:g}-{hi:g})",
            }))
    if not parts:
        return pd.DataFrame({"row": pd.Series(dtype=object), "column": pd.Series(dtype=str),
                             "value": pd.Series(dtype=str), "reason": pd.Series(dtype=str)})
    return pd.concat(parts, ignore_index=True)


def _key_matrices(inst: Instrument, numbers: list[int]):
    """0/1 key matrix (items x scales) for the item-based sum/mean scales, and those scales."""
    pos = {n: j for j, n in enumerate(numbers)}
    scales = [s for s in inst.scales if s.items and s.method in ("sum", "mean")]
    W = np.zeros((len(numbers), len(scales)))
    for k, s in enumerate(scales):
        W[[pos[n] for n in s.item_numbers], k] = 1.0
    return W, scales


def _score_block(X: np.ndarray, inst: Instrument, numbers: list[int], W: np.ndarray, mm_scales) -> dict:
    """Scale scores and answered counts for one block of rows (X already reverse-keyed)."""
    answered_mask = ~np.isnan(X)
    X0 = np.where(answered_mask, X, 0.0)
    sums = X0 @ W
    answered = answered_mask.astype(np.float64) @ W
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    pos = {n: j for j, n in enumerate(numbers)}
    for k, s in enumerate(mm_scales):
        n_items = len(s.item_numbers)
        ans = answered[:, k]
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = sums[:, k] / ans
        if s.method == "mean":
            value = mean
        elif s.missing.prorate:
            value = mean * n_items
        else:
            value = sums[:, k]
        value = np.where(ans >= s.min_answered, value * s.multiplier, np.nan)
        out[s.id] = (value, ans)
    for s in inst.scales:
        if s.items and s.method in ("count", "positive_mean"):
            cols = [pos[n] for n in s.item_numbers]
            sub = X[:, cols]
            ans = (~np.isnan(sub)).sum(axis=1).astype(float)
            with np.errstate(invalid="ignore"):
                positive = sub >= s.threshold
            n_pos = positive.sum(axis=1).astype(float)
            if s.method == "count":
                value = n_pos
            else:
                with np.errstate(invalid="ignore", divide="ignore"):
                    value = np.where(positive, sub, 0.0).sum(axis=1) / n_pos
            value = np.where(ans >= s.min_answered, value * s.multiplier, np.nan)
            out[s.id] = (value, ans)
    return out


def _score_instrument(frame: pd.DataFrame, inst: Instrument) -> pd.DataFrame:
    numbers = [it.number for it in inst.item_list]
    raw = item_matrix(frame, inst)
    lo = np.array([inst.item_range(n)[0] for n in numbers])
    hi = np.array([inst.item_range(n)[1] for n in numbers])
    rev = np.array([inst.item(n).reverse for n in numbers])
    W, mm_scales = _key_matrices(inst, numbers)
    n = len(frame)
    results: dict[str, list] = {}
    for start in range(0, max(n, 1), BLOCK_ROWS):
        block = raw[start:start + BLOCK_ROWS]
        if rev.any():
            block = np.where(rev, lo + hi - block, block)
        for sid, (value, ans) in _score_block(block, inst, numbers, W, mm_scales).items():
            results.setdefault(sid, []).append((value, ans))
    values = {sid: np.concatenate([v for v, _ in parts]) for sid, parts in results.items()}
    answered = {sid: np.concatenate([a for _, a in parts]) for sid, parts in results.items()}

    # scales made of scales: their sum, missing when any part is missing
    for s in inst.scales:
        if s.of_scales:
            values[s.id] = np.sum([values[o] for o in s.of_scales], axis=0) * s.multiplier
            answered[s.id] = np.sum([answered[o] for o in s.of_scales], axis=0)

    out: dict[str, object] = {}
    incomplete = np.full(n, "", dtype=object)
    for s in inst.scales:
        col = f"{inst.id}.{s.id}"
        out[col] = values[s.id]
        out[f"{col}.answered"] = answered[s.id].astype(np.int64)
        if s.bands:
            out[f"{col}.band"] = _bands(values[s.id], s)
        missing = np.isnan(values[s.id])
        if missing.any():
            need = (f"all of {', '.join(s.of_scales)} scored" if s.of_scales
                    else f"needs {s.min_answered} of {len(s.item_numbers)} answered")
            idx = np.flatnonzero(missing)
            got = answered[s.id][idx].astype(int).astype(str)
            what = (np.char.add(np.char.add(f"{s.id}: ", got), f" item(s) answered, {need}"))
            incomplete[idx] = np.char.add(np.where(incomplete[idx] == "", "", np.char.add(incomplete[idx].astype(str), "; ")), what)

    item_pos = {n_: j for j, n_ in enumerate(numbers)}
    rule_values: dict[str, np.ndarray] = {}

    def resolve(kind: str, ref: str) -> np.ndarray:
        if kind == "item":
            return raw[:, item_pos[int(ref)]]
        if kind == "scale":
            return values[ref]
        return rule_values[ref]

    if inst.critical:
        fired_any = np.zeros(n, dtype=bool)
        known_all = np.ones(n, dtype=bool)
        fired_text = np.full(n, "", dtype=object)
        for c, cond in zip(inst.critical, inst.critical_conditions):
            v, k = evaluate(cond, resolve)
            fired_any |= v
            known_all &= k
            if v.any():
                idx = np.flatnonzero(v)
                ans = raw[idx, item_pos[c.item]]
                label = np.char.add(f"{c.item}=", np.char.mod("%g", ans))
                fired_text[idx] = np.where(fired_text[idx] == "", label,
                                           np.char.add(np.char.add(fired_text[idx].astype(str), ","), label))
        out[f"{inst.id}.critical"] = _nullable_bool(fired_any, fired_any | known_all)
        out[f"{inst.id}.critical_items"] = pd.array(np.where(fired_text == "", None, fired_text), dtype="string")
    for r in inst.rules:
        if r.when is not None:
            v, k = evaluate(parse_condition(r.when, f"rules.{r.id}.when"), resolve)
            rule_values[r.id] = np.where(k, v.astype(float), np.nan)
            out[f"{inst.id}.{r.id}"] = _nullable_bool(v, k)
        else:
            out[f"{inst.id}.{r.id}"], rule_values[r.id] = _category(r, resolve, n)
    if inst.validity:
        v, k = evaluate(parse_condition(inst.validity.invalid_when, "validity.invalid_when"), resolve)
        out[f"{inst.id}.valid"] = _nullable_bool(~v & k, k)
    out[f"{inst.id}.incomplete"] = pd.array(np.where(incomplete == "", None, incomplete), dtype="string")
    return pd.DataFrame(out, index=frame.index)


def _nullable_bool(value: np.ndarray, known: np.ndarray) -> pd.arrays.BooleanArray:
    return pd.arrays.BooleanArray(value & known, ~known)


def _category(rule, resolve, n: int):
    """First matching case wins; a row whose earlier case is unknown stays undecided (NA)."""
    decided = np.zeros(n, dtype=bool)
    blocked = np.zeros(n, dtype=bool)
    chosen = np.full(n, None, dtype=object)
    for j, case in enumerate(rule.cases):
        v, k = evaluate(parse_condition(case["when"], f"rules.{rule.id}.cases[{j}].when"), resolve)
        take = v & ~decided & ~blocked
        chosen[take] = case["value"]
        decided |= take
        blocked |= ~k & ~decided
    if rule.default is not None:
        rest = ~decided & ~blocked
        chosen[rest] = rule.default
    values = [c["value"] for c in rule.cases] + ([rule.default] if rule.default is not None else [])
    if all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in values):
        numeric = np.array([np.nan if c is None else float(c) for c in chosen])
        return pd.array(np.where(np.isnan(numeric), None, numeric), dtype="Int64"), numeric
    return pd.array(chosen, dtype="string"), np.full(n, np.nan)


def _bands(values: np.ndarray, scale) -> pd.Categorical:
    codes = np.full(values.shape, -1, dtype=np.int64)
    with np.errstate(invalid="ignore"):
        for j, b in enumerate(scale.bands):
            inside = ~np.isnan(values)
            for op, bound in (b.lower, b.upper):
                if op == "ge":
                    inside &= values >= bound
                elif op == "gt":
                    inside &= values > bound
                elif op == "le":
                    inside &= values <= bound
                elif op == "lt":
                    inside &= values < bound
            codes[inside] = j
    return pd.Categorical.from_codes(codes, categories=[b.code for b in scale.bands], ordered=True)


def score_with_quarantine(frame: pd.DataFrame, instruments: InstrumentsArg) -> Scored:
    """Score every row that can be scored; set aside rows with answers outside the response codes.

    Rows in = rows scored + rows quarantined, always.

    Parameters
    ----------
    frame : DataFrame
        Item columns named ``<instrument>.<item number>``.
    instruments : str, Instrument or list of them

    Returns
    -------
    Scored
    """
    insts = _instruments(instruments)
    for inst in insts:
        item_matrix(frame.iloc[:0], inst)  # raises MissingColumnsError early, before any work
    problems = pd.concat([response_problems(frame, inst) for inst in insts], ignore_index=True)
    bad_rows = pd.Index(problems["row"].unique()) if len(problems) else pd.Index([])
    good = frame.loc[~frame.index.isin(bad_rows)] if len(bad_rows) else frame
    scores = pd.concat([_score_instrument(good, inst) for inst in insts], axis=1) if insts else good.iloc[:, :0]
    return Scored(scores=scores, quarantine=problems)


def score(frame: pd.DataFrame, instruments: InstrumentsArg) -> pd.DataFrame:
    """Score a response frame with one or more instruments.

    Parameters
    ----------
    frame : DataFrame
        One row per student; item columns named ``<instrument>.<item number>`` (e.g. ``phq9.9``) holding
        response codes; blank / NaN = not answered (never scored as 0).
    instruments : str, Instrument or list of them
        Shipped ids (``"phq9"``), paths to YAML definitions, or loaded instruments.

    Returns
    -------
    DataFrame
        Same index as ``frame``. Per scale: ``<id>.<scale>``, ``<id>.<scale>.answered`` and, where the
        definition has bands, ``<id>.<scale>.band``; per instrument ``<id>.critical`` / ``<id>.critical_items``
        (if it has critical items), one column per rule, ``<id>.valid`` (if it has a validity scale), and
        ``<id>.incomplete`` (why a scale is missing, or NA).

    Raises
    ------
    MissingColumnsError
        A scored item column is absent.
    ResponseError
        An answer is not one of the item's response codes (use :func:`score_with_quarantine` to set such
        rows aside instead).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> answers = {f"gad7.{i}": [2, np.nan] for i in range(1, 8)}
    >>> score(pd.DataFrame(answers), "gad7")[["gad7.total", "gad7.total.answered"]]
       gad7.total  gad7.total.answered
    0        14.0                    7
    1         NaN                    0
    """
    result = score_with_quarantine(frame, instruments)
    if len(result.quarantine):
        raise ResponseError(result.quarantine)
    return result.scores


def score_items(items: pd.DataFrame, keys: dict[str, Sequence[str]], *, min: float, max: float,
                method: str = "mean", min_answered: int | None = None) -> pd.DataFrame:
    """Score ad-hoc scales from psych-style keys (a leading ``-`` reverses an item as ``min + max - x``).

    With the defaults this equals ``psych::scoreItems(keys, items, impute="none", min=, max=)$scores``:
    the mean of the answered keyed items (NaN when none is answered). ``method="sum"`` gives the sum of
    the same keyed answers, and is NaN unless every item is answered or ``min_answered`` is met, in
    which case the sum is prorated (mean x number of items) rather than silently smaller.

    Parameters
    ----------
    items : DataFrame
    keys : dict
        ``{"agree": ["-A1", "A2", ...], ...}``
    min, max : float
        The response range, used to reverse items.
    method : {"mean", "sum"}
    min_answered : int, optional
        Answered items a scale needs (default: 1 for means, all items for sums).

    Returns
    -------
    DataFrame
        One column per key, indexed like ``items``.

    Examples
    --------
    >>> import pandas as pd
    >>> items = pd.DataFrame({"A1": [1, 6], "A2": [6, 1]})
    >>> score_items(items, {"agree": ["-A1", "A2"]}, min=1, max=6)
       agree
    0    6.0
    1    1.0
    """
    if method not in ("mean", "sum"):
        raise ValueError(f"method must be 'mean' or 'sum', got {method!r}")
    names: list[str] = []
    for key in keys.values():
        names.extend(k.lstrip("-") for k in key)
    columns = list(dict.fromkeys(names))
    absent = [c for c in columns if c not in items.columns]
    if absent:
        raise KeyError(f"keyed item(s) not in the frame: {absent}")
    X = items[columns].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    pos = {c: j for j, c in enumerate(columns)}
    W = np.zeros((len(columns), len(keys)))
    R = np.zeros((len(columns), len(keys)))  # items reversed for this scale
    for k, key in enumerate(keys.values()):
        for name in key:
            target = R if name.startswith("-") else W
            target[pos[name.lstrip("-")], k] = 1.0
    present = ~np.isnan(X)
    X0 = np.where(present, X, 0.0)
    Xr = np.where(present, (min + max) - X, 0.0)
    sums = X0 @ W + Xr @ R
    answered = present.astype(float) @ (W + R)
    n_items = (W + R).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = sums / answered
    need = min_answered if min_answered is not None else (1 if method == "mean" else n_items)
    if method == "mean":
        value = mean
    else:
        value = np.where(answered == n_items, sums, mean * n_items)
    value = np.where(answered >= need, value, np.nan)
    return pd.DataFrame(value, index=items.index, columns=list(keys))
