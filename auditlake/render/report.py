"""A `Report` as documents: one self-contained HTML page, Markdown, and CSV/JSON per check for GRC tools.

Owns: the layout of a compliance report (templates/report.html.j2 for the page, with its charts from
`render.charts` and values from `render.text`), each section's result and review state as sentences,
and the files `write` puts under `--out`. Runs no SQL; every number comes from the `Report` that
`reports/build.py` built. Text from the lake (cells, names, summaries, diffs, reviewers and notes)
reaches a document only through one escaping: autoescape in HTML, `render.escape`'s `markdown_*`
helpers in Markdown (the `<details>` block there escapes its two names with `html.escape`) and
`render.formats.write_csv` in CSV; the pack's own prose (titles, requirements) is written as is.
"""

from __future__ import annotations

import dataclasses
import html
import io
import json
import re
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from auditlake import history
from auditlake.render.charts import bar_chart
from auditlake.render.escape import markdown_code, markdown_fence, markdown_text
from auditlake.render.formats import Format, json_default, json_rows, write_csv
from auditlake.render.history import history_header
from auditlake.render.pages import diff_kind, render_page
from auditlake.render.text import cell_text, duration_unit, format_duration, shown_value
from auditlake.reports import review

if TYPE_CHECKING:  # only the types: a Report arrives built, and render never reaches back into what built it
    from auditlake.reports.build import CheckResult, Report, SectionResult

FORMATS = (Format.HTML, Format.MARKDOWN, Format.CSV, Format.JSON)  # what `auditlake report --format` takes (`md` too)
STATUS_LABEL = {"attention": "needs attention", "pass": "pass", "accepted": "accepted in review", "evidence": "evidence"}
STATUS_ICON = {"attention": "⚠", "pass": "✓", "accepted": "✓", "evidence": "•"}
GAPS_SHOWN = 10  # coverage gaps listed in the evidence block (the longest; every gap is in the JSON)


def write(report: Report, out_dir: Path, formats: tuple[str, ...]) -> list[Path]:
    """Write the report in each format (`html`, `markdown` or `md`, `csv`, `json`) under `out_dir`, named by `report.stem`; the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for kind in formats:
        written += WRITERS[Format(kind)](report, out_dir)
    return written


# ---- shared helpers -----------------------------------------------------------------------------
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
            f"{cell_text(shown_value(by, total))} in all.")


def _file_slug(section_control: str, result: CheckResult) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "_", section_control).strip("_") + "--" + result.name


def _window(report: Report) -> str:
    evidence = report.evidence
    return f"{evidence.since:%Y-%m-%d %H:%M} → {evidence.until:%Y-%m-%d %H:%M} UTC"


def _values_text(values: dict[str, Any]) -> str:
    return ", ".join(f"{key} = {cell_text(value) if value is not None else 'NULL'}" for key, value in values.items())


def _md(value: Any) -> str:
    """A value as Markdown text (`cell_text`, then `markdown_text`): one line that renders as written."""
    return markdown_text(cell_text(value))


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
                lines += [f"- **{entry.at:%Y-%m-%d %H:%M:%S} UTC** — {_md(entry.summary)}  ", f"  {_md(history_header(entry))}"]
                diff = history.unified_diff(entry)
                if diff:
                    lines += ["", *("  " + line for line in markdown_fence(diff, "diff"))]
            lines.append("")
    else:
        columns, rows = _shown(result)
        if rows:
            if _top_sentence(result):
                lines += [_top_sentence(result), ""]
            marked = bool(result.accepted_rows)
            lines += ["| " + " | ".join([*(["review"] if marked else []), *(_md(c) for c in columns)]) + " |",
                      "|" + "---|" * (len(columns) + marked)]
            lines += ["| " + " | ".join([*([_row_review(result, row)] if marked else []), *(_md(shown_value(c, row[c])) for c in columns)]) + " |"
                      for row in rows]
            if result.table.num_rows > len(rows) and not _top_sentence(result):
                lines.append(f"\n…and {result.table.num_rows - len(rows):,} more row(s) in the CSV/JSON.")
            lines.append("")
    lines += [f"<details><summary>Query <code>{html.escape(result.name)}</code> ({html.escape(result.source)})</summary>", "",
              f"Parameters: {markdown_text(_values_text(result.values))}", "",
              *markdown_fence(result.sql.split("\n"), "sql"), "", "</details>", ""]
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
             f"- Pack: {markdown_code(evidence.pack_file)} sha256 {markdown_code(evidence.pack_sha256)}",
             f"- Parameters: {_md(_values_text(evidence.params) or 'defaults')}",
             f"- auditlake {_md(evidence.auditlake_version)}; lake {markdown_code(evidence.lake)}",
             f"- Re-run: {markdown_code(evidence.command)}",
             f"- Integrity: {_integrity_sentence(evidence.integrity, markdown_code)}", "",
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
    lines += [f"| {_md(s['cluster'])} | {markdown_code(s['file'], in_table=True)} | {s['lines']:,} | {s['events']:,} "
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


# ---- HTML (templates/report.html.j2) ------------------------------------------------------------
def html_page(report: Report) -> str:
    """One self-contained page: inline CSS and SVG, no scripts, nothing fetched."""
    evidence = report.evidence
    return render_page("report.html.j2", report=report, evidence=evidence, window=_window(report), labels=STATUS_LABEL, icons=STATUS_ICON,
                       clusters=", ".join(row["cluster"] for row in evidence.clusters) or "none in the window",
                       sections=[_html_section(section) for section in report.sections], evidence_block=_html_evidence(report))


def _html_section(section: SectionResult) -> dict[str, Any]:
    summary, who = _review_summary(section), _review_people(section)
    review_block = None
    if summary is not None and who is not None and section.review is not None:
        state, sentence = summary
        review_block = {"state": section.review.state, "label": state, "sentence": re.split(r"(\{by\}|\{note\})", sentence), "who": who,
                        "earlier": [{"when": _when(item), "item": item} for item in section.review.reviews if item is not who]}
    return {"section": section, "review_cell": _review_cell(section), "review": review_block,
            "checks": [_html_check(result) for result in section.checks]}


def _html_check(result: CheckResult) -> dict[str, Any]:
    check: dict[str, Any] = {"result": result, "sentence": re.split(r"\*\*(.+?)\*\*", _count_sentence(result)), "values": _values_text(result.values),
                             "chart": bar_chart(result.table, result.check.chart) if result.check.chart and result.table.num_rows else "",
                             "changes": None, "columns": [], "rows": [], "top": "", "more": 0, "marked": False}
    if result.changes is not None:
        check["changes"] = [{"label": history.object_label(resource, namespace, name), "cluster": cluster, "entries": [
            {"at": f"{entry.at:%Y-%m-%d %H:%M:%S} UTC", "summary": entry.summary, "header": history_header(entry),
             "diff": [(diff_kind(line), line) for line in history.unified_diff(entry)]} for entry in entries]}
            for (cluster, resource, namespace, name), entries in result.changes[: result.check.limit]]
        return check
    columns, rows = _shown(result)
    check.update(columns=columns, top=_top_sentence(result), marked=bool(result.accepted_rows),
                 rows=[{"review": _row_review(result, row), "cells": [_html_cell(column, row[column]) for column in columns]} for row in rows])
    if result.table.num_rows > len(rows) and not check["top"]:
        check["more"] = result.table.num_rows - len(rows)
    return check


def _html_cell(column: str, value: Any) -> tuple[str, str]:
    """A cell's class (`num` and `time` stay on one line) and text."""
    text = cell_text(shown_value(column, value))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return "num", text
    return ("time" if isinstance(value, (date, datetime)) else ""), text


def _html_evidence(report: Report) -> dict[str, Any]:
    evidence = report.evidence
    summary = evidence.gap_summary()
    return {
        "clusters": [{**row, "first_at": cell_text(row["first_at"]), "last_at": cell_text(row["last_at"])} for row in evidence.clusters],
        "gaps_sentence": _gaps_sentence(report),
        "per_cluster": [{"cluster": row["cluster"], "gaps": row["gaps"], "total": _minutes(row["total_minutes"]),
                         "longest": _minutes(row["longest_minutes"])} for row in summary]
        if len(summary) > 1 or len(evidence.gaps) > GAPS_SHOWN else [],
        "longest": len(evidence.gaps) > GAPS_SHOWN, "shown": GAPS_SHOWN, "gap_count": len(evidence.gaps),
        "gaps": [{"cluster": gap["cluster"], "start": cell_text(gap["gap_start"]), "end": cell_text(gap["gap_end"]),
                  "silence": _minutes(gap["silence_minutes"])} for gap in _gaps_shown(report)],
        "params": _values_text(evidence.params) or "defaults",
        "integrity": _integrity_sentence(evidence.integrity, lambda text: text),
    }


def _integrity_sentence(integrity: dict[str, Any], code: Any) -> str:
    """The lake's verification at generation time, in one sentence an auditor can act on."""
    if not integrity:
        return "not checked"
    signers = [signer for signer in integrity["signers"] if signer != "unsigned"]
    signed = f"signed by key {', '.join(code(signer) for signer in signers)}" if signers else "unsigned (a hash chain without signatures)"
    count = f"{integrity['digests']:,} digest{'' if integrity['digests'] == 1 else 's'}"
    chain = (f"digest chain head {code(integrity['head'])} (sha256 {code(integrity['head_sha256'])}), {count}, {signed}"
             if integrity["head"] else "no digest chain yet")
    verdict = ("VERIFIED at generation time: every file the chain lists is present and unaltered"
               if integrity["verified"] else f"FAILED verification at generation time: {integrity['problems']:,} problem(s), first: "
               f"{integrity['first_problems'][0]}")
    key = " (KEY.pub: the signer's public key, given out of band)" if signers else ""
    return f"{verdict}; {chain}. Re-check with {code(integrity['command'])}{key}."


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
            "sources": evidence.sources, "files": evidence.files, "integrity": evidence.integrity,
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
                    "sql": result.sql, "result": json_rows(result.table)} for result in section.checks],
    }


def _review_json(section: SectionResult) -> dict[str, Any] | None:
    """The section's review state and every review of it (without the row digests: the lake's `reviews` view has them)."""
    state = section.review
    if state is None:
        return None
    return {"state": state.state, "uncovered_rows": state.uncovered, "accepted_by": state.accepted_by.id if state.accepted_by else None,
            "reviews": [{key: value for key, value in dataclasses.asdict(item).items() if key != "evidence"} for item in state.reviews]}


def _dump(value: Any) -> str:
    return json.dumps(value, indent=1, ensure_ascii=False, default=json_default) + "\n"


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
    import pyarrow as pa

    per_section = out_dir / report.stem
    per_section.mkdir(exist_ok=True)
    written = []
    summary = []
    for section in report.sections:
        for result in section.checks:
            target = per_section / f"{_file_slug(section.section.control, result)}.csv"
            buffer = io.BytesIO()
            write_csv(result.table, buffer)
            target.write_bytes(buffer.getvalue())
            written.append(target)
            summary.append({"control": section.section.control, "section": section.section.title, "section_status": section.status,
                            "query": result.name, "check_status": result.status, "rows": result.table.num_rows,
                            "flagged": result.flagged, "file": target.name, "accepted": result.accepted,
                            "review": section.review.state if section.review else ""})
    target = per_section / "summary.csv"
    buffer = io.BytesIO()
    write_csv(pa.Table.from_pylist(summary), buffer)
    target.write_bytes(buffer.getvalue())
    return [target, *written]


WRITERS: dict[Format, Callable[[Report, Path], list[Path]]] = {
    Format.HTML: _write_html, Format.MARKDOWN: _write_markdown, Format.JSON: _write_json, Format.CSV: _write_csv,
}
