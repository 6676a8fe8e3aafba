"""Secret values never reach disk; their fingerprints still tell when a secret changed."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest

from auditlake import Lake
from auditlake.ingest.redact import LAST_APPLIED, PREFIX, Redactor
from tests.conftest import DATA

PASSWORD = "hunter2-correct-horse"
TOKEN = "ghp_real_looking_token_0123456789"
B64_PASSWORD = base64.b64encode(PASSWORD.encode()).decode()
B64_TOKEN = base64.b64encode(TOKEN.encode()).decode()
SECRETS = [PASSWORD, TOKEN, B64_PASSWORD, B64_TOKEN]


@pytest.fixture
def redactor() -> Redactor:
    return Redactor(b"k" * 32)


def secret_object(name: str = "db") -> dict:
    applied = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": "payments"},
               "data": {"password": B64_PASSWORD}, "stringData": {"token": TOKEN}}
    return {"kind": "Secret", "apiVersion": "v1",
            "metadata": {"name": name, "namespace": "payments", "annotations": {LAST_APPLIED: json.dumps(applied) + "\n"}},
            "data": {"password": B64_PASSWORD}, "stringData": {"token": TOKEN}, "type": "Opaque"}


def assert_clean(text: str) -> None:
    for value in SECRETS:
        assert value not in text


def test_a_secret_body_keeps_its_keys_and_loses_its_values(redactor):
    redacted = json.loads(redactor.redact_body(json.dumps(secret_object()), is_secret_resource=True))
    assert set(redacted["data"]) == {"password"} and redacted["data"]["password"].startswith(PREFIX)
    assert redacted["stringData"]["token"].startswith(PREFIX)
    applied = json.loads(redacted["metadata"]["annotations"][LAST_APPLIED])
    assert applied["data"]["password"] == redacted["data"]["password"]
    assert redacted["metadata"]["annotations"][LAST_APPLIED].endswith("\n")
    assert_clean(json.dumps(redacted))


def test_equal_values_give_equal_fingerprints_and_data_matches_string_data(redactor):
    assert redactor.fingerprint(B64_PASSWORD, is_base64=True) == redactor.fingerprint(PASSWORD)
    assert redactor.fingerprint(PASSWORD) != redactor.fingerprint(PASSWORD + "!")
    assert Redactor(b"x" * 32).fingerprint(PASSWORD) != redactor.fingerprint(PASSWORD)  # keyed per lake


@pytest.mark.parametrize("body", [
    {"data": {"password": B64_PASSWORD}, "stringData": {"token": TOKEN}},  # merge / strategic-merge patch
    [{"op": "replace", "path": "/data/password", "value": B64_PASSWORD}, {"op": "add", "path": "/stringData", "value": {"token": TOKEN}}],
    {"kind": "SecretList", "apiVersion": "v1", "items": [secret_object("a"), secret_object("b")]},
    {"kind": "Table", "rows": [{"cells": ["db"], "object": secret_object()}]},
    {"type": "ADDED", "object": secret_object()},
])
def test_patches_lists_and_nested_secrets_are_redacted(redactor, body):
    assert_clean(redactor.redact_body(json.dumps(body), is_secret_resource=True))


def test_a_body_that_is_not_an_object_is_replaced_whole_for_secrets(redactor):
    assert_clean(redactor.redact_body(json.dumps(f"password: {PASSWORD}"), is_secret_resource=True))


def test_other_resources_are_left_alone(redactor):
    configmap = {"kind": "ConfigMap", "data": {"LOG_LEVEL": "debug"}}
    assert json.loads(redactor.redact_body(json.dumps(configmap), is_secret_resource=False)) == configmap


def test_quarantined_raw_lines_are_scrubbed_even_when_cut_short(redactor):
    line = orjson.dumps({"kind": "Event", "objectRef": {"resource": "secrets"}, "requestObject": secret_object()})
    for cut in (len(line), len(line) - 30, line.index(B64_PASSWORD.encode()) + 5):
        scrubbed = redactor.scrub_raw(line[:cut])[0].decode("utf-8", "replace")
        for value in SECRETS:
            assert value[:8] not in scrubbed


def secret_events() -> list[bytes]:
    """Real RequestResponse envelopes (KHI's lease update) carrying Secret writes, a SecretList and broken lines."""
    envelope = json.loads((DATA / "khi_lease_update_request_response.jsonl").read_text())
    events = []
    for index, (verb, request, response) in enumerate([
        ("create", secret_object(), secret_object()),
        ("patch", {"data": {"password": B64_PASSWORD}}, secret_object()),
        ("patch", [{"op": "replace", "path": "/stringData/token", "value": TOKEN}], secret_object()),
        ("list", None, {"kind": "SecretList", "apiVersion": "v1", "items": [secret_object("a")]}),
    ]):
        event = dict(envelope, auditID=f"secret-{index}", verb=verb,
                     objectRef={"resource": "secrets", "namespace": "payments", "name": "db", "apiVersion": "v1"})
        event["requestObject"], event["responseObject"] = request, response
        event = {key: value for key, value in event.items() if value is not None}
        events.append(orjson.dumps(event))
    events.append(events[0][: len(events[0]) // 2])  # a cut line: quarantined, and scrubbed there
    events.append(b"\xff" + events[1])  # invalid UTF-8: quarantined as base64, scrubbed first
    return events


def every_byte_under(root: Path) -> str:
    """Every column of every Parquet file read back, and every other file, as text."""
    parts = []
    for path in root.rglob("*"):
        if path.is_file() and path.suffix == ".parquet":
            parts.append(json.dumps(pq.read_table(path).to_pylist(), default=str))
        elif path.is_file():
            data = path.read_bytes()
            parts.append(data.decode("latin-1"))
            for line in data.splitlines():  # quarantine keeps invalid UTF-8 as base64
                if b'"raw_base64": "' in line:
                    parts.append(base64.b64decode(json.loads(line)["raw_base64"]).decode("latin-1"))
    return "\n".join(parts)


def test_no_secret_value_anywhere_under_the_lake(tmp_path):
    log = tmp_path / "audit.log"
    log.write_bytes(b"\n".join(secret_events()) + b"\n")
    lake = Lake(tmp_path / "lake")
    result = lake.ingest([log], cluster="prod")
    assert result.events_written == 4 and result.quarantined == 2
    text = every_byte_under(lake.path)
    assert_clean(text)
    assert PREFIX in text
    rows = lake.sql("SELECT verb, request_object, response_object FROM events ORDER BY audit_id").to_dicts()
    created = json.loads(rows[0]["request_object"])
    assert created["data"]["password"].startswith(PREFIX)


def test_the_simulated_cluster_leaks_none_of_its_secrets(fixture_lake):
    truth_values = _demo_secret_values()
    text = every_byte_under(fixture_lake.path)
    assert truth_values and not [value for value in truth_values if value in text]


def _demo_secret_values() -> set[str]:
    from auditlake.demo import ClusterSimulation
    from tests.conftest import DEMO_REQUESTS, DEMO_SEED

    simulation = ClusterSimulation(DEMO_REQUESTS, seed=DEMO_SEED)
    for _ in simulation.events():
        pass
    return simulation.truth.secret_values


def test_the_unsafe_switch_keeps_values_and_says_so_in_the_manifest(tmp_path):
    log = tmp_path / "audit.log"
    log.write_bytes(secret_events()[0] + b"\n")
    lake = Lake(tmp_path / "lake")
    lake.ingest([log], cluster="prod", redact=False)
    text = every_byte_under(lake.path)
    assert B64_PASSWORD in text and TOKEN in text
    assert json.loads((lake.path / "_manifest" / "manifest.json").read_text())["batches"][0]["redacted"] is False
