"""Detections: the saved queries under `queries/detections/`, run together over one window.

Owns: choosing which detections run (by name, minimum severity, and whether they are enabled: a rule upstream
ships disabled says `enabled: false` and runs only when named or switched on with `RULE.enabled=true`), running them with one shared
window, and stacking their findings (every detection returns the same columns, `FINDING_COLUMNS`;
`rule` and `severity` come from the file's name and header, see `SavedQuery.statement`). The rules
themselves are SQL files; their headers say which Falco, Sigma and Panther rules they reproduce, and audit each
against upstream's default condition (`audit:`, rendered by `audit_table`).
Writing findings back is the store's job (`store.findings.write_findings`).
"""

from __future__ import annotations

import queue
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from auditlake import duck, window
from auditlake.contract import FINDING_COLUMNS
from auditlake.errors import QueryError
from auditlake.library.binding import bind, run
from auditlake.library.savedquery import DETECTIONS_TOPIC, ENGINES, SEVERITIES, SavedQuery, normalise_name, saved_queries
from auditlake.library.shared_window import reads_only_its_window, shared_window
from auditlake.library.suggest import hint

if TYPE_CHECKING:
    import duckdb

TOPIC = DETECTIONS_TOPIC
# What `detect`'s table shows of each finding: where, who and what, and the audit id that `auditlake event ID` opens.
TABLE_COLUMNS = ("received_at", "cluster", "severity", "rule", "actor", "summary", "audit_id")
SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}
SIDE_BY_SIDE = 2  # detections executing at a time (each statement also runs on all of DuckDB's threads)
# Stops at the first event: no findings in a window without events proves nothing.
WINDOW_HAS_EVENTS = ("SELECT EXISTS (SELECT 1 FROM events WHERE in_window(received_at, date, $since, $until) "
                     "AND ($cluster IS NULL OR cluster = $cluster))")


@dataclass
class DetectionRun:
    findings: pa.Table  # FINDING_COLUMNS + found_at, ordered by time
    rules: list[SavedQuery]  # the detections that ran
    counts: dict[str, int]  # findings per rule (every rule that ran, zeros included)
    written: int | None = None  # new rows written back (None when not asked)
    new: pa.Table | None = None  # with write: the findings the lake did not hold before this run
    window_has_events: bool | None = None  # no findings in no events proves nothing

    def by_rule(self) -> pa.Table:
        """One row per detection that fired: how many findings, how many actors, first and last, worst first."""
        grouped = self.findings.group_by(["rule", "severity"]).aggregate(
            [("audit_id", "count"), ("actor", "count_distinct"), ("received_at", "min"), ("received_at", "max")])
        table = pa.table({"severity": grouped["severity"], "rule": grouped["rule"], "findings": grouped["audit_id_count"],
                          "actors": grouped["actor_count_distinct"], "first": grouped["received_at_min"], "last": grouped["received_at_max"]})
        rank = pa.array([-SEVERITY_RANK[value] for value in table["severity"].to_pylist()], pa.int8())
        return table.append_column("rank", rank).sort_by([("rank", "ascending"), ("findings", "descending"), ("rule", "ascending")]).drop(["rank"])

    def at_least(self, severity: str) -> int:
        """How many findings are at `severity` or above."""
        floor = SEVERITY_RANK[severity]
        return sum(1 for value in self.findings.column("severity").to_pylist() if SEVERITY_RANK[value] >= floor)


def detections(library: dict[str, SavedQuery]) -> list[SavedQuery]:
    return [query for query in saved_queries(library) if query.topic == TOPIC]


def choose(library: dict[str, SavedQuery], names: list[str] | None = None, min_severity: str | None = None,
           switched: dict[str, bool] | None = None, *, include_disabled: bool = False) -> list[SavedQuery]:
    """The detections to run: those enabled (a header's `enabled: false`, as upstream ships the rule, unless `switched`
    on by tuning, `RULE.enabled=true`; `switched` off likewise), or those named, whatever their header says; at
    `min_severity` or above. `include_disabled` keeps the disabled ones too (`detect --list`)."""
    available = {query.name: query for query in detections(library)}
    if min_severity is not None and min_severity not in SEVERITY_RANK:
        raise QueryError(f"severity must be one of {', '.join(SEVERITIES)}, not {min_severity!r}")
    switched = switched or {}
    chosen = [query for query in available.values() if include_disabled or switched.get(query.name, query.enabled)]
    if names:
        chosen = []
        for name in names:
            key = normalise_name(name)
            if key not in available:
                raise QueryError(f"no detection named {name!r}", hint=hint(key, available, "list them with `auditlake detect --list`"))
            chosen.append(available[key])
    if min_severity is not None:
        chosen = [query for query in chosen if SEVERITY_RANK[query.severity] >= SEVERITY_RANK[min_severity]]
    return chosen


def run_detections(connection: duckdb.DuckDBPyConnection, rules: list[SavedQuery], *, since: Any, until: Any, cluster: str | None,
                   now: datetime | None = None, params: dict[str, dict[str, Any]] | None = None, share_scans: bool = True) -> DetectionRun:
    """Every rule over the same [since, until) window (with `params[rule]` for its own); findings stacked, ordered by time.

    `share_scans` materialises the shared views several rules read once for the window (from as far back as the detections
    over history that read them reach), and the final requests the rules' own conditions can read (`shared_window`); the
    findings are the same without it, only slower.
    """
    now = now or datetime.now(UTC)
    start, end = window.parse_time(since, now), window.parse_time(until or "now", now)
    tables, counts = [], {}
    window_values = {"since": start, "until": end, **({"cluster": cluster} if cluster else {})}
    values = {rule.name: bind(rule, {**(params or {}).get(rule.name, {}), **window_values}, now) for rule in rules}

    def detect(chosen: Sequence[SavedQuery], cursor: Callable[[], duckdb.DuckDBPyConnection]) -> None:
        for rule, table in zip(chosen, side_by_side(chosen, values, cursor), strict=True):
            if tuple(table.column_names) != FINDING_COLUMNS:
                shown = ", ".join(name for name in FINDING_COLUMNS if name not in ("rule", "severity"))
                raise QueryError(f"{rule.name} must return {shown} (rule and severity come from its name and header)", path=rule.path)
            counts[rule.name] = table.num_rows
            if table.num_rows:
                tables.append(table.cast(_schema(table.schema)))

    in_window = [rule for rule in rules if reads_only_its_window(rule)]
    over_history = [rule for rule in rules if not reads_only_its_window(rule)]
    with shared_window(connection, in_window if share_scans else [], since=start, until=end, cluster=cluster, values=values,
                       history=over_history if share_scans else []) as shared:
        detect(shared.rules if share_scans else in_window, lambda: shared.cursor(connection))
        shared.release()  # the history's detections read the lake's final requests, not the window's table: its memory is theirs
        detect(shared.history, lambda: shared.cursor(connection))
    ran_inside = {rule.name for rule in shared.history}
    detect([rule for rule in over_history if rule.name not in ran_inside], lambda: duck.cursor(connection))
    findings = pa.concat_tables(tables) if tables else _schema(None).empty_table()
    findings = findings.sort_by([("received_at", "ascending"), ("rule", "ascending"), ("audit_id", "ascending")])
    found_at = _repeated_instant(now, findings.num_rows)
    has_events = connection.execute(WINDOW_HAS_EVENTS, {"since": start, "until": end, "cluster": cluster}).fetchall()[0][0]
    return DetectionRun(findings.append_column("found_at", found_at), rules, counts, window_has_events=has_events)


def side_by_side(rules: Sequence[SavedQuery], values: dict[str, dict[str, Any]],
                 cursor: Callable[[], duckdb.DuckDBPyConnection]) -> Iterator[pa.Table]:
    """Each rule's result, in the order of `rules`, with `SIDE_BY_SIDE` of them executing at a time, each on its own
    `cursor()` (DuckDB runs one statement at a time per connection): one statement's single-threaded parts — binding,
    planning, a pipeline's last task — overlap another's work. The first error stops the run, as it would one by one."""
    if not rules:
        return
    idle: queue.SimpleQueue[duckdb.DuckDBPyConnection] = queue.SimpleQueue()
    opened = [cursor() for _ in range(min(SIDE_BY_SIDE, len(rules)))]
    for each in opened:
        idle.put(each)

    def on_a_cursor(rule: SavedQuery) -> pa.Table:
        taken = idle.get()
        try:
            return run(taken, rule, values[rule.name])
        finally:
            idle.put(taken)

    pool = ThreadPoolExecutor(len(opened), thread_name_prefix="detect")
    try:
        for result in [pool.submit(on_a_cursor, rule) for rule in rules]:
            yield result.result()
    except BaseException:
        for each in opened:
            each.interrupt()  # a statement still executing stops now, not when it ends
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        for each in opened:
            each.close()


def _repeated_instant(instant: datetime, length: int) -> pa.Array:
    """`instant` `length` times as Arrow microseconds, built from bytes: converting Python objects makes pyarrow import
    pandas when it is installed (0.5 s of a run)."""
    zoned = instant if instant.tzinfo else instant.replace(tzinfo=UTC)  # a naive time is UTC, as Arrow reads one
    micros = (zoned - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    return pa.Array.from_buffers(pa.timestamp("us", tz="UTC"), length, [None, pa.py_buffer(micros.to_bytes(8, "little", signed=True) * length)])


def _schema(like: pa.Schema | None) -> pa.Schema:
    timestamp = like.field("received_at").type if like is not None else pa.timestamp("us", tz="UTC")
    return pa.schema([(name, timestamp if name == "received_at" else pa.string()) for name in FINDING_COLUMNS])


def audit_table(library: dict[str, SavedQuery]) -> str:
    """The README's audit: each upstream rule a detection reproduces, upstream's default condition, ours with default
    parameters, and the difference, generated from the headers' `audit:` entries (with the parameters that give
    exactly that rule, when they differ from the defaults)."""
    lines = ["| rule | upstream default | ours | difference |", "|---|---|---|---|"]
    for query in detections(library):
        for engine in ENGINES:
            for rule in query.reproduces.get(engine, ()):
                entry = query.audit.get(rule)
                if entry is None:
                    continue
                exact = ", ".join(f"{name}={_shown(value)}" for name, value in entry["params"].items())
                difference = entry["difference"] + (f" Exactly upstream's: `{exact}`." if exact else "")
                cells = [f"`{query.name}`: {engine.capitalize()} *{rule}*", entry["upstream"], entry["ours"], difference]
                lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines)


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return (",".join(str(item) for item in value) if len(value) <= 4 else f"[{len(value)} values: the header's audit]") if value else "(empty)"
    return str(value)


def markdown_table(library: dict[str, SavedQuery]) -> str:
    """The README's list of detections and the upstream rules each reproduces, generated from the headers."""
    lines = ["| detection | severity | ATT&CK | Falco | Sigma | Panther |", "|---|---|---|---|---|---|"]
    for query in (query for query in detections(library) if not query.stateful):  # ours over history: `stateful_markdown_table`
        cells = [", ".join(query.reproduces.get(engine, ())) or "" for engine in ENGINES]
        name = f"`{query.name}`" + ("" if query.enabled else " (off by default, as upstream)")
        lines.append(f"| {name} | {query.severity} | {', '.join(query.mitre)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def stateful_markdown_table(library: dict[str, SavedQuery]) -> str:
    """The README's list of the detections over history (`stateful:`): their kind, parameters of their own and title."""
    lines = ["| detection | kind | severity | ATT&CK | parameters | finds |", "|---|---|---|---|---|---|"]
    shared = {"since", "until", "cluster", "baseline", "admin_groups", "admin_users", "ignore_system_principals", "admins_are_people"}
    for query in (query for query in detections(library) if query.stateful):
        own = ", ".join(f"`{p.name}` ({_default_text(p.default)})" for p in query.params if p.name not in shared)
        lines.append(f"| `{query.name}` | {query.stateful} | {query.severity} | {', '.join(query.mitre)} | {own} | {query.title} |")
    return "\n".join(lines)


def _default_text(value: Any) -> str:
    """A parameter's default as a header spells it: `cluster-admin`, `true`, `15m`."""
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value).lower() if isinstance(value, bool) else str(value)
