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
from .rules import evaluate, references

__all__ = ["score", "score_with_quarantine", "score_items", "Scored", "ResponseError", "MissingColumnsError",
           "item_matrix", "response_problems"]

BLOCK_ROWS = 4096  # rows per block: a block of 100 items stays in the CPU cache


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


def item_matrix(frame: pd.DataFrame, inst: Instrument) -> np.ndarray:
    """The instrument's answers as one float array (rows x items in number order, NaN = missing).

    A frame whose item columns are all numeric is read without a copy. Text columns are converted with
    ``pandas.to_numeric`` (text that is not a number becomes NaN here: :func:`response_problems` reports
    it). Absent columns of unscored or optional items become NaN; an absent required item column raises
    :class:`MissingColumnsError`.
    """
    missing = [c for c in inst.required_item_columns if c not in frame.columns]
    if missing:
        raise MissingColumnsError(inst.id, missing)
    cols = inst.item_columns
    present = [c for c in cols if c in frame.columns]
    if len(present) == len(cols) and all(pd.api.types.is_float_dtype(frame[c].dtype) for c in cols):
        return frame[cols].to_numpy(dtype=float, copy=False)
    X = np.full((len(frame), len(cols)), np.nan)
    for j, col in enumerate(cols):
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
        if pd.api.types.is_numeric_dtype(raw.dtype):
            given = ~np.isnan(num)
        else:  # text: a blank string is not an answer, anything else must be a code
            given = raw.notna().to_numpy() & (raw.astype(str).str.strip() != "").to_numpy()
        codes = inst.item_codes(it.number)
        bad = given & ~np.isin(num, codes)
        if bad.any():
            idx = np.flatnonzero(bad)
            parts.append(pd.DataFrame({
                "row": frame.index[idx],
                "column": col,
                "value": raw.iloc[idx].astype(str).to_numpy(),
                "reason": f"not a response code of {inst.id} item {it.number} "
                          f"(codes {', '.join(f'{c:g}' for c in codes)})",
            }))
    if not parts:
        return pd.DataFrame({"row": pd.Series(dtype=object), "column": pd.Series(dtype=str),
                             "value": pd.Series(dtype=str), "reason": pd.Series(dtype=str)})
    return pd.concat(parts, ignore_index=True)


class _Key:
    """An instrument's key as arrays, built once per scoring call.

    Each answered item is encoded as ``u + C`` where ``u`` is its keyed distance from the item's floor
    (``x - min`` or, reversed, ``max - x``) and ``C`` exceeds any scale's keyed sum. One matrix product with
    the 0/1 key matrix then gives, per scale, ``keyed sum + C x answered``, from which both are recovered
    exactly (integers below 2**53). Unanswered items are 0 and add nothing.
    """

    def __init__(self, inst: Instrument):
        numbers = [it.number for it in inst.item_list]
        self.numbers = numbers
        self.pos = {n: j for j, n in enumerate(numbers)}
        lo = np.array([inst.item_range(n)[0] for n in numbers])
        hi = np.array([inst.item_range(n)[1] for n in numbers])
        rev = np.array([inst.item(n).reverse for n in numbers])
        self.sign = np.where(rev, -1.0, 1.0)
        self.offset = np.where(rev, hi, -lo)          # u = sign * x + offset, in [0, hi - lo] when valid
        self.span = hi - lo
        self.floor = lo                               # keyed value = u + floor
        codes = [inst.item_codes(n) for n in numbers]
        consecutive = all(np.array_equal(c, np.arange(c[0], c[-1] + 1)) for c in codes)
        self.small_codes = consecutive and float(self.span.max(initial=0)) <= 127  # the int8 validity check applies
        self.span_u8 = self.span.astype(np.uint8) if self.small_codes else None
        self.codes = codes
        self.scales = [s for s in inst.scales if s.items and s.method in ("sum", "mean")]
        self.W = np.zeros((len(numbers), len(self.scales)))
        for k, sc in enumerate(self.scales):
            self.W[[self.pos[n] for n in sc.item_numbers], k] = 1.0
        self.C = float(2 ** np.ceil(np.log2(max(1.0, float(self.span.sum())) + 1)))
        # keyed floor per scale: the sum of the floors of its answered items; uniform floors make it floor x answered
        self.uniform_floor = [len({lo[self.pos[n]] for n in sc.item_numbers}) == 1 for sc in self.scales]
        self.scale_floor = np.array([lo[self.pos[sc.item_numbers[0]]] for sc in self.scales])


def _score_blocks(X: np.ndarray, key: _Key):
    """Keyed sums, answered counts and invalid-answer rows, block by block (cache-sized row blocks)."""
    n = len(X)
    S = np.empty((n, len(key.scales)), order="F")  # column per scale, contiguous
    A = np.empty((n, len(key.scales)), order="F")
    bad_rows = np.zeros(n, dtype=bool)
    floors_needed = not all(key.uniform_floor)
    F = np.empty((n, len(key.scales))) if floors_needed else None
    for start in range(0, n, BLOCK_ROWS):
        b = X[start:start + BLOCK_ROWS]
        missing = np.isnan(b)
        u = b * key.sign
        u += key.offset
        if key.small_codes:
            # valid: a whole number in [0, span]. Cast to int8: a fraction, an overflow or a negative number
            # (seen as > 127 through uint8) cannot survive the round trip; NaN casts to junk and is masked.
            with np.errstate(invalid="ignore"):
                q = u.astype(np.int8)
            bad = q != u
            bad &= ~missing
            bad |= q.view(np.uint8) > key.span_u8
        else:
            bad = ~missing & ~np.column_stack([np.isin(b[:, j], c) for j, c in enumerate(key.codes)])
        bad_rows[start:start + BLOCK_ROWS] = bad.any(axis=1)
        u += key.C
        np.copyto(u, 0.0, where=missing)
        total = u @ key.W
        answered = np.floor(total / key.C)
        A[start:start + BLOCK_ROWS] = answered
        S[start:start + BLOCK_ROWS] = total - key.C * answered
        if floors_needed:
            F[start:start + BLOCK_ROWS] = (~missing * key.floor) @ key.W
    S += F if floors_needed else key.scale_floor * A
    return S, A, bad_rows


def _scale_values(X: np.ndarray, key: _Key, inst: Instrument, S: np.ndarray, A: np.ndarray):
    values: dict[str, np.ndarray] = {}
    answered: dict[str, np.ndarray] = {}
    if key.scales:  # all sum / mean scales at once: mean, prorated sum or plain sum, then the missing-data rule
        n_items = np.array([len(sc.item_numbers) for sc in key.scales], dtype=float)
        factor = np.array([1.0 if sc.method == "mean" else n for sc, n in zip(key.scales, n_items)])
        by_mean = np.array([sc.method == "mean" or sc.missing.prorate for sc in key.scales])
        need = np.array([sc.min_answered for sc in key.scales], dtype=float)
        multiplier = np.array([sc.multiplier for sc in key.scales])
        for k, sc in enumerate(key.scales):  # in place, one contiguous column (S is Fortran-ordered) at a time
            v, a = S[:, k], A[:, k]
            with np.errstate(invalid="ignore", divide="ignore"):
                if by_mean[k]:
                    np.divide(v, a, out=v)
                v *= factor[k] * multiplier[k] if by_mean[k] else multiplier[k]
            v[a < need[k]] = np.nan
            values[sc.id] = v
            answered[sc.id] = a
    for sc in inst.scales:
        if sc.items and sc.method in ("count", "positive_mean"):
            cols = [key.pos[n] for n in sc.item_numbers]
            sub = X[:, cols]
            if any(inst.item(n).reverse for n in sc.item_numbers):
                sub = sub * key.sign[cols] + key.offset[cols] + key.floor[cols]
            ans = (~np.isnan(sub)).sum(axis=1).astype(float)
            with np.errstate(invalid="ignore", divide="ignore"):
                positive = sub >= sc.threshold
                n_pos = positive.sum(axis=1).astype(float)
                value = n_pos if sc.method == "count" else np.where(positive, sub, 0.0).sum(axis=1) / n_pos
            values[sc.id] = np.where(ans >= sc.min_answered, value * sc.multiplier, np.nan)
            answered[sc.id] = ans
    for sc in inst.scales:  # scales made of scales: their sum, missing when any part is missing
        if sc.of_scales:
            values[sc.id] = np.sum([values[o] for o in sc.of_scales], axis=0) * sc.multiplier
            answered[sc.id] = np.sum([answered[o] for o in sc.of_scales], axis=0)
    return values, answered


def _append_text(texts: dict[int, str], rows: np.ndarray, words: np.ndarray, sep: str) -> None:
    """Add a phrase to the few rows that need one (rows with a missing scale or a critical answer)."""
    for r, w in zip(rows.tolist(), words.tolist()):
        texts[r] = f"{texts[r]}{sep}{w}" if r in texts else w


def _text_column(texts: dict[int, str], n: int) -> pd.arrays.StringArray:
    out = np.full(n, None, dtype=object)
    if texts:
        out[list(texts)] = list(texts.values())
    return pd.array(out, dtype="string")


def _score_instrument(frame: pd.DataFrame, inst: Instrument) -> tuple[pd.DataFrame, np.ndarray]:
    """All outputs of one instrument, and the rows with an answer outside the response codes."""
    key = _Key(inst)
    X = item_matrix(frame, inst)
    with np.errstate(invalid="ignore"):  # inf / huge answers: their rows are quarantined, their sums are junk
        S, A, bad_rows = _score_blocks(X, key)
        A[bad_rows] = 0.0
    values, answered = _scale_values(X, key, inst, S, A)
    n = len(frame)
    out: dict[str, object] = {}
    incomplete: dict[int, str] = {}
    for sc in inst.scales:
        col = f"{inst.id}.{sc.id}"
        out[col] = values[sc.id]
        out[f"{col}.answered"] = answered[sc.id].astype(np.int64)
        if sc.bands:
            out[f"{col}.band"] = _bands(values[sc.id], sc)
        missing = np.isnan(values[sc.id])
        if sc.method == "positive_mean":  # enough answers but none at the threshold: the mean is undefined
            undefined = missing & (answered[sc.id] >= sc.min_answered)
            _append_text(incomplete, np.flatnonzero(undefined),
                         np.full(int(undefined.sum()), f"{sc.id}: no answer >= {sc.threshold:g}, undefined"), "; ")
            missing &= ~undefined
        idx = np.flatnonzero(missing)
        if len(idx):
            need = (f"all of {', '.join(sc.of_scales)} scored" if sc.of_scales
                    else f"needs {sc.min_answered} of {len(sc.item_numbers)} answered")
            got = answered[sc.id][idx].astype(np.int64).astype(str)
            _append_text(incomplete, idx, np.char.add(np.char.add(f"{sc.id}: ", got), f" item(s) answered, {need}"), "; ")

    rule_values: dict[str, np.ndarray] = {}

    def resolve(kind: str, ref: str) -> np.ndarray:
        if kind == "item":
            return X[:, key.pos[int(ref)]]
        if kind == "scale":
            return values[ref]
        return rule_values[ref]

    if inst.critical:
        fired_any = np.zeros(n, dtype=bool)
        known_all = np.ones(n, dtype=bool)
        fired: dict[int, str] = {}
        for c, cond in zip(inst.critical, inst.critical_conditions):
            v, k = evaluate(cond, resolve)
            fired_any |= v
            known_all &= k
            idx = np.flatnonzero(v)
            if len(idx):
                _append_text(fired, idx, np.char.add(f"{c.item}=", np.char.mod("%g", X[idx, key.pos[c.item]])), ",")
        out[f"{inst.id}.critical"] = _nullable_bool(fired_any, fired_any | known_all)
        out[f"{inst.id}.critical_items"] = _text_column(fired, n)
    unasked = _unasked(inst, X, key) if inst.optional_items else None
    for r in inst.rules:
        if r.when is not None:
            v, k = evaluate(inst.conditions[f"rules.{r.id}.when"], resolve, unasked)
            rule_values[r.id] = np.where(k, v.astype(float), np.nan)
            out[f"{inst.id}.{r.id}"] = _nullable_bool(v, k)
        else:
            out[f"{inst.id}.{r.id}"], rule_values[r.id] = _category(inst, r, resolve, n, unasked)
        if unasked is not None:
            note = _decided_without(inst, r, X, key, ~np.asarray(pd.isna(out[f"{inst.id}.{r.id}"]), dtype=bool))
            if note is not None:
                out[f"{inst.id}.{r.id}.note"] = note
    if inst.validity:
        v, k = evaluate(inst.conditions["validity.invalid_when"], resolve)
        out[f"{inst.id}.valid"] = _nullable_bool(~v & k, k)
    out[f"{inst.id}.incomplete"] = _text_column(incomplete, n)
    text_bad = _unreadable_text(frame, inst)
    # copy=False keeps each computed column as it is instead of consolidating them into blocks (a full copy)
    return pd.DataFrame(out, index=frame.index, copy=False), bad_rows | text_bad


def _unreadable_text(frame: pd.DataFrame, inst: Instrument) -> np.ndarray:
    """Rows where a text item column holds something that is not a number (numeric columns cannot)."""
    bad = np.zeros(len(frame), dtype=bool)
    for col in inst.item_columns:
        if col in frame.columns and not pd.api.types.is_numeric_dtype(frame[col].dtype):
            raw = frame[col]
            num = pd.to_numeric(raw, errors="coerce")
            bad |= (num.isna() & raw.notna() & (raw.astype(str).str.strip() != "")).to_numpy()
    return bad


def _nullable_bool(value: np.ndarray, known: np.ndarray) -> pd.arrays.BooleanArray:
    return pd.arrays.BooleanArray(value & known, ~known)


def _unasked(inst: Instrument, X: np.ndarray, key: "_Key"):
    """``unasked(kind, ref)`` for :func:`psyscreen.rules.evaluate`: where an optional item is unanswered."""
    def unasked(kind: str, ref: str):
        if kind == "item" and int(ref) in inst.optional_items:
            return np.isnan(X[:, key.pos[int(ref)]])
        return None
    return unasked


def _decided_without(inst: Instrument, rule, X: np.ndarray, key: "_Key", decided: np.ndarray):
    """``<id>.<rule>.note``: "decided without item 64 (...)" where a rule read an unanswered optional item.

    None when the rule reads no optional item. The text is built once per item, not per student.
    """
    conds = [c for w, c in inst.conditions.items() if w.startswith(f"rules.{rule.id}.")]
    items = sorted({int(r) for c in conds for k, r in references(c) if k == "item" and int(r) in inst.optional_items})
    if not items:
        return None
    text = np.full(len(X), "", dtype=object)
    for num in items:
        miss = np.isnan(X[:, key.pos[num]]) & decided
        text[miss] = np.where(text[miss] == "", str(num), text[miss] + ", " + str(num))
    has = text != ""
    text[has] = ("decided without item(s) " + text[has]
                 + " (optional: not on the export's form or not answered; read as not asked)")
    text[~has] = None
    return pd.array(text, dtype="string")


def _category(inst: Instrument, rule, resolve, n: int, unasked=None):
    """First matching case wins; a row whose earlier case is unknown stays undecided (NA)."""
    decided = np.zeros(n, dtype=bool)
    blocked = np.zeros(n, dtype=bool)
    chosen = np.full(n, None, dtype=object)
    for j, case in enumerate(rule.cases):
        v, k = evaluate(inst.conditions[f"rules.{rule.id}.cases[{j}]"], resolve, unasked)
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
    """Band codes by counting the boundaries a score has passed (the loader guarantees a partition)."""
    bands = sorted(scale.bands, key=lambda b: -np.inf if b.lower[1] is None else b.lower[1])
    codes = np.zeros(values.shape, dtype=np.int8)
    with np.errstate(invalid="ignore"):
        for b in bands[1:]:
            op, edge = b.lower
            codes += (values >= edge) if op == "ge" else (values > edge)
    codes[np.isnan(values)] = -1
    return pd.Categorical.from_codes(codes, categories=[b.code for b in bands], ordered=True)


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

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({f"gad7.{i}": [1, 1] for i in range(1, 8)})
    >>> frame.loc[1, "gad7.3"] = 7
    >>> result = score_with_quarantine(frame, "gad7")
    >>> result.scores["gad7.total"].tolist(), result.quarantine[["row", "column"]].values.tolist()
    ([7.0], [[1, 'gad7.3']])
    """
    insts = _instruments(instruments)
    for inst in insts:
        item_matrix(frame.iloc[:0], inst)  # raises MissingColumnsError before any work
    parts, bad = [], np.zeros(len(frame), dtype=bool)
    for inst in insts:
        scores, bad_rows = _score_instrument(frame, inst)
        parts.append(scores)
        bad |= bad_rows
    scores = pd.concat(parts, axis=1) if parts else frame.iloc[:, :0]
    if not bad.any():
        return Scored(scores=scores, quarantine=response_problems(frame.iloc[:0], insts[0]) if insts else
                      pd.DataFrame(columns=["row", "column", "value", "reason"]))
    suspects = frame.iloc[np.flatnonzero(bad)]
    problems = pd.concat([response_problems(suspects, inst) for inst in insts], ignore_index=True)
    return Scored(scores=scores.iloc[np.flatnonzero(~bad)], quarantine=problems)


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
