"""The contracts as a device maker meets them on the local stack: the AsyncAPI document and the
rendered reference over HTTP, and the cloud's answers over real MQTT matching the document."""

from __future__ import annotations

import json
import urllib.request
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from tests.conftest import ROOT
from tests.e2e.conftest import Stack, until
from tests.events import load

pytestmark = pytest.mark.e2e

SPEC = ROOT / "tests/vendor/asyncapi-specs-6.11.1/3.0.0.json"


def _payload_validator(doc: dict[str, Any], message: str) -> Draft7Validator:
    registry: Registry = Registry().with_resource(
        "urn:asyncapi", Resource.from_contents(doc, default_specification=DRAFT7)
    )
    ref = doc["components"]["messages"][message]["payload"]["$ref"]
    return Draft7Validator({"$ref": "urn:asyncapi" + ref}, registry=registry)


def test_a_device_maker_reads_the_contract_and_the_cloud_keeps_it(stack: Stack) -> None:
    # GIVEN the MQTT contract as the local stack serves it
    status, doc = stack.http("GET", "/v1/asyncapi.json")
    assert status == 200
    assert list(Draft7Validator(json.loads(SPEC.read_text())).iter_errors(doc)) == []
    # AND the rendered reference of both contracts, a page that needs nothing remote
    with urllib.request.urlopen(stack.api_url + "/v1/docs", timeout=15) as response:
        html = response.read().decode("utf-8")
        assert response.headers["Content-Type"] == "text/html; charset=utf-8"
        assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    for channel in doc["channels"].values():
        assert channel["address"] in html
    assert "<script" not in html and "https://" not in html
    # WHEN a robot publishes the example deposit for a citizen with a fresh code
    citizen = f"e2e-contract-{uuid.uuid4().hex[:8]}"
    token = stack.token(citizen)
    assert (
        stack.http(
            "PUT", "/v1/me", token=token, body={"display_name": "계약", "district": "naeoe-dong"}
        )[0]
        == 200
    )
    code = stack.http("POST", "/v1/me/deposit-codes", token=token)[1]["code"]
    deposit = {
        **load("mqtt/robot_deposits.by_code"),
        "event_id": f"contract-{uuid.uuid4().hex}",
        "citizen": {"code": code},
        "occurred_at": datetime.now(UTC).isoformat(),
    }
    assert _payload_validator(doc, "deposit").is_valid(deposit)
    ack_schema = _payload_validator(doc, "deposit_ack")
    robot = stack.robot("robot-001")
    try:
        first = robot.deposit(deposit)
        again = robot.deposit(deposit)
        robot.publish_raw(b'{"event_id": "contract-bad", "citizen": ')
        malformed = until(
            lambda: [a for a in robot.ack_log if a.get("event_id") is None], bool, timeout=15
        )[-1]
    finally:
        robot.disconnect()
    # THEN each answer on the ack topic is a message the document describes
    assert (first["status"], first["points"]) == ("credited", 65)
    assert (again["status"], again["points"]) == ("duplicate", 65)
    assert malformed == {"event_id": None, "status": "rejected", "reason": "invalid_payload"}
    for ack in (first, again, malformed):
        assert ack_schema.is_valid(ack), ack
