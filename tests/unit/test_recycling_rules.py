"""The recycling rules (DESIGN §3, §5) as plain functions: no AWS, no network."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from chalicelib.domain.phones import normalize_mobile, phone_hash, redact_phones
from chalicelib.domain.recycling import (
    Deposit,
    DepositItem,
    DepositRejected,
    check_occurred_at,
    compute_credit,
)

RATES = {"can": 15, "pet": 10}


def _items(**accepted: int) -> list[DepositItem]:
    return [DepositItem(material=m, accepted=n, rejected=0) for m, n in accepted.items()]


def test_points_follow_the_rate_table() -> None:
    credit = compute_credit(_items(can=3, pet=2), RATES, credited_today=0, daily_limit=100)
    assert (credit.points, credit.items_credited, credit.items_over_limit) == (65, 5, 0)


def test_the_daily_limit_caps_items_in_payload_order() -> None:
    # GIVEN 97 items already credited today; WHEN 3 cans and 2 bottles arrive
    credit = compute_credit(_items(can=3, pet=2), RATES, credited_today=97, daily_limit=100)
    # THEN the 3 cans fit, the 2 bottles are over the limit
    assert (credit.points, credit.items_credited, credit.items_over_limit) == (45, 3, 2)
    assert credit.credited_by_material == {"can": 3, "pet": 0}


def test_nothing_left_today_is_a_daily_limit_rejection() -> None:
    with pytest.raises(DepositRejected) as rejected:
        compute_credit(_items(can=1), RATES, credited_today=100, daily_limit=100)
    assert rejected.value.reason == "daily_limit"


def test_unknown_material_and_no_accepted_items_are_rejected() -> None:
    with pytest.raises(DepositRejected) as unknown:
        compute_credit(_items(glass=1), RATES, 0, 100)
    assert unknown.value.reason == "unknown_material"
    with pytest.raises(DepositRejected) as empty:
        compute_credit(_items(can=0), RATES, 0, 100)
    assert empty.value.reason == "no_accepted_items"


@given(
    cans=st.integers(0, 300),
    pets=st.integers(0, 300),
    already=st.integers(0, 150),
    limit=st.integers(1, 200),
)
def test_credit_never_exceeds_the_limit_nor_what_was_accepted(
    cans: int, pets: int, already: int, limit: int
) -> None:
    try:
        credit = compute_credit(_items(can=cans, pet=pets), RATES, already, limit)
    except DepositRejected as rejected:
        assert rejected.reason in {"daily_limit", "no_accepted_items"}
        return
    assert credit.items_credited + credit.items_over_limit == cans + pets
    assert already + credit.items_credited <= max(limit, already)
    assert credit.points == sum(RATES[m] * n for m, n in credit.credited_by_material.items())


def test_occurred_at_window() -> None:
    now = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
    ahead, behind = timedelta(minutes=10), timedelta(days=7)
    check_occurred_at(now + timedelta(minutes=10), now, ahead, behind)
    check_occurred_at(now - timedelta(days=7), now, ahead, behind)
    for bad in (now + timedelta(minutes=11), now - timedelta(days=7, seconds=1)):
        with pytest.raises(DepositRejected):
            check_occurred_at(bad, now, ahead, behind)


@pytest.mark.parametrize(
    "raw",
    ["010-1234-5678", "01012345678", "+82 10-1234-5678", "+821012345678", "010 1234 5678"],
)
def test_mobile_numbers_normalize_to_one_form(raw: str) -> None:
    assert normalize_mobile(raw) == "01012345678"


@pytest.mark.parametrize("raw", ["12345", "02-123-4567", "010-123-456", "abc", ""])
def test_non_mobile_numbers_are_refused(raw: str) -> None:
    with pytest.raises(ValueError):
        normalize_mobile(raw)


def test_phone_hash_is_keyed_and_stable() -> None:
    assert phone_hash("01012345678", b"k1") == phone_hash("01012345678", b"k1")
    assert phone_hash("01012345678", b"k1") != phone_hash("01012345678", b"k2")
    assert "5678" not in phone_hash("01012345678", b"k1")


def test_redaction_removes_phone_numbers_from_text() -> None:
    text = 'bad {"phone": "010-1234-5678"} and +82 10 9876 5432'
    assert redact_phones(text) == 'bad {"phone": "<phone>"} and <phone>'


def test_deposit_payload_contract() -> None:
    deposit = Deposit.model_validate(
        {
            "event_id": "01JD3Q8Z6R4T2V9X0B7C5N1M8K",
            "citizen": {"code": "482913"},
            "items": [{"material": "can", "accepted": 3, "rejected": 1}],
            "occurred_at": "2026-11-25T10:15:00+09:00",
        }
    )
    assert deposit.occurred_at.utcoffset() == timedelta(hours=9)


@pytest.mark.parametrize(
    "change",
    [
        {"event_id": "short"},
        {"event_id": "has spaces in it"},
        {"citizen": {"code": "12345"}},
        {"citizen": {"code": "123456", "phone": "01012345678"}},
        {"citizen": {"phone": "02-123-4567"}},
        {"items": []},
        {"items": [{"material": "can", "accepted": -1}]},
        {"items": [{"material": "can", "accepted": 1}, {"material": "can", "accepted": 1}]},
        {"occurred_at": "2026-11-25T10:15:00"},
    ],
)
def test_invalid_deposits_are_refused_at_the_edge(change: dict[str, object]) -> None:
    payload = {
        "event_id": "01JD3Q8Z6R4T2V9X0B7C5N1M8K",
        "citizen": {"code": "482913"},
        "items": [{"material": "can", "accepted": 3, "rejected": 1}],
        "occurred_at": "2026-11-25T10:15:00+09:00",
        **change,
    }
    with pytest.raises(ValidationError):
        Deposit.model_validate(payload)
