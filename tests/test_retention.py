"""Retention with proof (issue 16, PCI-DSS 10.5.1): archive and delete whole days, each action a signed digest.

A simulated cluster's 20 days (2026-10-01 → 2026-10-21), retention as of 2026-10-21 with `--hot 5d --keep 12d`:
the 8 days before 10-09 are deleted, the 7 days 10-09 … 10-15 move to the archive, the last 5 stay hot.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from auditlake import Lake
from auditlake.demo import write_audit_log
from auditlake.errors import LakeError
from auditlake.store import digests
from tests.conftest import KILLED_WRITER

START = datetime(2026, 10, 1, tzinfo=UTC)
NOW = datetime(2026, 10, 21, tzinfo=UTC)


def days(first: str, count: int) -> set[str]:
    return {(date.fromisoformat(first) + timedelta(days=offset)).isoformat() for offset in range(count)}


@pytest.fixture(scope="module")
def twenty_days(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A signed lake of 20 simulated days, and its key."""
    root = tmp_path_factory.mktemp("twenty-days")
    key = digests.generate_key_pair(root / "keys" / "signing.key")
    write_audit_log(root / "logs", 6_000, start=START, days=20, max_size_mb=1000)
    lake = Lake(root / "lake", signing_key=key.path)
    lake.ingest([root / "logs"], cluster="sim")
    assert {record.date for record in lake.store.load_manifest().files.values()} == days("2026-10-01", 20)
    return lake.path, key.path


@pytest.fixture
def lake(twenty_days: tuple[Path, Path], tmp_path: Path) -> Lake:
    built, key = twenty_days
    shutil.copytree(built, tmp_path / "lake")
    return Lake(tmp_path / "lake", signing_key=key)


def dates(path: Path) -> set[str]:
    return {record.date for record in Lake(path).store.load_manifest().files.values()}


def rows_per_day(lake: Lake) -> dict[str, int]:
    table = lake.sql_arrow("SELECT CAST(date AS VARCHAR) AS day, count(*) AS n FROM events GROUP BY ALL")
    return dict(zip(table.column("day").to_pylist(), table.column("n").to_pylist(), strict=True))


def test_hot_5d_keep_12d(lake: Lake, tmp_path: Path) -> None:
    before = rows_per_day(lake)
    result = lake.retention(hot="5d", keep="12d", archive=tmp_path / "archive", now=NOW)
    assert {move.date for move in result.moves if move.action == "deleted"} == days("2026-10-01", 8)
    assert {move.date for move in result.moves if move.action == "archived"} == days("2026-10-09", 7)
    assert dates(lake.path) == days("2026-10-16", 5)
    assert dates(tmp_path / "archive") == days("2026-10-09", 7)
    # still queryable: the catalog reads the archive with the lake, each row once
    assert rows_per_day(lake) == {day: count for day, count in before.items() if day >= "2026-10-09"}
    # both places verify, and the digests say what left
    assert [(result.lake, result.problems) for result in lake.verify()] == [(str(lake.path), []), (str(tmp_path / "archive"), [])]
    deleted, archived = digests.load_chain(lake.path)[-2:]
    assert (deleted.kind, deleted.note["action"], archived.note["action"]) == ("retention", "delete", "archive")
    assert sum(entry.rows or 0 for entry in deleted.removed) == sum(before[day] for day in days("2026-10-01", 8))
    assert {part["date"] for part in deleted.note["partitions"]} == days("2026-10-01", 8)
    assert all(part["first_event_at"] <= part["last_event_at"] for part in deleted.note["partitions"])
    assert not deleted.added and archived.note["to"] == str(tmp_path / "archive")
    (arrived,) = digests.load_chain(tmp_path / "archive")
    assert {entry.path for entry in arrived.added} == {entry.path for entry in archived.removed}
    assert digests.chain_signers([deleted, archived, arrived]) == {lake.store.signing_key.fingerprint}
    # a rerun does nothing; three days later the archive's oldest days go, with a digest in the archive
    chain_length = len(digests.load_chain(lake.path))
    assert lake.retention(hot="5d", keep="12d", archive=tmp_path / "archive", now=NOW).moves == []
    assert len(digests.load_chain(lake.path)) == chain_length
    later = lake.retention(hot="5d", keep="12d", archive=tmp_path / "archive", now=NOW + timedelta(days=3))
    assert {(move.date, move.action) for move in later.moves} == (
        {(day, "deleted") for day in days("2026-10-09", 3)} | {(day, "archived") for day in days("2026-10-16", 3)})
    assert dates(tmp_path / "archive") == days("2026-10-12", 7) and dates(lake.path) == days("2026-10-19", 2)
    assert [result.problems for result in lake.verify()] == [[], []]


def test_the_pci_10_5_1_section_states_the_retention_that_holds(lake: Lake, tmp_path: Path) -> None:
    lake.retention(hot="5d", keep="12d", archive=tmp_path / "archive", now=NOW)
    report = lake.report("pci-dss", since=NOW - timedelta(days=30), until=NOW, now=NOW)
    (section,) = [section for section in report.sections if section.section.control == "10.5.1"]
    retained = {result.name: result.table.to_pylist() for result in section.checks}["retention"]
    assert [(row["first_event"].date().isoformat(), row["keeps_12_months"]) for row in retained] == [("2026-10-09", False)]
    assert report.evidence.integrity["verified"] and report.evidence.integrity["archive"] == str(tmp_path / "archive")


def test_refuses_to_move_or_delete_a_file_that_is_not_what_its_digest_committed(lake: Lake, tmp_path: Path) -> None:
    oldest = sorted((lake.path / "events" / "cluster=sim" / "date=2026-10-01").glob("*.parquet"))[0]
    data = bytearray(oldest.read_bytes())
    data[100] ^= 0xFF
    oldest.write_bytes(bytes(data))
    chain_length = len(digests.load_chain(lake.path))
    with pytest.raises(LakeError, match="sha256 differs from its digest"):
        lake.retention(keep="12d", now=NOW)
    assert oldest.is_file() and len(digests.load_chain(lake.path)) == chain_length and "2026-10-01" in dates(lake.path)


def test_usage_errors(lake: Lake, tmp_path: Path) -> None:
    with pytest.raises(LakeError, match="--hot needs --archive"):
        lake.retention(hot="5d", now=NOW)
    with pytest.raises(LakeError, match="shorter than --hot"):
        lake.retention(hot="10d", keep="5d", archive=tmp_path / "archive", now=NOW)
    with pytest.raises(LakeError, match="outside the lake"):
        lake.retention(hot="5d", archive=lake.path / "archive", now=NOW)
    cli = subprocess.run([sys.executable, "-m", "auditlake", "retention", "--lake", str(lake.path), "--keep", "12"],
                         capture_output=True, text=True, check=False)
    assert cli.returncode == 2 and "needs a unit" in cli.stderr and "Traceback" not in cli.stderr


@pytest.mark.parametrize("moment", ["before-digest", "before-commit", "after-commit"])
def test_retention_killed_at_its_commit_then_rerun_verifies_with_exact_rows(lake: Lake, twenty_days: tuple[Path, Path], tmp_path: Path,
                                                                           moment: str) -> None:
    key = twenty_days[1]
    before = sum(rows_per_day(lake).values())
    killed = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(lake.path), "retention", moment, str(tmp_path / "archive")],
                            capture_output=True, text=True, timeout=300, check=False, env={**os.environ, "AUDITLAKE_SIGNING_KEY": str(key)})
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert sum(rows_per_day(Lake(lake.path)).values()) == before  # readers meanwhile: every row once
    again = Lake(lake.path, signing_key=key).retention(hot="1d", archive=tmp_path / "archive")
    assert dates(lake.path) == set() and len(dates(tmp_path / "archive")) == 20, again
    assert sum(rows_per_day(Lake(lake.path)).values()) == before
    assert [result.problems for result in Lake(lake.path).verify()] == [[], []]
