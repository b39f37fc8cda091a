"""A stand-in for Cognito's hosted login on 127.0.0.1, for the console's PKCE flow.

It does what the console relies on Cognito to do: `/oauth2/authorize` takes an S256 code
challenge and sends the browser back with a one-time code and the state unchanged;
`/oauth2/token` trades the code for tokens only with the matching `code_verifier`, the same
client and redirect URI (a public client: no secret), answering with CORS for the console's
origin as Cognito does; `/logout` sends the browser to the logout URI. What it saw is kept
for the test to assert on.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit


@dataclass
class HostedLogin:
    client_id: str
    mint: Callable[[], str]
    """Makes the ID token for the person who logs in."""
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    exchanges: list[dict[str, Any]] = field(default_factory=list)
    logouts: list[dict[str, str]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> HostedLogin:
        login = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                if parts.path == "/oauth2/authorize":
                    self._authorize(query)
                elif parts.path == "/logout":
                    login.logouts.append(query)
                    self._redirect(query["logout_uri"])
                else:
                    self._json(404, {"error": "not_found"})

            def do_POST(self) -> None:
                if urlsplit(self.path).path != "/oauth2/token":
                    self._json(404, {"error": "not_found"})
                    return
                length = int(self.headers.get("content-length", "0"))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                login.exchanges.append(form)
                pending = login.codes.pop(form.get("code", ""), None)
                verifier = form.get("code_verifier", "")
                if (
                    pending is None
                    or form.get("grant_type") != "authorization_code"
                    or form.get("client_id") != login.client_id
                    or form.get("redirect_uri") != pending["redirect_uri"]
                    or _s256(verifier) != pending["challenge"]
                ):
                    self._json(400, {"error": "invalid_grant"})
                    return
                token = login.mint()
                self._json(
                    200,
                    {
                        "id_token": token,
                        "access_token": token,
                        "token_type": "Bearer",
                        "expires_in": 3600,
                    },
                )

            def _authorize(self, query: dict[str, str]) -> None:
                if (
                    query.get("response_type") != "code"
                    or query.get("client_id") != login.client_id
                    or query.get("code_challenge_method") != "S256"
                    or not query.get("code_challenge")
                ):
                    self._json(400, {"error": "invalid_request"})
                    return
                code = secrets.token_urlsafe(16)
                login.codes[code] = {
                    "challenge": query["code_challenge"],
                    "redirect_uri": query["redirect_uri"],
                }
                back = urlencode({"code": code, "state": query.get("state", "")})
                self._redirect(f"{query['redirect_uri']}?{back}")

            def _redirect(self, location: str) -> None:
                self.send_response(302)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _json(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                origin = self.headers.get("origin")
                if origin:
                    self.send_header("Access-Control-Allow-Origin", origin)
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
