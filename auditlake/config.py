"""Settings: defaults < AUDITLAKE_* environment variables < command-line flags.

Owns: the table of settings a user can change without code, and reading them from the
environment. Never reads files and never touches the lake.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Setting:
    """One user-facing setting: its environment variable, default and meaning (listed in the README)."""

    env: str
    default: str
    help: str


SETTINGS: dict[str, Setting] = {
    "lake": Setting("AUDITLAKE_LAKE", "lake", "Lake directory used when --lake is not given."),
    "cluster": Setting("AUDITLAKE_CLUSTER", "default", "Cluster name used by `ingest` when --cluster is not given."),
    "workers": Setting("AUDITLAKE_WORKERS", "0", "Decoding threads for `ingest` (0: one per core)."),
    "commit_rows": Setting("AUDITLAKE_COMMIT_ROWS", "2000000", "Rows per committed batch: a crash loses at most this much work."),
    "memory_limit": Setting("AUDITLAKE_MEMORY_LIMIT", "512MB", "DuckDB memory limit for dedupe, compaction and queries."),
    "debug": Setting("AUDITLAKE_DEBUG", "0", "1: show tracebacks instead of one-line errors."),
}


def setting(name: str) -> str:
    """The value of a setting: its environment variable when set, else its default."""
    entry = SETTINGS[name]
    return os.environ.get(entry.env, entry.default)


def default_lake() -> Path:
    return Path(setting("lake"))


def is_debug() -> bool:
    return setting("debug") not in ("", "0", "false", "no")
