"""Review evidence (PCI-DSS 10.4.1): who reviewed which report section or finding, when, why, and whether they accepted it.

Owns: what a review is (`Review`), naming what is reviewed (`resolve_target`: `pci-dss:10.2.1.3`, `10.2.1.3`
when one pack has that control, or a finding `QUERY:AUDIT_ID`), the evidence an acceptance covers (a digest
of every result row that needed attention, per check), a review as the JSON document the lake keeps, and
the state of an item given its reviews (`item_state`). Pure logic: it runs no SQL and writes nothing
(`store.findings.write_review` commits a review; `reports/build.py` applies the reviews to a report).

An acceptance covers evidence, not a name: a section stays accepted while every row that needs attention
is one an acceptance covered. A new or changed row (its digest differs) needs attention again, and the
report says the acceptance lapsed. A finding's evidence is its key (query and audit_id), which never
changes. A review without `accept` withdraws the acceptances before it.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from auditlake.errors import QueryError
from auditlake.library.savedquery import normalise_name
from auditlake.library.suggest import close_matches

NO_ROWS = "(no rows)"  # the evidence of a check that needs attention because it found nothing (`attention: no rows`)
DIGEST_CHARACTERS = 16  # of a row's sha256: 64 bits, no accidental collision among a report's rows


@dataclass(frozen=True)
class Target:
    """What a review is about: a report section (`pack`, `control`) or a finding (`query`, `audit_id`)."""

    kind: str  # section | finding
    pack: str | None = None
    control: str | None = None
    query: str | None = None
    audit_id: str | None = None

    @property
    def name(self) -> str:
        """`pci-dss:10.2.1.3` or `privileged-pod:2f4c…`: how the report and the `reviews` view name it."""
        return f"{self.pack}:{self.control}" if self.kind == "section" else f"{self.query}:{self.audit_id}"


@dataclass(frozen=True)
class Review:
    """One review, as the lake keeps it (`reviews/<id>.json`, the `reviews` view)."""

    id: str
    reviewed_at: datetime
    reviewer: str
    note: str
    accepted: bool
    kind: str  # section | finding
    target: str  # Target.name
    pack: str | None
    control: str | None
    query: str | None
    audit_id: str | None
    since: datetime | None  # the window whose rows were reviewed (sections)
    until: datetime | None
    cluster: str | None
    rows: int  # rows that needed attention when it was reviewed
    digest: str  # of the evidence: what an auditor compares
    evidence: tuple[tuple[str, tuple[str, ...]], ...]  # per check: the digests of its rows that needed attention
    auditlake_version: str

    def covered(self) -> dict[str, frozenset[str]]:
        return {check: frozenset(rows) for check, rows in self.evidence}


@dataclass(frozen=True)
class ItemState:
    """An item's reviews applied to what a report found now."""

    reviews: tuple[Review, ...]  # newest first
    state: str  # accepted | lapsed | reviewed | unreviewed
    accepted_by: Review | None  # the latest acceptance still in force (accepted, lapsed)
    covered: dict[str, frozenset[str]]  # per check, the row digests the acceptances in force cover
    uncovered: int  # rows needing attention now that no acceptance covers (lapsed)

    @property
    def latest(self) -> Review | None:
        return self.reviews[0] if self.reviews else None


# ---- naming what is reviewed --------------------------------------------------------------------
def resolve_target(text: str, sections: Mapping[str, Iterable[str]], query_names: Iterable[str],
                   repeated: Mapping[str, Iterable[str]] | None = None) -> Target:
    """The section or finding `text` names, or a one-line error with the likely name.

    `sections` maps each pack to its controls; `query_names` are the saved queries (a finding is
    `QUERY:AUDIT_ID`, a row of that query or a finding `detect --write` kept). `repeated` maps a pack to
    its controls repeated per subject (`each: subject`): `PACK:CONTROL/SUBJECT` names one of those sections.

    >>> resolve_target("pci-dss:10.2.1.3", {"pci-dss": ["10.2.1.3"]}, []).name
    'pci-dss:10.2.1.3'
    >>> resolve_target("10.2.1.3", {"pci-dss": ["10.2.1.3"], "hipaa": ["164.312(b)"]}, []).pack
    'pci-dss'
    >>> resolve_target("privileged-pod:2f4c", {}, ["privileged-pod"]).kind
    'finding'
    """
    text = text.strip()
    repeated = repeated or {}
    controls = {pack: list(items) for pack, items in sections.items()}
    names = set(query_names)
    head, separator, tail = text.partition(":")
    if separator and head in controls:
        if tail in controls[head] or any(tail.startswith(f"{control}/") and tail != f"{control}/" for control in repeated.get(head, ())):
            return Target("section", pack=head, control=tail)
        close = close_matches(tail, controls[head], n=3, cutoff=0.5)
        raise QueryError(f"pack {head} has no section {tail!r}", hint=_did_you_mean([f"{head}:{c}" for c in close])
                         or f"its sections: {', '.join(controls[head])}")
    if separator and normalise_name(head) in names:
        if not tail.strip():
            raise QueryError(f"{text!r} names no finding: give QUERY:AUDIT_ID", hint="the audit_id is in the report's row or `detect`'s output")
        return Target("finding", query=normalise_name(head), audit_id=tail.strip())
    owners = [pack for pack, items in controls.items() if text in items]
    if len(owners) == 1:
        return Target("section", pack=owners[0], control=text)
    if owners:
        raise QueryError(f"section {text!r} is in more than one pack", hint="name one: " + ", ".join(f"{pack}:{text}" for pack in owners))
    every = [f"{pack}:{control}" for pack, items in controls.items() for control in items]
    candidates = every + [control for items in controls.values() for control in items] + [f"{name}:" for name in sorted(names)]
    close = close_matches(text, candidates, n=3, cutoff=0.6)
    if separator and not close:
        close = [f"{name}:{tail}" for name in close_matches(normalise_name(head), sorted(names), n=2)]
        close += [f"{pack}:{tail}" for pack in close_matches(head, sorted(controls), n=2)]
    raise QueryError(f"no report section or finding named {text!r}",
                     hint=_did_you_mean(close) or "a section is PACK:CONTROL (e.g. pci-dss:10.2.1.3), a finding QUERY:AUDIT_ID")


def unknown_finding(target: Target, known: list[str]) -> QueryError:
    """The error for a finding whose audit_id the lake does not hold (`known`: the audit_ids of that query's kept findings)."""
    close = close_matches(target.audit_id or "", known, n=3, cutoff=0.6)
    return QueryError(f"no finding {target.name!r}: no event with audit_id {target.audit_id!r} in the lake",
                      hint=_did_you_mean([f"{target.query}:{item}" for item in close])
                      or f"copy the audit_id from the report's {target.query} table (or `auditlake detect`)")


def _did_you_mean(names: list[str]) -> str:
    return f"did you mean {', '.join(names)}?" if names else ""


# ---- evidence -----------------------------------------------------------------------------------
def row_digest(row: Mapping[str, Any]) -> str:
    """A result row's identity: its columns and values, in a canonical JSON, hashed.

    >>> row_digest({"b": 1, "a": "x"}) == row_digest({"a": "x", "b": 1})
    True
    >>> len(row_digest({}))
    16
    """
    text = json.dumps(dict(row), sort_keys=True, default=str, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:DIGEST_CHARACTERS]


def evidence_digest(evidence: Mapping[str, Iterable[str]]) -> str:
    """One digest of everything an acceptance covers (per check, its row digests), to quote in a report.

    >>> evidence_digest({"q": ["b", "a"]}) == evidence_digest({"q": ["a", "b"]})
    True
    """
    text = "\n".join(f"{check}:{row}" for check in sorted(evidence) for row in sorted(set(evidence[check])))
    return hashlib.sha256(text.encode()).hexdigest()[:DIGEST_CHARACTERS]


def require_reviewer(reviewer: str, note: str) -> tuple[str, str]:
    """The reviewer's name (spaces collapsed) and the note (trimmed); a QueryError when either is empty.

    >>> require_reviewer("  Alice   Smith ", " ticket OPS-1 ")
    ('Alice Smith', 'ticket OPS-1')
    """
    reviewer, note = " ".join(reviewer.split()), note.strip()
    if not reviewer:
        raise QueryError("a review needs the reviewer's name (--by NAME)")
    if not note:
        raise QueryError("a review needs a note saying why (--note TEXT)", hint='e.g. --note "on-call SRE, ticket OPS-123"')
    return reviewer, note


def new_review(target: Target, *, reviewer: str, note: str, accepted: bool, evidence: Mapping[str, Iterable[str]],
               since: datetime | None = None, until: datetime | None = None, cluster: str | None = None,
               now: datetime | None = None, version: str = "") -> Review:
    """A review of `target` by `reviewer`, covering `evidence` (per check, the digests of its rows that need attention).

    A finding's evidence is its key. Raises QueryError for a reviewer or note that is empty.
    """
    reviewer, note = require_reviewer(reviewer, note)
    now = (now or datetime.now(UTC)).astimezone(UTC)
    if target.kind == "finding":
        evidence = {target.query or "": [target.name]}
    rows = {check: tuple(sorted(set(items))) for check, items in sorted(evidence.items())}
    return Review(
        id=f"{now:%Y%m%dT%H%M%S}-{secrets.token_hex(3)}", reviewed_at=now, reviewer=reviewer, note=note, accepted=accepted,
        kind=target.kind, target=target.name, pack=target.pack, control=target.control, query=target.query,
        audit_id=target.audit_id, since=since, until=until, cluster=cluster, rows=sum(len(items) for items in rows.values()),
        digest=evidence_digest(rows), evidence=tuple(rows.items()), auditlake_version=version,
    )


# ---- the document the lake keeps ------------------------------------------------------------------
def to_json(review: Review) -> bytes:
    """The review as one JSON line (`reviews/<id>.json`): what the manifest commits and the `reviews` view reads."""
    document = {
        "id": review.id, "reviewed_at": _time_text(review.reviewed_at), "reviewer": review.reviewer, "note": review.note,
        "accepted": review.accepted, "kind": review.kind, "target": review.target, "pack": review.pack, "control": review.control,
        "query": review.query, "audit_id": review.audit_id, "since": _time_text(review.since), "until": _time_text(review.until),
        "cluster": review.cluster, "rows": review.rows, "digest": review.digest,
        "evidence": {check: list(rows) for check, rows in review.evidence}, "auditlake_version": review.auditlake_version,
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def from_row(row: Mapping[str, Any]) -> Review:
    """A review from a row of the `reviews` view (or a parsed `reviews/<id>.json`)."""
    evidence = row.get("evidence") or {}
    if isinstance(evidence, str):
        evidence = json.loads(evidence)
    return Review(
        id=str(row["id"]), reviewed_at=_time(row["reviewed_at"]) or datetime.min.replace(tzinfo=UTC), reviewer=str(row["reviewer"]),
        note=str(row["note"]), accepted=bool(row["accepted"]), kind=str(row["kind"]), target=str(row["target"]), pack=row.get("pack"),
        control=row.get("control"), query=row.get("query"), audit_id=row.get("audit_id"), since=_time(row.get("since")),
        until=_time(row.get("until")), cluster=row.get("cluster"), rows=int(row.get("rows") or 0), digest=str(row.get("digest") or ""),
        evidence=tuple((str(check), tuple(items)) for check, items in sorted(evidence.items())),
        auditlake_version=str(row.get("auditlake_version") or ""),
    )


def _time_text(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def _time(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value.astimezone(UTC) if value is not None else None
    return datetime.fromisoformat(str(value)).astimezone(UTC)


# ---- an item's state ------------------------------------------------------------------------------
def item_state(reviews: Iterable[Review], needing_attention: Mapping[str, Iterable[str]]) -> ItemState:
    """The state of one item given all its reviews and the rows that need attention now (per check, their digests).

    The acceptances in force are those since the item's last review without `accept`; together they cover
    their rows. `accepted`: the latest review accepted and every row needing attention is covered;
    `lapsed`: a row is not (new or changed evidence); `reviewed`: the latest review did not accept.
    """
    ordered = sorted(reviews, key=lambda review: (review.reviewed_at, review.id))
    if not ordered:
        return ItemState((), "unreviewed", None, {}, 0)
    in_force: list[Review] = []
    for review in ordered:
        in_force = [*in_force, review] if review.accepted else []
    newest_first = tuple(reversed(ordered))
    if not in_force:
        return ItemState(newest_first, "reviewed", None, {}, 0)
    covered: dict[str, frozenset[str]] = {}
    for review in in_force:
        for check, rows in review.covered().items():
            covered[check] = covered.get(check, frozenset()) | rows
    uncovered = sum(1 for check, rows in needing_attention.items() for row in set(rows) if row not in covered.get(check, frozenset()))
    return ItemState(newest_first, "lapsed" if uncovered else "accepted", in_force[-1], covered, uncovered)
