"""One scan of the window for a detection run: the shared views several detections read, materialised once.

Owns: which shared views a run materialises (`SHARED_VIEWS`), when (two or more of the chosen detections
read one), and for which detections (those that read only their window). What a run makes lives in an in-memory
database attached for the run (`auditlake_run_…`, detached after it) and named first in the search path of the
connection and of each cursor the run's detections execute on (`SharedWindow.cursor`: several at a time), so a
table there shadows the catalog's view of the same name in the detections' SQL and in the macros they call (not
inside the catalog's views, which bind in their own database: none reads a shared one), holding only the view's
rows of the run's window and cluster: each detection then filters a few thousand rows in memory instead of decoding
the lake's Parquet again. A shared table macro of the window (`SHARED_MACROS`: `cluster_providers`, which reads every
event's JSON) is answered once per run the same way, from a table behind a macro of the same name; it
is shared only when every call of it in the chosen rules is `macro($since, $until)`, the run's window.
The final requests most detections read are shared by their conditions: each rule's own WHERE bounds the rows
it can read within the window (`prefilter.reading_condition`), and one scan of the window keeps the rows some
rule can read (`final_requests_of_run`, 13 in a hundred on the 10 M benchmark lake); each such rule then reads
that table instead of the view (`SharedWindow.rules`), so the lake's Parquet is decoded once, not once per rule.
The table holds the view's columns those rules name (`prefilter.named_columns`), not the others; a case-blind search
of a column in a condition (`contains_any_of`, RE2 on every request) is made once per distinct value of the window's
column before the scan, which then looks each row's value up in the list of those that matched.
Detections over history (`stateful:`) read before the window, as far back as their durations reach (`$since - $within`,
`in_history(…, $baseline)`): a shared view one of them reads begins that much earlier (`history_start`), so it reads
the run's table too, and the window's detections, which keep to their window, read the same table; one that calls a
shared macro, or reaches back by anything but its duration parameters, runs against the lake itself after the block
(`SharedWindow.history`: those that run inside). They read the lake's `final_requests` either way. Most of them ask
what every request of an identity did through `request_groups(lo, hi)` (`SPAN_MACROS`: one row per hour, identity,
address, target and outcome, with its instants): called twice or more in a run (a rule's baseline and window, or two
rules), its groups from as far back as its readers reach are made once, and a temporary macro of the same name answers
every call from them, reading from the lake only the parts of hours a call's bounds cut. That the findings are the same
either way is a test (tests/test_detections.py runs every detection both ways).
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from auditlake import duck
from auditlake.contract import FINDING_COLUMNS
from auditlake.library import prefilter
from auditlake.library.savedquery import STRINGS_AND_COMMENTS, sub_in_code

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
# table macro of (lo, hi) whose rows each belong to one clock hour (`hour`): materialised once from as far back as its
# readers reach, and answering any span within that exactly (the hours a span holds whole from the table, the parts of
# hours it cuts from the lake), so a rule may call it for a baseline and for its window alike.
SPAN_MACROS = ("request_groups",)
# What a call of a span macro may pass as each bound: `$since` or `$until`, less duration parameters (`history_start`).
SPAN_BOUND = r"\s*\$(?:since|until)(?:\s*-\s*\$\w+)*\s*"

# The view read through the rules' own conditions, and the table of the run's rows that meet one of them.
BOUNDED_VIEW, BOUNDED_TABLE = "final_requests", "final_requests_of_run"
# The most values a column's case-blind search may match for the scan to test each row against a list of them instead.
SEARCHED_VALUES_LIMIT = 1000
# What each read of a bounded rule must say of time (or with `$since - $interval`: the table then begins that much earlier).
WITHIN_THE_RUN = "in_window(received_at, date, $since, $until)"


@dataclasses.dataclass(frozen=True)
class SharedWindow:
    """What a run shares: the objects made for it, and its rules (those bounded reading `BOUNDED_TABLE`)."""

    made: tuple[str, ...]
    rules: list[SavedQuery]
    history: list[SavedQuery] = dataclasses.field(default_factory=list)  # detections over history to run inside the block
    release: Callable[[], None] = lambda: None  # drops the table of final requests (once `rules` ran: its memory is then free)
    search_path: str = ""  # the run's database, then the catalog's: set on each cursor the rules run on

    def cursor(self, connection: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
        """Another connection to `connection`'s database (one per thread) that sees what the run shares."""
        other = duck.cursor(connection)
        if self.search_path:
            other.execute(f"SET search_path = '{self.search_path}'")
        return other


def reads_only_its_window(rule: SavedQuery) -> bool:
    """A detection over history reads a baseline before its window; every other one reads its window only."""
    return not getattr(rule, "stateful", "")


def readers(rules: Sequence[SavedQuery], names: Sequence[str]) -> list[SavedQuery]:
    """The rules whose SQL names one of `names` (not in a string or a comment)."""
    return [rule for rule in rules if any(prefilter.references(rule.statement, name) for name in names)]


def history_start(rule: SavedQuery, values: Mapping[str, Any], since: datetime) -> datetime | None:
    """The earliest a detection over history reads, bound with `values`: `$since` less all its duration parameters (each
    `$since - $name` and `in_history`'s `$baseline` is one of them), or None when it reaches back by anything else."""
    durations = {name: value for name, value in values.items() if isinstance(value, timedelta)}
    code = STRINGS_AND_COMMENTS.sub(" ", rule.statement)
    uses = re.findall(r"\$since\b\s*(-\s*(\$(\w+))?)?", code)
    if any(minus and name not in durations for minus, _, name in uses) or ("in_history" in code and "baseline" not in durations):
        return None
    return since - sum(durations.values(), timedelta())


@contextmanager
def shared_window(connection: duckdb.DuckDBPyConnection, rules: Sequence[SavedQuery], *, since: datetime, until: datetime,
                  cluster: str | None, values: Mapping[str, dict[str, Any]] | None = None,
                  history: Sequence[SavedQuery] = ()) -> Iterator[SharedWindow]:
    """Within the block, each shared view that two or more of `rules` (and of the detections over `history`, with their
    `values`) read holds only the run's window (from as far back as those detections reach); and when each rule's bound
    `values` are given, the final requests two or more of them can read are one table (see the module)."""
    values = values or {}
    database = connection.execute("SELECT current_database()").fetchall()[0][0]
    run = f"auditlake_run_{uuid.uuid4().hex[:12]}"  # attached databases belong to the DuckDB instance, which processes share by path
    search_path = f'{run}.main,"{database}".main'
    made: list[str] = []
    reach = {rule.name: start for rule in history  # where each detection over history that runs inside begins to read
             if not readers([rule], SHARED_MACROS) and (start := history_start(rule, values.get(rule.name, {}), since))}
    inside = [rule for rule in history if rule.name in reach]
    # The rules' conditions are read (sqlglot, in Python: ≈ 0.4 s) on a thread of their own while DuckDB makes the views.
    columns = frozenset(_view_columns(connection, database))
    on_the_side = ThreadPoolExecutor(1, thread_name_prefix="conditions")
    conditions = on_the_side.submit(_bounded_readers, columns, rules, values)
    on_the_side.shutdown(wait=False)
    try:
        connection.execute(f"ATTACH ':memory:' AS {run} (READ_WRITE)")  # READ_WRITE: the catalog's connection is read-only
        connection.execute(f"SET search_path = '{search_path}'")
        for view, names in SHARED_VIEWS.items():
            reading = readers([*rules, *inside], names)
            start = min([since, *(reach[rule.name] for rule in reading if rule.name in reach)])
            if len(reading) >= 2 and _materialised(
                    connection, f'CREATE TABLE {run}.main.{view} AS SELECT * FROM "{database}".main.{view} '
                    "WHERE in_window(received_at, date, $since, $until) AND ($cluster IS NULL OR cluster = $cluster)",
                    {"since": start, "until": until, "cluster": cluster}):
                made.append(view)
        for macro in SPAN_MACROS:
            reading = readers([*rules, *inside], (macro,))
            starts = [start for rule in reading if (start := history_start(rule, values.get(rule.name, {}), since))]
            calls = _span_calls(macro, reading)  # two or more (one rule's baseline and window, or two rules)
            if calls is not None and len(calls) >= 2 and len(starts) == len(reading) and _materialised(
                    connection, f'CREATE TABLE {run}.main.{macro}_of_run AS SELECT * FROM "{database}".main.{macro}($since, $until) '
                    "WHERE $cluster IS NULL OR cluster = $cluster", {"since": min([since, *starts]), "until": until, "cluster": cluster}):
                connection.execute(_span_macro(macro, run, database))
                made.append(macro)
        for macro in SHARED_MACROS:
            if _shareable(macro, rules) and _materialised(
                    connection, f'CREATE TABLE {run}.main.{macro}_of_run AS SELECT * FROM "{database}".main.{macro}($since, $until)',
                    {"since": since, "until": until}):
                # The macro answers the run's window whatever it is given: `_shareable` shared it only when every call passes it.
                connection.execute(f"CREATE MACRO {run}.main.{macro}(lo, hi) AS TABLE SELECT * FROM {run}.main.{macro}_of_run")
                made.append(macro)
        bounded = conditions.result()
        if len(bounded) >= 2 and _make_bounded_table(connection, run, database, bounded, values, since=since, until=until, cluster=cluster):
            made.append(BOUNDED_VIEW)
            rules = [dataclasses.replace(rule, sql=prefilter.renamed_reads(rule.sql, BOUNDED_VIEW, BOUNDED_TABLE))
                     if rule.name in bounded else rule for rule in rules]

        def release() -> None:
            connection.execute(f"DROP TABLE IF EXISTS {run}.main.{BOUNDED_TABLE}")

        yield SharedWindow(tuple(made), list(rules), inside, release, search_path)
    finally:
        connection.execute("RESET search_path")
        connection.execute(f"DETACH DATABASE IF EXISTS {run}")  # every table and macro of the run with it


def _bounded_readers(columns: frozenset[str], rules: Sequence[SavedQuery], values: Mapping[str, dict[str, Any]]) -> dict[str, prefilter.Condition]:
    """The rules with bound values that read `BOUNDED_VIEW` (whose columns are `columns`) only through conditions of their
    own, each with its condition."""
    chosen = [rule for rule in readers(rules, (BOUNDED_VIEW,)) if rule.name in values]
    if len(chosen) < 2:
        return {}
    conditions = {rule.name: prefilter.reading_condition(rule.sql, BOUNDED_VIEW, columns, f"rule{number}_", within=WITHIN_THE_RUN)
                  for number, rule in enumerate(chosen)}
    return {name: condition for name, condition in conditions.items() if condition is not None  # reaching back by a duration only
            and all(isinstance(values[name].get(interval), timedelta) for interval in condition.reaches_back)}


def _make_bounded_table(connection: duckdb.DuckDBPyConnection, run: str, database: str, bounded: dict[str, prefilter.Condition],
                        values: Mapping[str, dict[str, Any]], *, since: datetime, until: datetime, cluster: str | None) -> bool:
    """One scan of the window keeping the final requests some bounded rule can read (each condition with its rule's values),
    with the columns a finding has or some of them names: the lake's Parquet is decoded for the rows and columns they read."""
    # From the earliest a rule reaches back (`$since - $period`); each condition keeps its own rule to its own span.
    start = min([since, *(since - values[name][interval] for name, condition in bounded.items() for interval in condition.reaches_back)])
    read = frozenset(FINDING_COLUMNS).union(*(condition.reads for condition in bounded.values()))  # a finding's, what the rules name
    projection = ", ".join(f'"{column}"' for column in _view_columns(connection, database) if column in read)
    given: dict[str, Any] = {"since": start, "until": until, "cluster": cluster}
    for name, condition in bounded.items():
        given |= condition.values(values[name])
    order = connection.execute("SELECT current_setting('preserve_insertion_order')").fetchall()[0][0]
    connection.execute("SET preserve_insertion_order = false")  # rows in any order: the build runs on every core
    try:
        keeping = searched_once_per_value(connection, database, prefilter.combined(list(bounded.values())), given)
        return _materialised(connection, f'CREATE TABLE {run}.main.{BOUNDED_TABLE} AS SELECT {projection} FROM "{database}".main.{BOUNDED_VIEW} '
                             "WHERE in_window(received_at, date, $since, $until) AND ($cluster IS NULL OR cluster = $cluster)\n"
                             f"  AND ({keeping})", given)
    finally:
        connection.execute(f"SET preserve_insertion_order = {str(order).lower()}")


def searched_once_per_value(connection: duckdb.DuckDBPyConnection, database: str, condition: str, given: dict[str, Any]) -> str:
    """`condition` with each case-blind search of a column (`contains_any_of(column, $needles)`: RE2 on every request, ≈ 4
    CPU-s over the 5 M final requests of the benchmark's window) made once per distinct value of the column in the
    scan's window instead: the values that match become a list (`given` gains it), and each row's test a lookup in it.
    A column with more than `SEARCHED_VALUES_LIMIT` matching values keeps its search."""

    def once_per_value(call: re.Match[str]) -> str:
        column, needles = call.groups()
        matching = connection.execute(  # OFFSET 0 keeps DuckDB from moving the search below the DISTINCT, onto every row
            f'SELECT list(value) FROM (SELECT DISTINCT "{column}" AS value FROM "{database}".main.{BOUNDED_VIEW} '
            "WHERE in_window(received_at, date, $since, $until) AND ($cluster IS NULL OR cluster = $cluster) OFFSET 0) "
            f"WHERE value IS NOT NULL AND contains_any_of(value, ${needles})",
            {"since": given["since"], "until": given["until"], "cluster": given["cluster"], needles: given[needles]}).fetchall()[0][0] or []
        if len(matching) > SEARCHED_VALUES_LIMIT:
            return call.group(0)
        name = f"matching_{needles}_{column}"
        given[name] = matching
        # A NULL column is no value of the list: the search answers it as it would (a constant, once per statement).
        return f'coalesce(list_contains(${name}, "{column}"), contains_any_of(NULL, ${needles}))'

    return sub_in_code(re.compile(r"\bcontains_any_of\((\w+), \$(\w+)\)", re.IGNORECASE), once_per_value, condition)


def _view_columns(connection: duckdb.DuckDBPyConnection, database: str) -> list[str]:
    return [row[0] for row in connection.execute(f'DESCRIBE SELECT * FROM "{database}".main.{BOUNDED_VIEW}').fetchall()]


def _materialised(connection: duckdb.DuckDBPyConnection, statement: str, values: dict[str, Any]) -> bool:
    """Run a CREATE TABLE; False when it does not fit the memory limit (AUDITLAKE_MEMORY_LIMIT, with DuckDB's
    spilling): nothing is shared then, and each rule reads the lake itself, with the same findings."""
    import duckdb

    try:
        connection.execute(statement, values)
    except duckdb.OutOfMemoryException:
        return False
    return True


def _span_macro(macro: str, run: str, database: str) -> str:
    """A macro of the run's database answering `macro(lo, hi)` from its table of the run and the lake: the hours [lo, hi) holds whole
    (from the first that begins at or after `lo` to the one `hi` is in) from the table, the rest of [lo, hi) — the
    parts of the hours at either end it cuts — from the catalog's macro, which reads the lake for those alone."""
    whole_from = "((epoch_us(lo) + 3599999999) // 3600000000)"  # hours since 1970, as the macro's `hour`
    whole_until = f"greatest(epoch_us(hi) // 3600000000, {whole_from})"
    return (f"CREATE MACRO {run}.main.{macro}(lo, hi) AS TABLE\n"
            f"  SELECT * FROM {run}.main.{macro}_of_run WHERE hour >= {whole_from} AND hour < {whole_until}\n"
            f'  UNION ALL SELECT * FROM "{database}".main.{macro}(lo, least(to_timestamp({whole_from} * 3600), hi))\n'
            f'  UNION ALL SELECT * FROM "{database}".main.{macro}(to_timestamp({whole_until} * 3600), hi)')


def _calls(macro: str, rules: Sequence[SavedQuery]) -> list[str] | None:
    """The arguments of every call of `macro` in `rules` (outside strings and comments); None when it is named otherwise
    than in a call whose arguments hold no parentheses, which the checks below could not read."""
    code = [STRINGS_AND_COMMENTS.sub(" ", rule.statement) for rule in rules]
    calls = [call for text in code for call in re.findall(rf"\b{macro}\s*\(([^()]*)\)", text)]
    return calls if len(calls) == sum(len(re.findall(rf"\b{macro}\b", text)) for text in code) else None


def _span_calls(macro: str, rules: Sequence[SavedQuery]) -> list[str] | None:
    """`_calls`, when each is bounded by `$since` and `$until` less durations (`SPAN_BOUND`), so within the span the run's
    table is made for (each rule's `history_start` to `$until`); None otherwise."""
    calls = _calls(macro, rules)
    return calls if calls is not None and all(re.fullmatch(rf"{SPAN_BOUND},{SPAN_BOUND}", call) for call in calls) else None


def _shareable(macro: str, rules: Sequence[SavedQuery]) -> bool:
    """Some rule calls `macro`, and every call is over the run's window (`macro($since, $until)`)."""
    calls = _calls(macro, rules)
    return bool(calls) and all(re.fullmatch(r"\s*\$since\s*,\s*\$until\s*", call) for call in calls or [])
