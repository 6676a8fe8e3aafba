"""Provenance is exact: every file that supplied a row has its own manifest record, every row names one, and an
unchanged directory costs nothing to re-read (issue `evidence`, item 1)."""

from __future__ import annotations

import gzip
import json
import os
import shutil

from typer.testing import CliRunner

from auditlake import Lake
from auditlake.cli import app
from tests.conftest import DATA, SHARED, requires_shared

V1BETA1 = (DATA / "audit2rbac_impersonation_v1beta1.log").read_bytes().splitlines(keepends=True)
IMMUDB = (DATA / "immudb_first_300_lines.log").read_bytes().splitlines(keepends=True)


def ingest_json(*args: str) -> dict:
    result = CliRunner().invoke(app, ["ingest", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def records_by_name(lake: Lake) -> dict[str, dict]:
    rows = lake.sql("select names, size, lines, events, sha256, first_event_at, last_event_at from ingest_sources").to_dicts()
    return {name: row for row in rows for name in row["names"]}


def test_two_files_that_share_a_first_line_each_get_their_own_record(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "capture-1.log").write_bytes(b"".join(V1BETA1))  # a capture of a cluster …
    (logs / "capture-2.log").write_bytes(V1BETA1[0] + b"".join(IMMUDB[:50]))  # … and another that starts the same way
    lake = Lake(tmp_path / "lake")
    lake.ingest([logs], cluster="a")
    records = records_by_name(lake)
    supplied = dict(lake.sql("select source_file, count(*) from events group by all").iter_rows())
    assert set(supplied) == {str(logs / "capture-1.log"), str(logs / "capture-2.log")}
    for name, rows in supplied.items():  # every file that supplied a row has its own record, whole
        record = records[name]
        assert record["sha256"] and record["size"] == os.path.getsize(name) and record["events"] >= rows
        assert record["lines"] == len(open(name, "rb").read().splitlines())
    assert records[str(logs / "capture-1.log")] != records[str(logs / "capture-2.log")]


def test_an_unchanged_directory_is_not_read_again_and_renamed_or_compressed_rotations_are_recognised(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "audit.log").write_bytes(b"".join(IMMUDB[:100]))
    lake = str(tmp_path / "lake")
    first = ingest_json(str(logs), "--lake", lake)
    assert first["events_written"] == 100 and first["bytes_read"] > 0
    again = ingest_json(str(logs), "--lake", lake)
    assert (again["bytes_read"], again["sources_unchanged"], again["events_written"]) == (0, 1, 0)
    (logs / "audit.log").rename(logs / "audit-2026-11-01T10-00-00.000.log")  # rotated by lumberjack
    renamed = ingest_json(str(logs), "--lake", lake)
    assert (renamed["bytes_read"], renamed["sources_unchanged"]) == (0, 1)
    rotated = logs / "audit-2026-11-01T10-00-00.000.log"
    rotated.write_bytes(gzip.compress(rotated.read_bytes()))  # then compressed: another file, the same source
    os.rename(rotated, rotated.with_name(rotated.name + ".gz"))
    compressed = ingest_json(str(logs), "--lake", lake)
    assert (compressed["events_written"], compressed["duplicates"], compressed["sources_read"]) == (0, 0, 1)
    assert ingest_json(str(logs), "--lake", lake)["bytes_read"] == 0  # and recognised by its look from then on
    assert len(Lake(lake).sql("select * from ingest_sources")) == 1


def test_a_report_lists_exactly_the_files_that_supplied_its_window_with_their_sha256(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "2017.log").write_bytes(b"".join(V1BETA1))  # events of 2017-09-11
    (logs / "2023.log").write_bytes(b"".join(IMMUDB[:50]))  # events of 2023-03-10
    lake = Lake(tmp_path / "lake")
    lake.ingest([logs], cluster="a")
    report = lake.report("change-log", since="2023-03-01", until="2023-04-01")
    files = {source["file"]: source for source in report.evidence.sources}
    assert set(files) == {str(logs / "2023.log")}
    assert files[str(logs / "2023.log")]["sha256"] == records_by_name(lake)[str(logs / "2023.log")]["sha256"]
    assert files[str(logs / "2023.log")]["events"] == 50


@requires_shared
def test_audit2rbac_as_the_issue_tried_it(tmp_path):
    """The reproduction: ingest ../shared/data/audit2rbac (757 + 37 + 37 events, two files with one first line)."""
    copy = tmp_path / "audit2rbac"
    shutil.copytree(SHARED / "audit2rbac", copy)
    lake = str(tmp_path / "p")
    first = ingest_json(str(copy), "--lake", lake, "--cluster", "a")
    the_lake = Lake(lake)
    records = records_by_name(the_lake)
    supplied = dict(the_lake.sql("select source_file, count(*) from events group by all").iter_rows())
    assert supplied == {str(copy / "commit-501d132a" / "demo.log"): 757}
    record = records[str(copy / "commit-501d132a" / "demo.log")]
    assert (record["lines"], record["events"]) == (757, 757) and record["sha256"]
    assert len(the_lake.sql("select * from ingest_sources")) == 3  # each of the three logs has its own record
    assert first["events_written"] == 757
    rerun = ingest_json(str(copy), "--lake", lake, "--cluster", "a")
    assert (rerun["bytes_read"], rerun["duplicates"], rerun["sources_unchanged"]) == (0, 0, 3)


def test_a_file_and_its_continuation_read_in_one_run_are_both_recorded(tmp_path):
    """`b.log` begins with all of `a.log` (a copy taken later, a grown log beside its older copy): it continues that source.

    Both supplied rows, so both are named in the manifest, with every event counted and the look of each kept: a
    rerun reads nothing. (The record once kept only the last file a run read of a source.)
    """
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "a.log").write_bytes(b"".join(IMMUDB[:10]))
    (logs / "b.log").write_bytes(b"".join(IMMUDB[:25]))
    lake = Lake(tmp_path / "lake")
    first = lake.ingest([logs], cluster="a")
    assert (first.events_written, first.lines) == (25, 25)
    [record] = lake.store.load_manifest().sources.values()
    assert record.names == [str(logs / "a.log"), str(logs / "b.log")] and record.events == 25 and len(record.seen_as) == 2
    [batch] = lake.store.load_manifest().batches
    assert [(source["name"], source["events"]) for source in batch.sources] == [(str(logs / "a.log"), 10), (str(logs / "b.log"), 15)]
    again = lake.ingest([logs], cluster="a")
    assert (again.bytes_read, again.sources_unchanged, again.events_written) == (0, 2, 0)
