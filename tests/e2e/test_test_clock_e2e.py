"""The local stack's test clock end to end (`python -m infra.local clock`): moved forward, a
challenge's lottery opens, the month's payout run starts, a silent shelter goes offline, each
through the real API, schedules and handlers, without waiting days.

The clock is the shared stack's: every test here resets it in a `finally` (the fixture), and
the e2e tests of one stack run one after another in one worker, so no other test runs while
it is ahead. What these tests write while it is ahead stays dated ahead: their citizens and
devices are their own. The month's payout run pays every eligible balance of the stack (as
the real schedule would), which no later test of the shared stack relies on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from infra.local.scheduler import request_clock
from iot.device import ShelterClient, stack_connection
from tests.conftest import ROOT
from tests.e2e.conftest import Stack, until

pytestmark = pytest.mark.e2e
SEOUL = ZoneInfo("Asia/Seoul")
Clock = Callable[..., dict[str, Any]]


def _local(stack: Stack, *words: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "infra.local", *words, "--state-dir", str(stack.state_dir)]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.fixture
def clock(stack: Stack) -> Iterator[Clock]:
    """`python -m infra.local clock ...` as typed, its JSON answer; reset after the test."""

    def run(*words: str) -> dict[str, Any]:
        done = _local(stack, "clock", *words)
        assert done.returncode == 0, done.stderr
        return dict(json.loads(done.stdout))

    assert run()["offset_s"] == 0, "a test left the shared stack's clock ahead"
    try:
        yield run
    finally:
        assert run("reset")["offset_s"] == 0


def _fired(moved: dict[str, Any], name: str) -> dict[str, Any]:
    found = [f for f in moved["fired"] if f["name"] == name]
    assert len(found) == 1, moved["fired"]
    assert found[0]["ok"], found[0]
    return found[0]


def test_a_lottery_can_be_drawn_once_the_clock_passes_the_days_a_sync_may_still_count(
    stack: Stack, clock: Clock
) -> None:
    admin = stack.token("e2e-clock-admin", admin=True)
    today = date.fromisoformat(clock()["now_seoul"][:10])
    # GIVEN a lottery ending today with one finisher
    status, lottery = stack.http(
        "POST",
        "/v1/admin/challenges",
        token=admin,
        body={
            "title": "Clock walkers",
            "kind": "total_steps",
            "target": 5000,
            "prize": {"type": "lottery", "points": 700, "winners": 1},
            "starts_on": today.isoformat(),
            "ends_on": today.isoformat(),
        },
    )
    assert status == 201, lottery
    challenge_id = lottery["challenge_id"]
    draw = f"/v1/admin/challenges/{challenge_id}/draw"
    walker = stack.token("e2e-clock-walker")
    profile = {"display_name": "Clock walker", "district": "buram-dong"}
    assert stack.http("PUT", "/v1/me", token=walker, body=profile)[0] == 200
    joined = stack.http("POST", f"/v1/challenges/{challenge_id}/entries", token=walker)
    assert joined[0] == 201, joined
    days = {"days": [{"date": today.isoformat(), "steps": 6000}]}
    assert stack.http("PUT", "/v1/me/steps", token=walker, body=days)[0] == 200
    until(
        lambda: stack.http("GET", f"/v1/challenges/{challenge_id}", token=admin)[1],
        lambda c: c["finishers"] == 1,
    )
    # AND its draw refused today: a late sync may still count
    status, refused = stack.http("POST", draw, token=admin)
    assert (status, refused["error"]["code"]) == (409, "challenge_open"), refused
    opens = date.fromisoformat(refused["error"]["details"][0]["draw_opens_on"])

    # WHEN the stack's clock moves forward to the day the draw opens
    moved = clock("advance", f"{(opens - today).days}d")
    assert moved["now_seoul"][:10] == opens.isoformat()

    # THEN the draw is made, and its winner paid, on the stack's day
    status, drawn = stack.http("POST", draw, token=admin)
    assert status == 201, drawn
    assert len(drawn["winners"]) == 1 and drawn["drawn_at"][:10] == opens.isoformat()
    ledger = stack.http("GET", "/v1/me/ledger?limit=10", token=walker)[1]["entries"]
    assert [e["points"] for e in ledger if e["kind"] == "challenge_prize"] == [700]


def _next_month_end(now: datetime) -> datetime:
    """The monthly payout schedule's next time: cron(0 18 L * ? *), the last day of a month at
    18:00 UTC (03:00 on the 1st in Seoul)."""
    first_of_next = (now.replace(day=28) + timedelta(days=4)).replace(day=1)
    end = datetime.combine(first_of_next - timedelta(days=1), datetime.min.time(), UTC)
    end = end.replace(hour=18)
    return end if end > now else _next_month_end(end + timedelta(days=1))


def test_the_months_payout_run_starts_once_the_clock_passes_the_months_end(
    stack: Stack, clock: Clock
) -> None:
    treasurer = stack.token("e2e-clock-finance", roles=("finance",))
    now = datetime.fromisoformat(clock()["now"])
    month_end = _next_month_end(now)
    period = month_end.strftime("%Y-%m")  # the Seoul month that ends at 03:00 on the 1st
    # GIVEN the month is still open
    status, refused = stack.http(
        "POST", "/v1/admin/payout-runs", token=treasurer, body={"period": period}
    )
    assert (status, refused["error"]["code"]) == (422, "period_open"), refused

    # WHEN the stack's clock moves past the month's end
    moved = clock("advance", f"{int((month_end - now).total_seconds()) + 120}s")

    # THEN the monthly schedule fired once, as of the month's end, and started its run
    fired = _fired(moved, "monthly_payout_run")
    assert fired["at"] == month_end.isoformat()
    assert fired["result"]["run_id"] == f"payout-{period}"
    status, run = stack.http("GET", f"/v1/admin/payout-runs/payout-{period}", token=treasurer)
    assert status == 200, run
    assert run["period"] == period and run["started_by"] == "system"
    until(
        lambda: stack.http("GET", f"/v1/admin/payout-runs/payout-{period}", token=treasurer)[1],
        lambda r: r["status"] == "ready",
    )


def _abs(path: str) -> str:
    return path if os.path.isabs(path) else str(ROOT / path)


def test_a_silent_shelter_is_marked_offline_when_the_clock_passes_its_silence(
    stack: Stack, clock: Clock
) -> None:
    # GIVEN a shelter of its own, provisioned into the running stack, that reports once
    device_id = "shelter-clock-e2e"
    made = _local(stack, "provision", "--thing", device_id, "--type", "shelter")
    assert made.returncode == 0, made.stderr
    document = until(
        lambda: json.loads((stack.state_dir / "stack.json").read_text()),
        lambda d: device_id in d["mqtt"]["devices"],
    )
    shelter = ShelterClient(device_id, **stack_connection(document, device_id, _abs))
    shelter.connect()
    try:
        shelter.telemetry({"pm10": 12.0, "pm25": 6.0})
        until(
            lambda: stack.http("GET", f"/v1/shelters/{device_id}")[1],
            lambda s: s.get("status") == "online",
            timeout=15,
        )
    finally:
        shelter.disconnect()  # a clean disconnect: no last will, just silence

    # WHEN the stack's clock moves 6 minutes forward, before the shared stack's own silence
    # threshold (6 s) passes: asked of the scheduler directly, as `clock advance 6m` does,
    # without the command's start, so no regular health check can come first
    moved = request_clock(stack.state_dir, "advance", 6 * 60)
    assert moved["ok"], moved

    # THEN the health schedule fired once and marked it offline, silent for those 6 minutes
    health = _fired(moved, "device_health")
    assert device_id in health["result"]["marked_offline"]
    assert stack.http("GET", f"/v1/shelters/{device_id}")[1]["status"] == "offline"

    def offline_alerts() -> list[dict[str, Any]]:
        lines = _local(stack, "outbox", "--channel", "alert").stdout.splitlines()
        alerts = [json.loads(json.loads(line)["text"]) for line in lines]
        return [a for a in alerts if a.get("device_id") == device_id and a["kind"] == "offline"]

    alerts = until(offline_alerts, bool, timeout=10)
    assert [a["event"] for a in alerts] == ["opened"]
    silent_s = int(alerts[0]["detail"].split("silent for ")[1].split(" s")[0])
    assert 360 <= silent_s < 400, alerts[0]
