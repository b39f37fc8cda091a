"""The emulator within reach: with nothing but what `python -m infra.local env` prints
(a shell with an empty environment, then `eval`), plain boto3 lists the exports bucket, reads a
table's item and a queue's attributes, named by `python -m infra.local resources`; and every
message to the operators' alerts topic, however published, shows in `outbox --channel alert`."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e

READ = textwrap.dedent(
    """
    import json, sys
    import boto3

    names = json.loads(sys.argv[1])
    s3, dynamodb, sqs = boto3.client("s3"), boto3.client("dynamodb"), boto3.client("sqs")
    listed = s3.list_objects_v2(Bucket=names["exports_bucket"])
    item = dynamodb.get_item(
        TableName=names["tables"]["devices"], Key={"device_id": {"S": "robot-001"}}
    )["Item"]
    queue = sqs.get_queue_attributes(
        QueueUrl=names["queues"]["deposits"], AttributeNames=["QueueArn", "RedrivePolicy"]
    )["Attributes"]
    print(json.dumps({
        "bucket": listed["Name"],
        "device": item["device_id"]["S"],
        "queue_arn": queue["QueueArn"],
        "redrive": json.loads(queue["RedrivePolicy"]),
        "endpoint": s3.meta.endpoint_url,
        "region": s3.meta.region_name,
    }))
    """
)
PUBLISH = textwrap.dedent(
    """
    import json, sys
    import boto3

    sns, topic, mark = boto3.client("sns"), sys.argv[1], sys.argv[2]

    def message(n):
        return json.dumps({"kind": "test", "mark": mark, "n": n})

    sns.publish(TopicArn=topic, Message=message("one"))
    sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=[
        {"Id": "a", "Message": message("two")}, {"Id": "b", "Message": message("three")},
    ])
    """
)


def _local(stack: Stack, *words: str) -> str:
    command = [sys.executable, "-m", "infra.local", *words, "--state-dir", str(stack.state_dir)]
    return subprocess.run(
        command, cwd=ROOT, check=True, capture_output=True, text=True, timeout=60
    ).stdout


def _in_a_clean_shell(stack: Stack, script: str, *args: str, home: Path) -> str:
    """`eval "$(python -m infra.local env)"`, then `python -c script args`, in a shell that
    starts with no environment at all (no AWS settings, no credentials, an empty home)."""
    python, folder = shlex.quote(sys.executable), shlex.quote(str(stack.state_dir))
    line = (
        f'eval "$({python} -m infra.local env --state-dir {folder})" && '
        f"{python} -c {shlex.quote(script)} {' '.join(shlex.quote(a) for a in args)}"
    )
    run = subprocess.run(
        ["/usr/bin/env", "-i", f"HOME={home}", "PATH=/usr/bin:/bin", "/bin/sh", "-c", line],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    return run.stdout


def test_with_only_the_printed_environment_boto3_reaches_the_bucket_a_table_and_a_queue(
    stack: Stack, tmp_path: Path
) -> None:
    # GIVEN the names of the stack's resources, as printed
    names: dict[str, Any] = json.loads(_local(stack, "resources"))
    assert names == stack.document["resources"]
    assert names["exports_bucket"].endswith("-exports")
    assert {"devices", "ledger", "citizens"} <= set(names["tables"])
    assert {"deposits", "deposits-dlq"} <= set(names["queues"])
    # WHEN plain boto3 runs with nothing but the printed environment
    seen = json.loads(_in_a_clean_shell(stack, READ, json.dumps(names), home=tmp_path))
    # THEN it reached the stack's emulator, in its region, and read each
    assert seen["endpoint"] == stack.document["aws_endpoint_url"]
    assert seen["region"] == stack.document["region"]
    assert seen["bucket"] == names["exports_bucket"]
    assert seen["device"] == "robot-001"
    assert seen["queue_arn"].endswith(":" + names["queues"]["deposits"].rsplit("/", 1)[-1])
    assert seen["redrive"]["deadLetterTargetArn"].endswith("-dlq")


def test_every_message_to_the_alerts_topic_shows_in_the_alert_outbox(
    stack: Stack, tmp_path: Path
) -> None:
    topic = stack.document["resources"]["alerts_topic_arn"]
    mark = f"reach-e2e-{uuid.uuid4().hex[:8]}"
    # WHEN messages reach the alerts topic by Publish and by PublishBatch
    _in_a_clean_shell(stack, PUBLISH, topic, mark, home=tmp_path)
    # THEN the alert outbox holds each, to the topic's name
    lines = [
        json.loads(line) for line in _local(stack, "outbox", "--channel", "alert").splitlines()
    ]
    mine = [m for m in lines if mark in m["text"]]
    assert sorted(json.loads(m["text"])["n"] for m in mine) == ["one", "three", "two"]
    assert {(m["channel"], m["to"]) for m in mine} == {("alert", topic.rsplit(":", 1)[-1])}
