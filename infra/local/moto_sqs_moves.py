"""SQS's message move task (StartMessageMoveTask, ListMessageMoveTasks,
CancelMessageMoveTask), which moto 5.2.5 does not implement (it answers 500
"not been implemented").

A task here moves at once what its source holds when it starts (AWS moves in the
background, at up to 500 messages a second, and lists the task RUNNING meanwhile): the
messages visible in the source go to the destination (the queue named, else the one queue
whose redrive policy names the source) with their bodies and attributes, each sent before
it is deleted, through moto's own send and delete (so the local stack's journal records
them as any other). As in AWS, the source must be another SQS queue's dead-letter queue,
and `ListMessageMoveTasks` answers the source's tasks, newest first.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

from moto.sqs.exceptions import InvalidParameterValue, SQSException
from moto.sqs.models import Queue, SQSBackend
from moto.sqs.responses import SQSResponse

from infra.local import moto_pins

_METHODS = ("start_message_move_task", "list_message_move_tasks", "cancel_message_move_task")
_lock = threading.Lock()
_tasks: dict[str, list[dict[str, Any]]] = {}
"""By source ARN, oldest first."""

EXPECTED_SOURCES: dict[str, str] = {
    "SQSBackend.send_message": "bf161af09a9e6b86",
    "SQSBackend.receive_message": "065f3e5e7d214408",
}


def _pinned() -> dict[str, Any]:
    return {
        "SQSBackend.send_message": SQSBackend.send_message,
        "SQSBackend.receive_message": SQSBackend.receive_message,
    }


def check() -> list[str]:
    """What differs from the moto this was written against (empty: nothing)."""
    problems = moto_pins.differences(_pinned(), EXPECTED_SOURCES, _unwrapped)
    problems += [
        f"moto's SQSResponse has its own {name}"
        for name in _METHODS
        if name in vars(SQSResponse) and not getattr(vars(SQSResponse)[name], "_gimhae", False)
    ]
    return problems


def _unwrapped(fn: Any) -> Any:
    while True:
        inner = getattr(fn, "_gimhae_journal", None) or getattr(fn, "_gimhae_moto_sqs", None)
        if inner is None:
            return fn
        fn = inner


def _queue_by_arn(backend: SQSBackend, arn: str) -> Queue:
    for queue in backend.queues.values():
        if queue.queue_arn == arn:
            return queue
    raise SQSException(
        "ResourceNotFoundException",
        "The resource that you specified for the SourceArn parameter doesn't exist.",
    )


def _sources_of(backend: SQSBackend, dlq: Queue) -> list[Queue]:
    return [
        q
        for q in backend.queues.values()
        if q.redrive_policy and q.redrive_policy.get("deadLetterTargetArn") == dlq.queue_arn
    ]


def move_all(backend: SQSBackend, source: Queue, destination: Queue) -> int:
    """Every message visible in `source` to `destination`, each sent before deleted."""
    moved = 0
    while True:
        batch = backend.receive_message(
            source.name,
            count=10,
            wait_seconds_timeout=0,
            visibility_timeout=30,
            message_attribute_names=["All"],
        )
        if not batch:
            return moved
        for message in batch:
            backend.send_message(
                destination.name,
                message.body,
                message_attributes=dict(message.message_attributes or {}),
            )
            backend.delete_message(source.name, str(message.receipt_handle))
            moved += 1


def _start(self: SQSResponse) -> Any:
    from moto.core.responses import ActionResult

    backend = self.sqs_backend
    source_arn = self._get_param("SourceArn")
    source = _queue_by_arn(backend, source_arn)
    origins = _sources_of(backend, source)
    if not origins:
        raise InvalidParameterValue("Source queue must be configured as a Dead Letter Queue.")
    destination_arn = self._get_param("DestinationArn")
    if destination_arn:
        destination = _queue_by_arn(backend, destination_arn)
    elif len(origins) == 1:
        destination = origins[0]
    else:  # AWS reads each message's origin; this emulation needs it named
        raise InvalidParameterValue("DestinationArn: the source has several origins")
    with _lock:
        tasks = _tasks.setdefault(source_arn, [])
        if any(t["Status"] == "RUNNING" for t in tasks):
            raise SQSException("UnsupportedOperation", "A message move task is already running.")
        task: dict[str, Any] = {
            "TaskHandle": uuid.uuid4().hex,
            "Status": "RUNNING",
            "SourceArn": source_arn,
            "DestinationArn": destination.queue_arn,
            "ApproximateNumberOfMessagesMoved": 0,
            "ApproximateNumberOfMessagesToMove": int(source.approximate_number_of_messages),
            "StartedTimestamp": int(time.time() * 1000),
        }
        tasks.append(task)
    try:
        task["ApproximateNumberOfMessagesMoved"] = move_all(backend, source, destination)
        task["Status"] = "COMPLETED"
    except Exception as e:  # the task fails as AWS's does, with its reason
        task["Status"] = "FAILED"
        task["FailureReason"] = str(e)[:200]
    return ActionResult({"TaskHandle": task["TaskHandle"]})


def _list(self: SQSResponse) -> Any:
    from moto.core.responses import ActionResult

    source_arn = self._get_param("SourceArn")
    _queue_by_arn(self.sqs_backend, source_arn)
    limit = int(self._get_param("MaxResults") or 1)
    with _lock:
        found = list(reversed(_tasks.get(source_arn, [])))[:limit]
    return ActionResult({"Results": [dict(t) for t in found]})


def _cancel(self: SQSResponse) -> Any:
    from moto.core.responses import ActionResult

    handle = self._get_param("TaskHandle")
    with _lock:
        for task in (t for tasks in _tasks.values() for t in tasks):
            if task["TaskHandle"] == handle and task["Status"] == "RUNNING":
                task["Status"] = "CANCELLED"
                return ActionResult({"ApproximateNumberOfMessagesMoved": 0})
    raise SQSException("ResourceNotFoundException", "no running task has this handle")


_installed: list[bool] = []


def installed() -> bool:
    return bool(_installed)


def install() -> None:
    """Add the three actions to moto's SQS (idempotent)."""
    with _lock:
        if _installed:
            return
        for name, fn in zip(_METHODS, (_start, _list, _cancel), strict=True):
            fn._gimhae = True  # type: ignore[attr-defined]
            setattr(SQSResponse, name, fn)
        _installed.append(True)


def reset() -> None:
    """Forget every task (a fresh account)."""
    with _lock:
        _tasks.clear()
