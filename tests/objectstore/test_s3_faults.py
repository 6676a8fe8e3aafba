"""The store failing mid-ingest (issue 17): one line on stderr, exit 2, committed batches kept; the rerun completes exactly.

A server of its own (it is stopped in the middle), holding a simulated cluster's log rotated into 1 MB objects.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from auditlake import Lake
from auditlake.demo import write_audit_log
from tests.s3server import S3Server


def upload(server: S3Server, directory: Path) -> None:
    client = server.client()
    client.create_bucket(Bucket="audit")
    for path in sorted(directory.iterdir()):
        client.put_object(Bucket="audit", Key=f"logs/{path.name}", Body=path.read_bytes())


def ingest(server: S3Server, lake: Path, *extra: str, attempts: int | None = None) -> subprocess.Popen[str]:
    environment = {**{name: value for name, value in os.environ.items() if not name.startswith("AWS_")}, **server.env(),
                   "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                   "AUDITLAKE_COMMIT_ROWS": "2000", "AUDITLAKE_WORKERS": "1", **({"AWS_MAX_ATTEMPTS": str(attempts)} if attempts else {})}
    return subprocess.Popen([sys.executable, "-m", "auditlake", "ingest", "s3://audit/logs/", "--lake", str(lake), "--cluster", "sim", "-q",
                             *extra], env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_the_store_stopping_mid_ingest_is_one_line_and_a_rerun_completes_exactly(tmp_path: Path, own_s3_server: S3Server) -> None:
    write_audit_log(tmp_path / "logs", 30_000, max_size_mb=1, compress=False)
    reference = Lake(tmp_path / "reference")
    expected = reference.ingest([tmp_path / "logs"], cluster="sim").events_written
    server = own_s3_server
    try:
        upload(server, tmp_path / "logs")
        running = ingest(server, tmp_path / "lake", attempts=2)  # one retry, not five with backoff, against the stopped store
        digests = tmp_path / "lake" / "_digests"
        deadline = time.monotonic() + 120
        while running.poll() is None and len(list(digests.glob("*.json")) if digests.is_dir() else []) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        server.stop()  # mid-ingest: two batches committed, the rest not read yet
        _, stderr = running.communicate(timeout=300)
        assert running.returncode == 2, f"the ingest finished before the store was stopped ({running.returncode}): {stderr}"
        errors = [line for line in stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and "s3://audit/logs/" in errors[0] and "failed" in errors[0], stderr
        assert "Traceback" not in stderr and server.secret_key not in stderr
        kept = Lake(tmp_path / "lake").sql_arrow("SELECT count(*) AS n FROM events").column("n")[0].as_py()
        assert 0 < kept < expected  # the committed batches stay

        server.start()  # the same data, on new ports
        rerun = ingest(server, tmp_path / "lake")
        _, stderr = rerun.communicate(timeout=300)
        assert rerun.returncode == 0, stderr
        lake = Lake(tmp_path / "lake")
        assert lake.sql_arrow("SELECT count(*) AS n FROM events").column("n")[0].as_py() == expected
        assert lake.sql_arrow("SELECT count(*) AS n FROM (SELECT DISTINCT audit_id, stage, received_at FROM events)").column("n")[0].as_py() == expected
        assert [result.problems for result in lake.verify()] == [[]]
    finally:
        server.stop()
