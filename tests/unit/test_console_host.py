"""The console on the local stack's origin: its files with the console's security headers,
its config (the staff powers from domain/roles.py), and the dev login, which mints a token
the API's authorizer accepts for exactly the chosen roles."""

from __future__ import annotations

import json
from pathlib import Path

import jwt
import pytest

from chalicelib.domain.roles import Power, roles_for
from infra.console_site import content_security_policy
from infra.local.console_host import ConsoleHost, is_console_path
from infra.local.dev_issuer import ensure_issuer


@pytest.fixture
def host(tmp_path: Path) -> ConsoleHost:
    root = tmp_path / "console"
    (root / "js").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html><title>콘솔</title>", encoding="utf-8")
    (root / "js" / "main.js").write_text("export {};", encoding="utf-8")
    (tmp_path / "secret.txt").write_text("not for the browser", encoding="utf-8")
    return ConsoleHost(ensure_issuer(tmp_path / "state"), root=root)


def test_only_console_paths_are_the_consoles() -> None:
    assert is_console_path("/console") and is_console_path("/console/js/main.js?v=1")
    assert not is_console_path("/consoles") and not is_console_path("/v1/console/")


def test_the_index_and_modules_come_with_the_strict_policy(host: ConsoleHost) -> None:
    status, headers, body = host.handle("GET", "/console/", None)
    assert status == 200 and "콘솔" in body.decode()
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Content-Security-Policy"] == content_security_policy()
    assert "script-src 'self';" in headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"
    status, headers, _ = host.handle("GET", "/console/js/main.js", None)
    assert status == 200 and headers["Content-Type"].startswith("text/javascript")


def test_the_bare_path_redirects_to_the_folder(host: ConsoleHost) -> None:
    status, headers, _ = host.handle("GET", "/console", None)
    assert status == 301 and headers["Location"] == "/console/"


@pytest.mark.parametrize(
    "path",
    [
        "/console/../secret.txt",
        "/console/%2e%2e/secret.txt",
        "/console/js/../../secret.txt",
        "/console//etc/passwd",
        "/console/nothing.js",
        "/console/js",
        "/console/a%00.js",
    ],
)
def test_nothing_outside_the_folder_or_missing_is_served(host: ConsoleHost, path: str) -> None:
    status, _headers, body = host.handle("GET", path, None)
    assert status == 404
    assert json.loads(body)["error"]["code"] == "not_found"
    assert b"not for the browser" not in body


def test_files_are_read_only(host: ConsoleHost) -> None:
    status, headers, _body = host.handle("PUT", "/console/index.html", b"x")
    assert status == 405 and headers["Allow"] == "GET, HEAD"


def test_the_config_says_dev_login_and_every_power_from_the_roles_table(host: ConsoleHost) -> None:
    status, _, body = host.handle("GET", "/console/config.json", None)
    config = json.loads(body)
    assert status == 200
    assert config["auth"] == {"mode": "dev"} and config["tiles"] is None
    assert config["powers"] == {p.value: list(roles_for(p)) for p in Power}


def test_tiles_when_configured_are_the_one_outside_origin_images_may_come_from(
    tmp_path: Path,
) -> None:
    host = ConsoleHost(ensure_issuer(tmp_path), tiles="https://tiles.example/{z}/{x}/{y}.png")
    _, headers, body = host.handle("GET", "/console/config.json", None)
    assert json.loads(body)["tiles"]["url"] == "https://tiles.example/{z}/{x}/{y}.png"
    assert "img-src 'self' data: https://tiles.example;" in headers["Content-Security-Policy"]


def test_dev_login_mints_a_token_with_exactly_the_chosen_roles(
    host: ConsoleHost, tmp_path: Path
) -> None:
    body = json.dumps({"sub": "fin-2", "roles": ["finance", "support"]}).encode()
    status, headers, answer = host.handle("POST", "/console/dev-login", body)
    assert status == 200 and headers["Cache-Control"] == "no-store"
    claims = jwt.decode(json.loads(answer)["token"], options={"verify_signature": False})
    assert claims["sub"] == "fin-2" and claims["cognito:groups"] == ["finance", "support"]
    issuer = ensure_issuer(tmp_path / "state")
    assert claims["iss"] == issuer.issuer and claims["aud"] == issuer.audience


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"", 400),
        (b"{", 400),
        (b"\xff\xfe", 400),
        (b"[]", 422),
        (b'{"sub": "a", "roles": ["root"]}', 422),
        (b'{"sub": "a", "roles": "admin"}', 422),
        (b'{"sub": "", "roles": []}', 422),
        (b'{"sub": 7}', 422),
        (b'{"sub": "a b"}', 422),
        ('{"sub": "김해"}'.encode(), 422),
        (b'{"sub": "a", "admin": true}', 422),
        (json.dumps({"sub": "a" * 65}).encode(), 422),
        (json.dumps({"sub": "a", "roles": ["admin"] * 5000}).encode(), 413),
    ],
)
def test_a_bad_login_is_a_clear_error(host: ConsoleHost, body: bytes, status: int) -> None:
    got, _headers, answer = host.handle("POST", "/console/dev-login", body)
    assert got == status
    assert json.loads(answer)["error"]["message"]


def test_the_login_takes_only_post(host: ConsoleHost) -> None:
    status, headers, _ = host.handle("GET", "/console/dev-login", None)
    assert status == 405 and headers["Allow"] == "POST"
