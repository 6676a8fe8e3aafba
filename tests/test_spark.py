"""Saved queries on Spark give DuckDB's answers: parity per portable query, the `engines` header, the CLI.

Sessions of the one local Spark JVM of the test worker (`spark_jvm`, `local[2]`, in tests/conftest.py); they skip,
saying why, without java or pyspark.
"""

from __future__ import annotations

import decimal
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from auditlake import Lake
from auditlake.errors import QueryError
from auditlake.library import Library
from auditlake.library.savedquery import load_file
from tests.conftest import DATA, SHARED, quick_spark_session, requires_shared

pyspark = pytest.importorskip("pyspark", reason="pyspark is not installed: pip install 'auditlake[spark]'")
pytestmark = pytest.mark.skipif(shutil.which("java") is None, reason="java is not on PATH: the Spark tests need Java 17+ (make java)")

WHOLE = {"since": "2017-01-01", "until": "2027-01-01"}  # covers every event of the fixture lake
SAVED = [query for query in Library().saved_queries()]
PORTABLE = [query.name for query in SAVED if "spark" in query.engines]
CORE = ["deployment-changes", "secret-reads-by-humans", "exec-sessions", "failed-authentication", "failed-authorization",
        "rbac-changes", "top-actors", "volume-per-day", "user-activity"]


@pytest.fixture(scope="module")
def spark(spark_jvm: Any) -> Any:
    """A session for the tests that register other lakes or none."""
    return quick_spark_session(spark_jvm)


@pytest.fixture(scope="module")
def parity_spark(spark_jvm: Any, fixture_lake: Lake) -> Any:
    """A session of its own showing the fixture lake, registered once, its events cached in Spark's memory (the parity
    tests read them ~110 times); no other test registers a lake in it, so the cache is never dropped for uncached views."""
    from auditlake.library.macros import catalog_items
    from auditlake.scaleout import spark as engine

    session = quick_spark_session(spark_jvm)
    engine.register(session, fixture_lake.store, catalog_items(), cache=True)
    return session


def normalised(value: Any) -> Any:
    """A value as both engines must agree on it: instants in UTC, numbers rounded, lists and maps as sorted tuples."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC).isoformat()
    if isinstance(value, float | decimal.Decimal):
        return round(float(value), 6)
    if isinstance(value, list | tuple):
        return tuple(sorted((normalised(item) for item in value), key=repr))
    if isinstance(value, dict):
        return tuple(sorted((key, normalised(item)) for key, item in value.items()))
    return value


def rows(table: Any) -> list[tuple[Any, ...]]:
    return sorted((tuple(normalised(value) for value in row.values()) for row in table.to_pylist()), key=repr)


def assert_same_answer(lake: Lake, spark: Any, name: str, **params: Any) -> int:
    duck = lake.query_arrow(name, **params)
    on_spark = lake.spark_query_arrow(name, spark=spark, **params)
    assert on_spark.column_names == duck.column_names, f"{name}: columns differ on Spark"
    expected, got = rows(duck), rows(on_spark)
    missing, extra = [row for row in expected if row not in got][:2], [row for row in got if row not in expected][:2]
    assert expected == got, f"{name}: {len(duck)} rows on DuckDB, {len(on_spark)} on Spark; only DuckDB: {missing}; only Spark: {extra}"
    return len(duck)


def required_values(lake: Lake, name: str, user: str = "alice") -> dict[str, Any]:
    """Values for the parameters a query cannot run without (the rest keep their defaults, as DuckDB gets them)."""
    values: dict[str, Any] = {}
    for parameter in lake.saved_query(name).params:
        if parameter.name == "audit_id" and parameter.required:
            values["audit_id"] = lake.sql_arrow("SELECT audit_id FROM changes WHERE resource = 'deployments' ORDER BY received_at, "
                                                "audit_id LIMIT 1").column("audit_id")[0].as_py()
        elif parameter.name == "user" and parameter.required:
            values["user"] = user  # the fixture lake's: audit2rbac's system:admin impersonates alice
        elif parameter.required:
            raise AssertionError(f"{name}: give the parity test a value for its required parameter {parameter.name!r}")
    return values


@pytest.mark.parametrize("name", PORTABLE)
def test_a_portable_query_gives_duckdbs_answer_on_spark(parity_spark: Any, fixture_lake: Lake, name: str) -> None:
    assert_same_answer(fixture_lake, parity_spark, name, **WHOLE, **required_values(fixture_lake, name))


def test_the_core_questions_and_fifteen_detections_are_portable() -> None:
    assert set(CORE) <= set(PORTABLE)
    assert sum(1 for query in SAVED if query.is_detection and "spark" in query.engines) >= 15


def test_every_saved_query_says_where_it_runs() -> None:
    unsaid = [query.name for query in SAVED if not query.has_engines]
    assert not unsaid, f"add `engines:` to the header of: {', '.join(unsaid)}"
    unexplained = [query.name for query in SAVED if "spark" not in query.engines and not query.engine_notes.get("spark")]
    assert not unexplained, f"say why these cannot run on Spark: {', '.join(unexplained)}"


def test_a_duckdb_only_query_on_spark_is_one_line_with_its_reason(fixture_lake: Lake) -> None:
    duckdb_only = next(query for query in SAVED if "spark" not in query.engines)
    with pytest.raises(QueryError) as raised:
        fixture_lake.spark_query_arrow(duckdb_only.name, spark=object(), **WHOLE)  # refused before Spark is touched
    message = str(raised.value.message)
    assert "\n" not in message and "DuckDB only" in message and duckdb_only.engine_notes["spark"] in message


@pytest.mark.parametrize(("header", "error"), [
    ("engines: [duckdb, spark]", None),
    ("engines: {duckdb: true, spark: \"uses json_exists, which Spark lacks\"}", None),
    ("engines: [duckdb, trino]", "unknown engine 'trino'"),
    ("engines: [spark]", "every saved query runs on duckdb"),
    ("engines: {duckdb: true, spark: false}", "must be true or the reason"),
    ("engines: spark", "engines must be a list"),
])
def test_the_engines_header_is_strict(tmp_path: Path, header: str, error: str | None) -> None:
    path = tmp_path / "q.sql"
    path.write_text(f"/*\ntitle: t\n{header}\nparams:\n  since: {{type: timestamptz}}\n  until: {{type: timestamptz}}\n"
                    "needs: [{level: Metadata}]\n*/\nSELECT 1 FROM events WHERE received_at >= $since AND received_at < $until\n")
    if error is None:
        assert "duckdb" in load_file(path, tmp_path).engines
        return
    with pytest.raises(QueryError, match=error):
        load_file(path, tmp_path)


def test_register_makes_the_views_a_spark_user_reads(spark: Any, fixture_lake: Lake) -> None:
    from auditlake.spark import register

    registration = register(spark, fixture_lake)
    assert {"events", "changes", "reads", "final_requests", "exec_requests", "sessions"} <= set(registration.views)
    assert not registration.unavailable
    clusters = {row["cluster"] for row in spark.sql("SELECT DISTINCT cluster FROM events").collect()}
    assert clusters == {"immudb", "audit2rbac", "kind", "demo"}
    assert spark.sql("SELECT date FROM events LIMIT 1").schema["date"].dataType.typeName() == "date"


def test_a_run_makes_the_views_its_query_reads_and_no_other(spark_jvm: Any, fixture_lake: Lake) -> None:
    from auditlake.library.macros import catalog_items
    from auditlake.scaleout.spark import REGISTERED_VIEWS_KEY, views_read

    def reads(name: str) -> set[str]:
        return views_read(Library().saved_query(name).statement, items)

    items = catalog_items()
    assert reads("role-with-wildcard") == {"role_creations", "final_requests"}  # role_creations reads final_requests
    assert reads("exec-or-attach") == {"exec_requests"}
    assert reads("volume-per-day") == set()  # events alone

    session = quick_spark_session(spark_jvm)  # a session of its own: nothing registered yet
    assert fixture_lake.spark_query_arrow("volume-per-day", spark=session, **WHOLE).num_rows
    assert set(session.conf.get(REGISTERED_VIEWS_KEY).split(",")) <= {"events", "findings"}
    assert_same_answer(fixture_lake, session, "role-with-wildcard", **WHOLE)  # the views it reads are made now, and answer as DuckDB
    shown = set(session.conf.get(REGISTERED_VIEWS_KEY).split(","))
    assert {"events", "role_creations", "final_requests"} <= shown and not shown & {"changes", "exec_requests", "sessions"}
    assert_same_answer(fixture_lake, session, "volume-per-day", **WHOLE)  # what it made stays; nothing is made again
    assert set(session.conf.get(REGISTERED_VIEWS_KEY).split(",")) == shown


def test_a_run_after_the_lake_changed_makes_every_view_the_session_showed_again(spark_jvm: Any, tmp_path: Path) -> None:
    from auditlake.scaleout.spark import REGISTERED_VIEWS_KEY

    lake = Lake(tmp_path / "lake")
    lake.ingest([DATA / "audit2rbac_cluster_rbac_create_delete.log"], cluster="rbac")
    session = quick_spark_session(spark_jvm)
    lake.spark_query_arrow("role-with-wildcard", spark=session, **WHOLE)  # makes role_creations and final_requests
    lake.ingest([DATA / "immudb_first_300_lines.log"], cluster="immudb")  # the lake changes
    assert_same_answer(lake, session, "volume-per-day", **WHOLE)  # events shows the new files
    assert {"role_creations", "final_requests"} <= set(session.conf.get(REGISTERED_VIEWS_KEY).split(","))
    clusters = {row[0] for row in session.sql("SELECT DISTINCT cluster FROM final_requests").collect()}
    assert clusters == {"rbac", "immudb"}  # over the lake as it is now, not as it was when the view was first made


@requires_shared
def test_the_core_questions_agree_on_a_larger_real_log(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> None:
    log = SHARED / "immudb-log-audit" / "k8s.log"
    assert log.is_file(), f"{log} is part of ../shared/data (see its MANIFEST.json)"
    lake = Lake(tmp_path_factory.mktemp("immudb") / "lake")
    lake.ingest([log], cluster="immudb")
    answered = {name: assert_same_answer(lake, spark, name, **WHOLE, **required_values(lake, name, user="admin")) for name in CORE}
    assert answered["volume-per-day"] and answered["top-actors"]


def test_auditlake_spark_run_prints_like_query_run(fixture_lake: Lake) -> None:
    """A subprocess of its own: the CLI starts its own local session."""
    done = subprocess.run([sys.executable, "-m", "auditlake", "spark", "run", "volume-per-day", "--lake", str(fixture_lake.path),
                           "--since", WHOLE["since"], "--until", WHOLE["until"], "--master", "local[1]", "--driver-memory", "768m",
                           "--format", "csv"],
                          capture_output=True, text=True, env={**os.environ}, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [line.replace('"', "") for line in done.stdout.splitlines()]
    assert lines[0].startswith("cluster,date,level,events")
    assert any(line.startswith("demo,2026-11-01,") for line in lines)
    assert "row(s) on Spark" in done.stderr
    # Spark's own WARN chatter stays off stderr (it once printed a Java stack trace for the lake's file pattern) and
    # so does pyspark's pandas-version warning: what is left is auditlake's line and the JVM's few start-up lines
    assert not [line for line in done.stderr.splitlines() if line.startswith("\tat ") or " WARN " in line or "Warning" in line]
    assert len(done.stderr.splitlines()) <= 5, done.stderr


def test_a_spark_failure_is_one_line_and_running_out_of_heap_says_what_to_give() -> None:
    from auditlake.scaleout.spark import failure

    query = next(query for query in SAVED if query.name == "top-actors")
    stack = "An error occurred while calling o424.getResult.\n: org.apache.spark.SparkException: Job aborted\n" \
            "Caused by: java.lang.OutOfMemoryError: Java heap space\n\tat org.apache.spark.rdd.RDD.iterator(RDD.scala:338)"
    heap = failure(query, RuntimeError(stack))
    assert heap.message == "top-actors ran out of memory on Spark (the JVM's heap, spark.driver.memory, default 1g)"
    assert "--driver-memory 4g" in heap.hint
    other = failure(query, RuntimeError("[TABLE_OR_VIEW_NOT_FOUND] The table or view `nope` cannot be found.\n\tat org.apache…"))
    assert other.message == "top-actors failed on Spark: [TABLE_OR_VIEW_NOT_FOUND] The table or view `nope` cannot be found."


def test_auditlake_spark_run_refuses_a_duckdb_only_query_in_one_line(fixture_lake: Lake) -> None:
    from typer.testing import CliRunner

    from auditlake.cli import app

    duckdb_only = next(query for query in SAVED if "spark" not in query.engines)
    result = CliRunner().invoke(app, ["spark", "run", duckdb_only.name, "--lake", str(fixture_lake.path), "--since", "7d"])
    assert result.exit_code == 2
    assert "runs on DuckDB only" in result.output


# Each fix to sqlglot's DuckDB → Spark output, checked by running the same expression on both engines.
FIXED_FUNCTIONS = {
    "list_has_any": "list_has_any(['a', 'b'], ['b', 'c'])",
    "slice": "[10, 20, 30, 40][2:3]",
    "epoch": "epoch(TIMESTAMPTZ '2026-11-01 10:00:00.250+00')",
    "timezone": "CAST(timezone('UTC', TIMESTAMPTZ '2026-11-01 23:30:00+00') AS DATE)",
    "wildcard": "json_extract_string('{\"a\": [{\"b\": \"x\"}, {\"c\": 1}, {\"b\": 2}]}', '$.a[*].b')",
    "wildcard one": "CAST(json_extract_string('{\"command\": [\"sh\"]}', '$.command[*]') AS VARCHAR[])",
    "wildcard none": "json_extract_string('{\"a\": 1}', '$.subjects[*].name')",
    "json_keys": "list_sort(json_keys('{\"data\": {\"b\": 1, \"a\": 2}}', '$.data'))",
    "json array": "list_transform(CAST(json_extract('{\"c\": [{\"image\": \"a\"}, {\"image\": \"b\"}]}', '$.c') AS JSON[]), "
                  "lambda c: json_extract_string(c, '$.image'))",
    "list_bool_or": "list_bool_or([false, NULL, true])",
    "list_has_all": "list_has_all(['a', 'b', 'c'], ['c', 'a'])",
    "json_exists": "json_exists('{\"a\": {\"b\": 1}}', '$.a.b')",
    "regexp_full_match": "regexp_full_match('abc', 'b')",
    "regexp_escape": "regexp_matches('a.b+c\\E', regexp_escape('.b+c\\E'))",
    "regexp_matches 'i'": "regexp_matches('KubeCTL', 'kubectl', 'i')",
    "list_position": "[list_position(['a', 'b'], 'b'), list_position(['a'], 'z')]",
    "strlen": "strlen('héllo')",
    "nested": "list_bool_or(list_transform([['a', 'b'], ['c']], lambda l: list_has_all(l, ['b'])))",
    "date_diff": "date_diff('day', TIMESTAMPTZ '2026-11-01 23:59:00+00', TIMESTAMPTZ '2026-11-02 00:01:00+00')",
}


@pytest.mark.parametrize("expression", FIXED_FUNCTIONS.values(), ids=FIXED_FUNCTIONS.keys())
def test_a_fixed_function_means_on_spark_what_it_means_on_duckdb(spark: Any, expression: str) -> None:
    import duckdb

    from auditlake.scaleout import dialect

    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    expected = connection.sql(f"SELECT {expression} AS v").fetchall()[0][0]
    got = spark.sql(dialect.translate(f"SELECT {expression} AS v", {})).collect()[0]["v"]
    assert normalised(got) == normalised(expected), dialect.translate(f"SELECT {expression} AS v", {})


def test_macros_expand_with_named_and_default_arguments() -> None:
    from auditlake.scaleout import dialect

    macros = {"f": dialect.parse_macro("CREATE OR REPLACE MACRO f(a, b := 'x', c := NULL) AS a || b || coalesce(c, '-')"),
              "g": dialect.parse_macro("CREATE MACRO g(a) AS f(a, c := 'z')")}
    assert dialect.translate("SELECT g('q') AS v", macros) == "SELECT (((('q')) || ('x') || COALESCE(('z'), '-'))) AS v"
