"""infra/bytecode.py: the bytecode the deployment package ships for chalicelib/."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from infra.bytecode import compile_app


def test_every_module_gets_a_checked_hash_pyc(tmp_path: Path) -> None:
    package = tmp_path / "chalicelib"
    (package / "domain").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "domain" / "__init__.py").write_text("")
    (package / "domain" / "rates.py").write_text("RATE = 15\n")
    assert compile_app(tmp_path)
    pyc = Path(importlib.util.cache_from_source(str(package / "domain" / "rates.py")))
    assert pyc.exists()
    flags = int.from_bytes(pyc.read_bytes()[4:8], "little")
    assert flags == 0b11  # hash-based, checked against the source at import (PEP 552)


def test_a_changed_source_is_imported_as_changed_not_from_its_pyc(tmp_path: Path) -> None:
    package = tmp_path / "chalicelib"
    package.mkdir()
    (package / "__init__.py").write_text("")
    module = package / "rates_for_bytecode_test.py"
    module.write_text("RATE = 15\n")
    assert compile_app(tmp_path)
    module.write_text("RATE = 20\n")  # same size, same second: a timestamp pyc would hide it
    spec = importlib.util.spec_from_file_location("rates_for_bytecode_test", module)
    assert spec is not None and spec.loader is not None
    loaded = importlib.util.module_from_spec(spec)
    sys.modules.pop("rates_for_bytecode_test", None)
    spec.loader.exec_module(loaded)
    assert loaded.RATE == 20


def test_a_recompiled_unchanged_source_packs_into_the_same_file(tmp_path: Path) -> None:
    package = tmp_path / "chalicelib"
    package.mkdir()
    (package / "__init__.py").write_text("X = 1\n")
    assert compile_app(tmp_path)
    pyc = Path(importlib.util.cache_from_source(str(package / "__init__.py")))
    first = (pyc.read_bytes(), pyc.stat().st_mtime_ns)
    assert compile_app(tmp_path)  # the next synth
    assert (pyc.read_bytes(), pyc.stat().st_mtime_ns) == first
    assert pyc.stat().st_mtime_ns == (package / "__init__.py").stat().st_mtime_ns
