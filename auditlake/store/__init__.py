"""The store: the only writer under LAKE/, and the catalog readers open.

Modules, each below the ones that use it:
`files` (paths and layout, the write lock, atomic writes, staging/publish/retire, storage errors),
`manifest` (the records and `LakeStore`: the one commit point, recovery, what readers read),
`dedupe` and `writer` (an ingest run's batches), `compact`, `findings` (findings and reviews),
`catalog` (`LAKE/catalog.duckdb`: views and the query library as macros). The package re-exports what
the façade uses (`compact` is imported from its module: the name would shadow the module).

    store = LakeStore(Path("lake"))
    manifest = store.load_manifest()
    connection = catalog.connect(store, library_items)

Never imports the façade, the CLI, the library, reports or render: the query library arrives as
plain data (`catalog.LibraryItem`). ingest/ never imports the store.
"""

from auditlake.store import catalog
from auditlake.store.bucket import open_store
from auditlake.store.compact import CompactResult
from auditlake.store.files import validate_cluster
from auditlake.store.findings import unseen_findings, write_findings, write_review
from auditlake.store.manifest import LakeStore, Manifest, SourceProgress
from auditlake.store.writer import BatchWriter, CommitResult

__all__ = [
    "BatchWriter", "CommitResult", "CompactResult", "LakeStore", "Manifest", "SourceProgress", "catalog",
    "open_store", "unseen_findings", "validate_cluster", "write_findings", "write_review",
]
