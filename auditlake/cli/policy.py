"""`auditlake policy check|explain|simulate|recommend|check-apiserver`: the kube-apiserver audit Policy.

Owns: the `policy` group and how its findings print (`path:line: severity: message [code]`). Loading,
linting, evaluating and recommending are `auditlake.policy`'s, reached through the façade
(`lake.policy`, imported when a command runs); simulating over events is `Lake.policy_simulate`;
`recommend` reads only the library (`Library().needs`).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from auditlake.cli.console import stderr, stdout, text
from auditlake.cli.options import DEFAULT_LAKE, ClusterOption, ExplainFormat, LakeOption, OutputOption, PolicyFormat, UntilOption, chosen
from auditlake.cli.output import emit, write_text
from auditlake.errors import ExitCode
from auditlake.render.escape import terminal_text
from auditlake.render.formats import Format

app = typer.Typer(help="The kube-apiserver audit Policy: check, explain, simulate and recommend it.", no_args_is_help=True,
                  rich_markup_mode=None)
PolicyArgument = Annotated[Path, typer.Argument(help="An audit.k8s.io/v1 Policy file (--audit-policy-file).", show_default=False)]


def _print_findings(findings: list[Any], path: Path) -> None:
    for finding in findings:
        where = f"{path}:{finding.line}" if finding.line else str(path)
        stdout.print(terminal_text(f"{where}: {finding.severity}: {finding.message} [{finding.code}]"), markup=False, highlight=False,
                     soft_wrap=True)


@app.command("check")
def policy_check(policy_file: PolicyArgument, output: PolicyFormat = Format.TEXT) -> None:
    """Validate a policy as kube-apiserver would, then lint it: secrets in bodies, gaps, shadowed rules, volume.

    Example: auditlake policy check /etc/kubernetes/audit-policy.yaml
    """
    from auditlake.lake import policy

    findings = policy.lint(policy.load_policy(policy_file))
    if chosen(output) is Format.JSON:
        typer.echo(json.dumps([dataclasses.asdict(finding) for finding in findings], indent=1))
    else:
        _print_findings(findings, policy_file)
        stderr.print(f"{policy_file}: valid; {len(findings)} finding(s)", markup=False)
    if any(finding.severity == "error" for finding in findings):
        raise typer.Exit(int(ExitCode.FINDINGS))


@app.command("explain")
def policy_explain(
    policy_file: PolicyArgument,
    user: Annotated[str | None, typer.Option("--user", help="The authenticated user (before impersonation).")] = None,
    group: Annotated[list[str] | None, typer.Option("--group", help="A group of the user (repeatable).")] = None,
    verb: Annotated[str, typer.Option("--verb", help="get, list, watch, create, update, patch, delete, … (or an HTTP verb for --path).")] = "get",
    resource: Annotated[str | None, typer.Option("--resource", help="Resource, plural; RESOURCE/SUBRESOURCE for subresources.")] = None,
    api_group: Annotated[str, typer.Option("--api-group", help="API group (empty for the core group).")] = "",
    namespace: Annotated[str | None, typer.Option("--namespace", "-n", help="Namespace (omit for cluster-scoped).")] = None,
    name: Annotated[str | None, typer.Option("--name", help="Object name (for resourceNames).")] = None,
    path: Annotated[str | None, typer.Option("--path", help="A non-resource URL instead of a resource (/healthz, /apis).")] = None,
    lake: Annotated[Path | None, typer.Option("--lake", help="Instead: the level each kind of stored event would get.")] = None,
    since: Annotated[str, typer.Option("--since", help="With --lake: the window.")] = "7d",
    output: ExplainFormat = Format.TABLE,
) -> None:
    """Which level a request gets, which rule decided it, and why.

    Example: auditlake policy explain policy.yaml --user system:kube-proxy --group system:authenticated --verb watch --resource endpoints
    """
    from auditlake.lake import Lake, policy

    the_policy = policy.load_policy(policy_file)
    if lake is not None:
        emit(Lake(lake).policy_explain_events(the_policy, since=since), chosen(output), None, 50)
        return
    if (resource is None) == (path is None):
        raise typer.BadParameter("give either --resource or --path", param_hint="--resource/--path")
    request = policy.request_for(user, group or (), verb, api_group=api_group, resource=resource, namespace=namespace, name=name, path=path)
    for line in policy.describe_decision(policy.evaluate(the_policy, request)):
        stdout.print(terminal_text(line), markup=False)


@app.command("simulate")
def policy_simulate(
    policy_file: PolicyArgument,
    lake: LakeOption = DEFAULT_LAKE,
    since: Annotated[str, typer.Option("--since", help="Window of events to apply the policy to.")] = "7d",
    until: UntilOption = None,
    cluster: ClusterOption = None,
    output: PolicyFormat = Format.TEXT,
) -> None:
    """Apply a policy to the lake's events: volume per rule and level, before and after, and what queries would lose.

    Example: auditlake policy simulate new-policy.yaml --lake ./lake --since 7d
    """
    from rich.table import Table

    from auditlake.lake import Lake, policy

    the_policy = policy.load_policy(policy_file)
    result = Lake(lake).policy_simulate(the_policy, since=since, until=until, cluster=cluster)
    if chosen(output) is Format.JSON:
        typer.echo(json.dumps(dataclasses.asdict(result), indent=1))
        return
    ratio = result.events_after / result.events_before if result.events_before else 0
    stdout.print(f"events: {result.events_before:,} logged → {result.events_after:,} with this policy ({ratio:.0%}); "
                 f"body bytes {result.body_bytes_before:,} → {result.body_bytes_after:,}", markup=False)
    stdout.print("levels before: " + ", ".join(f"{k} {v:,}" for k, v in sorted(result.levels_before.items())), markup=False)
    stdout.print("levels after:  " + ", ".join(f"{k} {v:,}" for k, v in sorted(result.levels_after.items())), markup=False)
    table = Table(title="per rule", title_justify="left")
    for column, justify in (("rule", "left"), ("line", "right"), ("level", "left"), ("events matched", "right"), ("kept", "right")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for index, level, matched, kept in result.rules:
        line = str(the_policy.rules[index].line) if index is not None else ""
        table.add_row(str(index + 1) if index is not None else "(none)", line, text(level), f"{matched:,}", f"{kept:,}")
    stdout.print(table)
    if result.lost:
        stdout.print(f"saved queries that would lose data they need, by cause ({len(result.lost)}):", markup=False)
        for loss in result.lost:
            for line in policy.describe_loss(loss):
                stdout.print(terminal_text(f"  {line}"), markup=False)
    else:
        stdout.print("every saved query keeps the data it needs", markup=False)


@app.command("recommend")
def policy_recommend(
    purpose: Annotated[str | None, typer.Option("--for", help="Only what these controls need: pci-dss, hipaa (default: every saved query).")] = None,
    output_file: OutputOption = None,
) -> None:
    """A policy that keeps every saved query answerable at the lowest volume, each rule commented.

    Example: auditlake policy recommend --for pci-dss -o audit-policy.yaml
    """
    from auditlake.lake import policy
    from auditlake.library import Library

    needs = [need for _, need in Library().needs(purpose)]
    write_text(policy.recommend(needs, f"the saved queries evidencing {purpose}" if purpose else "every saved query"), output_file)


@app.command("check-apiserver")
def policy_check_apiserver(
    manifest: Annotated[Path, typer.Argument(help="The kube-apiserver static pod manifest (/etc/kubernetes/manifests/kube-apiserver.yaml).")],
) -> None:
    """The apiserver's audit flags, mounts and hostPaths against the CIS Kubernetes Benchmark audit controls.

    Example: auditlake policy check-apiserver /etc/kubernetes/manifests/kube-apiserver.yaml
    """
    from auditlake.lake import policy

    findings = policy.check_apiserver(manifest)
    _print_findings(findings, manifest)
    stderr.print(f"{manifest}: {len(findings)} finding(s)", markup=False)
    if any(finding.severity == "error" for finding in findings):
        raise typer.Exit(int(ExitCode.FINDINGS))
