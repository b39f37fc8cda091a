"""The step sync's rules (DESIGN §5): the window, the caps, a day's count only going up, and
a request judged whole before anything is stored."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.config import Settings
from chalicelib.domain.steps import DaySteps, Walker, parse_day, week_days, week_of
from chalicelib.errors import BadRequest, NotFound, Unprocessable
from chalicelib.services.steps import StepService
from tests.fakes import MemorySteps

# 2026-11-25 10:00 in Seoul, a Wednesday.
NOW = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
TODAY = date(2026, 11, 25)


def _service(store: MemorySteps | None = None) -> tuple[StepService, MemorySteps]:
    store = store or MemorySteps()
    store.walkers["c-1"] = Walker("naeoe-dong", "걷는사람")
    return StepService(store, Settings(), lambda: NOW), store


def _day(offset: int, steps: int) -> DaySteps:
    return DaySteps((TODAY - timedelta(days=offset)).isoformat(), steps)


def test_today_and_the_seven_days_before_are_accepted() -> None:
    service, _ = _service()
    stored = service.sync("c-1", [_day(i, 1000 + i) for i in range(8)])
    assert stored == {TODAY - timedelta(days=i): 1000 + i for i in range(8)}


def test_every_bad_day_is_named_and_nothing_is_stored() -> None:
    service, store = _service()
    with pytest.raises(Unprocessable) as raised:
        service.sync(
            "c-1",
            [
                _day(0, 5000),  # fine, but the request as a whole is refused
                _day(-1, 10),  # tomorrow
                _day(8, 10),  # eight days ago
                _day(1, -1),
                _day(2, 100_001),
                DaySteps("2026-02-30", 10),
                _day(3, 10),
                _day(3, 20),  # given twice
            ],
        )
    problems = {d["date"]: d["problem"] for d in raised.value.details}
    assert problems == {
        "2026-11-26": "in the future",
        "2026-11-17": "older than 7 days",
        "2026-11-24": "negative steps",
        "2026-11-23": "more than 100000 steps",
        "2026-02-30": "not a date (YYYY-MM-DD)",
        "2026-11-22": "given more than once",
    }
    assert store.days == {} and store.writes == 0


def test_the_day_boundary_is_seoul_midnight() -> None:
    # 23:59 UTC on the 24th is already the 25th in Seoul: the 25th is today, the 26th is not.
    store = MemorySteps()
    store.walkers["c-1"] = Walker("naeoe-dong", "x")
    late = StepService(store, Settings(), lambda: datetime(2026, 11, 24, 23, 59, tzinfo=UTC))
    assert late.sync("c-1", [DaySteps("2026-11-25", 1)]) == {TODAY: 1}
    with pytest.raises(Unprocessable):
        late.sync("c-1", [DaySteps("2026-11-26", 1)])


def test_a_lower_or_equal_resend_changes_nothing_and_writes_nothing() -> None:
    service, store = _service()
    service.sync("c-1", [_day(0, 8000)])
    writes = store.writes
    assert service.sync("c-1", [_day(0, 7000)]) == {TODAY: 8000}
    assert service.sync("c-1", [_day(0, 8000)]) == {TODAY: 8000}
    assert store.writes == writes


def test_an_empty_or_oversized_request_and_an_unknown_citizen_are_refused() -> None:
    service, _ = _service()
    with pytest.raises(BadRequest):
        service.sync("c-1", [])
    with pytest.raises(Unprocessable) as raised:
        service.sync("c-1", [_day(0, 1)] * 9)
    assert raised.value.code == "too_many_days"
    with pytest.raises(NotFound):
        service.sync("nobody", [_day(0, 1)])


def test_today_and_the_iso_week_monday_first() -> None:
    service, _ = _service()
    # Monday 23rd .. Wednesday 25th are this week; Sunday 22nd was last week's.
    service.sync("c-1", [_day(0, 100), _day(1, 200), _day(2, 300), _day(3, 4000)])
    totals = service.totals("c-1")
    assert (totals.today, totals.week) == (100, 600)
    assert week_days(TODAY) == (date(2026, 11, 23), date(2026, 11, 29))
    assert week_of(TODAY) == "2026-W48"
    assert week_of(date(2027, 1, 1)) == "2026-W53"


def test_only_ascii_calendar_days_parse() -> None:
    assert parse_day("2026-11-25") == TODAY
    for text in ("２０２６-11-25", "2026-11-25T00:00", "2026-13-01", "", "2026-1-5", "20261125"):
        assert parse_day(text) is None


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.lists(st.tuples(st.integers(0, 7), st.integers(0, 100_000)), min_size=1, max_size=8),
        min_size=1,
        max_size=12,
    )
)
def test_a_stored_day_is_the_maximum_ever_accepted(syncs: list[list[tuple[int, int]]]) -> None:
    # Invariant 4: however syncs arrive, each day holds the largest count ever sent for it.
    service, store = _service()
    best: dict[date, int] = {}
    for sync in syncs:
        days = {offset: steps for offset, steps in sync}  # one entry per day per request
        answer = service.sync("c-1", [_day(o, n) for o, n in days.items()])
        for offset, steps in days.items():
            day = TODAY - timedelta(days=offset)
            best[day] = max(best.get(day, 0), steps)
            assert answer[day] == best[day]
    assert {d: n for (_, d), n in store.days.items()} == best
