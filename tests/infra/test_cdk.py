"""The CDK app against its sources: synthesized once per module, then every derived resource
is checked against the model, queue spec, rule or table it comes from."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("AWS_DEFAULT_REGION", "ap-northeast-2")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

aws_cdk = pytest.importorskip("aws_cdk")
from aws_cdk.assertions import Template  # noqa: E402
from cfnlint.api import ManualArgs, lint_file  # noqa: E402
from chalice import Chalice  # noqa: E402

from chalicelib import queues, streams  # noqa: E402
from chalicelib.adapters.dynamodb_models import ALL_MODELS, logical_name  # noqa: E402
from chalicelib.api.gateway_responses import GATEWAY_RESPONSES, body  # noqa: E402
from chalicelib.domain import roles  # noqa: E402
from infra import console_site  # noqa: E402
from infra.cdk import api as cdk_api  # noqa: E402
from infra.cdk import functions as cdk_functions  # noqa: E402
from infra.cdk import nag  # noqa: E402
from infra.cdk.app import build  # noqa: E402
from infra.cdk.names import model_key  # noqa: E402
from infra.cdk.stack import GimhaeStack  # noqa: E402
from infra.cdk.stage import STAGES  # noqa: E402
from iot import policies  # noqa: E402
from iot.rule_definitions import load_rules  # noqa: E402

DATA_SERVICES = ("dynamodb", "sqs", "sns", "s3", "kms", "ssm", "iot")
IAM_TYPES = ("AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")


class Synth:
    def __init__(self, outdir: Path, stacks: dict[str, GimhaeStack]) -> None:
        self.outdir = outdir
        self.stacks = stacks
        self.templates = {
            stage: json.loads((outdir / f"{stack.artifact_id}.template.json").read_text())
            for stage, stack in stacks.items()
        }

    def resources(self, stage: str, cfn_type: str) -> dict[str, dict[str, Any]]:
        resources = self.templates[stage]["Resources"]
        return {k: v for k, v in resources.items() if v["Type"] == cfn_type}

    def by_name(self, stage: str, cfn_type: str, name_key: str, name: str) -> tuple[str, dict]:
        found = [
            (k, v)
            for k, v in self.resources(stage, cfn_type).items()
            if v["Properties"].get(name_key) == name
        ]
        assert len(found) == 1, f"{cfn_type} named {name!r} in {stage}: {len(found)} found"
        return found[0]


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synth]:
    workdir = tmp_path_factory.mktemp("cdk")
    outdir = workdir / "cdk.out"
    cwd = Path.cwd()
    os.chdir(workdir)  # the Chalice construct writes chalice.out/ into the working directory
    try:
        app = aws_cdk.App(outdir=str(outdir))
        stacks = build(app, STAGES)
        app.synth()
    finally:
        os.chdir(cwd)
    yield Synth(outdir, stacks)


@pytest.fixture(params=STAGES)
def stage(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _flatten(value: Any) -> str:
    """A string with CloudFormation intrinsics (Fn::Join, Ref) rendered as text."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        sep, parts = value["Fn::Join"]
        return sep.join(_flatten(p) for p in parts)
    if isinstance(value, dict) and "Ref" in value:
        return "{" + value["Ref"] + "}"
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return "{" + ".".join(value["Fn::GetAtt"]) + "}"
    return json.dumps(value)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _keys(key_schema: list[dict[str, str]]) -> list[tuple[str, str]]:
    """HASH first: PynamoDB lists keys in attribute order, CloudFormation HASH first."""
    return sorted((k["KeyType"], k["AttributeName"]) for k in key_schema)


# --- tables ------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ALL_MODELS, ids=lambda m: m.__name__)
def test_every_model_has_its_table(synth: Synth, stage: str, model: Any) -> None:
    # GIVEN the model's own schema, as PynamoDB sends it to CreateTable
    schema = model._get_schema()
    name = synth.stacks[stage].stage.names.tables[model_key(model)]
    # WHEN the stage's table is looked up by the name the app will use
    _, table = synth.by_name(stage, "AWS::DynamoDB::Table", "TableName", name)
    props = table["Properties"]
    # THEN keys, attribute types, indexes, stream and TTL are the model's
    assert _keys(props["KeySchema"]) == _keys(schema["key_schema"])
    assert sorted(props["AttributeDefinitions"], key=str) == sorted(
        schema["attribute_definitions"], key=str
    )

    def indexes(raw: list[dict[str, Any]]) -> dict[str, Any]:
        return {i["index_name"]: (_keys(i["key_schema"]), i["projection"]) for i in raw}

    def cfn_indexes(raw: list[dict[str, Any]]) -> dict[str, Any]:
        return {i["IndexName"]: (_keys(i["KeySchema"]), i["Projection"]) for i in raw}

    assert cfn_indexes(props.get("GlobalSecondaryIndexes", [])) == indexes(
        schema["global_secondary_indexes"]
    )
    assert cfn_indexes(props.get("LocalSecondaryIndexes", [])) == indexes(
        schema["local_secondary_indexes"]
    )
    stream = getattr(model.Meta, "stream_view_type", None)
    assert props.get("StreamSpecification", {}).get("StreamViewType") == stream
    ttl = [
        a.attr_name for a in model.get_attributes().values() if type(a).__name__ == "TTLAttribute"
    ]
    if ttl:
        assert props["TimeToLiveSpecification"] == {"AttributeName": ttl[0], "Enabled": True}
    else:
        assert "TimeToLiveSpecification" not in props
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["SSESpecification"]["SSEEnabled"] is True
    if stage == "prod":
        assert table["DeletionPolicy"] == "Retain"
        assert props["DeletionProtectionEnabled"] is True


def test_table_names_match_what_the_functions_are_told(synth: Synth, stage: str) -> None:
    names = {
        t["Properties"]["TableName"]
        for t in synth.resources(stage, "AWS::DynamoDB::Table").values()
    }
    for function in synth.resources(stage, "AWS::Serverless::Function").values():
        variables = function["Properties"]["Environment"]["Variables"]
        told = {v for k, v in variables.items() if k.endswith("_TABLE")}
        assert told <= names


# --- queues ------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", queues.ALL_QUEUES, ids=lambda s: s.logical)
def test_every_queue_spec_has_its_queue_and_dlq(synth: Synth, stage: str, spec: Any) -> None:
    name, dlq_name = synth.stacks[stage].stage.names.queues[spec.logical]
    _, queue = synth.by_name(stage, "AWS::SQS::Queue", "QueueName", name)
    dlq_id, dlq = synth.by_name(stage, "AWS::SQS::Queue", "QueueName", dlq_name)
    props = queue["Properties"]
    assert props["VisibilityTimeout"] == spec.visibility_timeout_s
    assert props["MessageRetentionPeriod"] == spec.retention_s
    assert props["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
        "maxReceiveCount": spec.max_receive_count,
    }
    assert dlq["Properties"]["MessageRetentionPeriod"] == spec.dlq_retention_s
    for q in (props, dlq["Properties"]):
        assert q["SqsManagedSseEnabled"] is True


# --- IoT ---------------------------------------------------------------------------------


def test_every_topic_rule_has_its_sql_and_queues(synth: Synth, stage: str) -> None:
    city = synth.stacks[stage].stage.city
    queue_ids = {
        q["Properties"]["QueueName"]: k
        for k, q in synth.resources(stage, "AWS::SQS::Queue").items()
    }
    rules = load_rules(city)
    assert rules
    found = synth.resources(stage, "AWS::IoT::TopicRule")
    assert len(found) == len(rules)
    for rule in rules:
        payload = next(
            r["Properties"]["TopicRulePayload"]
            for r in found.values()
            if r["Properties"]["RuleName"].endswith(rule.name)
        )
        assert payload["Sql"] == rule.sql
        assert payload["AwsIotSqlVersion"] == rule.sql_version
        wanted = [queues.by_logical(a.target) for a in rule.actions]
        names = synth.stacks[stage].stage.names.queues
        assert [a["Sqs"]["QueueUrl"] for a in payload["Actions"]] == [
            {"Ref": queue_ids[names[q.logical][0]]} for q in wanted
        ]
        if rule.error_action:
            error_queue = names[rule.error_action.target][0]
            assert payload["ErrorAction"]["Sqs"]["QueueUrl"] == {"Ref": queue_ids[error_queue]}
        # the rule's role may send to exactly the rule's queues
        role_id = payload["Actions"][0]["Sqs"]["RoleArn"]["Fn::GetAtt"][0]
        role = synth.templates[stage]["Resources"][role_id]
        statements = [
            s for p in role["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"]
        ]
        assert [s["Action"] for s in statements] == ["sqs:SendMessage"]
        sent_to = {r["Fn::GetAtt"][0] for s in statements for r in _as_list(s["Resource"])}
        allowed = {queue_ids[names[a.target][0]] for a in rule.actions}
        if rule.error_action:
            allowed.add(queue_ids[names[rule.error_action.target][0]])
        assert sent_to == allowed


@pytest.mark.parametrize("device_type", policies.DEVICE_TYPES)
def test_iot_policy_grants_only_the_things_own_topics(
    synth: Synth, stage: str, device_type: str
) -> None:
    prefix = synth.stacks[stage].stage.prefix
    _, policy = synth.by_name(
        stage, "AWS::IoT::Policy", "PolicyName", policies.policy_name(device_type, prefix)
    )
    document = policy["Properties"]["PolicyDocument"]
    allowed_actions = {"iot:Connect", "iot:Publish", "iot:Subscribe", "iot:Receive"}
    for statement in document["Statement"]:
        assert statement["Effect"] == "Allow"
        assert set(_as_list(statement["Action"])) <= allowed_actions
        for resource in map(_flatten, _as_list(statement["Resource"])):
            assert re.search(r":(client|topic|topicfilter)/", resource), resource
            assert policies.THING in resource, resource
            assert "{AWS::AccountId}" in resource  # scoped to this account, not "*"


def test_thing_type_and_group_per_device_type(synth: Synth, stage: str) -> None:
    template = Template.from_json(synth.templates[stage])
    template.resource_count_is("AWS::IoT::ThingType", len(policies.DEVICE_TYPES))
    template.resource_count_is("AWS::IoT::ThingGroup", len(policies.DEVICE_TYPES))


# --- API ---------------------------------------------------------------------------------


def test_gateway_responses_have_the_json_error_shape(synth: Synth, stage: str) -> None:
    (api,) = synth.resources(stage, "AWS::Serverless::Api").values()
    responses = api["Properties"]["GatewayResponses"]
    assert set(responses) == {r.response_type for r in GATEWAY_RESPONSES}
    for response in GATEWAY_RESPONSES:
        spec = responses[response.response_type]
        assert json.loads(spec["ResponseTemplates"]["application/json"]) == body(response)
        if response.response_type.startswith("DEFAULT_"):
            assert "StatusCode" not in spec  # keep API Gateway's own 4xx/5xx status
        else:
            assert spec["StatusCode"] == str(response.status)


def test_the_api_sends_the_spreadsheet_as_binary_and_declares_every_method(
    synth: Synth, stage: str
) -> None:
    """API Gateway answers a method it has no route for as a missing route (403 "Missing
    Authentication Token"): every routable method is declared so the app answers 405 with
    Allow, as locally; the xlsx export is a binary media type, or it arrives as base64."""
    from chalicelib.api.http import ROUTABLE_METHODS

    (api,) = synth.resources(stage, "AWS::Serverless::Api").values()
    definition = api["Properties"]["DefinitionBody"]
    assert (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        in definition["x-amazon-apigateway-binary-media-types"]
    )
    for path, methods in definition["paths"].items():
        declared = {m.upper() for m in methods if not m.startswith("x-")}
        assert declared == set(ROUTABLE_METHODS), path


def _kinds(synth: Synth, stage: str) -> dict[str, str]:
    """Function logical id -> kind, as the infra read them from the Chalice app."""
    return {f.logical_id: f.kind for f in synth.stacks[stage].api.functions}


def _client_ids(synth: Synth, stage: str) -> dict[str, str]:
    """Client name (`<prefix>-app`, `<prefix>-console`) -> logical id."""
    return {
        c["Properties"]["ClientName"]: k
        for k, c in synth.resources(stage, "AWS::Cognito::UserPoolClient").items()
    }


def _pools(synth: Synth, stage: str) -> tuple[str, str]:
    """The logical ids of the citizens' pool and the staff pool."""
    prefix = synth.stacks[stage].stage.prefix
    pools = {
        p["Properties"]["UserPoolName"]: k
        for k, p in synth.resources(stage, "AWS::Cognito::UserPool").items()
    }
    assert set(pools) == {f"{prefix}-users", f"{prefix}-staff"}
    return pools[f"{prefix}-users"], pools[f"{prefix}-staff"]


def test_authorizer_trusts_each_pool_for_its_own_client(synth: Synth, stage: str) -> None:
    (authorizer,) = [k for k, kind in _kinds(synth, stage).items() if kind == "authorizer"]
    citizens, staff = _pools(synth, stage)
    functions = synth.resources(stage, "AWS::Serverless::Function")
    env = functions[authorizer]["Properties"]["Environment"]["Variables"]
    prefix = synth.stacks[stage].stage.prefix
    clients = _client_ids(synth, stage)
    # the citizens' pool for the app's client (no roles), the staff pool for the console's
    for pool, variables, client in [
        (citizens, ("JWT_ISSUER", "JWKS_URL", "JWT_AUDIENCE"), f"{prefix}-app"),
        (staff, ("STAFF_JWT_ISSUER", "STAFF_JWKS_URL", "STAFF_JWT_AUDIENCE"), f"{prefix}-console"),
    ]:
        issuer, jwks_url, audience = (_flatten(env[v]) for v in variables)
        assert issuer == f"https://cognito-idp.{{AWS::Region}}.amazonaws.com/{{{pool}}}"
        assert jwks_url == issuer + "/.well-known/jwks.json"
        assert audience == f"{{{clients[client]}}}"
        client_props = synth.templates[stage]["Resources"][clients[client]]["Properties"]
        assert client_props["UserPoolId"] == {"Ref": pool}
    # only the authorizer reads them
    for logical_id, function in functions.items():
        if logical_id != authorizer:
            assert not {v for v in env if "JWT" in v or "JWKS" in v} & set(
                function["Properties"]["Environment"]["Variables"]
            ), logical_id
    # the four groups are the staff pool's, and the citizens' pool has none
    groups = synth.resources(stage, "AWS::Cognito::UserPoolGroup").values()
    assert {g["Properties"]["UserPoolId"]["Ref"] for g in groups} == {staff}
    names = sorted(g["Properties"]["GroupName"] for g in groups)
    assert names == sorted(roles.ROLES) == ["admin", "finance", "operator", "support"]


def test_the_api_names_its_authorizer_by_function_name(synth: Synth, stage: str) -> None:
    """The console's client needs the distribution, the distribution the API, and the
    authorizer the client's id: the API names its authorizer by name to break the cycle."""
    (authorizer,) = [k for k, kind in _kinds(synth, stage).items() if kind == "authorizer"]
    name = synth.resources(stage, "AWS::Serverless::Function")[authorizer]["Properties"][
        "FunctionName"
    ]
    assert name == f"{synth.stacks[stage].stage.prefix}-jwt-auth"
    (api,) = synth.resources(stage, "AWS::Serverless::Api").values()
    (security,) = api["Properties"]["DefinitionBody"]["securityDefinitions"].values()
    uri = security["x-amazon-apigateway-authorizer"]["authorizerUri"]["Fn::Sub"]
    assert uri.endswith(f":${{AWS::AccountId}}:function:{name}/invocations")
    assert "JwtAuth" not in json.dumps(api)


def test_every_sqs_event_source_reports_batch_item_failures(synth: Synth, stage: str) -> None:
    seen = 0
    for function in synth.resources(stage, "AWS::Serverless::Function").values():
        for event in function["Properties"].get("Events", {}).values():
            if event["Type"] in ("SQS", "DynamoDB", "Kinesis"):
                seen += 1
                assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    for mapping in synth.resources(stage, "AWS::Lambda::EventSourceMapping").values():
        seen += 1
        assert mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert seen == len(queues.ALL_QUEUES) + len(streams.ALL_STREAMS)


def test_stream_event_settings_retry_alone_then_park() -> None:
    spec = streams.LEDGER_CHANGES
    settings = cdk_api.stream_event_settings(spec, "arn:aws:sqs:ap-northeast-2:1:failures")
    assert settings["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert settings["BisectBatchOnFunctionError"] is True
    assert settings["MaximumRetryAttempts"] == spec.max_retry_attempts == 5
    assert settings["DestinationConfig"]["OnFailure"]["Destination"].endswith(":failures")


def test_a_stream_handler_is_found_with_its_stream() -> None:
    # GIVEN an app with a DynamoDB stream handler next to a queue handler
    app = Chalice(app_name="probe")

    @app.on_dynamodb_record(stream_arn="arn:aws:dynamodb:r:1:table/t/stream/x")
    def on_ledger(event: Any) -> None: ...

    @app.on_sqs_message(queue="q")
    def on_queue(event: Any) -> None: ...

    # WHEN the infra lists its functions
    found = {f.handler: f for f in cdk_functions.functions(app)}
    # THEN the stream handler gets the stream path (bisect, retries, on-failure queue)
    assert found["on_ledger"].kind == cdk_functions.DYNAMODB
    assert found["on_ledger"].logical_id == "OnLedger"
    assert found["on_ledger"].event_logical_id == "OnLedgerDynamodbEventSource"
    assert found["on_ledger"].stream_arn == "arn:aws:dynamodb:r:1:table/t/stream/x"
    assert found["on_queue"].kind == cdk_functions.SQS and found["on_queue"].queue == "q"


# --- IAM ---------------------------------------------------------------------------------


def _statements(synth: Synth, stage: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(resource id, resource type, Allow statement) for every policy in the template."""
    for rid, resource in synth.templates[stage]["Resources"].items():
        props = resource.get("Properties", {})
        documents = []
        if resource["Type"] in IAM_TYPES:
            documents += [p["PolicyDocument"] for p in props.get("Policies", [])]
            if "PolicyDocument" in props:
                documents.append(props["PolicyDocument"])
        elif "PolicyDocument" in props and resource["Type"] != "AWS::IoT::Policy":
            documents.append(props["PolicyDocument"])  # queue, topic and bucket policies
        elif resource["Type"] == "AWS::KMS::Key":
            documents.append(props["KeyPolicy"])
        for document in documents:
            for statement in document["Statement"]:
                if statement["Effect"] == "Allow":
                    yield rid, resource["Type"], statement


def test_no_wildcard_grants_on_data_services(synth: Synth, stage: str) -> None:
    checked = 0
    for rid, cfn_type, statement in _statements(synth, stage):
        actions = _as_list(statement["Action"])
        resources = _as_list(statement.get("Resource", []))
        for action in actions:
            service = action.split(":")[0]
            assert action != "*", rid
            assert action != f"{service}:*", (rid, action)
        data_actions = [a for a in actions if a.split(":")[0] in DATA_SERVICES]
        if cfn_type == "AWS::KMS::Key":
            continue  # in a key policy, Resource "*" means the key itself
        if "*" in resources and data_actions:
            assert data_actions == ["iot:DescribeEndpoint"], (rid, statement)
        checked += 1
    assert checked > 0


def test_each_function_has_its_own_role(synth: Synth, stage: str) -> None:
    functions = synth.resources(stage, "AWS::Serverless::Function")
    roles = [f["Properties"]["Role"]["Fn::GetAtt"][0] for f in functions.values()]
    assert len(set(roles)) == len(functions)
    resources = synth.templates[stage]["Resources"]
    kinds = _kinds(synth, stage)
    assert set(kinds) == set(functions)
    for logical_id, function in functions.items():
        role = resources[function["Properties"]["Role"]["Fn::GetAtt"][0]]["Properties"]
        statements = [s for p in role.get("Policies", []) for s in p["PolicyDocument"]["Statement"]]
        actions = {a for s in statements for a in _as_list(s["Action"])}
        if kinds[logical_id] == "authorizer":
            assert not actions  # the authorizer touches no data
        else:
            assert "dynamodb:GetItem" in actions
            # only the ledger audit scans (chalicelib/table_access.py SCANS_BY_FUNCTION)
            scans = [s for s in statements if "dynamodb:Scan" in _as_list(s["Action"])]
            assert all(s["Sid"] == "AuditScan" for s in scans)
            assert bool(scans) == (logical_id == "HandleAuditChunks")
        # Only device handlers answer robots; only the API reads dead-letter depth.
        assert ("iot:Publish" in actions) == (kinds[logical_id] not in ("api", "authorizer"))
        assert ("sqs:GetQueueAttributes" in actions) == (kinds[logical_id] in ("api", "sqs"))
        sqs_events = [
            e for e in function["Properties"].get("Events", {}).values() if e["Type"] == "SQS"
        ]
        consumes = {
            r["Fn::GetAtt"][0]
            for s in statements
            if "sqs:ReceiveMessage" in _as_list(s["Action"]) and s["Sid"] != "DeadLetterRedrive"
            for r in _as_list(s["Resource"])
        }
        assert len(consumes) == len(sqs_events)  # its own queue only
        # only the API redrives, and only dead-letter queues (an operator's action)
        redrive = [s for s in statements if "sqs:StartMessageMoveTask" in _as_list(s["Action"])]
        assert bool(redrive) == (kinds[logical_id] == "api")
        for statement in redrive:
            assert statement["Sid"] == "DeadLetterRedrive"
            assert "sqs:ListMessageMoveTasks" in statement["Action"]
            for r in _as_list(statement["Resource"]):
                queue = resources[r["Fn::GetAtt"][0]]["Properties"]["QueueName"]
                assert queue.endswith("-dlq"), queue
        # and admins see every parked queue's depth: the DLQs' and the stream failures'
        for statement in (s for s in statements if s["Sid"] == "DeadLetterDepth"):
            names = {
                resources[r["Fn::GetAtt"][0]]["Properties"]["QueueName"]
                for r in _as_list(statement["Resource"])
            }
            parked = {
                q["Properties"]["QueueName"]
                for q in synth.resources(stage, "AWS::SQS::Queue").values()
                if q["Properties"]["QueueName"].endswith(("-dlq", "-stream-failures"))
            }
            assert names == parked


# --- alarms ------------------------------------------------------------------------------


def test_alarms_cover_dlqs_functions_and_offline_devices(synth: Synth, stage: str) -> None:
    alarms = list(synth.resources(stage, "AWS::CloudWatch::Alarm").values())
    dlq_ids = {
        k
        for k, q in synth.resources(stage, "AWS::SQS::Queue").items()
        if q["Properties"]["QueueName"].endswith(("-dlq", "-stream-failures"))
    }
    watched_queues = {
        a["Properties"]["Dimensions"][0]["Value"]["Fn::GetAtt"][0]
        for a in alarms
        if a["Properties"].get("Namespace") == "AWS/SQS"
    }
    assert watched_queues == dlq_ids
    functions = set(synth.resources(stage, "AWS::Serverless::Function"))
    for metric in ("Errors", "Throttles"):
        watched = {
            a["Properties"]["Dimensions"][0]["Value"]["Ref"]
            for a in alarms
            if a["Properties"].get("MetricName") == metric
        }
        assert watched == functions
    (offline,) = [a for a in alarms if a["Properties"].get("Namespace") == "Gimhae/Devices"]
    props = offline["Properties"]
    assert props["MetricName"] == "OfflineDevices"
    assert props["Threshold"] == 0
    assert props["Period"] * props["EvaluationPeriods"] == 600
    for alarm in alarms:
        assert alarm["Properties"]["ComparisonOperator"] == "GreaterThanThreshold"
        assert alarm["Properties"]["AlarmActions"]


# --- cfn-lint ----------------------------------------------------------------------------


def test_cfn_lint_finds_no_errors(synth: Synth, stage: str) -> None:
    path = synth.outdir / f"{synth.stacks[stage].artifact_id}.template.json"
    matches = lint_file(path, config=ManualArgs(regions=["ap-northeast-2"]))
    errors = [str(m) for m in matches if m.rule.id.startswith("E")]
    assert errors == []


# --- cdk-nag (AWS's own checks, infra/cdk/nag.py) -------------------------------------------


def test_aws_solutions_checks_leave_no_unsuppressed_finding(synth: Synth, stage: str) -> None:
    stack = synth.stacks[stage]
    # the messages as the CLI reads them (the stack's metadata, wherever the manifest keeps it)
    assembly = aws_cdk.cx_api.CloudAssembly(str(synth.outdir))
    findings = [
        f"{m.level.value} {m.id}: {m.entry.data}"
        for m in assembly.get_stack_artifact(stack.artifact_id).messages
        if m.level.value in ("ERROR", "WARNING") and str(m.entry.data).startswith("AwsSolutions-")
    ]
    assert findings == [], "\n".join(findings)
    # the rules did run, and every suppression that did not find its finding is gone
    (report,) = synth.outdir.glob(f"AwsSolutions-*{stack.stack_name}-NagReport.csv")
    with report.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert {r["Compliance"] for r in rows} == {"Compliant", "Suppressed"}
    # a reason given with `applies_to` is reported after the finding it matched: "[...] why"
    used = {
        re.sub(r"^\[[^\]]*\] ", "", r["Exception Reason"])
        for r in rows
        if r["Compliance"] == "Suppressed"
    }
    assert used == {s.reason for s in nag.suppressions(stack)}


def test_the_readme_lists_every_suppression_with_its_reason() -> None:
    readme = (Path(__file__).parents[2] / "infra" / "cdk" / "README.md").read_text()
    rows = {line for line in readme.splitlines() if line.startswith("| ")}
    for s in (*nag.SUPPRESSIONS, nag.DEFAULT_CERTIFICATE):
        assert any(line.startswith(f"| {s.rule} |") and s.reason in line for line in rows), s


def test_each_function_may_touch_only_its_declared_tables(synth: Synth, stage: str) -> None:
    from chalicelib.table_access import TABLES_BY_FUNCTION

    resources = synth.templates[stage]["Resources"]
    table_names = {
        rid: r["Properties"]["TableName"]
        for rid, r in resources.items()
        if r["Type"] == "AWS::DynamoDB::Table"
    }
    functions = {f.logical_id: f for f in synth.stacks[stage].api.functions}
    for logical_id, function in synth.resources(stage, "AWS::Serverless::Function").items():
        role = resources[function["Properties"]["Role"]["Fn::GetAtt"][0]]["Properties"]
        granted = {
            table_names[ref["Fn::GetAtt"][0]]
            for p in role.get("Policies", [])
            for s in p["PolicyDocument"]["Statement"]
            if "dynamodb:GetItem" in _as_list(s["Action"])
            for ref in _as_list(s["Resource"])
            if isinstance(ref, dict) and "Fn::GetAtt" in ref
        }
        handler = functions[logical_id].handler
        declared = {
            synth.stacks[stage].stage.names.tables[model_key(m)]
            for m in TABLES_BY_FUNCTION.get(handler, ())
        }
        assert granted == declared, handler


def test_no_function_may_change_or_delete_a_staff_action(synth: Synth, stage: str) -> None:
    """The action log is append-only (DESIGN §4b): whoever may write it may only Put."""
    resources = synth.templates[stage]["Resources"]
    (log,) = [
        rid
        for rid, r in resources.items()
        if r["Type"] == "AWS::DynamoDB::Table"
        and r["Properties"]["TableName"].endswith("-staff-actions")
    ]
    writers = 0
    for rid, _, statement in _statements(synth, stage):
        arns = [r for r in _as_list(statement.get("Resource", [])) if isinstance(r, dict)]
        if not any(f'"{log}"' in json.dumps(r) for r in arns):
            continue
        actions = set(_as_list(statement["Action"]))
        assert not actions & {
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "dynamodb:BatchWriteItem",
            "dynamodb:PartiQLUpdate",
            "dynamodb:PartiQLDelete",
        }, (rid, statement)
        writers += "dynamodb:PutItem" in actions
    assert writers >= 1


def test_only_the_api_may_text_phone_numbers_and_no_topic_that_way(
    synth: Synth, stage: str
) -> None:
    kinds = _kinds(synth, stage)
    resources = synth.templates[stage]["Resources"]
    for logical_id, function in synth.resources(stage, "AWS::Serverless::Function").items():
        role = resources[function["Properties"]["Role"]["Fn::GetAtt"][0]]["Properties"]
        statements = [s for p in role.get("Policies", []) for s in p["PolicyDocument"]["Statement"]]
        sms = [s for s in statements if s.get("Sid") == "SmsCodes"]
        assert bool(sms) == (kinds[logical_id] == "api"), logical_id
        for statement in sms:
            assert _as_list(statement["Action"]) == ["sns:Publish"]
            assert "Resource" not in statement
            assert _as_list(statement["NotResource"]) == ["arn:aws:sns:*:*:*"]


# --- the operators' console (S3 + CloudFront + Cognito's hosted login) --------------------


def _distribution(synth: Synth, stage: str) -> tuple[str, dict[str, Any]]:
    ((rid, distribution),) = synth.resources(stage, "AWS::CloudFront::Distribution").items()
    return rid, distribution["Properties"]["DistributionConfig"]


def _origin(config: dict[str, Any], behavior: dict[str, Any]) -> dict[str, Any]:
    (origin,) = [o for o in config["Origins"] if o["Id"] == behavior["TargetOriginId"]]
    return origin


def _console_url(synth: Synth, stage: str) -> str:
    distribution_id, _ = _distribution(synth, stage)
    return f"https://{{{distribution_id}.DomainName}}{console_site.PATH_PREFIX}"


def _login_url(synth: Synth, stage: str) -> str:
    """The staff pool's hosted login (the citizens' pool has its own domain)."""
    _, staff = _pools(synth, stage)
    ((domain_id, domain),) = [
        (k, d)
        for k, d in synth.resources(stage, "AWS::Cognito::UserPoolDomain").items()
        if d["Properties"]["UserPoolId"] == {"Ref": staff}
    ]
    prefix = synth.stacks[stage].stage.prefix
    assert _flatten(domain["Properties"]["Domain"]) == f"{prefix}-staff-{{AWS::AccountId}}"
    return f"https://{{{domain_id}}}.auth.{{AWS::Region}}.amazoncognito.com"


def test_console_bucket_is_private_and_read_by_the_distribution_alone(
    synth: Synth, stage: str
) -> None:
    distribution_id, config = _distribution(synth, stage)
    origin = _origin(config, config["DefaultCacheBehavior"])
    bucket_id = origin["DomainName"]["Fn::GetAtt"][0]
    bucket = synth.templates[stage]["Resources"][bucket_id]["Properties"]
    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    # through origin access control (signed requests), not a legacy access identity
    oac_id = origin["OriginAccessControlId"]["Fn::GetAtt"][0]
    oac = synth.templates[stage]["Resources"][oac_id]["Properties"]["OriginAccessControlConfig"]
    assert (oac["OriginAccessControlOriginType"], oac["SigningBehavior"]) == ("s3", "always")
    assert origin["S3OriginConfig"]["OriginAccessIdentity"] == ""
    (policy,) = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in synth.resources(stage, "AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": bucket_id}
    ]
    (deny,) = [s for s in policy if s["Effect"] == "Deny"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    (allow,) = [s for s in policy if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert allow["Action"] == "s3:GetObject"
    source = _flatten(allow["Condition"]["StringEquals"]["AWS:SourceArn"])
    assert source.endswith(f":distribution/{{{distribution_id}}}")


def test_api_paths_reach_the_api_uncached_with_the_callers_token(synth: Synth, stage: str) -> None:
    from aws_cdk import aws_cloudfront as cloudfront

    _, config = _distribution(synth, stage)
    (api,) = [b for b in config["CacheBehaviors"] if b["PathPattern"] == "/v1/*"]
    assert api["CachePolicyId"] == cloudfront.CachePolicy.CACHING_DISABLED.cache_policy_id
    # every viewer header (Authorization among them) and query string, not Host
    assert (
        api["OriginRequestPolicyId"]
        == cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER.origin_request_policy_id
    )
    assert set(api["AllowedMethods"]) == {
        "GET",
        "HEAD",
        "OPTIONS",
        "PUT",
        "PATCH",
        "POST",
        "DELETE",
    }
    origin = _origin(config, api)
    assert _flatten(origin["DomainName"]) == "{RestAPI}.execute-api.{AWS::Region}.{AWS::URLSuffix}"
    assert origin["OriginPath"] == f"/{cdk_api.API_STAGE}"
    assert origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    for behavior in [config["DefaultCacheBehavior"], *config["CacheBehaviors"]]:
        assert behavior["ViewerProtocolPolicy"] == "redirect-to-https"


def test_console_headers_are_console_sites_with_the_hosted_login(synth: Synth, stage: str) -> None:
    _, config = _distribution(synth, stage)
    policy_id = config["DefaultCacheBehavior"]["ResponseHeadersPolicyId"]["Ref"]
    policy = synth.templates[stage]["Resources"][policy_id]["Properties"]
    headers = policy["ResponseHeadersPolicyConfig"]
    security = headers["SecurityHeadersConfig"]
    wanted = console_site.security_headers(connect_src=[_login_url(synth, stage)])
    assert _flatten(security["ContentSecurityPolicy"]["ContentSecurityPolicy"]) == (
        wanted.pop("Content-Security-Policy")
    )
    assert security["FrameOptions"]["FrameOption"] == wanted.pop("X-Frame-Options") == "DENY"
    assert wanted.pop("X-Content-Type-Options") == "nosniff"
    assert security["ContentTypeOptions"] == {"Override": True}
    assert security["ReferrerPolicy"]["ReferrerPolicy"] == wanted.pop("Referrer-Policy")
    assert security["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 365 * 24 * 3600
    custom = {h["Header"]: h["Value"] for h in headers["CustomHeadersConfig"]["Items"]}
    assert custom == wanted
    assert all(
        h["Override"] for h in [*security.values(), *headers["CustomHeadersConfig"]["Items"]]
    )


def test_console_client_signs_staff_in_on_the_hosted_login(synth: Synth, stage: str) -> None:
    prefix = synth.stacks[stage].stage.prefix
    clients = _client_ids(synth, stage)
    resources = synth.templates[stage]["Resources"]
    console = resources[clients[f"{prefix}-console"]]["Properties"]
    assert console["GenerateSecret"] is False  # a public client: PKCE, no secret
    assert console["AllowedOAuthFlows"] == ["code"]
    assert sorted(console["AllowedOAuthScopes"]) == ["email", "openid", "profile"]
    assert [_flatten(u) for u in console["CallbackURLs"]] == [_console_url(synth, stage)]
    assert [_flatten(u) for u in console["LogoutURLs"]] == [_console_url(synth, stage)]
    assert console["SupportedIdentityProviders"] == ["COGNITO"]
    assert console["ExplicitAuthFlows"] == ["ALLOW_REFRESH_TOKEN_AUTH"]
    # the citizens' app signs in with SRP: no hosted-login flow back to anywhere
    app = resources[clients[f"{prefix}-app"]]["Properties"]
    assert app["AllowedOAuthFlowsUserPoolClient"] is False
    assert "CallbackURLs" not in app
    outputs = synth.templates[stage]["Outputs"]
    assert _flatten(outputs["ConsoleURL"]["Value"]) == _console_url(synth, stage)


def test_console_files_and_config_json_are_deployed(synth: Synth, stage: str) -> None:
    (deployment,) = synth.resources(stage, "Custom::CDKBucketDeployment").values()
    props = deployment["Properties"]
    assert props["DestinationBucketKeyPrefix"] == console_site.PATH_PREFIX.strip("/")
    assert props["DistributionPaths"] == [f"{console_site.PATH_PREFIX}*"]
    staged = [synth.outdir / f"asset.{k.removesuffix('.zip')}" for k in props["SourceObjectKeys"]]
    # console/ as it is in the repository
    files, config_dir = staged
    in_repo = sorted(
        str(p.relative_to(console_site.CONSOLE_DIR))
        for p in console_site.CONSOLE_DIR.rglob("*")
        if p.is_file()
    )
    assert sorted(str(p.relative_to(files)) for p in files.rglob("*") if p.is_file()) == in_repo
    # config.json, with the values CloudFormation fills in at deploy
    text = (config_dir / "config.json").read_text()
    client_id = _client_ids(synth, stage)[f"{synth.stacks[stage].stage.prefix}-console"]
    for marker, value in props["SourceMarkers"][1].items():
        text = text.replace(marker, _flatten(value))
    assert json.loads(text) == {
        "stage": stage,
        "auth": {
            "mode": "cognito",
            "domain": _login_url(synth, stage),
            "client_id": f"{{{client_id}}}",
            "redirect_uri": _console_url(synth, stage),
        },
        "tiles": None,
        "powers": {power.value: list(roles.roles_for(power)) for power in roles.Power},
    }


def test_the_viewer_request_function_finds_the_console(synth: Synth) -> None:
    """CloudFront's function, run by Node as CloudFront runs it: a request in, the request
    to send on or a redirect out."""
    ((_, function),) = synth.resources("dev", "AWS::CloudFront::Function").items()
    paths = ["/", "/console", "/console/", "/console/js/app.js"]
    script = function["Properties"]["FunctionCode"] + (
        f"console.log(JSON.stringify({json.dumps(paths)}.map(function (uri) {{"
        "  var out = handler({request: {uri: uri, headers: {}}});"
        "  return out.statusCode ? [out.statusCode, out.headers.location.value] : out.uri;"
        "})));"
    )
    node = subprocess.run(["node", "-e", script], capture_output=True, text=True, check=True)
    assert dict(zip(paths, json.loads(node.stdout), strict=True)) == {
        "/": [301, "/console/"],
        "/console": [301, "/console/"],
        "/console/": "/console/index.html",
        "/console/js/app.js": "/console/js/app.js",
    }


def test_a_tile_server_and_a_domain_of_the_citys_own(tmp_path: Path) -> None:
    """The options a city sets with `-c`: the tile server's host joins the CSP's img-src; a
    host name with its certificate gives the console that name and TLS 1.2 at least (on
    CloudFront's own certificate the TLS policy cannot be chosen)."""
    from infra.cdk.console import ConsoleSite
    from infra.cdk.stage import Stage

    stack = aws_cdk.Stack(aws_cdk.App(outdir=str(tmp_path)), "probe")
    site = ConsoleSite(
        stack,
        "Console",
        stage=Stage.load("prod"),
        api_domain="api.example.org",
        login_url="https://login.example.org",
        tile_origin=console_site.tile_origin("https://{s}.tile.example.org/{z}/{x}/{y}.png"),
        domain="console.city.example",
        certificate_arn="arn:aws:acm:us-east-1:111111111111:certificate/abc",
    )
    assert site.url == "https://console.city.example/console/"
    template = Template.from_stack(stack).to_json()["Resources"]
    (policy,) = [r for r in template.values() if r["Type"].endswith("ResponseHeadersPolicy")]
    csp = policy["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"][
        "ContentSecurityPolicy"
    ]["ContentSecurityPolicy"]
    assert csp == console_site.content_security_policy(
        connect_src=["https://login.example.org"], img_src=["https://*.tile.example.org"]
    )
    (distribution,) = [r for r in template.values() if r["Type"].endswith("Distribution")]
    config = distribution["Properties"]["DistributionConfig"]
    assert config["Aliases"] == ["console.city.example"]
    assert config["ViewerCertificate"]["MinimumProtocolVersion"] == "TLSv1.2_2021"


# --- production: what a city needs (issue 25) ----------------------------------------------


def test_money_and_identity_tables_survive_in_production(synth: Synth) -> None:
    from chalicelib import config
    from infra.cdk.tables import MONEY_OR_IDENTITY

    prefix = synth.stacks["prod"].stage.prefix
    logical = {logical_name(m) for m in ALL_MODELS}
    assert set(MONEY_OR_IDENTITY) <= logical, "a named table that no model declares"
    for name in MONEY_OR_IDENTITY:
        # WHEN the production table is looked up by the name the app uses
        _, table = synth.by_name(
            "prod", "AWS::DynamoDB::Table", "TableName", config.table_name(name, prefix)
        )
        # THEN it can be restored to any second of the last 35 days, and not deleted by
        # a stack update, a teardown or a stray call
        props = table["Properties"]
        assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
        assert props["DeletionProtectionEnabled"] is True
        assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain"


def test_exports_bucket_is_encrypted_versioned_private_and_expires(
    synth: Synth, stage: str
) -> None:
    from infra.cdk.storage import EXPORT_RETENTION, REPLACED_RETENTION

    stack = synth.stacks[stage]
    logical_id = stack.get_logical_id(stack.exports.bucket.node.default_child)
    bucket = synth.templates[stage]["Resources"][logical_id]["Properties"]
    (sse,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert sse["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert len(bucket["PublicAccessBlockConfiguration"]) == 4
    (rule,) = bucket["LifecycleConfiguration"]["Rules"]
    assert rule["Status"] == "Enabled"
    assert rule["ExpirationInDays"] == EXPORT_RETENTION.to_days()
    assert rule["NoncurrentVersionExpiration"]["NoncurrentDays"] == REPLACED_RETENTION.to_days()
    assert rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] == 1
    # who read or wrote a transfer file: S3 server access logs, in a private TLS-only bucket
    logs_id = stack.get_logical_id(stack.exports.access_logs.node.default_child)
    assert bucket["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": logs_id}
    logs = synth.templates[stage]["Resources"][logs_id]["Properties"]
    assert all(logs["PublicAccessBlockConfiguration"].values())


def test_alarms_reach_the_address_given_at_deploy_and_none_without(
    synth: Synth, stage: str
) -> None:
    from infra.cdk.subscriptions import ALARM_EMAIL_PARAMETER

    template = synth.templates[stage]
    parameter = template["Parameters"][ALARM_EMAIL_PARAMETER]
    assert parameter["Default"] == ""
    assert re.fullmatch(parameter["AllowedPattern"], "ops@city.example")
    assert not re.fullmatch(parameter["AllowedPattern"], "ops city.example")
    (subscription,) = synth.resources(stage, "AWS::SNS::Subscription").values()
    # the one topic every alarm notifies, by e-mail, only when an address was given
    topic = subscription["Properties"]["TopicArn"]["Ref"]
    actions = {
        a["Ref"]
        for alarm in synth.resources(stage, "AWS::CloudWatch::Alarm").values()
        for a in alarm["Properties"]["AlarmActions"]
    }
    assert actions == {topic}
    assert subscription["Properties"]["Protocol"] == "email"
    assert subscription["Properties"]["Endpoint"] == {"Ref": ALARM_EMAIL_PARAMETER}
    condition = template["Conditions"][subscription["Condition"]]
    assert condition == {"Fn::Not": [{"Fn::Equals": [{"Ref": ALARM_EMAIL_PARAMETER}, ""]}]}


def test_staff_must_use_an_authenticator_app_and_citizens_may(synth: Synth, stage: str) -> None:
    citizens, staff = _pools(synth, stage)
    resources = synth.templates[stage]["Resources"]
    citizen, member = resources[citizens]["Properties"], resources[staff]["Properties"]
    # an authenticator app (TOTP), never SMS: required of staff, offered to citizens
    assert (citizen["MfaConfiguration"], member["MfaConfiguration"]) == ("OPTIONAL", "ON")
    for props in (citizen, member):
        assert props["EnabledMfas"] == ["SOFTWARE_TOKEN_MFA"]
        assert "SmsConfiguration" not in props
    # citizens sign themselves up; staff are created by an admin
    assert citizen["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is False
    assert member["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    # the citizens' pool on Lite (billed per citizen); staff on Plus, its threat protection on
    assert (citizen["UserPoolTier"], member["UserPoolTier"]) == ("LITE", "PLUS")
    assert member["UserPoolAddOns"] == {"AdvancedSecurityMode": "ENFORCED"}
    password = member["Policies"]["PasswordPolicy"]
    assert password["MinimumLength"] >= 14 and password["PasswordHistorySize"] > 0
    assert all(password[f"Require{c}"] for c in ("Lowercase", "Uppercase", "Numbers", "Symbols"))
    (risk,) = synth.resources(stage, "AWS::Cognito::UserPoolRiskConfigurationAttachment").values()
    assert risk["Properties"]["UserPoolId"] == {"Ref": staff}
    takeover = risk["Properties"]["AccountTakeoverRiskConfiguration"]["Actions"]
    assert takeover["HighAction"]["EventAction"] == "BLOCK"
    compromised = risk["Properties"]["CompromisedCredentialsRiskConfiguration"]
    assert compromised["Actions"]["EventAction"] == "BLOCK"
    # prod keeps both pools: who citizens and staff are is identity
    production = synth.stacks[stage].stage.is_production
    for pool in (citizens, staff):
        assert (resources[pool]["DeletionPolicy"] == "Retain") == production
        assert (resources[pool]["Properties"].get("DeletionProtection") == "ACTIVE") == production
    # staff pool outputs for the deploy guide's commands
    outputs = synth.templates[stage]["Outputs"]
    assert outputs["StaffUserPoolId"]["Value"] == {"Ref": staff}
    assert outputs["UserPoolId"]["Value"] == {"Ref": citizens}
    assert _flatten(outputs["StaffLoginURL"]["Value"]) == _login_url(synth, stage)


def test_waf_guards_the_api_stage_which_throttles(synth: Synth, stage: str) -> None:
    from infra.cdk.firewall import COMMON_RULE_SET, RATE_LIMIT_PER_IP, THROTTLE

    (acl,) = synth.resources(stage, "AWS::WAFv2::WebACL").values()
    props = acl["Properties"]
    assert props["Scope"] == "REGIONAL"
    assert props["DefaultAction"] == {"Allow": {}}
    # THEN the per-IP limit comes first, then AWS's common rules, each with its metrics
    first, second = sorted(props["Rules"], key=lambda r: r["Priority"])
    rate = first["Statement"]["RateBasedStatement"]
    assert (rate["AggregateKeyType"], rate["Limit"]) == ("IP", RATE_LIMIT_PER_IP)
    assert first["Action"] == {"Block": {}}
    managed = second["Statement"]["ManagedRuleGroupStatement"]
    assert (managed["VendorName"], managed["Name"]) == ("AWS", COMMON_RULE_SET)
    assert second["OverrideAction"] == {"None": {}}
    for visibility in [props["VisibilityConfig"], first["VisibilityConfig"]]:
        assert visibility["CloudWatchMetricsEnabled"] is True
    assert second["VisibilityConfig"]["CloudWatchMetricsEnabled"] is True
    # AND it is associated with the API's own stage, once SAM has made it
    (association,) = synth.resources(stage, "AWS::WAFv2::WebACLAssociation").values()
    arn = _flatten(association["Properties"]["ResourceArn"])
    assert arn.endswith(f"::/restapis/{{RestAPI}}/stages/{cdk_api.API_STAGE}")
    assert association["DependsOn"] == [f"RestAPI{cdk_api.API_STAGE}Stage"]
    # AND the stage throttles every method
    rest_api = synth.templates[stage]["Resources"]["RestAPI"]["Properties"]
    (settings,) = rest_api["MethodSettings"]
    assert (settings["ResourcePath"], settings["HttpMethod"]) == ("/*", "*")
    assert (settings["ThrottlingRateLimit"], settings["ThrottlingBurstLimit"]) == THROTTLE


def test_the_rate_limit_and_throttle_are_the_citys_to_set(tmp_path: Path) -> None:
    from infra.cdk.firewall import RATE_LIMIT_CONTEXT, THROTTLE_CONTEXT, rate_limit, throttle

    app = aws_cdk.App(
        outdir=str(tmp_path),
        context={RATE_LIMIT_CONTEXT: "600", THROTTLE_CONTEXT: "100,200"},
    )
    assert throttle(app) == (100, 200)
    assert rate_limit(app) == 600


def _dashboard_lines(synth: Synth, stage: str) -> list[tuple[str, str, dict[str, str]]]:
    """(namespace, metric, dimensions) of every line on the stage's one dashboard."""
    (dashboard,) = synth.resources(stage, "AWS::CloudWatch::Dashboard").values()
    body = json.loads(_flatten(dashboard["Properties"]["DashboardBody"]))
    lines = []
    for widget in body["widgets"]:
        for line in widget["properties"].get("metrics", []):
            namespace, metric, *rest = [p for p in line if isinstance(p, str)]
            lines.append((namespace, metric, dict(zip(rest[::2], rest[1::2], strict=True))))
    return lines


def test_every_alarm_has_its_graph_on_the_dashboard(synth: Synth, stage: str) -> None:
    lines = _dashboard_lines(synth, stage)
    graphed = {(ns, metric, json.dumps(dims, sort_keys=True)) for ns, metric, dims in lines}
    for alarm in synth.resources(stage, "AWS::CloudWatch::Alarm").values():
        props = alarm["Properties"]
        dims = {d["Name"]: _flatten(d["Value"]) for d in props["Dimensions"]}
        key = (props["Namespace"], props["MetricName"], json.dumps(dims, sort_keys=True))
        assert key in graphed, f"{_flatten(props['AlarmName'])} has no graph"


def test_the_dashboard_shows_what_the_city_runs_on(synth: Synth, stage: str) -> None:
    from typing import get_args

    from chalicelib import wiring
    from chalicelib.domain.alerts import AlertKind
    from chalicelib.domain.recycling import RejectReason

    lines = _dashboard_lines(synth, stage)
    metrics = {(ns, metric) for ns, metric, _ in lines}
    city = wiring.METRICS_NAMESPACE
    # the app's counts, with the one dimension Powertools gives them
    assert all(dims == {"service": wiring.SERVICE} for ns, _, dims in lines if ns == city), (
        "an app metric the app never publishes with these dimensions"
    )
    assert (city, "DepositsCredited") in metrics
    assert (city, wiring.STEP_SYNCS) in metrics
    assert {(city, wiring.rejected_metric(r)) for r in get_args(RejectReason)} <= metrics
    assert {(city, wiring.alert_metric(k)) for k in get_args(AlertKind)} <= metrics
    # every queue's depth, every stream consumer's iterator age, the API's p95 and 5xx
    depth = {
        dims["QueueName"]
        for ns, metric, dims in lines
        if metric == "ApproximateNumberOfMessagesVisible"
    }
    assert len(depth) == len(synth.resources(stage, "AWS::SQS::Queue"))
    streamed = {f.logical_id for f in synth.stacks[stage].api.functions if f.kind == "dynamodb"}
    aged = {dims["FunctionName"] for _, metric, dims in lines if metric == "IteratorAge"}
    assert aged == {f"{{{logical_id}}}" for logical_id in streamed}
    assert ("AWS/ApiGateway", "Latency") in metrics and ("AWS/ApiGateway", "5XXError") in metrics
    (dashboard,) = synth.resources(stage, "AWS::CloudWatch::Dashboard").values()
    assert '"stat":"p95"' in _flatten(dashboard["Properties"]["DashboardBody"])
    # API Gateway names a REST API's metrics by its title and stage
    title = synth.templates[stage]["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]["info"]
    api_dims = {json.dumps(d) for ns, _, d in lines if ns == "AWS/ApiGateway"}
    assert api_dims == {json.dumps({"ApiName": title["title"], "Stage": cdk_api.API_STAGE})}
