"""Ingest and query benchmark: auditlake against the baselines people would otherwise use.

Run: `make bench` (or `python benchmarks/ingest_benchmark.py --requests 2500000`).

On one generated audit log (default ≈ 5.2 M events, ≈ 3.9 GB of NDJSON), each contender runs in its
own process so its peak RSS is its own (`os.wait4`):
  auditlake   `auditlake ingest FILE` (validation, dedupe, redaction, quarantine, manifest, catalog)
  (a) duckdb  `read_ndjson` with an explicit `columns=` schema, flattened, one partitioned `COPY`
  (b) pandas  `read_json(lines)` + `json_normalize` + `to_parquet`, on a prefix (it needs ≈10 GB per
              million events), compared in events/s
then one filter-and-group question ("who touched secrets, how often") is asked of the lake, of the
raw NDJSON through DuckDB, and of the raw log through jq. Prints a Markdown table (also written to
benchmarks/results.md) with the ratios the ingest issue sets as targets.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import textwrap
import time
from datetime import timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / "work"
PYTHON = sys.executable
AUDITLAKE = str(Path(PYTHON).with_name("auditlake"))

COLUMNS = """{'auditID':'VARCHAR','stage':'VARCHAR','level':'VARCHAR','verb':'VARCHAR','requestURI':'VARCHAR','userAgent':'VARCHAR',
'sourceIPs':'VARCHAR[]','user':'STRUCT(username VARCHAR, uid VARCHAR, groups VARCHAR[], extra JSON)',
'impersonatedUser':'STRUCT(username VARCHAR, uid VARCHAR, groups VARCHAR[], extra JSON)',
'objectRef':'STRUCT(resource VARCHAR, namespace VARCHAR, name VARCHAR, uid VARCHAR, apiGroup VARCHAR, apiVersion VARCHAR,
 resourceVersion VARCHAR, subresource VARCHAR)',
'responseStatus':'STRUCT(code INTEGER, status VARCHAR, reason VARCHAR, message VARCHAR)','requestObject':'JSON','responseObject':'JSON',
'requestReceivedTimestamp':'TIMESTAMPTZ','stageTimestamp':'TIMESTAMPTZ','annotations':'MAP(VARCHAR, VARCHAR)'}"""

DUCKDB_COPY = textwrap.dedent(f"""
    import duckdb, sys
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    if len(sys.argv) > 3:
        con.execute("SET memory_limit = '" + sys.argv[3] + "'")
    con.execute('''COPY (
      SELECT requestReceivedTimestamp AS received_at, stageTimestamp AS stage_at, auditID AS audit_id, stage, level, verb,
        requestURI AS request_uri, userAgent AS user_agent, sourceIPs[1] AS source_ip, sourceIPs AS source_ips,
        user.username AS user_name, user.uid AS user_uid, user.groups AS user_groups, user.extra AS user_extra,
        impersonatedUser.username AS impersonated_user, objectRef.resource AS resource, objectRef.subresource AS subresource,
        objectRef.namespace AS namespace, objectRef.name AS name, objectRef.apiGroup AS api_group, objectRef.uid AS object_uid,
        responseStatus.code AS code, responseStatus.reason AS reason, annotations, requestObject AS request_object,
        responseObject AS response_object, 'bench' AS cluster, CAST(requestReceivedTimestamp AS DATE) AS date
      FROM read_ndjson('@SOURCE@', columns = {COLUMNS.replace(chr(10), ' ')})
    ) TO '@TARGET@' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (cluster, date))'''.replace('@SOURCE@', sys.argv[1]).replace('@TARGET@', sys.argv[2]))
""")

PANDAS = textwrap.dedent("""
    import itertools, json, sys
    import pandas as pd
    path, out, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with open(path) as handle:
        frame = pd.read_json(handle, lines=True, nrows=limit)
    flat = pd.json_normalize(frame.to_dict(orient="records"), max_level=1)
    for column in flat.columns:  # bodies and lists as JSON text, as anyone writing Parquet by hand ends up doing
        if flat[column].map(lambda v: isinstance(v, (dict, list))).any():
            flat[column] = flat[column].map(lambda v: json.dumps(v) if isinstance(v, (dict, list)) else v)
    flat.to_parquet(out, compression="zstd")
    print(len(flat))
""")

LAKE_QUESTION = ("SELECT user_name, count(*) AS n FROM events WHERE resource = 'secrets' AND date BETWEEN DATE '2026-11-01' AND "
                 "DATE '2026-12-31' GROUP BY ALL ORDER BY n DESC, user_name")
RAW_QUESTION = ("SELECT user.username AS user_name, count(*) AS n FROM read_ndjson('{path}', columns = {columns}) "
                "WHERE objectRef.resource = 'secrets' GROUP BY ALL ORDER BY n DESC, user_name")
JQ_QUESTION = 'reduce (inputs | select(.objectRef.resource? == "secrets") | .user.username) as $u ({}; .[$u] += 1)'


def run_measured(command: list[str], *, stdout: int | None = subprocess.DEVNULL, env: dict[str, str] | None = None) -> tuple[float, int, str]:
    """Wall seconds, peak RSS in bytes (of that process alone), and stdout."""
    started = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.PIPE if stdout is None else stdout, stderr=subprocess.PIPE, env=env)
    output = process.stdout.read().decode() if process.stdout else ""
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.monotonic() - started
    error = process.stderr.read().decode() if process.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{command[:3]} failed: {error[-2000:]}")
    return seconds, usage.ru_maxrss * 1024, output


def size_of(path: Path) -> int:
    return sum(item.stat().st_size for item in path.rglob("*") if item.is_file()) if path.is_dir() else path.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2_500_000, help="simulated API requests (≈2.07 events each)")
    parser.add_argument("--pandas-events", type=int, default=200_000, help="prefix pandas is given (it needs ≈10 GB per M events)")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each in-process query (median reported)")
    arguments = parser.parse_args()

    WORK.mkdir(exist_ok=True)
    log_dir = WORK / f"log-{arguments.requests}"
    log = log_dir / "audit.log"
    if not log.exists():
        print(f"generating {arguments.requests:,} requests into {log_dir} …", file=sys.stderr)
        subprocess.run([AUDITLAKE, "generate", str(log_dir), "--requests", str(arguments.requests), "--no-compress",
                        "--max-size-mb", "1000000", "--days", "7"], check=True)
    raw_bytes = log.stat().st_size
    events = sum(1 for _ in log.open("rb"))
    print(f"input: {events:,} events, {raw_bytes / 1e9:.2f} GB ({raw_bytes / events:,.0f} bytes/event)", file=sys.stderr)

    lake = WORK / "lake"
    shutil.rmtree(lake, ignore_errors=True)
    print("auditlake ingest …", file=sys.stderr)
    ingest_seconds, ingest_rss, output = run_measured([AUDITLAKE, "ingest", str(log), "--lake", str(lake), "--cluster", "bench", "--json"],
                                                      stdout=None)
    summary = json.loads(output)
    assert summary["events_written"] == events, summary
    lake_bytes = size_of(lake / "events")

    copy_dir = WORK / "duckdb-copy"
    shutil.rmtree(copy_dir, ignore_errors=True)
    print("(a) duckdb read_ndjson + COPY …", file=sys.stderr)
    copy_seconds, copy_rss, _ = run_measured([PYTHON, "-c", DUCKDB_COPY, str(log), str(copy_dir)])
    copy_bytes = size_of(copy_dir)
    shutil.rmtree(copy_dir, ignore_errors=True)
    print("(a') the same COPY held to 1 GB of memory …", file=sys.stderr)
    bounded_seconds, bounded_rss, _ = run_measured([PYTHON, "-c", DUCKDB_COPY, str(log), str(copy_dir), "1GB"])

    prefix = WORK / f"prefix-{arguments.pandas_events}.log"
    if not prefix.exists():
        with log.open("rb") as source, prefix.open("wb") as sink:
            for _, line in zip(range(arguments.pandas_events), source, strict=False):
                sink.write(line)
    print(f"(b) pandas on the first {arguments.pandas_events:,} events …", file=sys.stderr)
    pandas_seconds, pandas_rss, _ = run_measured([PYTHON, "-c", PANDAS, str(prefix), str(WORK / "pandas.parquet"), str(arguments.pandas_events)])

    print("queries …", file=sys.stderr)
    import duckdb

    import auditlake
    import auditlake.library.detections
    import auditlake.library.savedquery

    connection = auditlake.connect(str(lake))
    lake_times, lake_answer = [], None
    for _ in range(arguments.repeat):
        started = time.monotonic()
        lake_answer = connection.execute(LAKE_QUESTION).fetchall()
        lake_times.append(time.monotonic() - started)
    lake_query = statistics.median(lake_times)
    cli_seconds, _, _ = run_measured([AUDITLAKE, "sql", LAKE_QUESTION, "--lake", str(lake), "--format", "csv"])

    raw = duckdb.connect()
    raw_times, raw_answer = [], None
    for _ in range(max(1, arguments.repeat // 2)):
        started = time.monotonic()
        raw_answer = raw.execute(RAW_QUESTION.format(path=log, columns=COLUMNS.replace("\n", " "))).fetchall()
        raw_times.append(time.monotonic() - started)
    raw_query = statistics.median(raw_times)
    assert raw_answer == lake_answer, (raw_answer, lake_answer)

    jq_seconds = float("nan")
    if shutil.which("jq"):
        print("(c) jq …", file=sys.stderr)
        jq_seconds, _, jq_output = run_measured(["jq", "-n", "-c", JQ_QUESTION, str(log)], stdout=None)
        assert json.loads(jq_output) == dict(lake_answer), "jq disagrees with the lake"

    print("history of one object on a lake of ≥ 10 M events …", file=sys.stderr)
    connection.close()
    run_measured([AUDITLAKE, "ingest", str(log), "--lake", str(lake), "--cluster", "bench-copy", "--quiet"])  # the same log again
    big = auditlake.Lake(lake)
    lake_events = big.sql("SELECT count(*) FROM events").item()
    last_day = big.sql("SELECT max(date) - 1 FROM events").item()  # the last whole day
    history_times, history_all_times, entries, all_entries = [], [], [], []
    for _ in range(arguments.repeat):
        started = time.monotonic()
        entries = big.history_entries("deployments", "payments", "api", since=str(last_day), until=str(last_day + timedelta(days=1)))
        history_times.append(time.monotonic() - started)
        started = time.monotonic()
        all_entries = big.history_entries("deployments", "payments", "api", since="2000-01-01", until="2100-01-01")
        history_all_times.append(time.monotonic() - started)
    history_cli, _, _ = run_measured([AUDITLAKE, "history", "deployments/payments/api", "--lake", str(lake), "--since", str(last_day),
                                      "--until", str(last_day + timedelta(days=1)), "--format", "json"])

    print("compliance report over the whole lake …", file=sys.stderr)
    first_day = big.sql("SELECT min(date) FROM events").item()
    report_window = ["--since", str(first_day), "--until", str(last_day + timedelta(days=2))]
    report_seconds, report_rss, _ = run_measured([AUDITLAKE, "report", "pci-dss", "--lake", str(lake), *report_window,
                                                  "--out", str(WORK / "reports"), "--format", "html,md,csv,json"])
    change_log_seconds, change_log_rss, _ = run_measured([AUDITLAKE, "report", "change-log", "--lake", str(lake), "--since", str(last_day),
                                                          "--until", str(last_day + timedelta(days=1)), "--out", str(WORK / "reports")])

    print("every detection over the whole lake …", file=sys.stderr)
    detect_seconds, detect_rss, detect_output = run_measured([AUDITLAKE, "detect", "--lake", str(lake), *report_window, "--format", "csv"],
                                                             stdout=None)
    detect_findings = max(detect_output.count("\n") - 1, 0)
    detections = len(auditlake.library.detections.detections(auditlake.library.savedquery.load_library()))

    rate = events / ingest_seconds
    copy_rate = events / copy_seconds
    pandas_rate = arguments.pandas_events / pandas_seconds
    gib = 1024**3
    rows = [
        ("auditlake ingest", f"{ingest_seconds:.1f} s", f"{rate:,.0f}", f"{raw_bytes / 1e6 / ingest_seconds:,.0f}",
         f"{ingest_rss / gib:.2f} GiB", "1.00"),
        ("(a) DuckDB read_ndjson + COPY", f"{copy_seconds:.1f} s", f"{copy_rate:,.0f}", f"{raw_bytes / 1e6 / copy_seconds:,.0f}",
         f"{copy_rss / gib:.2f} GiB", f"{rate / copy_rate:.2f}× of (a)"),
        ("(a') the same, `SET memory_limit = '1GB'`", f"{bounded_seconds:.1f} s", f"{events / bounded_seconds:,.0f}",
         f"{raw_bytes / 1e6 / bounded_seconds:,.0f}", f"{bounded_rss / gib:.2f} GiB", f"{rate / (events / bounded_seconds):.2f}× of (a')"),
        (f"(b) pandas read_json + json_normalize + to_parquet ({arguments.pandas_events:,} events)", f"{pandas_seconds:.1f} s",
         f"{pandas_rate:,.0f}", "", f"{pandas_rss / gib:.2f} GiB", f"{rate / pandas_rate:.1f}× of (b)"),
    ]
    report = [
        f"Input: {events:,} generated events, {raw_bytes / 1e9:.2f} GB NDJSON ({raw_bytes / events:,.0f} B/event); "
        f"{os.cpu_count()} cores; {time.strftime('%Y-%m-%d')}.",
        "",
        "| ingest | time | events/s | MB/s | peak RSS | auditlake's throughput |",
        "|---|---|---|---|---|---|",
        *("| " + " | ".join(row) + " |" for row in rows),
        "",
        f"Lake: {lake_bytes / 1e6:,.0f} MB of Parquet = 1/{raw_bytes / lake_bytes:.0f} of the raw log "
        f"(DuckDB's COPY: 1/{raw_bytes / copy_bytes:.0f}).",
        "",
        "| filter-and-group query (who touched secrets) | time | lake is faster by |",
        "|---|---|---|",
        f"| lake, in-process (median of {arguments.repeat}) | {lake_query * 1000:.0f} ms | |",
        f"| lake, `auditlake sql` from the shell (incl. start-up) | {cli_seconds:.2f} s | |",
        f"| DuckDB over the raw NDJSON, explicit schema | {raw_query:.2f} s | {raw_query / lake_query:,.0f}× |",
        f"| jq over the raw log | {jq_seconds:.1f} s | {jq_seconds / lake_query:,.0f}× (shell: {jq_seconds / cli_seconds:,.0f}×) |",
        "",
        "Targets (ingest issue): ingest ≥ 0.7× (a) · peak RSS < 1 GiB · lake ≤ 1/15 of raw · query ≥ 20× DuckDB-on-raw · ≥ 100× jq.",
        "",
        f"| history of deployments/payments/api, lake of {lake_events:,} events (two clusters) | time |",
        "|---|---|",
        f"| one day, {last_day} ({len(entries)} changes), in-process, median of {arguments.repeat} | {statistics.median(history_times) * 1000:.0f} ms |",
        f"| all time ({len(all_entries)} changes, both clusters), in-process | {statistics.median(history_all_times) * 1000:.0f} ms |",
        f"| the same day, `auditlake history … --format json` from the shell (incl. start-up) | {history_cli:.2f} s |",
        "",
        "Target (change-history issue): the history of one object on ≥ 10 M events well under a second.",
        "",
        f"| compliance report, lake of {lake_events:,} events, from the shell (incl. start-up) | time | peak RSS |",
        "|---|---|---|",
        f"| `auditlake report pci-dss`, whole lake ({first_day} → {last_day + timedelta(days=1)}), html,md,csv,json "
        f"| {report_seconds:.1f} s | {report_rss / gib:.2f} GiB |",
        f"| `auditlake report change-log`, one day ({last_day}), html,md | {change_log_seconds:.1f} s | {change_log_rss / gib:.2f} GiB |",
        f"| `auditlake detect`, all {detections} detections, whole lake, {detect_findings:,} findings as CSV | {detect_seconds:.1f} s "
        f"| {detect_rss / gib:.2f} GiB |",
    ]
    text = "\n".join(report)
    print(text)
    (HERE / "results.md").write_text(text + "\n")


if __name__ == "__main__":
    main()
