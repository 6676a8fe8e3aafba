"""The write lock of a lake in a bucket: one lock object taken and handed over only by conditional PUTs.

Owns: `ObjectLock` (acquire, renew, release) and its `Lease`. There is no rename and no flock on object
storage, so the lock is the object `<lake>/_manifest/lock`, holding who holds it and until when:
- acquire: PUT with `If-None-Match: *` — exactly one of any number of racing writers creates it;
- a lease that has expired (its writer crashed, or released it) is taken over by a PUT with `If-Match:
  <its ETag>` — of two successors racing for the same expired lease exactly one wins, since the first
  PUT changes the ETag;
- renew: PUT `If-Match: <our ETag>` with a later expiry; it fails when a successor took the lease over,
  and the writer then must not commit (`LakeLockedError`);
- release: PUT `If-Match: <our ETag>` of a lease that has already expired, so the next writer takes it
  over at once; the object is never deleted (a delete cannot be made conditional everywhere).
The store must honour conditional PUTs (AWS S3 since 2024, SeaweedFS; see tests/objectstore/test_s3server.py).
A lease alone cannot stop a writer paused past its expiry from writing once more: the commit itself must
also be conditional (the manifest PUT with `If-Match` of the manifest it read) — the bucket lake's writer does both.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from auditlake.errors import LakeLockedError

LEASE_SECONDS = 120.0
CONFLICT_CODES = {"PreconditionFailed", "ConditionalRequestConflict", "412", "409"}


@dataclass(frozen=True)
class Lease:
    """One holding of the lock: who, until when, and the ETag of the lock object that says so."""

    owner: str  # host:pid, for people reading the lock object
    token: str  # random: tells two holdings by one process apart
    expires_at: float  # seconds since the epoch
    etag: str

    def body(self) -> bytes:
        data = {key: value for key, value in asdict(self).items() if key != "etag"}
        return json.dumps({**data, "expires": datetime.fromtimestamp(self.expires_at, UTC).isoformat()}, sort_keys=True).encode()


class ObjectLock:
    """The lock object `key` in `bucket`, through a botocore-style client (`put_object`, `get_object`)."""

    def __init__(self, client: Any, bucket: str, key: str, *, lease_seconds: float = LEASE_SECONDS,
                 clock: Callable[[], float] = time.time):
        self.client, self.bucket, self.key = client, bucket, key
        self.lease_seconds, self.clock = lease_seconds, clock

    def acquire(self) -> Lease:
        """Take the lock, or take over an expired lease; LakeLockedError when a live lease is held by another writer."""
        lease = self._lease(self.clock() + self.lease_seconds)
        try:
            return self._put(lease, IfNoneMatch="*")
        except _Conflict:
            pass
        current = self._read()
        if current is None:  # released by deletion (by hand) since: try once more from scratch
            return self._put_or_locked(lease, {"IfNoneMatch": "*"})
        if current.expires_at > self.clock():
            raise LakeLockedError(f"s3://{self.bucket}/{self.key}: another writer ({current.owner}) holds the lake's lock until "
                                  f"{datetime.fromtimestamp(current.expires_at, UTC):%Y-%m-%d %H:%M:%S} UTC",
                                  hint="wait for it to finish (cron runs should not overlap); a crashed writer's lease expires by itself")
        return self._put_or_locked(lease, {"IfMatch": current.etag})

    def renew(self, lease: Lease) -> Lease:
        """Extend our lease; LakeLockedError when it was taken over (the caller must not commit)."""
        return self._put_or_lost(self._lease(self.clock() + self.lease_seconds, token=lease.token), lease)

    def release(self, lease: Lease) -> None:
        """Hand the lock back: our lease, marked expired, so the next writer takes it over at once."""
        try:
            self._put(self._lease(0.0, token=lease.token), IfMatch=lease.etag)
        except _Conflict:
            pass  # taken over already: nothing of ours to release

    # ---- the conditional PUTs ------------------------------------------------------------------------
    def _lease(self, expires_at: float, *, token: str | None = None) -> Lease:
        return Lease(f"{socket.gethostname()}:{os.getpid()}", token or secrets.token_hex(8), expires_at, "")

    def _put(self, lease: Lease, **condition: str) -> Lease:
        try:
            answer = self.client.put_object(Bucket=self.bucket, Key=self.key, Body=lease.body(), **condition)
        except Exception as error:
            if is_conflict(error):
                raise _Conflict from None
            raise
        return Lease(lease.owner, lease.token, lease.expires_at, answer["ETag"])

    def _put_or_locked(self, lease: Lease, condition: dict[str, str]) -> Lease:
        try:
            return self._put(lease, **condition)
        except _Conflict:
            raise LakeLockedError(f"s3://{self.bucket}/{self.key}: another writer took the lake's lock at the same moment",
                                  hint="wait for it to finish (cron runs should not overlap)") from None

    def _put_or_lost(self, lease: Lease, held: Lease) -> Lease:
        try:
            return self._put(lease, IfMatch=held.etag)
        except _Conflict:
            raise LakeLockedError(f"s3://{self.bucket}/{self.key}: this writer's lease expired and another writer took the lock; "
                                  "nothing more is committed", hint="rerun: committed batches are kept") from None

    def _read(self) -> Lease | None:
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self.key)
        except Exception as error:
            if error_code(error) in {"NoSuchKey", "404"}:
                return None
            raise
        data = json.loads(answer["Body"].read())
        return Lease(str(data.get("owner", "?")), str(data.get("token", "")), float(data.get("expires_at", 0.0)), answer["ETag"])


def is_conflict(error: BaseException) -> bool:
    """Whether a store's error says a conditional PUT's condition did not hold."""
    return error_code(error) in CONFLICT_CODES


class _Conflict(Exception):
    """A conditional PUT's condition did not hold (412, or 409 for a concurrent conditional write)."""


def error_code(error: BaseException) -> str:
    """An S3 error's code (`NoSuchKey`, `PreconditionFailed`, …), else its HTTP status; "" for any other error."""
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code", "")) or str(response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
