"""Step boards' rules (chalicelib.domain.boards) and the board service on the in-memory store:
the count tree's rank is the brute-force competition rank, and any delivery of the step
stream (split, shuffled, replayed) leaves the boards one clean delivery would (invariants
1 and 4)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain import boards
from chalicelib.domain.boards import EntryChange, EntryKey
from chalicelib.domain.steps import StepDay
from chalicelib.errors import Unprocessable
from chalicelib.services.boards import BoardService
from tests.fakes import MemoryBoards

NAMES = {"naeoe-dong": "내외동", "buwon-dong": "부원동", "hallim-myeon": "한림면"}
MONDAY = date(2026, 11, 23)


def _service(store: MemoryBoards) -> BoardService:
    return BoardService(store, lambda: NAMES, lambda _: None)


def brute_rank(score: int, scores: list[int]) -> int:
    return 1 + sum(1 for other in scores if other > score)


def tree_of(scores: list[int]) -> dict[str, dict[int, int]]:
    entries = [boards.Entry("b", f"c{i}", {"d": s}, "n", "k") for i, s in enumerate(scores)]
    return boards.tree_deltas([EntryChange(None, e) for e in entries])


# -- the count tree -----------------------------------------------------------------------

scores = st.lists(
    st.one_of(st.integers(0, 700_000), st.sampled_from([0, 99, 100, 9_999, 10_000, 100_000])),
    min_size=1,
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(scores=scores, data=st.data())
def test_the_tree_rank_is_the_competition_rank(scores: list[int], data: st.DataObject) -> None:
    # GIVEN a board's scores (ties, zeros, bucket edges) counted in a tree
    tree = tree_of(scores)
    # WHEN any member's rank is read from the three nodes on its path
    mine = data.draw(st.sampled_from(scores))
    top, mid, leaf = (tree.get(node, {}) for node, _ in boards.tree_path("b", mine))
    # THEN it is 1 + the number of scores above it
    assert boards.rank_of(mine, top, mid, leaf) == brute_rank(mine, scores)


@settings(max_examples=200, deadline=None)
@given(before=scores, moves=st.lists(st.tuples(st.integers(0, 59), st.integers(0, 200_000))))
def test_score_changes_keep_the_tree_exact(before: list[int], moves: list[tuple[int, int]]) -> None:
    # GIVEN a tree, then entries whose scores change (up or down) in a few chunks
    entries = {i: boards.Entry("b", f"c{i}", {"d": s}, "n", "k") for i, s in enumerate(before)}
    tree: dict[str, dict[int, int]] = {}

    def apply(changed: list[EntryChange]) -> None:
        for node, deltas in boards.tree_deltas(changed).items():
            for counter, delta in deltas.items():
                tree.setdefault(node, {})[counter] = tree.get(node, {}).get(counter, 0) + delta

    apply([EntryChange(None, e) for e in entries.values()])
    changed = []
    for index, score in moves:
        i = index % len(before)
        if any(c.new.citizen_id == f"c{i}" for c in changed):
            apply(changed)
            changed = []
        new = boards.Entry("b", f"c{i}", {"d": score}, "n", "k")
        changed.append(EntryChange(entries[i], new))
        entries[i] = new
    apply(changed)
    # THEN every rank is still the brute-force rank, and no counter went negative
    now = [e.score for e in entries.values()]
    for score in now:
        top, mid, leaf = (tree.get(node, {}) for node, _ in boards.tree_path("b", score))
        assert boards.rank_of(score, top, mid, leaf) == brute_rank(score, now)
    assert all(n >= 0 for counters in tree.values() for n in counters.values())


def test_competition_ranks_share_and_skip() -> None:
    assert boards.competition_ranks([9, 7, 7, 5, 0, 0]) == [1, 2, 2, 4, 5, 5]
    assert boards.competition_ranks([]) == []
    with pytest.raises(ValueError):
        boards.competition_ranks([1, 2])


def test_every_node_stays_small() -> None:
    # The top node of a week holds 71 counters at most; mids and leaves 100.
    week_top = {boards.tree_path("b", s)[0][1] for s in range(0, 700_001, 1_000)}
    assert len(week_top) == 71
    mids = {boards.tree_path("b", s)[1] for s in range(10_000, 20_000)}
    assert len({node for node, _ in mids}) == 1 and {c for _, c in mids} == set(range(100))
    leaves = {boards.tree_path("b", s)[2] for s in range(654_300, 654_400)}
    assert len({node for node, _ in leaves}) == 1 and {c for _, c in leaves} == set(range(100))


# -- periods, boards, queries -------------------------------------------------------------


def test_a_step_day_counts_on_four_boards() -> None:
    day = StepDay("c1", date(2026, 11, 25), 10, "naeoe-dong", "A")
    assert boards.boards_of(day) == (
        "day#2026-11-25#city",
        "day#2026-11-25#district:naeoe-dong",
        "week#2026-W48#city",
        "week#2026-W48#district:naeoe-dong",
    )


def test_periods_expire_a_fixed_time_after_they_end() -> None:
    # A day board goes 35 days after its Seoul day ends; a week board 400 days after Sunday.
    assert boards.expires_at("day#2026-11-25") == datetime(2026, 12, 30, 15, tzinfo=UTC)
    assert boards.expires_at("week#2026-W48") == datetime(2028, 1, 3, 15, tzinfo=UTC)
    assert boards.expires_at("week#2026-W48") == boards.expires_at(
        boards.week_period(date(2026, 11, 29))
    )


@pytest.mark.parametrize("raw", ["20261125", "2026-1-25", "２０２６-11-25", "2026-02-30", ""])
def test_dates_are_strict(raw: str) -> None:
    with pytest.raises(boards.InvalidBoard):
        boards.parse_date(raw)


@pytest.mark.parametrize("raw", ["", "City", "district:", "district:Naeoe", "district:a b"])
def test_scopes_are_strict(raw: str) -> None:
    with pytest.raises(boards.InvalidBoard):
        boards.parse_scope(raw)


def test_an_unknown_district_is_unprocessable() -> None:
    service = _service(MemoryBoards())
    with pytest.raises(Unprocessable):
        service.board("day", MONDAY, "district:atlantis")
    assert service.board("week", MONDAY, "district:buwon-dong") == (
        "week#2026-W48#district:buwon-dong"
    )


def test_chunks_fit_a_transaction() -> None:
    entries = [
        boards.Entry(f"day#2026-11-25#district:d{i % 40}", f"c{i}", {"2026-11-25": i}, "n", "k")
        for i in range(500)
    ]
    changed = [EntryChange(None, e) for e in entries]
    groups = boards.chunks(changed)
    assert sum(len(g) for g in groups) == 500
    for group in groups:
        nodes = set(boards.tree_deltas(group)) | set(boards.district_deltas(group))
        assert len(group) + len(nodes) <= boards.TRANSACTION_ITEMS


# -- the stream's deliveries --------------------------------------------------------------

step_days = st.lists(
    st.builds(
        StepDay,
        citizen_id=st.sampled_from(["c1", "c2", "c3", "c4"]),
        day=st.sampled_from([MONDAY + timedelta(days=n) for n in (0, 1, 2, 6, 7)]),
        steps=st.integers(0, 100_000),
        district=st.just("naeoe-dong"),
        display_name=st.sampled_from(["가", "Bo", "Cé"]),
    ),
    min_size=1,
    max_size=30,
)


def _pick(day: StepDay) -> int:
    return (ord(day.citizen_id[-1]) + day.day.toordinal()) % 3


def _fixed_district(days: list[StepDay]) -> list[StepDay]:
    """A day keeps the district of its first sync: derive it from (citizen, day)."""
    codes = sorted(NAMES)
    return [
        StepDay(
            d.citizen_id,
            d.day,
            d.steps,
            codes[(ord(d.citizen_id[-1]) + d.day.toordinal()) % 3],
            d.display_name,
        )
        for d in days
    ]


def _keys_of(day: StepDay) -> set[EntryKey]:
    return {EntryKey(board, day.citizen_id) for board in boards.boards_of(day)}


def _snapshot(store: MemoryBoards) -> tuple[object, object]:
    entries = {k: (dict(e.days), e.display_name) for k, e in store.entries.items()}
    counters = {n: {c: v for c, v in cs.items() if v} for n, cs in store.counters.items()}
    return entries, {n: cs for n, cs in counters.items() if cs}


@settings(max_examples=150, deadline=None)
@given(days=step_days, seed=st.integers(0, 2**32 - 1), data=st.data())
def test_any_delivery_leaves_the_boards_of_one_clean_delivery(
    days: list[StepDay], seed: int, data: st.DataObject
) -> None:
    days = _fixed_district(days)
    # GIVEN one clean delivery of the stream
    clean = MemoryBoards()
    _service(clean).apply(days)
    # WHEN the same records arrive split into batches, shuffled, some replayed, and some
    # writes lose to another shard (their entries changed since read)
    rng = random.Random(seed)
    messy = MemoryBoards()
    service = _service(messy)
    records = days + rng.sample(days, k=rng.randint(0, len(days)))
    rng.shuffle(records)
    while records:
        size = rng.randint(1, 8)
        batch, records = records[:size], records[size:]
        if data.draw(st.booleans()):
            messy.stale_once |= set().union(*(_keys_of(d) for d in batch))
        service.apply(batch)
    # THEN every entry, counter and district total is the same
    assert _snapshot(messy) == _snapshot(clean)
    # AND each score is the sum of the maximum count of each day it covers (invariant 4)
    best: dict[tuple[str, date], StepDay] = {}
    for d in days:
        if d.steps >= best.get((d.citizen_id, d.day), d).steps:
            best[(d.citizen_id, d.day)] = d
    for key, entry in clean.entries.items():
        covered = [d.steps for d in best.values() if key in _keys_of(d)]
        assert entry.score == sum(covered)
    # AND every member's rank from the tree is its competition rank
    for key, entry in clean.entries.items():
        members = [e.score for e in clean.entries.values() if e.board == key.board]
        mine = _service(clean).standing(key.board, key.citizen_id)
        assert mine.rank == brute_rank(entry.score, members)
        assert mine.steps == entry.score


def test_districts_are_ranked_with_the_unwalked_at_zero() -> None:
    store = MemoryBoards()
    service = _service(store)
    service.apply(
        [
            StepDay("c1", MONDAY, 500, "buwon-dong", "A"),
            StepDay("c2", MONDAY, 500, "naeoe-dong", "B"),
        ]
    )
    standings = service.districts("day", MONDAY)
    assert [(d.rank, d.district, d.steps) for d in standings] == [
        (1, "buwon-dong", 500),
        (1, "naeoe-dong", 500),
        (3, "hallim-myeon", 0),
    ]


def test_a_name_change_is_kept_whatever_the_order() -> None:
    # The name of the latest day's highest record wins, in any delivery order.
    first = StepDay("c1", MONDAY, 100, "buwon-dong", "Old")
    later = StepDay("c1", MONDAY + timedelta(days=1), 50, "buwon-dong", "New")
    for order in ([first, later], [later, first]):
        store = MemoryBoards()
        for day in order:
            _service(store).apply([day])
        week = store.entry("week#2026-W48#city", "c1")
        assert week is not None and week.display_name == "New" and week.score == 150


def test_lost_races_are_retried_with_jitter_then_the_batch_fails() -> None:
    from chalicelib.errors import RetryableConflict

    class Contended(MemoryBoards):
        def __init__(self, losses: int) -> None:
            super().__init__()
            self.losses = losses

        def write(self, chunk: list[EntryChange]) -> None:
            if self.losses:
                self.losses -= 1
                raise RetryableConflict("another transaction won")
            super().write(chunk)

    day = StepDay("c1", MONDAY, 500, "buwon-dong", "A")
    # GIVEN a store that loses two races, THEN the batch lands after two jittered pauses
    pauses: list[float] = []
    store = Contended(losses=2)
    BoardService(store, lambda: NAMES, pauses.append).apply([day])
    assert len(pauses) == 2 and all(p >= 0 for p in pauses)
    assert store.entry("day#2026-11-23#city", "c1") is not None
    # GIVEN a store that always loses, THEN the batch fails (the stream retries it)
    with pytest.raises(RetryableConflict):
        BoardService(Contended(losses=10**6), lambda: NAMES, lambda _: None).apply([day])
