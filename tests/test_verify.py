"""Proving integrity (issue 16): a lake of real events verifies clean; each way of tampering is found and named.

The lake: two ingests of real apiserver logs (immudb's), a compaction that merges them, and findings written,
each commit signed. Each tamper case works on a copy of it.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from auditlake import Lake
from auditlake.errors import LakeError
from auditlake.store import digests
from auditlake.store.digests import SigningKey
from auditlake.store.verify import Verification
from tests.conftest import DATA

LOGS = ("immudb_first_300_lines.log", "immudb_endpointslice_updates.log")


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> SigningKey:
    return digests.generate_key_pair(tmp_path_factory.mktemp("keys") / "signing.key")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, key: SigningKey) -> Path:
    lake = Lake(tmp_path_factory.mktemp("built") / "lake", signing_key=key.path)
    for name in LOGS:
        lake.ingest([DATA / name], cluster="immudb")
    lake.compact()
    lake.detect(since="2000-01-01", until="2100-01-01", compare=True)
    lake.keep_findings(lake.detect(since="2000-01-01", until="2100-01-01", compare=True))
    return lake.path


@pytest.fixture
def lake(built: Path, tmp_path: Path) -> Lake:
    shutil.copytree(built, tmp_path / "lake")
    return Lake(tmp_path / "lake")


def problems(lake: Lake, key: SigningKey | None = None) -> list[str]:
    (result,) = lake.verify(public_key=key.path.with_name("signing.key.pub") if key else None)
    return result.problems


def events_file(lake: Lake) -> Path:
    return sorted((lake.path / "events").rglob("*.parquet"))[0]


def chain(lake: Lake) -> list[Path]:
    return digests.digest_files(lake.path)


# ---- a clean lake ----------------------------------------------------------------------------------------
def test_every_commit_appends_a_signed_digest(lake: Lake, key: SigningKey) -> None:
    loaded = digests.load_chain(lake.path)
    assert [digest.kind for digest in loaded] == ["ingest", "ingest", "compact", "findings"]
    assert [digest.sequence for digest in loaded] == [1, 2, 3, 4]
    assert all(later.previous == earlier.sha256 for earlier, later in zip(loaded, loaded[1:], strict=False))
    assert digests.chain_signers(loaded) == {key.fingerprint}
    assert lake.store.load_manifest().chain_head() == digests.ChainHead.of(loaded[-1])
    compaction = loaded[2]
    assert len(compaction.removed) == 2 and len(compaction.added) == 1
    assert sum(entry.rows or 0 for entry in compaction.removed) == compaction.added[0].rows == 300 + 2
    assert compaction.note["became"] == {compaction.added[0].path: sorted(entry.path for entry in compaction.removed)}


def test_a_clean_lake_verifies(lake: Lake, key: SigningKey) -> None:
    (result,) = lake.verify(public_key=key.path.with_name("signing.key.pub"))
    assert result.ok, result.problems
    assert (result.files, result.digests, result.rows) == (2, 4, 302)  # the merged events file and one findings file
    assert result.hashed == result.files and result.against_key == key.fingerprint


def test_the_private_key_never_lies_inside_the_lake(lake: Lake) -> None:
    inside = digests.generate_key_pair(lake.path / "_manifest" / "signing.key")
    with pytest.raises(LakeError, match="inside the lake"):
        Lake(lake.path, signing_key=inside.path).ingest([DATA / "immudb_kube_scheduler_lease_updates.log"])
    assert problems(lake) == []


# ---- the tamper matrix ----------------------------------------------------------------------------------
def test_one_flipped_byte(lake: Lake) -> None:
    target = events_file(lake)
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    (problem,) = problems(lake)
    assert problem.startswith(target.relative_to(lake.path).as_posix()) and "sha256 differs" in problem and "(modified)" in problem


def test_a_truncated_file(lake: Lake) -> None:
    target = events_file(lake)
    os.truncate(target, target.stat().st_size - 10)
    (problem,) = problems(lake)
    assert "truncated" in problem


def test_a_deleted_file(lake: Lake) -> None:
    target = events_file(lake)
    target.unlink()
    (problem,) = problems(lake)
    assert "missing" in problem and target.name in problem


def test_a_stray_file(lake: Lake) -> None:
    stray = events_file(lake).with_name("stray.parquet")
    shutil.copyfile(events_file(lake), stray)
    (problem,) = problems(lake)
    assert "stray.parquet: unexpected file" in problem


def test_an_edited_manifest(lake: Lake) -> None:
    manifest = json.loads(lake.store.manifest_path.read_text())
    path = next(iter(manifest["files"]))
    manifest["files"][path]["sha256"] = "0" * 64  # what one would do to make a modified file look committed
    lake.store.manifest_path.write_text(json.dumps(manifest))
    (problem,) = problems(lake)
    assert "manifest.json: records another sha256" in problem and path in problem


def test_a_manifest_listing_a_file_no_digest_adds(lake: Lake) -> None:
    manifest = json.loads(lake.store.manifest_path.read_text())
    path, record = next(iter(manifest["files"].items()))
    manifest["files"][path.replace(".parquet", "-x.parquet")] = {**record, "path": path.replace(".parquet", "-x.parquet")}
    lake.store.manifest_path.write_text(json.dumps(manifest))
    assert any("which no digest adds" in problem for problem in problems(lake))


def test_a_deleted_digest(lake: Lake) -> None:
    chain(lake)[1].unlink()
    found = problems(lake)
    assert any("deleted or reordered" in problem for problem in found)
    assert any("broken chain link" in problem for problem in found)


def test_the_last_digest_deleted(lake: Lake) -> None:
    chain(lake)[-1].unlink()
    found = problems(lake)
    assert any("not in the chain (digests were deleted)" in problem for problem in found), found


def test_two_digests_reordered(lake: Lake) -> None:
    first, second = chain(lake)[:2]
    first_data, second_data = first.read_bytes(), second.read_bytes()
    first.write_bytes(second_data)
    second.write_bytes(first_data)
    found = problems(lake)
    assert any("deleted or reordered" in problem for problem in found) and any("broken chain link" in problem for problem in found)


def test_an_altered_digest_keeping_its_signature(lake: Lake) -> None:
    first = chain(lake)[0]
    data = json.loads(first.read_bytes())
    data["added"][0]["rows"] += 1
    first.write_bytes(digests.canonical_json(data))
    found = problems(lake)
    assert any(first.name in problem and "bad signature" in problem for problem in found)


def forge(digest_file: Path, forger: SigningKey, change: str) -> None:
    """Re-sign a digest, altered, with the forger's own key (its signature then holds against the key it carries)."""
    forged = digests.Digest.from_bytes(digest_file.read_bytes(), digest_file.name)
    if change == "drop-a-file":
        forged.added = forged.added[1:]
    forged.signer = forger.fingerprint
    forged.public_key = base64.b64encode(digests.raw_public(forger.private.public_key())).decode()
    forged.signature = base64.b64encode(forger.private.sign(forged.signed_bytes())).decode()
    digest_file.write_bytes(forged.to_bytes())


def test_a_forged_digest_re_signed_with_another_key(lake: Lake, key: SigningKey, tmp_path: Path) -> None:
    forger = digests.generate_key_pair(tmp_path / "forger" / "signing.key")
    forge(chain(lake)[-1], forger, "drop-a-file")
    with_key = problems(lake, key)
    assert any("1 digest signed by" in problem and "not by the given public key" in problem for problem in with_key)
    without_key = problems(lake)  # the signer changes mid-chain, and the key the forger used is not the lake's
    assert any("a forged digest, or a new key" in problem for problem in without_key)


def test_the_public_key_in_the_lake_replaced(lake: Lake, key: SigningKey, tmp_path: Path) -> None:
    (kept,) = digests.key_files(lake.path)
    other = digests.generate_key_pair(tmp_path / "other" / "signing.key")
    kept.write_bytes(other.path.with_name("signing.key.pub").read_bytes())
    found = problems(lake)
    assert any(problem.startswith("_digests/keys/") and "(replaced)" in problem for problem in found), found


def test_the_whole_chain_re_signed_by_a_forger_is_caught_only_with_the_key_given_out_of_band(
        lake: Lake, key: SigningKey, tmp_path: Path) -> None:
    forger = digests.generate_key_pair(tmp_path / "forger" / "signing.key")
    previous = None
    for path in chain(lake):
        forged = digests.Digest.from_bytes(path.read_bytes(), path.name)
        forged.previous = previous
        forged.signer = forger.fingerprint
        forged.public_key = base64.b64encode(digests.raw_public(forger.private.public_key())).decode()
        forged.signature = base64.b64encode(forger.private.sign(forged.signed_bytes())).decode()
        path.write_bytes(forged.to_bytes())
        previous = digests.Digest.from_bytes(path.read_bytes(), path.name).sha256
    for kept in digests.key_files(lake.path):
        kept.unlink()
    digests.keep_public_key(lake.path, forger)
    manifest = lake.store.load_manifest()
    last = digests.load_chain(lake.path)[-1]
    manifest.digest_head = {"name": last.name, "sequence": last.sequence, "sha256": last.sha256}
    lake.store.save_manifest(manifest)
    assert problems(lake) == []  # the threat model: whoever holds a key and the lake can rewrite both
    assert any("not by the given public key" in problem for problem in problems(lake, key))


# ---- unsigned, quick, since, the CLI ----------------------------------------------------------------------
def test_an_unsigned_lake_keeps_the_chain_and_says_so(tmp_path: Path, key: SigningKey) -> None:
    lake = Lake(tmp_path / "lake")
    lake.ingest([DATA / LOGS[0]])
    (result,) = lake.verify()
    assert result.ok and result.signers == [digests.UNSIGNED]
    assert any("1 digest unsigned, not by the given public key" in problem for problem in problems(lake, key))


def test_quick_compares_sizes_only(lake: Lake) -> None:
    target = events_file(lake)
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    (quick,) = lake.verify(quick=True)
    assert quick.ok and quick.hashed == 0
    (since,) = lake.verify(since="2100-01-01")
    assert since.ok and since.hashed == 0  # nothing was committed in the window: sizes are still checked
    (full,) = lake.verify(since="2000-01-01")
    assert not full.ok


def a_lake_from_before_digests(tmp_path: Path) -> Lake:
    """A lake as an auditlake without digests left it: no `_digests/`, no chain head in the manifest."""
    lake = Lake(tmp_path / "lake")
    lake.ingest([DATA / LOGS[0]])
    shutil.rmtree(lake.path / "_digests")
    manifest = lake.store.load_manifest()
    manifest.digest_head = None
    lake.store.save_manifest(manifest)
    return lake


def test_a_lake_from_before_digests_is_adopted_at_its_next_commit(tmp_path: Path) -> None:
    lake = a_lake_from_before_digests(tmp_path)
    (problem,) = problems(lake)
    assert "no digest chain" in problem and "--adopt" in problem
    lake.ingest([DATA / LOGS[1]])
    assert [digest.kind for digest in digests.load_chain(lake.path)] == ["adopt", "ingest"]
    assert problems(lake) == []


def test_verify_adopt_starts_the_chain_of_a_lake_from_before_digests(tmp_path: Path) -> None:
    lake = a_lake_from_before_digests(tmp_path)
    adopted = run_cli("verify", "--lake", str(lake.path), "--adopt")
    assert adopted.returncode == 0, adopted.stdout + adopted.stderr
    assert [digest.kind for digest in digests.load_chain(lake.path)] == ["adopt"]
    assert not lake.adopt()  # once


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "auditlake", *args], capture_output=True, text=True, timeout=120, check=False)


def test_cli_keys_init_ingest_verify(tmp_path: Path) -> None:
    created = run_cli("keys", "init", "--out", str(tmp_path / "keys" / "signing.key"))
    assert created.returncode == 0, created.stderr
    assert stat.S_IMODE((tmp_path / "keys" / "signing.key").stat().st_mode) == 0o600
    fingerprint = created.stdout.strip()
    ingested = run_cli("ingest", str(DATA / LOGS[0]), "--lake", str(tmp_path / "lake"), "-q",
                       "--signing-key", str(tmp_path / "keys" / "signing.key"))
    assert ingested.returncode == 0, ingested.stderr
    checked = run_cli("verify", "--lake", str(tmp_path / "lake"), "--public-key", str(tmp_path / "keys" / "signing.key.pub"))
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.startswith("✓ ") and "chain intact" in checked.stdout and f"signed by {fingerprint[:4]}…" in checked.stdout
    target = sorted((tmp_path / "lake" / "events").rglob("*.parquet"))[0]
    target.write_bytes(target.read_bytes()[:-1] + b"X")
    failed = run_cli("verify", "--lake", str(tmp_path / "lake"))
    assert failed.returncode == 1
    assert failed.stdout.splitlines()[0].startswith(f"✗ {target.relative_to(tmp_path / 'lake').as_posix()}: sha256 differs")
    as_json = json.loads(run_cli("verify", "--lake", str(tmp_path / "lake"), "--format", "json").stdout)
    assert as_json[0]["ok"] is False and len(as_json[0]["problems"]) == 1
    usage = run_cli("verify", "--lake", str(tmp_path / "lake"), "--public-key", str(tmp_path / "nope.pub"))
    assert usage.returncode == 2 and "Traceback" not in usage.stderr


def test_verification_is_pure(lake: Lake) -> None:
    """verify reads and never repairs: a second run says the same, and the lake's files are untouched."""
    events_file(lake).unlink()
    before = sorted(path.relative_to(lake.path) for path in lake.path.rglob("*"))
    first, second = problems(lake), problems(lake)
    assert first == second and sorted(path.relative_to(lake.path) for path in lake.path.rglob("*")) == before
    assert isinstance(lake.verify()[0], Verification)


def test_a_report_carries_the_verify_result_and_require_verified_refuses_a_tampered_lake(lake: Lake, tmp_path: Path) -> None:
    window = ["--since", "2023-03-01", "--until", "2023-04-01"]
    made = run_cli("report", "pci-dss", "--lake", str(lake.path), *window, "--out", str(tmp_path / "reports"), "--format", "html,md,json",
                   "--require-verified")
    assert made.returncode in (0, 1) and "error" not in made.stderr, made.stderr
    head = digests.load_chain(lake.path)[-1]
    (page,) = (tmp_path / "reports").glob("*.html")
    (markdown,) = (tmp_path / "reports").glob("*.md")
    (document,) = (tmp_path / "reports").glob("*.json")
    for text in (page.read_text(), markdown.read_text()):
        assert "VERIFIED at generation time" in text and head.name in text and head.sha256 in text
        assert f"auditlake verify --lake {lake.path}" in text
    integrity = json.loads(document.read_text())["evidence"]["integrity"]
    assert integrity["verified"] is True and integrity["head"] == head.name and integrity["signers"] == [head.signer]
    shutil.copyfile(events_file(lake), events_file(lake).with_name("slipped-in.parquet"))
    refused = run_cli("report", "pci-dss", "--lake", str(lake.path), *window, "--out", str(tmp_path / "refused"), "--require-verified")
    assert refused.returncode == 1 and "does not verify" in refused.stderr and not (tmp_path / "refused").exists()
    anyway = run_cli("report", "pci-dss", "--lake", str(lake.path), *window, "--out", str(tmp_path / "anyway"), "--format", "md")
    assert "FAILED verification at generation time: 1 problem(s)" in next((tmp_path / "anyway").glob("*.md")).read_text(), anyway.stderr


def test_recovery_never_deletes_a_chain_a_restored_manifest_does_not_name(lake: Lake) -> None:
    """Only an interrupted commit's digests (at most two, at the end) are deleted; a manifest from an old backup deletes nothing."""
    manifest = lake.store.load_manifest()
    first = digests.load_chain(lake.path)[0]
    manifest.digest_head = {"name": first.name, "sequence": first.sequence, "sha256": first.sha256}
    lake.store.save_manifest(manifest)
    lake.rebuild_catalog()  # a writer: runs recovery
    assert len(digests.load_chain(lake.path)) == 4
    assert any("but the chain goes on to" in problem for problem in problems(lake))
