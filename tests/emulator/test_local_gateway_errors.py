"""The local gateway answers what http.server refuses before any route runs (oversized
headers or request lines, methods it has no handler for) and HEAD requests in the JSON error
shape, as API Gateway's gateway responses do; over a real socket, because those answers
never reach the app."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from chalice.config import Config

from infra.local.api_gateway import serve


@pytest.fixture(scope="session")
def port(issuer: Any) -> Iterator[int]:
    """One server per session: Chalice's local server rebases the app's class, and only once
    in a process (a second server, even after the first stopped, is a TypeError). None of
    these requests reaches a table (the authorizer or the router answers first)."""
    from app import app

    server = serve(app, Config.create(chalice_stage="dev", app_name="gimhae"), "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server.server_address[1]
    server.shutdown()
    server.server.server_close()


def _call(
    conn: http.client.HTTPConnection, method: str, path: str, headers: dict[str, str] | None = None
) -> tuple[int, http.client.HTTPResponse, bytes]:
    conn.request(method, path, headers=headers or {})
    response = conn.getresponse()
    return response.status, response, response.read()


def _error_code(raw: bytes) -> str:
    document = json.loads(raw)
    assert set(document["error"]) == {"code", "message", "details"}
    return document["error"]["code"]


@pytest.mark.parametrize(
    ("method", "path", "headers", "status", "code"),
    [
        ("TRACE", "/v1/me", {}, 405, "method_not_allowed"),
        ("BREW", "/v1/me", {}, 405, "method_not_allowed"),
        ("GET", "/v1/me", {"X-Big": "a" * 70_000}, 431, "headers_too_large"),
        ("GET", "/v1/me", {f"X-H{i}": "a" for i in range(120)}, 431, "headers_too_large"),
        ("GET", "/v1/" + "a" * 70_000, {}, 414, "uri_too_long"),
    ],
)
def test_what_the_server_refuses_is_in_the_json_error_shape(
    port: int, method: str, path: str, headers: dict[str, str], status: int, code: str
) -> None:
    # GIVEN the local gateway on a socket
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        # WHEN a request it cannot route arrives
        got, response, raw = _call(conn, method, path, headers)
    finally:
        conn.close()

    # THEN it is a 4xx in our JSON shape, never HTML and never a 5xx
    assert got == status
    assert response.getheader("Content-Type") == "application/json"
    assert _error_code(raw) == code


@pytest.mark.parametrize("path", ["/v1/me", "/v1/no-such-route"])
def test_head_gets_the_json_errors_headers_and_no_stray_body(port: int, path: str) -> None:
    # GIVEN one keep-alive connection
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        # WHEN a HEAD is sent, then a GET on the same connection
        head_status, head, head_body = _call(conn, "HEAD", path)
        get_status, get, get_body = _call(conn, "GET", path)
    finally:
        conn.close()

    # THEN HEAD is refused (no route answers HEAD) with the JSON error's type and length and
    # no body bytes: bytes left on the connection would have been read as the GET's answer
    assert 400 <= head_status < 500
    if path == "/v1/me":  # a route that serves DELETE, GET and PUT: HEAD is not one of them
        assert head_status == 405 and head.getheader("Allow") == "DELETE, GET, PUT"
    assert head.getheader("Content-Type") == "application/json"
    assert int(head.getheader("Content-Length")) > 0 and head_body == b""
    # AND the GET on the same connection reads cleanly, in the JSON shape
    assert 400 <= get_status < 500 and get.getheader("Content-Type") == "application/json"
    assert _error_code(get_body) in {"unauthorized", "not_found"}
