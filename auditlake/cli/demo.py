"""`auditlake demo` (simulate a cluster, ingest it, show what the lake answers) and `auditlake generate` (only the log).

Owns: those two commands. The simulator is `auditlake.demo`, reached through the façade (`Lake.demo`,
`lake.demo.write_audit_log`) when a command runs.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from auditlake.cli.console import print_table, stderr, stdout
from auditlake.cli.ingest import print_ingest_summary, with_progress
from auditlake.cli.lake_commands import print_status
from auditlake.cli.options import DEFAULT_LAKE, LakeOption


def run_demo(
    lake: LakeOption = DEFAULT_LAKE,
    log_dir: Annotated[Path, typer.Option("--log-dir", help="Where the simulated apiserver writes its audit log.")] = Path("demo-audit-log"),
    requests: Annotated[int, typer.Option("--requests", min=1, help="API requests to simulate (about 2 events each).")] = 100_000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed: the same seed gives the same cluster.")] = 7,
) -> None:
    """Simulate a cluster's audit log, ingest it, and show what the lake can answer.

    Example: auditlake demo --lake ./demo-lake
    """
    import pyarrow as pa

    from auditlake.lake import Lake

    result = with_progress(False, lambda report: Lake(lake).demo(log_dir, requests=requests, seed=seed, on_progress=report).ingest)
    print_ingest_summary(result, lake)
    the_lake = Lake(lake)
    print_status(the_lake.status())
    stdout.print("\nWho read secrets in the last 7 days (auditlake query run secret-reads-by-humans --since 7d):", markup=False)
    reads = the_lake.query_arrow("secret-reads-by-humans", since="7d").group_by(["actor", "allowed"]).aggregate(
        [("audit_id", "count"), ("namespace", "count_distinct"), ("source_ip", "min")])
    print_table(pa.table({"actor": reads["actor"], "allowed": reads["allowed"], "reads": reads["audit_id_count"],
                          "namespaces": reads["namespace_count_distinct"], "source_ip": reads["source_ip_min"]})
                .sort_by([("reads", "descending"), ("actor", "ascending")]), 10)
    stdout.print("\nWhat the detections found in the last 7 days (auditlake detect --since 7d --summary):", markup=False)
    print_table(the_lake.detect(since="7d").by_rule().select(["severity", "rule", "findings", "actors"]), 10)
    stdout.print(f"\nNext: auditlake report pci-dss --since 7d --lake {lake} --out reports/\n"
                 f"      auditlake detect --since 24h --lake {lake}\n"
                 f"      auditlake query list\n"
                 f"      auditlake query run exec-sessions --since 7d --lake {lake}\n"
                 f"      auditlake sql \"select verb, count(*) from events group by all\" --lake {lake}\n"
                 f"      duckdb {lake}/catalog.duckdb", markup=False)


def generate(
    directory: Annotated[Path, typer.Argument(help="Directory to write audit.log (and rotated files) into.")],
    requests: Annotated[int, typer.Option("--requests", min=1, help="API requests to simulate (about 2 events each).")] = 500_000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 7,
    days: Annotated[float, typer.Option("--days", help="Simulated time span.")] = 3.0,
    max_size_mb: Annotated[float, typer.Option("--max-size-mb", help="Rotate audit.log at this size (--audit-log-maxsize).")] = 100.0,
    compress: Annotated[bool, typer.Option("--compress/--no-compress", help="Gzip rotated files (--audit-log-compress).")] = True,
) -> None:
    """Write a simulated cluster's audit log, as the apiserver would, without ingesting it (for benchmarks).

    Example: auditlake generate /tmp/audit --requests 1000000 --no-compress
    """
    from auditlake.lake import demo

    started = time.monotonic()
    truth = demo.write_audit_log(directory, requests, seed=seed, days=days, max_size_mb=max_size_mb, compress=compress)
    size = sum(path.stat().st_size for path in truth.files)
    stderr.print(f"wrote {truth.events:,} events ({size / 1e6:,.1f} MB) in {len(truth.files)} file(s) to {directory} "
                 f"in {time.monotonic() - started:.1f} s", markup=False)
