"""Imports flow one way (cli → lake → modules); ingest/ never writes; only cli.py knows terminals."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "auditlake"
# Everything in auditlake but errors and config: what the lowest modules (contract, duck) may not import.
_ABOVE_CONTRACT = {"auditlake.lake", "auditlake.cli", "auditlake.store", "auditlake.ingest", "auditlake.queries", "auditlake.library",
                   "auditlake.detect", "auditlake.packs", "auditlake.report", "auditlake.reports", "auditlake.review",
                   "auditlake.render", "auditlake.report_render", "auditlake.history", "auditlake.policy", "auditlake.demo",
                   "auditlake.window", "auditlake.duck", "auditlake.contract"}
FORBIDDEN = {
    "ingest": {"auditlake.store", "auditlake.lake", "auditlake.cli", "typer", "rich"},
    # store/ is the only writer under LAKE/: it sits below the façade, the library, reports and render, and beside ingest.
    "store": {"auditlake.lake", "auditlake.cli", "auditlake.ingest", "auditlake.queries", "auditlake.library", "auditlake.detect",
              "auditlake.packs", "auditlake.report", "auditlake.reports", "auditlake.review", "auditlake.render",
              "auditlake.report_render", "auditlake.history", "auditlake.policy", "auditlake.demo", "typer", "rich"},
    "contract": _ABOVE_CONTRACT - {"auditlake.contract"},
    "duck": _ABOVE_CONTRACT - {"auditlake.duck"},
    "lake": {"auditlake.cli", "typer", "rich"},
    "render": {"auditlake.lake", "auditlake.cli", "typer", "rich", "duckdb"},
    "demo": {"auditlake.lake", "auditlake.cli", "auditlake.store", "typer", "rich"},
}


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)  # `from auditlake import lake` imports auditlake.lake
    return names


def module_files() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", module_files(), ids=lambda path: str(path.relative_to(PACKAGE)))
def test_imports_flow_one_way(path):
    relative = path.relative_to(PACKAGE)
    area = relative.parts[0] if len(relative.parts) > 1 else relative.stem
    imported = imports_of(path)
    for forbidden in FORBIDDEN.get(area, set()):
        assert not any(name == forbidden or name.startswith(forbidden + ".") for name in imported), f"{relative} imports {forbidden}"
    if relative.name != "cli.py":
        assert not {"typer", "rich", "click"} & {name.split(".")[0] for name in imported}, f"{relative} knows about terminals"


@pytest.mark.parametrize("path", module_files(), ids=lambda path: str(path.relative_to(PACKAGE)))
def test_every_module_says_what_it_owns(path):
    docstring = ast.get_docstring(ast.parse(path.read_text())) or ""
    assert len(docstring) > 20, f"{path.name} needs a docstring saying what it owns"
