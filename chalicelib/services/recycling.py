"""Crediting a robot's deposit exactly once, and answering the robot (DESIGN §3, §6).

The intake (chalicelib.events.intake) hands over the robot's deposit, typed, or the refusal
of a message it could not read. This service decides what the deposit earns and posts it to
the ledger in one guarded transaction. Whatever happens, the robot gets an ack when it can
be told, and a message that cannot be processed is quarantined with its reason instead of
failing its batch.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from chalicelib.config import Settings
from chalicelib.domain import phones, recycling
from chalicelib.domain.citizens import code_at, code_keys_at, covers
from chalicelib.domain.clock import Clock, seoul_day
from chalicelib.domain.inbound import DepositMessage, Refusal
from chalicelib.domain.ledger import (
    Account,
    AlreadyPosted,
    EffectRefused,
    PostedResult,
    Posting,
)
from chalicelib.domain.operations import QuarantineSource, Replayed
from chalicelib.domain.recycling import CodeConsumed, DepositAck, FirstLook, ItemsCounted
from chalicelib.errors import RetryableConflict
from chalicelib.services.ports import Quarantine

MAX_CREDIT_ATTEMPTS = 8


class DepositLedger(Protocol):
    def first_look(
        self,
        guard_key: str,
        device_id: str,
        *,
        code_keys: Sequence[str] = (),
        phone_hash: str | None = None,
    ) -> FirstLook: ...
    def account_and_day(self, citizen_id: str, day: str) -> tuple[Account | None, int | None]: ...
    def post(self, posting: Posting) -> PostedResult: ...
    def record_rejection(self, guard_key: str, reason: str, now: datetime) -> PostedResult: ...


class AckPublisher(Protocol):
    def publish_ack(self, device_id: str, ack: DepositAck) -> None: ...


class NoAcks:
    """For an operator's reprocess: the robot was answered when it sent the deposit, and
    has long moved on; the citizen sees the credit in their ledger."""

    def publish_ack(self, device_id: str, ack: DepositAck) -> None:
        return None


@dataclass(frozen=True)
class DepositOutcome:
    """What happened to one deposit message; the ack is what the robot was sent."""

    ack: DepositAck | None
    quarantined: str | None = None
    taken_while_full: bool = False
    """Credited although the robot's last status said it was not accepting."""


class Refusals:
    """Where a replayed message's refusal goes instead of the quarantine (an operator's
    reprocess): its entry is still open, and one open entry per message is enough."""

    def __init__(self) -> None:
        self.reason: str | None = None
        self.details: str | None = None

    def quarantine(
        self,
        *,
        source: QuarantineSource,
        reason: str,
        device_id: str | None,
        event_id: str | None,
        details: str,
        payload: str | None,
        original: str | None = None,
    ) -> None:
        self.reason, self.details = reason, details

    def replayed(self, outcome: DepositOutcome) -> Replayed:
        """What the replay did, as the operator is told."""
        ack = outcome.ack
        if self.reason is not None or ack is None:
            return Replayed("refused", self.reason or "unprocessable", details=self.details)
        if ack.status == "rejected":
            return Replayed("rejected", ack.reason)
        if ack.status == "credited":
            return Replayed("credited", ack.reason, ack.points)
        return Replayed("duplicate", ack.reason, ack.points)


class _UnknownDevice(Exception):
    """No registered robot has this id: its messages are quarantined, never credited."""


class _StaleSnapshot(Exception):
    """The account snapshot or the unread day count failed its condition: read them."""


def guard_key(device_id: str, event_id: str) -> str:
    return f"deposit#{device_id}#{event_id}"


class RecyclingService:
    def __init__(
        self,
        ledger: DepositLedger,
        acks: AckPublisher,
        quarantine: Quarantine,
        settings: Settings,
        clock: Clock,
        phone_key: Callable[[], bytes],
    ) -> None:
        self._ledger = ledger
        self._acks = acks
        self._quarantine = quarantine
        self._settings = settings
        self._clock = clock
        self._phone_key = phone_key

    def now(self) -> datetime:
        return self._clock()

    def receive(self, message: DepositMessage | Refusal) -> DepositOutcome:
        """One deposit message as the intake typed it: credit it and ack, or quarantine a
        refused one. Its `occurred_at` is judged against `received_at`, when IoT Core
        received it (the rule's stamp); None means it arrived just now (direct callers)."""
        if isinstance(message, Refusal):
            return self.refuse(message)
        device_id, deposit = message.device_id, message.deposit
        try:
            ack, accepting = self._credit(device_id, deposit, message.received_at)
            sent = self._send(device_id, ack)
            return DepositOutcome(
                sent.ack, taken_while_full=ack.status == "credited" and not accepting
            )
        except _UnknownDevice:
            self._quarantine.quarantine(
                source="deposits",
                reason="unknown_device",
                device_id=device_id,
                event_id=deposit.event_id,
                details="no registered robot has this id",
                payload=message.text,
                original=message.envelope,
            )
            return self._send(device_id, recycling.rejected(deposit.event_id, "unknown_device"))

    def refuse(self, refusal: Refusal) -> DepositOutcome:
        """Quarantine a message that cannot be processed; tell its robot when it is known."""
        self._quarantine.quarantine(
            source="deposits",
            reason=refusal.reason,
            device_id=refusal.device_id,
            event_id=refusal.event_id,
            details=refusal.details,
            payload=refusal.payload,
            original=refusal.envelope,
        )
        if refusal.device_id is None:
            return DepositOutcome(ack=None, quarantined=refusal.reason)
        sent = self._send(
            refusal.device_id, recycling.rejected(refusal.event_id, "invalid_payload")
        )
        return DepositOutcome(ack=sent.ack, quarantined=refusal.reason)

    def credit_deposit(self, device_id: str, deposit: recycling.Deposit) -> DepositAck:
        """Credit a valid deposit from a registered robot once; return the ack for the robot.
        Raises _UnknownDevice when the device is not a registered robot."""
        return self._credit(device_id, deposit)[0]

    def _credit(
        self, device_id: str, deposit: recycling.Deposit, received_at: datetime | None = None
    ) -> tuple[DepositAck, bool]:
        """The ack, and whether the robot was accepting as its last status said."""
        key = guard_key(device_id, deposit.event_id)
        who = deposit.citizen
        code = who.code if isinstance(who, recycling.CodeCitizen) else None
        phone = (
            phones.phone_hash(who.phone, self._phone_key())
            if isinstance(who, recycling.PhoneCitizen)
            else None
        )
        code_keys: tuple[str, ...] = ()
        if code is not None:
            # The grants that may cover the deposit's time, and today's: a back-dated deposit
            # with a code granted since is told `expired_code` (read in the same request).
            ttl = self._settings.deposit_code_ttl_seconds
            at_then = code_keys_at(code, deposit.occurred_at, ttl)
            at_now = code_keys_at(code, self._clock(), ttl)
            code_keys = tuple(dict.fromkeys(at_then + at_now))
        trust_snapshot = True
        for attempt in range(MAX_CREDIT_ATTEMPTS):
            look = self._ledger.first_look(key, device_id, code_keys=code_keys, phone_hash=phone)
            if look.device_type != "robot":
                raise _UnknownDevice(device_id)
            if look.settled is not None:
                return _answer_again(deposit.event_id, look.settled), look.robot_accepting
            try:
                ack = self._try_credit(key, device_id, deposit, look, trust_snapshot, received_at)
                return ack, look.robot_accepting
            except recycling.DepositRejected as rejected:
                # Final: a redelivery must get this same answer, never a later credit.
                recorded = self._ledger.record_rejection(key, rejected.reason, self._clock())
                return _answer_again(deposit.event_id, recorded), look.robot_accepting
            except AlreadyPosted:
                continue
            except _StaleSnapshot:
                trust_snapshot = False  # read the citizen and the day, at once
            except RetryableConflict:
                time.sleep(random.uniform(0, 0.01 * 2**attempt))
        raise RetryableConflict(f"{key}: gave up after {MAX_CREDIT_ATTEMPTS} attempts")

    def _try_credit(
        self,
        key: str,
        device_id: str,
        deposit: recycling.Deposit,
        look: FirstLook,
        trust_snapshot: bool,
        received_at: datetime | None = None,
    ) -> DepositAck:
        """Decide and post the credit. The common path trusts the account snapshot the code or
        phone link carries and conditions the day's count instead of reading it: two round
        trips. A stale snapshot or a day near its limit fails its condition (_StaleSnapshot),
        and the next attempt reads both."""
        now = self._clock()
        s = self._settings
        recycling.check_occurred_at(
            deposit.occurred_at,
            received_at or now,
            timedelta(seconds=s.deposit_max_ahead_seconds),
            timedelta(seconds=s.deposit_max_behind_seconds),
        )
        citizen_id, code = _resolve_citizen(deposit, key, look)
        day = seoul_day(deposit.occurred_at).isoformat()
        snapshot = look.account if trust_snapshot else None
        if snapshot is not None and snapshot.citizen_id == citizen_id:
            account: Account | None = snapshot
            counted = None
            credit = recycling.compute_credit(
                deposit.items, s.points_per_item, 0, s.daily_item_limit
            )
            day_count = ItemsCounted(
                citizen_id, day, credit.items_credited, None, limit=s.daily_item_limit
            )
        else:
            snapshot = None
            account, counted = self._ledger.account_and_day(citizen_id, day)
            if account is None:
                raise recycling.DepositRejected("unknown_citizen")
            credit = recycling.compute_credit(
                deposit.items, s.points_per_item, counted or 0, s.daily_item_limit
            )
            day_count = ItemsCounted(citizen_id, day, credit.items_credited, counted)
        assert account is not None
        reason = "daily_limit" if credit.items_over_limit else None
        effects: list[ItemsCounted | CodeConsumed] = [day_count]
        if code is not None:
            effects.append(CodeConsumed(code, citizen_id))
        posting = Posting(
            guard_key=key,
            account=account,
            points=credit.points,
            kind="recycling",
            detail={
                "device_id": device_id,
                "event_id": deposit.event_id,
                "occurred_at": deposit.occurred_at.isoformat(),
                "items": [item.model_dump() for item in deposit.items],
                "items_credited": credit.items_credited,
                "items_over_limit": credit.items_over_limit,
            },
            at=now,
            effects=tuple(effects),
            note=reason,
        )
        try:
            posted = self._ledger.post(posting)
        except EffectRefused as e:
            if isinstance(e.effect, CodeConsumed):
                raise recycling.DepositRejected("code_used") from e
            if snapshot is not None:
                raise _StaleSnapshot(key) from e
            raise RetryableConflict(f"{key}: the day's count moved") from e
        except RetryableConflict as e:
            if snapshot is not None:
                raise _StaleSnapshot(key) from e
            raise
        return DepositAck(
            deposit.event_id, "credited", posted.points, posted.balance_after, posted.reason
        )

    def _send(self, device_id: str, ack: DepositAck) -> DepositOutcome:
        self._acks.publish_ack(device_id, ack)
        return DepositOutcome(ack=ack)


def _resolve_citizen(
    deposit: recycling.Deposit, key: str, look: FirstLook
) -> tuple[str, str | None]:
    """Who deposited. A code is judged at the deposit's time: a robot may resend late."""
    if isinstance(deposit.citizen, recycling.PhoneCitizen):
        if look.phone_citizen_id is None:
            raise recycling.DepositRejected("unknown_citizen")
        return look.phone_citizen_id, None
    record = code_at(look.codes, deposit.occurred_at)
    if record is None:
        raise recycling.DepositRejected("unknown_citizen")
    if not covers(record, deposit.occurred_at):
        # Outside the code's life: expired, or made before this code was issued.
        raise recycling.DepositRejected("expired_code")
    if record.used_by is not None and record.used_by != key:
        raise recycling.DepositRejected("code_used")
    return record.citizen_id, record.key


def _answer_again(event_id: str, previous: PostedResult) -> DepositAck:
    """The ack for an event already settled: `duplicate` with the first credit, or the
    first rejection again."""
    if previous.status != "credited":
        return recycling.rejected(event_id, previous.reason or "rejected")
    return DepositAck(
        event_id, "duplicate", previous.points, previous.balance_after, previous.reason
    )
