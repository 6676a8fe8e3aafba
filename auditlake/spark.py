"""The lake on Spark, for fleet-size users: `register` a lake's views in your SparkSession, or run a saved query there.

    from auditlake.spark import register, run_saved_query
    register(spark, "lake")                        # temp views events, findings, changes, reads, final_requests, …
    run_saved_query(spark, "lake", "deployment-changes", since="30d")   # a pyarrow Table, as DuckDB answers it

Owns only these public entry points (a path or a `Lake` in; the façade does the work). The answers equal
DuckDB's for every query whose header says `engines: [duckdb, spark]` (tests/test_spark.py proves it on real
and simulated events). pyspark is imported only when used: without it the error names `auditlake[spark]`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import SparkSession

    from auditlake.lake import Lake
    from auditlake.scaleout.spark import Registration

__all__ = ["register", "run_saved_query", "session"]


def _lake(lake: str | Path | Lake) -> Lake:
    from auditlake.lake import Lake

    return lake if isinstance(lake, Lake) else Lake(lake)


def register(spark: SparkSession, lake: str | Path | Lake) -> Registration:
    """Temp views in `spark` over the lake's committed files: `events` (with `cluster` and `date`), `findings` when
    there are any, and every shared view of queries/views/ that Spark can run (`Registration.unavailable` names the
    others and why). Sets the session's time zone to UTC."""
    return _lake(lake).register_spark(spark)


def run_saved_query(spark: SparkSession, lake: str | Path | Lake, name: str, /, *, since: Any = None, until: Any = None,
                    **params: Any) -> pa.Table:
    """Run a portable saved query (or detection) on `spark` with the values DuckDB would get; a pyarrow Table."""
    return _lake(lake).spark_query_arrow(name, spark=spark, since=since, until=until, **params)


def session(master: str = "local[*]", driver_memory: str | None = None) -> SparkSession:
    """A quiet local SparkSession (Spark's own log at ERROR, no UI, bound to 127.0.0.1, UTC), as `auditlake spark run` starts;
    `driver_memory` ("4g") is its JVM heap (Spark's default 1g)."""
    from auditlake.lake import spark_session

    return spark_session(master, driver_memory)
