"""The README is generated where it can drift: the column reference and the settings table."""

from __future__ import annotations

from auditlake.config import SETTINGS
from auditlake.ingest.schema import markdown_table
from tests.conftest import REPO

README = (REPO / "README.md").read_text()


def test_the_readme_column_reference_is_the_column_contract():
    """Regenerate with: python -c 'from auditlake.ingest.schema import markdown_table; print(markdown_table())'."""
    block = README.split("<!-- columns:begin -->\n")[1].split("\n<!-- columns:end -->")[0]
    assert block == markdown_table()


def test_every_setting_is_documented_with_its_default():
    for setting in SETTINGS.values():
        assert f"| `{setting.env}` | `{setting.default}` | {setting.help} |" in README


def test_the_readme_gives_the_two_commands_and_ci_runs_the_second():
    assert "make demo" in README and "make test" in README
    assert (REPO / ".ci" / "run").read_text().strip().endswith("make test")
