"""Making accounts: a Django user (password hashed by Django) and its role and scope."""

from __future__ import annotations

from typing import Optional

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from .models import Account

__all__ = ["make_account", "AccountError"]


class AccountError(ValueError):
    """An account that cannot be made as asked (what is wrong, what to do)."""


def make_account(username: str, password: str, role: str, *, school: str = "", grade: Optional[int] = None,
                 klass: str = "", lang: str = "zh", check_password: bool = True):
    """Make (or update) the account ``username`` with ``role`` and its scope; returns the user.

    A school account needs ``school``; a class account needs ``school``, ``grade`` and ``klass``.
    """
    if role not in ("county", "school", "class", "leader"):
        raise AccountError("role must be county, school, class or leader")
    if role in ("school", "class") and not school:
        raise AccountError(f"a {role} account needs --school")
    if role == "class" and (grade is None or not klass):
        raise AccountError("a class account needs --grade and --class")
    User = get_user_model()
    with transaction.atomic():
        user, _ = User.objects.get_or_create(username=username)
        if check_password:
            try:
                validate_password(password, user)
            except ValidationError as exc:
                raise AccountError("password: " + " ".join(exc.messages)) from None
        user.set_password(password)
        user.save()
        Account.objects.update_or_create(user=user, defaults=dict(
            role=role, school=school if role in ("school", "class") else "",
            grade=grade if role == "class" else None, klass=klass if role == "class" else "", lang=lang))
    return user
