"""Evaluation of an audit Policy, exactly as kube-apiserver does it.

Owns: the request attributes kube-apiserver checks (`Request`), the `Decision` it reaches, and the
matching rules of k8s.io/apiserver/pkg/audit/policy/checker.go: rules in order, first match wins;
users, userGroups, verbs; resources by group with `pods/*`, `*/status`, `*` and resourceNames;
namespaces with "" for cluster-scoped objects; nonResourceURLs with a trailing `*`; per-rule omitStages
unioned with the policy's; omitManagedFields from the rule, else the policy. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from auditlake.policy.model import Policy, Rule


@dataclass(frozen=True)
class Request:
    """The attributes kube-apiserver evaluates the policy against (the authenticated user, before impersonation)."""

    user: str | None = None
    groups: tuple[str, ...] = ()
    verb: str = "get"
    api_group: str = ""
    resource: str | None = None  # None: a non-resource request (`path`)
    subresource: str | None = None
    namespace: str | None = None
    name: str | None = None
    path: str | None = None


@dataclass(frozen=True)
class Decision:
    level: str
    rule: Rule | None  # None: no rule matched (level None, the default)
    omit_stages: tuple[str, ...]
    omit_managed_fields: bool
    reasons: tuple[str, ...] = ()


def evaluate(policy: Policy, request: Request) -> Decision:
    """The level kube-apiserver would log `request` at, and the rule that decided it."""
    for rule in policy.rules:
        reasons = rule_matches(rule, request)
        if reasons is not None:
            managed = rule.omit_managed_fields if rule.omit_managed_fields is not None else policy.omit_managed_fields
            return Decision(rule.level, rule, rule.omit_stages, managed, tuple(reasons))
    return Decision("None", None, policy.omit_stages, policy.omit_managed_fields, ("no rule matched: the default level is None",))


def rule_matches(rule: Rule, request: Request) -> list[str] | None:
    """Why the rule matches (one reason per constraint), or None when it does not."""
    reasons: list[str] = []
    if rule.users:
        if request.user not in rule.users:
            return None
        reasons.append(f"user {request.user} is in users")
    if rule.user_groups:
        group = next((group for group in request.groups if group in rule.user_groups), None)
        if group is None:
            return None
        reasons.append(f"group {group} is in userGroups")
    if rule.verbs:
        if request.verb not in rule.verbs:
            return None
        reasons.append(f"verb {request.verb} is in verbs")
    if rule.namespaces or rule.resources:
        resource_reasons = _matches_resource(rule, request)
        return None if resource_reasons is None else reasons + resource_reasons
    if rule.non_resource_urls:
        if request.resource is not None:
            return None
        spec = next((spec for spec in rule.non_resource_urls if path_matches(request.path or "", spec)), None)
        return None if spec is None else reasons + [f"path {request.path} matches {spec}"]
    return reasons or ["the rule has no conditions: it matches every request"]


def path_matches(path: str, spec: str) -> bool:
    return spec == "*" or spec == path or (spec.endswith("*") and path.startswith(spec.rstrip("*")))


def _matches_resource(rule: Rule, request: Request) -> list[str] | None:
    if request.resource is None:
        return None
    reasons = []
    namespace = request.namespace or ""
    if rule.namespaces:
        if namespace not in rule.namespaces:
            return None
        reasons.append(f"namespace {namespace!r} is in namespaces")
    if not rule.resources:
        return reasons
    combined = request.resource + (f"/{request.subresource}" if request.subresource else "")
    for group in rule.resources:
        if group.group != request.api_group:
            continue
        if not group.resources:
            return reasons + [f"group {group.group!r} (all resources) matches"]
        for resource in group.resources:
            if group.resource_names and request.name not in group.resource_names:
                continue
            matched = (resource in (combined, "*")
                       or (request.subresource and resource.startswith("*/") and request.subresource == resource[2:])
                       or (resource.endswith("/*") and request.resource == resource[:-2]))
            if matched:
                named = f" named {request.name}" if group.resource_names else ""
                return reasons + [f"resource {combined}{named} matches {resource!r} in group {group.group!r}"]
    return None


def request_for(user: str | None, groups: Sequence[str], verb: str, *, api_group: str = "", resource: str | None = None,
                namespace: str | None = None, name: str | None = None, path: str | None = None) -> Request:
    """A request in kubectl's terms: `resource` is RESOURCE or RESOURCE/SUBRESOURCE; `path` a non-resource URL instead.

    >>> request_for("alice", ["dev"], "create", resource="pods/exec", namespace="default").subresource
    'exec'
    """
    base, _, subresource = (resource or "").partition("/")
    return Request(user, tuple(groups), verb, api_group, base or None, subresource or None, namespace, name, path)


def describe_decision(decision: Decision) -> list[str]:
    """A decision as lines of text: the level and deciding rule, why it matched, the stages and managedFields it drops.

    >>> print("\\n".join(describe_decision(Decision("None", None, ("RequestReceived",), False, ("no rule matched",)))))
    level: None  (no rule)
      because no rule matched
      stages not logged: RequestReceived
      managedFields kept
    """
    rule = f"rule {decision.rule.index + 1} (line {decision.rule.line})" if decision.rule else "no rule"
    lines = [f"level: {decision.level}  ({rule})"] + [f"  because {reason}" for reason in decision.reasons]
    if decision.omit_stages:
        lines.append(f"  stages not logged: {', '.join(decision.omit_stages)}")
    return lines + [f"  managedFields {'omitted' if decision.omit_managed_fields else 'kept'}"]
