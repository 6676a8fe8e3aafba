"""Compaction: each partition's small files merged into one file sorted by time, committed like a batch.

Its row groups are slices of time, each by resource inside, as ingest writes them (`files.RowGroupWriter`).

Owns: choosing what to merge (the files of a cluster/date partition smaller than
`COMPACT_BELOW_BYTES`, when there are two or more), writing the merged file in staging, checking that
it holds every row it replaces, and the commit: the manifest that lists the merged files and retires
the replaced ones, then the replaced files moved to `_retired/` and the merged ones renamed into place.
Runs under the write lock; never deletes a file a reader may still be reading (see manifest.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa

from auditlake import contract, duck
from auditlake.errors import StorageError
from auditlake.store.files import (
    COMPACT_BELOW_BYTES,
    PARTITION_LAYOUT,
    ROW_GROUP_ROWS,
    RowGroupWriter,
    fsync_file,
    new_batch_id,
    now_text,
    storage_errors,
)
from auditlake.store.manifest import BatchRecord, FileRecord, LakeStore, describe_file


@dataclass(frozen=True)
class CompactResult:
    partitions: int
    files_before: int
    files_after: int
    rows: int


def compact(store: LakeStore, *, version: str, memory_limit: str = "512MB",
            on_partition: Callable[[str], None] | None = None, retire_after: float | None = None) -> CompactResult:
    """Merge each partition's small files into one file sorted by time (run under the write lock).

    The merged files are written in staging; the manifest that lists them and retires the files they
    replace is the commit point; then the replaced files move to `_retired/` and the merged ones into
    place. Retired files are deleted once `retire_after` seconds (AUDITLAKE_RETIRE_AFTER) have passed,
    by this or a later writer: a reader that opened its views before the compaction still reads them.
    """
    manifest = store.load_manifest()
    store.recover(manifest, retire_after=retire_after)
    groups: dict[tuple[str, str], list[FileRecord]] = {}
    for record in manifest.files.values():
        if record.bytes < COMPACT_BELOW_BYTES:
            groups.setdefault((record.cluster, record.date), []).append(record)
    groups = {key: records for key, records in groups.items() if len(records) > 1}
    if not groups:
        return CompactResult(0, 0, 0, 0)
    batch = new_batch_id()
    started = now_text()
    target_schema = contract.stored_schema()
    written: list[FileRecord] = []
    replaced: list[str] = []
    rows = 0
    with store.staging() as staged, contextlib.closing(duck.connect(memory_limit=memory_limit, filesystems=store.filesystems())) as connection:
        for (cluster, date), records in sorted(groups.items()):
            if on_partition:
                on_partition(f"cluster={cluster}/date={date}")
            final = store.root / PARTITION_LAYOUT.format(cluster=cluster, date=date, batch=batch, part=1)
            temporary = store.staged(final)
            staged.append((temporary, final))
            names = [store.location(record.path) for record in sorted(records, key=lambda r: r.path)]
            reader = connection.sql(
                "SELECT * FROM read_parquet($files, union_by_name = true) ORDER BY received_at, audit_id", params={"files": names}
            ).to_arrow_reader(ROW_GROUP_ROWS)
            with storage_errors(temporary):
                temporary.parent.mkdir(parents=True, exist_ok=True)
                writer = RowGroupWriter(temporary, target_schema)
                for chunk in reader:
                    writer.write(pa.Table.from_batches([chunk]).select(target_schema.names).cast(target_schema))
                writer.close()
            fsync_file(temporary)
            merged = describe_file(store, temporary, final, cluster, date, batch)
            expected = sum(record.rows for record in records)
            if merged is None or merged.rows != expected:  # never commit a merge that lost (or made up) rows
                raise StorageError(f"compaction of cluster={cluster}/date={date} wrote {merged.rows if merged else 0} rows, "
                                   f"not the {expected} it replaces; nothing was committed", path=temporary,
                                   hint="rerun `auditlake compact`; if it fails again, check the partition's files")
            written.append(merged)
            replaced.extend(r.path for r in records)
            rows += merged.rows
        retired_at = now_text()
        for path in replaced:
            del manifest.files[path]
            manifest.retired[path] = retired_at
        for record in written:
            manifest.files[record.path] = record
        manifest.batches.append(BatchRecord(
            id=batch, kind="compact", started_at=started, committed_at=now_text(), auditlake_version=version,
            schema_version=contract.SCHEMA_VERSION, rows=rows, duplicates=0, quarantined=0, redacted=True,
            files=[r.path for r in written], replaced=replaced,
        ))
        became = {record.path: sorted(r.path for r in groups[(record.cluster, record.date)]) for record in written}
        store.commit(manifest, batch=batch, kind="compact", version=version, note={"became": became})  # the commit point
    for path in replaced:  # out of events/ first: a directory reader never counts a row twice
        store.retire(path)
    store.publish(staged)
    store.recover(manifest, retire_after=retire_after)  # with no grace period, the replaced files go now
    return CompactResult(len(groups), len(replaced), len(written), rows)

