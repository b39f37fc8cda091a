"""The local console host as a hostile client meets it: odd methods, traversal in every
encoding, NUL bytes, very long paths, and dev logins that are not what the console sends.
Every answer is a clear JSON error or a file from `console/`; never a 5xx, never a file
from anywhere else."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.console_site import CONSOLE_DIR
from infra.local.console_host import ConsoleHost
from infra.local.dev_issuer import ensure_issuer


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> ConsoleHost:
    return ConsoleHost(ensure_issuer(tmp_path_factory.mktemp("issuer")))


CONSOLE_FILES = {
    p.read_bytes() for p in CONSOLE_DIR.rglob("*") if p.is_file() and p.stat().st_size < 2_000_000
}
REPO = CONSOLE_DIR.parent


def _error(status: int, headers: dict[str, str], body: bytes) -> dict[str, object]:
    assert 400 <= status < 500, (status, body[:200])
    assert headers["Content-Type"] == "application/json"
    error = json.loads(body)["error"]
    assert error["message"], error
    return dict(error)


@pytest.mark.parametrize(
    "path",
    [
        "/console/../app.py",
        "/console/%2e%2e/app.py",
        "/console/%2E%2E%2Fapp.py",
        "/console/..%2fapp.py",
        "/console/js/..%2f..%2fapp.py",
        "/console/%252e%252e/app.py",
        "/console/..%5capp.py",
        "/console/..\\app.py",
        "/console/%2fetc%2fpasswd",
        "/console//etc/passwd",
        "/console/%00",
        "/console/index.html%00.js",
        "/console/js/%00/../main.js",
        "/console/css",
        "/console/" + "a" * 10_000,
        "/console/" + "../" * 50 + "etc/passwd",
        "/console/%C0%AE%C0%AE/app.py",
        "/console/%ff%fe",
        "/console/\udcff",
    ],
    ids=lambda path: path[:40],
)
def test_a_path_outside_the_console_is_not_found(host: ConsoleHost, path: str) -> None:
    for method in ("GET", "HEAD"):
        status, headers, body = host.handle(method, path, None)
        if status == 200:  # only ever a file of console/ (e.g. `js/%00/../main.js` is not one)
            assert body in CONSOLE_FILES, (path, body[:80])
        else:
            assert status == 404, (path, status)
            _error(status, headers, body)
    assert (REPO / "app.py").read_bytes() not in CONSOLE_FILES


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "PROPFIND"])
def test_the_files_are_read_only(host: ConsoleHost, method: str) -> None:
    status, headers, body = host.handle(method, "/console/index.html", b"x")
    assert status == 405
    assert headers["Allow"] == "GET, HEAD"
    _error(status, headers, body)


def test_head_answers_like_get(host: ConsoleHost) -> None:
    got = host.handle("GET", "/console/js/main.js", None)
    head = host.handle("HEAD", "/console/js/main.js", None)
    assert got[0] == head[0] == 200
    assert got[1]["Content-Type"] == head[1]["Content-Type"] == "text/javascript; charset=utf-8"
    assert "script-src 'self'" in head[1]["Content-Security-Policy"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"", 400),
        (b"sub=ops&roles=admin", 400),  # a form post, not JSON
        (b"\xff\xfe{}", 400),  # not UTF-8
        (b"null", 422),
        (b"[]", 422),
        (b'"admin"', 422),
        (b'{"sub": 123, "roles": ["admin"]}', 422),
        (b'{"sub": null, "roles": ["admin"]}', 422),
        (b'{"sub": ["ops"], "roles": ["admin"]}', 422),
        (b'{"sub": "ops", "roles": "admin"}', 422),
        (b'{"sub": "ops", "roles": ["root"]}', 422),
        (b'{"sub": "ops", "roles": ["Admin"]}', 422),
        (b'{"sub": "ops", "roles": [1]}', 422),
        (b'{"sub": "ops", "roles": [["admin"]]}', 422),
        (b'{"sub": "ops", "roles": ["admin"], "groups": ["admin"]}', 422),
        (b'{"sub": "<img src=x>", "roles": ["admin"]}', 422),
        (b'{"sub": "-ops", "roles": ["admin"]}', 422),
        (b'{"sub": "' + b"a" * 65 + b'", "roles": ["admin"]}', 422),
        (b'{"sub": "ops\\u0000", "roles": ["admin"]}', 422),
        (b'{"sub": "ops\\n", "roles": ["admin"]}', 422),
        (b'{"sub": "ops", "roles": ["admin"], "pad": "' + b"x" * 65_536 + b'"}', 413),
        (b"[" * 2000 + b"]" * 2000, 400),  # deep nesting: refused, not a RecursionError 500
    ],
    ids=lambda value: repr(value)[:40],
)
def test_a_dev_login_that_is_not_one_gets_a_clear_error(
    host: ConsoleHost, body: bytes, status: int
) -> None:
    answer = host.handle("POST", "/console/dev-login", body)
    assert answer[0] == status, answer
    _error(*answer)


def test_duplicated_roles_mint_each_role_once(host: ConsoleHost) -> None:
    import jwt

    status, _headers, body = host.handle(
        "POST", "/console/dev-login", b'{"sub": "ops-1", "roles": ["admin", "admin", "finance"]}'
    )
    assert status == 200
    claims = jwt.decode(json.loads(body)["token"], options={"verify_signature": False})
    assert claims["cognito:groups"] == ["admin", "finance"]


def test_the_dev_login_is_post_only(host: ConsoleHost) -> None:
    for method in ("GET", "HEAD", "PUT"):
        status, headers, body = host.handle(method, "/console/dev-login", None)
        assert status == 405 and headers["Allow"] == "POST"
        _error(status, headers, body)


def test_config_and_files_carry_the_policy(host: ConsoleHost, tmp_path: Path) -> None:
    for path in ("/console/", "/console/config.json", "/console/js/main.js"):
        status, headers, _body = host.handle("GET", path, None)
        assert status == 200
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        assert headers["X-Content-Type-Options"] == "nosniff"
