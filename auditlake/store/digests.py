"""Digests, `_digests/<sequence>-<batch>.json`: a signed hash chain of every commit.

Owns: the digest record (what one commit added and removed: path, size, rows, sha256 of each file; the
sha256 of the previous digest file, so the digests form a chain; the time, the tool version, the signer),
its canonical JSON and Ed25519 signature (through `cryptography`, never hand-rolled), writing one
atomically after the manifest's head and deleting digests past it (recovery), loading the chain (checking it:
see store/verify.py), and the signing keys (generate, load; the private key never lives inside a lake).

A digest's `previous` is the sha256 of the previous digest *file* (its signature included), as
CloudTrail's digests embed the previous signature: altering, deleting or reordering a digest breaks the
next link. An unsigned lake still gets the chain; its digests say `"signer": "unsigned"`. Each signed
digest also carries the raw public key, so a lake checks against itself; only `public_key` given out of
band (`verify --public-key`) proves who signed it. The manifest names the chain's head (`ChainHead`): the
digest is written first, the manifest that names it is the commit point (see `LakeStore.commit`).

"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from auditlake.errors import LakeError
from auditlake.store.files import now_text, storage_errors, write_atomically

if TYPE_CHECKING:  # `cryptography` is imported when a key is used: not on every command's start-up
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

DIGESTS_DIR = "_digests"
DIGEST_FORMAT = "auditlake-digest"
DIGEST_VERSION = 1
UNSIGNED = "unsigned"
DIGEST_NAME = re.compile(r"^(\d{8})-([A-Za-z0-9T_-]+)\.json$")


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
    note: dict[str, Any] = field(default_factory=dict)  # what the commit says of itself (retention: where files went, why)
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
    from cryptography.hazmat.primitives import serialization

    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_pem(key: Ed25519PublicKey) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


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
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    with storage_errors(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, pem, mode=0o600)
        write_atomically(public_path, public_pem(private.public_key()), mode=0o644)
    return SigningKey(path, private)


def load_signing_key(path: Path) -> SigningKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as error:
        raise LakeError(f"{path}: unreadable signing key ({error})", hint="create one with `auditlake keys init --out FILE`") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise LakeError(f"{path}: not an Ed25519 private key", hint="create one with `auditlake keys init --out FILE`")
    return SigningKey(path, key)


def load_public_key(path: Path) -> Ed25519PublicKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except (OSError, ValueError, TypeError) as error:
        raise LakeError(f"{path}: unreadable public key ({error})", hint="give the `.pub` file written by `auditlake keys init`") from None
    if not isinstance(key, Ed25519PublicKey):
        raise LakeError(f"{path}: not an Ed25519 public key", hint="give the `.pub` file written by `auditlake keys init`")
    return key


# ---- writing ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ChainHead:
    """The last digest of a chain, as the manifest records it: the commit point names it."""

    name: str
    sequence: int
    sha256: str

    @classmethod
    def of(cls, digest: Digest) -> ChainHead:
        return cls(digest.name, digest.sequence, digest.sha256)


def digests_dir(root: Path) -> Path:
    return root / DIGESTS_DIR


def digest_files(root: Path) -> list[Path]:
    directory = digests_dir(root)
    return sorted(path for path in directory.glob("*.json") if path.is_file()) if directory.is_dir() else []


def write_digest(root: Path, *, head: ChainHead | None, batch: str, kind: str, version: str, added: Iterable[FileEntry] = (),
                 removed: Iterable[FileEntry] = (), signing_key: SigningKey | None = None, note: dict[str, Any] | None = None) -> Digest:
    """Append the digest of one commit after `head` (the manifest's), atomically, under the caller's write lock.

    The digest is written before the manifest that names it (the commit point): a writer killed in between
    leaves a digest after the manifest's head, which the next writer's recovery deletes.
    The private key must not lie inside the lake: whoever can alter the lake could then re-sign it.
    """
    if signing_key is not None and signing_key.path.resolve().is_relative_to(root):
        raise LakeError(f"{signing_key.path}: the signing key lies inside the lake {root}",
                        hint="keep the private key outside the lake (another machine or a KMS is best)")
    sequence = head.sequence + 1 if head else 1
    digest = Digest(
        sequence=sequence, batch=batch, kind=kind, created_at=now_text(), auditlake_version=version,
        previous=head.sha256 if head else None, note=note or {},
        added=sorted(added, key=lambda entry: entry.path), removed=sorted(removed, key=lambda entry: entry.path),
    )
    if signing_key is not None:
        keep_public_key(root, signing_key)
        digest.signer = signing_key.fingerprint
        digest.public_key = base64.b64encode(raw_public(signing_key.private.public_key())).decode()
        digest.signature = base64.b64encode(signing_key.private.sign(digest.signed_bytes())).decode()
    data = digest.to_bytes()
    digest.name, digest.sha256 = f"{sequence:08d}-{batch}.json", hashlib.sha256(data).hexdigest()
    with storage_errors(root):
        digests_dir(root).mkdir(exist_ok=True)
        write_atomically(digests_dir(root) / digest.name, data)
    return digest


def keys_dir(root: Path) -> Path:
    return digests_dir(root) / "keys"


def key_files(root: Path) -> list[Path]:
    """The public keys kept in the lake, `_digests/keys/<fingerprint>.pub`: whoever checks the lake can read who signed it."""
    return sorted(keys_dir(root).glob("*.pub")) if keys_dir(root).is_dir() else []


def keep_public_key(root: Path, signing_key: SigningKey) -> None:
    """Keep the signer's public key in the lake (once per key); verify checks each against the digests' signers."""
    path = keys_dir(root) / f"{signing_key.fingerprint}.pub"
    if not path.exists():
        with storage_errors(root):
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(path, public_pem(signing_key.private.public_key()))


def read_public_key(path: Path) -> Ed25519PublicKey | None:
    """The key in a public key file; None when it holds none."""
    try:
        return load_public_key(path)
    except LakeError:
        return None


DIGESTS_PER_COMMIT = 2  # a commit writes its digest, preceded by an `adopt` digest in a lake from before digests


def discard_after(root: Path, head: ChainHead | None) -> int:
    """Delete the digests an interrupted commit wrote after `head` (their commit never happened; run by recovery); how many.

    Only when the chain ends with at most the two one commit writes: more digests past the head are not a
    crash's leftovers (a manifest restored from an old backup, digests added by hand), and none is deleted:
    `verify` reports them.
    """
    past = set(names_to_discard([path.name for path in digest_files(root)], head))
    for path in digest_files(root):
        if path.name in past:
            path.unlink()
    return len(past)


def names_to_discard(names: Iterable[str], head: ChainHead | None) -> list[str]:
    """Of the chain's digest file names, those `discard_after` deletes: past `head`, when no more than one commit writes."""
    first = head.sequence if head else 0
    past = [name for name in names if (numbered := DIGEST_NAME.match(name)) and int(numbered.group(1)) > first]
    return past if len(past) <= DIGESTS_PER_COMMIT else []


# ---- reading ----------------------------------------------------------------------------------------
def load_chain(root: Path) -> list[Digest]:
    """The digests in file-name order; raises LakeError for one that cannot be read (`verify` reports them all)."""
    chain, problems = read_chain(root)
    if problems:
        raise LakeError(problems[0], hint="run `auditlake verify` for every problem")
    return chain


def read_chain(root: Path) -> tuple[list[Digest], list[str]]:
    """The digests that can be read, and one line for each that cannot."""
    chain: list[Digest] = []
    problems: list[str] = []
    for path in digest_files(root):
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


def signature_problem(digest: Digest) -> str | None:
    """Why a digest's signature does not hold against the public key it carries (None: it holds, or it says unsigned)."""
    if digest.signer == UNSIGNED:
        return None if digest.signature is None and digest.public_key is None else "says unsigned but carries a signature"
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(digest.public_key or "", validate=True))
        if fingerprint(key) != digest.signer:
            return f"its public key is not the signer it names ({short(digest.signer)})"
        key.verify(base64.b64decode(digest.signature or "", validate=True), digest.signed_bytes())
    except (InvalidSignature, ValueError, TypeError):
        return f"bad signature (signer {short(digest.signer)}): the digest was altered after signing"
    return None


def chain_signers(chain: list[Digest]) -> set[str]:
    """The fingerprints the chain's digests name (`unsigned` among them for unsigned digests)."""
    return {digest.signer for digest in chain}


__all__ = [
    "DIGESTS_DIR", "UNSIGNED", "ChainHead", "Digest", "FileEntry", "SigningKey", "canonical_json", "chain_signers", "digest_files",
    "discard_after", "expected_files", "fingerprint", "generate_key_pair", "load_chain", "load_public_key", "load_signing_key",
    "keep_public_key", "key_files", "read_chain", "read_public_key", "short", "signature_problem", "write_digest",
]
