"""The README is generated where it can drift: the column reference and the settings table."""

from __future__ import annotations

import re

from auditlake.config import SETTINGS
from auditlake.contract import markdown_table
from tests.conftest import REPO

README = (REPO / "README.md").read_text()


def test_the_readme_column_reference_is_the_column_contract():
    """Regenerate with: python -c 'from auditlake.contract import markdown_table; print(markdown_table())'."""
    block = README.split("<!-- columns:begin -->\n")[1].split("\n<!-- columns:end -->")[0]
    assert block == markdown_table()


def test_every_setting_is_documented_with_its_default():
    for setting in SETTINGS.values():
        assert f"| `{setting.env}` | `{setting.default}` | {setting.help} |" in README


def test_the_readme_gives_the_two_commands_and_ci_runs_the_second():
    assert "make demo" in README and "make test" in README
    assert (REPO / ".ci" / "run").read_text().strip().endswith("make test")


def test_the_readme_lists_every_saved_query():
    """Regenerate with: python -c 'from auditlake.library import savedquery as s; print(s.markdown_table(s.load_library()))'."""
    from auditlake.library import savedquery as queries

    block = README.split("<!-- queries:begin -->\n")[1].split("\n<!-- queries:end -->")[0]
    assert block == queries.markdown_table(queries.load_library())


def test_the_readme_lists_every_detection_and_the_rules_it_reproduces():
    """Regenerate with: python -c 'from auditlake.library import detections, savedquery; print(detections.markdown_table(savedquery.load_library()))'."""
    from auditlake.library import detections as detect
    from auditlake.library import savedquery as queries

    block = README.split("<!-- detections:begin -->\n")[1].split("\n<!-- detections:end -->")[0]
    assert block == detect.markdown_table(queries.load_library())


def test_the_readme_lists_every_detection_over_history():
    """Regenerate with:
    python -c 'from auditlake.library import detections, savedquery; print(detections.stateful_markdown_table(savedquery.load_library()))'."""
    from auditlake.library import detections as detect
    from auditlake.library import savedquery as queries

    block = README.split("<!-- stateful-detections:begin -->\n")[1].split("\n<!-- stateful-detections:end -->")[0]
    assert block == detect.stateful_markdown_table(queries.load_library())


def test_the_readme_python_example_runs_on_a_demo_lake(tmp_path, monkeypatch):
    """The block under '## Python', run where `make demo` would have left its lake and log."""
    from auditlake import Lake

    monkeypatch.chdir(tmp_path)
    Lake("lake").demo("demo-audit-log", requests=4_000, seed=3)  # ends about now, like `auditlake demo`
    code = README.split("## Python")[1].split("```python\n")[1].split("```")[0]
    exec(compile(code, "README.md", "exec"), {})


def test_the_readme_grpc_table_is_the_one_the_code_uses():
    from auditlake.ingest.wrappers.gke import grpc_markdown_table

    assert grpc_markdown_table().replace("\n", "\n    ") in README


def test_the_readme_tuning_example_names_real_detections_and_parameters(tmp_path):
    from auditlake.library import binding
    from auditlake.library import detections as detect
    from auditlake.library import savedquery as queries

    example = next(block for block in re.findall(r"```yaml\n(.*?)```", README, re.DOTALL) if "disallowed-user" in block)
    (tmp_path / "tuning.yaml").write_text(example)
    tuned = binding.tuning(detect.choose(queries.load_library()), binding.load_tuning(tmp_path / "tuning.yaml"))
    for rule, values in tuned.items():
        binding.bind(queries.load_library()[rule], values)  # refuses unknown parameters and mistyped values
    assert set(tuned) == {"disallowed-user", "forbidden-from-public-ip", "privileged-pod"}
