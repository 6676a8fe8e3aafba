"""Reading a lake for RBAC: the saved queries `rbac-requests` and `rbac-objects` run on a connection, and their rows
turned into a `Suggestion` (what a subject needs) or `UnusedGrants` (what subjects hold and did not use).

Owns: composing the two saved queries (queries/rbac/) with the pure generator (`suggest`) and comparison (`grants`),
so the `Lake` and a report pack's check read the lake the same way. Takes a DuckDB connection and the library's
queries; never opens a lake, takes no lock, knows no terminal. `SOURCES` are the saved queries a report cites for
the SQL it ran. A subject with no request in the window is an error, not an empty Role.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from auditlake.errors import QueryError, window_text
from auditlake.library import SavedQuery
from auditlake.library.binding import bind
from auditlake.rbac.generator import Observed, Suggestion, SuggestOptions, suggest
from auditlake.rbac.grants import Grant, compare, grants, rbac_state, request_of
from auditlake.rbac.model import Subject

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

SOURCES = ("rbac-objects", "rbac-requests")
GRANT_COLUMNS = ("cluster", "subject_kind", "subject", "status", "sensitive", "rule", "scope", "role", "binding", "uses", "used_for",
                 "reason", "role_source", "binding_source")


@dataclass(frozen=True)
class UnusedGrants:
    """Per subject, every grant the lake can see at the end of the window and whether the window used it."""

    since: datetime
    until: datetime
    cluster: str | None
    subject: str | None  # the one subject asked about, or None for every subject
    grants: tuple[Grant, ...]

    def count(self, status: str, *, sensitive: bool | None = None) -> int:
        return sum(1 for grant in self.grants if grant.status == status and (sensitive is None or grant.sensitive == sensitive))

    def chosen(self, statuses: Sequence[str] = ("unused", "unknown"), *, sensitive_only: bool = False) -> list[Grant]:
        """The grants of these statuses (unused and unknown by default), sensitive ones first within each subject."""
        return [grant for grant in self.grants if grant.status in statuses and (grant.sensitive or not sensitive_only)]

    def table(self, statuses: Sequence[str] = ("unused", "unknown", "used"), *, sensitive_only: bool = False) -> pa.Table:
        """The chosen grants as an Arrow table (`GRANT_COLUMNS`), for CSV, JSON and report checks."""
        import pyarrow as pa

        rows = [asdict(grant) for grant in self.chosen(statuses, sensitive_only=sensitive_only)]
        types = {"sensitive": pa.bool_(), "uses": pa.int64()}
        return pa.table({name: pa.array([row[name] for row in rows], types.get(name, pa.string())) for name in GRANT_COLUMNS})


Queries = Mapping[str, SavedQuery]  # the library's files by name (`Library().queries`)


def rows_of(connection: duckdb.DuckDBPyConnection, queries: Queries, name: str, values: dict[str, Any]) -> list[dict[str, Any]]:
    """A saved query's rows as dicts, fetched by DuckDB (Arrow's `to_pylist` imports pandas for zoned times)."""
    import duckdb

    query = queries[name]
    try:
        relation = connection.sql(query.statement, params=bind(query, {key: value for key, value in values.items() if value is not None}))
        return [dict(zip(relation.columns, row, strict=True)) for row in relation.fetchall()]
    except duckdb.Error as error:
        raise QueryError(f"{query.name} failed: {str(error).strip().splitlines()[0]}", path=query.path) from None


def observed(rows: Sequence[dict[str, Any]]) -> list[Observed]:
    """Rows of `rbac-requests` (one subject's) as the request shapes `suggest` reads."""
    return [Observed(request_of(row), int(row["requests"]), int(row["requests"]) if row["denied"] else 0, row.get("first_at"),
                     row.get("last_at"), row.get("first_audit_id") or "") for row in rows]


def read_suggestion(connection: duckdb.DuckDBPyConnection, queries: Queries, subject: Subject, *, since: datetime, until: datetime,
                    cluster: str | None = None, namespace: str | None = None, options: SuggestOptions | None = None,
                    where_data_lies: str = "") -> Suggestion:
    """What `subject` needs for its requests in [since, until) (in `cluster`, `namespace`); an error when it made none."""
    rows = rows_of(connection, queries, "rbac-requests", {"since": since, "until": until, "cluster": cluster,
                                                          "subject": subject.username, "namespace": namespace})
    if not rows:
        where = (f" in namespace {namespace}" if namespace else "") + (f" in cluster {cluster}" if cluster else "")
        raise QueryError(f"no requests by {subject.username}{where} in {window_text(since, until)}: nothing to write a role from",
                         hint=(where_data_lies + "; " if where_data_lies else "") + "check the name (a service account: --serviceaccount NS:NAME), "
                              "--since and --cluster")
    return replace(suggest(subject, observed(rows), options), since=since, until=until)


def read_unused(connection: duckdb.DuckDBPyConnection, queries: Queries, *, since: datetime, until: datetime, cluster: str | None = None,
                subject: str | None = None) -> UnusedGrants:
    """Every grant at `until` (from the lake's RBAC writes up to then) against the requests of [since, until).

    With `subject`, only that subject's requests are read: the grants it holds, and whether it used them itself.
    """
    objects = rows_of(connection, queries, "rbac-objects", {"until": until, "cluster": cluster})
    requests = rows_of(connection, queries, "rbac-requests", {"since": since, "until": until, "cluster": cluster, "subject": subject})
    reasons = [(row["cluster"], row["authz_reason"]) for row in requests if not row["denied"] and row["authz_reason"]]
    held = grants(rbac_state(objects), reasons)
    return UnusedGrants(since, until, cluster, subject, tuple(compare(held, requests, subject)))
