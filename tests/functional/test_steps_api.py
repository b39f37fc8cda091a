"""The step sync through the API (DESIGN §4 `PUT /v1/me/steps`) on DynamoDB: stored values
answered, counts that only go up, bad days refused whole, and what a sync costs."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from bench.dynamodb_costs import metering
from chalicelib import wiring
from chalicelib.domain.clock import seoul_day, utc_now
from chalicelib.domain.steps import week_days
from tests.functional.conftest import Api


def _register(api: Api, who: str = "walker-1") -> None:
    body = {"display_name": "걷는사람", "district": "naeoe-dong"}
    assert api.call("PUT", "/v1/me", as_user=who, body=body).status == 200


def _sync(api: Api, days: list[dict[str, Any]], who: str = "walker-1") -> Any:
    return api.call("PUT", "/v1/me/steps", as_user=who, body={"days": days})


def _day(offset: int) -> str:
    return (seoul_day(utc_now()) - timedelta(days=offset)).isoformat()


def test_a_sync_answers_the_stored_days_and_the_profile_shows_today_and_week(api: Api) -> None:
    _register(api)
    response = _sync(api, [{"date": _day(0), "steps": 5200}, {"date": _day(1), "steps": 7000}])
    assert response.status == 200
    assert response.body == {
        "days": [{"date": _day(1), "steps": 7000}, {"date": _day(0), "steps": 5200}]
    }
    me = api.call("GET", "/v1/me", as_user="walker-1").body
    monday, _ = week_days(seoul_day(utc_now()))
    yesterday_counts = seoul_day(utc_now()) - timedelta(days=1) >= monday
    assert me["today_steps"] == 5200
    assert me["week_steps"] == 5200 + (7000 if yesterday_counts else 0)


def test_a_lower_resend_changes_nothing_and_costs_one_request(api: Api) -> None:
    _register(api)
    _sync(api, [{"date": _day(0), "steps": 9000}])
    with metering() as meter:
        response = _sync(api, [{"date": _day(0), "steps": 8000}])
    assert response.body["days"] == [{"date": _day(0), "steps": 9000}]
    assert meter.tally.calls == {"dynamodb:BatchGetItem": 1}
    with metering() as meter:
        _sync(api, [{"date": _day(0), "steps": 9500}, {"date": _day(1), "steps": 1}])
    assert meter.tally.calls == {"dynamodb:BatchGetItem": 1, "dynamodb:UpdateItem": 2}
    assert api.call("GET", "/v1/me", as_user="walker-1").body["today_steps"] == 9500


def test_bad_days_are_a_422_naming_each_and_nothing_is_stored(api: Api) -> None:
    _register(api)
    response = _sync(
        api,
        [
            {"date": _day(0), "steps": 100},
            {"date": _day(-1), "steps": 100},
            {"date": _day(9), "steps": 100},
            {"date": _day(2), "steps": 100_001},
        ],
    )
    assert response.status == 422
    assert response.body["error"]["code"] == "invalid_days"
    assert {d["date"] for d in response.body["error"]["details"]} == {_day(-1), _day(9), _day(2)}
    assert api.call("GET", "/v1/me", as_user="walker-1").body["today_steps"] == 0


@pytest.mark.parametrize(
    "body",
    [
        {"days": [{"date": "2026-11-25", "steps": "100"}]},
        {"days": [{"date": "2026-11-25", "steps": 100.0}]},
        {"days": [{"date": "2026-11-25", "steps": True}]},
        {"days": [{"date": 20261125, "steps": 100}]},
        {"days": [{"date": "2026-11-25"}]},
        {"days": [{"date": "2026-11-25", "steps": 1, "extra": 1}]},
        {"days": {"2026-11-25": 100}},
        {"steps": 100},
    ],
)
def test_loosely_typed_or_misshapen_bodies_are_400(api: Api, body: Any) -> None:
    _register(api)
    response = api.call("PUT", "/v1/me/steps", as_user="walker-1", body=body)
    assert response.status == 400
    assert set(response.body["error"]) == {"code", "message", "details"}


def test_odd_values_are_refused_without_a_5xx(api: Api) -> None:
    _register(api)
    for days in (
        [{"date": _day(0), "steps": 10**40}],
        [{"date": _day(0), "steps": -(10**40)}],
        [{"date": "٢٠٢٦-١١-٢٥", "steps": 1}],
        [{"date": "2026-11-25\u202e", "steps": 1}],
        [{"date": _day(0), "steps": 1}] * 9,
        [{"date": _day(0), "steps": 1}] * 200,
        [],
    ):
        response = _sync(api, days)
        assert 400 <= response.status < 500, (days[:1], response.body)
    assert _sync(api, [{"date": _day(0), "steps": 1}], who="stranger").status == 404
    assert api.call("PUT", "/v1/me/steps", body={"days": []}).status == 401


def test_each_sync_is_counted_for_the_operators_dashboard(
    api: Api, monkeypatch: Any, capsys: Any
) -> None:
    _register(api)
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    capsys.readouterr()
    _sync(api, [{"date": _day(0), "steps": 5200}])
    _sync(api, [{"date": _day(0), "steps": 6100}])
    documents = [
        json.loads(line)
        for line in capsys.readouterr().out.splitlines()
        if line.startswith('{"_aws"')
    ]
    assert [d[wiring.STEP_SYNCS] for d in documents if wiring.STEP_SYNCS in d] == [[1.0], [1.0]]
