"""`auditlake report` (a compliance pack over a window, written as files) and `auditlake review` (a signed-off section or finding).

Owns: those two commands and the pack list. The report is built by `Lake.report` and written by
`render.report` (Jinja2), both imported when the command runs. `report --out/-o` is a directory, not a
file as on the other commands: a report is a page, a Markdown file and a CSV/JSON per section.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from auditlake.cli.console import stderr, stdout, text
from auditlake.cli.options import (
    DEFAULT_LAKE,
    ClusterOption,
    LakeOption,
    OutDirOption,
    PrintFormat,
    ReviewFormat,
    SigningKeyOption,
    SinceOption,
    UntilOption,
    chosen,
    chosen_list,
    name_values,
)
from auditlake.cli.output import output_errors
from auditlake.errors import ExitCode
from auditlake.render.escape import terminal_text
from auditlake.render.formats import ACCEPTS, Format

PackParamOption = Annotated[list[str] | None, typer.Option("--param", "-p", help="A pack parameter as name=value, e.g. namespaces=payments,"
                                                                                  "checkout (repeatable; `auditlake report` lists them), or "
                                                                                  "one query's as QUERY.PARAM=value, as with detect -p.")]
TuningOption = Annotated[Path | None, typer.Option("--tuning", help="The detect tuning file (QUERY: {PARAM: VALUE}), applied to the pack's "
                                                                    "queries; -p values override it.")]


def compliance_report(
    pack: Annotated[str | None, typer.Argument(help="Report pack: pci-dss, hipaa, change-log, security-findings, or a pack YAML file. "
                                                    "Without it, list the packs.", show_default=False)] = None,
    lake: LakeOption = DEFAULT_LAKE,
    since: SinceOption = "30d",
    until: UntilOption = None,
    cluster: ClusterOption = None,
    param: PackParamOption = None,
    tuning_file: TuningOption = None,
    out: OutDirOption = Path("reports"),
    formats: Annotated[str, typer.Option("--format", help=f"Comma-separated: {', '.join(ACCEPTS['report'])} (md for markdown).")] = "html,md",
    fail_on: Annotated[str, typer.Option("--fail-on", help="`attention`: exit 1 when any section needs attention (for cron and CI); `never`.")] = "never",
    output: PrintFormat = Format.TABLE,
    require_verified: Annotated[bool, typer.Option("--require-verified", help="Refuse (exit 1, no report) when the lake does not verify "
                                                                              "against its digest chain (`auditlake verify`).")] = False,
) -> None:
    """Render a compliance report pack over a window: HTML with charts, Markdown, CSV and JSON per section.

    Example: auditlake report pci-dss --since 30d --cluster prod --out reports/ --format html,md,csv,json --fail-on attention
    """
    if pack is None:
        _print_packs(chosen(output))
        return
    chosen_formats = chosen_list("report", formats)
    if fail_on not in ("attention", "never"):
        raise typer.BadParameter("attention or never", param_hint="--fail-on")
    from rich.table import Table

    from auditlake.lake import Lake
    from auditlake.render import report as report_render

    result = Lake(lake).report(pack, since=since, until=until, cluster=cluster, params=name_values(param), tuning=tuning_file,
                               require_verified=require_verified)
    with output_errors(out):
        written = report_render.write(result, out, chosen_formats)
    if chosen(output) is Format.JSON:
        typer.echo(json.dumps({"pack": result.pack.name, "status": result.status, "files": [str(path) for path in written],
                               "sections": [{"control": s.section.control, "title": s.section.title, "status": s.status}
                                            for s in result.sections]}, indent=1))
    else:
        table = Table(title=Text(f"{terminal_text(result.pack.title)}\n{result.evidence.since:%Y-%m-%d %H:%M} → "
                                 f"{result.evidence.until:%Y-%m-%d %H:%M} UTC, {result.evidence.events:,} events"), title_justify="left")
        for name in ("control", "section", "result", "rows"):
            table.add_column(name, overflow="fold")
        for section in result.sections:
            colour = {"attention": "yellow", "pass": "green"}.get(section.status, "dim")
            table.add_row(text(section.section.control), text(section.section.title),
                          f"[{colour}]{report_render.STATUS_LABEL[section.status]}[/{colour}]",
                          " · ".join(f"{check.table.num_rows:,}" for check in section.checks))
        stdout.print(table)
    if result.evidence.events == 0:
        stderr.print("warning: the window holds no events, so no section can pass (check --since/--until and --cluster)", markup=False)
    main_files = [path for path in written if path.parent == out]
    stderr.print(f"wrote {', '.join(str(path) for path in main_files)}" + (f" and {len(written) - len(main_files)} per-section file(s) in "
                 f"{out / result.stem}" if len(written) > len(main_files) else ""), markup=False)
    if fail_on == "attention" and result.status == "attention":
        stderr.print(f"{result.count('attention')} section(s) need attention", markup=False)
        raise typer.Exit(int(ExitCode.FINDINGS))


def _print_packs(output: Format) -> None:
    from rich.table import Table

    from auditlake.lake import packs

    items = [packs.load(name) for name in packs.available()]
    if output is Format.JSON:
        typer.echo(json.dumps([{"name": item.name, "title": item.title, "framework": item.framework, "path": str(item.path),
                                "controls": [section.control for section in item.sections],
                                "params": [dataclasses.asdict(parameter) for parameter in item.params]} for item in items], indent=1))
        return
    table = Table()
    for name in ("pack", "title", "sections", "parameters"):
        table.add_column(name, overflow="fold")
    for item in items:
        table.add_row(text(item.name), text(item.title), text(", ".join(section.control for section in item.sections)),
                      text(", ".join(parameter.name for parameter in item.params)))
    stdout.print(table)


def review_evidence(
    target: Annotated[str, typer.Argument(help="A report section as PACK:CONTROL (pci-dss:10.2.1.3; the control alone when one pack has "
                                               "it), or a finding as QUERY:AUDIT_ID (a row of that query in a report, or a finding "
                                               "`detect --write` kept).", show_default=False)],
    by: Annotated[str, typer.Option("--by", help="Who reviewed it.", show_default=False)],
    note: Annotated[str, typer.Option("--note", help="Why: what was checked and decided (the explanation, a ticket).", show_default=False)],
    accept: Annotated[bool, typer.Option("--accept", help="Accept it: the next reports show it accepted instead of needing attention, "
                                                          "until its evidence changes (a row needing attention changes or a new one appears).")] = False,
    lake: LakeOption = DEFAULT_LAKE,
    since: Annotated[str, typer.Option("--since", help="A section: the window of the report reviewed, as for `report`.")] = "30d",
    until: Annotated[str | None, typer.Option("--until", help="End of that window, exclusive (default now).")] = None,
    cluster: Annotated[str | None, typer.Option("--cluster", "-c", help="A section: the report's cluster (default: every cluster).")] = None,
    param: Annotated[list[str] | None, typer.Option("--param", "-p", help="A section: the report's pack parameters (name=value, "
                                                                           "QUERY.PARAM=value), as for `report`.")] = None,
    tuning_file: Annotated[Path | None, typer.Option("--tuning", help="A section: the report's tuning file, as for `report`.")] = None,
    output: ReviewFormat = Format.TABLE,
    signing_key: SigningKeyOption = None,
) -> None:
    """Record who reviewed a report section or finding, when and why, in the lake (PCI-DSS 10.4.1); --accept clears its attention.

    Example: auditlake review pci-dss:10.2.1.3 --by alice --note "on-call SRE read the apiserver log, ticket OPS-123" --accept --since 30d
    """
    from auditlake.lake import Lake

    result = Lake(lake, signing_key=signing_key).review(target, by=by, note=note, accept=accept, since=since, until=until, cluster=cluster,
                               params=name_values(param), tuning=tuning_file)
    if chosen(output) is Format.JSON:
        typer.echo(json.dumps({key: value for key, value in dataclasses.asdict(result).items() if key != "evidence"}, indent=1, default=str))
    window = f" over {result.since:%Y-%m-%d %H:%M} → {result.until:%Y-%m-%d %H:%M} UTC" if result.since and result.until else ""
    stderr.print(f"recorded review {result.id}: {terminal_text(result.target)} {'accepted' if result.accepted else 'reviewed'} by "
                 f"{terminal_text(result.reviewer)}{window} ({result.rows:,} row(s) needing attention, evidence digest {result.digest})",
                 markup=False, soft_wrap=True)
