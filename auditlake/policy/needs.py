"""What the saved queries need from an audit Policy: which needs a policy leaves unmet, on what, and why.

Owns: the representative requests a need is checked on (`probes`), the losses by root cause (`losses`),
the arithmetic of applying a policy to the request shapes stored in a lake (`simulate`, `explain_events`:
rows in, results out; the Lake runs the `request-shapes` query), choosing the needs of one purpose, and
the recommended Policy, rendered from `templates/`. Pure: never opens a lake, a connection or a terminal.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

from auditlake.policy.evaluate import Decision, Request, evaluate, request_for
from auditlake.policy.lint import ADMIN, HUMAN, SENSITIVE_PROBES, SERVICE_ACCOUNT
from auditlake.policy.model import LEVELS, Policy, level_at_least

TEMPLATES = Path(__file__).resolve().parent / "templates"
CLUSTER_SCOPED = frozenset({"namespaces", "nodes", "clusterroles", "clusterrolebindings", "customresourcedefinitions", "persistentvolumes",
                            "mutatingwebhookconfigurations", "validatingwebhookconfigurations", "validatingadmissionpolicies",
                            "validatingadmissionpolicybindings", "certificatesigningrequests", "storageclasses", "priorityclasses"})
ANY_RESOURCE = (("", "pods"), ("apps", "deployments"), ("", "secrets"), ("", "configmaps"), ("", "nodes"), ("", "services"),
                ("rbac.authorization.k8s.io", "rolebindings"), ("batch", "jobs"))
ANY_VERB = ("get", "list", "watch", "create", "update", "patch", "delete")
PROBE_USERS = (HUMAN, SERVICE_ACCOUNT, ADMIN)
# What each probe user stands for. The probe users are made up: a report names the kind, never the user.
PROBE_KINDS = {HUMAN[0]: "people", SERVICE_ACCOUNT[0]: "service accounts", ADMIN[0]: "administrators (system:masters)"}


@dataclass(frozen=True)
class Loss:
    """One root cause of lost data: the rule (or the lack of one) that logs requests saved queries read too little.

    `requests` are shapes (verbs, resource, API group, and which kinds of identity when not all), never
    users: the representative requests auditlake evaluates are made up, and naming their users would read
    as if they were in the data. `events` counts the completed requests of the window this cause decides
    that a query needs more of: 0 means the loss is real for the policy but nothing in the window shows it.
    """

    rule: int | None  # 1-based number of the deciding rule; None: no rule matches (the default level, None)
    line: int | None
    level: str  # the level the policy gives these requests
    omits_response: bool  # the rule omits ResponseComplete, the stage the saved queries read
    queries: dict[str, str]  # saved query → the level it needs
    requests: tuple[str, ...]
    events: int


def probes(need: Any) -> list[Request]:
    """Representative requests a need covers: each of its resources and verbs, by a person, a workload and an admin."""
    requests = []
    for group, resource in _targets(need):
        namespace = None if resource.partition("/")[0] in CLUSTER_SCOPED else "payments"
        for verb in need.verbs or ANY_VERB:
            for user, groups in PROBE_USERS:
                requests.append(request_for(user, groups, verb, api_group=group, resource=resource, namespace=namespace, name="example"))
    return requests


def _targets(need: Any) -> list[tuple[str, str]]:
    """(API group, resource[/subresource]) a need reads; a need naming no resource reads the common ones."""
    return [(need.group, resource) for resource in need.resources] if need.resources else list(ANY_RESOURCE)


def is_unmet(decision: Decision, need: Any) -> bool:
    """Whether a decision logs a request too little for a need (a lower level, or without ResponseComplete)."""
    return not level_at_least(decision.level, need.level) or "ResponseComplete" in decision.omit_stages


def losses(policy: Policy, needs: Iterable[tuple[str, Any]], observed: Iterable[tuple[Request, int]] = ()) -> list[Loss]:
    """What the saved queries would lose under `policy`, one entry per root cause, in rule order.

    Args:
        policy: the Policy, evaluated as kube-apiserver does.
        needs: (saved query name, need) pairs; each need is checked on its representative requests (`probes`).
        observed: (request, events) of the completed requests in a window of real data: they count the events
            of each cause, and find the causes the representative requests miss (a rule for one real user), for
            the needs that name their resources.
    """
    causes: dict[tuple[int | None, str, bool], dict[str, Any]] = {}

    def cause(decision: Decision) -> dict[str, Any]:
        key = (decision.rule.index if decision.rule else None, decision.level, "ResponseComplete" in decision.omit_stages)
        return causes.setdefault(key, {"rule": decision.rule, "queries": {}, "shapes": {}, "events": 0})

    def record(entry: dict[str, Any], query: str, need: Any, request: Request, kind: str | None) -> None:
        if LEVELS.index(need.level) > LEVELS.index(entry["queries"].get(query, "None")):
            entry["queries"][query] = need.level
        shape = entry["shapes"].setdefault((request.api_group, _target(request)), {"verbs": set(), "kinds": set()})
        shape["verbs"].add(request.verb)
        shape["kinds"].add(kind)

    needs = list(needs)
    for query, need in needs:
        for request in probes(need):
            decision = evaluate(policy, request)
            if is_unmet(decision, need):
                record(cause(decision), query, need, request, PROBE_KINDS[request.user or ""])
    for request, events in observed:
        decision = evaluate(policy, request)
        unmet = [(query, need) for query, need in needs if _reads(need, request) and is_unmet(decision, need)]
        if unmet:
            entry = cause(decision)
            entry["events"] += events
            for query, need in unmet:
                record(entry, query, need, request, None)
    result = []
    for (index, level, omits_response), entry in sorted(causes.items(), key=lambda item: (item[0][0] is None, item[0][0] or 0, item[0][1:])):
        result.append(Loss(None if index is None else index + 1, entry["rule"].line if entry["rule"] else None, level, omits_response,
                           dict(sorted(entry["queries"].items())), _shapes_text(entry["shapes"]), entry["events"]))
    return result


def _target(request: Request) -> str:
    return (request.resource or "") + (f"/{request.subresource}" if request.subresource else "")


def _reads(need: Any, request: Request) -> bool:
    """Whether a stored request is one a need names (its resources and verbs).

    A need naming no resource ("every request, at Metadata") is left to its representative requests: in the data
    it would match the system traffic (kube-proxy's watches, heartbeats) a policy drops on purpose.
    """
    return (bool(need.resources) and request.resource is not None and (request.api_group, _target(request)) in _targets(need)
            and request.verb in (need.verbs or ANY_VERB))


def _shapes_text(shapes: dict[tuple[str, str], dict[str, set[Any]]]) -> tuple[str, ...]:
    """One line per set of verbs (and who makes the requests, when not everyone): the resources with those verbs.

    >>> everyone = {"people", "service accounts", "administrators (system:masters)"}
    >>> _shapes_text({("apps", "deployments"): {"verbs": {"update", "create"}, "kinds": everyone},
    ...               ("", "pods"): {"verbs": {"create", "update"}, "kinds": everyone},
    ...               ("", "nodes"): {"verbs": {"get"}, "kinds": {None}}})
    ('get: nodes, by some users of the window', 'create, update: pods, deployments (apps)')
    """
    lines: dict[tuple[tuple[str, ...], str], list[str]] = {}
    for (group, target), shape in sorted(shapes.items()):
        verbs = tuple([verb for verb in ANY_VERB if verb in shape["verbs"]] + sorted(shape["verbs"] - set(ANY_VERB)))
        named = [kind for kind in PROBE_KINDS.values() if kind in shape["kinds"]]
        who = "" if len(named) == len(PROBE_KINDS) else f", by {' and '.join(named)}" if named else ", by some users of the window"
        lines.setdefault((verbs, who), []).append(target + (f" ({group})" if group else ""))
    return tuple(f"{', '.join(verbs)}: {', '.join(targets)}{who}" for (verbs, who), targets in lines.items())


def describe_loss(loss: Loss) -> list[str]:
    """A loss as lines of text: its cause, the saved queries it affects by the level they need, the requests.

    >>> for line in describe_loss(Loss(1, 5, "Metadata", False, {"image-changes": "RequestResponse"}, ("patch: deployments (apps)",), 12)):
    ...     print(line)
    rule 1 (line 5) logs them at Metadata (12 events of these requests in the window)
      queries needing RequestResponse: image-changes
      requests:
        patch: deployments (apps)
    """
    if loss.rule is None:
        cause = "no rule matches them: not logged (the default level is None)"
    else:
        cause = f"rule {loss.rule} (line {loss.line}) logs them at {loss.level}" + (
            ", without the ResponseComplete stage the saved queries read" if loss.omits_response else "")
    lines = [f"{cause} ({loss.events:,} event{'' if loss.events == 1 else 's'} of these requests in the window)"]
    for level in reversed(LEVELS):
        names = [name for name, needed in loss.queries.items() if needed == level]
        if names:
            lines.append(f"  queries needing {level}: {', '.join(names)}")
    return lines + ["  requests:"] + [f"    {shape}" for shape in loss.requests]


# ---- a policy applied to the requests stored in a lake --------------------------------------------
@dataclass(frozen=True)
class PolicySimulation:
    """A policy applied to the lake's events: volume before and after, per rule, and what the saved queries would lose."""

    events_before: int
    events_after: int
    levels_before: dict[str, int]
    levels_after: dict[str, int]
    body_bytes_before: int
    body_bytes_after: int
    rules: list[tuple[int | None, str, int, int]]  # (rule index or None for no match, level, events matched, events kept)
    lost: list[Loss]  # what the saved queries would lose, one entry per root cause (the rule that decides)


def uses_resource_names(policy: Policy) -> bool:
    """Whether any rule names objects (resourceNames): only then do request shapes need the object name."""
    return any(group.resource_names for rule in policy.rules for group in rule.resources)


def shape_request(shape: dict[str, Any]) -> Request:
    """The request a row of the `request-shapes` query stands for."""
    return Request(shape["user_name"], tuple(shape["user_groups"]), shape["verb"] or "", shape["api_group"], shape["resource"],
                   shape["subresource"], shape["namespace"], shape["name"], shape["path"])


def decide_shapes(policy: Policy, shapes: Iterable[dict[str, Any]]) -> list[tuple[dict[str, Any], Decision]]:
    """Each stored request shape (a row of the `request-shapes` query) with what `policy` decides for it."""
    return [(shape, evaluate(policy, shape_request(shape))) for shape in shapes]


def is_kept(shape: dict[str, Any], decision: Decision) -> bool:
    """Whether the policy would still log this stage of the request."""
    return decision.level != "None" and shape["stage"] not in decision.omit_stages


def simulate(policy: Policy, shapes: Iterable[dict[str, Any]], needs: Sequence[tuple[str, Any]]) -> PolicySimulation:
    """What `policy` would have logged of the stored request shapes, and what the (query name, need) pairs would lose."""
    per_rule: dict[tuple[int | None, str], dict[str, int]] = {}
    before: dict[str, int] = {}
    after: dict[str, int] = {}
    bytes_before = bytes_after = 0
    decisions = decide_shapes(policy, shapes)
    for shape, decision in decisions:
        events, body = shape["events"], shape["request_bytes"] + shape["response_bytes"]
        before[shape["level"] or "unknown"] = before.get(shape["level"] or "unknown", 0) + events
        bytes_before += body
        kept = is_kept(shape, decision)
        if kept:
            after[decision.level] = after.get(decision.level, 0) + events
            bytes_after += (shape["request_bytes"] if level_at_least(decision.level, "Request") else 0) + (
                shape["response_bytes"] if decision.level == "RequestResponse" else 0)
        entry = per_rule.setdefault((decision.rule.index if decision.rule else None, decision.level), {"events": 0, "kept": 0})
        entry["events"] += events
        entry["kept"] += events if kept else 0
    completed = [(shape_request(shape), shape["events"]) for shape, _ in decisions if shape["stage"] == "ResponseComplete"]
    lost = losses(policy, needs, completed)
    return PolicySimulation(sum(before.values()), sum(after.values()), before, after, bytes_before, bytes_after,
                            [(index, level, counts["events"], counts["kept"]) for (index, level), counts in sorted(
                                per_rule.items(), key=lambda item: (item[0][0] is None, item[0][0] or 0))], lost)


def explain_events(policy: Policy, shapes: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """For each stored request shape, most events first: the level it was logged at and the level (and rule) the policy gives."""
    rows = []
    for shape, decision in decide_shapes(policy, shapes):
        target = (shape["resource"] + (f"/{shape['subresource']}" if shape["subresource"] else "")) if shape["resource"] else shape["path"]
        rows.append({"user": shape["user_name"], "verb": shape["verb"], "target": target, "namespace": shape["namespace"],
                     "stage": shape["stage"], "events": shape["events"], "logged_at": shape["level"], "policy_level": decision.level,
                     "rule": decision.rule.index + 1 if decision.rule else None, "rule_line": decision.rule.line if decision.rule else None,
                     "kept": is_kept(shape, decision)})
    rows.sort(key=lambda row: -row["events"])
    return rows


# ---- a recommended policy -------------------------------------------------------------------------
def recommend(needs: list[Any], purpose: str) -> str:
    """A Policy that keeps every need met at the lowest volume, with a comment on every rule (YAML text).

    The fixed rules are `templates/recommended-policy.yaml`; each level a need asks above Metadata adds a
    `templates/need-rule.yaml` before the catch-all, at `${need_rules}`.
    """
    settled_above = {(group, resource) for resource, group, *_ in SENSITIVE_PROBES}  # the template's Metadata and token rules
    grouped: dict[tuple[str, str], dict[str, set[str]]] = {}
    for need in needs:
        if need.level == "Metadata" or not need.resources:
            continue
        entry = grouped.setdefault((need.level, need.group), {"resources": set(), "verbs": set()})
        entry["resources"].update(name for name in need.resources if (need.group, name) not in settled_above)
        entry["verbs"].update(need.verbs or ANY_VERB)
    for (level, group), entry in grouped.items():  # what a RequestResponse rule already logs needs no Request rule
        fuller = grouped.get(("RequestResponse", group))
        if level == "Request" and fuller and entry["verbs"] <= fuller["verbs"]:
            entry["resources"] -= fuller["resources"]
    need_rule = Template((TEMPLATES / "need-rule.yaml").read_text())
    rules = []
    for level in ("RequestResponse", "Request"):
        for (need_level, group), entry in sorted(grouped.items()):
            if need_level != level or not entry["resources"]:
                continue
            rules.append(need_rule.substitute(
                level=level, resources=", ".join(sorted(entry["resources"])), group_note=f" ({group})" if group else "",
                bodies="the response bodies" if level == "RequestResponse" else "the request bodies",
                verbs=", ".join(sorted(entry["verbs"], key=ANY_VERB.index)), group=group or '""'))
    return Template((TEMPLATES / "recommended-policy.yaml").read_text()).substitute(purpose=purpose, need_rules="".join(rules))
