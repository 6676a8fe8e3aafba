"""Killed writers and full disks: nothing uncommitted carries a final name, the next writer finishes or
cleans what a killed one left, and a full disk is a clear error that readers survive."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from auditlake import Lake
from auditlake.cli import app
from auditlake.errors import StorageError
from auditlake.store import digests
from tests.conftest import DATA, KILLED_WRITER

LINES = (DATA / "immudb_first_300_lines.log").read_bytes().splitlines(keepends=True)
NEW_LOG = DATA / "audit2rbac_impersonation_v1beta1.log"  # 37 events the prepared lake does not hold
runner = CliRunner()


@pytest.fixture(autouse=True)
def user_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This test's own user cache (readers build catalogs there), inherited by the processes it starts."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture(scope="module")
def prepared_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """300 events in three small files of one partition (three cron runs), ready to compact."""
    root = tmp_path_factory.mktemp("prepared")
    logs = []
    for part in range(3):
        logs.append(root / f"audit-{part}.log")
        logs[-1].write_bytes(b"".join(LINES[part * 100:(part + 1) * 100]))
    with pytest.MonkeyPatch.context() as environment:
        environment.setenv("AUDITLAKE_COMMIT_ROWS", "100")
        environment.setenv("XDG_CACHE_HOME", str(root / "cache"))
        Lake(root / "lake").ingest(logs, cluster="c")
    return root / "lake"


def copy_of_lake(prepared: Path, where: Path) -> Lake:
    shutil.copytree(prepared, where)
    return Lake(where)


def manifest(lake: Lake) -> dict:  # type: ignore[type-arg]
    return json.loads((lake.path / "_manifest" / "manifest.json").read_text())


def files_under_final_names(lake: Lake) -> set[str]:
    return {path.relative_to(lake.path).as_posix() for top in ("events", "quarantine", "findings", "_retired")
            for path in (lake.path / top).rglob("*") if path.is_file()}


def committed_names(lake: Lake) -> set[str]:
    """Every final name the manifest accounts for: live files, quarantine, findings, and retired files (in either place)."""
    content = manifest(lake)
    retired = {place for path in content.get("retired", {}) for place in (path, "_retired/" + path.removeprefix("events/"))}
    return (set(content["files"]) | {b["quarantine_file"] for b in content["batches"] if b["quarantine_file"]}
            | set(content.get("findings") or {}) | retired)


def directory_rows(lake: Lake) -> tuple[int, int]:
    """Rows and distinct (audit_id, stage) keys as Spark, Trino or DuckDB see them reading the events directory."""
    with duckdb.connect() as connection:
        return connection.execute(f"SELECT count(*), count(DISTINCT (audit_id, stage)) FROM read_parquet('{lake.path}/events/**/*.parquet')"
                                  ).fetchone()  # type: ignore[return-value]


def catalog_rows(lake: Lake) -> tuple[int, int]:
    return lake.sql("SELECT count(*) AS n, count(DISTINCT (audit_id, stage)) AS k FROM events").row(0)  # type: ignore[return-value]


# ---- C4: SIGKILL at the commit point ---------------------------------------------------------------
# Each writer (tests.conftest.KILLED_WRITER) SIGKILLs itself as its digest is put in place ("before-digest"), just before
# the new manifest replaces the old one ("before-commit") or at the first rename after it ("after-commit"). After the next
# writer's recovery the lake verifies against its digest chain, with no hole in it.


def new_log_with_a_bad_line(directory: Path) -> Path:
    log = directory / "new.log"
    log.write_bytes(NEW_LOG.read_bytes() + b"not json\n")  # a quarantine file in the same batch
    return log


OPERATIONS = ["ingest", "compact", "findings"]


@pytest.fixture(scope="module")
def killed_writers(prepared_lake: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Lake]:
    """A copy of the prepared lake per operation and moment, its writer SIGKILLed there (all run at once, to save time)."""
    root = tmp_path_factory.mktemp("killed")
    log = new_log_with_a_bad_line(root)
    environment = dict(os.environ, AUDITLAKE_RETIRE_AFTER="0", XDG_CACHE_HOME=str(root / "cache"))
    lakes, processes = {}, {}
    for case in [(operation, moment) for operation in OPERATIONS for moment in ("before-digest", "before-commit", "after-commit")]:
        lakes[case] = copy_of_lake(prepared_lake, root / "-".join(case))
        processes[case] = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(lakes[case].path), *case, str(log)],
                                           env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    for case, process in processes.items():
        _, stderr = process.communicate(timeout=120)
        (lakes[case].path.parent / f"{lakes[case].path.name}.exit").write_text(f"{process.returncode}\n{stderr}")
    return lakes


def was_killed(lake: Lake) -> bool:
    code, _, stderr = (lake.path.parent / f"{lake.path.name}.exit").read_text().partition("\n")
    assert int(code) == -signal.SIGKILL, f"the writer was not killed at its commit: {stderr}"
    return True


@pytest.mark.parametrize("moment", ["before-digest", "before-commit"])
@pytest.mark.parametrize("operation", OPERATIONS)
def test_a_writer_killed_just_before_its_commit_leaves_nothing_under_a_final_name(prepared_lake, killed_writers, operation, moment):
    lake = killed_writers[operation, moment]
    assert was_killed(lake)
    assert files_under_final_names(lake) == files_under_final_names(Lake(prepared_lake))
    assert directory_rows(lake) == (300, 300)
    Lake(lake.path).rebuild_catalog()  # the next writer deletes what was left
    assert not (lake.path / "_staging").exists()
    assert not [path for path in lake.path.rglob("*") if path.name.endswith((".tmp", ".tmp.wal"))]
    assert directory_rows(lake) == (300, 300) == catalog_rows(lake)
    assert lake.status().findings == {} and lake.status().quarantined == 0
    assert [result.problems for result in lake.verify()] == [[]]
    assert [digest.name for digest in digests.load_chain(lake.path)] == [digest.name for digest in digests.load_chain(prepared_lake)]


@pytest.mark.parametrize("operation", OPERATIONS)
def test_a_writer_killed_just_after_its_commit_is_finished_by_the_next_writer(prepared_lake, killed_writers, operation):
    lake = killed_writers[operation, "after-commit"]
    assert was_killed(lake)
    expected = 337 if operation == "ingest" else 300
    assert files_under_final_names(lake) <= committed_names(lake), "an uncommitted file under a final name"
    assert directory_rows(lake)[0] == directory_rows(lake)[1] <= expected, "directory readers count a row twice"
    assert catalog_rows(lake) == (expected, expected), "readers see the committed state (read from staging meanwhile)"

    Lake(lake.path).rebuild_catalog()  # the next writer renames the committed files into place
    content = manifest(lake)
    assert all((lake.path / path).is_file() for path in [*content["files"], *(content.get("findings") or {})])
    assert files_under_final_names(lake) <= committed_names(lake)
    assert not (lake.path / "_staging").exists()
    assert directory_rows(lake) == (expected, expected) == catalog_rows(lake)
    if operation == "ingest":
        assert lake.status().quarantined == 1
    if operation == "findings":
        assert lake.status().findings == {"rule-1": 1, "rule-2": 1}
    assert [result.problems for result in lake.verify()] == [[]]
    assert len(digests.load_chain(lake.path)) == len(digests.load_chain(prepared_lake)) + 1


# ---- D1, D2, D3: a full disk -----------------------------------------------------------------------
@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 MiB tmpfs to fill up (needs root: skipped otherwise)."""
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("mounting a small tmpfs needs root")
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(disk)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def fill(disk: Path) -> None:
    """Write until the disk says it is full (in big pieces, then in the smallest)."""
    with (disk / "filler").open("ab", buffering=0) as handle:
        for size in (1 << 20, 4096, 1):
            with contextlib.suppress(OSError):
                while True:
                    handle.write(b"\0" * size)


def one_error_line(stderr: str, *words: str) -> None:
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and all(word in errors[0] for word in words), stderr
    assert "Traceback" not in stderr and "internal error" not in stderr


def test_on_a_full_disk_readers_answer_and_rebuilding_the_catalog_is_a_clear_error(prepared_lake, small_disk, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(small_disk / "cache"))  # the user's cache is full too
    lake = copy_of_lake(prepared_lake, small_disk / "lake")
    lake.rebuild_catalog()
    fill(small_disk)
    question = ["sql", "select count(*) as n from events", "--lake", str(lake.path), "--format", "csv"]

    result = runner.invoke(app, question)  # the lake's catalog is current: it opens read-only
    assert (result.exit_code, result.stdout.split()[-1:]) == (0, ["300"]), result.output
    library = tmp_path / "my-queries"
    library.mkdir()
    monkeypatch.setenv("AUDITLAKE_QUERY_PATH", str(library))  # another library: the lake's catalog is stale for it
    result = runner.invoke(app, question)  # no catalog can be written anywhere: views in memory
    assert (result.exit_code, result.stdout.split()[-1:]) == (0, ["300"]), result.output

    result = runner.invoke(app, ["catalog", "--lake", str(lake.path)])
    assert result.exit_code == 2
    one_error_line(result.stderr, "disk full", str(lake.path / "catalog.duckdb"))
    assert not [path for path in small_disk.rglob("*") if path.name.endswith((".tmp", ".tmp.wal"))]


def test_an_ingest_whose_catalog_rebuild_finds_the_disk_full_keeps_its_committed_batch(prepared_lake, small_disk, monkeypatch):
    lake = copy_of_lake(prepared_lake, small_disk / "lake")
    real_replace = os.replace

    def replace_then_fill(source, target, *args, **kwargs):  # type: ignore[no-untyped-def]
        real_replace(source, target, *args, **kwargs)
        if str(target) == str(lake.store.manifest_path):  # the batch is committed; then the disk fills up
            fill(small_disk)

    monkeypatch.setattr(os, "replace", replace_then_fill)
    result = runner.invoke(app, ["ingest", str(NEW_LOG), "--lake", str(lake.path), "--cluster", "c", "--quiet"])
    monkeypatch.setattr(os, "replace", real_replace)
    assert result.exit_code == 2
    one_error_line(result.stderr, "disk full", "catalog.duckdb")
    assert sum(batch["rows"] for batch in manifest(lake)["batches"] if batch["kind"] == "ingest") == 337
    (small_disk / "filler").unlink()
    assert catalog_rows(lake) == (337, 337)
    assert runner.invoke(app, ["ingest", str(NEW_LOG), "--lake", str(lake.path), "--cluster", "c", "--json"]).stdout.count(
        '"events_written": 0') == 1


def test_compact_on_a_full_disk_is_a_clear_error_and_leaves_nothing_behind(prepared_lake, small_disk):
    lake = copy_of_lake(prepared_lake, small_disk / "lake")
    before = manifest(lake)
    fill(small_disk)
    result = runner.invoke(app, ["compact", "--lake", str(lake.path)])
    assert result.exit_code == 2
    one_error_line(result.stderr, "disk full")
    assert manifest(lake) == before
    assert not (lake.path / "_staging").exists()
    assert not [path for path in lake.path.rglob("*") if path.name.endswith((".tmp", ".tmp.wal"))]
    assert catalog_rows(lake) == (300, 300)


def test_compact_that_runs_out_of_space_writing_leaves_no_temporary_file(prepared_lake, tmp_path, monkeypatch):
    """The same without root: the OS call that writes the merged file fails with ENOSPC."""
    lake = copy_of_lake(prepared_lake, tmp_path / "lake")
    before = manifest(lake)

    def no_space(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pq.ParquetWriter, "write_table", no_space)
    with pytest.raises(StorageError, match="disk full"):
        lake.compact()
    assert manifest(lake) == before
    assert not (lake.path / "_staging").exists()
    assert not [path for path in lake.path.rglob("*") if path.name.endswith(".tmp")]
