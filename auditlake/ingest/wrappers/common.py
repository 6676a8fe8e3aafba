"""What the managed-cluster wrappers share: the `Unwrapped` result, the `Wrapper` entry, and the helpers
every provider needs (a cluster name made safe, RFC 3339 times, an Event's missing id and time filled in
from its wrapper, a SIEM's enrichment kept, Panther's renamed `@type` put back).

Pure: dicts in, dicts out. Imports nothing of the providers (they import it).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from auditlake import contract

_CLUSTER_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass
class Unwrapped:
    """What a wrapper held: Events (each with its place in the wrapper), skips and problems."""

    format: str  # eks, aks or gke
    events: list[tuple[int | None, dict[str, Any]]] = field(default_factory=list)  # (item index, Event)
    problems: list[tuple[int | None, str, Any]] = field(default_factory=list)  # (item index, reason, raw value)
    skipped: Counter[str] = field(default_factory=Counter)  # records that are not audit events, by why
    cluster: str | None = None


@dataclass(frozen=True)
class Wrapper:
    """One provider's entry in the registry: its `--input-format` name, how its shapes are told apart, how they unwrap."""

    name: str
    recognises: Callable[[dict[str, Any]], bool]  # on a dict whose keys `normalise_keys` has put back
    unwrap: Callable[[dict[str, Any]], Unwrapped]  # only called when `recognises` said yes


def cluster_name(text: str | None) -> str | None:
    """A cluster name from a wrapper, made safe as a partition value (lower case, no slashes)."""
    if not text:
        return None
    name = _CLUSTER_UNSAFE.sub("-", text.strip()).strip("-._").lower()[:128]
    return name if contract.CLUSTER_NAME.match(name) else None


def normalise_keys(value: Any) -> Any:
    """Exporters rename `@type` (Panther writes `at_sign_type`): put it back, at every depth."""
    if isinstance(value, dict):
        return {("@type" if key == "at_sign_type" else key): normalise_keys(item) for key, item in value.items()}
    if isinstance(value, list):
        return [normalise_keys(item) for item in value]
    return value


def keep_enrichment(event: dict[str, Any], wrapper: dict[str, Any]) -> None:
    """A SIEM's enrichment of the wrapper (Panther's `p_enrichment`: Tor exit nodes, ASN) stays with the Event, in `extra`."""
    if isinstance(wrapper.get("p_enrichment"), dict) and "p_enrichment" not in event:
        event["p_enrichment"] = wrapper["p_enrichment"]


def fill_identity(event: dict[str, Any], audit_id: Any, timestamp: str | None) -> None:
    """Give an Event the id and time its wrapper knows when the Event itself lacks them."""
    if audit_id and not event.get("auditID"):
        event["auditID"] = str(audit_id)
    if timestamp and not (event.get("requestReceivedTimestamp") or event.get("timestamp")):
        event["requestReceivedTimestamp"] = timestamp
        event.setdefault("stageTimestamp", timestamp)


def rfc3339(text: str) -> str:
    """GKE and BigQuery write times several ways; the Event wants RFC 3339 in UTC."""
    value = text.strip().replace(" ", "T")
    if not value.endswith("Z") and "+" not in value[10:] and "-" not in value[10:]:
        value += "Z"
    return value
