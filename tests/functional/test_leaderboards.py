"""Step leaderboards kept from the step table's stream by the real handler, read through the
API: ranks with ties, district scope, display names only, replays and late lower counts
changing nothing, and the 4xx shapes of bad queries."""

from __future__ import annotations

import copy
import random
from datetime import UTC, date, datetime
from typing import Any

import pytest

from chalicelib import streams
from chalicelib.domain.clock import seoul_day, utc_now
from tests.functional.conftest import Api, table_stream_event

TODAY = date(2026, 11, 25)  # a Wednesday of ISO week 2026-W48


def _sync(citizen_id: str, day: date, steps: int, district: str = "naeoe-dong") -> None:
    """What PUT /v1/me/steps stores (the step table; its stream feeds the boards)."""
    from chalicelib.adapters.dynamodb_models import StepDay

    StepDay(
        citizen_id,
        day.isoformat(),
        steps=steps,
        district=district,
        display_name=f"Walker {citizen_id[2:].upper()}",
        updated_at=datetime.now(UTC),
        expires=datetime(2027, 6, 1, tzinfo=UTC),
    ).save()


def _invoke(event: dict[str, Any]) -> dict[str, Any]:
    from app import handle_step_boards
    from infra.local.lambda_runtime import LambdaContext

    result: dict[str, Any] = handle_step_boards(event, LambdaContext("step-boards"))
    return result


def _deliver() -> dict[str, Any]:
    event = table_stream_event(streams.STEP_BOARDS)
    assert _invoke(copy.deepcopy(event)) == {"batchItemFailures": []}
    return event


def _board(api: Api, who: str, query: str) -> dict[str, Any]:
    response = api.call("GET", f"/v1/leaderboards/steps?{query}", as_user=who)
    assert response.status == 200, response.body
    return dict(response.body)


def _walkers() -> None:
    _sync("c-a", TODAY, 12_000)
    _sync("c-b", TODAY, 9_000, "buwon-dong")
    _sync("c-c", TODAY, 9_000)
    _sync("c-d", TODAY, 500)
    _sync("c-z", TODAY, 0, "buwon-dong")
    _sync("c-a", date(2026, 11, 23), 3_000)  # Monday of the same week


def test_the_stream_keeps_day_and_week_boards_with_competition_ranks(api: Api) -> None:
    # GIVEN five citizens' step days, two tied, one who synced zero
    _walkers()
    # WHEN the handler gets the step stream
    _deliver()
    # THEN the day board ranks them 1, 2, 2, 4, 5 with display names only
    day = _board(api, "c-d", "period=day&date=2026-11-25&limit=10")
    assert [(e["rank"], e["steps"]) for e in day["entries"]] == [
        (1, 12_000),
        (2, 9_000),
        (2, 9_000),
        (4, 500),
        (5, 0),
    ]
    assert day["entries"][0]["display_name"] == "Walker A"
    assert all(set(e) == {"rank", "display_name", "steps"} for e in day["entries"])
    assert "c-a" not in str(day["entries"])
    assert day["me"] == {"rank": 4, "steps": 500}
    assert _board(api, "c-z", "period=day&date=2026-11-25")["me"] == {"rank": 5, "steps": 0}
    assert _board(api, "c-c", "period=day&date=2026-11-25")["me"] == {"rank": 2, "steps": 9_000}
    # AND the week board sums the days it covers (any day of the week names it)
    week = _board(api, "c-a", "period=week&date=2026-11-29&limit=2")
    assert [(e["rank"], e["steps"]) for e in week["entries"]] == [(1, 15_000), (2, 9_000)]
    assert week["me"] == {"rank": 1, "steps": 15_000}


def test_a_board_without_a_date_is_of_the_day_the_wired_clock_tells(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib import wiring

    # GIVEN the walkers' day, and a clock set to 23:30 UTC the evening before (Seoul: that day)
    _walkers()
    _deliver()
    evening = datetime(2026, 11, 24, 23, 30, tzinfo=UTC)
    monkeypatch.setattr(wiring, "clock", lambda: lambda: evening)
    # WHEN a board is asked for with no date
    board = _board(api, "c-d", "period=day")
    # THEN it is Seoul's day of the wired clock
    assert board["date"] == "2026-11-25"
    assert board["me"] == {"rank": 4, "steps": 500}


def test_district_scope_and_district_totals(api: Api) -> None:
    # GIVEN the same walkers in two districts
    _walkers()
    _deliver()
    # WHEN a citizen asks for a district's board
    board = _board(api, "c-z", "period=day&date=2026-11-25&scope=district:buwon-dong")
    # THEN only that district's walkers are on it, ranked among themselves
    assert [(e["rank"], e["steps"]) for e in board["entries"]] == [(1, 9_000), (2, 0)]
    assert board["me"] == {"rank": 2, "steps": 0}
    # AND someone from elsewhere is not on it
    other = _board(api, "c-a", "period=day&date=2026-11-25&scope=district:buwon-dong")
    assert other["me"] == {"rank": None, "steps": 0}
    # AND the districts' board (no token needed) lists all 19, those with no steps at zero
    response = api.call("GET", "/v1/leaderboards/districts?period=week&date=2026-11-25")
    assert response.status == 200
    entries = response.body["entries"]
    assert len(entries) == 19
    assert entries[0] == {"rank": 1, "district": "naeoe-dong", "name": "내외동", "steps": 24_500}
    assert entries[1]["district"] == "buwon-dong" and entries[1]["steps"] == 9_000
    assert {(e["rank"], e["steps"]) for e in entries[2:]} == {(3, 0)}


def test_replays_and_a_late_lower_count_change_nothing(api: Api) -> None:
    # GIVEN a citizen synced 4,000 then 8,000 steps the same day, and another 6,000
    _sync("c-1", TODAY, 4_000)
    _sync("c-2", TODAY, 6_000)
    _sync("c-1", TODAY, 8_000)
    records = table_stream_event(streams.STEP_BOARDS)["Records"]
    assert len(records) == 3
    # WHEN the records arrive twice, then shuffled, with the lower 4,000 last
    assert _invoke({"Records": copy.deepcopy(records)}) == {"batchItemFailures": []}
    assert _invoke({"Records": copy.deepcopy(records)}) == {"batchItemFailures": []}
    shuffled = copy.deepcopy(records)
    random.Random(3).shuffle(shuffled)
    assert _invoke({"Records": shuffled}) == {"batchItemFailures": []}
    assert _invoke({"Records": [copy.deepcopy(records[0])]}) == {"batchItemFailures": []}
    # THEN the boards are as after one clean delivery: the maximum counts, ranked
    board = _board(api, "c-2", "period=day&date=2026-11-25")
    assert [(e["rank"], e["steps"]) for e in board["entries"]] == [(1, 8_000), (2, 6_000)]
    assert board["me"] == {"rank": 2, "steps": 6_000}
    districts = api.call("GET", "/v1/leaderboards/districts?period=day&date=2026-11-25").body
    assert districts["entries"][0]["steps"] == 14_000


def test_a_poison_record_fails_alone(api: Api) -> None:
    # GIVEN a batch with one record whose image is not a step day
    _sync("c-1", TODAY, 1_000)
    records = table_stream_event(streams.STEP_BOARDS)["Records"]
    poison = copy.deepcopy(records[0])
    poison["dynamodb"]["NewImage"] = {
        "citizen_id": {"S": "x"},
        "day": {"S": "not a day"},
        "steps": {"N": "5"},
    }
    poison["dynamodb"]["SequenceNumber"] = "7"
    # WHEN it is delivered between good ones
    result = _invoke({"Records": [poison, *records]})
    # THEN only it is reported; the good record counts
    assert result == {"batchItemFailures": [{"itemIdentifier": "7"}]}
    assert _board(api, "c-1", "date=2026-11-25")["me"] == {"rank": 1, "steps": 1_000}


def test_a_batch_is_a_few_requests_and_a_repeat_writes_nothing(api: Api) -> None:
    from chalicelib import wiring
    from chalicelib.domain.steps import StepDay
    from tests.functional.test_table_access import touched_calls

    # GIVEN 60 citizens' step days (240 board entries and 60 month walkers' entries, more
    # than one transaction holds)
    days = [
        StepDay(f"c-{i}", TODAY, 1_000 + 37 * i, ("naeoe-dong", "buwon-dong")[i % 2], f"w{i}")
        for i in range(60)
    ]
    # WHEN they are applied, then applied again
    with touched_calls() as first:
        assert wiring.boards().apply(days) == 300
    with touched_calls() as again:
        assert wiring.boards().apply(days) == 0
    # THEN a few batched reads and transactions did it; the repeat only read
    assert first["BatchGetItem"] <= 3
    assert 3 <= first["TransactWriteItems"] <= 8
    assert again == {"BatchGetItem": 3}
    board = _board(api, "c-59", "date=2026-11-25&limit=3")
    assert board["me"] == {"rank": 1, "steps": 1_000 + 37 * 59}


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("period=month", 400, "invalid_query"),
        ("date=2026-13-01", 400, "invalid_query"),
        ("date=20261125", 400, "invalid_query"),
        ("date=２０２６-11-25", 400, "invalid_query"),
        ("limit=0", 400, "invalid_query"),
        ("limit=101", 400, "invalid_query"),
        ("limit=99999999999999999999999", 400, "invalid_query"),
        ("scope=county", 400, "invalid_query"),
        ("scope=district:", 400, "invalid_query"),
        ("scope=district:%EB%82%B4%EC%99%B8%EB%8F%99", 400, "invalid_query"),
        ("scope=district:atlantis", 422, "unknown_district"),
        ("limit=abc", 400, "invalid_query"),
        ("limit=1.5", 400, "invalid_query"),
        ("period=DAY", 400, "invalid_query"),
        ("date=2026-11-25T00:00", 400, "invalid_query"),
    ],
)
def test_bad_queries_get_the_error_shape(api: Api, query: str, status: int, code: str) -> None:
    response = api.call("GET", f"/v1/leaderboards/steps?{query}", as_user="c-1")
    assert response.status == status
    assert response.body["error"]["code"] == code
    assert set(response.body["error"]) == {"code", "message", "details"}


def test_the_citizen_board_needs_a_token_and_the_districts_board_does_not(api: Api) -> None:
    response = api.call("GET", "/v1/leaderboards/steps")
    assert response.status == 401
    assert response.body["error"]["code"] == "unauthorized"
    assert api.call("GET", "/v1/leaderboards/districts?period=week&date=bad").status == 400
    empty = api.call("GET", "/v1/leaderboards/districts").body["entries"]
    assert len(empty) == 19 and {e["rank"] for e in empty} == {1}
    mine = _board(api, "nobody", "")
    assert mine["entries"] == [] and mine["me"] == {"rank": None, "steps": 0}


def test_the_step_board_handler_touches_only_its_declared_tables(api: Api) -> None:
    from chalicelib.table_access import TABLES_BY_FUNCTION
    from tests.functional.test_table_access import touched

    _sync("c-1", TODAY, 1_000)
    with touched() as tables:
        _deliver()
    assert tables == {m.__name__ for m in TABLES_BY_FUNCTION["handle_step_boards"]}


def test_an_entry_another_shard_wrote_meanwhile_is_reread_and_recomputed(api: Api) -> None:
    import time

    from chalicelib.adapters.dynamodb_boards import DynamoDbBoards
    from chalicelib.domain.boards import Entry, EntryKey
    from chalicelib.domain.districts import districts
    from chalicelib.domain.steps import StepDay
    from chalicelib.services.boards import BoardService

    names = {code: d.name for code, d in districts().items()}
    plain = BoardService(DynamoDbBoards(), lambda: names, time.sleep)

    class RacedStore(DynamoDbBoards):
        """Another shard writes the same entries between this batch's read and write."""

        raced = False

        def read_entries(self, keys: list[EntryKey], consistent: bool) -> dict[EntryKey, Entry]:
            found = super().read_entries(keys, consistent)
            if not self.raced:
                self.raced = True
                plain.apply([StepDay("c-1", TODAY, 7_000, "naeoe-dong", "A")])
            return found

    # GIVEN a batch whose entries another shard raises after they were read
    raced = BoardService(RacedStore(), lambda: names, time.sleep)
    # WHEN the batch is applied
    raced.apply(
        [
            StepDay("c-1", date(2026, 11, 24), 2_000, "naeoe-dong", "A"),
            StepDay("c-2", TODAY, 6_000, "naeoe-dong", "B"),
        ]
    )
    # THEN nothing was lost: the week holds both of c-1's days, ranks and totals are exact
    week = _board(api, "c-1", "period=week&date=2026-11-25")
    assert week["me"] == {"rank": 1, "steps": 9_000}
    assert [(e["rank"], e["steps"]) for e in week["entries"]] == [(1, 9_000), (2, 6_000)]
    assert _board(api, "c-2", "period=day&date=2026-11-25")["me"] == {"rank": 2, "steps": 6_000}
    totals = api.call("GET", "/v1/leaderboards/districts?period=week&date=2026-11-25").body
    assert totals["entries"][0]["steps"] == 15_000


def test_the_memory_fake_answers_like_dynamodb(aws: Any) -> None:
    """The unit tests' MemoryBoards and the DynamoDB adapter, given the same deliveries,
    give the same boards, ranks and totals: the property tests' fake cannot drift."""
    import time

    from chalicelib.adapters.dynamodb_boards import DynamoDbBoards
    from chalicelib.domain.districts import districts
    from chalicelib.domain.steps import StepDay
    from chalicelib.services.boards import BoardService
    from tests.fakes import MemoryBoards

    names = {code: d.name for code, d in districts().items()}
    rng = random.Random(5)
    codes = ["naeoe-dong", "buwon-dong", "hallim-myeon"]

    def step_day(c: int, d: int) -> StepDay:
        steps = rng.choice([0, 99, 100, 10_000, rng.randint(0, 99_999)])
        return StepDay(f"c{c}", date(2026, 11, 23 + d), steps, codes[(c + d) % 3], f"W{c}")

    deliveries = [
        [step_day(rng.randrange(8), rng.randrange(4)) for _ in range(rng.randint(1, 12))]
        for _ in range(8)
    ]
    answers = []
    for store in (MemoryBoards(), DynamoDbBoards()):
        service = BoardService(store, lambda: names, time.sleep)
        for batch in deliveries + deliveries[:3]:
            service.apply(batch)
        # A rename pushed to the current boards, then older records replayed: it stays.
        renamed = [
            service.show_name(f"c{c}", f"R{c}", 99, codes, date(2026, 11, 25)) for c in (1, 2)
        ]
        for batch in deliveries[:3]:
            service.apply(batch)
        seen: list[Any] = [renamed]
        for kind in ("day", "week"):
            for scope in ("city", *(f"district:{c}" for c in codes)):
                board = service.board(kind, date(2026, 11, 25), scope)
                # (equal scores come in no set order: compare them as a set)
                leaders = sorted(
                    (r.rank, r.steps, r.display_name) for r in service.leaders(board, 100)
                )
                mine = [service.standing(board, f"c{c}") for c in range(8)]
                seen.append((board, leaders, mine))
            seen.append((kind, service.districts(kind, date(2026, 11, 25))))
        answers.append(seen)
    assert answers[0] == answers[1]


@pytest.mark.parametrize("query", ["period=week&date=9999-12-31", "date=0001-01-01"])
def test_far_dates_are_empty_boards_not_errors(api: Api, query: str) -> None:
    board = _board(api, "c-1", query)
    assert board["entries"] == [] and board["me"] == {"rank": None, "steps": 0}
    response = api.call("GET", f"/v1/leaderboards/districts?{query}")
    assert response.status == 200 and len(response.body["entries"]) == 19


def test_a_sync_through_the_api_reaches_the_boards(api: Api) -> None:
    # GIVEN two citizens who registered and synced through the app's routes
    for who, district, steps in (("c-1", "hallim-myeon", 4_321), ("c-2", "naeoe-dong", 8_000)):
        profile = {"display_name": f"Walker {who}", "district": district}
        assert api.call("PUT", "/v1/me", as_user=who, body=profile).status == 200
        body = {"days": [{"date": seoul_day(utc_now()).isoformat(), "steps": steps}]}
        response = api.call("PUT", "/v1/me/steps", as_user=who, body=body)
        assert response.status == 200, response.body
    # WHEN the step stream is delivered
    _deliver()
    # THEN each is on today's city board and on their own district's
    assert _board(api, "c-1", "")["me"] == {"rank": 2, "steps": 4_321}
    assert _board(api, "c-1", "scope=district:hallim-myeon")["me"] == {"rank": 1, "steps": 4_321}
