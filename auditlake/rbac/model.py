"""RBAC as the apiserver evaluates it: a request's attributes, a PolicyRule, whether the rule authorises the request.

Owns: `Request` (the attributes an authorizer sees, read from one audit event: verb, API group, resource,
subresource, namespace, name, or a non-resource path), `Rule` (an rbac.authorization.k8s.io/v1 PolicyRule),
`authorizes` (the match kube-apiserver's RBAC authorizer makes: `*` wildcards, `resource/subresource`,
resourceNames, nonResourceURLs with a trailing `*`), `is_sensitive` (the grants an auditor reviews first) and
`describe` (a rule in one line), `subject_for` (the subject a command names). Pure: no SQL, no lake, no terminal.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from auditlake.errors import QueryError

RBAC_GROUP = "rbac.authorization.k8s.io"
SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"
# The grants an auditor reviews first (PCI-DSS 7.2.x): reading Secrets, a shell in a pod or on a node, acting as
# someone else, and granting oneself more (escalate, bind); any `*` grants all of these.
SENSITIVE_RESOURCES = frozenset({"secrets", "pods/exec", "pods/attach", "nodes/proxy"})
SENSITIVE_VERBS = frozenset({"impersonate", "escalate", "bind"})


@dataclass(frozen=True, order=True)
class Request:
    """What the authorizer saw of one request (audit2rbac's `AttributesRecord`); `path` for non-resource requests."""

    verb: str
    api_group: str = ""
    resource: str = ""  # empty: a non-resource request (`/healthz`, `/apis`)
    subresource: str = ""
    namespace: str = ""  # empty: cluster-scoped, or across all namespaces
    name: str = ""
    path: str = ""  # the request URI without its query, for non-resource requests

    @property
    def is_resource_request(self) -> bool:
        return bool(self.resource)

    @property
    def resource_path(self) -> str:
        """`pods/exec`, as RBAC rules name a subresource."""
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource

    def text(self) -> str:
        """`list secrets in ns1`, `get pods/log payments/api-1`, `get /healthz`: one request in words.

        >>> Request("get", resource="pods", subresource="log", namespace="web", name="nginx-1").text()
        'get pods/log web/nginx-1'
        """
        if not self.is_resource_request:
            return f"{self.verb} {self.path}"
        kind = self.resource_path + (f".{self.api_group}" if self.api_group else "")
        if self.name:
            return f"{self.verb} {kind} {self.namespace + '/' if self.namespace else ''}{self.name}"
        return f"{self.verb} {kind}" + (f" in {self.namespace}" if self.namespace else " cluster-wide")


@dataclass(frozen=True, order=True)
class Rule:
    """An rbac.authorization.k8s.io/v1 PolicyRule; every list sorted and without repeats (two equal rules compare equal)."""

    api_groups: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ()
    resource_names: tuple[str, ...] = ()
    non_resource_urls: tuple[str, ...] = ()

    @classmethod
    def of(cls, api_groups: Iterable[str] = (), resources: Iterable[str] = (), verbs: Iterable[str] = (),
           resource_names: Iterable[str] = (), non_resource_urls: Iterable[str] = ()) -> Rule:
        return cls(*(tuple(sorted(set(items))) for items in (api_groups, resources, verbs, resource_names, non_resource_urls)))

    @classmethod
    def from_body(cls, raw: Mapping[str, Any]) -> Rule:
        """A rule as the API returns it (`apiGroups`, `resources`, `verbs`, `resourceNames`, `nonResourceURLs`)."""
        def strings(key: str) -> list[str]:
            value = raw.get(key) or []
            return [str(item) for item in value] if isinstance(value, list) else []

        return cls.of(strings("apiGroups"), strings("resources"), strings("verbs"), strings("resourceNames"), strings("nonResourceURLs"))

    def to_body(self) -> dict[str, Any]:
        """The rule as RBAC YAML writes it: only the keys it sets, in the order `kubectl get -o yaml` prints them."""
        body: dict[str, Any] = {}
        if self.api_groups or self.resources:
            body["apiGroups"] = list(self.api_groups)
        if self.non_resource_urls:
            body["nonResourceURLs"] = list(self.non_resource_urls)
        if self.resource_names:
            body["resourceNames"] = list(self.resource_names)
        if self.resources:
            body["resources"] = list(self.resources)
        body["verbs"] = list(self.verbs)
        return body


def authorizes(rule: Rule, request: Request) -> bool:
    """Whether `rule` allows `request`, as kube-apiserver's RBAC authorizer decides (rbac/v1 helpers `RuleAllows`).

    >>> authorizes(Rule.of([""], ["pods/exec"], ["create"]), Request("create", resource="pods", subresource="exec", name="a"))
    True
    >>> authorizes(Rule.of([""], ["pods"], ["get"], ["a"]), Request("get", resource="pods", name="b"))
    False
    >>> authorizes(Rule.of(verbs=["get"], non_resource_urls=["/apis/*"]), Request("get", path="/apis/apps"))
    True
    """
    if not _matches(rule.verbs, request.verb):
        return False
    if not request.is_resource_request:
        return any(url == "*" or url == request.path or (url.endswith("*") and request.path.startswith(url[:-1]))
                   for url in rule.non_resource_urls)
    if not _matches(rule.api_groups, request.api_group):
        return False
    if not _resource_matches(rule.resources, request):
        return False
    return not rule.resource_names or request.name in rule.resource_names


def _matches(allowed: tuple[str, ...], value: str) -> bool:
    return "*" in allowed or value in allowed


def _resource_matches(resources: tuple[str, ...], request: Request) -> bool:
    """rbac/v1 `ResourceMatches`: `*`, `resource/subresource` exactly, or `*/subresource` (there is no `pods/*`)."""
    combined = request.resource_path
    return any(resource in ("*", combined) or (bool(request.subresource) and resource == f"*/{request.subresource}")
               for resource in resources)


def is_sensitive(rule: Rule) -> bool:
    """Whether a rule grants what an auditor reviews first: Secrets, exec/attach, nodes/proxy, impersonate/escalate/bind, or `*`.

    >>> is_sensitive(Rule.of([""], ["configmaps"], ["get"])), is_sensitive(Rule.of([""], ["pods/exec"], ["create"]))
    (False, True)
    """
    if "*" in rule.verbs or "*" in rule.resources or "*" in rule.api_groups or "*" in rule.non_resource_urls:
        return True
    if set(rule.verbs) & SENSITIVE_VERBS:
        return True
    return any(resource in SENSITIVE_RESOURCES or resource.endswith(("/exec", "/attach", "/proxy")) for resource in rule.resources)


def describe(rule: Rule) -> str:
    """One rule in one line: `get,list,watch configmaps,pods` (`apps/deployments`, `secrets [db-password]`, `get /healthz`).

    >>> describe(Rule.of(["", "apps"], ["deployments"], ["get"], ["api"]))
    'get deployments,apps/deployments [api]'
    """
    verbs = ",".join(rule.verbs)
    if not rule.resources:
        return f"{verbs} {','.join(rule.non_resource_urls)}"
    kinds = ",".join(f"{group}/{resource}" if group else resource for group in rule.api_groups or ("",) for resource in rule.resources)
    return f"{verbs} {kinds}" + (f" [{','.join(rule.resource_names)}]" if rule.resource_names else "")


@dataclass(frozen=True, order=True)
class Subject:
    """A binding's subject: `User`, `Group` or `ServiceAccount` (with its namespace)."""

    kind: str
    name: str
    namespace: str = ""

    @classmethod
    def for_user(cls, username: str) -> Subject:
        """The subject a username binds as: `system:serviceaccount:NS:NAME` is that ServiceAccount, else a User."""
        if username.startswith(SERVICE_ACCOUNT_PREFIX) and username.count(":") == 3:
            namespace, name = username[len(SERVICE_ACCOUNT_PREFIX):].split(":")
            return cls("ServiceAccount", name, namespace)
        return cls("User", username)

    @property
    def username(self) -> str:
        """The user name requests carry (`system:serviceaccount:ci:deployer`), or the group's name."""
        return f"{SERVICE_ACCOUNT_PREFIX}{self.namespace}:{self.name}" if self.kind == "ServiceAccount" else self.name

    def to_body(self) -> dict[str, Any]:
        if self.kind == "ServiceAccount":
            return {"kind": "ServiceAccount", "name": self.name, "namespace": self.namespace}
        return {"apiGroup": RBAC_GROUP, "kind": self.kind, "name": self.name}

    def text(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}" if self.kind == "ServiceAccount" else f"{self.kind} {self.name}"

    def covers(self, username: str, groups: Iterable[str]) -> bool:
        """Whether a request by `username` in `groups` is a request of this subject (a Group subject: any member)."""
        return self.name in groups if self.kind == "Group" else self.username == username


def subject_for(user: str | None = None, serviceaccount: str | None = None) -> Subject:
    """The subject a command names: `--user NAME` or `--serviceaccount NS:NAME` (exactly one).

    >>> subject_for(serviceaccount="ci:deployer").username
    'system:serviceaccount:ci:deployer'
    """
    if bool(user) == bool(serviceaccount):
        raise QueryError("name exactly one subject: --user NAME or --serviceaccount NAMESPACE:NAME")
    if serviceaccount:
        namespace, _, name = serviceaccount.partition(":")
        if not namespace or not name or ":" in name:
            raise QueryError(f"--serviceaccount {serviceaccount!r}: give it as NAMESPACE:NAME", hint="e.g. --serviceaccount ci:deployer")
        return Subject("ServiceAccount", name, namespace)
    return Subject.for_user(str(user))


def subject_from_body(raw: Mapping[str, Any], binding_namespace: str = "") -> Subject | None:
    """A binding's subject as the API returns it (a ServiceAccount without a namespace is in the binding's); None if malformed."""
    kind, name = raw.get("kind"), raw.get("name")
    if kind not in ("User", "Group", "ServiceAccount") or not isinstance(name, str) or not name:
        return None
    namespace = str(raw.get("namespace") or binding_namespace) if kind == "ServiceAccount" else ""
    return Subject(str(kind), name, namespace)
