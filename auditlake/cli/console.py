"""The terminal: the two rich consoles, data as table cells, and the one-line messages on stderr.

Owns: `stdout` (data only) and `stderr` (progress, warnings, summaries), `text`/`cell` (a value as rich
`Text`, never markup, emoji or a control sequence: everything from the lake goes through
`render.escape.terminal_text`), `print_table` (an Arrow table as a rich table), `state_window` and
`short_time`. Never decides what to print: commands do. pyarrow and rich's table are imported by the
functions that draw tables, so start-up pays for neither.
"""

from __future__ import annotations

import datetime
import errno
from typing import TYPE_CHECKING, Any

from rich.console import Console, ConsoleDimensions
from rich.text import Text

from auditlake.errors import window_text
from auditlake.render.escape import terminal_text
from auditlake.render.formats import python_rows

if TYPE_CHECKING:
    import pyarrow as pa

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


def text(value: Any) -> Text:
    """Data for a rich table cell or title: printed as written, never as markup, emoji or a control sequence."""
    return Text(terminal_text(value))


def cell(value: Any) -> Text:
    """A result value as a table cell: ∅ for null, thousands separators, times to the second in UTC."""
    if value is None:
        return Text("∅")
    if isinstance(value, int) and not isinstance(value, bool):
        return Text(f"{value:,}")
    if isinstance(value, datetime.datetime):  # a terminal reader wants the second, in UTC; csv/json keep it all
        return Text(value.astimezone(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S") if value.tzinfo else f"{value:%Y-%m-%d %H:%M:%S}")
    if hasattr(value, "isoformat"):
        return Text(value.isoformat())
    return text(value)  # data, not markup: `[a-z]` in an exec command must print as written


def print_table(result: pa.Table, max_rows: int) -> None:
    """The first `max_rows` rows as a rich table on stdout (numbers right-aligned); how many were left out on stderr."""
    import pyarrow as pa
    from rich.table import Table

    table = Table(show_lines=False)
    for name, field in zip(result.column_names, result.schema, strict=True):
        is_number = pa.types.is_integer(field.type) or pa.types.is_floating(field.type) or pa.types.is_decimal(field.type)
        table.add_column(text(name), justify="right" if is_number else "left", overflow="fold")
    for row in python_rows(result.slice(0, max_rows)):
        table.add_row(*[cell(value) for value in row.values()])
    stdout.print(table)
    if result.num_rows > max_rows:
        stderr.print(f"{result.num_rows:,} rows, {max_rows} shown (--max-rows, or --format csv for all)", markup=False)


def state_window(what: str, start: datetime.datetime, end: datetime.datetime) -> None:
    """`12 row(s) in 2026-11-01 00:00 → 2026-11-08 00:00 UTC` on stderr: each windowed command says which window it read."""
    stderr.print(f"{what} in {window_text(start, end)}", markup=False)


def short_time(value: str | None) -> str:
    return value.replace("T", " ")[:19] if value else "-"
