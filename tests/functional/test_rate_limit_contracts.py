"""One contract, two rate limiters: the in-memory fake the unit tests use and the DynamoDB
adapter (on moto) count a fixed window's uses alike."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.fakes import MemoryRateLimiter

WINDOW_S = 60
# A window's first second.
START = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)


@pytest.fixture(params=["memory", "dynamodb"])
def limiter(request: pytest.FixtureRequest) -> Iterator[Any]:
    if request.param == "memory":
        yield MemoryRateLimiter()
        return
    request.getfixturevalue("aws")
    from chalicelib.adapters.dynamodb_rate_limits import DynamoDbRateLimiter

    yield DynamoDbRateLimiter()


def _uses(limiter: Any, key: str, tries: int, at: datetime, limit: int = 3) -> list[bool]:
    return [limiter.acquire(key, limit, WINDOW_S, at) for _ in range(tries)]


def test_a_window_grants_its_limit_then_refuses(limiter: Any) -> None:
    assert _uses(limiter, "codes:c-1", 5, START) == [True, True, True, False, False]
    last_second = START + timedelta(seconds=WINDOW_S - 1)
    assert _uses(limiter, "codes:c-1", 1, last_second) == [False]


def test_the_next_window_starts_afresh(limiter: Any) -> None:
    _uses(limiter, "codes:c-1", 3, START)
    later = START + timedelta(seconds=WINDOW_S)
    assert _uses(limiter, "codes:c-1", 4, later) == [True, True, True, False]
    # A window skipped over is no different
    much_later = START + timedelta(seconds=10 * WINDOW_S + 5)
    assert _uses(limiter, "codes:c-1", 4, much_later) == [True, True, True, False]


def test_each_key_has_its_own_window(limiter: Any) -> None:
    assert _uses(limiter, "codes:c-1", 4, START) == [True, True, True, False]
    assert _uses(limiter, "codes:c-2", 4, START) == [True, True, True, False]
    assert _uses(limiter, "sms:c-1", 2, START, limit=1) == [True, False]


def test_a_lower_limit_counts_the_uses_already_made(limiter: Any) -> None:
    assert _uses(limiter, "codes:c-1", 2, START, limit=5) == [True, True]
    assert _uses(limiter, "codes:c-1", 1, START, limit=2) == [False]
    assert _uses(limiter, "codes:c-1", 1, START, limit=3) == [True]
