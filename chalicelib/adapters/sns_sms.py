"""SNS adapter: text messages to a phone number (SNS Publish with `PhoneNumber`).

Locally the emulator's SNS keeps them and the local stack copies each into the local
outbox (infra/local/outbox.py), where `python -m infra.local outbox` shows them.
"""

from __future__ import annotations

from typing import Any

from chalicelib.adapters import aws_clients


class SnsSms:
    def __init__(self, client: Any = None) -> None:
        self._client = client

    def send(self, e164_number: str, text: str) -> None:
        """One transactional SMS (codes must not wait behind promotional traffic). Neither
        the number nor the text is logged."""
        client = self._client or aws_clients.client("sns")
        client.publish(
            PhoneNumber=e164_number,
            Message=text,
            MessageAttributes={
                "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}
            },
        )
