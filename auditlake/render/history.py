"""A change history as documents: Markdown and JSON, a self-contained HTML page, and the lines a terminal shows.

Owns: the header line of a change (`history_header`) or of a run of bodiless writes (`run_header`,
`run_span`), each timeline's title (it names its cluster), `history_markdown`/`history_json`/
`history_html` for `auditlake history`, `changes_markdown`/`changes_json`/`changes_rows` for
`auditlake changes`, and `terminal_items` (what the CLI prints, without knowing a terminal). The
timeline itself (clusters, runs, diffs) comes from `auditlake.history`; this module only lays it out.
Data goes through `render.escape` in Markdown and through autoescape (`render.pages`) in HTML.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from auditlake.history import BodilessRun, by_cluster, collapse_runs, object_label
from auditlake.render.escape import markdown_fence, markdown_text
from auditlake.render.pages import diff_kind, render_page

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


def history_html(title: str, entries: list[Any], diff: Callable[[Any], list[str]]) -> str:
    """A self-contained page (no scripts, no external assets): opens from an e-mail attachment. One
    titled section per cluster; a run of bodiless writes is one heading ("74 × update, no body")."""
    timelines = []
    for cluster, timeline in _timelines(entries):
        items: list[dict[str, Any]] = []
        for item in collapse_runs(timeline):
            if isinstance(item, BodilessRun):
                items.append({"when": run_span(item), "summary": item.summary, "header": run_header(item), "diff": []})
            else:
                items.append({"when": f"{item.at:%Y-%m-%d %H:%M:%S} UTC", "summary": item.summary, "header": history_header(item),
                              "diff": [(diff_kind(line), line) for line in diff(item)]})
        timelines.append({"title": history_title(title, cluster) if cluster else title, "count": len(timeline), "items": items})
    return render_page("history.html.j2", title=title, timelines=timelines)


@dataclass(frozen=True)
class TerminalItem:
    """One change (or run of bodiless writes) as a terminal shows it: when, what, the rest of its header, its diff lines by kind."""

    when: str
    summary: str
    detail: str
    diff: list[tuple[str, str]]


def terminal_items(timeline: list[Any], diff: Callable[[Any], list[str]]) -> list[TerminalItem]:
    """A cluster's timeline as the terminal shows it: one item per change or run, each diff line with its `diff_kind`."""
    items = []
    for item in collapse_runs(timeline):
        if isinstance(item, BodilessRun):  # "74 × update, no body": one item, no diff
            when, header, lines = run_span(item), run_header(item), []
        else:
            when, header, lines = f"{item.at:%Y-%m-%d %H:%M:%S} UTC", history_header(item), diff(item)
        items.append(TerminalItem(when, item.summary, header.split("  ", 1)[1], [(diff_kind(line), line) for line in lines]))
    return items


CHANGES_COLUMNS = ("cluster", "object", "when (UTC)", "change", "by", "client")


def changes_rows(groups: list[tuple[tuple[str, str, str | None, str], list[Any]]]) -> list[tuple[str, ...]]:
    """`auditlake changes` as table rows (`CHANGES_COLUMNS`): the object named on its first row, a run of bodiless writes one row."""
    rows: list[tuple[str, ...]] = []
    for (cluster, resource, namespace, name), entries in groups:
        label = object_label(resource, namespace, name)
        for index, item in enumerate(collapse_runs(entries)):
            if isinstance(item, BodilessRun):  # "74 × update, no body", first → last
                when, actors, clients = run_span(item, seconds=False).removesuffix(" UTC"), item.actors, item.clients
            else:
                when, actors, clients = f"{item.at:%Y-%m-%d %H:%M}", [item.actor or ""], [item.client or ""]
            rows.append((cluster if index == 0 else "", label if index == 0 else "", when, item.summary, ", ".join(actors), ", ".join(clients)))
    return rows
