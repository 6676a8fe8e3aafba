"""The lake on disk: idempotent, incremental, crash-safe, compactable, with an honest manifest."""

from __future__ import annotations

import errno
import gzip
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from auditlake import Lake
from auditlake.demo import write_audit_log
from auditlake.errors import LakeError, LakeLockedError, StorageError
from auditlake.store import files
from tests.conftest import DATA

LINES = (DATA / "immudb_first_300_lines.log").read_bytes().splitlines(keepends=True)


def count(lake: Lake) -> tuple[int, int]:
    """Rows, and distinct (audit_id, stage) keys."""
    row = lake.sql_arrow("SELECT count(*) AS n, count(DISTINCT (audit_id, stage)) AS k FROM events").to_pylist()[0]
    return row["n"], row["k"]


def lake_with_first_lines(tmp_path: Path, lines: int) -> tuple[Path, Lake]:
    """A live audit.log holding the first `lines` lines, already ingested once."""
    log = tmp_path / "audit.log"
    log.write_bytes(b"".join(LINES[:lines]))
    lake = Lake(tmp_path / "lake")
    lake.ingest([log], cluster="c")
    return log, lake


def test_ingesting_the_same_file_again_adds_nothing(tmp_path):
    log = tmp_path / "audit.log"
    log.write_bytes(b"".join(LINES))
    lake = Lake(tmp_path / "lake")
    assert lake.ingest([log], cluster="c").events_written == 300
    again = lake.ingest([log], cluster="c")
    assert (again.events_written, again.sources_unchanged, again.sources_read) == (0, 1, 0)
    assert count(lake) == (300, 300)


def test_a_growing_live_log_contributes_only_its_new_lines(tmp_path):
    log, lake = lake_with_first_lines(tmp_path, 100)
    with log.open("ab") as handle:
        handle.write(b"".join(LINES[100:250]))
    result = lake.ingest([log], cluster="c")
    assert (result.events_written, result.lines, result.duplicates) == (150, 150, 0)
    lines = lake.sql("SELECT min(source_line) AS lo, max(source_line) AS hi FROM events WHERE batch = $b", {"b": result.batches[0]})
    assert lines.row(0) == (101, 250)
    assert count(lake) == (250, 250)


def test_a_half_written_last_line_waits_for_its_end(tmp_path):
    log = tmp_path / "audit.log"
    lake = Lake(tmp_path / "lake")
    cut = len(LINES[100]) // 2
    log.write_bytes(b"".join(LINES[:100]) + LINES[100][:cut])
    first = lake.ingest([log], cluster="c")
    assert (first.events_written, first.quarantined) == (100, 1)
    assert lake.status().quarantined == 1
    with log.open("ab") as handle:
        handle.write(LINES[100][cut:] + b"".join(LINES[101:120]))
    second = lake.ingest([log], cluster="c")
    assert (second.events_written, second.quarantined) == (20, 0)
    assert lake.status().quarantined == 0  # the cut line was read whole after all
    assert count(lake) == (120, 120)


def test_a_rotated_and_compressed_log_is_recognised_and_not_read_again(tmp_path):
    logs = tmp_path / "audit"
    logs.mkdir()
    lake = Lake(tmp_path / "lake")
    (logs / "audit.log").write_bytes(b"".join(LINES[:150]))
    lake.ingest([logs], cluster="c")
    # the apiserver writes a little more, rotates (rename + gzip), and starts a new audit.log
    rotated = logs / "audit-2023-03-10T22-40-00.000.log.gz"
    rotated.write_bytes(gzip.compress(b"".join(LINES[:180])))
    (logs / "audit.log").write_bytes(b"".join(LINES[180:300]))
    result = lake.ingest([logs], cluster="c")
    assert (result.events_written, result.duplicates, result.lines) == (150, 0, 150)
    assert count(lake) == (300, 300)
    assert lake.ingest([logs], cluster="c").sources_unchanged == 2


def test_overlapping_inputs_never_duplicate_events(tmp_path):
    first, second = tmp_path / "node-a.log", tmp_path / "node-b.log"
    first.write_bytes(b"".join(LINES[:200]))
    second.write_bytes(b"".join(LINES[100:]))
    lake = Lake(tmp_path / "lake")
    result = lake.ingest([first, second], cluster="c")
    assert (result.events_written, result.duplicates) == (300, 100)
    third = tmp_path / "copy.log"
    third.write_bytes(b"".join(LINES[50:120]))
    assert lake.ingest([third], cluster="c").duplicates == 70
    assert count(lake) == (300, 300)


def test_a_different_file_sharing_a_first_line_is_read_whole(tmp_path):
    log, lake = lake_with_first_lines(tmp_path, 100)
    log.write_bytes(LINES[0] + b"".join(LINES[200:300]) + b"".join(LINES[100:150]))  # same first line, other bytes
    result = lake.ingest([log], cluster="c")
    assert (result.events_written, result.duplicates) == (150, 1)
    assert count(lake) == (250, 250)


def test_the_same_events_in_two_clusters_are_two_sets_of_rows(tmp_path):
    log = tmp_path / "audit.log"
    log.write_bytes(b"".join(LINES))
    lake = Lake(tmp_path / "lake")
    lake.ingest([log], cluster="a")
    lake.ingest([log], cluster="b")
    assert lake.sql("SELECT cluster, count(*) AS n FROM events GROUP BY ALL ORDER BY 1").rows() == [("a", 300), ("b", 300)]


def test_the_manifest_records_sources_batches_and_file_hashes(tmp_path):
    log = tmp_path / "audit.log"
    log.write_bytes(b"".join(LINES))
    lake = Lake(tmp_path / "lake")
    result = lake.ingest([log], cluster="c")
    manifest = json.loads((lake.path / "_manifest" / "manifest.json").read_text())
    [source] = manifest["sources"].values()
    assert source["names"] == [str(log)] and source["lines"] == 300 and source["events"] == 300
    assert source["sha256"] == hashlib.sha256(log.read_bytes()).hexdigest() and source["size"] == log.stat().st_size
    assert source["first_event_at"].startswith("2023-03-10T22:38") and source["reached_end"]
    [batch] = manifest["batches"]
    assert batch["id"] == result.batches[0] and batch["rows"] == 300 and batch["redacted"] is True
    for path in batch["files"]:
        record = manifest["files"][path]
        assert hashlib.sha256((lake.path / path).read_bytes()).hexdigest() == record["sha256"]
        assert pq.read_metadata(lake.path / path).num_rows == record["rows"]
        assert path.startswith("events/cluster=c/date=2023-03-10/")


def test_files_are_zstd_parquet_with_the_contract_schema(tmp_path):
    from auditlake.contract import stored_schema

    log = tmp_path / "audit.log"
    log.write_bytes(b"".join(LINES))
    lake = Lake(tmp_path / "lake")
    lake.ingest([log], cluster="c")
    [path] = list((lake.path / "events").rglob("*.parquet"))
    assert pq.read_schema(path).remove_metadata() == stored_schema()
    assert pq.read_metadata(path).row_group(0).column(0).compression == "ZSTD"


def in_row_group_order(path: Path, group: int) -> bool:
    """The rows of one row group are by resource (those without one last), then by time."""
    rows = pq.ParquetFile(path).read_row_group(group, columns=["resource", "received_at"]).to_pylist()
    keys = [(row["resource"] is None, row["resource"] or "", row["received_at"]) for row in rows]
    return keys == sorted(keys)


def test_rows_are_by_resource_then_time_within_each_row_group(fixture_lake):
    """What a detection reads (secrets, pods, bindings) is then a few stretches of each row group, not every stretch."""
    for path in fixture_lake.store.live_files():
        assert all(in_row_group_order(path, group) for group in range(pq.read_metadata(path).num_row_groups))


def test_ingest_fills_row_groups_in_the_order_rows_arrive_and_a_rerun_keeps_the_first_copy(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "ROW_GROUP_ROWS", 64)
    lake = Lake(tmp_path / "lake")
    log = tmp_path / "audit.log"
    log.write_bytes(b"".join(LINES[:200] + LINES[:40]))  # 40 lines twice in one file: the copies are duplicates
    assert lake.ingest([log], cluster="c").events_written == 200
    [path] = list((lake.path / "events").rglob("*.parquet"))
    metadata = pq.read_metadata(path)
    sizes = [metadata.row_group(group).num_rows for group in range(metadata.num_row_groups)]
    assert len(sizes) == 4 and sum(sizes) == 200 and max(sizes) <= 64  # 240 rows in four, then the 40 copies dropped
    assert all(in_row_group_order(path, group) for group in range(4))
    lines = lake.sql("SELECT source_line FROM events WHERE source_line <= 40 ORDER BY source_line")["source_line"].to_list()
    assert lines == list(range(1, 41))  # the first copy of each event is the one kept, with its own line


def test_compact_merges_small_files_into_one_file_of_time_slices_and_keeps_every_row(tmp_path, monkeypatch):
    lake = Lake(tmp_path / "lake")
    log = tmp_path / "audit.log"
    for start in range(0, 300, 30):  # ten small cron runs
        with log.open("ab") as handle:
            handle.write(b"".join(LINES[start:start + 30]))
        lake.ingest([log], cluster="c")
    files_before = list((lake.path / "events").rglob("*.parquet"))
    assert len(files_before) == 10
    before = lake.sql_arrow("SELECT * EXCLUDE (batch) FROM events ORDER BY audit_id, stage")
    monkeypatch.setattr(files, "ROW_GROUP_ROWS", 100)  # so that 300 rows make three row groups
    result = lake.compact()
    assert (result.files_before, result.files_after, result.rows) == (10, 1, 300)
    [merged] = list((lake.path / "events").rglob("*.parquet"))
    metadata = pq.read_metadata(merged)
    assert [metadata.row_group(group).num_rows for group in range(metadata.num_row_groups)] == [100, 100, 100]
    spans = [list(pc.min_max(pq.ParquetFile(merged).read_row_group(group, columns=["received_at"]).column(0)).values())
             for group in range(3)]
    assert all(spans[group][1].as_py() <= spans[group + 1][0].as_py() for group in range(2))  # slices of time
    assert all(in_row_group_order(merged, group) for group in range(3))
    assert lake.sql_arrow("SELECT * EXCLUDE (batch) FROM events ORDER BY audit_id, stage") == before
    assert lake.ingest([log], cluster="c").events_written == 0


def test_a_second_writer_is_refused_while_the_first_holds_the_lock(tmp_path):
    lake = Lake(tmp_path / "lake")
    lake.store.create()
    with lake.store.write_lock(), pytest.raises(LakeLockedError):
        lake.ingest([DATA / "immudb_first_300_lines.log"], cluster="c")


def test_a_full_disk_is_a_clear_error_and_commits_nothing_half(tmp_path, monkeypatch):
    lake = Lake(tmp_path / "lake")
    lake.ingest([DATA / "audit2rbac_impersonation_v1beta1.log"], cluster="c")
    import pyarrow.parquet as parquet

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(parquet.ParquetWriter, "write_table", no_space)
    with pytest.raises(StorageError, match="disk full"):
        lake.ingest([DATA / "immudb_first_300_lines.log"], cluster="c")
    monkeypatch.undo()
    assert not list(lake.path.rglob("*.tmp"))
    assert not (lake.path / "_staging").exists()
    assert count(lake) == (37, 37)
    assert lake.ingest([DATA / "immudb_first_300_lines.log"], cluster="c").events_written == 300


def test_a_directory_that_is_not_a_lake_is_never_written_into(tmp_path):
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(LakeError, match="not empty"):
        Lake(tmp_path).ingest([DATA / "immudb_first_300_lines.log"], cluster="c")
    with pytest.raises(LakeError, match="no auditlake lake"):
        Lake(tmp_path / "missing").status()


def test_a_lake_whose_creation_was_killed_is_finished_not_refused(tmp_path):
    for directory in ("events", "quarantine", "_manifest"):
        (tmp_path / "lake" / directory).mkdir(parents=True)  # killed before the manifest was written
    assert Lake(tmp_path / "lake").ingest([DATA / "audit2rbac_impersonation_v1beta1.log"], cluster="c").events_written == 37


def test_sigkill_at_any_moment_then_rerun_gives_exactly_the_events_once(tmp_path):
    logs = tmp_path / "audit"
    truth = write_audit_log(logs, 40_000, seed=3, max_size_mb=6, compress=True)
    lake_path = tmp_path / "lake"
    environment = dict(os.environ, AUDITLAKE_COMMIT_ROWS="3000", AUDITLAKE_WORKERS="2")
    command = [sys.executable, "-m", "auditlake", "ingest", str(logs), "--lake", str(lake_path), "--cluster", "c", "--quiet"]
    manifest = lake_path / "_manifest" / "manifest.json"

    def batches() -> int:
        try:
            return len(json.loads(manifest.read_text())["batches"])
        except (OSError, ValueError):
            return 0

    kills = 0
    for new_batches in (0, 1, 2, 1):  # kill before the first commit, then after one or two more
        before = batches()
        process = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            if (new_batches == 0 and lake_path.exists()) or (new_batches and batches() >= before + new_batches):
                break
            time.sleep(0.005)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.wait()
        if manifest.exists():
            rows, keys = count(Lake(lake_path))  # readable after the kill, and never a duplicate
            assert rows == keys <= truth.events
    assert kills >= 2, "the ingest finished before it could be killed: give it more to do"
    finished = subprocess.run(command, env=environment, capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr
    assert count(Lake(lake_path)) == (truth.events, truth.events)
    assert not list(lake_path.rglob("*.tmp"))
    assert not (lake_path / "_staging").exists()
