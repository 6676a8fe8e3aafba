"""A `Report` as documents: one self-contained HTML page, Markdown, and CSV/JSON per check for GRC tools.

Owns: the layout of a compliance report and its bar charts (inline SVG: no scripts, no fonts, no
CDN, so the page opens offline from an e-mail attachment), and reading it without a calculator:
durations in human units (`3 d 8 h`: a column named `*_seconds`, `*_minutes`, `*_hours`, `*_days`,
`days_of_*`, `days_since_*`, or an interval), round axis ticks, one fixed colour per audit level and
per other known category in every chart, labels that stay distinct, tables that wrap to the page,
and each section's review state. Runs no SQL; every number comes from the `Report` that reports/build.py
built. Text from the lake (cells, names, summaries, diffs, reviewers and notes) reaches a document only
through one escaping: `html.escape` in HTML, render's `markdown_*` helpers in Markdown and
`render.write_csv` in CSV; the pack's own prose (titles, requirements) is written as is.
"""

from __future__ import annotations

import dataclasses
import hashlib
import html
import io
import json
import math
import os
import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from auditlake import history, render
from auditlake.reports import packs, review
from auditlake.reports.build import CheckResult, Report, SectionResult

FORMATS = ("html", "md", "csv", "json")
STATUS_LABEL = {"attention": "needs attention", "pass": "pass", "accepted": "accepted in review", "evidence": "evidence"}
STATUS_ICON = {"attention": "⚠", "pass": "✓", "accepted": "✓", "evidence": "•"}
# One colour per category, the same in every chart: the audit levels, the stages, and the kinds of failed
# access (401 is red and 403 orange whether a chart calls them `unauthenticated` or `failed_authentication`).
FIXED_COLOURS = {
    "None": "#8c959f", "Metadata": "#0969da", "Request": "#bf8700", "RequestResponse": "#8250df",
    "RequestReceived": "#54aeff", "ResponseStarted": "#d4a72c", "ResponseComplete": "#0550ae", "Panic": "#a40e26",
    "unauthenticated": "#cf222e", "failed_authentication": "#cf222e", "forbidden": "#fb8f44", "failed_authorization": "#fb8f44",
    "secret_reads_by_people": "#1a7f37", "interactive_sessions": "#bf3989", "cluster_admin_grants": "#6639ba",
    "anonymous_allowed": "#953800", "events": "#0969da", "requests": "#0969da",
}
PALETTE = ("#0969da", "#bf3989", "#1a7f37", "#9a6700", "#8250df", "#cf222e", "#57606a", "#0550ae", "#116329", "#b35900")
DURATION_UNITS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}  # a numeric column named for its unit is a duration
UNIT_SYMBOLS = {1: "s", 60: "min", 3600: "h", 86400: "d"}
GAPS_SHOWN = 10  # coverage gaps listed in the evidence block (the longest; every gap is in the JSON)


def write(report: Report, out_dir: Path, formats: tuple[str, ...]) -> list[Path]:
    """Write the report in each format under `out_dir` (named by `report.stem`); the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for kind in formats:
        written += WRITERS[kind](report, out_dir)
    return written


# ---- shared helpers -----------------------------------------------------------------------------
def format_duration(seconds: float) -> str:
    """A duration in human units, the two largest that matter, rounded to the smaller one.

    >>> format_duration(4.84768e+06 * 60)
    '3,366 d 11 h'
    >>> [format_duration(value) for value in (0, 0.25, 42, 61, 3599.6, 7500, 288000)]
    ['0 s', '0.25 s', '42 s', '1 min 1 s', '1 h', '2 h 5 min', '3 d 8 h']
    """
    if seconds < 0:
        return "-" + format_duration(-seconds)
    if seconds < 10:
        return f"{seconds:.2g} s" if seconds < 1 else f"{seconds:.3g} s".replace(".0 s", " s")
    units = (("d", 86400), ("h", 3600), ("min", 60), ("s", 1))
    for index, (name, size) in enumerate(units[:-1]):
        if seconds >= size:
            smaller_name, smaller = units[index + 1]
            total = round(seconds / smaller)  # in the smaller unit
            if index and total * smaller >= units[index - 1][1]:  # rounding reached the larger unit: 3599.6 s is 1 h
                return format_duration(total * smaller)
            large, small = divmod(total, size // smaller)
            if large == 0:
                return f"{small:,} {smaller_name}"
            return f"{large:,} {name}" + (f" {small} {smaller_name}" if small else "")
    return f"{round(seconds)} s" if round(seconds) < 60 else "1 min"


def duration_unit(column: str) -> int | None:
    """Seconds per unit when the column's name says it holds a duration (`silence_minutes`, `days_of_history`), else None.

    >>> duration_unit("silence_minutes"), duration_unit("days_of_history"), duration_unit("days_with_events")
    (60, 86400, None)
    """
    for unit, size in DURATION_UNITS.items():
        if column.endswith("_" + unit) or column.startswith((unit + "_of_", unit + "_since_")):
            return size
    return None


def _value(column: str, value: Any) -> Any:
    """A cell as a reader should see it: a number of seconds, minutes, hours or days as a duration."""
    size = duration_unit(column)
    if size is not None and isinstance(value, (int, float)) and not isinstance(value, bool):
        return timedelta(seconds=value * size) if value else f"0 {UNIT_SYMBOLS[size]}"  # 0 days rounded is not "0 s"
    return value


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M:%S}"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return format_duration(value.total_seconds())
    if isinstance(value, float):
        text = f"{value:g}"
        return f"{value:,.2f}".rstrip("0").rstrip(".") if "e" in text else text  # 4,847,680 rather than 4.84768e+06
    if isinstance(value, (list, tuple)):
        return ", ".join(_cell(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, default=str, ensure_ascii=False)
    return str(value)


def _shown(result: CheckResult) -> tuple[list[str], list[dict[str, Any]]]:
    """The columns and rows HTML/Markdown show (CSV/JSON hold everything): the first `limit` rows, or the
    `top` rows by their column, largest first. Rows keep every column (a row's review digest needs them)."""
    table = result.table
    columns = [c for c in result.check.columns if c in table.column_names] or [c for c in table.column_names if c != "patch"]
    if not table.num_rows:
        return columns, []
    if result.check.top:
        by, count = result.check.top
        table = table.sort_by([(by, "descending")]).slice(0, count)
    return columns, table.slice(0, result.check.limit).to_pylist()


def _top_sentence(result: CheckResult) -> str:
    """`The 10 longest (silence_minutes) of 57, longest first; 3 d 8 h in all.` when `top` leaves rows out."""
    if not result.check.top or result.table.num_rows <= result.check.top[1]:
        return ""
    by, count = result.check.top
    total = sum(value for value in result.table.column(by).to_pylist() if isinstance(value, (int, float)))
    largest = "longest" if duration_unit(by) else "largest"
    return (f"The {count:,} {largest} ({by}) of {result.table.num_rows:,}, {largest} first (every row is in the CSV/JSON); "
            f"{_cell(_value(by, total))} in all.")


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


# ---- reviews ------------------------------------------------------------------------------------
def _when(review_: review.Review) -> str:
    return f"{review_.reviewed_at:%Y-%m-%d %H:%M} UTC"


def _review_summary(section: SectionResult) -> tuple[str, str] | None:
    """The section's review state as (icon and state, sentence with `{by}`/`{note}` placeholders for the escaped texts)."""
    state = section.review
    if state is None or state.latest is None:
        return None
    latest = state.latest
    if state.state == "accepted" and state.accepted_by is not None:
        accepted = state.accepted_by
        window = f" over {accepted.since:%Y-%m-%d %H:%M} → {accepted.until:%Y-%m-%d %H:%M} UTC" if accepted.since and accepted.until else ""
        return "✓ accepted", (f"by {{by}} on {_when(accepted)}: {{note}} (its evidence: {accepted.rows:,} row(s) needing attention"
                              f"{window}, digest {accepted.digest}; it lapses when a row needing attention changes)")
    if state.state == "lapsed" and state.accepted_by is not None:
        return "⚠ acceptance lapsed", (f"— {state.uncovered:,} row(s) need attention that the acceptance by {{by}} on "
                                       f"{_when(state.accepted_by)} does not cover (new or changed evidence); it said: {{note}}")
    return "• reviewed, not accepted", f"by {{by}} on {_when(latest)}: {{note}}"


def _review_people(section: SectionResult) -> review.Review | None:
    state = section.review
    if state is None:
        return None
    return state.accepted_by if state.state in ("accepted", "lapsed") else state.latest


def _review_cell(section: SectionResult) -> str:
    """The contents table's review column: state, reviewer and day (plain text)."""
    summary, who = _review_summary(section), _review_people(section)
    if summary is None or who is None:
        return ""
    return f"{summary[0]} ({who.reviewer}, {who.reviewed_at:%Y-%m-%d})"


# ---- Markdown -----------------------------------------------------------------------------------
def markdown(report: Report) -> str:
    evidence = report.evidence
    accepted = f"{report.count('accepted')} accepted in review, " if report.count("accepted") else ""
    lines = [f"# {report.pack.title}", "",
             f"**Window:** {_window(report)}  ",
             f"**Clusters:** {_md(', '.join(row['cluster'] for row in evidence.clusters)) or 'none in the window'}  ",
             f"**Events:** {evidence.events:,}  ",
             f"**Result:** {report.count('attention')} section(s) need attention, {report.count('pass')} pass, {accepted}"
             f"{report.count('evidence')} evidence only  ",
             f"**Generated:** {evidence.generated_at:%Y-%m-%d %H:%M:%S} UTC by auditlake {evidence.auditlake_version}", ""]
    if report.pack.description:
        lines += [report.pack.description, ""]
    if report.reviewed:
        lines += ["| control | section | result | review |", "|---|---|---|---|"]
        lines += [f"| {s.section.control} | {s.section.title} | {STATUS_ICON[s.status]} {STATUS_LABEL[s.status]} | {_md(_review_cell(s))} |"
                  for s in report.sections]
    else:
        lines += ["| control | section | result |", "|---|---|---|"]
        lines += [f"| {s.section.control} | {s.section.title} | {STATUS_ICON[s.status]} {STATUS_LABEL[s.status]} |" for s in report.sections]
    lines.append("")
    for section in report.sections:
        lines += [f"## {section.section.control} — {section.section.title}", "",
                  f"*{section.section.requirement}*", "",
                  f"**Checked:** {section.section.checked}", "",
                  f"**Result:** {STATUS_ICON[section.status]} {STATUS_LABEL[section.status]}", ""]
        lines += _markdown_review(section)
        for result in section.checks:
            lines += _markdown_check(result)
    lines += _markdown_evidence(report)
    return "\n".join(lines) + "\n"


def _markdown_review(section: SectionResult) -> list[str]:
    summary, who = _review_summary(section), _review_people(section)
    if summary is None or who is None or section.review is None:
        return []
    state, sentence = summary
    lines = [f"**Review:** {state} " + sentence.format(by=_md(who.reviewer), note=f"“{_md(who.note)}”"), ""]
    earlier = [item for item in section.review.reviews if item is not who]
    if earlier:
        lines += ["Other reviews of this section, newest first:", ""]
        lines += [f"- {_when(item)} — {_md(item.reviewer)} {'accepted' if item.accepted else 'noted'}: “{_md(item.note)}” "
                  f"({item.rows:,} row(s), digest {item.digest})" for item in earlier]
        lines.append("")
    return lines


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
            if _top_sentence(result):
                lines += [_top_sentence(result), ""]
            marked = bool(result.accepted_rows)
            lines += ["| " + " | ".join([*(["review"] if marked else []), *(_md(c) for c in columns)]) + " |",
                      "|" + "---|" * (len(columns) + marked)]
            lines += ["| " + " | ".join([*([_row_review(result, row)] if marked else []), *(_md(_value(c, row[c])) for c in columns)]) + " |"
                      for row in rows]
            if result.table.num_rows > len(rows) and not _top_sentence(result):
                lines.append(f"\n…and {result.table.num_rows - len(rows):,} more row(s) in the CSV/JSON.")
            lines.append("")
    lines += [f"<details><summary>Query <code>{html.escape(result.name)}</code> ({html.escape(result.source)})</summary>", "",
              f"Parameters: {render.markdown_text(_values_text(result.values))}", "",
              *render.markdown_fence(result.sql.split("\n"), "sql"), "", "</details>", ""]
    return lines


def _row_review(result: CheckResult, row: dict[str, Any]) -> str:
    return "✓ accepted" if review.row_digest(row) in result.accepted_rows else ""


def _count_sentence(result: CheckResult) -> str:
    rows = result.table.num_rows
    noun = "change" if result.changes is not None else "row"
    text = f"{rows:,} {noun}{'s' if rows != 1 else ''}"
    accepted = f"; {result.accepted:,} more accepted in review" if result.accepted else ""
    if result.empty_window:
        return text + " — **needs attention: the window holds no events, so nothing can pass.**"
    if result.check.attention == "no rows" and rows == 0:
        if result.status == "accepted":
            return text + " — accepted in review (nothing was recorded)."
        return text + " — **needs attention: nothing was recorded.**"
    if result.status == "attention":
        rule = "any row does" if result.check.attention == "rows" else f"where {result.check.attention_where}"
        return text + f" — **{result.flagged:,} need{'s' if result.flagged == 1 else ''} attention** ({rule}){accepted}."
    if result.status == "accepted":
        return text + f" — accepted in review: the {result.accepted:,} row(s) needing attention are the evidence a review accepted."
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
    lines += ["", _gaps_sentence(report), ""]
    if evidence.gaps:
        summary = evidence.gap_summary()
        if len(summary) > 1 or len(evidence.gaps) > GAPS_SHOWN:
            lines += ["| cluster | gaps | silent in all | longest |", "|---|---|---|---|"]
            lines += [f"| {_md(row['cluster'])} | {row['gaps']:,} | {_minutes(row['total_minutes'])} | {_minutes(row['longest_minutes'])} |"
                      for row in summary]
            lines.append("")
        if len(evidence.gaps) > GAPS_SHOWN:
            lines += [f"The {GAPS_SHOWN} longest, longest first (the JSON lists all {len(evidence.gaps):,}):", ""]
        lines += ["| cluster | from | to | silence |", "|---|---|---|---|"]
        lines += [f"| {_md(g['cluster'])} | {_md(g['gap_start'])} | {_md(g['gap_end'])} | {_minutes(g['silence_minutes'])} |" for g in _gaps_shown(report)]
        lines.append("")
    lines += [f"Input files ({len(evidence.sources)}) that supplied the window's events (events: in the window; lines and sha256: "
              "of the whole file, from the lake's manifest):", "",
              "| cluster | file | lines | events | sha256 |", "|---|---|---|---|---|"]
    lines += [f"| {_md(s['cluster'])} | {render.markdown_code(s['file'], in_table=True)} | {s['lines']:,} | {s['events']:,} "
              f"| {_md(s['sha256'] or 'live file, read in part')} |"
              for s in evidence.sources]
    lines.append("")
    return lines


def _minutes(value: float | None) -> str:
    return format_duration((value or 0) * 60)


def _gaps_sentence(report: Report) -> str:
    gaps = report.evidence.gaps
    total = sum(gap["silence_minutes"] or 0 for gap in gaps)
    return (f"Coverage gaps longer than 15 minutes: {len(gaps)}" + (f" ({_minutes(total)} of silence in all; each cluster counts only "
            "between its own first and last event in the lake)" if gaps else ""))


def _gaps_shown(report: Report) -> list[dict[str, Any]]:
    """Every gap in time order when they are few, else the longest."""
    evidence = report.evidence
    return evidence.gaps if len(evidence.gaps) <= GAPS_SHOWN else evidence.longest_gaps(GAPS_SHOWN)


# ---- HTML ---------------------------------------------------------------------------------------
# Tables fit the page: cells wrap (a long actor, path or sha256 breaks anywhere rather than pushing the
# table off the page or into a scroll box); only numbers and times stay on one line.
HTML_STYLE = """
:root{--fg:#1f2328;--muted:#57606a;--line:#d0d7de;--bg2:#f6f8fa;--warn:#9a6700;--warnbg:#fff8c5;--ok:#1a7f37;--okbg:#dafbe1}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:78rem;color:var(--fg);padding:0 1rem}
h1{font-size:1.55rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin:2.2rem 0 .3rem;border-bottom:1px solid var(--line);padding-bottom:.2rem}
h3{font-size:1rem;margin:1.3rem 0 .3rem}.meta{color:var(--muted)}.req{font-style:italic}
table{border-collapse:collapse;margin:.4rem 0 1rem;font-size:12.5px;max-width:100%}
th,td{border:1px solid var(--line);padding:.25rem .5rem;text-align:left;vertical-align:top;overflow-wrap:anywhere}
td.num,td.time{white-space:nowrap}th{background:var(--bg2);position:sticky;top:0}
tr:nth-child(even) td{background:#fbfcfd}.num{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;border-radius:1rem;padding:.05rem .6rem;font-size:.8rem;font-weight:600;white-space:nowrap}
.attention{background:var(--warnbg);color:var(--warn)}.pass,.accepted{background:var(--okbg);color:var(--ok)}
.evidence{background:var(--bg2);color:var(--muted)}
.review{border-left:3px solid var(--line);padding:.2rem .8rem;margin:.5rem 0}.review.lapsed{border-color:var(--warn)}
.review.accepted{border-color:var(--ok)}
pre{background:var(--bg2);padding:.6rem .8rem;white-space:pre-wrap;overflow-wrap:anywhere;font:12px/1.4 ui-monospace,Menlo,Consolas,monospace;border-radius:6px}
details{margin:.3rem 0 1rem}summary{cursor:pointer;color:var(--muted)}
.add{color:#116329;background:#dafbe1;display:block}.del{color:#82071e;background:#ffebe9;display:block}.hunk{color:#8250df;display:block}
svg{max-width:100%;height:auto;margin:.3rem 0}svg text{font:11px system-ui,sans-serif;fill:#57606a}
.summary-grid{display:flex;flex-wrap:wrap;gap:1rem;margin:1rem 0}.summary-grid div{border:1px solid var(--line);border-radius:6px;padding:.5rem 1rem}
.summary-grid b{font-size:1.3rem;display:block}
@media print{h2{page-break-before:auto}details{display:block}th{position:static}}
"""


def html_page(report: Report) -> str:
    """One self-contained page: inline CSS and SVG, no scripts, nothing fetched."""
    evidence = report.evidence
    title = html.escape(report.pack.title)
    reviewed = report.reviewed
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
             + (f"<div><b>{report.count('accepted')}</b>accepted in review</div>" if report.count("accepted") else "")
             + f"<div><b>{report.count('evidence')}</b>evidence only</div></div></header>",
             "<nav><table id=contents><tr><th>control</th><th>section</th><th>result</th>" + ("<th>review</th>" if reviewed else "") + "</tr>"]
    for index, section in enumerate(report.sections):
        parts.append(f"<tr><td><a href='#s{index}'>{html.escape(section.section.control)}</a></td><td>{html.escape(section.section.title)}</td>"
                     f"<td>{_badge(section.status)}</td>" + (f"<td>{html.escape(_review_cell(section))}</td>" if reviewed else "") + "</tr>")
    parts.append("</table></nav><main>")
    for index, section in enumerate(report.sections):
        parts.append(f"<section id='s{index}' class=report-section data-control='{html.escape(section.section.control)}' "
                     f"data-status='{section.status}'><h2>{html.escape(section.section.control)} — {html.escape(section.section.title)} "
                     f"{_badge(section.status)}</h2><p class=req>{html.escape(section.section.requirement)}</p>"
                     f"<p><b>Checked:</b> {html.escape(section.section.checked)}</p>")
        parts.append(_html_review(section))
        for result in section.checks:
            parts.append(_html_check(result))
        parts.append("</section>")
    parts.append(_html_evidence(report))
    parts.append("</main></body></html>\n")
    return "".join(parts)


def _badge(status: str) -> str:
    return f"<span class='badge {status}'>{STATUS_ICON[status]} {STATUS_LABEL[status]}</span>"


def _html_review(section: SectionResult) -> str:
    summary, who = _review_summary(section), _review_people(section)
    if summary is None or who is None or section.review is None:
        return ""
    state, sentence = summary
    text = html.escape(sentence).replace("{by}", f"<b>{html.escape(who.reviewer)}</b>").replace("{note}", f"“{html.escape(who.note)}”")
    earlier = [item for item in section.review.reviews if item is not who]
    listed = "".join(f"<li>{_when(item)} — {html.escape(item.reviewer)} {'accepted' if item.accepted else 'noted'}: "
                     f"“{html.escape(item.note)}” ({item.rows:,} row(s), digest <code>{item.digest}</code>)</li>" for item in earlier)
    return (f"<div class='review {section.review.state}' data-review='{section.review.state}'><p><b>Review:</b> {html.escape(state)} {text}</p>"
            + (f"<p class=meta>Other reviews of this section, newest first:</p><ul>{listed}</ul>" if listed else "") + "</div>")


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
            if _top_sentence(result):
                parts.append(f"<p class=meta>{html.escape(_top_sentence(result))}</p>")
            marked = bool(result.accepted_rows)
            parts.append("<table><tr>" + ("<th>review</th>" if marked else "")
                         + "".join(f"<th>{html.escape(c).replace('_', '_<wbr>')}</th>" for c in columns) + "</tr>")
            for row in rows:
                parts.append("<tr>" + (f"<td>{_row_review(result, row)}</td>" if marked else "")
                             + "".join(_html_cell(c, row[c]) for c in columns) + "</tr>")
            parts.append("</table>")
            if result.table.num_rows > len(rows) and not _top_sentence(result):
                parts.append(f"<p class=meta>…and {result.table.num_rows - len(rows):,} more row(s) in the CSV/JSON.</p>")
    parts.append(f"<details><summary>Query <code>{html.escape(result.name)}</code> ({html.escape(result.source)})</summary>"
                 f"<p class=meta>Parameters: {html.escape(_values_text(result.values))}</p><pre>{html.escape(result.sql)}</pre></details></div>")
    return "".join(parts)


def _html_cell(column: str, value: Any) -> str:
    shown = _value(column, value)
    text = html.escape(_cell(shown))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"<td class=num>{text}</td>"
    return f"<td class=time>{text}</td>" if isinstance(value, (date, datetime)) else f"<td>{text}</td>"


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
                   f"<td class=num>{r['days']}</td><td class=time>{_cell(r['first_at'])}</td><td class=time>{_cell(r['last_at'])}</td></tr>"
                   for r in evidence.clusters)
    gaps = "".join(f"<tr><td>{html.escape(g['cluster'])}</td><td class=time>{_cell(g['gap_start'])}</td><td class=time>{_cell(g['gap_end'])}</td>"
                   f"<td class=num>{_minutes(g['silence_minutes'])}</td></tr>" for g in _gaps_shown(report))
    summary = evidence.gap_summary()
    per_cluster = "".join(f"<tr><td>{html.escape(row['cluster'])}</td><td class=num>{row['gaps']:,}</td>"
                          f"<td class=num>{_minutes(row['total_minutes'])}</td><td class=num>{_minutes(row['longest_minutes'])}</td></tr>"
                          for row in summary) if len(summary) > 1 or len(evidence.gaps) > GAPS_SHOWN else ""
    longest = (f"<p>The {GAPS_SHOWN} longest, longest first (the JSON lists all {len(evidence.gaps):,}):</p>"
               if len(evidence.gaps) > GAPS_SHOWN else "")
    sources = "".join(f"<tr><td>{html.escape(s['cluster'])}</td><td><code>{html.escape(s['file'])}</code></td>"
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
        f"{rows}</table><p>{html.escape(_gaps_sentence(report))}</p>"
        + ("<table><tr><th>cluster</th><th>gaps</th><th>silent in all</th><th>longest</th></tr>" + per_cluster + "</table>" if per_cluster else "")
        + longest + ("<table><tr><th>cluster</th><th>from</th><th>to</th><th>silence</th></tr>" + gaps + "</table>" if gaps else "")
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
    known = list(FIXED_COLOURS)
    series_names.sort(key=lambda name: known.index(name) if name in known else len(known))  # levels in their order, in every chart
    total = max((sum(values.values()) for values in categories.values()), default=0) or 1
    colours = series_colours(series_names)
    title = html.escape(chart.title or ", ".join(chart.y))
    legend, offset = "", 10
    for name, label in distinct_labels(series_names, 40).items():
        legend += (f"<rect x='{offset}' y='22' width='10' height='10' fill='{colours[name]}'/>"
                   f"<text x='{offset + 14}' y='31'>{html.escape(label)}</text>")
        offset += 30 + int(len(label) * 6.5)
    if chart.horizontal:
        return _horizontal(categories, series_names, colours, total, title, legend, width)
    top_value, step_value = nice_scale(total)
    left, top, height = 56, 44, 180
    step = max((width - left - 10) / max(len(categories), 1), 4)
    bar = max(step * 0.7, 2)
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' role=img viewBox='0 0 {width} {top + height + 40}' class=chart>"
             f"<title>{title}</title><text x='10' y='14' style='font-weight:600;fill:#1f2328'>{title}</text>{legend}"]
    ticks = round(top_value / step_value)
    for tick in range(ticks + 1):
        value = step_value * tick
        y = top + height - height * value / top_value
        parts.append(f"<line x1='{left}' x2='{width - 10}' y1='{y:.1f}' y2='{y:.1f}' stroke='#eaeef2'/>"
                     f"<text x='{left - 6}' y='{y + 4:.1f}' text-anchor=end>{_short_number(value)}</text>")
    labels = distinct_labels(list(categories), 12)
    widest = max((len(label) for label in labels.values()), default=1) * 6.5 + 8
    every = max(1, math.ceil(widest / step))  # labels never overlap
    for index, (key, values) in enumerate(categories.items()):
        x = left + index * step + (step - bar) / 2
        y = top + height
        for name in series_names:
            value = values.get(name, 0.0)
            h = height * value / top_value
            y -= h
            parts.append(f"<rect x='{x:.1f}' y='{y:.1f}' width='{bar:.1f}' height='{h:.1f}' fill='{colours[name]}'>"
                         f"<title>{html.escape(key)} · {html.escape(name)}: {value:,.0f}</title></rect>")
        if index % every == 0:
            parts.append(f"<text x='{x + bar / 2:.1f}' y='{top + height + 14}' text-anchor=middle>{html.escape(labels[key])}</text>")
    parts.append("</svg>")
    return "".join(parts)


def _horizontal(categories: dict[str, dict[str, float]], series_names: list[str], colours: dict[str, str], total: float, title: str,
                legend: str, width: int) -> str:
    label, top, row = 260, 44, 20
    labels = distinct_labels(list(categories), 40)
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' role=img viewBox='0 0 {width} {top + row * len(categories) + 10}' class=chart>"
             f"<title>{title}</title><text x='10' y='14' style='font-weight:600;fill:#1f2328'>{title}</text>{legend}"]
    for index, (key, values) in enumerate(categories.items()):
        y = top + index * row
        x = float(label)
        parts.append(f"<text x='{label - 6}' y='{y + 13}' text-anchor=end><title>{html.escape(key)}</title>{html.escape(labels[key])}</text>")
        for name in series_names:
            value = values.get(name, 0.0)
            w = (width - label - 70) * value / total
            parts.append(f"<rect x='{x:.1f}' y='{y + 3}' width='{w:.1f}' height='{row - 6}' fill='{colours[name]}'>"
                         f"<title>{html.escape(key)} · {html.escape(name)}: {value:,.0f}</title></rect>")
            x += w
        parts.append(f"<text x='{x + 4:.1f}' y='{y + 13}'>{_short_number(sum(values.values()))}</text>")
    parts.append("</svg>")
    return "".join(parts)


def nice_scale(maximum: float, ticks: int = 4) -> tuple[float, float]:
    """The axis top and tick step for values up to `maximum`: a step of 1, 2, 2.5 or 5 × 10^n, so every tick is round.

    >>> nice_scale(1234), nice_scale(3), nice_scale(97_000), nice_scale(0.7)
    ((1500, 500), (3, 1), (100000, 25000), (0.8, 0.2))
    """
    if maximum <= 0:
        return 1, 1
    raw = maximum / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(multiple * magnitude for multiple in (1, 2, 2.5, 5, 10) if multiple * magnitude >= raw)
    if maximum >= 1 and step < 1:
        step = 1  # counts: no tick between two whole numbers
    step = int(step) if float(step).is_integer() else round(step, 12)
    top = math.ceil(maximum / step - 1e-9) * step
    return (int(top) if float(top).is_integer() else round(top, 12)), step


def series_colours(names: list[str]) -> dict[str, str]:
    """A colour per series: the fixed one of a known category (audit levels, stages, failed access), else one
    picked by the name's hash, so a series has the same colour in every chart; never two alike in one chart
    while the palette lasts.

    >>> series_colours(["Request", "Metadata"]) == {"Request": FIXED_COLOURS["Request"], "Metadata": FIXED_COLOURS["Metadata"]}
    True
    """
    colours = {name: FIXED_COLOURS[name] for name in names if name in FIXED_COLOURS}
    free = [colour for colour in PALETTE if colour not in colours.values()] or list(PALETTE)
    for name in (name for name in names if name not in colours):
        start = int(hashlib.sha256(name.encode()).hexdigest(), 16) % len(free)
        taken = set(colours.values())
        colours[name] = next((free[(start + step) % len(free)] for step in range(len(free)) if free[(start + step) % len(free)] not in taken),
                             free[start])
    return colours


def distinct_labels(names: list[str], width: int) -> dict[str, str]:
    """A label of at most `width` characters per name, no two alike: the start and the end of a long name
    (`system:servic…slice-controller`), more of what differs when that is not enough, a number as the last resort.

    >>> distinct_labels(["system:serviceaccount:kube-system:endpointslice-controller"], 24)
    {'system:serviceaccount:kube-system:endpointslice-controller': 'system:s…lice-controller'}
    >>> sorted(distinct_labels(["system:serviceaccount:team-a:long-running-deployer-bot",
    ...                         "system:serviceaccount:team-b:long-running-deployer-bot"], 24).values())
    ['…am-a:lo…ng-deployer-bot', '…am-b:lo…ng-deployer-bot']
    """
    def shorten(name: str, room: int) -> str:
        if len(name) <= room:
            return name
        head = max(room // 3, 1)
        return name[:head] + "…" + name[len(name) - (room - head - 1):]

    labels = {name: shorten(name, width) for name in names}
    for attempt in range(3):
        groups: dict[str, list[str]] = {}
        for name, label in labels.items():
            groups.setdefault(label, []).append(name)
        clashes = [group for group in groups.values() if len(group) > 1]
        if not clashes:
            break
        for group in clashes:
            if attempt == 0:  # keep what differs: the part after what they share
                shared = len(os.path.commonprefix(group))
                for name in group:
                    labels[name] = "…" + shorten(name[shared - 3:], width - 1) if shared > 3 else shorten(name, width)
            elif attempt == 1:
                for name in group:
                    labels[name] = "…" + name[-(width - 1):]
            else:
                for number, name in enumerate(group, 1):
                    suffix = f" #{number}"
                    labels[name] = shorten(name, width - len(suffix)) + suffix
    return labels


def _short_number(value: float) -> str:
    """`1.5k`, `2M`, `0.2`: an axis or bar label.

    >>> [_short_number(value) for value in (0, 0.25, 500, 1500, 10_000, 2_000_000)]
    ['0', '0.25', '500', '1.5k', '10k', '2M']
    """
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= limit:
            return f"{value / limit:.1f}".removesuffix(".0") + suffix
    return f"{value:g}"


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


def _section_json(section: SectionResult) -> dict[str, Any]:
    return {
        "control": section.section.control, "title": section.section.title, "requirement": section.section.requirement,
        "checked": section.section.checked, "status": section.status, "review": _review_json(section),
        "checks": [{"query": result.name, "title": result.check.title, "source": result.source, "status": result.status,
                    "rows": result.table.num_rows, "flagged": result.flagged, "accepted": result.accepted,
                    "attention_rule": result.check.attention_where or result.check.attention, "parameters": result.values,
                    "sql": result.sql, "result": render._rows(result.table)} for result in section.checks],
    }


def _review_json(section: SectionResult) -> dict[str, Any] | None:
    """The section's review state and every review of it (without the row digests: the lake's `reviews` view has them)."""
    state = section.review
    if state is None:
        return None
    return {"state": state.state, "uncovered_rows": state.uncovered, "accepted_by": state.accepted_by.id if state.accepted_by else None,
            "reviews": [{key: value for key, value in dataclasses.asdict(item).items() if key != "evidence"} for item in state.reviews]}


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
                            "flagged": result.flagged, "file": target.name, "accepted": result.accepted,
                            "review": section.review.state if section.review else ""})
    target = per_section / "summary.csv"
    buffer = io.BytesIO()
    render.write_csv(pa.Table.from_pylist(summary), buffer)
    target.write_bytes(buffer.getvalue())
    return [target, *written]


WRITERS: dict[str, Callable[[Report, Path], list[Path]]] = {
    "html": _write_html, "md": _write_markdown, "json": _write_json, "csv": _write_csv,
}
