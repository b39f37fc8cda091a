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
from infra.cdk.functions import Function
from infra.cdk.stage import Stage

DEVICES_NAMESPACE = "Gimhae/Devices"
OFFLINE_DEVICES = "OfflineDevices"
FUNCTION_ALARMS = ("Errors", "Throttles")


def queue_depth(queue: sqs.IQueue) -> cloudwatch.Metric:
    """Messages waiting, the most seen in a minute: what the DLQ alarms and the dashboard read."""
    return queue.metric_approximate_number_of_messages_visible(
        period=cdk.Duration.minutes(1), statistic="Maximum"
    )


def function_metric(
    api: Api, function: Function, metric: str, statistic: str = "Sum"
) -> cloudwatch.Metric:
    """One of a function's AWS/Lambda metrics, by the name CloudFormation gives it."""
    return cloudwatch.Metric(
        namespace="AWS/Lambda",
        metric_name=metric,
        dimensions_map={"FunctionName": api.chalice.get_resource(function.logical_id).ref},
        statistic=statistic,
        period=cdk.Duration.minutes(1),
    )


def offline_devices(stage: Stage) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace=DEVICES_NAMESPACE,
        metric_name=OFFLINE_DEVICES,
        dimensions_map={"Stage": stage.name},
        statistic="Maximum",
        period=cdk.Duration.minutes(1),
    )


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
                queue_depth(queue),
                f"Messages are waiting in {name}: see the quarantine and redrive them",
            )
        for function in api.functions:
            for metric in FUNCTION_ALARMS:
                self._alarm(
                    f"{function.handler}-{metric.lower()}",
                    function_metric(api, function, metric),
                    f"{function.handler}: {metric.lower()} in the last minute",
                )
        self._alarm(
            "devices-offline",
            offline_devices(stage),
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
