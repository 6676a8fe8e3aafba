"""The lock of a lake in a bucket (store/objectlock.py) on a real S3 server: conditional PUTs only."""

from __future__ import annotations

import secrets
import threading

import pytest

from auditlake.errors import LakeLockedError
from auditlake.store.objectlock import ObjectLock


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def bucket(s3_server) -> str:  # type: ignore[no-untyped-def]
    name = f"lock-{secrets.token_hex(4)}"
    s3_server.client().create_bucket(Bucket=name)
    return name


def lock(s3_server, bucket: str, clock: Clock) -> ObjectLock:  # type: ignore[no-untyped-def]
    return ObjectLock(s3_server.client(), bucket, "lake/_manifest/lock", lease_seconds=60, clock=clock)


def test_one_writer_holds_the_lock_a_second_is_refused(s3_server, bucket):  # type: ignore[no-untyped-def]
    clock = Clock()
    held = lock(s3_server, bucket, clock).acquire()
    with pytest.raises(LakeLockedError, match="holds the lake's lock until"):
        lock(s3_server, bucket, clock).acquire()
    lock(s3_server, bucket, clock).release(held)
    assert lock(s3_server, bucket, clock).acquire().etag != held.etag  # released: taken at once


def test_a_crashed_writers_lease_is_taken_over_once_expired_and_it_can_no_longer_renew(s3_server, bucket):  # type: ignore[no-untyped-def]
    clock = Clock()
    crashed = lock(s3_server, bucket, clock).acquire()
    clock.now += 30
    with pytest.raises(LakeLockedError):
        lock(s3_server, bucket, clock).acquire()  # still live
    clock.now += 31
    successor = lock(s3_server, bucket, clock).acquire()
    with pytest.raises(LakeLockedError, match="another writer took the lock"):
        lock(s3_server, bucket, clock).renew(crashed)  # the crashed writer wakes up: it must not commit
    renewed = lock(s3_server, bucket, clock).renew(successor)
    assert renewed.expires_at == clock.now + 60 and renewed.token == successor.token


def test_of_many_successors_racing_for_an_expired_lease_exactly_one_wins(s3_server, bucket):  # type: ignore[no-untyped-def]
    clock = Clock()
    lock(s3_server, bucket, clock).acquire()
    clock.now += 120
    outcomes: list[str] = []

    def attempt() -> None:
        try:
            lock(s3_server, bucket, clock).acquire()
            outcomes.append("won")
        except LakeLockedError:
            outcomes.append("locked")

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["locked"] * 7 + ["won"]
