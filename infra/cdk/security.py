"""KMS keys: one for citizens' secrets (payout accounts, the phone-hash SSM parameter, payout
exports) and one for the operator alerts topic, which CloudWatch alarms must publish to."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from chalicelib import config
from infra.cdk.stage import Stage

# The account administers the key and may let IAM principals use it. Spelled out rather than
# the default `kms:*`, so no statement in the stack grants a service-wide wildcard.
ACCOUNT_KEY_ACTIONS = [
    "kms:CancelKeyDeletion",
    "kms:Create*",
    "kms:Decrypt",
    "kms:Delete*",
    "kms:Describe*",
    "kms:Disable*",
    "kms:Enable*",
    "kms:Encrypt",
    "kms:GenerateDataKey*",
    "kms:Get*",
    "kms:List*",
    "kms:Put*",
    "kms:ReEncrypt*",
    "kms:Revoke*",
    "kms:RotateKeyOnDemand",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:Update*",
]


def _key_policy(*extra: iam.PolicyStatement) -> iam.PolicyDocument:
    # In a key policy, Resource "*" means "this key".
    return iam.PolicyDocument(
        statements=[
            iam.PolicyStatement(
                sid="Account",
                principals=[iam.AccountRootPrincipal()],
                actions=ACCOUNT_KEY_ACTIONS,
                resources=["*"],
            ),
            *extra,
        ]
    )


class Keys(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, stage: Stage) -> None:
        super().__init__(scope, construct_id)
        removal = cdk.RemovalPolicy.RETAIN if stage.is_production else cdk.RemovalPolicy.DESTROY
        self.data = kms.Key(
            self,
            "DataKey",
            alias=config.data_key_alias(stage.prefix),
            description="Payout-account data, payout exports and the phone-hash-key parameter",
            enable_key_rotation=True,
            removal_policy=removal,
            policy=_key_policy(),
        )
        self.alerts = kms.Key(
            self,
            "AlertsKey",
            alias=f"alias/{stage.prefix}-alerts",
            description="Operator alerts topic (SNS)",
            enable_key_rotation=True,
            removal_policy=removal,
            policy=_key_policy(
                # CloudWatch alarms publish to the encrypted topic.
                iam.PolicyStatement(
                    sid="CloudWatchAlarms",
                    principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                    actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                    resources=["*"],  # in a key policy, "*" is this key
                    # Only this account's alarms (confused-deputy guard).
                    conditions={"StringEquals": {"aws:SourceAccount": cdk.Aws.ACCOUNT_ID}},
                )
            ),
        )
