"""Fuzz the ingest pipeline: N generated files (default 10,000), each line accounted for, no crash; prints the figures.

Run: `python benchmarks/fuzz_ingest.py [--examples 10000] [--seed 1]` (`make fuzz`). The generator and the property are
the ones `tests/ingest/test_fuzz.py` runs 500 times in CI (tests/ingest/fuzz.py): real events from tests/data with
lines an adversary writes (cut short, bytes inserted or replaced, odd times, deep nesting, byte-order marks, blank
lines, copies, EventLists, AKS records, scalars). Exit 1 on the first file whose lines are not all accounted for.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, given, seed, settings

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.ingest.fuzz import Fuzzed, check, files, ingest_in_memory, make_pool  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    arguments = parser.parse_args()
    totals: Counter[str] = Counter()
    started = time.monotonic()
    with make_pool() as pool:

        @seed(arguments.seed)
        @settings(max_examples=arguments.examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(fuzzed=files())
        def property_holds(fuzzed: Fuzzed) -> None:
            with tempfile.TemporaryDirectory() as directory:
                path = Path(directory) / "audit.log"
                path.write_bytes(fuzzed.content())
                outcome = ingest_in_memory(path, pool)
                check(fuzzed, outcome)
            result = outcome.result
            totals["files"] += 1
            totals["lines"] += len(fuzzed.lines)
            totals["bytes"] += len(fuzzed.content())
            totals["rows"] += result.events_written
            totals["duplicates"] += result.duplicates
            totals["quarantined"] += result.quarantined
            totals["blank lines"] += result.blank_lines
            totals["non-audit records"] += sum(result.skipped_records.values())
            totals["files not JSON"] += outcome.error is not None

        property_holds()
    seconds = time.monotonic() - started
    print(f"{totals['files']:,} files, {totals['lines']:,} lines, {totals['bytes'] / 1e6:,.1f} MB in {seconds:,.0f} s "
          f"({seconds / max(totals['files'], 1) * 1000:,.0f} ms a file): every line accounted for, no crash")
    print("  " + " · ".join(f"{totals[key]:,} {key}" for key in ("rows", "duplicates", "quarantined", "blank lines",
                                                                    "non-audit records", "files not JSON")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
