"""GKE (Cloud Logging `LogEntry`, `protoPayload` of `serviceName: k8s.io`): AuditLog fields mapped onto an Event.

Owns: LogEntries from sinks to files, BigQuery JSON (`protopayload_auditlog`) or Pub/Sub push (base64
`message.data`); the mapping of the AuditLog onto an audit.k8s.io/v1 Event (`gke_event`), including
the gRPC → HTTP status table the README prints. The cluster is `resource.labels.cluster_name`.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

import orjson

from auditlake.ingest.wrappers.common import Unwrapped, Wrapper, cluster_name, keep_enrichment, normalise_keys, rfc3339

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


def recognises(value: dict[str, Any]) -> bool:
    """A LogEntry (as written by a sink, or as a BigQuery row), or a Pub/Sub push of one."""
    return "protoPayload" in value or "protopayload_auditlog" in value or (isinstance(value.get("message"), dict) and "data" in value["message"])


def unwrap(value: dict[str, Any]) -> Unwrapped:
    if "protoPayload" in value or "protopayload_auditlog" in value:
        return _gke_entries([value], single=True)
    return _pubsub(value)


WRAPPER = Wrapper("gke", recognises, unwrap)


def grpc_markdown_table() -> str:
    """The README's gRPC → HTTP table for GKE, generated from GRPC_TO_HTTP."""
    rows = [f"| {code} {GRPC_NAMES[code]} | {http} |" for code, http in GRPC_TO_HTTP.items()]
    return "\n".join(["| GKE `status.code` | `code` |", "|---|---|", *rows])


def _pubsub(push: dict[str, Any]) -> Unwrapped:
    try:
        entry = orjson.loads(base64.b64decode(push["message"]["data"]))
    except (binascii.Error, ValueError, TypeError):
        return Unwrapped("gke", problems=[(None, "Pub/Sub message whose data is not a base64 JSON LogEntry", push)])
    return _gke_entries([normalise_keys(entry)], single=True)


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
        keep_enrichment(event, entry)
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


def _json_or_none(text: Any) -> Any:
    if not isinstance(text, str):
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text
