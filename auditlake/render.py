"""Results rendered for machines and documents: CSV, JSON, Parquet, Markdown, and change-history pages.

Owns: the `RENDERERS` registry that `--format` choices come from (Arrow tables to bytes), and the
Markdown, JSON and self-contained HTML forms of a change history. Runs no SQL. The terminal table lives in cli.py (the only module that
knows about terminals).
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from auditlake.history import object_label
from auditlake.ingest.schema import JSON_COLUMN_NAMES


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
    if isinstance(value, timedelta):
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
        elif isinstance(field.type, pa.JsonType) or (field.name in JSON_COLUMN_NAMES and pa.types.is_string(field.type)):
            for row in rows:  # bodies and extras as nested JSON, not as a string of JSON
                if isinstance(row[field.name], str) and row[field.name][:1] in ("{", "["):
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


# ---- change history ---------------------------------------------------------------------------------
SOURCE_NOTES = {
    "response": "state from the response body",
    "request": "state from the request body",
    "patch": "state = the patch applied to the previous state",
    "patch-only": "patch only: no earlier state known",
    "none": "no body recorded at this audit level",
    "deleted": "deleted",
}


def history_header(entry: Any) -> str:
    """One line: when, what, who (and who really), from where, with what client."""
    who = entry.actor
    if entry.impersonated_user and entry.authenticated_user:
        who += f" (impersonated by {entry.authenticated_user})"
    if entry.iam_identity:
        who += f" [{entry.iam_identity}]"
    verb = entry.verb + (f" {entry.subresource}" if entry.subresource else "")
    origin = " ".join(part for part in (f"via {entry.client}" if entry.client else "", f"from {entry.source_ip}" if entry.source_ip else "") if part)
    return f"{entry.at:%Y-%m-%d %H:%M:%S} UTC  {verb}  by {who} {origin}  ({SOURCE_NOTES.get(entry.state_source, entry.state_source)})"


def history_markdown(title: str, entries: list[Any], diff: Callable[[Any], list[str]]) -> str:
    lines = [f"# {title}", "", f"{len(entries)} change(s).", ""]
    for entry in entries:
        lines += [f"## {entry.at:%Y-%m-%d %H:%M:%S} UTC — {entry.summary}", "", history_header(entry), ""]
        body = diff(entry)
        if body:
            lines += ["```diff", *body, "```", ""]
    return "\n".join(lines)


def history_json(entries: list[Any]) -> str:
    """Each change with its RFC 6902 JSON Patch (machine format)."""
    rows = []
    for entry in entries:
        row = {key: getattr(entry, key) for key in ("cluster", "verb", "subresource", "actor", "actor_kind", "authenticated_user",
                                                    "impersonated_user", "iam_identity", "source_ip", "user_agent", "client", "code",
                                                    "level", "audit_id", "state_source", "summary", "patch")}
        rows.append({"at": entry.at.isoformat(), **row})
    return json.dumps(rows, indent=1, ensure_ascii=False) + "\n"


def changes_json(groups: list[tuple[tuple[str, str, str | None, str], list[Any]]]) -> str:
    """`auditlake changes --format json`: each changed object with its changes (as in `history_json`)."""
    return json.dumps([{"cluster": cluster, "resource": resource, "namespace": namespace, "name": name,
                        "changes": json.loads(history_json(entries))} for (cluster, resource, namespace, name), entries in groups], indent=1)


def changes_markdown(groups: list[tuple[tuple[str, str, str | None, str], list[Any]]], since: str) -> str:
    """`auditlake changes --format markdown`: a heading per object, a line per change."""
    lines = [f"# Changes since {since}", ""]
    for (cluster, resource, namespace, name), entries in groups:
        lines += [f"## {object_label(resource, namespace, name)} ({cluster})", ""]
        lines += [f"- {e.at:%Y-%m-%d %H:%M} UTC — {e.summary} — {e.actor}" + (f" via {e.client}" if e.client else "") for e in entries]
        lines.append("")
    return "\n".join(lines)


HTML_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:70rem;color:#1f2328;padding:0 1rem}
h1{font-size:1.5rem}h2{font-size:1.05rem;margin:1.6rem 0 .3rem}.meta{color:#57606a;font-size:.9rem}
pre{background:#f6f8fa;padding:.6rem .8rem;overflow-x:auto;font:12px/1.4 ui-monospace,Menlo,Consolas,monospace;border-radius:6px}
.add{color:#116329;background:#dafbe1;display:block}.del{color:#82071e;background:#ffebe9;display:block}.hunk{color:#8250df;display:block}
.summary{font-weight:600}
"""


def history_html(title: str, entries: list[Any], diff: Callable[[Any], list[str]]) -> str:
    """A self-contained page (no scripts, no external assets): opens from an e-mail attachment."""
    parts = [f"<!doctype html><html lang=en><meta charset=utf-8><title>{html.escape(title)}</title><style>{HTML_STYLE}</style>",
             f"<h1>{html.escape(title)}</h1><p class=meta>{len(entries)} change(s)</p>"]
    for entry in entries:
        parts.append(f"<h2>{entry.at:%Y-%m-%d %H:%M:%S} UTC — <span class=summary>{html.escape(entry.summary)}</span></h2>")
        parts.append(f"<p class=meta>{html.escape(history_header(entry))}</p>")
        body = diff(entry)
        if body:
            rendered = []
            for line in body:
                kind = "add" if line.startswith("+") else "del" if line.startswith("-") else "hunk" if line.startswith("@@") else ""
                rendered.append(f"<span class={kind}>{html.escape(line)}</span>" if kind else html.escape(line) + "\n")
            parts.append("<pre>" + "".join(rendered) + "</pre>")
    return "".join(parts) + "</html>\n"
