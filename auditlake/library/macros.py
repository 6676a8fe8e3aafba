"""Saved queries as DuckDB table macros, so the plain DuckDB shell can call them too.

Owns: `macro_sql` (the `CREATE MACRO` text for one saved query: its parameters become `p_NAME`
arguments with the header's defaults as SQL). Runs nothing; the catalog executes what this returns.
"""

from __future__ import annotations

import re

from auditlake import window
from auditlake.library.savedquery import PARAM_TYPES, PARAMETER, STRINGS_AND_COMMENTS, Parameter, SavedQuery


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

    def typed(match: re.Match[str]) -> str:
        return f"CAST(p_{match.group(1)} AS {types[match.group(1)]})"

    pieces, last = [], 0
    for match in STRINGS_AND_COMMENTS.finditer(sql):
        pieces.append(PARAMETER.sub(typed, sql[last:match.start()]))
        pieces.append(match.group(0))
        last = match.end()
    pieces.append(PARAMETER.sub(typed, sql[last:]))
    return "".join(pieces)
