"""A `Report` as documents: one self-contained HTML page, Markdown, and CSV/JSON per check for GRC tools.

Owns: the layout of a compliance report and its bar charts (inline SVG: no scripts, no fonts, no
CDN, so the page opens offline from an e-mail attachment). Runs no SQL; every number comes from
the `Report` that report.py built. Text from the lake (cells, names, summaries, diffs) reaches a
document only through one escaping: `html.escape` in HTML, render's `markdown_*` helpers in
Markdown and `render.write_csv` in CSV; the pack's own prose (titles, requirements) is written as is.
"""

from __future__ import annotations

import html
import io
import json
import re
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from auditlake import history, packs, render
from auditlake.report import CheckResult, Report

FORMATS = ("html", "md", "csv", "json")
STATUS_LABEL = {"attention": "needs attention", "pass": "pass", "evidence": "evidence"}
STATUS_ICON = {"attention": "⚠", "pass": "✓", "evidence": "•"}
PALETTE = ("#0969da", "#bf3989", "#1a7f37", "#9a6700", "#8250df", "#cf222e", "#57606a", "#0550ae")


def write(report: Report, out_dir: Path, formats: tuple[str, ...]) -> list[Path]:
    """Write the report in each format under `out_dir` (named by `report.stem`); the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for kind in formats:
        written += WRITERS[kind](report, out_dir)
    return written


# ---- shared helpers -----------------------------------------------------------------------------
def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M:%S}"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_cell(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, default=str, ensure_ascii=False)
    return str(value)


def _shown(result: CheckResult) -> tuple[list[str], list[dict[str, Any]]]:
    """The columns and rows HTML/Markdown show (CSV/JSON hold everything)."""
    table = result.table
    columns = [c for c in result.check.columns if c in table.column_names] or [c for c in table.column_names if c != "patch"]
    rows = table.slice(0, result.check.limit).select(columns).to_pylist() if table.num_rows else []
    return columns, rows


def _file_slug(section_control: str, result: CheckResult) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "_", section_control).strip("_") + "--" + result.name


def _window(report: Report) -> str:
    evidence = report.evidence
    return f"{evidence.since:%Y-%m-%d %H:%M} → {evidence.until:%Y-%m-%d %H:%M} UTC"


def _values_text(values: dict[str, Any]) -> str:
    return ", ".join(f"{key} = {_cell(value) if value is not None else 'NULL'}" for key, value in values.items())


def _md(value: Any) -> str:
    """A value as Markdown text (`_cell`, then `render.markdown_text`): one line that renders as written."""
    return render.markdown_text(_cell(value))


# ---- Markdown -----------------------------------------------------------------------------------
def markdown(report: Report) -> str:
    evidence = report.evidence
    lines = [f"# {report.pack.title}", "",
             f"**Window:** {_window(report)}  ",
             f"**Clusters:** {_md(', '.join(row['cluster'] for row in evidence.clusters)) or 'none in the window'}  ",
             f"**Events:** {evidence.events:,}  ",
             f"**Result:** {report.count('attention')} section(s) need attention, {report.count('pass')} pass, "
             f"{report.count('evidence')} evidence only  ",
             f"**Generated:** {evidence.generated_at:%Y-%m-%d %H:%M:%S} UTC by auditlake {evidence.auditlake_version}", ""]
    if report.pack.description:
        lines += [report.pack.description, ""]
    lines += ["| control | section | result |", "|---|---|---|"]
    lines += [f"| {s.section.control} | {s.section.title} | {STATUS_ICON[s.status]} {STATUS_LABEL[s.status]} |" for s in report.sections]
    lines.append("")
    for section in report.sections:
        lines += [f"## {section.section.control} — {section.section.title}", "",
                  f"*{section.section.requirement}*", "",
                  f"**Checked:** {section.section.checked}", "",
                  f"**Result:** {STATUS_ICON[section.status]} {STATUS_LABEL[section.status]}", ""]
        for result in section.checks:
            lines += _markdown_check(result)
    lines += _markdown_evidence(report)
    return "\n".join(lines) + "\n"


def _markdown_check(result: CheckResult) -> list[str]:
    lines = [f"### {result.check.title}", "", f"{_count_sentence(result)}", ""]
    if result.changes is not None:
        for (cluster, resource, namespace, name), entries in result.changes[: result.check.limit]:
            lines += [f"#### {_md(history.object_label(resource, namespace, name))} ({_md(cluster)})", ""]
            for entry in entries:
                lines += [f"- **{entry.at:%Y-%m-%d %H:%M:%S} UTC** — {_md(entry.summary)}  ", f"  {_md(render.history_header(entry))}"]
                diff = history.unified_diff(entry)
                if diff:
                    lines += ["", *("  " + line for line in render.markdown_fence(diff, "diff"))]
            lines.append("")
    else:
        columns, rows = _shown(result)
        if rows:
            lines += ["| " + " | ".join(_md(c) for c in columns) + " |", "|" + "---|" * len(columns)]
            lines += ["| " + " | ".join(_md(row[c]) for c in columns) + " |" for row in rows]
            if result.table.num_rows > len(rows):
                lines.append(f"\n…and {result.table.num_rows - len(rows):,} more row(s) in the CSV/JSON.")
            lines.append("")
    lines += [f"<details><summary>Query <code>{html.escape(result.name)}</code> ({html.escape(result.source)})</summary>", "",
              f"Parameters: {render.markdown_text(_values_text(result.values))}", "",
              *render.markdown_fence(result.sql.split("\n"), "sql"), "", "</details>", ""]
    return lines


def _count_sentence(result: CheckResult) -> str:
    rows = result.table.num_rows
    noun = "change" if result.changes is not None else "row"
    text = f"{rows:,} {noun}{'s' if rows != 1 else ''}"
    if result.empty_window:
        return text + " — **needs attention: the window holds no events, so nothing can pass.**"
    if result.check.attention == "no rows" and rows == 0:
        return text + " — **needs attention: nothing was recorded.**"
    if result.status == "attention":
        rule = "any row does" if result.check.attention == "rows" else f"where {result.check.attention_where}"
        return text + f" — **{result.flagged:,} need{'s' if result.flagged == 1 else ''} attention** ({rule})."
    if result.status == "pass":
        rule = {"rows": "nothing found", "no rows": "events were recorded"}.get(result.check.attention, f"no row where {result.check.attention_where}")
        return text + f" — pass ({rule})."
    return text + "."


def _markdown_evidence(report: Report) -> list[str]:
    evidence = report.evidence
    lines = ["## Evidence", "",
             f"- Window: {evidence.since.isoformat()} to {evidence.until.isoformat()} (end exclusive)",
             f"- Cluster filter: {_md(evidence.cluster or 'all clusters')}",
             f"- Pack: {render.markdown_code(evidence.pack_file)} sha256 {render.markdown_code(evidence.pack_sha256)}",
             f"- Parameters: {_md(_values_text(evidence.params) or 'defaults')}",
             f"- auditlake {_md(evidence.auditlake_version)}; lake {render.markdown_code(evidence.lake)}",
             f"- Re-run: {render.markdown_code(evidence.command)}", "",
             "| cluster | events | requests | days | first event | last event |", "|---|---|---|---|---|---|"]
    lines += [f"| {_md(row['cluster'])} | {row['events']:,} | {row['requests']:,} | {row['days']} | {_md(row['first_at'])} | {_md(row['last_at'])} |"
              for row in evidence.clusters]
    lines += ["", f"Coverage gaps longer than 15 minutes: {len(evidence.gaps)}", ""]
    if evidence.gaps:
        lines += ["| cluster | from | to | minutes |", "|---|---|---|---|"]
        lines += [f"| {_md(g['cluster'])} | {_md(g['gap_start'])} | {_md(g['gap_end'])} | {g['silence_minutes']} |" for g in evidence.gaps]
        lines.append("")
    lines += [f"Input files ({len(evidence.sources)}) that supplied the window's events (events: in the window; lines and sha256: "
              "of the whole file, from the lake's manifest):", "",
              "| cluster | file | lines | events | sha256 |", "|---|---|---|---|---|"]
    lines += [f"| {_md(s['cluster'])} | {render.markdown_code(s['file'], in_table=True)} | {s['lines']:,} | {s['events']:,} "
              f"| {_md(s['sha256'] or 'live file, read in part')} |"
              for s in evidence.sources]
    lines.append("")
    return lines


# ---- HTML ---------------------------------------------------------------------------------------
HTML_STYLE = """
:root{--fg:#1f2328;--muted:#57606a;--line:#d0d7de;--bg2:#f6f8fa;--warn:#9a6700;--warnbg:#fff8c5;--ok:#1a7f37;--okbg:#dafbe1}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:78rem;color:var(--fg);padding:0 1rem}
h1{font-size:1.55rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin:2.2rem 0 .3rem;border-bottom:1px solid var(--line);padding-bottom:.2rem}
h3{font-size:1rem;margin:1.3rem 0 .3rem}.meta{color:var(--muted)}.req{font-style:italic}
table{border-collapse:collapse;margin:.4rem 0 1rem;font-size:12.5px;display:block;overflow-x:auto;max-width:100%}
th,td{border:1px solid var(--line);padding:.25rem .5rem;text-align:left;vertical-align:top;white-space:nowrap}
td.wrap{white-space:normal;max-width:32rem}th{background:var(--bg2);position:sticky;top:0}
tr:nth-child(even) td{background:#fbfcfd}.num{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;border-radius:1rem;padding:.05rem .6rem;font-size:.8rem;font-weight:600}
.attention{background:var(--warnbg);color:var(--warn)}.pass{background:var(--okbg);color:var(--ok)}.evidence{background:var(--bg2);color:var(--muted)}
pre{background:var(--bg2);padding:.6rem .8rem;overflow-x:auto;font:12px/1.4 ui-monospace,Menlo,Consolas,monospace;border-radius:6px}
details{margin:.3rem 0 1rem}summary{cursor:pointer;color:var(--muted)}
.add{color:#116329;background:#dafbe1;display:block}.del{color:#82071e;background:#ffebe9;display:block}.hunk{color:#8250df;display:block}
svg{max-width:100%;height:auto;margin:.3rem 0}svg text{font:11px system-ui,sans-serif;fill:#57606a}
.summary-grid{display:flex;gap:1rem;margin:1rem 0}.summary-grid div{border:1px solid var(--line);border-radius:6px;padding:.5rem 1rem}
.summary-grid b{font-size:1.3rem;display:block}
@media print{h2{page-break-before:auto}details{display:block}table{display:table}}
"""


def html_page(report: Report) -> str:
    """One self-contained page: inline CSS and SVG, no scripts, nothing fetched."""
    evidence = report.evidence
    title = html.escape(report.pack.title)
    parts = [f"<!doctype html><html lang=en><head><meta charset=utf-8><meta name=viewport content='width=device-width'>"
             f"<meta name=generator content='auditlake {html.escape(evidence.auditlake_version)}'><title>{title}</title>"
             f"<style>{HTML_STYLE}</style></head><body>",
             f"<header><h1>{title}</h1><p class=meta>{html.escape(_window(report))} · clusters: "
             f"{html.escape(', '.join(r['cluster'] for r in evidence.clusters) or 'none in the window')} · "
             f"generated {evidence.generated_at:%Y-%m-%d %H:%M} UTC by auditlake {html.escape(evidence.auditlake_version)}</p>",
             f"<p>{html.escape(report.pack.description)}</p>" if report.pack.description else "",
             "<div class=summary-grid>"
             f"<div><b>{evidence.events:,}</b>events</div>"
             f"<div><b>{report.count('attention')}</b>need attention</div>"
             f"<div><b>{report.count('pass')}</b>pass</div>"
             f"<div><b>{report.count('evidence')}</b>evidence only</div></div></header>",
             "<nav><table id=contents><tr><th>control</th><th>section</th><th>result</th></tr>"]
    for index, section in enumerate(report.sections):
        parts.append(f"<tr><td><a href='#s{index}'>{html.escape(section.section.control)}</a></td><td>{html.escape(section.section.title)}</td>"
                     f"<td>{_badge(section.status)}</td></tr>")
    parts.append("</table></nav><main>")
    for index, section in enumerate(report.sections):
        parts.append(f"<section id='s{index}' class=report-section data-control='{html.escape(section.section.control)}' "
                     f"data-status='{section.status}'><h2>{html.escape(section.section.control)} — {html.escape(section.section.title)} "
                     f"{_badge(section.status)}</h2><p class=req>{html.escape(section.section.requirement)}</p>"
                     f"<p><b>Checked:</b> {html.escape(section.section.checked)}</p>")
        for result in section.checks:
            parts.append(_html_check(result))
        parts.append("</section>")
    parts.append(_html_evidence(report))
    parts.append("</main></body></html>\n")
    return "".join(parts)


def _badge(status: str) -> str:
    return f"<span class='badge {status}'>{STATUS_ICON[status]} {STATUS_LABEL[status]}</span>"


def _html_check(result: CheckResult) -> str:
    parts = [f"<div class=check data-query='{html.escape(result.name)}' data-rows='{result.table.num_rows}' data-status='{result.status}'>"
             f"<h3>{html.escape(result.check.title)}</h3><p>{_inline_markdown(_count_sentence(result))}</p>"]
    if result.check.chart and result.table.num_rows:
        parts.append(bar_chart(result.table, result.check.chart))
    if result.changes is not None:
        parts.append(_html_changes(result))
    else:
        columns, rows = _shown(result)
        if rows:
            parts.append("<table><tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in columns) + "</tr>")
            for row in rows:
                parts.append("<tr>" + "".join(_html_cell(row[c]) for c in columns) + "</tr>")
            parts.append("</table>")
            if result.table.num_rows > len(rows):
                parts.append(f"<p class=meta>…and {result.table.num_rows - len(rows):,} more row(s) in the CSV/JSON.</p>")
    parts.append(f"<details><summary>Query <code>{html.escape(result.name)}</code> ({html.escape(result.source)})</summary>"
                 f"<p class=meta>Parameters: {html.escape(_values_text(result.values))}</p><pre>{html.escape(result.sql)}</pre></details></div>")
    return "".join(parts)


def _html_cell(value: Any) -> str:
    text = html.escape(_cell(value))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"<td class=num>{text}</td>"
    return f"<td class=wrap>{text}</td>" if len(text) > 60 else f"<td>{text}</td>"


def _inline_markdown(text: str) -> str:
    return re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", html.escape(text))


def _html_changes(result: CheckResult) -> str:
    parts = []
    for (cluster, resource, namespace, name), entries in (result.changes or [])[: result.check.limit]:
        parts.append(f"<h4>{html.escape(history.object_label(resource, namespace, name))} "
                     f"<span class=meta>({html.escape(cluster)}, {len(entries)} change(s))</span></h4>")
        for entry in entries:
            parts.append(f"<p><b>{entry.at:%Y-%m-%d %H:%M:%S} UTC</b> — {html.escape(entry.summary)}<br>"
                         f"<span class=meta>{html.escape(render.history_header(entry))}</span></p>")
            diff = history.unified_diff(entry)
            if diff:
                parts.append("<details><summary>diff</summary><pre>" + "".join(_diff_line(line) for line in diff) + "</pre></details>")
    return "".join(parts)


def _diff_line(line: str) -> str:
    kind = "add" if line.startswith("+") else "del" if line.startswith("-") else "hunk" if line.startswith("@@") else ""
    return f"<span class={kind}>{html.escape(line)}</span>" if kind else html.escape(line) + "\n"


def _html_evidence(report: Report) -> str:
    evidence = report.evidence
    rows = "".join(f"<tr><td>{html.escape(r['cluster'])}</td><td class=num>{r['events']:,}</td><td class=num>{r['requests']:,}</td>"
                   f"<td class=num>{r['days']}</td><td>{_cell(r['first_at'])}</td><td>{_cell(r['last_at'])}</td></tr>" for r in evidence.clusters)
    gaps = "".join(f"<tr><td>{html.escape(g['cluster'])}</td><td>{_cell(g['gap_start'])}</td><td>{_cell(g['gap_end'])}</td>"
                   f"<td class=num>{g['silence_minutes']}</td></tr>" for g in evidence.gaps)
    sources = "".join(f"<tr><td>{html.escape(s['cluster'])}</td><td class=wrap><code>{html.escape(s['file'])}</code></td>"
                      f"<td class=num>{s['lines']:,}</td><td class=num>{s['events']:,}</td>"
                      f"<td><code>{html.escape(s['sha256'] or 'live file, read in part')}</code></td></tr>" for s in evidence.sources)
    return (
        "<section id=evidence><h2>Evidence</h2><ul>"
        f"<li>Window: {evidence.since.isoformat()} to {evidence.until.isoformat()} (end exclusive)</li>"
        f"<li>Cluster filter: {html.escape(evidence.cluster or 'all clusters')}</li>"
        f"<li>Pack: <code>{html.escape(evidence.pack_file)}</code> sha256 <code>{evidence.pack_sha256}</code></li>"
        f"<li>Parameters: {html.escape(_values_text(evidence.params) or 'defaults')}</li>"
        f"<li>auditlake {html.escape(evidence.auditlake_version)}; lake <code>{html.escape(evidence.lake)}</code></li>"
        f"<li>Re-run: <code>{html.escape(evidence.command)}</code></li></ul>"
        "<table><tr><th>cluster</th><th>events</th><th>requests</th><th>days</th><th>first event</th><th>last event</th></tr>"
        f"{rows}</table><p>Coverage gaps longer than 15 minutes: {len(evidence.gaps)}</p>"
        + ("<table><tr><th>cluster</th><th>from</th><th>to</th><th>minutes</th></tr>" + gaps + "</table>" if gaps else "")
        + f"<p>Input files ({len(evidence.sources)}) that supplied the window's events (events: in the window; lines and sha256: "
        "of the whole file, from the lake's manifest):</p>"
        "<table><tr><th>cluster</th><th>file</th><th>lines</th><th>events</th><th>sha256</th></tr>" + sources + "</table></section>"
    )


# ---- charts -------------------------------------------------------------------------------------
def bar_chart(table: pa.Table, chart: packs.Chart, width: int = 860) -> str:
    """Stacked bars of `chart.y` (or `y` split by `chart.series`) per `chart.x`, as inline SVG."""
    for column in (chart.x, *chart.y, *([chart.series] if chart.series else [])):
        if column not in table.column_names:
            raise ValueError(f"chart column {column!r} is not in the result ({', '.join(table.column_names)})")
    categories: dict[str, dict[str, float]] = {}
    series_names: list[str] = []
    for row in table.to_pylist():
        key = _cell(row[chart.x]) or "(none)"
        bucket = categories.setdefault(key, {})
        pairs = [(str(row[chart.series]), row[chart.y[0]])] if chart.series else [(name, row[name]) for name in chart.y]
        for name, value in pairs:
            if name not in series_names:
                series_names.append(name)
            bucket[name] = bucket.get(name, 0.0) + float(value or 0)
    if not chart.horizontal:
        categories = dict(sorted(categories.items()))
    total = max((sum(values.values()) for values in categories.values()), default=0) or 1
    colours = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(series_names)}
    title = html.escape(chart.title or ", ".join(chart.y))
    legend, offset = "", 10
    for name in series_names:
        label = name[:40]
        legend += (f"<rect x='{offset}' y='22' width='10' height='10' fill='{colours[name]}'/>"
                   f"<text x='{offset + 14}' y='31'>{html.escape(label)}</text>")
        offset += 30 + int(len(label) * 6.5)
    if chart.horizontal:
        return _horizontal(categories, series_names, colours, total, title, legend, width)
    left, top, height = 56, 44, 180
    step = max((width - left - 10) / max(len(categories), 1), 4)
    bar = max(step * 0.7, 2)
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' role=img viewBox='0 0 {width} {top + height + 40}' class=chart>"
             f"<title>{title}</title><text x='10' y='14' style='font-weight:600;fill:#1f2328'>{title}</text>{legend}"]
    for tick in range(5):
        value = total * tick / 4
        y = top + height - height * tick / 4
        parts.append(f"<line x1='{left}' x2='{width - 10}' y1='{y:.1f}' y2='{y:.1f}' stroke='#eaeef2'/>"
                     f"<text x='{left - 6}' y='{y + 4:.1f}' text-anchor=end>{_short_number(value)}</text>")
    every = max(1, int(len(categories) / 12) + 1)
    for index, (key, values) in enumerate(categories.items()):
        x = left + index * step + (step - bar) / 2
        y = top + height
        for name in series_names:
            value = values.get(name, 0.0)
            h = height * value / total
            y -= h
            parts.append(f"<rect x='{x:.1f}' y='{y:.1f}' width='{bar:.1f}' height='{h:.1f}' fill='{colours[name]}'>"
                         f"<title>{html.escape(key)} · {html.escape(name)}: {value:,.0f}</title></rect>")
        if index % every == 0:
            parts.append(f"<text x='{x + bar / 2:.1f}' y='{top + height + 14}' text-anchor=middle>{html.escape(key[:12])}</text>")
    parts.append("</svg>")
    return "".join(parts)


def _horizontal(categories: dict[str, dict[str, float]], series_names: list[str], colours: dict[str, str], total: float, title: str,
                legend: str, width: int) -> str:
    label, top, row = 260, 44, 20
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' role=img viewBox='0 0 {width} {top + row * len(categories) + 10}' class=chart>"
             f"<title>{title}</title><text x='10' y='14' style='font-weight:600;fill:#1f2328'>{title}</text>{legend}"]
    for index, (key, values) in enumerate(categories.items()):
        y = top + index * row
        x = float(label)
        parts.append(f"<text x='{label - 6}' y='{y + 13}' text-anchor=end>{html.escape(key[:40])}</text>")
        for name in series_names:
            value = values.get(name, 0.0)
            w = (width - label - 70) * value / total
            parts.append(f"<rect x='{x:.1f}' y='{y + 3}' width='{w:.1f}' height='{row - 6}' fill='{colours[name]}'>"
                         f"<title>{html.escape(key)} · {html.escape(name)}: {value:,.0f}</title></rect>")
            x += w
        parts.append(f"<text x='{x + 4:.1f}' y='{y + 13}'>{_short_number(sum(values.values()))}</text>")
    parts.append("</svg>")
    return "".join(parts)


def _short_number(value: float) -> str:
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= limit:
            return f"{value / limit:.1f}{suffix}".replace(".0", "")
    return f"{value:.0f}"


# ---- machine formats ----------------------------------------------------------------------------
def report_json(report: Report) -> dict[str, Any]:
    """The whole report as one JSON document: evidence, and every section with its checks and rows."""
    evidence = report.evidence
    return {
        "pack": report.pack.name, "title": report.pack.title, "framework": report.pack.framework, "status": report.status,
        "window": {"since": evidence.since.isoformat(), "until": evidence.until.isoformat()},
        "evidence": {
            "generated_at": evidence.generated_at.isoformat(), "auditlake_version": evidence.auditlake_version, "lake": evidence.lake,
            "cluster": evidence.cluster, "params": evidence.params, "command": evidence.command, "pack_file": evidence.pack_file,
            "pack_sha256": evidence.pack_sha256, "events": evidence.events, "clusters": evidence.clusters, "gaps": evidence.gaps,
            "sources": evidence.sources, "files": evidence.files,
        },
        "sections": [_section_json(section) for section in report.sections],
    }


def _section_json(section: Any) -> dict[str, Any]:
    return {
        "control": section.section.control, "title": section.section.title, "requirement": section.section.requirement,
        "checked": section.section.checked, "status": section.status,
        "checks": [{"query": result.name, "title": result.check.title, "source": result.source, "status": result.status,
                    "rows": result.table.num_rows, "flagged": result.flagged,
                    "attention_rule": result.check.attention_where or result.check.attention, "parameters": result.values,
                    "sql": result.sql, "result": render._rows(result.table)} for result in section.checks],
    }


def _dump(value: Any) -> str:
    return json.dumps(value, indent=1, ensure_ascii=False, default=render._json_default) + "\n"


def _write_html(report: Report, out_dir: Path) -> list[Path]:
    path = out_dir / f"{report.stem}.html"
    path.write_text(html_page(report), encoding="utf-8")
    return [path]


def _write_markdown(report: Report, out_dir: Path) -> list[Path]:
    path = out_dir / f"{report.stem}.md"
    path.write_text(markdown(report), encoding="utf-8")
    return [path]


def _write_json(report: Report, out_dir: Path) -> list[Path]:
    """`<stem>.json` (everything) and one JSON file per section under `<stem>/`."""
    document = report_json(report)
    path = out_dir / f"{report.stem}.json"
    path.write_text(_dump(document), encoding="utf-8")
    per_section = out_dir / report.stem
    per_section.mkdir(exist_ok=True)
    written = [path]
    for section in document["sections"]:
        target = per_section / (re.sub(r"[^A-Za-z0-9.]+", "_", section["control"]).strip("_") + ".json")
        target.write_text(_dump({"pack": document["pack"], "window": document["window"], **section}), encoding="utf-8")
        written.append(target)
    return written


def _write_csv(report: Report, out_dir: Path) -> list[Path]:
    """One CSV per check under `<stem>/` (every row), and `<stem>/summary.csv` (one row per check)."""
    per_section = out_dir / report.stem
    per_section.mkdir(exist_ok=True)
    written = []
    summary = []
    for section in report.sections:
        for result in section.checks:
            target = per_section / f"{_file_slug(section.section.control, result)}.csv"
            buffer = io.BytesIO()
            render.write_csv(result.table, buffer)
            target.write_bytes(buffer.getvalue())
            written.append(target)
            summary.append({"control": section.section.control, "section": section.section.title, "section_status": section.status,
                            "query": result.name, "check_status": result.status, "rows": result.table.num_rows,
                            "flagged": result.flagged, "file": target.name})
    target = per_section / "summary.csv"
    buffer = io.BytesIO()
    render.write_csv(pa.Table.from_pylist(summary), buffer)
    target.write_bytes(buffer.getvalue())
    return [target, *written]


WRITERS: dict[str, Callable[[Report, Path], list[Path]]] = {
    "html": _write_html, "md": _write_markdown, "json": _write_json, "csv": _write_csv,
}
