"""The README is generated where it can drift: the column reference, the settings table, the detections and their audit."""

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


def test_the_readme_attack_coverage_table_is_the_simulations():
    """Regenerate with: python -c 'from auditlake.demo import coverage_markdown; print(coverage_markdown())'.

    tests/test_attack_stories.py checks that the detections it names are those that find each story.
    """
    from auditlake.demo import coverage_markdown

    detections = README.split("\n## Detections")[1].split("\n## ")[0]
    assert "### Attack stories and coverage" in detections
    block = detections.split("<!-- attack-coverage:begin -->\n")[1].split("\n<!-- attack-coverage:end -->")[0]
    assert block == coverage_markdown()


def test_the_readme_audits_every_upstream_rule_a_detection_reproduces():
    """Regenerate with: python -c 'from auditlake.library import detections, savedquery; print(detections.audit_table(savedquery.load_library()))'."""
    from auditlake.library import detections as detect
    from auditlake.library import savedquery as queries

    library = queries.load_library()
    block = README.split("<!-- detection-audit:begin -->\n")[1].split("\n<!-- detection-audit:end -->")[0]
    assert block == detect.audit_table(library)
    for query in detect.detections(library):
        named = {rule for rules in query.reproduces.values() for rule in rules}
        assert set(query.audit) == named, f"{query.name}: no audit entry for {sorted(named - set(query.audit))}"
        for rule, entry in query.audit.items():
            assert entry["difference"] != "none" or not entry["params"], f"{query.name} / {rule}: no difference, yet other parameters"
            if not query.enabled:
                assert "enabled: false" in query.path.read_text(), query.name


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


def test_the_readme_recommended_wider_tuning_switches_on_every_widening_parameter(tmp_path):
    """Each switch that reads more than upstream is off by default, and the README's recommended file sets every one."""
    from auditlake.library import binding
    from auditlake.library import detections as detect
    from auditlake.library import savedquery as queries

    widening = {"all_pod_specs", "exec_over_get", "count_deletecollection", "admins_are_people"}
    library = queries.load_library()
    example = next(block for block in re.findall(r"```yaml\n(.*?)```", README, re.DOTALL) if "exec_over_get" in block)
    (tmp_path / "wider.yaml").write_text(example)
    tuned = binding.tuning(detect.choose(library, include_disabled=True), binding.load_tuning(tmp_path / "wider.yaml"))
    # Wider than upstream means something for the detections that reproduce an upstream rule; those over history are ours.
    faithful = [query for query in detect.detections(library) if query.reproduces]
    offered = {query.name: {param.name for param in query.params if param.name in widening} for query in faithful}
    assert {name: set(values) for name, values in tuned.items()} == {name: names for name, names in offered.items() if names}
    for query in faithful:
        assert all(param.default is False for param in query.params if param.name in widening), query.name
        if query.name in tuned:
            assert all(value is True for value in tuned[query.name].values())
            binding.bind(query, tuned[query.name])

