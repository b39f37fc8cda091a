"""The guard of tests/moto_snapshot.py: the functional `aws` fixture puts the provisioned
account back before each test by restoring moto's backends from a snapshot. If moto changes
where it keeps state, these tests fail here, not as leaks between unrelated tests."""

from __future__ import annotations

import json
from typing import Any

import boto3
import botocore.config
import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID

from tests import moto_snapshot
from tests.functional.conftest import REGION, Account, published_acks, sent_sms

NUMBER = "010-2345-6789"


def _client(service: str) -> Any:
    if service == "dynamodbstreams":
        config = botocore.config.Config(account_id_endpoint_mode="disabled")
        return boto3.client(service, region_name=REGION, config=config)
    return boto3.client(service, region_name=REGION)


def _stream_records(table: str) -> list[str]:
    streams = _client("dynamodbstreams")
    arn = _client("dynamodb").describe_table(TableName=table)["Table"]["LatestStreamArn"]
    found = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        records = streams.get_records(ShardIterator=iterator, Limit=1000)["Records"]
        found += [r["eventName"] + json.dumps(r["dynamodb"]["Keys"]) for r in records]
    return found


def account_view() -> dict[str, Any]:
    """What a test can see of the account through the public API and the tests' own readers
    of moto (sent SMS, publishes), with the provisioning time left out."""
    dynamodb, sqs, s3, sns = (_client(s) for s in ("dynamodb", "sqs", "s3", "sns"))
    tables: dict[str, Any] = {}
    for name in dynamodb.list_tables()["TableNames"]:
        items = dynamodb.scan(TableName=name)["Items"]
        for item in items:
            item.pop("registered_at", None)
        described = dynamodb.describe_table(TableName=name)["Table"]
        tables[name] = {
            "items": sorted(json.dumps(i, sort_keys=True) for i in items),
            "stream": _stream_records(name) if described.get("LatestStreamArn") else None,
        }
    queues = {}
    for url in sqs.list_queues().get("QueueUrls", []):
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        for moving in ("CreatedTimestamp", "LastModifiedTimestamp", "RedrivePolicy", "QueueArn"):
            attributes.pop(moving, None)
        queues[url.rsplit("/", 1)[-1]] = attributes
    buckets = {
        b["Name"]: [o["Key"] for o in s3.list_objects_v2(Bucket=b["Name"]).get("Contents", [])]
        for b in s3.list_buckets()["Buckets"]
    }
    iot = _client("iot")
    return {
        "tables": tables,
        "queues": queues,
        "buckets": buckets,
        "topics": len(sns.list_topics()["Topics"]),
        "subscriptions": len(sns.list_subscriptions()["Subscriptions"]),
        "sms": sent_sms(NUMBER),
        "publishes": published_acks(),
        "things": [t["thingName"] for t in iot.list_things()["things"]],
        "certificates": len(iot.list_certificates()["certificates"]),
        "aliases": sorted(a["AliasName"] for a in _client("kms").list_aliases()["Aliases"]),
        "parameters": len(_client("ssm").describe_parameters()["Parameters"]),
    }


def _touch_everything(aws: dict[str, Any]) -> None:
    """Change the account in every way a test might."""
    dynamodb, sqs, s3, sns = (_client(s) for s in ("dynamodb", "sqs", "s3", "sns"))
    tables = dynamodb.list_tables()["TableNames"]
    ledger = next(t for t in tables if t.endswith("-ledger"))
    key = dynamodb.describe_table(TableName=ledger)["Table"]["KeySchema"]
    dynamodb.put_item(TableName=ledger, Item={k["AttributeName"]: {"S": "x"} for k in key})
    devices = next(t for t in tables if t.endswith("-devices"))
    for item in dynamodb.scan(TableName=devices)["Items"]:
        dynamodb.update_item(
            TableName=devices,
            Key={"device_id": item["device_id"]},
            UpdateExpression="SET #n = :n",
            ExpressionAttributeNames={"#n": "name"},
            ExpressionAttributeValues={":n": {"S": "renamed"}},
        )
    queue = aws["queues"]["gimhae-dev-deposits"].url
    sqs.send_message(QueueUrl=queue, MessageBody="{}")
    sqs.set_queue_attributes(QueueUrl=queue, Attributes={"VisibilityTimeout": "1"})
    sqs.create_queue(QueueName="a-test-queue")
    bucket = s3.list_buckets()["Buckets"][0]["Name"]
    s3.put_object(Bucket=bucket, Key="left-behind.csv", Body=b"1")
    s3.create_bucket(
        Bucket="a-test-bucket", CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    topic = sns.create_topic(Name="a-test-topic")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sms", Endpoint="+821023456789")
    sns.publish(PhoneNumber="+821023456789", Message="123456")
    iot = _client("iot")
    iot.create_thing(thingName="robot-999")
    iot.create_keys_and_certificate(setAsActive=True)
    data = _client("iot-data")
    data.publish(topic="gimhae/robots/robot-999/acks", qos=1, payload=b"{}")
    data.update_thing_shadow(
        thingName="robot-999", payload=json.dumps({"state": {"desired": {"on": True}}})
    )
    kms = _client("kms")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/a-test-key", TargetKeyId=key)
    _client("ssm").put_parameter(Name="/a/test", Value="1", Type="String")


def test_a_restore_undoes_everything_a_test_can_change(
    aws: dict[str, Any], account: Account
) -> None:
    # GIVEN the provisioned account, as each test receives it
    provisioned = account_view()
    assert provisioned["tables"] and provisioned["queues"] and provisioned["buckets"]
    # WHEN a test changes items, streams, queues, objects, SMS, publishes, shadows, things,
    # certificates, keys and a service provisioning never touched
    _touch_everything(aws)
    assert account_view() != provisioned
    # THEN the reset between tests puts every one of them back
    moto_snapshot.restore(account.snapshot)
    assert account_view() == provisioned


def test_restored_state_is_a_copy_each_time(aws: dict[str, Any], account: Account) -> None:
    # GIVEN a restored account whose deposits queue holds a message
    sqs = _client("sqs")
    queue = aws["queues"]["gimhae-dev-deposits"].url
    sqs.send_message(QueueUrl=queue, MessageBody="{}")
    # WHEN it is restored again
    moto_snapshot.restore(account.snapshot)
    # THEN the queue is empty and works (fresh locks), and the snapshot itself was not changed
    assert sqs.receive_message(QueueUrl=queue).get("Messages", []) == []
    sqs.send_message(QueueUrl=queue, MessageBody="{}")
    assert len(sqs.receive_message(QueueUrl=queue)["Messages"]) == 1
    # AND objects that point at their backend point at the live one (a topic at SNS's)
    sns = _client("sns")
    (topic,) = sns.list_topics()["Topics"]
    inbox = aws["queues"]["gimhae-dev-device-errors-dlq"]
    sns.subscribe(TopicArn=topic["TopicArn"], Protocol="sqs", Endpoint=inbox.arn)
    sns.publish(TopicArn=topic["TopicArn"], Message="an alert")
    assert len(sqs.receive_message(QueueUrl=inbox.url)["Messages"]) == 1
    moto_snapshot.restore(account.snapshot)
    assert sqs.receive_message(QueueUrl=queue).get("Messages", []) == []


def test_the_snapshot_equals_a_freshly_provisioned_account(
    account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the session's snapshot restored
    from infra.local import provision

    with mock_aws():
        moto_snapshot.restore(account.snapshot)
        restored = account_view()
    # WHEN an account is provisioned from nothing, as the local stack does
    with mock_aws():
        provision.create_tables()
        provision.create_queues(_client("sqs"))
        provision.register_devices(provision.load_fleet())
        provision.create_notifications(_client("sns"), _client("s3"))
        provision.create_data_key(_client("kms"))
        fresh = account_view()
    # THEN a test sees the same account either way
    assert restored == fresh


def test_restore_needs_no_active_backend_and_leaves_moto_empty_after(account: Account) -> None:
    # GIVEN moto holding the restored account under one mock
    with mock_aws():
        moto_snapshot.restore(account.snapshot)
        assert _client("dynamodb").list_tables()["TableNames"]
    # WHEN the next mock starts without a restore (a test with its own `mock_aws`)
    with mock_aws():
        # THEN it finds moto empty, as before the snapshot existed
        assert _client("dynamodb").list_tables()["TableNames"] == []
        assert _client("sqs").list_queues().get("QueueUrls", []) == []
        from moto.sns.models import sns_backends

        assert not sns_backends[DEFAULT_ACCOUNT_ID][REGION].sms_messages


def test_prebuilt_puts_back_what_its_build_made_and_only_on_the_state_it_was_built_on(
    account: Account, prebuilt: Any
) -> None:
    sqs = _client("sqs")

    def build() -> str:
        url = sqs.create_queue(QueueName="prebuilt-probe")["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody="built")
        return str(url)

    # GIVEN a build run once on the fresh account
    url = prebuilt("probe", build)
    sqs.send_message(QueueUrl=url, MessageBody="the test's own")
    # WHEN another test asks for it: it is put back, not built again
    moto_snapshot.restore(account.snapshot)
    assert prebuilt("probe", lambda: pytest.fail("built twice")) == url
    # THEN the queue holds what the build sent, and nothing the first test sent after it
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in got] == ["built"]
    # AND asked for after the test wrote something of its own, it refuses (the write would go)
    with pytest.raises(pytest.fail.Exception, match="another state of moto"):
        prebuilt("probe", build)
