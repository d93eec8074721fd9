"""The county's pages: the dashboard (aggregates, small counts suppressed for the leader) and the xlsx exports of
the critical list, the open cases and the dashboard (each export in the audit log)."""

from __future__ import annotations

import pandas as pd
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from ... import io as psio
from .. import dashboard as dash
from ..access import may, role
from ..models import Case
from ..words import words_for
from ._common import audit, requires
from .cases import critical_rows, open_rows

TABLES = ("critical", "cases", "dashboard")


def _dashboard_data(request):
    waves = sorted(Case.objects.values_list("wave", flat=True).distinct(), reverse=True)
    wave = request.GET.get("wave") or None
    if wave not in waves:
        wave = None
    body, totals = dash.table(dash.school_rows(wave=wave), suppress=role(request.user) == "leader")
    return waves, wave, body, totals


@requires("dashboard")
def dashboard(request):
    """Per school: flagged, reviewed, interviewed within the deadline, referred, closed, overdue; a plot."""
    waves, wave, body, totals = _dashboard_data(request)
    w = words_for(request.lang)
    return render(request, "workspace/dashboard.html", {
        "columns": [w[c] for c in dash.COLUMNS], "body": body, "totals": totals, "waves": waves, "wave": wave,
        "suppressed": role(request.user) == "leader", "plot": dash.plot_png(body, w) if body else None,
        "may_export": may(request.user, "export")})


def _case_frame(request, rows, with_reasons: bool) -> pd.DataFrame:
    w = words_for(request.lang)
    zh = request.lang == "zh"
    records = []
    for r in rows:
        c = r["case"]
        rec = {w["student"]: r["student"], w["school"]: c.school, w["grade"]: c.grade, w["class"]: c.klass,
               w["wave"]: c.wave,
               w["level"]: (c.level_name if zh else c.level_name_en) or c.level, w["critical_mark"]: w["critical_mark"] if c.critical else ""}
        if with_reasons:
            rec[w["reasons"]] = c.reasons if zh else (c.reasons_en or c.reasons)
        rec.update({w["action"]: c.action if zh else (c.action_en or c.action), w["deadline"]: c.deadline,
                    w["status"]: r["status"], w["overdue"]: w["overdue"] if r["overdue"] else "",
                    w["days_overdue"]: r["days_overdue"] or None})
        records.append(rec)
    return pd.DataFrame.from_records(records, columns=list(records[0]) if records else [w["student"]])


@requires("export")
def export(request, table: str):
    """``critical``, ``cases`` or ``dashboard`` as an xlsx workbook (text cells made inert, see
    :func:`psyscreen.io.workbook_bytes`); every export is recorded in the audit log."""
    if table not in TABLES:
        raise Http404()
    w = words_for(request.lang)
    if table == "dashboard":
        if not may(request.user, "dashboard"):
            raise PermissionDenied
        _, wave, body, totals = _dashboard_data(request)
        cols = [w["school"]] + [w[c] for c in dash.COLUMNS]
        frame = pd.DataFrame([[s] + c for s, c in body] + [[w["total"]] + totals], columns=cols, dtype=object)
        note = (w["suppressed_note"] if role(request.user) == "leader" else "")
        note += f" {w['wave']} {wave}" if wave else ""
        sheet = psio.Sheet(w["dashboard"], frame, note=note.strip() or None)
        n = len(body)
    else:
        if not may(request.user, "cases"):
            raise PermissionDenied
        rows = critical_rows(request) if table == "critical" else open_rows(request)
        frame = _case_frame(request, rows, with_reasons=role(request.user) != "class")
        sheet = psio.Sheet(w[table], frame, wrap=(w["reasons"], w["action"]), level_column=w["level"])
        n = len(rows)
    data = psio.workbook_bytes([sheet])
    audit(request, "export", None, f"{table}: {n} row(s)")
    stamp = timezone.localdate().isoformat()
    response = HttpResponse(data, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = f'attachment; filename="psyscreen-{table}-{stamp}.xlsx"'
    return response
