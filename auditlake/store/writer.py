"""Writing one ingest run: `BatchWriter` turns decoded rows and quarantine records into committed batches.

Owns: partitioning rows by cluster and day into Parquet files of row groups (`files.RowGroupWriter`: slices of time,
by resource inside; encoded on a background thread), the quarantine file of a batch, what a batch records of each source it read, and the commit
of a batch (files fsynced in staging, its digest and the manifest saved, then the files renamed into
place; see manifest.py). Duplicate rows (an event already in the lake or earlier in the batch) are removed
before the commit by `dedupe.remove_duplicates`. Never reads input: ingest/ hands it decoded tables.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import queue
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from auditlake import contract
from auditlake.contract import Quarantined, quarantine_id
from auditlake.store.dedupe import remove_duplicates
from auditlake.store.files import (
    MAX_FILE_ROWS,
    PARTITION_LAYOUT,
    QUARANTINE_LAYOUT,
    RowGroupWriter,
    file_sha256,
    fsync_file,
    new_batch_id,
    now_text,
    storage_errors,
    validate_cluster,
)
from auditlake.store.manifest import SEEN_AS_KEPT, BatchRecord, FileRecord, LakeStore, SourceProgress, SourceRecord, describe_file


@dataclass
class _OpenFile:
    """The Parquet file a batch is writing for one partition (rows arrive as time-sorted blocks)."""

    cluster: str
    date: str
    path: Path  # the final name, taken only once the manifest that lists it is saved
    temporary: Path  # where it is written until then (in staging)
    writer: RowGroupWriter
    rows: int = 0
    low: Any = None
    high: Any = None


@dataclass(frozen=True)
class CommitResult:
    batch: str
    rows: int
    duplicates: int
    quarantined: int
    files: int


class BatchWriter:
    """Writes rows and quarantine records for one ingest run, committing every `commit_rows` rows.

    Parquet encoding runs on a background thread (pyarrow releases the GIL), so the pipeline
    keeps reading and decoding while row groups are compressed and written.
    """

    def __init__(self, store: LakeStore, *, redacted: bool, version: str, commit_rows: int = 2_000_000,
                 memory_limit: str = "512MB"):
        self.store = store
        self.redacted = redacted
        self.version = version
        self.commit_rows = commit_rows
        self.memory_limit = memory_limit
        self.manifest = store.load_manifest()
        self.schema = contract.stored_schema()
        self.committed: list[CommitResult] = []
        self._queue: queue.Queue[pa.Table | None] = queue.Queue(maxsize=2)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._write_loop, name="auditlake-writer", daemon=True)
        self._thread.start()
        self._objects_read: dict[tuple[str, str, int, str], SourceRecord] | None = None
        self._start_batch()

    def _start_batch(self) -> None:
        self.batch = new_batch_id()
        self.started_at = now_text()
        self.open_files: dict[tuple[str, str], _OpenFile] = {}
        self.finished_files: list[_OpenFile] = []
        self.parts: dict[tuple[str, str], int] = {}
        self.quarantined: list[dict[str, Any]] = []
        self.progress: dict[str, SourceProgress] = {}  # the latest reading of each source: where a continuation resumes
        # Every file or object read this batch, by source and name: a source continued by its next rotation (or a
        # later object that begins with the same line) keeps its earlier names, counts and identities too.
        self.readings: dict[tuple[str, str], SourceProgress] = {}
        self.rows = 0
        self._staged_quarantine: list[Path] = []

    def close(self) -> None:
        """Stop the writer thread (after commit or abort)."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    # ---- what the pipeline asks -------------------------------------------------------------------
    def source_records(self, cluster: str, fingerprint: str) -> list[SourceRecord]:
        """Every source read before (in the lake, or earlier in this run) whose first line this is, in key order."""
        found: dict[str, SourceRecord] = {}
        for key, record in self.manifest.sources.items():
            if record.cluster == cluster and record.fingerprint == fingerprint:
                found[key] = record
        for key, pending in self.progress.items():
            if pending.cluster == cluster and pending.fingerprint == fingerprint:
                known = found.get(key)
                found[key] = SourceRecord(cluster=cluster, fingerprint=fingerprint, names=[*(known.names if known else []), pending.name],
                                          size=pending.size, offset=pending.offset, lines=pending.lines, reached_end=pending.reached_end,
                                          tail=pending.tail, anchor=pending.anchor, key=key, sha256=pending.sha256 or (known.sha256 if known else None))
        return [found[key] for key in sorted(found, key=_source_key_order)]

    def new_source_key(self, cluster: str, fingerprint: str) -> str:
        """The key of a new record for a file that shares its first line with the sources already known, if any."""
        taken = {key for key in [*self.manifest.sources, *self.progress]}
        key, number = f"{cluster}/{fingerprint}", 1
        while key in taken:
            number += 1
            key = f"{cluster}/{fingerprint}#{number}"
        return key

    def unchanged_source(self, cluster: str, stat: os.stat_result) -> SourceRecord | None:
        """A source read to its end before that a file with this stat still is (same device, inode, size, mtime)."""
        for record in self.manifest.sources.values():
            if record.cluster == cluster and record.looks_unchanged(stat):
                return record
        return None

    def unchanged_object(self, cluster: str, url: str, size: int, etag: str) -> SourceRecord | None:
        """A source read to its end before that the object at `url` still is (same size and ETag).

        Looked up in an index of the manifest's objects, built once per run: a bucket prefix lists
        thousands of objects, each a record of its own. An index that misses what this run committed
        since is only less helpful, never wrong: the objects it names were read whole, and stay so.
        """
        if self._objects_read is None:
            self._objects_read = {(record.cluster, url, size, etag): record for record in self.manifest.sources.values()
                                  for url, size, etag in record.seen_as_objects}
        return self._objects_read.get((cluster, url, size, etag))

    def write(self, table: pa.Table) -> None:
        """Queue decoded rows (time-sorted, with `cluster` and `date` columns) for writing."""
        self._raise_background_error()
        if table.num_rows:
            self._queue.put(table)
            self.rows += table.num_rows

    def _write_loop(self) -> None:
        while (item := self._queue.get()) is not None:
            try:
                if self._error is None:
                    self._write_now(item)
            except BaseException as error:  # handed to the pipeline thread at its next call
                self._error = error
            finally:
                self._queue.task_done()
        self._queue.task_done()

    def _drain(self) -> None:
        self._queue.join()
        self._raise_background_error()

    def _raise_background_error(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _write_now(self, table: pa.Table) -> None:
        """Append one decoded block (time-sorted by the decoder) to the row groups of each partition it touches."""
        table = table.append_column("batch", pc.fill_null(pa.nulls(table.num_rows, pa.string()), self.batch))
        partitions = table.group_by(["cluster", "date"], use_threads=False).aggregate([]).to_pylist()
        touched = set()
        for partition in partitions:
            cluster, day = validate_cluster(partition["cluster"]), partition["date"]
            part = table if len(partitions) == 1 else table.filter(
                pc.and_(pc.equal(table.column("cluster"), cluster), pc.equal(table.column("date"), day)))
            self._append(cluster, day.isoformat(), part.drop_columns(["cluster", "date"]).cast(self.schema))
            touched.add((cluster, day.isoformat()))
        for key, handle in self.open_files.items():  # a day the log has left behind: its rows are not held in memory
            if key not in touched:
                with storage_errors(handle.path):
                    handle.writer.flush()

    def _append(self, cluster: str, date: str, rows: pa.Table) -> None:
        key = (cluster, date)
        handle = self.open_files.get(key)
        if handle is None:
            self.parts[key] = self.parts.get(key, 0) + 1
            path = self.store.root / PARTITION_LAYOUT.format(cluster=cluster, date=date, batch=self.batch, part=self.parts[key])
            temporary = self.store.staged(path)
            with storage_errors(temporary):
                temporary.parent.mkdir(parents=True, exist_ok=True)
                writer = RowGroupWriter(temporary, self.schema)
                handle = self.open_files[key] = _OpenFile(cluster, date, path, temporary, writer)
        with storage_errors(handle.path):
            handle.writer.write(rows)
        low, high = pc.min_max(rows.column("received_at")).values()
        handle.low = low if handle.low is None or low.as_py() < handle.low.as_py() else handle.low
        handle.high = high if handle.high is None or high.as_py() > handle.high.as_py() else handle.high
        handle.rows += rows.num_rows
        if handle.rows >= MAX_FILE_ROWS:
            self._close_file(handle)

    def _close_file(self, handle: _OpenFile) -> None:
        with storage_errors(handle.path):
            handle.writer.close()
        del self.open_files[(handle.cluster, handle.date)]
        self.finished_files.append(handle)

    def quarantine(self, records: list[Quarantined], cluster: str, fingerprint: str) -> None:
        for record in records:
            text: str | None
            try:
                text, encoded = record.raw.decode("utf-8"), None
            except UnicodeDecodeError:
                text, encoded = None, base64.b64encode(record.raw).decode()
            self.quarantined.append(contract.QUARANTINE.row(
                id=quarantine_id(cluster, fingerprint, record.source, record.line, record.item),
                batch=self.batch, cluster=cluster, source_file=record.source, source_fingerprint=fingerprint,
                source_line=record.line, source_item=record.item, reason=record.reason, raw=text,
                raw_base64=encoded, quarantined_at=now_text(),
            ))

    def advance(self, progress: SourceProgress) -> CommitResult | None:
        """Record how far a source has been read; commit when the batch is big enough."""
        key = progress.key or f"{progress.cluster}/{progress.fingerprint}"
        self.progress[key] = self.readings[(key, progress.name)] = progress
        if self.rows >= self.commit_rows:
            return self.commit()
        return None

    def abort(self) -> None:
        """Drop the uncommitted batch: close and delete its temporary files."""
        with contextlib.suppress(BaseException):
            self._queue.join()
        self._error = None
        for handle in list(self.open_files.values()):
            with contextlib.suppress(Exception):
                handle.writer.close()
            self.finished_files.append(handle)
        self.store.discard([handle.temporary for handle in self.finished_files] + self._staged_quarantine)
        self._start_batch()

    # ---- commit ---------------------------------------------------------------------------------
    def commit(self) -> CommitResult | None:
        """Make everything written so far durable and visible.

        Files and the quarantine file are complete and fsynced in staging; saving the manifest that lists
        them (with their sha256) commits the batch; then they are renamed to their final names. A crash
        before the save leaves only staged files (deleted by the next writer), after it a committed batch
        whose staged files the next writer renames into place.
        """
        if not self.progress and not self.rows and not self.quarantined:
            return None
        self._drain()
        for handle in list(self.open_files.values()):
            self._close_file(handle)
        duplicates = remove_duplicates(self.store, self.manifest, [(handle.temporary, handle.path) for handle in self.finished_files],
                                       self.memory_limit)
        files: list[str] = []
        staged: list[tuple[Path, Path]] = []
        for handle in self.finished_files:
            record = _file_record(self.store, handle, self.batch, recount=duplicates > 0)
            if record is None:  # every row was a duplicate
                self.store.discard([handle.temporary])
                continue
            fsync_file(handle.temporary)
            self.manifest.files[record.path] = record
            files.append(record.path)
            staged.append((handle.temporary, handle.path))
        quarantine_file, quarantine_sha256 = self._stage_quarantine()
        if quarantine_file:
            staged.append((self._staged_quarantine[0], self.store.root / quarantine_file))
        rows = sum(self.manifest.files[path].rows for path in files)
        self._record_sources()
        self.manifest.batches.append(BatchRecord(
            id=self.batch, kind="ingest", started_at=self.started_at, committed_at=now_text(), auditlake_version=self.version,
            schema_version=contract.SCHEMA_VERSION, rows=rows, duplicates=duplicates, quarantined=len(self.quarantined),
            redacted=self.redacted, files=files, quarantine_file=quarantine_file, quarantine_sha256=quarantine_sha256,
            quarantine_bytes=self._staged_quarantine[0].stat().st_size if quarantine_file else None,
            sources=[_progress_summary(progress) for progress in self.readings.values()],
        ))
        self.store.commit(self.manifest, batch=self.batch, kind="ingest", version=self.version)  # the commit point
        self.store.publish(staged)
        result = CommitResult(self.batch, rows, duplicates, len(self.quarantined), len(files))
        self.committed.append(result)
        self._start_batch()
        return result

    def _stage_quarantine(self) -> tuple[str | None, str | None]:
        """Write this batch's quarantine records to staging; their final name and sha256."""
        if not self.quarantined:
            return None, None
        relative = QUARANTINE_LAYOUT.format(batch=self.batch)
        data = b"".join(json.dumps(record, ensure_ascii=False).encode() + b"\n" for record in self.quarantined)
        self._staged_quarantine = [self.store.staged(self.store.root / relative)]  # discarded on abort, even if half written
        self.store.stage_bytes(self.store.root / relative, data)
        return relative, hashlib.sha256(data).hexdigest()

    def _record_sources(self) -> None:
        for (key, _), progress in self.readings.items():
            record = self.manifest.sources.get(key)
            if record is None:
                record = SourceRecord(cluster=progress.cluster, fingerprint=progress.fingerprint, size=0, offset=0, lines=0, key=key)
                self.manifest.sources[key] = record
            if progress.name not in record.names:
                record.names.append(progress.name)
            old_tail = record.tail
            if old_tail and old_tail.get("quarantine_id") and old_tail != progress.tail:
                # This run re-read the unfinished last line: it was ingested or quarantined anew.
                self.manifest.superseded_quarantine.append(old_tail["quarantine_id"])
            record.size = progress.size
            record.offset = progress.offset
            record.lines = progress.lines
            record.events += progress.events
            record.quarantined += progress.quarantined
            record.first_event_at = _earliest(record.first_event_at, progress.first_event_at)
            record.last_event_at = _latest(record.last_event_at, progress.last_event_at)
            record.reached_end = progress.reached_end
            if progress.etag is not None and progress.etag != record.etag:
                # Another version of the object (re-uploaded longer): the old hash would vouch for bytes no longer there.
                record.sha256 = progress.sha256
            else:
                record.sha256 = progress.sha256 or record.sha256
            record.etag = progress.etag or record.etag
            record.tail = progress.tail
            record.anchor = progress.anchor
            if progress.reached_end and progress.device is not None and progress.inode is not None and progress.mtime_ns is not None:
                seen = [progress.device, progress.inode, progress.size, progress.mtime_ns]
                record.seen_as = [*[item for item in record.seen_as if item[:2] != seen[:2]], seen][-SEEN_AS_KEPT:]
            if progress.reached_end and progress.etag is not None:
                seen_object: list[Any] = [progress.name, progress.size, progress.etag]
                record.seen_as_objects = [*[item for item in record.seen_as_objects if item[0] != progress.name], seen_object][-SEEN_AS_KEPT:]
            record.updated_at = now_text()


def _source_key_order(key: str) -> tuple[str, int]:
    """`cluster/fingerprint` first, then `#2`, `#3`, … (in number order, not text order)."""
    base, _, number = key.partition("#")
    return base, int(number) if number.isdigit() else 1


def _earliest(a: str | None, b: str | None) -> str | None:
    return min(x for x in (a, b) if x) if (a or b) else None


def _latest(a: str | None, b: str | None) -> str | None:
    return max(x for x in (a, b) if x) if (a or b) else None


def _progress_summary(progress: SourceProgress) -> dict[str, Any]:
    return {
        "name": progress.name, "source": progress.key, "fingerprint": progress.fingerprint, "cluster": progress.cluster,
        "from_line": progress.start_line, "to_line": progress.lines, "from_offset": progress.start_offset, "to_offset": progress.offset,
        "events": progress.events, "quarantined": progress.quarantined, "sha256": progress.sha256,
        **({"etag": progress.etag} if progress.etag is not None else {}),
    }


def _file_record(store: LakeStore, handle: _OpenFile, batch: str, *, recount: bool) -> FileRecord | None:
    if recount:  # duplicate removal may have rewritten the file
        return describe_file(store, handle.temporary, handle.path, handle.cluster, handle.date, batch)
    return FileRecord(
        path=handle.path.relative_to(store.root).as_posix(), cluster=handle.cluster, date=handle.date, batch=batch,
        rows=handle.rows, bytes=handle.temporary.stat().st_size, sha256=file_sha256(handle.temporary),
        min_received_at=handle.low.as_py().isoformat(), max_received_at=handle.high.as_py().isoformat(),
    )

