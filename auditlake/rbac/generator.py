"""The RBAC a subject needs, written from what it did: audit2rbac's generator, over the request shapes a lake holds.

Owns: `suggest` (a subject's requests → the Roles, ClusterRole and bindings that cover them, each rule with the
requests it covers) and `to_yaml` (that suggestion as RBAC YAML `kubectl apply` takes, in a fixed order, each object
preceded by comments saying which requests each rule covers). Pure: the Lake reads the requests (`rbac-requests`).

It follows liggitt/audit2rbac (pkg/process.go, pkg/util.go, cmd/audit2rbac): requests are sorted broadest first
(non-resource, cluster-scoped, unnamed, list before get); a request the generated rules (or `system:discovery`)
already allow adds nothing; one request shape seen in several namespaces becomes cluster-wide and one seen on
several objects loses its resourceNames (both switchable); each verb is widened as audit2rbac's `VerbExpansions`
do (list/watch → get, list, watch; update/patch → get, update, patch; switchable); the rules are broken down per
group/resource/verb and compacted again. A Role + RoleBinding per namespace, one ClusterRole + ClusterRoleBinding for
cluster-wide and non-resource needs. Departures, each deliberate: a create or deletecollection names no object
(the authorizer sees none; audit2rbac copies the created object's name into resourceNames, where it never matches);
a non-resource rule names the path without its query string (audit2rbac copies `/healthz?verbose` into the rule,
which then never matches); shapes are compared without the API version (v1beta1 and v1 of one resource are one
need); the discovery role is today's `system:discovery` and `system:public-info-viewer` paths, not 2017's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import yaml

from auditlake.rbac.model import RBAC_GROUP, Request, Rule, Subject, authorizes, describe

# audit2rbac's DefaultGenerateOptions().VerbExpansions
VERB_EXPANSIONS = {"watch": ("get", "list"), "list": ("get", "watch"), "update": ("get", "patch"), "patch": ("get", "update")}
# What every authenticated user may already `get` (ClusterRoles system:discovery and system:public-info-viewer): no rule needed.
DISCOVERY_URLS = Rule.of(verbs=["get"], non_resource_urls=["/api", "/api/*", "/apis", "/apis/*", "/openapi", "/openapi/*", "/version",
                                                           "/version/", "/healthz", "/livez", "/readyz", "/swagger*"])
LABEL_GENERATED = "auditlake/generated"
LABEL_SUBJECT = "auditlake/subject"


@dataclass(frozen=True)
class Observed:
    """One request shape of the subject: how many requests, how many of them were denied, and when."""

    request: Request
    requests: int
    denied: int = 0
    first_at: datetime | None = None
    last_at: datetime | None = None
    first_audit_id: str = ""

    def text(self) -> str:
        """`list pods in ns1 ×2 (denied ×1)`."""
        return f"{self.request.text()} ×{self.requests:,}" + (f" (denied ×{self.denied:,})" if self.denied else "")


@dataclass(frozen=True)
class SuggestOptions:
    """audit2rbac's switches: each widens the rules beyond the exact requests (all on by default, as there)."""

    expand_verbs: bool = True  # list → get/list/watch, update → get/update/patch, …
    expand_names: bool = True  # one shape on several objects: every object (no resourceNames)
    expand_namespaces: bool = True  # one shape in several namespaces: cluster-wide
    include_denied: bool = True  # denied requests are needs too (why a role is being written)
    name: str = ""  # the objects' name (default auditlake:<subject>)


@dataclass(frozen=True)
class SuggestedRule:
    rule: Rule
    covers: tuple[Observed, ...]  # the request shapes this rule is the first to allow


@dataclass(frozen=True)
class SuggestedRole:
    """A Role (in `namespace`) or the ClusterRole (namespace ""), bound to the subject by a binding of the same name."""

    kind: str  # Role | ClusterRole
    name: str
    namespace: str
    rules: tuple[SuggestedRule, ...]

    @property
    def binding_kind(self) -> str:
        return "RoleBinding" if self.kind == "Role" else "ClusterRoleBinding"


@dataclass(frozen=True)
class Suggestion:
    """The RBAC a subject needs for what it did in the window."""

    subject: Subject
    roles: tuple[SuggestedRole, ...]  # the ClusterRole first (if any), then the Roles by namespace
    observed: tuple[Observed, ...]  # every request shape considered
    discovery: tuple[Observed, ...] = ()  # shapes every authenticated user may already request
    left_out_denied: int = 0  # denied requests not counted (include_denied off)
    options: SuggestOptions = field(default_factory=SuggestOptions)
    since: datetime | None = None  # the window the requests were read from
    until: datetime | None = None

    @property
    def requests(self) -> int:
        return sum(item.requests for item in self.observed)

    @property
    def denied(self) -> int:
        return sum(item.denied for item in self.observed)

    @property
    def yaml(self) -> str:
        """The RBAC YAML (`to_yaml`)."""
        return to_yaml(self)


def object_name(subject: Subject) -> str:
    """`auditlake:alice`; a service account by its own name (unless `default`), as audit2rbac names them.

    >>> object_name(Subject("ServiceAccount", "sa1", "ns1")), object_name(Subject("User", "Alice@Example.com"))
    ('auditlake:sa1', 'auditlake:alice-example-com')
    """
    name = subject.name if subject.kind == "ServiceAccount" and subject.name != "default" else subject.username
    return "auditlake:" + re.sub(r"[^a-z0-9:]", "-", name.lower())


def label_value(text: str) -> str:
    """A label value for a subject: lower case, `[a-z0-9]` and `-` only, at most 63 characters, alphanumeric at both ends."""
    return re.sub(r"[^a-z0-9]", "-", text.lower())[:63].strip("-") or "unknown"


def suggest(subject: Subject, observed: Iterable[Observed], options: SuggestOptions | None = None) -> Suggestion:
    """The Roles and bindings that cover every request of `observed` (one subject's), audit2rbac's way."""
    options = options or SuggestOptions()
    shapes = _merge(observed)
    left_out = sum(item.denied for item in shapes) if not options.include_denied else 0
    if not options.include_denied:
        shapes = [replace(item, requests=item.requests - item.denied, denied=0) for item in shapes if item.requests > item.denied]
    discovery = [item for item in shapes if authorizes(DISCOVERY_URLS, item.request)]
    needed = sorted((item.request for item in shapes if not authorizes(DISCOVERY_URLS, item.request)), key=_breadth)
    cluster_rules: list[Rule] = []
    namespaced: dict[str, list[Rule]] = {}
    for request in needed:
        allowed = cluster_rules + (namespaced.get(request.namespace, []) if request.namespace else [])
        if any(authorizes(rule, request) for rule in allowed):
            continue
        if not request.is_resource_request:
            cluster_rules.append(Rule.of(verbs=[request.verb], non_resource_urls=[request.path]))
            continue
        widened = _widen(request, needed, options)
        verbs = (widened.verb, *VERB_EXPANSIONS.get(widened.verb, ())) if options.expand_verbs else (widened.verb,)
        rule = Rule.of([widened.api_group], [widened.resource_path], verbs, [widened.name] if widened.name else [])
        (namespaced.setdefault(widened.namespace, []) if widened.namespace else cluster_rules).append(rule)
    name = options.name or object_name(subject)
    roles = []
    if cluster_rules:
        roles.append(("ClusterRole", "", compact_rules(cluster_rules)))
    roles += [("Role", namespace, compact_rules(rules)) for namespace, rules in sorted(namespaced.items())]
    return Suggestion(subject, _with_coverage(roles, name, shapes), tuple(shapes), tuple(discovery), left_out, options)


def _merge(observed: Iterable[Observed]) -> list[Observed]:
    """One entry per request shape (rows may split a shape by groups or authorizer reason), in a fixed order."""
    merged: dict[Request, Observed] = {}
    for item in observed:
        known = merged.get(item.request)
        if known is None:
            merged[item.request] = item
            continue
        firsts = [value for value in (known.first_at, item.first_at) if value is not None]
        lasts = [value for value in (known.last_at, item.last_at) if value is not None]
        earlier = item if item.first_at is not None and (known.first_at is None or item.first_at < known.first_at) else known
        merged[item.request] = Observed(item.request, known.requests + item.requests, known.denied + item.denied,
                                        min(firsts, default=None), max(lasts, default=None), earlier.first_audit_id)
    return [merged[key] for key in sorted(merged)]


def _breadth(request: Request) -> tuple[Any, ...]:
    """audit2rbac's `sortRequests`: non-resource first, then cluster-scoped, unnamed, list before get, then by attributes."""
    if not request.is_resource_request:
        return (0, request.verb, request.path)
    verb_rank = {"list": 0, "get": 1}.get(request.verb, 0.5)
    return (1, bool(request.namespace), bool(request.name), verb_rank, request.api_group, request.resource, request.subresource,
            request.namespace, request.name, request.verb)


def _widen(request: Request, requests: Sequence[Request], options: SuggestOptions) -> Request:
    """The request without its namespace (name) when the same shape was seen in another namespace (on another object)."""
    namespace, name = request.namespace, request.name
    for other in requests:
        if not other.is_resource_request or (other.verb, other.api_group, other.resource, other.subresource) != (
                request.verb, request.api_group, request.resource, request.subresource):
            continue
        if options.expand_namespaces and other.namespace and other.namespace != request.namespace:
            namespace = ""
        if options.expand_names and other.name and other.name != request.name:
            name = ""
    return replace(request, namespace=namespace, name=name)


def compact_rules(rules: Iterable[Rule]) -> list[Rule]:
    """audit2rbac's `compactRules`: break each rule down per group/resource/verb, merge verbs per resource (and name),
    then merge resources with the same verbs, and names of the same resource; sorted by API group, then rule.

    >>> [describe(rule) for rule in compact_rules([Rule.of([""], ["pods"], ["list", "get", "watch"]), Rule.of([""], ["secrets"], ["get", "list", "watch"])])]
    ['get,list,watch pods,secrets']
    """
    simple: dict[tuple[str, str, str], set[str]] = {}
    other: list[Rule] = []
    for rule in rules:
        if rule.non_resource_urls:
            other += [Rule.of(verbs=[verb], non_resource_urls=[url]) for url in rule.non_resource_urls for verb in rule.verbs]
            continue
        for group in rule.api_groups:
            for resource in rule.resources:
                for name in rule.resource_names or ("",):  # a broken-down rule keeps at most one name: a simple rule
                    simple.setdefault((group, resource, name), set()).update(rule.verbs)
    merged: list[Rule] = []
    for url_rule in other:
        if url_rule not in merged:
            merged.append(url_rule)
    resource_rules: list[Rule] = []
    for (group, resource, name), verbs in sorted(simple.items()):
        rule = Rule.of([group], [resource], verbs, [name] if name else [])
        for index, existing in enumerate(resource_rules):
            if replace(existing, resource_names=()) == replace(rule, resource_names=()):
                resource_rules[index] = Rule.of(existing.api_groups, existing.resources, existing.verbs,
                                                [*existing.resource_names, *rule.resource_names])
                break
            if replace(existing, resources=()) == replace(rule, resources=()):
                resource_rules[index] = Rule.of(existing.api_groups, [*existing.resources, *rule.resources], existing.verbs,
                                                existing.resource_names)
                break
        else:
            resource_rules.append(rule)
    return sorted(merged + resource_rules, key=lambda rule: (",".join(rule.api_groups), compact_string(rule)))


def compact_string(rule: Rule) -> str:
    """The rule as rbac/v1 `CompactString` prints it, which audit2rbac sorts by.

    >>> compact_string(Rule.of([""], ["pods"], ["get", "list"]))
    'PolicyRule{APIGroups:[""], Resources:["pods"], Verbs:["get" "list"]}'
    """
    parts = [f"{key}:[{' '.join(chr(34) + item + chr(34) for item in values)}]" for key, values in (
        ("APIGroups", rule.api_groups), ("Resources", rule.resources), ("NonResourceURLs", rule.non_resource_urls),
        ("ResourceNames", rule.resource_names), ("Verbs", rule.verbs)) if values or key == "Verbs"]
    return "PolicyRule{" + ", ".join(parts) + "}"


def _with_coverage(roles: list[tuple[str, str, list[Rule]]], name: str, shapes: Sequence[Observed]) -> tuple[SuggestedRole, ...]:
    """Each rule with the request shapes it is the first to allow (the ClusterRole's rules come first for namespaced ones)."""
    cluster = next((rules for kind, _, rules in roles if kind == "ClusterRole"), [])
    covered: dict[tuple[str, int], list[Observed]] = {}
    for item in shapes:
        if authorizes(DISCOVERY_URLS, item.request):
            continue
        for index, rule in enumerate(cluster):
            if authorizes(rule, item.request):
                covered.setdefault(("", index), []).append(item)
                break
        else:
            own = next((rules for kind, namespace, rules in roles if kind == "Role" and namespace == item.request.namespace), [])
            found = next((index for index, rule in enumerate(own) if authorizes(rule, item.request)), None)
            if found is not None:
                covered.setdefault((item.request.namespace, found), []).append(item)
    return tuple(SuggestedRole(kind, name, namespace, tuple(SuggestedRule(rule, tuple(covered.get((namespace, index), [])))
                                                            for index, rule in enumerate(rules)))
                 for kind, namespace, rules in roles)


# ---- YAML -------------------------------------------------------------------------------------------
def manifests(suggestion: Suggestion) -> list[dict[str, Any]]:
    """The objects, in audit2rbac's order: the ClusterRole, its binding, the Roles, their bindings (each by namespace)."""
    labels = {LABEL_GENERATED: "true", LABEL_SUBJECT: label_value(suggestion.subject.username)}
    roles, bindings = [], []
    for role in suggestion.roles:
        metadata = {"labels": dict(labels), "name": role.name, **({"namespace": role.namespace} if role.namespace else {})}
        roles.append({"apiVersion": f"{RBAC_GROUP}/v1", "kind": role.kind, "metadata": metadata,
                      "rules": [item.rule.to_body() for item in role.rules]})
        bindings.append({"apiVersion": f"{RBAC_GROUP}/v1", "kind": role.binding_kind, "metadata": dict(metadata, labels=dict(labels)),
                         "roleRef": {"apiGroup": RBAC_GROUP, "kind": role.kind, "name": role.name},
                         "subjects": [suggestion.subject.to_body()]})
    cluster = [index for index, role in enumerate(suggestion.roles) if role.kind == "ClusterRole"]
    rest = [index for index in range(len(suggestion.roles)) if index not in cluster]
    return [roles[i] for i in cluster] + [bindings[i] for i in cluster] + [roles[i] for i in rest] + [bindings[i] for i in rest]


def to_yaml(suggestion: Suggestion) -> str:
    """The suggestion as multi-document RBAC YAML, each Role preceded by `#` lines naming the requests each rule covers."""
    subject = suggestion.subject
    window = f" in {suggestion.since:%Y-%m-%d %H:%M} → {suggestion.until:%Y-%m-%d %H:%M} UTC" if suggestion.since and suggestion.until else ""
    header = [f"# RBAC for {subject.text()}, written by auditlake from {suggestion.requests:,} request(s){window}"
              + (f", {suggestion.denied:,} of them denied" if suggestion.denied else ""),
              f"# options: {_options_text(suggestion.options)}"]
    if suggestion.discovery:
        header.append(f"# no rule needed (system:discovery allows every authenticated user): "
                      f"{'; '.join(item.text() for item in suggestion.discovery[:8])}" + (" …" if len(suggestion.discovery) > 8 else ""))
    if suggestion.left_out_denied:
        header.append(f"# left out: {suggestion.left_out_denied:,} denied request(s) (--no-include-denied)")
    documents = []
    by_name = {(role.kind, role.namespace): role for role in suggestion.roles}
    for index, manifest in enumerate(manifests(suggestion)):
        lines = header if index == 0 else []
        role = by_name.get((manifest["kind"], manifest["metadata"].get("namespace", "")))
        if role is not None:
            lines = [*lines, f"# {role.kind} {role.name}" + (f" in {role.namespace}" if role.namespace else " (cluster-wide)") + ":"]
            for number, item in enumerate(role.rules, 1):
                covers = "; ".join(observed.text() for observed in item.covers) or "nothing on its own"
                lines.append(f"#   rule {number} ({describe(item.rule)}) covers: {covers}")
        documents.append("\n".join(_comment_safe(line) for line in lines) + ("\n" if lines else "")
                         + yaml.safe_dump(manifest, sort_keys=False, default_flow_style=False, allow_unicode=True, width=4096))
    return "---\n".join(documents)


def _options_text(options: SuggestOptions) -> str:
    return ", ".join(f"{name} {'on' if value else 'off'}" for name, value in (
        ("expand verbs", options.expand_verbs), ("expand names", options.expand_names),
        ("expand namespaces", options.expand_namespaces), ("include denied", options.include_denied)))


def _comment_safe(line: str) -> str:
    """A comment line whose text came from the log: no line break or control character can end the comment early."""
    return re.sub(r"[\x00-\x1f\x7f\u2028\u2029\x85]", "?", line)
