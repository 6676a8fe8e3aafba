"""The `auditlake` command: the typer app, its command table, and the one error boundary.

Owns: `app` (every command, in the order `--help` lists them; each lives in the module of its group:
`ingest`, `lake_commands` (status, sql, compact, catalog), `query`, `history` (history, changes, event),
`detect`, `report` (report, review), `integrity` (verify, retention, keys), `policy`, `rbac` (suggest, unused),
`demo` (demo, generate)), `main()` (the console script),
and the error boundary (`error_boundary`, around every command through the root group's `invoke`, so
`CliRunner().invoke(app)` meets the same boundary as `main()`): an `AuditlakeError` becomes `error: …` /
`hint: …` and its exit code, anything else one line and exit 3, unless --debug.

The CLI alone knows terminals. It imports the façade (`lake`), `library`, `render`, `errors` and
`config` (tests/test_architecture.py), and at start-up nothing heavy: a command imports the lake
(duckdb, pyarrow) when it runs, so `auditlake --version` and `--help` stay fast (benchmarks/startup.py).
Never prints text from the lake as written: it goes through `render.escape.terminal_text`.
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from collections.abc import Iterator
from typing import Annotated, Any

import typer
from rich.markup import escape
from typer.core import TyperGroup

from auditlake import config
from auditlake.cli import demo, detect, history, ingest, integrity, lake_commands, policy, publish, query, rbac, report, spark
from auditlake.cli.console import stderr
from auditlake.errors import AuditlakeError, AuditlakeWarning, ExitCode, store_failure
from auditlake.render.escape import terminal_text

EXIT_CODES_HELP = (
    "Exit codes: 0 ok · 1 findings (--strict saw quarantined lines, a --fail-on threshold was reached) · "
    "2 user error (bad input, arguments, lake) · 3 internal error (rerun with --debug) · 130 interrupted."
)


@contextlib.contextmanager
def error_boundary() -> Iterator[None]:
    """The error boundary: one line on stderr and a meaningful exit code, never a traceback (unless --debug)."""
    try:
        with _warnings_on_stderr():
            yield
        sys.stdout.flush()  # a reader that went away shows here, inside the boundary, not at interpreter exit
    except (typer.Exit, typer.Abort, typer.TyperException):  # --help, exit codes, usage errors: typer prints them (exit 2)
        raise
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
    except BrokenPipeError:  # the reader stopped reading (`| head -1`): stop quietly, as cat does
        _detach_stdout()
        raise typer.Exit(int(ExitCode.OK)) from None
    except Exception as error:  # a bug: say so in one line (unless it is an object store failing under a DuckDB read)
        if config.is_debug():
            raise
        if (failure := store_failure(error)) is not None:
            stderr.print(f"error: {terminal_text(failure.message)}", markup=False, soft_wrap=True)
            stderr.print(f"hint: {failure.hint}", markup=False, soft_wrap=True)
            raise typer.Exit(int(failure.exit_code)) from None
        stderr.print(f"internal error: {type(error).__name__}: {terminal_text(str(error).splitlines()[0]) if str(error) else ''}",
                     markup=False)
        stderr.print("hint: rerun with --debug (or AUDITLAKE_DEBUG=1) for the traceback, and report it", markup=False)
        raise typer.Exit(int(ExitCode.INTERNAL)) from None


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


class _Commands(TyperGroup):
    """The root group: runs whichever command was asked for inside the error boundary."""

    def invoke(self, ctx: Any) -> Any:
        with error_boundary():
            return super().invoke(ctx)


app = typer.Typer(
    name="auditlake",
    cls=_Commands,
    help="Kubernetes audit logs as a queryable, evidence-grade Parquet lake: ingest them, then ask who did what "
         "(query, history, detect) and prove it (report).",
    epilog=EXIT_CODES_HELP,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    add_completion=False,
    rich_markup_mode=None,
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"auditlake {config.version()}")
        raise typer.Exit()


@app.callback()
def main_options(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks instead of one-line errors.")] = False,
    show_version: Annotated[bool, typer.Option("--version", callback=_version_callback, is_eager=True, help="Print the version.")] = False,
) -> None:
    """Kubernetes audit logs as a queryable Parquet lake."""
    if debug:
        os.environ["AUDITLAKE_DEBUG"] = "1"


# The command table, in the order `auditlake --help` lists it.
app.command()(ingest.ingest)
app.command()(lake_commands.status)
app.command()(lake_commands.sql)
app.command(name="history")(history.object_history)
app.command(name="changes")(history.changed_objects)
app.command(name="event")(history.request_events)
app.command(name="detect")(detect.run_detections)
app.command(name="report")(report.compliance_report)
app.command(name="review")(report.review_evidence)
app.command()(lake_commands.compact)
app.command()(integrity.verify)
app.command()(integrity.retention)
app.command(name="catalog")(lake_commands.rebuild_catalog)
app.command(name="demo")(demo.run_demo)
app.command()(demo.generate)
app.add_typer(query.app, name="query")
app.add_typer(policy.app, name="policy")
app.add_typer(rbac.app, name="rbac")
app.add_typer(spark.app, name="spark")
app.add_typer(integrity.keys_app, name="keys")
app.add_typer(publish.app, name="publish")


def main() -> None:
    """Console-script entry point."""
    app()
