"""The app's bytecode, compiled ahead of time: what the deployment package ships next to the
sources, so that a Lambda cold start does not compile app.py's package module by module
(`/var/task` is read-only: Python cannot cache what it compiles there, every new container
compiles again). app.py itself is small and Chalice packages it as a lone file.

Checked-hash .pyc files (PEP 552): valid whatever the zip does to file times, and re-checked
against the source at import, so a stale one is never used while developing.
"""

from __future__ import annotations

import compileall
import importlib.util
import os
import py_compile
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "chalicelib"  # Chalice ships app.py alone (no __pycache__) and chalicelib/ whole


def compile_app(root: Path = ROOT) -> bool:
    """Write chalicelib/**/__pycache__/*.pyc under ``root``; True if every module compiled."""
    # force: a timestamp .pyc left by an interpreter would not survive the zip's file times
    mode = py_compile.PycInvalidationMode.CHECKED_HASH
    package = root / PACKAGE
    # ddir: the .pyc name their source relative to the checkout, not by this machine's path, so
    # one commit packs into the same bytes from any folder (Python gives a loaded module its
    # real path back, so tracebacks are unchanged)
    ok = bool(
        compileall.compile_dir(package, ddir=PACKAGE, quiet=1, force=True, invalidation_mode=mode)
    )
    # The zip records file times: each .pyc takes its source's, so an unchanged source packs
    # into the same bytes (the same asset hash, no function updated for nothing).
    for source in package.rglob("*.py"):
        pyc = Path(importlib.util.cache_from_source(str(source)))
        if pyc.exists():
            stat = source.stat()
            os.utime(pyc, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    return ok


def remove_bytecode(root: Path = ROOT) -> None:
    """Remove chalicelib's bytecode under ``root``: a bundle shipped without it."""
    for cache in (root / PACKAGE).rglob("__pycache__"):
        shutil.rmtree(cache, ignore_errors=True)
