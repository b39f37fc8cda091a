"""SQS adapter: how many messages each dead-letter and stream on-failure queue holds, and
moving a dead-letter queue's messages back to the queue they failed on.

A whole queue moves by SQS's own message move task (StartMessageMoveTask: in the
background, at SQS's pace, one task per queue at a time); `limit` messages move here, by
receive, send, delete (send before delete: a crash between the two leaves a message in
both queues, never in neither, and every consumer is idempotent, DESIGN §6). A stream's
on-failure queue holds pointers to stream records, not messages (SQS's move task refuses
a queue that is not an SQS queue's dead-letter queue): it is not redriven.
"""

from __future__ import annotations

from functools import cache
from typing import Any, Literal

from chalicelib import queues, streams
from chalicelib.adapters import aws_clients
from chalicelib.domain.operations import (
    NotRedrivable,
    ParkedMessages,
    RedriveRunning,
    UnknownQueue,
)

MOVE_VISIBILITY_S = 60
"""How long a message being moved by hand is hidden from another mover."""


@cache
def _url(name: str) -> str:
    return str(aws_clients.client("sqs").get_queue_url(QueueName=name)["QueueUrl"])


@cache
def _arn(name: str) -> str:
    attributes = aws_clients.client("sqs").get_queue_attributes(
        QueueUrl=_url(name), AttributeNames=["QueueArn"]
    )["Attributes"]
    return str(attributes["QueueArn"])


class SqsDeadLetters:
    def depths(self) -> list[ParkedMessages]:
        parked: list[tuple[str, str, Literal["dead_letter", "stream_failures"]]] = [
            (spec.name, spec.dlq_name, "dead_letter") for spec in queues.ALL_QUEUES
        ]
        parked += [
            (spec.handler, spec.failure_queue_name, "stream_failures")
            for spec in streams.ALL_STREAMS
        ]
        return [self._depth(consumer, queue, kind) for consumer, queue, kind in parked]

    @staticmethod
    def _depth(
        consumer: str, queue: str, kind: Literal["dead_letter", "stream_failures"]
    ) -> ParkedMessages:
        attributes = aws_clients.client("sqs").get_queue_attributes(
            QueueUrl=_url(queue),
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return ParkedMessages(
            consumer=consumer,
            queue=queue,
            kind=kind,
            messages=int(attributes.get("ApproximateNumberOfMessages", 0)),
            in_flight=int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
        )

    def redrive(self, queue: str, limit: int | None) -> int:
        """Move `queue`'s messages back to the queue they failed on: all of them by a move
        task (answers how many it had to move), or at most `limit` here (answers how many
        moved). Raises UnknownQueue, NotRedrivable, RedriveRunning."""
        source = _redrive_target(queue)
        sqs = aws_clients.client("sqs")
        if limit is not None:
            return _move(sqs, queue, source, limit)
        tasks = sqs.list_message_move_tasks(SourceArn=_arn(queue), MaxResults=1)
        if any(t.get("Status") == "RUNNING" for t in tasks.get("Results", [])):
            raise RedriveRunning(f"a redrive of {queue} is already running")
        depth = self._depth(queue, queue, "dead_letter").messages
        if depth == 0:
            return 0
        try:
            sqs.start_message_move_task(SourceArn=_arn(queue), DestinationArn=_arn(source))
        except sqs.exceptions.UnsupportedOperation as e:
            raise RedriveRunning(f"a redrive of {queue} is already running: {e}") from e
        return depth


def _redrive_target(queue: str) -> str:
    """The queue a dead-letter queue's messages failed on."""
    for spec in queues.ALL_QUEUES:
        if spec.dlq_name == queue:
            return spec.name
    for stream in streams.ALL_STREAMS:
        if stream.failure_queue_name == queue:
            raise NotRedrivable(
                f"{queue} holds pointers to {stream.handler}'s stream records, not the records: "
                "SQS cannot move them back to a stream. Their records are in the stream for "
                "24 hours; fix the cause, then purge the queue once the records are replayed "
                "or reconciled (the ledger audit reconciles the stats)"
            )
    raise UnknownQueue(queue)


def _move(sqs: Any, queue: str, destination: str, limit: int) -> int:
    """At most `limit` messages, ten at a time: received (hidden from other movers), sent
    to `destination` with their attributes, then deleted."""
    moved = 0
    while moved < limit:
        received = sqs.receive_message(
            QueueUrl=_url(queue),
            MaxNumberOfMessages=min(10, limit - moved),
            VisibilityTimeout=MOVE_VISIBILITY_S,
            WaitTimeSeconds=0,
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not received:
            break
        entries = [
            {
                "Id": str(i),
                "MessageBody": m["Body"],
                **(
                    {"MessageAttributes": m["MessageAttributes"]}
                    if m.get("MessageAttributes")
                    else {}
                ),
            }
            for i, m in enumerate(received)
        ]
        sent = sqs.send_message_batch(QueueUrl=_url(destination), Entries=entries)
        done = {int(s["Id"]) for s in sent.get("Successful", [])}
        if done:
            sqs.delete_message_batch(
                QueueUrl=_url(queue),
                Entries=[
                    {"Id": str(i), "ReceiptHandle": received[i]["ReceiptHandle"]} for i in done
                ],
            )
        moved += len(done)
        if len(done) < len(received):
            break  # the rest come back after their visibility timeout
    return moved
