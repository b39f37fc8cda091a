"""The live services' KPIs (DESIGN §4d): public, like the project registry (city
transparency: city-wide figures, no citizen's data). Computed by the `kpi_refresh` schedule
(chalicelib/events/kpis.py); a read is one Query."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib import wiring
from chalicelib.api.http import answers, api_view, query_enum, query_str
from chalicelib.domain.clock import iso
from chalicelib.errors import BadRequest, Unprocessable

bp = Blueprint(__name__)


@bp.route("/v1/kpis", methods=["GET"])
@api_view
@answers("kpi_schemas:KpiList")
def list_kpis() -> dict[str, Any]:
    """The live services' KPIs for one Seoul day, ISO week or month (the one holding `date`,
    today by default), as last computed (every 15 minutes; none yet: an empty list).

    One Query. A malformed date is a 400; a date after today in Seoul a 422."""
    from chalicelib.domain import kpis

    request = bp.current_request
    kind = query_enum(request, "period", kpis.PERIOD_KINDS, default="day")
    raw_date = query_str(request, "date", max_length=10)
    try:
        period, found = wiring.kpis().read(kind, raw_date)
    except kpis.InvalidPeriod as e:
        details = [{"field": e.field, "problem": str(e)}]
        if e.future:
            raise Unprocessable(str(e), code="future_date", details=details) from e
        raise BadRequest(str(e), code="invalid_query", details=details) from e
    return {
        "period": period.kind,
        "date": period.first.isoformat(),
        "kpis": [
            {
                "kpi_id": k.kpi_id,
                "service": k.service,
                "name": k.name,
                "name_en": k.name_en,
                "unit": k.unit,
                "value": k.value,
                "period": k.period,
                "date": k.date.isoformat(),
                "formula": k.formula,
                "computed_at": iso(k.computed_at),
            }
            for k in found
        ],
    }
