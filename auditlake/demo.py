"""A synthetic cluster whose audit log looks like the kube-apiserver's, for the demo and benchmarks.

Owns: a seeded simulation of one cluster's API traffic (leases, kubelets, controllers, a CI
service account rolling out deployments with RequestResponse bodies, humans reading secrets,
exec-ing into pods and binding roles, failed 401/403 requests) and writing it the way the log
backend does: one Event per line, rotated by size into `audit-<time>.log[.gz]` files.
It never touches a lake: `Lake.demo` ingests what this writes through the normal ingest path.

The simulation records its own ground truth (`DemoTruth`) so tests can check the lake against
what really happened rather than against another reading of the same file.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import heapq
import random
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
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

    def __init__(self, requests: int, seed: int = 7, start: datetime = DEFAULT_START, days: float = 3.0):
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
