"""Files under LAKE/: the layout, the write lock, atomic writes, staging, publishing and retiring, storage errors.

Owns: where every file of a lake lives (`PARTITION_LAYOUT` and the other names, checked at import),
the Parquet options of events files, the exclusive write lock, writing a file atomically, and the
life of a data file: written in `_staging/<process>.tmp/<its final path>` (a name no other process
uses and no directory reader of `events/` or `findings/` sees), renamed into place (`publish`) once
the manifest that lists it is saved, or moved to `_retired/` once a compaction replaced it. Turns the
OS errors a user can fix (disk full, permissions) into `StorageError`s naming the path.
Knows nothing of the manifest's contents (see manifest.py): it never decides what is committed.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import secrets
import string
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from auditlake import contract
from auditlake.errors import LakeError, LakeLockedError, StorageError

PARTITION_LAYOUT = "events/cluster={cluster}/date={date}/{batch}-{part:04d}.parquet"
QUARANTINE_LAYOUT = "quarantine/{batch}.jsonl"
ROW_GROUP_ROWS = 122_880  # DuckDB's own row group size: good pruning, good compression
# Inside a row group (a slice of time: rows fill them in the order they arrive, so min/max of received_at still prune a
# short window), rows are in this order: the requests a detection reads (secrets, pods, bindings) are then a few long
# stretches, and DuckDB decodes a column only in stretches where a filter matched. Every detection over the 10 M-event
# benchmark lake: 53–57 → 33 s (the same row groups in time order: no faster than ≈ 18,000-row ones).
ROW_GROUP_ORDER = [("resource", "ascending", "at_end"), ("received_at", "ascending", "at_end")]  # a request without a resource last
MAX_FILE_ROWS = 4_000_000
COMPACT_BELOW_BYTES = 64 << 20  # files smaller than this are merged by `compact`
STAGING_DIR = "_staging"  # files written but not yet published: `_staging/<process>.tmp/<final path>`
RETIRED_DIR = "_retired"  # files a compaction replaced, kept for older readers: `_retired/cluster=…/date=…/<name>`
DATA_DIRS = ("events", "quarantine", "findings", "reviews")  # where committed files live (a commit lists each)
REVIEWS_DIR = "reviews"  # review evidence (`auditlake review`): `reviews/<id>.json`, one review each, never rewritten
# A small file may be retired by a later compaction, so readers name it by a pattern matching its place
# under events/ and under _retired/ (a rename moves it: exactly one exists). Large files are never compacted.
READER_PATTERN = "[e_]*"
CREATE_WAIT_SECONDS = 5.0  # how long a process creating a new lake waits for another creating the same one


def leaf_paths(column: contract.Column) -> list[str]:
    """The Parquet leaf columns of a stored column, as pyarrow names them in per-column options: a list's values are
    `NAME.list.element` and a map's `NAME.key_value.key`/`.value` (the bare name would not reach them)."""
    if pa.types.is_list(column.type):
        return [f"{column.name}.list.element"]
    if pa.types.is_map(column.type):
        return [f"{column.name}.key_value.key", f"{column.name}.key_value.value"]
    return [column.name]


# zstd level 1 compresses these columns as well as level 3, faster; dictionaries only where values repeat (in lists
# and maps too: DuckDB reads a dictionary-encoded user_groups ≈3× faster, and every detection reading it pays that).
# Statistics (min/max per row group) only where a filter can use them: not on bodies and messages.
PARQUET_OPTIONS: dict[str, Any] = {
    "compression": "zstd", "compression_level": 1,
    "store_schema": False,
    "use_dictionary": [path for column in contract.STORED_COLUMNS if column.is_repetitive for path in leaf_paths(column)],
    "write_statistics": [column.name for column in contract.STORED_COLUMNS
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
    if not contract.CLUSTER_NAME.match(name):
        raise LakeError(f"invalid cluster name {name!r}", hint="use letters, digits, '.', '_' or '-' (e.g. prod-eu)")
    return name


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



class LakeFiles:
    """The paths of one lake directory, its write lock, and the staging, publishing and retiring of its files."""

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
        with storage_errors(self.lock_path):
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

    def stage_bytes(self, final: Path, data: bytes) -> Path:
        """Write `data` to the staged name of `final`, fsynced; the staged path (published once its manifest is saved)."""
        temporary = self.staged(final)
        with storage_errors(temporary):
            temporary.parent.mkdir(parents=True, exist_ok=True)
            with temporary.open("wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        return temporary

    def publish(self, pairs: Iterable[tuple[Path, Path]]) -> None:
        """Rename committed files from staging to their final names (their manifest is already saved)."""
        directories: set[Path] = set()
        for staged, final in pairs:
            with storage_errors(final):
                final.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staged, final)
            directories.add(final.parent)
            self._remove_empty_staging(staged.parent)
        for directory in directories:
            with contextlib.suppress(OSError):
                fsync_directory(directory)

    @contextlib.contextmanager
    def staging(self) -> Iterator[list[tuple[Path, Path]]]:
        """The (staged, final) pairs of one commit: a failure before the manifest is saved deletes every staged file."""
        staged: list[tuple[Path, Path]] = []
        try:
            yield staged
        except BaseException:
            self.discard(temporary for temporary, _ in staged)
            raise

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
        with storage_errors(target):
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, target)


def write_atomically(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Write to a temporary name of this process's own, fsync, rename over `path`: readers see the old or the new file, never half."""
    temporary = temporary_sibling(path)
    with storage_errors(path):
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
        fsync_directory(path.parent)


def fsync_file(path: Path) -> None:
    """Make a file written by a library (pyarrow) durable before the manifest that lists it is saved."""
    with storage_errors(path), path.open("rb") as handle:
        os.fsync(handle.fileno())


def fsync_directory(directory: Path) -> None:
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
def storage_errors(path: Path) -> Iterator[None]:
    """Turn the OS errors a user can fix into one-line errors that name the path."""
    try:
        yield
    except OSError as error:
        converted = as_storage_error(error, path)
        if converted is None:
            raise
        raise converted from None


def is_temporary(path: Path) -> bool:
    """A writer's temporary name (ours, or an older auditlake's): the next writer's recovery deletes it."""
    return path.name.endswith((".tmp", ".tmp.wal", ".rewrite"))


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def parse_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def remove_empty_directories(top: Path, *, keep_top: bool) -> None:
    """Remove the empty directories under `top` (deepest first), and `top` itself unless `keep_top`."""
    directories = sorted((path for path in top.rglob("*") if path.is_dir()), key=lambda path: len(path.parts), reverse=True)
    for directory in directories + ([] if keep_top else [top]):
        with contextlib.suppress(OSError):
            directory.rmdir()


class RowGroupWriter:
    """A Parquet file of events (`PARQUET_OPTIONS`) written in row groups of `ROW_GROUP_ROWS` rows, filled in the order
    rows arrive, each sorted by `ROW_GROUP_ORDER` before it is written (`flush` and `close` write what is gathered as a shorter one).

    The sort is stable: rows that tie (copies of one event) keep the order they arrived in, so the first copy stays first.
    """

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self._writer = pq.ParquetWriter(path, schema, **PARQUET_OPTIONS)
        self._pending: list[pa.Table] = []  # rows waiting for their row group to fill
        self._rows = 0

    def write(self, rows: pa.Table) -> None:
        self._pending.append(rows)
        self._rows += rows.num_rows
        while self._rows >= ROW_GROUP_ROWS:
            group, needed = [], ROW_GROUP_ROWS
            while needed:  # the first `needed` rows waiting, a block split when it straddles two row groups
                if self._pending[0].num_rows <= needed:
                    group.append(self._pending.pop(0))
                else:
                    group.append(self._pending[0].slice(0, needed))
                    self._pending[0] = self._pending[0].slice(needed)
                needed -= group[-1].num_rows
            self._rows -= ROW_GROUP_ROWS
            self._write_group(group)

    def flush(self) -> None:
        """Write the rows gathered so far as a (shorter) row group now, rather than hold them."""
        if self._rows:
            group, self._pending, self._rows = self._pending, [], 0
            self._write_group(group)

    def close(self) -> None:
        self.flush()
        self._writer.close()

    def _write_group(self, tables: list[pa.Table]) -> None:
        """Sort the row group column by column, each column's rows let go of once copied: it is held about once, not twice."""
        schema = tables[0].schema
        order = pc.sort_indices(pa.concat_tables([table.select([key for key, *_ in ROW_GROUP_ORDER]) for table in tables]),
                                sort_keys=ROW_GROUP_ORDER)
        columns = [[chunk for table in tables for chunk in table.column(index).chunks] for index in range(len(schema))]
        tables.clear()
        ordered = [pa.chunked_array(columns.pop(0), field.type).take(order) for field in schema]  # popped: let go of once copied
        self._writer.write_table(pa.Table.from_arrays(ordered, schema=schema), row_group_size=ROW_GROUP_ROWS)
