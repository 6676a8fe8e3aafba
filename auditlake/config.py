"""Settings: defaults < AUDITLAKE_* environment variables < command-line flags.

Owns: the table of settings a user can change without code, reading them from the
environment, where the per-user cache lives, and the installed version (`version`, cheap enough
for `auditlake --version`). Never reads files and never touches the lake.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from auditlake.errors import AuditlakeError


@dataclass(frozen=True)
class Setting:
    """One user-facing setting: its environment variable, default and meaning (listed in the README)."""

    env: str
    default: str
    help: str


SETTINGS: dict[str, Setting] = {
    "lake": Setting("AUDITLAKE_LAKE", "lake", "Lake used when --lake is not given: a directory, or an s3:// prefix."),
    "catalog": Setting("AUDITLAKE_CATALOG", "", "The catalog file of a lake in a bucket (its views read the bucket); unset: "
                       "one per lake under this user's cache directory. A lake directory keeps its catalog inside."),
    "lock_lease": Setting("AUDITLAKE_LOCK_LEASE", "60s", "A lake in a bucket: how long its write lock holds without renewal "
                          "(the writer renews it; a crashed writer's lock is free this long after its last renewal)."),
    "cluster": Setting("AUDITLAKE_CLUSTER", "default", "Cluster name used by `ingest` when --cluster is not given."),
    "workers": Setting("AUDITLAKE_WORKERS", "0", "Decoding threads for `ingest` (0: one per core)."),
    "commit_rows": Setting("AUDITLAKE_COMMIT_ROWS", "2000000", "Rows per committed batch: a crash loses at most this much work."),
    "memory_limit": Setting("AUDITLAKE_MEMORY_LIMIT", "512MB", "DuckDB memory limit for dedupe, compaction and queries."),
    "retire_after": Setting("AUDITLAKE_RETIRE_AFTER", "1h", "How long files replaced by `compact` are kept for readers that "
                            "started before it (`90s`, `30m`, `1h`; `0`: delete them at once)."),
    "signing_key": Setting("AUDITLAKE_SIGNING_KEY", "", "Ed25519 private key (from `auditlake keys init`) that signs the digest of "
                           "every commit; unset: the digest chain is kept unsigned. Keep it outside the lake."),
    "query_path": Setting("AUDITLAKE_QUERY_PATH", "", "More saved-query folders, `:`-separated, read after the project's `queries/`."),
    "debug": Setting("AUDITLAKE_DEBUG", "0", "1: show tracebacks instead of one-line errors."),
    "admin_groups": Setting("AUDITLAKE_ADMIN_GROUPS", "system:masters,kubeadm:cluster-admins",
                            "Groups whose members are people with administrative access, comma-separated (system:masters always "
                            "counts); the default of every query's and pack's `admin_groups`."),
    "admin_users": Setting("AUDITLAKE_ADMIN_USERS", "admin,kubernetes-admin,kubernetes-admin@kubernetes,kubernetes-admin@cluster.local,"
                           "minikube-user", "Users who are people with administrative access, comma-separated; the default of every "
                           "query's and pack's `admin_users`."),
}
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def setting(name: str) -> str:
    """The value of a setting: its environment variable when set, else its default."""
    entry = SETTINGS[name]
    return os.environ.get(entry.env, entry.default)


def default_lake() -> str:
    return setting("lake")


def catalog_path() -> Path | None:
    """AUDITLAKE_CATALOG as a path; None: the default place."""
    raw = setting("catalog")
    return Path(raw).expanduser() if raw else None


def lock_lease() -> float:
    """AUDITLAKE_LOCK_LEASE in seconds (at least one)."""
    return max(1.0, parse_duration(setting("lock_lease"), SETTINGS["lock_lease"].env))


def signing_key_path(value: str | Path | None = None) -> Path | None:
    """The signing key given (`--signing-key`), else AUDITLAKE_SIGNING_KEY's; None: commits are not signed."""
    raw = str(value) if value is not None else setting("signing_key")
    return Path(raw).expanduser() if raw else None


def query_path() -> list[Path]:
    """The folders of AUDITLAKE_QUERY_PATH (`:`-separated, `;` on Windows), in order."""
    return [Path(item) for item in setting("query_path").split(os.pathsep) if item]


def retire_after() -> float:
    """AUDITLAKE_RETIRE_AFTER in seconds."""
    return parse_duration(setting("retire_after"), SETTINGS["retire_after"].env)


def workers(value: int | str | None = None) -> int:
    """Decoding threads: `value`, else AUDITLAKE_WORKERS; a whole number, 0 or more (0: one per core).

    >>> workers("4")
    4
    """
    raw = setting("workers") if value is None else value
    try:
        number = int(str(raw).strip())
    except ValueError:
        number = -1
    if number < 0:
        where = f"{SETTINGS['workers'].env}={raw!r}" if value is None else f"workers={raw!r}"
        raise AuditlakeError(f"{where} is not a number of threads", hint="use a whole number, 0 or more (0: one per core)")
    return number


def parse_duration(text: str, name: str) -> float:
    """Seconds in `90`, `90s`, `30m`, `1h` or `2d`.

    >>> parse_duration("30m", "AUDITLAKE_RETIRE_AFTER")
    1800.0
    """
    text = text.strip().lower()
    number, unit = (text[:-1], text[-1]) if text[-1:] in _SECONDS else (text, "s")
    try:
        seconds = float(number) * _SECONDS[unit]
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:  # also refuses nan
        raise AuditlakeError(f"{name}={text!r} is not a duration", hint="use e.g. 90s, 30m, 1h or 0")
    return seconds


def cache_dir() -> Path:
    """Where this user's auditlake keeps rebuildable files: `$XDG_CACHE_HOME/auditlake`, else `~/.cache/auditlake`."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    return (Path(base) if Path(base).is_absolute() else Path.home() / ".cache") / "auditlake"


def is_debug() -> bool:
    return setting("debug") not in ("", "0", "false", "no")


def version() -> str:
    """The installed auditlake's version (`0+unknown` when run from a source tree that was never installed)."""
    from importlib import metadata  # here: it costs tens of milliseconds, and only --version and a write need it

    try:
        return metadata.version("auditlake")
    except metadata.PackageNotFoundError:
        return "0+unknown"
