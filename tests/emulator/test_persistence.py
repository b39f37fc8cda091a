"""The local emulator's state kept across a restart of the same state folder: what a
developer's Ctrl-C and `up` again must not lose (infra.local.persistence)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import boto3
from moto import mock_aws

from chalicelib import config, queues, wiring
from chalicelib.adapters.dynamodb_models import StepDay
from infra.local import persistence, provision

REGION = "ap-northeast-2"


def _step(citizen_id: str, steps: int) -> StepDay:
    now = datetime.now(UTC)
    return StepDay(
        citizen_id,
        "2026-11-25",
        steps=steps,
        district="naeoe-dong",
        display_name="걷는사람",
        updated_at=now,
        expires=now,
    )


def test_tables_queues_objects_and_keys_survive_a_restart(tmp_path: Path) -> None:
    # GIVEN a provisioned emulator holding items, a queued message, an object and a key
    with mock_aws():
        wiring.clear()
        provision.create_tables()
        sqs = boto3.client("sqs", region_name=REGION)
        refs = provision.create_queues(sqs)
        deposits = refs[queues.DEPOSITS.name].url
        provision.create_notifications(
            boto3.client("sns", region_name=REGION), boto3.client("s3", region_name=REGION)
        )
        for i in range(50):
            _step(f"c-{i}", 1000 + i).save()
        sqs.send_message(QueueUrl=deposits, MessageBody='{"waiting": true}')
        s3 = boto3.client("s3", region_name=REGION)
        s3.put_object(Bucket=config.exports_bucket_name(), Key="run.csv", Body=b"a,b\n")
        kms = boto3.client("kms", region_name=REGION)
        key_id = kms.create_key()["KeyMetadata"]["KeyId"]
        secret = kms.encrypt(KeyId=key_id, Plaintext=b"110-123-456789")["CiphertextBlob"]
        persistence.save(tmp_path, {"gimhae-smart-city-dev-handle_step_boards": {"s-1": "7"}})

    # WHEN a new emulator starts on the same state folder and is provisioned again
    with mock_aws():
        wiring.clear()
        positions = persistence.restore(tmp_path)
        provision.create_tables()
        sqs = boto3.client("sqs", region_name=REGION)
        refs = provision.create_queues(sqs, visibility_timeout_s=2)  # other settings: kept data

        # THEN every item, message, object and key is there, and stream positions come back
        assert positions == {"gimhae-smart-city-dev-handle_step_boards": {"s-1": "7"}}
        assert StepDay.count() == 50
        assert StepDay.get("c-7", "2026-11-25").steps == 1007
        message = sqs.receive_message(QueueUrl=refs[queues.DEPOSITS.name].url)["Messages"][0]
        assert message["Body"] == '{"waiting": true}'
        attributes = sqs.get_queue_attributes(
            QueueUrl=refs[queues.DEPOSITS.name].url, AttributeNames=["VisibilityTimeout"]
        )
        assert attributes["Attributes"]["VisibilityTimeout"] == "2"
        s3 = boto3.client("s3", region_name=REGION)
        body = s3.get_object(Bucket=config.exports_bucket_name(), Key="run.csv")["Body"]
        assert body.read() == b"a,b\n"
        kms = boto3.client("kms", region_name=REGION)
        assert kms.decrypt(CiphertextBlob=secret)["Plaintext"] == b"110-123-456789"
        # AND new writes work as before
        _step("c-new", 5).save()
        assert StepDay.count() == 51
    wiring.clear()


def test_a_fresh_folder_restores_nothing_and_an_unreadable_file_is_set_aside(
    tmp_path: Path,
) -> None:
    assert persistence.restore(tmp_path) is None
    (tmp_path / persistence.FILE_NAME).write_bytes(b"not a pickle")
    with mock_aws():
        assert persistence.restore(tmp_path) is None
    assert (tmp_path / "emulator.unreadable").exists()
    assert not (tmp_path / persistence.FILE_NAME).exists()
    persistence.forget(tmp_path)  # nothing to forget: no error


def test_a_snapshot_keeps_no_sms_a_phone_number_or_its_code(tmp_path: Path) -> None:
    # GIVEN an emulator whose SNS texted a verification code to a phone (and keeps a topic)
    with mock_aws():
        wiring.clear()
        sns = boto3.client("sns", region_name=REGION)
        topic = sns.create_topic(Name="kept-topic")["TopicArn"]
        sns.publish(PhoneNumber="+821098765432", Message="인증번호 482913 (5분)")
        # WHEN the state is written
        persistence.save(tmp_path, {})
    # THEN the snapshot names neither the number nor the code, and the topic is kept
    written = (tmp_path / persistence.FILE_NAME).read_bytes()
    assert b"1098765432" not in written
    assert b"482913" not in written
    with mock_aws():
        wiring.clear()
        persistence.restore(tmp_path)
        arns = [
            t["TopicArn"] for t in boto3.client("sns", region_name=REGION).list_topics()["Topics"]
        ]
        assert topic in arns
