"""Helpers of the lake-in-a-bucket tests: the real logs they ingest, reading a lake's objects back, the CLI with a server's keys."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from auditlake import Lake
from tests.conftest import DATA
from tests.s3server import S3Server

LOGS = {"immudb": [DATA / "immudb_first_300_lines.log", DATA / "immudb_kube_scheduler_lease_updates.log"],
        "audit2rbac": [DATA / "audit2rbac_cluster_rbac_create_delete.log"]}
LEASE = "2s"  # a killed writer's lock is free this long after its last renewal


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


def cli(server: S3Server, *args: str, cache: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    environment = {**{name: value for name, value in os.environ.items() if not name.startswith("AWS_")}, **server.env(),
                   "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "XDG_CACHE_HOME": str(cache),
                   "AUDITLAKE_LOCK_LEASE": LEASE, **extra}
    return subprocess.run([sys.executable, "-m", "auditlake", *args], env=environment, capture_output=True, text=True, timeout=300)
