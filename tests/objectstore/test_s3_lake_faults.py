"""A lake in a bucket under faults (issue 17): two writers, a lost lock, a writer SIGKILLed at each moment of a commit,
and the server stopping mid-ingest: nothing lost, nothing counted twice, no object left that no commit lists.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from auditlake import Lake
from auditlake.errors import LakeLockedError
from tests.conftest import DATA
from tests.objectstore.bucketlake import LEASE, cli, committed, fill, objects
from tests.s3server import S3Server


def test_two_writers_at_once_one_gets_the_lock_error(bucket_lake: str, s3_env: S3Server) -> None:
    first = Lake(bucket_lake)
    expected = fill(first)
    with first.store.write_lock():
        with pytest.raises(LakeLockedError, match="holds the lake's lock until"):
            Lake(bucket_lake).ingest([str(DATA / "immudb_endpointslice_updates.log")], cluster="immudb")
        with pytest.raises(LakeLockedError, match="holds the lake's lock until"):
            Lake(bucket_lake).compact()
        assert Lake(bucket_lake).status().events == expected  # readers never wait for the lock
    assert Lake(bucket_lake).ingest([str(DATA / "immudb_endpointslice_updates.log")], cluster="immudb").events_written > 0


def test_a_writer_that_lost_its_lock_cannot_commit(bucket_lake: str) -> None:
    lake = Lake(bucket_lake)
    fill(lake)
    with lake.store.write_lock():
        manifest = lake.store.load_manifest()
        lake.store._manifest_etag = '"0123456789abcdef0123456789abcdef"'  # as if another writer committed since
        with pytest.raises(LakeLockedError, match="another writer committed since this one took the lock"):
            lake.store.save_manifest(manifest)


# ---- a writer killed at each moment of a commit ----------------------------------------------------------
KILLED_BUCKET_WRITER = """
import os, signal, sys
from auditlake import Lake
from auditlake.store.bucket import BucketLakeStore

url, moment, log = sys.argv[1], sys.argv[2], sys.argv[3]
put, seen = BucketLakeStore._put, {"events": 0}

def put_then_die(self, relative, body, **condition):
    commit = relative == "_manifest/manifest.json" and "IfMatch" in condition
    if (moment == "before-digest" and relative.startswith("_digests/0")) or (moment == "before-commit" and commit):
        os.kill(os.getpid(), signal.SIGKILL)
    answer = put(self, relative, body, **condition)
    seen["events"] += relative.startswith("events/")
    if (moment == "after-upload" and seen["events"]) or (moment == "after-commit" and commit):
        os.kill(os.getpid(), signal.SIGKILL)
    return answer

BucketLakeStore._put = put_then_die
Lake(url).ingest([log], cluster="c")
"""


@pytest.mark.parametrize("moment", ["after-upload", "before-digest", "before-commit", "after-commit"])
def test_a_writer_killed_at_any_moment_leaves_nothing_a_rerun_counts_twice(bucket_lake: str, s3_env: S3Server, moment: str) -> None:
    log = str(DATA / "immudb_first_300_lines.log")
    environment = {**os.environ, "AUDITLAKE_WORKERS": "1"}
    killed = subprocess.run([sys.executable, "-c", KILLED_BUCKET_WRITER, bucket_lake, moment, log], env=environment,
                            capture_output=True, text=True, timeout=120)
    assert killed.returncode == -9, killed.stderr
    lake = Lake(bucket_lake)
    before = lake.status().events if lake.store.exists() else 0  # what readers see meanwhile: committed rows only
    assert before == (300 if moment == "after-commit" else 0)
    deadline = time.monotonic() + 30
    while True:  # the killed writer's lease runs out (LEASE), then the next writer takes the lock over
        try:
            result = lake.ingest([log], cluster="c")
            break
        except LakeLockedError:
            assert time.monotonic() < deadline, "the killed writer's lock never ran out"
            time.sleep(0.5)
    assert lake.sql_arrow("SELECT count(*) AS n, count(DISTINCT (audit_id, stage)) AS d FROM events").to_pylist() == [{"n": 300, "d": 300}]
    assert result.events_written == 300 - before
    stored = objects(s3_env, bucket_lake)
    data = {path for path in stored if path.split("/", 1)[0] in ("events", "quarantine", "findings", "reviews")}
    assert data == committed(lake), "an object no commit lists was left behind"
    assert [verification.problems for verification in lake.verify()] == [[]]


# ---- the store stopping mid-ingest -------------------------------------------------------------------------
def test_the_store_stopping_mid_ingest_into_a_bucket_lake_is_one_line_and_the_rerun_completes(tmp_path: Path, own_s3_server: S3Server) -> None:
    from auditlake.demo import write_audit_log

    write_audit_log(tmp_path / "logs", 8_000, max_size_mb=1, compress=False)
    expected = Lake(tmp_path / "reference").ingest([tmp_path / "logs"], cluster="sim").events_written
    server = own_s3_server
    url, cache = "s3://lake/sim", tmp_path / "cache"
    try:
        server.client().create_bucket(Bucket="lake")
        environment = {**{name: value for name, value in os.environ.items() if not name.startswith("AWS_")}, **server.env(),
                       "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "XDG_CACHE_HOME": str(cache),
                       "AUDITLAKE_LOCK_LEASE": LEASE, "AUDITLAKE_COMMIT_ROWS": "1000", "AUDITLAKE_WORKERS": "1",
                       "AWS_MAX_ATTEMPTS": "2"}  # one retry, not five with backoff, against the stopped store
        running = subprocess.Popen([sys.executable, "-m", "auditlake", "ingest", str(tmp_path / "logs"), "--lake", url, "--cluster", "sim",
                                    "-q"], env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        client, deadline = server.client(), time.monotonic() + 120
        while running.poll() is None and time.monotonic() < deadline and \
                len(client.list_objects_v2(Bucket="lake", Prefix="sim/_digests/").get("Contents", [])) < 2:
            time.sleep(0.05)
        server.stop()  # mid-ingest: two batches committed
        _, stderr = running.communicate(timeout=300)
        assert running.returncode == 2, f"the ingest finished before the store was stopped ({running.returncode}): {stderr}"
        errors = [line for line in stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and "failed" in errors[0], stderr  # naming the object, or the lake read through DuckDB
        assert "Traceback" not in stderr and server.secret_key not in stderr
        server.start()
        time.sleep(float(LEASE[:-1]) + 0.5)  # the stopped writer never released its lock: its lease runs out
        rerun = cli(server, "ingest", str(tmp_path / "logs"), "--lake", url, "--cluster", "sim", "-q", cache=cache)
        assert rerun.returncode == 0, rerun.stderr
        counted = cli(server, "sql", "SELECT count(*) AS n, count(DISTINCT (audit_id, stage)) AS d FROM events", "--lake", url,
                      "--format", "json", cache=cache)
        assert json.loads(counted.stdout) == [{"n": expected, "d": expected}], counted.stderr
    finally:
        server.stop()


