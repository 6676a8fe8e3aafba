"""No Secret value or credential, in any shape a Secret travels, reaches any file of the lake or any output.

Every shape the adversarial run used carries its own canary value (issue `hardening`, S1–S3 and the
credential items): Secrets and SecretLists whose items have no `kind`, GKE's `@type` lists, watch events,
Table rows, JSON and merge patches, YAML apply bodies sent as strings, bodies of unknown shape, TokenRequest
and TokenReview tokens, bearer tokens in URIs, Secrets in unknown fields, inside AKS records, EventLists,
events too long for DuckDB's buffers; and quarantined lines: cut short, a bad byte, `}` and `\\"` in values,
`\\u`-escaped keys, list values, JSON patches. Then every column of every file under the lake is read back,
and every output format of every command that shows events, and no canary (plain or base64) is found.
"""

from __future__ import annotations

import base64
import json

import orjson
import pytest
from typer.testing import CliRunner

from auditlake import Lake
from auditlake.cli import app
from auditlake.ingest.redact import PREFIX, REDACTED_KEY
from tests.conftest import DATA
from tests.ingest.test_redact import every_byte_under

ENVELOPE = json.loads((DATA / "khi_lease_update_request_response.jsonl").read_text())  # a real RequestResponse event
CANARIES: list[str] = []


def canary(shape: str) -> str:
    """A value that must never be seen again outside the input (each shape has its own, to tell which leaked)."""
    value = f"CANARY{len(CANARIES):03d}x{shape}"
    CANARIES.append(value)
    return value


def b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def secret(shape: str, *, kind: bool = True) -> dict:
    """A Secret as the apiserver serialises it (list items carry no `kind`), with a last-applied copy of itself."""
    password, token = canary(shape + "Data"), canary(shape + "StringData")
    applied = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"}, "data": {"password": b64(password)}}
    body = {"metadata": {"name": "db", "namespace": "payments",
                         "annotations": {"kubectl.kubernetes.io/last-applied-configuration": json.dumps(applied)}},
            "data": {"password": b64(password)}, "stringData": {"token": token}, "type": "Opaque"}
    return {"kind": "Secret", "apiVersion": "v1", **body} if kind else body


def event(number: int, verb: str, *, resource: str = "secrets", subresource: str | None = None, request=None, response=None,
          uri: str | None = None, **extra: object) -> dict:
    reference = {"resource": resource, "namespace": "payments", "apiVersion": "v1"}
    if subresource:
        reference["subresource"] = subresource
    made = dict(ENVELOPE, auditID=f"canary-{number:03d}", verb=verb, objectRef=reference, stage="ResponseComplete",
                requestURI=uri or f"/api/v1/namespaces/payments/{resource}", level="RequestResponse", **extra)
    made.pop("requestObject", None)
    made.pop("responseObject", None)
    if request is not None:
        made["requestObject"] = request
    if response is not None:
        made["responseObject"] = response
    return made


def landing_events() -> list[dict]:
    """Events that land as rows: each shape once."""
    return [
        event(1, "create", request=secret("Create"), response=secret("CreateResponse")),
        event(2, "list", response={"kind": "SecretList", "apiVersion": "v1", "items": [secret("ListItem", kind=False)]}),
        event(3, "list", response={"items": [secret("KindlessList", kind=False)]}),
        event(4, "watch", response={"type": "ADDED", "object": secret("WatchEvent", kind=False)}),
        event(5, "list", response={"kind": "Table", "apiVersion": "meta.k8s.io/v1", "columnDefinitions": [],
                                   "rows": [{"cells": ["db", "Opaque", 2, "5d"], "object": secret("TableRow", kind=False)}]}),
        event(6, "patch", request=[{"op": "replace", "path": "/data/password", "value": b64(canary("JsonPatch"))},
                                   {"op": "add", "path": "/stringData", "value": {"token": canary("JsonPatchAdd")}},
                                   {"op": "add", "path": "/somewhere/else", "value": canary("JsonPatchUnplaced")}],
              response=secret("PatchResponse")),
        event(7, "patch", request={"data": {"password": b64(canary("MergePatch"))}, "stringData": {"k": canary("MergePatchString")}}),
        event(8, "patch", request=f"apiVersion: v1\nkind: Secret\nstringData:\n  password: {canary('YamlApply')}\n"),
        event(9, "create", request={"kind": "SealedThing", "spec": {"encrypted": canary("UnknownShape")}}),
        event(10, "create", resource="configmaps", request={"kind": "ConfigMap", "data": {"nested": "x"},
                                                            "template": {"kind": "Secret", "data": {"k": b64(canary("Nested"))}}}),
        event(11, "create", resource="serviceaccounts", subresource="token", request={"kind": "TokenRequest", "spec": {}},
              response={"kind": "TokenRequest", "status": {"token": canary("TokenRequest"), "expirationTimestamp": "2026-11-02T00:00:00Z"}}),
        event(12, "create", resource="tokenreviews", request={"kind": "TokenReview", "spec": {"token": canary("TokenReview")}},
              response={"kind": "TokenReview", "spec": {"token": canary("TokenReviewEcho")}, "status": {"authenticated": True}}),
        event(13, "get", resource="pods", uri=f"/api/v1/namespaces/payments/pods?watch=1&access_token={canary('UriToken')}"),
        event(14, "get", auditlakeUnknownField={"kind": "Secret", "data": {"k": b64(canary("UnknownField"))}}),
        event(15, "list", response={"kind": "SecretList", "items": [{"kind": "Secret", **secret("KindedItem", kind=False)}]}),
        event(16, "delete", request={"kind": "DeleteOptions", "apiVersion": "v1"}, response={"kind": "Status", "status": "Success"}),
        event(17, "get", uri=f"/api/v1/namespaces/payments/secrets/db?token={canary('SecretUriToken')}",
              response={"kind": "Secret", "data": [b64(canary("ListValue"))]}),
    ]


def wrapped_lines() -> list[bytes]:
    """A GKE SecretList, an AKS record holding a Secret write, an EventList of Secret events."""
    gke = {"protoPayload": {"@type": "type.googleapis.com/google.cloud.audit.AuditLog", "serviceName": "k8s.io",
                            "methodName": "io.k8s.core.v1.secrets.list", "resourceName": "core/v1/namespaces/payments/secrets",
                            "authenticationInfo": {"principalEmail": "alice@example.com"},
                            "response": {"@type": "core.k8s.io/v1.SecretList", "items": [secret("GkeItem", kind=False)]}},
           "resource": {"type": "k8s_cluster", "labels": {"cluster_name": "gke-1"}}, "timestamp": "2026-11-01T10:00:00Z",
           "insertId": "gke-canary", "operation": {"id": "gke-canary-op", "first": True, "last": True}}
    aks = {"category": "kube-audit", "resourceId": "/subscriptions/x/managedClusters/aks-1", "time": "2026-11-01T10:00:00Z",
           "properties": {"log": json.dumps(event(30, "update", request=secret("AksRecord")))}}
    eventlist = {"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "items": [event(31, "create", request=secret("EventListItem"))]}
    return [orjson.dumps(gke), orjson.dumps(aks), orjson.dumps(eventlist)]


def quarantined_lines() -> list[bytes]:
    """Lines that cannot be rows, each hiding a value: they go to quarantine, redacted there."""
    no_id = event(40, "update", request=secret("NoAuditId"))
    del no_id["auditID"]
    patch = event(41, "patch", request=[{"op": "replace", "path": "/data/password", "value": b64(canary("QuarantinedPatch"))}])
    del patch["auditID"]
    yaml = event(42, "patch", request=f"stringData:\n  password: {canary('QuarantinedYaml')}\n")
    del yaml["auditID"]
    tricky = event(43, "update", request={"kind": "Secret", "stringData": {"a": canary("Brace") + '}x"y', "b": [canary("ListItemValue")]}})
    del tricky["auditID"]
    escaped = orjson.dumps(event(44, "update", request={"kind": "Secret", "stringData": {"k": canary("EscapedKey")}})).replace(
        b'"stringData"', b'"\\u0073tringData"').replace(b'"secrets"', b'"\\u0073ecrets"')
    cut = orjson.dumps(event(45, "update", request=secret("CutShort")))
    cut = cut[: cut.index(b"password") + 30]
    bad_byte = b"\xff" + orjson.dumps(event(46, "update", request=secret("BadByte")))
    escaped_cut = escaped.replace(b"canary-044", b"canary-047")[:-20]
    brace_cut = orjson.dumps(tricky)[:-10]
    aks_cut = orjson.dumps({"category": "kube-audit", "properties": {"log": json.dumps(event(48, "update", request=secret("AksCut")))[:-15]}})
    return [orjson.dumps(no_id), orjson.dumps(patch), orjson.dumps(yaml), orjson.dumps(tricky), escaped, cut, bad_byte, escaped_cut,
            brace_cut, aks_cut]


def huge_lines() -> list[bytes]:
    """Events longer than DuckDB's buffers: one whose body is kept (and redacted), one whose body is set aside."""
    kept = event(60, "list", response={"kind": "SecretList", "items": [secret(f"Huge{i}", kind=False) for i in range(2)]
                                       + [{"metadata": {"name": f"pad-{i}"}, "data": {"k": "x" * 1000}} for i in range(17_000)]})
    aside = event(61, "list", response={"kind": "SecretList", "items": [secret("HugeAside", kind=False)]
                                        + [{"metadata": {"name": f"pad-{i}"}, "data": {"k": "x" * 1000}} for i in range(35_000)]})
    return [orjson.dumps(kept), orjson.dumps(aside)]


@pytest.fixture(scope="module")
def canary_lake(tmp_path_factory: pytest.TempPathFactory) -> tuple[Lake, str]:
    CANARIES.clear()
    root = tmp_path_factory.mktemp("canaries")
    log = root / "audit.log"
    lines = [orjson.dumps(item) for item in landing_events()] + wrapped_lines() + quarantined_lines() + huge_lines()
    log.write_bytes(b"\n".join(lines))  # the last line has no newline: a cut-short tail, quarantined and re-read later
    (root / "tail.log").write_bytes(orjson.dumps(event(70, "update", request=secret("Tail")))[:-25])
    result = CliRunner().invoke(app, ["ingest", str(log), str(root / "tail.log"), "--lake", str(root / "lake"), "--cluster", "prod"])
    assert result.exit_code == 0, result.output
    return Lake(root / "lake"), result.output


def leaked(text: str) -> list[str]:
    """The canaries found in `text`, plain or in base64."""
    return [value for value in CANARIES if value in text or b64(value) in text or b64(value)[:-4] in text]


def test_every_event_of_every_shape_lands_or_is_quarantined(canary_lake):
    lake, _ = canary_lake
    rows = set(lake.sql("select audit_id from events").get_column("audit_id").to_list())
    assert {f"canary-{n:03d}" for n in (*range(1, 18), 30, 31, 44, 60, 61)} | {"gke-canary-op"} <= rows  # 44: escaped keys are JSON
    assert lake.sql("select count(*) from quarantine").item() == 10  # nine broken lines and the cut-short tail


def test_no_canary_in_any_column_of_any_file_under_the_lake(canary_lake):
    lake, _ = canary_lake
    text = every_byte_under(lake.path)
    assert not leaked(text)
    assert PREFIX in text and REDACTED_KEY in text  # values were replaced, and the body of unknown shape removed, not dropped


def test_the_bodies_say_what_was_redacted_and_keep_their_keys(canary_lake):
    lake, _ = canary_lake
    bodies = dict(lake.sql("select audit_id, coalesce(response_object, request_object)::varchar from events").iter_rows())
    listed = json.loads(bodies["canary-002"])
    assert listed["items"][0]["data"]["password"].startswith(PREFIX) and listed["items"][0]["metadata"]["name"] == "db"
    assert json.loads(bodies["canary-009"])[REDACTED_KEY].startswith("removed whole")
    assert json.loads(bodies["canary-008"])[REDACTED_KEY].startswith("removed whole")  # YAML as a string
    assert json.loads(bodies["canary-011"])["status"]["token"].startswith(PREFIX)
    uri = lake.sql("select request_uri from events where audit_id = 'canary-013'").item()
    assert "watch=1" in uri and "access_token=hmac-sha256" in uri


def test_the_quarantine_says_what_it_removed(canary_lake):
    lake, _ = canary_lake
    reasons = lake.sql("select reason from quarantine").get_column("reason").to_list()
    assert any("were removed" in reason for reason in reasons)  # cut short lines about secrets are cut, and say so
    assert any("replaced by fingerprints" in reason for reason in reasons)


@pytest.mark.parametrize("output", ["table", "csv", "json", "jsonl", "markdown"])
@pytest.mark.parametrize("table", ["events", "quarantine"])
def test_no_canary_in_any_output_format(canary_lake, output, table):
    lake, _ = canary_lake
    result = CliRunner().invoke(app, ["sql", f"select * from {table}", "--lake", str(lake.path), "--format", output, "--max-rows", "999"])
    assert result.exit_code == 0 and not leaked(result.output)


def test_no_canary_in_parquet_output_drill_down_history_detections_reports_or_log_lines(canary_lake, tmp_path):
    lake, ingest_output = canary_lake
    runner = CliRunner()
    texts = [ingest_output]
    runner.invoke(app, ["sql", "select * from events", "--lake", str(lake.path), "--format", "parquet", "-o", str(tmp_path / "e.parquet")])
    texts.append(every_byte_under(tmp_path))
    for number in (1, 2, 5, 8, 11, 13, 60):
        texts.append(runner.invoke(app, ["event", f"canary-{number:03d}", "--lake", str(lake.path), "--since", "2000-01-01",
                                         "--format", "json"]).output)
    texts.append(runner.invoke(app, ["history", "secrets/payments/db", "--lake", str(lake.path), "--since", "2000-01-01",
                                     "--format", "markdown"]).output)
    texts.append(runner.invoke(app, ["detect", "--lake", str(lake.path), "--since", "2000-01-01", "--format", "json"]).output)
    texts.append(runner.invoke(app, ["status", "--lake", str(lake.path), "--format", "json"]).output)
    reports = tmp_path / "reports"
    runner.invoke(app, ["report", "pci-dss", "--lake", str(lake.path), "--since", "2000-01-01", "--out", str(reports),
                        "--format", "html,md,csv,json"])
    assert any(reports.rglob("*.html"))
    texts.append(every_byte_under(reports))
    assert not leaked("\n".join(texts))
