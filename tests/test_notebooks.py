"""The notebooks run top to bottom on the demo lake and on a lake of real logs, and are kept without outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import DATA, REPO, SHARED

nbformat = pytest.importorskip("nbformat", reason="the notebook tools are dev dependencies: pip install -e '.[dev]'")
nbclient = pytest.importorskip("nbclient", reason="the notebook tools are dev dependencies: pip install -e '.[dev]'")

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


@pytest.fixture(scope="module")
def real_lake(tmp_path_factory) -> Path:
    """Real logs: ../shared/data when it is here, else the vendored slices."""
    from auditlake import Lake

    lake = Lake(tmp_path_factory.mktemp("real") / "lake")
    sources = [SHARED / "immudb-log-audit", SHARED / "audit2rbac" / "commit-501d132a", SHARED / "googlecloudplatform-khi" / "derived",
               SHARED / "sysdiglabs-aks-audit-log"] if SHARED.is_dir() else [DATA]
    lake.ingest(sources)
    return lake.path


@pytest.fixture(scope="module")
def demo_lake(tmp_path_factory) -> Path:
    from auditlake import Lake

    root = tmp_path_factory.mktemp("demo")
    Lake(root / "lake").demo(root / "demo-audit-log", requests=20_000, seed=2)
    return root / "lake"


def test_the_notebooks_are_the_four_the_readme_names_and_carry_no_outputs():
    assert [path.stem for path in NOTEBOOKS] == ["01-explore", "02-deployment-changes", "03-incident-investigation", "04-compliance-evidence"]
    for path in NOTEBOOKS:
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] == "code":
                assert cell["outputs"] == [] and cell["execution_count"] is None, f"{path.name}: strip outputs before committing"
            assert "import auditlake" in path.read_text()


@pytest.mark.parametrize("which", ["demo", "real"])
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_every_notebook_runs_top_to_bottom(path, which, demo_lake, real_lake, tmp_path, monkeypatch):
    monkeypatch.setenv("AUDITLAKE_LAKE", str(demo_lake if which == "demo" else real_lake))
    monkeypatch.setenv("AUDITLAKE_EVIDENCE_DIR", str(tmp_path / "evidence"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    errors = [output for cell in notebook.cells for output in cell.get("outputs", []) if output.get("output_type") == "error"]
    assert not errors
    if path.stem == "04-compliance-evidence":
        index = json.loads((tmp_path / "evidence" / "index.json").read_text())
        assert {row["control"].split(":")[0] for row in index} == {"pci-dss-4.0", "hipaa"}
        assert (tmp_path / "evidence" / "README.md").read_text().count("```sql") >= 10
