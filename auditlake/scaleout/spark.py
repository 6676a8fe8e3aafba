"""A lake's saved queries on Spark: temp views over the committed Parquet files, and runs whose answers equal DuckDB's.

Owns: `register` (in a SparkSession, the temp views `events` over exactly the files the manifest commits, the
same list the DuckDB catalog reads, with the hive partition columns `cluster` and `date` taken from the paths,
`findings` when the lake has any, and every shared view of `queries/views/` that translates, in dependency
order, or only those `views_read` finds a statement reading), `run` (one saved query, its parameters bound as
literals, as an Arrow table, in a session holding the views it reads), `session` (a quiet local
SparkSession: Spark's own log at ERROR, no UI, bound to 127.0.0.1) and the refusal of a DuckDB-only query. Values are bound
by the caller (`Lake._bind`), so Spark gets the same values DuckDB gets. Never writes into the lake.
"""

from __future__ import annotations

import functools
import hashlib
import os
import warnings
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from auditlake import contract
from auditlake.errors import MissingDependencyError, QueryError
from auditlake.library.macros import CatalogItem
from auditlake.library.savedquery import PARAM_TYPES, SavedQuery, load_library
from auditlake.scaleout import dialect
from auditlake.store import catalog
from auditlake.store.manifest import LakeStore

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession

ENGINE = "spark"
LOG_CONFIG = Path(__file__).with_name("log4j2.properties")  # Spark's own messages: ERROR only, one line each
REGISTERED_KEY = "auditlake.registered"  # a Spark conf entry: which lake state the session's views show
REGISTERED_VIEWS_KEY = "auditlake.registered.views"  # and which views it made (`events` and the shared views)
SESSION_CONFIG = {
    "spark.ui.enabled": "false",  # no web UI: nothing listens beyond the driver's loopback ports
    "spark.ui.showConsoleProgress": "false",  # stderr carries auditlake's messages, not progress bars
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.driver.host": "127.0.0.1",
    "spark.sql.session.timeZone": "UTC",  # timestamps read and shown in UTC, as DuckDB's TIMESTAMPTZ in the catalog
    "spark.sql.shuffle.partitions": "4",  # a local session: 200 empty partitions only cost time
    "spark.sql.sources.partitionColumnTypeInference.enabled": "false",  # `cluster=123` stays a string; `date` is cast below
}


@dataclass(frozen=True)
class Registration:
    """What `register` made in a session: the views, and the shared views Spark cannot run (name → why)."""

    views: tuple[str, ...]
    unavailable: dict[str, str] = field(default_factory=dict)


def require_pyspark() -> None:
    """Raise MissingDependencyError (one line naming the extra) when pyspark or sqlglot is missing."""
    try:
        import pyspark  # noqa: F401
        import sqlglot  # noqa: F401
    except ImportError as error:
        raise MissingDependencyError(f"running saved queries on Spark needs {error.name}, which is not installed",
                                     hint="pip install 'auditlake[spark]' (and Java 17+ on PATH)") from None


def session(master: str = "local[*]", driver_memory: str | None = None) -> SparkSession:
    """A local SparkSession for the CLI: quiet (Spark's log at ERROR, one line each), no UI, bound to 127.0.0.1, UTC.

    `driver_memory` (such as "4g") is the JVM's heap; in local mode the executors live in it. Spark's default is 1g.
    """
    require_pyspark()
    from pyspark.sql import SparkSession

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # read as the JVM starts: bind to loopback, without the hostname warning
    # pyspark 4 warns that it "does not yet fully support pandas >= 3" when it converts: nothing for a user to do
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
    builder = SparkSession.builder.master(master).appName("auditlake")
    # read as the driver's JVM starts: Spark's messages at ERROR from its first line (`LOG_CONFIG`)
    quiet = {"spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile={LOG_CONFIG.as_uri()}"}
    for key, value in {**SESSION_CONFIG, **quiet, **({"spark.driver.memory": driver_memory} if driver_memory else {})}.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def macros_of(items: Sequence[CatalogItem]) -> dict[str, dialect.Macro]:
    """The library's macros, parsed (≈25 small statements, ≈0.2 s) once per distinct set of macro definitions.

    Every query run translates with them: reusing the parse keeps a session's many small queries from paying it each time
    (translation copies a macro's body, never changes it).
    """
    return dict(_parsed_macros(tuple((item.identifier.lower(), item.sql) for item in items if item.kind == "macro")))


@functools.lru_cache(maxsize=4)
def _parsed_macros(definitions: tuple[tuple[str, str], ...]) -> tuple[tuple[str, dialect.Macro], ...]:
    return tuple((identifier, dialect.parse_macro(sql)) for identifier, sql in definitions)


def register(spark: SparkSession, store: LakeStore, items: Sequence[CatalogItem], *, cache: bool = False,
             only: Collection[str] | None = None) -> Registration:
    """Temp views `events`, `findings` (when the lake has any) and the shared views in `spark`.

    The session's time zone is set to UTC. A view that uses what Spark lacks is left out and named in
    `Registration.unavailable`; a query reading it then fails with that reason. A view whose header says it
    cannot run on Spark (`engines: {duckdb: true, spark: "why"}`) is not tried. `cache` keeps `events` in
    Spark's memory (many queries over one small lake: the parity tests). `only` names the shared views to make
    (with `views_read`: those one statement reads; each view takes Spark ≈ 0.5 s to analyse), not every one.

    Raises:
        QueryError: the lake is in a bucket (Spark reads it through its own Hadoop connector; register a local lake).
    """
    require_pyspark()
    if store.in_bucket:
        raise QueryError(f"{store.address}: Spark reads a lake in a bucket through its own connector, not through auditlake",
                         hint="publish the lake as an Iceberg table, or register a local copy")
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    spark.conf.set("spark.sql.sources.partitionColumnTypeInference.enabled", "false")
    manifest = store.load_manifest()
    files = store.reader_files(manifest)
    views = ["events"]
    events = _events_frame(spark, str(store.root), files.events)
    (events.cache() if cache else events).createOrReplaceTempView("events")
    if files.findings:
        _findings_frame(spark, str(store.root), files.findings).createOrReplaceTempView("findings")
        views.append("findings")
    macros = macros_of(items)
    library = load_library()
    unavailable = {item.identifier: library[item.name].engine_notes.get(ENGINE, "not portable")
                   for item in items if item.kind == "view" and item.name in library and ENGINE in library[item.name].engine_notes}
    for item in catalog.installation_order([item for item in items if item.kind == "view"]):
        if item.identifier in unavailable or (only is not None and item.identifier.lower() not in only):
            continue
        uses = [name for name in unavailable if name in dialect.table_names(item.sql)]
        if uses:
            unavailable[item.identifier] = f"reads {uses[0]}, which Spark cannot run ({unavailable[uses[0]]})"
            continue
        try:
            spark.sql(f"CREATE OR REPLACE TEMPORARY VIEW {item.identifier} AS {dialect.translate(item.sql, macros)}")
            views.append(item.identifier)
        except Exception as error:  # noqa: BLE001 (pyspark's AnalysisException and parse errors: the reason is kept and shown)
            unavailable[item.identifier] = first_line(error)
    spark.conf.set(REGISTERED_KEY, registration_key(store, manifest_files=sorted(files.events + files.findings), items=items))
    spark.conf.set(REGISTERED_VIEWS_KEY, ",".join(view.lower() for view in views))
    return Registration(tuple(views), unavailable)


def views_read(sql: str, items: Sequence[CatalogItem]) -> set[str]:
    """The shared views a DuckDB statement (a saved query's) reads, through the macros it calls too, with the views
    those read in turn (lower-case identifiers)."""
    views, macros = {item.identifier.lower(): item for item in items if item.kind == "view"}, macros_of(items)
    wanted: set[str] = set()
    todo = dialect.table_names(sql, macros) & views.keys()
    while todo:
        name = todo.pop()
        wanted.add(name)
        todo |= (dialect.table_names(views[name].sql, macros) & views.keys()) - wanted
    return wanted


def registration_key(store: LakeStore, *, manifest_files: list[str], items: Sequence[CatalogItem]) -> str:
    text = repr((store.address, manifest_files, sorted((item.name, item.sql) for item in items)))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def ensure_registered(spark: SparkSession, store: LakeStore, items: Sequence[CatalogItem], reads: Collection[str]) -> None:
    """`register` the shared views `reads` names unless the session already shows them over this lake's committed
    files and this library (a session `register` made whole, or one that ran a query reading them). When the lake
    or the library changed, every view the session showed is made again, not only those."""
    files = store.reader_files(store.load_manifest())
    key = registration_key(store, manifest_files=sorted(files.events + files.findings), items=items)
    made = set((spark.conf.get(REGISTERED_VIEWS_KEY, None) or "").split(",")) - {""}
    if spark.conf.get(REGISTERED_KEY, None) != key or not set(reads) <= made:
        register(spark, store, items, only={*reads, *made})  # what the session showed is made again too, over this lake state


def first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def _spark_type(duckdb_type: str) -> str:
    from sqlglot import exp

    return exp.DataType.build(duckdb_type, dialect="duckdb").sql(dialect="spark")


def _events_frame(spark: SparkSession, root: str, paths: list[str]) -> DataFrame:
    """`events` with the contract's columns in order; partition columns from the paths (`basePath`), `date` a DATE."""
    columns = [(column.name, contract.duckdb_type(column)) for column in contract.COLUMNS]
    return _frame(spark, root, paths, columns)


def _findings_frame(spark: SparkSession, root: str, paths: list[str]) -> DataFrame:
    return _frame(spark, root, paths, list(contract.FINDINGS.columns))


def _frame(spark: SparkSession, root: str, paths: list[str], columns: list[tuple[str, str]]) -> DataFrame:
    from pyspark.sql import functions

    if not paths:
        return spark.sql("SELECT " + ", ".join(f"CAST(NULL AS {_spark_type(kind)}) AS {name}" for name, kind in columns) + " WHERE false")
    # mergeSchema: files of older schema versions lack the newer columns (DuckDB's union_by_name); a column no file has is NULL.
    frame = spark.read.option("basePath", root).option("mergeSchema", "true").parquet(*paths)
    present = set(frame.columns)
    return frame.select(*[
        (functions.col(name) if name in present else functions.lit(None)).cast(_spark_type("VARCHAR" if kind == "JSON" else kind)).alias(name)
        for name, kind in columns
    ])


def require_portable(query: SavedQuery) -> None:
    """A DuckDB-only saved query on Spark is one line saying why it cannot run there."""
    if ENGINE not in query.engines:
        reason = query.engine_notes.get(ENGINE, "its header does not list spark under engines")
        raise QueryError(f"{query.name} runs on DuckDB only: {reason}", path=query.path,
                         hint=f"run it with `auditlake query run {query.name}`")


def statement(query: SavedQuery, items: Sequence[CatalogItem], values: dict[str, Any]) -> str:
    """The Spark SQL of a saved query with its bound values (macros expanded, parameters as literals)."""
    types = {parameter.name: PARAM_TYPES[parameter.type] for parameter in query.params}
    return dialect.translate(query.statement, macros_of(items), values, types)


def run(spark: SparkSession, store: LakeStore, items: Sequence[CatalogItem], query: SavedQuery, values: dict[str, Any]) -> pa.Table:
    """Run a portable saved query with bound values on `spark` (registering the lake first if needed); an Arrow table.

    Raises:
        QueryError: the query is DuckDB-only (its reason), or Spark refused the translated SQL (its first line).
    """
    require_portable(query)
    ensure_registered(spark, store, items, views_read(query.statement, items))
    sql = statement(query, items, values)
    try:
        return spark.sql(sql).toArrow()
    except Exception as error:  # noqa: BLE001 (pyspark's errors carry a JVM stack: one line of it is the answer)
        raise failure(query, error) from None


def failure(query: SavedQuery, error: BaseException) -> QueryError:
    """What a user reads when Spark fails a query: one line (a JVM stack is not an answer), the heap named when it ran out."""
    if "java.lang.OutOfMemoryError" in str(error):
        return QueryError(f"{query.name} ran out of memory on Spark (the JVM's heap, spark.driver.memory, default 1g)",
                          hint="give it more: auditlake spark run --driver-memory 4g, or your session's spark.driver.memory",
                          path=query.path)
    return QueryError(f"{query.name} failed on Spark: {first_line(error)}", path=query.path)
