"""Invariants 1 and 2 (DESIGN §6) over the one posting, on the fakes (the same contract as
DynamoDB): any mix of deposits (replayed, by phone or by code whose snapshot may be stale),
numbers proven and moved between citizens, unlinks, and payouts of the whole balance keeps
every account exact."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hypothesis import event, given, settings
from hypothesis import strategies as st

from chalicelib.config import Settings
from chalicelib.domain.ledger import InsufficientBalance, Posting
from chalicelib.domain.phone_proofs import ProofRules, e164
from chalicelib.events import intake
from chalicelib.services.citizens import CitizenService, ProfileUpdate
from chalicelib.services.phones import PhoneService
from chalicelib.services.recycling import RecyclingService
from tests.fakes import (
    MemoryCitizens,
    MemoryCity,
    MemoryLedger,
    MemoryPhones,
    MemoryQuarantine,
    MemoryRateLimiter,
    RecordingAcks,
    RecordingSms,
)

NOW = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
THRESHOLD = 100
PHONES = ["01011110000", "01022220000", "01033330000"]
_LIMITS = [
    "sends_per_citizen_hour",
    "sends_per_citizen_day",
    "sends_per_number_quarter",
    "sends_per_number_day",
    "attempts_per_citizen_hour",
]

operation = st.one_of(
    st.tuples(st.just("phone"), st.integers(0, 2), st.integers(0, 9), st.integers(0, 12)),
    st.tuples(st.just("code"), st.integers(0, 2), st.integers(0, 9), st.integers(0, 12)),
    st.tuples(st.just("prove"), st.integers(0, 2), st.integers(0, 2), st.just(0)),
    st.tuples(st.just("unlink"), st.integers(0, 2), st.just(0), st.just(0)),
    st.tuples(st.just("payout"), st.integers(0, 2), st.just(0), st.just(0)),
)


@settings(max_examples=150, deadline=None)
@given(operations=st.lists(operation, min_size=1, max_size=40))
def test_every_account_stays_exact(operations: list[tuple[str, int, int, int]]) -> None:
    city = MemoryCity()
    ledger = MemoryLedger(city, THRESHOLD, {"robot-001": "robot"})
    clock = iter(NOW.replace(second=s % 60, minute=s // 60) for s in range(10_000))
    settings_ = Settings(deposit_codes_per_window=1000)
    citizens = CitizenService(
        MemoryCitizens(city), settings_, lambda: NOW, lambda: b"k", MemoryRateLimiter(), ledger
    )
    recycling = RecyclingService(
        ledger, RecordingAcks(), MemoryQuarantine(lambda: NOW), settings_, lambda: NOW, lambda: b"k"
    )
    sms = RecordingSms()
    phones = PhoneService(
        MemoryPhones(city),
        MemoryCitizens(city),
        sms,
        MemoryRateLimiter(),
        ProofRules(**{limit: 1000 for limit in _LIMITS}),  # type: ignore[arg-type]
        lambda: NOW,
        lambda: b"k",
        sleep=lambda _: None,
    )

    def prove(who: str, number: str) -> None:
        sent = phones.send_code(who, number)
        phones.verify(who, sent.verification_id, sms.last_code(e164(number)))

    ids = [f"c-{i}" for i in range(3)]
    for i, who in enumerate(ids):
        citizens.register(who, ProfileUpdate(who, "naeoe-dong"))
        prove(who, PHONES[i])
    codes = {who: citizens.issue_deposit_code(who).code for who in ids}
    paid = 0
    for kind, who_i, number, cans in operations:
        who = ids[who_i]
        if kind in ("phone", "code"):
            profile = citizens.profile(who)
            if kind == "phone" and profile.phone_hash is None:
                continue
            if kind == "code":
                codes[who] = citizens.issue_deposit_code(who).code
            phone = (
                next(p for i, p in enumerate(PHONES) if city.links.get(_hash(p)) == who)
                if kind == "phone"
                else None
            )
            citizen = {"phone": phone} if phone else {"code": codes[who]}
            raw = json.dumps(
                {
                    "event_id": f"evt-{kind}-{who}-{number:04d}",
                    "citizen": citizen,
                    "items": [{"material": "can", "accepted": cans}],
                    "occurred_at": NOW.isoformat(),
                }
            ).encode()
            recycling.receive(intake.deposit_payload("robot-001", raw))
        elif kind == "prove":
            prove(who, PHONES[number])  # moves the number from whoever holds it
        elif kind == "unlink":
            phones.unlink(who)
        else:
            account = citizens.profile(who).account
            if account.balance >= THRESHOLD:
                posting = Posting(
                    f"payout#{who}#{next(clock).isoformat()}",
                    account,
                    -account.balance,
                    "payout",
                    {},
                    NOW,
                )
                ledger.post(posting)
                paid += account.balance
            else:
                try:
                    Posting(f"p#{who}", account, -(account.balance + 1), "payout", {}, NOW)
                except InsufficientBalance:
                    pass
                else:
                    raise AssertionError("a debit below zero was allowed")
    total_paid = 0
    for who in ids:
        profile = citizens.profile(who)
        entries = ledger.page(who, 1000, None).entries
        assert profile.balance == sum(e.points for e in entries) >= 0
        assert profile.lifetime_earned - profile.lifetime_paid == profile.balance
        running = [e.balance_after for e in reversed(entries)]
        points = [e.points for e in reversed(entries)]
        assert running == [sum(points[: i + 1]) for i in range(len(points))]
        assert (who in ledger.eligible_citizens()) == (profile.balance >= THRESHOLD)
        total_paid += profile.lifetime_paid
        # The link's snapshot, when the citizen has one, is never ahead of the account.
        if profile.phone_hash:
            version, balance = city.link_snapshots[profile.phone_hash]
            assert version <= profile.version
            if version == profile.version:
                assert balance == profile.balance
    assert total_paid == paid
    event(f"money moved: {any(citizens.profile(w).lifetime_earned for w in ids)}")
    event(f"paid out: {paid > 0}")


def _hash(phone: str) -> str:
    from chalicelib.domain.phones import phone_hash

    return phone_hash(phone, b"k")
