"""SQS queues with their dead-letter queues (from chalicelib.queues) and the alerts topic."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from chalicelib import queues
from infra.cdk.security import Keys
from infra.cdk.stage import Stage


class Queues(Construct):
    """`by_logical[logical]` is the queue, `dlq_by_logical[logical]` its dead-letter queue."""

    def __init__(self, scope: Construct, construct_id: str, *, stage: Stage) -> None:
        super().__init__(scope, construct_id)
        self.specs = {spec.logical: spec for spec in queues.ALL_QUEUES}
        self.by_logical: dict[str, sqs.Queue] = {}
        self.dlq_by_logical: dict[str, sqs.Queue] = {}
        self._logical_by_name: dict[str, str] = {}
        for spec in queues.ALL_QUEUES:
            name, dlq_name = stage.names.queues[spec.logical]
            self._logical_by_name[name] = spec.logical
            dlq = sqs.Queue(
                self,
                f"{spec.logical}-dlq",
                queue_name=dlq_name,
                retention_period=cdk.Duration.seconds(spec.dlq_retention_s),
                encryption=sqs.QueueEncryption.SQS_MANAGED,
                enforce_ssl=True,
            )
            self.dlq_by_logical[spec.logical] = dlq
            self.by_logical[spec.logical] = sqs.Queue(
                self,
                spec.logical,
                queue_name=name,
                visibility_timeout=cdk.Duration.seconds(spec.visibility_timeout_s),
                retention_period=cdk.Duration.seconds(spec.retention_s),
                encryption=sqs.QueueEncryption.SQS_MANAGED,
                enforce_ssl=True,
                dead_letter_queue=sqs.DeadLetterQueue(
                    queue=dlq, max_receive_count=spec.max_receive_count
                ),
            )

    def by_name(self, name: str) -> sqs.Queue | None:
        """The queue the app subscribes to by name (Chalice's `on_sqs_message(queue=...)`)."""
        logical = self._logical_by_name.get(name)
        return None if logical is None else self.by_logical[logical]


class AlertsTopic(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, stage: Stage, keys: Keys) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(
            self,
            "Topic",
            topic_name=stage.names.alerts_topic,
            display_name="Gimhae smart city operator alerts",
            master_key=keys.alerts,
            enforce_ssl=True,
        )
