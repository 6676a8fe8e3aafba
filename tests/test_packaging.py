"""What a non-editable install carries: the code, the whole query library (`queries/` as package data) and the page templates."""

from __future__ import annotations

import fnmatch
import glob
import tomllib
from pathlib import Path

from tests.conftest import REPO


def test_every_file_of_the_query_library_ships_in_the_package():
    """Report packs were once left out of the wheel: `auditlake report` failed on a pip-installed auditlake."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    patterns = config["package-data"]["auditlake.queries"]
    files = [path for path in (REPO / "queries").rglob("*") if path.is_file() and not path.name.startswith(".")]
    assert len(files) > 100
    # setuptools expands package-data with glob(recursive=True), where `**/` also matches no folder (queries/_defaults.yaml)
    shipped = {Path(found) for pattern in patterns for found in glob.glob(str(REPO / "queries" / pattern), recursive=True)}
    for path in files:
        relative = path.relative_to(REPO / "queries")
        assert path in shipped, f"{relative} is not package data"
    assert "auditlake.queries" in config["packages"] and config["package-dir"]["auditlake.queries"] == "queries"
    assert all(pattern.startswith("**/") for pattern in patterns), "globs reach every folder under queries/, however deep"


def test_every_code_package_ships():
    """A package of auditlake/ left out of `packages` would import from a checkout and fail from a wheel."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    for init in (REPO / "auditlake").rglob("__init__.py"):
        package = ".".join(init.parent.relative_to(REPO).parts)
        assert package in config["packages"], f"{package} is not listed in [tool.setuptools] packages"


def test_every_subpackage_and_its_data_files_ship():
    """A package directory or a data file (policy/templates/) left out of pyproject.toml is missing from a pip install."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    root = REPO / "auditlake"
    for init in root.rglob("__init__.py"):
        package = ".".join(init.parent.relative_to(REPO).parts)
        assert package in config["packages"], f"{package} is not listed in [tool.setuptools] packages"
    for path in root.rglob("*"):
        if not path.is_file() or path.suffix in (".py", ".pyc") or path.name.startswith("."):
            continue
        owner = next(parent for parent in path.parents if (parent / "__init__.py").is_file())
        package = ".".join(owner.relative_to(REPO).parts)
        patterns = config["package-data"].get(package, [])
        relative = str(path.relative_to(owner))
        assert any(fnmatch.fnmatch(relative, pattern) for pattern in patterns), f"{path.relative_to(REPO)} is not package data of {package}"


def test_the_page_templates_and_stylesheet_ship_in_the_package():
    """`auditlake report --format html` renders templates/*.j2 with the one stylesheet: a wheel without them cannot write a page."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    patterns = config["package-data"]["auditlake.render"]
    templates = REPO / "auditlake" / "render"
    files = [path for path in (templates / "templates").rglob("*") if path.is_file()]
    assert {path.suffix for path in files} == {".j2", ".css"} and "auditlake.render" in config["packages"]
    for path in files:
        assert any(fnmatch.fnmatch(str(path.relative_to(templates)), pattern) for pattern in patterns), f"{path.name} is not package data"
