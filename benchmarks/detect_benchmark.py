"""Detection benchmark (issue 19 §4): every detection over the 10 M-event lake, against the issue's figures.

Run: `make bench-detect` (or `python benchmarks/detect_benchmark.py --repeat 3`).

The lake is the scale-out benchmark's `benchmarks/work/scaleout-10m` (one generated log of 2.5 M requests ingested as
two clusters, ≈ 10.3 M events over 8 days), built by `benchmarks/scaleout_benchmark.py` when it is missing. Each run is
its own process, `auditlake detect --lake L --since FIRST --until LAST+1 --format csv > /dev/null` (start-up, catalog
open, every detection, the findings printed): wall seconds and peak RSS (`os.wait4`), median of `--repeat`. Then, in
one process, the same run with each detection timed (CPU seconds; the shared scans of the window are the rest), so the
slowest rules are named: there the detections execute one at a time (`SIDE_BY_SIDE = 1`), so that each one's CPU is
its own. Prints Markdown on stdout, progress on stderr with the load average (other work may share the machine);
writes nothing but the lake when it builds it.

Target: ≤ 20 s wall and peak RSS < 1 GiB (the issue: 42 s for the 59 detections of the time, before the stateful ones).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import scaleout_benchmark as scaleout  # noqa: E402  (the 10 M lake, its build and the process measurement)

TARGET_SECONDS = 20.0
BASELINE_SECONDS = 42.0  # the figure: the 59 detections of 2026-11, before the history-reading ones
MEMORY_LIMIT = 1024**3

# `python -c` child: one `Lake.detect` over the window with each detection's statement timed; prints JSON.
PER_RULE = """
import json, resource, sys, time
import auditlake.library.detections as detections
from auditlake import Lake

def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime

detections.SIDE_BY_SIDE = 1  # one at a time: the CPU a statement used is its own, not its neighbour's too
spent, run = {}, detections.run
def timed(connection, rule, values):
    started = cpu()
    table = run(connection, rule, values)
    spent[rule.name] = [cpu() - started, table.num_rows]
    return table
detections.run = timed
started = cpu()
Lake(sys.argv[1]).detect(since=sys.argv[2], until=sys.argv[3])
print(json.dumps({"total": cpu() - started, "rules": spent}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="runs of `auditlake detect` (median reported)")
    parser.add_argument("--slowest", type=int, default=10, help="how many of the slowest detections to list")
    arguments = parser.parse_args()
    scaleout.WORK.mkdir(exist_ok=True)
    record = scaleout.build("10m", 2_500_000, scaleout.SIZES["10m"][1])
    lake = scaleout.WORK / "scaleout-10m"
    facts = scaleout.lake_facts(lake)
    since, until = str(facts["first"]), str(date.fromisoformat(str(facts["last"])) + timedelta(days=1))
    command = [*scaleout.AUDITLAKE, "detect", "--lake", str(lake), "--since", since, "--until", until, "--format", "csv"]
    runs = []
    for number in range(1, arguments.repeat + 1):
        scaleout.say(f"auditlake detect, whole lake ({number}/{arguments.repeat}) …")
        seconds, rss, output, cpu_seconds = scaleout.run_measured(command, stdout=None)
        runs.append((seconds, rss, cpu_seconds, max(output.count("\n") - 1, 0)))
        scaleout.say(f"  {seconds:.1f} s wall, {cpu_seconds:.1f} CPU-s, {rss / 1024**3:.2f} GiB")
    scaleout.say("each detection timed, in one process …")
    child = subprocess.run([scaleout.PYTHON, "-c", PER_RULE, str(lake), since, until], capture_output=True, text=True, check=True)
    per_rule = json.loads(child.stdout.strip().splitlines()[-1])  # the figures are the child's last line

    seconds = statistics.median(run[0] for run in runs)
    rss = max(run[1] for run in runs)
    cpu_seconds = statistics.median(run[2] for run in runs)
    rules = per_rule["rules"]
    in_rules = sum(spent for spent, _ in rules.values())
    gib = 1024**3
    lines = [
        f"Detection benchmark, {time.strftime('%Y-%m-%d')}: {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}; "
        f"lake of {int(str(facts['events'])):,} events ({facts['clusters']} clusters, {since} → {until}), built {record['built']}.",
        "",
        "| `auditlake detect`, every detection, whole lake | wall (median of " f"{len(runs)}) | CPU | peak RSS | findings | vs target |",
        "|---|---|---|---|---|---|",
        f"| {len(rules)} detections | {seconds:.1f} s | {cpu_seconds:.1f} s | {rss / gib:.2f} GiB | {runs[0][3]:,} "
        f"| {seconds / TARGET_SECONDS:.1f}× the target's {TARGET_SECONDS:.0f} s; {seconds / BASELINE_SECONDS:.1f}× the issue's {BASELINE_SECONDS:.0f} s |",
        "",
        f"CPU in one process: {per_rule['total']:.1f} s, of which the detections' own statements {in_rules:.1f} s and the shared "
        f"scans of the window (materialised once per run) {per_rule['total'] - in_rules:.1f} s. The slowest:",
        "",
        "| detection | CPU s | findings |",
        "|---|---|---|",
        *(f"| {name} | {spent:.2f} | {found:,} |" for name, (spent, found) in sorted(rules.items(), key=lambda item: -item[1][0])[:arguments.slowest]),
        "",
        f"Target: ≤ {TARGET_SECONDS:.0f} s wall — {'met' if seconds <= TARGET_SECONDS else 'NOT met'}; "
        f"peak RSS < 1 GiB — {'met' if rss < MEMORY_LIMIT else 'NOT met'}.",
    ]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
