"""A citizen's whole journey on the local stack (issue 26): the nearest safe zone from a point
in Yeonji Park, a recycling deposit by a robot over MQTT, a walking challenge finished with a
prize (told once, even after the stack's stream consumers are rewound and deliver every
record again), a payout run started, approved by a second finance person and settled (told,
and shown in my payouts), and the account closed: the name gone from the board, the ledger
kept under the id, the audit clean.

The rewind (`python -m infra.local streams rewind`) replays the whole session's streams to
the shared stack's real handlers: every consumer is exactly once, so no other test's state
moves either. The payout run is for the month before last (last month's belongs to
tests/e2e/test_payouts_e2e.py); like any run it pays every eligible balance of the stack
and names every skipped citizen, which no other test of the shared stack relies on."""

from __future__ import annotations

import math
import uuid
from collections import Counter
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from chalicelib.domain.closing import CLOSED_NAME
from infra.local.stream_control import request_rewind, wait_replayed
from tests.e2e.conftest import Stack, create_challenge, deposit_by_phone, run_audit, until

pytestmark = pytest.mark.e2e
SEOUL = ZoneInfo("Asia/Seoul")
DISTRICT = "hallim-myeon"  # no other e2e test walks here
IN_YEONJI_PARK = (35.2334, 128.8733)
NEAREST = ("shelter-002", 35.2381, 128.8702)  # the default fleet's south shelter
ACCOUNT = {"bank": "KB", "account_number": "110-432-765432", "holder": "한 걷기"}
REPLAYED = ("handle_step_challenges", "handle_ledger_changes", "handle_finish_notices")
"""The consumers rewound: the one paying the prize into the ledger (step-days), the ledger's
that tells of the prize, the challenge entries' that tells of the finish."""


def _metres(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * 6_371_008.8 * math.asin(math.sqrt(a))


def _month_before_last() -> str:
    first = datetime.now(SEOUL).date().replace(day=1)
    return ((first - timedelta(days=1)).replace(day=1) - timedelta(days=1)).strftime("%Y-%m")


def test_a_citizen_walks_recycles_wins_is_paid_and_leaves(stack: Stack) -> None:
    run = uuid.uuid4().hex[:8]
    who, name = f"e2e-walk-{run}", f"걷는이 {run}"
    number = f"010-57{int(run[:6], 16) % 100:02d}-{int(run[2:], 16) % 10_000:04d}"
    me = stack.token(who)

    def get(path: str, token: str = me) -> Any:
        status, body = stack.http("GET", path, token=token)
        assert status == 200, (path, body)
        return body

    # GIVEN a citizen standing in Yeonji Park, who asks for the nearest safe zone
    near = get("/v1/shelters?near={},{}".format(*IN_YEONJI_PARK))["shelters"]
    distances = [s["distance_m"] for s in near]
    assert distances == sorted(distances), near
    # THEN the first is the nearest of every shelter the city has (other tests of the shared
    # stack may have placed some), the default fleet's south shelter among the answers
    everyone = get("/v1/shelters")["shelters"]
    nearest = min(
        everyone, key=lambda s: _metres(*IN_YEONJI_PARK, s["location"]["lat"], s["location"]["lon"])
    )
    assert near[0]["device_id"] == nearest["device_id"], (near[0], nearest)
    assert NEAREST[0] in [s["device_id"] for s in near]
    south = next(s for s in near if s["device_id"] == NEAREST[0])
    assert abs(south["distance_m"] - _metres(*IN_YEONJI_PARK, *NEAREST[1:])) <= 1, south

    # AND who signs up, links a phone and gives an account to be paid in
    body = {"display_name": name, "district": DISTRICT}
    assert stack.http("PUT", "/v1/me", token=me, body=body)[0] == 200
    stack.link_phone(me, number)
    assert stack.http("PUT", "/v1/me/payout-account", token=me, body=ACCOUNT)[0] == 200

    # WHEN a robot takes 100 cans from them
    robot = stack.robot("robot-001")
    try:
        deposited = deposit_by_phone(robot, number, 100)["balance"]
    finally:
        robot.disconnect()

    # AND they join a walking challenge and walk past its target
    admin = stack.token(f"e2e-walk-admin-{run}", admin=True)
    today = datetime.now(SEOUL).date()
    challenge = create_challenge(
        stack,
        admin,
        title=f"한림면 걷기 {run}",
        kind="total_steps",
        target=5000,
        prize={"type": "all_finishers", "points": 600},
        starts_on=(today - timedelta(days=1)).isoformat(),
        ends_on=today.isoformat(),
    )["challenge_id"]
    assert stack.http("POST", f"/v1/challenges/{challenge}/entries", token=me)[0] == 201
    steps = {"days": [{"date": today.isoformat(), "steps": 6_000}]}
    assert stack.http("PUT", "/v1/me/steps", token=me, body=steps)[0] == 200

    # THEN they are told once each: the challenge finished, the prize won
    def inbox() -> dict[str, Any]:
        return dict(get("/v1/me/notifications?limit=100"))

    told = until(inbox, lambda i: len(i["notifications"]) == 2)
    kinds = Counter(n["kind"] for n in told["notifications"])
    assert kinds == {"challenge_finished": 1, "prize_awarded": 1}, told
    assert told["unread"] == 2
    balance = get("/v1/me")["balance"]
    assert balance == deposited + 600

    # WHEN the stack's consumers of those streams are rewound and deliver every record again
    rewound = {name: request_rewind(stack.state_dir, name) for name in REPLAYED}
    assert all(c["rewound_from"] for c in rewound.values()), rewound
    replayed = {name: wait_replayed(stack.state_dir, name, timeout=90) for name in REPLAYED}
    assert all(replayed[n]["records_done"] > rewound[n]["records_done"] for n in REPLAYED), replayed

    # THEN nothing is told twice, no prize is paid twice
    again = inbox()
    assert again["notifications"] == told["notifications"] and again["unread"] == 2
    ledger = get("/v1/me/ledger?limit=100")["entries"]
    assert Counter(e["kind"] for e in ledger) == {"recycling": 1, "challenge_prize": 1}
    assert get("/v1/me")["balance"] == balance

    # WHEN finance pays out the month before last: started, approved by another, settled paid
    treasurer = stack.token(f"e2e-walk-fin-{run}", roles=("finance",))
    checker = stack.token(f"e2e-walk-chk-{run}", roles=("finance",))
    body = {"period": _month_before_last()}
    status, started = stack.http("POST", "/v1/admin/payout-runs", token=treasurer, body=body)
    assert status == 201, started
    path = f"/v1/admin/payout-runs/{started['run_id']}"
    until(lambda: get(path, treasurer), lambda r: r["status"] == "ready", timeout=60)
    status, approved = stack.http("POST", f"{path}/approve", token=checker)
    assert (status, approved["status"]) == (200, "approved"), approved
    status, settled = stack.http("POST", f"{path}/settle", token=treasurer, body={"paid": [who]})
    assert (status, settled["applied"]["paid"]) == (200, 1), settled

    # THEN they are told they were paid, and follow it in their payouts
    paid = until(inbox, lambda i: i["unread"] == 3)
    assert [n["kind"] for n in paid["notifications"]].count("payout_paid") == 1, paid
    mine = get("/v1/me/payouts")
    assert [(p["run_id"], p["points"], p["status"]) for p in mine["payouts"]] == [
        (started["run_id"], balance, "paid")
    ], mine

    # WHEN they close the account (nothing left to forfeit)
    status, closed = stack.http("DELETE", "/v1/me", token=me)
    assert status == 200 and closed["points_forfeited"] == 0, closed

    # THEN their name is gone from the board, their steps stay
    board = get(f"/v1/leaderboards/steps?period=day&scope=district:{DISTRICT}&limit=100", admin)
    shown = [(e["display_name"], e["steps"]) for e in board["entries"]]
    assert all(n != name for n, _ in shown) and (CLOSED_NAME, 6_000) in shown, shown
    # AND the ledger is kept under the id alone
    kept = stack.aws("dynamodb").query(
        TableName="gimhae-dev-ledger",
        KeyConditionExpression="citizen_id = :c",
        ExpressionAttributeValues={":c": {"S": who}},
        ConsistentRead=True,
    )["Items"]
    assert sorted((i["kind"]["S"], int(i["points"]["N"])) for i in kept) == sorted(
        [("recycling", deposited), ("challenge_prize", 600), ("payout", -balance)]
    )
    assert name not in str(kept)
    # AND the audit is clean
    audit = run_audit(stack, admin)
    assert audit["discrepancy_count"] == 0 and audit["totals"]["balanced"] is True, audit
