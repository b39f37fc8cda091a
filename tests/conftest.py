"""Shared test set-up: the dev stage's configuration, fake AWS credentials, no real endpoint."""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import botocore.loaders
import botocore.session
import pytest
from hypothesis import settings

from infra.local.dev_issuer import DevIssuer, ensure_issuer
from infra.local.stack import ROOT as ROOT  # re-exported: the tests' repository root
from infra.local.stack import use_in_process_emulator

if TYPE_CHECKING:
    from tests.e2e.conftest import Stack

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


# The slow tier: what needs a whole local stack, a CDK synth or real processes, or runs
# several seconds on its own. `./dev test` runs everything; `./dev test -m "not slow"` is the
# fast tier. A test is slow by what it needs (wherever it lives), by the layer it lives in,
# or by its own `slow` mark.
SLOW_LAYERS = ("e2e", "browser", "infra", "emulator", "resilience")
"""Directories under tests/ whose every test is slow."""
SLOW_FIXTURES = {
    "stack": "tests.conftest",  # the shared local stack
    "synth": "tests.infra.test_cdk",  # the CDK app synthesized
}
"""Fixtures that make a test slow, by name and the module that defines them (a functional
test's own `stack` fixture of one broker is not the local stack)."""
_TESTS = os.path.dirname(os.path.abspath(__file__))


def _shared_fixture(item: pytest.Item) -> str | None:
    """The one of SLOW_FIXTURES the test uses, if any."""
    info = getattr(item, "_fixtureinfo", None)
    for name, module in SLOW_FIXTURES.items():
        defined = info.name2fixturedefs.get(name, ()) if info is not None else ()
        if defined and getattr(defined[-1].func, "__module__", None) == module:
            return name
    return None


def _is_slow(item: pytest.Item) -> bool:
    if item.get_closest_marker("slow") or item.get_closest_marker("e2e"):
        return True
    layer = os.path.relpath(str(item.path), _TESTS).split(os.sep)[0]
    return layer in SLOW_LAYERS or _shared_fixture(item) is not None


LONGEST_FIRST = ("resilience", "e2e", "emulator", "infra", "browser", "functional", "events")
"""The order in which pytest-xdist hands out the tests that are in no group: the layers whose
single tests run longest first (the resilience run with faults: 30 s of CPU; an e2e test
with a stack of its own: 20 s to a minute), the short ones last (then `unit`, the rest).
xdist gives a worker the next test when it is nearly idle, in this order: a long test handed
out at the end would keep one worker busy while the others have nothing left (the
resilience suite used to come next to last). The groups (`stack`, `synth`) go out first
anyway, largest first, and keep their own order."""


def _longest_first(item: pytest.Item) -> int:
    """0 for a test in a group: a group's tests keep their order (the shared stack's tests
    are not independent of it: the browser tests run before the e2e tests move its clock
    and start payout runs)."""
    if item.get_closest_marker("xdist_group") is not None:
        return 0
    layer = os.path.relpath(str(item.path), _TESTS).split(os.sep)[0]
    return 1 + (LONGEST_FIRST.index(layer) if layer in LONGEST_FIRST else len(LONGEST_FIRST))


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups into the node ids
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _is_slow(item) and not item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.slow)
        # `./dev test` spreads the tests over the machine's cores (pytest-xdist, --dist
        # loadgroup): the tests of one shared local stack or one CDK synth run in one worker,
        # so each is built once.
        shared = _shared_fixture(item)
        if shared is not None:
            item.add_marker(pytest.mark.xdist_group(shared))
    if hasattr(config, "workerinput"):  # an xdist worker: every worker sorts the same way
        items.sort(key=_longest_first)  # stable: within a layer, the usual order


STACK_LAYERS = ("e2e", "browser")
"""Where the tests on the shared local stack live (the `stack` group)."""


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """`-n auto`: one worker per core, and one more when the run may hold the `stack` group.
    That group keeps its worker for minutes (a third of the run) while using about a third
    of a core: its tests wait on the local stack's processes, MQTT and HTTP, and the browser.
    With one worker per core the other core sits mostly idle meanwhile; the extra worker
    takes the other tests there. A run of the fast tier (`-m "not slow"`) or of other
    directories keeps one worker per core. PYTEST_XDIST_AUTO_NUM_WORKERS still decides when
    set, as pytest-xdist documents."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS") or config.option.numprocesses != "auto":
        return None  # pytest-xdist's own answer
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (cores or 1) + (1 if _may_run_the_stack(config) else 0)


def _may_run_the_stack(config: pytest.Config) -> bool:
    if "not slow" in (config.option.markexpr or ""):
        return False
    stack_dirs = [os.path.join(_TESTS, layer) for layer in STACK_LAYERS]
    for arg in config.args or [_TESTS]:
        path = os.path.abspath(os.path.join(config.invocation_params.dir, arg.split("::")[0]))
        for stack_dir in stack_dirs:
            if os.path.commonpath([path, stack_dir]) in (path, stack_dir):
                return True  # the stack's layer, a file in it, or a folder above it
    return False


def pytest_runtest_setup(item: pytest.Item) -> None:
    """pytest-xdist's loadgroup passes a test's group to its scheduler as a `@group` suffix of
    the node id. pytest 9.2 stopped honouring that (pytest-xdist issue 1386): the groups
    vanish without a word, two workers each start a local stack with the same devices, and
    e2e tests fail now and then. Fail such a test with the reason instead."""
    grouped = item.get_closest_marker("xdist_group") is not None
    if grouped and getattr(item.config.option, "loadgroup", False) and "@" not in item.nodeid:
        pytest.fail(
            "pytest-xdist did not keep this test in its group: this pytest and pytest-xdist "
            "do not work together; keep the versions pinned in requirements-dev.txt",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevIssuer]:
    """The session's dev token issuer, its keys in the app's environment. One for every
    directory: a second one would replace the first's keys under tests still minting with it."""
    found = ensure_issuer(tmp_path_factory.mktemp("issuer"))
    os.environ.update(found.env())
    yield found


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The session's shared local stack, for tests/e2e and tests/browser alike: defined here
    once, so a worker running both starts one stack. Its code (tests/e2e/conftest.py, with
    awsiotsdk) is imported only when a test asks for it."""
    from tests.e2e.conftest import run_stack

    yield from run_stack(tmp_path_factory)
