""""Access to audit logs" means access to audit logs: the trail itself, never what is merely named like it.

audit2rbac names its roles and bindings `audit2rbac:bob`; matching `%audit%` turned each of their writes into an
"access to audit logs" (PCI-DSS 10.2.1.3). The trail is the apiserver's log files, the audit policy and webhook
configuration, AuditSinks, and what a cluster names as holding it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from auditlake import Lake
from tests.conftest import DATA, DEMO_START, SHARED, requires_shared

EVERYTHING = {"since": "2000-01-01", "until": "2100-01-01"}
CAROL = {"username": "carol@example.com", "groups": ["oidc:security", "system:authenticated"]}
KUBELET = {"username": "system:node:cp-1", "groups": ["system:nodes", "system:authenticated"]}


def event(number: int, verb: str, uri: str, ref: dict | None = None, user: dict | None = None, code: int = 200) -> dict:
    return {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata", "auditID": f"case-{number}", "stage": "ResponseComplete",
            "requestURI": uri, "verb": verb, "user": user or CAROL, "sourceIPs": ["203.0.113.77"], "responseStatus": {"code": code},
            **({"objectRef": {"apiVersion": "v1", **ref}} if ref else {}),
            "requestReceivedTimestamp": f"2026-11-02T10:00:{number:02d}Z", "stageTimestamp": f"2026-11-02T10:00:{number:02d}Z"}


TRAIL = [  # each is the audit trail, read or changed
    event(1, "get", "/logs/"),
    event(2, "get", "/logs/kube-apiserver-audit.log"),
    event(3, "get", "/api/v1/nodes/cp-1/proxy/logs/kubernetes/audit.log", {"resource": "nodes", "name": "cp-1", "subresource": "proxy"}),
    event(4, "get", "/api/v1/nodes/cp-1/proxy/logs/?query=kube-apiserver", {"resource": "nodes", "name": "cp-1", "subresource": "proxy"}),
    event(5, "get", "/api/v1/nodes/cp-1/proxy/containerLogs/kube-system/kube-apiserver-cp-1/kube-apiserver",
          {"resource": "nodes", "name": "cp-1", "subresource": "proxy"}),
    event(6, "get", "/api/v1/namespaces/kube-system/pods/kube-apiserver-cp-1/log",
          {"resource": "pods", "namespace": "kube-system", "name": "kube-apiserver-cp-1", "subresource": "log"}),
    event(7, "create", "/api/v1/namespaces/kube-system/pods/kube-apiserver-cp-1/exec?command=cat",
          {"resource": "pods", "namespace": "kube-system", "name": "kube-apiserver-cp-1", "subresource": "exec"}, code=101),
    event(8, "update", "/api/v1/namespaces/kube-system/configmaps/audit-policy",
          {"resource": "configmaps", "namespace": "kube-system", "name": "audit-policy"}),
    event(9, "get", "/api/v1/namespaces/kube-system/secrets/audit-webhook-kubeconfig",
          {"resource": "secrets", "namespace": "kube-system", "name": "audit-webhook-kubeconfig"}),
    event(10, "delete", "/apis/auditregistration.k8s.io/v1alpha1/auditsinks/siem",
          {"resource": "auditsinks", "name": "siem", "apiGroup": "auditregistration.k8s.io"}),
    event(11, "patch", "/api/v1/namespaces/logging/configmaps/fluent-bit", {"resource": "configmaps", "namespace": "logging", "name": "fluent-bit"}),
]
NOT_TRAIL = [  # named like it, or near it, but not the trail
    event(21, "create", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
          {"resource": "clusterrolebindings", "name": "audit2rbac:bob", "apiGroup": "rbac.authorization.k8s.io"}, code=201),
    event(22, "delete", "/apis/rbac.authorization.k8s.io/v1/namespaces/ns1/roles/audit2rbac:bob",
          {"resource": "roles", "namespace": "ns1", "name": "audit2rbac:bob", "apiGroup": "rbac.authorization.k8s.io"}),
    event(23, "get", "/api/v1/namespaces/security/configmaps/auditor-contacts",
          {"resource": "configmaps", "namespace": "security", "name": "auditor-contacts"}),
    event(24, "create", "/apis/apps/v1/namespaces/tools/deployments", {"resource": "deployments", "namespace": "tools", "name": "audit-exporter"},
          code=201),
    event(25, "get", "/api/v1/nodes/cp-1/proxy/metrics/cadvisor", {"resource": "nodes", "name": "cp-1", "subresource": "proxy"}),
    event(26, "get", "/api/v1/namespaces/kube-system/pods/coredns-1/log",
          {"resource": "pods", "namespace": "kube-system", "name": "coredns-1", "subresource": "log"}),
    event(27, "get", "/api/v1/namespaces/kube-system/configmaps/audit-policy",  # the kubelet reading what it mounts
          {"resource": "configmaps", "namespace": "kube-system", "name": "audit-policy"}, user=KUBELET),
    event(28, "get", "/logsearch"),
    event(29, "get", "/healthz"),
]


@pytest.fixture(scope="module")
def cases_lake(tmp_path_factory) -> Lake:
    path = tmp_path_factory.mktemp("trail") / "trail.jsonl"
    path.write_text("".join(json.dumps(item) + "\n" for item in TRAIL + NOT_TRAIL))
    lake = Lake(path.parent / "lake")
    lake.ingest([path], cluster="cases")
    return lake


def test_the_audit_trail_is_found_and_nothing_named_like_it(cases_lake):
    found = set(cases_lake.query("audit-log-access", **EVERYTHING, trail_objects="configmaps/logging/fluent-bit")["audit_id"])
    assert found == {item["auditID"] for item in TRAIL}
    without = set(cases_lake.query("audit-log-access", **EVERYTHING)["audit_id"])
    assert without == found - {"case-11"}  # a log shipper's configuration counts once it is named


def test_audit2rbacs_role_bindings_are_not_access_to_audit_logs(fixture_lake, tmp_path):
    """The vendored slice holds 44 writes of cluster roles and bindings named audit2rbac:…; the old rule listed them all."""
    lake = Lake(tmp_path / "lake")
    lake.ingest([DATA / "audit2rbac_cluster_rbac_create_delete.log"], cluster="audit2rbac")
    assert lake.sql("SELECT count(*) FROM events WHERE name ILIKE '%audit%'").item() == 44
    assert lake.query("audit-log-access", **EVERYTHING).height == 0
    assert fixture_lake.query("audit-log-access", **EVERYTHING, cluster="audit2rbac").height == 0


def test_every_simulated_read_of_the_audit_trail_is_found(fixture_lake, demo_truth):
    """The demo's story: carol reads the kube-apiserver pod's log or the audit-policy ConfigMap; nothing else is the trail."""
    rows = fixture_lake.query("audit-log-access", since=DEMO_START, until=datetime(2026, 11, 4, tzinfo=UTC), cluster="demo")
    assert rows.height == demo_truth.stories["audit_log_access"] > 0
    assert set(rows["actor"]) == {"carol@example.com"} and set(rows["actor_kind"]) == {"human"}
    assert set(rows["target"]) <= {"pods/log", "configmaps"} and set(rows["namespace"]) == {"kube-system"}


@requires_shared
def test_pci_dss_on_the_whole_audit2rbac_capture_finds_no_access_to_audit_logs(tmp_path):
    """757 events of a person with kubectl writing RBAC objects named audit2rbac:…: 222 "accesses to audit logs" before."""
    lake = Lake(tmp_path / "lake")
    lake.ingest([SHARED / "audit2rbac" / "commit-501d132a" / "demo.log"], cluster="audit2rbac")
    assert lake.sql("SELECT count(*) FROM events WHERE stage = 'ResponseComplete' AND name ILIKE '%audit%'").item() > 200
    report = lake.report("pci-dss", since="2017-09-11", until="2017-09-12")
    section = next(section for section in report.sections if section.section.control == "10.2.1.3")
    assert [check.table.num_rows for check in section.checks] == [0] and section.status == "pass"
