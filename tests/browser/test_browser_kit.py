"""The browser-test kit proves itself: the offline guard aborts a request that leaves
127.0.0.1 and fails its test naming it, console and page errors fail a test, axe-core runs
under the console's own CSP and tells a bad page from a good one, screenshots are written at
both sizes, and Korean is drawn with a CJK font (not tofu)."""

from __future__ import annotations

import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page

from infra.console_site import security_headers
from tests.browser import kit
from tests.browser.kit import PageWatch
from tests.conftest import ROOT

GOOD_PAGE = """<!doctype html>
<html lang="ko"><head><meta charset="utf-8"><title>도시 현황</title></head>
<body><header><h1>김해 스마트시티 관제실</h1></header>
<main><p>열린 경보 3건</p>
<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" alt="대기 등급 범례">
<button type="button">확인</button></main></body></html>"""

BAD_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"></head>
<body><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw="><button type="button"></button>
<a href="/elsewhere"></a></body></html>"""

LOGIN_PAGE = """<!doctype html>
<html lang="ko"><head><meta charset="utf-8"><title>로그인</title></head>
<body><main><form action="/console/signed-in" method="get">
<label for="person">이름(아이디)</label><input id="person" name="person" type="text">
<fieldset><legend>역할</legend>
<label><input type="checkbox" name="role" value="admin">관리자</label>
<label><input type="checkbox" name="role" value="operator" checked>운영자</label>
<label><input type="checkbox" name="role" value="finance">재무</label>
<label><input type="checkbox" name="role" value="support">상담</label></fieldset>
<button type="submit">로그인</button></form></main></body></html>"""
"""The console's dev login as agreed (the shell is not written yet): kit.login fills it."""


class _Site(kit.QuietHandler):
    """Serves the pages above with the console's own security headers."""

    pages: ClassVar[dict[str, str]] = {
        "/good.html": GOOD_PAGE,
        "/bad.html": BAD_PAGE,
        "/console/": LOGIN_PAGE,
    }
    signed_in: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        path, _, query = self.path.partition("?")
        if path == "/console/signed-in":
            self.signed_in.append(query)
        body = self.pages.get(path, GOOD_PAGE if path == "/console/signed-in" else None)
        self.send_response(200 if body else 404)
        self.send_header("content-type", "text/html; charset=utf-8")
        for name, value in security_headers().items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write((body or "").encode())


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    with kit.serving(_Site) as url:
        yield url


def test_a_request_to_an_outside_host_is_aborted(
    new_page: Callable[..., Page], page_watch: PageWatch
) -> None:
    # GIVEN a page that fetches from the internet
    page = new_page()
    page.set_content("<p>hello</p>")
    failures: list[str] = []
    page.on("requestfailed", lambda request: failures.append(str(request.failure)))
    # WHEN it runs
    answer = page.evaluate(
        "() => fetch('http://example.com/').then(() => 'reached', () => 'refused')"
    )
    # THEN the request never left: Chromium was told the client blocked it
    assert answer == "refused"
    assert len(failures) == 1 and failures[0].startswith("net::ERR_BLOCKED_BY_CLIENT"), failures
    assert page_watch.outside == ["GET http://example.com/"]
    page_watch.forget()  # provoked on purpose: this test passes


def test_breaking_the_rules_fails_the_test_naming_what(tmp_path: Path) -> None:
    # GIVEN pages that reach outside, log errors, throw or break the console's CSP
    # (tests/browser/samples)
    report = tmp_path / "report.xml"
    # WHEN their tests run in a pytest of their own
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-n",
            "0",
            f"--junitxml={report}",
            "tests/browser/samples/guarded_pages.py",
        ],
        cwd=ROOT,
        capture_output=True,
        check=False,
        timeout=120,
    )
    outcomes = {}
    for case in ET.parse(report).iter("testcase"):
        failure = case.find("failure")
        outcomes[case.get("name")] = "passed" if failure is None else failure.get("message", "")
    # THEN each failed, naming the request or the error; the rest passed
    assert outcomes.pop("test_local_only") == "passed"
    assert outcomes.pop("test_console_error_allowed") == "passed"
    assert outcomes.pop("test_api_error_answer") == "passed"  # the app's to handle
    expected = {
        "test_fetch_outside": "request left 127.0.0.1 (aborted): GET http://example.com/tracker.js",
        "test_image_outside": "request left 127.0.0.1 (aborted): GET https://tiles.example.org/1/2/3.png",
        "test_web_socket_outside": "request left 127.0.0.1 (aborted): WebSocket wss://push.example.net/live",
        "test_console_error": "console error: about:blank: the alerts did not load",
        "test_page_error": "page error: about:blank: marker layer broke",
        "test_missing_image": "/console/img/legend.png: Failed to load resource: the server "
        "responded with a status of 404",
        "test_inline_script_under_the_csp": "/inline.html: Executing inline script violates "
        "the following Content Security Policy directive 'script-src 'self''",
        "test_failure_keeps_its_cause": "request left 127.0.0.1 (aborted): GET http://example.com/tracker.js",
    }
    assert set(outcomes) == set(expected)
    for name, line in expected.items():
        assert line in outcomes[name], f"{name}: {outcomes[name]}"


def test_axe_runs_under_the_consoles_csp_and_finds_a_bad_page(
    new_page: Callable[..., Page], site: str
) -> None:
    # GIVEN a page served with the console's CSP (script-src 'self': no inline script)
    page = new_page(site)
    response = page.goto("/bad.html")
    assert response is not None
    assert "script-src 'self'" in response.headers["content-security-policy"]
    # WHEN axe looks at it
    violations = kit.axe(page)
    # THEN it names the missing title and language, the image without a text alternative,
    # the unnamed button and link
    found = {v["id"]: v["impact"] for v in violations}
    assert found == {
        "document-title": "serious",
        "html-has-lang": "serious",
        "image-alt": "critical",
        "button-name": "critical",
        "link-name": "serious",
    }
    report = kit.axe_report(violations)
    assert "image-alt (critical): Images must have alternative text" in report
    with pytest.raises(AssertionError, match=r"axe-core on .*/bad\.html:\nbutton-name"):
        kit.assert_accessible(page)
    # (and injecting axe raised no CSP violation: the watch would fail this test)


def test_axe_finds_nothing_serious_on_a_good_page(new_page: Callable[..., Page], site: str) -> None:
    page = new_page(site)
    page.goto("/good.html")
    kit.assert_accessible(page)


def test_screenshots_at_the_desktop_and_the_phone_size(
    new_page: Callable[..., Page], tmp_path: Path
) -> None:
    page = new_page()
    page.set_content(f"<body>{GOOD_PAGE}</body>")
    saved = kit.shoot(page, "kit-self-test", directory=tmp_path)
    assert [path.name for path in saved] == [
        "kit-self-test-desktop.png",
        "kit-self-test-mobile.png",
    ]
    assert [_png_size(path) for path in saved] == [(1280, 800), (390, 844)]
    assert page.viewport_size == {"width": 1280, "height": 800}  # put back


def test_korean_is_drawn_with_a_cjk_font(new_page: Callable[..., Page]) -> None:
    # GIVEN Korean text in the browser's default sans-serif, as the console uses it
    page = new_page()
    page.set_content('<p lang="ko" style="font-family: sans-serif">관제실 경보 확인</p>')
    # WHEN Chromium lays it out
    session = page.context.new_cdp_session(page)
    session.send("DOM.enable")
    session.send("CSS.enable")
    root = session.send("DOM.getDocument")["root"]["nodeId"]
    node = session.send("DOM.querySelector", {"nodeId": root, "selector": "p"})["nodeId"]
    fonts = session.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    # THEN every glyph came from a CJK font (Noto Sans CJK: fonts-noto-cjk), none is tofu
    assert fonts, "no font drew the text"
    assert all("CJK" in font["familyName"] for font in fonts), fonts
    assert sum(font["glyphCount"] for font in fonts) == len("관제실 경보 확인")


def test_login_fills_the_dev_login_form(new_page: Callable[..., Page], site: str) -> None:
    # GIVEN the console's dev login page, one role ticked already
    page = new_page(site)
    # WHEN a test signs in as a finance person who also does support
    kit.login(page, "kim-finance", ("finance", "support"))
    # THEN the form was sent with that person and exactly those roles
    assert _Site.signed_in == ["person=kim-finance&role=finance&role=support"]


def test_the_console_page_is_on_the_local_stack(console: Page) -> None:
    response = console.goto("/v1/openapi.json")
    assert response is not None and response.ok
    assert urlsplit(console.url).hostname == "127.0.0.1"


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", header[16:24])
    return width, height
