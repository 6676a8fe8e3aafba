"""The completeness statement (PCI-DSS 10.2.1, 10.2.2): per cluster and UTC day, the requests whose outcome was never
logged, the silences in the stream, and what the audit level could not record, counted on logs whose truth is known."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from auditlake import Lake
from auditlake.cli import app
from tests.conftest import DATA

runner = CliRunner()
ADMIN = {"username": "alice@example.com", "groups": ["system:authenticated"]}


def stages(request: str, at: str, verb: str, resource: str, *names: str, level: str = "Metadata", body: dict | None = None) -> list[dict]:
    """One request's events at `names` stages, all stamped with the time it was received (as the apiserver does)."""
    return [{"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": level, "auditID": request, "stage": stage, "verb": verb,
             "requestURI": f"/api/v1/namespaces/shop/{resource}", "user": ADMIN, "sourceIPs": ["203.0.113.7"],
             "objectRef": {"resource": resource, "namespace": "shop", "apiVersion": "v1"},
             **({"responseStatus": {"code": 200}} if stage in ("ResponseStarted", "ResponseComplete") else {}),
             **({"requestObject": body} if body is not None else {}),
             "requestReceivedTimestamp": f"{at}Z", "stageTimestamp": f"{at}Z"} for stage in names]


RECEIVED, STARTED, COMPLETE = "RequestReceived", "ResponseStarted", "ResponseComplete"
# One day of cluster `shop`, 10:00 → 12:30: a get that never finished, a watch still streaming, a two-hour silence, writes
# and Secret requests at Metadata (no bodies) and one write at Request level (its body kept).
SHOP = [
    *stages("r1", "2026-11-02T10:00:00", "get", "pods", RECEIVED, COMPLETE),
    *stages("r2", "2026-11-02T10:05:00", "get", "configmaps", RECEIVED),  # no final stage: its outcome was never logged
    *stages("r3", "2026-11-02T10:06:00", "watch", "pods", RECEIVED, STARTED),  # a watch still open: it may yet finish
    *stages("r4", "2026-11-02T10:07:00", "watch", "pods", RECEIVED, STARTED, COMPLETE),  # a watch that ended: not open
    # 10:07 → 12:07: two hours without a single event
    *stages("r5", "2026-11-02T12:07:00", "create", "secrets", RECEIVED, COMPLETE),
    *stages("r6", "2026-11-02T12:10:00", "update", "configmaps", RECEIVED, COMPLETE, level="Request", body={"data": {"a": "b"}}),
    # 12:10 → 12:30: twenty minutes
    *stages("r7", "2026-11-02T12:30:00", "get", "secrets", RECEIVED, COMPLETE),
]
# Cluster `quiet`: one event late on 2 November, none on the 3rd, one early on the 4th.
QUIET = [*stages("q1", "2026-11-02T23:00:00", "get", "pods", RECEIVED, COMPLETE),
         *stages("q2", "2026-11-04T01:00:00", "get", "pods", RECEIVED, COMPLETE)]


@pytest.fixture(scope="module")
def hand_lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    root = tmp_path_factory.mktemp("completeness")
    lake = Lake(root / "lake")
    for cluster, events in (("shop", SHOP), ("quiet", QUIET)):
        path = root / f"{cluster}.jsonl"
        path.write_text("".join(json.dumps(event) + "\n" for event in events))
        lake.ingest([path], cluster=cluster)
    return lake


def rows(lake: Lake, **options: object) -> dict[tuple[str, str], dict]:
    return {(row["cluster"], str(row["date"])): row for row in lake.completeness(**options).to_pylist()}  # type: ignore[arg-type]


def test_a_request_without_a_final_stage_is_open_and_a_streaming_watch_is_said_to_be_long_running(hand_lake):
    shop = rows(hand_lake)["shop", "2026-11-02"]
    assert (shop["events"], shop["requests_received"], shop["requests_without_final_stage"], shop["unfinished_long_running"]) == (14, 7, 2, 1)
    assert shop["requests_logged"] == 5  # r2 and r3 have no final event


def test_the_longest_silence_and_the_silences_over_the_threshold(hand_lake):
    shop = rows(hand_lake)["shop", "2026-11-02"]
    assert shop["longest_silence_minutes"] == 120.0 and shop["longest_silence_from"] == datetime(2026, 11, 2, 10, 7, tzinfo=UTC)
    assert shop["silences_over_threshold"] == 2  # two hours and twenty minutes; 5, 1, 1 and 3 minutes are not
    assert rows(hand_lake, threshold="30m")["shop", "2026-11-02"]["silences_over_threshold"] == 1


def test_what_the_audit_level_could_not_record(hand_lake):
    shop = rows(hand_lake)["shop", "2026-11-02"]
    assert (shop["requests_at_metadata"], shop["requests_at_request"], shop["requests_at_request_response"]) == (4, 1, 0)
    assert shop["writes_without_bodies"] == 1  # the Secret created at Metadata; the ConfigMap update kept its body
    assert shop["secret_requests_without_bodies"] == 2


def test_silences_stay_inside_the_clusters_span_and_a_day_without_events_is_one_silence(hand_lake):
    quiet = rows(hand_lake)
    assert [(day, quiet["quiet", day]["events"], quiet["quiet", day]["longest_silence_minutes"], quiet["quiet", day]["silences_over_threshold"])
            for day in ("2026-11-02", "2026-11-03", "2026-11-04")] == [
        ("2026-11-02", 2, 60.0, 1),  # 23:00 → midnight; nothing before its first event counts
        ("2026-11-03", 0, 1440.0, 1),  # the whole day
        ("2026-11-04", 2, 60.0, 1),  # midnight → 01:00; nothing after its last event counts
    ]
    assert rows(hand_lake, cluster="shop").keys() == {("shop", "2026-11-02")}  # shop's span is one day: no silent days after it


def test_a_window_clips_the_silences_and_counts_only_its_requests(hand_lake):
    shop = rows(hand_lake, since="2026-11-02T11:00:00Z", until="2026-11-03", cluster="shop")["shop", "2026-11-02"]
    assert shop["longest_silence_minutes"] == 67.0  # 11:00 (the window's start) → 12:07
    assert (shop["requests_received"], shop["requests_without_final_stage"]) == (3, 0)


def test_the_whole_lake_by_default_is_the_widest_window(hand_lake):
    everything = hand_lake.query("stream-completeness", since="2000-01-01", until="2100-01-01")
    assert hand_lake.completeness().to_pylist() == everything.to_dicts()


def test_status_states_the_completeness_from_the_cli(hand_lake):
    result = runner.invoke(app, ["status", "--lake", str(hand_lake.path), "--completeness", "--format", "json"])
    assert result.exit_code == 0, result.output
    status = json.loads(result.stdout)
    assert status["events"] == 18  # the status itself is unchanged
    shop = next(row for row in status["completeness"] if row["cluster"] == "shop")
    assert (shop["date"], shop["requests_without_final_stage"], shop["longest_silence_minutes"]) == ("2026-11-02", 2, 120.0)

    table = runner.invoke(app, ["status", "--lake", str(hand_lake.path), "--completeness", "--cluster", "shop", "--until", "2026-11-03"],
                          env={"COLUMNS": "250"})
    assert table.exit_code == 0, table.output
    assert "2 of 7 (1)" in table.stdout and "120.0 min from 10:07:00" in table.stdout and "quiet" not in table.stdout.split("per cluster and UTC day")[1]

    plain = runner.invoke(app, ["status", "--lake", str(hand_lake.path), "--format", "json"])
    assert "completeness" not in json.loads(plain.stdout)
    refused = runner.invoke(app, ["status", "--lake", str(hand_lake.path), "--since", "7d"])
    assert refused.exit_code == 2 and "add --completeness" in refused.output


def test_the_pci_dss_report_states_the_completeness_under_10_2_2(hand_lake):
    report = hand_lake.report("pci-dss", since="2026-11-02", until="2026-11-05")
    section = next(section for section in report.sections if section.section.control == "10.2.2")
    check = next(check for check in section.checks if check.check.query == "stream-completeness")
    assert check.table.num_rows == 4 and check.status == "attention" and section.status == "attention"
    assert check.flagged == 4  # shop: silences and an open get; quiet: a silence every day


def test_a_log_that_omits_request_received_cannot_show_open_requests(tmp_path: Path):
    path = tmp_path / "omitted.jsonl"
    path.write_text("".join(json.dumps(event) + "\n" for event in stages("o1", "2026-11-02T10:00:00", "get", "pods", COMPLETE)))
    lake = Lake(tmp_path / "lake")
    lake.ingest([path], cluster="omits")
    (row,) = lake.completeness().to_pylist()
    assert (row["requests_received"], row["requests_without_final_stage"], row["requests_logged"], row["longest_silence_from"]) == (0, 0, 1, None)


def test_the_watches_left_open_at_the_end_of_a_real_log_match_an_independent_count(fixture_lake):
    """The first 300 lines of immudb's log stop mid-stream: the requests cut off there have no final stage."""
    events = [json.loads(line) for line in (DATA / "immudb_first_300_lines.log").read_text().splitlines() if line.strip()]
    seen = {(event["auditID"], event["stage"]) for event in events}
    received = {audit_id for audit_id, stage in seen if stage == RECEIVED}
    open_ = {audit_id for audit_id in received if (audit_id, COMPLETE) not in seen and (audit_id, "Panic") not in seen}
    streaming = {audit_id for audit_id in open_ if (audit_id, STARTED) in seen
                 or next(event["verb"] for event in events if event["auditID"] == audit_id) == "watch"}
    (row,) = fixture_lake.completeness(cluster="immudb").to_pylist()
    assert (row["requests_received"], row["requests_without_final_stage"], row["unfinished_long_running"]) == (len(received), len(open_), len(streaming))
    assert open_ and row["events"] == len(events) and row["silences_over_threshold"] == 0
