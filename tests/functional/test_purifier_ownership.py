"""The cloud owns a shelter's `desired.purifier` (DESIGN §4: high while the air is bad, auto
after). When a shadow document shows another desired mode (a shelter wrote it itself, or it
deleted it), the cloud sets its own again: once per divergence, never in a loop with its own
updates, and even when the first try fails (the outbox and the health job). Through the real
device-reports handler on moto, with the shadow documents read from moto's shadow store."""

from __future__ import annotations

import json
from typing import Any

import boto3

from tests.functional.conftest import REGION, Api
from tests.functional.test_fleet import (
    SHELTER,
    desired_purifier,
    device_health,
    invoke,
    report,
    shelter,
    telemetry,
)
from tests.functional.test_fleet import fleet as fleet  # the alerts topic, shadows


def _data() -> Any:
    return boto3.client("iot-data", region_name=REGION)


def _shadow(device_id: str = SHELTER) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(
        _data().get_thing_shadow(thingName=device_id)["payload"].read()
    )
    return document


def shelter_writes(state: dict[str, Any], device_id: str = SHELTER) -> dict[str, Any]:
    """A shelter's own shadow update (accepted by the shadow service), and the
    `update/documents` message the shelter_shadows rule then delivers to the cloud."""
    _data().update_thing_shadow(thingName=device_id, payload=json.dumps({"state": state}))
    current = _shadow(device_id)
    return {"current": {"state": current["state"], "version": current["version"]}}


def deliver(documents: dict[str, Any], message_id: str = "d") -> None:
    assert invoke(report(SHELTER, "shadow", documents, message_id)) == {"batchItemFailures": []}


def bad_air(fleet: Any) -> None:
    invoke(report(SHELTER, "shelter_telemetry", telemetry(fleet["clock"].now, pm10=120.0)))
    assert desired_purifier(SHELTER) == "high"


def test_a_shelter_that_turns_its_purifier_off_in_bad_air_is_set_back_to_high(
    api: Api, fleet: Any
) -> None:
    # GIVEN bad air: the cloud desires the purifier high
    bad_air(fleet)
    version = _shadow()["version"]
    # WHEN the shelter writes desired off itself, and its document reaches the cloud
    documents = shelter_writes({"desired": {"purifier": "off"}})
    deliver(documents)
    # THEN the cloud sets desired high again, with one update of its own
    assert desired_purifier(SHELTER) == "high"
    assert _shadow()["version"] == version + 2
    # AND the views tell the cloud's wish from what the shelter does
    view = shelter(api)["purifier"]
    assert view["desired"] == "high"
    assert view["shadow_desired"] == "off"


def test_one_divergence_is_answered_once_however_often_it_is_seen(api: Api, fleet: Any) -> None:
    bad_air(fleet)
    documents = shelter_writes({"desired": {"purifier": "off"}})
    # WHEN its document is delivered three times (SQS delivers at least once)
    deliver(documents, "a")
    deliver(documents, "b")
    after_first = _shadow()["version"]
    deliver(documents, "c")
    # AND a later document still shows the shelter's off (it reported before our update)
    reported = shelter_writes({"reported": {"purifier": "off"}})
    reported["current"]["state"]["desired"] = {"purifier": "off"}
    deliver(reported, "d")
    # THEN the cloud wrote once: every later shadow version is the shelter's own
    assert _shadow()["version"] == after_first + 1
    assert desired_purifier(SHELTER) == "high"


def test_the_clouds_own_updates_change_nothing(api: Api, fleet: Any) -> None:
    # GIVEN the cloud's desired high in the shadow
    bad_air(fleet)
    version = _shadow()["version"]
    # WHEN the document of its own update, and the shelter's matching report, come back
    current = _shadow()
    deliver({"current": {"state": current["state"], "version": current["version"]}}, "own")
    deliver(shelter_writes({"reported": {"purifier": "high"}}), "rep")
    # THEN it writes nothing (no loop), and the shelter's report shows
    assert _shadow()["version"] == version + 1
    assert shelter(api)["purifier"]["reported"] == "high"


def test_in_good_air_a_shelter_forcing_a_mode_is_set_back_to_auto(api: Api, fleet: Any) -> None:
    deliver(shelter_writes({"desired": {"purifier": "high"}}))
    assert desired_purifier(SHELTER) == "auto"


def test_a_shelter_that_deletes_desired_in_bad_air_gets_high_back(api: Api, fleet: Any) -> None:
    bad_air(fleet)
    deliver(shelter_writes({"desired": None}))
    assert desired_purifier(SHELTER) == "high"


def test_a_shadow_that_desires_nothing_in_good_air_is_left_alone(api: Api, fleet: Any) -> None:
    documents = shelter_writes({"reported": {"purifier": "auto"}})
    version = _shadow()["version"]
    deliver(documents)
    assert _shadow()["version"] == version
    assert desired_purifier(SHELTER) is None


def test_a_failed_reassertion_is_sent_by_the_health_job(api: Api, fleet: Any) -> None:
    from chalicelib import wiring

    bad_air(fleet)
    documents = shelter_writes({"desired": {"purifier": "off"}})
    service = wiring.fleet()
    shadows = service._shadows

    class Down:
        def desire_purifier(self, device_id: str, mode: str) -> None:
            raise ConnectionError("IoT data plane unreachable")

    service._shadows = Down()
    try:
        # WHEN the cloud's answer cannot be sent, the record fails (SQS will retry it)
        status = {"ts": fleet["clock"].now.isoformat(), "online": True}
        result = invoke(
            report(SHELTER, "shadow", documents, "doc"),
            report(SHELTER, "shelter_status", status, "other"),
        )
        assert [f["itemIdentifier"] for f in result["batchItemFailures"]] == ["doc-0"]
    finally:
        service._shadows = shadows
    assert desired_purifier(SHELTER) == "off"
    # AND the retry finds the document settled; the health job sends the answer once
    deliver(documents, "retry")
    fleet["clock"].advance(minutes=2)
    device_health()
    assert desired_purifier(SHELTER) == "high"
    assert not [p for p in wiring.fleet().device(SHELTER, "shelter").outbox]  # type: ignore[union-attr]
