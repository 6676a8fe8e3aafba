"""Decoding: blocks of JSON lines → Arrow rows following `contract.COLUMNS`, plus quarantine records.

Owns: turning audit Events (v1 and v1beta1, one per line, or items of an EventList, or inside a
managed-cluster wrapper) into typed rows, and deciding which lines cannot be rows and why. DuckDB
does the parsing and flattening (`eventsql`); Python only looks at the rare lines DuckDB cannot
take, bisecting a failing block down to the offending lines so that one bad line never costs its
neighbours. A line too long for DuckDB's buffers has its bodies set aside first (`hugelines`), so
memory stays bounded. After DuckDB: lineage, unknown fields kept in `extra`, redaction. Never
writes under the lake (a block reaches DuckDB through `scratch`).
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from auditlake import contract, duck
from auditlake.contract import Quarantined
from auditlake.ingest import eventsql, hugelines, jsontext, redact, wrappers
from auditlake.ingest.eventsql import DECODE_ERRORS, MAX_OBJECT_BYTES, duckdb_reason
from auditlake.ingest.hugelines import HUGE_DOCUMENT_BYTES
from auditlake.ingest.redact import Redactor
from auditlake.ingest.sources import Block, clean_line
from auditlake.ingest.wrappers.common import rfc3339

EMPTY_LIST = "empty EventLists or arrays (no events in them)"


@dataclass
class DecodedBlock:
    """Rows (all stored columns but `batch`, plus `cluster` when a wrapper named it) and what was set aside."""

    table: pa.Table
    quarantined: list[Quarantined]
    skipped: Counter[str] = field(default_factory=Counter)  # wrapper records that are not audit events
    blank: int = 0  # lines with nothing but whitespace: not events, counted so that every line is accounted for


class EventDecoder:
    """Decodes blocks with one DuckDB connection; one decoder per ingest run."""

    def __init__(self, redactor: Redactor | None, *, threads: int = 0, memory_limit: str = "512MB",
                 default_time: datetime | None = None, input_format: str = "auto"):
        self.connection = duck.connect(threads=threads or (os.cpu_count() or 1), memory_limit=memory_limit)
        self.connection.execute("SET enable_external_file_cache = false")  # scratch paths are reused: never serve a cached block
        self.redactor = redactor
        self.default_time = default_time  # given: events without an id or a time land with a synthetic one
        self.input_format = input_format  # auto: any wrapper; eks/aks/gke: only that one; log/eventlist: none
        # What a decoder hands on: the stored columns but `batch` (the writer's), plus the partition
        # columns: `date`, and `cluster` where a managed-cluster wrapper named it (else null).
        self.output_schema = pa.schema([pa.field("cluster", pa.string()), pa.field("date", pa.date32())] +
                                       [pa.field(c.name, c.type) for c in contract.STORED_COLUMNS if c.name != "batch"])

    def close(self) -> None:
        self.connection.close()

    # ---- public ---------------------------------------------------------------------------------
    def decode(self, block: Block, source: str, *, depth: int = 0) -> DecodedBlock:
        """Rows and quarantine records for one block of lines.

        The common block goes to DuckDB as it is. Python looks inside only when DuckDB refuses it or
        returns fewer rows than lines (blank lines): then lines that are not JSON objects are named
        here and the rest bisected, so every line ends up a row, a quarantine record or a counted
        blank line.
        """
        quarantined: list[Quarantined] = []
        arrays: list[DecodedBlock] = []  # lines that are JSON arrays (of Events or of wrapper records)
        table = None
        if not block.has_line_longer_than(MAX_OBJECT_BYTES):
            try:
                table = self._run(block.pieces)
            except DECODE_ERRORS:
                pass
        if table is not None and table.num_rows == block.line_count:
            return self._finish(self._with_line_index(table, None), block, source, quarantined, depth, arrays)
        lines = block.data.split(b"\n")[:-1]
        block.release()  # from here on only `lines` are read: do not hold the block's bytes twice
        table, blank = self._decode_line_by_line(lines, block, source, quarantined, arrays, depth)
        decoded = self._finish(table, block, source, quarantined, depth, arrays, lines)
        decoded.blank += blank
        return decoded

    def _decode_line_by_line(self, lines: list[bytes], block: Block, source: str, quarantined: list[Quarantined],
                             arrays: list[DecodedBlock], depth: int) -> tuple[pa.Table, int]:
        """Rows of the lines that are JSON objects, and the number of blank lines; `lines` become the cleaned lines."""
        keep: list[int] = []
        tables: list[pa.Table] = []
        blank = 0
        for index, line in enumerate(lines):
            if len(line) > MAX_OBJECT_BYTES:
                huge = self._decode_huge_line(line, index, block, source, quarantined, arrays, depth)
                if huge is not None:
                    tables.append(huge[0])
                    lines[index] = huge[1]
                continue
            stripped = clean_line(line)
            if not stripped:
                if line.strip():
                    quarantined.append(self._quarantine(block, source, index, line, "a byte-order mark and nothing else"))
                else:
                    blank += 1  # blank lines are not events: counted, not stored
                continue
            lines[index] = stripped
            problem = _json_problem(stripped)  # Python names what is not a JSON object (exact messages); DuckDB gets the rest
            if not problem:
                keep.append(index)
            elif stripped[:1] == b"[" and depth == 0 and not problem.startswith(("not JSON", "invalid")):
                arrays.append(self.decode_document(orjson.loads(stripped), source, block.line_number(index), depth=0))
            else:
                quarantined.append(self._quarantine(block, source, index, line, problem))
        tables.append(self._decode_robustly(lines, keep, block, source, quarantined))
        return pa.concat_tables(tables), blank

    def decode_document(self, document: Any, source: str, line: int = 1, *, depth: int = 0) -> DecodedBlock:
        """Rows for a whole JSON document: an EventList, a managed-cluster export, a list of either, or one Event."""
        if isinstance(document, dict) and document.get("kind") == "EventList":
            items = document.get("items")
            if not isinstance(items, list):
                reason = "EventList without an items list"
                return DecodedBlock(self.output_schema.empty_table(), [self._make(source, line, None, reason, jsontext.dumps(document))])
            return self._decode_items(items, source, line, is_list=True, depth=2)
        unwrapped = self._unwrap(document) if depth < 2 else None
        if unwrapped is not None:
            return self._decode_unwrapped([(unwrapped, line, None)], source)
        if isinstance(document, list):
            return self._decode_items(document, source, line, is_list=True, depth=1)
        return self._decode_items([document], source, line, is_list=False, depth=2)

    # ---- decoding with DuckDB -------------------------------------------------------------------
    def _run(self, chunks: Sequence[bytes | memoryview]) -> pa.Table:
        return eventsql.run(self.connection, chunks)

    def _decode_robustly(self, lines: list[bytes], indexes: list[int], block: Block, source: str,
                         quarantined: list[Quarantined]) -> pa.Table:
        """Decode the cleaned `lines` at `indexes` (JSON objects); if DuckDB refuses some, bisect down to them and quarantine
        just those. Returns the rows with `_line`, each row's 0-based line index in the block."""
        tables: list[pa.Table] = []
        self._bisect(indexes, lines, block, source, quarantined, tables)
        return pa.concat_tables(tables) if tables else eventsql.decoded_schema().empty_table()

    def _bisect(self, indexes: list[int], lines: list[bytes], block: Block, source: str,
                quarantined: list[Quarantined], tables: list[pa.Table]) -> None:
        if not indexes:
            return
        try:
            table = self._run([b"".join(lines[index] + b"\n" for index in indexes)])
        except DECODE_ERRORS as error:
            if len(indexes) == 1:
                quarantined.append(self._quarantine(block, source, indexes[0], lines[indexes[0]], duckdb_reason(error)))
                return
            middle = len(indexes) // 2
            self._bisect(indexes[:middle], lines, block, source, quarantined, tables)
            self._bisect(indexes[middle:], lines, block, source, quarantined, tables)
            return
        tables.append(self._with_line_index(table, indexes))

    # ---- lines too long for DuckDB's buffers -----------------------------------------------------
    def _decode_huge_line(self, line: bytes, index: int, block: Block, source: str, quarantined: list[Quarantined],
                          arrays: list[DecodedBlock], depth: int) -> tuple[pa.Table, bytes] | None:
        """A line over MAX_OBJECT_BYTES, decoded in bounded memory: (its row, the line as DuckDB saw it), or None.

        An Event this long is long because of its bodies: DuckDB decodes the Event with each body set
        aside (`null`), then each body is put back as the JSON text it was, or, when it is longer than
        MAX_BODY_BYTES, replaced by a note with its size and fingerprint. A long line that is not an
        Event (an EventList, an export) is parsed whole up to HUGE_DOCUMENT_BYTES; past that, or when
        the line is long outside its bodies, it is quarantined with that reason.
        """
        size = f"{len(line) / (1 << 20):,.1f} MiB"
        spans = hugelines.body_spans(line)
        if spans is None:
            if len(line) > HUGE_DOCUMENT_BYTES:
                reason = (f"a JSON line of {size} that is not one audit Event with its bodies: longer than "
                          f"{HUGE_DOCUMENT_BYTES >> 20} MiB, it is not read (split it into one Event per line)")
                quarantined.append(self._quarantine(block, source, index, line, reason))
                return None
            problem = _json_problem(clean_line(line))
            if problem:
                quarantined.append(self._quarantine(block, source, index, line, problem))
            else:
                arrays.append(self.decode_document(orjson.loads(clean_line(line)), source, block.line_number(index), depth=depth))
            return None
        skeleton, bodies = hugelines.set_aside(line, spans, self.redactor.fingerprint if self.redactor is not None else None)
        if len(skeleton) > MAX_OBJECT_BYTES:
            reason = (f"an Event of {size} whose size is not in its requestObject or responseObject: over "
                      f"{MAX_OBJECT_BYTES >> 20} MiB outside its bodies, it is not read")
            quarantined.append(self._quarantine(block, source, index, line, reason))
            return None
        skeleton = clean_line(skeleton)
        try:
            table = self._with_line_index(self._run([skeleton + b"\n"]), [index])
        except DECODE_ERRORS as error:
            quarantined.append(self._quarantine(block, source, index, line, duckdb_reason(error)))
            return None
        is_secret = bool(table.column("_is_secret_resource")[0].as_py())
        for key, text in bodies.items():
            name = "request_object" if key == "requestObject" else "response_object"
            table = table.set_column(table.schema.get_field_index(name), name, pa.array([text], pa.string()))
            if not is_secret and self.redactor is not None and self.redactor.looks_worth_redacting(text):
                table = table.set_column(table.schema.get_field_index("_secret_body"), "_secret_body", pa.array([True]))
        return table, skeleton

    @staticmethod
    def _with_line_index(table: pa.Table, indexes: list[int] | None) -> pa.Table:
        """Replace DuckDB's 1-based ordinal (within what it was given) by the line index in the block."""
        ordinal = pc.subtract(table.column("_ordinal"), 1)
        line_index = ordinal if indexes is None else pc.take(pa.array(indexes, pa.int64()), ordinal)
        return table.set_column(table.schema.get_field_index("_ordinal"), "_line", line_index)

    # ---- after DuckDB ---------------------------------------------------------------------------
    def _finish(self, table: pa.Table, block: Block, source: str, quarantined: list[Quarantined], depth: int,
                arrays: list[DecodedBlock] | None = None, lines: list[bytes] | None = None) -> DecodedBlock:
        """Rows out of DuckDB's table: containers opened, lineage, unknown fields and redaction added.

        `lines` are the block's lines as DuckDB was given them, when the block was read line by line.
        """
        is_problem = pc.invert(pc.is_null(table.column("_problem")))
        is_list = pc.fill_null(pc.equal(table.column("_kind"), "EventList"), False)
        has_unknown = pc.fill_null(pc.not_equal(pc.cast(table.column("_keys"), pa.int64()), pc.cast(table.column("_known"), pa.int64())), False)
        needs_raw = pc.or_(pc.or_(is_problem, is_list), has_unknown)
        raw_lines: dict[int, bytes] = {}
        if pc.any(needs_raw).as_py():
            lines = lines if lines is not None else block.data.split(b"\n")
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
                document = orjson.loads(clean_line(raw))
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
        # Blocks arrive at the writer sorted by time, so its row groups are slices of time (min/max statistics
        # prune a window); it sorts each by resource inside (store.files.RowGroupWriter).
        order = pc.sort_indices(result, [("received_at", "ascending"), ("source_line", "ascending"), ("source_item", "ascending")])
        return DecodedBlock(result.take(order), quarantined, skipped)

    def _unwrap(self, document: Any) -> wrappers.Unwrapped | None:
        if self.input_format in ("log", "eventlist"):
            return None
        return wrappers.unwrap(document, None if self.input_format == "auto" else self.input_format)

    def _decode_unwrapped(self, wrapped: list[tuple[wrappers.Unwrapped, int, int | None]], source: str) -> DecodedBlock:
        """Rows for the Events managed-cluster wrappers held (each with its line, and its item when the wrapper was
        itself an item of a list), in the cluster each wrapper names: one DuckDB run per cluster."""
        problems = [self._make(source, line, item, reason, raw if isinstance(raw, bytes) else jsontext.dumps(raw))
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
            encoded = [jsontext.dumps(event) for _, _, event in events]
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
            return rows.append_column("extra", pa.nulls(rows.num_rows, contract.JSON))
        values = [None if (raw := raw_lines.get(index)) is None else _unknown_fields(raw) for index in rows.column("_line").to_pylist()]
        return rows.append_column("extra", pa.array(values, pa.string()).cast(contract.JSON))

    def _redact(self, rows: pa.Table) -> pa.Table:
        """Replace Secret values and credentials in the bodies, unknown fields and URIs of the rows that can hold them."""
        assert self.redactor is not None
        redactor = self.redactor
        extra_needs_look = pc.fill_null(pc.match_substring_regex(rows.column("extra").cast(pa.string()), redact.BODY_NEEDS_LOOK), False)
        needs_body = pc.or_(pc.fill_null(rows.column("_secret_body"), False), extra_needs_look)
        if pc.any(needs_body).as_py():
            is_secret = pc.filter(pc.fill_null(rows.column("_is_secret_resource"), False), needs_body).to_pylist()
            for name in ("request_object", "response_object", "extra"):
                about_secrets = is_secret if name != "extra" else [False] * len(is_secret)  # unknown fields are walked, not read as bodies
                rows = _replace_where(rows, name, needs_body, lambda text, secret: redactor.redact_body(text, is_secret_resource=secret),
                                      about_secrets, contract.JSON)
        needs_uri = pc.fill_null(rows.column("_credential_uri"), False)
        if pc.any(needs_uri).as_py():
            rows = _replace_where(rows, "request_uri", needs_uri, lambda text, _: redactor.redact_uri(text),
                                  [False] * pc.sum(needs_uri).as_py(), pa.string())
        return rows

    def _decode_items(self, items: list[Any], source: str, line: int, *, is_list: bool, depth: int) -> DecodedBlock:
        quarantined: list[Quarantined] = []
        encoded: list[bytes] = []
        item_indexes: list[int | None] = []
        for index, item in enumerate(items):
            if isinstance(item, dict):
                encoded.append(jsontext.dumps(item))
                item_indexes.append(index if is_list else None)
            else:
                quarantined.append(self._make(source, line, index if is_list else None, "list item is not a JSON object", jsontext.dumps(item)))
        if not items:  # nothing to lose, but counted: every line is accounted for
            return DecodedBlock(self.output_schema.empty_table(), [], Counter({EMPTY_LIST: 1}))
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
        if self.redactor is None:
            return Quarantined(source, line, item, reason, raw[:redact.QUARANTINE_RAW_LIMIT])
        scrubbed, note = self.redactor.scrub_raw(raw)
        return Quarantined(source, line, item, f"{reason} (raw text: {note})" if note else reason, scrubbed)


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
        when = rfc3339(str(panther)) if panther else (default_time + offset).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        event["requestReceivedTimestamp"] = when
        event.setdefault("stageTimestamp", when)
        filled.append("requestReceivedTimestamp")
    event[FILLED_KEY] = filled
    return event


def _replace_where(rows: pa.Table, name: str, mask: Any, change: Any, flags: list[bool], kind: pa.DataType) -> pa.Table:
    """Column `name` with the values where `mask` holds passed through `change(text, flag)` (nulls stay null)."""
    column = rows.column(name).cast(pa.string()).combine_chunks()
    mask = mask.combine_chunks() if isinstance(mask, pa.ChunkedArray) else mask
    originals = pc.filter(column, mask).to_pylist()
    changed = [None if text is None else change(text, flag) for text, flag in zip(originals, flags, strict=True)]
    replaced = pc.replace_with_mask(column, mask, pa.array(changed, pa.string()))
    return rows.set_column(rows.schema.get_field_index(name), name, replaced.cast(kind))


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


def _unknown_fields(raw: bytes) -> str | None:
    try:
        event = orjson.loads(clean_line(raw))
    except orjson.JSONDecodeError:
        return None
    extra = {key: value for key, value in event.items() if key not in contract.KNOWN_EVENT_KEYS}
    return jsontext.dumps(extra).decode() if extra else None
