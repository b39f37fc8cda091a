"""Event sources for the local stack: drive the real Chalice handlers like AWS Lambda does.

Three kinds of sources, each with AWS's semantics as far as the handlers can observe them:

- :class:`SqsEventSource` polls a queue (moto) and invokes the handler with Lambda's SQS
  event; partial batch failures (``batchItemFailures``) delete only the successful
  messages; a raised exception deletes nothing; the failed messages come back after the
  queue's visibility timeout. Redrive to the DLQ after ``maxReceiveCount`` is done by moto
  itself on receive (moto 5.2.5 moves a visible message whose receive count has reached
  ``maxReceiveCount`` to the DLQ instead of delivering it, as SQS does).
- :class:`DynamoDbStreamEventSource` reads a DynamoDB stream shard by shard, in order,
  retrying from the lowest failed sequence number.
- :class:`Scheduler` fires ``rate(...)`` / ``cron(...)`` schedules (UTC, EventBridge
  semantics) and lets another process fire a schedule now through files under
  ``<state_dir>/fire/`` (:func:`request_fire`).

:func:`event_sources_for_app` builds all of them from a Chalice app's ``event_sources``.
"""

from __future__ import annotations

import base64
import calendar
import contextlib
import json
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

DEFAULT_ACCOUNT_ID = "123456789012"  # moto's default account
Handler = Callable[[dict[str, Any], Any], Any]


# --------------------------------------------------------------------------------------
# Lambda context
# --------------------------------------------------------------------------------------


class LambdaContext:
    """A stand-in for the context object AWS Lambda passes to a Python handler.

    Create one per invocation: each gets a fresh ``aws_request_id`` and its own deadline.
    """

    def __init__(
        self,
        function_name: str,
        *,
        region: str = "ap-northeast-2",
        account_id: str = DEFAULT_ACCOUNT_ID,
        memory_limit_in_mb: int = 128,
        timeout_s: float = 60.0,
        function_version: str = "$LATEST",
    ) -> None:
        self.function_name = function_name
        self.function_version = function_version
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{account_id}:function:{function_name}"
        self.memory_limit_in_mb = memory_limit_in_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        today = datetime.now(UTC).strftime("%Y/%m/%d")
        self.log_stream_name = f"{today}/[{function_version}]{uuid.uuid4().hex}"
        self.identity: Any = None
        self.client_context: Any = None
        self.tenant_id: str | None = None
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))

    def __repr__(self) -> str:
        return f"LambdaContext({self.function_name!r}, request_id={self.aws_request_id!r})"


# --------------------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------------------


@dataclass
class _Outcome:
    """How Lambda reads a handler's result for a batch event source."""

    ok: bool  # the whole batch succeeded
    failed_ids: list[str] = field(default_factory=list)  # partial failure: these ids
    whole_batch_failed: bool = False  # raised, or an invalid batchItemFailures response
    reason: str = ""


def _read_batch_response(result: Any, valid_ids: set[str]) -> _Outcome:
    """Interpret a handler result like Lambda with ``ReportBatchItemFailures``.

    Success: no response, no ``batchItemFailures`` key, ``None`` or ``[]``.
    Whole batch failure: a malformed list, an entry without ``itemIdentifier``, with an
    empty or ``None`` one, or one that names no record of the batch.
    """
    if not isinstance(result, dict) or result.get("batchItemFailures") is None:
        return _Outcome(ok=True)
    failures = result["batchItemFailures"]
    if not isinstance(failures, list):
        return _Outcome(False, whole_batch_failed=True, reason="batchItemFailures not a list")
    failed: list[str] = []
    for entry in failures:
        item_id = entry.get("itemIdentifier") if isinstance(entry, dict) else None
        if not isinstance(item_id, str) or not item_id or item_id not in valid_ids:
            return _Outcome(
                False, whole_batch_failed=True, reason=f"invalid batchItemFailures entry {entry!r}"
            )
        if item_id not in failed:
            failed.append(item_id)
    if not failed:
        return _Outcome(ok=True)
    return _Outcome(False, failed_ids=failed)


class _Worker:
    """A daemon thread running ``_run`` until ``stop()``."""

    thread_name = "event-source"

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run_safely, name=self.thread_name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                logger.warning("%s did not stop within %.1fs", self.thread_name, timeout)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run_safely(self) -> None:
        try:
            self._run()
        except Exception:  # pragma: no cover - last resort, the loops catch their own
            logger.exception("%s crashed", self.thread_name)

    def _run(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError


# --------------------------------------------------------------------------------------
# SQS
# --------------------------------------------------------------------------------------


def _lambda_message_attributes(attrs: dict[str, Any]) -> dict[str, Any]:
    """SQS API ``MessageAttributes`` -> the shape Lambda puts in ``messageAttributes``."""
    out: dict[str, Any] = {}
    for name, value in attrs.items():
        entry: dict[str, Any] = {
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": value.get("DataType", "String"),
        }
        if "StringValue" in value:
            entry["stringValue"] = value["StringValue"]
        if "BinaryValue" in value:
            raw = value["BinaryValue"]
            entry["binaryValue"] = (
                base64.b64encode(raw).decode("ascii") if isinstance(raw, bytes) else raw
            )
        out[name] = entry
    return out


_SQS_RECORD_ATTRIBUTES = (
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SenderId",
    "ApproximateFirstReceiveTimestamp",
)
_SQS_OPTIONAL_ATTRIBUTES = (
    "AWSTraceHeader",
    "SequenceNumber",
    "MessageGroupId",
    "MessageDeduplicationId",
)


def sqs_record(message: dict[str, Any], *, queue_arn: str, region: str) -> dict[str, Any]:
    """One ``receive_message`` message -> one record of Lambda's SQS event."""
    attributes = message.get("Attributes", {})
    record_attributes = {k: attributes[k] for k in _SQS_RECORD_ATTRIBUTES if k in attributes}
    record_attributes.update(
        {k: attributes[k] for k in _SQS_OPTIONAL_ATTRIBUTES if k in attributes}
    )
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": record_attributes,
        "messageAttributes": _lambda_message_attributes(message.get("MessageAttributes", {})),
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


class SqsEventSource(_Worker):
    """Polls one queue and invokes ``handler(event, context)`` like Lambda's SQS poller.

    Counters: ``invocations``, ``successes`` (whole batch ok), ``failures`` (raised, partial
    or invalid response), ``records_deleted``, ``records_failed``; ``last_error`` holds the
    last exception text.
    """

    def __init__(
        self,
        sqs_client: Any,
        queue_url: str,
        queue_arn: str,
        handler: Handler,
        *,
        function_name: str,
        batch_size: int = 10,
        max_batching_window_s: float = 0,
        region: str,
        account_id: str = DEFAULT_ACCOUNT_ID,
        wait_time_s: int = 1,
        error_backoff_s: float = 1.0,
    ) -> None:
        super().__init__()
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self.sqs = sqs_client
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.handler = handler
        self.function_name = function_name
        self.batch_size = batch_size
        self.max_batching_window_s = max_batching_window_s
        self.region = region
        self.account_id = account_id
        self.wait_time_s = wait_time_s
        self.error_backoff_s = error_backoff_s
        self.thread_name = f"sqs:{function_name}"
        self.invocations = 0
        self.successes = 0
        self.failures = 0
        self.records_deleted = 0
        self.records_failed = 0
        self.last_error: str | None = None

    # -- polling ----------------------------------------------------------------------

    def _receive(self, count: int, wait_s: int) -> list[dict[str, Any]]:
        resp = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=max(1, min(10, count)),
            WaitTimeSeconds=wait_s,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages: list[dict[str, Any]] = resp.get("Messages", [])
        return messages

    def _gather_batch(self) -> list[dict[str, Any]]:
        """Up to ``batch_size`` messages, waiting at most the batching window for more."""
        batch: dict[str, dict[str, Any]] = {}
        for m in self._receive(self.batch_size, self.wait_time_s):
            batch[m["MessageId"]] = m
        if not batch:
            return []
        deadline = time.monotonic() + self.max_batching_window_s
        while len(batch) < self.batch_size and not self._stop.is_set():
            remaining = deadline - time.monotonic()
            window_open = remaining > 0
            if not window_open and len(batch) % 10:
                break  # the window is over and the last receive was not full
            wait_s = min(self.wait_time_s, int(remaining)) if window_open else 0
            more = self._receive(self.batch_size - len(batch), max(0, wait_s))
            for m in more:
                batch[m["MessageId"]] = m
            if not more:
                if not window_open:
                    break
                self._stop.wait(min(0.1, max(0.0, deadline - time.monotonic())))
        return list(batch.values())

    def poll_once(self) -> int:
        """Receive one batch and process it; returns the number of messages received."""
        messages = self._gather_batch()
        if messages:
            self._process(messages)
        return len(messages)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception as exc:  # the queue vanished, the emulator is down...
                self.last_error = f"poll: {exc}"
                logger.warning("%s: polling %s failed: %s", self.function_name, self.queue_url, exc)
                self._stop.wait(self.error_backoff_s)

    # -- invoking ---------------------------------------------------------------------

    def _process(self, messages: list[dict[str, Any]]) -> None:
        records = [sqs_record(m, queue_arn=self.queue_arn, region=self.region) for m in messages]
        event = {"Records": records}
        context = LambdaContext(self.function_name, region=self.region, account_id=self.account_id)
        self.invocations += 1
        try:
            result = self.handler(event, context)
        except Exception as exc:
            self.failures += 1
            self.records_failed += len(messages)
            self.last_error = f"{type(exc).__name__}: {exc}"
            logger.exception(
                "%s: handler raised on a batch of %d; none deleted, all will be redelivered",
                self.function_name,
                len(messages),
            )
            return
        outcome = _read_batch_response(result, {m["MessageId"] for m in messages})
        if outcome.whole_batch_failed:
            self.failures += 1
            self.records_failed += len(messages)
            self.last_error = outcome.reason
            logger.error("%s: %s; the whole batch fails", self.function_name, outcome.reason)
            return
        failed = set(outcome.failed_ids)
        if failed:
            self.failures += 1
            self.records_failed += len(failed)
            logger.info(
                "%s: %d of %d records failed; they will be redelivered",
                self.function_name,
                len(failed),
                len(messages),
            )
        else:
            self.successes += 1
        self._delete([m for m in messages if m["MessageId"] not in failed])

    def _delete(self, messages: list[dict[str, Any]]) -> None:
        for start in range(0, len(messages), 10):
            chunk = messages[start : start + 10]
            resp = self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)
                ],
            )
            self.records_deleted += len(resp.get("Successful", []))
            for failure in resp.get("Failed", []):
                logger.warning("%s: could not delete message: %s", self.function_name, failure)

    def stats(self) -> dict[str, Any]:
        return {
            "function_name": self.function_name,
            "queue_url": self.queue_url,
            "invocations": self.invocations,
            "successes": self.successes,
            "failures": self.failures,
            "records_deleted": self.records_deleted,
            "records_failed": self.records_failed,
            "last_error": self.last_error,
        }


# --------------------------------------------------------------------------------------
# DynamoDB streams
# --------------------------------------------------------------------------------------


def _lambda_attribute_value(value: Any) -> Any:
    """boto3's attribute values hold ``bytes`` for B/BS; Lambda's event holds base64 text."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dict):
        return {k: _lambda_attribute_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_lambda_attribute_value(v) for v in value]
    return value


def _epoch_seconds(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return int(value.timestamp())
    return value


def dynamodb_record(raw: dict[str, Any], *, stream_arn: str, region: str) -> dict[str, Any]:
    """One ``get_records`` record -> one record of Lambda's DynamoDB stream event."""
    ddb = raw.get("dynamodb", {})
    out_ddb: dict[str, Any] = {}
    if "ApproximateCreationDateTime" in ddb:
        out_ddb["ApproximateCreationDateTime"] = _epoch_seconds(ddb["ApproximateCreationDateTime"])
    for key in ("Keys", "NewImage", "OldImage"):
        if key in ddb:
            out_ddb[key] = _lambda_attribute_value(ddb[key])
    for key in ("SequenceNumber", "SizeBytes", "StreamViewType"):
        if key in ddb:
            out_ddb[key] = ddb[key]
    record: dict[str, Any] = {
        "eventID": raw.get("eventID", uuid.uuid4().hex),
        "eventName": raw["eventName"],
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "dynamodb": out_ddb,
        "eventSourceARN": stream_arn,
    }
    if "userIdentity" in raw:
        record["userIdentity"] = raw["userIdentity"]
    return record


@dataclass
class _Shard:
    shard_id: str
    parent_id: str | None
    iterator_type: str
    iterator: str | None = None
    closed: bool = False
    pending: list[dict[str, Any]] = field(default_factory=list)  # Lambda-shaped records
    attempts: int = 0  # failed invocations of the current pending batch
    retry_at: float = 0.0
    last_sequence: str | None = None  # the last record handled (done or given up)


class DynamoDbStreamEventSource(_Worker):
    """Reads a DynamoDB stream and invokes the handler like Lambda's stream poller.

    Per shard, records are delivered in order. On ``batchItemFailures`` the next attempt
    starts at the lowest failed ``SequenceNumber`` (earlier records count as done); on an
    exception or an invalid response, the whole batch is retried. With
    ``max_retry_attempts >= 0``, a batch that failed ``1 + max_retry_attempts`` times is
    handed to ``on_failure`` (an on-failure destination's payload) and skipped.
    """

    def __init__(
        self,
        streams_client: Any,
        stream_arn: str,
        handler: Handler,
        *,
        function_name: str,
        batch_size: int = 100,
        starting_position: str = "LATEST",
        max_retry_attempts: int = -1,
        on_failure: Callable[[dict[str, Any]], None] | None = None,
        region: str,
        account_id: str = DEFAULT_ACCOUNT_ID,
        poll_interval_s: float = 0.25,
        retry_delay_s: float = 0.2,
        describe_interval_s: float = 5.0,
    ) -> None:
        super().__init__()
        if starting_position not in ("LATEST", "TRIM_HORIZON"):
            raise ValueError("starting_position must be LATEST or TRIM_HORIZON")
        self.streams = streams_client
        self.stream_arn = stream_arn
        self.handler = handler
        self.function_name = function_name
        self.batch_size = max(1, min(1000, batch_size))  # GetRecords' Limit is at most 1000
        self.starting_position = starting_position
        self.max_retry_attempts = max_retry_attempts
        self.on_failure = on_failure
        self.region = region
        self.account_id = account_id
        self.poll_interval_s = poll_interval_s
        self.retry_delay_s = retry_delay_s
        self.describe_interval_s = describe_interval_s
        self.thread_name = f"ddb-stream:{function_name}"
        self._shards: dict[str, _Shard] = {}
        self._described_once = False
        self._next_describe = 0.0
        self.invocations = 0
        self.successes = 0
        self.failures = 0
        self.records_done = 0
        self.records_discarded = 0
        self.last_error: str | None = None

    # -- shards -----------------------------------------------------------------------

    def refresh_shards(self) -> None:
        """Describe the stream and start tracking new shards.

        Shards present at the first describe start at ``starting_position``; shards that
        appear later are read from their beginning (TRIM_HORIZON), like Lambda does.
        """
        kwargs: dict[str, Any] = {"StreamArn": self.stream_arn}
        while True:
            desc = self.streams.describe_stream(**kwargs)["StreamDescription"]
            for s in desc.get("Shards", []):
                if s["ShardId"] not in self._shards:
                    self._shards[s["ShardId"]] = _Shard(
                        shard_id=s["ShardId"],
                        parent_id=s.get("ParentShardId"),
                        iterator_type=self.starting_position
                        if not self._described_once
                        else "TRIM_HORIZON",
                    )
            last = desc.get("LastEvaluatedShardId")
            if not last:
                break
            kwargs["ExclusiveStartShardId"] = last
        self._described_once = True

    def _ready(self, shard: _Shard) -> bool:
        if shard.closed and not shard.pending:
            return False
        parent = self._shards.get(shard.parent_id or "")
        return parent is None or (parent.closed and not parent.pending)

    def _ensure_iterator(self, shard: _Shard) -> None:
        if shard.iterator is not None or shard.closed:
            return
        kwargs: dict[str, Any] = {"StreamArn": self.stream_arn, "ShardId": shard.shard_id}
        if shard.last_sequence is not None:
            kwargs.update(
                ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=shard.last_sequence
            )
        else:
            kwargs["ShardIteratorType"] = shard.iterator_type
        shard.iterator = self.streams.get_shard_iterator(**kwargs)["ShardIterator"]

    def _fetch(self, shard: _Shard) -> None:
        self._ensure_iterator(shard)
        if shard.iterator is None:
            return
        try:
            resp = self.streams.get_records(ShardIterator=shard.iterator, Limit=self.batch_size)
        except Exception as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code")
            if code in ("ExpiredIteratorException", "TrimmedDataAccessException"):
                shard.iterator = None  # re-anchor after the last record handled
                return
            raise
        shard.iterator = resp.get("NextShardIterator")
        if shard.iterator is None:
            shard.closed = True
        shard.pending = [
            dynamodb_record(r, stream_arn=self.stream_arn, region=self.region)
            for r in resp.get("Records", [])
        ]
        shard.attempts = 0

    # -- invoking ---------------------------------------------------------------------

    def poll_once(self) -> int:
        """One pass over the ready shards; returns the number of records delivered."""
        now = time.monotonic()
        if not self._described_once or now >= self._next_describe:
            self.refresh_shards()
            self._next_describe = now + self.describe_interval_s
        delivered = 0
        for shard in list(self._shards.values()):
            if not self._ready(shard) or shard.retry_at > time.monotonic():
                continue
            if not shard.pending:
                self._fetch(shard)
            if shard.pending:
                delivered += len(shard.pending)
                self._invoke(shard)
        return delivered

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                delivered = self.poll_once()
            except Exception as exc:
                delivered = 0
                self.last_error = f"poll: {exc}"
                logger.warning(
                    "%s: reading %s failed: %s", self.function_name, self.stream_arn, exc
                )
                self._stop.wait(1.0)
            if not delivered:
                self._stop.wait(self.poll_interval_s)

    def _invoke(self, shard: _Shard) -> None:
        batch = shard.pending
        event = {"Records": batch}
        context = LambdaContext(self.function_name, region=self.region, account_id=self.account_id)
        self.invocations += 1
        seqs = [r["dynamodb"]["SequenceNumber"] for r in batch]
        try:
            result = self.handler(event, context)
        except Exception as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"
            logger.exception(
                "%s: handler raised on %d records of %s; retrying the batch",
                self.function_name,
                len(batch),
                shard.shard_id,
            )
            self._failed(shard, batch, "Unhandled")
            return
        outcome = _read_batch_response(result, set(seqs))
        if outcome.ok:
            self.successes += 1
            self._done(shard, batch)
            return
        if outcome.whole_batch_failed:
            self.last_error = outcome.reason
            logger.error("%s: %s; retrying the whole batch", self.function_name, outcome.reason)
            self._failed(shard, batch, "InvalidResponse")
            return
        lowest = min(outcome.failed_ids, key=int)
        cut = seqs.index(lowest)
        self._done(shard, batch[:cut], count_success=False)
        logger.info(
            "%s: record %s failed; retrying from it (%d records)",
            self.function_name,
            lowest,
            len(batch) - cut,
        )
        self._failed(shard, batch[cut:], "PartialBatchFailure")

    def _done(
        self, shard: _Shard, records: list[dict[str, Any]], *, count_success: bool = True
    ) -> None:
        if records:
            shard.last_sequence = records[-1]["dynamodb"]["SequenceNumber"]
            self.records_done += len(records)
        if count_success:
            shard.pending = []
            shard.attempts = 0

    def _failed(self, shard: _Shard, remaining: list[dict[str, Any]], error: str) -> None:
        self.failures += 1
        shard.pending = remaining
        shard.attempts += 1
        if 0 <= self.max_retry_attempts < shard.attempts:
            self._give_up(shard, remaining, error)
            return
        shard.retry_at = time.monotonic() + self.retry_delay_s

    def _give_up(self, shard: _Shard, records: list[dict[str, Any]], error: str) -> None:
        first, last = records[0]["dynamodb"], records[-1]["dynamodb"]
        info = {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": f"arn:aws:lambda:{self.region}:{self.account_id}:function:"
                f"{self.function_name}",
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": shard.attempts,
            },
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": error,
            },
            "version": "1.0",
            "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "DDBStreamBatchInfo": {
                "shardId": shard.shard_id,
                "startSequenceNumber": first.get("SequenceNumber"),
                "endSequenceNumber": last.get("SequenceNumber"),
                "approximateArrivalOfFirstRecord": first.get("ApproximateCreationDateTime"),
                "approximateArrivalOfLastRecord": last.get("ApproximateCreationDateTime"),
                "batchSize": len(records),
                "streamArn": self.stream_arn,
            },
        }
        logger.error(
            "%s: giving up on %d records of %s after %d attempts",
            self.function_name,
            len(records),
            shard.shard_id,
            shard.attempts,
        )
        self.records_discarded += len(records)
        shard.last_sequence = last.get("SequenceNumber")
        shard.pending = []
        shard.attempts = 0
        if self.on_failure is not None:
            try:
                self.on_failure(info)
            except Exception:
                logger.exception("%s: on_failure raised", self.function_name)

    def stats(self) -> dict[str, Any]:
        return {
            "function_name": self.function_name,
            "stream_arn": self.stream_arn,
            "invocations": self.invocations,
            "successes": self.successes,
            "failures": self.failures,
            "records_done": self.records_done,
            "records_discarded": self.records_discarded,
            "last_error": self.last_error,
            "shards": sorted(self._shards),
        }


# --------------------------------------------------------------------------------------
# Schedule expressions
# --------------------------------------------------------------------------------------

_RATE_RE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_CRON_RE = re.compile(r"^cron\((.*)\)$")
_MONTHS = {m.upper(): i for i, m in enumerate(calendar.month_abbr) if m}
_WEEKDAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
_MAX_YEAR = 2199
_UNIT = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}

DayPredicate = Callable[[date], bool]


def _aws_weekday(d: date) -> int:
    """1=SUN .. 7=SAT, as in EventBridge cron expressions."""
    return (d.weekday() + 1) % 7 + 1


def _last_day(d: date) -> int:
    return calendar.monthrange(d.year, d.month)[1]


def _value(text: str, lo: int, hi: int, names: dict[str, int], what: str) -> int:
    token = text.strip().upper()
    if token in names:
        v = names[token]
    elif token.isdigit():
        v = int(token)
    else:
        raise ValueError(f"invalid {what} value {text!r}")
    if not lo <= v <= hi:
        raise ValueError(f"{what} value {v} out of range {lo}-{hi}")
    return v


def _number_set(
    text: str, lo: int, hi: int, what: str, names: dict[str, int] | None = None
) -> frozenset[int]:
    """``*``, ``a``, ``a,b``, ``a-b``, ``*/n``, ``a/n``, ``a-b/n`` (names allowed)."""
    names = names or {}
    values: set[int] = set()
    for part in text.split(","):
        if not part:
            raise ValueError(f"empty item in {what} field {text!r}")
        base, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise ValueError(f"invalid step in {what} field {text!r}")
            step = int(step_text)
        if base == "*":
            start, end = lo, hi
        elif "-" in base:
            a, _, b = base.partition("-")
            start, end = _value(a, lo, hi, names, what), _value(b, lo, hi, names, what)
            if start > end:
                raise ValueError(f"invalid range {base!r} in {what} field")
        else:
            start = _value(base, lo, hi, names, what)
            end = hi if step_text else start
        values.update(range(start, end + 1, step))
    return frozenset(values)


def _nearest_weekday(d: date, day: int) -> int:
    """The weekday (Mon-Fri) nearest to ``day`` of d's month, not leaving the month."""
    last = _last_day(d)
    day = min(day, last)
    wd = date(d.year, d.month, day).weekday()  # Mon=0
    if wd == 5:  # Saturday -> Friday, or Monday if the 1st
        return day - 1 if day > 1 else day + 2
    if wd == 6:  # Sunday -> Monday, or Friday if the last day
        return day + 1 if day < last else day - 2
    return day


def _day_of_month(text: str) -> DayPredicate:
    preds: list[DayPredicate] = []
    for part in text.split(","):
        up = part.upper()
        if up == "L":
            preds.append(lambda d: d.day == _last_day(d))
        elif up == "LW":
            preds.append(lambda d: d.day == _nearest_weekday(d, _last_day(d)))
        elif up.endswith("W") and up[:-1].isdigit():
            target = _value(up[:-1], 1, 31, {}, "day-of-month")
            preds.append(lambda d, t=target: d.day == _nearest_weekday(d, t))  # type: ignore[misc]
        else:
            days = _number_set(part, 1, 31, "day-of-month")
            preds.append(lambda d, s=days: d.day in s)  # type: ignore[misc]
    return lambda d: any(p(d) for p in preds)


def _day_of_week(text: str) -> DayPredicate:
    preds: list[DayPredicate] = []
    for part in text.split(","):
        up = part.upper()
        if up == "L":
            preds.append(lambda d: _aws_weekday(d) == 7)
        elif up.endswith("L"):
            wd = _value(up[:-1], 1, 7, _WEEKDAYS, "day-of-week")
            preds.append(
                lambda d, w=wd: (
                    _aws_weekday(d) == w  # type: ignore[misc]
                    and d.day + 7 > _last_day(d)
                )
            )
        elif "#" in up:
            a, _, b = up.partition("#")
            wd = _value(a, 1, 7, _WEEKDAYS, "day-of-week")
            nth = _value(b, 1, 5, {}, "day-of-week occurrence")
            preds.append(
                lambda d, w=wd, n=nth: (
                    _aws_weekday(d) == w  # type: ignore[misc]
                    and (d.day - 1) // 7 + 1 == n
                )
            )
        else:
            days = _number_set(part, 1, 7, "day-of-week", _WEEKDAYS)
            preds.append(lambda d, s=days: _aws_weekday(d) in s)  # type: ignore[misc]
    return lambda d: any(p(d) for p in preds)


@dataclass(frozen=True)
class _Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    day: DayPredicate
    months: frozenset[int]
    years: frozenset[int]


def _parse_cron(body: str) -> _Cron:
    fields = body.split()
    if len(fields) != 6:
        raise ValueError(f"cron() needs 6 fields (min hour dom month dow year), got {len(fields)}")
    minute, hour, dom, month, dow, year = fields
    if (dom == "?") == (dow == "?"):
        raise ValueError("exactly one of day-of-month and day-of-week must be '?'")
    day = _day_of_week(dow) if dom == "?" else _day_of_month(dom)
    return _Cron(
        minutes=_number_set(minute, 0, 59, "minute"),
        hours=_number_set(hour, 0, 23, "hour"),
        day=day,
        months=_number_set(month, 1, 12, "month", _MONTHS),
        years=_number_set(year, 1970, _MAX_YEAR, "year"),
    )


def parse_rate(expression: str) -> timedelta | None:
    """The period of a ``rate(...)`` expression; ``None`` if it is not a rate expression."""
    m = _RATE_RE.match(expression.strip())
    if not m:
        if expression.strip().startswith("rate("):
            raise ValueError(f"invalid rate expression {expression!r}")
        return None
    value, unit = int(m.group(1)), m.group(2)
    if value < 1:
        raise ValueError(f"rate value must be positive in {expression!r}")
    if (value == 1) != (not unit.endswith("s")):
        raise ValueError(f"use a singular unit for 1 and a plural one otherwise: {expression!r}")
    return value * _UNIT[unit.rstrip("s")]


def validate_expression(expression: str) -> None:
    """Raise ValueError unless ``expression`` is a valid rate() or cron() expression."""
    if parse_rate(expression) is not None:
        return
    m = _CRON_RE.match(expression.strip())
    if not m:
        raise ValueError(f"not a rate() or cron() expression: {expression!r}")
    _parse_cron(m.group(1))


def next_fire(expression: str, after: datetime) -> datetime:
    """The first time strictly after ``after`` that the schedule fires, in UTC.

    ``rate(N unit)`` fires every N units counted from ``after`` (EventBridge counts from the
    rule's creation, so pass the creation or last fire time). ``cron(...)`` is evaluated
    minute by minute in UTC. Naive datetimes are taken as UTC. Raises ValueError for an
    invalid expression or one that never fires again.
    """
    if after.tzinfo is None:
        after = after.replace(tzinfo=UTC)
    after = after.astimezone(UTC)
    period = parse_rate(expression)
    if period is not None:
        return after + period
    m = _CRON_RE.match(expression.strip())
    if not m:
        raise ValueError(f"not a rate() or cron() expression: {expression!r}")
    cron = _parse_cron(m.group(1))
    t = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
    last_year = max(cron.years)
    while t.year <= last_year:
        if t.year not in cron.years:
            t = datetime(t.year + 1, 1, 1, tzinfo=UTC)
        elif t.month not in cron.months:
            t = (datetime(t.year, t.month, 1, tzinfo=UTC) + timedelta(days=32)).replace(day=1)
        elif not cron.day(t.date()):
            t = datetime(t.year, t.month, t.day, tzinfo=UTC) + timedelta(days=1)
        elif t.hour not in cron.hours:
            t = t.replace(minute=0) + timedelta(hours=1)
        elif t.minute not in cron.minutes:
            t += timedelta(minutes=1)
        else:
            return t
    raise ValueError(f"{expression!r} never fires after {after.isoformat()}")


# --------------------------------------------------------------------------------------
# Scheduler
# --------------------------------------------------------------------------------------


@dataclass
class ScheduledJob:
    """A schedule: ``name`` (the Chalice function name, e.g. "payout"), the expression,
    the handler and, optionally, the deployed function/rule name (``<app>-dev-<name>``)."""

    name: str
    expression: str
    handler: Handler
    function_name: str | None = None


class UnknownScheduleError(KeyError):
    """No schedule of that name; ``str()`` gives a readable message."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown schedule"


def _fire_dir(state_dir: Path) -> Path:
    return Path(state_dir) / "fire"


def _atomic_write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(json.dumps(data, default=str))
    os.replace(tmp, path)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Scheduler(_Worker):
    """Fires scheduled jobs at their times (UTC) and on request.

    Every ``tick_s`` the thread fires the jobs that are due and answers fire requests
    written under ``<state_dir>/fire/`` by :func:`request_fire`. Jobs run in the scheduler
    thread, one at a time; an error is logged and reported, never stops the scheduler.
    Missed fires (the machine slept) fire once, then the schedule resumes.
    """

    thread_name = "scheduler"
    HEARTBEAT = "scheduler.json"

    def __init__(
        self,
        jobs: Iterable[ScheduledJob],
        state_dir: Path,
        *,
        region: str = "ap-northeast-2",
        account_id: str = DEFAULT_ACCOUNT_ID,
        clock: Callable[[], datetime] | None = None,
        tick_s: float = 0.2,
    ) -> None:
        super().__init__()
        self.jobs: dict[str, ScheduledJob] = {}
        for job in jobs:
            validate_expression(job.expression)
            if job.name in self.jobs:
                raise ValueError(f"duplicate schedule name {job.name!r}")
            self.jobs[job.name] = job
        self.state_dir = Path(state_dir)
        self.region = region
        self.account_id = account_id
        self.clock = clock or (lambda: datetime.now(UTC))
        self.tick_s = tick_s
        self.next_fires: dict[str, datetime] = {}
        self.fired: dict[str, int] = dict.fromkeys(self.jobs, 0)
        self.errors: dict[str, int] = dict.fromkeys(self.jobs, 0)
        self._lock = threading.Lock()

    # -- lookups and events -------------------------------------------------------------

    def _job(self, name: str) -> ScheduledJob:
        job = self.jobs.get(name)
        if job is None:
            job = next((j for j in self.jobs.values() if j.function_name == name), None)
        if job is None:
            known = ", ".join(sorted(self.jobs)) or "none"
            raise UnknownScheduleError(f"unknown schedule {name!r}; known: {known}")
        return job

    def _now(self) -> datetime:
        now = self.clock()
        return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)

    def scheduled_event(self, job: ScheduledJob, when: datetime) -> dict[str, Any]:
        rule = job.function_name or job.name
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": self.account_id,
            "time": when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": self.region,
            "resources": [f"arn:aws:events:{self.region}:{self.account_id}:rule/{rule}"],
            "detail": {},
        }

    def _run_job(self, job: ScheduledJob, when: datetime) -> dict[str, Any]:
        event = self.scheduled_event(job, when)
        context = LambdaContext(
            job.function_name or job.name, region=self.region, account_id=self.account_id
        )
        try:
            with self._lock:
                result = job.handler(event, context)
        except Exception as exc:
            self.errors[job.name] += 1
            logger.exception("schedule %s failed", job.name)
            return {"name": job.name, "ok": False, "error": f"{type(exc).__name__}: {exc}"}
        finally:
            self.fired[job.name] += 1
        try:
            json.dumps(result)
        except (TypeError, ValueError):
            result = repr(result)
        return {"name": job.name, "ok": True, "result": result}

    def fire_now(self, name: str) -> dict[str, Any]:
        """Run a job now, synchronously, in the caller's thread.

        Returns ``{"name", "ok", "result"}`` or ``{"name", "ok": False, "error"}``;
        raises UnknownScheduleError for an unknown name.
        """
        return self._run_job(self._job(name), self._now())

    # -- the thread ---------------------------------------------------------------------

    def start(self) -> None:
        fire_dir = _fire_dir(self.state_dir)
        fire_dir.mkdir(parents=True, exist_ok=True)
        now = self._now()
        self.next_fires = {n: next_fire(j.expression, now) for n, j in self.jobs.items()}
        _atomic_write_json(
            fire_dir / self.HEARTBEAT,
            {"pid": os.getpid(), "jobs": sorted(self.jobs), "started": now.isoformat()},
        )
        super().start()

    def stop(self, timeout: float = 5.0) -> None:
        super().stop(timeout)
        with contextlib.suppress(OSError):
            hb = _fire_dir(self.state_dir) / self.HEARTBEAT
            if json.loads(hb.read_text()).get("pid") == os.getpid():
                hb.unlink()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:
                logger.exception("scheduler tick failed")
            self._stop.wait(self.tick_s)

    def tick(self) -> None:
        """Fire the due jobs and answer the pending fire requests (one pass)."""
        now = self._now()
        for name, due in sorted(self.next_fires.items(), key=lambda kv: kv[1]):
            if due > now:
                continue
            job = self.jobs[name]
            outcome = self._run_job(job, due)
            if not outcome["ok"]:
                logger.warning("schedule %s at %s: %s", name, due.isoformat(), outcome["error"])
            self.next_fires[name] = self._following(job, due, self._now())
        self._answer_requests()

    @staticmethod
    def _following(job: ScheduledJob, due: datetime, now: datetime) -> datetime:
        period = parse_rate(job.expression)
        if period is None:
            return next_fire(job.expression, max(due, now))
        nxt = due + period
        if nxt <= now:  # missed some: keep the phase, skip the missed ones
            nxt += period * ((now - nxt) // period + 1)
        return nxt

    def _answer_requests(self) -> None:
        fire_dir = _fire_dir(self.state_dir)
        try:
            requests = sorted(fire_dir.glob("*.request.json"), key=lambda p: p.stat().st_mtime)
        except OSError:
            return
        for path in requests:
            request_id = path.name[: -len(".request.json")]
            try:
                name = json.loads(path.read_text())["name"]
            except FileNotFoundError:
                continue  # the requester gave up
            except (OSError, ValueError, KeyError, TypeError) as exc:
                answer: dict[str, Any] = {"name": None, "ok": False, "error": f"bad request: {exc}"}
            else:
                try:
                    answer = self.fire_now(str(name))
                except UnknownScheduleError as exc:
                    answer = {"name": name, "ok": False, "error": str(exc), "unknown": True}
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            _atomic_write_json(fire_dir / f"{request_id}.result.json", answer)


def request_fire(state_dir: Path, name: str, timeout: float = 30) -> dict[str, Any]:
    """Ask the running stack's scheduler to fire ``name`` now; wait for its answer.

    Returns ``{"name", "ok", "result"|"error"}``. Raises TimeoutError if no scheduler runs
    for ``state_dir`` or none answers in time, UnknownScheduleError (a KeyError) if the
    scheduler knows no such schedule.
    """
    fire_dir = _fire_dir(Path(state_dir))
    heartbeat = fire_dir / Scheduler.HEARTBEAT
    try:
        pid = int(json.loads(heartbeat.read_text())["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        pid = None
    if pid is None or not _pid_alive(pid):
        raise TimeoutError(
            f"no scheduler is running for state dir {state_dir} (no live {heartbeat}); "
            "start the local stack first: python -m infra.local up"
        )
    request_id = uuid.uuid4().hex
    request = fire_dir / f"{request_id}.request.json"
    result = fire_dir / f"{request_id}.result.json"
    _atomic_write_json(request, {"name": name})
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result.exists():
            answer: dict[str, Any] = json.loads(result.read_text())
            with contextlib.suppress(FileNotFoundError):
                result.unlink()
            if answer.get("unknown"):
                raise UnknownScheduleError(answer.get("error") or f"unknown schedule {name!r}")
            answer.pop("unknown", None)
            return answer
        time.sleep(0.05)
    picked_up = not request.exists()
    with contextlib.suppress(FileNotFoundError):
        request.unlink()
    if picked_up:
        raise TimeoutError(f"schedule {name!r} was started but did not finish within {timeout}s")
    raise TimeoutError(
        f"the scheduler for state dir {state_dir} did not pick up the request within "
        f"{timeout}s; is the local stack running (python -m infra.local up)?"
    )


# --------------------------------------------------------------------------------------
# Building everything from a Chalice app
# --------------------------------------------------------------------------------------


def _handler_for(app_module: Any, handler_string: str) -> Handler:
    attr = handler_string.rsplit(".", 1)[-1]
    handler = getattr(app_module, attr, None)
    if handler is None or not callable(handler):
        raise AttributeError(f"{handler_string!r}: no callable {attr!r} in {app_module!r}")
    return handler


def event_sources_for_app(
    app: Any,
    app_module: Any,
    *,
    sqs_client: Any,
    streams_client: Any,
    queue_url_for: Callable[[str], tuple[str, str]],
    stream_arn_for: Callable[[str], str] | None,
    region: str,
    state_dir: Path,
) -> tuple[list[SqsEventSource | DynamoDbStreamEventSource], Scheduler]:
    """Event sources and a scheduler for every SQS, DynamoDB stream and schedule handler.

    Nothing is started. ``queue_url_for(queue_name) -> (url, arn)``; ``stream_arn_for``
    maps the stream ARN given to ``on_dynamodb_record`` to the local stream's ARN.
    Other event sources (S3, SNS, ...) are not emulated and are logged.
    """
    from chalice.app import DynamoDBEventConfig, ScheduledEventConfig, SQSEventConfig

    sources: list[SqsEventSource | DynamoDbStreamEventSource] = []
    jobs: list[ScheduledJob] = []
    for config in app.event_sources:
        function_name = f"{app.app_name}-dev-{config.name}"
        handler = _handler_for(app_module, config.handler_string)
        if isinstance(config, SQSEventConfig):
            queue_name = config.queue or (config.queue_arn or "").rsplit(":", 1)[-1]
            url, arn = queue_url_for(queue_name)
            sources.append(
                SqsEventSource(
                    sqs_client,
                    url,
                    arn,
                    handler,
                    function_name=function_name,
                    batch_size=config.batch_size,
                    max_batching_window_s=config.maximum_batching_window_in_seconds or 0,
                    region=region,
                )
            )
        elif isinstance(config, DynamoDBEventConfig):
            arn = stream_arn_for(config.stream_arn) if stream_arn_for else config.stream_arn
            sources.append(
                DynamoDbStreamEventSource(
                    streams_client,
                    arn,
                    handler,
                    function_name=function_name,
                    batch_size=config.batch_size,
                    starting_position=config.starting_position or "LATEST",
                    region=region,
                )
            )
        elif isinstance(config, ScheduledEventConfig):
            expr = config.schedule_expression
            expression = expr if isinstance(expr, str) else expr.to_string()
            jobs.append(ScheduledJob(config.name, expression, handler, function_name))
        else:
            logger.warning(
                "%s: %s event sources are not emulated locally",
                function_name,
                type(config).__name__,
            )
    return sources, Scheduler(jobs, state_dir, region=region)
