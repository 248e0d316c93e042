"""The import graph of the package only points down the layers."""

from __future__ import annotations

import ast
from pathlib import Path

import monitor

#: Layer of each top-level part of the package: a module may import its own part and lower
#: layers only (sources -> decode -> store -> analyse -> report, with the jobs and the CLI on top).
LAYERS = {
    "errors": 0,
    "schema": 0,
    "core": 1,
    "config": 2,
    "sources": 3,
    "decode": 4,
    "store": 5,
    "analyse": 6,
    "report": 7,
    "simulate": 7,
    "pipeline": 8,
    "alerts": 8,
    "service": 9,
    "cli": 10,
    "__main__": 11,
}
ROOT = Path(monitor.__file__).parent


def _part(module: str) -> str | None:
    names = module.split(".")
    return names[1] if len(names) > 1 and names[0] == "monitor" else None


def _imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
    return found


def test_no_module_imports_a_higher_layer() -> None:
    upward = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        if rel.parts == ("__init__.py",):
            continue  # the public API imports from every layer
        own = rel.parts[0].removesuffix(".py")
        assert own in LAYERS, f"{rel}: add its part of the package to LAYERS"
        for module in _imports(path):
            part = _part(module)
            if part is None or part == own:
                continue
            if part in LAYERS and LAYERS[part] >= LAYERS[own]:
                upward.append(f"{rel} imports {module}")
    assert upward == []
