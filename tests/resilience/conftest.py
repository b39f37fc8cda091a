"""The resilience suite: faults, replays, poison and attacks driven through the real handlers
in-process on moto (see harness.py), each test ending with the leak scan (leaks.py)."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

# The functional suite's fixtures: a fresh emulated account (`aws`, restored from the
# session's `account`), the API through the local API Gateway (`api`); `issuer` is the
# session's, from tests/conftest.py.
from tests.functional.conftest import account as account
from tests.functional.conftest import api as api
from tests.functional.conftest import aws as aws
from tests.resilience import leaks
from tests.resilience.harness import CapturedLogs

# Counts the tests report, printed at the end of the run (pytest -rA or not).
REPORT: Counter[str] = Counter()


@pytest.fixture(autouse=True)
def resilience_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Log at INFO, as the deployed stages do, so the scan reads what production writes;
    codes are issued as fast as the scenarios ask (the rate limit has its own tests)."""
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "INFO")
    monkeypatch.setenv("DEPOSIT_CODES_PER_WINDOW", "100000")


@pytest.fixture
def logs() -> Iterator[CapturedLogs]:
    handler = CapturedLogs()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not REPORT and not leaks.SCANNED:
        return
    terminalreporter.section("resilience suite")
    for name, value in sorted(REPORT.items()):
        terminalreporter.write_line(f"{name}: {value}")
    for kind, value in sorted(leaks.SCANNED.items()):
        terminalreporter.write_line(f"scanned {kind}: {value}")
