"""Shared fixtures: where the real data is, a clean environment, and one read-only lake."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from auditlake import Lake
from auditlake.demo import ClusterSimulation, DemoTruth

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"
SHARED = Path(os.environ.get("AUDITLAKE_SHARED_DATA", REPO.parent / "shared" / "data"))
DEMO_START = datetime(2026, 11, 1, tzinfo=UTC)
DEMO_REQUESTS = 40_000  # enough for every rare story of the simulation to happen a few times
DEMO_SEED = 11
requires_shared = pytest.mark.skipif(
    not SHARED.is_dir(), reason=f"{SHARED} is absent: larger real-data tests need ../shared/data (CI always has it)"
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No AUDITLAKE_* setting of the developer's shell leaks into a test, and no test writes to the user's cache."""
    for name in list(os.environ):
        if name.startswith("AUDITLAKE_") and name != "AUDITLAKE_SHARED_DATA":
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(scope="session")
def fixture_lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    """A lake of the vendored real slices plus a small simulated cluster; tests only read it."""
    root = tmp_path_factory.mktemp("fixture")
    lake = Lake(root / "lake")
    lake.ingest([DATA / "immudb_first_300_lines.log"], cluster="immudb")
    lake.ingest([DATA / "audit2rbac_impersonation_v1beta1.log"], cluster="audit2rbac")
    lake.ingest([DATA / "khi_lease_update_request_response.jsonl"], cluster="kind")
    lake.demo(root / "demo-log", requests=DEMO_REQUESTS, seed=DEMO_SEED, start=DEMO_START)
    return lake


@pytest.fixture(scope="session")
def demo_truth() -> DemoTruth:
    """What the fixture lake's simulated cluster really did (re-simulated: the same seed gives the same events)."""
    simulation = ClusterSimulation(DEMO_REQUESTS, seed=DEMO_SEED, start=DEMO_START)
    for _ in simulation.events():
        pass
    return simulation.truth


# Execution settings for the tests' Spark sessions, which run ~130 small queries over small lakes: one shuffle
# partition and no adaptive re-planning (measured on 12 parity queries, 3 interleaved rounds on a busy 2-core machine:
# 110 s with the product's 4 partitions and AQE, 86 s with these). They change how Spark executes a query, never its
# answer; the product's own sessions keep SESSION_CONFIG.
QUICK_SPARK = {"spark.sql.shuffle.partitions": "1", "spark.sql.adaptive.enabled": "false"}


def quick_spark_session(spark: Any) -> Any:
    """A new session of the shared Spark JVM, with QUICK_SPARK: its own temp views and settings, the JVM's cache shared."""
    session = spark.newSession()
    for key, value in QUICK_SPARK.items():
        session.conf.set(key, value)
    return session


@pytest.fixture(scope="session")
def spark_jvm() -> Iterator[Any]:
    """One local Spark JVM per test worker, shared by every file that runs Spark (starting one costs 15-45 s).

    Tests take sessions of it (`quick_spark_session`), so one test's registered lake never replaces another's views.
    Skips, saying why, without pyspark or java.
    """
    pytest.importorskip("pyspark", reason="pyspark is not installed: pip install 'auditlake[spark]'")
    if shutil.which("java") is None:
        pytest.skip("java is not on PATH: the Spark tests need Java 17+ (make java)")
    from auditlake.spark import session

    started = session("local[2]")
    yield started
    started.stop()


@pytest.fixture
def copy_of(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Copy a vendored file into the test's directory (tests that modify inputs never touch tests/data)."""

    def copy(name: str, target: str | None = None) -> Path:
        destination = tmp_path / (target or name)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(DATA / name, destination)
        return destination

    return copy


# A writer for the crash tests (ingest, compact, findings, review, retention), run in its own process: it SIGKILLs itself
# as its commit's digest is put in place ("before-digest"), just before the new manifest replaces the old one
# ("before-commit": the digest is written) or at the first rename after it ("after-commit"). Arguments: LAKE OPERATION
# MOMENT [LOG | ARCHIVE]. Retention archives every partition older than a day to ARCHIVE.
KILLED_WRITER = """
import os, signal, sys
from datetime import datetime, UTC
import pyarrow as pa
from auditlake import Lake
from auditlake.store import findings

lake, operation, moment = Lake(sys.argv[1]), sys.argv[2], sys.argv[3]
manifest, replace, armed = str(lake.store.manifest_path), os.replace, False

def replace_then_die(source, target, *args, **kwargs):
    global armed
    if armed or (moment == "before-commit" and str(target) == manifest) or (moment == "before-digest" and "/_digests/0" in str(target)):
        os.kill(os.getpid(), signal.SIGKILL)
    replace(source, target, *args, **kwargs)
    armed = moment == "after-commit" and str(target) == manifest

os.replace = replace_then_die
if operation == "ingest":
    lake.ingest([sys.argv[4]], cluster="c")
elif operation == "compact":
    lake.compact()
elif operation == "retention":
    lake.retention(hot="1d", archive=sys.argv[4])
elif operation == "review":
    with lake.store.write_lock():
        findings.write_review(lake.store, "r-1", b'{"id": "r-1"}\\n', target="pci-dss:10.2.1", reviewed_at="2026-11-05T09:30:00+00:00",
                             version="test")
else:  # findings on two days, as `detect --write` writes them
    days = [datetime(2023, 3, 10, 22, 40, tzinfo=UTC), datetime(2023, 3, 11, 1, 0, tzinfo=UTC)]
    columns = {"received_at": pa.array(days, pa.timestamp("us", tz="UTC")), "found_at": pa.array(days, pa.timestamp("us", tz="UTC"))}
    for name in ("cluster", "rule", "severity", "actor", "source_ip", "verb", "object", "summary", "audit_id"):
        columns[name] = pa.array(["c", "c"] if name == "cluster" else [name + "-1", name + "-2"])
    with lake.store.write_lock():
        findings.write_findings(lake.store, pa.table(columns), version="test")
"""
