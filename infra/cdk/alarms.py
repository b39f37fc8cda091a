"""CloudWatch alarms to the operator alerts topic: anything in a dead-letter queue, function
errors and throttles, and devices gone offline (a metric the device-health job publishes)."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.cdk.api import Api
from infra.cdk.stage import Stage

DEVICES_NAMESPACE = "Gimhae/Devices"
OFFLINE_DEVICES = "OfflineDevices"


class Alarms(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: Stage,
        dead_letter_queues: dict[str, sqs.IQueue],
        api: Api,
        topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, construct_id)
        self._action = actions.SnsAction(topic)
        self._prefix = stage.prefix
        for name, queue in dead_letter_queues.items():
            self._alarm(
                f"{name}-dlq-depth",
                queue.metric_approximate_number_of_messages_visible(
                    period=cdk.Duration.minutes(1), statistic="Maximum"
                ),
                f"Messages are waiting in {name}: see the quarantine and redrive them",
            )
        for function in api.functions:
            function_name = api.chalice.get_resource(function.logical_id).ref
            for metric in ("Errors", "Throttles"):
                self._alarm(
                    f"{function.handler}-{metric.lower()}",
                    cloudwatch.Metric(
                        namespace="AWS/Lambda",
                        metric_name=metric,
                        dimensions_map={"FunctionName": function_name},
                        statistic="Sum",
                        period=cdk.Duration.minutes(1),
                    ),
                    f"{function.handler}: {metric.lower()} in the last minute",
                )
        self._alarm(
            "devices-offline",
            cloudwatch.Metric(
                namespace=DEVICES_NAMESPACE,
                metric_name=OFFLINE_DEVICES,
                dimensions_map={"Stage": stage.name},
                statistic="Maximum",
                period=cdk.Duration.minutes(1),
            ),
            "Devices have been offline for 10 minutes",
            evaluation_periods=10,
        )

    def _alarm(
        self, name: str, metric: cloudwatch.Metric, description: str, evaluation_periods: int = 1
    ) -> None:
        alarm = cloudwatch.Alarm(
            self,
            name,
            alarm_name=f"{self._prefix}-{name}",
            alarm_description=description,
            metric=metric,
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=evaluation_periods,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(self._action)
