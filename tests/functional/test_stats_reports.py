"""GET /v1/admin/stats and the monthly recycling report through the real handlers on moto:
items by material as credited, pending points moving on a run and its settlement, steps
synced kept by the step boards' handler, every replayed stream batch counted once, the
audit reconciling the stats, and the report's CSV in the exports bucket."""

from __future__ import annotations

import copy
import csv
import io
import random
from datetime import timedelta
from typing import Any

import boto3

from chalicelib import queues, streams
from chalicelib.domain.clock import seoul_day, utc_now
from tests.functional.conftest import (
    REGION,
    Api,
    deposit,
    invoke_deposits,
    invoke_ledger_changes,
    ledger_stream_event,
    register,
    rule_message,
    sqs_record,
    table_stream_event,
)
from tests.functional.test_leaderboards import _invoke as invoke_step_boards
from tests.functional.test_leaderboards import _sync
from tests.functional.test_payouts_api import (
    _approve,
    _credit,
    _drain,
    _register,
    _scheduled,
    _start,
)
from tests.functional.test_table_access import touched_calls


def _stats(api: Api, query: str = "") -> dict[str, Any]:
    response = api.call("GET", f"/v1/admin/stats{query}", as_user="ops", admin=True)
    assert response.status == 200, response.body
    return dict(response.body)


def _count_ledger(replays: int = 1) -> None:
    """The ledger stream's records so far, delivered `replays` times, shuffled."""
    records = ledger_stream_event()["Records"]
    rng = random.Random(3)
    for _ in range(replays):
        batch = copy.deepcopy(records)
        rng.shuffle(batch)
        assert invoke_ledger_changes({"Records": batch}) == {"batchItemFailures": []}


def _deposits(api: Api) -> None:
    for who, phone in (("c-1", "010-1111-2222"), ("c-2", "010-3333-4444")):
        register(api, who, phone=phone)
    messages = [
        deposit("evt-st-0001", phone="010-1111-2222", can=3, pet=2),
        deposit("evt-st-0002", phone="010-3333-4444", can=1),
        deposit("evt-st-0003", phone="010-1111-2222", pet=4),
        # 60 cans and 60 bottles on a day with 9 credited: the limit leaves 91, cans first
        deposit("evt-st-0004", phone="010-1111-2222", can=60, pet=60),
    ]
    records = [sqs_record(rule_message("robot-001", m), f"m{i}") for i, m in enumerate(messages)]
    assert invoke_deposits(records) == {"batchItemFailures": []}


def test_items_by_material_count_as_credited_and_replays_count_once(api: Api) -> None:
    # GIVEN deposits, the last one cut by the daily limit (91 of its 120 items credited)
    _deposits(api)
    # WHEN the ledger's stream delivers its records three times, shuffled
    _count_ledger(replays=3)
    # THEN items count by material as credited: the limit's cut falls on the later material
    stats = _stats(api)
    assert stats["items_by_material"] == {"can": 4 + 60, "pet": 6 + 31}
    assert stats["items_recycled"] == 101 == sum(stats["items_by_material"].values())
    assert stats["points_issued"] == stats["points_held"] == 64 * 15 + 37 * 10
    assert (stats["points_paid"], stats["points_pending"]) == (0, 0)
    assert stats["today"]["items_by_material"] == stats["items_by_material"]
    assert stats["ledger_entries"] == 4


def test_pending_moves_on_a_run_and_its_settlement(api: Api) -> None:
    # GIVEN three citizens with balances over the threshold, counted
    for who, points in (("s1", 2000), ("s2", 2500), ("s3", 4000)):
        _register(api, who)
        _credit(who, points, f"seed-{who}")
    _count_ledger()
    stats = _stats(api)
    assert (stats["points_issued"], stats["points_held"], stats["points_pending"]) == (
        8500, 8500, 0,
    )  # fmt: skip
    # WHEN the run pays them: the debits move the points from held to pending
    assert _start(api).status == 201
    _drain(queues.PAYOUT_CHUNKS)
    _approve(api)
    _count_ledger(replays=2)
    stats = _stats(api)
    assert (stats["points_held"], stats["points_pending"], stats["points_paid"]) == (0, 8500, 0)
    # WHEN two transfers are confirmed and one failed (settled twice)
    path = "/v1/admin/payout-runs/payout-2026-11/settle"
    body = {"paid": ["s1", "s2"], "failed": ["s3"]}
    for _ in range(2):
        assert api.call("POST", path, as_user="o1", admin=True, body=body).status == 200
    _count_ledger(replays=2)
    # THEN paid is what was confirmed, the failed one is held again, nothing pending
    stats = _stats(api)
    assert (stats["points_paid"], stats["points_held"], stats["points_pending"]) == (
        4500, 4000, 0,
    )  # fmt: skip
    assert (
        stats["points_issued"]
        == 8500
        == (stats["points_paid"] + stats["points_held"] + stats["points_pending"])
    )
    assert stats["today"]["points_paid"] == 4500


def test_steps_synced_count_each_days_increase_once(api: Api) -> None:
    # GIVEN step days synced, then one raised, a lower late count refused by the sync
    today = seoul_day(utc_now())
    _sync("c-1", today, 4000)
    _sync("c-2", today, 1500, "buwon-dong")
    _sync("c-1", today - timedelta(days=1), 9000)
    first = table_stream_event(streams.STEP_BOARDS)
    assert invoke_step_boards(copy.deepcopy(first)) == {"batchItemFailures": []}
    _sync("c-1", today, 6500)
    # WHEN the step boards' handler gets everything, twice, and the first batch again
    everything = table_stream_event(streams.STEP_BOARDS)
    for event in (everything, everything, first):
        assert invoke_step_boards(copy.deepcopy(event)) == {"batchItemFailures": []}
    # THEN steps synced is the stored days' sum: all time and per day
    stats = _stats(api)
    assert stats["steps_synced"] == 6500 + 1500 + 9000
    yesterday = _stats(api, f"?date={(today - timedelta(days=1)).isoformat()}")
    assert yesterday["today"]["steps_synced"] == 9000


def test_a_bad_stats_date_is_a_400(api: Api) -> None:
    for bad in ("2026-13-01", "yesterday", "２０２６-11-25", "2026-11-25T00:00"):
        response = api.call("GET", f"/v1/admin/stats?date={bad}", as_user="ops", admin=True)
        assert response.status == 400 and response.body["error"]["code"] == "invalid_query"
    assert api.call("GET", "/v1/admin/stats", as_user="c-1").status == 403


def test_the_audit_reconciles_the_stats_and_reports_a_mismatch(api: Api) -> None:
    # GIVEN a paid run, partly settled, all counted
    for who, points in (("s1", 2000), ("s2", 2500)):
        _register(api, who)
        _credit(who, points, f"seed-{who}")
    assert _start(api).status == 201
    _drain(queues.PAYOUT_CHUNKS)
    _approve(api)
    path = "/v1/admin/payout-runs/payout-2026-11/settle"
    assert api.call("POST", path, as_user="o", admin=True, body={"paid": ["s1"]}).status == 200
    _count_ledger()
    # WHEN the audit runs: the stats agree with the ledger, balances and runs
    assert api.call("POST", "/v1/admin/audit", as_user="o", admin=True).status == 201
    _drain(queues.AUDIT_CHUNKS)
    clean = api.call("GET", "/v1/admin/audit", as_user="o", admin=True).body["totals"]
    assert clean["stats_match"] is True and clean["stats_mismatches"] == {}
    assert clean["stats"] == {
        "points_issued": 4500, "points_held": 0, "points_paid": 2000, "points_pending": 2500,
        "points_forfeited": 0,
    }  # fmt: skip
    # WHEN a stats counter is corrupted (an entry counted twice)
    boto3.client("dynamodb", region_name=REGION).update_item(
        TableName="gimhae-dev-city-totals",
        Key={"period": {"S": "all"}},
        UpdateExpression="ADD points_issued :n",
        ExpressionAttributeValues={":n": {"N": "15"}},
    )
    import time

    time.sleep(0.01)  # audits sort by their start time (milliseconds)
    assert api.call("POST", "/v1/admin/audit", as_user="o", admin=True).status == 201
    _drain(queues.AUDIT_CHUNKS)
    found = api.call("GET", "/v1/admin/audit", as_user="o", admin=True).body["totals"]
    # THEN the audit names the figures that disagree
    assert found["stats_match"] is False
    assert found["stats_mismatches"] == {
        "points_issued": {"stats": 4515, "audit": 4500},
        "points_held": {"stats": 15, "audit": 0},
    }


def _report(time: str) -> dict[str, Any]:
    from app import monthly_recycling_report
    from infra.local.lambda_runtime import LambdaContext

    result: dict[str, Any] = monthly_recycling_report(
        _scheduled(time), LambdaContext("monthly-recycling-report")
    )
    return result


def _read_report(key: str) -> bytes:
    from chalicelib import config

    s3 = boto3.client("s3", region_name=REGION)
    body: bytes = s3.get_object(Bucket=config.exports_bucket_name(), Key=key)["Body"].read()
    return body


def test_the_monthly_report_lists_each_citizens_items_by_material(api: Api) -> None:
    # GIVEN this month's deposits counted from the stream (replayed)
    _deposits(api)
    _count_ledger(replays=2)
    month = seoul_day(utc_now()).strftime("%Y-%m")
    # WHEN the schedule fires on the 1st of next month (04:00 Seoul), twice
    first_of_next = (seoul_day(utc_now()).replace(day=1) + timedelta(days=32)).replace(day=1)
    fired_at = f"{(first_of_next - timedelta(days=1)).isoformat()}T19:00:00Z"
    result = _report(fired_at)
    assert result["month"] == month and result["citizens"] == 2
    assert result["items_by_material"] == {"can": 64, "pet": 37}
    body = _read_report(result["key"])
    assert _report(fired_at)["key"] == result["key"]
    # THEN one CSV, UTF-8 with a BOM, a row per citizen, the same bytes on a re-run
    assert _read_report(result["key"]) == body
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows == [
        ["month", "citizen_id", "district", "can", "pet", "items_total"],
        [month, "c-1", "naeoe-dong", "63", "37", "100"],
        [month, "c-2", "naeoe-dong", "1", "0", "1"],
    ]


def test_a_month_without_recycling_writes_a_header_only(api: Api) -> None:
    from tests.functional.test_table_access import _declared, touched

    with touched() as tables, touched_calls() as calls:
        result = _report("2026-09-30T19:00:00Z")
    # one Query per partition of the month, only the declared table
    assert tables == _declared("monthly_recycling_report")
    assert calls == {"Query": 10}
    assert (result["month"], result["citizens"]) == ("2026-09", 0)
    rows = list(csv.reader(io.StringIO(_read_report(result["key"]).decode("utf-8-sig"))))
    assert rows == [["month", "citizen_id", "district", "can", "pet", "items_total"]]


def test_dynamodb_requests_per_ledger_record(api: Api) -> None:
    from datetime import UTC, datetime

    from chalicelib import wiring
    from chalicelib.domain.ledger import LedgerEntry

    # GIVEN 400 recycling entries of 100 citizens (a busy stream's batches of 100)
    now = datetime.now(UTC)
    detail = {"items": [{"material": "can", "accepted": 2}, {"material": "pet", "accepted": 1}],
              "items_credited": 3}  # fmt: skip
    entries = [
        LedgerEntry(f"c-{i % 100}", f"{i:012d}", "recycling", 40, 40, now, f"k{i}", detail)
        for i in range(400)
    ]
    operations = wiring.operations()
    # WHEN they are counted in stream batches of 100
    from tests.functional.test_table_access import _declared, touched

    with touched_calls() as calls, touched() as tables:
        for start in range(0, 400, 100):
            assert operations.count_ledger_entries(entries[start : start + 100]) == 100
    # THEN a few transactions per batch (guards, the shared rows and the citizens' months)
    assert tables <= _declared("handle_ledger_changes")
    requests = sum(calls.values())
    print(f"\nDynamoDB requests for 400 ledger records: {calls} = {requests / 400:.3f}/record")
    assert requests / 400 <= 0.05
    stats = _stats(api)
    assert stats["items_by_material"] == {"can": 800, "pet": 400}
