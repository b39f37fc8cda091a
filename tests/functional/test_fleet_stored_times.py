"""Times in the fleet's items: written as every model writes them (UTCDateTimeAttribute), and
an item of a running stack that still spells them `...Z` reads, orders and closes alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.domain.air import Reading
from chalicelib.domain.fleet import Stale
from tests.functional.conftest import REGION

NOW = datetime(2026, 11, 25, 3, 0, 1, 250000, tzinfo=UTC)
LEGACY = "%Y-%m-%dT%H:%M:%S.%fZ"


def _raw(device_id: str) -> dict[str, Any]:
    import boto3

    from chalicelib.adapters.dynamodb_models import DeviceState

    client = boto3.client("dynamodb", region_name=REGION)
    item: dict[str, Any] = client.get_item(
        TableName=DeviceState.Meta.table_name, Key={"device_id": {"S": device_id}}
    )["Item"]
    return item


def test_a_reading_stores_its_times_as_the_other_models_do(aws: Any) -> None:
    from chalicelib.adapters.dynamodb_fleet import DynamoDbFleet

    store = DynamoDbFleet("gimhae")
    store.create_state("shelter-001", "shelter")
    store.apply_reading("shelter-001", Reading(NOW, pm10=20.0), NOW)
    item = _raw("shelter-001")
    assert item["telemetry_ts"] == {"S": "2026-11-25T03:00:01.250000+0000"}
    assert item["last_seen"] == item["air_at"] == item["telemetry_ts"]


def test_an_item_with_the_earlier_spelling_reads_orders_and_closes_its_alert(aws: Any) -> None:
    import boto3

    from chalicelib.adapters.dynamodb_fleet import DynamoDbFleet
    from chalicelib.adapters.dynamodb_models import DeviceState

    # GIVEN a shelter's state as the fleet wrote it before, with an open fault alert
    store = DynamoDbFleet("gimhae")
    store.create_state("shelter-001", "shelter")
    client = boto3.client("dynamodb", region_name=REGION)
    old = NOW.strftime(LEGACY)
    client.update_item(
        TableName=DeviceState.Meta.table_name,
        Key={"device_id": {"S": "shelter-001"}},
        UpdateExpression="SET telemetry_ts = :t, last_seen = :t, alerts = :a",
        ExpressionAttributeValues={
            ":t": {"S": old},
            ":a": {"M": {"fault": {"M": {"since": {"S": old}, "detail": {"S": "E1"}}}}},
        },
    )
    # WHEN it is read, THEN its times are the instants they spelled
    state = store.device("shelter-001")
    assert state is not None
    assert state.telemetry_ts == state.last_seen == NOW
    assert state.alerts["fault"].since == NOW
    # AND a reading of the same instant is stale, a later one applies
    with pytest.raises(Stale):
        store.apply_reading("shelter-001", Reading(NOW, pm10=1.0), NOW)
    later = NOW + timedelta(microseconds=1)
    assert store.apply_reading("shelter-001", Reading(later, pm10=1.0), later).pm10 == 1.0
    # AND its alert closes on the episode the service saw, and the guard holds on last_seen
    old_seen = NOW.strftime(LEGACY)
    client.update_item(
        TableName=DeviceState.Meta.table_name,
        Key={"device_id": {"S": "shelter-001"}},
        UpdateExpression="SET last_seen = :t",
        ExpressionAttributeValues={":t": {"S": old_seen}},
    )
    seen = store.device("shelter-001")
    assert seen is not None
    store.transition(
        "shelter-001",
        guard={("last_seen",): seen.last_seen},
        closed=("fault",),
        seen=seen.alerts,
        now=later,
    )
    done = store.device("shelter-001")
    assert done is not None
    assert done.alerts == {}
