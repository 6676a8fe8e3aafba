"""Property: whatever a file holds, every line is a row, a quarantine record, a counted duplicate, a counted blank
line or a counted non-audit record; nothing crashes. (The generator is in `fuzz.py`; the benchmark runs it 10,000+ times.)"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from auditlake.ingest import DecoderPool
from auditlake.store.manifest import LakeStore
from tests.ingest.fuzz import Fuzzed, check, files, ingest_in_memory, ingest_into_store, make_pool, stored_rows

EXAMPLES = 500  # in CI (~1 min); `make fuzz` (benchmarks/fuzz_ingest.py) runs 10,000 and more


@pytest.fixture(scope="module")
def pool() -> Iterator[DecoderPool]:
    with make_pool() as decoders:
        yield decoders


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(fuzzed=files())
def test_every_line_of_any_file_is_accounted_for_and_nothing_crashes(pool, fuzzed: Fuzzed):
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "audit.log"
        path.write_bytes(fuzzed.content())
        check(fuzzed, ingest_in_memory(path, pool))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(fuzzed=files(max_lines=8))
def test_through_a_real_lake_duplicates_are_counted_and_reruns_add_nothing(pool, fuzzed: Fuzzed):
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "audit.log"
        path.write_bytes(fuzzed.content())
        store = LakeStore(Path(directory) / "lake")
        if not fuzzed.is_json_log or not any(line.units for line in fuzzed.lines):
            return  # covered above: nothing to store
        first = ingest_into_store(path, store, pool)
        accounted = first.events_written + first.duplicates + first.quarantined + sum(first.skipped_records.values())
        assert accounted == fuzzed.expected_units and first.blank_lines == fuzzed.expected_blank
        assert stored_rows(store) == first.events_written
        copy = Path(directory) / "copy-of-audit.log"
        copy.write_bytes(fuzzed.content())  # the same bytes under another name: recognised, or read again and all duplicates
        again = ingest_into_store(copy, store, pool)
        assert again.events_written == 0 and stored_rows(store) == first.events_written
