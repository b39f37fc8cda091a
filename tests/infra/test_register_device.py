"""Registering a device in AWS (on moto): thing, group, certificate, policy, registry row."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from chalicelib.adapters.dynamodb_models import Device, DeviceState
from infra.cdk import register_device
from infra.cdk.names import model_key
from infra.cdk.stage import Stage
from iot import policies
from iot.iot_names import policy_name, thing_group_name, thing_type_name


@pytest.fixture
def aws():
    with mock_aws():
        yield


def _provision(stage: Stage) -> None:
    """What the stack creates that registration relies on."""
    iot = boto3.client("iot")
    for device_type in policies.DEVICE_TYPES:
        iot.create_thing_type(thingTypeName=thing_type_name(device_type, stage.prefix))
        iot.create_thing_group(thingGroupName=thing_group_name(device_type, stage.prefix))
        iot.create_policy(
            policyName=policy_name(device_type, stage.prefix),
            policyDocument=json.dumps(policies.policy_document(device_type, stage.city)),
        )
    for model in (Device, DeviceState):
        boto3.client("dynamodb").create_table(
            TableName=stage.names.tables[model_key(model)],
            KeySchema=[{"AttributeName": "device_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "device_id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )


@pytest.mark.parametrize("stage_name", ["dev", "prod"])
def test_register_a_fleet_robot(aws: None, tmp_path: Path, stage_name: str, capsys) -> None:
    # GIVEN a deployed stage
    stage = Stage.load(stage_name)
    _provision(stage)
    # WHEN robot-001 of the fleet file is registered
    register_device.main(
        ["robot-001", "--type", "robot", "--stage", stage_name, "--out", str(tmp_path)]
    )
    # THEN it is a thing of its type, in its group, with an active certificate under its policy
    iot = boto3.client("iot")
    thing = iot.describe_thing(thingName="robot-001")
    assert thing["thingTypeName"] == thing_type_name("robot", stage.prefix)
    group = iot.list_things_in_thing_group(thingGroupName=thing_group_name("robot", stage.prefix))
    assert group["things"] == ["robot-001"]
    (principal,) = iot.list_thing_principals(thingName="robot-001")["principals"]
    attached = iot.list_attached_policies(target=principal)["policies"]
    assert [p["policyName"] for p in attached] == [policy_name("robot", stage.prefix)]
    printed = json.loads(capsys.readouterr().out)
    assert Path(printed["cert_file"]).read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert Path(printed["key_file"]).stat().st_mode & 0o077 == 0
    # AND the cloud knows it: its row is in the stage's devices table
    item = boto3.client("dynamodb").get_item(
        TableName=stage.names.tables[model_key(Device)], Key={"device_id": {"S": "robot-001"}}
    )["Item"]
    assert item["device_type"] == {"S": "robot"}
    # AND it is listed (offline) before its first message: its state row exists
    state = boto3.client("dynamodb").get_item(
        TableName=stage.names.tables[model_key(DeviceState)],
        Key={"device_id": {"S": "robot-001"}},
    )["Item"]
    assert (state["fleet_group"], state["online"]) == ({"S": "gimhae#robot"}, {"BOOL": False})


def test_register_with_the_region_as_the_readme_exports_it(
    aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    # GIVEN a deployed stage, and a shell with `export AWS_REGION=...` alone (as for the CDK
    # CLI), which botocore does not read
    stage = Stage.load("dev")
    region = boto3.session.Session().region_name
    _provision(stage)
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.setenv("AWS_REGION", region)
    # WHEN a device is registered
    register_device.main(["robot-001", "--type", "robot", "--out", str(tmp_path)])
    # THEN it is registered in that region, no NoRegionError on the way
    printed = json.loads(capsys.readouterr().out)
    assert printed["thing"] == "robot-001"
    iot = boto3.client("iot", region_name=region)
    assert iot.describe_thing(thingName="robot-001")["thingTypeName"] == thing_type_name(
        "robot", stage.prefix
    )
