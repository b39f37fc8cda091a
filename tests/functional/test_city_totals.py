"""The ledger's stream keeps the city's totals (GET /v1/admin/stats): every entry counted
once, however often and in whatever order its records arrive; a poison record is reported
alone and never blocks its batch."""

from __future__ import annotations

import copy
import random
from typing import Any

from tests.events import load
from tests.functional.conftest import (
    Api,
    deposit,
    invoke_deposits,
    invoke_ledger_changes,
    ledger_stream_event,
    register,
    rule_message,
    sqs_record,
)


def _stats(api: Api) -> dict[str, Any]:
    response = api.call("GET", "/v1/admin/stats", as_user="ops", admin=True)
    assert response.status == 200
    return dict(response.body)


def _deposits_by_two_citizens(api: Api) -> None:
    for who, phone in (("c-1", "010-1111-2222"), ("c-2", "010-3333-4444")):
        register(api, who, phone=phone)
    messages = [
        ("robot-001", deposit("evt-tot-0001", phone="010-1111-2222", can=3, pet=2)),
        ("robot-001", deposit("evt-tot-0002", phone="010-3333-4444", can=1)),
        ("robot-002", deposit("evt-tot-0003", phone="010-1111-2222", pet=4)),
    ]
    records = [sqs_record(rule_message(d, p), f"m{i}") for i, (d, p) in enumerate(messages)]
    assert invoke_deposits(records) == {"batchItemFailures": []}


def test_the_ledger_stream_keeps_the_city_totals(api: Api) -> None:
    # GIVEN three deposits credited (65 + 15 + 40 points; 5 + 1 + 4 items)
    _deposits_by_two_citizens(api)
    event = ledger_stream_event()
    assert len(event["Records"]) == 3
    # WHEN the stream handler gets their records
    assert invoke_ledger_changes(event) == {"batchItemFailures": []}
    # THEN admins see the totals, all time and today; citizens may not
    stats = _stats(api)
    assert (stats["points_issued"], stats["points_paid"], stats["points_held"]) == (120, 0, 120)
    assert stats["items_recycled"] == 10
    assert stats["today"]["points_issued"] == 120
    assert api.call("GET", "/v1/admin/stats", as_user="c-1").status == 403


def test_replayed_and_reordered_records_count_once(api: Api) -> None:
    # GIVEN the stream's records, delivered in pieces, shuffled, and each piece twice
    _deposits_by_two_citizens(api)
    records = ledger_stream_event()["Records"]
    rng = random.Random(7)
    for _ in range(3):
        batch = copy.deepcopy(records)
        rng.shuffle(batch)
        assert invoke_ledger_changes({"Records": batch[:2]}) == {"batchItemFailures": []}
        assert invoke_ledger_changes({"Records": batch}) == {"batchItemFailures": []}
    # THEN every entry counted exactly once: issued equals the sum of the balances
    stats = _stats(api)
    balances = sum(
        int(api.call("GET", "/v1/me", as_user=c).body["balance"]) for c in ("c-1", "c-2")
    )
    assert stats["points_issued"] == balances == 120
    assert stats["ledger_entries"] == 3


def test_a_poison_record_fails_alone(api: Api) -> None:
    # GIVEN a batch with one record whose image is not a ledger entry, between good ones
    _deposits_by_two_citizens(api)
    records = ledger_stream_event()["Records"]
    poison = copy.deepcopy(records[0])
    poison["dynamodb"]["NewImage"] = {"citizen_id": {"S": "x"}}
    poison["dynamodb"]["SequenceNumber"] = "1"
    # WHEN it is delivered
    result = invoke_ledger_changes({"Records": [records[0], poison, *records[1:]]})
    # THEN only the poison record is reported; the others are counted
    assert result == {"batchItemFailures": [{"itemIdentifier": "1"}]}
    assert _stats(api)["ledger_entries"] == 3


def test_the_recorded_event_file_is_counted(api: Api) -> None:
    # GIVEN a ledger INSERT record as AWS delivers it (tests/events/handlers/)
    event = load("handlers/handle_ledger_changes")
    # WHEN it is delivered twice
    for _ in range(2):
        assert invoke_ledger_changes(copy.deepcopy(event)) == {"batchItemFailures": []}
    # THEN its 50 points and 4 items count once, on its Seoul day
    stats = _stats(api)
    assert (stats["points_issued"], stats["items_recycled"]) == (50, 4)


def test_a_large_replayed_batch_is_counted_once_in_few_writes(api: Api) -> None:
    from datetime import UTC, datetime

    from chalicelib import wiring
    from chalicelib.domain.ledger import LedgerEntry
    from tests.functional.test_table_access import touched_calls

    # GIVEN 200 entries (more than one transaction holds), 50 of them counted already
    now = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
    entries = [
        LedgerEntry(f"c-{i % 7}", f"{i:012d}", "recycling", 10, 10, now, f"k{i}", {})
        for i in range(200)
    ]
    operations = wiring.operations()
    assert operations.count_ledger_entries(entries[:50]) == 50
    # WHEN the whole batch arrives, with a record repeated inside it
    with touched_calls() as calls:
        assert operations.count_ledger_entries([*entries, entries[120]]) == 150
    # THEN each entry counts once, and the shared rows were written once per transaction
    stats = _stats(api)
    assert (stats["points_issued"], stats["ledger_entries"]) == (2000, 200)
    assert calls["TransactWriteItems"] <= 6
