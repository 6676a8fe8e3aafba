"""Least privilege from the record: the RBAC a subject needs (audit2rbac's output for its own demo log) and the grants it never used.

`suggest` is checked on audit2rbac's demo.log (tests/data/audit2rbac_impersonation_v1_relabelled.log, byte for byte
../shared/data/audit2rbac/demo.log) against the output audit2rbac's README documents; `unused` on the simulated
cluster, whose least-privilege story (auditlake.demo.EXPORTER_RULES) grants the reporting exporter more than it uses,
binds it to `view` (never logged) and to a Role created at Metadata level (no body).
"""

from __future__ import annotations

import csv
import doctest
import io
import json
import re
import shutil
from datetime import UTC, datetime

import pytest
import yaml
from typer.testing import CliRunner

from auditlake import Lake
from auditlake.cli import app
from auditlake.demo import EXPORTER, EXPORTER_ROLE, EXPORTER_RULES
from auditlake.errors import QueryError
from auditlake.rbac import Request, Rule, Subject, authorizes, describe, is_sensitive
from auditlake.rbac.generator import compact_rules
from auditlake.rbac.grants import compare, grants, rbac_state
from tests.conftest import DATA, DEMO_START, REPO, SHARED

DEMO_LOG = DATA / "audit2rbac_impersonation_v1_relabelled.log"
EVER = {"since": "2017-01-01", "until": "2018-01-01"}
SIMULATED = {"since": DEMO_START, "until": datetime(2026, 11, 5, tzinfo=UTC)}
EXPORTER_USER = f"system:serviceaccount:{EXPORTER[0]}:{EXPORTER[1]}"
# audit2rbac's README, "Inspect the output": `audit2rbac -f demo.log --user alice` (its labels and names are audit2rbac's own).
AUDIT2RBAC_README_ALICE = """\
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  labels:
    audit2rbac.liggitt.net/generated: "true"
    audit2rbac.liggitt.net/user: alice
  name: audit2rbac:alice
  namespace: ns1
rules:
- apiGroups:
  - ""
  resources:
  - configmaps
  - pods
  - secrets
  verbs:
  - get
  - list
  - watch
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  labels:
    audit2rbac.liggitt.net/generated: "true"
    audit2rbac.liggitt.net/user: alice
  name: audit2rbac:alice
  namespace: ns1
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: audit2rbac:alice
subjects:
- apiGroup: rbac.authorization.k8s.io
  kind: User
  name: alice
"""
runner = CliRunner()


@pytest.fixture(scope="module")
def demo_log_lake(tmp_path_factory) -> Lake:  # type: ignore[no-untyped-def]
    lake = Lake(tmp_path_factory.mktemp("a2r") / "lake")
    lake.ingest([DEMO_LOG], cluster="audit2rbac")
    return lake


@pytest.fixture(scope="module")
def simulated_lake(tmp_path_factory) -> Lake:  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("simulated")
    lake = Lake(root / "lake")
    lake.demo(root / "log", requests=3_000, seed=5, start=DEMO_START)
    return lake


def documents(text: str) -> list[dict]:  # type: ignore[type-arg]
    return [doc for doc in yaml.safe_load_all(text) if doc is not None]


def without_metadata_names(doc: dict) -> dict:  # type: ignore[type-arg]
    """An object as audit2rbac and auditlake both write it, but for the names and labels each gives its own objects."""
    doc = json.loads(json.dumps(doc))
    doc["metadata"] = {key: value for key, value in doc["metadata"].items() if key not in ("name", "labels")}
    if "roleRef" in doc:
        doc["roleRef"].pop("name")
    return doc


def assert_valid_rbac(docs: list[dict]) -> None:  # type: ignore[type-arg]
    """The shape `kubectl apply --dry-run=client` checks: kinds, names, namespaces, rules, a binding per role, valid subjects."""
    roles = {(doc["kind"], doc["metadata"].get("namespace"), doc["metadata"]["name"]) for doc in docs if doc["kind"] in ("Role", "ClusterRole")}
    for doc in docs:
        assert doc["apiVersion"] == "rbac.authorization.k8s.io/v1" and doc["kind"] in ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")
        assert doc["metadata"]["name"] and ("namespace" in doc["metadata"]) == (doc["kind"] in ("Role", "RoleBinding"))
        assert all(len(value) <= 63 for value in doc["metadata"]["labels"].values())
        if doc["kind"] in ("Role", "ClusterRole"):
            assert doc["rules"], doc
            for rule in doc["rules"]:
                assert rule["verbs"] and set(rule) <= {"apiGroups", "resources", "resourceNames", "nonResourceURLs", "verbs"}
                assert ("resources" in rule) == ("apiGroups" in rule) and ("resources" in rule) != ("nonResourceURLs" in rule)
                assert "nonResourceURLs" not in rule or doc["kind"] == "ClusterRole"
        else:
            ref = doc["roleRef"]
            assert ref["apiGroup"] == "rbac.authorization.k8s.io"
            assert (ref["kind"], doc["metadata"].get("namespace") if ref["kind"] == "Role" else None, ref["name"]) in roles
            for subject in doc["subjects"]:
                assert subject["kind"] in ("User", "Group", "ServiceAccount") and subject["name"]
                assert ("namespace" in subject) == (subject["kind"] == "ServiceAccount")
                assert ("apiGroup" in subject) == (subject["kind"] != "ServiceAccount")


def test_the_examples_in_the_rbac_docstrings_hold():
    from auditlake.rbac import generator, model

    assert doctest.testmod(model).failed == 0 and doctest.testmod(generator).failed == 0


# ---- the RBAC authorizer's match ------------------------------------------------------------------
@pytest.mark.parametrize(("rule", "request_", "allowed"), [
    (Rule.of([""], ["pods"], ["get"]), Request("get", resource="pods", namespace="a", name="x"), True),
    (Rule.of([""], ["pods"], ["get"]), Request("get", resource="pods", subresource="exec", name="x"), False),  # a subresource is its own
    (Rule.of([""], ["pods/exec"], ["create"]), Request("create", resource="pods", subresource="exec", name="x"), True),
    (Rule.of(["apps"], ["*/scale"], ["update"]), Request("update", "apps", "deployments", "scale", "a", "web"), True),
    (Rule.of(["apps"], ["deployments"], ["get"]), Request("get", "", "deployments"), False),  # another API group
    (Rule.of(["*"], ["*"], ["*"]), Request("delete", "batch", "jobs", namespace="a", name="x"), True),
    (Rule.of([""], ["secrets"], ["get"], ["db"]), Request("get", resource="secrets", name="db"), True),
    (Rule.of([""], ["secrets"], ["get"], ["db"]), Request("list", resource="secrets"), False),
    (Rule.of([""], ["secrets"], ["get", "list"], ["db"]), Request("list", resource="secrets"), False),  # a list names no object
    (Rule.of(verbs=["get"], non_resource_urls=["/healthz/*"]), Request("get", path="/healthz/etcd"), True),
    (Rule.of(verbs=["get"], non_resource_urls=["/healthz"]), Request("get", path="/healthz/etcd"), False),
    (Rule.of([""], ["pods"], ["get"]), Request("get", path="/api"), False),  # a resource rule never allows a URL
])
def test_a_rule_authorises_exactly_what_the_apiserver_would(rule, request_, allowed):
    assert authorizes(rule, request_) is allowed


def test_sensitive_grants_are_secrets_exec_node_proxy_impersonation_escalation_and_wildcards():
    sensitive = [Rule.of([""], ["secrets"], ["get"]), Rule.of([""], ["pods/exec"], ["create"]), Rule.of([""], ["nodes/proxy"], ["get"]),
                 Rule.of([""], ["users"], ["impersonate"]), Rule.of(["rbac.authorization.k8s.io"], ["clusterroles"], ["escalate"]),
                 Rule.of(["rbac.authorization.k8s.io"], ["rolebindings"], ["bind"]), Rule.of([""], ["configmaps"], ["*"]),
                 Rule.of(["*"], ["pods"], ["get"])]
    assert all(is_sensitive(rule) for rule in sensitive)
    assert not any(is_sensitive(rule) for rule in (Rule.of([""], ["configmaps", "pods"], ["get", "list", "watch"]),
                                                    Rule.of(verbs=["get"], non_resource_urls=["/metrics"])))


def test_rules_are_compacted_as_audit2rbac_compacts_them():
    rules = [Rule.of([""], ["pods"], ["list", "get", "watch"]), Rule.of([""], ["secrets"], ["get", "list", "watch"]),
             Rule.of([""], ["configmaps"], ["get"], ["a"]), Rule.of([""], ["configmaps"], ["get"], ["b"]),
             Rule.of(["apps"], ["deployments"], ["get"]), Rule.of([""], ["pods"], ["get"])]
    assert [describe(rule) for rule in compact_rules(rules)] == [
        "get configmaps [a,b]", "get,list,watch pods,secrets", "get apps/deployments"]


# ---- suggest: audit2rbac's demo log ---------------------------------------------------------------
def test_suggest_for_alice_is_the_role_audit2rbacs_readme_documents(demo_log_lake):
    suggestion = demo_log_lake.rbac_suggest(user="alice", **EVER)
    docs = documents(suggestion.yaml)
    assert_valid_rbac(docs)
    assert [without_metadata_names(doc) for doc in docs] == [without_metadata_names(doc) for doc in documents(AUDIT2RBAC_README_ALICE)]
    assert docs[0]["metadata"]["name"] == docs[1]["roleRef"]["name"] == "auditlake:alice"
    assert docs[0]["metadata"]["labels"] == {"auditlake/generated": "true", "auditlake/subject": "alice"}
    # the log holds only alice's three denied lists: the output says which requests the rule covers
    assert suggestion.requests == suggestion.denied == 3
    assert ("#   rule 1 (get,list,watch configmaps,pods,secrets) covers: list configmaps in ns1 ×1 (denied ×1); "
            "list pods in ns1 ×1 (denied ×1); list secrets in ns1 ×1 (denied ×1)") in suggestion.yaml


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data is absent")
def test_the_vendored_demo_log_is_audit2rbacs():
    assert DEMO_LOG.read_bytes() == (SHARED / "audit2rbac" / "demo.log").read_bytes()


def test_bob_needs_pods_and_nodes_cluster_wide_and_no_rule_for_discovery(demo_log_lake):
    """bob listed pods in two namespaces (one shape, two namespaces: cluster-wide, as audit2rbac widens) and nodes;
    his 23 discovery GETs (/api, /apis/…) are allowed to every authenticated user."""
    suggestion = demo_log_lake.rbac_suggest(user="bob", **EVER)
    docs = documents(suggestion.yaml)
    assert_valid_rbac(docs)
    assert [(doc["kind"], doc["metadata"]["name"]) for doc in docs] == [("ClusterRole", "auditlake:bob"), ("ClusterRoleBinding", "auditlake:bob")]
    assert docs[0]["rules"] == [{"apiGroups": [""], "resources": ["nodes", "pods"], "verbs": ["get", "list", "watch"]}]
    assert docs[1]["subjects"] == [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "bob"}]
    assert len(suggestion.discovery) == sum(item.requests for item in suggestion.discovery) == 23 and suggestion.requests == 29
    assert "# no rule needed (system:discovery allows every authenticated user): get /api ×1;" in suggestion.yaml


def test_bob_keeping_namespaces_gets_a_role_per_namespace(demo_log_lake):
    docs = documents(demo_log_lake.rbac_suggest(user="bob", expand_namespaces=False, **EVER).yaml)
    assert_valid_rbac(docs)
    assert [(doc["kind"], doc["metadata"].get("namespace")) for doc in docs] == [
        ("ClusterRole", None), ("ClusterRoleBinding", None), ("Role", "default"), ("Role", "ns1"), ("RoleBinding", "default"), ("RoleBinding", "ns1")]
    assert docs[0]["rules"] == [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch"]}]
    assert docs[2]["rules"] == docs[3]["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}]


def test_bob_without_his_denied_requests_needs_only_pods_in_default(demo_log_lake):
    suggestion = demo_log_lake.rbac_suggest(user="bob", include_denied=False, **EVER)
    docs = documents(suggestion.yaml)
    assert [(doc["kind"], doc["metadata"].get("namespace")) for doc in docs] == [("Role", "default"), ("RoleBinding", "default")]
    assert suggestion.left_out_denied == 4 and "# left out: 4 denied request(s)" in suggestion.yaml


def test_the_service_account_is_bound_as_a_service_account_and_named_by_its_name(demo_log_lake):
    suggestion = demo_log_lake.rbac_suggest(serviceaccount="ns1:sa1", **EVER)
    docs = documents(suggestion.yaml)
    assert_valid_rbac(docs)
    assert docs[0]["kind"] == "ClusterRole" and docs[0]["metadata"]["name"] == "auditlake:sa1"
    assert docs[0]["rules"] == [{"apiGroups": [""], "resources": ["nodes", "pods"], "verbs": ["get", "list", "watch"]}]
    assert docs[1]["subjects"] == [{"kind": "ServiceAccount", "name": "sa1", "namespace": "ns1"}]
    assert docs[0]["metadata"]["labels"]["auditlake/subject"] == "system-serviceaccount-ns1-sa1"


def test_exact_verbs_switch_off_audit2rbacs_widening(demo_log_lake):
    docs = documents(demo_log_lake.rbac_suggest(user="alice", expand_verbs=False, **EVER).yaml)
    assert docs[0]["rules"] == [{"apiGroups": [""], "resources": ["configmaps", "pods", "secrets"], "verbs": ["list"]}]


def test_the_same_requests_give_the_same_yaml(demo_log_lake):
    assert demo_log_lake.rbac_suggest(user="bob", **EVER).yaml == demo_log_lake.rbac_suggest(user="bob", **EVER).yaml


def test_impersonation_counts_for_the_impersonated_identity_only(demo_log_lake):
    """Every request of the log was sent by system:admin as someone else: none is system:admin's own need."""
    with pytest.raises(QueryError, match=r"no requests by system:admin in 2017-01-01 00:00 → 2018-01-01 00:00 UTC"):
        demo_log_lake.rbac_suggest(user="system:admin", **EVER)


def test_one_named_object_keeps_its_name_and_several_lose_it(simulated_lake):
    """The exporter only ever read its own ConfigMap: the rule names it; it listed pods, which names none."""
    docs = documents(simulated_lake.rbac_suggest(serviceaccount=":".join(EXPORTER), **SIMULATED).yaml)
    assert_valid_rbac(docs)
    assert docs[0]["kind"] == "Role" and docs[0]["metadata"]["namespace"] == EXPORTER[0]
    assert docs[0]["rules"] == [
        {"apiGroups": [""], "resourceNames": [f"{EXPORTER[1]}-config"], "resources": ["configmaps"], "verbs": ["get"]},
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}]


def test_a_gke_lake_is_read_the_same_way_and_a_create_is_never_restricted_by_name(tmp_path):
    """KHI's GKE Cloud Audit Logs entry: the replicaset controller creates a pod. The event names the pod it made, but
    the authorizer saw no name (resourceNames cannot restrict create), so the rule names none either."""
    lake = Lake(tmp_path / "lake")
    lake.ingest([DATA / "khi_gke_pod_create.yaml"])
    docs = documents(lake.rbac_suggest(serviceaccount="kube-system:replicaset-controller", since="2024-01-01", until="2024-01-02").yaml)
    assert_valid_rbac(docs)
    assert [(doc["kind"], doc["metadata"]["namespace"]) for doc in docs] == [("Role", "1-2-deployment-update"), ("RoleBinding", "1-2-deployment-update")]
    assert docs[0]["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["create"]}]
    assert docs[1]["subjects"] == [{"kind": "ServiceAccount", "name": "replicaset-controller", "namespace": "kube-system"}]


def test_a_gke_principal_is_an_email_and_becomes_a_user_subject(tmp_path):
    """GKE names a person by their Google account. KHI's entry with its principal changed to an email (no public GKE
    export with a person's email carries an insertId and a timestamp): the Role and its binding are the user's."""
    entry = (DATA / "khi_gke_pod_create.yaml").read_text()
    relabelled = tmp_path / "gke_email_principal.yaml"
    relabelled.write_text(entry.replace("principalEmail: system:serviceaccount:kube-system:replicaset-controller",
                                        "principalEmail: alice@example.com"))
    lake = Lake(tmp_path / "lake")
    lake.ingest([relabelled])
    docs = documents(lake.rbac_suggest(user="alice@example.com", since="2024-01-01", until="2024-01-02").yaml)
    assert_valid_rbac(docs)
    assert [(doc["kind"], doc["metadata"]["namespace"]) for doc in docs] == [("Role", "1-2-deployment-update"), ("RoleBinding", "1-2-deployment-update")]
    assert docs[0]["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["create"]}]
    assert docs[1]["subjects"] == [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice@example.com"}]


# ---- unused: the simulated cluster ----------------------------------------------------------------
def test_the_exporter_holds_exactly_the_rules_it_never_used(simulated_lake):
    result = simulated_lake.rbac_unused(subject=EXPORTER_USER, **SIMULATED)
    via_role = [grant for grant in result.grants if grant.role == f"Role {EXPORTER[0]}/{EXPORTER_ROLE}"]
    granted = {describe(Rule.from_body(rule)) for rule in EXPORTER_RULES}
    used = {"get,list,watch configmaps", "get,list pods"}  # the exporter reads its ConfigMap and lists pods, nothing else
    assert {grant.rule for grant in via_role} == granted
    assert {grant.rule for grant in via_role if grant.status == "used"} == used
    unused = [grant for grant in via_role if grant.status == "unused"]
    assert {grant.rule for grant in unused} == granted - used == {"get secrets", "create pods/exec", "get,list apps/deployments"}
    assert [grant.sensitive for grant in unused] == [True, True, False]  # sensitive ones first
    assert all(grant.scope == EXPORTER[0] and grant.uses == 0 and grant.role_source.startswith("body: RequestResponse write ")
               and grant.binding_source.startswith("body: RequestResponse write ") for grant in unused)
    configmaps = next(grant for grant in via_role if grant.rule == "get,list,watch configmaps")
    assert configmaps.uses == 10 and configmaps.used_for == f"get configmaps {EXPORTER[0]}/{EXPORTER[1]}-config ×10"


def test_a_grant_whose_body_was_never_logged_is_unknown_not_unused(simulated_lake):
    result = simulated_lake.rbac_unused(subject=EXPORTER_USER, **SIMULATED)
    unknown = {grant.binding: grant for grant in result.grants if grant.status == "unknown"}
    assert set(unknown) == {f"RoleBinding {EXPORTER[0]}/{EXPORTER[1]}-view", f"RoleBinding {EXPORTER[0]}/{EXPORTER[1]}-metrics"}
    view = unknown[f"RoleBinding {EXPORTER[0]}/{EXPORTER[1]}-view"]
    assert view.rule == "?" and view.role == "ClusterRole view" and "the lake holds no write to ClusterRole view" in view.reason
    metrics = unknown[f"RoleBinding {EXPORTER[0]}/{EXPORTER[1]}-metrics"]
    assert "last written at Metadata level, without a body" in metrics.reason and metrics.role_source.startswith("no body: Metadata write ")
    every = simulated_lake.rbac_unused(**SIMULATED)
    assert not [grant for grant in every.grants if grant.rule == "?" and grant.status != "unknown"]


def test_bindings_the_lake_never_saw_written_are_named_by_the_authorizer_and_unknown(simulated_lake):
    """CI's deployer is bound to `edit` since before the log began: only the authorizer's reasons show the bindings."""
    grants = simulated_lake.rbac_unused(subject="system:serviceaccount:ci:deployer", **SIMULATED).grants
    assert grants and all(grant.status == "unknown" and grant.binding_source.startswith("never written in the lake") for grant in grants)
    assert "ClusterRoleBinding deployer" in {grant.binding for grant in grants}


def test_a_users_group_bindings_count_for_the_user(simulated_lake):
    grants = simulated_lake.rbac_unused(subject="alice@example.com", **SIMULATED).grants
    assert ("Group", "oidc:sre", "ClusterRoleBinding sre-admin") in {(grant.subject_kind, grant.subject, grant.binding) for grant in grants}


def test_the_state_at_the_end_of_the_window_follows_the_change_history():
    """A role patched, then written at Metadata level, is unknown from then; a deleted binding grants nothing."""
    def row(verb, resource, name, at, level="RequestResponse", request=None, response=None):  # type: ignore[no-untyped-def]
        return {"received_at": datetime(2026, 11, 1, at, tzinfo=UTC), "cluster": "c", "resource": resource, "verb": verb, "subresource": None,
                "namespace": "ns", "name": name, "actor": "alice", "actor_kind": "human", "level": level, "audit_id": f"{name}-{at}",
                "request_object": json.dumps(request) if request else None, "response_object": json.dumps(response) if response else None}
    role = {"kind": "Role", "metadata": {"name": "r", "namespace": "ns"}, "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]}
    widened = [{"op": "add", "path": "/rules/-", "value": {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}}]
    states = rbac_state([row("create", "roles", "r", 1, response=role), row("patch", "roles", "r", 2, "Request", request=widened),
                         row("create", "roles", "s", 1, response=role), row("update", "roles", "s", 3, "Metadata"),
                         row("create", "rolebindings", "b", 1, response={"kind": "RoleBinding"}), row("delete", "rolebindings", "b", 4, "Metadata")])
    assert [Rule.from_body(rule) for rule in states[("c", "roles", "ns", "r")].body["rules"]] == [  # type: ignore[index]
        Rule.of([""], ["pods"], ["get"]), Rule.of([""], ["secrets"], ["get"])]
    assert states[("c", "roles", "ns", "r")].audit_id == "r-2"
    assert (states[("c", "roles", "ns", "s")].state, states[("c", "roles", "ns", "s")].body) == ("no-body", None)
    assert states[("c", "rolebindings", "ns", "b")].state == "deleted"


def test_requests_before_a_grant_was_created_did_not_use_it():
    def write(resource, name, body):  # type: ignore[no-untyped-def]
        return {"received_at": datetime(2026, 11, 1, 10, tzinfo=UTC), "cluster": "c", "resource": resource, "verb": "create",
                "subresource": None, "namespace": "ns", "name": name, "actor": "alice", "actor_kind": "human", "level": "RequestResponse",
                "audit_id": name, "request_object": None, "response_object": json.dumps(body)}

    def request(resource, hour):  # type: ignore[no-untyped-def]
        at = datetime(2026, 11, 1, hour, tzinfo=UTC)
        return {"cluster": "c", "subject": "bob", "groups": ["system:authenticated"], "verb": "get", "api_group": "", "resource": resource,
                "subresource": "", "namespace": "ns", "name": "x", "path": "", "denied": False, "requests": 3, "first_at": at, "last_at": at}
    role = {"kind": "Role", "metadata": {"name": "r", "namespace": "ns"},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}, {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]}
    binding = {"kind": "RoleBinding", "metadata": {"name": "b", "namespace": "ns"}, "roleRef": {"kind": "Role", "name": "r"},
               "subjects": [{"kind": "User", "name": "bob"}]}
    states = rbac_state([write("roles", "r", role), write("rolebindings", "b", binding)])
    result = {grant.rule: (grant.status, grant.uses) for grant in compare(grants(states), [request("pods", 12), request("secrets", 8)])}
    assert result == {"get pods": ("used", 3), "get secrets": ("unused", 0)}  # bob read a secret at 08:00, before the grant at 10:00


def test_a_subject_lookup_needs_exactly_one_subject(demo_log_lake):
    with pytest.raises(QueryError, match="exactly one subject"):
        demo_log_lake.rbac_suggest(user="alice", serviceaccount="ns1:sa1", **EVER)
    assert Subject.for_user("system:serviceaccount:ns1:sa1") == Subject("ServiceAccount", "sa1", "ns1")


# ---- the commands ---------------------------------------------------------------------------------
def test_rbac_suggest_writes_the_yaml_to_a_file_and_says_so(demo_log_lake, tmp_path):
    target = tmp_path / "rbac" / "alice.yaml"
    result = runner.invoke(app, ["rbac", "suggest", "--user", "alice", "--lake", str(demo_log_lake.path), "--since", "2017-01-01",
                                 "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert result.stdout == "" and f"wrote {target}" in result.stderr and "User alice: 1 role(s), 1 rule(s) for 3 request(s) (3 denied)" in result.stderr
    written, expected = target.read_text().splitlines(), demo_log_lake.rbac_suggest(user="alice", since="2017-01-01").yaml.splitlines()
    assert written[0].startswith("# RBAC for User alice, written by auditlake from 3 request(s) in 2017-01-01 00:00 → ")
    assert written[1:] == expected[1:]  # the first line's window ends "now"
    assert_valid_rbac(documents(target.read_text()))


def test_rbac_suggest_for_a_subject_without_requests_is_one_line_and_exit_2(demo_log_lake):
    result = runner.invoke(app, ["rbac", "suggest", "--user", "carol", "--lake", str(demo_log_lake.path), "--since", "2017-01-01"])
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith("error: no requests by carol in 2017-01-01 00:00 → ") and "Traceback" not in result.stderr
    bad = runner.invoke(app, ["rbac", "suggest", "--serviceaccount", "sa1", "--lake", str(demo_log_lake.path)])
    assert bad.exit_code == 2 and "error: --serviceaccount 'sa1': give it as NAMESPACE:NAME" in bad.stderr


def test_rbac_unused_in_every_format(simulated_lake):
    args = ["rbac", "unused", "--lake", str(simulated_lake.path), "--since", "2026-10-01", "--until", "2026-11-05", "--subject", EXPORTER_USER]
    text = runner.invoke(app, args)
    assert text.exit_code == 0, text.output
    assert "3 unused grant(s) (2 sensitive), 2 unknown, 2 used in 2026-10-01 00:00 → 2026-11-05 00:00 UTC" in text.stderr
    lines = text.stdout.splitlines()
    assert lines[0] == f"{EXPORTER_USER} (ServiceAccount, cluster demo): 3 unused (2 sensitive), 2 unknown, 2 used"
    assert lines[1].startswith("  UNUSED  sensitive  create pods/exec in web, via RoleBinding web/report-exporter → Role web/report-reader [role body:")
    assert not [line for line in lines if line.startswith("  USED ")]  # used grants only with --all
    document = json.loads(runner.invoke(app, [*args, "--format", "json", "--all"]).stdout)
    assert document["subject"] == EXPORTER_USER and sorted(grant["status"] for grant in document["grants"]) == [
        "unknown", "unknown", "unused", "unused", "unused", "used", "used"]
    rows = list(csv.DictReader(io.StringIO(runner.invoke(app, [*args, "--format", "csv"]).stdout)))
    assert [(row["status"], row["sensitive"], row["rule"]) for row in rows[:3]] == [
        ("unused", "true", "create pods/exec"), ("unused", "true", "get secrets"), ("unused", "false", "get,list apps/deployments")]


def test_report_least_privilege_renders_a_section_per_subject_in_every_format(simulated_lake, tmp_path):
    result = runner.invoke(app, ["report", "least-privilege", "--lake", str(simulated_lake.path), "--since", "2026-10-01", "--until", "2026-11-05",
                                 "--out", str(tmp_path), "--format", "html,md,csv,json", "--print", "json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert [(section["control"], section["status"]) for section in summary["sections"]] == [
        (f"unused-sensitive/{EXPORTER_USER}", "attention"), ("unused", "evidence"), ("unknown", "evidence")]
    stem = "least-privilege-all-2026-11-04"
    html, markdown = (tmp_path / f"{stem}.html").read_text(), (tmp_path / f"{stem}.md").read_text()
    document = json.loads((tmp_path / f"{stem}.json").read_text())
    for page in (html, markdown):
        assert f"Unused sensitive grants: {EXPORTER_USER}" in page and "create pods/exec" in page and "get secrets" in page
    section = document["sections"][0]
    assert [row["rule"] for row in section["checks"][0]["result"]] == ["create pods/exec", "get secrets"]
    per_subject = next((tmp_path / stem).glob("unused_sensitive_*--rbac-unused-sensitive.csv"))
    assert [row["rule"] for row in csv.DictReader(per_subject.open())] == ["create pods/exec", "get secrets"]
    unknown = next((tmp_path / stem).glob("unknown--rbac-unknown.csv")).read_text()
    assert "ClusterRole view" in unknown and "Metadata level" in unknown


def test_a_reviewer_accepts_one_identitys_section_and_the_next_report_shows_it_accepted(simulated_lake, tmp_path):
    """PCI-DSS 7.2.4: access reviewed periodically. A per-identity section is reviewed by its control, CONTROL/SUBJECT."""
    shutil.copytree(simulated_lake.path, tmp_path / "lake")
    lake, window = Lake(tmp_path / "lake"), {"since": "2026-10-01", "until": "2026-11-05"}
    record = lake.review(f"least-privilege:unused-sensitive/{EXPORTER_USER}", by="carol", note="the exporter's owner keeps exec for "
                         "incidents, ticket SEC-7", accept=True, **window)
    assert record.rows == 2 and record.accepted
    statuses = {section.section.control: section.status for section in lake.report("least-privilege", **window).sections}
    assert statuses[f"unused-sensitive/{EXPORTER_USER}"] == "accepted"
    with pytest.raises(QueryError, match="least-privilege:unused-sensitive/bob@example.com: no such section in 2026-10-01 00:00"):
        lake.review("least-privilege:unused-sensitive/bob@example.com", by="carol", note="n/a", **window)


# ---- the README ----------------------------------------------------------------------------------
def readme_example(command: str) -> list[str]:
    """The output lines of the README's `$ auditlake …` console example that starts with `command`."""
    section = (REPO / "README.md").read_text().split("### Least privilege from the record")[1].split("\n### ")[0]
    block = next(block for block in re.findall(r"```console\n(.*?)```", section, re.DOTALL) if block.startswith(f"$ {command}"))
    return block.splitlines()[1:]


def test_the_readme_suggest_example_is_what_suggest_prints_for_audit2rbacs_demo_log(demo_log_lake):
    result = runner.invoke(app, ["rbac", "suggest", "--user", "alice", "--lake", str(demo_log_lake.path), "--since", "2017-09-11",
                                 "--until", "2017-09-12"])
    assert result.exit_code == 0 and result.stdout.splitlines() == readme_example("auditlake rbac suggest --user alice")


def test_the_readme_unused_example_is_what_unused_prints_on_the_simulated_cluster(simulated_lake):
    """The same grants and reasons; only the cited audit ids and times (shortened there) depend on the run."""
    printed = runner.invoke(app, ["rbac", "unused", "--lake", str(simulated_lake.path), "--subject", EXPORTER_USER, "--since", "2026-10-01",
                                  "--until", "2026-11-05"]).stdout.splitlines()
    shown = readme_example("auditlake rbac unused")
    assert [line.split(" [")[0] for line in shown] == [line.split(" [")[0] for line in printed if line]
