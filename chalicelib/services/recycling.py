"""Crediting a robot's deposit exactly once, and answering the robot (DESIGN §3, §6).

The handler hands over the topic rule's message body; this service parses it at the edge,
decides what the deposit earns and asks the store for one guarded transaction. Whatever
happens, the robot gets an ack when it can be told, and a message that cannot be processed
is quarantined with its reason instead of failing its batch.
"""

from __future__ import annotations

import base64
import binascii
import json
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from pydantic import ValidationError

from chalicelib.adapters.dynamodb_models import Citizen, CitizenDay
from chalicelib.adapters.dynamodb_points import (
    AlreadyProcessed,
    CodeAlreadyUsed,
    CreditCommand,
    FirstLook,
    ProcessedResult,
)
from chalicelib.config import Settings
from chalicelib.domain import recycling as rules
from chalicelib.domain.clock import Clock, seoul_day
from chalicelib.errors import RetryableConflict

MAX_CREDIT_ATTEMPTS = 8
# A robot's clock may run behind the cloud's; a deposit stamped shortly before the code
# was issued is still the code holder's.
CLOCK_SKEW = timedelta(minutes=2)
LEDGER_KIND = "recycling"


class PointsStore(Protocol):
    def first_look(
        self, event_key: str, *, code: str | None = None, phone_hash: str | None = None
    ) -> FirstLook: ...
    def citizen_and_day(self, citizen_id: str, day: str) -> tuple[Citizen | None, CitizenDay]: ...
    def credit(self, cmd: CreditCommand) -> None: ...
    def record_rejection(self, event_key: str, reason: str, now: datetime) -> ProcessedResult: ...


class DeviceDirectory(Protocol):
    def device_type(self, device_id: str) -> str | None: ...


class AckPublisher(Protocol):
    def publish_ack(self, device_id: str, ack: dict[str, Any]) -> None: ...


class Quarantine(Protocol):
    def quarantine(
        self,
        *,
        source: str,
        reason: str,
        device_id: str | None,
        event_id: str | None,
        details: str,
        payload: str | None,
    ) -> None: ...


@dataclass(frozen=True)
class DepositOutcome:
    """What happened to one deposit message; the ack is what the robot was sent."""

    ack: dict[str, Any] | None
    quarantined: str | None = None


def event_key(device_id: str, event_id: str) -> str:
    return f"deposit#{device_id}#{event_id}"


class RecyclingService:
    def __init__(
        self,
        store: PointsStore,
        devices: DeviceDirectory,
        acks: AckPublisher,
        quarantine: Quarantine,
        settings: Settings,
        clock: Clock,
        phone_key: Callable[[], bytes],
    ) -> None:
        self._store = store
        self._devices = devices
        self._acks = acks
        self._quarantine = quarantine
        self._settings = settings
        self._clock = clock
        self._phone_key = phone_key

    def handle_rule_message(self, body: str) -> DepositOutcome:
        """One message from the robot_deposits rule: parse, credit, ack."""
        try:
            envelope = rules.RuleEnvelope.model_validate_json(body)
        except ValidationError as e:
            return self._reject_unparsed("invalid_envelope", None, None, _errors(e), body)
        try:
            raw = base64.b64decode(envelope.payload, validate=True)
        except (binascii.Error, ValueError):
            return self._reject_unparsed(
                "invalid_envelope", envelope.device_id, None, "payload is not base64", None
            )
        device_id = envelope.device_id
        if len(raw) > rules.MAX_PAYLOAD_BYTES:
            return self._reject_unparsed(
                "payload_too_large", device_id, None, f"{len(raw)} bytes", None
            )
        text = raw.decode("utf-8", errors="replace")
        try:
            document = json.loads(text)
        except ValueError as e:
            return self._reject_unparsed("malformed_json", device_id, None, str(e), text)
        event_id = _event_id_of(document)
        try:
            deposit = rules.Deposit.model_validate(document)
        except ValidationError as e:
            return self._reject_unparsed(
                "invalid_payload", device_id, event_id, _errors(e), _redacted(document)
            )
        if self._devices.device_type(device_id) != "robot":
            self._quarantine.quarantine(
                source="deposits",
                reason="unknown_device",
                device_id=device_id,
                event_id=deposit.event_id,
                details="no registered robot has this id",
                payload=_redacted(document),
            )
            return self._send(device_id, _rejected(deposit.event_id, "unknown_device"))
        return self._send(device_id, self.credit_deposit(device_id, deposit))

    def credit_deposit(self, device_id: str, deposit: rules.Deposit) -> dict[str, Any]:
        """Credit a valid deposit once; return the ack for the robot."""
        key = event_key(device_id, deposit.event_id)
        who = deposit.citizen
        code = who.code if isinstance(who, rules.CodeCitizen) else None
        phone = (
            rules.phone_hash(who.phone, self._phone_key())
            if isinstance(who, rules.PhoneCitizen)
            else None
        )
        for attempt in range(MAX_CREDIT_ATTEMPTS):
            look = self._store.first_look(key, code=code, phone_hash=phone)
            if look.processed is not None:
                return _answer_again(deposit.event_id, look.processed)
            try:
                return self._try_credit(key, device_id, deposit, look)
            except rules.DepositRejected as rejected:
                # Final: a redelivery must get this same answer, never a later credit.
                recorded = self._store.record_rejection(key, rejected.reason, self._clock())
                return _answer_again(deposit.event_id, recorded)
            except AlreadyProcessed:
                continue
            except RetryableConflict:
                time.sleep(random.uniform(0, 0.01 * 2**attempt))
        raise RetryableConflict(f"{key}: gave up after {MAX_CREDIT_ATTEMPTS} attempts")

    def _try_credit(
        self, key: str, device_id: str, deposit: rules.Deposit, look: FirstLook
    ) -> dict[str, Any]:
        now = self._clock()
        s = self._settings
        rules.check_occurred_at(
            deposit.occurred_at,
            now,
            timedelta(seconds=s.deposit_max_ahead_seconds),
            timedelta(seconds=s.deposit_max_behind_seconds),
        )
        citizen_id, code = _resolve_citizen(deposit, key, look)
        citizen, day = self._store.citizen_and_day(
            citizen_id, seoul_day(deposit.occurred_at).isoformat()
        )
        if citizen is None:
            raise rules.DepositRejected("unknown_citizen")
        credit = rules.compute_credit(
            deposit.items, s.points_per_item, int(day.items_credited), s.daily_item_limit
        )
        reason = "daily_limit" if credit.items_over_limit else None
        try:
            self._store.credit(
                CreditCommand(
                    event_key=key,
                    citizen=citizen,
                    day=day,
                    points=credit.points,
                    items_credited=credit.items_credited,
                    kind=LEDGER_KIND,
                    detail={
                        "device_id": device_id,
                        "event_id": deposit.event_id,
                        "occurred_at": deposit.occurred_at.isoformat(),
                        "items": [item.model_dump() for item in deposit.items],
                        "items_credited": credit.items_credited,
                        "items_over_limit": credit.items_over_limit,
                    },
                    now=now,
                    code=code,
                    reason=reason,
                )
            )
        except CodeAlreadyUsed as e:
            raise rules.DepositRejected("code_used") from e
        ack: dict[str, Any] = {
            "event_id": deposit.event_id,
            "status": "credited",
            "points": credit.points,
            "balance": int(citizen.balance) + credit.points,
        }
        if reason:
            ack["reason"] = reason
        return ack

    def _reject_unparsed(
        self,
        reason: str,
        device_id: str | None,
        event_id: str | None,
        details: str,
        payload: str | None,
    ) -> DepositOutcome:
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
        ack = _rejected(event_id, "invalid_payload")
        return DepositOutcome(ack=self._send(device_id, ack).ack, quarantined=reason)

    def _send(self, device_id: str, ack: dict[str, Any]) -> DepositOutcome:
        self._acks.publish_ack(device_id, ack)
        return DepositOutcome(ack=ack)


def _resolve_citizen(deposit: rules.Deposit, key: str, look: FirstLook) -> tuple[str, str | None]:
    """Who deposited. A code is judged at the deposit's time: a robot may resend late."""
    if isinstance(deposit.citizen, rules.PhoneCitizen):
        if look.phone_citizen_id is None:
            raise rules.DepositRejected("unknown_citizen")
        return look.phone_citizen_id, None
    record = look.code
    if record is None:
        raise rules.DepositRejected("unknown_citizen")
    if record.used_by is not None and record.used_by != key:
        raise rules.DepositRejected("code_used")
    if not record.issued_at - CLOCK_SKEW <= deposit.occurred_at < record.expires_at:
        # Outside the code's life: expired, or made before this code was issued.
        raise rules.DepositRejected("expired_code")
    return record.citizen_id, record.code


def _rejected(event_id: str | None, reason: str) -> dict[str, Any]:
    return {"event_id": event_id, "status": "rejected", "reason": reason}


def _answer_again(event_id: str, previous: ProcessedResult) -> dict[str, Any]:
    """The ack for an event already settled: `duplicate` with the first credit, or the
    first rejection again."""
    if previous.status != "credited":
        return _rejected(event_id, previous.reason or "rejected")
    ack: dict[str, Any] = {
        "event_id": event_id,
        "status": "duplicate",
        "points": previous.points,
        "balance": previous.balance_after,
    }
    if previous.reason:
        ack["reason"] = previous.reason
    return ack


def _event_id_of(document: Any) -> str | None:
    """The event id of an invalid payload, when it has a usable one, so the robot can match."""
    if isinstance(document, dict):
        value = document.get("event_id")
        if isinstance(value, str) and re.match(rules.EVENT_ID_PATTERN, value):
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
