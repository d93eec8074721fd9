"""Two small middlewares and the template words: the page language, and no caching of student pages."""

from __future__ import annotations

from .words import words_for


class LanguageMiddleware:
    """``request.lang``: the session's choice (``/lang/en/``), else the account's, else Chinese."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        lang = request.session.get("lang")
        if lang not in ("zh", "en"):
            account = getattr(getattr(request, "user", None), "account", None) if request.user.is_authenticated else None
            lang = getattr(account, "lang", "zh") or "zh"
        request.lang = lang
        return self.get_response(request)


class NoStoreMiddleware:
    """Pages about students are not kept in the browser's or a proxy's cache."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.setdefault("Cache-Control", "no-store")
        response.setdefault("Referrer-Policy", "same-origin")
        return response


def words(request) -> dict:
    """Template context: ``w`` (the words of the page language) and ``lang``."""
    lang = getattr(request, "lang", "zh")
    return {"w": words_for(lang), "lang": lang}
