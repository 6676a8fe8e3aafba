"""Results rendered for machines and documents: CSV, JSON, Parquet, Markdown, and change-history pages.

Owns: the `RENDERERS` registry that `--format` choices come from (Arrow tables to bytes), the
Markdown, JSON and self-contained HTML forms of a change history, and the one escaping of data for
each text form: `csv_text` (no spreadsheet formula), `markdown_text`/`markdown_code`/`markdown_fence`
(no HTML, link, heading or row of the data's own) and `terminal_text` (no escape sequence reaches a
terminal). Audit events are attacker-controlled (user agents, user names, annotations, object names),
so every text output goes through them; the machine formats (JSON, JSONL, Parquet) keep data exactly.
Runs no SQL. The terminal table lives in cli.py (the only module that knows about terminals).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from auditlake.contract import JSON_COLUMN_NAMES
from auditlake.history import BodilessRun, by_cluster, collapse_runs, object_label

# ---- data as text ------------------------------------------------------------------------------------
# What each kind of reader would obey in a string from an audit event, and how it is shown instead.
CSV_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # OWASP "CSV Injection": a spreadsheet evaluates these
_CSV_FORMULA = "^([=+\\-@\t\r])"  # the same, as an RE2 pattern for whole Arrow columns
_LINE_BREAKS = re.compile("\r\n|[\t\n\v\f\r\x85\u2028\u2029]")
# C0, DEL, C1, and the bidi controls that reorder the text after them (Trojan Source, CVE-2021-42574)
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_SHORT_ESCAPES = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}
# HTML as entities; backslash-escaped, the punctuation that opens code, emphasis, links, strikethrough and table cells
_MARKDOWN_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\\": "\\\\", "`": "\\`", "*": "\\*",
                                   "[": "\\[", "]": "\\]", "|": "\\|", "~": "\\~"})
# `_` opens or closes emphasis unless a letter or digit is on both sides (CommonMark 6.2): `secret_reads` stays as is
_EMPHASIS_UNDERSCORE = re.compile(r"(?<![^\W_])_|_(?![^\W_])")
_BACKTICKS = re.compile("`+")


def _visible(match: re.Match[str]) -> str:
    char = match.group()
    return _SHORT_ESCAPES.get(char) or (f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in _BACKTICKS.findall(text)), default=0)


def csv_text(value: str) -> str:
    r"""A CSV string cell that a spreadsheet shows as text and never evaluates: a formula start gets a `'` first.

    >>> csv_text('=HYPERLINK("http://x","y")')
    '\'=HYPERLINK("http://x","y")'
    >>> csv_text("\t=1"), csv_text("kube-system"), csv_text("")
    ("'\t=1", 'kube-system', '')
    """
    return "'" + value if value.startswith(CSV_FORMULA_STARTS) else value


def terminal_text(value: object) -> str:
    r"""`value` as one line a terminal prints as written: its control characters are shown, never obeyed.

    C0 (TAB, CR and LF too), DEL, C1, the line separators and the bidi controls become `\x1b`-style
    escapes, so `ESC[2J` cannot clear the analyst's screen, and the analyst sees that something was there.

    >>> print(terminal_text("kubectl\x1b[2J\x9b31m\u202eexe.txt\r\n"))
    kubectl\x1b[2J\x9b31m\u202eexe.txt\r\n
    >>> terminal_text("system:serviceaccount:kube-system:default")
    'system:serviceaccount:kube-system:default'
    """
    return _CONTROLS.sub(_visible, str(value))


def markdown_text(value: object) -> str:
    r"""`value` as inline Markdown that renders as written: one line, and no HTML, link, emphasis or table cell of its own.

    Line breaks and tabs become spaces and other control characters visible escapes; `&`, `<` and `>`
    become entities; backslash, backtick, `*`, `[`, `]`, `|`, `~` and an `_` that could start emphasis are
    backslash-escaped. Safe in table cells, headings and list items; ordinary names (`kube-system`,
    `10.0.3.21`, `allowed_users`) are unchanged.

    >>> print(markdown_text("<img src=x> [click](http://evil) *a*|b\r\n## Forged _em_ user_name"))
    &lt;img src=x&gt; \[click\](http://evil) \*a\*\|b ## Forged \_em\_ user_name
    """
    text = _LINE_BREAKS.sub(" ", str(value)).translate(_MARKDOWN_ESCAPES)
    return _CONTROLS.sub(_visible, _EMPHASIS_UNDERSCORE.sub(r"\\_", text))


def markdown_code(value: object, *, in_table: bool = False) -> str:
    r"""`value` as an inline code span that no backtick, line break (or, `in_table`, pipe) in it can end early.

    >>> print(markdown_code("/var/log/audit.log"), markdown_code("a``b"), markdown_code("x|y", in_table=True))
    `/var/log/audit.log` ```a``b``` `x\|y`
    """
    text = _CONTROLS.sub(_visible, _LINE_BREAKS.sub(" ", str(value)))
    if not text:
        return ""
    fence = "`" * (_longest_backtick_run(text) + 1)
    if text[0] == "`" or text[-1] == "`" or (text[0] == " " and text[-1] == " " and text.strip()):
        text = f" {text} "  # CommonMark strips one space from each side of such a span
    return fence + (text.replace("|", "\\|") if in_table else text) + fence


def markdown_fence(lines: list[str], info: str = "") -> list[str]:
    r"""`lines` as a fenced code block that none of them can close: the fence is longer than any backtick run inside.

    >>> markdown_fence(["+a: '```'"], "diff")
    ['````diff', "+a: '```'", '````']
    """
    body = [_CONTROLS.sub(_visible, line) for line in lines]
    fence = "`" * max(3, max((_longest_backtick_run(line) for line in body), default=0) + 1)
    return [fence + info, *body, fence]


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
    """CSV of every row; string cells (and names) that a spreadsheet would evaluate start with `'` (`csv_text`)."""
    flat = _flat(table)
    pa_csv.write_csv(pa.table([_csv_column(column) for column in flat.columns], names=[csv_text(name) for name in flat.column_names]), out)


def _csv_column(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """`csv_text` over a whole column at Arrow speed; numbers and timestamps stay as they are."""
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type) or pa.types.is_string_view(column.type)):
        return column
    return pc.replace_substring_regex(column, pattern=_CSV_FORMULA, replacement="'\\1", max_replacements=1)


def write_json(table: pa.Table, out: BinaryIO) -> None:
    """A JSON array of objects (timestamps in ISO 8601, JSON columns as nested JSON)."""
    out.write(json.dumps(_rows(table), default=_json_default, ensure_ascii=False, indent=1).encode() + b"\n")


def write_jsonl(table: pa.Table, out: BinaryIO) -> None:
    for row in _rows(table):
        out.write(json.dumps(row, default=_json_default, ensure_ascii=False).encode() + b"\n")


def write_parquet(table: pa.Table, out: BinaryIO) -> None:
    pq.write_table(table, out, compression="zstd")


def write_markdown(table: pa.Table, out: BinaryIO) -> None:
    """A GitHub-flavoured Markdown table, one row per row: every cell goes through `markdown_text`."""
    flat = _flat(table)
    lines = ["| " + " | ".join(markdown_text(name) for name in flat.column_names) + " |", "|" + "---|" * flat.num_columns]
    for row in flat.to_pylist():
        cells = ["" if value is None else markdown_text(value) for value in row.values()]
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


def run_header(run: BodilessRun) -> str:
    """One line for a run of bodiless writes: from when to when, what, who (each once), from where, with what."""
    who = ", ".join(run.actors[:3]) + (f" and {len(run.actors) - 3} more" if len(run.actors) > 3 else "")
    sources = list(dict.fromkeys(entry.source_ip for entry in run.entries if entry.source_ip))
    origin = " ".join(part for part in (f"via {', '.join(run.clients)}" if run.clients else "",
                                        f"from {', '.join(sources[:3])}" if sources else "") if part)
    verb = run.first.verb + (f" {run.first.subresource}" if run.first.subresource else "")
    level = run.first.level or "Metadata"
    return (f"{run_span(run)}  {verb}  by {who} {origin}  "
            f"(the audit level, {level}, recorded no body, so no diff is possible)")


def run_span(run: BodilessRun, seconds: bool = True) -> str:
    """`2023-03-10 22:39:34 → 22:41:59 UTC` (the date repeated only when it changes)."""
    clock = "%H:%M:%S" if seconds else "%H:%M"
    end = f"{run.last.at:{clock}}" if run.last.at.date() == run.first.at.date() else f"{run.last.at:%Y-%m-%d {clock}}"
    return f"{run.first.at:%Y-%m-%d {clock}} → {end} UTC"


def history_title(title: str, cluster: str) -> str:
    """A timeline's title names its cluster: one object's timelines in two clusters are two timelines."""
    return f"{title} in cluster {cluster}"


def _timelines(entries: list[Any]) -> list[tuple[str | None, list[Any]]]:
    """Each cluster's timeline; one untitled empty timeline when every write was left out (noise only)."""
    timelines: list[tuple[str | None, list[Any]]] = [(cluster, timeline) for cluster, timeline in by_cluster(entries)]
    return timelines or [(None, [])]


def history_markdown(title: str, entries: list[Any], diff: Callable[[Any], list[str]]) -> str:
    """`auditlake history --format markdown`: per cluster, a titled timeline with a heading per change, its
    header line and its diff (data escaped); a run of bodiless writes is one heading ("74 × update, no body")."""
    lines: list[str] = []
    for cluster, timeline in _timelines(entries):
        lines += [f"# {markdown_text(history_title(title, cluster) if cluster else title)}", "", f"{len(timeline)} change(s).", ""]
        for item in collapse_runs(timeline):
            if isinstance(item, BodilessRun):
                lines += [f"## {run_span(item)} — {markdown_text(item.summary)}", "", markdown_text(run_header(item)), ""]
                continue
            lines += [f"## {item.at:%Y-%m-%d %H:%M:%S} UTC — {markdown_text(item.summary)}", "", markdown_text(history_header(item)), ""]
            body = diff(item)
            if body:
                lines += [*markdown_fence(body, "diff"), ""]
    return "\n".join(lines)


def history_json(entries: list[Any]) -> str:
    """Each change with its cluster and its RFC 6902 JSON Patch (machine format): every entry, runs of
    bodiless writes included one by one."""
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
    """`auditlake changes --format markdown`: a heading per object and cluster, a line per change (or per run
    of bodiless writes: "74 × update, no body")."""
    lines = [f"# Changes since {markdown_text(since)}", ""]
    for (cluster, resource, namespace, name), entries in groups:
        lines += [f"## {markdown_text(object_label(resource, namespace, name))} (cluster {markdown_text(cluster)})", ""]
        for item in collapse_runs(entries):
            when, actors, clients = ((run_span(item, seconds=False), item.actors, item.clients) if isinstance(item, BodilessRun)
                                     else (f"{item.at:%Y-%m-%d %H:%M} UTC", [item.actor], [item.client] if item.client else []))
            lines.append(f"- {when} — {markdown_text(item.summary)} — {markdown_text(', '.join(actors))}"
                         + (f" via {markdown_text(', '.join(clients))}" if clients else ""))
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
    """A self-contained page (no scripts, no external assets): opens from an e-mail attachment. One
    titled section per cluster; a run of bodiless writes is one heading ("74 × update, no body")."""
    parts = [f"<!doctype html><html lang=en><meta charset=utf-8><title>{html.escape(title)}</title><style>{HTML_STYLE}</style>"]
    for cluster, timeline in _timelines(entries):
        parts.append(f"<section><h1>{html.escape(history_title(title, cluster) if cluster else title)}</h1>"
                     f"<p class=meta>{len(timeline)} change(s)</p>")
        for item in collapse_runs(timeline):
            if isinstance(item, BodilessRun):
                parts.append(f"<h2>{html.escape(run_span(item))} — <span class=summary>{html.escape(item.summary)}</span></h2>")
                parts.append(f"<p class=meta>{html.escape(run_header(item))}</p>")
                continue
            parts.append(f"<h2>{item.at:%Y-%m-%d %H:%M:%S} UTC — <span class=summary>{html.escape(item.summary)}</span></h2>")
            parts.append(f"<p class=meta>{html.escape(history_header(item))}</p>")
            body = diff(item)
            if body:
                rendered = []
                for line in body:
                    kind = "add" if line.startswith("+") else "del" if line.startswith("-") else "hunk" if line.startswith("@@") else ""
                    rendered.append(f"<span class={kind}>{html.escape(line)}</span>" if kind else html.escape(line) + "\n")
                parts.append("<pre>" + "".join(rendered) + "</pre>")
        parts.append("</section>")
    return "".join(parts) + "</html>\n"
