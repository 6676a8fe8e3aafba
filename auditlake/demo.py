"""A synthetic cluster whose audit log looks like the kube-apiserver's, for the demo and benchmarks.

Owns: a seeded simulation of one cluster's API traffic (leases, kubelets, controllers, a CI
service account rolling out deployments with RequestResponse bodies, humans reading secrets,
exec-ing into pods and binding roles, failed 401/403 requests), late in the run the attack stories people
emulate against Kubernetes (`ATTACK_TECHNIQUES`: dump all secrets, steal a service-account token, an admin
ClusterRole, a client certificate, a long-lived token, a hostPath breakout, nodes/proxy, a privileged pod,
each at a recorded time by a recorded actor), a least-privilege story for `auditlake rbac unused` (a reporting
exporter whose Role grants more than it uses, `EXPORTER_RULES`), and writing it the way the log backend does:
one Event per line, rotated by size into `audit-<time>.log[.gz]` files.
It never touches a lake: `Lake.demo` ingests what this writes through the normal ingest path.

The simulation records its own ground truth (`DemoTruth`) so tests can check the lake against
what really happened rather than against another reading of the same file. The attack stories and the
workloads' own API calls they need as history draw from their own random streams, so adding them left
every other request of a seed as it was.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import heapq
import random
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import orjson

K8S_VERSION = "v1.31.2"
K8S_COMMIT = "5864a46"
DEFAULT_START = datetime(2026, 11, 1, tzinfo=UTC)  # fixed, so that a seed always gives the same bytes


def recent_start(days: float = 3.0) -> datetime:
    """A start that makes the simulated days end about now (so `--since 7d` finds the demo)."""
    now = datetime.now(UTC)
    return now.replace(minute=0, second=0, microsecond=0) - timedelta(days=days)

NODES = [f"ip-10-0-{i // 4 + 1}-{10 + i}.eu-west-1.compute.internal" for i in range(6)]
NODE_IPS = {node: f"10.0.{i // 4 + 1}.{10 + i}" for i, node in enumerate(NODES)}
NODE_UIDS = {node: str(uuid.UUID(int=(i + 1) * 7_919_113, version=4)) for i, node in enumerate(NODES)}
NODE_CERTS = {node: f"{(i + 1) * 0x9E3779B97F4A7C15:064x}"[-64:] for i, node in enumerate(NODES)}

HUMANS = {
    "alice@example.com": ("oidc:sre", "203.0.113.10", "darwin/arm64"),
    "bob@example.com": ("oidc:developers", "198.51.100.23", "linux/amd64"),
    "carol@example.com": ("oidc:security", "203.0.113.77", "windows/amd64"),
}
CI_USER = "system:serviceaccount:ci:deployer"
ADMIN_USER = "kubernetes-admin"
BASTION_IP = "192.0.2.15"
APISERVER_UID = "2f3b6a7e-5c1d-4e8f-9a0b-1c2d3e4f5a6b"
RESTART_LISTS = (("namespaces", ""), ("services", ""), ("endpoints", ""), ("secrets", ""), ("configmaps", ""),
                 ("serviceaccounts", ""), ("limitranges", ""), ("resourcequotas", ""),
                 ("clusterroles", "rbac.authorization.k8s.io"), ("clusterrolebindings", "rbac.authorization.k8s.io"),
                 ("validatingwebhookconfigurations", "admissionregistration.k8s.io"), ("priorityclasses", "scheduling.k8s.io"))
CI_AGENTS = ("argocd-application-controller/v2.12.3+6b9cd82 (linux/amd64)", "Helm/3.15.2")
WORKLOADS = {
    ("payments", "api"): ("registry.example.com/payments/api", 3),
    ("payments", "worker"): ("registry.example.com/payments/worker", 2),
    ("checkout", "frontend"): ("registry.example.com/checkout/frontend", 4),
    ("web", "nginx"): ("docker.io/library/nginx", 2),
    ("monitoring", "prometheus"): ("quay.io/prometheus/prometheus", 1),
}
EXEC_COMMANDS = (["sh"], ["cat", "/etc/passwd"], ["env"], ["sh", "-c", "curl -s http://10.0.0.1:8080/metrics"])

# The workloads whose service accounts call the API themselves, from their pod's address with their own client:
# the history against which a stolen token used elsewhere, by curl, stands out.
WORKLOAD_CLIENTS = {
    ("payments", "api"): ("10.244.1.17", "api/v0.0.0 (linux/amd64) kubernetes/$Format"),
    ("checkout", "frontend"): ("10.244.2.31", "frontend/v0.0.0 (linux/amd64) kubernetes/$Format"),
}
PROMETHEUS_IP = "10.0.2.33"
# Where stolen credentials are used from: a VPN address no identity of the cluster used before. It is private, so no
# per-event rule about public addresses can judge it; only an identity's history can.
ATTACKER_IP = "10.8.0.34"
CURL = "curl/8.5.0"
# The least-privilege story (auditlake rbac unused): early in the run alice grants the reporting exporter's service account a
# Role that allows more than it uses, a binding to the default ClusterRole `view` (whose body no write in the log shows) and
# a binding to a Role created at Metadata level (no body); the exporter then reads its ConfigMap and lists pods, all run long.
EXPORTER = ("web", "report-exporter")
EXPORTER_ROLE = "report-reader"
EXPORTER_RULES: tuple[dict[str, Any], ...] = (
    {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]},  # used: get its ConfigMap
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]},  # used: list pods
    {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]},  # never used (sensitive)
    {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create"]},  # never used (sensitive)
    {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list"]},  # never used
)
EXPORTER_CALLS = tuple(round(0.05 + index * 0.1, 2) for index in range(10))  # fractions of the run: a call every ~7 hours
ATTACK_WINDOW = (0.80, 0.972)  # the stories start in this part of the run, so every identity has days of history first


@dataclass
class DemoChange:
    """One successful write the simulation made to a workload (the truth history tests compare to)."""

    at: str
    audit_id: str
    namespace: str
    name: str
    verb: str
    user: str
    summary: str


@dataclass(frozen=True)
class AttackTechnique:
    """One attack the simulated cluster suffers, and the detections that find it (the README's coverage table)."""

    name: str  # the story's name, e.g. "dump-all-secrets"
    technique: str  # Microsoft's Threat Matrix for Kubernetes technique, as the matrix names it
    threat_matrix_id: str  # its id there, e.g. MS-TA9025
    attack_ids: tuple[str, ...]  # MITRE ATT&CK techniques
    story: str  # what the simulated attacker does, in one line
    detections: tuple[str, ...]  # the per-event detections that find one of its requests (tests/test_attack_stories.py checks)
    stateful: tuple[str, ...]  # the stateful detections that find it: history or a sequence, not one event


@dataclass(frozen=True)
class AttackStory:
    """One attack as the simulation ran it: who, when, and the audit ids of its requests."""

    name: str
    technique: str
    threat_matrix_id: str
    attack_ids: tuple[str, ...]
    actor: str  # the identity that carried the attack (other identities may appear in its steps)
    started_at: str  # requestReceivedTimestamp of its first request
    audit_ids: tuple[str, ...]  # every request of the story, in order
    steps: tuple[tuple[str, str], ...]  # (step, audit id) of the requests a test names, e.g. ("use-from-new-network", "…")

    def step(self, name: str) -> str:
        return dict(self.steps)[name]


@dataclass
class DemoTruth:
    """What the simulation really did, counted independently of any audit-log parser."""

    events: int = 0
    requests: int = 0
    by_stage: Counter[str] = field(default_factory=Counter)
    by_verb: Counter[str] = field(default_factory=Counter)
    secret_values: set[str] = field(default_factory=set)
    changes: list[DemoChange] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    first_at: str = ""
    last_at: str = ""
    stories: Counter[str] = field(default_factory=Counter)  # how often each scenario ran, e.g. stories["admin_action"]
    attacks: list[AttackStory] = field(default_factory=list)  # the attack stories, in the order they started
    attack_requests: list[dict[str, Any]] = field(default_factory=list)  # the final event of each of their requests


ATTACK_TECHNIQUES: tuple[AttackTechnique, ...] = (
    AttackTechnique(
        "dump-all-secrets", "List K8S secrets", "MS-TA9025", ("T1552.007",),
        "checkout's frontend token (RCE in the pod, curl) lists every secret of the cluster, then reads 18 of them one by one; "
        "minutes later a legacy token among them (monitoring/grafana, never used before) is used from the same pod",
        ("secret-read", "secrets-dumped-across-namespaces", "secrets-listed"),
        ("first-secret-read-in-namespace", "first-user-agent-for-identity", "rare-service-account-verb", "secrets-listed-then-new-identity")),
    AttackTechnique(
        "steal-service-account-token", "Container service account", "MS-TA9016", ("T1528", "T1550.001"),
        "bob mints a day-long token for payments/api (`kubectl create token`); minutes later that token lists pods and reads "
        "a secret from a VPN address, with curl",
        ("disallowed-user", "secret-read", "service-account-created", "service-account-token-created"),
        ("first-secret-read-in-namespace", "first-source-network-for-identity", "first-user-agent-for-identity", "rare-service-account-verb",
         "token-then-use-elsewhere")),
    AttackTechnique(
        "admin-clusterrole", "Cluster-admin binding", "MS-TA9019", ("T1098.006", "T1078"),
        "payments/api (kubectl in the pod) is refused ten times, five of them on nodes; CI's stolen token creates a ClusterRole with `*` verbs "
        "and resources and binds it to payments/api, which then lists nodes and secrets",
        ("pod-in-kube-namespace", "resource-created-or-deleted", "role-with-wildcard", "rolebinding-modified", "secrets-listed",
         "unauthorized-or-unauthenticated"),
        ("denied-burst-then-allowed", "first-secret-read-in-namespace", "grant-then-use", "rare-service-account-verb")),
    AttackTechnique(
        "client-certificate", "Kubeconfig file", "MS-TA9003", ("T1649", "T1098.001"),
        "bob requests a client certificate for `ops-breakglass` in group oidc:sre (cluster-admin), approves it and reads it; "
        "the certificate then lists kube-system's secrets from a VPN address",
        ("client-certificate-requested", "disallowed-user", "secrets-listed"),
        ("first-cluster-admin-use", "first-secret-read-in-namespace")),
    AttackTechnique(
        "long-lived-token", "Container service account", "MS-TA9016", ("T1098.001", "T1528"),
        "alice creates a service-account-token Secret for ci/deployer and reads it, and requests a year-long token for it; "
        "the token then lists deployments from a VPN address, with curl",
        ("disallowed-user", "resource-created-or-deleted", "secret-modified-or-deleted", "secret-read",
         "service-account-created", "service-account-token-created"),
        ("first-secret-read-in-namespace", "first-source-network-for-identity", "first-user-agent-for-identity", "rare-service-account-verb",
         "token-then-use-elsewhere")),
    AttackTechnique(
        "hostpath-breakout", "Writable hostPath mount", "MS-TA9013", ("T1611", "T1609"),
        "bob runs an alpine pod in default mounting the node's / and, two minutes later, execs `chroot /host /bin/sh` into it",
        ("disallowed-user", "enumeration-tooling", "exec-or-attach", "hostpath-mount", "sensitive-mount-pod"),
        ("first-exec-into-namespace", "privileged-pod-then-exec")),
    AttackTechnique(
        "nodes-proxy", "Access Kubelet API", "MS-TA9030", ("T1613", "T1609"),
        "Prometheus's token (it may get nodes/proxy to scrape) asks a kubelet for its pods with curl, then runs a shell in "
        "kube-proxy through the kubelet's exec (a GET on nodes/proxy)",
        ("enumeration-tooling",),
        ("first-user-agent-for-identity",)),
    AttackTechnique(
        "privileged-pod", "Privileged container", "MS-TA9018", ("T1610", "T1611"),
        "CI's stolen token creates a privileged ubuntu pod sharing the node's PIDs in payments and, four minutes later, execs "
        "`nsenter` into the node",
        ("exec-or-attach", "host-pid-pod", "privileged-pod"),
        ("privileged-pod-then-exec", "rare-service-account-verb")),
)


def coverage_markdown() -> str:
    """The README's coverage table: each attack technique of the simulated cluster and the detections that find it."""
    lines = ["| technique (Threat Matrix for Kubernetes) | ATT&CK | the simulated story | per-event detections that find it "
             "| stateful detections that find it (history, sequence) |", "|---|---|---|---|---|"]
    for item in ATTACK_TECHNIQUES:
        found = ", ".join(f"`{name}`" for name in item.detections)
        stateful = ", ".join(f"`{name}`" for name in item.stateful)
        lines.append(f"| {item.technique} ({item.threat_matrix_id}) | {', '.join(item.attack_ids)} | `{item.name}`: {item.story} "
                     f"| {found} | {stateful} |")
    return "\n".join(lines)


class _Clock:
    """Simulated time in integer microseconds, formatted as the apiserver does (RFC 3339, µs, Z)."""

    def __init__(self, start: datetime) -> None:
        self.epoch_us = int(start.timestamp() * 1_000_000)
        self.now_us = self.epoch_us
        self._cached_second = -1
        self._cached_prefix = ""

    def format(self, micros: int) -> str:
        second, fraction = divmod(micros, 1_000_000)
        if second != self._cached_second:
            self._cached_second = second
            self._cached_prefix = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        return f"{self._cached_prefix}.{fraction:06d}Z"


class ClusterSimulation:
    """A seeded cluster: call `events()` to get audit Events as dicts, in the order they are logged."""

    def __init__(self, requests: int, seed: int = 7, start: datetime = DEFAULT_START, days: float = 3.0, attacks: bool = True):
        self.random = random.Random(seed)
        self.uuid_random = random.Random(seed + 1)
        self.request_count = requests
        self.clock = _Clock(start)
        self.mean_gap_us = max(1, int(days * 86_400_000_000 / max(requests, 1)))
        self.truth = DemoTruth()
        self.pod_uids: dict[str, str] = {}
        self.namespace_serial = 0
        self.csr_serial = 0
        self.sa_uids: dict[tuple[str, str], str] = {}
        self.resource_version = 100_000
        self.workloads: dict[tuple[str, str], dict[str, Any]] = {
            key: {"image": image, "tag": [1, 4, 0], "replicas": replicas, "uid": self._uuid(), "generation": 1,
                  "env": [{"name": "LOG_LEVEL", "value": "info"}, {"name": "REGION", "value": "eu-west-1"}]}
            for key, (image, replicas) in WORKLOADS.items()
        }
        self.pods = {key: [self._pod_name(key[1]) for _ in range(state["replicas"])] for key, state in self.workloads.items()}
        scenarios = [
            (self._lease_renewal, 30),
            (self._kubelet_read, 20),
            (self._controller_watch, 12),
            (self._controller_status_update, 14),
            (self._kubelet_event, 8),
            (self._health_probe, 5),
            (self._ci_rollout, 0.12),
            (self._env_change, 0.03),
            (self._scale, 0.05),
            (self._configmap_update, 0.3),
            (self._human_secret_read, 0.4),
            (self._exec_into_pod, 0.15),
            (self._role_binding, 0.06),
            (self._secret_create, 0.08),
            (self._unauthenticated, 0.3),
            (self._forbidden, 0.3),
            (self._impersonated_read, 0.1),
            (self._token_request, 0.4),
            (self._pod_log_read, 0.1),
            (self._pod_replacement, 0.1),
            (self._port_forward_or_attach, 0.04),
            (self._secret_listing, 0.03),
            (self._namespace_lifecycle, 0.02),
            (self._crd_or_webhook_change, 0.02),
            (self._certificate_request, 0.02),
            (self._node_proxy, 0.02),
            (self._admin_action, 0.03),
            (self._audit_log_access, 0.01),
            (self._apiserver_restart, 0.005),
        ]
        self.scenarios = [s for s, _ in scenarios]
        self.weights = [w for _, w in scenarios]
        # The attack stories and the workloads' own API calls ("the layer"): planned ahead at absolute times, drawn from
        # their own random streams, so that every other request of a seed comes out as it did before they existed.
        self.layer_random = random.Random(seed + 2)
        self.layer_uuid_random = random.Random(seed + 3)
        self.layer_sa_uids: dict[tuple[str, str], str] = {}
        self.layer_pod_uids: dict[str, str] = {}
        self.layer: list[tuple[int, int, Callable[[], list[tuple[int, dict[str, Any]]]]]] = []
        self.exporter_random, self.exporter_uuid_random = random.Random(seed + 4), random.Random(seed + 5)  # the least-privilege story's
        if attacks:
            self._plan_layer(requests, days)

    # ---- helpers ------------------------------------------------------------------------------
    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.uuid_random.getrandbits(128), version=4))

    def _pod_name(self, deployment: str) -> str:
        letters = "bcdfghjklmnpqrstvwxz2456789"
        pick = self.random.choice
        return f"{deployment}-{''.join(pick(letters) for _ in range(10))}-{''.join(pick(letters) for _ in range(5))}"

    def _next_rv(self) -> str:
        self.resource_version += self.random.randint(1, 40)
        return str(self.resource_version)

    @staticmethod
    def _agent(component: str, platform: str = "linux/amd64") -> str:
        return f"{component}/{K8S_VERSION} ({platform}) kubernetes/{K8S_COMMIT}"

    def _request(
        self,
        *,
        user: dict[str, Any],
        verb: str,
        uri: str,
        agent: str,
        ip: str,
        object_ref: dict[str, Any] | None = None,
        level: str = "Metadata",
        code: int = 200,
        duration_us: int = 2_000,
        request_object: dict[str, Any] | None = None,
        response_object: dict[str, Any] | None = None,
        failure: tuple[str, str] | None = None,
        long_running: bool = False,
        decision: str | None = "allow",
        authz_reason: str = "",
        impersonated: dict[str, Any] | None = None,
        extra_annotations: dict[str, str] | None = None,
    ) -> list[tuple[int, dict[str, Any]]]:
        """The events one request produces, with their stage times in µs: RequestReceived, [ResponseStarted], ResponseComplete."""
        received = self.clock.now_us
        audit_id = self._uuid()
        base: dict[str, Any] = {
            "kind": "Event",
            "apiVersion": "audit.k8s.io/v1",
            "level": level,
            "auditID": audit_id,
            "stage": "RequestReceived",
            "requestURI": uri,
            "verb": verb,
            "user": user,
        }
        if impersonated:
            base["impersonatedUser"] = impersonated
        base["sourceIPs"] = [ip]
        base["userAgent"] = agent
        if object_ref:
            base["objectRef"] = object_ref
        received_text = self.clock.format(received)
        base["requestReceivedTimestamp"] = received_text
        base["stageTimestamp"] = received_text
        events = [(received, base)]
        status: dict[str, Any] = {"metadata": {}, "code": code}
        if failure:
            status = {"metadata": {}, "status": "Failure", "message": failure[1], "reason": failure[0], "code": code}
        annotations: dict[str, str] = {}
        if decision:
            annotations = {"authorization.k8s.io/decision": decision, "authorization.k8s.io/reason": authz_reason}
        if extra_annotations:
            annotations.update(extra_annotations)
        if long_running:
            started = dict(base, stage="ResponseStarted", responseStatus={"metadata": {}, "code": 101 if verb == "create" else 200})
            started["stageTimestamp"] = self.clock.format(received + 900)
            if annotations:
                started["annotations"] = annotations
            events.append((received + 900, started))
        complete = dict(base, stage="ResponseComplete")
        if level in ("Request", "RequestResponse") and request_object is not None:
            complete["requestObject"] = request_object
        complete["responseStatus"] = status
        if level == "RequestResponse" and response_object is not None:
            complete["responseObject"] = response_object
        complete["stageTimestamp"] = self.clock.format(received + duration_us)
        if annotations:
            complete["annotations"] = annotations
        events.append((received + duration_us, complete))
        return events

    def _human(self, name: str) -> tuple[dict[str, Any], str, str]:
        group, ip, platform = HUMANS[name]
        user = {"username": name, "groups": [group, "system:authenticated"]}
        return user, ip, self._agent("kubectl", platform)

    def _node_user(self, node: str) -> dict[str, Any]:
        # kubelets authenticate with client certificates; 1.31 apiservers log the certificate's id
        return {"username": f"system:node:{node}", "groups": ["system:nodes", "system:authenticated"],
                "extra": {"authentication.kubernetes.io/credential-id": [f"X509SHA256={NODE_CERTS[node]}"]}}

    @staticmethod
    def _system_user(name: str) -> dict[str, Any]:
        return {"username": name, "groups": ["system:authenticated"]}

    def _service_account(self, namespace: str, name: str, node: str, pod: str) -> dict[str, Any]:
        """A bound service-account token, with the extras 1.30+ apiservers record."""
        return {
            "username": f"system:serviceaccount:{namespace}:{name}", "uid": self.sa_uids.setdefault((namespace, name), self._uuid()),
            "groups": ["system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"],
            "extra": {"authentication.kubernetes.io/credential-id": [f"JTI={self._uuid()}"],
                      "authentication.kubernetes.io/node-name": [node], "authentication.kubernetes.io/node-uid": [NODE_UIDS[node]],
                      "authentication.kubernetes.io/pod-name": [pod], "authentication.kubernetes.io/pod-uid": [self.pod_uids.setdefault(pod, self._uuid())]},
        }

    # ---- background traffic --------------------------------------------------------------------
    def _lease_renewal(self) -> list[tuple[int, dict[str, Any]]]:
        pick = self.random.random()
        if pick < 0.6:
            node = self.random.choice(NODES)
            user, ns, name, agent, ip = self._node_user(node), "kube-node-lease", node, self._agent("kubelet"), NODE_IPS[node]
        else:
            component = "kube-controller-manager" if pick < 0.8 else "kube-scheduler"
            user, ns, name = self._system_user(f"system:{component}"), "kube-system", component
            agent, ip = self._agent(component) + "/leader-election", "10.0.0.10"
        ref = {"resource": "leases", "namespace": ns, "name": name, "apiGroup": "coordination.k8s.io", "apiVersion": "v1"}
        uri = f"/apis/coordination.k8s.io/v1/namespaces/{ns}/leases/{name}?timeout=10s"
        return self._request(user=user, verb="update", uri=uri, agent=agent, ip=ip, object_ref=ref, duration_us=3_100)

    def _kubelet_read(self) -> list[tuple[int, dict[str, Any]]]:
        node = self.random.choice(NODES)
        (ns, deployment), pods = self.random.choice(list(self.pods.items()))
        resource = self.random.choice(["pods", "configmaps", "secrets", "nodes"])
        if resource == "nodes":
            ref = {"resource": "nodes", "name": node, "apiVersion": "v1"}
            uri = f"/api/v1/nodes/{node}?resourceVersion=0&timeout=10s"
        else:
            name = self.random.choice(pods) if resource == "pods" else f"{deployment}-{'config' if resource == 'configmaps' else 'credentials'}"
            ref = {"resource": resource, "namespace": ns, "name": name, "apiVersion": "v1"}
            uri = f"/api/v1/namespaces/{ns}/{resource}/{name}"
        return self._request(
            user=self._node_user(node), verb="get", uri=uri, agent=self._agent("kubelet"), ip=NODE_IPS[node],
            object_ref=ref, duration_us=900, authz_reason="",
        )

    def _controller_watch(self) -> list[tuple[int, dict[str, Any]]]:
        user_name, component = self.random.choice(
            [("system:kube-proxy", "kube-proxy"), ("system:kube-controller-manager", "kube-controller-manager"),
             ("system:kube-scheduler", "kube-scheduler")]
        )
        resource, group = self.random.choice([("pods", ""), ("endpointslices", "discovery.k8s.io"), ("nodes", ""), ("services", "")])
        prefix = f"/apis/{group}/v1" if group else "/api/v1"
        ref = {"resource": resource, "apiVersion": "v1"}
        if group:
            ref["apiGroup"] = group
        if self.random.random() < 0.5:
            uri = f"{prefix}/{resource}?allowWatchBookmarks=true&resourceVersion={self.resource_version}&timeout=7m12s&timeoutSeconds=432&watch=true"
            return self._request(
                user=self._system_user(user_name), verb="watch", uri=uri, agent=self._agent(component), ip="10.0.0.10",
                object_ref=ref, long_running=True, duration_us=432_000_000,
            )
        uri = f"{prefix}/{resource}?limit=500&resourceVersion=0"
        return self._request(
            user=self._system_user(user_name), verb="list", uri=uri, agent=self._agent(component), ip="10.0.0.10",
            object_ref=ref, duration_us=12_000,
        )

    def _controller_status_update(self) -> list[tuple[int, dict[str, Any]]]:
        (ns, deployment), pods = self.random.choice(list(self.pods.items()))
        node = self.random.choice(NODES)
        pick = self.random.random()
        if pick < 0.4:
            pod = self.random.choice(pods)
            ref = {"resource": "pods", "namespace": ns, "name": pod, "uid": self.pod_uids.setdefault(pod, self._uuid()), "apiVersion": "v1",
                   "subresource": "status"}
            uri = f"/api/v1/namespaces/{ns}/pods/{pod}/status"
            now = self.clock.format(self.clock.now_us)[:19] + "Z"
            patch = {"metadata": {"uid": ref["uid"]}, "status": {
                "$setElementOrder/conditions": [{"type": t} for t in ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")],
                "conditions": [{"lastTransitionTime": now, "status": "True", "type": "Ready"},
                               {"lastTransitionTime": now, "status": "True", "type": "ContainersReady"}],
                "containerStatuses": [{"containerID": f"containerd://{self.random.getrandbits(256):064x}", "image": f"{WORKLOADS[(ns, deployment)][0]}:1.4.0",
                                       "imageID": f"{WORKLOADS[(ns, deployment)][0]}@sha256:{self.random.getrandbits(256):064x}",
                                       "lastState": {}, "name": deployment, "ready": True, "restartCount": 0, "started": True,
                                       "state": {"running": {"startedAt": now}}}]}}
            return self._request(
                user=self._node_user(node), verb="patch", uri=uri, agent=self._agent("kubelet"), ip=NODE_IPS[node],
                object_ref=ref, level="Request", request_object=patch,
            )
        if pick < 0.55:  # the kubelet's node status heartbeat: conditions and the images it holds
            ref = {"resource": "nodes", "name": node, "uid": NODE_UIDS[node], "apiVersion": "v1", "subresource": "status"}
            now = self.clock.format(self.clock.now_us)[:19] + "Z"
            images = [{"names": [f"{image}@sha256:{hashlib.sha256(image.encode()).hexdigest()}", f"{image}:1.4.0"],
                       "sizeBytes": 30_000_000 + len(image) * 1_000}
                      for image, _ in WORKLOADS.values()]
            patch = {"status": {"$setElementOrder/conditions": [{"type": t} for t in ("MemoryPressure", "DiskPressure", "PIDPressure", "Ready")],
                                "conditions": [{"lastHeartbeatTime": now, "type": t} for t in ("MemoryPressure", "DiskPressure", "PIDPressure", "Ready")],
                                "images": images}}
            return self._request(
                user=self._node_user(node), verb="patch", uri=f"/api/v1/nodes/{node}/status?timeout=10s", agent=self._agent("kubelet"),
                ip=NODE_IPS[node], object_ref=ref, level="Request", request_object=patch, duration_us=4_000,
            )
        ref = {"resource": "replicasets", "namespace": ns, "name": f"{deployment}-7d9f8b6c5d", "apiGroup": "apps",
               "apiVersion": "v1", "subresource": "status", "uid": self.workloads[(ns, deployment)]["uid"], "resourceVersion": self._next_rv()}
        uri = f"/apis/apps/v1/namespaces/{ns}/replicasets/{deployment}-7d9f8b6c5d/status"
        user = self._service_account("kube-system", "replicaset-controller", NODES[0], "kube-controller-manager-" + NODES[0].split(".")[0])
        return self._request(
            user=user, verb="update", uri=uri, agent=self._agent("kube-controller-manager") + "/system:serviceaccount:kube-system:replicaset-controller",
            ip="10.0.0.10", object_ref=ref,
        )

    def _kubelet_event(self) -> list[tuple[int, dict[str, Any]]]:
        node = self.random.choice(NODES)
        (ns, _), pods = self.random.choice(list(self.pods.items()))
        name = f"{self.random.choice(pods)}.{self.random.getrandbits(64):016x}"
        ref = {"resource": "events", "namespace": ns, "name": name, "apiVersion": "v1"}
        return self._request(
            user=self._node_user(node), verb="create", uri=f"/api/v1/namespaces/{ns}/events", agent=self._agent("kubelet"),
            ip=NODE_IPS[node], object_ref=ref, code=201,
        )

    def _health_probe(self) -> list[tuple[int, dict[str, Any]]]:
        path = self.random.choice(["/healthz", "/readyz", "/livez", "/version"])
        user = {"username": "system:anonymous", "groups": ["system:unauthenticated"]}
        reason = 'RBAC: allowed by ClusterRoleBinding "system:public-info-viewer" of ClusterRole "system:public-info-viewer" to Group "system:unauthenticated"'
        return self._request(user=user, verb="get", uri=path, agent="kube-probe/1.31", ip="10.0.0.1", authz_reason=reason)

    # ---- the stories people ask about ----------------------------------------------------------
    def _deployment_object(self, ns: str, name: str, state: dict[str, Any], rv: str) -> dict[str, Any]:
        image = f"{state['image']}:{'.'.join(map(str, state['tag']))}"
        labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": ns}
        return {
            "kind": "Deployment",
            "apiVersion": "apps/v1",
            "metadata": {
                "name": name, "namespace": ns, "uid": state["uid"], "resourceVersion": rv,
                "generation": state["generation"], "creationTimestamp": "2026-10-01T09:00:00Z", "labels": labels,
                "annotations": {"deployment.kubernetes.io/revision": str(state["generation"])},
                "managedFields": [{"manager": "argocd-controller", "operation": "Apply", "apiVersion": "apps/v1",
                                   "time": self.clock.format(self.clock.now_us)[:19] + "Z", "fieldsType": "FieldsV1",
                                   "fieldsV1": {"f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:containers": {}}}}}}],
            },
            "spec": {
                "replicas": state["replicas"],
                "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "serviceAccountName": name,
                        "containers": [{
                            "name": name, "image": image, "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                            "env": [dict(item) for item in state["env"]],
                            "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}},
                            "imagePullPolicy": "IfNotPresent",
                        }],
                        "restartPolicy": "Always", "terminationGracePeriodSeconds": 30,
                    },
                },
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
            },
            "status": {"observedGeneration": state["generation"] - 1, "replicas": state["replicas"],
                       "readyReplicas": state["replicas"], "availableReplicas": state["replicas"]},
        }

    def _ci_user(self) -> dict[str, Any]:
        return {"username": CI_USER, "uid": "5f0c3a1e-1d7e-4c2b-9a55-0d3b2f1c9e10",
                "groups": ["system:serviceaccounts", "system:serviceaccounts:ci", "system:authenticated"]}

    def _create_deployment(self, ns: str, name: str) -> list[tuple[int, dict[str, Any]]]:
        """The first write of a workload: CI applies it (so its history starts from a known state)."""
        state = self.workloads[(ns, name)]
        body = self._deployment_object(ns, name, state, self._next_rv())
        request = {key: value for key, value in body.items() if key != "status"}
        request["metadata"] = {"name": name, "namespace": ns, "labels": body["metadata"]["labels"]}
        ref = {"resource": "deployments", "namespace": ns, "name": name, "apiGroup": "apps", "apiVersion": "v1"}
        events = self._request(user=self._ci_user(), verb="create", uri=f"/apis/apps/v1/namespaces/{ns}/deployments?fieldManager=argocd-controller",
                               agent=CI_AGENTS[0], ip="10.0.3.21", object_ref=ref, level="RequestResponse", request_object=request,
                               response_object=body, code=201)
        self.truth.changes.append(DemoChange(events[-1][1]["requestReceivedTimestamp"], events[-1][1]["auditID"], ns, name, "create",
                                             CI_USER, "created"))
        return events

    def _env_change(self) -> list[tuple[int, dict[str, Any]]]:
        (ns, name), state = self.random.choice(list(self.workloads.items()))
        names = [item["name"] for item in state["env"]]
        if self.random.random() < 0.5 or len(names) <= 2:
            flag = f"FEATURE_{self.random.choice(['CHECKOUT_V2', 'FAST_REFUNDS', 'NEW_SEARCH', 'DARK_MODE'])}"
            if flag in names:
                state["env"] = [item for item in state["env"] if item["name"] != flag]
                change, patch_env = f"env {flag} removed", [{"name": flag, "$patch": "delete"}]
            else:
                state["env"] = [*state["env"], {"name": flag, "value": "true"}]
                change, patch_env = f"env {flag} added", [{"name": flag, "value": "true"}]
        else:
            level = "debug" if state["env"][0]["value"] == "info" else "info"
            state["env"] = [{"name": "LOG_LEVEL", "value": level}, *state["env"][1:]]
            change, patch_env = "env LOG_LEVEL changed", [{"name": "LOG_LEVEL", "value": level}]
        state["generation"] += 1
        patch = {"spec": {"template": {"spec": {"containers": [{"name": name, "env": patch_env}]}}}}
        ref = {"resource": "deployments", "namespace": ns, "name": name, "uid": state["uid"], "apiGroup": "apps", "apiVersion": "v1"}
        events = self._request(user=self._ci_user(), verb="patch", uri=f"/apis/apps/v1/namespaces/{ns}/deployments/{name}?fieldManager=helm",
                               agent=CI_AGENTS[1], ip="10.0.3.21", object_ref=ref, level="RequestResponse", request_object=patch,
                               response_object=self._deployment_object(ns, name, state, self._next_rv()), duration_us=12_000)
        self.truth.changes.append(DemoChange(events[-1][1]["requestReceivedTimestamp"], events[-1][1]["auditID"], ns, name, "patch",
                                             CI_USER, change))
        return events

    def _ci_rollout(self) -> list[tuple[int, dict[str, Any]]]:
        (ns, name), state = self.random.choice(list(self.workloads.items()))
        old_image = f"{state['image']}:{'.'.join(map(str, state['tag']))}"
        tag = state["tag"]
        if self.random.random() < 0.2:
            state["tag"] = [tag[0], tag[1] + 1, 0]
        else:
            state["tag"] = [tag[0], tag[1], tag[2] + 1]
        state["generation"] += 1
        new_image = f"{state['image']}:{'.'.join(map(str, state['tag']))}"
        rv = self._next_rv()
        agent = self.random.choice(CI_AGENTS)
        patch = {"spec": {"template": {"spec": {"containers": [{"name": name, "image": new_image}]}}}}
        ref = {"resource": "deployments", "namespace": ns, "name": name, "uid": state["uid"], "apiGroup": "apps", "apiVersion": "v1"}
        events = self._request(
            user=self._ci_user(),
            verb="patch", uri=f"/apis/apps/v1/namespaces/{ns}/deployments/{name}?fieldManager=argocd-controller",
            agent=agent, ip="10.0.3.21", object_ref=ref, level="RequestResponse", request_object=patch,
            response_object=self._deployment_object(ns, name, state, rv), duration_us=15_000,
            authz_reason=f'RBAC: allowed by RoleBinding "deployer/{ns}" of ClusterRole "edit" to ServiceAccount "deployer/ci"',
        )
        self.truth.changes.append(DemoChange(events[-1][1]["requestReceivedTimestamp"], events[-1][1]["auditID"], ns, name, "patch",
                                             CI_USER, f"image {old_image.rsplit('/', 1)[-1]} → {new_image.rsplit('/', 1)[-1]}"))
        return events

    def _scale(self) -> list[tuple[int, dict[str, Any]]]:
        (ns, name), state = self.random.choice(list(self.workloads.items()))
        old = state["replicas"]
        state["replicas"] = self.random.choice([old + step for step in (-2, -1, 1, 2, 5) if old + step >= 1])  # always a real change
        user, ip, agent = self._human("alice@example.com")
        ref = {"resource": "deployments", "namespace": ns, "name": name, "apiGroup": "apps", "apiVersion": "v1", "subresource": "scale"}
        body = {"kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": {"name": name, "namespace": ns},
                "spec": {"replicas": state["replicas"]}}
        events = self._request(
            user=user, verb="patch", uri=f"/apis/apps/v1/namespaces/{ns}/deployments/{name}/scale", agent=agent, ip=ip,
            object_ref=ref, level="RequestResponse", request_object={"spec": {"replicas": state["replicas"]}},
            response_object=dict(body, status={"replicas": old}),
            authz_reason='RBAC: allowed by ClusterRoleBinding "sre-admin" of ClusterRole "cluster-admin" to Group "oidc:sre"',
        )
        self.truth.changes.append(DemoChange(events[-1][1]["requestReceivedTimestamp"], events[-1][1]["auditID"], ns, name, "patch",
                                             user["username"], f"replicas {old} → {state['replicas']}"))
        return events

    def _configmap_update(self) -> list[tuple[int, dict[str, Any]]]:
        (ns, name), _ = self.random.choice(list(self.workloads.items()))
        cm = f"{name}-config"
        body = {"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": cm, "namespace": ns, "resourceVersion": self._next_rv()},
                "data": {"LOG_LEVEL": self.random.choice(["info", "debug", "warn"]), "FEATURE_FLAGS": "checkout-v2,fast-refunds"}}
        ref = {"resource": "configmaps", "namespace": ns, "name": cm, "apiVersion": "v1"}
        return self._request(
            user={"username": CI_USER, "groups": ["system:serviceaccounts", "system:serviceaccounts:ci", "system:authenticated"]},
            verb="update", uri=f"/api/v1/namespaces/{ns}/configmaps/{cm}", agent=CI_AGENTS[1], ip="10.0.3.21",
            object_ref=ref, level="Request", request_object=body,
        )

    def _human_secret_read(self) -> list[tuple[int, dict[str, Any]]]:
        name = self.random.choice(list(HUMANS))
        user, ip, agent = self._human(name)
        (ns, deployment), _ = self.random.choice(list(self.workloads.items()))
        secret = f"{deployment}-credentials"
        ref = {"resource": "secrets", "namespace": ns, "name": secret, "apiVersion": "v1"}
        return self._request(user=user, verb="get", uri=f"/api/v1/namespaces/{ns}/secrets/{secret}", agent=agent, ip=ip,
                             object_ref=ref, authz_reason='RBAC: allowed by ClusterRoleBinding "sre-admin" of ClusterRole "cluster-admin" to Group "oidc:sre"')

    def _exec_into_pod(self) -> list[tuple[int, dict[str, Any]]]:
        name = self.random.choice(["alice@example.com", "bob@example.com"])
        user, ip, agent = self._human(name)
        (ns, deployment), pods = self.random.choice(list(self.pods.items()))
        pod = self.random.choice(pods)
        from urllib.parse import quote

        command = "&".join(f"command={quote(part, safe='')}" for part in self.random.choice(EXEC_COMMANDS))
        uri = f"/api/v1/namespaces/{ns}/pods/{pod}/exec?{command}&container={deployment}&stdin=true&stdout=true&tty=true"
        ref = {"resource": "pods", "namespace": ns, "name": pod, "apiVersion": "v1", "subresource": "exec"}
        return self._request(user=user, verb="create", uri=uri, agent=agent, ip=ip, object_ref=ref, long_running=True,
                             duration_us=95_000_000, code=101)

    def _role_binding(self) -> list[tuple[int, dict[str, Any]]]:
        user, ip, agent = self._human("alice@example.com")
        cluster_wide = self.random.random() < 0.2
        subject = self.random.choice(["bob@example.com", "carol@example.com"])
        role = "cluster-admin" if cluster_wide else self.random.choice(["edit", "view"])
        ns = self.random.choice(["payments", "checkout", "web"])
        name = f"{subject.split('@')[0]}-{role}"
        body: dict[str, Any] = {
            "kind": "ClusterRoleBinding" if cluster_wide else "RoleBinding", "apiVersion": "rbac.authorization.k8s.io/v1",
            "metadata": {"name": name} if cluster_wide else {"name": name, "namespace": ns},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            "subjects": [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": subject}],
        }
        resource = "clusterrolebindings" if cluster_wide else "rolebindings"
        ref: dict[str, Any] = {"resource": resource, "name": name, "apiGroup": "rbac.authorization.k8s.io", "apiVersion": "v1"}
        uri = f"/apis/rbac.authorization.k8s.io/v1/{resource}" if cluster_wide else f"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/{resource}"
        if not cluster_wide:
            ref["namespace"] = ns
        return self._request(user=user, verb="create", uri=uri, agent=agent, ip=ip, object_ref=ref, level="RequestResponse",
                             request_object=body,
                             response_object=dict(body, metadata=dict(body["metadata"], uid=self._uuid(), resourceVersion=self._next_rv())),
                             code=201)

    def _secret_create(self) -> list[tuple[int, dict[str, Any]]]:
        (ns, deployment), _ = self.random.choice(list(self.workloads.items()))
        name = f"{deployment}-token-{self.random.getrandbits(20):05x}"
        password = f"s3cr3t-{self.random.getrandbits(64):016x}"
        api_key = f"ak_live_{self.random.getrandbits(96):024x}"
        data = {"password": base64.b64encode(password.encode()).decode(), "api-key": base64.b64encode(api_key.encode()).decode()}
        self.truth.secret_values.update([password, api_key, *data.values()])
        applied = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": ns}, "type": "Opaque", "data": data}
        body: dict[str, Any] = {
            "kind": "Secret", "apiVersion": "v1",
            "metadata": {"name": name, "namespace": ns, "annotations": {
                "kubectl.kubernetes.io/last-applied-configuration": orjson.dumps(applied).decode() + "\n"}},
            "data": data, "type": "Opaque",
        }
        ref = {"resource": "secrets", "namespace": ns, "name": name, "apiVersion": "v1"}
        return self._request(
            user={"username": CI_USER, "groups": ["system:serviceaccounts", "system:serviceaccounts:ci", "system:authenticated"]},
            verb="create", uri=f"/api/v1/namespaces/{ns}/secrets?fieldManager=kubectl-client-side-apply", agent=self._agent("kubectl"),
            ip="10.0.3.21", object_ref=ref, level="RequestResponse", request_object=body,
            response_object=dict(body, metadata=dict(body["metadata"], uid=self._uuid(), resourceVersion=self._next_rv())), code=201,
        )

    def _unauthenticated(self) -> list[tuple[int, dict[str, Any]]]:
        ip = f"45.{self.random.randint(1, 250)}.{self.random.randint(1, 250)}.{self.random.randint(1, 250)}"
        uri = self.random.choice(["/api/v1/namespaces/kube-system/secrets", "/apis", "/api/v1/pods", "/.env"])
        return self._request(user={"groups": ["system:unauthenticated"]}, verb="list" if "secrets" in uri or "pods" in uri else "get",
                             uri=uri, agent="python-requests/2.31.0", ip=ip, code=401,
                             failure=("Unauthorized", "Unauthorized"), decision=None, duration_us=300)

    def _forbidden(self) -> list[tuple[int, dict[str, Any]]]:
        user, ip, agent = self._human("bob@example.com")
        ns = self.random.choice(["kube-system", "payments"])
        ref = {"resource": "secrets", "namespace": ns, "apiVersion": "v1"}
        message = f'secrets is forbidden: User "bob@example.com" cannot list resource "secrets" in API group "" in the namespace "{ns}"'
        return self._request(user=user, verb="list", uri=f"/api/v1/namespaces/{ns}/secrets?limit=500", agent=agent, ip=ip,
                             object_ref=ref, code=403, failure=("Forbidden", message), decision="forbid")

    def _impersonated_read(self) -> list[tuple[int, dict[str, Any]]]:
        user, ip, agent = self._human("alice@example.com")
        ns = "payments"
        ref = {"resource": "pods", "namespace": ns, "apiVersion": "v1"}
        impersonated = {"username": "system:serviceaccount:payments:api",
                        "groups": ["system:serviceaccounts", "system:serviceaccounts:payments", "system:authenticated"]}
        return self._request(user=user, verb="list", uri=f"/api/v1/namespaces/{ns}/pods?limit=500", agent=agent, ip=ip,
                             object_ref=ref, impersonated=impersonated)

    def _token_request(self) -> list[tuple[int, dict[str, Any]]]:
        """Kubelets mint a bound token for every pod's service account (create serviceaccounts/token)."""
        node = self.random.choice(NODES)
        (ns, deployment), pods = self.random.choice(list(self.pods.items()))
        ref = {"resource": "serviceaccounts", "namespace": ns, "name": deployment, "apiVersion": "v1", "subresource": "token"}
        body = {"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
                "spec": {"audiences": ["https://kubernetes.default.svc"], "expirationSeconds": 3607,
                         "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": self.random.choice(pods)}}}
        return self._request(user=self._node_user(node), verb="create", uri=f"/api/v1/namespaces/{ns}/serviceaccounts/{deployment}/token",
                             agent=self._agent("kubelet"), ip=NODE_IPS[node], object_ref=ref, level="Request", request_object=body, code=201)

    def _pod_log_read(self) -> list[tuple[int, dict[str, Any]]]:
        user, ip, agent = self._human(self.random.choice(["alice@example.com", "bob@example.com"]))
        (ns, deployment), pods = self.random.choice(list(self.pods.items()))
        pod = self.random.choice(pods)
        follow = "&follow=true" if self.random.random() < 0.3 else ""
        ref = {"resource": "pods", "namespace": ns, "name": pod, "apiVersion": "v1", "subresource": "log"}
        return self._request(user=user, verb="get", uri=f"/api/v1/namespaces/{ns}/pods/{pod}/log?container={deployment}{follow}",
                             agent=agent, ip=ip, object_ref=ref, duration_us=40_000_000 if follow else 30_000)

    def _pod_replacement(self) -> list[tuple[int, dict[str, Any]]]:
        """The ReplicaSet controller deletes a pod and the scheduler places its replacement."""
        (ns, deployment), pods = self.random.choice(list(self.pods.items()))
        old = pods.pop(self.random.randrange(len(pods)))
        pods.append(self._pod_name(deployment))
        user = self._service_account("kube-system", "replicaset-controller", NODES[0], "kube-controller-manager-" + NODES[0].split(".")[0])
        ref = {"resource": "pods", "namespace": ns, "name": old, "apiVersion": "v1"}
        return self._request(user=user, verb="delete", uri=f"/api/v1/namespaces/{ns}/pods/{old}",
                             agent=self._agent("kube-controller-manager") + "/system:serviceaccount:kube-system:replicaset-controller",
                             ip="10.0.0.10", object_ref=ref)

    def _port_forward_or_attach(self) -> list[tuple[int, dict[str, Any]]]:
        user, ip, agent = self._human("bob@example.com")
        (ns, deployment), pods = self.random.choice(list(self.pods.items()))
        pod = self.random.choice(pods)
        if self.random.random() < 0.5:
            ref = {"resource": "pods", "namespace": ns, "name": pod, "apiVersion": "v1", "subresource": "portforward"}
            uri = f"/api/v1/namespaces/{ns}/pods/{pod}/portforward"
        else:
            ref = {"resource": "pods", "namespace": ns, "name": pod, "apiVersion": "v1", "subresource": "attach"}
            uri = f"/api/v1/namespaces/{ns}/pods/{pod}/attach?container={deployment}&stdin=true&stdout=true&tty=true"
        return self._request(user=user, verb="create", uri=uri, agent=agent, ip=ip,
                             object_ref=ref, long_running=True, duration_us=120_000_000, code=101)

    def _secret_listing(self) -> list[tuple[int, dict[str, Any]]]:
        user, ip, agent = self._human("carol@example.com")
        ref = {"resource": "secrets", "apiVersion": "v1"}
        return self._request(user=user, verb="list", uri="/api/v1/secrets?limit=500", agent=agent, ip=ip, object_ref=ref,
                             authz_reason='RBAC: allowed by ClusterRoleBinding "security-audit" of ClusterRole "view-secrets" to Group "oidc:security"')

    def _namespace_lifecycle(self) -> list[tuple[int, dict[str, Any]]]:
        user, ip, agent = self._human("alice@example.com")
        self.namespace_serial += 1
        name = f"preview-{self.namespace_serial}"
        verb = "create" if self.namespace_serial % 2 else "delete"
        if verb == "delete":
            name = f"preview-{self.namespace_serial - 1}"
        ref = {"resource": "namespaces", "name": name, "apiVersion": "v1"}
        body = {"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": name, "labels": {"purpose": "preview"}}}
        return self._request(user=user, verb=verb, uri="/api/v1/namespaces" + ("" if verb == "create" else f"/{name}"), agent=agent, ip=ip,
                             object_ref=ref, level="RequestResponse" if verb == "create" else "Metadata",
                             request_object=body if verb == "create" else None, response_object=body if verb == "create" else None,
                             code=201 if verb == "create" else 200)

    def _crd_or_webhook_change(self) -> list[tuple[int, dict[str, Any]]]:
        user = {"username": CI_USER, "groups": ["system:serviceaccounts", "system:serviceaccounts:ci", "system:authenticated"]}
        if self.random.random() < 0.5:
            ref = {"resource": "customresourcedefinitions", "name": "certificates.cert-manager.io", "apiGroup": "apiextensions.k8s.io",
                   "apiVersion": "v1"}
            uri = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/certificates.cert-manager.io"
        else:
            ref = {"resource": "mutatingwebhookconfigurations", "name": "cert-manager-webhook", "apiGroup": "admissionregistration.k8s.io",
                   "apiVersion": "v1"}
            uri = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/cert-manager-webhook"
        return self._request(user=user, verb="patch", uri=uri + "?fieldManager=helm", agent=CI_AGENTS[1], ip="10.0.3.21", object_ref=ref)

    def _certificate_request(self) -> list[tuple[int, dict[str, Any]]]:
        self.csr_serial += 1
        name = f"csr-{self.csr_serial:05d}"
        ref = {"resource": "certificatesigningrequests", "name": name, "apiGroup": "certificates.k8s.io", "apiVersion": "v1"}
        node = self.random.choice(NODES)
        request = self._request(
            user=self._node_user(node), verb="create", uri="/apis/certificates.k8s.io/v1/certificatesigningrequests", agent=self._agent("kubelet"),
            ip=NODE_IPS[node], object_ref=ref, level="Request", code=201,
            request_object={"kind": "CertificateSigningRequest", "apiVersion": "certificates.k8s.io/v1", "metadata": {"generateName": "csr-"},
                            "spec": {"signerName": "kubernetes.io/kubelet-serving", "usages": ["digital signature", "server auth"]}})
        approver = self._service_account("kube-system", "certificate-controller", NODES[0], "kube-controller-manager-" + NODES[0].split(".")[0])
        self.clock.now_us += 50_000
        approval = self._request(
            user=approver, verb="update", uri=f"/apis/certificates.k8s.io/v1/certificatesigningrequests/{name}/approval",
            agent=self._agent("kube-controller-manager"), ip="10.0.0.10", object_ref=dict(ref, subresource="approval"))
        return request + approval

    def _node_proxy(self) -> list[tuple[int, dict[str, Any]]]:
        user = self._service_account("monitoring", "prometheus", NODES[1], "prometheus-0")
        node = self.random.choice(NODES)
        ref = {"resource": "nodes", "name": node, "apiVersion": "v1", "subresource": "proxy"}
        return self._request(user=user, verb="get", uri=f"/api/v1/nodes/{node}/proxy/metrics/cadvisor", agent="Prometheus/2.54.1",
                             ip="10.0.2.33", object_ref=ref)

    def _admin_action(self) -> list[tuple[int, dict[str, Any]]]:
        """The break-glass kubeconfig (system:masters) used from the bastion: what PCI 10.2.1.2 wants listed."""
        user = {"username": ADMIN_USER, "groups": ["system:masters", "system:authenticated"]}
        agent = self._agent("kubectl")
        node = self.random.choice(NODES)
        choice = self.random.randrange(3)
        if choice == 0:
            return self._request(user=user, verb="list", uri="/api/v1/nodes?limit=500", agent=agent, ip=BASTION_IP,
                                 object_ref={"resource": "nodes", "apiVersion": "v1"}, authz_reason="")
        if choice == 1:
            ref = {"resource": "nodes", "name": node, "apiVersion": "v1"}
            return self._request(user=user, verb="patch", uri=f"/api/v1/nodes/{node}", agent=agent, ip=BASTION_IP, object_ref=ref)
        ref = {"resource": "clusterrolebindings", "apiGroup": "rbac.authorization.k8s.io", "apiVersion": "v1"}
        return self._request(user=user, verb="list", uri="/apis/rbac.authorization.k8s.io/v1/clusterrolebindings?limit=500", agent=agent,
                             ip=BASTION_IP, object_ref=ref)

    def _audit_log_access(self) -> list[tuple[int, dict[str, Any]]]:
        """Someone reads the apiserver's own logs or its audit policy (PCI 10.2.1.3)."""
        user, ip, agent = self._human("carol@example.com")
        if self.random.random() < 0.5:
            pod = "kube-apiserver-" + NODES[0].split(".")[0]
            ref = {"resource": "pods", "namespace": "kube-system", "name": pod, "apiVersion": "v1", "subresource": "log"}
            return self._request(user=user, verb="get", uri=f"/api/v1/namespaces/kube-system/pods/{pod}/log?container=kube-apiserver",
                                 agent=agent, ip=ip, object_ref=ref, duration_us=80_000)
        ref = {"resource": "configmaps", "namespace": "kube-system", "name": "audit-policy", "apiVersion": "v1"}
        return self._request(user=user, verb="get", uri="/api/v1/namespaces/kube-system/configmaps/audit-policy", agent=agent, ip=ip,
                             object_ref=ref)

    def _apiserver_restart(self) -> list[tuple[int, dict[str, Any]]]:
        """A restarted apiserver lists every kind it caches, as system:apiserver, within a second or two (PCI 10.2.1.6)."""
        user = {"username": "system:apiserver", "uid": APISERVER_UID, "groups": ["system:authenticated", "system:masters"]}
        events: list[tuple[int, dict[str, Any]]] = []
        for resource, group in RESTART_LISTS:
            prefix = "/api/v1" if not group else f"/apis/{group}/v1"
            ref = {"resource": resource, "apiVersion": "v1", **({"apiGroup": group} if group else {})}
            events += self._request(user=user, verb="list", uri=f"{prefix}/{resource}?limit=500&resourceVersion=0",
                                    agent=self._agent("kube-apiserver"), ip="::1", object_ref=ref, duration_us=5_000)
            self.clock.now_us += self.random.randint(5_000, 60_000)
        return events

    # ---- the layer: workloads calling the API, and the attack stories ------------------------------------
    def _plan_layer(self, requests: int, days: float) -> None:
        """When each workload call and each attack story happens: calls all run long, the stories come late."""
        rng, span, start = self.layer_random, days * 86_400_000_000, self.clock.epoch_us
        calls = max(6, min(200, requests // 250))  # per identity: a history for "first seen", a few per cent of the run
        planned: list[tuple[float, Callable[[], list[tuple[int, dict[str, Any]]]]]] = []
        for key in WORKLOAD_CLIENTS:
            planned += [(rng.uniform(0.02, 0.99), partial(self._workload_call, key)) for _ in range(calls)]
        planned += [(rng.uniform(0.02, 0.99), self._node_proxy) for _ in range(calls // 2)]
        stories = [self._attack_dump_all_secrets, self._attack_steal_service_account_token, self._attack_admin_clusterrole,
                   self._attack_client_certificate, self._attack_long_lived_token, self._attack_hostpath_breakout,
                   self._attack_nodes_proxy, self._attack_privileged_pod]
        rng.shuffle(stories)
        low, high = ATTACK_WINDOW
        slot = (high - low) / len(stories)
        planned += [(low + index * slot + rng.uniform(0, slot * 0.6), story) for index, story in enumerate(stories)]
        # The least-privilege story at fixed times, after everything the layer's stream planned (which it leaves as it was).
        planned += [(0.012, self._exporter_grants)] + [(fraction, self._exporter_call) for fraction in EXPORTER_CALLS]
        for serial, (fraction, make) in enumerate(planned):
            heapq.heappush(self.layer, (start + int(fraction * span), serial, make))

    def _run_layer(self, at: int, make: Callable[[], list[tuple[int, dict[str, Any]]]]) -> list[tuple[int, dict[str, Any]]]:
        """Run a layer request or story at its time with the layer's random streams, then give the main ones back."""
        saved = (self.random, self.uuid_random, self.clock.now_us, self.sa_uids, self.pod_uids)
        self.random, self.uuid_random, self.clock.now_us = self.layer_random, self.layer_uuid_random, at
        # uids the main stream gave are used; those the layer gives first stay the layer's, so the main stream's are its own
        self.sa_uids, self.pod_uids = {**self.layer_sa_uids, **saved[3]}, {**self.layer_pod_uids, **saved[4]}
        try:
            events = make()
        finally:
            self.layer_sa_uids.update((key, value) for key, value in self.sa_uids.items() if key not in saved[3])
            self.layer_pod_uids.update((key, value) for key, value in self.pod_uids.items() if key not in saved[4])
            self.random, self.uuid_random, self.clock.now_us, self.sa_uids, self.pod_uids = saved
        self.truth.requests += sum(1 for _, event in events if event["stage"] == "ResponseComplete")
        return events

    @staticmethod
    def _sa_groups(namespace: str) -> list[str]:
        return ["system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"]

    def _workload_user(self, namespace: str, name: str) -> dict[str, Any]:
        """The pod-bound token a workload's pod presents, from one of its current pods."""
        return self._service_account(namespace, name, self.random.choice(NODES), self.random.choice(self.pods[(namespace, name)]))

    def _token_user(self, namespace: str, name: str, jti: str | None) -> dict[str, Any]:
        """A token not bound to a pod: a TokenRequest's (credential id JTI) or a legacy Secret's (none)."""
        user: dict[str, Any] = {"username": f"system:serviceaccount:{namespace}:{name}",
                                "uid": self.sa_uids.setdefault((namespace, name), self._uuid()), "groups": self._sa_groups(namespace)}
        if jti:
            user["extra"] = {"authentication.kubernetes.io/credential-id": [f"JTI={jti}"]}
        return user

    def _workload_call(self, key: tuple[str, str]) -> list[tuple[int, dict[str, Any]]]:
        """A workload's own client reads its ConfigMap or renews its leader lease, from its pod."""
        ns, name = key
        ip, agent = WORKLOAD_CLIENTS[key]
        user = self._workload_user(ns, name)
        reason = f'RBAC: allowed by RoleBinding "{name}/{ns}" of Role "{name}" to ServiceAccount "{name}/{ns}"'
        if self.random.random() < 0.5:
            ref = {"resource": "configmaps", "namespace": ns, "name": f"{name}-config", "apiVersion": "v1"}
            return self._request(user=user, verb="get", uri=f"/api/v1/namespaces/{ns}/configmaps/{name}-config", agent=agent, ip=ip,
                                 object_ref=ref, duration_us=1_500, authz_reason=reason)
        ref = {"resource": "leases", "namespace": ns, "name": f"{name}-leader", "apiGroup": "coordination.k8s.io", "apiVersion": "v1"}
        return self._request(user=user, verb="update", uri=f"/apis/coordination.k8s.io/v1/namespaces/{ns}/leases/{name}-leader",
                             agent=agent, ip=ip, object_ref=ref, duration_us=3_000, authz_reason=reason)

    def _own_streams(self, make: Callable[[], list[tuple[int, dict[str, Any]]]]) -> list[tuple[int, dict[str, Any]]]:
        """Run `make` on the least-privilege story's own random streams: the layer's stay as they were without it."""
        saved = (self.random, self.uuid_random)
        self.random, self.uuid_random = self.exporter_random, self.exporter_uuid_random
        try:
            return make()
        finally:
            self.random, self.uuid_random = saved

    def _exporter_grants(self) -> list[tuple[int, dict[str, Any]]]:
        """alice grants the exporter a Role wider than it needs, `view` (never logged) and a Role created without a body."""
        return self._own_streams(self._write_exporter_grants)

    def _write_exporter_grants(self) -> list[tuple[int, dict[str, Any]]]:
        user, ip, agent = self._human("alice@example.com")
        ns, account = EXPORTER
        reason = 'RBAC: allowed by ClusterRoleBinding "sre-admin" of ClusterRole "cluster-admin" to Group "oidc:sre"'
        subject = {"kind": "ServiceAccount", "name": account, "namespace": ns}
        objects: list[tuple[str, dict[str, Any], str]] = [
            ("roles", {"kind": "Role", "metadata": {"name": EXPORTER_ROLE, "namespace": ns}, "rules": list(EXPORTER_RULES)}, "RequestResponse"),
            ("rolebindings", {"kind": "RoleBinding", "metadata": {"name": account, "namespace": ns}, "subjects": [subject],
                              "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": EXPORTER_ROLE}}, "RequestResponse"),
            ("rolebindings", {"kind": "RoleBinding", "metadata": {"name": f"{account}-view", "namespace": ns}, "subjects": [subject],
                              "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"}}, "RequestResponse"),
            ("roles", {"kind": "Role", "metadata": {"name": "metrics-reader", "namespace": ns},
                       "rules": [{"apiGroups": ["metrics.k8s.io"], "resources": ["pods"], "verbs": ["get", "list"]}]}, "Metadata"),
            ("rolebindings", {"kind": "RoleBinding", "metadata": {"name": f"{account}-metrics", "namespace": ns}, "subjects": [subject],
                              "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "metrics-reader"}}, "RequestResponse"),
        ]
        events: list[tuple[int, dict[str, Any]]] = []
        for resource, body, level in objects:
            body = {"apiVersion": "rbac.authorization.k8s.io/v1", **body}
            name = body["metadata"]["name"]
            ref = {"resource": resource, "namespace": ns, "name": name, "apiGroup": "rbac.authorization.k8s.io", "apiVersion": "v1"}
            # its own resourceVersion: the shared counter (`_next_rv`) would change every later object of the main stream
            response = dict(body, metadata=dict(body["metadata"], uid=self._uuid(), resourceVersion=str(self.random.randint(10_000, 99_999))))
            events += self._request(user=user, verb="create", uri=f"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/{resource}",
                                    agent=agent, ip=ip, object_ref=ref, level=level, request_object=body, response_object=response, code=201,
                                    authz_reason=reason)
            self.clock.now_us += self.random.randint(3_000_000, 20_000_000)
        return events

    def _exporter_call(self) -> list[tuple[int, dict[str, Any]]]:
        """The exporter reads its ConfigMap and lists the pods of its namespace: all its Role's rules allow that it uses."""
        return self._own_streams(self._make_exporter_call)

    def _make_exporter_call(self) -> list[tuple[int, dict[str, Any]]]:
        ns, account = EXPORTER
        user = self._service_account(ns, account, NODES[2], f"{account}-7d4b9c6f5-x2x7k")
        ip, agent = "10.244.3.12", f"{account}/v1.2.0 (linux/amd64) kubernetes/$Format"
        reason = f'RBAC: allowed by RoleBinding "{account}/{ns}" of Role "{EXPORTER_ROLE}" to ServiceAccount "{account}/{ns}"'
        events = self._request(user=user, verb="get", uri=f"/api/v1/namespaces/{ns}/configmaps/{account}-config", agent=agent, ip=ip,
                               object_ref={"resource": "configmaps", "namespace": ns, "name": f"{account}-config", "apiVersion": "v1"},
                               duration_us=1_800, authz_reason=reason)
        self.clock.now_us += self.random.randint(50_000, 400_000)
        return events + self._request(user=user, verb="list", uri=f"/api/v1/namespaces/{ns}/pods?limit=500", agent=agent, ip=ip,
                                      object_ref={"resource": "pods", "namespace": ns, "apiVersion": "v1"}, duration_us=6_500,
                                      authz_reason=reason)

    def _attack(self, name: str, actor: str, requests: list[tuple[str, list[tuple[int, dict[str, Any]]]]]) -> list[tuple[int, dict[str, Any]]]:
        """Record a story in the truth: its requests (step name, events) in order; named steps are those tests single out."""
        spec = next(item for item in ATTACK_TECHNIQUES if item.name == name)
        ids = tuple(events[-1][1]["auditID"] for _, events in requests)
        steps = tuple((step, events[-1][1]["auditID"]) for step, events in requests if step)
        started = requests[0][1][0][1]["requestReceivedTimestamp"]
        self.truth.attacks.append(AttackStory(name, spec.technique, spec.threat_matrix_id, spec.attack_ids, actor, started, ids, steps))
        self.truth.attack_requests += [events[-1][1] for _, events in requests]
        return [event for _, events in requests for event in events]

    def _later(self, low_s: float, high_s: float) -> None:
        self.clock.now_us += int(self.random.uniform(low_s, high_s) * 1_000_000)

    def _pod_body(self, ns: str, name: str, container: dict[str, Any], **spec: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        """A Pod as kubectl sends it and as the apiserver answers (uid, resourceVersion, Pending)."""
        metadata: dict[str, Any] = {"name": name, "namespace": ns, "labels": {"run": name}}
        request = {"kind": "Pod", "apiVersion": "v1", "metadata": metadata,
                   "spec": {"containers": [container], "restartPolicy": "Never", "dnsPolicy": "ClusterFirst", **spec}, "status": {}}
        response = dict(request, metadata=dict(metadata, uid=self._uuid(), resourceVersion=str(self.resource_version + self.random.randint(1, 40)),
                                                 creationTimestamp=self.clock.format(self.clock.now_us)[:19] + "Z"),
                        status={"phase": "Pending", "qosClass": "BestEffort"})
        return request, response

    def _exec(self, user: dict[str, Any], ns: str, pod: str, container: str, command: list[str], agent: str, ip: str,
              seconds: int) -> list[tuple[int, dict[str, Any]]]:
        from urllib.parse import quote

        args = "&".join(f"command={quote(part, safe='')}" for part in command)
        ref = {"resource": "pods", "namespace": ns, "name": pod, "apiVersion": "v1", "subresource": "exec"}
        uri = f"/api/v1/namespaces/{ns}/pods/{pod}/exec?{args}&container={container}&stdin=true&stdout=true&tty=true"
        return self._request(user=user, verb="create", uri=uri,
                             agent=agent, ip=ip, object_ref=ref, long_running=True, duration_us=seconds * 1_000_000, code=101)

    def _attack_dump_all_secrets(self) -> list[tuple[int, dict[str, Any]]]:
        """List every secret of the cluster, read them one by one; a legacy token among them is then used."""
        ip, _ = WORKLOAD_CLIENTS[("checkout", "frontend")]
        user = self._workload_user("checkout", "frontend")
        reason = 'RBAC: allowed by ClusterRoleBinding "frontend-secrets" of ClusterRole "secret-reader" to ServiceAccount "frontend/checkout"'
        requests = [("list-all-secrets", self._request(user=user, verb="list", uri="/api/v1/secrets", agent=CURL, ip=ip,
                                                       object_ref={"resource": "secrets", "apiVersion": "v1"}, duration_us=240_000, authz_reason=reason))]
        secrets = [(ns, f"{deployment}-credentials") for ns, deployment in WORKLOADS] + [
            ("payments", "api-tls"), ("payments", "stripe-api-key"), ("payments", "postgres-password"), ("checkout", "session-key"),
            ("web", "nginx-tls"), ("monitoring", "grafana-token-7hx2q"), ("monitoring", "alertmanager-smtp"), ("ci", "registry-push"),
            ("ci", "github-app-key"), ("kube-system", "bootstrap-token-k8x3qa"), ("kube-system", "cloud-provider-credentials"),
            ("kube-system", "etcd-backup-s3"), ("monitoring", "thanos-objstore")]
        for ns, secret in secrets:
            self._later(0.4, 3.0)
            ref = {"resource": "secrets", "namespace": ns, "name": secret, "apiVersion": "v1"}
            requests.append(("", self._request(user=user, verb="get", uri=f"/api/v1/namespaces/{ns}/secrets/{secret}", agent=CURL, ip=ip,
                                               object_ref=ref, duration_us=1_800, authz_reason=reason)))
        self._later(360, 540)
        grafana = self._token_user("monitoring", "grafana", None)  # the legacy token read above, from the same pod: first use ever
        legacy = {"authentication.k8s.io/legacy-token": "system:serviceaccount:monitoring:grafana"}
        agent = CURL
        grant = 'RBAC: allowed by ClusterRoleBinding "grafana" of ClusterRole "view" to ServiceAccount "grafana/monitoring"'
        requests.append(("new-identity", self._request(user=grafana, verb="list", uri="/api/v1/namespaces?limit=500", agent=agent, ip=ip,
                                                       object_ref={"resource": "namespaces", "apiVersion": "v1"}, authz_reason=grant,
                                                       extra_annotations=legacy)))
        self._later(5, 20)
        requests.append(("", self._request(user=grafana, verb="list", uri="/api/v1/pods?limit=500", agent=agent, ip=ip,
                                           object_ref={"resource": "pods", "apiVersion": "v1"}, duration_us=60_000, authz_reason=grant,
                                           extra_annotations=legacy)))
        return self._attack("dump-all-secrets", user["username"], requests)

    def _attack_steal_service_account_token(self) -> list[tuple[int, dict[str, Any]]]:
        """A token minted for payments/api by hand, then used from elsewhere with curl."""
        user, ip, agent = self._human("bob@example.com")
        ref = {"resource": "serviceaccounts", "namespace": "payments", "name": "api", "apiVersion": "v1", "subresource": "token"}
        body = {"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1", "metadata": {"creationTimestamp": None},
                "spec": {"audiences": None, "expirationSeconds": 86400, "boundObjectRef": None}, "status": {"token": "", "expirationTimestamp": None}}
        requests = [("token-request", self._request(
            user=user, verb="create", uri="/api/v1/namespaces/payments/serviceaccounts/api/token", agent=agent, ip=ip, object_ref=ref,
            level="Request", request_object=body, code=201,
            authz_reason='RBAC: allowed by RoleBinding "developers/payments" of ClusterRole "edit" to Group "oidc:developers"'))]
        self._later(240, 480)
        token = self._token_user("payments", "api", self._uuid())
        reason = 'RBAC: allowed by RoleBinding "api/payments" of Role "api" to ServiceAccount "api/payments"'
        requests.append(("use-from-new-network", self._request(
            user=token, verb="list", uri="/api/v1/namespaces/payments/pods", agent=CURL, ip=ATTACKER_IP,
            object_ref={"resource": "pods", "namespace": "payments", "apiVersion": "v1"}, duration_us=8_000, authz_reason=reason)))
        self._later(10, 40)
        ref = {"resource": "secrets", "namespace": "payments", "name": "api-credentials", "apiVersion": "v1"}
        requests.append(("", self._request(user=token, verb="get", uri="/api/v1/namespaces/payments/secrets/api-credentials", agent=CURL,
                                           ip=ATTACKER_IP, object_ref=ref, authz_reason=reason)))
        return self._attack("steal-service-account-token", user["username"], requests)

    def _attack_admin_clusterrole(self) -> list[tuple[int, dict[str, Any]]]:
        """Refused eight times; a wildcard ClusterRole is created and bound with CI's token; then the grant is used."""
        ip, _ = WORKLOAD_CLIENTS[("payments", "api")]
        pod_user, kubectl, sa = self._workload_user("payments", "api"), self._agent("kubectl"), "system:serviceaccount:payments:api"
        requests: list[tuple[str, list[tuple[int, dict[str, Any]]]]] = []
        probes = [("list", "nodes", "", None, None), ("list", "secrets", "", None, None), ("get", "nodes", "", None, NODES[0]),
                  ("list", "secrets", "", "kube-system", None), ("create", "clusterrolebindings", "rbac.authorization.k8s.io", None, None),
                  ("list", "nodes", "", None, None), ("get", "nodes", "", None, NODES[3]), ("get", "clusterroles", "rbac.authorization.k8s.io", None,
                  "cluster-admin"), ("get", "nodes", "", None, NODES[5]), ("create", "pods", "", "kube-system", None)]
        for verb, resource, group, ns, name in probes:
            prefix = f"/apis/{group}/v1" if group else "/api/v1"
            uri = prefix + (f"/namespaces/{ns}" if ns else "") + f"/{resource}" + (f"/{name}" if name else "")
            ref = {"resource": resource, "apiVersion": "v1", **({"apiGroup": group} if group else {}), **({"namespace": ns} if ns else {}),
                   **({"name": name} if name else {})}
            where = f'in the namespace "{ns}"' if ns else "at the cluster scope"
            kind, named = f"{resource}.{group}" if group else resource, f' "{name}"' if name else ""
            message = f'{kind}{named} is forbidden: User "{sa}" cannot {verb} resource "{resource}" in API group "{group}" {where}'
            requests.append(("", self._request(user=pod_user, verb=verb, uri=uri, agent=kubectl, ip=ip, object_ref=ref, code=403,
                                               failure=("Forbidden", message), decision="forbid")))
            self._later(2, 9)
        self._later(150, 300)
        ci = self._ci_user()
        role = {"kind": "ClusterRole", "apiVersion": "rbac.authorization.k8s.io/v1", "metadata": {"name": "payments-ops"},
                "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]}
        ref = {"resource": "clusterroles", "name": "payments-ops", "apiGroup": "rbac.authorization.k8s.io", "apiVersion": "v1"}
        requests.append(("create-role", self._request(
            user=ci, verb="create", uri="/apis/rbac.authorization.k8s.io/v1/clusterroles?fieldManager=kubectl-create", agent=kubectl,
            ip="10.0.3.21", object_ref=ref, level="RequestResponse", request_object=role,
            response_object=dict(role, metadata={"name": "payments-ops", "uid": self._uuid()}), code=201)))
        self._later(5, 20)
        binding = {"kind": "ClusterRoleBinding", "apiVersion": "rbac.authorization.k8s.io/v1", "metadata": {"name": "payments-ops"},
                   "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "payments-ops"},
                   "subjects": [{"kind": "ServiceAccount", "name": "api", "namespace": "payments"}]}
        ref = {"resource": "clusterrolebindings", "name": "payments-ops", "apiGroup": "rbac.authorization.k8s.io", "apiVersion": "v1"}
        requests.append(("bind-role", self._request(
            user=ci, verb="create", uri="/apis/rbac.authorization.k8s.io/v1/clusterrolebindings?fieldManager=kubectl-create", agent=kubectl,
            ip="10.0.3.21", object_ref=ref, level="RequestResponse", request_object=binding,
            response_object=dict(binding, metadata={"name": "payments-ops", "uid": self._uuid()}), code=201)))
        self._later(60, 150)
        granted = 'RBAC: allowed by ClusterRoleBinding "payments-ops" of ClusterRole "payments-ops" to ServiceAccount "api/payments"'
        requests.append(("use-of-grant", self._request(user=pod_user, verb="list", uri="/api/v1/nodes", agent=kubectl,
                                                       ip=ip, object_ref={"resource": "nodes", "apiVersion": "v1"}, duration_us=9_000,
                                                       authz_reason=granted)))
        self._later(10, 30)
        requests.append(("", self._request(user=pod_user, verb="list", uri="/api/v1/namespaces/kube-system/secrets",
                                           agent=kubectl, ip=ip, object_ref={"resource": "secrets", "namespace": "kube-system", "apiVersion": "v1"},
                                           duration_us=20_000, authz_reason=granted)))
        return self._attack("admin-clusterrole", CI_USER, requests)

    def _attack_client_certificate(self) -> list[tuple[int, dict[str, Any]]]:
        """A client certificate requested, approved and read by the same person, then used from elsewhere."""
        user, ip, agent = self._human("bob@example.com")
        name = "ops-breakglass"
        pem = ("-----BEGIN CERTIFICATE REQUEST-----\n"  # CN=ops-breakglass, O=oidc:sre
               "MIICXjCCAUYCAQAwKzEXMBUGA1UEAwwOb3BzLWJyZWFrZ2xhc3MxEDAOBgNVBAoMB29pZGM6c3Jl\n-----END CERTIFICATE REQUEST-----\n")
        body = {"kind": "CertificateSigningRequest", "apiVersion": "certificates.k8s.io/v1", "metadata": {"name": name},
                "spec": {"request": base64.b64encode(pem.encode()).decode(), "signerName": "kubernetes.io/kube-apiserver-client",
                         "expirationSeconds": 31536000, "usages": ["client auth"]}}
        ref = {"resource": "certificatesigningrequests", "name": name, "apiGroup": "certificates.k8s.io", "apiVersion": "v1"}
        reason = 'RBAC: allowed by ClusterRoleBinding "developers-csr" of ClusterRole "csr-approver" to Group "oidc:developers"'
        requests = [("request", self._request(user=user, verb="create", uri="/apis/certificates.k8s.io/v1/certificatesigningrequests", agent=agent,
                                              ip=ip, object_ref=ref, level="Request", request_object=body, code=201, authz_reason=reason))]
        self._later(15, 40)
        approval = dict(body, status={"conditions": [{"type": "Approved", "status": "True", "reason": "KubectlApprove",
                                                      "message": "This CSR was approved by kubectl certificate approve."}]})
        requests.append(("approve", self._request(user=user, verb="update", uri=f"/apis/certificates.k8s.io/v1/certificatesigningrequests/{name}/approval",
                                                  agent=agent, ip=ip, object_ref=dict(ref, subresource="approval"), level="Request",
                                                  request_object=approval, authz_reason=reason)))
        self._later(3, 10)
        requests.append(("read", self._request(user=user, verb="get", uri=f"/apis/certificates.k8s.io/v1/certificatesigningrequests/{name}",
                                               agent=agent, ip=ip, object_ref=ref, authz_reason=reason)))
        self._later(300, 600)
        fingerprint = hashlib.sha256(pem.encode()).hexdigest()
        cert_user = {"username": name, "groups": ["oidc:sre", "system:authenticated"],
                     "extra": {"authentication.kubernetes.io/credential-id": [f"X509SHA256={fingerprint}"]}}
        requests.append(("first-admin-use", self._request(
            user=cert_user, verb="list", uri="/api/v1/namespaces/kube-system/secrets?limit=500", agent=self._agent("kubectl"), ip=ATTACKER_IP,
            object_ref={"resource": "secrets", "namespace": "kube-system", "apiVersion": "v1"}, duration_us=30_000,
            authz_reason='RBAC: allowed by ClusterRoleBinding "sre-admin" of ClusterRole "cluster-admin" to Group "oidc:sre"')))
        return self._attack("client-certificate", user["username"], requests)

    def _attack_long_lived_token(self) -> list[tuple[int, dict[str, Any]]]:
        """A service-account-token Secret and a year-long TokenRequest for CI's deployer; the token is used from elsewhere."""
        user, ip, agent = self._human("alice@example.com")
        reason = 'RBAC: allowed by ClusterRoleBinding "sre-admin" of ClusterRole "cluster-admin" to Group "oidc:sre"'
        metadata: dict[str, Any] = {"name": "deployer-token", "namespace": "ci", "annotations": {"kubernetes.io/service-account.name": "deployer"}}
        secret = {"kind": "Secret", "apiVersion": "v1", "type": "kubernetes.io/service-account-token", "metadata": metadata}
        ref = {"resource": "secrets", "namespace": "ci", "name": "deployer-token", "apiVersion": "v1"}
        created = dict(secret, metadata=dict(metadata, uid=self._uuid(), creationTimestamp=self.clock.format(self.clock.now_us)[:19] + "Z"))
        requests = [("create-secret", self._request(user=user, verb="create", uri="/api/v1/namespaces/ci/secrets?fieldManager=kubectl-create",
                                                    agent=agent, ip=ip, object_ref=ref, level="RequestResponse", request_object=secret,
                                                    response_object=created, code=201, authz_reason=reason))]
        self._later(3, 8)
        requests.append(("read-secret", self._request(user=user, verb="get", uri="/api/v1/namespaces/ci/secrets/deployer-token", agent=agent, ip=ip,
                                                      object_ref=ref, authz_reason=reason)))
        self._later(40, 90)
        body = {"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1", "metadata": {"creationTimestamp": None},
                "spec": {"audiences": None, "expirationSeconds": 31536000, "boundObjectRef": None}, "status": {"token": "", "expirationTimestamp": None}}
        requests.append(("token-request", self._request(
            user=user, verb="create", uri="/api/v1/namespaces/ci/serviceaccounts/deployer/token", agent=agent, ip=ip,
            object_ref={"resource": "serviceaccounts", "namespace": "ci", "name": "deployer", "apiVersion": "v1", "subresource": "token"},
            level="Request", request_object=body, code=201, authz_reason=reason)))
        self._later(300, 600)
        ci = dict(self._ci_user(), extra={"authentication.kubernetes.io/credential-id": [f"JTI={self._uuid()}"]})
        requests.append(("use-from-new-network", self._request(
            user=ci, verb="list", uri="/apis/apps/v1/deployments", agent=CURL, ip=ATTACKER_IP,
            object_ref={"resource": "deployments", "apiGroup": "apps", "apiVersion": "v1"}, duration_us=25_000,
            authz_reason='RBAC: allowed by ClusterRoleBinding "deployer" of ClusterRole "edit" to ServiceAccount "deployer/ci"')))
        return self._attack("long-lived-token", user["username"], requests)

    def _attack_hostpath_breakout(self) -> list[tuple[int, dict[str, Any]]]:
        """A pod mounting the node's root, then a chroot into it."""
        user, ip, agent = self._human("bob@example.com")
        pod = self._pod_name("node-shell")
        container = {"name": "shell", "image": "docker.io/library/alpine:3.20", "command": ["sleep", "infinity"],
                     "volumeMounts": [{"name": "host", "mountPath": "/host"}], "resources": {}, "imagePullPolicy": "IfNotPresent"}
        request, response = self._pod_body("default", pod, container, volumes=[{"name": "host", "hostPath": {"path": "/", "type": ""}}],
                                           nodeName=self.random.choice(NODES))
        ref = {"resource": "pods", "namespace": "default", "name": pod, "apiVersion": "v1"}
        reason = 'RBAC: allowed by RoleBinding "developers/default" of ClusterRole "edit" to Group "oidc:developers"'
        requests = [("create-pod", self._request(user=user, verb="create", uri="/api/v1/namespaces/default/pods?fieldManager=kubectl-run", agent=agent,
                                                 ip=ip, object_ref=ref, level="RequestResponse", request_object=request, response_object=response,
                                                 code=201, authz_reason=reason))]
        self._later(90, 150)
        requests.append(("exec", self._exec(user, "default", pod, "shell", ["chroot", "/host", "/bin/sh"], agent, ip, 420)))
        return self._attack("hostpath-breakout", user["username"], requests)

    def _attack_nodes_proxy(self) -> list[tuple[int, dict[str, Any]]]:
        """Prometheus's token used with curl: the kubelet's pod list, then a shell through the kubelet's exec."""
        user = self._service_account("monitoring", "prometheus", NODES[1], "prometheus-0")
        node = self.random.choice(NODES)
        ref = {"resource": "nodes", "name": node, "apiVersion": "v1", "subresource": "proxy"}
        reason = 'RBAC: allowed by ClusterRoleBinding "prometheus" of ClusterRole "prometheus" to ServiceAccount "prometheus/monitoring"'
        requests = [("kubelet-pods-with-curl", self._request(user=user, verb="get", uri=f"/api/v1/nodes/{node}/proxy/pods", agent=CURL,
                                                             ip=PROMETHEUS_IP, object_ref=ref, duration_us=35_000, authz_reason=reason))]
        self._later(60, 180)
        target = "kube-proxy-" + "".join(self.random.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5))
        command = "command=%2Fbin%2Fsh&command=-c&command=cat%20%2Fvar%2Flib%2Fkube-proxy%2Fkubeconfig.conf"
        requests.append(("kubelet-exec", self._request(
            user=user, verb="get", uri=f"/api/v1/nodes/{node}/proxy/exec/kube-system/{target}/kube-proxy?{command}&output=1&error=1",
            agent=CURL, ip=PROMETHEUS_IP, object_ref=ref, code=101, long_running=True, duration_us=4_000_000, authz_reason=reason)))
        return self._attack("nodes-proxy", user["username"], requests)

    def _attack_privileged_pod(self) -> list[tuple[int, dict[str, Any]]]:
        """CI's stolen token creates a privileged pod, then execs nsenter into the node's namespaces."""
        user, agent = self._ci_user(), self._agent("kubectl")
        pod = self._pod_name("payments-debug")
        container = {"name": "debug", "image": "docker.io/library/ubuntu:24.04", "command": ["sleep", "86400"],
                     "securityContext": {"privileged": True}, "resources": {}, "imagePullPolicy": "IfNotPresent"}
        request, response = self._pod_body("payments", pod, container, hostPID=True)
        ref = {"resource": "pods", "namespace": "payments", "name": pod, "apiVersion": "v1"}
        reason = 'RBAC: allowed by RoleBinding "deployer/payments" of ClusterRole "edit" to ServiceAccount "deployer/ci"'
        requests = [("create-pod", self._request(user=user, verb="create", uri="/api/v1/namespaces/payments/pods?fieldManager=kubectl-run", agent=agent,
                                                 ip="10.0.3.21", object_ref=ref, level="RequestResponse", request_object=request,
                                                 response_object=response, code=201, authz_reason=reason))]
        self._later(200, 300)
        command = ["nsenter", "--target", "1", "--mount", "--uts", "--ipc", "--net", "--pid", "--", "bash"]
        requests.append(("exec", self._exec(user, "payments", pod, "debug", command, agent, "10.0.3.21", 600)))
        return self._attack("privileged-pod", CI_USER, requests)

    # ---- driver ---------------------------------------------------------------------------------
    def events(self) -> Iterator[dict[str, Any]]:
        """Yield every Event of the simulation, in log order, updating `self.truth` as it goes."""
        pending: list[tuple[int, int, dict[str, Any]]] = []  # (stage µs, sequence, event) of later stages
        choose = self.random.choices
        sequence = 0
        for ns, name in sorted(self.workloads):  # the workloads are created first: their history starts known
            self.clock.now_us += 1_000_000
            self.truth.requests += 1
            for _, event in self._create_deployment(ns, name):
                yield self._count(event)
        for _ in range(self.request_count):
            self.clock.now_us += int(self.random.expovariate(1 / self.mean_gap_us)) + 1
            now = self.clock.now_us
            while self.layer and self.layer[0][0] <= now:  # the workloads' calls and the attack stories that are due
                for stage_us, event in self._run_layer(*heapq.heappop(self.layer)[::2]):
                    sequence += 1
                    heapq.heappush(pending, (stage_us, sequence, event))
            # Later stages of long-running requests (watch, exec) are logged when they happen.
            while pending and pending[0][0] <= now:
                yield self._count(heapq.heappop(pending)[2])
            scenario = choose(self.scenarios, self.weights)[0]
            self.truth.requests += 1
            self.truth.stories[scenario.__name__.lstrip("_")] += 1
            for stage_us, event in scenario():
                if stage_us - now > 1_000_000:
                    sequence += 1
                    heapq.heappush(pending, (stage_us, sequence, event))
                else:
                    yield self._count(event)
        while self.layer:
            for stage_us, event in self._run_layer(*heapq.heappop(self.layer)[::2]):
                sequence += 1
                heapq.heappush(pending, (stage_us, sequence, event))
        while pending:
            yield self._count(heapq.heappop(pending)[2])

    def _count(self, event: dict[str, Any]) -> dict[str, Any]:
        truth = self.truth
        truth.events += 1
        truth.by_stage[event["stage"]] += 1
        truth.by_verb[event["verb"]] += 1
        if not truth.first_at:
            truth.first_at = event["stageTimestamp"]
        truth.last_at = event["stageTimestamp"]
        return event


def write_audit_log(
    directory: Path,
    requests: int,
    *,
    seed: int = 7,
    start: datetime = DEFAULT_START,
    days: float = 3.0,
    max_size_mb: float = 100.0,
    compress: bool = True,
) -> DemoTruth:
    """Write the simulation to `directory` as kube-apiserver's log backend would.

    The live file is `audit.log`; when it passes `max_size_mb` it is renamed
    `audit-<time of rotation>.log` (lumberjack's naming, as with `--audit-log-maxsize`) and, with
    `compress`, gzipped (`--audit-log-compress`). The last file is left uncompressed, like the live log.
    """
    directory.mkdir(parents=True, exist_ok=True)
    simulation = ClusterSimulation(requests, seed=seed, start=start, days=days)
    live = directory / "audit.log"
    limit = int(max_size_mb * 1024 * 1024)
    rotated: list[Path] = []
    out = live.open("wb")
    written = 0
    buffer: list[bytes] = []
    dumps = orjson.dumps
    try:
        for event in simulation.events():
            line = dumps(event) + b"\n"
            buffer.append(line)
            written += len(line)
            if len(buffer) >= 4096:
                out.write(b"".join(buffer))
                buffer.clear()
            if written >= limit:
                out.write(b"".join(buffer))
                buffer.clear()
                out.close()
                stamp = datetime.fromisoformat(event["stageTimestamp"].replace("Z", "+00:00"))
                backup = directory / f"audit-{stamp:%Y-%m-%dT%H-%M-%S}.{stamp.microsecond // 1000:03d}.log"
                live.rename(backup)
                rotated.append(_gzip_file(backup) if compress else backup)
                out = live.open("wb")
                written = 0
        out.write(b"".join(buffer))
    finally:
        out.close()
    simulation.truth.files = [*rotated, live]
    return simulation.truth


def _gzip_file(path: Path) -> Path:
    target = path.with_name(path.name + ".gz")
    # mtime=0: the same seed gives byte-identical files (and sha256s in report evidence), like `gzip -n`
    with path.open("rb") as source, target.open("wb") as raw, gzip.GzipFile(path.name, "wb", 6, raw, mtime=0) as sink:
        while chunk := source.read(1 << 20):
            sink.write(chunk)
    path.unlink()
    return target
