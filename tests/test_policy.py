"""The audit Policy: evaluated exactly as kube-apiserver does, validated with line numbers, linted, simulated."""

from __future__ import annotations

import doctest
import importlib
import json
import textwrap

import pytest
from typer.testing import CliRunner

from auditlake import Lake
from auditlake.cli import app
from auditlake.library import Need
from auditlake.policy import PolicyError, Request, describe_loss, evaluate, explain_events, lint, load_policy, losses, recommend, simulate
from auditlake.policy.needs import PROBE_USERS
from tests.conftest import DATA, SHARED, requires_shared

runner = CliRunner()

# The example policy of the Kubernetes documentation ("Auditing" task page, audit/audit-policy.yaml),
# rule for rule, in our own words.
DOCS_POLICY = textwrap.dedent("""\
    apiVersion: audit.k8s.io/v1
    kind: Policy
    omitStages: ["RequestReceived"]
    rules:
    - level: RequestResponse          # rule 1: pods themselves, not their subresources
      resources: [{group: "", resources: ["pods"]}]
    - level: Metadata                 # rule 2
      resources: [{group: "", resources: ["pods/log", "pods/status"]}]
    - level: None                     # rule 3: one named configmap
      resources: [{group: "", resources: ["configmaps"], resourceNames: ["controller-leader"]}]
    - level: None                     # rule 4
      users: ["system:kube-proxy"]
      verbs: ["watch"]
      resources: [{group: "", resources: ["endpoints", "services"]}]
    - level: None                     # rule 5
      userGroups: ["system:authenticated"]
      nonResourceURLs: ["/api*", "/version"]
    - level: Request                  # rule 6
      resources: [{group: "", resources: ["configmaps"]}]
      namespaces: ["kube-system"]
    - level: Metadata                 # rule 7
      resources: [{group: "", resources: ["secrets", "configmaps"]}]
    - level: Request                  # rule 8: every other core and extensions resource
      resources: [{group: ""}, {group: "extensions"}]
    - level: Metadata                 # rule 9: catch-all
      omitStages: ["RequestReceived"]
    """)
ALICE = ("alice", ("dev", "system:authenticated"))


def docs() -> object:
    return load_policy("docs-policy.yaml", DOCS_POLICY)


@pytest.mark.parametrize(("request_", "level", "rule"), [
    (Request(*ALICE, "get", "", "pods", None, "default", "web"), "RequestResponse", 1),
    (Request(*ALICE, "get", "", "pods", "log", "default", "web"), "Metadata", 2),
    (Request(*ALICE, "patch", "", "pods", "status", "default", "web"), "Metadata", 2),
    (Request(*ALICE, "create", "", "pods", "exec", "default", "web"), "Request", 8),  # "pods" does not match subresources
    (Request(*ALICE, "update", "", "configmaps", None, "kube-system", "controller-leader"), "None", 3),
    (Request(*ALICE, "update", "", "configmaps", None, "kube-system", "coredns"), "Request", 6),
    (Request(*ALICE, "get", "", "configmaps", None, "default", "app"), "Metadata", 7),
    (Request("system:kube-proxy", ("system:authenticated",), "watch", "", "endpoints"), "None", 4),
    (Request("system:kube-proxy", ("system:authenticated",), "list", "", "endpoints"), "Request", 8),
    (Request("system:kube-proxy", ("system:authenticated",), "watch", "discovery.k8s.io", "endpointslices"), "Metadata", 9),
    (Request(*ALICE, "get", path="/apis"), "None", 5),  # "/api*" is a prefix match
    (Request(*ALICE, "get", path="/api/v1"), "None", 5),
    (Request(*ALICE, "get", path="/version"), "None", 5),
    (Request(*ALICE, "get", path="/version/x"), "Metadata", 9),  # no trailing *: exact only
    (Request("system:anonymous", ("system:unauthenticated",), "get", path="/apis"), "Metadata", 9),
    (Request(*ALICE, "get", "apps", "deployments", None, "default", "web"), "Metadata", 9),
    (Request(*ALICE, "get", "extensions", "ingresses", None, "default", "web"), "Request", 8),
    (Request(*ALICE, "get", "", "secrets", None, "default", "db"), "Metadata", 7),
])
def test_the_documentation_policy_decides_as_the_apiserver(request_, level, rule):
    decision = evaluate(docs(), request_)
    assert (decision.level, decision.rule.index + 1) == (level, rule)
    assert decision.omit_stages == ("RequestReceived",)


def policy_of(rules: str, head: str = "") -> object:
    return load_policy("p.yaml", f"apiVersion: audit.k8s.io/v1\nkind: Policy\n{head}rules:\n" + textwrap.indent(textwrap.dedent(rules), ""))


@pytest.mark.parametrize(("rule", "request_", "matches"), [
    ("- {level: Metadata, resources: [{group: '', resources: ['pods/*']}]}", Request(*ALICE, "get", "", "pods", "log", "a"), True),
    ("- {level: Metadata, resources: [{group: '', resources: ['pods/*']}]}", Request(*ALICE, "get", "", "pods", None, "a"), True),
    ("- {level: Metadata, resources: [{group: '', resources: ['pods/*']}]}", Request(*ALICE, "get", "", "nodes", "proxy"), False),
    ("- {level: Metadata, resources: [{group: '', resources: ['*/status']}]}", Request(*ALICE, "patch", "", "nodes", "status"), True),
    ("- {level: Metadata, resources: [{group: '', resources: ['*/status']}]}", Request(*ALICE, "patch", "", "nodes", None), False),
    ("- {level: Metadata, resources: [{group: '', resources: ['*']}]}", Request(*ALICE, "get", "", "pods", "exec", "a"), True),
    ("- {level: Metadata, resources: [{group: '', resources: ['*']}]}", Request(*ALICE, "get", "apps", "deployments", None, "a"), False),
    ("- {level: Metadata, resources: [{group: apps}]}", Request(*ALICE, "get", "apps", "deployments", "scale", "a"), True),
    ("- {level: Metadata, namespaces: ['']}", Request(*ALICE, "get", "", "nodes"), True),  # "" selects cluster-scoped
    ("- {level: Metadata, namespaces: ['']}", Request(*ALICE, "get", "", "pods", None, "a"), False),
    ("- {level: Metadata, namespaces: [a]}", Request(*ALICE, "get", path="/healthz"), False),  # non-resource never matches namespaces
    ("- {level: Metadata, resources: [{group: '', resources: [secrets], resourceNames: [db]}]}", Request(*ALICE, "get", "", "secrets", None, "a", "db"), True),
    ("- {level: Metadata, resources: [{group: '', resources: [secrets], resourceNames: [db]}]}", Request(*ALICE, "list", "", "secrets", None, "a"), False),
    ("- {level: Metadata, nonResourceURLs: ['*']}", Request(*ALICE, "get", path="/anything"), True),
    ("- {level: Metadata, nonResourceURLs: ['*']}", Request(*ALICE, "get", "", "pods"), False),  # resource requests never match URLs
    ("- {level: Metadata, nonResourceURLs: ['/healthz*']}", Request(*ALICE, "get", path="/healthz/etcd"), True),
    ("- {level: Metadata, users: [bob]}", Request(*ALICE, "get", path="/x"), False),
    ("- {level: Metadata, userGroups: [dev]}", Request(*ALICE, "get", path="/x"), True),
    ("- {level: Metadata, userGroups: [ops]}", Request(*ALICE, "get", path="/x"), False),
    ("- {level: Metadata, userGroups: [dev]}", Request(None, (), "get", path="/x"), False),  # no user: no group matches
    ("- {level: Metadata, verbs: [get, list]}", Request(*ALICE, "watch", "", "pods"), False),
    ("- {level: Metadata}", Request(*ALICE, "delete", "batch", "jobs", None, "a"), True),
])
def test_every_matching_form(rule, request_, matches):
    decision = evaluate(policy_of(rule), request_)
    assert (decision.rule is not None) == matches
    assert decision.level == ("Metadata" if matches else "None")


def test_first_match_wins_and_stages_and_managed_fields_combine():
    the_policy = policy_of("""\
        - {level: None, users: [system:kube-proxy]}
        - {level: RequestResponse, users: [system:kube-proxy], omitStages: [ResponseStarted], omitManagedFields: false}
        - {level: Request, omitStages: [ResponseStarted]}
        """, head="omitStages: [RequestReceived]\nomitManagedFields: true\n")
    assert evaluate(the_policy, Request("system:kube-proxy", (), "get", "", "pods")).level == "None"
    decision = evaluate(the_policy, Request(*ALICE, "get", "", "pods"))
    assert decision.level == "Request" and decision.omit_stages == ("RequestReceived", "ResponseStarted") and decision.omit_managed_fields
    assert evaluate(policy_of("- {level: Metadata, users: [x]}"), Request(*ALICE, "get", "", "pods")).level == "None"


@pytest.mark.parametrize(("text", "message", "line"), [
    ("rules:\n- level: Metadata\n  userss: [a]\n", "unknown field 'userss'", 5),
    ("rules:\n- level: Everything\n", "level must be one of None, Metadata, Request, RequestResponse", 4),
    ("rules:\n- level: Metadata\n  nonResourceURLs: [healthz]\n", "must begin with a '/'", 5),
    ("rules:\n- level: Metadata\n  nonResourceURLs: ['/a*b']\n", "must be the final character", 5),
    ("rules:\n- level: Metadata\n  nonResourceURLs: ['/a']\n  namespaces: [x]\n", "both regular resources and non-resource URLs", 5),
    ("rules:\n- level: Metadata\n  resources: [{group: '', resourceNames: [a]}]\n", "resourceNames requires at least one resource", 5),
    ("omitStages: [Done]\nrules: []\n", "omitStages must list stages", 3),
    ("rules: {}\n", "a Policy needs a list of rules", 3),
])
def test_invalid_policies_are_one_line_errors_with_the_line(text, message, line):
    with pytest.raises(PolicyError) as error:
        load_policy("bad.yaml", "apiVersion: audit.k8s.io/v1\nkind: Policy\n" + text)
    assert message in str(error.value) and error.value.line == line and str(error.value).startswith(f"bad.yaml:{line}: ")


def test_lint_finds_secret_values_gaps_shadowed_rules_and_noise():
    findings = {(finding.code, finding.line) for finding in lint(docs())}
    assert ("sensitive-bodies", 18) in findings  # rule 6 logs configmap bodies in kube-system
    assert not any(code in ("no-catch-all", "request-received-logged", "unreachable-rule") for code, _ in findings)
    assert any(code == "noisy-traffic" for code, _ in findings)  # node heartbeats at Request under rule 8
    careless = policy_of("""\
        - {level: RequestResponse}
        - {level: None, users: [system:kube-proxy], verbs: [watch]}
        """)
    codes = [finding.code for finding in lint(careless)]
    assert codes.count("sensitive-bodies") == 4 and "unreachable-rule" in codes and "request-received-logged" in codes
    no_catch_all = policy_of("- {level: Metadata, resources: [{group: ''}]}", head="omitStages: [RequestReceived]\n")
    assert {finding.code for finding in lint(no_catch_all)} == {"no-catch-all", "noisy-traffic"}  # kube-proxy's watches at Metadata


@requires_shared
def test_the_audit2rbac_policy_gives_its_own_log_the_levels_it_was_logged_at(tmp_path):
    lake = Lake(tmp_path / "lake")
    lake.ingest([SHARED / "audit2rbac" / "demo.log"], cluster="audit2rbac")
    the_policy = load_policy(SHARED / "audit2rbac" / "demo-policy.yaml")
    shapes = lake.policy_explain_events(the_policy, since="2000-01-01").to_pylist()
    assert shapes and all(shape["policy_level"] == shape["logged_at"] == "Metadata" and shape["kept"] for shape in shapes)
    assert [finding.code for finding in lint(the_policy)] == ["no-catch-all"]


def test_the_recommended_policy_is_clean_keeps_every_query_answerable_and_cuts_volume(fixture_lake):
    needs = [need for _, need in fixture_lake.policy_needs()]
    the_policy = load_policy("recommended.yaml", recommend(needs, "every saved query"))
    assert [finding for finding in lint(the_policy) if finding.severity != "info"] == []
    named = [(group.group, resource) for rule in the_policy.rules if not (rule.users or rule.user_groups)
             for group in rule.resources for resource in group.resources]
    assert len(named) == len(set(named)), "no resource is named again after an earlier rule has settled it"
    simulation = fixture_lake.policy_simulate(the_policy, since="2000-01-01", cluster="demo")
    # On purpose, only the detection that searches ConfigMap bodies for credentials goes without them
    # (logging those bodies would copy the credentials into the audit log); the policy says so.
    assert {query for loss in simulation.lost for query in loss.queries} <= {"configmap-with-credentials"}
    assert "configmap-with-credentials" in recommend(needs, "every saved query")
    assert simulation.events_after < simulation.events_before / 2  # RequestReceived, leases, watches and events go
    assert simulation.body_bytes_after < simulation.body_bytes_before


def test_a_policy_that_drops_bodies_shows_which_queries_lose_them(fixture_lake, tmp_path):
    metadata_only = tmp_path / "metadata.yaml"
    metadata_only.write_text("apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n- level: Metadata\n")
    result = runner.invoke(app, ["policy", "simulate", str(metadata_only), "--lake", str(fixture_lake.path), "--since", "2000-01-01",
                                 "--format", "json"])
    lost = {query for loss in json.loads(result.stdout)["lost"] for query in loss["queries"]}
    assert {"image-changes", "rbac-changes", "object-history", "scale-changes"} <= lost and "secret-reads-by-humans" not in lost


def test_recommend_for_one_standard_and_check_from_the_cli(tmp_path):
    target = tmp_path / "pci.yaml"
    assert runner.invoke(app, ["policy", "recommend", "--for", "pci-dss", "--output", str(target)]).exit_code == 0
    assert target.read_text().startswith("# Audit policy recommended by auditlake for the saved queries evidencing pci-dss")
    checked = runner.invoke(app, ["policy", "check", str(target)])
    assert checked.exit_code == 0 and "valid" in checked.stderr
    careless = tmp_path / "careless.yaml"
    careless.write_text("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: RequestResponse\n")
    result = runner.invoke(app, ["policy", "check", str(careless)])
    assert result.exit_code == 1 and f"{careless}:4: error: secrets are logged at RequestResponse" in result.stdout


def test_explain_says_which_rule_and_why(tmp_path):
    path = tmp_path / "docs.yaml"
    path.write_text(DOCS_POLICY)
    result = runner.invoke(app, ["policy", "explain", str(path), "--user", "system:kube-proxy", "--group", "system:authenticated",
                                 "--verb", "watch", "--resource", "endpoints"])
    assert result.exit_code == 0
    assert result.stdout.splitlines()[:4] == ["level: None  (rule 4 (line 11))", "  because user system:kube-proxy is in users",
                                              "  because verb watch is in verbs",
                                              "  because resource endpoints matches 'endpoints' in group ''"]
    result = runner.invoke(app, ["policy", "explain", str(path), "--user", "alice", "--group", "system:authenticated", "--path", "/apis/apps"])
    assert result.stdout.startswith("level: None  (rule 5 (line 15))")


APISERVER = textwrap.dedent("""\
    apiVersion: v1
    kind: Pod
    metadata: {name: kube-apiserver, namespace: kube-system}
    spec:
      containers:
      - name: kube-apiserver
        image: registry.k8s.io/kube-apiserver:v1.31.2
        command:
        - kube-apiserver
        - --audit-policy-file=/etc/kubernetes/audit-policy.yaml
        - --audit-log-path=/var/log/kubernetes/audit/audit.log
        - --audit-log-maxage=30
        - --audit-log-maxbackup=10
        - --audit-log-maxsize=100
        volumeMounts:
        - {mountPath: /etc/kubernetes/audit-policy.yaml, name: audit, readOnly: true}
        - {mountPath: /var/log/kubernetes/audit/, name: audit-log, readOnly: false}
      volumes:
      - {name: audit, hostPath: {path: /etc/kubernetes/audit-policy.yaml, type: File}}
      - {name: audit-log, hostPath: {path: /var/log/kubernetes/audit/, type: DirectoryOrCreate}}
    """)


def test_check_apiserver_against_the_cis_audit_controls(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text(APISERVER)
    assert runner.invoke(app, ["policy", "check-apiserver", str(good)]).exit_code == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text(APISERVER.replace("maxage=30", "maxage=7").replace("    - --audit-log-maxbackup=10\n", "")
                   .replace("name: audit, readOnly: true", "name: audit, readOnly: false"))
    result = runner.invoke(app, ["policy", "check-apiserver", str(bad)])
    assert result.exit_code == 1
    assert "--audit-log-maxage is 7: set it to 30 or more (CIS 1.2.17)" in result.stdout
    assert "--audit-log-maxbackup is not set: set it to 10 or more (CIS 1.2.18)" in result.stdout
    assert "mount it readOnly: true" in result.stdout
    unmounted = tmp_path / "unmounted.yaml"
    unmounted.write_text(APISERVER.split("    volumeMounts:")[0])
    text = runner.invoke(app, ["policy", "check-apiserver", str(unmounted)]).stdout
    assert "is not on any volume mount" in text and "is lost with the container" in text


def test_the_vendored_real_logs_under_the_docs_policy(tmp_path):
    lake = Lake(tmp_path / "lake")
    lake.ingest([DATA / "immudb_first_300_lines.log"], cluster="immudb")
    shapes = lake.policy_explain_events(docs(), since="2000-01-01").to_pylist()
    assert {shape["policy_level"] for shape in shapes if shape["stage"] == "RequestReceived" and shape["kept"]} == set()
    assert all(shape["policy_level"] == "None" for shape in shapes if shape["target"] and shape["target"].startswith("/api"))


# ---- what simulate says would be lost: one entry per root cause, and no made-up identity -------------------------
CAUSES_POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: None                       # rule 1: one real deployer's writes (only the data shows this one)
  users: [{deployer}]
  verbs: [create, update, patch]
  resources: [{{group: apps, resources: [deployments]}}]
- level: Metadata                   # rule 2: no body of any apps object
  resources: [{{group: apps}}]
- level: RequestResponse            # rule 3: pods, without the stage the saved queries read
  omitStages: [ResponseComplete]
  resources: [{{group: "", resources: [pods]}}]
- level: RequestResponse            # rule 4: everything else, in full
"""


def test_simulate_groups_what_the_queries_would_lose_by_the_rule_that_causes_it(fixture_lake, tmp_path):
    deployer = fixture_lake.sql(
        "select user_name from events where cluster = 'demo' and api_group = 'apps' and resource = 'deployments' "
        "and verb in ('create', 'update', 'patch') and stage = 'ResponseComplete' group by all order by count(*) desc limit 1").item()
    path = tmp_path / "causes.yaml"
    path.write_text(CAUSES_POLICY.format(deployer=deployer))
    lost = {loss.rule: loss for loss in fixture_lake.policy_simulate(load_policy(path), since="2000-01-01").lost}
    assert sorted(lost) == [1, 2, 3]  # one entry per cause, not one line per saved query's need
    one, two, three = lost[1], lost[2], lost[3]
    assert (one.line, one.level, one.omits_response) == (5, "None", False)
    assert one.queries["image-changes"] == "RequestResponse" and one.events > 0
    [shape] = one.requests  # the verbs the deployer used, and no name: the identity is the data's to show
    assert shape.endswith(": deployments (apps), by some users of the window") and deployer not in shape
    assert (two.level, two.omits_response) == ("Metadata", False)
    assert two.queries["image-changes"] == "RequestResponse" and two.queries["privileged-pod"] == "Request"
    assert "deployment-changes" not in two.queries  # Metadata is what it needs
    assert any("deployments (apps)" in shape and "daemonsets (apps)" in shape for shape in two.requests)
    assert (three.level, three.omits_response) == ("RequestResponse", True) and "privileged-pod" in three.queries
    assert all(needed in ("Metadata", "Request", "RequestResponse") for loss in lost.values() for needed in loss.queries.values())

    result = runner.invoke(app, ["policy", "simulate", str(path), "--lake", str(fixture_lake.path), "--since", "2000-01-01"])
    assert result.exit_code == 0
    text = result.stdout[result.stdout.index("saved queries that would lose data they need, by cause (3):"):]
    causes = [line.strip() for line in text.splitlines() if line.startswith("  rule ")]
    assert [cause.split(" (", 1)[0] for cause in causes] == ["rule 1", "rule 2", "rule 3"]
    assert causes[0].startswith("rule 1 (line 5) logs them at None (") and "without the ResponseComplete stage" in causes[2]
    assert sum(line.count("image-changes") for line in text.splitlines()) == 2  # under each of its two causes, once


def test_simulate_names_no_identity_that_is_not_in_the_data(fixture_lake, tmp_path):
    metadata_only = tmp_path / "metadata.yaml"
    metadata_only.write_text("apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n- level: Metadata\n")
    in_the_data = set(fixture_lake.sql("select distinct user_name from events where user_name is not null")["user_name"])
    made_up = {user for user, _ in PROBE_USERS} - in_the_data
    assert "jane@example.com" in made_up
    for output in ("text", "json"):
        result = runner.invoke(app, ["policy", "simulate", str(metadata_only), "--lake", str(fixture_lake.path), "--since", "2000-01-01",
                                     "--format", output])
        assert result.exit_code == 0 and "image-changes" in result.stdout
        assert [user for user in made_up if user in result.stdout] == []
    lost = json.loads(result.stdout)["lost"]
    assert [(loss["rule"], loss["level"]) for loss in lost] == [(1, "Metadata")]  # one cause: the catch-all's level


def test_a_loss_says_which_kinds_of_identity_a_rule_singles_out():
    admins_at_metadata = policy_of("""\
        - {level: Metadata, userGroups: [system:masters]}
        - {level: RequestResponse}
        """, head="omitStages: [RequestReceived]\n")
    [loss] = losses(admins_at_metadata, [("image-changes", Need("RequestResponse", "apps", ("deployments",), ("update",)))])
    assert (loss.rule, loss.level, loss.queries, loss.events) == (1, "Metadata", {"image-changes": "RequestResponse"}, 0)
    assert loss.requests == ("update: deployments (apps), by administrators (system:masters)",)
    assert "kubernetes-admin" not in "\n".join(describe_loss(loss))


def shape_row(user: str, verb: str, resource: str, stage: str, level: str, events: int, request_bytes: int = 0, response_bytes: int = 0) -> dict:
    """A row as the `request-shapes` query returns it."""
    return {"user_name": user, "user_groups": ["system:authenticated"], "verb": verb, "api_group": "", "resource": resource,
            "subresource": None, "namespace": "default", "name": None, "path": None, "stage": stage, "level": level, "events": events,
            "request_bytes": request_bytes, "response_bytes": response_bytes}


def test_a_simulation_is_arithmetic_on_request_shapes_alone():
    """No lake needed: events and body bytes kept per level and per rule, from the rows of `request-shapes`."""
    the_policy = policy_of("- {level: None, users: [system:kube-proxy]}\n- {level: Request}\n", head="omitStages: [RequestReceived]\n")
    rows = [shape_row("system:kube-proxy", "watch", "endpoints", "ResponseStarted", "Metadata", 10),
            shape_row("alice", "create", "pods", "ResponseComplete", "RequestResponse", 3, 100, 1000),
            shape_row("alice", "create", "pods", "RequestReceived", "RequestResponse", 3, 100, 0)]
    result = simulate(the_policy, rows, [])
    assert (result.events_before, result.events_after) == (16, 3)
    assert result.levels_before == {"Metadata": 10, "RequestResponse": 6} and result.levels_after == {"Request": 3}
    assert (result.body_bytes_before, result.body_bytes_after) == (1200, 100)  # a Request rule keeps request bodies only
    assert result.rules == [(0, "None", 10, 0), (1, "Request", 6, 3)] and result.lost == []
    explained = explain_events(the_policy, rows)
    assert [(row["target"], row["policy_level"], row["rule"], row["kept"]) for row in explained] == [
        ("endpoints", "None", 1, False), ("pods", "Request", 2, True), ("pods", "Request", 2, False)]


@pytest.mark.parametrize("module", ["evaluate", "needs"])
def test_the_examples_in_the_policy_docstrings_hold(module):
    # import_module: the package's `evaluate` attribute is the function, which hides the module of that name
    result = doctest.testmod(importlib.import_module(f"auditlake.policy.{module}"))
    assert result.attempted and not result.failed
