"""A robot's durable outbox: every deposit stays on the robot's disk until its ack arrives.

A citizen who fed the robot cans must be credited even when the park's network drops or the
robot reboots between the deposit and the ack. So a deposit is written here (committed, with
its `event_id`) before it is ever published, and only the ack marks it done. After a
reconnect or a restart the robot resends every pending row with the same `event_id`; the
cloud credits an event once and answers a resend `duplicate` with the same points, so a
resend can never credit twice (DESIGN §3).

SQLite in WAL mode with `synchronous=FULL`: a row acknowledged by `put` survives a power cut.
One connection per outbox, guarded by a lock (the SDK's callback thread and the robot's own
thread both use it). Acked rows are kept (with the ack) for the robot's log and trimmed by age.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    payload TEXT NOT NULL,
    created_at REAL NOT NULL,
    sent_count INTEGER NOT NULL DEFAULT 0,
    last_sent_at REAL,
    ack TEXT,
    acked_at REAL
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (seq) WHERE ack IS NULL;
"""


@dataclass(frozen=True)
class Pending:
    """A deposit waiting for its ack."""

    event_id: str
    payload: dict[str, Any]
    sent_count: int
    last_sent_at: float | None


class Outbox:
    """Deposits by `event_id`, pending until acked. Safe to share between threads."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def put(self, event: dict[str, Any]) -> bool:
        """Keep a deposit (it must carry its `event_id`). False when that event is already kept:
        the first payload stays, so a resend is byte-for-byte the original event."""
        event_id = event.get("event_id")
        if not isinstance(event_id, str) or not event_id:
            raise ValueError("a deposit needs its event_id before it enters the outbox")
        payload = json.dumps(event, separators=(",", ":"), ensure_ascii=False)
        with self._lock:
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO outbox (event_id, payload, created_at) VALUES (?, ?, ?)",
                (event_id, payload, time.time()),
            )
            return cursor.rowcount == 1

    def pending(self, limit: int = 1000, sent_before: float | None = None) -> list[Pending]:
        """Unacked deposits, oldest first; with `sent_before`, only those never sent or last
        sent before that time (the ones due for a resend)."""
        query = "SELECT event_id, payload, sent_count, last_sent_at FROM outbox WHERE ack IS NULL"
        params: list[Any] = []
        if sent_before is not None:
            query += " AND (last_sent_at IS NULL OR last_sent_at < ?)"
            params.append(sent_before)
        query += " ORDER BY seq LIMIT ?"
        params.append(limit)
        with self._lock:
            rows = self._db.execute(query, params).fetchall()
        return [Pending(r[0], json.loads(r[1]), int(r[2]), r[3]) for r in rows]

    def mark_sent(self, event_id: str) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE outbox SET sent_count = sent_count + 1, last_sent_at = ? "
                "WHERE event_id = ?",
                (time.time(), event_id),
            )

    def acknowledge(self, event_id: str, ack: dict[str, Any]) -> bool:
        """Record the ack. True the first time (the deposit was pending), False for an ack of
        an unknown or already-acked event: the first ack is the one the citizen saw."""
        with self._lock:
            cursor = self._db.execute(
                "UPDATE outbox SET ack = ?, acked_at = ? WHERE event_id = ? AND ack IS NULL",
                (json.dumps(ack, ensure_ascii=False), time.time(), event_id),
            )
            return cursor.rowcount == 1

    def ack_of(self, event_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT ack FROM outbox WHERE event_id = ?", (event_id,)
            ).fetchone()
        return json.loads(row[0]) if row and row[0] else None

    def acks(self) -> dict[str, dict[str, Any]]:
        """Every recorded ack by event id (tests, the robot's log)."""
        with self._lock:
            rows = self._db.execute("SELECT event_id, ack FROM outbox WHERE ack IS NOT NULL")
            return {r[0]: json.loads(r[1]) for r in rows.fetchall()}

    def pending_count(self) -> int:
        """How many wait for their ack (read from the pending index: cheap however many acked
        rows the robot keeps)."""
        with self._lock:
            row = self._db.execute("SELECT COUNT(*) FROM outbox WHERE ack IS NULL").fetchone()
        return int(row[0])

    def counts(self) -> tuple[int, int]:
        """(pending, acked)."""
        with self._lock:
            row = self._db.execute(
                "SELECT SUM(ack IS NULL), SUM(ack IS NOT NULL) FROM outbox"
            ).fetchone()
        return int(row[0] or 0), int(row[1] or 0)

    def trim(self, older_than_s: float = 7 * 24 * 3600) -> int:
        """Forget acked deposits older than that; pending ones are never dropped."""
        with self._lock:
            cursor = self._db.execute(
                "DELETE FROM outbox WHERE ack IS NOT NULL AND acked_at < ?",
                (time.time() - older_than_s,),
            )
            return cursor.rowcount
