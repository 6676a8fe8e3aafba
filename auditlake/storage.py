"""Everything under LAKE/ that is not the catalog: layout, atomic writes, the manifest, dedupe.

Owns: the partition layout, the write lock, the manifest (`_manifest/manifest.json`: every
source with its fingerprint and how far it was read, every batch with its files, row counts and
sha256, the set of live files, the retired files, the findings files, the review files), Parquet,
quarantine, findings and review writes, duplicate removal, compaction and recovery. It is the only module that writes under
the lake (the catalog file excepted, see catalog.py). It never takes the write lock for a reader.

Crash safety rests on one rule: the manifest is the commit point, and nothing uncommitted carries a
final name. Data files are written under `_staging/<process>.tmp/<their final path>` (a name no
other process uses and no directory reader of `events/` or `findings/` sees); the manifest that lists
them is replaced atomically; only then are they renamed into place. `recover`, which every writer
runs first, finishes what an interrupted writer committed (a staged file whose sha256 is the one
the manifest records is renamed into place) and deletes everything else it left.

Files a compaction replaced are retired, not deleted: they move to `_retired/` (out of the
directory readers' way) and stay for AUDITLAKE_RETIRE_AFTER, because a reader that opened the
catalog before the compaction still reads them (views name them by a pattern that matches both
places, see `reader_paths`). `recover` deletes them once that grace period has passed.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import errno
import fcntl
import hashlib
import json
import os
import queue
import secrets
import string
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from auditlake import config
from auditlake.errors import LakeError, LakeLockedError, StorageError
from auditlake.ingest import schema
from auditlake.ingest.flatten import Quarantined, quarantine_id

SEEN_AS_KEPT = 8  # the file states remembered per source: its live file, its rotations, their compressed copies
MANIFEST_FORMAT = "auditlake-manifest"
MANIFEST_VERSION = 1
PARTITION_LAYOUT = "events/cluster={cluster}/date={date}/{batch}-{part:04d}.parquet"
QUARANTINE_LAYOUT = "quarantine/{batch}.jsonl"
ROW_GROUP_ROWS = 122_880  # DuckDB's own row group size: good pruning, good compression
MAX_FILE_ROWS = 4_000_000
COMPACT_BELOW_BYTES = 64 << 20  # files smaller than this are merged by `compact`
STAGING_DIR = "_staging"  # files written but not yet published: `_staging/<process>.tmp/<final path>`
RETIRED_DIR = "_retired"  # files a compaction replaced, kept for older readers: `_retired/cluster=…/date=…/<name>`
REVIEWS_DIR = "reviews"  # review evidence (`auditlake review`): `reviews/<id>.json`, one review each, never rewritten
# A small file may be retired by a later compaction, so readers name it by a pattern matching its place
# under events/ and under _retired/ (a rename moves it: exactly one exists). Large files are never compacted.
READER_PATTERN = "[e_]*"
CREATE_WAIT_SECONDS = 5.0  # how long a process creating a new lake waits for another creating the same one
PUBLISH_WAIT_SECONDS = 0.5  # how long a reader waits for a live writer to rename committed files into place
# zstd level 1 compresses these columns as well as level 3, faster; dictionaries only where values repeat.
# Statistics (min/max per row group) only where a filter can use them: not on bodies and messages.
PARQUET_OPTIONS: dict[str, Any] = {
    "compression": "zstd", "compression_level": 1,
    "use_dictionary": [column.name for column in schema.STORED_COLUMNS if column.is_repetitive],
    "write_statistics": [column.name for column in schema.STORED_COLUMNS
                         if column.name not in ("request_object", "response_object", "extra", "message", "request_uri")],
}


def _check_layout(layout: str, expected: set[str]) -> str:
    names = {name for _, name, _, _ in string.Formatter().parse(layout) if name}
    if names != expected:
        raise AssertionError(f"layout {layout!r} must use exactly {sorted(expected)}, not {sorted(names)}")
    return layout


_check_layout(PARTITION_LAYOUT, {"cluster", "date", "batch", "part"})
_check_layout(QUARANTINE_LAYOUT, {"batch"})


def validate_cluster(name: str) -> str:
    """A cluster name safe to use as a hive partition value."""
    if not schema.CLUSTER_NAME.match(name):
        raise LakeError(f"invalid cluster name {name!r}", hint="use letters, digits, '.', '_' or '-' (e.g. prod-eu)")
    return name


# ---- manifest records ---------------------------------------------------------------------------
@dataclass
class SourceRecord:
    """How far one input file has been read: one record per file (its rotated names included), never one per first line.

    Files are found again by their first line (`fingerprint`): a rotated, renamed or compressed copy
    continues its record when its bytes at `offset` are the ones read before (`anchor`). Two different
    files that share a first line (copies edited later, two captures of one cluster) get a record each:
    the first one's key is `cluster/fingerprint`, the next ones' `cluster/fingerprint#2`, …
    `seen_as` lists how its files looked (device, inode, size, mtime) each time one was read to its end: a
    file that still looks so is unchanged, and is not read at all (a renamed rotation too; a recompressed
    copy is read once, then recognised the same way).
    """

    cluster: str
    fingerprint: str
    names: list[str]  # every path it was seen at (the live name, then its rotated names)
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
    updated_at: str = ""
    key: str = ""  # its key in the manifest's sources
    seen_as: list[list[int]] = field(default_factory=list)  # [device, inode, size, mtime_ns] of files of it read to their end

    def looks_unchanged(self, stat: os.stat_result) -> bool:
        """Whether a file with this stat is a file of this source, still as it was read to its end (so nothing need be read)."""
        return [stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns] in self.seen_as


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

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        findings = data.get("findings")
        return cls(
            format=data["format"], version=data["version"], created_at=data.get("created_at", ""),
            sources={key: dataclasses.replace(SourceRecord(**value), key=key) for key, value in data.get("sources", {}).items()},
            batches=[BatchRecord(**value) for value in data.get("batches", [])],
            files={key: FileRecord(**value) for key, value in data.get("files", {}).items()},
            superseded_quarantine=list(data.get("superseded_quarantine", [])),
            retired=dict(data.get("retired", {})),
            findings=None if findings is None else {key: FileRecord(**value) for key, value in findings.items()},
            reviews={key: ReviewRecord(**value) for key, value in data.get("reviews", {}).items()},
        )

    def committed_sha256(self) -> dict[str, str]:
        """Every file the manifest commits to, by lake-relative path, with the sha256 it must have."""
        committed = {path: record.sha256 for path, record in self.files.items()}
        committed.update({batch.quarantine_file: batch.quarantine_sha256 for batch in self.batches
                          if batch.quarantine_file and batch.quarantine_sha256})
        committed.update({path: record.sha256 for path, record in (self.findings or {}).items()})
        committed.update({path: record.sha256 for path, record in self.reviews.items()})
        return committed


def now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_batch_id() -> str:
    """Sortable and unique: UTC time, then random hex (two runs in one second never collide)."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)


_PROCESS_TOKENS: dict[int, str] = {}


def process_token() -> str:
    """This process's own name for temporary files: its pid and random hex (a forked child gets its own)."""
    return _PROCESS_TOKENS.setdefault(os.getpid(), f"{os.getpid()}-{secrets.token_hex(4)}")


def temporary_sibling(path: Path) -> Path:
    """A hidden temporary name next to `path` that no other process (or call) uses: `.name.<pid>-<hex>.tmp`."""
    return path.with_name(f".{path.name}.{process_token()}-{secrets.token_hex(2)}.tmp")


@dataclass(frozen=True)
class ReaderFiles:
    """The committed files as a reader's views name them (see `LakeStore.reader_files`)."""

    events: list[str]
    quarantine: list[str]
    findings: list[str]
    staged: list[str]  # committed files read from staging: their writer was killed (or is busy) before renaming them
    reviews: list[str] = field(default_factory=list)


# ---- the lake on disk ---------------------------------------------------------------------------
class LakeStore:
    """Paths and manifest of one lake directory."""

    def __init__(self, root: Path):
        self.root = root.resolve()
        self.events_dir = self.root / "events"
        self.quarantine_dir = self.root / "quarantine"
        self.findings_dir = self.root / "findings"  # detections written back (`auditlake detect --write`)
        self.reviews_dir = self.root / REVIEWS_DIR  # review evidence (`auditlake review`)
        self.manifest_dir = self.root / "_manifest"
        self.staging_dir = self.root / STAGING_DIR
        self.retired_dir = self.root / RETIRED_DIR
        self.manifest_path = self.manifest_dir / "manifest.json"
        self.key_path = self.manifest_dir / "redaction.key"
        self.lock_path = self.manifest_dir / "lock"
        self.catalog_path = self.root / "catalog.duckdb"

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
        with _storage_errors(self.root):
            for directory in (self.events_dir, self.quarantine_dir, self.manifest_dir):
                directory.mkdir(parents=True, exist_ok=True)
        with self.write_lock(wait=CREATE_WAIT_SECONDS):
            if not self.exists():
                self.save_manifest(Manifest(created_at=now_text()))

    def _require_directory(self) -> None:
        """A lake path that is a file, or lies under one, is the user's to fix (exit 2), not an OS error from deep inside."""
        existing = next((path for path in (self.root, *self.root.parents) if path.exists()), None)
        if existing is not None and not existing.is_dir():
            where = "is a file" if existing == self.root else f"lies under {existing}, which is a file"
            raise LakeError(f"{self.root}: {where}, not a lake directory", hint="give --lake a directory: a lake, or a new or empty one")

    def _is_unfinished_skeleton(self) -> bool:
        """A lake whose creation was interrupted (or is under way): only our own directories, and no data in them."""
        names = {entry.name for entry in self.root.iterdir()}
        if not names <= {"events", "quarantine", "_manifest", STAGING_DIR}:
            return False
        return not any(path.is_file() for path in self.events_dir.rglob("*")) and not any(self.quarantine_dir.glob("*"))

    def load_manifest(self) -> Manifest:
        self.require()
        try:
            data = json.loads(self.manifest_path.read_text())
            manifest = Manifest.from_json(data)
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise LakeError(f"{self.manifest_path}: unreadable manifest ({error})", hint="restore it from a backup of the lake") from None
        if manifest.format != MANIFEST_FORMAT or manifest.version > MANIFEST_VERSION:
            raise LakeError(f"{self.manifest_path}: manifest version {manifest.version} is newer than this auditlake understands",
                            hint="upgrade auditlake")
        return manifest

    def save_manifest(self, manifest: Manifest) -> None:
        """Replace the manifest atomically: the commit point of every write."""
        write_atomically(self.manifest_path, json.dumps(dataclasses.asdict(manifest), indent=1).encode())

    def redaction_key(self) -> bytes:
        """The lake's fingerprint key, created on first use (readable by the owner only)."""
        if not self.key_path.exists():
            write_atomically(self.key_path, secrets.token_hex(32).encode(), mode=0o600)
        return bytes.fromhex(self.key_path.read_text().strip())

    @contextlib.contextmanager
    def write_lock(self, *, wait: float = 0.0) -> Iterator[None]:
        """Exclusive right to write; a second writer gets a clear error instead of waiting (beyond `wait` seconds).

        Only writers take it: readers never do, so a reader never makes a cron ingest fail.
        """
        with _storage_errors(self.lock_path):
            handle = self.lock_path.open("a+")
        try:
            deadline = time.monotonic() + wait
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise LakeLockedError(f"{self.root}: another auditlake ingest or compact is writing to this lake",
                                              hint="wait for it to finish (cron runs should not overlap)") from None
                    time.sleep(0.02)
            yield
        finally:
            handle.close()

    # ---- staging, publishing, retiring -----------------------------------------------------------
    def staged(self, final: Path) -> Path:
        """Where this process writes `final` until the manifest that lists it is saved."""
        return self.staging_dir / f"{process_token()}.tmp" / final.relative_to(self.root)

    def publish(self, pairs: Iterable[tuple[Path, Path]]) -> None:
        """Rename committed files from staging to their final names (their manifest is already saved)."""
        directories: set[Path] = set()
        for staged, final in pairs:
            with _storage_errors(final):
                final.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staged, final)
            directories.add(final.parent)
            self._remove_empty_staging(staged.parent)
        for directory in directories:
            with contextlib.suppress(OSError):
                _fsync_directory(directory)

    def discard(self, staged: Iterable[Path]) -> None:
        """Delete staged files of a write that will not be committed."""
        for path in staged:
            path.unlink(missing_ok=True)
            self._remove_empty_staging(path.parent)

    def _remove_empty_staging(self, directory: Path) -> None:
        while directory.is_relative_to(self.staging_dir):
            try:
                directory.rmdir()
            except OSError:
                return
            directory = directory.parent

    def retired_path(self, relative: str) -> Path:
        """Where a file a compaction replaced waits out the grace period: `_retired/cluster=…/date=…/<name>`."""
        return self.retired_dir / Path(relative).relative_to("events")

    def retire(self, relative: str) -> None:
        """Move a replaced file out of events/ (directory readers no longer see it; open views still read it)."""
        source, target = self.root / relative, self.retired_path(relative)
        with _storage_errors(target):
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, target)

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
        with _storage_errors(self.root):
            committed = manifest.committed_sha256()
            for staged in sorted(path for path in self.staging_dir.glob("*/**/*") if path.is_file()):
                relative = staged.relative_to(self.staging_dir).as_posix().split("/", 1)[1]
                if relative in committed and file_sha256(staged) == committed[relative]:
                    self.publish([(staged, self.root / relative)])
                else:
                    self.discard([staged])
                    removed += 1
            now = datetime.now(UTC)
            expired = [path for path, at in manifest.retired.items() if (now - _parse_time(at)).total_seconds() >= grace]
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
            for top in (self.events_dir, self.findings_dir, self.retired_dir, self.staging_dir):
                _remove_empty_directories(top, keep_top=top == self.events_dir)
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
                     + list(self.root.glob("*"))):
            if not path.is_file():
                continue
            relative = path.relative_to(self.root).as_posix()
            if path.name.endswith((".tmp", ".tmp.wal", ".rewrite")):  # ours, or an older auditlake's
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
        return sorted(str(self.root / path) for path in manifest.files)

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
            events=[name(path) for path in sorted(manifest.files)],
            quarantine=[name(batch.quarantine_file) for batch in sorted(manifest.batches, key=lambda b: b.quarantine_file or "")
                        if batch.quarantine_file],
            findings=[name(path) for path in sorted(manifest.findings)] if manifest.findings is not None else self.findings_files(manifest),
            staged=sorted(str(path) for path in staged.values()),
            reviews=[name(path) for path in sorted(manifest.reviews)],
        )

    def _staged_copy(self, relative: str, size: int | None) -> Path | None:
        if (self.root / relative).is_file():  # renamed into place since we looked
            return None
        copies = [path for path in self.staging_dir.glob(f"*/{relative}") if size is None or path.stat().st_size == size]
        return copies[0] if len(copies) == 1 else None

    def quarantine_files(self, manifest: Manifest | None = None) -> list[str]:
        manifest = manifest or self.load_manifest()
        return sorted(str(self.root / b.quarantine_file) for b in manifest.batches if b.quarantine_file)

    def findings_files(self, manifest: Manifest | None = None) -> list[str]:
        manifest = manifest or self.load_manifest()
        if manifest.findings is None:  # a lake from before findings were recorded: what is on disk
            return sorted(str(path) for path in self.findings_dir.glob("cluster=*/date=*/findings.parquet"))
        return sorted(str(self.root / path) for path in manifest.findings)


def _parse_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def _remove_empty_directories(top: Path, *, keep_top: bool) -> None:
    """Remove the empty directories under `top` (deepest first), and `top` itself unless `keep_top`."""
    directories = sorted((path for path in top.rglob("*") if path.is_dir()), key=lambda path: len(path.parts), reverse=True)
    for directory in directories + ([] if keep_top else [top]):
        with contextlib.suppress(OSError):
            directory.rmdir()


def unseen_findings(store: LakeStore, findings: pa.Table) -> pa.Table:
    """The findings the lake does not hold yet (by rule and audit_id): what a scheduled run alerts on."""
    files = store.reader_files(store.load_manifest()).findings  # a killed writer's committed findings may still be in staging
    if not files or not findings.num_rows:
        return findings
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")  # dates are UTC days, as in events/
    try:
        connection.register("incoming", findings)
        return connection.sql("SELECT i.* FROM incoming AS i ANTI JOIN (SELECT rule, audit_id FROM read_parquet($files)) AS f "
                              "USING (rule, audit_id) ORDER BY received_at, rule, audit_id", params={"files": files}).to_arrow_table()
    finally:
        connection.close()


def write_findings(store: LakeStore, findings: pa.Table) -> int:
    """Merge detections into `findings/cluster=…/date=…/findings.parquet`; the number of new rows (run under the write lock).

    A finding is keyed by (rule, audit_id): rerunning a detection over the same window adds nothing,
    and the first time a finding was seen (`found_at`) is kept. Each touched partition file is written
    whole in staging; the manifest that records them all is the commit point; then they replace the
    old files, so a reader sees all the old files or all the new ones, and a killed run commits all or nothing.
    """
    manifest = store.load_manifest()
    store.recover(manifest)
    if manifest.findings is None:  # the first write since findings are recorded: adopt what is there
        manifest.findings = {}
        for name in store.findings_files(manifest):
            path = Path(name)
            record = _describe_file(store, path, path, path.parent.parent.name.split("=", 1)[1], path.parent.name.split("=", 1)[1], "")
            if record is not None:
                manifest.findings[record.path] = record
    write = new_batch_id()
    added = 0
    staged: list[tuple[Path, Path]] = []
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")  # dates are UTC days, as in events/
    try:
        connection.register("incoming", findings)
        partitions = connection.execute("SELECT DISTINCT cluster, CAST(received_at AS DATE) FROM incoming ORDER BY ALL").fetchall()
        for cluster, day in partitions:
            target = store.findings_dir / f"cluster={cluster}" / f"date={day}" / "findings.parquet"
            relative = target.relative_to(store.root).as_posix()
            existing = ("SELECT * EXCLUDE (cluster, date) FROM read_parquet($target, hive_partitioning = true)"
                        if relative in manifest.findings else None)
            fresh = ("SELECT * EXCLUDE (date) FROM (SELECT *, CAST(received_at AS DATE) AS date FROM incoming) "
                     "WHERE cluster = $cluster AND date = $day")
            merged = (f"SELECT * FROM ({existing + ' UNION ALL BY NAME ' if existing else ''}"
                      f"SELECT * EXCLUDE (cluster) FROM ({fresh})) QUALIFY row_number() OVER (PARTITION BY rule, audit_id ORDER BY found_at) = 1 "
                      f"ORDER BY received_at, rule, audit_id")
            values = {"cluster": cluster, "day": day, **({"target": str(target)} if existing else {})}
            table = connection.sql(merged, params=values).to_arrow_table()
            before = manifest.findings[relative].rows if existing else 0
            if table.num_rows == before:
                continue  # nothing new in this partition: leave its file alone
            added += table.num_rows - before
            temporary = store.staged(target)
            staged.append((temporary, target))
            with _storage_errors(temporary):
                temporary.parent.mkdir(parents=True, exist_ok=True)
                pq.write_table(table, temporary, compression="zstd")
                with temporary.open("rb") as handle:
                    os.fsync(handle.fileno())
            record = _describe_file(store, temporary, target, str(cluster), str(day), write)
            assert record is not None
            manifest.findings[relative] = record
        if staged:
            store.save_manifest(manifest)  # the commit point
    except BaseException:
        store.discard(temporary for temporary, _ in staged)
        raise
    finally:
        connection.close()
    store.publish(staged)
    return added


def write_review(store: LakeStore, name: str, data: bytes, *, target: str, reviewed_at: str) -> str:
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
        with _storage_errors(temporary):
            temporary.parent.mkdir(parents=True, exist_ok=True)
            with temporary.open("wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        manifest.reviews[relative] = ReviewRecord(relative, target, reviewed_at, len(data), hashlib.sha256(data).hexdigest())
        store.save_manifest(manifest)  # the commit point
    except BaseException:
        store.discard([temporary])
        raise
    store.publish([(temporary, final)])
    return relative


def write_atomically(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Write to a temporary name of this process's own, fsync, rename over `path`: readers see the old or the new file, never half."""
    temporary = temporary_sibling(path)
    with _storage_errors(path):
        try:
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def as_storage_error(error: BaseException, path: Path) -> StorageError | None:
    """The StorageError for an OS (or DuckDB) error the user can fix, naming `path`; None for any other error."""
    number = getattr(error, "errno", None)
    text = str(error)
    if number == errno.ENOSPC or "No space left on device" in text:
        return StorageError("disk full", path=path, hint="free space and rerun: committed batches are kept, the rest is redone")
    if number in (errno.EACCES, errno.EPERM, errno.EROFS) or "Permission denied" in text or "Read-only file system" in text:
        reason = getattr(error, "strerror", None) or ("read-only file system" if "Read-only" in text else "permission denied")
        return StorageError(f"permission denied ({reason})", path=path, hint="check the lake directory's owner and mode")
    return None


@contextlib.contextmanager
def _storage_errors(path: Path) -> Iterator[None]:
    """Turn the OS errors a user can fix into one-line errors that name the path."""
    try:
        yield
    except OSError as error:
        converted = as_storage_error(error, path)
        if converted is None:
            raise
        raise converted from None


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


# ---- writing one batch --------------------------------------------------------------------------
@dataclass
class SourceProgress:
    """What the pipeline has read of one source so far in this run (ingest/ fills it, storage records it)."""

    cluster: str
    fingerprint: str
    name: str
    size: int
    start_offset: int
    start_line: int
    offset: int
    lines: int
    is_final: bool
    events: int = 0
    quarantined: int = 0
    first_event_at: str | None = None
    last_event_at: str | None = None
    reached_end: bool = False
    sha256: str | None = None
    tail: dict[str, Any] | None = None
    anchor: str | None = None
    key: str = ""  # the SourceRecord it updates
    device: int | None = None
    inode: int | None = None
    mtime_ns: int | None = None


@dataclass
class _OpenFile:
    """The Parquet file a batch is writing for one partition (rows arrive as time-sorted row groups)."""

    cluster: str
    date: str
    path: Path  # the final name, taken only once the manifest that lists it is saved
    temporary: Path  # where it is written until then (in staging)
    writer: pq.ParquetWriter
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
        self.schema = schema.stored_schema()
        self.committed: list[CommitResult] = []
        self._queue: queue.Queue[pa.Table | None] = queue.Queue(maxsize=2)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._write_loop, name="auditlake-writer", daemon=True)
        self._thread.start()
        self._start_batch()

    def _start_batch(self) -> None:
        self.batch = new_batch_id()
        self.started_at = now_text()
        self.open_files: dict[tuple[str, str], _OpenFile] = {}
        self.finished_files: list[_OpenFile] = []
        self.parts: dict[tuple[str, str], int] = {}
        self.quarantined: list[dict[str, Any]] = []
        self.progress: dict[str, SourceProgress] = {}
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
                found[key] = SourceRecord(cluster, fingerprint, [*(known.names if known else []), pending.name], pending.size, pending.offset,
                                          pending.lines, reached_end=pending.reached_end, tail=pending.tail, anchor=pending.anchor, key=key,
                                          sha256=pending.sha256 or (known.sha256 if known else None))
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
        """Append one decoded block (time-sorted by the decoder) as a row group of each partition it touches."""
        table = table.append_column("batch", pc.fill_null(pa.nulls(table.num_rows, pa.string()), self.batch))
        partitions = table.group_by(["cluster", "date"], use_threads=False).aggregate([]).to_pylist()
        for partition in partitions:
            cluster, day = validate_cluster(partition["cluster"]), partition["date"]
            part = table if len(partitions) == 1 else table.filter(
                pc.and_(pc.equal(table.column("cluster"), cluster), pc.equal(table.column("date"), day)))
            self._append(cluster, day.isoformat(), part.drop_columns(["cluster", "date"]).cast(self.schema))

    def _append(self, cluster: str, date: str, rows: pa.Table) -> None:
        key = (cluster, date)
        handle = self.open_files.get(key)
        if handle is None:
            self.parts[key] = self.parts.get(key, 0) + 1
            path = self.store.root / PARTITION_LAYOUT.format(cluster=cluster, date=date, batch=self.batch, part=self.parts[key])
            temporary = self.store.staged(path)
            with _storage_errors(temporary):
                temporary.parent.mkdir(parents=True, exist_ok=True)
                writer = pq.ParquetWriter(temporary, self.schema, **PARQUET_OPTIONS)
                handle = self.open_files[key] = _OpenFile(cluster, date, path, temporary, writer)
        with _storage_errors(handle.path):
            handle.writer.write_table(rows, row_group_size=ROW_GROUP_ROWS)
        low, high = pc.min_max(rows.column("received_at")).values()
        handle.low = low if handle.low is None or low.as_py() < handle.low.as_py() else handle.low
        handle.high = high if handle.high is None or high.as_py() > handle.high.as_py() else handle.high
        handle.rows += rows.num_rows
        if handle.rows >= MAX_FILE_ROWS:
            self._close_file(handle)

    def _close_file(self, handle: _OpenFile) -> None:
        with _storage_errors(handle.path):
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
            self.quarantined.append({
                "id": quarantine_id(cluster, fingerprint, record.source, record.line, record.item),
                "batch": self.batch, "cluster": cluster, "source_file": record.source, "source_fingerprint": fingerprint,
                "source_line": record.line, "source_item": record.item, "reason": record.reason, "raw": text,
                "raw_base64": encoded, "quarantined_at": now_text(),
            })

    def advance(self, progress: SourceProgress) -> CommitResult | None:
        """Record how far a source has been read; commit when the batch is big enough."""
        self.progress[progress.key or f"{progress.cluster}/{progress.fingerprint}"] = progress
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
            with _storage_errors(handle.temporary), handle.temporary.open("rb") as stream:
                os.fsync(stream.fileno())
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
            schema_version=schema.SCHEMA_VERSION, rows=rows, duplicates=duplicates, quarantined=len(self.quarantined),
            redacted=self.redacted, files=files, quarantine_file=quarantine_file, quarantine_sha256=quarantine_sha256,
            sources=[_progress_summary(progress) for progress in self.progress.values()],
        ))
        self.store.save_manifest(self.manifest)  # the commit point
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
        temporary = self.store.staged(self.store.root / relative)
        self._staged_quarantine = [temporary]
        with _storage_errors(temporary):
            temporary.parent.mkdir(parents=True, exist_ok=True)
            with temporary.open("wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        return relative, hashlib.sha256(data).hexdigest()

    def _record_sources(self) -> None:
        for key, progress in self.progress.items():
            record = self.manifest.sources.get(key)
            if record is None:
                record = self.manifest.sources[key] = SourceRecord(progress.cluster, progress.fingerprint, [], 0, 0, 0, key=key)
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
            record.sha256 = progress.sha256 or record.sha256
            record.tail = progress.tail
            record.anchor = progress.anchor
            if progress.reached_end and progress.device is not None and progress.inode is not None and progress.mtime_ns is not None:
                seen = [progress.device, progress.inode, progress.size, progress.mtime_ns]
                record.seen_as = [*[item for item in record.seen_as if item[:2] != seen[:2]], seen][-SEEN_AS_KEPT:]
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
    }


def _file_record(store: LakeStore, handle: _OpenFile, batch: str, *, recount: bool) -> FileRecord | None:
    if recount:  # duplicate removal may have rewritten the file
        return _describe_file(store, handle.temporary, handle.path, handle.cluster, handle.date, batch)
    return FileRecord(
        path=handle.path.relative_to(store.root).as_posix(), cluster=handle.cluster, date=handle.date, batch=batch,
        rows=handle.rows, bytes=handle.temporary.stat().st_size, sha256=file_sha256(handle.temporary),
        min_received_at=handle.low.as_py().isoformat(), max_received_at=handle.high.as_py().isoformat(),
    )


def _describe_file(store: LakeStore, temporary: Path, final: Path, cluster: str, date: str, batch: str) -> FileRecord | None:
    """A manifest record for a written file, read back from the file itself."""
    rows = pq.read_metadata(temporary).num_rows
    if rows == 0:
        return None
    low, high = (value.as_py() for value in pc.min_max(pq.read_table(temporary, columns=["received_at"]).column(0)).values())
    return FileRecord(
        path=final.relative_to(store.root).as_posix(), cluster=cluster, date=date, batch=batch, rows=rows,
        bytes=temporary.stat().st_size, sha256=file_sha256(temporary), min_received_at=low.isoformat(), max_received_at=high.isoformat(),
    )


# ---- duplicates -----------------------------------------------------------------------------------
DUPLICATES_SQL = """
WITH fresh AS (
  SELECT audit_id, coalesce(stage, '') AS stage, received_at, filename, file_row_number
  FROM read_parquet($fresh, filename = true, file_row_number = true)
),
repeated AS (
  SELECT filename, file_row_number FROM fresh
  QUALIFY row_number() OVER (PARTITION BY audit_id, stage, received_at ORDER BY filename, file_row_number) > 1
),
known AS (
  SELECT f.filename, f.file_row_number FROM fresh AS f
  SEMI JOIN (
    SELECT audit_id, coalesce(stage, '') AS stage, received_at FROM read_parquet($existing)
    WHERE received_at BETWEEN $low AND $high
  ) AS e ON f.audit_id = e.audit_id AND f.stage = e.stage AND f.received_at = e.received_at
)
SELECT filename, list(file_row_number) FROM (SELECT * FROM repeated UNION SELECT * FROM known) GROUP BY filename
"""
DUPLICATES_WITHIN_SQL = DUPLICATES_SQL.split("known AS")[0].rstrip().rstrip(",") + """
SELECT filename, list(file_row_number) FROM repeated GROUP BY filename
"""


def remove_duplicates(store: LakeStore, manifest: Manifest, files: list[tuple[Path, Path]], memory_limit: str) -> int:
    """Drop rows whose (audit_id, stage) is already in the lake or earlier in this batch; return how many.

    A duplicate has the same requestReceivedTimestamp as the original, so it lies in the same
    cluster/date partition and in the same time range: only those files are read, and only their
    key columns. The first copy wins (files already committed, then this batch in write order).
    `files` are (staged, final) pairs: the staged files are read and rewritten, the final names say the partition.
    """
    if not files:
        return 0
    connection = duckdb.connect(config={"memory_limit": memory_limit})
    connection.execute("SET TimeZone = 'UTC'")
    removed = 0
    try:
        by_partition: dict[Path, list[Path]] = {}
        for temporary, final in files:
            by_partition.setdefault(final.parent, []).append(temporary)
        for directory, fresh in by_partition.items():
            prefix = directory.relative_to(store.root).as_posix() + "/"
            existing = [str(store.root / path) for path in manifest.files if path.startswith(prefix)]
            fresh_names = [str(path) for path in fresh]
            if existing:
                low, high = connection.execute("SELECT min(received_at), max(received_at) FROM read_parquet($f)", {"f": fresh_names}).fetchall()[0]
                rows = connection.execute(DUPLICATES_SQL, {"fresh": fresh_names, "existing": existing, "low": low, "high": high}).fetchall()
            else:
                rows = connection.execute(DUPLICATES_WITHIN_SQL, {"fresh": fresh_names}).fetchall()
            for filename, row_numbers in rows:
                removed += len(row_numbers)
                _drop_rows(Path(filename), set(row_numbers))
    finally:
        connection.close()
    return removed


def _drop_rows(path: Path, row_numbers: set[int]) -> None:
    table = pq.read_table(path)
    positions = pa.array(range(table.num_rows), pa.int64())
    table = table.filter(pc.invert(pc.is_in(positions, value_set=pa.array(sorted(row_numbers), pa.int64()))))
    rewritten = temporary_sibling(path)
    pq.write_table(table, rewritten, row_group_size=ROW_GROUP_ROWS, **PARQUET_OPTIONS)
    os.replace(rewritten, path)


# ---- compaction -----------------------------------------------------------------------------------
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
    connection = duckdb.connect(config={"memory_limit": memory_limit})
    connection.execute("SET TimeZone = 'UTC'")
    target_schema = schema.stored_schema()
    written: list[FileRecord] = []
    staged: list[tuple[Path, Path]] = []
    replaced: list[str] = []
    rows = 0
    try:
        for (cluster, date), records in sorted(groups.items()):
            if on_partition:
                on_partition(f"cluster={cluster}/date={date}")
            final = store.root / PARTITION_LAYOUT.format(cluster=cluster, date=date, batch=batch, part=1)
            temporary = store.staged(final)
            staged.append((temporary, final))
            names = [str(store.root / record.path) for record in sorted(records, key=lambda r: r.path)]
            reader = connection.sql(
                "SELECT * FROM read_parquet($files, union_by_name = true) ORDER BY received_at, audit_id", params={"files": names}
            ).to_arrow_reader(ROW_GROUP_ROWS)
            with _storage_errors(temporary):
                temporary.parent.mkdir(parents=True, exist_ok=True)
                with pq.ParquetWriter(temporary, target_schema, **PARQUET_OPTIONS) as writer:
                    for chunk in reader:
                        writer.write_table(pa.Table.from_batches([chunk]).select(target_schema.names).cast(target_schema),
                                           row_group_size=ROW_GROUP_ROWS)
                with temporary.open("rb") as handle:
                    os.fsync(handle.fileno())
            merged = _describe_file(store, temporary, final, cluster, date, batch)
            assert merged is not None and merged.rows == sum(r.rows for r in records), "compaction must keep every row"
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
            schema_version=schema.SCHEMA_VERSION, rows=rows, duplicates=0, quarantined=0, redacted=True,
            files=[r.path for r in written], replaced=replaced,
        ))
        store.save_manifest(manifest)  # the commit point
    except BaseException:
        store.discard(temporary for temporary, _ in staged)
        raise
    finally:
        connection.close()
    for path in replaced:  # out of events/ first: a directory reader never counts a row twice
        store.retire(path)
    store.publish(staged)
    store.recover(manifest, retire_after=retire_after)  # with no grace period, the replaced files go now
    return CompactResult(len(groups), len(replaced), len(written), rows)
