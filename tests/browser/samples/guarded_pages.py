"""Pages that break the browser tests' rules, one per test: tests/browser/test_browser_kit.py
runs this file in a pytest of its own and reads which tests failed and why. Not collected by
a normal run (its name does not start with test_)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page

OUTSIDE = "http://example.com/tracker.js"


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
