"""EKS (CloudWatch Logs): the audit Event is the JSON string in each log event's `message`.

Owns: `aws logs filter-log-events` / `get-log-events` output (`events[]`), subscription records
(`{messageType, logGroup, logStream, logEvents[]}`, as delivered to Lambda, Firehose and S3) and Logs
Insights rows (`@message`). The cluster is the `<name>` of log group `/aws/eks/<name>/cluster`; log
streams that are not audit (authenticator, scheduler, …) are counted as skipped.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import orjson

from auditlake.ingest.wrappers.common import Unwrapped, Wrapper, cluster_name, fill_identity

_EKS_LOG_GROUP = re.compile(r"^/aws/eks/([^/]+)/cluster$")


def recognises(value: dict[str, Any]) -> bool:
    """A subscription record, `events[]` of log events with a `message`, or a Logs Insights row."""
    return _is_subscription(value) or _is_events(value) or "@message" in value


def unwrap(value: dict[str, Any]) -> Unwrapped:
    if _is_subscription(value):
        return _eks_subscription(value)
    if _is_events(value):
        return _eks_events(value["events"], value.get("logGroupName"))
    return _eks_events([{"message": value["@message"], "logStreamName": value.get("@logStream")}], value.get("@log"), single=True)


WRAPPER = Wrapper("eks", recognises, unwrap)


def _is_subscription(value: dict[str, Any]) -> bool:
    return "logEvents" in value or ("messageType" in value and "logGroup" in value)


def _is_events(value: dict[str, Any]) -> bool:
    return isinstance(value.get("events"), list) and all(isinstance(e, dict) and "message" in e for e in value["events"])


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
            fill_identity(event, item.get("id") or item.get("eventId"), _epoch_millis(item.get("timestamp")))
        if not isinstance(event, dict) or not ("auditID" in event or event.get("kind") == "Event"):
            if stream_name and "audit" not in stream_name:
                result.skipped[f"EKS log stream {stream_name.split('-')[0]}…: not audit events"] += 1
            else:
                result.problems.append((place, "EKS log event whose message is not an audit Event", message))
            continue
        result.events.append((place, event))
    return result


def _epoch_millis(value: Any) -> str | None:
    if not isinstance(value, (int, float)):
        return None
    return datetime.fromtimestamp(value / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
