"""A detection's reading condition: the rows of `final_requests` its own WHERE lets through, or None when it cannot say.

The run's shared table keeps the rows some rule's condition holds for, so a condition may only ever be weaker than
the rule: these cases pin what is taken (the read's own conjuncts over the view's columns, its parameters renamed)
and what makes a rule read the view itself (joins, pass-throughs that look at other rows, nothing of its own).
"""

from __future__ import annotations

import duckdb
import pytest

from auditlake.library.prefilter import named_columns, reading_condition, renamed_reads

COLUMNS = frozenset({"received_at", "date", "cluster", "verb", "resource", "subresource", "namespace", "user_name", "code", "actor"})
VIEW = "final_requests"


def condition(sql: str) -> str | None:
    found = reading_condition(sql, VIEW, COLUMNS, "r1_")
    return None if found is None else found.sql


def test_a_reads_own_conjuncts_over_the_views_columns_are_its_condition_with_parameters_renamed():
    found = reading_condition("SELECT * FROM final_requests WHERE in_window(received_at, date, $since, $until) "
                              "AND resource = 'secrets' AND verb = $verb AND ($cluster IS NULL OR cluster = $cluster)", VIEW, COLUMNS, "r1_")
    assert found is not None
    assert found.sql == ("IN_WINDOW(received_at, date, $r1_since, $r1_until) AND resource = 'secrets' AND verb = $r1_verb "
                         "AND ($r1_cluster IS NULL OR cluster = $r1_cluster)")
    assert found.values({"since": 1, "until": 2, "verb": "get", "cluster": None, "unused": 3}) == {
        "r1_since": 1, "r1_until": 2, "r1_verb": "get", "r1_cluster": None}


def test_conjuncts_that_look_beyond_the_row_are_left_out():
    sql = ("SELECT * FROM final_requests WHERE resource = 'pods' AND $flag AND actor IN (SELECT name FROM admins) "
           "AND code > (SELECT max(code) FROM final_requests) AND random() < 0.5 AND elsewhere.x = 1")
    assert reading_condition(sql, VIEW, COLUMNS, "r1_") is None  # the inner read of final_requests is not bounded
    assert condition(sql.replace("(SELECT max(code) FROM final_requests)", "400")) == "resource = 'pods' AND code > 400"


def test_a_pass_through_select_star_lends_the_outer_where_but_not_its_own_columns():
    sql = ("SELECT * FROM (SELECT *, starts_with(user_name, 'system:') AS not_a_user FROM final_requests) AS r "
           "WHERE r.verb = 'delete' AND NOT not_a_user")
    assert condition(sql) == "verb = 'delete'"
    windowed = "SELECT * FROM (SELECT *, row_number() OVER () AS n FROM final_requests) WHERE verb = 'delete'"
    assert condition(windowed) is None  # filtering first would change what row_number counts
    replaced = "SELECT * FROM (SELECT * REPLACE (lower(verb) AS verb) FROM final_requests) WHERE verb = 'delete'"
    assert condition(replaced) is None  # the outer verb is not the view's


def test_each_read_is_bounded_and_the_reads_are_ored():
    sql = ("WITH seen AS (SELECT DISTINCT actor FROM final_requests WHERE resource = 'secrets' AND code = 200), "
           "now AS (SELECT * FROM final_requests WHERE resource = 'secrets' AND verb = 'list') "
           "SELECT * FROM now WHERE actor NOT IN (SELECT actor FROM seen)")
    assert condition(sql) == "(resource = 'secrets' AND code = 200) OR (resource = 'secrets' AND verb = 'list')"


@pytest.mark.parametrize("sql", [
    "SELECT * FROM final_requests",  # no WHERE
    "SELECT * FROM final_requests WHERE $flag",  # nothing about the row
    "SELECT * FROM final_requests f JOIN grants g ON g.actor = f.actor WHERE f.verb = 'get'",  # a join
    "SELECT * FROM grants g, final_requests f WHERE f.verb = 'get'",
    "SELECT * FROM somewhere_else WHERE verb = 'get'",  # does not read the view
    "WITH final_requests AS (SELECT * FROM events) SELECT * FROM final_requests WHERE verb = 'get'",  # a CTE of the name
], ids=["no where", "parameters only", "join", "comma join", "other view", "a cte of that name"])
def test_a_read_that_cannot_be_bounded_leaves_the_rule_reading_the_view(sql):
    assert condition(sql) is None


def test_a_read_without_the_required_time_bound_is_unbounded():
    """The run's table holds its window: a rule whose read does not keep to the window must read the lake itself."""
    within = "in_window(received_at, date, $since, $until)"
    kept = "SELECT * FROM final_requests WHERE in_window(received_at, date, $since, $until) AND verb = 'get'"
    found = reading_condition(kept, VIEW, COLUMNS, "r1_", within=within)
    assert found is not None and found.reaches_back == ()
    for beyond in ("SELECT * FROM final_requests WHERE verb = 'get'",
                   "SELECT * FROM final_requests WHERE in_window(received_at, date, $since - INTERVAL 1 DAY, $until) AND verb = 'get'",
                   "SELECT * FROM final_requests WHERE in_window(received_at, date, $since, $until + $grace) AND verb = 'get'",
                   "SELECT * FROM final_requests WHERE in_history(received_at, date, $since, $until, $baseline) AND verb = 'get'"):
        assert reading_condition(beyond, VIEW, COLUMNS, "r1_") is not None
        assert reading_condition(beyond, VIEW, COLUMNS, "r1_", within=within) is None, beyond


def test_a_read_reaching_back_by_an_interval_parameter_is_bounded_and_says_by_which():
    """`forbidden-from-public-ip` counts refusals within `$period` before each one: the table must begin that much earlier."""
    within = "in_window(received_at, date, $since, $until)"
    sql = ("WITH recent AS (SELECT * FROM final_requests WHERE in_window(received_at, date, $since - $period, $until) AND code = 403) "
           "SELECT * FROM recent WHERE received_at >= $since")
    found = reading_condition(sql, VIEW, COLUMNS, "r1_", within=within)
    assert found is not None and found.reaches_back == ("period",)
    assert found.sql == "IN_WINDOW(received_at, date, $r1_since - $r1_period, $r1_until) AND code = 403"


def test_the_view_named_in_a_string_or_comment_is_not_a_read_and_is_not_renamed():
    sql = "SELECT *, 'final_requests' AS note FROM final_requests -- final_requests\nWHERE verb = 'get'"
    assert condition(sql) == "verb = 'get'"
    assert renamed_reads(sql, VIEW, "final_requests_of_run") == (
        "SELECT *, 'final_requests' AS note FROM final_requests_of_run -- final_requests\nWHERE verb = 'get'")


def test_a_condition_keeps_every_row_its_rule_returns_on_real_duckdb():
    """Rows outside the condition are never returned by the rule: the rule over the kept rows returns the same."""
    connection = duckdb.connect()
    connection.execute("CREATE TABLE final_requests AS SELECT * FROM (VALUES "
                       "('get', 'secrets', 200, 'alice'), ('list', 'secrets', 403, 'bob'), ('get', 'pods', 200, NULL), "
                       "('delete', 'secrets', 200, 'system:x')) AS t(verb, resource, code, actor)")
    rule = ("SELECT * FROM (SELECT *, coalesce(starts_with(actor, 'system:'), false) AS internal FROM final_requests) "
            "WHERE resource = $resource AND NOT internal AND code BETWEEN 200 AND 299")
    found = reading_condition(rule, VIEW, COLUMNS, "r1_")
    assert found is not None and found.sql == "resource = $r1_resource AND code BETWEEN 200 AND 299"
    values = {"resource": "secrets"}
    connection.execute(f"CREATE TABLE kept AS SELECT * FROM final_requests WHERE {found.sql}", found.values(values))
    assert connection.execute("SELECT count(*) FROM kept").fetchall() == [(2,)]
    alone = connection.execute(rule, values).fetchall()
    assert connection.execute(renamed_reads(rule, VIEW, "kept"), values).fetchall() == alone == [("get", "secrets", 200, "alice", False)]


def test_the_columns_a_rule_reads_are_those_it_names_where_no_answer_depends_on_every_column():
    named = "SELECT cluster, received_at, 'x' AS summary FROM (SELECT * FROM final_requests WHERE verb = 'get' AND user_name <> '') s"
    assert named_columns(named, COLUMNS) == {"cluster", "received_at", "verb", "user_name"}
    assert named_columns("SELECT a.verb FROM final_requests a JOIN final_requests b USING (resource)", COLUMNS) == {"verb", "resource"}
    assert named_columns("SELECT * FROM final_requests UNION ALL SELECT * FROM final_requests WHERE code = 403", COLUMNS) == {"code"}


@pytest.mark.parametrize("sql", [
    "SELECT DISTINCT * FROM final_requests",  # which rows are duplicates depends on every column
    "SELECT DISTINCT r.* FROM final_requests r",
    "SELECT * FROM final_requests GROUP BY ALL",
    "SELECT * FROM final_requests ORDER BY ALL",
    "SELECT verb FROM final_requests UNION SELECT verb FROM final_requests",
    "SELECT verb FROM final_requests EXCEPT SELECT verb FROM final_requests WHERE code = 403",
    "SELECT COLUMNS('user_.*') FROM final_requests",
    "SELECT to_json(r) AS summary FROM final_requests r",  # the row as a value
    "SELECT FROM WHERE",  # what sqlglot cannot read
])
def test_a_rule_that_reads_rows_whole_reads_every_column(sql):
    assert named_columns(sql, COLUMNS) == COLUMNS
