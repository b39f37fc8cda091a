"""The product does not lean on its emulator: no module under chalicelib/ or iot/ imports
infra.local (or infra at all), lazy imports inside functions included."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _imported(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):  # every import, at module level or inside a function
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            found.append((node.lineno, str(node.args[0].value)))
    return found


def test_neither_the_app_nor_the_device_tools_import_the_emulator() -> None:
    modules = sorted([*ROOT.glob("chalicelib/**/*.py"), *ROOT.glob("iot/**/*.py")])
    assert len(modules) > 50  # the walk found the packages
    offending = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for path in modules
        for line, name in _imported(ast.parse(path.read_text(encoding="utf-8")))
        if name == "infra" or name.startswith("infra.")
    ]
    assert offending == []


def test_the_walk_sees_lazy_imports() -> None:
    source = "def f():\n    from infra.local import provision\n    import infra.local.pki\n"
    assert [name for _, name in _imported(ast.parse(source))] == [
        "infra.local",
        "infra.local.provision",
        "infra.local.pki",
    ]
