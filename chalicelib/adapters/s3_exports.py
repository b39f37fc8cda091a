"""S3 adapter: payout transfer files in the exports bucket (encrypted at rest with the data
key by the bucket's default encryption in AWS)."""

from __future__ import annotations

from chalicelib import config
from chalicelib.adapters import aws_clients


class S3Exports:
    def __init__(self, bucket: str | None = None) -> None:
        self._bucket = bucket

    def _name(self) -> str:
        return self._bucket or config.exports_bucket_name()

    def put(self, key: str, body: bytes, content_type: str) -> None:
        aws_clients.client("s3").put_object(
            Bucket=self._name(), Key=key, Body=body, ContentType=content_type
        )

    def get(self, key: str) -> bytes | None:
        s3 = aws_clients.client("s3")
        try:
            response = s3.get_object(Bucket=self._name(), Key=key)
        except s3.exceptions.NoSuchKey:
            return None
        return bytes(response["Body"].read())
