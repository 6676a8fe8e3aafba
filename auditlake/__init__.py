"""auditlake: Kubernetes audit logs as a queryable, evidence-grade Parquet lake.

    import auditlake
    lake = auditlake.Lake("lake")
    lake.ingest(["/var/log/kubernetes/audit/"], cluster="prod-eu")
    lake.sql("select verb, count(*) from events group by all")   # a polars DataFrame

The public names are imported on first use (module `__getattr__`), so `import auditlake.cli` (and
`auditlake --version`) pays for neither duckdb nor pyarrow nor polars.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from auditlake.config import version
from auditlake.errors import AuditlakeError, AuditlakeWarning, EmptyWindowWarning, ExitCode

if TYPE_CHECKING:
    import duckdb

    from auditlake.history import HistoryEntry, unified_diff
    from auditlake.ingest import IngestResult
    from auditlake.lake import Lake, LakeStatus
    from auditlake.library import Library, SavedQuery
    from auditlake.rbac import Grant, Suggestion, UnusedGrants

__all__ = ["AuditlakeError", "AuditlakeWarning", "EmptyWindowWarning", "ExitCode", "Grant", "HistoryEntry", "IngestResult", "Lake",
           "LakeStatus", "Library", "SavedQuery", "Suggestion", "UnusedGrants", "connect", "unified_diff", "version"]
_LAZY = {"HistoryEntry": "auditlake.history", "unified_diff": "auditlake.history", "IngestResult": "auditlake.ingest",
         "Lake": "auditlake.lake", "LakeStatus": "auditlake.lake", "Library": "auditlake.library",
         "SavedQuery": "auditlake.library", "Grant": "auditlake.rbac", "Suggestion": "auditlake.rbac", "UnusedGrants": "auditlake.rbac"}


def __getattr__(name: str) -> Any:
    """A public name from the module that defines it, imported the first time it is asked for."""
    if name not in _LAZY:
        raise AttributeError(f"module 'auditlake' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value  # asked once: later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


def connect(path: str = "lake") -> duckdb.DuckDBPyConnection:
    """A read-only DuckDB connection to a lake's catalog (its views: events, quarantine, …)."""
    from auditlake.lake import Lake

    return Lake(path).connect()
