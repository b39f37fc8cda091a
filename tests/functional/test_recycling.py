"""Recycling points through the real SQS handler on moto: credited exactly once, acked,
quarantined when unprocessable, and visible in the ledger."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from tests.functional.conftest import (
    REGION,
    Api,
    deposit,
    invoke_deposits,
    published_acks,
    register,
    rule_message,
    sqs_record,
)


def _citizen_with_code(api: Api, who: str = "citizen-1", phone: str | None = None) -> str:
    register(api, who, phone=phone)
    return str(api.call("POST", "/v1/me/deposit-codes", as_user=who).body["code"])


def _deliver(*messages: tuple[str, dict[str, Any] | bytes]) -> dict[str, Any]:
    records = [
        sqs_record(rule_message(device, payload), f"m{i}")
        for i, (device, payload) in enumerate(messages)
    ]
    return invoke_deposits(records)


def _acks_for(device: str) -> list[dict[str, Any]]:
    return [
        ack for topic, ack in published_acks() if topic == f"gimhae/robots/{device}/deposits/ack"
    ]


def _balance(api: Api, who: str = "citizen-1") -> int:
    return int(api.call("GET", "/v1/me", as_user=who).body["balance"])


def _ledger(api: Api, who: str = "citizen-1") -> list[dict[str, Any]]:
    return list(api.call("GET", "/v1/me/ledger?limit=100", as_user=who).body["entries"])


def test_deposit_is_credited_acked_and_in_the_ledger(api: Api) -> None:
    # GIVEN a registered citizen with a fresh code
    code = _citizen_with_code(api)
    # WHEN robot-001 reports 3 cans and 2 PET bottles
    result = _deliver(("robot-001", deposit("evt-00000001", code, can=3, pet=2)))
    # THEN 3*15 + 2*10 = 65 points are credited, the robot is told, the ledger shows it
    assert result == {"batchItemFailures": []}
    assert _acks_for("robot-001") == [
        {"event_id": "evt-00000001", "status": "credited", "points": 65, "balance": 65}
    ]
    assert _balance(api) == 65
    (entry,) = _ledger(api)
    assert (entry["kind"], entry["points"], entry["balance_after"]) == ("recycling", 65, 65)
    assert entry["detail"]["device_id"] == "robot-001"
    assert entry["detail"]["event_id"] == "evt-00000001"


def test_same_event_three_times_is_credited_once(api: Api) -> None:
    code = _citizen_with_code(api)
    event = deposit("evt-dup-0001", code, can=2)
    # WHEN the robot's event arrives three times (two in one batch, one later)
    _deliver(("robot-001", event), ("robot-001", event))
    _deliver(("robot-001", event))
    # THEN it is credited once; the later acks say duplicate with the first result
    acks = _acks_for("robot-001")
    assert [a["status"] for a in acks] == ["credited", "duplicate", "duplicate"]
    assert all((a["points"], a["balance"]) == (30, 30) for a in acks)
    assert _balance(api) == 30
    assert len(_ledger(api)) == 1


def test_replayed_and_reordered_deliveries_give_the_clean_result(api: Api) -> None:
    # GIVEN 12 deposits by one citizen (phone) across two robots
    _citizen_with_code(api, phone="010-2222-3333")
    events = [
        (
            "robot-001" if i % 2 else "robot-002",
            deposit(f"evt-replay-{i:02d}", phone="01022223333", can=i % 3, pet=1),
        )
        for i in range(12)
    ]
    expected = sum((i % 3) * 15 + 10 for i in range(12))
    # WHEN every event is delivered 1-3 times, shuffled, in batches of up to 10
    rng = random.Random(7)
    deliveries = [e for e in events for _ in range(rng.randint(1, 3))]
    rng.shuffle(deliveries)
    for start in range(0, len(deliveries), 10):
        assert _deliver(*deliveries[start : start + 10]) == {"batchItemFailures": []}
    # THEN balances and ledger equal one clean delivery, and balance == sum(ledger)
    ledger = _ledger(api)
    assert len(ledger) == 12
    assert _balance(api) == expected == sum(e["points"] for e in ledger)
    assert sorted(e["balance_after"] for e in ledger)[-1] == expected
    credited = [a for a in published_acks() if a[1]["status"] == "credited"]
    assert len(credited) == 12


def test_used_code_is_rejected(api: Api) -> None:
    code = _citizen_with_code(api)
    _deliver(("robot-001", deposit("evt-first-01", code, can=1)))
    _deliver(("robot-002", deposit("evt-second-1", code, can=1)))
    assert _acks_for("robot-002") == [
        {"event_id": "evt-second-1", "status": "rejected", "reason": "code_used"}
    ]
    assert _balance(api) == 15


def test_expired_code_is_rejected(api: Api) -> None:
    # GIVEN a code valid for 5 minutes, and a deposit made 6 minutes later
    code = _citizen_with_code(api)
    late = datetime.now(UTC) + timedelta(minutes=6)
    _deliver(("robot-001", deposit("evt-late-001", code, can=1, occurred_at=late)))
    assert _acks_for("robot-001")[0]["reason"] == "expired_code"
    assert _balance(api) == 0


def test_unknown_code_and_unknown_phone_are_rejected(api: Api) -> None:
    _deliver(
        ("robot-001", deposit("evt-nocode-1", "000000", can=1)),
        ("robot-001", deposit("evt-nophone1", phone="010-9999-0000", can=1)),
    )
    assert [a["reason"] for a in _acks_for("robot-001")] == ["unknown_citizen", "unknown_citizen"]


def test_phone_deposit_is_credited_and_the_number_is_never_stored(api: Api) -> None:
    _citizen_with_code(api, phone="+82 10-4321-8765")
    _deliver(("robot-001", deposit("evt-phone-01", phone="010-4321-8765", pet=4)))
    assert _balance(api) == 40
    # THEN no table holds the raw number in any form
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    for table in dynamodb.list_tables()["TableNames"]:
        dump = json.dumps(dynamodb.scan(TableName=table)["Items"])
        for form in ("01043218765", "4321-8765", "43218765"):
            assert form not in dump, table


def test_malformed_and_invalid_messages_are_quarantined_and_do_not_block(api: Api) -> None:
    code = _citizen_with_code(api)
    # WHEN a batch holds malformed JSON, an invalid payload and then a good deposit
    result = _deliver(
        ("robot-001", b'{"event_id": "evt-broken-1", "citizen": '),
        ("robot-001", {"event_id": "evt-invalid1", "citizen": {"code": "12"}, "items": []}),
        ("robot-001", deposit("evt-good-0001", code, can=1)),
    )
    # THEN nothing fails the batch, the good deposit is credited, the robot hears about all
    assert result == {"batchItemFailures": []}
    assert _balance(api) == 15
    acks = _acks_for("robot-001")
    assert acks[0] == {"event_id": None, "status": "rejected", "reason": "invalid_payload"}
    assert acks[1] == {
        "event_id": "evt-invalid1",
        "status": "rejected",
        "reason": "invalid_payload",
    }
    assert acks[2]["status"] == "credited"
    # AND admins see both in quarantine with their reasons
    items = api.call("GET", "/v1/admin/quarantine", as_user="ops", admin=True).body["items"]
    assert sorted(i["reason"] for i in items) == ["invalid_payload", "malformed_json"]
    assert all(i["device_id"] == "robot-001" for i in items)


def test_a_deposit_naming_its_citizen_twice_credits_nobody_and_is_quarantined(api: Api) -> None:
    # GIVEN a citizen with a deposit code
    code = _citizen_with_code(api)
    # WHEN a robot's deposit names `citizen` twice: a code, then a phone number
    first = json.dumps(deposit("evt-twice-001", code, can=3))
    raw = first[:-1] + ', "citizen": {"phone": "010-5555-7777"}}'
    result = _deliver(("robot-001", raw.encode()))
    # THEN nobody is credited, the robot is told, and admins see it quarantined without the
    # number
    assert result == {"batchItemFailures": []}
    assert _balance(api) == 0
    assert _acks_for("robot-001")[-1]["status"] == "rejected"
    items = api.call("GET", "/v1/admin/quarantine", as_user="ops", admin=True).body["items"]
    assert [i["reason"] for i in items] == ["malformed_json"]
    assert "5555-7777" not in json.dumps(items) and "55557777" not in json.dumps(items)


def test_quarantined_payload_never_keeps_a_phone_number(api: Api) -> None:
    _deliver(("robot-001", b'{"citizen": {"phone": "010-5555-6666"}, oops'))
    items = api.call("GET", "/v1/admin/quarantine", as_user="ops", admin=True).body["items"]
    assert "5555" not in json.dumps(items)


def test_unknown_device_is_rejected_and_quarantined(api: Api) -> None:
    code = _citizen_with_code(api)
    _deliver(("robot-999", deposit("evt-ghost-01", code, can=1)))
    assert _acks_for("robot-999")[0]["reason"] == "unknown_device"
    assert _balance(api) == 0


def test_daily_limit_credits_up_to_the_limit_and_says_so(api: Api) -> None:
    _citizen_with_code(api, phone="010-7777-8888")
    # GIVEN 95 items already credited today
    _deliver(("robot-001", deposit("evt-limit-01", phone="01077778888", can=95)))
    # WHEN 10 more arrive, then 1 more
    _deliver(("robot-001", deposit("evt-limit-02", phone="01077778888", pet=10)))
    _deliver(("robot-001", deposit("evt-limit-03", phone="01077778888", can=1)))
    # THEN only 5 of the 10 earn points, the ack says daily_limit; the last earns nothing
    acks = _acks_for("robot-001")
    assert acks[1] == {
        "event_id": "evt-limit-02",
        "status": "credited",
        "points": 50,
        "balance": 95 * 15 + 50,
        "reason": "daily_limit",
    }
    assert acks[2] == {"event_id": "evt-limit-03", "status": "rejected", "reason": "daily_limit"}
    assert _balance(api) == 95 * 15 + 50


def test_occurred_at_outside_the_window_is_rejected(api: Api) -> None:
    _citizen_with_code(api, phone="010-1111-2222")
    now = datetime.now(UTC)
    _deliver(
        (
            "robot-001",
            deposit(
                "evt-future-1", phone="01011112222", can=1, occurred_at=now + timedelta(minutes=11)
            ),
        ),
        (
            "robot-001",
            deposit(
                "evt-stale-01", phone="01011112222", can=1, occurred_at=now - timedelta(days=8)
            ),
        ),
        (
            "robot-001",
            deposit(
                "evt-lateok-1", phone="01011112222", can=1, occurred_at=now - timedelta(days=6)
            ),
        ),
    )
    assert [a.get("reason", a["status"]) for a in _acks_for("robot-001")] == [
        "occurred_at_out_of_range",
        "occurred_at_out_of_range",
        "credited",
    ]


def test_a_failing_record_fails_alone(api: Api) -> None:
    # GIVEN two citizens, one of whose records is unreadable (a poisoned row)
    code_a = _citizen_with_code(api, "a")
    code_b = _citizen_with_code(api, "b")
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    dynamodb.update_item(
        TableName="gimhae-dev-citizens",
        Key={"citizen_id": {"S": "b"}},
        UpdateExpression="SET balance = :bad",
        ExpressionAttributeValues={":bad": {"S": "not-a-number"}},
    )
    # WHEN a batch holds a deposit for each
    records = [
        sqs_record(rule_message("robot-001", deposit("evt-ok-00001", code_a, can=1)), "ok"),
        sqs_record(rule_message("robot-001", deposit("evt-bad-00001", code_b, can=1)), "bad"),
    ]
    result = invoke_deposits(records)
    # THEN only b's record is reported for retry; a is credited
    assert result == {"batchItemFailures": [{"itemIdentifier": "bad"}]}
    assert _balance(api, "a") == 15


def test_ledger_pages_newest_first(api: Api) -> None:
    _citizen_with_code(api, phone="010-3333-4444")
    for i in range(7):
        _deliver(("robot-001", deposit(f"evt-page-{i:04d}", phone="01033334444", can=1)))
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        path = "/v1/me/ledger?limit=3" + (f"&cursor={cursor}" if cursor else "")
        body = api.call("GET", path, as_user="citizen-1").body
        seen += body["entries"]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert [e["balance_after"] for e in seen] == [105, 90, 75, 60, 45, 30, 15]
    # AND another citizen cannot use that cursor
    _citizen_with_code(api, "other")
    first = api.call("GET", "/v1/me/ledger?limit=3", as_user="citizen-1").body["next_cursor"]
    assert api.call("GET", f"/v1/me/ledger?cursor={first}", as_user="other").status == 400


def test_a_deposit_racing_another_for_the_same_citizen_retries_and_stays_exact(
    api: Api,
) -> None:
    """Two deposits for one citizen interleave between read and write: the optimistic
    version check makes the loser re-read and retry, so balance_after stays exact."""
    from chalicelib import config, wiring
    from chalicelib.adapters import aws_clients
    from chalicelib.adapters.dynamodb_ledger import DynamoDbLedger
    from chalicelib.adapters.iot_acks import IotAckPublisher
    from chalicelib.domain.clock import utc_now
    from chalicelib.domain.ledger import PostedResult, Posting
    from chalicelib.domain.recycling import Deposit, DepositAck
    from chalicelib.services.recycling import RecyclingService

    _citizen_with_code(api, phone="010-6666-7777")

    class RacingLedger(DynamoDbLedger):
        """The real adapter; just before its first write, another deposit lands first."""

        raced = False

        def post(self, posting: Posting) -> PostedResult:
            if not RacingLedger.raced:
                RacingLedger.raced = True
                rival = Deposit.model_validate(deposit("evt-rival-001", phone="01066667777", pet=1))
                service.credit_deposit("robot-002", rival)
            return super().post(posting)

    service = RecyclingService(
        ledger=RacingLedger(config.settings().payout_threshold),
        acks=IotAckPublisher("gimhae"),
        quarantine=wiring.quarantine(),
        settings=config.settings(),
        clock=utc_now,
        phone_key=aws_clients.phone_hash_key,
    )
    ours = Deposit.model_validate(deposit("evt-ours-0001", phone="01066667777", can=1))
    ack = service.credit_deposit("robot-001", ours)
    # THEN both are credited once, and the ledger's running balance is consistent
    assert ack == DepositAck("evt-ours-0001", "credited", points=15, balance=25)
    ledger = _ledger(api)
    assert [(e["points"], e["balance_after"]) for e in ledger] == [(15, 25), (10, 10)]
    assert _balance(api) == 25


def test_outcomes_are_counted_as_cloudwatch_metrics(
    api: Api, monkeypatch: Any, capsys: Any
) -> None:
    # GIVEN metrics on (EMF documents in the function's log)
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    code = _citizen_with_code(api)
    capsys.readouterr()
    # WHEN one deposit is credited and one message is malformed
    _deliver(("robot-001", deposit("evt-metric-01", code, can=2)), ("robot-001", b"{oops"))
    # THEN the batch's metrics say so
    documents = [
        json.loads(line)
        for line in capsys.readouterr().out.splitlines()
        if line.startswith('{"_aws"')
    ]
    assert len(documents) == 1
    metrics = documents[0]
    assert metrics["DepositsCredited"] == [1.0]
    assert metrics["PointsCredited"] == [30.0]
    assert metrics["DepositsRejected"] == [1.0]
    assert metrics["MessagesQuarantined"] == [1.0]
    # AND the rejection by its reason, a line of its own on the operators' dashboard
    assert metrics["DepositsRejected.invalid_payload"] == [1.0]


def test_admins_see_dead_letter_depth(api: Api) -> None:
    # GIVEN a message that exhausted its retries and sits in the deposits DLQ
    sqs = boto3.client("sqs", region_name=REGION)
    dlq = sqs.get_queue_url(QueueName="gimhae-dev-deposits-dlq")["QueueUrl"]
    sqs.send_message(QueueUrl=dlq, MessageBody="{}")
    # WHEN an admin looks; THEN the depth shows; a citizen may not look
    body = api.call("GET", "/v1/admin/dead-letters", as_user="ops", admin=True).body
    depth = {(q["source"], q["kind"], q["queue"]): q["messages"] for q in body["queues"]}
    from chalicelib import queues, streams

    expected = {(q.name, "dead_letter", q.dlq_name): 0 for q in queues.ALL_QUEUES}
    expected |= {
        (s.handler, "stream_failures", s.failure_queue_name): 0 for s in streams.ALL_STREAMS
    }
    expected[("gimhae-dev-deposits", "dead_letter", "gimhae-dev-deposits-dlq")] = 1
    assert depth == expected
    assert api.call("GET", "/v1/admin/dead-letters", as_user="citizen").status == 403


def test_a_rejection_is_final_for_that_event(api: Api) -> None:
    # GIVEN a deposit by a phone number nobody has linked yet: rejected
    event = deposit("evt-final-001", phone="010-8080-9090", can=2)
    _deliver(("robot-001", event))
    # WHEN the citizen links that number, and the robot's event is delivered again
    _citizen_with_code(api, phone="010-8080-9090")
    _deliver(("robot-001", event))
    # THEN the redelivery gets the first answer: one clean delivery credits nothing
    acks = _acks_for("robot-001")
    assert [(a["status"], a["reason"]) for a in acks] == [("rejected", "unknown_citizen")] * 2
    assert _balance(api) == 0


def test_a_late_deposit_goes_to_the_code_holder_of_its_time(api: Api, monkeypatch: Any) -> None:
    # GIVEN Alice's code, which expires; every later draw hits the same number
    import secrets

    monkeypatch.setattr(secrets, "randbelow", lambda n: 424242)
    alice_code = _citizen_with_code(api, "alice")
    assert alice_code == "424242"
    # WHEN Bob asks for a code: the number is still reserved for Alice's late deposits
    assert (
        api.call(
            "PUT", "/v1/me", as_user="bob", body={"display_name": "b", "district": "naeoe-dong"}
        ).status
        == 200
    )
    response = api.call("POST", "/v1/me/deposit-codes", as_user="bob")
    assert response.status == 429 and response.body["error"]["code"] == "codes_exhausted"
    # AND Alice's deposit, made while the code was valid, arrives late: it is Alice's
    _deliver(("robot-001", deposit("evt-late-alice", alice_code, can=3)))
    assert _balance(api, "alice") == 45


def test_a_deposit_made_before_the_code_existed_is_refused(api: Api) -> None:
    code = _citizen_with_code(api)
    before = datetime.now(UTC) - timedelta(minutes=30)
    _deliver(("robot-001", deposit("evt-too-early", code, can=1, occurred_at=before)))
    assert _acks_for("robot-001")[0]["reason"] == "expired_code"


def test_changing_the_phone_number_moves_the_link(api: Api) -> None:
    # GIVEN Alice linked to one number, then to another
    _citizen_with_code(api, "alice", phone="010-1000-2000")
    _citizen_with_code(api, "alice", phone="010-3000-4000")
    # THEN deposits by the old number no longer reach her, the new one does
    _deliver(
        ("robot-001", deposit("evt-old-phone", phone="010-1000-2000", can=1)),
        ("robot-001", deposit("evt-new-phone", phone="010-3000-4000", can=1)),
    )
    assert [a["status"] for a in _acks_for("robot-001")] == ["rejected", "credited"]
    # AND the old number is free for someone else; DELETE removes a link
    _citizen_with_code(api, "bob", phone="010-1000-2000")
    assert api.call("DELETE", "/v1/me/phone", as_user="bob").status == 200
    _deliver(("robot-002", deposit("evt-bob-gone", phone="010-1000-2000", can=1)))
    assert _acks_for("robot-002")[0]["reason"] == "unknown_citizen"


def test_a_forged_cursor_is_refused_not_passed_on(api: Api) -> None:
    import base64

    _citizen_with_code(api)
    forged = {"citizen_id": {"S": "citizen-1"}, "entry_id": {"N": "5"}, "x": {"S": "y"}}
    cursor = base64.urlsafe_b64encode(json.dumps(forged).encode()).decode().rstrip("=")
    response = api.call("GET", f"/v1/me/ledger?cursor={cursor}", as_user="citizen-1")
    assert response.status == 400


def test_a_number_held_by_a_then_b_credits_each_deposit_to_its_holder_then(
    api: Api, monkeypatch: Any
) -> None:
    # GIVEN Alice held 246810 twenty minutes ago (granted then, through the real adapter)
    import secrets

    from chalicelib import config
    from chalicelib.adapters.dynamodb_citizens import DynamoDbCitizens
    from chalicelib.domain.citizens import new_grant

    _citizen_with_code(api, "alice")
    ttl = config.settings().deposit_code_ttl_seconds
    then = datetime.now(UTC) - timedelta(minutes=20)
    grant = new_grant("246810", "alice", then, ttl, then + timedelta(days=8))
    assert DynamoDbCitizens().reserve_code(grant, then)
    # WHEN Bob draws the same number now (it can no longer vouch for Alice)
    monkeypatch.setattr(secrets, "randbelow", lambda n: 246810)
    assert _citizen_with_code(api, "bob") == "246810"
    # AND the robot delivers Bob's deposit, then Alice's late one, then both again reversed
    bobs = deposit("evt-ab-bob-001", "246810", can=2)
    alices = deposit("evt-ab-alice-1", "246810", can=3, occurred_at=then + timedelta(minutes=2))
    _deliver(("robot-001", bobs), ("robot-001", alices))
    _deliver(("robot-001", alices), ("robot-001", bobs))
    # THEN each is credited once, to the holder of its moment
    assert (_balance(api, "alice"), _balance(api, "bob")) == (45, 30)
    assert [a["status"] for a in _acks_for("robot-001")] == [
        "credited", "credited", "duplicate", "duplicate"
    ]  # fmt: skip
