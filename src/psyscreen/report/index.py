"""``index.html`` of a screening's output folder: the wave, its status, and which file goes to whom.

A county center receives one folder per wave with files for very different readers. The index page says, in the
run's language, what each file holds and who may receive it (the four-level warning network of the notices:
county center, school leadership, the school's psychological teacher, class teachers, families, and the data
staff who fix the exports), and whether the wave is complete, naming the files that were not processed.

Every text from the data (county, file and school names) is escaped (:func:`html.escape`); the page carries no
student's name, id or answer.
"""

from __future__ import annotations

import datetime as _dt
from html import escape
from pathlib import Path
from typing import Iterable, Mapping, Optional

from .. import __version__
from ..io import atomic_write
from ..wave import FILE_STATUS, RunInfo
from ._common import PathLike, check_lang
from ._reasons import file_reason_in

__all__ = ["write_index", "index_html", "ROUTES"]

#: One row per output: (key in ``outputs``, default path, reader, what it holds, when), by language.
ROUTES = {
    "zh": [
        ("critical", "critical.xlsx", "县（区）心理健康辅导中心", "有危机作答（如自伤念头）的学生：姓名、学号、学校、班级、原因",
         "当天处理，不等批次结束"),
        ("summary", "county/summary.xlsx", "教育行政部门、学校领导", "按学校、年级、性别汇总的人数与比例；小计数已隐去，不含任何学生身份",
         "批次结束后"),
        ("report", "county/report.html", "教育行政部门、学校领导", "汇总报告（图表），小计数已隐去，不含任何学生身份", "批次结束后"),
        ("schools", "schools/<学校>/<批次>_<学校>.xlsx", "学校心理教师", "本校全部学生的预警等级、原因与量表分数（保密）",
         "批次结束后，经学校交付"),
        ("classes", "schools/<学校>/classes/", "班主任", "本班需关注的学生：姓名、等级与建议措施（无分数、无作答、无原因）",
         "由学校心理教师交付"),
        ("letters", "schools/<学校>/letters/", "家长", "每名需关注学生一封告家长书（另有每班一个可直接打印的合集）：等级与给家长的建议", "由学校交付家长"),
        ("quarantine", "quarantine.xlsx", "数据管理人员", "未能计分的作答（文件、工作表、行、列、原因），更正后重新筛查",
         "尽快"),
        ("duplicates", "duplicates.xlsx", "数据管理人员", "同一学号的重复提交及保留的那一份", "尽快"),
        ("students", "students.parquet", "数据管理人员、程序（成长档案导入）", "全部计分结果（机器读取，保留代码）", "—"),
    ],
    "en": [
        ("critical", "critical.xlsx", "county mental-health center", "students with a critical answer (e.g. thoughts of "
         "self-harm): name, student id, school, class, reasons", "the same day, not at the end of the wave"),
        ("summary", "county/summary.xlsx", "education bureau, school leadership", "counts and rates by school, grade "
         "and sex; small counts suppressed; no student's identity", "after the wave"),
        ("report", "county/report.html", "education bureau, school leadership", "the summary report (charts); small "
         "counts suppressed; no student's identity", "after the wave"),
        ("schools", "schools/<school>/<wave>_<school>.xlsx", "the school's psychological teacher", "every student of the "
         "school with level, reasons and scale scores (confidential)", "after the wave, through the school"),
        ("classes", "schools/<school>/classes/", "class teachers", "the students of their class who need attention: "
         "name, level and suggested action (no scores, answers or reasons)", "through the psychological teacher"),
        ("letters", "schools/<school>/letters/", "families", "one letter per student who needs attention (and one "
         "printable file per class): level and what the family can do", "handed out by the school"),
        ("quarantine", "quarantine.xlsx", "data staff", "answers that could not be scored (file, sheet, row, column, "
         "reason): fix them, then screen again", "soon"),
        ("duplicates", "duplicates.xlsx", "data staff", "repeated submissions of one student id, and the one kept",
         "soon"),
        ("students", "students.parquet", "data staff, programs (growth-file import)", "every score (machine-readable, "
         "codes kept)", "-"),
    ],
}

_TXT = {
    "zh": {"title": "筛查结果目录", "status": "批次状态", "complete": "完整：全部文件均已读取并处理。",
           "incomplete": "不完整", "file": "文件", "reader": "交给谁", "holds": "内容", "when": "何时",
           "wave": "批次", "county": "区县", "not_processed": "未处理的文件", "rows": "行", "reason": "原因",
           "failed": "未能生成的输出（请查看日志后重新筛查）",
           "pseudo": "本批次使用了 --pseudonymise（学号已替换为编码）：学校文件夹、汇总与数据表只含编码；"
                     "但 critical.xlsx 有意保留姓名与原始学号，因为它用于县（区）中心当天的危机处置。"
                     "请只在中心内部使用，不要转发。",
           "critical_ids": "含姓名与原始学号（用于当天处置）。",
           "generated": "由 psyscreen {v} 生成于 {t}；完整记录见 manifest.json。"},
    "en": {"title": "screening outputs", "status": "Status of the wave", "complete": "Complete: every file was read "
           "and processed.", "incomplete": "INCOMPLETE", "file": "File", "reader": "For", "holds": "What it holds",
           "when": "When", "wave": "Wave", "county": "County", "not_processed": "Files not processed",
           "rows": "rows", "reason": "reason", "failed": "Outputs not written (see the log, then screen again)",
           "pseudo": "This wave was pseudonymised (--pseudonymise: student ids replaced by keys): the school folders, "
                     "summaries and tables carry keys only; critical.xlsx keeps names and raw student ids on purpose, "
                     "because it is for the county center's action the same day. Use it inside the center only; do "
                     "not forward it.",
           "critical_ids": "Carries names and raw student ids (for action the same day).",
           "generated": "Written by psyscreen {v} on {t}; the full record is manifest.json."},
}

_CSS = """body{font-family:system-ui,"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:2em;max-width:72em;color:#222}
table{border-collapse:collapse;width:100%}th,td{border:1px solid #ccc;padding:.4em .6em;text-align:left;vertical-align:top}
th{background:#dfe7f1}.incomplete{background:#fde2e1;border:2px solid #c0392b;padding:.8em}
.complete{background:#e5f4e3;border:1px solid #3c8d40;padding:.8em}.note{background:#fff7d6;padding:.8em}
.missing{color:#888}"""


def index_html(run: RunInfo, *, lang: str = "zh", pseudonymised: bool = False,
               outputs: Optional[Mapping[str, str]] = None, failed: Iterable[str] = ()) -> str:
    """The index page as HTML text (see :func:`write_index`).

    Examples
    --------
    >>> from psyscreen.wave import RunInfo
    >>> html = index_html(RunInfo("2026-09", county="城南区"), outputs={"critical": "critical.xlsx"})
    >>> "城南区 2026年9月" in html and "县（区）心理健康辅导中心" in html
    True
    """
    check_lang(lang)
    t = _TXT[lang]
    outputs = dict(outputs or {})
    failed = list(failed)
    title = run.title(t["title"], lang)
    parts = [f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8"><title>{escape(title)}</title>',
             f"<style>{_CSS}</style></head><body>", f"<h1>{escape(title)}</h1>",
             f"<p>{t['wave']}: <b>{escape(run.wave)}</b>"
             + (f" · {t['county']}: <b>{escape(run.county)}</b>" if run.county else "") + "</p>",
             f"<h2>{t['status']}</h2>"]
    if run.complete and not failed:
        parts.append(f'<div class="complete">{escape(t["complete"])}</div>')
    else:
        box = [f'<div class="incomplete"><p><b>{t["incomplete"]}</b>']
        notice = run.notice(lang)
        if notice:
            box.append(f"<p>{escape(notice)}</p>")
        if run.not_processed:
            box.append(f"<p>{t['not_processed']}:</p><ul>")
            box += [f"<li>{escape(p.file)} ({escape(FILE_STATUS.get(lang, {}).get(p.status, p.status))}, "
                    f"{int(p.rows_in_file)} {t['rows']}): "
                    f"{escape(file_reason_in(p.reason, lang))}</li>" for p in run.not_processed]
            box.append("</ul>")
        if failed:
            box.append(f"<p>{t['failed']}:</p><ul>" + "".join(f"<li>{escape(f)}</li>" for f in failed) + "</ul>")
        parts.append("".join(box) + "</div>")
    if pseudonymised:
        parts.append(f'<p class="note">{escape(t["pseudo"])}</p>')
    parts.append(f"<h2>{escape(t['title'])}</h2><table><tr><th>{t['file']}</th><th>{t['reader']}</th>"
                 f"<th>{t['holds']}</th><th>{t['when']}</th></tr>")
    for key, default, reader, holds, when in ROUTES[lang]:
        link = outputs.get(key) if key not in ("classes", "letters") else outputs.get("schools")
        shown = escape(default)
        cell = f'<a href="{escape(link)}">{shown}</a>' if link else f'<span class="missing">{shown}</span>'
        if key == "critical":
            holds = f"{holds}. {t['critical_ids']}" if lang == "en" else f"{holds}。{t['critical_ids']}"
        parts.append(f"<tr><td>{cell}</td><td>{escape(reader)}</td><td>{escape(holds)}</td><td>{escape(when)}</td></tr>")
    parts.append("</table>")
    stamp = _dt.datetime.now().isoformat(timespec="seconds")
    parts.append(f"<p><small>{escape(t['generated'].format(v=__version__, t=stamp))}</small></p></body></html>")
    return "\n".join(parts)


def write_index(folder: PathLike, run: RunInfo, *, lang: str = "zh", pseudonymised: bool = False,
                outputs: Optional[Mapping[str, str]] = None, failed: Iterable[str] = ()) -> Path:
    """Write ``<folder>/index.html``: the wave, county and status, and which file goes to whom.

    Parameters
    ----------
    folder : str or Path
        The output folder of the run.
    run : RunInfo
        Wave, county, status and the files not processed.
    lang : {"zh", "en"}
    pseudonymised : bool
        The run replaced ids by keys: the page says that ``critical.xlsx`` still carries names and raw ids, on
        purpose (for the same day's action).
    outputs : mapping, optional
        Output key (``critical``, ``summary``, ``report``, ``schools``, ``quarantine``, ``duplicates``,
        ``students``) -> path relative to ``folder``; files not given are shown without a link.
    failed : iterable of str
        Outputs that could not be written.

    Returns
    -------
    Path

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from psyscreen.wave import RunInfo
    >>> write_index(pathlib.Path(tempfile.mkdtemp()), RunInfo("2026-09"), lang="en").name
    'index.html'
    """
    folder = Path(folder)
    html = index_html(run, lang=lang, pseudonymised=pseudonymised, outputs=outputs, failed=failed)
    return atomic_write(folder / "index.html", lambda tmp: tmp.write_text(html, encoding="utf-8"))
