"""The one way to open DuckDB: every connection auditlake makes comes from `connect`.

Owns: the settings every connection shares: the UTC time zone (dates are UTC days, as in the
`events/` partitions, and a timestamp prints the same on every machine), an optional memory limit
(DuckDB's memory otherwise grows with its input), a thread count, read-only opening of a catalog
file, and the fsspec filesystems a lake in a bucket is read through. Never decides which file to open
or what to run on it; imports nothing from auditlake.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb

IN_MEMORY = ":memory:"
SESSION = "SET TimeZone = 'UTC'"  # what each connection (and cursor) sets for itself; the rest is the database's


def connect(database: str | Path = IN_MEMORY, *, read_only: bool = False, memory_limit: str | None = None,
            threads: int | None = None, filesystems: Sequence[Any] = ()) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection in UTC: in memory, or to a database file (`read_only` for a catalog a reader opens).

    `filesystems` (fsspec) are registered on it: DuckDB then reads their URLs (`s3://…`) through them, in
    Python, with the credentials their SDK found; nothing is installed or fetched (no `httpfs`).

    Raises:
        duckdb.Error: the file cannot be opened (the caller decides what that means).
    """
    config: dict[str, str | bool | int | float | list[str]] = {}
    if memory_limit is not None:
        config["memory_limit"] = memory_limit
    if threads is not None:
        config["threads"] = threads
    connection = duckdb.connect(str(database), read_only=read_only, config=config)
    try:
        connection.execute(SESSION)
        for filesystem in filesystems:
            connection.register_filesystem(filesystem)
    except BaseException:
        connection.close()
        raise
    return connection


def cursor(connection: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """Another connection to `connection`'s database, for another thread, with the same session settings (`SESSION`):
    it sees the same catalog, attached databases, memory limit and filesystems; not `connection`'s temporary objects."""
    other = connection.cursor()
    try:
        other.execute(SESSION)
    except BaseException:
        other.close()
        raise
    return other
