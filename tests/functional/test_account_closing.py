"""Closing an account and following one's payouts (DESIGN §4c) through the real routes and
handlers on moto: what is erased at once, what is kept, the forfeit posted exactly once,
the audit still balanced, the boards without the name, the phone free for a new account."""

from __future__ import annotations

from typing import Any

import boto3
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import handle_ledger_changes
from chalicelib import queues, streams
from chalicelib.domain.clock import seoul_day, utc_now
from chalicelib.domain.closing import CLOSED_NAME
from chalicelib.domain.notifications import token_key
from chalicelib.services.citizens import ProfileUpdate
from infra.local.lambda_runtime import LambdaContext
from tests.functional.conftest import (
    REGION,
    Api,
    deposit,
    invoke_deposits,
    ledger_stream_event,
    link_phone,
    published_acks,
    rule_message,
    sqs_record,
    table_stream_event,
)
from tests.functional.test_payouts_api import (
    ACCOUNT,
    _approve,
    _credit,
    _drain,
    _register,
    _start,
)

NUMBER = "010-3456-7890"
BOARDS = ("period=day", "period=week", "period=day&scope=district:naeoe-dong",
          "period=week&scope=district:naeoe-dong")  # fmt: skip


def _boards(event: dict[str, Any]) -> None:
    from app import handle_step_boards
    from infra.local.lambda_runtime import LambdaContext

    assert handle_step_boards(event, LambdaContext("step-boards")) == {"batchItemFailures": []}


def _names(api: Api, query: str) -> list[str]:
    answer = api.call("GET", f"/v1/leaderboards/steps?{query}", as_user="viewer")
    assert answer.status == 200, answer.body
    return [e["display_name"] for e in answer.body["entries"]]


def _close(api: Api, who: str, body: Any = None, **kw: Any) -> Any:
    return api.call("DELETE", "/v1/me", as_user=who, body=body, **kw)


def _item(table: str, key: dict[str, Any]) -> dict[str, Any] | None:
    found = boto3.client("dynamodb", region_name=REGION).get_item(
        TableName=f"gimhae-dev-{table}", Key=key, ConsistentRead=True
    )
    return found.get("Item")


def _audit(api: Api) -> dict[str, Any]:
    import time

    time.sleep(0.002)  # audits sort by their start time (milliseconds)
    assert api.call("POST", "/v1/admin/audit", as_user="o", admin=True).status == 201
    _drain(queues.AUDIT_CHUNKS)
    found = api.call("GET", "/v1/admin/audit", as_user="o", admin=True).body
    assert found["status"] == "done", found
    return dict(found)


def _deposit_by_phone(event_id: str) -> dict[str, Any]:
    message = rule_message("robot-001", deposit(event_id, phone=NUMBER, can=2))
    invoke_deposits([sqs_record(message, f"m-{event_id}")])
    return next(ack for _, ack in reversed(published_acks()) if ack["event_id"] == event_id)


def test_closing_with_a_forfeit_erases_at_once_keeps_the_ledger_and_the_audit_balances(
    api: Api,
) -> None:
    # GIVEN a walker on every board, with a phone, a payout account and 3000 points
    _register(api, "c-1")
    link_phone(api, "c-1", NUMBER)
    day = seoul_day(utc_now()).isoformat()
    put = api.call(
        "PUT", "/v1/me/steps", as_user="c-1", body={"days": [{"date": day, "steps": 8000}]}
    )
    assert put.status == 200
    _boards(table_stream_event(streams.STEP_BOARDS))
    assert all(_names(api, q) == ["c-1"] for q in BOARDS)
    _credit("c-1", 3000, "seed-c-1")
    push = {"platform": "apns", "token": "ab" * 32}
    assert api.call("PUT", "/v1/me/push-tokens", as_user="c-1", body=push).status == 200
    # WHEN they close without forfeiting: refused, nothing erased
    refused = _close(api, "c-1")
    assert refused.status == 409 and refused.body["error"]["code"] == "balance_remaining"
    assert refused.body["error"]["details"] == [{"balance": 3000}]
    assert api.call("GET", "/v1/me", as_user="c-1").body["display_name"] == "c-1"
    # a flag of the wrong type, or an unknown field, is malformed
    for body in ({"forfeit_points": "yes"}, {"forfeit_points": 1}, {"forfeit": True}):
        assert _close(api, "c-1", body).status == 400, body
    # WHEN they close forfeiting the points, and the request is delivered twice
    closed = _close(api, "c-1", {"forfeit_points": True})
    assert closed.status == 200, closed.body
    assert closed.body["citizen_id"] == "c-1" and closed.body["points_forfeited"] == 3000
    again = _close(api, "c-1", {"forfeit_points": True})
    assert again.status == 404 and again.body["error"]["code"] == "account_closed"
    # THEN every citizen route with that token is a 404 account_closed
    for method, path, body in (
        ("GET", "/v1/me", None),
        ("PUT", "/v1/me", {"display_name": "back", "district": "naeoe-dong"}),
        ("GET", "/v1/me/ledger", None),
        ("GET", "/v1/me/payouts", None),
        ("POST", "/v1/me/deposit-codes", None),
        ("PUT", "/v1/me/steps", {"days": [{"date": day, "steps": 9000}]}),
        ("PUT", "/v1/me/payout-account", ACCOUNT),
        ("GET", "/v1/me/notifications", None),
        ("PUT", "/v1/me/push-tokens", push),
    ):
        answer = api.call(method, path, as_user="c-1", body=body)
        assert (answer.status, answer.body["error"]["code"]) == (404, "account_closed"), path
    # AND the name is gone from every board, the score stays (invariant 4)
    for query in BOARDS:
        answer = api.call("GET", f"/v1/leaderboards/steps?{query}", as_user="viewer").body
        assert [(e["display_name"], e["steps"]) for e in answer["entries"]] == [
            (CLOSED_NAME, 8000)
        ], query
    # a replay of the step stream never brings the name back
    _boards(table_stream_event(streams.STEP_BOARDS))
    assert all(_names(api, q) == [CLOSED_NAME] for q in BOARDS)
    # AND the profile, the phone link and the payout account are gone; the ledger is kept
    row = _item("citizens", {"citizen_id": {"S": "c-1"}})
    assert row is not None
    assert row["display_name"]["S"] == "" and row["district"]["S"] == "naeoe-dong"
    assert "phone_hash" not in row and "payout_bucket" not in row and "closed_at" in row
    assert row["balance"]["N"] == "0"
    assert _item("payout-accounts", {"citizen_id": {"S": "c-1"}}) is None
    assert _item("push-tokens", {"token_key": {"S": token_key(push["token"])}}) is None
    step = _item("step-days", {"citizen_id": {"S": "c-1"}, "day": {"S": day}})
    assert step is not None and step["display_name"]["S"] == CLOSED_NAME
    entries = boto3.client("dynamodb", region_name=REGION).query(
        TableName="gimhae-dev-ledger",
        KeyConditionExpression="citizen_id = :c",
        ExpressionAttributeValues={":c": {"S": "c-1"}},
        ConsistentRead=True,
    )["Items"]
    assert sorted((e["kind"]["S"], int(e["points"]["N"])) for e in entries) == [
        ("forfeit", -3000), ("recycling", 3000)
    ]  # one forfeit, though the close was sent twice  # fmt: skip
    # AND support sees a closed account and its ledger
    card = api.call("GET", "/v1/admin/citizens/c-1", as_user="o", admin=True).body
    assert (card["status"], card["display_name"], card["phone_linked"]) == ("closed", "", False)
    assert card["payout_account"] is None
    kept = api.call("GET", "/v1/admin/citizens/c-1/ledger", as_user="o", admin=True).body
    assert [e["kind"] for e in kept["entries"]] == ["forfeit", "recycling"]
    # AND the city's stats count the forfeit apart (from the ledger's stream)
    handle_ledger_changes(ledger_stream_event(), LambdaContext("ledger-changes"))
    stats = api.call("GET", "/v1/admin/stats", as_user="o", admin=True).body
    assert (stats["points_issued"], stats["points_held"], stats["points_forfeited"]) == (
        3000, 0, 3000,
    )  # fmt: skip
    # AND the audit balances: issued == paid + held + pending + forfeited, as the stats say
    audit = _audit(api)
    assert audit["discrepancies"] == [] and audit["totals"]["balanced"] is True
    assert audit["totals"]["points_forfeited"] == 3000 and audit["totals"]["stats_match"] is True
    assert audit["totals"]["points_issued"] == 3000 and audit["totals"]["points_held"] == 0
    # AND a deposit by the former number credits nobody; a new account may link it
    assert _deposit_by_phone("after-close-1")["reason"] == "unknown_citizen"
    _register(api, "c-2", None)
    assert link_phone(api, "c-2", NUMBER)["phone_linked"] is True
    assert _deposit_by_phone("after-close-2")["status"] == "credited"


def test_a_pending_payout_refuses_the_close_and_my_payouts_show_every_run(api: Api) -> None:
    # GIVEN one citizen paid by a run (pending) and one skipped for want of an account
    _register(api, "p-1")
    _credit("p-1", 2500, "seed-p-1")
    _register(api, "p-2", None)
    _credit("p-2", 2200, "seed-p-2")
    assert _start(api).status == 201
    _drain(queues.PAYOUT_CHUNKS)
    mine = api.call("GET", "/v1/me/payouts", as_user="p-1").body
    seen = [(p["run_id"], p["period"], p["points"], p["status"], p["credited_back"])
            for p in mine["payouts"]]  # fmt: skip
    assert seen == [("payout-2026-11", "2026-11", 2500, "pending", False)]
    assert mine["skipped"] == []
    skipped = api.call("GET", "/v1/me/payouts", as_user="p-2").body
    assert skipped["payouts"] == []
    assert [(s["run_id"], s["reason"]) for s in skipped["skipped"]] == [
        ("payout-2026-11", "no_account")
    ]
    # WHEN p-1 closes while the transfer is pending: refused, whatever the forfeit
    pending = _close(api, "p-1", {"forfeit_points": True})
    assert pending.status == 409 and pending.body["error"]["code"] == "payout_pending"
    assert pending.body["error"]["details"] == [{"run_id": "payout-2026-11"}]
    # WHEN the transfer fails: the points come back, and my payouts say so
    _approve(api)
    settle = api.call(
        "POST", "/v1/admin/payout-runs/payout-2026-11/settle", as_user="o", admin=True,
        body={"failed": ["p-1"]},
    )  # fmt: skip
    assert settle.status == 200, settle.body
    failed = api.call("GET", "/v1/me/payouts", as_user="p-1").body["payouts"]
    assert [(p["status"], p["credited_back"]) for p in failed] == [("failed", True)]
    # THEN the close needs the forfeit again, and with it the audit balances
    assert _close(api, "p-1").body["error"]["code"] == "balance_remaining"
    assert _close(api, "p-1", {"forfeit_points": True}).body["points_forfeited"] == 2500


def test_closing_edges(api: Api) -> None:
    # a zero balance closes with or without the flag; no forfeit entry is written
    _register(api, "e-1", None)
    closed = _close(api, "e-1", {"forfeit_points": True})
    assert closed.status == 200 and closed.body["points_forfeited"] == 0
    # a staff token without a citizen record, or a stranger: nothing to close
    staff = api.call("DELETE", "/v1/me", as_user="ops", admin=True)
    assert staff.status == 404 and staff.body["error"]["code"] == "not_registered"
    assert _close(api, "nobody").body["error"]["code"] == "not_registered"
    # not JSON, or not an object
    bad = api.call("DELETE", "/v1/me", as_user="e-2", raw=b"[true]")
    assert bad.status == 400
    assert api.call("DELETE", "/v1/me").status == 401


def test_a_forfeit_replayed_or_cut_short_before_the_close_posts_once(api: Api) -> None:
    from datetime import UTC, datetime

    from chalicelib import wiring
    from chalicelib.adapters.dynamodb_ledger import account_of
    from chalicelib.adapters.dynamodb_models import Citizen
    from chalicelib.domain.closing import forfeit_guard
    from chalicelib.domain.ledger import AlreadyPosted, Posting

    _register(api, "f-1", None)
    _credit("f-1", 1500, "seed-f-1")
    # GIVEN a close that posted its forfeit and died before the tombstone, delivered twice
    account = account_of(Citizen.get("f-1", consistent_read=True))
    forfeit = Posting(
        forfeit_guard("f-1", account.version), account, -1500, "forfeit",
        {"reason": "account_closed"}, datetime.now(UTC),
    )  # fmt: skip
    wiring.ledger().post(forfeit)
    try:
        wiring.ledger().post(forfeit)
        raise AssertionError("a replayed forfeit was posted twice")
    except AlreadyPosted:
        pass
    # AND a deposit credited before the citizen tries again
    _credit("f-1", 300, "seed-f-1-late")
    # WHEN they close again: the new balance is refused, then forfeited on its own
    assert _close(api, "f-1").body["error"]["details"] == [{"balance": 300}]
    assert _close(api, "f-1", {"forfeit_points": True}).body["points_forfeited"] == 300
    kinds = [(e["kind"], e["points"]) for e in _ledger("f-1")]
    assert sorted(kinds) == [("forfeit", -1500), ("forfeit", -300), ("recycling", 300),
                             ("recycling", 1500)]  # fmt: skip
    audit = _audit(api)
    assert audit["totals"]["balanced"] is True and audit["totals"]["points_forfeited"] == 1800


def test_a_deposit_code_issued_before_the_close_credits_nobody(api: Api) -> None:
    _register(api, "d-1", None)
    code = api.call("POST", "/v1/me/deposit-codes", as_user="d-1").body["code"]
    assert _close(api, "d-1").status == 200
    message = rule_message("robot-001", deposit("after-close-code", code, can=3))
    invoke_deposits([sqs_record(message, "m-after-close-code")])
    ack = next(a for _, a in reversed(published_acks()) if a["event_id"] == "after-close-code")
    assert (ack["status"], ack["reason"]) == ("rejected", "unknown_citizen")
    assert [e["kind"] for e in _ledger("d-1")] == []


def _ledger(who: str) -> list[dict[str, Any]]:
    """The citizen's ledger as kept in the table (the routes answer 404 once closed)."""
    items = boto3.client("dynamodb", region_name=REGION).query(
        TableName="gimhae-dev-ledger",
        KeyConditionExpression="citizen_id = :c",
        ExpressionAttributeValues={":c": {"S": who}},
        ConsistentRead=True,
    )["Items"]
    return [{"kind": i["kind"]["S"], "points": int(i["points"]["N"])} for i in items]


def test_what_a_close_and_my_payouts_cost(api: Api) -> None:
    """The requests docs/account-closing.md reports: a close with a forfeit of a walker with a
    phone, a payout account and one step day; my payouts; a closed token's refusal."""
    from bench.dynamodb_costs import metering

    _register(api, "m-1")
    link_phone(api, "m-1", NUMBER)
    day = seoul_day(utc_now()).isoformat()
    body = {"days": [{"date": day, "steps": 5000}]}
    assert api.call("PUT", "/v1/me/steps", as_user="m-1", body=body).status == 200
    _boards(table_stream_event(streams.STEP_BOARDS))
    _credit("m-1", 900, "seed-m-1")
    with metering() as meter:
        assert api.call("GET", "/v1/me/payouts", as_user="m-1").status == 200
    assert meter.tally.calls == {"dynamodb:GetItem": 1, "dynamodb:Query": 2}
    with metering() as meter:
        assert _close(api, "m-1", {"forfeit_points": True}).status == 200
    assert meter.tally.calls == {
        "dynamodb:GetItem": 2,  # the citizen, read before and after the forfeit
        # pending payouts (items' index) x2, the step days, the push tokens, the inbox
        "dynamodb:Query": 5,
        "dynamodb:TransactWriteItems": 2,  # the forfeit posting, the close
        "dynamodb:DeleteItem": 1,  # the payout account, once more
        "dynamodb:UpdateItem": 5,  # the step day's name, 4 boards' entries
    }
    with metering() as meter:
        assert api.call("GET", "/v1/me/ledger", as_user="m-1").status == 404
    assert meter.tally.calls == {"dynamodb:GetItem": 1}


_OPS = st.lists(
    st.one_of(
        st.tuples(st.just("credit"), st.integers(1, 900)),
        st.tuples(st.just("close"), st.booleans()),
        st.tuples(st.just("replay_forfeit"), st.just(0)),
    ),
    min_size=1,
    max_size=7,
)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=_OPS)
def test_any_interleaving_of_credits_closes_and_replayed_forfeits_keeps_the_books(
    api: Api, ops: list[tuple[str, Any]]
) -> None:
    """Credits as a deposit makes them (a closed account is no account), closes with or
    without a forfeit, and a forfeit posting delivered again at any later point (a replay
    reordered after other postings): the balance is the ledger's sum and never negative, each
    forfeit is posted once, nothing is credited after the close, and the points issued are
    held or forfeited."""
    import uuid
    from datetime import UTC, datetime

    from chalicelib import wiring
    from chalicelib.adapters.dynamodb_ledger import account_of
    from chalicelib.adapters.dynamodb_models import Citizen
    from chalicelib.domain.closing import forfeit_guard
    from chalicelib.domain.ledger import AlreadyPosted, Posting
    from chalicelib.errors import DomainError, RetryableConflict

    who = f"h-{uuid.uuid4().hex[:10]}"
    wiring.citizens().register(who, ProfileUpdate(who, "naeoe-dong"))
    issued = forfeited = 0
    closed = False
    replayable: list[Posting] = []
    for n, (op, arg) in enumerate(ops):
        if op == "credit":
            account, _ = wiring.ledger().account_and_day(who, "2026-12-08")
            if account is None:
                assert closed
                continue
            wiring.ledger().post(
                Posting(f"{who}-c{n}", account, arg, "recycling", {}, datetime.now(UTC))
            )
            issued += arg
        elif op == "close":
            balance = int(Citizen.get(who, consistent_read=True).balance)
            try:
                done = wiring.closing().close(who, forfeit_points=arg)
            except DomainError as e:
                expected = "account_closed" if closed else "balance_remaining"
                assert e.code == expected and (closed or (balance > 0 and not arg))
                continue
            closed = True
            assert done.points_forfeited == balance
            forfeited += balance
        else:  # the forfeit a close would post now, delivered once more later
            account = account_of(Citizen.get(who, consistent_read=True))
            if account.balance > 0 and not closed:
                replayable.append(
                    Posting(
                        forfeit_guard(who, account.version), account, -account.balance,
                        "forfeit", {"reason": "account_closed"}, datetime.now(UTC),
                    )
                )  # fmt: skip
            for posting in replayable[:-1]:  # the older ones: stale or already posted
                try:
                    wiring.ledger().post(posting)
                    raise AssertionError("a stale or replayed forfeit was posted")
                except (AlreadyPosted, RetryableConflict):
                    pass
            if replayable and not closed:
                try:
                    wiring.ledger().post(replayable[-1])
                    forfeited += -replayable[-1].points
                except (AlreadyPosted, RetryableConflict):
                    pass
    row = Citizen.get(who, consistent_read=True)
    entries = _ledger(who)
    assert int(row.balance) == sum(e["points"] for e in entries) >= 0
    assert -sum(e["points"] for e in entries if e["kind"] == "forfeit") == forfeited
    assert issued == int(row.balance) + forfeited
    assert (row.closed_at is not None) == closed
    if closed:
        assert int(row.balance) == 0


def test_writes_that_passed_the_check_just_before_the_close_change_nothing_after_it(
    api: Api,
) -> None:
    """A request that passed the closed-account check a moment before the close commits
    reaches its service after it: the service must refuse, not write back what was erased
    (called here as such a request would, past the route's check)."""
    from chalicelib import wiring
    from tests.functional.conftest import sms_code

    # GIVEN a citizen with a code on its way to a phone, and a correction proposed for them
    _register(api, "c-race")
    number = "010-2468-1357"
    sent = api.call("POST", "/v1/me/phone", as_user="c-race", body={"phone": number})
    assert sent.status == 202, sent.body
    proposed = api.call(
        "POST", "/v1/admin/citizens/c-race/corrections", as_user="support-1",
        roles=("support",), body={"points": 100, "reason": "robot jammed"},
    )  # fmt: skip
    assert proposed.status == 201, proposed.body
    # WHEN the account is closed
    assert _close(api, "c-race").status == 200
    # THEN the proof finishing late links nothing: robots still credit nobody by that number
    with_code = (sent.body["verification_id"], sms_code(number))
    answered = _service_answer(lambda: wiring.phones().verify("c-race", *with_code))
    assert answered == (404, "account_closed")
    row = _item("citizens", {"citizen_id": {"S": "c-race"}})
    assert row is not None and "phone_hash" not in row and row["display_name"]["S"] == ""
    held = api.call("GET", f"/v1/admin/citizens?phone={number}", as_user="s", roles=("support",))
    assert (held.status, held.body) == (200, {"citizens": []})  # a robot credits nobody
    # AND a profile saved late brings no name back (to the row or to any board)
    late = ProfileUpdate("Real Name", "naeoe-dong")
    assert _service_answer(lambda: wiring.citizens().register("c-race", late)) == (
        404, "account_closed",
    )  # fmt: skip
    assert _item("citizens", {"citizen_id": {"S": "c-race"}})["display_name"]["S"] == ""
    # AND the correction approved after the close posts nothing: it stays pending
    approved = api.call(
        "POST", f"/v1/admin/corrections/{proposed.body['correction_id']}/approve",
        as_user="fin-1", roles=("finance",),
    )  # fmt: skip
    assert approved.status == 409 and approved.body["error"]["code"] == "account_closed"
    assert [e["kind"] for e in _ledger("c-race")] == []


def _service_answer(call: Any) -> tuple[int, str]:
    from chalicelib.errors import DomainError

    try:
        call()
    except DomainError as e:
        return e.status, e.code
    raise AssertionError("the service wrote to a closed account")
