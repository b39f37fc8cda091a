"""iot/mqtt5.py without a broker: reason codes, routing to callbacks, subscription ids."""

from __future__ import annotations

import threading
from concurrent.futures import Future
from types import SimpleNamespace
from typing import Any

import pytest
from awscrt import mqtt5

from iot.mqtt5 import NOT_AUTHORIZED, MqttClient, MqttError, NotAuthorizedError


def _done(value: Any) -> Future[Any]:
    future: Future[Any] = Future()
    future.set_result(value)
    return future


class FakeCrtClient:
    """Stands in for awscrt's mqtt5.Client: records packets, answers with given codes."""

    def __init__(self, suback_code: int = 1, puback_code: int | None = 0) -> None:
        self.suback_code = suback_code
        self.puback_code = puback_code
        self.subscribed: list[mqtt5.SubscribePacket] = []
        self.published: list[mqtt5.PublishPacket] = []

    def subscribe(self, packet: mqtt5.SubscribePacket) -> Future[Any]:
        self.subscribed.append(packet)
        return _done(SimpleNamespace(reason_codes=[self.suback_code]))

    def publish(self, packet: mqtt5.PublishPacket) -> Future[Any]:
        self.published.append(packet)
        puback = None if self.puback_code is None else SimpleNamespace(reason_code=self.puback_code)
        return _done(SimpleNamespace(puback=puback))

    def stop(self) -> None:
        pass


def _client(fake: FakeCrtClient, **kw: Any) -> MqttClient:
    client = MqttClient("127.0.0.1", 1, "ca", "cert", "key", "robot-001", **kw)
    client._client = fake  # as if started
    return client


def _deliver(client: MqttClient, topic: str, ids: list[int] | None = None) -> None:
    packet = SimpleNamespace(topic=topic, payload=b"{}", subscription_identifiers=ids)
    client._on_publish(SimpleNamespace(publish_packet=packet))


def test_publish_returns_the_puback_code_and_refuses_135() -> None:
    fake = FakeCrtClient(puback_code=0)
    client = _client(fake)
    assert client.publish("gimhae/robots/robot-001/deposits", b"{}") == 0
    assert client.publish("t", "text", qos=0) == 0 and fake.published[-1].payload == b"text"
    fake.puback_code = NOT_AUTHORIZED
    with pytest.raises(NotAuthorizedError):
        client.publish("gimhae/robots/robot-002/deposits", b"{}")


def test_publish_timeout_and_failure_are_mqtt_errors() -> None:
    client = _client(FakeCrtClient())
    with pytest.raises(MqttError, match="no PUBACK"):
        client.wait_puback(Future(), "t", timeout=0.01)
    failed: Future[Any] = Future()
    failed.set_exception(RuntimeError("offline"))
    with pytest.raises(MqttError, match="offline"):
        client.wait_puback(failed, "t")


def test_not_started_is_an_error() -> None:
    client = MqttClient("127.0.0.1", 1, "ca", "cert", "key", "robot-001")
    with pytest.raises(MqttError, match="not connected"):
        client.publish("t", b"")


def test_refused_subscription_leaves_no_callback() -> None:
    fake = FakeCrtClient(suback_code=NOT_AUTHORIZED)
    client = _client(fake)
    got: list[str] = []
    with pytest.raises(NotAuthorizedError):
        client.subscribe("gimhae/robots/robot-002/#", lambda t, p: got.append(t))
    fake.suback_code = 0x80
    with pytest.raises(MqttError):
        client.subscribe("gimhae/robots/robot-002/#", lambda t, p: got.append(t))
    _deliver(client, "gimhae/robots/robot-002/status")
    assert got == []


def test_without_ids_every_matching_filter_runs_once_per_copy() -> None:
    fake = FakeCrtClient()
    client = _client(fake)
    got: list[str] = []
    client.subscribe("gimhae/robots/+/status", lambda t, p: got.append(t))
    client.subscribe("gimhae/robots/robot-001/status", lambda t, p: got.append("exact"))
    assert all(p.subscription_identifier is None for p in fake.subscribed)

    _deliver(client, "gimhae/robots/robot-001/status")
    assert got == ["gimhae/robots/robot-001/status", "exact"]


def test_with_ids_a_copy_goes_to_its_filters_callbacks_only() -> None:
    fake = FakeCrtClient()
    client = _client(fake, subscription_ids=True)
    wide: list[str] = []
    exact: list[str] = []
    client.subscribe("gimhae/robots/+/status", lambda t, p: wide.append(t))
    client.subscribe("gimhae/robots/robot-001/status", lambda t, p: exact.append(t))
    ids = [p.subscription_identifier for p in fake.subscribed]
    assert ids == [1, 2]

    # mosquitto sends one copy per matching subscription
    _deliver(client, "gimhae/robots/robot-001/status", [1])
    _deliver(client, "gimhae/robots/robot-001/status", [2])
    assert len(wide) == 1 and len(exact) == 1


def test_a_failing_callback_does_not_stop_the_others() -> None:
    client = _client(FakeCrtClient())
    got: list[str] = []

    def broken(topic: str, payload: bytes) -> None:
        raise RuntimeError("boom")

    client.subscribe("a/#", broken)
    client.subscribe("a/b", lambda t, p: got.append(t))
    _deliver(client, "a/b")
    assert got == ["a/b"]


def test_callbacks_mark_the_event_loop_thread() -> None:
    client = _client(FakeCrtClient())
    seen: list[bool] = []
    client.subscribe("a", lambda t, p: seen.append(client.in_callback()))
    assert not client.in_callback()
    thread = threading.Thread(target=_deliver, args=(client, "a"))
    thread.start()
    thread.join()
    assert seen == [True] and not client.in_callback()


def test_reconnect_without_the_session_resubscribes_each_filter_once() -> None:
    fake = FakeCrtClient()
    client = _client(fake, subscription_ids=True)
    client.subscribe("a/+", lambda t, p: None)
    client.subscribe("a/+", lambda t, p: None)
    client.subscribe("b", lambda t, p: None)
    fake.subscribed.clear()

    settings = SimpleNamespace(rejoined_session=False)
    client._on_success(SimpleNamespace(negotiated_settings=settings))
    assert [
        (p.subscriptions[0].topic_filter, p.subscription_identifier) for p in fake.subscribed
    ] == [("a/+", 1), ("b", 2)]

    fake.subscribed.clear()
    settings.rejoined_session = True
    client._on_success(SimpleNamespace(negotiated_settings=settings))
    assert fake.subscribed == []
