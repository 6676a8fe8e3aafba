"""What DuckDB is asked: the SQL that decodes a block of JSON lines, generated from the column contract.

Owns: `DECODE_SQL` (read with the explicit schema of `contract.DECODE_STRUCTURE`, flatten to
`contract.DECODED_COLUMNS`, say per line why it cannot be a row, and flag what redaction must look
at), `run` (a block through it, by way of a scratch file), `MAX_OBJECT_BYTES` (the longest line
DuckDB is given) and `duckdb_reason` (a refusal as a reason that quotes none of the line's data).
DuckDB's automatic schema samples rows and drops rare fields (see DESIGN.md): never used here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import duckdb
import pyarrow as pa

from auditlake import contract
from auditlake.ingest import redact, scratch

# DuckDB sizes its read buffers by this (twice, per thread), so it bounds memory; a longer line has its
# bodies set aside before DuckDB sees it (see `hugelines`).
MAX_OBJECT_BYTES = 16 << 20

_FIELD_TYPES = {
    key: ("STRUCT(" + ", ".join(f'"{name}" {_t if isinstance(_t, str) else "VARCHAR[]"}' for name, _t in value.items()) + ")")
    if isinstance(value, dict) else "VARCHAR[]" if isinstance(value, list) else value
    for key, value in contract.DECODE_STRUCTURE.items()
}
_READ_COLUMNS = "{" + ", ".join(f"'{key}': '{kind}'" for key, kind in _FIELD_TYPES.items()) + "}"

_KNOWN_PRESENT = " + ".join(f'(e."{key}" IS NOT NULL)::INTEGER' for key in contract.EVENT_STRUCTURE)

# Mechanical SQL generated from the column contract: read with the explicit schema and flatten.
# The positional join counts each line's top-level keys (a second, cheaper parse): a line with more
# keys than known fields it filled has fields this version does not know, kept in `extra`.
_COLUMNS_SQL = ",\n    ".join(
    f"{'e._received' if column.name == 'received_at' else column.expression} AS {column.name}" for column in contract.DECODED_COLUMNS
)
# The times Python (and so every consumer of the lake) can represent: outside them a row would break readers.
_FIRST_TIME, _LAST_TIME = "TIMESTAMPTZ '0001-01-01 00:00:00+00'", "TIMESTAMPTZ '9999-12-31 23:59:59.999999+00'"
_BODY_NEEDS_LOOK = redact.BODY_NEEDS_LOOK.replace("'", "''")


def _needs_look(body: str) -> str:
    """SQL: may this body hold a Secret or a credential? (The same test as `Redactor.looks_worth_redacting`.)"""
    return f"coalesce(regexp_matches(CAST({body} AS VARCHAR), '{_BODY_NEEDS_LOOK}'), false)"

_URI_NEEDS_LOOK = redact.URI_NEEDS_LOOK.replace("'", "''")
DECODE_SQL = f"""
SELECT d.*, k.keys AS _keys FROM (
  SELECT
    e.ordinality AS _ordinal,
    e.kind AS _kind,
    CASE
      WHEN e.kind IS NOT NULL AND e.kind NOT IN ('Event', 'EventList') THEN 'not an audit Event (kind ' || e.kind || ')'
      WHEN e.kind = 'EventList' THEN NULL
      WHEN coalesce(e.auditID, '') = '' THEN 'event has no auditID'
      WHEN coalesce(e.requestReceivedTimestamp, e.timestamp) IS NULL THEN 'event has no requestReceivedTimestamp'
      WHEN e._received IS NULL THEN 'requestReceivedTimestamp is not a time: ' || coalesce(e.requestReceivedTimestamp, e.timestamp)
      WHEN NOT e._received BETWEEN {_FIRST_TIME} AND {_LAST_TIME}
        THEN 'requestReceivedTimestamp out of range (years 1 to 9999): ' || coalesce(e.requestReceivedTimestamp, e.timestamp)
    END AS _problem,
    (e._about_secrets OR {_needs_look("e.requestObject")} OR {_needs_look("e.responseObject")}) AS _secret_body,
    e._about_secrets AS _is_secret_resource,
    (contains(e.requestURI, '=') AND regexp_matches(e.requestURI, '{_URI_NEEDS_LOOK}')) AS _credential_uri,
    {_KNOWN_PRESENT} AS _known,
    CAST(e._received AS DATE) AS _date,
    {_COLUMNS_SQL}
  FROM (
    SELECT *, try_cast(coalesce("requestReceivedTimestamp", "timestamp") AS TIMESTAMPTZ) AS _received,
      coalesce("objectRef".resource = 'secrets', {redact.is_secrets_uri_sql('"requestURI"')}) AS _about_secrets
    FROM read_json($path, format = 'newline_delimited', columns = {_READ_COLUMNS}, maximum_object_size = $max_object)
    WITH ORDINALITY
  ) AS e
) AS d POSITIONAL JOIN (
  SELECT len(json_keys(json)) AS keys FROM read_ndjson_objects($path, maximum_object_size = $max_object)
) AS k
"""
# DuckDB refuses a line with duckdb.Error; a message that quotes a line cut inside a UTF-8
# sequence surfaces as UnicodeDecodeError instead. Both mean "this input", never "this program".
DECODE_ERRORS = (duckdb.Error, UnicodeDecodeError)


def run(connection: duckdb.DuckDBPyConnection, chunks: Sequence[bytes | memoryview]) -> pa.Table:
    """DuckDB's decoding of whole lines (in pieces), through a private scratch file that dies with the block."""
    with scratch.holding(chunks) as path:
        return connection.sql(DECODE_SQL, params={"path": path, "max_object": MAX_OBJECT_BYTES}).to_arrow_table()


def decoded_schema() -> pa.Schema:
    """The columns `run` returns (with `_line` in place of `_ordinal`, as the decoder hands them on), for a block with no rows."""
    fields = [pa.field("_line", pa.int64()), pa.field("_kind", pa.string()), pa.field("_problem", pa.string()),
              pa.field("_secret_body", pa.bool_()), pa.field("_is_secret_resource", pa.bool_()),
              pa.field("_credential_uri", pa.bool_()), pa.field("_known", pa.int32()), pa.field("_date", pa.date32())]
    fields += [pa.field(column.name, pa.string() if column.type == contract.JSON else column.type)  # as DuckDB hands JSON out
               for column in contract.DECODED_COLUMNS]
    fields.append(pa.field("_keys", pa.int64()))
    return pa.schema(fields)


def duckdb_reason(error: Exception) -> str:
    """DuckDB's message for a single refused line, without its file name, its advice, or the values it quotes.

    DuckDB quotes the value it could not take ("Expected OBJECT, but got VARCHAR: "…""): that value is
    the line's data, maybe a secret, and a reason is printed and stored in clear. Only its type is kept.
    """
    if isinstance(error, UnicodeDecodeError):
        return "does not match the audit Event schema: DuckDB could not decode it"
    text = str(error).split("\n")[0]
    text = re.sub(r'^[A-Za-z ]*Error: ', "", text)
    text = re.sub(r' in file "[^"]*"(, at byte \d+)?(, in line \d+)?', "", text)
    text = re.sub(r"(but got \w+):.*", r"\1", text)
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'[^\']*\'', "…", text)[:200]
    return "does not match the audit Event schema: " + text.strip().rstrip(".")
