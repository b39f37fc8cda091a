"""A rename shows on every board the citizen is on today and this week, at once (from
`PUT /v1/me`, not after the next sync), and no replay or reordering of the step stream
brings the old name back: a board keeps the name of the newest profile version."""

from __future__ import annotations

import copy
import random
from typing import Any

from chalicelib import streams
from chalicelib.domain.clock import seoul_day, utc_now
from tests.functional.conftest import Api, table_stream_event


def _invoke(event: dict[str, Any]) -> None:
    from app import handle_step_boards
    from infra.local.lambda_runtime import LambdaContext

    result = handle_step_boards(event, LambdaContext("step-boards"))
    assert result == {"batchItemFailures": []}


def _profile(api: Api, who: str, name: str, district: str = "naeoe-dong") -> None:
    body = {"display_name": name, "district": district}
    answer = api.call("PUT", "/v1/me", as_user=who, body=body)
    assert answer.status == 200, answer.body


def _steps(api: Api, who: str, steps: int) -> None:
    body = {"days": [{"date": seoul_day(utc_now()).isoformat(), "steps": steps}]}
    assert api.call("PUT", "/v1/me/steps", as_user=who, body=body).status == 200


def _names(api: Api, query: str) -> list[str]:
    answer = api.call("GET", f"/v1/leaderboards/steps?{query}", as_user="viewer")
    assert answer.status == 200, answer.body
    return [e["display_name"] for e in answer.body["entries"]]


BOARDS = ("period=day", "period=week", "period=day&scope=district:naeoe-dong",
          "period=week&scope=district:naeoe-dong")  # fmt: skip


def test_a_rename_shows_on_todays_and_this_weeks_boards_at_once(api: Api) -> None:
    # GIVEN a walker on every board of today and this week under their first name
    _profile(api, "r-1", "걷기왕")
    _steps(api, "r-1", 9_000)
    _invoke(table_stream_event(streams.STEP_BOARDS))
    assert all(_names(api, q) == ["걷기왕"] for q in BOARDS)
    # WHEN they rename themselves and sync nothing more
    _profile(api, "r-1", "김민수")
    # THEN every board shows the new name now
    for query in BOARDS:
        assert _names(api, query) == ["김민수"], query


def test_a_replayed_or_reordered_old_step_record_never_brings_the_old_name_back(
    api: Api,
) -> None:
    # GIVEN steps synced under an old name, then a rename, then more steps under the new one
    _profile(api, "r-2", "Old Name")
    _steps(api, "r-2", 3_000)
    old = table_stream_event(streams.STEP_BOARDS)["Records"]
    _profile(api, "r-2", "New Name")
    _steps(api, "r-2", 4_000)
    new = table_stream_event(streams.STEP_BOARDS)["Records"]
    records = old + new
    # WHEN the records arrive newest first, then replayed, then shuffled
    _invoke({"Records": copy.deepcopy(list(reversed(records)))})
    _invoke({"Records": copy.deepcopy(records)})
    shuffled = copy.deepcopy(records)
    random.Random(7).shuffle(shuffled)
    _invoke({"Records": shuffled})
    _invoke({"Records": copy.deepcopy(old)})
    # THEN the new name stays, with the maximum count
    answer = api.call("GET", "/v1/leaderboards/steps?period=day", as_user="r-2").body
    assert [(e["display_name"], e["steps"]) for e in answer["entries"]] == [("New Name", 4_000)]


def test_a_rename_while_the_stream_is_behind_wins_over_the_older_records(api: Api) -> None:
    # GIVEN a sync whose stream record has not been delivered yet, and a rename meanwhile
    _profile(api, "r-3", "Before")
    _steps(api, "r-3", 5_000)
    _invoke(table_stream_event(streams.STEP_BOARDS))
    _steps(api, "r-3", 6_000)
    late = table_stream_event(streams.STEP_BOARDS)
    _profile(api, "r-3", "After")
    # WHEN the late record (carrying the old name) arrives after the rename
    _invoke(late)
    # THEN the count moves up and the name stays the new one
    answer = api.call("GET", "/v1/leaderboards/steps?period=week", as_user="r-3").body
    assert [(e["display_name"], e["steps"]) for e in answer["entries"]] == [("After", 6_000)]


def test_a_rename_touches_only_boards_the_citizen_is_on(api: Api) -> None:
    # GIVEN a citizen who never synced
    _profile(api, "r-4", "Nobody Yet")
    # WHEN they rename
    _profile(api, "r-4", "Still Nobody")
    # THEN no board gains an entry
    for query in BOARDS:
        assert _names(api, query) == []
