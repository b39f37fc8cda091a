"""The AWS emulator of the local stack: moto server, with the local stack's patches and IoT
Core's data plane, in a process of its own (the default) or in the stack's.

In its own process moto server has an interpreter and a GIL to itself, as an AWS endpoint is
a service of its own: in the stack's process it took about two thirds of that process's
CPU (bench/throughput.py), which then capped the rules engine, the event sources' pollers
and the API near one core on the 2-core development machine.

Whatever works on moto's memory runs where moto is, through :meth:`Emulator.call`: the
state's restore and save (infra/local/persistence.py), the data plane's MQTT connection
(:func:`connect_data_plane`) and a benchmark's direct table fill. A call names a function
by its import path and passes picklable arguments; its result or exception comes back.
The same calls run in the stack's process when the emulator does (``own_process=False``,
for tools that read moto's memory directly).

The emulator process is started with multiprocessing's "spawn" (a fork of a threaded
process is not safe), ignores Ctrl-C (the stack stops it), says nothing on stdout (a
benchmark's report is there) and exits when the stack's process dies.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import multiprocessing
import multiprocessing.connection
import os
import pickle
import signal
import socket
import sys
import threading
import traceback
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

# What connect_data_plane built, to be undone by disconnect_data_plane (in the emulator's
# process: its module globals).
_data_plane_stops: list[Callable[[], None]] = []


class EmulatorError(RuntimeError):
    """A call in the emulator's process failed; its type, text and trace are in the text."""


def serve(host: str, port: int) -> Callable[[], None]:
    """moto server on ``host:port`` with the local stack's patches; returns its stop."""
    from infra.local import journal, moto_corrections, moto_server

    moto_corrections.install(moto_corrections.SERVER)  # each listed with what it corrects
    journal.install()  # SQS messages journaled by id (requests: LocalMotoServer's app)
    # moto's server binds in its thread and, if it cannot, leaves start() waiting forever
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))  # OSError "Address already in use"
    # keep-alive connections: no TCP connection and server thread per request
    server = moto_server.server(host, port)
    with contextlib.redirect_stdout(sys.stderr):  # werkzeug's "Serving on ..."
        server.start()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    return server.stop


def connect_data_plane(
    host: str, port: int, ca_file: str, cert_file: str, key_file: str, client_id: str
) -> None:
    """IoT Core's data plane: iot-data Publish and shadow documents reach the broker through
    an MQTT connection of the emulator's own (infra/local/iot_data_patch.py; listed in
    infra/local/moto_corrections.py as applied with the DATA_PLANE)."""
    from infra.local.iot_data_patch import install_iot_data_bridge
    from infra.local.mqtt import BackendMqtt

    disconnect_data_plane()
    mqtt = BackendMqtt(host, port, ca_file, cert_file, key_file, client_id=client_id)
    mqtt.start()
    _data_plane_stops.append(mqtt.stop)
    _data_plane_stops.append(install_iot_data_bridge(mqtt))


def disconnect_data_plane() -> None:
    while _data_plane_stops:
        _data_plane_stops.pop()()


def _resolve(function: str) -> Callable[..., Any]:
    module, _, name = function.partition(":")
    return getattr(importlib.import_module(module), name)


class Emulator:
    """moto server on ``host:port``; in a process of its own unless ``own_process`` is
    False. ``environment``: what the emulator's process sees (default: this process's at
    ``start()``)."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        own_process: bool = True,
        environment: dict[str, str] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.own_process = own_process
        self._environment = environment
        self._process: Any = None
        self._conn: multiprocessing.connection.Connection | None = None
        self._lock = threading.Lock()  # one call at a time on the control connection
        self._stop_in_process: Callable[[], None] | None = None

    @property
    def pid(self) -> int:
        return int(self._process.pid) if self._process is not None else os.getpid()

    def start(self, timeout: float = 60.0) -> None:
        if not self.own_process:
            self._stop_in_process = serve(self.host, self.port)
            return
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe()
        environment = dict(self._environment if self._environment is not None else os.environ)
        self._process = context.Process(
            target=_main,
            args=(self.host, self.port, theirs, environment, logging.getLogger().level),
            name="aws-emulator",
            daemon=True,
        )
        self._process.start()
        theirs.close()
        self._conn = ours
        if not ours.poll(timeout):
            self._kill()
            raise EmulatorError(f"the AWS emulator did not start within {timeout:.0f}s")
        self._answer(ours)  # "serving", or the reason it could not

    def call(self, function: str, *args: Any, **kwargs: Any) -> Any:
        """``function`` ("module:name") called with these arguments where moto runs."""
        if not self.own_process:
            return _resolve(function)(*args, **kwargs)
        with self._lock:
            if self._conn is None:
                raise EmulatorError("the AWS emulator is not running")
            try:
                self._conn.send(("call", function, args, kwargs))
                return self._answer(self._conn)
            except (EOFError, OSError) as e:
                raise EmulatorError(f"the AWS emulator is gone ({e!r})") from e

    @staticmethod
    def _answer(conn: multiprocessing.connection.Connection) -> Any:
        ok, value = conn.recv()
        if ok:
            return value
        raise EmulatorError(value)

    def stop(self, timeout: float = 30.0) -> None:
        if not self.own_process:
            disconnect_data_plane()
            stop, self._stop_in_process = self._stop_in_process, None
            if stop is not None:
                stop()
            return
        with self._lock:
            conn, self._conn = self._conn, None
            if conn is not None:
                with contextlib.suppress(EOFError, OSError):
                    conn.send(("stop",))
                    if conn.poll(timeout):
                        conn.recv()
                conn.close()
        if self._process is not None:
            self._process.join(timeout)
            self._kill()

    def _kill(self) -> None:
        if self._process is not None and self._process.is_alive():
            log.warning("the AWS emulator did not stop; killing it")
            self._process.kill()
            self._process.join(5)
        self._process = None


def _main(
    host: str,
    port: int,
    conn: multiprocessing.connection.Connection,
    environment: dict[str, str],
    log_level: int,
) -> None:
    """The emulator's process: serve, then run the stack's calls until it says stop."""
    from infra.local.lambda_sandboxes import exit_with_parent

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the group; the stack stops us
    exit_with_parent()
    sys.stdout = sys.stderr
    os.environ.clear()
    os.environ.update(environment)
    logging.basicConfig(level=log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        stop = serve(host, port)
    except BaseException as e:
        conn.send((False, _describe(e)))
        return
    conn.send((True, "serving"))
    try:
        while True:
            try:
                message = conn.recv()
            except EOFError:
                break
            if message[0] == "stop":
                break
            _, function, args, kwargs = message
            conn.send(_run(function, args, kwargs))
    finally:
        from infra.local.journal import close

        disconnect_data_plane()
        close()
        stop()
        with contextlib.suppress(OSError):
            conn.send((True, "stopped"))
    # The stack has saved what it keeps: skip freeing moto's memory object by object on the
    # way out (an interpreter's finalisation took 4 s with 250,000 rows).
    logging.shutdown()
    sys.stderr.flush()
    os._exit(0)


def _run(function: str, args: Any, kwargs: Any) -> tuple[bool, Any]:
    try:
        result = _resolve(function)(*args, **kwargs)
        pickle.dumps(result)
    except Exception as e:
        return False, _describe(e)
    return True, result


def _describe(e: BaseException) -> str:
    return f"{type(e).__qualname__}: {e}\n{''.join(traceback.format_exception(e))}"
