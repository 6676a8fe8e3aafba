"""Change history: an object's timeline rebuilt from its audit events, with the diff of every change.

Owns: turning the successful writes to one object (rows of the `object-history` saved query) into
one timeline per cluster (the same namespace/name in two clusters is two objects: a state is only
ever diffed against the state before it in its own cluster), each a sequence of states and the
RFC 6902 patch between consecutive ones, computed with `jsonpatch` on states stripped of noise
(managedFields, resourceVersion, generation, status, …), and a one-line summary of each change
("image api:1.4.2 → api:1.5.0", "replicas 3 → 10", "env FOO added").

The state after a write comes from the best body the audit level recorded: the response object
(RequestResponse), else the request when it is a whole object (create/update at Request level),
else the patch applied to the state before it (strategic-merge lists are merged by `name`, as the
apiserver does for containers, env and ports). Each entry says which (`state_source`). A write
recorded at Metadata level carries no body: its entry says no diff is possible, and the state is
unknown until a later body shows it again. Runs of such writes ("74 × update, no body") are
grouped for people by `collapse_runs`; the entries themselves are all kept. Runs no SQL; renders nothing.
"""

from __future__ import annotations

import difflib
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import jsonpatch
import orjson
import pyarrow as pa
import yaml

NOISE_METADATA = ("managedFields", "resourceVersion", "generation", "uid", "creationTimestamp", "selfLink")
NOISE_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration", "deployment.kubernetes.io/revision")
MERGE_KEYS = ("name", "containerPort", "mountPath", "devicePath", "ip", "type", "port", "topologyKey")
# Objects of which exactly one field is set (a container is waiting, running or terminated): setting one
# replaces the others, which also covers exporters that drop the explicit nulls of a patch (GKE does).
ONE_OF = ({"waiting", "running", "terminated"},)


@dataclass
class HistoryEntry:
    """One successful write to the object, and what it changed."""

    at: datetime
    cluster: str
    verb: str
    subresource: str | None
    actor: str
    actor_kind: str
    authenticated_user: str | None
    impersonated_user: str | None
    iam_identity: str | None  # EKS: the IAM ARN / session behind the Kubernetes user
    source_ip: str | None
    user_agent: str | None
    client: str | None  # kubectl, helm, argocd-application-controller, …
    code: int | None
    level: str | None
    audit_id: str
    state_source: str  # response, request, patch, patch-only, none (no body recorded), deleted
    summary: str
    patch: list[dict[str, Any]] = field(default_factory=list)
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None


def group_changes(rows: list[dict[str, Any]], *, since: datetime | None = None) -> list[tuple[tuple[str, str, str | None, str], list[HistoryEntry]]]:
    """The rows of `changed-objects` as one timeline per object `(cluster, resource, namespace, name)`, in the order
    objects first appear; objects whose writes summarise to nothing are left out."""
    grouped: dict[tuple[str, str, str | None, str], list[dict[str, Any]]] = {}
    for row in rows:
        grouped.setdefault((row["cluster"], row["resource"], row["namespace"], row["name"]), []).append(row)
    result = []
    for key, object_rows in grouped.items():
        entries = build_timeline(object_rows, since=since)
        if entries:
            result.append((key, entries))
    return result


def build_timeline(rows: list[dict[str, Any]], *, keep_noise: bool = False, keep_status: bool = False,
                   since: datetime | None = None) -> list[HistoryEntry]:
    """Entries for each write (rows oldest first, as the object-history query returns them), one
    timeline per cluster: the entries of each cluster together, clusters in name order.

    With `keep_noise` false, writes that change nothing but noise (no-op applies) are left out;
    with `keep_status` the object's status is part of the state (for status writes), else ignored.
    Rows before `since` only carry the state forward: they are not diffed and not returned.
    """
    entries: list[HistoryEntry] = []
    # The full object after the last write, when known, per cluster: rows of several clusters arrive
    # interleaved by time, and a write in one cluster says nothing about the object in another (issue 14).
    states: dict[str, dict[str, Any] | None] = {}
    for row in rows:
        request = _without_type(_body(row.get("request_object")))
        response = _without_type(_body(row.get("response_object")))
        verb, subresource, cluster = row["verb"], row.get("subresource"), row["cluster"]
        before = states.get(cluster)
        after: dict[str, Any] | None
        patch_only: Any = None
        if verb in ("delete", "deletecollection"):
            after, source = None, "deleted"
        elif subresource is None and _is_object(response):
            after, source = response, "response"
        elif subresource in (None, "status") and verb in ("create", "update") and _is_object(request):  # the whole object
            after, source = request, "request"
        elif request is not None and verb in ("patch", "update") and before is not None:
            after, source = _apply(before, _scale_patch(request) if subresource == "scale" else request), "patch"
        elif request is not None:
            after, source, patch_only = None, "patch-only", request
        else:
            after, source = None, "none"
        if since is not None and row["received_at"] < since:
            states[cluster] = after if source not in ("none", "patch-only") else None
            continue
        entry = _entry(row, source)
        normalised_before, normalised_after = normalise(before, keep_status), normalise(after, keep_status)
        if source == "deleted":
            entry.summary = "deleted"
        elif source == "none":
            entry.summary = f"{verb}: the audit level ({row.get('level') or 'Metadata'}) recorded no body, so no diff is possible"
        elif source == "patch-only":
            entry.summary = "patch (no earlier state known): " + _summarise_patch(patch_only)
            entry.patch = patch_only if isinstance(patch_only, list) else []
        elif before is None:
            entry.summary = "created" if verb == "create" else f"{verb} (first state known)"
            entry.patch = jsonpatch.make_patch({}, normalised_after).patch
        else:
            entry.patch = jsonpatch.make_patch(normalised_before, normalised_after).patch
            entry.summary = summarise(entry.patch, normalised_before, normalised_after)
            if not entry.patch and not keep_noise:
                states[cluster] = after
                continue
        entry.before, entry.after = normalised_before, normalised_after
        entries.append(entry)
        states[cluster] = after if source not in ("none", "patch-only") else None
    return sorted(entries, key=lambda entry: entry.cluster)  # stable: each cluster's entries stay in time order


def by_cluster(entries: Sequence[HistoryEntry]) -> list[tuple[str, list[HistoryEntry]]]:
    """The timelines in `entries` (as `build_timeline` orders them): `[(cluster, its entries), …]`."""
    return [(cluster, list(group)) for cluster, group in itertools.groupby(entries, key=lambda entry: entry.cluster)]


@dataclass(frozen=True)
class BodilessRun:
    """Consecutive writes of one verb that the audit level recorded without a body: "74 × update, no body".

    What people read instead of 74 identical lines that each say no diff is possible; every entry is
    still here (and in the machine formats).
    """

    entries: tuple[HistoryEntry, ...]

    @property
    def first(self) -> HistoryEntry:
        return self.entries[0]

    @property
    def last(self) -> HistoryEntry:
        return self.entries[-1]

    @property
    def actors(self) -> list[str]:
        """Who wrote, in order of first write, each once."""
        return list(dict.fromkeys(entry.actor for entry in self.entries))

    @property
    def clients(self) -> list[str]:
        return list(dict.fromkeys(entry.client for entry in self.entries if entry.client))

    @property
    def summary(self) -> str:
        verb = self.first.verb + (f" {self.first.subresource}" if self.first.subresource else "")
        return f"{len(self.entries)} × {verb}, no body"


def collapse_runs(entries: Sequence[HistoryEntry], minimum: int = 2) -> list[HistoryEntry | BodilessRun]:
    """`entries` with each run of at least `minimum` consecutive bodiless writes of the same cluster,
    verb, subresource and audit level as one `BodilessRun` (what people read; machines get every entry)."""
    items: list[HistoryEntry | BodilessRun] = []
    for key, group in itertools.groupby(entries, key=_run_key):
        run = list(group)
        items += [BodilessRun(tuple(run))] if key is not None and len(run) >= minimum else run
    return items


def _run_key(entry: HistoryEntry) -> tuple[str, str, str | None, str | None] | None:
    if entry.state_source != "none":
        return None
    return entry.cluster, entry.verb, entry.subresource, entry.level


ROW_SCHEMA = pa.schema([
    ("at", pa.timestamp("us", tz="UTC")), ("cluster", pa.string()), ("verb", pa.string()), ("subresource", pa.string()),
    ("actor", pa.string()), ("actor_kind", pa.string()), ("authenticated_user", pa.string()), ("impersonated_user", pa.string()),
    ("iam_identity", pa.string()), ("source_ip", pa.string()), ("user_agent", pa.string()), ("client", pa.string()),
    ("code", pa.int32()), ("level", pa.string()), ("audit_id", pa.string()), ("state_source", pa.string()), ("summary", pa.string()),
    ("patch", pa.json_()),
])


def object_label(resource: str, namespace: str | None, name: str) -> str:
    """`deployments/payments/api`, or `clusterroles/admin` for a cluster-scoped object."""
    return f"{resource}/{namespace + '/' if namespace else ''}{name}"


def to_table(entries: list[HistoryEntry]) -> pa.Table:
    """Entries as rows (the patch as RFC 6902 JSON), for DataFrames and the machine formats."""
    return pa.Table.from_pylist([entry_row(entry) for entry in entries], schema=ROW_SCHEMA)


def entry_row(entry: HistoryEntry) -> dict[str, Any]:
    """An entry as a flat row; the patch as RFC 6902 JSON text."""
    row = {key: getattr(entry, key) for key in ROW_SCHEMA.names if key != "patch"}
    row["patch"] = orjson.dumps(entry.patch).decode()
    return row


def unified_diff(entry: HistoryEntry, context: int = 3) -> list[str]:
    """The change as a unified diff of the two states in YAML (what `git log -p` would show)."""
    if entry.state_source in ("none", "deleted", "patch-only"):
        return []
    before = yaml.safe_dump(entry.before, sort_keys=False, width=200).splitlines() if entry.before else []
    after = yaml.safe_dump(entry.after, sort_keys=False, width=200).splitlines() if entry.after else []
    return list(difflib.unified_diff(before, after, "before", "after", n=context, lineterm=""))[2:]


# ---- states -------------------------------------------------------------------------------------
def normalise(state: dict[str, Any] | None, keep_status: bool = False) -> dict[str, Any]:
    """A state without what changes on every write and means nothing to a reviewer."""
    if state is None:
        return {}
    state = _copy(state)
    if not keep_status:
        state.pop("status", None)
    metadata = state.get("metadata")
    if isinstance(metadata, dict):
        for key in NOISE_METADATA:
            metadata.pop(key, None)
        annotations = metadata.get("annotations")
        if isinstance(annotations, dict):
            for key in NOISE_ANNOTATIONS:
                annotations.pop(key, None)
            if not annotations:
                metadata.pop("annotations")
    return state


def _copy(value: Any) -> Any:
    """A deep copy of plain JSON data (an orjson round trip is several times faster than copy.deepcopy)."""
    return orjson.loads(orjson.dumps(value))


def _body(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, (dict, list)):
        return value
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        return None


def _without_type(value: Any) -> Any:
    """GKE tags bodies with `@type` (k8s.io/Patch, core.k8s.io/v1.Pod): not part of the object."""
    if isinstance(value, dict) and "@type" in value:
        value = {key: item for key, item in value.items() if key != "@type"}
        if "kind" not in value and "metadata" in value and "spec" in value and "apiVersion" not in value:
            value["kind"] = "Object"
    return value


def _is_object(value: Any) -> bool:
    """A whole Kubernetes object (not a Status, a Scale, or a patch)."""
    return isinstance(value, dict) and "kind" in value and value.get("kind") not in ("Status", "Scale") and "metadata" in value


def _scale_patch(request: Any) -> Any:
    """A patch of the scale subresource sets the workload's spec.replicas."""
    replicas = request.get("spec", {}).get("replicas") if isinstance(request, dict) else None
    return {"spec": {"replicas": replicas}} if replicas is not None else {}


def _apply(state: dict[str, Any], patch: Any) -> dict[str, Any]:
    """The state after a patch: RFC 6902 lists through jsonpatch, objects as a strategic merge."""
    if isinstance(patch, list):
        try:
            return jsonpatch.apply_patch(state, patch)
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException):
            return _copy(state)
    return _merge(_copy(state), patch) if isinstance(patch, dict) else _copy(state)


def _merge(target: Any, patch: Any) -> Any:
    """JSON merge patch, with lists of keyed objects merged by key (strategic merge's common case)."""
    if not isinstance(patch, dict) or not isinstance(target, dict):
        return _copy(patch)
    for key, value in patch.items():
        if key.startswith("$"):  # directives ($setElementOrder, $retainKeys, $patch): order and retention only
            continue
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and any(set(value) & union and set(target.get(key) or {}) <= union for union in ONE_OF):
            target[key] = _copy(value)
        elif isinstance(value, dict):
            target[key] = _merge(target.get(key, {}), value)
        elif isinstance(value, list) and isinstance(target.get(key), list) and (merge_key := _merge_key(value + target[key])):
            target[key] = _merge_list(target[key], value, merge_key)
        else:
            target[key] = _copy(value)
    return target


def _merge_key(items: list[Any]) -> str | None:
    dicts = [item for item in items if isinstance(item, dict)]
    if not dicts or len(dicts) != len(items):
        return None
    return next((key for key in MERGE_KEYS if all(key in item for item in dicts)), None)


def _merge_list(current: list[Any], patch: list[Any], key: str) -> list[Any]:
    merged = [_copy(item) for item in current]
    for item in patch:
        position = next((i for i, existing in enumerate(merged) if existing.get(key) == item.get(key)), None)
        if item.get("$patch") == "delete":
            if position is not None:
                merged.pop(position)
        elif position is None:
            merged.append({k: v for k, v in item.items() if not k.startswith("$")})
        else:
            merged[position] = _merge(merged[position], item)
    return merged


# ---- summaries ----------------------------------------------------------------------------------
def summarise(patch: list[dict[str, Any]], before: dict[str, Any], after: dict[str, Any]) -> str:
    """One line a person can read: images, replicas, env, data keys, else the fields touched."""
    if not patch:
        return "no change (metadata only)"
    parts: list[str] = []
    parts += _image_changes(before, after)
    old_replicas, new_replicas = _get(before, "spec", "replicas"), _get(after, "spec", "replicas")
    if old_replicas != new_replicas:
        parts.append(f"replicas {old_replicas} → {new_replicas}")
    parts += _env_changes(before, after)
    parts += _data_changes(before, after)
    if not parts:
        paths = sorted({_short_path(operation["path"]) for operation in patch})
        parts.append("changed " + ", ".join(paths[:4]) + (f" and {len(paths) - 4} more" if len(paths) > 4 else ""))
    return "; ".join(parts)


def _containers(state: dict[str, Any]) -> dict[str, dict[str, Any]]:
    spec = _get(state, "spec", "template", "spec") or _get(state, "spec", "jobTemplate", "spec", "template", "spec") or state.get("spec") or {}
    found: dict[str, dict[str, Any]] = {}
    for group in ("initContainers", "containers", "ephemeralContainers"):
        for container in spec.get(group) or [] if isinstance(spec, dict) else []:
            if isinstance(container, dict):
                found[str(container.get("name"))] = container
    return found


def _image_changes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    old, new = _containers(before), _containers(after)
    changes = []
    for name, container in new.items():
        previous = old.get(name, {}).get("image")
        if previous and container.get("image") != previous:
            changes.append(f"image {_short_image(previous)} → {_short_image(container.get('image'))}")
    return changes


def _env_changes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    changes = []
    old, new = _containers(before), _containers(after)
    for name in new:
        old_env = {item.get("name"): item for item in old.get(name, {}).get("env") or []}
        new_env = {item.get("name"): item for item in new[name].get("env") or []}
        changes += [f"env {key} added" for key in new_env if key not in old_env]
        changes += [f"env {key} removed" for key in old_env if key not in new_env]
        changes += [f"env {key} changed" for key in new_env if key in old_env and new_env[key] != old_env[key]]
    return changes


def _data_changes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    changes = []
    for field_name in ("data", "stringData", "binaryData"):
        old, new = before.get(field_name) or {}, after.get(field_name) or {}
        if not isinstance(old, dict) or not isinstance(new, dict) or old == new:
            continue
        label = "secret key" if after.get("kind") == "Secret" or before.get("kind") == "Secret" else "key"
        changes += [f"{label} {key} added" for key in new if key not in old]
        changes += [f"{label} {key} removed" for key in old if key not in new]
        changes += [f"{label} {key} changed" for key in new if key in old and new[key] != old[key]]
    return changes


def _summarise_patch(patch: Any) -> str:
    if isinstance(patch, list):
        return ", ".join(sorted({f"{op.get('op')} {_short_path(str(op.get('path')))}" for op in patch if isinstance(op, dict)})[:4])
    paths = sorted(_leaf_paths(patch))
    return "sets " + ", ".join(paths[:4]) + (f" and {len(paths) - 4} more" if len(paths) > 4 else "")


def _leaf_paths(value: Any, prefix: str = "") -> list[str]:
    if isinstance(value, dict) and value:
        return [path for key, item in value.items() if not str(key).startswith("$") for path in _leaf_paths(item, f"{prefix}.{key}" if prefix else key)]
    return [prefix] if prefix else []


def _short_path(path: str) -> str:
    parts = [part for part in path.strip("/").split("/") if not part.isdigit()]
    return ".".join(parts[:4]) or "(whole object)"


def _short_image(image: Any) -> str:
    return str(image).rsplit("/", 1)[-1]


def _get(value: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _entry(row: dict[str, Any], source: str) -> HistoryEntry:
    extra = _body(row.get("user_extra")) or {}
    iam = None
    if isinstance(extra, dict) and extra.get("arn"):
        arn = extra["arn"][0] if isinstance(extra["arn"], list) else extra["arn"]
        session = extra.get("sessionName")
        iam = f"{arn}" + (f" (session {session[0] if isinstance(session, list) else session})" if session else "")
    agent = row.get("user_agent")
    return HistoryEntry(
        at=row["received_at"], cluster=row["cluster"], verb=row["verb"], subresource=row.get("subresource"), actor=row["actor"],
        actor_kind=row["actor_kind"], authenticated_user=row.get("authenticated_user"), impersonated_user=row.get("impersonated_user"),
        iam_identity=iam, source_ip=row.get("source_ip"), user_agent=agent, client=agent.split("/")[0] if agent else None,
        code=row.get("code"), level=row.get("level"), audit_id=row["audit_id"], state_source=source, summary="",
    )
