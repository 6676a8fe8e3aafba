"""Which rows of a view a detection can read: a condition taken from the detection's own WHERE clauses.

Owns: `reading_condition`, read on sqlglot trees. For every place a detection reads the view (`final_requests`),
the conjuncts of the WHERE that filters that read (the SELECT reading it, or the SELECT over a `SELECT *, …`
of it) which bear on the view's own columns and parameters alone; the rule's condition is those conjuncts
ANDed per read and ORed over its reads. A row outside it is dropped by the rule itself, so a table of the
view's rows that meet any rule's condition answers each of those rules exactly as the view does
(`shared_window` builds one per run). A read this cannot bound (a join, a pass-through that computes a window
or an aggregate, a WHERE with nothing of its own) makes the whole rule unbounded: it reads the view itself.
Never runs SQL and never pastes values: the conditions keep their `$parameters`, renamed per rule.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from auditlake.library.savedquery import STRINGS_AND_COMMENTS, sub_in_code

if TYPE_CHECKING:
    from sqlglot import exp

# Functions whose answer is not the row's alone: a conjunct calling one is never moved out of its query.
UNSTABLE = frozenset({"random", "rand", "now", "current_timestamp", "get_current_timestamp", "uuid", "gen_random_uuid", "nextval",
                      "currval", "setseed", "transaction_timestamp"})


@dataclass(frozen=True)
class Condition:
    """A rule's reading condition as DuckDB SQL whose parameters are the rule's own, renamed `$<prefix><name>`."""

    sql: str
    parameters: tuple[str, ...]  # the rule's names
    prefix: str
    reaches_back: tuple[str, ...] = ()  # interval parameters some read looks back by (`in_window(…, $since - $period, …)`)
    reads: frozenset[str] = frozenset()  # the view's columns the rule can read (`named_columns`)

    def values(self, bound: dict[str, Any]) -> dict[str, Any]:
        """The rule's bound values under the condition's names."""
        return {self.prefix + name: bound[name] for name in self.parameters}


@functools.lru_cache(maxsize=256)  # a pure function of its text (≈ 20 ms each): a process that detects again reuses them
def reading_condition(sql: str, view: str, columns: frozenset[str], prefix: str, *, within: str | None = None) -> Condition | None:
    """The rows of `view` (whose columns are `columns`) that `sql` can read, or None when some read is unbounded.

    `within`: a conjunct every read must have (`in_window(received_at, date, $since, $until)`), so that a table of
    the view's rows within those bounds holds all a bounded rule reads; a read without it is unbounded. The same
    conjunct reaching back by an interval parameter (`$since - $period`) bounds it too: `Condition.reaches_back`
    names the parameter, and the table must begin that much earlier."""
    import sqlglot
    from sqlglot import exp

    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
        required = None if within is None else sqlglot.parse_one(within, read="duckdb")
    except sqlglot.errors.ParseError:
        return None
    if any(cte.alias_or_name == view for cte in tree.find_all(exp.CTE)):
        return None  # `WITH final_requests AS (…)` names something else
    reads = [table for table in tree.find_all(exp.Table) if table.name == view and not table.args.get("db")]
    if not reads or len(reads) != len(references(sql, view)):
        return None  # a read sqlglot did not see as a table would not be bounded; the text must name the view only as tables
    per_read, reaches_back = [], []
    for table in reads:
        conjuncts = _bounding_conjuncts(table, columns)
        reach = [found for found in (_reach(part, required) for part in conjuncts) if found is not None] if required is not None else [""]
        if not conjuncts or not reach:
            return None
        reaches_back += [name for name in reach[:1] if name]
        per_read.append(exp.and_(*conjuncts) if len(conjuncts) > 1 else conjuncts[0])
    condition = exp.or_(*(exp.paren(part, copy=False) for part in per_read)) if len(per_read) > 1 else per_read[0]
    used: list[str] = []

    def renamed(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Placeholder) and node.name:
            used.append(node.name)
            return exp.Placeholder(this=prefix + node.name)
        return node

    condition = condition.transform(renamed)
    return Condition(condition.sql(dialect="duckdb"), tuple(dict.fromkeys(used)), prefix, tuple(dict.fromkeys(reaches_back)),
                     _named_in(tree, columns))


def _reach(part: exp.Expression, required: Any) -> str | None:
    """"" when `part` is `required`; the parameter's name when it is `required` with its first bound `$since - $name`;
    None otherwise."""
    from sqlglot import exp

    if part.sql(dialect="duckdb") == required.sql(dialect="duckdb"):
        return ""
    if not isinstance(part, exp.Anonymous) or not isinstance(required, exp.Anonymous) or part.name.lower() != required.name.lower():
        return None
    given, wanted = part.expressions, required.expressions
    if len(given) != len(wanted) or len(wanted) < 3:
        return None
    lower = given[2]
    if not (isinstance(lower, exp.Sub) and lower.this == wanted[2] and isinstance(lower.expression, exp.Placeholder)):
        return None
    same_elsewhere = all(a.sql(dialect="duckdb") == b.sql(dialect="duckdb") for index, (a, b) in enumerate(zip(given, wanted, strict=True)) if index != 2)
    return lower.expression.name if same_elsewhere else None


def named_columns(sql: str, columns: frozenset[str]) -> frozenset[str]:
    """The `columns` (a view's, lower case) that `sql` can read: each one it names anywhere, or all of them when it reads
    rows whole (`COLUMNS(…)`, a table's name as a value, `*` under DISTINCT, GROUP BY ALL or ORDER BY ALL, a set
    operation that removes duplicates), or when sqlglot cannot read it. A superset is harmless; a column left out is not."""
    import sqlglot

    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
    except sqlglot.errors.ParseError:
        return columns
    return _named_in(tree, columns)


def _named_in(tree: exp.Expr, columns: frozenset[str]) -> frozenset[str]:
    from sqlglot import exp

    tables = {name.lower() for table in tree.find_all(exp.Table) for name in (table.name, table.alias_or_name)}
    tables |= {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    whole_rows = (
        tree.find(exp.Columns) is not None
        or any(not column.table and column.name.lower() in tables for column in tree.find_all(exp.Column))
        or any(operation.args.get("distinct") is not False for operation in tree.find_all(exp.Union, exp.Intersect, exp.Except))
        or any(_reads_whole_rows(select) for select in tree.find_all(exp.Select)))
    if whole_rows:
        return columns
    return frozenset(identifier.name.lower() for identifier in tree.find_all(exp.Identifier)) & columns


def _reads_whole_rows(select: exp.Select) -> bool:
    """A SELECT whose answer depends on every column of a `*`: DISTINCT over it, GROUP BY ALL, ORDER BY ALL."""
    from sqlglot import exp

    if not any(isinstance(item, exp.Star) or isinstance(item, exp.Column) and isinstance(item.this, exp.Star) for item in select.expressions):
        return False
    group, order = select.args.get("group"), select.args.get("order")
    return bool(select.args.get("distinct") or (group and group.args.get("all"))
                or (order and any(isinstance(part.this, exp.Var) and part.this.name.upper() == "ALL" for part in order.expressions)))


def references(sql: str, name: str) -> list[str]:
    """Each place `sql` names `name` as an identifier (not inside a string or a comment)."""
    return _identifier(name).findall(STRINGS_AND_COMMENTS.sub(" ", sql))


def renamed_reads(sql: str, view: str, table: str) -> str:
    """`sql` with every read of `view` reading `table` instead (strings and comments untouched)."""
    return sub_in_code(_identifier(view), table, sql)


def _identifier(name: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w.\"]){re.escape(name)}(?![\w\"])")


def _bounding_conjuncts(table: exp.Table, columns: frozenset[str]) -> list[exp.Expression]:
    """The conjuncts filtering this read of the view, as bare expressions over its columns (copies)."""
    from sqlglot import exp

    select = table.parent.parent if isinstance(table.parent, exp.From) else None
    if not isinstance(select, exp.Select) or select.args.get("joins") or table.args.get("joins"):
        return []
    names = {table.alias_or_name, table.name}
    found = _usable(select, columns, names, computed=frozenset())
    outer = _outer_of_pass_through(select)
    if outer is not None:
        over, alias, computed = outer
        found += _usable(over, columns, {alias} if alias else set(), computed)
    return found


def _outer_of_pass_through(select: exp.Select) -> tuple[exp.Select, str, frozenset[str]] | None:
    """For `SELECT * [, expr AS name …] FROM view` with nothing that reads other rows, the SELECT over it alone."""
    from sqlglot import exp

    stars = [item for item in select.expressions if isinstance(item, exp.Star)]
    if not stars or any(star.args.get(key) for star in stars for key in ("replace", "rename", "except_", "ilike")):
        return None  # `* REPLACE (lower(verb) AS verb)`: the outer `verb` is not the view's
    if any(select.args.get(key) for key in ("where", "group", "having", "qualify", "distinct", "limit", "offset", "order", "with")):
        return None
    if any(item.find(exp.Window, exp.AggFunc, exp.Subquery, exp.Select) for item in select.expressions):
        return None
    subquery = select.parent
    if not isinstance(subquery, exp.Subquery) or not isinstance(subquery.parent, exp.From):
        return None
    over = subquery.parent.parent
    if not isinstance(over, exp.Select) or over.args.get("joins"):
        return None
    computed = frozenset(item.alias_or_name for item in select.expressions if not isinstance(item, exp.Star))
    return over, subquery.alias, computed


def _usable(select: exp.Select, columns: frozenset[str], qualifiers: set[str], computed: frozenset[str]) -> list[exp.Expression]:
    """The conjuncts of `select`'s WHERE that read only the view's own columns (not `computed` ones) and parameters."""
    from sqlglot import exp

    where = select.args.get("where")
    if where is None:
        return []
    parts: list[Any] = list(where.this.flatten()) if isinstance(where.this, exp.And) else [where.this]
    return [_bare(part) for part in parts if _reads_only_the_row(part, columns, qualifiers, computed)]


def _reads_only_the_row(part: exp.Expression, columns: frozenset[str], qualifiers: set[str], computed: frozenset[str]) -> bool:
    from sqlglot import exp

    if part.find(exp.Subquery, exp.Select, exp.Exists, exp.AggFunc, exp.Window):
        return False
    if any((function.name if isinstance(function, exp.Anonymous) else function.sql_name()).lower() in UNSTABLE
           for function in part.find_all(exp.Func)):
        return False
    seen = list(part.find_all(exp.Column))
    if not seen:
        return False  # parameters alone (`$flag`) bound nothing about the row
    return all(column.name in columns and column.name not in computed and (not column.table or column.table in qualifiers)
               for column in seen)


def _bare(part: exp.Expression) -> exp.Expression:
    """A copy with column qualifiers removed: the condition reads the view under its own name."""
    from sqlglot import exp

    copy = part.copy()
    for column in copy.find_all(exp.Column):
        column.set("table", None)
    return copy


def combined(conditions: list[Condition]) -> str:
    """Rows that meet any of the conditions."""
    return "\n   OR ".join(f"({condition.sql})" for condition in conditions)
