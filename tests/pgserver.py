"""A real PostgreSQL server for the tests (Debian's `postgresql` package), on loopback, with a password.

`initdb` makes a fresh cluster in the test's directory (as the `postgres` user when the tests run as root:
PostgreSQL refuses to run as root; pytest's directories are private to root, so then a directory of its own
under the system's temporary directory, removed by `stop`), `postgres` listens on a free loopback port and a private socket
directory, and a role with a random password owns one database: every connection authenticates
(scram-sha-256). `stop` is a fast shutdown.

Used by the `postgres_server` fixture (tests/test_iceberg.py); nothing here is part of auditlake.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.s3server import free_ports

READY_SECONDS = 30.0


def find_postgres_bin() -> Path | None:
    """Debian's server binaries (`/usr/lib/postgresql/<version>/bin`), the newest; or `postgres` on PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda path: int(Path(path).parts[-3]))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("postgres")
    return Path(on_path).parent if on_path else None


@dataclass
class PostgresServer:
    """`start()`, then `url` (SQLAlchemy URL with the password) and `password`; `stop()` at the end."""

    bin_dir: Path
    directory: Path
    user: str = "auditlake"
    database: str = "catalog"
    password: str = field(default_factory=lambda: "pw-" + secrets.token_urlsafe(18))
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/{self.database}"

    def _as_owner(self, command: list[str]) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command

    def start(self) -> PostgresServer:
        if os.geteuid() == 0:
            self.directory = Path(tempfile.mkdtemp(prefix="auditlake-postgres-"))
        data, sockets = self.directory / "data", self.directory / "socket"
        self.directory.mkdir(parents=True, exist_ok=True)
        sockets.mkdir(exist_ok=True)
        password_file = self.directory / "password"
        password_file.write_text(self.password + "\n")
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres")
            shutil.chown(sockets, "postgres")
            shutil.chown(password_file, "postgres")
        subprocess.run(self._as_owner([str(self.bin_dir / "initdb"), "-D", str(data), "-U", self.user, "--pwfile", str(password_file),
                                       "--auth", "scram-sha-256", "-E", "UTF8", "--no-sync"]),
                       check=True, capture_output=True)
        self.port = free_ports(1)[0]
        self.process = subprocess.Popen(
            self._as_owner([str(self.bin_dir / "postgres"), "-D", str(data), "-p", str(self.port), "-k", str(sockets),
                            "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"]),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline:
            ready = subprocess.run([str(self.bin_dir / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)], capture_output=True)
            if ready.returncode == 0:
                break
            if self.process.poll() is not None:
                raise RuntimeError(f"postgres exited with {self.process.returncode}")
            time.sleep(0.2)
        else:
            self.stop()
            raise RuntimeError("postgres did not become ready")
        subprocess.run([str(self.bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user, self.database],
                       check=True, capture_output=True, env={**os.environ, "PGPASSWORD": self.password})
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # SIGTERM: smart shutdown; SIGINT would be fast, both finish quickly here
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        if os.geteuid() == 0:
            shutil.rmtree(self.directory, ignore_errors=True)
