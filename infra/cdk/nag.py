"""AWS's own checks: cdk-nag's AwsSolutions rules on every stack, run at synth.

`checked(stack)` adds the rules as an Aspect and the suppressions below, each where it
applies (a construct and its children, or one exact resource pattern through `applies_to`),
each with the reason a reviewer reads. `SUPPRESSIONS` is also the table in
infra/cdk/README.md ("AWS's own checks"); tests/infra/test_cdk.py fails on any finding
left unsuppressed, error or warning, on both stages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks, NagPackSuppression, NagSuppressions, RegexAppliesTo
from constructs import IConstruct

from infra.cdk.console import DOMAIN_CONTEXT

BASIC_EXECUTION = (
    "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
)


@dataclass(frozen=True)
class Suppression:
    """One rule, where it is suppressed (a construct id under the stack; "" is the stack),
    for which findings (`applies_to`, cdk-nag's finding ids, `regex:` for a pattern), why."""

    rule: str
    where: str
    reason: str
    applies_to: tuple[str, ...] = ()

    def pack(self) -> NagPackSuppression:
        applies: list[str | RegexAppliesTo] = [
            RegexAppliesTo(regex=a.removeprefix("regex:")) if a.startswith("regex:") else a
            for a in self.applies_to
        ]
        return NagPackSuppression(
            id=f"AwsSolutions-{self.rule}", reason=self.reason, applies_to=applies or None
        )


S = TypeVar("S", bound=cdk.Stack)

DEPLOYER = "Custom::CDKBucketDeployment"
"""CDK's own BucketDeployment singleton (its Lambda and role), a child of the stack."""

SUPPRESSIONS: tuple[Suppression, ...] = (
    Suppression(
        "IAM4",
        "",
        "AWSLambdaBasicExecutionRole is AWS's minimal logging policy (CreateLogGroup, "
        "CreateLogStream, PutLogEvents); each function's data grants are its own inline policy",
        (BASIC_EXECUTION,),
    ),
    Suppression(
        "IAM5",
        "Api",
        "DynamoDB index ARNs: a function may query every index of the tables it is granted, "
        "the table named exactly; the indexes come from the PynamoDB models",
        (r"regex:/^Resource::<Tables[A-Za-z0-9]+\.Arn>\/index\/\*$/",),
    ),
    Suppression(
        "IAM5",
        "Api",
        "iot:DescribeEndpoint has no resource type: '*' is the only form IAM accepts",
        ("Resource::*",),
    ),
    Suppression(
        "IAM5",
        "Api",
        "Deposit acks go to the robot that sent the deposit: the topic is named but for the "
        "thing name, which is only known per message",
        (
            "Resource::arn:<AWS::Partition>:iot:<AWS::Region>:<AWS::AccountId>:"
            "topic/gimhae/robots/*/deposits/ack",
        ),
    ),
    Suppression(
        "IAM5",
        "Api",
        "iot:UpdateThingShadow for the shelters' purifiers (chalicelib/table_access.py's "
        "shadow writers only): the shelter is known per request; the grant is this account's "
        "and region's things",
        ("Resource::arn:<AWS::Partition>:iot:<AWS::Region>:<AWS::AccountId>:thing/*",),
    ),
    Suppression(
        "IAM5",
        "Api",
        "Payout transfer files are written and read under keys made per payout run; the "
        "grant is s3:GetObject/PutObject on the exports bucket's objects only",
        (r"regex:/^Resource::<ExportsBucket[A-Za-z0-9]+\.Arn>\/\*$/",),
    ),
    Suppression(
        "SQS3",
        "Api",
        "These queues are the DynamoDB streams' on-failure destinations (a dead-letter queue "
        "for the stream handlers), alarmed when not empty",
    ),
    Suppression(
        "IAM5",
        DEPLOYER,
        "CDK's own BucketDeployment: copies the console's files from the CDK assets bucket "
        "into the console bucket with CDK's grants (s3 object actions on those two buckets)",
    ),
    Suppression(
        "L1",
        DEPLOYER,
        "CDK's own BucketDeployment Lambda: its runtime is chosen by aws-cdk-lib and moves "
        "with the pinned aws-cdk-lib",
    ),
    Suppression(
        "COG1",
        "Users",
        "Citizens' passwords: at least 10 characters with no composition rules, as NIST SP "
        "800-63B advises; Cognito's compromised-credential checks are the plus tier's",
    ),
    Suppression(
        "COG2",
        "Users",
        "The citizens' pool offers MFA (TOTP) without requiring it of 200,000 citizens; staff "
        "sign in through their own pool, where MFA is required",
    ),
    Suppression(
        "COG8",
        "Users",
        "The citizens' pool is on the Lite plan, billed per monthly active user (200,000 "
        "citizens): sign-up, SRP sign-in and optional TOTP are all Lite's; the staff pool is "
        "on Plus",
    ),
    Suppression(
        "S1",
        "Console",
        "The console's bucket holds the built static site only and is read by CloudFront "
        "alone (origin access control), with no other reader to audit",
    ),
    Suppression(
        "CFR1",
        "Console",
        "The console is for the city's staff, who may travel; sign-in is by Cognito, so no "
        "geo restriction",
    ),
    Suppression(
        "CFR2",
        "Console",
        "The distribution serves static files; the API it fronts has its own WAF (the "
        "Firewall construct), and a CloudFront WAF must live in us-east-1",
    ),
    Suppression(
        "CFR3",
        "Console",
        "CloudFront standard logs need an ACL-enabled log bucket; the console's static files "
        "carry no personal data, and CloudFront's own metrics show its traffic and errors",
    ),
)

DEFAULT_CERTIFICATE = Suppression(
    "CFR4",
    "Console",
    "Without a domain of the city's own (-c console_domain) the distribution uses the "
    "default *.cloudfront.net certificate, for which CloudFront fixes the policy; with a "
    "domain it is TLSv1.2_2021",
)


def suppressions(stack: cdk.Stack) -> tuple[Suppression, ...]:
    """The suppressions this stack needs (CFR4 only without a domain of the city's own)."""
    domain = stack.node.try_get_context(DOMAIN_CONTEXT)
    return SUPPRESSIONS if domain else (*SUPPRESSIONS, DEFAULT_CERTIFICATE)


def _where(stack: cdk.Stack, where: str) -> list[IConstruct]:
    if not where:
        return [stack]
    if where == DEPLOYER:  # a singleton whose id ends in a hash
        return [c for c in stack.node.children if c.node.id.startswith(where)]
    construct: IConstruct = stack
    for part in where.split("/"):
        construct = construct.node.find_child(part)
    return [construct]


def checked(stack: S) -> S:
    """Run AwsSolutions at synth on `stack`, with the reasoned suppressions applied."""
    cdk.Aspects.of(stack).add(AwsSolutionsChecks())
    for s in suppressions(stack):
        for construct in _where(stack, s.where):
            if construct is stack:
                NagSuppressions.add_stack_suppressions(stack, [s.pack()])
            else:
                NagSuppressions.add_resource_suppressions(
                    construct, [s.pack()], apply_to_children=True
                )
    return stack
