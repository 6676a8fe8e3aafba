"""One scan of the window for a detection run: the shared views several detections read, materialised once.

Owns: which shared views a run materialises (`SHARED_VIEWS`), when (two or more of the chosen detections
read one), and for which detections (those that read only their window). Inside one connection a temporary
table shadows the catalog's view of the same name (DuckDB resolves temporary objects first, in the
detections' SQL and in the macros they call), holding only the view's rows of the run's window and cluster:
each detection then filters a few thousand rows in memory instead of decoding the lake's Parquet again.
A shared table macro of the window (`SHARED_MACROS`: `cluster_providers`, which reads every event's JSON) is
answered once per run the same way, from a temporary table behind a temporary macro of the same name; it
is shared only when every call of it in the chosen rules is `macro($since, $until)`, the run's window.
Detections over history (`stateful:`) read before the window; they run against the lake itself. That the
findings are the same either way is a test (tests/test_detections.py runs every detection both ways).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

    from auditlake.library.savedquery import SavedQuery

# view → the names through which a detection reads it (the view itself, or a table macro over it). Each is small
# next to `events` (requests with a pod spec; Role and ClusterRole creations; exec and attach) and costly to derive
# (JSON bodies, a scan of every pod request).
SHARED_VIEWS = {
    "workload_specs": ("workload_specs", "reported_workload_specs"),
    "role_creations": ("role_creations",),
    "exec_requests": ("exec_requests",),
}


# table macro of (since, until) → materialised once for the run's window when one of the rules calls it that way.
SHARED_MACROS = ("cluster_providers",)


def reads_only_its_window(rule: SavedQuery) -> bool:
    """A detection over history reads a baseline before its window; every other one reads its window only."""
    return not getattr(rule, "stateful", "")


def readers(rules: Sequence[SavedQuery], names: Sequence[str]) -> list[SavedQuery]:
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, names)) + r")\b")
    return [rule for rule in rules if pattern.search(rule.statement)]


@contextmanager
def shared_window(connection: duckdb.DuckDBPyConnection, rules: Sequence[SavedQuery], *, since: datetime, until: datetime,
                  cluster: str | None) -> Iterator[tuple[str, ...]]:
    """Within the block, each shared view that two or more of `rules` read holds only the run's window; names them."""
    database = connection.execute("SELECT current_database()").fetchall()[0][0]
    made: list[str] = []
    drops: list[str] = []  # what was created, undone in reverse order even if a later step fails
    try:
        for view, names in SHARED_VIEWS.items():
            if len(readers(rules, names)) >= 2:
                connection.execute(f'CREATE TEMP TABLE {view} AS SELECT * FROM "{database}".main.{view} '
                                   "WHERE in_window(received_at, date, $since, $until) AND ($cluster IS NULL OR cluster = $cluster)",
                                   {"since": since, "until": until, "cluster": cluster})
                drops.append(f"DROP TABLE IF EXISTS temp.main.{view}")
                made.append(view)
        for macro in SHARED_MACROS:
            if _shareable(macro, rules):
                connection.execute(f'CREATE TEMP TABLE {macro}_of_run AS SELECT * FROM "{database}".main.{macro}($since, $until)',
                                   {"since": since, "until": until})
                drops.append(f"DROP TABLE IF EXISTS temp.main.{macro}_of_run")
                # The macro answers the run's window whatever it is given: `_shareable` shared it only when every call passes it.
                connection.execute(f"CREATE TEMP MACRO {macro}(lo, hi) AS TABLE SELECT * FROM temp.main.{macro}_of_run")
                drops.append(f"DROP MACRO TABLE IF EXISTS temp.main.{macro}")
                made.append(macro)
        yield tuple(made)
    finally:
        for drop in reversed(drops):
            connection.execute(drop)


def _shareable(macro: str, rules: Sequence[SavedQuery]) -> bool:
    """Some rule calls `macro`, and every call is over the run's window (`macro($since, $until)`)."""
    calls = [call for rule in readers(rules, (macro,)) for call in re.findall(rf"\b{macro}\s*\(([^)]*)\)", rule.statement)]
    return bool(calls) and all(re.fullmatch(r"\s*\$since\s*,\s*\$until\s*", call) for call in calls)
