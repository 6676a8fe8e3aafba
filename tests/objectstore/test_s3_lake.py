"""A lake in a bucket (issue 17): what a lake directory does, on a real S3 server, with the same answers.

The same real logs go into a lake directory and into `s3://lakes/<test>`: every answer must be the same. Then
the guarantees that object storage makes hard: a writer SIGKILLed at each moment of a commit (the rerun
counts each row once, and no object a commit does not list is left), two writers at once (one gets the
lock error), the server stopping mid-ingest (one line, exit 2; the rerun completes), and no credential in
anything written.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from auditlake import Lake
from auditlake.errors import LakeError
from tests.conftest import DATA
from tests.objectstore.bucketlake import cli, committed, fill, make_bucket, objects, rows
from tests.s3server import S3Server


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


def test_only_s3_holds_a_lake_and_a_missing_bucket_is_named(s3_env: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(LakeError, match="a lake can live in s3://"):
        Lake("gs://bucket/lake")
    with pytest.raises(LakeError, match="no such bucket"):
        Lake("s3://no-such-bucket/lake").ingest([str(DATA / "immudb_first_300_lines.log")])
    with pytest.raises(LakeError, match="no auditlake lake here"):
        Lake(f"s3://{make_bucket(s3_env)}/empty-{secrets.token_hex(3)}").status()


# ---- credentials -------------------------------------------------------------------------------------------
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
