"""The contracts as served: `GET /v1/asyncapi.json` and `GET /v1/docs` (the rendered reference
of both documents), to anyone, through the local API Gateway into the app."""

from __future__ import annotations

import base64
import copy
import hashlib
import re
from html.parser import HTMLParser
from typing import Any

from tests.functional.conftest import Api

VOID = {"meta", "br", "hr", "img", "input", "link", "col", "area", "base", "wbr", "source"}


class _Page(HTMLParser):
    """Reads a page strictly: every element closed in order, every id and link collected."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.tags: set[str] = set()
        self.text: list[str] = []
        self.style = ""
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        for name, value in attrs:
            if name == "id" and value:
                if value in self.ids:
                    self.problems.append(f"duplicate id {value}")
                self.ids.add(value)
            if name in ("href", "src", "action", "srcset") and value is not None:
                self.links.append(value)
            if name.startswith("on") or name == "style":
                self.problems.append(f"inline {name} on <{tag}>")
        if tag not in VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.open[-1:]}")
            return
        self.open.pop()

    def handle_data(self, data: str) -> None:
        if self.open and self.open[-1] == "style":
            self.style += data
        self.text.append(data)


def _read(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    page.close()
    assert page.problems == [] and page.open == [], (page.problems, page.open)
    return page


def test_anyone_gets_the_asyncapi_document(api: Api) -> None:
    from chalicelib.api import asyncapi

    response = api.call("GET", "/v1/asyncapi.json")
    assert response.status == 200
    assert response.body == asyncapi.document()
    assert response.body["asyncapi"] == "3.0.0"


def test_the_reference_renders_every_operation_and_channel_with_no_remote_resource(
    api: Api,
) -> None:
    # WHEN anyone asks for the reference
    response = api.call("GET", "/v1/docs")
    # THEN it is one UTF-8 HTML page that parses strictly
    assert response.status == 200
    headers = {k.lower(): str(v) for k, v in response.headers.items()}
    assert headers["content-type"] == "text/html; charset=utf-8"
    page = _read(response.body)
    # AND every operation of the OpenAPI document and every channel of the AsyncAPI one is on it
    openapi = api.call("GET", "/v1/openapi.json").body
    asyncapi = api.call("GET", "/v1/asyncapi.json").body
    for path, methods in openapi["paths"].items():
        for method, operation in methods.items():
            assert f"op-{operation['operationId']}" in page.ids, (method, path)
    text = "".join(page.text)
    for name, channel in asyncapi["channels"].items():
        assert f"channel-{name}" in page.ids
        assert channel["address"] in text and channel["x-direction"] in text
    for op_id in asyncapi["operations"]:
        assert op_id in text
    for reason in asyncapi["components"]["schemas"]["RejectedAck"]["properties"]["reason"]["enum"]:
        assert f'"{reason}"' in text
    for field in ("pm10", "pm25", "chargers.in_use", "citizen", "items[].material"):
        assert field in text, field
    # AND it needs nothing from anywhere: no script, no remote link, no style but its own
    assert "script" not in page.tags and "iframe" not in page.tags
    for link in page.links:
        assert link.startswith("#") or re.fullmatch(r"[a-z]+\.json", link), link
    assert "url(" not in page.style and "@import" not in page.style
    # AND its Content-Security-Policy allows that one style sheet and nothing else
    csp = headers["content-security-policy"]
    digest = base64.b64encode(hashlib.sha256(page.style.encode("utf-8")).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in csp
    assert "default-src 'none'" in csp and "script-src" not in csp
    assert headers["x-content-type-options"] == "nosniff"


def test_the_reference_escapes_what_the_documents_say() -> None:
    from app import app
    from chalicelib.api import asyncapi, openapi, reference

    # GIVEN documents whose texts hold markup and Korean
    http = copy.deepcopy(openapi.document(app))
    mqtt = asyncapi.document()
    first = next(iter(http["paths"].values()))
    operation = next(iter(first.values()))
    operation["summary"] = '<script>alert("x")</script> 스마트쉼터 & <b>bold</b>'
    mqtt["channels"]["robot_status"]["summary"] = "<img src=x onerror=alert(1)>"
    mqtt["components"]["schemas"]["Deposit"]["properties"]["event_id"]["pattern"] = "</td><td>"
    # WHEN the page is rendered
    html = reference.page(http, mqtt)
    # THEN the markup shows as text, and the Korean as itself
    page = _read(html)
    assert "script" not in page.tags and "img" not in page.tags and "b" not in page.tags
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; 스마트쉼터 &amp;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_the_reference_copes_with_any_schema_shape() -> None:
    from chalicelib.api import asyncapi, reference

    # GIVEN an operation whose answer uses refs, enums, nullable anyOf, nested objects and
    # arrays, a map, a const, a cycle; and one that declares no schema at all
    schemas: dict[str, Any] = {
        "Node": {
            "type": "object",
            "required": ["kind"],
            "properties": {
                "kind": {"type": "string", "enum": ["a", "b"]},
                "child": {"anyOf": [{"$ref": "#/components/schemas/Node"}, {"type": "null"}]},
                "tags": {"type": "array", "items": {"type": "string", "maxLength": 3}},
                "where": {"type": "object", "properties": {"lat": {"type": "number"}}},
                "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
                "fixed": {"const": 1},
            },
        }
    }
    ok = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Node"}}}}
    http = {
        "openapi": "3.1.0",
        "info": {"title": "T", "version": "1"},
        "paths": {
            "/a": {"get": {"operationId": "get_a", "responses": {"200": ok}}},
            "/b": {"post": {"operationId": "post_b", "responses": {"201": {"description": "x"}}}},
        },
        "components": {"schemas": schemas},
    }
    # WHEN it is rendered
    page = _read(reference.page(http, asyncapi.document()))
    # THEN each shape shows, and the cycle ends
    text = "".join(page.text)
    assert {"op-get_a", "op-post_b", "http-schema-Node"} <= page.ids
    for shown in ('one of "a" | "b"', "Node | null", "array of string", "where.lat", "map of"):
        assert shown in text, shown
