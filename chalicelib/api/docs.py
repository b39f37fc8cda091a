"""The contracts, served: `GET /v1/openapi.json` (the HTTP API, chalicelib.api.openapi),
`GET /v1/asyncapi.json` (the devices' MQTT topics, chalicelib.api.asyncapi) and `GET /v1/docs`
(both rendered as one page, chalicelib.api.reference). Each is generated from the code when
asked for; none of those modules is imported at cold start."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response

from chalicelib.api.http import answers, produces

bp = Blueprint(__name__)


@bp.route("/v1/openapi.json", methods=["GET"])
@answers("docs_schemas:OpenApiDocument")
def get_openapi() -> dict[str, Any]:
    """The OpenAPI 3.1 document of every route, request body and error."""
    from chalicelib.api import openapi

    return openapi.document(bp.current_app)


@bp.route("/v1/asyncapi.json", methods=["GET"])
@answers("docs_schemas:AsyncApiDocument")
def get_asyncapi() -> dict[str, Any]:
    """The AsyncAPI 3.0 document of every device topic, its direction, QoS and payload."""
    from chalicelib.api import asyncapi

    return asyncapi.document()


@bp.route("/v1/docs", methods=["GET"])
@produces("text/html")
def get_docs() -> Response:
    """A reference of both contracts as one HTML page, with no script and no remote resource."""
    from chalicelib.api import asyncapi, openapi, reference

    html = reference.page(openapi.document(bp.current_app), asyncapi.document())
    return Response(
        body=html,
        status_code=200,
        headers={
            "Content-Type": "text/html; charset=utf-8",
            "Content-Security-Policy": reference.CSP,
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-cache",
        },
    )
