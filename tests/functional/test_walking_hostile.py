"""Hostile checks of the walking capability (steps, boards, challenges) through the real
routes and stream handlers on moto: deliveries and timings that must not change who is
paid, and inputs that must never be a 5xx."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib import streams
from chalicelib.domain.staff_actions import ActionFilter, Actor
from tests.functional.conftest import Api, table_stream_event
from tests.functional.test_challenges import (
    _create,
    _invoke_steps,
    _later,
    _mine,
    _prizes,
    _register,
    _steps,
    _today,
)


def test_a_lottery_waits_until_late_step_syncs_can_no_longer_count(api: Api) -> None:
    """A day of the window may be synced up to 7 days later (DESIGN §5), and its stream
    record arrives later still: a draw made before that would leave out a citizen who
    finished inside the window, depending only on when their phone synced."""
    # GIVEN a lottery ending today, one finisher who synced in time, one who walks today
    made = _create(
        api,
        starts_on=_today().isoformat(),
        target=5000,
        daily_cap=None,
        prize={"type": "lottery", "points": 400, "winners": 2},
    )
    challenge_id = made["challenge_id"]
    for who in ("w-early", "w-late"):
        _register(api, who)
        assert api.call("POST", f"/v1/challenges/{challenge_id}/entries", as_user=who).status == 201
    _steps("w-early", _today(), 6000)
    _invoke_steps(table_stream_event(streams.STEP_CHALLENGES))
    draw_path = f"/v1/admin/challenges/{challenge_id}/draw"

    # WHEN the admin draws the day after the end, before the late phone synced
    _later(1)
    early = api.call("POST", draw_path, as_user="ops", admin=True)

    # THEN the draw is refused: the window's days can still be synced
    assert (early.status, early.body["error"]["code"]) == (409, "challenge_open"), early.body

    # AND the late sync (day 7 after the end, for the last day) still counts
    _steps("w-late", _today(), 7000)
    _invoke_steps(table_stream_event(streams.STEP_CHALLENGES))
    assert _mine(api, "w-late", challenge_id)["progress"]["finished"] is True
    _later(8)
    assert api.call("POST", draw_path, as_user="ops", admin=True).status == 409

    # WHEN the sync window and a day of stream lag are over
    _later(9)
    drawn = api.call("POST", draw_path, as_user="ops", admin=True)

    # THEN both finishers are in the draw, and both (2 winners) are paid once
    assert drawn.status == 201, drawn.body
    assert drawn.body["finishers"] == sorted(
        _pseudonym(api, w, challenge_id) for w in ("w-early", "w-late")
    )
    for who in ("w-early", "w-late"):
        assert len(_prizes(api, who)) == 1


def test_a_city_wide_lottery_draw_is_recorded_whatever_its_number_of_finishers(
    api: Api,
) -> None:
    """Gimhae has half a million people: a walking challenge can have tens of thousands of
    finishers, and a lottery may name up to 10,000 winners. The draw must still be
    recorded (one DynamoDB item holds at most 400 KB), or nobody is ever paid."""
    from datetime import UTC, datetime

    from chalicelib.adapters.dynamodb_challenges import DynamoDbChallenges
    from chalicelib.domain import challenges as c
    from chalicelib.domain import draw as lottery

    made = _create(api, prize={"type": "lottery", "points": 100, "winners": 10_000})
    challenge_id = made["challenge_id"]
    finishers = lottery.sorted_finishers(
        [f"{n:08x}-7a1b-4c2d-9e3f-{n:012x}" for n in range(12_000)]
    )
    store = DynamoDbChallenges()
    seed = store.seed(challenge_id)
    assert seed is not None
    made_draw = c.Draw(
        seed=seed,
        finishers=tuple(finishers),
        finisher_digest=lottery.finisher_digest(finishers),
        winners=tuple(lottery.winners(bytes.fromhex(seed), finishers, 10_000)),
        drawn_at=datetime.now(UTC),
    )
    store.record_draw(challenge_id, made_draw)
    public = api.call("GET", f"/v1/challenges/{challenge_id}/draw")
    assert public.status == 200
    assert public.body["finishers"] == finishers
    assert public.body["winners"] == list(made_draw.winners)
    assert public.body["finisher_digest"] == made_draw.finisher_digest
    assert lottery.winners(bytes.fromhex(public.body["seed"]), finishers, 10_000) == list(
        made_draw.winners
    )
    # The challenge as listed and shown stays small: the lists are read for the draw only.
    shown = _mine(api, "someone", challenge_id)
    assert shown["draw"] == {"commitment": made["draw"]["commitment"], "drawn": True}


def test_a_repeated_draw_reads_the_paid_winners_in_batches(api: Api) -> None:
    """The draw pays its winners in the request; one with thousands of winners cannot finish
    within API Gateway's 29 s, and is completed by repeating the POST. A repeat must skip
    those already paid cheaply (batched reads), or with one read per winner the paid prefix
    alone outgrows the request and the last winners are never paid."""
    from collections import Counter
    from datetime import UTC, datetime

    from chalicelib.adapters import aws_clients
    from chalicelib.adapters.dynamodb_models import Challenge, ChallengeEntry
    from chalicelib.domain import challenges as c

    made = _create(api, prize={"type": "lottery", "points": 10, "winners": 250})
    challenge_id = made["challenge_id"]
    people = [f"lot-{n:04d}" for n in range(250)]
    now = datetime.now(UTC)
    with ChallengeEntry.batch_write() as batch:
        for n, who in enumerate(people):
            at = now + timedelta(microseconds=n)
            batch.save(
                ChallengeEntry(
                    who,
                    challenge_id,
                    joined_at=now,
                    district="naeoe-dong",
                    finished_at=at,
                    finish_rank=n + 1,
                    finish_key=c.finish_key(at, who),
                    prize_awarded=True,
                    version=1,
                    expires=now + timedelta(days=30),
                )
            )
    # (the counter a finish moves in the same transaction)
    Challenge(challenge_id).update(actions=[Challenge.finishers.set(len(people))])
    _later(9)
    draw_path = f"/v1/admin/challenges/{challenge_id}/draw"
    assert api.call("POST", draw_path, as_user="ops", admin=True).status == 201

    calls: Counter[str] = Counter()

    def count(**kwargs: object) -> None:
        calls[str(kwargs.get("event_name", "")).rsplit(".", 1)[-1]] += 1

    events = aws_clients.client("dynamodb").meta.events
    events.register("before-call.dynamodb.*", count, unique_id="walk-hostile")
    try:
        again = api.call("POST", draw_path, as_user="ops", admin=True)
    finally:
        events.unregister("before-call.dynamodb.*", unique_id="walk-hostile")
    assert again.status == 200 and len(again.body["winners"]) == 250
    assert sum(calls.values()) <= 10, dict(calls)


def test_a_join_whose_prize_keeps_conflicting_is_a_409_and_a_repeat_pays(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A join can finish the entry (days walked before joining) and pay the prize in the
    request; a lost race there is the caller's to repeat (a 409), never a 500."""
    from chalicelib import wiring
    from chalicelib.errors import RetryableConflict

    made = _create(api)
    _register(api, "w-busy")
    _steps("w-busy", _today(), 9000)
    _steps("w-busy", _today() - timedelta(days=1), 9000)
    service = wiring.challenges()
    real_post = service._ledger.post

    def busy(posting: object) -> object:
        raise RetryableConflict("the account keeps moving")

    monkeypatch.setattr(service._ledger, "post", busy)
    monkeypatch.setattr("time.sleep", lambda seconds: None)
    path = f"/v1/challenges/{made['challenge_id']}/entries"
    first = api.call("POST", path, as_user="w-busy")
    assert first.status == 409, first.body
    assert first.body["error"]["code"] == "try_again"
    monkeypatch.setattr(service._ledger, "post", real_post)
    again = api.call("POST", path, as_user="w-busy")
    assert again.status == 200 and again.body["prize_awarded"] is True
    assert len(_prizes(api, "w-busy")) == 1


def test_a_board_read_dynamodb_left_unprocessed_is_a_409_not_a_500(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.adapters.dynamodb_boards import DynamoDbBoards
    from chalicelib.errors import RetryableConflict

    def throttled(nodes: list[str]) -> dict[str, object]:
        raise RetryableConflict("DynamoDB left board nodes unprocessed; try again")

    monkeypatch.setattr(DynamoDbBoards, "_batch_get_raw", staticmethod(throttled))
    response = api.call("GET", "/v1/leaderboards/districts")
    assert response.status == 409, response.body
    assert response.body["error"]["code"] == "try_again"


def test_concurrent_draws_record_one_result_and_pay_each_winner_once(api: Api) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from chalicelib import wiring

    made = _create(api, prize={"type": "lottery", "points": 90, "winners": 2})
    challenge_id = made["challenge_id"]
    people = [f"w-c{n}" for n in range(4)]
    for who in people:
        _register(api, who)
        assert api.call("POST", f"/v1/challenges/{challenge_id}/entries", as_user=who).status == 201
        _steps(who, _today(), 9000)
        _steps(who, _today() - timedelta(days=1), 9000)
    _invoke_steps(table_stream_event(streams.STEP_CHALLENGES))
    _later(9)
    service = wiring.challenges()
    with ThreadPoolExecutor(4) as pool:
        results = list(
            pool.map(
                lambda n: service.draw(challenge_id, Actor(f"staff-{n}", ("admin",))), range(4)
            )
        )
    assert sum(created for _, created in results) == 1
    draws = {(ch.draw.finishers, ch.draw.winners) for ch, _ in results if ch.draw}
    assert len(draws) == 1
    drawn = wiring.staff_actions().page(ActionFilter(target=f"challenge:{challenge_id}"), 10)
    assert [a.action for a in drawn.actions] == ["challenge.draw", "challenge.create"]
    finishers, winners = draws.pop()
    mine = {who: _pseudonym(api, who, challenge_id) for who in people}
    assert finishers == tuple(sorted(mine.values())) and len(winners) == 2
    public = api.call("GET", f"/v1/challenges/{challenge_id}/draw").body
    assert (tuple(public["finishers"]), tuple(public["winners"])) == (finishers, winners)
    for who in people:
        assert len(_prizes(api, who)) == (1 if mine[who] in winners else 0)


def test_concurrent_joins_that_finish_rank_uniquely_and_pay_the_first_n_once(api: Api) -> None:
    """Citizens who walked before joining finish in the join itself: many at once race for
    the finisher counter; ranks stay 1..n and exactly the first N are paid, once."""
    from concurrent.futures import ThreadPoolExecutor

    made = _create(api, prize={"type": "first_n", "points": 55, "winners": 2})
    path = f"/v1/challenges/{made['challenge_id']}/entries"
    people = [f"w-r{n}" for n in range(6)]
    for who in people:
        _register(api, who)
        _steps(who, _today(), 9000)
        _steps(who, _today() - timedelta(days=1), 9000)
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda who: api.call("POST", path, as_user=who), people))
    assert {a.status for a in answers} <= {201, 409}, [a.body for a in answers]
    for who, answer in zip(people, answers, strict=True):
        if answer.status == 409:  # lost every retry: a repeat finishes it
            assert api.call("POST", path, as_user=who).status == 200
    seen = [_mine(api, who, made["challenge_id"]) for who in people]
    assert sorted(s["progress"]["finish_rank"] for s in seen) == list(range(1, 7))
    for who, s in zip(people, seen, strict=True):
        paid = len(_prizes(api, who))
        assert paid == (1 if s["progress"]["finish_rank"] <= 2 else 0)
        assert s["prize_awarded"] is (paid == 1)


def test_a_draw_refuses_a_finisher_index_behind_the_finisher_counter(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The finishers come from an index (eventually consistent); the challenge's counter is
    moved in the same transaction as each finish. A draw made from an index that has not
    caught up would leave a finisher out for good: it is refused until they agree."""
    from chalicelib.adapters.dynamodb_challenges import DynamoDbChallenges

    made = _create(api, prize={"type": "lottery", "points": 90, "winners": 1})
    challenge_id = made["challenge_id"]
    for who in ("w-i1", "w-i2"):
        _register(api, who)
        assert api.call("POST", f"/v1/challenges/{challenge_id}/entries", as_user=who).status == 201
        _steps(who, _today(), 9000)
        _steps(who, _today() - timedelta(days=1), 9000)
    _invoke_steps(table_stream_event(streams.STEP_CHALLENGES))
    _later(9)
    real = DynamoDbChallenges.finisher_ids
    monkeypatch.setattr(DynamoDbChallenges, "finisher_ids", lambda self, cid: real(self, cid)[:1])
    draw_path = f"/v1/admin/challenges/{challenge_id}/draw"
    lagging = api.call("POST", draw_path, as_user="ops", admin=True)
    assert (lagging.status, lagging.body["error"]["code"]) == (409, "try_again")
    assert api.call("GET", f"/v1/challenges/{challenge_id}/draw").body["seed"] is None
    monkeypatch.setattr(DynamoDbChallenges, "finisher_ids", real)
    drawn = api.call("POST", draw_path, as_user="ops", admin=True)
    assert drawn.status == 201
    assert drawn.body["finishers"] == sorted(
        _pseudonym(api, w, challenge_id) for w in ("w-i1", "w-i2")
    )


def _pseudonym(api: Api, who: str, challenge_id: str) -> str:
    """The name the public draw gives a citizen, as their challenge detail tells them."""
    return str(_mine(api, who, challenge_id)["draw"]["my_pseudonym"])
