"""The HTTP edge: the JSON error shape, request parsing, and who is calling (DESIGN §4)."""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from chalice import Chalice, Response
from chalice.app import Request, handle_extra_types

from chalicelib.domain import json_limits, roles
from chalicelib.domain.roles import Power
from chalicelib.domain.staff_actions import Actor
from chalicelib.errors import (
    BadRequest,
    Conflict,
    DomainError,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    RetryableConflict,
    Unauthorized,
    Unprocessable,
    code_for_status,
)
from chalicelib.tokens import Principal, decode_groups

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


def json_bodies(event: Request, get_response: Callable[[Request], Response]):
    """Middleware: every JSON answer is serialised here, once, as UTF-8 text as it is (no
    `\\uXXXX` escapes: Korean names read as written), and says `Content-Type:
    application/json` itself rather than leave it to API Gateway's default. Bodies a view
    serialised itself (CSV text, spreadsheet bytes) pass as they are."""
    response = get_response(event)
    if not isinstance(response.body, str | bytes):
        response.body = json_text(response.body)
        if not any(name.lower() == "content-type" for name in response.headers):
            response.headers["Content-Type"] = "application/json"
    return response


def json_text(document: Any) -> str:
    """A JSON answer's text: UTF-8-ready, non-ASCII as written. A lone surrogate (an input
    echoed back) has no UTF-8 form, so such a body alone keeps its `\\u` escapes."""
    text = json.dumps(
        document, ensure_ascii=False, separators=(",", ":"), default=handle_extra_types
    )
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(document, separators=(",", ":"), default=handle_extra_types)
    return text


def refuse_odd_path_values(event: Request, get_response: Callable[[Request], Response]):
    """Middleware: a path parameter that cannot be an id (another script's characters,
    spaces, controls, overlong) names nothing: 404, before any view parses it."""
    for name, value in (event.uri_params or {}).items():
        shape = PATH_VALUES.get(name, PATH_VALUE)
        if not isinstance(value, str) or not shape.fullmatch(value):
            return error_response(NotFound(f"no such {name}", code=_not_found_code(event, name)))
    return get_response(event)


_NOT_FOUND_CODES = {
    "shelters": "shelter_not_found",
    "robots": "robot_not_found",
    "payout-runs": "run_not_found",
    "challenges": "challenge_not_found",
    "citizens": "citizen_not_found",
    "corrections": "correction_not_found",
    "quarantine": "quarantine_entry_not_found",
    "dead-letters": "queue_not_found",
    "alerts": "alert_not_found",
    "projects": "project_not_found",
}
"""The code a route's own look-up answers for an unknown id, by the collection it names."""


def _not_found_code(event: Request, name: str) -> str:
    path = str((event.context or {}).get("resourcePath") or "").split("/")
    marker = "{" + name + "}"
    before = path[path.index(marker) - 1] if marker in path and path.index(marker) > 0 else ""
    return _NOT_FOUND_CODES.get(before, "not_found")


def install(app: Chalice) -> None:
    app.register_middleware(json_bodies, "http")  # first: the outermost, sees every answer
    app.register_middleware(reshape_framework_errors, "http")
    app.register_middleware(refuse_odd_path_values, "http")
    app.api.binary_types.extend(BINARY_TYPES)


BINARY_TYPES = ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",)
"""Media the API answers as bytes (base64 to API Gateway, which needs them listed as binary
media types: Chalice writes app.api.binary_types into the API definition)."""


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


def parse_optional_body(request: Request, model: type[M]) -> M:
    """A body that may be left out (a DELETE's options): none is the model's defaults."""
    if not request.raw_body:
        return model()
    return parse_body(request, model)


QUERY_MAX = 512
"""The longest query value any route takes (a cursor is the longest)."""
_INTEGER = re.compile(r"[0-9]{1,12}")
_SIGNED_INTEGER = re.compile(r"-?[0-9]{1,12}")
PATH_VALUE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,255}")
"""What any path parameter may be (run, challenge and device ids; push tokens, ~160
characters): ASCII letters, digits and a few separators, up to 256. Anything else names
nothing: a 404 before the view runs."""
PATH_VALUES = {"token": re.compile(r"[A-Za-z0-9%][A-Za-z0-9%._:-]{0,12287}")}
"""Path parameters longer than ids: a push token (FCM's may be up to 4 KB, DESIGN §4c), as
sent, URL-encoded or not (its view decodes it)."""


def query_str(
    request: Request,
    name: str,
    max_length: int = QUERY_MAX,
    code: str = "invalid_query",
) -> str | None:
    """One query value as sent, or None. Repeated, overlong or control-character values are
    a 400 (`code`): no route guesses which of two values was meant. (The OpenAPI document
    types a value by its name where it has one meaning: `openapi.QUERY_VOCABULARY`.)"""
    params = request.query_params
    if not params or name not in params:
        return None
    values = params.getlist(name)
    if len(values) != 1:
        raise BadRequest(f"give {name} at most once", code=code)
    value = str(values[0])
    if len(value) > max_length:
        raise BadRequest(f"{name} is longer than {max_length} characters", code=code)
    if any(unicodedata.category(ch)[0] in "CZ" and ch != " " for ch in value):
        raise BadRequest(f"{name} has control or separator characters", code=code)
    return value


def query_int(request: Request, name: str, default: int, low: int, high: int) -> int:
    """An integer in ASCII digits only: no sign unless the range has negatives, no other
    script's digits, underscores, spaces or exponents (all of which int() accepts)."""
    raw = query_str(request, name, max_length=13)
    if raw is None:
        return default
    pattern = _SIGNED_INTEGER if low < 0 else _INTEGER
    if not pattern.fullmatch(raw):
        raise BadRequest(f"{name} must be an integer in ASCII digits", code="invalid_query")
    value = int(raw)
    if not low <= value <= high:
        raise BadRequest(f"{name} must be between {low} and {high}", code="invalid_query")
    return value


def query_time(request: Request, name: str) -> datetime | None:
    """An ISO 8601 instant with its offset (`2026-12-01T09:00:00+09:00` or `...Z`), or None;
    a time without an offset names no instant: a 400."""
    raw = query_str(request, name, max_length=40)
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError as e:
        raise BadRequest(f"{name} is not an ISO 8601 time", code="invalid_query") from e
    if value.tzinfo is None:
        raise BadRequest(f"{name} needs its UTC offset (Z or +09:00)", code="invalid_query")
    try:
        return value.astimezone(UTC)
    except OverflowError as e:  # 0001-01-01T00:00+09:00 is before the first UTC instant
        raise BadRequest(f"{name} is out of range", code="invalid_query") from e


def query_enum(request: Request, name: str, allowed: tuple[str, ...], default: str) -> str:
    """One of `allowed`, matched exactly (no case folding, no spaces), else a 400 naming
    them."""
    raw = query_str(request, name, max_length=64)
    if raw is None:
        return default
    if raw not in allowed:
        raise BadRequest(
            f"{name} must be one of {', '.join(allowed)}",
            code="invalid_query",
            details=[{"field": name, "allowed": list(allowed)}],
        )
    return raw


def first_accepted(request: Request) -> str | None:
    """The first media type of the Accept header, lowercased, parameters dropped: what API
    Gateway looks at to decide whether a base64 body is sent as binary."""
    accept = request.headers.get("accept") if request.headers else None
    if not accept:
        return None
    return accept.split(",", 1)[0].split(";", 1)[0].strip().lower() or None


F = TypeVar("F", bound=Callable[..., Any])


def produces(*content_types: str) -> Callable[[F], F]:
    """Marks a view answering other media than JSON (for the OpenAPI document)."""

    def mark(fn: F) -> F:
        fn.produces = content_types  # type: ignore[attr-defined]
        return fn

    return mark


def answers(model: str) -> Callable[[F], F]:
    """Marks the pydantic model a view's success body follows, named `module:Class` under
    `chalicelib.api` (e.g. `"me_schemas:Profile"`). Only the OpenAPI document resolves the
    name, so a view's cold start does not import pydantic; the functional tests check every
    answer against the document, so a view that answers something else fails a test."""

    def mark(fn: F) -> F:
        fn.answers = model  # type: ignore[attr-defined]
        return fn

    return mark


def principal(request: Request) -> Principal:
    """Who the authorizer let through. A route without an authorizer has no principal.

    A citizen's token (no staff role) whose account was closed is a 404 `account_closed`
    on every route that asks who is calling: one strongly consistent GetItem of the
    tombstone mark, here once for every citizen route (docs/account-closing.md)."""
    who = caller(request)
    if not roles.staff_roles(who.groups):
        from chalicelib import wiring
        from chalicelib.domain.closing import account_closed

        if wiring.account_is_closed(who.citizen_id):
            raise account_closed()
    return who


def caller(request: Request) -> Principal:
    """Who the authorizer let through, without the closed-account check of `principal`:
    only for a route whose service reads the citizen anyway and refuses a closed account
    itself (404 `account_closed`), so the check costs no second read."""
    context = (request.context or {}).get("authorizer") or {}
    citizen_id = context.get("principalId")
    if not citizen_id:
        raise Unauthorized("authentication is required")
    return Principal(citizen_id=str(citizen_id), groups=decode_groups(context.get("groups")))


def require_role(request: Request, power: Power) -> Principal:
    """The caller, if one of their roles holds `power`; else a 403 `forbidden_role` naming
    the roles that would do (a citizen's token holds none)."""
    who = caller(request)
    if not roles.may(who.groups, power):
        allowed = roles.roles_for(power)
        raise Forbidden(
            f"this needs one of the roles: {', '.join(allowed)}",
            code="forbidden_role",
            details=[{"roles": list(allowed)}],
        )
    return who


def actor(who: Principal) -> Actor:
    """The staff member behind a request, as the action log names them."""
    return Actor(who.citizen_id, roles.staff_roles(who.groups))


ROUTABLE_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
"""The methods API Gateway can route (its REST APIs know no others)."""


def refuse_other_methods(app: Chalice) -> None:
    """Give every path a route for each routable method it does not serve, answering 405
    with `Allow` in the JSON error shape. Declared as routes, they are in API Gateway's
    definition too, so AWS answers as the local stack does (API Gateway alone would answer
    a missing method as a missing route: 403 "Missing Authentication Token"). Call after
    every blueprint is registered."""
    for n, (path, methods) in enumerate(sorted(app.routes.items())):
        missing = [m for m in ROUTABLE_METHODS if m not in methods]
        if missing:
            app.route(path, methods=missing, name=f"refuse_method_{n}")(_refusal(sorted(methods)))


def _refusal(allowed: list[str]) -> Callable[..., Response]:
    allow = ", ".join(allowed)

    def refuse(**_: str) -> Response:
        return Response(
            body=error_body(405, "method_not_allowed", f"this route answers {allow} only"),
            status_code=405,
            headers={"Content-Type": "application/json", "Allow": allow},
        )

    refuse.refusal = True  # type: ignore[attr-defined]
    return refuse
