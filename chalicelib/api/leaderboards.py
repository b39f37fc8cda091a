"""Step leaderboards (DESIGN §4): the citizen's board with "my rank" and the districts' board
(the stream handler that keeps them is chalicelib/events/boards.py).

Boards show display names only: a citizen id never leaves in an answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice import Blueprint

from chalicelib import wiring
from chalicelib.api.authorizer import jwt_auth
from chalicelib.api.http import answers, api_view, principal, query_enum, query_int, query_str
from chalicelib.domain.clock import seoul_day
from chalicelib.errors import BadRequest

if TYPE_CHECKING:
    from datetime import date

    from chalice.app import Request

    from chalicelib.domain import boards

bp = Blueprint(__name__)

MAX_LIMIT = 100


def _period_and_day(request: Request) -> tuple[str, date]:
    from chalicelib.domain import boards  # the board rules load with the first board asked

    kind = query_enum(request, "period", boards.PERIOD_KINDS, default=boards.DAY)
    raw_date = query_str(request, "date", max_length=10)
    try:
        day = seoul_day(wiring.clock()()) if raw_date is None else boards.parse_date(raw_date)
    except boards.InvalidBoard as e:
        raise _invalid(e) from e
    return kind, day


def _invalid(error: boards.InvalidBoard) -> BadRequest:
    return BadRequest(
        str(error), code="invalid_query", details=[{"field": error.field, "problem": str(error)}]
    )


@bp.route("/v1/leaderboards/steps", methods=["GET"], authorizer=jwt_auth)
@api_view
@answers("board_schemas:StepBoard")
def get_step_board() -> dict[str, Any]:
    """A step leaderboard's leaders, and my rank on it."""
    from chalicelib.domain import boards

    request = bp.current_request
    citizen_id = principal(request).citizen_id
    kind, day = _period_and_day(request)
    limit = query_int(request, "limit", default=10, low=1, high=MAX_LIMIT)
    service = wiring.boards()
    try:
        scope = query_str(request, "scope")  # "": no scope, a 400
        board = service.board(kind, day, boards.CITY if scope is None else scope)
    except boards.InvalidBoard as e:
        raise _invalid(e) from e
    me = service.standing(board, citizen_id)
    return {
        "period": kind,
        "date": day.isoformat(),
        "scope": boards.scope_of_board(board),
        "entries": [
            {"rank": r.rank, "display_name": r.display_name, "steps": r.steps}
            for r in service.leaders(board, limit)
        ],
        "me": {"rank": me.rank, "steps": me.steps},
    }


@bp.route("/v1/leaderboards/districts", methods=["GET"])
@api_view
@answers("board_schemas:DistrictBoard")
def get_district_board() -> dict[str, Any]:
    """Districts ranked by their total steps."""
    kind, day = _period_and_day(bp.current_request)
    return {
        "period": kind,
        "date": day.isoformat(),
        "entries": [
            {"rank": d.rank, "district": d.district, "name": d.name, "steps": d.steps}
            for d in wiring.boards().districts(kind, day)
        ],
    }
