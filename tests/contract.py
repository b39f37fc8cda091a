"""Every answer a test sees is checked against the API's own OpenAPI document: its status
must be one the operation declares, an error must have the error shape, and a JSON success
body must match the schema of the model the view declares (`http.answers`). So a view that
answers other than its contract says fails whichever test called it."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

UNDECLARED_OK = {405}
"""Statuses no operation declares: a method the path does not serve (its own refusal)."""


@dataclass(frozen=True)
class _Operation:
    pattern: re.Pattern[str]
    params: int
    method: str
    responses: dict[str, Any]


@cache
def document() -> dict[str, Any]:
    """The API's OpenAPI document, built once per test process."""
    from app import app
    from chalicelib.api import openapi

    return openapi.document(app)


@cache
def _operations() -> tuple[_Operation, ...]:
    found = []
    for path, methods in document()["paths"].items():
        regex = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path))
        for method, operation in methods.items():
            found.append(
                _Operation(re.compile(regex), path.count("{"), method, operation["responses"])
            )
    # API Gateway prefers the literal segment over a parameter: fewest parameters first.
    return tuple(sorted(found, key=lambda o: o.params))


@cache
def _validator(ref: str) -> Draft202012Validator:
    registry: Registry = Registry().with_resource(
        "urn:openapi", Resource.from_contents(document(), default_specification=DRAFT202012)
    )
    return Draft202012Validator({"$ref": "urn:openapi" + ref}, registry=registry)


def resolved(schema: dict[str, Any], doc: dict[str, Any] | None = None) -> dict[str, Any]:
    """A parameter's schema with the value set it names written out: `{"$ref": ".../Period",
    "default": "day"}` reads as `{"type": "string", "enum": ["day", "week"], "default":
    "day"}` (the document names each closed value set once, as a component)."""
    ref = schema.get("$ref")
    if ref is None:
        return schema
    named = (doc or document())["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    kept = {k: v for k, v in named.items() if k in ("type", "enum", "format", "pattern")}
    return {**kept, **{k: v for k, v in schema.items() if k != "$ref"}}


def operation_for(method: str, path: str) -> _Operation | None:
    bare = path.split("?", 1)[0]
    for operation in _operations():
        if operation.method == method.lower() and operation.pattern.fullmatch(bare):
            return operation
    return None


def check_answer(method: str, path: str, status: int, content_type: str, body: Any) -> None:
    """Raise AssertionError when the answer breaks the documented contract."""
    operation = operation_for(method, path)
    if operation is None or status in UNDECLARED_OK:
        return  # no such route: the gateway's own 403/404, checked by the edge tests
    declared = operation.responses.get(str(status))
    assert declared is not None, (
        f"{method} {path} answered {status}, which its OpenAPI operation does not declare "
        f"(it declares {sorted(operation.responses)})"
    )
    media = content_type.split(";", 1)[0].strip().lower()
    assert media or not (declared.get("content") or {}), (
        f"{method} {path} answered {status} with no Content-Type; the document says "
        f"{sorted(declared.get('content') or {})}"
    )
    content = declared.get("content") or {}
    assert media in content, (
        f"{method} {path} answered {status} as {media!r}; the document says {sorted(content)}"
    )
    schema = content[media].get("schema") or {}
    ref = schema.get("$ref")
    if ref is None or media != "application/json":
        return
    errors = sorted(_validator(ref).iter_errors(body), key=lambda e: list(e.absolute_path))
    assert not errors, f"{method} {path} answered {status} off its contract ({ref}): " + "; ".join(
        f"at {'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in errors[:5]
    )


def check_raw_answer(
    method: str, path: str, status: int, headers: dict[str, Any], body: bytes | None
) -> None:
    """check_answer for an answer read as bytes (a file download): a JSON one is parsed and
    checked whole; any other is checked for its status and declared media type."""
    content_type = next((str(v) for k, v in headers.items() if k.lower() == "content-type"), "")
    media = content_type.split(";", 1)[0].strip().lower()
    parsed = json.loads(body) if body and (not media or media == "application/json") else None
    check_answer(method, path, status, content_type, parsed)
