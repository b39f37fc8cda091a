"""The resilience suite's stand-ins for what runs the app in AWS, in-process on moto: the SQS
event source (batches, partial failures, redelivery, redrive to the dead-letter queue after
maxReceiveCount), the stream event sources (retry the whole batch on a function error, from
the lowest failed record on a partial failure, park after the retries), and an API client
that retries a 5xx or a 409 `try_again` as the apps do.

Nothing here knows the app's internals: it drives the real handlers through their Lambda
signatures and reads the outcome through the API and the tables.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.config
from moto import mock_aws

from chalicelib import queues, streams
from infra.local.dev_issuer import DevIssuer
from tests.functional.conftest import REGION, Api, ApiResponse
from tests.resilience.faults import FaultInjector

MAX_API_ATTEMPTS = 10


@dataclass
class Tally:
    """What the event sources saw: invocations, failures, redeliveries, parked batches."""

    invocations: Counter[str] = field(default_factory=Counter)
    function_errors: Counter[str] = field(default_factory=Counter)
    partial_failures: Counter[str] = field(default_factory=Counter)
    redelivered: Counter[str] = field(default_factory=Counter)
    dead_lettered: Counter[str] = field(default_factory=Counter)
    parked_batches: Counter[str] = field(default_factory=Counter)
    api_retries: Counter[str] = field(default_factory=Counter)
    seconds: Counter[str] = field(default_factory=Counter)


class Stack:
    """One fresh emulated account with the app's resources, the fault injector attached to
    the app's DynamoDB and iot-data clients (off until enabled)."""

    def __init__(self, issuer: DevIssuer, faults: FaultInjector) -> None:
        self.faults = faults
        self.tally = Tally()
        self.api = Api(issuer)
        self.api.faults_injected = faults is not None
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.streams = boto3.client(
            "dynamodbstreams",
            region_name=REGION,
            config=botocore.config.Config(account_id_endpoint_mode="disabled"),
        )
        self._tokens: dict[tuple[str, bool], str] = {}
        self._iterators: dict[str, dict[str, str | None]] = {}

    # -- API ------------------------------------------------------------------------------

    def call(self, method: str, path: str, **kwargs: Any) -> ApiResponse:
        """What a well-behaved app does: retry a 5xx or a 409 try_again, the same request
        (its token minted once per citizen: parsing the issuer's key costs 50 ms)."""
        who, admin = kwargs.pop("as_user", None), kwargs.pop("admin", False)
        if who is not None:
            if (who, admin) not in self._tokens:
                self._tokens[(who, admin)] = self.api.token(who, admin)
            bearer = {"authorization": f"Bearer {self._tokens[(who, admin)]}"}
            kwargs["headers"] = {**bearer, **kwargs.get("headers", {})}
        started = time.monotonic()
        for _ in range(MAX_API_ATTEMPTS):
            response = self.api.call(method, path, **kwargs)
            self.tally.seconds["api"] += time.monotonic() - started
            retry = response.status >= 500 or (
                response.status == 409
                and isinstance(response.body, dict)
                and response.body.get("error", {}).get("code") == "try_again"
            )
            if not retry:
                return response
            self.tally.api_retries[f"{method} {path.split('?')[0]}"] += 1
        return response

    def link_phone(self, citizen_id: str, number: str) -> None:
        """Link a proven phone through the routes, the code read from what SNS sent."""
        from tests.functional.conftest import sms_code

        sent = self.call("POST", "/v1/me/phone", as_user=citizen_id, body={"phone": number})
        assert sent.status == 202, sent.body
        body = {"verification_id": sent.body["verification_id"], "code": sms_code(number)}
        verified = self.call("POST", "/v1/me/phone/verify", as_user=citizen_id, body=body)
        assert verified.status == 200, verified.body

    # -- SQS ------------------------------------------------------------------------------

    def queue_url(self, name: str) -> str:
        return str(self.sqs.get_queue_url(QueueName=name)["QueueUrl"])

    def send_deposits(self, bodies: list[str]) -> None:
        url = self.queue_url(queues.DEPOSITS.name)
        for start in range(0, len(bodies), 10):
            entries = [
                {"Id": str(i), "MessageBody": body}
                for i, body in enumerate(bodies[start : start + 10])
            ]
            self.sqs.send_message_batch(QueueUrl=url, Entries=entries)

    def drain_deposits(self) -> None:
        started = time.monotonic()
        try:
            self._drain_deposits()
        finally:
            self.tally.seconds["deposits"] += time.monotonic() - started

    def _drain_deposits(self) -> None:
        """Lambda's SQS poller: batches of up to 10; the failed messages (all of them on a
        function error) become visible again and are received again; past maxReceiveCount
        the queue's redrive moves them to the dead-letter queue."""
        from app import handle_deposits
        from infra.local.lambda_runtime import LambdaContext

        url = self.queue_url(queues.DEPOSITS.name)
        while True:
            received = self.sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=queues.DEPOSITS.batch_size,
                AttributeNames=["All"],
                VisibilityTimeout=30,
            ).get("Messages", [])
            if not received:
                return
            event = {"Records": [_sqs_record(m, url) for m in received]}
            self.tally.invocations["deposits"] += 1
            try:
                answer = handle_deposits(event, LambdaContext("deposits"))
                failed = {f["itemIdentifier"] for f in answer.get("batchItemFailures", [])}
                if failed:
                    self.tally.partial_failures["deposits"] += 1
            except Exception:
                self.tally.function_errors["deposits"] += 1
                failed = {m["MessageId"] for m in received}
            for message in received:
                if message["MessageId"] in failed:
                    self.tally.redelivered["deposits"] += 1
                    self.sqs.change_message_visibility(
                        QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                    )
                else:
                    self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    def dead_letters(self, queue: str) -> list[str]:
        url = self.queue_url(queue)
        bodies: list[str] = []
        while True:
            got = self.sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=600
            ).get("Messages", [])
            if not got:
                return bodies
            bodies += [m["Body"] for m in got]

    # -- DynamoDB streams -------------------------------------------------------------------

    def new_records(self, source: streams.StreamSource) -> list[dict[str, Any]]:
        """The records of the source's stream its consumer has not been given yet, read on
        from where it stopped (a shard iterator per consumer and shard, as the poller keeps)."""
        from infra.local.stream_source import dynamodb_record

        arn = os.environ[source.arn_variable]
        iterators = self._iterators.setdefault(source.handler, {})
        shards = self.streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
        found: list[dict[str, Any]] = []
        for shard in shards:
            iterator = (
                iterators.get(shard["ShardId"])
                or self.streams.get_shard_iterator(
                    StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
            )
            while iterator:
                page = self.streams.get_records(ShardIterator=iterator, Limit=1000)
                iterator = page.get("NextShardIterator")
                iterators[shard["ShardId"]] = iterator
                found += [
                    dynamodb_record(r, stream_arn=arn, region=REGION) for r in page["Records"]
                ]
                if not page["Records"]:
                    break
        return found

    def pump(self, source: streams.StreamSource, batch_size: int | None = None) -> int:
        """Deliver what is new on a stream to its handler, as Lambda's stream poller does."""
        started = time.monotonic()
        records = self.new_records(source)
        self.tally.seconds["stream reads"] += time.monotonic() - started
        started = time.monotonic()
        size = batch_size or source.batch_size
        for start in range(0, len(records), size):
            self.deliver(source, records[start : start + size])
        self.tally.seconds[source.handler] += time.monotonic() - started
        return len(records)

    def deliver(
        self, source: streams.StreamSource, batch: list[dict[str, Any]], attempts: int = 0
    ) -> None:
        """One batch as the event source mapping treats it (chalicelib.streams): a partial
        failure retries from the lowest failed record; a function error splits the batch in
        two (BisectBatchOnFunctionError), each half retried on its own with its count
        started again; past max_retry_attempts the batch is parked on the on-failure queue
        (its body names the records, as Lambda's on-failure record does, never their
        images)."""
        from infra.local.lambda_runtime import LambdaContext

        handler = stream_handler(source)
        pending = batch
        while attempts <= source.max_retry_attempts:
            self.tally.invocations[source.handler] += 1
            try:
                answer = handler({"Records": copy.deepcopy(pending)}, LambdaContext("stream"))
            except Exception:
                self.tally.function_errors[source.handler] += 1
                if source.bisect_on_error and len(pending) > 1:
                    half = len(pending) // 2
                    self.deliver(source, pending[:half])
                    self.deliver(source, pending[half:])
                    return
                attempts += 1
                continue
            failed = [f["itemIdentifier"] for f in answer.get("batchItemFailures", [])]
            if not failed:
                return
            self.tally.partial_failures[source.handler] += 1
            numbers = [r["dynamodb"]["SequenceNumber"] for r in pending]
            pending = pending[min(numbers.index(f) for f in failed) :]
            attempts += 1
        self.tally.parked_batches[source.handler] += 1
        first, last = pending[0]["dynamodb"], pending[-1]["dynamodb"]
        self.sqs.send_message(
            QueueUrl=self.queue_url(source.failure_queue_name),
            MessageBody=json.dumps(
                {
                    "requestContext": {"condition": "RetryAttemptsExhausted"},
                    "DDBStreamBatchInfo": {
                        "startSequenceNumber": first["SequenceNumber"],
                        "endSequenceNumber": last["SequenceNumber"],
                        "batchSize": len(pending),
                        "streamArn": os.environ[source.arn_variable],
                    },
                }
            ),
        )

    def settle_streams(self, rounds: int = 6) -> None:
        """Pump every stream until none has anything new (prizes write ledger entries that
        the ledger's consumers then see)."""
        for _ in range(rounds):
            if not sum(self.pump(source) for source in streams.ALL_STREAMS):
                return
        raise AssertionError("the streams did not settle")


def stream_handler(source: streams.StreamSource) -> Callable[..., dict[str, Any]]:
    import app

    handler: Callable[..., dict[str, Any]] = getattr(app, source.handler)
    return handler


def _sqs_record(message: dict[str, Any], url: str) -> dict[str, Any]:
    from moto.core import DEFAULT_ACCOUNT_ID

    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": {},
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{REGION}:{DEFAULT_ACCOUNT_ID}:{url.rsplit('/', 1)[-1]}",
        "awsRegion": REGION,
    }


@contextmanager
def fresh_stack(issuer: DevIssuer, faults: FaultInjector | None = None) -> Iterator[Stack]:
    """A fresh emulated account provisioned as the functional `aws` fixture does it, the
    app's containers forgotten, the injector on the app's own clients."""
    from chalicelib import wiring
    from chalicelib.adapters import aws_clients
    from infra.local import provision

    injector = faults or FaultInjector(seed=0, rate=0.0)
    with mock_aws():
        wiring.clear()
        provision.create_tables()
        os.environ.update(
            provision.stream_environment(boto3.client("dynamodb", region_name=REGION))
        )
        provision.create_queues(boto3.client("sqs", region_name=REGION))
        provision.register_devices(provision.load_fleet())
        provision.create_notifications(
            boto3.client("sns", region_name=REGION), boto3.client("s3", region_name=REGION)
        )
        os.environ["PAYOUT_KMS_KEY_ID"] = provision.create_data_key(
            boto3.client("kms", region_name=REGION)
        )
        injector.attach(aws_clients.client("dynamodb"))
        injector.attach(aws_clients.iot_data())
        try:
            yield Stack(issuer, injector)
        finally:
            injector.enabled = False
            wiring.clear()


class CapturedLogs(logging.Handler):
    """Every log line the app and its libraries emit, as it would be written (Powertools'
    JSON for the app's logger, the standard format for the rest)."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        from chalicelib import wiring

        self._powertools = wiring.logger.registered_formatter
        self._plain = logging.Formatter("%(levelname)s %(name)s %(message)s")
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        formatter = self._powertools if record.name.startswith("gimhae") else self._plain
        try:
            text = formatter.format(record)
        except Exception as e:  # a line that cannot be formatted is still a line to scan
            text = f"{record.getMessage()} {record.__dict__} ({e})"
        self.lines.extend(text.splitlines() or [""])
