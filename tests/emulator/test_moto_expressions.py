"""infra/local/moto_expressions.py: moto's DynamoDB expression handling, cached and walked
faster. The first test pins the moto internals the patch replaces or relies on; the others
prove the results are moto's own (items, ConditionalCheckFailed outcomes, validation errors,
cancellation reasons), run on moto's own code and on the patch in the same process."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.dynamodb.comparisons import ConditionExpressionParser, get_filter_expression
from moto.dynamodb.models.dynamo_type import Item
from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser, Node
from moto.dynamodb.parsing.expressions import UpdateExpressionParser
from moto.dynamodb.parsing.validators import Validator

from infra.local import moto_expressions

REGION = "ap-northeast-2"


def test_moto_internals_are_the_ones_the_patch_was_written_for() -> None:
    problems = moto_expressions.check()
    assert not problems, (
        "moto changed under infra/local/moto_expressions.py, which caches parsed DynamoDB "
        "update and condition expressions, replaces copy.deepcopy in Validator.__init__ by a "
        "structural copy, skips the pure checks (ActionCount, OverlappingPaths, "
        "UpdateHashRangeKey) once passed, and walks DepthFirstTraverser with the processor map "
        "read once. Until revisited, install() patches nothing (moto's own, slower code runs). "
        "To revisit: diff the new moto source of each module/function listed below against "
        "moto 5.2.5's; check that (1) UpdateExpressionParser.make and "
        "ConditionExpressionParser's lexing/parsing are still pure functions of their inputs, "
        "(2) no caller mutates the tree `make` returns or a condition `parse` returns, "
        "(3) Validator.__init__ is still the body copied in _validator_init and "
        "UpdateExpressionValidator.get_ast_processors still starts with the three pure checks, "
        "(4) DepthFirstTraverser.traverse_node_recursively is still the walk copied in "
        "_traverse and every validator's _processing_map is a constant; port any change, then "
        "record the new digests from moto_expressions.source_hashes() in EXPECTED_SOURCES "
        "and rerun this file.\n  " + "\n  ".join(problems)
    )


def test_install_is_idempotent_and_uninstall_restores_moto() -> None:
    moto_expressions.install()
    moto_expressions.install()
    assert moto_expressions.installed()
    assert Validator.__init__ is moto_expressions._validator_init
    assert DepthFirstTraverser.traverse is moto_expressions._traverse
    moto_expressions.uninstall()
    try:
        assert not moto_expressions.installed()
        assert Validator.__init__ is moto_expressions._ORIGINAL_VALIDATOR_INIT
        assert DepthFirstTraverser.traverse is moto_expressions._ORIGINAL_TRAVERSE
        assert ConditionExpressionParser.parse is moto_expressions._ORIGINAL_PARSE
        assert vars(UpdateExpressionParser)["make"] is moto_expressions._ORIGINAL_MAKE
    finally:
        moto_expressions.install()
    assert moto_expressions.installed()


@pytest.fixture
def stock_moto() -> Iterator[None]:
    """moto's own expression handling, for comparison; the patch is put back afterwards."""
    moto_expressions.uninstall()
    try:
        yield
    finally:
        moto_expressions.install()


# --- one scenario, run on moto's own code and on the patch ----------------------------------


def _s(v: str) -> dict[str, str]:
    return {"S": v}


def _n(v: int | str) -> dict[str, str]:
    return {"N": str(v)}


def _outcome(call: Any, **kwargs: Any) -> Any:
    try:
        out = call(**kwargs)
    except ClientError as e:
        error = e.response["Error"]
        reasons = [
            (r.get("Code"), r.get("Message"), r.get("Item"))
            for r in e.response.get("CancellationReasons", [])
        ]
        return ("error", error.get("Code"), error.get("Message"), reasons)
    except Exception as e:  # moto's own bugs (a KeyError...) surface as they are
        return ("raised", type(e).__name__, str(e))
    out.pop("ResponseMetadata", None)
    return ("ok", out)


def _scenario() -> list[Any]:
    """Updates, conditions and errors, each expression string used with several values and
    names; returns every outcome and the table's items along the way."""
    ddb = boto3.client("dynamodb", region_name=REGION)
    ddb.create_table(
        TableName="t",
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    out: list[Any] = []

    def items() -> list[Any]:
        found = ddb.scan(TableName="t", ConsistentRead=True)["Items"]
        return sorted(found, key=lambda i: (i["pk"]["S"], i["sk"]["S"]))

    def update(key: str, expression: str, names: Any = None, values: Any = None, **kw: Any) -> None:
        args: dict[str, Any] = {
            "TableName": "t",
            "Key": {"pk": _s(key), "sk": _s("0")},
            "UpdateExpression": expression,
            "ReturnValues": "ALL_NEW",
            **kw,
        }
        if names is not None:
            args["ExpressionAttributeNames"] = names
        if values is not None:
            args["ExpressionAttributeValues"] = values
        out.append((expression, _outcome(ddb.update_item, **args)))

    account = "SET #0 = :0, #1 = if_not_exists(#1, :1) ADD #2 :2, #3 :3 REMOVE #4"
    account_names = {"#0": "updated", "#1": "created", "#2": "balance", "#3": "n", "#4": "gone"}
    for round_ in range(3):  # the same strings again: the caches answer from round 1 on
        for i in range(3):
            args_names = {**account_names, "#5": "balance"}
            update(
                f"a{i}",
                account,
                args_names,
                {
                    ":0": _s(f"t{round_}{i}"),
                    ":1": _s(f"c{round_}"),
                    ":2": _n(10 + i),
                    ":3": _n(1),
                    ":4": _n(25),
                },
                ConditionExpression="attribute_not_exists(#5) OR #5 < :4",
            )
        update(
            "list",
            "SET #l = list_append(if_not_exists(#l, :empty), :v), #m.#k = :v",
            {"#l": "l", "#m": "m", "#k": f"k{round_}"},
            {":empty": {"L": []}, ":v": {"L": [_n(round_), _s("x")]}},
        ) if round_ else update(
            "list",
            "SET #l = list_append(if_not_exists(#l, :empty), :v), #m = :m",
            {"#l": "l", "#m": "m"},
            {":empty": {"L": []}, ":v": {"L": [_n(round_)]}, ":m": {"M": {"k": _s("v")}}},
        )
        update(
            "math",
            "SET a = if_not_exists(a, :z) + :d, b = :d - if_not_exists(b, :z)",
            values={":z": _n(0), ":d": _n(round_ + 1)},
        )
        update("math", "SET l2 = :l", values={":l": {"L": [_n(1), _n(2), _n(3), _n(4)]}})
        update("math", "REMOVE l2[0], l2[2]")
        update("math", "SET l2[1] = :x, l2[9] = :y", values={":x": _s("one"), ":y": _s("end")})
        update(
            "set",
            "ADD ss :s DELETE ss :d",
            values={":s": {"SS": ["a", "b", f"r{round_}"]}, ":d": {"SS": ["a"]}},
        )
        update("set", "ADD ns :s", values={":s": {"NS": ["1", str(round_)]}})
        update("nested", "SET #a.#b.#c = :v", {"#a": "a", "#b": "b", "#c": "c"}, {":v": _n(1)})
        update("nested", "SET #a = :m", {"#a": "a"}, {":m": {"M": {"b": {"M": {}}}}})
        update("nested", "SET #a.#b.#c = :v", {"#a": "a", "#b": "b", "#c": "c"}, {":v": _n(round_)})
        update(
            "cond",
            "SET v = :v",
            values={":v": _n(round_), ":old": _n(round_ - 1)},
            ConditionExpression="attribute_not_exists(v) OR v = :old",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
        update(
            "cond",
            "SET v = :v",
            values={":v": _n(99), ":old": _n(-5)},
            ConditionExpression="attribute_not_exists(v) OR v = :old",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
        update(
            "cond",
            "SET w = :w",
            values={":w": _s("x"), ":lo": _n(0), ":hi": _n(1), ":p": _s("p")},
            ConditionExpression="(v BETWEEN :lo AND :hi) AND NOT begins_with(pk, :p) "
            "AND size(pk) > :lo AND v IN (:lo, :hi) AND contains(pk, :p)",
        )
        # errors, each twice per round: the cached parse must raise as moto does
        for _ in range(2):
            update("err", "SET a = :a,, b = :b", values={":a": _n(1), ":b": _n(2)})
            update("err", "SET a = :a", values={":b": _n(1)})
            update("err", "SET #a = :a", {"#b": "a"}, {":a": _n(1)})
            update("err", "SET #0 = :0", {"#0": "pk"}, {":0": _s("x")})
            update("err", "SET #0 = :0", {"#0": "free"}, {":0": _s("x")})  # same string, fine
            update("err", "SET #0 = :0", {"#0": "sk"}, {":0": _s("x")})  # same string, a key
            update("err", "SET a.b = :a, a = :a", values={":a": _n(1)})
            update(
                "err", "SET #0 = :0, #1 = :1", {"#0": "x", "#1": "x"}, {":0": _n(1), ":1": _n(1)}
            )
            update("err", "SET a = :a SET b = :a", values={":a": _n(1)})
            update("err", "SET l = list_append(nope, :a)", values={":a": {"L": []}})
            update("err", "SET a = :a + :b", values={":a": _s("x"), ":b": _n(1)})
            update("err", "SET a = nope + :b", values={":b": _n(1)})
            update("err", "SET size = :a", values={":a": _n(1)})
            update("err", "REMOVE nope.deeper")
            update("err", "SET a = :a", values={":a": _n(1)}, ConditionExpression="a = :missing")
            update("err", "SET a = :a", values={":a": _n(1)}, ConditionExpression="a = = :a")
            update("err", "SET a = :a", values={":a": _n(1)}, ConditionExpression="((a = :a))")
            update("err", "SET a = :a", values={":a": _n(1)}, ConditionExpression="#x = :a")
            update(
                "err",
                "SET a = :a",
                values={":a": _n(1), ":n": {"NULL": True}},
                ConditionExpression="a BETWEEN :n AND :a",
            )
        out.append(("items", items()))

    # puts, deletes and a transaction with conditions, repeated
    for round_ in range(3):
        for key in ("p1", "p2"):
            out.append(
                (
                    "put",
                    _outcome(
                        ddb.put_item,
                        TableName="t",
                        Item={"pk": _s(key), "sk": _s("0"), "r": _n(round_)},
                        ConditionExpression="attribute_not_exists(#pk)",
                        ExpressionAttributeNames={"#pk": "pk"},
                    ),
                )
            )
        out.append(
            (
                "delete",
                _outcome(
                    ddb.delete_item,
                    TableName="t",
                    Key={"pk": _s("p2"), "sk": _s("0")},
                    ConditionExpression="r = :r",
                    ExpressionAttributeValues={":r": _n(round_)},
                ),
            )
        )
        out.append(
            (
                "tx",
                _outcome(
                    ddb.transact_write_items,
                    TransactItems=[
                        {
                            "Update": {
                                "TableName": "t",
                                "Key": {"pk": _s("a0"), "sk": _s("0")},
                                "UpdateExpression": account,
                                "ExpressionAttributeNames": account_names,
                                "ExpressionAttributeValues": {
                                    ":0": _s("tx"),
                                    ":1": _s("tx"),
                                    ":2": _n(5),
                                    ":3": _n(1),
                                },
                            }
                        },
                        {
                            "Update": {
                                "TableName": "t",
                                "Key": {"pk": _s("cond"), "sk": _s("0")},
                                "UpdateExpression": "SET v = :v",
                                "ConditionExpression": "attribute_not_exists(v) OR v = :old",
                                "ExpressionAttributeValues": {
                                    ":v": _n(10 + round_),
                                    ":old": _n(round_ + 1),
                                },
                            }
                        },
                        {
                            "Put": {
                                "TableName": "t",
                                "Item": {"pk": _s(f"tp{round_ % 2}"), "sk": _s("0")},
                                "ConditionExpression": "attribute_not_exists(pk)",
                            }
                        },
                        {
                            "ConditionCheck": {
                                "TableName": "t",
                                "Key": {"pk": _s("p1"), "sk": _s("0")},
                                "ConditionExpression": "attribute_exists(pk)",
                            }
                        },
                    ],
                ),
            )
        )
        out.append(("items", items()))
    return out


def test_same_items_conditions_and_errors_as_moto_own(stock_moto: None) -> None:
    with mock_aws():
        stock = _scenario()
    moto_expressions.install()
    moto_expressions.clear_caches()
    with mock_aws():
        patched = _scenario()
    assert len(patched) == len(stock)
    for got, expected in zip(patched, stock, strict=True):
        assert got == expected
    # the scenario did exercise what it claims to compare
    outcomes = [o for _, o in stock if isinstance(o, tuple)]
    codes = {o[1] for o in outcomes if o[0] == "error"}
    assert {"ValidationException", "ConditionalCheckFailedException"} <= codes
    assert "TransactionCanceledException" in codes
    assert sum(1 for o in outcomes if o[0] == "ok") > 40
    assert moto_expressions._UPDATE_TREES and moto_expressions._CONDITIONS


def test_cached_trees_are_never_changed() -> None:
    moto_expressions.clear_caches()
    with mock_aws():
        _scenario()
    cached = dict(moto_expressions._UPDATE_TREES)
    assert len(cached) > 10
    moto_expressions.uninstall()
    try:
        for expression, entry in cached.items():
            assert _dump(entry.tree) == _dump(UpdateExpressionParser.make(expression)), expression
    finally:
        moto_expressions.install()


# --- the pieces -----------------------------------------------------------------------------


def _dump(root: Any) -> Any:
    """The graph's shape: types, attributes, atoms, and which object each reference is."""
    seen: dict[int, int] = {}
    out: list[Any] = []

    def ref(obj: Any) -> Any:
        if isinstance(obj, (Node, list)):
            if id(obj) not in seen:
                seen[id(obj)] = len(seen)
                if isinstance(obj, list):
                    out.append(("list", seen[id(obj)], [ref(x) for x in obj]))
                else:
                    out.append(
                        (
                            type(obj).__name__,
                            seen[id(obj)],
                            {k: ref(v) for k, v in vars(obj).items()},
                        )
                    )
            return ("ref", seen[id(obj)])
        return (type(obj).__name__, repr(obj))

    ref(root)
    return out


def _objects(root: Any) -> list[Any]:
    seen: dict[int, Any] = {}

    def visit(obj: Any) -> None:
        if isinstance(obj, (Node, list)) and id(obj) not in seen:
            seen[id(obj)] = obj
            for value in obj if isinstance(obj, list) else vars(obj).values():
                visit(value)

    visit(root)
    return list(seen.values())


EXPRESSIONS = [
    "SET a = :a",
    "SET #0 = :0, #1 = if_not_exists(#1, :1) ADD #2 :2, #3 :3 REMOVE #4",
    "SET l = list_append(if_not_exists(l, :e), :v), m.k[3].x = :v REMOVE a[1], a[0]",
    "SET a = b + :c, d = e - :f DELETE s :s",
]


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_structural_copy_is_deepcopy(expression: str) -> None:
    tree = UpdateExpressionParser.make(expression)
    mine = moto_expressions._copy_tree(tree)
    assert _dump(mine) == _dump(copy.deepcopy(tree)) == _dump(tree)
    assert mine is not tree
    planned = moto_expressions._Tree(tree).copy()  # the cached trees' copy
    assert _dump(planned) == _dump(tree)
    assert planned is not tree
    assert not ({id(o) for o in _objects(planned)} & {id(o) for o in _objects(tree)})
    # a graph with something else in it is deep-copied by copy.deepcopy
    odd = copy.deepcopy(tree)
    odd.children.append({"not": "plain"})
    assert not moto_expressions._plain(odd)
    assert _dump(moto_expressions._copy_tree(odd)) == _dump(copy.deepcopy(odd))


def test_parse_returns_one_tree_per_string_and_errors_every_time() -> None:
    moto_expressions.clear_caches()
    first = UpdateExpressionParser.make("SET a = :a")
    assert UpdateExpressionParser.make("SET a = :a") is first
    for _ in range(2):
        with pytest.raises(Exception) as raised:
            UpdateExpressionParser.make("SET a = = :a")
        assert "Invalid UpdateExpression" in str(raised.value)


def test_condition_cache_keeps_no_reference_to_a_request() -> None:
    moto_expressions.clear_caches()
    values = {":v": {"L": [{"S": "x"}]}}
    item = Item(_s("k"), None, attrs={"pk": _s("k"), "l": {"L": [{"S": "x"}]}})
    op = get_filter_expression("l = :v", None, values)
    assert op.expr(item)
    values[":v"]["L"].append({"S": "y"})  # a caller reusing its dict
    assert get_filter_expression("l = :v", None, {":v": {"L": [{"S": "x"}]}}).expr(item)
    assert not get_filter_expression("l = :v", None, values).expr(item)
    # the names and values found are reported as moto's parser reports them
    parser = ConditionExpressionParser(
        "#a = :v AND attribute_exists(#b)", {"#a": "l", "#b": "m"}, values
    )
    parser.parse()
    again = ConditionExpressionParser(
        "#a = :v AND attribute_exists(#b)", {"#a": "l", "#b": "m"}, values
    )
    again.parse()
    assert again.expr_attr_names_found == parser.expr_attr_names_found == ["#a", "#b"]
    assert again.expr_attr_values_found == parser.expr_attr_values_found == [":v"]
