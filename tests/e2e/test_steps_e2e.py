"""The step sync end to end: the app syncs over real HTTP through the local gateway and its
JWT authorizer, and reads back its day and week."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e
SEOUL = ZoneInfo("Asia/Seoul")


def test_a_citizen_syncs_resends_lower_and_bad_days_store_nothing(stack: Stack) -> None:
    token = stack.token("e2e-walker-sync")
    body = {"display_name": "율하걷기", "district": "jangyu2-dong"}
    assert stack.http("PUT", "/v1/me", token=token, body=body)[0] == 200
    today = datetime.now(SEOUL).date()

    # GIVEN today's steps synced
    status, answer = stack.http(
        "PUT", "/v1/me/steps", token=token, body={"days": [{"date": str(today), "steps": 6400}]}
    )
    assert (status, answer) == (200, {"days": [{"date": str(today), "steps": 6400}]})

    # WHEN the phone resends a lower count, THEN the stored count stands
    status, answer = stack.http(
        "PUT", "/v1/me/steps", token=token, body={"days": [{"date": str(today), "steps": 10}]}
    )
    assert answer["days"][0]["steps"] == 6400

    # WHEN a request holds a future day, THEN it is a 422 naming it and nothing is stored
    tomorrow = today + timedelta(days=1)
    status, answer = stack.http(
        "PUT",
        "/v1/me/steps",
        token=token,
        body={"days": [{"date": str(today), "steps": 9000}, {"date": str(tomorrow), "steps": 1}]},
    )
    assert status == 422
    assert answer["error"]["details"] == [{"date": str(tomorrow), "problem": "in the future"}]

    status, me = stack.http("GET", "/v1/me", token=token)
    assert status == 200
    assert me["today_steps"] == 6400
    assert me["week_steps"] >= 6400
