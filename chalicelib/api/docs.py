"""`GET /v1/openapi.json`: the API described from the app itself (chalicelib.api.openapi)."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

bp = Blueprint(__name__)


@bp.route("/v1/openapi.json", methods=["GET"])
def get_openapi() -> dict[str, Any]:
    """The OpenAPI 3.1 document of every route, request body and error."""
    from chalicelib.api import openapi

    return openapi.document(bp.current_app)
