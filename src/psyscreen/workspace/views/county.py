"""The county's pages: the dashboard (aggregates with small counts suppressed) and the xlsx exports."""

from __future__ import annotations

from django.http import HttpResponse

from ._common import requires


@requires("dashboard")
def dashboard(request):
    return HttpResponse("dashboard: not built yet", status=501)


@requires("export")
def export(request, table: str):
    return HttpResponse("export: not built yet", status=501)
