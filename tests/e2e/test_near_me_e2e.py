"""Near me end to end (DESIGN §4c): a citizen in Yeonji Park asks the local stack for the
nearest shelters and robot; the fleet the stack provisioned at start is in the location index
(two requests)."""

from __future__ import annotations

import pytest

from chalicelib.domain.geo import distance_m
from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e

YEONJI_PARK = (35.2334, 128.8733)  # 연지공원, by the pond


def test_from_yeonji_park_the_nearest_shelters_come_first(stack: Stack) -> None:
    point = f"{YEONJI_PARK[0]},{YEONJI_PARK[1]}"
    status, body = stack.http("GET", f"/v1/shelters?near={point}")
    assert status == 200, body
    shelters = body["shelters"]
    # other tests provision shelters of their own around the park: the park's two are
    # there at their distances, and every answer is nearest first with its own distance
    found = {s["device_id"]: s["distance_m"] for s in shelters}
    assert (found.get("shelter-002"), found.get("shelter-001")) == (594, 914), found
    metres = [s["distance_m"] for s in shelters]
    assert metres == sorted(metres) and len(shelters) <= 10
    for shelter in shelters:
        where = shelter["location"]
        assert shelter["distance_m"] == round(distance_m(*YEONJI_PARK, where["lat"], where["lon"]))

    status, body = stack.http("GET", f"/v1/robots?near={point}&limit=2")
    assert status == 200, body
    robots = [(r["device_id"], r["distance_m"]) for r in body["robots"]]
    assert robots[0][1] <= robots[-1][1] and ("robot-002", 650) in robots, robots
