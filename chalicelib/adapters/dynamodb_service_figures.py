"""PROVISIONAL (issue 27, for the lead to swap at merge): which live services have figures,
for the registry's omission check (ports.ServiceFigures), until the KPI table's adapter
(the `kpis` branch) answers it from the KPIs themselves.

The rule here: a live service has figures once the backend holds any activity of it:
`recycling` when the city's all-time totals count an item recycled, `walking` when they
count a step synced (one BatchGetItem of the two totals rows), `shelters` when a shelter of
the city has reported its air (one Query of at most 5 items of the fleet's index)."""

from __future__ import annotations

from chalicelib.adapters.dynamodb_models import DeviceState
from chalicelib.adapters.dynamodb_totals import DynamoDbCityTotals
from chalicelib.domain import totals
from chalicelib.domain.clock import Clock


class ActivityServiceFigures:
    def __init__(self, city: str, clock: Clock) -> None:
        self._city = city
        self._totals = DynamoDbCityTotals(clock)

    def measured_services(self) -> frozenset[str]:
        measured: set[str] = set()
        all_time = self._totals.read((totals.ALL_TIME,)).get(totals.ALL_TIME)
        if all_time is not None and all_time.items_recycled > 0:
            measured.add("recycling")
        if all_time is not None and all_time.steps_synced > 0:
            measured.add("walking")
        shelters = DeviceState.by_group.query(f"{self._city}#shelter", limit=5)
        if any(state.air_at is not None for state in shelters):
            measured.add("shelters")
        return frozenset(measured)
