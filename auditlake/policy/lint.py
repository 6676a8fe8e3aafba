"""Lint for a valid audit Policy: the mistakes kube-apiserver accepts but an auditor should not.

Owns: the representative identities auditlake probes a policy with (never users from the data), the
findings it reports (secret values or tokens written to the log, no catch-all rule, rules shadowed by an
earlier one, RequestReceived logged, high-volume system traffic logged), and `covers`, the conservative
test of one rule matching everything another does. Pure: no I/O.
"""

from __future__ import annotations

from auditlake.policy.evaluate import Request, evaluate
from auditlake.policy.model import Finding, GroupResources, Policy, Rule, level_at_least

HUMAN = ("jane@example.com", ("oidc:admins", "system:authenticated"))
SERVICE_ACCOUNT = ("system:serviceaccount:payments:api", ("system:serviceaccounts", "system:serviceaccounts:payments", "system:authenticated"))
ADMIN = ("kubernetes-admin", ("system:masters", "system:authenticated"))
SENSITIVE_PROBES = (  # (resource, group, verbs, the lowest level that writes a secret into the log)
    ("secrets", "", ("get", "list", "watch", "create", "update", "patch"), "Request"),  # data in request bodies, and responses
    ("configmaps", "", ("get", "list", "create", "update", "patch"), "Request"),  # often hold credentials too
    ("tokenreviews", "authentication.k8s.io", ("create",), "Request"),  # spec.token is the bearer token under review
    ("serviceaccounts/token", "", ("create",), "RequestResponse"),  # status.token is the minted token
)
# (user, groups, verb, group, resource, namespace): traffic that dwarfs everything else
NOISY_PROBES: tuple[tuple[str, tuple[str, ...], str, str, str, str | None], ...] = (
    ("system:kube-proxy", ("system:authenticated",), "watch", "", "endpoints", None),
    ("system:kube-proxy", ("system:authenticated",), "watch", "discovery.k8s.io", "endpointslices", None),
    ("system:kube-controller-manager", ("system:authenticated",), "update", "coordination.k8s.io", "leases", "kube-system"),
    ("system:node:node-1", ("system:nodes", "system:authenticated"), "update", "coordination.k8s.io", "leases", "kube-node-lease"),
    ("system:node:node-1", ("system:nodes", "system:authenticated"), "get", "", "nodes", None),
    ("system:node:node-1", ("system:nodes", "system:authenticated"), "create", "", "events", "default"),
    ("system:serviceaccount:kube-system:endpoint-controller", ("system:serviceaccounts", "system:authenticated"), "list", "", "pods", None),
)


def lint(policy: Policy) -> list[Finding]:
    """What is wrong with a valid policy: secret values logged, gaps, shadowed rules, volume."""
    findings: list[Finding] = []
    for resource, group, verbs, leaking in SENSITIVE_PROBES:
        name, _, sub = resource.partition("/")
        for user, groups in (HUMAN, SERVICE_ACCOUNT, ADMIN):
            hits = [(verb, namespace) for namespace in ("payments", "kube-system") for verb in verbs if level_at_least(
                evaluate(policy, Request(user, groups, verb, group, name, sub or None, namespace)).level, leaking)]
            if hits:
                verb, namespace = hits[0]
                decision = evaluate(policy, Request(user, groups, verb, group, name, sub or None, namespace))
                findings.append(Finding("error", "sensitive-bodies", decision.rule.line if decision.rule else None,
                                        f"{resource} are logged at {decision.level} (e.g. {verb} in {namespace} by {user}): their "
                                        f"{'values' if name in ('secrets', 'configmaps') else 'tokens'} end up in the audit log; "
                                        "log them at Metadata"))
                break
    if not policy.rules or not policy.rules[-1].is_catch_all:
        findings.append(Finding("warning", "no-catch-all", policy.rules[-1].line if policy.rules else None,
                                "no catch-all rule at the end: requests no rule matches are not logged at all "
                                "(add `- level: Metadata` last)"))
    for later in policy.rules:
        shadow = next((earlier for earlier in policy.rules[: later.index] if covers(earlier, later)), None)
        if shadow is not None:
            findings.append(Finding("warning", "unreachable-rule", later.line,
                                    f"rule {later.index + 1} can never match: rule {shadow.index + 1} (line {shadow.line}) matches "
                                    "every request it would"))
    logging = [rule for rule in policy.rules if rule.level != "None"]
    if logging and any("RequestReceived" not in rule.omit_stages for rule in logging):
        line = next(rule.line for rule in logging if "RequestReceived" not in rule.omit_stages)
        findings.append(Finding("warning", "request-received-logged", line,
                                "RequestReceived is not omitted: every request is logged twice (add `omitStages: [RequestReceived]` "
                                "at the top of the policy)"))
    for probe in NOISY_PROBES:
        user, _, verb, _, resource, _ = probe
        decision = evaluate(policy, Request(*probe[:5], None, probe[5]))
        if level_at_least(decision.level, "Request") or (verb == "watch" and decision.level != "None"):
            findings.append(Finding("info", "noisy-traffic", decision.rule.line if decision.rule else None,
                                    f"{verb} {resource} by {user} is logged at {decision.level}: high-volume system traffic "
                                    "(log it at None, or Metadata)"))
    return sorted(findings, key=lambda finding: (("error", "warning", "info").index(finding.severity), finding.line or 0))


def covers(earlier: Rule, later: Rule) -> bool:
    """Whether every request `later` matches is matched by `earlier` (conservative: true only when certain)."""
    if earlier.users and not (later.users and set(later.users) <= set(earlier.users)):
        return False
    if earlier.user_groups and not (later.user_groups and set(later.user_groups) <= set(earlier.user_groups)):
        return False
    if earlier.verbs and not (later.verbs and set(later.verbs) <= set(earlier.verbs)):
        return False
    if earlier.non_resource_urls:
        return bool(later.non_resource_urls) and all(any(_url_covers(spec, url) for spec in earlier.non_resource_urls)
                                                      for url in later.non_resource_urls)
    if earlier.namespaces and not (later.namespaces and set(later.namespaces) <= set(earlier.namespaces)):
        return False
    if earlier.resources:
        if later.non_resource_urls or not later.resources:
            return False
        return all(_group_covered(group, earlier.resources) for group in later.resources)
    if earlier.namespaces:
        return not later.non_resource_urls
    return True


def _url_covers(spec: str, url: str) -> bool:
    if spec == "*" or spec == url:
        return True
    return spec.endswith("*") and url.rstrip("*").startswith(spec.rstrip("*"))


def _group_covered(group: GroupResources, earlier: tuple[GroupResources, ...]) -> bool:
    for candidate in earlier:
        if candidate.group != group.group:
            continue
        if not candidate.resources and not candidate.resource_names:
            return True
        if not group.resources:
            continue
        if candidate.resource_names and not (group.resource_names and set(group.resource_names) <= set(candidate.resource_names)):
            continue
        if all(_resource_covered(resource, candidate.resources) for resource in group.resources):
            return True
    return False


def _resource_covered(resource: str, patterns: tuple[str, ...]) -> bool:
    base, _, sub = resource.partition("/")
    for pattern in patterns:
        if pattern in (resource, "*"):
            return True
        if pattern.endswith("/*") and base == pattern[:-2] and base != "*":
            return True
        if pattern.startswith("*/") and sub and sub == pattern[2:]:
            return True
    return False
