"""Shared test set-up: the dev stage's configuration, fake AWS credentials, no real endpoint."""

from __future__ import annotations

import os

from infra.local.stack import ROOT as ROOT  # re-exported: the tests' repository root
from infra.local.stack import stage_environment

for _name, _value in stage_environment("dev").items():
    os.environ.setdefault(_name, _value)
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "ap-northeast-2",
        "AWS_REGION": "ap-northeast-2",
        "PHONE_HASH_KEY": "test-phone-hash-key",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "POWERTOOLS_METRICS_DISABLED": "true",
        # moto answers the IoT data plane at its generic host, not at an account endpoint.
        "IOT_DATA_ENDPOINT": "https://data-ats.iot.ap-northeast-2.amazonaws.com",
    }
)
os.environ.pop("PHONE_HASH_KEY_PARAMETER", None)
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.pop("AWS_PROFILE", None)
