"""`auditlake detect`: the detections over a window, their findings printed, kept (`--write`) and alerted on (`--fail-on`).

Owns: the detect command. The detections, their severities and the tuning file come from the library
(`library.detections`, imported when the command runs: it brings pyarrow); running them is `Lake.detect`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated

import typer

from auditlake.cli.console import stderr
from auditlake.cli.options import (
    DEFAULT_LAKE,
    ClusterOption,
    DataFormat,
    LakeOption,
    MaxRowsOption,
    OutputOption,
    SigningKeyOption,
    SinceOption,
    UntilOption,
    chosen,
    name_values,
)
from auditlake.cli.output import emit
from auditlake.errors import ExitCode, window_text
from auditlake.render.formats import Format


def run_detections(
    lake: LakeOption = DEFAULT_LAKE,
    since: SinceOption = "24h",
    until: UntilOption = None,
    cluster: ClusterOption = None,
    rule: Annotated[list[str] | None, typer.Option("--rule", "-r", help="Only this detection (repeatable; `--list` names them); a "
                                                                       "detection upstream ships disabled runs when named.")] = None,
    severity: Annotated[str | None, typer.Option("--severity", help="Only detections at this severity or above: info, low, medium, high, critical.")] = None,
    fail_on: Annotated[str | None, typer.Option("--fail-on", help="Exit 1 when a finding is at this severity or above (for cron and CI).")] = None,
    write: Annotated[bool, typer.Option("--write", help="Keep the findings in the lake (the `findings` view); reruns add nothing twice.")] = False,
    output: DataFormat = Format.TABLE,
    output_file: OutputOption = None,
    max_rows: MaxRowsOption = 100,
    list_rules: Annotated[bool, typer.Option("--list", help="List the detections (and whether each runs by default) and the Falco, "
                                                           "Sigma and Panther rules each reproduces.")] = False,
    by_rule: Annotated[bool, typer.Option("--summary", help="One row per detection that fired (findings, actors, first, last) "
                                                           "instead of every finding.")] = False,
    param: Annotated[list[str] | None, typer.Option("--param", "-p", help="Tune one detection: RULE.PARAM=VALUE, e.g. "
                                                                           "disallowed-user.allowed_users=admin,alice (repeatable; "
                                                                           "`auditlake query show RULE` lists its parameters); RULE.enabled=true "
                                                                           "runs a detection upstream ships disabled.")] = None,
    tuning_file: Annotated[Path | None, typer.Option("--tuning", help="A YAML file of RULE: {PARAM: VALUE} (your allow-lists and "
                                                                      "thresholds); -p values override it.")] = None,
    only_new: Annotated[bool, typer.Option("--new", help="With --write: show, and --fail-on only on, the findings the lake did not "
                                                         "hold yet (overlapping scheduled windows alert once).")] = False,
    signing_key: SigningKeyOption = None,
) -> None:
    """Run the detections (Falco, Sigma and Panther rules as saved SQL) over a window and print the findings.

    Example: auditlake detect --since 24h --severity medium --fail-on high

    Overview: auditlake detect --since 30d --summary

    Hourly, alerting once per finding: auditlake detect --since 2h --write --new --fail-on high
    """
    from auditlake.library import Library
    from auditlake.library import detections as detect
    from auditlake.library.binding import load_tuning
    from auditlake.library.savedquery import ENGINES

    output = chosen(output)
    if fail_on is not None and fail_on not in detect.SEVERITY_RANK:
        raise typer.BadParameter(f"choose one of {', '.join(detect.SEVERITY_RANK)}", param_hint="--fail-on")
    if only_new and not write:
        raise typer.BadParameter("--new compares with the findings kept in the lake: add --write", param_hint="--new")
    if list_rules:
        import pyarrow as pa

        chosen_rules = detect.choose(Library().queries, rule, severity, include_disabled=True)
        rows = [{"rule": query.name, "severity": query.severity, "enabled": query.enabled, "title": query.title, "mitre": ", ".join(query.mitre),
                 **{engine: "; ".join(query.reproduces.get(engine, ())) for engine in ENGINES}} for query in chosen_rules]
        emit(pa.Table.from_pylist(rows), output, output_file, max_rows=len(rows) or 1)
        return
    from auditlake.lake import Lake

    the_lake = Lake(lake, signing_key=signing_key)
    start, end = the_lake.window(since, until)
    result = the_lake.detect(since=start, until=end, cluster=cluster, rules=rule, min_severity=severity, compare=write,
                             params={**(load_tuning(tuning_file) if tuning_file else {}), **name_values(param)})
    shown = dataclasses.replace(result, findings=result.new) if only_new and result.new is not None else result
    if by_rule:
        emit(shown.by_rule(), output, output_file, max_rows)
    else:
        emit(shown.findings.select(list(detect.TABLE_COLUMNS)) if output is Format.TABLE else shown.findings, output, output_file, max_rows)
    if write:  # only now, with the findings delivered: a run whose output failed alerts again next time
        the_lake.keep_findings(result)
    fired = {name: count for name, count in result.counts.items() if count}
    stderr.print(f"{result.findings.num_rows:,} finding(s) from {len(fired)} of {len(result.rules)} detection(s)"
                 + (": " + ", ".join(f"{name} {count:,}" for name, count in sorted(fired.items(), key=lambda item: -item[1])) if fired else "")
                 + (f"; {result.written:,} new in the lake" if result.written is not None else "")
                 + f"; window {window_text(start, end)}", markup=False, soft_wrap=True)
    if fail_on is not None and shown.at_least(fail_on):
        stderr.print(f"{shown.at_least(fail_on):,} {'new ' if only_new else ''}finding(s) at {fail_on} or above", markup=False)
        raise typer.Exit(int(ExitCode.FINDINGS))
