"""The kube-apiserver audit Policy: load it with line numbers, evaluate it exactly, lint it.

Owns: the `audit.k8s.io/v1` Policy model and its evaluation as kube-apiserver does it
(k8s.io/apiserver/pkg/audit/policy/checker.go: rules in order, first match wins; users, userGroups,
verbs; resources by group with `pods/*`, `*/status`, `*` and resourceNames; namespaces with "" for
cluster-scoped objects; nonResourceURLs with a trailing `*`; per-rule omitStages unioned with the
policy's; omitManagedFields from the rule, else the policy), the validation kube-apiserver applies
(validation.go), the lint findings auditlake adds, and what the saved queries would lose under a policy,
by root cause (never naming the made-up users it probes with). Pure: no DuckDB, no lake, no terminal.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from auditlake.errors import AuditlakeError

LEVELS = ("None", "Metadata", "Request", "RequestResponse")
STAGES = ("RequestReceived", "ResponseStarted", "ResponseComplete", "Panic")
RULE_KEYS = frozenset({"level", "users", "userGroups", "verbs", "resources", "namespaces", "nonResourceURLs", "omitStages", "omitManagedFields"})
POLICY_KEYS = frozenset({"apiVersion", "kind", "metadata", "rules", "omitStages", "omitManagedFields"})
RESOURCE_KEYS = frozenset({"group", "resources", "resourceNames"})
API_VERSIONS = ("audit.k8s.io/v1", "audit.k8s.io/v1beta1", "audit.k8s.io/v1alpha1")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


class PolicyError(AuditlakeError):
    """A policy file that kube-apiserver would refuse (with the line it is on)."""


@dataclass(frozen=True)
class GroupResources:
    group: str
    resources: tuple[str, ...]
    resource_names: tuple[str, ...]


@dataclass(frozen=True)
class Rule:
    index: int  # 0-based position in the policy
    line: int  # 1-based line of the rule in the file
    level: str
    users: tuple[str, ...] = ()
    user_groups: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ()
    resources: tuple[GroupResources, ...] = ()
    namespaces: tuple[str, ...] = ()
    non_resource_urls: tuple[str, ...] = ()
    omit_stages: tuple[str, ...] = ()  # already unioned with the policy's
    omit_managed_fields: bool | None = None

    @property
    def is_catch_all(self) -> bool:
        return not (self.users or self.user_groups or self.verbs or self.resources or self.namespaces or self.non_resource_urls)


@dataclass(frozen=True)
class Policy:
    path: str
    rules: tuple[Rule, ...]
    omit_stages: tuple[str, ...] = ()
    omit_managed_fields: bool = False


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


@dataclass(frozen=True)
class Finding:
    severity: str  # error, warning, info
    code: str
    line: int | None
    message: str


# ---- loading --------------------------------------------------------------------------------------
def load_policy(path: Path | str, text: str | None = None) -> Policy:
    """Parse and validate a Policy file; errors name the file and line."""
    path = str(path)
    try:
        source = text if text is not None else Path(path).read_text()
    except OSError as error:
        raise PolicyError(f"cannot read the policy ({error.strerror})", path=path) from None
    try:
        documents = [document for document in yaml.compose_all(source) if document is not None]
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        raise PolicyError(f"not YAML: {getattr(error, 'problem', error)}", path=path, line=mark.line + 1 if mark else None) from None
    policies = [document for document in documents if _mapping_get(document, "kind") == "Policy"]
    if len(policies) != 1:
        raise PolicyError("expected one document of kind Policy" + (f", found {len(policies)}" if policies else ""), path=path, line=1)
    return _policy(policies[0], path)


def _policy(node: yaml.Node, path: str) -> Policy:
    data = _value(node)
    _check_keys(node, POLICY_KEYS, path)
    if data.get("apiVersion") not in API_VERSIONS:
        raise PolicyError(f"apiVersion must be one of {', '.join(API_VERSIONS)}", path=path, line=_line(node, "apiVersion"))
    global_stages = _stages(data.get("omitStages") or [], path, _line(node, "omitStages"))
    global_managed = bool(data.get("omitManagedFields", False))
    rules_node = _child(node, "rules")
    if rules_node is None or not isinstance(rules_node, yaml.SequenceNode):
        raise PolicyError("a Policy needs a list of rules", path=path, line=_line(node, "rules") or node.start_mark.line + 1)
    rules = []
    for index, rule_node in enumerate(rules_node.value):
        rules.append(_rule(index, rule_node, path, global_stages))
    return Policy(path, tuple(rules), global_stages, global_managed)


def _rule(index: int, node: yaml.Node, path: str, global_stages: tuple[str, ...]) -> Rule:
    line = node.start_mark.line + 1
    if not isinstance(node, yaml.MappingNode):
        raise PolicyError(f"rule {index + 1} is not a mapping", path=path, line=line)
    _check_keys(node, RULE_KEYS, path)
    data = _value(node)
    level = data.get("level")
    if level not in LEVELS:
        raise PolicyError(f"rule {index + 1}: level must be one of {', '.join(LEVELS)}, not {level!r}", path=path,
                          line=_line(node, "level") or line)
    urls = tuple(_strings(data, "nonResourceURLs", node, path))
    for url in urls:
        if url != "*" and not url.startswith("/"):
            raise PolicyError(f"rule {index + 1}: non-resource URL rules must begin with a '/' character: {url!r}", path=path,
                              line=_line(node, "nonResourceURLs"))
        if "*" in url[:-1]:
            raise PolicyError(f"rule {index + 1}: non-resource URL wildcards '*' must be the final character of the rule: {url!r}",
                              path=path, line=_line(node, "nonResourceURLs"))
    namespaces = tuple(_strings(data, "namespaces", node, path))
    resources = _resources(node, index, path)
    if urls and (resources or namespaces):
        raise PolicyError(f"rule {index + 1}: rules cannot apply to both regular resources and non-resource URLs", path=path,
                          line=_line(node, "nonResourceURLs"))
    stages = tuple(sorted(set(global_stages) | set(_stages(data.get("omitStages") or [], path, _line(node, "omitStages"))),
                          key=STAGES.index))
    managed = data.get("omitManagedFields")
    return Rule(index, line, level, tuple(_strings(data, "users", node, path)), tuple(_strings(data, "userGroups", node, path)),
                tuple(_strings(data, "verbs", node, path)), resources, namespaces, urls, stages,
                None if managed is None else bool(managed))


def _resources(node: yaml.Node, index: int, path: str) -> tuple[GroupResources, ...]:
    resources_node = _child(node, "resources")
    if resources_node is None:
        return ()
    if not isinstance(resources_node, yaml.SequenceNode):
        raise PolicyError(f"rule {index + 1}: resources must be a list", path=path, line=resources_node.start_mark.line + 1)
    result = []
    for item in resources_node.value:
        _check_keys(item, RESOURCE_KEYS, path)
        data = _value(item)
        group = str(data.get("group") or "")
        if group and not _DNS_SUBDOMAIN.match(group):
            raise PolicyError(f"rule {index + 1}: group {group!r} is not a DNS subdomain", path=path, line=item.start_mark.line + 1)
        names = tuple(str(name) for name in data.get("resourceNames") or [])
        kinds = tuple(str(resource) for resource in data.get("resources") or [])
        if names and not kinds:
            raise PolicyError(f"rule {index + 1}: using resourceNames requires at least one resource", path=path,
                              line=item.start_mark.line + 1)
        result.append(GroupResources(group, kinds, names))
    return tuple(result)


def _stages(values: Any, path: str, line: int | None) -> tuple[str, ...]:
    if not isinstance(values, list) or any(value not in STAGES for value in values):
        raise PolicyError(f"omitStages must list stages among {', '.join(STAGES)}", path=path, line=line)
    return tuple(values)


def _strings(data: dict[str, Any], key: str, node: yaml.Node, path: str) -> list[str]:
    values = data.get(key) or []
    if not isinstance(values, list) or not all(isinstance(value, str) for value in values):
        raise PolicyError(f"{key} must be a list of strings", path=path, line=_line(node, key))
    return values


def _check_keys(node: yaml.Node, allowed: frozenset[str], path: str) -> None:
    if not isinstance(node, yaml.MappingNode):
        raise PolicyError("expected a mapping", path=path, line=node.start_mark.line + 1)
    for key_node, _ in node.value:
        if key_node.value not in allowed:
            raise PolicyError(f"unknown field {key_node.value!r}", path=path, line=key_node.start_mark.line + 1,
                              hint=f"allowed here: {', '.join(sorted(allowed))}")


def _child(node: yaml.Node, key: str) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if key_node.value == key:
                return value_node
    return None


def _line(node: yaml.Node, key: str) -> int | None:
    child = _child(node, key)
    return child.start_mark.line + 1 if child is not None else None


def _mapping_get(node: yaml.Node, key: str) -> Any:
    child = _child(node, key)
    return child.value if isinstance(child, yaml.ScalarNode) else None


def _value(node: yaml.Node) -> Any:
    return yaml.safe_load(yaml.serialize(node))


# ---- evaluation -----------------------------------------------------------------------------------
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


def level_at_least(level: str, minimum: str) -> bool:
    return LEVELS.index(level) >= LEVELS.index(minimum)


# ---- lint ---------------------------------------------------------------------------------------
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


# ---- the apiserver's flags ------------------------------------------------------------------------
CIS_MINIMUMS = {"--audit-log-maxage": 30, "--audit-log-maxbackup": 10, "--audit-log-maxsize": 100}


def check_apiserver(path: Path) -> list[Finding]:
    """The static pod manifest's audit flags and mounts against the CIS Kubernetes Benchmark (1.2.16–1.2.19)."""
    try:
        manifest = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise PolicyError(f"cannot read the manifest ({error})", path=path) from None
    containers = ((manifest or {}).get("spec") or {}).get("containers") or []
    apiserver = next((c for c in containers if "kube-apiserver" in " ".join(map(str, (c.get("command") or []) + [c.get("name", "")]))), None)
    if apiserver is None:
        raise PolicyError("no kube-apiserver container in this manifest", path=path, hint="point at /etc/kubernetes/manifests/kube-apiserver.yaml")
    flags: dict[str, str] = {}
    for argument in (apiserver.get("command") or []) + (apiserver.get("args") or []):
        key, _, value = str(argument).partition("=")
        if key.startswith("--"):
            flags[key] = value
    findings: list[Finding] = []
    log_path = flags.get("--audit-log-path")
    webhook = flags.get("--audit-webhook-config-file")
    if not log_path and not webhook:
        findings.append(Finding("error", "cis-1.2.16", None, "--audit-log-path is not set: the apiserver writes no audit log (CIS 1.2.16)"))
    for flag, minimum in CIS_MINIMUMS.items():
        setting = flags.get(flag)
        if log_path and log_path != "-" and (setting is None or not setting.isdigit() or int(setting) < minimum):
            control = {"--audit-log-maxage": "1.2.17", "--audit-log-maxbackup": "1.2.18", "--audit-log-maxsize": "1.2.19"}[flag]
            findings.append(Finding("error", f"cis-{control}", None, f"{flag} is {setting or 'not set'}: set it to {minimum} or more (CIS {control})"))
    policy_file = flags.get("--audit-policy-file")
    if not policy_file:
        findings.append(Finding("error", "policy-file", None, "--audit-policy-file is not set: without a policy nothing is audited"))
    mounts = {m.get("mountPath"): m for m in apiserver.get("volumeMounts") or []}
    volumes = {v.get("name"): v for v in ((manifest.get("spec") or {}).get("volumes") or [])}

    def mount_for(file_path: str) -> dict[str, Any] | None:
        candidates = [m for p, m in mounts.items() if p and (file_path == p or file_path.startswith(p.rstrip("/") + "/"))]
        return max(candidates, key=lambda m: len(m.get("mountPath", "")), default=None)

    if policy_file:
        mount = mount_for(policy_file)
        if mount is None:
            findings.append(Finding("error", "policy-not-mounted", None, f"the policy file {policy_file} is not on any volume mount"))
        else:
            if not mount.get("readOnly"):
                findings.append(Finding("warning", "policy-mount-writable", None,
                                        f"the policy is mounted read-write at {mount['mountPath']}: mount it readOnly: true"))
            if "hostPath" not in volumes.get(mount.get("name"), {}):
                findings.append(Finding("warning", "policy-not-hostpath", None, f"volume {mount.get('name')} is not a hostPath"))
    if log_path and log_path != "-":
        mount = mount_for(log_path)
        if mount is None:
            findings.append(Finding("error", "log-not-mounted", None,
                                    f"the audit log {log_path} is not on a volume mount: it is lost with the container"))
        elif mount.get("readOnly"):
            findings.append(Finding("error", "log-mount-read-only", None, f"the audit log directory {mount['mountPath']} is mounted read-only"))
    return findings


# ---- what the saved queries need ------------------------------------------------------------------
CLUSTER_SCOPED = frozenset({"namespaces", "nodes", "clusterroles", "clusterrolebindings", "customresourcedefinitions", "persistentvolumes",
                            "mutatingwebhookconfigurations", "validatingwebhookconfigurations", "validatingadmissionpolicies",
                            "validatingadmissionpolicybindings", "certificatesigningrequests", "storageclasses", "priorityclasses"})
ANY_RESOURCE = (("", "pods"), ("apps", "deployments"), ("", "secrets"), ("", "configmaps"), ("", "nodes"), ("", "services"),
                ("rbac.authorization.k8s.io", "rolebindings"), ("batch", "jobs"))
ANY_VERB = ("get", "list", "watch", "create", "update", "patch", "delete")
PROBE_USERS = (HUMAN, SERVICE_ACCOUNT, ADMIN)
# What each probe user stands for. The probe users are made up: a report names the kind, never the user.
PROBE_KINDS = {HUMAN[0]: "people", SERVICE_ACCOUNT[0]: "service accounts", ADMIN[0]: "administrators (system:masters)"}


@dataclass(frozen=True)
class Loss:
    """One root cause of lost data: the rule (or the lack of one) that logs requests saved queries read too little.

    `requests` are shapes (verbs, resource, API group, and which kinds of identity when not all), never
    users: the representative requests auditlake evaluates are made up, and naming their users would read
    as if they were in the data. `events` counts the completed requests of the window this cause decides
    that a query needs more of: 0 means the loss is real for the policy but nothing in the window shows it.
    """

    rule: int | None  # 1-based number of the deciding rule; None: no rule matches (the default level, None)
    line: int | None
    level: str  # the level the policy gives these requests
    omits_response: bool  # the rule omits ResponseComplete, the stage the saved queries read
    queries: dict[str, str]  # saved query → the level it needs
    requests: tuple[str, ...]
    events: int


def probes(need: Any) -> list[Request]:
    """Representative requests a need covers: each of its resources and verbs, by a person, a workload and an admin."""
    requests = []
    for group, resource in _targets(need):
        name, _, subresource = resource.partition("/")
        namespace = None if name in CLUSTER_SCOPED else "payments"
        for verb in need.verbs or ANY_VERB:
            for user, groups in PROBE_USERS:
                requests.append(Request(user, groups, verb, group, name, subresource or None, namespace, "example"))
    return requests


def _targets(need: Any) -> list[tuple[str, str]]:
    """(API group, resource[/subresource]) a need reads; a need naming no resource reads the common ones."""
    return [(need.group, resource) for resource in need.resources] if need.resources else list(ANY_RESOURCE)


def is_unmet(decision: Decision, need: Any) -> bool:
    """Whether a decision logs a request too little for a need (a lower level, or without ResponseComplete)."""
    return not level_at_least(decision.level, need.level) or "ResponseComplete" in decision.omit_stages


def losses(policy: Policy, needs: Iterable[tuple[str, Any]], observed: Iterable[tuple[Request, int]] = ()) -> list[Loss]:
    """What the saved queries would lose under `policy`, one entry per root cause, in rule order.

    Args:
        policy: the Policy, evaluated as kube-apiserver does.
        needs: (saved query name, need) pairs; each need is checked on its representative requests (`probes`).
        observed: (request, events) of the completed requests in a window of real data: they count the events
            of each cause, and find the causes the representative requests miss (a rule for one real user), for
            the needs that name their resources.
    """
    causes: dict[tuple[int | None, str, bool], dict[str, Any]] = {}

    def cause(decision: Decision) -> dict[str, Any]:
        key = (decision.rule.index if decision.rule else None, decision.level, "ResponseComplete" in decision.omit_stages)
        return causes.setdefault(key, {"rule": decision.rule, "queries": {}, "shapes": {}, "events": 0})

    def record(entry: dict[str, Any], query: str, need: Any, request: Request, kind: str | None) -> None:
        if LEVELS.index(need.level) > LEVELS.index(entry["queries"].get(query, "None")):
            entry["queries"][query] = need.level
        shape = entry["shapes"].setdefault((request.api_group, _target(request)), {"verbs": set(), "kinds": set()})
        shape["verbs"].add(request.verb)
        shape["kinds"].add(kind)

    needs = list(needs)
    for query, need in needs:
        for request in probes(need):
            decision = evaluate(policy, request)
            if is_unmet(decision, need):
                record(cause(decision), query, need, request, PROBE_KINDS[request.user or ""])
    for request, events in observed:
        decision = evaluate(policy, request)
        unmet = [(query, need) for query, need in needs if _reads(need, request) and is_unmet(decision, need)]
        if unmet:
            entry = cause(decision)
            entry["events"] += events
            for query, need in unmet:
                record(entry, query, need, request, None)
    result = []
    for (index, level, omits_response), entry in sorted(causes.items(), key=lambda item: (item[0][0] is None, item[0][0] or 0, item[0][1:])):
        result.append(Loss(None if index is None else index + 1, entry["rule"].line if entry["rule"] else None, level, omits_response,
                           dict(sorted(entry["queries"].items())), _shapes_text(entry["shapes"]), entry["events"]))
    return result


def _target(request: Request) -> str:
    return (request.resource or "") + (f"/{request.subresource}" if request.subresource else "")


def _reads(need: Any, request: Request) -> bool:
    """Whether a stored request is one a need names (its resources and verbs).

    A need naming no resource ("every request, at Metadata") is left to its representative requests: in the data
    it would match the system traffic (kube-proxy's watches, heartbeats) a policy drops on purpose.
    """
    return (bool(need.resources) and request.resource is not None and (request.api_group, _target(request)) in _targets(need)
            and request.verb in (need.verbs or ANY_VERB))


def _shapes_text(shapes: dict[tuple[str, str], dict[str, set[Any]]]) -> tuple[str, ...]:
    """One line per set of verbs (and who makes the requests, when not everyone): the resources with those verbs.

    >>> everyone = {"people", "service accounts", "administrators (system:masters)"}
    >>> _shapes_text({("apps", "deployments"): {"verbs": {"update", "create"}, "kinds": everyone},
    ...               ("", "pods"): {"verbs": {"create", "update"}, "kinds": everyone},
    ...               ("", "nodes"): {"verbs": {"get"}, "kinds": {None}}})
    ('get: nodes, by some users of the window', 'create, update: pods, deployments (apps)')
    """
    lines: dict[tuple[tuple[str, ...], str], list[str]] = {}
    for (group, target), shape in sorted(shapes.items()):
        verbs = tuple([verb for verb in ANY_VERB if verb in shape["verbs"]] + sorted(shape["verbs"] - set(ANY_VERB)))
        named = [kind for kind in PROBE_KINDS.values() if kind in shape["kinds"]]
        who = "" if len(named) == len(PROBE_KINDS) else f", by {' and '.join(named)}" if named else ", by some users of the window"
        lines.setdefault((verbs, who), []).append(target + (f" ({group})" if group else ""))
    return tuple(f"{', '.join(verbs)}: {', '.join(targets)}{who}" for (verbs, who), targets in lines.items())


def describe_loss(loss: Loss) -> list[str]:
    """A loss as lines of text: its cause, the saved queries it affects by the level they need, the requests.

    >>> for line in describe_loss(Loss(1, 5, "Metadata", False, {"image-changes": "RequestResponse"}, ("patch: deployments (apps)",), 12)):
    ...     print(line)
    rule 1 (line 5) logs them at Metadata (12 events of these requests in the window)
      queries needing RequestResponse: image-changes
      requests:
        patch: deployments (apps)
    """
    if loss.rule is None:
        cause = "no rule matches them: not logged (the default level is None)"
    else:
        cause = f"rule {loss.rule} (line {loss.line}) logs them at {loss.level}" + (
            ", without the ResponseComplete stage the saved queries read" if loss.omits_response else "")
    lines = [f"{cause} ({loss.events:,} event{'' if loss.events == 1 else 's'} of these requests in the window)"]
    for level in reversed(LEVELS):
        names = [name for name, needed in loss.queries.items() if needed == level]
        if names:
            lines.append(f"  queries needing {level}: {', '.join(names)}")
    return lines + ["  requests:"] + [f"    {shape}" for shape in loss.requests]


# ---- a recommended policy -------------------------------------------------------------------------
def recommend(needs: list[Any], purpose: str) -> str:
    """A Policy that keeps every need met at the lowest volume, with a comment on every rule (YAML text)."""
    lines = [
        f"# Audit policy recommended by auditlake for {purpose}.",
        "# Every rule says why it is there. Check it with: auditlake policy check THIS_FILE",
        "apiVersion: audit.k8s.io/v1",
        "kind: Policy",
        "# RequestReceived would log every request twice; ResponseComplete (and ResponseStarted for",
        "# long-running requests) carries everything the saved queries read.",
        "omitStages: [RequestReceived]",
        "omitManagedFields: true",
        "rules:",
        "  # High-volume system traffic that no saved query reads: kube-proxy's watches, leader-election",
        "  # and node heartbeats (leases), events, and health checks.",
        "  - level: None",
        "    users: [system:kube-proxy]",
        "    verbs: [watch]",
        "    resources:",
        '      - {group: "", resources: [endpoints, services, services/status]}',
        "      - {group: discovery.k8s.io, resources: [endpointslices]}",
        "  - level: None",
        "    users: [system:kube-controller-manager, system:kube-scheduler, system:apiserver]",
        "    verbs: [get, update]",
        "    resources:",
        "      - {group: coordination.k8s.io, resources: [leases]}",
        "  - level: None",
        "    userGroups: [system:nodes]",
        "    verbs: [get, update, patch]",
        "    resources:",
        "      - {group: coordination.k8s.io, resources: [leases]}",
        "  - level: None",
        "    verbs: [create, update, patch, get, list, watch]  # deleting events is logged: it erases the cluster's trail",
        "    resources:",
        '      - {group: "", resources: [events]}',
        "      - {group: events.k8s.io, resources: [events]}",
        "  - level: None",
        "    nonResourceURLs: [/healthz*, /livez*, /readyz*, /version, /metrics]",
        "  # Secrets, ConfigMaps and token reviews: who touched them, never their contents (values and",
        "  # tokens would otherwise be written to the log). On purpose, this leaves the configmap-with-credentials",
        "  # detection without the ConfigMap bodies it searches: a credential in a ConfigMap would be copied here.",
        "  - level: Metadata",
        "    resources:",
        '      - {group: "", resources: [secrets, configmaps]}',
        "      - {group: authentication.k8s.io, resources: [tokenreviews]}",
        "  # Token requests: the request (audiences, expiry, the pod it is bound to), never the response (the token).",
        "  - level: Request",
        "    resources:",
        '      - {group: "", resources: [serviceaccounts/token]}',
    ]
    settled_above = {(group, resource) for resource, group, *_ in SENSITIVE_PROBES}  # the Metadata and token rules below
    grouped: dict[tuple[str, str], dict[str, set[str]]] = {}
    for need in needs:
        if need.level == "Metadata" or not need.resources:
            continue
        entry = grouped.setdefault((need.level, need.group), {"resources": set(), "verbs": set()})
        entry["resources"].update(name for name in need.resources if (need.group, name) not in settled_above)
        entry["verbs"].update(need.verbs or ANY_VERB)
    for (level, group), entry in grouped.items():  # what a RequestResponse rule already logs needs no Request rule
        fuller = grouped.get(("RequestResponse", group))
        if level == "Request" and fuller and entry["verbs"] <= fuller["verbs"]:
            entry["resources"] -= fuller["resources"]
    for level in ("RequestResponse", "Request"):
        for (need_level, group), entry in sorted(grouped.items()):
            if need_level != level or not entry["resources"]:
                continue
            lines += [
                f"  # {level} for {', '.join(sorted(entry['resources']))}{f' ({group})' if group else ''}: saved queries read "
                f"{'the response bodies' if level == 'RequestResponse' else 'the request bodies'} of these writes.",
                f"  - level: {level}",
                f"    verbs: [{', '.join(sorted(entry['verbs'], key=ANY_VERB.index))}]",
                "    resources:",
                f"      - {{group: {group or chr(34) * 2}, resources: [{', '.join(sorted(entry['resources']))}]}}",
            ]
    lines += [
        "  # Everything else at Metadata: who, what, when, from where and the outcome, for every request",
        "  # (the evidence PCI-DSS 10.2 and HIPAA 164.312(b) ask for), without bodies.",
        "  - level: Metadata",
    ]
    return "\n".join(lines) + "\n"
