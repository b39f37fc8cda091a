"""Shared test set-up: the dev stage's configuration, fake AWS credentials, no real endpoint."""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator

import botocore.loaders
import botocore.session
import pytest
from hypothesis import settings

from infra.local.dev_issuer import DevIssuer, ensure_issuer
from infra.local.stack import ROOT as ROOT  # re-exported: the tests' repository root
from infra.local.stack import use_in_process_emulator

use_in_process_emulator("test-phone-hash-key")  # and infra/local/moto_corrections.py (IN_PROCESS)
os.environ.update({"POWERTOOLS_LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true"})


def _share_botocore_models() -> None:
    """Each functional test starts the app as a fresh container would (`wiring.clear`: a new
    botocore session), and a new session parses botocore's service model files again, ~25 ms
    for each client. The files do not change during a run, so one loader serves every
    session of the test process. tests/unit/test_botocore_models.py guards it."""
    if botocore.session.create_loader is not botocore.loaders.create_loader:
        raise RuntimeError("botocore.session no longer builds its loader with create_loader")
    botocore.session.create_loader = functools.cache(botocore.loaders.create_loader)


_share_botocore_models()

# Speed is measured in bench/, never asserted: Hypothesis's per-example deadline (200 ms)
# only turns a loaded 2-core machine into flaky failures.
settings.register_profile("default", deadline=None)
settings.load_profile("default")


@pytest.fixture(scope="session")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevIssuer]:
    """The session's dev token issuer, its keys in the app's environment. One for every
    directory: a second one would replace the first's keys under tests still minting with it."""
    found = ensure_issuer(tmp_path_factory.mktemp("issuer"))
    os.environ.update(found.env())
    yield found
