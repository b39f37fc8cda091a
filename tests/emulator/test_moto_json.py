"""infra/local/moto_json.py: DynamoDB's and DynamoDB Streams' answers written as JSON are
exactly what moto's own serializer answers, on every operation the backend uses and records
of every attribute type; and moto's internals under it are the ones it was written for."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from functools import partial
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.dynamodb.responses import DynamoHandler

from infra.local import moto_json

REGION = "ap-northeast-2"
LOCAL = Config(account_id_endpoint_mode="disabled")  # moto's hosts for DynamoDB and streams
ODD_KEY = 'citizen#ü-김해 "quoted" \\ slash 🌱'


def test_moto_internals_are_the_ones_the_patch_was_written_for() -> None:
    problems = moto_json.check()
    assert not problems, (
        "moto changed under infra/local/moto_json.py. Until revisited, DynamoDB answers go "
        "through moto's serializer (slower, still correct). To revisit: diff each listed "
        "source against moto 5.2.5; check that the serializer still picks a dict's value by "
        "its member name and leaves None members out, then record the new digests "
        "(moto_pins.source_digest) in EXPECTED_SOURCES.\n  " + "\n  ".join(problems)
    )


@pytest.fixture(autouse=True)
def _restored() -> Iterator[None]:
    yield
    moto_json.uninstall()


def _tables(dynamodb: Any) -> None:
    dynamodb.create_table(
        TableName="things",
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
            {"AttributeName": "group", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-group",
                "KeySchema": [
                    {"AttributeName": "group", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )


RICH_ITEM = {
    "pk": ODD_KEY,
    "sk": 1,
    "group": "g",
    "balance": Decimal("12345678901234567890.5"),
    "negative": -3,
    "flag": True,
    "off": False,
    "nothing": None,
    "empty": "",
    "names": {"a", "b"},
    "numbers": {Decimal(1), Decimal("2.5")},
    "nested": {"list": [1, "two", {"three": [None, True]}], "map": {}},
    "items": [],
    "emoji": "🌱♻️",
}


def _data_plane(table: Any, client: Any) -> list[Any]:
    """What the backend's own calls answer, in order (errors by code and message)."""
    answers: list[Any] = []

    def record(call: Callable[[], Any]) -> None:
        try:
            answer = call()
        except ClientError as e:
            answer = {"error": e.response["Error"], "extra": sorted(e.response)}
            answer["reasons"] = e.response.get("CancellationReasons")
        if isinstance(answer, dict):
            answer.pop("ResponseMetadata", None)
        answers.append(answer)

    total = {"ReturnConsumedCapacity": "TOTAL"}
    key = {"pk": ODD_KEY, "sk": 1}
    record(lambda: table.put_item(Item=RICH_ITEM, ReturnValues="ALL_OLD", **total))
    record(lambda: table.put_item(Item={**RICH_ITEM, "flag": False}, ReturnValues="ALL_OLD"))
    record(lambda: table.get_item(Key=key, **total))
    record(lambda: table.get_item(Key={"pk": "missing", "sk": 0}))
    record(
        lambda: table.get_item(
            Key=key,
            ProjectionExpression="balance, nested.#l[2]",
            ExpressionAttributeNames={"#l": "list"},
        )
    )
    for n in range(2, 6):
        record(partial(table.put_item, Item={"pk": "p", "sk": n, "group": "g", "v": n}))
    record(
        lambda: table.update_item(
            Key=key,
            UpdateExpression="SET balance = balance + :d, #n.#m.added = :m REMOVE nothing",
            ExpressionAttributeNames={"#n": "nested", "#m": "map"},
            ExpressionAttributeValues={":d": 1, ":m": {"deep": ["x"]}},
            ReturnValues="ALL_NEW",
            ReturnConsumedCapacity="INDEXES",
        )
    )
    record(
        lambda: table.update_item(
            Key={"pk": "p", "sk": 2},
            UpdateExpression="ADD v :one",
            ExpressionAttributeValues={":one": 1},
            ReturnValues="UPDATED_OLD",
        )
    )
    record(
        lambda: table.update_item(
            Key={"pk": "p", "sk": 3},
            UpdateExpression="SET w = :w",
            ExpressionAttributeValues={":w": "x"},
            ReturnValues="NONE",
        )
    )
    record(
        lambda: table.put_item(
            Item={"pk": "p", "sk": 2}, ConditionExpression="attribute_not_exists(pk)"
        )
    )
    record(
        lambda: table.query(
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": "p"},
            Limit=2,
            **total,
        )
    )
    record(
        lambda: table.query(
            IndexName="by-group",
            KeyConditionExpression="#g = :g",
            ExpressionAttributeNames={"#g": "group"},
            ExpressionAttributeValues={":g": "g"},
            ScanIndexForward=False,
            ExclusiveStartKey={"pk": "p", "sk": 5, "group": "g"},
        )
    )
    record(
        lambda: table.query(
            KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": "p"}, Select="COUNT"
        )
    )
    record(lambda: table.scan(Limit=3))
    transact = [
        {
            "Put": {
                "TableName": "things",
                "Item": {"pk": {"S": "t"}, "sk": {"N": "1"}},
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        },
        {
            "Update": {
                "TableName": "things",
                "Key": {"pk": {"S": "p"}, "sk": {"N": "4"}},
                "UpdateExpression": "ADD v :one",
                "ExpressionAttributeValues": {":one": {"N": "1"}},
            }
        },
        {
            "ConditionCheck": {
                "TableName": "things",
                "Key": {"pk": {"S": "p"}, "sk": {"N": "5"}},
                "ConditionExpression": "attribute_exists(pk)",
            }
        },
    ]
    record(
        lambda: client.transact_write_items(TransactItems=transact, ReturnConsumedCapacity="TOTAL")
    )
    record(lambda: client.transact_write_items(TransactItems=transact))  # the Put's condition fails
    record(
        lambda: client.batch_get_item(
            RequestItems={
                "things": {
                    "Keys": [
                        {"pk": {"S": ODD_KEY}, "sk": {"N": "1"}},
                        {"pk": {"S": "p"}, "sk": {"N": "2"}},
                        {"pk": {"S": "none"}, "sk": {"N": "9"}},
                    ]
                }
            },
            ReturnConsumedCapacity="TOTAL",
        )
    )
    record(
        lambda: client.batch_write_item(
            RequestItems={
                "things": [
                    {
                        "PutRequest": {
                            "Item": {"pk": {"S": "b"}, "sk": {"N": "1"}, "bin": {"B": b"\x00\xff"}}
                        }
                    },
                    {"DeleteRequest": {"Key": {"pk": {"S": "p"}, "sk": {"N": "3"}}}},
                ]
            }
        )
    )
    record(lambda: table.get_item(Key={"pk": "b", "sk": 1}))
    record(lambda: table.delete_item(Key={"pk": "p", "sk": 5}, ReturnValues="ALL_OLD"))
    record(
        lambda: table.delete_item(
            Key={"pk": "p", "sk": 4},
            ConditionExpression="v = :x",
            ExpressionAttributeValues={":x": 100},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    )
    record(lambda: client.get_item(TableName="no-such-table", Key={"pk": {"S": "x"}}))
    return answers


def _run_data_plane(patched: bool) -> list[Any]:
    if patched:
        moto_json.install()
        assert moto_json.installed()
    with mock_aws():
        dynamodb = boto3.resource("dynamodb", region_name=REGION, config=LOCAL)
        _tables(dynamodb)
        client = boto3.client("dynamodb", region_name=REGION, config=LOCAL)
        answers = _data_plane(dynamodb.Table("things"), client)
    moto_json.uninstall()
    return answers


def test_every_data_plane_answer_is_moto_s_own() -> None:
    moto = _run_data_plane(patched=False)
    ours = _run_data_plane(patched=True)
    assert len(ours) == len(moto)
    for n, (mine, theirs) in enumerate(zip(ours, moto, strict=True)):
        assert mine == theirs, f"answer {n}"
    assert ours[2]["Item"]["nested"] == {"list": [1, "two", {"three": [None, True]}], "map": {}}


def test_plain_answers_skip_the_serializer_and_the_rest_fall_back() -> None:
    handler = DynamoHandler()
    handler.headers = {"Content-Type": "application/x-amz-json-1.0"}
    handler.response_headers = {"server": "amazon.com"}
    handler.querystring = {}
    handler._get_action = lambda: "GetItem"  # type: ignore[method-assign]
    from moto.core.responses import ActionResult

    status, headers, body = moto_json.answer(handler, ActionResult({"Item": {"a": {"S": "b"}}}))
    assert (status, body) == (200, '{"Item": {"a": {"S": "b"}}}')
    assert headers["Content-Type"] == "application/x-amz-json-1.0"
    unplain: object
    for unplain in ({"Item": {"a": object()}}, {"Item": {}, "item": {}}, ValueError("x")):
        assert moto_json.answer(handler, ActionResult(unplain)) is None


@pytest.fixture
def streams() -> Iterator[tuple[Any, Any, str]]:
    with mock_aws():
        dynamodb = boto3.resource("dynamodb", region_name=REGION, config=LOCAL)
        _tables(dynamodb)
        table = dynamodb.Table("things")
        client = boto3.client("dynamodbstreams", region_name=REGION, config=LOCAL)
        yield table, client, table.latest_stream_arn


def _records(client: Any, stream_arn: str, limit: int | None = None) -> dict[str, Any]:
    shard = client.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]
    iterator = client.get_shard_iterator(
        StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    answer = client.get_records(ShardIterator=iterator, **({"Limit": limit} if limit else {}))
    answer.pop("ResponseMetadata")
    answer.pop("NextShardIterator")  # a new iterator per call
    return dict(answer)


def _both(call: Callable[[], Any]) -> tuple[Any, Any]:
    """The same read on the same state, through moto's serializer and through ours."""
    moto_json.uninstall()
    moto = call()
    moto_json.install()
    assert moto_json.installed()
    return moto, call()


def test_stream_records_of_every_attribute_type_come_back_as_moto_answers_them(
    streams: Any,
) -> None:
    table, client, stream_arn = streams
    assert _both(lambda: _records(client, stream_arn)) == ({"Records": []}, {"Records": []})
    table.put_item(Item=RICH_ITEM)
    table.update_item(
        Key={"pk": ODD_KEY, "sk": 1},
        UpdateExpression="SET balance = balance + :d REMOVE nothing",
        ExpressionAttributeValues={":d": 1},
    )
    table.put_item(Item={"pk": "blob", "sk": 2, "data": b"\x00\xffbytes", "set": {b"a", b"b"}})
    table.delete_item(Key={"pk": "blob", "sk": 2})
    moto, ours = _both(lambda: _records(client, stream_arn))
    names = [r["eventName"] for r in ours["Records"]]
    assert names == ["INSERT", "MODIFY", "INSERT", "REMOVE"]
    assert ours == moto
    assert _both(lambda: _records(client, stream_arn, limit=2)) == (
        {"Records": moto["Records"][:2]},
        {"Records": moto["Records"][:2]},
    )


def test_table_and_stream_descriptions_come_back_as_moto_answers_them(streams: Any) -> None:
    table, client, stream_arn = streams
    dynamodb = table.meta.client

    def describe() -> tuple[Any, Any]:
        answers = (
            dynamodb.describe_table(TableName="things"),
            client.describe_stream(StreamArn=stream_arn),
        )
        for answer in answers:
            answer.pop("ResponseMetadata")
        return answers

    moto, ours = _both(describe)
    assert ours == moto
    assert ours[0]["Table"]["CreationDateTime"].year >= 2026
