"""infra/local/moto_sqs_moves.py: SQS's message move task on moto, as AWS documents it (a
dead-letter queue's messages back to their source, one task at a time, listed newest first;
a queue that is no SQS queue's DLQ refused)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.exceptions
import pytest
from moto import mock_aws

from infra.local import moto_sqs_moves

REGION = "ap-northeast-2"


@pytest.fixture
def sqs() -> Iterator[Any]:
    moto_sqs_moves.install()
    with mock_aws():
        moto_sqs_moves.reset()
        yield boto3.client("sqs", region_name=REGION)


def _queues(sqs: Any) -> tuple[str, str, str, str]:
    dlq = sqs.create_queue(QueueName="q-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    source = sqs.create_queue(
        QueueName="q",
        Attributes={
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 5})
        },
    )["QueueUrl"]
    source_arn = sqs.get_queue_attributes(QueueUrl=source, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    return dlq, dlq_arn, source, source_arn


def test_the_patch_still_fits_the_moto_installed() -> None:
    assert moto_sqs_moves.check() == []


def test_a_dead_letter_queue_moves_back_to_its_source_with_attributes(sqs: Any) -> None:
    dlq, dlq_arn, source, source_arn = _queues(sqs)
    for n in range(13):
        sqs.send_message(
            QueueUrl=dlq,
            MessageBody=f"m{n}",
            MessageAttributes={"n": {"DataType": "Number", "StringValue": str(n)}},
        )
    handle = sqs.start_message_move_task(SourceArn=dlq_arn)["TaskHandle"]  # to its source
    moved = sqs.receive_message(
        QueueUrl=source, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    )
    assert len(moved["Messages"]) == 10
    assert all(
        m["MessageAttributes"]["n"]["StringValue"] == m["Body"][1:] for m in moved["Messages"]
    )
    assert "Messages" not in sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=0)
    [task] = sqs.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=10)["Results"]
    assert task["TaskHandle"] == handle and task["Status"] == "COMPLETED"
    assert task["ApproximateNumberOfMessagesMoved"] == 13
    assert task["DestinationArn"] == source_arn


def test_a_queue_that_is_no_dead_letter_queue_is_refused(sqs: Any) -> None:
    _, _, _, source_arn = _queues(sqs)
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        sqs.start_message_move_task(SourceArn=source_arn)
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValue"
    with pytest.raises(botocore.exceptions.ClientError):
        sqs.start_message_move_task(SourceArn=source_arn.replace(":q", ":nope"))
