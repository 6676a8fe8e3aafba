"""Granted versus used: what each subject's bindings grant at the end of a window, and which of it the window used.

Owns: `rbac_state` (every Role, ClusterRole and binding as of the end of the window, rebuilt by the change history
from the writes the lake holds: known with the write that showed its body, deleted, or unknown because the last write
was logged without a body), `grants` (each binding's subjects × its role's rules, scoped to the binding's namespace or
cluster-wide, plus the bindings the lake never saw written but the authorizer named when it allowed a request) and
`compare` (each grant used, unused or unknown, with the requests it would have authorised). Never guesses: a grant
whose role or binding body the lake never saw is `unknown`, with the reason, never `unused`. Pure: rows in, rows out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from auditlake import history
from auditlake.rbac.model import Request, Rule, Subject, authorizes, describe, is_sensitive, subject_from_body

ROLE_RESOURCE = {"Role": "roles", "ClusterRole": "clusterroles"}
STATUS_ORDER = {"unused": 0, "unknown": 1, "used": 2}
# kube-apiserver's RBAC authorizer reason (plugin/pkg/auth/authorizer/rbac: `… by RoleBinding "name/namespace" of Role "r" to User "u"`)
AUTHZ_REASON = re.compile(r'RBAC: allowed by (?P<binding_kind>RoleBinding|ClusterRoleBinding) "(?P<binding>[^"/]+)(?:/(?P<namespace>[^"]+))?" '
                          r'of (?P<role_kind>Role|ClusterRole) "(?P<role>[^"]+)" to (?P<subject_kind>User|Group|ServiceAccount) '
                          r'"(?P<subject>[^"/]+)(?:/(?P<subject_namespace>[^"]+))?"')


@dataclass(frozen=True)
class ObjectState:
    """One RBAC object at the end of the window, and the write that says so."""

    cluster: str
    resource: str  # roles, clusterroles, rolebindings, clusterrolebindings
    namespace: str
    name: str
    state: str  # known | deleted | no-body (the last write was logged without a body)
    body: dict[str, Any] | None
    audit_id: str
    at: datetime | None
    level: str
    created_at: datetime | None = None  # when the lake saw it created (after its last deletion), if it did


@dataclass(frozen=True)
class Grant:
    """One rule a subject holds through one binding, within one scope, and whether the window used it.

    `status` is `used` (a request of the window that it authorises), `unused`, or `unknown` (the lake cannot know the
    rule: `reason` says why). `role_source`/`binding_source` cite the write whose body showed the object (audit id, time).
    """

    cluster: str
    subject_kind: str  # User | Group | ServiceAccount ("" when a binding's subjects are unknown)
    subject: str  # the user name requests carry (system:serviceaccount:NS:NAME), or the group
    binding: str  # RoleBinding NS/NAME | ClusterRoleBinding NAME
    role: str  # Role NS/NAME | ClusterRole NAME
    scope: str  # the namespace a RoleBinding grants in, or "cluster-wide"
    rule: str  # the rule in one line (describe), "?" when unknown
    sensitive: bool
    status: str
    uses: int  # requests of the window the rule authorises (allowed ones)
    used_for: str  # a few of them: `get configmaps web/report-config ×12`
    reason: str
    role_source: str
    binding_source: str


def rbac_state(rows: Sequence[dict[str, Any]]) -> dict[tuple[str, str, str, str], ObjectState]:
    """Every RBAC object the rows (of `rbac-objects`, oldest first per object) wrote, as it stood after the last of them."""
    grouped: dict[tuple[str, str, str, str], list[dict[str, Any]]] = {}
    for row in rows:
        if row.get("name"):
            grouped.setdefault((row["cluster"], row["resource"], row.get("namespace") or "", row["name"]), []).append(row)
    states = {}
    for key, object_rows in grouped.items():
        state: ObjectState | None = None
        created: datetime | None = None
        for entry in history.build_timeline(object_rows, keep_noise=True):
            created = entry.at if entry.verb == "create" else None if entry.state_source == "deleted" else created
            if entry.state_source == "deleted":
                state = _state(key, "deleted", None, entry, created)
            elif entry.state_source in ("none", "patch-only") or entry.after is None:
                state = _state(key, "no-body", None, entry, created)
            else:
                state = _state(key, "known", entry.after, entry, created)
        if state is not None:
            states[key] = state
    return states


def _state(key: tuple[str, str, str, str], state: str, body: dict[str, Any] | None, entry: history.HistoryEntry,
           created: datetime | None) -> ObjectState:
    return ObjectState(*key, state=state, body=body, audit_id=entry.audit_id, at=entry.at, level=entry.level or "", created_at=created)


def _source(state: ObjectState) -> str:
    what = {"known": "body", "deleted": "deleted", "no-body": "no body"}[state.state]
    return f"{what}: {state.level or 'Metadata'} write {state.audit_id} at {state.at:%Y-%m-%d %H:%M:%S} UTC" if state.at else what


@dataclass(frozen=True)
class _Held:
    """A rule (or an unknown role) held by one binding subject in one scope, before usage is compared."""

    cluster: str
    subject: Subject | None
    binding: str
    role: str
    scope: str  # namespace, or "" cluster-wide
    rule: Rule | None
    reason: str
    role_source: str
    binding_source: str
    since: datetime | None = None  # the binding or role was created then (in the lake): no earlier request used it


def grants(states: dict[tuple[str, str, str, str], ObjectState], reasons: Iterable[tuple[str, str]] = ()) -> list[_Held]:
    """What every binding grants: one entry per (subject, rule, scope), or per subject when the role's rules are unknown.

    `reasons` are (cluster, authorizer reason) of allowed requests: a binding they name that no write in the lake
    shows (created before the lake began) is a grant too, of its role's rules when the role's body is known.
    """
    held: list[_Held] = []
    for (cluster, resource, namespace, name), binding in sorted(states.items()):
        if resource not in ("rolebindings", "clusterrolebindings") or binding.state == "deleted":
            continue
        label = f"RoleBinding {namespace}/{name}" if resource == "rolebindings" else f"ClusterRoleBinding {name}"
        if binding.state != "known" or not isinstance(binding.body, dict):
            held.append(_Held(cluster, None, label, "?", namespace, None,
                              f"the binding was last written at {binding.level or 'Metadata'} level, without a body: "
                              "its subjects and role are unknown", "", _source(binding)))
            continue
        role_ref = binding.body.get("roleRef") or {}
        subjects = [subject for raw in binding.body.get("subjects") or [] if isinstance(raw, dict)
                    for subject in [subject_from_body(raw, namespace)] if subject is not None]
        held += _held_rules(states, cluster, label, namespace, str(role_ref.get("kind", "")), str(role_ref.get("name", "")),
                            subjects, _source(binding), binding.created_at)
    held += _from_reasons(states, reasons)
    return held


def _held_rules(states: dict[tuple[str, str, str, str], ObjectState], cluster: str, binding: str, namespace: str, role_kind: str,
                role_name: str, subjects: Sequence[Subject], binding_source: str, binding_created: datetime | None = None) -> list[_Held]:
    role_namespace = namespace if role_kind == "Role" else ""
    role_label = f"Role {role_namespace}/{role_name}" if role_kind == "Role" else f"ClusterRole {role_name}"
    role = states.get((cluster, ROLE_RESOURCE.get(role_kind, ""), role_namespace, role_name))
    rules, reason = _rules_of(role, role_label)
    if role is not None and role.state == "deleted":
        return []  # a binding to a deleted role grants nothing
    role_source = _source(role) if role is not None else ""
    since = max((at for at in (binding_created, role.created_at if role is not None else None) if at is not None), default=None)
    if rules is None:
        return [_Held(cluster, subject, binding, role_label, namespace, None, reason, role_source, binding_source, since)
                for subject in subjects]
    return [_Held(cluster, subject, binding, role_label, namespace, rule, "", role_source, binding_source, since)
            for subject in subjects for rule in rules]


def _rules_of(role: ObjectState | None, label: str) -> tuple[list[Rule] | None, str]:
    """The role's rules, or None and why the lake cannot know them."""
    if role is None:
        return None, (f"the lake holds no write to {label}: it was created before the lake began (or is a default role), "
                      "so its rules are unknown")
    if role.state != "known" or not isinstance(role.body, dict):
        return None, f"{label} was last written at {role.level or 'Metadata'} level, without a body: its rules are unknown"
    rules = [Rule.from_body(raw) for raw in role.body.get("rules") or [] if isinstance(raw, dict)]
    if role.body.get("aggregationRule") and not rules:
        return None, f"{label} aggregates other ClusterRoles and no body the lake holds shows the aggregated rules"
    return rules, ""


def _from_reasons(states: dict[tuple[str, str, str, str], ObjectState], reasons: Iterable[tuple[str, str]]) -> list[_Held]:
    held: list[_Held] = []
    seen: set[tuple[str, ...]] = set()
    for cluster, reason in sorted(set(reasons)):
        match = AUTHZ_REASON.search(reason or "")
        if match is None:
            continue
        found = match.groupdict()
        namespace = (found["namespace"] or "") if found["binding_kind"] == "RoleBinding" else ""
        resource = "rolebindings" if found["binding_kind"] == "RoleBinding" else "clusterrolebindings"
        subject = Subject(found["subject_kind"], found["subject"],
                          (found["subject_namespace"] or "") if found["subject_kind"] == "ServiceAccount" else "")
        key = (cluster, resource, namespace, found["binding"], subject.kind, subject.name, subject.namespace)
        if (cluster, resource, namespace, found["binding"]) in states or key in seen:
            continue  # the lake saw the binding written: its body (or its lack of one) decides
        seen.add(key)
        label = f"RoleBinding {namespace}/{found['binding']}" if resource == "rolebindings" else f"ClusterRoleBinding {found['binding']}"
        held += _held_rules(states, cluster, label, namespace, found["role_kind"], found["role"], [subject],
                            "never written in the lake: named by the authorizer when it allowed a request")
    return held


def compare(held: Sequence[_Held], requests: Sequence[dict[str, Any]], subject: str | None = None) -> list[Grant]:
    """Each held rule against the allowed requests of the window (rows of `rbac-requests`): used, unused or unknown.

    A Group's rules are used by any member's requests (the groups each request was made in); requests made before the
    lake saw the binding or its role created cannot have used it. With `subject` (a user
    name), only what that subject holds: its own bindings, its service account's, and those of the groups the window
    saw it in, each used only by its own requests; bindings whose subjects are unknown are kept (they may grant it anything).
    """
    by_subject: dict[tuple[str, str], list[dict[str, Any]]] = {}
    by_group: dict[tuple[str, str], list[dict[str, Any]]] = {}
    groups_of: dict[tuple[str, str], set[str]] = {}
    for row in requests:
        groups_of.setdefault((row["cluster"], row["subject"]), set()).update(row.get("groups") or [])
        if row["denied"] or (subject is not None and row["subject"] != subject):
            continue  # a denied request used no grant
        by_subject.setdefault((row["cluster"], row["subject"]), []).append(row)
        for group in row.get("groups") or []:
            by_group.setdefault((row["cluster"], group), []).append(row)
    result = []
    for item in held:
        if subject is not None and item.subject is not None and not item.subject.covers(subject, groups_of.get((item.cluster, subject), set())):
            continue
        scope = item.scope or "cluster-wide"
        if item.rule is None or item.subject is None:
            result.append(_grant(item, scope, "unknown", 0, ""))
            continue
        is_group = item.subject.kind == "Group"
        rows = by_group.get((item.cluster, item.subject.name), []) if is_group else by_subject.get((item.cluster, item.subject.username), [])
        uses: dict[str, int] = {}
        for row in rows:
            if item.since is not None and row.get("last_at") is not None and row["last_at"] < item.since:
                continue  # made before the binding or its role existed: it cannot have used them
            request = request_of(row)
            if item.scope and request.namespace != item.scope:
                continue  # a RoleBinding grants in its own namespace only
            if authorizes(item.rule, request):
                text = request.text() + (f" by {row['subject']}" if is_group else "")
                uses[text] = uses.get(text, 0) + int(row["requests"])
        total = sum(uses.values())
        shown = "; ".join(f"{text} ×{count:,}" for text, count in sorted(uses.items(), key=lambda pair: (-pair[1], pair[0]))[:3])
        result.append(_grant(item, scope, "used" if total else "unused", total, shown + (" …" if len(uses) > 3 else "")))
    return sorted(result, key=lambda grant: (grant.cluster, grant.subject, STATUS_ORDER[grant.status], not grant.sensitive,
                                             grant.binding, grant.role, grant.rule))


def _grant(item: _Held, scope: str, status: str, uses: int, used_for: str) -> Grant:
    subject = item.subject
    return Grant(item.cluster, subject.kind if subject else "", subject.username if subject else "(unknown)", item.binding, item.role,
                 scope, describe(item.rule) if item.rule is not None else "?",
                 is_sensitive(item.rule) if item.rule is not None else False, status, uses, used_for, item.reason, item.role_source,
                 item.binding_source)


NAMELESS_VERBS = frozenset({"create", "deletecollection"})  # the authorizer sees no name for these (resourceNames cannot restrict them)


def request_of(row: dict[str, Any]) -> Request:
    """The authorizer's attributes of a row of `rbac-requests`.

    A create's audit event names the object it made (objectRef.name, from the body), but the authorizer decided before
    the name was known: RBAC `resourceNames` cannot restrict create or deletecollection, so neither carries a name here.
    """
    verb = row["verb"]
    name = "" if verb in NAMELESS_VERBS and not row.get("subresource") else row.get("name") or ""
    return Request(verb, row.get("api_group") or "", row.get("resource") or "", row.get("subresource") or "",
                   row.get("namespace") or "", name, row.get("path") or "")
