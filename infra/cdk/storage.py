"""The payout-export bucket. CloudFormation names it (bucket names are global); the functions
get the name through the EXPORTS_BUCKET variable that chalicelib.config reads."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
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


ACCESS_LOG_RETENTION = cdk.Duration.days(365)
"""Who read or wrote a transfer file, kept as long as the file itself."""


def private_bucket(scope: Construct, construct_id: str, **props: Any) -> s3.Bucket:
    """A bucket read only through grants: no public access, TLS only, no ACLs, encrypted
    (S3-managed keys unless `props` names others). Every bucket of the stack is one."""
    props.setdefault("encryption", s3.BucketEncryption.S3_MANAGED)
    return s3.Bucket(
        scope,
        construct_id,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        **props,
    )


class ExportsBucket(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, stage: Stage, keys: Keys) -> None:
        super().__init__(scope, construct_id)
        removal = cdk.RemovalPolicy.RETAIN if stage.is_production else cdk.RemovalPolicy.DESTROY
        # S3 server access logs of the transfer files (S3-managed keys: the one encryption a
        # log delivery target takes), delivered under a bucket policy rather than ACLs.
        self.access_logs = private_bucket(
            self,
            "AccessLogs",
            lifecycle_rules=[
                s3.LifecycleRule(id="expire-access-logs", expiration=ACCESS_LOG_RETENTION)
            ],
            removal_policy=removal,
        )
        self.bucket = private_bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=keys.data,
            bucket_key_enabled=True,
            versioned=True,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-exports",
                    expiration=EXPORT_RETENTION,
                    noncurrent_version_expiration=REPLACED_RETENTION,
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(1),
                )
            ],
            removal_policy=removal,
        )
        self._log_to(self.access_logs, prefix="exports/")

    def _log_to(self, target: s3.Bucket, *, prefix: str) -> None:
        """Server access logs of the exports into `target`: AWS's log delivery may write the
        prefix, for this bucket of this account only (no ACLs on either bucket)."""
        cfn = self.bucket.node.default_child
        assert isinstance(cfn, s3.CfnBucket)
        cfn.logging_configuration = s3.CfnBucket.LoggingConfigurationProperty(
            destination_bucket_name=target.bucket_name, log_file_prefix=prefix
        )
        target.add_to_resource_policy(
            iam.PolicyStatement(
                sid="ExportsAccessLogs",
                principals=[iam.ServicePrincipal("logging.s3.amazonaws.com")],
                actions=["s3:PutObject"],
                resources=[target.arn_for_objects(f"{prefix}*")],
                conditions={
                    "ArnLike": {"aws:SourceArn": self.bucket.bucket_arn},
                    "StringEquals": {"aws:SourceAccount": cdk.Stack.of(self).account},
                },
            )
        )
