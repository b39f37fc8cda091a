"""Every Lambda event the app receives has an example under tests/events/handlers/ (named for
its handler in app.py), and each one, delivered to the real handler on moto, gives the outcome
tests/events/README.md says. An example's clock times are moved to now where the handler
judges them against its receipt (a device message), and a token or job id that cannot be
written down ahead is filled in; everything else is delivered as written."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.events import load, names
from tests.functional.conftest import Api, published_acks, register

CITIZEN = "citizen-events-1"
PHONE = "010-1234-5678"


def _handlers() -> set[str]:
    from app import app

    return {source.name for source in app.event_sources} | {
        auth.name for auth in app.builtin_auth_handlers
    }


def test_every_handler_has_an_example_and_every_example_a_handler() -> None:
    assert set(names("handlers")) == _handlers()
    assert set(OUTCOMES) == _handlers()


def _invoke(handler: str, event: dict[str, Any]) -> Any:
    import app
    from infra.local.lambda_runtime import LambdaContext

    function = getattr(app, handler, None) or _authorizer(handler)
    return function(event, LambdaContext(handler))


def _authorizer(name: str) -> Callable[..., Any]:
    from chalicelib.api import authorizer

    found: Callable[..., Any] = getattr(authorizer, name)
    return found


def _now(event: dict[str, Any]) -> dict[str, Any]:
    """A device message's envelope stamped as received now, its own times now too."""
    event = copy.deepcopy(event)
    now = datetime.now(UTC)
    for record in event["Records"]:
        body = json.loads(record["body"])
        payload = json.loads(base64.b64decode(body["payload"]))
        for key in ("occurred_at", "ts"):
            if key in payload:
                payload[key] = now.isoformat()
        body["payload"] = base64.b64encode(json.dumps(payload).encode()).decode()
        body["received_at"] = int(now.timestamp() * 1000)
        record["body"] = json.dumps(body)
    return event


def _deposits(api: Api) -> None:
    # GIVEN the citizen whose phone the robot's deposit names
    register(api, CITIZEN, phone=PHONE)
    # WHEN the deposits queue delivers the example
    assert _invoke("handle_deposits", _now(load("handlers/handle_deposits"))) == {
        "batchItemFailures": []
    }
    # THEN 3 cans and 2 PET bottles are credited (65 points) and the robot is told so
    ((topic, ack),) = published_acks()
    assert topic == "gimhae/robots/robot-001/deposits/ack"
    assert (ack["status"], ack["points"], ack["balance"]) == ("credited", 65, 65)
    assert api.call("GET", "/v1/me", as_user=CITIZEN).body["balance"] == 65


def _device_reports(api: Api) -> None:
    result = _invoke("handle_device_reports", _now(load("handlers/handle_device_reports")))
    assert result == {"batchItemFailures": []}
    shelter = api.call("GET", "/v1/shelters/shelter-001").body
    assert (shelter["air"]["pm10"], shelter["air"]["grade"]) == (42.0, "moderate")
    assert shelter["chargers"] == {"total": 4, "in_use": 1}
    robot = api.call("GET", "/v1/robots/robot-001").body
    assert robot["bins"] == {"can": 0.42, "pet": 0.5} and robot["accepting"] is True


def _rule_errors(api: Api) -> None:
    assert _invoke("handle_rule_errors", load("handlers/handle_rule_errors")) == {
        "batchItemFailures": []
    }
    kept = api.call(
        "GET", "/v1/admin/quarantine?source=rule-errors", as_user="ops", admin=True
    ).body
    ((entry,),) = [kept["items"]]
    assert (entry["reason"], entry["device_id"]) == ("rule_action_failed", "robot-001")


def _payout_chunks(api: Api) -> None:
    # GIVEN November's run, started by an admin (its chunks wait in the queue)
    started = api.call(
        "POST", "/v1/admin/payout-runs", as_user="ops", admin=True, body={"period": "2026-11"}
    )
    assert started.status == 201
    # WHEN the example, its first bucket's first page, is delivered
    assert _invoke("handle_payout_chunks", load("handlers/handle_payout_chunks")) == {
        "batchItemFailures": []
    }
    # THEN that chunk is counted
    run = api.call("GET", "/v1/admin/payout-runs/payout-2026-11", as_user="ops", admin=True)
    assert run.body["chunks"]["done"] == 1


def _audit_chunks(api: Api) -> None:
    started = api.call("POST", "/v1/admin/audit", as_user="ops", admin=True).body
    event = load("handlers/handle_audit_chunks")
    body = json.loads(event["Records"][0]["body"])
    event["Records"][0]["body"] = json.dumps({**body, "job_id": started["audit_id"]})
    assert _invoke("handle_audit_chunks", event) == {"batchItemFailures": []}
    audit = api.call("GET", "/v1/admin/audit", as_user="ops", admin=True).body
    assert (audit["audit_id"], audit["chunks"]["done"]) == (started["audit_id"], 1)


def _ledger_changes(api: Api) -> None:
    event = load("handlers/handle_ledger_changes")
    assert _invoke("handle_ledger_changes", event) == {"batchItemFailures": []}
    stats = api.call("GET", "/v1/admin/stats", as_user="ops", admin=True).body
    assert (stats["points_issued"], stats["items_recycled"]) == (50, 4)


def _step_boards(api: Api) -> None:
    assert _invoke("handle_step_boards", load("handlers/handle_step_boards")) == {
        "batchItemFailures": []
    }
    board = api.call("GET", "/v1/leaderboards/districts?period=day&date=2026-11-25").body
    assert {(e["district"], e["steps"]) for e in board["entries"]} >= {("naeoe-dong", 10342)}


def _no_challenge(handler: str) -> Callable[[Api], None]:
    def check(api: Api) -> None:
        # no challenge is open: the record changes nothing and fails nothing
        assert _invoke(handler, load(f"handlers/{handler}")) == {"batchItemFailures": []}
        assert api.call("GET", "/v1/challenges", as_user=CITIZEN).body["challenges"] == []

    return check


def _device_health(api: Api) -> None:
    figures = _invoke("device_health", load("handlers/device_health"))
    assert figures["marked_offline"] == [] and figures["overrides_ended"] == []
    assert figures["checked"] >= 0 and set(figures) >= {"offline", "redelivered"}


def _monthly_payout_run(api: Api) -> None:
    # the schedule fires at 03:00 on December 1st in Seoul: November is paid
    result = _invoke("monthly_payout_run", load("handlers/monthly_payout_run"))
    assert (result["run_id"], result["started"]) == ("payout-2026-11", True)


def _daily_ledger_audit(api: Api) -> None:
    result = _invoke("daily_ledger_audit", load("handlers/daily_ledger_audit"))
    assert result["status"] == "running"
    latest = api.call("GET", "/v1/admin/audit", as_user="ops", admin=True).body
    assert latest["audit_id"] == result["audit_id"]


def _monthly_recycling_report(api: Api) -> None:
    result = _invoke("monthly_recycling_report", load("handlers/monthly_recycling_report"))
    assert (result["month"], result["citizens"]) == ("2026-11", 0)


def _kpi_refresh(api: Api) -> None:
    # 00:00 on December 1st in Seoul: November's last day, week and month are final too
    result = _invoke("kpi_refresh", load("handlers/kpi_refresh"))
    assert result["periods"] == [
        "day#2026-11-30",
        "week#2026-W49",
        "month#2026-11",
        "day#2026-12-01",
        "month#2026-12",
    ]
    november = api.call("GET", "/v1/kpis?period=month&date=2026-11-30").body
    assert len(november["kpis"]) == result["kpis"] // 5 and november["date"] == "2026-11-01"


def _jwt_auth(api: Api) -> None:
    event = load("handlers/jwt_auth")
    event["authorizationToken"] = f"Bearer {api.token(CITIZEN)}"
    policy = _invoke("jwt_auth", event)
    assert policy["principalId"] == CITIZEN
    assert policy["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    # AND the example as written (no real token in it) is refused
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        _invoke("jwt_auth", load("handlers/jwt_auth"))


def _told(kind: str) -> Callable[[Api], None]:
    def check(api: Api) -> None:
        # the cause's record, delivered twice, tells the citizen once
        handler = {
            "payout_paid": "handle_payout_notices",
            "payout_skipped": "handle_skip_notices",
            "challenge_finished": "handle_finish_notices",
        }[kind]
        for _ in range(2):
            assert _invoke(handler, load(f"handlers/{handler}")) == {"batchItemFailures": []}
        inbox = api.call("GET", "/v1/me/notifications", as_user=CITIZEN).body
        assert [n["kind"] for n in inbox["notifications"]] == [kind] and inbox["unread"] == 1

    return check


def _pushes(api: Api) -> None:
    # with a phone registered, the notification's INSERT is published to its endpoint
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sns.models import sns_backends

    token = "e" * 64
    body = {"platform": "apns", "token": token}
    assert api.call("PUT", "/v1/me/push-tokens", as_user=CITIZEN, body=body).status == 200
    assert _invoke("handle_pushes", load("handlers/handle_pushes")) == {"batchItemFailures": []}
    endpoints = sns_backends[DEFAULT_ACCOUNT_ID]["ap-northeast-2"].platform_endpoints.values()
    (endpoint,) = [e for e in endpoints if e.token == token]
    (message,) = endpoint.messages.values()
    assert "지급 계좌" in json.loads(json.loads(message)["APNS"])["aps"]["alert"]["body"]


OUTCOMES: dict[str, Callable[[Api], None]] = {
    "handle_deposits": _deposits,
    "handle_device_reports": _device_reports,
    "handle_rule_errors": _rule_errors,
    "handle_payout_chunks": _payout_chunks,
    "handle_audit_chunks": _audit_chunks,
    "handle_ledger_changes": _ledger_changes,
    "handle_step_boards": _step_boards,
    "handle_step_challenges": _no_challenge("handle_step_challenges"),
    "handle_ledger_challenges": _no_challenge("handle_ledger_challenges"),
    "handle_payout_notices": _told("payout_paid"),
    "handle_skip_notices": _told("payout_skipped"),
    "handle_finish_notices": _told("challenge_finished"),
    "handle_pushes": _pushes,
    "device_health": _device_health,
    "monthly_payout_run": _monthly_payout_run,
    "daily_ledger_audit": _daily_ledger_audit,
    "monthly_recycling_report": _monthly_recycling_report,
    "kpi_refresh": _kpi_refresh,
    "jwt_auth": _jwt_auth,
}


@pytest.mark.parametrize("handler", sorted(OUTCOMES))
def test_each_example_gives_its_documented_outcome(api: Api, handler: str) -> None:
    OUTCOMES[handler](api)
