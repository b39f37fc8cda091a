"""Typed domain errors, and the one map from HTTP status to the error shape's default code.

chalicelib.api.http turns a DomainError into the JSON error shape (DESIGN §4); errors
Chalice and API Gateway produce themselves get their code from the same map.
"""

from __future__ import annotations

from typing import Any

STATUS_CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "too_many_requests",
    431: "headers_too_large",
    500: "internal_error",
    502: "internal_error",
    503: "service_unavailable",
    504: "timeout",
}


def code_for_status(status: int) -> str:
    return STATUS_CODES.get(status, "internal_error" if status >= 500 else "bad_request")


class DomainError(Exception):
    status = 400

    def __init__(self, message: str, *, code: str | None = None, details: list[Any] | None = None):
        super().__init__(message)
        self.message = message
        self.code = code or code_for_status(self.status)
        self.details = details or []


class BadRequest(DomainError):
    status = 400


class Unauthorized(DomainError):
    status = 401


class Forbidden(DomainError):
    status = 403


class NotFound(DomainError):
    status = 404


class Conflict(DomainError):
    status = 409


class PayloadTooLarge(DomainError):
    status = 413


class Unprocessable(DomainError):
    status = 422


class TooManyRequests(DomainError):
    status = 429


class RetryableConflict(Exception):
    """An optimistic write lost a race; the caller should re-read and try again."""


class NotAcceptable(DomainError):
    """The client's Accept names no form the route can answer in."""

    status = 406
