"""What every page view needs: the right check, the audit entry, the page language."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied

from ..access import may
from ..models import AuditEntry

__all__ = ["requires", "audit"]


def requires(what: str):
    """A view for logged-in users whose role may do ``what`` (else 403; a guest goes to the login page)."""

    def wrap(view):
        @login_required
        @wraps(view)
        def inner(request, *args, **kwargs):
            if not may(request.user, what):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return inner

    return wrap


def audit(request, action: str, case=None, detail: str = "") -> None:
    """Record who did what (a view of a student's page, a change, an export) in the append-only audit log."""
    AuditEntry.objects.create(user=request.user, username=request.user.get_username(), action=action, case=case,
                              detail=detail)
