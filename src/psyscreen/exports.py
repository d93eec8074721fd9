"""Read a wave's exports in a notebook exactly as ``psyscreen screen`` reads them: :func:`read_exports`.

One call gives the frame an analyst starts from: one row per student (the duplicate rule of the screening
applied), the ids and demographics normalised as the screening normalises them (:mod:`psyscreen.demographics`:
sex ``F``/``M``, grade 1-16) and the item answers as response codes in columns ``<instrument>.<item>``, ready for
:func:`psyscreen.score`, :meth:`psyscreen.norms.NormTable.fit` and :func:`psyscreen.classify`. Nothing is lost:
the ledger says, per file, how many rows were read, kept, quarantined and set aside as duplicates, and why a
file was not processed; the quarantine lists every answer that could not be read (file, sheet, row, column).

The per-file reader is the screening's own (:func:`psyscreen.screening.find_inputs` and its file processor), so
a notebook and the county run can never read the same export two ways.

Examples
--------
>>> import pathlib, psyscreen
>>> sample = pathlib.Path(psyscreen.__file__).resolve().parents[2] / "data" / "sample"
>>> wave = psyscreen.read_exports(sample / "2026-09", protocol="default", column_map=sample / "column_map.csv")
>>> wave.ok, sorted(wave.frame["sex"].dropna().unique())
(True, ['F', 'M'])
>>> int(wave.ledger["rows"].sum()) == len(wave.frame) + int(wave.ledger[["quarantined", "duplicates"]].sum().sum())
True
"""

from __future__ import annotations

import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
import pandas as pd

from ._results import ResultMixin

__all__ = ["Exports", "ExportsError", "ExportsWarning", "read_exports", "EXPORT_LEDGER_COLUMNS"]

#: Columns of :attr:`Exports.ledger`: ``rows = kept + quarantined + duplicates`` for a processed file.
EXPORT_LEDGER_COLUMNS = ("file", "rows", "kept", "quarantined", "duplicates", "status", "reason", "rows_in_file",
                         "sha256", "path")

_PEOPLE = ("student_id", "name", "school", "grade", "class", "sex")
_WHEN = ("submitted_at", "duration")


class ExportsError(ValueError):
    """Arguments that make reading impossible: no export found, no instrument, a map that cannot be used."""


class ExportsWarning(UserWarning):
    """Some files were not processed: the frame holds fewer students than the exports (see the ledger)."""


@dataclass(frozen=True)
class Exports(ResultMixin):
    """A wave's exports as read by :func:`read_exports`.

    Attributes
    ----------
    frame : DataFrame
        One row per student kept: ``student_id``, ``name``, ``school``, ``grade`` (``Int64``), ``class``,
        ``sex`` (``F``/``M``), ``submitted_at``, ``duration``, the item columns ``<instrument>.<item>`` (floats,
        NaN = not answered), then where the row came from: ``file``, ``sheet``, ``row``.
    ledger : DataFrame
        One row per input file, columns :data:`EXPORT_LEDGER_COLUMNS`.
    quarantine : DataFrame
        One line per answer that could not be read (``file, sheet, row, cell, column, item, value, reason``);
        its rows are not in ``frame``.
    duplicates : DataFrame
        Rows set aside as another submission of a student kept in ``frame`` (``file, sheet, row, kept_file,
        kept_row, rule``).
    instruments : tuple of str
        The instruments whose items were read.
    """

    frame: pd.DataFrame
    ledger: pd.DataFrame
    quarantine: pd.DataFrame
    duplicates: pd.DataFrame
    instruments: tuple

    @property
    def ok(self) -> bool:
        """Every file was processed (none unreadable, stopped or skipped)."""
        return bool((self.ledger["status"] == "ok").all())

    @property
    def item_columns(self) -> list[str]:
        """The item columns of ``frame``, instrument by instrument."""
        from .instrument import load_instrument

        return [c for i in self.instruments for c in load_instrument(i).item_columns]

    def items(self, instrument: str, scale: Optional[str] = None) -> pd.DataFrame:
        """The scored item answers of one instrument, or of one of its scales, as columns ``<instrument>.<n>``.

        Examples
        --------
        >>> import pathlib, psyscreen
        >>> sample = pathlib.Path(psyscreen.__file__).resolve().parents[2] / "data" / "sample"
        >>> wave = psyscreen.read_exports(sample / "2026-09", column_map=sample / "column_map.csv")
        >>> wave.items("gad7").shape[1], wave.items("phq9").columns[-1]  # phq9.10 is not scored
        (7, 'phq9.9')
        """
        from .instrument import load_instrument

        inst = load_instrument(instrument)
        if scale is not None:
            sc = inst.scale(scale)
            if sc.of_scales:
                raise ExportsError(f"{inst.id}.{sc.id} is made of scales ({', '.join(sc.of_scales)}), not items")
            numbers = list(sc.item_numbers)
        else:
            numbers = [it.number for it in inst.item_list if it.scored]
        return self.frame[[f"{inst.id}.{n}" for n in numbers]]

    def to_frame(self) -> pd.DataFrame:
        return self.frame


def _instruments(protocol, instruments):
    from .instrument import load_instrument
    from .protocol import load_protocol

    if instruments is not None:
        ids = [instruments] if isinstance(instruments, str) else list(instruments)
        if not ids:
            raise ExportsError("instruments=[] names no instrument: give their ids (e.g. ['phq9', 'gad7'])")
        insts = [load_instrument(i) for i in ids]
        return insts, [i.id for i in insts]  # map suggestions are made against these instruments
    if protocol is None:
        raise ExportsError("say what to read: protocol='default' (its instruments) or instruments=['phq9', ...]")
    proto = load_protocol(protocol)
    return [load_instrument(i) for i in proto.load_instruments().values()], proto


def _column_map(column_map, insts):
    from .mapping import ColumnMap, MapFileError, load_map

    if column_map is None or isinstance(column_map, ColumnMap):
        return column_map
    if isinstance(column_map, dict):
        return ColumnMap(mapping=dict(column_map))
    try:
        return load_map(column_map, insts)
    except MapFileError as exc:
        raise ExportsError(str(exc)) from None


def _keys(file: pd.Series, sheet: pd.Series, row: pd.Series) -> pd.Series:
    """``file|sheet|row`` as one text key per row (vectorised), to match rows across tables."""
    return (pd.Series(np.asarray(file, dtype=object)).astype("string") + "\x1f"
            + pd.Series(np.asarray(sheet, dtype=object)).astype("string").fillna("") + "\x1f"
            + pd.Series(np.asarray(row, dtype=np.int64)).astype("string"))


def read_exports(inputs: Union[str, Path, Sequence[Union[str, Path]]], *, protocol: Union[str, Path, None] = "default",
                 instruments: Optional[Sequence[str]] = None, column_map=None,
                 maps_dir: Union[str, Path, None] = None) -> Exports:
    """Read export files (or every export in folders) with a column map, as ``psyscreen screen`` reads them.

    Parameters
    ----------
    inputs : path or list of paths
        Export files (csv in any encoding, xlsx/xls with title rows or a two-row header, sav, parquet) and/or
        folders holding them (:func:`psyscreen.screening.find_inputs`).
    protocol : str or Path, default "default"
        Read the items of this protocol's instruments (ignored when ``instruments`` is given).
    instruments : list of str, optional
        Read the items of these instruments instead.
    column_map : path, dict or ColumnMap, optional
        The column map (``--map`` of the CLI): :func:`psyscreen.mapping.load_map`.
    maps_dir : path, optional
        Where a suggested column map is written for a file that stops (default: a ``psyscreen-maps`` folder
        in the temporary directory, created only when needed); the ledger's reason names it.

    Returns
    -------
    Exports
        ``frame`` (one row per student), ``ledger``, ``quarantine`` and ``duplicates``.

    Raises
    ------
    ExportsError
        No export found, no instrument named, or a column map that cannot be used.

    Warns
    -----
    ExportsWarning
        When a file could not be processed (unreadable, or stopped because an item column is not mapped): it
        contributes no row; :attr:`Exports.ok` is False and the ledger's ``status`` and ``reason`` say why.

    Notes
    ----- Duplicates follow the
    screening's rule (:data:`psyscreen.quality.DUPLICATE_RULE`: the latest scorable submission is kept).
    Like the CLI, this never logs a student's name, id or answer.

    Examples
    --------
    >>> import pathlib, psyscreen
    >>> sample = pathlib.Path(psyscreen.__file__).resolve().parents[2] / "data" / "sample"
    >>> march = psyscreen.read_exports(sample / "2026-03", instruments=["phq9"],
    ...                                column_map=sample / "column_map.csv")
    >>> march.frame.columns[:6].tolist(), march.item_columns[:2]
    (['student_id', 'name', 'school', 'grade', 'class', 'sex'], ['phq9.1', 'phq9.2'])
    """
    from .ingest import PROBLEM_COLUMNS
    from .quality import DUPLICATE_RULE, resolve_duplicates
    from .screening import fill_school, find_inputs, read_file

    if isinstance(inputs, (str, Path)):
        inputs = [inputs]
    absent = [str(p) for p in inputs if not Path(p).exists()]
    if absent:
        raise ExportsError(f"not found: {', '.join(absent)}")
    paths = find_inputs(inputs)
    if not paths:
        raise ExportsError(f"no export file (csv, xlsx, xls, sav, parquet) in {', '.join(map(str, inputs))}")
    insts, suggest_for = _instruments(protocol, instruments)
    cmap = _column_map(column_map, insts)
    maps = Path(maps_dir) if maps_dir is not None else Path(tempfile.gettempdir()) / "psyscreen-maps"
    item_cols = [c for i in insts for c in i.item_columns]

    outcomes = [read_file(p, k, insts, suggest_for, cmap, maps) for k, p in enumerate(paths)]
    good = [o.frame for o in outcomes if o.status == "ok" and o.frame is not None]
    if good:
        rows = pd.concat(good, ignore_index=True)
    else:
        rows = pd.DataFrame({c: pd.Series(dtype=float) for c in item_cols})
        rows = rows.assign(_file=pd.Series(dtype=np.int64), _row=pd.Series(dtype=np.int64),
                           _order=pd.Series(dtype=np.int64), _ok=pd.Series(dtype=bool),
                           _sheet=pd.Series(dtype=object))
    for c in _PEOPLE + _WHEN:
        if c not in rows.columns:
            rows[c] = pd.Series(pd.NA, index=rows.index, dtype="Int64" if c == "grade" else "string")
    ok = rows["_ok"].to_numpy(dtype=bool)
    dup = resolve_duplicates(rows["student_id"], submitted_at=rows["submitted_at"],
                             order=rows["_order"].to_numpy(dtype=np.int64), ok=ok)
    is_dup = ~np.asarray(dup.keep, dtype=bool)
    kept = ok & ~is_dup
    names = [p.name for p in paths]
    rows["school"] = fill_school(rows["school"], rows["_file"].to_numpy(), [p.stem for p in paths])

    frame = rows.loc[kept, list(_PEOPLE + _WHEN) + item_cols].reset_index(drop=True)
    frame["grade"] = frame["grade"].astype("Int64")
    src = rows.loc[kept, ["_file", "_sheet", "_row"]].reset_index(drop=True)
    frame["file"] = pd.array(np.asarray(names, dtype=object)[src["_file"].to_numpy(dtype=np.int64)], dtype="string")
    frame["sheet"] = src["_sheet"].astype("string")
    frame["row"] = src["_row"].to_numpy(dtype=np.int64)

    if len(dup.table):
        pos, kpos = dup.table["position"].to_numpy(), dup.table["kept_position"].to_numpy()
        fno = rows["_file"].to_numpy(dtype=np.int64)
        duplicates = pd.DataFrame({"file": np.asarray(names, dtype=object)[fno[pos]],
                                   "sheet": rows["_sheet"].to_numpy()[pos], "row": rows["_row"].to_numpy()[pos],
                                   "kept_file": np.asarray(names, dtype=object)[fno[kpos]],
                                   "kept_row": rows["_row"].to_numpy()[kpos], "rule": DUPLICATE_RULE})
    else:
        duplicates = pd.DataFrame(columns=["file", "sheet", "row", "kept_file", "kept_row", "rule"])

    parts = [o.problems.assign(file=o.path.name) for o in outcomes
             if o.status == "ok" and o.problems is not None and len(o.problems)]
    quarantine = (pd.concat(parts, ignore_index=True)[list(PROBLEM_COLUMNS)] if parts
                  else pd.DataFrame(columns=list(PROBLEM_COLUMNS)))
    if is_dup.any() and len(quarantine):  # a duplicate's problems are not for a person to fix
        fno = rows.loc[is_dup, "_file"].to_numpy(dtype=np.int64)
        drop = set(_keys(pd.Series(np.asarray(names, dtype=object)[fno]), rows.loc[is_dup, "_sheet"],
                         rows.loc[is_dup, "_row"]))
        mine = _keys(quarantine["file"], quarantine["sheet"], quarantine["row"])
        quarantine = quarantine.loc[~mine.isin(drop).to_numpy()].reset_index(drop=True)
    quarantine["row"] = quarantine["row"].astype("Int64")

    per_file = pd.DataFrame({"f": rows["_file"].to_numpy(dtype=np.int64), "kept": kept, "quarantined": ~ok & ~is_dup,
                             "duplicates": is_dup}).groupby("f").sum()
    ledger = []
    for k, o in enumerate(outcomes):
        counts = {c: int(per_file[c].get(k, 0)) if o.status == "ok" else 0 for c in ("kept", "quarantined", "duplicates")}
        ledger.append({"file": o.path.name, "rows": sum(counts.values()), **counts, "status": o.status,
                       "reason": o.reason or "; ".join(o.notes), "rows_in_file": o.rows_in_file,
                       "sha256": o.sha256, "path": str(o.path)})
    ledger = pd.DataFrame(ledger, columns=list(EXPORT_LEDGER_COLUMNS))
    left = ledger.loc[ledger["status"] != "ok"]
    if len(left):  # a partial read must never look complete
        warnings.warn(f"{len(left)} of {len(ledger)} file(s) not processed, their {int(left['rows_in_file'].sum())} "
                      f"row(s) are not in the frame: "
                      + "; ".join(f"{f} ({s})" for f, s in zip(left["file"], left["status"]))
                      + ". See .ledger['reason'] (a column map may be missing: column_map=...).",
                      ExportsWarning, stacklevel=2)
    return Exports(frame=frame, ledger=ledger, quarantine=quarantine, duplicates=duplicates,
                   instruments=tuple(i.id for i in insts))
