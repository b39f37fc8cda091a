"""The public draw names per-challenge pseudonyms, never citizen ids: stable within a
challenge (each citizen finds theirs in the detail), unlinkable across challenges; a draw
stored before pseudonyms keeps its lists unpublished and still pays its winners."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from chalicelib import streams
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

PEOPLE = ["d-1", "d-2", "d-3"]


def _finished_lottery(api: Api, winners: int = 1) -> str:
    made = _create(api, prize={"type": "lottery", "points": 500, "winners": winners})
    challenge_id = str(made["challenge_id"])
    for who in PEOPLE:
        _register(api, who)
        assert api.call("POST", f"/v1/challenges/{challenge_id}/entries", as_user=who)
        _steps(who, _today(), 10000)
        _steps(who, _today() - timedelta(days=1), 10000)
    _invoke_steps(table_stream_event(streams.STEP_CHALLENGES))
    return challenge_id


def test_no_answer_of_a_draw_holds_a_citizen_id(api: Api) -> None:
    challenge_id = _finished_lottery(api)
    _later(9)
    made = api.call("POST", f"/v1/admin/challenges/{challenge_id}/draw", as_user="ops", admin=True)
    public = api.call("GET", f"/v1/challenges/{challenge_id}/draw")
    for answer in (made, public):
        text = json.dumps(answer.body)
        assert not any(who in text for who in PEOPLE), text
    assert len(public.body["finishers"]) == 3


def test_each_citizen_finds_their_pseudonym_and_the_winner_is_paid(api: Api) -> None:
    challenge_id = _finished_lottery(api)
    _later(9)
    api.call("POST", f"/v1/admin/challenges/{challenge_id}/draw", as_user="ops", admin=True)
    public = api.call("GET", f"/v1/challenges/{challenge_id}/draw").body
    mine = {who: _mine(api, who, challenge_id)["draw"]["my_pseudonym"] for who in PEOPLE}
    assert sorted(mine.values()) == public["finishers"]
    assert mine == {who: _mine(api, who, challenge_id)["draw"]["my_pseudonym"] for who in PEOPLE}
    (winner,) = [who for who in PEOPLE if mine[who] in public["winners"]]
    assert [len(_prizes(api, who)) for who in PEOPLE] == [int(w == winner) for w in PEOPLE]


def test_pseudonyms_differ_between_challenges(api: Api) -> None:
    first = _finished_lottery(api)
    second = _finished_lottery(api)
    for who in PEOPLE:
        one = _mine(api, who, first)["draw"]["my_pseudonym"]
        two = _mine(api, who, second)["draw"]["my_pseudonym"]
        assert one != two and who not in one


def test_a_citizen_who_did_not_join_is_told_no_pseudonym(api: Api) -> None:
    challenge_id = _finished_lottery(api)
    _register(api, "d-outsider")
    assert "my_pseudonym" not in _mine(api, "d-outsider", challenge_id)["draw"]


def test_a_draw_stored_with_citizen_ids_is_withheld_and_still_pays(api: Api) -> None:
    from chalicelib.adapters.dynamodb_challenges import DynamoDbChallenges
    from chalicelib.adapters.dynamodb_models import Challenge
    from chalicelib.domain import challenges as c
    from chalicelib.domain import draw as lottery

    # GIVEN a lottery drawn before pseudonyms: its lists hold citizen ids, no scheme
    challenge_id = _finished_lottery(api)
    store = DynamoDbChallenges()
    seed = store.seed(challenge_id)
    assert seed is not None
    finishers = lottery.sorted_finishers(PEOPLE)
    winners = lottery.winners(bytes.fromhex(seed), finishers, 1)
    old = c.Draw(
        seed, tuple(finishers), lottery.finisher_digest(finishers), tuple(winners),
        datetime.now(UTC), winner_ids=(), scheme=c.DRAW_CITIZEN_IDS,
    )  # fmt: skip
    store.record_draw(challenge_id, old)
    Challenge(challenge_id).update(actions=[Challenge.draw_scheme.remove()])
    # WHEN anyone reads it, and the admin repeats the draw
    public = api.call("GET", f"/v1/challenges/{challenge_id}/draw")
    _later(9)
    again = api.call("POST", f"/v1/admin/challenges/{challenge_id}/draw", as_user="ops", admin=True)
    # THEN no id is shown, the seed still checks, and the winner drawn then is paid once
    for answer in (public, again):
        assert answer.status in (200, 201), answer.body
        assert not any(who in json.dumps(answer.body) for who in PEOPLE)
        assert answer.body["finishers"] is None and answer.body["winners"] is None
        assert answer.body["withheld"] and answer.body["scheme"] == c.DRAW_CITIZEN_IDS
        assert lottery.verify(answer.body) == []
    assert [len(_prizes(api, who)) for who in PEOPLE] == [int(w in winners) for w in PEOPLE]
