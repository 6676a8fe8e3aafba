"""The notebooks run top to bottom on the demo lake and on a lake of real logs, and are kept without outputs."""

from __future__ import annotations

import itertools
import json
import math
import os
import shutil
import subprocess
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


@pytest.fixture(scope="module")
def full_runs(demo_lake, real_lake, tmp_path_factory):  # type: ignore[no-untyped-def]
    """Each notebook run top to bottom on a lake, once per module: (path stem, "demo" | "real") → (notebook, directory).

    Shared by the test that every notebook runs and the chart tests, which read the figures of the same run on the real
    lake (each run is 5-30 s; running 01 and 03 on it twice cost two of them). A run records every figure it shows
    (RECORD_FIGURES, a cell before the notebook's) and prints them at the end (DUMP_FIGURES, a cell after): see `charts`.
    """
    runs: dict[tuple[str, str], tuple[object, Path]] = {}

    def run(path: Path, which: str):  # type: ignore[no-untyped-def]
        if (path.stem, which) not in runs:
            directory = tmp_path_factory.mktemp(f"{path.stem}-{which}")
            with pytest.MonkeyPatch.context() as environment:
                environment.setenv("AUDITLAKE_LAKE", str(demo_lake if which == "demo" else real_lake))
                environment.setenv("AUDITLAKE_EVIDENCE_DIR", str(directory / "evidence"))
                environment.setenv("MPLBACKEND", "Agg")
                notebook = nbformat.read(path, as_version=4)
                notebook.cells = [nbformat.v4.new_code_cell(RECORD_FIGURES), *notebook.cells, nbformat.v4.new_code_cell(DUMP_FIGURES)]
                client = nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3",
                                                 resources={"metadata": {"path": str(directory)}})
                client.execute()
            runs[path.stem, which] = (notebook, directory)
        return runs[path.stem, which]

    return run


@pytest.mark.parametrize("which", ["demo", "real"])
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_every_notebook_runs_top_to_bottom(path, which, full_runs):
    notebook, directory = full_runs(path, which)
    errors = [output for cell in notebook.cells for output in cell.get("outputs", []) if output.get("output_type") == "error"]
    assert not errors
    if path.stem == "04-compliance-evidence":
        index = json.loads((directory / "evidence" / "index.json").read_text())
        assert {row["control"].split(":")[0] for row in index} == {"pci-dss-4.0", "hipaa"}
        assert (directory / "evidence" / "README.md").read_text().count("```sql") >= 10


# ---- which lake a notebook opens: Jupyter runs it in notebooks/, the lake is the repository's ---------------------
def repository_with(tmp_path: Path, notebook: Path, lake: Path | None = None) -> Path:
    """A copy of the repository's layout: notebooks/NOTEBOOK, and ./lake when given."""
    root = tmp_path / "repo"
    (root / "notebooks").mkdir(parents=True)
    shutil.copyfile(notebook, root / "notebooks" / notebook.name)
    if lake is not None:
        shutil.copytree(lake, root / "lake")
    return root


def run_in_notebooks(root: Path, notebook, cells: int | None = None):  # type: ignore[no-untyped-def]
    """Run a notebook (or its first `cells`) as Jupyter does: in its own directory, ROOT/notebooks."""
    if cells is not None:
        notebook.cells = notebook.cells[:cells]
    nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(root / "notebooks")}}).execute()
    return "".join(output.get("text", "") for cell in notebook.cells for output in cell.get("outputs", []))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_a_notebook_run_in_notebooks_opens_the_repository_lake_and_writes_nothing_there(path, real_lake, tmp_path):
    root = repository_with(tmp_path, path, real_lake)  # and no AUDITLAKE_LAKE: the conftest clears it
    text = run_in_notebooks(root, nbformat.read(path, as_version=4), cells=3)  # the lake, and 04's evidence directory
    assert f"events in {root / 'lake'}," in text and "simulating" not in text
    assert [entry.name for entry in (root / "notebooks").iterdir()] == [path.name]  # no notebooks/lake, no evidence/ there
    if path.stem == "04-compliance-evidence":
        assert (root / "evidence").is_dir()


def test_without_a_lake_the_demo_goes_where_make_demo_puts_it(tmp_path):
    path = REPO / "notebooks" / "01-explore.ipynb"
    root = repository_with(tmp_path, path)
    text = run_in_notebooks(root, nbformat.read(path, as_version=4), cells=2)
    assert f"{root / 'lake'} holds no lake yet" in text
    assert (root / "lake" / "_manifest" / "manifest.json").is_file() and (root / "demo-audit-log").is_dir()
    assert [entry.name for entry in (root / "notebooks").iterdir()] == [path.name]


def test_an_auditlake_lake_that_holds_no_lake_is_an_error_not_a_new_simulation(tmp_path, monkeypatch):
    path = REPO / "notebooks" / "02-deployment-changes.ipynb"
    root = repository_with(tmp_path, path)
    monkeypatch.setenv("AUDITLAKE_LAKE", str(tmp_path / "typo"))
    with pytest.raises(nbclient.exceptions.CellExecutionError, match="holds no lake"):
        run_in_notebooks(root, nbformat.read(path, as_version=4), cells=2)
    assert not (tmp_path / "typo").exists() and not (root / "lake").exists()


def test_make_notebooks_hands_jupyter_an_absolute_lake():
    def dry_run(**environment: str) -> list[str]:
        result = subprocess.run(["make", "-n", "-s", "notebooks"], cwd=REPO, capture_output=True, text=True, check=True,
                                env={**os.environ, **environment})
        return result.stdout.splitlines()

    lines = dry_run()
    assert f"AUDITLAKE_LAKE='{REPO / 'lake'}' .venv/bin/jupyter lab notebooks/" in lines
    assert "test -f lake/_manifest/manifest.json || .venv/bin/auditlake demo" in lines
    lines = dry_run(AUDITLAKE_LAKE="/data/lake")
    assert "AUDITLAKE_LAKE='/data/lake' .venv/bin/jupyter lab notebooks/" in lines and not any("auditlake demo" in line for line in lines)


# ---- the charts, on real logs years apart -----------------------------------------------------------------------
RECORD_FIGURES = '''\
import matplotlib.pyplot as _plt
_SHOWN, _show = [], _plt.show
def _record(*args, **kwargs):
    _SHOWN.append(_plt.gcf())
    return _show(*args, **kwargs)
_plt.show = _record'''
DUMP_FIGURES = '''\
import json as _json
print("FIGURES " + _json.dumps([{
    "height": float(figure.get_size_inches()[1]),
    "axes": [{"title": ax.get_title(), "xlim": list(ax.get_xlim()), "yticks": len(ax.get_yticks()),
              "lines": [[[float(x), float(y)] for x, y in zip(line.get_xdata(orig=False), line.get_ydata(orig=False))]
                        for line in ax.get_lines() if line.get_linestyle() not in ("None", "")],
              "points": [[float(x), float(y)] for collection in ax.collections for x, y in collection.get_offsets()]}
             for ax in figure.axes]} for figure in _SHOWN]))'''


def charts(full_runs, path: Path, which: str) -> list[dict]:  # type: ignore[no-untyped-def, type-arg]
    """What a notebook drew in its full run on a lake: each shown figure's height and, per axes, its lines, points and x-limits."""
    notebook, _ = full_runs(path, which)
    text = "".join(output.get("text", "") for output in notebook.cells[-1].outputs)
    return json.loads(text.split("FIGURES ", 1)[1])


def test_on_real_logs_years_apart_no_line_crosses_a_gap(full_runs):
    [hourly] = [ax for figure in charts(full_runs, REPO / "notebooks" / "01-explore.ipynb", "real") for ax in figure["axes"]
                if ax["title"].startswith("requests per hour")]
    drawn = [point for line in hourly["lines"] for point in line if not math.isnan(point[1])]
    assert max(x for x, _ in drawn) - min(x for x, _ in drawn) > 365  # the lake spans years (matplotlib dates are in days)
    for line in hourly["lines"]:
        for (x1, y1), (x2, y2) in itertools.pairwise(line):
            if not (math.isnan(y1) or math.isnan(y2)):
                assert x2 - x1 <= 1 / 24 + 1e-9, "a line joins two hours with no event in between"


def test_on_real_logs_the_incident_timeline_is_sized_to_its_events(full_runs):
    [(height, timeline)] = [(figure["height"], ax) for figure in charts(full_runs, REPO / "notebooks" / "03-incident-investigation.ipynb", "real")
                            for ax in figure["axes"] if ax["title"].startswith("requests around the finding")]
    (finding_x, _), _ = timeline["lines"][0]  # the red line
    xs = [x for x, _ in timeline["points"]] + [finding_x]
    low, high = timeline["xlim"]
    span, seconds = max(xs) - min(xs), 1 / 86_400
    assert low <= min(xs) and max(xs) <= high  # every request and the finding are in the frame ...
    assert high - low <= max(span * 1.2, span + 12 * seconds)  # ... and the frame is not much wider than they are
    rows = timeline["yticks"]
    assert 0.3 * rows <= height <= 1.5 + 0.5 * rows  # as tall as the verbs drawn: not a fixed frame
