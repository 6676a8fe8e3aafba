"""The column contract of the lake's tables, spelled once: everything else is generated from it.

Owns: `COLUMNS` of `events` (name, Arrow type, where the value comes from in an audit Event, what it
means), the structure the JSON decoder reads Events with, `SCHEMA_VERSION`, and the columns of the
side tables `quarantine`, `findings` and `reviews` (`QUARANTINE`, `FINDINGS`, `REVIEWS`). From these
come the Arrow schema of every Parquet file, the view SQL column lists and DuckDB column comments of
the catalog, the records storage writes, the README's column table and the tests. Owned by no stage
(ingest, store and the library all read it); never reads or writes files and imports nothing from auditlake.

Schema changes only add: new columns go at the end and bump `SCHEMA_VERSION`, which every
batch records in the manifest. Never rename or retype a column in place.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

SCHEMA_VERSION = 1

JSON = pa.json_()
TIMESTAMP = pa.timestamp("us", tz="UTC")
STRINGS = pa.list_(pa.string())


@dataclass(frozen=True)
class Column:
    """One column of `events`: its type, the DuckDB expression that fills it, and its meaning."""

    name: str
    type: pa.DataType
    source: str  # where it comes from in the audit Event (for people)
    description: str
    expression: str = ""  # DuckDB SQL over `e`, the decoded Event; empty for columns filled in Python
    is_partition: bool = False  # stored in the hive path (cluster=…/date=…), not in the files
    is_repetitive: bool = True  # few distinct values: dictionary-encode it in Parquet


# The audit Event fields the decoder reads, as DuckDB json_transform types. Anything else on the
# Event is unknown to this version and lands in `extra`, never an error.
EVENT_STRUCTURE: dict[str, object] = {
    "kind": "VARCHAR",
    "apiVersion": "VARCHAR",
    "level": "VARCHAR",
    "auditID": "VARCHAR",
    "stage": "VARCHAR",
    "requestURI": "VARCHAR",
    "verb": "VARCHAR",
    "user": {"username": "VARCHAR", "uid": "VARCHAR", "groups": ["VARCHAR"], "extra": "JSON"},
    "impersonatedUser": {"username": "VARCHAR", "uid": "VARCHAR", "groups": ["VARCHAR"], "extra": "JSON"},
    "sourceIPs": ["VARCHAR"],
    "userAgent": "VARCHAR",
    "objectRef": {
        "resource": "VARCHAR", "namespace": "VARCHAR", "name": "VARCHAR", "uid": "VARCHAR",
        "apiGroup": "VARCHAR", "apiVersion": "VARCHAR", "resourceVersion": "VARCHAR", "subresource": "VARCHAR",
    },
    "responseStatus": {"code": "VARCHAR", "status": "VARCHAR", "reason": "VARCHAR", "message": "VARCHAR"},
    "requestObject": "JSON",
    "responseObject": "JSON",
    "requestReceivedTimestamp": "VARCHAR",
    "stageTimestamp": "VARCHAR",
    "annotations": "MAP(VARCHAR, VARCHAR)",
}
# v1beta1 fields, read for mapping onto the v1 columns and also kept verbatim in `extra`.
V1BETA1_FIELDS = ("timestamp", "metadata")
DECODE_STRUCTURE = {**EVENT_STRUCTURE, "timestamp": "VARCHAR"}

_RECEIVED = "coalesce(e.requestReceivedTimestamp, e.timestamp)"

# A cluster name is a hive partition value: one rule for `--cluster` and for names read from EKS/AKS/GKE wrappers.
CLUSTER_NAME = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9._-]{0,127}\Z")  # \Z: "$" would also take "prod\n"

COLUMNS: tuple[Column, ...] = (
    Column("cluster", pa.string(), "`--cluster` at ingest", "Cluster the event came from (hive partition).", is_partition=True),
    Column("date", pa.date32(), "UTC day of `requestReceivedTimestamp`", "Day of the request (hive partition): filter on it to prune files.", is_partition=True),
    Column("received_at", TIMESTAMP, "`requestReceivedTimestamp` (v1beta1: `timestamp`)", "When the apiserver received the request.",
           f"try_cast({_RECEIVED} AS TIMESTAMPTZ)", is_repetitive=False),
    Column("stage_at", TIMESTAMP, "`stageTimestamp` (v1beta1: `timestamp`)", "When the event's stage was reached (null when outside years 1 to 9999).",
           "CASE WHEN try_cast(coalesce(e.stageTimestamp, e.timestamp, e.requestReceivedTimestamp) AS TIMESTAMPTZ) "
           "BETWEEN TIMESTAMPTZ '0001-01-01 00:00:00+00' AND TIMESTAMPTZ '9999-12-31 23:59:59.999999+00' "
           "THEN try_cast(coalesce(e.stageTimestamp, e.timestamp, e.requestReceivedTimestamp) AS TIMESTAMPTZ) END", is_repetitive=False),
    Column("audit_id", pa.string(), "`auditID`", "Request id, shared by the events of one request's stages.", "e.auditID", is_repetitive=False),
    Column("stage", pa.string(), "`stage`", "RequestReceived, ResponseStarted, ResponseComplete or Panic. `audit_id`+`stage`+`received_at` is unique per cluster.", "e.stage"),
    Column("level", pa.string(), "`level`", "Audit level the policy chose: Metadata, Request or RequestResponse.", "e.level"),
    Column("verb", pa.string(), "`verb`", "Kubernetes verb (get, list, watch, create, update, patch, delete, …) or HTTP verb for non-resource URLs.", "e.verb"),
    # Clients repeat their paths (a real cluster's log: 491 distinct in 2,971 requests; ≈ 3,600 in a row group of the
    # benchmark's 122,880): dictionary-encoded, a quarter of the decoding time for every detection that shows one.
    Column("request_uri", pa.string(), "`requestURI`", "Path and query the client sent.", "e.requestURI"),
    Column("user_agent", pa.string(), "`userAgent`", "Client's User-Agent (kubectl, helm, controllers, …).", "e.userAgent"),
    Column("source_ip", pa.string(), "`sourceIPs[0]`", "The client address (first of `source_ips`).", "e.sourceIPs[1]"),
    Column("source_ips", STRINGS, "`sourceIPs`", "Client address and any proxies (X-Forwarded-For), in order.", "e.sourceIPs"),
    Column("user_name", pa.string(), "`user.username`", "Authenticated user (for impersonation: the impersonator).", "e.user.username"),
    Column("user_uid", pa.string(), "`user.uid`", "Authenticated user's uid.", "e.user.uid"),
    Column("user_groups", STRINGS, "`user.groups`", "Authenticated user's groups.", "e.user.groups"),
    Column("user_extra", JSON, "`user.extra`", "Authenticator extras as JSON (EKS IAM `arn`, `sessionName`, credential ids, …).", "e.user.extra"),
    Column("impersonated_user", pa.string(), "`impersonatedUser.username`", "User the request impersonated (`kubectl --as`); null when none.", "e.impersonatedUser.username"),
    Column("impersonated_uid", pa.string(), "`impersonatedUser.uid`", "Impersonated user's uid.", "e.impersonatedUser.uid"),
    Column("impersonated_groups", STRINGS, "`impersonatedUser.groups`", "Impersonated groups (`--as-group`).", "e.impersonatedUser.groups"),
    Column("impersonated_extra", JSON, "`impersonatedUser.extra`", "Impersonated extras as JSON.", "e.impersonatedUser.extra"),
    Column("resource", pa.string(), "`objectRef.resource`", "Resource type, plural (pods, secrets, deployments, …).", "e.objectRef.resource"),
    Column("subresource", pa.string(), "`objectRef.subresource`", "Subresource (exec, log, status, scale, …).", "e.objectRef.subresource"),
    Column("namespace", pa.string(), "`objectRef.namespace`", "Namespace; null for cluster-scoped objects and non-resource URLs.", "e.objectRef.namespace"),
    Column("name", pa.string(), "`objectRef.name`", "Object name; null for list/watch/create-collection.", "e.objectRef.name"),
    Column("api_group", pa.string(), "`objectRef.apiGroup`", "API group (empty or null for the core group).", "e.objectRef.apiGroup"),
    Column("api_version", pa.string(), "`objectRef.apiVersion`", "API version of the object.", "e.objectRef.apiVersion"),
    Column("object_uid", pa.string(), "`objectRef.uid`", "Object uid, when the apiserver knew it.", "e.objectRef.uid", is_repetitive=False),
    Column("resource_version", pa.string(), "`objectRef.resourceVersion`", "Object resourceVersion, when known.", "e.objectRef.resourceVersion", is_repetitive=False),
    Column("code", pa.int32(), "`responseStatus.code`", "HTTP status code of the response; null at RequestReceived.", "try_cast(e.responseStatus.code AS INTEGER)"),
    Column("status", pa.string(), "`responseStatus.status`", "Success or Failure (often only set on failures).", "e.responseStatus.status"),
    Column("reason", pa.string(), "`responseStatus.reason`", "Machine-readable failure reason (Forbidden, NotFound, Conflict, …).", "e.responseStatus.reason"),
    Column("message", pa.string(), "`responseStatus.message`", "Human-readable failure message.", "e.responseStatus.message", is_repetitive=False),
    Column("decision", pa.string(), "`annotations[\"authorization.k8s.io/decision\"]`", "Authorizer decision: allow or forbid.", "e.annotations['authorization.k8s.io/decision']"),
    Column("authz_reason", pa.string(), "`annotations[\"authorization.k8s.io/reason\"]`", "Why the authorizer decided so (the RBAC binding that allowed it).", "e.annotations['authorization.k8s.io/reason']"),
    Column("annotations", pa.map_(pa.string(), pa.string()), "`annotations`", "All audit annotations (admission, pod-security, authorization).", "e.annotations"),
    Column("request_object", JSON, "`requestObject`", "Request body as JSON (Request and RequestResponse levels); Secret values replaced by fingerprints.", "e.requestObject", is_repetitive=False),
    Column("response_object", JSON, "`responseObject`", "Response body as JSON (RequestResponse level); Secret values replaced by fingerprints.", "e.responseObject", is_repetitive=False),
    Column("event_version", pa.string(), "`apiVersion`", "Audit API version of the Event: audit.k8s.io/v1 or v1beta1.", "e.apiVersion"),
    Column("extra", JSON, "any other top-level field", "Fields this schema version does not know (v1beta1 `timestamp`/`metadata`, exporter fields), as JSON; null when none.", "", is_repetitive=False),
    Column("source_file", pa.string(), "lineage", "Absolute path of the file the event was read from (`<stdin>` for standard input).", ""),
    Column("source_line", pa.int64(), "lineage", "1-based line of that file where the event (or its EventList) starts.", "", is_repetitive=False),
    Column("source_item", pa.int32(), "lineage", "0-based index of the event inside an EventList on that line; null for log lines.", ""),
    Column("batch", pa.string(), "lineage", "Ingest batch that wrote the row (see `_manifest/manifest.json`).", ""),
)

COLUMN_NAMES = tuple(column.name for column in COLUMNS)
STORED_COLUMNS = tuple(column for column in COLUMNS if not column.is_partition)
JSON_COLUMN_NAMES = frozenset(column.name for column in COLUMNS if column.type == JSON)  # DuckDB hands these out as text
PARTITION_COLUMNS = tuple(column for column in COLUMNS if column.is_partition)
DECODED_COLUMNS = tuple(column for column in STORED_COLUMNS if column.expression)
KNOWN_EVENT_KEYS = frozenset(EVENT_STRUCTURE)

# Python types a JSON value must have for each known top-level key (a mismatch keeps the raw value in `extra`).
EXPECTED_JSON_TYPES: dict[str, tuple[type, ...]] = {
    key: (dict,) if isinstance(kind, dict) else (list,) if isinstance(kind, list) else (dict, list, str, int, float, bool) if kind == "JSON"
    else (dict,) if str(kind).startswith("MAP") else (str,)
    for key, kind in EVENT_STRUCTURE.items()
}


def stored_schema() -> pa.Schema:
    """The Arrow schema of every events Parquet file (partition columns live in the path)."""
    return pa.schema([pa.field(column.name, column.type) for column in STORED_COLUMNS])


def decode_structure_json() -> str:
    """The `json_transform` structure, as the JSON text DuckDB expects."""
    return json.dumps(DECODE_STRUCTURE)


def duckdb_type(column: Column) -> str:
    """The DuckDB type a column has in the `events` view (used for empty lakes and comments)."""
    mapping = {
        pa.string(): "VARCHAR", pa.date32(): "DATE", TIMESTAMP: "TIMESTAMP WITH TIME ZONE", pa.int32(): "INTEGER",
        pa.int64(): "BIGINT", STRINGS: "VARCHAR[]", JSON: "JSON", pa.map_(pa.string(), pa.string()): "MAP(VARCHAR, VARCHAR)",
    }
    return mapping[column.type]


def markdown_table() -> str:
    """The README's column reference, generated so it can never drift from the contract."""
    lines = ["| column | type | from the audit Event | meaning |", "|---|---|---|---|"]
    for column in COLUMNS:
        lines.append(f"| `{column.name}` | {duckdb_type(column)} | {column.source} | {column.description} |")
    return "\n".join(lines)


# ---- the side tables: quarantine, findings, reviews ------------------------------------------------
def sql_string(value: str) -> str:
    """A SQL string literal (for the few places DuckDB does not take a bound parameter: DDL).

    >>> sql_string("it's")
    "'it''s'"
    """
    return "'" + value.replace("'", "''") + "'"


def quote_identifier(name: str) -> str:
    """A SQL identifier, quoted.

    >>> quote_identifier('a"b')
    '"a""b"'
    """
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class Table:
    """A side table's columns (name and DuckDB type, in order): its records, view columns and empty view come from here."""

    name: str
    columns: tuple[tuple[str, str], ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.columns)

    def select_list(self) -> str:
        """`a, b, c`: the view's columns, in contract order."""
        return ", ".join(self.names)

    def empty_select(self) -> str:
        """A query with every column, typed, and no rows: the view over a lake with no such files yet."""
        return "SELECT " + ", ".join(f"CAST(NULL AS {kind}) AS {name}" for name, kind in self.columns) + " WHERE false"

    def json_columns(self) -> str:
        """The `columns =` struct `read_json` takes: `{'id': 'VARCHAR', …}`."""
        return "{" + ", ".join(f"{sql_string(name)}: {sql_string(kind)}" for name, kind in self.columns) + "}"

    def row(self, **values: Any) -> dict[str, Any]:
        """One record with exactly this table's columns, in order (a missing or unknown column is an error)."""
        if set(values) != set(self.names):
            missing, unknown = sorted(set(self.names) - set(values)), sorted(set(values) - set(self.names))
            raise ValueError(f"{self.name} record: missing {missing}, unknown {unknown}")
        return {name: values[name] for name in self.names}


@dataclass(frozen=True)
class Quarantined:
    """A line (or EventList item) that could not become a row, kept with where it came from and why."""

    source: str
    line: int
    item: int | None
    reason: str
    raw: bytes


def quarantine_id(cluster: str, fingerprint: str, source: str, line: int, item: int | None) -> str:
    """Names one quarantined line: reading the same line again replaces its record instead of adding one."""
    return f"{cluster}/{fingerprint}/{source}:{line}" + (f"#{item}" if item is not None else "")


# Lines that could not be read (`quarantine/<batch>.jsonl`, one JSON object per line).
QUARANTINE = Table("quarantine", (
    ("id", "VARCHAR"), ("batch", "VARCHAR"), ("cluster", "VARCHAR"), ("source_file", "VARCHAR"), ("source_fingerprint", "VARCHAR"),
    ("source_line", "BIGINT"), ("source_item", "INTEGER"), ("reason", "VARCHAR"), ("raw", "VARCHAR"), ("raw_base64", "VARCHAR"),
    ("quarantined_at", "TIMESTAMPTZ"),
))
# Detections written back (`findings/cluster=…/date=…/findings.parquet`; cluster and date live in the path).
FINDINGS = Table("findings", (
    ("received_at", "TIMESTAMPTZ"), ("cluster", "VARCHAR"), ("date", "DATE"), ("rule", "VARCHAR"), ("severity", "VARCHAR"),
    ("actor", "VARCHAR"), ("source_ip", "VARCHAR"), ("verb", "VARCHAR"), ("object", "VARCHAR"), ("summary", "VARCHAR"),
    ("audit_id", "VARCHAR"), ("found_at", "TIMESTAMPTZ"),
))
# What every detection returns: the findings columns but the partition date and the time it was first found.
FINDING_COLUMNS = tuple(name for name in FINDINGS.names if name not in ("date", "found_at"))
FINDING_KEY = ("rule", "audit_id")  # one finding per rule and event: rerunning a detection adds nothing
# Review evidence (`reviews/<id>.json`, one review each).
REVIEWS = Table("reviews", (
    ("id", "VARCHAR"), ("reviewed_at", "TIMESTAMPTZ"), ("reviewer", "VARCHAR"), ("note", "VARCHAR"), ("accepted", "BOOLEAN"),
    ("kind", "VARCHAR"), ("target", "VARCHAR"), ("pack", "VARCHAR"), ("control", "VARCHAR"), ("query", "VARCHAR"),
    ("audit_id", "VARCHAR"), ("since", "TIMESTAMPTZ"), ("until", "TIMESTAMPTZ"), ("cluster", "VARCHAR"), ("rows", "BIGINT"),
    ("digest", "VARCHAR"), ("evidence", "JSON"), ("auditlake_version", "VARCHAR"),
))
