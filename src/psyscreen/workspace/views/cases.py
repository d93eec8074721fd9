"""The pages about students: the critical list, open cases by deadline, a case (the growth file), adding an event."""

from __future__ import annotations

import datetime as dt

from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from ... import followup
from ..access import case_for, cases_for, may, role, student_label
from ..models import Event, Screening
from ._common import audit, requires


def _rows(request, cases):
    today = dt.date.today()
    out = []
    for c in cases.prefetch_related("events"):
        state = c.state()
        out.append({"case": c, "student": student_label(request.user, c.student_key), "state": state,
                    "overdue": state.overdue(c.deadline, today)})
    return out


@requires("critical")
def critical_list(request):
    """The critical list first: every open critical or level-1 case, the overdue ones on top."""
    cases = cases_for(request.user).filter(critical=True) | cases_for(request.user).filter(level_rank=1)
    rows = [r for r in _rows(request, cases.distinct()) if not r["state"].closed]
    rows.sort(key=lambda r: (not r["overdue"], r["case"].deadline))
    return render(request, "workspace/critical.html", {"rows": rows, "show_reasons": role(request.user) != "class"})


@requires("cases")
def open_cases(request):
    """Open cases by deadline."""
    rows = [r for r in _rows(request, cases_for(request.user)) if not r["state"].closed]
    rows.sort(key=lambda r: (not r["overdue"], r["case"].deadline, r["case"].level_rank or 99))
    return render(request, "workspace/cases.html", {"rows": rows, "show_reasons": role(request.user) != "class"})


@requires("case")
def case_page(request, case_id):
    """One case: the student's growth file (every wave's level and reasons), every event, and a form to add one."""
    case = case_for(request.user, case_id)
    audit(request, "view_case", case)
    r = role(request.user)
    screenings = Screening.objects.filter(student_key=case.student_key) if r != "class" else Screening.objects.none()
    events = list(case.events.select_related("recorded_by", "corrects").order_by("recorded_at"))
    state = case.state()
    return render(request, "workspace/case.html", {
        "case": case, "student": student_label(request.user, case.student_key), "state": state,
        "overdue": state.overdue(case.deadline, dt.date.today()), "screenings": screenings, "events": events,
        "kinds": followup.kinds_for(request.lang), "show_reasons": r != "class",
        "may_scores": may(request.user, "scores")})


@requires("scores")
def scores_page(request, case_id):
    case = case_for(request.user, case_id)
    audit(request, "view_scores", case)
    screenings = Screening.objects.filter(student_key=case.student_key)
    return render(request, "workspace/scores.html", {"case": case, "screenings": screenings,
                                                     "student": student_label(request.user, case.student_key)})


@require_POST
@requires("add_event")
def add_event(request, case_id):
    """Record one event (validated by :func:`psyscreen.followup.validate_event`); errors go back to the form."""
    case = case_for(request.user, case_id)
    kind = request.POST.get("kind", "")
    values = {k: v for k, v in request.POST.items() if k not in ("kind", "csrfmiddlewaretoken", "corrects")}
    values = {k: v for k, v in values.items() if v != ""}
    corrects = request.POST.get("corrects") or None
    try:
        spec = followup.EVENT_KINDS.get(kind)
        if spec is not None:
            values = {k: v for k, v in values.items() if k in {f.name for f in spec.fields}}
        ev = followup.validate_event(kind, values)
        target = case.events.get(pk=corrects) if corrects else None
    except followup.EventError as exc:
        request.session["event_errors"] = exc.problems
        return redirect("case", case_id=case.pk)
    except (Event.DoesNotExist, ValueError) as exc:
        raise Http404() from exc
    Event.objects.create(case=case, kind=ev.kind, occurred_on=ev.occurred_on, fields=ev.fields, corrects=target,
                         recorded_by=request.user, source="web")
    audit(request, "add_event", case, ev.kind)
    return redirect("case", case_id=case.pk)


@require_POST
@requires("find")
def find_student(request):
    raise Http404()
