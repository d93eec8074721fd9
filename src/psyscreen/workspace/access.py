"""Who sees what: the four-level network's least-privilege rules, in one place.

* ``county``: every school's cases and aggregates; the audit log; accounts. With ``--pseudonymise`` the county
  sees pseudonyms instead of student keys.
* ``school`` (the school's psychological teacher): every case of their school, with scores and reasons.
* ``class`` (the class teacher): the cases of their class: level, suggested action and their tasks; never a
  score, an answer or a reason that quotes one.
* ``leader``: aggregates only (the dashboard and its export), small counts suppressed; no student page.

A case the user may not see answers 404, exactly as a case that does not exist, so that ids cannot be probed.
"""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import Http404

from .models import Case

__all__ = ["role", "cases_for", "case_for", "may", "student_label"]

# what each role may do; views ask ``may(user, what)``
_RIGHTS = {
    "county": {"critical", "cases", "case", "scores", "add_event", "dashboard", "export", "audit", "accounts", "find"},
    "school": {"critical", "cases", "case", "scores", "add_event", "export", "find"},
    "class": {"critical", "cases", "case", "add_event"},
    "leader": {"dashboard", "export"},  # export: the dashboard only, suppressed as on the page
}


def role(user) -> str | None:
    account = getattr(user, "account", None) if user.is_authenticated else None
    return account.role if account else None


def may(user, what: str) -> bool:
    return what in _RIGHTS.get(role(user) or "", set())


def cases_for(user):
    """The cases ``user`` may see (an empty queryset for a role that sees no student)."""
    r = role(user)
    qs = Case.objects.all()
    if r == "county":
        return qs
    a = getattr(user, "account", None)
    if r == "school":
        return qs.filter(school=a.school)
    if r == "class":
        return qs.filter(school=a.school, grade=a.grade, klass=a.klass)
    return qs.none()


def case_for(user, case_id) -> Case:
    """The case, if ``user`` may see it; else 404 (the same answer as for an id that does not exist)."""
    try:
        return cases_for(user).get(pk=case_id)
    except (Case.DoesNotExist, ValueError, ValidationError) as exc:  # a malformed UUID is a 404 too
        raise Http404() from exc


def pseudonym(student_key: str) -> str:
    """A stable pseudonym for the county's view: a keyed hash of the student key (``P-`` and 10 hex digits)."""
    digest = hmac.new(settings.SECRET_KEY.encode(), student_key.encode(), hashlib.sha256).hexdigest()
    return "P-" + digest[:10]


def student_label(user, student_key: str) -> str:
    """How ``user`` sees a student: the key at the school, a pseudonym at the county with --pseudonymise."""
    if role(user) == "county" and settings.PSYSCREEN_PSEUDONYMISE:
        return pseudonym(student_key)
    return student_key
