"""Retention with proof: event partitions older than `hot` move to an archive lake, those older than `keep` are deleted.

Owns: choosing the partitions (a UTC day is older than an age when the whole day ended before now minus
that age), checking that every file about to leave is the file a digest committed (its sha256 re-hashed:
never move or delete what no digest covers, or what was altered), and the commits: each action is a
commit of its own, so its digest lists what left (path, size, rows, sha256) with the partitions' time
ranges in its note, and "nothing was hidden" stays checkable after the files are gone.

The archive is a lake of its own (same layout, its own manifest and digest chain, signed by the same key),
so `verify` checks it the same way and the hot lake's catalog reads it (`Manifest.archive`). A move is
two commits: the archive's (the files arrive) and then the hot lake's (they leave, retired like a
compaction's replaced files so open readers keep working). A writer killed between the two leaves the
files in both lakes; a reader sees each once (the archive's copy of a file the hot lake still lists is not
read), and a rerun finds the copies already committed and finishes the hot lake's commit.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from auditlake.errors import LakeError
from auditlake.store.digests import expected_files, load_chain
from auditlake.store.files import file_sha256, fsync_file, new_batch_id, now_text, storage_errors
from auditlake.store.manifest import FileRecord, LakeStore, Manifest


@dataclass(frozen=True)
class PartitionMove:
    """One partition that left a lake: where it went, and what it held."""

    lake: str  # the lake it left
    cluster: str
    date: str
    action: str  # archived, deleted
    files: int
    rows: int
    bytes: int
    first_event_at: str
    last_event_at: str


@dataclass
class RetentionResult:
    lake: str
    archive: str | None
    hot_before: str | None  # partitions of days before this date are archived
    keep_before: str | None  # partitions of days before this date are deleted
    moves: list[PartitionMove] = field(default_factory=list)
    dry_run: bool = False


def cutoff(now: datetime, age: timedelta | None) -> date | None:
    """The first day that is not older than `age`: every day before it ended at least `age` ago."""
    return None if age is None else (now - age).date()


def apply_retention(store: LakeStore, *, now: datetime, version: str, hot: timedelta | None = None, keep: timedelta | None = None,
                    archive: LakeStore | None = None, dry_run: bool = False) -> RetentionResult:
    """Delete partitions older than `keep` (from the lake and its archive), then archive those older than `hot` (run under the write lock).

    `hot` needs `archive`; `keep` must not be shorter than `hot`.
    """
    if store.in_bucket:
        raise LakeError(f"{store.address}: retention of a lake in a bucket is not supported yet",
                        hint="keep the lake whole (its digests prove it), or run retention on a lake directory")
    if hot is not None and archive is None:
        raise LakeError("--hot needs --archive: partitions older than --hot are moved there", hint="give --archive DIR, or only --keep")
    if hot is not None and keep is not None and keep < hot:
        raise LakeError("--keep is shorter than --hot", hint="keep at least as long as partitions stay hot, e.g. --hot 90d --keep 400d")
    manifest = store.load_manifest()
    store.recover(manifest)
    if archive is not None:
        archive = _attached(store, manifest, archive)
    keep_before, hot_before = cutoff(now, keep), cutoff(now, hot)
    result = RetentionResult(str(store.root), str(archive.root) if archive else None, hot_before.isoformat() if hot_before else None,
                             keep_before.isoformat() if keep_before else None, dry_run=dry_run)
    if archive is not None and archive.exists() and keep_before is not None:
        with archive.write_lock():
            archived = archive.load_manifest()
            archive.recover(archived)
            result.moves += _delete(archive, archived, _older(archived, keep_before), version=version, note=_note(keep, now), dry_run=dry_run)
    if keep_before is not None:
        result.moves += _delete(store, manifest, _older(manifest, keep_before), version=version, note=_note(keep, now), dry_run=dry_run)
    if archive is not None and hot_before is not None:
        result.moves += _archive(store, manifest, archive, _older(manifest, hot_before), version=version, hot=hot, now=now, dry_run=dry_run)
    return result


def _attached(store: LakeStore, manifest: Manifest, archive: LakeStore) -> LakeStore:
    """The archive, checked against the one the lake already archives to; the same signing key signs it."""
    if archive.root == store.root or archive.root.is_relative_to(store.root) or store.root.is_relative_to(archive.root):
        raise LakeError(f"{archive.root}: the archive must lie outside the lake, and the lake outside it", hint="give --archive another directory")
    if manifest.archive and Path(manifest.archive) != archive.root:
        raise LakeError(f"{store.root}: this lake archives to {manifest.archive}, not {archive.root}",
                        hint=f"give --archive {manifest.archive} (moving an archive: move its directory, then this setting)")
    return LakeStore(archive.root, signing_key=store.signing_key)


def _older(manifest: Manifest, before: date) -> dict[tuple[str, str], list[FileRecord]]:
    partitions: dict[tuple[str, str], list[FileRecord]] = {}
    for record in manifest.files.values():
        if date.fromisoformat(record.date) < before:
            partitions.setdefault((record.cluster, record.date), []).append(record)
    return dict(sorted(partitions.items()))


def _note(age: timedelta | None, now: datetime) -> dict[str, str]:
    return {"policy": f"older than {age.days} days" if age else "", "applied_at": now.isoformat()}


def _moves(store: LakeStore, partitions: dict[tuple[str, str], list[FileRecord]], action: str) -> list[PartitionMove]:
    return [PartitionMove(str(store.root), cluster, day, action, len(records), sum(r.rows for r in records), sum(r.bytes for r in records),
                          min(r.min_received_at for r in records), max(r.max_received_at for r in records))
            for (cluster, day), records in partitions.items()]


def _require_covered(store: LakeStore, manifest: Manifest, records: list[FileRecord]) -> None:
    """Refuse to move or delete a file no digest covers, or one that is not what its digest committed."""
    chain = load_chain(store.root)
    expected = expected_files(chain)
    for record in records:
        entry = expected.get(record.path)
        if chain and (entry is None or entry[0].sha256 != record.sha256):
            raise LakeError(f"{record.path}: no digest covers this file as the manifest records it; nothing was moved or deleted",
                            hint=f"run `auditlake verify --lake {store.root}` and resolve what it reports first")
        on_disk = store.root / record.path
        with storage_errors(on_disk):
            actual = file_sha256(on_disk)
        if actual != record.sha256:
            raise LakeError(f"{record.path}: sha256 differs from its digest (modified); nothing was moved or deleted",
                            hint=f"run `auditlake verify --lake {store.root}`: a modified file is evidence to keep, not to delete")


def _delete(store: LakeStore, manifest: Manifest, partitions: dict[tuple[str, str], list[FileRecord]], *, version: str,
            note: dict[str, str], dry_run: bool) -> list[PartitionMove]:
    """One commit that removes these partitions' files (retired, then deleted after the grace period)."""
    moves = _moves(store, partitions, "deleted")
    records = [record for records in partitions.values() for record in records]
    if not records or dry_run:
        return moves
    _require_covered(store, manifest, records)
    _remove(store, manifest, records, batch=new_batch_id(), version=version,
            note={**note, "action": "delete", "partitions": [_partition_note(move) for move in moves]})
    return moves


def _remove(store: LakeStore, manifest: Manifest, records: list[FileRecord], *, batch: str, version: str, note: dict[str, object]) -> None:
    """The lake's commit of files leaving it: retired (readers that started before keep them for the grace period), then gone."""
    retired_at = now_text()
    for record in records:
        del manifest.files[record.path]
        manifest.retired[record.path] = retired_at
    store.commit(manifest, batch=batch, kind="retention", version=version, note=note)
    for record in records:
        store.retire(record.path)


def _archive(store: LakeStore, manifest: Manifest, archive: LakeStore, partitions: dict[tuple[str, str], list[FileRecord]], *,
             version: str, hot: timedelta | None, now: datetime, dry_run: bool) -> list[PartitionMove]:
    """Copy these partitions into the archive (its commit), then remove them from the lake (the lake's commit)."""
    moves = _moves(store, partitions, "archived")
    records = [record for records in partitions.values() for record in records]
    if not records or dry_run:
        return moves
    _require_covered(store, manifest, records)
    archive.create()
    batch = new_batch_id()
    with archive.write_lock():
        archived = archive.load_manifest()
        archive.recover(archived)
        with archive.staging() as staged:
            for record in records:
                if (present := archived.files.get(record.path)) is not None and present.sha256 == record.sha256:
                    continue  # copied by a run killed before the lake's commit
                final = archive.root / record.path
                temporary = archive.staged(final)
                staged.append((temporary, final))
                with storage_errors(temporary):
                    temporary.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(store.root / record.path, temporary)
                fsync_file(temporary)
                if file_sha256(temporary) != record.sha256:
                    raise LakeError(f"{record.path}: the copy in the archive differs from the original; nothing was moved",
                                    hint="check the archive's disk, then rerun")
                archived.files[record.path] = FileRecord(**{**record.__dict__, "batch": batch})
            if staged:
                archive.commit(archived, batch=batch, kind="retention", version=version,
                               note={"action": "arrive", "from": str(store.root), "partitions": [_partition_note(move) for move in moves]})
        archive.publish(staged)
    manifest.archive = str(archive.root)
    _remove(store, manifest, records, batch=batch, version=version,
            note={**_note(hot, now), "action": "archive", "to": str(archive.root), "partitions": [_partition_note(move) for move in moves]})
    return moves


def _partition_note(move: PartitionMove) -> dict[str, object]:
    return {"cluster": move.cluster, "date": move.date, "files": move.files, "rows": move.rows,
            "first_event_at": move.first_event_at, "last_event_at": move.last_event_at}
