"""API Gateway in front of the Chalice app, locally: Chalice's local gateway plus what we
configure on the real one (gateway responses in our JSON error shape, 401 from the authorizer)."""

from __future__ import annotations

import base64
import functools
import json
from http import HTTPStatus
from typing import Any

from chalice.app import Chalice
from chalice.config import Config
from chalice.local import (
    ChaliceRequestHandler,
    LocalDevServer,
    LocalGateway,
    LocalGatewayException,
    NotAuthorizedError,
    create_local_server,
)

from chalicelib.api.gateway_responses import body, by_status, by_type
from chalicelib.api.http import error_body
from infra.local.console_host import ConsoleHost, is_console_path

_REFUSALS: dict[int, str] = {
    HTTPStatus.METHOD_NOT_ALLOWED: "this method is not supported",
    HTTPStatus.REQUEST_URI_TOO_LONG: "the request line is too long",
    HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE: "a header is too large, or there are too many",
}


class ApiGateway(LocalGateway):
    """Raises LocalGatewayException for everything API Gateway itself would answer."""

    def handle_request(self, method: str, path: str, headers: Any, body: Any) -> Any:
        try:
            return super().handle_request(method, path, headers, body)
        except LocalGatewayException:
            raise
        except Exception as e:
            # A Lambda authorizer failing with "Unauthorized" is API Gateway's 401.
            if str(e) == "Unauthorized":
                raise NotAuthorizedError({}, b"") from e
            raise


def shaped(error: LocalGatewayException) -> tuple[int, dict[str, str], bytes]:
    error_type = (error.headers or {}).get("x-amzn-ErrorType")
    if error.CODE == 403 and error_type == "UnauthorizedException":
        # API Gateway's answer for a path that has no route.
        response = by_type("MISSING_AUTHENTICATION_TOKEN")
    else:
        response = by_status(error.CODE)
    headers = {k: v for k, v in (error.headers or {}).items() if k.lower() != "content-type"}
    headers["Content-Type"] = "application/json"
    status = error.CODE if response.is_default else response.status
    return status, headers, json.dumps(body(response)).encode()


def request(
    gateway: LocalGateway, method: str, path: str, headers: dict[str, str], body_bytes: bytes | None
) -> tuple[int, dict[str, Any], bytes]:
    """One request through the gateway: (status, headers, body). Used by tests and the server."""
    try:
        response = gateway.handle_request(
            method=method, path=path, headers=headers, body=body_bytes
        )
    except LocalGatewayException as e:
        return shaped(e)
    raw = response.get("body") or b""
    if response.get("isBase64Encoded"):
        raw = base64.b64decode(raw)
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    merged = dict(response.get("headers") or {})
    merged.update(response.get("multiValueHeaders") or {})
    return int(response["statusCode"]), merged, raw


class _Handler(ChaliceRequestHandler):
    def __init__(
        self,
        request: Any,
        client_address: Any,
        server: Any,
        app_object: Chalice,
        config: Config,
        console: ConsoleHost | None = None,
    ) -> None:
        self._gateway = ApiGateway(app_object, config)
        self._console = console
        super().__init__(request, client_address, server, app_object=app_object, config=config)
        # ChaliceRequestHandler builds its own LocalGateway; ours replaces it.

    def setup(self) -> None:
        super().setup()
        self.local_gateway = self._gateway

    def _generic_handle(self) -> None:
        """The console's files and dev login on the API's origin (CloudFront's `/console/*`
        behaviour in AWS); every other path goes to API Gateway."""
        if self._console is None or not is_console_path(self.path):
            super()._generic_handle()
            return
        _, body = self._parse_payload()
        status, headers, payload = self._console.handle(self.command, self.path, body)
        self._send_http_response(status, headers, payload)

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_PATCH = do_OPTIONS = _generic_handle

    def _send_error_response(self, error: LocalGatewayException) -> None:
        status, headers, payload = shaped(error)
        self._send_http_response(status, headers, payload)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """What http.server answers before any route runs (an oversized header or request
        line, a method it has no handler for, a garbled request), in our JSON error shape
        as API Gateway's gateway responses give it, never its HTML page. An unknown method
        (TRACE, made-up ones) is a 405: a 5xx would claim a bug of ours."""
        status = HTTPStatus.METHOD_NOT_ALLOWED if code == HTTPStatus.NOT_IMPLEMENTED else code
        text = _REFUSALS.get(status) or by_status(status).message
        payload = json.dumps(error_body(status, None, text)).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _send_http_response_with_body(
        self, code: int, headers: dict[str, Any], body: str | bytes
    ) -> None:
        """HEAD gets the status and headers GET would (the JSON error's type and length)
        and no body: bytes after a HEAD response would be read as the next response."""
        if self.command != "HEAD":
            super()._send_http_response_with_body(code, headers, body)
            return
        data = body if isinstance(body, bytes) else body.encode("utf-8")
        self.send_response(code)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Content-Type", headers.pop("Content-Type", "application/json"))
        self._send_headers(headers)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve(
    app: Chalice, config: Config, host: str, port: int, console: ConsoleHost | None = None
) -> LocalDevServer:
    """Chalice's local server with our gateway (and the console, when given); run
    serve_forever() in a thread."""
    server = create_local_server(app, config, host, port)
    server.server.RequestHandlerClass = functools.partial(
        _Handler, app_object=server.app_object, config=config, console=console
    )
    return server
