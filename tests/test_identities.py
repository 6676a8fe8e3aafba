"""People are people: identities are classified once (`actor_kind`), with the administrators a setting.

audit2rbac's log is a person, `system:admin` in system:masters, creating and deleting RBAC objects with kubectl;
every question that tells people from machines must see a person there, and a report must say whom it counted.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from auditlake import Lake
from auditlake.cli import app
from auditlake.library import savedquery as queries
from tests.conftest import DATA, DEMO_START, SHARED, requires_shared

runner = CliRunner()
EVERYTHING = {"since": "2000-01-01", "until": "2100-01-01"}
DEMO_WINDOW = {"since": DEMO_START, "until": datetime(2026, 11, 4, tzinfo=UTC), "cluster": "demo"}
LIFECYCLE = DATA / "audit2rbac_cluster_rbac_create_delete.log"  # system:admin's 22 creates and 22 deletes of cluster RBAC
CAPTURE = SHARED / "audit2rbac" / "commit-501d132a" / "demo.log"


def final_events(path: Path) -> list[dict]:
    return [event for event in map(json.loads, path.read_text().splitlines()) if event["stage"] == "ResponseComplete"]


def cluster_objects_created_or_deleted(path: Path) -> set[str]:
    """An independent reading: the audit ids of successful creates and deletes of cluster-scoped objects."""
    return {event["auditID"] for event in final_events(path)
            if event["verb"] in ("create", "delete") and 200 <= event["responseStatus"]["code"] < 300
            and not event["objectRef"].get("namespace") and event["objectRef"]["resource"] not in ("tokenreviews", "subjectaccessreviews")}


@pytest.fixture(scope="module")
def lifecycle_lake(tmp_path_factory) -> Lake:
    lake = Lake(tmp_path_factory.mktemp("audit2rbac") / "lake")
    lake.ingest([LIFECYCLE], cluster="audit2rbac")
    return lake


# ---- the one classification ------------------------------------------------------------------------
KINDS = [  # user, groups, impersonated user, impersonated groups → kind
    ("system:admin", ["system:masters", "system:authenticated"], None, None, "human"),  # audit2rbac's kubectl user
    ("system:apiserver", ["system:masters"], None, None, "system"),  # the loopback client is in system:masters too
    ("aksService", ["system:masters", "system:authenticated"], None, None, "system"),
    ("masterclient", ["system:masters"], None, None, "system"),
    ("eks:addon-manager", ["system:masters"], None, None, "system"),
    ("kubernetes-admin", ["kubeadm:cluster-admins", "system:authenticated"], None, None, "human"),
    ("system:kube-controller-manager", ["system:authenticated"], None, None, "system"),
    ("system:node:ip-10-0-1-10", ["system:nodes", "system:authenticated"], None, None, "node"),
    ("nodeclient", ["system:nodes"], None, None, "node"),
    ("system:serviceaccount:ci:deployer", ["system:serviceaccounts"], None, None, "serviceaccount"),
    ("container-engine-robot@p.iam.gserviceaccount.com", None, None, None, "serviceaccount"),
    ("system:anonymous", ["system:unauthenticated"], None, None, "anonymous"),
    (None, None, None, None, "anonymous"),
    ("alice@example.com", ["oidc:sre"], None, None, "human"),
    ("akshay@example.com", None, None, None, "human"),  # a person whose name starts like AKS's identities
    # impersonation: whoever is impersonated acted, with the impersonated groups
    ("system:admin", ["system:masters"], "bob", ["system:authenticated"], "human"),
    ("system:admin", ["system:masters"], "system:serviceaccount:ns1:sa1", ["system:serviceaccounts"], "serviceaccount"),
    ("alice@example.com", ["oidc:sre"], "system:breakglass", ["system:authenticated"], "system"),
    ("alice@example.com", ["oidc:sre"], "system:breakglass", ["system:masters"], "human"),
]


@pytest.mark.parametrize(("user", "groups", "impersonated", "impersonated_groups", "kind"), KINDS)
def test_actor_kind_tells_people_from_machines(fixture_lake, user, groups, impersonated, impersonated_groups, kind):
    with fixture_lake.connect() as connection:
        (found,) = connection.execute(
            "SELECT actor_kind(coalesce($impersonated, $user), actor_groups($groups, $impersonated, $impersonated_groups), "
            "$admin_groups, $admin_users)",
            {"user": user, "groups": groups, "impersonated": impersonated, "impersonated_groups": impersonated_groups,
             "admin_groups": ["kubeadm:cluster-admins"], "admin_users": []}).fetchone()
    assert found == kind


def test_configured_administrators_are_people_whatever_their_name(fixture_lake):
    with fixture_lake.connect() as connection:
        rows = connection.execute("""
            SELECT actor_kind('system:breakglass', [], [], []), actor_kind('system:breakglass', [], [], ['system:breakglass']),
                   actor_kind('system:ops', ['oidc:ops'], [], []), actor_kind('system:ops', ['oidc:ops'], ['oidc:ops'], []),
                   is_administrator('system:admin', ['system:masters'], [], []), is_administrator('system:apiserver', ['system:masters'], [], []),
                   is_administrator('alice@example.com', ['oidc:sre'], [], []), is_administrator('alice@example.com', ['oidc:sre'], ['oidc:sre'], [])
        """).fetchone()
    assert rows == ("system", "human", "system", "human", True, False, False, True)


CLASSIFIER_CALL = re.compile(r"\b(actor_kind|is_administrator|is_system_principal)\(([^()]|\([^()]*(\([^()]*\))?[^()]*\))*\)")


def test_every_saved_query_that_classifies_uses_the_configured_administrators():
    """No query keeps a rule of its own (`starts_with(user_name, 'system:')`): each calls the one macro with the settings."""
    library = queries.load_library()
    classifying = [query for query in queries.saved_queries(library) if CLASSIFIER_CALL.search(query.sql)]
    assert len(classifying) > 40
    for query in classifying:
        assert query.parameter("admin_groups") and query.parameter("admin_users"), query.name
        assert query.parameter("admin_users").setting == "admin_users", query.name
        for call in CLASSIFIER_CALL.finditer(query.sql):
            if call.group(1) == "is_system_principal":  # Panther's by-name test unless the rule's `admins_are_people` says otherwise
                assert call.group(0).endswith("$admin_groups, $admin_users, $admins_are_people)"), f"{query.name}: {call.group(0)}"
            else:
                assert call.group(0).endswith("$admin_groups, $admin_users)"), f"{query.name}: {call.group(0)}"
    for query in queries.saved_queries(library):
        for ad_hoc in ("LIKE 'system:%'", "starts_with(coalesce(user_name, ''), 'system:')"):
            assert ad_hoc not in query.sql, f"{query.name} classifies users by a rule of its own: {ad_hoc}"


# ---- audit2rbac: a person creating and deleting system-level objects ----------------------------------
def test_the_administrators_rbac_objects_are_system_object_lifecycle_evidence(lifecycle_lake):
    expected = cluster_objects_created_or_deleted(LIFECYCLE)
    assert len(expected) == 40  # 22 created, 18 deleted (4 deletes found nothing: 404)
    result = lifecycle_lake.query("system-object-lifecycle", **EVERYTHING)
    assert set(result["audit_id"]) == expected
    assert set(result["actor"]) == {"system:admin"} and set(result["actor_kind"]) == {"human"}
    assert set(result["resource"]) == {"clusterroles", "clusterrolebindings"}
    admins = lifecycle_lake.query("admin-actions", **EVERYTHING)
    assert set(admins["administrator"]) == {"system:admin"} and admins["requests"].sum() == len(final_events(LIFECYCLE))


def test_the_apiserver_itself_is_no_administrator(fixture_lake):
    """immudb's log: `admin` (system:masters) ran kubectl; `system:apiserver` (system:masters too) is the loopback client."""
    admins = fixture_lake.query("admin-actions", **EVERYTHING, cluster="immudb")
    assert set(admins["administrator"]) == {"admin"}
    actors = fixture_lake.query("top-actors", **EVERYTHING, cluster="immudb", limit=100)
    kinds = dict(zip(actors["actor"], actors["actor_kind"], strict=True))
    assert kinds["admin"] == "human" and kinds["system:apiserver"] == "system"


def test_the_impersonated_identity_is_who_acted(fixture_lake):
    """audit2rbac's system:admin impersonates bob, alice and a service account: the actor is the impersonated one."""
    reads = fixture_lake.query("secret-reads-by-humans", **EVERYTHING, cluster="audit2rbac")
    assert set(reads["actor"]) <= {"bob", "alice"} and set(reads["authenticated_user"]) == {"system:admin"}
    admins = fixture_lake.query("admin-actions", **EVERYTHING, cluster="audit2rbac")
    assert set(admins["administrator"]) == {"system:admin"}  # what an administrator did while impersonating is theirs


# ---- the classification is a setting, and the report says which ------------------------------------------
def test_administrators_are_a_setting_a_parameter_and_in_the_evidence(fixture_lake, monkeypatch):
    default = fixture_lake.query("admin-actions", **DEMO_WINDOW)
    assert set(default["administrator"]) == {"kubernetes-admin"}
    monkeypatch.setenv("AUDITLAKE_ADMIN_GROUPS", "oidc:sre")  # alice's group; system:masters always counts
    with_sre = fixture_lake.query("admin-actions", **DEMO_WINDOW)
    sre = {"kubernetes-admin", "alice@example.com", "ops-breakglass"}  # ops-breakglass: the attack story's certificate, in oidc:sre
    assert set(with_sre["administrator"]) == sre
    report = fixture_lake.report("pci-dss", **DEMO_WINDOW)
    assert report.evidence.params["admin_groups"] == ["oidc:sre"]
    assert "--param admin_groups=oidc:sre" in report.evidence.command
    checks = {check.name: check for section in report.sections for check in section.checks}
    assert set(checks["admin-actions"].table.column("administrator").to_pylist()) == sre
    assert checks["system-object-lifecycle"].values["admin_groups"] == ["oidc:sre"]  # every check classifies alike
    narrowed = fixture_lake.report("pci-dss", **DEMO_WINDOW, params={"admin_groups": "system:masters"})  # the pack parameter wins
    assert narrowed.evidence.params["admin_groups"] == "system:masters"
    narrowed_checks = {check.name: check for section in narrowed.sections for check in section.checks}
    assert set(narrowed_checks["admin-actions"].table.column("administrator").to_pylist()) == {"kubernetes-admin"}
    cli = runner.invoke(app, ["query", "run", "admin-actions", "--lake", str(fixture_lake.path), "--since", "2026-11-01",
                              "--until", "2026-11-04", "-p", "admin_users=bob@example.com", "--format", "json"])
    assert cli.exit_code == 0, cli.output
    assert {row["administrator"] for row in json.loads(cli.stdout)} == {"kubernetes-admin", "alice@example.com", "bob@example.com", "ops-breakglass"}


def test_the_markdown_report_shows_the_classification_it_used(fixture_lake):
    from auditlake.render import report as report_render

    page = report_render.markdown(fixture_lake.report("pci-dss", **DEMO_WINDOW))
    evidence = next(line for line in page.splitlines() if line.startswith("- Parameters:"))  # the evidence block's
    assert "admin_groups = system:masters, kubeadm:cluster-admins" in evidence and "admin_users = admin, kubernetes-admin" in evidence


# ---- the whole original capture ----------------------------------------------------------------------
@requires_shared
def test_pci_dss_on_audit2rbac_lists_the_administrator_everywhere_it_acted(tmp_path):
    lake = Lake(tmp_path / "lake")
    lake.ingest([CAPTURE], cluster="audit2rbac")
    expected = cluster_objects_created_or_deleted(CAPTURE)
    assert len(expected) == 40
    lifecycle = lake.query("system-object-lifecycle", since="2017-01-01", until="2018-01-01")
    assert set(lifecycle["audit_id"]) == expected
    report = lake.report("pci-dss", since="2017-09-11", until="2017-09-12")
    checks = {check.name: check for section in report.sections for check in section.checks}
    assert checks["system-object-lifecycle"].table.num_rows == 40  # 10.2.1.7 showed "evidence 0"
    assert set(checks["system-object-lifecycle"].table.column("actor").to_pylist()) == {"system:admin"}
    assert set(checks["admin-actions"].table.column("administrator").to_pylist()) == {"system:admin"}  # 10.2.1.2, the same person
