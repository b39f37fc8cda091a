"""Event sources drive a real Chalice app's handlers with Lambda's semantics, against moto.

A moto server runs in a thread on a free port (the sources poll from their own threads).
Each test uses its own queues/tables, so tests do not see each other's messages.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from chalice import Chalice, Rate
from moto.server import ThreadedMotoServer

from chalicelib import streams
from infra.local.event_sources import event_sources_for_app
from infra.local.lambda_runtime import LambdaContext
from infra.local.scheduler import Scheduler, UnknownScheduleError, request_fire
from infra.local.sqs_source import SqsEventSource
from infra.local.stream_source import DynamoDbStreamEventSource

REGION = "ap-northeast-2"

# --------------------------------------------------------------------------------------
# The tiny Chalice app under test
# --------------------------------------------------------------------------------------

app = Chalice(app_name="t")
_lock = threading.Lock()
SQS_SEEN: list[tuple[str, str]] = []  # (body, ApproximateReceiveCount) per record handled
SQS_EVENTS: list[dict[str, Any]] = []  # every event the SQS handler got
RAISE_BATCHES = [0]  # how many next SQS invocations raise before looking at records
DDB_BATCHES: list[list[tuple[str, str]]] = []  # per invocation: (eventName, value)
DDB_FAILS: dict[str, int] = {}  # value -> how many more times its record fails
DDB_POISON: set[str] = set()  # values for which the stream handler raises (a function error)
SCHEDULE_CALLS: list[dict[str, Any]] = []

sqs_processor = BatchProcessor(event_type=EventType.SQS)
ddb_processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def sqs_record_handler(record: SQSRecord) -> None:
    with _lock:
        SQS_SEEN.append((record.body, record.attributes.approximate_receive_count))
    if record.body == "fail":
        raise ValueError("poison record")


@app.on_sqs_message(queue="work", batch_size=10)
def handle_work(event: Any) -> Any:
    with _lock:
        SQS_EVENTS.append(event.to_dict())
        if RAISE_BATCHES[0] > 0:
            RAISE_BATCHES[0] -= 1
            raise RuntimeError("the whole invocation fails")
    return process_partial_response(
        event=event.to_dict(),
        record_handler=sqs_record_handler,
        processor=sqs_processor,
        context=event.context,
    )


def ddb_record_handler(record: DynamoDBRecord) -> None:
    assert record.dynamodb is not None
    image = record.dynamodb.new_image or {}
    value = str(image.get("v", ""))
    with _lock:
        if DDB_FAILS.get(value, 0) > 0:
            DDB_FAILS[value] -= 1
            raise ValueError(f"record {value} fails")


# Named like the ledger's stream handler, so that its retries, bisect and on-failure queue
# come from chalicelib.streams as they do for the real app.
@app.on_dynamodb_record(
    stream_arn="arn:aws:dynamodb:ap-northeast-2:123456789012:table/things/stream/x",
    name=streams.LEDGER_CHANGES.handler,
)
def handle_things(event: Any) -> Any:
    raw = event.to_dict()
    values = [r["dynamodb"].get("NewImage", {}).get("v", {}).get("S", "") for r in raw["Records"]]
    with _lock:
        DDB_BATCHES.append(
            [(r["eventName"], v) for r, v in zip(raw["Records"], values, strict=True)]
        )
        if DDB_POISON.intersection(values):
            raise RuntimeError("a poison record fails the whole invocation")
    return process_partial_response(
        event=raw,
        record_handler=ddb_record_handler,
        processor=ddb_processor,
        context=event.context,
    )


@app.schedule(Rate(5, unit=Rate.MINUTES))
def tick(event: Any) -> dict[str, Any]:
    with _lock:
        SCHEDULE_CALLS.append(event.to_dict())
    return {"time": event.time}


@app.schedule("cron(0 18 L * ? *)", name="payout")
def payout(event: Any) -> None:
    raise RuntimeError("payout exploded")


APP_MODULE = sys.modules[__name__]

# --------------------------------------------------------------------------------------
# Fixtures and helpers
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def client(endpoint: str, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture(autouse=True)
def reset_app_state() -> None:
    with _lock:
        SQS_SEEN.clear()
        SQS_EVENTS.clear()
        RAISE_BATCHES[0] = 0
        DDB_BATCHES.clear()
        DDB_FAILS.clear()
        DDB_POISON.clear()
        SCHEDULE_CALLS.clear()


def eventually(predicate: Callable[[], bool], timeout: float = 8.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"condition not met within {timeout}s")


def make_queue(
    sqs: Any, *, dlq_arn: str | None = None, max_receive: int = 2, visibility_s: int = 1
) -> tuple[str, str]:
    attributes = {"VisibilityTimeout": str(visibility_s)}
    if dlq_arn:
        attributes["RedrivePolicy"] = (
            f'{{"deadLetterTargetArn": "{dlq_arn}", "maxReceiveCount": "{max_receive}"}}'
        )
    url = sqs.create_queue(QueueName=f"work-{uuid.uuid4().hex[:8]}", Attributes=attributes)[
        "QueueUrl"
    ]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return url, arn


def queue_depth(sqs: Any, url: str) -> int:
    attrs = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(
        attrs["ApproximateNumberOfMessagesNotVisible"]
    )


def sqs_source_for(endpoint: str, url: str, arn: str, tmp_path: Path) -> SqsEventSource:
    sources, _ = event_sources_for_app(
        app,
        APP_MODULE,
        sqs_client=client(endpoint, "sqs"),
        streams_client=client(endpoint, "dynamodbstreams"),
        queue_url_for=lambda name: (url, arn),
        stream_arn_for=lambda arn: arn,
        region=REGION,
        state_dir=tmp_path,
    )
    source = next(s for s in sources if isinstance(s, SqsEventSource))
    assert source.function_name == "t-dev-handle_work"
    return source


def seen(body: str) -> list[str]:
    with _lock:
        return [count for b, count in SQS_SEEN if b == body]


# --------------------------------------------------------------------------------------
# Lambda context
# --------------------------------------------------------------------------------------


def test_lambda_context_is_accepted_by_powertools_logger() -> None:
    # GIVEN a Powertools logger injecting the Lambda context
    log = Logger(service="t")
    seen_ids: list[str] = []

    @log.inject_lambda_context
    def handler(event: dict[str, Any], context: Any) -> str:
        seen_ids.append(context.aws_request_id)
        return "ok"

    # WHEN it is called twice with fresh LambdaContexts
    for _ in range(2):
        assert handler({}, LambdaContext("t-dev-f", region=REGION)) == "ok"

    # THEN each invocation had its own request id, and the context looks like Lambda's
    ctx = LambdaContext("t-dev-f", region=REGION, timeout_s=60)
    assert len(set(seen_ids)) == 2
    assert ctx.invoked_function_arn == "arn:aws:lambda:ap-northeast-2:123456789012:function:t-dev-f"
    assert 0 < ctx.get_remaining_time_in_millis() <= 60_000
    assert ctx.log_group_name == "/aws/lambda/t-dev-f"


# --------------------------------------------------------------------------------------
# SQS
# --------------------------------------------------------------------------------------


def test_partial_batch_failure_deletes_the_good_and_redelivers_only_the_failed(
    endpoint: str, tmp_path: Path
) -> None:
    # GIVEN a queue (visibility 1 s) holding three messages, one of them poison
    sqs = client(endpoint, "sqs")
    url, arn = make_queue(sqs)
    sqs.send_message_batch(
        QueueUrl=url,
        Entries=[
            {
                "Id": "1",
                "MessageBody": "a",
                "MessageAttributes": {
                    "kind": {"DataType": "String", "StringValue": "deposit"},
                    "raw": {"DataType": "Binary", "BinaryValue": b"\x01\x02"},
                },
            },
            {"Id": "2", "MessageBody": "fail"},
            {"Id": "3", "MessageBody": "b"},
        ],
    )
    source = sqs_source_for(endpoint, url, arn, tmp_path)

    # WHEN the source runs until the poison message comes back once
    source.start()
    try:
        eventually(lambda: len(seen("fail")) >= 2)
    finally:
        source.stop(timeout=3)

    # THEN the first invocation had the three records in Lambda's shape
    first = SQS_EVENTS[0]["Records"]
    assert sorted(r["body"] for r in first) == ["a", "b", "fail"]
    rec = next(r for r in first if r["body"] == "a")
    assert rec["eventSource"] == "aws:sqs"
    assert rec["eventSourceARN"] == arn
    assert rec["awsRegion"] == REGION
    assert set(rec["attributes"]) >= {
        "ApproximateReceiveCount",
        "SentTimestamp",
        "SenderId",
        "ApproximateFirstReceiveTimestamp",
    }
    assert rec["messageAttributes"]["kind"] == {
        "stringValue": "deposit",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "String",
    }
    assert rec["messageAttributes"]["raw"]["binaryValue"] == "AQI="
    assert len(rec["md5OfBody"]) == 32 and rec["receiptHandle"] and rec["messageId"]
    # AND the good ones were handled once and deleted; only the poison came back
    assert seen("a") == ["1"] and seen("b") == ["1"]
    assert seen("fail")[:2] == ["1", "2"]
    assert len(SQS_EVENTS[1]["Records"]) == 1
    assert queue_depth(sqs, url) == 1
    assert source.records_deleted == 2
    assert source.invocations >= 2 and source.failures >= 2 and source.successes == 0


def test_a_handler_that_raises_redelivers_the_whole_batch(
    endpoint: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN two messages and a handler whose first invocation raises
    sqs = client(endpoint, "sqs")
    url, arn = make_queue(sqs)
    sqs.send_message_batch(
        QueueUrl=url, Entries=[{"Id": "1", "MessageBody": "x"}, {"Id": "2", "MessageBody": "y"}]
    )
    RAISE_BATCHES[0] = 1
    source = sqs_source_for(endpoint, url, arn, tmp_path)

    # WHEN the source runs until both are handled
    with caplog.at_level(logging.ERROR, logger="infra.local.sqs_source"):
        source.start()
        try:
            eventually(lambda: bool(seen("x")) and bool(seen("y")) and queue_depth(sqs, url) == 0)
        finally:
            source.stop(timeout=3)

    # THEN nothing was deleted after the exception: both came back (receive count 2)
    assert seen("x") == ["2"] and seen("y") == ["2"]
    assert [len(e["Records"]) for e in SQS_EVENTS] == [2, 2]
    assert (source.invocations, source.failures, source.successes) == (2, 1, 1)
    # AND the exception was logged with its traceback
    assert any(
        r.exc_info and "whole invocation fails" in str(r.exc_info[1]) for r in caplog.records
    )


def test_poison_message_lands_in_the_dlq_after_max_receive_count(
    endpoint: str, tmp_path: Path
) -> None:
    # GIVEN a queue with a DLQ and maxReceiveCount 2, holding a poison message among good ones
    sqs = client(endpoint, "sqs")
    dlq_url, dlq_arn = make_queue(sqs)
    url, arn = make_queue(sqs, dlq_arn=dlq_arn, max_receive=2)
    sqs.send_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "1", "MessageBody": "ok1"},
            {"Id": "2", "MessageBody": "fail"},
            {"Id": "3", "MessageBody": "ok2"},
        ],
    )
    source = sqs_source_for(endpoint, url, arn, tmp_path)

    # WHEN the source runs until the DLQ holds a message and the queue is empty (nothing in
    # flight either: the good ones were deleted, so they cannot come back), then handles a
    # later marker message
    source.start()
    try:
        eventually(lambda: queue_depth(sqs, dlq_url) == 1 and queue_depth(sqs, url) == 0)
        sqs.send_message(QueueUrl=url, MessageBody="marker")
        eventually(lambda: bool(seen("marker")) and queue_depth(sqs, url) == 0)
    finally:
        source.stop(timeout=3)

    # THEN the good ones were processed once, the poison one exactly maxReceiveCount times
    assert seen("ok1") == ["1"] and seen("ok2") == ["1"]
    assert seen("fail") == ["1", "2"]
    assert seen("marker") == ["1"]
    # AND the poison message is in the DLQ (moved by moto on receive)
    moved = sqs.receive_message(QueueUrl=dlq_url, AttributeNames=["All"])["Messages"]
    assert [m["Body"] for m in moved] == ["fail"]


def test_invalid_batch_item_failures_fail_the_whole_batch(endpoint: str, tmp_path: Path) -> None:
    # GIVEN a handler that reports an unknown and then an empty itemIdentifier
    sqs = client(endpoint, "sqs")
    url, arn = make_queue(sqs)
    sqs.send_message(QueueUrl=url, MessageBody="m")
    responses = iter(
        [
            {"batchItemFailures": [{"itemIdentifier": "nope"}]},
            {"batchItemFailures": [{"itemIdentifier": ""}]},
            {"batchItemFailures": []},
        ]
    )
    source = SqsEventSource(
        sqs, url, arn, lambda event, ctx: next(responses), function_name="t-dev-raw", region=REGION
    )

    # WHEN it is polled until the message is gone
    received = [source.poll_once()]
    while queue_depth(sqs, url):
        received.append(source.poll_once())

    # THEN the two invalid responses deleted nothing; the empty list deleted the message
    assert [n for n in received if n] == [1, 1, 1]
    assert (source.failures, source.successes, source.records_deleted) == (2, 1, 1)


# --------------------------------------------------------------------------------------
# DynamoDB streams
# --------------------------------------------------------------------------------------


def make_table(endpoint: str) -> tuple[Any, str]:
    ddb = client(endpoint, "dynamodb")
    name = f"things-{uuid.uuid4().hex[:8]}"
    desc = ddb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]
    return ddb, desc["LatestStreamArn"]


def put(ddb: Any, table_arn_or_name: str, pk: str, v: str) -> None:
    ddb.put_item(TableName=table_arn_or_name, Item={"pk": {"S": pk}, "v": {"S": v}})


def stream_source_for(
    endpoint: str, stream_arn: str, tmp_path: Path, **overrides: Any
) -> DynamoDbStreamEventSource:
    """The app's stream source as the local stack builds it, retrying fast."""
    sqs = client(endpoint, "sqs")

    def queue_url_for(name: str) -> tuple[str, str]:
        if name != streams.LEDGER_CHANGES.failure_queue_name:
            return "http://unused", "arn:unused"  # the app's SQS handler, not run here
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        return url, f"arn:aws:sqs:{REGION}:123456789012:{name}"

    sources, _ = event_sources_for_app(
        app,
        APP_MODULE,
        sqs_client=sqs,
        streams_client=client(endpoint, "dynamodbstreams"),
        queue_url_for=queue_url_for,
        stream_arn_for=lambda _placeholder: stream_arn,
        region=REGION,
        state_dir=tmp_path,
    )
    source = next(s for s in sources if isinstance(s, DynamoDbStreamEventSource))
    source.retry_delay_s = source.poll_interval_s = 0.05
    for name, value in overrides.items():
        setattr(source, name, value)
    return source


def test_stream_delivers_in_order_and_retries_from_the_lowest_failed_record(
    endpoint: str, tmp_path: Path
) -> None:
    # GIVEN a source at LATEST on a table's stream, started before the writes
    ddb, stream_arn = make_table(endpoint)
    table = stream_arn.split("/")[1]
    put(ddb, table, "old", "before-start")  # LATEST: not delivered
    source = stream_source_for(endpoint, stream_arn, tmp_path)
    assert source.function_name == "t-dev-handle_ledger_changes"
    source.poll_once()  # describes the shards and anchors the LATEST iterator

    # AND four writes, the third of which fails once
    DDB_FAILS["b1"] = 1
    put(ddb, table, "a", "a1")
    put(ddb, table, "a", "a2")  # MODIFY
    put(ddb, table, "b", "b1")
    put(ddb, table, "c", "c1")

    # WHEN the source runs until everything is handled
    source.start()
    try:
        eventually(lambda: source.successes >= 1)
    finally:
        source.stop(timeout=3)

    # THEN the first batch held the four records in order; the retry started at b1
    assert DDB_BATCHES[0] == [
        ("INSERT", "a1"),
        ("MODIFY", "a2"),
        ("INSERT", "b1"),
        ("INSERT", "c1"),
    ]
    assert DDB_BATCHES[1] == [("INSERT", "b1"), ("INSERT", "c1")]
    assert len(DDB_BATCHES) == 2
    assert (source.invocations, source.failures, source.successes) == (2, 1, 1)


def test_stream_records_have_lambdas_shape(endpoint: str, tmp_path: Path) -> None:
    # GIVEN a write before a TRIM_HORIZON source starts
    ddb, stream_arn = make_table(endpoint)
    put(ddb, stream_arn.split("/")[1], "k", "v1")
    events: list[dict[str, Any]] = []
    source = DynamoDbStreamEventSource(
        client(endpoint, "dynamodbstreams"),
        stream_arn,
        lambda event, ctx: events.append(event),
        function_name="t-dev-raw",
        starting_position="TRIM_HORIZON",
        region=REGION,
    )

    # WHEN polled once
    assert source.poll_once() == 1

    # THEN the record looks like the one Lambda delivers
    rec = events[0]["Records"][0]
    assert {
        k: rec[k]
        for k in ("eventName", "eventVersion", "eventSource", "awsRegion", "eventSourceARN")
    } == {
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": REGION,
        "eventSourceARN": stream_arn,
    }
    body = rec["dynamodb"]
    assert body["Keys"] == {"pk": {"S": "k"}}
    assert body["NewImage"] == {"pk": {"S": "k"}, "v": {"S": "v1"}}
    assert isinstance(body["ApproximateCreationDateTime"], int)
    assert abs(body["ApproximateCreationDateTime"] - time.time()) < 120
    assert body["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert body["SequenceNumber"].isdigit() and body["SizeBytes"] > 0


def test_a_rewound_stream_source_delivers_every_record_again_on_request(
    endpoint: str, tmp_path: Path
) -> None:
    from infra.local import stream_control

    # GIVEN a source that has delivered three records, and a scheduler answering its requests
    ddb, stream_arn = make_table(endpoint)
    table = stream_arn.split("/")[1]
    seen: list[str] = []
    source = DynamoDbStreamEventSource(
        client(endpoint, "dynamodbstreams"),
        stream_arn,
        lambda event, ctx: seen.extend(
            r["dynamodb"]["NewImage"]["v"]["S"] for r in event["Records"]
        ),
        function_name="t-dev-handle_things",
        starting_position="TRIM_HORIZON",
        batch_size=2,
        region=REGION,
        poll_interval_s=0.02,
    )
    for v in ("v1", "v2", "v3"):
        put(ddb, table, v, v)
    scheduler = scheduler_for(endpoint, tmp_path)
    scheduler.tick_s = 0.02
    scheduler.answer(stream_control.KIND, stream_control.answerer([source]))
    source.start()
    scheduler.start()
    try:
        # (done: handled and its position kept, which comes just after the handler returns)
        eventually(lambda: len(seen) == 3 and source.stats()["records_done"] == 3)
        (shard,) = source.positions()
        reached = source.stats()["positions"][shard]
        # WHEN another process rewinds it by its handler's name
        rewound = stream_control.request_rewind(tmp_path, "handle_things", timeout=5)
        # THEN it names where it was, delivers every record again, in order, and says so
        assert list(rewound["rewound_from"].values()) == [reached]
        done = stream_control.wait_replayed(tmp_path, "handle_things", timeout=8)
        assert seen == ["v1", "v2", "v3"] * 2
        assert (done["rewinds"], done["records_done"], done["replay_pending"]) == (1, 6, {})
        # AND an unknown consumer is a clear error
        with pytest.raises(KeyError, match="no stream consumer 'nope'; known: handle_things"):
            stream_control.request_rewind(tmp_path, "nope", timeout=5)
    finally:
        scheduler.stop(timeout=2)
        source.stop(timeout=2)


def test_stream_gives_up_after_max_retry_attempts(endpoint: str, tmp_path: Path) -> None:
    # GIVEN a record that always fails and a source allowing one retry
    ddb, stream_arn = make_table(endpoint)
    table = stream_arn.split("/")[1]
    DDB_FAILS["bad"] = 99
    put(ddb, table, "x", "bad")
    put(ddb, table, "y", "good")
    failures: list[dict[str, Any]] = []
    source = stream_source_for(
        endpoint,
        stream_arn,
        tmp_path,
        max_retry_attempts=1,
        on_failure=failures.append,
        starting_position="TRIM_HORIZON",
    )

    # WHEN the source runs until it gives up, then a new record arrives
    source.start()
    try:
        eventually(lambda: bool(failures))
        put(ddb, table, "z", "later")
        eventually(lambda: any(b == [("INSERT", "later")] for b in DDB_BATCHES))
    finally:
        source.stop(timeout=3)

    # THEN the failed batch (from the failing record on) went to on_failure after 2 attempts
    info = failures[0]["DDBStreamBatchInfo"]
    assert failures[0]["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failures[0]["requestContext"]["approximateInvokeCount"] == 2
    assert info["batchSize"] == 2 and info["streamArn"] == stream_arn
    assert DDB_BATCHES[:2] == [[("INSERT", "bad"), ("INSERT", "good")]] * 2
    assert source.records_discarded == 2


def test_stream_source_runs_the_deployed_settings_of_its_handler(
    endpoint: str, tmp_path: Path
) -> None:
    # GIVEN the app's stream handler, declared in chalicelib.streams
    spec = streams.by_handler("handle_ledger_changes")
    _, stream_arn = make_table(endpoint)

    # WHEN the local stack builds its event source
    source = stream_source_for(endpoint, stream_arn, tmp_path)

    # THEN it retries, bisects and parks as the CDK deploys it (not forever)
    assert source.max_retry_attempts == spec.max_retry_attempts >= 0
    assert source.bisect_on_error is spec.bisect_on_error is True
    assert source.on_failure is not None


def delivered() -> list[str]:
    """The values of the batches that went through (no poison in them), in order."""
    with _lock:
        return [
            v for batch in DDB_BATCHES for _, v in batch if not DDB_POISON & {v for _, v in batch}
        ]


def test_a_poison_record_is_bisected_out_and_parked_while_its_neighbours_go_through(
    endpoint: str, tmp_path: Path
) -> None:
    # GIVEN the handler's on-failure queue, and a handler that raises on a poison record
    spec = streams.by_handler("handle_ledger_changes")
    sqs = client(endpoint, "sqs")
    failures_url = sqs.create_queue(QueueName=spec.failure_queue_name)["QueueUrl"]
    DDB_POISON.add("bad")
    # AND five writes in one shard, the poison in the middle
    ddb, stream_arn = make_table(endpoint)
    table = stream_arn.split("/")[1]
    for pk, v in (("a", "a1"), ("b", "a2"), ("c", "bad"), ("d", "c1"), ("e", "c2")):
        put(ddb, table, pk, v)
    source = stream_source_for(endpoint, stream_arn, tmp_path, starting_position="TRIM_HORIZON")

    # WHEN the source runs until a record is parked, then a later write arrives
    source.start()
    try:
        parked = eventually_message(sqs, failures_url)
        put(ddb, table, "f", "later")
        eventually(lambda: delivered()[-1:] == ["later"])
    finally:
        source.stop(timeout=3)

    # THEN the records before and after the poison went through, in shard order
    assert delivered() == ["a1", "a2", "c1", "c2", "later"]
    # AND the poison was tried alone 1 + MaximumRetryAttempts times, after two bisections
    with _lock:
        alone = [b for b in DDB_BATCHES if b == [("INSERT", "bad")]]
        first_batch = DDB_BATCHES[0]
    assert len(first_batch) == 5
    assert len(alone) == 1 + spec.max_retry_attempts
    # AND it was parked alone on the on-failure queue, in the shape AWS sends there
    record = json.loads(parked["Body"])
    assert set(record) == {
        "requestContext",
        "responseContext",
        "version",
        "timestamp",
        "DDBStreamBatchInfo",
    }
    context = record["requestContext"]
    assert context["condition"] == "RetryAttemptsExhausted"
    assert context["approximateInvokeCount"] == 1 + spec.max_retry_attempts
    assert context["functionArn"] == (
        f"arn:aws:lambda:{REGION}:123456789012:function:t-dev-handle_ledger_changes"
    )
    assert record["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    }
    assert record["version"] == "1.0"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["timestamp"])
    info = record["DDBStreamBatchInfo"]
    assert info["batchSize"] == 1 and info["streamArn"] == stream_arn
    assert (
        info["startSequenceNumber"]
        == info["endSequenceNumber"]
        == sequence_of(stream_arn, endpoint, "bad")
    )
    assert info["shardId"].startswith("shardId-")
    for key in ("approximateArrivalOfFirstRecord", "approximateArrivalOfLastRecord"):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", info[key])
    # AND nothing else was parked
    assert source.records_discarded == 1
    assert queue_depth(sqs, failures_url) == 0


def eventually_message(sqs: Any, url: str, timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", [])
        if messages:
            (message,) = messages
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            return dict(message)
    raise AssertionError(f"no message on {url} within {timeout}s")


def sequence_of(stream_arn: str, endpoint: str, value: str) -> str:
    streams_client = client(endpoint, "dynamodbstreams")
    shard = streams_client.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]
    iterator = streams_client.get_shard_iterator(
        StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    for r in streams_client.get_records(ShardIterator=iterator)["Records"]:
        if r["dynamodb"].get("NewImage", {}).get("v", {}).get("S") == value:
            return str(r["dynamodb"]["SequenceNumber"])
    raise AssertionError(f"no record with v={value!r}")


# --------------------------------------------------------------------------------------
# Schedules
# --------------------------------------------------------------------------------------


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def scheduler_for(endpoint: str, tmp_path: Path) -> Scheduler:
    _, scheduler = event_sources_for_app(
        app,
        APP_MODULE,
        sqs_client=client(endpoint, "sqs"),
        streams_client=client(endpoint, "dynamodbstreams"),
        queue_url_for=lambda name: ("http://unused", "arn:unused"),
        stream_arn_for=None,
        region=REGION,
        state_dir=tmp_path,
    )
    return scheduler


def wait_for_a_whole_tick(state_dir: Path) -> None:
    """Return once a tick that began after this call has fired the due jobs.

    A tick fires the due jobs, then answers the fire requests it found; the answer to a
    second request, written after the first was answered, comes from a later tick.
    """
    for _ in range(2):
        with pytest.raises(UnknownScheduleError):
            request_fire(state_dir, "no-such-schedule", timeout=5)


def test_scheduler_fires_a_rate_job_at_its_time(endpoint: str, tmp_path: Path) -> None:
    # GIVEN the app's schedules on a fake clock
    clock = FakeClock(datetime(2026, 11, 30, 17, 58, tzinfo=UTC))
    scheduler = scheduler_for(endpoint, tmp_path)
    scheduler.clock = clock
    scheduler.tick_s = 0.02
    assert sorted(scheduler.jobs) == ["payout", "tick"]
    scheduler.start()
    try:
        # WHEN time passes less than the rate but past the payout's time (18:00), and the
        # scheduler has run a whole tick since
        clock.now += timedelta(minutes=4)
        wait_for_a_whole_tick(tmp_path)
        # THEN the payout fired (and failed), the rate job did not
        assert scheduler.fired["payout"] == scheduler.errors["payout"] == 1
        assert SCHEDULE_CALLS == []
        # WHEN it passes the rate, tick fires once
        clock.now += timedelta(minutes=1, seconds=30)
        eventually(lambda: len(SCHEDULE_CALLS) == 1)
        # AND the scheduler keeps going after payout's error
        clock.now += timedelta(minutes=5)
        eventually(lambda: len(SCHEDULE_CALLS) == 2)
    finally:
        scheduler.stop(timeout=2)

    # THEN the event is shaped like EventBridge's, timed at the scheduled minute
    event = SCHEDULE_CALLS[0]
    assert event["detail-type"] == "Scheduled Event" and event["source"] == "aws.events"
    assert event["time"] == "2026-11-30T18:03:00Z"
    assert event["resources"] == [f"arn:aws:events:{REGION}:123456789012:rule/t-dev-tick"]
    assert event["region"] == REGION and event["detail"] == {} and event["id"]
    assert SCHEDULE_CALLS[1]["time"] == "2026-11-30T18:08:00Z"
    assert scheduler.next_fires["payout"] == datetime(2026, 12, 31, 18, tzinfo=UTC)


def test_fire_now_and_request_fire_across_threads(endpoint: str, tmp_path: Path) -> None:
    # GIVEN no scheduler running for this state dir
    # WHEN / THEN a fire request fails fast with a clear message
    with pytest.raises(TimeoutError, match="no scheduler is running"):
        request_fire(tmp_path, "tick", timeout=1)

    # GIVEN a running scheduler
    scheduler = scheduler_for(endpoint, tmp_path)
    scheduler.tick_s = 0.02

    # WHEN a job is fired now in this thread
    direct = scheduler.fire_now("tick")
    # THEN it ran synchronously and reported its result
    assert direct["name"] == "tick" and direct["ok"] is True
    assert direct["result"]["time"].endswith("Z")

    scheduler.start()
    try:
        # WHEN another "process" asks through the state dir
        answer = request_fire(tmp_path, "tick", timeout=5)
        failed = request_fire(tmp_path, "t-dev-payout", timeout=5)  # the function name works too
        # THEN the scheduler thread ran them and answered
        assert answer["ok"] is True and answer["name"] == "tick"
        assert failed == {"name": "payout", "ok": False, "error": "RuntimeError: payout exploded"}
        assert len(SCHEDULE_CALLS) == 2
        # AND an unknown name comes back as a clear KeyError
        with pytest.raises(
            UnknownScheduleError, match="unknown schedule 'nope'; known: payout, tick"
        ):
            request_fire(tmp_path, "nope", timeout=5)
        with pytest.raises(KeyError):
            scheduler.fire_now("nope")
    finally:
        scheduler.stop(timeout=2)

    # AND no request or result files are left behind
    assert sorted(p.name for p in (tmp_path / "fire").iterdir()) == []


def test_stream_source_works_in_process_under_mock_aws() -> None:
    # GIVEN moto in-process; botocore 1.44 sends StreamArn calls to an account-based endpoint
    # (https://<account>.streams-ddb.<region>.amazonaws.com) that moto 5.2.5 does not
    # intercept, so the streams client must disable account id endpoints
    from botocore.config import Config
    from moto import mock_aws

    with mock_aws():
        creds = {
            "region_name": REGION,
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
        }
        ddb = boto3.client("dynamodb", **creds)
        streams = boto3.client(
            "dynamodbstreams", config=Config(account_id_endpoint_mode="disabled"), **creds
        )
        stream_arn = ddb.create_table(
            TableName="bin",
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
        )["TableDescription"]["LatestStreamArn"]
        ddb.put_item(TableName="bin", Item={"pk": {"S": "k"}, "b": {"B": b"\x01"}})
        events: list[dict[str, Any]] = []
        source = DynamoDbStreamEventSource(
            streams,
            stream_arn,
            lambda event, ctx: events.append(event),
            function_name="t-dev-raw",
            starting_position="TRIM_HORIZON",
            region=REGION,
        )

        # WHEN polled once
        assert source.poll_once() == 1

    # THEN binary attributes are base64 text, as in Lambda's event
    assert events[0]["Records"][0]["dynamodb"]["NewImage"]["b"] == {"B": "AQ=="}


# --------------------------------------------------------------------------------------
# SQS: concurrent pollers (Lambda polls a queue with several)
# --------------------------------------------------------------------------------------


def test_a_message_is_not_handed_out_again_while_its_slow_invocation_runs(
    endpoint: str, tmp_path: Path
) -> None:
    from infra.local import moto_sqs

    moto_sqs.install()
    # GIVEN a queue with a 1-second visibility timeout (as the e2e stack's 2 s, for fast
    # retries), two pollers, and an invocation that takes 2.5 timeouts (a cold worker)
    sqs = client(endpoint, "sqs")
    url, arn = make_queue(sqs, visibility_s=1)
    source = sqs_source_for(endpoint, url, arn, tmp_path)
    source.concurrency = 2
    original = source.handler

    def slow(event: Any, context: Any) -> Any:
        time.sleep(2.5)
        return original(event, context)

    source.handler = slow
    sqs.send_message(QueueUrl=url, MessageBody="slow")
    # WHEN the pollers run until it is handled and deleted
    source.start()
    try:
        eventually(lambda: bool(seen("slow")) and queue_depth(sqs, url) == 0)
    finally:
        source.stop(timeout=5)
    # THEN it was handled once (AWS keeps it from other pollers: visibility >= the timeout)
    assert seen("slow") == ["1"] and source.invocations == 1


def test_concurrent_pollers_handle_each_message_once_retry_failures_and_redrive(
    endpoint: str, tmp_path: Path
) -> None:
    from infra.local import moto_sqs

    moto_sqs.install()  # as the local stack does: concurrent receives never share a message
    # GIVEN a queue with a DLQ (maxReceiveCount 2) holding 120 good messages and 2 poison ones,
    # and a visibility timeout longer than any batch takes (else SQS rightly delivers again)
    sqs = client(endpoint, "sqs")
    dlq_url, dlq_arn = make_queue(sqs)
    url, arn = make_queue(sqs, dlq_arn=dlq_arn, max_receive=2, visibility_s=4)
    bodies = [f"m{n:03d}" for n in range(120)] + ["fail", "fail"]
    for start in range(0, len(bodies), 10):
        sqs.send_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies[start : start + 10])
            ],
        )
    source = sqs_source_for(endpoint, url, arn, tmp_path)
    source.concurrency = 4
    threads_in_handler: set[int] = set()
    original = source.handler

    def handler(event: Any, context: Any) -> Any:
        with _lock:
            threads_in_handler.add(threading.get_ident())
        time.sleep(0.02)  # a handler that waits on I/O, so the pollers overlap
        return original(event, context)

    source.handler = handler

    # WHEN four pollers run until the good messages are gone and both poison ones are in the DLQ
    source.start()
    try:
        pollers = [t for t in threading.enumerate() if t.name.startswith("sqs:t-dev")]
        # (a batch in a handler also has its `:hold` thread, keeping it hidden: not a poller)
        assert len([t for t in pollers if not t.name.endswith(":hold")]) == 4
        eventually(
            lambda: queue_depth(sqs, dlq_url) == 2 and queue_depth(sqs, url) == 0, timeout=30
        )
    finally:
        source.stop(timeout=5)

    # THEN every good message was handled exactly once, by several pollers
    for body in bodies[:120]:
        assert seen(body) == ["1"], body
    assert len(threads_in_handler) > 1
    # AND each poison message was retried until maxReceiveCount, then redriven to the DLQ
    assert sorted(seen("fail")) == ["1", "1", "2", "2"]
    moved = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in moved] == ["fail", "fail"]
    # AND the counters add up across pollers
    assert source.records_deleted == 120
    assert source.records_failed == 4
    assert not source.running and source.stats()["concurrency"] == 4
