"""SNS adapter: notices to the operators' alerts topic (config ALERTS_TOPIC_ARN)."""

from __future__ import annotations

import json
import os
from typing import Any

from chalicelib import config
from chalicelib.adapters import aws_clients


class SnsAlerts:
    def __init__(self, topic_arn: str | None = None, client: Any = None) -> None:
        self._topic_arn = topic_arn
        self._client = client

    def publish(self, message: dict[str, Any]) -> None:
        """One notice. `alert_id` rides along as an attribute, so a subscriber (or an SQS
        filter) can drop the rare repeat a crash between publish and outbox cleanup makes."""
        topic_arn = self._topic_arn or os.environ.get(config.ALERTS_TOPIC_ARN)
        if not topic_arn:
            raise RuntimeError(f"set {config.ALERTS_TOPIC_ARN}")
        client = self._client or aws_clients.client("sns")
        subject = f"[{message.get('kind')}] {message.get('event')}: {message.get('device_id')}"
        client.publish(
            TopicArn=topic_arn,
            Subject=subject[:100],
            Message=json.dumps(message, ensure_ascii=False),
            MessageAttributes={
                "alert_id": {"DataType": "String", "StringValue": str(message["alert_id"])},
                "kind": {"DataType": "String", "StringValue": str(message["kind"])},
            },
        )
