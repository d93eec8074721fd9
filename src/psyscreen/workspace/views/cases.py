"""The pages about students: the critical list, open cases by deadline, a case (the growth file), adding or
correcting an event, and finding a student by key (posted, never in a URL)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from ... import followup
from ..access import case_for, cases_for, may, pseudonym, role, student_label
from ..forms import EventForm, FindForm
from ..models import Case, Event, Screening
from ..words import event_details, kind_help, status_words, words_for
from ._common import audit, requires


def case_rows(request, cases) -> list[dict]:
    """One row per case for a list or an export: the case, how the user sees the student, its state and whether
    (and by how many days) it is overdue."""
    today = timezone.localdate()
    out = []
    for c in cases.prefetch_related("events"):
        state = c.state()
        overdue = state.overdue(c.deadline, today)
        out.append({"case": c, "student": student_label(request.user, c.student_key), "state": state,
                    "status": status_words(state.status, request.lang), "overdue": overdue,
                    "days_overdue": (today - c.deadline).days if overdue else 0})
    return out


def critical_rows(request) -> list[dict]:
    """The open critical and level-1 cases the user may see, the overdue first, then by deadline."""
    mine = cases_for(request.user).filter(closed=False)
    rows = case_rows(request, (mine.filter(critical=True) | mine.filter(level_rank=1)).distinct())
    rows.sort(key=lambda r: (not r["overdue"], not r["case"].critical, r["case"].deadline))
    return rows


def open_rows(request) -> list[dict]:
    """The open cases the user may see, the overdue first, then by deadline and level."""
    rows = case_rows(request, cases_for(request.user).filter(closed=False))
    rows.sort(key=lambda r: (not r["overdue"], r["case"].deadline, r["case"].level_rank or 99))
    return rows


def _list_context(request, rows, table: str) -> dict:
    return {"rows": rows, "show_reasons": role(request.user) != "class", "table": table,
            "n_overdue": sum(r["overdue"] for r in rows),
            "find_form": FindForm() if may(request.user, "find") else None,
            "may_export": may(request.user, "export")}


@requires("critical")
def critical_list(request):
    """The critical list first: every open critical or level-1 case, the overdue ones on top."""
    return render(request, "workspace/critical.html", _list_context(request, critical_rows(request), "critical"))


@requires("cases")
def open_cases(request):
    """Open cases by deadline."""
    return render(request, "workspace/cases.html", _list_context(request, open_rows(request), "cases"))


def _event_rows(case: Case, lang: str, corrected: frozenset) -> list[dict]:
    events = list(case.events.select_related("recorded_by", "corrects").order_by("recorded_at"))
    rows = []
    for e in events:
        rows.append({"event": e, "kind": followup.label(e.kind, lang), "details": event_details(e.kind, e.fields, lang),
                     "corrected": str(e.pk) in corrected,
                     "corrects": (f"{e.corrects.occurred_on:%Y-%m-%d} {followup.label(e.corrects.kind, lang)}"
                                  if e.corrects_id else ""),
                     "by": e.recorded_by.get_username() if e.recorded_by_id else e.source})
    return rows


def _history(request, case: Case) -> list[dict]:
    """The student's other cases that the user may see, each with its events in words."""
    lang = request.lang
    others = (cases_for(request.user).filter(student_key=case.student_key).exclude(pk=case.pk)
              .prefetch_related("events").order_by("opened_on", "wave"))
    out = []
    for c in others:
        state = c.state()
        out.append({"case": c, "status": status_words(state.status, lang),
                    "events": followup.describe(c.domain_events(), lang)})
    return out


def _previous(request, case: Case) -> dict | None:
    """What was done last time, for a student flagged again (``previous`` set): the wave, the state and, when the
    user may see that case, its events in words."""
    if case.previous_id is None:
        return None
    prev = Case.objects.filter(pk=case.previous_id).prefetch_related("events").first()
    if prev is None:
        return None
    visible = cases_for(request.user).filter(pk=prev.pk).exists()
    state = prev.state()
    return {"case": prev, "visible": visible, "status": status_words(state.status, request.lang),
            "events": followup.describe(prev.domain_events(), request.lang) if visible else []}


def _render_case(request, case: Case, form: EventForm, correcting=None, status: int = 200):
    r = role(request.user)
    audit(request, "view_case", case)
    state = case.state()
    screenings = Screening.objects.filter(student_key=case.student_key).order_by("wave")
    return render(request, "workspace/case.html", {
        "case": case, "student": student_label(request.user, case.student_key), "state": state,
        "status_words": status_words(state.status, request.lang),
        "overdue": state.overdue(case.deadline, timezone.localdate()), "screenings": screenings,
        "events": _event_rows(case, request.lang, state.corrected), "history": _history(request, case),
        "previous": _previous(request, case), "form": form, "correcting": correcting,
        "correcting_kind": followup.label(correcting.kind, request.lang) if correcting else "",
        "kind_help": kind_help(request.lang), "show_reasons": r != "class", "may_scores": may(request.user, "scores"),
        "may_add": may(request.user, "add_event")}, status=status)


@requires("case")
def case_page(request, case_id):
    """One case: the student's growth file (every wave's level and reasons), every case of the student with its
    events, and a form to add an event or correct one (``?correct=<event id>``)."""
    case = case_for(request.user, case_id)
    correcting = None
    initial = {}
    wanted = request.GET.get("correct")
    if wanted and may(request.user, "add_event"):
        try:
            correcting = case.events.get(pk=wanted)
        except (Event.DoesNotExist, ValueError, ValidationError):  # a malformed id: no correction
            correcting = None
        if correcting is not None:
            initial = {"kind": correcting.kind, "date": correcting.occurred_on.isoformat(),
                       "corrects": correcting.pk, **correcting.fields}
    return _render_case(request, case, EventForm(initial=initial, lang=request.lang), correcting)


@require_POST
@requires("add_event")
def add_event(request, case_id):
    """Record one event, validated by :func:`psyscreen.followup.validate_event`; with ``corrects``, a correction of
    an event of this case that is not corrected yet. Errors re-render the case page next to the form."""
    case = case_for(request.user, case_id)
    form = EventForm(request.POST, lang=request.lang)
    target = None
    if form.is_valid():
        target_id = form.cleaned_data.get("corrects")
        if target_id:
            target = case.events.filter(pk=target_id).first()
            w = words_for(request.lang)
            if target is None:
                form.add_error(None, w["not_found"])
            elif target.corrections.exists():
                form.add_error(None, w["corrected"])
    if not form.is_valid():
        return _render_case(request, case, form, target)
    ev = form.event
    Event.objects.create(case=case, kind=ev.kind, occurred_on=ev.occurred_on, fields=ev.fields, corrects=target,
                         recorded_by=request.user, source="web")
    audit(request, "correct_event" if target else "add_event", case, ev.kind)
    messages.success(request, words_for(request.lang)["event_saved"])
    return redirect("case", case_id=case.pk)


@requires("scores")
def scores_page(request, case_id):
    """Every wave's scale scores of the student (the school psychological teacher and the county only)."""
    case = case_for(request.user, case_id)
    audit(request, "view_scores", case)
    screenings = Screening.objects.filter(student_key=case.student_key).order_by("wave")
    return render(request, "workspace/scores.html", {"case": case, "screenings": screenings,
                                                     "student": student_label(request.user, case.student_key)})


@require_POST
@requires("find")
def find_student(request):
    """Go to the latest case of a student the user may see, by key (by pseudonym at a pseudonymising county).
    The key comes in a POST body and goes nowhere else: not in a URL, not in the audit log."""
    form = FindForm(request.POST)
    found = None
    if form.is_valid():
        key = form.cleaned_data["key"]
        mine = cases_for(request.user).order_by("-opened_on", "-wave")
        if role(request.user) == "county" and settings.PSYSCREEN_PSEUDONYMISE:
            for pk, student_key in mine.values_list("pk", "student_key"):
                if pseudonym(student_key) == key:
                    found = mine.get(pk=pk)
                    break
        else:
            found = mine.filter(student_key=key).first()
    audit(request, "find", found, "found" if found else "not found")
    if found is None:
        messages.warning(request, words_for(request.lang)["find_none"])
        return redirect("cases")
    return redirect("case", case_id=found.pk)
