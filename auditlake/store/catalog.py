"""The catalog: `LAKE/catalog.duckdb`, the file the DuckDB shell and every query open.

Owns: building a catalog from the manifest (an `events` view over exactly the committed
Parquet files, with hive partitions so `cluster = …` and `date >= …` prune files; a
`quarantine` view; a `findings` view over what `detect --write` kept; a `reviews` view over the review
evidence `auditlake review` committed; `ingest_sources` and
`ingest_batches` tables copied from the manifest; the shared views and query macros of `queries/`; column
comments from the contract) and opening connections to it. The library's part, the same for every lake, is
installed once per query library into a template in the user cache, which each catalog file starts as a copy of.
The saved queries arrive as plain data (`LibraryItem`s the caller builds from the library): the catalog never reads or parses a query file. Views and
macros are installed in dependency order, computed from the names each one's SQL uses. A catalog file is written under a temporary
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
import graphlib
import hashlib
import json
import os
import re
import shutil
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import duckdb

from auditlake import config, contract, duck
from auditlake.contract import quote_identifier, sql_string
from auditlake.errors import QueryError, StorageError
from auditlake.store.files import as_storage_error, temporary_sibling
from auditlake.store.manifest import LakeStore, Manifest, ReaderFiles

STORAGE_VERSION = "v1.0.0"
CATALOG_ALIAS = "catalog"
CACHE_KEEP = 4  # catalogs kept per lake in the user cache (one per query library in use, and the lake's last states)
CACHE_DEBRIS_SECONDS = 3600  # a temporary catalog this old in the cache belongs to a process that died
_HIVE_TYPES = "{'cluster': 'VARCHAR', 'date': 'DATE'}"


class LibraryItem(Protocol):
    """One file of the query library as the catalog installs it (`library.macros.CatalogItem`: store/ never imports
    the library). `kind` says what `sql` is: `macro`, a `CREATE MACRO` statement; `view`, the SELECT of a shared
    view named `identifier`; `query`, the `CREATE MACRO … AS TABLE` statement of a saved query."""

    @property
    def name(self) -> str: ...  # the library's name for it (errors name it)
    @property
    def identifier(self) -> str: ...  # the name it has in the catalog
    @property
    def kind(self) -> str: ...
    @property
    def sql(self) -> str: ...
    @property
    def path(self) -> Path: ...
    @property
    def title(self) -> str: ...


def _sql_list(values: list[str]) -> str:
    return "[" + ", ".join(sql_string(value) for value in values) + "]"


def events_view_sql(files: list[str]) -> str:
    """`events` over the given files (all columns of the contract, in its order)."""
    names = ", ".join(quote_identifier(column.name) for column in contract.COLUMNS)
    if not files:
        empty = ", ".join(f"CAST(NULL AS {contract.duckdb_type(c)}) AS {quote_identifier(c.name)}" for c in contract.COLUMNS)
        return f"SELECT {empty} WHERE false"
    return (f"SELECT {names} FROM read_parquet({_sql_list(files)}, hive_partitioning = true, "
            f"hive_types = {_HIVE_TYPES}, union_by_name = true)")


def quarantine_view_sql(files: list[str], superseded: list[str]) -> str:
    """`quarantine` over the quarantine files: the latest record of each line, without those a later run read whole."""
    table = contract.QUARANTINE
    if not files:
        return table.empty_select()
    exclude = f"WHERE id NOT IN (SELECT unnest({_sql_list(superseded)}::VARCHAR[]))" if superseded else ""
    return (f"SELECT {table.select_list()} FROM read_json({_sql_list(files)}, format = 'newline_delimited', columns = {table.json_columns()}) "
            f"{exclude} QUALIFY row_number() OVER (PARTITION BY id ORDER BY batch DESC) = 1")


def findings_view_sql(files: list[str]) -> str:
    """`findings` over the written-back detections (`auditlake detect --write`), partitioned like events."""
    if not files:
        return contract.FINDINGS.empty_select()
    return f"SELECT {contract.FINDINGS.select_list()} FROM read_parquet({_sql_list(files)}, hive_partitioning = true, hive_types = {_HIVE_TYPES})"


def reviews_view_sql(files: list[str]) -> str:
    """`reviews` over the committed review files (`auditlake review`), one row per review, oldest first."""
    table = contract.REVIEWS
    if not files:
        return table.empty_select()
    return (f"SELECT {table.select_list()} FROM read_json({_sql_list(files)}, format = 'newline_delimited', "
            f"columns = {table.json_columns()}) ORDER BY reviewed_at, id")


def manifest_digest(store: LakeStore, manifest: Manifest, library: Sequence[LibraryItem]) -> str:
    """What the catalog was built from: the lake's place, its live files and the query library (a change means rebuild)."""
    findings: list[tuple[str, int | str]]
    if manifest.findings is None:  # a lake from before findings were recorded
        findings = [(path, Path(path).stat().st_mtime_ns) for path in store.findings_files(manifest)]
    else:
        findings = sorted((path, record.sha256) for path, record in manifest.findings.items())
    text = json.dumps([store.address, sorted(manifest.files) + store.archive_events(manifest), [b.id for b in manifest.batches],
                       manifest.superseded_quarantine, findings,
                       sorted((item.name, str(item.path), item.sql) for item in library)]
                      + ([sorted((path, record.sha256) for path, record in manifest.reviews.items())] if manifest.reviews else []))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _catalog_key(digest: str, files: ReaderFiles) -> str:
    """The digest, marked when views read committed files from staging (they move: such a catalog must not be reused later)."""
    if not files.staged:
        return digest
    return digest + "-" + hashlib.sha256("\n".join(files.staged).encode()).hexdigest()[:8]


def build_catalog(store: LakeStore, library: Sequence[LibraryItem], manifest: Manifest | None = None) -> Path:
    """Write `LAKE/catalog.duckdb` afresh from the manifest and the query library (atomically; writers only, under the write lock).

    Raises:
        StorageError: the disk is full or the lake is not writable (the committed data is untouched).
    """
    manifest = manifest or store.load_manifest()
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


def _write_catalog(target: Path, store: LakeStore, manifest: Manifest, library: Sequence[LibraryItem],
                   files: ReaderFiles, key: str) -> None:
    """Build a catalog file under a temporary name of this process's own, then rename it to `target`.

    It starts as a copy of the query library's template (`_library_template`) when one can be kept: installing the
    library is most of a catalog's cost (DuckDB binds every saved query as it creates it), and it is the same for every
    state of every lake. The lake's own part (its views, the manifest's tables) is then filled in, in one transaction.
    """
    temporary = temporary_sibling(target)
    try:
        template = _library_template(library)
        try:
            _fill_catalog(temporary, template, store, manifest, library, files, key)
        except duckdb.Error:
            if template is None:
                raise
            template.unlink(missing_ok=True)  # a damaged template (it is only a cache): this catalog is built whole
            _remove_database(temporary)
            _fill_catalog(temporary, None, store, manifest, library, files, key)
        os.replace(temporary, target)
    except BaseException:
        _remove_database(temporary)
        raise


def _fill_catalog(path: Path, template: Path | None, store: LakeStore, manifest: Manifest, library: Sequence[LibraryItem],
                  files: ReaderFiles, key: str) -> None:
    """Write a whole catalog at `path`: a copy of `template` with the lake's part filled in, or (None) everything."""
    if template is not None:
        shutil.copyfile(template, path)
    with _catalog_file(path, store.filesystems()) as connection:
        if template is None:
            _install_catalog(connection, store, manifest, library, files, key)
        else:
            connection.execute("BEGIN")  # one commit: in a catalog file, each statement alone would commit
            _lake_views(connection, files, manifest.superseded_quarantine)
            _lake_tables(connection, store, manifest, key)
            connection.execute("COMMIT")


def _library_template(library: Sequence[LibraryItem]) -> Path | None:
    """A catalog file holding only `library` (over empty lake views), in the user cache: built on first use, then copied.

    Keyed by everything it holds (the library's SQL, the column contract, DuckDB's version and storage format), so a
    change of any makes a new one; None when the cache cannot be written (each catalog then installs the library itself).
    """
    stamp = json.dumps([STORAGE_VERSION, duckdb.__version__, contract.SCHEMA_VERSION, events_view_sql([]),
                        [(item.kind, item.name, item.identifier, item.title, item.sql) for item in library]])
    template = config.cache_dir() / "catalog-templates" / f"{hashlib.sha256(stamp.encode()).hexdigest()[:16]}.duckdb"
    if template.is_file():
        with contextlib.suppress(OSError):
            os.utime(template)  # recently used: kept when templates are pruned
        return template
    try:
        template.parent.mkdir(parents=True, exist_ok=True)
        temporary = temporary_sibling(template)
        try:
            with _catalog_file(temporary) as connection:
                _lake_views(connection, ReaderFiles(events=[], quarantine=[], findings=[], staged=[]), superseded=[])
                install_library(connection, library)
            os.replace(temporary, template)
        finally:
            _remove_database(temporary)
    except (OSError, duckdb.Error):
        return None  # a QueryError (a library that does not install) goes to the caller, as without a template
    _prune_cache(template)
    return template


@contextlib.contextmanager
def _catalog_file(path: Path, filesystems: Sequence[Any] = ()) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection whose current database is the catalog file at `path` (created when missing), detached at the end."""
    connection = duck.connect(filesystems=filesystems)
    try:
        connection.execute(f"ATTACH {sql_string(str(path))} AS {CATALOG_ALIAS} (STORAGE_VERSION '{STORAGE_VERSION}')")
        connection.execute(f"USE {CATALOG_ALIAS}")
        yield connection
        connection.execute("USE memory")
        connection.execute("DETACH " + CATALOG_ALIAS)
    finally:
        connection.close()


def _remove_database(path: Path) -> None:
    """A database file that is not to be kept, and its write-ahead log."""
    for leftover in (path, path.with_name(path.name + ".wal")):
        leftover.unlink(missing_ok=True)


def _install_catalog(connection: duckdb.DuckDBPyConnection, store: LakeStore, manifest: Manifest,
                     library: Sequence[LibraryItem], files: ReaderFiles, key: str) -> None:
    """Every view, table and macro of a catalog, in the connection's current database."""
    _lake_views(connection, files, manifest.superseded_quarantine)
    install_library(connection, library)
    _lake_tables(connection, store, manifest, key)


def _lake_views(connection: duckdb.DuckDBPyConnection, files: ReaderFiles, superseded: list[str]) -> None:
    """The views over the lake's files (created, or replacing those of a template), `events` with its column comments."""
    connection.execute(f"CREATE OR REPLACE VIEW events AS {events_view_sql(files.events)}")
    for column in contract.COLUMNS:
        comment = f"{column.description} (from {column.source})"
        connection.execute(f"COMMENT ON COLUMN events.{quote_identifier(column.name)} IS {sql_string(comment)}")
    connection.execute("COMMENT ON VIEW events IS 'One row per Kubernetes audit Event; see the README column reference.'")
    connection.execute(f"CREATE OR REPLACE VIEW quarantine AS {quarantine_view_sql(files.quarantine, superseded)}")
    connection.execute(f"CREATE OR REPLACE VIEW findings AS {findings_view_sql(files.findings)}")
    connection.execute("COMMENT ON VIEW findings IS 'Detections written back by auditlake detect --write, one row per (rule, audit_id).'")
    connection.execute(f"CREATE OR REPLACE VIEW reviews AS {reviews_view_sql(files.reviews)}")
    connection.execute("COMMENT ON VIEW reviews IS 'Review evidence recorded by auditlake review: who reviewed which section or finding, when, why.'")


def _lake_tables(connection: duckdb.DuckDBPyConnection, store: LakeStore, manifest: Manifest, key: str) -> None:
    """The manifest's tables, and what the catalog was built from (`_auditlake`)."""
    _copy_manifest_tables(connection, manifest)
    connection.execute("CREATE TABLE _auditlake (key VARCHAR, value VARCHAR)")
    connection.executemany("INSERT INTO _auditlake VALUES (?, ?)", [
        ("lake", store.address), ("digest", key), ("schema_version", str(contract.SCHEMA_VERSION)),
    ])


def install_library(connection: duckdb.DuckDBPyConnection, library: Sequence[LibraryItem]) -> None:
    """Macros and shared views in dependency order (each after the macros and views it uses), then every saved query as a table macro."""
    for item in installation_order([item for item in library if item.kind in ("macro", "view")]):
        if item.kind == "macro":
            _execute_for(connection, item, item.sql)
        else:
            _execute_for(connection, item, f"CREATE OR REPLACE VIEW {quote_identifier(item.identifier)} AS {item.sql}")
            _execute_for(connection, item, f"COMMENT ON VIEW {quote_identifier(item.identifier)} IS {sql_string(item.title)}")
    connection.execute("BEGIN")  # one commit for all of them: in a catalog file, each statement alone would commit (7 ms each)
    for item in library:
        if item.kind == "query":
            _execute_for(connection, item, item.sql)
    connection.execute("COMMIT")


_COMMENTS = re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL)
_WORDS = re.compile(r"[a-z_][a-z0-9_]*")


def installation_order(items: Sequence[LibraryItem]) -> list[LibraryItem]:
    """`items` ordered so that each comes after the macros and views its SQL names (a topological order; ties keep their order).

    Raises:
        QueryError: two or more of them use each other (a cycle), naming them.
    """
    by_name = {item.identifier.lower(): item for item in items}
    uses = {name: sorted((set(_WORDS.findall(_COMMENTS.sub(" ", item.sql).lower())) & by_name.keys()) - {name})
            for name, item in by_name.items()}
    try:
        return [by_name[name] for name in graphlib.TopologicalSorter(uses).static_order()]
    except graphlib.CycleError as error:
        cycle = [by_name[name] for name in error.args[1]]
        raise QueryError(f"{cycle[0].kind} {cycle[0].name} does not install: it uses itself through "
                         + " → ".join(item.name for item in cycle), path=cycle[0].path) from None


def _execute_for(connection: duckdb.DuckDBPyConnection, item: LibraryItem, statement: str) -> None:
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
    lake = hashlib.sha256(store.address.encode()).hexdigest()[:16]
    return config.cache_dir() / "catalogs" / lake / f"{key}.duckdb"


def connect(store: LakeStore, library: Sequence[LibraryItem]) -> duckdb.DuckDBPyConnection:
    """A connection with the lake's views and macros; it never takes the write lock and never writes into the lake.

    The lake's `catalog.duckdb` when it is current; else this user's cached catalog for this state of the
    lake and this query library, built on first use; else (nothing can be written: a read-only home, a
    full disk) the same views built in memory.
    """
    manifest = store.load_manifest()
    digest = manifest_digest(store, manifest, library)
    connection = _open_if_built_from(store.catalog_path, digest, store)
    if connection is not None:
        return connection
    files = store.reader_files(manifest)
    key = _catalog_key(digest, files)
    cached = cache_path(store, key)
    connection = _open_if_built_from(cached, key, store)
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
    connection = _open_if_built_from(cached, key, store)
    return connection if connection is not None else _in_memory(store, manifest, library, files, key)


def _open_if_built_from(path: Path, key: str, store: LakeStore) -> duckdb.DuckDBPyConnection | None:
    """A read-only connection to the catalog file at `path` if it was built from `key`, else None."""
    if not path.is_file():
        return None
    try:
        connection = duck.connect(path, read_only=True, filesystems=store.filesystems())
    except duckdb.Error:
        return None
    try:
        rows = connection.execute("SELECT value FROM _auditlake WHERE key = 'digest'").fetchall()
    except duckdb.Error:
        rows = []
    if rows != [(key,)]:
        connection.close()
        return None
    return connection


def _in_memory(store: LakeStore, manifest: Manifest, library: Sequence[LibraryItem], files: ReaderFiles,
               key: str) -> duckdb.DuckDBPyConnection:
    connection = duck.connect(filesystems=store.filesystems())
    try:
        _install_catalog(connection, store, manifest, library, files, key)
    except BaseException:
        connection.close()
        raise
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
