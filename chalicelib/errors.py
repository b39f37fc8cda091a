"""Typed domain errors. One place (chalicelib.api.http) maps them to HTTP and the JSON shape."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, details: list[Any] | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details or []


class BadRequest(DomainError):
    status, code = 400, "bad_request"


class Unauthorized(DomainError):
    status, code = 401, "unauthorized"


class Forbidden(DomainError):
    status, code = 403, "forbidden"


class NotFound(DomainError):
    status, code = 404, "not_found"


class Conflict(DomainError):
    status, code = 409, "conflict"


class Unprocessable(DomainError):
    status, code = 422, "unprocessable"


class TooManyRequests(DomainError):
    status, code = 429, "too_many_requests"


class RetryableConflict(Exception):
    """An optimistic write lost a race; the caller should re-read and try again."""
