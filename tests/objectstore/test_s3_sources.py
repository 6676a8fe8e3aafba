"""`auditlake ingest s3://bucket/prefix/`: a prefix is read like a directory, incrementally by object, with no credential kept.

Against a real S3 server (SeaweedFS, signed requests), on real events laid out as EKS (Firehose), AKS
(storage account) and GKE (log sink) write them (layouts.py): the lake holds exactly what the same files
give from a local directory; a rerun lists the prefix and reads no byte of an object it has read; a new
object adds only its rows, and a blob that grew (Azure appends to PT1H.json) only its new lines.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from auditlake import Lake
from auditlake.errors import InputError
from auditlake.ingest.sources import discover_sources
from tests.objectstore import layouts

ROW = "* EXCLUDE (source_file, batch)"  # every column but where a row was read from, and which run wrote it


def new_bucket(server) -> str:  # type: ignore[no-untyped-def]
    name = f"audit-{uuid.uuid4().hex[:12]}"
    server.client().create_bucket(Bucket=name)
    return name


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    root = tmp_path_factory.mktemp("provider-tree") / "org-audit"
    return root, layouts.write_provider_tree(root)


@pytest.fixture(scope="module")
def local_lake(tree: tuple[Path, dict[str, int]], tmp_path_factory: pytest.TempPathFactory) -> Lake:
    """The reference: the same files ingested from a directory."""
    lake = Lake(tmp_path_factory.mktemp("local") / "lake")
    lake.ingest([tree[0]])
    return lake


@pytest.fixture
def bucket(s3_env, tree) -> str:  # type: ignore[no-untyped-def]
    name = new_bucket(s3_env)
    layouts.upload_tree(s3_env.client(), name, tree[0])
    return name


def rows(lake: Lake, where: str = "true") -> list[tuple]:
    return lake.sql(f"SELECT {ROW} FROM events WHERE {where} ORDER BY ALL").rows()


def lake_bytes(*roots: Path) -> list[tuple[Path, bytes]]:
    return [(path, path.read_bytes()) for root in roots if root.exists() for path in root.rglob("*") if path.is_file()]


def test_a_bucket_gives_exactly_the_rows_of_the_same_files_on_disk(s3_env, bucket, tree, local_lake, tmp_path):
    lake = Lake(tmp_path / "lake")
    result = lake.ingest([f"s3://{bucket}/"])
    expected = local_lake.sql("SELECT count(*) FROM events").item()
    assert result.events_written == expected == sum(tree[1].values()) - result.duplicates
    assert result.quarantined == 0 and result.sources_read == len(discover_sources([str(tree[0])])[0])
    assert sorted(result.clusters) == ["aks-prod-eu", "default", "prod-eu", "sample-cluster"]
    assert rows(lake) == rows(local_lake)
    audit_ids = "SELECT DISTINCT audit_id FROM events ORDER BY 1"
    assert lake.sql(audit_ids).rows() == local_lake.sql(audit_ids).rows()
    assert {name for name, reason in ((s.name, s.reason) for s in result.skipped)} == {f"s3://{bucket}/kube-apiserver/README.md"}
    lineage = lake.sql("SELECT DISTINCT source_file FROM events ORDER BY 1").rows()
    assert all(name.startswith(f"s3://{bucket}/") for (name,) in lineage)
    manifest = json.loads(lake.store.manifest_path.read_text())
    objects = {name: record for record in manifest["sources"].values() for name in record["names"]}
    read = {source["name"]: source for batch in manifest["batches"] for source in batch["sources"]}
    listed = {source.name for source in discover_sources([f"s3://{bucket}/"])[0]}
    assert set(read) == listed and listed <= set(objects)  # every object read is named in the manifest by its URL
    assert all(source["etag"] for source in read.values())
    firehose = objects[f"s3://{bucket}/{layouts.firehose_key(0)}"]
    head = s3_env.client().head_object(Bucket=bucket, Key=layouts.firehose_key(0))
    assert firehose["etag"] == head["ETag"] and firehose["size"] == head["ContentLength"]
    assert firehose["sha256"] == hashlib.sha256((tree[0] / layouts.firehose_key(0)).read_bytes()).hexdigest()
    assert firehose["seen_as_objects"] == [[f"s3://{bucket}/{layouts.firehose_key(0)}", head["ContentLength"], head["ETag"]]]


def test_objects_come_in_the_order_of_the_directory_walk(s3_env, bucket, tree):
    local, skipped_locally = discover_sources([str(tree[0])])
    remote, skipped_remotely = discover_sources([f"s3://{bucket}/"])
    assert [Path(source.name).relative_to(tree[0]).as_posix() for source in local] == [
        source.name.removeprefix(f"s3://{bucket}/") for source in remote]
    assert [Path(item.name).relative_to(tree[0]).as_posix() for item in skipped_locally] == [
        item.name.removeprefix(f"s3://{bucket}/") for item in skipped_remotely]
    rotated = [source.name.rsplit("/", 1)[1] for source in remote if "/kube-apiserver/" in source.name]
    assert rotated == ["audit-2026-11-03T10-00-00.000.log.gz", "audit.log"]  # the rotation before the live log
    assert remote[0].stored is not None and remote[0].stored.etag and remote[0].stored.size > 0


def test_a_rerun_reads_no_byte_of_an_object_it_has_read(s3_env, bucket, tmp_path):
    lake = Lake(tmp_path / "lake")
    first = lake.ingest([f"s3://{bucket}/"])
    again = lake.ingest([f"s3://{bucket}/"])
    assert first.bytes_read > 0 and first.sources_read > 0
    assert (again.bytes_read, again.sources_read, again.events_written, again.sources_unchanged) == (0, 0, 0, first.sources_read)


def test_a_new_object_adds_only_its_rows(s3_env, bucket, tmp_path):
    lake = Lake(tmp_path / "lake")
    lake.ingest([f"s3://{bucket}/eks/"])
    before = lake.sql("SELECT count(*) FROM events").item()
    new = layouts.firehose_object(layouts.events("immudb_endpointslice_updates.log"))
    s3_env.client().put_object(Bucket=bucket, Key=layouts.firehose_key(55), Body=new)
    result = lake.ingest([f"s3://{bucket}/eks/"])
    assert (result.sources_read, result.sources_unchanged, result.bytes_read) == (1, 3, len(new))
    assert result.events_written == 2 and result.duplicates == 0
    assert lake.sql("SELECT count(*) FROM events").item() == before + 2


def test_a_blob_that_grew_contributes_only_its_new_lines(s3_env, bucket, tmp_path):
    """Azure appends to an hour's PT1H.json until the hour ends: the object changes (size, ETag) but begins the same."""
    lake = Lake(tmp_path / "lake")
    prefix = f"s3://{bucket}/insights-logs-kube-audit/"
    first = lake.ingest([prefix])
    grown = layouts.aks_grown_blob()
    s3_env.client().put_object(Bucket=bucket, Key=layouts.AKS_GROWN_KEY, Body=grown)
    result = lake.ingest([prefix])
    assert (result.sources_read, result.sources_unchanged) == (1, 1)
    assert result.lines == layouts.AKS_APPENDED and result.events_written == layouts.AKS_APPENDED and result.duplicates == 0
    assert lake.sql("SELECT count(*) FROM events").item() == first.events_written + layouts.AKS_APPENDED
    record = next(record for record in lake.store.load_manifest().sources.values() if record.names[-1].endswith("h=11/m=00/PT1H.json"))
    head = s3_env.client().head_object(Bucket=bucket, Key=layouts.AKS_GROWN_KEY)
    assert record.etag == head["ETag"] and record.size == len(grown) and record.offset == len(grown)
    assert record.sha256 is None  # read from where it continued: no hash of the whole object to vouch for
    assert lake.ingest([prefix]).bytes_read == 0


def test_no_credential_is_written_to_the_lake_or_said(s3_env, bucket, tmp_path):
    lake = Lake(tmp_path / "lake")
    lake.ingest([f"s3://{bucket}/"])
    lake.ingest([f"s3://{bucket}/"])
    lake.sql("SELECT count(*) FROM events")  # the catalog is built and used
    cache = Path(os.environ["XDG_CACHE_HOME"])
    leaks = [path for path, data in lake_bytes(lake.path, cache) if s3_env.secret_key.encode() in data or s3_env.access_key.encode() in data]
    assert leaks == []


def test_the_cli_reads_a_prefix_with_the_endpoint_option_and_says_no_secret(s3_env, bucket, tmp_path, monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    lake = tmp_path / "lake"
    command = [sys.executable, "-m", "auditlake", "ingest", f"s3://{bucket}/eks/prod-eu/", "--lake", str(lake),
               "--endpoint", s3_env.endpoint]
    done = subprocess.run([*command, "--json"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["events_written"] == 300 and summary["clusters"] == ["prod-eu"] and summary["bytes_read"] > 0
    again = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and "3 source(s) unchanged since the last run" in again.stderr
    for said in (done.stdout, done.stderr, again.stdout, again.stderr):
        assert s3_env.secret_key not in said and s3_env.access_key not in said
    wrong = subprocess.run([*command[:-2], "--endpoint", s3_env.endpoint], capture_output=True, text=True, timeout=120,
                           env={**os.environ, "AWS_SECRET_ACCESS_KEY": "not-" + s3_env.secret_key})
    assert wrong.returncode == 2 and wrong.stderr.startswith(f"error: s3://{bucket}/eks/prod-eu/: access denied")
    assert "Traceback" not in wrong.stderr and s3_env.secret_key not in wrong.stderr


def test_a_missing_bucket_or_prefix_is_a_one_line_error(s3_env, bucket, tmp_path):
    lake = Lake(tmp_path / "lake")
    with pytest.raises(InputError, match=r"^s3://no-such-bucket-here/x/: not found"):
        lake.ingest(["s3://no-such-bucket-here/x/"])
    with pytest.raises(InputError, match=r"no object under this prefix"):
        lake.ingest([f"s3://{bucket}/eks/prod-us/"])
