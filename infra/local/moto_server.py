"""moto server for the local stack, with what a request costs cut to what it does.

moto 5.2.5's server (werkzeug's threaded dev server in front of Flask) spends much of every
request on things a request does not need; on the 2-core development machine, at a few
hundred requests a second, they were a third of the stack's process:

- **Service dispatch, memoised per host.** `DomainDispatcherApplication.get_application`
  finds the service of every request with `get_backend_for_host`, which lists moto's package
  folder (an `isdir` per service, about 200) and, for a host that is not a module name
  (``sqs.<region>.amazonaws.com``), tries every backend's URL patterns in turn, under one
  lock all request threads share. Its answer depends on the host alone (the folder and the
  patterns are fixed at import): `install()` keeps it per host, for each dispatcher.
- **Keep-alive.** werkzeug's dev server answers every request with ``Connection: close``
  (http.server cannot skip a body the application left unread), so every request paid a TCP
  connection and a new server thread (and then waited 10 ms for stray bytes to discard).
  :class:`LocalMotoServer` keeps connections open: its handler reads what the application
  left of a body before the next request, keeps werkzeug's discard away from the next
  request, and closes the connection (saying so) when it cannot know where a body ends,
  after an error http.server answers itself, or after `IDLE_TIMEOUT_S` idle.

`check()` names what changed in moto or werkzeug under these, for the guard test.
"""

from __future__ import annotations

import functools
import io
import threading
from collections.abc import Callable
from typing import IO, Any, cast

from moto import backends
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.exceptions import ClientDisconnected
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wsgi import LimitedStream

from infra.local import moto_pins

IDLE_TIMEOUT_S = 30.0
"""A kept-alive connection with no request for this long is closed (its thread ends)."""

# sha256 (first 16 hex digits) of the source of what the patches rely on: a backend found
# from the host alone, with a fixed module list and fixed URL patterns; the server built as
# ThreadedMotoServer builds it; werkzeug's handler forcing `Connection: close` and reading the
# body straight from the socket.
EXPECTED_SOURCES: dict[str, str] = {
    "DomainDispatcherApplication.get_backend_for_host": "1f41972c1e4e660f",
    "DomainDispatcherApplication.get_application": "0ff6939685bde917",
    "DomainDispatcherApplication.__init__": "fb61347b637f8eff",
    "backends.list_of_moto_modules": "4f741a10b06500e8",
    "ThreadedMotoServer._server_entry": "ef744bd45e1e465a",
    "MotoRequestHandler": "fd31947e647cc2fc",
    "WSGIRequestHandler.run_wsgi": "774df60c75afd439",
    "WSGIRequestHandler.make_environ": "5aa026f5fa8ca3c2",
}

_MARK = "_gimhae_moto_server"
_install_lock = threading.Lock()


def _own(fn: Callable[..., Any]) -> Callable[..., Any]:
    return getattr(fn, _MARK, fn)


def _pinned() -> dict[str, Any]:
    dispatcher = DomainDispatcherApplication
    return {
        "DomainDispatcherApplication.get_backend_for_host": _own(dispatcher.get_backend_for_host),
        "DomainDispatcherApplication.get_application": dispatcher.get_application,
        "DomainDispatcherApplication.__init__": dispatcher.__init__,
        "backends.list_of_moto_modules": backends.list_of_moto_modules,
        "ThreadedMotoServer._server_entry": ThreadedMotoServer._server_entry,
        "MotoRequestHandler": MotoRequestHandler,
        "WSGIRequestHandler.run_wsgi": WSGIRequestHandler.run_wsgi,
        "WSGIRequestHandler.make_environ": WSGIRequestHandler.make_environ,
    }


def check() -> list[str]:
    """What differs from the moto this module was written against (empty: nothing)."""
    return moto_pins.differences(_pinned(), EXPECTED_SOURCES, _own)


# Service dispatch -------------------------------------------------------------------------


def _memoised(find: Callable[[Any, str | None], Any]) -> Callable[[Any, str | None], Any]:
    @functools.wraps(find)
    def get_backend_for_host(self: Any, host: str | None) -> Any:
        found: dict[str | None, Any] = self.__dict__.setdefault(_MARK, {})
        try:
            return found[host]
        except KeyError:
            backend = found[host] = find(self, host)
            return backend

    setattr(get_backend_for_host, _MARK, find)
    return get_backend_for_host


def installed() -> bool:
    return hasattr(DomainDispatcherApplication.get_backend_for_host, _MARK)


def install() -> None:
    """Memoise the service dispatch (idempotent); not on a moto this was not written for."""
    with _install_lock:
        if not installed() and _still_fits("the service dispatch is not memoised"):
            DomainDispatcherApplication.get_backend_for_host = _memoised(  # type: ignore[method-assign,assignment]
                DomainDispatcherApplication.get_backend_for_host
            )


def _still_fits(consequence: str) -> bool:
    return moto_pins.still_fits(__name__, consequence, check())


def uninstall() -> None:
    with _install_lock:
        if installed():
            DomainDispatcherApplication.get_backend_for_host = _own(  # type: ignore[method-assign]
                DomainDispatcherApplication.get_backend_for_host
            )


# Keep-alive -------------------------------------------------------------------------------


class KeepAliveRequestHandler(MotoRequestHandler):
    """moto's request handler, keeping HTTP/1.1 connections open between requests."""

    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT_S  # socket timeout: an idle connection ends its thread
    # werkzeug writes an answer's status line, headers and body separately: on a kept-alive
    # connection Nagle's algorithm would hold each answer's tail for the client's delayed
    # ACK (~40 ms a request). (Not a buffered wfile: `100 Continue` would sit in its buffer
    # and botocore's S3 uploads wait 1 s for it.)
    disable_nagle_algorithm = True
    _body: LimitedStream | None = None
    _socket_rfile: Any = None
    _keep_alive = False  # within run_wsgi, with the request's body bounded

    def make_environ(self) -> dict[str, Any]:
        environ = super().make_environ()  # wsgi.input: the socket's stream (or dechunked)
        self._body = None
        if not environ.get("wsgi.input_terminated"):  # chunked bodies end where they say
            length = environ.get("CONTENT_LENGTH") or "0"
            if length.isdigit():
                self._body = LimitedStream(cast(IO[bytes], self.rfile), int(length))
                environ["wsgi.input"] = self._body
        # After answering, werkzeug discards whatever the socket holds, as if no request
        # could follow (it would swallow the next one): it gets an empty stream to read.
        self._socket_rfile, self.rfile = self.rfile, io.BytesIO()
        return environ

    def run_wsgi(self) -> None:
        self._body = None
        self._socket_rfile = None
        self._keep_alive = True
        try:
            super().run_wsgi()
        finally:
            self._keep_alive = False
            if self._socket_rfile is not None:
                self.rfile = self._socket_rfile
        if self._body is None:
            self.close_connection = True  # where this request's body ends is not known
        elif not self.close_connection:
            try:
                self._body.exhaust()  # what the application left unread, before the next
            except (ClientDisconnected, OSError):
                self.close_connection = True

    def log_error(self, format: str, *args: Any) -> None:
        if format.startswith("Request timed out"):
            return  # an idle kept-alive connection closing (http.server's words), not a failure
        super().log_error(format, *args)

    def send_header(self, keyword: str, value: str) -> None:
        if (
            keyword.lower() == "connection"
            and value.lower() == "close"
            and self._keep_alive
            and self._body is not None
        ):
            return  # werkzeug closes every connection; run_wsgi decides instead
        super().send_header(keyword, value)


def server(ip_address: str, port: int) -> ThreadedMotoServer:
    """The local stack's moto server: keep-alive, unless werkzeug or moto changed under it."""
    if _still_fits("connections are not kept alive"):
        return LocalMotoServer(ip_address=ip_address, port=port, verbose=False)
    return ThreadedMotoServer(ip_address=ip_address, port=port, verbose=False)


class LocalMotoServer(ThreadedMotoServer):
    """moto's ThreadedMotoServer with keep-alive connections."""

    def _server_entry(self) -> None:
        from infra.local.journal import JournaledApplication

        # every change journaled before its answer leaves (infra/local/journal.py)
        app = JournaledApplication(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(
            self._ip_address,
            self._port,
            app,
            True,
            request_handler=KeepAliveRequestHandler,
        )
        self._server_ready_event.set()
        self._server.serve_forever()
