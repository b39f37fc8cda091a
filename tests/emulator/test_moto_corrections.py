"""The one list of moto corrections (infra/local/moto_corrections.py): complete, applied
where it says, and still written against the moto installed."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from infra.local import moto_corrections
from infra.local.moto_corrections import CORRECTIONS, DATA_PLANE, IN_PROCESS, SERVER

LOCAL = Path(moto_corrections.__file__).parent


def _patches_moto(path: Path) -> bool:
    """A module that imports moto and has an install function of its own."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imports_moto = any(
        (isinstance(n, ast.ImportFrom) and (n.module or "").split(".")[0] == "moto")
        or (isinstance(n, ast.Import) and any(a.name.split(".")[0] == "moto" for a in n.names))
        for n in ast.walk(tree)
    )
    installs = any(
        isinstance(n, ast.FunctionDef) and n.name.startswith("install") for n in tree.body
    )
    return imports_moto and installs


def test_every_module_that_patches_moto_is_listed() -> None:
    patching = {f"infra.local.{path.stem}" for path in LOCAL.glob("*.py") if _patches_moto(path)}
    listed = {c.module for c in CORRECTIONS} | set(moto_corrections.EMULATOR_FEATURES)
    assert patching and patching <= listed, patching - listed
    assert len({c.module for c in CORRECTIONS}) == len(CORRECTIONS)


@pytest.mark.parametrize("correction", CORRECTIONS, ids=lambda c: c.module)
def test_each_correction_says_what_it_corrects(correction: moto_corrections.Correction) -> None:
    assert correction.stock and correction.aws and correction.stock != correction.aws
    assert correction.applied and set(correction.applied) <= {IN_PROCESS, SERVER, DATA_PLANE}
    module = correction.load()
    if DATA_PLANE in correction.applied:
        assert callable(module.install_iot_data_bridge)
    else:
        assert callable(module.install) and callable(module.installed)


@pytest.mark.parametrize(
    "correction", [c for c in CORRECTIONS if hasattr(c.load(), "check")], ids=lambda c: c.module
)
def test_each_correction_still_fits_the_moto_installed(
    correction: moto_corrections.Correction,
) -> None:
    # a moto upgrade that changes (or fixes) what a correction patches is named here
    assert correction.load().check() == []


def test_the_in_process_tests_apply_the_in_process_list() -> None:
    # tests/conftest.py configured this process (stack.use_in_process_emulator)
    applied = moto_corrections.installed_in(IN_PROCESS)
    assert applied and all(applied.values()), applied


def test_the_data_plane_is_not_installed_without_its_broker() -> None:
    with pytest.raises(ValueError, match="connect_data_plane"):
        moto_corrections.install(DATA_PLANE)
