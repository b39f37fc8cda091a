"""infra/local/moto_transactions.py: moto's TransactWriteItems with rollback by key and one
request lock. The first test pins the moto internals the patch copies or relies on; the others
prove the semantics (against moto's own implementation) and the concurrency."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.dynamodb.models import DynamoDBBackend

from infra.local import moto_transactions

REGION = "ap-northeast-2"


def test_moto_internals_are_the_ones_the_patch_was_written_for() -> None:
    problems = moto_transactions.check()
    assert not problems, (
        "moto changed under infra/local/moto_transactions.py, which copies moto's "
        "DynamoDBBackend.transact_write_items and assumes a transaction changes nothing but "
        "Table.items and Table.stream_shard.items. Until revisited, install() keeps moto's own "
        "slow transaction. To revisit: diff the new moto source of each function listed below "
        "against the one the module was written for (moto 5.2.5); port the changes into "
        "moto_transactions.transact_write_items; check that Table.put_item/delete_item, "
        "DynamoDBBackend.update_item and StreamShard.add still write only those two places; "
        "then record the new digests from moto_transactions.source_hashes() in "
        "EXPECTED_SOURCES and rerun this file.\n  " + "\n  ".join(problems)
    )


def test_install_is_idempotent_and_patches_where_requests_go() -> None:
    moto_transactions.install()
    moto_transactions.install()
    assert moto_transactions.installed()
    patched = DynamoDBBackend.transact_write_items
    assert getattr(patched, "__wrapped__", None) is moto_transactions.transact_write_items
    assert not hasattr(moto_transactions.transact_write_items, "__wrapped__")  # wrapped once


@pytest.fixture
def stock_moto() -> Iterator[None]:
    """moto's own transaction, for comparison; the patch is put back afterwards."""
    moto_transactions.uninstall()
    assert DynamoDBBackend.transact_write_items.__qualname__.startswith("DynamoDBBackend.")
    try:
        yield
    finally:
        moto_transactions.install()


# --- one scenario, run on moto's own transaction and on the patch --------------------------


def _create(ddb: Any, name: str, range_key: bool) -> None:
    schema = [{"AttributeName": "pk", "KeyType": "HASH"}]
    attrs = [{"AttributeName": "pk", "AttributeType": "S"}]
    if range_key:
        schema.append({"AttributeName": "sk", "KeyType": "RANGE"})
        attrs.append({"AttributeName": "sk", "AttributeType": "S"})
    ddb.create_table(
        TableName=name,
        KeySchema=schema,
        AttributeDefinitions=attrs,
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )


def _state(ddb: Any) -> dict[str, Any]:
    return {
        name: sorted(
            ddb.scan(TableName=name, ConsistentRead=True)["Items"],
            key=lambda i: (i["pk"]["S"], i.get("sk", {}).get("S", "")),
        )
        for name in ("flat", "ranged")
    }


def _iterator(ddb: Any, streams: Any, table: str) -> str:
    arn = ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    return str(
        streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="LATEST")[
            "ShardIterator"
        ]
    )


def _records(streams: Any, iterator: str) -> tuple[list[tuple[str, Any]], str]:
    out = streams.get_records(ShardIterator=iterator)
    found = [(r["eventName"], r["dynamodb"]["Keys"]) for r in out["Records"]]
    return found, str(out["NextShardIterator"])


def _s(v: str) -> dict[str, str]:
    return {"S": v}


def _scenario() -> dict[str, Any]:
    """Seed two streamed tables, cancel a transaction that touched everything, commit one."""
    ddb = boto3.client("dynamodb", region_name=REGION)
    streams = boto3.client(
        "dynamodbstreams", region_name=REGION, config=Config(account_id_endpoint_mode="disabled")
    )
    _create(ddb, "flat", range_key=False)
    _create(ddb, "ranged", range_key=True)
    ddb.put_item(TableName="flat", Item={"pk": _s("counter"), "n": {"N": "5"}})
    ddb.put_item(TableName="flat", Item={"pk": _s("doomed"), "v": _s("kept")})
    ddb.put_item(TableName="ranged", Item={"pk": _s("a"), "sk": _s("1"), "v": _s("x")})
    before = _state(ddb)
    iterators = {t: _iterator(ddb, streams, t) for t in ("flat", "ranged")}

    cancelled_items = [
        {"Put": {"TableName": "flat", "Item": {"pk": _s("new"), "v": _s("y")}}},
        {
            "Update": {
                "TableName": "flat",
                "Key": {"pk": _s("counter")},
                "UpdateExpression": "ADD n :one",
                "ExpressionAttributeValues": {":one": {"N": "1"}},
            }
        },
        {"Delete": {"TableName": "flat", "Key": {"pk": _s("doomed")}}},
        {"Put": {"TableName": "ranged", "Item": {"pk": _s("b"), "sk": _s("1")}}},
        {
            "Update": {
                "TableName": "ranged",
                "Key": {"pk": _s("a"), "sk": _s("1")},
                "UpdateExpression": "SET v = :v",
                "ExpressionAttributeValues": {":v": _s("changed")},
            }
        },
        {
            "ConditionCheck": {
                "TableName": "ranged",
                "Key": {"pk": _s("a"), "sk": _s("2")},
                "ConditionExpression": "attribute_exists(pk)",
            }
        },
    ]
    with pytest.raises(ClientError) as cancelled:
        ddb.transact_write_items(TransactItems=cancelled_items)
    after_cancel = _state(ddb)
    stream_after_cancel = {}
    for table in iterators:
        stream_after_cancel[table], iterators[table] = _records(streams, iterators[table])

    # A validation error half-way (a key of the wrong type) rolls back what ran before it.
    with pytest.raises(ClientError) as invalid:
        ddb.transact_write_items(
            TransactItems=[
                cancelled_items[1],
                {"Put": {"TableName": "flat", "Item": {"pk": {"N": "7"}}}},
            ]
        )
    after_invalid = _state(ddb)

    ddb.transact_write_items(TransactItems=cancelled_items[:5])
    committed = _state(ddb)
    stream_after_commit = {}
    for table in iterators:
        stream_after_commit[table], iterators[table] = _records(streams, iterators[table])
    return {
        "before": before,
        "after_cancel": after_cancel,
        "after_invalid": after_invalid,
        "reasons": [r["Code"] for r in cancelled.value.response["CancellationReasons"]],
        "invalid": invalid.value.response["Error"]["Code"],
        "stream_after_cancel": stream_after_cancel,
        "committed": committed,
        "stream_after_commit": stream_after_commit,
    }


def test_cancelled_transaction_leaves_items_and_stream_as_they_were() -> None:
    moto_transactions.install()
    with mock_aws():
        got = _scenario()
    assert got["reasons"] == ["None", "None", "None", "None", "None", "ConditionalCheckFailed"]
    assert got["after_cancel"] == got["before"]
    assert got["stream_after_cancel"] == {"flat": [], "ranged": []}
    assert got["invalid"] == "ValidationException"
    assert got["after_invalid"] == got["before"]
    flat = {i["pk"]["S"]: i for i in got["committed"]["flat"]}
    assert set(flat) == {"counter", "new"}
    assert flat["counter"]["n"] == {"N": "6"}
    ranged = {(i["pk"]["S"], i["sk"]["S"]): i for i in got["committed"]["ranged"]}
    assert set(ranged) == {("a", "1"), ("b", "1")}
    assert ranged[("a", "1")]["v"] == _s("changed")
    # The iterators opened before the cancelled transaction see the committed one, only.
    assert [e for e, _ in got["stream_after_commit"]["flat"]] == ["INSERT", "MODIFY", "REMOVE"]
    assert [e for e, _ in got["stream_after_commit"]["ranged"]] == ["INSERT", "MODIFY"]


def test_same_outcomes_as_moto_own_transaction(stock_moto: None) -> None:
    with mock_aws():
        stock = _scenario()
    moto_transactions.install()
    with mock_aws():
        patched = _scenario()
    for key in ("before", "after_cancel", "reasons", "invalid", "after_invalid", "committed"):
        assert patched[key] == stock[key], key


def test_moto_own_rollback_detaches_open_stream_iterators(stock_moto: None) -> None:
    """Why the patch restores in place: moto swaps in copied tables, so an iterator opened
    before a cancelled transaction never sees a later write (and sees the cancelled ones)."""
    with mock_aws():
        stock = _scenario()
    assert stock["stream_after_commit"]["flat"] == []  # the committed writes are invisible
    assert stock["stream_after_cancel"]["flat"] != []  # the cancelled ones are not


# --- concurrency, on moto server ---------------------------------------------------------


def test_racing_transactions_on_moto_server_all_answer_and_count_exactly() -> None:
    from moto.server import ThreadedMotoServer

    moto_transactions.install()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        config = Config(retries={"total_max_attempts": 1}, max_pool_connections=32)
        session = boto3.session.Session(region_name=REGION)
        endpoint = f"http://{host}:{port}"
        ddb = session.client("dynamodb", endpoint_url=endpoint, config=config)
        table = f"race-{uuid.uuid4().hex[:8]}"
        ddb.create_table(
            TableName=table,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
        )
        for n in range(300):  # enough rows that a whole-table copy races with writers
            ddb.put_item(TableName=table, Item={"pk": _s(f"filler-{n}")})
        ddb.put_item(TableName=table, Item={"pk": _s("counter"), "n": {"N": "0"}})

        threads, per_thread, claims = 8, 12, 10
        outcomes: list[str] = []
        errors: list[str] = []
        lock = threading.Lock()

        def worker(w: int) -> None:
            client = session.client("dynamodb", endpoint_url=endpoint, config=config)
            for i in range(per_thread):
                # Every thread competes for the same claims: one winner each.
                claim = f"claim-{(i + w) % claims}"
                try:
                    client.transact_write_items(
                        TransactItems=[
                            {
                                "Put": {
                                    "TableName": table,
                                    "Item": {"pk": _s(claim), "by": _s(f"{w}-{i}")},
                                    "ConditionExpression": "attribute_not_exists(pk)",
                                }
                            },
                            {
                                "Update": {
                                    "TableName": table,
                                    "Key": {"pk": _s("counter")},
                                    "UpdateExpression": "ADD n :one",
                                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                                }
                            },
                            {"Put": {"TableName": table, "Item": {"pk": _s(f"log-{w}-{i}")}}},
                        ]
                    )
                    outcome = "committed"
                except ClientError as e:
                    code = e.response["Error"]["Code"]
                    status = e.response["ResponseMetadata"]["HTTPStatusCode"]
                    reasons = [r["Code"] for r in e.response.get("CancellationReasons", [])]
                    if code == "TransactionCanceledException" and reasons == [
                        "ConditionalCheckFailed",
                        "None",
                        "None",
                    ]:
                        outcome = "cancelled"
                    else:
                        outcome = "error"
                        with lock:
                            errors.append(f"{status} {code} {reasons}")
                except Exception as e:  # a 500 surfaces here or as a ClientError
                    outcome = "error"
                    with lock:
                        errors.append(repr(e))
                with lock:
                    outcomes.append(outcome)

        pool = [threading.Thread(target=worker, args=(w,)) for w in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join(120)
        assert not errors, errors[:5]
        committed = outcomes.count("committed")
        assert committed == claims  # exactly one winner per claim
        assert outcomes.count("cancelled") == threads * per_thread - claims
        counter = ddb.get_item(TableName=table, Key={"pk": _s("counter")}, ConsistentRead=True)
        assert counter["Item"]["n"] == {"N": str(committed)}
        logs = [i for i in ddb.scan(TableName=table)["Items"] if i["pk"]["S"].startswith("log-")]
        assert len(logs) == committed  # no cancelled transaction left its log entry
    finally:
        server.stop()


def _stream_of_updates(ddb: Any, streams: Any) -> list[tuple[str, Any]]:
    _create(ddb, "ranged", range_key=True)
    iterator = _iterator(ddb, streams, "ranged")
    for value in ("1", "2"):
        ddb.update_item(
            TableName="ranged",
            Key={"pk": _s("a"), "sk": _s("1")},
            UpdateExpression="SET v = :v",
            ExpressionAttributeValues={":v": _s(value)},
        )
    out = streams.get_records(ShardIterator=iterator)["Records"]
    return [(r["eventName"], r["dynamodb"].get("NewImage")) for r in out]


def test_an_update_that_creates_an_item_streams_one_whole_insert() -> None:
    moto_transactions.install()
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name=REGION)
        streams = boto3.client(
            "dynamodbstreams",
            region_name=REGION,
            config=Config(account_id_endpoint_mode="disabled"),
        )
        records = _stream_of_updates(ddb, streams)
    whole = {"pk": _s("a"), "sk": _s("1")}
    assert records == [("INSERT", {**whole, "v": _s("1")}), ("MODIFY", {**whole, "v": _s("2")})]


def test_moto_own_update_streams_the_keys_alone_first(stock_moto: None) -> None:
    """Why the patch exists: a consumer would read a keys-only INSERT that AWS never sends."""
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name=REGION)
        streams = boto3.client(
            "dynamodbstreams",
            region_name=REGION,
            config=Config(account_id_endpoint_mode="disabled"),
        )
        records = _stream_of_updates(ddb, streams)
    assert [event for event, _ in records] == ["INSERT", "INSERT", "MODIFY"]
    assert records[0][1] == {"pk": _s("a"), "sk": _s("1")}
