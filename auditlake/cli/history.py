"""The drill-down commands: `history` (one object's timeline), `changes` (every change in a window), `event` (one request).

Owns: those three commands and the coloured terminal timeline. The timeline, diffs and Markdown/JSON/HTML
come from `render.history` and the pure history functions the façade re-exports (`lake.history`),
imported when a command runs: they bring pyarrow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from auditlake.cli.console import state_window, stdout, text
from auditlake.cli.options import (
    DEFAULT_LAKE,
    ChangesFormat,
    ClusterOption,
    EventFormat,
    HistoryFormat,
    LakeOption,
    OutputOption,
    SinceOption,
    UntilOption,
    chosen,
)
from auditlake.cli.output import emit, write_text
from auditlake.errors import QueryError
from auditlake.render.escape import terminal_text
from auditlake.render.formats import Format

if TYPE_CHECKING:
    from auditlake.lake import HistoryEntry

DIFF_STYLES = {"add": "green", "del": "red", "hunk": "magenta", "": "dim"}  # by render.pages.diff_kind


def object_history(
    target: Annotated[str, typer.Argument(help="The object: RESOURCE/NAMESPACE/NAME, or RESOURCE/NAME when cluster-scoped.")],
    lake: LakeOption = DEFAULT_LAKE,
    cluster: Annotated[str | None, typer.Option("--cluster", "-c", help="Only this cluster (default: one timeline per cluster).")] = None,
    since: Annotated[str, typer.Option("--since", help="Show changes from (earlier states are still read to diff against).")] = "90d",
    until: Annotated[str | None, typer.Option("--until", help="Show changes until (default now).")] = None,
    output: HistoryFormat = Format.TERMINAL,
    output_file: OutputOption = None,
    show_all: Annotated[bool, typer.Option("--all", help="Keep writes that changed only metadata noise.")] = False,
    status: Annotated[bool, typer.Option("--status", help="Include status writes (kubelets, controllers) and diff the status too.")] = False,
) -> None:
    """Who changed an object, when, from where, and exactly what: its timeline with a diff per change, per cluster.

    Example: auditlake history deployments/payments/api --since 7d
    """
    parts = target.strip("/").split("/")
    if len(parts) not in (2, 3):
        raise typer.BadParameter("use RESOURCE/NAMESPACE/NAME (deployments/payments/api) or RESOURCE/NAME", param_hint="TARGET")
    from auditlake.lake import Lake, history
    from auditlake.render import history as history_render

    resource, namespace, name = (parts[0], parts[1], parts[2]) if len(parts) == 3 else (parts[0], None, parts[1])
    the_lake = Lake(lake)
    start, end = the_lake.window(since, until)
    entries = the_lake.history_entries(resource, namespace, name, since=start, until=end, cluster=cluster, keep_noise=show_all,
                                       include_status=status)
    state_window(f"{len(entries)} change(s)", start, end)
    title = f"History of {target}"  # each timeline's title adds its cluster
    output = chosen(output)
    if output is Format.TERMINAL and output_file is None:
        _print_history(title, entries)
        return
    text_of = {Format.TERMINAL: lambda: history_render.history_markdown(title, entries, history.unified_diff),
               Format.MARKDOWN: lambda: history_render.history_markdown(title, entries, history.unified_diff),
               Format.JSON: lambda: history_render.history_json(entries),
               Format.HTML: lambda: history_render.history_html(title, entries, history.unified_diff)}[output]
    write_text(text_of(), output_file)


def _print_history(title: str, entries: list[HistoryEntry]) -> None:
    from auditlake.lake import history
    from auditlake.render import history as history_render

    for index, (cluster, timeline) in enumerate(history.by_cluster(entries)):
        stdout.print(("\n" if index else "") + f"[bold]{escape(terminal_text(history_render.history_title(title, cluster)))}[/]: "
                     f"{len(timeline)} change(s)", markup=True)
        for item in history_render.terminal_items(timeline, history.unified_diff):
            stdout.print(f"\n[bold yellow]{escape(item.when)}[/]  [bold]{escape(terminal_text(item.summary))}[/]", markup=True,
                         highlight=False)
            stdout.print("  " + terminal_text(item.detail), markup=False, highlight=False)
            for kind, line in item.diff:
                stdout.print("    " + terminal_text(line), style=DIFF_STYLES[kind], markup=False, highlight=False)
    if not entries:
        stdout.print(f"[bold]{escape(terminal_text(title))}[/]: 0 change(s)", markup=True)


def changed_objects(
    lake: LakeOption = DEFAULT_LAKE,
    since: SinceOption = "24h",
    until: UntilOption = None,
    kind: Annotated[str | None, typer.Option("--kind", help="Only this resource, plural (deployments, configmaps, …).")] = None,
    namespace: Annotated[str | None, typer.Option("--namespace", "-n", help="Only this namespace.")] = None,
    cluster: ClusterOption = None,
    output: ChangesFormat = Format.TABLE,
    include_noise: Annotated[bool, typer.Option("--include-noise", help="Also the writes left out as noise: leases, events, "
                                                                        "access and token reviews (--kind names one to show it).")] = False,
) -> None:
    """Every change in a window, grouped by object, one line each ("image api:1.4.2 → api:1.5.0").

    Example: auditlake changes --since 24h --kind deployments
    """
    from rich.table import Table

    from auditlake.lake import Lake
    from auditlake.render import history as history_render

    the_lake = Lake(lake)
    the_lake.require_resource(kind)
    start, end = the_lake.window(since, until)
    groups = the_lake.changes(since=start, until=end, resource=kind, namespace=namespace, cluster=cluster, include_noise=include_noise)
    state_window(f"{sum(len(e) for _, e in groups)} change(s) to {len(groups)} object(s)", start, end)
    output = chosen(output)
    if output in (Format.JSON, Format.MARKDOWN):
        typer.echo(history_render.changes_json(groups) if output is Format.JSON else history_render.changes_markdown(groups, since))
        return
    table = Table(show_lines=False)
    for column in history_render.CHANGES_COLUMNS:
        table.add_column(column, overflow="fold")
    for object_cluster, label, when, summary, actors, clients in history_render.changes_rows(groups):
        table.add_row(text(object_cluster), text(label), when, text(summary), text(actors), text(clients))
    stdout.print(table)


def request_events(
    audit_id: Annotated[str, typer.Argument(help="The request's audit id (the audit_id column of findings, saved queries and reports).",
                                            show_default=False)],
    lake: LakeOption = DEFAULT_LAKE,
    cluster: ClusterOption = None,
    since: Annotated[str, typer.Option("--since", help="Start of the window searched (default: the lake's whole past).")] = "1970-01-01",
    until: Annotated[str, typer.Option("--until", help="End of the window searched, exclusive.")] = "2100-01-01",
    output: EventFormat = Format.JSON,
    output_file: OutputOption = None,
) -> None:
    """Every stored stage of one request, all columns and bodies, with the file and line it was read from.

    Example: auditlake event 4b5c7d9e-1f2a-4c3b-9d8e-7a6b5c4d3e2f --lake ./lake
    """
    from auditlake.lake import Lake

    events = Lake(lake).query_arrow("request-events", since=since, until=until, cluster=cluster, audit_id=audit_id)
    if not events.num_rows:
        raise QueryError(f"no event with audit id {audit_id!r} in {lake}" + (f" (cluster {cluster})" if cluster else ""),
                         hint="copy it from the audit_id column of a finding or query result; --since/--until narrow the search")
    emit(events, chosen(output), output_file, max_rows=events.num_rows)

