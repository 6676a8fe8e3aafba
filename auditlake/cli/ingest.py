"""`auditlake ingest`: audit logs into the lake, with a progress bar and a summary on stderr.

Owns: the ingest command, its progress bar (`with_progress`, also used by `demo`) and its summary
(`print_ingest_summary`). The input-format names come from the ingest registry through the façade
(`lake.FORMATS`), imported with the lake when the command runs: start-up imports neither.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from auditlake.cli.console import stderr
from auditlake.cli.options import DEFAULT_LAKE, LakeOption, SigningKeyOption
from auditlake.errors import QuarantineFoundError
from auditlake.render.escape import terminal_text

if TYPE_CHECKING:
    from auditlake.lake import IngestResult
    from auditlake.lake import Progress as IngestProgress


def ingest(
    inputs: Annotated[list[str], typer.Argument(help="Audit log files, directories (recursive), globs, - for stdin, or an object-store "
                                                     "prefix (s3://bucket/prefix/, read recursively).", show_default=False)],
    lake: LakeOption = DEFAULT_LAKE,
    cluster: Annotated[str | None, typer.Option(
        "--cluster", "-c", help="Cluster the events come from. Default: the cluster an EKS/AKS/GKE export names, "
        "else $AUDITLAKE_CLUSTER, else 'default'.")] = None,
    input_format: Annotated[str, typer.Option("--input-format", "-f", help="What the input is: auto (detected per file), log, eventlist, "
                                                                          "or a provider's export (eks, aks, gke, …; a wrong name lists "
                                                                          "them all).")] = "auto",
    strict: Annotated[bool, typer.Option("--strict", help="Exit 1 if any line was quarantined or a file could not be read.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar and no summary.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON on stdout.")] = False,
    keep_secrets: Annotated[bool, typer.Option(
        "--unsafe-keep-secret-values",
        help="DANGER: write Secret data/stringData values to the lake in clear text instead of fingerprints.")] = False,
    workers: Annotated[int, typer.Option("--workers", envvar="AUDITLAKE_WORKERS", min=0, help="Decoding threads (0: one per core).")] = 0,
    default_time: Annotated[str | None, typer.Option(
        "--default-time", help="For hand-written fixtures: events with no auditID or time of their own land with a synthetic id "
        "and this time (or Panther's p_event_time) instead of being quarantined; extra.\"auditlake:filled\" says so.")] = None,
    signing_key: SigningKeyOption = None,
    endpoint: Annotated[str | None, typer.Option(
        "--endpoint", help="S3-compatible endpoint URL for s3:// inputs and an s3:// lake (default: $AWS_ENDPOINT_URL, else AWS). Credentials come "
        "from the standard AWS chain: environment, profile or instance role.", show_default=False)] = None,
) -> None:
    """Read kube-apiserver audit logs into the lake; rerun any time, only new events are added.

    Example: auditlake ingest /var/log/kubernetes/audit/ --lake ./lake --cluster prod-eu

    Example: auditlake ingest s3://org-audit/eks/prod-eu/ --lake ./lake
    """
    from auditlake.lake import FORMATS, Lake

    if input_format not in FORMATS:
        raise typer.BadParameter(f"choose one of {', '.join(FORMATS)}", param_hint="--input-format")
    if keep_secrets:
        stderr.print("[bold red]WARNING:[/] --unsafe-keep-secret-values: Secret values will be written to the lake in "
                     "clear text and stay there. Anyone who can read the lake can read them.", markup=True)
    result = with_progress(quiet or as_json, lambda report: Lake(lake, signing_key=signing_key, endpoint=endpoint).ingest(
        inputs, cluster=cluster, format=input_format, redact=not keep_secrets, workers=workers, default_time=default_time,
        on_progress=report, endpoint=endpoint))
    if as_json:
        typer.echo(json.dumps(dataclasses.asdict(result), indent=1, default=str))
    elif not quiet:
        print_ingest_summary(result, lake)
    problems = [item for item in result.skipped if item.is_problem]
    if strict and (result.quarantined or problems):
        said = [f"{result.quarantined} line(s) quarantined"] if result.quarantined else []
        said += [f"{len(problems)} file(s) not read ({terminal_text(problems[0].name)}: {terminal_text(problems[0].reason)})"] if problems else []
        raise QuarantineFoundError(", ".join(said) + " (--strict)",
                                   hint=f"see them with: auditlake sql \"select * from quarantine\" --lake {lake}" if result.quarantined
                                   else "the summary above lists every file not read and why")


def with_progress(quiet: bool, run: Callable[[Callable[[IngestProgress], None] | None], IngestResult]) -> IngestResult:
    """`run(report)` with a progress bar on a terminal's stderr (`run(None)` when quiet or not on a terminal)."""
    if quiet or not stderr.is_terminal:
        return run(None)
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn, TransferSpeedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
               TextColumn("{task.fields[events]:>12,} events {task.fields[rate]:>9,.0f}/s"), TimeElapsedColumn())
    started = time.monotonic()
    with Progress(*columns, console=stderr, transient=True) as bar:
        task = bar.add_task("reading", total=None, events=0, rate=0.0)

        def report(update: IngestProgress) -> None:
            elapsed = max(time.monotonic() - started, 1e-6)
            bar.update(task, description=escape(terminal_text(Path(update.source).name[-32:])), completed=update.raw_bytes,
                       total=update.raw_total or None, events=update.events, rate=update.events / elapsed)

        return run(report)


def print_ingest_summary(result: IngestResult, lake: str | Path) -> None:
    """What an ingest did, on stderr: events, rate, duplicates, quarantine and skipped files with their reasons."""
    rate = result.events_decoded / result.seconds if result.seconds else 0
    megabytes = result.bytes_read / 1e6
    stderr.print(
        f"ingested {result.events_written:,} events into {lake} "
        f"(cluster {terminal_text(', '.join(result.clusters) or result.cluster or '-')}) "
        f"from {result.sources_read} source(s) "
        f"in {result.seconds:.1f} s: {rate:,.0f} events/s, {megabytes / result.seconds if result.seconds else 0:,.0f} MB/s",
        markup=False, soft_wrap=True)
    details = [f"{result.duplicates:,} duplicates skipped", f"{result.quarantined:,} lines quarantined",
               f"{result.sources_unchanged} source(s) unchanged since the last run"]
    details += [f"{result.blank_lines:,} blank lines"] if result.blank_lines else []
    stderr.print("  " + " · ".join(details), markup=False)
    for skipped in result.skipped:
        stderr.print(f"  skipped {terminal_text(skipped.name)}: {terminal_text(skipped.reason)}", markup=False)
    for reason, count in result.quarantine_reasons.items():
        stderr.print(f"  quarantined {count:,}: {terminal_text(reason)}", markup=False)
    for reason, count in result.skipped_records.items():
        stderr.print(f"  skipped {count:,} {terminal_text(reason)}", markup=False)
    if result.quarantined:
        stderr.print(f"  see them with: auditlake sql \"select source_file, source_line, reason from quarantine\" --lake {lake}",
                     markup=False)
