"""A lake in a bucket (`--lake s3://bucket/prefix`): the same layout, commit point, lock and digest chain, on objects.

Owns: `BucketLakeStore`, a `LakeStore` whose files are objects under the lake's prefix, and `open_store`,
which gives the store for what a user typed (`./lake` or `s3://…`). There is no rename on object storage, so:
- a write stages its files locally (in this user's cache, `<cache>/lakes/<hash of the URL>/_staging/`), then
  uploads them under their final names *before* its commit: names no other commit uses (a batch id each;
  findings get a file name per write, since a bucket never overwrites what a reader may be reading);
- the commit point is the manifest object `_manifest/manifest.json`, written last with a conditional PUT
  (`If-Match` the ETag this writer saw when it took the lock): a writer that lost its lock cannot commit;
- the write lock is the object `_manifest/lock` (objectlock.py) with a lease a background thread renews
  (AUDITLAKE_LOCK_LEASE); a crashed writer's lease runs out and its successor takes it over;
- readers name exactly the objects the manifest lists, so what a killed writer uploaded before its commit
  is never read, and the next writer's recovery deletes it; a file a compaction (or a findings write)
  replaced stays at its name until the grace period (AUDITLAKE_RETIRE_AFTER) has passed, then is deleted;
- the digest chain is the objects under `_digests/`: each digest is written by digests.py into the local
  directory, uploaded (never over an existing object) before the manifest, and the local copy deleted.
The catalog stays local (AUDITLAKE_CATALOG, else `catalog.duckdb` in the lake's cache directory); its views
name `s3://` URLs, read through s3fs registered on each DuckDB connection. Only S3 (and S3-compatible stores)
can hold a lake; GCS and Azure are sources. Credentials come from the SDK's standard chain and are never
written anywhere: the store keeps a client, not a key.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import secrets
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from auditlake import config
from auditlake.errors import CREDENTIALS_HINT, LakeError, LakeLockedError
from auditlake.objectstore import ObjectStore, is_object_url, s3_client_config, split_url
from auditlake.store.digests import DIGESTS_DIR, names_to_discard
from auditlake.store.files import DATA_DIRS, now_text, parse_time, remove_empty_directories
from auditlake.store.manifest import LakeStore, Manifest, ReaderFiles, parse_manifest
from auditlake.store.objectlock import Lease, ObjectLock, error_code, is_conflict

MISSING = ("NoSuchKey", "NotFound", "404")  # what S3 answers for an object that is not there (HEAD: no body, so a status)
READ_BLOCK = 1 << 20
DOWNLOAD_THREADS = 8


def open_store(where: str | Path, *, signing_key: Any = None, endpoint: str | None = None) -> LakeStore:
    """The store of the lake a user named: a directory, or an `s3://bucket/prefix` (`endpoint`: an S3-compatible store)."""
    if is_object_url(str(where)):
        return BucketLakeStore(str(where), signing_key=signing_key, endpoint=endpoint)
    return LakeStore(Path(where), signing_key=signing_key)


class _Conflict(Exception):
    """A conditional PUT found the object other than expected."""


class BucketLakeStore(LakeStore):
    """The lake under `s3://bucket/prefix` (see the module docstring); local state lives in this user's cache."""

    def __init__(self, url: str, *, signing_key: Any = None, endpoint: str | None = None):
        scheme, rest = split_url(url)
        bucket, _, prefix = rest.partition("/")
        if scheme != "s3":
            raise LakeError(f"{url}: a lake can live in s3:// (AWS S3 or an S3-compatible store), not in {scheme}://",
                            hint=f"{scheme}:// can be read as a source: auditlake ingest {url} --lake ./lake")
        if not bucket:
            raise LakeError(f"{url}: no bucket named", hint="write --lake s3://BUCKET/PREFIX")
        self.bucket, self.prefix = bucket, prefix.strip("/")
        self.url = f"s3://{bucket}/{self.prefix}".rstrip("/")
        super().__init__(config.cache_dir() / "lakes" / hashlib.sha256(self.url.encode()).hexdigest()[:16], signing_key=signing_key)
        self.catalog_path = config.catalog_path() or self.root / "catalog.duckdb"
        self.objects = ObjectStore("s3", endpoint=endpoint, immutable=True)  # s3fs: what DuckDB and pyarrow read the objects through
        # The objects LakeFiles names for a directory, as keys under the prefix: the layout is said once.
        self.manifest_key = self._relative(self.manifest_path)
        self.lock_key = self._relative(self.lock_path)
        self.redaction_key_object = self._relative(self.key_path)
        self._client: Any = None
        self._manifest_etag: str | None = None  # of the manifest this writer saw when it took the lock
        self._renewal: _Renewal | None = None
        self._chain_copy: tempfile.TemporaryDirectory[str] | None = None

    # ---- where the files are ---------------------------------------------------------------------
    in_bucket = True

    @property
    def address(self) -> str:
        return self.url

    def location(self, relative: str) -> str:
        return f"{self.url}/{relative}"

    def filesystems(self) -> list[Any]:
        return [self.objects.fs]

    def findings_name(self, write: str) -> str:
        return f"findings-{write}.parquet"

    def stored_size(self, relative: str) -> int | None:
        answer = self._head(relative)
        return None if answer is None else int(answer["ContentLength"])

    def stored_sha256(self, relative: str) -> str | None:
        digest = hashlib.sha256()
        with self._calls(relative):
            found = self._body(relative)
            if found is None:
                return None
            while chunk := found[0].read(READ_BLOCK):
                digest.update(chunk)
        return digest.hexdigest()

    def stored_paths(self, top: str) -> list[str]:
        return sorted(self._list(top))

    def digest_root(self) -> Path:
        """A fresh local copy of the bucket's `_digests/` (every object, as stored), for reading the chain."""
        if self._chain_copy is not None:
            self._chain_copy.cleanup()
        self._chain_copy = tempfile.TemporaryDirectory(prefix="auditlake-chain-")
        root = Path(self._chain_copy.name)
        names = sorted(self._list(DIGESTS_DIR))

        def fetch(relative: str) -> None:
            found = self._get(relative)
            if found is not None:
                target = root / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(found[0])

        with ThreadPoolExecutor(max_workers=DOWNLOAD_THREADS) as pool:
            list(pool.map(fetch, names))
        return root

    # ---- the lake's life --------------------------------------------------------------------------
    def exists(self) -> bool:
        return self._head(self.manifest_key) is not None

    def require(self) -> None:
        if not self.exists():
            raise LakeError(f"{self.url}: no auditlake lake here",
                            hint=f"create one with `auditlake ingest PATH --lake {self.url}` (the bucket must exist)")

    def create(self) -> None:
        """Create an empty lake under the prefix; refuse a prefix that holds other objects. Two creators: one wins, both go on."""
        if self.exists():
            return
        foreign = sorted(path for path in self._list("") if not path.startswith("_manifest/"))
        if foreign:
            raise LakeError(f"{self.url}: holds objects ({foreign[0]}, …) and no auditlake lake",
                            hint="choose an empty prefix for --lake")
        with contextlib.suppress(_Conflict):  # created by another writer at the same moment: that one is the lake
            self._put(self.manifest_key, Manifest(created_at=now_text()).to_bytes(), IfNoneMatch="*")

    def load_manifest(self) -> Manifest:
        found = self._get(self.manifest_key)
        if found is None:
            self.require()
            raise LakeError(f"{self.url}/{self.manifest_key}: vanished while being read", hint="rerun")
        return parse_manifest(found[0].decode("utf-8", "replace"), f"{self.url}/{self.manifest_key}")

    def save_manifest(self, manifest: Manifest) -> None:
        """The commit point: the new digests uploaded, then the manifest PUT only over the one this writer saw."""
        if self._renewal is None or self._manifest_etag is None:
            raise LakeLockedError(f"{self.url}: a write without the lake's lock", hint="writes go through `Lake` (it takes the lock)")
        self._renewal.check()
        self._push_digests()
        try:
            self._manifest_etag = self._put(self.manifest_key, manifest.to_bytes(), IfMatch=self._manifest_etag)
        except _Conflict:
            raise LakeLockedError(f"{self.url}: another writer committed since this one took the lock; nothing was committed",
                                  hint="rerun: committed batches are kept") from None

    def commit(self, manifest: Manifest, *, batch: str, kind: str, version: str, note: dict[str, Any] | None = None) -> Any:
        """Upload this process's staged files the manifest now commits to, then commit as a directory lake does."""
        for relative in manifest.committed_entries(self.root):
            staged = self.staged(self.root / relative)
            if staged.is_file():
                self._upload(relative, staged)
        return super().commit(manifest, batch=batch, kind=kind, version=version, note=note)

    def publish(self, pairs: Any) -> None:
        """Committed files are in the bucket already (uploaded before the commit): drop their local staged copies."""
        self.discard(staged for staged, _ in pairs)

    def retire(self, relative: str) -> None:
        """Nothing moves in a bucket: a replaced file stays at its name (readers name exact objects) until recovery deletes it."""

    @contextlib.contextmanager
    def write_lock(self, *, wait: float = 0.0) -> Iterator[None]:
        """The lock object, taken by a conditional PUT and renewed by a thread while the writer works."""
        lock = ObjectLock(_CallsClient(self), self.bucket, self._key(self.lock_key), lease_seconds=config.lock_lease())
        deadline = time.monotonic() + wait
        while True:
            try:
                lease = lock.acquire()
                break
            except LakeLockedError:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.2)
        self._renewal = _Renewal(lock, lease, self.url)
        try:
            answer = self._head(self.manifest_key)
            self._manifest_etag = None if answer is None else str(answer["ETag"])
            yield
        finally:
            self._renewal.stop()
            self._renewal, self._manifest_etag = None, None

    def redaction_key(self) -> bytes:
        """The lake's fingerprint key (`_manifest/redaction.key`), created on first use; one creator wins a race."""
        found = self._get(self.redaction_key_object)
        if found is None:
            with contextlib.suppress(_Conflict):
                self._put(self.redaction_key_object, secrets.token_hex(32).encode(), IfNoneMatch="*")
            found = self._get(self.redaction_key_object)
        if found is None:
            raise LakeError(f"{self.url}/{self.redaction_key_object}: cannot be created", hint="check that the credentials may write to the bucket")
        return bytes.fromhex(found[0].decode().strip())

    # ---- recovery and readers ---------------------------------------------------------------------
    def recover(self, manifest: Manifest, *, retire_after: float | None = None) -> int:
        """Delete what an interrupted writer left: local staging, objects no commit lists, digests past the head; and
        replaced files whose grace period has passed. Run by every writer under the lock; how many were deleted."""
        grace = config.retire_after() if retire_after is None else retire_after
        removed = 0
        for local in (self.staging_dir, self.root / DIGESTS_DIR):  # nothing local is committed: a commit uploads first
            if local.is_dir():
                for leftover in [item for item in local.rglob("*") if item.is_file()]:
                    leftover.unlink(missing_ok=True)
                remove_empty_directories(local, keep_top=False)
        now = datetime.now(UTC)
        expired = [path for path, at in manifest.retired.items() if (now - parse_time(at)).total_seconds() >= grace]
        for path in expired:
            self._delete(path)
            del manifest.retired[path]
            removed += 1
        if expired:
            self.save_manifest(manifest)
        committed = set(manifest.committed_entries(self.root)) | set(manifest.retired)
        stored = self._list("")
        for relative in sorted(stored):
            if relative.split("/", 1)[0] in DATA_DIRS and relative not in committed:
                self._delete(relative)
                removed += 1
        digests = [relative.split("/", 1)[1] for relative in stored if relative.startswith(DIGESTS_DIR + "/") and relative.count("/") == 1]
        for name in names_to_discard(digests, manifest.chain_head()):
            self._delete(f"{DIGESTS_DIR}/{name}")
            removed += 1
        return removed

    def reader_files(self, manifest: Manifest, *, wait: float = 0.0) -> ReaderFiles:
        """Exactly the objects the manifest lists (nothing is ever renamed, so no wait and no staged copies)."""
        return ReaderFiles(
            events=self.live_files(manifest), quarantine=self.quarantine_files(manifest), findings=self.findings_files(manifest),
            staged=[], reviews=[self.location(path) for path in sorted(manifest.reviews)],
        )

    def archive_events(self, manifest: Manifest) -> list[str]:
        return []

    # ---- the S3 calls -----------------------------------------------------------------------------
    @property
    def client(self) -> Any:
        """A botocore S3 client with the SDK's standard credential chain, retries and timeouts (made on first use)."""
        if self._client is None:
            session = importlib.import_module("botocore.session").get_session()
            settings = importlib.import_module("botocore.config").Config(**s3_client_config())
            self._client = session.create_client("s3", endpoint_url=self.objects.endpoint, config=settings)
        return self._client

    def _key(self, relative: str) -> str:
        return f"{self.prefix}/{relative}" if self.prefix else relative

    def _relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    @contextlib.contextmanager
    def _calls(self, relative: str) -> Iterator[None]:
        """The store's failures as one-line errors naming the object: no bucket, access denied, no credentials, unreachable."""
        url = self.location(relative)
        try:
            yield
        except Exception as error:
            code = error_code(error)
            if is_conflict(error) or code in MISSING:  # answers for the caller to act on: a condition that failed, no such object
                raise
            if code == "NoSuchBucket":
                raise LakeError(f"s3://{self.bucket}: no such bucket", hint="create the bucket first; auditlake creates only the lake in it") from None
            if code in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403"):
                raise LakeError(f"{url}: access denied ({code})", hint=CREDENTIALS_HINT) from None
            with self.objects.errors(url):  # the rest as for sources: no credentials, unreachable, 5xx after the retries
                raise

    def _head(self, relative: str) -> dict[str, Any] | None:
        """The object's details (size, ETag); None when there is none."""
        return self._missing_is_none(lambda: self.client.head_object(Bucket=self.bucket, Key=self._key(relative)), relative)

    def _body(self, relative: str) -> tuple[Any, str] | None:
        """The object's body, a stream, and its ETag; None when there is none."""
        answer = self._missing_is_none(lambda: self.client.get_object(Bucket=self.bucket, Key=self._key(relative)), relative)
        return None if answer is None else (answer["Body"], str(answer["ETag"]))

    def _get(self, relative: str) -> tuple[bytes, str] | None:
        """The object's bytes and ETag; None when there is none."""
        with self._calls(relative):
            found = self._body(relative)
            return None if found is None else (found[0].read(), found[1])

    def _missing_is_none(self, call: Any, relative: str) -> Any:
        with self._calls(relative):
            try:
                return call()
            except Exception as error:
                if error_code(error) in MISSING:
                    return None
                raise

    def _put(self, relative: str, body: Any, **condition: str) -> str:
        """PUT an object (bytes or an open file); its new ETag. `_Conflict` when a condition (If-Match / If-None-Match) fails."""
        with self._calls(relative):
            try:
                answer = self.client.put_object(Bucket=self.bucket, Key=self._key(relative), Body=body, **condition)
            except Exception as error:
                if is_conflict(error):
                    raise _Conflict from None
                raise
        return str(answer["ETag"])

    def _upload(self, relative: str, path: Path) -> None:
        with path.open("rb") as handle:
            self._put(relative, handle)

    def _delete(self, relative: str) -> None:
        with self._calls(relative):
            self.client.delete_object(Bucket=self.bucket, Key=self._key(relative))

    def _list(self, top: str) -> dict[str, int]:
        """Every object under the folder `top` of the lake ("" for all), lake-relative, with its size."""
        prefix = "/".join(part for part in (self.prefix, top) if part)
        found: dict[str, int] = {}
        with self._calls(top or "."):
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix + "/" if prefix else ""):
                for item in page.get("Contents", []):
                    relative = item["Key"][len(self.prefix) + 1:] if self.prefix else item["Key"]
                    if relative and not relative.endswith("/"):
                        found[relative] = int(item["Size"])
        return found

    def _push_digests(self) -> None:
        """Upload the digests (and kept public keys) digests.py wrote into the local directory, then delete the local copies.

        Never over an existing object: a digest's name is its commit's own, and a kept public key is never replaced.
        """
        local = self.root / DIGESTS_DIR
        if not local.is_dir():
            return
        for path in sorted(local.rglob("*"), key=lambda item: (item.suffix != ".pub", item.name)):
            if not path.is_file():
                continue
            relative = self._relative(path)
            try:
                self._put(relative, path.read_bytes(), IfNoneMatch="*")
            except _Conflict:
                if path.suffix != ".pub":
                    raise LakeError(f"{self.location(relative)}: a digest of this name exists already; nothing was committed",
                                    hint="run `auditlake verify` on the lake") from None
            path.unlink()


class _CallsClient:
    """The S3 client as ObjectLock uses it, with the store's one-line errors around each call."""

    def __init__(self, store: BucketLakeStore):
        self.store = store

    def put_object(self, **arguments: Any) -> Any:
        with self.store._calls(self.store.lock_key):
            return self.store.client.put_object(**arguments)

    def get_object(self, **arguments: Any) -> Any:
        with self.store._calls(self.store.lock_key):
            return self.store.client.get_object(**arguments)


class _Renewal:
    """Renews a lease every third of its length on a thread; `check` raises once it was lost (taken over, or ran out)."""

    def __init__(self, lock: ObjectLock, lease: Lease, url: str):
        self.lock, self.lease, self.url = lock, lease, url
        self.lost: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="auditlake-lease", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.lock.lease_seconds / 3):
            try:
                self.lease = self.lock.renew(self.lease)
            except LakeLockedError as error:
                self.lost = error.message
                return
            except Exception as error:  # the store did not answer: try again until the lease runs out
                if time.time() >= self.lease.expires_at:
                    self.lost = f"{self.url}: the lake's lock could not be renewed ({error.__class__.__name__}) and ran out"
                    return

    def check(self) -> None:
        if self.lost is None and time.time() >= self.lease.expires_at:
            self.lost = f"{self.url}: the lake's lock ran out before this commit"
        if self.lost is not None:
            raise LakeLockedError(self.lost + "; nothing more is committed", hint="rerun: committed batches are kept")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        if self.lost is None:
            with contextlib.suppress(Exception):
                self.lock.release(self.lease)

