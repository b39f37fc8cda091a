"""The Chalice app (API Gateway + every Lambda function) and what Chalice cannot say itself:
each function's own role, partial batch failures on queue and stream sources, the stream
retry policy, and API Gateway's own error responses in the API's JSON error shape."""

from __future__ import annotations

import dataclasses
import functools
import json
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_sqs as sqs
from chalice.cdk import Chalice
from constructs import Construct

from chalicelib import config, streams
from chalicelib.api.gateway_responses import GATEWAY_RESPONSES, body
from infra.bytecode import compile_app
from infra.cdk import functions as fn
from infra.cdk.access import DataPlane, function_role
from infra.cdk.cognito import CitizenPool, StaffPool
from infra.cdk.messaging import Queues
from infra.cdk.names import ROOT
from infra.cdk.push import VARIABLES
from infra.cdk.stage import Stage
from infra.cdk.tables import Tables

# Once per synth, not once per stage: every stage packages the same chalicelib.
_ship_bytecode = functools.cache(compile_app)

API_STAGE = "api"
"""API Gateway's stage, the first segment of every path on its own host (Chalice's default)."""

REPORT_BATCH_ITEM_FAILURES = {"FunctionResponseTypes": ["ReportBatchItemFailures"]}


def sqs_event_settings() -> dict[str, Any]:
    return dict(REPORT_BATCH_ITEM_FAILURES)


def stream_event_settings(spec: streams.StreamSource, on_failure_arn: str) -> dict[str, Any]:
    """A failing record is retried alone (bisect), then parked; it never blocks its shard."""
    return {
        **REPORT_BATCH_ITEM_FAILURES,
        "BisectBatchOnFunctionError": spec.bisect_on_error,
        "MaximumRetryAttempts": spec.max_retry_attempts,
        "DestinationConfig": {"OnFailure": {"Type": "SQS", "Destination": on_failure_arn}},
    }


def _stream_arn(table: dynamodb.Table) -> str:
    arn = table.table_stream_arn
    if arn is None:
        raise ValueError(f"{table.node.id} has no stream: set stream_view_type on its model")
    return arn


def gateway_responses() -> dict[str, Any]:
    """SAM's GatewayResponses: part of the API definition, so a change redeploys the stage."""
    responses: dict[str, Any] = {}
    for response in GATEWAY_RESPONSES:
        spec: dict[str, Any] = {
            "ResponseTemplates": {"application/json": json.dumps(body(response))},
            "ResponseParameters": {"Headers": {"Content-Type": "'application/json'"}},
        }
        # DEFAULT_4XX/5XX keep API Gateway's own status (429 stays 429); the rest are fixed.
        if not response.response_type.startswith("DEFAULT_"):
            spec["StatusCode"] = str(response.status)
        responses[response.response_type] = spec
    return responses


class Api(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: Stage,
        tables: Tables,
        queues: Queues,
        data: DataPlane,
    ) -> None:
        super().__init__(scope, construct_id)
        streamed = {
            spec.arn_variable: tables.by_logical[spec.table] for spec in streams.ALL_STREAMS
        }
        environment = {
            config.ALERTS_TOPIC_ARN: data.alerts_topic.topic_arn,
            config.PAYOUT_KMS_KEY_ID: data.data_key.key_arn,
            **{VARIABLES[p]: arn for p, arn in data.push_applications.items()},
            **{var: _stream_arn(t) for var, t in streamed.items()},
        }
        stage_env = {**stage.env, **environment}
        app = fn.load_app(stage_env)
        self.functions = fn.functions(app)
        self.stream_failure_queues: dict[str, sqs.Queue] = {}
        tables_read = {f.handler: self._stream_table(f, streamed) for f in self.functions}
        for function in self.functions:
            if tables_read[function.handler] is not None:
                self._failure_queue(stage, function)
        # the API reads every parked queue's depth, the stream failures' too
        data = dataclasses.replace(
            data, stream_failure_queues=list(self.stream_failure_queues.values())
        )

        roles = {}
        for function in self.functions:
            queue = queues.by_name(function.queue) if function.queue else None
            table = tables_read[function.handler]
            failure = self.stream_failure_queues.get(function.handler)
            roles[function.logical_id] = function_role(
                self,
                function,
                stage=stage,
                data=data,
                queue=queue,
                stream_table=table,
                failure_queue=failure,
            )

        _ship_bytecode()  # the package carries chalicelib's bytecode (infra/bytecode.py)
        with fn.stage_import(stage_env):
            # Chalice takes its stage from its scope's name: the stack's id is the stage.
            self.chalice = Chalice(
                cdk.Stack.of(self),
                "Chalice",
                source_dir=str(ROOT),
                stage_config={
                    "api_gateway_stage": API_STAGE,
                    "environment_variables": environment,
                    "manage_iam_role": False,
                    # Replaced per function below; Chalice needs one to package.
                    "iam_role_arn": next(iter(roles.values())).role_arn,
                },
            )

        for function in self.functions:
            resource = self.chalice.get_resource(function.logical_id)
            resource.add_property_override("Role", roles[function.logical_id].role_arn)
            events = f"Events.{function.event_logical_id}.Properties"
            if function.kind == fn.SQS and function.queue:
                for key, value in sqs_event_settings().items():
                    resource.add_property_override(f"{events}.{key}", value)
                queue = queues.by_name(function.queue)
                if queue is not None:  # the mapping needs the queue to exist first
                    resource.node.add_dependency(queue)
            if function.kind == fn.DYNAMODB:
                failure = self.stream_failure_queues[function.handler]
                spec = streams.by_handler(function.handler)
                for key, value in stream_event_settings(spec, failure.queue_arn).items():
                    resource.add_property_override(f"{events}.{key}", value)

        self.rest_api = self.chalice.get_resource("RestAPI")
        self.rest_api.add_property_override("GatewayResponses", gateway_responses())
        # Chalice already outputs EndpointURL (the API base URL) and RestAPIId.
        self._stage = stage

    @property
    def domain_name(self) -> str:
        """The API's host; its routes are under API_STAGE (`/api/v1/...`)."""
        return f"{self.rest_api.ref}.execute-api.{cdk.Aws.REGION}.{cdk.Aws.URL_SUFFIX}"

    def authorize(self, *pools: CitizenPool | StaffPool) -> None:
        """Hand the authorizer each pool's issuer and client, once the console's client
        exists. That client's callback is the console's distribution, which routes /v1/* to
        this API, whose definition names the authorizer: so the definition names the
        authorizer by its fixed function name, not by a reference, or CloudFormation would
        find a cycle. Only the authorizer reads these variables."""
        environment = {k: v for pool in pools for k, v in pool.authorizer_environment().items()}
        for function in self.functions:
            if function.kind != fn.AUTHORIZER:
                continue
            name = config.resource_name(function.handler.replace("_", "-"), self._stage.prefix)
            resource = self.chalice.get_resource(function.logical_id)
            resource.add_property_override("FunctionName", name)
            for key, value in environment.items():
                resource.add_property_override(f"Environment.Variables.{key}", value)
            self.rest_api.add_property_override(
                f"DefinitionBody.securityDefinitions.{function.handler}."
                "x-amazon-apigateway-authorizer.authorizerUri",
                {
                    "Fn::Sub": "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/"
                    "2015-03-31/functions/arn:${AWS::Partition}:lambda:${AWS::Region}:"
                    f"${{AWS::AccountId}}:function:{name}/invocations"
                },
            )

    @staticmethod
    def _stream_table(
        function: fn.Function, streamed: dict[str, dynamodb.Table]
    ) -> dynamodb.Table | None:
        if function.kind != fn.DYNAMODB:
            return None
        for table in streamed.values():
            if function.stream_arn == table.table_stream_arn:
                return table
        raise ValueError(
            f"{function.handler} reads stream {function.stream_arn!r}: declare it in "
            f"chalicelib.streams and pass its stream_arn() to on_dynamodb_record"
        )

    def _failure_queue(self, stage: Stage, function: fn.Function) -> sqs.Queue:
        queue = sqs.Queue(
            self,
            f"{function.logical_id}Failures",
            queue_name=stage.names.stream_failure_queues[function.handler],
            retention_period=cdk.Duration.days(14),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
        )
        self.stream_failure_queues[function.handler] = queue
        return queue
