"""Operators act on refused and parked messages (DESIGN §4b): reprocess or discard a
quarantined message, redrive a dead-letter queue; each once, each in the action log, and
crediting exactly once whatever the order, repeats and races (DESIGN §6)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from chalicelib.domain.operations import Replayed
from tests.functional.conftest import (
    REGION,
    Api,
    deposit,
    invoke_deposits,
    register,
    rule_message,
    sqs_record,
)
from tests.functional.test_table_access import touched, touched_calls

PHONE = "010-3131-4141"
NEW_ROBOT = {
    "device_id": "robot-777",
    "type": "robot",
    "name": "new robot",
    "district": "naeoe-dong",
    "location": {"lat": 35.24, "lon": 128.87},
}
OPERATOR = ("operator",)


def _provision_new_robot() -> None:
    from iot.provisioning import record_devices

    record_devices([NEW_ROBOT], "gimhae")


def _quarantined(api: Api, source: str = "deposits") -> list[dict[str, Any]]:
    listed = api.call("GET", f"/v1/admin/quarantine?source={source}", as_user="op", roles=OPERATOR)
    assert listed.status == 200, listed.body
    return list(listed.body["items"])


def _refused_deposit(
    api: Api, event_id: str = "evt-q-0001", *, pet: int = 2, envelope: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A deposit from a robot nobody registered yet: quarantined, its entry answered."""
    message = envelope or rule_message("robot-777", deposit(event_id, phone=PHONE, pet=pet))
    invoke_deposits([sqs_record(message, f"m-{event_id}")])
    entries = [e for e in _quarantined(api) if e["event_id"] == event_id]
    assert len(entries) == 1
    return entries[0]


def _reprocess(api: Api, entry_id: str, roles: tuple[str, ...] = OPERATOR) -> Any:
    return api.call("POST", f"/v1/admin/quarantine/{entry_id}/reprocess", as_user="op", roles=roles)


def _discard(api: Api, entry_id: str, body: Any, roles: tuple[str, ...] = OPERATOR) -> Any:
    return api.call(
        "POST", f"/v1/admin/quarantine/{entry_id}/discard", as_user="op2", roles=roles, body=body
    )


def _me(api: Api, citizen: str) -> dict[str, Any]:
    return dict(api.call("GET", "/v1/me", as_user=citizen).body)


def _ledger_sums(api: Api, citizen: str) -> None:
    """Invariant 2: the balance is the sum of the ledger, and never below zero."""
    entries = api.call("GET", "/v1/me/ledger?limit=100", as_user=citizen).body["entries"]
    me = _me(api, citizen)
    assert me["balance"] == sum(e["points"] for e in entries) >= 0


def _actions(api: Api, target: str) -> list[dict[str, Any]]:
    found = api.call("GET", f"/v1/admin/actions?target={target}", as_user="boss", roles=("admin",))
    assert found.status == 200, found.body
    return list(found.body["actions"])


def _target(entry: dict[str, Any]) -> str:
    return f"quarantine:{entry['source']}/{entry['quarantine_id']}"


# ------------------------------------------------------------------ reprocess


def test_an_unknown_robots_deposit_is_credited_once_after_provisioning(api: Api) -> None:
    # GIVEN a citizen, and a deposit from a robot not yet registered: quarantined, open
    register(api, "c1", phone=PHONE)
    entry = _refused_deposit(api)
    assert entry["status"] == "open" and entry["reason"] == "unknown_device"
    assert entry["entry_id"] == f"deposits:{entry['quarantine_id']}"
    assert entry["reprocessable"] is True
    assert "3131" not in json.dumps(entry)  # the admin view stays redacted
    from chalicelib.adapters.dynamodb_models import QuarantinedMessage

    stored = QuarantinedMessage.get("deposits", entry["quarantine_id"])
    assert stored.original is not None and stored.original.startswith("v1.")
    assert "3131" not in stored.original and "robot-777" not in stored.original  # sealed

    # WHEN it is reprocessed before the robot exists: still refused, the entry stays open
    early = _reprocess(api, entry["entry_id"])
    assert early.status == 200, early.body
    assert early.body["status"] == "open"
    assert early.body["outcome"]["result"] == "refused"
    assert early.body["outcome"]["reason"] == "unknown_device"
    assert len([e for e in _quarantined(api) if e["event_id"] == "evt-q-0001"]) == 1

    # WHEN the robot is provisioned and the entry reprocessed
    _provision_new_robot()
    done = _reprocess(api, entry["entry_id"])

    # THEN it is credited, the entry closed as reprocessed, once
    assert done.status == 200, done.body
    assert done.body["status"] == "reprocessed" and done.body["closed_by"] == "op"
    assert done.body["outcome"] == {
        "result": "credited", "reason": None, "points": 20, "details": None
    }  # fmt: skip
    assert done.body["reprocessable"] is False
    assert _me(api, "c1")["balance"] == 20
    again = _reprocess(api, entry["entry_id"])
    assert again.status == 409 and again.body["error"]["code"] == "entry_closed"
    assert again.body["error"]["details"] == [{"status": "reprocessed"}]
    late_discard = _discard(api, entry["entry_id"], {"note": "too late"})
    assert late_discard.status == 409
    assert late_discard.body["error"]["details"] == [{"status": "reprocessed"}]
    assert _me(api, "c1")["balance"] == 20
    _ledger_sums(api, "c1")
    listed = [e for e in _quarantined(api) if e["event_id"] == "evt-q-0001"]
    assert listed[0]["status"] == "reprocessed" and listed[0]["outcome"]["points"] == 20
    # AND each reprocess is in the action log, the refused one too (nothing else changed)
    actions = _actions(api, _target(entry))
    assert [a["action"] for a in actions] == ["quarantine.reprocess"] * 2
    assert [a["detail"]["outcome"]["result"] for a in actions] == ["credited", "refused"]
    assert actions[0]["actor"] == "op" and actions[0]["roles"] == ["operator"]


def test_the_robot_resending_after_provisioning_leaves_reprocess_a_duplicate(api: Api) -> None:
    register(api, "c1", phone=PHONE)
    entry = _refused_deposit(api)
    _provision_new_robot()
    # the robot resends the same event itself (the queue path), then the operator acts
    invoke_deposits(
        [sqs_record(rule_message("robot-777", deposit("evt-q-0001", phone=PHONE, pet=2)), "m2")]
    )
    done = _reprocess(api, entry["entry_id"])
    assert done.status == 200 and done.body["outcome"]["result"] == "duplicate"
    assert done.body["status"] == "reprocessed"
    assert _me(api, "c1")["balance"] == 20
    _ledger_sums(api, "c1")


def test_reprocess_judges_the_deposit_against_iot_cores_receipt_not_now(api: Api) -> None:
    # GIVEN a deposit that happened 8 days ago and reached IoT Core an hour later: on time
    # then (7 days behind its receipt at most), long out of range if judged against now
    register(api, "c1", phone=PHONE)
    now = datetime.now(UTC)
    occurred = now - timedelta(days=8)
    message = rule_message(
        "robot-777", deposit("evt-q-late1", phone=PHONE, can=1, occurred_at=occurred)
    )
    message["received_at"] = int((occurred + timedelta(hours=1)).timestamp() * 1000)
    entry = _refused_deposit(api, "evt-q-late1", envelope=message)
    _provision_new_robot()
    done = _reprocess(api, entry["entry_id"])
    assert done.status == 200, done.body
    assert done.body["outcome"]["result"] == "credited", done.body
    assert _me(api, "c1")["balance"] == 15


def test_a_rejected_reprocess_is_final_and_closes_the_entry(api: Api) -> None:
    # a phone nobody holds: the deposit is rejected (recorded), the entry reprocessed
    entry = _refused_deposit(api, "evt-q-nobody")
    _provision_new_robot()
    done = _reprocess(api, entry["entry_id"])
    assert done.status == 200
    assert done.body["outcome"]["result"] == "rejected"
    assert done.body["outcome"]["reason"] == "unknown_citizen"
    assert done.body["status"] == "reprocessed"
    # the rejection is recorded: the robot's own resend gets it again, never a credit
    register(api, "late", phone=PHONE)
    invoke_deposits(
        [sqs_record(rule_message("robot-777", deposit("evt-q-nobody", phone=PHONE, pet=2)), "m3")]
    )
    assert _me(api, "late")["balance"] == 0


def _racing(api: Api, inner: Callable[[], Any], *, before: bool) -> list[Any]:
    """Reprocess with a second reprocess run whole inside the first: before the first's
    handler runs, or between its handler and its close (a deterministic interleaving:
    in-process moto is not thread-safe for concurrent transactions)."""
    from chalicelib import wiring
    from chalicelib.wiring import replay_deposit

    service = wiring.operator_actions()
    seen: list[Any] = []
    started: list[bool] = []

    def run_inner() -> None:
        if not started:
            started.append(True)
            seen.append(inner())

    def racing(body: str) -> Replayed:
        if before:
            run_inner()
        out = replay_deposit(body)
        if not before:
            run_inner()
        return out

    service._replays = {"deposits": racing}  # the same handler, with a race injected
    return seen


@pytest.mark.parametrize("before", [True, False], ids=["inside-before", "inside-after"])
def test_two_reprocesses_at_once_credit_once_and_close_once(api: Api, before: bool) -> None:
    register(api, "c1", phone=PHONE)
    entry = _refused_deposit(api)
    _provision_new_robot()
    seen = _racing(api, lambda: _reprocess(api, entry["entry_id"]), before=before)
    outer = _reprocess(api, entry["entry_id"])
    inner = seen[0]
    statuses = sorted([outer.status, inner.status])
    assert statuses == [200, 409], (outer.body, inner.body)
    loser, winner = (outer, inner) if outer.status == 409 else (inner, outer)
    # the second finds the first's claim: busy, and the outcome recorded is the one that ran
    assert loser.body["error"]["code"] == "entry_busy"
    assert loser.body["error"]["details"] == [{"status": "open"}]
    assert winner.body["outcome"]["result"] == "credited"
    assert _quarantined(api)[0]["outcome"]["result"] == "credited"
    assert _me(api, "c1")["balance"] == 20  # credited once
    _ledger_sums(api, "c1")
    # one action for the one close: the loser's transaction wrote neither
    assert len(_actions(api, _target(entry))) == 1


def _claim(entry: dict[str, Any], until: datetime) -> None:
    """A claim as a reprocess leaves it (one that died, or one still running)."""
    from chalicelib.adapters.dynamodb_models import QuarantinedMessage

    item = QuarantinedMessage.get("deposits", entry["quarantine_id"])
    item.update(
        actions=[
            QuarantinedMessage.claim_id.set("someone-else"),
            QuarantinedMessage.claimed_until.set(until),
        ]
    )


def test_a_running_reprocess_holds_the_entry_and_a_dead_ones_claim_expires(api: Api) -> None:
    register(api, "c1", phone=PHONE)
    entry = _refused_deposit(api)
    _provision_new_robot()
    _claim(entry, datetime.now(UTC) + timedelta(seconds=60))  # running elsewhere
    for busy in (
        _reprocess(api, entry["entry_id"]),
        _discard(api, entry["entry_id"], {"note": "n"}),
    ):
        assert busy.status == 409 and busy.body["error"]["code"] == "entry_busy", busy.body
    assert _me(api, "c1")["balance"] == 0 and _actions(api, _target(entry)) == []
    _claim(entry, datetime.now(UTC) - timedelta(seconds=1))  # that reprocess died
    done = _reprocess(api, entry["entry_id"])
    assert done.status == 200 and done.body["outcome"]["result"] == "credited"
    assert _me(api, "c1")["balance"] == 20
    from chalicelib.adapters.dynamodb_models import QuarantinedMessage

    closed = QuarantinedMessage.get("deposits", entry["quarantine_id"])
    assert closed.claim_id is None and closed.claimed_until is None


def test_a_refused_reprocess_gives_its_claim_back(api: Api) -> None:
    entry = _refused_deposit(api)
    assert _reprocess(api, entry["entry_id"]).body["outcome"]["result"] == "refused"
    from chalicelib.adapters.dynamodb_models import QuarantinedMessage

    assert QuarantinedMessage.get("deposits", entry["quarantine_id"]).claim_id is None
    assert _discard(api, entry["entry_id"], {"note": "never deployed"}).status == 200


def test_reprocess_of_a_fleet_or_rule_error_entry_is_refused_and_it_can_be_discarded(
    api: Api,
) -> None:
    from chalicelib import wiring

    wiring.operations().keep_rule_failure(device_id="robot-001", details="{}", payload="{}")
    entry = _quarantined(api, "rule-errors")[0]
    assert entry["reprocessable"] is False
    refused = _reprocess(api, entry["entry_id"])
    assert refused.status == 409 and refused.body["error"]["code"] == "not_reprocessable"
    done = _discard(api, entry["entry_id"], {"note": "rule fixed; device resent"})
    assert done.status == 200 and done.body["status"] == "discarded"


def test_an_entry_from_before_statuses_reads_open_and_can_be_closed(api: Api) -> None:
    from chalicelib.adapters.dynamodb_models import QuarantinedMessage
    from chalicelib.domain.ids import sortable_id

    now = datetime.now(UTC)
    old_id = sortable_id(now)
    QuarantinedMessage(
        "deposits", old_id, reason="malformed_json", details="x", payload="{", received_at=now,
        expires=now + timedelta(days=1),
    ).save()  # fmt: skip
    entry = next(e for e in _quarantined(api) if e["quarantine_id"] == old_id)
    assert entry["status"] == "open" and entry["reprocessable"] is False
    assert _reprocess(api, entry["entry_id"]).body["error"]["code"] == "not_reprocessable"
    assert _discard(api, entry["entry_id"], {"note": "old"}).body["status"] == "discarded"


def test_a_malformed_deposit_stays_open_on_reprocess(api: Api) -> None:
    invoke_deposits([sqs_record(rule_message("robot-001", b"{not json"), "bad")])
    entry = next(e for e in _quarantined(api) if e["reason"] == "malformed_json")
    again = _reprocess(api, entry["entry_id"])
    assert again.status == 200 and again.body["status"] == "open"
    assert again.body["outcome"]["result"] == "refused"
    assert again.body["outcome"]["reason"] == "malformed_json"
    assert len([e for e in _quarantined(api) if e["reason"] == "malformed_json"]) == 1


# ------------------------------------------------------------------ discard


def test_discard_closes_once_with_its_note_in_the_log(api: Api) -> None:
    entry = _refused_deposit(api)
    done = _discard(api, entry["entry_id"], {"note": "test robot, never deployed\nclosed"})
    assert done.status == 200, done.body
    assert done.body["status"] == "discarded" and done.body["closed_by"] == "op2"
    assert done.body["note"] == "test robot, never deployed\nclosed"
    again = _discard(api, entry["entry_id"], {"note": "again"})
    assert again.status == 409 and again.body["error"]["details"] == [{"status": "discarded"}]
    after = _reprocess(api, entry["entry_id"])
    assert after.status == 409 and after.body["error"]["details"] == [{"status": "discarded"}]
    actions = _actions(api, _target(entry))
    assert [(a["action"], a["detail"]) for a in actions] == [
        ("quarantine.discard", {"note": "test robot, never deployed\nclosed"})
    ]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (None, 400),
        ({}, 400),
        ({"note": ""}, 422),
        ({"note": "   "}, 422),
        ({"note": "x" * 501}, 422),
        ({"note": "bad\u0000note"}, 422),
        ({"note": "bad\u202enote"}, 422),
        ({"note": "bad\u001bnote"}, 422),
        ({"note": 5}, 400),
        ({"note": "ok", "status": "open"}, 400),
    ],
)
def test_a_discard_note_is_1_to_500_plain_characters(api: Api, body: Any, status: int) -> None:
    entry = _refused_deposit(api)
    refused = _discard(api, entry["entry_id"], body)
    assert refused.status == status, refused.body
    assert _quarantined(api)[0]["status"] == "open"
    assert _discard(api, entry["entry_id"], {"note": "x" * 500}).status == 200


# ------------------------------------------------------------------ who may, which ids

ROUTES = [
    ("POST", "/v1/admin/quarantine/{entry}/reprocess", None),
    ("POST", "/v1/admin/quarantine/{entry}/discard", {"note": "n"}),
    ("POST", "/v1/admin/dead-letters/{dlq}/redrive", {}),
]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
@pytest.mark.parametrize(
    "roles",
    [
        (),
        ("support",),
        ("finance",),
        ("Operator",),
        ("operator ",),
        ("operators",),
        ("support", "finance"),
    ],
)
def test_only_operators_and_admins_act(
    api: Api, method: str, path: str, body: Any, roles: tuple[str, ...]
) -> None:
    entry = _refused_deposit(api)
    from chalicelib import queues

    url = path.format(entry=entry["entry_id"], dlq=queues.DEPOSITS.dlq_name)
    refused = api.call(method, url, as_user="x", roles=roles, body=body)
    assert refused.status == 403, refused.body
    assert refused.body["error"]["code"] == "forbidden_role"
    assert refused.body["error"]["details"] == [{"roles": ["admin", "operator"]}]
    assert api.call(method, url, body=body).status == 401
    assert _quarantined(api)[0]["status"] == "open"


def test_support_reads_the_quarantine_and_admin_acts(api: Api) -> None:
    entry = _refused_deposit(api)
    read = api.call("GET", "/v1/admin/quarantine", as_user="s", roles=("support",))
    assert read.status == 200 and read.body["items"][0]["entry_id"] == entry["entry_id"]
    done = _discard(api, entry["entry_id"], {"note": "by admin"}, roles=("admin",))
    assert done.status == 200


@pytest.mark.parametrize(
    "entry_id",
    [
        "deposits:01JD3Q8Z6R4T2V9X0B7C5N1M8K",  # well formed, no such entry
        "fleet:{id}",  # another source's id
        "rule-errors:{id}",
        "{id}",  # no source
        "deposits:{lower}",
        "deposits:{id}X",
        "deposits.{id}",
        "Deposits:{id}",
        "deposits:{id}%00",
        "deposits~{id}",
        "deposits:" + "0" * 300,
        "%E2%80%AEdeposits:{id}",
    ],
)
def test_an_entry_id_names_its_source_and_entry_exactly(api: Api, entry_id: str) -> None:
    entry = _refused_deposit(api)
    qid = entry["quarantine_id"]
    path_id = entry_id.format(id=qid, lower=qid.lower())
    for action, body in (("reprocess", None), ("discard", {"note": "n"})):
        found = api.call(
            "POST", f"/v1/admin/quarantine/{path_id}/{action}", as_user="op", roles=OPERATOR,
            body=body,
        )  # fmt: skip
        assert found.status == 404, (path_id, found.body)
        assert found.body["error"]["code"] == "quarantine_entry_not_found", found.body
    assert _quarantined(api)[0]["status"] == "open"


# ------------------------------------------------------------------ dead letters


def _sqs() -> Any:
    return boto3.client("sqs", region_name=REGION)


def _url(name: str) -> str:
    return str(_sqs().get_queue_url(QueueName=name)["QueueUrl"])


def _drain(name: str) -> list[dict[str, Any]]:
    """Everything visible in a queue, deleted, as Lambda records."""
    out: list[dict[str, Any]] = []
    while True:
        got = (
            _sqs().receive_message(QueueUrl=_url(name), MaxNumberOfMessages=10).get("Messages", [])
        )
        if not got:
            return out
        for m in got:
            out.append(sqs_record(m["Body"], m["MessageId"]))
            _sqs().delete_message(QueueUrl=_url(name), ReceiptHandle=m["ReceiptHandle"])


def _depth(name: str) -> int:
    attributes = _sqs().get_queue_attributes(
        QueueUrl=_url(name), AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def _redrive(api: Api, queue: str, body: Any = None, roles: tuple[str, ...] = OPERATOR) -> Any:
    return api.call(
        "POST", f"/v1/admin/dead-letters/{queue}/redrive", as_user="op", roles=roles, body=body
    )


def _dead_lettered(event_id: str, pet: int = 1) -> str:
    """A robot's deposit as its queue message, parked on the deposits DLQ (as after five
    failed receives)."""
    from chalicelib import queues

    body = json.dumps(rule_message("robot-001", deposit(event_id, phone=PHONE, pet=pet)))
    _sqs().send_message(QueueUrl=_url(queues.DEPOSITS.dlq_name), MessageBody=body)
    return body


def test_a_redrive_moves_a_dead_letter_back_and_it_is_credited(api: Api) -> None:
    from chalicelib import queues

    register(api, "c1", phone=PHONE)
    _dead_lettered("evt-dlq-0001", pet=3)
    moved = _redrive(api, queues.DEPOSITS.dlq_name)
    assert moved.status == 202, moved.body
    assert moved.body == {"queue": queues.DEPOSITS.dlq_name, "moved": 1}
    assert _depth(queues.DEPOSITS.dlq_name) == 0
    invoke_deposits(_drain(queues.DEPOSITS.name))
    assert _me(api, "c1")["balance"] == 30
    empty = _redrive(api, queues.DEPOSITS.dlq_name)
    assert empty.status == 202 and empty.body["moved"] == 0
    actions = _actions(api, f"queue:{queues.DEPOSITS.dlq_name}")
    assert [(a["action"], a["detail"]) for a in actions] == [
        ("queue.redrive", {"moved": 0, "max": None}),
        ("queue.redrive", {"moved": 1, "max": None}),
    ]


def test_a_bounded_redrive_moves_at_most_max(api: Api) -> None:
    from chalicelib import queues

    register(api, "c1", phone=PHONE)
    for n in range(5):
        _dead_lettered(f"evt-dlq-b{n:03d}")
    first = _redrive(api, queues.DEPOSITS.dlq_name, {"max": 2})
    assert first.status == 202 and first.body["moved"] == 2
    assert _depth(queues.DEPOSITS.dlq_name) == 3
    assert _depth(queues.DEPOSITS.name) == 2
    rest = _redrive(api, queues.DEPOSITS.dlq_name, {"max": 500})
    assert rest.body["moved"] == 3
    invoke_deposits(_drain(queues.DEPOSITS.name))
    assert _me(api, "c1")["balance"] == 50


def test_redrive_while_the_handler_drains_credits_once(api: Api) -> None:
    # GIVEN one deposit both parked on the DLQ and resent by its robot into the queue
    from chalicelib import queues

    register(api, "c1", phone=PHONE)
    body = _dead_lettered("evt-dlq-race", pet=4)
    _sqs().send_message(QueueUrl=_url(queues.DEPOSITS.name), MessageBody=body)
    # WHEN the handler takes the queue's copy, the DLQ is redriven mid-drain (one message
    # moved by hand, the rest by the move task), and the handler drains again, twice
    first = _drain(queues.DEPOSITS.name)
    assert _redrive(api, queues.DEPOSITS.dlq_name, {"max": 1}).body["moved"] == 1
    invoke_deposits(first)
    second = _drain(queues.DEPOSITS.name)
    invoke_deposits(second + second)  # and Lambda delivers it twice
    # THEN it is credited once, nothing lost: both queues empty
    assert len(second) == 1
    assert _me(api, "c1")["balance"] == 40
    _ledger_sums(api, "c1")
    assert _depth(queues.DEPOSITS.dlq_name) == 0 and _depth(queues.DEPOSITS.name) == 0


def test_a_stream_failure_queue_is_not_redrivable(api: Api) -> None:
    from chalicelib import streams

    name = streams.LEDGER_CHANGES.failure_queue_name
    refused = _redrive(api, name)
    assert refused.status == 409 and refused.body["error"]["code"] == "not_redrivable"
    assert "pointers" in refused.body["error"]["message"]
    assert _actions(api, f"queue:{name}") == []


@pytest.mark.parametrize(
    "queue",
    ["nope", "gimhae-dev-deposits", "gimhae-dev-deposits-dlqx", "gimhae-prod-deposits-dlq"],
)
def test_an_unknown_queue_is_404(api: Api, queue: str) -> None:
    for odd in ("a%00b", "%E2%80%AE", "x" * 300, "q%20dlq"):
        refused = _redrive(api, odd)
        assert refused.status == 404 and refused.body["error"]["code"] == "queue_not_found"
    refused = _redrive(api, queue)
    assert refused.status == 404 and refused.body["error"]["code"] == "queue_not_found"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"max": 0}, 422),
        ({"max": 501}, 422),
        ({"max": -1}, 422),
        ({"max": "5"}, 400),
        ({"max": 1.5}, 400),
        ({"max": True}, 400),
        ({"max": 1, "queue": "x"}, 400),
        ([], 400),
    ],
)
def test_redrive_max_is_1_to_500(api: Api, body: Any, status: int) -> None:
    from chalicelib import queues

    _dead_lettered("evt-dlq-max1")
    refused = _redrive(api, queues.DEPOSITS.dlq_name, body)
    assert refused.status == status, refused.body
    assert _depth(queues.DEPOSITS.dlq_name) == 1


def test_redrive_of_a_job_queue_returns_its_chunks(api: Api) -> None:
    from chalicelib import queues

    _sqs().send_message(QueueUrl=_url(queues.AUDIT_CHUNKS.dlq_name), MessageBody="{}")
    assert _redrive(api, queues.AUDIT_CHUNKS.dlq_name).body["moved"] == 1
    assert _depth(queues.AUDIT_CHUNKS.name) == 1


# ------------------------------------------------------------------ costs


def test_requests_per_operation(api: Api) -> None:
    """DynamoDB requests each operation makes (for bench/RESULTS.md)."""
    from chalicelib import queues

    register(api, "c1", phone=PHONE)
    first = _refused_deposit(api, "evt-q-cost1")
    second = _refused_deposit(api, "evt-q-cost2")
    refused = _refused_deposit(api, "evt-q-cost3")
    with touched_calls() as still_refused:
        assert _reprocess(api, refused["entry_id"]).body["outcome"]["result"] == "refused"
    _provision_new_robot()
    with touched_calls() as reprocess:
        assert _reprocess(api, first["entry_id"]).body["outcome"]["result"] == "credited"
    with touched_calls() as discard:
        _discard(api, second["entry_id"], {"note": "n"})
    with touched_calls() as closed:
        _reprocess(api, first["entry_id"])
    _dead_lettered("evt-dlq-cost")
    with touched_calls() as redrive:
        _redrive(api, queues.DEPOSITS.dlq_name)
    print(
        "requests:",
        {
            "reprocess": reprocess,
            "still_refused": still_refused,
            "discard": discard,
            "closed": closed,
            "redrive": redrive,
        },
    )
    # reprocess: entry read, claim, the deposit's two round trips, close + action (one
    # transaction)
    assert reprocess == {
        "GetItem": 1, "UpdateItem": 1, "BatchGetItem": 1, "TransactWriteItems": 2
    }  # fmt: skip
    # still refused: entry read, claim, the deposit's first look, release + action
    assert still_refused == {
        "GetItem": 1, "UpdateItem": 1, "BatchGetItem": 1, "TransactWriteItems": 1
    }  # fmt: skip
    assert discard == {"GetItem": 1, "TransactWriteItems": 1}
    assert closed == {"GetItem": 1}
    assert redrive == {"PutItem": 1}  # the action; the move is SQS's


def prepare_operator_routes(api: Api) -> Callable[[], None]:
    """Two quarantined deposits of a robot since provisioned, and a dead letter; answers
    what calls every operator route on them (for tests/functional/test_table_access.py)."""
    from chalicelib import queues

    register(api, "c-ops", phone=PHONE)
    first = _refused_deposit(api, "evt-q-touch1")
    second = _refused_deposit(api, "evt-q-touch2")
    _provision_new_robot()
    _dead_lettered("evt-dlq-touch")

    def touch() -> None:
        assert _reprocess(api, first["entry_id"]).body["outcome"]["result"] == "credited"
        assert _discard(api, second["entry_id"], {"note": "n"}).status == 200
        assert _redrive(api, queues.DEPOSITS.dlq_name).status == 202

    return touch


def test_the_api_touches_only_declared_tables_while_acting(api: Api) -> None:
    from chalicelib.table_access import TABLES_BY_FUNCTION

    touch = prepare_operator_routes(api)
    with touched() as tables:
        touch()
    declared = {m.__name__ for m in TABLES_BY_FUNCTION["api_handler"]}
    assert tables <= declared, tables - declared
    assert {"Device", "CitizenDay"} <= tables


def test_the_openapi_document_describes_the_actions(api: Api) -> None:
    doc = api.call("GET", "/v1/openapi.json").body
    discard = doc["paths"]["/v1/admin/quarantine/{entry_id}/discard"]["post"]
    redrive = doc["paths"]["/v1/admin/dead-letters/{queue}/redrive"]["post"]
    reprocess = doc["paths"]["/v1/admin/quarantine/{entry_id}/reprocess"]["post"]
    schemas = doc["components"]["schemas"]

    def schema(operation: dict[str, Any]) -> dict[str, Any]:
        ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        return dict(schemas[ref.rsplit("/", 1)[-1]])

    assert schema(discard)["properties"]["note"]["maxLength"] == 500
    assert "max" in schema(redrive)["properties"]
    assert "202" in redrive["responses"] and "200" in reprocess["responses"]


def test_a_sealed_original_opens_only_for_its_own_entry(api: Api) -> None:
    import os

    from chalicelib.adapters.kms_secrets import KmsSecrets

    secrets = KmsSecrets(os.environ["PAYOUT_KMS_KEY_ID"])
    text = json.dumps({"citizen": {"phone": PHONE}, "pad": "x" * 20_000})  # over KMS's 4 KB
    mine = {"purpose": "quarantine", "entry": "deposits:AAAAAAAAAAAAAAAAAAAAAAAAAA"}
    sealed = secrets.seal(text, mine)
    assert PHONE not in sealed and len(sealed) < len(text)  # compressed, then sealed
    assert secrets.unseal(sealed, mine) == text
    other = {**mine, "entry": "deposits:BBBBBBBBBBBBBBBBBBBBBBBBBB"}
    with pytest.raises(Exception):  # noqa: B017 (KMS's or the cipher's refusal, either)
        secrets.unseal(sealed, other)
    tampered = sealed[:-8] + ("A" if sealed[-8] != "A" else "B") + sealed[-7:]
    with pytest.raises(Exception):  # noqa: B017
        secrets.unseal(tampered, mine)
