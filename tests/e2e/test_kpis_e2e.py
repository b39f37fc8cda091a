"""The live services' KPIs end to end: the `kpi_refresh` schedule fired through the local
stack's scheduler computes every KPI of today, and the public `GET /v1/kpis` shows them."""

from __future__ import annotations

from datetime import datetime

import pytest

from chalicelib.domain.kpis import KPI_IDS
from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e


def test_the_fired_schedule_computes_every_kpi_of_today(stack: Stack) -> None:
    from infra.local.scheduler import request_fire

    # WHEN the schedule fires now
    fired = request_fire(stack.state_dir, "kpi_refresh", timeout=60)
    assert fired["ok"], fired
    assert fired["result"]["kpis"] == len(KPI_IDS) * len(fired["result"]["periods"])
    # THEN today's KPIs are public, every one with when it was computed
    status, body = stack.http("GET", "/v1/kpis?period=day")
    assert status == 200, body
    assert [k["kpi_id"] for k in body["kpis"]] == list(KPI_IDS)
    day = body["date"]
    assert f"day#{day}" in fired["result"]["periods"]
    for kpi in body["kpis"]:
        assert datetime.fromisoformat(kpi["computed_at"]).tzinfo is not None
        assert kpi["period"] == "day" and kpi["date"] == day
        assert isinstance(kpi["value"], int | float)
