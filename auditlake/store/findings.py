"""Findings and reviews: detections and review evidence written into the lake, committed like a batch.

Owns: merging detections into `findings/cluster=…/date=…/findings.parquet` (one row per rule and
audit id, `contract.FINDING_KEY`, the first `found_at` kept), telling which findings the lake does
not hold yet, and writing one review file (`reviews/<id>.json`). Each write is staged, committed by
saving the manifest that records its files (`Manifest.findings`, `Manifest.reviews`), then renamed
into place: a reader sees all the old files or all the new ones, and a killed run commits all or nothing.
Runs under the write lock (the caller takes it); never decides what a finding is (the library does).
"""

from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from auditlake import contract, duck
from auditlake.errors import LakeError
from auditlake.store.files import fsync_file, new_batch_id, now_text, storage_errors
from auditlake.store.manifest import LakeStore, ReviewRecord, describe_file

_KEY = ", ".join(contract.FINDING_KEY)


def unseen_findings(store: LakeStore, findings: pa.Table) -> pa.Table:
    """The findings the lake does not hold yet (by rule and audit_id): what a scheduled run alerts on."""
    files = store.reader_files(store.load_manifest()).findings  # a killed writer's committed findings may still be in staging
    if not files or not findings.num_rows:
        return findings
    connection = duck.connect(filesystems=store.filesystems())  # in UTC: dates are UTC days, as in events/
    try:
        connection.register("incoming", findings)
        return connection.sql(f"SELECT i.* FROM incoming AS i ANTI JOIN (SELECT {_KEY} FROM read_parquet($files)) AS f "
                              f"USING ({_KEY}) ORDER BY received_at, {_KEY}", params={"files": files}).to_arrow_table()
    finally:
        connection.close()


def write_findings(store: LakeStore, findings: pa.Table, *, version: str) -> int:
    """Merge detections into `findings/cluster=…/date=…/findings.parquet`; the number of new rows (run under the write lock).

    A finding is keyed by (rule, audit_id): rerunning a detection over the same window adds nothing,
    and the first time a finding was seen (`found_at`) is kept. Each touched partition file is written
    whole in staging; the manifest that records them all is the commit point; then they replace the
    old files, so a reader sees all the old files or all the new ones, and a killed run commits all or nothing.
    In a bucket, where nothing is overwritten, each write's file has a name of its own (`findings-<write>.parquet`)
    and the one it replaces is retired (deleted by a later writer once the grace period has passed).
    """
    manifest = store.load_manifest()
    store.recover(manifest)
    if manifest.findings is None:  # the first write since findings are recorded: adopt what is there
        manifest.findings = {}
        for name in store.findings_files(manifest):
            path = Path(name)
            record = describe_file(store, path, path, path.parent.parent.name.split("=", 1)[1], path.parent.name.split("=", 1)[1], "")
            if record is not None:
                manifest.findings[record.path] = record
    write = new_batch_id()
    added = 0
    with store.staging() as staged, contextlib.closing(duck.connect(filesystems=store.filesystems())) as connection:  # UTC: dates are UTC days
        connection.register("incoming", findings)
        partitions = connection.execute("SELECT DISTINCT cluster, CAST(received_at AS DATE) FROM incoming ORDER BY ALL").fetchall()
        for cluster, day in partitions:
            target = store.findings_dir / f"cluster={cluster}" / f"date={day}" / store.findings_name(write)
            relative = target.relative_to(store.root).as_posix()
            prefix = relative.rsplit("/", 1)[0] + "/"
            previous = next((path for path in manifest.findings if path.startswith(prefix)), None)  # this partition's findings file
            existing = ("SELECT * EXCLUDE (cluster, date) FROM read_parquet($target, hive_partitioning = true)"
                        if previous is not None else None)
            fresh = ("SELECT * EXCLUDE (date) FROM (SELECT *, CAST(received_at AS DATE) AS date FROM incoming) "
                     "WHERE cluster = $cluster AND date = $day")
            merged = (f"SELECT * FROM ({existing + ' UNION ALL BY NAME ' if existing else ''}"
                      f"SELECT * EXCLUDE (cluster) FROM ({fresh})) QUALIFY row_number() OVER (PARTITION BY {_KEY} ORDER BY found_at) = 1 "
                      f"ORDER BY received_at, {_KEY}")
            values = {"cluster": cluster, "day": day, **({"target": store.location(previous)} if previous is not None else {})}
            table = connection.sql(merged, params=values).to_arrow_table()
            before = manifest.findings[previous].rows if previous is not None else 0
            if table.num_rows == before:
                continue  # nothing new in this partition: leave its file alone
            added += table.num_rows - before
            temporary = store.staged(target)
            staged.append((temporary, target))
            with storage_errors(temporary):
                temporary.parent.mkdir(parents=True, exist_ok=True)
                pq.write_table(table, temporary, compression="zstd")
            fsync_file(temporary)
            record = describe_file(store, temporary, target, str(cluster), str(day), write)
            if record is None:  # a merge of old and new findings cannot be empty: never commit a file that lost them
                raise LakeError(f"{temporary}: the merged findings file holds no rows; nothing was committed",
                                hint="rerun `auditlake detect --write`")
            if previous is not None and previous != relative:  # a bucket lake's new name: the old object goes after the grace period
                del manifest.findings[previous]
                manifest.retired[previous] = now_text()
            manifest.findings[relative] = record
        if staged:
            store.commit(manifest, batch=write, kind="findings", version=version)  # the commit point
    store.publish(staged)
    return added


def write_review(store: LakeStore, name: str, data: bytes, *, target: str, reviewed_at: str, version: str) -> str:
    """Commit one review as `reviews/<name>.json` (run under the write lock); its lake-relative path.

    Committed like every write: the file is written and fsynced in staging, the manifest that records it
    (with its sha256) is the commit point, then it is renamed into place. A writer killed before the save
    leaves a staged file the next writer deletes; after it, one the next writer renames into place.
    """
    manifest = store.load_manifest()
    store.recover(manifest)
    final = store.reviews_dir / f"{name}.json"
    relative = final.relative_to(store.root).as_posix()
    if relative in manifest.reviews:
        raise LakeError(f"{final}: a review with this id is already committed", hint="rerun: a new review gets a new id")
    temporary = store.staged(final)
    try:
        store.stage_bytes(final, data)
        manifest.reviews[relative] = ReviewRecord(relative, target, reviewed_at, len(data), hashlib.sha256(data).hexdigest())
        store.commit(manifest, batch=name, kind="review", version=version)  # the commit point
    except BaseException:
        store.discard([temporary])
        raise
    store.publish([(temporary, final)])
    return relative

