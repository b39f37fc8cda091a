"""Least-privilege IAM: one role per function, each statement scoped to named resources.

- the authorizer gets nothing but its logs (it only fetches the pool's public JWKS);
- the API handler and the event handlers get the domain's data plane: item-level DynamoDB
  actions on the tables chalicelib/table_access.py declares for them (no Scan: nothing in
  a request path may scan), the phone-hash
  parameter, the data key, the alerts topic, the export bucket, publishing robot acks and
  reading the dead-letter queues' depth (the API also moves their messages back: an
  operator's redrive);
- a queue consumer also gets its own queue, a stream consumer its own stream and
  on-failure queue.
The one wildcard resource is `iot:DescribeEndpoint`: the action has no resource type. The API
may send SMS codes (`sns:Publish` to a phone number, which has no ARN): allowed on every
resource that is not an SNS ARN, so it cannot publish to any topic or endpoint that way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from chalicelib import topics
from chalicelib.table_access import (
    APPEND_ONLY,
    SCANS_BY_FUNCTION,
    SHADOW_WRITERS,
    TABLES_BY_FUNCTION,
)
from infra.cdk.functions import API, AUTHORIZER, DYNAMODB, SQS, Function
from infra.cdk.names import model_key
from infra.cdk.stage import Stage

TABLE_ACTIONS = [
    "dynamodb:BatchGetItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DeleteItem",
    "dynamodb:DescribeTable",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Query",
    "dynamodb:UpdateItem",
]
APPEND_ONLY_ACTIONS = [
    "dynamodb:ConditionCheckItem",
    "dynamodb:DescribeTable",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Query",
]
QUEUE_CONSUMER_ACTIONS = [
    "sqs:ChangeMessageVisibility",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:ReceiveMessage",
]
STREAM_CONSUMER_ACTIONS = [
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ListStreams",
]


@dataclass(frozen=True)
class DataPlane:
    """The resources the app's domain touches."""

    tables: dict[str, dynamodb.Table]
    """By model key (`names.model_key`)."""
    data_key: kms.IKey
    alerts_key: kms.IKey
    alerts_topic: sns.ITopic
    exports_bucket: s3.IBucket
    dead_letter_queues: list[sqs.IQueue]
    job_queues: list[sqs.IQueue] = field(default_factory=list)
    """Payout-run and audit chunks: the API, the schedules and the chunk handlers send them."""
    stream_failure_queues: list[sqs.IQueue] = field(default_factory=list)
    """Where the stream consumers park what failed: admins read their depth too."""
    redrive_destinations: list[sqs.IQueue] = field(default_factory=list)
    """The queues whose dead letters an operator redrives back (each DLQ's source queue)."""
    push_applications: dict[str, str] = field(default_factory=dict)
    """The SNS platform applications for push, by platform (`fcm`, `apns`): the deployer's,
    given as context (infra/cdk/push.py); none: push is off."""


def function_tables(function: Function, data: DataPlane) -> list[dynamodb.Table]:
    """The tables chalicelib/table_access.py declares for this function, and no others."""
    try:
        models = TABLES_BY_FUNCTION[function.handler]
    except KeyError:
        raise ValueError(
            f"{function.handler} is not in chalicelib/table_access.py: declare its tables"
        ) from None
    return [data.tables[model_key(model)] for model in models]


def domain_statements(
    stage: Stage, data: DataPlane, function: Function
) -> list[iam.PolicyStatement]:
    """The data plane this function needs: its declared tables; the API never acks a robot;
    only the API reads dead-letter depth for admins."""
    kind = function.kind
    stack = cdk.Stack.of(data.alerts_topic)
    appended = {data.tables[model_key(model)].table_arn for model in APPEND_ONLY}
    declared = [t.table_arn for t in function_tables(function, data)]
    tables = [arn for arn in declared if arn not in appended]
    logs = [arn for arn in declared if arn in appended]
    parameter = stack.format_arn(
        service="ssm",
        resource="parameter",
        resource_name=stage.phone_hash_key_parameter.lstrip("/"),
    )
    ack_topic = stack.format_arn(
        service="iot", resource="topic", resource_name=topics.deposit_ack(stage.city, "*")
    )
    statements = [
        iam.PolicyStatement(
            sid="Tables",
            actions=TABLE_ACTIONS,
            resources=[*tables, *(f"{arn}/index/*" for arn in tables)],
        ),
        *(
            [
                iam.PolicyStatement(
                    sid="AppendOnlyTables",  # the action log: no update, delete or batch write
                    actions=APPEND_ONLY_ACTIONS,
                    resources=[*logs, *(f"{arn}/index/*" for arn in logs)],
                )
            ]
            if logs
            else []
        ),
        iam.PolicyStatement(
            sid="PhoneHashKey", actions=["ssm:GetParameter"], resources=[parameter]
        ),
        iam.PolicyStatement(
            sid="DataKey",
            actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
            resources=[data.data_key.key_arn],
        ),
        iam.PolicyStatement(
            sid="Alerts", actions=["sns:Publish"], resources=[data.alerts_topic.topic_arn]
        ),
        iam.PolicyStatement(
            sid="AlertsKey",
            actions=["kms:Decrypt", "kms:GenerateDataKey"],
            resources=[data.alerts_key.key_arn],
        ),
        iam.PolicyStatement(
            sid="Exports",
            actions=["s3:GetObject", "s3:PutObject"],
            resources=[data.exports_bucket.arn_for_objects("*")],
        ),
    ]
    scanned = SCANS_BY_FUNCTION.get(function.handler, ())
    if scanned:
        statements.append(
            iam.PolicyStatement(
                sid="AuditScan",
                actions=["dynamodb:Scan"],
                resources=[data.tables[model_key(model)].table_arn for model in scanned],
            )
        )
    if data.job_queues:
        statements += [
            iam.PolicyStatement(
                sid="JobChunks",
                actions=["sqs:GetQueueUrl", "sqs:SendMessage"],
                resources=[q.queue_arn for q in data.job_queues],
            ),
            iam.PolicyStatement(
                sid="ExportsList",  # so a transfer file not yet written reads as missing
                actions=["s3:ListBucket"],
                resources=[data.exports_bucket.bucket_arn],
            ),
        ]
    if kind == API:
        statements.append(
            iam.PolicyStatement(
                sid="DeadLetterDepth",  # admins see how many messages each DLQ holds
                actions=["sqs:GetQueueUrl", "sqs:GetQueueAttributes"],
                resources=[
                    q.queue_arn for q in (*data.dead_letter_queues, *data.stream_failure_queues)
                ],
            )
        )
        statements.append(sms_statement())
        statements.append(
            iam.PolicyStatement(
                # an operator's redrive: SQS's move task needs, on the source (the DLQ),
                # receive, delete and attributes besides starting and listing the task
                sid="DeadLetterRedrive",
                actions=[
                    "sqs:StartMessageMoveTask",
                    "sqs:ListMessageMoveTasks",
                    "sqs:ReceiveMessage",
                    "sqs:DeleteMessage",
                    "sqs:GetQueueAttributes",
                ],
                resources=[q.queue_arn for q in data.dead_letter_queues],
            )
        )
        if data.redrive_destinations:
            statements.append(
                iam.PolicyStatement(
                    sid="RedriveDestinations",  # and, on the queue they go back to, send
                    actions=["sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"],
                    resources=[q.queue_arn for q in data.redrive_destinations],
                )
            )
    else:
        statements += [
            iam.PolicyStatement(sid="RobotAcks", actions=["iot:Publish"], resources=[ack_topic]),
            iam.PolicyStatement(
                sid="IotEndpoint",
                actions=["iot:DescribeEndpoint"],
                resources=["*"],  # DescribeEndpoint has no resource type: "*" is the only form
            ),
        ]
    statements += push_statements(stack, data, function.handler)
    if function.handler in SHADOW_WRITERS:  # shelters' purifiers (chalicelib/table_access.py)
        statements.append(
            iam.PolicyStatement(
                sid="ShelterShadows",
                actions=["iot:UpdateThingShadow"],
                resources=[stack.format_arn(service="iot", resource="thing", resource_name="*")],
            )
        )
        if kind == API:  # the event handlers have it already; the data plane's address
            statements.append(
                iam.PolicyStatement(
                    sid="IotEndpoint",
                    actions=["iot:DescribeEndpoint"],
                    resources=["*"],  # DescribeEndpoint has no resource type
                )
            )
    return statements


def function_role(
    scope: Construct,
    function: Function,
    *,
    stage: Stage,
    data: DataPlane,
    queue: sqs.IQueue | None = None,
    stream_table: dynamodb.Table | None = None,
    failure_queue: sqs.IQueue | None = None,
) -> iam.Role:
    statements: list[iam.PolicyStatement] = []
    if function.kind != AUTHORIZER:
        statements += domain_statements(stage, data, function)
    if function.kind == SQS:
        if queue is None:
            raise ValueError(f"{function.handler} consumes a queue this stack does not create")
        statements.append(
            iam.PolicyStatement(
                sid="OwnQueue", actions=QUEUE_CONSUMER_ACTIONS, resources=[queue.queue_arn]
            )
        )
    if function.kind == DYNAMODB:
        if stream_table is None or failure_queue is None:
            raise ValueError(f"{function.handler} reads a stream this stack does not create")
        statements += [
            iam.PolicyStatement(
                sid="OwnStream",
                actions=STREAM_CONSUMER_ACTIONS,
                resources=[stream_table.table_stream_arn],  # type: ignore[list-item]
            ),
            iam.PolicyStatement(
                sid="OnFailure", actions=["sqs:SendMessage"], resources=[failure_queue.queue_arn]
            ),
        ]
    return iam.Role(
        scope,
        f"{function.logical_id}Role",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=f"{stage.prefix} {function.handler}",
        managed_policies=[
            iam.ManagedPolicy.from_aws_managed_policy_name(
                "service-role/AWSLambdaBasicExecutionRole"
            )
        ],
        inline_policies=(
            {"data": iam.PolicyDocument(statements=statements)} if statements else None
        ),
    )


def sms_statement() -> iam.PolicyStatement:
    """SMS codes for phone proofs (chalicelib/adapters/sns_sms.py). A publish to a phone
    number names no resource; `NotResource` on every SNS ARN keeps this grant to that."""
    return iam.PolicyStatement(
        sid="SmsCodes", actions=["sns:Publish"], not_resources=["arn:aws:sns:*:*:*"]
    )


PUSH_FUNCTIONS = ("api_handler", "handle_pushes")
"""Registration makes endpoints (the API); the push handler publishes and removes them."""


def push_statements(stack: cdk.Stack, data: DataPlane, handler: str) -> list[iam.PolicyStatement]:
    """Push to phones: endpoints of the configured platform applications only."""
    if not data.push_applications or handler not in PUSH_FUNCTIONS:
        return []
    # arn:aws:sns:<region>:<account>:app/<PLATFORM>/<name> -> its endpoints' ARNs
    endpoints = [
        arn.replace(":app/", ":endpoint/", 1) + "/*" for arn in data.push_applications.values()
    ]
    return [
        iam.PolicyStatement(
            sid="PushEndpoints",
            actions=["sns:CreatePlatformEndpoint"],
            resources=list(data.push_applications.values()),
        ),
        iam.PolicyStatement(
            sid="PushPublish",
            actions=["sns:Publish", "sns:SetEndpointAttributes", "sns:DeleteEndpoint"],
            resources=endpoints,
        ),
    ]
