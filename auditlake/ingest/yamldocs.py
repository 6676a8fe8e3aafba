"""Audit events in YAML (as `kubectl get -o yaml`, KHI and hand-written fixtures store them): documents with their lines.

Owns: reading a YAML stream into its documents, each with the line it starts on, and telling whether a
document holds audit events (an Event, an EventList, a list of them, a managed-cluster export such as a
GKE LogEntry) or is something else kept beside them (an audit Policy, a Pod manifest). Times stay the
strings they were written as (YAML would otherwise turn `2025-04-07T10:00:00Z` into a date), so a
document decodes exactly as its JSON form does. Never writes, never decodes events itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

try:  # libyaml's parser when PyYAML was built with it, else the pure-Python one
    _BASE: type[yaml.SafeLoader] = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # pragma: no cover - depends on how PyYAML was installed
    _BASE = yaml.SafeLoader

AUDIT_KINDS = ("Event", "EventList")
AUDIT_KEYS = ("auditID", "protoPayload", "protopayload_auditlog", "records", "logEvents", "requestReceivedTimestamp")


class _Loader(_BASE):  # type: ignore[valid-type, misc]
    """A safe loader that leaves timestamps as strings."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in _BASE.yaml_implicit_resolvers.items()
}


@dataclass(frozen=True)
class Document:
    line: int  # 1-based line of the source where the document starts
    value: Any


class YamlError(ValueError):
    """The text is not YAML; `line` is where the parser gave up."""

    def __init__(self, message: str, line: int):
        super().__init__(message)
        self.line = line


def documents(text: bytes) -> list[Document]:
    """The documents of a YAML stream, each with its first line; empty documents are left out."""
    loader = _Loader(text)
    found: list[Document] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is not None:
                found.append(Document(node.start_mark.line + 1, loader.construct_document(node)))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        raise YamlError(str(getattr(error, "problem", None) or error), (mark.line + 1) if mark else 1) from None
    finally:
        loader.dispose()
    return found


def holds_audit_events(value: Any) -> bool:
    """Whether a document is (or lists) audit Events or a managed-cluster export of them, not a Policy or a manifest."""
    if isinstance(value, list):
        return any(holds_audit_events(item) for item in value)
    if not isinstance(value, dict):
        return False
    return value.get("kind") in AUDIT_KINDS or (value.get("kind") is None and any(key in value for key in AUDIT_KEYS))


def kind_of(value: Any) -> str:
    """What a document that holds no audit events is, in words (for the summary of skipped files)."""
    if isinstance(value, dict) and value.get("kind"):
        return f"a {value.get('apiVersion', '')} {value['kind']}".replace("  ", " ")
    return "a YAML " + ("list" if isinstance(value, list) else "mapping" if isinstance(value, dict) else "value")
