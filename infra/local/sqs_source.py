"""The SQS event source: polls a queue and invokes the handler like Lambda's SQS poller.

Partial batch failures (``batchItemFailures``) delete only the successful messages; a raised
exception deletes nothing; the failed messages come back after the queue's visibility
timeout. Redrive to the DLQ after ``maxReceiveCount`` is done by moto itself on receive
(moto 5.2.5 moves a visible message whose receive count has reached ``maxReceiveCount`` to
the DLQ instead of delivering it, as SQS does).

Like Lambda's SQS pollers (several per queue, each invoking the function with its own batch,
concurrently), ``concurrency`` threads poll the queue, each receiving, invoking and deleting
its own batches; the visibility timeout keeps a received message from the others.

A batch is held while its invocation runs: AWS requires a queue's visibility timeout to be at
least its function's timeout, so a message is never handed to another poller while its
invocation runs. The local stack shortens the timeout for fast retries (``--sqs-visibility-
timeout 2``); without the hold, an invocation slower than that (a cold worker on a busy
machine) would see its messages handled a second time beside it, which AWS never does. The
hold extends the batch's visibility every quarter of the timeout until the invocation ends;
a failed message then comes back one timeout after the last extension, as fast as before. On moto
server, install :mod:`infra.local.moto_sqs` so that concurrent receives never hand out one
message twice (the local stack does).
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from infra.local.lambda_runtime import (
    DEFAULT_ACCOUNT_ID,
    Handler,
    LambdaContext,
    read_batch_response,
)
from infra.local.worker import Worker

logger = logging.getLogger(__name__)

IDLE_REST_S = 0.2  # how long a poller other than the first rests on an empty queue


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


class SqsEventSource(Worker):
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
        concurrency: int = 1,
    ) -> None:
        super().__init__()
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        if concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        self.concurrency = concurrency
        self._threads: list[threading.Thread] = []
        self._counters = threading.Lock()
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
        self.visibility_s: int | None = None
        """The queue's visibility timeout, read at start: what a hold extends a batch by."""

    # -- pollers ----------------------------------------------------------------------

    def start(self) -> None:
        if any(t.is_alive() for t in self._threads):
            return
        self._stop.clear()
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["VisibilityTimeout"]
        )["Attributes"]
        self.visibility_s = int(attributes["VisibilityTimeout"])
        self._threads = [
            threading.Thread(target=self._run_safely, name=f"{self.thread_name}#{n}", daemon=True)
            for n in range(self.concurrency)
        ]
        for thread in self._threads:
            thread.start()
        self._thread = self._threads[0]

    def stop(self, timeout: float = 5.0) -> None:
        """Stop every poller: each finishes (and deletes) the batch it is processing."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                logger.warning("%s did not stop within %.1fs", thread.name, timeout)
        self._threads = []
        self._thread = None

    @property
    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def _count(self, **increments: int) -> None:
        with self._counters:
            for name, n in increments.items():
                setattr(self, name, getattr(self, name) + n)

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

    def _gather_batch(self, long_poll: bool = True) -> list[dict[str, Any]]:
        """Up to ``batch_size`` messages, waiting at most the batching window for more."""
        batch: dict[str, dict[str, Any]] = {}
        for m in self._receive(self.batch_size, self.wait_time_s if long_poll else 0):
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

    def poll_once(self, long_poll: bool = True) -> int:
        """Receive one batch and process it; returns the number of messages received."""
        messages = self._gather_batch(long_poll)
        if messages:
            self._process(messages)
        return len(messages)

    def _run(self) -> None:
        # One poller long-polls; the others poll without waiting and, on an empty queue, rest
        # a moment: a long poll holds the queue's receive lock (infra/local/moto_sqs.py), and
        # pollers queued behind each other's long polls would make stopping take seconds.
        first = threading.current_thread() is (self._threads[0] if self._threads else None)
        while not self._stop.is_set():
            try:
                if not self.poll_once(long_poll=first or not self._threads) and not first:
                    self._stop.wait(IDLE_REST_S)
            except Exception as exc:  # the queue vanished, the emulator is down...
                if self._stop.is_set():
                    return
                self.last_error = f"poll: {exc}"
                logger.warning("%s: polling %s failed: %s", self.function_name, self.queue_url, exc)
                self._stop.wait(self.error_backoff_s)

    # -- invoking ---------------------------------------------------------------------

    def _process(self, messages: list[dict[str, Any]]) -> None:
        records = [sqs_record(m, queue_arn=self.queue_arn, region=self.region) for m in messages]
        event = {"Records": records}
        context = LambdaContext(self.function_name, region=self.region, account_id=self.account_id)
        self._count(invocations=1)
        try:
            with self._held(messages):
                result = self.handler(event, context)
        except Exception as exc:
            self._count(failures=1, records_failed=len(messages))
            self.last_error = f"{type(exc).__name__}: {exc}"
            logger.exception(
                "%s: handler raised on a batch of %d; none deleted, all will be redelivered",
                self.function_name,
                len(messages),
            )
            return
        outcome = read_batch_response(result, {m["MessageId"] for m in messages})
        if outcome.whole_batch_failed:
            self._count(failures=1, records_failed=len(messages))
            self.last_error = outcome.reason
            logger.error("%s: %s; the whole batch fails", self.function_name, outcome.reason)
            return
        failed = set(outcome.failed_ids)
        if failed:
            self._count(failures=1, records_failed=len(failed))
            logger.info(
                "%s: %d of %d records failed; they will be redelivered",
                self.function_name,
                len(failed),
                len(messages),
            )
        else:
            self._count(successes=1)
        self._delete([m for m in messages if m["MessageId"] not in failed])

    @contextmanager
    def _held(self, messages: list[dict[str, Any]]) -> Iterator[None]:
        """Keep `messages` from the other pollers while the block runs (see the module)."""
        visibility = self.visibility_s
        if not visibility:
            yield
            return
        over = threading.Event()

        def hold() -> None:
            while not over.wait(visibility / 4):
                for start in range(0, len(messages), 10):
                    chunk = messages[start : start + 10]
                    entries = [
                        {
                            "Id": str(i),
                            "ReceiptHandle": m["ReceiptHandle"],
                            "VisibilityTimeout": visibility,
                        }
                        for i, m in enumerate(chunk)
                    ]
                    try:
                        self.sqs.change_message_visibility_batch(
                            QueueUrl=self.queue_url, Entries=entries
                        )
                    except Exception as exc:  # the emulator is stopping: nothing to hold
                        logger.debug("%s: holding a batch failed: %s", self.function_name, exc)

        holder = threading.Thread(target=hold, name=f"{self.thread_name}:hold", daemon=True)
        holder.start()
        try:
            yield
        finally:
            over.set()
            holder.join()

    def _delete(self, messages: list[dict[str, Any]]) -> None:
        for start in range(0, len(messages), 10):
            chunk = messages[start : start + 10]
            resp = self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)
                ],
            )
            self._count(records_deleted=len(resp.get("Successful", [])))
            for failure in resp.get("Failed", []):
                logger.warning("%s: could not delete message: %s", self.function_name, failure)

    def stats(self) -> dict[str, Any]:
        return {
            "function_name": self.function_name,
            "queue_url": self.queue_url,
            "concurrency": self.concurrency,
            "invocations": self.invocations,
            "successes": self.successes,
            "failures": self.failures,
            "records_deleted": self.records_deleted,
            "records_failed": self.records_failed,
            "last_error": self.last_error,
        }
