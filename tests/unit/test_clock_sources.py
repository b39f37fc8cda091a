"""The deployed code's one clock: every "now" in chalicelib and app.py is
`chalicelib.domain.clock.utc_now`, and none of it knows the local stack's test clock
(infra/local/stack_clock.py replaces `utc_now` from outside, in the local stack's processes
only)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import ROOT

DEPLOYED = [*sorted((ROOT / "chalicelib").rglob("*.py")), ROOT / "app.py"]
CLOCK = ROOT / "chalicelib" / "domain" / "clock.py"
OTHER_NOWS = re.compile(
    r"datetime\.now\(|datetime\.utcnow\(|date\.today\(|datetime\.today\(|time\.time\(|"
    r"time\.time_ns\(|time\.gmtime\(|time\.localtime\(|arrow\.|pendulum\."
)
TEST_CLOCK = re.compile(
    r"stack_clock|clock\.json|test.clock|^\s*(from|import)\s+infra\b|import_module\(.infra", re.I
)


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def test_every_now_in_the_deployed_code_is_the_clock_modules() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
        for path in DEPLOYED
        if path != CLOCK
        for n, line in enumerate(_text(path).splitlines(), 1)
        if OTHER_NOWS.search(line)
    ]
    assert found == [], "read chalicelib.domain.clock.utc_now instead (the test clock moves it)"


def test_the_deployed_code_never_reads_the_test_clock() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
        for path in DEPLOYED
        for n, line in enumerate(_text(path).splitlines(), 1)
        if TEST_CLOCK.search(line)
    ]
    assert found == []
