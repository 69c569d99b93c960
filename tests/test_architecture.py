"""Dependencies point one way: source → document → extract → detect → redact → store → report."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "scanner"
BASE = {"scanner", "scanner.model", "scanner.errors", "scanner.config"}
ORDER = ["source", "extract", "detect", "redact", "store", "report"]


def _stage(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in ORDER else None


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return {m for m in found if m == "scanner" or m.startswith("scanner.")}


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(PACKAGE)) for p in MODULES])
def test_imports_point_one_way(path):
    module = "scanner." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
    module = module.removesuffix(".__init__")
    imports = _imports(path)
    if module in BASE:
        assert imports <= {"scanner.errors"} or module == "scanner", imports
        return
    stage = _stage(module)
    if stage is None:  # the wiring (cli, pipeline) may use every stage
        return
    for imported in imports:
        other = _stage(imported)
        if other is None:
            assert imported in BASE, f"{module} imports {imported}"
        else:
            assert ORDER.index(other) <= ORDER.index(stage), f"{module} ({stage}) imports later stage {imported}"
