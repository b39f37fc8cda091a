"""In-memory stores behind the services' ports, for unit tests that need no emulator.

Each fake passes the same contract tests as its DynamoDB adapter
(tests/functional/test_store_contracts.py), so the two cannot drift: what a service does
against a fake, it does against DynamoDB.
"""

from __future__ import annotations

import base64
import dataclasses
import threading
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

from chalicelib.domain import ledger
from chalicelib.domain.citizens import Citizen, DepositCodeGrant, ProfileChange
from chalicelib.domain.ledger import (
    Account,
    AlreadyPosted,
    ChunkPaid,
    CodeConsumed,
    Effect,
    EffectRefused,
    ItemsCounted,
    LedgerEntry,
    LedgerPage,
    PayoutRecorded,
    PayoutRunCounted,
    PayoutSettled,
    PostedResult,
    Posting,
)
from chalicelib.domain.operations import ParkedMessages, QuarantinedMessage, QuarantinePage
from chalicelib.domain.payouts import PayoutItem, RunSummary
from chalicelib.domain.phone_proofs import Notice, Verification, VerificationSpent
from chalicelib.domain.recycling import CodeRecord, DepositAck, FirstLook
from chalicelib.domain.steps import Walker
from chalicelib.domain.totals import Counted, Totals, summed
from chalicelib.errors import BadRequest, NotFound, RetryableConflict


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
        self.payout_items: dict[tuple[str, str], PayoutItem] = {}
        self.payout_runs: dict[str, RunSummary] = {}
        self.chunks: dict[tuple[str, str], Any] = {}


class MemoryCitizens:
    def __init__(self, city: MemoryCity) -> None:
        self._city = city

    def get(self, citizen_id: str) -> Citizen | None:
        return self._city.citizens.get(citizen_id)

    def save_profile(self, citizen_id: str, change: ProfileChange, now: datetime) -> Citizen:
        city = self._city
        with city.lock:
            old = city.citizens.get(citizen_id)
            saved = Citizen(
                citizen_id=citizen_id,
                display_name=change.display_name,
                district=change.district,
                balance=old.balance if old else 0,
                lifetime_earned=old.lifetime_earned if old else 0,
                lifetime_paid=old.lifetime_paid if old else 0,
                phone_hash=old.phone_hash if old else None,
                created_at=old.created_at if old else now,
                updated_at=now,
                version=(old.version if old else 0) + 1,
                name_version=(old.name_version if old else 0)
                + (old is None or old.display_name != change.display_name),
            )
            city.citizens[citizen_id] = saved
            return saved

    def reserve_code(self, grant: DepositCodeGrant, now: datetime) -> bool:
        """As the DynamoDB adapter: the slot's key free, the slots before's grants issued at
        or before `clear_before`, the slots after's at or after `clear_from`, the old
        layout's row expired by `legacy_clear_before`."""
        assert grant.clear_before is not None and grant.legacy_clear_before is not None
        with self._city.lock:
            codes = self._city.codes
            before = [codes[k] for k in grant.previous_keys if k in codes]
            after = [codes[k] for k in grant.next_keys if k in codes]
            legacy = codes.get(grant.code)
            if (
                grant.key in codes
                or any(c.record.issued_at > grant.clear_before for c in before)
                or (legacy is not None and legacy.record.expires_at > grant.legacy_clear_before)
                or (
                    grant.clear_from is not None
                    and any(c.record.issued_at < grant.clear_from for c in after)
                )
            ):
                return False
            record = CodeRecord(
                grant.code, grant.citizen_id, grant.issued_at, grant.expires_at, None, grant.key
            )
            codes[grant.key] = _Code(record, grant.reserved_until, grant.account)
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
        code_keys: Sequence[str] = (),
        phone_hash: str | None = None,
    ) -> FirstLook:
        city = self._city
        grants = sorted(
            (city.codes[k] for k in code_keys if k in city.codes),
            key=lambda g: g.record.issued_at,
        )
        held = grants[-1] if grants else None
        owner = city.links.get(phone_hash) if phone_hash is not None else None
        snapshot = held.account if held else None
        if owner is not None and phone_hash in city.link_snapshots:
            version, balance = city.link_snapshots[phone_hash]
            snapshot = Account(owner, balance, version, phone_hash)
        return FirstLook(
            device_type=self._devices.get(device_id),
            settled=city.guards.get(guard_key),
            codes=tuple(g.record for g in grants),
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

    def _effect_holds(self, effect: Effect) -> bool:
        if isinstance(effect, PayoutRecorded | PayoutSettled | PayoutRunCounted | ChunkPaid):
            return _payout_effect_holds(self._city, effect)
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

    def _apply(self, effect: Effect, posting: Posting) -> None:
        if isinstance(effect, PayoutRecorded | PayoutSettled | PayoutRunCounted | ChunkPaid):
            _apply_payout_effect(self._city, effect, posting)
        elif isinstance(effect, ItemsCounted):
            key = (effect.citizen_id, effect.day)
            self._city.days[key] = self._city.days.get(key, 0) + effect.items
        elif isinstance(effect, CodeConsumed):
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
                materials={
                    m: row.materials.get(m, 0) + dict(change.materials).get(m, 0)
                    for m in {*row.materials, *dict(change.materials)}
                },
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


# ---------------------------------------------------------------- shelters and robots


class MemoryFleet:
    """The fleet store (chalicelib.services.fleet.FleetStore) in memory: the same conditions
    as chalicelib.adapters.dynamodb_fleet (tests/functional/test_fleet_contracts.py)."""

    def __init__(self, registry: dict[str, dict[str, Any]]) -> None:
        self.registry = registry  # device_id -> {"type", "name", "district", "lat", "lon"}
        self.states: dict[str, Any] = {}
        self.hours: dict[tuple[str, str], dict[str, Any]] = {}
        self._lock = threading.Lock()

    def device(self, device_id: str) -> Any:
        return self.states.get(device_id)

    def devices(self, device_type: str, district: str | None = None) -> list[Any]:
        found = [
            s
            for s in self.states.values()
            if s.device_type == device_type and (district is None or s.district == district)
        ]
        return sorted(found, key=lambda s: (s.district, s.device_id))

    def create_state(self, device_id: str, device_type: str) -> Any:
        from chalicelib.domain.fleet import DeviceState

        spec = self.registry.get(device_id)
        if spec is None or spec["type"] != device_type:
            return None
        with self._lock:
            self.states.setdefault(
                device_id,
                DeviceState(
                    device_id, device_type, spec["name"], spec["district"],  # type: ignore[arg-type]
                    spec["lat"], spec["lon"],
                ),
            )  # fmt: skip
        return self.states[device_id]

    def _message(self, device_id: str, device_type: str, ts_field: str, ts: datetime) -> Any:
        from chalicelib.domain.fleet import NoState, Stale

        state = self.states.get(device_id)
        if state is None or state.device_type != device_type:
            raise NoState(device_id)
        stored = getattr(state, ts_field)
        if stored is not None and stored >= ts:
            raise Stale(device_id)
        return state

    def _put(self, state: Any, **changes: Any) -> Any:
        new = dataclasses.replace(state, **changes)
        self.states[state.device_id] = new
        return new

    def apply_reading(self, device_id: str, reading: Any, now: datetime) -> Any:
        with self._lock:
            state = self._message(device_id, "shelter", "telemetry_ts", reading.ts)
            changes: dict[str, Any] = {"online": True, "last_seen": now, "telemetry_ts": reading.ts}
            for name in ("temp_c", "humidity", "co2_ppm", "occupancy", "chargers_total",
                         "chargers_in_use"):  # fmt: skip
                if getattr(reading, name) is not None:
                    changes[name] = getattr(reading, name)
            if reading.pm10 is not None or reading.pm25 is not None:
                changes.update(
                    pm10=reading.pm10, pm25=reading.pm25, grade=reading.grade, air_at=reading.ts
                )
            return self._put(state, **changes)

    def apply_status(self, device_id: str, device_type: str, status: Any, now: datetime) -> Any:
        with self._lock:
            state = self._message(device_id, device_type, "status_ts", status.ts)
            changes: dict[str, Any] = {"online": status.online, "status_ts": status.ts}
            if not status.is_will:
                changes.update(last_seen=now, fault=status.fault)
                if status.fw is not None:
                    changes["fw"] = status.fw
                if status.bins is not None:
                    changes.update(bins=status.bins, accepting=status.accepting)
            return self._put(state, **changes)

    def apply_presence(self, device_id: str, order: int, online: bool, now: datetime) -> Any:
        from chalicelib.domain.fleet import NoState, Stale

        with self._lock:
            state = self.states.get(device_id)
            if state is None:
                raise NoState(device_id)
            if state.presence_order is not None and state.presence_order >= order:
                raise Stale(device_id)
            changes: dict[str, Any] = {"presence_order": order, "online": online}
            if online:
                changes["last_seen"] = now
            return self._put(state, **changes)

    def apply_shadow(
        self,
        device_id: str,
        *,
        version: int,
        reported: str | None,
        desired_seen: str | None,
        expect_seen: tuple[str | None, str | None],
        reassert: str | None,
        now: datetime,
    ) -> Any:
        from chalicelib.domain.fleet import NoState, NotMet, PendingNotice, Stale, reassertion_key

        with self._lock:
            state = self.states.get(device_id)
            if state is None or state.device_type != "shelter":
                raise NoState(device_id)
            if state.shadow_version is not None and state.shadow_version >= version:
                raise Stale(device_id)
            if (state.shadow_desired, state.purifier_desired) != expect_seen:
                raise NotMet()
            changes: dict[str, Any] = {"shadow_version": version, "shadow_desired": desired_seen}
            if reported is not None:
                changes["purifier_reported"] = reported
            if reassert is not None:
                entry = PendingNotice(
                    device_id, reassertion_key(version), {"purifier": reassert}, now
                )
                changes["outbox"] = (*state.outbox, entry)
            return self._put(state, **changes)

    def transition(
        self,
        device_id: str,
        *,
        guard: dict[tuple[str, ...], Any],
        opened: dict[str, Any],
        closed: tuple[str, ...],
        seen: dict[str, Any],
        air: Any,
        sets: dict[str, Any],
        notices: tuple[tuple[Any, dict[str, Any]], ...],
        now: datetime,
    ) -> Any:
        from chalicelib.domain.fleet import NotMet, PendingNotice

        with self._lock:
            state = self.states.get(device_id)
            if state is None:
                raise NotMet()
            held = all(getattr(state, path[0]) == value for path, value in guard.items())
            held = held and not any(kind in state.alerts for kind in opened)
            held = held and all(
                kind in state.alerts and state.alerts[kind].since == seen[kind].since
                for kind in closed
            )
            if air is not None:
                before, _ = air
                held = held and (state.air_alert.episode, state.air_alert.calm_since) == (
                    before.episode, before.calm_since)  # fmt: skip
            if not held:
                raise NotMet()
            alerts = {k: v for k, v in state.alerts.items() if k not in closed}
            alerts.update(opened)
            outbox = list(state.outbox)
            for notice, message in notices:
                outbox.append(PendingNotice(device_id, notice.alert_id, {"message": message}, now))
                if notice.purifier is not None:
                    outbox.append(
                        PendingNotice(
                            device_id, f"{notice.alert_id}#purifier",
                            {"purifier": notice.purifier}, now,
                        )
                    )  # fmt: skip
            changes: dict[str, Any] = {"alerts": alerts, "outbox": tuple(outbox), **sets}
            if air is not None:
                changes["air_alert"] = air[1]
            return self._put(state, **changes)

    def delivered(self, device_id: str, keys: list[str]) -> None:
        with self._lock:
            state = self.states.get(device_id)
            if state is not None and keys:
                kept = tuple(p for p in state.outbox if p.key not in keys)
                self._put(state, outbox=kept)

    def count(self, device_id: str, counter: str, *, only_if_not_accepting: bool = False) -> bool:
        with self._lock:
            state = self.states.get(device_id)
            if state is None or (only_if_not_accepting and state.accepting):
                return False
            self._put(state, **{counter: getattr(state, counter) + 1})
            return True

    def record_air(self, device_id: str, reading: Any) -> bool:
        from datetime import UTC

        if reading.pm10 is None and reading.pm25 is None:
            return False
        at = reading.ts.astimezone(UTC)
        with self._lock:
            hour = self.hours.setdefault((device_id, at.strftime("%Y-%m-%dT%H")), {})
            slot = f"m{at.minute:02d}"
            if slot in hour:
                return False
            hour[slot] = (reading.pm10, reading.pm25)
            return True

    def air_hours(self, device_id: str, first: datetime, last: datetime) -> list[Any]:
        from datetime import UTC

        from chalicelib.domain.air import HourMeans

        low, high = (t.astimezone(UTC).strftime("%Y-%m-%dT%H") for t in (first, last))
        found = []
        for (device, hour), slots in sorted(self.hours.items()):
            if device != device_id or not low <= hour <= high:
                continue
            pm10 = [v[0] for v in slots.values() if v[0] is not None]
            pm25 = [v[1] for v in slots.values() if v[1] is not None]
            found.append(
                HourMeans(
                    datetime.strptime(hour, "%Y-%m-%dT%H").replace(tzinfo=UTC),
                    round(sum(pm10) / len(pm10), 1) if pm10 else None,
                    round(sum(pm25) / len(pm25), 1) if pm25 else None,
                    max(len(pm10), len(pm25)),
                )
            )
        return found


class RecordingAlerts:
    """The operators' topic and the shelters' shadows: what was sent, or a failure."""

    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []
        self.purifiers: list[tuple[str, str]] = []
        self.down = False

    def publish(self, message: dict[str, Any]) -> None:
        if self.down:
            raise ConnectionError("SNS unreachable")
        self.published.append(message)

    def desire_purifier(self, device_id: str, mode: str) -> None:
        self.purifiers.append((device_id, mode))


# Payouts and ledger audits (issue 10) -------------------------------------------------------


def _payout_effect_holds(
    city: MemoryCity, effect: PayoutRecorded | PayoutSettled | PayoutRunCounted | ChunkPaid
) -> bool:
    if isinstance(effect, ChunkPaid):
        chunk = city.chunks.get((effect.job_id, effect.chunk_key))
        return chunk is not None and not chunk.done
    if isinstance(effect, PayoutRecorded):
        return (effect.run_id, effect.citizen_id) not in city.payout_items
    if isinstance(effect, PayoutSettled):
        item = city.payout_items.get((effect.run_id, effect.citizen_id))
        return item is not None and item.status == "pending"
    return effect.run_id in city.payout_runs


def _apply_payout_effect(
    city: MemoryCity,
    effect: PayoutRecorded | PayoutSettled | PayoutRunCounted | ChunkPaid,
    posting: Posting,
) -> None:
    if isinstance(effect, ChunkPaid):
        key = (effect.job_id, effect.chunk_key)
        city.chunks[key] = dataclasses.replace(city.chunks[key], paid=city.chunks[key].paid + 1)
    elif isinstance(effect, PayoutRecorded):
        city.payout_items[(effect.run_id, effect.citizen_id)] = PayoutItem(
            effect.run_id,
            effect.citizen_id,
            effect.period,
            effect.amount,
            effect.bank_code,
            effect.account_ciphertext,
            effect.account_last4,
            effect.holder,
            "pending",
            posting.at,
        )
    elif isinstance(effect, PayoutSettled):
        key = (effect.run_id, effect.citizen_id)
        city.payout_items[key] = dataclasses.replace(
            city.payout_items[key],
            status=effect.status,
            settled_at=posting.at,
            settled_by=effect.admin_id,
        )
    else:
        run = city.payout_runs[effect.run_id]
        city.payout_runs[effect.run_id] = dataclasses.replace(
            run,
            paid_items=run.paid_items + effect.paid_items,
            paid_points=run.paid_points + effect.paid_points,
            failed_items=run.failed_items + effect.failed_items,
            failed_points=run.failed_points + effect.failed_points,
        )


def payout_bucket(citizen_id: str) -> str:
    import zlib

    return f"{zlib.crc32(citizen_id.encode('utf-8')) % 16:02d}"


class MemoryPayouts:
    """PayoutStore in memory, over the city the MemoryLedger writes."""

    def __init__(self, city: MemoryCity) -> None:
        from chalicelib.services.payouts import AuditSummary, Chunk

        self._city = city
        self.accounts: dict[str, Any] = {}
        self.chunks: dict[tuple[str, str], Chunk] = city.chunks
        self.actions: list[tuple[str, str, str, dict[str, object]]] = []
        self.audits: dict[str, AuditSummary] = {}

    def save_account(self, account: Any) -> None:
        self.accounts[account.citizen_id] = account

    def account(self, citizen_id: str) -> Any:
        return self.accounts.get(citizen_id)

    def create_run(self, run: RunSummary) -> None:
        from chalicelib.services.payouts import RunExists

        with self._city.lock:
            if run.run_id in self._city.payout_runs:
                raise RunExists(self._city.payout_runs[run.run_id])
            self._city.payout_runs[run.run_id] = run

    def run(self, run_id: str) -> RunSummary | None:
        return self._city.payout_runs.get(run_id)

    def all_runs(self) -> list[RunSummary]:
        return list(self._city.payout_runs.values())

    def chunk(self, ref: Any) -> Any:
        return self.chunks.get((ref.job_id, ref.key))

    def fix_chunk(self, ref: Any, members: list[str], next_start: str | None) -> Any:
        from chalicelib.services.payouts import Chunk

        with self._city.lock:
            key = (ref.job_id, ref.key)
            if key in self.chunks:
                return self.chunks[key], False
            self.chunks[key] = Chunk(tuple(members), next_start, False)
            return self.chunks[key], True

    def eligible_page(
        self, bucket: str, start: str | None, limit: int
    ) -> tuple[list[str], str | None]:
        ids = sorted(
            c
            for c in self._city.eligible
            if payout_bucket(c) == bucket and (start is None or c > start)
        )
        page = ids[:limit]
        return page, (page[-1] if len(page) == limit else None)

    def payees(self, run_id: str, citizen_ids: Any, *, with_items: bool) -> dict[str, Any]:
        from chalicelib.services.payouts import Payee

        out = {}
        for c in citizen_ids:
            citizen = self._city.citizens.get(c)
            item = self._city.payout_items.get((run_id, c)) if with_items else None
            out[c] = Payee(citizen.account if citizen else None, self.accounts.get(c), item)
        return out

    def citizen_account(self, citizen_id: str) -> Account | None:
        citizen = self._city.citizens.get(citizen_id)
        return citizen.account if citizen else None

    def items(self, run_id: str, citizen_ids: Any) -> dict[str, PayoutItem]:
        return {
            c: self._city.payout_items[(run_id, c)]
            for c in citizen_ids
            if (run_id, c) in self._city.payout_items
        }

    def run_items(self, run_id: str) -> Any:
        return iter(
            sorted(
                (i for (r, _), i in self._city.payout_items.items() if r == run_id),
                key=lambda i: i.citizen_id,
            )
        )

    def _flip(self, ref: Any) -> bool:
        key = (ref.job_id, ref.key)
        chunk = self.chunks.get(key)
        if chunk is None or chunk.done:
            return False
        self.chunks[key] = dataclasses.replace(chunk, done=True)
        return True

    def count_payout_chunk(self, ref: Any, tally: Any, has_next: bool) -> bool:
        from chalicelib.services.payouts import ChunkMoved

        with self._city.lock:
            kept = self.chunks.get((ref.job_id, ref.key))
            if kept is not None and not kept.done and kept.paid != tally.citizens:
                raise ChunkMoved(ref.key)
            if not self._flip(ref):
                return False
            run = self._city.payout_runs[ref.job_id]
            self._city.payout_runs[ref.job_id] = dataclasses.replace(
                run,
                chunks_done=run.chunks_done + 1,
                chunks_expected=run.chunks_expected + (1 if has_next else 0),
                citizens=run.citizens + tally.citizens,
                total_points=run.total_points + tally.points,
                skipped_no_account=run.skipped_no_account + tally.no_account,
                skipped_below_threshold=run.skipped_below_threshold + tally.below_threshold,
            )
            return True

    def mark_ready(self, run_id: str, now: datetime) -> bool:
        with self._city.lock:
            run = self._city.payout_runs[run_id]
            if run.status != "running" or run.chunks_done != run.chunks_expected:
                return False
            self._city.payout_runs[run_id] = dataclasses.replace(run, status="ready", ready_at=now)
            return True

    def settle_paid(self, items: Any, admin_id: str, now: datetime) -> None:
        from chalicelib.services.payouts import SettlementConflict

        with self._city.lock:
            city = self._city
            if any(city.payout_items[(i.run_id, i.citizen_id)].status != "pending" for i in items):
                raise SettlementConflict()
            for i in items:
                city.payout_items[(i.run_id, i.citizen_id)] = dataclasses.replace(
                    i, status="paid", settled_at=now, settled_by=admin_id
                )
            run = city.payout_runs[items[0].run_id]
            city.payout_runs[run.run_id] = dataclasses.replace(
                run,
                paid_items=run.paid_items + len(items),
                paid_points=run.paid_points + sum(i.amount for i in items),
            )

    def mark_settled(self, run_id: str, now: datetime) -> bool:
        with self._city.lock:
            run = self._city.payout_runs[run_id]
            if run.status != "ready" or run.pending_items != 0:
                return False
            self._city.payout_runs[run_id] = dataclasses.replace(
                run, status="settled", settled_at=now
            )
            return True

    def record_action(
        self, run_id: str, action: str, admin_id: str, now: datetime, detail: dict[str, object]
    ) -> None:
        self.actions.append((run_id, action, admin_id, detail))

    def create_audit(self, audit_id: str, admin_id: str, now: datetime, chunks: int) -> None:
        from chalicelib.services.payouts import AuditSummary

        self.audits[audit_id] = AuditSummary(
            audit_id, "running", now, admin_id, chunks, 0, 0, 0, [], 0, 0, 0, None, None
        )

    def audit(self, audit_id: str) -> Any:
        return self.audits.get(audit_id)

    def latest_audit(self) -> Any:
        return self.audits[max(self.audits)] if self.audits else None

    def scan_page(
        self, segment: int, segments: int, start: str | None, limit: int
    ) -> tuple[list[str], str | None]:
        import zlib

        ids = sorted(
            c
            for c in self._city.citizens
            if zlib.crc32(c.encode()) % segments == segment and (start is None or c > start)
        )
        page = ids[:limit]
        return page, (page[-1] if len(page) == limit and len(ids) > limit else None)

    def audited(self, citizen_ids: Any) -> dict[str, Any]:
        from chalicelib.domain.payouts import AuditedCitizen

        out = {}
        for c in citizen_ids:
            citizen = self._city.citizens.get(c)
            if citizen is not None:
                out[c] = AuditedCitizen(
                    c, citizen.balance, citizen.lifetime_earned, citizen.lifetime_paid
                )
        return out

    def entries(self, citizen_id: str) -> list[LedgerEntry]:
        return sorted(self._city.entries.get(citizen_id, []), key=lambda e: e.entry_id)

    def count_audit_chunk(self, ref: Any, tally: Any, has_next: bool, keep: int) -> bool:
        with self._city.lock:
            if not self._flip(ref):
                return False
            a = self.audits[ref.job_id]
            self.audits[ref.job_id] = dataclasses.replace(
                a,
                chunks_done=a.chunks_done + 1,
                chunks_expected=a.chunks_expected + (1 if has_next else 0),
                citizens_checked=a.citizens_checked + tally.citizens_checked,
                points_issued=a.points_issued + tally.points_issued,
                points_paid=a.points_paid + tally.points_paid,
                points_held=a.points_held + tally.points_held,
                discrepancy_count=a.discrepancy_count + len(tally.discrepancies),
                discrepancies=[*a.discrepancies, *tally.discrepancies[:keep]],
            )
            return True

    def finish_audit(self, audit_id: str, totals: dict[str, object], now: datetime) -> bool:
        with self._city.lock:
            a = self.audits[audit_id]
            if a.status != "running" or a.chunks_done != a.chunks_expected:
                return False
            self.audits[audit_id] = dataclasses.replace(
                a, status="done", totals=totals, finished_at=now
            )
            return True


class MemoryChunkQueue:
    """Chunks sent, delivered only when a test says so (in any order, any number of times)."""

    def __init__(self) -> None:
        self.sent: list[Any] = []

    def send(self, chunks: Any) -> None:
        self.sent.extend(chunks)


class FakeSecrets:
    """Reversible, bound to its context like KMS: the wrong citizen cannot decrypt."""

    def encrypt(self, plaintext: str, context: dict[str, str]) -> str:
        import json

        return base64.b64encode(json.dumps([context, plaintext]).encode()).decode()

    def decrypt(self, ciphertext: str, context: dict[str, str]) -> str:
        import json

        bound, plaintext = json.loads(base64.b64decode(ciphertext))
        if bound != context:
            raise PermissionError("wrong encryption context")
        return str(plaintext)

    def decrypt_many(self, items: Any) -> list[str]:
        return [self.decrypt(c, ctx) for c, ctx in items]


class MemoryExports:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put(self, key: str, body: bytes, content_type: str) -> None:
        self.objects[key] = body

    def get(self, key: str) -> bytes | None:
        return self.objects.get(key)


# Phone numbers proven by SMS code (issue 20).


class MemoryPhones:
    """Verifications and the link's move, as chalicelib.adapters.dynamodb_phones does them."""

    def __init__(self, city: MemoryCity) -> None:
        self._city = city
        self._verifications: dict[str, tuple[Verification, str]] = {}
        self._linked_by: dict[str, str] = {}
        self.notices: dict[str, list[Notice]] = {}

    def open(self, verification: Verification) -> None:
        with self._city.lock:
            if verification.verification_id in self._verifications:
                raise RetryableConflict("verification id in use")
            self._verifications[verification.verification_id] = (verification, "pending")

    def replayed(self, verification_id: str, citizen_id: str) -> Verification | None:
        found, status = self._verifications.get(verification_id, (None, ""))
        if found is None or status != "spent" or found.citizen_id != citizen_id:
            return None
        if self._city.links.get(found.phone_hash) != citizen_id:
            return None
        return found if self._linked_by.get(found.phone_hash) == verification_id else None

    def spend_try(self, verification_id: str, citizen_id: str, now: datetime) -> Verification:
        with self._city.lock:
            found, status = self._verifications.get(verification_id, (None, ""))
            if (
                found is None
                or status != "pending"
                or found.citizen_id != citizen_id
                or found.expires_at <= now
                or found.tries_left <= 0
            ):
                raise VerificationSpent(verification_id)
            spent = dataclasses.replace(found, tries_left=found.tries_left - 1)
            self._verifications[verification_id] = (spent, status)
            return spent

    def link(self, verification: Verification, now: datetime, notice: Notice | None) -> Citizen:
        v, city = verification, self._city
        with city.lock:
            stored, status = self._verifications[v.verification_id]
            if status != "pending" or stored.expires_at <= now:
                if (
                    city.links.get(v.phone_hash) == v.citizen_id
                    and self._linked_by.get(v.phone_hash) == v.verification_id
                ):
                    return city.citizens[v.citizen_id]
                raise VerificationSpent(v.verification_id)
            prover = city.citizens.get(v.citizen_id)
            if prover is None:
                raise NotFound("register first", code="not_registered")
            holder_id = city.links.get(v.phone_hash)
            if holder_id is not None and holder_id != v.citizen_id:
                holder = city.citizens.get(holder_id)
                if holder is not None and holder.phone_hash == v.phone_hash:
                    city.citizens[holder_id] = dataclasses.replace(
                        holder, phone_hash=None, updated_at=now, version=holder.version + 1
                    )
                if holder is not None and notice is not None:
                    self.notices.setdefault(holder_id, []).append(notice)
            old = prover.phone_hash
            if old and old != v.phone_hash and city.links.get(old) == v.citizen_id:
                city.links.pop(old)
                city.link_snapshots.pop(old, None)
            city.links[v.phone_hash] = v.citizen_id
            city.link_snapshots[v.phone_hash] = (prover.version + 1, prover.balance)
            self._linked_by[v.phone_hash] = v.verification_id
            linked = dataclasses.replace(
                prover, phone_hash=v.phone_hash, updated_at=now, version=prover.version + 1
            )
            city.citizens[v.citizen_id] = linked
            self._verifications[v.verification_id] = (stored, "spent")
            return linked

    def unlink(self, citizen_id: str, now: datetime) -> Citizen:
        city = self._city
        with city.lock:
            citizen = city.citizens.get(citizen_id)
            if citizen is None:
                raise NotFound("register first", code="not_registered")
            if not citizen.phone_hash:
                return citizen
            if city.links.get(citizen.phone_hash) == citizen_id:
                city.links.pop(citizen.phone_hash)
                city.link_snapshots.pop(citizen.phone_hash, None)
            unlinked = dataclasses.replace(
                citizen, phone_hash=None, updated_at=now, version=citizen.version + 1
            )
            city.citizens[citizen_id] = unlinked
            return unlinked


class RecordingSms:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def send(self, e164_number: str, text: str) -> None:
        self.sent.append((e164_number, text))

    def last_code(self, e164_number: str) -> str:
        import re

        text = next(t for to, t in reversed(self.sent) if to == e164_number)
        found = re.search(r"\b(\d{6})\b", text)
        assert found is not None
        return found.group(1)
