"""Challenges end to end on the local stack: an admin creates them over HTTP, citizens join
and walk (PUT /v1/me/steps), the step stream's event source runs the real handler, the
prize shows once in the citizen's ledger; a lottery is drawn twice with one result, and the
stdlib verifier, run as a citizen would against the stack's API, agrees."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import boto3
import pytest

from chalicelib import config
from tests.conftest import ROOT
from tests.e2e.conftest import Stack, create_challenge, eventually, until

pytestmark = pytest.mark.e2e
SEOUL = ZoneInfo("Asia/Seoul")


_eventually = functools.partial(eventually, timeout=20.0)


def _walker(stack: Stack, who: str) -> str:
    token = stack.token(who)
    body = {"display_name": who[-8:], "district": "buram-dong"}
    assert stack.http("PUT", "/v1/me", token=token, body=body)[0] == 200
    return token


def _walk(stack: Stack, token: str, steps_by_day: dict[str, int]) -> None:
    days = [{"date": d, "steps": s} for d, s in steps_by_day.items()]
    status, answer = stack.http("PUT", "/v1/me/steps", token=token, body={"days": days})
    assert status == 200, answer


def _prizes(stack: Stack, token: str, challenge_id: str) -> list[dict[str, Any]]:
    status, page = stack.http("GET", "/v1/me/ledger?limit=100", token=token)
    assert status == 200
    return [
        e
        for e in page["entries"]
        if e["kind"] == "challenge_prize" and e["detail"]["challenge_id"] == challenge_id
    ]


def _let_the_challenge_end(stack: Stack, challenge_id: str) -> None:
    """Time passes: the challenge's window is moved back in the emulator past the days a
    late sync may still count and a day of stream lag, so it can be drawn (the stack
    cannot move its clock, and a challenge cannot be created already ended)."""
    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=stack.document["aws_endpoint_url"],
        region_name=stack.document["region"],
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    long_ago = (datetime.now(SEOUL).date() - timedelta(days=9)).isoformat()
    dynamodb.update_item(
        TableName=config.table_name("challenges"),
        Key={"challenge_id": {"S": challenge_id}},
        UpdateExpression="SET starts_on = :d, ends_on = :d",
        ExpressionAttributeValues={":d": {"S": long_ago}},
    )


def test_walkers_finish_get_their_prize_once_and_a_lottery_is_verifiable(stack: Stack) -> None:
    admin = stack.token("e2e-chl-ops", admin=True)
    today = datetime.now(SEOUL).date()
    window = {
        "starts_on": (today - timedelta(days=3)).isoformat(),
        "ends_on": today.isoformat(),
    }
    # GIVEN a walking challenge (20,000 steps, 10,000 a day at most, 250 points to everyone)
    walk = create_challenge(
        stack,
        admin,
        title="불암동 걷기 챌린지",
        kind="total_steps",
        target=20000,
        daily_cap=10000,
        prize={"type": "all_finishers", "points": 250},
        **window,
    )
    walk_id = walk["challenge_id"]
    # AND a citizen who walked yesterday before joining
    walker = _walker(stack, "e2e-chl-walker")
    _walk(stack, walker, {(today - timedelta(days=1)).isoformat(): 14000})
    status, joined = stack.http("POST", f"/v1/challenges/{walk_id}/entries", token=walker)
    assert (status, joined["progress"]["value"]) == (201, 10000)
    assert stack.http("POST", f"/v1/challenges/{walk_id}/entries", token=walker)[0] == 200
    # (and a challenge out of reach, whose progress shows how far the step stream has gone)
    far = create_challenge(
        stack,
        admin,
        title="Far walk",
        kind="total_steps",
        target=300_000,
        prize={"type": "all_finishers", "points": 1},
        **window,
    )
    far_id = far["challenge_id"]
    assert stack.http("POST", f"/v1/challenges/{far_id}/entries", token=walker)[0] == 201

    # WHEN today's steps are synced (and resent)
    _walk(stack, walker, {today.isoformat(): 11000})
    _walk(stack, walker, {today.isoformat(): 11000})

    # THEN the step stream finishes the challenge and the prize shows once in the ledger
    def finished() -> dict[str, Any] | None:
        body = stack.http("GET", f"/v1/challenges/{walk_id}", token=walker)[1]
        return body if body["prize_awarded"] else None

    mine = _eventually(finished)
    assert mine, stack.http("GET", f"/v1/challenges/{walk_id}", token=walker)
    assert mine["progress"]["value"] == 20000 and mine["progress"]["finished"]
    assert mine["progress"]["finish_rank"] == 1
    # AND when a later step day has gone through the same stream, no other prize came
    _walk(stack, walker, {(today - timedelta(days=2)).isoformat(): 3000})
    until(
        lambda: stack.http("GET", f"/v1/challenges/{far_id}", token=walker)[1]["progress"],
        lambda progress: progress["value"] == 14000 + 11000 + 3000,
    )
    prizes = _prizes(stack, walker, walk_id)
    assert [p["points"] for p in prizes] == [250]
    me = stack.http("GET", "/v1/me", token=walker)[1]
    assert me["balance"] >= 250
    listed = stack.http("GET", "/v1/challenges", token=walker)[1]["challenges"]
    assert any(ch["challenge_id"] == walk_id and ch["joined"] for ch in listed)

    # GIVEN a lottery of 2 among 3 finishers
    lottery = create_challenge(
        stack,
        admin,
        title="Lucky walkers",
        kind="total_steps",
        target=5000,
        prize={"type": "lottery", "points": 900, "winners": 2},
        **window,
    )
    lottery_id = lottery["challenge_id"]
    people = {who: _walker(stack, who) for who in ("e2e-lot-1", "e2e-lot-2", "e2e-lot-3")}
    for token in people.values():
        assert stack.http("POST", f"/v1/challenges/{lottery_id}/entries", token=token)[0] == 201
        _walk(stack, token, {today.isoformat(): 6000})
    assert _eventually(
        lambda: stack.http("GET", f"/v1/challenges/{lottery_id}", token=admin)[1]["finishers"] == 3
    )
    draw_path = f"/v1/admin/challenges/{lottery_id}/draw"
    assert stack.http("POST", draw_path, token=admin)[0] == 409

    # WHEN it has ended and is drawn twice
    _let_the_challenge_end(stack, lottery_id)
    first = stack.http("POST", draw_path, token=admin)
    second = stack.http("POST", draw_path, token=admin)

    # THEN one result, published to anyone, paying each winner once
    assert (first[0], second[0]) == (201, 200) and first[1] == second[1]
    status, public = stack.http("GET", f"/v1/challenges/{lottery_id}/draw")
    assert status == 200 and public == first[1]
    assert public["commitment"] == lottery["draw"]["commitment"]
    # AND it names each finisher by a per-challenge pseudonym that only they are told
    mine = {
        who: stack.http("GET", f"/v1/challenges/{lottery_id}", token=token)[1]["draw"][
            "my_pseudonym"
        ]
        for who, token in people.items()
    }
    assert public["finishers"] == sorted(mine.values())
    assert not any(who in json.dumps(public) for who in people)
    assert len(public["winners"]) == 2
    for who, token in people.items():
        expected = 1 if mine[who] in public["winners"] else 0
        assert len(_prizes(stack, token, lottery_id)) == expected

    # AND the verifier, run against the stack's API, agrees
    command = [sys.executable, "-m", "tools.verify_draw", lottery_id]
    run = subprocess.run(
        [*command, "--api-url", stack.api_url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.startswith(f"OK: {lottery_id}")
