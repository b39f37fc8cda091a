"""Finance's reports (DESIGN §4b): the month's recycling totals by district and material,
and the per-citizen file the schedule writes on the 1st, both read from the citizens'
month rows (one paged Query per partition, nothing scans)."""

from __future__ import annotations

import re
from typing import Any

from chalice import Blueprint, Response

from chalicelib import wiring
from chalicelib.api.authorizer import jwt_auth
from chalicelib.api.http import answers, api_view, produces, query_str, require_role
from chalicelib.domain.clock import SEOUL, utc_now
from chalicelib.domain.districts import districts
from chalicelib.domain.roles import Power
from chalicelib.errors import BadRequest, NotFound, Unprocessable

bp = Blueprint(__name__)

_MONTH = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")
_FILE = re.compile(r"([0-9]{4}-[0-9]{2})\.csv")


@bp.route("/v1/admin/reports/recycling", methods=["GET"], authorizer=jwt_auth)
@api_view
@answers("staff_schemas:RecyclingTotals")
def get_recycling_totals() -> dict[str, Any]:
    """Read a month's recycling totals, city-wide and by district.

    `month=YYYY-MM` (Asia/Seoul): citizens who recycled and items by material, city-wide
    and by district (the citizen's district). A month not yet ended answers what is
    counted so far (`closed: false`).
    """
    request = bp.current_request
    require_role(request, Power.REPORTS)
    raw = query_str(request, "month", max_length=16)
    if raw is None:
        raise BadRequest("give month=YYYY-MM", code="invalid_query")
    month, closed = _month(raw)
    found = wiring.reports().recycling_totals(month)
    names = districts()
    return {
        "month": found.month,
        "closed": closed,
        "citizens": found.citizens,
        "items": found.items,
        "items_total": sum(found.items.values()),
        "districts": [
            {
                "district": d.district,
                "name": names[d.district].name if d.district in names else None,
                "citizens": d.citizens,
                "items": d.items,
                "items_total": d.total,
            }
            for d in found.districts
        ],
    }


@bp.route("/v1/admin/reports/recycling/{file}", methods=["GET"], authorizer=jwt_auth)
@api_view
@produces("text/csv; charset=utf-8")
def get_recycling_csv(file: str) -> Response:
    """Download a month's per-citizen recycling file (CSV).

    `YYYY-MM.csv`: one row per citizen who recycled in the month, UTF-8 with a BOM,
    CRLF: `month, citizen_id, district, <a column per material>, items_total`.
    """
    request = bp.current_request
    require_role(request, Power.REPORTS)
    named = _FILE.fullmatch(file)
    if named is None:
        raise NotFound("no such report: ask for YYYY-MM.csv", code="report_not_found")
    month, _closed = _month(named.group(1))
    body = wiring.reports().recycling_csv(month)
    return Response(
        body=body.decode("utf-8"),
        status_code=200,
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="recycling-{month}.csv"',
            "Cache-Control": "no-store",
        },
    )


def _month(raw: str) -> tuple[str, bool]:
    """A Seoul month, YYYY-MM, not after the current one; and whether it has ended."""
    m = _MONTH.fullmatch(raw)
    if m is None or int(m.group(1)) < 2000:
        raise Unprocessable(
            "the month must be YYYY-MM",
            code="invalid_month",
            details=[{"field": "month", "problem": "YYYY-MM"}],
        )
    today = utc_now().astimezone(SEOUL).date()
    asked, current = (int(m.group(1)), int(m.group(2))), (today.year, today.month)
    if asked > current:
        raise Unprocessable(
            f"{raw} has not begun",
            code="month_in_future",
            details=[{"field": "month", "problem": f"after {today:%Y-%m}"}],
        )
    return raw, asked < current
