"""Challenges through the real routes and stream handlers on moto: created, joined, moved by
the step and ledger streams, finished once in rank order, prizes credited exactly once
(replays included), and a lottery drawn once that the stdlib verifier agrees with."""

from __future__ import annotations

import copy
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from chalicelib import streams, wiring
from chalicelib.domain.clock import seoul_day, utc_now
from tests.functional.conftest import (
    Api,
    deposit,
    invoke_deposits,
    register,
    rule_message,
    sqs_record,
    table_stream_event,
)


def _register(api: Api, who: str, district: str = "naeoe-dong", phone: str | None = None) -> None:
    register(api, who, phone=phone, district=district)


def _today() -> date:
    return seoul_day(utc_now())


def _challenge(**overrides: Any) -> dict[str, Any]:
    today = _today()
    body: dict[str, Any] = {
        "title": "Walk Gimhae",
        "kind": "total_steps",
        "starts_on": (today - timedelta(days=2)).isoformat(),
        "ends_on": today.isoformat(),
        "target": 15000,
        "daily_cap": 10000,
        "prize": {"type": "all_finishers", "points": 300},
    }
    body.update(overrides)
    return body


def _create(api: Api, **overrides: Any) -> dict[str, Any]:
    response = api.call(
        "POST", "/v1/admin/challenges", as_user="ops", admin=True, body=_challenge(**overrides)
    )
    assert response.status == 201, response.body
    return dict(response.body)


def _steps(who: str, day: date, steps: int) -> None:
    from chalicelib.adapters.dynamodb_models import StepDay

    now = utc_now()
    StepDay(
        who,
        day.isoformat(),
        steps=steps,
        district="naeoe-dong",
        display_name=who,
        updated_at=now,
        expires=now + timedelta(days=30),
    ).save()


def _invoke_steps(event: dict[str, Any]) -> dict[str, Any]:
    from app import handle_step_challenges
    from infra.local.lambda_runtime import LambdaContext

    result: dict[str, Any] = handle_step_challenges(event, LambdaContext("step-challenges"))
    return result


def _invoke_ledger(event: dict[str, Any]) -> dict[str, Any]:
    from app import handle_ledger_challenges
    from infra.local.lambda_runtime import LambdaContext

    result: dict[str, Any] = handle_ledger_challenges(event, LambdaContext("ledger-challenges"))
    return result


def _ledger(api: Api, who: str) -> list[dict[str, Any]]:
    response = api.call("GET", "/v1/me/ledger?limit=100", as_user=who)
    assert response.status == 200
    return list(response.body["entries"])


def _prizes(api: Api, who: str) -> list[dict[str, Any]]:
    return [e for e in _ledger(api, who) if e["kind"] == "challenge_prize"]


def _balance_is_the_ledger_sum(api: Api, who: str) -> None:
    balance = api.call("GET", "/v1/me", as_user=who).body["balance"]
    assert balance == sum(e["points"] for e in _ledger(api, who))


def _mine(api: Api, who: str, challenge_id: str) -> dict[str, Any]:
    response = api.call("GET", f"/v1/challenges/{challenge_id}", as_user=who)
    assert response.status == 200, response.body
    return dict(response.body)


def _later(days: int) -> None:
    """Move the challenge service's clock forward (a challenge can only be created open)."""
    wiring.challenges()._clock = lambda: utc_now() + timedelta(days=days)


# Creating ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "fields"),
    [
        ({"ends_on": "2000-01-01"}, {"ends_on"}),
        (
            {"starts_on": seoul_day(utc_now()).isoformat(), "ends_on": "2000-01-01"},
            {"ends_on"},
        ),
        ({"prize": {"type": "first_n", "points": 10}}, {"prize.winners"}),
        ({"prize": {"type": "lottery", "points": 10}}, {"prize.winners"}),
        ({"kind": "daily_goal", "daily_cap": None, "target": 2}, {"daily_goal"}),
        (
            {"target": 0, "prize": {"type": "all_finishers", "points": -5}},
            {"target", "prize.points"},
        ),
        ({"district": "gangnam-gu"}, {"district"}),
        ({"title": "a\u0000b"}, {"title"}),
        ({"title": "x" * 81}, {"title"}),
        ({"title": "   "}, {"title"}),
        ({"target": 10**30}, {"target"}),
        ({"starts_on": "2020-01-01"}, {"ends_on"}),
        ({"kind": "recycle_items", "daily_cap": 5, "target": 5}, {"daily_cap"}),
        ({"kind": "daily_goal", "daily_goal": 8000, "daily_cap": None, "target": 9}, {"target"}),
        ({"kind": "swimming"}, {"kind"}),
        ({"target": 30001, "daily_cap": 10000}, {"target"}),
        ({"starts_on": "2026-02-30"}, {"starts_on"}),
    ],
)
def test_an_invalid_challenge_is_a_422_naming_its_fields(
    api: Api, overrides: dict[str, Any], fields: set[str]
) -> None:
    response = api.call(
        "POST", "/v1/admin/challenges", as_user="ops", admin=True, body=_challenge(**overrides)
    )
    assert response.status == 422, response.body
    assert fields <= {d["field"] for d in response.body["error"]["details"]}


@pytest.mark.parametrize(
    "raw",
    [
        b"{not json",
        b"[]",
        json.dumps({**_challenge(), "target": "many"}).encode(),
        json.dumps({**_challenge(), "target": [1]}).encode(),
        json.dumps({**_challenge(), "target": True}).encode(),
        json.dumps({**_challenge(), "surprise": 1}).encode(),
        json.dumps({k: v for k, v in _challenge().items() if k != "title"}).encode(),
        b'{"title": ' * 5000,
    ],
)
def test_a_malformed_challenge_is_a_400(api: Api, raw: bytes) -> None:
    response = api.call("POST", "/v1/admin/challenges", as_user="ops", admin=True, raw=raw)
    assert response.status == 400, response.body
    assert response.body["error"]["code"]


def test_only_admins_create_and_a_lottery_publishes_its_commitment(api: Api) -> None:
    assert api.call("POST", "/v1/admin/challenges", as_user="c", body=_challenge()).status == 403
    made = _create(api, prize={"type": "lottery", "points": 500, "winners": 2})
    assert made["challenge_id"].startswith("chl-")
    assert len(made["draw"]["commitment"]) == 64
    # The seed is nowhere until the draw.
    public = api.call("GET", f"/v1/challenges/{made['challenge_id']}/draw")
    assert public.status == 200
    assert public.body["seed"] is None and public.body["commitment"] == made["draw"]["commitment"]
    seen = _mine(api, "c", made["challenge_id"])
    assert set(seen["draw"]) == {"commitment", "drawn"}
    assert "seed" not in seen


# Joining ----------------------------------------------------------------------------------


def test_joining_answers_201_then_200_and_refuses_the_wrong_citizens(api: Api) -> None:
    _register(api, "c-1")
    _register(api, "c-far", district="jinyeong-eup")
    made = _create(api, district="naeoe-dong")
    path = f"/v1/challenges/{made['challenge_id']}/entries"
    first = api.call("POST", path, as_user="c-1")
    again = api.call("POST", path, as_user="c-1")
    assert (first.status, again.status) == (201, 200)
    assert first.body == again.body and first.body["joined"] is True
    assert api.call("POST", path, as_user="c-far").body["error"]["code"] == "wrong_district"
    assert api.call("POST", path, as_user="c-far").status == 403
    unregistered = api.call("POST", path, as_user="nobody")
    assert (unregistered.status, unregistered.body["error"]["code"]) == (404, "not_registered")
    assert api.call("POST", "/v1/challenges/chl-nope/entries", as_user="c-1").status == 404
    assert api.call("GET", "/v1/challenges/" + "x" * 300, as_user="c-1").status == 404
    # After the end nobody joins; the one already in still sees their entry.
    _register(api, "c-2")
    _later(1)
    closed = api.call("POST", path, as_user="c-2")
    assert (closed.status, closed.body["error"]["code"]) == (409, "challenge_closed")
    assert api.call("POST", path, as_user="c-1").status == 200


def test_joining_with_enough_steps_stored_finishes_and_pays_at_once(api: Api) -> None:
    _register(api, "c-1")
    made = _create(api, target=100)
    _steps("c-1", _today(), 500)
    path = f"/v1/challenges/{made['challenge_id']}/entries"
    joined = api.call("POST", path, as_user="c-1")
    assert joined.status == 201
    assert joined.body["progress"]["finished"] is True and joined.body["prize_awarded"] is True
    again = api.call("POST", path, as_user="c-1")
    assert (again.status, again.body) == (200, joined.body)
    assert len(_prizes(api, "c-1")) == 1


def test_a_join_that_died_before_counting_stored_days_heals_on_the_repeat(api: Api) -> None:
    _register(api, "c-1")
    made = _create(api)
    _steps("c-1", _today(), 7000)
    service = wiring.challenges()
    real = service._store.step_days

    def dies(*args: Any) -> dict[str, int]:
        raise RuntimeError("the Lambda died after writing the entry")

    service._store.step_days = dies  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        service.join(made["challenge_id"], "c-1")
    service._store.step_days = real  # type: ignore[method-assign]
    again = api.call("POST", f"/v1/challenges/{made['challenge_id']}/entries", as_user="c-1")
    assert (again.status, again.body["progress"]["value"]) == (200, 7000)


def test_the_listing_shows_open_challenges_with_my_progress(api: Api) -> None:
    _register(api, "c-1")
    joined = _create(api, title="Joined")
    other = _create(api, title="Other")
    _steps("c-1", _today(), 4000)
    assert api.call("POST", f"/v1/challenges/{joined['challenge_id']}/entries", as_user="c-1")
    listed = api.call("GET", "/v1/challenges", as_user="c-1")
    assert listed.status == 200
    by_id = {ch["challenge_id"]: ch for ch in listed.body["challenges"]}
    assert by_id[joined["challenge_id"]]["joined"] is True
    assert by_id[joined["challenge_id"]]["progress"]["value"] == 4000
    assert by_id[other["challenge_id"]]["joined"] is False
    assert by_id[other["challenge_id"]]["progress"]["value"] == 0


# Progress, finishing, prizes ---------------------------------------------------------------


def test_steps_finish_a_challenge_and_its_prize_is_credited_once(api: Api) -> None:
    # GIVEN a citizen who synced a big day before joining (counted up to the daily cap)
    _register(api, "c-1")
    made = _create(api)
    challenge_id = made["challenge_id"]
    _steps("c-1", _today() - timedelta(days=1), 12000)
    joined = api.call("POST", f"/v1/challenges/{challenge_id}/entries", as_user="c-1")
    assert joined.body["progress"]["value"] == 10000
    # WHEN today's steps are synced in two steps and the stream delivers them
    _steps("c-1", _today(), 3000)
    _steps("c-1", _today(), 6000)
    _steps("c-1", _today() - timedelta(days=9), 50000)  # outside the window: never counts
    event = table_stream_event(streams.STEP_CHALLENGES)
    assert _invoke_steps(event) == {"batchItemFailures": []}
    # THEN the challenge is finished, and its prize credited once
    mine = _mine(api, "c-1", challenge_id)
    assert mine["progress"]["value"] == 16000
    assert mine["progress"]["finished"] is True and mine["progress"]["finished_at"]
    assert mine["prize_awarded"] is True
    prizes = _prizes(api, "c-1")
    assert len(prizes) == 1 and prizes[0]["points"] == 300
    assert prizes[0]["detail"]["challenge_id"] == challenge_id
    # WHEN the same records are replayed, shuffled, twice
    records = event["Records"]
    for _ in range(2):
        assert _invoke_steps({"Records": list(reversed(copy.deepcopy(records)))}) == {
            "batchItemFailures": []
        }
    # THEN nothing changes: one prize, the same finish time, balance == sum(ledger)
    again = _mine(api, "c-1", challenge_id)
    assert again["progress"] == mine["progress"]
    assert len(_prizes(api, "c-1")) == 1
    _balance_is_the_ledger_sum(api, "c-1")


def test_daily_goal_counts_days_at_or_above_the_goal(api: Api) -> None:
    _register(api, "c-1")
    made = _create(
        api,
        kind="daily_goal",
        daily_cap=None,
        daily_goal=8000,
        target=2,
        prize={"type": "all_finishers", "points": 100},
    )
    assert api.call("POST", f"/v1/challenges/{made['challenge_id']}/entries", as_user="c-1")
    _steps("c-1", _today() - timedelta(days=2), 8000)
    _steps("c-1", _today() - timedelta(days=1), 7999)
    _invoke_steps(table_stream_event(streams.STEP_CHALLENGES))
    assert _mine(api, "c-1", made["challenge_id"])["progress"]["value"] == 1
    _steps("c-1", _today(), 20000)
    _invoke_steps(table_stream_event(streams.STEP_CHALLENGES))
    mine = _mine(api, "c-1", made["challenge_id"])
    assert (mine["progress"]["value"], mine["progress"]["finished"]) == (2, True)
    assert len(_prizes(api, "c-1")) == 1


def test_first_n_pays_only_the_first_finishers(api: Api) -> None:
    # GIVEN a first-1 challenge and two citizens who finish in the same batch
    for who in ("c-a", "c-b"):
        _register(api, who)
    made = _create(api, prize={"type": "first_n", "points": 1000, "winners": 1})
    challenge_id = made["challenge_id"]
    for who in ("c-b", "c-a"):
        assert api.call("POST", f"/v1/challenges/{challenge_id}/entries", as_user=who)
        _steps(who, _today(), 10000)
        _steps(who, _today() - timedelta(days=1), 10000)
    event = table_stream_event(streams.STEP_CHALLENGES)
    assert _invoke_steps(event) == {"batchItemFailures": []}
    assert _invoke_steps(copy.deepcopy(event)) == {"batchItemFailures": []}
    # THEN ranks 1 and 2 follow the finish times; only rank 1 is paid, once
    mine = {who: _mine(api, who, challenge_id)["progress"] for who in ("c-a", "c-b")}
    ranks = sorted((p["finish_rank"], p["finished_at"], who) for who, p in mine.items())
    assert [r[0] for r in ranks] == [1, 2]
    first, second = ranks[0][2], ranks[1][2]
    assert ranks[0][1] <= ranks[1][1]
    assert len(_prizes(api, first)) == 1 and _prizes(api, second) == []
    detail = api.call("GET", f"/v1/challenges/{challenge_id}", as_user="c-a").body
    assert detail["finishers"] == 2


def test_a_crash_between_finishing_and_paying_is_healed_by_the_retry(api: Api) -> None:
    _register(api, "c-1")
    made = _create(api)
    assert api.call("POST", f"/v1/challenges/{made['challenge_id']}/entries", as_user="c-1")
    _steps("c-1", _today(), 10000)
    _steps("c-1", _today() - timedelta(days=1), 10000)
    event = table_stream_event(streams.STEP_CHALLENGES)
    service = wiring.challenges()
    real = service._ledger

    class Crashing:
        def post(self, posting: Any) -> Any:
            raise RuntimeError("the Lambda died here")

    # WHEN the first delivery finishes the entry but dies before the prize is posted
    service._ledger = Crashing()
    with pytest.raises(RuntimeError):
        _invoke_steps(copy.deepcopy(event))
    mine = _mine(api, "c-1", made["challenge_id"])
    assert mine["progress"]["finished"] is True and mine["prize_awarded"] is False
    # THEN the stream's retry of the same batch pays it, once, and keeps the finish time
    service._ledger = real
    assert _invoke_steps(copy.deepcopy(event)) == {"batchItemFailures": []}
    assert _invoke_steps(copy.deepcopy(event)) == {"batchItemFailures": []}
    healed = _mine(api, "c-1", made["challenge_id"])
    assert healed["prize_awarded"] is True
    assert healed["progress"]["finished_at"] == mine["progress"]["finished_at"]
    assert len(_prizes(api, "c-1")) == 1
    _balance_is_the_ledger_sum(api, "c-1")


def test_recycled_items_count_once_from_the_ledger_stream(api: Api) -> None:
    # GIVEN a citizen in a recycle challenge of 6 items
    _register(api, "c-r", phone="010-1212-3434")
    made = _create(
        api,
        kind="recycle_items",
        daily_cap=None,
        target=6,
        prize={"type": "all_finishers", "points": 200},
    )
    challenge_id = made["challenge_id"]
    assert api.call("POST", f"/v1/challenges/{challenge_id}/entries", as_user="c-r")
    # WHEN two deposits (3 + 4 items) are credited and the ledger stream delivers them
    messages = [
        deposit("evt-chl-0001", phone="010-1212-3434", can=2, pet=1),
        deposit("evt-chl-0002", phone="010-1212-3434", can=4),
    ]
    records = [sqs_record(rule_message("robot-001", m), f"m{i}") for i, m in enumerate(messages)]
    assert invoke_deposits(records[:1]) == {"batchItemFailures": []}
    first = table_stream_event(streams.LEDGER_CHALLENGES)
    assert _invoke_ledger(first) == {"batchItemFailures": []}
    assert _invoke_ledger(copy.deepcopy(first)) == {"batchItemFailures": []}
    assert _mine(api, "c-r", challenge_id)["progress"]["value"] == 3
    assert invoke_deposits(records[1:]) == {"batchItemFailures": []}
    everything = table_stream_event(streams.LEDGER_CHALLENGES)
    for _ in range(2):
        assert _invoke_ledger(copy.deepcopy(everything)) == {"batchItemFailures": []}
    # THEN each deposit counted once (prize entries in the stream count nothing)
    mine = _mine(api, "c-r", challenge_id)
    assert (mine["progress"]["value"], mine["progress"]["finished"]) == (7, True)
    assert mine["prize_awarded"] is True
    assert _invoke_ledger(table_stream_event(streams.LEDGER_CHALLENGES)) == {
        "batchItemFailures": []
    }
    assert _mine(api, "c-r", challenge_id)["progress"]["value"] == 7
    assert len(_prizes(api, "c-r")) == 1
    _balance_is_the_ledger_sum(api, "c-r")


# The lottery ------------------------------------------------------------------------------


def test_a_lottery_is_drawn_once_and_the_verifier_agrees(api: Api, tmp_path: Path) -> None:
    from chalicelib.domain import draw
    from tools import verify_draw

    # GIVEN a lottery of 2 among 4 finishers (and one who did not finish)
    made = _create(api, prize={"type": "lottery", "points": 700, "winners": 2})
    challenge_id = made["challenge_id"]
    people = ["c-l1", "c-l2", "c-l3", "c-l4", "c-l5"]
    for who in people:
        _register(api, who)
        assert api.call("POST", f"/v1/challenges/{challenge_id}/entries", as_user=who)
        _steps(who, _today(), 10000 if who != "c-l5" else 100)
        _steps(who, _today() - timedelta(days=1), 10000)
    _invoke_steps(table_stream_event(streams.STEP_CHALLENGES))
    assert all(_prizes(api, who) == [] for who in people)
    draw_path = f"/v1/admin/challenges/{challenge_id}/draw"
    # WHEN it is drawn before the end: refused
    early = api.call("POST", draw_path, as_user="ops", admin=True)
    assert (early.status, early.body["error"]["code"]) == (409, "challenge_open")
    assert api.call("POST", draw_path, as_user="c-l1").status == 403
    # WHEN it is drawn after the end (and the 7 days of late syncs, and a day), twice
    _later(9)
    first = api.call("POST", draw_path, as_user="ops", admin=True)
    second = api.call("POST", draw_path, as_user="ops", admin=True)
    assert (first.status, second.status) == (201, 200)
    assert first.body == second.body
    # THEN the draw is public, checks out, and pays each winner once
    public = api.call("GET", f"/v1/challenges/{challenge_id}/draw")
    assert public.status == 200 and public.body == first.body
    result = public.body
    # The draw names per-challenge pseudonyms, never a citizen id; each finisher finds
    # their own in the challenge's detail
    mine = {who: _mine(api, who, challenge_id)["draw"]["my_pseudonym"] for who in people}
    assert result["finishers"] == sorted(mine[who] for who in people if who != "c-l5")
    assert not any(who in json.dumps(result) for who in people)
    assert result["scheme"] == "pseudonyms-v1" and result["withheld"] is None
    assert len(result["winners"]) == 2
    assert draw.commitment(bytes.fromhex(result["seed"])) == made["draw"]["commitment"]
    saved = tmp_path / "draw.json"
    saved.write_text(json.dumps(result))
    assert verify_draw.main([challenge_id, "--file", str(saved)]) == 0
    tampered = dict(result, finishers=sorted([*result["finishers"], mine["c-l5"]]))
    saved.write_text(json.dumps(tampered))
    assert verify_draw.main([challenge_id, "--file", str(saved)]) == 1
    for who in people:
        expected = 1 if mine[who] in result["winners"] else 0
        assert len(_prizes(api, who)) == expected
        assert _mine(api, who, challenge_id)["prize_awarded"] is bool(expected)
        _balance_is_the_ledger_sum(api, who)


def test_only_lotteries_are_drawn(api: Api) -> None:
    made = _create(api)
    _later(1)
    response = api.call(
        "POST", f"/v1/admin/challenges/{made['challenge_id']}/draw", as_user="ops", admin=True
    )
    assert (response.status, response.body["error"]["code"]) == (409, "not_a_lottery")
    assert api.call("GET", f"/v1/challenges/{made['challenge_id']}/draw").status == 404
    assert (
        api.call("POST", "/v1/admin/challenges/nope/draw", as_user="ops", admin=True).status == 404
    )


# Requests and grants -----------------------------------------------------------------------


def test_handlers_touch_only_their_tables_in_few_requests(api: Api) -> None:
    from chalicelib.table_access import TABLES_BY_FUNCTION
    from tests.functional.test_table_access import touched, touched_calls

    people = [f"c-{i}" for i in range(6)]
    made = _create(api, prize={"type": "all_finishers", "points": 5})
    for who in people:
        _register(api, who)
        assert api.call("POST", f"/v1/challenges/{made['challenge_id']}/entries", as_user=who)
        for back in range(3):
            _steps(who, _today() - timedelta(days=back), 1000 + back)
    event = table_stream_event(streams.STEP_CHALLENGES)
    assert len(event["Records"]) == 18
    with touched() as tables, touched_calls() as calls:
        assert _invoke_steps(event) == {"batchItemFailures": []}
    declared = {m.__name__ for m in TABLES_BY_FUNCTION["handle_step_challenges"]}
    assert tables <= declared
    # One Query of the running challenges, one per citizen concerned, one BatchGetItem of
    # their challenges, one write per entry.
    assert calls.get("Query") == 7
    assert calls.get("BatchGetItem") == 1
    assert calls.get("TransactWriteItems") == 6
    assert sum(calls.values()) == 14
    # A batch whose days no challenge covers costs that one Query.
    from chalicelib.domain.steps import StepDay

    outside = [
        StepDay(who, _today() - timedelta(days=6), 5000, "naeoe-dong", who) for who in people
    ]
    with touched_calls() as calls:
        assert wiring.challenges().apply_steps(outside) == 0
    assert calls == {"Query": 1}
    # The ledger's handler: a recycle challenge finished by a deposit (guard, prize).
    _register(api, "c-r", phone="010-5656-7878")
    recycle = _create(api, kind="recycle_items", daily_cap=None, target=1)
    assert api.call("POST", f"/v1/challenges/{recycle['challenge_id']}/entries", as_user="c-r")
    message = deposit("evt-chl-0100", phone="010-5656-7878", can=1)
    assert invoke_deposits([sqs_record(rule_message("robot-001", message), "m")])
    with touched() as ledger_tables:
        _invoke_ledger(table_stream_event(streams.LEDGER_CHALLENGES))
    assert ledger_tables == {m.__name__ for m in TABLES_BY_FUNCTION["handle_ledger_challenges"]}
    assert len(_prizes(api, "c-r")) == 1


def test_a_finish_recorded_meanwhile_moves_the_later_one_to_the_next_rank(api: Api) -> None:
    """Two Lambdas finish two citizens at once: A read the challenge (no finisher yet), B
    finishes before A writes. A's write fails its condition, and A takes rank 2 at a time
    after B's: rank order stays (time, citizen id) order."""
    for who in ("c-a", "c-b"):
        _register(api, who)
    made = _create(api, prize={"type": "first_n", "points": 50, "winners": 1})
    challenge_id = made["challenge_id"]
    for who in ("c-a", "c-b"):
        assert api.call("POST", f"/v1/challenges/{challenge_id}/entries", as_user=who)
        _steps(who, _today(), 10000)
        _steps(who, _today() - timedelta(days=1), 10000)
    service = wiring.challenges()
    store = service._store
    real_save = store.save_progress
    interleaved: list[str] = []

    def save_progress(before: Any, after: Any, guards: Any, finish: Any, now: Any) -> None:
        if finish is not None and before.citizen_id == "c-a" and not interleaved:
            interleaved.append("b first")
            from chalicelib.domain.steps import StepDay

            b_days = [
                StepDay("c-b", _today() - timedelta(days=n), 10000, "naeoe-dong", "c-b")
                for n in (0, 1)
            ]
            service.apply_steps(b_days)
        real_save(before, after, guards, finish, now)

    store.save_progress = save_progress  # type: ignore[method-assign]
    try:
        from chalicelib.domain.steps import StepDay

        a_days = [
            StepDay("c-a", _today() - timedelta(days=n), 10000, "naeoe-dong", "c-a") for n in (0, 1)
        ]
        service.apply_steps(a_days)
    finally:
        store.save_progress = real_save  # type: ignore[method-assign]
    a, b = (_mine(api, who, challenge_id)["progress"] for who in ("c-a", "c-b"))
    assert interleaved == ["b first"]
    assert (b["finish_rank"], a["finish_rank"]) == (1, 2)
    assert b["finished_at"] <= a["finished_at"]
    assert len(_prizes(api, "c-b")) == 1 and _prizes(api, "c-a") == []
    # The whole stream replayed afterwards changes nobody's rank.
    assert _invoke_steps(table_stream_event(streams.STEP_CHALLENGES)) == {"batchItemFailures": []}
    again = [_mine(api, who, challenge_id)["progress"] for who in ("c-a", "c-b")]
    assert again == [a, b]


def test_more_deposits_than_a_transaction_holds_count_once_each(api: Api) -> None:
    from chalicelib.services.challenges import ItemsCredited
    from tests.functional.test_table_access import touched_calls

    # GIVEN 130 recycling entries of one citizen in one batch (a transaction holds 100)
    _register(api, "c-big")
    made = _create(api, kind="recycle_items", daily_cap=None, target=1000)
    challenge_id = made["challenge_id"]
    joined = api.call("POST", f"/v1/challenges/{challenge_id}/entries", as_user="c-big")
    assert joined.status == 201
    later = utc_now() + timedelta(seconds=1)
    credited = [ItemsCredited("c-big", f"{n:012d}", 2, later) for n in range(130)]
    service = wiring.challenges()
    # WHEN the batch is applied, then replayed with 10 new entries
    with touched_calls() as calls:
        service.apply_items(credited)
    more = [ItemsCredited("c-big", f"x{n:011d}", 1, later) for n in range(10)]
    service.apply_items(credited + more)
    # THEN every entry counted once, in chunks that fit a transaction
    assert calls["TransactWriteItems"] == 2
    assert _mine(api, "c-big", challenge_id)["progress"]["value"] == 270


# One contract, two stores: the fake the unit tests use and the DynamoDB adapter ---------------


@pytest.fixture(params=["memory", "dynamodb"])
def store(request: pytest.FixtureRequest) -> Any:
    if request.param == "memory":
        from tests.fakes import MemoryChallenges

        return MemoryChallenges()
    request.getfixturevalue("aws")
    from chalicelib.adapters.dynamodb_challenges import DynamoDbChallenges

    return DynamoDbChallenges()


def _stored_challenge(store: Any, challenge_id: str, ends_on: date) -> Any:
    from chalicelib.domain import challenges as c

    challenge = c.Challenge(
        challenge_id=challenge_id,
        title="Contract",
        kind="recycle_items",
        starts_on=ends_on - timedelta(days=5),
        ends_on=ends_on,
        target=10,
        prize=c.Prize("lottery", 5, 1),
        created_at=utc_now(),
        commitment="ab" * 32,
    )
    store.create(challenge, "cd" * 32)
    return challenge


def test_the_store_contract(store: Any) -> None:
    import dataclasses

    from chalicelib.domain import challenges as c

    now = utc_now()
    today = _today()
    challenge = _stored_challenge(store, "chl-a", today)
    _stored_challenge(store, "chl-old", today - timedelta(days=40))
    # Reads: the seed only through seed(), the listing by end day
    assert store.get("chl-a") == challenge and store.get("nope") is None
    assert store.seed("chl-a") == "cd" * 32
    assert [ch.challenge_id for ch in store.ending_since(today - timedelta(days=30))] == ["chl-a"]
    assert set(store.get_many({"chl-a", "chl-old", "nope"})) == {"chl-a", "chl-old"}
    # Joining once
    entry = c.Entry("c-1", "chl-a", now, "naeoe-dong")
    store.join(entry, today)
    with pytest.raises(c.AlreadyJoined) as joined:
        store.join(dataclasses.replace(entry, district="other"), today)
    assert joined.value.entry == entry
    assert store.entries_of("c-1") == [entry] and store.entries_of("c-2") == []
    assert store.entries_in("chl-a", ["c-1", "c-2", "c-1"]) == {"c-1": entry}
    # Progress under the version, guards once each
    more = dataclasses.replace(entry, items=3, version=1)
    store.save_progress(entry, more, {"g-1", "g-2"}, None, now)
    assert store.entry("c-1", "chl-a") == more
    with pytest.raises(c.EntryMoved):
        store.save_progress(entry, dataclasses.replace(more, items=9), set(), None, now)
    with pytest.raises(c.GuardsSeen) as seen:
        store.save_progress(
            more, dataclasses.replace(more, items=9, version=2), {"g-2", "g-3"}, None, now
        )
    assert seen.value.keys == {"g-2"}
    assert store.entry("c-1", "chl-a") == more
    # Finishing: against the counter and last key as read
    finish = c.next_finish(challenge, "c-1", now)
    done = dataclasses.replace(c.finished(more, finish), items=10, version=2)
    store.join(c.Entry("c-2", "chl-a", now, "naeoe-dong"), today)
    other = store.entry("c-2", "chl-a")
    stale = c.next_finish(challenge, "c-2", now)  # read before c-1's finish
    store.save_progress(more, done, set(), finish, now)
    with pytest.raises(c.FinishOutOfOrder):
        late = dataclasses.replace(c.finished(other, stale), items=10, version=1)
        store.save_progress(other, late, set(), stale, now)
    fresh = store.get("chl-a")
    assert (fresh.finishers, fresh.last_finish_key) == (1, finish.key)
    second = c.next_finish(fresh, "c-2", now)
    store.save_progress(
        other,
        dataclasses.replace(c.finished(other, second), items=10, version=1),
        set(),
        second,
        now,
    )
    assert store.get("chl-a").finishers == 2
    assert sorted(store.finisher_ids("chl-a")) == ["c-1", "c-2"]
    assert store.entry("c-1", "chl-a").finish_rank == 1
    # The award flag survives the next progress write
    store.mark_awarded("c-1", "chl-a")
    awarded = store.entry("c-1", "chl-a")
    assert awarded.prize_awarded is True
    store.save_progress(
        awarded, dataclasses.replace(awarded, items=11, version=3), set(), None, now
    )
    assert store.entry("c-1", "chl-a").prize_awarded is True
    # The draw is recorded once
    draw = c.Draw(
        "cd" * 32, ("p1", "p2"), "digest", ("p2",), now.replace(microsecond=0), winner_ids=("c-2",)
    )
    store.record_draw("chl-a", draw)
    with pytest.raises(c.AlreadyDrawn) as drawn:
        store.record_draw("chl-a", dataclasses.replace(draw, winners=("c-1",)))
    recorded = store.get("chl-a").draw
    assert drawn.value.challenge.draw.finisher_digest == recorded.finisher_digest == "digest"
    # The lists are read apart (a city-wide draw's lists outgrow one item)
    assert store.draw_lists("chl-a", "digest") == (("p1", "p2"), ("p2",), ("c-2",))
