"""Step leaderboards in memory."""

from __future__ import annotations

import dataclasses
from typing import Any


class MemoryBoards:
    """BoardStore in memory: entries with versions, and count-tree counters moved with them
    in one step (as the adapter's transaction does). `stale_once` makes the next write of
    those keys fail as if another shard had written them first."""

    def __init__(self) -> None:
        from chalicelib.domain.boards import Entry, EntryKey

        self.entries: dict[EntryKey, Entry] = {}
        self.counters: dict[str, dict[Any, int]] = {}
        self.stale_once: set[EntryKey] = set()
        self.writes = 0

    def read_entries(self, keys: list[Any], consistent: bool) -> dict[Any, Any]:
        return {k: self.entries[k] for k in keys if k in self.entries}

    def write(self, chunk: list[Any]) -> None:
        from chalicelib.domain import boards

        def version_now(key: Any) -> int | None:
            stored = self.entries.get(key)
            return None if stored is None else stored.version

        stale = {c.new.key for c in chunk if c.new.key in self.stale_once}
        stale |= {c.new.key for c in chunk if version_now(c.new.key) != c.new.version}
        if stale:
            self.stale_once -= stale
            raise boards.StaleEntries(stale)
        self.writes += 1
        for change in chunk:
            version = (change.new.version or 0) + 1
            self.entries[change.new.key] = dataclasses.replace(change.new, version=version)
        for node, deltas in boards.tree_deltas(chunk).items():
            counters = self.counters.setdefault(node, {})
            for counter, delta in deltas.items():
                counters[counter] = counters.get(counter, 0) + delta
        for row, gains in boards.district_deltas(chunk).items():
            counters = self.counters.setdefault(row, {})
            for code, gain in gains.items():
                counters[code] = counters.get(code, 0) + gain

    def entry(self, board: str, citizen_id: str) -> Any:
        from chalicelib.domain.boards import EntryKey

        return self.entries.get(EntryKey(board, citizen_id))

    def rename(self, board: str, citizen_id: str, display_name: str, name_key: str) -> bool:
        from chalicelib.domain.boards import EntryKey

        key = EntryKey(board, citizen_id)
        stored = self.entries.get(key)
        if stored is None or stored.name_key >= name_key:
            return False
        self.entries[key] = dataclasses.replace(
            stored,
            display_name=display_name,
            name_key=name_key,
            version=(stored.version or 0) + 1,
        )
        return True

    def top(self, board: str, limit: int) -> list[tuple[str, int]]:
        on_board = [e for e in self.entries.values() if e.board == board]
        on_board.sort(key=lambda e: (-e.score, e.citizen_id))
        return [(e.display_name, e.score) for e in on_board[:limit]]

    def nodes(self, nodes: list[str]) -> dict[str, dict[int, int]]:
        return {n: dict(self.counters.get(n, {})) for n in nodes}

    def district_totals(self, period: str) -> dict[str, int]:
        from chalicelib.domain import boards

        return dict(self.counters.get(boards.district_totals_row(period), {}))
