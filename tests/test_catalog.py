"""catalog.duckdb: the DuckDB shell opens it as it is, from anywhere; it follows the lake."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from auditlake import Lake, contract
from tests.conftest import DATA


def duckdb_shell() -> str:
    found = shutil.which("duckdb") or str(Path(sys.executable).with_name("duckdb"))
    if not Path(found).exists():
        pytest.fail("the duckdb shell (duckdb-cli, a dev dependency) is not installed")
    return found


def test_the_catalog_opens_in_the_standalone_duckdb_shell_from_any_directory(fixture_lake, tmp_path):
    result = subprocess.run(
        [duckdb_shell(), str(fixture_lake.path / "catalog.duckdb"), "-readonly", "-csv", "-c",
         "select cluster, count(*) from events group by all order by 1"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "immudb,300" in result.stdout and "audit2rbac,37" in result.stdout


def test_events_has_every_contract_column_with_its_comment(fixture_lake):
    with fixture_lake.connect() as connection:
        columns = connection.execute(
            "SELECT column_name, comment FROM duckdb_columns() WHERE table_name = 'events' ORDER BY column_index").fetchall()
    assert [name for name, _ in columns] == [column.name for column in contract.COLUMNS]
    assert all(comment for _, comment in columns)


def test_an_empty_lake_has_a_typed_empty_events_view(tmp_path):
    lake = Lake(tmp_path / "lake")
    lake.store.create()
    rows = lake.sql_arrow("SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = 'events'").to_pylist()
    types = {row["column_name"]: row["data_type"] for row in rows}
    assert types["received_at"] == "TIMESTAMP WITH TIME ZONE" and types["code"] == "INTEGER" and types["date"] == "DATE"
    assert lake.sql("SELECT count(*) AS n FROM events").item() == 0


def test_a_moved_lake_gets_its_catalog_rebuilt(tmp_path):
    lake = Lake(tmp_path / "old")
    lake.ingest([DATA / "audit2rbac_impersonation_v1beta1.log"], cluster="c")
    moved = shutil.move(str(tmp_path / "old"), str(tmp_path / "new"))
    assert Lake(moved).sql("SELECT count(*) AS n FROM events").item() == 37


def test_date_and_cluster_filters_prune_files(fixture_lake):
    with fixture_lake.connect() as connection:
        plan = connection.execute(
            "EXPLAIN SELECT count(DISTINCT user_name) FROM events WHERE cluster = 'audit2rbac' AND date = DATE '2017-09-11'").fetchall()
        files = connection.execute("SELECT count(DISTINCT source_file || batch) FROM events").fetchone()[0]
    text = "\n".join(str(row[-1]) for row in plan)
    assert files > 1 and f"Scanning Files: 1/{len(fixture_lake.store.live_files())}" in text


def test_readers_never_see_files_the_manifest_does_not_list(fixture_lake, tmp_path):
    lake = Lake(tmp_path / "lake")
    lake.ingest([DATA / "audit2rbac_impersonation_v1beta1.log"], cluster="c")
    [real] = list((lake.path / "events").rglob("*.parquet"))
    shutil.copy(real, real.with_name("debris-of-a-killed-run.parquet"))
    assert lake.sql("SELECT count(*) AS n FROM events").item() == 37
    with duckdb.connect(str(lake.path / "catalog.duckdb"), read_only=True) as connection:
        assert connection.execute("SELECT count(*) FROM events").fetchone()[0] == 37


def test_the_library_a_catalog_installs_is_kept_in_the_user_cache_and_follows_every_change(tmp_path, monkeypatch):
    """Opening a lake needs the whole library (~130 headers parsed): it is cached, but never stale and never required."""
    from auditlake.library.macros import catalog_items

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    extra = tmp_path / "mine"
    (extra / "operations").mkdir(parents=True)
    question = extra / "operations" / "my-question.sql"
    header = "/*\ntitle: Mine\nneeds: [{level: Metadata}]\nparams:\n  since: {type: timestamptz}\n  until: {type: timestamptz}\n*/\n"
    question.write_text(header + "SELECT 1 AS one FROM events WHERE received_at >= $since AND received_at < $until\n")
    monkeypatch.setenv("AUDITLAKE_QUERY_PATH", str(extra))
    first = {item.name: item.sql for item in catalog_items()}
    assert "my-question" in first and list((tmp_path / "cache" / "auditlake" / "library").glob("*.pickle"))
    assert {item.name: item.sql for item in catalog_items()} == first  # served from the cache

    question.write_text(header + "SELECT 2 AS two FROM events WHERE received_at >= $since AND received_at < $until\n")  # another library
    assert "two" in {item.name: item.sql for item in catalog_items()}["my-question"]
    monkeypatch.setenv("AUDITLAKE_ADMIN_GROUPS", "platform-admins")  # a setting a default reads is another library
    assert any("platform-admins" in item.sql for item in catalog_items())
    for cached in (tmp_path / "cache" / "auditlake" / "library").glob("*.pickle"):
        cached.write_bytes(b"not a pickle")  # a damaged cache is only slower
    assert any("platform-admins" in item.sql for item in catalog_items())


def catalog_contents(path: Path) -> dict[str, object]:
    """What a catalog file holds, by name: views with their SQL and comments, macros with their definitions, tables and rows."""
    with duckdb.connect(str(path), read_only=True) as connection:
        views = connection.execute("SELECT view_name, sql, comment FROM duckdb_views() WHERE NOT internal ORDER BY 1").fetchall()
        macros = connection.execute("SELECT function_name, function_type, macro_definition, parameters, comment FROM duckdb_functions() "
                                    "WHERE NOT internal AND function_type LIKE '%macro' ORDER BY 1").fetchall()
        columns = connection.execute("SELECT table_name, column_name, data_type, comment FROM duckdb_columns() "
                                     "WHERE NOT internal ORDER BY table_name, column_index").fetchall()
        tables = {name: connection.execute(f"SELECT * FROM {name} ORDER BY ALL").fetchall()
                  for (name,) in connection.execute("SELECT table_name FROM duckdb_tables() WHERE NOT internal").fetchall()}
        answers = connection.execute("SELECT count(*), count(DISTINCT actor) FROM final_requests").fetchall()
    return {"views": views, "macros": macros, "columns": columns, "tables": tables, "answers": answers}


def test_a_catalog_copied_from_the_library_template_holds_exactly_what_one_built_whole_holds(tmp_path, monkeypatch):
    """Installing the library (DuckDB binds each saved query) is most of a catalog's cost: it is done once per library, in
    the user cache, and every catalog starts as a copy; without a writable cache each catalog installs it itself."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    lake = Lake(tmp_path / "lake")
    lake.ingest([DATA / "audit2rbac_impersonation_v1beta1.log"], cluster="a")
    [template] = list((tmp_path / "cache" / "auditlake" / "catalog-templates").glob("*.duckdb"))
    built_once = template.stat().st_mtime_ns
    lake.ingest([DATA / "immudb_first_300_lines.log"], cluster="b")  # a second state of the lake, the same library
    assert list(template.parent.glob("*.duckdb")) == [template] and template.stat().st_mtime_ns >= built_once
    from_template = catalog_contents(lake.path / "catalog.duckdb")

    (tmp_path / "no-cache").write_text("a file, so nothing can be cached under it")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "no-cache"))
    lake.rebuild_catalog()
    whole = catalog_contents(lake.path / "catalog.duckdb")
    assert from_template == whole
    assert whole["answers"] == [(146, 9)]  # the two logs' final requests and who made them, not the template's empty view
    assert len(whole["macros"]) > 100 and {"events", "final_requests"} <= {name for name, _, _ in whole["views"]}


def test_a_damaged_library_template_is_only_slower(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    lake = Lake(tmp_path / "lake")
    lake.ingest([DATA / "audit2rbac_impersonation_v1beta1.log"], cluster="a")
    [template] = list((tmp_path / "cache" / "auditlake" / "catalog-templates").glob("*.duckdb"))
    template.write_bytes(b"not a DuckDB file" * 100)
    lake.ingest([DATA / "immudb_first_300_lines.log"], cluster="b")
    assert lake.sql("SELECT count(*) AS n FROM final_requests").item() == 146
    assert not template.exists() or template.read_bytes()[:17] != b"not a DuckDB file"
