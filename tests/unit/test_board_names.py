"""The name a board shows is the one of the newest profile version, whatever order the step
days arrive in, and a rename pushed ahead of the stream is never undone by it."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain import boards
from chalicelib.domain.boards import Entry, EntryKey
from chalicelib.domain.steps import StepDay

MONDAY = date(2026, 11, 23)


def _apply(stored: dict[EntryKey, Entry], days: list[StepDay]) -> None:
    for change in boards.changes(boards.contributions(days), stored):
        stored[change.new.key] = change.new


def _rename(stored: dict[EntryKey, Entry], citizen: str, name: str, version: int) -> None:
    """What DynamoDbBoards.rename does to an existing entry: a newer key wins."""
    key = boards.profile_name_key(version, name)
    for k, entry in list(stored.items()):
        if k.citizen_id == citizen and entry.name_key < key:
            stored[k] = Entry(k.board, citizen, entry.days, name, key, entry.version)


# Each sync: (day of the week, steps, profile version). The name is a function of the
# version, as it is in the citizens table.
_syncs = st.lists(
    st.tuples(st.integers(0, 6), st.integers(0, 100_000), st.integers(1, 50)),
    min_size=1,
    max_size=12,
)


def _day(sync: tuple[int, int, int]) -> StepDay:
    offset, steps, version = sync
    return StepDay(
        "c-1", MONDAY + timedelta(days=offset), steps, "naeoe-dong", f"name v{version}", version
    )


@settings(deadline=None)
@given(_syncs, st.randoms(use_true_random=False))
def test_every_board_shows_the_newest_versions_name_in_any_order(
    syncs: list[tuple[int, int, int]], rng
) -> None:
    days = [_day(s) for s in syncs]
    shuffled = list(days)
    rng.shuffle(shuffled)
    stored: dict[EntryKey, Entry] = {}
    for day in shuffled:  # one record a batch, in a shuffled order, then all replayed
        _apply(stored, [day])
    _apply(stored, days)
    week = [e for k, e in stored.items() if k.board.startswith("week#")]
    newest = max(version for _, _, version in syncs)
    assert {e.display_name for e in week} == {f"name v{newest}"}
    for key, entry in stored.items():
        if key.board.startswith("day#"):
            label = key.board.split("#")[1]
            here = max(v for o, _, v in syncs if (MONDAY + timedelta(days=o)).isoformat() == label)
            assert entry.display_name == f"name v{here}"


@settings(deadline=None)
@given(_syncs, st.integers(51, 60))
def test_a_pushed_rename_survives_any_later_delivery_of_older_records(
    syncs: list[tuple[int, int, int]], version: int
) -> None:
    days = [_day(s) for s in syncs]
    stored: dict[EntryKey, Entry] = {}
    _apply(stored, days[:1])
    _rename(stored, "c-1", "renamed", version)
    _apply(stored, days)
    _apply(stored, list(reversed(days)))
    first = days[0]
    for board in boards.boards_of(first):
        assert stored[EntryKey(board, "c-1")].display_name == "renamed"


def test_a_versioned_name_outranks_one_stored_before_versions() -> None:
    legacy = StepDay("c-1", MONDAY, 99_999, "naeoe-dong", "zzz old")
    assert boards.profile_name_key(1, "new") > boards.name_key_of(legacy)


def test_a_rename_reaches_todays_and_this_weeks_boards_in_city_and_district() -> None:
    assert boards.current_boards(MONDAY, ["naeoe-dong", "naeoe-dong"]) == [
        "day#2026-11-23#city",
        "day#2026-11-23#district:naeoe-dong",
        "week#2026-W48#city",
        "week#2026-W48#district:naeoe-dong",
    ]
