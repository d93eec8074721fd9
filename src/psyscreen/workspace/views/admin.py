"""The county center's administration: accounts, and the audit log nobody can edit."""

from __future__ import annotations

from django.http import HttpResponse

from ._common import requires


@requires("audit")
def audit_log(request):
    return HttpResponse("audit: not built yet", status=501)


@requires("accounts")
def accounts(request):
    return HttpResponse("accounts: not built yet", status=501)
