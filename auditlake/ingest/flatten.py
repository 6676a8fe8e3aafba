"""Decoding: blocks of JSON lines → Arrow rows following `schema.COLUMNS`, plus quarantine records.

Owns: turning audit Events (v1 and v1beta1, one per line, or items of an EventList) into typed
rows, and deciding which lines cannot be rows and why. DuckDB's JSON reader does the parsing and
flattening with an explicit schema (its automatic schema samples rows and drops rare fields; see
DESIGN.md); Python only looks at the rare lines DuckDB cannot take, bisecting a failing block
down to the offending lines so that one bad line never costs its neighbours. Never writes under
the lake: the block is handed to DuckDB through a private scratch file in memory (`/dev/shm`
where there is one), deleted as soon as it has been read.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import re
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from auditlake.ingest import schema, wrappers
from auditlake.ingest.formats import Block
from auditlake.ingest.redact import Redactor

# DuckDB sizes its read buffers by this (twice, per thread), so it bounds memory; a line longer than
# this is retried alone with a limit that fits it (up to HUGE_OBJECT_BYTES) instead of being refused.
MAX_OBJECT_BYTES = 16 << 20
HUGE_OBJECT_BYTES = 1 << 30

_FIELD_TYPES = {
    key: ("STRUCT(" + ", ".join(f'"{name}" {_t if isinstance(_t, str) else "VARCHAR[]"}' for name, _t in value.items()) + ")")
    if isinstance(value, dict) else "VARCHAR[]" if isinstance(value, list) else value
    for key, value in schema.DECODE_STRUCTURE.items()
}
_READ_COLUMNS = "{" + ", ".join(f"'{key}': '{kind}'" for key, kind in _FIELD_TYPES.items()) + "}"

_KNOWN_PRESENT = " + ".join(f'(e."{key}" IS NOT NULL)::INTEGER' for key in schema.EVENT_STRUCTURE)

# Mechanical SQL generated from the column contract: read with the explicit schema and flatten.
# The positional join counts each line's top-level keys (a second, cheaper parse): a line with more
# keys than known fields it filled has fields this version does not know, kept in `extra`.
_COLUMNS_SQL = ",\n    ".join(
    f"{'e._received' if column.name == 'received_at' else column.expression} AS {column.name}" for column in schema.DECODED_COLUMNS
)
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
    END AS _problem,
    (e.objectRef.resource = 'secrets'
      OR contains(CAST(e.requestObject AS VARCHAR), 'Secret')
      OR contains(CAST(e.responseObject AS VARCHAR), 'Secret')) AS _secret_body,
    e.objectRef.resource = 'secrets' AS _is_secret_resource,
    {_KNOWN_PRESENT} AS _known,
    CAST(e._received AS DATE) AS _date,
    {_COLUMNS_SQL}
  FROM (
    SELECT *, try_cast(coalesce("requestReceivedTimestamp", "timestamp") AS TIMESTAMPTZ) AS _received
    FROM read_json($path, format = 'newline_delimited', columns = {_READ_COLUMNS}, maximum_object_size = $max_object)
    WITH ORDINALITY
  ) AS e
) AS d POSITIONAL JOIN (
  SELECT len(json_keys(json)) AS keys FROM read_ndjson_objects($path, maximum_object_size = $max_object)
) AS k
"""
# DuckDB refuses a line with duckdb.Error; a message that quotes a line cut inside a UTF-8
# sequence surfaces as UnicodeDecodeError instead. Both mean "this input", never "this program".
_DECODE_ERRORS = (duckdb.Error, UnicodeDecodeError)
_SCRATCH_NAMES = itertools.count()  # shared by all decoder threads: next() on it is atomic


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


@dataclass
class DecodedBlock:
    """Rows (all stored columns but `batch`, plus `cluster` when a wrapper named it) and what was set aside."""

    table: pa.Table
    quarantined: list[Quarantined]
    skipped: Counter[str] = field(default_factory=Counter)  # wrapper records that are not audit events


class EventDecoder:
    """Decodes blocks with one DuckDB connection; one decoder per ingest run."""

    def __init__(self, redactor: Redactor | None, *, threads: int = 0, memory_limit: str = "512MB",
                 default_time: datetime | None = None, input_format: str = "auto"):
        config: dict[str, Any] = {"threads": threads or (os.cpu_count() or 1), "memory_limit": memory_limit}
        self.connection = duckdb.connect(config=config)
        self.connection.execute("SET TimeZone = 'UTC'")
        self.redactor = redactor
        self.default_time = default_time  # given: events without an id or a time land with a synthetic one
        self.input_format = input_format  # auto: any wrapper; eks/aks/gke: only that one; log/eventlist: none
        scratch = Path("/dev/shm")
        self.scratch_dir = scratch if scratch.is_dir() and os.access(scratch, os.W_OK) else Path(tempfile.gettempdir())
        # What a decoder hands on: the stored columns but `batch` (the writer's), plus the partition
        # columns: `date`, and `cluster` where a managed-cluster wrapper named it (else null).
        self.output_schema = pa.schema([pa.field("cluster", pa.string()), pa.field("date", pa.date32())] +
                                       [pa.field(c.name, c.type) for c in schema.STORED_COLUMNS if c.name != "batch"])

    def close(self) -> None:
        self.connection.close()

    # ---- public ---------------------------------------------------------------------------------
    def decode(self, block: Block, source: str, *, depth: int = 0) -> DecodedBlock:
        """Rows and quarantine records for one block of lines.

        The common block goes to DuckDB as it is. Python looks inside only when DuckDB refuses it or
        returns fewer rows than lines (blank lines): then lines that are not JSON objects are named
        here and the rest bisected, so every line ends up a row or a quarantine record.
        """
        quarantined: list[Quarantined] = []
        arrays: list[DecodedBlock] = []  # lines that are JSON arrays (of Events or of wrapper records)
        try:
            table = self._run(block.pieces)
        except _DECODE_ERRORS:
            table = None
        if table is not None and table.num_rows == block.line_count:
            table = self._with_line_index(table, None)
        else:
            table = self._decode_line_by_line(block, source, quarantined, arrays, depth)
        return self._finish(table, block, source, quarantined, depth, arrays)

    def _decode_line_by_line(self, block: Block, source: str, quarantined: list[Quarantined], arrays: list[DecodedBlock],
                             depth: int) -> pa.Table:
        lines = block.data.split(b"\n")[:-1]
        keep: list[int] = []
        for index, line in enumerate(lines):
            stripped = line.strip(b" \t\r\xef\xbb\xbf")
            if not stripped:
                continue  # blank lines are not events and lose nothing
            if stripped[:1] == b"{":
                keep.append(index)
                lines[index] = stripped
            elif stripped[:1] == b"[" and depth == 0 and not _json_problem(stripped).startswith(("not JSON", "invalid")):
                arrays.append(self.decode_document(orjson.loads(stripped), source, block.line_number(index), depth=0))
            else:
                quarantined.append(self._quarantine(block, source, index, line, _json_problem(stripped)))
        data = b"".join(lines[index] + b"\n" for index in keep)
        return self._decode_robustly(data, block, source, keep, quarantined)

    def decode_document(self, document: Any, source: str, line: int = 1, *, depth: int = 0) -> DecodedBlock:
        """Rows for a whole JSON document: an EventList, a managed-cluster export, a list of either, or one Event."""
        if isinstance(document, dict) and document.get("kind") == "EventList":
            items = document.get("items")
            if not isinstance(items, list):
                reason = "EventList without an items list"
                return DecodedBlock(self.output_schema.empty_table(), [self._make(source, line, None, reason, orjson.dumps(document))])
            return self._decode_items(items, source, line, is_list=True, depth=2)
        unwrapped = self._unwrap(document) if depth < 2 else None
        if unwrapped is not None:
            return self._decode_unwrapped([(unwrapped, line, None)], source)
        if isinstance(document, list):
            return self._decode_items(document, source, line, is_list=True, depth=1)
        return self._decode_items([document], source, line, is_list=False, depth=2)

    # ---- decoding with DuckDB -------------------------------------------------------------------
    def _run(self, chunks: Sequence[bytes | memoryview], max_object: int = MAX_OBJECT_BYTES) -> pa.Table:
        """DuckDB's decoding of whole lines (in pieces), through a private scratch file."""
        path = self.scratch_dir / f"auditlake-{os.getpid()}-{next(_SCRATCH_NAMES)}.jsonl"
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            try:
                _write_all(descriptor, chunks)
            finally:
                os.close(descriptor)
            return self.connection.sql(DECODE_SQL, params={"path": str(path), "max_object": max_object}).to_arrow_table()
        finally:
            path.unlink(missing_ok=True)

    def _decode_robustly(self, data: bytes, block: Block, source: str, keep: list[int] | None,
                         quarantined: list[Quarantined]) -> pa.Table:
        """Decode; if DuckDB refuses the block, find the lines it refuses and quarantine just those.

        Returns the rows with `_line`, each row's 0-based line index in the block.
        """
        if not data:
            return self._empty_decoded()
        try:
            return self._with_line_index(self._run([data]), keep)
        except _DECODE_ERRORS:
            pass
        lines = block.data.split(b"\n")
        candidates = keep if keep is not None else list(range(block.line_count))
        # Python names what is not JSON at all (exact messages); bisection finds what DuckDB still refuses.
        parseable: list[int] = []
        for index in candidates:
            reason = _json_problem(lines[index].strip())
            if reason:
                quarantined.append(self._quarantine(block, source, index, lines[index], reason))
            else:
                parseable.append(index)
        tables: list[pa.Table] = []
        self._bisect(parseable, lines, block, source, quarantined, tables)
        return pa.concat_tables(tables) if tables else self._empty_decoded()

    def _bisect(self, indexes: list[int], lines: list[bytes], block: Block, source: str,
                quarantined: list[Quarantined], tables: list[pa.Table]) -> None:
        if not indexes:
            return
        data = b"".join(lines[index].strip() + b"\n" for index in indexes)
        try:
            if len(indexes) == 1 and len(data) > MAX_OBJECT_BYTES // 2:
                table = self._run([data], min(HUGE_OBJECT_BYTES, 2 * len(data)))  # one huge object: give it room
            else:
                table = self._run([data])
        except _DECODE_ERRORS as error:
            if len(indexes) == 1:
                quarantined.append(self._quarantine(block, source, indexes[0], lines[indexes[0]], _duckdb_reason(error)))
                return
            middle = len(indexes) // 2
            self._bisect(indexes[:middle], lines, block, source, quarantined, tables)
            self._bisect(indexes[middle:], lines, block, source, quarantined, tables)
            return
        tables.append(self._with_line_index(table, indexes))

    @staticmethod
    def _with_line_index(table: pa.Table, indexes: list[int] | None) -> pa.Table:
        """Replace DuckDB's 1-based ordinal (within what it was given) by the line index in the block."""
        ordinal = pc.subtract(table.column("_ordinal"), 1)
        line_index = ordinal if indexes is None else pc.take(pa.array(indexes, pa.int64()), ordinal)
        return table.set_column(table.schema.get_field_index("_ordinal"), "_line", line_index)

    def _empty_decoded(self) -> pa.Table:
        fields = [pa.field("_line", pa.int64()), pa.field("_kind", pa.string()), pa.field("_problem", pa.string()),
                  pa.field("_secret_body", pa.bool_()), pa.field("_is_secret_resource", pa.bool_()),
                  pa.field("_known", pa.int32()), pa.field("_date", pa.date32())]
        fields += [pa.field(column.name, column.type) for column in schema.DECODED_COLUMNS]
        fields.append(pa.field("_keys", pa.int64()))
        return pa.schema(fields).empty_table()

    # ---- after DuckDB ---------------------------------------------------------------------------
    def _finish(self, table: pa.Table, block: Block, source: str, quarantined: list[Quarantined], depth: int,
                arrays: list[DecodedBlock] | None = None) -> DecodedBlock:
        is_problem = pc.invert(pc.is_null(table.column("_problem")))
        is_list = pc.fill_null(pc.equal(table.column("_kind"), "EventList"), False)
        has_unknown = pc.fill_null(pc.not_equal(pc.cast(table.column("_keys"), pa.int64()), pc.cast(table.column("_known"), pa.int64())), False)
        needs_raw = pc.or_(pc.or_(is_problem, is_list), has_unknown)
        raw_lines: dict[int, bytes] = {}
        if pc.any(needs_raw).as_py():
            lines = block.data.split(b"\n")
            raw_lines = {index: lines[index] for index in pc.filter(table.column("_line"), needs_raw).to_pylist()}
        nested: list[DecodedBlock] = list(arrays or [])
        skipped: Counter[str] = Counter()
        wrapped: list[tuple[wrappers.Unwrapped, int, int | None]] = []  # decoded together below: one DuckDB run, not one per line
        # Rows that are not Events may be containers of Events: an EventList, or a managed-cluster export.
        containers = pc.or_(is_problem, is_list)
        for line_index, kind, reason in zip(pc.filter(table.column("_line"), containers).to_pylist(),
                                            pc.filter(table.column("_kind"), containers).to_pylist(),
                                            pc.filter(table.column("_problem"), containers).to_pylist(), strict=True):
            raw = raw_lines[line_index]
            line = block.line_number(line_index)
            if kind == "EventList" and depth > 0:
                quarantined.append(self._quarantine(block, source, line_index, raw, "EventList inside an EventList"))
                continue
            try:
                document = orjson.loads(raw.strip(b" \t\r\xef\xbb\xbf"))
            except orjson.JSONDecodeError:
                document = None
            unwrapped = self._unwrap(document) if kind != "EventList" and depth < 2 else None
            if unwrapped is not None:
                wrapped.append((unwrapped, line, block.items[line_index] if block.items is not None else None))
                continue
            if kind == "EventList":
                inner = self.decode_document(document, source, line, depth=depth)
                if block.items is not None and block.items[line_index] is not None:  # an item of a list: keep its place
                    inner.table = inner.table.set_column(inner.table.schema.get_field_index("source_item"), "source_item",
                                                         pc.fill_null(inner.table.column("source_item"), block.items[line_index]))
                nested.append(inner)
                continue
            if isinstance(document, dict) and self.default_time is not None and reason in _FILLABLE and _looks_like_event(document):
                nested.append(self._decode_items([_fill_missing(document, raw, self.default_time)], source, line,
                                                 is_list=False, depth=2))
                continue
            quarantined.append(self._quarantine(block, source, line_index, raw, reason))
        if wrapped:
            nested.append(self._decode_unwrapped(wrapped, source))
        rows = table.filter(pc.invert(containers)) if pc.any(containers).as_py() else table
        rows = self._lineage(rows, block, source)
        rows = self._extras(rows, raw_lines)
        if self.redactor is not None:
            rows = self._redact(rows)
        rows = rows.rename_columns(["date" if name == "_date" else name for name in rows.column_names])
        rows = rows.append_column("cluster", pa.nulls(rows.num_rows, pa.string()))
        result = rows.select([field.name for field in self.output_schema]).cast(self.output_schema)
        for inner in nested:
            quarantined.extend(inner.quarantined)
            skipped.update(inner.skipped)
        if nested:
            result = pa.concat_tables([result, *(inner.table for inner in nested)])
        # Each block becomes row groups sorted by time (so min/max statistics prune well); `compact`
        # later sorts whole files.
        order = pc.sort_indices(result, [("received_at", "ascending"), ("source_line", "ascending"), ("source_item", "ascending")])
        return DecodedBlock(result.take(order), quarantined, skipped)

    def _unwrap(self, document: Any) -> wrappers.Unwrapped | None:
        if self.input_format in ("log", "eventlist"):
            return None
        return wrappers.unwrap(document, None if self.input_format == "auto" else self.input_format)

    def _decode_unwrapped(self, wrapped: list[tuple[wrappers.Unwrapped, int, int | None]], source: str) -> DecodedBlock:
        """Rows for the Events managed-cluster wrappers held (each with its line, and its item when the wrapper was
        itself an item of a list), in the cluster each wrapper names: one DuckDB run per cluster."""
        problems = [self._make(source, line, item, reason, raw if isinstance(raw, bytes) else orjson.dumps(raw))
                    for unwrapped, line, _ in wrapped for item, reason, raw in unwrapped.problems]
        by_cluster: dict[str | None, list[tuple[int, int | None, dict[str, Any]]]] = {}
        skipped: Counter[str] = Counter()
        for unwrapped, line, outer_item in wrapped:
            skipped.update(unwrapped.skipped)
            by_cluster.setdefault(unwrapped.cluster, []).extend(
                (line, item if item is not None else outer_item, event) for item, event in unwrapped.events)
        tables = []
        for cluster, events in by_cluster.items():
            if not events:  # a wrapper of skipped records or problems only
                continue
            encoded = [orjson.dumps(event) for _, _, event in events]
            block = Block(b"\n".join(encoded) + b"\n", events[0][0], len(encoded), 0, [line for line, _, _ in events],
                          [item for _, item, _ in events])
            decoded = self.decode(block, source, depth=2)
            if cluster:
                decoded.table = decoded.table.set_column(0, "cluster", pc.fill_null(decoded.table.column("cluster"), cluster))
            tables.append(decoded.table)
            problems.extend(decoded.quarantined)
            skipped.update(decoded.skipped)
        table = pa.concat_tables(tables) if tables else self.output_schema.empty_table()
        return DecodedBlock(table, problems, skipped)

    def _lineage(self, rows: pa.Table, block: Block, source: str) -> pa.Table:
        line_index = rows.column("_line")
        if block.line_numbers is None:
            lines = pc.add(line_index, block.first_line)
        else:
            lines = pc.take(pa.array(block.line_numbers, pa.int64()), line_index)
        items = pc.take(pa.array(block.items, pa.int32()), line_index) if block.items is not None else pa.nulls(rows.num_rows, pa.int32())
        rows = rows.append_column("source_file", pc.fill_null(pa.nulls(rows.num_rows, pa.string()), source))
        rows = rows.append_column("source_line", pc.cast(lines, pa.int64()))
        return rows.append_column("source_item", items)

    def _extras(self, rows: pa.Table, raw_lines: dict[int, bytes]) -> pa.Table:
        """The `extra` column: top-level fields the contract does not know, kept verbatim as JSON."""
        if not raw_lines or not rows.num_rows:
            return rows.append_column("extra", pa.nulls(rows.num_rows, schema.JSON))
        values = [None if (raw := raw_lines.get(index)) is None else _unknown_fields(raw) for index in rows.column("_line").to_pylist()]
        return rows.append_column("extra", pa.array(values, pa.string()).cast(schema.JSON))

    def _redact(self, rows: pa.Table) -> pa.Table:
        """Replace Secret values in the bodies (and unknown fields) of the rows that can hold them."""
        assert self.redactor is not None
        has_body = pc.or_(pc.or_(pc.is_valid(rows.column("request_object")), pc.is_valid(rows.column("response_object"))),
                          pc.is_valid(rows.column("extra")))
        has_extra_secret = pc.fill_null(pc.match_substring(rows.column("extra").cast(pa.string()), "Secret"), False)
        needs = pc.and_(pc.or_(pc.fill_null(rows.column("_secret_body"), False), has_extra_secret), has_body)
        if not pc.any(needs).as_py():
            return rows
        is_secret = pc.filter(pc.fill_null(rows.column("_is_secret_resource"), False), needs).to_pylist()
        for name in ("request_object", "response_object", "extra"):
            column = rows.column(name).cast(pa.string())
            originals = pc.filter(column, needs).to_pylist()
            redacted = [None if text is None else self.redactor.redact_body(text, is_secret_resource=secret)
                        for text, secret in zip(originals, is_secret, strict=True)]
            replaced = pc.replace_with_mask(column.combine_chunks(), needs.combine_chunks() if isinstance(needs, pa.ChunkedArray) else needs,
                                            pa.array(redacted, pa.string()))
            rows = rows.set_column(rows.schema.get_field_index(name), name, replaced.cast(schema.JSON))
        return rows

    def _decode_items(self, items: list[Any], source: str, line: int, *, is_list: bool, depth: int) -> DecodedBlock:
        quarantined: list[Quarantined] = []
        encoded: list[bytes] = []
        item_indexes: list[int | None] = []
        for index, item in enumerate(items):
            if isinstance(item, dict):
                encoded.append(orjson.dumps(item))
                item_indexes.append(index if is_list else None)
            else:
                quarantined.append(self._make(source, line, index if is_list else None, "list item is not a JSON object", orjson.dumps(item)))
        if not encoded:
            return DecodedBlock(self.output_schema.empty_table(), quarantined)
        block = Block(b"\n".join(encoded) + b"\n", line, len(encoded), 0, [line] * len(encoded), item_indexes)
        decoded = self.decode(block, source, depth=depth)
        decoded.quarantined[:0] = quarantined
        return decoded

    # ---- quarantine -----------------------------------------------------------------------------
    def _quarantine(self, block: Block, source: str, index: int, raw: bytes, reason: str) -> Quarantined:
        item = block.items[index] if block.items is not None else None
        return self._make(source, block.line_number(index), item, reason, raw)

    def _make(self, source: str, line: int, item: int | None, reason: str, raw: bytes) -> Quarantined:
        scrubbed = self.redactor.scrub_raw(raw) if self.redactor is not None else raw
        return Quarantined(source, line, item, reason, scrubbed)


_FILLABLE = ("event has no auditID", "event has no requestReceivedTimestamp")
FILLED_KEY = "auditlake:filled"


def _looks_like_event(value: dict[str, Any]) -> bool:
    return value.get("kind") == "Event" or any(key in value for key in ("verb", "objectRef", "requestURI", "auditID", "stage"))


def _fill_missing(event: dict[str, Any], raw: bytes, default_time: datetime) -> dict[str, Any]:
    """A synthetic, deterministic auditID and a time for an event that has neither (test fixtures).

    The time is Panther's `p_event_time` when there is one, else `default_time`. The fields filled
    are listed under `auditlake:filled`, which lands in the row's `extra`.
    """
    filled = []
    digest = hashlib.sha256(raw.strip()).hexdigest()
    if not event.get("auditID"):
        event["auditID"] = "synthetic-" + digest[:32]
        filled.append("auditID")
    if not (event.get("requestReceivedTimestamp") or event.get("timestamp")):
        panther = event.get("p_event_time")
        # A sub-second offset taken from the line keeps distinct fixtures that share an auditID distinct.
        offset = timedelta(microseconds=int(digest[:8], 16) % 1_000_000)
        when = wrappers.rfc3339(str(panther)) if panther else (default_time + offset).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        event["requestReceivedTimestamp"] = when
        event.setdefault("stageTimestamp", when)
        filled.append("requestReceivedTimestamp")
    event[FILLED_KEY] = filled
    return event


def _write_all(descriptor: int, chunks: Sequence[bytes | memoryview]) -> None:
    pending = [memoryview(chunk) for chunk in chunks if len(chunk)]
    while pending:
        written = os.writev(descriptor, pending)
        while pending and written >= len(pending[0]):
            written -= len(pending[0])
            pending.pop(0)
        if pending and written:
            pending[0] = pending[0][written:]


def _json_problem(line: bytes) -> str:
    """Why a line is not a JSON object, in words; empty when it is one."""
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as error:
        return f"invalid UTF-8 at byte {error.start + 1}"
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError as error:
        return f"not JSON: {error.msg} at character {error.pos + 1}"
    if isinstance(value, dict):
        return ""
    kind = {str: "string", int: "number", float: "number", list: "array", bool: "boolean"}.get(type(value), "null")
    return f"not a JSON object (a JSON {kind})"


def _duckdb_reason(error: Exception) -> str:
    """DuckDB's message for a single refused line, without its file name and advice."""
    if isinstance(error, UnicodeDecodeError):
        return "does not match the audit Event schema: DuckDB could not decode it"
    text = str(error).split("\n")[0]
    text = re.sub(r'^[A-Za-z ]*Error: ', "", text)
    text = re.sub(r' in file "[^"]*"(, at byte \d+)?(, in line \d+)?', "", text)
    return "does not match the audit Event schema: " + text.strip().rstrip(".")


def _unknown_fields(raw: bytes) -> str | None:
    try:
        event = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    extra = {key: value for key, value in event.items() if key not in schema.KNOWN_EVENT_KEYS}
    return orjson.dumps(extra).decode() if extra else None
