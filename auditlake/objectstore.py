"""Object storage (`s3://`, `gs://`, `az://`) through fsspec: listing a prefix like a directory, and opening an object.

Owns: which URLs name object storage and which package reads each scheme (imported only when such a
URL is used: a missing one is a `MissingDependencyError` naming the extra to install); the filesystem
for a scheme, with the S3 endpoint override (`--endpoint`, else `AWS_ENDPOINT_URL_S3` or
`AWS_ENDPOINT_URL`, as the AWS CLI and SDKs read them); listing every object under a prefix with its
identity (size and ETag, or generation), in the order a directory walk gives files; opening an object
pinned to the identity it had when opened; and turning the store's failures (no such bucket, access
denied, no credentials, endpoint unreachable) into one-line `InputError`s.

Credentials come only from each provider's standard chain (environment, profile, instance role),
which the SDK reads: this module never reads, keeps, logs or passes on a key. Never writes.
"""

from __future__ import annotations

import contextlib
import importlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from auditlake.errors import CREDENTIALS_HINT, STORE_RERUN_HINT, InputError, MissingDependencyError, ObjectStoreError

# The SDK's own retries, with backoff, for what is safe to retry (reads and listings): throttling, 5xx, dropped
# connections, timeouts. Bounded timeouts, so an unreachable store is an error in seconds, not a hang.
S3_RETRIES: dict[str, Any] = {"max_attempts": 5, "mode": "standard"}  # 5 retries after the first try, unless the user set theirs
S3_CLIENT_CONFIG: dict[str, Any] = {"retries": S3_RETRIES, "connect_timeout": 5, "read_timeout": 60}
OBJECT_BLOCK_BYTES = 4 * 1024 * 1024  # read-ahead of an open object: a resume point is checked without fetching much more


def s3_client_config() -> dict[str, Any]:
    """`S3_CLIENT_CONFIG`, with the retries the user set the AWS way winning over ours: `AWS_MAX_ATTEMPTS` and
    `AWS_RETRY_MODE`, or `max_attempts` and `retry_mode` in the profile of the AWS config file (a cron job that
    would rather fail at once, a flaky link that wants more). botocore reads those only when a client does not say.
    As in every AWS SDK, the user's number counts the first try too (botocore's `total_max_attempts`)."""
    botocore = importlib.import_module("botocore.session")
    try:
        profile = botocore.get_session().get_scoped_config()
    except importlib.import_module("botocore.exceptions").ProfileNotFound:
        profile = {}  # the client says so when it is made, as for any other setting
    mode = str(os.environ.get("AWS_RETRY_MODE") or profile.get("retry_mode") or S3_RETRIES["mode"])
    attempts = os.environ.get("AWS_MAX_ATTEMPTS") or profile.get("max_attempts")
    if not attempts:
        return {**S3_CLIENT_CONFIG, "retries": {**S3_RETRIES, "mode": mode}}
    if not str(attempts).strip().isdigit() or int(attempts) < 1:
        raise InputError(f"AWS_MAX_ATTEMPTS / max_attempts must be a whole number of attempts, at least 1, not {attempts!r}")
    return {**S3_CLIENT_CONFIG, "retries": {"total_max_attempts": int(attempts), "mode": mode}}


@dataclass(frozen=True)
class Scheme:
    """How one URL scheme is read: the fsspec protocol, the package that provides it and the auditlake extra that installs it."""

    protocol: str
    package: str
    extra: str


SCHEMES = {
    "s3": Scheme("s3", "s3fs", "s3"),
    "gs": Scheme("gcs", "gcsfs", "gcs"),
    "gcs": Scheme("gcs", "gcsfs", "gcs"),
    "az": Scheme("az", "adlfs", "azure"),
    "abfs": Scheme("abfs", "adlfs", "azure"),
}


def is_object_url(text: str) -> bool:
    """Whether an input names object storage rather than a local path.

    >>> is_object_url("s3://org-audit/eks/"), is_object_url("./audit.log"), is_object_url("s3:/typo")
    (True, False, False)
    """
    scheme, separator, _ = text.partition("://")
    return bool(separator) and scheme.lower() in SCHEMES


def split_url(url: str) -> tuple[str, str]:
    """(scheme, bucket/key) of an object-store URL.

    >>> split_url("s3://org-audit/eks/prod-eu/")
    ('s3', 'org-audit/eks/prod-eu/')
    """
    scheme, _, rest = url.partition("://")
    return scheme.lower(), rest


def s3_endpoint(endpoint: str | None = None) -> str | None:
    """The S3 endpoint to use: the one given, else `AWS_ENDPOINT_URL_S3`, else `AWS_ENDPOINT_URL`, else AWS itself (None)."""
    return endpoint or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or None


@dataclass(frozen=True)
class StoredObject:
    """One object as a listing found it: its URL (`s3://bucket/key`), size and ETag (GCS: generation)."""

    url: str
    size: int
    etag: str | None
    store: ObjectStore = field(compare=False, repr=False)

    @property
    def key(self) -> str:
        """The object's path inside its bucket."""
        return split_url(self.url)[1].partition("/")[2]


@dataclass
class OpenedObject:
    """An object open for reading, and the identity of the bytes it reads (which may differ from the listing's)."""

    file: BinaryIO
    size: int
    etag: str | None


class ObjectStore:
    """The fsspec filesystem of one scheme (and endpoint), made fresh: no listing is remembered between runs.

    `immutable`: for objects that never change once written (a lake's committed files: each has a name of
    its own), whose details are then asked once per process instead of at every open (DuckDB opens a file
    several times per query).

    Raises MissingDependencyError when the scheme's package is not installed.
    """

    def __init__(self, scheme: str, *, endpoint: str | None = None, immutable: bool = False):
        self.scheme = scheme
        self.spec = SCHEMES[scheme]
        try:
            importlib.import_module(self.spec.package)
            import fsspec
        except ImportError:
            raise MissingDependencyError(f"reading {scheme}:// needs {self.spec.package}, which is not installed",
                                         hint=f"pip install 'auditlake[{self.spec.extra}]'") from None
        options: dict[str, Any] = {"skip_instance_cache": True, "use_listings_cache": False}
        if self.spec.protocol == "s3":
            options["config_kwargs"] = s3_client_config()
            self.endpoint = s3_endpoint(endpoint)
            if self.endpoint:
                options["endpoint_url"] = self.endpoint
        else:
            self.endpoint = None
        if immutable and self.spec.protocol == "s3":
            self.fs = _immutable_s3(**options)
        else:
            self.fs = fsspec.filesystem(self.spec.protocol, **options)

    def list(self, url: str) -> list[StoredObject]:
        """Every object under `url` (a prefix, read recursively like a directory, or one object), in walk order.

        Keys sort by their `/`-separated segments, as a local walk sorts paths, so rotated and timestamped
        names (`audit-2026-11-01T10-00-00.000.log` before `audit.log`, Firehose's dated keys) come oldest
        first. Folder markers (keys ending in `/`) are left out. A prefix with no object under it is an error.
        """
        _, path = split_url(url)
        if not path.partition("/")[0]:
            raise InputError(f"{url}: no bucket named", hint=f"write {self.scheme}://BUCKET/PREFIX/")
        with self.errors(url):
            found = self.fs.find(path, detail=True)
        objects = [StoredObject(f"{self.scheme}://{name}", int(info.get("size") or 0), etag_of(info), self)
                   for name, info in found.items() if info.get("type", "file") == "file" and not name.endswith("/")]
        if not objects:
            raise InputError(f"{url}: no object under this prefix", hint="check the bucket and prefix (keys are case-sensitive)")
        return sorted(objects, key=lambda item: split_url(item.url)[1].split("/"))

    def open(self, item: StoredObject) -> OpenedObject:
        """Open an object to read it front to back (it can seek). S3 reads are pinned to the ETag it has now (If-Match).

        Raises InputError when it cannot be opened (gone since it was listed, access denied).
        """
        _, path = split_url(item.url)
        with self.errors(item.url):
            file = self.fs.open(path, "rb", block_size=OBJECT_BLOCK_BYTES, cache_type="readahead")
        details = getattr(file, "details", None) or {}
        return OpenedObject(file, int(getattr(file, "size", None) or item.size), etag_of(details) or item.etag)

    @contextlib.contextmanager
    def errors(self, url: str) -> Iterator[None]:
        """The store's failures as one-line InputErrors naming the URL (never a credential: the SDK's messages hold none)."""
        failures: tuple[type[BaseException], ...] = (OSError,)
        botocore_errors: Any = None
        if self.spec.protocol == "s3":
            botocore_errors = importlib.import_module("botocore.exceptions")  # s3fs's SDK: present whenever s3fs is
            failures = (OSError, botocore_errors.BotoCoreError, botocore_errors.ClientError, *_aiohttp_errors())
        try:
            yield
        except failures as error:
            if isinstance(error, FileNotFoundError):
                raise InputError(f"{url}: not found ({_said(error)})", hint="check the bucket and key") from None
            if isinstance(error, PermissionError):
                raise InputError(f"{url}: access denied ({_said(error)})",
                                 hint=CREDENTIALS_HINT) from None
            if botocore_errors is not None and isinstance(error, botocore_errors.NoCredentialsError):
                raise InputError(f"{url}: no credentials found",
                                 hint="set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or run where a role applies") from None
            raise ObjectStoreError(f"{url}: the store at {self.endpoint or self.scheme} failed ({_said(error)})",
                                   hint=STORE_RERUN_HINT) from None

    def read(self, item: StoredObject, file: BinaryIO, size: int) -> bytes:
        """Up to `size` bytes of an open object; the store's failures (after the SDK's retries) as `ObjectStoreError`s."""
        with self.errors(item.url):
            return file.read(size)


def _immutable_s3(**options: Any) -> Any:
    """An s3fs filesystem that remembers each object's details (size, ETag) once it has asked for them."""
    s3fs = importlib.import_module("s3fs")

    class ImmutableObjects(s3fs.S3FileSystem):  # type: ignore[name-defined]
        def __init__(self, **kwargs: Any):
            super().__init__(**kwargs)
            self._details: dict[str, Any] = {}

        async def _info(self, path: str, *args: Any, **kwargs: Any) -> Any:
            key = self._strip_protocol(path)
            if key not in self._details:
                self._details[key] = await super()._info(path, *args, **kwargs)
            return self._details[key]

    return ImmutableObjects(**options)


def _aiohttp_errors() -> tuple[type[BaseException], ...]:
    """The HTTP client's own failures (a dropped connection mid-read reaches us as one), when it is installed."""
    try:
        aiohttp = importlib.import_module("aiohttp")
    except ImportError:
        return ()
    return (aiohttp.ClientError,)


def etag_of(info: dict[str, Any]) -> str | None:
    """What identifies one version of an object in a listing or a HEAD: the S3/Azure ETag, else the GCS generation.

    >>> etag_of({"ETag": '"9b2cf535f27731c974343645a3985328"'}), etag_of({"generation": 17}), etag_of({})
    ('"9b2cf535f27731c974343645a3985328"', '17', None)
    """
    for name in ("ETag", "etag", "generation"):
        if info.get(name) not in (None, ""):
            return str(info[name])
    return None


def _said(error: BaseException) -> str:
    """An exception's own words, on one line."""
    text = (error.strerror if isinstance(error, OSError) and error.strerror else None) or str(error) or type(error).__name__
    return " ".join(text.split())
