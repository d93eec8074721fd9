"""Norm tables: learn score distributions by stratum (e.g. grade x sex) and convert new scores.

A :class:`NormTable` is fitted on a reference sample and then applied to new screening waves,
in the scikit-learn manner: ``fit`` returns the table, learned attributes end in ``_``,
``transform`` adds the derived columns. For every scale ``<scale>`` it adds

``<scale>.pr``
    percentile rank, ``100 * (n_below + n_equal / 2) / n`` in the reference stratum;
``<scale>.z``, ``<scale>.t``
    linear z = (x - mean) / sd (sd with ddof = 1) and T = 50 + 10 z;
``<scale>.tn``
    normalised T = 50 + 10 * Phi^-1(pr / 100), pr clipped as described in :meth:`NormTable.transform`;
``<scale>.stanine``
    stanine 1..9 of the normalised z.

The statistics are pure functions of arrays; files are read and written only by the
``to_json``/``from_json`` and ``to_excel``/``from_excel`` methods, and :meth:`NormTable.read` loads
either file (the JSON and the workbook that ``psyscreen analyze norms`` writes).
"""

from __future__ import annotations

import io
import json
import math
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

__all__ = [
    "NormTable",
    "ContinuousNorms",
    "BetaBinomialNorms",
    "read_norms",
    "NormWarning",
    "NormError",
    "UnknownStratumError",
    "NormFileError",
    "STANINE_CUTS",
    "percentile_rank",
    "stanine",
]

FORMAT = "psyscreen.norms"
FORMAT_VERSION = 1

STANINE_CUTS = np.array([-1.75, -1.25, -0.75, -0.25, 0.25, 0.75, 1.25, 1.75])
"""Normalised-z boundaries of stanines 1|2|...|9 (half-SD bands around the mean; a z exactly on a
boundary goes to the higher stanine). Under a normal distribution the nine bands hold about
4, 7, 12, 17, 20, 17, 12, 7 and 4 percent."""


class NormWarning(UserWarning):
    """A norm stratum is smaller than ``min_stratum``: its percentiles are unstable."""


class NormError(ValueError):
    """A norm table cannot be fitted or applied as asked."""


class UnknownStratumError(NormError, KeyError):
    """Rows belong to a stratum the norm table was not fitted on."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class NormFileError(NormError):
    """A saved norm table could not be read back.

    Attributes
    ----------
    path : str or None
        The file.
    where : str or None
        The place in the file (a sheet, a key), when known.
    """

    def __init__(self, message: str, *, path: str | Path | None = None, where: str | None = None):
        super().__init__(message)
        self.path = None if path is None else str(path)
        self.where = where


# ---------------------------------------------------------------------------------------------
# the math: pure array functions
# ---------------------------------------------------------------------------------------------


def percentile_rank(ref_values: np.ndarray, ref_counts: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Percentile rank of each ``x`` in a reference distribution given as distinct values and counts.

    ``pr = 100 * (number of reference scores below x + half the number equal to x) / n``.
    A score absent from the reference sample has no equal scores, so its rank is the share below.
    NaN stays NaN.

    Parameters
    ----------
    ref_values : ndarray
        Sorted distinct reference scores.
    ref_counts : ndarray
        How many reference scores equal each of ``ref_values``.
    x : ndarray
        Scores to rank.

    Examples
    --------
    >>> import numpy as np
    >>> percentile_rank(np.array([1.0, 2.0, 3.0]), np.array([1, 2, 1]), np.array([2.0, 2.5, 0.0]))
    array([50., 75.,  0.])
    """
    x = np.asarray(x, dtype=float)
    n = ref_counts.sum()
    cum = np.concatenate([[0], np.cumsum(ref_counts)])
    i = np.searchsorted(ref_values, x, side="left")
    i_clip = np.minimum(i, ref_values.size - 1)
    hit = (i < ref_values.size) & (ref_values[i_clip] == x)
    equal = np.where(hit, ref_counts[i_clip], 0)
    pr = 100.0 * (cum[i] + 0.5 * equal) / n
    return np.where(np.isnan(x), np.nan, pr)


def clip_pr(pr: np.ndarray, n: int) -> np.ndarray:
    """Clip percentile ranks to ``[50 / n, 100 - 50 / n]`` so that Phi^-1 stays finite.

    The bounds are the rank of a score that occurs once at the bottom (top) of a reference
    sample of size ``n``: half an observation below (above). A score below every reference
    score therefore gets the same normalised T as the lowest reference score seen once.
    """
    half = 50.0 / n
    return np.clip(pr, half, 100.0 - half)


def stanine(z: np.ndarray) -> np.ndarray:
    """Stanine (1..9) of normalised z scores, boundaries :data:`STANINE_CUTS`; NaN gives NaN.

    Examples
    --------
    >>> stanine(np.array([-2.0, -0.25, 0.0, 0.2499, 1.75, np.nan]))
    array([ 1.,  5.,  5.,  5.,  9., nan])
    """
    z = np.asarray(z, dtype=float)
    s = 1.0 + np.searchsorted(STANINE_CUTS, z, side="right")
    return np.where(np.isnan(z), np.nan, s)


@dataclass(frozen=True)
class _Ref:
    """One scale's reference distribution in one stratum."""

    values: np.ndarray  # sorted distinct scores
    counts: np.ndarray  # frequency of each
    mean: float
    sd: float  # ddof = 1; NaN when n < 2

    @property
    def n(self) -> int:
        return int(self.counts.sum())

    @classmethod
    def from_scores(cls, scores: np.ndarray) -> _Ref:
        scores = scores[~np.isnan(scores)]
        values, counts = np.unique(scores, return_counts=True)
        mean = float(scores.mean()) if scores.size else math.nan
        sd = float(scores.std(ddof=1)) if scores.size > 1 else math.nan
        return cls(values=values.astype(float), counts=counts.astype(np.int64), mean=mean, sd=sd)

    def counts_at(self, x: np.ndarray) -> np.ndarray:
        """Reference frequency of each score in ``x`` (0 where it was not seen)."""
        if self.values.size == 0:
            return np.zeros(x.shape, dtype=np.int64)
        i = np.minimum(np.searchsorted(self.values, x), self.values.size - 1)
        return np.where(self.values[i] == x, self.counts[i], 0)

    def derive(self, x: np.ndarray) -> dict[str, np.ndarray]:
        if self.n == 0:
            return {suf: np.full(x.shape, np.nan) for suf in SUFFIXES}
        pr = percentile_rank(self.values, self.counts, x)
        with np.errstate(invalid="ignore", divide="ignore"):
            z = (x - self.mean) / self.sd if self.sd > 0 else np.full(x.shape, np.nan)
        zn = stats.norm.ppf(clip_pr(pr, self.n) / 100.0)
        return {"pr": pr, "z": z, "t": 50.0 + 10.0 * z, "tn": 50.0 + 10.0 * zn, "stanine": stanine(zn)}


SUFFIXES = ("pr", "z", "t", "tn", "stanine")


def _py(v):
    """A plain Python value for a stratum key (numpy scalars -> int/float/str/bool)."""
    if hasattr(v, "item") and not isinstance(v, (str, bytes)):
        v = v.item()
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def _label(by: Sequence[str], key: tuple) -> str:
    return ", ".join(f"{b}={k}" for b, k in zip(by, key)) if by else "all"


# ---------------------------------------------------------------------------------------------
# the estimator
# ---------------------------------------------------------------------------------------------


class NormTable:
    """Norms by stratum: percentile ranks, z, T, normalised T and stanines.

    Parameters
    ----------
    by : sequence of str, default ("grade", "sex")
        Columns that define the strata. ``()`` fits one norm for the whole sample.
    min_stratum : int, default 30
        A stratum with fewer reference scores than this raises a :class:`NormWarning` at fit time.

    Attributes
    ----------
    table_ : pandas.DataFrame
        One row per stratum and scale: the ``by`` columns, ``scale``, ``n``, ``mean``, ``sd``, ``min``,
        ``max`` and ``small`` (n < min_stratum).
    lookup_ : pandas.DataFrame
        The full score -> percentile-rank lookup: the ``by`` columns, ``scale``, ``score``, ``count``,
        ``pr``, ``t``, ``tn``, one row per distinct reference score.
    scales_ : list of str
        The scales the table was fitted on.
    strata_ : list of tuple
        The strata (values of the ``by`` columns, in that order).
    fitted_on_ : dict
        What the table was fitted on: ``date`` (UTC, ISO 8601), ``scales``, ``by``, ``n_rows``,
        ``n`` per stratum and scale, ``description``, ``psyscreen_version``.

    Notes
    -----
    Percentile rank ``pr = 100 * (below + equal / 2) / n`` (the mid-rank definition used by most test
    manuals; ``scipy.stats.percentileofscore(kind="mean")``). Linear T uses the stratum mean and
    sd (ddof = 1). Normalised T and stanines use ``Phi^-1(pr / 100)`` with pr clipped to
    ``[50 / n, 100 - 50 / n]`` (see :func:`clip_pr`); stanine boundaries are :data:`STANINE_CUTS`.

    There is no single R function for this; the figures equal, per stratum,
    ``100 * (ecdf(ref)(x) - (ecdf(ref)(x) - ecdf(ref)(x - eps)) / 2)`` for pr, ``scale(x)`` for z and
    ``qnorm(pr / 100)`` for the normalised z.

    Examples
    --------
    >>> import pandas as pd
    >>> ref = pd.DataFrame({"grade": [7] * 4, "sex": ["F"] * 4, "dep": [1.0, 2.0, 2.0, 3.0]})
    >>> import warnings; warnings.simplefilter("ignore")
    >>> nt = NormTable(by=("grade", "sex")).fit(ref, ["dep"])
    >>> nt.transform(ref)["dep.pr"].tolist()
    [12.5, 50.0, 50.0, 87.5]
    """

    def __init__(self, by: Sequence[str] | str = ("grade", "sex"), min_stratum: int = 30):
        self.by = by
        self.min_stratum = min_stratum

    # -- helpers -----------------------------------------------------------------------------
    @property
    def _by(self) -> tuple[str, ...]:
        return (self.by,) if isinstance(self.by, str) else tuple(self.by or ())

    def _groups(self, frame: pd.DataFrame) -> dict[tuple, np.ndarray]:
        by = list(self._by)
        missing = [b for b in by if b not in frame.columns]
        if missing:
            raise NormError(f"stratum column(s) {missing} not in the data; columns are {list(frame.columns)[:20]}.")
        if not by:
            return {(): np.arange(len(frame))}
        grouped = frame.groupby(by, dropna=False, sort=True, observed=True)
        out = {}
        for key, pos in grouped.indices.items():
            key = key if isinstance(key, tuple) else (key,)
            out[tuple(_py(k) for k in key)] = np.asarray(pos)
        return out

    def _check_fitted(self) -> None:
        if not hasattr(self, "_refs"):
            raise NormError("this NormTable is not fitted yet; call .fit(frame, scales) or load one with from_json.")

    # -- fit ---------------------------------------------------------------------------------
    def fit(self, frame: pd.DataFrame, scales: Iterable[str] | str, *, description: str = "") -> NormTable:
        """Learn the score distribution of each scale in each stratum of a reference sample.

        Parameters
        ----------
        frame : pandas.DataFrame
            The reference sample: the ``by`` columns and the scale columns. NaN scores are left out.
        scales : str or iterable of str
            Scale columns to norm (e.g. ``["phq9.total", "gad7.total"]``).
        description : str, optional
            Free text kept in ``fitted_on_`` (e.g. "county sample, September 2024").

        Returns
        -------
        NormTable
            ``self``, fitted.

        Warns
        -----
        NormWarning
            For each stratum and scale with fewer than ``min_stratum`` scores.
        """
        scales = [scales] if isinstance(scales, str) else list(scales)
        if not scales:
            raise NormError("no scales given to fit.")
        absent = [s for s in scales if s not in frame.columns]
        if absent:
            raise NormError(f"scale column(s) {absent} not in the data.")
        groups = self._groups(frame)
        refs: dict[tuple, dict[str, _Ref]] = {}
        for key, pos in groups.items():
            refs[key] = {}
            for s in scales:
                col = pd.to_numeric(frame[s], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
                refs[key][s] = _Ref.from_scores(col[pos])
        self._set_fitted(
            refs,
            scales,
            {
                "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "description": description,
                "n_rows": int(len(frame)),
                "psyscreen_version": _version(),
            },
        )
        for key, per in refs.items():
            for s, ref in per.items():
                if ref.n < self.min_stratum:
                    warnings.warn(
                        f"norm stratum {_label(self._by, key)} has {ref.n} scores on {s!r} "
                        f"(fewer than min_stratum={self.min_stratum}); its percentiles are unstable.",
                        NormWarning,
                        stacklevel=2,
                    )
        return self

    def _set_fitted(self, refs: dict[tuple, dict[str, _Ref]], scales: list[str], meta: dict) -> None:
        by = list(self._by)
        self._refs = refs
        self.scales_ = list(scales)
        self.strata_ = list(refs)
        rows, look = [], []
        for key, per in refs.items():
            kv = dict(zip(by, key))
            for s in scales:
                r = per[s]
                rows.append(
                    {
                        **kv,
                        "scale": s,
                        "n": r.n,
                        "mean": r.mean,
                        "sd": r.sd,
                        "min": float(r.values[0]) if r.n else math.nan,
                        "max": float(r.values[-1]) if r.n else math.nan,
                        "small": r.n < self.min_stratum,
                    }
                )
                if r.n:
                    d = r.derive(r.values)
                    look.append(
                        pd.DataFrame(
                            {
                                **{b: [k] * r.values.size for b, k in kv.items()},
                                "scale": s,
                                "score": r.values,
                                "count": r.counts,
                                "pr": d["pr"],
                                "t": d["t"],
                                "tn": d["tn"],
                            }
                        )
                    )
        self.table_ = pd.DataFrame(rows)
        cols = [*by, "scale", "score", "count", "pr", "t", "tn"]
        self.lookup_ = pd.concat(look, ignore_index=True) if look else pd.DataFrame(columns=cols)
        self.fitted_on_ = {
            **meta,
            "by": by,
            "scales": list(scales),
            "min_stratum": self.min_stratum,
            "n": [{"stratum": dict(zip(by, key)), **{s: per[s].n for s in scales}} for key, per in refs.items()],
        }

    # -- transform ---------------------------------------------------------------------------
    def transform(self, frame: pd.DataFrame, scales: Iterable[str] | None = None) -> pd.DataFrame:
        """Add ``<scale>.pr``, ``.z``, ``.t``, ``.tn`` and ``.stanine`` for each scale, per stratum.

        Parameters
        ----------
        frame : pandas.DataFrame
            New scores with the ``by`` columns and the scale columns.
        scales : iterable of str, optional
            A subset of the fitted scales (default: all of them).

        Returns
        -------
        pandas.DataFrame
            A copy of ``frame`` with the new columns (float; ``.stanine`` is nullable Int64).
            NaN scores give NaN in every derived column.

        Raises
        ------
        UnknownStratumError
            If any row belongs to a stratum (including a missing grade or sex) not in the table.
        NormError
            If a scale column is missing or was not fitted.

        Notes
        -----
        A score outside the reference range gets pr 0 or 100; for the normalised T and the stanine
        the pr is first clipped to ``[50 / n, 100 - 50 / n]`` (:func:`clip_pr`), i.e. treated as a
        score seen once at the bottom (top) of the stratum.
        """
        self._check_fitted()
        scales = self.scales_ if scales is None else ([scales] if isinstance(scales, str) else list(scales))
        unknown = [s for s in scales if s not in self.scales_]
        if unknown:
            raise NormError(f"scale(s) {unknown} were not fitted; this table has {self.scales_}.")
        absent = [s for s in scales if s not in frame.columns]
        if absent:
            raise NormError(f"scale column(s) {absent} not in the data.")
        groups = self._groups(frame)
        unseen = [k for k in groups if k not in self._refs]
        if unseen:
            names = "; ".join(f"{_label(self._by, k)} ({groups[k].size} rows)" for k in unseen[:5])
            raise UnknownStratumError(
                f"no norms for stratum {names}. The table was fitted on "
                f"{[_label(self._by, k) for k in self.strata_][:10]}; fit norms for it or fix the "
                f"{'/'.join(self._by)} values of those rows."
            )
        out = frame.copy()
        n = len(frame)
        for s in scales:
            x = pd.to_numeric(frame[s], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            res = {suf: np.full(n, np.nan) for suf in SUFFIXES}
            for key, pos in groups.items():
                d = self._refs[key][s].derive(x[pos])
                for suf in SUFFIXES:
                    res[suf][pos] = d[suf]
            for suf in SUFFIXES:
                col = res[suf]
                out[f"{s}.{suf}"] = pd.array(col, dtype="Int64") if suf == "stanine" else col
        return out

    def fit_transform(self, frame: pd.DataFrame, scales: Iterable[str] | str, **kwargs) -> pd.DataFrame:
        """``fit(frame, scales).transform(frame)``."""
        return self.fit(frame, scales, **kwargs).transform(frame)

    def __repr__(self) -> str:
        state = f", {len(self.strata_)} strata x {len(self.scales_)} scales" if hasattr(self, "_refs") else ""
        return f"NormTable(by={self._by!r}, min_stratum={self.min_stratum}{state})"

    # -- save / load: JSON -------------------------------------------------------------------
    def _to_dict(self) -> dict:
        self._check_fitted()
        by = list(self._by)
        strata = []
        for key, per in self._refs.items():
            entry = {"stratum": dict(zip(by, key)), "scales": {}}
            for s in self.scales_:
                r = per[s]
                entry["scales"][s] = {
                    "n": r.n,
                    "mean": _nan_none(r.mean),
                    "sd": _nan_none(r.sd),
                    "scores": r.values.tolist(),
                    "counts": r.counts.tolist(),
                    "pr": percentile_rank(r.values, r.counts, r.values).tolist() if r.n else [],
                }
            strata.append(entry)
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "by": by,
            "min_stratum": self.min_stratum,
            "scales": self.scales_,
            "fitted_on": self.fitted_on_,
            "definitions": {
                "pr": "100 * (n_below + n_equal / 2) / n within the stratum",
                "z": "(x - mean) / sd, sd with ddof = 1",
                "t": "50 + 10 z",
                "tn": "50 + 10 * Phi^-1(pr / 100), pr clipped to [50 / n, 100 - 50 / n]",
                "stanine": "1 + number of STANINE_CUTS <= Phi^-1(clipped pr / 100)",
                "stanine_cuts": STANINE_CUTS.tolist(),
            },
            "strata": strata,
        }

    @classmethod
    def _from_dict(cls, d: dict, source: str) -> NormTable:
        if d.get("format") != FORMAT:
            raise NormFileError(f"{source} is not a psyscreen norm table (format={d.get('format')!r}).")
        if d.get("version") != FORMAT_VERSION:
            raise NormFileError(
                f"{source} has norm-table version {d.get('version')!r}; this psyscreen reads version {FORMAT_VERSION}."
            )
        try:
            by = list(d["by"])
            nt = cls(by=tuple(by), min_stratum=int(d["min_stratum"]))
            scales = list(d["scales"])
            refs = {}
            for entry in d["strata"]:
                key = tuple(_py(entry["stratum"][b]) for b in by)
                refs[key] = {
                    s: _Ref(
                        values=np.asarray(v["scores"], dtype=float),
                        counts=np.asarray(v["counts"], dtype=np.int64),
                        mean=_none_nan(v["mean"]),
                        sd=_none_nan(v["sd"]),
                    )
                    for s, v in entry["scales"].items()
                }
                if set(refs[key]) != set(scales):
                    raise NormFileError(f"{source}: stratum {_label(by, key)} lacks scales {set(scales) - set(refs[key])}.")
            meta = {k: v for k, v in d["fitted_on"].items() if k not in ("by", "scales", "min_stratum", "n")}
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, NormFileError):
                raise
            raise NormFileError(f"{source} is damaged or incomplete: {type(exc).__name__}: {exc}.") from None
        nt._set_fitted(refs, scales, meta)
        return nt

    def to_json(self, path: str | Path) -> Path:
        """Save the table as JSON: every stratum's full score -> pr lookup, mean and sd, and its provenance.

        Floats are written with Python's shortest round-trip repr, so :meth:`from_json` reproduces
        :meth:`transform` exactly. Missing values (an sd with n < 2) are written as ``null``.
        """
        path = Path(path)
        path.write_text(json.dumps(self._to_dict(), ensure_ascii=False, indent=1), encoding="utf-8")
        return path

    @classmethod
    def from_json(cls, path: str | Path) -> NormTable:
        """Load a table saved by :meth:`to_json`."""
        path = Path(path)
        try:
            d = json.loads(path.read_text(encoding="utf-8-sig"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            what = "not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else f"not valid JSON ({exc})"
            raise NormFileError(f"{path} is {what}: give the .json or the .xlsx that `psyscreen analyze norms` "
                                "writes.", path=path) from None
        except OSError as exc:
            raise NormFileError(f"{path} cannot be read ({exc.strerror or type(exc).__name__}).", path=path) from None
        if not isinstance(d, dict):
            raise NormFileError(f"{path} is JSON but not a psyscreen norm table (no 'format' key).", path=path)
        return cls._from_dict(d, str(path))

    @classmethod
    def read(cls, path: str | Path) -> NormTable:
        """Load a norm table from the JSON (:meth:`to_json`) or the workbook (:meth:`to_excel`) a fit wrote.

        The kind is told by the file's first bytes (a workbook is a zip archive, JSON starts with ``{``), not
        by its name, so a renamed file still loads; ``psyscreen analyze norms -o norms.xlsx --json norms.json``
        writes both kinds.

        Parameters
        ----------
        path : str or Path

        Returns
        -------
        NormTable
            Fitted, giving back the figures of the table that was saved exactly.

        Raises
        ------
        NormFileError
            The file is missing, is neither kind, or is damaged; ``.path`` names it and the message says
            what to give instead.

        Examples
        --------
        >>> import pandas as pd, tempfile, pathlib, warnings
        >>> warnings.simplefilter("ignore")
        >>> ref = pd.DataFrame({"grade": [7] * 4, "sex": ["F"] * 4, "dep": [1.0, 2.0, 2.0, 3.0]})
        >>> nt = NormTable().fit(ref, ["dep"])
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> [NormTable.read(nt.to_json(folder / "n.json")).strata_, NormTable.read(nt.to_excel(folder / "n.xlsx")).strata_]
        [[(7, 'F')], [(7, 'F')]]
        """
        path = Path(path)
        try:
            with open(path, "rb") as fh:
                head = fh.read(64)
        except OSError as exc:
            raise NormFileError(f"{path}: the norm file cannot be read ({exc.strerror or type(exc).__name__}).",
                                path=path) from None
        if head.startswith(b"PK\x03\x04"):
            return cls.from_excel(path)
        if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
            return cls.from_json(path)
        raise NormFileError(f"{path} is not a norm table: neither the .json nor the .xlsx that `psyscreen analyze "
                            "norms` writes (fit one with `psyscreen analyze norms DATA --scales ... -o norms.xlsx`).",
                            path=path)

    # -- save / load: Excel ------------------------------------------------------------------
    def to_excel(self, path: str | Path) -> Path:
        """Save the table as a workbook a person can read, and :meth:`from_excel` can load.

        Sheets: ``about`` (what the table is, how to read it, and its provenance); ``strata``
        (one row per stratum and scale: n, mean, sd, and which sheet holds the scale); one sheet
        per scale with a row per raw score seen in any stratum and, for each stratum, the columns
        ``<stratum> n`` (reference frequency), ``<stratum> PR``, ``<stratum> T`` (linear) and
        ``<stratum> Tn`` (normalised T), rounded to 2 decimals for reading.

        Excel keeps 15 significant digits, too few to give back a scale mean such as 3.4666666666666668
        bit for bit, so a hidden sheet ``_exact`` holds every reference score, count, mean and sd as
        text (Python's round-trip repr); :meth:`from_excel` loads that sheet, so the round trip
        reproduces :meth:`transform` exactly. Change norms by refitting, not by editing the workbook.
        """
        from openpyxl import Workbook
        from openpyxl.styles import Alignment, Font
        from openpyxl.utils import get_column_letter

        d = self._to_dict()
        by = d["by"]
        path = Path(path)
        wb = Workbook()
        about = wb.active
        about.title = "about"
        sheets = _sheet_names(self.scales_)
        info = [
            ("psyscreen norm table", ""),
            ("format", FORMAT),
            ("version", FORMAT_VERSION),
            ("strata by", ", ".join(by) if by else "(none: one norm for everyone)"),
            ("min_stratum", self.min_stratum),
            ("scales", ", ".join(self.scales_)),
            ("fitted", d["fitted_on"].get("date", "")),
            ("description", d["fitted_on"].get("description", "")),
            ("reference rows", d["fitted_on"].get("n_rows", "")),
            ("psyscreen version", d["fitted_on"].get("psyscreen_version", "")),
            ("", ""),
            ("How to read", "One sheet per scale. Find the raw score in column A; read the stratum's columns."),
            ("n", "how many reference students had exactly that score"),
            ("PR", d["definitions"]["pr"]),
            ("T", "linear T = " + d["definitions"]["t"] + ", z = " + d["definitions"]["z"]),
            ("Tn", "normalised T = " + d["definitions"]["tn"]),
            ("stanine", d["definitions"]["stanine"] + f"; cuts {STANINE_CUTS.tolist()}"),
            ("note", "A score between two listed scores: PR = 100 * (n below) / n; see the strata sheet for n."),
            ("_exact", "hidden sheet with the exact values that psyscreen loads; refit rather than edit"),
        ]
        for row in info:
            about.append(list(row))
        about["A1"].font = Font(bold=True, size=14)
        about.column_dimensions["A"].width = 22
        about.column_dimensions["B"].width = 90

        labels = [_label(by, tuple(e["stratum"][b] for b in by)) for e in d["strata"]]
        st = wb.create_sheet("strata")
        st.append(["stratum", *by, "scale", "sheet", "n", "mean", "sd"])
        for e, lab in zip(d["strata"], labels):
            for s in self.scales_:
                v = e["scales"][s]
                st.append([lab, *[e["stratum"][b] for b in by], s, sheets[s], v["n"], v["mean"], v["sd"]])
        for c in st[1]:
            c.font = Font(bold=True)
        st.column_dimensions["A"].width = 24

        for s in self.scales_:
            ws = wb.create_sheet(sheets[s])
            scores = np.unique(np.concatenate([self._refs[k][s].values for k in self._refs] + [np.array([])]))
            header = ["score"]
            cols = [scores]
            for key, lab in zip(self._refs, labels):
                r = self._refs[key][s]
                der = r.derive(scores)
                header += [f"{lab} n", f"{lab} PR", f"{lab} T", f"{lab} Tn"]
                cols += [r.counts_at(scores), np.round(der["pr"], 2), np.round(der["t"], 2), np.round(der["tn"], 2)]
            ws.append(header)
            for row in zip(*cols):
                ws.append([_cell(v) for v in row])
            for c in ws[1]:
                c.font = Font(bold=True)
                c.alignment = Alignment(wrap_text=True)
            ws.freeze_panes = "B2"
            for j in range(1, len(header) + 1):
                ws.column_dimensions[get_column_letter(j)].width = 12

        ex = wb.create_sheet("_exact")
        ex.sheet_state = "hidden"
        ex.append(["stratum", "scale", "what", "value", "count"])
        for key, lab in zip(self._refs, labels):
            for s in self.scales_:
                r = self._refs[key][s]
                ex.append([lab, s, "mean", repr(r.mean), None])
                ex.append([lab, s, "sd", repr(r.sd), None])
                for v, c in zip(r.values.tolist(), r.counts.tolist()):
                    ex.append([lab, s, "score", repr(v), c])
        for sheet in wb.worksheets:  # openpyxl stores text starting with "=" as a formula: keep every text as text
            for row in sheet.iter_rows():
                for cell in row:
                    if cell.data_type == "f":
                        cell.data_type = "s"
        wb.save(path)
        return path

    @classmethod
    def from_excel(cls, path: str | Path) -> NormTable:
        """Load a workbook written by :meth:`to_excel` (the exact values come from its hidden ``_exact`` sheet)."""
        from openpyxl import load_workbook

        path = Path(path)
        try:  # from the bytes: openpyxl refuses a workbook whose name does not end in .xlsx
            wb = load_workbook(io.BytesIO(path.read_bytes()), read_only=True, data_only=True)
        except OSError as exc:
            raise NormFileError(f"{path}: the norm file cannot be read ({exc.strerror or type(exc).__name__}).",
                                path=path) from None
        except Exception as exc:  # openpyxl raises several types for a bad file
            raise NormFileError(f"{path} could not be opened as a workbook ({type(exc).__name__}).", path=path) from None
        try:
            if not {"about", "strata", "_exact"} <= set(wb.sheetnames):
                raise NormFileError(f"{path} is a workbook but not a psyscreen norm table (it lacks the sheets "
                                    "'about', 'strata' and '_exact'): give the workbook `psyscreen analyze norms "
                                    "-o x.xlsx` writes.", path=path)
            about = {r[0]: r[1] for r in wb["about"].iter_rows(values_only=True) if r and r[0]}
            if about.get("format") != FORMAT:
                raise NormFileError(f"{path} is not a psyscreen norm-table workbook (sheet 'about' has no format "
                                    f"{FORMAT!r}): give the workbook `psyscreen analyze norms -o x.xlsx` writes.",
                                    path=path, where="sheet 'about'")
            if int(about.get("version")) != FORMAT_VERSION:
                raise NormFileError(f"{path} has norm-table version {about.get('version')}; expected {FORMAT_VERSION}.")
            rows = list(wb["strata"].iter_rows(values_only=True))
            head = list(rows[0])
            by = head[1 : head.index("scale")]
            scales: list[str] = []
            strata: dict[str, dict] = {}
            for r in rows[1:]:
                rec = dict(zip(head, r))
                if rec["scale"] not in scales:
                    scales.append(rec["scale"])
                strata.setdefault(rec["stratum"], {"stratum": {b: rec[b] for b in by}, "scales": {}})
            for lab, s, what, value, count in list(wb["_exact"].iter_rows(values_only=True))[1:]:
                v = strata[lab]["scales"].setdefault(s, {"scores": [], "counts": []})
                if what == "score":
                    v["scores"].append(float(value))
                    v["counts"].append(int(count))
                elif what in ("mean", "sd"):
                    v[what] = float(value)
                else:
                    raise NormFileError(f"{path}: sheet '_exact' has an unknown row kind {what!r}.")
        except NormFileError:
            raise
        except (KeyError, ValueError, TypeError, IndexError) as exc:
            raise NormFileError(f"{path} is damaged or incomplete ({type(exc).__name__}: {exc}); refit it rather "
                                "than edit it.", path=path) from None
        finally:
            wb.close()
        fitted_on = {
            "date": about.get("fitted") or "",
            "description": about.get("description") or "",
            "n_rows": about.get("reference rows"),
            "psyscreen_version": about.get("psyscreen version") or "",
        }
        d = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "by": by,
            "min_stratum": int(about["min_stratum"]),
            "scales": scales,
            "fitted_on": fitted_on,
            "strata": list(strata.values()),
        }
        return cls._from_dict(d, str(path))


def _nan_none(v: float):
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def _none_nan(v) -> float:
    return math.nan if v is None else float(v)


def _cell(v):
    """A value openpyxl can write (NaN -> empty)."""
    v = v.item() if hasattr(v, "item") else v
    return None if isinstance(v, float) and math.isnan(v) else v


def _sheet_names(scales: Sequence[str]) -> dict[str, str]:
    """Excel-safe, unique sheet names (<= 31 chars, no []:*?/\\) for the scales."""
    out: dict[str, str] = {}
    used = {"about", "strata"}
    for s in scales:
        base = "".join("_" if ch in '[]:*?/\\' else ch for ch in str(s))[:31] or "scale"
        name, i = base, 1
        while name.lower() in used:
            i += 1
            name = f"{base[: 31 - len(str(i)) - 1]}~{i}"
        used.add(name.lower())
        out[s] = name
    return out


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("psyscreen")
    except Exception:  # not installed (running from a source tree)
        return "unknown"



def read_norms(path: str | Path):
    """Load any norm file psyscreen writes: a :class:`NormTable` or a
    :class:`psyscreen.norms_continuous.ContinuousNorms` or :class:`psyscreen.norms_betabinomial.BetaBinomialNorms` (told by the file's own format, not its name)."""
    from .norms_continuous import read_norm_file

    return read_norm_file(path)


def __getattr__(name):  # ContinuousNorms lives in norms_continuous (which imports this module)
    if name in ("ContinuousNorms", "ContinuousNormError", "compute_weights"):
        from . import norms_continuous

        return getattr(norms_continuous, name)
    if name == "BetaBinomialNorms":
        from .norms_betabinomial import BetaBinomialNorms

        return BetaBinomialNorms
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
