"""Generated audit-log files for the ingest property: every input line is a row, a quarantine record, a counted
duplicate, a counted blank line or a counted non-audit record, and nothing crashes.

Shared by `tests/ingest/test_fuzz.py` (CI: thousands of examples) and `benchmarks/fuzz_ingest.py` (tens of
thousands). A file is made of real events (the vendored immudb, audit2rbac and KHI slices) with fresh audit
ids, and of lines an adversary would write: events cut short, with bytes inserted or replaced (quotes,
braces, backslashes, byte-order-mark bytes, invalid UTF-8, NUL), times outside the calendar, nesting over
1,024, byte-order marks, blank lines, exact copies of earlier lines, EventLists and arrays of events, AKS
records, scalars. Each generated line knows how many units it is worth: 1, or the number of events of an
EventList or array line, or 0 for a blank line.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import strategies as st

from auditlake.contract import Quarantined
from auditlake.errors import InputError
from auditlake.ingest import DecoderPool, IngestOptions, IngestResult, ingest
from auditlake.ingest.redact import Redactor
from auditlake.ingest.sources import SNIFF_LINES, clean_line
from auditlake.store.manifest import LakeStore, SourceProgress
from auditlake.store.writer import BatchWriter
from tests.conftest import DATA

TEMPLATES = [orjson.loads(line) for name in ("immudb_first_300_lines.log", "audit2rbac_impersonation_v1beta1.log",
                                             "khi_lease_update_request_response.jsonl")
             for line in (DATA / name).read_bytes().splitlines()[:40] if line.strip()]
NASTY_BYTES = b'"{}[]:,\\\xef\xbb\xbf\xff\xfe\x00\t\r u0 aZ9-'
ODD_TIMES = ["99999-01-01T00:00:00Z", "-0001-01-01T00:00:00Z", "9999-12-31T23:30:00-05:00", "0001-01-01T00:00:00Z", "yesterday", "",
             0, None, "2026-13-45T25:61:61Z", "2026-11-01T00:00:00+99:00"]


@dataclass
class Line:
    data: bytes  # without its newline
    units: int  # rows + quarantine records + duplicates + non-audit records it must turn into (0: blank)


@dataclass
class Fuzzed:
    lines: list[Line]
    last_newline: bool  # the file ends with a newline
    compress: bool

    def content(self) -> bytes:
        text = b"\n".join(line.data for line in self.lines) + (b"\n" if self.last_newline else b"")
        return gzip.compress(text) if self.compress else text

    @property
    def expected_units(self) -> int:
        return sum(line.units for line in self.lines)

    @property
    def expected_blank(self) -> int:
        """Blank lines that end in a newline (a blank fragment after the last newline is no line at all)."""
        whole = self.lines if self.last_newline else self.lines[:-1]
        return sum(1 for line in whole if line.units == 0)

    @property
    def is_json_log(self) -> bool:
        """Whether the sniffer takes it for JSON: its first line is a JSON value, or one of the first lines starts like
        one (else the file is skipped as not JSON)."""
        non_blank = [clean_line(line.data) for line in self.lines if clean_line(line.data)]
        if not non_blank:
            return False
        try:
            orjson.loads(non_blank[0])
            return True
        except orjson.JSONDecodeError:
            return any(line[:1] in (b"{", b"[") for line in non_blank[:SNIFF_LINES])


def _event(draw: Any, number: int) -> dict[str, Any]:
    event = dict(draw(st.sampled_from(TEMPLATES)))
    event["auditID"] = f"fuzz-{number}-{draw(st.integers(0, 10**9))}"
    return event


@st.composite
def lines(draw: Any, number: int, previous: list[Line]) -> Line:
    kind = draw(st.sampled_from(["event", "event", "event", "mutated", "mutated", "cut", "odd-time", "copy", "list", "aks", "blank",
                                 "bom", "garbage", "scalar", "deep"]))
    if kind == "copy" and previous:
        return draw(st.sampled_from(previous))
    if kind in ("event", "copy"):
        prefix = draw(st.sampled_from([b"", b"", b"\xef\xbb\xbf", b"  ", b"\t"]))
        return Line(prefix + orjson.dumps(_event(draw, number)) + draw(st.sampled_from([b"", b"\r", b" "])), 1)
    if kind == "odd-time":
        event = _event(draw, number)
        event[draw(st.sampled_from(["requestReceivedTimestamp", "stageTimestamp"]))] = draw(st.sampled_from(ODD_TIMES))
        return Line(orjson.dumps(event), 1)
    if kind == "cut":
        data = orjson.dumps(_event(draw, number))
        return Line(data[: draw(st.integers(1, len(data) - 1))], 1)
    if kind == "mutated":
        data = bytearray(orjson.dumps(_event(draw, number)))
        for _ in range(draw(st.integers(1, 4))):
            position = draw(st.integers(0, len(data) - 1))
            byte = draw(st.sampled_from(list(NASTY_BYTES)))
            if draw(st.booleans()):
                data[position] = byte
            else:
                data.insert(position, byte)
        return Line(bytes(data), 0 if not bytes(data).strip(b" \t\r") else 1)
    if kind == "list":
        events = [_event(draw, number * 100 + index) for index in range(draw(st.integers(0, 3)))]
        wrapped: Any = {"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "items": events} if draw(st.booleans()) else events
        return Line(orjson.dumps(wrapped), len(events) if events else 1)  # an empty list is one record of nothing: quarantined
    if kind == "aks":
        record = {"category": "kube-audit", "resourceId": "/subscriptions/x/managedClusters/aks-fuzz",
                  "properties": {"log": orjson.dumps(_event(draw, number)).decode()}}
        return Line(orjson.dumps(record), 1)
    if kind == "blank":
        return Line(draw(st.sampled_from([b"", b" ", b"\t \r", b"\r"])), 0)
    if kind == "bom":
        return Line(draw(st.sampled_from([b"\xef\xbb\xbf", b"\xbb\xef", b"\xbf", b"\xef\xbb\xbf\xef\xbb\xbf", b"\xef\xbb\xbf \t"])), 1)
    if kind == "scalar":
        data = draw(st.sampled_from([b"1", b'"text"', b"null", b"true", b"[1, 2]", b"{}", b'{"kind":"Pod"}']))
        return Line(data, 2 if data == b"[1, 2]" else 1)  # each item of a list that is not an object is quarantined
    if kind == "deep":
        depth = draw(st.integers(1000, 1100))
        return Line(draw(st.sampled_from([b"[" * depth + b"]" * depth, b'{"a":' * depth + b"1" + b"}" * depth])), 1)
    return Line(b"~" + draw(st.binary(min_size=1, max_size=60)).replace(b"\n", b" "), 1)  # garbage


@st.composite
def files(draw: Any, max_lines: int = 12) -> Fuzzed:
    made: list[Line] = []
    for number in range(draw(st.integers(1, max_lines))):
        made.append(draw(lines(number, made)))
    return Fuzzed(made, last_newline=draw(st.booleans()), compress=draw(st.integers(0, 9)) == 0)


class MemorySink:
    """An EventSink that keeps everything in memory and drops duplicates as the lake does (cluster, audit id, stage, time)."""

    def __init__(self) -> None:
        self.tables: list[pa.Table] = []
        self.quarantined: list[Quarantined] = []
        self.committed: list[Any] = []

    def source_records(self, cluster: str, fingerprint: str) -> list[Any]:
        return []

    def new_source_key(self, cluster: str, fingerprint: str) -> str:
        return f"{cluster}/{fingerprint}"

    def unchanged_source(self, cluster: str, stat: Any) -> None:
        return None

    def write(self, table: pa.Table) -> None:
        self.tables.append(table)

    def quarantine(self, records: list[Quarantined], cluster: str, fingerprint: str) -> None:
        self.quarantined.extend(records)

    def advance(self, progress: Any) -> None:
        return None

    def commit(self) -> None:
        rows = duplicates = 0
        seen: set[tuple[Any, ...]] = set()
        for table in self.tables:
            keys = zip(*(pc.fill_null(table.column(name).cast(pa.string()), "").to_pylist()
                         for name in ("cluster", "audit_id", "stage", "received_at")), strict=True)
            for key in keys:
                duplicates += key in seen
                rows += key not in seen
                seen.add(key)
        self.committed.append(Committed(rows, duplicates))


@dataclass
class Committed:
    rows: int
    duplicates: int
    files: int = 0
    batch: str = "memory"


@dataclass
class Outcome:
    result: IngestResult
    quarantined: list[Quarantined] = field(default_factory=list)
    error: InputError | None = None

    @property
    def accounted_units(self) -> int:
        result = self.result
        return result.events_written + result.duplicates + result.quarantined + sum(result.skipped_records.values())


def ingest_in_memory(path: Path, pool: DecoderPool) -> Outcome:
    """The real pipeline (discovery, sniffing, blocks, decoding, redaction, quarantine) into a sink in memory.

    A file that holds nothing auditlake can read is the one user error the pipeline raises for a run of
    one file; it comes back as `error`.
    """
    sink = MemorySink()
    try:
        result = ingest([str(path)], IngestOptions(cluster=None, workers=1), sink, redactor=pool.redactor,
                        progress_factory=_Progress, pool=pool)
    except InputError as error:
        return Outcome(IngestResult(None), error=error)
    return Outcome(result, sink.quarantined)


def ingest_into_store(path: Path, store: LakeStore, pool: DecoderPool) -> IngestResult:
    """The real pipeline into a real lake's writer (Parquet files, dedupe against the lake, the manifest), without the
    catalog build that `Lake.ingest` adds (a second per run): what counts duplicates is storage's own dedupe."""
    store.create()
    writer = BatchWriter(store, redacted=True, version="fuzz")
    try:
        return ingest([str(path)], IngestOptions(cluster=None, workers=1), writer, redactor=pool.redactor,
                      progress_factory=SourceProgress, pool=pool)
    finally:
        writer.close()


def stored_rows(store: LakeStore) -> int:
    return sum(record.rows for record in store.load_manifest().files.values())


def make_pool() -> DecoderPool:
    return DecoderPool(Redactor(b"f" * 32), workers=1)


class _Progress:
    """What storage's SourceProgress holds, enough for the pipeline."""

    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values, events=0, quarantined=0, first_event_at=None, last_event_at=None, reached_end=False, sha256=None,
                             tail=None)


def check(fuzzed: Fuzzed, outcome: Outcome) -> None:
    """The property: every unit of input accounted for exactly, blank lines counted, nothing else lost or invented."""
    result = outcome.result
    if not any(line.units for line in fuzzed.lines):
        assert outcome.error is None
        return  # nothing but blank lines: an empty file, skipped as such
    if not fuzzed.is_json_log:
        assert outcome.error is not None and "not an audit log" in outcome.error.message, (outcome, fuzzed)
        return
    assert outcome.error is None and not result.skipped, (outcome, fuzzed)
    assert outcome.accounted_units == fuzzed.expected_units, (outcome.accounted_units, fuzzed.expected_units, result, fuzzed)
    assert result.blank_lines == fuzzed.expected_blank, (result.blank_lines, fuzzed.expected_blank)
    for record in outcome.quarantined:
        assert 1 <= record.line <= len(fuzzed.lines), record
