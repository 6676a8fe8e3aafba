"""Compliance reports: a pack's checks run over one window of the lake, with the evidence to re-run them.

Built from a DuckDB connection to the catalog, the lake's manifest and the saved-query library;
never from the `Lake` (which calls this module, so importing it would be a cycle).

Owns: turning a `packs.Pack` into a `Report` (every check's result table, whether it needs
attention, the exact SQL and values behind it), applying the lake's reviews to it (an accepted
section or finding no longer needs attention while its evidence is unchanged, see review.py) and
the evidence block (window, clusters, event counts, coverage gaps, auditlake version, the sha256 of
every input file the manifest knows). Renders nothing: `render/report.py` turns a `Report` into
HTML, Markdown, CSV and JSON.
"""

from __future__ import annotations

import dataclasses
import hashlib
import shlex
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import pyarrow as pa

from auditlake import duck, history, rbac, window
from auditlake.errors import QueryError, window_text
from auditlake.library import Library, SavedQuery
from auditlake.library.binding import bind, run, tuning
from auditlake.reports import packs, review


@dataclass
class CheckResult:
    check: packs.Check
    table: pa.Table  # every row (HTML/Markdown show `check.limit` of them)
    flagged: int  # rows that need attention (1 for an empty result under `attention: no rows`)
    status: str
    sql: str  # the saved query as run (or what the change history reads)
    source: str  # the query file, relative to the project
    values: dict[str, Any]  # the bound parameters
    changes: list[tuple[tuple[str, str, str | None, str], list[history.HistoryEntry]]] | None = None
    empty_window: bool = False  # the window held no events: a check that found nothing cannot pass
    attention_rows: tuple[int, ...] = ()  # the rows of `table` that need attention, before any review
    accepted: int = 0  # rows needing attention that a review accepted (not in `flagged`)
    accepted_rows: frozenset[str] = frozenset()  # their digests (review.row_digest)

    @property
    def name(self) -> str:
        if self.check.rbac is not None:
            return self.check.rbac.name
        return self.check.query or f"changes-{self.check.changes['resource'] if self.check.changes else ''}"

    def needing_attention(self) -> list[str]:
        """The digests of the rows that need attention (before reviews): the evidence an acceptance covers."""
        if self.check.attention == "no rows":
            return [review.NO_ROWS] if self.table.num_rows == 0 else []
        return [review.row_digest(row) for row in self.table.take(list(self.attention_rows)).to_pylist()] if self.attention_rows else []


@dataclass
class SectionResult:
    section: packs.Section
    checks: list[CheckResult]
    review: review.ItemState | None = None  # the section's reviews, applied to what this report found

    @property
    def status(self) -> str:
        statuses = {check.status for check in self.checks}
        return ("attention" if "attention" in statuses else "accepted" if "accepted" in statuses
                else "pass" if "pass" in statuses else "evidence")


@dataclass
class Evidence:
    """What an auditor needs to trust and re-run the report."""

    generated_at: datetime
    auditlake_version: str
    lake: str
    since: datetime
    until: datetime
    cluster: str | None
    params: dict[str, Any]
    command: str
    pack_file: str
    pack_sha256: str
    clusters: list[dict[str, Any]]  # cluster, events, requests, first_at, last_at (in the window)
    gaps: list[dict[str, Any]]  # silences longer than 15 minutes in the window, inside each cluster's own span
    sources: list[dict[str, Any]]  # input files: names, cluster, sha256, lines, events, whole
    files: list[dict[str, Any]]  # the lake's Parquet files holding the window, with sha256
    integrity: dict[str, Any] = field(default_factory=dict)  # `verify` at generation time: chain head, signers, result (Lake.report)

    @property
    def events(self) -> int:
        return sum(row["events"] for row in self.clusters)

    def gap_summary(self) -> list[dict[str, Any]]:
        """Per cluster: how many coverage gaps, their total and the longest silence (in minutes)."""
        summary: dict[str, dict[str, Any]] = {}
        for gap in self.gaps:
            entry = summary.setdefault(gap["cluster"], {"cluster": gap["cluster"], "gaps": 0, "total_minutes": 0.0, "longest_minutes": 0.0})
            entry["gaps"] += 1
            entry["total_minutes"] += gap["silence_minutes"] or 0
            entry["longest_minutes"] = max(entry["longest_minutes"], gap["silence_minutes"] or 0)
        return [summary[name] for name in sorted(summary)]

    def longest_gaps(self, count: int) -> list[dict[str, Any]]:
        """The `count` longest coverage gaps, longest first."""
        return sorted(self.gaps, key=lambda gap: (-(gap["silence_minutes"] or 0), gap["cluster"], gap["gap_start"]))[:count]


@dataclass
class Report:
    pack: packs.Pack
    sections: list[SectionResult]
    evidence: Evidence
    stem: str = field(default="")  # the dated file name, without extension

    @property
    def status(self) -> str:
        """`attention` when a section needs it; else `pass` when a section passed or was accepted in review; else `evidence`."""
        statuses = {section.status for section in self.sections}
        return "attention" if "attention" in statuses else "pass" if statuses & {"pass", "accepted"} else "evidence"

    def count(self, status: str) -> int:
        return sum(1 for section in self.sections if section.status == status)

    @property
    def reviewed(self) -> bool:
        """Whether any section (or a finding in it) has a review."""
        return any(section.review is not None and section.review.reviews for section in self.sections) or any(
            result.accepted for section in self.sections for result in section.checks)


def build(connection: duckdb.DuckDBPyConnection, manifest: Any, library: Library, pack: packs.Pack, *, lake: str,
          since: Any = "30d", until: Any = None, cluster: str | None = None, params: dict[str, Any] | None = None,
          tuning_file: dict[str, Any] | None = None, now: datetime | None = None, version: str = "") -> Report:
    """Run every check of `pack` over [since, until) — one fixed window for all of them — and gather evidence.

    `connection` reads the lake's catalog (one connection for every check), `manifest` is the lake's
    (`lake` names it in the evidence). `params` holds the pack's parameters and `QUERY.PARAM` values
    for its queries; `tuning_file` the `QUERY.PARAM` values of a team's tuning file, of which those
    for queries this pack runs apply.
    """
    now = now or datetime.now(UTC)
    start, end = window.window(since, until, now)
    sections, values = _run_sections(connection, library, pack, start, end, cluster, params, tuning_file)
    reviews = [review.from_row(row) for row in connection.sql("SELECT * FROM reviews").to_arrow_table().to_pylist()]
    evidence = _evidence(connection, manifest, library, lake, pack, start, end, cluster, values, now, version)
    if evidence.events == 0:  # finding nothing in no events proves nothing: an auditor must not read "pass"
        for result in (result for section in sections for result in section.checks if result.status == "pass"):
            result.status, result.empty_window = "attention", True
    apply_reviews(pack.name, sections, reviews)
    return Report(pack, sections, evidence, stem=output_stem(pack.name, cluster, end))


def checked_section(connection: duckdb.DuckDBPyConnection, library: Library, pack: packs.Pack, control: str, *, since: Any = "30d",
                    until: Any = None, cluster: str | None = None, params: dict[str, Any] | None = None,
                    tuning_file: dict[str, Any] | None = None, now: datetime | None = None) -> tuple[SectionResult, datetime, datetime]:
    """One section of `pack` run as `build` runs it (same window and values), before reviews: what a reviewer accepts.

    Returns the section and the window it covered.
    """
    start, end = window.window(since, until, now or datetime.now(UTC))
    repeated = next((section.control for section in pack.sections if section.each and control.startswith(f"{section.control}/")), None)
    sections, _ = _run_sections(connection, library, pack, start, end, cluster, params, tuning_file, only=repeated or control)
    chosen = next((section for section in sections if section.section.control == control), None)
    if chosen is None:  # a section per subject: that subject has no rows in this window
        raise QueryError(f"{pack.name}:{control}: no such section in {window_text(start, end)}",
                         hint=f"the sections of {repeated} in this window: {', '.join(s.section.control for s in sections) or 'none'}")
    return chosen, start, end


def section_evidence(section: SectionResult) -> dict[str, list[str]]:
    """Per check of the section, the digests of its rows that need attention: what an acceptance covers."""
    return {result.name: result.needing_attention() for result in section.checks if result.status == "attention" and not result.empty_window}


def finding_audit_ids(connection: duckdb.DuckDBPyConnection, query: str, audit_id: str) -> tuple[bool, list[str]]:
    """Whether the lake holds the finding `query`:`audit_id` (a kept finding of that rule, else any event with that
    audit_id), and the audit_ids of that rule's kept findings (for a did-you-mean)."""
    kept = [row[0] for row in connection.execute("SELECT DISTINCT audit_id FROM findings WHERE rule = $rule ORDER BY 1",
                                                 {"rule": query}).fetchall()]
    if audit_id in kept:
        return True, kept
    found = connection.execute("SELECT EXISTS (SELECT 1 FROM events WHERE audit_id = $id)", {"id": audit_id}).fetchall()[0][0]
    return bool(found), kept


def apply_reviews(pack: str, sections: list[SectionResult], reviews: list[review.Review]) -> None:
    """Apply the lake's reviews: accepted findings and the rows an accepted section covers no longer need attention.

    A finding (`QUERY:AUDIT_ID`) accepted in review is accepted wherever that query's rows show it. A
    section's state (`review.item_state`) compares its acceptances with the rows that need attention now:
    a row no acceptance covers (new, or changed) keeps the check needing attention, and the section's
    acceptance reads as lapsed.
    """
    by_target: dict[str, list[review.Review]] = {}
    for item in reviews:
        by_target.setdefault(item.target, []).append(item)
    accepted_findings = {target for target, items in by_target.items() if items[0].kind == "finding"
                         and review.item_state(items, {items[0].query or "": [target]}).state == "accepted"}
    reviewed_queries = {target.split(":", 1)[0] for target in accepted_findings}
    for section in sections:
        if f"{pack}:{section.section.control}" not in by_target and not reviewed_queries & {result.name for result in section.checks}:
            continue  # nothing reviewed here: no row digests to compute
        needing: dict[str, list[str]] = {}
        by_finding: dict[str, set[str]] = {}
        for result in section.checks:
            if result.status != "attention" or result.empty_window:
                continue
            digests = result.needing_attention()
            if accepted_findings and result.check.query and "audit_id" in result.table.column_names and result.attention_rows:
                ids = result.table.column("audit_id").take(list(result.attention_rows)).to_pylist()
                by_finding[result.name] = {digest for digest, audit_id in zip(digests, ids, strict=True)
                                           if f"{result.check.query}:{audit_id}" in accepted_findings}
            needing[result.name] = [digest for digest in digests if digest not in by_finding.get(result.name, set())]
        state = review.item_state(by_target.get(f"{pack}:{section.section.control}", []), needing)
        section.review = state if state.reviews else None
        for result in section.checks:
            if result.name not in needing:
                continue
            accepted = by_finding.get(result.name, set()) | (set(needing[result.name]) & state.covered.get(result.name, frozenset()))
            if not accepted:
                continue
            count = sum(1 for digest in result.needing_attention() if digest in accepted)
            result.accepted, result.accepted_rows = count, frozenset(accepted)
            result.flagged = max(result.flagged - count, 0)
            result.status = "attention" if result.flagged else "accepted"


def _run_sections(connection: duckdb.DuckDBPyConnection, library: Library, pack: packs.Pack, start: datetime, end: datetime,
                  cluster: str | None, params: dict[str, Any] | None, tuning_file: dict[str, Any] | None,
                  only: str | None = None) -> tuple[list[SectionResult], dict[str, Any]]:
    """Every check of `pack` (of its section `only`) over one window; the sections and the values the evidence
    records (pack values and tuning, checked against the whole pack)."""
    queries = library.queries
    runs = {check.query for section in pack.sections for check in section.checks if check.query}
    from_file = tuning(library.saved_queries(), tuning_file or {}, what="saved query")  # every entry must be real
    tuned_values = {f"{name}.{key}": value for name, values in from_file.items() if name in runs for key, value in values.items()}
    tuned_values.update({key: value for key, value in (params or {}).items() if "." in key})  # QUERY.PARAM: one query's own parameter
    pack_values = packs.bind_pack_params(pack, {key: value for key, value in (params or {}).items() if "." not in key})
    tuned = tuning([queries[name] for name in sorted(runs)], tuned_values, what="query of this pack")
    sections = []
    grants = _Grants(connection, queries, start, end, cluster)
    for section in (section for section in pack.sections if only is None or section.control == only):
        if section.each:
            sections += _each_subject(section, grants)
            continue
        results = [_run_check(connection, queries, check, start, end, cluster, pack_values, tuned, grants) for check in section.checks]
        sections.append(SectionResult(section, results))
    return sections, {**pack_values, **tuned_values}


class _Grants:
    """The least-privilege comparison of the report's window, read once for every rbac check of a report."""

    def __init__(self, connection: duckdb.DuckDBPyConnection, queries: dict[str, SavedQuery], start: datetime, end: datetime,
                 cluster: str | None) -> None:
        self.connection, self.queries, self.start, self.end, self.cluster = connection, queries, start, end, cluster
        self._result: rbac.UnusedGrants | None = None

    @property
    def result(self) -> rbac.UnusedGrants:
        if self._result is None:
            self._result = rbac.read_unused(self.connection, self.queries, since=self.start, until=self.end, cluster=self.cluster)
        return self._result

    def check(self, check: packs.Check, subject: str | None = None) -> CheckResult:
        """An rbac check's result: the grants it asks for (of one subject, or all), and the SQL the comparison read."""
        spec = check.rbac or packs.RbacCheck()
        table = self.result.table(spec.status, sensitive_only=spec.sensitive)
        if subject is not None:
            table = table.filter(pa.array([value == subject for value in table.column("subject").to_pylist()], pa.bool_()))
        sql = "\n\n".join(f"-- {name}\n{self.queries[name].sql.strip()}" for name in rbac.SOURCES)
        source = ", ".join(_relative(self.queries[name].path) for name in rbac.SOURCES)
        values = {"since": self.start, "until": self.end, "cluster": self.cluster, "status": list(spec.status), "sensitive": spec.sensitive}
        rows = _attention_rows(check, table)
        flagged = _flagged(check, table, rows)
        return CheckResult(check, table, flagged, _status(check, flagged), sql, source, values, attention_rows=rows)


def _each_subject(section: packs.Section, grants: _Grants) -> list[SectionResult]:
    """One section per subject the section's checks have rows for (control CONTROL/SUBJECT), in subject order; with no
    such subject, the section itself, its checks empty (and so passing)."""
    overall = [grants.check(check) for check in section.checks]
    subjects = sorted({subject for result in overall for subject in result.table.column("subject").to_pylist()})
    if not subjects:
        return [SectionResult(section, overall)]
    return [SectionResult(dataclasses.replace(section, control=f"{section.control}/{subject}", title=f"{section.title}: {subject}"),
                          [grants.check(check, subject) for check in section.checks]) for subject in subjects]


def output_stem(pack: str, cluster: str | None, until: datetime) -> str:
    """`pci-dss-prod-2026-11-26`: named by the last day the window covers, so daily runs never overwrite each other.

    A window ending at midnight (`--since yesterday --until today`) is named by the day before; any other
    end adds its time (`--since 1d` at 02:15 gives `…-2026-11-27T0215`).
    """
    if (until.hour, until.minute, until.second, until.microsecond) == (0, 0, 0, 0):
        stamp = f"{until - timedelta(microseconds=1):%Y-%m-%d}"
    else:
        stamp = f"{until:%Y-%m-%dT%H%M}"
    return f"{pack}-{cluster or 'all'}-{stamp}"


def _run_check(connection: duckdb.DuckDBPyConnection, library: dict[str, SavedQuery], check: packs.Check,
               start: datetime, end: datetime, cluster: str | None, pack_values: dict[str, Any],
               tuned: dict[str, dict[str, Any]], grants: _Grants) -> CheckResult:
    if check.rbac is not None:
        return grants.check(check)
    if check.changes is not None:
        return _run_changes(connection, library, check, start, end, cluster, pack_values)
    saved = library[check.query or ""]
    given: dict[str, Any] = {"since": start, "until": end, "cluster": cluster, **pack_values, **check.params,
                             **tuned.get(saved.name, {})}  # the team's tuning (`-p RULE.PARAM=…`, `--tuning`), as with `detect`
    values = bind(saved, {key: value for key, value in given.items() if value is not None and saved.parameter(key) is not None})
    table = run(connection, saved, values)
    if check.top and check.top[0] not in table.column_names:
        raise QueryError(f"check {saved.name}: top.by {check.top[0]!r} is not one of its columns ({', '.join(table.column_names)})")
    rows = _attention_rows(check, table)
    flagged = _flagged(check, table, rows)
    return CheckResult(check, table, flagged, _status(check, flagged), saved.sql.strip(), _relative(saved.path), values,
                       attention_rows=rows)


def _run_changes(connection: duckdb.DuckDBPyConnection, library: dict[str, SavedQuery], check: packs.Check, start: datetime,
                 end: datetime, cluster: str | None, pack_values: dict[str, Any]) -> CheckResult:
    spec = dict(check.changes or {})
    namespace = spec.get("namespace") or pack_values.get("namespace")
    saved = library["changed-objects"]
    given = {"since": start, "until": end, "cluster": cluster, "resource": spec["resource"], "namespace": namespace,
             "include_noise": True}  # a resource asked for by name is not noise to this reader (as `Lake.changes`)
    rows = run(connection, saved, bind(saved, {key: value for key, value in given.items() if value is not None})).to_pylist()
    changed = history.group_changes(rows, since=start)
    rows = []
    for (object_cluster, resource, object_namespace, name), entries in changed:
        for entry in entries:
            row = history.entry_row(entry)
            rows.append({"resource": resource, "namespace": object_namespace, "name": name, **row, "cluster": object_cluster})
    rows.sort(key=lambda row: (row["at"], row["audit_id"]))
    table = pa.Table.from_pylist(rows) if rows else pa.table({name: pa.array([], pa.string()) for name in (
        "at", "cluster", "resource", "namespace", "name", "verb", "actor", "summary", "audit_id")})
    values = {"since": start, "until": end, "cluster": cluster, "resource": spec["resource"], "namespace": namespace}
    needing = _attention_rows(check, table)
    flagged = _flagged(check, table, needing)
    return CheckResult(check, table, flagged, _status(check, flagged), saved.sql.strip(), _relative(saved.path), values, changed,
                       attention_rows=needing)


ROW_NUMBER = "__auditlake_row"  # a column no query returns: each result row's position, for the attention rule


def _attention_rows(check: packs.Check, table: pa.Table) -> tuple[int, ...]:
    """The positions of the rows that need attention (none for `never` and `no rows`)."""
    if check.attention == "rows":
        return tuple(range(table.num_rows))
    if check.attention != "where":
        return ()
    connection = duck.connect()
    try:
        connection.register("result", table.append_column(ROW_NUMBER, pa.array(range(table.num_rows), pa.int64())))
        found = connection.execute(f"SELECT {ROW_NUMBER} FROM result WHERE ({check.attention_where}) IS NOT FALSE ORDER BY 1").fetchall()
        return tuple(row[0] for row in found)
    except duckdb.Error as error:
        raise QueryError(f"{check.query}: attention rule {check.attention_where!r} failed: {str(error).splitlines()[0]}") from None
    finally:
        connection.close()


def _flagged(check: packs.Check, table: pa.Table, rows: tuple[int, ...]) -> int:
    if check.attention == "no rows":
        return int(table.num_rows == 0)
    return len(rows) if check.attention in ("rows", "where") else 0


def _status(check: packs.Check, flagged: int) -> str:
    if check.attention == "never":
        return "evidence"
    return "attention" if flagged else "pass"


def _relative(path: Any) -> str:
    parts = list(path.parts)
    return "/".join(parts[parts.index("queries"):]) if "queries" in parts else str(path)


def _evidence(connection: duckdb.DuckDBPyConnection, manifest: Any, library: Library, lake: str, pack: packs.Pack, start: datetime,
              end: datetime, cluster: str | None, pack_values: dict[str, Any], now: datetime, version: str) -> Evidence:
    def rows_of(name: str) -> list[dict[str, Any]]:
        saved = library.saved_query(name)
        given = {"since": start, "until": end, "cluster": cluster}
        return run(connection, saved, bind(saved, {key: value for key, value in given.items() if value is not None})).to_pylist()

    clusters = rows_of("volume-per-day")
    per_cluster: dict[str, dict[str, Any]] = {}
    for row in clusters:
        entry = per_cluster.setdefault(row["cluster"], {"cluster": row["cluster"], "events": 0, "requests": 0, "days": set()})
        entry["events"] += row["events"]
        entry["requests"] += row["requests"]
        entry["days"].add(row["date"])
    span = {row["cluster"]: row for row in connection.sql(
        "SELECT cluster, min(received_at) AS first_at, max(received_at) AS last_at FROM events "
        "WHERE received_at >= $since AND received_at < $until AND date BETWEEN CAST($since AS DATE) AND CAST($until AS DATE) "
        "GROUP BY cluster", params={"since": start, "until": end}).to_arrow_table().to_pylist()}
    cluster_rows = [{"cluster": name, "events": entry["events"], "requests": entry["requests"], "days": len(entry["days"]),
                     "first_at": span.get(name, {}).get("first_at"), "last_at": span.get(name, {}).get("last_at")}
                    for name, entry in sorted(per_cluster.items())]
    gaps = rows_of("coverage-gaps")
    sources = _input_files(rows_of("input-files"), manifest)
    files = [{"path": record.path, "cluster": record.cluster, "date": record.date, "rows": record.rows, "sha256": record.sha256}
             for record in sorted(manifest.files.values(), key=lambda r: r.path)
             if (not cluster or record.cluster == cluster) and _overlaps(record.min_received_at, record.max_received_at, start, end)]
    pack_bytes = pack.path.read_bytes()
    command = ["auditlake", "report", pack.name, "--lake", lake, "--since", start.isoformat(), "--until", end.isoformat()]
    if cluster:
        command += ["--cluster", cluster]
    for key, value in pack_values.items():
        command += ["--param", f"{key}={','.join(value) if isinstance(value, list) else value}"]
    return Evidence(now, version, lake, start, end, cluster, pack_values, shlex.join(command), _relative(pack.path),
                    hashlib.sha256(pack_bytes).hexdigest(), cluster_rows, gaps, sources, files)


def integrity_evidence(results: list[Any], *, lake: str) -> dict[str, Any]:
    """A report's integrity evidence from `verify`'s results (the lake's, then its archive's): verdict, chain head, signers, re-check."""
    problems = [problem for result in results for problem in result.problems]
    head = results[0].head
    signers = sorted({signer for result in results for signer in result.signers})
    key = " --public-key KEY.pub" if any(signer != "unsigned" for signer in signers) else ""
    return {"verified": not problems, "problems": len(problems), "first_problems": problems[:5],
            "head": head.name if head else None, "head_sha256": head.sha256 if head else None,
            "digests": sum(result.digests for result in results), "files": sum(result.files for result in results),
            "signers": signers, "archive": results[1].lake if len(results) > 1 else None, "command": f"auditlake verify --lake {lake}{key}"}


def _input_files(supplied: list[dict[str, Any]], manifest: Any) -> list[dict[str, Any]]:
    """The files that supplied the window's rows, each with its manifest record (size, lines, sha256): exactly those.

    A row names the path its file had when it was read; a record lists every path its file had (rotations).
    The record is the one for the row's cluster, or for the files whose cluster their wrappers named (`*`).
    """
    by_name: dict[tuple[str, str], Any] = {}
    for record in manifest.sources.values():
        for name in record.names:
            by_name.setdefault((record.cluster, name), record)
    files = []
    for row in supplied:
        record = by_name.get((row["cluster"], row["source_file"])) or by_name.get(("*", row["source_file"]))
        files.append({"cluster": row["cluster"], "file": row["source_file"], "events": row["events"], "first_at": row["first_at"],
                      "last_at": row["last_at"], "lines": record.lines if record else 0, "size": record.size if record else None,
                      "sha256": record.sha256 if record else None, "whole": bool(record and record.sha256),
                      "also_named": [name for name in record.names if name != row["source_file"]] if record else []})
    return files


def _overlaps(first: str | None, last: str | None, start: datetime, end: datetime) -> bool:
    if not first or not last:
        return False
    low = window.parse_time(first)
    high = window.parse_time(last)
    return low < end and high >= start
