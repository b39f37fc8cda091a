"""Stats and the monthly recycling report end to end on the local stack: a robot's deposits
over MQTT show in GET /v1/admin/stats (points issued, items by material) once the ledger's
stream has counted them; the report schedule, fired through the stack's scheduler, writes
last month's CSV to the emulator's S3."""

from __future__ import annotations

import csv
import functools
import io
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import boto3
import pytest

from iot.device import new_event_id
from tests.e2e.conftest import Stack, eventually

pytestmark = pytest.mark.e2e
SEOUL = ZoneInfo("Asia/Seoul")


_eventually = functools.partial(eventually, timeout=60.0)


def _client(stack: Stack, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=stack.document["aws_endpoint_url"],
        region_name=stack.document["region"],
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def _stats(stack: Stack, admin: str) -> dict[str, Any]:
    status, body = stack.http("GET", "/v1/admin/stats", token=admin)
    assert status == 200, body
    return dict(body)


def test_deposits_show_in_the_stats_and_the_report_reaches_s3(stack: Stack) -> None:
    admin = stack.token("e2e-stats-admin", admin=True)
    token = stack.token("e2e-st-1")
    body = {"display_name": "Stats", "district": "naeoe-dong"}
    assert stack.http("PUT", "/v1/me", token=token, body=body)[0] == 200
    stack.link_phone(token, "010-7777-1234")
    before = _stats(stack, admin)
    # GIVEN a robot's deposit of 2 cans and 3 bottles, acked over MQTT
    robot = stack.robot("robot-001")
    try:
        ack = robot.deposit(
            {
                "event_id": new_event_id(),
                "citizen": {"phone": "010-7777-1234"},
                "items": [
                    {"material": "can", "accepted": 2, "rejected": 1},
                    {"material": "pet", "accepted": 3, "rejected": 0},
                ],
                "occurred_at": datetime.now(SEOUL).isoformat(),
            },
            timeout=20,
        )
    finally:
        robot.disconnect()
    assert ack["status"] == "credited" and ack["points"] == 60, ack

    # WHEN the ledger's stream has been counted
    def counted() -> dict[str, Any] | None:
        now = _stats(stack, admin)
        return now if now["points_issued"] >= before["points_issued"] + 60 else None

    after = _eventually(counted)
    # THEN the stats show the points issued and the items by material
    assert after, "the ledger's stream did not count the deposit"
    assert after["points_issued"] - before["points_issued"] == 60
    assert after["points_held"] - before["points_held"] == 60

    def grew(material: str) -> int:
        old = before["items_by_material"].get(material, 0)
        return int(after["items_by_material"].get(material, 0)) - int(old)

    assert (grew("can"), grew("pet")) == (2, 3)

    # GIVEN last month's credit of a citizen (a ledger entry written as the posting writes it,
    # of no points, so no balance or audit moves), counted by the stack's stream source
    last_month = (datetime.now(SEOUL).replace(day=1) - timedelta(days=1)).replace(day=10)
    month = last_month.strftime("%Y-%m")
    _client(stack, "dynamodb").put_item(
        TableName="gimhae-dev-ledger",
        Item={
            "citizen_id": {"S": "e2e-st-old"},
            "entry_id": {"S": "000000000001-e2e-report"},
            "kind": {"S": "recycling"},
            "points": {"N": "0"},
            "balance_after": {"N": "0"},
            "created_at": {"S": last_month.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f%z")},
            "source_key": {"S": "e2e-report"},
            "detail": {"M": {
                "items": {"L": [
                    {"M": {"material": {"S": "can"}, "accepted": {"N": "4"}}},
                    {"M": {"material": {"S": "pet"}, "accepted": {"N": "1"}}},
                ]},
                "items_credited": {"N": "5"},
            }},
        },
    )  # fmt: skip
    from chalicelib import config
    from infra.local.scheduler import request_fire

    s3 = _client(stack, "s3")

    # WHEN the report schedule fires now (it reports the month that ended)
    def reported() -> list[list[str]] | None:
        fired = request_fire(stack.state_dir, "monthly_recycling_report", timeout=30)
        assert fired["ok"], fired
        assert fired["result"]["month"] == month
        raw = s3.get_object(Bucket=config.exports_bucket_name(), Key=fired["result"]["key"])
        body = raw["Body"].read()
        assert body.startswith(b"\xef\xbb\xbf")
        rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
        return rows if any(r[1] == "e2e-st-old" for r in rows[1:]) else None

    rows = _eventually(reported)
    # THEN the emulator's S3 holds the month's CSV with the citizen's items by material
    assert rows, "the report never listed last month's credit"
    assert rows[0] == ["month", "citizen_id", "district", "can", "pet", "items_total"]
    # (a citizen with no profile has no district to report)
    assert [month, "e2e-st-old", "", "4", "1", "5"] in rows
