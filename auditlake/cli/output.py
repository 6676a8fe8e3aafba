"""Where a command's result goes: stdout or the file `--output` names, in the format `--format` chose.

Owns: `emit` (an Arrow table as a rich table, or through `render.formats.RENDERERS` to stdout or a file),
`write_text` (a rendered document), `output_file`/`output_errors` (the one way a file the user named is
written: its directory created, an OSError turned into an `OutputError` naming the path). Never renders
a format itself: `render/` does.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import typer

from auditlake.cli.console import print_table, stderr
from auditlake.errors import OutputError
from auditlake.render.escape import terminal_text
from auditlake.render.formats import RENDERERS, Format, format_of_path

if TYPE_CHECKING:
    import pyarrow as pa


def emit(result: pa.Table, output: Format, output_file: Path | None, max_rows: int) -> None:
    """`result` in `output`: a table on the terminal, or rendered to `output_file` or stdout (parquet never to a terminal)."""
    if output is Format.TABLE and output_file is not None:  # a table is for a terminal: a file gets the format its name says
        output = _format_of(output_file)
    if output is Format.TABLE:
        print_table(result, max_rows)
        return
    if output_file is not None:
        with output_file_handle(output_file) as handle:
            RENDERERS[output](result, handle)
        stderr.print(f"wrote {result.num_rows:,} rows to {terminal_text(str(output_file))}", markup=False)
        return
    if output is Format.PARQUET and sys.stdout.isatty():
        raise typer.BadParameter("parquet is binary: use --output FILE or redirect stdout", param_hint="--format")
    RENDERERS[output](result, sys.stdout.buffer)
    sys.stdout.buffer.flush()


def _format_of(path: Path) -> Format:
    chosen = format_of_path(path)
    if chosen is None:
        raise typer.BadParameter(f"--format table is for the terminal: give --format ({', '.join(RENDERERS)}) to write {path}",
                                 param_hint="--format")
    return chosen


def write_text(text: str, output_file: Path | None) -> None:
    """A rendered document (Markdown, JSON, HTML, a policy) to stdout, or to `output_file`."""
    if output_file is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    with output_file_handle(output_file) as handle:
        handle.write(text.encode())
    stderr.print(f"wrote {terminal_text(str(output_file))}", markup=False)


@contextlib.contextmanager
def output_errors(path: Path) -> Iterator[None]:
    """A file or directory the user named for output that cannot be written is their error to fix (exit 2), not a crash."""
    try:
        yield
    except OSError as error:
        raise OutputError(f"{path}: cannot write ({error.strerror or error})",
                          hint="check that its directory can be created and written to") from None


@contextlib.contextmanager
def output_file_handle(path: Path) -> Iterator[BinaryIO]:
    """The one way a command writes a file the user named (--output): its directory is created as `report --out` does."""
    with output_errors(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            yield handle
