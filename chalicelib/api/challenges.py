"""Challenge routes (DESIGN §4 "Challenges"); the stream handlers that keep progress are in
chalicelib/events/challenges.py."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from chalice import Blueprint, Response

from chalicelib import wiring
from chalicelib.api.authorizer import jwt_auth
from chalicelib.api.http import actor, answers, api_view, parse_body, principal, require_role
from chalicelib.domain.clock import iso, seoul_day
from chalicelib.domain.roles import Power

if TYPE_CHECKING:
    from chalicelib.domain import challenges as c
    from chalicelib.services.challenges import Standing

bp = Blueprint(__name__)


# Views ----------------------------------------------------------------------------------


def challenge_view(challenge: c.Challenge, today: date | None = None) -> dict[str, Any]:
    prize: dict[str, Any] = {"type": challenge.prize.type, "points": challenge.prize.points}
    if challenge.prize.winners is not None:
        prize["winners"] = challenge.prize.winners
    view: dict[str, Any] = {
        "challenge_id": challenge.challenge_id,
        "title": challenge.title,
        "kind": challenge.kind,
        "starts_on": challenge.starts_on.isoformat(),
        "ends_on": challenge.ends_on.isoformat(),
        "status": challenge.status(today or seoul_day(wiring.clock()())),
        "target": challenge.target,
        "daily_cap": challenge.daily_cap,
        "daily_goal": challenge.daily_goal,
        "district": challenge.district,
        "prize": prize,
        "finishers": challenge.finishers,
        "created_at": iso(challenge.created_at),
    }
    if challenge.prize.type == "lottery":
        view["draw"] = {
            "commitment": challenge.commitment,
            "drawn": challenge.draw is not None,
        }
    return view


def standing_view(standing: Standing) -> dict[str, Any]:
    entry = standing.entry
    view = challenge_view(standing.challenge)
    if standing.pseudonym is not None and "draw" in view:
        # The name the public draw gives me: only I am told which one is mine.
        view["draw"]["my_pseudonym"] = standing.pseudonym
    return {
        **view,
        "joined": entry is not None,
        "progress": {
            "value": standing.progress,
            "target": standing.challenge.target,
            "finished": entry is not None and entry.finished,
            "finished_at": iso(entry.finished_at) if entry and entry.finished_at else None,
            "finish_rank": entry.finish_rank if entry else None,
        },
        "prize_awarded": bool(entry and entry.prize_awarded),
    }


def draw_view(challenge: c.Challenge) -> dict[str, Any]:
    """What anyone may check (chalicelib.domain.draw verifies exactly this document)."""
    drawn = challenge.draw
    shown = drawn is not None and drawn.published
    return {
        "challenge_id": challenge.challenge_id,
        "commitment": challenge.commitment,
        "seed": drawn.seed if drawn else None,
        "finisher_digest": drawn.finisher_digest if drawn else None,
        "finishers": list(drawn.finishers) if shown and drawn else None,
        "winners": list(drawn.winners) if shown and drawn else None,
        "winner_count": challenge.prize.winners,
        "drawn_at": iso(drawn.drawn_at) if drawn else None,
        "scheme": drawn.scheme if drawn else DRAW_SCHEME,
        "withheld": None if drawn is None or shown else WITHHELD,
        "algorithm": "finishers are per-challenge pseudonyms, sorted; finisher_digest = "
        "SHA-256 of each followed by a newline; winners = first winner_count finishers "
        "ordered by HMAC-SHA256(key=seed, msg=pseudonym); see chalicelib/domain/draw.py",
    }


DRAW_SCHEME = "pseudonyms-v1"
WITHHELD = (
    "drawn before per-challenge pseudonyms: its lists name citizen ids, which are never "
    "published; the seed still checks against the commitment"
)


# Routes ---------------------------------------------------------------------------------


@bp.route("/v1/admin/challenges", methods=["POST"], authorizer=jwt_auth)
@api_view
@answers("challenge_schemas:Challenge")
def post_challenge() -> Response:
    """Create a challenge (admin)."""
    from chalicelib.api.challenge_schemas import ChallengeRequest

    request = bp.current_request
    who = require_role(request, Power.CHALLENGES)
    body = parse_body(request, ChallengeRequest)
    challenge = wiring.challenges().create(body.new_challenge(), actor(who))
    return Response(body=challenge_view(challenge), status_code=201)


@bp.route("/v1/admin/challenges/{challenge_id}/draw", methods=["POST"], authorizer=jwt_auth)
@api_view
@answers("challenge_schemas:PublishedDraw")
def post_draw(challenge_id: str) -> Response:
    """Draw a lottery challenge's winners (admin; a repeat answers the same draw)."""
    who = require_role(bp.current_request, Power.CHALLENGES)
    challenge, created = wiring.challenges().draw(challenge_id, actor(who))
    return Response(body=draw_view(challenge), status_code=201 if created else 200)


@bp.route("/v1/challenges", methods=["GET"], authorizer=jwt_auth)
@api_view
@answers("challenge_schemas:ChallengeList")
def get_challenges() -> dict[str, Any]:
    """Open, upcoming and recent challenges, with my progress."""
    citizen_id = principal(bp.current_request).citizen_id
    return {"challenges": [standing_view(s) for s in wiring.challenges().listing(citizen_id)]}


@bp.route("/v1/challenges/{challenge_id}", methods=["GET"], authorizer=jwt_auth)
@api_view
@answers("challenge_schemas:ChallengeStanding")
def get_challenge(challenge_id: str) -> dict[str, Any]:
    """One challenge with my progress."""
    citizen_id = principal(bp.current_request).citizen_id
    return standing_view(wiring.challenges().standing(challenge_id, citizen_id))


@bp.route("/v1/challenges/{challenge_id}/entries", methods=["POST"], authorizer=jwt_auth)
@api_view
@answers("challenge_schemas:ChallengeStanding")
def post_entry(challenge_id: str) -> Response:
    """Join a challenge (a repeat answers the same entry)."""
    citizen_id = principal(bp.current_request).citizen_id
    standing, created = wiring.challenges().join(challenge_id, citizen_id)
    return Response(body=standing_view(standing), status_code=201 if created else 200)


@bp.route("/v1/challenges/{challenge_id}/draw", methods=["GET"])
@api_view
@answers("challenge_schemas:PublishedDraw")
def get_draw(challenge_id: str) -> dict[str, Any]:
    """A lottery's published draw: seed, finishers, winners."""
    return draw_view(wiring.challenges().published_draw(challenge_id))
