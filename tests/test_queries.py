"""The saved-query library: strict loading, time windows, binding, and every question on real logs.

Each question is checked against an independent reading of the files the lake was built from
(plain json, no SQL): the vendored real slices, and the simulated cluster's own log.
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from auditlake.errors import EmptyWindowWarning, QueryError
from auditlake.library import binding
from auditlake.library import savedquery as queries
from auditlake.window import parse_time
from tests.conftest import DATA

EVERYTHING = {"since": "2000-01-01", "until": "2100-01-01"}
LIBRARY = queries.load_library()
SAVED = [query.name for query in queries.saved_queries(LIBRARY)]


# ---- independent readings of the source files -----------------------------------------------------
def read_events(*paths: Path) -> list[dict]:
    events = []
    for path in paths:
        data = path.read_bytes()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        events += [json.loads(line) for line in data.splitlines() if line.strip()]
    return events


@pytest.fixture(scope="module")
def demo_events(fixture_lake) -> list[dict]:
    return read_events(*sorted((fixture_lake.path.parent / "demo-log").iterdir()))


def final(events: list[dict]) -> list[dict]:
    return [event for event in events if event["stage"] == "ResponseComplete"]


def ref(event: dict, key: str) -> str | None:
    return (event.get("objectRef") or {}).get(key)


def actor(event: dict) -> str | None:
    return (event.get("impersonatedUser") or {}).get("username") or event["user"].get("username")


def is_human(name: str | None) -> bool:
    return bool(name) and not name.startswith(("system:", "eks:", "aks"))


def successful_writes(events: list[dict]) -> list[dict]:
    return [e for e in final(events) if e["verb"] in ("create", "update", "patch", "delete", "deletecollection")
            and 200 <= e.get("responseStatus", {}).get("code", 0) < 300 and ref(e, "resource")]


def run(lake, name: str, cluster: str, **params):  # type: ignore[no-untyped-def]
    return lake.query(name, cluster=cluster, **{**EVERYTHING, **params})


# ---- the loader is strict -------------------------------------------------------------------------
def write_query(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / "queries" / "custom" / f"{name}.sql"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


GOOD_HEADER = """/*
title: Pods read
params:
  since: {type: timestamptz}
  until: {type: timestamptz}
needs:
  - {level: Metadata}
*/
"""
GOOD_SQL = "SELECT count(*) FROM events WHERE received_at >= $since AND received_at < $until"


@pytest.mark.parametrize(("text", "message"), [
    (GOOD_HEADER.replace("title:", "severty: high\ntitle:") + GOOD_SQL, "unknown header key 'severty' (did you mean 'severity'?)"),
    (GOOD_HEADER + GOOD_SQL + " AND namespace = $namespace", "$namespace is used but not declared under params"),
    (GOOD_HEADER.replace("params:", "params:\n  cluster: {type: varchar}") + GOOD_SQL,
     "parameter 'cluster' is declared but the SQL never uses $cluster"),
    (GOOD_HEADER + "SELEC count(*) FROM events WHERE $since < $until", "SQL does not parse"),
    (GOOD_HEADER.replace("  until: {type: timestamptz}\n", "") + "SELECT $since", "must declare and use $since and $until"),
    (GOOD_HEADER.replace("title:", "controls: [pci 10.2]\ntitle:") + GOOD_SQL, "is not framework:id"),
    (GOOD_HEADER.replace("{type: timestamptz}", "{type: timestamp}", 1) + GOOD_SQL, "type 'timestamp' is not one of"),
    (GOOD_SQL, "no metadata header"),
    (GOOD_HEADER.replace("needs:\n  - {level: Metadata}\n", "") + GOOD_SQL, "a saved query must say what it needs"),
    (GOOD_HEADER.replace("{level: Metadata}", "{level: Everything}") + GOOD_SQL, "need: level must be one of"),
])
def test_a_broken_file_is_a_one_line_error_naming_it(tmp_path, text, message):
    path = write_query(tmp_path, "pods-read", text)
    with pytest.raises(QueryError) as error:
        queries.load_library([tmp_path / "queries"])
    assert str(error.value).startswith(f"{path}: ") and message in str(error.value)
    assert "\n" not in str(error.value)


def test_names_are_unique_across_the_library(tmp_path):
    write_query(tmp_path, "pods_read", GOOD_HEADER + GOOD_SQL)
    (tmp_path / "queries" / "other").mkdir()
    (tmp_path / "queries" / "other" / "pods-read.sql").write_text(GOOD_HEADER + GOOD_SQL)
    with pytest.raises(QueryError, match="duplicate saved-query name 'pods-read'"):
        queries.load_library([tmp_path / "queries"])


ROOT_DEFAULTS = """params:
  since: {type: timestamptz, help: root since}
  until: {type: timestamptz, help: root until}
offers:
  admin_groups: {type: "varchar[]", default: [system:masters], help: root admins}
  verbose: {type: boolean, default: false, help: root verbose}
"""
FOLDER_DEFAULTS = """offers:
  verbose: {type: boolean, default: true, help: folder verbose}
  include_failed: {type: boolean, default: false, help: folder failed}
needs:
  pods: [{level: Request, resources: [pods], verbs: [create]}]
"""
BARE_HEADER = "/*\ntitle: Pods read\nneeds: [{level: Metadata}]\n*/\n"


def test_folder_defaults_offer_parameters_to_the_queries_that_use_them(tmp_path):
    root = tmp_path / "queries"
    write_query(tmp_path, "plain", BARE_HEADER + GOOD_SQL)
    write_query(tmp_path, "admins", BARE_HEADER + GOOD_SQL + " AND list_has_any(user_groups, $admin_groups) AND $verbose AND $include_failed")
    write_query(tmp_path, "own", BARE_HEADER.replace("needs: [{level: Metadata}]", "needs: [pods]\nparams:\n  limit: {type: integer}\n"
                "  admin_groups: {type: \"varchar[]\", default: [], help: its own}")
                + GOOD_SQL + " AND list_has_any(user_groups, $admin_groups) AND $include_failed LIMIT $limit")
    (root / "_defaults.yaml").write_text(ROOT_DEFAULTS)
    (root / "custom" / "_defaults.yaml").write_text(FOLDER_DEFAULTS)
    library = queries.load_library([root])

    def params(name: str) -> list[tuple[str, object, str]]:
        return [(p.name, p.default, p.help) for p in library[name].params]

    # the root's params go to every query; an offer only to a query whose SQL uses it
    assert [name for name, _, _ in params("plain")] == ["since", "until"]
    # the folder's offer wins over the root's of the same name; the root's offers come before the header's own, the folder's after
    assert params("admins") == [("since", queries.DEFAULT_SINCE, "root since"), ("until", "now", "root until"),
                                ("admin_groups", ["system:masters"], "root admins"), ("verbose", True, "folder verbose"),
                                ("include_failed", False, "folder failed")]
    # a header's own declaration wins (and keeps its place); a named needs set expands to its needs
    assert params("own")[2:] == [("limit", None, ""), ("admin_groups", [], "its own"), ("include_failed", False, "folder failed")]
    assert library["own"].needs == (queries.Need("Request", "", ("pods",), ("create",)),)
    assert library["plain"].needs == (queries.Need("Metadata"),)


@pytest.mark.parametrize(("defaults", "header_needs", "message"), [
    ("offers:\n  verbose: {type: bool}\n", "[{level: Metadata}]", "type 'bool' is not one of"),
    ("offer:\n  verbose: {type: boolean}\n", "[{level: Metadata}]", "unknown key 'offer' in folder defaults (did you mean 'offers'?)"),
    ("needs:\n  pods: [{level: Request}]\n", "[pod]", "need: no set named 'pod' under needs: in _defaults.yaml (did you mean 'pods'?)"),
])
def test_broken_folder_defaults_are_a_one_line_error(tmp_path, defaults, header_needs, message):
    write_query(tmp_path, "pods-read", GOOD_HEADER.replace("[{level: Metadata}]", header_needs).replace("needs:\n  - {level: Metadata}",
                f"needs: {header_needs}") + GOOD_SQL)
    (tmp_path / "queries" / "custom" / "_defaults.yaml").write_text(defaults)
    with pytest.raises(QueryError) as error:
        queries.load_library([tmp_path / "queries"])
    assert message in str(error.value) and "\n" not in str(error.value)


def test_an_engineer_extends_the_library_with_one_file(tmp_path, monkeypatch, fixture_lake):
    write_query(tmp_path, "pods-read", GOOD_HEADER + GOOD_SQL)
    monkeypatch.setenv("AUDITLAKE_QUERY_PATH", str(tmp_path / "queries"))
    assert fixture_lake.query("pods-read", **EVERYTHING).item() == fixture_lake.sql("SELECT count(*) FROM events").item()


def test_the_shipped_library_loads_and_covers_every_topic():
    assert {query.topic for query in queries.saved_queries(LIBRARY)} == {"changes", "access", "compliance", "detections", "operations", "rbac"}
    assert {"changes", "reads", "actors", "sessions"} <= {q.name for q in LIBRARY.values() if q.kind == "view"}
    assert len(SAVED) >= 25
    for query in queries.saved_queries(LIBRARY):
        assert query.controls, f"{query.name} evidences no control"


# ---- times and parameters -------------------------------------------------------------------------
NOW = datetime(2026, 11, 27, 12, 30, tzinfo=UTC)


@pytest.mark.parametrize(("text", "expected"), [
    ("7d", NOW - timedelta(days=7)), ("24h", NOW - timedelta(hours=24)), ("30m", NOW - timedelta(minutes=30)),
    ("2w", NOW - timedelta(weeks=2)), ("now", NOW), ("today", datetime(2026, 11, 27, tzinfo=UTC)),
    ("2026-11-01", datetime(2026, 11, 1, tzinfo=UTC)), ("2026-11-01T10:00:00Z", datetime(2026, 11, 1, 10, tzinfo=UTC)),
    ("2026-11-01T10:00:00+02:00", datetime(2026, 11, 1, 8, tzinfo=UTC)),
])
def test_times_are_relative_or_absolute(text, expected):
    assert parse_time(text, NOW) == expected


def test_binding_types_values_and_refuses_what_is_not_declared():
    query = LIBRARY["top-actors"]
    values = binding.bind(query, {"since": "7d", "limit": "3"}, NOW)
    assert values == {"since": NOW - timedelta(days=7), "until": NOW, "cluster": None, "limit": 3,
                      "admin_groups": ["system:masters", "kubeadm:cluster-admins"],  # the AUDITLAKE_ADMIN_* settings' defaults
                      "admin_users": ["admin", "kubernetes-admin", "kubernetes-admin@kubernetes", "kubernetes-admin@cluster.local", "minikube-user"]}
    with pytest.raises(QueryError, match="top-actors has no parameter 'namespace'"):
        binding.bind(query, {"namespace": "x"}, NOW)
    with pytest.raises(QueryError, match="must be before"):
        binding.bind(query, {"since": "now", "until": "7d"}, NOW)
    with pytest.raises(QueryError, match="'lots' is not a integer"):
        binding.bind(query, {"limit": "lots"}, NOW)


def test_values_are_bound_never_pasted(fixture_lake):
    hostile = "x' OR '1'='1"
    assert fixture_lake.query("user-activity", user=hostile, **EVERYTHING).height == 0
    assert fixture_lake.query("user-activity", user="admin", **EVERYTHING).height > 0


def test_a_namespace_no_event_names_is_refused_with_the_likely_one(fixture_lake):
    with pytest.raises(QueryError, match="no events in namespace 'paymnets'") as refused:
        fixture_lake.query("secret-reads-by-humans", namespace="paymnets", **EVERYTHING)
    assert refused.value.hint == "did you mean payments?"
    with pytest.raises(QueryError, match="'nowhere'"):
        fixture_lake.report("pci-dss", since="2026-11-01", until="2026-11-04", params={"namespaces": "payments,nowhere"})
    assert fixture_lake.query("secret-reads-by-humans", namespace="payments", **EVERYTHING).height > 0


def test_every_query_is_bounded_by_its_window_by_default(fixture_lake):
    """The fixture's data ends on 2026-11-04: a default window (the last 7 days) of today holds none of it."""
    with pytest.warns(EmptyWindowWarning, match="holds no events: this lake holds audit2rbac 2017-09-11"):  # not a silent "none"
        assert fixture_lake.query("top-actors").height == 0  # since 7d ago, until now
    assert fixture_lake.query("top-actors", since="2026-11-02", until="2026-11-03")["first_at"].min() >= datetime(2026, 11, 2, tzinfo=UTC)


@pytest.mark.parametrize("name", SAVED)
def test_every_saved_query_runs_and_its_duckdb_shell_macro_agrees(fixture_lake, name):
    query = LIBRARY[name]
    extra = {parameter.name: "admin" for parameter in query.params if parameter.required}
    result = fixture_lake.query(name, **EVERYTHING, **extra)
    assert result.width > 0
    arguments = ["p_since := '2000-01-01'", "p_until := '2100-01-01'"] + [f"p_{key} := '{value}'" for key, value in extra.items()]
    with fixture_lake.connect() as connection:
        via_macro = connection.execute(f"SELECT count(*) FROM {query.macro_name}({', '.join(arguments)})").fetchone()[0]
    assert via_macro == result.height


# ---- changes ---------------------------------------------------------------------------------------
def test_deployment_changes_are_every_successful_deployment_write(fixture_lake, demo_events):
    expected = {e["auditID"] for e in successful_writes(demo_events)
                if ref(e, "resource") == "deployments" and ref(e, "subresource") != "status"}
    result = run(fixture_lake, "deployment-changes", "demo")
    assert set(result["audit_id"]) == expected and len(expected) > 50
    ci = result.filter(result["actor"] == "system:serviceaccount:ci:deployer")
    assert set(ci["user_agent"]) == {"argocd-application-controller/v2.12.3+6b9cd82 (linux/amd64)", "Helm/3.15.2"}


def test_image_changes_follow_each_workload_from_image_to_image(fixture_lake, demo_events):
    images: dict[tuple[str, str], list[str]] = {}
    for event in successful_writes(demo_events):
        body = event.get("responseObject") or {}
        if ref(event, "resource") == "deployments" and body.get("kind") == "Deployment":
            key = (ref(event, "namespace"), ref(event, "name"))
            image = body["spec"]["template"]["spec"]["containers"][0]["image"]
            if not images.get(key) or images[key][-1] != image:  # writes that kept the image are not image changes
                images.setdefault(key, []).append(image)
    result = run(fixture_lake, "image-changes", "demo").sort(["namespace", "name", "received_at"])
    for (namespace, name), sequence in images.items():
        rows = result.filter((result["namespace"] == namespace) & (result["name"] == name))
        assert rows["new_image"].to_list() == sequence
        assert rows["old_image"].to_list() == [None, *sequence[:-1]]


def test_scale_changes_show_the_replicas_asked_for(fixture_lake, demo_events):
    expected = {e["auditID"]: e["requestObject"]["spec"]["replicas"] for e in successful_writes(demo_events)
                if ref(e, "subresource") == "scale"}
    result = run(fixture_lake, "scale-changes", "demo")
    assert dict(zip(result["audit_id"], result["replicas"], strict=True)) == expected and expected


def test_deletions_list_what_was_deleted_and_by_whom(fixture_lake, demo_events):
    expected = Counter((ref(e, "resource"), actor(e)) for e in successful_writes(demo_events) if e["verb"] == "delete")
    result = run(fixture_lake, "deletions", "demo")
    assert Counter(zip(result["resource"], result["actor"], strict=True)) == expected
    humans_only = run(fixture_lake, "deletions", "demo", include_system=False)
    assert set(humans_only["actor_kind"]) <= {"human", "serviceaccount", "anonymous"}


def test_configmap_changes_show_the_keys_written(fixture_lake, demo_events):
    expected = {e["auditID"]: sorted(e["requestObject"]["data"]) for e in successful_writes(demo_events) if ref(e, "resource") == "configmaps"}
    result = run(fixture_lake, "configmap-changes", "demo")
    assert dict(zip(result["audit_id"], result["keys_set"].to_list(), strict=True)) == expected and expected


def test_namespace_lifecycle(fixture_lake, demo_events):
    expected = [(ref(e, "name"), e["verb"]) for e in successful_writes(demo_events) if ref(e, "resource") == "namespaces"]
    result = run(fixture_lake, "namespace-lifecycle", "demo")
    assert list(zip(result["namespace"], result["verb"], strict=True)) == expected and {v for _, v in expected} == {"create", "delete"}


def test_crd_and_webhook_changes(fixture_lake, demo_events):
    kinds = ("customresourcedefinitions", "mutatingwebhookconfigurations")
    expected = Counter(ref(e, "resource") for e in successful_writes(demo_events) if ref(e, "resource") in kinds)
    result = run(fixture_lake, "crd-and-webhook-changes", "demo")
    assert Counter(result["resource"]) == expected and len(expected) == 2


def test_rbac_changes_mark_cluster_admin_grants(fixture_lake, demo_events):
    changes = [e for e in successful_writes(demo_events) if ref(e, "resource") in ("roles", "clusterroles", "rolebindings", "clusterrolebindings")]
    result = run(fixture_lake, "rbac-changes", "demo")
    assert result.height == len(changes)  # the bindings, and the attack story's wildcard ClusterRole
    # (the least-privilege story creates one Role at Metadata level: a write without a body)
    expected_grants = sum(1 for e in changes if e.get("requestObject", {}).get("roleRef", {}).get("name") == "cluster-admin")
    assert result["grants_cluster_admin"].sum() == expected_grants > 0
    assert set(result.filter(result["grants_cluster_admin"])["resource"]) == {"clusterrolebindings"}


def test_the_khi_lease_update_is_a_change_with_its_bodies(fixture_lake):
    event = json.loads((DATA / "khi_lease_update_request_response.jsonl").read_text())
    row = fixture_lake.sql("SELECT * FROM changes WHERE cluster = 'kind'").to_dicts()
    assert len(row) == 1 and row[0]["audit_id"] == event["auditID"] and row[0]["actor_kind"] == "system"
    assert json.loads(row[0]["response_object"])["metadata"]["resourceVersion"] == "5812"


# ---- access ----------------------------------------------------------------------------------------
def test_secret_reads_by_humans_include_denied_attempts(fixture_lake, demo_events):
    expected = {e["auditID"] for e in final(demo_events)
                if ref(e, "resource") == "secrets" and e["verb"] in ("get", "list", "watch") and is_human(actor(e))}
    result = run(fixture_lake, "secret-reads-by-humans", "demo")
    assert set(result["audit_id"]) == expected
    assert set(result.filter(~result["allowed"])["actor"]) == {"bob@example.com"}  # the simulated 403s
    beta = read_events(DATA / "audit2rbac_impersonation_v1beta1.log")
    alice = [e for e in beta if ref(e, "resource") == "secrets" and actor(e) == "alice"]
    rows = run(fixture_lake, "secret-reads-by-humans", "audit2rbac")
    assert rows.filter(rows["actor"] == "alice").height == len(alice) == 1 and not rows.filter(rows["actor"] == "alice")["allowed"][0]


def test_secret_listing_across_namespaces(fixture_lake):
    immudb = read_events(DATA / "immudb_first_300_lines.log")
    expected = Counter(actor(e) for e in final(immudb) if ref(e, "resource") == "secrets" and e["verb"] in ("list", "watch")
                       and not ref(e, "namespace"))
    result = run(fixture_lake, "secret-listing-across-namespaces", "immudb")
    assert Counter(result["actor"]) == expected


def test_exec_sessions_decode_the_command(fixture_lake, demo_events):
    expected = {}
    for event in demo_events:
        if ref(event, "subresource") == "exec" and event["stage"] == "ResponseComplete":
            query = parse_qs(urlsplit(event["requestURI"]).query)
            expected[event["auditID"]] = " ".join(query["command"])
    result = run(fixture_lake, "exec-sessions", "demo")
    execs = result.filter(result["kind"] == "exec")
    assert dict(zip(execs["audit_id"], execs["command"], strict=True)) == expected and expected
    assert "cat /etc/passwd" in expected.values()
    assert set(result["kind"]) == {"exec", "attach", "portforward"} and result["duration_seconds"].min() > 0


def test_pod_log_reads(fixture_lake, demo_events):
    expected = {e["auditID"] for e in final(demo_events) if ref(e, "subresource") == "log"}
    result = run(fixture_lake, "pod-log-reads", "demo")
    assert set(result["audit_id"]) == expected and result["follow"].any()


def test_impersonation_counts_who_acted_as_whom(fixture_lake):
    beta = read_events(DATA / "audit2rbac_impersonation_v1beta1.log")
    expected = Counter(e["impersonatedUser"]["username"] for e in final(beta) if e.get("impersonatedUser"))
    result = run(fixture_lake, "impersonation", "audit2rbac")
    assert dict(zip(result["impersonated_user"], result["requests"], strict=True)) == expected
    assert expected == {"bob": 29, "system:serviceaccount:ns1:sa1": 5, "alice": 3}  # audit2rbac's README
    assert set(result["impersonator"]) == {"system:admin"}


def test_anonymous_requests_allowed_by_path(fixture_lake, demo_events):
    expected = Counter(e["requestURI"] for e in final(demo_events)
                       if e["user"].get("username") == "system:anonymous" and e["responseStatus"]["code"] < 400)
    result = run(fixture_lake, "anonymous-requests-allowed", "demo")
    assert dict(zip(result["path"], result["requests"], strict=True)) == expected and result["is_health_check"].all()


def test_failed_authentication_by_source_ip(fixture_lake, demo_events):
    expected = Counter(e["sourceIPs"][0] for e in final(demo_events) if e["responseStatus"]["code"] == 401)
    result = run(fixture_lake, "failed-authentication", "demo")
    assert Counter(dict(zip(result["source_ip"], result["failures"], strict=True))) == expected and expected


def test_failed_authorization_by_user(fixture_lake):
    beta = read_events(DATA / "audit2rbac_impersonation_v1beta1.log")
    expected = Counter(actor(e) for e in final(beta) if e["responseStatus"]["code"] == 403)
    result = run(fixture_lake, "failed-authorization", "audit2rbac")
    per_actor = Counter()
    for name, failures in zip(result["actor"], result["failures"], strict=True):
        per_actor[name] += failures
    assert per_actor == expected and sum(expected.values()) == 11


def test_service_account_token_requests(fixture_lake, demo_events):
    expected = Counter((ref(e, "namespace"), ref(e, "name"), actor(e)) for e in successful_writes(demo_events) if ref(e, "subresource") == "token")
    result = run(fixture_lake, "service-account-token-requests", "demo")
    assert Counter(zip(result["namespace"], result["service_account"], result["actor"], strict=True)) == expected and expected
    tokens = [e for e in successful_writes(demo_events) if ref(e, "subresource") == "token"]
    assert set(result["expiration_seconds"]) == {e["requestObject"]["spec"]["expirationSeconds"] for e in tokens} == {3607, 86400, 31536000}
    # kubelets' pod-bound tokens, and the attack stories' day-long and year-long ones


def test_certificate_signing_requests_and_approvals(fixture_lake, demo_events):
    expected = Counter("approval" if ref(e, "subresource") == "approval" else "request"
                       for e in successful_writes(demo_events) if ref(e, "resource") == "certificatesigningrequests")
    result = run(fixture_lake, "certificate-signing-requests", "demo")
    assert Counter(result["action"]) == expected and expected["approval"] == expected["request"] > 0
    # kubelets' serving certificates, and the attack story's client certificate
    assert set(result.filter(result["action"] == "request")["signer"]) == {"kubernetes.io/kubelet-serving", "kubernetes.io/kube-apiserver-client"}


def test_node_proxy_access(fixture_lake, demo_events):
    expected = {e["auditID"] for e in final(demo_events) if ref(e, "subresource") == "proxy"}
    result = run(fixture_lake, "node-proxy-access", "demo")
    assert set(result["audit_id"]) == expected and set(result["actor"]) == {"system:serviceaccount:monitoring:prometheus"}


# ---- operations ------------------------------------------------------------------------------------
def test_user_activity_is_the_users_timeline(fixture_lake):
    immudb = read_events(DATA / "immudb_first_300_lines.log")
    expected = [e["auditID"] for e in sorted(final(immudb), key=lambda e: (e["requestReceivedTimestamp"], e["auditID"]))
                if actor(e) == "admin"]
    result = run(fixture_lake, "user-activity", "immudb", user="admin")
    assert result["audit_id"].to_list() == expected and expected


def test_top_actors_match_a_count_of_the_file(fixture_lake):
    immudb = read_events(DATA / "immudb_first_300_lines.log")
    expected = Counter(actor(e) for e in final(immudb)).most_common(3)
    result = run(fixture_lake, "top-actors", "immudb", limit=3)
    assert list(zip(result["actor"], result["requests"], strict=True)) == expected


def test_noisy_clients_rank_user_agents(fixture_lake):
    immudb = read_events(DATA / "immudb_first_300_lines.log")
    counts = Counter((e.get("userAgent"), e["user"]["username"]) for e in final(immudb))
    result = run(fixture_lake, "noisy-clients", "immudb", limit=1)
    assert (result["user_agent"][0], result["user_name"][0], result["requests"][0]) == (*counts.most_common(1)[0][0], counts.most_common(1)[0][1])


def test_latency_outliers_leave_long_running_requests_out(fixture_lake, demo_events):
    def latency(event: dict) -> float:
        received = datetime.fromisoformat(event["requestReceivedTimestamp"].replace("Z", "+00:00"))
        return (datetime.fromisoformat(event["stageTimestamp"].replace("Z", "+00:00")) - received).total_seconds()

    long_running = ("exec", "attach", "portforward", "proxy")
    expected = {e["auditID"] for e in final(demo_events) if latency(e) > 1 and e["verb"] != "watch"
                and ref(e, "subresource") not in long_running and "follow=true" not in e["requestURI"]}
    result = run(fixture_lake, "latency-outliers", "demo", threshold="1s")
    assert set(result["audit_id"]) == expected


def test_coverage_gaps_find_the_silences(fixture_lake):
    beta = read_events(DATA / "audit2rbac_impersonation_v1beta1.log")
    minutes = sorted({datetime.fromisoformat(e["timestamp"].replace("Z", "+00:00")).replace(second=0) for e in beta})
    expected = [(a + timedelta(minutes=1), b) for a, b in zip(minutes, minutes[1:], strict=False) if b - (a + timedelta(minutes=1)) > timedelta(minutes=5)]
    since, until = minutes[0], minutes[-1] + timedelta(minutes=1)
    result = fixture_lake.query("coverage-gaps", cluster="audit2rbac", since=since, until=until, threshold="5m")
    assert list(zip(result["gap_start"], result["gap_end"], strict=True)) == expected and expected
    widened = fixture_lake.query("coverage-gaps", cluster="audit2rbac", since=since - timedelta(hours=1), until=until, threshold="5m")
    assert widened.equals(result)  # the cluster logged nothing before its first event, ever: that hour is not a silence


def test_volume_per_day_and_level(fixture_lake, demo_events):
    expected = Counter((e["requestReceivedTimestamp"][:10], e["level"]) for e in demo_events)
    result = run(fixture_lake, "volume-per-day", "demo")
    got = {(str(day), level): events for day, level, events in zip(result["date"], result["level"], result["events"], strict=True)}
    assert got == dict(expected)
