"""Hostile checks of the walking rules: a lottery is drawn only when no finish can still
arrive, and a draw read without its lists never decides a prize."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain import challenges as c
from chalicelib.domain.steps import DaySteps, judge_sync

NOW = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)


def _challenge(kind: str, starts_on: date, ends_on: date) -> c.Challenge:
    return c.Challenge(
        challenge_id="chl-1",
        title="Walk",
        kind=kind,  # type: ignore[arg-type]
        starts_on=starts_on,
        ends_on=ends_on,
        target=1,
        prize=c.Prize("lottery", 100, 1),
        created_at=NOW,
    )


@given(
    kind=st.sampled_from(sorted(c.STEP_KINDS)),
    start=st.dates(date(2020, 1, 1), date(2040, 1, 1)),
    length=st.integers(0, c.MAX_WINDOW_DAYS - 1),
    late=st.integers(0, 30),
    walked=st.integers(0, c.MAX_WINDOW_DAYS - 1),
    synced_after=st.integers(0, 60),
)
def test_no_step_day_of_the_window_is_accepted_once_the_draw_opens(
    kind: str, start: date, length: int, late: int, walked: int, synced_after: int
) -> None:
    challenge = _challenge(kind, start, start + timedelta(days=length))
    day = start + timedelta(days=min(walked, length))
    synced_on = day + timedelta(days=synced_after)
    accepted, _ = judge_sync([DaySteps(day.isoformat(), 5000)], synced_on, late, 100_000)
    if accepted:
        # A whole day at least between the last accepted sync and the draw (stream lag).
        assert synced_on + timedelta(days=1) < challenge.draw_opens_on(late)


def test_a_draw_read_without_its_lists_never_decides_a_prize() -> None:
    drawn = c.Draw("00" * 32, (), "digest", (), NOW, complete=False)
    challenge = dataclasses.replace(
        _challenge("total_steps", date(2026, 11, 1), date(2026, 11, 2)), draw=drawn
    )
    entry = c.Entry("c-1", "chl-1", NOW, "naeoe-dong", finished_at=NOW, finish_rank=1)
    assert c.prize_due(challenge, entry) is False
    complete = dataclasses.replace(
        drawn, finishers=("p1",), winners=("p1",), winner_ids=("c-1",), complete=True
    )
    assert c.prize_due(dataclasses.replace(challenge, draw=complete), entry) is True


@given(st.lists(st.text(min_size=1, max_size=300), max_size=3000), st.integers(1, 5000))
def test_draw_pages_keep_every_id_in_order_and_each_page_under_its_budget(
    ids: list[str], budget: int
) -> None:
    from chalicelib.adapters import dynamodb_challenges as store

    old = store.DRAW_PAGE_BYTES
    store.DRAW_PAGE_BYTES = budget
    try:
        pages = store._pages(tuple(ids))
    finally:
        store.DRAW_PAGE_BYTES = old
    assert [i for page in pages for i in page] == ids
    for page in pages:
        size = sum(len(i.encode("utf-8", "surrogatepass")) + 4 for i in page)
        assert page and (size <= budget or len(page) == 1)
