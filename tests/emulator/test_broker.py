"""The local MQTT broker: real mosquitto with mTLS and the ACL from the IoT policies,
driven by real awsiotsdk clients (the backend's BackendMqtt and the device client)."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from chalicelib import topics
from chalicelib.topics import topic_matches
from infra.local import pki
from infra.local.broker import Broker, acl_text, find_mosquitto, fleet_grants
from infra.local.errors import PortInUseError
from infra.local.mqtt import BackendMqtt, MqttError
from iot.device import (
    AckTimeout,
    DeviceError,
    NotAuthorizedError,
    RobotClient,
    ShelterClient,
    main,
    new_event_id,
)

CITY = "gimhae"
FLEET = [
    ("robot-001", "robot"),
    ("robot-002", "robot"),
    ("shelter-001", "shelter"),
]

pytestmark = pytest.mark.skipif(
    not any(os.access(p, os.X_OK) for p in ("/usr/sbin/mosquitto", "/usr/bin/mosquitto")),
    reason="mosquitto not installed",
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Cloud:
    """The backend side for these tests: records deposits and answers them with acks."""

    def __init__(self, mqtt: BackendMqtt) -> None:
        self.mqtt = mqtt
        self.received: list[tuple[str, dict]] = []
        self.drop_first: set[str] = set()
        self.lock = threading.Lock()

    def on_deposit(self, topic: str, payload: bytes) -> None:
        event = json.loads(payload)
        with self.lock:
            self.received.append((topic, event))
            if event["event_id"] in self.drop_first:
                self.drop_first.discard(event["event_id"])
                return
            balance = len(self.received)
        ack = {
            "event_id": event["event_id"],
            "status": "credited",
            "points": 10,
            "balance": balance,
        }
        # publishing from the client's own callback thread must not deadlock
        self.mqtt.publish(topic + "/ack", json.dumps(ack).encode())

    def events(self, event_id: str) -> list[tuple[str, dict]]:
        with self.lock:
            return [(t, e) for t, e in self.received if e.get("event_id") == event_id]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    state = tmp_path_factory.mktemp("stack")
    certs = state / "certs"
    ca = pki.ensure_ca(certs)
    server = pki.ensure_cert(certs, ca, "mqtt-broker", server=True)
    names = ["gimhae-backend"] + [d for d, _ in FLEET]
    creds = {cn: pki.ensure_cert(certs, ca, cn) for cn in names}
    port = _free_port()
    broker = Broker(
        state, port, ca.cert_file, server.cert_file, server.key_file, fleet_grants(FLEET, CITY)
    )
    broker.start()
    backend = BackendMqtt(
        "127.0.0.1",
        port,
        str(ca.cert_file),
        str(creds["gimhae-backend"].cert_file),
        str(creds["gimhae-backend"].key_file),
    )
    backend.start()
    cloud = Cloud(backend)
    backend.subscribe(f"{CITY}/robots/+/deposits", cloud.on_deposit)
    yield {
        "state": state,
        "ca": ca,
        "creds": creds,
        "port": port,
        "broker": broker,
        "backend": backend,
        "cloud": cloud,
    }
    backend.stop()
    broker.stop()


def _device(stack, device_id, cls=RobotClient, **kw):
    c = stack["creds"][device_id]
    client = cls(
        device_id,
        "127.0.0.1",
        stack["port"],
        str(stack["ca"].cert_file),
        str(c.cert_file),
        str(c.key_file),
        city=CITY,
        **kw,
    )
    client.connect(timeout=5)
    return client


@pytest.fixture(scope="module")
def robot1(stack):
    client = _device(stack, "robot-001")
    yield client
    client.disconnect()


@pytest.fixture
def robot2(stack):
    # one connection per test: the tests subscribe robot-002 to overlapping filters, and a
    # subscription kept from an earlier test doubles what a later one receives
    client = _device(stack, "robot-002")
    yield client
    client.disconnect()


def _wait(predicate, timeout=3.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def test_topic_matches():
    assert topic_matches("gimhae/robots/+/deposits", "gimhae/robots/robot-001/deposits")
    assert not topic_matches("gimhae/robots/+/deposits", "gimhae/robots/robot-001/deposits/ack")
    assert topic_matches("gimhae/#", "gimhae/robots/robot-001/deposits/ack")
    assert topic_matches("gimhae/#", "gimhae")
    assert topic_matches("#", "a/b")
    assert not topic_matches("#", "$aws/things/x/shadow/update")
    assert not topic_matches("+/things/x", "$aws/things/x")
    assert topic_matches("$aws/things/+/shadow/#", "$aws/things/x/shadow/update/accepted")
    assert not topic_matches("a/+", "a")


def test_acl_grants_each_device_only_its_own_topics():
    text = acl_text(fleet_grants([("robot-001", "robot"), ("shelter-001", "shelter")], CITY))
    robot = text.split("user robot-001\n")[1].split("\n\n")[0].splitlines()
    assert "topic write gimhae/robots/robot-001/deposits" in robot
    assert "topic read gimhae/robots/robot-001/deposits/ack" in robot
    assert "topic read $aws/things/robot-001/shadow/#" in robot
    assert all("robot-001" in line for line in robot)
    backend = text.split("user gimhae-backend\n")[1].splitlines()
    assert "topic readwrite #" in backend and "topic readwrite $aws/#" in backend


def test_robot_deposit_reaches_the_backend(stack, robot1):
    # GIVEN the backend subscribed to every robot's deposits
    cloud = stack["cloud"]
    event_id = new_event_id()

    # WHEN robot-001 publishes a deposit
    code = robot1.publish(
        topics.deposits(CITY, "robot-001"),
        {"event_id": event_id, "citizen": {"code": "123456"}, "items": []},
    )

    # AND then a marker deposit on the same connection
    marker = new_event_id()
    robot1.publish(topics.deposits(CITY, "robot-001"), {"event_id": marker})

    # THEN the broker accepted it and, by the time the marker arrived, the backend had got
    # it once, on robot-001's topic
    assert code == 0
    assert _wait(lambda: cloud.events(marker))
    assert cloud.events(event_id) == [
        (
            "gimhae/robots/robot-001/deposits",
            {"event_id": event_id, "citizen": {"code": "123456"}, "items": []},
        )
    ]


def test_deposit_round_trip_returns_the_ack(robot1):
    # GIVEN a backend that answers deposits with acks
    # WHEN robot-001 deposits and waits for the ack
    ack = robot1.deposit(
        {
            "citizen": {"code": "123456"},
            "items": [{"material": "can", "accepted": 3, "rejected": 0}],
        },
        timeout=5,
    )

    # THEN the ack carries a generated ULID-like event id
    assert ack["status"] == "credited" and ack["points"] == 10
    assert len(ack["event_id"]) == 26 and ack["event_id"].isalnum()


def test_deposit_is_resent_until_acked(stack, robot1):
    # GIVEN a backend that loses the first copy of an event
    cloud = stack["cloud"]
    event_id = new_event_id()
    cloud.drop_first.add(event_id)

    # WHEN robot-001 deposits it with a short resend interval
    ack = robot1.deposit(
        {"event_id": event_id, "citizen": {"code": "1"}}, timeout=5, resend_every=0.2
    )

    # THEN the same event arrived twice and was acked
    assert ack["event_id"] == event_id
    assert len(cloud.events(event_id)) == 2


def test_concurrent_deposits_get_their_own_acks(robot1):
    # GIVEN several threads depositing at once on one connection
    ids = [new_event_id() for _ in range(20)]
    assert len(set(ids)) == 20

    # WHEN they all deposit
    with ThreadPoolExecutor(8) as pool:
        acks = list(pool.map(lambda i: robot1.deposit({"event_id": i}, timeout=5), ids))

    # THEN each got the ack for its own event
    assert [a["event_id"] for a in acks] == ids


def test_deposit_times_out_without_ack(stack, robot1):
    # GIVEN a backend that drops this event every time
    cloud = stack["cloud"]
    event_id = new_event_id()

    class Sticky(set):
        def discard(self, item):  # never forget it
            pass

    cloud.drop_first, saved = Sticky({event_id}), cloud.drop_first
    try:
        # WHEN / THEN robot-001 gives up with AckTimeout after resending
        with pytest.raises(AckTimeout):
            robot1.deposit({"event_id": event_id}, timeout=0.5, resend_every=0.2)
    finally:
        cloud.drop_first = saved
    assert len(cloud.events(event_id)) >= 2


def test_robot_cannot_publish_as_another_robot(stack, robot2):
    # GIVEN robot-002 and the backend listening
    cloud = stack["cloud"]
    event_id = new_event_id()

    # WHEN robot-002 publishes on robot-001's deposits topic, then on its own
    # THEN the broker refuses the first
    with pytest.raises(NotAuthorizedError):
        robot2.publish(topics.deposits(CITY, "robot-001"), {"event_id": event_id})
    marker = new_event_id()
    robot2.publish(topics.deposits(CITY, "robot-002"), {"event_id": marker})
    # AND by the time the later message arrived, the backend had received nothing else
    assert _wait(lambda: cloud.events(marker))
    assert cloud.events(event_id) == []


def test_robot_cannot_receive_another_robots_acks(stack, robot2):
    # GIVEN robot-002 trying to listen to robot-001's acks
    got: list[str] = []
    try:
        robot2.subscribe(topics.deposit_ack(CITY, "robot-001"), lambda t, p: got.append(t))
    except NotAuthorizedError:
        return  # refused at SUBSCRIBE, as AWS IoT does
    # mosquitto 2.0's acl_file grants every SUBSCRIBE and filters at delivery instead

    marker = topics.shadow("robot-002", "get/accepted")
    robot2.subscribe(marker, lambda t, p: got.append(t))

    # WHEN the backend acks a robot-001 deposit, then publishes on a robot-002 topic
    stack["backend"].publish(topics.deposit_ack(CITY, "robot-001"), b'{"event_id": "x"}')
    stack["backend"].publish(marker, b"{}")

    # THEN robot-002 receives the later message only
    assert _wait(lambda: got)
    assert got == [marker]


def test_robot_receives_its_own_shadow_topics(stack, robot2):
    # GIVEN robot-002 subscribed to its shadow topics
    got: list[str] = []
    robot2.subscribe(topics.shadow("robot-002", "#"), lambda t, p: got.append(t))

    # WHEN the backend publishes another robot's shadow delta, its own, then a marker
    stack["backend"].publish(topics.shadow("robot-001", "update/delta"), b"{}")
    stack["backend"].publish(topics.shadow("robot-002", "update/delta"), b"{}")
    stack["backend"].publish(topics.shadow("robot-002", "update/documents"), b"{}")

    # THEN, by the time the marker arrives, only its own delta arrived, once
    assert _wait(lambda: "$aws/things/robot-002/shadow/update/documents" in got)
    assert got == [
        "$aws/things/robot-002/shadow/update/delta",
        "$aws/things/robot-002/shadow/update/documents",
    ]


def test_shelter_cannot_publish_on_a_robot_topic(stack):
    # GIVEN shelter-001 connected
    shelter = _device(stack, "shelter-001", ShelterClient)
    try:
        # WHEN / THEN it may send its telemetry (16 = accepted, no matching subscribers)
        # but not a deposit
        assert shelter.telemetry({"pm10": 20.0}) in (0, 16)
        with pytest.raises(NotAuthorizedError):
            shelter.publish(topics.deposits(CITY, "robot-001"), {"event_id": new_event_id()})
    finally:
        shelter.disconnect()


def test_backend_callback_errors_do_not_kill_the_client(stack, robot1):
    # GIVEN a backend callback that raises
    got: list[str] = []

    def broken(topic, payload):
        raise RuntimeError("boom")

    stack["backend"].subscribe(topics.robot_status(CITY, "+"), broken)
    stack["backend"].subscribe(topics.robot_status(CITY, "robot-001"), lambda t, p: got.append(t))

    # WHEN robot-001 sends its status twice, then a third time as a marker
    got_bins: list[float] = []
    stack["backend"].subscribe(
        topics.robot_status(CITY, "robot-001"),
        lambda t, p: got_bins.append(json.loads(p)["bins"]["pet"]),
    )
    for pet in (0.2, 0.3, 0.4):
        robot1.status({"can": 0.1, "pet": pet})

    # THEN the other callbacks still get each, once, in order
    assert _wait(lambda: 0.4 in got_bins)
    assert got_bins == [0.2, 0.3, 0.4]
    assert len(got) == 3


def test_client_without_a_ca_certificate_cannot_connect(stack, tmp_path):
    # GIVEN a certificate for robot-001 from another CA
    rogue_ca = pki.ensure_ca(tmp_path)
    rogue = pki.ensure_cert(tmp_path, rogue_ca, "robot-001")
    client = RobotClient(
        "robot-001",
        "127.0.0.1",
        stack["port"],
        str(stack["ca"].cert_file),
        str(rogue.cert_file),
        str(rogue.key_file),
    )

    # WHEN / THEN connecting fails
    with pytest.raises(DeviceError):
        client.connect(timeout=5)


def test_backend_with_foreign_certificate_cannot_start(stack, tmp_path):
    rogue_ca = pki.ensure_ca(tmp_path)
    rogue = pki.ensure_cert(tmp_path, rogue_ca, "gimhae-backend")
    mqtt = BackendMqtt(
        "127.0.0.1",
        stack["port"],
        str(stack["ca"].cert_file),
        str(rogue.cert_file),
        str(rogue.key_file),
    )
    with pytest.raises(MqttError):
        mqtt.start(timeout=5)


def test_port_in_use_is_reported(stack, tmp_path):
    # GIVEN a port something else listens on
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        broker = Broker(
            tmp_path, port, stack["ca"].cert_file, stack["ca"].cert_file, stack["ca"].key_file, []
        )

        # WHEN / THEN starting the broker there says which port and option
        with pytest.raises(PortInUseError) as err:
            broker.start()
    assert err.value.port == port and err.value.option == "--mqtt-port"
    assert f"port {port} (MQTT broker) is already in use" in str(err.value)


def test_stop_leaves_no_mosquitto_behind(stack, tmp_path):
    # GIVEN a second broker, started
    certs = stack["state"] / "certs"
    server = pki.ensure_cert(certs, stack["ca"], "mqtt-broker", server=True)
    broker = Broker(
        tmp_path,
        _free_port(),
        stack["ca"].cert_file,
        server.cert_file,
        server.key_file,
        fleet_grants(FLEET, CITY),
    )
    broker.start()
    pid = broker.pid
    assert pid is not None
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        assert os.path.basename(find_mosquitto()).encode() in f.read()

    # WHEN it is stopped
    broker.stop()

    # THEN the process is gone and the port is free again
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", broker.port))


def test_cli_deposit_prints_the_ack(stack, tmp_path, monkeypatch, capsys):
    # GIVEN a stack.json under <root>/.local with paths relative to <root>
    root = tmp_path / "repo"
    (root / ".local").mkdir(parents=True)
    certs = stack["state"] / "certs"
    os.symlink(certs, root / ".local" / "certs")
    stack_file = root / ".local" / "stack.json"
    stack_file.write_text(
        json.dumps(
            {
                "mqtt": {
                    "host": "127.0.0.1",
                    "port": stack["port"],
                    "ca_file": ".local/certs/ca.pem",
                    "city": CITY,
                    "devices": {
                        "robot-002": {
                            "cert_file": ".local/certs/robot-002.pem",
                            "key_file": ".local/certs/robot-002.key",
                        }
                    },
                }
            }
        )
    )
    monkeypatch.chdir(tmp_path)  # not the root: paths resolve beside stack.json

    # WHEN the CLI deposits for robot-002 (robot-001 is this module's connected robot1: one
    # identity, one connection)
    code = main(
        [
            "deposit",
            "--device",
            "robot-002",
            "--code",
            "123456",
            "--can",
            "3",
            "--pet",
            "2",
            "--state-dir",
            str(stack_file.parent),
        ]
    )

    # THEN it prints the ack and the cloud got both materials
    assert code == 0
    ack = json.loads(capsys.readouterr().out)
    assert ack["status"] == "credited"
    ((_, event),) = stack["cloud"].events(ack["event_id"])
    assert event["citizen"] == {"code": "123456"}
    assert [(i["material"], i["accepted"]) for i in event["items"]] == [("can", 3), ("pet", 2)]
