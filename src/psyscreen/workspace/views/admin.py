"""The county center's administration: accounts, and the audit log nobody can edit (read-only here)."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render

from ..access import student_label
from ..accounts import AccountError, make_account
from ..forms import AccountForm
from ..models import Account, AuditEntry
from ..words import audit_words, role_words, words_for
from ._common import audit, requires

PAGE_SIZE = 50


@requires("audit")
def audit_log(request):
    """Every audit entry, newest first, 50 a page (``?page=``); the case as the county sees the student."""
    entries = AuditEntry.objects.select_related("case").order_by("-at", "-id")
    page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [{"entry": e, "what": audit_words(e.action, request.lang),
             "student": student_label(request.user, e.case.student_key) if e.case_id else ""} for e in page]
    return render(request, "workspace/audit.html", {"page": page, "rows": rows})


@requires("accounts")
def accounts(request):
    """The accounts (username, role, scope) and a form to make one (Django's password validation)."""
    form = AccountForm(request.POST or None, lang=request.lang)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            make_account(d["username"], d["password"], d["role"], school=d["school"] or "", grade=d["grade"],
                         klass=d["klass"] or "", lang=d["lang"])
        except AccountError as exc:
            form.add_error(None, str(exc))
        else:
            audit(request, "make_account", None, f"{d['username']} ({d['role']})")
            messages.success(request, words_for(request.lang)["account_made"])
            return redirect("accounts")
    rows = [{"account": a, "role": role_words(a.role, request.lang)}
            for a in Account.objects.select_related("user").order_by("role", "school", "user__username")]
    return render(request, "workspace/accounts.html", {"form": form, "rows": rows})
