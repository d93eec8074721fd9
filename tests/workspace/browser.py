"""A real browser for the workspace's page tests: Debian's headless Chromium driven by Selenium.

Chromium (``/usr/bin/chromium``) and its driver (``/usr/bin/chromedriver``, Debian's ``chromium-driver``) are used
as installed: Selenium is given both paths, so Selenium Manager never looks for or downloads a browser. If either is
missing the tests fail (never skip) with a message saying that ``make test`` installs them.

Fixtures
--------
``chrome``
    One headless Chromium for the whole session (a fresh profile in a temporary directory), quit at the end.
``live_server``
    pytest-django's live server, started so that Django's test server can serve the workspace (see below).
``fast_passwords``
    A fast password hasher while the test makes its accounts and signs in.
``browser``
    A :class:`Browser` on pytest-django's ``live_server`` with a clean slate (no cookies) for one test, on the
    transactional test database, which is emptied after the test (the append-only tables included).

Import them into a test module: ``from .browser import browser, chrome, fast_passwords, flushable_db, live_server  # noqa: F401``.
"""

from __future__ import annotations

import importlib
import os
import shutil
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CHROMIUM = Path(os.environ.get("PSYSCREEN_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("PSYSCREEN_CHROMEDRIVER", "/usr/bin/chromedriver"))
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--window-size=1280,900")
WAIT = 20  # seconds: the longest a page or an element may take on a busy machine

__all__ = ["Browser", "Page", "chrome", "browser", "fast_passwords", "flushable_db", "live_server", "start_chromium"]


def start_chromium(profile: Path):
    """A headless Chromium with a fresh profile in ``profile``, driven by Debian's chromedriver.

    Fails the test (with what to do) if Chromium or chromedriver is missing.
    """
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not (p.is_file() and os.access(p, os.X_OK))]
    if missing:
        pytest.fail(f"the browser tests need Debian's chromium and chromium-driver ({', '.join(missing)} not "
                    f"found); `make test` installs them (apt-get install chromium chromium-driver)", pytrace=False)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.page_load_strategy = "normal"
    service = Service(executable_path=str(CHROMEDRIVER), log_output=os.devnull)
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(WAIT)
    return driver


@pytest.fixture(scope="session")
def chrome(live_server):
    """One headless Chromium for the session; quit (and its profile removed) at the end, before the live server
    stops (the browser's open connections end while the server can still close them cleanly)."""
    profile = Path(tempfile.mkdtemp(prefix="psyscreen-chromium-"))
    driver = None
    try:
        driver = start_chromium(profile)
        yield driver
    finally:
        if driver is not None:
            driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="session")
def live_server(request):
    """pytest-django's live server (the workspace in a thread, on the test database), started with a
    ``STATIC_URL``: Django's test server wraps the site in a static-files handler that reads ``STATIC_URL`` once,
    at start, and fails every request when it is unset (the workspace serves no static file, so it sets none)."""
    from django.test.utils import override_settings
    from pytest_django.live_server_helper import LiveServer

    addr = request.config.getvalue("liveserver") or os.getenv("DJANGO_LIVE_TEST_SERVER_ADDRESS") or "localhost"
    with override_settings(STATIC_URL="/static/"):
        server = LiveServer(addr)
    yield server
    # the threads serving the browser's last connections finish (they close the shared test database
    # connection, which must still be shared with them) before the server stops
    deadline = time.monotonic() + 5
    for t in threading.enumerate():
        if t is not threading.current_thread() and "process_request_thread" in t.name:
            t.join(max(0.0, deadline - time.monotonic()))
    server.stop()


@pytest.fixture
def fast_passwords(settings):
    """A fast password hasher for the test's accounts and sign-ins (Django's advice for tests: the real one takes
    about a second a hash by design). The live server shares the settings, so it checks them with it too."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def flushable_db(transactional_db):
    """The transactional test database (the live server sees what the test writes), emptied after the test.

    Django empties the tables with ``DELETE``, which the append-only triggers of migration 0002 refuse. This
    fixture's teardown runs before that flush: it lifts the triggers, empties the two append-only tables and puts
    the triggers back (with the migration's own code), so the flush finds nothing there to refuse and the next
    test still has a database that refuses to change an event.
    """
    yield
    from django.db import connection

    mod = importlib.import_module("psyscreen.workspace.migrations.0002_append_only")
    with connection.schema_editor() as editor:
        mod.backwards(None, editor)
        for table in mod.TABLES:
            editor.execute(f"DELETE FROM {table}")
        mod.forwards(None, editor)


@dataclass
class Page:
    """What the browser shows: where it is, the HTTP status of the page, its text and its HTML."""

    url: str
    status: int
    text: str
    html: str

    @property
    def path(self) -> str:
        return urlsplit(self.url).path


@dataclass
class Browser:
    """The session's Chromium pointed at the live server, with the few things a page test does.

    Every URL the browser was at, and every link and form target on the pages it read, is kept in ``urls``
    (to check that none carries a student key).

    Examples
    --------
    In a test with the ``browser`` fixture (not a doctest: it needs the live server)::

        b.login("psy1", PASSWORD)
        b.click("a.case-link")
        page = b.record_event("closed", date="2026-09-30", by="王老师", outcome="resolved")
        assert page.status == 200 and b.text("#case-status") == "closed"
    """

    driver: object
    base: str
    urls: list = field(default_factory=list)

    # --- navigation -------------------------------------------------------------------------------------------
    def get(self, path: str) -> Page:
        """Open ``path`` (``/critical/``) or a full URL, and read the page."""
        self.driver.get(path if "://" in path else self.base + path)
        return self.page()

    def page(self) -> Page:
        """The page as it is now (the HTTP status from the browser's Navigation Timing)."""
        d = self.driver
        status = d.execute_script(
            "const n = performance.getEntriesByType('navigation')[0]; return n ? n.responseStatus : null;")
        links = d.execute_script(
            "return Array.from(document.querySelectorAll('a[href], form[action]'))"
            ".map(e => e.href || e.action);")
        self.urls.append(d.current_url)
        self.urls.extend(links or [])
        body = d.find_elements("tag name", "body")
        return Page(url=d.current_url, status=int(status or 0), text=body[0].text if body else "",
                    html=d.page_source)

    def _after(self, act) -> Page:
        """Do ``act`` (a click that loads a page) and wait for the new page.

        The page in the window is marked with a fresh token before ``act``; the new page is there when the window
        holds a document without that token whose loading is complete. (Waiting for an old element to go stale
        raced with Chromium while the document was being replaced: the driver then raised "Node with given id
        does not belong to the document" rather than reporting the element stale.) While the document is being
        replaced a script may fail to run: such errors are waited through, up to ``WAIT`` seconds.
        """
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.support.ui import WebDriverWait

        token = uuid.uuid4().hex
        self.driver.execute_script("window.__psyscreenPage = arguments[0];", token)
        act()
        WebDriverWait(self.driver, WAIT, poll_frequency=0.05, ignored_exceptions=(WebDriverException,)).until(
            lambda d: d.execute_script(
                "return window.__psyscreenPage !== arguments[0] && document.readyState === 'complete';", token),
            message="the page did not load after the click")
        return self.page()

    def click(self, css: str) -> Page:
        """Click the (first) element matching ``css`` that loads a page, and read the new page."""
        el = self.find(css)
        return self._after(el.click)

    def submit(self, css: str = "#event-submit") -> Page:
        """Click a submit button and read the page the server answers with."""
        return self.click(css)

    def back(self) -> Page:
        return self._after(self.driver.back)

    # --- elements ---------------------------------------------------------------------------------------------
    def find(self, css: str):
        return self.driver.find_element("css selector", css)

    def all(self, css: str) -> list:
        return self.driver.find_elements("css selector", css)

    def has(self, css: str) -> bool:
        return bool(self.all(css))

    def text(self, css: str) -> str:
        return self.find(css).text.strip()

    def fill(self, name: str, value: str) -> None:
        """Put ``value`` in the form field ``name`` (the element ``#id_<name>``).

        A ``<select>`` gets the option whose value is ``value`` (a kind or outcome code; waited for, in case the
        page fills the list when another field changes); a date input gets the ISO date (what a date picker
        submits; typing into it depends on the browser's locale); any other input is cleared and typed into.
        """
        from selenium.webdriver.support.ui import Select, WebDriverWait

        css = f"#id_{name}"
        el = self.find(css)
        if not el.is_displayed():
            raise AssertionError(f"{css} is not shown on the page: a user could not fill it")
        tag = el.tag_name.lower()
        if tag == "select":
            WebDriverWait(self.driver, WAIT, poll_frequency=0.05).until(
                lambda d: d.find_elements("css selector", f"{css} option[value='{value}']"),
                message=f"{css} has no option {value!r}")
            Select(el).select_by_value(value)
        elif (el.get_attribute("type") or "").lower() == "date":
            self.driver.execute_script(
                "arguments[0].value = arguments[1];"
                "arguments[0].dispatchEvent(new Event('input', {bubbles: true}));"
                "arguments[0].dispatchEvent(new Event('change', {bubbles: true}));", el, value)
            assert el.get_attribute("value") == value, f"{css} refused the date {value!r}"
        else:
            el.clear()
            el.send_keys(value)

    def record_event(self, kind: str, **fields) -> Page:
        """Fill the event form of the case page (the kind first, then the fields) and submit it."""
        self.fill("kind", kind)
        for name, value in fields.items():
            self.fill(name, value)
        return self.submit("#event-submit")

    # --- signing in and out -----------------------------------------------------------------------------------
    def login(self, username: str, password: str) -> Page:
        """Sign in through the login form; the page the workspace lands on."""
        self.get("/login/")
        self.fill("username", username)
        self.fill("password", password)
        return self.submit("#login-submit")

    def logout(self) -> Page:
        return self.click("#logout")


@pytest.fixture
def browser(chrome, live_server, flushable_db, fast_passwords) -> Browser:
    """The session's Chromium, with no cookies left by an earlier test, on the live server."""
    chrome.get("about:blank")
    chrome.execute_cdp_cmd("Network.clearBrowserCookies", {})  # every site's, not only the current page's
    return Browser(chrome, live_server.url)
