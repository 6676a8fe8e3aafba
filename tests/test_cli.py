"""The CLI: wiring, output formats, one-line errors and exit codes (the logic is tested elsewhere)."""

from __future__ import annotations

import csv
import io
import json
import re

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from auditlake.cli import app
from tests.conftest import DATA, REPO

runner = CliRunner()
COMMANDS = sorted([command.name or command.callback.__name__ for command in app.registered_commands]
                  + [f"{group.name} {command.name}" for group in app.registered_groups for command in group.typer_instance.registered_commands])


def run(*args: str, input: str | bytes | None = None):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args), input=input)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_explains_itself_with_an_example_and_is_in_the_readme(command):
    result = run(*command.split(), "--help")
    assert result.exit_code == 0
    assert "Example: auditlake " + command in " ".join(result.output.split())
    assert f"auditlake {command}" in (REPO / "README.md").read_text()


def test_exit_codes_are_listed_in_the_help():
    assert "Exit codes: 0 ok" in " ".join(run("--help").output.split())


def test_ingest_then_sql_then_status(tmp_path):
    lake = str(tmp_path / "lake")
    result = run("ingest", str(DATA / "immudb_first_300_lines.log"), "--lake", lake, "--cluster", "prod-eu", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["events_written"] == 300 and summary["cluster"] == "prod-eu"

    result = run("sql", "select verb, count(*) as n from events group by all order by n desc, verb", "--lake", lake, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert result.exit_code == 0 and sum(int(row["n"]) for row in rows) == 300

    result = run("status", "--lake", lake, "--format", "json")
    status = json.loads(result.stdout)
    assert status["events"] == 300 and status["clusters"][0]["cluster"] == "prod-eu" and status["quarantined"] == 0


def test_stdin_is_an_input(tmp_path):
    data = (DATA / "audit2rbac_impersonation_v1beta1.log").read_bytes()
    result = run("ingest", "-", "--lake", str(tmp_path / "lake"), "--cluster", "dev", "--json", input=data)
    assert result.exit_code == 0 and json.loads(result.stdout)["events_written"] == 37


@pytest.mark.parametrize("output", ["json", "jsonl", "markdown", "parquet"])
def test_sql_writes_every_machine_format(tmp_path, fixture_lake, output):
    target = tmp_path / f"out.{output}"
    result = run("sql", "select audit_id, source_ips, annotations, received_at from events where cluster = 'immudb' limit 5",
                 "--lake", str(fixture_lake.path), "--format", output, "--output", str(target))
    assert result.exit_code == 0, result.output
    if output == "parquet":
        assert pq.read_table(target).num_rows == 5
    elif output == "json":
        assert len(json.loads(target.read_text())) == 5
    else:
        assert target.read_text().count("\n") >= 5


def test_strict_turns_quarantined_lines_into_exit_1(tmp_path):
    log = tmp_path / "audit.log"
    log.write_bytes((DATA / "immudb_first_300_lines.log").read_bytes()[:5000] + b"garbage\n")
    result = run("ingest", str(log), "--lake", str(tmp_path / "lake"), "--strict", "--quiet")
    assert result.exit_code == 1
    assert "quarantined (--strict)" in result.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["ingest", "/no/such/audit.log"], "error: /no/such/audit.log: no such file or directory"),
    (["status", "--lake", "/no/such/lake"], "error: /no/such/lake: no auditlake lake here"),
    (["sql", "select nope from events"], "error: Binder Error"),
    (["ingest", str(DATA), "--cluster", "prod/eu"], "error: invalid cluster name"),
    (["ingest", str(DATA), "--cluster", "prod\n"], "error: invalid cluster name"),  # a partition path with a newline in it
])
def test_user_errors_are_one_line_with_a_hint_and_exit_2(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    if args[0] == "sql":
        run("ingest", str(DATA / "khi_lease_update_request_response.jsonl"), "--quiet")
    result = run(*args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith(message) and lines[1].startswith("hint: ")
    assert "Traceback" not in result.output


def test_a_file_that_is_not_an_audit_log_is_a_one_line_error(tmp_path):
    notes = tmp_path / "notes.log"
    notes.write_text("Nov 27 10:00:01 node kubelet[123]: started\n")
    result = run("ingest", str(notes), "--lake", str(tmp_path / "lake"))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {notes}: not an audit log: not JSON (starts with b'Nov 27 10:00'")


def test_query_list_show_and_run(fixture_lake, tmp_path):
    listed = json.loads(run("query", "list", "--format", "json").stdout)
    by_name = {item["name"]: item for item in listed}
    assert "pci-dss-4.0:10.2.1.1" in by_name["secret-reads-by-humans"]["controls"] and by_name["exec-sessions"]["mitre"] == ["T1609"]
    shown = run("query", "show", "impersonation")
    assert shown.exit_code == 0 and "$since" in shown.stdout and "FROM impersonation(p_since := " in shown.stdout
    result = run("query", "run", "impersonation", "--lake", str(fixture_lake.path), "--since", "2017-01-01", "--cluster", "audit2rbac",
                 "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert result.exit_code == 0 and {row["impersonated_user"]: int(row["requests"]) for row in rows}["bob"] == 29
    result = run("query", "run", "top-actors", "--lake", str(fixture_lake.path), "--since", "2017-01-01", "-p", "limit=2", "--format", "json")
    assert len(json.loads(result.stdout)) == 2


@pytest.mark.parametrize(("args", "message"), [
    (["query", "run", "secret-reeds"], "error: no saved query named 'secret-reeds'"),
    (["query", "run", "top-actors", "--namespace", "x"], "error: top-actors has no parameter 'namespace'"),
    (["query", "run", "top-actors", "--since", "soon"], "error: not a time: 'soon'"),
])
def test_query_mistakes_are_one_line_errors(fixture_lake, args, message):
    result = run(*args, "--lake", str(fixture_lake.path))
    assert result.exit_code == 2 and result.stderr.startswith(message)


def test_an_internal_error_is_one_line_and_exit_3(tmp_path, monkeypatch):
    import auditlake.lake

    def broken(*args, **kwargs):
        raise ZeroDivisionError("simulated bug")

    monkeypatch.setattr(auditlake.lake.Lake, "status", broken)
    result = run("status", "--lake", str(tmp_path))
    assert result.exit_code == 3
    assert result.stderr.startswith("internal error: ZeroDivisionError: simulated bug")
    assert "--debug" in result.stderr and "Traceback" not in result.output


def test_the_unsafe_switch_warns_loudly(tmp_path):
    result = run("ingest", str(DATA / "khi_lease_update_request_response.jsonl"), "--lake", str(tmp_path / "lake"),
                 "--unsafe-keep-secret-values", "--quiet")
    assert result.exit_code == 0 and re.search(r"WARNING.*clear text", " ".join(result.stderr.split()))


def test_demo_and_generate_write_real_logs(tmp_path):
    result = run("generate", str(tmp_path / "log"), "--requests", "2000", "--max-size-mb", "0.3")
    assert result.exit_code == 0
    assert sorted(path.name.split("-")[0] for path in (tmp_path / "log").iterdir())[-1] == "audit.log"
    result = run("demo", "--lake", str(tmp_path / "lake"), "--log-dir", str(tmp_path / "demo-log"), "--requests", "2000")
    assert result.exit_code == 0, result.output
    assert "Who read secrets in the last 7 days" in result.stdout and "bob@example.com" in result.stdout


def test_a_cluster_the_lake_does_not_hold_is_an_error_not_an_empty_answer(fixture_lake):
    assert fixture_lake.clusters() == ["audit2rbac", "demo", "immudb", "kind"]
    lake = ["--lake", str(fixture_lake.path), "--since", "2000-01-01"]
    for command in (["query", "run", "top-actors", *lake, "--cluster", "dmeo"], ["detect", *lake, "--cluster", "dmeo"],
                    ["report", "pci-dss", *lake, "--cluster", "dmeo", "--out", "unused"],
                    ["history", "deployments/payments/api", *lake, "--cluster", "dmeo"]):
        result = runner.invoke(app, command)
        assert result.exit_code == 2, command
        assert "no cluster named 'dmeo'" in result.stderr and "did you mean demo?" in result.stderr, command
    assert runner.invoke(app, ["query", "run", "top-actors", *lake, "--cluster", "demo"]).exit_code == 0


def test_event_drills_down_to_every_stage_of_one_request_and_where_it_was_read(fixture_lake):
    log = DATA / "immudb_first_300_lines.log"
    lines = log.read_text().splitlines()
    wanted = json.loads(lines[0])["auditID"]
    expected = [(number, json.loads(line)["stage"]) for number, line in enumerate(lines, 1) if json.loads(line)["auditID"] == wanted]
    assert len(expected) >= 2  # RequestReceived and ResponseComplete
    result = run("event", wanted, "--lake", str(fixture_lake.path))
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(row["source_line"], row["stage"]) for row in rows] == expected
    assert {row["source_file"] for row in rows} == {str(log)} and {row["cluster"] for row in rows} == {"immudb"}
    lease = json.loads((DATA / "khi_lease_update_request_response.jsonl").read_text())
    bodies = json.loads(run("event", lease["auditID"], "--lake", str(fixture_lake.path), "--cluster", "kind").stdout)
    assert bodies[0]["response_object"]["metadata"]["resourceVersion"] == lease["responseObject"]["metadata"]["resourceVersion"]
    missing = run("event", "no-such-id", "--lake", str(fixture_lake.path))
    assert missing.exit_code == 2 and missing.stderr.startswith("error: no event with audit id 'no-such-id'")


def test_data_and_messages_print_as_written_not_as_terminal_markup(fixture_lake, tmp_path):
    table = run("sql", "select '[a-z] [bold]x' as pattern", "--lake", str(fixture_lake.path))
    assert "[a-z] [bold]x" in table.stdout
    tuning = tmp_path / "tuning.yaml"
    tuning.write_text("x: [1]\n")
    refused = run("detect", "--lake", str(fixture_lake.path), "--tuning", str(tuning))
    assert refused.exit_code == 2 and "{allowed_users: [admin]}" in refused.stderr
