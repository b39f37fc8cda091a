"""The rules of proving a phone number, and the service on fakes with a clock it controls."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.config import Settings
from chalicelib.domain import phone_proofs as proofs
from chalicelib.domain.citizens import ProfileChange
from chalicelib.domain.phones import phone_hash
from chalicelib.errors import Conflict, TooManyRequests, Unprocessable
from chalicelib.services.phones import PhoneService
from tests.fakes import (
    MemoryCitizens,
    MemoryCity,
    MemoryPhones,
    MemoryRateLimiter,
    RecordingSms,
)

NOW = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
KEY = b"unit-test-key"
NUMBER = "01023456789"


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


class World:
    def __init__(self, rules: proofs.ProofRules | None = None) -> None:
        self.city = MemoryCity()
        self.clock = Clock()
        self.sms = RecordingSms()
        self.store = MemoryPhones(self.city)
        self.service = PhoneService(
            self.store,
            MemoryCitizens(self.city),
            self.sms,
            MemoryRateLimiter(),
            rules or proofs.ProofRules(),
            self.clock,
            lambda: KEY,
            sleep=lambda _: None,
        )

    def citizen(self, citizen_id: str) -> None:
        MemoryCitizens(self.city).save_profile(
            citizen_id, ProfileChange(citizen_id, "naeoe-dong"), self.clock()
        )

    def code(self, number: str = NUMBER) -> str:
        return self.sms.last_code(proofs.e164(number))


def test_codes_are_six_digits_and_stored_only_as_keyed_hashes() -> None:
    codes = {proofs.new_code() for _ in range(200)}
    assert all(len(c) == 6 and c.isdigit() for c in codes)
    assert len(codes) > 150
    opened = proofs.open_verification("c", "h", "123456", KEY, NOW, proofs.ProofRules())
    assert "123456" not in repr(opened)
    assert proofs.code_matches(KEY, opened, "123456")
    assert not proofs.code_matches(KEY, opened, "123457")
    assert not proofs.code_matches(b"other-key", opened, "123456")
    # the same code in another verification hashes differently
    other = proofs.open_verification("c", "h", "123456", KEY, NOW, proofs.ProofRules())
    assert other.code_hash != opened.code_hash


def test_a_verification_lives_five_minutes_with_five_tries() -> None:
    opened = proofs.open_verification("c", "h", "123456", KEY, NOW, proofs.ProofRules())
    assert opened.expires_at - NOW == timedelta(minutes=5)
    assert opened.tries_left == 5


def test_numbers_go_to_sns_in_e164_and_texts_hold_the_code_only() -> None:
    assert proofs.e164("01023456789") == "+821023456789"
    text = proofs.sms_text("042195", 300)
    assert "042195" in text and "5분" in text


def test_limits_name_hashes_never_numbers() -> None:
    limits = proofs.ProofRules().send_limits("kim", phone_hash(NUMBER, KEY))
    assert [(lim.uses, lim.window_s) for lim in limits] == [
        (5, 3600),
        (10, 86400),
        (3, 900),
        (10, 86400),
    ]
    assert not any("23456789" in lim.key for lim in limits)


def test_the_moved_notice_is_korean_and_the_same_for_a_retry() -> None:
    first = proofs.number_moved_notice("v-1", NOW)
    again = proofs.number_moved_notice("v-1", NOW)
    assert first == again
    assert first.kind == "phone_number_moved"
    assert "휴대폰" in first.title


def test_limits_are_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PHONE_PROOF_RULES", '{"sends_per_citizen_hour": 2}')
    assert Settings.from_env().proof_rules().sends_per_citizen_hour == 2
    monkeypatch.setenv("PHONE_PROOF_RULES", '{"tries": 0}')
    with pytest.raises(ValueError):
        Settings.from_env().proof_rules()
    monkeypatch.setenv("PHONE_PROOF_RULES", '{"nonsense": 1}')
    with pytest.raises(ValueError):
        Settings.from_env().proof_rules()


def test_a_code_is_refused_once_expired() -> None:
    world = World()
    world.citizen("kim")
    sent = world.service.send_code("kim", NUMBER)
    world.clock.now = sent.expires_at
    with pytest.raises(Conflict) as refused:
        world.service.verify("kim", sent.verification_id, world.code())
    assert refused.value.code == "verification_expired"
    assert world.city.links == {}


def test_a_right_code_in_time_links_and_a_wrong_one_counts_down() -> None:
    world = World()
    world.citizen("kim")
    sent = world.service.send_code("kim", NUMBER)
    with pytest.raises(Unprocessable) as wrong:
        world.service.verify(
            "kim", sent.verification_id, "999999" if world.code() != "999999" else "0"
        )
    assert wrong.value.details == [{"tries_left": 4}]
    world.clock.now = sent.expires_at - timedelta(seconds=1)
    linked = world.service.verify("kim", sent.verification_id, world.code())
    assert linked.phone_hash == phone_hash(NUMBER, KEY)


def test_held_and_free_numbers_are_answered_and_limited_alike() -> None:
    world = World()
    for who in ("owner", "a", "b"):
        world.citizen(who)
    sent = world.service.send_code("owner", NUMBER)
    world.service.verify("owner", sent.verification_id, world.code())
    outcomes = []
    for number in (NUMBER, "01099998888"):
        answers = []
        for who in ("a", "b", "a"):
            try:
                world.service.send_code(who, number)
                answers.append("sent")
            except TooManyRequests:
                answers.append("429")
        outcomes.append(answers)
    # the held number had one send already (its owner's): one fewer left, nothing else differs
    assert outcomes[0] == ["sent", "sent", "429"]
    assert outcomes[1] == ["sent", "sent", "sent"]


def test_the_last_prover_wins_and_the_former_holder_is_told() -> None:
    world = World()
    world.citizen("lee")
    world.citizen("kim")
    for who in ("lee", "kim"):
        sent = world.service.send_code(who, NUMBER)
        world.service.verify(who, sent.verification_id, world.code())
    assert world.city.links == {phone_hash(NUMBER, KEY): "kim"}
    assert world.city.citizens["lee"].phone_hash is None
    assert [n.kind for n in world.store.notices["lee"]] == ["phone_number_moved"]
    assert "kim" not in world.store.notices
