"""The API's authorizer: validates the bearer JWT and passes the citizen and groups on."""

from __future__ import annotations

from chalice import Blueprint
from chalice.app import AuthRequest, AuthResponse

from chalicelib.errors import Unauthorized
from chalicelib.tokens import encode_groups, verifier

bp = Blueprint(__name__)


@bp.authorizer(ttl_seconds=300)
def jwt_auth(auth_request: AuthRequest) -> AuthResponse:
    try:
        who = verifier().verify(auth_request.token or "")
    except Unauthorized as e:
        # API Gateway answers 401 when an authorizer fails with exactly "Unauthorized".
        raise Exception("Unauthorized") from e
    return AuthResponse(
        routes=["*"],
        principal_id=who.citizen_id,
        context={"groups": encode_groups(who.groups)},
    )
