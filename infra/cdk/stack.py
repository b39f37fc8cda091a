"""One stage of the system: every resource, each derived from its one source."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from chalicelib.queues import JOB_QUEUES
from infra.cdk.access import DataPlane
from infra.cdk.alarms import Alarms
from infra.cdk.api import Api
from infra.cdk.cognito import CitizenPool, StaffPool
from infra.cdk.console import CERTIFICATE_CONTEXT, DOMAIN_CONTEXT, ConsoleSite
from infra.cdk.dashboard import Dashboard
from infra.cdk.firewall import Firewall
from infra.cdk.iot import Iot
from infra.cdk.messaging import AlertsTopic, Queues
from infra.cdk.push import push_applications, push_summary
from infra.cdk.security import Keys
from infra.cdk.stage import Stage
from infra.cdk.storage import ExportsBucket
from infra.cdk.subscriptions import AlarmEmail
from infra.cdk.tables import Tables
from infra.console_site import site_config, tile_origin

STACK_NAME = "GimhaeSmartCity"
TILES_CONTEXT = "console_tiles"
"""`-c console_tiles=https://{s}.tile.example/{z}/{x}/{y}.png`: the console's map tiles."""
TILE_ATTRIBUTION_CONTEXT = "console_tile_attribution"


class GimhaeStack(cdk.Stack):
    """The construct id is the stage name: `chalice.cdk.Chalice` takes its stage from it, so
    the stage's block in .chalice/config.json applies as it does for `chalice deploy`."""

    def __init__(self, scope: Construct, stage: Stage, **kwargs: Any) -> None:
        super().__init__(
            scope,
            stage.name,
            stack_name=f"{STACK_NAME}-{stage.name}",
            description=f"Gimhae smart city backend ({stage.name})",
            termination_protection=stage.is_production,
            **kwargs,
        )
        self.stage = stage
        self.keys = Keys(self, "Keys", stage=stage)
        self.tables = Tables(self, "Tables", stage=stage)
        self.queues = Queues(self, "Queues", stage=stage)
        self.alerts = AlertsTopic(self, "Alerts", stage=stage, keys=self.keys)
        AlarmEmail(self, "AlarmSubscription", topic=self.alerts.topic)
        self.exports = ExportsBucket(self, "Exports", stage=stage, keys=self.keys)
        self.iot = Iot(self, "Iot", stage=stage, queues=self.queues)
        self.users = CitizenPool(self, "Users", stage=stage)
        self.staff = StaffPool(self, "Staff", stage=stage)
        self.api = Api(
            self,
            "Api",
            stage=stage,
            tables=self.tables,
            queues=self.queues,
            data=DataPlane(
                tables=dict(self.tables.by_model),
                data_key=self.keys.data,
                alerts_key=self.keys.alerts,
                alerts_topic=self.alerts.topic,
                exports_bucket=self.exports.bucket,
                dead_letter_queues=list(self.queues.dlq_by_logical.values()),
                job_queues=[self.queues.by_logical[q.logical] for q in JOB_QUEUES],
                redrive_destinations=list(self.queues.by_logical.values()),
                push_applications=push_applications(self),
            ),
        )
        self.firewall = Firewall(self, "Firewall", stage=stage, api=self.api)
        tiles = self.node.try_get_context(TILES_CONTEXT)
        self.console = ConsoleSite(
            self,
            "Console",
            stage=stage,
            api_domain=self.api.domain_name,
            login_url=self.staff.login_url,
            tile_origin=tile_origin(tiles) if tiles else None,
            domain=self.node.try_get_context(DOMAIN_CONTEXT),
            certificate_arn=self.node.try_get_context(CERTIFICATE_CONTEXT),
        )
        console_client = self.staff.add_console_client(self.console.url)
        self.api.authorize(self.users, self.staff)
        self.console.deploy(
            site_config(
                stage.name,
                {
                    "mode": "cognito",
                    "domain": self.staff.login_url,
                    "client_id": console_client.user_pool_client_id,
                    "redirect_uri": self.console.url,
                },
                tiles=tiles,
                attribution=self.node.try_get_context(TILE_ATTRIBUTION_CONTEXT) or "",
            )
        )
        # one list of what holds dead letters, for the alarms and the dashboard both
        dead_letter_queues: dict[str, sqs.IQueue] = {
            **{f"{name}-dlq": q for name, q in self.queues.dlq_by_logical.items()},
            **{f"{h}-stream-failures": q for h, q in self.api.stream_failure_queues.items()},
        }
        Alarms(
            self,
            "Alarms",
            stage=stage,
            dead_letter_queues=dead_letter_queues,
            api=self.api,
            topic=self.alerts.topic,
        )
        self.dashboard = Dashboard(
            self,
            "Dashboard",
            stage=stage,
            queues=dict(self.queues.by_logical),
            dead_letter_queues=dead_letter_queues,
            api=self.api,
            firewall=self.firewall,
        )
        # the citizens' pool, its app client and hosted login; the staff's, the console's
        cdk.CfnOutput(self, "UserPoolId", value=self.users.pool.user_pool_id)
        cdk.CfnOutput(self, "AppClientId", value=self.users.client.user_pool_client_id)
        cdk.CfnOutput(self, "CitizenLoginURL", value=self.users.domain.base_url())
        cdk.CfnOutput(self, "StaffUserPoolId", value=self.staff.pool.user_pool_id)
        cdk.CfnOutput(self, "StaffLoginURL", value=self.staff.login_url)
        cdk.CfnOutput(self, "ExportsBucketName", value=self.exports.bucket.bucket_name)
        cdk.CfnOutput(self, "DataKeyArn", value=self.keys.data.key_arn)
        cdk.CfnOutput(self, "ConsoleURL", value=self.console.url)
        cdk.CfnOutput(self, "ConsoleClientId", value=console_client.user_pool_client_id)
        cdk.CfnOutput(self, "Push", value=push_summary(push_applications(self)))
