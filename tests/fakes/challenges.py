"""Challenges in memory."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from datetime import date, datetime
from typing import Any


class MemoryChallenges:
    """Challenges and entries with the DynamoDB adapter's conditions (entry version, the
    finisher counter and last finish key, ledger guards, the draw once); both pass the same
    contract tests (tests/functional/test_challenges.py)."""

    def __init__(self) -> None:
        from chalicelib.domain import challenges as c

        self._c = c
        self.lock = threading.RLock()
        self.challenges: dict[str, Any] = {}
        self.seeds: dict[str, str | None] = {}
        self.entries: dict[tuple[str, str], Any] = {}
        self.finish_keys: dict[tuple[str, str], str] = {}
        self.guards: set[str] = set()
        self.steps: dict[tuple[str, str], int] = {}
        self.actions: list[Any] = []
        """Staff actions written with a challenge or its draw."""
        self.before_save: Callable[[], None] | None = None
        """A hook run once before the next save_progress (to interleave a race)."""

    def create(self, challenge: Any, seed: str | None, action: Any = None) -> None:
        with self.lock:
            if action is not None:
                self.actions.append(action)
            self.challenges[challenge.challenge_id] = challenge
            self.seeds[challenge.challenge_id] = seed

    def get(self, challenge_id: str) -> Any:
        return self.challenges.get(challenge_id)

    def seed(self, challenge_id: str) -> str | None:
        return self.seeds.get(challenge_id)

    def get_many(self, challenge_ids: set[str]) -> dict[str, Any]:
        return {i: self.challenges[i] for i in challenge_ids if i in self.challenges}

    def ending_since(self, day: date) -> list[Any]:
        found = [ch for ch in self.challenges.values() if ch.ends_on >= day]
        return sorted(found, key=lambda ch: (ch.ends_on, ch.challenge_id))

    def record_draw(self, challenge_id: str, draw: Any, action: Any = None) -> None:
        with self.lock:
            current = self.challenges[challenge_id]
            if current.draw is not None:
                raise self._c.AlreadyDrawn(current)
            if action is not None:
                self.actions.append(action)
            self.challenges[challenge_id] = dataclasses.replace(current, draw=draw)

    def draw_lists(self, challenge_id: str, finisher_digest: str) -> tuple[Any, Any, Any]:
        drawn = self.challenges[challenge_id].draw
        return drawn.finishers, drawn.winners, drawn.winner_ids

    def finisher_ids(self, challenge_id: str) -> list[str]:
        keyed = [(k, cid) for (cid, chl), k in self.finish_keys.items() if chl == challenge_id]
        return [cid for _, cid in sorted(keyed)]

    def entry(self, citizen_id: str, challenge_id: str) -> Any:
        return self.entries.get((citizen_id, challenge_id))

    def entries_in(self, challenge_id: str, citizen_ids: list[str]) -> dict[str, Any]:
        found = ((cid, self.entries.get((cid, challenge_id))) for cid in citizen_ids)
        return {cid: entry for cid, entry in found if entry is not None}

    def entries_of(self, citizen_id: str) -> list[Any]:
        return [e for (cid, _), e in sorted(self.entries.items()) if cid == citizen_id]

    def join(self, entry: Any, ends_on: date) -> None:
        with self.lock:
            key = (entry.citizen_id, entry.challenge_id)
            if key in self.entries:
                raise self._c.AlreadyJoined(self.entries[key])
            self.entries[key] = entry

    def save_progress(
        self, before: Any, after: Any, guards: set[str], finish: Any, now: datetime
    ) -> None:
        if self.before_save is not None:
            hook, self.before_save = self.before_save, None
            hook()
        with self.lock:
            key = (after.citizen_id, after.challenge_id)
            seen = guards & self.guards
            if seen:
                raise self._c.GuardsSeen(seen)
            current = self.entries.get(key)
            if current is None or current.version != before.version:
                raise self._c.EntryMoved(after.challenge_id)
            if finish is not None:
                if current.finished:
                    raise self._c.EntryMoved(after.challenge_id)
                challenge = self.challenges[after.challenge_id]
                if (
                    challenge.finishers != finish.previous_count
                    or challenge.last_finish_key != finish.previous_key
                    or (finish.previous_key is not None and finish.key <= finish.previous_key)
                ):
                    raise self._c.FinishOutOfOrder(after.challenge_id)
                self.challenges[after.challenge_id] = dataclasses.replace(
                    challenge, finishers=challenge.finishers + 1, last_finish_key=finish.key
                )
                self.finish_keys[key] = finish.key
            self.guards |= guards
            # The flag is not the progress write's to change (the adapter leaves it alone).
            self.entries[key] = dataclasses.replace(after, prize_awarded=current.prize_awarded)

    def mark_awarded(self, citizen_id: str, challenge_id: str) -> None:
        with self.lock:
            key = (citizen_id, challenge_id)
            self.entries[key] = dataclasses.replace(self.entries[key], prize_awarded=True)

    def step_days(self, citizen_id: str, first: date, last: date) -> dict[str, int]:
        return {
            d: n
            for (cid, d), n in self.steps.items()
            if cid == citizen_id and first.isoformat() <= d <= last.isoformat()
        }
