"""Every command, run the ways a user's mistake or a pipeline runs it: its reader gone (`| head -1`), its
output directory missing, its lake path a file. Each ends with exit 0, 1 or 2, at most one `error:`
line (and its `hint:`), and never a traceback or an "internal error"."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from auditlake import Lake
from auditlake.cli import app
from tests.conftest import DATA
from tests.test_cli import COMMANDS
from tests.test_policy import APISERVER

AUDITLAKE = Path(sys.executable).with_name("auditlake")
LEASE = "leases/kube-node-lease/ubuntu-focal"  # written in immudb_first_300_lines.log
POLICY = "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n  - level: Metadata\n"
WINDOW = ["--since", "2000-01-01"]  # the slices are from 2017-2024: every windowed command has rows to print

# What each command is given; {lake}, {out} (a directory that does not exist yet), {files} are filled in.
# A command missing here (one added later) is run as its help's example says, with --lake pointed at the test lake.
INVOCATIONS: dict[str, list[str]] = {
    "ingest": ["{files}/audit.log", "--lake", "{lake}", "--json"],
    "status": ["--lake", "{lake}"],
    "sql": ["select * from events", "--lake", "{lake}", "--format", "csv"],
    "query list": [],
    "query show": ["user-activity"],
    "query run": ["top-actors", "--lake", "{lake}", *WINDOW],
    "history": [LEASE, "--lake", "{lake}", *WINDOW],
    "changes": ["--lake", "{lake}", *WINDOW],
    "event": ["--lake", "{lake}"],  # the audit id is added in `arguments`
    "detect": ["--lake", "{lake}", *WINDOW, "--format", "jsonl"],
    "report": ["change-log", "--lake", "{lake}", *WINDOW, "--out", "{out}/reports"],
    "compact": ["--lake", "{lake}"],
    "catalog": ["--lake", "{lake}"],
    "demo": ["--lake", "{out}/demo-lake", "--log-dir", "{out}/demo-log", "--requests", "200"],
    "generate": ["{out}/generated", "--requests", "200"],
    "policy check": ["{files}/policy.yaml"],
    "policy explain": ["{files}/policy.yaml", "--user", "alice", "--resource", "pods"],
    "policy simulate": ["{files}/policy.yaml", "--lake", "{lake}", *WINDOW],
    "policy recommend": [],
    "policy check-apiserver": ["{files}/kube-apiserver.yaml"],
    "rbac suggest": ["--user", "admin", "--lake", "{lake}", *WINDOW],  # kubectl's user in immudb_first_300_lines.log
    "rbac unused": ["--lake", "{lake}", *WINDOW],
}


def _commands() -> dict[str, Any]:
    """The typer app's commands by name (`query run`), with their options."""
    found: dict[str, Any] = {}

    def walk(group: Any, prefix: tuple[str, ...]) -> None:
        for name, command in group.commands.items():
            if hasattr(command, "commands"):
                walk(command, (*prefix, name))
            else:
                found[" ".join((*prefix, name))] = command

    walk(typer.main.get_command(app), ())
    return found


def _option(command: str, *names: str) -> str | None:
    """The command's option with one of these names (`--output`/`--out`), if it has one."""
    return next((name for parameter in _commands()[command].params for name in getattr(parameter, "opts", []) if name in names), None)


def _example(command: str) -> list[str]:
    """The arguments of the command's `Example: auditlake …` help line."""
    line = next((line.strip() for line in (_commands()[command].help or "").splitlines() if line.strip().startswith("Example: auditlake ")), "")
    return shlex.split(line)[2 + len(command.split()):] if line else []


@pytest.fixture(scope="module")
def small_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real slices in two clusters; each test works on its own copy (some commands write)."""
    root = tmp_path_factory.mktemp("robust") / "lake"
    lake = Lake(root)
    lake.ingest([DATA / "immudb_first_300_lines.log"], cluster="immudb")
    lake.ingest([DATA / "khi_lease_update_request_response.jsonl"], cluster="kind")
    return root


@pytest.fixture
def world(small_lake: Path, tmp_path: Path) -> dict[str, str]:
    lake = tmp_path / "lake"
    shutil.copytree(small_lake, lake)
    files = tmp_path / "files"
    files.mkdir()
    shutil.copyfile(DATA / "audit2rbac_impersonation_v1beta1.log", files / "audit.log")
    (files / "policy.yaml").write_text(POLICY)
    (files / "kube-apiserver.yaml").write_text(APISERVER)
    (tmp_path / "afile").write_text("not a lake\n")
    return {"lake": str(lake), "out": str(tmp_path / "missing" / "dir"), "files": str(files), "afile": str(tmp_path / "afile"),
            "audit_id": (DATA / "khi_lease_update_request_response.jsonl").read_text().split('"auditID":"', 1)[1].split('"', 1)[0]}


def arguments(command: str, world: dict[str, str]) -> list[str]:
    if command not in INVOCATIONS:  # a new command: its own example, on the test lake
        example = _example(command)
        if "--lake" in example:
            example[example.index("--lake") + 1] = world["lake"]
        elif _option(command, "--lake"):
            example += ["--lake", world["lake"]]
        return [*command.split(), *example]
    args = [*command.split(), *(word.format(**world) for word in INVOCATIONS[command])]
    return [*args[:1], world["audit_id"], *args[1:]] if command == "event" else args


def assert_ended_cleanly(exit_code: int, stderr: str, context: object) -> None:
    assert exit_code in (0, 1, 2), (context, exit_code, stderr)
    assert "Traceback" not in stderr and "internal error" not in stderr, (context, stderr)
    errors = [line for line in stderr.splitlines() if line.lower().startswith("error:")]
    assert len(errors) <= 1, (context, stderr)


def test_every_command_has_an_invocation_here_or_an_example():
    for command in COMMANDS:
        assert command in INVOCATIONS or _example(command), command


@pytest.mark.slow
@pytest.mark.parametrize("command", COMMANDS)
def test_a_reader_that_goes_away_ends_the_command_quietly(command, world):
    """`auditlake sql … | head -1`: the pipe closes before (or while) the command writes; it stops as cat does."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("AUDITLAKE_")}
    process = subprocess.Popen([str(AUDITLAKE), *arguments(command, world)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               stdin=subprocess.DEVNULL, cwd=world["files"], env=environment)
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # the reader is gone before the first byte
    stderr = process.stderr.read().decode()
    exit_code = process.wait(timeout=300)
    assert_ended_cleanly(exit_code, stderr, command)
    assert "Broken pipe" not in stderr and "Exception ignored" not in stderr, stderr


@pytest.mark.parametrize("command", [command for command in COMMANDS if _option(command, "--output", "--out")
                                     or command in ("demo", "generate")])  # these two write under {out} already
def test_an_output_directory_that_does_not_exist_is_created(command, world):
    option = _option(command, "--output", "--out")
    target = Path(world["out"]) / ("report" if option == "--out" else "result.json")
    args = arguments(command, world) + ([option, str(target)] if option else [])
    result = CliRunner().invoke(app, args)
    assert_ended_cleanly(result.exit_code, result.stderr, args)
    assert result.exit_code in (0, 1), result.output
    assert Path(world["out"]).is_dir() and any(Path(world["out"]).iterdir())


@pytest.mark.parametrize("command", [command for command in COMMANDS if _option(command, "--lake")])
def test_a_lake_path_that_is_a_file_is_a_user_error(command, world):
    args = arguments(command, world)
    args = [world["afile"] if arg in (world["lake"], f"{world['out']}/demo-lake") else arg for arg in args]
    if world["afile"] not in args:
        args += ["--lake", world["afile"]]
    result = CliRunner().invoke(app, args)
    assert_ended_cleanly(result.exit_code, result.stderr, args)
    assert result.exit_code == 2 and result.stderr.startswith(f"error: {world['afile']}: is a file, not a lake directory"), result.output


def test_a_file_named_for_output_in_a_place_that_cannot_be_a_directory_is_exit_2(world):
    result = CliRunner().invoke(app, ["sql", "select 1 as one", "--lake", world["lake"], "--format", "csv",
                                      "--output", f"{world['afile']}/x.csv"])
    assert result.exit_code == 2 and result.stderr.startswith(f"error: {world['afile']}/x.csv: cannot write"), result.output



FORMAT_COMMANDS = [command for command in _commands() if _option(command, "--format")]


def test_every_output_format_option_is_found():
    """The discovery below sees every command with a --format (ingest's input format is --input-format)."""
    assert {"sql", "status", "query list", "query show", "policy check", "policy explain", "report"} <= set(FORMAT_COMMANDS)
    assert "ingest" not in FORMAT_COMMANDS and _option("ingest", "--input-format")


@pytest.mark.parametrize("command", FORMAT_COMMANDS)
def test_a_bad_format_is_a_usage_error_that_lists_the_choices(command, world):
    """Every command's --format is checked against the formats it accepts (render.formats.ACCEPTS): exit 2, the choices named."""
    result = CliRunner().invoke(app, [*arguments(command, world), "--format", "xlsx"])
    assert result.exit_code == 2, (command, result.output)
    assert "xlsx" in result.output and "json" in result.output, (command, result.output)  # every command offers json
    assert "Traceback" not in result.output and "internal error" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
