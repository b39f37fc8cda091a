"""SNS adapter: notices to the operators' alerts topic (the setting ALERTS_TOPIC_ARN)."""

from __future__ import annotations

import json
from typing import Any

from chalicelib import config
from chalicelib.adapters import aws_clients


class SnsAlerts:
    def __init__(self, topic_arn: str | None, client: Any = None) -> None:
        self._topic_arn = topic_arn
        self._client = client

    def publish(self, message: dict[str, Any]) -> None:
        """One notice. `alert_id` (the alert, `GET /v1/admin/alerts/{id}`) and `notice_id`
        (this notice: the alert's id and its event) ride along as attributes, so a subscriber
        (or an SQS filter) can drop the rare repeat a crash between publish and outbox cleanup
        makes."""
        if not self._topic_arn:
            raise RuntimeError(f"set {config.ALERTS_TOPIC_ARN}")
        client = self._client or aws_clients.client("sns")
        subject = f"[{message.get('kind')}] {message.get('event')}: {message.get('device_id')}"
        client.publish(
            TopicArn=self._topic_arn,
            Subject=subject[:100],
            Message=json.dumps(message, ensure_ascii=False),
            MessageAttributes={
                "alert_id": {"DataType": "String", "StringValue": str(message["alert_id"])},
                "notice_id": {
                    "DataType": "String",
                    "StringValue": str(message.get("notice_id") or message["alert_id"]),
                },
                "kind": {"DataType": "String", "StringValue": str(message["kind"])},
            },
        )
