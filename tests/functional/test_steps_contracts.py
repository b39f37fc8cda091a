"""One contract, two step stores: the in-memory fake the unit tests use and the DynamoDB
adapter (on moto) read the walker and keep a day's count alike: it only goes up."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from chalicelib.domain.citizens import ProfileChange
from chalicelib.domain.steps import Walker
from tests.fakes import MemorySteps

NOW = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
MONDAY = date(2026, 11, 23)
WALKER = Walker("naeoe-dong", "걷는사람", 1)


@pytest.fixture(params=["memory", "dynamodb"])
def store(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A store where c-1 is registered (named once: name version 1) and c-2 is not."""
    if request.param == "memory":
        memory = MemorySteps()
        memory.walkers["c-1"] = WALKER
        yield memory
        return
    request.getfixturevalue("aws")
    from chalicelib.adapters.dynamodb_citizens import DynamoDbCitizens
    from chalicelib.adapters.dynamodb_steps import DynamoDbSteps

    DynamoDbCitizens().save_profile("c-1", ProfileChange("걷는사람", "naeoe-dong"), NOW)
    yield DynamoDbSteps()


def _day(n: int) -> date:
    return MONDAY + timedelta(days=n)


def test_the_walker_and_the_stored_days_are_read_together(store: Any) -> None:
    assert store.current("c-1", [_day(0), _day(1)]) == (WALKER, {})
    store.raise_to("c-1", _day(1), 4_000, WALKER, NOW)
    assert store.current("c-1", [_day(0), _day(1), _day(2)]) == (WALKER, {_day(1): 4_000})
    assert store.current("c-2", [_day(1)]) == (None, {})


def test_a_day_only_goes_up_and_answers_the_stored_count(store: Any) -> None:
    assert store.raise_to("c-1", _day(0), 5_000, WALKER, NOW) == 5_000
    assert store.raise_to("c-1", _day(0), 3_000, WALKER, NOW) == 5_000
    assert store.raise_to("c-1", _day(0), 5_000, WALKER, NOW) == 5_000
    assert store.raise_to("c-1", _day(0), 5_001, WALKER, NOW) == 5_001
    assert store.raise_to("c-1", _day(1), 0, WALKER, NOW) == 0
    assert store.current("c-1", [_day(0), _day(1)])[1] == {_day(0): 5_001, _day(1): 0}


def test_a_range_holds_its_ends_and_only_its_citizen(store: Any) -> None:
    for n, steps in enumerate([100, 200, 300, 400, 500, 600, 700, 800]):
        store.raise_to("c-1", _day(n), steps, WALKER, NOW)
    store.raise_to("c-2", _day(2), 9_999, WALKER, NOW)
    assert store.between("c-1", _day(1), _day(3)) == {_day(1): 200, _day(2): 300, _day(3): 400}
    assert store.between("c-1", _day(7), _day(30)) == {_day(7): 800}
    assert store.between("c-1", _day(-7), _day(-1)) == {}
    assert store.between("c-2", _day(0), _day(6)) == {_day(2): 9_999}
