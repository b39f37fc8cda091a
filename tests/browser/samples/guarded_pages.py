"""Pages that break the browser tests' rules, one per test: tests/browser/test_browser_kit.py
runs this file in a pytest of its own and reads which tests failed and why. Not collected by
a normal run (its name does not start with test_)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Page

from infra.console_site import security_headers
from tests.browser import kit

OUTSIDE = "http://example.com/tracker.js"


class _Local(kit.QuietHandler):
    """/inline.html: a page with an inline script under the console's CSP; else 404."""

    def do_GET(self) -> None:
        if self.path == "/inline.html":
            self.send_response(200)
            self.send_header("content-type", "text/html")
            for name, value in security_headers().items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(b"<title>x</title><script>document.title = 'y'</script>")
            return
        self.send_response(404)
        self.send_header("access-control-allow-origin", "*")
        self.end_headers()


@pytest.fixture(scope="module")
def local() -> Iterator[str]:
    with kit.serving(_Local) as url:
        yield url


def test_fetch_outside(new_page: Callable[..., Page]) -> None:
    page = new_page()
    page.set_content("<p>hello</p>")
    page.evaluate("url => fetch(url).catch(() => null)", OUTSIDE)


def test_image_outside(new_page: Callable[..., Page]) -> None:
    page = new_page()
    page.set_content('<img alt="logo" src="https://tiles.example.org/1/2/3.png">')


def test_web_socket_outside(new_page: Callable[..., Page]) -> None:
    page = new_page()
    page.set_content("<p>hello</p>")
    page.evaluate(
        """url => new Promise(done => {
            const socket = new WebSocket(url);
            socket.onclose = socket.onerror = () => done(null);
        })""",
        "wss://push.example.net/live",
    )


def test_console_error(new_page: Callable[..., Page]) -> None:
    page = new_page()
    page.set_content("<p>hello</p>")
    page.evaluate("() => console.error('the alerts did not load')")


@pytest.mark.allow_console_errors
def test_console_error_allowed(new_page: Callable[..., Page]) -> None:
    page = new_page()
    page.set_content("<p>hello</p>")
    page.evaluate("() => console.error('expected by this test')")


def test_page_error(new_page: Callable[..., Page]) -> None:
    page = new_page()
    page.set_content("<p>hello</p>")
    page.evaluate("() => { setTimeout(() => { throw new Error('marker layer broke') }); }")
    page.wait_for_timeout(100)


def test_failure_keeps_its_cause(new_page: Callable[..., Page]) -> None:
    page = new_page()
    page.set_content("<p>hello</p>")
    page.evaluate("url => fetch(url).catch(() => null)", OUTSIDE)
    assert page.title() == "the city", "the page did not show"


def test_local_only(new_page: Callable[..., Page]) -> None:
    page = new_page()
    page.set_content("<p>hello</p>")
    assert page.locator("p").text_content() == "hello"


def test_api_error_answer(new_page: Callable[..., Page], local: str) -> None:
    page = new_page()
    page.set_content("<p>hello</p>")
    assert page.evaluate("url => fetch(url).then(r => r.status)", f"{local}/v1/payout-runs") == 404


def test_missing_image(new_page: Callable[..., Page], local: str) -> None:
    page = new_page()
    page.set_content(f'<img alt="legend" src="{local}/console/img/legend.png">')


def test_inline_script_under_the_csp(new_page: Callable[..., Page], local: str) -> None:
    page = new_page()
    page.goto(f"{local}/inline.html")
    assert page.title() == "x"  # the script did not run
