"""The `auditlake` command: parse arguments, call one `Lake` method, render the result, exit.

Owns: everything about terminals (typer, rich progress bars and tables, stderr messages) and the
one error boundary that turns `AuditlakeError`s into `error: …` / `hint: …` and exit codes.
Holds no logic: each command is a few lines around a `Lake` call. Never prints text from the lake
(or an error about it) as written: it goes through `render.escape.terminal_text`, so an escape sequence in
a user agent is shown, not obeyed, and into rich as `Text` (`_text`), never as markup or emoji codes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import errno
import functools
import json
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, BinaryIO, TypeVar

import pyarrow as pa
import typer
from rich.console import Console, ConsoleDimensions
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn, TransferSpeedColumn
from rich.table import Table
from rich.text import Text

from auditlake import config, history, policy
from auditlake.errors import AuditlakeError, AuditlakeWarning, ExitCode, OutputError, QuarantineFoundError, QueryError, window_text
from auditlake.ingest import IngestResult
from auditlake.ingest import Progress as IngestProgress
from auditlake.ingest.formats import FORMATS
from auditlake.lake import Lake, LakeStatus, version
from auditlake.library import Library
from auditlake.library import detections as detect
from auditlake.library.binding import load_tuning
from auditlake.library.savedquery import ENGINES
from auditlake.render import history as history_render
from auditlake.render import report as report_render
from auditlake.render.escape import terminal_text
from auditlake.render.formats import ACCEPTS, RENDERERS, Format, choose, format_of_path
from auditlake.reports import packs

EXIT_CODES_HELP = (
    "Exit codes: 0 ok · 1 findings (--strict saw quarantined lines, a --fail-on threshold was reached) · "
    "2 user error (bad input, arguments, lake) · 3 internal error (rerun with --debug) · 130 interrupted."
)
app = typer.Typer(
    name="auditlake",
    help="Kubernetes audit logs as a queryable, evidence-grade Parquet lake: ingest them, then ask who did what "
         "(query, history, detect) and prove it (report).",
    epilog=EXIT_CODES_HELP,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    add_completion=False,
    rich_markup_mode=None,
)
UNWRAPPED_WIDTH = 1_000_000  # off a terminal: wider than any row, so none is folded


class _Console(Console):
    """A rich console that fits a terminal and squeezes nothing anywhere else.

    On a terminal, tables fold to its width. In a pipe, cron mail or a CI log rich would assume 80
    columns and fold one value over five lines; there a row stays one line, however wide. A broken
    pipe goes to the error boundary (rich's own handler exits 1 from wherever it happens).
    """

    @property
    def size(self) -> ConsoleDimensions:
        size = super().size
        return size if self.is_terminal else ConsoleDimensions(UNWRAPPED_WIDTH, size.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        self._width, self._height = new_size

    def on_broken_pipe(self) -> None:
        raise BrokenPipeError(errno.EPIPE, "the reader closed the pipe")


# emoji=False: `:skull:` in data prints as written. soft_wrap: a message is one line that a terminal may wrap
# but rich never breaks, so a path in it stays whole (to copy, and in cron mail).
stderr = _Console(stderr=True, highlight=False, emoji=False, soft_wrap=True)
stdout = _Console(highlight=False, emoji=False)

LakeOption = Annotated[Path, typer.Option("--lake", "-l", envvar="AUDITLAKE_LAKE", help="Lake directory.", show_default=True)]
OUTPUT_FORMATS = [str(item) for item in ACCEPTS["sql"]]  # table and every Arrow renderer
F = TypeVar("F", bound=Callable[..., Any])


DEFAULT_LAKE = Path(config.SETTINGS["lake"].default)  # typer reads AUDITLAKE_LAKE itself (envvar=)


def handle_errors(command: F) -> F:
    """The error boundary: one line on stderr and a meaningful exit code, never a traceback (unless --debug)."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            with _warnings_on_stderr():
                result = command(*args, **kwargs)
            sys.stdout.flush()  # a reader that went away shows here, inside the boundary, not at interpreter exit
            return result
        except AuditlakeError as error:
            if config.is_debug():
                raise
            stderr.print(f"[bold red]error:[/] {escape(terminal_text(error.one_line()))}", markup=True, highlight=False, soft_wrap=True)
            if error.hint:
                stderr.print(f"hint: {terminal_text(error.hint)}", soft_wrap=True, markup=False)
            raise typer.Exit(int(error.exit_code)) from None
        except KeyboardInterrupt:
            stderr.print("interrupted: the lake keeps every committed batch; rerun to continue", markup=False)
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
        except (typer.Exit, typer.Abort, typer.BadParameter):  # usage errors: typer prints them and exits 2
            raise
        except BrokenPipeError:  # the reader stopped reading (`| head -1`): stop quietly, as cat does
            _detach_stdout()
            raise typer.Exit(int(ExitCode.OK)) from None
        except Exception as error:  # a bug: say so in one line
            if config.is_debug():
                raise
            stderr.print(f"internal error: {type(error).__name__}: {terminal_text(str(error).splitlines()[0]) if str(error) else ''}",
                         markup=False)
            stderr.print("hint: rerun with --debug (or AUDITLAKE_DEBUG=1) for the traceback, and report it", markup=False)
            raise typer.Exit(int(ExitCode.INTERNAL)) from None

    return wrapper  # type: ignore[return-value]


@contextlib.contextmanager
def _warnings_on_stderr() -> Iterator[None]:
    """Each `AuditlakeWarning` as one `warning: …` (or `note: …`) line on stderr, when it happens; other warnings as Python shows them."""
    with warnings.catch_warnings():
        warnings.simplefilter("always", AuditlakeWarning)
        show_other = warnings.showwarning

        def show(message: Warning | str, category: type[Warning], filename: str, lineno: int, file: Any = None, line: str | None = None) -> None:
            if issubclass(category, AuditlakeWarning):
                stderr.print(f"{category.label}: {terminal_text(str(message))}", markup=False)
            else:
                show_other(message, category, filename, lineno, file, line)

        warnings.showwarning = show
        yield


def _detach_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's last flush meets no broken pipe (and prints no traceback)."""
    with contextlib.suppress(OSError, ValueError):  # under CliRunner, stdout has no file descriptor
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"auditlake {version()}")
        raise typer.Exit()


@app.callback()
def main_options(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks instead of one-line errors.")] = False,
    show_version: Annotated[bool, typer.Option("--version", callback=_version_callback, is_eager=True, help="Print the version.")] = False,
) -> None:
    """Kubernetes audit logs as a queryable Parquet lake."""
    if debug:
        import os

        os.environ["AUDITLAKE_DEBUG"] = "1"


# ---- ingest ---------------------------------------------------------------------------------------
@app.command()
@handle_errors
def ingest(
    inputs: Annotated[list[str], typer.Argument(help="Audit log files, directories (recursive), globs, or - for stdin.", show_default=False)],
    lake: LakeOption = DEFAULT_LAKE,
    cluster: Annotated[str | None, typer.Option(
        "--cluster", "-c", help="Cluster the events come from. Default: the cluster an EKS/AKS/GKE export names, "
        "else $AUDITLAKE_CLUSTER, else 'default'.")] = None,
    input_format: Annotated[str, typer.Option("--format", "-f", help=f"Input format: {', '.join(FORMATS)}.")] = "auto",
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
) -> None:
    """Read kube-apiserver audit logs into the lake; rerun any time, only new events are added.

    Example: auditlake ingest /var/log/kubernetes/audit/ --lake ./lake --cluster prod-eu
    """
    if input_format not in FORMATS:
        raise typer.BadParameter(f"choose one of {', '.join(FORMATS)}", param_hint="--format")
    if keep_secrets:
        stderr.print("[bold red]WARNING:[/] --unsafe-keep-secret-values: Secret values will be written to the lake in "
                     "clear text and stay there. Anyone who can read the lake can read them.", markup=True)
    result = _with_progress(quiet or as_json, lambda report: Lake(lake).ingest(
        inputs, cluster=cluster, format=input_format, redact=not keep_secrets, workers=workers, default_time=default_time,
        on_progress=report))
    if as_json:
        typer.echo(json.dumps(dataclasses.asdict(result), indent=1, default=str))
    elif not quiet:
        _print_ingest_summary(result, lake)
    problems = [item for item in result.skipped if item.is_problem]
    if strict and (result.quarantined or problems):
        said = [f"{result.quarantined} line(s) quarantined"] if result.quarantined else []
        said += [f"{len(problems)} file(s) not read ({terminal_text(problems[0].name)}: {terminal_text(problems[0].reason)})"] if problems else []
        raise QuarantineFoundError(", ".join(said) + " (--strict)",
                                   hint=f"see them with: auditlake sql \"select * from quarantine\" --lake {lake}" if result.quarantined
                                   else "the summary above lists every file not read and why")


def _with_progress(quiet: bool, run: Callable[[Callable[[IngestProgress], None] | None], IngestResult]) -> IngestResult:
    if quiet or not stderr.is_terminal:
        return run(None)
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
               TextColumn("{task.fields[events]:>12,} events {task.fields[rate]:>9,.0f}/s"), TimeElapsedColumn())
    started = time.monotonic()
    with Progress(*columns, console=stderr, transient=True) as bar:
        task = bar.add_task("reading", total=None, events=0, rate=0.0)
        done_before = {"bytes": 0, "source": ""}

        def report(update: IngestProgress) -> None:
            if update.source != done_before["source"]:
                done_before["source"] = update.source
            elapsed = max(time.monotonic() - started, 1e-6)
            bar.update(task, description=escape(terminal_text(Path(update.source).name[-32:])), completed=update.raw_bytes,
                       total=update.raw_total or None, events=update.events, rate=update.events / elapsed)

        return run(report)


def _print_ingest_summary(result: IngestResult, lake: Path) -> None:
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


# ---- status ---------------------------------------------------------------------------------------
@app.command()
@handle_errors
def status(
    lake: LakeOption = DEFAULT_LAKE,
    output: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
) -> None:
    """Show what the lake holds: clusters, days, events, first/last event, quarantined lines, written findings.

    Example: auditlake status --lake ./lake
    """
    result = Lake(lake).status()
    if output == "json":
        typer.echo(json.dumps(dataclasses.asdict(result), indent=1))
        return
    _print_status(result)


def _print_status(result: LakeStatus) -> None:
    table = Table(title=_text(f"lake {result.lake}"), title_justify="left")
    for name, justify in (("cluster", "left"), ("days", "right"), ("events", "right"), ("first event (UTC)", "left"),
                          ("last event (UTC)", "left")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for cluster in result.clusters:
        table.add_row(_text(cluster.cluster), f"{cluster.days:,}", f"{cluster.events:,}", _text(_short_time(cluster.first_event_at)),
                      _text(_short_time(cluster.last_event_at)))
    stdout.print(table)
    stdout.print(f"{result.events:,} events in {result.files:,} files ({result.bytes / 1e6:,.1f} MB) from {result.sources:,} "
                 f"source(s), {result.batches:,} batch(es); last ingest {_short_time(result.last_ingest_at)}", markup=False)
    stdout.print(f"quarantined lines: {result.quarantined:,}", markup=False)
    for reason, count in result.quarantine_reasons.items():
        stdout.print(f"  {count:>8,}  {terminal_text(reason)}", markup=False)
    if result.findings:
        stdout.print(f"findings written by `detect --write`: {sum(result.findings.values()):,} from {len(result.findings)} detection(s) "
                     "(the `findings` view)", markup=False)


def _short_time(value: str | None) -> str:
    return value.replace("T", " ")[:19] if value else "-"


# ---- sql ------------------------------------------------------------------------------------------
@app.command()
@handle_errors
def sql(
    query: Annotated[str, typer.Argument(help="SQL over the lake's views: events, quarantine, findings, ingest_sources, ingest_batches, "
                                                         "changes, … and the saved queries as table macros.")],
    lake: LakeOption = DEFAULT_LAKE,
    output: Annotated[str, typer.Option("--format", help=f"Output format: {', '.join(OUTPUT_FORMATS)}.")] = "table",
    output_file: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")] = None,
    max_rows: Annotated[int, typer.Option("--max-rows", min=1, help="Rows shown by --format table.")] = 100,
) -> None:
    """Run SQL against the lake (DuckDB dialect); data on stdout, messages on stderr.

    Example: auditlake sql "select verb, count(*) from events group by all" --lake ./lake --format csv
    """
    output = _format("sql", output)
    result = Lake(lake).sql_arrow(query)
    _emit(result, output, output_file, max_rows)


def _emit(result: pa.Table, output: str, output_file: Path | None, max_rows: int) -> None:
    if output == "table" and output_file is not None:  # a table is for a terminal: a file gets the format its name says
        output = _format_of(output_file)
    if output == "table":
        _print_table(result, max_rows)
        return
    if output_file is not None:
        with _output_file(output_file) as handle:
            RENDERERS[Format(output)](result, handle)
        stderr.print(f"wrote {result.num_rows:,} rows to {terminal_text(str(output_file))}", markup=False)
        return
    if output == "parquet" and sys.stdout.isatty():
        raise typer.BadParameter("parquet is binary: use --output FILE or redirect stdout", param_hint="--format")
    RENDERERS[Format(output)](result, sys.stdout.buffer)
    sys.stdout.buffer.flush()


def _print_table(result: pa.Table, max_rows: int) -> None:
    table = Table(show_lines=False)
    for name, field in zip(result.column_names, result.schema, strict=True):
        is_number = pa.types.is_integer(field.type) or pa.types.is_floating(field.type) or pa.types.is_decimal(field.type)
        table.add_column(_text(name), justify="right" if is_number else "left", overflow="fold")
    for row in result.slice(0, max_rows).to_pylist():
        table.add_row(*[_cell(value) for value in row.values()])
    stdout.print(table)
    if result.num_rows > max_rows:
        stderr.print(f"{result.num_rows:,} rows, {max_rows} shown (--max-rows, or --format csv for all)", markup=False)


def _cell(value: Any) -> Text:
    if value is None:
        return Text("∅")
    if isinstance(value, int) and not isinstance(value, bool):
        return Text(f"{value:,}")
    if isinstance(value, datetime.datetime):  # a terminal reader wants the second, in UTC; csv/json keep it all
        return Text(value.astimezone(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S") if value.tzinfo else f"{value:%Y-%m-%d %H:%M:%S}")
    if hasattr(value, "isoformat"):
        return Text(value.isoformat())
    return _text(value)  # data, not markup: `[a-z]` in an exec command must print as written


def _text(value: Any) -> Text:
    """Data for a rich table cell or title: printed as written, never as markup, emoji or a control sequence."""
    return Text(terminal_text(value))


# ---- saved queries --------------------------------------------------------------------------------
query_app = typer.Typer(help="The saved-query library: list, show and run the questions auditlake knows how to answer.",
                        no_args_is_help=True, rich_markup_mode=None)
app.add_typer(query_app, name="query")


@query_app.command("list")
@handle_errors
def query_list(
    output: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    topic: Annotated[str | None, typer.Option("--topic", help="Only this topic (changes, access, operations, …).")] = None,
) -> None:
    """List the saved queries by topic, with their severity and the controls they evidence.

    Example: auditlake query list --format json
    """
    items = [item for item in Library().saved_queries() if topic is None or item.topic == topic]
    if output == "json":
        typer.echo(json.dumps([_query_summary(item) for item in items], indent=1))
        return
    table = Table(show_lines=False)
    for name in ("topic", "name", "title", "severity", "controls"):
        table.add_column(name, overflow="fold")
    for item in items:
        table.add_row(_text(item.topic), _text(item.name), _text(item.title), _text(item.severity), _text(", ".join(item.controls)))
    stdout.print(table)


def _query_summary(item: Any) -> dict[str, Any]:
    return {"name": item.name, "topic": item.topic, "title": item.title, "description": item.description, "severity": item.severity,
            "controls": list(item.controls), "mitre": list(item.mitre), "path": str(item.path), "macro": item.macro_name,
            "params": [dataclasses.asdict(parameter) for parameter in item.params]}


@query_app.command("show")
@handle_errors
def query_show(
    name: Annotated[str, typer.Argument(help="Saved query (or view) name, as in `auditlake query list`.")],
    output: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
) -> None:
    """Show a saved query's metadata, parameters and SQL.

    Example: auditlake query show secret-reads-by-humans
    """
    item = Library().saved_query(name)
    if output == "json":
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


@query_app.command("run")
@handle_errors
def query_run(
    name: Annotated[str, typer.Argument(help="Saved query name, as in `auditlake query list`.")],
    lake: LakeOption = DEFAULT_LAKE,
    since: Annotated[str | None, typer.Option("--since", help="Start of the window: 7d, 24h, 2026-11-01, … (default: the query's, 7d).")] = None,
    until: Annotated[str | None, typer.Option("--until", help="End of the window (default now).")] = None,
    cluster: Annotated[str | None, typer.Option("--cluster", "-c", help="Only this cluster.")] = None,
    namespace: Annotated[str | None, typer.Option("--namespace", "-n", help="Only this namespace (where the query has one).")] = None,
    param: Annotated[list[str] | None, typer.Option("--param", "-p", help="Any other parameter, as name=value (repeatable).")] = None,
    output: Annotated[str, typer.Option("--format", help=f"Output format: {', '.join(OUTPUT_FORMATS)}.")] = "table",
    output_file: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")] = None,
    max_rows: Annotated[int, typer.Option("--max-rows", min=1, help="Rows shown by --format table.")] = 100,
) -> None:
    """Run a saved query over a time window; data on stdout, messages on stderr.

    Example: auditlake query run secret-reads-by-humans --since 7d --format csv
    """
    output = _format("query run", output)
    params = _name_values(param)
    for key, value in (("cluster", cluster), ("namespace", namespace)):
        if value is not None:
            params[key] = value
    the_lake = Lake(lake)
    start, end = the_lake.window(since, until, query=name)  # stated below: the query's own default is not every command's
    result = the_lake.query_arrow(name, since=start, until=end, **params)
    _emit(result, output, output_file, max_rows)
    _state_window(f"{result.num_rows:,} row(s)", start, end)


def _state_window(what: str, start: datetime.datetime, end: datetime.datetime) -> None:
    """`12 row(s) in 2026-11-01 00:00 → 2026-11-08 00:00 UTC` on stderr: each windowed command says which window it read."""
    stderr.print(f"{what} in {window_text(start, end)}", markup=False)


def _name_values(items: list[str] | None) -> dict[str, str]:
    """`--param name=value` options as a dict."""
    params: dict[str, str] = {}
    for item in items or []:
        key, separator, value = item.partition("=")
        if not separator or not key.strip():
            raise typer.BadParameter(f"{item!r} is not name=value", param_hint="--param")
        params[key.strip()] = value
    return params


# ---- change history -------------------------------------------------------------------------------
HISTORY_FORMATS = tuple(str(item) for item in ACCEPTS["history"])


@app.command(name="history")
@handle_errors
def object_history(
    target: Annotated[str, typer.Argument(help="The object: RESOURCE/NAMESPACE/NAME, or RESOURCE/NAME when cluster-scoped.")],
    lake: LakeOption = DEFAULT_LAKE,
    cluster: Annotated[str | None, typer.Option("--cluster", "-c", help="Only this cluster (default: one timeline per cluster).")] = None,
    since: Annotated[str, typer.Option("--since", help="Show changes from (earlier states are still read to diff against).")] = "90d",
    until: Annotated[str | None, typer.Option("--until", help="Show changes until (default now).")] = None,
    output: Annotated[str, typer.Option("--format", help=f"Output format: {', '.join(HISTORY_FORMATS)}.")] = "terminal",
    output_file: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")] = None,
    show_all: Annotated[bool, typer.Option("--all", help="Keep writes that changed only metadata noise.")] = False,
    status: Annotated[bool, typer.Option("--status", help="Include status writes (kubelets, controllers) and diff the status too.")] = False,
) -> None:
    """Who changed an object, when, from where, and exactly what: its timeline with a diff per change, per cluster.

    Example: auditlake history deployments/payments/api --since 7d
    """
    output = _format("history", output)
    parts = target.strip("/").split("/")
    if len(parts) not in (2, 3):
        raise typer.BadParameter("use RESOURCE/NAMESPACE/NAME (deployments/payments/api) or RESOURCE/NAME", param_hint="TARGET")
    resource, namespace, name = (parts[0], parts[1], parts[2]) if len(parts) == 3 else (parts[0], None, parts[1])
    the_lake = Lake(lake)
    start, end = the_lake.window(since, until)
    entries = the_lake.history_entries(resource, namespace, name, since=start, until=end, cluster=cluster, keep_noise=show_all,
                                       include_status=status)
    _state_window(f"{len(entries)} change(s)", start, end)
    title = f"History of {target}"  # each timeline's title adds its cluster
    if output == "terminal" and output_file is None:
        _print_history(title, entries)
        return
    text = {"terminal": lambda: history_render.history_markdown(title, entries, history.unified_diff),
            "markdown": lambda: history_render.history_markdown(title, entries, history.unified_diff),
            "json": lambda: history_render.history_json(entries),
            "html": lambda: history_render.history_html(title, entries, history.unified_diff)}[output]()
    _write_text(text, output_file)


DIFF_STYLES = {"add": "green", "del": "red", "hunk": "magenta", "": "dim"}  # by render.pages.diff_kind


def _print_history(title: str, entries: list[Any]) -> None:
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


@contextlib.contextmanager
def _output_errors(path: Path) -> Iterator[None]:
    """A file or directory the user named for output that cannot be written is their error to fix (exit 2), not a crash."""
    try:
        yield
    except OSError as error:
        raise OutputError(f"{path}: cannot write ({error.strerror or error})",
                          hint="check that its directory can be created and written to") from None


@contextlib.contextmanager
def _output_file(path: Path) -> Iterator[BinaryIO]:
    """The one way a command writes a file the user named (--output): its directory is created as `report --out` does."""
    with _output_errors(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            yield handle


def _format_of(path: Path) -> Format:
    chosen = format_of_path(path)
    if chosen is None:
        raise typer.BadParameter(f"--format table is for the terminal: give --format ({', '.join(RENDERERS)}) to write {path}",
                                 param_hint="--format")
    return chosen


def _format(command: str, name: str) -> Format:
    """`--format NAME` checked against what `command` accepts (`md` is `markdown`); exit 2 listing the choices."""
    try:
        return choose(command, name)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--format") from None


def _write_text(text: str, output_file: Path | None) -> None:
    if output_file is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    with _output_file(output_file) as handle:
        handle.write(text.encode())
    stderr.print(f"wrote {terminal_text(str(output_file))}", markup=False)


@app.command(name="changes")
@handle_errors
def changed_objects(
    lake: LakeOption = DEFAULT_LAKE,
    since: Annotated[str, typer.Option("--since", help="Start of the window: 24h, 7d, 2026-11-01, …")] = "24h",
    until: Annotated[str | None, typer.Option("--until", help="End of the window (default now).")] = None,
    kind: Annotated[str | None, typer.Option("--kind", help="Only this resource, plural (deployments, configmaps, …).")] = None,
    namespace: Annotated[str | None, typer.Option("--namespace", "-n", help="Only this namespace.")] = None,
    cluster: Annotated[str | None, typer.Option("--cluster", "-c", help="Only this cluster.")] = None,
    output: Annotated[str, typer.Option("--format", help="table, markdown or json.")] = "table",
    include_noise: Annotated[bool, typer.Option("--include-noise", help="Also the writes left out as noise: leases, events, "
                                                                        "access and token reviews (--kind names one to show it).")] = False,
) -> None:
    """Every change in a window, grouped by object, one line each ("image api:1.4.2 → api:1.5.0").

    Example: auditlake changes --since 24h --kind deployments
    """
    output = _format("changes", output)
    the_lake = Lake(lake)
    the_lake.require_resource(kind)
    start, end = the_lake.window(since, until)
    groups = the_lake.changes(since=start, until=end, resource=kind, namespace=namespace, cluster=cluster, include_noise=include_noise)
    _state_window(f"{sum(len(e) for _, e in groups)} change(s) to {len(groups)} object(s)", start, end)
    if output in ("json", "markdown"):
        typer.echo(history_render.changes_json(groups) if output == "json" else history_render.changes_markdown(groups, since))
        return
    table = Table(show_lines=False)
    for column in history_render.CHANGES_COLUMNS:
        table.add_column(column, overflow="fold")
    for object_cluster, label, when, summary, actors, clients in history_render.changes_rows(groups):
        table.add_row(_text(object_cluster), _text(label), when, _text(summary), _text(actors), _text(clients))
    stdout.print(table)


# ---- audit policy ---------------------------------------------------------------------------------
policy_app = typer.Typer(help="The kube-apiserver audit Policy: check, explain, simulate and recommend it.", no_args_is_help=True,
                         rich_markup_mode=None)
app.add_typer(policy_app, name="policy")
PolicyArgument = Annotated[Path, typer.Argument(help="An audit.k8s.io/v1 Policy file (--audit-policy-file).", show_default=False)]


def _print_findings(findings: list[Any], path: Path) -> None:
    for finding in findings:
        where = f"{path}:{finding.line}" if finding.line else str(path)
        stdout.print(terminal_text(f"{where}: {finding.severity}: {finding.message} [{finding.code}]"), markup=False, highlight=False,
                     soft_wrap=True)


@policy_app.command("check")
@handle_errors
def policy_check(
    policy_file: PolicyArgument,
    output: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
) -> None:
    """Validate a policy as kube-apiserver would, then lint it: secrets in bodies, gaps, shadowed rules, volume.

    Example: auditlake policy check /etc/kubernetes/audit-policy.yaml
    """
    findings = policy.lint(policy.load_policy(policy_file))
    if output == "json":
        typer.echo(json.dumps([dataclasses.asdict(finding) for finding in findings], indent=1))
    else:
        _print_findings(findings, policy_file)
        stderr.print(f"{policy_file}: valid; {len(findings)} finding(s)", markup=False)
    if any(finding.severity == "error" for finding in findings):
        raise typer.Exit(int(ExitCode.FINDINGS))


@policy_app.command("explain")
@handle_errors
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
    output: Annotated[str, typer.Option("--format", help=f"With --lake: {', '.join(OUTPUT_FORMATS)}.")] = "table",
) -> None:
    """Which level a request gets, which rule decided it, and why.

    Example: auditlake policy explain policy.yaml --user system:kube-proxy --group system:authenticated --verb watch --resource endpoints
    """
    the_policy = policy.load_policy(policy_file)
    if lake is not None:
        _emit(Lake(lake).policy_explain_events(the_policy, since=since), output, None, 50)
        return
    if (resource is None) == (path is None):
        raise typer.BadParameter("give either --resource or --path", param_hint="--resource/--path")
    request = policy.request_for(user, group or (), verb, api_group=api_group, resource=resource, namespace=namespace, name=name, path=path)
    for line in policy.describe_decision(policy.evaluate(the_policy, request)):
        stdout.print(terminal_text(line), markup=False)


@policy_app.command("simulate")
@handle_errors
def policy_simulate(
    policy_file: PolicyArgument,
    lake: LakeOption = DEFAULT_LAKE,
    since: Annotated[str, typer.Option("--since", help="Window of events to apply the policy to.")] = "7d",
    until: Annotated[str | None, typer.Option("--until", help="End of the window (default now).")] = None,
    cluster: Annotated[str | None, typer.Option("--cluster", "-c", help="Only this cluster.")] = None,
    output: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
) -> None:
    """Apply a policy to the lake's events: volume per rule and level, before and after, and what queries would lose.

    Example: auditlake policy simulate new-policy.yaml --lake ./lake --since 7d
    """
    the_policy = policy.load_policy(policy_file)
    result = Lake(lake).policy_simulate(the_policy, since=since, until=until, cluster=cluster)
    if output == "json":
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
        table.add_row(str(index + 1) if index is not None else "(none)", line, _text(level), f"{matched:,}", f"{kept:,}")
    stdout.print(table)
    if result.lost:
        stdout.print(f"saved queries that would lose data they need, by cause ({len(result.lost)}):", markup=False)
        for loss in result.lost:
            for line in policy.describe_loss(loss):
                stdout.print(terminal_text(f"  {line}"), markup=False)
    else:
        stdout.print("every saved query keeps the data it needs", markup=False)


@policy_app.command("recommend")
@handle_errors
def policy_recommend(
    purpose: Annotated[str | None, typer.Option("--for", help="Only what these controls need: pci-dss, hipaa (default: every saved query).")] = None,
    output_file: Annotated[Path | None, typer.Option("--output", "-o", help="Write the policy to this file.")] = None,
) -> None:
    """A policy that keeps every saved query answerable at the lowest volume, each rule commented.

    Example: auditlake policy recommend --for pci-dss -o audit-policy.yaml
    """
    needs = [need for _, need in Library().needs(purpose)]
    _write_text(policy.recommend(needs, f"the saved queries evidencing {purpose}" if purpose else "every saved query"), output_file)


@policy_app.command("check-apiserver")
@handle_errors
def policy_check_apiserver(
    manifest: Annotated[Path, typer.Argument(help="The kube-apiserver static pod manifest (/etc/kubernetes/manifests/kube-apiserver.yaml).")],
) -> None:
    """The apiserver's audit flags, mounts and hostPaths against the CIS Kubernetes Benchmark audit controls.

    Example: auditlake policy check-apiserver /etc/kubernetes/manifests/kube-apiserver.yaml
    """
    findings = policy.check_apiserver(manifest)
    _print_findings(findings, manifest)
    stderr.print(f"{manifest}: {len(findings)} finding(s)", markup=False)
    if any(finding.severity == "error" for finding in findings):
        raise typer.Exit(int(ExitCode.FINDINGS))


# ---- drill-down -----------------------------------------------------------------------------------
@app.command(name="event")
@handle_errors
def request_events(
    audit_id: Annotated[str, typer.Argument(help="The request's audit id (the audit_id column of findings, saved queries and reports).",
                                            show_default=False)],
    lake: LakeOption = DEFAULT_LAKE,
    cluster: Annotated[str | None, typer.Option("--cluster", "-c", help="Only this cluster.")] = None,
    since: Annotated[str, typer.Option("--since", help="Start of the window searched (default: the lake's whole past).")] = "1970-01-01",
    until: Annotated[str, typer.Option("--until", help="End of the window searched, exclusive.")] = "2100-01-01",
    output: Annotated[str, typer.Option("--format", help=f"Output format: {', '.join(OUTPUT_FORMATS)}.")] = "json",
    output_file: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")] = None,
) -> None:
    """Every stored stage of one request, all columns and bodies, with the file and line it was read from.

    Example: auditlake event 4b5c7d9e-1f2a-4c3b-9d8e-7a6b5c4d3e2f --lake ./lake
    """
    output = _format("events", output)
    events = Lake(lake).query_arrow("request-events", since=since, until=until, cluster=cluster, audit_id=audit_id)
    if not events.num_rows:
        raise QueryError(f"no event with audit id {audit_id!r} in {lake}" + (f" (cluster {cluster})" if cluster else ""),
                         hint="copy it from the audit_id column of a finding or query result; --since/--until narrow the search")
    _emit(events, output, output_file, max_rows=events.num_rows)


# ---- detections -----------------------------------------------------------------------------------
@app.command(name="detect")
@handle_errors
def run_detections(
    lake: LakeOption = DEFAULT_LAKE,
    since: Annotated[str, typer.Option("--since", help="Start of the window: 24h, 7d, 2026-11-01, …")] = "24h",
    until: Annotated[str | None, typer.Option("--until", help="End of the window, exclusive (default now).")] = None,
    cluster: Annotated[str | None, typer.Option("--cluster", "-c", help="Only this cluster.")] = None,
    rule: Annotated[list[str] | None, typer.Option("--rule", "-r", help="Only this detection (repeatable; `--list` names them).")] = None,
    severity: Annotated[str | None, typer.Option("--severity", help="Only detections at this severity or above: info, low, medium, high, critical.")] = None,
    fail_on: Annotated[str | None, typer.Option("--fail-on", help="Exit 1 when a finding is at this severity or above (for cron and CI).")] = None,
    write: Annotated[bool, typer.Option("--write", help="Keep the findings in the lake (the `findings` view); reruns add nothing twice.")] = False,
    output: Annotated[str, typer.Option("--format", help=f"Output format: {', '.join(OUTPUT_FORMATS)}.")] = "table",
    output_file: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")] = None,
    max_rows: Annotated[int, typer.Option("--max-rows", min=1, help="Rows shown by --format table.")] = 100,
    list_rules: Annotated[bool, typer.Option("--list", help="List the detections and the Falco, Sigma and Panther rules each reproduces.")] = False,
    by_rule: Annotated[bool, typer.Option("--summary", help="One row per detection that fired (findings, actors, first, last) "
                                                           "instead of every finding.")] = False,
    param: Annotated[list[str] | None, typer.Option("--param", "-p", help="Tune one detection: RULE.PARAM=VALUE, e.g. "
                                                                           "disallowed-user.allowed_users=admin,alice (repeatable; "
                                                                           "`auditlake query show RULE` lists its parameters).")] = None,
    tuning_file: Annotated[Path | None, typer.Option("--tuning", help="A YAML file of RULE: {PARAM: VALUE} (your allow-lists and "
                                                                      "thresholds); -p values override it.")] = None,
    only_new: Annotated[bool, typer.Option("--new", help="With --write: show, and --fail-on only on, the findings the lake did not "
                                                         "hold yet (overlapping scheduled windows alert once).")] = False,
) -> None:
    """Run the detections (Falco, Sigma and Panther rules as saved SQL) over a window and print the findings.

    Example: auditlake detect --since 24h --severity medium --fail-on high

    Overview: auditlake detect --since 30d --summary

    Hourly, alerting once per finding: auditlake detect --since 2h --write --new --fail-on high
    """
    output = _format("detect", output)
    if fail_on is not None and fail_on not in detect.SEVERITY_RANK:
        raise typer.BadParameter(f"choose one of {', '.join(detect.SEVERITY_RANK)}", param_hint="--fail-on")
    if only_new and not write:
        raise typer.BadParameter("--new compares with the findings kept in the lake: add --write", param_hint="--new")
    if list_rules:
        chosen = detect.choose(Library().queries, rule, severity)
        rows = [{"rule": query.name, "severity": query.severity, "title": query.title, "mitre": ", ".join(query.mitre),
                 **{engine: "; ".join(query.reproduces.get(engine, ())) for engine in ENGINES}} for query in chosen]
        _emit(pa.Table.from_pylist(rows), output, output_file, max_rows=len(rows) or 1)
        return
    the_lake = Lake(lake)
    start, end = the_lake.window(since, until)
    result = the_lake.detect(since=start, until=end, cluster=cluster, rules=rule, min_severity=severity, compare=write,
                             params={**(load_tuning(tuning_file) if tuning_file else {}), **_name_values(param)})
    shown = dataclasses.replace(result, findings=result.new) if only_new and result.new is not None else result
    if by_rule:
        _emit(shown.by_rule(), output, output_file, max_rows)
    else:
        _emit(shown.findings.select(list(detect.TABLE_COLUMNS)) if output == "table" else shown.findings,
              output, output_file, max_rows)
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


# ---- compliance reports ---------------------------------------------------------------------------
@app.command(name="report")
@handle_errors
def compliance_report(
    pack: Annotated[str | None, typer.Argument(help="Report pack: pci-dss, hipaa, change-log, security-findings, or a pack YAML file. "
                                                    "Without it, list the packs.", show_default=False)] = None,
    lake: LakeOption = DEFAULT_LAKE,
    since: Annotated[str, typer.Option("--since", help="Start of the window: 30d, 1d, yesterday, 2026-11-01, …")] = "30d",
    until: Annotated[str | None, typer.Option("--until", help="End of the window, exclusive (default now; `today` for whole days).")] = None,
    cluster: Annotated[str | None, typer.Option("--cluster", "-c", help="Only this cluster (default: every cluster in the lake).")] = None,
    param: Annotated[list[str] | None, typer.Option("--param", "-p", help="A pack parameter as name=value, e.g. namespaces=payments,checkout "
                                                                           "(repeatable; `auditlake report` lists them), or one query's "
                                                                           "as QUERY.PARAM=value, as with detect -p.")] = None,
    tuning_file: Annotated[Path | None, typer.Option("--tuning", help="The detect tuning file (QUERY: {PARAM: VALUE}), applied to "
                                                                      "the pack's queries; -p values override it.")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for the report files (named PACK-CLUSTER-DATE).")] = Path("reports"),
    formats: Annotated[str, typer.Option("--format", help=f"Comma-separated: {', '.join(report_render.FORMATS)}.")] = "html,md",
    fail_on: Annotated[str, typer.Option("--fail-on", help="`attention`: exit 1 when any section needs attention (for cron and CI); `never`.")] = "never",
    output: Annotated[str, typer.Option("--print", help="What to print: table (sections and their result) or json (the summary).")] = "table",
) -> None:
    """Render a compliance report pack over a window: HTML with charts, Markdown, CSV and JSON per section.

    Example: auditlake report pci-dss --since 30d --cluster prod --out reports/ --format html,md,csv,json --fail-on attention
    """
    if pack is None:
        _print_packs(output)
        return
    chosen = tuple(_format("report", item) for item in formats.split(",") if item.strip())
    if not chosen:
        raise typer.BadParameter(f"choose from {', '.join(report_render.FORMATS)}", param_hint="--format")
    if fail_on not in ("attention", "never"):
        raise typer.BadParameter("attention or never", param_hint="--fail-on")
    result = Lake(lake).report(pack, since=since, until=until, cluster=cluster, params=_name_values(param), tuning=tuning_file)
    with _output_errors(out):
        written = report_render.write(result, out, chosen)
    if output == "json":
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
            table.add_row(_text(section.section.control), _text(section.section.title),
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


def _print_packs(output: str) -> None:
    items = [packs.load(name) for name in packs.available()]
    if output == "json":
        typer.echo(json.dumps([{"name": item.name, "title": item.title, "framework": item.framework, "path": str(item.path),
                                "controls": [section.control for section in item.sections],
                                "params": [dataclasses.asdict(parameter) for parameter in item.params]} for item in items], indent=1))
        return
    table = Table()
    for name in ("pack", "title", "sections", "parameters"):
        table.add_column(name, overflow="fold")
    for item in items:
        table.add_row(_text(item.name), _text(item.title), _text(", ".join(section.control for section in item.sections)),
                      _text(", ".join(parameter.name for parameter in item.params)))
    stdout.print(table)


# ---- review evidence ------------------------------------------------------------------------------
@app.command(name="review")
@handle_errors
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
    output: Annotated[str, typer.Option("--format", help="table (a summary on stderr) or json (the review on stdout).")] = "table",
) -> None:
    """Record who reviewed a report section or finding, when and why, in the lake (PCI-DSS 10.4.1); --accept clears its attention.

    Example: auditlake review pci-dss:10.2.1.3 --by alice --note "on-call SRE read the apiserver log, ticket OPS-123" --accept --since 30d
    """
    if output not in ("table", "json"):
        raise typer.BadParameter("table or json", param_hint="--format")
    result = Lake(lake).review(target, by=by, note=note, accept=accept, since=since, until=until, cluster=cluster,
                               params=_name_values(param), tuning=tuning_file)
    if output == "json":
        typer.echo(json.dumps({key: value for key, value in dataclasses.asdict(result).items() if key != "evidence"}, indent=1, default=str))
    window = f" over {result.since:%Y-%m-%d %H:%M} → {result.until:%Y-%m-%d %H:%M} UTC" if result.since and result.until else ""
    stderr.print(f"recorded review {result.id}: {terminal_text(result.target)} {'accepted' if result.accepted else 'reviewed'} by "
                 f"{terminal_text(result.reviewer)}{window} ({result.rows:,} row(s) needing attention, evidence digest {result.digest})",
                 markup=False, soft_wrap=True)


# ---- maintenance ----------------------------------------------------------------------------------
@app.command()
@handle_errors
def compact(lake: LakeOption = DEFAULT_LAKE) -> None:
    """Merge the small files of many incremental runs into one time-sorted file per partition.

    Example: auditlake compact --lake ./lake
    """
    result = Lake(lake).compact(on_partition=lambda name: stderr.print(f"compacting {terminal_text(name)}", markup=False))
    stderr.print(f"compacted {result.partitions} partition(s): {result.files_before} files → {result.files_after} "
                 f"({result.rows:,} rows)", markup=False)


@app.command(name="catalog")
@handle_errors
def rebuild_catalog(lake: LakeOption = DEFAULT_LAKE) -> None:
    """Rebuild LAKE/catalog.duckdb (after moving the lake; every command also does it when needed).

    Example: auditlake catalog --lake ./lake && duckdb ./lake/catalog.duckdb -c "select count(*) from events"
    """
    path = Lake(lake).rebuild_catalog()
    stderr.print(f"wrote {path}", markup=False)


# ---- demo data ------------------------------------------------------------------------------------
@app.command(name="demo")
@handle_errors
def run_demo(
    lake: LakeOption = DEFAULT_LAKE,
    log_dir: Annotated[Path, typer.Option("--log-dir", help="Where the simulated apiserver writes its audit log.")] = Path("demo-audit-log"),
    requests: Annotated[int, typer.Option("--requests", min=1, help="API requests to simulate (about 2 events each).")] = 100_000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed: the same seed gives the same cluster.")] = 7,
) -> None:
    """Simulate a cluster's audit log, ingest it, and show what the lake can answer.

    Example: auditlake demo --lake ./demo-lake
    """
    result = _with_progress(False, lambda report: Lake(lake).demo(log_dir, requests=requests, seed=seed, on_progress=report).ingest)
    _print_ingest_summary(result, lake)
    the_lake = Lake(lake)
    _print_status(the_lake.status())
    stdout.print("\nWho read secrets in the last 7 days (auditlake query run secret-reads-by-humans --since 7d):", markup=False)
    reads = the_lake.query_arrow("secret-reads-by-humans", since="7d").group_by(["actor", "allowed"]).aggregate(
        [("audit_id", "count"), ("namespace", "count_distinct"), ("source_ip", "min")])
    _print_table(pa.table({"actor": reads["actor"], "allowed": reads["allowed"], "reads": reads["audit_id_count"],
                           "namespaces": reads["namespace_count_distinct"], "source_ip": reads["source_ip_min"]})
                 .sort_by([("reads", "descending"), ("actor", "ascending")]), 10)
    stdout.print("\nWhat the detections found in the last 7 days (auditlake detect --since 7d --summary):", markup=False)
    _print_table(the_lake.detect(since="7d").by_rule().select(["severity", "rule", "findings", "actors"]), 10)
    stdout.print(f"\nNext: auditlake report pci-dss --since 7d --lake {lake} --out reports/\n"
                 f"      auditlake detect --since 24h --lake {lake}\n"
                 f"      auditlake query list\n"
                 f"      auditlake query run exec-sessions --since 7d --lake {lake}\n"
                 f"      auditlake sql \"select verb, count(*) from events group by all\" --lake {lake}\n"
                 f"      duckdb {lake}/catalog.duckdb", markup=False)


@app.command()
@handle_errors
def generate(
    directory: Annotated[Path, typer.Argument(help="Directory to write audit.log (and rotated files) into.")],
    requests: Annotated[int, typer.Option("--requests", min=1, help="API requests to simulate (about 2 events each).")] = 500_000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 7,
    days: Annotated[float, typer.Option("--days", help="Simulated time span.")] = 3.0,
    max_size_mb: Annotated[float, typer.Option("--max-size-mb", help="Rotate audit.log at this size (--audit-log-maxsize).")] = 100.0,
    compress: Annotated[bool, typer.Option("--compress/--no-compress", help="Gzip rotated files (--audit-log-compress).")] = True,
) -> None:
    """Write a simulated cluster's audit log, as the apiserver would, without ingesting it (for benchmarks).

    Example: auditlake generate /tmp/audit --requests 1000000 --no-compress
    """
    from auditlake.demo import write_audit_log

    started = time.monotonic()
    truth = write_audit_log(directory, requests, seed=seed, days=days, max_size_mb=max_size_mb, compress=compress)
    size = sum(path.stat().st_size for path in truth.files)
    stderr.print(f"wrote {truth.events:,} events ({size / 1e6:,.1f} MB) in {len(truth.files)} file(s) to {directory} "
                 f"in {time.monotonic() - started:.1f} s", markup=False)


def main() -> None:
    """Console-script entry point."""
    app()
