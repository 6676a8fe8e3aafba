"""Detections over history: what is new against the baseline, and sequences of steps, fire once and only in the window.

Each detection has a positive case, a negative case and "the baseline saw it, so it is not new", on small
simulated logs: the window is [WINDOW, WINDOW + 1 day) and the baseline the 14 days before it (the default).
Real logs (immudb) check the first-seen rules against an independent reading of the file where they carry the
pattern.
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import random
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from auditlake import Lake
from auditlake.library import detections as detect
from auditlake.library.savedquery import STATEFUL_KINDS, load_library
from tests.conftest import SHARED, quick_spark_session, requires_shared

WINDOW = datetime(2026, 11, 15, tzinfo=UTC)
DAY = {"since": WINDOW, "until": WINDOW + timedelta(days=1)}
IN_BASELINE = WINDOW - timedelta(days=5)
BEFORE_BASELINE = WINDOW - timedelta(days=20)  # older than the 14-day baseline: read by nothing
STATEFUL = {query.name: query for query in detect.detections(load_library()) if query.stateful}
NAMES = ["first-secret-read-in-namespace", "first-source-network-for-identity", "first-user-agent-for-identity", "first-exec-into-namespace",
         "first-cluster-admin-use", "grant-then-use", "privileged-pod-then-exec", "token-then-use-elsewhere", "denied-burst-then-allowed",
         "secrets-listed-then-new-identity", "rare-service-account-verb"]
KUBECTL = "kubectl/v1.31.2 (linux/amd64) kubernetes/5864a46"
_numbers = itertools.count()


def event(at: datetime, *, user: str = "alice@example.com", groups: tuple[str, ...] = ("system:authenticated",), verb: str = "get",
          resource: str | None = "pods", namespace: str | None = "default", name: str | None = "app", subresource: str | None = None,
          code: int = 200, ip: str = "198.51.100.7", agent: str | None = KUBECTL, uri: str | None = None, request: dict | None = None,
          response: dict | None = None, extra: dict | None = None, reason: str = "", audit_id: str | None = None,
          api_group: str | None = None) -> dict[str, Any]:
    """One final-stage audit Event (v1); `audit_id` names the events a test asserts on, the rest get a number."""
    user_info: dict[str, Any] = {"username": user, "groups": list(groups)}
    if extra:
        user_info["extra"] = extra
    path = "/apis/" + api_group + "/v1" if api_group else "/api/v1"
    default_uri = path + (f"/namespaces/{namespace}" if namespace else "") + (f"/{resource}" if resource else "") + (f"/{name}" if name else "") \
        + (f"/{subresource}" if subresource else "")
    stamp = at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    record: dict[str, Any] = {
        "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "RequestResponse" if request or response else "Metadata",
        "auditID": audit_id or f"e-{next(_numbers)}", "stage": "ResponseComplete", "requestURI": uri or default_uri, "verb": verb,
        "user": user_info, "sourceIPs": [ip], "responseStatus": {"metadata": {}, "code": code},
        "requestReceivedTimestamp": stamp, "stageTimestamp": stamp,
        "annotations": {"authorization.k8s.io/decision": "allow" if code != 403 else "forbid", "authorization.k8s.io/reason": reason},
    }
    if agent:
        record["userAgent"] = agent
    if resource:
        record["objectRef"] = {key: value for key, value in {"resource": resource, "namespace": namespace, "name": name, "subresource": subresource,
                                                             "apiGroup": api_group, "apiVersion": "v1"}.items() if value}
    if request is not None:
        record["requestObject"] = request
    if response is not None:
        record["responseObject"] = response
    return record


def lake_of(tmp_path: Path, events: list[dict[str, Any]], name: str = "events") -> Lake:
    log = tmp_path / f"{name}.jsonl"
    log.write_text("".join(json.dumps(item) + "\n" for item in events))
    lake = Lake(tmp_path / "lake")
    result = lake.ingest([log], cluster="c")
    assert result.quarantined == 0 and result.events_written == len(events)
    return lake


def fired(lake: Lake, rule: str, **params: Any) -> list[str]:
    window = {**DAY, **{key: params.pop(key) for key in ("since", "until") if key in params}}
    return lake.query_arrow(rule, **window, **params).column("audit_id").to_pylist()


def summaries(lake: Lake, rule: str, **params: Any) -> list[str]:
    return lake.query_arrow(rule, **DAY, **params).column("summary").to_pylist()


def at(minutes: float, start: datetime = WINDOW + timedelta(hours=9)) -> datetime:
    return start + timedelta(minutes=minutes)


# ---- the headers ---------------------------------------------------------------------------------------------------------


def test_the_eleven_detections_over_history_say_what_they_are_and_take_a_baseline():
    assert sorted(STATEFUL) == sorted(NAMES)
    for name, query in STATEFUL.items():
        assert query.stateful in STATEFUL_KINDS, name
        assert not query.reproduces, f"{name} reproduces no upstream rule"
        baseline = query.parameter("baseline")
        assert baseline is not None and baseline.type == "interval" and baseline.default == "14d", name
        assert (query.parameter("within") is not None) == (query.stateful == "sequence"), name
        assert "cluster" in {parameter.name for parameter in query.params}, name


# ---- first seen ----------------------------------------------------------------------------------------------------------


def test_first_secret_read_in_a_namespace(tmp_path):
    events = [
        event(at(0, IN_BASELINE), resource="secrets", namespace="default", name="token"),  # alice's habit: secrets of default
        event(at(0, IN_BASELINE), user="bob@example.com", resource="secrets", namespace="payments", name="db"),  # bob's: payments
        event(at(0), resource="secrets", namespace="payments", name="db", audit_id="alice-payments"),  # new for alice
        event(at(1), resource="secrets", namespace="payments", name="api-key"),  # no longer first
        event(at(2), resource="secrets", namespace="default", name="token"),  # the baseline saw it
        event(at(3), user="bob@example.com", resource="secrets", namespace="payments", name="db"),  # the baseline saw bob there
        event(at(4), user="bob@example.com", resource="secrets", namespace="vault", code=403),  # refused: not a read
        event(at(5), user="system:node:ip-10-0-1-10", groups=("system:nodes",), resource="secrets", namespace="vault", name="x"),  # a kubelet
        event(at(6), user="bob@example.com", verb="list", resource="secrets", namespace=None, name=None, uri="/api/v1/secrets",
              audit_id="bob-everywhere"),  # every namespace at once is new too
        event(at(0, BEFORE_BASELINE), user="carol@example.com", resource="secrets", namespace="payments", name="db"),
        event(at(7), user="carol@example.com", resource="secrets", namespace="payments", name="db", audit_id="carol-payments"),
    ]
    lake = lake_of(tmp_path, events)
    assert fired(lake, "first-secret-read-in-namespace") == ["alice-payments", "bob-everywhere", "carol-payments"]
    assert "alice@example.com read secrets in payments for the first time" in summaries(lake, "first-secret-read-in-namespace")[0]
    assert fired(lake, "first-secret-read-in-namespace", baseline="30d") == ["alice-payments", "bob-everywhere"]  # carol's read is seen now
    assert "system:node:ip-10-0-1-10" in lake.query_arrow("first-secret-read-in-namespace", **DAY, ignore_system_principals=False)["actor"].to_pylist()


def test_the_baseline_is_read_never_reported(tmp_path):
    """A read that would be first, in the baseline, is not a finding of the window; it is one of its own window."""
    events = [event(at(0, IN_BASELINE), resource="secrets", namespace="payments", name="db", audit_id="in-the-baseline")]
    lake = lake_of(tmp_path, events)
    assert fired(lake, "first-secret-read-in-namespace") == []
    assert fired(lake, "first-secret-read-in-namespace", since=IN_BASELINE, until=IN_BASELINE + timedelta(days=1)) == ["in-the-baseline"]


def test_first_source_network_for_an_identity(tmp_path):
    events = [
        event(at(0, IN_BASELINE), user="bob@example.com", ip="198.51.100.7"),
        event(at(1, IN_BASELINE), user="bob@example.com", ip="2001:db8:0:1::5"),
        event(at(0), user="bob@example.com", ip="198.51.100.200"),  # the same /24
        event(at(1), user="bob@example.com", ip="203.0.113.5", audit_id="bob-elsewhere"),
        event(at(2), user="bob@example.com", ip="203.0.113.77"),  # that network again: no longer first
        event(at(3), user="bob@example.com", ip="2001:0db8:0000:0001:0000:0000:0000:0009"),  # the same /64, spelt out
        event(at(4), user="bob@example.com", ip="2001:db8:0:2::1", audit_id="bob-v6-elsewhere"),
        event(at(5), user="carol@example.com", ip="192.0.2.1"),  # never seen before: no habits to compare with
        event(at(6), user="system:kube-scheduler", ip="192.0.2.9"),  # the control plane
    ]
    lake = lake_of(tmp_path, events)
    assert fired(lake, "first-source-network-for-identity") == ["bob-elsewhere", "bob-v6-elsewhere"]
    assert "network 203.0.113.0/24" in summaries(lake, "first-source-network-for-identity")[0]
    assert len(fired(lake, "first-source-network-for-identity", ipv4_prefix=32)) == 4  # 198.51.100.200 and .77 are networks of their own


def test_ip_network_agrees_with_pythons_ipaddress(tmp_path):
    lake = lake_of(tmp_path, [event(at(0))])
    random.seed(7)
    cases = [(str(ipaddress.IPv4Address(random.getrandbits(32))), random.choice([0, 8, 16, 20, 24, 31, 32]), 64) for _ in range(300)]
    cases += [(str(ipaddress.IPv6Address(random.getrandbits(128))), 24, random.choice([0, 16, 48, 64, 128])) for _ in range(300)]
    cases += [(text, 24, 64) for text in ("::1", "::", "fe80::1:2", "2001:db8::", "1::", "2001:DB8:0:0:1::1", "::ffff:0:1")]
    with lake.connect() as connection:
        rows = connection.execute("SELECT ip, v4, v6, ip_network(ip, v4, v6) FROM (SELECT unnest($ips) AS ip, unnest($v4) AS v4, unnest($v6) AS v6)",
                                  {"ips": [c[0] for c in cases], "v4": [c[1] for c in cases], "v6": [c[2] for c in cases]}).fetchall()
        others = connection.execute("SELECT ip_network('not-an-ip', 24, 64), ip_network('::ffff:1.2.3.4', 24, 64)").fetchall()[0]

    def python(ip: str, v4: int, v6: int) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
        address = ipaddress.ip_address(ip)
        return ipaddress.ip_network(f"{ip}/{v4 if address.version == 4 else v6}", strict=False)

    assert [(ip, network) for ip, v4, v6, network in rows if ipaddress.ip_network(network) != python(ip, v4, v6)] == []
    assert others == ("not-an-ip", "::ffff:1.2.3.4")  # not an address it can split: a key of its own


def test_first_user_agent_for_an_identity(tmp_path):
    account = "system:serviceaccount:payments:api"
    events = [
        event(at(0, IN_BASELINE), user=account, agent="payments-api/v1.4.0 (linux/amd64) kubernetes/$Format"),
        event(at(0), user=account, agent="payments-api/v1.5.0 (linux/amd64) kubernetes/$Format"),  # a new version is not a new client
        event(at(1), user=account, agent=KUBECTL, verb="list", resource="secrets", name=None, audit_id="api-with-kubectl"),
        event(at(2), user=account, agent="curl/8.5.0", audit_id="api-with-curl"),
        event(at(3), user=account, agent="curl/8.6.0"),  # curl again
        event(at(4), user="system:serviceaccount:payments:new", agent="curl/8.5.0"),  # no baseline: no habits yet
    ]
    lake = lake_of(tmp_path, events)
    assert fired(lake, "first-user-agent-for-identity") == ["api-with-kubectl", "api-with-curl"]
    assert summaries(lake, "first-user-agent-for-identity")[0].startswith(f"{account} used kubectl for the first time")
    events.append(event(at(1, IN_BASELINE), user=account, agent="curl/7.0"))  # the baseline saw it use curl
    shutil.rmtree(tmp_path / "lake")
    assert fired(lake_of(tmp_path, events), "first-user-agent-for-identity") == ["api-with-kubectl"]


def exec_event(moment: datetime, namespace: str, pod: str = "api-1", *, user: str = "alice@example.com", code: int = 101,
               audit_id: str | None = None) -> dict[str, Any]:
    return event(moment, user=user, verb="create", resource="pods", namespace=namespace, name=pod, subresource="exec", code=code,
                 uri=f"/api/v1/namespaces/{namespace}/pods/{pod}/exec?command=sh&container=app&stdin=true&tty=true", audit_id=audit_id)


def test_first_exec_into_a_namespace(tmp_path):
    events = [
        exec_event(at(0, IN_BASELINE), "default"),
        exec_event(at(0), "payments", audit_id="first-in-payments"),
        exec_event(at(1), "payments", user="bob@example.com", audit_id="bob-in-payments"),  # someone exec'd into payments already
        exec_event(at(2), "default", user="bob@example.com", audit_id="bob-first-in-default"),  # only new per actor
        exec_event(at(3), "kube-public", code=403),  # refused: nothing ran
    ]
    lake = lake_of(tmp_path, events)
    assert fired(lake, "first-exec-into-namespace") == ["first-in-payments"]
    assert summaries(lake, "first-exec-into-namespace") == ["first exec into payments: alice@example.com into api-1: sh"]
    assert fired(lake, "first-exec-into-namespace", per_actor=True) == ["first-in-payments", "bob-in-payments", "bob-first-in-default"]


def binding(moment: datetime, kind: str, name: str, role: str, subjects: list[dict[str, str]], *, namespace: str | None = None,
            user: str = "admin@example.com", verb: str = "create", audit_id: str | None = None) -> dict[str, Any]:
    body = {"kind": kind, "apiVersion": "rbac.authorization.k8s.io/v1", "metadata": {"name": name, **({"namespace": namespace} if namespace else {})},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole" if kind == "ClusterRoleBinding" else "Role", "name": role},
            "subjects": subjects}
    return event(moment, user=user, verb=verb, resource=kind.lower() + "s", namespace=namespace, name=name if verb != "create" else None,
                 api_group="rbac.authorization.k8s.io", code=201, request=body, response=body, audit_id=audit_id)


def test_first_cluster_admin_use(tmp_path):
    ops_reason = 'RBAC: allowed by ClusterRoleBinding "ops-admins" of ClusterRole "cluster-admin" to Group "ops"'
    events = [
        event(at(0), user="eve@example.com", verb="list", resource="nodes", namespace=None, name=None),  # before her binding: not a use
        binding(at(1), "ClusterRoleBinding", "eve-admin", "cluster-admin", [{"kind": "User", "name": "eve@example.com"}]),
        event(at(6), user="eve@example.com", verb="list", resource="secrets", namespace=None, name=None, audit_id="eve-first-use"),
        event(at(7), user="eve@example.com", verb="delete", resource="pods"),  # no longer first
        binding(at(8), "ClusterRoleBinding", "viewers", "view", [{"kind": "Group", "name": "auditors"}]),
        event(at(9), user="dan@example.com", groups=("auditors",), verb="list", resource="pods"),  # view is not cluster-admin
        binding(at(10), "ClusterRoleBinding", "ci-admin", "cluster-admin", [{"kind": "ServiceAccount", "name": "deployer", "namespace": "ci"}]),
        event(at(12), user="system:serviceaccount:ci:deployer", verb="create", resource="deployments", audit_id="deployer-first-use"),
        event(at(0, IN_BASELINE), user="frank@example.com", groups=("ops",), reason=ops_reason),  # frank used ops-admins before
        event(at(13), user="frank@example.com", groups=("ops",), reason=ops_reason),
        event(at(14), user="grace@example.com", groups=("ops",), reason=ops_reason, audit_id="grace-first-use"),  # the reason names it
    ]
    lake = lake_of(tmp_path, events)
    assert fired(lake, "first-cluster-admin-use") == ["eve-first-use", "deployer-first-use", "grace-first-use"]
    assert summaries(lake, "first-cluster-admin-use")[0] == (
        "eve@example.com used ClusterRoleBinding eve-admin for the first time: list secrets (bound by admin@example.com 5m before)")
    assert fired(lake, "first-cluster-admin-use", admin_roles=["cluster-admin", "view"])[1:2] == [events[5]["auditID"]]  # dan, through view


# ---- sequences -----------------------------------------------------------------------------------------------------------


def test_grant_then_use(tmp_path):
    ci = "system:serviceaccount:payments:ci"
    subjects = [{"kind": "ServiceAccount", "name": "ci", "namespace": "payments"}]
    events = [
        event(at(0), user=ci, verb="get", resource="secrets", namespace="payments", name="db", code=403),  # refused before the grant
        binding(at(1), "RoleBinding", "ci-secrets", "secret-reader", subjects, namespace="payments"),
        event(at(2), user=ci, verb="list", resource="secrets", namespace="default", name=None),  # outside the RoleBinding's namespace
        event(at(11), user=ci, verb="get", resource="secrets", namespace="payments", name="db", audit_id="ci-used-it",
              reason='RBAC: allowed by RoleBinding "ci-secrets/payments" of Role "secret-reader" to ServiceAccount "ci/payments"'),
        event(at(12), user=ci, verb="get", resource="secrets", namespace="payments", name="api"),  # no longer first
        binding(at(20), "ClusterRoleBinding", "bob-nodes", "node-reader", [{"kind": "User", "name": "bob@example.com"}]),
        event(at(21), user="bob@example.com", verb="list", resource="nodes", namespace=None, name=None,
              reason='RBAC: allowed by ClusterRoleBinding "bob-view" of ClusterRole "view" to User "bob@example.com"'),  # allowed by another
        binding(at(30), "ClusterRoleBinding", "carol-admin", "admin", [{"kind": "User", "name": "carol@example.com"}]),
        event(at(30 + 61), user="carol@example.com", verb="list", resource="pods"),  # more than an hour later
    ]
    lake = lake_of(tmp_path, events)
    assert fired(lake, "grant-then-use") == ["ci-used-it"]
    assert summaries(lake, "grant-then-use") == [f"{ci} used secret-reader (get secrets payments/db), granted 10m before by admin@example.com "
                                                 "through RoleBinding payments/ci-secrets"]
    assert "carol@example.com" in lake.query_arrow("grant-then-use", **DAY, within="2h")["actor"].to_pylist()
    events += [binding(at(0, IN_BASELINE), "RoleBinding", "ci-secrets", "secret-reader", subjects, namespace="payments"),
               event(at(5, IN_BASELINE), user=ci, verb="get", resource="secrets", namespace="payments", name="db")]
    shutil.rmtree(tmp_path / "lake")
    assert fired(lake_of(tmp_path, events), "grant-then-use") == []  # the pipeline does this: not new


def pod_create(moment: datetime, namespace: str, pod: str, spec: dict[str, Any], user: str = "mallory@example.com") -> dict[str, Any]:
    body = {"kind": "Pod", "apiVersion": "v1", "metadata": {"name": pod, "namespace": namespace}, "spec": spec}
    return event(moment, user=user, verb="create", resource="pods", namespace=namespace, name=pod, code=201, request=body, response=body)


PRIVILEGED = {"containers": [{"name": "shell", "image": "busybox", "securityContext": {"privileged": True}}]}
HOST_PATH = {"containers": [{"name": "shell", "image": "busybox"}], "volumes": [{"name": "root", "hostPath": {"path": "/"}}]}
PLAIN = {"containers": [{"name": "app", "image": "nginx"}]}


def test_privileged_pod_then_exec(tmp_path):
    events = [
        pod_create(at(0), "payments", "debug", PRIVILEGED),
        exec_event(at(3), "payments", "debug", user="mallory@example.com", audit_id="exec-into-privileged"),
        exec_event(at(4), "payments", "debug", user="mallory@example.com"),  # no longer first
        pod_create(at(10), "default", "node-shell", HOST_PATH),
        exec_event(at(11), "default", "node-shell", user="bob@example.com", audit_id="exec-into-host-path"),
        pod_create(at(20), "web", "app", PLAIN),
        exec_event(at(21), "web", "app"),  # an ordinary pod
        pod_create(at(30), "ops", "toolbox", PRIVILEGED),
        exec_event(at(30 + 61), "ops", "toolbox"),  # more than an hour later
        exec_event(at(40), "payments", "other"),  # another pod of the namespace
    ]
    lake = lake_of(tmp_path, events)
    assert fired(lake, "privileged-pod-then-exec") == ["exec-into-privileged", "exec-into-host-path"]
    assert summaries(lake, "privileged-pod-then-exec")[0] == (
        "mallory@example.com exec into payments/debug: sh, created privileged 3m before by mallory@example.com")
    assert "hostPath /" in summaries(lake, "privileged-pod-then-exec")[1]
    events += [pod_create(at(0, IN_BASELINE), "payments", "debug-old", PRIVILEGED),
               exec_event(at(2, IN_BASELINE), "payments", "debug-old", user="mallory@example.com")]
    shutil.rmtree(tmp_path / "lake")
    assert fired(lake_of(tmp_path, events), "privileged-pod-then-exec") == ["exec-into-host-path"]  # mallory's routine in payments


def token_request(moment: datetime, namespace: str, account: str, *, ip: str = "198.51.100.7", bound_to_pod: bool = False) -> dict[str, Any]:
    spec: dict[str, Any] = {"audiences": ["https://kubernetes.default.svc"], "expirationSeconds": 86400}
    if bound_to_pod:
        spec["boundObjectRef"] = {"kind": "Pod", "apiVersion": "v1", "name": f"{account}-7d9f"}
    return event(moment, user="eve@example.com", verb="create", resource="serviceaccounts", namespace=namespace, name=account,
                 subresource="token", code=201, ip=ip, request={"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1", "spec": spec})


def test_token_then_use_elsewhere(tmp_path):
    account = "system:serviceaccount:payments:api"
    in_pod = {"authentication.kubernetes.io/pod-name": ["api-7d9f"], "authentication.kubernetes.io/pod-uid": ["1b2c"]}
    events = [
        token_request(at(0), "payments", "api"),
        event(at(2), user=account, ip="198.51.100.7"),  # where it was requested
        event(at(3), user=account, ip="10.0.1.17", extra=in_pod),  # the pod's own token
        event(at(5), user=account, ip="203.0.113.9", verb="list", resource="secrets", name=None, audit_id="token-used-elsewhere"),
        event(at(6), user=account, ip="203.0.113.9"),  # no longer first
        token_request(at(10), "web", "frontend", bound_to_pod=True),
        event(at(11), user="system:serviceaccount:web:frontend", ip="203.0.113.10"),  # a pod-bound token is a kubelet's business
        token_request(at(20), "ops", "runner"),
        event(at(20 + 61), user="system:serviceaccount:ops:runner", ip="203.0.113.11"),  # more than an hour later
    ]
    lake = lake_of(tmp_path, events)
    assert fired(lake, "token-then-use-elsewhere") == ["token-used-elsewhere"]
    assert summaries(lake, "token-then-use-elsewhere") == [
        f"{account} used from 203.0.113.9 (list secrets default/), its token requested 5m before by eve@example.com from 198.51.100.7"]
    events += [token_request(at(0, IN_BASELINE), "payments", "api"), event(at(1, IN_BASELINE), user=account, ip="203.0.113.9")]
    shutil.rmtree(tmp_path / "lake")
    assert fired(lake_of(tmp_path, events), "token-then-use-elsewhere") == []  # that address used it after a request before


def test_denied_burst_then_allowed(tmp_path):
    def probes(start: float, count: int, namespace: str = "payments", user: str = "eve@example.com", base: datetime | None = None) -> list[dict]:
        return [event(at(start + n / 10, base or WINDOW + timedelta(hours=9)), user=user, resource="secrets", namespace=namespace,
                      name=f"guess-{n}", code=403) for n in range(count)]

    events = [
        *probes(0, 5), event(at(2), user="eve@example.com", resource="secrets", namespace="payments", name="db", audit_id="found-one"),
        event(at(3), user="eve@example.com", resource="secrets", namespace="payments", name="api"),  # no longer first
        *probes(10, 4, "web"), event(at(12), user="eve@example.com", resource="secrets", namespace="web", name="db"),  # four refusals
        *probes(20, 5, "ops"), event(at(20 + 16), user="eve@example.com", resource="secrets", namespace="ops", name="db"),  # too late
        *probes(40, 5, "billing", "bob@example.com"), event(at(41), user="eve@example.com", resource="secrets", namespace="billing", name="db"),
    ]
    lake = lake_of(tmp_path, events)
    assert fired(lake, "denied-burst-then-allowed") == ["found-one"]
    assert summaries(lake, "denied-burst-then-allowed") == [
        "eve@example.com allowed get secrets payments/db after 5 refusal(s) on secrets in payments, the first 2m before"]
    assert len(fired(lake, "denied-burst-then-allowed", threshold=4)) == 2
    events += [*probes(0, 5, base=IN_BASELINE), event(at(1, IN_BASELINE), user="eve@example.com", resource="secrets", namespace="payments", name="x")]
    shutil.rmtree(tmp_path / "lake")
    assert fired(lake_of(tmp_path, events), "denied-burst-then-allowed") == []  # eve's client did this before


def test_secrets_listed_then_new_identity(tmp_path):
    def list_all(moment: datetime, ip: str, user: str = "eve@example.com") -> dict[str, Any]:
        return event(moment, user=user, verb="list", resource="secrets", namespace=None, name=None, uri="/api/v1/secrets", ip=ip)

    events = [
        event(at(0, IN_BASELINE), user="system:serviceaccount:web:frontend", ip="203.0.113.9"),  # this address used frontend before
        list_all(at(0), "203.0.113.9"),
        event(at(1), user="eve@example.com", ip="203.0.113.9"),  # the lister itself
        event(at(2), user="system:serviceaccount:payments:api", ip="203.0.113.9", verb="list", resource="pods", audit_id="harvested"),
        event(at(3), user="system:serviceaccount:payments:api", ip="203.0.113.9"),  # no longer first
        event(at(4), user="system:serviceaccount:web:frontend", ip="203.0.113.9"),  # the baseline saw it from there
        event(at(5), user="system:serviceaccount:ops:runner", ip="192.0.2.50"),  # another address
        event(at(0 + 61), user="system:serviceaccount:ops:runner", ip="203.0.113.9"),  # more than an hour later
    ]
    lake = lake_of(tmp_path, events)
    assert fired(lake, "secrets-listed-then-new-identity") == ["harvested"]
    assert summaries(lake, "secrets-listed-then-new-identity") == [
        "system:serviceaccount:payments:api acted from 203.0.113.9 for the first time (list pods default/app), "
        "2m after eve@example.com listed every secret of the cluster from there"]


# ---- rare ----------------------------------------------------------------------------------------------------------------


def test_rare_service_account_verb(tmp_path):
    account = "system:serviceaccount:payments:api"
    events = [
        event(at(0, IN_BASELINE), user=account, verb="get", resource="configmaps", name="settings"),
        event(at(1, IN_BASELINE), user=account, verb="watch", resource="pods", name=None),
        event(at(0), user=account, verb="get", resource="configmaps", name="other"),  # its habit
        event(at(1), user=account, verb="create", resource="pods", name="x", audit_id="api-creates-pods"),
        event(at(2), user=account, verb="create", resource="pods", name="y"),  # no longer first
        event(at(3), user=account, verb="list", resource="secrets", name=None, code=403, audit_id="api-tries-secrets"),
        event(at(4), user=account, verb="create", resource="pods", subresource="exec", name="x", code=101, audit_id="api-execs"),
        event(at(5), user="system:serviceaccount:payments:brand-new", verb="create", resource="pods"),  # no habits yet
        event(at(6), user="system:serviceaccount:kube-system:replicaset-controller", verb="delete", resource="pods"),  # the control plane
        event(at(7), user="alice@example.com", verb="delete", resource="pods"),  # a person
    ]
    lake = lake_of(tmp_path, events)
    assert fired(lake, "rare-service-account-verb") == ["api-creates-pods", "api-tries-secrets", "api-execs"]
    assert summaries(lake, "rare-service-account-verb")[1] == f"{account} did list secrets for the first time (secrets default/) (denied, 403)"
    events.append(event(at(2, IN_BASELINE), user=account, verb="create", resource="pods", name="z"))
    shutil.rmtree(tmp_path / "lake")
    assert fired(lake_of(tmp_path, events), "rare-service-account-verb") == ["api-tries-secrets", "api-execs"]


# ---- scheduled runs ------------------------------------------------------------------------------------------------------


def test_detect_write_new_alerts_once_over_overlapping_windows(tmp_path):
    """Hourly `detect --since 2h --write --new`: the first run alerts, the next one (overlapping) adds nothing."""
    events = [event(at(0, IN_BASELINE), resource="secrets", namespace="default", name="t"),
              event(at(30), resource="secrets", namespace="payments", name="db", audit_id="alice-payments"),
              *probes_then_allowed(at(40))]
    lake = lake_of(tmp_path, events)
    rules = ["first-secret-read-in-namespace", "denied-burst-then-allowed"]
    first = lake.detect(since=at(0), until=at(60), rules=rules, write=True)
    found = [("denied-burst-then-allowed", "found-one"), ("first-secret-read-in-namespace", "alice-payments"),
             ("first-secret-read-in-namespace", "found-one")]  # eve's first read in web is both
    assert first.new is not None and sorted(zip(first.new["rule"].to_pylist(), first.new["audit_id"].to_pylist(), strict=True)) == found
    second = lake.detect(since=at(20), until=at(120), rules=rules, write=True)
    assert second.findings.num_rows == 3 and second.new is not None and second.new.num_rows == 0
    assert lake.sql("SELECT count(*) FROM findings").item() == 3


def probes_then_allowed(start: datetime) -> list[dict[str, Any]]:
    return [*(event(start + timedelta(seconds=n), user="eve@example.com", resource="secrets", namespace="web", name=f"g{n}", code=403) for n in range(5)),
            event(start + timedelta(seconds=30), user="eve@example.com", resource="secrets", namespace="web", name="db", audit_id="found-one")]


def test_cluster_limits_the_baseline_too(tmp_path):
    """What another cluster saw is not this cluster's baseline."""
    log_a, log_b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    log_a.write_text(json.dumps(event(at(0, IN_BASELINE), resource="secrets", namespace="payments", name="db")) + "\n")
    log_b.write_text(json.dumps(event(at(0), resource="secrets", namespace="payments", name="db", audit_id="new-in-b")) + "\n")
    lake = Lake(tmp_path / "lake")
    lake.ingest([log_a], cluster="a")
    lake.ingest([log_b], cluster="b")
    assert fired(lake, "first-secret-read-in-namespace") == ["new-in-b"]
    assert fired(lake, "first-secret-read-in-namespace", cluster="b") == ["new-in-b"]
    assert fired(lake, "first-secret-read-in-namespace", cluster="a") == []


# ---- real logs -----------------------------------------------------------------------------------------------------------


def final_events(log: Path) -> list[dict[str, Any]]:
    events = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    return [item for item in events if item.get("stage") in (None, "ResponseComplete", "Panic")]


@requires_shared
def test_on_immudbs_log_the_first_seen_rules_equal_an_independent_reading(tmp_path):
    """immudb's 4-minute microk8s log: the minute before 22:39:33 is the baseline of the rest (the control plane included).

    Its controllers start at 22:39:32; the garbage collector then reads kinds it had not read in its first second."""
    log = SHARED / "immudb-log-audit" / "k8s.log"
    assert log.is_file(), f"{log} is part of ../shared/data (see its MANIFEST.json)"
    lake = Lake(tmp_path / "lake")
    lake.ingest([log], cluster="immudb")
    events = final_events(log)
    split = datetime(2023, 3, 10, 22, 39, 33, tzinfo=UTC)
    window = {"since": split, "until": split + timedelta(minutes=5), "baseline": "1m", "ignore_system_principals": False}

    def when(item: dict[str, Any]) -> datetime:
        return datetime.fromisoformat(item["requestReceivedTimestamp"].replace("Z", "+00:00"))

    def actor(item: dict[str, Any]) -> str:
        return (item.get("impersonatedUser") or item["user"])["username"]

    def first_new(key: Any, who: Any = lambda item: True, known: Any = lambda item, before: True) -> set[str]:
        before = [item for item in events if split - timedelta(minutes=1) <= when(item) < split]
        seen = {key(item) for item in before}
        firsts: dict[Any, dict[str, Any]] = {}
        for item in sorted((e for e in events if when(e) >= split and who(e) and known(e, before)), key=lambda e: (when(e), e["auditID"])):
            if key(item) not in seen:
                firsts.setdefault(key(item), item)
        return {item["auditID"] for item in firsts.values()}

    def active_before(item: dict[str, Any], before: list[dict[str, Any]]) -> bool:
        return actor(item) in {actor(other) for other in before}

    def action(item: dict[str, Any]) -> str:
        ref = item.get("objectRef") or {}
        return ref["resource"] + ("/" + ref["subresource"] if ref.get("subresource") else "") if ref.get("resource") else item["requestURI"].split("?")[0]

    rare = first_new(lambda item: (actor(item), item["verb"], action(item)), lambda item: actor(item).startswith("system:serviceaccount:"), active_before)
    assert rare and set(fired(lake, "rare-service-account-verb", **window)) == rare
    networks = first_new(lambda item: (actor(item), str(ipaddress.ip_network(item["sourceIPs"][0] + ("/24" if "." in item["sourceIPs"][0] else "/64"),
                                                                               strict=False))), known=active_before)
    assert set(fired(lake, "first-source-network-for-identity", **window)) == networks
    # microk8s's controller manager mints its controllers' tokens and they act from the same address: no token used elsewhere
    earlier = {**window, "since": split - timedelta(minutes=1)}
    tokens = [item for item in events if (item.get("objectRef") or {}).get("subresource") == "token" and when(item) >= earlier["since"]]
    assert len(tokens) == 12 and fired(lake, "token-then-use-elsewhere", **earlier) == []


# ---- Spark -----------------------------------------------------------------------------------------------------------------


def every_pattern() -> list[dict[str, Any]]:
    """One lake where each of the eleven fires at least once, and the baseline silences something, for the parity check."""
    account, ci = "system:serviceaccount:payments:api", "system:serviceaccount:payments:ci"
    reason = 'RBAC: allowed by ClusterRoleBinding "ops-admins" of ClusterRole "cluster-admin" to Group "ops"'
    return [
        event(at(0, IN_BASELINE), resource="secrets", namespace="default", name="t"),
        event(at(1, IN_BASELINE), user=account, ip="198.51.100.7", agent="payments-api/v1 (linux/amd64)", verb="get", resource="configmaps"),
        event(at(2, IN_BASELINE), user="frank@example.com", groups=("ops",), reason=reason),
        event(at(3, IN_BASELINE), user="bob@example.com", ip="2001:db8:0:1::5"),
        event(at(2), user="bob@example.com", ip="2001:db8:0:1:0:0:0:9"),
        event(at(3), user="bob@example.com", ip="2001:db8:0:2::1"),
        exec_event(at(3, IN_BASELINE), "default"),
        event(at(0), resource="secrets", namespace="payments", name="db"),
        event(at(1), resource="secrets", namespace="default", name="t"),
        event(at(2), user=account, ip="203.0.113.5", agent="curl/8.5.0", verb="list", resource="secrets", name=None),
        exec_event(at(3), "payments", "debug", user="mallory@example.com"),
        exec_event(at(4), "default"),
        event(at(5), user="frank@example.com", groups=("ops",), reason=reason),
        event(at(6), user="grace@example.com", groups=("ops",), reason=reason),
        binding(at(7), "RoleBinding", "ci-secrets", "secret-reader", [{"kind": "ServiceAccount", "name": "ci", "namespace": "payments"}],
                namespace="payments"),
        event(at(9), user=ci, resource="secrets", namespace="payments", name="db"),
        pod_create(at(1), "payments", "debug", PRIVILEGED),
        token_request(at(10), "payments", "api"),
        event(at(12), user=account, ip="192.0.2.33"),
        *probes_then_allowed(at(20)),
        event(at(30), user="eve@example.com", verb="list", resource="secrets", namespace=None, name=None, uri="/api/v1/secrets", ip="203.0.113.50"),
        event(at(31), user=account, ip="203.0.113.50", verb="create", resource="pods"),
    ]


def test_the_eleven_give_duckdbs_answer_on_spark(tmp_path, spark_jvm):
    from tests.test_spark import rows

    lake = lake_of(tmp_path, every_pattern())
    spark = quick_spark_session(spark_jvm)  # the worker's Spark JVM (tests/conftest.py): started once, not once per file
    portable = [name for name in NAMES if "spark" in STATEFUL[name].engines]
    # token-then-use-elsewhere disagrees on the simulated attack stories (tests/test_spark.py found it): DuckDB-only until fixed
    assert set(NAMES) - set(portable) == {"token-then-use-elsewhere"}
    for name in portable:
        duck = lake.query_arrow(name, **DAY)
        assert duck.num_rows > 0, f"{name} finds nothing here: the parity check would prove little"
        assert rows(lake.spark_query_arrow(name, spark=spark, **DAY)) == rows(duck), name
