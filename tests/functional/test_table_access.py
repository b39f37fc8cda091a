"""Each function touches only the tables chalicelib/table_access.py declares for it (the
CDK grants exactly those): record what the real code touches on moto while it works."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import botocore.client

from chalicelib.adapters.dynamodb_models import ALL_MODELS
from chalicelib.table_access import TABLES_BY_FUNCTION
from tests.functional.conftest import (
    Api,
    deposit,
    invoke_deposits,
    link_phone,
    register,
    rule_message,
    sqs_record,
)

MODEL_BY_TABLE = {model.Meta.table_name: model.__name__ for model in ALL_MODELS}


def _tables_in(params: dict[str, Any]) -> set[str]:
    names = set()
    if "TableName" in params:
        names.add(params["TableName"])
    names.update(params.get("RequestItems", {}))
    for item in params.get("TransactItems", []):
        for operation in item.values():
            names.add(operation["TableName"])
    return names


@contextlib.contextmanager
def touched() -> Iterator[set[str]]:
    found: set[str] = set()
    original = botocore.client.BaseClient._make_api_call

    def recording(self: Any, operation: str, params: dict[str, Any]) -> Any:
        if self.meta.service_model.service_name == "dynamodb":
            found.update(MODEL_BY_TABLE.get(t, t) for t in _tables_in(params))
        return original(self, operation, params)

    botocore.client.BaseClient._make_api_call = recording  # type: ignore[method-assign]
    try:
        yield found
    finally:
        botocore.client.BaseClient._make_api_call = original  # type: ignore[method-assign]


@contextlib.contextmanager
def dynamodb_requests() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Every DynamoDB request the code makes meanwhile: (operation, parameters)."""
    seen: list[tuple[str, dict[str, Any]]] = []
    original = botocore.client.BaseClient._make_api_call

    def recording(self: Any, operation: str, params: dict[str, Any]) -> Any:
        if self.meta.service_model.service_name == "dynamodb":
            seen.append((operation, params))
        return original(self, operation, params)

    botocore.client.BaseClient._make_api_call = recording  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        botocore.client.BaseClient._make_api_call = original  # type: ignore[method-assign]


@contextlib.contextmanager
def touched_calls() -> Iterator[dict[str, int]]:
    """How many DynamoDB requests of each operation the code makes meanwhile (filled when
    the block ends)."""
    counts: dict[str, int] = {}
    with dynamodb_requests() as seen:
        yield counts
    for operation, _ in seen:
        counts[operation] = counts.get(operation, 0) + 1


def approved_correction(api: Api, citizen_id: str) -> None:
    """A correction proposed by one staff member and approved by another."""
    fix = api.call(
        "POST",
        f"/v1/admin/citizens/{citizen_id}/corrections",
        as_user="ops",
        admin=True,
        body={"points": 5, "reason": "table access"},
    ).body
    api.call(
        "POST", f"/v1/admin/corrections/{fix['correction_id']}/approve", as_user="fin", admin=True
    )


def _declared(function: str) -> set[str]:
    return {model.__name__ for model in TABLES_BY_FUNCTION[function]}


def test_the_api_touches_only_its_declared_tables(api: Api) -> None:
    challenge = _challenge_body()
    from tests.functional.test_operator_actions import prepare_operator_routes
    from tests.functional.test_payouts_api import pay_one_for_touching, touch_payout_routes

    pay_one_for_touching(api)  # payouts: a run paid by its handler, not the API
    touch_operator_routes = prepare_operator_routes(api)  # a quarantined deposit, a dead letter
    with touched() as tables:
        register(api, "a", phone="010-2020-3030")
        register(api, "b", phone="010-2020-4040")
        link_phone(api, "a", "010-2020-4040")  # moved from b, who is told
        api.call("DELETE", "/v1/me/phone", as_user="b")
        api.call("GET", "/v1/me", as_user="a")
        api.call("POST", "/v1/me/deposit-codes", as_user="a")
        api.call("GET", "/v1/me/ledger", as_user="a")
        api.call("GET", "/v1/admin/quarantine", as_user="ops", admin=True)
        api.call("GET", "/v1/admin/dead-letters", as_user="ops", admin=True)
        api.call("GET", "/v1/admin/stats", as_user="ops", admin=True)
        api.call("GET", "/v1/admin/actions", as_user="ops", admin=True)
        # Citizen support: look-ups, the ledger, a correction proposed and approved.
        api.call("GET", "/v1/admin/citizens?phone=010-2020-4040", as_user="ops", admin=True)
        api.call("GET", "/v1/admin/citizens/a/ledger", as_user="ops", admin=True)
        approved_correction(api, "a")
        api.call("GET", "/v1/admin/corrections", as_user="ops", admin=True)
        # Operators' alerts: the list and one alert (its steps: tests/functional/test_alerts.py).
        api.call("GET", "/v1/admin/alerts?status=all", as_user="ops", roles=("operator",))
        api.call("GET", "/v1/admin/alerts/robot-001.fault.20261201T000000Z000000",
                 as_user="ops", roles=("operator",))  # fmt: skip
        # Walking: step leaderboards.
        api.call("GET", "/v1/leaderboards/steps", as_user="a")
        api.call("GET", "/v1/leaderboards/districts")
        # Challenges: create, list, join (reads the step days stored), detail, the draw.
        made = api.call(
            "POST", "/v1/admin/challenges", as_user="ops", admin=True, body=challenge
        ).body
        api.call("GET", "/v1/challenges", as_user="a")
        api.call("POST", f"/v1/challenges/{made['challenge_id']}/entries", as_user="a")
        api.call("GET", f"/v1/challenges/{made['challenge_id']}", as_user="a")
        api.call("GET", f"/v1/challenges/{made['challenge_id']}/draw")
        api.call("GET", "/v1/shelters")  # shelters and robots
        api.call("GET", "/v1/kpis?period=week")  # the live services' KPIs (public)
        api.call("GET", "/v1/shelters/shelter-001/air?hours=3")
        # operators: the purifier's override and its end, the staff view of a shelter
        purifier = "/v1/admin/shelters/shelter-001/purifier"
        api.call(
            "PUT", purifier, as_user="ops", roles=("operator",), body={"mode": "off", "minutes": 5}
        )
        api.call("GET", "/v1/admin/shelters/shelter-001", as_user="ops", roles=("operator",))
        api.call("DELETE", purifier, as_user="ops", roles=("operator",))
        touch_payout_routes(api)  # payouts: account, run, export, settlement, audit
        # the project registry: a registration and its reads (tests/functional/test_projects.py)
        from tests.functional.test_projects import touch_project_routes

        touch_project_routes(api)
        touch_operator_routes()  # reprocess (the deposit handler's tables), discard, redrive
        # the inbox and a phone for push (DESIGN §4c)
        api.call("GET", "/v1/me/notifications", as_user="b")
        api.call(
            "PUT", "/v1/me/push-tokens", as_user="a", body={"platform": "apns", "token": "ab" * 32}
        )
    # Exactly: nothing undeclared is touched, and nothing declared goes unused.
    assert tables == _declared("api_handler")


def _challenge_body() -> dict[str, Any]:
    """A challenge finished on joining (a stored step day reaches it): the join posts the
    prize, so the challenge routes touch the ledger's tables too."""
    from chalicelib.adapters.dynamodb_models import StepDay
    from chalicelib.domain.clock import seoul_day, utc_now

    now = utc_now()
    today = seoul_day(now).isoformat()
    StepDay(
        "a", today, steps=500, district="naeoe-dong", display_name="a", updated_at=now, expires=now
    ).save()
    return {
        "title": "Table access",
        "kind": "total_steps",
        "starts_on": today,
        "ends_on": today,
        "target": 100,
        "prize": {"type": "all_finishers", "points": 10},
    }


def test_the_deposit_handler_touches_only_its_declared_tables(api: Api) -> None:
    register(api, "b", phone="010-5050-6060")
    code = api.call("POST", "/v1/me/deposit-codes", as_user="b").body["code"]
    events = [
        ("robot-001", deposit("evt-acc-0001", code, can=1)),
        ("robot-001", deposit("evt-acc-0001", code, can=1)),
        ("robot-002", deposit("evt-acc-0002", phone="010-5050-6060", pet=1)),
        ("robot-002", deposit("evt-acc-0003", phone="010-0000-0000", pet=1)),
        ("robot-002", b"{not json"),
        ("robot-999", deposit("evt-acc-0004", phone="010-5050-6060", pet=1)),
    ]
    with touched() as tables:
        invoke_deposits(
            [sqs_record(rule_message(d, p), f"m{i}") for i, (d, p) in enumerate(events)]
        )
    assert tables == _declared("handle_deposits")


def test_the_rule_error_handler_touches_only_its_declared_tables(aws: Any) -> None:
    from app import handle_rule_errors
    from infra.local.lambda_runtime import LambdaContext

    error = {
        "ruleName": "robot_deposits",
        "topic": "gimhae/robots/robot-001/deposits",
        "clientId": "robot-001",
        "base64OriginalPayload": "e30=",
        "failures": [],
    }
    with touched() as tables:
        handle_rule_errors({"Records": [sqs_record(error, "e1")]}, LambdaContext("errors"))
    assert tables == _declared("handle_rule_errors")


def test_the_ledger_stream_handler_touches_only_its_declared_tables(api: Api) -> None:
    from tests.functional.conftest import invoke_ledger_changes, ledger_stream_event

    register(api, "c", phone="010-7070-8080")
    invoke_deposits(
        [
            sqs_record(
                rule_message("robot-001", deposit("evt-acc-0009", phone="010-7070-8080", can=1)),
                "m1",
            )
        ]
    )
    approved_correction(api, "c")  # a correction posted: its citizen is told (the inbox)
    with touched() as tables:
        invoke_ledger_changes(ledger_stream_event())
    assert tables == _declared("handle_ledger_changes")


def test_every_function_of_the_app_declares_its_tables() -> None:
    from app import app

    functions = {"api_handler"} | {source.name for source in app.event_sources}
    assert functions == set(TABLES_BY_FUNCTION)


def test_each_function_names_each_of_its_tables_once() -> None:
    """One declaration per function: a table named twice means the grants were patched."""
    for function, models in TABLES_BY_FUNCTION.items():
        names = [model.__name__ for model in models]
        assert len(names) == len(set(names)), function
