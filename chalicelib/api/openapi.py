"""The API's OpenAPI 3.1 document, generated from the app itself: nothing here is written
twice, so nothing can drift.

- Paths, methods, path parameters and which routes need a token: Chalice's route table.
- Request bodies: the pydantic model each view hands to `parse_body`, as its JSON Schema.
- Query parameters: each `query_int` / `query_str` / `query_enum` / `query_time` call of the
  view (and of the helpers of its own module it calls), with the bounds or values it passes;
  a string named as in `QUERY_VOCABULARY` (`district`, `month`, `date`) has its one meaning.
- Summaries and descriptions: the view's docstring, its first line and the rest.
- Success statuses: 200, or the `status_code` constants of the Responses the view builds.
- Errors: DESIGN §4's one error shape, for every 4xx a route can answer.
- Closed value sets: the named enum components of common_schemas.py; a set written out
  again (a `query_enum` filter, a request's `Literal`) is made a reference to its component.

The views are read as source (`ast`), once per process, when the document is asked for
(`GET /v1/openapi.json`, the local stack and the resilience tests); nothing of this module
is imported at cold start.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from chalice import Chalice

ERROR_STATUSES = {
    "400": "malformed request",
    "401": "no or invalid token",
    "403": "not allowed",
    "404": "not found",
    "409": "conflict",
    "413": "body too large",
    "422": "well-formed but not acceptable",
    "429": "too many requests",
}
_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "properties": {
                "code": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"},
                "message": {"type": "string"},
                "details": {
                    "type": "array",
                    "items": {"type": "object", "additionalProperties": True},
                },
            },
        }
    },
}


@dataclass
class _Reads:
    """What a view reads from its request, found in its source."""

    body: type | None = None
    body_required: bool = True
    query: dict[str, dict[str, Any]] = field(default_factory=dict)
    statuses: set[int] = field(default_factory=set)


def document(app: Chalice, server_url: str | None = None) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    models: dict[str, type] = {}  # request bodies
    answered: dict[str, type] = {}  # success bodies: their serialization schema
    for path, methods in sorted(app.routes.items()):
        for method, route in sorted(methods.items()):
            if getattr(route.view_function, "refusal", False):
                continue  # http.refuse_other_methods: a 405, not an operation
            reads = _reads_of(inspect.unwrap(route.view_function))
            operation: dict[str, Any] = {
                "operationId": route.view_name,
                "parameters": [
                    {"name": arg, "in": "path", "required": True, "schema": {"type": "string"}}
                    for arg in route.view_args
                ]
                + [
                    {"name": name, "in": "query", "required": False, "schema": schema}
                    for name, schema in sorted(reads.query.items())
                ],
                "responses": _responses(reads.statuses or {200}, route.authorizer is not None),
            }
            answer = _answer_model(inspect.unwrap(route.view_function))
            if answer is not None:
                if answered.setdefault(answer.__name__, answer) is not answer:
                    raise ValueError(f"two answer models are named {answer.__name__!r}")
                _declare_answer(operation, answer.__name__)
            _declare_media(operation, getattr(inspect.unwrap(route.view_function), "produces", ()))
            summary, _, description = (inspect.getdoc(route.view_function) or "").partition("\n")
            if summary:
                operation["summary"] = summary
            if description.strip():
                operation["description"] = description.strip()
            if route.authorizer is not None:
                operation["security"] = [{"bearer": []}]
            if reads.body is not None:
                models[reads.body.__name__] = reads.body
                operation["requestBody"] = {
                    "required": reads.body_required,
                    "content": {
                        "application/json": {
                            "schema": {"$ref": f"#/components/schemas/{reads.body.__name__}"}
                        }
                    },
                }
                operation["responses"]["415"] = {
                    "description": "the body is not sent as application/json",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                }
            paths.setdefault(path, {})[method.lower()] = operation
    schemas: dict[str, Any] = {"Error": _ERROR}
    for mode, named in (("validation", models), ("serialization", answered)):
        for name, model in sorted(named.items()):
            schema = model.model_json_schema(  # type: ignore[attr-defined]
                ref_template="#/components/schemas/{model}", mode=mode
            )
            for part, part_schema in {**schema.pop("$defs", {}), name: schema}.items():
                _add_component(schemas, part, part_schema)
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": "Gimhae Smart City API", "version": "1"},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
    _refer_to_named_sets(doc)
    if server_url:
        doc["servers"] = [{"url": server_url}]
    return doc


def _refer_to_named_sets(doc: dict[str, Any]) -> None:
    """A value set the document names (an enum component, e.g. `District`, `Period`) is that
    component wherever else it is written out: a query parameter read with `query_enum`, a
    request body's `Literal` field. So a generated client has one enum class per set (no
    `ListAlertsKind` beside `AlertKind`), and a set named once cannot be spelt twice."""
    schemas = doc["components"]["schemas"]
    named = {
        frozenset(schema["enum"]): name
        for name, schema in schemas.items()
        if schema.get("type") == "string" and "enum" in schema
    }

    def refer(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                refer(item)
        if not isinstance(node, dict):
            return
        values = node.get("enum")
        name = named.get(frozenset(values)) if node.get("type") == "string" and values else None
        if name is not None:
            kept = {k: v for k, v in node.items() if k in ("default", "description")}
            node.clear()
            node.update({"$ref": f"#/components/schemas/{name}", **kept})
            return
        for value in node.values():
            refer(value)

    for schema in schemas.values():
        for value in schema.values():
            refer(value)  # a component's parts, never the named set itself
    refer(doc["paths"])


def _add_component(schemas: dict[str, Any], name: str, schema: dict[str, Any]) -> None:
    """One name, one schema: two models of one name (in two modules) that differ would
    otherwise leave the document describing one of them for both."""
    if schemas.setdefault(name, schema) != schema:
        raise ValueError(f"two different schemas are named {name!r}: name one of them apart")


def _answer_model(view: Callable[..., Any]) -> type | None:
    """The model named by the view's `http.answers` mark, if any."""
    name = getattr(view, "answers", None)
    if name is None:
        return None
    found: type = _resolve(name)
    return found


def _resolve(name: str) -> Any:
    """`module:attr` under chalicelib.api (`http.answers`, `QUERY_VOCABULARY`)."""
    module, _, attr = name.partition(":")
    return getattr(importlib.import_module(f"chalicelib.api.{module}"), attr)


def _declare_answer(operation: dict[str, Any], model: str) -> None:
    for status, response in operation["responses"].items():
        if status.startswith("2"):
            response["content"] = {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{model}"}}
            }


def _responses(statuses: set[int], secured: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        str(status): {"description": "success", "content": {"application/json": {}}}
        for status in sorted(statuses)
    }
    for status, why in ERROR_STATUSES.items():
        if status in ("401", "403") and not secured:
            continue
        out[status] = {
            "description": why,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
    return out


@cache
def _reads_of(view: Callable[..., Any]) -> _Reads:
    reads = _Reads()
    _scan(view, reads, set())
    return reads


def _scan(fn: Callable[..., Any], reads: _Reads, seen: set[str]) -> None:
    """The request reads of `fn`, and of the functions of its own module it calls."""
    key = f"{fn.__module__}.{fn.__qualname__}"
    if key in seen:
        return
    seen.add(key)
    tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    names = _names(fn, tree)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        callee = node.func.id if isinstance(node.func, ast.Name) else None
        if callee in ("parse_body", "parse_optional_body") and len(node.args) >= 2:
            reads.body = _value(node.args[1], names)
            reads.body_required = callee == "parse_body"
        elif callee in _QUERY_READERS and len(node.args) >= 2:
            reads.query[_value(node.args[1], names)] = _query_schema(callee, node, names)
        elif callee == "Response":
            for keyword in node.keywords:
                if keyword.arg == "status_code":
                    reads.statuses |= {
                        c.value
                        for c in ast.walk(keyword.value)
                        if isinstance(c, ast.Constant) and isinstance(c.value, int)
                    }
        elif callee is not None:
            helper = names.get(callee)
            if inspect.isfunction(helper) and helper.__module__ == fn.__module__:
                _scan(helper, reads, seen)


_QUERY_READERS = ("query_int", "query_str", "query_enum", "query_time")


QUERY_VOCABULARY: dict[str, str] = {
    "district": "common_schemas:DISTRICT_QUERY",
    "scope": "common_schemas:BOARD_SCOPE_QUERY",
    "month": "common_schemas:MONTH_QUERY",
    "date": "common_schemas:SEOUL_DAY_QUERY",
    "year": "common_schemas:YEAR_QUERY",  # the project registry's (DESIGN §4d)
    "near": "common_schemas:NEAR_QUERY",
}
"""Query values that mean one thing on every route that reads them, by name: a district
code (an unknown one is a 422 `unknown_district`), a board's scope, a month `YYYY-MM`, a
Seoul day `YYYY-MM-DD`, a point `<lat>,<lon>` (`near`); their schemas are common_schemas'
(one source with the answers'). (`limit`, an integer, is typed by each route's own bounds:
`http.query_int`.)"""


def _query_schema(callee: str, node: ast.Call, names: dict[str, Any]) -> dict[str, Any]:
    if callee == "query_time":
        return {"type": "string", "format": "date-time"}
    if callee == "query_str":
        named = QUERY_VOCABULARY.get(_value(node.args[1], names))
        return dict(_resolve(named)) if named else {"type": "string"}
    if callee == "query_enum":
        allowed = _value(node.args[2], names) if len(node.args) >= 3 else None
        default = _value(node.args[3], names) if len(node.args) >= 4 else None
        default = {k.arg: _value(k.value, names) for k in node.keywords}.get("default", default)
        enum = {"type": "string", "enum": list(allowed or ())}
        return {**enum, "default": default} if default else enum  # "": an optional filter
    bounds = {k.arg: _value(k.value, names) for k in node.keywords if k.arg}
    schema: dict[str, Any] = {"type": "integer"}
    if "low" in bounds:
        schema["minimum"] = bounds["low"]
    if "high" in bounds:
        schema["maximum"] = bounds["high"]
    if "default" in bounds:
        schema["default"] = bounds["default"]
    return schema


def _names(fn: Callable[..., Any], tree: ast.AST) -> dict[str, Any]:
    """What a name means inside `fn`: its module's globals, and what it imports itself
    (the views import their pydantic models inside, to keep them off the cold start)."""
    names = dict(fn.__globals__)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            module = importlib.import_module(node.module)
            for alias in node.names:
                found = getattr(module, alias.name, None)
                if found is None:  # a submodule not imported yet
                    found = importlib.import_module(f"{node.module}.{alias.name}")
                names[alias.asname or alias.name] = found
    return names


def _value(node: ast.expr, names: dict[str, Any]) -> Any:
    if isinstance(node, ast.Name):
        return names[node.id]
    if isinstance(node, ast.Attribute):  # a module's constant: `boards.PERIOD_KINDS`
        return getattr(_value(node.value, names), node.attr)
    return ast.literal_eval(node)


_BINARY = {"type": "string", "format": "binary"}


def _declare_media(operation: dict[str, Any], produced: tuple[str, ...]) -> None:
    """A view marked with http.produces answers those media types, not JSON, on success;
    a client asking for none of them first may get a 406 (its error in the JSON shape)."""
    if not produced:
        return
    content = {}
    for produced_type in produced:
        media = produced_type.split(";", 1)[0].strip()  # a charset is a parameter, not a type
        text = media.startswith("text/")
        content[media] = {"schema": {"type": "string"} if text else _BINARY}
    for status, response in operation["responses"].items():
        if status.startswith("2"):
            response["content"] = content
    operation["responses"]["406"] = {
        "description": "the Accept header names no media type this route answers first",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
