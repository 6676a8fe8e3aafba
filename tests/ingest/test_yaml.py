"""Audit events in YAML, as kubectl and KHI store them, ingest like their JSON (issue `evidence`, item 10)."""

from __future__ import annotations

import shutil

from auditlake import Lake
from tests.conftest import DATA

LINEAGE = ("source_file", "source_line", "source_item", "batch")


def rows(lake: Lake) -> list[dict]:
    return lake.sql(f"select * exclude ({', '.join(LINEAGE)}) from events order by audit_id").to_dicts()


def test_an_event_in_yaml_lands_exactly_as_its_json_does(tmp_path):
    from_yaml, from_json = Lake(tmp_path / "yaml"), Lake(tmp_path / "json")
    from_yaml.ingest([DATA / "khi_lease_update_request_response.yaml"])
    from_json.ingest([DATA / "khi_lease_update_request_response.jsonl"])
    assert rows(from_yaml) == rows(from_json) and len(rows(from_yaml)) == 1  # times stay times, not YAML dates
    assert from_yaml.sql("select source_line from events").item() == 15  # where the document starts, after the license


def test_a_directory_of_yaml_reads_the_audit_events_and_skips_the_rest_by_what_they_are(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    shutil.copy(DATA / "khi_gke_pod_create.yaml", logs)
    shutil.copy(DATA / "khi_lease_update_request_response.yaml", logs)
    (logs / "policy.yaml").write_text("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n")
    (logs / "events.yaml").write_text("---\nkind: EventList\napiVersion: audit.k8s.io/v1\nitems: []\n---\n" + (
        DATA / "khi_lease_update_request_response.yaml").read_text().split("limitations under the License.\n")[1].replace(
        "7a816f5c", "second-doc"))
    lake = Lake(tmp_path / "lake")
    result = lake.ingest([logs])
    assert result.events_written == 3 and result.quarantined == 0
    assert [(item.name.rsplit("/", 1)[1], item.reason, item.is_problem) for item in result.skipped] == [
        ("policy.yaml", "not audit events: a audit.k8s.io/v1 Policy", False)]
    clusters = dict(lake.sql("select cluster, count(*) from events group by all").iter_rows())
    assert clusters == {"sample-cluster": 1, "default": 2}  # the GKE entry names its cluster, as its JSON would
    second = lake.sql("select source_line from events where audit_id like 'second-doc%'").item()
    assert second == 7  # the second document of the stream starts on line 7 (after a blank line): its own line
    assert lake.ingest([logs]).sources_unchanged == 3  # and no events file is read twice
