"""The device intake (chalicelib/events/intake.py) on its own: every class of input a rule can
deliver, for both capabilities at once (a deposit on the deposits queue, a report on the
device-reports queue), lands on one typed value or one refusal with its docs/design.md reason."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any, Literal

import pytest

from chalicelib.adapters.dynamodb_quarantine import stored_text
from chalicelib.domain.fleet import StatusMessage, TelemetryMessage
from chalicelib.domain.inbound import DepositMessage, DeviceReport, Refusal
from chalicelib.events import intake

NOW = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)
ISO = NOW.isoformat()

DEPOSIT: dict[str, Any] = {
    "event_id": "evt-0001",
    "citizen": {"code": "123456"},
    "items": [{"material": "can", "accepted": 2}],
    "occurred_at": ISO,
}
STATUS: dict[str, Any] = {"ts": ISO, "online": True, "bins": {"can": 0.5}}

Capability = Literal["deposit", "report"]


def _envelope(payload: bytes | str, capability: Capability, **fields: Any) -> str:
    encoded = payload if isinstance(payload, str) else base64.b64encode(payload).decode()
    body: dict[str, Any] = {"payload": encoded, "device_id": "robot-001", "received_at": NOW_MS}
    if capability == "report":
        body["channel"] = "robot_status"
    body.update(fields)
    return json.dumps({k: v for k, v in body.items() if v is not ...})


def _open(capability: Capability, body: str) -> DepositMessage | DeviceReport | Refusal:
    return intake.deposit(body, NOW) if capability == "deposit" else intake.report(body, NOW)


def _good(capability: Capability) -> dict[str, Any]:
    return dict(DEPOSIT if capability == "deposit" else STATUS)


def _with(capability: Capability, **fields: Any) -> bytes:
    return json.dumps({**_good(capability), **fields}).encode()


# name -> (payload for a deposit, payload for a report, envelope fields, reason of each)
CASES: dict[str, tuple[bytes | str, bytes | str, dict[str, Any], str, str]] = {
    "not JSON": (b"{not json", b"{not json", {}, "malformed_json", "malformed_json"),
    "a key named twice": (
        b'{"event_id": "evt-0001", "event_id": "evt-0002"}',
        b'{"ts": "2026-11-25T01:00:00+00:00", "ts": "2026-11-25T01:00:01+00:00"}',
        {},
        "malformed_json",
        "malformed_json",
    ),
    "nested past the limit": (
        b"[" * 40 + b"]" * 40,
        b"[" * 40 + b"]" * 40,
        {},
        "malformed_json",
        "malformed_json",
    ),
    "over the size cap": (
        b" " * (intake.MAX_PAYLOAD_BYTES + 1),
        b" " * (intake.MAX_PAYLOAD_BYTES + 1),
        {},
        "payload_too_large",
        "payload_too_large",
    ),
    "not base64": (
        "%%%not base64%%%",
        "%%%not base64%%%",
        {},
        "invalid_envelope",
        "invalid_envelope",
    ),
    "not UTF-8 between values": (b"\xff{}", b"\xff{}", {}, "malformed_json", "malformed_json"),
    "not UTF-8 inside a string": (
        _with("deposit", event_id="evt-\udcff01").replace(b"\\udcff", b"\xff"),
        _with("report", fault="E\udcff1").replace(b"\\udcff", b"\xff"),
        {},
        "invalid_payload",
        "invalid_payload",
    ),
    "not an object": (b"[1, 2]", b"[1, 2]", {}, "invalid_payload", "invalid_payload"),
    "a count as text": (
        _with("deposit", items=[{"material": "can", "accepted": "2"}]),
        _with("report", online="true"),
        {},
        "invalid_payload",
        "invalid_payload",
    ),
    "a time that is not RFC 3339": (
        _with("deposit", occurred_at=1_764_032_400),
        _with("report", ts="yesterday"),
        {},
        "invalid_payload",
        "invalid_payload",
    ),
    "receipt time missing": (
        _with("deposit"),
        _with("report"),
        {"received_at": ...},
        "invalid_envelope",
        "invalid_envelope",
    ),
    "receipt time in the future": (
        _with("deposit"),
        _with("report"),
        {"received_at": NOW_MS + 10 * 60 * 1000},
        "invalid_envelope",
        "invalid_envelope",
    ),
    "receipt time before the service": (
        _with("deposit"),
        _with("report"),
        {"received_at": 1000},
        "invalid_envelope",
        "invalid_envelope",
    ),
    "receipt time as text": (
        _with("deposit"),
        _with("report"),
        {"received_at": str(NOW_MS)},
        "invalid_envelope",
        "invalid_envelope",
    ),
    "a device id with a line ending": (
        _with("deposit"),
        _with("report"),
        {"device_id": "robot-001\n"},
        "invalid_envelope",
        "invalid_envelope",
    ),
}


# Refused after the envelope's shape was read: the robot is known (and told, for a deposit).
ENVELOPE_NAMES_ITS_DEVICE = {
    "not base64",
    "receipt time missing",
    "receipt time in the future",
    "receipt time before the service",
}


@pytest.mark.parametrize("capability", ["deposit", "report"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_each_class_of_input_is_typed_or_refused_with_its_reason(
    case: str, capability: Capability
) -> None:
    deposit_payload, report_payload, fields, deposit_reason, report_reason = CASES[case]
    payload = deposit_payload if capability == "deposit" else report_payload
    reason = deposit_reason if capability == "deposit" else report_reason
    refused = _open(capability, _envelope(payload, capability, **fields))
    assert isinstance(refused, Refusal), refused
    assert refused.reason == reason
    assert refused.details
    known = reason != "invalid_envelope" or case in ENVELOPE_NAMES_ITS_DEVICE
    assert refused.device_id == ("robot-001" if known else None)


@pytest.mark.parametrize("capability", ["deposit", "report"])
def test_a_good_message_is_typed_with_its_receipt_time(capability: Capability) -> None:
    opened = _open(capability, _envelope(json.dumps(_good(capability)).encode(), capability))
    assert not isinstance(opened, Refusal)
    assert opened.device_id == "robot-001" and opened.received_at == NOW
    if isinstance(opened, DepositMessage):
        assert opened.deposit.event_id == "evt-0001"
        assert json.loads(opened.text) == DEPOSIT
    else:
        assert opened.channel == "robot_status" and isinstance(opened.body, StatusMessage)


@pytest.mark.parametrize("body", ["not json", "[1]", '{"payload": 1, "payload": 2}', "[" * 3000])
@pytest.mark.parametrize("capability", ["deposit", "report"])
def test_an_envelope_that_is_not_one_names_no_device(body: str, capability: Capability) -> None:
    refused = _open(capability, body)
    assert isinstance(refused, Refusal) and refused.reason == "invalid_envelope"
    assert refused.device_id is None


def test_a_report_needs_its_channel_and_a_known_one() -> None:
    raw = json.dumps(STATUS).encode()
    missing = intake.report(_envelope(raw, "report", channel=...), NOW)
    assert isinstance(missing, Refusal) and missing.reason == "invalid_envelope"
    assert "channel" in missing.details
    unknown = intake.report(_envelope(raw, "report", channel="robot_dreams"), NOW)
    assert unknown == Refusal("unknown_channel", "robot-001", "channel 'robot_dreams'", None)


def test_each_fleet_channel_has_its_model() -> None:
    telemetry = intake.report_payload(
        "shelter_telemetry", "shelter-001", b'{"ts": "%s"}' % ISO.encode()
    )
    assert isinstance(telemetry, DeviceReport) and isinstance(telemetry.body, TelemetryMessage)
    assert telemetry.received_at is None  # direct callers: the service takes its own clock
    presence = intake.report_payload(
        "presence", "robot-001", b'{"eventType": "connected", "timestamp": 1, "versionNumber": 3}'
    )
    assert isinstance(presence, DeviceReport)


def test_a_magnitude_out_of_bounds_is_implausible_not_invalid() -> None:
    raw = json.dumps({"ts": ISO, "pm10": 10**400}).encode()
    refused = intake.report_payload("shelter_telemetry", "shelter-001", raw)
    assert isinstance(refused, Refusal) and refused.reason == "implausible_reading"
    assert refused.payload == raw.decode()


def test_a_bad_shadow_document_is_refused_only_for_a_shelter() -> None:
    refused = intake.report_payload("shadow", "shelter-001", b'{"current": {}}')
    assert isinstance(refused, Refusal) and refused.only_for == "shelter"
    malformed = intake.report_payload("shadow", "shelter-001", b"{oops")
    assert isinstance(malformed, Refusal) and malformed.only_for is None


def test_an_invalid_deposit_keeps_its_event_id_when_usable() -> None:
    usable = intake.deposit_payload("robot-001", _with("deposit", items=[]))
    assert isinstance(usable, Refusal) and usable.event_id == "evt-0001"
    for bad in ("evt-0001\n", "evt", 12345678):
        refused = intake.deposit_payload("robot-001", _with("deposit", event_id=bad))
        assert isinstance(refused, Refusal) and refused.event_id is None


def test_a_refused_envelope_shows_its_payload_decoded() -> None:
    body = json.dumps({"payload": base64.b64encode(b'{"note": "hi"}').decode(), "device_id": ""})
    refused = intake.deposit(body, NOW)
    assert isinstance(refused, Refusal) and refused.payload is not None
    assert json.loads(refused.payload)["payload"] == '{"note": "hi"}'


def test_a_rule_failure_is_read_whatever_it_holds() -> None:
    original = base64.b64encode(b'{"event_id": "evt-0001"}').decode()
    error = {
        "ruleName": "robot_deposits",
        "topic": "gimhae/robots/robot-007/deposits",
        "failures": [{"errorMessage": "queue gone"}],
        "base64OriginalPayload": original,
    }
    failure = intake.rule_failure(json.dumps(error))
    assert failure.device_id == "robot-007"
    assert failure.payload == '{"event_id": "evt-0001"}'
    assert json.loads(failure.details)["rule"] == "robot_deposits"
    unreadable = intake.rule_failure("[" * 5000)
    assert unreadable.device_id is None and unreadable.payload is None
    assert json.loads(unreadable.details)["failures"] == []


# ---------------------------------------------------------------- the store's redaction


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ('{"citizen": {"phone": "010-5555-6666"}}', '{"citizen": {"phone": "<phone>"}}'),
        ('{"citizen": {"phone": "55-66"}}', '{"citizen": {"phone": "<phone>"}}'),
        ('{"phone":1012345678, "a": 1}', '{"phone":"<phone>", "a": 1}'),
        ("call 010 5555 6666 now", "call <phone> now"),
        ('{"event_id": "evt-0001"}', '{"event_id": "evt-0001"}'),
    ],
)
def test_the_quarantine_store_redacts_what_it_keeps(text: str, kept: str) -> None:
    assert stored_text(text) == kept


def test_the_store_redacts_before_it_cuts() -> None:
    text = "x" * 1995 + "010-5555-6666"
    assert stored_text(text, 2000) == "x" * 1995 + "<phon"
