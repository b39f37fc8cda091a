"""SQS adapter: how many messages each dead-letter queue holds (for admins)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from chalicelib import queues
from chalicelib.adapters import aws_clients


@dataclass(frozen=True)
class DeadLetters:
    queue: str
    dead_letter_queue: str
    messages: int
    in_flight: int


@cache
def _url(name: str) -> str:
    return str(aws_clients.client("sqs").get_queue_url(QueueName=name)["QueueUrl"])


def depths() -> list[DeadLetters]:
    found = []
    for spec in queues.ALL_QUEUES:
        attributes = aws_clients.client("sqs").get_queue_attributes(
            QueueUrl=_url(spec.dlq_name),
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        found.append(
            DeadLetters(
                queue=spec.name,
                dead_letter_queue=spec.dlq_name,
                messages=int(attributes.get("ApproximateNumberOfMessages", 0)),
                in_flight=int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
            )
        )
    return found
