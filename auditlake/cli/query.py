"""`auditlake query list|show|run`: the saved-query library.

Owns: the `query` group. `list` and `show` read the library's files (`Library()`): no lake, no duckdb.
`run` opens the `Lake` and states the window it read.
"""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from auditlake.cli.console import state_window, stdout, text
from auditlake.cli.options import (
    DEFAULT_LAKE,
    ClusterOption,
    DataFormat,
    LakeOption,
    MaxRowsOption,
    OutputOption,
    QueryListFormat,
    QueryShowFormat,
    UntilOption,
    chosen,
    name_values,
)
from auditlake.cli.output import emit
from auditlake.render.formats import Format

if TYPE_CHECKING:
    from auditlake.library import SavedQuery

app = typer.Typer(help="The saved-query library: list, show and run the questions auditlake knows how to answer.",
                  no_args_is_help=True, rich_markup_mode=None)


@app.command("list")
def query_list(
    output: QueryListFormat = Format.TABLE,
    topic: Annotated[str | None, typer.Option("--topic", help="Only this topic (changes, access, operations, …).")] = None,
) -> None:
    """List the saved queries by topic, with their severity and the controls they evidence.

    Example: auditlake query list --format json
    """
    from rich.table import Table

    from auditlake.library import Library

    items = [item for item in Library().saved_queries() if topic is None or item.topic == topic]
    if chosen(output) is Format.JSON:
        typer.echo(json.dumps([_query_summary(item) for item in items], indent=1))
        return
    table = Table(show_lines=False)
    for name in ("topic", "name", "title", "severity", "controls"):
        table.add_column(name, overflow="fold")
    for item in items:
        table.add_row(text(item.topic), text(item.name), text(item.title), text(item.severity), text(", ".join(item.controls)))
    stdout.print(table)


def _query_summary(item: SavedQuery) -> dict[str, Any]:
    return {"name": item.name, "topic": item.topic, "title": item.title, "description": item.description, "severity": item.severity,
            "controls": list(item.controls), "mitre": list(item.mitre), "path": str(item.path), "macro": item.macro_name,
            "params": [dataclasses.asdict(parameter) for parameter in item.params]}


@app.command("show")
def query_show(
    name: Annotated[str, typer.Argument(help="Saved query (or view) name, as in `auditlake query list`.")],
    output: QueryShowFormat = Format.TEXT,
) -> None:
    """Show a saved query's metadata, parameters and SQL.

    Example: auditlake query show secret-reads-by-humans
    """
    from auditlake.library import Library

    item = Library().saved_query(name)
    if chosen(output) is Format.JSON:
        typer.echo(json.dumps({**_query_summary(item), "sql": item.sql}, indent=1))
        return
    lines = [f"{item.name} — {item.title}", f"topic: {item.topic} · severity: {item.severity} · file: {item.path}"]
    if item.controls:
        lines.append("controls: " + ", ".join(item.controls))
    if item.mitre:
        lines.append("MITRE ATT&CK: " + ", ".join(item.mitre))
    if item.description:
        lines += ["", item.description]
    if item.params:
        lines += ["", "parameters:"]
        lines += [f"  {p.name} ({p.type}, {'required' if p.required else f'default {p.default!r}'}): {p.help}" for p in item.params]
    lines += ["", item.sql]
    if item.kind == "query":
        lines += ["", f"DuckDB shell: FROM {item.macro_name}(p_since := '2026-11-01');"]
    typer.echo("\n".join(lines))


@app.command("run")
def query_run(
    name: Annotated[str, typer.Argument(help="Saved query name, as in `auditlake query list`.")],
    lake: LakeOption = DEFAULT_LAKE,
    since: Annotated[str | None, typer.Option("--since", help="Start of the window: 7d, 24h, 2026-11-01, … (default: the query's, 7d).")] = None,
    until: UntilOption = None,
    cluster: ClusterOption = None,
    namespace: Annotated[str | None, typer.Option("--namespace", "-n", help="Only this namespace (where the query has one).")] = None,
    param: Annotated[list[str] | None, typer.Option("--param", "-p", help="Any other parameter, as name=value (repeatable).")] = None,
    output: DataFormat = Format.TABLE,
    output_file: OutputOption = None,
    max_rows: MaxRowsOption = 100,
) -> None:
    """Run a saved query over a time window; data on stdout, messages on stderr.

    Example: auditlake query run secret-reads-by-humans --since 7d --format csv
    """
    from auditlake.lake import Lake

    params = name_values(param)
    for key, value in (("cluster", cluster), ("namespace", namespace)):
        if value is not None:
            params[key] = value
    the_lake = Lake(lake)
    start, end = the_lake.window(since, until, query=name)  # stated below: the query's own default is not every command's
    result = the_lake.query_arrow(name, since=start, until=end, **params)
    emit(result, chosen(output), output_file, max_rows)
    state_window(f"{result.num_rows:,} row(s)", start, end)
