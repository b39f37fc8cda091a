"""KMS keys: one for citizens' secrets (payout accounts, the phone-hash SSM parameter) and one
for the operator alerts topic, which CloudWatch alarms must be able to publish to."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from infra.cdk.stage import Stage


class Keys(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, stage: Stage) -> None:
        super().__init__(scope, construct_id)
        removal = cdk.RemovalPolicy.RETAIN if stage.is_production else cdk.RemovalPolicy.DESTROY
        self.data = kms.Key(
            self,
            "DataKey",
            alias=f"alias/{stage.prefix}-data",
            description="Payout-account data and the phone-hash-key parameter",
            enable_key_rotation=True,
            removal_policy=removal,
        )
        self.alerts = kms.Key(
            self,
            "AlertsKey",
            alias=f"alias/{stage.prefix}-alerts",
            description="Operator alerts topic (SNS)",
            enable_key_rotation=True,
            removal_policy=removal,
        )
        # CloudWatch alarms publish to the encrypted topic: SNS asks KMS on their behalf.
        self.alerts.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],  # in a key policy "*" means this key
            )
        )
