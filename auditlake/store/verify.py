"""Verifying a lake against its digest chain: every way the files, the manifest and the chain disagree, one line each.

Owns: `verify_lake` (pure: it reads, never repairs or prints) and its `Verification` result. The chain is
checked whole every time (readable, numbered without gaps, each `previous` the sha256 of the digest before
it, each signature against the key the digest carries and, given one out of band, against that key; a
signer that changes mid-chain is reported, since a forger re-signs with a key of their own). The files:
each file the chain says exists is there with its size and (unless `quick`) its sha256, hashed on
`workers` threads with bounded memory (hashlib releases the GIL); `since` limits hashing to files added by
digests created since then (existence and size are still checked for all). No file under events/,
quarantine/, findings/ or reviews/ that no digest accounts for. The manifest names the chain's last digest
and commits to exactly the files the chain says exist. A compaction's rows balance per partition. The
public keys kept in the lake (`_digests/keys/`) are the keys the digests carry.

A digest found altered is reported once: the link after it and the files it lists are not reported again.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from auditlake.store.digests import (
    DIGESTS_DIR,
    UNSIGNED,
    ChainHead,
    Digest,
    FileEntry,
    expected_files,
    fingerprint,
    key_files,
    read_chain,
    read_public_key,
    short,
    signature_problem,
)
from auditlake.store.files import DATA_DIRS, parse_time
from auditlake.store.manifest import LakeStore, Manifest

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

# Where committed data files live: a file here that no digest accounts for is unexpected. `_retired/` holds files
# a compaction removed (listed as removed), `_staging/` files not committed yet: neither is checked.


@dataclass
class Verification:
    """What `verify_lake` checked and found; `problems` is empty when the lake is intact."""

    lake: str
    problems: list[str] = field(default_factory=list)
    files: int = 0  # files the chain says exist
    rows: int = 0
    bytes: int = 0
    hashed: int = 0  # of them, re-hashed (all, unless `quick` or `since`)
    hashed_bytes: int = 0
    digests: int = 0
    signers: list[str] = field(default_factory=list)  # fingerprints, `unsigned` among them
    head: ChainHead | None = None
    quick: bool = False
    since: datetime | None = None
    against_key: str | None = None  # the fingerprint of the public key given out of band

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_lake(store: LakeStore, *, public_key: Ed25519PublicKey | None = None, since: datetime | None = None,
                quick: bool = False, workers: int = 2) -> Verification:
    """Check the lake against its chain, and the chain against itself (see the module docstring)."""
    result = Verification(store.address, quick=quick, since=since,
                          against_key=fingerprint(public_key) if public_key is not None else None)
    manifest = store.load_manifest()
    digest_root = store.digest_root()
    chain, result.problems = read_chain(digest_root)
    if not chain and not result.problems and manifest.chain_head() is None:
        if manifest.committed_entries(store.root):
            result.problems.append(f"{DIGESTS_DIR}: no digest chain: the lake was written before auditlake kept digests "
                                   "(run `auditlake verify --adopt` once to start one from the files as they are now)")
        return result
    result.digests = len(chain)
    result.head = ChainHead.of(chain[-1]) if chain else None
    untrusted = _check_chain(chain, result)
    _check_keys(digest_root, chain, result)
    expected = expected_files(chain)
    _check_files(store, {path: pair for path, pair in expected.items() if pair[1].name not in untrusted}, result, workers)
    _check_unexpected(store, expected, result)
    _check_manifest(store, manifest, chain, expected, result)
    for digest in chain:
        if digest.kind == "compact" and digest.name not in untrusted:
            result.problems += _unbalanced(digest)
    return result


def verify_with_archive(store: LakeStore, **options: Any) -> list[Verification]:
    """The lake's verification, then its archive's (`retention --archive`) when it has one."""
    stores = [store]
    if (archived := store.load_manifest().archive) and LakeStore(Path(archived)).exists():
        stores.append(LakeStore(Path(archived)))
    return [verify_lake(each, **options) for each in stores]


def _check_chain(chain: list[Digest], result: Verification) -> set[str]:
    """Numbering, links, signatures and signers; the names of digests whose signature does not hold."""
    untrusted: set[str] = set()
    foreign: dict[str, int] = {}
    previous: Digest | None = None
    for index, digest in enumerate(chain, start=1):
        where = f"{DIGESTS_DIR}/{digest.name}"
        if digest.sequence != index or not digest.name.startswith(f"{digest.sequence:08d}-"):
            result.problems.append(f"{where}: is number {digest.sequence} but digest {index} of the chain "
                                   "(a digest was deleted or reordered)")
        expected_previous = previous.sha256 if previous else None
        if digest.previous != expected_previous and not (previous and previous.name in untrusted):
            what = "the first digest names a previous one" if previous is None else f"previous-digest hash is not that of {previous.name}"
            result.problems.append(f"{where}: broken chain link: {what} (a digest was altered, deleted or reordered)")
        if (problem := signature_problem(digest)) is not None:
            result.problems.append(f"{where}: {problem}")
            untrusted.add(digest.name)
        elif result.against_key is not None and digest.signer != result.against_key:
            foreign[digest.signer] = foreign.get(digest.signer, 0) + 1
        elif result.against_key is None and previous is not None and previous.signer != UNSIGNED and digest.signer != previous.signer:
            now = "unsigned" if digest.signer == UNSIGNED else f"signed by {short(digest.signer)}"
            result.problems.append(f"{where}: {now}, the digest before it by {short(previous.signer)} (a forged digest, "
                                   "or a new key: check with --public-key)")
        previous = digest
    for signer, count in sorted(foreign.items()):
        who = "unsigned" if signer == UNSIGNED else f"signed by {short(signer)}"
        result.problems.append(f"{DIGESTS_DIR}: {count} digest{'s' if count > 1 else ''} {who}, not by the given public key "
                               f"{short(result.against_key or '')}")
    result.signers = sorted({digest.signer for digest in chain})
    return untrusted


def _check_keys(root: Path, chain: list[Digest], result: Verification) -> None:
    """Each public key file in the lake holds the key its name says, and each signer of the chain has one."""
    carried = {digest.signer: digest.public_key for digest in chain if digest.signer != UNSIGNED}
    kept: set[str] = set()
    for path in key_files(root):
        relative = path.relative_to(root).as_posix()
        key = read_public_key(path)
        if key is None:
            result.problems.append(f"{relative}: unreadable public key")
            continue
        if fingerprint(key) != path.stem:
            result.problems.append(f"{relative}: holds the key {short(fingerprint(key))}, not the one its name says (replaced)")
            continue
        kept.add(path.stem)
    for signer in sorted(set(carried) - kept):
        result.problems.append(f"{DIGESTS_DIR}/keys/{signer}.pub: missing (digests are signed by {short(signer)})")


def _check_files(store: LakeStore, expected: dict[str, tuple[FileEntry, Digest]], result: Verification, workers: int) -> None:
    to_hash: list[tuple[str, FileEntry, Digest]] = []
    for path, (entry, digest) in sorted(expected.items()):
        result.files += 1
        result.rows += (entry.rows or 0) if path.startswith("events/") else 0
        result.bytes += entry.size
        since = f"digest {digest.name} ({digest.created_at})"
        size = store.stored_size(path)
        if size is None:
            result.problems.append(f"{path}: missing (added by {since}, removed by none)")
            continue
        if size != entry.size:
            result.problems.append(f"{path}: size {size} differs from {entry.size} in {since} (modified or truncated)")
        elif not result.quick and (result.since is None or parse_time(digest.created_at) >= result.since):
            to_hash.append((path, entry, digest))
    to_hash.sort(key=lambda item: -item[1].size)  # the largest first: the threads finish together
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for (path, entry, digest), actual in zip(to_hash, pool.map(lambda item: store.stored_sha256(item[0]), to_hash), strict=True):
            result.hashed += 1
            result.hashed_bytes += entry.size
            if actual is None:
                result.problems.append(f"{path}: unreadable")
            elif actual != entry.sha256:
                result.problems.append(f"{path}: sha256 differs from digest {digest.name} ({digest.created_at}) (modified)")


def _check_unexpected(store: LakeStore, expected: dict[str, tuple[FileEntry, Digest]], result: Verification) -> None:
    for top in DATA_DIRS:
        for relative in store.stored_paths(top):
            if relative not in expected:
                result.problems.append(f"{relative}: unexpected file: in no digest")


def _check_manifest(store: LakeStore, manifest: Manifest, chain: list[Digest], expected: dict[str, tuple[FileEntry, Digest]],
                    result: Verification) -> None:
    """The manifest names the chain's last digest and commits to exactly the files the chain says exist."""
    head, last = manifest.chain_head(), result.head
    where = "_manifest/manifest.json"
    if head != last:
        if head is None:
            result.problems.append(f"{where}: names no digest, but the chain has {len(chain)} (the manifest was replaced)")
        elif last is None or head.sequence > last.sequence:
            result.problems.append(f"{where}: names digest {head.name}, which is not in the chain (digests were deleted)")
        elif any(digest.name == head.name and digest.sha256 == head.sha256 for digest in chain):
            result.problems.append(f"{where}: names digest {head.name}, but the chain goes on to {last.name} (an interrupted "
                                   "commit, which the next write undoes, or digests added by hand)")
        else:
            result.problems.append(f"{where}: names digest {head.name} with another sha256 than the chain's (edited or replaced)")
    committed = manifest.committed_entries(store.root)
    for path in sorted(set(committed) | set(expected)):
        if path not in expected:
            result.problems.append(f"{where}: commits to {path}, which no digest adds (the manifest was edited)")
        elif path not in committed:
            result.problems.append(f"{where}: does not list {path}, which the chain says exists (the manifest was edited)")
        elif committed[path].sha256 != expected[path][0].sha256:
            result.problems.append(f"{where}: records another sha256 for {path} than the chain (the manifest was edited)")


def _unbalanced(digest: Digest) -> list[str]:
    """A compaction's rows out must equal its rows in, per partition."""
    def per_partition(entries: Iterable[FileEntry]) -> dict[str, int]:
        totals: dict[str, int] = {}
        for entry in entries:
            partition = entry.path.rsplit("/", 1)[0]
            totals[partition] = totals.get(partition, 0) + (entry.rows or 0)
        return totals

    removed, added = per_partition(digest.removed), per_partition(digest.added)
    return [f"{DIGESTS_DIR}/{digest.name}: compaction of {partition} removed {removed.get(partition, 0)} rows but added "
            f"{added.get(partition, 0)}" for partition in sorted(set(removed) | set(added)) if removed.get(partition, 0) != added.get(partition, 0)]

