"""Least privilege as text: the grants of `auditlake rbac unused`, one subject at a time, and their JSON.

Owns: `unused_text` (per subject a summary line, then one line per grant: status, sensitive, rule, scope, binding →
role, and why an unknown grant is unknown) and `unused_json`. Every value from the lake reaches text through
`escape.terminal_text`. Runs no SQL; knows no terminal.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from typing import Any

from auditlake.rbac import Grant, UnusedGrants
from auditlake.render.escape import terminal_text


def unused_text(result: UnusedGrants, statuses: tuple[str, ...] = ("unused", "unknown")) -> str:
    """The grants of `statuses`, grouped by cluster and subject (sensitive unused grants first), as plain lines."""
    lines: list[str] = []
    chosen = [grant for grant in result.grants if grant.status in statuses]
    for (cluster, subject), group in itertools.groupby(chosen, key=lambda grant: (grant.cluster, grant.subject)):
        grants = list(group)
        everything = [grant for grant in result.grants if (grant.cluster, grant.subject) == (cluster, subject)]
        lines.append(terminal_text(f"{subject} ({grants[0].subject_kind or 'binding subjects unknown'}, cluster {cluster}): "
                                   f"{_counts(everything)}"))
        lines += ["  " + _grant_line(grant) for grant in grants]
        lines.append("")
    return "\n".join(lines)


def _counts(grants: list[Grant]) -> str:
    unused = [grant for grant in grants if grant.status == "unused"]
    sensitive = sum(1 for grant in unused if grant.sensitive)
    parts = [f"{len(unused)} unused" + (f" ({sensitive} sensitive)" if sensitive else ""),
             f"{sum(1 for grant in grants if grant.status == 'unknown')} unknown", f"{sum(1 for grant in grants if grant.status == 'used')} used"]
    return ", ".join(parts)


def _grant_line(grant: Grant) -> str:
    flag = "sensitive" if grant.sensitive else ""
    where = "cluster-wide" if grant.scope == "cluster-wide" else f"in {grant.scope}"
    line = f"{grant.status.upper():<8}{flag:<10} {grant.rule} {where}, via {grant.binding} → {grant.role}"
    if grant.status == "unknown":
        line += f": {grant.reason}"
    elif grant.status == "used":
        line += f" (used {grant.uses:,}×: {grant.used_for})"
    source = "; ".join(item for item in (f"role {grant.role_source}" if grant.role_source else "",
                                         f"binding {grant.binding_source}" if grant.binding_source else "") if item)
    return terminal_text(line + (f" [{source}]" if source else ""))


def unused_json(result: UnusedGrants, statuses: tuple[str, ...] = ("unused", "unknown", "used")) -> str:
    """The window, the subject asked about, and every grant of `statuses` with all its fields."""
    document: dict[str, Any] = {"since": result.since.isoformat(), "until": result.until.isoformat(), "cluster": result.cluster,
                                "subject": result.subject,
                                "grants": [dataclasses.asdict(grant) for grant in result.grants if grant.status in statuses]}
    return json.dumps(document, indent=1, ensure_ascii=False) + "\n"
