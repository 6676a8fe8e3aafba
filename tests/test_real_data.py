"""Whole real audit logs from ../shared/data, checked against an independent reading of the files."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path

import pytest

from auditlake import Lake
from tests.conftest import SHARED, requires_shared

pytestmark = requires_shared


def independent_counts(path: Path) -> tuple[int, Counter, Counter]:
    events = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return len(events), Counter(e["stage"] for e in events), Counter(e["verb"] for e in events)


@pytest.fixture(scope="module")
def immudb_lake(tmp_path_factory) -> Lake:
    lake = Lake(tmp_path_factory.mktemp("immudb") / "lake")
    lake.ingest([SHARED / "immudb-log-audit" / "k8s.log"], cluster="immudb")
    return lake


def test_every_line_of_the_immudb_log_lands(immudb_lake):
    total, stages, verbs = independent_counts(SHARED / "immudb-log-audit" / "k8s.log")
    assert total == 2_971
    assert immudb_lake.sql("SELECT count(*) AS n FROM events").item() == total
    assert dict(immudb_lake.sql("SELECT stage, count(*) AS n FROM events GROUP BY ALL").rows()) == stages
    assert dict(immudb_lake.sql("SELECT verb, count(*) AS n FROM events GROUP BY ALL").rows()) == verbs
    assert stages == {"RequestReceived": 1_484, "ResponseComplete": 1_376, "ResponseStarted": 111}
    codes = dict(immudb_lake.sql("SELECT code, count(*) AS n FROM events WHERE code IS NOT NULL GROUP BY ALL").rows())
    assert codes == {200: 1_426, 201: 52, 500: 7, 409: 2}
    assert immudb_lake.status().quarantined == 0


def test_ingesting_the_immudb_log_again_adds_no_row(immudb_lake):
    again = immudb_lake.ingest([SHARED / "immudb-log-audit" / "k8s.log"], cluster="immudb")
    assert again.events_written == 0 and again.sources_unchanged == 1
    assert immudb_lake.sql("SELECT count(*) AS n FROM events").item() == 2_971


def test_the_same_log_gzipped_under_another_name_adds_no_row(immudb_lake, tmp_path):
    rotated = tmp_path / "audit-2023-03-10T22-42-00.000.log.gz"
    rotated.write_bytes(gzip.compress((SHARED / "immudb-log-audit" / "k8s.log").read_bytes()))
    result = immudb_lake.ingest([rotated], cluster="immudb")
    assert result.events_written == 0
    assert immudb_lake.sql("SELECT count(*) AS n FROM events").item() == 2_971


def test_the_original_v1beta1_capture_lands_with_impersonation_and_stages(tmp_path):
    path = SHARED / "audit2rbac" / "commit-501d132a" / "demo.log"
    total, stages, verbs = independent_counts(path)
    lake = Lake(tmp_path / "lake")
    lake.ingest([path], cluster="audit2rbac")
    assert lake.sql("SELECT count(*) AS n FROM events").item() == total == 757
    assert dict(lake.sql("SELECT stage, count(*) AS n FROM events GROUP BY ALL").rows()) == stages
    assert lake.sql("SELECT count(*) AS n FROM events WHERE received_at IS NULL OR event_version <> 'audit.k8s.io/v1beta1'").item() == 0


def test_v1beta1_and_its_v1_relabel_are_the_same_events(tmp_path):
    lake = Lake(tmp_path / "lake")
    lake.ingest([SHARED / "audit2rbac" / "demo.log"], cluster="c")
    again = lake.ingest([SHARED / "audit2rbac" / "commit-883f4e80" / "demo.log"], cluster="c")
    assert again.duplicates == 37 and again.events_written == 0
    alice = lake.sql("SELECT verb, code, namespace, resource FROM events WHERE impersonated_user = 'alice' ORDER BY resource").rows()
    assert [(verb, code) for verb, code, _, _ in alice] == [("list", 403)] * 3  # audit2rbac's README: alice's three denied lists
    assert {namespace for _, _, namespace, _ in alice} == {"ns1"}


def test_every_shared_file_is_read_without_a_crash_and_every_line_accounted_for(tmp_path):
    lake = Lake(tmp_path / "lake")
    result = lake.ingest([SHARED], cluster="shared")
    assert result.events_written > 3_700
    assert result.events_decoded + result.quarantined >= result.events_written
    quarantined = lake.sql("SELECT count(*) AS n FROM quarantine").item()
    assert quarantined == result.quarantined


def final_events(path: Path) -> list[dict]:
    return [e for e in (json.loads(line) for line in path.read_text().splitlines() if line.strip()) if e["stage"] == "ResponseComplete"]


WINDOW = {"since": "2000-01-01", "until": "2100-01-01"}


def test_saved_queries_on_the_whole_immudb_log(immudb_lake):
    events = final_events(SHARED / "immudb-log-audit" / "k8s.log")
    tokens = Counter((e["objectRef"]["name"], e["user"]["username"]) for e in events
                     if e.get("objectRef", {}).get("subresource") == "token" and e["responseStatus"]["code"] < 300)
    result = immudb_lake.query("service-account-token-requests", **WINDOW)
    assert Counter(zip(result["service_account"], result["actor"], strict=True)) == tokens
    assert sum(tokens.values()) == 12 and {user for _, user in tokens} == {"system:kube-controller-manager"}
    listing = {e["user"]["username"] for e in events if e.get("objectRef", {}).get("resource") == "secrets"
               and e["verb"] in ("list", "watch") and not e["objectRef"].get("namespace")}
    assert set(immudb_lake.query("secret-listing-across-namespaces", **WINDOW)["actor"]) == listing
    errors = Counter(e["responseStatus"]["code"] for e in events if e["responseStatus"]["code"] >= 500)
    assert immudb_lake.query("top-actors", **WINDOW)["failures"].sum() == sum(
        1 for e in events if e["responseStatus"]["code"] >= 400) and errors == {500: 7}


def test_saved_queries_on_the_original_audit2rbac_capture(tmp_path):
    path = SHARED / "audit2rbac" / "commit-501d132a" / "demo.log"
    events = final_events(path)
    lake = Lake(tmp_path / "lake")
    lake.ingest([path], cluster="audit2rbac")
    deleted = Counter((e["objectRef"]["resource"], e["objectRef"].get("name")) for e in events
                      if e["verb"] == "delete" and 200 <= e["responseStatus"]["code"] < 300)
    result = lake.query("deletions", **WINDOW)
    assert Counter(zip(result["resource"], result["name"], strict=True)) == deleted and deleted
    rbac = sum(1 for e in events if e.get("objectRef", {}).get("apiGroup") == "rbac.authorization.k8s.io"
               and e["verb"] in ("create", "update", "patch", "delete") and 200 <= e["responseStatus"]["code"] < 300)
    assert lake.query("rbac-changes", **WINDOW).height == rbac > 0
