"""The audit Policy model: `audit.k8s.io/v1` Policy, Rule and GroupResources, loaded from YAML with line numbers.

Owns: the dataclasses a Policy file becomes, the validation kube-apiserver applies when it loads one
(k8s.io/apiserver/pkg/apis/audit/validation/validation.go), with every error naming the file and line,
and the vocabulary shared by the other policy modules (levels, stages, a `Finding`). Never evaluates a
request (evaluate.py) and never touches a lake or a terminal.
"""

from __future__ import annotations

import re
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
class Finding:
    """One thing wrong with a policy or the apiserver's flags (`lint`, `check_apiserver`), with the line it is on."""

    severity: str  # error, warning, info
    code: str
    line: int | None
    message: str


def level_at_least(level: str, minimum: str) -> bool:
    """Whether `level` logs at least as much as `minimum` (None < Metadata < Request < RequestResponse)."""
    return LEVELS.index(level) >= LEVELS.index(minimum)


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
