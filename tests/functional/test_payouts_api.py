"""Payouts through the real routes and handlers on moto: the payout account (KMS), a run
fanned out through the real chunk queue and handler, the transfer file in S3, settlement
with reversals, the audit, the monthly schedule, and the tables each function touches."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from chalicelib import config, queues
from tests.contract import check_raw_answer
from tests.functional.conftest import REGION, Api
from tests.functional.test_table_access import _declared, touched, touched_calls

ACCOUNT = {"bank": "Shinhan", "account_number": "110-123-456789", "holder": "홍길동"}


def _register(api: Api, who: str, account: dict[str, str] | None = ACCOUNT) -> None:
    body = {"display_name": who, "district": "naeoe-dong"}
    assert api.call("PUT", "/v1/me", as_user=who, body=body).status == 200
    if account is not None:
        assert api.call("PUT", "/v1/me/payout-account", as_user=who, body=account).status == 200


def _credit(who: str, points: int, key: str) -> None:
    """A credit through the one ledger posting (what a deposit or a prize writes)."""
    from chalicelib import wiring
    from chalicelib.adapters.dynamodb_ledger import account_of
    from chalicelib.adapters.dynamodb_models import Citizen
    from chalicelib.domain.ledger import Posting

    account = account_of(Citizen.get(who, consistent_read=True))
    wiring.ledger().post(
        Posting(key, account, points, "recycling", {"test": True}, datetime.now(UTC))
    )


def _drain(spec: queues.QueueSpec, *, duplicate: bool = False) -> int:
    """Deliver every message of a chunk queue to its real handler, as Lambda's poller does
    (one at a time, deleted on success; `duplicate`: every message delivered twice)."""
    from app import handle_audit_chunks, handle_payout_chunks
    from infra.local.lambda_runtime import LambdaContext

    handler = handle_payout_chunks if spec is queues.PAYOUT_CHUNKS else handle_audit_chunks
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.get_queue_url(QueueName=spec.name)["QueueUrl"]
    delivered = 0
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1).get("Messages", [])
        if not got:
            return delivered
        message = got[0]
        record = {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "0"},
            "messageAttributes": {},
            "md5OfBody": message["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": f"arn:aws:sqs:{REGION}:123456789012:{spec.name}",
            "awsRegion": REGION,
        }
        for _ in range(2 if duplicate else 1):
            result = handler({"Records": [record]}, LambdaContext(spec.logical))
            assert result == {"batchItemFailures": []}, result
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        delivered += 1


def _scheduled(time: str) -> dict[str, Any]:
    """What EventBridge delivers to a scheduled function."""
    return {
        "version": "0", "id": "e1", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": time, "region": REGION,
        "resources": ["arn:aws:events:ap-northeast-2:123456789012:rule/x"], "detail": {},
    }  # fmt: skip


def _start(api: Api, period: str = "2026-11") -> Any:
    return api.call(
        "POST", "/v1/admin/payout-runs", as_user="ops", admin=True, body={"period": period}
    )


def _approve(api: Api, run_id: str = "payout-2026-11", who: str = "checker") -> Any:
    """The second person's approval (the run was started by `ops`)."""
    got = api.call(
        "POST", f"/v1/admin/payout-runs/{run_id}/approve", as_user=who, roles=("finance",)
    )
    assert got.status == 200, got.body
    return got


# The payout account ------------------------------------------------------------------------


def test_a_payout_account_is_stored_encrypted_and_shown_masked(api: Api) -> None:
    _register(api, "acc-1", None)
    put = api.call("PUT", "/v1/me/payout-account", as_user="acc-1", body=ACCOUNT)
    assert put.status == 200
    masked = {
        "bank_code": "088", "bank_name": "신한은행", "account_number": "******6789",
        "holder": "홍길동",
    }  # fmt: skip
    assert put.body == {"payout_account": masked}
    assert api.call("GET", "/v1/me", as_user="acc-1").body["payout_account"] == masked
    # the number is nowhere in clear, and its ciphertext is bound to its citizen
    raw = boto3.client("dynamodb", region_name=REGION).get_item(
        TableName="gimhae-dev-payout-accounts", Key={"citizen_id": {"S": "acc-1"}}
    )["Item"]
    assert "123456789" not in json.dumps(raw, ensure_ascii=False)
    from chalicelib.adapters.kms_secrets import KmsSecrets
    from chalicelib.domain.payout_accounts import encryption_context

    secrets = KmsSecrets(config.settings().payout_kms_key_id)
    ciphertext = raw["account_ciphertext"]["S"]
    assert secrets.decrypt(ciphertext, encryption_context("acc-1")) == "110123456789"
    with pytest.raises(Exception, match=r"InvalidCiphertext|AccessDenied"):
        secrets.decrypt(ciphertext, encryption_context("acc-2"))


def test_without_an_account_get_me_says_null(api: Api) -> None:
    _register(api, "acc-2", None)
    assert api.call("GET", "/v1/me", as_user="acc-2").body["payout_account"] is None


@pytest.mark.parametrize(
    ("body", "status", "fields"),
    [
        ({**ACCOUNT, "bank": "999"}, 422, ["bank"]),
        ({**ACCOUNT, "account_number": "12-34"}, 422, ["account_number"]),
        ({**ACCOUNT, "account_number": "١٢٣٤٥٦٧٨٩٠١"}, 422, ["account_number"]),
        ({**ACCOUNT, "holder": "=cmd|' /C calc'!A0"}, 422, ["holder"]),
        ({"bank": "x", "account_number": "1", "holder": ""}, 422,
         ["bank", "account_number", "holder"]),
        ({**ACCOUNT, "account_number": 1101234567}, 400, ["account_number"]),
        ({"bank": "NH"}, 400, ["account_number", "holder"]),
        ({**ACCOUNT, "extra": {"a": [1]}}, 400, ["extra"]),
    ],
)  # fmt: skip
def test_a_bad_payout_account_names_the_field(
    api: Api, body: dict[str, Any], status: int, fields: list[str]
) -> None:
    _register(api, "acc-3", None)
    got = api.call("PUT", "/v1/me/payout-account", as_user="acc-3", body=body)
    assert got.status == status
    assert sorted(d["field"] for d in got.body["error"]["details"]) == sorted(fields)
    assert api.call("GET", "/v1/me", as_user="acc-3").body["payout_account"] is None


def test_a_payout_account_needs_a_registered_citizen_and_a_token(api: Api) -> None:
    assert api.call("PUT", "/v1/me/payout-account", as_user="ghost", body=ACCOUNT).status == 404
    assert api.call("PUT", "/v1/me/payout-account", body=ACCOUNT).status == 401


# Runs ---------------------------------------------------------------------------------------


def test_a_run_pays_the_eligible_with_accounts_once_and_is_refused_twice(api: Api) -> None:
    # GIVEN three citizens over the threshold (one without an account) and one under it
    for who, points, account in (("r1", 2000, ACCOUNT), ("r2", 3150, ACCOUNT),
                                 ("r3", 5000, None), ("r4", 1999, ACCOUNT)):  # fmt: skip
        _register(api, who, account)
        _credit(who, points, f"seed-{who}")
    # WHEN an admin starts the November run and its chunks are delivered twice each
    started = _start(api)
    assert started.status == 201
    assert started.body == {"run_id": "payout-2026-11", "period": "2026-11", "status": "running"}
    assert _drain(queues.PAYOUT_CHUNKS, duplicate=True) >= 16
    # THEN exactly the two eligible citizens with accounts are paid, once
    run = api.call("GET", "/v1/admin/payout-runs/payout-2026-11", as_user="ops", admin=True)
    assert run.status == 200
    assert run.body["status"] == "ready"
    assert (run.body["citizens"], run.body["total_points"]) == (2, 5150)
    assert run.body["skipped"]["no_account"] == 1
    assert run.body["chunks"]["done"] == run.body["chunks"]["expected"]
    balances = {
        w: api.call("GET", "/v1/me", as_user=w).body["balance"] for w in ("r1", "r2", "r3", "r4")
    }
    assert balances == {"r1": 0, "r2": 0, "r3": 5000, "r4": 1999}
    ledger = api.call("GET", "/v1/me/ledger", as_user="r2").body["entries"]
    assert [(e["kind"], e["points"]) for e in ledger] == [("payout", -3150), ("recycling", 3150)]
    # AND a second start, by an admin or the schedule, is refused with the run's id
    again = _start(api)
    assert again.status == 409 and again.body["error"]["code"] == "run_exists"
    assert again.body["error"]["details"][0]["run_id"] == "payout-2026-11"
    from app import monthly_payout_run
    from infra.local.lambda_runtime import LambdaContext

    result = monthly_payout_run(_scheduled("2026-11-30T18:00:00Z"), LambdaContext("monthly"))
    assert result == {"run_id": "payout-2026-11", "status": "ready", "started": False}


def test_the_schedule_starts_the_month_that_ended_in_seoul(api: Api) -> None:
    from app import monthly_payout_run
    from infra.local.lambda_runtime import LambdaContext

    with touched() as tables:
        result = monthly_payout_run(_scheduled("2026-10-31T18:00:00Z"), LambdaContext("m"))
    assert result == {"run_id": "payout-2026-10", "status": "running", "started": True}
    assert tables == _declared("monthly_payout_run")
    with touched() as tables:
        _drain(queues.PAYOUT_CHUNKS)
    assert tables <= _declared("handle_payout_chunks")


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [({"period": "2026-13"}, 422, "invalid_period"),
     ({"period": "2099-01"}, 422, "period_open"),
     ({"period": 202611}, 400, None), ({}, 400, None)],
)  # fmt: skip
def test_a_bad_period_is_refused(api: Api, body: Any, status: int, code: str | None) -> None:
    got = api.call("POST", "/v1/admin/payout-runs", as_user="ops", admin=True, body=body)
    assert got.status == status
    if code:
        assert got.body["error"]["code"] == code


def test_payout_routes_are_for_admins(api: Api) -> None:
    assert _start(api).status == 201
    for method, path in (("POST", "/v1/admin/payout-runs"),
                         ("GET", "/v1/admin/payout-runs/payout-2026-11"),
                         ("GET", "/v1/admin/payout-runs/payout-2026-11/export"),
                         ("POST", "/v1/admin/payout-runs/payout-2026-11/settle"),
                         ("GET", "/v1/admin/audit"), ("POST", "/v1/admin/audit")):  # fmt: skip
        got = api.call(method, path, as_user="citizen", body={"period": "2026-11"})
        assert got.status == 403, (method, path)
    missing = api.call("GET", "/v1/admin/payout-runs/payout-1999-01", as_user="o", admin=True)
    assert missing.status == 404
    odd = api.call("GET", "/v1/admin/payout-runs/%F0%9F%92%B0", as_user="o", admin=True)
    assert odd.status == 404


# Export and settlement ---------------------------------------------------------------------


def _paid_run(api: Api, *, approved: bool = True) -> None:
    for who, points in (("s1", 2000), ("s2", 2500), ("s3", 4000)):
        _register(api, who)
        _credit(who, points, f"seed-{who}")
    assert _start(api).status == 201
    _drain(queues.PAYOUT_CHUNKS)
    if approved:
        _approve(api)


def test_the_export_is_the_transfer_csv_kept_in_s3_and_recorded(api: Api) -> None:
    # GIVEN a run still paying: no export yet
    _register(api, "s0")
    _credit("s0", 2100, "seed-s0")
    assert _start(api).status == 201
    early = api.call("GET", "/v1/admin/payout-runs/payout-2026-11/export", as_user="o", admin=True)
    assert early.status == 409 and early.body["error"]["code"] == "not_approved"
    _drain(queues.PAYOUT_CHUNKS)
    ready = api.call("GET", "/v1/admin/payout-runs/payout-2026-11/export", as_user="o", admin=True)
    assert ready.status == 409 and ready.body["error"]["code"] == "not_approved"
    _approve(api)
    # WHEN the admin exports it
    status, headers, body = _raw_get(api, "/v1/admin/payout-runs/payout-2026-11/export", "o7")
    # THEN a UTF-8 CSV with BOM, one row per citizen paid, the number decrypted
    assert status == 200
    assert headers["Content-Type"].startswith("text/csv")
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows == [
        ["citizen_id", "bank_code", "account_number", "holder", "amount", "memo"],
        ["s0", "088", "110123456789", "홍길동", "2100", "김해포인트 2026-11"],
    ]
    # AND a second export serves the kept file
    assert _raw_get(api, "/v1/admin/payout-runs/payout-2026-11/export", "o8")[2] == body


def _raw_get(api: Api, path: str, admin: str) -> tuple[int, dict[str, Any], bytes]:
    from infra.local.api_gateway import request

    headers = {"authorization": f"Bearer {api.token(admin, True)}"}
    status, out_headers, out = request(api._gateway, "GET", path, headers, None)
    check_raw_answer("GET", path, status, dict(out_headers), out)
    return status, dict(out_headers), out


def test_settlement_credits_a_failure_back_once_and_settles_the_run(api: Api) -> None:
    _paid_run(api)
    path = "/v1/admin/payout-runs/payout-2026-11/settle"
    body = {"paid": ["s1", "s2"], "failed": ["s3"]}
    first = api.call("POST", path, as_user="o1", admin=True, body=body)
    assert first.status == 200, first.body
    assert first.body["applied"] == {"paid": 2, "failed": 1}
    assert first.body["status"] == "settled"
    assert first.body["settlement"] == {
        "paid": 2, "failed": 1, "pending": 0, "paid_points": 4500, "failed_points": 4000,
    }  # fmt: skip
    again = api.call("POST", path, as_user="o1", admin=True, body=body)
    assert again.status == 200 and again.body["applied"] == {"paid": 0, "failed": 0}
    assert again.body["unchanged"] == 3
    assert api.call("GET", "/v1/me", as_user="s3").body["balance"] == 4000
    kinds = [e["kind"] for e in api.call("GET", "/v1/me/ledger", as_user="s3").body["entries"]]
    assert kinds == ["payout_reversal", "payout", "recycling"]
    flip = api.call("POST", path, as_user="o1", admin=True, body={"paid": ["s3"]})
    assert flip.status == 409 and flip.body["error"]["code"] == "settlement_conflict"
    flip = api.call("POST", path, as_user="o1", admin=True, body={"failed": ["s1"]})
    assert flip.status == 409
    assert api.call("GET", "/v1/me", as_user="s1").body["balance"] == 0
    unknown = api.call("POST", path, as_user="o1", admin=True, body={"paid": ["zz"]})
    assert unknown.status == 422 and unknown.body["error"]["code"] == "unknown_citizens"
    both = api.call("POST", path, as_user="o1", admin=True, body={"paid": ["s1"], "failed": ["s1"]})
    assert both.status == 422
    bad = api.call("POST", path, as_user="o1", admin=True, body={"paid": "s1"})
    assert bad.status == 400


def test_every_export_and_settlement_is_recorded_with_the_admin(api: Api) -> None:
    _paid_run(api)
    base = "/v1/admin/payout-runs/payout-2026-11"
    assert _raw_get(api, f"{base}/export", "admin-a")[0] == 200
    assert _raw_get(api, f"{base}/export", "admin-b")[0] == 200
    api.call("POST", f"{base}/settle", as_user="admin-c", admin=True, body={"paid": ["s1"]})
    log = api.call(
        "GET", "/v1/admin/actions?target=run:payout-2026-11", as_user="auditor", admin=True
    )
    actions = [(a["action"], a["actor"]) for a in reversed(log.body["actions"])]
    assert actions == [("payout_run.start", "ops"), ("payout_run.approve", "checker"),
                       ("payout_run.export", "admin-a"), ("payout_run.export", "admin-b"),
                       ("payout_run.settle_item", "admin-c")]  # fmt: skip
    s3 = boto3.client("s3", region_name=REGION)
    key = "payout-runs/payout-2026-11/transfers.csv"
    kept = s3.get_object(Bucket="gimhae-dev-exports", Key=key)
    assert kept["Body"].read().startswith(b"\xef\xbb\xbf")


def test_the_export_rows(api: Api) -> None:
    _paid_run(api)
    from chalicelib import wiring
    from chalicelib.domain.staff_actions import Actor

    body = wiring.payout_runs().export("payout-2026-11", Actor("ops", ("admin",)))
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0] == ["citizen_id", "bank_code", "account_number", "holder", "amount", "memo"]
    assert sorted(rows[1:]) == [
        ["s1", "088", "110123456789", "홍길동", "2000", "김해포인트 2026-11"],
        ["s2", "088", "110123456789", "홍길동", "2500", "김해포인트 2026-11"],
        ["s3", "088", "110123456789", "홍길동", "4000", "김해포인트 2026-11"],
    ]


# The audit ------------------------------------------------------------------------------------


def test_the_audit_is_clean_and_then_finds_a_corrupted_balance(api: Api) -> None:
    _paid_run(api)
    _register(api, "s9")
    _credit("s9", 700, "seed-s9")
    assert api.call("GET", "/v1/admin/audit", as_user="o", admin=True).status == 404
    started = api.call("POST", "/v1/admin/audit", as_user="o", admin=True)
    assert started.status == 201 and started.body["status"] == "running"
    _drain(queues.AUDIT_CHUNKS, duplicate=True)
    clean = api.call("GET", "/v1/admin/audit", as_user="o", admin=True).body
    assert clean["status"] == "done" and clean["citizens_checked"] == 4
    assert clean["discrepancies"] == [] and clean["totals"]["balanced"] is True
    assert clean["totals"]["points_issued"] == 9200
    assert clean["totals"]["points_pending"] == 8500
    # WHEN someone writes a balance past the ledger
    boto3.client("dynamodb", region_name=REGION).update_item(
        TableName="gimhae-dev-citizens",
        Key={"citizen_id": {"S": "s9"}},
        UpdateExpression="SET balance = :b",
        ExpressionAttributeValues={":b": {"N": "70000"}},
    )
    import time

    time.sleep(0.01)  # audits sort by their start time (milliseconds)
    api.call("POST", "/v1/admin/audit", as_user="o", admin=True)
    _drain(queues.AUDIT_CHUNKS)
    found = api.call("GET", "/v1/admin/audit", as_user="o", admin=True).body
    assert found["status"] == "done" and found["discrepancy_count"] == 1
    assert found["discrepancies"][0]["citizen_id"] == "s9"
    assert (found["discrepancies"][0]["balance"], found["discrepancies"][0]["ledger_sum"]) == (
        70000, 700,
    )  # fmt: skip
    assert found["totals"]["balanced"] is False


def test_the_chunk_handlers_touch_only_their_declared_tables(api: Api) -> None:
    _register(api, "t1")
    _credit("t1", 2500, "seed-t1")
    with touched() as api_tables:
        _start(api)
    with touched() as tables:
        _drain(queues.PAYOUT_CHUNKS)
    # no phone linked, nobody skipped
    assert tables == _declared("handle_payout_chunks") - {"PhoneLink", "PayoutSkip"}
    with touched() as more:
        _approve(api)
        _raw_get(api, "/v1/admin/payout-runs/payout-2026-11/export", "o")
        api.call("POST", "/v1/admin/payout-runs/payout-2026-11/settle", as_user="o",
                 admin=True, body={"failed": ["t1"]})  # fmt: skip
        api.call("POST", "/v1/admin/audit", as_user="o", admin=True)
        api.call("GET", "/v1/admin/audit", as_user="o", admin=True)
    assert api_tables | more <= _declared("api_handler")
    with touched() as tables:
        _drain(queues.AUDIT_CHUNKS)
    assert tables == _declared("handle_audit_chunks")
    from app import daily_ledger_audit
    from infra.local.lambda_runtime import LambdaContext

    with touched() as tables:
        daily_ledger_audit(_scheduled("2026-11-25T18:30:00Z"), LambdaContext("audit"))
    assert tables == _declared("daily_ledger_audit")


def test_dynamodb_requests_per_citizen_paid(api: Api) -> None:
    """The cost the note reports: requests per citizen paid, a run of 40 (3 buckets deep)."""
    for n in range(40):
        _register(api, f"m{n:02d}")
        _credit(f"m{n:02d}", 2000 + n, f"seed-m{n}")
    _start(api)
    with touched_calls() as calls:
        _drain(queues.PAYOUT_CHUNKS)
    total = sum(calls.values())
    print(f"\nDynamoDB requests for a run paying 40 citizens in 16 chunks: {calls} ({total})")
    # one posting per citizen; per chunk (a page of up to 98): read the run and the chunk,
    # query the bucket, fix the chunk, one BatchGetItem, count it, try `ready`
    assert calls["TransactWriteItems"] == 40 + 16
    assert total == 40 + 7 * 16


def pay_one_for_touching(api: Api) -> None:
    """A November run paid to one citizen, for tests/functional/test_table_access.py."""
    _register(api, "touch-1")
    _credit("touch-1", 2500, "seed-touch-1")
    _start(api)
    _drain(queues.PAYOUT_CHUNKS)


def touch_payout_routes(api: Api) -> None:
    """Every payout route once, for tests/functional/test_table_access.py."""
    api.call("PUT", "/v1/me/payout-account", as_user="touch-1", body=ACCOUNT)
    base = "/v1/admin/payout-runs/payout-2026-11"
    api.call("POST", "/v1/admin/payout-runs", as_user="ops", admin=True, body={"period": "2026-10"})
    api.call("GET", base, as_user="ops", admin=True)
    api.call("GET", "/v1/admin/payout-runs", as_user="ops", admin=True)
    api.call("GET", f"{base}/skipped", as_user="ops", admin=True)
    api.call("POST", f"{base}/approve", as_user="checker", admin=True)
    _raw_get(api, f"{base}/export", "ops")
    api.call("POST", f"{base}/settle", as_user="ops", admin=True, body={"failed": ["touch-1"]})
    api.call("POST", "/v1/admin/audit", as_user="ops", admin=True)
    api.call("GET", "/v1/admin/audit", as_user="ops", admin=True)
    api.call("GET", "/v1/admin/reports/recycling?month=2026-11", as_user="ops", admin=True)
    _raw_get(api, "/v1/admin/reports/recycling/2026-11.csv", "ops")


def test_a_chunk_counts_only_the_payments_it_tallied(api: Api) -> None:
    """On DynamoDB: a payment made by a duplicate after the tally makes the count fail
    (ChunkMoved); the right tally counts once; a counted chunk refuses more payments."""
    from chalicelib import wiring
    from chalicelib.adapters.dynamodb_chunk_jobs import DynamoDbChunkJobs
    from chalicelib.adapters.dynamodb_payout_runs import DynamoDbPayoutRuns
    from chalicelib.domain.ledger import EffectRefused
    from chalicelib.domain.payout_runs import ChunkTally, payout_posting
    from chalicelib.services.chunk_jobs import ChunkRef
    from chalicelib.services.payout_runs import ChunkMoved

    _register(api, "k1")
    _credit("k1", 2400, "seed-k1")
    assert _start(api).status == 201
    store = DynamoDbPayoutRuns()
    ref = ChunkRef("payout", "payout-2026-11", "99")  # a chunk of its own, for the test
    chunk, created = DynamoDbChunkJobs().fix_chunk(ref, ["k1"], None)
    assert created and chunk.paid == 0
    payee = store.payees("payout-2026-11", ["k1"], with_items=False)["k1"]
    assert payee.account is not None and payee.paid_to is not None
    at = datetime.now(UTC)
    posting = payout_posting(
        "payout-2026-11", "2026-11", payee.account, payee.paid_to, at, (ref.job_id, ref.key)
    )
    wiring.ledger().post(posting)
    with pytest.raises(ChunkMoved):
        store.count_payout_chunk(ref, ChunkTally(), False)
    tally = ChunkTally()
    tally.paid(2400)
    assert store.count_payout_chunk(ref, tally, False) is True
    assert store.count_payout_chunk(ref, tally, False) is False
    _register(api, "k2")
    _credit("k2", 2400, "seed-k2")
    late = store.payees("payout-2026-11", ["k2"], with_items=False)["k2"]
    assert late.account is not None and late.paid_to is not None
    with pytest.raises(EffectRefused):
        wiring.ledger().post(
            payout_posting(
                "payout-2026-11", "2026-11", late.account, late.paid_to, at, (ref.job_id, ref.key)
            )
        )
    assert api.call("GET", "/v1/me", as_user="k2").body["balance"] == 2400
