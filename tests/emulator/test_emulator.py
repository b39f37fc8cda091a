"""The local stack's AWS emulator (infra/local/emulator.py): moto server in a process of its
own, with the stack's calls on moto's memory run there, and the same calls in-process."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from infra.local.emulator import Emulator, EmulatorError
from infra.local.stack import REGION, free_port
from tests.emulator.killed_stack import children_of_a_killed_stack, still_running

ENV = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_DEFAULT_REGION": REGION}


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _sqs(port: int) -> Any:
    return boto3.client(
        "sqs",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name=REGION,
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def queue_names() -> list[str]:
    """Called in the emulator: the queues in moto's memory."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sqs.models import sqs_backends

    return sorted(sqs_backends[DEFAULT_ACCOUNT_ID][REGION].queues)


def fail(reason: str) -> None:
    """Called in the emulator: an exception whose class a pickle could rebuild or not."""
    raise LookupError(reason)


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    emulator = Emulator("127.0.0.1", free_port(), environment={**os.environ, **ENV})
    emulator.start()
    yield emulator
    emulator.stop()


def test_moto_serves_from_a_process_of_its_own(emulator: Emulator) -> None:
    assert emulator.pid != os.getpid()
    assert emulator.call("os:getpid") == emulator.pid
    client = _sqs(emulator.port)
    client.create_queue(QueueName="in-the-emulator")
    # what the stack's calls see is what its clients wrote over HTTP
    assert "in-the-emulator" in emulator.call(f"{__name__}:queue_names")


def test_the_emulator_applies_the_servers_moto_corrections(emulator: Emulator) -> None:
    applied = emulator.call("infra.local.moto_corrections:installed_in", "server")
    assert applied and all(applied.values()), applied
    assert set(applied) >= set(
        emulator.call("infra.local.moto_corrections:installed_in", "in-process")
    )


def test_a_calls_failure_comes_back_with_its_type_and_text(emulator: Emulator) -> None:
    with pytest.raises(EmulatorError, match=r"LookupError: no such row"):
        emulator.call(f"{__name__}:fail", "no such row")
    with pytest.raises(EmulatorError, match="ModuleNotFoundError"):
        emulator.call("no.such.module:thing")
    assert emulator.call("os:getpid") == emulator.pid  # and the emulator serves on


def test_in_process_the_calls_run_here() -> None:
    emulator = Emulator("127.0.0.1", free_port(), own_process=False)
    emulator.start()
    try:
        assert emulator.pid == os.getpid()
        assert emulator.call("os:getpid") == os.getpid()
        assert _port_open(emulator.port)
    finally:
        emulator.stop()
    assert not _port_open(emulator.port)


def test_stop_ends_the_process_and_frees_the_port() -> None:
    emulator = Emulator("127.0.0.1", free_port(), environment={**os.environ, **ENV})
    emulator.start()
    pid = emulator.pid
    emulator.stop()
    assert not Path(f"/proc/{pid}").exists()
    assert not _port_open(emulator.port)
    with pytest.raises(EmulatorError, match="not running"):
        emulator.call("os:getpid")


def test_a_port_in_use_fails_the_start_with_the_reason() -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        emulator = Emulator("127.0.0.1", held.getsockname()[1])
        with pytest.raises(EmulatorError, match="Address already in use"):
            emulator.start()


def test_the_emulator_exits_when_its_stack_is_killed(tmp_path: Path) -> None:
    started = """
from infra.local.emulator import Emulator
from infra.local.stack import free_port
emulator = Emulator("127.0.0.1", free_port())
emulator.start()
print(emulator.pid, flush=True)
"""
    pids = children_of_a_killed_stack(tmp_path, started)
    assert len(pids) == 1
    assert not still_running(pids)
