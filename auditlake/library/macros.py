"""Saved queries as DuckDB table macros, so the plain DuckDB shell can call them too.

Owns: `macro_sql` (the `CREATE MACRO` text for one saved query: its parameters become `p_NAME`
arguments with the header's defaults as SQL) and `catalog_items`, the whole library as the statements a
catalog installs. Runs nothing; the catalog (store/catalog.py) executes what this returns.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
from dataclasses import dataclass
from pathlib import Path

from auditlake import config, window
from auditlake.library.savedquery import (
    PARAM_TYPES,
    PARAMETER,
    Parameter,
    SavedQuery,
    library_stamp,
    load_library,
    query_roots,
    saved_queries,
    sub_in_code,
)

CACHE_KEEP = 8  # library states kept in the user cache (other query paths, other settings)


@dataclass(frozen=True)
class CatalogItem:
    """One file of the query library as a catalog installs it.

    `kind` says what `sql` is: `macro`, a `CREATE MACRO` statement; `view`, the SELECT of a shared view
    named `identifier`; `query`, the `CREATE MACRO … AS TABLE` statement of a saved query.
    """

    name: str  # the library's name for it (errors name it)
    identifier: str  # the name it has in the catalog
    kind: str
    sql: str
    path: Path
    title: str = ""


def catalog_items(roots: list[Path] | None = None) -> list[CatalogItem]:
    """The library as a catalog installs it: macros and views, then every saved query as a table macro.

    Every command that opens a lake needs it (the catalog's digest covers it), and building it parses ~130 headers,
    so it is kept in the user cache under a key of everything it is made from: each library file's path, mtime and
    size, the settings that parameter defaults read, and this version. A cache that cannot be read or written is
    only slower.
    """
    roots = roots if roots is not None else query_roots()
    stamp = repr((library_stamp(roots), sorted((name, config.setting(name)) for name in config.SETTINGS), config.version()))
    cached = config.cache_dir() / "library" / f"{hashlib.sha256(stamp.encode()).hexdigest()[:32]}.pickle"
    with contextlib.suppress(OSError, pickle.UnpicklingError, EOFError, AttributeError, TypeError, ValueError):
        return list(pickle.loads(cached.read_bytes()))  # noqa: S301 (our own file in the user's own cache directory)
    library = load_library(roots)
    items = ([CatalogItem(query.name, query.macro_name, query.kind, query.sql, query.path, query.title)
              for query in library.values() if query.kind != "query"]
             + [CatalogItem(query.name, query.macro_name, query.kind, macro_sql(query), query.path, query.title)
                for query in saved_queries(library)])
    temporary = cached.with_name(f"{cached.stem}.{os.getpid()}.tmp")
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_bytes(pickle.dumps(items))
        temporary.replace(cached)
        for stale in sorted(cached.parent.glob("*.pickle"), key=lambda path: path.stat().st_mtime)[:-CACHE_KEEP]:
            stale.unlink(missing_ok=True)
    except OSError:  # a full disk, a read-only home: answer without the cache, and leave nothing half-written
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
    return items


def macro_sql(query: SavedQuery) -> str:
    """`CREATE MACRO name(p_since := …, …) AS TABLE …`: the query, callable from the DuckDB shell.

    Inside a macro a parameter shadows a column of the same name, so `$namespace` becomes
    `p_namespace`: `FROM secret_reads_by_humans(p_since := '2026-11-01', p_namespace := 'payments')`.
    """
    signature = ", ".join(f"p_{parameter.name} := {_default_sql(parameter)}" for parameter in query.params)
    types = {parameter.name: PARAM_TYPES[parameter.type] for parameter in query.params}
    return f"CREATE OR REPLACE MACRO {query.macro_name}({signature}) AS TABLE {_rename_parameters(query.statement, types)}"


def _default_sql(parameter: Parameter) -> str:
    default = parameter.current_default()  # a setting as the catalog is built: the shell passes p_NAME to differ
    sql_type = PARAM_TYPES[parameter.type]
    if default is None:
        return f"CAST(NULL AS {sql_type})"
    if parameter.type == "timestamptz":
        text = str(default).strip().lower()
        ago = window.relative(text)
        if text == "now":
            return "now()"
        if ago:
            return f"now() - INTERVAL {ago[0]} {ago[1].upper()}"
        if text == "today":
            return "date_trunc('day', now())"
    if parameter.type == "interval":
        amount = window.relative(default)
        if amount:
            return f"INTERVAL {amount[0]} {amount[1].upper()}"
    if parameter.type == "varchar[]":
        items = default if isinstance(default, list) else [default]
        return "CAST([" + ", ".join("'" + str(item).replace("'", "''") + "'" for item in items) + "] AS VARCHAR[])"
    return f"CAST('{str(default).replace(chr(39), chr(39) * 2)}' AS {sql_type})"


def _rename_parameters(sql: str, types: dict[str, str]) -> str:
    """`$since` → `CAST(p_since AS TIMESTAMPTZ)` outside strings and comments (shell users pass '2026-11-01')."""
    return sub_in_code(PARAMETER, lambda match: f"CAST(p_{match.group(1)} AS {types[match.group(1)]})", sql)
