"""The authorisation matrix: every URL name of the workspace x every role x the case objects, in one table.

Roles: the county, the school psychological teacher of 一中 (``school``) and of 二中 (``school_b``), the class
teacher of 一中 7-1 (``class``) and of 7-2 (``class_b``), the leader, and an anonymous visitor. Objects, for the
URLs about one case: ``own`` (一中 7-1, critical), ``other_class`` (一中 7-2), ``other_school`` (二中) and ``none``
(a UUID of no case); for the exports, the tables; for ``find``, the keys of those students and an unknown key.

An expected answer is a status (200, 403, 404, 405) or where a redirect goes: ``login`` (the login page), ``case``
(the page of the object asked for), ``cases`` (the open cases: find found nothing), ``home``. A URL name in
urls.py without a row fails :func:`test_every_url_has_a_row`.
"""

from __future__ import annotations

import uuid

import pytest

ROLES = ("county", "school", "school_b", "class", "class_b", "leader", "anonymous")
CASE_OBJECTS = ("own", "other_class", "other_school", "none")
TABLES = ("critical", "cases", "dashboard", "bogus")
KEYS = {"own": "S0001", "other_class": "S0002", "other_school": "S0003", "none": "S9999"}

# the answer of a case URL for each role, over CASE_OBJECTS
SEE = {"county": ("case", "case", "case", 404), "school": ("case", "case", 404, 404),
       "school_b": (404, 404, "case", 404), "class": ("case", 404, 404, 404), "class_b": (404, "case", 404, 404)}


def _on_cases(ok, **others):
    """Per role, over CASE_OBJECTS: ``ok`` where SEE says the role sees the case, else SEE's 404."""
    out = {r: tuple(ok if v == "case" else v for v in SEE[r]) for r in SEE}
    out.update(others)
    return out


ALL_404 = (404,) * 4
# (url name, method, objects, {role: answer or one answer per object})
MATRIX = [
    ("login", "GET", None, {"anonymous": 200, **{r: "home" for r in ROLES if r != "anonymous"}}),
    ("logout", "POST", None, {r: "login" for r in ROLES}),
    ("lang", "GET", None, {r: "home" for r in ROLES}),
    ("home", "GET", None, {"anonymous": "login", "leader": "dashboard",
                           **{r: "critical" for r in ("county", "school", "school_b", "class", "class_b")}}),
    ("critical", "GET", None, {"leader": 403, "anonymous": "login",
                               **{r: 200 for r in ("county", "school", "school_b", "class", "class_b")}}),
    ("cases", "GET", None, {"leader": 403, "anonymous": "login",
                            **{r: 200 for r in ("county", "school", "school_b", "class", "class_b")}}),
    ("case", "GET", "case", _on_cases(200, leader=(403,) * 4, anonymous=("login",) * 4)),
    ("scores", "GET", "case", _on_cases(200, **{"class": (403,) * 4, "class_b": (403,) * 4, "leader": (403,) * 4,
                                                "anonymous": ("login",) * 4})),
    ("add_event", "POST", "case", _on_cases("case", leader=(403,) * 4, anonymous=("login",) * 4)),
    ("add_event", "GET", "case", {r: (405,) * 4 for r in ROLES}),
    ("find", "POST", "key", {"county": ("case", "case", "case", "cases"), "school": ("case", "case", "cases", "cases"),
                             "school_b": ("cases", "cases", "case", "cases"), "class": (403,) * 4,
                             "class_b": (403,) * 4, "leader": (403,) * 4, "anonymous": ("login",) * 4}),
    ("find", "GET", "key", {r: (405,) * 4 for r in ROLES}),
    ("dashboard", "GET", None, {"county": 200, "leader": 200, "anonymous": "login",
                                **{r: 403 for r in ("school", "school_b", "class", "class_b")}}),
    ("export", "GET", "table", {"county": (200, 200, 200, 404), "school": (200, 200, 403, 404),
                                "school_b": (200, 200, 403, 404), "class": (403,) * 4, "class_b": (403,) * 4,
                                "leader": (403, 403, 200, 404), "anonymous": ("login",) * 4}),
    ("audit", "GET", None, {"county": 200, "anonymous": "login",
                            **{r: 403 for r in ("school", "school_b", "class", "class_b", "leader")}}),
    ("accounts", "GET", None, {"county": 200, "anonymous": "login",
                               **{r: 403 for r in ("school", "school_b", "class", "class_b", "leader")}}),
    ("accounts", "POST", None, {"county": "accounts", "anonymous": "login",
                                **{r: 403 for r in ("school", "school_b", "class", "class_b", "leader")}}),
]


@pytest.fixture(autouse=True)
def fast_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def users(accounts):
    from psyscreen.workspace.accounts import make_account

    from .conftest import PASSWORD

    return {**accounts, "class_b": make_account("teacher72", PASSWORD, "class", school="一中", grade=7, klass="2")}


@pytest.fixture
def objects(cases):
    return {"own": cases["critical"], "other_class": cases["other_class"], "other_school": cases["school_b"],
            "none": None}


def _url(name, obj_kind, obj, objects):
    from django.urls import reverse

    if name == "lang":
        return reverse(name, args=["en"])
    if obj_kind == "case":
        return reverse(name, args=[objects[obj].pk if objects[obj] else uuid.uuid4()])
    if obj_kind == "table":
        return reverse(name, args=[obj])
    return reverse(name)


_DATA = {"add_event": {"kind": "interviewed", "date": "2026-09-11", "by": "王老师", "reassessed_level": "2"},
         "accounts": {"username": "newpsy", "password": "Lz9-good-password", "password2": "Lz9-good-password",
                      "role": "school", "school": "三中", "lang": "zh"}}


def _answer(response, obj, objects):
    if response.status_code not in (301, 302):
        return response.status_code
    where = response["Location"]
    named = {"/login/": "login", "/": "home", "/cases/": "cases", "/critical/": "critical",
             "/dashboard/": "dashboard", "/accounts/": "accounts"}
    if where.split("?")[0] in named:
        return named[where.split("?")[0]]
    if obj in objects and objects[obj] is not None and where == f"/case/{objects[obj].pk}/":
        return "case"
    return f"redirect to another page"


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name, method, obj_kind, expected", MATRIX,
                         ids=[f"{m[0]}-{m[1]}" for m in MATRIX])
def test_matrix(client, users, objects, role, name, method, obj_kind, expected):
    want = expected[role]
    if role != "anonymous":
        client.force_login(users[role])
    targets = {"case": CASE_OBJECTS, "key": CASE_OBJECTS, "table": TABLES, None: (None,)}[obj_kind]
    if not isinstance(want, tuple):
        want = (want,)
    assert len(want) == len(targets), f"the row of {name} {method} for {role} has {len(want)} answers"
    got = []
    for obj in targets:
        url = _url(name, obj_kind, obj, objects)
        if method == "GET":
            response = client.get(url)
        else:
            data = {"key": KEYS[obj]} if obj_kind == "key" else _DATA.get(name, {})
            response = client.post(url, data)
        got.append(_answer(response, obj, objects))
        if name == "logout" and role != "anonymous":
            client.force_login(users[role])
    assert tuple(got) == want, f"{name} {method} as {role} over {targets}"


def test_every_url_has_a_row():
    from psyscreen.workspace.urls import urlpatterns

    names = {p.name for p in urlpatterns}
    assert None not in names, "every URL has a name"
    assert names == {row[0] for row in MATRIX}
    for row in MATRIX:
        assert set(row[3]) == set(ROLES), f"{row[0]} {row[1]}: a role without an answer"


def test_a_malformed_or_guessed_case_id_is_a_plain_404(client, users, objects):
    client.force_login(users["county"])
    for url in ("/case/not-a-uuid/", "/case/S0001/", f"/case/{uuid.uuid4()}/", f"/case/{uuid.uuid4()}/scores/"):
        r = client.get(url)
        assert r.status_code == 404 and 'id="error-message"' in r.content.decode()
        assert "S0001" not in r.content.decode()
