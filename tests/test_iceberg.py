"""`auditlake publish iceberg`: the lake's files as Iceberg tables, in place, that never disagree with the manifest.

Catalogs are real: an SQLite file, and a PostgreSQL server (Debian's package) started on loopback with a password.
Reading back is pyiceberg's own scan, compared with what DuckDB reads from the lake.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from auditlake import Lake, contract
from auditlake.errors import AuditlakeWarning, CatalogError
from auditlake.scaleout import iceberg
from tests.conftest import DATA, SHARED, requires_shared
from tests.pgserver import PostgresServer, find_postgres_bin

pytest.importorskip("pyiceberg", reason="pyiceberg is not installed: pip install -e '.[dev]'")

REAL_LOGS = [("immudb", DATA / "immudb_first_300_lines.log"), ("audit2rbac", DATA / "audit2rbac_impersonation_v1beta1.log"),
             ("kind", DATA / "khi_lease_update_request_response.jsonl")]
WINDOW = {"since": "2000-01-01", "until": "2100-01-01"}


def lake_rows(lake: Lake, table: str = "events") -> list[tuple]:
    """Every row DuckDB reads from the lake, as comparable tuples (JSON as text, timestamps in UTC), sorted."""
    names = iceberg.events_schema().names if table == "events" else iceberg.findings_schema().names
    rows = lake.sql_arrow(f"SELECT {', '.join(names)} FROM {table}")
    return comparable(rows.select(names))


def iceberg_rows(catalog: str, name: str, names: list[str]) -> list[tuple]:
    table = iceberg.open_catalog(catalog, "file:///unused").load_table(name)
    return comparable(table.scan().to_arrow().select(names))


def comparable(table: pa.Table) -> list[tuple]:
    columns = []
    for field, column in zip(table.schema, table.columns, strict=True):
        values = column.to_pylist()
        if pa.types.is_timestamp(field.type):
            values = [value.astimezone(UTC) if value else None for value in values]
        elif pa.types.is_map(field.type):
            values = [tuple(sorted(value)) if value is not None else None for value in values]
        elif field.name in contract.JSON_COLUMN_NAMES or field.name == "evidence":
            values = [json.loads(value) if isinstance(value, str) else value for value in values]
            values = [json.dumps(value, sort_keys=True) if value is not None else None for value in values]
        elif pa.types.is_list(field.type) or pa.types.is_large_list(field.type):
            values = [tuple(value) if value is not None else None for value in values]
        columns.append(values)
    return sorted(zip(*columns, strict=True), key=repr)


@pytest.fixture(scope="module")
def small_lake_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three vendored real logs and a small simulated cluster (built once per module)."""
    root = tmp_path_factory.mktemp("template")
    lake = Lake(root / "lake")
    for cluster, log in REAL_LOGS:
        lake.ingest([log], cluster=cluster)
    lake.demo(root / "demo-log", requests=3_000, seed=5, start=datetime(2026, 11, 1, tzinfo=UTC))
    return root / "lake"


@pytest.fixture
def small_lake(small_lake_template: Path, tmp_path: Path) -> Lake:
    """A copy of the template lake of the test's own (publishing writes to it)."""
    shutil.copytree(small_lake_template, tmp_path / "lake")
    return Lake(tmp_path / "lake")


def sqlite_catalog(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'catalog.db'}"


def listed_files(catalog: str, name: str) -> set[str]:
    table = iceberg.open_catalog(catalog, "file:///unused").load_table(name)
    return {task.file.file_path for task in table.scan().plan_files()} if table.current_snapshot() else set()


def manifest_files(lake: Lake) -> set[str]:
    return {f"file://{Path(lake.path, path).resolve()}" for path in lake.store.load_manifest().files if path.startswith("events/")}


def test_publish_registers_every_file_in_place_and_pyiceberg_reads_back_the_lakes_rows(small_lake: Lake, tmp_path: Path) -> None:
    catalog = sqlite_catalog(tmp_path)
    publication = small_lake.publish_iceberg(catalog, table="audit.events")
    events = publication.tables[0]
    assert events.name == "audit.events" and events.added == events.files > 0 and events.copied == 0
    assert listed_files(catalog, "audit.events") == manifest_files(small_lake)  # in place: the lake's own files
    assert iceberg_rows(catalog, "audit.events", iceberg.events_schema().names) == lake_rows(small_lake)
    assert events.rows == small_lake.sql("SELECT count(*) FROM events").item()


def test_the_table_is_partitioned_by_cluster_and_day_and_prunes_on_them(small_lake: Lake, tmp_path: Path) -> None:
    catalog = sqlite_catalog(tmp_path)
    small_lake.publish_iceberg(catalog)
    table = iceberg.open_catalog(catalog, "file:///unused").load_table("audit.events")
    assert [(field.name, str(field.transform)) for field in table.spec().fields] == [("cluster", "identity"), ("date", "identity")]
    schema = table.schema()
    assert str(schema.find_field("received_at").field_type) == "timestamptz"
    assert str(schema.find_field("user_groups").field_type) == "list<string>"
    assert str(schema.find_field("annotations").field_type) == "map<string, string>"
    assert str(schema.find_field("request_object").field_type) == "string"  # JSON as text: every engine reads it
    immudb = table.scan(row_filter="cluster = 'immudb'")
    assert {task.file.file_path.split("/cluster=")[1].split("/")[0] for task in immudb.plan_files()} == {"immudb"}
    assert immudb.to_arrow().num_rows == 300
    day = table.scan(row_filter="cluster = 'demo' AND date = '2026-11-01'").to_arrow()
    assert day.num_rows == small_lake.sql("SELECT count(*) FROM events WHERE cluster = 'demo' AND date = DATE '2026-11-01'").item() > 0


def test_a_rerun_adds_only_new_files_and_commits_nothing_when_nothing_changed(small_lake: Lake, tmp_path: Path) -> None:
    catalog = sqlite_catalog(tmp_path)
    first = small_lake.publish_iceberg(catalog).tables[0]
    again = small_lake.publish_iceberg(catalog).tables[0]
    assert (again.added, again.removed, again.snapshot_id) == (0, 0, first.snapshot_id)
    small_lake.ingest([DATA / "immudb_endpointslice_updates.log"], cluster="immudb-2")  # the ingest publishes what it added
    table = iceberg.open_catalog(catalog, "file:///unused").load_table("audit.events")
    summary = table.current_snapshot().summary
    assert summary["added-data-files"] == str(len(manifest_files(small_lake)) - first.files)
    assert summary.get("deleted-data-files") in (None, "0")
    assert listed_files(catalog, "audit.events") == manifest_files(small_lake)
    assert small_lake.publish_iceberg(catalog).tables[0].added == 0
    assert iceberg_rows(catalog, "audit.events", iceberg.events_schema().names) == lake_rows(small_lake)


def test_compaction_then_publish_replaces_the_merged_files_in_one_snapshot(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    lines = (DATA / "immudb_first_300_lines.log").read_text().splitlines(keepends=True)
    for part in range(3):  # three incremental runs: three small files in the same partition
        piece = tmp_path / f"part-{part}.log"
        piece.write_text("".join(lines[part * 100:(part + 1) * 100]))
        lake.ingest([piece], cluster="immudb")
    catalog = sqlite_catalog(tmp_path)
    before = lake.publish_iceberg(catalog).tables[0]
    assert before.files == 3
    assert lake.compact().files_after == 1  # the lake remembers its publication: the compaction updates the table too
    table = iceberg.open_catalog(catalog, "file:///unused").load_table("audit.events")
    summary = table.current_snapshot().summary
    assert (summary["added-data-files"], summary["deleted-data-files"]) == ("1", "3")  # one snapshot did both
    assert listed_files(catalog, "audit.events") == manifest_files(lake)
    assert iceberg_rows(catalog, "audit.events", iceberg.events_schema().names) == lake_rows(lake)
    again = lake.publish_iceberg(catalog).tables[0]
    assert (again.added, again.removed, again.files) == (0, 0, 1)


def test_retention_and_ingest_keep_a_published_table_in_step(small_lake: Lake, tmp_path: Path) -> None:
    catalog = sqlite_catalog(tmp_path)
    small_lake.publish_iceberg(catalog)
    small_lake.ingest([DATA / "immudb_endpointslice_updates.log"], cluster="immudb-2")  # no publish call: the ingest follows
    assert listed_files(catalog, "audit.events") == manifest_files(small_lake)
    small_lake.retention(keep="400d", now=datetime(2026, 11, 30, tzinfo=UTC))  # the 2017 and 2023 partitions go
    assert listed_files(catalog, "audit.events") == manifest_files(small_lake)
    assert {row[0] for row in small_lake.sql("SELECT DISTINCT cluster FROM events").rows()} == {"demo"}
    assert iceberg_rows(catalog, "audit.events", iceberg.events_schema().names) == lake_rows(small_lake)


def test_a_catalog_gone_away_is_a_warning_and_the_write_still_commits(small_lake: Lake, tmp_path: Path) -> None:
    catalog = sqlite_catalog(tmp_path)
    small_lake.publish_iceberg(catalog)
    (tmp_path / "catalog.db").unlink()
    (tmp_path / "catalog.db").mkdir()  # a catalog that cannot be opened
    with pytest.warns(AuditlakeWarning, match="the Iceberg tables were not updated"):
        small_lake.ingest([DATA / "immudb_endpointslice_updates.log"], cluster="immudb-2")
    assert small_lake.sql("SELECT count(*) FROM events WHERE cluster = 'immudb-2'").item() > 0


def test_findings_are_published_too_and_follow_each_detect_write(small_lake: Lake, tmp_path: Path) -> None:
    catalog = sqlite_catalog(tmp_path)
    small_lake.keep_findings(small_lake.detect(**WINDOW))
    findings = small_lake.publish_iceberg(catalog).tables[1]
    assert findings.name == "audit.findings" and findings.rows > 0
    # a directory lake rewrites findings files in place, so the table reads converted copies, named by content
    assert findings.copied == findings.added == findings.files
    assert iceberg_rows(catalog, "audit.findings", iceberg.findings_schema().names) == lake_rows(small_lake, "findings")
    small_lake.ingest([DATA / "audit2rbac_cluster_rbac_create_delete.log"], cluster="rbac")
    small_lake.keep_findings(small_lake.detect(**WINDOW))
    small_lake.publish_iceberg(catalog)
    assert iceberg_rows(catalog, "audit.findings", iceberg.findings_schema().names) == lake_rows(small_lake, "findings")


def test_a_file_from_before_the_iceberg_layout_is_converted_into_the_table_location(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    lake.ingest([DATA / "immudb_first_300_lines.log"], cluster="immudb")
    (relative,) = [path for path in lake.store.load_manifest().files if path.startswith("events/")]
    written = Path(lake.path, relative)
    rows = pq.read_table(written)  # rewrite it as earlier versions did: Arrow's JSON extension type in the footer
    assert any(isinstance(field.type, pa.BaseExtensionType) for field in rows.schema)
    pq.write_table(rows, written, compression="zstd")
    catalog = sqlite_catalog(tmp_path)
    events = lake.publish_iceberg(catalog).tables[0]
    assert (events.added, events.copied) == (1, 1)
    (path,) = listed_files(catalog, "audit.events")
    assert path.startswith(f"file://{(tmp_path / 'lake' / '_iceberg').resolve()}/") and "/data/events/cluster=immudb/" in path
    assert iceberg_rows(catalog, "audit.events", iceberg.events_schema().names) == lake_rows(lake)
    assert lake.publish_iceberg(catalog).tables[0].added == 0  # the copy is found again by its content hash


def test_new_files_carry_no_arrow_only_types() -> None:
    from auditlake.store.files import PARQUET_OPTIONS

    assert PARQUET_OPTIONS["store_schema"] is False  # JSON columns are Parquet strings annotated JSON: what pyiceberg and Spark read


def test_a_table_published_from_another_lake_is_refused(small_lake: Lake, tmp_path: Path) -> None:
    catalog = sqlite_catalog(tmp_path)
    small_lake.publish_iceberg(catalog)
    other = Lake(tmp_path / "other")
    other.ingest([DATA / "immudb_first_300_lines.log"], cluster="immudb")
    with pytest.raises(CatalogError, match="was published from"):
        other.publish_iceberg(catalog)


def cli(*arguments: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "auditlake", *arguments], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, "NO_COLOR": "1"})


def test_cli_publishes_and_bad_catalogs_are_one_line_without_the_password(small_lake: Lake, tmp_path: Path) -> None:
    done = cli("publish", "iceberg", "--lake", str(small_lake.path), "--catalog", "sqlite:///catalog.db", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("audit.events: ") and "audit.findings: " in done.stdout
    as_json = json.loads(cli("publish", "iceberg", "--lake", str(small_lake.path), "--catalog", "sqlite:///catalog.db",
                             "--format", "json", cwd=tmp_path).stdout)
    assert as_json["tables"][0]["added"] == 0
    for bad in ("postgresql://alice:hunter2-secret@127.0.0.1:1/catalog", "mysql://alice:hunter2-secret@host/db", "not a url"):
        failed = cli("publish", "iceberg", "--lake", str(small_lake.path), "--catalog", bad, cwd=tmp_path)
        assert failed.returncode == 2, failed.stderr
        assert failed.stderr.startswith("error: ") and "Traceback" not in failed.stderr
        assert "hunter2" not in failed.stderr + failed.stdout
    assert cli("publish", "iceberg", "--lake", str(small_lake.path), "--catalog", "sqlite:///c.db", "--table", "events",
               cwd=tmp_path).returncode == 2


@pytest.fixture(scope="module")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    bin_dir = find_postgres_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL is not installed (Debian's postgresql; `make test` installs it when run as root)")
    server = PostgresServer(bin_dir, tmp_path_factory.mktemp("postgres")).start()
    try:
        yield server
    finally:
        server.stop()


def test_a_postgresql_catalog_holds_the_same_table_and_no_credential_reaches_the_lake(
        postgres_server: PostgresServer, small_lake: Lake, tmp_path: Path) -> None:
    publication = small_lake.publish_iceberg(postgres_server.url, table="team.events")
    assert publication.catalog.endswith(f"@127.0.0.1:{postgres_server.port}/catalog") and postgres_server.password not in publication.catalog
    assert iceberg_rows(postgres_server.url, "team.events", iceberg.events_schema().names) == lake_rows(small_lake)
    assert small_lake.publish_iceberg(postgres_server.url, table="team.events").tables[0].added == 0
    done = cli("publish", "iceberg", "--lake", str(small_lake.path), "--catalog", postgres_server.url, "--table", "team.events", cwd=tmp_path)
    assert done.returncode == 0 and postgres_server.password not in done.stdout + done.stderr
    for path in Path(small_lake.path).rglob("*"):
        if path.is_file():
            assert postgres_server.password.encode() not in path.read_bytes(), path
    wrong = cli("publish", "iceberg", "--lake", str(small_lake.path), "--catalog",
                postgres_server.url.replace(postgres_server.password, "wrong-password"), cwd=tmp_path)
    assert wrong.returncode == 2 and wrong.stderr.startswith("error: cannot open the Iceberg catalog") and "wrong-password" not in wrong.stderr


@requires_shared
def test_a_larger_real_log_round_trips(tmp_path: Path) -> None:
    logs = sorted((SHARED / "audit2rbac").rglob("*.log"))
    lake = Lake(tmp_path / "lake")
    lake.ingest(logs, cluster="audit2rbac")
    catalog = sqlite_catalog(tmp_path)
    lake.publish_iceberg(catalog)
    table = iceberg.open_catalog(catalog, "file:///unused").load_table("audit.events")
    scanned = table.scan().to_arrow()
    assert scanned.num_rows == lake.sql("SELECT count(*) FROM events").item() > 0
    assert pc.count_distinct(scanned.column("audit_id")).as_py() == lake.sql("SELECT count(DISTINCT audit_id) FROM events").item()
