"""An operator holds a shelter's purifier by hand, end to end on the local stack over real
MQTT and HTTP: in bad air the cloud desires high; an operator's override switches the shadow
off and holds it while the shelter re-reports and even writes its own desired; DELETE gives
the purifier back to automatic control, high again. Each step is in the action log."""

from __future__ import annotations

import json
import queue
import time
from typing import Any

import pytest

from tests.e2e.conftest import Stack, until
from tests.e2e.test_fleet_e2e import _aws, _shelter_client, _state, _wait

pytestmark = pytest.mark.e2e

SHELTER = "shelter-001"
PURIFIER = f"/v1/admin/shelters/{SHELTER}/purifier"


def _next_desired(documents: queue.Queue[dict[str, Any]], timeout: float = 10) -> Any:
    document = documents.get(timeout=timeout)
    return document["current"]["state"].get("desired", {}).get("purifier"), document


def test_an_operator_override_holds_the_purifier_until_it_is_released(stack: Stack) -> None:
    shelter = _shelter_client(stack, SHELTER)
    documents: queue.Queue[dict[str, Any]] = queue.Queue()
    shelter.subscribe(
        f"$aws/things/{SHELTER}/shadow/update/documents",
        lambda topic, payload: documents.put(json.loads(payload)),
    )
    data = _aws(stack, "iot-data")
    operator = stack.token("ops-purifier-e2e", roles=("operator",))

    def desired() -> Any:
        try:
            got = data.get_thing_shadow(thingName=SHELTER)
        except data.exceptions.ResourceNotFoundException:
            return None
        return json.loads(got["payload"].read())["state"].get("desired", {}).get("purifier")

    def drain() -> None:
        while not documents.empty():
            documents.get_nowait()

    try:
        # GIVEN bad air at the shelter: the cloud desires its purifier high
        time.sleep(1.1)  # telemetry is stamped to the second: the next one must be newer
        shelter.telemetry({"pm10": 150.0, "pm25": 40.0})
        _wait("bad air", lambda: _state(stack, f"/v1/shelters/{SHELTER}")["air"]["pm10"] == 150.0)
        _wait("the cloud's high", lambda: desired() == "high")
        drain()

        # WHEN an operator holds the purifier off for 10 minutes
        status, body = stack.http(
            "PUT", PURIFIER, token=operator, body={"mode": "off", "minutes": 10}
        )
        assert status == 200, body
        assert (body["override"]["mode"], body["override"]["by"]) == ("off", "ops-purifier-e2e")
        # THEN the shadow desires off (the shelter sees it over MQTT)
        mode, _ = _next_desired(documents)
        assert mode == "off"
        assert desired() == "off"

        # WHEN the shelter re-reports (bad air again, what it runs) and even writes high itself
        time.sleep(1.1)
        shelter.telemetry({"pm10": 160.0, "pm25": 45.0})
        shelter.publish(
            f"$aws/things/{SHELTER}/shadow/update",
            {"state": {"reported": {"purifier": "off"}}, "clientToken": "report-1"},
        )
        shelter.publish(
            f"$aws/things/{SHELTER}/shadow/update",
            {"state": {"desired": {"purifier": "high"}}, "clientToken": "rogue-1"},
        )
        # THEN the cloud puts the override's off back, not automatic control's high
        seen: list[Any] = []
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and seen[-2:] != ["high", "off"]:
            try:
                mode, _ = _next_desired(documents, timeout=1)
            except queue.Empty:
                continue
            seen.append(mode)
        assert seen[-2:] == ["high", "off"], seen
        # AND once put back, it writes no more: the next document is the shelter's marker
        shelter.publish(
            f"$aws/things/{SHELTER}/shadow/update",
            {"state": {"reported": {"purifier": "off"}}, "clientToken": "marker-1"},
        )
        mode, following = _next_desired(documents)
        assert following.get("clientToken") == "marker-1", following
        assert mode == "off"
        view = until(
            lambda: stack.http("GET", f"/v1/admin/shelters/{SHELTER}", token=operator)[1],
            lambda v: v["purifier"]["reported"] == "off" and v["air"]["pm10"] == 160.0,
        )
        assert view["override"]["mode"] == "off"
        assert view["purifier"]["desired"] == "high"  # automatic control's decision, held

        # WHEN the operator releases it
        status, body = stack.http("DELETE", PURIFIER, token=operator)
        assert status == 200, body
        assert body["override"] is None
        # THEN automatic control's high is back in the shadow
        _wait("automatic high again", lambda: desired() == "high")
        mode, _ = _next_desired(documents)
        assert mode == "high"

        # AND the action log shows the override and its end, by the operator
        admin = stack.token("boss-e2e", admin=True)
        status, log = stack.http(
            "GET", f"/v1/admin/actions?target=shelter:{SHELTER}&actor=ops-purifier-e2e",
            token=admin,
        )  # fmt: skip
        assert status == 200, log
        assert sorted(a["action"] for a in log["actions"]) == [
            "purifier.override",
            "purifier.release",
        ]
    finally:
        stack.http("DELETE", PURIFIER, token=operator)
        shelter.disconnect()


def test_racing_operators_leave_the_shadow_with_the_override_that_stands(stack: Stack) -> None:
    """Overrides sent at once by two operators, then releases sent at once: the shadow ends
    with the mode of the override the store kept, and exactly one release is recorded."""
    from concurrent.futures import ThreadPoolExecutor

    data = _aws(stack, "iot-data")
    people = {who: stack.token(who, roles=("operator",)) for who in ("race-a", "race-b")}
    admin = stack.token("boss-race", admin=True)

    def desired() -> Any:
        got = data.get_thing_shadow(thingName=SHELTER)
        return json.loads(got["payload"].read())["state"].get("desired", {}).get("purifier")

    def send(job: tuple[str, str, str]) -> int:
        method, who, mode = job
        body = {"mode": mode, "minutes": 5} if method == "PUT" else None
        return stack.http(method, PURIFIER, token=people[who], body=body)[0]

    def log(action: str) -> list[dict[str, Any]]:
        status, body = stack.http("GET", f"/v1/admin/actions?target=shelter:{SHELTER}", token=admin)
        assert status == 200, body
        return [
            a for a in body["actions"] if a["action"] == action and a["actor"].startswith("race-")
        ]

    puts = [("PUT", "race-a", "off"), ("PUT", "race-b", "auto"), ("PUT", "race-a", "high"),
            ("PUT", "race-b", "off")] * 2  # fmt: skip
    try:
        with ThreadPoolExecutor(max_workers=len(puts)) as pool:
            assert list(pool.map(send, puts)) == [200] * len(puts)
        view = stack.http("GET", f"/v1/admin/shelters/{SHELTER}", token=people["race-a"])[1]
        kept = view["override"]["mode"]
        _wait(f"the shadow at the kept override's {kept}", lambda: desired() == kept)
        assert len(log("purifier.override")) == len(puts)

        releases = [("DELETE", "race-a", ""), ("DELETE", "race-b", "")] * 2
        with ThreadPoolExecutor(max_workers=len(releases)) as pool:
            assert list(pool.map(send, releases)) == [200] * len(releases)
        assert (
            stack.http("GET", f"/v1/admin/shelters/{SHELTER}", token=admin)[1]["override"] is None
        )
        assert len(log("purifier.release")) == 1
        automatic = view["purifier"]["desired"] or "auto"
        _wait(f"automatic {automatic} back", lambda: desired() == automatic)
    finally:
        stack.http("DELETE", PURIFIER, token=admin)
