"""The `Lake` façade: one object for everything a user does with a lake, from Python or the CLI.

Owns: composing ingest, store and catalog into the operations users name (ingest, status,
sql, compact, demo). Holds no logic of its own beyond putting the pieces in order, taking the
write lock, and undoing an interrupted batch.
"""

from __future__ import annotations

import contextlib
import dataclasses
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

from auditlake import config, demo, history, policy, rbac, window
from auditlake.config import version  # auditlake.version, the version recorded in every batch
from auditlake.errors import (
    AuditlakeError,
    AuditlakeWarning,
    EmptyWindowWarning,
    IntegrityError,
    NoiseLeftOutWarning,
    QueryError,
    where_data_lies,
    window_text,
)
from auditlake.history import HistoryEntry
from auditlake.ingest import FORMATS, IngestOptions, IngestResult, Progress, ingest  # noqa: F401 (FORMATS: the CLI's --input-format choices)
from auditlake.ingest.redact import Redactor
from auditlake.library import Library, Need, SavedQuery
from auditlake.library.binding import bind, load_tuning, run, switches, tuning
from auditlake.library.detections import WINDOW_HAS_EVENTS, DetectionRun, choose, detections, run_detections
from auditlake.library.macros import catalog_items
from auditlake.library.suggest import close_matches, hint
from auditlake.reports import build, packs, review
from auditlake.scaleout import spark as spark_engine
from auditlake.scaleout.spark import session as spark_session  # noqa: F401 (the CLI's local SparkSession: `auditlake spark run`)
from auditlake.store import (
    BatchWriter,
    CompactResult,
    LakeStore,
    SourceProgress,
    catalog,
    digests,
    open_store,
    unseen_findings,
    validate_cluster,
    write_findings,
    write_review,
)
from auditlake.store.compact import compact
from auditlake.store.retention import RetentionResult, apply_retention
from auditlake.store.verify import Verification, verify_with_archive

if TYPE_CHECKING:
    import polars as pl  # imported where a DataFrame is made: the CLI never needs polars
    from pyspark.sql import SparkSession

    from auditlake.scaleout.iceberg import Publication

HISTORY_LOOKBACK = timedelta(days=90)


@dataclass(frozen=True)
class ClusterStatus:
    cluster: str
    days: int
    events: int
    first_event_at: str | None
    last_event_at: str | None


@dataclass(frozen=True)
class LakeStatus:
    """What is in a lake: per cluster, and the health of what was read."""

    lake: str
    clusters: list[ClusterStatus]
    events: int
    files: int
    bytes: int
    sources: int
    batches: int
    last_ingest_at: str | None
    quarantined: int
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    findings: dict[str, int] = field(default_factory=dict)  # written detections (`detect --write`), per rule


@dataclass(frozen=True)
class DemoResult:
    log_files: list[str]
    requests: int
    events_in_log: int
    ingest: IngestResult


class Lake:
    """A lake directory: `Lake("lake").ingest(["audit.log"], cluster="prod")`, then `.sql(...)`.

    `signing_key` (a key file from `auditlake keys init`; default AUDITLAKE_SIGNING_KEY) signs the digest of
    every commit this object makes; without one the digest chain is kept unsigned.
    """

    def __init__(self, path: str | Path | None = None, *, signing_key: str | Path | None = None, endpoint: str | None = None):
        self.store = open_store(path if path is not None else config.default_lake(), signing_key=config.signing_key_path(signing_key),
                                endpoint=endpoint)
        # A lake directory's Path; a lake in a bucket's URL.
        self.path: Path | str = self.store.address if self.store.in_bucket else self.store.root
        self._namespace_cache: tuple[tuple[str, ...], set[str]] | None = None
        self._resource_cache: tuple[tuple[str, ...], set[str]] | None = None

    def __repr__(self) -> str:
        return f"Lake({str(self.path)!r})"

    # ---- writing --------------------------------------------------------------------------------
    def ingest(
        self,
        inputs: Sequence[str | Path],
        *,
        cluster: str | None = None,
        format: str = "auto",
        redact: bool = True,
        workers: int | None = None,
        default_time: Any = None,
        on_progress: Callable[[Progress], None] | None = None,
        endpoint: str | None = None,
    ) -> IngestResult:
        """Read audit logs (files, directories, globs, "-" for stdin, `s3://bucket/prefix/`) into the lake; safe to rerun.

        `cluster` puts every event in that cluster; without it, EKS/AKS/GKE exports go to the
        cluster they name and plain logs to AUDITLAKE_CLUSTER (else "default"). Only what is new is
        read: sources already ingested are recognised by their first line, even renamed or compressed
        by rotation, and an object already read whole by its URL, size and ETag. Rows are deduplicated
        on (audit_id, stage, received_at) per cluster. Objects are read with the standard credential
        chain; `endpoint` (else AWS_ENDPOINT_URL) names an S3-compatible store.
        """
        options = IngestOptions(cluster=validate_cluster(cluster) if cluster else None,
                                default_cluster=validate_cluster(config.setting("cluster")), format=format, redact=redact,
                                exclude=self.store.root, default_time=window.parse_time(default_time) if default_time else None,
                                workers=config.workers(workers), endpoint=endpoint)
        self.store.create()
        with self.store.write_lock():
            manifest = self.store.load_manifest()
            self.store.recover(manifest)
            redactor = Redactor(self.store.redaction_key()) if redact else None
            writer = BatchWriter(self.store, redacted=redact, version=version(), memory_limit=config.setting("memory_limit"),
                                 commit_rows=int(config.setting("commit_rows")))
            try:
                result = ingest([str(item) for item in inputs], options, writer, redactor=redactor,
                                progress_factory=SourceProgress, on_progress=on_progress)
            except BaseException:
                writer.abort()
                with contextlib.suppress(Exception):  # committed batches stay visible; the original error wins
                    catalog.build_catalog(self.store, catalog_items())
                raise
            finally:
                writer.close()
            catalog.build_catalog(self.store, catalog_items())
            self._follow_publications()
        return result

    def compact(self, on_partition: Callable[[str], None] | None = None) -> CompactResult:
        """Merge small files (many incremental runs) into one sorted file per partition.

        The replaced files stay (out of `events/`) for AUDITLAKE_RETIRE_AFTER, so readers that started before keep working.
        """
        self.store.require()
        with self.store.write_lock():
            result = compact(self.store, version=version(), memory_limit=config.setting("memory_limit"), on_partition=on_partition,
                             retire_after=config.retire_after())
            catalog.build_catalog(self.store, catalog_items())
            self._follow_publications()
        return result

    def retention(self, *, hot: str | None = None, keep: str | None = None, archive: str | Path | None = None,
                  dry_run: bool = False, now: datetime | None = None) -> RetentionResult:
        """Move event partitions older than `hot` ("90d") to the `archive` lake and delete those older than `keep` ("400d").

        Each action is a signed commit whose digest lists what left; files no digest covers are refused.
        The catalog reads the archive with the lake, so queries still see archived days.
        """
        self.store.require()
        for name, value in (("hot", hot), ("keep", keep)):
            if value is not None and str(value).strip().isdigit():
                raise QueryError(f"--{name} {value}: an age needs a unit", hint=f"e.g. --{name} {value}d (days), or 12h")
        ages = {name: timedelta(seconds=config.parse_duration(value, f"--{name}")) if value else None
                for name, value in (("hot", hot), ("keep", keep))}
        with self.store.write_lock():
            result = apply_retention(self.store, now=now or datetime.now(UTC), version=version(), archive=LakeStore(Path(archive)) if archive else None,
                                     dry_run=dry_run, **ages)
            if not dry_run:
                catalog.build_catalog(self.store, catalog_items())
                self._follow_publications()
        return result

    def publish_iceberg(self, catalog: str, *, table: str = "audit.events", findings_table: str | None = None,
                        warehouse: str | None = None) -> Publication:
        """Register the lake's files as the Iceberg tables `table` and `findings_table` in the SQL catalog `catalog`.

        In place: partition values from the manifest, metrics from each file's footer, one snapshot per table that adds
        the new files and removes the ones the lake no longer lists (rerun after each ingest, compaction or retention).
        `catalog`: `sqlite:///catalog.db` or `postgresql://user@host/db`. Holds the write lock, so no compaction moves a
        file while the tables are being made to match the manifest.
        """
        from auditlake.scaleout import iceberg

        self.store.require()
        with self.store.write_lock():
            publication = iceberg.publish(self.store, self.store.load_manifest(), catalog=catalog, table=table,
                                          findings_table=findings_table, warehouse=warehouse)
            iceberg.record(self.store, publication, catalog=catalog, warehouse=warehouse)
        return publication

    def _follow_publications(self) -> None:
        """After a write: the Iceberg tables this lake was published to list what its manifest lists now (under the lock).

        A table that cannot be updated (its catalog unreachable) is a warning, never a failed write: the lake committed.
        """
        from auditlake.scaleout import iceberg

        if not iceberg.recorded(self.store):
            return
        try:
            iceberg.follow(self.store, self.store.load_manifest())
        except Exception as error:  # noqa: BLE001 (the catalog's and pyiceberg's errors alike: the lake's write stands)
            reason = error.one_line() if isinstance(error, AuditlakeError) else f"{type(error).__name__}: {(str(error).splitlines() or [''])[0]}"
            warnings.warn(AuditlakeWarning(f"the Iceberg tables were not updated: {reason}; rerun `auditlake publish iceberg`"), stacklevel=3)

    def adopt(self) -> bool:
        """Start the digest chain of a lake written before digests: one `adopt` digest of its files as they are now."""
        self.store.require()
        with self.store.write_lock():
            return self.store.adopt(version=version())

    def verify(self, *, public_key: str | Path | None = None, since: Any = None, quick: bool = False) -> list[Verification]:
        """Check the lake (and its archive) against its digest chain: one `Verification` each, problems one line each.

        `public_key` (a `.pub` from `auditlake keys init`, given out of band) must have signed every digest;
        `since` re-hashes only files added since then; `quick` compares sizes only.
        """
        self.store.require()
        key = digests.load_public_key(Path(public_key)) if public_key else None
        return verify_with_archive(self.store, public_key=key, since=window.parse_time(since) if since is not None else None, quick=quick,
                                   workers=config.workers())

    def rebuild_catalog(self) -> Path:
        """Write catalog.duckdb afresh (after moving the lake, or if it was deleted), finishing an interrupted write first."""
        self.store.require()
        with self.store.write_lock():
            manifest = self.store.load_manifest()
            self.store.recover(manifest)
            return catalog.build_catalog(self.store, catalog_items(), manifest)

    # ---- reading --------------------------------------------------------------------------------
    def connect(self) -> duckdb.DuckDBPyConnection:
        """A read-only DuckDB connection with the lake's views (`events`, `changes`, …) and query macros,
        held to AUDITLAKE_MEMORY_LIMIT. It never takes the write lock (see catalog.connect)."""
        self.store.require()
        connection = catalog.connect(self.store, catalog_items())
        connection.execute(f"SET memory_limit = '{config.setting('memory_limit')}'")
        return connection

    @contextlib.contextmanager
    def _connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        connection = self.connect()
        try:
            yield connection
        finally:
            connection.close()

    def sql_arrow(self, query: str, params: dict[str, Any] | None = None) -> pa.Table:
        """Run SQL against the lake's views; the result as an Arrow table."""
        with self._connection() as connection:
            try:
                relation = connection.sql(query, params=params) if params else connection.sql(query)
                if relation is None:
                    return pa.table({})
                return relation.to_arrow_table()
            except duckdb.Error as error:
                message = str(error).strip().splitlines()[0]
                raise QueryError(message, hint="tables: events, quarantine, findings, ingest_sources, ingest_batches, and the views of queries/views") from None

    def sql(self, query: str, params: dict[str, Any] | None = None) -> pl.DataFrame:
        """Run SQL against the lake's views; the result as a polars DataFrame."""
        import polars as pl

        return pl.from_arrow(self.sql_arrow(query, params))  # type: ignore[return-value]

    # ---- saved queries --------------------------------------------------------------------------
    @property
    def library(self) -> Library:
        """The saved-query library (queries/ and AUDITLAKE_QUERY_PATH, read as the call is made)."""
        return Library()

    def saved_queries(self) -> list[SavedQuery]:
        """The questions in the library (queries/ and AUDITLAKE_QUERY_PATH), by topic."""
        return self.library.saved_queries()

    def saved_query(self, name: str) -> SavedQuery:
        """One saved query (or shared view) by name; `secret_reads` and `secret-reads` are the same."""
        return self.library.saved_query(name)

    def clusters(self) -> list[str]:
        """The clusters the lake holds events of (from the manifest: no scan)."""
        return sorted({record.cluster for record in self.store.load_manifest().files.values()})

    def _require_cluster(self, cluster: str | None) -> None:
        """A cluster filter that matches nothing is a typo, not an empty (and falsely clean) answer."""
        if cluster is None:
            return
        known = self.clusters()
        if cluster not in known:
            raise QueryError(f"no cluster named {cluster!r} in {self.path}",
                             hint=hint(cluster, known, f"the lake holds: {', '.join(known)}" if known else "the lake holds no events yet"))

    def namespaces(self) -> set[str]:
        """Every namespace the lake's events name (cached until the lake's files change)."""
        files = tuple(sorted(self.store.load_manifest().files))
        if self._namespace_cache is None or self._namespace_cache[0] != files:
            names = self.sql_arrow("SELECT DISTINCT namespace FROM events WHERE namespace IS NOT NULL AND namespace <> ''")
            self._namespace_cache = (files, set(names.column("namespace").to_pylist()))
        return self._namespace_cache[1]

    def _require_namespaces(self, given: Any) -> None:
        """A namespace filter no event matches is a typo; for evidence (`namespaces` of the cardholder data)
        it would turn "nobody touched it" into a false pass."""
        wanted = [item.strip() for item in (given.split(",") if isinstance(given, str) else given or []) if item and item.strip()]
        if not wanted:
            return
        known = self.namespaces()
        missing = [item for item in wanted if item not in known]
        if missing:
            close = [match for item in missing for match in close_matches(item, known, n=2)]
            raise QueryError(f"no events in namespace {', '.join(map(repr, missing))} in {self.path}",
                             hint=f"did you mean {', '.join(close)}?" if close else "list them: auditlake sql \"select distinct namespace from events\"")

    def query_arrow(self, name: str, /, *, since: Any = None, until: Any = None, **params: Any) -> pa.Table:
        """Run a saved query; `since`/`until` take 7d, 24h, 2026-11-01, now or datetimes. An Arrow table.

        An empty answer from a window that holds no events at all warns (`EmptyWindowWarning`), saying
        where the lake's data lies: it proves nothing, and a cron job should not read it as "all clear".
        """
        query, values = self._bind(name, {"since": since, "until": until, **params})
        with self._connection() as connection:
            table = run(connection, query, values)
            if not table.num_rows:
                self._warn_if_window_empty(connection, values["since"], values["until"], values.get("cluster"))
        return table

    def spark_query_arrow(self, name: str, /, *, spark: SparkSession | None = None, master: str = "local[*]",
                          driver_memory: str | None = None, since: Any = None, until: Any = None, **params: Any) -> pa.Table:
        """Run a saved query on Spark, with the values `query_arrow` binds for DuckDB; an Arrow table.

        `spark`: a session of yours (the lake's views are registered in it when it does not show them yet);
        without one a quiet local session on `master` (with `driver_memory`, e.g. "4g") is started. Only queries whose header lists `spark` under
        `engines:` run; a DuckDB-only one is refused with its reason before any session starts.
        """
        query, values = self._bind(name, {"since": since, "until": until, **params})
        spark_engine.require_portable(query)
        return spark_engine.run(spark if spark is not None else spark_session(master, driver_memory), self.store, catalog_items(), query, values)

    def register_spark(self, spark: SparkSession) -> spark_engine.Registration:
        """Temp views `events`, `findings` and the shared views of queries/views/ in `spark` (see `auditlake.spark`)."""
        self.store.require()
        return spark_engine.register(spark, self.store, catalog_items())

    def _run_query(self, name: str, /, *, since: Any = None, until: Any = None, **params: Any) -> pa.Table:
        """`query_arrow` without the warning, for the lake's own lookups (a lookback that finds nothing is no news to the user)."""
        query, values = self._bind(name, {"since": since, "until": until, **params})
        with self._connection() as connection:
            return run(connection, query, values)

    def _bind(self, name: str, params: dict[str, Any]) -> tuple[SavedQuery, dict[str, Any]]:
        """The saved query and its bound values; a cluster or namespace the lake does not hold is refused."""
        query = self.saved_query(name)
        if query.kind != "query":
            raise QueryError(f"{query.name} is a {query.kind}, not a saved query", hint=f"select from it: auditlake sql 'from {query.macro_name}'")
        given = {key: value for key, value in params.items() if value is not None}
        values = bind(query, given)
        self._require_cluster(given.get("cluster"))
        for key in ("namespace", "namespaces"):  # one name, or a list / comma-separated names
            self._require_namespaces(given.get(key))
        return query, values

    def window(self, since: Any = None, until: Any = None, *, query: str | None = None, now: datetime | None = None) -> tuple[datetime, datetime]:
        """The window a read covers, as UTC datetimes: `since` (else the saved query's default, else 7d) → `until` (else now).

        Commands pass it on, so the window they state is exactly the one they read.
        """
        now = now or datetime.now(UTC)
        default = self.saved_query(query).parameter("since") if query else None
        start = window.parse_time(since if since is not None else (default.default if default else window.DEFAULT_SINCE), now)
        return start, window.parse_time(until if until is not None else "now", now)

    def spans(self) -> dict[str, tuple[datetime, datetime]]:
        """Per cluster, the first and last event the lake holds (from the manifest: no scan)."""
        spans: dict[str, tuple[datetime, datetime]] = {}
        for record in self.store.load_manifest().files.values():
            first, last = datetime.fromisoformat(record.min_received_at), datetime.fromisoformat(record.max_received_at)
            known = spans.get(record.cluster)
            spans[record.cluster] = (min(first, known[0]), max(last, known[1])) if known else (first, last)
        return spans

    def _warn_if_window_empty(self, connection: duckdb.DuckDBPyConnection, since: datetime, until: datetime, cluster: str | None) -> None:
        """Warn when the window holds no event at all: the answer was empty because nothing was looked at."""
        if not connection.execute(WINDOW_HAS_EVENTS, {"since": since, "until": until, "cluster": cluster}).fetchall()[0][0]:
            warnings.warn(EmptyWindowWarning(since, until, cluster, self.spans()), stacklevel=3)

    def resources(self) -> set[str]:
        """Every resource (plural, as the API names it: deployments) the lake's events name (cached until its files change)."""
        files = tuple(sorted(self.store.load_manifest().files))
        if self._resource_cache is None or self._resource_cache[0] != files:
            names = self.sql_arrow("SELECT DISTINCT resource FROM events WHERE resource IS NOT NULL AND resource <> ''")
            self._resource_cache = (files, set(names.column("resource").to_pylist()))
        return self._resource_cache[1]

    def require_resource(self, resource: str | None) -> None:
        """Refuse a resource no event names (`deployment`, `Deployment`, a typo): it would give an empty, falsely clean answer.

        For what a user typed (`changes --kind`, `history RESOURCE/…`); a report pack may name a resource a lake never saw.
        """
        if resource is None or resource in (known := self.resources()):
            return
        raise QueryError(f"no events of resource {resource!r} in {self.path}",
                         hint=hint(resource.lower(), known, "resources are plural and lower case (deployments); "
                                   "list them: auditlake sql \"select distinct resource from events\""))

    def query(self, name: str, /, *, since: Any = None, until: Any = None, **params: Any) -> pl.DataFrame:
        """Run a saved query: `lake.query("secret-reads-by-humans", since="7d")`, a polars DataFrame."""
        import polars as pl

        return pl.from_arrow(self.query_arrow(name, since=since, until=until, **params))  # type: ignore[return-value]

    # ---- change history -------------------------------------------------------------------------
    def history_entries(self, resource: str, namespace: str | None, name: str, *, since: Any = None, until: Any = None,
                        cluster: str | None = None, keep_noise: bool = False, include_status: bool = False) -> list[HistoryEntry]:
        """The timeline of one object: every successful write in the window, each with its diff.

        One timeline per cluster (without `cluster`, every cluster that wrote the object), the entries
        of each together and oldest first; `history.by_cluster` splits them. States before the window
        are read too (only this object's rows), so the first change in the window is diffed against
        what the object really was in its cluster.
        """
        start = window.parse_time(since or "90d")
        self.require_resource(resource)
        object_ = {"cluster": cluster, "resource": resource, "namespace": namespace or "", "name": name}
        # Read from the last write that showed the whole object before the window (looking back up to
        # HISTORY_LOOKBACK), not from the beginning of time: enough to diff the window's first change.
        # Each cluster has its own last state: read from the earliest, so none of them starts too late.
        anchors = self._run_query("object-last-state", since=start - HISTORY_LOOKBACK, until=start, **object_).column("at").to_pylist()
        rows = self._run_query("object-history", since=min(anchors, default=start), until=until, include_status=include_status,
                               **object_).to_pylist()
        if not rows:
            raise QueryError(f"no writes to {history.object_label(resource, namespace, name)}"
                             + (f" in cluster {cluster}" if cluster else "") + f" in {window_text(start, window.parse_time(until or 'now'))}",
                             hint=f"{where_data_lies(self.spans(), cluster)}; check the spelling, --cluster and --since")
        return history.build_timeline(rows, keep_noise=keep_noise, keep_status=include_status, since=start)

    def history(self, resource: str, namespace: str | None, name: str, **options: Any) -> pl.DataFrame:
        """`lake.history("deployments", "payments", "api")`: the timeline as a DataFrame, an RFC 6902 patch per row."""
        entries = self.history_entries(resource, namespace, name, **options)
        import polars as pl

        return pl.from_arrow(history.to_table(entries))  # type: ignore[return-value]

    def changes(self, *, since: Any = "24h", until: Any = None, resource: str | None = None, namespace: str | None = None,
                cluster: str | None = None, include_noise: bool = False) -> list[tuple[tuple[str, str, str | None, str], list[HistoryEntry]]]:
        """Every object changed in the window with its changes, each summarised in one line; an object is
        `(cluster, resource, namespace, name)`, so each timeline is one cluster's.

        Writes that are noise (`is_noise_write`: leases, events, reviews) are left out unless `include_noise`
        or `resource` names them, and counted in a `NoiseLeftOutWarning`.
        """
        start = window.parse_time(since)
        include_noise = include_noise or resource is not None  # asked for by name: not noise to this reader
        rows = self.query_arrow("changed-objects", since=since, until=until, cluster=cluster, resource=resource,
                                namespace=namespace, include_noise=include_noise).to_pylist()
        if not include_noise:
            noise = self._run_query("noise-writes", since=since, until=until, cluster=cluster, namespace=namespace).to_pylist()
            if noise:
                warnings.warn(NoiseLeftOutWarning({row["resource"]: row["writes"] for row in noise}), stacklevel=2)
        return history.group_changes(rows, since=start)

    # ---- least privilege (RBAC) -----------------------------------------------------------------
    def rbac_suggest(self, *, user: str | None = None, serviceaccount: str | None = None, since: Any = "90d", until: Any = None,
                     cluster: str | None = None, namespace: str | None = None, expand_verbs: bool = True, expand_names: bool = True,
                     expand_namespaces: bool = True, include_denied: bool = True, name: str | None = None,
                     now: datetime | None = None) -> rbac.Suggestion:
        """The Roles, ClusterRole and bindings that cover what `user` (or `serviceaccount` NS:NAME) did in the window, audit2rbac's way.

        `.yaml` is the RBAC YAML, each rule annotated with the requests it covers. The `expand_*` switches widen as audit2rbac
        does (all on): verbs (list → get/list/watch), names (several objects → all), namespaces (several → cluster-wide);
        `include_denied` counts denied requests as needs. A subject without requests in the window is an error.
        """
        subject = rbac.subject_for(user, serviceaccount)
        self._require_cluster(cluster)
        self._require_namespaces(namespace)
        start, end = self.window(since, until, now=now)
        options = rbac.SuggestOptions(expand_verbs, expand_names, expand_namespaces, include_denied, name or "")
        with self._connection() as connection:
            return rbac.read_suggestion(connection, self.library.queries, subject, since=start, until=end, cluster=cluster, namespace=namespace,
                                        options=options, where_data_lies=where_data_lies(self.spans(), cluster))

    def rbac_unused(self, *, since: Any = "90d", until: Any = None, cluster: str | None = None, subject: str | None = None,
                    now: datetime | None = None) -> rbac.UnusedGrants:
        """What each subject is granted at the end of the window (from the RBAC writes the lake holds) against what it used in it.

        Each grant is `used`, `unused` or `unknown` (the lake never saw the role's or binding's body: it says why, and never
        calls such a grant unused). `subject`: one user name (`system:serviceaccount:NS:NAME` for a service account).
        """
        self._require_cluster(cluster)
        start, end = self.window(since, until, now=now)
        with self._connection() as connection:
            return rbac.read_unused(connection, self.library.queries, since=start, until=end, cluster=cluster, subject=subject)

    # ---- detections -----------------------------------------------------------------------------
    def detect(self, *, since: Any = "24h", until: Any = None, cluster: str | None = None, rules: list[str] | None = None,
               min_severity: str | None = None, write: bool = False, compare: bool = False, now: datetime | None = None,
               params: dict[str, Any] | None = None) -> DetectionRun:
        """Run the detections (all, or `rules`, at `min_severity` or above) over a window; `write` keeps the findings in the lake.

        `params` tunes single rules: `{"disallowed-user.allowed_users": ["admin", "alice"]}`; `{"RULE.enabled": True}`
        runs a detection upstream ships disabled (`enabled: false` in its header) without naming it. `compare`
        (implied by `write`) fills `result.new`: the findings the lake did not hold yet. A scheduled
        run that alerts on `new` should not `write` here but call `keep_findings` once the alert is
        out: a finding becomes "seen" only after it was delivered.
        """
        available = detections(self.library.queries)
        chosen = choose(self.library.queries, rules, min_severity, switches(available, params or {}))
        names = {rule.name for rule in chosen}
        tuned = {name: values for name, values in tuning(available, params or {}).items() if name in names}  # a file may tune others
        self._require_cluster(cluster)
        start, end = self.window(since, until, now=now)
        with self._connection() as connection:
            result = run_detections(connection, chosen, since=start, until=end, cluster=cluster, now=now, params=tuned)
        if result.window_has_events is False:  # no findings in no events proves nothing
            warnings.warn(EmptyWindowWarning(start, end, cluster, self.spans()), stacklevel=2)
        if write or compare:
            result.new = unseen_findings(self.store, result.findings)
        if write:
            self.keep_findings(result)
        return result

    def keep_findings(self, result: DetectionRun) -> int:
        """Write a run's findings back to the lake (the `findings` view); how many were new. Reruns add nothing twice."""
        with self.store.write_lock():
            result.written = write_findings(self.store, result.findings, version=version())
            catalog.build_catalog(self.store, catalog_items())
            self._follow_publications()
        return result.written

    def detect_arrow(self, **options: Any) -> pa.Table:
        """The findings of `detect(...)` as an Arrow table."""
        return self.detect(**options).findings

    # ---- compliance reports ---------------------------------------------------------------------
    def report(self, pack: str, *, since: Any = "30d", until: Any = None, cluster: str | None = None,
               params: dict[str, Any] | None = None, tuning: str | Path | None = None, now: datetime | None = None,
               require_verified: bool = False) -> build.Report:
        """Run a report pack (`pci-dss`, `hipaa`, `change-log`, `security-findings` or a YAML path) over one window.

        `params`: the pack's parameters, and `QUERY.PARAM` values; `tuning`: a tuning file (as for `detect`).
        The evidence carries the lake's verification at generation time (`verify`); `require_verified`
        refuses a lake that fails it.
        """
        report = self._report(pack, since=since, until=until, cluster=cluster, params=params, tuning=tuning, now=now)
        report.evidence.integrity = self.integrity_evidence()
        if require_verified and not report.evidence.integrity["verified"]:
            raise IntegrityError(f"{self.path}: the lake does not verify ({report.evidence.integrity['problems']} problem(s), first: "
                                 f"{report.evidence.integrity['first_problems'][0]}); no report was written",
                                 hint=f"run `auditlake verify --lake {self.path}` for every problem")
        return report

    def integrity_evidence(self) -> dict[str, Any]:
        """What a report says of the lake's integrity: `verify`'s result now, the chain head, who signed it, how to re-check."""
        return build.integrity_evidence(self.verify(), lake=str(self.path))

    def _report(self, pack: str, *, since: Any, until: Any, cluster: str | None, params: dict[str, Any] | None,
                tuning: str | Path | None, now: datetime | None) -> build.Report:
        self._require_cluster(cluster)
        self._require_namespaces((params or {}).get("namespaces"))
        library = self.library
        the_pack = packs.load(pack, library)
        if any(check.changes for section in the_pack.sections for check in section.checks):
            self._require_namespaces((params or {}).get("namespace"))  # the change history refuses a namespace no event names
        with warnings.catch_warnings(), self._connection() as connection:  # a report states an empty window itself, once
            warnings.simplefilter("ignore", AuditlakeWarning)
            return build.build(connection, self.store.load_manifest(), library, the_pack, lake=str(self.path), since=since,
                               until=until, cluster=cluster, params=params, tuning_file=load_tuning(Path(tuning)) if tuning else None,
                               now=now, version=version())

    # ---- review evidence ------------------------------------------------------------------------
    def review(self, target: str, *, by: str, note: str, accept: bool = False, since: Any = "30d", until: Any = None,
               cluster: str | None = None, params: dict[str, Any] | None = None, tuning: str | Path | None = None,
               now: datetime | None = None) -> review.Review:
        """Record who reviewed a report section (`pci-dss:10.2.1.3`) or a finding (`QUERY:AUDIT_ID`), when and why (PCI-DSS 10.4.1).

        A section is run over the window, cluster and parameters of the report reviewed (as `report` takes
        them); `accept` covers the rows that need attention there, and later reports show the section accepted
        until such a row changes or a new one appears. The review is committed like a batch (the `reviews` view).
        """
        review.require_reviewer(by, note)
        self.store.require()
        loaded = {name: packs.load(name) for name in packs.available()}
        own = target.split(":", 1)[0]
        if own.endswith((".yaml", ".yml")):  # a pack of your own, by its path: reviews name it by its stem, as its reports do
            loaded[own] = packs.load(own)
        chosen = review.resolve_target(target, {name: [s.control for s in pack.sections] for name, pack in loaded.items()},
                                       [query.name for query in self.saved_queries()],
                                       {name: [s.control for s in pack.sections if s.each] for name, pack in loaded.items()})
        evidence: dict[str, list[str]] = {}
        start = end = None
        if chosen.kind == "section":
            self._require_cluster(cluster)
            self._require_namespaces((params or {}).get("namespaces"))
            pack = loaded[chosen.pack or ""]
            chosen = dataclasses.replace(chosen, pack=pack.name)
            with self._connection() as connection:
                section, start, end = build.checked_section(
                    connection, self.library, pack, chosen.control or "", since=since, until=until, cluster=cluster, params=params,
                    tuning_file=load_tuning(Path(tuning)) if tuning else None, now=now)
            evidence = build.section_evidence(section)
        else:
            with self._connection() as connection:
                found, kept = build.finding_audit_ids(connection, chosen.query or "", chosen.audit_id or "")
            if not found:
                raise review.unknown_finding(chosen, kept)
        record = review.new_review(chosen, reviewer=by, note=note, accepted=accept, evidence=evidence, since=start, until=end,
                                   cluster=cluster, now=now, version=version())
        with self.store.write_lock():
            write_review(self.store, record.id, review.to_json(record), target=record.target, reviewed_at=record.reviewed_at.isoformat(),
                         version=version())
            catalog.build_catalog(self.store, catalog_items())
        return record

    # ---- audit policy ---------------------------------------------------------------------------
    def policy_needs(self, purpose: str | None = None) -> list[tuple[SavedQuery, Need]]:
        """What the saved queries need from the audit policy (only those evidencing `purpose`, e.g. pci-dss)."""
        return self.library.needs(purpose)

    def policy_simulate(self, the_policy: policy.Policy, *, since: Any = "7d", until: Any = None,
                        cluster: str | None = None) -> policy.PolicySimulation:
        """What `the_policy` would have logged of the events in the lake, and what the saved queries would lose."""
        shapes = self._request_shapes(the_policy, since=since, until=until, cluster=cluster)
        return policy.simulate(the_policy, shapes, [(query.name, need) for query, need in self.policy_needs()])

    def policy_explain_events(self, the_policy: policy.Policy, *, since: Any = "7d", until: Any = None,
                              cluster: str | None = None) -> pa.Table:
        """For each request shape in the lake: the level it was logged at and the level (and rule) the policy gives."""
        return pa.Table.from_pylist(policy.explain_events(the_policy, self._request_shapes(the_policy, since=since, until=until,
                                                                                            cluster=cluster)))

    def _request_shapes(self, the_policy: policy.Policy, *, since: Any, until: Any, cluster: str | None) -> list[dict[str, Any]]:
        """Each kind of stored request (the `request-shapes` query), with object names when `the_policy` names objects."""
        return self.query_arrow("request-shapes", since=since, until=until, cluster=cluster,
                                with_names=policy.uses_resource_names(the_policy)).to_pylist()

    def status(self) -> LakeStatus:
        """Clusters, days, events, first/last event, and quarantined lines."""
        manifest = self.store.load_manifest()
        with self._connection() as connection:  # one catalog opened for the three questions (each open costs ~0.1 s)
            rows = _dicts(connection.sql(
                "SELECT cluster, count(DISTINCT date) AS days, count(*) AS events, min(received_at) AS first_at, "
                "max(received_at) AS last_at FROM events GROUP BY cluster ORDER BY cluster"))
            reasons = _dicts(connection.sql("SELECT reason, count(*) AS lines FROM quarantine GROUP BY reason ORDER BY lines DESC, reason"))
            findings = _dicts(connection.sql("SELECT rule, count(*) AS n FROM findings GROUP BY rule ORDER BY n DESC, rule"))
        clusters = [ClusterStatus(row["cluster"], row["days"], row["events"], _iso(row["first_at"]), _iso(row["last_at"])) for row in rows]
        ingests = [batch.committed_at for batch in manifest.batches if batch.kind == "ingest"]
        return LakeStatus(
            lake=str(self.path), clusters=clusters, events=sum(c.events for c in clusters), files=len(manifest.files),
            bytes=sum(f.bytes for f in manifest.files.values()), sources=len(manifest.sources), batches=len(manifest.batches),
            last_ingest_at=max(ingests) if ingests else None, quarantined=sum(r["lines"] for r in reasons),
            quarantine_reasons={r["reason"]: r["lines"] for r in reasons}, findings={r["rule"]: r["n"] for r in findings},
        )

    def completeness(self, *, since: Any = None, until: Any = None, cluster: str | None = None, threshold: Any = None) -> pa.Table:
        """The completeness statement per cluster and UTC day (the `stream-completeness` query, PCI-DSS 10.2.1/10.2.2):
        requests without a final stage, the longest silence and those over `threshold` (default 15m), and what the
        audit level could not record. Without `since`/`until` it covers the whole lake (from the manifest: no scan).
        """
        spans = [span for name, span in self.spans().items() if cluster in (None, name)]
        if spans:
            since = since if since is not None else min(first for first, _ in spans)
            until = until if until is not None else max(last for _, last in spans) + timedelta(microseconds=1)  # [since, until): the last event too
        return self.query_arrow("stream-completeness", since=since, until=until, cluster=cluster, threshold=threshold)

    # ---- demo -----------------------------------------------------------------------------------
    def demo(self, log_dir: str | Path, *, requests: int = 100_000, seed: int = 7, cluster: str = "demo",
             start: datetime | None = None, on_progress: Callable[[Progress], None] | None = None) -> DemoResult:
        """Simulate a cluster's audit log in `log_dir` (as the apiserver writes it), then ingest it.

        The simulated three days end about now unless `start` is given (tests pin it).
        """
        log_path = Path(log_dir)
        for stale in list(log_path.glob("audit*.log*")) if log_path.is_dir() else []:
            stale.unlink()  # a fresh simulation replaces the last one; the lake dedupes what it already has
        truth = demo.write_audit_log(log_path, requests, seed=seed, max_size_mb=max(4.0, requests / 4_000),
                                     start=start or demo.recent_start())
        result = self.ingest([log_path], cluster=cluster, on_progress=on_progress)
        return DemoResult([str(path) for path in truth.files], truth.requests, truth.events, result)


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _dicts(relation: duckdb.DuckDBPyRelation) -> list[dict[str, Any]]:
    """A small result as dicts, fetched by DuckDB itself: Arrow's `to_pylist` imports pandas for zoned times (0.35 s)."""
    return [dict(zip(relation.columns, row, strict=True)) for row in relation.fetchall()]


def new_signing_key(path: str | Path) -> tuple[Path, Path, str]:
    """Write a new Ed25519 signing key to `path` (0600) and its public key to `path.pub`; both paths and the fingerprint."""
    key = digests.generate_key_pair(Path(path).expanduser())
    return key.path, key.path.with_name(key.path.name + ".pub"), key.fingerprint


def short_fingerprint(fingerprint: str) -> str:
    """A key fingerprint as people compare them: `3f9a…c1` (`unsigned` stays)."""
    return digests.short(fingerprint)
