"""The workspace's forms: an event (built from :data:`psyscreen.followup.EVENT_KINDS`), finding a student, and
making an account. Every rule of an event is :func:`psyscreen.followup.validate_event`'s: the Excel import and the
web form refuse the same things with the same words.
"""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.utils import timezone

from .. import followup
from .models import ROLES
from .words import level_words, problem_words, role_words, words_for

__all__ = ["EventForm", "FindForm", "AccountForm", "event_field_names"]


def event_field_names() -> list[str]:
    """Every field name of every event kind, in the order the kinds list them (``date``, ``by``, ...)."""
    names: list[str] = []
    for k in followup.EVENT_KINDS.values():
        for f in k.fields:
            if f.name not in names:
                names.append(f.name)
    return names


def _field_words(name: str, lang: str) -> str:
    """The words of a field name: of its first kind, with the other kinds' words when they differ."""
    seen = []
    for k in followup.EVENT_KINDS.values():
        for f in k.fields:
            if f.name == name:
                word = f.zh if lang == "zh" else f.en
                if word not in seen:
                    seen.append(word)
    return " / ".join(seen)


def _outcome_choices(lang: str, blank: str) -> list:
    """The outcome codes grouped by the event kinds that use them (``<optgroup>``), words in ``lang``."""
    groups = [("", blank)]
    for k in followup.EVENT_KINDS.values():
        for f in k.fields:
            if f.kind == "choice":
                group = f.choices[0]
                words = [(code, followup.label(code, lang, group=group)) for code in followup.OUTCOMES[group]]
                groups.append((followup.label(k.code, lang), words))
    return groups


class EventForm(forms.Form):
    """One follow-up event: its kind, then the fields of every kind (those of the chosen kind are used).

    ``corrects`` (hidden) is the id of the event this one corrects. Validation is
    :func:`psyscreen.followup.validate_event`'s, its problems shown next to their fields; a field filled in that the
    chosen kind does not have is a problem too (nothing typed is silently dropped).
    """

    def __init__(self, *args, lang: str = "zh", today=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.lang = lang
        self.today = today or timezone.localdate()
        w = words_for(lang)
        self.fields["kind"] = forms.ChoiceField(label=w["kind"], choices=followup.kinds_for(lang))
        for name in event_field_names():
            words = _field_words(name, lang)
            if name == "date":
                field = forms.CharField(label=words, required=False,
                                        widget=forms.DateInput(attrs={"type": "date"}))
            elif name == "outcome":
                field = forms.ChoiceField(label=words, required=False, choices=_outcome_choices(lang, w["choose"]))
            elif name == "reassessed_level":
                field = forms.ChoiceField(label=words, required=False, choices=[("", w["choose"])] + [
                    (c, level_words(c, lang)) for c in followup.LEVEL_CHOICES])
            elif name == "note":
                field = forms.CharField(label=words, required=False, max_length=2000,
                                        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}))
            else:
                field = forms.CharField(label=words, required=False, max_length=300)
            self.fields[name] = field
        self.fields["corrects"] = forms.UUIDField(required=False, widget=forms.HiddenInput)
        self.event = None

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        if not kind:
            return data
        values = {name: data.get(name) for name in event_field_names() if data.get(name) not in (None, "")}
        try:
            self.event = followup.validate_event(kind, values, today=self.today,
                                                 corrects=str(data["corrects"]) if data.get("corrects") else None)
        except followup.EventError as exc:
            for name, problem in exc.problems.items():
                self.add_error(name if name in self.fields else None, problem_words(problem, self.lang))
        return data


class FindForm(forms.Form):
    """A student key (or, at the county with pseudonyms, a pseudonym): posted, never put in a URL."""

    key = forms.CharField(max_length=128, strip=True,
                          widget=forms.TextInput(attrs={"autocomplete": "off", "size": 14}))


class AccountForm(forms.Form):
    """A new account, made by the county centre (:func:`psyscreen.workspace.accounts.make_account`)."""

    username = forms.CharField(max_length=150)
    password = forms.CharField(widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}), strip=False)
    password2 = forms.CharField(widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}), strip=False)
    role = forms.ChoiceField()
    school = forms.CharField(max_length=200, required=False)
    grade = forms.IntegerField(required=False, min_value=1, max_value=12)
    klass = forms.CharField(max_length=100, required=False)
    lang = forms.ChoiceField(choices=[("zh", "中文"), ("en", "English")])

    def __init__(self, *args, lang: str = "zh", **kwargs):
        super().__init__(*args, **kwargs)
        w = words_for(lang)
        self.words = w
        self.fields["role"].choices = [(code, role_words(code, lang)) for code, _ in ROLES]
        for name, key in (("username", "username"), ("password", "password"), ("password2", "password2"),
                          ("role", "role"), ("school", "school"), ("grade", "grade"), ("klass", "class"),
                          ("lang", "lang")):
            self.fields[name].label = w[key]

    def clean_username(self):
        name = self.cleaned_data["username"]
        if get_user_model().objects.filter(username=name).exists():
            raise forms.ValidationError(self.words["username_taken"])
        return name

    def clean(self):
        data = super().clean()
        role = data.get("role")
        if role in ("school", "class") and not data.get("school"):
            self.add_error("school", self.words["needs_school"])
        if role == "class" and (data.get("grade") is None or not data.get("klass")):
            self.add_error("klass", self.words["needs_class"])
        pw, pw2 = data.get("password"), data.get("password2")
        if pw and pw2 and pw != pw2:
            self.add_error("password2", self.words["passwords_differ"])
        elif pw and data.get("username"):
            user = get_user_model()(username=data["username"])
            try:
                validate_password(pw, user)  # Django's validators (AUTH_PASSWORD_VALIDATORS)
            except forms.ValidationError as exc:
                self.add_error("password", exc)
        return data
