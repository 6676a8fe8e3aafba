"""Readers and writers at the same time: a reader never takes the write lock, never writes into the lake,
and keeps working while a compaction replaces the files it reads; two processes may create one lake."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from auditlake import Lake
from tests.conftest import DATA

LINES = (DATA / "immudb_first_300_lines.log").read_bytes().splitlines(keepends=True)
SMALL_LOG = DATA / "audit2rbac_impersonation_v1beta1.log"  # 37 events
CUSTOM_QUERY = """/*
title: Every event
params:
  since: {type: timestamptz}
  until: {type: timestamptz}
needs:
  - {level: Metadata}
*/
SELECT count(*) AS n FROM events WHERE received_at >= $since AND received_at < $until
"""


@pytest.fixture(autouse=True)
def user_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This test's own user cache (readers build catalogs there), inherited by the processes it starts."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    return cache


def cached_catalogs(cache: Path) -> list[Path]:
    """The catalogs of lakes in a user cache (not the library templates they are copied from)."""
    return sorted((cache / "auditlake" / "catalogs").rglob("*.duckdb")) if cache.exists() else []


def custom_library(tmp_path: Path) -> Path:
    """A user's own query library (AUDITLAKE_QUERY_PATH): one saved query the lake's catalog does not have."""
    library = tmp_path / "my-queries"
    library.mkdir()
    (library / "every-event.sql").write_text(CUSTOM_QUERY)
    return library


@pytest.fixture(scope="module")
def small_lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    """37 events, with the lake's own catalog built for the shipped query library; tests only read it."""
    root = tmp_path_factory.mktemp("small")
    with pytest.MonkeyPatch.context() as environment:
        environment.setenv("XDG_CACHE_HOME", str(root / "cache"))
        lake = Lake(root / "lake")
        lake.ingest([SMALL_LOG], cluster="c")
    return lake


def lake_of_small_runs(path: Path, runs: int) -> Lake:
    """The 300-line log in `runs` cron-sized runs (one ingest committing every 300/runs rows): one small file per run."""
    logs = []
    for run in range(runs):
        logs.append(path.parent / f"audit-{run}.log")
        logs[-1].write_bytes(b"".join(LINES[run * len(LINES) // runs:(run + 1) * len(LINES) // runs]))
    with pytest.MonkeyPatch.context() as environment:
        environment.setenv("AUDITLAKE_COMMIT_ROWS", str(len(LINES) // runs))
        Lake(path).ingest(logs, cluster="c")
    return Lake(path)


def directory_count(lake: Lake) -> int:
    """What Spark, Trino or DuckDB see when they read the events directory instead of the catalog."""
    with duckdb.connect() as connection:
        return connection.execute(f"SELECT count(*) FROM read_parquet('{lake.path}/events/**/*.parquet')").fetchone()[0]  # type: ignore[index]


def manifest(lake: Lake) -> dict:  # type: ignore[type-arg]
    return json.loads((lake.path / "_manifest" / "manifest.json").read_text())


# ---- C2: readers never take the write lock ---------------------------------------------------------
def test_a_reader_with_a_stale_catalog_answers_while_a_writer_holds_the_lock(small_lake, tmp_path, user_cache, monkeypatch):
    lake_catalog = (small_lake.path / "catalog.duckdb").stat()
    monkeypatch.setenv("AUDITLAKE_QUERY_PATH", str(custom_library(tmp_path)))  # the lake's catalog is stale for this library
    with small_lake.store.write_lock():  # an ingest is writing: it must not fail because of the reader, nor the reader because of it
        assert Lake(small_lake.path).sql("SELECT count(*) AS n FROM events").item() == 37
        assert Lake(small_lake.path).status().events == 37
    assert (small_lake.path / "catalog.duckdb").stat().st_mtime_ns == lake_catalog.st_mtime_ns, "a reader wrote into the lake"
    assert len(cached_catalogs(user_cache)) == 1


def test_a_different_query_library_builds_its_catalog_once_in_the_user_cache(small_lake, tmp_path, user_cache, monkeypatch):
    library = custom_library(tmp_path)
    monkeypatch.setenv("AUDITLAKE_QUERY_PATH", str(library))

    assert Lake(small_lake.path).query("every-event", since="2000-01-01", until="2100-01-01").item() == 37  # first command: builds it
    [built] = cached_catalogs(user_cache)
    inode = built.stat().st_ino
    assert Lake(small_lake.path).query("every-event", since="2000-01-01", until="2100-01-01").item() == 37  # later ones reuse it
    assert Lake(small_lake.path).sql("SELECT count(*) AS n FROM events").item() == 37
    assert cached_catalogs(user_cache) == [built] and built.stat().st_ino == inode, "the cached catalog was rebuilt"

    (library / "every-event.sql").write_text(CUSTOM_QUERY.replace("count(*) AS n", "count(*) + 1 AS n"))  # the library changed
    assert Lake(small_lake.path).query("every-event", since="2000-01-01", until="2100-01-01").item() == 38
    assert len(cached_catalogs(user_cache)) == 2 and built in cached_catalogs(user_cache)


def test_a_reader_that_cannot_write_its_cache_reads_through_views_in_memory(small_lake, tmp_path, monkeypatch):
    lake_catalog = (small_lake.path / "catalog.duckdb").stat()
    monkeypatch.setenv("AUDITLAKE_QUERY_PATH", str(custom_library(tmp_path)))
    (tmp_path / "not-a-directory").write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "not-a-directory"))  # no cache can be made here, even as root
    assert Lake(small_lake.path).query("every-event", since="2000-01-01", until="2100-01-01").item() == 37
    assert (small_lake.path / "catalog.duckdb").stat().st_mtime_ns == lake_catalog.st_mtime_ns, "a reader wrote into the lake"


# ---- C5: two processes create the same new lake ----------------------------------------------------
# Each process announces it is ready, waits for the signal, then runs the command; its first fsyncs (creating
# the lake) take 0.2 s, as on a slow disk, so that the two are sure to be creating it at the same time.
START_TOGETHER_ON_A_SLOW_DISK = """
import os, sys, time
from pathlib import Path
from auditlake.cli import main

fsync, slow = os.fsync, [0.2, 0.2]
os.fsync = lambda descriptor: (time.sleep(slow.pop() if slow else 0), fsync(descriptor))[1]
signal = Path(sys.argv[1])
(signal.parent / f"ready-{os.getpid()}").touch()
while not signal.exists():
    time.sleep(0.001)
sys.argv = ["auditlake", *sys.argv[2:]]
main()
"""


def test_two_processes_creating_the_same_new_lake_succeed_or_one_is_told_it_is_locked(tmp_path):
    lake, signal = tmp_path / "new-lake", tmp_path / "go"
    processes = [subprocess.Popen([sys.executable, "-c", START_TOGETHER_ON_A_SLOW_DISK, str(signal), "ingest", str(SMALL_LOG),
                                   "--lake", str(lake), "--cluster", "c", "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(2)]
    deadline = time.monotonic() + 60
    while len(list(tmp_path.glob("ready-*"))) < len(processes) and time.monotonic() < deadline:
        time.sleep(0.01)
    signal.touch()
    outcomes = [(process.wait(timeout=60), process.stderr.read()) for process in processes]  # type: ignore[union-attr]
    for code, stderr in outcomes:
        assert code == 0 or (code == 2 and "another auditlake ingest or compact is writing" in stderr), (code, stderr)
    assert any(code == 0 for code, _ in outcomes)
    assert Lake(lake).sql("SELECT count(*) AS n FROM events").item() == 37


# ---- C3: compaction keeps what running readers read ------------------------------------------------
def test_a_reader_that_opened_before_a_compaction_keeps_reading_for_the_grace_period(tmp_path, monkeypatch):
    lake = lake_of_small_runs(tmp_path / "lake", runs=4)
    replaced = {path for path in manifest(lake)["files"]}
    reader = lake.connect()  # a report or detect run that started before the compaction
    question = "SELECT count(*), count(DISTINCT (audit_id, stage)) FROM events"
    assert reader.execute(question).fetchone() == (300, 300)

    compacted = subprocess.run([sys.executable, "-m", "auditlake", "compact", "--lake", str(lake.path)],
                               env=dict(os.environ, AUDITLAKE_RETIRE_AFTER="1h"), capture_output=True, text=True)
    assert compacted.returncode == 0, compacted.stderr
    assert reader.execute(question).fetchone() == (300, 300), "the running reader lost its files"
    assert directory_count(lake) == 300, "directory readers see a replaced file and its replacement"
    retired = manifest(lake)["retired"]
    assert set(retired) == replaced and all(at.endswith("Z") for at in retired.values())
    assert len(list((lake.path / "_retired").rglob("*.parquet"))) == len(replaced)  # kept, out of the directory readers' way

    monkeypatch.setenv("AUDITLAKE_RETIRE_AFTER", "0")
    Lake(lake.path).rebuild_catalog()  # the first writer after it deletes them
    assert not (lake.path / "_retired").exists() and manifest(lake)["retired"] == {}
    assert lake.sql(question).row(0) == (300, 300)
    with pytest.raises(duckdb.IOException):
        reader.execute(question).fetchone()  # a reader older than the grace period is not promised its files
    reader.close()
