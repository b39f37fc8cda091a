"""One region for every AWS library in a command: botocore (boto3, and Chalice's packager
under the CDK app) reads only `AWS_DEFAULT_REGION`; the CDK CLI reads `AWS_REGION` first and
passes the region it chose to the app as `CDK_DEFAULT_REGION`. Without this, `export
AWS_REGION=...` alone, as infra/cdk/README.md says, ends in botocore's NoRegionError."""

from __future__ import annotations

import os


def use_one_region() -> str | None:
    """Set `AWS_DEFAULT_REGION` from the CDK CLI's or `AWS_REGION` when it is missing; the
    region botocore will use (None: none given, botocore then asks the profile)."""
    if not os.environ.get("AWS_DEFAULT_REGION"):
        region = os.environ.get("CDK_DEFAULT_REGION") or os.environ.get("AWS_REGION")
        if region:
            os.environ["AWS_DEFAULT_REGION"] = region
    return os.environ.get("AWS_DEFAULT_REGION")
