"""Digests, `_digests/<sequence>-<batch>.json`: a signed hash chain of every commit, and checking a lake against it.

Owns: the digest record (what one commit added and removed: path, size, rows, sha256 of each file; the
sha256 of the previous digest file, so the digests form a chain; the time, the tool version, the signer),
its canonical JSON and Ed25519 signature (through `cryptography`, never hand-rolled), writing one
atomically, loading the chain, `verify_chain` (the problems a lake has against its chain, one line each,
pure: no printing), and the signing keys (generate, load; the private key never lives inside a lake).

A digest's `previous` is the sha256 of the previous digest *file* (its signature included), as
CloudTrail's digests embed the previous signature: altering, deleting or reordering a digest breaks the
next link. An unsigned lake still gets the chain; its digests say `"signer": "unsigned"`. Each signed
digest also carries the raw public key, so a lake checks against itself; only `public_key` given out of
band (`verify --public-key`) proves who signed it.

Not yet done (issue #16): the manifest does not record the chain head, so `recover` does not delete a
digest whose commit never happened, and deleting the *last* digest of an unsigned chain goes unseen.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from auditlake.errors import LakeError
from auditlake.store.files import file_sha256, now_text, storage_errors, write_atomically
from auditlake.store.manifest import LakeStore, Manifest

DIGESTS_DIR = "_digests"
DIGEST_FORMAT = "auditlake-digest"
DIGEST_VERSION = 1
UNSIGNED = "unsigned"
DIGEST_NAME = re.compile(r"^(\d{8})-([A-Za-z0-9T_-]+)\.json$")
# Where committed data files live: a file here that no digest accounts for is unexpected. `_retired/` holds
# files a compaction removed (they are listed as removed), `_staging/` files not committed yet: neither is checked.
CHECKED_DIRS = ("events", "quarantine", "findings", "reviews")


# ---- records ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FileEntry:
    """One file a commit added or removed."""

    path: str  # relative to the lake
    size: int
    rows: int | None  # None for files that are not tables (reviews)
    sha256: str


@dataclass
class Digest:
    sequence: int
    batch: str
    kind: str  # ingest, compact, findings, review, retention, adopt
    created_at: str
    auditlake_version: str
    previous: str | None  # sha256 of the previous digest file; None for the first
    added: list[FileEntry] = field(default_factory=list)
    removed: list[FileEntry] = field(default_factory=list)
    signer: str = UNSIGNED  # the public key's fingerprint, or "unsigned"
    public_key: str | None = None  # the raw Ed25519 public key, base64
    signature: str | None = None  # base64 Ed25519 signature over `signed_bytes()`
    format: str = DIGEST_FORMAT
    version: int = DIGEST_VERSION
    name: str = ""  # the file name under _digests/ (not part of the record)
    sha256: str = ""  # of the file's bytes (not part of the record)

    def body(self) -> dict[str, Any]:
        """Everything the signature covers: the record without the signature and without where it was read from."""
        data = asdict(self)
        for key in ("signature", "name", "sha256"):
            data.pop(key)
        return data

    def signed_bytes(self) -> bytes:
        return canonical_json(self.body())

    def to_bytes(self) -> bytes:
        return canonical_json({**self.body(), "signature": self.signature})

    @classmethod
    def from_bytes(cls, data: bytes, name: str) -> Digest:
        raw = json.loads(data)
        if not isinstance(raw, dict) or raw.get("format") != DIGEST_FORMAT:
            raise ValueError("not an auditlake digest")
        added = [FileEntry(**entry) for entry in raw.pop("added", [])]
        removed = [FileEntry(**entry) for entry in raw.pop("removed", [])]
        return cls(**raw, added=added, removed=removed, name=name, sha256=hashlib.sha256(data).hexdigest())


def canonical_json(value: Any) -> bytes:
    """One byte string per value: sorted keys, no spaces, UTF-8 (what is signed and hashed)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


# ---- keys -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SigningKey:
    path: Path
    private: Ed25519PrivateKey

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.private.public_key())


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def fingerprint(key: Ed25519PublicKey) -> str:
    """sha256 of the raw public key, hex: what a digest names its signer by."""
    return hashlib.sha256(raw_public(key)).hexdigest()


def short(fingerprint_text: str) -> str:
    return fingerprint_text if fingerprint_text == UNSIGNED else f"{fingerprint_text[:4]}…{fingerprint_text[-2:]}"


def generate_key_pair(path: Path) -> SigningKey:
    """Write a new Ed25519 private key to `path` (PKCS#8 PEM, mode 0600) and its public key beside it (`path.pub`)."""
    public_path = path.with_name(path.name + ".pub")
    for existing in (path, public_path):
        if existing.exists():
            raise LakeError(f"{existing}: already exists", hint="choose another --out, or remove the old key first")
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    public_pem = private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    with storage_errors(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, pem, mode=0o600)
        write_atomically(public_path, public_pem, mode=0o644)
    return SigningKey(path, private)


def load_signing_key(path: Path) -> SigningKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as error:
        raise LakeError(f"{path}: unreadable signing key ({error})", hint="create one with `auditlake keys init --out FILE`") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise LakeError(f"{path}: not an Ed25519 private key", hint="create one with `auditlake keys init --out FILE`")
    return SigningKey(path, key)


def load_public_key(path: Path) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except (OSError, ValueError, TypeError) as error:
        raise LakeError(f"{path}: unreadable public key ({error})", hint="give the `.pub` file written by `auditlake keys init`") from None
    if not isinstance(key, Ed25519PublicKey):
        raise LakeError(f"{path}: not an Ed25519 public key", hint="give the `.pub` file written by `auditlake keys init`")
    return key


# ---- writing ----------------------------------------------------------------------------------------
def digests_dir(store: LakeStore) -> Path:
    return store.root / DIGESTS_DIR


def digest_files(store: LakeStore) -> list[Path]:
    directory = digests_dir(store)
    return sorted(path for path in directory.glob("*.json") if path.is_file()) if directory.is_dir() else []


def write_digest(store: LakeStore, *, batch: str, kind: str, version: str, added: Iterable[FileEntry] = (),
                 removed: Iterable[FileEntry] = (), signing_key: SigningKey | None = None) -> Digest:
    """Append the digest of one commit to the chain, atomically (under the caller's write lock).

    The private key must not lie inside the lake: whoever can alter the lake could then re-sign it.
    """
    if signing_key is not None and signing_key.path.resolve().is_relative_to(store.root):
        raise LakeError(f"{signing_key.path}: the signing key lies inside the lake {store.root}",
                        hint="keep the private key outside the lake (another machine or a KMS is best)")
    chain = digest_files(store)
    previous = chain[-1] if chain else None
    numbered = DIGEST_NAME.match(previous.name) if previous else None
    sequence = int(numbered.group(1)) + 1 if numbered else len(chain) + 1
    digest = Digest(
        sequence=sequence, batch=batch, kind=kind, created_at=now_text(), auditlake_version=version,
        previous=file_sha256(previous) if previous else None,
        added=sorted(added, key=lambda entry: entry.path), removed=sorted(removed, key=lambda entry: entry.path),
    )
    if signing_key is not None:
        digest.signer = signing_key.fingerprint
        digest.public_key = base64.b64encode(raw_public(signing_key.private.public_key())).decode()
        digest.signature = base64.b64encode(signing_key.private.sign(digest.signed_bytes())).decode()
    data = digest.to_bytes()
    digest.name, digest.sha256 = f"{sequence:08d}-{batch}.json", hashlib.sha256(data).hexdigest()
    with storage_errors(store.root):
        digests_dir(store).mkdir(exist_ok=True)
        write_atomically(digests_dir(store) / digest.name, data)
    return digest


def committed_entries(store: LakeStore, manifest: Manifest) -> dict[str, FileEntry]:
    """Every file the manifest commits to, as digest entries (the quarantine file's size is read from disk)."""
    entries = {path: FileEntry(path, record.bytes, record.rows, record.sha256)
               for path, record in {**manifest.files, **(manifest.findings or {})}.items()}
    entries.update({path: FileEntry(path, record.bytes, None, record.sha256) for path, record in manifest.reviews.items()})
    for batch in manifest.batches:
        if batch.quarantine_file and batch.quarantine_sha256:
            on_disk = store.root / batch.quarantine_file
            size = on_disk.stat().st_size if on_disk.is_file() else 0
            entries[batch.quarantine_file] = FileEntry(batch.quarantine_file, size, batch.quarantined, batch.quarantine_sha256)
    return entries


def adopt(store: LakeStore, manifest: Manifest, *, batch: str, version: str, signing_key: SigningKey | None = None) -> Digest | None:
    """A digest for the committed files no digest covers yet (a lake from before digests); None when all are covered."""
    covered = expected_files(load_chain(store))
    added = [entry for path, entry in committed_entries(store, manifest).items() if path not in covered]
    if not added:
        return None
    return write_digest(store, batch=batch, kind="adopt", version=version, added=added, signing_key=signing_key)


# ---- reading and verifying --------------------------------------------------------------------------
def load_chain(store: LakeStore) -> list[Digest]:
    """The digests in file-name order; raises LakeError for one that cannot be read (see `verify_chain` to report it)."""
    chain, problems = _read_chain(store)
    if problems:
        raise LakeError(problems[0], hint="run `auditlake verify` for every problem")
    return chain


def _read_chain(store: LakeStore) -> tuple[list[Digest], list[str]]:
    chain: list[Digest] = []
    problems: list[str] = []
    for path in digest_files(store):
        try:
            chain.append(Digest.from_bytes(path.read_bytes(), path.name))
        except (OSError, ValueError, TypeError, KeyError) as error:
            problems.append(f"{DIGESTS_DIR}/{path.name}: unreadable digest ({error})")
    return chain, problems


def expected_files(chain: list[Digest]) -> dict[str, tuple[FileEntry, Digest]]:
    """The files the chain says exist now, each with the digest that added it."""
    expected: dict[str, tuple[FileEntry, Digest]] = {}
    for digest in chain:
        for entry in digest.removed:
            expected.pop(entry.path, None)
        for entry in digest.added:
            expected[entry.path] = (entry, digest)
    return expected


def _signature_problem(digest: Digest) -> str | None:
    """Why a signed digest's signature does not hold against the public key it carries (None: it holds)."""
    if digest.signer == UNSIGNED:
        return None if digest.signature is None and digest.public_key is None else "says unsigned but carries a signature"
    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(digest.public_key or "", validate=True))
        if fingerprint(key) != digest.signer:
            return f"its public key is not the signer it names ({short(digest.signer)})"
        key.verify(base64.b64decode(digest.signature or "", validate=True), digest.signed_bytes())
    except (InvalidSignature, ValueError, TypeError):
        return f"bad signature (signer {short(digest.signer)}): the digest was altered after signing"
    return None


def verify_chain(store: LakeStore, public_key: Ed25519PublicKey | None = None) -> list[str]:
    """Every way the lake differs from its digest chain, one line each; [] when it is intact.

    Checks the chain (readable, numbered without gaps, each `previous` the sha256 of the digest before it),
    each signature (against the key each digest carries, and, given `public_key`, that this key signed
    them all), and the files (each file the chain says exists is there with its size and sha256; no file
    under events/, quarantine/, findings/ or reviews/ that no digest accounts for). A digest found altered
    is reported once: the link after it and the files it lists are not reported again.
    """
    chain, problems = _read_chain(store)
    untrusted: set[str] = set()
    wanted = fingerprint(public_key) if public_key is not None else None
    foreign: dict[str, int] = {}
    previous: Digest | None = None
    for index, digest in enumerate(chain, start=1):
        where = f"{DIGESTS_DIR}/{digest.name}"
        if digest.sequence != index or not digest.name.startswith(f"{digest.sequence:08d}-"):
            problems.append(f"{where}: is number {digest.sequence} but digest {index} of the chain (a digest was deleted or reordered)")
        expected_previous = previous.sha256 if previous else None
        if digest.previous != expected_previous and not (previous and previous.name in untrusted):
            what = "the first digest names a previous one" if previous is None else f"previous-digest hash is not that of {previous.name}"
            problems.append(f"{where}: broken chain link: {what} (a digest was altered, deleted or reordered)")
        if (problem := _signature_problem(digest)) is not None:
            problems.append(f"{where}: {problem}")
            untrusted.add(digest.name)
        elif wanted is not None and digest.signer != wanted:
            foreign[digest.signer] = foreign.get(digest.signer, 0) + 1
        previous = digest
    for signer, count in sorted(foreign.items()):
        who = "unsigned" if signer == UNSIGNED else f"signed by {short(signer)}"
        problems.append(f"{DIGESTS_DIR}: {count} digest{'s' if count > 1 else ''} {who}, not by the given public key {short(wanted or '')}")
    expected = expected_files(chain)
    for path, (entry, digest) in sorted(expected.items()):
        if digest.name in untrusted:
            continue
        on_disk = store.root / path
        since = f"digest {digest.name} ({digest.created_at})"
        if not on_disk.is_file():
            problems.append(f"{path}: missing (added by {since}, removed by none)")
        elif on_disk.stat().st_size != entry.size:
            problems.append(f"{path}: size {on_disk.stat().st_size} differs from {entry.size} in {since} (modified or truncated)")
        elif file_sha256(on_disk) != entry.sha256:
            problems.append(f"{path}: sha256 differs from {since} (modified)")
    for top in CHECKED_DIRS:
        directory = store.root / top
        if not directory.is_dir():
            continue
        for on_disk in sorted(directory.rglob("*")):
            relative = on_disk.relative_to(store.root).as_posix()
            if on_disk.is_file() and relative not in expected and not _is_temporary(on_disk):
                problems.append(f"{relative}: unexpected file: in no digest")
    return problems


def _is_temporary(path: Path) -> bool:
    """A writer's temporary name (`.name.<pid>-<hex>.tmp`): the next writer's recovery deletes it."""
    return path.name.startswith(".") and path.name.endswith((".tmp", ".tmp.wal"))


def chain_signers(chain: list[Digest]) -> set[str]:
    """The fingerprints the chain's digests name (`unsigned` among them for unsigned digests)."""
    return {digest.signer for digest in chain}


__all__ = [
    "DIGESTS_DIR", "UNSIGNED", "Digest", "FileEntry", "SigningKey", "adopt", "canonical_json", "chain_signers",
    "committed_entries", "digest_files", "expected_files", "fingerprint", "generate_key_pair", "load_chain",
    "load_public_key", "load_signing_key", "verify_chain", "write_digest",
]
