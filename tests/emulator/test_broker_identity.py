"""Client ids on the local broker are bound to the certificate: a device cannot connect under
another device's (or the backend's) client id and kick that session off, as IoT Core's
`iot:Connect` on `client/${iot:Connection.Thing.ThingName}` refuses. Real mosquitto, real
awsiotsdk clients."""

from __future__ import annotations

import json
import os
import socket
import time

import pytest

from chalicelib import topics
from infra.local import pki
from infra.local.broker import Broker, fleet_grants
from infra.local.mqtt import BackendMqtt
from iot.device import NotAuthorizedError, RobotClient

CITY = "gimhae"
FLEET = [("robot-001", "robot"), ("robot-002", "robot")]
BACKEND = "gimhae-backend"

pytestmark = pytest.mark.skipif(
    not any(os.access(p, os.X_OK) for p in ("/usr/sbin/mosquitto", "/usr/bin/mosquitto")),
    reason="mosquitto not installed",
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    state = tmp_path_factory.mktemp("identity")
    certs = state / "certs"
    ca = pki.ensure_ca(certs)
    server = pki.ensure_cert(certs, ca, "mqtt-broker", server=True)
    creds = {cn: pki.ensure_cert(certs, ca, cn) for cn in [BACKEND] + [d for d, _ in FLEET]}
    port = _free_port()
    broker = Broker(
        state, port, ca.cert_file, server.cert_file, server.key_file, fleet_grants(FLEET, CITY)
    )
    broker.start()
    backend = BackendMqtt(
        "127.0.0.1",
        port,
        str(ca.cert_file),
        str(creds[BACKEND].cert_file),
        str(creds[BACKEND].key_file),
    )
    backend.start()
    received: list[str] = []

    def answer(topic: str, payload: bytes) -> None:
        event = json.loads(payload)
        received.append(event["event_id"])
        ack = {"event_id": event["event_id"], "status": "credited", "points": 1, "balance": 1}
        backend.publish(topic + "/ack", json.dumps(ack).encode())

    backend.subscribe(f"{CITY}/robots/+/deposits", answer)
    yield {"ca": ca, "creds": creds, "port": port, "broker": broker, "received": received}
    backend.stop()
    broker.stop()


def _robot(stack, client_id: str, identity: str) -> RobotClient:
    """A robot client announcing `client_id` while holding `identity`'s certificate (an
    impostor skips the lock on the id: this machine's lock is not what stops it)."""
    c = stack["creds"][identity]
    return RobotClient(
        client_id,
        "127.0.0.1",
        stack["port"],
        str(stack["ca"].cert_file),
        str(c.cert_file),
        str(c.key_file),
        city=CITY,
        exclusive=client_id == identity,
    )


def _log(stack) -> str:
    return stack["broker"].log_file.read_text(errors="replace")


@pytest.mark.parametrize("victim", ["robot-001", BACKEND])
def test_a_device_certificate_cannot_take_over_another_client_id(stack, victim):
    # GIVEN robot-001 connected under its own id (and the backend under its own)
    robot = _robot(stack, "robot-001", "robot-001")
    robot.connect(timeout=5)
    before = len(_log(stack))
    try:
        # WHEN robot-002's certificate connects announcing the victim's client id
        impostor = _robot(stack, victim, "robot-002")
        impostor.connect(timeout=5)
        impostor.disconnect()

        # THEN the broker saw it leave as robot-002 (its log is written in order: a takeover
        # at its connect would be logged by then), and no session was closed for it
        assert _wait(lambda: "Client robot-002 closed its connection" in _log(stack)[before:]), (
            _log(stack)
        )
        log = _log(stack)[before:]
        assert "already connected, closing old connection" not in log, log
        # AND robot-001 and the backend still talk: a deposit is received and acked
        ack = robot.deposit(
            {"citizen": {"code": "123456"}, "items": [{"material": "can", "accepted": 1}]},
            timeout=5,
        )
        assert ack["status"] == "credited"
        assert ack["event_id"] in stack["received"]
    finally:
        robot.disconnect()


def test_the_impostor_is_itself_and_only_itself(stack):
    # GIVEN robot-002's certificate announcing robot-001's client id
    impostor = _robot(stack, "robot-001", "robot-002")
    impostor.connect(timeout=5)
    try:
        # WHEN it publishes on robot-001's deposit topic
        marker = {"event_id": "impostor-0001", "citizen": {"code": "1"}}
        with pytest.raises(NotAuthorizedError):
            impostor.publish(topics.deposits(CITY, "robot-001"), marker)
        # AND then its own identity publishes on its own topic
        own = _robot(stack, "robot-002", "robot-002")
        own.connect(timeout=5)
        own.publish(topics.deposits(CITY, "robot-002"), {"event_id": "own-00000001"})
        own.disconnect()

        # THEN the first was refused and only robot-002's own deposit arrived: the ACL
        # judged the certificate, not the announced id
        assert _wait(lambda: "own-00000001" in stack["received"])
        assert "impostor-0001" not in stack["received"]
    finally:
        impostor.disconnect()
