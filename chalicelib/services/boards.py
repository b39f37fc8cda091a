"""Step leaderboards: kept from the step table's stream, read by the citizen app.

Keeping them: a stream batch is reduced to one contribution per (board, citizen) before
anything is read; the touched entries are read in BatchGetItem requests; only entries
that really change are written, in transactions that also move their count-tree
counters. An entry another shard changed meanwhile fails its version condition: it is
re-read and recomputed (the MAX merge makes that always converge). A transaction that
lost to a concurrent one is retried after a jittered pause.

Reading: the top N is one index query; "my rank" is one GetItem and one BatchGetItem of
the three tree nodes on my score's path, whatever the board's size.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from typing import Protocol

from chalicelib.domain import boards
from chalicelib.domain.boards import (
    DistrictStanding,
    Entry,
    EntryChange,
    EntryKey,
    MyStanding,
    Ranked,
    StaleEntries,
)
from chalicelib.domain.steps import StepDay
from chalicelib.errors import RetryableConflict, Unprocessable

CONFLICT_ATTEMPTS = 6


class BoardStore(Protocol):
    def read_entries(self, keys: list[EntryKey], consistent: bool) -> dict[EntryKey, Entry]:
        """Eventually consistent reads may be stale: the write's version condition says so."""
        ...

    def write(self, chunk: list[EntryChange]) -> None:
        """Entries and the counters they move, all or nothing. Raises StaleEntries or
        RetryableConflict."""
        ...

    def entry(self, board: str, citizen_id: str) -> Entry | None: ...

    def rename(self, board: str, citizen_id: str, display_name: str, name_key: str) -> bool:
        """Set a newer name on an existing entry (and move its version); False if none."""
        ...

    def top(self, board: str, limit: int) -> list[tuple[str, int]]: ...

    def nodes(self, nodes: list[str]) -> dict[str, dict[int, int]]: ...

    def district_totals(self, period: str) -> dict[str, int]: ...


class BoardService:
    def __init__(
        self,
        store: BoardStore,
        district_names: Callable[[], Mapping[str, str]],
        sleep: Callable[[float], None],
    ) -> None:
        self._store = store
        self._district_names = district_names
        self._sleep = sleep

    # -- keeping the boards -----------------------------------------------------------

    def apply(self, days: Iterable[StepDay]) -> int:
        """Apply step days to every board they count on; returns how many entries changed.
        Idempotent and order-independent: replays and late lower counts change nothing."""
        found = boards.contributions(days)
        pending = list(found)
        written = 0
        rounds = 0
        while pending:
            stored = self._store.read_entries(pending, consistent=rounds > 0)
            retry: list[EntryKey] = []
            lost_race = False
            for chunk in boards.chunks(boards.changes({k: found[k] for k in pending}, stored)):
                try:
                    self._store.write(chunk)
                    written += len(chunk)
                except StaleEntries:
                    retry.extend(change.new.key for change in chunk)
                except RetryableConflict:
                    lost_race = True
                    retry.extend(change.new.key for change in chunk)
            pending = retry
            if not pending:
                break
            rounds += 1
            if rounds >= CONFLICT_ATTEMPTS:
                raise RetryableConflict(f"boards: {len(pending)} entries still conflict")
            if lost_race:
                self._sleep(random.uniform(0, 0.02 * 2**rounds))
        return written

    def show_name(
        self, citizen_id: str, display_name: str, version: int, districts: list[str], today: date
    ) -> int:
        """A rename, pushed at once to the boards the citizen is on today and this week
        (city and district): at most 2 + 2 x districts conditional writes, no read, no scan.
        The name carries its profile version, and a board keeps the greatest, so this and
        the step stream agree in any order. Returns how many entries showed the new name."""
        key = boards.profile_name_key(version, display_name)
        return sum(
            self._store.rename(board, citizen_id, display_name, key)
            for board in boards.current_boards(today, districts)
        )

    # -- reading them -----------------------------------------------------------------

    def board(self, kind: str, day: date, scope: str) -> str:
        """The board a query names; an unknown district is well-formed but unacceptable."""
        scope, code = boards.parse_scope(scope)
        if code is not None and code not in self._district_names():
            raise Unprocessable(
                f"unknown district {code!r}",
                code="unknown_district",
                details=[{"field": "scope", "problem": "not one of the city's districts"}],
            )
        return boards.board_id(boards.period_of(kind, day), scope)

    def leaders(self, board: str, limit: int) -> list[Ranked]:
        return boards.ranked_top(self._store.top(board, limit))

    def standing(self, board: str, citizen_id: str) -> MyStanding:
        entry = self._store.entry(board, citizen_id)
        if entry is None:
            return MyStanding(None, 0)
        score = entry.score
        path = [node for node, _ in boards.tree_path(board, score)]
        found = self._store.nodes(path)
        top, mid, leaf = (found.get(node, {}) for node in path)
        return MyStanding(boards.rank_of(score, top, mid, leaf), score)

    def districts(self, kind: str, day: date) -> list[DistrictStanding]:
        totals = self._store.district_totals(boards.period_of(kind, day))
        return boards.ranked_districts(totals, self._district_names())
