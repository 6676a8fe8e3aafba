"""`auditlake publish iceberg`: the lake as Iceberg tables for the engines a fleet runs (Spark, Trino, Athena).

Owns: the command and how its result reads (a line per table; `--format json`). The work is `Lake.publish_iceberg`
(auditlake/scaleout/iceberg.py), imported when the command runs. The catalog URL is printed without its password.
"""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Annotated

import typer

from auditlake.cli.console import stderr, stdout
from auditlake.cli.options import DEFAULT_LAKE, LakeOption, SigningKeyOption, chosen, format_option
from auditlake.render.escape import terminal_text
from auditlake.render.formats import Format

if TYPE_CHECKING:
    PublishFormat = Format
else:
    PublishFormat = format_option("publish", "text (a line per table) or json.")

app = typer.Typer(help="Publish the lake to a table catalog (Iceberg).", no_args_is_help=True, add_completion=False, rich_markup_mode=None)


@app.command(name="iceberg")
def iceberg(
    catalog: Annotated[str, typer.Option("--catalog", envvar="AUDITLAKE_ICEBERG_CATALOG",
                                         help="SQL catalog: sqlite:///catalog.db, or postgresql://user@host/db (password from "
                                              "PGPASSWORD or ~/.pgpass).")],
    lake: LakeOption = DEFAULT_LAKE,
    table: Annotated[str, typer.Option("--table", help="The events table, NAMESPACE.TABLE.")] = "audit.events",
    findings_table: Annotated[str | None, typer.Option("--findings-table", help="The findings table (default NAMESPACE.findings).")] = None,
    warehouse: Annotated[str | None, typer.Option("--warehouse", help="Where new tables keep their metadata (default LAKE/_iceberg).")] = None,
    signing_key: SigningKeyOption = None,
    output: PublishFormat = Format.TEXT,
) -> None:
    """Register the lake's Parquet files as Iceberg tables, in place, partitioned by cluster and day.

    Rerun after each ingest, compaction or retention: new files are added and replaced ones removed in one snapshot
    per table, so the tables list exactly what the lake's manifest lists.

    Example: auditlake publish iceberg --lake ./lake --catalog sqlite:///catalog.db --table audit.events
    """
    from auditlake.lake import Lake

    publication = Lake(lake, signing_key=signing_key).publish_iceberg(catalog, table=table, findings_table=findings_table,
                                                                      warehouse=warehouse)
    if chosen(output) is Format.JSON:
        stdout.print_json(json.dumps(dataclasses.asdict(publication)))
        return
    for published in publication.tables:
        copied = f", {published.copied} converted into the table's location" if published.copied else ""
        stdout.print(terminal_text(f"{published.name}: {published.files:,} files, {published.rows:,} rows (+{published.added} "
                                   f"−{published.removed}{copied}); snapshot {published.snapshot_id or '-'}"), markup=False)
    stderr.print(terminal_text(f"published to {publication.catalog}"), markup=False)
