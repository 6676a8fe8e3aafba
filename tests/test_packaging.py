"""What a non-editable install carries: the code and the whole query library (`queries/` as package data)."""

from __future__ import annotations

import fnmatch
import tomllib

from tests.conftest import REPO


def test_every_file_of_the_query_library_ships_in_the_package():
    """Report packs were once left out of the wheel: `auditlake report` failed on a pip-installed auditlake."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    patterns = config["package-data"]["auditlake.queries"]
    files = [path for path in (REPO / "queries").rglob("*") if path.is_file() and not path.name.startswith(".")]
    assert len(files) > 100
    for path in files:
        relative = path.relative_to(REPO / "queries")
        assert any(fnmatch.fnmatch(str(relative), pattern) for pattern in patterns), f"{relative} is not package data"
    assert "auditlake.queries" in config["packages"] and config["package-dir"]["auditlake.queries"] == "queries"
    assert all(pattern.startswith("**/") for pattern in patterns), "globs reach every folder under queries/, however deep"


def test_every_code_package_ships():
    """A package of auditlake/ left out of `packages` would import from a checkout and fail from a wheel."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    for init in (REPO / "auditlake").rglob("__init__.py"):
        package = ".".join(init.parent.relative_to(REPO).parts)
        assert package in config["packages"], f"{package} is not listed in [tool.setuptools] packages"
