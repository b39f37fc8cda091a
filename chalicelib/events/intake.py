"""The one door of device messages: opens a topic rule's envelope and parses the device's
payload into a typed value (chalicelib.domain.inbound) or a refusal with its quarantine
reason (docs/design.md). Pure: no AWS, no clock of its own (the caller passes `now`).

Every JSON document a device sends, and every envelope a rule wraps it in, is read here with
the one parser (chalicelib.domain.json_limits) under one size cap. An envelope carries the
payload in base64, the device id from the topic, the fleet rules' channel and `received_at`,
IoT Core's receipt time (chalicelib.domain.receipt judges it). Services receive what this
module returns and never parse.

Imported at first use by the queue handlers (chalicelib.events.device_messages): pydantic
and the payload models load only in the functions that read a device message.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Final, cast

from pydantic import BaseModel, ConfigDict, StrictInt, StringConstraints, ValidationError

from chalicelib.domain import fleet, json_limits, receipt, recycling
from chalicelib.domain.inbound import DepositMessage, DeviceReport, Refusal

if TYPE_CHECKING:
    from chalicelib.domain.inbound import ReportBody

MAX_PAYLOAD_BYTES: Final = 128 * 1024
"""The largest device payload read (decoded from base64); a larger one is refused unread."""

DEVICE_ID_PATTERN: Final = r"^[A-Za-z0-9_-]{1,128}$"
"""A thing name as the fleet names them. (pydantic-core's regex anchors `$` at the very
end: unlike Python's `re`, it does not let a trailing newline through.)"""


class _Envelope(BaseModel):
    """What a topic rule delivers: the raw payload in base64, the device that sent it (from
    the topic) and `received_at` in epoch milliseconds (the rules add client_id too, unused)."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    payload: str
    device_id: Annotated[str, StringConstraints(pattern=DEVICE_ID_PATTERN)]
    received_at: StrictInt | None = None


class _ReportEnvelope(_Envelope):
    """A fleet rule's envelope: also the rule's channel (which topic the message came from)."""

    channel: Annotated[str, StringConstraints(max_length=32)]


@dataclass(frozen=True)
class Envelope:
    """An opened envelope: the device's own bytes, who sent them, and when IoT Core got them."""

    device_id: str
    raw: bytes
    received_at: datetime
    channel: str | None = None


@dataclass(frozen=True)
class RuleFailure:
    """What a topic rule's error action reports: the device (from the topic), why the rule
    failed (as JSON text) and the device's payload as far as it can be read."""

    device_id: str | None
    details: str
    payload: str | None


# ---------------------------------------------------------------- envelopes


def open_envelope(body: str, now: datetime, *, with_channel: bool = False) -> Envelope | Refusal:
    """The envelope of one queue message, or `invalid_envelope`. `now` only bounds the
    receipt time's plausibility (chalicelib.domain.receipt)."""
    model = _ReportEnvelope if with_channel else _Envelope
    try:
        envelope = model.model_validate(json_limits.loads(body))
    except (ValidationError, json_limits.JsonRejected) as e:
        details = _errors(e) if isinstance(e, ValidationError) else str(e)
        return Refusal("invalid_envelope", None, details, _readable(body))
    try:
        raw = base64.b64decode(envelope.payload, validate=True)
    except (binascii.Error, ValueError):
        return Refusal("invalid_envelope", envelope.device_id, "payload is not base64", None)
    try:
        # Every age rule is judged against IoT Core's receipt time, not this moment.
        received = receipt.receipt_time(envelope.received_at, now)
    except receipt.ReceiptRejected as e:
        return Refusal("invalid_envelope", envelope.device_id, str(e), _readable(body))
    channel = envelope.channel if isinstance(envelope, _ReportEnvelope) else None
    return Envelope(envelope.device_id, raw, received, channel)


def rule_failure(body: str) -> RuleFailure:
    """A rule's error report, whatever it holds: an unreadable one is kept as its text."""
    try:
        error = json_limits.loads(body)
    except json_limits.JsonRejected:
        error = None
    if not isinstance(error, dict):
        error = {"failures": [], "raw": body[:2000]}
    topic = str(error.get("topic") or "")
    parts = topic.split("/")
    payload = None
    original = error.get("base64OriginalPayload")
    if isinstance(original, str) and original:
        try:
            payload = base64.b64decode(original).decode("utf-8", errors="replace")
        except (binascii.Error, ValueError):
            payload = original[:2000]
    details = json.dumps(
        {"rule": error.get("ruleName"), "topic": topic, "failures": error.get("failures")},
        ensure_ascii=False,
        default=str,
    )
    return RuleFailure(parts[2] if len(parts) > 2 else None, details, payload)


# ---------------------------------------------------------------- deposits


def deposit(body: str, now: datetime) -> DepositMessage | Refusal:
    """One message of the deposits queue: its envelope, then the robot's payload; either
    carries the message as it arrived (`envelope`), for a quarantine to keep sealed."""
    envelope = open_envelope(body, now)
    if isinstance(envelope, Refusal):
        return dataclasses.replace(envelope, envelope=body)
    read = deposit_payload(envelope.device_id, envelope.raw, envelope.received_at)
    return dataclasses.replace(read, envelope=body)


def deposit_payload(
    device_id: str, raw: bytes, received_at: datetime | None = None
) -> DepositMessage | Refusal:
    """A robot's deposit as it published it (DESIGN §3), typed strictly."""
    read = _read(device_id, raw)
    if isinstance(read, Refusal):
        return read
    document = read[1]
    try:
        parsed = recycling.Deposit.model_validate(document)
    except ValidationError as e:
        kept = _dumped(document)
        return Refusal("invalid_payload", device_id, _errors(e), kept, _event_id_of(document))
    return DepositMessage(device_id, parsed, received_at, _dumped(document))


# ---------------------------------------------------------------- shelters and robots

_REPORT_MODELS: Final[dict[str, type[BaseModel]]] = {
    "shelter_telemetry": fleet.TelemetryMessage,
    "shelter_status": fleet.StatusMessage,
    "robot_status": fleet.StatusMessage,
    "presence": fleet.PresenceEvent,
    "shadow": fleet.ShadowDocuments,
}


def report(body: str, now: datetime) -> DeviceReport | Refusal:
    """One message of the device-reports queue: its envelope, then the device's payload."""
    envelope = open_envelope(body, now, with_channel=True)
    if isinstance(envelope, Refusal):
        return envelope
    assert envelope.channel is not None
    return report_payload(envelope.channel, envelope.device_id, envelope.raw, envelope.received_at)


def report_payload(
    channel: str, device_id: str, raw: bytes, received_at: datetime | None = None
) -> DeviceReport | Refusal:
    """A shelter's or robot's message on one fleet channel (the rule's topic), typed by the
    channel's model; a refused magnitude is `implausible_reading`."""
    model = _REPORT_MODELS.get(channel)
    if model is None:
        return Refusal("unknown_channel", device_id, f"channel {channel!r}", None)
    read = _read(device_id, raw)
    if isinstance(read, Refusal):
        return read
    text, document = read
    if not isinstance(document, dict):
        return Refusal("invalid_payload", device_id, "not a JSON object", text)
    try:
        body = model.model_validate(document)
    except ValidationError as e:
        only_for: fleet.DeviceType | None = "shelter" if channel == "shadow" else None
        details = _errors(e)[:1000]
        return Refusal(fleet.validation_reason(e), device_id, details, text, only_for=only_for)
    return DeviceReport(device_id, channel, cast("ReportBody", body), received_at, text)


# ---------------------------------------------------------------- shared


def _read(device_id: str, raw: bytes) -> tuple[str, Any] | Refusal:
    """The payload's text and its JSON document, or the refusal of a payload too large or
    not JSON. Bytes that are not UTF-8 read as U+FFFD: inside a string they reach the model,
    which judges the field (a material, an event id) as it would any other character."""
    if len(raw) > MAX_PAYLOAD_BYTES:
        return Refusal("payload_too_large", device_id, f"{len(raw)} bytes", None)
    text = raw.decode("utf-8", errors="replace")
    try:
        return text, json_limits.loads(text, max_bytes=MAX_PAYLOAD_BYTES)
    except json_limits.JsonRejected as e:
        return Refusal("malformed_json", device_id, str(e), text)


def _errors(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}"
        for e in error.errors(include_url=False)
    )


def _dumped(document: Any) -> str:
    """A parsed payload as admins see it when it is quarantined (its escapes written out)."""
    return json.dumps(document, ensure_ascii=False)


# fullmatch: `re.match` with `$` also takes a trailing newline ("evt-0001\n").
_EVENT_ID: Final = re.compile(recycling.EVENT_ID_PATTERN.strip("^$"))


def _event_id_of(document: Any) -> str | None:
    """The event id of an invalid deposit, when it has a usable one, so the robot can match
    the rejection to what it sent."""
    if isinstance(document, dict):
        value = document.get("event_id")
        if isinstance(value, str) and _EVENT_ID.fullmatch(value):
            return value
    return None


def _readable(body: str) -> str:
    """An envelope as admins should see it: its base64 payload decoded, so that the
    quarantine store's redaction can read what the device wrote."""
    try:
        envelope = json_limits.loads(body)
        encoded = envelope["payload"]
        decoded = base64.b64decode(encoded, validate=True).decode("utf-8", errors="replace")
    except (ValueError, KeyError, TypeError):  # JsonRejected and binascii.Error are ValueErrors
        return body
    return json.dumps({**envelope, "payload": decoded}, ensure_ascii=False)
