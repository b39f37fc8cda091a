"""Browser tests: the console in Debian's Chromium (Playwright), on the session's local stack,
offline. Every test gets fresh contexts (a cold cache, no storage); a request that leaves
127.0.0.1, a console error (a CSP violation is one) or an uncaught page error fails it.
The kit itself (axe, screenshots, the dev login) is tests/browser/kit.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.browser.kit import SIZES, PageWatch, chromium_executable

if TYPE_CHECKING:
    from tests.e2e.conftest import Stack

_HERE = Path(__file__).parent
WATCH = pytest.StashKey[PageWatch]()
ALLOW_CONSOLE_ERRORS = "allow_console_errors"
"""The marker of a test that must provoke console errors; outside requests and page errors
still fail it."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _HERE in item.path.parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the worker's session. While Playwright's sync API runs, its
    event loop is the thread's running loop (asyncio.run would refuse); no test here uses
    asyncio, and it stops at the session's end."""
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_executable(), headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page_watch(request: pytest.FixtureRequest) -> PageWatch:
    watch = PageWatch()
    request.node.stash[WATCH] = watch
    return watch


@pytest.fixture
def new_page(browser: Browser, page_watch: PageWatch) -> Iterator[Callable[..., Page]]:
    """Open a page in a new context of its own (cold cache, empty storage: another person on
    another machine), guarded by the test's PageWatch; `base_url` makes `page.goto("/x")`
    relative to it. Korean locale and Seoul time, like the city's staff."""
    contexts = []

    def open_page(base_url: str | None = None) -> Page:
        width, height = SIZES["desktop"]
        context = browser.new_context(
            base_url=base_url,
            viewport={"width": width, "height": height},
            locale="ko-KR",
            timezone_id="Asia/Seoul",
            service_workers="block",
        )
        contexts.append(context)
        page_watch.attach(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def console(stack: Stack, new_page: Callable[..., Page]) -> Page:
    """A fresh page whose base URL is the local stack's API (the console is at `/console/`);
    not logged in: `kit.login(page, person, roles)`."""
    return new_page(stack.api_url)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Fail a test whose pages did what PageWatch forbids, naming each thing, after its body
    ran (also when the body failed: an aborted request is often why)."""
    try:
        result = yield
    except Exception as failure:
        problems = _problems(item)
        if problems:
            raise pytest.fail.Exception(_message(problems), pytrace=False) from failure
        raise
    problems = _problems(item)
    if problems:
        pytest.fail(_message(problems), pytrace=False)
    return result


def _problems(item: pytest.Item) -> list[str]:
    watch = item.stash.get(WATCH, None)
    if watch is None:
        return []
    return watch.problems(console_errors=item.get_closest_marker(ALLOW_CONSOLE_ERRORS) is None)


def _message(problems: list[str]) -> str:
    """Each thing on a line of its own, the first one on the short summary's line."""
    return "\n".join(problems)
