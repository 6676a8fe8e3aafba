"""The attack stories of the simulated cluster: every one is found, and the stateful detections find what one event cannot show.

The fixture lake's simulated cluster (tests/conftest.py) suffers each attack of `auditlake.demo.ATTACK_TECHNIQUES`
once, late in its three days, by identities whose ordinary work fills the days before. Every detection runs over
the stories' part of the run (the stateful ones read the days before it as their baseline, as they do by default).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from auditlake.demo import ATTACK_TECHNIQUES, ATTACKER_IP, CURL, AttackStory, ClusterSimulation
from auditlake.library import detections as detect
from auditlake.library.savedquery import load_library
from tests.conftest import REPO

DETECTIONS_DIR = REPO / "queries" / "detections"
# The detections that judge a request by what came before it: an identity's history (the `baseline` before the window)
# or a sequence (within `within`). Every other detection judges one request at a time.
STATEFUL = ("first-secret-read-in-namespace", "first-source-network-for-identity", "first-user-agent-for-identity",
            "first-exec-into-namespace", "first-cluster-admin-use", "grant-then-use", "privileged-pod-then-exec",
            "token-then-use-elsewhere", "denied-burst-then-allowed", "secrets-listed-then-new-identity", "rare-service-account-verb")
# Steps that no per-event rule can judge, and the stateful detections that must find them. Each is an ordinary request
# by a service account from a private address: a `list` with a stolen token, the first use of a fresh grant.
STATEFUL_ONLY = {
    ("steal-service-account-token", "use-from-new-network"): (  # payments/api's token lists pods from a VPN address, with curl
        "token-then-use-elsewhere", "first-source-network-for-identity", "first-user-agent-for-identity"),
    ("admin-clusterrole", "use-of-grant"): (  # payments/api lists nodes: refused minutes ago, allowed by a binding made since
        "grant-then-use", "denied-burst-then-allowed"),
    ("long-lived-token", "use-from-new-network"): (  # CI's deployer lists deployments from a VPN address, with curl
        "token-then-use-elsewhere", "first-source-network-for-identity", "first-user-agent-for-identity", "rare-service-account-verb"),
    ("nodes-proxy", "kubelet-pods-with-curl"): (  # Prometheus asks a kubelet for its pods as it always does, but with curl
        "first-user-agent-for-identity",),
    ("dump-all-secrets", "new-identity"): (  # a token never used before, from the pod that listed every secret minutes ago
        "secrets-listed-then-new-identity",),
}
BY_NAME = {item.name: item for item in ATTACK_TECHNIQUES}


def missing_stateful(names) -> list[str]:  # type: ignore[no-untyped-def]
    return [name for name in names if not (DETECTIONS_DIR / f"{name}.sql").is_file()]


@pytest.fixture(scope="module")
def stories(demo_truth) -> dict[str, AttackStory]:  # type: ignore[no-untyped-def]
    return {story.name: story for story in demo_truth.attacks}


@pytest.fixture(scope="module")
def found(fixture_lake, stories) -> dict[str, set[str]]:  # type: ignore[no-untyped-def]
    """audit id → the detections that found it, every detection run over the part of the run that holds the stories."""
    first = min(datetime.fromisoformat(story.started_at.replace("Z", "+00:00")) for story in stories.values())
    run = fixture_lake.detect(since=first - timedelta(hours=1), until="2026-11-05", cluster="demo")
    by_event: dict[str, set[str]] = {}
    for rule, audit_id in zip(run.findings.column("rule").to_pylist(), run.findings.column("audit_id").to_pylist(), strict=True):
        by_event.setdefault(audit_id, set()).add(rule)
    return by_event


def detections_of(story: AttackStory, found: dict[str, set[str]]) -> set[str]:
    return set().union(*(found.get(audit_id, set()) for audit_id in story.audit_ids))


def test_every_attack_happens_once_late_in_the_run_by_its_recorded_actor(fixture_lake, demo_truth, stories):
    assert [story.name for story in sorted(stories.values(), key=lambda s: s.started_at)] == [s.name for s in demo_truth.attacks]
    assert sorted(stories) == sorted(BY_NAME) and len(demo_truth.attacks) == len(ATTACK_TECHNIQUES)
    span = (datetime.fromisoformat(demo_truth.first_at.replace("Z", "+00:00")), datetime.fromisoformat(demo_truth.last_at.replace("Z", "+00:00")))
    for story in stories.values():
        started = datetime.fromisoformat(story.started_at.replace("Z", "+00:00"))
        assert started - span[0] > (span[1] - span[0]) * 0.75, f"{story.name} starts too early for a history before it"
        assert (story.technique, story.threat_matrix_id, story.attack_ids) == (
            BY_NAME[story.name].technique, BY_NAME[story.name].threat_matrix_id, BY_NAME[story.name].attack_ids)
        rows = fixture_lake.sql(
            "SELECT audit_id, coalesce(impersonated_user, user_name) AS actor, received_at FROM events "
            "WHERE cluster = 'demo' AND stage = 'ResponseComplete' AND list_contains($ids, audit_id) ORDER BY received_at",
            {"ids": list(story.audit_ids)}).to_dicts()
        assert [row["audit_id"] for row in rows] == list(story.audit_ids), f"{story.name}: its requests are in the lake, in order"
        assert story.actor in {row["actor"] for row in rows}, story.name
        assert rows[0]["received_at"].isoformat().replace("+00:00", "Z")[:19] == story.started_at[:19]


def test_the_victims_have_a_history_before_the_attack(fixture_lake, stories):
    """"First seen" means something only if the identity was seen: days of ordinary calls from its usual address and client."""
    for victim, story in (("system:serviceaccount:payments:api", "steal-service-account-token"),
                          ("system:serviceaccount:monitoring:prometheus", "nodes-proxy"),
                          ("system:serviceaccount:ci:deployer", "long-lived-token")):
        before = fixture_lake.sql(
            "SELECT count(*) AS calls, count(DISTINCT date) AS days, list(DISTINCT source_ip) AS ips, list(DISTINCT user_agent) AS agents "
            "FROM events WHERE cluster = 'demo' AND stage = 'ResponseComplete' AND user_name = $user AND received_at < $at",
            {"user": victim, "at": stories[story].started_at}).to_dicts()[0]
        assert before["calls"] >= 5 and before["days"] >= 2, (victim, before)
        assert ATTACKER_IP not in before["ips"] and CURL not in before["agents"], (victim, before)


def test_every_story_is_found_by_at_least_one_detection(stories, found):
    missed = [name for name, story in stories.items() if not detections_of(story, found)]
    assert not missed, f"no detection finds the stories {missed}"


def test_the_coverage_table_names_exactly_the_per_event_detections_that_find_each_story(stories, found):
    """The README's table is not a claim: each story's per-event detections are those that really fire on its requests."""
    per_event = {query.name for query in detect.detections(load_library())} - set(STATEFUL)
    for name, story in stories.items():
        assert detections_of(story, found) & per_event == set(BY_NAME[name].detections), name
        assert set(BY_NAME[name].stateful) <= set(STATEFUL), name


def test_the_stateful_detections_in_the_coverage_table_find_their_story(stories, found):
    listed = sorted({name for item in ATTACK_TECHNIQUES for name in item.stateful})
    assert not missing_stateful(listed), "a stateful detection the coverage table names is not in queries/detections/"
    for name, story in stories.items():
        assert detections_of(story, found) & set(STATEFUL) == set(BY_NAME[name].stateful), name


def test_no_per_event_detection_judges_the_stateful_only_steps(stories, found):
    """The point of the stateful detections: these steps are ordinary requests, invisible one at a time."""
    per_event = {query.name for query in detect.detections(load_library())} - set(STATEFUL)
    for (name, step), _ in STATEFUL_ONLY.items():
        fired = found.get(stories[name].step(step), set()) & per_event
        assert not fired, f"{name} / {step} is found by the per-event {sorted(fired)}: it is no stateful-only step"


def test_the_stateful_detections_find_what_a_per_event_rule_cannot(stories, found):
    needed = sorted({rule for rules in STATEFUL_ONLY.values() for rule in rules})
    assert not missing_stateful(needed), "a stateful detection STATEFUL_ONLY names is not in queries/detections/"
    failures = [f"{name} / {step}: {rule}" for (name, step), rules in STATEFUL_ONLY.items() for rule in rules
                if rule not in found.get(stories[name].step(step), set())]
    assert not failures, "not found: " + "; ".join(failures)


def test_the_stories_do_not_change_the_rest_of_the_simulation():
    """The stories and the workloads' calls draw from their own random streams: every other event is as it was, byte for byte."""
    simulation = ClusterSimulation(3_000, seed=4)
    with_attacks = list(simulation.events())
    without = list(ClusterSimulation(3_000, seed=4, attacks=False).events())
    added = {event["auditID"] for event in with_attacks} - {event["auditID"] for event in without}
    assert [event for event in with_attacks if event["auditID"] not in added] == without
    stories = {audit_id for story in simulation.truth.attacks for audit_id in story.audit_ids}
    assert stories < added and len(added) == simulation.truth.requests - 3_000 - 5  # the rest: the workloads' own calls (5 creations)


def test_the_same_seed_tells_the_same_stories():
    first, second = ClusterSimulation(3_000, seed=4), ClusterSimulation(3_000, seed=4)
    assert [e["auditID"] for e in first.events()] == [e["auditID"] for e in second.events()]
    assert first.truth.attacks == second.truth.attacks and len(first.truth.attacks) == len(ATTACK_TECHNIQUES)
    other = ClusterSimulation(3_000, seed=5)
    list(other.events())
    assert [s.started_at for s in other.truth.attacks] != [s.started_at for s in first.truth.attacks]
