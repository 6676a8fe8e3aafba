"""Decoding lines into rows: v1 and v1beta1, bad lines, unknown fields, EventLists, huge objects."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditlake import Lake, contract
from auditlake.ingest.decode import EventDecoder
from auditlake.ingest.eventsql import MAX_OBJECT_BYTES
from auditlake.ingest.hugelines import MAX_BODY_BYTES, OMITTED_KEY
from auditlake.ingest.sources import Block
from tests.conftest import DATA

IMMUDB = DATA / "immudb_first_300_lines.log"
V1BETA1 = DATA / "audit2rbac_impersonation_v1beta1.log"
V1 = DATA / "audit2rbac_impersonation_v1_relabelled.log"


def block_of(lines: list[bytes]) -> Block:
    data = b"".join(line + b"\n" for line in lines)
    return Block(data, 1, len(lines), len(data))


@pytest.fixture(scope="module")
def decoder():
    decoder = EventDecoder(None, threads=1)
    yield decoder
    decoder.close()


def rows_by_key(lake: Lake, cluster: str) -> dict[tuple[str, str], dict]:
    table = lake.sql_arrow("SELECT * FROM events WHERE cluster = $c", {"c": cluster}).to_pylist()
    return {(row["audit_id"], row["stage"]): row for row in table}


def test_every_column_of_the_contract_is_decoded_with_its_type(decoder):
    decoded = decoder.decode(block_of(IMMUDB.read_bytes().splitlines()), "immudb")
    assert decoded.table.num_rows == 300 and not decoded.quarantined
    expected = pa.schema([pa.field("cluster", pa.string()), pa.field("date", pa.date32())]
                         + [pa.field(c.name, c.type) for c in contract.STORED_COLUMNS if c.name != "batch"])
    assert decoded.table.schema == expected


def test_fields_equal_an_independent_reading_of_the_file(decoder):
    lines = IMMUDB.read_bytes().splitlines()
    decoded = decoder.decode(block_of(lines), "immudb").table.to_pylist()
    by_line = {row["source_line"]: row for row in decoded}
    for number, line in enumerate(lines, start=1):
        event = json.loads(line)
        row = by_line[number]
        assert row["audit_id"] == event["auditID"] and row["stage"] == event["stage"] and row["verb"] == event["verb"]
        assert row["user_name"] == event["user"]["username"] and row["user_groups"] == event["user"].get("groups")
        assert row["source_ips"] == event["sourceIPs"] and row["source_ip"] == event["sourceIPs"][0]
        assert row["request_uri"] == event["requestURI"] and row["user_agent"] == event.get("userAgent")
        assert row["received_at"].isoformat().replace("+00:00", "Z").startswith(event["requestReceivedTimestamp"][:19])
        ref = event.get("objectRef", {})
        assert (row["resource"], row["namespace"], row["name"], row["subresource"]) == (
            ref.get("resource"), ref.get("namespace"), ref.get("name"), ref.get("subresource"))
        assert row["code"] == event.get("responseStatus", {}).get("code")
        assert row["decision"] == event.get("annotations", {}).get("authorization.k8s.io/decision")


def test_v1beta1_events_land_in_the_same_columns_as_v1(tmp_path):
    lake = Lake(tmp_path / "lake")
    lake.ingest([V1BETA1], cluster="beta")
    lake.ingest([V1], cluster="relabelled")
    beta, relabelled = rows_by_key(lake, "beta"), rows_by_key(lake, "relabelled")
    assert len(beta) == len(relabelled) == 37
    ignore = {"cluster", "event_version", "source_file", "batch"}
    for key, row in beta.items():
        assert {k: v for k, v in row.items() if k not in ignore} == {k: v for k, v in relabelled[key].items() if k not in ignore}
        assert row["event_version"] == "audit.k8s.io/v1beta1"
        assert row["received_at"] is not None and row["stage_at"] == row["received_at"]
        # v1beta1-only fields are mapped onto received_at/stage_at and also kept verbatim
        assert set(json.loads(row["extra"])) == {"timestamp", "metadata"}
    impersonated = {row["impersonated_user"] for row in beta.values()}
    assert impersonated == {"bob", "alice", "system:serviceaccount:ns1:sa1"}
    assert all(row["user_name"] == "system:admin" for row in beta.values())


def test_unknown_fields_are_kept_in_extra_and_never_an_error(decoder):
    event = json.loads(IMMUDB.read_bytes().splitlines()[1])
    event["futureField"] = {"added": "in 1.40"}
    event["p_log_type"] = "Amazon.EKS.Audit"
    decoded = decoder.decode(block_of([orjson.dumps(event)]), "x")
    assert not decoded.quarantined
    assert json.loads(decoded.table.column("extra")[0].as_py()) == {"futureField": {"added": "in 1.40"}, "p_log_type": "Amazon.EKS.Audit"}


def test_bad_lines_are_quarantined_with_their_line_numbers_and_neighbours_land(decoder):
    good = IMMUDB.read_bytes().splitlines()[:6]
    lines = [good[0], b"not json at all", good[1], b"[1, 2, 3]", b"", good[2], b'{"kind":"Event","auditID":"a"}',
             b'\xff\xfe{"bad": "utf8"}', good[3], b'{"auditID":"b","requestReceivedTimestamp":"yesterday"}',
             b'{"auditID":"c","requestReceivedTimestamp":"2023-03-10T22:38:26Z","user":"not-an-object"}', good[4],
             b'{"kind":"Pod","apiVersion":"v1"}', b"   ", good[5]]
    decoded = decoder.decode(block_of(lines), "broken.log")
    assert sorted(decoded.table.column("source_line").to_pylist()) == [1, 3, 6, 9, 12, 15]
    reasons = {record.line: record.reason for record in decoded.quarantined}
    assert [record.item for record in decoded.quarantined if record.line == 4] == [0, 1, 2]
    assert reasons == {
        2: "not JSON: invalid literal, expected 'null' at character 1",
        4: "list item is not a JSON object",  # a line that is an array is read as a list of Events: [1, 2, 3] has 3 bad items
        7: "event has no requestReceivedTimestamp",
        8: "invalid UTF-8 at byte 1",
        10: "requestReceivedTimestamp is not a time: yesterday",
        11: "does not match the audit Event schema: JSON transform error: Expected OBJECT, but got VARCHAR",  # never the value: it may be a secret
        13: "not an audit Event (kind Pod)",
    }
    assert {record.line: record.raw for record in decoded.quarantined}[8] == b'\xff\xfe{"bad": "utf8"}'


def test_an_event_list_gives_the_same_rows_as_its_events_as_lines(decoder):
    lines = IMMUDB.read_bytes().splitlines()[:40]
    as_lines = decoder.decode(block_of(lines), "f").table
    event_list = {"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "metadata": {}, "items": [json.loads(x) for x in lines]}
    as_list = decoder.decode_document(event_list, "f").table
    lineage = ["source_line", "source_item"]
    assert as_list.drop_columns(lineage).sort_by("source_file").to_pylist() == as_lines.drop_columns(lineage).to_pylist()
    assert sorted(as_list.column("source_item").to_pylist()) == list(range(40))
    one_per_line = decoder.decode(block_of([orjson.dumps(event_list)] * 2), "f").table
    assert one_per_line.num_rows == 80 and set(one_per_line.column("source_line").to_pylist()) == {1, 2}


def test_a_pretty_printed_event_list_file_is_read_as_one_document(tmp_path):
    lines = IMMUDB.read_bytes().splitlines()[:25]
    path = tmp_path / "webhook-batch.json"
    path.write_text(json.dumps({"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "items": [json.loads(x) for x in lines]}, indent=2))
    lake = Lake(tmp_path / "lake")
    result = lake.ingest([path], cluster="webhook")
    assert result.events_written == 25 and result.quarantined == 0
    expected = Lake(tmp_path / "lake2")
    expected.ingest([_write_lines(tmp_path / "lines.log", lines)], cluster="webhook")
    columns = "audit_id, stage, verb, user_name, received_at, code"
    assert lake.sql_arrow(f"SELECT {columns} FROM events ORDER BY ALL") == expected.sql_arrow(f"SELECT {columns} FROM events ORDER BY ALL")


def _write_lines(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    return path


def huge_event(items: int) -> bytes:
    """A real RequestResponse envelope whose response is a list of `items` pods of about 1 KB each."""
    event = json.loads((DATA / "khi_lease_update_request_response.jsonl").read_text())
    event["responseObject"] = {"kind": "PodList", "items": [{"metadata": {"name": f"pod-{i}"}, "spec": {"x": "y" * 1000}}
                                                            for i in range(items)]}
    return orjson.dumps(event)


def test_an_event_longer_than_duckdbs_buffers_lands_whole_with_its_body(decoder):
    line = huge_event(28_000)
    assert MAX_OBJECT_BYTES < len(line) < MAX_BODY_BYTES
    decoded = decoder.decode(block_of([line]), "huge.log")
    assert not decoded.quarantined
    assert len(json.loads(decoded.table.column("response_object")[0].as_py())["items"]) == 28_000


def test_a_body_longer_than_the_limit_is_stored_as_its_size_and_fingerprint_and_the_event_lands(decoder):
    line = huge_event(40_000)
    decoded = decoder.decode(block_of([line]), "huge.log")
    assert not decoded.quarantined and decoded.table.num_rows == 1
    row = decoded.table.to_pylist()[0]
    note = json.loads(row["response_object"])
    assert note["bytes"] > MAX_BODY_BYTES and "longer than the 32 MiB" in note[OMITTED_KEY] and note["fingerprint"]
    assert row["verb"] and row["audit_id"] and row["source_line"] == 1  # everything but the body is there


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)
event_like = st.fixed_dictionaries(
    {}, optional={key: json_values for key in ["kind", "auditID", "stage", "verb", "user", "objectRef", "requestReceivedTimestamp",
                                                 "responseStatus", "annotations", "sourceIPs", "requestObject", "whatever"]}
) | json_values


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(event_like, min_size=1, max_size=6))
def test_decoding_never_raises_and_accounts_for_every_line(decoder, values):
    lines = [orjson.dumps(value) for value in values]
    decoded = decoder.decode(block_of(lines), "fuzz")
    landed = decoded.table.num_rows
    # a line that is an array holds its items; an empty one is counted as a record that holds none (every line is accounted for)
    expected = sum(len(value) if isinstance(value, list) and value else 1 for value in values)
    assert landed + len(decoded.quarantined) + decoded.skipped.total() == expected
    assert decoded.table.schema.names[2:] == [c.name for c in contract.STORED_COLUMNS if c.name != "batch"]
