"""Tabular results rendered for machines: CSV, JSON (lines or array), Parquet, Markdown.

Owns: the `RENDERERS` registry that `--format` choices come from. Takes Arrow tables and writes
bytes to a binary stream; runs no SQL. The terminal table lives in cli.py (the only module that
knows about terminals).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq


def _flat(table: pa.Table) -> pa.Table:
    """Nested columns (lists, maps, structs) as JSON text, for formats that only hold scalars."""
    columns = []
    for column in table.columns:
        if pa.types.is_nested(column.type) or isinstance(column.type, pa.ExtensionType):
            values = [None if value is None else json.dumps(value, default=_json_default) if not isinstance(value, str) else value
                      for value in column.to_pylist()]
            column = pa.array(values, pa.string())
        columns.append(column)
    return pa.table(columns, names=table.column_names)


def _json_default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, list):  # map entries arrive as (key, value) tuples
        return value
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _rows(table: pa.Table) -> list[dict[str, Any]]:
    rows = table.to_pylist()
    for field in table.schema:
        if pa.types.is_map(field.type):
            for row in rows:
                if row[field.name] is not None:
                    row[field.name] = dict(row[field.name])
        elif isinstance(field.type, pa.JsonType) if hasattr(pa, "JsonType") else False:
            for row in rows:
                if row[field.name] is not None:
                    row[field.name] = json.loads(row[field.name])
    return rows


def write_csv(table: pa.Table, out: BinaryIO) -> None:
    pa_csv.write_csv(_flat(table), out)


def write_json(table: pa.Table, out: BinaryIO) -> None:
    """A JSON array of objects (timestamps in ISO 8601, JSON columns as nested JSON)."""
    out.write(json.dumps(_rows(table), default=_json_default, ensure_ascii=False, indent=1).encode() + b"\n")


def write_jsonl(table: pa.Table, out: BinaryIO) -> None:
    for row in _rows(table):
        out.write(json.dumps(row, default=_json_default, ensure_ascii=False).encode() + b"\n")


def write_parquet(table: pa.Table, out: BinaryIO) -> None:
    pq.write_table(table, out, compression="zstd")


def write_markdown(table: pa.Table, out: BinaryIO) -> None:
    flat = _flat(table)
    lines = ["| " + " | ".join(flat.column_names) + " |", "|" + "---|" * flat.num_columns]
    for row in flat.to_pylist():
        cells = ["" if value is None else str(value).replace("|", "\\|").replace("\n", " ") for value in row.values()]
        lines.append("| " + " | ".join(cells) + " |")
    out.write(("\n".join(lines) + "\n").encode())


RENDERERS: dict[str, Callable[[pa.Table, BinaryIO], None]] = {
    "csv": write_csv,
    "json": write_json,
    "jsonl": write_jsonl,
    "parquet": write_parquet,
    "markdown": write_markdown,
}
