"""The live services' KPIs through the real handlers on moto: the city totals seeded by the
ledger's counting, step days through the step boards' handler, shelter telemetry through
the device reports' handler (replayed and reordered), the `kpi_refresh` schedule's handler,
and `GET /v1/kpis` answering every KPI in one Query."""

from __future__ import annotations

import base64
import copy
import json
from datetime import UTC, datetime, time, timedelta
from typing import Any

from chalicelib import streams
from chalicelib.domain.clock import SEOUL, seoul_day
from chalicelib.domain.kpis import KPI_IDS, co2_factors
from tests.functional.conftest import REGION, Api, sqs_record, table_stream_event
from tests.functional.test_leaderboards import _invoke as invoke_step_boards
from tests.functional.test_leaderboards import _sync
from tests.functional.test_table_access import _declared, touched, touched_calls


def _moment() -> datetime:
    """A moment at least ten minutes into its Seoul day and in the past, with a few minutes
    after it in the same day, so every seeded figure falls on one day."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    at = now - timedelta(minutes=10)
    start = datetime.combine(seoul_day(at), time(0), tzinfo=SEOUL)
    if at - start < timedelta(minutes=10):
        at = start - timedelta(hours=1)  # 23:00 the day before
    return at


def _report(device_id: str, channel: str, payload: dict[str, Any], at: datetime, n: int) -> Any:
    body = {
        "payload": base64.b64encode(json.dumps(payload).encode()).decode(),
        "device_id": device_id,
        "channel": channel,
        "received_at": int(at.timestamp() * 1000),
    }
    return sqs_record(body, f"{device_id}-{n}")


def _deliver_reports(records: list[Any]) -> None:
    from app import handle_device_reports
    from infra.local.lambda_runtime import LambdaContext

    result = handle_device_reports({"Records": records}, LambdaContext("reports"))
    assert result == {"batchItemFailures": []}


def _fire(at: datetime) -> dict[str, Any]:
    from app import kpi_refresh
    from infra.local.lambda_runtime import LambdaContext

    event = {
        "version": "0", "id": "k1", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": at.isoformat().replace("+00:00", "Z"),
        "region": REGION, "resources": [], "detail": {},
    }  # fmt: skip
    result: dict[str, Any] = kpi_refresh(event, LambdaContext("kpi-refresh"))
    return result


def _seed(at: datetime) -> dict[str, int]:
    """The day's activity; returns the charger sessions and good-air hours it holds."""
    from chalicelib import wiring
    from chalicelib.domain.ledger import LedgerEntry

    day = seoul_day(at)
    # recycling: three deposits' ledger entries, counted twice (a replayed stream)
    entries = [
        LedgerEntry(who, f"{n:012d}", "recycling", points, points, at, f"k{n}",
                    {"items": [{"material": "can", "accepted": can},
                               {"material": "pet", "accepted": pet}],
                     "items_credited": can + pet})
        for n, (who, can, pet, points) in enumerate(
            [("c-1", 3, 2, 65), ("c-2", 1, 0, 15), ("c-1", 0, 4, 40)]
        )
    ]  # fmt: skip
    for _ in range(2):
        wiring.operations().count_ledger_entries(entries)
    # walking: two walkers today, one synced zero steps, one walked the day before too
    _sync("c-1", day, 4000)
    _sync("c-2", day, 1500, "buwon-dong")
    _sync("c-3", day, 0)
    _sync("c-1", day - timedelta(days=1), 9000)
    event = table_stream_event(streams.STEP_BOARDS)
    for _ in range(2):
        assert invoke_step_boards(copy.deepcopy(event)) == {"batchItemFailures": []}
    # shelters: a minute's reading each for four minutes, chargers 0, 2, 1, 3 in use
    minutes = [at + timedelta(minutes=m) for m in range(4)]
    records = [
        _report("shelter-001", "shelter_telemetry",
                {"ts": t.isoformat(), "pm10": 20.0, "pm25": 10.0,
                 "chargers": {"total": 4, "in_use": used}}, t, n)
        for n, (t, used) in enumerate(zip(minutes, (0, 2, 1, 3), strict=True))
    ]  # fmt: skip
    records.append(
        _report("shelter-002", "shelter_telemetry",
                {"ts": at.isoformat(), "pm10": 45.0, "pm25": 20.0}, at, 9)
    )  # fmt: skip
    # delivered, then replayed in reverse order (late readings are still history)
    _deliver_reports(records)
    _deliver_reports(list(reversed(copy.deepcopy(records))))
    robot = {"ts": at.isoformat(), "online": True, "bins": {"can": 0.2, "pet": 0.1}}
    _deliver_reports([_report("robot-001", "robot_status", robot, at, 0)])
    return {
        "charger_sessions": 2 + 2,
        "shelter_good_air_hours": len({t.hour for t in minutes}) + 1,
    }


def test_the_schedule_computes_every_kpi_and_a_read_is_one_query(api: Api) -> None:
    # GIVEN a day's recycling, walking and shelters
    at = _moment()
    day = seoul_day(at)
    seeded = _seed(at)
    # WHEN the schedule fires (its handler, as EventBridge invokes it)
    with touched_calls() as calls, touched() as tables:
        result = _fire(at + timedelta(minutes=5))
    # THEN it read counters and aggregates only, and wrote each period once
    assert tables <= _declared("kpi_refresh")
    periods = result["periods"]
    assert f"day#{day.isoformat()}" in periods
    # (the totals' rows, the boards' nodes, the earlier days' stored shelter KPIs; the
    # fleet's two lists; the air hours of each of the two shelters; a write per period)
    earlier_days = day.day > 1 or day.weekday() > 0  # a week and a month are computed
    assert calls == {
        "BatchGetItem": 2 + earlier_days,
        "Query": 2 + 2,
        "BatchWriteItem": len(periods),
    }
    assert result["kpis"] == len(KPI_IDS) * len(periods)
    # WHEN the day's KPIs are read: one Query
    with touched_calls() as reads:
        response = api.call("GET", f"/v1/kpis?period=day&date={day.isoformat()}")
    assert reads == {"Query": 1}
    assert response.status == 200, response.body
    body = response.body
    assert (body["period"], body["date"]) == ("day", day.isoformat())
    # THEN every KPI is there, computed from what the day held
    kpis = {k["kpi_id"]: k for k in body["kpis"]}
    assert list(kpis) == list(KPI_IDS)
    values = {k: v["value"] for k, v in kpis.items()}
    factors = co2_factors().kg_per_item
    assert values == {
        "items_recycled": 10,
        "items_recycled_can": 4,
        "items_recycled_pet": 6,
        "co2_avoided_kg": round(4 * factors["can"] + 6 * factors["pet"], 3),
        "points_issued": 120,
        "robot_availability": 50.0,
        "active_walkers": 2,
        "steps": 5500,
        "steps_per_active_walker": 2750,
        "shelter_good_air_hours": seeded["shelter_good_air_hours"],
        "charger_sessions": seeded["charger_sessions"],
        "shelter_availability": 100.0,
    }
    co2 = kpis["co2_avoided_kg"]
    assert co2["unit"] == "kg CO2e" and "WARM" in co2["formula"]
    assert all(k["period"] == "day" and k["date"] == day.isoformat() for k in kpis.values())
    assert all(k["computed_at"] for k in kpis.values())
    # AND the week and the month count the walker of the day before once
    yesterday = day - timedelta(days=1)
    for period, first in (("week", day - timedelta(days=day.weekday())),
                          ("month", day.replace(day=1))):  # fmt: skip
        got = api.call("GET", f"/v1/kpis?period={period}&date={day.isoformat()}").body
        assert got["date"] == first.isoformat()
        walked = {k["kpi_id"]: k["value"] for k in got["kpis"]}
        with_yesterday = yesterday >= first
        assert walked["steps"] == 5500 + (9000 if with_yesterday else 0)
        assert walked["active_walkers"] == 2
        assert walked["items_recycled"] == 10
        assert walked["charger_sessions"] == seeded["charger_sessions"]
    # AND every live service has figures (the registry's omission check reads this)
    assert _measured() == {"recycling", "walking", "shelters"}
    # AND a second run leaves the same figures (items replaced, not added to)
    _fire(at + timedelta(minutes=5))
    again = api.call("GET", f"/v1/kpis?period=day&date={day.isoformat()}").body
    assert {k["kpi_id"]: k["value"] for k in again["kpis"]} == values


def _measured() -> frozenset[str]:
    from chalicelib import wiring

    return wiring.service_figures().measured_services()


def test_kpi_queries_out_of_range_are_4xx_in_the_error_shape(api: Api) -> None:
    # before any run, no service has figures
    assert _measured() == frozenset()
    # a period never computed answers an empty list
    empty = api.call("GET", "/v1/kpis?period=month&date=2026-01-15")
    assert empty.status == 200 and empty.body["kpis"] == []
    for query, status, code in (
        ("period=year", 400, "invalid_query"),
        ("period=Day", 400, "invalid_query"),
        ("date=2026-02-30", 400, "invalid_query"),
        ("date=yesterday", 400, "invalid_query"),
        ("date=2026-12-01&date=2026-12-02", 400, "invalid_query"),
        ("date=2999-01-01", 422, "future_date"),
    ):
        response = api.call("GET", f"/v1/kpis?{query}")
        assert response.status == status, (query, response.body)
        assert response.body["error"]["code"] == code
