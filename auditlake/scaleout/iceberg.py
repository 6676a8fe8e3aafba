"""The lake as Iceberg tables: `events` and `findings` in a SQL catalog (an SQLite file, or PostgreSQL for a team).

Owns: each table's Iceberg schema (from the column contract: timestamps with zone, lists, maps, JSON as strings),
its partition spec (identity on `cluster` and `date`), and `publish`, which makes a table list exactly the files the
lake's manifest lists, in one snapshot: new files added, compacted or expired ones removed, nothing rewritten.

How the files and the schema agree. The lake's files keep their partition values in the hive path, not in the
file, and pyiceberg's `add_files` takes partition values from the files' column statistics, so it cannot register
them. The manifest knows each file's cluster and day exactly, so `publish` builds each data file's Iceberg entry
itself: partition values from the manifest, column metrics from the Parquet footer (none for the JSON bodies),
sizes from the file. Identity partitions are what Iceberg readers (Spark, Trino, Athena, pyiceberg) fill missing
columns from, the way Iceberg imports a Hive table. The files carry Parquet's own types only (`store/files.py`
writes no Arrow schema), so a JSON column is a Parquet string annotated JSON, which every engine reads as text.
Two kinds of files cannot be registered where they are, and are copied (converted) into the table's location
instead, named by their content hash: files from before that change, whose footer carries Arrow's JSON
extension type (pyiceberg refuses it), and a directory lake's findings files (rewritten in place on each
`detect --write`: an Iceberg data file must never change).

pyiceberg and SQLAlchemy are imported when a table is published, never at start-up.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from auditlake import contract
from auditlake.errors import CatalogError, MissingDependencyError
from auditlake.store.files import PARQUET_OPTIONS
from auditlake.store.manifest import FileRecord, LakeStore, Manifest

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyiceberg.manifest import DataFile
    from pyiceberg.table import Table

ICEBERG_DIR = "_iceberg"  # a directory lake's default warehouse: table metadata and converted copies
LAKE_PROPERTY = "auditlake.lake"  # table property: the lake a table was published from
SNAPSHOT_PROPERTY = "auditlake.manifest-write"  # snapshot summary: the lake write the snapshot matches
EPOCH = dt.date(1970, 1, 1)
DUCKDB_TYPES = {"VARCHAR": pa.string(), "JSON": pa.string(), "TIMESTAMPTZ": contract.TIMESTAMP, "DATE": pa.date32(),
                "BIGINT": pa.int64(), "INTEGER": pa.int32(), "BOOLEAN": pa.bool_()}
# Columns whose footers hold min/max Iceberg can use: not the JSON bodies (their Parquet statistics are bytes), not lists or maps.
STATISTICS_COLUMNS = frozenset(name for name in PARQUET_OPTIONS["write_statistics"] if name not in contract.JSON_COLUMN_NAMES) | {"received_at"}


@dataclass(frozen=True)
class PublishedTable:
    """What one publish did to one table."""

    name: str
    added: int  # data files registered
    removed: int  # data files no longer in the lake (compacted, expired)
    copied: int  # of the added, files converted into the table's location (see the module docstring)
    files: int  # data files the table lists now (= the lake's)
    rows: int  # rows the table holds now
    snapshot_id: int | None  # the table's current snapshot (None: nothing to publish yet)


@dataclass(frozen=True)
class Publication:
    """One `publish iceberg` run: the catalog (without credentials) and each table."""

    catalog: str
    tables: tuple[PublishedTable, ...]


def events_schema() -> pa.Schema:
    """`events` as Iceberg holds it: every column of the contract, in order, JSON bodies as strings."""
    return pa.schema([pa.field(column.name, pa.string() if column.type == contract.JSON else column.type) for column in contract.COLUMNS])


def findings_schema() -> pa.Schema:
    """`findings` as Iceberg holds it (the contract's column types as Arrow types)."""
    return pa.schema([pa.field(name, DUCKDB_TYPES[kind]) for name, kind in contract.FINDINGS.columns])


def publish(store: LakeStore, manifest: Manifest, *, catalog: str, table: str, findings_table: str | None = None,
            warehouse: str | None = None) -> Publication:
    """Make `table` (and `findings_table`, default `<namespace>.findings`) list exactly the manifest's files.

    `catalog` is an SQLAlchemy URL (`sqlite:///catalog.db`, `postgresql://user@host/db`); `warehouse` where new tables
    keep their metadata and copies (default: `_iceberg/` in a directory lake). A rerun adds only new files, removes
    the files the lake no longer lists, in one snapshot per table; a rerun with nothing new commits nothing.
    """
    namespace, _, events_name = _split(table)
    findings_table = findings_table or f"{namespace}.findings"
    warehouse = warehouse or _default_warehouse(store)
    the_catalog = open_catalog(catalog, warehouse)
    write = manifest.batches[-1].id if manifest.batches else ""
    published = [
        _sync(the_catalog, f"{namespace}.{events_name}", events_schema(), store, _events(manifest), write),
        _sync(the_catalog, findings_table, findings_schema(), store, sorted((manifest.findings or {}).values(), key=lambda r: r.path), write),
    ]
    return Publication(redacted_url(catalog), tuple(published))


def record(store: LakeStore, publication: Publication, *, catalog: str, warehouse: str | None) -> None:
    """Remember a publication in the lake (`_iceberg/publications.json`), so every later write keeps the tables in step.

    The catalog URL is kept without its password: a later publish takes it from PGPASSWORD or ~/.pgpass, as libpq does.
    """
    path = _publications_path(store)
    entry = {"catalog": _without_password(catalog), "table": publication.tables[0].name, "findings_table": publication.tables[1].name,
             "warehouse": warehouse}
    entries = [other for other in recorded(store) if other["table"] != entry["table"] or other["catalog"] != entry["catalog"]]
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps([*entries, entry], indent=2) + "\n")
    temporary.replace(path)


def recorded(store: LakeStore) -> list[dict[str, Any]]:
    """The publications this lake keeps in step (none for a lake in a bucket, which cannot be published yet)."""
    path = _publications_path(store)
    if store.in_bucket or not path.is_file():
        return []
    return list(json.loads(path.read_text()))


def follow(store: LakeStore, manifest: Manifest) -> list[Publication]:
    """Publish the lake again to every recorded table (after a write): the tables list what the manifest lists."""
    return [publish(store, manifest, catalog=entry["catalog"], table=entry["table"], findings_table=entry["findings_table"],
                    warehouse=entry["warehouse"]) for entry in recorded(store)]


def open_catalog(uri: str, warehouse: str) -> Catalog:
    """pyiceberg's SQL catalog on `uri` (SQLite or PostgreSQL); the error a user can act on when it cannot be opened."""
    try:
        from pyiceberg.catalog.sql import SqlCatalog
        from sqlalchemy.engine import make_url
    except ImportError as error:
        raise MissingDependencyError("publishing to Iceberg needs pyiceberg and SQLAlchemy",
                                     hint="pip install 'auditlake[iceberg]'") from error
    try:
        url = make_url(uri)
    except Exception as error:  # noqa: BLE001 (SQLAlchemy's ArgumentError: the user's text)
        raise CatalogError(f"--catalog {redacted_url(uri)!r} is not a database URL",
                         hint="sqlite:///catalog.db or postgresql://user@host/database") from error
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise CatalogError(f"--catalog: {url.get_backend_name()} is not supported", hint="sqlite:///catalog.db or postgresql://user@host/database")
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    if url.drivername == "postgresql":  # psycopg 3 (the extra), whatever SQLAlchemy's default driver is
        uri = url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    try:
        with _quiet_pyiceberg():
            return SqlCatalog("auditlake", uri=uri, warehouse=warehouse)
    except Exception as error:  # noqa: BLE001 (SQLAlchemy's OperationalError and its kin: the database cannot be reached)
        raise CatalogError(f"cannot open the Iceberg catalog {redacted_url(uri)}: {_first_line(error)}",
                         hint="check the URL, that the database is running and the credentials (PGPASSWORD, ~/.pgpass)") from error


def redacted_url(uri: str) -> str:
    """The catalog URL without its password: what may be printed, logged or stored."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(uri).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 (not a URL: print nothing of it that could be a secret)
        return "<catalog>"


def _publications_path(store: LakeStore) -> Path:
    return Path(store.root) / ICEBERG_DIR / "publications.json"


def _without_password(uri: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(uri)._replace(password=None).render_as_string(hide_password=False)  # URL.set() ignores None: it would keep it


def _sync(the_catalog: Catalog, name: str, schema: pa.Schema, store: LakeStore, records: list[FileRecord], write: str) -> PublishedTable:
    from pyiceberg.exceptions import NamespaceAlreadyExistsError, NoSuchTableError

    namespace = name.rsplit(".", 1)[0]
    with contextlib.suppress(NamespaceAlreadyExistsError):
        the_catalog.create_namespace(namespace)
    try:
        table = the_catalog.load_table(name)
    except NoSuchTableError:
        table = _create_table(the_catalog, name, schema, store)
    if table.properties.get(LAKE_PROPERTY) not in (None, store.address):
        raise CatalogError(f"Iceberg table {name} was published from {table.properties[LAKE_PROPERTY]}, not {store.address}",
                         hint="publish each lake to its own table (--table)")
    listed = _listed_files(table)
    wanted: dict[str, FileRecord] = {}
    for record in records:
        wanted[_data_file_path(store, table, record, listed)] = record
    new = [path for path in wanted if path not in listed]
    gone = [path for path in listed if path not in wanted]
    if new or gone:
        with _quiet_pyiceberg():
            data_files = [_data_file(table, path, wanted[path], _ensure_copy(store, table, path, wanted[path])) for path in new]
        with _quiet_pyiceberg(), table.transaction() as transaction:
            with transaction.update_snapshot(snapshot_properties={SNAPSHOT_PROPERTY: write}).overwrite() as snapshot:
                for path in gone:
                    snapshot.delete_data_file(listed[path])
                for data_file in data_files:
                    snapshot.append_data_file(data_file)
        table = the_catalog.load_table(name)
    current = table.current_snapshot()
    rows = sum(record.rows for record in wanted.values())
    copied = sum(1 for path in new if path != _uri(store.location(wanted[path].path)))
    return PublishedTable(name, len(new), len(gone), copied, len(wanted), rows, current.snapshot_id if current else None)


def _create_table(the_catalog: Catalog, name: str, schema: pa.Schema, store: LakeStore) -> Table:
    from pyiceberg.table import TableProperties

    without_metrics = {f"write.metadata.metrics.column.{field.name}": "none" for field in schema
                       if field.name not in STATISTICS_COLUMNS or pa.types.is_nested(field.type)}
    with _quiet_pyiceberg():
        table = the_catalog.create_table(name, schema=schema, properties={**without_metrics, LAKE_PROPERTY: store.address})
        with table.transaction() as transaction:
            with transaction.update_spec() as spec:
                spec.add_identity("cluster")
                spec.add_identity("date")
            # the lake's files carry no Iceberg field ids: columns are matched by name
            transaction.set_properties({TableProperties.DEFAULT_NAME_MAPPING: table.schema().name_mapping.model_dump_json()})
    return the_catalog.load_table(name)


def _listed_files(table: Table) -> dict[str, DataFile]:
    """The data files the table's current snapshot lists, by path."""
    if table.current_snapshot() is None:
        return {}
    with _quiet_pyiceberg():
        return {task.file.file_path: task.file for task in table.scan().plan_files()}


def _events(manifest: Manifest) -> list[FileRecord]:
    return [record for path, record in sorted(manifest.files.items()) if path.startswith("events/")]


def _data_file_path(store: LakeStore, table: Table, record: FileRecord, listed: dict[str, DataFile]) -> str:
    """Where the table reads `record` from: the lake's own file, or its converted copy (see the module docstring)."""
    in_place = _uri(store.location(record.path))
    copy = f"{table.location().rstrip('/')}/data/{record.path.removesuffix('.parquet')}-{record.sha256[:16]}.parquet"
    if in_place in listed:
        return in_place
    if copy in listed:
        return copy
    rewritten_in_place = record.path.startswith("findings/") and store.findings_name("a") == store.findings_name("b")
    return copy if rewritten_in_place or not _registrable(store, record) else in_place


def _registrable(store: LakeStore, record: FileRecord) -> bool:
    """Whether pyiceberg reads the file as it is: no Arrow extension type in the schema its footer gives Arrow."""
    with _open(store, store.location(record.path)) as handle:
        schema = pq.read_metadata(handle).schema.to_arrow_schema()
    return not any(isinstance(field.type, pa.BaseExtensionType) for field in schema)


def _ensure_copy(store: LakeStore, table: Table, path: str, record: FileRecord) -> str:
    """`path` itself, or the converted copy written there (JSON as plain strings, Parquet's own types)."""
    if path == _uri(store.location(record.path)):
        return path
    with _open(store, store.location(record.path)) as handle:
        rows = pq.read_table(handle)
    rows = rows.cast(pa.schema([pa.field(f.name, pa.string() if str(f.type).startswith("extension<arrow.json") else f.type) for f in rows.schema]))
    output = table.io.new_output(path)
    with output.create(overwrite=True) as stream:
        pq.write_table(rows, stream, **PARQUET_OPTIONS | {"use_dictionary": True, "write_statistics": True})
    return path


def _data_file(table: Table, path: str, record: FileRecord, readable: str) -> DataFile:
    """The Iceberg entry of one file: partition values from the manifest, metrics from its footer."""
    from pyiceberg.io.pyarrow import compute_statistics_plan, data_file_statistics_from_parquet_metadata, parquet_path_to_id_mapping
    from pyiceberg.manifest import DataFile, DataFileContent, FileFormat
    from pyiceberg.typedef import Record

    metadata = table.metadata
    source = table.io.new_input(readable)
    with source.open() as stream:
        footer = pq.read_metadata(stream)
    statistics = data_file_statistics_from_parquet_metadata(
        parquet_metadata=footer, stats_columns=compute_statistics_plan(metadata.schema(), metadata.properties),
        parquet_column_mapping=parquet_path_to_id_mapping(metadata.schema()))
    return DataFile.from_args(
        content=DataFileContent.DATA, file_path=path, file_format=FileFormat.PARQUET,
        partition=Record(record.cluster, (dt.date.fromisoformat(record.date) - EPOCH).days),
        file_size_in_bytes=len(source), sort_order_id=None, spec_id=metadata.default_spec_id, equality_ids=None,
        key_metadata=None, **statistics.to_serialized_dict())


@contextlib.contextmanager
def _open(store: LakeStore, location: str) -> Iterator[Any]:
    if store.in_bucket:
        filesystem = store.filesystems()[0]
        with filesystem.open(location, "rb") as handle:
            yield handle
    else:
        with open(location, "rb") as handle:
            yield handle


def _uri(location: str) -> str:
    """A file name as the URI Iceberg records (not percent-encoded: readers open the path as written, `cluster=…` included)."""
    return location if "://" in location else f"file://{Path(location).resolve()}"


def _default_warehouse(store: LakeStore) -> str:
    if store.in_bucket:
        raise CatalogError("publishing a lake in a bucket needs --warehouse (where the tables' metadata goes)",
                         hint="e.g. --warehouse s3://bucket/iceberg")
    return _uri(str(Path(store.root) / ICEBERG_DIR))


def _split(table: str) -> tuple[str, str, str]:
    namespace, dot, name = table.rpartition(".")
    if not dot or not namespace or not name:
        raise CatalogError(f"--table {table!r} must be NAMESPACE.TABLE", hint="e.g. --table audit.events")
    return namespace, dot, name


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


@contextlib.contextmanager
def _quiet_pyiceberg() -> Iterator[None]:
    """pyiceberg logs a warning per column without min/max (our bodies, on purpose); keep stderr for what matters."""
    logger = logging.getLogger("pyiceberg")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)
