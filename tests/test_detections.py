"""Detections: each Falco, Sigma and Panther rule as saved SQL fires where upstream says it does, and only there."""

from __future__ import annotations

import ipaddress
import json
import random
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from auditlake import Lake
from auditlake.cli import app
from auditlake.library import detections as detect
from auditlake.library.savedquery import load_library
from tests.conftest import DATA, SHARED, requires_shared

runner = CliRunner()
ALL_TIME = {"since": "2000-01-01", "until": "2100-01-01"}
CASES = yaml.safe_load((DATA / "detection_cases.yaml").read_text())
LIBRARY = load_library()
DETECTIONS = {query.name: query for query in detect.detections(LIBRARY)}


def case_events() -> list[dict]:
    """Every case as a whole Event: the base with the case's top-level keys replaced (null removes one). A rule's
    `tuned` entries are cases for the detection run with their `params` (an upstream's exclusion switched on)."""
    events = []
    for rule, sides in CASES["cases"].items():
        groups = [("", sides)] + [(f"tuned{index}--", tuned) for index, tuned in enumerate(sides.get("tuned", []))]
        for prefix, group in groups:
            for side in ("fires", "quiet"):
                for number, case in enumerate(group.get(side, [])):
                    event = {**CASES["base"], **case, "auditID": f"{rule}--{prefix}{side}--{number}"}
                    events.append({key: value for key, value in event.items() if value is not None})
    return events


@pytest.fixture(scope="module")
def case_lake(tmp_path_factory) -> Lake:
    path = tmp_path_factory.mktemp("cases") / "cases.jsonl"
    path.write_text("".join(json.dumps(event) + "\n" for event in case_events()))
    lake = Lake(path.parent / "lake")
    result = lake.ingest([path], cluster="cases")
    assert result.quarantined == 0 and result.events_written == len(case_events())
    return lake


def test_every_detection_has_cases_and_says_what_it_reproduces():
    """A detection reproduces upstream rules, or is one of ours over the lake's history (`stateful:`, with its own cases in
    tests/test_stateful_detections.py): it must say which, and never both."""
    for name, query in DETECTIONS.items():
        assert bool(query.reproduces) != bool(query.stateful), f"{name} names no upstream rule and is not stateful (or is both)"
        if set(query.reproduces) & {"falco", "sigma"}:
            assert name in CASES["cases"], f"{name} has no positive/negative cases in detection_cases.yaml"
    assert set(CASES["cases"]) <= set(DETECTIONS)


@pytest.mark.parametrize("rule", sorted(CASES["cases"]))
def test_the_detection_fires_on_its_positive_cases_and_not_on_its_negative_ones(case_lake, rule):
    """With default parameters on the rule's own cases; with each `tuned` entry's parameters on that entry's cases."""
    sides = CASES["cases"][rule]
    for prefix, group, params in [("", sides, {})] + [(f"tuned{index}--", tuned, tuned["params"]) for index, tuned in enumerate(sides.get("tuned", []))]:
        fired = set(case_lake.query_arrow(rule, **ALL_TIME, **params).column("audit_id").to_pylist())
        expected = {f"{rule}--{prefix}fires--{number}" for number in range(len(group.get("fires", [])))}
        quiet = {f"{rule}--{prefix}quiet--{number}" for number in range(len(group.get("quiet", [])))}
        assert expected <= fired, f"missed with {params}: {sorted(expected - fired)}"
        assert not quiet & fired, f"fired with {params} on: {sorted(quiet & fired)}"


def test_every_detection_returns_the_same_columns_and_its_own_name_and_severity(case_lake):
    for name, query in DETECTIONS.items():
        table = case_lake.query_arrow(name, **ALL_TIME)
        assert tuple(table.column_names) == detect.FINDING_COLUMNS, name
        assert set(table.column("rule").to_pylist()) <= {name}
        assert set(table.column("severity").to_pylist()) <= {query.severity}


def test_ip_macros_agree_with_pythons_ipaddress(case_lake):
    random.seed(5)
    addresses = [str(ipaddress.IPv4Address(random.getrandbits(32))) for _ in range(5000)]
    for network in map(ipaddress.ip_network, ["0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
                                              "172.16.0.0/12", "192.0.0.0/29", "192.0.0.170/31", "192.0.2.0/24", "192.168.0.0/16",
                                              "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "240.0.0.0/4"]):
        first, last = int(network.network_address), int(network.broadcast_address)
        addresses += [str(ipaddress.IPv4Address(value)) for value in (first - 1, first, last, last + 1) if 0 <= value < 2**32]
    addresses += ["::1", "fe80::1", "fc00::1", "2001:db8::1", "2606:4700::1111", "not-an-ip", "", "1.2.3", "01.2.3.4", "256.1.1.1"]

    def python(text: str) -> tuple[bool | None, bool | None]:
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            return None, None
        return address.is_private, address.is_global

    with case_lake.connect() as connection:
        rows = connection.execute("SELECT ip, ip_is_private(ip), ip_is_global(ip) FROM unnest($ips) AS t(ip)", {"ips": addresses}).fetchall()
    assert [(ip, private, public) for ip, private, public in rows if (private, public) != python(ip)] == []


def test_the_eks_only_rule_runs_on_clusters_the_events_show_to_be_eks(tmp_path):
    def event(number: int, user: dict) -> str:
        return json.dumps({"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata", "auditID": f"id-{number}",
                           "stage": "ResponseComplete", "requestURI": "/version", "verb": "get", "user": user,
                           "sourceIPs": ["203.0.113.9"], "responseStatus": {"code": 200},
                           "annotations": {"authorization.k8s.io/decision": "allow"},
                           "requestReceivedTimestamp": f"2026-11-02T10:00:0{number}Z", "stageTimestamp": f"2026-11-02T10:00:0{number}Z"}) + "\n"
    anonymous = {"username": "system:anonymous", "groups": ["system:unauthenticated"]}
    iam_user = {"username": "kubernetes-admin", "extra": {"arn": ["arn:aws:iam::111122223333:user/admin"]}}
    (tmp_path / "eks.log").write_text(event(1, iam_user) + event(2, anonymous))
    (tmp_path / "onprem.log").write_text(event(3, anonymous))
    lake = Lake(tmp_path / "lake")
    lake.ingest([tmp_path / "eks.log"], cluster="eks")
    lake.ingest([tmp_path / "onprem.log"], cluster="onprem")
    assert lake.query("eks-anonymous-access", **ALL_TIME)["cluster"].to_list() == ["eks"]
    assert sorted(lake.query("eks-anonymous-access", **ALL_TIME, eks_only=False)["cluster"].to_list()) == ["eks", "onprem"]


def test_inert_upstream_rules_fire_once_configured(case_lake):
    assert case_lake.query("disallowed-pod-image", **ALL_TIME, allowed_repositories="nginx").height > 0
    assert case_lake.query("untrusted-node-join", **ALL_TIME, allowed_nodes="ip-10-0-1-10").height == 1


def test_detect_runs_them_all_writes_findings_once_and_fails_on_severity(case_lake):
    first = case_lake.detect(**ALL_TIME, write=True)
    assert first.written == first.findings.num_rows > 0
    assert first.new is not None and first.new.num_rows == first.written  # nothing was kept before
    assert set(first.counts) == {name for name, query in DETECTIONS.items() if query.enabled}  # not those upstream ships disabled
    again = case_lake.detect(**ALL_TIME, write=True)
    assert again.written == 0  # keyed by (rule, audit_id): a rerun adds nothing
    stored = case_lake.sql("SELECT rule, count(*) AS n FROM findings GROUP BY rule")
    assert dict(stored.rows()) == {name: count for name, count in first.counts.items() if count}
    assert case_lake.status().findings == dict(stored.rows())
    high = case_lake.detect(**ALL_TIME, min_severity="high")
    assert {rule.severity for rule in high.rules} <= {"high", "critical"}
    args = ["detect", "--lake", str(case_lake.path), "--since", "2000-01-01", "--until", "2100-01-01"]
    assert runner.invoke(app, [*args, "--fail-on", "high"]).exit_code == 1
    assert runner.invoke(app, [*args, "--rule", "deployment-deleted", "--fail-on", "high"]).exit_code == 0
    output = runner.invoke(app, [*args, "--rule", "port-forward", "--format", "json"]).stdout
    assert [row["audit_id"] for row in json.loads(output)] == ["port-forward--fires--0"]
    assert runner.invoke(app, [*args, "--rule", "no-such-rule"]).exit_code == 2
    scheduled = runner.invoke(app, [*args, "--write", "--new", "--fail-on", "high", "--format", "json"])
    assert scheduled.exit_code == 0 and json.loads(scheduled.stdout) == []  # everything was already kept: no second alert
    assert runner.invoke(app, [*args, "--new"]).exit_code == 2  # --new needs --write
    assert first.window_has_events is True
    nothing = runner.invoke(app, ["detect", "--lake", str(case_lake.path), "--since", "1999-01-01", "--until", "1999-02-01", "--fail-on", "high"])
    assert nothing.exit_code == 0 and "holds no events" in nothing.stderr


def test_a_finding_becomes_seen_only_once_it_was_delivered(tmp_path):
    """An hourly `detect --write --new --fail-on high` whose output fails alerts again on the next run, not never."""
    path = tmp_path / "cases.jsonl"
    path.write_text("".join(json.dumps(event) + "\n" for event in case_events()))
    lake = Lake(tmp_path / "lake")
    lake.ingest([path], cluster="cases")
    args = ["detect", "--lake", str(lake.path), "--since", "2000-01-01", "--until", "2100-01-01", "--write", "--new", "--fail-on", "high",
            "--format", "json"]
    (tmp_path / "a-file").write_text("")  # a missing directory is created now; one that is a file cannot be
    failed = runner.invoke(app, [*args, "-o", str(tmp_path / "a-file" / "alerts.json")])
    assert failed.exit_code == 2 and "cannot write" in failed.output and "Traceback" not in failed.output
    assert lake.sql("SELECT count(*) FROM findings").item() == 0  # not delivered: not seen
    delivered = runner.invoke(app, args)
    assert delivered.exit_code == 1 and len(json.loads(delivered.stdout)) > 0  # the alert comes now
    again = runner.invoke(app, args)
    assert again.exit_code == 0 and json.loads(again.stdout) == []  # and only once


def test_a_rule_upstream_ships_disabled_runs_only_when_named_or_switched_on(case_lake):
    disabled = sorted(name for name, query in DETECTIONS.items() if not query.enabled)
    assert disabled == ["bulk-secret-access", "full-admin-activity"]  # Panther's Enabled: false; Falco's allowed_full_admin_users
    for name in disabled:  # and the audit says so
        assert all("disabled" in entry["upstream"] or "switched off" in entry["upstream"] for entry in DETECTIONS[name].audit.values())
    everything = case_lake.detect(**ALL_TIME)
    assert not set(disabled) & {rule.name for rule in everything.rules}
    named = case_lake.detect(**ALL_TIME, rules=["full-admin-activity"])
    assert [rule.name for rule in named.rules] == ["full-admin-activity"] and named.counts["full-admin-activity"] > 0
    switched = case_lake.detect(**ALL_TIME, params={"full-admin-activity.enabled": True})
    assert "full-admin-activity" in {rule.name for rule in switched.rules}
    assert switched.counts["full-admin-activity"] == named.counts["full-admin-activity"]
    assert len(switched.rules) == len(everything.rules) + 1
    off = case_lake.detect(**ALL_TIME, params={"port-forward.enabled": "false"})  # and an enabled one switched off
    assert "port-forward" not in {rule.name for rule in off.rules} and len(off.rules) == len(everything.rules) - 1
    args = ["detect", "--lake", str(case_lake.path), "--since", "2000-01-01", "--until", "2100-01-01", "--format", "json"]
    cli = runner.invoke(app, [*args, "-p", "full-admin-activity.enabled=true", "--severity", "medium"])
    assert cli.exit_code == 0 and "full-admin-activity" in {row["rule"] for row in json.loads(cli.stdout)}
    default = runner.invoke(app, [*args, "--severity", "medium"])
    assert "full-admin-activity" not in {row["rule"] for row in json.loads(default.stdout)}
    tuning = case_lake.path.parent / "enable.yaml"
    tuning.write_text("bulk-secret-access: {enabled: true, threshold: 1}\n")
    from_file = runner.invoke(app, [*args, "--tuning", str(tuning)])
    assert from_file.exit_code == 0 and "bulk-secret-access" in {row["rule"] for row in json.loads(from_file.stdout)}
    refused = runner.invoke(app, [*args, "-p", "full-admin-activity.enabled=maybe"])
    assert refused.exit_code == 2 and "enabled" in refused.stderr
    listed = {row["rule"]: row["enabled"] for row in json.loads(runner.invoke(app, ["detect", "--list", "--format", "json"]).stdout)}
    assert listed["full-admin-activity"] is False and listed["privileged-pod"] is True and set(listed) == set(DETECTIONS)


def test_every_audit_entry_gives_parameters_the_detection_takes(case_lake):
    """The parameters an audit entry says give exactly one upstream rule are real and well typed: the rule runs with them."""
    for name, query in DETECTIONS.items():
        for entry in query.audit.values():
            if entry["params"]:
                case_lake.query_arrow(name, **ALL_TIME, **entry["params"])  # refuses an unknown parameter or a mistyped value


def test_detect_tunes_one_rule_with_rule_dot_param(case_lake):
    default = case_lake.detect(**ALL_TIME, rules=["disallowed-user"]).findings
    assert default.num_rows > 0
    everyone = sorted(case_lake.sql("SELECT DISTINCT coalesce(user_name, '') AS name FROM events")["name"].to_list())
    tuned = case_lake.detect(**ALL_TIME, rules=["disallowed-user"], params={"disallowed-user.allowed_users": everyone})
    assert tuned.findings.num_rows == 0
    args = ["detect", "--lake", str(case_lake.path), "--since", "2000-01-01", "--until", "2100-01-01", "--rule", "disallowed-user"]
    named = [name for name in everyone if name]  # a comma-separated list cannot hold the empty name of user-less requests
    cli = runner.invoke(app, [*args, "-p", f"disallowed-user.allowed_users={','.join(named)}", "--format", "json"])
    assert cli.exit_code == 0 and all(row["summary"].startswith("(no user)") for row in json.loads(cli.stdout))
    tuning = case_lake.path.parent / "tuning.yaml"
    tuning.write_text(yaml.safe_dump({"disallowed-user": {"allowed_users": everyone}}))
    from_file = runner.invoke(app, [*args, "--tuning", str(tuning), "--format", "json"])
    assert from_file.exit_code == 0 and json.loads(from_file.stdout) == []
    overridden = runner.invoke(app, [*args, "--tuning", str(tuning), "-p", "disallowed-user.allowed_users=admin", "--format", "json"])
    assert len(json.loads(overridden.stdout)) > 0  # -p wins over the file
    for bad, message in (("disalowed-user.allowed_users=x", "did you mean disallowed-user"), ("disallowed-user.nope=x", "has no parameter"),
                         ("allowed_users=x", "RULE.PARAM=VALUE"), ("disallowed-user.since=1d", "--since")):
        refused = runner.invoke(app, [*args, "-p", bad])
        assert refused.exit_code == 2 and message in refused.stderr, bad


def test_detect_summary_is_one_row_per_rule_that_fired_worst_first(case_lake):
    run = case_lake.detect(**ALL_TIME)
    summary = run.by_rule().to_pylist()
    assert {row["rule"]: row["findings"] for row in summary} == {name: count for name, count in run.counts.items() if count}
    ranks = [detect.SEVERITY_RANK[row["severity"]] for row in summary]
    assert ranks == sorted(ranks, reverse=True)
    assert all(row["first"] <= row["last"] and row["actors"] >= 1 for row in summary)
    args = ["detect", "--lake", str(case_lake.path), "--since", "2000-01-01", "--until", "2100-01-01", "--summary", "--format", "json"]
    assert [row["rule"] for row in json.loads(runner.invoke(app, args).stdout)] == [row["rule"] for row in summary]


def test_detect_list_names_the_upstream_rules():
    listed = json.loads(runner.invoke(app, ["detect", "--list", "--format", "json"]).stdout)
    falco = {name for row in listed for name in row["falco"].split("; ") if name}
    assert {"Create Privileged Pod", "Attach/Exec Pod", "K8s Secret Get Successfully", "Ingress Object without TLS Certificate Created"} <= falco


# ---- Panther's own tests ---------------------------------------------------------------------------
PANTHER = SHARED / "panther-analysis"
EXPECTED = json.loads((PANTHER / "expected.json").read_text()) if PANTHER.is_dir() else {"files": {}}
BY_PANTHER_ID = {rule_id: name for name, query in DETECTIONS.items() for rule_id in query.reproduces.get("panther", ())}
# Lines where we deliberately do not do what Panther's test expects, and why.
NOT_AUDIT = "not a Kubernetes audit event: a Deployment Manager entry whose authorization mentions a Kubernetes permission (quarantined)"
DISAGREEMENTS: dict[tuple[str, int], str] = {
    ("gcp_k8s_cron_job_created_or_modified", 1): NOT_AUDIT,
    ("gcp_k8s_cron_job_created_or_modified", 2): NOT_AUDIT,
    ("gcp_k8s_new_daemonset_deployed", 1): NOT_AUDIT,
    ("gcp_k8s_ioc_activity", 1): "a fragment ({operation, p_enrichment}) with no request in it: no event to attach a finding to (quarantined)",
}
# Panther's events are hand-written test cases: many lack an auditID, a time or a stage, and several reuse
# one auditID for different requests (which ingest would rightly keep once). The test therefore gives every
# line a unique id (in the Event, the AKS record's properties.log, or the GKE entry's insertId/operation)
# and lets ingest complete a missing time (`default_time`); no field any rule reads is touched.
FILL_TIME = "2026-01-01T00:00:00Z"


def with_unique_id(value: dict, unique: str) -> dict:
    if isinstance(value.get("protoPayload"), dict):
        value["insertId"] = unique
        if isinstance(value.get("operation"), dict):
            value["operation"]["id"] = unique
    elif isinstance(value.get("properties"), dict) and "log" in value["properties"]:
        log = value["properties"]["log"]
        if isinstance(log, str):
            value["properties"]["log"] = json.dumps({**json.loads(log), "auditID": unique})
        elif isinstance(log, dict):
            log["auditID"] = unique
    elif any(key in value for key in ("verb", "objectRef", "requestURI", "auditID", "stage", "kind", "user")):
        value["auditID"] = unique
    return value


@requires_shared
def test_every_panther_kubernetes_rule_has_a_detection():
    missing = sorted({spec["rule_id"] for spec in EXPECTED["files"].values()} - set(BY_PANTHER_ID))
    assert missing == []


@requires_shared
@pytest.mark.parametrize("events_file", sorted(EXPECTED["files"]))
def test_the_detection_fires_exactly_on_the_lines_panther_expects(tmp_path, events_file):
    spec = EXPECTED["files"][events_file]
    name = BY_PANTHER_ID[spec["rule_id"]]
    stem = Path(events_file).stem
    copy = tmp_path / f"{stem}.jsonl"
    lines = (PANTHER / events_file).read_text().splitlines()
    copy.write_text("".join(json.dumps(with_unique_id(json.loads(line), f"{stem}-{number}")) + "\n"
                            for number, line in enumerate(lines, 1)))
    lake = Lake(tmp_path / "lake")
    lake.ingest([copy], cluster="panther", default_time=FILL_TIME)
    params = {**DETECTIONS[name].audit[spec["rule_id"]]["params"],  # the parameters that give exactly this rule
              **({"threshold": 1} if spec["threshold"] > 1 else {})}  # Panther's tests judge each event on its own
    ids = lake.query_arrow(name, **ALL_TIME, **params).column("audit_id").to_pylist()
    fired = {line for (line,) in lake.sql("SELECT DISTINCT source_line FROM events WHERE list_contains($ids, audit_id)",
                                          {"ids": ids}).rows()}
    disagree = {line for (file, line) in DISAGREEMENTS if file == stem}
    expected = set(spec["fires_on_lines"]) - disagree
    assert fired - disagree == expected, (f"{name}: fires on {sorted(fired)}, Panther expects {sorted(spec['fires_on_lines'])}"
                                          f" (agreed exceptions: {sorted(disagree)})")


# ---- real logs ------------------------------------------------------------------------------------
def final_events(path: Path) -> list[dict]:
    events = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [event for event in events if event.get("stage") in ("ResponseComplete", "Panic")]


@requires_shared
def test_detections_on_real_logs_match_an_independent_reading(tmp_path):
    immudb, audit2rbac = SHARED / "immudb-log-audit" / "k8s.log", SHARED / "audit2rbac" / "commit-501d132a" / "demo.log"
    lake = Lake(tmp_path / "lake")
    lake.ingest([immudb], cluster="immudb")
    lake.ingest([audit2rbac], cluster="audit2rbac")
    run = lake.detect(**ALL_TIME, params={"full-admin-activity.enabled": True})  # Falco ships it switched off
    found: dict[tuple[str, str], set[str]] = {}
    for row in run.findings.select(["cluster", "rule", "audit_id"]).to_pylist():
        found.setdefault((row["cluster"], row["rule"]), set()).add(row["audit_id"])

    def ids(path: Path, keep) -> set[str]:  # noqa: ANN001
        return {event["auditID"] for event in final_events(path) if keep(event)}

    refused = ids(audit2rbac, lambda e: e.get("responseStatus", {}).get("code") in (401, 403))
    assert found[("audit2rbac", "unauthorized-or-unauthenticated")] == refused and len(refused) == 11
    bindings = ids(audit2rbac, lambda e: e.get("objectRef", {}).get("resource") in ("rolebindings", "clusterrolebindings")
                   and e.get("objectRef", {}).get("apiGroup") == "rbac.authorization.k8s.io"
                   and e["verb"] in ("create", "update", "patch", "delete", "deletecollection"))
    assert found[("audit2rbac", "rolebinding-modified")] == bindings and bindings
    admins = ids(immudb, lambda e: e.get("user", {}).get("username") in ("admin", "kubernetes-admin"))
    assert found[("immudb", "full-admin-activity")] == admins and admins
    listed = ids(immudb, lambda e: e.get("objectRef", {}).get("resource") == "secrets" and e["verb"] == "list")
    assert found[("immudb", "secrets-listed")] == listed and listed
    assert ("immudb", "privileged-pod") not in found  # Metadata level: no pod specs, so no pod-spec finding


def test_detections_side_by_side_answer_in_their_order_and_the_first_error_stops_the_run(fixture_lake):
    """Two execute at a time, each on its own cursor: the results come in the rules' order whichever ends first, and a
    failing rule raises its own error (the first in order), as it would one by one."""
    from types import SimpleNamespace

    from auditlake import duck
    from auditlake.errors import QueryError

    def rule(name: str, statement: str) -> SimpleNamespace:
        return SimpleNamespace(name=name, statement=statement, path=Path(f"{name}.sql"))

    slow = "SELECT count(*) AS n FROM range(30000000) a WHERE a.range % 7 = 3"
    rules = [rule("slow", slow), *(rule(f"quick{number}", f"SELECT {number} AS n, current_setting('TimeZone') AS zone") for number in range(5))]
    values = {each.name: {} for each in rules}
    with fixture_lake.connect() as connection:
        results = list(detect.side_by_side(rules, values, lambda: duck.cursor(connection)))
        assert [table.column("n")[0].as_py() for table in results] == [30000000 // 7, 0, 1, 2, 3, 4]
        assert {table.column("zone")[0].as_py() for table in results[1:]} == {"UTC"}
        failing = [rule("fine", "SELECT 1 AS n"), rule("first", "SELECT * FROM no_such_table"), rule("second", "SELECT * FROM nor_this_one"), *rules]
        with pytest.raises(QueryError, match="first failed"):
            list(detect.side_by_side(failing, {each.name: {} for each in failing}, lambda: duck.cursor(connection)))
        assert connection.execute("SELECT 42").fetchall() == [(42,)]  # the connection itself is untouched


def test_no_detection_of_the_window_reads_a_shared_view_before_its_window():
    """A shared view holds the run's window only and shadows the catalog's for every detection of the window: one that
    read such a view before `$since` would find less when shared. Those that look back (`$since - $period`) read the
    lake's `final_requests`, which is shared only through conditions that keep to the window (`prefilter`)."""
    from auditlake.library.shared_window import SHARED_MACROS, SHARED_VIEWS, reads_only_its_window

    shared_names = [name for names in SHARED_VIEWS.values() for name in names] + list(SHARED_MACROS)
    looking_back = [rule for rule in detect.detections(load_library()) if reads_only_its_window(rule) and "$since -" in rule.sql]
    assert looking_back  # forbidden-from-public-ip and others: the check checks something
    assert [rule.name for rule in looking_back if any(name in rule.sql for name in shared_names)] == []


def test_cluster_providers_is_answered_once_only_when_every_call_is_over_the_runs_window(fixture_lake):
    """The shared `cluster_providers` ignores its arguments (it holds the run's window): a rule that asks for another
    window (a baseline before it) keeps the catalog's macro, which answers what it is asked."""
    from types import SimpleNamespace

    from auditlake.library.shared_window import shared_window

    over_the_window = SimpleNamespace(name="a", stateful="", statement="SELECT * FROM cluster_providers($since, $until)")
    over_a_baseline = SimpleNamespace(name="b", stateful="", statement="SELECT * FROM cluster_providers($since - INTERVAL 14 DAY, $since)")
    since, until = datetime.fromisoformat("2026-11-01T00:00:00+00:00"), datetime.fromisoformat("2026-11-05T00:00:00+00:00")
    with fixture_lake.connect() as connection:
        with shared_window(connection, [over_the_window], since=since, until=until, cluster=None) as shared:
            assert "cluster_providers" in shared.made
        with shared_window(connection, [over_the_window, over_a_baseline], since=since, until=until, cluster=None) as shared:
            assert "cluster_providers" not in shared.made


@pytest.mark.parametrize("bounds", [("2026-11-01T00:00:00Z", "2026-11-04T00:00:00Z"), ("2026-11-01T10:15:00Z", "2026-11-03T07:45:00Z"),
                                    ("2026-11-02T10:15:00Z", "2026-11-02T10:45:00Z"), ("2026-11-02T10:15:00Z", "2026-11-02T11:00:00Z"),
                                    ("2026-11-02T10:00:00Z", "2026-11-02T10:00:00.000001Z"), ("2026-11-02T11:00:00Z", "2026-11-02T10:00:00Z")],
                         ids=["whole hours", "cut at both ends", "inside one hour", "to an hour's end", "one microsecond", "empty"])
def test_the_shared_request_groups_answer_any_span_inside_the_run_as_the_lake_does(fixture_lake, bounds):
    """`request_groups` shared for a run holds the run's hours in one table; asked for a span that cuts hours (a baseline
    ending at a `$since` of 10:15), it answers from the table and the lake together exactly what the catalog's macro
    answers from the lake alone."""
    from types import SimpleNamespace

    from auditlake.library.shared_window import shared_window

    since, until = datetime.fromisoformat("2026-11-03T08:30:00+00:00"), datetime.fromisoformat("2026-11-04T00:00:00+00:00")
    readers = [SimpleNamespace(name=name, stateful="first-seen", statement="SELECT * FROM request_groups($since - $baseline, $until)")
               for name in ("a", "b")]
    values = {reader.name: {"baseline": timedelta(days=14)} for reader in readers}
    asked = "SELECT * FROM request_groups(CAST($lo AS TIMESTAMPTZ), CAST($hi AS TIMESTAMPTZ))"
    lo, hi = (datetime.fromisoformat(bound.replace("Z", "+00:00")) for bound in bounds)

    def groups(connection) -> list[str]:  # each group as text, its instants in order (a list's order is not part of the answer)
        rows = connection.sql(asked, params={"lo": lo, "hi": hi}).to_arrow_table().to_pylist()
        return sorted(repr({**row, "times": sorted(row["times"])}) for row in rows)

    with fixture_lake.connect() as connection:
        from_the_lake = groups(connection)
        with shared_window(connection, [], since=since, until=until, cluster=None, values=values, history=readers) as shared:
            assert shared.made == ("request_groups",)
            assert groups(connection) == from_the_lake
    assert from_the_lake or lo >= hi or bounds[0].endswith("10:00:00Z")


def test_request_groups_are_shared_only_when_every_call_stays_inside_the_runs_span(fixture_lake):
    """Asked twice or more in a run (one rule's baseline and window, or two rules), the groups are made once. A call bounded
    by anything but `$since`, `$until` and duration parameters (a literal interval) could reach before the table the run
    makes: the catalog's macro answers it, for every rule."""
    from types import SimpleNamespace

    from auditlake.library.shared_window import shared_window

    since, until = datetime.fromisoformat("2026-11-02T00:00:00+00:00"), datetime.fromisoformat("2026-11-04T00:00:00+00:00")
    bounded = SimpleNamespace(name="a", stateful="first-seen", statement="SELECT * FROM request_groups($since - $baseline, $since)")
    literal = SimpleNamespace(name="b", stateful="first-seen", statement="SELECT * FROM request_groups($since - INTERVAL 30 DAY, $until)")
    values = {"a": {"baseline": timedelta(days=14)}, "b": {"baseline": timedelta(days=14)}}
    with fixture_lake.connect() as connection:
        with shared_window(connection, [], since=since, until=until, cluster=None, values=values, history=[bounded, bounded]) as shared:
            assert "request_groups" in shared.made
        with shared_window(connection, [], since=since, until=until, cluster=None, values=values, history=[bounded, literal]) as shared:
            assert "request_groups" not in shared.made
        with shared_window(connection, [], since=since, until=until, cluster=None, values=values, history=[bounded]) as shared:
            assert "request_groups" not in shared.made  # asked once: made by that call alone
        twice = SimpleNamespace(name="a", stateful="first-seen",
                                statement=bounded.statement + " UNION ALL SELECT * FROM request_groups($since, $until)")
        with shared_window(connection, [], since=since, until=until, cluster=None, values=values, history=[twice]) as shared:
            assert "request_groups" in shared.made


@pytest.mark.parametrize("needles", [["kube-"], ["KUBE-"], ["-"], ["no such namespace"], [""], []],
                         ids=["some", "case-blind", "many", "none", "empty needle", "no needles"])
def test_a_case_blind_search_made_once_per_value_keeps_the_rows_it_kept(fixture_lake, monkeypatch, needles):
    """The shared scan's condition searches each distinct value of a column once (`searched_once_per_value`) and keeps
    exactly the rows the search on every row keeps, NULL columns included (a cluster-scoped request's namespace: an
    empty needle matches everything, even them); the same text in a string is left alone; past `SEARCHED_VALUES_LIMIT` matching values the search stays."""
    import auditlake.library.shared_window as shared

    condition = "(contains_any_of(namespace, $needles) OR user_agent = 'contains_any_of(namespace, $needles)')"
    count = "SELECT count(*) FROM final_requests WHERE in_window(received_at, date, $since, $until) AND ({})"
    in_time = {"since": datetime.fromisoformat("2000-01-01T00:00:00+00:00"), "until": datetime.fromisoformat("2100-01-01T00:00:00+00:00")}
    with fixture_lake.connect() as connection:
        database = connection.execute("SELECT current_database()").fetchall()[0][0]
        every_row = connection.execute(count.format(condition), {**in_time, "needles": needles}).fetchall()[0][0]
        assert (every_row > 0) == (needles not in (["no such namespace"], []))
        assert connection.execute("SELECT count(*) FROM final_requests WHERE namespace IS NULL").fetchall()[0][0] > 0
        matching = connection.execute("SELECT count(DISTINCT namespace) FROM final_requests WHERE contains_any_of(namespace, $needles)",
                                      {"needles": needles}).fetchall()[0][0]
        for limit in (10**6, 0):
            monkeypatch.setattr(shared, "SEARCHED_VALUES_LIMIT", limit)
            given = {**in_time, "cluster": None, "needles": needles}
            once = shared.searched_once_per_value(connection, database, condition, given)
            assert ("list_contains($matching_needles_namespace" in once) == (matching <= limit)
            assert once.endswith("user_agent = 'contains_any_of(namespace, $needles)')")
            code = count.format(once).replace("'contains_any_of(namespace, $needles)'", "''")  # the parameters it uses
            used = {name: value for name, value in given.items() if f"${name}" in code}
            assert connection.execute(count.format(once), used).fetchall()[0][0] == every_row


def test_a_detection_over_history_reaches_back_by_its_durations_or_is_not_shared():
    """How far back a detection over history reads: `$since` less its baseline and every other duration it subtracts; one
    that subtracts anything else (a literal interval) is not bounded, and reads the lake itself."""
    from types import SimpleNamespace

    from auditlake.library.shared_window import history_start

    since = datetime.fromisoformat("2026-11-15T00:00:00+00:00")
    durations = {"baseline": timedelta(days=14), "within": timedelta(hours=1), "threshold": 5}
    sequence = SimpleNamespace(statement="SELECT 1 FROM exec_requests WHERE in_history(received_at, date, $since - $within, $until, $baseline)")
    assert history_start(sequence, durations, since) == since - timedelta(days=14, hours=1)
    literal = SimpleNamespace(statement="SELECT 1 FROM exec_requests WHERE in_history(received_at, date, $since - INTERVAL 2 DAY, $until, $baseline)")
    assert history_start(literal, durations, since) is None
    by_a_count = SimpleNamespace(statement="SELECT 1 FROM exec_requests WHERE in_history(received_at, date, $since - $threshold, $until, $baseline)")
    assert history_start(by_a_count, durations, since) is None
    in_a_comment = SimpleNamespace(statement="-- not $since - 1\nSELECT 1 FROM exec_requests WHERE in_history(received_at, date, $since, $until, $baseline)")
    assert history_start(in_a_comment, durations, since) == since - timedelta(days=14, hours=1)
    assert history_start(in_a_comment, {"within": timedelta(hours=1)}, since) is None  # in_history without a bound baseline


@pytest.mark.parametrize("window", [ALL_TIME, {"since": "2026-11-02T06:00:00Z", "until": "2026-11-03T00:00:00Z", "cluster": "demo"},
                                    {"since": "2026-11-02T06:17:23Z", "until": "2026-11-03T19:42:05Z"}],
                         ids=["all time", "part of a day, one cluster", "bounds inside hours"])
def test_sharing_one_scan_of_the_window_changes_no_finding(fixture_lake, case_lake, window):
    """`detect` materialises the views several detections read, `cluster_providers`, and the final requests the rules'
    own conditions can read, once per run; every finding is the one each rule finds alone."""
    from auditlake.library.binding import bind
    from auditlake.library.shared_window import BOUNDED_TABLE, BOUNDED_VIEW, SHARED_MACROS, SHARED_VIEWS, SPAN_MACROS, reads_only_its_window, shared_window

    from_shared_views = 0
    for lake in (fixture_lake, case_lake):
        params = {"since": window["since"], "until": window["until"], "cluster": window.get("cluster") if lake is fixture_lake else None}
        rules = detect.detections(lake.library.queries)
        with lake.connect() as connection:
            shared = detect.run_detections(connection, rules, **params, share_scans=True)
            alone = detect.run_detections(connection, rules, **params, share_scans=False)
            since, until = (datetime.fromisoformat(params[key].replace("Z", "+00:00")) for key in ("since", "until"))
            in_window = [rule for rule in rules if reads_only_its_window(rule)]
            over_history = [rule for rule in rules if not reads_only_its_window(rule)]
            values = {rule.name: bind(rule, {"since": since, "until": until}) for rule in rules}
            with shared_window(connection, in_window, since=since, until=until, cluster=None, values=values, history=over_history) as made:
                # each is read by several detections: each was materialised
                assert set(made.made) == set(SHARED_VIEWS) | set(SHARED_MACROS) | set(SPAN_MACROS) | {BOUNDED_VIEW}
                bounded = [rule.name for rule in made.rules if BOUNDED_TABLE in rule.sql]
                assert len(bounded) >= 35 and "secret-read" in bounded  # most read their final requests from the shared table
                assert "forbidden-from-public-ip" in bounded  # reaching back by its `$period`: the table begins that much earlier
                # detections over history read the shared views from as far back as they reach (baseline, and `within` before it)
                assert {"first-exec-into-namespace", "privileged-pod-then-exec"} <= {rule.name for rule in made.history}
                # and the history's requests in groups, for a baseline and a window alike (`request_groups`)
                assert {"first-cluster-admin-use", "grant-then-use", "denied-burst-then-allowed", "first-source-network-for-identity",
                        "secrets-listed-then-new-identity"} <= {rule.name for rule in made.history}
                # each cursor the rules execute on (several at a time) sees what the run made, in UTC as the connection
                with made.cursor(connection) as cursor:
                    counted = f"SELECT count(*), current_setting('TimeZone') FROM {BOUNDED_TABLE}"
                    assert cursor.execute(counted).fetchall() == connection.execute(counted).fetchall()
                    assert cursor.execute(counted).fetchall()[0][1] == "UTC"
            # and all of it is gone: the run's database detached, the connection's search path as it was
            assert connection.execute("SELECT count(*) FROM duckdb_databases() WHERE database_name LIKE 'auditlake_run_%'").fetchall() == [(0,)]
            assert connection.execute("SELECT current_setting('search_path')").fetchall() == [("",)]
        assert shared.findings.drop(["found_at"]).equals(alone.findings.drop(["found_at"]))
        assert shared.counts == alone.counts
        from_shared_views += sum(alone.counts[name] for name in ("privileged-pod", "hostpath-mount", "role-with-wildcard", "eks-anonymous-access",
                                                                 "secret-read", "unauthorized-or-unauthenticated"))
    assert from_shared_views > 0 or window is not ALL_TIME  # the shared views had rows to find: the comparison compared something
