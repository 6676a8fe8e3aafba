"""The simulated cluster: seeded, realistic, and the lake agrees with what the simulation did."""

from __future__ import annotations

import hashlib

from auditlake import Lake
from auditlake.demo import write_audit_log


def digest(paths) -> str:  # type: ignore[no-untyped-def]
    return hashlib.sha256(b"".join(path.read_bytes() for path in paths)).hexdigest()


def test_the_same_seed_writes_the_same_log(tmp_path):
    first = write_audit_log(tmp_path / "a", 3_000, seed=5, max_size_mb=0.5, compress=False)
    second = write_audit_log(tmp_path / "b", 3_000, seed=5, max_size_mb=0.5, compress=False)
    third = write_audit_log(tmp_path / "c", 3_000, seed=6, max_size_mb=0.5, compress=False)
    assert digest(first.files) == digest(second.files) != digest(third.files)
    assert len(first.files) > 1 and first.files[-1].name == "audit.log"


def test_the_lake_holds_exactly_what_the_simulation_did(tmp_path):
    truth = write_audit_log(tmp_path / "log", 20_000, seed=9, max_size_mb=2)
    lake = Lake(tmp_path / "lake")
    lake.ingest([tmp_path / "log"], cluster="demo")
    assert lake.sql("SELECT count(*) AS n FROM events").item() == truth.events
    assert dict(lake.sql("SELECT stage, count(*) FROM events GROUP BY ALL").rows()) == truth.by_stage
    assert dict(lake.sql("SELECT verb, count(*) FROM events GROUP BY ALL").rows()) == truth.by_verb
    changes = lake.sql(
        "SELECT audit_id FROM events WHERE resource = 'deployments' AND stage = 'ResponseComplete' AND verb = 'patch' ORDER BY received_at"
    ).to_series().to_list()
    assert changes == [change.audit_id for change in truth.changes if change.verb == "patch"]
    # the stories a demo must tell are all there
    story = lake.sql("""SELECT
        count(*) FILTER (WHERE subresource = 'exec') AS execs,
        count(*) FILTER (WHERE resource = 'secrets' AND user_name LIKE '%@example.com' AND verb = 'get') AS human_secret_reads,
        count(*) FILTER (WHERE code = 401) AS unauthenticated,
        count(*) FILTER (WHERE code = 403) AS forbidden,
        count(*) FILTER (WHERE resource LIKE '%rolebindings') AS bindings,
        count(*) FILTER (WHERE impersonated_user IS NOT NULL) AS impersonated,
        count(*) FILTER (WHERE level = 'RequestResponse' AND response_object IS NOT NULL) AS with_bodies
        FROM events""").to_dicts()[0]
    assert all(value > 0 for value in story.values()), story


def test_a_million_events_take_well_under_a_minute_to_simulate():
    """Not a timing test: the generator's cost per request is counted, in simulated events per request."""
    from auditlake.demo import ClusterSimulation

    simulation = ClusterSimulation(5_000, seed=1)
    events = sum(1 for _ in simulation.events())
    assert 2.0 <= events / 5_000 <= 2.2  # ~2 events a request (three for watches and execs), as the apiserver logs
