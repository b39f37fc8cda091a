"""The local rules engine must decide exactly what IoT Core would for our rules' SQL."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest

from infra.local.iot_sql import (
    CompiledRule,
    RuleEvaluationError,
    RuleSqlError,
    compile_sql,
    evaluate,
    topic_matches,
)
from iot.rule_definitions import load_rules

NOW_MS = 1_717_000_000_000
DEPOSIT_TOPIC = "gimhae/robots/robot-001/deposits"


def run(
    sql: str,
    payload: bytes | dict[str, Any] = b"{}",
    topic: str = "city/robots/robot-007/telemetry",
    client_id: str = "robot-007",
) -> dict[str, Any] | bytes | None:
    raw = json.dumps(payload).encode() if isinstance(payload, dict) else payload
    return evaluate(compile_sql(sql), topic, raw, client_id=client_id, now_ms=NOW_MS)


def matches(where: str, payload: dict[str, Any]) -> bool:
    """Whether a rule with this WHERE fires; the SELECT is irrelevant here."""
    return run(f"SELECT * FROM 'city/#' WHERE {where}", payload) is not None


# --------------------------------------------------------------------------- the real rule


@pytest.fixture(scope="module")
def deposits_rule() -> CompiledRule:
    (rule,) = [r for r in load_rules("gimhae") if r.name == "robot_deposits"]
    return compile_sql(rule.sql)


def test_real_deposit_rule_wraps_a_json_deposit(deposits_rule: CompiledRule) -> None:
    # GIVEN a well-formed deposit from robot-001 on its own topic
    raw = b'{"deposit_id": "d-1", "items": [{"kind": "can", "count": 3}]}'

    # WHEN the deposits rule evaluates it
    out = evaluate(deposits_rule, DEPOSIT_TOPIC, raw, client_id="robot-001", now_ms=NOW_MS)

    # THEN the handler gets the exact bytes back plus who sent them and when
    assert out == {
        "payload": base64.b64encode(raw).decode(),
        "device_id": "robot-001",
        "client_id": "robot-001",
        "received_at": NOW_MS,
    }
    assert isinstance(out, dict)
    assert base64.b64decode(out["payload"]) == raw


def test_real_deposit_rule_still_delivers_malformed_json(deposits_rule: CompiledRule) -> None:
    # GIVEN a truncated, non-UTF-8 payload the handler must quarantine
    raw = b'{"deposit_id": "d-2", "items": [\xff'

    # WHEN the deposits rule evaluates it
    out = evaluate(deposits_rule, DEPOSIT_TOPIC, raw, client_id="robot-001", now_ms=NOW_MS)

    # THEN it is not dropped nor an error: the raw bytes travel base64-encoded
    assert out == {
        "payload": base64.b64encode(raw).decode(),
        "device_id": "robot-001",
        "client_id": "robot-001",
        "received_at": NOW_MS,
    }


def test_real_deposit_rule_reports_the_client_id_not_the_topic(
    deposits_rule: CompiledRule,
) -> None:
    out = evaluate(deposits_rule, DEPOSIT_TOPIC, b"{}", client_id="impostor", now_ms=NOW_MS)
    assert isinstance(out, dict)
    assert (out["device_id"], out["client_id"]) == ("robot-001", "impostor")


@pytest.mark.parametrize(
    "topic",
    [
        "gimhae/robots/robot-001/telemetry",
        "busan/robots/robot-001/deposits",
        "gimhae/robots/robot-001/deposits/extra",
        "gimhae/robots/deposits",
    ],
)
def test_real_deposit_rule_ignores_other_topics(deposits_rule: CompiledRule, topic: str) -> None:
    assert evaluate(deposits_rule, topic, b"{}", client_id="robot-001", now_ms=NOW_MS) is None


def test_real_deposit_rule_topic_filter_has_city_substituted(deposits_rule: CompiledRule) -> None:
    assert deposits_rule.topic_filter == "gimhae/robots/+/deposits"


# --------------------------------------------------------------------------- SELECT


def test_select_star_returns_the_payload_object() -> None:
    assert run("SELECT * FROM 'city/#'", {"a": 1, "b": {"c": [1, 2]}}) == {
        "a": 1,
        "b": {"c": [1, 2]},
    }


def test_select_star_merges_extra_fields_into_the_payload() -> None:
    # GIVEN a rule that adds the device id and arrival time to the payload
    sql = "SELECT *, topic(3) AS device_id, timestamp() AS received_at FROM 'city/robots/+/#'"

    # WHEN a JSON object arrives
    out = run(sql, {"battery": 81})

    # THEN one flat object comes out, payload keys first
    assert out == {"battery": 81, "device_id": "robot-007", "received_at": NOW_MS}


def test_select_star_extra_field_overrides_a_payload_key() -> None:
    assert run("SELECT *, topic(3) AS id FROM 'city/#'", {"id": "spoofed", "x": 1}) == {
        "id": "robot-007",
        "x": 1,
    }


def test_named_fields_are_keyed_by_their_last_path_segment() -> None:
    payload = {"status": {"battery": {"level": 42}}, "name": "r7", "other": True}
    out = run("SELECT status.battery.level, name FROM 'city/#'", payload)
    assert out == {"level": 42, "name": "r7"}


def test_aliases_rename_fields_and_functions() -> None:
    payload = {"status": {"battery": 42}}
    out = run(
        "SELECT status.battery AS battery_pct, clientid() AS who, topic() AS t FROM 'city/#'",
        payload,
    )
    assert out == {"battery_pct": 42, "who": "robot-007", "t": "city/robots/robot-007/telemetry"}


def test_missing_fields_are_omitted_not_null() -> None:
    out = run("SELECT a, nope, a.deeper, gone.deeper AS g FROM 'city/#'", {"a": 5})
    assert out == {"a": 5}


def test_explicit_null_is_kept() -> None:
    assert run("SELECT a, null AS n FROM 'city/#'", {"a": None}) == {"a": None, "n": None}


def test_topic_index_beyond_the_topic_is_omitted() -> None:
    assert run("SELECT topic(9) AS t, topic(1) AS city FROM 'city/#'") == {"city": "city"}


def test_functions_without_alias_are_keyed_by_function_name() -> None:
    assert run("SELECT timestamp(), clientid() FROM 'city/#'") == {
        "timestamp": NOW_MS,
        "clientid": "robot-007",
    }


def test_literals_and_conditions_can_be_selected_with_an_alias() -> None:
    out = run("SELECT 'v1' AS schema, t > 30 AS hot, -2 AS offset FROM 'city/#'", {"t": 31})
    assert out == {"schema": "v1", "hot": True, "offset": -2}


def test_keywords_are_case_insensitive() -> None:
    out = run("select *, TOPIC(2) as kind from 'city/#' where a = 1 And NOT b = 2", {"a": 1})
    # b is missing, so NOT (b = 2) is Undefined and the rule does not fire.
    assert out is None
    assert run("select *, TOPIC(2) as kind from 'city/#' where a = 1", {"a": 1}) == {
        "a": 1,
        "kind": "robots",
    }


def test_string_literal_with_escaped_quote() -> None:
    assert matches("name = 'O''Brien'", {"name": "O'Brien"})


# --------------------------------------------------------------------------- non-JSON payloads


def test_bare_select_star_passes_non_json_bytes_through() -> None:
    raw = b"\x00\x01binary\xff"
    assert run("SELECT * FROM 'city/#'", raw) == raw


def test_bare_select_star_passes_a_json_array_through_unchanged() -> None:
    raw = b"[1, 2, 3]"
    assert run("SELECT * FROM 'city/#'", raw) == raw


def test_select_star_with_extras_on_non_json_is_an_evaluation_error() -> None:
    # GIVEN a rule that needs to merge the payload as JSON
    rule = compile_sql("SELECT *, topic(3) AS device_id FROM 'city/robots/+/#'")

    # WHEN a non-JSON payload arrives, THEN evaluation fails (AWS runs the error action)
    with pytest.raises(RuleEvaluationError, match="not JSON"):
        evaluate(rule, "city/robots/r1/x", b"not json", client_id="r1", now_ms=NOW_MS)


def test_select_star_with_extras_on_a_json_array_is_an_evaluation_error() -> None:
    with pytest.raises(RuleEvaluationError, match="not a JSON object"):
        run("SELECT *, clientid() AS c FROM 'city/#'", b"[1]")


def test_named_field_on_non_json_is_an_evaluation_error() -> None:
    with pytest.raises(RuleEvaluationError):
        run("SELECT battery FROM 'city/#'", b"\xff\xfe")


def test_functions_only_select_accepts_any_payload() -> None:
    raw = b"plain text"
    assert run("SELECT encode(*, 'base64') AS data, timestamp() AS ts FROM 'city/#'", raw) == {
        "data": base64.b64encode(raw).decode(),
        "ts": NOW_MS,
    }


def test_nan_is_not_json() -> None:
    with pytest.raises(RuleEvaluationError):
        run("SELECT *, clientid() AS c FROM 'city/#'", b'{"a": NaN}')


def test_empty_payload_can_have_data_added() -> None:
    assert run("SELECT *, clientid() AS c FROM 'city/#'", b"") == {"c": "robot-007"}


def test_where_on_a_field_of_a_non_json_payload_is_false_not_an_error() -> None:
    assert run("SELECT * FROM 'city/#' WHERE kind = 'x'", b"\x00binary") is None


def test_false_where_wins_over_a_select_that_would_fail() -> None:
    sql = "SELECT *, clientid() AS c FROM 'city/#' WHERE topic(2) = 'shelters'"
    assert run(sql, b"not json") is None


# --------------------------------------------------------------------------- WHERE


def test_where_true_and_false() -> None:
    assert matches("true", {})
    assert not matches("false", {})
    assert not matches("null", {})


def test_where_false_means_no_output() -> None:
    # GIVEN a rule that only forwards low batteries
    sql = "SELECT battery FROM 'city/#' WHERE battery < 20"

    # WHEN a healthy battery reports, THEN nothing is produced
    assert run(sql, {"battery": 80}) is None
    # ... and a low one goes through
    assert run(sql, {"battery": 10}) == {"battery": 10}


def test_where_on_a_missing_field_is_false_whatever_the_operator() -> None:
    for where in ("x = 1", "x <> 1", "x != 1", "x < 1", "x >= 1", "NOT x = 1", "x = null"):
        assert not matches(where, {"y": 1}), where


def test_missing_field_makes_or_and_not_undefined_too() -> None:
    # AWS's logical operators are Undefined unless both operands are booleans.
    assert not matches("x = 1 OR y = 1", {"y": 1})
    assert not matches("NOT (x = 1)", {"y": 1})


def test_where_on_a_nested_field() -> None:
    payload = {"status": {"battery": {"level": 15}}}
    assert matches("status.battery.level < 20", payload)
    assert not matches("status.battery.level >= 20", payload)
    assert not matches("status.battery.missing < 20", payload)
    assert not matches("status.battery.level.deeper < 20", payload)


def test_where_cannot_use_select_aliases() -> None:
    sql = "SELECT battery AS b FROM 'city/#' WHERE b = 10"
    assert run(sql, {"battery": 10}) is None
    assert run(sql, {"battery": 10, "b": 10}) == {"b": 10}


def test_where_on_functions() -> None:
    assert matches("topic(3) = 'robot-007'", {})
    assert matches("clientid() = topic(3)", {})
    assert matches(f"timestamp() = {NOW_MS}", {})
    assert not matches("topic(3) = 'robot-008'", {})


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("kind = 'can'", True),
        ("kind <> 'can'", False),
        ("kind != 'bottle'", True),
        ("kind < 'cap'", True),
        ("kind > 'cap'", False),
        ("kind >= 'can'", True),
        ("kind <= 'ca'", False),
        ("kind = 'CAN'", False),
    ],
)
def test_string_comparisons(where: str, expected: bool) -> None:
    assert matches(where, {"kind": "can"}) is expected


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("n = 3", True),
        ("n = 3.0", True),
        ("n <> 3", False),
        ("n < 3.5", True),
        ("n <= 3", True),
        ("n > 2.999", True),
        ("n >= 4", False),
        ("n > -1", True),
        ("f = 0.25", True),
        ("f < 1e-1", False),
        ("f > .2", True),
    ],
)
def test_numeric_comparisons(where: str, expected: bool) -> None:
    assert matches(where, {"n": 3, "f": 0.25}) is expected


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("s = 3", False),  # no string/number coercion
        ("s <> 3", True),
        ("s < 4", False),  # no order between a string and a number
        ("b = true", True),
        ("b = 1", False),  # a boolean is not a number
        ("z = null", True),
        ("z <> null", False),
        ("s = null", False),
    ],
)
def test_mixed_type_comparisons(where: str, expected: bool) -> None:
    assert matches(where, {"s": "3", "b": True, "z": None}) is expected


def test_boolean_fields_and_boolean_strings_are_conditions() -> None:
    assert matches("ok", {"ok": True})
    assert not matches("ok", {"ok": False})
    assert matches("ok AND flag", {"ok": True, "flag": "TRUE"})
    assert not matches("ok", {"ok": 1})


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        # AND binds tighter than OR: true OR (false AND false)
        ("a = 1 OR a = 2 AND b = 3", True),
        ("(a = 1 OR a = 2) AND b = 3", False),
        # NOT binds tighter than AND: (NOT false) AND true
        ("NOT a = 2 AND b = 2", True),
        ("NOT (a = 1 AND b = 3)", True),
        ("NOT a = 1 OR b = 2", True),
        ("NOT (a = 1 OR b = 2)", False),
        ("NOT NOT a = 1", True),
        ("a = 2 OR b = 3 OR c = 'x'", True),
        ("a = 1 AND b = 2 AND c = 'y'", False),
        ("((a = 1))", True),
    ],
)
def test_and_or_not_precedence(where: str, expected: bool) -> None:
    assert matches(where, {"a": 1, "b": 2, "c": "x"}) is expected


# --------------------------------------------------------------------------- topic filters


@pytest.mark.parametrize(
    ("topic_filter", "topic", "expected"),
    [
        ("a/b/c", "a/b/c", True),
        ("a/b/c", "a/b", False),
        ("a/b", "a/b/c", False),
        ("a/+/c", "a/x/c", True),
        ("a/+/c", "a//c", True),
        ("a/+/c", "a/x/y/c", False),
        ("+/+", "a/b", True),
        ("+", "a/b", False),
        ("a/#", "a", True),
        ("a/#", "a/b/c/d", True),
        ("a/#", "ab", False),
        ("#", "a/b", True),
        ("+/b/#", "a/b", True),
        ("#", "$aws/things/r1/shadow/update", False),
        ("+/things/#", "$aws/things/r1/shadow/update", False),
        ("$aws/things/+/shadow/#", "$aws/things/r1/shadow/update", True),
        ("A/b", "a/b", False),
    ],
)
def test_topic_matches(topic_filter: str, topic: str, expected: bool) -> None:
    assert topic_matches(topic_filter, topic) is expected


def _reference_match(topic_filter: str, topic: str) -> bool:
    """A deliberately different formulation: recursive, level by level."""
    if topic.startswith("$") and topic_filter[:1] in ("+", "#"):
        return False

    def go(f: list[str], t: list[str]) -> bool:
        if not f:
            return not t
        if f[0] == "#":
            return True
        if not t:
            return False
        return (f[0] == "+" or f[0] == t[0]) and go(f[1:], t[1:])

    return go(topic_filter.split("/"), topic.split("/"))


_FILTERS = ["#", "+", "+/+", "a/#", "a/+", "a/+/c", "+/b/#", "a/b/c", "a//#", "$sys/#", "/+"]
_TOPICS = ["a", "a/b", "a/b/c", "a/x/c", "a/b/c/d", "b/b", "a//c", "/a", "$sys/x", "$a/b", ""]


def test_topic_matches_agrees_with_a_reference_on_every_pair() -> None:
    # GIVEN every filter/topic pair in a small table
    pairs = [(f, t) for f in _FILTERS for t in _TOPICS]

    # WHEN both implementations judge them
    disagreements = [(f, t) for f, t in pairs if topic_matches(f, t) != _reference_match(f, t)]

    # THEN they never disagree, and the table exercises both outcomes
    assert disagreements == []
    assert any(topic_matches(f, t) for f, t in pairs)
    assert not all(topic_matches(f, t) for f, t in pairs)


# --------------------------------------------------------------------------- compile errors


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT foo( FROM 'a'", "foo"),
        ("SELECT upper(name) AS n FROM 'a'", "upper"),
        ("SELECT principal() AS p FROM 'a'", "principal"),
        ("SELECT encode(*, 'hex') AS p FROM 'a'", "encode"),
        ("SELECT encode(name, 'base64') AS p FROM 'a'", "encode"),
        ("SELECT topic(0) AS t FROM 'a'", "topic"),
        ("SELECT topic('1') AS t FROM 'a'", "topic"),
        ("SELECT timestamp(1) AS t FROM 'a'", "timestamp"),
        ("SELECT * FROM things", "quoted topic filter"),
        ("SELECT * FROM a/b", "unexpected character '/'"),
        ("SELECT * FROM 'a/#/b'", "#"),
        ("SELECT * FROM 'a/b+'", "+"),
        ("SELECT * FROM ''", "empty"),
        ("SELECT * FROM 'a' WHERE", "expected a value"),
        ("SELECT * FROM 'a' WHERE a = ", "expected a value"),
        ("SELECT * FROM 'a' WHERE (a = 1", "expected ')'"),
        ("SELECT * FROM 'a' WHERE a < b < c", "chained"),
        ("SELECT * FROM 'a' WHERE a + 1 = 2", "unexpected character"),
        ("SELECT * FROM 'a' WHERE a IN (1, 2)", "unexpected text"),
        ("SELECT * FROM 'a' WHERE a = 'open", "unterminated"),
        ("SELECT * FROM 'a' LIMIT 1", "unexpected text"),
        ("SELECT FROM 'a'", "expected a value"),
        ("SELECT *, * FROM 'a'", "more than once"),
        ("SELECT a, b.a FROM 'x'", "more than once"),
        ("SELECT * AS all FROM 'a'", "cannot be renamed"),
        ("SELECT 'x' FROM 'a'", "AS name"),
        ("SELECT a AS FROM 'a'", "after AS"),
        ("SELECT a.b[0] FROM 'x'", "unexpected character"),
        ("SELECT * 'a'", "expected FROM"),
        ("DELETE FROM 'a'", "expected SELECT"),
        ("", "expected SELECT"),
    ],
)
def test_unsupported_sql_fails_at_compile_time(sql: str, message: str) -> None:
    with pytest.raises(RuleSqlError, match=re.escape(message)):
        compile_sql(sql)


def test_rule_sql_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        compile_sql("SELECT foo(")


def test_compiled_rule_is_reusable_and_keeps_its_sql() -> None:
    sql = "SELECT a FROM 'city/#' WHERE a > 1"
    rule = compile_sql(sql)
    assert rule.sql == sql
    assert rule.topic_filter == "city/#"
    outs = [
        evaluate(rule, "city/x", json.dumps({"a": n}).encode(), client_id="c", now_ms=0)
        for n in (0, 2, 3)
    ]
    assert outs == [None, {"a": 2}, {"a": 3}]
