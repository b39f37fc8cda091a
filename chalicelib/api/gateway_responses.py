"""Errors API Gateway answers on its own (before our code runs), in the JSON error shape.

The CDK app turns these into AWS::ApiGateway::GatewayResponse resources; the local stack's
gateway applies the same table. One source, so a 401 looks the same in AWS and locally.
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.errors import code_for_status


@dataclass(frozen=True)
class GatewayResponse:
    response_type: str
    status: int
    message: str

    @property
    def code(self) -> str:
        return code_for_status(self.status)

    @property
    def is_default(self) -> bool:
        """DEFAULT_4XX/5XX keep API Gateway's own status (a 429 stays a 429)."""
        return self.response_type.startswith("DEFAULT")


GATEWAY_RESPONSES: tuple[GatewayResponse, ...] = (
    GatewayResponse("UNAUTHORIZED", 401, "a valid bearer token is required"),
    GatewayResponse("ACCESS_DENIED", 403, "this token may not call this route"),
    GatewayResponse("MISSING_AUTHENTICATION_TOKEN", 404, "no such route"),
    GatewayResponse("AUTHORIZER_FAILURE", 500, "authorization failed"),
    GatewayResponse("DEFAULT_4XX", 400, "the request was refused"),
    GatewayResponse("DEFAULT_5XX", 500, "an internal error occurred"),
)


def by_type(response_type: str) -> GatewayResponse:
    return next(r for r in GATEWAY_RESPONSES if r.response_type == response_type)


def by_status(status: int) -> GatewayResponse:
    for response in GATEWAY_RESPONSES:
        if response.status == status and not response.response_type.startswith("DEFAULT"):
            return response
    default = "DEFAULT_5XX" if status >= 500 else "DEFAULT_4XX"
    return next(r for r in GATEWAY_RESPONSES if r.response_type == default)


def body(response: GatewayResponse) -> dict[str, object]:
    return {"error": {"code": response.code, "message": response.message, "details": []}}
