"""The README stays a short guide whose every repository path, module and link is real.

The capability map and the quick starts name files and `python -m` modules; when code moves,
this test names each path the README still points to, so the map is updated with the move.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
MAX_LINES = 250

# Only words under these top-level entries are repository paths; `.local/...` and URL paths
# such as `/v1/openapi.json` are made at run time or served, not kept in the repository.
TOP_LEVEL = (
    "app.py",
    "bench",
    "chalicelib",
    "console",
    "dev",
    "docs",
    "infra",
    "iot",
    "tests",
    "tools",
    ".ci",
    "pyproject.toml",
    "requirements.txt",
    "requirements-local.txt",
    "requirements-dev.txt",
)
_CODE_SPAN = re.compile(r"`([^`\n]+)`")
_FENCE = re.compile(r"^```.*?^```", re.DOTALL | re.MULTILINE)
_LINK = re.compile(r"\]\(([^)\s]+)\)")
_MODULE = re.compile(r"python -m ([A-Za-z_][\w.]*)")
_WORD = re.compile(r"[\w./-]+")


def _text() -> str:
    return README.read_text(encoding="utf-8")


def _named_paths(text: str) -> set[str]:
    spans = _CODE_SPAN.findall(_FENCE.sub("", text)) + _FENCE.findall(text)
    paths = set()
    for span in spans:
        for token in span.split():
            if "<" in token:  # a placeholder such as dynamodb_<capability>.py
                continue
            for word in _WORD.findall(token):
                word = word.removeprefix("./").rstrip(".")
                if word.split("/")[0] in TOP_LEVEL:
                    paths.add(word)
    for target in _LINK.findall(text):
        target = target.split("#")[0]
        if target and "://" not in target:
            paths.add(target)
    return paths


def _module_exists(name: str) -> bool:
    base = ROOT.joinpath(*name.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def test_readme_is_short() -> None:
    lines = _text().count("\n")
    assert lines <= MAX_LINES, f"README.md has {lines} lines; internals go to docs/"


def test_every_path_the_readme_names_exists() -> None:
    paths = _named_paths(_text())
    assert "chalicelib/wiring.py" in paths  # the reader sees the capability map
    missing = sorted(p for p in paths if not (ROOT / p).exists())
    assert not missing, f"README.md names paths that do not exist: {missing}"


def test_every_module_the_readme_runs_exists() -> None:
    modules = set(_MODULE.findall(_text()))
    assert "infra.local" in modules
    missing = sorted(m for m in modules if not _module_exists(m))
    assert not missing, f"README.md runs modules that do not exist: {missing}"


def test_the_first_code_block_is_the_two_commands() -> None:
    first = _FENCE.search(_text())
    assert first is not None
    assert first.group(0) == "```\n./dev up\n./dev test\n```"


def test_every_docs_page_is_in_the_index() -> None:
    index = (ROOT / "docs" / "README.md").read_text(encoding="utf-8")
    listed = set(_LINK.findall(index))
    pages = {p.name for p in (ROOT / "docs").glob("*.md") if p.name != "README.md"}
    assert pages <= listed, f"docs/README.md does not list: {sorted(pages - listed)}"
    for target in listed:
        assert (ROOT / "docs" / target.split("#")[0]).exists(), target


def test_every_link_between_pages_resolves() -> None:
    broken = []
    for page in sorted((ROOT / "docs").glob("*.md")):
        for target in _LINK.findall(page.read_text(encoding="utf-8")):
            path = target.split("#")[0]
            if path and "://" not in path and not (page.parent / path).exists():
                broken.append(f"{page.name}: {target}")
    assert not broken, f"docs pages link to missing files: {broken}"
