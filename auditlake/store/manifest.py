"""The manifest, `_manifest/manifest.json`: the one commit point of every write, and what it records.

Owns: the records (`SourceRecord`: how far each input was read; `FileRecord`: each committed data
file with its rows and sha256; `BatchRecord`: each ingest or compaction; `ReviewRecord`), the
`Manifest` that holds them (with the findings and review files: they are committed here like events),
loading and saving it atomically, recovery (finishing or undoing what an interrupted writer left),
and which committed files a reader's views name. Older lakes stay readable: a manifest from before
findings were recorded (`findings` is None) is read with what is on disk.

Crash safety rests on one rule: the manifest is the commit point, and nothing uncommitted carries a
final name. Data files are written in staging (see files.py); the digest of the commit is appended
to the chain (see digests.py); the manifest that lists the files and names that digest is replaced
atomically (`commit`); only then are the files renamed into place. `recover`, which every writer runs
first, finishes what an interrupted writer committed (a staged file whose sha256 is the one the
manifest records is renamed into place) and deletes everything else it left, digests past the
manifest's chain head among it.

Files a compaction replaced are retired, not deleted: they move to `_retired/` and stay for
AUDITLAKE_RETIRE_AFTER, because a reader that opened the catalog before the compaction still reads
them (views name them by a pattern that matches both places, see `reader_files`).
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq

from auditlake import config
from auditlake.errors import LakeError
from auditlake.store.digests import DIGESTS_DIR, ChainHead, Digest, FileEntry, SigningKey, discard_after, load_signing_key, write_digest
from auditlake.store.files import (
    COMPACT_BELOW_BYTES,
    CREATE_WAIT_SECONDS,
    READER_PATTERN,
    LakeFiles,
    file_sha256,
    is_temporary,
    new_batch_id,
    now_text,
    parse_time,
    remove_empty_directories,
    storage_errors,
    write_atomically,
)

SEEN_AS_KEPT = 8  # the file states remembered per source: its live file, its rotations, their compressed copies
MANIFEST_FORMAT = "auditlake-manifest"
MANIFEST_VERSION = 1
PUBLISH_WAIT_SECONDS = 0.5  # how long a reader waits for a live writer to rename committed files into place


# ---- records ----------------------------------------------------------------------------------------
@dataclass(kw_only=True)
class SourceReading:
    """How far one source has been read: what a run's progress and the manifest's record of a source share."""

    cluster: str
    fingerprint: str
    size: int  # on-disk size when last read
    offset: int  # decompressed bytes consumed: a rerun resumes here
    lines: int  # lines consumed
    events: int = 0
    quarantined: int = 0
    first_event_at: str | None = None
    last_event_at: str | None = None
    reached_end: bool = False  # the last run read to the end of the data: same size again means nothing new
    sha256: str | None = None  # of the stored bytes, when a run read the whole source from its start
    tail: dict[str, Any] | None = None  # an unfinished last line left for the next run
    anchor: str | None = None  # hash of the bytes before `offset`: proves a resumed file is the same file
    key: str = ""  # its key in the manifest's sources
    etag: str | None = None  # of the object last read, for a source in object storage (S3 ETag, GCS generation)


@dataclass(kw_only=True)
class SourceRecord(SourceReading):
    """How far one input file has been read: one record per file (its rotated names included), never one per first line.

    Files are found again by their first line (`fingerprint`): a rotated, renamed or compressed copy
    continues its record when its bytes at `offset` are the ones read before (`anchor`). Two different
    files that share a first line (copies edited later, two captures of one cluster) get a record each:
    the first one's key is `cluster/fingerprint`, the next ones' `cluster/fingerprint#2`, …
    `seen_as` lists how its files looked (device, inode, size, mtime) each time one was read to its end: a
    file that still looks so is unchanged, and is not read at all (a renamed rotation too; a recompressed
    copy is read once, then recognised the same way). `seen_as_objects` does the same for objects in a
    bucket, by URL, size and ETag: a rerun that lists a prefix reads no byte of an object it has read whole.
    Both are absent from older manifests, which read as empty lists.
    """

    names: list[str] = field(default_factory=list)  # every path or object URL it was seen at (the live name, then its rotated names)
    updated_at: str = ""
    seen_as: list[list[int]] = field(default_factory=list)  # [device, inode, size, mtime_ns] of files of it read to their end
    seen_as_objects: list[list[Any]] = field(default_factory=list)  # [url, size, etag] of objects of it read to their end

    def looks_unchanged(self, stat: os.stat_result) -> bool:
        """Whether a file with this stat is a file of this source, still as it was read to its end (so nothing need be read)."""
        return [stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns] in self.seen_as

    def object_unchanged(self, url: str, size: int, etag: str) -> bool:
        """Whether the object at `url` with this size and ETag is one of this source read to its end (so nothing need be read)."""
        return [url, size, etag] in self.seen_as_objects


@dataclass(kw_only=True)
class SourceProgress(SourceReading):
    """What the pipeline has read of one source so far in this run (ingest/ fills it, the batch writer records it)."""

    name: str  # the path read in this run
    start_offset: int
    start_line: int
    is_final: bool
    device: int | None = None
    inode: int | None = None
    mtime_ns: int | None = None


@dataclass
class FileRecord:
    path: str  # relative to the lake
    cluster: str
    date: str
    batch: str
    rows: int
    bytes: int
    sha256: str
    min_received_at: str
    max_received_at: str


@dataclass
class BatchRecord:
    id: str
    kind: str  # ingest or compact
    started_at: str
    committed_at: str
    auditlake_version: str
    schema_version: int
    rows: int
    duplicates: int
    quarantined: int
    redacted: bool
    files: list[str]
    replaced: list[str] = field(default_factory=list)  # compact: files this batch replaced
    quarantine_file: str | None = None
    quarantine_sha256: str | None = None
    quarantine_bytes: int | None = None  # None in lakes from before digests: read from the file
    sources: list[dict[str, Any]] = field(default_factory=list)  # per source: lines and offsets read


@dataclass
class ReviewRecord:
    """A review file the manifest commits (`reviews/<id>.json`); who reviewed what, and why, is in the file."""

    path: str  # relative to the lake
    target: str  # the section (`pci-dss:10.2.1.3`) or finding (`QUERY:AUDIT_ID`) reviewed
    reviewed_at: str
    bytes: int
    sha256: str


@dataclass
class Manifest:
    format: str = MANIFEST_FORMAT
    version: int = MANIFEST_VERSION
    created_at: str = ""
    sources: dict[str, SourceRecord] = field(default_factory=dict)
    batches: list[BatchRecord] = field(default_factory=list)
    files: dict[str, FileRecord] = field(default_factory=dict)
    superseded_quarantine: list[str] = field(default_factory=list)  # quarantine ids later read whole
    retired: dict[str, str] = field(default_factory=dict)  # events path a compaction replaced -> when (now under _retired/)
    findings: dict[str, FileRecord] | None = None  # findings files; None: a lake from before they were recorded
    reviews: dict[str, ReviewRecord] = field(default_factory=dict)  # review files (`auditlake review`), by path
    digest_head: dict[str, Any] | None = None  # the last digest of the chain (`ChainHead`); None before the first
    archive: str | None = None  # the lake `retention` moves old partitions to (its events are read with these)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        findings = data.get("findings")
        return cls(
            format=data["format"], version=data["version"], created_at=data.get("created_at", ""),
            sources={key: SourceRecord(**{**value, "key": key}) for key, value in data.get("sources", {}).items()},
            batches=[BatchRecord(**value) for value in data.get("batches", [])],
            files={key: FileRecord(**value) for key, value in data.get("files", {}).items()},
            superseded_quarantine=list(data.get("superseded_quarantine", [])),
            retired=dict(data.get("retired", {})),
            findings=None if findings is None else {key: FileRecord(**value) for key, value in findings.items()},
            reviews={key: ReviewRecord(**value) for key, value in data.get("reviews", {}).items()},
            digest_head=data.get("digest_head"), archive=data.get("archive"),
        )

    def to_bytes(self) -> bytes:
        return json.dumps(dataclasses.asdict(self), indent=1).encode()

    def chain_head(self) -> ChainHead | None:
        return ChainHead(**self.digest_head) if self.digest_head else None

    def committed_entries(self, root: Path) -> dict[str, FileEntry]:
        """Every file the manifest commits to, as digest entries, by lake-relative path.

        A quarantine file of a lake from before digests has no recorded size: it is read from the file.
        """
        entries = {path: FileEntry(path, record.bytes, record.rows, record.sha256)
                   for path, record in {**self.files, **(self.findings or {})}.items()}
        entries.update({path: FileEntry(path, record.bytes, None, record.sha256) for path, record in self.reviews.items()})
        for batch in self.batches:
            if batch.quarantine_file and batch.quarantine_sha256:
                size = batch.quarantine_bytes
                if size is None:
                    on_disk = root / batch.quarantine_file
                    size = on_disk.stat().st_size if on_disk.is_file() else 0
                entries[batch.quarantine_file] = FileEntry(batch.quarantine_file, size, batch.quarantined, batch.quarantine_sha256)
        return entries



@dataclass(frozen=True)
class ReaderFiles:
    """The committed files as a reader's views name them (see `LakeStore.reader_files`)."""

    events: list[str]
    quarantine: list[str]
    findings: list[str]
    staged: list[str]  # committed files read from staging: their writer was killed (or is busy) before renaming them
    reviews: list[str] = field(default_factory=list)



class LakeStore(LakeFiles):
    """One lake directory and its manifest: create, load, commit, recover, and what readers read.

    `signing_key` signs the digest of every commit (None: the chain is kept, unsigned); a key file is read
    at the first commit, so a command that only reads never needs it.
    """

    def __init__(self, root: Path, *, signing_key: SigningKey | Path | None = None):
        super().__init__(root)
        self._signing_key = signing_key

    @property
    def signing_key(self) -> SigningKey | None:
        if isinstance(self._signing_key, Path):
            self._signing_key = load_signing_key(self._signing_key)
        return self._signing_key

    # ---- where the lake's files are (a bucket lake, store/bucket.py, answers these for its objects) -----------
    in_bucket = False

    @property
    def address(self) -> str:
        """The lake as a user names it: its directory (a bucket lake: its URL)."""
        return str(self.root)

    def location(self, relative: str) -> str:
        """What a reader (DuckDB, pyarrow) opens for a lake-relative path: a file name (a bucket lake: an object URL)."""
        return str(self.root / relative)

    def filesystems(self) -> list[Any]:
        """The fsspec filesystems a DuckDB connection needs to read `location`s (none for a directory)."""
        return []

    def findings_name(self, write: str) -> str:
        """The file name of a partition's findings written by `write`: rewritten in place here (a bucket never overwrites)."""
        return "findings.parquet"

    def stored_size(self, relative: str) -> int | None:
        """The size of a stored file; None when it is missing."""
        try:
            return (self.root / relative).stat().st_size
        except OSError:
            return None

    def stored_sha256(self, relative: str) -> str | None:
        """The sha256 of a stored file's bytes; None when it cannot be read."""
        try:
            return file_sha256(self.root / relative)
        except OSError:
            return None

    def stored_paths(self, top: str) -> list[str]:
        """Every stored file under the folder `top`, lake-relative, temporaries left out."""
        directory = self.root / top
        if not directory.is_dir():
            return []
        return sorted(path.relative_to(self.root).as_posix() for path in directory.rglob("*") if path.is_file() and not is_temporary(path))

    def digest_root(self) -> Path:
        """A directory whose `_digests/` is the lake's chain, for reading it (a bucket lake downloads it first)."""
        return self.root

    def exists(self) -> bool:
        return self.manifest_path.is_file()

    def require(self) -> None:
        if not self.exists():
            self._require_directory()
            raise LakeError(f"{self.root}: no auditlake lake here", hint="create one with `auditlake ingest PATH --lake DIR` or `auditlake demo`")

    def create(self) -> None:
        """Create an empty lake; refuse a non-empty directory that is not one.

        Two processes may create the same lake at once (two cron jobs on a new path): the manifest is
        written under the write lock, waiting briefly for the other creator, so one creates it and the
        other finds it.
        """
        if self.exists():
            return
        self._require_directory()
        if self.root.exists() and any(self.root.iterdir()) and not self._is_unfinished_skeleton():
            if self.exists():  # created by another process since the first look
                return
            raise LakeError(f"{self.root}: directory is not empty and holds no auditlake lake",
                            hint="choose an empty or new directory for --lake")
        with storage_errors(self.root):
            for directory in (self.events_dir, self.quarantine_dir, self.manifest_dir):
                directory.mkdir(parents=True, exist_ok=True)
        with self.write_lock(wait=CREATE_WAIT_SECONDS):
            if not self.exists():
                self.save_manifest(Manifest(created_at=now_text()))

    def load_manifest(self) -> Manifest:
        self.require()
        try:
            text = self.manifest_path.read_text()
        except OSError as error:
            raise LakeError(f"{self.manifest_path}: unreadable manifest ({error})", hint="restore it from a backup of the lake") from None
        return parse_manifest(text, str(self.manifest_path))

    def save_manifest(self, manifest: Manifest) -> None:
        """Replace the manifest atomically (a write that changes committed files goes through `commit`)."""
        write_atomically(self.manifest_path, manifest.to_bytes())

    def commit(self, manifest: Manifest, *, batch: str, kind: str, version: str, note: dict[str, Any] | None = None) -> Digest:
        """The commit point of every write: the digest of what changed, then the manifest that names it.

        What changed is the difference between the committed files of the saved manifest and of `manifest`
        (a file rewritten under its name is removed and added), so the chain and the manifest agree by
        construction. The digest is written first: a writer killed before the manifest is saved leaves a
        digest past the manifest's head, which `recover` deletes. A lake from before digests gets an
        `adopt` digest of what it already held first (and only that, when nothing else changed).
        """
        saved = self.load_manifest()
        head = saved.chain_head()
        before = saved.committed_entries(self.root)
        after = manifest.committed_entries(self.root)
        added = [entry for path, entry in after.items() if before.get(path) != entry]
        removed = [entry for path, entry in before.items() if after.get(path) != entry]
        digest = None
        if head is None and before:
            digest = write_digest(self.root, head=None, batch=batch, kind="adopt", version=version, added=before.values(),
                                  signing_key=self.signing_key, note={"why": "files committed before this lake kept digests"})
            head = ChainHead.of(digest)
        if digest is None or added or removed:
            digest = write_digest(self.root, head=head, batch=batch, kind=kind, version=version, signing_key=self.signing_key, note=note,
                                  added=added, removed=removed)
        manifest.digest_head = dataclasses.asdict(ChainHead.of(digest))
        self.save_manifest(manifest)
        return digest

    def adopt(self, *, version: str) -> bool:
        """Start the digest chain of a lake from before digests (under the write lock); False when it has one, or no files."""
        manifest = self.load_manifest()
        self.recover(manifest)
        if manifest.chain_head() is not None or not manifest.committed_entries(self.root):
            return False
        self.commit(manifest, batch=new_batch_id(), kind="adopt", version=version)
        return True

    # ---- recovery --------------------------------------------------------------------------------
    def recover(self, manifest: Manifest, *, retire_after: float | None = None) -> int:
        """Finish or undo what an interrupted writer left, and delete retired files whose grace period has passed.

        Run by every writer, under the write lock, before it writes. A staged file the manifest commits
        to (with the sha256 it records) is renamed into place; a replaced file still under events/ is
        retired; every other staged file, every file under a final name the manifest does not list and
        every temporary name is deleted. `retire_after` defaults to AUDITLAKE_RETIRE_AFTER. Returns how
        many files were deleted.
        """
        grace = config.retire_after() if retire_after is None else retire_after
        removed = 0
        with storage_errors(self.root):
            committed = {path: entry.sha256 for path, entry in manifest.committed_entries(self.root).items()}
            for staged in sorted(path for path in self.staging_dir.glob("*/**/*") if path.is_file()):
                relative = staged.relative_to(self.staging_dir).as_posix().split("/", 1)[1]
                if relative in committed and file_sha256(staged) == committed[relative]:
                    self.publish([(staged, self.root / relative)])
                else:
                    self.discard([staged])
                    removed += 1
            now = datetime.now(UTC)
            expired = [path for path, at in manifest.retired.items() if (now - parse_time(at)).total_seconds() >= grace]
            for path in manifest.retired:
                if path not in expired and (self.root / path).is_file():
                    self.retire(path)  # the compaction was interrupted before it moved this one
            for path in expired:
                del manifest.retired[path]
            if expired:
                self.save_manifest(manifest)
            for debris in self._debris(manifest):
                debris.unlink()
                removed += 1
            removed += discard_after(self.root, manifest.chain_head())  # digests of commits that never happened
            for top in (self.events_dir, self.findings_dir, self.retired_dir, self.staging_dir):
                remove_empty_directories(top, keep_top=top == self.events_dir)
        return removed

    def _debris(self, manifest: Manifest) -> list[Path]:
        """Files no committed state accounts for: temporaries, and final names the manifest does not list."""
        live = set(manifest.files)
        kept = {batch.quarantine_file for batch in manifest.batches if batch.quarantine_file}
        retired = {self.retired_path(path) for path in manifest.retired}
        findings = None if manifest.findings is None else set(manifest.findings)
        reviews = set(manifest.reviews)
        debris = []
        for path in (list(self.events_dir.rglob("*")) + list(self.quarantine_dir.glob("*")) + list(self.retired_dir.rglob("*"))
                     + list(self.findings_dir.rglob("*")) + list(self.reviews_dir.rglob("*")) + list(self.manifest_dir.glob("*"))
                     + list((self.root / DIGESTS_DIR).glob(".*"))
                     + list(self.root.glob("*"))):
            if not path.is_file():
                continue
            relative = path.relative_to(self.root).as_posix()
            if is_temporary(path):
                debris.append(path)
            elif path.is_relative_to(self.events_dir):
                debris += [path] if path.suffix == ".parquet" and relative not in live else []
            elif path.parent == self.quarantine_dir:
                debris += [path] if relative not in kept else []
            elif path.is_relative_to(self.retired_dir):
                debris += [path] if path not in retired else []
            elif path.is_relative_to(self.findings_dir) and findings is not None:
                debris += [path] if path.name == "findings.parquet" and relative not in findings else []
            elif path.is_relative_to(self.reviews_dir):
                debris += [path] if path.suffix == ".json" and relative not in reviews else []
        return debris

    # ---- what readers read -----------------------------------------------------------------------
    def live_files(self, manifest: Manifest | None = None) -> list[str]:
        manifest = manifest or self.load_manifest()
        return [self.location(path) for path in sorted(manifest.files)]

    def reader_files(self, manifest: Manifest, *, wait: float = PUBLISH_WAIT_SECONDS) -> ReaderFiles:
        """The committed files as a reader's views name them.

        A small events file is named by a pattern that also matches its place under `_retired/`: a
        compaction may retire it while the view is open, and the view keeps working for the grace
        period. A committed file not renamed into place yet (its writer is doing it now, or was killed
        doing it) is waited for, then read from staging, where its recorded size tells which file it is.
        """
        expected: dict[str, int | None] = {record.path: record.bytes for record in manifest.files.values()}
        expected.update({batch.quarantine_file: None for batch in manifest.batches if batch.quarantine_file})
        expected.update({record.path: record.bytes for record in (manifest.findings or {}).values()})
        expected.update({record.path: record.bytes for record in manifest.reviews.values()})
        deadline = time.monotonic() + wait
        while (missing := {path for path in expected if not (self.root / path).is_file()}) and time.monotonic() < deadline:
            time.sleep(0.02)
        staged = {path: copy for path in missing if (copy := self._staged_copy(path, expected[path])) is not None}

        def name(path: str) -> str:
            if path in staged:
                return str(staged[path])
            if path.startswith("events/") and (expected[path] or 0) < COMPACT_BELOW_BYTES:
                return str(self.root / READER_PATTERN / Path(path).relative_to("events"))
            return str(self.root / path)

        return ReaderFiles(
            events=[name(path) for path in sorted(manifest.files)] + self.archive_events(manifest),
            quarantine=[name(batch.quarantine_file) for batch in sorted(manifest.batches, key=lambda b: b.quarantine_file or "")
                        if batch.quarantine_file],
            findings=[name(path) for path in sorted(manifest.findings)] if manifest.findings is not None else self.findings_files(manifest),
            staged=sorted(str(path) for path in staged.values()),
            reviews=[name(path) for path in sorted(manifest.reviews)],
        )

    def archive_events(self, manifest: Manifest) -> list[str]:
        """The events files of the lake's archive (`retention --archive`) that this lake does not list itself."""
        if not manifest.archive:
            return []
        archive = LakeStore(Path(manifest.archive))
        if not archive.exists():
            return []
        return sorted(str(archive.root / path) for path in archive.load_manifest().files if path not in manifest.files)

    def _staged_copy(self, relative: str, size: int | None) -> Path | None:
        if (self.root / relative).is_file():  # renamed into place since we looked
            return None
        copies = [path for path in self.staging_dir.glob(f"*/{relative}") if size is None or path.stat().st_size == size]
        return copies[0] if len(copies) == 1 else None

    def quarantine_files(self, manifest: Manifest | None = None) -> list[str]:
        manifest = manifest or self.load_manifest()
        return sorted(self.location(b.quarantine_file) for b in manifest.batches if b.quarantine_file)

    def findings_files(self, manifest: Manifest | None = None) -> list[str]:
        manifest = manifest or self.load_manifest()
        if manifest.findings is None:  # a lake from before findings were recorded: what is on disk
            return sorted(str(path) for path in self.findings_dir.glob("cluster=*/date=*/findings.parquet"))
        return [self.location(path) for path in sorted(manifest.findings)]



def parse_manifest(text: str, where: str) -> Manifest:
    """A manifest from its JSON text; LakeError naming `where` when it is unreadable or newer than this auditlake."""
    try:
        manifest = Manifest.from_json(json.loads(text))
    except (ValueError, KeyError, TypeError) as error:
        raise LakeError(f"{where}: unreadable manifest ({error})", hint="restore it from a backup of the lake") from None
    if manifest.format != MANIFEST_FORMAT or manifest.version > MANIFEST_VERSION:
        raise LakeError(f"{where}: manifest version {manifest.version} is newer than this auditlake understands",
                        hint="upgrade auditlake")
    return manifest


def describe_file(store: LakeStore, temporary: Path, final: Path, cluster: str, date: str, batch: str) -> FileRecord | None:
    """A manifest record for a written file, read back from the file itself."""
    rows = pq.read_metadata(temporary).num_rows
    if rows == 0:
        return None
    low, high = (value.as_py() for value in pc.min_max(pq.read_table(temporary, columns=["received_at"]).column(0)).values())
    return FileRecord(
        path=final.relative_to(store.root).as_posix(), cluster=cluster, date=date, batch=batch, rows=rows,
        bytes=temporary.stat().st_size, sha256=file_sha256(temporary), min_received_at=low.isoformat(), max_received_at=high.isoformat(),
    )

