"""DynamoDB adapter for the step leaderboards: board entries, their count trees and the
districts' totals.

Tables (chalicelib.adapters.dynamodb_models):
- `board-entries`: pk `board` (`day#2026-11-25#city`), sk `citizen_id`; `days`, `score`,
  `display_name`, `version`, `expires`; GSI `by-score` (board, score) projecting the name,
  for the top N.
- `board-counts`: pk `node`; a tree node's counters `n<bucket>` (top `<board>#t`, mid
  `<board>#m<top>`, leaf `<board>#l<mid>`), or a period's district totals
  (`<period>#districts`, counters `d:<code>`). Counters are added to (ADD), never read
  back and rewritten, so chunks from concurrent shards never overwrite each other.

A chunk of changes is ONE TransactWriteItems: each changed entry (a put conditioned on
the version it was read at) and one ADD update per tree node and totals row with the
chunk's summed deltas. The entry and the counters it moves commit together, so a tree
always counts exactly the stored scores.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from pynamodb.exceptions import UpdateError
from pynamodb.expressions.operand import Path
from pynamodb.expressions.update import Action

from chalicelib.adapters import aws_clients, dynamodb_totals
from chalicelib.adapters.dynamodb_models import BoardCount, BoardEntry
from chalicelib.adapters.dynamodb_transactions import (
    ConditionsFailed,
    NamedTransaction,
    condition_failed,
)
from chalicelib.domain import boards
from chalicelib.domain.boards import Entry, EntryChange, EntryKey, StaleEntries
from chalicelib.domain.clock import utc_now as time_now
from chalicelib.errors import RetryableConflict

NODE_COUNTER = "n"
DISTRICT_COUNTER = "d:"
_BATCH_GET = 100


def _entry_name(key: EntryKey) -> str:
    return f"entry:{key.board}:{key.citizen_id}"


def entry_of(item: BoardEntry) -> Entry:
    return Entry(
        board=item.board,
        citizen_id=item.citizen_id,
        days={str(k): int(v) for k, v in (item.days.as_dict() or {}).items()},
        display_name=item.display_name,
        name_key=item.name_key,
        version=item.version,
    )


def item_of(entry: Entry) -> BoardEntry:
    item = BoardEntry(
        entry.board,
        entry.citizen_id,
        score=None if boards.is_walkers_board(entry.board) else entry.score,
        days=dict(entry.days),
        display_name=entry.display_name,
        name_key=entry.name_key,
        expires=boards.expires_at(boards.period_of_board(entry.board)),
    )
    if entry.version is not None:
        item.version = entry.version
    return item


def counters_of(raw: dict[str, Any], prefix: str) -> dict[Any, int]:
    """A node's counters from its raw item: `n123` -> {123: count}; `d:x` -> {"x": count}."""
    out: dict[Any, int] = {}
    for name, value in raw.items():
        if not name.startswith(prefix) or "N" not in value:
            continue
        key = name[len(prefix) :]
        out[int(key) if prefix == NODE_COUNTER else key] = int(value["N"])
    return out


class DynamoDbBoards:
    # -- the stream side --------------------------------------------------------------

    def read_entries(self, keys: list[EntryKey], consistent: bool) -> dict[EntryKey, Entry]:
        """The stored entries among `keys` (BatchGetItem, 100 keys a request). A stale read
        costs only a retry (the write is conditioned on the version read), so the first
        read is eventually consistent, at half the price; a retry reads consistently."""
        found = BoardEntry.batch_get(
            [(k.board, k.citizen_id) for k in keys], consistent_read=consistent
        )
        return {EntryKey(i.board, i.citizen_id): entry_of(i) for i in found}

    def write(self, chunk: list[EntryChange]) -> None:
        """One transaction: the chunk's entries and the counters they move. Raises
        StaleEntries (re-read and recompute) or RetryableConflict (try again)."""
        tx = NamedTransaction()
        for change in chunk:
            tx.put(_entry_name(change.new.key), item_of(change.new))
        for node, counters in boards.tree_deltas(chunk).items():
            actions: list[Action] = [
                Path(f"{NODE_COUNTER}{c}").add(delta) for c, delta in sorted(counters.items())
            ]
            self._update_counts(tx, node, actions)
        for row, totals in boards.district_deltas(chunk).items():
            actions = [
                Path(f"{DISTRICT_COUNTER}{code}").add(gain) for code, gain in sorted(totals.items())
            ]
            self._update_counts(tx, row, actions)
        dynamodb_totals.count_steps_synced(tx, boards.steps_synced(chunk), time_now())
        dynamodb_totals.count_walkers(tx, boards.walkers_counted(chunk), time_now())
        try:
            tx.commit()
        except ConditionsFailed as e:
            names = {_entry_name(c.new.key): c.new.key for c in chunk}
            stale = {names[n] for n in e.names if n in names}
            if not stale:
                raise RetryableConflict(f"board counts: {sorted(e.names)}") from e
            raise StaleEntries(stale) from e

    def rename(self, board: str, citizen_id: str, display_name: str, name_key: str) -> bool:
        """Show a newer name on an existing entry: one conditional UpdateItem that also
        moves the entry's version, so a stream batch that read the entry before fails its
        version condition, re-reads and keeps this name (the greater key). False when the
        citizen is not on that board or a newer name is already there."""
        item = BoardEntry(board, citizen_id)
        item.version = 0  # any value: the version is incremented (ADD 1), not compared
        try:
            item.update(
                actions=[
                    BoardEntry.display_name.set(display_name),
                    BoardEntry.name_key.set(name_key),
                ],
                condition=BoardEntry.board.exists() & (BoardEntry.name_key < name_key),
                add_version_condition=False,
            )
        except UpdateError as e:
            if not condition_failed(e):
                raise
            return False
        return True

    @staticmethod
    def _update_counts(tx: NamedTransaction, node: str, actions: list[Action]) -> None:
        period = boards.period_of_board(node)
        actions.append(BoardCount.expires.set(boards.expires_at(period)))
        tx.update(f"node:{node}", BoardCount(node), actions, versioned=False)

    # -- the read side ----------------------------------------------------------------

    def entry(self, board: str, citizen_id: str) -> Entry | None:
        try:
            return entry_of(BoardEntry.get(board, citizen_id))
        except BoardEntry.DoesNotExist:
            return None

    def top(self, board: str, limit: int) -> list[tuple[str, int]]:
        """(display_name, score), best first: one query of the score index."""
        return [
            (item.display_name, int(item.score))
            for item in BoardEntry.by_score.query(board, scan_index_forward=False, limit=limit)
        ]

    def nodes(self, nodes: list[str]) -> dict[str, dict[int, int]]:
        """Tree nodes' counters (one BatchGetItem; a node never written is empty)."""
        raw = self._batch_get_raw(nodes)
        return {node: counters_of(raw.get(node, {}), NODE_COUNTER) for node in nodes}

    def district_totals(self, period: str) -> dict[str, int]:
        row = boards.district_totals_row(period)
        return counters_of(self._batch_get_raw([row]).get(row, {}), DISTRICT_COUNTER)

    @staticmethod
    def _batch_get_raw(nodes: list[str]) -> dict[str, dict[str, Any]]:
        """The counters are named at run time, which a model cannot declare: read raw
        (chalicelib.adapters.dynamodb_reads answers models, which keep declared attributes
        only). Keys left unprocessed are asked again with backoff."""
        client = aws_clients.client("dynamodb")
        table = BoardCount.Meta.table_name
        found: dict[str, dict[str, Any]] = {}
        keys = [{"node": {"S": n}} for n in dict.fromkeys(nodes)]
        for start in range(0, len(keys), _BATCH_GET):
            pending = keys[start : start + _BATCH_GET]
            for attempt in range(8):
                response = client.batch_get_item(RequestItems={table: {"Keys": pending}})
                for item in response.get("Responses", {}).get(table, []):
                    found[item["node"]["S"]] = item
                pending = response.get("UnprocessedKeys", {}).get(table, {}).get("Keys", [])
                if not pending:
                    break
                time.sleep(0.01 * 2**attempt)
            else:
                raise RetryableConflict("DynamoDB left board nodes unprocessed; try again")
        return found

    # -- bulk loading (bench and tests: a large board without replaying a stream) ------

    def load(self, entries: list[Entry]) -> None:
        """Write entries and their tree counts directly, in BatchWriteItem requests (no
        transactions, no versions): only for building a board from nothing."""
        with BoardEntry.batch_write() as batch:
            for entry in entries:
                batch.save(item_of(replace(entry, version=entry.version or 1)))
        changes = [EntryChange(None, e) for e in entries]
        for node, counters in boards.tree_deltas(changes).items():
            BoardCount(node).update(
                actions=[Path(f"{NODE_COUNTER}{c}").add(n) for c, n in counters.items()]
            )
