"""Integrity benchmark: what proving the lake costs (issue 16).

Run: `make bench-verify` (or `python benchmarks/verify_benchmark.py --requests 500000 --lake-gb 1.0`).

1. Signing cost: the same generated log ingested into a fresh lake unsigned and signed (`--signing-key`),
   `--repeat` times each, median wall time. A signature per commit, not per row: the ratio should be ≈ 1.00.
2. `verify` throughput on a lake of at least `--lake-gb` GB of Parquet (the log ingested into as many clusters
   as it takes), against the baseline anyone would use: `sha256sum` over the same files, two processes
   (`xargs -P 2`, both cores, as verify uses). Page cache warm for both (each is run once before timing);
   run as root, the cold-cache figures are added (`/proc/sys/vm/drop_caches`).
Prints a Markdown table and appends it to benchmarks/results.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / "work"
PYTHON = sys.executable
AUDITLAKE = str(Path(PYTHON).with_name("auditlake"))


def timed(command: list[str], *, env: dict[str, str] | None = None, check_code: int = 0) -> float:
    started = time.monotonic()
    completed = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, check=False)
    if completed.returncode != check_code:
        raise SystemExit(f"{' '.join(command[:3])} failed ({completed.returncode}): {completed.stderr.decode()[-2000:]}")
    return time.monotonic() - started


def parquet_files(lake: Path) -> list[Path]:
    return sorted(path for top in ("events", "findings", "quarantine") for path in (lake / top).rglob("*") if path.is_file())


def drop_caches() -> bool:
    if os.geteuid() != 0:
        return False
    os.sync()
    try:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    except OSError:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=500_000, help="simulated API requests in the log (≈2.07 events each)")
    parser.add_argument("--lake-gb", type=float, default=1.0, help="build the verify lake up to at least this many GB of files")
    parser.add_argument("--repeat", type=int, default=3, help="ingest runs of each kind (median reported)")
    arguments = parser.parse_args()

    WORK.mkdir(exist_ok=True)
    log_dir = WORK / f"log-{arguments.requests}"
    if not (log_dir / "audit.log").exists():
        print(f"generating {arguments.requests:,} requests into {log_dir} …", file=sys.stderr)
        subprocess.run([AUDITLAKE, "generate", str(log_dir), "--requests", str(arguments.requests), "--no-compress",
                        "--max-size-mb", "1000000", "--days", "7"], check=True)
    log = log_dir / "audit.log"
    keys = WORK / "verify-keys"
    shutil.rmtree(keys, ignore_errors=True)
    subprocess.run([AUDITLAKE, "keys", "init", "--out", str(keys / "signing.key")], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)

    # 1. signing cost
    runs: dict[str, list[float]] = {"unsigned": [], "signed": []}
    for _ in range(arguments.repeat):
        for kind in runs:
            lake = WORK / f"verify-ingest-{kind}"
            shutil.rmtree(lake, ignore_errors=True)
            extra = ["--signing-key", str(keys / "signing.key")] if kind == "signed" else []
            runs[kind].append(timed([AUDITLAKE, "ingest", str(log), "--lake", str(lake), "-q", *extra]))
    unsigned, signed = statistics.median(runs["unsigned"]), statistics.median(runs["signed"])
    digests = len(list((WORK / "verify-ingest-signed" / "_digests").glob("*.json")))

    # 2. verify throughput on a lake of ≥ lake-gb
    lake = WORK / "verify-lake"
    shutil.rmtree(lake, ignore_errors=True)
    cluster = 0
    while sum(path.stat().st_size for path in parquet_files(lake)) < arguments.lake_gb * 1e9 if lake.exists() else True:
        cluster += 1
        print(f"building the verify lake: cluster c{cluster} …", file=sys.stderr)
        timed([AUDITLAKE, "ingest", str(log), "--lake", str(lake), "-q", "--cluster", f"c{cluster}", "--signing-key", str(keys / "signing.key")])
    files = parquet_files(lake)
    size = sum(path.stat().st_size for path in files)
    listing = WORK / "verify-files.txt"
    listing.write_text("".join(f"{path}\n" for path in files))
    baseline = ["sh", "-c", f"xargs -P 2 -n {max(1, len(files) // 8)} sha256sum < {listing}"]
    verify = [AUDITLAKE, "verify", "--lake", str(lake), "--public-key", str(keys / "signing.key.pub")]
    rows: list[tuple[str, float]] = []
    for name, command in (("`auditlake verify` (re-hash every file, check chain and signatures)", verify),
                          ("`auditlake verify --quick` (sizes only)", [*verify, "--quick"]),
                          ("`sha256sum` over the same files, 2 processes (baseline)", baseline)):
        timed(command)  # warm the page cache
        rows.append((name + ", warm cache", statistics.median(timed(command) for _ in range(3))))
    if drop_caches():
        for name, command in (("`auditlake verify`, cold cache", verify), ("`sha256sum` baseline, cold cache", baseline)):
            drop_caches()
            rows.append((name, timed(command)))

    lines = [f"Verify benchmark, {date.today()}: {os.cpu_count()} cores; log of {arguments.requests:,} requests ({log.stat().st_size / 1e9:.2f} GB).", "",
             "| ingest | median of " + str(arguments.repeat) + " | ratio |", "|---|---|---|",
             f"| unsigned | {unsigned:.2f} s | 1.00 |",
             f"| signed (`--signing-key`, {digests} digest(s)) | {signed:.2f} s | {signed / unsigned:.3f} |", "",
             f"Verify lake: {len(files):,} files, {size / 1e9:.2f} GB, {cluster} cluster(s).", "",
             "| verify | time | GB/s | vs baseline |", "|---|---|---|---|"]
    base = next(seconds for name, seconds in rows if name.startswith("`sha256sum`"))
    for name, seconds in rows:
        lines.append(f"| {name} | {seconds:.2f} s | {size / 1e9 / seconds:.2f} | {base / seconds:.2f}× |")
    text = "\n".join(lines) + "\n"
    print(text)
    with (HERE / "results.md").open("a") as handle:
        handle.write("\n" + text)


if __name__ == "__main__":
    main()
