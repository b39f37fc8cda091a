"""Hostile input classes, each tried as a class (Hypothesis) against the one mechanism that
closes it: the JSON parser's limits, ASCII-only phone numbers and their redaction, the
groups' encoding and the token's claims, strict deposit types, the public-name rule."""

from __future__ import annotations

import json
import string
import unicodedata
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from chalicelib.domain import json_limits
from chalicelib.domain.names import MAX_LENGTH, public_name
from chalicelib.domain.phones import looks_like_phone, normalize_mobile, phone_hash, redact_phones
from chalicelib.domain.recycling import Deposit
from chalicelib.errors import Unauthorized
from chalicelib.tokens import citizen_id, decode_groups, encode_groups, groups_of

# ----------------------------------------------------------------------------- JSON limits

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=20)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=30,
)


@given(json_values)
def test_documents_within_the_limits_parse_as_json_does(value: Any) -> None:
    text = json.dumps(value)
    assume(json_limits.nesting_depth(text) <= json_limits.MAX_DEPTH)
    assert json_limits.loads(text) == json.loads(text)


@given(
    st.integers(min_value=json_limits.MAX_DEPTH + 1, max_value=200_000),
    st.lists(st.sampled_from(["[", '{"k":']), min_size=1, max_size=3),
)
@settings(max_examples=40)
def test_any_nesting_past_the_limit_is_refused_as_too_deep(depth: int, openers: list[str]) -> None:
    opened = [openers[i % len(openers)] for i in range(depth)]
    closers = "".join("]" if o == "[" else "}" for o in reversed(opened))
    text = "".join(opened) + "0" + closers
    with pytest.raises(json_limits.JsonRejected) as refused:
        json_limits.loads(text, max_bytes=10**7)
    assert refused.value.problem == "too_deep"


@given(json_values, st.text(max_size=8), json_values, json_values, st.integers(0, 3))
def test_an_object_naming_a_key_twice_is_refused_at_any_depth(
    around: Any, key: str, first: Any, second: Any, depth: int
) -> None:
    # GIVEN an object that names `key` twice (parsers disagree on which value wins)
    twice = (
        "{"
        + f"{json.dumps(key)}: {json.dumps(first)}, {json.dumps(key)}: {json.dumps(second)}"
        + "}"
    )
    text = twice
    for _ in range(depth):
        text = "[" + json.dumps(around) + ', {"k": ' + text + "}]"
    assume(json_limits.nesting_depth(text) <= json_limits.MAX_DEPTH)
    # WHEN it is parsed THEN it is refused as malformed, without quoting the key
    with pytest.raises(json_limits.JsonRejected) as refused:
        json_limits.loads(text)
    assert refused.value.problem == "malformed"
    assert "twice" in str(refused.value)


@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_any_bytes_either_parse_or_are_refused_with_a_reason(raw: bytes) -> None:
    try:
        json_limits.loads(raw)
    except json_limits.JsonRejected as e:
        assert e.problem in ("malformed", "too_deep", "too_large")


def test_brackets_inside_strings_are_not_nesting() -> None:
    text = json.dumps({"a": "[" * 1000 + "{" * 1000, "b": ['\\"[[[']})
    assert json_limits.loads(text)["a"].startswith("[[[")


@pytest.mark.parametrize("text", ['"\\ud800"', '{"\\udc00": 1}', '["a\\ud83d"]'])
def test_an_unpaired_surrogate_is_not_text(text: str) -> None:
    with pytest.raises(json_limits.JsonRejected):
        json_limits.loads(text)
    assert json_limits.loads('"\\ud83d\\ude00"') == "\U0001f600"


def test_size_is_refused_before_parsing() -> None:
    with pytest.raises(json_limits.JsonRejected) as refused:
        json_limits.loads(b"[" + b"1," * 200_000 + b"1]")
    assert refused.value.problem == "too_large"


# ----------------------------------------------------------------------------- phones

NUMBERS = st.builds(
    lambda prefix, rest: prefix + rest,
    st.sampled_from(["010", "011", "016", "017", "018", "019"]),
    st.text(alphabet="0123456789", min_size=8, max_size=8),
)
# Every family of decimal digits Unicode has (ASCII, full-width, Arabic-Indic, Devanagari, ...)
DIGIT_FAMILIES = sorted(
    {chr(c - unicodedata.decimal(chr(c))) for c in range(0x110000) if chr(c).isdecimal()}
)


def _written(number: str, style: int) -> str:
    """One of the ways a person writes a Korean mobile number."""
    national = number[1:]
    return [
        number,
        f"{number[:3]}-{number[3:7]}-{number[7:]}",
        f"{number[:3]} {number[3:7]} {number[7:]}",
        f"({number[:3]}) {number[3:7]}.{number[7:]}",
        f"+82 {national[:2]}-{national[2:6]}-{national[6:]}",
        f"+82-(0){national[:2]}-{national[2:6]}-{national[6:]}",
        f"82{national}",
        " ".join(number),
    ][style]


@given(NUMBERS, st.integers(0, 7))
def test_every_accepted_writing_is_one_number(number: str, style: int) -> None:
    assert normalize_mobile(_written(number, style)) == number


@given(NUMBERS, st.integers(0, 7), st.sampled_from(DIGIT_FAMILIES[1:]), st.data())
def test_digits_that_are_not_ascii_are_refused_never_crash(
    number: str, style: int, zero: str, data: st.DataObject
) -> None:
    written = _written(number, style)
    at = data.draw(st.sampled_from([i for i, c in enumerate(written) if c.isdigit()]))
    foreign = written[:at] + chr(ord(zero) + int(written[at])) + written[at + 1 :]
    with pytest.raises(ValueError):
        normalize_mobile(foreign)


@given(st.text(max_size=60))
def test_normalize_either_answers_ascii_or_refuses(text: str) -> None:
    try:
        normalized = normalize_mobile(text)
    except ValueError:
        return
    assert normalized.isascii() and normalized.isdigit()
    phone_hash(normalized, b"k")  # the hash takes whatever normalize gives


FILLER = st.text(alphabet=string.ascii_letters + ' ":,{}[]<>=_', max_size=30)


@given(NUMBERS, st.integers(0, 7), st.sampled_from(DIGIT_FAMILIES), FILLER, FILLER, st.booleans())
def test_redaction_hides_every_writing_in_every_script(
    number: str, style: int, zero: str, before: str, after: str, escaped: bool
) -> None:
    written = "".join(
        chr(ord(zero) + int(c)) if c.isdigit() else c for c in _written(number, style)
    )
    if escaped:  # as a JSON text that escapes what is not ASCII
        written = json.dumps(written)[1:-1]
    text = f"{before}{written}{after}"
    redacted = redact_phones(text)
    assert "<phone>" in redacted
    assert not looks_like_phone("".join(c for c in redacted if c.isdigit()) or "x")


def test_redaction_leaves_times_and_small_numbers_alone() -> None:
    text = '{"occurred_at": "2026-11-25T10:00:00+09:00", "accepted": 3, "code": "123456"}'
    assert redact_phones(text) == text


# ----------------------------------------------------------------------------- tokens


@given(st.frozensets(st.text(min_size=1, max_size=40), max_size=6))
def test_groups_survive_the_authorizer_context_exactly(groups: frozenset[str]) -> None:
    assert decode_groups(encode_groups(groups)) == groups


@given(st.text(max_size=20))
def test_no_group_name_can_smuggle_another_group(prefix: str) -> None:
    forged = frozenset({f"{prefix},admin", f"admin,{prefix}", f'{prefix}","admin'}) - {"admin"}
    assert "admin" not in decode_groups(encode_groups(forged))


@pytest.mark.parametrize(
    "value", [None, "admin", "admin,ops", "[1, 2]", '{"admin": true}', "[" * 5000, 7, '"admin"']
)
def test_a_context_value_not_written_by_the_authorizer_grants_nothing(value: object) -> None:
    assert decode_groups(value) == frozenset()


@pytest.mark.parametrize(
    "sub", ["", "a" * 129, "x\ny", "citizen 1", "시민", "../etc", None, 12, ["a"], "a\u202eb"]
)
def test_an_odd_subject_is_unauthorized(sub: object) -> None:
    with pytest.raises(Unauthorized):
        citizen_id(sub)


@pytest.mark.parametrize(
    "groups", ["admin", ["a"] * 101, [1], ["x" * 129], ["ad\nmin"], [["admin"]], {"admin": 1}]
)
def test_odd_groups_are_unauthorized(groups: object) -> None:
    with pytest.raises(Unauthorized):
        groups_of({"cognito:groups": groups})


# ----------------------------------------------------------------------------- deposits

GOOD = {
    "event_id": "evt-00000001",
    "citizen": {"code": "123456"},
    "items": [{"material": "can", "accepted": 2, "rejected": 0}],
    "occurred_at": "2026-11-25T10:00:00+09:00",
}
NOT_INTEGERS = (
    st.booleans()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.integers(0, 1000).map(str)
    | st.integers(0, 1000).map(float)
    | st.none()
    | st.lists(st.integers(0, 5), max_size=2)
)


@given(st.sampled_from(["accepted", "rejected"]), NOT_INTEGERS)
def test_a_count_that_is_not_an_exact_integer_is_invalid(field: str, value: Any) -> None:
    item = {**GOOD["items"][0], field: value}  # type: ignore[dict-item]
    with pytest.raises(ValidationError):
        Deposit.model_validate({**GOOD, "items": [item]})


@given(
    st.integers(0, 2**40)
    | st.floats(allow_nan=False)
    | st.booleans()
    | st.sampled_from(["2026-11-25T10:00:00", "2026-11-25", "1764032400", "now", ""])
)
def test_a_time_that_is_not_rfc3339_with_offset_is_invalid(value: Any) -> None:
    with pytest.raises(ValidationError):
        Deposit.model_validate({**GOOD, "occurred_at": value})


OFFSETS = st.integers(-(23 * 60 + 59), 23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)


@given(st.datetimes(timezones=OFFSETS))
def test_every_rfc3339_time_with_offset_is_read_back(moment: datetime) -> None:
    text = moment.isoformat().replace("+00:00", "Z")
    assert Deposit.model_validate({**GOOD, "occurred_at": text}).occurred_at == moment


# ----------------------------------------------------------------------------- names

REFUSED = ["\u202e", "\u2066", "\u200b", "\u200e", "\u0000", "\u001b", "\ufeff", "\u3164", "\ue000"]


@given(st.text(max_size=60))
def test_a_public_name_is_clean_or_refused(text: str) -> None:
    try:
        name = public_name(text)
    except ValueError:
        return
    assert 1 <= len(name) <= MAX_LENGTH and name == name.strip()
    assert unicodedata.is_normalized("NFC", name)
    for i, char in enumerate(name):
        if char == "\u200d":
            assert 0 < i < len(name) - 1
            continue
        assert unicodedata.category(char) not in {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}
    assert public_name(name) == name


@given(st.text(max_size=10), st.sampled_from(REFUSED), st.text(max_size=10))
def test_control_bidi_and_invisible_characters_are_refused(
    before: str, bad: str, after: str
) -> None:
    with pytest.raises(ValueError):
        public_name(f"a{before}{bad}{after}b")


@pytest.mark.parametrize(
    "name",
    ["김해 시민", "Jürgen", "Ольга", "山田", "ليلى", "🌱 green", "👩\u200d👩\u200d👧", "e\u0301"],
)
def test_scripts_and_emoji_are_welcome(name: str) -> None:
    assert public_name(f"  {name}  ") == unicodedata.normalize("NFC", name)
