"""Provision AWS resources on the emulator from their one source each: tables from the
PynamoDB models, queues from chalicelib.queues, IoT things and policies from the fleet data
file, iot/provisioning.py and iot/policies.py, topic rules from iot/rules. Functional tests
use it too. `provision_device` provisions one device into a running local stack
(`python -m infra.local provision`): iot/provisioning.py with the local CA as its issuer."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chalicelib import config, queues, streams
from chalicelib.adapters.dynamodb_models import ALL_MODELS
from iot import policies, provisioning
from iot.rule_definitions import TopicRule, load_rules

ACCOUNT = "123456789012"
DEFAULT_FLEET = Path(__file__).resolve().parents[2] / "iot" / "fleet" / "yeonji-park.json"
RULES_ROLE = f"arn:aws:iam::{ACCOUNT}:role/gimhae-iot-rules"


@dataclass(frozen=True)
class QueueRef:
    url: str
    arn: str


def load_fleet(path: Path = DEFAULT_FLEET) -> dict[str, Any]:
    return dict(json.loads(path.read_text(encoding="utf-8")))


def create_tables() -> list[str]:
    """Every model's table; a table kept from an earlier run (a state directory) gets the
    indexes its model added since, as CloudFormation adds them in AWS."""
    names = []
    for model in ALL_MODELS:
        if not model.exists():
            model.create_table(wait=True, billing_mode="PAY_PER_REQUEST")
        else:
            add_missing_indexes(model)
        names.append(model.Meta.table_name)
    return names


def add_missing_indexes(model: Any) -> list[str]:
    """Create the model's global indexes its table lacks (one UpdateTable each, as DynamoDB
    takes one index creation at a time); DynamoDB (and moto) fills them from the items."""
    client = model._get_connection().connection.client
    table = model.Meta.table_name
    described = client.describe_table(TableName=table)["Table"]
    present = {i["IndexName"] for i in described.get("GlobalSecondaryIndexes", [])}
    schema = model._get_schema()
    types = {a["AttributeName"]: a["AttributeType"] for a in schema["attribute_definitions"]}
    added = []
    for index in schema["global_secondary_indexes"]:
        if index["index_name"] in present:
            continue
        keys = [k["AttributeName"] for k in index["key_schema"]]
        client.update_table(
            TableName=table,
            AttributeDefinitions=[{"AttributeName": k, "AttributeType": types[k]} for k in keys],
            GlobalSecondaryIndexUpdates=[
                {
                    "Create": {
                        "IndexName": index["index_name"],
                        "KeySchema": index["key_schema"],
                        "Projection": index["projection"],
                    }
                }
            ],
        )
        added.append(index["index_name"])
    return added


def create_queues(sqs: Any, visibility_timeout_s: int | None = None) -> dict[str, QueueRef]:
    """Each queue with its DLQ and redrive. Returns refs by queue name (DLQs included)."""
    refs: dict[str, QueueRef] = {}
    for spec in queues.ALL_QUEUES:
        dlq_url = sqs.create_queue(
            QueueName=spec.dlq_name,
            Attributes={"MessageRetentionPeriod": str(spec.dlq_retention_s)},
        )["QueueUrl"]
        dlq_arn = _queue_arn(sqs, dlq_url)
        url = _queue(
            sqs,
            spec.name,
            {
                "VisibilityTimeout": str(visibility_timeout_s or spec.visibility_timeout_s),
                "MessageRetentionPeriod": str(spec.retention_s),
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": spec.max_receive_count}
                ),
            },
        )
        refs[spec.name] = QueueRef(url, _queue_arn(sqs, url))
        refs[spec.dlq_name] = QueueRef(dlq_url, dlq_arn)
    for stream in streams.ALL_STREAMS:
        url = sqs.create_queue(
            QueueName=stream.failure_queue_name,
            Attributes={"MessageRetentionPeriod": str(14 * 24 * 3600)},
        )["QueueUrl"]
        refs[stream.failure_queue_name] = QueueRef(url, _queue_arn(sqs, url))
    return refs


def _queue(sqs: Any, name: str, attributes: dict[str, str]) -> str:
    """Create the queue, or (kept from an earlier run: infra.local.persistence) give it
    these attributes, its messages untouched."""
    try:
        return str(sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"])
    except sqs.exceptions.QueueNameExists:
        url = str(sqs.get_queue_url(QueueName=name)["QueueUrl"])
        sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)
        return url


def stream_environment(dynamodb: Any) -> dict[str, str]:
    """Each stream handler's ARN variable, set to its table's stream on the emulator."""
    return {
        spec.arn_variable: str(
            dynamodb.describe_table(TableName=config.table_name(spec.table))["Table"][
                "LatestStreamArn"
            ]
        )
        for spec in streams.ALL_STREAMS
    }


def _queue_arn(sqs: Any, url: str) -> str:
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return str(attrs["Attributes"]["QueueArn"])


def create_notifications(sns: Any, s3: Any) -> dict[str, str]:
    topic_arn = sns.create_topic(Name=config.alerts_topic_name())["TopicArn"]
    bucket = config.exports_bucket_name()
    s3.create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": config.region()}
    )
    return {"alerts_topic_arn": topic_arn, "exports_bucket": bucket}


def create_push_applications(sns: Any) -> dict[str, str]:
    """Stand-ins for the FCM and APNs platform applications (in AWS the deployer's, made
    with the platforms' credentials): the settings' variables, set to their ARNs. What the
    app publishes to their endpoints lands in the local outbox (channel `push`)."""
    made = {}
    for platform, sns_platform, variable in (
        ("fcm", "GCM", config.PUSH_FCM_APPLICATION_ARN),
        ("apns", "APNS", config.PUSH_APNS_APPLICATION_ARN),
    ):
        arn = sns.create_platform_application(
            Name=config.resource_name(f"push-{platform}"),
            Platform=sns_platform,
            Attributes={"PlatformCredential": "local", "PlatformPrincipal": "local"},
        )["PlatformApplicationArn"]
        made[variable] = str(arn)
    return made


def resources_document(
    tables: list[str], queue_refs: dict[str, QueueRef], notifications: dict[str, str]
) -> dict[str, Any]:
    """The resources a developer names with boto3 or the AWS CLI, by their logical names
    (the stage's prefix dropped): the exports bucket, the alerts topic, each table's name
    and each queue's URL (dead-letter and on-failure queues included)."""
    prefix = config.resource_prefix() + "-"
    return {
        "exports_bucket": notifications["exports_bucket"],
        "alerts_topic_arn": notifications["alerts_topic_arn"],
        "tables": {name.removeprefix(prefix): name for name in sorted(tables)},
        "queues": {name.removeprefix(prefix): ref.url for name, ref in sorted(queue_refs.items())},
    }


def create_data_key(kms: Any) -> str:
    """The data key (payout accounts), under the alias the CDK app gives it; its ARN."""
    alias = config.data_key_alias()
    for found in kms.list_aliases().get("Aliases", []):
        if found.get("AliasName") == alias and found.get("TargetKeyId"):
            return str(kms.describe_key(KeyId=found["TargetKeyId"])["KeyMetadata"]["Arn"])
    key = kms.create_key(Description="Payout-account data (local)")["KeyMetadata"]
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    return str(key["Arn"])


def register_devices(fleet: dict[str, Any]) -> int:
    """The fleet's devices in the city's registry (iot/provisioning.record_devices)."""
    return provisioning.record_devices(fleet["devices"], str(fleet.get("city", "gimhae")))


def load_projects(path: Path) -> int:
    """The project registry's file: its new projects registered (infra/project_registry.py);
    those already there kept. How many were new."""
    from infra.project_registry import load

    return len(load(path).created)


def seed_device_states(fleet: dict[str, Any]) -> None:
    """The fleet's state rows alone (iot/provisioning.seed_device_states)."""
    provisioning.seed_device_states(fleet["devices"], str(fleet.get("city", "gimhae")))


def create_iot(iot: Any, fleet: dict[str, Any], certificates: dict[str, str], city: str) -> None:
    """Thing types and groups, per-type policies (in AWS: the CDK stack's), then each device
    with its certificate, as iot/provisioning.py registers it."""
    prefix = config.resource_prefix()
    provisioning.create_device_types(iot, prefix)
    for device_type in policies.DEVICE_TYPES:
        iot.create_policy(
            policyName=policies.policy_name(device_type, prefix),
            policyDocument=json.dumps(
                policies.policy_document(device_type, city, config.region(), ACCOUNT)
            ),
        )
    for device in fleet["devices"]:
        cert_pem = Path(certificates[device["device_id"]]).read_text(encoding="utf-8")
        cert_arn = iot.register_certificate_without_ca(certificatePem=cert_pem, status="ACTIVE")[
            "certificateArn"
        ]
        spec = provisioning.DeviceSpec(device["device_id"], device["type"], device["district"])
        provisioning.register_certificate(iot, spec, cert_arn, prefix)


def create_topic_rules(iot: Any, city: str, queue_refs: dict[str, QueueRef]) -> list[TopicRule]:
    rules = load_rules(city)
    for rule in rules:
        payload: dict[str, Any] = {
            "sql": rule.sql,
            "awsIotSqlVersion": rule.sql_version,
            "ruleDisabled": False,
            "description": rule.description,
            "actions": [_rule_action(a.kind, a.target, queue_refs) for a in rule.actions],
        }
        if rule.error_action:
            payload["errorAction"] = _rule_action(
                rule.error_action.kind, rule.error_action.target, queue_refs
            )
        iot.create_topic_rule(ruleName=rule.name, topicRulePayload=payload)
    return rules


def _rule_action(kind: str, target: str, queue_refs: dict[str, QueueRef]) -> dict[str, Any]:
    if kind != "sqs":
        raise ValueError(f"rule action {kind!r} is not supported by the local stack yet")
    ref = queue_refs[queues.by_logical(target).name]
    return {"sqs": {"queueUrl": ref.url, "roleArn": RULES_ROLE, "useBase64": False}}


def provision_device(
    spec: provisioning.DeviceSpec, state_dir: Path, folder: Path | None = None
) -> provisioning.Provisioned:
    """Provision into the running local stack of `state_dir` (its stack.json): the local CA
    signs the device's CSR, and the stack's broker grants it its topics (no restart)."""
    state_dir = Path(state_dir).resolve()
    from infra.local.device_ca import SERVICE_IDENTITIES
    from iot.cli import UsageError, read_stack

    if spec.thing in SERVICE_IDENTITIES:  # checked before anything is created
        raise provisioning.SpecError(
            f"thing {spec.thing!r}: the local broker's own identity; a device needs another id"
        )

    stack = read_stack(state_dir / "stack.json")  # UsageError when no stack runs there
    missing = [k for k in ("region", "aws_endpoint_url") if not stack.get(k)]
    missing += [k for k in ("host", "port", "ca_file") if not stack["mqtt"].get(k)]
    if missing:
        raise UsageError(
            f"{state_dir / 'stack.json'} has no {', '.join(missing)} (an older version?): "
            "restart the local stack with this checkout (./dev up)"
        )
    _use_stack_environment(stack)
    import boto3

    from infra.local import device_requests, pki
    from infra.local.device_ca import local_ca_issuer
    from infra.local.stack import ROOT

    folder = (folder or state_dir / "devices" / spec.thing).resolve()
    session = boto3.session.Session(region_name=stack["region"])
    iot = session.client("iot", endpoint_url=stack["aws_endpoint_url"])
    ca = pki.CertPaths(state_dir / "certs" / "ca.pem", state_dir / "certs" / "ca.key")
    cert_arn, key_file, cert_file = provisioning.register_thing(
        iot, spec, folder, local_ca_issuer(iot, ca, spec.thing), config.resource_prefix()
    )
    city = str(stack["mqtt"].get("city", "gimhae"))
    provisioning.record_devices([spec.registry_row()], city)
    device_requests.request_access(
        state_dir,
        {
            "device_id": spec.thing,
            "type": spec.device_type,
            "cert_file": str(cert_file),
            "key_file": str(key_file),
            # the stack registers it again at every start (a kill loses no device)
            "registry": spec.registry_row(),
        },
    )
    ca_file = Path(stack["mqtt"]["ca_file"])
    if not ca_file.is_absolute():
        ca_file = ROOT / ca_file
    document = provisioning.device_config(
        spec, city, stack["mqtt"]["host"], int(stack["mqtt"]["port"]), ca_file, key_file, cert_file
    )
    config_file = provisioning.write_config(folder, document)
    return provisioning.Provisioned(
        spec.thing, cert_arn, folder, config_file, key_file, cert_file, spec
    )


def _use_stack_environment(stack: dict[str, Any]) -> None:
    """This process talks to the local stack's emulator with the dev stage's names."""
    from infra.stage import stage_environment

    for name, value in stage_environment("dev").items():
        os.environ.setdefault(name, value)
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": str(stack["aws_endpoint_url"]),
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": str(stack["region"]),
            "AWS_REGION": str(stack["region"]),
        }
    )
    os.environ.pop("AWS_PROFILE", None)
    from chalicelib import wiring

    wiring.clear()
