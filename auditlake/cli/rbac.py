"""`auditlake rbac suggest|unused`: least privilege from the record.

Owns: the `rbac` group. `suggest` writes the RBAC YAML a subject needs for what it did (`Lake.rbac_suggest`, audit2rbac's
way, across clusters and months); `unused` lists the grants each subject holds but did not use (`Lake.rbac_unused`),
rendered by `render.rbac`. Both imported when a command runs.
"""

from __future__ import annotations

from typing import Annotated

import typer

from auditlake.cli.console import state_window, stderr
from auditlake.cli.options import DEFAULT_LAKE, ClusterOption, LakeOption, OutputOption, RbacFormat, UntilOption, chosen
from auditlake.cli.output import emit, write_text
from auditlake.render.escape import terminal_text
from auditlake.render.formats import Format

app = typer.Typer(help="Least privilege from the record: the RBAC a subject needs, and the grants it never used.", no_args_is_help=True,
                  rich_markup_mode=None)
WindowSince = Annotated[str, typer.Option("--since", help="Start of the window: 90d, 30d, 2026-09-01, …")]


@app.command("suggest")
def rbac_suggest(
    user: Annotated[str | None, typer.Option("--user", help="The user (as requests name it; GKE: the email).", show_default=False)] = None,
    serviceaccount: Annotated[str | None, typer.Option("--serviceaccount", help="A service account, as NAMESPACE:NAME.",
                                                       show_default=False)] = None,
    lake: LakeOption = DEFAULT_LAKE,
    since: WindowSince = "90d",
    until: UntilOption = None,
    cluster: ClusterOption = None,
    namespace: Annotated[str | None, typer.Option("--namespace", "-n", help="Only requests in this namespace.")] = None,
    expand_verbs: Annotated[bool, typer.Option("--expand-verbs/--exact-verbs", help="Widen verbs as audit2rbac does: list or "
                                                                                    "watch → get, list, watch; update or patch → get, update, patch.")] = True,
    expand_names: Annotated[bool, typer.Option("--expand-names/--keep-names", help="A request shape seen on several objects "
                                                                               "covers every object (no resourceNames).")] = True,
    expand_namespaces: Annotated[bool, typer.Option("--expand-namespaces/--keep-namespaces", help="A request shape seen in several "
                                                                                                "namespaces becomes cluster-wide.")] = True,
    include_denied: Annotated[bool, typer.Option("--include-denied/--no-include-denied", help="Count denied (403) requests as needs.")] = True,
    name: Annotated[str | None, typer.Option("--name", help="Name of the objects (default auditlake:SUBJECT).", show_default=False)] = None,
    output_file: OutputOption = None,
) -> None:
    """Write the Role/ClusterRole and bindings that cover what a subject did in the window (audit2rbac's way), as YAML.

    Example: auditlake rbac suggest --serviceaccount ci:deployer --since 30d -o deployer-rbac.yaml
    """
    from auditlake.lake import Lake

    the_lake = Lake(lake)
    suggestion = the_lake.rbac_suggest(user=user, serviceaccount=serviceaccount, since=since, until=until, cluster=cluster,
                                       namespace=namespace, expand_verbs=expand_verbs, expand_names=expand_names,
                                       expand_namespaces=expand_namespaces, include_denied=include_denied, name=name)
    write_text(suggestion.yaml, output_file)
    rules = sum(len(role.rules) for role in suggestion.roles)
    stderr.print(terminal_text(f"{suggestion.subject.text()}: {len(suggestion.roles)} role(s), {rules} rule(s) for "
                               f"{suggestion.requests:,} request(s)" + (f" ({suggestion.denied:,} denied)" if suggestion.denied else "")),
                 markup=False)


@app.command("unused")
def rbac_unused(
    lake: LakeOption = DEFAULT_LAKE,
    since: WindowSince = "90d",
    until: UntilOption = None,
    cluster: ClusterOption = None,
    subject: Annotated[str | None, typer.Option("--subject", help="Only this subject: a user name (system:serviceaccount:NS:NAME for a "
                                                                  "service account); its groups' bindings count too.", show_default=False)] = None,
    show_all: Annotated[bool, typer.Option("--all", help="Also the grants the window used.")] = False,
    output: RbacFormat = Format.TEXT,
    output_file: OutputOption = None,
) -> None:
    """Granted versus used: each subject's grants (from the RBAC objects the lake saw) that the window never used, sensitive first.

    Example: auditlake rbac unused --since 90d --subject system:serviceaccount:web:report-exporter
    """
    from auditlake.lake import Lake
    from auditlake.render import rbac as rbac_render

    result = Lake(lake).rbac_unused(since=since, until=until, cluster=cluster, subject=subject)
    statuses = ("unused", "unknown", "used") if show_all else ("unused", "unknown")
    state_window(f"{result.count('unused')} unused grant(s) ({result.count('unused', sensitive=True)} sensitive), "
                 f"{result.count('unknown')} unknown, {result.count('used')} used", result.since, result.until)
    output = chosen(output)
    if output is Format.CSV:
        emit(result.table(statuses), Format.CSV, output_file, max_rows=0)
    else:
        write_text(rbac_render.unused_json(result, statuses) if output is Format.JSON else rbac_render.unused_text(result, statuses),
                   output_file)
