"""The digest chain (store/digests.py) on a real lake: intact it verifies; each tampering is one clear problem line."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from auditlake import Lake
from auditlake.config import version
from auditlake.errors import LakeError
from auditlake.store import digests
from auditlake.store.digests import SigningKey
from tests.conftest import DATA


def two_commit_lake(tmp_path: Path, key: SigningKey | None) -> Lake:
    """A lake of two ingests, each followed by a digest of what it committed (until ingest writes its own)."""
    lake = Lake(tmp_path / "lake")
    for number, name in enumerate(("immudb_first_300_lines.log", "immudb_endpointslice_updates.log"), start=1):
        lake.ingest([DATA / name])
        digests.adopt(lake.store, lake.store.load_manifest(), batch=f"test-{number}", version=version(), signing_key=key)
    return lake


@pytest.fixture
def key(tmp_path: Path) -> SigningKey:
    return digests.generate_key_pair(tmp_path / "keys" / "signing.key")


@pytest.fixture
def lake(tmp_path: Path, key: SigningKey) -> Lake:
    return two_commit_lake(tmp_path, key)


def a_parquet_file(lake: Lake) -> Path:
    return sorted((lake.path / "events").rglob("*.parquet"))[0]


def test_key_pair_files(tmp_path: Path, key: SigningKey) -> None:
    assert stat.S_IMODE(key.path.stat().st_mode) == 0o600
    public = digests.load_public_key(key.path.with_name("signing.key.pub"))
    assert digests.fingerprint(public) == key.fingerprint == digests.load_signing_key(key.path).fingerprint
    with pytest.raises(LakeError, match="already exists"):
        digests.generate_key_pair(key.path)


def test_clean_chain_verifies(lake: Lake, key: SigningKey) -> None:
    chain = digests.load_chain(lake.store)
    assert [digest.sequence for digest in chain] == [1, 2]
    assert chain[0].previous is None and chain[1].previous == chain[0].sha256
    assert digests.chain_signers(chain) == {key.fingerprint}
    assert digests.expected_files(chain).keys() == digests.committed_entries(lake.store, lake.store.load_manifest()).keys()
    assert digests.verify_chain(lake.store) == []
    assert digests.verify_chain(lake.store, key.private.public_key()) == []


def test_modified_parquet_file(lake: Lake) -> None:
    target = a_parquet_file(lake)
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF  # flip one byte: same size
    target.write_bytes(bytes(data))
    problems = digests.verify_chain(lake.store)
    assert len(problems) == 1 and "sha256 differs" in problems[0] and target.name in problems[0]


def test_truncated_file(lake: Lake) -> None:
    target = a_parquet_file(lake)
    os.truncate(target, target.stat().st_size - 10)
    problems = digests.verify_chain(lake.store)
    assert len(problems) == 1 and "truncated" in problems[0]


def test_removed_file(lake: Lake) -> None:
    target = a_parquet_file(lake)
    target.unlink()
    problems = digests.verify_chain(lake.store)
    assert len(problems) == 1 and "missing" in problems[0] and target.name in problems[0]


def test_extra_file(lake: Lake) -> None:
    stray = a_parquet_file(lake).with_name("stray.parquet")
    stray.write_bytes(a_parquet_file(lake).read_bytes())
    problems = digests.verify_chain(lake.store)
    assert len(problems) == 1 and "unexpected file" in problems[0] and "stray.parquet" in problems[0]


def test_tampered_digest(lake: Lake) -> None:
    first = digests.digest_files(lake.store)[0]
    data = json.loads(first.read_bytes())
    data["added"][0]["rows"] += 1  # a forged row count, keeping the old signature
    first.write_bytes(digests.canonical_json(data))
    problems = digests.verify_chain(lake.store)
    assert len(problems) == 1 and "bad signature" in problems[0] and first.name in problems[0]


def test_deleted_digest(lake: Lake) -> None:
    digests.digest_files(lake.store)[0].unlink()
    problems = digests.verify_chain(lake.store)
    assert any("deleted or reordered" in problem for problem in problems)
    assert any("unexpected file" in problem for problem in problems)  # what only the deleted digest listed


def test_wrong_key(lake: Lake, tmp_path: Path) -> None:
    other = digests.generate_key_pair(tmp_path / "other" / "signing.key")
    problems = digests.verify_chain(lake.store, other.private.public_key())
    assert len(problems) == 1 and "2 digests signed by" in problems[0] and "not by the given public key" in problems[0]


def test_forged_digest_signed_with_another_key(lake: Lake, tmp_path: Path, key: SigningKey) -> None:
    """An attacker re-signs an altered digest with their own key: it holds against itself, not against the real key."""
    forger = digests.generate_key_pair(tmp_path / "forger" / "signing.key")
    last = digests.digest_files(lake.store)[-1]
    forged = digests.Digest.from_bytes(last.read_bytes(), last.name)
    forged.added = forged.added[1:]
    forged.signer = forger.fingerprint
    forged.public_key = base64.b64encode(digests.raw_public(forger.private.public_key())).decode()
    forged.signature = base64.b64encode(forger.private.sign(forged.signed_bytes())).decode()
    last.write_bytes(forged.to_bytes())
    problems = digests.verify_chain(lake.store, key.private.public_key())
    assert any("1 digest signed by" in problem for problem in problems)


def test_unsigned_chain(tmp_path: Path, key: SigningKey) -> None:
    lake = two_commit_lake(tmp_path, None)
    assert digests.chain_signers(digests.load_chain(lake.store)) == {digests.UNSIGNED}
    assert digests.verify_chain(lake.store) == []
    problems = digests.verify_chain(lake.store, key.private.public_key())
    assert len(problems) == 1 and "2 digests unsigned" in problems[0]


def test_signing_key_inside_the_lake_is_refused(lake: Lake) -> None:
    inside = digests.generate_key_pair(lake.path / "_manifest" / "signing.key")
    with pytest.raises(LakeError, match="inside the lake"):
        digests.write_digest(lake.store, batch="x", kind="ingest", version=version(), signing_key=inside)
