"""The one vocabulary of output formats, what each command accepts, and the Arrow-table renderers.

Owns: `Format` (every `--format` name; `md` is another spelling of `markdown`), `ACCEPTS` (the formats
each command takes, in the order its help lists them), `choose` (a name checked against a command's
choices), `format_of_path` (the format a file's suffix says) and `RENDERERS` (an Arrow table to bytes,
one entry per machine or document format). String cells reach CSV and Markdown only through
`render.escape`; the machine formats (JSON, JSONL, Parquet) keep data exactly. Runs no SQL, knows no
terminal. pyarrow (its CSV and Parquet writers, the column contract) is imported by the functions that use
it, so a CLI that only checks a `--format` pays for none of it.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from auditlake.render.escape import CSV_FORMULA_PATTERN, CSV_FORMULA_STARTS, csv_text, markdown_text

if TYPE_CHECKING:
    import pyarrow as pa


class Format(StrEnum):
    """An output format, by its one canonical name (`Format("md")` is `Format.MARKDOWN`)."""

    TABLE = "table"  # a rich table on the terminal
    TERMINAL = "terminal"  # coloured text on the terminal (history)
    TEXT = "text"  # plain lines on the terminal
    CSV = "csv"
    JSON = "json"
    JSONL = "jsonl"
    PARQUET = "parquet"
    MARKDOWN = "markdown"
    HTML = "html"

    @classmethod
    def _missing_(cls, value: object) -> Format | None:
        return cls.MARKDOWN if isinstance(value, str) and value.lower() in ALIASES else None


ALIASES = {"md": "markdown"}  # what people also type, mapped to the canonical name
DATA = (Format.TABLE, Format.CSV, Format.JSON, Format.JSONL, Format.PARQUET, Format.MARKDOWN)  # any Arrow result
# The formats each command accepts, its default first where it has one.
ACCEPTS: dict[str, tuple[Format, ...]] = {
    "sql": DATA,
    "query run": DATA,
    "detect": DATA,
    "events": (Format.JSON, *(item for item in DATA if item is not Format.JSON)),
    "policy explain": DATA,
    "status": (Format.TABLE, Format.JSON),
    "query list": (Format.TABLE, Format.JSON),
    "query show": (Format.TEXT, Format.JSON),
    "policy check": (Format.TEXT, Format.JSON),
    "policy simulate": (Format.TEXT, Format.JSON),
    "history": (Format.TERMINAL, Format.MARKDOWN, Format.JSON, Format.HTML),
    "changes": (Format.TABLE, Format.MARKDOWN, Format.JSON),
    "report": (Format.HTML, Format.MARKDOWN, Format.CSV, Format.JSON),
    "review": (Format.TABLE, Format.JSON),
    "verify": (Format.TEXT, Format.JSON),
    "retention": (Format.TEXT, Format.JSON),
    "publish": (Format.TEXT, Format.JSON),
    "rbac unused": (Format.TEXT, Format.JSON, Format.CSV),
}
# The renderer a file's suffix asks for, when the format does not say (`--output x.md` with `--format table`).
SUFFIXES = {".csv": Format.CSV, ".json": Format.JSON, ".jsonl": Format.JSONL, ".ndjson": Format.JSONL, ".parquet": Format.PARQUET,
            ".md": Format.MARKDOWN, ".markdown": Format.MARKDOWN}


def choose(command: str, name: str) -> Format:
    """`name` as one of `command`'s formats; a ValueError listing the choices when it is not.

    >>> choose("report", "md"), choose("sql", "CSV")
    (<Format.MARKDOWN: 'markdown'>, <Format.CSV: 'csv'>)
    >>> choose("status", "csv")
    Traceback (most recent call last):
    ValueError: choose one of table, json
    """
    accepted = ACCEPTS[command]
    try:
        chosen = Format(name.strip().lower())
    except ValueError:
        chosen = None
    if chosen not in accepted:
        raise ValueError(f"choose one of {', '.join(accepted)}")
    return chosen


def format_of_path(path: Path) -> Format | None:
    """The format a file name says (`.md` → markdown), or None.

    >>> format_of_path(Path("out/rows.ndjson")), format_of_path(Path("rows.txt"))
    (<Format.JSONL: 'jsonl'>, None)
    """
    return SUFFIXES.get(path.suffix.lower())


def _flat(table: pa.Table) -> pa.Table:
    """Nested columns (lists, maps, structs) as JSON text, for formats that only hold scalars."""
    import pyarrow as pa

    columns = []
    for column in table.columns:
        if pa.types.is_nested(column.type) or isinstance(column.type, pa.ExtensionType):
            values = [None if value is None else json.dumps(value, default=json_default) if not isinstance(value, str) else value
                      for value in column.to_pylist()]
            column = pa.array(values, pa.string())
        columns.append(column)
    return pa.table(columns, names=table.column_names)


def json_default(value: Any) -> Any:
    """What `json.dumps` makes of the values Arrow hands back: times in ISO 8601, decimals and intervals as text."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, timedelta):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, list):  # map entries arrive as (key, value) tuples
        return value
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def python_rows(table: pa.Table) -> list[dict[str, Any]]:
    """`table.to_pylist()` without the 0.5 s of pandas that pyarrow imports to give a zoned time its zone: the zoned
    columns are read as UTC and zoned here (each the same instant in the same zone; a UTC one as `timezone.utc`)."""
    import zoneinfo

    import pyarrow as pa

    zones = {field.name: field.type.tz for field in table.schema if pa.types.is_timestamp(field.type) and field.type.tz}
    if not zones:
        return table.to_pylist()
    naive = pa.schema([field.with_type(pa.timestamp(field.type.unit)) if field.name in zones else field for field in table.schema])
    rows = table.cast(naive).to_pylist()
    for name, zone in zones.items():
        tzinfo = UTC if zone in UTC_NAMES else zoneinfo.ZoneInfo(zone) if zone[:1] not in "+-" else datetime.strptime(zone, "%z").tzinfo
        for row in rows:
            if isinstance(row[name], datetime):
                row[name] = row[name].replace(tzinfo=UTC).astimezone(tzinfo)
    return rows


def json_rows(table: pa.Table) -> list[dict[str, Any]]:
    """The rows as dicts for JSON: maps as objects, JSON columns (bodies, extras) as nested JSON rather than strings of JSON."""
    import pyarrow as pa

    from auditlake.contract import JSON_COLUMN_NAMES  # here, not at the top: the contract imports pyarrow

    rows = python_rows(table)
    for field in table.schema:
        if pa.types.is_map(field.type):
            for row in rows:
                if row[field.name] is not None:
                    row[field.name] = dict(row[field.name])
        elif isinstance(field.type, pa.JsonType) or (field.name in JSON_COLUMN_NAMES and pa.types.is_string(field.type)):
            for row in rows:
                if isinstance(row[field.name], str) and row[field.name][:1] in ("{", "["):
                    row[field.name] = json.loads(row[field.name])
    return rows


def write_csv(table: pa.Table, out: BinaryIO) -> None:
    """CSV of every row; string cells (and names) that a spreadsheet would evaluate start with `'` (`csv_text`)."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    flat = _flat(table)
    pa_csv.write_csv(pa.table([_csv_column(column) for column in flat.columns], names=[csv_text(name) for name in flat.column_names]), out)


UTC_NAMES = frozenset({"UTC", "Etc/UTC", "+00:00", "Z"})
END = 2**31 - 1  # a slice from here is empty at the end of any string


def _csv_column(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """`csv_text` over a whole column at Arrow speed; numbers stay as they are, UTC times are written as Arrow would."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    if pa.types.is_timestamp(column.type) and column.type.tz in UTC_NAMES:
        # The text Arrow writes for UTC ("2026-11-01 00:00:01.123456Z"), made without its per-value time-zone lookup
        # (≈ 15× faster: a run's findings carry two such columns); as a string, the cell is quoted. The "Z" is put at
        # the end by a slice past it: a Python string made into an Arrow scalar would make pyarrow import pandas (0.5 s).
        utc = column.cast(pa.timestamp(column.type.unit))
        if len(utc) > 1 and utc.null_count == 0 and (bounds := pc.min_max(utc))["min"] == bounds["max"]:
            utc = utc.slice(0, 1)  # one instant throughout (a run's `found_at`): formatted once, then repeated
        text = pc.utf8_replace_slice(utc.cast(pa.string()), start=END, stop=END, replacement="Z")
        return text if len(text) == len(column) else pa.chunked_array([pa.repeat(text[0], len(column))])
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type) or pa.types.is_string_view(column.type)):
        return column
    if pa.types.is_string(column.type):  # the cells that start a formula found by their first character, not RE2 on every cell (3.5× faster)
        formula = functools.reduce(pc.or_, [pc.starts_with(column, pattern=start) for start in CSV_FORMULA_STARTS])
        if not pc.any(formula).as_py():
            return column
        return pc.if_else(formula, pc.utf8_replace_slice(column, start=0, stop=0, replacement="'"), column)  # NULL stays NULL
    return pc.replace_substring_regex(column, pattern=CSV_FORMULA_PATTERN, replacement="'\\1", max_replacements=1)


def write_json(table: pa.Table, out: BinaryIO) -> None:
    """A JSON array of objects (timestamps in ISO 8601, JSON columns as nested JSON)."""
    out.write(json.dumps(json_rows(table), default=json_default, ensure_ascii=False, indent=1).encode() + b"\n")


def write_jsonl(table: pa.Table, out: BinaryIO) -> None:
    """One JSON object per line (as `write_json`)."""
    for row in json_rows(table):
        out.write(json.dumps(row, default=json_default, ensure_ascii=False).encode() + b"\n")


def write_parquet(table: pa.Table, out: BinaryIO) -> None:
    """Parquet, zstd-compressed, the types kept."""
    import pyarrow.parquet as pq

    pq.write_table(table, out, compression="zstd")


def write_markdown(table: pa.Table, out: BinaryIO) -> None:
    """A GitHub-flavoured Markdown table, one row per row: every cell goes through `markdown_text`."""
    flat = _flat(table)
    lines = ["| " + " | ".join(markdown_text(name) for name in flat.column_names) + " |", "|" + "---|" * flat.num_columns]
    for row in python_rows(flat):
        cells = ["" if value is None else markdown_text(value) for value in row.values()]
        lines.append("| " + " | ".join(cells) + " |")
    out.write(("\n".join(lines) + "\n").encode())


RENDERERS: dict[Format, Callable[[pa.Table, BinaryIO], None]] = {
    Format.CSV: write_csv,
    Format.JSON: write_json,
    Format.JSONL: write_jsonl,
    Format.PARQUET: write_parquet,
    Format.MARKDOWN: write_markdown,
}
