"""The CLI: wiring, output formats, one-line errors and exit codes (the logic is tested elsewhere)."""

from __future__ import annotations

import csv
import datetime
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from auditlake.cli import app
from tests.conftest import DATA, REPO

runner = CliRunner()
AUDITLAKE = Path(sys.executable).with_name("auditlake")
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


# ---- no silent empty answers ------------------------------------------------------------------------
def test_a_parameter_the_header_marks_required_is_required(fixture_lake):
    result = run("query", "run", "user-activity", "--lake", str(fixture_lake.path), "--since", "2000-01-01")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith("error: user-activity needs the parameter 'user': The username")
    assert "hint: give it: -p user=VALUE" in result.stderr
    assert "  user (varchar, required): " in run("query", "show", "user-activity").stdout
    given = run("query", "run", "user-activity", "--lake", str(fixture_lake.path), "--since", "2000-01-01", "-p", "user=admin",
                "--format", "csv")
    assert given.exit_code == 0 and len(list(csv.DictReader(io.StringIO(given.stdout)))) > 0


def test_an_empty_window_warns_and_says_where_the_lake_holds_data(fixture_lake):
    lake = ["--lake", str(fixture_lake.path), "--since", "2030-01-01", "--until", "2030-02-01"]
    window = "the window 2030-01-01 00:00 → 2030-02-01 00:00 UTC holds no events"
    every = ("this lake holds audit2rbac 2017-09-11 19:55 → 20:29 UTC, demo 2026-11-01 → 2026-11-0")
    for command in (["query", "run", "top-actors", *lake], ["changes", *lake], ["detect", *lake]):
        result = run(*command)
        assert result.exit_code == 0, (command, result.output)
        assert f"warning: {window}: {every}" in result.stderr, (command, result.stderr)
        assert "(try --since 2017-09-11 --until 2026-11-0" in result.stderr
    one = run("query", "run", "top-actors", *lake, "--cluster", "audit2rbac")
    assert (f"warning: {window} of cluster audit2rbac: cluster audit2rbac holds 2017-09-11 19:55 → 20:29 UTC "
            "(try --since 2017-09-11 --until 2017-09-12)") in one.stderr
    history = run("history", "deployments/payments/api", *lake)
    assert history.exit_code == 2
    assert history.stderr.startswith("error: no writes to deployments/payments/api in 2030-01-01 00:00 → 2030-02-01 00:00 UTC")
    assert f"hint: {every}" in history.stderr
    held = run("query", "run", "top-actors", "--lake", str(fixture_lake.path), "--since", "2000-01-01", "--cluster", "audit2rbac")
    assert "warning" not in held.stderr and "row(s) in 2000-01-01 00:00 → " in held.stderr


def test_each_windowed_command_states_the_window_it_read(fixture_lake):
    lake = ["--lake", str(fixture_lake.path), "--since", "2026-11-02", "--until", "2026-11-03"]
    for command, said in ((["query", "run", "top-actors", *lake], "row(s) in "), (["changes", *lake], "object(s) in "),
                          (["history", "deployments/payments/api", *lake], "change(s) in "), (["detect", *lake], "; window ")):
        result = run(*command)
        assert result.exit_code == 0 and f"{said}2026-11-02 00:00 → 2026-11-03 00:00 UTC" in result.stderr, (command, result.output)
    default = run("query", "run", "top-actors", "--lake", str(fixture_lake.path))  # the query's own default: the last 7 days
    stated = re.search(r"row\(s\) in (\S+ \S+) → (\S+ \S+) UTC", default.stderr)
    assert stated is not None
    start, end = (datetime.datetime.fromisoformat(text) for text in stated.groups())
    assert end - start == datetime.timedelta(days=7)


def test_changes_refuses_a_kind_the_lake_never_saw_with_did_you_mean(fixture_lake):
    for kind, hint in (("deployment", "did you mean deployments"), ("Deployments", "did you mean deployments"),
                       ("gizmos", "resources are plural and lower case")):
        result = run("changes", "--lake", str(fixture_lake.path), "--since", "2000-01-01", "--kind", kind)
        assert result.exit_code == 2 and result.stderr.startswith(f"error: no events of resource '{kind}' in "), result.output
        assert hint in result.stderr
    history = run("history", "deployment/payments/api", "--lake", str(fixture_lake.path))
    assert history.exit_code == 2 and "did you mean deployments?" in history.stderr


def test_changes_names_the_noise_it_leaves_out_and_shows_it_when_asked(tmp_path):
    lake = str(tmp_path / "lake")
    run("ingest", str(DATA / "immudb_first_300_lines.log"), "--lake", lake, "--cluster", "immudb", "--quiet")
    window = ["--lake", lake, "--since", "2023-03-10", "--until", "2023-03-11", "--format", "json"]
    quiet = run("changes", *window)
    assert quiet.exit_code == 0 and json.loads(quiet.stdout) == []
    assert "note: left out as noise: 7 write(s) to events, 2 to leases (--include-noise shows them)" in quiet.stderr
    assert "warning" not in quiet.stderr  # the window holds events: only the noise was left out
    shown = run("changes", *window, "--include-noise")
    resources = {item["resource"] for item in json.loads(shown.stdout)}
    assert resources == {"events", "leases"} and "note:" not in shown.stderr
    named = run("changes", *window, "--kind", "leases")  # asked for by name: not noise
    assert {item["resource"] for item in json.loads(named.stdout)} == {"leases"} and "note:" not in named.stderr


# ---- a user's mistake is never an internal error ------------------------------------------------------
def test_output_goes_to_a_new_directory_and_a_table_file_takes_its_format_from_its_name(fixture_lake, tmp_path):
    target = tmp_path / "new" / "dir" / "out.csv"
    result = run("sql", "select 1 as one", "--lake", str(fixture_lake.path), "--output", str(target))
    assert result.exit_code == 0, result.output
    assert target.read_text().splitlines() == ['"one"', "1"] and result.stdout == ""
    page = tmp_path / "pages" / "history.html"
    result = run("history", "deployments/payments/api", "--lake", str(fixture_lake.path), "--since", "2026-11-01", "--until", "2026-11-04",
                 "-o", str(page), "--format", "html")
    assert result.exit_code == 0 and page.read_text().startswith("<!")
    unknown = run("sql", "select 1", "--lake", str(fixture_lake.path), "--output", str(tmp_path / "out.txt"))
    assert unknown.exit_code == 2 and "--format table is for the terminal" in unknown.output


def test_a_lake_path_that_is_a_file_and_a_negative_worker_count_are_user_errors(tmp_path, monkeypatch):
    afile = tmp_path / "afile"
    afile.write_text("notes\n")
    result = run("ingest", str(DATA / "immudb_first_300_lines.log"), "--lake", str(afile))
    assert result.exit_code == 2 and result.stderr.startswith(f"error: {afile}: is a file, not a lake directory")
    under = run("status", "--lake", str(afile / "lake"))
    assert under.exit_code == 2 and f"lies under {afile}, which is a file" in under.stderr
    workers = run("ingest", str(DATA / "immudb_first_300_lines.log"), "--lake", str(tmp_path / "lake"), "--workers", "-3")
    assert workers.exit_code == 2 and "--workers" in workers.output and not (tmp_path / "lake").exists()
    monkeypatch.setenv("AUDITLAKE_WORKERS", "-3")
    from auditlake import Lake
    from auditlake.errors import AuditlakeError

    with pytest.raises(AuditlakeError, match=r"AUDITLAKE_WORKERS='-3' is not a number of threads"):
        Lake(tmp_path / "lake").ingest([DATA / "immudb_first_300_lines.log"])


# ---- output that survives pipes, cron mail and CI logs -----------------------------------------------
def test_off_a_terminal_a_table_row_is_one_line_and_a_message_never_breaks_a_path(fixture_lake, tmp_path):
    """`auditlake query run … | cat` and cron mail: stdout and stderr are pipes, as in a real subprocess."""
    agent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) kubectl/v1.31.2 " + "x" * 120
    command = [str(AUDITLAKE), "sql", f"select '{agent}' as user_agent, 'immudb' as cluster", "--lake", str(fixture_lake.path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env={**os.environ, "COLUMNS": "80"})
    assert done.returncode == 0, done.stderr
    assert [line for line in done.stdout.splitlines() if agent in line], done.stdout
    deep = tmp_path / ("a-directory-whose-name-is-long-enough-to-wrap-" * 3) / "missing-lake"
    done = subprocess.run([str(AUDITLAKE), "status", "--lake", str(deep)], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "COLUMNS": "80"})
    assert done.returncode == 2 and done.stderr.splitlines()[0] == f"error: {deep}: no auditlake lake here", done.stderr


def test_a_table_in_a_pipe_is_not_squeezed_to_80_columns(fixture_lake):
    result = run("query", "run", "user-activity", "--lake", str(fixture_lake.path), "--since", "2000-01-01", "-p", "user=admin",
                 "--max-rows", "3")
    lines = result.stdout.splitlines()
    assert result.exit_code == 0 and max(len(line) for line in lines) > 80
    assert len(lines) == 3 + 4  # the header box (3 lines), 3 rows, the bottom line: no row folded over several lines


def test_version_answers_the_same_line_before_and_through_the_cli():
    """`auditlake --version` is answered before typer is imported (start-up); it must say what the CLI's option says."""
    through_cli = runner.invoke(app, ["--version"])
    assert through_cli.exit_code == 0 and re.fullmatch(r"auditlake \S+\n", through_cli.stdout)
    for command in ([str(AUDITLAKE), "--version"], [sys.executable, "-m", "auditlake", "--version"]):
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        assert done.stdout == through_cli.stdout and not done.stderr
    with_more = subprocess.run([sys.executable, "-m", "auditlake", "--version", "status", "--lake", "nowhere"], capture_output=True, text=True)
    assert with_more.stdout == through_cli.stdout and with_more.returncode == 0  # any other argument line goes to the CLI


def run_importing(*args: str) -> tuple[str, set[str]]:
    """`auditlake ARGS` in its own process: what it printed, and every module it imported (`-X importtime`)."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "auditlake", *args], capture_output=True, text=True, check=True)
    return done.stdout, {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}


@pytest.mark.parametrize("output", ["table", "csv", "json", "markdown"])
def test_writing_zoned_times_does_not_import_pandas(fixture_lake, output):
    """Not a timing test: pyarrow imports pandas (0.5 s) when it turns a zoned time or a Python value into Arrow; the
    formats a person reads every day never need it."""
    printed, imported = run_importing("sql", "select received_at, audit_id, user_name from events where cluster = 'immudb' limit 5",
                                      "--lake", str(fixture_lake.path), "--format", output)
    assert "pandas" not in imported and printed.count("\n") >= 5


def test_detect_writes_its_findings_as_csv_without_importing_pandas(fixture_lake):
    printed, imported = run_importing("detect", "--lake", str(fixture_lake.path), "--since", "2000-01-01", "--format", "csv")
    assert "pandas" not in imported and printed.count("\n") > 10
