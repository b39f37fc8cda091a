"""A rename seen as a citizen sees it: through the local stack's HTTP API, the step stream
running the real board handler, the new name is on today's and this week's boards (city
and district) right after `PUT /v1/me`, with no further sync."""

from __future__ import annotations

import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.conftest import Stack, until

pytestmark = pytest.mark.e2e
SEOUL = ZoneInfo("Asia/Seoul")


def test_a_rename_shows_on_the_boards_without_another_sync(stack: Stack) -> None:
    run = uuid.uuid4().hex[:8]
    token = stack.token(f"e2e-rename-{run}")
    today = str(datetime.now(SEOUL).date())
    # GIVEN a walker in a district no other test uses, on today's boards under a first name
    first = {"display_name": f"처음이름 {run}", "district": "daedong-myeon"}
    assert stack.http("PUT", "/v1/me", token=token, body=first)[0] == 200
    body = {"days": [{"date": today, "steps": 4_321}]}
    assert stack.http("PUT", "/v1/me/steps", token=token, body=body)[0] == 200

    def names(query: str) -> list[str]:
        status, answer = stack.http("GET", f"/v1/leaderboards/steps?{query}", token=token)
        assert status == 200, answer
        return [e["display_name"] for e in answer["entries"]]

    district = "scope=district:daedong-myeon"
    until(lambda: names(f"period=day&{district}"), lambda n: f"처음이름 {run}" in n)
    until(lambda: names(f"period=week&{district}"), lambda n: f"처음이름 {run}" in n)

    # WHEN they rename themselves and sync nothing more
    second = {"display_name": f"새이름 {run}", "district": "daedong-myeon"}
    assert stack.http("PUT", "/v1/me", token=token, body=second)[0] == 200

    # THEN today's and this week's boards, district and city, show only the new name
    for query in (f"period=day&{district}", f"period=week&{district}"):
        shown = names(query)
        assert f"새이름 {run}" in shown and f"처음이름 {run}" not in shown, (query, shown)
    for query in ("period=day&limit=100", "period=week&limit=100"):
        status, answer = stack.http("GET", f"/v1/leaderboards/steps?{query}", token=token)
        assert status == 200 and answer["me"]["steps"] >= 4_321
        shown = [e["display_name"] for e in answer["entries"]]
        assert f"처음이름 {run}" not in shown, (query, shown)


def test_a_look_alike_display_name_is_refused_over_http(stack: Stack) -> None:
    token = stack.token(f"e2e-names-{uuid.uuid4().hex[:8]}")
    for name, reason in (("관리자", "reserved_name"), ("김\u3164해", "invisible_character")):
        body = {"display_name": name, "district": "daedong-myeon"}
        status, answer = stack.http("PUT", "/v1/me", token=token, body=body)
        assert status == 422, answer
        assert answer["error"]["code"] == "invalid_display_name"
        assert answer["error"]["details"][0]["reason"] == reason
