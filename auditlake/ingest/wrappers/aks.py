"""AKS (diagnostic settings, categories kube-audit and kube-audit-admin): the Event is in `properties.log`.

Owns: `{"records": […]}` or one record per line, the Event in `properties.log` (a JSON string or an
object). The cluster is the last segment of `resourceId`. Records of other categories are counted as
skipped, not quarantined.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from auditlake.ingest.wrappers.common import Unwrapped, Wrapper, cluster_name, fill_identity, keep_enrichment, rfc3339

AKS_AUDIT_CATEGORIES = ("kube-audit", "kube-audit-admin")
_AKS_CLUSTER = re.compile(r"/managedclusters/([^/]+)", re.IGNORECASE)


def recognises(value: dict[str, Any]) -> bool:
    """A `records` list, or one Azure diagnostic record (of any category: kube-audit lands, others are counted)."""
    return (("records" in value and isinstance(value["records"], list))
            or ("category" in value and ("properties" in value or "operationName" in value or "resourceId" in value)))


def unwrap(value: dict[str, Any]) -> Unwrapped:
    if "records" in value and isinstance(value["records"], list):
        return _aks_records(value["records"])
    return _aks_records([value], single=True)


WRAPPER = Wrapper("aks", recognises, unwrap)


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
        fill_identity(log, None, rfc3339(str(record["time"])) if record.get("time") else None)
        keep_enrichment(log, record)
        result.events.append((place, log))
    return result
