"""DuckDB SQL of the query library → Spark SQL, on sqlglot syntax trees.

Owns: reading a DuckDB `CREATE MACRO` into a `Macro` (parameters, defaults, body), expanding macro calls
inline (`expand_macros`: arguments for parameters, defaults for missing named arguments, recursively; a table
macro in FROM becomes a subquery), binding `$name` parameters as typed literals (`bind_literals`), and the
fixes sqlglot's DuckDB → Spark output needs for the functions our queries use (`to_spark`). Never runs SQL,
never reads files, never rewrites SQL text: every step works on the tree.

Why inline expansion rather than Spark SQL functions (`CREATE TEMPORARY FUNCTION … RETURN`, which Spark 4.3
accepts): two of our macros are table macros used in FROM, the bodies are DuckDB SQL that must be translated
anyway, and an expanded statement is one self-contained Spark query, which needs nothing registered but the
tables and views it reads. DuckDB expands its macros the same way, so the semantics (a parameter shadows a
column of the same name, an argument is evaluated where it appears) stay DuckDB's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from auditlake.errors import QueryError

if TYPE_CHECKING:
    from sqlglot import exp

MAX_DEPTH = 32  # macros calling macros: deeper than this is a cycle


@dataclass(frozen=True)
class Macro:
    """A DuckDB macro: `name(p1, p2 := default)`; `is_table` for `AS TABLE` (used in FROM)."""

    name: str
    params: tuple[str, ...]
    body: exp.Expression
    is_table: bool = False
    defaults: dict[str, exp.Expression] = field(default_factory=dict)


def parse(sql: str) -> exp.Expression:
    """One DuckDB statement as a tree."""
    import sqlglot

    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
    except sqlglot.errors.ParseError as error:
        raise QueryError(f"sqlglot cannot read the SQL: {str(error).splitlines()[0]}") from None
    return cast("exp.Expression", tree)


def parse_macro(sql: str) -> Macro:
    """`CREATE [OR REPLACE] MACRO name(a, b := default) AS [TABLE] body` as a `Macro`.

    sqlglot parses DuckDB macro bodies and calls but not a signature with defaults, so the signature is read
    from sqlglot's tokens (names, `:=`, each default parsed as an expression) and the body parsed on its own.
    """
    import sqlglot
    from sqlglot.tokens import TokenType

    tokens = sqlglot.Dialect.get_or_raise("duckdb").tokenize(sql)
    kinds = [token.token_type for token in tokens]
    try:
        start = kinds.index(TokenType.L_PAREN)
    except ValueError:
        raise QueryError("not a CREATE MACRO statement") from None
    name = tokens[start - 1].text.lower()
    depth = 0
    pieces: list[list[Any]] = []
    current: list[Any] = []
    for index in range(start + 1, len(tokens)):
        kind = tokens[index].token_type
        if kind in (TokenType.L_PAREN, TokenType.L_BRACKET):
            depth += 1
        elif kind in (TokenType.R_PAREN, TokenType.R_BRACKET):
            if depth == 0:
                end = index
                break
            depth -= 1
        if kind == TokenType.COMMA and depth == 0:
            pieces.append(current)
            current = []
        else:
            current.append(tokens[index])
    else:
        raise QueryError(f"macro {name}: unbalanced parentheses")
    if current:
        pieces.append(current)
    params, defaults = [], {}
    for piece in pieces:
        params.append(piece[0].text.lower())
        if len(piece) > 2 and piece[1].token_type == TokenType.COLON_EQ:
            defaults[piece[0].text.lower()] = parse(sql[piece[2].start:piece[-1].end + 1])
    body_at = end + 1
    if tokens[body_at].token_type != TokenType.ALIAS:
        raise QueryError(f"macro {name}: expected AS after the parameters")
    is_table = tokens[body_at + 1].token_type == TokenType.TABLE
    body_start = tokens[body_at + (2 if is_table else 1)].start
    return Macro(name, tuple(params), parse(sql[body_start:]), is_table, defaults)


def expand_macros(tree: exp.Expression, macros: dict[str, Macro], depth: int = 0) -> exp.Expression:
    """Every call of a macro in `tree` replaced by its body, arguments in place of parameters (recursively)."""
    from sqlglot import exp

    if depth > MAX_DEPTH:
        raise QueryError("macros call each other without end")

    def expand(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Table) and isinstance(node.this, exp.Anonymous) and node.this.name.lower() in macros:
            macro = macros[node.this.name.lower()]
            body = expand_macros(_substitute(macro, node.this), macros, depth + 1)
            alias = node.args.get("alias") or exp.TableAlias(this=exp.to_identifier(macro.name))
            return exp.Subquery(this=body, alias=alias.copy())
        if isinstance(node, exp.Anonymous) and node.name.lower() in macros and not macros[node.name.lower()].is_table:
            return exp.Paren(this=expand_macros(_substitute(macros[node.name.lower()], node), macros, depth + 1))
        return node

    return tree.transform(expand, copy=True)


def _substitute(macro: Macro, call: exp.Anonymous) -> exp.Expression:
    from sqlglot import exp

    arguments: dict[str, exp.Expression] = {}
    positional = [argument for argument in call.expressions if not isinstance(argument, exp.PropertyEQ)]
    if len(positional) > len(macro.params):
        raise QueryError(f"macro {macro.name} takes {len(macro.params)} arguments, not {len(positional)}")
    arguments.update(zip(macro.params, positional, strict=False))
    for argument in call.expressions:
        if isinstance(argument, exp.PropertyEQ):
            arguments[argument.this.name.lower()] = argument.expression
    for parameter in macro.params:
        if parameter not in arguments:
            if parameter not in macro.defaults:
                raise QueryError(f"macro {macro.name}: no value for its parameter {parameter!r}")
            arguments[parameter] = macro.defaults[parameter]

    def replace(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Column) and not node.table and node.name.lower() in arguments:
            return exp.Paren(this=arguments[node.name.lower()].copy())
        return node

    return macro.body.transform(replace, copy=True)


def literal(value: Any, sql_type: str) -> exp.Expression:
    """A bound value as a typed literal (`sql_type` a DuckDB type of `PARAM_TYPES`)."""
    from sqlglot import exp

    if sql_type == "VARCHAR[]":
        if value is None:
            return exp.cast(exp.null(), exp.DataType.build("ARRAY<STRING>", dialect="spark"))
        return exp.cast(exp.Array(expressions=[exp.Literal.string(str(item)) for item in value]),
                        exp.DataType.build("ARRAY<STRING>", dialect="spark"))
    if value is None:
        return exp.cast(exp.null(), exp.DataType.build(sql_type, dialect="duckdb"))
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int | float):
        return exp.cast(exp.Literal.number(value), exp.DataType.build(sql_type, dialect="duckdb"))
    if isinstance(value, datetime):
        return exp.cast(exp.Literal.string(value.isoformat()), exp.DataType.build("TIMESTAMP", dialect="spark"))
    if isinstance(value, date):
        return exp.cast(exp.Literal.string(value.isoformat()), exp.DataType.build("DATE"))
    if isinstance(value, timedelta):
        return exp.Interval(this=exp.Literal.string(str(int(value.total_seconds()))), unit=exp.var("SECOND"))
    return exp.cast(exp.Literal.string(str(value)), exp.DataType.build(sql_type, dialect="duckdb"))


def bind_literals(tree: exp.Expression, values: dict[str, Any], types: dict[str, str]) -> exp.Expression:
    """Every `$name` replaced by its bound value as a typed literal (the values DuckDB gets as parameters)."""
    from sqlglot import exp

    def bind(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Placeholder) and node.name in values:
            return literal(values[node.name], types[node.name])
        return node

    return tree.transform(bind, copy=True)


def to_spark(tree: exp.Expression) -> str:
    """The Spark SQL of a DuckDB tree whose macros are expanded: sqlglot's generator after our fixes.

    The fixes, each where sqlglot 30's DuckDB → Spark output is wrong for a function our queries use:
    `list_has_any` (`a && b`) → `arrays_overlap`; `list[a:b]` (1-based, inclusive) → `slice`; `epoch(ts)` keeps
    its microseconds (not `unix_timestamp`, which drops them), `epoch_us(ts)` is `unix_micros(ts)`; `timezone('UTC', ts)` is `ts` (the session is
    UTC); `CAST(json_extract_string(j, '$.a[*]') AS VARCHAR[])` parses the array `$.a` (Spark's
    `get_json_object` unwraps a one-element `[*]` match into a bare string).
    """
    from sqlglot import exp

    def fix(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.ArrayOverlaps):
            return exp.Anonymous(this="ARRAYS_OVERLAP", expressions=[node.this, node.expression])
        if isinstance(node, exp.Bracket) and len(node.expressions) == 1 and isinstance(node.expressions[0], exp.Slice):
            piece = node.expressions[0]
            start = piece.this if piece.this is not None else exp.Literal.number(1)
            if piece.expression is None:
                return exp.Anonymous(this="SLICE", expressions=[node.this, start, exp.Literal.number(2**31 - 1)])
            length = exp.Add(this=exp.Sub(this=piece.expression.copy(), expression=start.copy()), expression=exp.Literal.number(1))
            return exp.Anonymous(this="SLICE", expressions=[node.this, start, length])
        if isinstance(node, exp.TimeToUnix):
            return exp.Div(this=exp.Anonymous(this="UNIX_MICROS", expressions=[node.this]), expression=exp.Literal.number("1000000.0"))
        if isinstance(node, exp.Anonymous) and node.name.lower() == "epoch_us":
            return exp.Anonymous(this="UNIX_MICROS", expressions=node.expressions)
        if (isinstance(node, exp.Anonymous) and node.name.lower() == "timezone" and len(node.expressions) == 2
                and isinstance(node.expressions[0], exp.Literal) and node.expressions[0].name.upper() == "UTC"):
            return node.expressions[1]
        if isinstance(node, exp.JSONExtractScalar) and _wildcard_at(node.expression) is not None:
            return _json_strings(node.this, node.expression)
        if (isinstance(node, exp.Cast) and node.to.is_type(exp.DataType.Type.ARRAY) and node.to.expressions
                and node.to.expressions[0].is_type(exp.DataType.Type.JSON)):
            return _call("FROM_JSON", node.this, exp.Literal.string("ARRAY<STRING>"))
        if isinstance(node, exp.DateDiff) and node.args.get("date_part_boundary") and node.text("unit").upper() == "DAY":
            return _call("DATEDIFF", exp.cast(node.this, exp.DataType.Type.DATE), exp.cast(node.expression, exp.DataType.Type.DATE))
        if isinstance(node, exp.RegexpLike) and node.args.get("flag") is not None:
            return _regexp_with_flag(node)
        if isinstance(node, exp.RegexpFullMatch):
            return _regexp_full_match(node.this, node.expression)
        if isinstance(node, exp.Anonymous) and node.name.lower() in _REWRITES:
            return _REWRITES[node.name.lower()](*node.expressions)
        if isinstance(node, exp.JSONKeys) and node.expression is not None:
            return exp.Anonymous(this="JSON_OBJECT_KEYS", expressions=[
                exp.Anonymous(this="GET_JSON_OBJECT", expressions=[node.this, _path_literal(node.expression.expressions[1:])])])
        return node

    # A replacement's own arguments may need a fix too (`list_bool_or(list_transform(…, list_has_all(…)))`): sqlglot's
    # transform does not revisit what a replacement holds, so it runs again until nothing changes (every fix is idempotent).
    fixed, previous = tree, ""
    for _ in range(MAX_DEPTH):
        fixed = fixed.transform(fix, copy=True)
        sql = fixed.sql(dialect="spark")
        if sql == previous:
            return sql
        previous = sql
    return previous


def _lambda(name: str, body: Any) -> exp.Lambda:
    from sqlglot import exp

    return exp.Lambda(this=body(exp.column(name)), expressions=[exp.to_identifier(name)])


def _call(name: str, *arguments: exp.Expression) -> exp.Anonymous:
    from sqlglot import exp

    return exp.Anonymous(this=name, expressions=list(arguments))


def _list_bool_or(items: exp.Expression) -> exp.Expression:
    """`list_bool_or(l)`: true when any element is true (NULLs ignored), NULL for an empty list."""
    from sqlglot import exp

    return exp.If(this=exp.EQ(this=_call("SIZE", items.copy()), expression=exp.Literal.number(0)), true=exp.null(),
                  false=_call("EXISTS", items, _lambda("_b", lambda b: exp.Coalesce(this=b, expressions=[exp.false()]))))


def _list_has_all(haystack: exp.Expression, needles: exp.Expression) -> exp.Expression:
    """`list_has_all(h, n)`: every non-NULL element of n is in h."""
    from sqlglot import exp

    return _call("FORALL", needles, _lambda("_n", lambda n: exp.Or(this=exp.Is(this=n, expression=exp.null()),
                                                                    expression=_call("ARRAY_CONTAINS", haystack, n.copy()))))


def _json_exists(document: exp.Expression, path: exp.Expression) -> exp.Expression:
    """`json_exists(j, path)`: a value (a JSON null aside) is at the path."""
    from sqlglot import exp

    return exp.Not(this=exp.Is(this=_call("GET_JSON_OBJECT", document, path), expression=exp.null()))


def _regexp_full_match(text: exp.Expression, pattern: exp.Expression) -> exp.Expression:
    """`regexp_full_match(s, p)`: the whole string matches (Spark's RLIKE finds a match anywhere)."""
    from sqlglot import exp

    return exp.RegexpLike(this=text, expression=_call("CONCAT", exp.Literal.string("^(?:"), pattern, exp.Literal.string(")$")))


def _regexp_escape(text: exp.Expression) -> exp.Expression:
    """`regexp_escape(s)`: s as a literal inside a pattern, through Java's `\\Q…\\E` quoting (an `\\E` in s closes and reopens it)."""
    from sqlglot import exp

    quoted = _call("REPLACE", text, exp.Literal.string("\\E"), exp.Literal.string("\\E\\\\E\\Q"))
    return _call("CONCAT", exp.Literal.string("\\Q"), quoted, exp.Literal.string("\\E"))


def _regexp_with_flag(node: exp.RegexpLike) -> exp.Expression:
    """`regexp_matches(s, p, 'i')`: sqlglot drops the options; case-insensitive is `(?i)` in Java's patterns."""
    from sqlglot import exp

    flag = node.args["flag"]
    if not isinstance(flag, exp.Literal) or flag.name not in ("i", "c", ""):
        raise QueryError(f"regexp option {flag.sql()} has no Spark translation (only 'i' and 'c')")
    if flag.name != "i":
        return exp.RegexpLike(this=node.this, expression=node.expression)
    return exp.RegexpLike(this=node.this, expression=_call("CONCAT", exp.Literal.string("(?i)"), node.expression))


def _list_position(items: exp.Expression, item: exp.Expression) -> exp.Expression:
    """`list_position(l, x)`: 1-based, NULL when absent (Spark's `array_position` says 0)."""
    from sqlglot import exp

    return exp.Nullif(this=_call("ARRAY_POSITION", items, item), expression=exp.Literal.number(0))


_REWRITES: dict[str, Any] = {
    "list_bool_or": _list_bool_or, "list_has_all": _list_has_all, "list_position": _list_position, "json_exists": _json_exists,
    "regexp_escape": _regexp_escape, "strlen": lambda text: _call("OCTET_LENGTH", text),
}


def _wildcard_at(path: exp.Expression | None) -> int | None:
    """Where the first `[*]` of a JSON path is (an index into its parts), or None."""
    from sqlglot import exp

    if not isinstance(path, exp.JSONPath):
        return None
    return next((index for index, part in enumerate(path.expressions)
                 if isinstance(part, exp.JSONPathSubscript) and isinstance(part.this, exp.JSONPathWildcard)), None)


def _path_literal(parts: list[exp.Expression]) -> exp.Expression:
    from sqlglot import exp

    return exp.Literal.string(exp.JSONPath(expressions=[exp.JSONPathRoot(), *[part.copy() for part in parts]]).sql(dialect="spark").strip("'"))


def _json_strings(document: exp.Expression, path: exp.JSONPath) -> exp.Expression:
    """DuckDB's `json_extract_string(doc, '$.a[*].b')` (a VARCHAR[]: each match as text, none as `[]`, NULL doc NULL) in Spark:
    `IF(doc IS NULL, NULL, filter(transform(coalesce(from_json(get_json_object(doc, '$.a'), 'ARRAY<STRING>'), array()),
    e -> get_json_object(e, '$.b')), v -> v IS NOT NULL))`. One wildcard: a second one is left for Spark to refuse."""
    from sqlglot import exp

    at = _wildcard_at(path)
    assert at is not None
    prefix, rest = path.expressions[1:at], path.expressions[at + 1:]
    items: exp.Expression = exp.Coalesce(this=exp.Anonymous(this="FROM_JSON", expressions=[
        exp.Anonymous(this="GET_JSON_OBJECT", expressions=[document.copy(), _path_literal(prefix)]), exp.Literal.string("ARRAY<STRING>")]),
        expressions=[exp.Array(expressions=[])])
    element = exp.to_identifier("_e")
    if rest:
        items = exp.Anonymous(this="TRANSFORM", expressions=[items, exp.Lambda(
            this=exp.Anonymous(this="GET_JSON_OBJECT", expressions=[exp.column(element.copy()), _path_literal(rest)]),
            expressions=[element.copy()])])
    value = exp.to_identifier("_v")
    kept = exp.Anonymous(this="FILTER", expressions=[items, exp.Lambda(
        this=exp.Not(this=exp.Is(this=exp.column(value.copy()), expression=exp.null())), expressions=[value.copy()])])
    return exp.If(this=exp.Is(this=document.copy(), expression=exp.null()), true=exp.null(), false=kept)


def translate(sql: str, macros: dict[str, Macro], values: dict[str, Any] | None = None, types: dict[str, str] | None = None) -> str:
    """DuckDB SQL (macros expanded, `$name`s bound as literals) as Spark SQL."""
    tree = expand_macros(parse(sql), macros)
    if values:
        tree = bind_literals(tree, values, types or {})
    return to_spark(tree)


def table_names(sql: str, macros: dict[str, Macro] | None = None) -> set[str]:
    """The tables and views a statement reads (lower case), CTE names included; with `macros`, those the macros it
    calls read too."""
    from sqlglot import exp

    tree = expand_macros(parse(sql), macros) if macros else parse(sql)
    return {table.name.lower() for table in tree.find_all(exp.Table) if table.name}
