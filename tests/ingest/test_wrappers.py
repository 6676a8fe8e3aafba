"""EKS, AKS and GKE exports land in the same columns as plain audit logs, in the cluster they name.

No public repository holds a real EKS CloudWatch export (see ../shared/data/README.md), so the EKS
shapes here are built around real audit Events (the immudb log) exactly as CloudWatch and the AWS CLI
write them; the AKS and GKE cases use the real records of sysdig, Elastic, KHI and Panther.
"""

from __future__ import annotations

import base64
import gzip
import json

import pytest

from auditlake import Lake
from auditlake.ingest.wrappers import unwrap
from auditlake.ingest.wrappers.gke import GRPC_TO_HTTP
from tests.conftest import DATA, SHARED, requires_shared

REAL_EVENTS = [json.loads(line) for line in (DATA / "immudb_first_300_lines.log").read_text().splitlines()[:20]]
COLUMNS = "audit_id, stage, verb, user_name, resource, namespace, name, code, received_at"


def as_lines(lake: Lake, cluster: str) -> list[tuple]:
    return lake.sql(f"SELECT {COLUMNS} FROM events WHERE cluster = $c ORDER BY ALL", {"c": cluster}).rows()


@pytest.fixture(scope="module")
def plain(tmp_path_factory) -> Lake:
    """The same real events as a plain log, the reference every wrapper must reproduce."""
    root = tmp_path_factory.mktemp("plain")
    (root / "audit.log").write_text("".join(json.dumps(event) + "\n" for event in REAL_EVENTS))
    lake = Lake(root / "lake")
    lake.ingest([root / "audit.log"], cluster="reference")
    return lake


def eks_messages() -> list[dict]:
    return [{"id": f"3762{i:04d}", "timestamp": 1678487906000 + i, "message": json.dumps(event)} for i, event in enumerate(REAL_EVENTS)]


@pytest.mark.parametrize(("shape", "document"), [
    ("filter-log-events", {"events": [dict(item, logStreamName="kube-apiserver-audit-f5d6", ingestionTime=1678487907000, eventId=item["id"])
                                      for item in eks_messages()], "searchedLogStreams": [], "logGroupName": "/aws/eks/prod-eu/cluster"}),
    ("subscription", {"messageType": "DATA_MESSAGE", "owner": "123456789012", "logGroup": "/aws/eks/prod-eu/cluster",
                      "logStream": "kube-apiserver-audit-f5d6", "subscriptionFilters": ["to-firehose"], "logEvents": eks_messages()}),
])
def test_eks_exports_give_the_same_rows_as_the_plain_log(tmp_path, plain, shape, document):
    path = tmp_path / f"{shape}.json"
    path.write_text(json.dumps(document, indent=2))
    lake = Lake(tmp_path / "lake")
    result = lake.ingest([path])
    expected_cluster = "prod-eu" if shape == "subscription" or document.get("logGroupName") else "default"
    assert result.clusters == [expected_cluster] and result.quarantined == 0
    assert as_lines(lake, expected_cluster) == as_lines(plain, "reference")


def test_gzipped_subscription_records_one_per_line_as_firehose_writes_them(tmp_path, plain):
    records = [{"messageType": "DATA_MESSAGE", "logGroup": "/aws/eks/prod-eu/cluster", "logStream": "kube-apiserver-audit-1",
                "logEvents": eks_messages()[:10]},
               {"messageType": "CONTROL_MESSAGE", "logGroup": "", "logStream": "", "logEvents": [{"id": "", "timestamp": 0,
                                                                                                  "message": "CWL CONTROL MESSAGE"}]},
               {"messageType": "DATA_MESSAGE", "logGroup": "/aws/eks/prod-eu/cluster", "logStream": "authenticator-abc",
                "logEvents": [{"id": "1", "timestamp": 0, "message": "time=\"2023\" level=info msg=\"access granted\""}]},
               {"messageType": "DATA_MESSAGE", "logGroup": "/aws/eks/prod-eu/cluster", "logStream": "kube-apiserver-audit-2",
                "logEvents": eks_messages()[10:]}]
    path = tmp_path / "firehose-2026-11-27-00-00.gz"
    path.write_bytes(gzip.compress("".join(json.dumps(record) + "\n" for record in records).encode()))
    lake = Lake(tmp_path / "lake")
    result = lake.ingest([path])
    assert as_lines(lake, "prod-eu") == as_lines(plain, "reference")
    assert result.quarantined == 0 and sum(result.skipped_records.values()) == 2


def test_the_iam_identity_behind_kubernetes_admin_stays_queryable(tmp_path):
    event = dict(REAL_EVENTS[1], user={"username": "kubernetes-admin", "uid": "aws-iam-authenticator:123456789012:AROAEXAMPLE",
                                       "groups": ["system:masters", "system:authenticated"],
                                       "extra": {"accessKeyId": ["ASIAEXAMPLE"], "arn": ["arn:aws:sts::123456789012:assumed-role/Admin/jane"],
                                                 "canonicalArn": ["arn:aws:iam::123456789012:role/Admin"], "sessionName": ["jane"]}})
    path = tmp_path / "insights.json"
    path.write_text(json.dumps([{"@timestamp": "2023-03-10 22:38:26.382", "@message": json.dumps(event),
                                 "@logStream": "kube-apiserver-audit-1", "@log": "123456789012:/aws/eks/prod-eu/cluster"}]))
    lake = Lake(tmp_path / "lake")
    lake.ingest([path])
    assert lake.sql("SELECT user_extra->>'$.sessionName[0]' AS s, user_extra->>'$.arn[0]' AS a FROM events").row(0) == (
        "jane", "arn:aws:sts::123456789012:assumed-role/Admin/jane")


def test_aks_records_as_a_document_and_one_per_line_with_string_or_object_logs(tmp_path, plain):
    resource = "/SUBSCRIPTIONS/0000/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/AKS-Prod"
    records = [{"category": "kube-audit-admin" if i % 2 else "kube-audit", "resourceId": resource, "time": event["stageTimestamp"],
                "operationName": "Microsoft.ContainerService/managedClusters/diagnosticLogs/Read",
                "properties": {"log": json.dumps(event) if i % 3 else event, "stream": "stdout", "pod": "kube-apiserver-1"}}
               for i, event in enumerate(REAL_EVENTS)]
    records.append({"category": "kube-apiserver", "resourceId": resource, "properties": {"log": "I1127 10:00:00 klog text"}})
    (tmp_path / "hub.json").write_text(json.dumps({"records": records}, indent=1))
    (tmp_path / "lines.json").write_text("".join(json.dumps(record) + "\n" for record in records))
    for name in ("hub.json", "lines.json"):
        lake = Lake(tmp_path / f"lake-{name}")
        result = lake.ingest([tmp_path / name])
        assert result.clusters == ["aks-prod"] and result.quarantined == 0
        assert result.skipped_records == {"AKS records of category kube-apiserver": 1}
        assert as_lines(lake, "aks-prod") == as_lines(plain, "reference")


def test_a_truncated_aks_value_is_quarantined_with_a_reason(tmp_path):
    record = {"category": "kube-audit", "properties": {"log": json.dumps(REAL_EVENTS[0])[:80]}}
    (tmp_path / "cut.json").write_text(json.dumps(record) + "\n")
    lake = Lake(tmp_path / "lake")
    assert lake.ingest([tmp_path / "cut.json"]).quarantine_reasons == {
        "AKS kube-audit record whose properties.log is not a complete JSON Event": 1}


def test_gke_fields_map_onto_the_event():
    entry = {"insertId": "abc", "timestamp": "2024-01-01T01:00:00.123456789Z", "operation": {"id": "op-1", "first": True, "last": True},
             "labels": {"authorization.k8s.io/decision": "allow", "authorization.k8s.io/reason": "RBAC: allowed"},
             "resource": {"type": "k8s_cluster", "labels": {"cluster_name": "Prod_GKE"}},
             "protoPayload": {"at_sign_type": "type.googleapis.com/google.cloud.audit.AuditLog", "serviceName": "k8s.io",
                              "methodName": "io.k8s.apps.v1.deployments.scale.patch", "status": {"code": 7, "message": "forbidden"},
                              "resourceName": "apps/v1/namespaces/payments/deployments/api/scale",
                              "authenticationInfo": {"principalEmail": "jane@example.com"},
                              "requestMetadata": {"callerIp": "203.0.113.9", "callerSuppliedUserAgent": "kubectl/v1.30.0"},
                              "request": {"at_sign_type": "autoscaling/v1.Scale", "spec": {"replicas": 3}}}}
    unwrapped = unwrap(entry)
    assert unwrapped is not None and unwrapped.cluster == "prod_gke"
    [(_, event)] = unwrapped.events
    assert event["objectRef"] == {"apiGroup": "apps", "apiVersion": "v1", "namespace": "payments", "resource": "deployments", "name": "api",
                                  "subresource": "scale"}
    assert (event["verb"], event["user"]["username"], event["sourceIPs"], event["userAgent"]) == (
        "patch", "jane@example.com", ["203.0.113.9"], "kubectl/v1.30.0")
    assert event["responseStatus"] == {"code": 403, "message": "forbidden"} and event["level"] == "Request"
    assert event["requestObject"]["@type"] == "autoscaling/v1.Scale"  # Panther's at_sign_type, put back
    assert event["requestURI"] == "/apis/apps/v1/namespaces/payments/deployments/api/scale"
    assert event["annotations"]["authorization.k8s.io/decision"] == "allow" and event["auditID"] == "op-1"
    assert GRPC_TO_HTTP[16] == 401 and GRPC_TO_HTTP[5] == 404


def test_gke_from_pubsub_and_bigquery_exports(tmp_path):
    entry = {"insertId": "x1", "timestamp": "2024-01-01T01:00:00Z", "resource": {"labels": {"cluster_name": "gke-1"}},
             "protoPayload": {"serviceName": "k8s.io", "methodName": "io.k8s.core.v1.pods.create", "resourceName": "core/v1/namespaces/a/pods/p",
                              "authenticationInfo": {"principalEmail": "system:serviceaccount:kube-system:replicaset-controller"}}}
    push = {"message": {"data": base64.b64encode(json.dumps(entry).encode()).decode(), "messageId": "1"}, "subscription": "projects/p/subscriptions/s"}
    bigquery = {"insertId": "x2", "timestamp": "2024-01-01 01:00:01 UTC".replace(" UTC", ""), "resource": {"labels": {"cluster_name": "gke-1"}},
                "protopayload_auditlog": dict(entry["protoPayload"], requestJson='{"kind":"Pod","metadata":{"name":"p"}}')}
    (tmp_path / "exports.json").write_text(json.dumps(push) + "\n" + json.dumps(bigquery) + "\n")
    lake = Lake(tmp_path / "lake")
    result = lake.ingest([tmp_path / "exports.json"])
    assert result.clusters == ["gke-1"] and result.events_written == 2
    rows = lake.sql("SELECT audit_id, verb, namespace, name, code, level, request_object->>'$.kind' AS kind FROM events ORDER BY 1").rows()
    assert rows == [("x1", "create", "a", "p", 201, "Metadata", None), ("x2", "create", "a", "p", 201, "Request", "Pod")]


def test_format_restricts_which_wrappers_are_read(tmp_path):
    record = {"messageType": "DATA_MESSAGE", "logGroup": "/aws/eks/prod-eu/cluster", "logStream": "kube-apiserver-audit-1",
              "logEvents": eks_messages()[:3]}
    (tmp_path / "r.json").write_text(json.dumps(record) + "\n")
    assert Lake(tmp_path / "a").ingest([tmp_path / "r.json"], format="eks").events_written == 3
    assert Lake(tmp_path / "b").ingest([tmp_path / "r.json"], format="gke").quarantine_reasons == {"event has no auditID": 1}


def test_an_explicit_cluster_wins_over_the_wrapper(tmp_path):
    record = {"messageType": "DATA_MESSAGE", "logGroup": "/aws/eks/prod-eu/cluster", "logStream": "kube-apiserver-audit-1",
              "logEvents": eks_messages()[:3]}
    (tmp_path / "r.json").write_text(json.dumps(record) + "\n")
    lake = Lake(tmp_path / "lake")
    assert lake.ingest([tmp_path / "r.json"], cluster="renamed").clusters == ["renamed"]


# ---- the real managed-cluster data of ../shared/data ----------------------------------------------
def independent_rows(events: list[dict]) -> list[tuple]:
    rows = []
    for e in events:
        ref = e.get("objectRef") or {}
        rows.append((e["auditID"], e["stage"], e["verb"], e["user"].get("username"), ref.get("resource"), ref.get("namespace"), ref.get("name"),
                     (e.get("responseStatus") or {}).get("code"), e["requestReceivedTimestamp"]))
    return sorted(rows, key=lambda row: tuple("" if value is None else str(value) for value in row))


@requires_shared
def test_the_sysdig_aks_sample_lands_whole_and_equals_its_json(tmp_path):
    path = SHARED / "sysdiglabs-aks-audit-log" / "event.json"
    events = [json.loads(record["properties"]["log"]) for record in json.loads(path.read_text())["records"]]
    lake = Lake(tmp_path / "lake")
    result = lake.ingest([path])
    assert result.clusters == ["kubetest"] and result.events_written == len(events) == 22 and result.quarantined == 0
    levels = dict(lake.sql("SELECT level, count(*) FROM events GROUP BY ALL").rows())
    assert levels == {"Metadata": 12, "Request": 10}  # as the data README counts them
    got = lake.sql(f"SELECT {COLUMNS} FROM events").rows()
    got = sorted(((*row[:-1], row[-1].strftime("%Y-%m-%dT%H:%M:%S.%fZ")) for row in got),
                 key=lambda row: tuple("" if value is None else str(value) for value in row))
    assert got == independent_rows(events)


@requires_shared
def test_elastic_raw_aks_string_and_object_and_gke_samples_all_land(tmp_path):
    lake = Lake(tmp_path / "lake")
    result = lake.ingest([SHARED / "elastic-integrations"])
    lines = sum(len(path.read_text().splitlines()) for path in (SHARED / "elastic-integrations").rglob("*.log"))
    assert result.quarantined == 0 and result.events_written + result.duplicates == lines == 7
    clusters = dict(lake.sql("SELECT cluster, count(*) FROM events GROUP BY ALL").rows())
    assert {"example-cluster", "test-cluster", "default"} <= set(clusters)  # GKE names from resource.labels; raw events default
    hnap = lake.sql("SELECT request_uri, code, user_name, decision FROM events WHERE request_uri = '/HNAP1'").rows()
    assert hnap == [("/HNAP1", 403, "system:anonymous", "forbid")]


def test_khi_gke_pod_history_maps_create_and_status_patches(tmp_path):
    path = DATA / "khi_gke_pod_sequence.jsonl"
    entries = [json.loads(line) for line in path.read_text().splitlines()]
    lake = Lake(tmp_path / "lake")
    lake.ingest([path])
    rows = lake.sql("SELECT verb, subresource, namespace, name, user_name, code, level, cluster FROM events ORDER BY source_line").rows()
    assert [row[:2] for row in rows] == [("create", None), ("patch", "status"), ("patch", "status")]
    assert {row[2:4] for row in rows} == {tuple(entries[0]["protoPayload"]["resourceName"].split("/")[3:6:2])}
    assert rows[0][4] == entries[0]["protoPayload"]["authenticationInfo"]["principalEmail"] and rows[0][5] == 201
    assert rows[0][6] == "RequestResponse" and {row[7] for row in rows} == {"sample-cluster"}


@requires_shared
def test_every_wrapped_panther_event_lands(tmp_path):
    """Panther's AKS records and GKE entries (hand-written: most carry no time, hence --default-time)."""
    events_dir = SHARED / "panther-analysis" / "events"
    kube_audit = k8s_entries = other_service = fragments = other_category = 0
    for path in sorted(events_dir.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            value = json.loads(line)
            payload = value.get("protoPayload")
            if payload is not None:  # a Kubernetes method without a serviceName is still Kubernetes audit
                is_k8s = payload.get("serviceName") == "k8s.io" or (
                    "serviceName" not in payload and str(payload.get("methodName", "")).startswith("io.k8s."))
                k8s_entries += is_k8s
                other_service += not is_k8s
            elif "category" in value:
                kube_audit += value["category"] in ("kube-audit", "kube-audit-admin")
                other_category += value["category"] not in ("kube-audit", "kube-audit-admin")
            elif not any(key in value for key in ("verb", "objectRef", "requestURI", "auditID", "stage", "kind")):
                fragments += 1  # the two "GCP fragments" of the data README: neither an Event nor a wrapper
    lake = Lake(tmp_path / "lake")
    result = lake.ingest([events_dir], default_time="2026-01-01")
    reasons = dict(lake.sql("SELECT reason, count(*) FROM quarantine GROUP BY ALL").rows())
    assert sum(n for reason, n in reasons.items() if reason.startswith("GKE LogEntry of another service")) == other_service > 0
    assert sum(n for reason, n in reasons.items() if not reason.startswith("GKE LogEntry of another service")) == fragments == 2
    assert sum(result.skipped_records.values()) == other_category == 1
    wrapped_rows = lake.sql("SELECT count(*) FROM events WHERE source_file LIKE '%panther%' AND (extra IS NULL "
                            "OR coalesce(extra->>'$.p_log_type', '') <> 'Amazon.EKS.Audit')").item()
    assert kube_audit + k8s_entries > 60
    assert wrapped_rows + result.duplicates >= kube_audit + k8s_entries  # every wrapped event is a row (or a repeat of one)


def test_the_same_saved_query_answers_in_the_same_shape_for_every_kind_of_lake(tmp_path, plain):
    record = {"messageType": "DATA_MESSAGE", "logGroup": "/aws/eks/eks-1/cluster", "logStream": "kube-apiserver-audit-1",
              "logEvents": eks_messages()}
    aks = {"records": [{"category": "kube-audit", "resourceId": "/x/managedClusters/aks-1", "properties": {"log": json.dumps(e)}}
                       for e in REAL_EVENTS]}
    (tmp_path / "eks.json").write_text(json.dumps(record) + "\n")
    (tmp_path / "aks.json").write_text(json.dumps(aks))
    lake = Lake(tmp_path / "lake")
    lake.ingest([tmp_path / "eks.json", tmp_path / "aks.json"])
    shapes = {}
    for name, target in (("eks-1", lake), ("aks-1", lake), ("reference", plain)):
        answer = target.query("top-actors", since="2000-01-01", cluster=name)
        shapes[name] = (answer.schema, answer.drop("cluster").rows())
    assert shapes["eks-1"] == shapes["aks-1"] == shapes["reference"]
