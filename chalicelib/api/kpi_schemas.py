"""The answer of `GET /v1/kpis` (DESIGN §4d), for the OpenAPI document."""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from chalicelib.api.common_schemas import Answer, Instant, KpiPeriod, LiveService


class Kpi(Answer):
    kpi_id: str = Field(description="stable id, e.g. `items_recycled`, `co2_avoided_kg`")
    service: LiveService
    name: str = Field(description="the KPI's Korean name")
    name_en: str = Field(description="the KPI's English name")
    unit: str = Field(description="e.g. `items`, `kg CO2e`, `citizens`, `hours`, `%`")
    value: float
    period: KpiPeriod
    date: dt.date = Field(description="the period's first Seoul day")
    formula: str = Field(description="how the value is computed, with its factors' source")
    computed_at: Instant


class KpiList(Answer):
    """A period's KPIs as the schedule last computed them."""

    period: KpiPeriod
    date: dt.date = Field(description="the period's first Seoul day (a week: its Monday)")
    kpis: list[Kpi]
