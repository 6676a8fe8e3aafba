"""Scale-out benchmark (issue 18): the same saved questions on lakes of 1 M, 10 M and 50 M events, DuckDB on local disk.

Run: `make bench-scaleout` (or `python benchmarks/scaleout_benchmark.py --sizes 1m,10m`).

Three lakes under benchmarks/work/ (reused when a rerun finds them built from the same log with the same count):
  scaleout-1m    the generated log of `--small-requests` requests (≈ 1 M events, 7 days), one cluster
  scaleout-10m   one generated log of `--requests` requests (≈ 5.2 M events, 7 days) ingested as fleet-01, fleet-02
  scaleout-50m   the same log ingested as fleet-01 … fleet-10 (a fleet is many clusters; the bytes are the same shape),
                 starting from a copy of scaleout-10m (its fleet-01 and fleet-02, with their ingest times)
Every `auditlake ingest` is timed (events/s, in its own process). Then each question, a saved query, runs as its own
process, `auditlake query run NAME --lake L --since … --until … --format csv > /dev/null` (start-up, catalog open and
the query: what a person at a shell waits for), `--repeat` times, median reported, with its peak RSS (`os.wait4`):
over the whole lake (every day) on every size, and over the last whole day on the 50 M lake (partition pruning).
On the 10 M lake the questions also run with DuckDB held to one thread (the benchmark wraps `auditlake.duck.connect`
in the child process; auditlake itself has no thread setting for queries) against the default (one per core), and
`auditlake detect` (every detection) runs once. Prints Markdown tables on stdout, progress on stderr, with the load
average (other work may share the machine), and writes nothing else but the lakes and their build records.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / "work"
PYTHON = sys.executable
AUDITLAKE = [PYTHON, "-m", "auditlake"]  # the auditlake on PYTHONPATH (a worktree), not only the installed one
DAYS = 7
QUESTIONS: list[tuple[str, list[str]]] = [
    ("deployment-changes", []), ("image-changes", []), ("secret-reads-by-humans", []), ("exec-sessions", []),
    ("failed-authentication", []), ("failed-authorization", []), ("rbac-changes", []), ("top-actors", []),
    ("volume-per-day", []), ("user-activity", ["--param", "user=alice@example.com"]),
]
SIZES = {"1m": ("small", 1), "10m": ("big", 2), "50m": ("big", 10)}  # which log, ingested as how many clusters
# `python -c` child for `--spark`: one local SparkSession on MASTER, the lake registered once, then each question `repeat`
# times (the Arrow result collected to the driver); prints JSON: session start, registration, and per question the
# median wall seconds and the row count (checked against DuckDB's by the parent).
SPARK_CHILD = """
import json, statistics, sys, time
from auditlake import Lake
from auditlake.spark import session
lake_path, master, since, until, repeat, questions = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), json.loads(sys.argv[6])
started = time.monotonic()
spark = session(master)
spark.sql("SELECT 1").collect()
session_seconds = time.monotonic() - started
lake = Lake(lake_path)
started = time.monotonic()
lake.register_spark(spark)
register_seconds = time.monotonic() - started
answers = {}
for name, params in questions:
    times, rows = [], 0
    for _ in range(repeat):
        started = time.monotonic()
        rows = lake.spark_query_arrow(name, spark=spark, since=since, until=until, **params).num_rows
        times.append(time.monotonic() - started)
    answers[name] = [statistics.median(times), rows]
print(json.dumps({"session": session_seconds, "register": register_seconds, "answers": answers}))
"""
# `python -c` child: every DuckDB connection auditlake opens (they all come from auditlake.duck.connect) gets `threads`.
PINNED = """
import sys
import auditlake.duck as duck
_connect = duck.connect
def connect(*args, **kwargs):
    kwargs["threads"] = int(sys.argv[1])
    return _connect(*args, **kwargs)
duck.connect = connect
sys.argv = ["auditlake", *sys.argv[2:]]
from auditlake.__main__ import main
main()
"""


def say(message: str) -> None:
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"{time.strftime('%H:%M:%S')} [load {load}] {message}", file=sys.stderr, flush=True)


def run_measured(command: list[str], *, stdout: int | None = subprocess.DEVNULL) -> tuple[float, int, str, float]:
    """Wall seconds, peak RSS in bytes (of that process alone), stdout, and its CPU seconds (user + system, all threads)."""
    started = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.PIPE if stdout is None else stdout, stderr=subprocess.PIPE)
    output = process.stdout.read().decode() if process.stdout else ""
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.monotonic() - started
    error = process.stderr.read().decode() if process.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command[2:5])} failed: {error[-2000:]}")
    return seconds, usage.ru_maxrss * 1024, output, usage.ru_utime + usage.ru_stime


def size_of(path: Path) -> int:
    return sum(item.stat().st_size for item in path.rglob("*") if item.is_file())


def log_for(requests: int) -> Path:
    """The generated log of `requests` requests over DAYS days, as benchmarks/ingest_benchmark.py makes it (same path)."""
    log_dir = WORK / f"log-{requests}"
    log = log_dir / "audit.log"
    if not log.exists():
        say(f"generating {requests:,} requests into {log_dir} …")
        started = time.monotonic()
        subprocess.run([*AUDITLAKE, "generate", str(log_dir), "--requests", str(requests), "--no-compress",
                        "--max-size-mb", "1000000", "--days", str(DAYS)], check=True)
        say(f"generated in {time.monotonic() - started:.0f} s")
    return log


def lake_facts(lake: Path) -> dict[str, object]:
    sql = "SELECT count(*) AS events, count(DISTINCT date) AS days, count(DISTINCT cluster) AS clusters, min(date) AS first, max(date) AS last FROM events"
    _, _, output, _ = run_measured([*AUDITLAKE, "sql", sql, "--lake", str(lake), "--format", "json"], stdout=None)
    row = json.loads(output)
    return dict(row[0] if isinstance(row, list) else row)


def build(name: str, requests: int, clusters: int) -> dict[str, object]:
    """The lake `scaleout-NAME`: reused when its build record matches and its count agrees, else built again."""
    lake, record_path = WORK / f"scaleout-{name}", WORK / f"scaleout-{name}.json"
    if record_path.exists() and lake.exists():
        record = json.loads(record_path.read_text())
        if record["requests"] == requests and record["clusters"] == clusters and lake_facts(lake)["events"] == record["events"]:
            say(f"{lake.name}: reusing ({record['events']:,} events, built {record['built']})")
            return record
    log = log_for(requests)
    say(f"counting {log} …")
    log_events = sum(1 for _ in log.open("rb"))
    shutil.rmtree(lake, ignore_errors=True)
    ingests: list[dict[str, object]] = []
    for smaller in SIZES:  # a smaller lake of the same log is its first clusters: copied (the catalog is rebuilt), not ingested again
        smaller_lake, smaller_record = WORK / f"scaleout-{smaller}", WORK / f"scaleout-{smaller}.json"
        if smaller != name and smaller_record.exists() and smaller_lake.exists():
            record = json.loads(smaller_record.read_text())
            if record["requests"] == requests and record["clusters"] < clusters and lake_facts(smaller_lake)["events"] == record["events"]:
                say(f"{lake.name}: starting from a copy of {smaller_lake.name} ({record['clusters']} clusters)")
                shutil.copytree(smaller_lake, lake, ignore=shutil.ignore_patterns("catalog.duckdb*"))
                ingests = list(record["ingests"])
                break
    for number in range(len(ingests) + 1, clusters + 1):
        cluster = "bench" if clusters == 1 else f"fleet-{number:02d}"
        say(f"{lake.name}: ingest as {cluster} ({number}/{clusters}) …")
        seconds, rss, output, _ = run_measured([*AUDITLAKE, "ingest", str(log), "--lake", str(lake), "--cluster", cluster, "--quiet", "--json"],
                                            stdout=None)
        written = json.loads(output)["events_written"]
        assert written == log_events, (written, log_events)
        ingests.append({"cluster": cluster, "seconds": seconds, "rss": rss, "load": os.getloadavg()[0]})
    record = {"requests": requests, "clusters": clusters, "events": log_events * clusters, "log_events": log_events,
              "log_bytes": log.stat().st_size, "ingests": ingests, "built": str(date.today())}
    record_path.write_text(json.dumps(record, indent=1) + "\n")
    return record


def ask(lake: Path, question: str, extra: list[str], since: str, until: str, repeat: int,
        threads: int | None = None) -> tuple[float, int, float]:
    """Median wall seconds, largest peak RSS and median CPU seconds of `repeat` runs of one saved query, each its own process."""
    command = [*AUDITLAKE, "query", "run", question, *extra, "--lake", str(lake), "--since", since, "--until", until, "--format", "csv"]
    if threads is not None:
        command = [PYTHON, "-c", PINNED, str(threads), *command[3:]]
    runs = [run_measured(command) for _ in range(repeat)]
    return (statistics.median(run[0] for run in runs), max(run[1] for run in runs), statistics.median(run[3] for run in runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1m,10m,50m", help="which lakes, comma-separated (1m, 10m, 50m)")
    parser.add_argument("--requests", type=int, default=2_500_000, help="requests in the log of the 10 M and 50 M lakes (≈2.07 events each)")
    parser.add_argument("--small-requests", type=int, default=500_000, help="requests in the log of the 1 M lake")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each question (median reported)")
    parser.add_argument("--no-threads-one", action="store_true", help="skip the 10 M lake's questions with DuckDB held to one thread")
    parser.add_argument("--ask", help="ask the questions of only these sizes; the others' figures come from their last run "
                        "(benchmarks/work/scaleout-SIZE-answers.json)")
    parser.add_argument("--keep-logs", action="store_true", help="keep the generated logs (default: deleted once the lakes are built)")
    parser.add_argument("--spark", action="store_true", help="only the Spark comparison: the questions on the 10 M lake with Spark "
                        "local[1] and local[2] (auditlake[spark], Java 17+) beside DuckDB")
    arguments = parser.parse_args()
    if arguments.spark:
        WORK.mkdir(exist_ok=True)
        spark_comparison(build("10m", arguments.requests, SIZES["10m"][1]), arguments.repeat)
        return
    sizes = [size.strip().lower() for size in arguments.sizes.split(",") if size.strip()]
    if unknown := set(sizes) - set(SIZES):
        raise SystemExit(f"unknown size(s) {sorted(unknown)}: use {', '.join(SIZES)}")
    WORK.mkdir(exist_ok=True)
    started_all = time.monotonic()
    say(f"start: {os.cpu_count()} cores")

    phases: dict[str, float] = {}
    records: dict[str, dict[str, object]] = {}
    for size in sizes:
        started = time.monotonic()
        which, clusters = SIZES[size]
        records[size] = build(size, arguments.small_requests if which == "small" else arguments.requests, clusters)
        phases[f"build {size}"] = time.monotonic() - started
    if not arguments.keep_logs:
        for requests in {arguments.small_requests if SIZES[size][0] == "small" else arguments.requests for size in sizes}:
            shutil.rmtree(WORK / f"log-{requests}", ignore_errors=True)

    facts: dict[str, dict[str, object]] = {}
    latency: dict[tuple[str, str], tuple[float, int, float]] = {}  # (column, question) -> (median s, peak RSS, median CPU s)
    columns: list[tuple[str, str]] = []  # (column key, heading)
    load: dict[str, tuple[float, float]] = {}
    startup: dict[str, float] = {}  # a process that opens the catalog and asks nothing
    repeats: dict[str, int] = {}
    detect: tuple[float, int, int] | None = None
    asked = sizes if arguments.ask is None else [size.strip().lower() for size in arguments.ask.split(",")]
    for size in sizes:
        answers = WORK / f"scaleout-{size}-answers.json"
        if size not in asked:  # asked by an earlier run: its saved figures
            saved = json.loads(answers.read_text())
            facts[size], load[size], startup[size], repeats[size] = saved["facts"], tuple(saved["load"]), saved["startup"], saved["repeat"]
            columns += [tuple(column) for column in saved["columns"]]
            latency.update({(key, question): tuple(value) for key, question, value in saved["latency"]})
            detect = tuple(saved["detect"]) if saved["detect"] else detect
            say(f"{size}: figures of the run of {saved['when']} ({answers.name})")
            continue
        started = time.monotonic()
        first_column, repeats[size] = len(columns), arguments.repeat
        lake = WORK / f"scaleout-{size}"
        facts[size] = lake_facts(lake)  # also opens the catalog once, so the runs below find it built
        first, last = date.fromisoformat(str(facts[size]["first"])), date.fromisoformat(str(facts[size]["last"]))
        whole = (str(first), str(last + timedelta(days=1)))
        windows = [(size, f"{size.upper()}, all {facts[size]['days']} days", whole)]
        if size == "50m":
            last_whole_day = last - timedelta(days=1)  # the last partition is the simulation's tail past midnight
            windows.append(("50m-day", f"50M, one day ({last_whole_day})", (str(last_whole_day), str(last_whole_day + timedelta(days=1)))))
        if size == "10m" and not arguments.no_threads_one:
            windows.append(("10m-1t", "10M, all days, DuckDB threads=1", whole))
        before = os.getloadavg()[0]
        baseline, _, _, _ = run_measured([*AUDITLAKE, "sql", "SELECT 1", "--lake", str(lake), "--format", "csv"])
        startup[size] = baseline
        for key, heading, (since, until) in windows:
            columns.append((key, heading))
            for question, extra in QUESTIONS:
                say(f"{heading}: {question} ×{arguments.repeat} …")
                latency[(key, question)] = ask(lake, question, extra, since, until, arguments.repeat,
                                               threads=1 if key.endswith("-1t") else None)
        if size == "10m":
            say("10M: auditlake detect (every detection), whole lake …")
            seconds, rss, output, _ = run_measured([*AUDITLAKE, "detect", "--lake", str(lake), "--since", whole[0], "--until", whole[1],
                                                 "--format", "csv"], stdout=None)
            detect = (seconds, rss, max(output.count("\n") - 1, 0))
        load[size] = (before, os.getloadavg()[0])
        phases[f"queries {size}"] = time.monotonic() - started
        mine = columns[first_column:]
        answers.write_text(json.dumps({
            "when": time.strftime("%Y-%m-%d %H:%M"), "repeat": arguments.repeat, "facts": facts[size], "load": load[size],
            "startup": startup[size], "columns": mine, "detect": detect if size == "10m" else None,
            "latency": [[key, question, latency[(key, question)]] for key, _ in mine for question, _ in QUESTIONS]}, indent=1) + "\n")

    gib = 1024**3
    runs = ", ".join(f"{repeats[size]} on {size.upper()}" for size in sizes)
    lines = [f"Scale-out benchmark, {date.today()}: {os.cpu_count()} cores, DuckDB on a local lake; each question its own process "
             f"(`auditlake query run NAME --format csv`, start-up included), median of {runs} run(s): wall seconds (CPU seconds, "
             f"user + system over all threads, which other work on the machine disturbs far less). "
             f"Load average when the run ended: {', '.join(f'{value:.2f}' for value in os.getloadavg())}.", "",
             "| lake | events | days | clusters | events/ on disk | bytes/event on disk | raw NDJSON bytes/event | ingest events/s (median; range) "
             "| load (1 min) before → after its queries |",
             "|---|---|---|---|---|---|---|---|---|"]
    for size in sizes:
        record, fact = records[size], facts[size]
        on_disk = size_of(WORK / f"scaleout-{size}" / "events")
        rates = [int(record["log_events"]) / ingest["seconds"] for ingest in record["ingests"]]  # type: ignore[index]
        spread = f"; {min(rates):,.0f}–{max(rates):,.0f} over {len(rates)} ingests" if len(rates) > 1 else ""
        lines.append(f"| {size.upper()} | {int(fact['events']):,} | {fact['days']} | {fact['clusters']} | {on_disk / 1e9:.2f} GB "
                     f"| {on_disk / int(fact['events']):.1f} | {int(record['log_bytes']) / int(record['log_events']):.0f} "
                     f"| {statistics.median(rates):,.0f}{spread} | {load[size][0]:.2f} → {load[size][1]:.2f} |")
    lines += ["", "| question (saved query) | " + " | ".join(heading for _, heading in columns) + " |",
              "|---|" + "---|" * len(columns)]
    for question, _ in QUESTIONS:
        lines.append(f"| {question} | " + " | ".join(f"{latency[(key, question)][0]:.2f} s ({latency[(key, question)][2]:.2f})"
                                                      for key, _ in columns) + " |")
    totals = {key: sum(latency[(key, question)][0] for question, _ in QUESTIONS) for key, _ in columns}
    cpu_totals = {key: sum(latency[(key, question)][2] for question, _ in QUESTIONS) for key, _ in columns}
    lines.append("| **all ten, one after another** | " + " | ".join(f"**{totals[key]:.1f} s ({cpu_totals[key]:.1f})**" for key, _ in columns)
                 + " |")
    lines.append("| (start-up and catalog: `auditlake sql 'SELECT 1'`, one run) | "
                 + " | ".join(f"{startup[key]:.2f} s" if key in startup else "" for key, _ in columns) + " |")
    lines += ["", "| question | peak RSS, largest of its runs: " + " · ".join(heading for _, heading in columns) + " |", "|---|---|"]
    for question, _ in QUESTIONS:
        lines.append(f"| {question} | " + " · ".join(f"{latency[(key, question)][1] / gib:.2f}" for key, _ in columns) + " GiB |")
    big = [size for size in ("1m", "10m", "50m") if size in sizes]
    if len(big) >= 2:
        events = {size: int(facts[size]["events"]) / 1e6 for size in big}
        lines += ["", "| growth: wall (CPU) | " + " | ".join(f"{b.upper()} ÷ {a.upper()} (events ×{events[b] / events[a]:.1f})"
                                                         for a, b in zip(big, big[1:], strict=False))
                  + f" | wall (CPU) seconds per extra M events, {big[-2].upper()} → {big[-1].upper()} |",
                  "|---|" + "---|" * len(big)]
        for question, _ in [*QUESTIONS, ("**all ten**", [])]:
            wall = {size: totals[size] if question == "**all ten**" else latency[(size, question)][0] for size in big}
            cpu = {size: cpu_totals[size] if question == "**all ten**" else latency[(size, question)][2] for size in big}
            extra = events[big[-1]] - events[big[-2]]
            lines.append(f"| {question} | " + " | ".join(f"{wall[b] / wall[a]:.1f}× ({cpu[b] / cpu[a]:.1f}×)" for a, b in zip(big, big[1:], strict=False))
                         + f" | {(wall[big[-1]] - wall[big[-2]]) / extra:.3f} ({(cpu[big[-1]] - cpu[big[-2]]) / extra:.3f}) |")
    if detect is not None:
        lines += ["", f"`auditlake detect` (every detection), 10M lake, all days: {detect[0]:.1f} s, peak RSS {detect[1] / gib:.2f} GiB, "
                  f"{detect[2]:,} findings as CSV."]
    lines += ["", "Phases: " + ", ".join(f"{name} {seconds / 60:.1f} min" for name, seconds in phases.items())
              + f"; total {(time.monotonic() - started_all) / 60:.1f} min."]
    print("\n".join(lines))


def spark_comparison(record: dict[str, object], repeat: int) -> None:
    """The questions on the 10 M lake: DuckDB in this process's child as above, Spark local[1] and local[2] each in one session."""
    lake = WORK / "scaleout-10m"
    fact = lake_facts(lake)
    first, last = date.fromisoformat(str(fact["first"])), date.fromisoformat(str(fact["last"]))
    since, until = str(first), str(last + timedelta(days=1))
    questions = [(name, dict(item.split("=", 1) for item in extra[1::2])) for name, extra in QUESTIONS]
    duck = {}
    for name, extra in QUESTIONS:
        say(f"10M, DuckDB: {name} ×{repeat} …")
        duck[name] = ask(lake, name, extra, since, until, repeat)
    from auditlake import Lake  # the parent's own reading of each answer's size, to check Spark's against

    rows = {name: Lake(lake).query_arrow(name, since=since, until=until, **params).num_rows for name, params in questions}
    spark: dict[str, dict[str, object]] = {}
    for master in ("local[1]", "local[2]"):
        say(f"10M, Spark {master}: session, registration, then the ten questions ×{repeat} …")
        _, rss, output, cpu = run_measured([PYTHON, "-c", SPARK_CHILD, str(lake), master, since, until, str(repeat), json.dumps(questions)],
                                           stdout=None)
        spark[master] = {**json.loads(output.splitlines()[-1]), "rss": rss, "cpu": cpu}
        for name, (_, count) in spark[master]["answers"].items():  # type: ignore[attr-defined]
            assert count == rows[name], f"{name}: {count} rows on Spark {master}, {rows[name]} on DuckDB"
    lines = [f"Spark vs DuckDB, {date.today()}: the 10 M lake ({int(fact['events']):,} events, {fact['days']} days), all days; "
             f"{os.cpu_count()} cores; load average at the end {', '.join(f'{value:.2f}' for value in os.getloadavg())}. DuckDB: each "
             f"question its own process (start-up included); Spark: one session per master, the lake registered once, then each "
             f"question (median of {repeat}); every answer has DuckDB's row count.", "",
             "| question | rows | DuckDB (own process) | Spark local[1] | Spark local[2] | local[1] ÷ local[2] |", "|---|---|---|---|---|---|"]
    for name, _ in QUESTIONS:
        one, two = spark["local[1]"]["answers"][name][0], spark["local[2]"]["answers"][name][0]  # type: ignore[index]
        lines.append(f"| {name} | {rows[name]:,} | {duck[name][0]:.2f} s | {one:.2f} s | {two:.2f} s | {one / two:.2f}× |")
    total = {master: sum(answer[0] for answer in spark[master]["answers"].values()) for master in spark}  # type: ignore[attr-defined]
    lines.append(f"| **all ten** | | {sum(value[0] for value in duck.values()):.1f} s | {total['local[1]']:.1f} s | {total['local[2]']:.1f} s "
                 f"| {total['local[1]'] / total['local[2]']:.2f}× |")
    lines.append(f"| session start · registration | | | {spark['local[1]']['session']:.1f} s · {spark['local[1]']['register']:.1f} s "
                 f"| {spark['local[2]']['session']:.1f} s · {spark['local[2]']['register']:.1f} s | |")
    # No peak RSS row: the JVM is pyspark's child, not always waited for, so wait4 cannot be trusted to include it.
    print("\n".join(lines))


if __name__ == "__main__":
    main()
