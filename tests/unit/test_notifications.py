"""The inbox's rules: ids derived from causes alone, Korean words from the templates, and the
shapes of push tokens."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from chalicelib.domain import notifications as n

AT = datetime(2026, 11, 30, 16, 30, tzinfo=UTC)  # 2026-12-01 01:30 in Seoul


def test_an_id_is_the_cause_and_sorts_by_its_time() -> None:
    # GIVEN the same cause twice, and a later one
    cause = n.ledger_cause("c1", "e1", "correction", 1500, 3000, AT, {})
    again = n.ledger_cause("c1", "e1", "correction", 1500, 3000, AT, {})
    later = n.ledger_cause("c1", "e2", "correction", 5, 3005, AT.replace(minute=31), {})
    assert cause and again and later
    # THEN the same id (nothing of "now" in it), of the documented shape, newest sorting last
    assert n.notification_id(cause) == n.notification_id(again)
    assert n.ID_SHAPE.fullmatch(n.notification_id(cause))
    assert n.notification_id(later) > n.notification_id(cause)
    # AND two kinds of one cause key never meet
    paid = n.payout_cause("payout-2026-11", "c1", "2026-11", 10, "1234", "pending", "paid", AT)
    failed = n.payout_cause("payout-2026-11", "c1", "2026-11", 10, "1234", "pending", "failed", AT)
    assert paid and failed and n.notification_id(paid) != n.notification_id(failed)


def test_korean_words_with_separators_and_seoul_dates() -> None:
    prize = n.ledger_cause(
        "c1", "e1", "challenge_prize", 12000, 1234567, AT, {"title": "12월 걷기 {points}"}
    )
    assert prize is not None
    notice = n.render(prize)
    assert notice.kind == "prize_awarded"
    assert "12,000포인트" in notice.title and "1,234,567포인트" in notice.body
    # a name someone wrote is text: its braces are never filled in
    assert "'12월 걷기 {points}'" in notice.body
    finish = n.render(n.finish_cause("c1", "walk", "걷기", AT))
    assert "2026년 12월 1일" in finish.body  # the Seoul day, not the UTC one


def test_payout_words_and_reasons() -> None:
    failed = n.payout_cause(
        "payout-2026-11", "c1", "2026-11", 25000, "9876", "pending", "failed", AT
    )
    assert failed is not None
    notice = n.render(failed)
    assert (
        "2026년 11월" in notice.title
        and "25,000포인트는 회원님 잔액으로 돌아왔습니다" in notice.body
    )
    skipped = n.render(n.skip_cause("payout-2026-11", "c1", "no_account", AT))
    assert "지급 계좌" in skipped.body and "등록" in skipped.body
    other = n.render(n.skip_cause("payout-2026-11", "c1", "something_new", AT))
    assert n.templates()["reasons"]["other"] in other.body
    # an item still pending, or seen again unchanged, tells nothing
    assert n.payout_cause("r", "c1", "2026-11", 1, "1", None, "pending", None) is None
    assert n.payout_cause("r", "c1", "2026-11", 1, "1", "paid", "paid", AT) is None
    assert n.ledger_cause("c1", "e", "recycling", 10, 10, AT, {}) is None


def test_corrections_say_their_sign() -> None:
    minus = n.ledger_cause("c1", "e", "correction", -1500, 0, AT, {})
    assert minus is not None and "-1,500포인트" in n.render(minus).title
    plus = n.ledger_cause("c1", "e", "correction", 1500, 1500, AT, {})
    assert plus is not None and "+1,500포인트" in n.render(plus).title


def test_every_kind_has_words() -> None:
    for kind in n.KINDS:
        if kind != "phone_number_moved":
            assert {"title", "body"} <= set(n.templates()[kind])


@pytest.mark.parametrize(
    ("platform", "token", "ok"),
    [
        ("apns", "a" * 64, True),
        ("apns", "A0" * 32, True),
        ("apns", "a" * 63, False),
        ("apns", "g" * 64, False),
        ("apns", "ab" * 101, False),
        ("fcm", "dGVzdA:APA91b" + "x_y-z" * 30, True),
        ("fcm", "x" * 4096, True),
        ("fcm", "x" * 4097, False),
        ("fcm", "짧은토큰" * 10, False),
        ("fcm", "abc def" * 10, False),
        ("fcm", "short", False),
    ],
)
def test_token_shapes(platform: str, token: str, ok: bool) -> None:
    assert (n.token_problem(platform, token) is None) is ok


def test_a_token_is_keyed_by_its_digest_and_apns_case_does_not_matter() -> None:
    assert n.normal_token("apns", "AB" * 32) == "ab" * 32
    assert n.token_key(n.normal_token("apns", "AB" * 32)) == n.token_key("ab" * 32)
    assert len(n.token_key("x" * 4096)) == 64


def test_the_push_message_carries_words_for_each_platform() -> None:
    notice = n.render(n.skip_cause("payout-2026-11", "c1", "no_account", AT))
    message = json.loads(n.push_message(notice))
    assert json.loads(message["GCM"])["notification"]["title"] == notice.title
    assert json.loads(message["APNS"])["aps"]["alert"]["body"] == notice.body
    assert json.loads(message["GCM"])["data"]["notification_id"] == notice.notification_id
