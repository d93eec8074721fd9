"""Sign-in and sign-out (Django's views, django-axes slows repeated failures), language, home, error pages."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from ..access import role

login_view = auth_views.LoginView.as_view(template_name="workspace/login.html", redirect_authenticated_user=True)
logout_view = require_POST(auth_views.LogoutView.as_view())


def set_language(request, code: str):
    if code in ("zh", "en"):
        request.session["lang"] = code
    nxt = request.GET.get("next", "")
    return redirect(nxt if nxt.startswith("/") and not nxt.startswith("//") else "home")


def home(request):
    if not request.user.is_authenticated:
        return redirect("login")
    return redirect({"leader": "dashboard"}.get(role(request.user), "critical"))


def _error(request, status: int, key: str):
    """An error page: the status and one sentence, never the path asked for, a student key or the exception."""
    try:
        return render(request, "workspace/error.html", {"message_key": key, "status": status, "error_page": True},
                      status=status)
    except Exception:  # the page itself failed (e.g. the database is down): a plain answer, still without details
        return HttpResponse(f'<!doctype html><title>{status}</title><p id="error-message">{status}</p>',
                            status=status)


def not_found(request, exception=None):
    return _error(request, 404, "not_found")


def forbidden(request, exception=None):
    return _error(request, 403, "forbidden")


def bad_request(request, exception=None):
    return _error(request, 400, "bad_request")


def server_error(request):
    return _error(request, 500, "server_error")


def csrf_failure(request, reason=""):
    return _error(request, 403, "csrf")
