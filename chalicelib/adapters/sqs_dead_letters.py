"""SQS adapter: how many messages each dead-letter and stream on-failure queue holds."""

from __future__ import annotations

from functools import cache
from typing import Literal

from chalicelib import queues, streams
from chalicelib.adapters import aws_clients
from chalicelib.domain.operations import ParkedMessages


@cache
def _url(name: str) -> str:
    return str(aws_clients.client("sqs").get_queue_url(QueueName=name)["QueueUrl"])


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
