"""Cold start-up of the `auditlake` command: median of N fresh interpreters per command, against the targets.

Run: `python benchmarks/startup.py` (or `--runs 10 --requests 2000 --lake PATH`).

Each run is a new `python -m auditlake …` process (a cold interpreter; the OS file cache is warm, as it is
for a user's second command). The machine is often shared, so every time is shown three ways: the median,
the median less the median of `python -c pass` (what auditlake itself costs), and the ratio to the target
(layout issue: `--version`/`--help` ≤ 0.25 s, `sql "select 1"` ≤ 0.5 s, `status` ≤ 0.6 s on the demo lake).
Without `--lake`, a demo lake of `--requests` simulated requests is made in a temporary directory first.
Never a timed unit test: a loaded machine would fail it for no fault of the code.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PYTHON = sys.executable
TARGETS = {"--version": 0.25, "--help": 0.25, 'sql "select 1"': 0.5, "status": 0.6}


def seconds(command: list[str], runs: int) -> float:
    """The median wall time of `runs` fresh processes running `command`; a failing command stops the benchmark."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
        times.append(time.perf_counter() - started)
        if done.returncode:
            sys.exit(f"{' '.join(command)} failed ({done.returncode}): {done.stderr.decode()[-400:]}")
    return statistics.median(times)


def commands(lake: Path) -> dict[str, list[str]]:
    auditlake = [PYTHON, "-m", "auditlake"]
    return {"--version": [*auditlake, "--version"], "--help": [*auditlake, "--help"],
            'sql "select 1"': [*auditlake, "sql", "select 1", "--lake", str(lake)], "status": [*auditlake, "status", "--lake", str(lake)]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="Cold runs per command (the median is shown).")
    parser.add_argument("--lake", type=Path, help="A lake to run sql and status on (default: a fresh demo lake).")
    parser.add_argument("--requests", type=int, default=2000, help="Simulated requests for that demo lake.")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="auditlake-startup-") as scratch:
        lake = options.lake
        if lake is None:
            lake = Path(scratch) / "lake"
            subprocess.run([PYTHON, "-m", "auditlake", "demo", "--lake", str(lake), "--log-dir", str(Path(scratch) / "log"),
                            "--requests", str(options.requests)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        baseline = seconds([PYTHON, "-c", "pass"], options.runs)
        print(f"median of {options.runs} cold runs; python -c pass: {baseline:.3f} s")
        print("| command | median | less python -c pass | target | median / target |")
        print("|---|---|---|---|---|")
        for name, command in commands(lake).items():
            median = seconds(command, options.runs)
            print(f"| auditlake {name} | {median:.3f} s | {median - baseline:.3f} s | ≤ {TARGETS[name]} s | {median / TARGETS[name]:.2f} |")


if __name__ == "__main__":
    main()
