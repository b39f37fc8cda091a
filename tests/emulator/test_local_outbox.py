"""The local outbox (DESIGN §7): what the system would send to people, as JSON lines, with
phone numbers masked but for their last 4 digits."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from infra.local import outbox
from infra.local.__main__ import main


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[Path]:
    with mock_aws():
        outbox.install_sms_sink(str(tmp_path))
        try:
            yield tmp_path
        finally:
            outbox.uninstall_sms_sink()


def test_the_sms_sink_still_fits_moto() -> None:
    assert outbox.check() == []


def test_an_sms_sent_through_sns_lands_in_the_outbox_masked(sink: Path) -> None:
    sns = boto3.client("sns", region_name="ap-northeast-2")
    sns.publish(PhoneNumber="+821023456789", Message="인증번호 042195")
    (message,) = outbox.read(sink)
    assert message["channel"] == "sms"
    assert message["to"] == "+********6789"
    assert message["text"] == "인증번호 042195"
    assert message["at"].endswith("+00:00")
    assert "23456789" not in outbox.path(sink).read_text(encoding="utf-8")


def test_topic_publishes_are_not_sms(sink: Path) -> None:
    sns = boto3.client("sns", region_name="ap-northeast-2")
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    sns.publish(TopicArn=topic, Message="an alert")
    assert outbox.read(sink) == []


def test_a_message_to_the_alerts_topic_lands_in_the_outbox_as_an_alert(tmp_path: Path) -> None:
    """The local stack's subscriber to the operators' alerts topic: each message, readable."""
    with mock_aws():
        outbox.install_sms_sink(str(tmp_path), "gimhae-dev-alerts")
        try:
            sns = boto3.client("sns", region_name="ap-northeast-2")
            alerts = sns.create_topic(Name="gimhae-dev-alerts")["TopicArn"]
            other = sns.create_topic(Name="gimhae-dev-other")["TopicArn"]
            body = {"alert_id": "shelter-001.air.20261201T000000Z000000", "event": "opened"}
            sns.publish(TopicArn=alerts, Message=json.dumps(body), Subject="[air] opened")
            sns.publish(TopicArn=other, Message="not for operators")
        finally:
            outbox.uninstall_sms_sink()
    (message,) = outbox.read(tmp_path, "alert")
    assert (message["channel"], message["to"]) == ("alert", "gimhae-dev-alerts")
    assert json.loads(message["text"]) == body
    assert outbox.read(tmp_path) == [message]


def test_numbers_inside_a_text_are_redacted_and_channels_are_known(tmp_path: Path) -> None:
    outbox.record(tmp_path, "sms", "010-2345-6789", "call 010-9876-5432")
    assert outbox.read(tmp_path)[0]["text"] == "call <phone>"
    with pytest.raises(ValueError):
        outbox.record(tmp_path, "fax", "x", "y")


def test_the_outbox_command_prints_json_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["outbox", "--state-dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out == ""
    outbox.record(tmp_path, "sms", "+821023456789", "인증번호 111111")
    outbox.record(tmp_path, "email", "ops@example.org", "air alert")
    assert main(["outbox", "--state-dir", str(tmp_path), "--channel", "sms"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["text"] for line in lines] == ["인증번호 111111"]
    assert set(json.loads(lines[0])) == {"channel", "to", "text", "at"}
