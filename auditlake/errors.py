"""The error tree: every failure a user can act on is an `AuditlakeError` with an exit code and a hint.

Owns: exit codes and the exception classes. Never prints: `cli.py` is the one boundary that
turns these into `error: …` / `hint: …` lines on stderr.
"""

from __future__ import annotations

from enum import IntEnum
from pathlib import Path


class ExitCode(IntEnum):
    """What an auditlake process's exit status means (listed in `auditlake --help`)."""

    OK = 0
    FINDINGS = 1  # a check found something: --strict quarantine, --fail-on hit
    USER_ERROR = 2  # bad arguments, unreadable input, a lake that is locked or damaged
    INTERNAL = 3  # a bug: rerun with --debug and report it
    INTERRUPTED = 130  # Ctrl-C / SIGTERM; the lake is left consistent


class AuditlakeError(Exception):
    """Base of every error the user can fix; `message` is one line, `hint` says what to do."""

    exit_code: ExitCode = ExitCode.USER_ERROR

    def __init__(self, message: str, *, hint: str = "", path: Path | str | None = None, line: int | None = None):
        self.message = message
        self.hint = hint
        self.path = path
        self.line = line
        super().__init__(self.one_line())

    def one_line(self) -> str:
        """`path:line: message` when the error is about a place in a file, else the message."""
        where = ""
        if self.path is not None:
            where = f"{self.path}:{self.line}: " if self.line is not None else f"{self.path}: "
        return f"{where}{self.message}"


class InputError(AuditlakeError):
    """An input that cannot be read at all (missing path, not an audit log, unreadable)."""


class LakeError(AuditlakeError):
    """The lake directory is missing, damaged, or not an auditlake lake."""


class LakeLockedError(LakeError):
    """Another ingest or compaction holds the lake's write lock."""


class StorageError(AuditlakeError):
    """Writing under the lake failed for a reason the user can fix (disk full, permissions)."""


class OutputError(AuditlakeError):
    """An output file the user named cannot be written (missing directory, permissions, disk full)."""


class QueryError(AuditlakeError):
    """SQL that DuckDB refused, or a saved query that does not load."""


class MissingDependencyError(AuditlakeError):
    """An optional package is needed for this feature; the hint names the exact pip install."""


class QuarantineFoundError(AuditlakeError):
    """`--strict` was given and some input lines were quarantined."""

    exit_code = ExitCode.FINDINGS
