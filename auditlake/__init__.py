"""auditlake: Kubernetes audit logs as a queryable, evidence-grade Parquet lake.

    import auditlake
    lake = auditlake.Lake("lake")
    lake.ingest(["/var/log/kubernetes/audit/"], cluster="prod-eu")
    lake.sql("select verb, count(*) from events group by all")   # a polars DataFrame
"""

import duckdb

from auditlake.errors import AuditlakeError, AuditlakeWarning, EmptyWindowWarning, ExitCode
from auditlake.history import HistoryEntry, unified_diff
from auditlake.ingest import IngestResult
from auditlake.lake import Lake, LakeStatus, version
from auditlake.library import Library, SavedQuery

__all__ = ["AuditlakeError", "AuditlakeWarning", "EmptyWindowWarning", "ExitCode", "HistoryEntry", "IngestResult", "Lake", "LakeStatus",
           "Library", "SavedQuery", "connect", "unified_diff", "version"]


def connect(path: str = "lake") -> duckdb.DuckDBPyConnection:
    """A read-only DuckDB connection to a lake's catalog (its views: events, quarantine, …)."""
    return Lake(path).connect()
