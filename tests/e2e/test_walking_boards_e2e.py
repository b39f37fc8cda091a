"""Step boards end to end: citizens in several districts sync over real HTTP; the step
table's stream runs the real board handler on the local stack; the boards, my rank and the
districts' board show the syncs within seconds."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.conftest import Stack, until

pytestmark = pytest.mark.e2e
SEOUL = ZoneInfo("Asia/Seoul")


def test_syncs_in_several_districts_show_on_the_boards_with_my_rank(stack: Stack) -> None:
    # A day five days back, in two rural districts: no other test walks there.
    day = str(datetime.now(SEOUL).date() - timedelta(days=5))
    run = uuid.uuid4().hex[:8]
    walkers = {
        "a": ("saengnim-myeon", 9_000),
        "b": ("saengnim-myeon", 9_000),
        "c": ("saengnim-myeon", 3_000),
        "d": ("sangdong-myeon", 12_000),
    }
    tokens: dict[str, str] = {}
    # GIVEN four citizens in two districts who sync that day
    for who, (district, steps) in walkers.items():
        tokens[who] = stack.token(f"e2e-board-{who}-{run}")
        profile = {"display_name": f"걷는이 {who.upper()} {run}", "district": district}
        assert stack.http("PUT", "/v1/me", token=tokens[who], body=profile)[0] == 200
        status, answer = stack.http(
            "PUT", "/v1/me/steps", token=tokens[who], body={"days": [{"date": day, "steps": steps}]}
        )
        assert status == 200, answer

    def board(who: str, query: str) -> dict[str, Any]:
        status, answer = stack.http("GET", f"/v1/leaderboards/steps?{query}", token=tokens[who])
        assert status == 200, answer
        return dict(answer)

    district_query = f"period=day&date={day}&scope=district:saengnim-myeon"
    # THEN the district's board ranks them with a shared rank, display names only
    seen = until(
        lambda: board("c", district_query), lambda b: b["me"] == {"rank": 3, "steps": 3_000}
    )
    assert [(e["rank"], e["steps"]) for e in seen["entries"]] == [
        (1, 9_000),
        (1, 9_000),
        (3, 3_000),
    ]
    assert {e["display_name"] for e in seen["entries"]} == {
        f"걷는이 {w} {run}" for w in ("A", "B", "C")
    }
    assert all("e2e-board" not in str(e) for e in seen["entries"])

    # AND the city board ranks d against everyone who walked that day
    city = until(
        lambda: board("d", f"period=day&date={day}&limit=100"),
        lambda b: b["me"]["steps"] == 12_000,
    )
    above = sum(1 for e in city["entries"] if e["steps"] > 12_000)
    assert city["me"]["rank"] == 1 + above

    # AND the districts' board (no token) has both districts' totals
    def districts() -> dict[str, int]:
        status, answer = stack.http("GET", f"/v1/leaderboards/districts?period=day&date={day}")
        assert status == 200, answer
        assert len(answer["entries"]) == 19
        return {e["district"]: e["steps"] for e in answer["entries"]}

    totals = until(districts, lambda t: t["sangdong-myeon"] == 12_000)
    assert totals["saengnim-myeon"] == 21_000

    # WHEN b walks on and syncs a higher count, THEN b leads alone and a drops to second
    status, _ = stack.http(
        "PUT", "/v1/me/steps", token=tokens["b"], body={"days": [{"date": day, "steps": 9_500}]}
    )
    assert status == 200
    until(lambda: board("b", district_query), lambda b: b["me"] == {"rank": 1, "steps": 9_500})
    assert board("a", district_query)["me"] == {"rank": 2, "steps": 9_000}
    # AND the week board covers the day
    week = board("a", f"period=week&date={day}&scope=district:saengnim-myeon")
    assert week["me"]["steps"] >= 9_000
    # AND no stream record of the syncs failed its way to the board handler's failure queue
    status, parked = stack.http("GET", "/v1/admin/dead-letters", token=stack.token("ops", True))
    assert status == 200, parked
    failures = [q for q in parked["queues"] if "step-boards" in q["queue"]]
    assert failures and all(q["messages"] == 0 for q in failures), failures
