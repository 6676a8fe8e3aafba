"""Managed-cluster wrappers: EKS, AKS and GKE exports turned back into plain audit Events.

Owns: recognising the shapes cloud providers and their exporters put around a kube-apiserver audit
Event, and unwrapping them, so that every source lands in the same `events` columns and one query
works for every cluster:

- EKS (CloudWatch Logs): `aws logs filter-log-events` / `get-log-events` output (`events[]`),
  subscription records (`{messageType, logGroup, logStream, logEvents[]}`, as delivered to Lambda,
  Firehose and S3), Logs Insights rows (`@message`); the Event is the JSON string in `message`.
  The cluster is the `<name>` of log group `/aws/eks/<name>/cluster`.
- AKS (diagnostic settings, categories kube-audit and kube-audit-admin): `{"records": […]}` or one
  record per line, the Event in `properties.log` (a JSON string or an object). The cluster is the
  last segment of `resourceId`. Records of other categories are counted as skipped, not quarantined.
- GKE (Cloud Logging `LogEntry`, `protoPayload` of `serviceName: k8s.io`, from sinks to files,
  BigQuery JSON or Pub/Sub push): the AuditLog fields are mapped onto the Event (see `gke_event`);
  the cluster is `resource.labels.cluster_name`.

Anything that is recognisably a wrapper but holds no usable Event is reported as a problem with a
reason. Pure: dicts in, dicts out; never decodes with DuckDB, never writes.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from auditlake import contract

# gRPC status code (google.rpc.Code) → the HTTP status the apiserver would have answered.
GRPC_TO_HTTP = {
    0: 200,  # OK
    1: 499,  # CANCELLED (client closed request)
    2: 500,  # UNKNOWN
    3: 400,  # INVALID_ARGUMENT
    4: 504,  # DEADLINE_EXCEEDED
    5: 404,  # NOT_FOUND
    6: 409,  # ALREADY_EXISTS
    7: 403,  # PERMISSION_DENIED
    8: 429,  # RESOURCE_EXHAUSTED
    9: 400,  # FAILED_PRECONDITION
    10: 409,  # ABORTED (a conflict, e.g. a stale resourceVersion)
    11: 400,  # OUT_OF_RANGE
    12: 501,  # UNIMPLEMENTED
    13: 500,  # INTERNAL
    14: 503,  # UNAVAILABLE
    15: 500,  # DATA_LOSS
    16: 401,  # UNAUTHENTICATED
}
GRPC_NAMES = ("OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED",
              "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
              "UNAUTHENTICATED")
AKS_AUDIT_CATEGORIES = ("kube-audit", "kube-audit-admin")
_EKS_LOG_GROUP = re.compile(r"^/aws/eks/([^/]+)/cluster$")
_AKS_CLUSTER = re.compile(r"/managedclusters/([^/]+)", re.IGNORECASE)
_CLUSTER_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass
class Unwrapped:
    """What a wrapper held: Events (each with its place in the wrapper), skips and problems."""

    format: str  # eks, aks or gke
    events: list[tuple[int | None, dict[str, Any]]] = field(default_factory=list)  # (item index, Event)
    problems: list[tuple[int | None, str, Any]] = field(default_factory=list)  # (item index, reason, raw value)
    skipped: Counter[str] = field(default_factory=Counter)  # records that are not audit events, by why
    cluster: str | None = None


def grpc_markdown_table() -> str:
    """The README's gRPC → HTTP table for GKE, generated from GRPC_TO_HTTP."""
    rows = [f"| {code} {GRPC_NAMES[code]} | {http} |" for code, http in GRPC_TO_HTTP.items()]
    return "\n".join(["| GKE `status.code` | `code` |", "|---|---|", *rows])


def cluster_name(text: str | None) -> str | None:
    """A cluster name from a wrapper, made safe as a partition value (lower case, no slashes)."""
    if not text:
        return None
    name = _CLUSTER_UNSAFE.sub("-", text.strip()).strip("-._").lower()[:128]
    return name if contract.CLUSTER_NAME.match(name) else None


def unwrap(value: Any, only: str | None = None) -> Unwrapped | None:
    """The Events inside a recognised wrapper (of format `only`, when given), or None when `value` is not one."""
    if not isinstance(value, dict):
        return None
    result = _unwrap(value)
    return result if result is not None and (only is None or result.format == only) else None


def _unwrap(value: dict[str, Any]) -> Unwrapped | None:
    value = _normalise_keys(value)
    if "records" in value and isinstance(value["records"], list):
        return _aks_records(value["records"])
    if "category" in value and ("properties" in value or "operationName" in value or "resourceId" in value):
        return _aks_records([value], single=True)  # an Azure diagnostic record: kube-audit lands, others are counted
    if "protoPayload" in value or "protopayload_auditlog" in value:
        return _gke_entries([value], single=True)
    if isinstance(value.get("message"), dict) and "data" in value["message"]:  # Pub/Sub push
        return _pubsub(value)
    if "logEvents" in value or ("messageType" in value and "logGroup" in value):
        return _eks_subscription(value)
    if isinstance(value.get("events"), list) and all(isinstance(e, dict) and "message" in e for e in value["events"]):
        return _eks_events(value["events"], value.get("logGroupName"))
    if "@message" in value:
        return _eks_events([{"message": value["@message"], "logStreamName": value.get("@logStream")}], value.get("@log"), single=True)
    return None


def _normalise_keys(value: Any) -> Any:
    """Exporters rename `@type` (Panther writes `at_sign_type`): put it back, at every depth."""
    if isinstance(value, dict):
        return {("@type" if key == "at_sign_type" else key): _normalise_keys(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_normalise_keys(item) for item in value]
    return value


# ---- EKS ----------------------------------------------------------------------------------------
def _eks_subscription(record: dict[str, Any]) -> Unwrapped:
    if record.get("messageType") == "CONTROL_MESSAGE":
        return Unwrapped("eks", skipped=Counter({"CloudWatch control message": 1}))
    return _eks_events(record.get("logEvents") or [], record.get("logGroup"), stream=record.get("logStream"))


def _eks_events(items: list[Any], log_group: str | None, stream: str | None = None, single: bool = False) -> Unwrapped:
    match = _EKS_LOG_GROUP.match(log_group or "")
    result = Unwrapped("eks", cluster=cluster_name(match.group(1)) if match else None)
    for index, item in enumerate(items):
        place = None if single else index
        message = item.get("message") if isinstance(item, dict) else None
        stream_name = (item.get("logStreamName") if isinstance(item, dict) else None) or stream or ""
        if isinstance(message, dict):
            event = message
        elif isinstance(message, str):
            try:
                event = orjson.loads(message)
            except orjson.JSONDecodeError:
                if stream_name and "audit" not in stream_name:
                    result.skipped[f"EKS log stream {stream_name.split('-')[0]}…: not audit events"] += 1
                else:
                    result.problems.append((place, "EKS log event whose message is not a JSON audit Event", message))
                continue
        else:
            result.problems.append((place, "EKS log event without a message", item))
            continue
        if isinstance(event, dict) and isinstance(item, dict):
            _fill_identity(event, item.get("id") or item.get("eventId"), _epoch_millis(item.get("timestamp")))
        if not isinstance(event, dict) or not ("auditID" in event or event.get("kind") == "Event"):
            if stream_name and "audit" not in stream_name:
                result.skipped[f"EKS log stream {stream_name.split('-')[0]}…: not audit events"] += 1
            else:
                result.problems.append((place, "EKS log event whose message is not an audit Event", message))
            continue
        result.events.append((place, event))
    return result


# ---- AKS ----------------------------------------------------------------------------------------
def _aks_records(records: list[Any], single: bool = False) -> Unwrapped:
    result = Unwrapped("aks")
    for index, record in enumerate(records):
        place = None if single else index
        if not isinstance(record, dict):
            result.problems.append((place, "AKS record is not a JSON object", record))
            continue
        if result.cluster is None:
            match = _AKS_CLUSTER.search(str(record.get("resourceId") or ""))
            result.cluster = cluster_name(match.group(1)) if match else None
        category = str(record.get("category") or "")
        if category not in AKS_AUDIT_CATEGORIES:
            result.skipped[f"AKS records of category {category or '(none)'}"] += 1
            continue
        properties = record.get("properties")
        log = properties.get("log") if isinstance(properties, dict) else None
        if isinstance(log, str):
            try:
                log = orjson.loads(log)
            except orjson.JSONDecodeError:
                result.problems.append((place, f"AKS {category} record whose properties.log is not a complete JSON Event", record))
                continue
        if not isinstance(log, dict):
            result.problems.append((place, f"AKS {category} record without an Event in properties.log", record))
            continue
        _fill_identity(log, None, rfc3339(str(record["time"])) if record.get("time") else None)
        _keep_enrichment(log, record)
        result.events.append((place, log))
    return result


# ---- GKE ----------------------------------------------------------------------------------------
def _pubsub(push: dict[str, Any]) -> Unwrapped:
    try:
        entry = orjson.loads(base64.b64decode(push["message"]["data"]))
    except (binascii.Error, ValueError, TypeError):
        return Unwrapped("gke", problems=[(None, "Pub/Sub message whose data is not a base64 JSON LogEntry", push)])
    return _gke_entries([_normalise_keys(entry)], single=True)


def _gke_entries(entries: list[dict[str, Any]], single: bool = False) -> Unwrapped:
    result = Unwrapped("gke")
    for index, entry in enumerate(entries):
        place = None if single else index
        payload = entry.get("protoPayload") or entry.get("protopayload_auditlog")
        labels = (entry.get("resource") or {}).get("labels") or {}
        if result.cluster is None:
            result.cluster = cluster_name(labels.get("cluster_name"))
        if not isinstance(payload, dict):
            result.problems.append((place, "GKE LogEntry without an AuditLog protoPayload", entry))
            continue
        service = payload.get("serviceName")
        # An entry whose method is a Kubernetes API method is Kubernetes audit even when an exporter dropped serviceName.
        if service != "k8s.io" and not (service is None and str(payload.get("methodName", "")).startswith("io.k8s.")):
            result.problems.append((place, f"GKE LogEntry of another service ({service or 'none'}), not Kubernetes audit", entry))
            continue
        event = gke_event(entry, payload)
        if event is None:
            result.problems.append((place, "GKE k8s.io LogEntry without a methodName", entry))
            continue
        _keep_enrichment(event, entry)
        result.events.append((place, event))
    return result


def gke_event(entry: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any] | None:
    """An audit.k8s.io/v1 Event from a GKE Cloud Audit Logs entry."""
    method = str(payload.get("methodName") or "")
    timestamp = entry.get("timestamp") or entry.get("receiveTimestamp")
    if not method:
        return None
    timestamp = rfc3339(str(timestamp)) if timestamp else None
    verb = method.rsplit(".", 1)[-1]
    operation = entry.get("operation") or {}
    metadata = payload.get("requestMetadata") or {}
    authentication = payload.get("authenticationInfo") or {}
    status = payload.get("status") or {}
    denied = any(isinstance(item, dict) and item.get("granted") is False for item in payload.get("authorizationInfo") or [])
    grpc = status.get("code", 7 if denied else 0)  # no status, but the authorizer said no: PERMISSION_DENIED
    code = GRPC_TO_HTTP.get(int(grpc) if str(grpc).lstrip("-").isdigit() else 2, 500)
    if code == 200 and verb == "create":
        code = 201
    request = payload.get("request") if payload.get("request") is not None else _json_or_none(payload.get("requestJson"))
    response = payload.get("response") if payload.get("response") is not None else _json_or_none(payload.get("responseJson"))
    event: dict[str, Any] = {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "RequestResponse" if response is not None else "Request" if request is not None else "Metadata",
        "auditID": operation.get("id") or entry.get("insertId"),
        "stage": "ResponseComplete" if operation.get("last", True) else "RequestReceived" if operation.get("first") else "ResponseStarted",
        "verb": verb,
        "user": {"username": authentication.get("principalEmail") or "system:anonymous"},
        "sourceIPs": [caller] if (caller := metadata.get("callerIp") or metadata.get("callerIP")) else [],  # exporters vary the case
        "userAgent": metadata.get("callerSuppliedUserAgent"),
        "responseStatus": {"code": code, **({"message": status["message"]} if status.get("message") else {})},
        "requestReceivedTimestamp": timestamp,
        "stageTimestamp": timestamp,
    }
    reference, uri = _gke_object(str(payload.get("resourceName") or ""), method)
    if reference:
        event["objectRef"] = reference
    event["requestURI"] = uri
    annotations = {key: str(value) for key, value in (entry.get("labels") or {}).items()
                   if isinstance(key, str) and "k8s.io/" in key}
    grants = payload.get("authorizationInfo") or []
    if "authorization.k8s.io/decision" not in annotations and grants:
        annotations["authorization.k8s.io/decision"] = "allow" if all(g.get("granted") for g in grants if isinstance(g, dict)) else "forbid"
    if annotations:
        event["annotations"] = annotations
    if request is not None:
        event["requestObject"] = request
    if response is not None:
        event["responseObject"] = response
    return {key: value for key, value in event.items() if value is not None}


def _gke_object(resource_name: str, method: str) -> tuple[dict[str, Any] | None, str]:
    """objectRef and a request URI from `resourceName` (`apps/v1/namespaces/ns/deployments/name[/sub]`)."""
    parts = [part for part in resource_name.split("/") if part]
    if len(parts) >= 3 and re.fullmatch(r"v\d+((alpha|beta)\d+)?", parts[1]):
        group, version, rest = parts[0], parts[1], parts[2:]
        reference: dict[str, Any] = {"apiGroup": "" if group == "core" else group, "apiVersion": version}
        if len(rest) >= 2 and rest[0] == "namespaces" and len(rest) != 2:
            reference["namespace"] = rest[1]
            rest = rest[2:]
        elif rest[0] == "namespaces" and len(rest) == 2:
            pass  # the namespace object itself
        reference["resource"] = rest[0]
        if len(rest) >= 2:
            reference["name"] = rest[1]
        if len(rest) >= 3:
            reference["subresource"] = rest[2]
        if not reference["apiGroup"]:
            del reference["apiGroup"]
        prefix = "/api/" + version if group == "core" else f"/apis/{group}/{version}"
        return reference, prefix + "/" + "/".join(parts[2:])
    if method.startswith("io.k8s.") and method.count(".") >= 4:  # no usable resourceName: the method names the resource
        segments = method.split(".")[2:-1]
        version_index = next((i for i, s in enumerate(segments) if re.fullmatch(r"v\d+((alpha|beta)\d+)?", s)), None)
        if version_index is not None and version_index + 1 < len(segments):
            reference = {"apiVersion": segments[version_index], "resource": segments[version_index + 1]}
            if version_index + 2 < len(segments):
                reference["subresource"] = segments[version_index + 2]
            return reference, "/" + resource_name.lstrip("/")
    return None, "/" + resource_name.lstrip("/")  # a non-resource URL (/healthz, or whatever a scanner asked for)


def _keep_enrichment(event: dict[str, Any], wrapper: dict[str, Any]) -> None:
    """A SIEM's enrichment of the wrapper (Panther's `p_enrichment`: Tor exit nodes, ASN) stays with the Event, in `extra`."""
    if isinstance(wrapper.get("p_enrichment"), dict) and "p_enrichment" not in event:
        event["p_enrichment"] = wrapper["p_enrichment"]


def _fill_identity(event: dict[str, Any], audit_id: Any, timestamp: str | None) -> None:
    """Give an Event the id and time its wrapper knows when the Event itself lacks them."""
    if audit_id and not event.get("auditID"):
        event["auditID"] = str(audit_id)
    if timestamp and not (event.get("requestReceivedTimestamp") or event.get("timestamp")):
        event["requestReceivedTimestamp"] = timestamp
        event.setdefault("stageTimestamp", timestamp)


def _epoch_millis(value: Any) -> str | None:
    if not isinstance(value, (int, float)):
        return None
    return datetime.fromtimestamp(value / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def rfc3339(text: str) -> str:
    """GKE and BigQuery write times several ways; the Event wants RFC 3339 in UTC."""
    value = text.strip().replace(" ", "T")
    if not value.endswith("Z") and "+" not in value[10:] and "-" not in value[10:]:
        value += "Z"
    return value


def _json_or_none(text: Any) -> Any:
    if not isinstance(text, str):
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text
