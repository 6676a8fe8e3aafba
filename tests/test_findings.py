"""Findings you can act on: where and who, the audit id to open, the URL a request asked for, EKS rules on EKS only."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from auditlake import Lake
from auditlake.cli import app
from auditlake.library import detections as detect
from tests.conftest import DATA, SHARED, requires_shared

runner = CliRunner()
EVERYTHING = {"since": "2000-01-01", "until": "2100-01-01"}
EKS_ONLY = ["eks-anonymous-access", "eks-system-user-from-public-ip"]
IMMUDB = [json.loads(line) for line in (DATA / "immudb_first_300_lines.log").read_text().splitlines()]
HEALTHZ = [e for e in IMMUDB if e["stage"] == "ResponseComplete" and e["requestURI"] == "/healthz" and e["user"]["username"] == "admin"]


def test_a_finding_on_a_non_resource_url_names_the_url(fixture_lake):
    """immudb's `admin` (a full-admin kubeconfig user) asked for /healthz: the finding says so, not `admin get  (200)`."""
    findings = fixture_lake.detect(**EVERYTHING, cluster="immudb", rules=["full-admin-activity"]).findings.to_pylist()
    healthz = {row["audit_id"]: (row["summary"], row["object"]) for row in findings if row["object"] == "/healthz"}
    assert healthz == {e["auditID"]: ("admin get /healthz" + ("" if e["responseStatus"]["code"] == 200 else " (failed, 500)"), "/healthz")
                       for e in HEALTHZ} and len(healthz) == 3  # two answered 500, one 200
    discovery = {row["summary"] for row in findings if row["object"].startswith("/api")}
    assert "admin get /api" in discovery  # the query string (?timeout=32s) is left out


def test_no_summary_has_an_empty_target(fixture_lake):
    run = fixture_lake.detect(**EVERYTHING)
    assert run.findings.num_rows > 100
    blank = [row for row in run.findings.to_pylist() if "  " in row["summary"] or row["summary"].endswith(" ") or not row["object"]]
    assert blank == []


def test_the_detect_table_shows_where_who_and_the_audit_id_to_open(fixture_lake):
    args = ["detect", "--lake", str(fixture_lake.path), "--since", "2000-01-01", "--until", "2100-01-01", "--cluster", "immudb",
            "--rule", "full-admin-activity"]
    table = runner.invoke(app, args, env={"COLUMNS": "400"})
    assert table.exit_code == 0, table.output
    header = next(line for line in table.stdout.splitlines() if "summary" in line)
    assert [name for name in detect.TABLE_COLUMNS if name in header] == list(detect.TABLE_COLUMNS)
    audit_id = HEALTHZ[-1]["auditID"]
    row = next(line for line in table.stdout.splitlines() if audit_id in line)  # whole, ready to copy
    assert "immudb" in row and "admin get /healthz" in row
    opened = runner.invoke(app, ["event", audit_id, "--lake", str(fixture_lake.path), "--format", "json"])
    assert opened.exit_code == 0 and {row["audit_id"] for row in json.loads(opened.stdout)} == {audit_id}


# ---- EKS-only rules ----------------------------------------------------------------------------------
def event(number: int, user: dict, uri: str = "/version", ip: str = "8.8.4.4") -> str:
    return json.dumps({"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata", "auditID": f"id-{number}",
                       "stage": "ResponseComplete", "requestURI": uri, "verb": "get", "user": user, "sourceIPs": [ip],
                       "responseStatus": {"code": 200}, "annotations": {"authorization.k8s.io/decision": "allow"},
                       "requestReceivedTimestamp": f"2026-11-02T10:00:{number:02d}Z",
                       "stageTimestamp": f"2026-11-02T10:00:{number:02d}Z"}) + "\n"


ANONYMOUS = {"username": "system:anonymous", "groups": ["system:unauthenticated"]}
IAM_USER = {"username": "kubernetes-admin", "groups": ["system:masters"],
            "extra": {"arn": ["arn:aws:iam::111122223333:user/admin"], "canonicalArn": ["arn:aws:iam::111122223333:user/admin"]}}
GKE_HEALTHCHECK = {"username": "system:gke-master-healthcheck"}
AKS = {"username": "aksService", "groups": ["system:masters", "system:authenticated"]}
NOT_A_CLOUD = {"username": "mallory", "extra": {"arn": ["urn:example:not-aws"]}}  # an `arn` key alone is not AWS's


@pytest.fixture(scope="module")
def clouds_lake(tmp_path_factory) -> Lake:
    root = tmp_path_factory.mktemp("clouds")
    files = {
        "eks": event(1, IAM_USER) + event(2, ANONYMOUS) + event(3, {"username": "system:kube-proxy"}),
        "gke": event(4, GKE_HEALTHCHECK, "/readyz") + event(5, ANONYMOUS) + event(6, {"username": "system:kube-proxy"}),
        "mixed": event(7, IAM_USER) + event(8, GKE_HEALTHCHECK, "/readyz") + event(9, AKS) + event(10, ANONYMOUS),
        "onprem": event(11, NOT_A_CLOUD) + event(12, ANONYMOUS) + event(13, {"username": "system:kube-proxy"}),
    }
    lake = Lake(root / "lake")
    for cluster, lines in files.items():
        (root / f"{cluster}.log").write_text(lines)
        lake.ingest([root / f"{cluster}.log"], cluster=cluster)
    return lake


def test_eks_only_rules_fire_on_eks_shaped_events_only(clouds_lake):
    fired = {(row["rule"], row["audit_id"]) for row in clouds_lake.detect(**EVERYTHING, rules=EKS_ONLY).findings.to_pylist()}
    assert fired == {("eks-anonymous-access", "id-2"),  # anonymous, in a cluster that is EKS by its IAM users
                     ("eks-system-user-from-public-ip", "id-2"), ("eks-system-user-from-public-ip", "id-3")}
    everywhere = clouds_lake.detect(**EVERYTHING, rules=EKS_ONLY, params={f"{rule}.eks_only": False for rule in EKS_ONLY}).findings
    assert {"id-4", "id-5", "id-8", "id-12"} <= set(everywhere.column("audit_id").to_pylist())  # what the rules would say anywhere


@requires_shared
def test_eks_only_rules_stay_off_gke_aks_and_elastic_events(tmp_path):
    """Elastic's samples (a GKE healthcheck, AKS records) and KHI's GKE entries: system users from public addresses, not EKS."""
    lake = Lake(tmp_path / "lake")
    for directory in ("elastic-integrations", "googlecloudplatform-khi", "sysdiglabs-aks-audit-log"):
        lake.ingest([SHARED / directory], cluster=directory.split("-")[0])
    assert lake.detect(**EVERYTHING, rules=EKS_ONLY).findings.num_rows == 0
    anywhere = lake.detect(**EVERYTHING, rules=EKS_ONLY, params={f"{rule}.eks_only": False for rule in EKS_ONLY}).findings
    assert "system:gke-master-healthcheck" in set(anywhere.column("actor").to_pylist())  # it would have fired there
