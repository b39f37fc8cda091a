"""The HTTP edge: the JSON error shape, request parsing, and who is calling (DESIGN §4)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from chalice import Chalice, Response
from chalice.app import Request

from chalicelib import config
from chalicelib.auth import Principal, decode_groups
from chalicelib.domain import json_limits
from chalicelib.errors import (
    BadRequest,
    Conflict,
    DomainError,
    Forbidden,
    PayloadTooLarge,
    RetryableConflict,
    Unauthorized,
    Unprocessable,
    code_for_status,
)

if TYPE_CHECKING:
    from pydantic import BaseModel

M = TypeVar("M", bound="BaseModel")

# pydantic error types that mean "the request is malformed" (400) rather than
# "well-formed but not acceptable" (422).
_MALFORMED = {"missing", "extra_forbidden", "json_invalid", "json_type", "model_type"}


def error_body(status: int, code: str | None, message: str, details: list[Any] | None = None):
    return {
        "error": {
            "code": code or code_for_status(status),
            "message": message,
            "details": details or [],
        }
    }


def error_response(error: DomainError) -> Response:
    return Response(
        body=error_body(error.status, error.code, error.message, error.details),
        status_code=error.status,
        headers={"Content-Type": "application/json"},
    )


def api_view(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn domain errors raised by a view into the JSON error shape. A race lost past its
    retries (RetryableConflict: the streams take it as "retry the batch") is the caller's to
    repeat: a 409 `try_again`, never a 500. Every write behind a route is all-or-nothing
    and safe to repeat."""

    @functools.wraps(fn)
    def view(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except DomainError as e:
            return error_response(e)
        except RetryableConflict:
            return error_response(
                Conflict("busy with a concurrent change; try again", code="try_again")
            )

    return view


def reshape_framework_errors(event: Request, get_response: Callable[[Request], Response]):
    """Middleware: errors Chalice produces itself ({Code, Message}) get the JSON error shape."""
    response = get_response(event)
    body = response.body
    if response.status_code >= 400 and isinstance(body, dict) and "Code" in body:
        message = str(body.get("Message", ""))
        if response.status_code >= 500:
            message = "an internal error occurred"
        response.body = error_body(response.status_code, None, message)
        response.headers["Content-Type"] = "application/json"
    return response


def install(app: Chalice) -> None:
    app.register_middleware(reshape_framework_errors, "http")


def parse_body(request: Request, model: type[M]) -> M:
    raw = request.raw_body
    if not raw:
        raise BadRequest("a JSON body is required", code="invalid_json")
    try:
        document = json_limits.loads(raw)
    except json_limits.JsonRejected as e:
        if e.problem == "too_large":
            raise PayloadTooLarge(str(e), code="body_too_large") from e
        raise BadRequest(f"the body is not acceptable JSON: {e}", code="invalid_json") from e
    if not isinstance(document, dict):
        raise BadRequest("the body must be a JSON object", code="invalid_json")
    from pydantic import ValidationError  # only the routes that parse a body pay for pydantic

    try:
        return model.model_validate(document)
    except ValidationError as e:
        details = [
            {"field": ".".join(str(p) for p in err["loc"]), "problem": err["msg"]}
            for err in e.errors(include_url=False, include_input=False)
        ]
        if any(err["type"] in _MALFORMED or err["type"].endswith("_type") for err in e.errors()):
            raise BadRequest("the request body is malformed", details=details) from e
        raise Unprocessable(
            "the request is not acceptable", code="validation_failed", details=details
        ) from e


def query_str(request: Request, name: str) -> str | None:
    params = request.query_params
    value = params.get(name) if params else None
    return None if value is None else str(value)


def query_int(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = query_str(request, name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError as e:
        raise BadRequest(f"{name} must be an integer", code="invalid_query") from e
    if not low <= value <= high:
        raise BadRequest(f"{name} must be between {low} and {high}", code="invalid_query")
    return value


def principal(request: Request) -> Principal:
    """Who the authorizer let through. A route without an authorizer has no principal."""
    context = (request.context or {}).get("authorizer") or {}
    citizen_id = context.get("principalId")
    if not citizen_id:
        raise Unauthorized("authentication is required")
    return Principal(citizen_id=str(citizen_id), groups=decode_groups(context.get("groups")))


def require_admin(request: Request) -> Principal:
    who = principal(request)
    if not who.is_in(config.settings().admin_group):
        raise Forbidden("this needs the admin group", code="admin_required")
    return who
