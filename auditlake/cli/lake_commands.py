"""The commands about the lake itself: `status`, `sql`, `compact` and `catalog`.

Owns: those four commands and `print_status` (also `demo`'s). Each opens the `Lake` when it runs
(duckdb comes with it), never at start-up.
"""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Annotated

import typer

from auditlake.cli.console import short_time, stderr, stdout, text
from auditlake.cli.options import DEFAULT_LAKE, DataFormat, LakeOption, MaxRowsOption, OutputOption, SigningKeyOption, StatusFormat, chosen
from auditlake.cli.output import emit
from auditlake.render.escape import terminal_text
from auditlake.render.formats import Format

if TYPE_CHECKING:
    from auditlake.lake import LakeStatus


def status(lake: LakeOption = DEFAULT_LAKE, output: StatusFormat = Format.TABLE) -> None:
    """Show what the lake holds: clusters, days, events, first/last event, quarantined lines, written findings.

    Example: auditlake status --lake ./lake
    """
    from auditlake.lake import Lake

    result = Lake(lake).status()
    if chosen(output) is Format.JSON:
        typer.echo(json.dumps(dataclasses.asdict(result), indent=1))
        return
    print_status(result)


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
