"""A gauge as CloudWatch embedded metric format, through Powertools' single metric.

The CDK alarm on offline devices (infra/cdk/alarms.py) watches `Gimhae/Devices`
`OfflineDevices` with the one dimension `Stage`: the app's own Metrics would add the
`service` dimension and miss the alarm, so this metric is written on its own. It obeys
Powertools' own switch (POWERTOOLS_METRICS_DISABLED), as the app's metrics do.
"""

from __future__ import annotations

DEVICES_NAMESPACE = "Gimhae/Devices"


def put_gauge(name: str, value: float, stage: str) -> None:
    from aws_lambda_powertools.metrics.functions import is_metrics_disabled

    if is_metrics_disabled():
        return
    import json

    from aws_lambda_powertools.metrics import MetricUnit
    from aws_lambda_powertools.metrics.base import SingleMetric

    metric = SingleMetric(namespace=DEVICES_NAMESPACE, service="")
    metric.add_metric(name=name, unit=MetricUnit.Count, value=value)
    metric.add_dimension(name="Stage", value=stage)
    print(json.dumps(metric.serialize_metric_set(), separators=(",", ":")))
