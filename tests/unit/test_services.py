"""The services on in-memory fakes (the same contract as DynamoDB): deposits credited once,
answered, refused with a reason; profiles, codes and the city's totals. No emulator."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.config import Settings
from chalicelib.domain.ledger import LedgerEntry, Posting
from chalicelib.domain.phone_proofs import ProofRules, e164
from chalicelib.domain.recycling import DepositAck, rejected
from chalicelib.errors import TooManyRequests, Unprocessable
from chalicelib.events import intake
from chalicelib.services.citizens import CitizenService, ProfileUpdate
from chalicelib.services.operations import OperationsService
from chalicelib.services.phones import PhoneService
from chalicelib.services.recycling import RecyclingService
from tests.fakes import (
    MemoryCitizens,
    MemoryCity,
    MemoryDeadLetters,
    MemoryLedger,
    MemoryPhones,
    MemoryQuarantine,
    MemoryRateLimiter,
    MemoryTotals,
    RecordingAcks,
    RecordingSms,
)

NOW = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
KEY = b"unit-test-key"


@dataclass
class City:
    state: MemoryCity
    ledger: MemoryLedger
    acks: RecordingAcks
    quarantine: MemoryQuarantine
    citizens: CitizenService
    recycling: RecyclingService
    phones: PhoneService
    sms: RecordingSms


@pytest.fixture
def city() -> City:
    state = MemoryCity()
    ledger = MemoryLedger(state, devices={"robot-001": "robot", "shelter-001": "shelter"})
    acks = RecordingAcks()
    quarantine = MemoryQuarantine(lambda: NOW)
    settings = Settings()
    citizens = CitizenService(
        MemoryCitizens(state), settings, lambda: NOW, lambda: KEY, MemoryRateLimiter(), ledger
    )
    recycling = RecyclingService(
        ledger,
        acks,
        quarantine,
        settings,
        lambda: NOW,
        lambda: KEY,
    )
    sms = RecordingSms()
    phones = PhoneService(
        MemoryPhones(state),
        MemoryCitizens(state),
        sms,
        MemoryRateLimiter(),
        ProofRules(),
        lambda: NOW,
        lambda: KEY,
        sleep=lambda _: None,
    )
    return City(state, ledger, acks, quarantine, citizens, recycling, phones, sms)


def _payload(event_id: str, citizen: dict[str, str], can: int = 0, pet: int = 0) -> bytes:
    items = [{"material": "can", "accepted": can}, {"material": "pet", "accepted": pet}]
    return json.dumps(
        {"event_id": event_id, "citizen": citizen, "items": items, "occurred_at": NOW.isoformat()}
    ).encode()


def _citizen(city: City, citizen_id: str = "c-1", phone: str | None = "01012345678") -> str:
    city.citizens.register(citizen_id, ProfileUpdate("Kim", "naeoe-dong"))
    if phone is not None:
        sent = city.phones.send_code(citizen_id, phone)
        code = city.sms.last_code(e164(phone))
        city.phones.verify(citizen_id, sent.verification_id, code)
    return city.citizens.issue_deposit_code(citizen_id).code


def test_a_deposit_by_code_is_credited_once_and_answered(city: City) -> None:
    code = _citizen(city)
    first = city.recycling.receive(
        intake.deposit_payload("robot-001", _payload("evt-0001", {"code": code}, 3, 2))
    )
    again = city.recycling.receive(
        intake.deposit_payload("robot-001", _payload("evt-0001", {"code": code}, 3, 2))
    )
    assert first.ack == DepositAck("evt-0001", "credited", 65, 65)
    assert again.ack == DepositAck("evt-0001", "duplicate", 65, 65)
    assert [a for _, a in city.acks.sent] == [first.ack, again.ack]
    assert city.citizens.profile("c-1").balance == 65


def test_a_code_serves_one_deposit(city: City) -> None:
    code = _citizen(city)
    city.recycling.receive(
        intake.deposit_payload("robot-001", _payload("evt-0001", {"code": code}, can=1))
    )
    other = city.recycling.receive(
        intake.deposit_payload("robot-001", _payload("evt-0002", {"code": code}, can=1))
    )
    assert other.ack == rejected("evt-0002", "code_used")


def test_the_daily_limit_credits_part_then_refuses(city: City) -> None:
    _citizen(city)
    phone = {"phone": "010-1234-5678"}
    part = city.recycling.receive(
        intake.deposit_payload("robot-001", _payload("evt-0001", phone, can=120))
    )
    over = city.recycling.receive(
        intake.deposit_payload("robot-001", _payload("evt-0002", phone, can=1))
    )
    assert part.ack == DepositAck("evt-0001", "credited", 1500, 1500, "daily_limit")
    assert over.ack == rejected("evt-0002", "daily_limit")
    # A rejection is final: the same event is refused again, never credited later.
    again = city.recycling.receive(
        intake.deposit_payload("robot-001", _payload("evt-0002", phone, can=1))
    )
    assert again.ack == over.ack


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", "malformed_json"),
        (b"[" * 100_000 + b"]" * 100_000, "payload_too_large"),
        (b"[" * 50_000 + b"]" * 50_000, "malformed_json"),
        (
            json.dumps({"event_id": "evt-0001", "citizen": {"phone": "010 1234 5678"}}).encode(),
            "invalid_payload",
        ),
    ],
)
def test_unusable_messages_are_quarantined_and_answered(
    city: City, raw: bytes, reason: str
) -> None:
    outcome = city.recycling.receive(intake.deposit_payload("robot-001", raw))
    assert outcome.quarantined == reason
    assert outcome.ack is not None and outcome.ack.reason == "invalid_payload"
    (kept,) = city.quarantine.messages
    assert kept.reason == reason
    assert "1234" not in (kept.payload or "") + kept.details


def test_an_unknown_device_is_refused(city: City) -> None:
    code = _citizen(city)
    outcome = city.recycling.receive(
        intake.deposit_payload("shelter-001", _payload("evt-0001", {"code": code}, 1))
    )
    assert outcome.ack == rejected("evt-0001", "unknown_device")
    assert city.quarantine.messages[0].reason == "unknown_device"


def test_a_race_for_one_citizen_retries_and_keeps_the_running_balance(city: City) -> None:
    _citizen(city)
    phone = {"phone": "01012345678"}

    def rival(_: Posting) -> None:
        city.recycling.receive(
            intake.deposit_payload("robot-001", _payload("evt-rival", phone, pet=1))
        )

    city.ledger.before_post = rival
    ours = city.recycling.receive(
        intake.deposit_payload("robot-001", _payload("evt-ours", phone, can=1))
    )
    assert ours.ack == DepositAck("evt-ours", "credited", 15, 25)
    page = city.citizens.ledger("c-1", 10, None)
    assert [(e.points, e.balance_after) for e in page.entries] == [(15, 25), (10, 10)]


def test_profiles_refuse_unknown_districts_and_unproven_phones(city: City) -> None:
    with pytest.raises(Unprocessable):
        city.citizens.register("c-1", ProfileUpdate("Kim", "atlantis"))
    with pytest.raises(Unprocessable) as refused:
        city.citizens.register("c-2", ProfileUpdate("Lee", "naeoe-dong", phone_given=True))
    assert refused.value.code == "phone_needs_verification"
    assert city.state.citizens == {}


def test_deposit_codes_are_rate_limited(city: City) -> None:
    _citizen(city)
    for _ in range(Settings().deposit_codes_per_window - 1):
        city.citizens.issue_deposit_code("c-1")
    with pytest.raises(TooManyRequests):
        city.citizens.issue_deposit_code("c-1")


def test_city_totals_count_each_entry_once() -> None:
    totals = MemoryTotals()
    operations = OperationsService(MemoryQuarantine(lambda: NOW), MemoryDeadLetters(), totals)
    entries = [
        LedgerEntry("c-1", "e1", "recycling", 65, 65, NOW, "k1", {"items_credited": 5}),
        LedgerEntry("c-1", "e2", "payout", -65, 0, NOW + timedelta(days=1), "k2", {}),
    ]
    assert operations.count_ledger_entries([*entries, *entries]) == 2
    assert operations.count_ledger_entries(entries[:1]) == 0
    all_time, today = operations.city_totals(NOW.date())
    assert (all_time.points_issued, all_time.points_paid, all_time.points_held) == (65, 65, 0)
    assert (all_time.items_recycled, all_time.entries) == (5, 2)
    assert (today.points_issued, today.entries) == (65, 1)


__all__ = ["Any"]


def test_a_rate_table_that_pays_nothing_is_refused(monkeypatch: Any) -> None:
    monkeypatch.setenv("POINTS_PER_ITEM", '{"can": 15, "pet": 0}')
    with pytest.raises(ValueError, match="pet"):
        Settings.from_env()
