"""Shared test set-up: the dev stage's configuration, fake AWS credentials, no real endpoint."""

from __future__ import annotations

import os

from hypothesis import settings

from infra.local.stack import ROOT as ROOT  # re-exported: the tests' repository root
from infra.local.stack import use_in_process_emulator

use_in_process_emulator("test-phone-hash-key")
os.environ.update({"POWERTOOLS_LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true"})

# Speed is measured in bench/, never asserted: Hypothesis's per-example deadline (200 ms)
# only turns a loaded 2-core machine into flaky failures.
settings.register_profile("default", deadline=None)
settings.load_profile("default")
