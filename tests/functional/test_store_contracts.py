"""One contract, two implementations: the in-memory fakes the unit tests use and the DynamoDB
adapters (on moto) must behave alike, so a service tested on a fake behaves so on AWS."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.domain.citizens import (
    CODE_SLOT_SECONDS,
    ProfileChange,
    code_keys_at,
    code_slot_seconds,
    covers,
    new_grant,
)
from chalicelib.domain.ledger import AlreadyPosted, EffectRefused, InsufficientBalance, Posting
from chalicelib.domain.phone_proofs import (
    ProofRules,
    Verification,
    VerificationSpent,
    number_moved_notice,
    open_verification,
)
from chalicelib.domain.recycling import CodeConsumed, ItemsCounted
from chalicelib.errors import BadRequest, RetryableConflict
from tests.fakes import MemoryCitizens, MemoryCity, MemoryLedger, MemoryPhones

NOW = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
THRESHOLD = 100
TTL = 300


def _keys(code: str, at: datetime = NOW) -> tuple[str, ...]:
    return code_keys_at(code, at, TTL)


@dataclass
class Stores:
    citizens: Any
    ledger: Any
    phones: Any


@pytest.fixture(params=["memory", "dynamodb"])
def stores(request: pytest.FixtureRequest) -> Iterator[Stores]:
    if request.param == "memory":
        city = MemoryCity()
        devices = {"robot-001": "robot", "shelter-001": "shelter"}
        yield Stores(
            MemoryCitizens(city), MemoryLedger(city, THRESHOLD, devices), MemoryPhones(city)
        )
        return
    request.getfixturevalue("aws")
    from chalicelib.adapters.dynamodb_citizens import DynamoDbCitizens
    from chalicelib.adapters.dynamodb_ledger import DynamoDbLedger
    from chalicelib.adapters.dynamodb_phones import DynamoDbPhones

    yield Stores(DynamoDbCitizens(), DynamoDbLedger(THRESHOLD), DynamoDbPhones())


def _register(stores: Stores, citizen_id: str = "c-1", phone_hash: str | None = None) -> Any:
    stores.citizens.save_profile(citizen_id, ProfileChange("Kim", "naeoe-dong"), NOW)
    if phone_hash is not None:
        _prove(stores, citizen_id, phone_hash)
    return stores.citizens.get(citizen_id)


def _verification(citizen_id: str, phone_hash: str, code: str = "123456") -> Verification:
    rules = ProofRules()
    return open_verification(citizen_id, phone_hash, code, b"k", NOW, rules)


def _prove(stores: Stores, citizen_id: str, phone_hash: str, notice: Any = None) -> Any:
    opened = _verification(citizen_id, phone_hash)
    stores.phones.open(opened)
    spent = stores.phones.spend_try(opened.verification_id, citizen_id, NOW)
    return stores.phones.link(spent, NOW, notice)


def _post(stores: Stores, key: str, points: int, citizen_id: str = "c-1", **kw: Any) -> Any:
    account = stores.citizens.get(citizen_id).account
    posting = Posting(key, account, points, kw.pop("kind", "recycling"), {"k": key}, NOW, **kw)
    return stores.ledger.post(posting)


def test_a_new_profile_starts_at_zero(stores: Stores) -> None:
    saved = _register(stores)
    found = stores.citizens.get("c-1")
    assert found == saved
    assert (found.balance, found.lifetime_earned, found.lifetime_paid) == (0, 0, 0)
    assert stores.citizens.get("nobody") is None


def test_a_posting_moves_the_balance_once(stores: Stores) -> None:
    _register(stores)
    first = _post(stores, "k-1", 30)
    assert (first.status, first.points, first.balance_after) == ("credited", 30, 30)
    with pytest.raises(AlreadyPosted):
        _post(stores, "k-1", 30)
    _post(stores, "k-2", 5, note="daily_limit")
    citizen = stores.citizens.get("c-1")
    assert (citizen.balance, citizen.lifetime_earned) == (35, 35)
    look = stores.ledger.first_look("k-2", "robot-001")
    assert look.settled is not None
    assert (look.settled.points, look.settled.balance_after, look.settled.reason) == (
        5,
        35,
        "daily_limit",
    )


def test_a_payout_debits_and_counts_as_paid(stores: Stores) -> None:
    _register(stores)
    _post(stores, "k-1", 40)
    _post(stores, "pay-1", -40, kind="payout")
    citizen = stores.citizens.get("c-1")
    assert (citizen.balance, citizen.lifetime_earned, citizen.lifetime_paid) == (0, 40, 40)
    with pytest.raises(InsufficientBalance):
        _post(stores, "pay-2", -1, kind="payout")


def test_a_stale_account_is_a_conflict_to_retry(stores: Stores) -> None:
    _register(stores)
    stale = stores.citizens.get("c-1").account
    _post(stores, "k-1", 10)
    with pytest.raises(RetryableConflict):
        stores.ledger.post(Posting("k-2", stale, 10, "recycling", {}, NOW))
    assert stores.citizens.get("c-1").balance == 10


def test_effects_hold_their_conditions(stores: Stores) -> None:
    _register(stores)
    grant = new_grant("123456", "c-1", NOW, TTL, NOW + timedelta(days=8))
    assert stores.citizens.reserve_code(grant, NOW)
    assert not stores.citizens.reserve_code(grant, NOW)
    day = ItemsCounted("c-1", "2026-11-25", 3, None)
    _post(stores, "k-1", 45, effects=(day, CodeConsumed(grant.key, "c-1")))
    look = stores.ledger.first_look("k-x", "robot-001", code_keys=_keys("123456"))
    assert [c.used_by for c in look.codes] == ["k-1"]
    assert stores.ledger.account_and_day("c-1", "2026-11-25")[1] == 3
    # The code is spent; the day's count moved: both refused, nothing written.
    with pytest.raises(EffectRefused) as refused:
        _post(stores, "k-2", 15, effects=(CodeConsumed(grant.key, "c-1"),))
    assert isinstance(refused.value.effect, CodeConsumed)
    with pytest.raises(EffectRefused):
        _post(stores, "k-3", 15, effects=(ItemsCounted("c-1", "2026-11-25", 1, 0),))
    assert stores.citizens.get("c-1").balance == 45
    assert stores.ledger.first_look("k-2", "robot-001").settled is None


def test_a_rejection_is_recorded_once(stores: Stores) -> None:
    first = stores.ledger.record_rejection("k-1", "unknown_citizen", NOW)
    again = stores.ledger.record_rejection("k-1", "expired_code", NOW)
    assert (first.status, first.reason) == ("rejected", "unknown_citizen")
    assert again == first


def test_phone_links_belong_to_one_citizen(stores: Stores) -> None:
    _register(stores, "c-1", "hash-a")
    assert stores.ledger.first_look("k", "robot-001", phone_hash="hash-a").phone_citizen_id == "c-1"
    _register(stores, "c-1", "hash-b")
    assert stores.ledger.first_look("k", "robot-001", phone_hash="hash-a").phone_citizen_id is None
    assert stores.ledger.first_look("k", "robot-001", phone_hash="hash-b").phone_citizen_id == "c-1"
    stores.phones.unlink("c-1", NOW)
    assert stores.citizens.get("c-1").phone_hash is None
    assert stores.ledger.first_look("k", "robot-001", phone_hash="hash-b").phone_citizen_id is None


def test_a_proven_number_moves_to_its_prover_with_a_fresh_snapshot(stores: Stores) -> None:
    # GIVEN c-1 holds the number and has points; c-2 has others
    _register(stores, "c-1", "hash-a")
    _post(stores, "k-1", 30, "c-1")
    _register(stores, "c-2")
    _post(stores, "k-2", 7, "c-2")
    before = stores.citizens.get("c-1").account
    # WHEN c-2 proves it
    notice = number_moved_notice("v-1", NOW)
    moved = _prove(stores, "c-2", "hash-a", notice)
    # THEN the link and its snapshot are c-2's; c-1's row lost the number and moved on
    look = stores.ledger.first_look("k", "robot-001", phone_hash="hash-a")
    assert look.phone_citizen_id == "c-2"
    assert look.account == moved.account == stores.citizens.get("c-2").account
    assert look.account.balance == 7
    after = stores.citizens.get("c-1")
    assert after.phone_hash is None and after.version > before.version
    # AND a posting on c-1's old account (e.g. a code's snapshot) is refused, not misposted
    with pytest.raises(RetryableConflict):
        stores.ledger.post(Posting("k-3", before, 5, "recycling", {}, NOW))


def test_a_try_is_spent_by_a_conditional_write(stores: Stores) -> None:
    _register(stores, "c-1")
    opened = _verification("c-1", "hash-a")
    stores.phones.open(opened)
    with pytest.raises(VerificationSpent):
        stores.phones.spend_try(opened.verification_id, "c-2", NOW)
    left = [stores.phones.spend_try(opened.verification_id, "c-1", NOW).tries_left for _ in "12345"]
    assert left == [4, 3, 2, 1, 0]
    with pytest.raises(VerificationSpent):
        stores.phones.spend_try(opened.verification_id, "c-1", NOW)
    later = _verification("c-1", "hash-a")
    stores.phones.open(later)
    with pytest.raises(VerificationSpent):
        stores.phones.spend_try(later.verification_id, "c-1", later.expires_at)


def test_a_spent_verification_links_once(stores: Stores) -> None:
    _register(stores, "c-1")
    opened = _verification("c-1", "hash-a")
    stores.phones.open(opened)
    spent = stores.phones.spend_try(opened.verification_id, "c-1", NOW)
    first = stores.phones.link(spent, NOW, None)
    # A retry of the same move answers the link it made (its answer was lost, say)
    assert stores.phones.link(spent, NOW, None).phone_hash == first.phone_hash == "hash-a"
    # Once the number moved on, the old verification cannot take it back
    _register(stores, "c-2", "hash-a")
    with pytest.raises(VerificationSpent):
        stores.phones.link(spent, NOW, None)
    assert stores.ledger.first_look("k", "robot-001", phone_hash="hash-a").phone_citizen_id == "c-2"


def test_the_ledger_pages_newest_first_and_cursors_stay_with_their_owner(stores: Stores) -> None:
    _register(stores)
    _register(stores, "c-2")
    for i in range(5):
        _post(stores, f"k-{i}", i + 1)
    first = stores.ledger.page("c-1", 2, None)
    assert [e.points for e in first.entries] == [5, 4]
    assert [e.balance_after for e in first.entries] == [15, 10]
    assert first.next_cursor is not None
    second = stores.ledger.page("c-1", 10, first.next_cursor)
    assert [e.points for e in second.entries] == [3, 2, 1]
    assert second.next_cursor is None
    with pytest.raises(BadRequest):
        stores.ledger.page("c-2", 2, first.next_cursor)
    with pytest.raises(BadRequest):
        stores.ledger.page("c-1", 2, "not-a-cursor")


def test_the_payout_index_holds_exactly_the_balances_at_the_threshold(stores: Stores) -> None:
    _register(stores, "c-1")
    _register(stores, "c-2")
    _post(stores, "k-1", THRESHOLD - 1, "c-1")
    _post(stores, "k-2", THRESHOLD, "c-2")
    assert stores.ledger.eligible_citizens() == ["c-2"]
    _post(stores, "k-3", 1, "c-1")
    _post(stores, "pay-2", -THRESHOLD, "c-2", kind="payout")
    assert stores.ledger.eligible_citizens() == ["c-1"]


def test_links_and_codes_carry_the_account_every_posting_refreshes(stores: Stores) -> None:
    # GIVEN a citizen with a phone link and a code issued with their account
    _register(stores, "c-1", "hash-a")
    account = stores.citizens.get("c-1").account
    assert stores.ledger.first_look("k", "robot-001", phone_hash="hash-a").account == account
    grant = new_grant("654321", "c-1", NOW, TTL, NOW + timedelta(days=8), account)
    assert stores.citizens.reserve_code(grant, NOW)
    assert stores.ledger.first_look("k", "robot-001", code_keys=_keys("654321")).account == account
    # WHEN a posting is made against the link's snapshot
    _post(stores, "k-1", 20)
    # THEN the link carries the new account; the code's snapshot is stale and refused
    fresh = stores.citizens.get("c-1").account
    assert stores.ledger.first_look("k", "robot-001", phone_hash="hash-a").account == fresh
    assert fresh.balance == 20
    stale = stores.ledger.first_look("k", "robot-001", code_keys=_keys("654321")).account
    with pytest.raises(RetryableConflict):
        stores.ledger.post(Posting("k-2", stale, 5, "recycling", {}, NOW))


def test_an_unread_day_count_must_fit_under_the_limit(stores: Stores) -> None:
    _register(stores)
    _post(stores, "k-1", 10, effects=(ItemsCounted("c-1", "2026-11-25", 90, None, limit=100),))
    _post(stores, "k-2", 10, effects=(ItemsCounted("c-1", "2026-11-25", 10, None, limit=100),))
    with pytest.raises(EffectRefused):
        _post(stores, "k-3", 10, effects=(ItemsCounted("c-1", "2026-11-25", 1, None, limit=100),))
    assert stores.ledger.account_and_day("c-1", "2026-11-25")[1] == 100


def test_the_first_look_names_the_device(stores: Stores) -> None:
    assert stores.ledger.first_look("k", "robot-001").device_type == "robot"
    assert stores.ledger.first_look("k", "shelter-001").device_type == "shelter"
    assert stores.ledger.first_look("k", "robot-999").device_type is None


def test_a_number_is_busy_only_while_its_grant_can_vouch(stores: Stores) -> None:
    # GIVEN A's grant of a number
    _register(stores, "c-1")
    _register(stores, "c-2")
    first = new_grant("222222", "c-1", NOW, TTL, NOW + timedelta(days=8))
    assert stores.citizens.reserve_code(first, NOW)
    width = timedelta(seconds=code_slot_seconds(TTL))
    # WHEN B asks for it within the grant's life plus the skew and a fast robot clock's
    # lead (the next slot too): refused
    for later in (timedelta(seconds=1), width - timedelta(seconds=1)):
        busy = new_grant("222222", "c-2", NOW + later, TTL, NOW + timedelta(days=8))
        assert not stores.citizens.reserve_code(busy, NOW + later)
    # AND from then on it is B's, A's grant kept for A's late deposits
    second = new_grant("222222", "c-2", NOW + width, TTL, NOW + timedelta(days=8))
    assert stores.citizens.reserve_code(second, NOW + width)
    # THEN each moment's look-up finds the grant that covers it, and only one covers it
    b_from = width.seconds - 120
    for moment, holder in ((-120, "c-1"), (TTL - 1, "c-1"), (b_from, "c-2"), (b_from + TTL, "c-2")):
        at = NOW + timedelta(seconds=moment)
        look = stores.ledger.first_look("k", "robot-001", code_keys=_keys("222222", at))
        covering = [c for c in look.codes if covers(c, at)]
        assert [(c.citizen_id, c.code) for c in covering] == [(holder, "222222")], moment
        assert covering[0].key == (first.key if holder == "c-1" else second.key)


def test_a_grant_in_the_old_layout_keeps_its_number_until_it_expires(stores: Stores) -> None:
    _register(stores, "c-1")
    _register(stores, "c-2")
    _keep_old_layout_grant(stores, "333333", "c-1", NOW)
    later = NOW + timedelta(seconds=TTL + 719)
    refused = new_grant("333333", "c-2", later, TTL, NOW + timedelta(days=8))
    assert not stores.citizens.reserve_code(refused, later)
    free = NOW + timedelta(seconds=TTL + 720)
    assert stores.citizens.reserve_code(new_grant("333333", "c-2", free, TTL, free), free)
    look = stores.ledger.first_look("k", "robot-001", code_keys=_keys("333333", NOW))
    assert [(c.citizen_id, c.key) for c in look.codes if covers(c, NOW)] == [("c-1", "333333")]


def _keep_old_layout_grant(stores: Stores, code: str, citizen_id: str, at: datetime) -> None:
    """A grant as the code kept it before numbers were keyed by slot: under the number."""
    expires_at = at + timedelta(seconds=TTL)
    if isinstance(stores.citizens, MemoryCitizens):
        from chalicelib.domain.recycling import CodeRecord
        from tests.fakes import _Code

        record = CodeRecord(code, citizen_id, at, expires_at, None, code)
        stores.citizens._city.codes[code] = _Code(record, at + timedelta(days=8), None)
        return
    from chalicelib.adapters.dynamodb_models import DepositCode

    DepositCode(
        code, citizen_id=citizen_id, issued_at=at, expires_at=expires_at,
        expires=at + timedelta(days=8),
    ).save()  # fmt: skip


def test_a_grant_committed_after_a_later_one_of_its_number_is_refused(stores: Stores) -> None:
    # GIVEN B's grant of a number issued just after a slot boundary
    _register(stores, "c-1")
    _register(stores, "c-2")
    width = CODE_SLOT_SECONDS
    boundary = datetime.fromtimestamp((int(NOW.timestamp()) // width + 1) * width, UTC)
    later = new_grant("333333", "c-2", boundary, TTL, boundary + timedelta(days=8))
    assert stores.citizens.reserve_code(later, boundary)
    # WHEN A's grant of the same number, issued a second before the boundary (its request
    # read the clock first but commits second), is kept
    earlier_at = boundary - timedelta(seconds=1)
    earlier = new_grant("333333", "c-1", earlier_at, TTL, boundary + timedelta(days=8))
    # THEN it is refused: two holders' lives would overlap and a deposit of A's credit B
    assert not stores.citizens.reserve_code(earlier, earlier_at)


def test_under_a_longer_ttl_a_number_stays_busy_for_its_whole_vouching_time(
    stores: Stores,
) -> None:
    # GIVEN codes that live 15 minutes (busy 27 minutes, past the 17-minute key slots)
    _register(stores, "c-1")
    _register(stores, "c-2")
    ttl, until = 900, NOW + timedelta(days=8)
    assert stores.citizens.reserve_code(new_grant("444444", "c-1", NOW, ttl, until), NOW)
    # WHEN another citizen asks for the number 16 minutes before or after: refused
    for moment in (NOW + timedelta(minutes=16), NOW - timedelta(minutes=16)):
        busy = new_grant("444444", "c-2", moment, ttl, until)
        assert not stores.citizens.reserve_code(busy, moment)
    # AND 27 minutes after, it is free again, and each deposit finds the grant of its time
    later = NOW + timedelta(seconds=code_slot_seconds(ttl))
    assert stores.citizens.reserve_code(new_grant("444444", "c-2", later, ttl, until), later)
    for at, holder in ((NOW + timedelta(minutes=14), "c-1"), (later, "c-2")):
        found = stores.ledger.first_look(
            f"k-{holder}", "robot-001", code_keys=code_keys_at("444444", at, ttl)
        )
        assert [r.citizen_id for r in found.codes if covers(r, at)] == [holder]
