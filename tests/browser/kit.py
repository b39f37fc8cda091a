"""The browser-test kit: Debian's Chromium driven by Playwright, offline, with axe-core,
screenshots and the console's dev login. tests/browser/conftest.py builds the fixtures on it;
the journeys call `axe`, `shoot` and `login` with the page they are given."""

from __future__ import annotations

import http.server
import json
import os
import re
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import BrowserContext, ConsoleMessage, Page, Route, WebSocketRoute, expect

from tests.conftest import ROOT

AXE_CORE = ROOT / "tests" / "vendor" / "axe-core-4.14.1" / "axe.min.js"
ARTIFACTS = ROOT / "test-artifacts" / "console"
SIZES = {"desktop": (1280, 800), "mobile": (390, 844)}
"""The screenshots' viewports: a control-room desktop and a phone (iPhone 12-15's CSS size)."""
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})
BLOCKING_IMPACTS = ("serious", "critical")
ANSWERED_WITH_AN_ERROR = "Failed to load resource: the server responded with a status of"
"""How Chromium logs an HTTP error answer to any request (a console error of its own)."""


def chromium_executable() -> str:
    """Debian's Chromium: `CHROMIUM` if set, else `chromium` on PATH, else /usr/bin/chromium.
    Playwright's own browser build cannot be downloaded here; `./dev test` installs the
    `chromium` package when it is missing."""
    for candidate in (os.environ.get("CHROMIUM"), shutil.which("chromium"), "/usr/bin/chromium"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise RuntimeError(
        "Chromium is missing: `./dev test` installs it, or: sudo apt-get install -y chromium "
        "fonts-noto-cjk (or set CHROMIUM to a Chromium binary)"
    )


@dataclass
class PageWatch:
    """What a test's pages did that must fail it: a request that left 127.0.0.1 (aborted
    before it left), a console error (CSP violations are reported as such) or an uncaught
    page error. The conftest fails the test with `problems()` once its body has run."""

    outside: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    _api_calls: set[str] = field(default_factory=set)
    """URLs the pages fetched (fetch or XHR): a 4xx or 5xx answer to one is the app's to
    handle (a `support` person's 403 is a journey's point), not a console error."""

    def attach(self, context: BrowserContext) -> None:
        context.route("**/*", self._request)
        context.route_web_socket(re.compile(r".*"), self._web_socket)
        context.on("page", self._watch_page)

    def _request(self, route: Route) -> None:
        if is_local(route.request.url):
            if route.request.resource_type in ("fetch", "xhr"):
                self._api_calls.add(route.request.url)
            route.fallback()
        else:
            self.outside.append(f"{route.request.method} {route.request.url}")
            route.abort("blockedbyclient")

    def _web_socket(self, socket: WebSocketRoute) -> None:
        if is_local(socket.url):
            socket.connect_to_server()
        else:
            self.outside.append(f"WebSocket {socket.url}")
            socket.close(code=1008, reason="offline test")

    def _watch_page(self, page: Page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.page_errors.append(f"{page.url}: {error}"))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        where = message.location.get("url") or (message.page.url if message.page else "")
        if where in self._api_calls and message.text.startswith(ANSWERED_WITH_AN_ERROR):
            return
        self.console_errors.append(f"{where}: {message.text}")

    def problems(self, *, console_errors: bool = True) -> list[str]:
        found = [f"request left 127.0.0.1 (aborted): {url}" for url in self.outside]
        found += [f"page error: {text}" for text in self.page_errors]
        if console_errors:
            found += [f"console error: {text}" for text in self.console_errors]
        return found

    def forget(self) -> None:
        """Clear what was seen: for a test that provokes one of these on purpose."""
        self.outside.clear()
        self.console_errors.clear()
        self.page_errors.clear()


def is_local(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about"):
        return True
    return parts.hostname in LOCAL_HOSTS


class QuietHandler(http.server.BaseHTTPRequestHandler):
    """A request handler for a test's own little site, without a log line per request."""

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def serving(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    """A local HTTP server on a free port for the `with` block; its base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@cache
def _axe_source() -> str:
    return AXE_CORE.read_text(encoding="utf-8")


def axe(page: Page, *, impacts: tuple[str, ...] = BLOCKING_IMPACTS) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it stands, those of the given impacts (serious
    and critical by default). The console's CSP (`script-src 'self'`) blocks a script tag with
    axe inline, so axe is evaluated through the DevTools protocol, which CSP does not govern;
    the page's own policy stays in force for everything else."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(_axe_source())
    results = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    )
    return [v for v in results if v.get("impact") in impacts]


def axe_report(violations: list[dict[str, Any]]) -> str:
    """The violations as a person fixing them wants to read them: rule, impact, what it means,
    and each offending element's selector with axe's summary of the fix."""
    lines = []
    for violation in violations:
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']}")
        for node in violation["nodes"]:
            summary = " ".join(str(node.get("failureSummary", "")).split())
            lines.append(f"    {' '.join(map(str, node['target']))}: {summary}")
    return "\n".join(lines)


def assert_accessible(page: Page) -> None:
    """Fail, with `axe_report`, if axe finds a serious or critical violation on the page.
    Every check is also recorded, all impacts, in test-artifacts/console/axe.jsonl (one line
    per page checked: the page, and each violated rule with its impact and element count)."""
    everything = axe(page, impacts=("minor", "moderate", "serious", "critical"))
    _record_axe(page, everything)
    violations = [v for v in everything if v.get("impact") in BLOCKING_IMPACTS]
    assert not violations, f"axe-core on {page.url}:\n{axe_report(violations)}"


def _record_axe(page: Page, violations: list[dict[str, Any]], directory: Path = ARTIFACTS) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    line = {
        "page": urlsplit(page.url).fragment or urlsplit(page.url).path,
        "lang": page.evaluate("() => document.documentElement.lang"),
        "width": page.viewport_size["width"] if page.viewport_size else None,
        "violations": [
            {"rule": v["id"], "impact": v.get("impact"), "nodes": len(v["nodes"])}
            for v in violations
        ],
    }
    with (directory / "axe.jsonl").open("a", encoding="utf-8") as out:
        out.write(json.dumps(line, ensure_ascii=False) + "\n")


def shoot(page: Page, name: str, directory: Path = ARTIFACTS) -> list[Path]:
    """Screenshots of what the viewport shows at the desktop and the phone size, saved as
    test-artifacts/console/<name>-desktop.png and -mobile.png. The page is resized in place
    (CSS media queries follow; it is not a touch device) and put back afterwards."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", name):
        raise ValueError(f"a screenshot name is lowercase words joined by '-': {name!r}")
    directory.mkdir(parents=True, exist_ok=True)
    before = page.viewport_size
    saved = []
    try:
        for label, (width, height) in SIZES.items():
            page.set_viewport_size({"width": width, "height": height})
            # Two animation frames: the layout at the new size has been painted.
            page.evaluate(
                "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"
            )
            path = directory / f"{name}-{label}.png"
            page.screenshot(path=path, animations="disabled", caret="hide")
            saved.append(path)
    finally:
        if before is not None:
            page.set_viewport_size(before)
    return saved


# The console's dev login page (local stack only), in one place: DESIGN §4e and the console
# shell own these words; when they change, only this changes.
LOGIN_PATH = "/console/"
PERSON_LABEL = re.compile(r"이름\(아이디\)|\bPerson\b")
ROLE_LABELS = {"admin": "관리자", "operator": "운영자", "finance": "재무", "support": "상담"}
LOGIN_BUTTON = "로그인"


def login(page: Page, person: str, roles: tuple[str, ...] | list[str]) -> None:
    """Sign in through the console's dev login page as `person` with `roles`, as a developer
    does by hand, and wait until the login form is gone."""
    unknown = set(roles) - set(ROLE_LABELS)
    if unknown:
        raise ValueError(f"not staff roles: {sorted(unknown)}")
    page.goto(LOGIN_PATH)
    person_field = page.get_by_label(PERSON_LABEL)
    person_field.fill(person)
    for role, korean in ROLE_LABELS.items():
        box = page.get_by_label(re.compile(rf"{korean}|\b{role}\b", re.I))
        box.set_checked(role in roles)
    page.get_by_role("button", name=LOGIN_BUTTON).click()
    expect(person_field).to_be_hidden()
