"""Payouts end to end on the local stack, a month's close: robots credit citizens over MQTT
on two days, a finance person runs last month's payout (fanned out through the real chunk
queue and handler; this month is refused), the skipped list names the citizen without an
account, another finance person approves it (the starter cannot; two approvals at once
approve once), the transfer file is exported (its SHA-256 recorded), it is settled (a
failure credited back once, however often it is sent), every step is in the action log, and
the ledger audit, fired through the stack's scheduler, is clean until a balance is
corrupted."""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import threading
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import boto3
import openpyxl
import pytest

from tests.e2e.conftest import Stack, deposit_by_phone, eventually

pytestmark = pytest.mark.e2e
SEOUL = ZoneInfo("Asia/Seoul")
ACCOUNT = {"bank": "KB", "account_number": "123456-01-234567", "holder": "박 서연"}


_eventually = functools.partial(eventually, timeout=60.0)


def _citizen(stack: Stack, who: str, account: bool, phone: str) -> str:
    token = stack.token(who)
    body = {"display_name": who, "district": "naeoe-dong"}
    assert stack.http("PUT", "/v1/me", token=token, body=body)[0] == 200
    stack.link_phone(token, phone)
    if account:
        status, answer = stack.http("PUT", "/v1/me/payout-account", token=token, body=ACCOUNT)
        assert status == 200, answer
        assert answer["payout_account"]["account_number"] == "******4567"
    return token


def _me(stack: Stack, token: str) -> dict[str, Any]:
    status, body = stack.http("GET", "/v1/me", token=token)
    assert status == 200, body
    return dict(body)


def _csv(stack: Stack, path: str, token: str, accept: str | None = None) -> tuple[int, str, bytes]:
    request = urllib.request.Request(stack.api_url + path, method="GET")
    request.add_header("authorization", f"Bearer {token}")
    if accept is not None:
        request.add_header("accept", accept)
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, response.headers["Content-Type"], response.read()


def _audit_done(stack: Stack, admin: str, after: str | None) -> Any:
    status, body = stack.http("GET", "/v1/admin/audit", token=admin)
    if status == 200 and body["status"] == "done" and body["audit_id"] != after:
        return body
    return None


def test_a_month_paid_exported_settled_and_audited(stack: Stack) -> None:
    robot = stack.robot("robot-001")
    admin = stack.token("e2e-treasurer", admin=True)
    try:
        # GIVEN credits over two days: A and D pass the 2,000-point threshold, B does not,
        # C does but gave no account
        now = datetime.now(UTC)
        yesterday = now - timedelta(days=1)
        phones = {k: f"010-8800-{n:04d}" for n, k in enumerate("abcd")}
        who = {
            k: _citizen(stack, f"e2e-pay-{k}", k != "c", phones[k]) for k in ("a", "b", "c", "d")
        }
        for key, first, second in (("a", 100, 40), ("b", 100, 0), ("c", 100, 100),
                                   ("d", 100, 50)):  # fmt: skip
            deposit_by_phone(robot, phones[key], first, yesterday)
            if second:
                deposit_by_phone(robot, phones[key], second, now)
        balances = {k: _me(stack, t)["balance"] for k, t in who.items()}
        assert balances == {"a": 2100, "b": 1500, "c": 3000, "d": 2250}
    finally:
        robot.disconnect()

    # WHEN a finance person starts a run for this month, it is refused: it has not ended
    treasurer = stack.token("e2e-treasurer", roles=("finance",))
    checker = stack.token("e2e-checker", roles=("finance",))
    this_month = datetime.now(SEOUL).strftime("%Y-%m")
    status, refused = stack.http(
        "POST", "/v1/admin/payout-runs", token=treasurer, body={"period": this_month}
    )
    assert (status, refused["error"]["code"]) == (422, "period_open"), refused
    # AND last month's run is started (it pays each eligible whole balance as of the run)
    period = (datetime.now(SEOUL).date().replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    status, run = stack.http(
        "POST", "/v1/admin/payout-runs", token=treasurer, body={"period": period}
    )
    assert status == 201, run
    run_id = run["run_id"]
    path = f"/v1/admin/payout-runs/{run_id}"

    def ready() -> Any:
        answer = stack.http("GET", path, token=admin)[1]
        return answer if answer["status"] == "ready" else None

    summary = _eventually(ready)
    assert summary, stack.http("GET", path, token=admin)
    # THEN exactly the eligible citizens with an account are paid, their whole balance
    assert summary["chunks"]["done"] == summary["chunks"]["expected"] >= 16
    assert summary["skipped"]["no_account"] >= 1
    assert {k: _me(stack, t)["balance"] for k, t in who.items()} == {
        "a": 0, "b": 1500, "c": 3000, "d": 0,
    }  # fmt: skip
    assert _me(stack, who["a"])["lifetime_paid"] == 2100
    # AND the run is listed, newest first
    status, listed = stack.http("GET", "/v1/admin/payout-runs?limit=5", token=checker)
    assert status == 200 and listed["runs"][0]["run_id"] == run_id, listed
    # AND the skipped list names C, who gave no account, so support can call
    status, skipped = stack.http("GET", f"{path}/skipped?reason=no_account", token=checker)
    assert status == 200, skipped
    assert {"citizen_id": "e2e-pay-c", "reason": "no_account"} in skipped["skipped"]

    # WHEN the export is asked before approval, it is refused
    status, early = stack.http("GET", f"{path}/export", token=treasurer)
    assert (status, early["error"]["code"]) == (409, "not_approved"), early
    # AND the starter cannot approve their own run
    status, same = stack.http("POST", f"{path}/approve", token=treasurer)
    assert (status, same["error"]["code"]) == (403, "same_person"), same
    # WHEN two other finance people approve at the same moment
    second = stack.token("e2e-checker-2", roles=("finance",))
    answers: list[tuple[int, Any]] = []
    barrier = threading.Barrier(2)

    def approve(token: str) -> None:
        barrier.wait()
        answers.append(stack.http("POST", f"{path}/approve", token=token))

    racers = [threading.Thread(target=approve, args=(t,)) for t in (checker, second)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join(60)
    # THEN both see the run approved, by one of them, and one approval is logged
    assert [s for s, _ in answers] == [200, 200], answers
    approvers = {a["approved_by"] for _, a in answers}
    assert len(approvers) == 1 and approvers <= {"e2e-checker", "e2e-checker-2"}
    assert all(a["status"] == "approved" for _, a in answers)

    # AND the transfer file lists the paid, numbers in full, as UTF-8 with a BOM
    status, content_type, body = _csv(stack, f"{path}/export", treasurer)
    assert status == 200 and content_type.startswith("text/csv")
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    mine = {r["citizen_id"]: r for r in rows if r["citizen_id"].startswith("e2e-pay-")}
    assert sorted(mine) == ["e2e-pay-a", "e2e-pay-d"]
    assert mine["e2e-pay-a"]["account_number"] == "12345601234567"
    assert (mine["e2e-pay-a"]["bank_code"], mine["e2e-pay-a"]["amount"]) == ("004", "2100")
    assert len(rows) == summary["citizens"]  # nobody else holds an account on this stack
    assert all(len(r["memo"]) <= 20 for r in rows)
    # AND its SHA-256 is recorded on the run
    digest = hashlib.sha256(body).hexdigest()
    assert stack.http("GET", path, token=checker)[1]["exports"]["csv"] == {"sha256": digest}

    # AND the spreadsheet, downloaded over HTTP, holds the same rows with text cells
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    status, content_type, sheet_body = _csv(stack, f"{path}/export?format=xlsx", treasurer, xlsx)
    assert status == 200 and content_type == xlsx
    sheet = openpyxl.load_workbook(io.BytesIO(sheet_body)).active
    assert sheet is not None
    cells = list(sheet.iter_rows(min_row=2))
    assert [c[0].value for c in cells] == [r["citizen_id"] for r in rows]
    a_row = next(c for c in cells if c[0].value == "e2e-pay-a")
    assert [a_row[1].value, a_row[2].value, a_row[4].value] == ["004", "12345601234567", 2100]
    assert (a_row[1].data_type, a_row[2].data_type, a_row[2].number_format) == ("s", "s", "@")

    # WHEN the bank reports A paid and D failed, sent twice at the same moment, then again
    report = {"paid": ["e2e-pay-a"], "failed": ["e2e-pay-d"]}
    settled: list[tuple[int, Any]] = []
    barrier = threading.Barrier(2)

    def settle() -> None:
        barrier.wait()
        settled.append(stack.http("POST", f"{path}/settle", token=treasurer, body=report))

    racers = [threading.Thread(target=settle) for _ in range(2)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join(60)
    assert [s for s, _ in settled] == [200, 200], settled
    # THEN each item is applied once between them
    assert sum(a["applied"]["paid"] for _, a in settled) == 1
    assert sum(a["applied"]["failed"] for _, a in settled) == 1
    status, again = stack.http("POST", f"{path}/settle", token=treasurer, body=report)
    assert status == 200 and again["applied"] == {"paid": 0, "failed": 0}
    # THEN D's points are back in GET /v1/me, credited exactly once, and cannot turn paid
    assert _me(stack, who["d"])["balance"] == 2250
    entries = stack.http("GET", "/v1/me/ledger", token=who["d"])[1]["entries"]
    assert [e["kind"] for e in entries].count("payout_reversal") == 1
    status, refused = stack.http(
        "POST", f"{path}/settle", token=admin, body={"paid": ["e2e-pay-d"]}
    )
    assert status == 409 and refused["error"]["code"] == "settlement_conflict"

    # AND a second run for the period is refused with the first run's id
    status, refused = stack.http(
        "POST", "/v1/admin/payout-runs", token=admin, body={"period": period}
    )
    assert status == 409 and refused["error"]["details"][0]["run_id"] == run_id

    # AND every step of the close is in the action log, once, with who did it
    status, log = stack.http("GET", f"/v1/admin/actions?target=run:{run_id}", token=admin)
    assert status == 200, log
    steps = [(a["action"], a["actor"]) for a in reversed(log["actions"])]
    assert steps == [
        ("payout_run.start", "e2e-treasurer"),
        ("payout_run.approve", approvers.pop()),
        ("payout_run.export", "e2e-treasurer"),
        ("payout_run.export", "e2e-treasurer"),
        ("payout_run.settle_item", "e2e-treasurer"),
        ("payout_run.settle_item", "e2e-treasurer"),
    ], steps
    # one entry per item settled, whatever raced or was sent again
    items = [a["detail"] for a in log["actions"] if a["action"] == "payout_run.settle_item"]
    assert sorted((d["citizen_id"], d["outcome"], d["amount"]) for d in items) == [
        ("e2e-pay-a", "paid", 2100), ("e2e-pay-d", "failed", 2250)
    ]  # fmt: skip
    exported = [a for a in log["actions"] if a["action"] == "payout_run.export"]
    assert {a["detail"]["format"]: a["detail"]["sha256"] for a in exported}["csv"] == digest

    # WHEN the ledger audit runs
    status, started = stack.http("POST", "/v1/admin/audit", token=admin)
    assert status == 201, started
    clean = _eventually(lambda: _audit_done(stack, admin, None))
    # THEN it finds nothing wrong, and the city's totals balance
    assert clean and clean["audit_id"] == started["audit_id"], clean
    assert clean["discrepancy_count"] == 0 and clean["totals"]["balanced"] is True
    assert clean["citizens_checked"] >= 4

    # WHEN a balance is written past the ledger, and the daily audit fires
    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=stack.document["aws_endpoint_url"],
        region_name=stack.document["region"],
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    key = {"citizen_id": {"S": "e2e-pay-b"}}
    dynamodb.update_item(
        TableName="gimhae-dev-citizens", Key=key, UpdateExpression="SET balance = :b",
        ExpressionAttributeValues={":b": {"N": "999999"}},
    )  # fmt: skip
    try:
        from infra.local.scheduler import request_fire

        fired = request_fire(stack.state_dir, "daily_ledger_audit", timeout=30)
        assert fired["ok"], fired
        found = _eventually(lambda: _audit_done(stack, admin, clean["audit_id"]))
        # THEN the audit names the citizen, the balance and what the ledger sums to
        assert found, "the scheduled audit did not finish"
        assert found["discrepancy_count"] >= 1
        bad = [d for d in found["discrepancies"] if d["citizen_id"] == "e2e-pay-b"]
        assert bad and (bad[0]["balance"], bad[0]["ledger_sum"]) == (999999, 1500)
        assert found["totals"]["balanced"] is False
    finally:
        dynamodb.update_item(
            TableName="gimhae-dev-citizens", Key=key, UpdateExpression="SET balance = :b",
            ExpressionAttributeValues={":b": {"N": "1500"}},
        )  # fmt: skip
