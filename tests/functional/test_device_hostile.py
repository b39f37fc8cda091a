"""Hostile numbers and ids in device payloads, through the real queue handlers on moto.

Every numeric field of every device payload (telemetry readings, chargers, occupancy, bin
levels, presence and shadow versions, deposit counts) is tried with the numbers JSON allows
and nothing can use: 400-digit integers, overflowing and underflowing decimals, booleans and
numeric strings. Each message is quarantined with its reason (a deposit is also rejected to
its robot, DESIGN §3), and the batch never fails. Ids and codes with a trailing newline,
carriage return or NUL are refused the same way.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.functional.conftest import (
    Api,
    deposit,
    invoke_deposits,
    published_acks,
    rule_message,
    sqs_record,
)
from tests.functional.test_fleet import fleet as fleet  # the alerts topic, shadows
from tests.functional.test_fleet import invoke, report

# A number written in the JSON text -> the reason its message is quarantined with.
HOSTILE_NUMBERS: dict[str, str] = {
    "9" * 400: "implausible_reading",
    "-" + "9" * 400: "implausible_reading",
    "1e400": "implausible_reading",
    "-1e400": "implausible_reading",
    "1e-320": "implausible_reading",  # DynamoDB: underflow
    "1" + "0" * 20: "implausible_reading",
    "true": "invalid_payload",
    '"42"': "invalid_payload",
}
# Not numbers JSON has: refused while parsing.
NOT_JSON_NUMBERS = ("NaN", "Infinity", "-Infinity", "9" * 5000)

PLACEHOLDER = '"__NUMBER__"'


def _with(document: dict[str, Any], path: str, literal: str) -> bytes:
    """The document as JSON text with the field at `path` written as `literal`."""
    copy = json.loads(json.dumps(document))
    node = copy
    *parents, leaf = path.split(".")
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    node[leaf] = "__NUMBER__"
    return json.dumps(copy).replace(PLACEHOLDER, literal).encode()


def _quarantine(api: Api, source: str) -> list[dict[str, Any]]:
    answer = api.call(
        "GET", f"/v1/admin/quarantine?source={source}&limit=100", as_user="ops", admin=True
    )
    assert answer.status == 200, answer.body
    return list(answer.body["items"])


def _now_iso() -> str:
    from chalicelib import wiring

    return wiring.fleet().now().isoformat()


TELEMETRY_FIELDS = (
    "pm10", "pm25", "temp_c", "humidity", "co2_ppm", "occupancy", "chargers.total",
    "chargers.in_use",
)  # fmt: skip


def _telemetry() -> dict[str, Any]:
    return {"ts": _now_iso(), "pm10": 20.0, "pm25": 10.0, "temp_c": 21.0, "humidity": 40.0,
            "co2_ppm": 650, "occupancy": 3, "chargers": {"total": 4, "in_use": 1}}  # fmt: skip


def _robot_status() -> dict[str, Any]:
    return {"ts": _now_iso(), "online": True, "bins": {"can": 0.4, "pet": 0.5}, "fault": None}


CASES = [
    *(("shelter-001", "shelter_telemetry", _telemetry, f) for f in TELEMETRY_FIELDS),
    ("robot-001", "robot_status", _robot_status, "bins.can"),
    ("robot-001", "robot_status", _robot_status, "bins.pet"),
    (
        "robot-001",
        "presence",
        lambda: {"eventType": "connected", "timestamp": 1, "versionNumber": 1},
        "versionNumber",
    ),
    (
        "robot-001",
        "presence",
        lambda: {"eventType": "connected", "timestamp": 1, "versionNumber": 1},
        "timestamp",
    ),
    (
        "shelter-001",
        "shadow",
        lambda: {"current": {"state": {"reported": {"purifier": "auto"}}, "version": 3}},
        "current.version",
    ),
]


@pytest.mark.parametrize(
    ("device", "channel", "make", "path"), CASES, ids=[f"{c[1]}:{c[3]}" for c in CASES]
)
def test_a_hostile_number_in_any_device_field_is_quarantined_never_a_failed_batch(
    api: Api, fleet: Any, device: str, channel: str, make: Any, path: str
) -> None:
    # GIVEN one message per hostile number, written into this field of a valid payload
    literals = [*HOSTILE_NUMBERS, *NOT_JSON_NUMBERS]
    records = [
        report(device, channel, _with(make(), path, literal), f"n{i}")
        for i, literal in enumerate(literals)
    ]
    # WHEN they arrive in one batch
    result = invoke(*records)
    # THEN no record fails, and each is quarantined with its reason
    assert result == {"batchItemFailures": []}
    expected = sorted([*HOSTILE_NUMBERS.values(), *["malformed_json"] * len(NOT_JSON_NUMBERS)])
    entries = _quarantine(api, "fleet")
    assert sorted(e["reason"] for e in entries) == expected
    # AND each says which field (but never prints a 400-digit number back)
    for entry in entries:
        if entry["reason"] == "implausible_reading":
            assert path.split(".")[-1] in entry["details"]
            assert "9" * 100 not in entry["details"]


def test_numbers_in_range_still_apply(api: Api, fleet: Any) -> None:
    reading = {**_telemetry(), "pm10": 0, "temp_c": -0.5, "humidity": 100}
    assert invoke(report("shelter-001", "shelter_telemetry", reading)) == {"batchItemFailures": []}
    assert _quarantine(api, "fleet") == []


@pytest.mark.parametrize("field", ["accepted", "rejected"])
def test_a_hostile_count_in_a_deposit_is_rejected_and_quarantined(api: Api, field: str) -> None:
    literals = [*HOSTILE_NUMBERS, "NaN", "9" * 5000]
    records = []
    for i, literal in enumerate(literals):
        payload = deposit(f"evt-hostile-{i:03d}", phone="010-5555-0199", can=1)
        raw = _with(payload, f"items.0.{field}", literal)
        records.append(sqs_record(rule_message("robot-001", raw), f"d{i}"))
    assert invoke_deposits(records) == {"batchItemFailures": []}
    acks = [a for t, a in published_acks() if t.endswith("/deposits/ack")]
    assert len(acks) == len(literals)
    assert {(a["status"], a["reason"]) for a in acks} == {("rejected", "invalid_payload")}
    reasons = sorted(e["reason"] for e in _quarantine(api, "deposits"))
    assert reasons == sorted(["invalid_payload"] * len(HOSTILE_NUMBERS) + ["malformed_json"] * 2)


# ---------------------------------------------------------------- ids with a line ending


@pytest.mark.parametrize("ending", ["\n", "\r", "\x00", "\r\n", "\u2028"])
def test_an_event_id_with_a_line_ending_is_never_echoed_nor_credited(api: Api, ending: str) -> None:
    # GIVEN a deposit whose event id ends with a line ending (valid otherwise)
    event = deposit(f"evt-newline-01{ending}", phone="010-5555-0198", can=1)
    # WHEN it arrives
    assert invoke_deposits([sqs_record(rule_message("robot-001", event), "e1")]) == {
        "batchItemFailures": []
    }
    # THEN it is rejected as invalid and the ack never carries the bad id back
    (ack,) = [a for t, a in published_acks() if t.endswith("/deposits/ack")]
    assert ack == {"event_id": None, "status": "rejected", "reason": "invalid_payload"}
    (entry,) = _quarantine(api, "deposits")
    assert entry["reason"] == "invalid_payload" and entry["event_id"] is None


@pytest.mark.parametrize("ending", ["\n", "\r", "\x00"])
def test_a_code_with_a_line_ending_is_rejected(api: Api, ending: str) -> None:
    event = deposit("evt-code-nl-01", f"123456{ending}", can=1)
    invoke_deposits([sqs_record(rule_message("robot-001", event), "c1")])
    (ack,) = [a for t, a in published_acks() if t.endswith("/deposits/ack")]
    assert (ack["status"], ack["reason"]) == ("rejected", "invalid_payload")


@pytest.mark.parametrize("ending", ["\n", "\r", "\x00"])
def test_a_device_id_with_a_line_ending_is_refused_on_every_path(
    api: Api, fleet: Any, ending: str
) -> None:
    # GIVEN envelopes whose device id (from the topic) ends with a line ending
    device = f"robot-001{ending}"
    event = deposit("evt-devnl-0001", phone="010-5555-0197", can=1)
    deposits = invoke_deposits([sqs_record(rule_message(device, event), "d1")])
    reports = invoke(report(device, "robot_status", {"ts": _now_iso(), "online": True}))
    # THEN each is quarantined as an invalid envelope, no batch fails, nothing is acked
    assert deposits == reports == {"batchItemFailures": []}
    assert [e["reason"] for e in _quarantine(api, "deposits")] == ["invalid_envelope"]
    assert [e["reason"] for e in _quarantine(api, "fleet")] == ["invalid_envelope"]
    assert [a for t, a in published_acks() if t.endswith("/deposits/ack")] == []
    # AND the public routes answer 404, not the device
    quoted = {"\n": "%0A", "\r": "%0D", "\x00": "%00"}[ending]
    assert api.call("GET", f"/v1/robots/robot-001{quoted}").status == 404


@pytest.mark.parametrize("ending", ["\n", "\r", "\x00"])
def test_a_fault_code_or_material_with_a_line_ending_is_refused(
    api: Api, fleet: Any, ending: str
) -> None:
    fault = {"ts": _now_iso(), "online": True, "fault": f"E42{ending}"}
    bins = {"ts": _now_iso(), "online": True, "bins": {f"can{ending}": 0.5}}
    invoke(report("robot-001", "robot_status", fault, "f"), report("robot-001", "robot_status",
                                                                   bins, "b"))  # fmt: skip
    assert [e["reason"] for e in _quarantine(api, "fleet")] == ["invalid_payload"] * 2
