"""A support call end to end on the local stack: a citizen whose deposit a robot credited
short calls; support finds them by their phone number (written another way than they
linked it), proposes a correction; support cannot approve it, a finance person does; the
citizen sees it in their ledger as kind `correction` with the balance moved; the ledger
audit finds nothing wrong with them; the action log holds both actions."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest

from iot.device import new_event_id
from tests.e2e.conftest import Stack, eventually

pytestmark = pytest.mark.e2e
SEOUL = ZoneInfo("Asia/Seoul")
NUMBER = "010-5151-6262"
CITIZEN = "e2e-support-kim"

_eventually = functools.partial(eventually, timeout=60.0)


def _audit_done(stack: Stack, token: str, audit_id: str) -> Any:
    status, body = stack.http("GET", "/v1/admin/audit", token=token)
    if status == 200 and body["audit_id"] == audit_id and body["status"] == "done":
        return body
    return None


def test_a_support_call_ends_in_one_approved_correction(stack: Stack) -> None:
    robot = stack.robot("robot-002")
    try:
        # GIVEN Kim, whose number is linked, and a deposit the robot credited (2 cans)
        kim = stack.token(CITIZEN)
        status, _ = stack.http(
            "PUT", "/v1/me", token=kim, body={"display_name": "Kim", "district": "buwon-dong"}
        )
        assert status == 200
        stack.link_phone(kim, NUMBER)
        ack = robot.deposit(
            {
                "event_id": new_event_id(),
                "citizen": {"phone": NUMBER},
                "items": [{"material": "can", "accepted": 2, "rejected": 0}],
                "occurred_at": datetime.now(UTC).astimezone(SEOUL).isoformat(),
            }
        )
        assert ack["status"] == "credited", ack
        credited = int(ack["balance"])
    finally:
        robot.disconnect()

    # WHEN Kim calls and support looks the number up, written as Kim says it
    support = stack.token("e2e-support-lee", roles=("support",))
    status, found = stack.http(
        "GET", f"/v1/admin/citizens?phone={quote('+82 10 5151 6262')}", token=support
    )
    assert status == 200, found
    (card,) = found["citizens"]
    assert (card["citizen_id"], card["balance"], card["phone_linked"]) == (CITIZEN, credited, True)
    assert "6262" not in str(found)

    # AND proposes the 3 cans the robot missed
    status, proposed = stack.http(
        "POST",
        f"/v1/admin/citizens/{CITIZEN}/corrections",
        token=support,
        body={
            "points": 45,
            "reason": "robot-002 jammed: 3 cans not credited",
            "reference": "call-1207",
        },
    )
    assert status == 201 and proposed["status"] == "pending", proposed
    correction_id = proposed["correction_id"]

    # THEN support cannot approve it, nor can anyone approve it twice
    status, refused = stack.http(
        "POST", f"/v1/admin/corrections/{correction_id}/approve", token=support
    )
    assert (status, refused["error"]["code"]) == (403, "forbidden_role")
    finance = stack.token("e2e-finance-park", roles=("finance",))
    status, queue = stack.http("GET", "/v1/admin/corrections?status=pending", token=finance)
    assert status == 200 and correction_id in [c["correction_id"] for c in queue["corrections"]]
    status, approved = stack.http(
        "POST", f"/v1/admin/corrections/{correction_id}/approve", token=finance
    )
    assert status == 200 and approved["status"] == "approved", approved
    other = stack.token("e2e-finance-choi", roles=("finance",))
    status, twice = stack.http(
        "POST", f"/v1/admin/corrections/{correction_id}/approve", token=other
    )
    assert (status, twice["error"]["code"]) == (409, "correction_decided")

    # AND Kim sees it in their ledger, once, with the balance moved
    status, ledger = stack.http("GET", "/v1/me/ledger", token=kim)
    assert status == 200
    corrections = [e for e in ledger["entries"] if e["kind"] == "correction"]
    assert len(corrections) == 1
    assert (corrections[0]["points"], corrections[0]["balance_after"]) == (45, credited + 45)
    assert corrections[0]["detail"]["correction_id"] == correction_id
    status, me = stack.http("GET", "/v1/me", token=kim)
    assert me["balance"] == credited + 45

    # AND the ledger audit, once finished, finds nothing wrong with Kim's account
    status, started = stack.http("POST", "/v1/admin/audit", token=finance)
    assert status == 201, started
    done = _eventually(lambda: _audit_done(stack, finance, started["audit_id"]))
    assert done, "the audit did not finish"
    assert [d for d in done["discrepancies"] if d["citizen_id"] == CITIZEN] == []

    # AND the action log holds the proposal and the approval, by their people
    admin = stack.token("e2e-support-auditor", admin=True)
    status, log = stack.http(
        "GET", f"/v1/admin/actions?target=correction:{correction_id}", token=admin
    )
    assert status == 200, log
    assert [(a["action"], a["actor"]) for a in log["actions"]] == [
        ("correction.approve", "e2e-finance-park"),
        ("correction.propose", "e2e-support-lee"),
    ]
