"""The error tree: every failure a user can act on is an `AuditlakeError` with an exit code and a hint.

Owns: exit codes, the exception classes, and the warnings (`AuditlakeWarning`) for answers that are
probably not the one meant: an empty window, rows left out as noise; and `store_failure`, which recognises an
object store failing under a DuckDB read (a lake in a bucket) so that it is one line, not an internal error. Never prints: `cli.py` is the
one boundary that turns these into `error: …` / `hint: …` / `warning: …` lines on stderr (Python
shows the warnings in a notebook).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
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


class ObjectStoreError(AuditlakeError):
    """The object store failed after its retries (unreachable, 5xx, throttled, a dropped connection): the run stops,
    keeping every committed batch; a rerun reads the rest. Never skipped like one unreadable object."""


class OutputError(AuditlakeError):
    """An output file the user named cannot be written (missing directory, permissions, disk full)."""


class QueryError(AuditlakeError):
    """SQL that DuckDB refused, or a saved query that does not load."""


class CatalogError(AuditlakeError):
    """A table catalog (Iceberg) that cannot be opened, a name it refuses, or a table published from another lake."""


class MissingDependencyError(AuditlakeError):
    """An optional package is needed for this feature; the hint names the exact pip install."""


class QuarantineFoundError(AuditlakeError):
    """`--strict` was given and some input lines were quarantined."""

    exit_code = ExitCode.FINDINGS


class IntegrityError(AuditlakeError):
    """The lake does not verify against its digest chain, and the command was asked to require that it does."""

    exit_code = ExitCode.FINDINGS


# ---- warnings -----------------------------------------------------------------------------------
class AuditlakeWarning(UserWarning):
    """Base of the warnings: an answer that is probably not the one meant; `label` starts its line on stderr."""

    label = "warning"


class EmptyWindowWarning(AuditlakeWarning):
    """The window holds no events at all (of `cluster`), so an empty answer proves nothing; says where the lake's data lies."""

    def __init__(self, since: datetime, until: datetime, cluster: str | None, spans: dict[str, tuple[datetime, datetime]]):
        self.since, self.until, self.cluster, self.spans = since, until, cluster, spans
        of = f" of cluster {cluster}" if cluster else ""
        super().__init__(f"the window {window_text(since, until)} holds no events{of}: {where_data_lies(spans, cluster)}")


class NoiseLeftOutWarning(AuditlakeWarning):
    """Writes left out of an answer as noise (leases, events, access reviews), counted per resource."""

    label = "note"

    def __init__(self, counts: dict[str, int]):
        self.counts = counts
        first, *rest = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        said = [f"{first[1]:,} write(s) to {first[0]}", *(f"{count:,} to {resource}" for resource, count in rest)]
        super().__init__(f"left out as noise: {', '.join(said)} (--include-noise shows them)")


def window_text(since: datetime, until: datetime) -> str:
    """`2025-10-01 12:00 → 2025-10-08 12:00 UTC`: a window as absolute times, the same in every message.

    >>> window_text(datetime(2025, 10, 1, 12, tzinfo=UTC), datetime(2025, 10, 8, 12, tzinfo=UTC))
    '2025-10-01 12:00 → 2025-10-08 12:00 UTC'
    """
    return f"{_utc(since):%Y-%m-%d %H:%M} → {_utc(until):%Y-%m-%d %H:%M} UTC"


def where_data_lies(spans: dict[str, tuple[datetime, datetime]], cluster: str | None = None) -> str:
    """`this lake holds 2017-09-11 → 2025-10-07 (try --since …)`, per cluster when it holds several.

    >>> where_data_lies({"a": (datetime(2017, 9, 11, 8, tzinfo=UTC), datetime(2017, 9, 12, 9, tzinfo=UTC))})
    'this lake holds 2017-09-11 → 2017-09-12 (try --since 2017-09-11 --until 2017-09-13)'
    """
    spans = {name: span for name, span in spans.items() if cluster is None or name == cluster}
    if not spans:
        return f"cluster {cluster} holds no events" if cluster else "this lake holds no events yet"
    first = min(span[0] for span in spans.values())
    last = max(span[1] for span in spans.values())
    held = (_span_text(first, last) if len(spans) == 1 else
            ", ".join(f"{name} {_span_text(*span)}" for name, span in sorted(spans.items())))
    holder = f"cluster {cluster}" if cluster else "this lake"
    return f"{holder} holds {held} (try --since {_utc(first):%Y-%m-%d} --until {_utc(last) + timedelta(days=1):%Y-%m-%d})"


def _span_text(first: datetime, last: datetime) -> str:
    first, last = _utc(first), _utc(last)
    if first.date() == last.date():
        return f"{first:%Y-%m-%d %H:%M} → {last:%H:%M} UTC"
    return f"{first:%Y-%m-%d} → {last:%Y-%m-%d}"


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


STORE_RERUN_HINT = "committed batches are kept: rerun when the store answers (check --endpoint / AWS_ENDPOINT_URL and the network)"
CREDENTIALS_HINT = "check the credentials the SDK found (AWS_ACCESS_KEY_ID/AWS_PROFILE, or the instance role)"

# How an object store's failure reads when it reaches us through DuckDB (which reads s3:// through s3fs in Python):
# DuckDB wraps the Python exception's traceback in its own error, so only its words are left to go by.
STORE_FAILURES = ("EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError", "ClientConnectorError",
                  "ServerDisconnectedError", "Could not connect to the endpoint URL", "Connection reset by peer")
STORE_PACKAGES = ("s3fs", "aiobotocore", "botocore", "gcsfs", "adlfs", "fsspec", "aiohttp")  # a frame in one: the store failed
_SDK_FRAME = re.compile(r'^\s+File "(?:[^"]*[/\\])?(?:' + "|".join(STORE_PACKAGES) + r')[/\\]', re.MULTILINE)


def store_failure(error: BaseException) -> ObjectStoreError | None:
    """The one-line error for an object store failing under a DuckDB read (a query of a lake in a bucket); None otherwise.

    DuckDB hands on what the fsspec filesystem raised as a Python traceback in its message: a store failure is one
    that names a known failure (`STORE_FAILURES`) or was raised in the store's SDK (`STORE_PACKAGES`: s3fs's
    `OSError: [Errno 121] Internal Server Error` from a store going down, for instance). The line said is the
    exception's own."""
    text = str(error)
    if "Traceback" not in text or not (any(name in text for name in STORE_FAILURES) or _SDK_FRAME.search(text)):
        return None
    raised = [line.strip() for line in text.split("Traceback", 1)[1].splitlines()[1:]
              if line.strip() and not line[:1].isspace() and not line.startswith("LINE ")]
    said = next((line for line in reversed(raised) if any(name in line for name in STORE_FAILURES)), raised[-1] if raised else "")
    return ObjectStoreError(f"the object store failed while reading the lake ({said})", hint=STORE_RERUN_HINT)
