"""The ingest pipeline, in order: discover → open and fingerprint → resume → decode → hand to a sink.

Owns: the order of the steps and the bookkeeping between them (how far each source was read,
what was quarantined, when to let the sink commit). Decoding runs on a pool of threads, one
DuckDB connection each, so both cores work while the main thread reads and the sink writes;
results are handed on in input order so that a source's recorded offset always covers exactly
the rows written. Writes nothing itself: rows and quarantine records go to an `EventSink`
(the store's `BatchWriter`), which this package never imports.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from auditlake.contract import Quarantined, quarantine_id
from auditlake.errors import InputError
from auditlake.ingest import wrappers, yamldocs
from auditlake.ingest.decode import DecodedBlock, EventDecoder
from auditlake.ingest.redact import Redactor
from auditlake.ingest.scratch import sweep_scratch
from auditlake.ingest.sources import (
    NOT_JSON,
    UNREADABLE,
    Block,
    OpenedSource,
    Skipped,
    Source,
    SourceChangedError,
    Tail,
    discover_sources,
    iter_blocks,
    open_source,
    opened_bytes,
    read_document,
)

BLOCK_BYTES = 16 << 20
# The --input-format names: auto (any shape), log and eventlist (plain audit Events), then each registered wrapper.
FORMATS = ("auto", "log", "eventlist", *wrappers.REGISTRY)


@dataclass(frozen=True)
class IngestOptions:
    """How to read: which cluster the events belong to, the input format, redaction, parallelism."""

    cluster: str | None  # given: every event goes to this cluster; None: the wrapper's cluster, else default_cluster
    default_cluster: str = "default"
    format: str = "auto"
    redact: bool = True
    exclude: Path | None = None  # never read anything under here (the lake)
    default_time: datetime | None = None  # events with no id or time of their own land with this time (fixtures)
    workers: int = 0  # decoding threads; 0 = one per core
    block_bytes: int = BLOCK_BYTES
    endpoint: str | None = None  # S3 endpoint for s3:// inputs (None: AWS_ENDPOINT_URL, else AWS)


@dataclass
class Progress:
    """Reported after every block: enough for a progress bar with bytes, events and events/s."""

    source: str
    raw_bytes: int  # bytes of the current source read from disk or the store
    raw_total: int  # its size on disk or in the store (0 for stdin)
    events: int  # events decoded so far in this run
    lines: int  # lines read so far in this run


@dataclass
class IngestResult:
    """The summary of one run (also printed with --json)."""

    cluster: str | None
    sources_read: int = 0
    sources_unchanged: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    lines: int = 0
    bytes_read: int = 0
    events_decoded: int = 0
    events_written: int = 0
    duplicates: int = 0
    quarantined: int = 0
    blank_lines: int = 0  # lines with nothing but whitespace: not events
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    skipped_records: dict[str, int] = field(default_factory=dict)  # wrapper records that are not audit events
    clusters: list[str] = field(default_factory=list)
    batches: list[str] = field(default_factory=list)
    files_written: int = 0
    seconds: float = 0.0


@dataclass
class _Tally:
    """Counts kept while reading, folded into the IngestResult at the end."""

    reasons: Counter[str] = field(default_factory=Counter)  # quarantine reasons, grouped
    skipped: Counter[str] = field(default_factory=Counter)  # wrapper records that are not audit events
    clusters: set[str] = field(default_factory=set)


class EventSink(Protocol):
    """Where the pipeline puts what it decoded (store.writer.BatchWriter)."""

    def source_records(self, cluster: str, fingerprint: str) -> list[Any]: ...
    def new_source_key(self, cluster: str, fingerprint: str) -> str: ...
    def unchanged_source(self, cluster: str, stat: os.stat_result) -> Any: ...
    def unchanged_object(self, cluster: str, url: str, size: int, etag: str) -> Any: ...
    def write(self, table: pa.Table) -> None: ...
    def quarantine(self, records: list[Quarantined], cluster: str, fingerprint: str) -> None: ...
    def advance(self, progress: Any) -> Any: ...
    def commit(self) -> Any: ...

    committed: list[Any]  # what each commit wrote (rows, duplicates, files, batch id)


def ingest(
    inputs: list[str],
    options: IngestOptions,
    sink: EventSink,
    *,
    redactor: Redactor | None,
    progress_factory: Callable[..., Any],
    on_progress: Callable[[Progress], None] | None = None,
    pool: DecoderPool | None = None,
) -> IngestResult:
    """Read every input into `sink`; return what happened. `progress_factory` builds the store's SourceProgress.

    `pool`: decoders to use (and leave open) instead of starting new ones, for a caller that reads
    many small inputs in a row; it must have been made with this run's redactor and options.
    """
    if options.format not in FORMATS:
        raise InputError(f"unknown format {options.format!r}", hint=f"choose one of {', '.join(FORMATS)}")
    started = time.monotonic()
    sources, skipped = discover_sources(inputs, options.exclude, endpoint=options.endpoint)
    if not sources:
        raise InputError("no input files found" + (f" ({len(skipped)} skipped by name)" if skipped else ""),
                         hint="point at audit log files, a directory of them, or - for standard input")
    result = IngestResult(options.cluster, skipped=list(skipped))
    tally = _Tally()
    workers = options.workers or (os.cpu_count() or 1)
    sweep_scratch()
    decoders = contextlib.nullcontext(pool) if pool is not None else DecoderPool(redactor, workers, options.default_time, options.format)
    with _deep_enough_recursion(), decoders as pool:
        for source in sources:
            _ingest_source(source, options, sink, pool, result, tally, progress_factory, on_progress)
    sink.commit()
    for committed in sink.committed:
        result.events_written += committed.rows
        result.duplicates += committed.duplicates
        result.files_written += committed.files
        result.batches.append(committed.batch)
    result.quarantine_reasons = dict(tally.reasons.most_common())
    result.skipped_records = dict(tally.skipped.most_common())
    result.clusters = sorted(tally.clusters)
    result.seconds = round(time.monotonic() - started, 3)
    problems = [item for item in result.skipped if item.is_problem]
    if problems and not result.sources_read and not result.sources_unchanged:
        raise InputError(f"{problems[0].name}: not an audit log: {problems[0].reason}" if problems[0].reason.startswith(NOT_JSON)
                         else f"{problems[0].name}: {problems[0].reason}",
                         hint="auditlake reads audit.k8s.io Events as JSON lines, EventList documents, or gzip of either")
    return result


def _ingest_source(
    source: Source, options: IngestOptions, sink: EventSink, pool: DecoderPool, result: IngestResult,
    tally: _Tally, progress_factory: Callable[..., Any], on_progress: Callable[[Progress], None] | None,
) -> None:
    """One input: skipped without a byte read when it is a file or object already read to its end, else read from where it continues.

    A file is recognised by its device, inode, size and mtime; an object by its URL, size and ETag as listed.
    """
    cluster = _source_cluster(options)
    stored = source.stored
    try:
        if source.path is not None and sink.unchanged_source(cluster, source.path.stat()) is not None:
            result.sources_unchanged += 1
            return
        if stored is not None and stored.etag is not None and sink.unchanged_object(cluster, stored.url, stored.size, stored.etag) is not None:
            result.sources_unchanged += 1
            return
        opened = open_source(source)
    except (InputError, OSError) as error:  # gone since it was listed, a dangling link, no permission: skip it, say so
        why = error.message.removeprefix(source.name + ": ") if isinstance(error, InputError) else (error.strerror or str(error))
        result.skipped.append(Skipped(source.name, f"{UNREADABLE}: {why}"))
        return
    try:
        _ingest_opened(opened, cluster, options, sink, pool, result, tally, progress_factory, on_progress)
    finally:
        opened.stream.close()


def _ingest_opened(
    opened: OpenedSource, cluster: str, options: IngestOptions, sink: EventSink, pool: DecoderPool, result: IngestResult,
    tally: _Tally, progress_factory: Callable[..., Any], on_progress: Callable[[Progress], None] | None,
) -> None:
    source = opened.source
    if not opened.head.strip():
        result.skipped.append(Skipped(source.name, "empty"))
        return
    yaml_documents = None
    if not opened.looks_like_json and options.format == "auto":
        yaml_documents = _yaml_audit_documents(opened, result)
        if yaml_documents is None:
            return
    resume = _find_resume_point(opened, sink.source_records(cluster, opened.fingerprint))
    if resume is UNCHANGED:
        result.sources_unchanged += 1
        return
    key, start_offset, start_line, anchor = resume if isinstance(resume, tuple) else (sink.new_source_key(cluster, opened.fingerprint), 0, 1, None)
    if start_offset == 0 and opened.probed:  # the probe moved the stream: read from the start afresh
        opened.stream.close()
        opened = open_source(source)
    try:
        _read_source(opened, key, options, sink, pool, result, tally, progress_factory, on_progress, start_offset, start_line, anchor,
                     yaml_documents)
    except SourceChangedError:
        # A compressed file that shares its first line with a known source but not the bytes before the resume point:
        # another file (a copy that was then edited). It is a source of its own, read whole (dedupe keeps rows exact).
        opened.stream.close()
        result.sources_read -= 1
        fresh = open_source(source)
        try:
            _read_source(fresh, sink.new_source_key(cluster, opened.fingerprint), options, sink, pool, result, tally, progress_factory,
                         on_progress, 0, 1, None)
        finally:
            fresh.stream.close()


def _yaml_audit_documents(opened: OpenedSource, result: IngestResult) -> tuple[bytes, list[yamldocs.Document]] | None:
    """A file that is not JSON may be audit events in YAML: its text and documents, or None (skipped, and said why)."""
    source = opened.source
    data = read_document(opened)
    if isinstance(data, Tail):
        result.skipped.append(Skipped(source.name, f"{NOT_JSON} (starts with {opened.head[:12]!r}) and {data.reason}"))
        return None
    try:
        found = yamldocs.documents(data)
    except yamldocs.YamlError as error:
        result.skipped.append(Skipped(source.name, f"{NOT_JSON} (starts with {opened.head[:12]!r}), nor YAML (line {error.line}: {error})"))
        return None
    if not any(yamldocs.holds_audit_events(document.value) for document in found):
        if not source.name.lower().endswith((".yaml", ".yml")):  # most text parses as YAML ("key: value"): not a YAML file
            result.skipped.append(Skipped(source.name, f"{NOT_JSON} (starts with {opened.head[:12]!r})"))
        else:  # a policy or a manifest beside the logs
            result.skipped.append(Skipped(source.name, f"not audit events: {yamldocs.kind_of(found[0].value) if found else 'empty YAML'}"))
        return None
    opened.is_document = True  # read whole each time it changes, like a pretty-printed JSON document
    return data, found


UNCHANGED = object()


def _find_resume_point(opened: OpenedSource, records: list[Any]) -> object | tuple[str, int, int, str | None] | None:
    """Which known source this file is, and where to go on: UNCHANGED, (key, offset, line, anchor), or None (a new source).

    A file continues a source when its bytes just before the source's offset are the ones read there
    (a live log that grew, a rotated or renamed copy, a recompressed one); it is unchanged when it also
    ends there. Sources already seen at this path are tried first. Standard input is always new.
    """
    if opened.source.is_stdin:
        return None
    name = opened.source.name
    for record in sorted(records, key=lambda record: name not in record.names):
        if opened.is_document:  # a pretty-printed document is re-read whole when it changed, into its own record
            if name not in record.names:
                continue
            if record.reached_end and record.size == opened.size and opened.anchor_at(record.offset) in (None, record.anchor):
                return UNCHANGED
            return (record.key, 0, 1, None)
        if not opened.stream.can_seek:  # compressed: only reading can tell; the first candidate is tried (see SourceChangedError)
            if record.reached_end and record.size == opened.size:
                return UNCHANGED
            return (record.key, record.offset, record.lines + 1, record.anchor)
        if opened.anchor_at(record.offset) == record.anchor or record.offset == 0:
            if record.reached_end and record.size == opened.size:
                return UNCHANGED
            return (record.key, record.offset, record.lines + 1, record.anchor)
    return None


def _read_source(
    opened: OpenedSource, key: str, options: IngestOptions, sink: EventSink, pool: DecoderPool, result: IngestResult,
    tally: _Tally, progress_factory: Callable[..., Any], on_progress: Callable[[Progress], None] | None,
    start_offset: int, start_line: int, anchor: str | None, yaml_documents: tuple[bytes, list[yamldocs.Document]] | None = None,
) -> None:
    source = opened.source
    result.sources_read += 1
    source_cluster = _source_cluster(options)
    stat = opened.stat
    progress = progress_factory(
        cluster=source_cluster, fingerprint=opened.fingerprint, name=source.name, size=opened.size,
        start_offset=start_offset, start_line=start_line, offset=start_offset, lines=start_line - 1, is_final=opened.is_final,
        anchor=anchor, key=key, device=stat.st_dev if stat else None, inode=stat.st_ino if stat else None,
        mtime_ns=stat.st_mtime_ns if stat else None, etag=opened.etag,
    )

    def account(decoded: DecodedBlock, end_offset: int | None, last_line: int | None, block_anchor: str | None = None) -> None:
        table = _with_cluster(decoded.table, options)
        sink.write(table)
        tally.clusters.update(pc.unique(table.column("cluster")).to_pylist())
        tally.skipped.update(decoded.skipped)
        if decoded.quarantined:
            sink.quarantine(decoded.quarantined, source_cluster, opened.fingerprint)
            tally.reasons.update(_reason_kind(record.reason) for record in decoded.quarantined)
        if table.num_rows:
            low, high = pc.min_max(table.column("received_at")).values()
            first, last = low.as_py().isoformat(), high.as_py().isoformat()
            progress.first_event_at = min(filter(None, (progress.first_event_at, first)))
            progress.last_event_at = max(filter(None, (progress.last_event_at, last)))
        progress.events += table.num_rows
        progress.quarantined += len(decoded.quarantined)
        result.events_decoded += table.num_rows
        result.quarantined += len(decoded.quarantined)
        result.blank_lines += decoded.blank
        if end_offset is not None and last_line is not None:
            result.lines += last_line - progress.lines
            progress.offset, progress.lines, progress.anchor = end_offset, last_line, block_anchor
        if on_progress:
            on_progress(Progress(source.name, opened.stream.raw_bytes, opened.size, result.events_decoded, result.lines))

    as_lines: OpenedSource | None = opened
    if yaml_documents is not None:
        data, documents = yaml_documents
        for document in documents:
            account(pool.decode_document(document.value, source.name, document.line), None, None)
        account(DecodedBlock(pool.empty_table(), []), len(data), data.count(b"\n") + (0 if data.endswith(b"\n") else 1))
        as_lines = None
    elif opened.is_document and options.format != "log":
        # A document that does not parse is read as lines after all: each line is then a row or a quarantine record.
        as_lines = _ingest_document(opened, pool, account)
    if as_lines is not None:
        blocks = iter_blocks(as_lines, start_offset=start_offset, start_line=start_line, block_size=options.block_bytes, anchor=anchor)
        for item in pool.decode_in_order(blocks, source.name):
            if isinstance(item, Tail):
                tail_record = Quarantined(source.name, item.line, None, item.reason, item.raw)
                quarantined = pool.scrub([tail_record])
                account(DecodedBlock(pool.empty_table(), quarantined), None, None)
                progress.tail = {"line": item.line, "offset": item.offset,
                                 "quarantine_id": quarantine_id(source_cluster, opened.fingerprint, source.name, item.line, None)}
                continue
            block, decoded = item
            account(decoded, block.end_offset, block.first_line + block.line_count - 1, block.anchor)
            sink.advance(_snapshot(progress))
    result.bytes_read += opened.stream.raw_bytes
    progress.reached_end = True
    if start_offset == 0 and progress.tail is None and not opened.stream.problem:
        progress.sha256 = opened.stream.raw_sha256
    sink.advance(_snapshot(progress))


def _ingest_document(opened: OpenedSource, pool: DecoderPool,
                     account: Callable[[DecodedBlock, int | None, int | None], None]) -> OpenedSource | None:
    """A file that is one JSON document (a pretty-printed EventList, or an array of Events).

    Returns None when it was read as one; when it does not parse as one JSON value, its bytes, to
    be read as lines instead (so that one broken line costs one line, not the file).
    """
    document = read_document(opened)
    source = opened.source.name
    if isinstance(document, Tail):
        account(DecodedBlock(pool.empty_table(), pool.scrub([Quarantined(source, 1, None, document.reason, document.raw)])), None, None)
        return None
    try:
        parsed = orjson.loads(document)
    except orjson.JSONDecodeError:
        return opened_bytes(opened, document)
    line_count = document.count(b"\n") + (0 if document.endswith(b"\n") else 1)
    account(pool.decode_document(parsed, source), len(document), line_count)
    return None


# orjson parses JSON nested up to 1,024 levels, and the walks over parsed bodies (redaction, wrappers) take one or two
# Python frames a level: Python's default limit of 1,000 frames would make a deep but valid line crash the run.
RECURSION_LIMIT = 4 * 1024


@contextlib.contextmanager
def _deep_enough_recursion() -> Iterator[None]:
    previous = sys.getrecursionlimit()
    sys.setrecursionlimit(max(previous, RECURSION_LIMIT))
    try:
        yield
    finally:
        sys.setrecursionlimit(previous)


def _source_cluster(options: IngestOptions) -> str:
    """The cluster a source's reading is recorded under: the one given, or `*` when wrappers decide."""
    return options.cluster or "*"


def _with_cluster(table: pa.Table, options: IngestOptions) -> pa.Table:
    """`--cluster` wins; else the cluster the wrapper named; else the default."""
    column = table.schema.get_field_index("cluster")
    if options.cluster:
        values = pc.fill_null(pa.nulls(table.num_rows, pa.string()), options.cluster)
    else:
        values = pc.fill_null(table.column("cluster"), options.default_cluster)
    return table.set_column(column, "cluster", values)


def _snapshot(progress: Any) -> Any:
    return type(progress)(**vars(progress))


def _reason_kind(reason: str) -> str:
    """Group quarantine reasons for the summary ("not JSON: …" variants count together)."""
    if reason.startswith("invalid UTF-8"):
        return "invalid UTF-8"
    return reason.split(":")[0] if reason.startswith(("not JSON", "does not match")) else reason.split(" (")[0]


class DecoderPool:
    """Threads that decode blocks, each with its own DuckDB connection; results come back in order."""

    def __init__(self, redactor: Redactor | None, workers: int, default_time: datetime | None = None, input_format: str = "auto"):
        self.redactor = redactor
        self.default_time = default_time
        self.input_format = input_format
        self.workers = max(1, workers)
        self._local = threading.local()
        self._decoders: list[EventDecoder] = []
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="auditlake-decode")
        self._main = EventDecoder(redactor, threads=self.workers, default_time=default_time, input_format=input_format)

    def __enter__(self) -> DecoderPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
        for decoder in [*self._decoders, self._main]:
            decoder.close()

    def _decoder(self) -> EventDecoder:
        decoder = getattr(self._local, "decoder", None)
        if decoder is None:
            decoder = self._local.decoder = EventDecoder(self.redactor, threads=1, default_time=self.default_time,
                                                         input_format=self.input_format)
            with self._lock:
                self._decoders.append(decoder)
        return decoder

    def _decode(self, block: Block, source: str) -> DecodedBlock:
        decoded = self._decoder().decode(block, source)
        block.release()  # it waits for its turn to be accounted for: only its offsets are needed now
        return decoded

    def decode_in_order(self, items: Iterator[Block | Tail], source: str) -> Iterator[tuple[Block, DecodedBlock] | Tail]:
        """Decode blocks concurrently, yielding (block, result) in input order; a Tail passes through last."""
        pending: deque[tuple[Block, Future[DecodedBlock]]] = deque()
        tail: Tail | None = None
        try:
            for item in items:
                if isinstance(item, Tail):
                    tail = item
                    continue
                pending.append((item, self._executor.submit(self._decode, item, source)))
                while len(pending) > self.workers:
                    block, future = pending.popleft()
                    yield block, future.result()
            while pending:
                block, future = pending.popleft()
                yield block, future.result()
        finally:
            for _, future in pending:
                future.cancel()
        if tail is not None:
            yield tail

    def decode_document(self, document: Any, source: str, line: int = 1) -> DecodedBlock:
        return self._main.decode_document(document, source, line)

    def scrub(self, records: list[Quarantined]) -> list[Quarantined]:
        return [self._main._make(r.source, r.line, r.item, r.reason, r.raw) for r in records]

    def empty_table(self) -> pa.Table:
        return self._main.output_schema.empty_table()
