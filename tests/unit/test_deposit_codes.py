"""Deposit codes: a number is busy only while a code can vouch for a deposit, so the 6-digit
space cannot be exhausted by codes kept for late deposits; a deposit is judged at its
`occurred_at` and finds the holder of that moment when one number was held by A, then B.
The code space is injected small (100 numbers) instead of writing a million rows."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.config import Settings
from chalicelib.domain.citizens import code_keys_at, code_slot_seconds, new_grant
from chalicelib.domain.recycling import CodeRecord
from chalicelib.errors import TooManyRequests
from chalicelib.events import intake
from chalicelib.services.citizens import CitizenService, ProfileUpdate
from chalicelib.services.recycling import RecyclingService
from tests.fakes import (
    MemoryCitizens,
    MemoryCity,
    MemoryLedger,
    MemoryQuarantine,
    MemoryRateLimiter,
    RecordingAcks,
    _Code,
)

T0 = datetime(2026, 11, 25, 1, 0, 30, tzinfo=UTC)
KEY = b"unit-test-key"
TTL = Settings().deposit_code_ttl_seconds
SLOT = timedelta(seconds=code_slot_seconds(TTL))


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@dataclass
class City:
    state: MemoryCity
    clock: Clock
    citizens: CitizenService
    recycling: RecyclingService
    acks: RecordingAcks


def _city(code_space: int = 1_000_000, draw: object = None) -> City:
    state, clock = MemoryCity(), Clock()
    ledger = MemoryLedger(state, devices={"robot-001": "robot"})
    settings = Settings()
    citizens = CitizenService(
        MemoryCitizens(state),
        settings,
        clock,
        lambda: KEY,
        MemoryRateLimiter(),
        ledger,
        code_space=code_space,
        draw=draw,  # type: ignore[arg-type]
    )
    acks = RecordingAcks()
    recycling = RecyclingService(
        ledger, acks, MemoryQuarantine(clock), settings, clock, lambda: KEY
    )
    return City(state, clock, citizens, recycling, acks)


def _register(city: City, *who: str) -> None:
    for citizen in who:
        city.citizens.register(citizen, ProfileUpdate(citizen, "naeoe-dong"))


def _deposit(city: City, event_id: str, code: str, at: datetime, cans: int = 1) -> tuple[str, ...]:
    payload = {
        "event_id": event_id,
        "citizen": {"code": code},
        "items": [{"material": "can", "accepted": cans}],
        "occurred_at": at.isoformat(),
    }
    ack = city.recycling.receive(
        intake.deposit_payload("robot-001", json.dumps(payload).encode())
    ).ack
    assert ack is not None
    return (ack.status, ack.reason or "", ack.points)  # type: ignore[return-value]


def _balance(city: City, who: str) -> int:
    return city.citizens.profile(who).balance


def test_a_full_code_space_frees_itself_once_the_codes_can_no_longer_vouch() -> None:
    # GIVEN 100 numbers and 20 citizens drawing their 5 codes each: every number is held
    turn = itertools.count()
    city = _city(code_space=100, draw=lambda n: next(turn) % n)
    citizens = [f"c-{i:02d}" for i in range(21)]
    _register(city, *citizens)
    codes = {city.citizens.issue_deposit_code(c).code for c in citizens[:20] for _ in range(5)}
    assert len(codes) == 100
    # WHEN one more is asked for while they are all valid: refused, a 429 to try again
    with pytest.raises(TooManyRequests) as refused:
        city.citizens.issue_deposit_code(citizens[20])
    assert refused.value.code == "codes_exhausted"
    # AND a minute after they all expired, still within the skew they vouch for: refused
    city.clock.now = T0 + SLOT - timedelta(seconds=1)
    with pytest.raises(TooManyRequests):
        city.citizens.issue_deposit_code(citizens[20])
    # WHEN they can no longer vouch for any deposit (7 minutes; before, a week and an hour)
    city.clock.now = T0 + SLOT
    # THEN every number can be drawn again
    again = {city.citizens.issue_deposit_code(c).code for c in citizens[:20] for _ in range(5)}
    assert again == codes


def test_one_number_held_by_a_then_b_credits_each_deposit_to_the_holder_of_its_time() -> None:
    # GIVEN every draw hits 000042: A holds it first
    city = _city(draw=lambda n: 42)
    _register(city, "alice", "bob")
    a_code = city.citizens.issue_deposit_code("alice").code
    # WHEN Bob asks while Alice's code can still vouch for a deposit: refused
    city.clock.now = T0 + SLOT - timedelta(seconds=1)
    with pytest.raises(TooManyRequests):
        city.citizens.issue_deposit_code("bob")
    # AND once it cannot, Bob gets the same number
    city.clock.now = T0 + SLOT
    b_code = city.citizens.issue_deposit_code("bob").code
    assert a_code == b_code == "000042"
    # WHEN the robot delivers late, after Bob got the number, and out of order
    city.clock.now = T0 + SLOT + timedelta(minutes=3)
    bobs = ("evt-bob-00001", b_code, T0 + SLOT + timedelta(minutes=1))
    alices = ("evt-alice-001", a_code, T0 + timedelta(minutes=4))
    early = ("evt-early-001", a_code, T0 - timedelta(minutes=3))  # before anyone held it
    assert _deposit(city, *bobs, cans=2) == ("credited", "", 30)
    assert _deposit(city, *alices, cans=3) == ("credited", "", 45)
    assert _deposit(city, *early) == ("rejected", "expired_code", None)
    # THEN each deposit went to the holder of its moment
    assert (_balance(city, "alice"), _balance(city, "bob")) == (45, 30)
    # AND replays in any order change nothing; a second deposit with either code is refused
    for event in (alices, early, bobs, alices):
        _deposit(city, *event)
    assert (_balance(city, "alice"), _balance(city, "bob")) == (45, 30)
    assert _deposit(city, "evt-alice-002", a_code, alices[2])[:2] == ("rejected", "code_used")
    assert _deposit(city, "evt-bob-00002", b_code, bobs[2])[:2] == ("rejected", "code_used")


def test_codes_kept_in_the_old_layout_still_resolve_and_keep_their_number() -> None:
    # GIVEN a code granted before this change: kept under the bare number
    city = _city(draw=lambda n: 777)
    _register(city, "alice", "bob")
    city.state.codes["000777"] = _Code(
        CodeRecord("000777", "alice", T0, T0 + timedelta(seconds=TTL), None, "000777"),
        T0 + timedelta(days=8),
        None,
    )
    # WHEN Bob asks while it can still vouch: refused
    city.clock.now = T0 + timedelta(seconds=TTL) + timedelta(minutes=1)
    with pytest.raises(TooManyRequests):
        city.citizens.issue_deposit_code("bob")
    # AND once a fast robot clock's stamp could no longer fall in it, he gets the number
    # under the new layout
    city.clock.now = T0 + timedelta(seconds=TTL) + timedelta(minutes=12)
    assert city.citizens.issue_deposit_code("bob").code == "000777"
    # THEN Alice's in-flight deposit still finds her; Bob's finds him
    assert _deposit(city, "evt-alice-001", "000777", T0 + timedelta(minutes=1))[0] == "credited"
    assert _deposit(city, "evt-bob-00001", "000777", city.clock.now)[0] == "credited"
    assert (_balance(city, "alice"), _balance(city, "bob")) == (15, 15)


@pytest.mark.parametrize("seconds", [0, 1, 119, 120, 299, 300, 419, 420, 839, 1019, 1020, 86_400])
def test_a_deposit_reads_at_most_two_slots_and_they_hold_every_grant_that_covers_it(
    seconds: int,
) -> None:
    # every issue time whose code covers the deposit's moment is kept under a key it reads
    width = code_slot_seconds(TTL)
    at = T0 + timedelta(seconds=seconds)
    keys = code_keys_at("123456", at, TTL)
    assert len(keys) <= 3 and keys[-1] == "123456"
    for back in range(-120, TTL):
        issued = at - timedelta(seconds=back)
        assert new_grant("123456", "c", issued, TTL, issued).key in keys
    assert width == TTL + 120 + 600


@pytest.mark.parametrize("new_ttl", [120, 600, 900])
def test_a_code_ttl_change_loses_no_deposit_made_with_a_code_issued_before_it(
    new_ttl: int,
) -> None:
    # GIVEN Alice's code, issued under the default TTL
    city = _city(draw=lambda n: 4242)
    _register(city, "alice")
    code = city.citizens.issue_deposit_code("alice").code
    made = T0 + timedelta(minutes=1)
    # WHEN an operator changes DEPOSIT_CODE_TTL_SECONDS and a robot delivers her deposit
    # (made with the code while it was valid) after the change
    settings = Settings(deposit_code_ttl_seconds=new_ttl)
    ledger = MemoryLedger(city.state, devices={"robot-001": "robot"})
    city.recycling = RecyclingService(
        ledger, city.acks, MemoryQuarantine(city.clock), settings, city.clock, lambda: KEY
    )
    city.clock.now = T0 + timedelta(minutes=30)
    # THEN it is still credited to her, not refused for good as an unknown citizen
    assert _deposit(city, "evt-ttl-00001", code, made) == ("credited", "", 15)
    assert _balance(city, "alice") == 15


@pytest.mark.parametrize("lead_s", [1, 60, 299, 300, 540, 599])
def test_a_deposit_stamped_late_by_a_fast_robot_clock_never_credits_the_next_holder(
    lead_s: int,
) -> None:
    # GIVEN every draw hits 000077: Alice holds it, then Bob as soon as he may
    city = _city(draw=lambda n: 77)
    _register(city, "alice", "bob")
    a_code = city.citizens.issue_deposit_code("alice").code
    city.clock.now = T0 + SLOT
    assert city.citizens.issue_deposit_code("bob").code == a_code
    # WHEN Alice deposited in the last second of her code's life at a robot whose clock runs
    # up to 10 minutes ahead (DESIGN §5 accepts such stamps), and it is delivered now
    made = T0 + timedelta(seconds=TTL - 1)
    status = _deposit(city, f"evt-fast-{lead_s:05d}", a_code, made + timedelta(seconds=lead_s))
    # THEN it is never Bob's: refused as expired (or Alice's when the stamp still fits)
    assert _balance(city, "bob") == 0
    assert status[0] == "rejected" or _balance(city, "alice") == 15
