"""Review evidence (PCI-DSS 10.4.1): who reviewed which section or finding, when and why, kept in the lake and shown in reports."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from auditlake import Lake
from auditlake.cli import app
from auditlake.errors import QueryError
from auditlake.render import report as report_render
from auditlake.reports import review
from tests.conftest import DATA, KILLED_WRITER

runner = CliRunner()
WINDOW = {"since": "2000-01-01", "until": "2100-01-01"}  # all of the vendored slices
REVIEWED_AT = datetime(2026, 11, 5, 9, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def base_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two real clusters (vendored slices), never reviewed; each test reviews a copy of its own."""
    root = tmp_path_factory.mktemp("reviews")
    with pytest.MonkeyPatch.context() as environment:
        environment.setenv("XDG_CACHE_HOME", str(root / "cache"))
        lake = Lake(root / "lake")
        lake.ingest([DATA / "immudb_first_300_lines.log"], cluster="immudb")
        lake.ingest([DATA / "audit2rbac_impersonation_v1beta1.log"], cluster="audit2rbac")
    return root / "lake"


@pytest.fixture
def lake(base_lake: Path, tmp_path: Path) -> Lake:
    shutil.copytree(base_lake, tmp_path / "lake")
    return Lake(tmp_path / "lake")


@pytest.fixture
def retention_pack(tmp_path: Path) -> Path:
    """A pack of one section (PCI-DSS 10.5.1's check): a report in a fraction of a second."""
    path = tmp_path / "retention.yaml"
    path.write_text("title: Retention\nsections:\n  - control: R.1\n    title: Audit log history retained\n    requirement: Keep a year.\n"
                    "    checked: Each cluster's span.\n    checks:\n      - query: retention\n        attention: {where: NOT keeps_12_months}\n")
    return path


def section(report, control: str):  # type: ignore[no-untyped-def]
    return next(item for item in report.sections if item.section.control == control)


def check(report, name: str):  # type: ignore[no-untyped-def]
    return next(result for item in report.sections for result in item.checks if result.name == name)


# ---- recording ----------------------------------------------------------------------------------
def test_a_review_is_committed_through_the_manifest_and_survives_a_reread_and_a_catalog_rebuild(lake):
    recorded = lake.review("pci-dss:10.2.1.4", by="alice", note="403s are the CI probe, ticket OPS-1", **WINDOW, now=REVIEWED_AT)
    assert (recorded.target, recorded.reviewer, recorded.accepted, recorded.reviewed_at) == ("pci-dss:10.2.1.4", "alice", False, REVIEWED_AT)
    assert recorded.rows == 7 and recorded.evidence[0][0] == "failed-authorization"  # the 7 rows that needed attention
    manifest = json.loads(lake.store.manifest_path.read_text())
    [(path, record)] = manifest["reviews"].items()
    stored = (lake.path / path).read_bytes()
    assert path == f"reviews/{recorded.id}.json" and record["sha256"] == review.hashlib.sha256(stored).hexdigest()
    assert record["bytes"] == len(stored) and record["target"] == "pci-dss:10.2.1.4"
    assert not (lake.path / "_staging").exists()

    (lake.path / "catalog.duckdb").unlink()
    Lake(lake.path).rebuild_catalog()
    with duckdb.connect(str(lake.path / "catalog.duckdb"), read_only=True) as connection:  # the DuckDB shell sees it too
        rows = connection.execute("SELECT target, reviewer, note, accepted, rows, digest FROM reviews").fetchall()
    assert rows == [("pci-dss:10.2.1.4", "alice", "403s are the CI probe, ticket OPS-1", False, 7, recorded.digest)]
    again = Lake(lake.path).sql("SELECT * FROM reviews").to_dicts()
    assert review.from_row(again[0]) == recorded


def test_a_review_without_accept_is_shown_but_changes_nothing(lake):
    before = lake.report("pci-dss", **WINDOW)
    lake.review("10.2.1.4", by="alice", note="looked at the 403s; following up", **WINDOW, now=REVIEWED_AT)
    after = lake.report("pci-dss", **WINDOW)
    assert section(after, "10.2.1.4").status == section(before, "10.2.1.4").status == "attention"
    assert section(after, "10.2.1.4").review.state == "reviewed"
    page = report_render.markdown(after)
    assert "**Review:** • reviewed, not accepted by alice on 2026-11-05 09:30 UTC: “looked at the 403s; following up”" in page
    assert "| 10.2.1.4 | Invalid logical access attempts | ⚠ needs attention | • reviewed, not accepted (alice, 2026-11-05) |" in page
    html_page = report_render.html_page(after)
    assert "data-review='reviewed'" in html_page and "<b>alice</b>" in html_page


def test_accepting_clears_attention_until_the_evidence_changes(lake, copy_of, retention_pack):
    pack, target = str(retention_pack), f"{retention_pack}:R.1"
    before = lake.report(pack, **WINDOW)
    assert section(before, "R.1").status == "attention" and check(before, "retention").flagged == 2
    lake.review(target, by="alice", note="a new lake: history grows from here", accept=True, **WINDOW, now=REVIEWED_AT)
    accepted = lake.report(pack, **WINDOW)
    assert section(accepted, "R.1").status == "accepted" and section(accepted, "R.1").review.state == "accepted"
    assert (check(accepted, "retention").flagged, check(accepted, "retention").accepted) == (0, 2)
    assert (accepted.count("attention"), accepted.count("accepted"), accepted.status) == (0, 1, "pass")  # --fail-on attention passes
    page = report_render.markdown(accepted)
    assert "**Result:** ✓ accepted in review" in page and "**Review:** ✓ accepted by alice on 2026-11-05 09:30 UTC" in page
    assert "| ✓ accepted | audit2rbac |" in page  # each accepted row says so
    document = report_render.report_json(accepted)
    reviewed = next(item for item in document["sections"] if item["control"] == "R.1")
    assert reviewed["review"]["state"] == "accepted" and reviewed["review"]["reviews"][0]["reviewer"] == "alice"

    lake.ingest([copy_of("khi_lease_update_request_response.jsonl")], cluster="kind")  # a third cluster: a new retention row
    lapsed = lake.report(pack, **WINDOW)
    state = section(lapsed, "R.1").review
    assert section(lapsed, "R.1").status == "attention" and (state.state, state.uncovered) == ("lapsed", 1)
    assert (check(lapsed, "retention").flagged, check(lapsed, "retention").accepted) == (1, 2)
    assert "**Review:** ⚠ acceptance lapsed — 1 row(s) need attention that the acceptance by alice" in report_render.markdown(lapsed)



def test_an_accepted_finding_no_longer_needs_attention_where_its_query_shows_it(lake, tmp_path):
    pack = tmp_path / "reads.yaml"
    pack.write_text("title: Reads\nsections:\n  - control: R.1\n    title: Sensitive reads\n    requirement: Reviewed.\n"
                    "    checked: Every read.\n    checks:\n      - query: sensitive-data-access\n        attention: rows\n")
    before = lake.report(str(pack), **WINDOW)
    rows = check(before, "sensitive-data-access")
    audit_id = rows.table.column("audit_id")[0].as_py()
    lake.review(f"sensitive-data-access:{audit_id}", by="alice", note="break-glass read, ticket SEC-9", accept=True)
    after = check(lake.report(str(pack), **WINDOW), "sensitive-data-access")
    assert (after.flagged, after.accepted) == (rows.flagged - 1, 1)
    assert "1 more accepted in review" in report_render.markdown(lake.report(str(pack), **WINDOW))


def test_unknown_sections_and_findings_are_refused_with_the_likely_name(lake):
    with pytest.raises(QueryError, match=r"pack pci-dss has no section '10\.2\.1\.33'") as error:
        lake.review("pci-dss:10.2.1.33", by="alice", note="x")
    assert "did you mean pci-dss:10.2.1.3" in error.value.hint
    with pytest.raises(QueryError, match="no report section or finding named 'pci-dds:10.2.1.3'") as error:
        lake.review("pci-dds:10.2.1.3", by="alice", note="x")
    assert "pci-dss:10.2.1.3" in error.value.hint
    with pytest.raises(QueryError, match="no finding 'sensitive-data-access:no-such-id'"):
        lake.review("sensitive-data-access:no-such-id", by="alice", note="x")
    with pytest.raises(QueryError, match="needs a note"):
        lake.review("pci-dss:10.2.1.3", by="alice", note="  ")
    assert json.loads(lake.store.manifest_path.read_text()).get("reviews", {}) == {}  # nothing was recorded


def test_an_item_is_accepted_while_its_acceptances_cover_every_row_needing_attention():
    target = review.Target("section", pack="p", control="c")

    def reviewed(day: int, accepted: bool, rows: list[str]) -> review.Review:
        return review.new_review(target, reviewer="a", note="n", accepted=accepted, evidence={"q": rows}, now=datetime(2026, 11, day, tzinfo=UTC))

    first = reviewed(5, True, ["r1", "r2"])
    assert review.item_state([first], {"q": ["r1"]}).state == "accepted"  # fewer rows: still covered
    assert review.item_state([first], {"q": ["r1", "r3"]}).uncovered == 1  # a new or changed row: lapsed
    assert review.item_state([reviewed(6, True, ["r3"]), first], {"q": ["r1", "r3"]}).state == "accepted"  # acceptances add up
    withdrawn = review.item_state([first, reviewed(6, False, []), reviewed(7, True, ["r3"])], {"q": ["r1", "r3"]})
    assert (withdrawn.state, withdrawn.uncovered) == ("lapsed", 1)  # a review without accept withdrew the first acceptance
    assert review.item_state([first, reviewed(6, False, [])], {"q": ["r1"]}).state == "reviewed"
    assert review.item_state([], {"q": ["r1"]}).state == "unreviewed"


# ---- crash safety: committed like a batch --------------------------------------------------------
@pytest.mark.parametrize("moment", ["before-commit", "after-commit"])
def test_a_review_writer_killed_at_its_commit_is_undone_or_finished_by_the_next_writer(lake, moment):
    completed = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(lake.path), "review", moment], capture_output=True, text=True,
                               env={**os.environ}, timeout=120)
    assert completed.returncode == -signal.SIGKILL, completed.stderr
    assert not (lake.path / "reviews" / "r-1.json").exists()  # nothing uncommitted under a final name; the committed one still staged
    assert list((lake.path / "_staging").rglob("r-1.json"))
    lake.rebuild_catalog()  # the next writer recovers
    committed = json.loads(lake.store.manifest_path.read_text()).get("reviews", {})
    assert (lake.path / "reviews" / "r-1.json").exists() == (moment == "after-commit") == ("reviews/r-1.json" in committed)
    assert not (lake.path / "_staging").exists()


def test_recover_deletes_a_review_file_the_manifest_does_not_list(lake):
    recorded = lake.review("pci-dss:10.2.1", by="alice", note="checked", **WINDOW)
    stray = lake.path / "reviews" / "forged.json"
    stray.write_text('{"id": "forged"}\n')
    lake.rebuild_catalog()
    assert not stray.exists() and (lake.path / "reviews" / f"{recorded.id}.json").exists()
    assert lake.sql("SELECT count(*) AS n FROM reviews").item() == 1


# ---- the CLI -------------------------------------------------------------------------------------
def test_review_from_the_cli(lake):
    args = ["review", "pci-dss:10.2.1.6", "--lake", str(lake.path), "--by", "alice", "--note", "apiserver upgrade, CHG-7", "--accept",
            "--since", WINDOW["since"], "--until", WINDOW["until"]]
    result = runner.invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    recorded = json.loads(result.stdout)
    assert (recorded["target"], recorded["reviewer"], recorded["accepted"], recorded["rows"]) == ("pci-dss:10.2.1.6", "alice", True, 2)
    assert "recorded review" in result.stderr and "accepted by alice" in result.stderr
    assert section(lake.report("pci-dss", **WINDOW), "10.2.1.6").status == "accepted"

    unknown = runner.invoke(app, ["review", "pci-dss:10.2.1.66", "--lake", str(lake.path), "--by", "alice", "--note", "x"])
    assert unknown.exit_code == 2
    assert unknown.stderr.splitlines()[0] == "error: pack pci-dss has no section '10.2.1.66'"
    assert unknown.stderr.splitlines()[1].startswith("hint: did you mean pci-dss:10.2.1.6") and len(unknown.stderr.splitlines()) == 2
    finding = runner.invoke(app, ["review", "exec-sessions:nope", "--lake", str(lake.path), "--by", "alice", "--note", "x"])
    assert finding.exit_code == 2 and finding.stderr.startswith("error: no finding 'exec-sessions:nope'") and "Traceback" not in finding.output
    no_reviewer = runner.invoke(app, ["review", "pci-dss:10.2.1.6", "--lake", str(lake.path), "--note", "x"])
    assert no_reviewer.exit_code == 2 and "--by" in no_reviewer.output
