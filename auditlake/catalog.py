"""The catalog: `LAKE/catalog.duckdb`, the file the DuckDB shell and every query open.

Owns: building a catalog from the manifest (an `events` view over exactly the committed
Parquet files, with hive partitions so `cluster = …` and `date >= …` prune files; a
`quarantine` view; a `findings` view over what `detect --write` kept; a `reviews` view over the review
evidence `auditlake review` committed; `ingest_sources` and
`ingest_batches` tables copied from the manifest; the shared views and query macros of `queries/`; column
comments from the contract) and opening connections to it. A catalog file is written under a temporary
name of its process's own and renamed, so a reader never sees half a catalog, and in storage format `v1.0.0`
so that any DuckDB shell from 1.0 on opens it, including the `duckdb-cli` on PyPI, which can lag the
Python package. Paths inside are absolute: the catalog works from any working directory.

Writers (ingest, compact, `detect --write`, `auditlake catalog`) rebuild `LAKE/catalog.duckdb` under the
write lock. Readers never take that lock and never write into the lake: they open `LAKE/catalog.duckdb`
when it was built from the current manifest and query library, else a catalog of their own in the user
cache (a different AUDITLAKE_QUERY_PATH, a moved lake, a writer that could not rebuild it), else, when
nothing can be written (read-only home, disk full), the same views in memory.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import duckdb

from auditlake import config
from auditlake.errors import QueryError, StorageError
from auditlake.ingest import schema
from auditlake.library.macros import macro_sql
from auditlake.library.savedquery import SavedQuery, load_library, saved_queries
from auditlake.storage import LakeStore, Manifest, ReaderFiles, as_storage_error, temporary_sibling

STORAGE_VERSION = "v1.0.0"
CATALOG_ALIAS = "catalog"
CACHE_KEEP = 4  # catalogs kept per lake in the user cache (one per query library in use, and the lake's last states)
CACHE_DEBRIS_SECONDS = 3600  # a temporary catalog this old in the cache belongs to a process that died
_HIVE_TYPES = "{'cluster': 'VARCHAR', 'date': 'DATE'}"
_QUARANTINE_COLUMNS = (
    "{'id': 'VARCHAR', 'batch': 'VARCHAR', 'cluster': 'VARCHAR', 'source_file': 'VARCHAR', 'source_fingerprint': 'VARCHAR', "
    "'source_line': 'BIGINT', 'source_item': 'INTEGER', 'reason': 'VARCHAR', 'raw': 'VARCHAR', 'raw_base64': 'VARCHAR', "
    "'quarantined_at': 'TIMESTAMPTZ'}"
)


def sql_string(value: str) -> str:
    """A SQL string literal (for the few places DuckDB does not take a bound parameter: DDL)."""
    return "'" + value.replace("'", "''") + "'"


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_list(values: list[str]) -> str:
    return "[" + ", ".join(sql_string(value) for value in values) + "]"


def events_view_sql(files: list[str]) -> str:
    """`events` over the given files (all columns of the contract, in its order)."""
    names = ", ".join(quote_identifier(column.name) for column in schema.COLUMNS)
    if not files:
        empty = ", ".join(f"CAST(NULL AS {schema.duckdb_type(c)}) AS {quote_identifier(c.name)}" for c in schema.COLUMNS)
        return f"SELECT {empty} WHERE false"
    return (f"SELECT {names} FROM read_parquet({_sql_list(files)}, hive_partitioning = true, "
            f"hive_types = {_HIVE_TYPES}, union_by_name = true)")


def quarantine_view_sql(files: list[str], superseded: list[str]) -> str:
    columns = "id, batch, cluster, source_file, source_fingerprint, source_line, source_item, reason, raw, raw_base64, quarantined_at"
    if not files:
        return ("SELECT NULL::VARCHAR AS id, NULL::VARCHAR AS batch, NULL::VARCHAR AS cluster, NULL::VARCHAR AS source_file, "
                "NULL::VARCHAR AS source_fingerprint, NULL::BIGINT AS source_line, NULL::INTEGER AS source_item, "
                "NULL::VARCHAR AS reason, NULL::VARCHAR AS raw, NULL::VARCHAR AS raw_base64, "
                "NULL::TIMESTAMPTZ AS quarantined_at WHERE false")
    exclude = f"WHERE id NOT IN (SELECT unnest({_sql_list(superseded)}::VARCHAR[]))" if superseded else ""
    return (f"SELECT {columns} FROM read_json({_sql_list(files)}, format = 'newline_delimited', columns = {_QUARANTINE_COLUMNS}) "
            f"{exclude} QUALIFY row_number() OVER (PARTITION BY id ORDER BY batch DESC) = 1")


FINDINGS_COLUMNS = ("received_at TIMESTAMPTZ, cluster VARCHAR, date DATE, rule VARCHAR, severity VARCHAR, actor VARCHAR, source_ip VARCHAR, "
                    "verb VARCHAR, object VARCHAR, summary VARCHAR, audit_id VARCHAR, found_at TIMESTAMPTZ")


def findings_view_sql(files: list[str]) -> str:
    """`findings` over the written-back detections (`auditlake detect --write`), partitioned like events."""
    if not files:
        empty = ", ".join(f"CAST(NULL AS {column.split()[1]}) AS {column.split()[0]}" for column in FINDINGS_COLUMNS.split(", "))
        return f"SELECT {empty} WHERE false"
    names = ", ".join(column.split()[0] for column in FINDINGS_COLUMNS.split(", "))
    return f"SELECT {names} FROM read_parquet({_sql_list(files)}, hive_partitioning = true, hive_types = {_HIVE_TYPES})"


REVIEWS_COLUMNS = (("id", "VARCHAR"), ("reviewed_at", "TIMESTAMPTZ"), ("reviewer", "VARCHAR"), ("note", "VARCHAR"),
                   ("accepted", "BOOLEAN"), ("kind", "VARCHAR"), ("target", "VARCHAR"), ("pack", "VARCHAR"), ("control", "VARCHAR"),
                   ("query", "VARCHAR"), ("audit_id", "VARCHAR"), ("since", "TIMESTAMPTZ"), ("until", "TIMESTAMPTZ"), ("cluster", "VARCHAR"),
                   ("rows", "BIGINT"), ("digest", "VARCHAR"), ("evidence", "JSON"), ("auditlake_version", "VARCHAR"))


def reviews_view_sql(files: list[str]) -> str:
    """`reviews` over the committed review files (`auditlake review`), one row per review, oldest first."""
    if not files:
        return "SELECT " + ", ".join(f"CAST(NULL AS {kind}) AS {name}" for name, kind in REVIEWS_COLUMNS) + " WHERE false"
    names = ", ".join(name for name, _ in REVIEWS_COLUMNS)
    columns = "{" + ", ".join(f"{sql_string(name)}: {sql_string(kind)}" for name, kind in REVIEWS_COLUMNS) + "}"
    return f"SELECT {names} FROM read_json({_sql_list(files)}, format = 'newline_delimited', columns = {columns}) ORDER BY reviewed_at, id"


def manifest_digest(store: LakeStore, manifest: Manifest, library: dict[str, SavedQuery] | None = None) -> str:
    """What the catalog was built from: the lake's place, its live files and the query library (a change means rebuild)."""
    library = library if library is not None else load_library()
    findings: list[tuple[str, int | str]]
    if manifest.findings is None:  # a lake from before findings were recorded
        findings = [(path, Path(path).stat().st_mtime_ns) for path in store.findings_files(manifest)]
    else:
        findings = sorted((path, record.sha256) for path, record in manifest.findings.items())
    text = json.dumps([str(store.root), sorted(manifest.files), [b.id for b in manifest.batches], manifest.superseded_quarantine, findings,
                       sorted((q.name, str(q.path), q.sql) for q in library.values())]
                      + ([sorted((path, record.sha256) for path, record in manifest.reviews.items())] if manifest.reviews else []))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _catalog_key(digest: str, files: ReaderFiles) -> str:
    """The digest, marked when views read committed files from staging (they move: such a catalog must not be reused later)."""
    if not files.staged:
        return digest
    return digest + "-" + hashlib.sha256("\n".join(files.staged).encode()).hexdigest()[:8]


def build_catalog(store: LakeStore, manifest: Manifest | None = None) -> Path:
    """Write `LAKE/catalog.duckdb` afresh from the manifest and the query library (atomically; writers only, under the write lock).

    Raises:
        StorageError: the disk is full or the lake is not writable (the committed data is untouched).
    """
    manifest = manifest or store.load_manifest()
    library = load_library()
    files = store.reader_files(manifest)
    try:
        _write_catalog(store.catalog_path, store, manifest, library, files, _catalog_key(manifest_digest(store, manifest, library), files))
    except (OSError, duckdb.Error) as error:
        converted = as_storage_error(error, store.catalog_path)
        if converted is None:
            raise
        raise StorageError(converted.message, path=store.catalog_path,
                           hint="free space (or fix the mode), then run `auditlake catalog`: the committed data is kept, "
                                "and until then every command reads through a catalog of its own") from None
    return store.catalog_path


def _write_catalog(target: Path, store: LakeStore, manifest: Manifest, library: dict[str, SavedQuery],
                   files: ReaderFiles, key: str) -> None:
    """Build a catalog file under a temporary name of this process's own, then rename it to `target`."""
    temporary = temporary_sibling(target)
    try:
        connection = duckdb.connect()
        try:
            connection.execute(f"ATTACH {sql_string(str(temporary))} AS {CATALOG_ALIAS} (STORAGE_VERSION '{STORAGE_VERSION}')")
            connection.execute(f"USE {CATALOG_ALIAS}")
            _install_catalog(connection, store, manifest, library, files, key)
            connection.execute("USE memory")
            connection.execute("DETACH " + CATALOG_ALIAS)
        finally:
            connection.close()
        os.replace(temporary, target)
    except BaseException:
        for leftover in (temporary, temporary.with_name(temporary.name + ".wal")):
            leftover.unlink(missing_ok=True)
        raise


def _install_catalog(connection: duckdb.DuckDBPyConnection, store: LakeStore, manifest: Manifest,
                     library: dict[str, SavedQuery], files: ReaderFiles, key: str) -> None:
    """Every view, table and macro of a catalog, in the connection's current database."""
    connection.execute(f"CREATE VIEW events AS {events_view_sql(files.events)}")
    for column in schema.COLUMNS:
        comment = f"{column.description} (from {column.source})"
        connection.execute(f"COMMENT ON COLUMN events.{quote_identifier(column.name)} IS {sql_string(comment)}")
    connection.execute("COMMENT ON VIEW events IS 'One row per Kubernetes audit Event; see the README column reference.'")
    connection.execute(f"CREATE VIEW quarantine AS {quarantine_view_sql(files.quarantine, manifest.superseded_quarantine)}")
    connection.execute(f"CREATE VIEW findings AS {findings_view_sql(files.findings)}")
    connection.execute("COMMENT ON VIEW findings IS 'Detections written back by auditlake detect --write, one row per (rule, audit_id).'")
    connection.execute(f"CREATE VIEW reviews AS {reviews_view_sql(files.reviews)}")
    connection.execute("COMMENT ON VIEW reviews IS 'Review evidence recorded by auditlake review: who reviewed which section or finding, when, why.'")
    _copy_manifest_tables(connection, manifest)
    install_library(connection, library)
    connection.execute("CREATE TABLE _auditlake (key VARCHAR, value VARCHAR)")
    connection.executemany("INSERT INTO _auditlake VALUES (?, ?)", [
        ("lake", str(store.root)), ("digest", key), ("schema_version", str(schema.SCHEMA_VERSION)),
    ])


def install_library(connection: duckdb.DuckDBPyConnection, library: dict[str, SavedQuery]) -> None:
    """The shared macros and views (each after the macros and views it uses: a table macro may read a view,
    which DuckDB binds at creation), then every saved query as a table macro."""
    _in_dependency_order(connection, [item for item in library.values() if item.kind in ("macro", "view")], lambda item: [
        f"CREATE OR REPLACE VIEW {quote_identifier(item.macro_name)} AS {item.sql}",
        f"COMMENT ON VIEW {quote_identifier(item.macro_name)} IS {sql_string(item.title)}"] if item.kind == "view" else [item.sql])
    connection.execute("BEGIN")  # one commit for all of them: in a catalog file, each statement alone would commit (7 ms each)
    for item in saved_queries(library):
        _execute_for(connection, item, macro_sql(item))
    connection.execute("COMMIT")


def _in_dependency_order(connection: duckdb.DuckDBPyConnection, pending: list[SavedQuery],
                         statements: Callable[[SavedQuery], list[str]]) -> None:
    """Create each item once what it uses exists: retry the failures while each round makes progress."""
    while pending:
        failures: list[tuple[SavedQuery, str]] = []
        for item in pending:
            try:
                for statement in statements(item):
                    connection.execute(statement)
            except duckdb.Error as error:
                failures.append((item, str(error).splitlines()[0]))
        if len(failures) == len(pending):  # no progress: a real error, not an order problem
            item, message = failures[0]
            raise QueryError(f"{item.kind} {item.name} does not install: {message}", path=item.path)
        pending = [item for item, _ in failures]


def _execute_for(connection: duckdb.DuckDBPyConnection, item: SavedQuery, statement: str) -> None:
    try:
        connection.execute(statement)
    except duckdb.Error as error:
        raise QueryError(f"{item.kind} {item.name} does not install: {str(error).splitlines()[0]}", path=item.path) from None


def _copy_manifest_tables(connection: duckdb.DuckDBPyConnection, manifest: Manifest) -> None:
    connection.execute("""CREATE TABLE ingest_sources (cluster VARCHAR, fingerprint VARCHAR, names VARCHAR[], size BIGINT,
        lines BIGINT, events BIGINT, quarantined BIGINT, first_event_at TIMESTAMPTZ, last_event_at TIMESTAMPTZ,
        reached_end BOOLEAN, sha256 VARCHAR, updated_at TIMESTAMPTZ)""")
    if manifest.sources:
        connection.executemany("INSERT INTO ingest_sources VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [
            (s.cluster, s.fingerprint, s.names, s.size, s.lines, s.events, s.quarantined, s.first_event_at, s.last_event_at,
             s.reached_end, s.sha256, s.updated_at or None) for s in manifest.sources.values()
        ])
    connection.execute("""CREATE TABLE ingest_batches (id VARCHAR, kind VARCHAR, started_at TIMESTAMPTZ, committed_at TIMESTAMPTZ,
        auditlake_version VARCHAR, schema_version INTEGER, rows BIGINT, duplicates BIGINT, quarantined BIGINT, redacted BOOLEAN,
        files VARCHAR[])""")
    if manifest.batches:
        connection.executemany("INSERT INTO ingest_batches VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [
            (b.id, b.kind, b.started_at, b.committed_at, b.auditlake_version, b.schema_version, b.rows, b.duplicates,
             b.quarantined, b.redacted, b.files) for b in manifest.batches
        ])


def cache_path(store: LakeStore, key: str) -> Path:
    """Where this user's catalog for this lake (by its path) and this state (by its digest) is kept."""
    lake = hashlib.sha256(str(store.root).encode()).hexdigest()[:16]
    return config.cache_dir() / "catalogs" / lake / f"{key}.duckdb"


def connect(store: LakeStore) -> duckdb.DuckDBPyConnection:
    """A connection with the lake's views and macros; it never takes the write lock and never writes into the lake.

    The lake's `catalog.duckdb` when it is current; else this user's cached catalog for this state of the
    lake and this query library, built on first use; else (nothing can be written: a read-only home, a
    full disk) the same views built in memory.
    """
    manifest = store.load_manifest()
    library = load_library()
    digest = manifest_digest(store, manifest, library)
    connection = _open_if_built_from(store.catalog_path, digest)
    if connection is not None:
        return connection
    files = store.reader_files(manifest)
    key = _catalog_key(digest, files)
    cached = cache_path(store, key)
    connection = _open_if_built_from(cached, key)
    if connection is not None:
        with contextlib.suppress(OSError):
            os.utime(cached)  # recently used: kept when the cache is pruned
        return connection
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        _write_catalog(cached, store, manifest, library, files, key)
    except (OSError, duckdb.Error):  # the cache is a convenience: whatever stops it, answer from memory
        return _in_memory(store, manifest, library, files, key)
    _prune_cache(cached)
    connection = _open_if_built_from(cached, key)
    return connection if connection is not None else _in_memory(store, manifest, library, files, key)


def _open_if_built_from(path: Path, key: str) -> duckdb.DuckDBPyConnection | None:
    """A read-only connection to the catalog file at `path` if it was built from `key`, else None."""
    if not path.is_file():
        return None
    try:
        connection = duckdb.connect(str(path), read_only=True)
    except duckdb.Error:
        return None
    try:
        rows = connection.execute("SELECT value FROM _auditlake WHERE key = 'digest'").fetchall()
    except duckdb.Error:
        rows = []
    if rows != [(key,)]:
        connection.close()
        return None
    connection.execute("SET TimeZone = 'UTC'")
    return connection


def _in_memory(store: LakeStore, manifest: Manifest, library: dict[str, SavedQuery], files: ReaderFiles,
               key: str) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    try:
        _install_catalog(connection, store, manifest, library, files, key)
    except BaseException:
        connection.close()
        raise
    connection.execute("SET TimeZone = 'UTC'")
    return connection


def _prune_cache(kept: Path) -> None:
    """Keep the most recently used catalogs of this lake, and drop temporaries left by processes that died."""
    with contextlib.suppress(OSError):
        catalogs = sorted(kept.parent.glob("*.duckdb"), key=lambda path: path.stat().st_mtime, reverse=True)
        for path in [path for path in catalogs if path != kept][CACHE_KEEP - 1:]:
            path.unlink(missing_ok=True)
        for path in kept.parent.glob(".*.tmp*"):
            if time.time() - path.stat().st_mtime > CACHE_DEBRIS_SECONDS:
                path.unlink(missing_ok=True)
