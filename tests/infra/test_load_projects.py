"""Loading the project registry into a deployed stage (on moto): docs/deploy.md step 5, as
written: a registry file registered once, with the stage's table names, each in the action log."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from chalicelib.adapters.dynamodb_models import Project, StaffAction
from infra.cdk import load_projects
from infra.cdk.names import model_key
from infra.cdk.stage import Stage
from infra.project_registry import SAMPLE


@pytest.fixture
def aws():
    with mock_aws():
        yield


def test_a_registry_loads_into_a_stage_once(
    aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a deployed prod stage's registry and action log (empty)
    stage = Stage.load("prod")
    names = []
    for model, keys in ((Project, ("city", "project_id")), (StaffAction, ("log", "action_id"))):
        names.append(stage.names.tables[model_key(model)])
        boto3.client("dynamodb").create_table(
            TableName=names[-1],
            KeySchema=[
                {"AttributeName": keys[0], "KeyType": "HASH"},
                {"AttributeName": keys[1], "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in keys],
            BillingMode="PAY_PER_REQUEST",
        )
    assert all(name.startswith(stage.prefix) for name in names)
    # WHEN the operator loads a registry (three of the sample's projects), twice
    sample = json.loads(SAMPLE.read_text(encoding="utf-8"))
    registry = tmp_path / "registry.json"
    registry.write_text(json.dumps({"projects": sample["projects"][:3]}), encoding="utf-8")
    by = ["--by", "admin@example.go.kr"]
    assert load_projects.main(["--stage", "prod", *by, str(registry)]) == 0
    first = json.loads(capsys.readouterr().out)
    assert load_projects.main(["--stage", "prod", str(registry)]) == 0
    second = json.loads(capsys.readouterr().out)
    # THEN they are registered once, each with its entry under the operator's name
    assert (len(first["created"]), first["kept"]) == (3, [])
    assert (second["created"], len(second["kept"])) == ([], 3)
    dynamodb = boto3.client("dynamodb")
    assert dynamodb.scan(TableName=names[0], Select="COUNT")["Count"] == 3
    actions = dynamodb.scan(TableName=names[1])["Items"]
    assert len(actions) == 3
    assert {a["actor"]["S"] for a in actions} == {"admin@example.go.kr"}


def test_a_bad_file_registers_nothing(
    aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "registry.json"
    bad.write_text(json.dumps({"projects": [{"project_id": "x"}]}), encoding="utf-8")
    assert load_projects.main(["--stage", "prod", str(bad)]) == 2
    assert "not a registry file" in capsys.readouterr().err
