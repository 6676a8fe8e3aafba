"""The saved-query library: SQL files with strict YAML headers, their binding, macros and the detection runner.

Owns: the `Library` object, which needs no lake, for what only reads the files (`query list/show`,
the detections, what the queries need from the audit policy). Importing it is cheap: DuckDB and
Arrow load only when a query is checked or run.

    library = Library()
    library.saved_query("secret-reads-by-humans").params
    [query.name for query in library.detections()]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from auditlake.errors import QueryError
from auditlake.library.savedquery import (
    DETECTIONS_TOPIC,
    Need,
    Parameter,
    SavedQuery,
    load_library,
    normalise_name,
    query_roots,
    saved_queries,
)
from auditlake.library.suggest import hint

__all__ = ["Library", "Need", "Parameter", "SavedQuery"]


@dataclass(frozen=True)
class Library:
    """The saved queries under `roots` (default: the project's `queries/`, then AUDITLAKE_QUERY_PATH)."""

    roots: tuple[Path, ...] = field(default_factory=lambda: tuple(query_roots()))

    @property
    def queries(self) -> dict[str, SavedQuery]:
        """Every file by name: questions, shared views and macros (cached while no file changes)."""
        return load_library(list(self.roots))

    @property
    def pack_root(self) -> Path:
        """Where the report packs (`*.yaml`) live: `packs/` of the first root."""
        return self.roots[0] / "packs"

    def saved_queries(self) -> list[SavedQuery]:
        """The questions (not views or macros), by topic."""
        return saved_queries(self.queries)

    def saved_query(self, name: str) -> SavedQuery:
        """One saved query (or shared view) by name; `secret_reads` and `secret-reads` are the same."""
        library = self.queries
        key = normalise_name(name)
        if key not in library:
            raise QueryError(f"no saved query named {name!r}", hint=hint(key, library, "list them with `auditlake query list`"))
        return library[key]

    def detections(self) -> list[SavedQuery]:
        """The detections (`queries/detections/`), by name."""
        return [query for query in self.saved_queries() if query.topic == DETECTIONS_TOPIC]

    def needs(self, purpose: str | None = None) -> list[tuple[SavedQuery, Need]]:
        """What the saved queries need from the audit policy (only those evidencing `purpose`, e.g. pci-dss)."""
        chosen = [query for query in self.saved_queries() if purpose is None or any(c.startswith(purpose) for c in query.controls)]
        if purpose is not None and not chosen:
            raise QueryError(f"no saved query evidences {purpose!r}", hint="try pci-dss, hipaa")
        return [(query, need) for query in chosen for need in query.needs]
