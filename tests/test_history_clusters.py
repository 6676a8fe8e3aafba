"""History never mixes clusters, and runs of bodiless writes read as one line (issue 14, items 2 and 10).

`kube-system/kube-scheduler` exists in every cluster. The lake here holds that Lease in two clusters:
`east` has the immudb log's 74 Metadata-level renewals (no body) and the KHI RequestResponse update;
`west` has the same KHI update. Each cluster then hands the lease over to a new holder (a copy of the
KHI event with another holder, later: the only derived events, built below), so a diff that crossed
clusters would show one cluster's holder in the other's timeline. Both clusters also hold the same two
Metadata-level writes to an EndpointSlice (for `changes`, which leaves leases out as noise).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from auditlake import Lake
from auditlake.cli import app
from auditlake.history import BodilessRun, build_timeline, by_cluster, collapse_runs
from tests.conftest import DATA, SHARED, requires_shared

runner = CliRunner()
ALL_TIME = ["--since", "2000-01-01", "--until", "2100-01-01"]
LEASE = ("leases", "kube-system", "kube-scheduler")
TARGET = "leases/kube-system/kube-scheduler"
KHI = json.loads((DATA / "khi_lease_update_request_response.jsonl").read_text())
KHI_AT = datetime.fromisoformat(KHI["requestReceivedTimestamp"])
KHI_HOLDER = KHI["responseObject"]["spec"]["holderIdentity"]
HANDOVER = {"east": (30, "kind-control-plane_east-2"), "west": (10, "kind-control-plane_west-2")}  # seconds after KHI_AT, new holder


def _handover(seconds: int, holder: str) -> dict[str, Any]:
    """The KHI update `seconds` later, by a new leader: the lease changes hands (a copy, not in any log)."""
    event = json.loads(json.dumps(KHI))
    at = (KHI_AT + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    event["auditID"] = f"handover-{holder}"
    event["requestReceivedTimestamp"] = event["stageTimestamp"] = at
    for body in (event["requestObject"], event["responseObject"]):
        body["spec"].update(holderIdentity=holder, acquireTime=at, renewTime=at, leaseTransitions=1)
    return event


@pytest.fixture(scope="module")
def two_clusters(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    root = tmp_path_factory.mktemp("two-clusters")
    lake = Lake(root / "lake")
    for cluster, (seconds, holder) in HANDOVER.items():
        handover = root / f"{cluster}-handover.jsonl"
        handover.write_text(json.dumps(_handover(seconds, holder)) + "\n")
        logs = [DATA / "immudb_endpointslice_updates.log", DATA / "khi_lease_update_request_response.jsonl", handover]
        lake.ingest(([DATA / "immudb_kube_scheduler_lease_updates.log"] if cluster == "east" else []) + logs, cluster=cluster)
    return lake


@pytest.fixture(scope="module")
def history_outputs(two_clusters: Lake) -> dict[str, str]:
    """`auditlake history` of the Lease in every format, without --cluster (and markdown with `--cluster west`)."""
    outputs = {output: _history(two_clusters, "--format", output) for output in ("terminal", "markdown", "html", "json")}
    return {**outputs, "markdown west": _history(two_clusters, "--format", "markdown", "--cluster", "west")}


def _holders(entry: Any) -> set[str]:
    return {state["spec"]["holderIdentity"] for state in (entry.before, entry.after) if state and "spec" in state}


def test_each_cluster_has_its_own_timeline_and_no_diff_crosses_clusters(two_clusters):
    entries = two_clusters.history_entries(*LEASE, since="2000-01-01", until="2100-01-01")
    timelines = dict(by_cluster(entries))
    assert list(timelines) == ["east", "west"] and len(entries) == sum(len(timeline) for timeline in timelines.values())
    for cluster, timeline in timelines.items():
        bodied = [entry for entry in timeline if entry.state_source == "response"]
        assert [entry.summary for entry in bodied] == [
            "update (first state known)", "changed spec.acquireTime, spec.holderIdentity, spec.leaseTransitions, spec.renewTime"]
        assert bodied[1].before == bodied[0].after  # the handover is diffed against this cluster's own state before it
        assert set().union(*map(_holders, timeline)) == {KHI_HOLDER, HANDOVER[cluster][1]}  # never the other cluster's holder
        assert [entry.at for entry in timeline] == sorted(entry.at for entry in timeline)
    assert [entry.state_source for entry in timelines["east"]] == ["none"] * 74 + ["response"] * 2


def test_a_window_diffs_each_clusters_first_change_against_that_clusters_last_state(two_clusters):
    # west's last whole state (its handover, 10 s after KHI) is later than east's (KHI): reading from the
    # latest of the two would lose east's state, reading one timeline would diff east against west's holder.
    since = (KHI_AT + timedelta(seconds=20)).isoformat()
    [entry] = two_clusters.history_entries(*LEASE, since=since, until="2100-01-01")
    assert entry.cluster == "east" and entry.audit_id == "handover-kind-control-plane_east-2"
    assert entry.before["spec"]["holderIdentity"] == KHI_HOLDER and "spec.holderIdentity" in entry.summary


def test_interleaved_rows_of_two_clusters_keep_one_state_each():
    def row(cluster: str, verb: str, at: int, replicas: int, level: str = "RequestResponse") -> dict[str, Any]:
        state = {"kind": "Deployment", "metadata": {"name": "api"}, "spec": {"replicas": replicas}}
        return {"received_at": datetime(2026, 1, 1, 0, at), "cluster": cluster, "verb": verb, "actor": "a", "actor_kind": "human",
                "audit_id": f"{cluster}-{at}", "level": level, "user_agent": "kubectl/v1.31",
                "response_object": json.dumps(state) if level == "RequestResponse" else None,
                "request_object": json.dumps({"spec": {"replicas": replicas}}) if level == "Request" else None}

    rows = [row("b", "create", 1, 5), row("a", "create", 2, 1), row("b", "patch", 3, 6, "Request"), row("a", "patch", 4, 2, "Request")]
    entries = build_timeline(rows)
    assert [(entry.cluster, entry.summary) for entry in entries] == [
        ("a", "created"), ("a", "replicas 1 → 2"), ("b", "created"), ("b", "replicas 5 → 6")]
    assert [(entry.cluster, entry.summary) for entry in build_timeline(rows, since=datetime(2026, 1, 1, 0, 3))] == [
        ("a", "replicas 1 → 2"), ("b", "replicas 5 → 6")]


def _history(lake: Lake, *options: str) -> str:
    result = runner.invoke(app, ["history", TARGET, "--lake", str(lake.path), *ALL_TIME, *options])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_every_history_format_names_the_cluster_of_each_timeline(history_outputs):
    titles = [f"History of {TARGET} in cluster {cluster}" for cluster in ("east", "west")]
    markdown = history_outputs["markdown"]
    assert [line for line in markdown.splitlines() if line.startswith("# ")] == [f"# {title}" for title in titles]
    east, west = markdown.split(f"# {titles[1]}")
    assert "76 change(s)." in east and "2 change(s)." in west and HANDOVER["east"][1] not in west and HANDOVER["west"][1] not in east
    page = history_outputs["html"]
    assert [f"<h1>{title}</h1>" in page for title in titles] == [True, True] and page.count("<section>") == 2
    terminal = history_outputs["terminal"]
    assert [title in terminal for title in titles] == [True, True] and terminal.index(titles[0]) < terminal.index(titles[1])
    rows = json.loads(history_outputs["json"])
    assert [row["cluster"] for row in rows] == ["east"] * 76 + ["west"] * 2
    assert history_outputs["markdown west"].startswith(f"# {titles[1]}\n\n2 change(s).") and "east" not in history_outputs["markdown west"]


def test_a_run_of_bodiless_writes_is_one_line_for_people_and_every_entry_for_machines(two_clusters, history_outputs):
    heading = "2023-03-10 22:39:34 → 22:41:59 UTC — 74 × update, no body"
    who = "update  by system:kube-scheduler via kubelite from 127.0.0.1  (the audit level, Metadata, recorded no body"
    markdown = history_outputs["markdown"]
    assert markdown.count("\n## ") == 3 + 2 and markdown.count(heading) == 1  # east: the run and two updates; west: two updates
    assert f"## {heading}\n\n2023-03-10 22:39:34 → 22:41:59 UTC  {who}" in markdown
    page = history_outputs["html"]
    assert page.count("<h2>") == 3 + 2 and page.count("74 × update, no body") == 1 and who in page
    terminal = history_outputs["terminal"]
    assert terminal.count("74 × update, no body") == 1 and "2023-03-10 22:39:34 → 22:41:59 UTC" in terminal
    assert "recorded no body, so no diff is possible" in " ".join(terminal.split())
    rows = json.loads(history_outputs["json"])
    assert len({row["audit_id"] for row in rows if row["state_source"] == "none"}) == 74  # machines get every write
    assert two_clusters.history(*LEASE, cluster="east", since="2000-01-01", until="2100-01-01").height == 76
    [run, *rest] = collapse_runs(two_clusters.history_entries(*LEASE, cluster="east", since="2000-01-01", until="2100-01-01"))
    assert isinstance(run, BodilessRun) and len(run.entries) == 74 and run.actors == ["system:kube-scheduler"]
    assert len(rest) == 2 and not any(isinstance(item, BodilessRun) for item in rest)


def test_changes_name_the_cluster_and_collapse_a_run(two_clusters):
    window = ["changes", "--lake", str(two_clusters.path), *ALL_TIME]
    groups = json.loads(runner.invoke(app, [*window, "--format", "json"]).stdout)
    assert [(group["cluster"], len(group["changes"])) for group in groups] == [("east", 2), ("west", 2)]
    assert {change["cluster"] for group in groups for change in group["changes"]} == {"east", "west"}
    markdown = runner.invoke(app, [*window, "--format", "markdown"]).stdout
    item = "- 2023-03-10 22:39 → 22:39 UTC — 2 × update, no body — system:serviceaccount:kube-system:endpointslice-controller via kubelite"
    for cluster in ("east", "west"):
        assert f"## endpointslices/tc1/tc1-queue-d994m (cluster {cluster})\n\n{item}\n" in markdown
    table = runner.invoke(app, window)
    assert table.exit_code == 0 and "cluster" in table.stdout and "east" in table.stdout and "west" in table.stdout
    assert table.stdout.count("no body") == 2 and "4 change(s) to 2 object(s)" in table.stderr


@requires_shared
def test_the_issues_two_cluster_lake_prints_one_timeline_per_cluster(tmp_path: Path):
    lake = Lake(tmp_path / "lake")
    lake.ingest([SHARED / "immudb-log-audit" / "k8s.log"], cluster="microk8s")
    lake.ingest([SHARED / "googlecloudplatform-khi" / "derived" / "oss_lease_update.jsonl"], cluster="kind")
    markdown = _history(lake, "--format", "markdown")
    assert [line for line in markdown.splitlines() if line.startswith("# ")] == [
        f"# History of {TARGET} in cluster kind", f"# History of {TARGET} in cluster microk8s"]
    assert "## 2023-03-10 22:39:34 → 22:41:59 UTC — 74 × update, no body" in markdown
    assert "## 2025-04-01 13:33:59 UTC — update (first state known)" in markdown
