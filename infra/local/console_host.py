"""The operators' console on the local stack's API origin, at `/console/`.

Serves the static files of `console/` with the same security headers CloudFront adds in
AWS (infra/console_site.py), the console's `config.json` (dev login), and the dev login
itself: `POST /console/dev-login {"sub", "roles"}` mints a dev token for a chosen person
and roles. It exists only here: the deployed API has no route that can mint a token.
"""

from __future__ import annotations

import json
import mimetypes
import re
from http import HTTPStatus
from pathlib import Path
from urllib.parse import unquote, urlsplit

from chalicelib.api.http import error_body
from chalicelib.domain.roles import ROLES
from infra.console_site import CONSOLE_DIR, PATH_PREFIX, security_headers, site_config, tile_origin
from infra.local.dev_issuer import DevIssuer

Response = tuple[int, dict[str, str], bytes]

LOGIN_PATH = PATH_PREFIX + "dev-login"
CONFIG_PATH = PATH_PREFIX + "config.json"
_PERSON = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
_MAX_LOGIN_BODY = 4096
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".geojson": "application/geo+json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".txt": "text/plain; charset=utf-8",
}


def is_console_path(path: str) -> bool:
    route = urlsplit(path).path
    return route == PATH_PREFIX.rstrip("/") or route.startswith(PATH_PREFIX)


class ConsoleHost:
    def __init__(
        self,
        issuer: DevIssuer,
        root: Path = CONSOLE_DIR,
        tiles: str | None = None,
        auth: dict[str, str] | None = None,
    ):
        """`auth` other than the dev login (e.g. a Cognito-like hosted login for a test of
        the PKCE flow) also names the one outside origin the console may call."""
        self._issuer = issuer
        self._root = root.resolve()
        self._tiles = tiles
        self._auth = auth or {"mode": "dev"}

    def handle(self, method: str, path: str, body: bytes | None) -> Response:
        route = unquote(urlsplit(path).path)
        if route == PATH_PREFIX.rstrip("/"):
            return HTTPStatus.MOVED_PERMANENTLY, {"Location": PATH_PREFIX}, b""
        if route == LOGIN_PATH:
            if method != "POST":
                return _error(HTTPStatus.METHOD_NOT_ALLOWED, "use POST to log in", allow="POST")
            return self._login(body or b"")
        if method not in ("GET", "HEAD"):
            return _error(
                HTTPStatus.METHOD_NOT_ALLOWED,
                "the console's files are read-only",
                allow="GET, HEAD",
            )
        if route == CONFIG_PATH:
            config = site_config("local", self._auth, self._tiles)
            return self._file(json.dumps(config).encode(), ".json")
        return self._static(route[len(PATH_PREFIX) :] or "index.html")

    def _static(self, relative: str) -> Response:
        if "\x00" in relative or relative.startswith("/"):
            return _error(HTTPStatus.NOT_FOUND, "no such page")
        try:
            target = (self._root / relative).resolve()
            if self._root not in target.parents or not target.is_file():
                return _error(HTTPStatus.NOT_FOUND, "no such page")
            content = target.read_bytes()
        except (OSError, ValueError):  # a name too long for the file system, say
            return _error(HTTPStatus.NOT_FOUND, "no such page")
        return self._file(content, target.suffix)

    def _file(self, content: bytes, suffix: str) -> Response:
        content_type = _TYPES.get(suffix) or mimetypes.guess_type("x" + suffix)[0]
        headers = {
            "Content-Type": content_type or "application/octet-stream",
            "Cache-Control": "no-cache",
            **security_headers(
                connect_src=[_origin(self._auth["domain"])] if "domain" in self._auth else [],
                img_src=[tile_origin(self._tiles)] if self._tiles else [],
            ),
        }
        return HTTPStatus.OK, headers, content

    def _login(self, body: bytes) -> Response:
        if len(body) > _MAX_LOGIN_BODY:
            return _error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "the login is too large")
        try:
            request = json.loads(body.decode("utf-8"))
        except (ValueError, RecursionError):  # not UTF-8, not JSON, or nested past the parser
            return _error(HTTPStatus.BAD_REQUEST, "the body is not JSON", "invalid_json")
        if not isinstance(request, dict) or set(request) - {"sub", "roles"}:
            return _error(HTTPStatus.UNPROCESSABLE_ENTITY, 'send {"sub": ..., "roles": [...]}')
        sub, roles = request.get("sub"), request.get("roles", [])
        if not isinstance(sub, str) or not _PERSON.fullmatch(sub):
            return _error(
                HTTPStatus.UNPROCESSABLE_ENTITY,
                "sub: 1-64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit",
            )
        if not isinstance(roles, list) or not all(isinstance(r, str) and r in ROLES for r in roles):
            return _error(HTTPStatus.UNPROCESSABLE_ENTITY, f"roles: a list of {', '.join(ROLES)}")
        token = self._issuer.mint(sub, roles=roles)
        headers = {"Content-Type": "application/json", "Cache-Control": "no-store"}
        return HTTPStatus.OK, headers, json.dumps({"token": token}).encode()


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _error(
    status: int, message: str, code: str | None = None, allow: str | None = None
) -> Response:
    headers = {"Content-Type": "application/json", "Cache-Control": "no-store"}
    if allow:
        headers["Allow"] = allow
    return status, headers, json.dumps(error_body(status, code, message)).encode()
