"""bench.control_room_costs keeps issue 22's cost claims true (bench/RESULTS.md section 5):
the module runs its whole scene on its own `mock_aws` (real routes behind the in-process
API Gateway, real handlers) and every operation is held to its DynamoDB calls. Nothing
scans; every list route is one Query; a citizen look-up is at most 2 reads; an alert
transition keeps the requests of the path that raised it before alerts and adds one item;
every staff write carries its action-log entry in its own transaction.

A change that moves a figure here moves bench/RESULTS.md: run
`python -m bench.control_room_costs --write` and commit the section with it."""

from __future__ import annotations

from typing import Any

import pytest

from bench import control_room_costs

# The scene runs ~8 s: the slow tier (tests/conftest.py); the helpers' own tests hold the same
# counts in the fast tier, each on its part.
pytestmark = pytest.mark.slow

# Every operation's DynamoDB calls, as bench/RESULTS.md section 5 shows them.
EXPECTED = {
    "shelter telemetry, steady (no transition)": {"UpdateItem": 2},
    "shelter telemetry raising an air alert": {"TransactWriteItems": 1, "UpdateItem": 3},
    "shelter telemetry escalating it (bad to very bad)": {"TransactWriteItems": 1, "UpdateItem": 3},
    "shelter telemetry, steady during the alert": {"UpdateItem": 2},
    "alert list (GET /v1/admin/alerts: active)": {"Query": 1},
    "alert list, every status, filtered (?status=all&acknowledged=false&kind=air)": {"Query": 1},
    "alert detail": {"GetItem": 1},
    "alert acknowledge": {"GetItem": 1, "TransactWriteItems": 1},
    "alert acknowledge repeated (nothing changes)": {"GetItem": 1},
    "alert assign": {"GetItem": 1, "TransactWriteItems": 1},
    "alert comment": {"GetItem": 1, "TransactWriteItems": 1},
    "shelter telemetry clearing the air alert (11th calm minute)": {
        "TransactWriteItems": 1, "UpdateItem": 3},
    "robot status, steady (no transition)": {"UpdateItem": 1},
    "robot status raising a fault alert": {"TransactWriteItems": 1, "UpdateItem": 2},
    "alert clear by hand (fault, after a site visit)": {"GetItem": 1, "TransactWriteItems": 1},
    "purifier override (PUT .../purifier)": {"TransactWriteItems": 1, "UpdateItem": 1},
    "staff shelter view (GET /v1/admin/shelters/{id})": {"GetItem": 1},
    "purifier override ended (DELETE .../purifier)": {
        "GetItem": 1, "TransactWriteItems": 1, "UpdateItem": 1},
    "quarantine list (GET /v1/admin/quarantine?source=deposits)": {"Query": 1},
    "quarantine reprocess (credited)": {
        "BatchGetItem": 1, "GetItem": 1, "TransactWriteItems": 2, "UpdateItem": 1},
    "quarantine discard": {"GetItem": 1, "TransactWriteItems": 1},
    "dead-letter redrive (1 message; SQS calls too)": {"PutItem": 1},
    "citizen look-up by phone (GET /v1/admin/citizens?phone=)": {"BatchGetItem": 1, "GetItem": 1},
    "citizen look-up by id (?citizen_id=)": {"BatchGetItem": 1},
    "citizen card (GET /v1/admin/citizens/{id})": {"BatchGetItem": 1},
    "citizen ledger (GET /v1/admin/citizens/{id}/ledger)": {"Query": 1},
    "correction propose": {"TransactWriteItems": 1},
    "correction queue (GET /v1/admin/corrections: pending)": {"Query": 1},
    "correction approve (a ledger posting)": {"GetItem": 2, "TransactWriteItems": 1},
    "correction reject": {"GetItem": 1, "TransactWriteItems": 1},
    "payout run start (POST /v1/admin/payout-runs)": {"TransactWriteItems": 1},
    "payout-run list (GET /v1/admin/payout-runs)": {"Query": 1},
    "payout-run skipped list (?reason=no_account)": {"GetItem": 1, "Query": 1},
    "payout-run approve (second person)": {"GetItem": 2, "TransactWriteItems": 1},
    "payout-run export (CSV, first)": {"GetItem": 1, "Query": 1, "TransactWriteItems": 1},
    "payout-run export (CSV, again)": {"GetItem": 1, "TransactWriteItems": 1},
    "payout-run settle (1 paid)": {"BatchGetItem": 1, "GetItem": 3, "TransactWriteItems": 1},
    "recycling report (JSON, GET /v1/admin/reports/recycling?month=)": {"Query": 10},
    "staff action list (GET /v1/admin/actions)": {"Query": 1},
    "staff action list by actor (?actor=ops-kim)": {"Query": 1},
    "staff action list by target (?target=alert:...)": {"Query": 1},
}  # fmt: skip
LISTS = [label for label, calls in EXPECTED.items() if calls == {"Query": 1}]
STAFF_WRITES = [
    "alert acknowledge", "alert assign", "alert comment",
    "alert clear by hand (fault, after a site visit)", "purifier override (PUT .../purifier)",
    "purifier override ended (DELETE .../purifier)", "quarantine discard",
    "correction propose", "correction approve (a ledger posting)", "correction reject",
    "payout run start (POST /v1/admin/payout-runs)", "payout-run approve (second person)",
    "payout-run export (CSV, first)", "payout-run settle (1 paid)",
]  # fmt: skip


@pytest.fixture(scope="module")
def measured() -> dict[str, Any]:
    return control_room_costs.costs()


def dynamodb_calls(cost: dict[str, Any]) -> dict[str, int]:
    return {
        op.split(":", 1)[1]: n
        for op, n in cost["by_operation"].items()
        if op.startswith("dynamodb:")
    }


def test_every_operation_makes_exactly_its_calls(measured: dict[str, Any]) -> None:
    assert {label: dynamodb_calls(cost) for label, cost in measured.items()} == EXPECTED


def test_nothing_scans(measured: dict[str, Any]) -> None:
    for label, cost in measured.items():
        assert not any(op.endswith(":Scan") for op in cost["by_operation"]), label


def test_the_lists_are_one_query_each(measured: dict[str, Any]) -> None:
    for label in (
        "alert list (GET /v1/admin/alerts: active)",
        "staff action list (GET /v1/admin/actions)",
        "staff action list by actor (?actor=ops-kim)",
        "correction queue (GET /v1/admin/corrections: pending)",
        "payout-run list (GET /v1/admin/payout-runs)",
    ):
        assert label in LISTS
        assert dynamodb_calls(measured[label]) == {"Query": 1}, label
        assert measured[label]["wru"] == 0


def test_the_filtered_lists_query_their_index(measured: dict[str, Any]) -> None:
    assert measured["alert list (GET /v1/admin/alerts: active)"]["queried"] == {
        "alerts/by-status": 1}  # fmt: skip
    assert measured["correction queue (GET /v1/admin/corrections: pending)"]["queried"] == {
        "corrections/by-status": 1}  # fmt: skip
    assert measured["staff action list by actor (?actor=ops-kim)"]["queried"] == {
        "staff-actions/by-actor": 1}  # fmt: skip


def test_a_citizen_look_up_is_at_most_two_reads(measured: dict[str, Any]) -> None:
    by_phone = measured["citizen look-up by phone (GET /v1/admin/citizens?phone=)"]
    assert by_phone["dynamodb_requests"] <= 2 and by_phone["wru"] == 0
    assert measured["citizen look-up by id (?citizen_id=)"]["dynamodb_requests"] == 1


def test_an_alert_transition_adds_one_item_and_no_request(measured: dict[str, Any]) -> None:
    before = control_room_costs.BEFORE_ALERTS
    for label in (
        "shelter telemetry raising an air alert",
        "shelter telemetry clearing the air alert (11th calm minute)",
        "robot status raising a fault alert",
    ):
        now = measured[label]
        assert now["dynamodb_requests"] == before[label]["dynamodb_requests"], label
        assert now["items_written"] == before[label]["items_written"] + 1, label
    # The escalation raised nothing before; it is a transition like the others now (its
    # SNS notice and the outbox's delivered mark): the cost of raising.
    escalated = measured["shelter telemetry escalating it (bad to very bad)"]
    raised = measured["shelter telemetry raising an air alert"]
    assert (escalated["dynamodb_requests"], escalated["items_written"]) == (
        raised["dynamodb_requests"], raised["items_written"])  # fmt: skip
    steady = measured["shelter telemetry, steady during the alert"]
    assert dynamodb_calls(steady) == dynamodb_calls(
        measured["shelter telemetry, steady (no transition)"]
    )


def test_every_staff_write_is_one_transaction_with_its_action(measured: dict[str, Any]) -> None:
    for label in STAFF_WRITES:
        calls = dynamodb_calls(measured[label])
        assert calls.get("TransactWriteItems", 0) >= 1, label
        assert "PutItem" not in calls, label  # no action appended outside the write
    # the redrive's write is SQS's: its action is the one DynamoDB write
    redrive = measured["dead-letter redrive (1 message; SQS calls too)"]
    assert dynamodb_calls(redrive) == {"PutItem": 1} and redrive["items_written"] == 1
    assert redrive["by_operation"]["sqs:StartMessageMoveTask"] == 1
