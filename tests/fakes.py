"""In-memory stores behind the services' ports, for unit tests that need no emulator.

Each fake passes the same contract tests as its DynamoDB adapter
(tests/functional/test_store_contracts.py), so the two cannot drift: what a service does
against a fake, it does against DynamoDB.
"""

from __future__ import annotations

import base64
import dataclasses
import threading
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from chalicelib.domain import ledger
from chalicelib.domain.citizens import Citizen, DepositCodeGrant, PhoneTaken, ProfileChange
from chalicelib.domain.ledger import (
    Account,
    AlreadyPosted,
    CodeConsumed,
    EffectRefused,
    ItemsCounted,
    LedgerEntry,
    LedgerPage,
    PostedResult,
    Posting,
)
from chalicelib.domain.operations import ParkedMessages, QuarantinedMessage, QuarantinePage
from chalicelib.domain.recycling import CodeRecord, DepositAck, FirstLook
from chalicelib.domain.steps import Walker
from chalicelib.domain.totals import Counted, Totals, summed
from chalicelib.errors import BadRequest, RetryableConflict


@dataclasses.dataclass
class _Code:
    record: CodeRecord
    reserved_until: datetime
    account: Account | None


class MemoryCity:
    """The state the fakes share, as the tables do."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.citizens: dict[str, Citizen] = {}
        self.links: dict[str, str] = {}
        self.link_snapshots: dict[str, tuple[int, int]] = {}
        self.codes: dict[str, _Code] = {}
        self.guards: dict[str, PostedResult] = {}
        self.entries: dict[str, list[LedgerEntry]] = {}
        self.days: dict[tuple[str, str], int] = {}
        self.eligible: set[str] = set()


class MemoryCitizens:
    def __init__(self, city: MemoryCity) -> None:
        self._city = city

    def get(self, citizen_id: str) -> Citizen | None:
        return self._city.citizens.get(citizen_id)

    def save_profile(self, citizen_id: str, change: ProfileChange, now: datetime) -> Citizen:
        city = self._city
        with city.lock:
            old = city.citizens.get(citizen_id)
            old_hash = old.phone_hash if old else None
            new_hash = old_hash if change.phone_hash is None else (change.phone_hash or None)
            if (
                new_hash
                and new_hash != old_hash
                and city.links.get(new_hash, citizen_id) != citizen_id
            ):
                raise PhoneTaken()
            if old_hash and new_hash != old_hash:
                city.links.pop(old_hash, None)
                city.link_snapshots.pop(old_hash, None)
            if new_hash and new_hash != old_hash:
                city.links[new_hash] = citizen_id
                version = old.version if old else 0
                city.link_snapshots[new_hash] = (version + 1, old.balance if old else 0)
            saved = Citizen(
                citizen_id=citizen_id,
                display_name=change.display_name,
                district=change.district,
                balance=old.balance if old else 0,
                lifetime_earned=old.lifetime_earned if old else 0,
                lifetime_paid=old.lifetime_paid if old else 0,
                phone_hash=new_hash,
                created_at=old.created_at if old else now,
                updated_at=now,
                version=(old.version if old else 0) + 1,
            )
            city.citizens[citizen_id] = saved
            return saved

    def reserve_code(self, grant: DepositCodeGrant, now: datetime) -> bool:
        with self._city.lock:
            held = self._city.codes.get(grant.code)
            if held is not None and held.reserved_until >= now:
                return False
            record = CodeRecord(
                grant.code, grant.citizen_id, grant.issued_at, grant.expires_at, None
            )
            self._city.codes[grant.code] = _Code(record, grant.reserved_until, grant.account)
            return True


class MemoryLedger:
    def __init__(
        self,
        city: MemoryCity,
        payout_threshold: int = 2000,
        devices: dict[str, str] | None = None,
    ) -> None:
        self._city = city
        self._threshold = payout_threshold
        self._devices = devices or {}
        self.before_post: Callable[[Posting], None] | None = None
        """A hook to interleave another write between a read and this posting (races)."""

    def first_look(
        self,
        guard_key: str,
        device_id: str = "",
        *,
        code: str | None = None,
        phone_hash: str | None = None,
    ) -> FirstLook:
        city = self._city
        held = city.codes.get(code) if code is not None else None
        owner = city.links.get(phone_hash) if phone_hash is not None else None
        snapshot = held.account if held else None
        if owner is not None and phone_hash in city.link_snapshots:
            version, balance = city.link_snapshots[phone_hash]
            snapshot = Account(owner, balance, version, phone_hash)
        return FirstLook(
            device_type=self._devices.get(device_id),
            settled=city.guards.get(guard_key),
            code=held.record if held else None,
            phone_citizen_id=owner,
            account=snapshot,
        )

    def account_and_day(self, citizen_id: str, day: str) -> tuple[Account | None, int | None]:
        citizen = self._city.citizens.get(citizen_id)
        return (citizen.account if citizen else None, self._city.days.get((citizen_id, day)))

    def post(self, posting: Posting) -> PostedResult:
        if self.before_post is not None:
            hook, self.before_post = self.before_post, None
            hook(posting)
        city = self._city
        citizen_id = posting.account.citizen_id
        with city.lock:
            if posting.guard_key in city.guards:
                raise AlreadyPosted(posting.guard_key)
            current = city.citizens.get(citizen_id)
            for effect in posting.effects:
                if not self._effect_holds(effect):
                    raise EffectRefused(effect)
            if current is None or current.version != posting.account.version:
                raise RetryableConflict(f"{citizen_id} moved")
            link = posting.account.phone_hash
            if link and city.links.get(link) != citizen_id:
                raise RetryableConflict(f"{citizen_id}: the phone link moved")
            if link:
                city.link_snapshots[link] = (current.version + 1, posting.balance_after)
            for effect in posting.effects:
                self._apply(effect, posting)
            city.citizens[citizen_id] = dataclasses.replace(
                current,
                balance=posting.balance_after,
                lifetime_earned=current.lifetime_earned + posting.earned,
                lifetime_paid=current.lifetime_paid + posting.paid,
                updated_at=posting.at,
                version=current.version + 1,
            )
            if ledger.payout_eligible(posting.balance_after, self._threshold):
                city.eligible.add(citizen_id)
            else:
                city.eligible.discard(citizen_id)
            city.entries.setdefault(citizen_id, []).append(
                LedgerEntry(
                    citizen_id,
                    posting.entry_id,
                    posting.kind,
                    posting.points,
                    posting.balance_after,
                    posting.at,
                    posting.guard_key,
                    dict(posting.detail),
                )
            )
            result = PostedResult(
                "credited", posting.points, posting.balance_after, posting.note, posting.entry_id
            )
            city.guards[posting.guard_key] = result
            return result

    def _effect_holds(self, effect: ItemsCounted | CodeConsumed) -> bool:
        if isinstance(effect, ItemsCounted):
            count = self._city.days.get((effect.citizen_id, effect.day))
            if effect.limit is not None:
                return count is None or count <= effect.limit - effect.items
            return count == effect.expected
        held = self._city.codes.get(effect.code)
        return (
            held is not None
            and held.record.used_by is None
            and held.record.citizen_id == effect.citizen_id
        )

    def _apply(self, effect: ItemsCounted | CodeConsumed, posting: Posting) -> None:
        if isinstance(effect, ItemsCounted):
            key = (effect.citizen_id, effect.day)
            self._city.days[key] = self._city.days.get(key, 0) + effect.items
        else:
            held = self._city.codes[effect.code]
            held.record = dataclasses.replace(held.record, used_by=posting.guard_key)

    def record_rejection(self, guard_key: str, reason: str, now: datetime) -> PostedResult:
        with self._city.lock:
            return self._city.guards.setdefault(
                guard_key, PostedResult("rejected", 0, None, reason)
            )

    def page(self, citizen_id: str, limit: int, cursor: str | None) -> LedgerPage:
        entries = sorted(
            self._city.entries.get(citizen_id, []), key=lambda e: e.entry_id, reverse=True
        )
        if cursor is not None:
            owner, _, after = _decode(cursor).partition("|")
            if owner != citizen_id or not after:
                raise BadRequest("the cursor is not valid", code="invalid_cursor")
            entries = [e for e in entries if e.entry_id < after]
        page = entries[:limit]
        more = len(entries) > limit
        return LedgerPage(page, _encode(f"{citizen_id}|{page[-1].entry_id}") if more else None)

    def eligible_citizens(self) -> list[str]:
        return sorted(self._city.eligible)


def _encode(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


def _decode(cursor: str) -> str:
    try:
        return base64.urlsafe_b64decode(cursor.encode()).decode()
    except (ValueError, UnicodeDecodeError) as e:
        raise BadRequest("the cursor is not valid", code="invalid_cursor") from e


class MemoryRateLimiter:
    def __init__(self) -> None:
        self._windows: dict[str, tuple[int, int]] = {}

    def acquire(self, key: str, limit: int, window_s: int, now: datetime) -> bool:
        start = int(now.timestamp()) // window_s * window_s
        window, uses = self._windows.get(key, (start, 0))
        if window != start:
            window, uses = start, 0
        if uses >= limit:
            return False
        self._windows[key] = (window, uses + 1)
        return True


class MemoryQuarantine:
    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        self.messages: list[QuarantinedMessage] = []

    def quarantine(
        self,
        *,
        source: str,
        reason: str,
        device_id: str | None,
        event_id: str | None,
        details: str,
        payload: str | None,
    ) -> None:
        self.messages.append(
            QuarantinedMessage(
                source,
                f"{len(self.messages):08d}",
                reason,
                device_id,
                event_id,
                details,
                payload,
                self._clock(),
            )
        )

    def newest(self, source: str, limit: int, cursor: str | None = None) -> QuarantinePage:
        """Cursors are the position in the source's newest-first list."""
        found = [m for m in reversed(self.messages) if m.source == source]
        start = int(cursor) if cursor else 0
        page = found[start : start + limit]
        more = start + limit < len(found)
        return QuarantinePage(page, str(start + limit) if more else None)


class RecordingAcks:
    def __init__(self) -> None:
        self.sent: list[tuple[str, DepositAck]] = []

    def publish_ack(self, device_id: str, ack: DepositAck) -> None:
        self.sent.append((device_id, ack))


class MemoryTotals:
    def __init__(self) -> None:
        self.rows: dict[str, Totals] = {}
        self.counted: set[str] = set()

    def add_once(self, entries: list[Counted]) -> int:
        fresh = {e.guard_key: e for e in entries if e.guard_key not in self.counted}
        self.counted.update(fresh)
        for period, change in summed(list(fresh.values())).items():
            row = self.rows.get(period, Totals(period))
            self.rows[period] = Totals(
                period,
                row.points_issued + change.points_issued,
                row.points_paid + change.points_paid,
                row.items_recycled + change.items_recycled,
                row.entries + change.entries,
            )
        return len(fresh)

    def read(self, periods: tuple[str, ...]) -> dict[str, Totals]:
        return {p: self.rows[p] for p in periods if p in self.rows}


class MemoryDeadLetters:
    def __init__(self, parked: list[ParkedMessages] | None = None) -> None:
        self.parked = parked or []

    def depths(self) -> list[ParkedMessages]:
        return list(self.parked)


__all__ = ["Any"]


class MemorySteps:
    """Step days and who walks them, kept like the step table: a day's count only goes up."""

    def __init__(self) -> None:
        self.walkers: dict[str, Walker] = {}
        self.days: dict[tuple[str, date], int] = {}
        self.writes = 0

    def current(self, citizen_id: str, days: list[date]) -> tuple[Walker | None, dict[date, int]]:
        stored = {d: self.days[(citizen_id, d)] for d in days if (citizen_id, d) in self.days}
        return self.walkers.get(citizen_id), stored

    def raise_to(
        self, citizen_id: str, day: date, steps: int, walker: Walker, now: datetime
    ) -> int:
        self.writes += 1
        key = (citizen_id, day)
        self.days[key] = max(self.days.get(key, -1), steps)
        return self.days[key]

    def between(self, citizen_id: str, first: date, last: date) -> dict[date, int]:
        return {d: n for (c, d), n in self.days.items() if c == citizen_id and first <= d <= last}


# -- Walking: step leaderboards ------------------------------------------------------------


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

    def top(self, board: str, limit: int) -> list[tuple[str, int]]:
        on_board = [e for e in self.entries.values() if e.board == board]
        on_board.sort(key=lambda e: (-e.score, e.citizen_id))
        return [(e.display_name, e.score) for e in on_board[:limit]]

    def nodes(self, nodes: list[str]) -> dict[str, dict[int, int]]:
        return {n: dict(self.counters.get(n, {})) for n in nodes}

    def district_totals(self, period: str) -> dict[str, int]:
        from chalicelib.domain import boards

        return dict(self.counters.get(boards.district_totals_row(period), {}))


# Challenges ---------------------------------------------------------------------------------


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
        self.before_save: Callable[[], None] | None = None
        """A hook run once before the next save_progress (to interleave a race)."""

    def create(self, challenge: Any, seed: str | None) -> None:
        with self.lock:
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

    def record_draw(self, challenge_id: str, draw: Any) -> None:
        with self.lock:
            current = self.challenges[challenge_id]
            if current.draw is not None:
                raise self._c.AlreadyDrawn(current)
            self.challenges[challenge_id] = dataclasses.replace(current, draw=draw)

    def draw_lists(self, challenge_id: str, finisher_digest: str) -> tuple[Any, Any]:
        drawn = self.challenges[challenge_id].draw
        return drawn.finishers, drawn.winners

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
