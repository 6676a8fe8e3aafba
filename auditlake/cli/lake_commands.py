"""The commands about the lake itself: `status`, `sql`, `compact` and `catalog`.

Owns: those four commands, `print_status` (also `demo`'s) and `print_completeness` (`status --completeness`).
Each opens the `Lake` when it runs (duckdb comes with it), never at start-up.
"""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Annotated

import typer

from auditlake.cli.console import short_time, stderr, stdout, text
from auditlake.cli.options import (
    DEFAULT_LAKE,
    DataFormat,
    LakeOption,
    MaxRowsOption,
    OutputOption,
    SigningKeyOption,
    StatusFormat,
    chosen,
)
from auditlake.cli.output import emit
from auditlake.render.escape import terminal_text
from auditlake.render.formats import Format, json_default, json_rows

if TYPE_CHECKING:
    import pyarrow as pa

    from auditlake.lake import LakeStatus

CompletenessOption = Annotated[bool, typer.Option("--completeness", help="Also state, per cluster and UTC day, the requests "
                                                  "without a final stage, the longest silence and what the audit level could not record "
                                                  "(the stream-completeness query; PCI-DSS 10.2.1, 10.2.2).")]
SILENCE_THRESHOLD = "15m"  # the silences `status --completeness` counts (the query's default, said in its table)
WindowSinceOption = Annotated[str | None, typer.Option("--since", help="With --completeness: start of the window (default: "
                                                                 "the lake's first event): 7d, 2026-11-01, …")]
WindowUntilOption = Annotated[str | None, typer.Option("--until", help="With --completeness: end of the window, exclusive (default: "
                                                                 "just after the lake's last event; `today` for whole days).")]
WindowClusterOption = Annotated[str | None, typer.Option("--cluster", "-c", help="With --completeness: only this cluster.")]


def status(lake: LakeOption = DEFAULT_LAKE, output: StatusFormat = Format.TABLE, completeness: CompletenessOption = False,
           since: WindowSinceOption = None, until: WindowUntilOption = None, cluster: WindowClusterOption = None) -> None:
    """Show what the lake holds: clusters, days, events, first/last event, quarantined lines, written findings.

    Example: auditlake status --lake ./lake

    Example: auditlake status --completeness --since 2026-11-01 --until today --format json
    """
    from auditlake.lake import Lake

    if not completeness and (since or until or cluster):
        raise typer.BadParameter("--since, --until and --cluster bound the completeness statement: add --completeness", param_hint="--completeness")
    the_lake = Lake(lake)
    result = the_lake.status()
    statement = the_lake.completeness(since=since, until=until, cluster=cluster, threshold=SILENCE_THRESHOLD) if completeness else None
    if chosen(output) is Format.JSON:
        extra = {"completeness": json_rows(statement)} if statement is not None else {}
        typer.echo(json.dumps(dataclasses.asdict(result) | extra, indent=1, default=json_default))
        return
    print_status(result)
    if statement is not None:
        print_completeness(statement)


def print_completeness(statement: pa.Table) -> None:
    """The completeness statement as a terminal table, its counts side by side (`--format json` has every column by name)."""
    from rich.table import Table

    table = Table(title="completeness per cluster and UTC day (auditlake query show stream-completeness)", title_justify="left")
    for name, justify in (("cluster", "left"), ("day", "left"), ("events", "right"), ("no final stage (long-running)", "right"),
                          ("longest silence", "right"), (f"silences > {SILENCE_THRESHOLD}", "right"), ("Metadata / Request / RequestResponse", "right"),
                          ("writes without bodies", "right"), ("Secret requests without bodies", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row in statement.to_pylist():
        unfinished = (f"{row['requests_without_final_stage']:,} of {row['requests_received']:,} ({row['unfinished_long_running']:,})"
                      if row["requests_received"] else "no RequestReceived stage")
        since = f" from {row['longest_silence_from']:%H:%M:%S}" if row["longest_silence_from"] else ""
        table.add_row(text(row["cluster"]), str(row["date"]), f"{row['events']:,}", unfinished, f"{row['longest_silence_minutes']:,.1f} min{since}",
                      f"{row['silences_over_threshold']:,}",
                      f"{row['requests_at_metadata']:,} / {row['requests_at_request']:,} / {row['requests_at_request_response']:,}",
                      f"{row['writes_without_bodies']:,}", f"{row['secret_requests_without_bodies']:,}")
    stdout.print(table)


def print_status(result: LakeStatus) -> None:
    """The lake's clusters as a table, then its files, sources, quarantine and kept findings, on stdout."""
    from rich.table import Table

    table = Table(title=text(f"lake {result.lake}"), title_justify="left")
    for name, justify in (("cluster", "left"), ("days", "right"), ("events", "right"), ("first event (UTC)", "left"),
                          ("last event (UTC)", "left")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for cluster in result.clusters:
        table.add_row(text(cluster.cluster), f"{cluster.days:,}", f"{cluster.events:,}", text(short_time(cluster.first_event_at)),
                      text(short_time(cluster.last_event_at)))
    stdout.print(table)
    stdout.print(f"{result.events:,} events in {result.files:,} files ({result.bytes / 1e6:,.1f} MB) from {result.sources:,} "
                 f"source(s), {result.batches:,} batch(es); last ingest {short_time(result.last_ingest_at)}", markup=False)
    stdout.print(f"quarantined lines: {result.quarantined:,}", markup=False)
    for reason, count in result.quarantine_reasons.items():
        stdout.print(f"  {count:>8,}  {terminal_text(reason)}", markup=False)
    if result.findings:
        stdout.print(f"findings written by `detect --write`: {sum(result.findings.values()):,} from {len(result.findings)} detection(s) "
                     "(the `findings` view)", markup=False)


def sql(
    query: Annotated[str, typer.Argument(help="SQL over the lake's views: events, quarantine, findings, ingest_sources, ingest_batches, "
                                              "changes, … and the saved queries as table macros.")],
    lake: LakeOption = DEFAULT_LAKE,
    output: DataFormat = Format.TABLE,
    output_file: OutputOption = None,
    max_rows: MaxRowsOption = 100,
) -> None:
    """Run SQL against the lake (DuckDB dialect); data on stdout, messages on stderr.

    Example: auditlake sql "select verb, count(*) from events group by all" --lake ./lake --format csv
    """
    from auditlake.lake import Lake

    emit(Lake(lake).sql_arrow(query), chosen(output), output_file, max_rows)


def compact(lake: LakeOption = DEFAULT_LAKE, signing_key: SigningKeyOption = None) -> None:
    """Merge the small files of many incremental runs into one time-sorted file per partition.

    Example: auditlake compact --lake ./lake
    """
    from auditlake.lake import Lake

    result = Lake(lake, signing_key=signing_key).compact(on_partition=lambda name: stderr.print(f"compacting {terminal_text(name)}", markup=False))
    stderr.print(f"compacted {result.partitions} partition(s): {result.files_before} files → {result.files_after} "
                 f"({result.rows:,} rows)", markup=False)


def rebuild_catalog(lake: LakeOption = DEFAULT_LAKE) -> None:
    """Rebuild LAKE/catalog.duckdb (after moving the lake; every command also does it when needed).

    Example: auditlake catalog --lake ./lake && duckdb ./lake/catalog.duckdb -c "select count(*) from events"
    """
    from auditlake.lake import Lake

    path = Lake(lake).rebuild_catalog()
    stderr.print(f"wrote {path}", markup=False)
