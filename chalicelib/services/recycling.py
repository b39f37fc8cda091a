"""Crediting a robot's deposit exactly once, and answering the robot (DESIGN §3, §6).

The queue handler hands over the device's raw payload and the robot it came from (the rule
envelope is opened at the edge). This service parses the payload, decides what the deposit
earns and posts it to the ledger in one guarded transaction. Whatever happens, the robot
gets an ack when it can be told, and a message that cannot be processed is quarantined with
its reason instead of failing its batch.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from pydantic import ValidationError

from chalicelib.config import Settings
from chalicelib.domain import json_limits
from chalicelib.domain import recycling as rules
from chalicelib.domain.citizens import code_at, code_keys_at, covers
from chalicelib.domain.clock import Clock, seoul_day
from chalicelib.domain.ledger import (
    Account,
    AlreadyPosted,
    EffectRefused,
    PostedResult,
    Posting,
)
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


@dataclass(frozen=True)
class DepositOutcome:
    """What happened to one deposit message; the ack is what the robot was sent."""

    ack: DepositAck | None
    quarantined: str | None = None
    taken_while_full: bool = False
    """Credited although the robot's last status said it was not accepting."""


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

    def receive_deposit(
        self, device_id: str, raw: bytes, received_at: datetime | None = None
    ) -> DepositOutcome:
        """One deposit message as the robot published it: parse, credit, ack. Its
        `occurred_at` is judged against `received_at`, when IoT Core received it (the
        rule's stamp); None means it arrived just now (direct callers, tools)."""
        if len(raw) > rules.MAX_PAYLOAD_BYTES:
            return self.refuse_message("payload_too_large", device_id, f"{len(raw)} bytes", None)
        text = raw.decode("utf-8", errors="replace")
        try:
            document = json_limits.loads(text, max_bytes=rules.MAX_PAYLOAD_BYTES)
        except json_limits.JsonRejected as e:
            return self.refuse_message("malformed_json", device_id, str(e), text)
        event_id = _event_id_of(document)
        try:
            deposit = rules.Deposit.model_validate(document)
        except ValidationError as e:
            return self.refuse_message(
                "invalid_payload", device_id, _errors(e), _redacted(document), event_id
            )
        try:
            ack, accepting = self._credit(device_id, deposit, received_at)
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
                payload=_redacted(document),
            )
            return self._send(device_id, rules.rejected(deposit.event_id, "unknown_device"))

    def refuse_message(
        self,
        reason: str,
        device_id: str | None,
        details: str,
        payload: str | None,
        event_id: str | None = None,
    ) -> DepositOutcome:
        """Quarantine a message that cannot be processed; tell its robot when it is known."""
        self._quarantine.quarantine(
            source="deposits",
            reason=reason,
            device_id=device_id,
            event_id=event_id,
            details=rules.redact_phones(details),
            payload=rules.redact_phones(payload) if payload is not None else None,
        )
        if device_id is None:
            return DepositOutcome(ack=None, quarantined=reason)
        sent = self._send(device_id, rules.rejected(event_id, "invalid_payload"))
        return DepositOutcome(ack=sent.ack, quarantined=reason)

    def credit_deposit(self, device_id: str, deposit: rules.Deposit) -> DepositAck:
        """Credit a valid deposit from a registered robot once; return the ack for the robot.
        Raises _UnknownDevice when the device is not a registered robot."""
        return self._credit(device_id, deposit)[0]

    def _credit(
        self, device_id: str, deposit: rules.Deposit, received_at: datetime | None = None
    ) -> tuple[DepositAck, bool]:
        """The ack, and whether the robot was accepting as its last status said."""
        key = guard_key(device_id, deposit.event_id)
        who = deposit.citizen
        code = who.code if isinstance(who, rules.CodeCitizen) else None
        phone = (
            rules.phone_hash(who.phone, self._phone_key())
            if isinstance(who, rules.PhoneCitizen)
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
            except rules.DepositRejected as rejected:
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
        deposit: rules.Deposit,
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
        rules.check_occurred_at(
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
            credit = rules.compute_credit(deposit.items, s.points_per_item, 0, s.daily_item_limit)
            day_count = ItemsCounted(
                citizen_id, day, credit.items_credited, None, limit=s.daily_item_limit
            )
        else:
            snapshot = None
            account, counted = self._ledger.account_and_day(citizen_id, day)
            if account is None:
                raise rules.DepositRejected("unknown_citizen")
            credit = rules.compute_credit(
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
                raise rules.DepositRejected("code_used") from e
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


def _resolve_citizen(deposit: rules.Deposit, key: str, look: FirstLook) -> tuple[str, str | None]:
    """Who deposited. A code is judged at the deposit's time: a robot may resend late."""
    if isinstance(deposit.citizen, rules.PhoneCitizen):
        if look.phone_citizen_id is None:
            raise rules.DepositRejected("unknown_citizen")
        return look.phone_citizen_id, None
    record = code_at(look.codes, deposit.occurred_at)
    if record is None:
        raise rules.DepositRejected("unknown_citizen")
    if not covers(record, deposit.occurred_at):
        # Outside the code's life: expired, or made before this code was issued.
        raise rules.DepositRejected("expired_code")
    if record.used_by is not None and record.used_by != key:
        raise rules.DepositRejected("code_used")
    return record.citizen_id, record.key


def _answer_again(event_id: str, previous: PostedResult) -> DepositAck:
    """The ack for an event already settled: `duplicate` with the first credit, or the
    first rejection again."""
    if previous.status != "credited":
        return rules.rejected(event_id, previous.reason or "rejected")
    return DepositAck(
        event_id, "duplicate", previous.points, previous.balance_after, previous.reason
    )


# fullmatch: `re.match` with `$` also takes a trailing newline ("evt-0001\n").
_EVENT_ID = re.compile(rules.EVENT_ID_PATTERN.strip("^$"))


def _event_id_of(document: Any) -> str | None:
    """The event id of an invalid payload, when it has a usable one, so the robot can match."""
    if isinstance(document, dict):
        value = document.get("event_id")
        if isinstance(value, str) and _EVENT_ID.fullmatch(value):
            return value
    return None


def _errors(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in error.errors()
    )


def _redacted(document: Any) -> str:
    if isinstance(document, dict) and isinstance(document.get("citizen"), dict):
        citizen = document["citizen"]
        if "phone" in citizen:
            document = {**document, "citizen": {**citizen, "phone": "<phone>"}}
    return rules.redact_phones(json.dumps(document, ensure_ascii=False))
