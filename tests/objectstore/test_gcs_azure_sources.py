"""`auditlake ingest gs://…` and `az://…`: a GKE sink bucket and an AKS storage container read like a directory.

No GCS or Azure server (nor emulator) runs here, and gcsfs and adlfs are not installed, so each scheme's fsspec
protocol is served by an in-memory filesystem registered under it for the test (undone after). It lists and
opens objects as those packages do, as far as auditlake sees: names `bucket/key`; each version of an object
identified as the provider does (gcsfs passes GCS's object resource on, with its `etag` and `generation`, both
new with every write; adlfs passes the blob's `etag` on); and reads by byte ranges through an fsspec buffered
file whose `details` are the object's info when opened (as GCSFile and AzureBlobFile). What this proves is
auditlake's side of gs:// and az:// end to end (listing, walk order, identity, incremental reads, manifest),
not gcsfs's or adlfs's own requests; the S3 path is the one tested against a real server (test_s3_sources.py).

The objects are the real provider layouts of layouts.py, in the places the providers write them: a log sink's
`cloudaudit.googleapis.com/activity/YYYY/MM/DD/*.json` at the root of its bucket, and the AKS diagnostic
setting's `insights-logs-kube-audit` container with its `resourceId=…/y=…/m=…/d=…/h=…/m=00/PT1H.json` blobs.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import itertools
import json
import os
import shutil
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fsspec
import pytest
from fsspec.implementations.memory import MemoryFileSystem
from fsspec.registry import _registry as fsspec_registry  # fsspec has no public way to unregister a protocol
from fsspec.spec import AbstractBufferedFile
from typer.testing import CliRunner

from auditlake import Lake
from auditlake.cli import app
from auditlake.ingest import IngestResult
from auditlake.ingest.sources import discover_sources
from auditlake.objectstore import etag_of
from tests.objectstore import layouts

ROW = "* EXCLUDE (source_file, batch)"  # every column but where a row was read from, and which run wrote it
GKE_BUCKET = "gke-audit-sink"
GKE_SINK = "cloudaudit.googleapis.com"  # the sink writes under this folder at the root of its bucket
AKS_CONTAINER = "insights-logs-kube-audit"  # the container the diagnostic setting creates in the storage account
GKE_HELD_BACK = f"{layouts.GKE_PREFIX}/11:00:00_11:59:59_S0.json"  # the sink's next hour, for the new-object test
AKS_KEYS = layouts.AKS_PREFIX.removeprefix(AKS_CONTAINER + "/")  # a day's blobs inside the container: resourceId=…/y=…/m=…/d=…
VERSIONS = itertools.count(1_762_164_000_000_000)  # one per write: GCS generations are microsecond times


class ObjectReader(AbstractBufferedFile):
    """An object read by byte ranges, as gcsfs's GCSFile and adlfs's AzureBlobFile read one (`details`: its info when opened)."""

    def _fetch_range(self, start: int, end: int) -> bytes:
        return self.fs.cat_file(self.path, start, end)


class ProviderMemoryFileSystem(MemoryFileSystem):
    """Objects in memory, listed and opened as the provider's fsspec package does: `bucket/key` names and a version identity.

    Each subclass made by `open_provider` has a store of its own, shared by its instances (auditlake makes a fresh
    instance per run, as it does of gcsfs or adlfs). Every write is a new version of the object.
    """

    root_marker = ""
    versions: dict[str, int]

    @classmethod
    def _strip_protocol(cls, path: Any) -> str:
        path = str(path)
        for protocol in cls.protocol:
            path = path.removeprefix(f"{protocol}://")
        return path.strip("/")

    def identity(self, version: int) -> dict[str, str]:
        raise NotImplementedError

    def _described(self, info: dict[str, Any]) -> dict[str, Any]:
        if info.get("type") != "file":
            return info
        return {**info, **self.identity(self.versions[info["name"]])}

    def find(self, path: str, maxdepth: int | None = None, withdirs: bool = False, detail: bool = False, **kwargs: Any) -> Any:
        found = super().find(path, maxdepth=maxdepth, withdirs=withdirs, detail=detail, **kwargs)
        return {name: self._described(info) for name, info in found.items()} if detail else found

    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> Any:
        listed = super().ls(path, detail=detail, **kwargs)
        return [self._described(info) for info in listed] if detail else listed

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        return self._described(super().info(path, **kwargs))

    def _open(self, path: str, mode: str = "rb", block_size: Any = None, autocommit: bool = True, cache_options: Any = None,
              **kwargs: Any) -> Any:
        path = self._strip_protocol(path)
        if mode == "rb":
            if path not in self.store:
                raise FileNotFoundError(path)
            return ObjectReader(self, path, mode, block_size=block_size or "default", cache_type=kwargs.get("cache_type", "readahead"),
                                cache_options=cache_options)
        opened = super()._open(path, mode, block_size, autocommit, cache_options, **kwargs)
        self.versions[path] = next(VERSIONS)
        return opened


class GCSMemoryFileSystem(ProviderMemoryFileSystem):
    """gs:// as gcsfs lists it: the GCS object resource's `generation` and `etag` (which changes with it), besides name and size."""

    protocol = ("gcs", "gs")

    def identity(self, version: int) -> dict[str, str]:
        return {"generation": str(version), "metageneration": "1",
                "etag": base64.b64encode(version.to_bytes(8, "big") + b"\x01").decode()}


class AzureMemoryFileSystem(ProviderMemoryFileSystem):
    """az:// as adlfs lists it: the blob's `etag` (quoted, as Azure sends it) among its properties."""

    protocol = ("az", "abfs")

    def identity(self, version: int) -> dict[str, str]:
        return {"etag": f'"0x8DE{version:013X}"'}


@dataclass
class Provider:
    """One provider's store in memory, its bucket (or container) and where the same objects are on disk."""

    scheme: str
    bucket: str
    fs: ProviderMemoryFileSystem
    local: Path  # the directory whose files are the bucket's objects, key for path

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.bucket}/"

    def key_url(self, key: str) -> str:
        return f"{self.url}{key}"

    def put(self, key: str, data: bytes) -> None:
        self.fs.pipe_file(f"{self.bucket}/{key}", data)

    def put_tree(self, *, leave_out: tuple[str, ...] = ()) -> None:
        for path in sorted(path for path in self.local.rglob("*") if path.is_file()):
            key = path.relative_to(self.local).as_posix()
            if key not in leave_out:
                self.put(key, path.read_bytes())

    def head(self, key: str) -> dict[str, Any]:
        return self.fs.info(f"{self.bucket}/{key}")


@contextlib.contextmanager
def served(filesystem: type[ProviderMemoryFileSystem], package: str) -> Iterator[None]:
    """`filesystem` registered under its protocols, and a stand-in module for the provider's package (auditlake imports it
    first, to name the extra to install when it is missing); both undone after."""
    saved = {protocol: fsspec_registry.get(protocol) for protocol in filesystem.protocol}
    absent = object()
    module = sys.modules.get(package, absent)
    sys.modules[package] = types.ModuleType(package)
    for protocol in filesystem.protocol:
        fsspec.register_implementation(protocol, filesystem, clobber=True)
    try:
        yield
    finally:
        for protocol, previous in saved.items():
            if previous is None:
                fsspec_registry.pop(protocol, None)
            else:
                fsspec.register_implementation(protocol, previous, clobber=True)
        if module is absent:
            sys.modules.pop(package, None)
        else:
            sys.modules[package] = module  # type: ignore[assignment]


CLUSTERS = {"gs": "sample-cluster", "az": "aks-prod-eu"}  # the clusters the GKE entries and the AKS resourceId name
PROVIDERS = {"gs": (GCSMemoryFileSystem, "gcsfs", GKE_BUCKET), "az": (AzureMemoryFileSystem, "adlfs", AKS_CONTAINER)}


def open_provider(stack: contextlib.ExitStack, scheme: str, local: Path,
                  filesystem: type[ProviderMemoryFileSystem] | None = None) -> Provider:
    """An empty GKE sink bucket (gs://, gcsfs's protocol) or AKS container (az://, adlfs's), served until `stack` closes.

    The filesystem is a subclass with an empty store of its own (MemoryFileSystem's is one for the whole process).
    """
    base, package, bucket = PROVIDERS[scheme]
    served_as = type((filesystem or base).__name__, (filesystem or base,), {"store": {}, "pseudo_dirs": [""], "versions": {}})
    stack.enter_context(served(served_as, package))
    return Provider(scheme, bucket, served_as(), local)


@pytest.fixture(scope="module")
def on_disk(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Per scheme, the directory whose files are the bucket's (or container's) objects, key for path."""
    root = tmp_path_factory.mktemp("provider-tree")
    layouts.write_provider_tree(root / "tree")
    shutil.copytree(root / "tree" / GKE_SINK, root / GKE_BUCKET / GKE_SINK)  # the sink's folder at the root of its bucket
    return {"gs": root / GKE_BUCKET, "az": root / "tree" / AKS_CONTAINER}


@contextlib.contextmanager
def clean_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """For a module's fixtures, what conftest's autouse `clean_environment` does for a test (which they run before)."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        for name in list(os.environ):
            if name.startswith("AUDITLAKE_") and name != "AUDITLAKE_SHARED_DATA":
                monkeypatch.delenv(name)
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "cache"))
        yield


@dataclass
class Expected:
    """What a lake of one provider's objects must hold: the rows, and the (audit_id, stage) pairs, of its cluster."""

    rows: list[tuple]
    requests: list[tuple]


@pytest.fixture(scope="module")
def reference(on_disk: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Expected]:
    """Per cluster, what the same files give ingested from their directories (GKE's is sample-cluster, AKS's aks-prod-eu)."""
    lake = Lake(tmp_path_factory.mktemp("local") / "lake")
    with clean_environment(tmp_path_factory):
        lake.ingest([on_disk["gs"], on_disk["az"]])
        clusters = [cluster for (cluster,) in lake.sql("SELECT DISTINCT cluster FROM events ORDER BY 1").rows()]
        return {cluster: Expected(rows(lake, cluster), requests(lake, cluster)) for cluster in clusters}


@pytest.fixture
def open_store(on_disk: dict[str, Path]) -> Iterator[Any]:
    """`open_store(scheme)`, `open_store(scheme, filesystem)`: an empty bucket or container, served until the test ends."""
    with contextlib.ExitStack() as stack:
        yield lambda scheme, filesystem=None: open_provider(stack, scheme, on_disk[scheme], filesystem)


@dataclass
class Ingested:
    """A provider's objects ingested into a lake of their own, then ingested again."""

    store: Provider
    lake: Lake
    first: IngestResult
    again: IngestResult


@pytest.fixture(scope="module", params=["gs", "az"])
def ingested(request: pytest.FixtureRequest, on_disk: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Ingested:
    """The GKE sink bucket (gs://) or the AKS container (az://) ingested, then again (built once: each run takes a second)."""
    with contextlib.ExitStack() as stack:
        stack.enter_context(clean_environment(tmp_path_factory))
        store = open_provider(stack, request.param, on_disk[request.param])
        store.put_tree()
        lake = Lake(tmp_path_factory.mktemp(f"from-{request.param}") / "lake")
        first = lake.ingest([store.url])
        return Ingested(store, lake, first, again=lake.ingest([store.url]))


def rows(lake: Lake, cluster: str) -> list[tuple]:
    return lake.sql(f"SELECT {ROW} FROM events WHERE cluster = $cluster ORDER BY ALL", {"cluster": cluster}).rows()


def requests(lake: Lake, cluster: str) -> list[tuple]:
    """The sorted (audit_id, stage) pairs: which stages of which requests the lake holds."""
    return lake.sql("SELECT DISTINCT audit_id, stage FROM events WHERE cluster = $cluster ORDER BY ALL", {"cluster": cluster}).rows()


def count(lake: Lake) -> int:
    return lake.sql("SELECT count(*) FROM events").item()


def object_urls(store: Provider) -> set[str]:
    """The URL of each object the bucket holds, from the files on disk."""
    return {store.key_url(path.relative_to(store.local).as_posix()) for path in store.local.rglob("*") if path.is_file()}


def test_a_store_gives_exactly_the_rows_of_the_same_files_on_disk(ingested, on_disk, reference):
    store, lake, result = ingested.store, ingested.lake, ingested.first
    cluster = CLUSTERS[store.scheme]
    assert result.clusters == [cluster]
    assert result.events_written == count(lake) == len(reference[cluster].rows) > 0
    assert result.quarantined == 0 and result.skipped == [] and result.sources_read == len(discover_sources([str(store.local)])[0])
    assert rows(lake, cluster) == reference[cluster].rows
    assert requests(lake, cluster) == reference[cluster].requests
    lineage = lake.sql("SELECT DISTINCT source_file FROM events ORDER BY 1").rows()
    assert lineage and all(name.startswith(store.url) for (name,) in lineage)


def test_a_rerun_reads_no_byte_of_an_object_it_has_read(ingested):
    first, again = ingested.first, ingested.again
    assert first.bytes_read > 0 and first.sources_read > 0
    assert (again.bytes_read, again.sources_read, again.events_written, again.sources_unchanged) == (0, 0, 0, first.sources_read)


def test_the_manifest_names_each_object_by_url_with_its_size_version_and_hash(ingested):
    store, lake = ingested.store, ingested.lake
    manifest = json.loads(lake.store.manifest_path.read_text())
    read = {source["name"]: source for batch in manifest["batches"] for source in batch["sources"]}
    seen = {url: (size, etag) for record in manifest["sources"].values() for url, size, etag in record["seen_as_objects"]}
    assert set(read) == set(seen) == object_urls(store)  # every object read to its end, recorded under its URL
    for url in read:
        head = store.head(url.removeprefix(store.url))
        version = head["etag"]  # GCS: the object resource's etag, new with each generation; Azure: the blob's ETag
        assert version and seen[url] == (head["size"], version) and read[url]["etag"] == version
    for url, source in read.items():  # read from its first byte: its hash vouches for the object; continued: no hash
        data = (store.local / url.removeprefix(store.url)).read_bytes()
        assert source["sha256"] == (hashlib.sha256(data).hexdigest() if source["from_offset"] == 0 else None)
    assert any(source["sha256"] for source in read.values())
    for record in manifest["sources"].values():  # a source as the object it was last read from
        url = record["names"][-1]
        head = store.head(url.removeprefix(store.url))
        assert (record["size"], record["offset"], record["etag"], record["sha256"]) == (head["size"], head["size"], head["etag"],
                                                                                          read[url]["sha256"])


@pytest.mark.parametrize("scheme", ["gs", "az"])
def test_objects_come_in_the_order_of_the_directory_walk(open_store, scheme):
    store = open_store(scheme)
    store.put_tree()
    local, _ = discover_sources([str(store.local)])
    remote, _ = discover_sources([store.url])
    assert [Path(source.name).relative_to(store.local).as_posix() for source in local] == [
        source.name.removeprefix(store.url) for source in remote]
    first = remote[0].stored
    assert first is not None and first.etag == etag_of(store.head(first.key)) and first.size == store.head(first.key)["size"]


def test_an_hour_later_the_grown_blob_and_the_new_blob_add_only_their_new_lines(open_store, tmp_path):
    """Azure appends to an hour's PT1H.json until the hour ends (the blob keeps its beginning; its size and ETag change),
    then begins the next hour's blob. The next run reads the grown blob from where it stopped, and the new one whole."""
    store = open_store("az")
    store.put_tree()
    lake = Lake(tmp_path / "lake")
    first = lake.ingest([store.url])
    grown_key = layouts.AKS_GROWN_KEY.removeprefix(AKS_CONTAINER + "/")
    before = store.head(grown_key)
    grown = layouts.aks_grown_blob()
    store.put(grown_key, grown)
    assert store.head(grown_key)["etag"] != before["etag"]
    new = layouts.events("immudb_endpointslice_updates.log")  # real events, not in the lake yet
    new_key, new_blob = f"{AKS_KEYS}/h=12/m=00/PT1H.json", layouts.aks_lines(new)
    store.put(new_key, new_blob)

    result = lake.ingest([store.url])
    assert (result.sources_read, result.sources_unchanged, result.duplicates) == (2, first.sources_read - 1, 0)
    assert result.lines == result.events_written == layouts.AKS_APPENDED + len(new)
    assert count(lake) == first.events_written + layouts.AKS_APPENDED + len(new)
    manifest = json.loads(lake.store.manifest_path.read_text())
    this_run = {source["name"]: source for batch in manifest["batches"] if batch["id"] in result.batches for source in batch["sources"]}
    assert set(this_run) == {store.key_url(grown_key), store.key_url(new_key)}
    read_grown, read_new = this_run[store.key_url(grown_key)], this_run[store.key_url(new_key)]
    assert (read_grown["from_offset"], read_grown["to_offset"], read_grown["events"]) == (before["size"], len(grown), layouts.AKS_APPENDED)
    assert read_grown["sha256"] is None  # read from where it continued: no hash of the whole blob to vouch for
    assert (read_new["from_offset"], read_new["to_offset"], read_new["events"]) == (0, len(new_blob), len(new))
    assert read_new["sha256"] == hashlib.sha256(new_blob).hexdigest()
    for key in (grown_key, new_key):
        record = next(record for record in lake.store.load_manifest().sources.values() if record.names[-1] == store.key_url(key))
        assert (record.etag, record.size, record.offset) == (store.head(key)["etag"], store.head(key)["size"], store.head(key)["size"])


def test_the_next_sink_file_adds_only_the_entries_not_read_yet(open_store, reference, tmp_path):
    """GKE's sink writes each hour to a new file. KHI's real sequence opens with the entry of the hour before: the new
    file continues that source, and adds only the entries after it."""
    store = open_store("gs")
    store.put_tree(leave_out=(GKE_HELD_BACK,))
    lake = Lake(tmp_path / "lake")
    first = lake.ingest([store.url])
    store.put(GKE_HELD_BACK, (store.local / GKE_HELD_BACK).read_bytes())
    result = lake.ingest([store.url])
    assert (result.sources_read, result.sources_unchanged, result.duplicates) == (1, first.sources_read, 0)
    expected = reference[CLUSTERS["gs"]].rows
    assert result.lines == result.events_written == len(expected) - first.events_written > 0
    assert rows(lake, CLUSTERS["gs"]) == expected


def test_the_cli_reads_a_bucket_and_a_container(open_store, reference, tmp_path):
    urls = []
    for scheme in ("gs", "az"):
        store = open_store(scheme)
        store.put_tree()
        urls.append(store.url)
    done = CliRunner().invoke(app, ["ingest", *urls, "--lake", str(tmp_path / "lake"), "--json"])
    assert done.exit_code == 0, done.output
    summary = json.loads(done.stdout)
    assert summary["clusters"] == sorted(reference) == ["aks-prod-eu", "sample-cluster"]
    assert summary["events_written"] == sum(len(expected.rows) for expected in reference.values())
    assert summary["sources_read"] > 0 and summary["quarantined"] == 0
    lake = Lake(tmp_path / "lake")
    assert all(rows(lake, cluster) == expected.rows for cluster, expected in reference.items())
