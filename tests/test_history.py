"""Change history: the timeline and diffs reproduce what really happened to each object."""

from __future__ import annotations

import json
from datetime import datetime

import jsonpatch
import pytest
import yaml
from typer.testing import CliRunner

from auditlake import Lake
from auditlake.cli import app
from auditlake.history import build_timeline, normalise
from tests.conftest import DATA, DEMO_START, SHARED, requires_shared
from tests.ingest.test_redact import B64_PASSWORD, SECRETS, TOKEN, secret_events

runner = CliRunner()
ALL_TIME = {"since": "2000-01-01", "until": "2100-01-01"}


@pytest.fixture(scope="module")
def truth(demo_truth):
    return demo_truth


def test_each_workloads_timeline_is_exactly_what_the_simulation_did(fixture_lake, truth):
    workloads = sorted({(change.namespace, change.name) for change in truth.changes})
    assert len(workloads) == 5
    for namespace, name in workloads:
        expected = [(change.audit_id, change.summary) for change in truth.changes if (change.namespace, change.name) == (namespace, name)]
        entries = fixture_lake.history_entries("deployments", namespace, name, cluster="demo", **ALL_TIME)
        assert [(entry.audit_id, entry.summary) for entry in entries] == expected
    kinds = {change.summary.split(" ")[0] for change in truth.changes}
    assert kinds == {"created", "image", "replicas", "env"}


def test_every_patch_turns_the_state_before_into_the_state_after(fixture_lake):
    entries = fixture_lake.history_entries("deployments", "payments", "api", cluster="demo", **ALL_TIME)
    for entry in entries[1:]:
        assert jsonpatch.apply_patch(entry.before, entry.patch) == entry.after
    sources = {entry.state_source for entry in entries}
    assert sources == {"response", "patch"}  # rollouts carry the response body; scale patches are applied to it


def test_a_window_still_diffs_against_the_state_before_it(fixture_lake, truth):
    changes = [change for change in truth.changes if (change.namespace, change.name) == ("payments", "api")]
    middle = changes[len(changes) // 2]
    entries = fixture_lake.history_entries("deployments", "payments", "api", cluster="demo", since=middle.at, until="2100-01-01")
    assert entries[0].audit_id == middle.audit_id and entries[0].summary == middle.summary != "created"


def test_noise_is_not_a_change():
    state = {"kind": "Deployment", "metadata": {"name": "a", "resourceVersion": "1", "generation": 1, "managedFields": [{"manager": "x"}],
                                                "annotations": {"deployment.kubernetes.io/revision": "1"}},
             "spec": {"replicas": 1}, "status": {"replicas": 1}}
    noisy = json.loads(json.dumps(state))
    noisy["metadata"].update(resourceVersion="2", generation=2, managedFields=[{"manager": "y"}])
    noisy["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = "2"
    noisy["status"]["replicas"] = 3
    assert normalise(state) == normalise(noisy)
    rows = [_row("create", state), _row("update", noisy)]
    assert [entry.summary for entry in build_timeline(rows)] == ["created"]
    assert [entry.summary for entry in build_timeline(rows, keep_noise=True)] == ["created", "no change (metadata only)"]


def _row(verb: str, response: dict | None, request: dict | list | None = None, level: str = "RequestResponse", subresource=None) -> dict:
    return {"received_at": datetime(2026, 1, 1), "cluster": "c", "verb": verb, "subresource": subresource, "actor": "a",
            "actor_kind": "human", "audit_id": verb, "level": level, "response_object": json.dumps(response) if response else None,
            "request_object": json.dumps(request) if request else None, "user_agent": "kubectl/v1.31"}


def test_patches_are_applied_when_the_level_recorded_only_the_request():
    deployment = {"kind": "Deployment", "metadata": {"name": "api"}, "spec": {"replicas": 2, "template": {"spec": {"containers": [
        {"name": "api", "image": "r/api:1", "env": [{"name": "A", "value": "1"}]}, {"name": "proxy", "image": "r/envoy:1"}]}}}}
    strategic = {"spec": {"template": {"spec": {"containers": [{"name": "api", "image": "r/api:2", "env": [{"name": "B", "value": "2"}]}]}}}}
    json_patch = [{"op": "replace", "path": "/spec/replicas", "value": 5}]
    rows = [_row("create", deployment), _row("patch", None, strategic, "Request"), _row("patch", None, json_patch, "Request"),
            _row("update", None, None, "Metadata"), _row("patch", None, {"spec": {"replicas": 1}}, "Request")]
    entries = build_timeline(rows)
    assert [entry.summary for entry in entries[:3]] == ["created", "image api:1 → api:2; env B added", "replicas 2 → 5"]
    assert entries[1].after["spec"]["template"]["spec"]["containers"][1]["image"] == "r/envoy:1"  # merged by name, not replaced
    assert entries[3].state_source == "none" and "no diff is possible" in entries[3].summary
    assert entries[4].state_source == "patch-only" and entries[4].summary == "patch (no earlier state known): sets spec.replicas"


def test_a_server_side_apply_patch_is_merged_not_taken_for_the_whole_object():
    deployment = {"kind": "Deployment", "apiVersion": "apps/v1", "metadata": {"name": "api", "labels": {"team": "pay"}},
                  "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "api", "image": "r/api:1"}]}}}}
    applied = {"kind": "Deployment", "apiVersion": "apps/v1", "metadata": {"name": "api"}, "spec": {"replicas": 3}}  # kubectl apply --server-side
    entries = build_timeline([_row("create", deployment), _row("patch", None, applied, "Request")])
    assert entries[1].summary == "replicas 2 → 3"
    assert entries[1].after["metadata"]["labels"] == {"team": "pay"} and entries[1].after["spec"]["template"]


def test_the_khi_lease_update_is_one_change_with_its_bodies(tmp_path):
    lake = Lake(tmp_path / "lake")
    lake.ingest([DATA / "khi_lease_update_request_response.jsonl"], cluster="kind")
    [entry] = lake.history_entries("leases", "kube-system", "kube-scheduler", **ALL_TIME)
    assert (entry.verb, entry.state_source, entry.summary) == ("update", "response", "update (first state known)")
    assert entry.after["spec"]["holderIdentity"].startswith("kind-control-plane_")
    assert entry.client == "kube-scheduler"


def test_a_metadata_level_log_says_no_diff_is_possible(tmp_path):
    lake = Lake(tmp_path / "lake")
    lake.ingest([DATA / "immudb_first_300_lines.log"], cluster="immudb")
    entries = lake.history_entries("leases", "kube-node-lease", "ubuntu-focal", **ALL_TIME)
    assert entries and {entry.state_source for entry in entries} == {"none"}
    assert all("recorded no body" in entry.summary for entry in entries)


@requires_shared
def test_a_gke_pods_status_patches_reach_the_states_khi_expects(tmp_path):
    lake = Lake(tmp_path / "lake")
    lake.ingest([SHARED / "googlecloudplatform-khi" / "derived" / "gke_pod_sequence.jsonl"])
    entries = lake.history_entries("pods", "1-2-deployment-update", "nginx-deployment-surge-8655b4b8c5-xf5f4", include_status=True,
                                   **ALL_TIME)
    assert [(entry.verb, entry.subresource) for entry in entries] == [("create", None), ("patch", "status"), ("patch", "status")]

    def conditions(status: dict) -> dict:  # KHI's hand-made manifests list PodScheduled with no status: compare the others
        return {c["type"]: (c.get("status"), c.get("message")) for c in status.get("conditions", []) if "status" in c}

    def containers(status: dict) -> dict:
        return {c["name"]: (c.get("ready"), sorted(c.get("state", {})), c.get("image")) for c in status.get("containerStatuses", [])}

    for index, entry in enumerate(entries, start=1):
        expected = yaml.safe_load((SHARED / "googlecloudplatform-khi" / "k8s_audit" / f"container_recorder_test_1_{index}_manifest.yaml").read_text())
        assert conditions(entry.after["status"]) == conditions(expected["status"])
        assert containers(entry.after["status"]) == containers(expected["status"])
    assert lake.history_entries("pods", "1-2-deployment-update", "nginx-deployment-surge-8655b4b8c5-xf5f4", **ALL_TIME)[0].summary == "created"


def test_a_secrets_history_shows_which_keys_changed_never_a_value(tmp_path):
    log = tmp_path / "audit.log"
    log.write_bytes(b"\n".join(secret_events()[:2]) + b"\n")
    lake = Lake(tmp_path / "lake")
    lake.ingest([log], cluster="prod")
    entries = lake.history_entries("secrets", "payments", "db", **ALL_TIME)
    assert [entry.summary for entry in entries] == ["created"]  # the second write sets the same password again: no change
    for output in ("json", "markdown", "html"):
        result = runner.invoke(app, ["history", "secrets/payments/db", "--lake", str(lake.path), "--since", "2000-01-01", "--format", output])
        assert result.exit_code == 0 and not [value for value in SECRETS if value in result.stdout]
    changed = json.loads(json.dumps(json.loads(secret_events()[0])))
    changed["auditID"], changed["verb"] = "rotate", "update"
    changed["requestObject"]["data"] = {"password": "bmV3LXBhc3N3b3Jk"}
    changed["responseObject"]["data"] = {"password": "bmV3LXBhc3N3b3Jk"}
    changed["responseObject"].pop("stringData")
    log.write_bytes(log.read_bytes() + json.dumps(changed).encode() + b"\n")
    lake.ingest([log], cluster="prod")
    last = lake.history_entries("secrets", "payments", "db", **ALL_TIME)[-1]
    assert last.summary == "secret key password changed; secret key token removed"
    assert B64_PASSWORD not in json.dumps(last.patch) and TOKEN not in json.dumps(last.patch)


def test_history_formats_from_the_cli(fixture_lake):
    target = ["history", "deployments/payments/api", "--lake", str(fixture_lake.path), "--since", "2000-01-01", "--cluster", "demo"]
    patches = json.loads(runner.invoke(app, [*target, "--format", "json"]).stdout)
    assert patches[0]["summary"] == "created" and all(isinstance(entry["patch"], list) for entry in patches)
    assert any(op["path"].endswith("/image") for entry in patches for op in entry["patch"])
    markdown = runner.invoke(app, [*target, "--format", "markdown"]).stdout
    assert markdown.startswith("# History of deployments/payments/api in cluster demo\n\n") and "```diff" in markdown
    page = runner.invoke(app, [*target, "--format", "html"]).stdout
    assert page.startswith("<!doctype html>") and "<script" not in page and "http" not in page.split("<style>")[0] + page.split("</style>")[1]
    terminal = runner.invoke(app, target)
    assert terminal.exit_code == 0 and "image api:" in terminal.stdout
    missing = runner.invoke(app, ["history", "deployments/payments/nope", "--lake", str(fixture_lake.path)])
    assert missing.exit_code == 2 and missing.stderr.startswith("error: no writes to deployments/payments/nope")


def test_changes_in_a_window_are_grouped_by_object(fixture_lake, truth):
    since, until = DEMO_START.isoformat(), "2100-01-01"
    groups = dict(fixture_lake.changes(since=since, until=until, resource="deployments", cluster="demo"))
    per_object = {key[3]: [entry.summary for entry in entries] for key, entries in groups.items()}
    for name in per_object:
        assert per_object[name] == [change.summary for change in truth.changes if change.name == name]
    result = runner.invoke(app, ["changes", "--lake", str(fixture_lake.path), "--since", since, "--until", until, "--kind", "deployments",
                                 "--format", "json"])
    assert result.exit_code == 0 and {group["name"] for group in json.loads(result.stdout)} == set(per_object)


def test_image_provenance_names_who_introduced_each_image(fixture_lake, truth):
    result = fixture_lake.query("image-provenance", cluster="demo", namespace="payments", **ALL_TIME)
    api = result.filter(result["name"] == "api")
    expected = [change for change in truth.changes if change.name == "api" and (change.summary == "created" or change.summary.startswith("image"))]
    assert api.height == len(expected) and set(api["introduced_by"]) == {"system:serviceaccount:ci:deployer"}
    assert api.sort("first_seen")["introduced_in"].to_list() == [change.audit_id for change in expected]


def test_the_python_api_returns_the_timeline_with_a_patch_per_row(fixture_lake):
    frame = fixture_lake.history("deployments", "payments", "api", cluster="demo", **ALL_TIME)
    assert frame.columns[:3] == ["at", "cluster", "verb"] and "patch" in frame.columns
    assert json.loads(frame["patch"][1])[0]["op"] in ("replace", "add", "remove")
