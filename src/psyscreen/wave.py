"""What a wave is, and what every output of one run says about it.

A screening wave is named ``YYYY-MM`` (``2026-09``): the national notices ask for a screening each March and
September, but counties also run make-up and college-entry screenings in other months, so any month 01-12 is
accepted; anything else (``sept``, ``2026/09``, ``2026-9``) is refused with the expected form, so that one wave
never becomes two in the growth file or ``学校于sept组织`` in a letter.

:class:`RunInfo` travels from :func:`psyscreen.screening.screen` to every writer: the wave and county for titles
and file names, and whether the run is ``complete`` (every export read and processed), ``incomplete`` (some files
were not processed: they are named, with their row counts) or ``in_progress`` (written while files are still
being read; replaced when the run ends). Every output a person reads shows :meth:`RunInfo.notice` when it is not
``None``.

Examples
--------
>>> parse_wave("2026-09")
'2026-09'
>>> wave_label("2026-09", "zh"), wave_label("2026-09", "en")
('2026年9月', 'September 2026')
>>> info = RunInfo("2026-09", county="城南区", status="incomplete",
...                not_processed=(NotProcessed("实验中学.csv", "stopped", 412),))
>>> info.title("筛查结果汇总", "zh")
'城南区 2026年9月 筛查结果汇总'
>>> print(info.notice("zh"))
本批次不完整：1 个文件未处理（共 412 行未读取），其学生未被评估，也未检查危机作答：实验中学.csv（已停止，412 行）。
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from typing import Optional

__all__ = ["parse_wave", "wave_label", "WaveError", "RunInfo", "NotProcessed", "STATUSES"]

STATUSES = ("complete", "incomplete", "in_progress")
FILE_STATUS = {"zh": {"stopped": "已停止", "unreadable": "无法读取", "skipped": "已跳过"},
               "en": {}}  # the status of a file not processed, as a person reads it
_WAVE = re.compile(r"(\d{4})-(\d{2})")


class WaveError(ValueError):
    """A wave label that is not ``YYYY-MM``."""


def parse_wave(text) -> str:
    """Check a wave label and return it: ``YYYY-MM``, month 01-12, year 2000-2099.

    Raises
    ------
    WaveError
        With the expected form and an example, e.g. for ``sept`` or ``2026/09``.

    Examples
    --------
    >>> parse_wave(" 2026-03 ")
    '2026-03'
    >>> parse_wave("2026/09")
    Traceback (most recent call last):
    ...
    psyscreen.wave.WaveError: wave '2026/09' is not of the form YYYY-MM (year, dash, two-digit month), e.g. 2026-09
    """
    s = str(text).strip()
    m = _WAVE.fullmatch(s)
    if not m or not 1 <= int(m.group(2)) <= 12 or not 2000 <= int(m.group(1)) <= 2099:
        raise WaveError(f"wave {s!r} is not of the form YYYY-MM (year, dash, two-digit month), e.g. 2026-09")
    return s


def wave_label(wave: str, lang: str = "zh") -> str:
    """The wave as a person writes it: ``2026年9月`` (zh) or ``September 2026`` (en).

    A label that is not ``YYYY-MM`` is returned as it is (an archive may hold older labels).
    """
    m = _WAVE.fullmatch(str(wave))
    if not m or not 1 <= int(m.group(2)) <= 12:
        return str(wave)
    year, month = int(m.group(1)), int(m.group(2))
    return f"{year}年{month}月" if lang == "zh" else f"{calendar.month_name[month]} {year}"


@dataclass(frozen=True)
class NotProcessed:
    """An input file of the run that was not processed: its students were not screened."""

    file: str
    status: str  # "stopped" | "unreadable" | ...
    rows_in_file: int = 0
    reason: str = ""


@dataclass(frozen=True)
class RunInfo:
    """The wave, the county and the completeness of one screening run, for the titles and notices of outputs.

    Attributes
    ----------
    wave : str
        ``YYYY-MM``.
    county : str, optional
        The county (or district) name, when given.
    status : {"complete", "incomplete", "in_progress"}
    not_processed : tuple of NotProcessed
        The files not processed (empty when complete).
    """

    wave: str
    county: Optional[str] = None
    status: str = "complete"
    not_processed: tuple = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, not {self.status!r}")

    @property
    def complete(self) -> bool:
        return self.status == "complete"

    @property
    def prefix(self) -> str:
        """The file-name prefix of the outputs a person handles: the wave (``2026-09``)."""
        return self.wave

    @property
    def rows_not_read(self) -> int:
        return sum(int(p.rows_in_file) for p in self.not_processed)

    def label(self, lang: str = "zh") -> str:
        """County and wave as a person writes them: ``城南区 2026年9月``."""
        w = wave_label(self.wave, lang)
        return f"{self.county} {w}" if self.county else w

    def title(self, what: str, lang: str = "zh") -> str:
        """A title naming county, wave and the output: ``城南区 2026年9月 筛查结果汇总``."""
        return f"{self.label(lang)} {what}"

    def notice(self, lang: str = "zh") -> Optional[str]:
        """The notice every person-facing output carries when the run is not complete (None when it is)."""
        if self.status == "complete":
            return None
        if self.status == "in_progress":
            return ("本名单仍在生成中：仍有文件未读取完，名单尚不完整。" if lang == "zh" else
                    "This list is still being written: not every file has been read yet, so it is not complete.")
        say = FILE_STATUS.get(lang, {})
        files = "；".join(f"{p.file}（{say.get(p.status, p.status)}，{p.rows_in_file} 行）" for p in self.not_processed) \
            if lang == "zh" else "; ".join(f"{p.file} ({p.status}, {p.rows_in_file} rows)" for p in self.not_processed)
        n, rows = len(self.not_processed), self.rows_not_read
        if lang == "zh":
            return (f"本批次不完整：{n} 个文件未处理（共 {rows} 行未读取），其学生未被评估，也未检查危机作答："
                    f"{files}。")
        return (f"This wave is INCOMPLETE: {n} file(s) were not processed ({rows} row(s) not read); their students "
                f"were not assessed and not checked for critical answers: {files}.")

    def to_dict(self) -> dict:
        return {"wave": self.wave, "county": self.county, "status": self.status,
                "not_processed": [{"file": p.file, "status": p.status, "rows_in_file": int(p.rows_in_file),
                                   "reason": p.reason} for p in self.not_processed]}

    @classmethod
    def from_dict(cls, d: dict) -> "RunInfo":
        return cls(wave=d["wave"], county=d.get("county"), status=d.get("status", "complete"),
                   not_processed=tuple(NotProcessed(**p) for p in d.get("not_processed", ())))
