"""Closing an account as a citizen does, on the local stack: a walker on the step boards,
credited by a robot over MQTT, closes forfeiting the points. Their name leaves the boards,
their token answers 404 `account_closed`, the ledger is kept in the table, the audit run by
an admin is clean with the forfeit counted, and the phone number is free for a new account."""

from __future__ import annotations

import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from chalicelib.domain.closing import CLOSED_NAME
from tests.e2e.conftest import Stack, deposit_by_phone, run_audit, until

pytestmark = pytest.mark.e2e
SEOUL = ZoneInfo("Asia/Seoul")
DISTRICT = "jillye-myeon"  # no other e2e test walks here


def test_a_citizen_closes_with_a_forfeit(stack: Stack) -> None:
    run = uuid.uuid4().hex[:8]
    who = f"e2e-close-{run}"
    name = f"떠나는이 {run}"
    number = f"010-58{int(run[:6], 16) % 100:02d}-{int(run[2:], 16) % 10_000:04d}"
    token = stack.token(who)
    body = {"display_name": name, "district": DISTRICT}
    assert stack.http("PUT", "/v1/me", token=token, body=body)[0] == 200
    stack.link_phone(token, number)
    days = {"days": [{"date": str(datetime.now(SEOUL).date()), "steps": 6_543}]}
    assert stack.http("PUT", "/v1/me/steps", token=token, body=days)[0] == 200

    def board(period: str) -> list[tuple[str, int]]:
        query = f"period={period}&scope=district:{DISTRICT}&limit=100"
        status, answer = stack.http("GET", f"/v1/leaderboards/steps?{query}", token=viewer)
        assert status == 200, answer
        return [(e["display_name"], e["steps"]) for e in answer["entries"]]

    viewer = newcomer = stack.token(f"e2e-close-new-{run}")  # boards are public to any token
    until(lambda: board("day"), lambda shown: (name, 6_543) in shown)
    robot = stack.robot("robot-001")
    try:
        ack = deposit_by_phone(robot, number, 2)
        balance = int(ack["balance"])
        assert balance > 0

        # WHEN they close without giving up the points: refused
        status, refused = stack.http("DELETE", "/v1/me", token=token)
        assert (status, refused["error"]["code"]) == (409, "balance_remaining"), refused
        # WHEN they close forfeiting them
        status, closed = stack.http("DELETE", "/v1/me", token=token, body={"forfeit_points": True})
        assert status == 200 and closed["points_forfeited"] == balance, closed

        # THEN their token is refused as closed
        status, me = stack.http("GET", "/v1/me", token=token)
        assert (status, me["error"]["code"]) == (404, "account_closed"), me
        # AND the name is gone from the boards, the steps stay
        for period in ("day", "week"):
            shown = board(period)
            assert all(n != name for n, _ in shown) and (CLOSED_NAME, 6_543) in shown, shown
        # AND the ledger is kept under the id: the credit and the forfeit
        dynamodb = stack.aws("dynamodb")
        kept = dynamodb.query(
            TableName="gimhae-dev-ledger",
            KeyConditionExpression="citizen_id = :c",
            ExpressionAttributeValues={":c": {"S": who}},
            ConsistentRead=True,
        )["Items"]
        assert sorted((i["kind"]["S"], int(i["points"]["N"])) for i in kept) == [
            ("forfeit", -balance), ("recycling", balance)
        ]  # fmt: skip
        row = dynamodb.get_item(
            TableName="gimhae-dev-citizens", Key={"citizen_id": {"S": who}}, ConsistentRead=True
        )["Item"]
        assert name not in str(row) and "phone_hash" not in row

        # AND an admin's audit is clean, the forfeit counted apart
        admin = stack.token(f"e2e-close-admin-{run}", admin=True)
        done = run_audit(stack, admin)
        assert [d for d in done["discrepancies"] if d["citizen_id"] == who] == []
        assert done["discrepancy_count"] == 0 and done["totals"]["balanced"] is True, done
        assert done["totals"]["points_forfeited"] >= balance

        # AND the number can be linked by a new account, which the robot then credits
        fresh = {"display_name": f"새 시민 {run}", "district": DISTRICT}
        assert stack.http("PUT", "/v1/me", token=newcomer, body=fresh)[0] == 200
        assert stack.link_phone(newcomer, number)["phone_linked"] is True
        again = deposit_by_phone(robot, number, 2)
        assert (again["status"], again["balance"]) == ("credited", again["points"]), again
    finally:
        robot.disconnect()
