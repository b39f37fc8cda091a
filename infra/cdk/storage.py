"""The payout-export bucket. CloudFormation names it (bucket names are global); the functions
get the name through the EXPORTS_BUCKET variable that chalicelib.config reads."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.cdk.security import Keys
from infra.cdk.stage import Stage

EXPORT_RETENTION = cdk.Duration.days(365)
"""Transfer files carry decrypted account numbers, reports per-citizen rows: kept a year (the
bank's reconciliation and the yearly audit), then gone. The record stays in the tables (payout
items, ledger); an export asked for later is rebuilt from them."""
REPLACED_RETENTION = cdk.Duration.days(30)
"""An overwritten or deleted file's old version: a month to notice and restore it."""


class ExportsBucket(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, stage: Stage, keys: Keys) -> None:
        super().__init__(scope, construct_id)
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=keys.data,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-exports",
                    expiration=EXPORT_RETENTION,
                    noncurrent_version_expiration=REPLACED_RETENTION,
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(1),
                )
            ],
            removal_policy=(
                cdk.RemovalPolicy.RETAIN if stage.is_production else cdk.RemovalPolicy.DESTROY
            ),
        )
