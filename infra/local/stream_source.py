"""The DynamoDB stream event source: reads a stream shard by shard and invokes the handler
like Lambda's stream poller, with the error handling an event source mapping is given:

- records of a shard are delivered in order, one batch at a time;
- ``batchItemFailures`` (``ReportBatchItemFailures``): the records before the lowest failed
  sequence number are done, the next attempt starts at it;
- a function error (an exception, or an invalid response) retries the batch, or, with
  ``BisectBatchOnFunctionError``, splits it in two and retries each half on its own, so a
  poison record ends up alone while the records before and after it go through;
- ``MaximumRetryAttempts`` counts per batch (a bisected half starts again at zero); a batch
  that exhausted them is handed to the on-failure destination and skipped.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from infra.local.lambda_runtime import (
    DEFAULT_ACCOUNT_ID,
    Handler,
    LambdaContext,
    read_batch_response,
)
from infra.local.worker import Worker

logger = logging.getLogger(__name__)


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


def _iso_time(epoch_seconds: Any) -> Any:
    """Lambda's records carry epoch seconds; an on-failure record carries ISO 8601 UTC."""
    if isinstance(epoch_seconds, int | float):
        return datetime.fromtimestamp(epoch_seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return epoch_seconds


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


def stream_event(streams_client: Any, stream_arn: str, region: str) -> dict[str, Any]:
    """Everything a stream holds so far, as one Lambda event (for tests and benchmarks:
    Chalice's test client has no DynamoDB stream events)."""
    records: list[dict[str, Any]] = []
    shards = streams_client.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]
    for shard in shards:
        iterator = streams_client.get_shard_iterator(
            StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        found = streams_client.get_records(ShardIterator=iterator, Limit=1000)["Records"]
        records += [dynamodb_record(r, stream_arn=stream_arn, region=region) for r in found]
    return {"Records": records}


@dataclass
class _Batch:
    records: list[dict[str, Any]]  # Lambda-shaped, in shard order
    attempts: int = 0  # failed invocations of these records

    @property
    def first(self) -> dict[str, Any]:
        return dict(self.records[0]["dynamodb"])

    @property
    def last(self) -> dict[str, Any]:
        return dict(self.records[-1]["dynamodb"])


@dataclass
class _Shard:
    shard_id: str
    parent_id: str | None
    iterator_type: str
    iterator: str | None = None
    closed: bool = False
    batches: list[_Batch] = field(default_factory=list)  # fetched, not yet handled; in order
    retry_at: float = 0.0
    last_sequence: str | None = None  # the last record handled (done or given up)


class DynamoDbStreamEventSource(Worker):
    """Reads a DynamoDB stream and invokes the handler like Lambda's stream poller.

    Per shard, records are delivered in order. On ``batchItemFailures`` the next attempt
    starts at the lowest failed ``SequenceNumber`` (earlier records count as done); on an
    exception or an invalid response, the whole batch is retried, or split in two first
    with ``bisect_on_error``. With ``max_retry_attempts >= 0``, a batch that failed
    ``1 + max_retry_attempts`` times is handed to ``on_failure`` (the record AWS sends to an
    on-failure destination) and skipped; ``-1`` retries until it succeeds.
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
        bisect_on_error: bool = False,
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
        self.bisect_on_error = bisect_on_error
        self.on_failure = on_failure
        self.region = region
        self.account_id = account_id
        self.poll_interval_s = poll_interval_s
        self.retry_delay_s = retry_delay_s
        self.describe_interval_s = describe_interval_s
        self.thread_name = f"ddb-stream:{function_name}"
        self._shards: dict[str, _Shard] = {}
        self._resume_after: dict[str, str] = {}
        self._described_once = False
        self._next_describe = 0.0
        self.invocations = 0
        self.successes = 0
        self.failures = 0
        self.records_done = 0
        self.records_discarded = 0
        self.last_error: str | None = None
        self.rewinds = 0
        self._replay_to: dict[str, str] = {}  # per shard: where the source was at a rewind
        self._lock = threading.Lock()  # a pass of the poller, or a rewind from another thread

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
                        last_sequence=self._resume_after.get(s["ShardId"]),
                    )
            last = desc.get("LastEvaluatedShardId")
            if not last:
                break
            kwargs["ExclusiveStartShardId"] = last
        self._described_once = True

    def positions(self) -> dict[str, str]:
        """Per shard, the last record handled: where a restarted stack resumes (like an
        event source mapping's position, kept by Lambda across deployments)."""
        return {
            shard.shard_id: shard.last_sequence
            for shard in list(self._shards.values())  # read from another thread too
            if shard.last_sequence is not None
        }

    def resume_after(self, positions: dict[str, str]) -> None:
        """Before start: read each of these shards after its last handled record."""
        self._resume_after = dict(positions)

    def rewind(self) -> dict[str, str]:
        """Back to the start of the stream (TRIM_HORIZON), from any thread: every record the
        stream still holds is delivered again, in order, as a new event source mapping at
        TRIM_HORIZON would (to rebuild a projection, or to show a consumer is exactly once).
        Takes effect between two batches; returns the positions the source had reached, which
        :meth:`replay_pending` reports until they are reached again."""
        with self._lock:
            reached = self.positions()
            for shard_id, sequence in reached.items():
                before = self._replay_to.get(shard_id)
                if before is None or int(sequence) > int(before):
                    self._replay_to[shard_id] = sequence
            for shard in self._shards.values():
                shard.iterator_type = "TRIM_HORIZON"
                shard.iterator = None
                shard.last_sequence = None
                shard.batches = []
                shard.closed = False  # a closed shard is read again from its start
                shard.retry_at = 0.0
            self._resume_after = {}
            if not self._described_once:
                self.starting_position = "TRIM_HORIZON"
            self.rewinds += 1
            return reached

    def replay_pending(self) -> dict[str, str]:
        """Per shard, the position a rewind must reach again before every record it
        re-delivers has been handled; empty once the replay is over."""
        pending = {}
        for shard_id, target in list(self._replay_to.items()):
            shard = self._shards.get(shard_id)
            last = shard.last_sequence if shard is not None else None
            if last is None or int(last) < int(target):
                pending[shard_id] = target
        return pending

    def _ready(self, shard: _Shard) -> bool:
        if shard.closed and not shard.batches:
            return False
        parent = self._shards.get(shard.parent_id or "")
        return parent is None or (parent.closed and not parent.batches)

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
        records = [
            dynamodb_record(r, stream_arn=self.stream_arn, region=self.region)
            for r in resp.get("Records", [])
        ]
        shard.batches = [_Batch(records)] if records else []

    # -- invoking ---------------------------------------------------------------------

    def poll_once(self) -> int:
        """One pass over the ready shards; returns the number of records delivered."""
        with self._lock:
            return self._poll_once()

    def _poll_once(self) -> int:
        now = time.monotonic()
        if not self._described_once or now >= self._next_describe:
            self.refresh_shards()
            self._next_describe = now + self.describe_interval_s
        delivered = 0
        for shard in list(self._shards.values()):
            if not self._ready(shard) or shard.retry_at > time.monotonic():
                continue
            if not shard.batches:
                self._fetch(shard)
            if shard.batches:
                delivered += len(shard.batches[0].records)
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
        batch = shard.batches[0]
        records = batch.records
        event = {"Records": records}
        context = LambdaContext(self.function_name, region=self.region, account_id=self.account_id)
        self.invocations += 1
        seqs = [r["dynamodb"]["SequenceNumber"] for r in records]
        try:
            result = self.handler(event, context)
        except Exception as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"
            logger.exception(
                "%s: handler raised on %d records of %s",
                self.function_name,
                len(records),
                shard.shard_id,
            )
            self._function_error(shard, batch, "Unhandled")
            return
        outcome = read_batch_response(result, set(seqs))
        if outcome.ok:
            self.successes += 1
            self._done(shard, records)
            shard.batches.pop(0)
            return
        if outcome.whole_batch_failed:
            self.last_error = outcome.reason
            logger.error("%s: %s; the whole batch fails", self.function_name, outcome.reason)
            self._function_error(shard, batch, "InvalidResponse")
            return
        # Partial failure: checkpoint before the lowest failed record, retry from it (with
        # bisect on too: AWS splits the batch at that sequence number).
        lowest = min(outcome.failed_ids, key=int)
        cut = seqs.index(lowest)
        self._done(shard, records[:cut])
        batch.records = records[cut:]
        logger.info(
            "%s: record %s failed; retrying from it (%d records)",
            self.function_name,
            lowest,
            len(batch.records),
        )
        self._failed(shard, batch, "PartialBatchFailure")

    def _done(self, shard: _Shard, records: list[dict[str, Any]]) -> None:
        if records:
            shard.last_sequence = records[-1]["dynamodb"]["SequenceNumber"]
            self.records_done += len(records)

    def _function_error(self, shard: _Shard, batch: _Batch, error: str) -> None:
        if not self.bisect_on_error or len(batch.records) < 2:
            self._failed(shard, batch, error)
            return
        self.failures += 1
        half = len(batch.records) // 2
        shard.batches[0:1] = [_Batch(batch.records[:half]), _Batch(batch.records[half:])]
        shard.retry_at = time.monotonic() + self.retry_delay_s
        logger.info(
            "%s: bisecting a failed batch of %d records of %s",
            self.function_name,
            len(batch.records),
            shard.shard_id,
        )

    def _failed(self, shard: _Shard, batch: _Batch, error: str) -> None:
        self.failures += 1
        batch.attempts += 1
        if 0 <= self.max_retry_attempts < batch.attempts:
            self._give_up(shard, batch, error)
            return
        shard.retry_at = time.monotonic() + self.retry_delay_s

    def _give_up(self, shard: _Shard, batch: _Batch, error: str) -> None:
        records, first, last = batch.records, batch.first, batch.last
        info = {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": f"arn:aws:lambda:{self.region}:{self.account_id}:function:"
                f"{self.function_name}",
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": batch.attempts,
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
                "approximateArrivalOfFirstRecord": _iso_time(
                    first.get("ApproximateCreationDateTime")
                ),
                "approximateArrivalOfLastRecord": _iso_time(
                    last.get("ApproximateCreationDateTime")
                ),
                "batchSize": len(records),
                "streamArn": self.stream_arn,
            },
        }
        logger.error(
            "%s: giving up on %d records of %s after %d attempts",
            self.function_name,
            len(records),
            shard.shard_id,
            batch.attempts,
        )
        self.records_discarded += len(records)
        shard.last_sequence = last.get("SequenceNumber")
        shard.batches.remove(batch)
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
            "positions": self.positions(),
            "rewinds": self.rewinds,
            "replay_pending": self.replay_pending(),
        }
