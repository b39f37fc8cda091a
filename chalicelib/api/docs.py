"""The contracts, served: `GET /v1/openapi.json` (the HTTP API, chalicelib.api.openapi),
`GET /v1/asyncapi.json` (the devices' MQTT topics, chalicelib.api.asyncapi) and `GET /v1/docs`
(both rendered as one page, chalicelib.api.reference). Each is generated from the code the
first time it is asked for in a process and kept (the code cannot change under a running
function: building both again cost ~45 ms a request); none of those modules is imported at
cold start."""

from __future__ import annotations

from functools import cache
from typing import Any

from chalice import Blueprint, Response

from chalicelib.api.http import answers, produces

bp = Blueprint(__name__)


@cache
def _openapi(app: Any) -> dict[str, Any]:
    from chalicelib.api import openapi

    return openapi.document(app)


@cache
def _asyncapi() -> dict[str, Any]:
    from chalicelib.api import asyncapi

    return asyncapi.document()


@cache
def _page(app: Any) -> str:
    from chalicelib.api import reference

    return reference.page(_openapi(app), _asyncapi())


@bp.route("/v1/openapi.json", methods=["GET"])
@answers("docs_schemas:OpenApiDocument")
def get_openapi() -> dict[str, Any]:
    """The OpenAPI 3.1 document of every route, request body and error."""
    return _openapi(bp.current_app)


@bp.route("/v1/asyncapi.json", methods=["GET"])
@answers("docs_schemas:AsyncApiDocument")
def get_asyncapi() -> dict[str, Any]:
    """The AsyncAPI 3.0 document of every device topic, its direction, QoS and payload."""
    return _asyncapi()


@bp.route("/v1/docs", methods=["GET"])
@produces("text/html")
def get_docs() -> Response:
    """A reference of both contracts as one HTML page, with no script and no remote resource."""
    from chalicelib.api import reference

    return Response(
        body=_page(bp.current_app),
        status_code=200,
        headers={
            "Content-Type": "text/html; charset=utf-8",
            "Content-Security-Policy": reference.CSP,
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-cache",
        },
    )
