"""Duplicate removal: the rows of a batch whose event the lake (or the batch itself) already holds.

Owns: the two queries that find duplicates (within the new files only; within them and against the
committed files of the same partitions) and rewriting a staged file without them. An event is the
same event when its (audit_id, stage, received_at) is: a duplicate has the same
requestReceivedTimestamp as the original, so it lies in the same cluster/date partition and time
range, and only those files are read, and only their key columns. Runs before a batch commits, on
staged files only: it never touches a committed file.
"""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from auditlake import duck
from auditlake.store.files import PARQUET_OPTIONS, ROW_GROUP_ROWS, temporary_sibling
from auditlake.store.manifest import LakeStore, Manifest

# The rows of the new files ($fresh) with their key, and which of them repeat an earlier row of the same files.
_FRESH_ROWS = """
fresh AS (
  SELECT audit_id, coalesce(stage, '') AS stage, received_at, filename, file_row_number
  FROM read_parquet($fresh, filename = true, file_row_number = true)
),
repeated AS (
  SELECT filename, file_row_number FROM fresh
  QUALIFY row_number() OVER (PARTITION BY audit_id, stage, received_at ORDER BY filename, file_row_number) > 1
)"""
# A partition with no committed files: only repeats within the batch are duplicates.
DUPLICATES_WITHIN_SQL = f"""
WITH {_FRESH_ROWS}
SELECT filename, list(file_row_number) FROM repeated GROUP BY filename
"""
# A partition with committed files ($existing, read only in the batch's time range [$low, $high]): repeats, and rows already there.
DUPLICATES_SQL = f"""
WITH {_FRESH_ROWS},
known AS (
  SELECT f.filename, f.file_row_number FROM fresh AS f
  SEMI JOIN (
    SELECT audit_id, coalesce(stage, '') AS stage, received_at FROM read_parquet($existing)
    WHERE received_at BETWEEN $low AND $high
  ) AS e ON f.audit_id = e.audit_id AND f.stage = e.stage AND f.received_at = e.received_at
)
SELECT filename, list(file_row_number) FROM (SELECT * FROM repeated UNION SELECT * FROM known) GROUP BY filename
"""


def remove_duplicates(store: LakeStore, manifest: Manifest, files: list[tuple[Path, Path]], memory_limit: str) -> int:
    """Drop rows whose (audit_id, stage) is already in the lake or earlier in this batch; return how many.

    A duplicate has the same requestReceivedTimestamp as the original, so it lies in the same
    cluster/date partition and in the same time range: only those files are read, and only their
    key columns. The first copy wins (files already committed, then this batch in write order).
    `files` are (staged, final) pairs: the staged files are read and rewritten, the final names say the partition.
    """
    if not files:
        return 0
    connection = duck.connect(memory_limit=memory_limit, filesystems=store.filesystems())
    removed = 0
    try:
        by_partition: dict[Path, list[Path]] = {}
        for temporary, final in files:
            by_partition.setdefault(final.parent, []).append(temporary)
        for directory, fresh in by_partition.items():
            prefix = directory.relative_to(store.root).as_posix() + "/"
            existing = [store.location(path) for path in manifest.files if path.startswith(prefix)]
            fresh_names = [str(path) for path in fresh]
            if existing:
                low, high = connection.execute("SELECT min(received_at), max(received_at) FROM read_parquet($f)", {"f": fresh_names}).fetchall()[0]
                rows = connection.execute(DUPLICATES_SQL, {"fresh": fresh_names, "existing": existing, "low": low, "high": high}).fetchall()
            else:
                rows = connection.execute(DUPLICATES_WITHIN_SQL, {"fresh": fresh_names}).fetchall()
            for filename, row_numbers in rows:
                removed += len(row_numbers)
                _drop_rows(Path(filename), set(row_numbers))
    finally:
        connection.close()
    return removed


def _drop_rows(path: Path, row_numbers: set[int]) -> None:
    """Rewrite `path` without the rows at `row_numbers`, row group by row group (each keeps its rows and their order)."""
    source = pq.ParquetFile(path)
    dropped = pa.array(sorted(row_numbers), pa.int64())
    rewritten = temporary_sibling(path)
    with pq.ParquetWriter(rewritten, source.schema_arrow, **PARQUET_OPTIONS) as writer:
        first = 0
        for index in range(source.num_row_groups):
            group = source.read_row_group(index)
            positions = pa.array(range(first, first + group.num_rows), pa.int64())
            writer.write_table(group.filter(pc.invert(pc.is_in(positions, value_set=dropped))), row_group_size=ROW_GROUP_ROWS)
            first += group.num_rows
    os.replace(rewritten, path)

