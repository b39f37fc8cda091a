"""Challenge rules: progress from step days is a per-day maximum (replays and reordering
change nothing), capped per day; finishers are ranked in (time, citizen id) order even
when clocks disagree; prizes are due by the prize's rule; validation names each field."""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from chalicelib.domain import challenges as c
from chalicelib.domain.staff_actions import Actor
from chalicelib.errors import Unprocessable

START = date(2026, 11, 20)
END = date(2026, 11, 26)
NOW = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)

STAFF = Actor("staff-1", ("admin",))


def _challenge(**overrides: Any) -> c.Challenge:
    base = c.Challenge(
        challenge_id="chl-1",
        title="Walk",
        kind="total_steps",
        starts_on=START,
        ends_on=END,
        target=30000,
        prize=c.Prize("all_finishers", 100),
        created_at=NOW,
        daily_cap=10000,
    )
    return dataclasses.replace(base, **overrides)


def _entry(**overrides: Any) -> c.Entry:
    return dataclasses.replace(c.Entry("c-1", "chl-1", NOW, "naeoe-dong"), **overrides)


step_records = st.lists(
    st.tuples(st.integers(-3, 10), st.integers(0, 100_000)), min_size=0, max_size=40
)


def _as_days(records: list[tuple[int, int]]) -> list[dict[str, int]]:
    return [{(START + timedelta(days=offset)).isoformat(): steps} for offset, steps in records]


def _apply(challenge: c.Challenge, batches: list[dict[str, int]]) -> c.Entry:
    entry = _entry()
    for days in batches:
        entry = c.with_steps(challenge, entry, days)
    return entry


def _reference(challenge: c.Challenge, records: list[tuple[int, int]]) -> int:
    best: dict[int, int] = {}
    for offset, steps in records:
        if 0 <= offset <= (END - START).days:
            best[offset] = max(best.get(offset, 0), steps)
    if challenge.kind == "daily_goal":
        return sum(1 for s in best.values() if s >= (challenge.daily_goal or 0))
    cap = challenge.daily_cap
    return sum(s if cap is None else min(s, cap) for s in best.values())


@given(
    step_records,
    st.randoms(),
    st.sampled_from(["total_steps", "daily_goal"]),
    st.one_of(st.none(), st.integers(1, 100_000)),
)
def test_progress_is_the_same_for_any_replay_or_order(
    records: list[tuple[int, int]], rng: Any, kind: str, cap: int | None
) -> None:
    challenge = _challenge(
        kind=kind,
        daily_cap=cap if kind == "total_steps" else None,
        daily_goal=8000 if kind == "daily_goal" else None,
    )
    batches = _as_days(records)
    replayed = batches + rng.sample(batches, len(batches) // 2)
    rng.shuffle(replayed)
    once, shuffled = _apply(challenge, batches), _apply(challenge, replayed)
    assert once.days == shuffled.days
    assert c.progress(challenge, once) == c.progress(challenge, shuffled)
    assert c.progress(challenge, once) == _reference(challenge, records)
    assert all(challenge.contains(date.fromisoformat(d)) for d in once.days)


@given(step_records, step_records)
def test_more_records_never_lower_progress(
    first: list[tuple[int, int]], more: list[tuple[int, int]]
) -> None:
    challenge = _challenge()
    before = _apply(challenge, _as_days(first))
    after = _apply(challenge, _as_days(first + more))
    assert c.progress(challenge, after) >= c.progress(challenge, before)


def test_a_day_counts_up_to_the_cap_and_the_window_bounds_it() -> None:
    challenge = _challenge(daily_cap=10000)
    entry = c.with_steps(
        challenge,
        _entry(),
        {"2026-11-20": 25000, "2026-11-21": 4000, "2026-11-19": 50000, "2026-11-27": 9},
    )
    assert c.progress(challenge, entry) == 14000
    assert not c.reached(challenge, entry)
    entry = c.with_steps(challenge, entry, {"2026-11-26": 16000, "2026-11-21": 3000})
    assert c.progress(challenge, entry) == 24000  # a lower count never replaces a day
    assert c.with_steps(challenge, entry, {"2026-11-21": 3999}) is entry


# Finishing in order ------------------------------------------------------------------------


@given(
    st.lists(
        st.tuples(st.integers(-5_000_000, 5_000_000), st.sampled_from(["a", "b", "c", "d"])),
        min_size=1,
        max_size=30,
    )
)
def test_ranks_follow_finish_keys_whatever_the_clocks_say(
    finishes: list[tuple[int, str]],
) -> None:
    # GIVEN finishers processed one after another by Lambdas whose clocks disagree
    challenge = _challenge()
    keys: list[str] = []
    for rank, (skew_us, citizen) in enumerate(finishes, start=1):
        finish = c.next_finish(challenge, citizen, NOW + timedelta(microseconds=skew_us))
        # THEN each is ranked next and its key sorts after every earlier one
        assert finish.rank == rank
        assert finish.previous_key == challenge.last_finish_key
        assert finish.key == c.finish_key(finish.at, citizen)
        keys.append(finish.key)
        challenge = dataclasses.replace(
            challenge, finishers=challenge.finishers + 1, last_finish_key=finish.key
        )
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    assert [c.time_of_key(k) for k in keys] == sorted(c.time_of_key(k) for k in keys)


def test_a_finish_at_the_same_time_as_the_last_sorts_by_citizen_id() -> None:
    challenge = _challenge(finishers=1, last_finish_key=c.finish_key(NOW, "c-b"))
    later = c.next_finish(challenge, "c-c", NOW)
    assert later.at == NOW and later.key > challenge.last_finish_key  # "c-c" > "c-b"
    bumped = c.next_finish(challenge, "c-a", NOW)
    assert bumped.at == NOW + timedelta(microseconds=1) and bumped.rank == 2


def test_finish_keys_sort_as_the_times_do() -> None:
    early = c.finish_key(datetime(2026, 11, 25, 9, 59, 59, 999999, tzinfo=UTC), "z")
    late = c.finish_key(datetime(2026, 11, 25, 10, 0, 0, tzinfo=UTC), "a")
    assert early < late
    assert c.time_of_key(late) == datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


# Prizes ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prize", "rank", "drawn", "due"),
    [
        (c.Prize("all_finishers", 10), 500, (), True),
        (c.Prize("first_n", 10, 3), 3, (), True),
        (c.Prize("first_n", 10, 3), 4, (), False),
        (c.Prize("lottery", 10, 1), 1, None, False),
        (c.Prize("lottery", 10, 1), 1, ("c-2",), False),
        (c.Prize("lottery", 10, 1), 9, ("c-1",), True),
    ],
)
def test_a_prize_is_due_by_its_rule(
    prize: c.Prize, rank: int, drawn: tuple[str, ...] | None, due: bool
) -> None:
    draw = None
    if drawn is not None:
        # The draw names pseudonyms; the prize goes to the citizens behind the winning ones.
        pseudonyms = tuple(f"p-{w}" for w in drawn)
        draw = c.Draw("00", ("p-c-1", "p-c-2"), "d", pseudonyms, NOW, winner_ids=drawn)
    challenge = _challenge(prize=prize, draw=draw)
    entry = _entry(finished_at=NOW, finish_rank=rank)
    assert c.prize_due(challenge, entry) is due
    assert c.prize_due(challenge, _entry()) is False


def test_recycled_items_count_in_the_window_from_joining() -> None:
    challenge = _challenge(kind="recycle_items", daily_cap=None)
    entry = _entry(joined_at=NOW)
    assert c.counts_items(challenge, entry, NOW, date(2026, 11, 25))
    assert not c.counts_items(challenge, entry, NOW - timedelta(seconds=1), date(2026, 11, 25))
    assert not c.counts_items(challenge, entry, NOW, date(2026, 11, 27))
    assert not c.counts_items(_challenge(), entry, NOW, date(2026, 11, 25))


# Validation ----------------------------------------------------------------------------------


def _new(**overrides: Any) -> c.NewChallenge:
    base = c.NewChallenge(
        title=" Walk Gimhae ",
        kind="total_steps",
        starts_on=START,
        ends_on=END,
        target=30000,
        prize=c.Prize("first_n", 100, 10),
        daily_cap=10000,
    )
    return dataclasses.replace(base, **overrides)


def test_a_valid_challenge_is_kept_with_its_title_trimmed() -> None:
    assert c.validate(_new(), START, {"naeoe-dong"}).title == "Walk Gimhae"


def test_every_broken_rule_is_named_at_once() -> None:
    broken = _new(
        title="\u202eevil",
        ends_on=START - timedelta(days=1),
        target=-1,
        prize=c.Prize("lottery", 0),
        district="nowhere",
    )
    with pytest.raises(Unprocessable) as raised:
        c.validate(broken, START, {"naeoe-dong"})
    fields = {d["field"] for d in raised.value.details}
    assert fields == {"title", "ends_on", "target", "prize.points", "prize.winners", "district"}


@given(
    title=st.text(max_size=100),
    start=st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1)),
    length=st.integers(-400, 800),
    target=st.integers(-(10**20), 10**20),
    cap=st.one_of(st.none(), st.integers(-5, 200_000)),
    goal=st.one_of(st.none(), st.integers(-5, 200_000)),
    kind=st.sampled_from(c.KINDS),
    prize=st.builds(
        c.Prize,
        st.sampled_from(["all_finishers", "first_n", "lottery"]),
        st.integers(-5, 2_000_000),
        st.one_of(st.none(), st.integers(-5, 20_000)),
    ),
)
def test_validation_accepts_only_sane_challenges(
    title: str,
    start: date,
    length: int,
    target: int,
    cap: int | None,
    goal: int | None,
    kind: Any,
    prize: c.Prize,
) -> None:
    new = c.NewChallenge(
        title, kind, start, start + timedelta(days=length), target, prize, cap, goal
    )
    try:
        kept = c.validate(new, date(2026, 11, 25), set())
    except Unprocessable as e:
        assert e.details and all(d["field"] and d["problem"] for d in e.details)
        return
    assert 1 <= len(kept.title) <= c.TITLE_MAX
    assert kept.starts_on <= kept.ends_on and kept.ends_on >= date(2026, 11, 25)
    assert (kept.ends_on - kept.starts_on).days < c.MAX_WINDOW_DAYS
    assert 1 <= kept.target <= c.MAX_TARGET and kept.prize.points >= 1
    assert (kept.prize.winners is None) == (kept.prize.type == "all_finishers")
    assert (kept.daily_goal is not None) == (kept.kind == "daily_goal")
    window = (kept.ends_on - kept.starts_on).days + 1
    if kept.kind == "total_steps":
        assert kept.target <= window * (kept.daily_cap or c.MAX_DAY_STEPS)
    if kept.kind == "daily_goal":
        assert kept.target <= window


# The service over the fakes: replays, reordering and crashes never pay twice ------------------


class _Clock:
    def __init__(self) -> None:
        self.ticks = 0

    def __call__(self) -> datetime:
        self.ticks += 1
        return NOW + timedelta(microseconds=self.ticks)


@given(
    st.lists(
        st.tuples(st.integers(0, 4), st.integers(0, 4), st.integers(0, 12_000)),
        min_size=1,
        max_size=40,
    ),
    st.lists(st.booleans(), min_size=40, max_size=40),
    st.randoms(),
)
@settings(deadline=None)
@example(  # everyone finishes both, the first delivery of each batch crashing
    records=[(p, back, 9000) for back in (0, 1) for p in range(5)],
    crashes=[True, False] * 20,
    rng=random.Random(3),
)
def test_stream_deliveries_finish_and_pay_exactly_once(
    records: list[tuple[int, int, int]], crashes: list[bool], rng: Any
) -> None:
    from chalicelib.domain.citizens import ProfileChange
    from chalicelib.domain.clock import seoul_day
    from chalicelib.domain.steps import StepDay
    from chalicelib.services.challenges import ChallengeService
    from tests.fakes import MemoryChallenges, MemoryCitizens, MemoryCity, MemoryLedger

    # GIVEN five citizens in an all-finishers and a first-2 challenge
    city, store, clock = MemoryCity(), MemoryChallenges(), _Clock()
    citizens, ledger = MemoryCitizens(city), MemoryLedger(city)
    service = ChallengeService(store, citizens, ledger, clock, {"naeoe-dong"})
    today = seoul_day(NOW)
    window = {"starts_on": today - timedelta(days=3), "ends_on": today}
    everyone = service.create(
        c.NewChallenge(
            "All",
            "total_steps",
            target=15000,
            daily_cap=10000,
            prize=c.Prize("all_finishers", 100),
            **window,
        ),
        STAFF,
    )
    first_two = service.create(
        c.NewChallenge(
            "First",
            "daily_goal",
            target=2,
            daily_goal=5000,
            prize=c.Prize("first_n", 70, 2),
            **window,
        ),
        STAFF,
    )
    people = [f"c-{n}" for n in range(5)]
    for who in people:
        citizens.save_profile(who, ProfileChange(who, "naeoe-dong"), NOW)
        for challenge in (everyone, first_two):
            service.join(challenge.challenge_id, who)
    # WHEN the step records arrive in batches, each shuffled, replayed, sometimes crashing
    days = [
        StepDay(people[p], today - timedelta(days=back), steps, "naeoe-dong", "x")
        for p, back, steps in records
    ]
    batches = [days[i : i + 7] for i in range(0, len(days), 7)]
    deliveries = batches + rng.sample(batches, len(batches) // 2)
    for n, batch in enumerate(deliveries):
        batch = rng.sample(batch, len(batch))
        if crashes[n % len(crashes)]:

            def crash(posting: Any) -> None:
                raise RuntimeError("the Lambda died")

            ledger.before_post = crash
        try:
            service.apply_steps(batch)
        except RuntimeError:
            ledger.before_post = None
            service.apply_steps(batch)  # the stream retries the batch
    # THEN progress is the per-day maximum, finishers are ranked in finish order, and
    # every prize due was paid exactly once
    for challenge in (everyone, first_two):
        stored = store.get(challenge.challenge_id)
        entries = [store.entry(who, challenge.challenge_id) for who in people]
        finishers = sorted((e for e in entries if e.finished), key=lambda e: e.finish_rank)
        assert [e.finish_rank for e in finishers] == list(range(1, len(finishers) + 1))
        assert stored.finishers == len(finishers)
        keys = [c.finish_key(e.finished_at, e.citizen_id) for e in finishers]
        assert keys == sorted(keys)
        for e in entries:
            assert e.finished == c.reached(stored, e)
            assert e.prize_awarded == c.prize_due(stored, e)
    for who in people:
        entries_ = city.entries.get(who, [])
        assert city.citizens[who].balance == sum(e.points for e in entries_)
        guards = [e.source_key for e in entries_]
        assert len(guards) == len(set(guards))
    if records == [(p, back, 9000) for back in (0, 1) for p in range(5)]:
        assert all(store.entry(who, everyone.challenge_id).prize_awarded for who in people)
    paid_first = [
        e.citizen_id
        for found in city.entries.values()
        for e in found
        if e.detail["challenge_id"] == first_two.challenge_id
    ]
    assert len(paid_first) == min(2, store.get(first_two.challenge_id).finishers)
