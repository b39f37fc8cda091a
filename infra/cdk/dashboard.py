"""The operators' CloudWatch dashboard: one page a city's on-call opens first.

Rows: the city's own counts (deposits by outcome, rejections by reason, step syncs, alerts
opened by kind, the devices offline), then what carries them (queue and dead-letter depths,
stream iterator age), then the API (p95 latency, 5xx, WAF blocks) and every function's
errors and throttles. Its queues, functions and metrics are the alarms' own (infra/cdk/alarms.py):
the same dead-letter list and metric builders, so an alarm always has its graph.

The app's counts are Powertools EMF metrics (chalicelib.wiring: namespace `GimhaeSmartCity`,
dimension `service`); reasons and kinds are the domain's own Literals, one line each.
"""

from __future__ import annotations

from typing import get_args

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from chalicelib import wiring
from chalicelib.domain.alerts import AlertKind
from chalicelib.domain.recycling import RejectReason
from infra.cdk import functions as fn
from infra.cdk.alarms import FUNCTION_ALARMS, function_metric, offline_devices, queue_depth
from infra.cdk.api import API_STAGE, Api
from infra.cdk.firewall import Firewall
from infra.cdk.stage import Stage
from infra.stage import chalice_config

PERIOD = cdk.Duration.minutes(5)
DEPOSIT_OUTCOMES = ("Credited", "Duplicate", "Rejected")
"""`Deposits<Status>` as the deposit handler counts them (chalicelib.events.device_messages)."""
WIDTH = 24


def app_count(name: str, label: str | None = None) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace=wiring.METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map={"service": wiring.SERVICE},
        statistic="Sum",
        period=PERIOD,
        label=label or name,
    )


def api_metric(metric: str, statistic: str) -> cloudwatch.Metric:
    """API Gateway's metrics for a REST API are by its name (Chalice's app_name) and stage."""
    return cloudwatch.Metric(
        namespace="AWS/ApiGateway",
        metric_name=metric,
        dimensions_map={"ApiName": chalice_config()["app_name"], "Stage": API_STAGE},
        statistic=statistic,
        period=PERIOD,
    )


def graph(
    title: str,
    metrics: list[cloudwatch.IMetric],
    *,
    stacked: bool = False,
    width: int = WIDTH // 4,
) -> cloudwatch.GraphWidget:
    return cloudwatch.GraphWidget(title=title, left=metrics, stacked=stacked, width=width, height=6)


class Dashboard(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: Stage,
        queues: dict[str, sqs.IQueue],
        dead_letter_queues: dict[str, sqs.IQueue],
        api: Api,
        firewall: Firewall,
    ) -> None:
        super().__init__(scope, construct_id)
        streams = [f for f in api.functions if f.kind == fn.DYNAMODB]
        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=f"{stage.prefix}-operations",
            default_interval=cdk.Duration.hours(6),
            widgets=[
                [
                    graph(
                        "Deposits by outcome",
                        [app_count(f"Deposits{o}", o.lower()) for o in DEPOSIT_OUTCOMES],
                        stacked=True,
                    ),
                    graph(
                        "Deposits rejected, by reason",
                        [app_count(wiring.rejected_metric(r), r) for r in get_args(RejectReason)],
                        stacked=True,
                    ),
                    graph("Step syncs", [app_count(wiring.STEP_SYNCS, "syncs")]),
                    graph(
                        "Alerts opened, by kind",
                        [app_count(wiring.alert_metric(k), k) for k in get_args(AlertKind)],
                        stacked=True,
                    ),
                ],
                [
                    graph(
                        "Queue depth", [queue_depth(q).with_(label=n) for n, q in queues.items()]
                    ),
                    graph(
                        "Dead letters (each alarms above 0)",
                        [queue_depth(q).with_(label=n) for n, q in dead_letter_queues.items()],
                    ),
                    graph(
                        "Stream iterator age (ms, max)",
                        [
                            function_metric(api, f, "IteratorAge", "Maximum").with_(label=f.handler)
                            for f in streams
                        ],
                    ),
                    graph("Devices offline", [offline_devices(stage)]),
                ],
                [
                    graph("API latency p95 (ms)", [api_metric("Latency", "p95")]),
                    graph("API 5xx", [api_metric("5XXError", "Sum")]),
                    graph("API 4xx", [api_metric("4XXError", "Sum")]),
                    graph("WAF blocked", [firewall.blocked_metric(PERIOD)]),
                ],
                [
                    graph(
                        f"Function {metric.lower()}",
                        [
                            function_metric(api, f, metric).with_(label=f.handler)
                            for f in api.functions
                        ],
                        width=WIDTH // len(FUNCTION_ALARMS),
                    )
                    for metric in FUNCTION_ALARMS
                ],
            ],
        )
