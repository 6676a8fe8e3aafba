"""Compliance reports: every section's numbers are what the simulated cluster really did, on real logs too."""

from __future__ import annotations

import csv
import dataclasses
import json
import re
import shlex
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute  # noqa: F401  (pa.compute)
import pytest
from typer.testing import CliRunner

from auditlake import Lake
from auditlake.cli import app
from auditlake.errors import QueryError
from auditlake.render import charts, pages
from auditlake.render import report as report_render
from auditlake.render import text as render_text
from auditlake.reports import packs
from auditlake.store import digests
from tests.conftest import DEMO_START, REPO, SHARED, requires_shared

runner = CliRunner()
WINDOW = {"since": DEMO_START, "until": datetime(2026, 11, 4, tzinfo=UTC), "cluster": "demo"}  # the whole simulated three days
GENERATED = datetime(2026, 11, 5, 6, 0, tzinfo=UTC)
GOLDEN = REPO / "tests" / "golden"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def pci(fixture_lake):
    return fixture_lake.report("pci-dss", **WINDOW, now=GENERATED)


def results(report) -> dict[str, object]:
    return {check.name: check for section in report.sections for check in section.checks}


def column_sum(check, column: str) -> int:
    return sum(check.table.column(column).to_pylist())


def attack_requests(truth, where) -> int:  # type: ignore[no-untyped-def]
    """How many requests of the simulation's attack stories (tests/test_attack_stories.py) a check counts too."""
    return sum(1 for event in truth.attack_requests if where(event))


def by_person(event) -> bool:  # type: ignore[no-untyped-def]
    return not event["user"]["username"].startswith("system:")


def is_exec(event) -> bool:  # type: ignore[no-untyped-def]
    return event["objectRef"].get("resource") == "pods" and event["objectRef"].get("subresource") == "exec"


def reads_sensitive_data(event) -> bool:  # type: ignore[no-untyped-def]
    ref = event.get("objectRef", {})
    return by_person(event) and ((ref.get("resource") in ("secrets", "configmaps") and "subresource" not in ref and event["verb"] in ("get", "list", "watch"))
                                 or (ref.get("resource") == "pods" and ref.get("subresource") in ("log", "exec", "attach", "portforward")))


def test_pci_dss_sections_count_what_the_simulated_cluster_did(pci, demo_truth):
    stories = demo_truth.stories
    checks = results(pci)
    assert [section.section.control for section in pci.sections] == [
        "10.2.1", "10.2.1.1", "10.2.1.2", "10.2.1.3", "10.2.1.4", "10.2.1.5", "10.2.1.6", "10.2.1.7", "10.2.2", "10.4.1", "10.5.1"]
    assert column_sum(checks["volume-per-day"], "events") == demo_truth.events == pci.evidence.events
    assert checks["coverage-gaps"].table.num_rows == 0  # the simulation never stops for 15 minutes
    people_reading_sensitive_data = ("human_secret_read", "forbidden", "secret_listing", "pod_log_read", "exec_into_pod",
                                     "port_forward_or_attach", "audit_log_access")
    assert checks["sensitive-data-access"].table.num_rows == (sum(stories[name] for name in people_reading_sensitive_data)
                                                              + attack_requests(demo_truth, reads_sensitive_data))
    assert checks["secret-listing-across-namespaces"].flagged == stories["secret_listing"]
    assert column_sum(checks["admin-actions"], "requests") == stories["admin_action"]
    assert set(checks["admin-actions"].table.column("administrator").to_pylist()) == {"kubernetes-admin"}  # not the apiserver itself
    assert checks["exec-sessions"].table.num_rows == stories["exec_into_pod"] + stories["port_forward_or_attach"] + attack_requests(demo_truth, is_exec)
    assert column_sum(checks["impersonation"], "requests") == stories["impersonated_read"]
    assert checks["audit-log-access"].table.num_rows == stories["audit_log_access"] > 0
    assert column_sum(checks["failed-authentication"], "failures") == stories["unauthenticated"]
    refused = attack_requests(demo_truth, lambda event: event["responseStatus"]["code"] == 403)  # the admin-clusterrole story's probes
    assert column_sum(checks["failed-authorization"], "failures") == stories["forbidden"] + refused == stories["forbidden"] + 10
    assert column_sum(checks["failed-access-per-day"], "unauthenticated") == stories["unauthenticated"]
    assert checks["apiserver-starts"].table.num_rows == stories["apiserver_restart"] > 0
    completeness = checks["record-completeness"].table.to_pylist()
    assert completeness == [{"cluster": "demo", "events": demo_truth.by_stage["ResponseComplete"], "user_pct": 100.0,
                             "failed_logins": stories["unauthenticated"], "type_pct": 100.0, "time_pct": 100.0, "outcome_pct": 100.0,
                             "origin_pct": 100.0, "resource_pct": 100.0, "complete": True}]
    assert column_sum(checks["daily-review"], "failed_authentication") == stories["unauthenticated"]
    retention = checks["retention"].table.to_pylist()[0]
    assert (retention["days_of_history"], retention["keeps_3_months"], retention["keeps_12_months"]) == (3.0, False, False)


def test_each_section_says_whether_it_needs_attention(pci):
    status = {section.section.control: section.status for section in pci.sections}
    assert status["10.2.1"] == "pass"  # events every day, no silence
    assert status["10.2.1.3"] == "attention"  # someone read the apiserver's logs
    assert status["10.2.1.6"] == "attention"  # the apiserver restarted
    assert status["10.2.1.7"] == "evidence"  # listings only
    assert status["10.2.2"] == "pass"
    assert status["10.5.1"] == "attention"  # three days is not twelve months
    assert pci.status == "attention"


def test_the_evidence_lets_an_auditor_rerun_and_verify(pci, fixture_lake, demo_truth):
    evidence = pci.evidence
    assert (evidence.since, evidence.until, evidence.cluster) == (WINDOW["since"], WINDOW["until"], "demo")
    assert [row["cluster"] for row in evidence.clusters] == ["demo"]
    assert evidence.clusters[0]["events"] == demo_truth.events
    demo_files = sorted(path.name for path in (fixture_lake.path.parent / "demo-log").iterdir())
    assert sorted(Path(source["file"]).name for source in evidence.sources) == demo_files
    manifest = fixture_lake.store.load_manifest()
    by_name = {record.names[-1]: record.sha256 for record in manifest.sources.values()}
    assert all(source["sha256"] == by_name[source["file"]] for source in evidence.sources)
    assert all(len(source["sha256"]) == 64 for source in evidence.sources)  # every demo file was read whole
    assert sum(file["rows"] for file in evidence.files) >= demo_truth.events
    assert "auditlake report pci-dss" in evidence.command and "--cluster demo" in evidence.command
    assert evidence.pack_file == "queries/packs/pci-dss.yaml"


def test_each_check_carries_the_exact_saved_query_and_its_values(pci, fixture_lake):
    check = results(pci)["admin-actions"]
    assert check.source == "queries/compliance/admin-actions.sql"
    assert check.sql == fixture_lake.saved_query("admin-actions").sql.strip()
    assert check.values["admin_groups"] == ["system:masters", "kubeadm:cluster-admins"] and check.values["cluster"] == "demo"
    rerun = fixture_lake.query_arrow("admin-actions", **{key: value for key, value in check.values.items() if value is not None})
    assert rerun.equals(check.table)


def test_pack_parameters_narrow_sensitive_data_to_the_cardholder_namespaces(fixture_lake):
    every = results(fixture_lake.report("pci-dss", **WINDOW))["sensitive-data-access"].table
    payments = results(fixture_lake.report("pci-dss", **WINDOW, params={"namespaces": "payments"}))["sensitive-data-access"].table
    assert 0 < payments.num_rows < every.num_rows
    assert set(payments.column("namespace").to_pylist()) == {"payments"}
    with pytest.raises(QueryError, match="no parameter 'namespace'"):
        fixture_lake.report("pci-dss", **WINDOW, params={"namespace": "payments"})


def test_hipaa_and_security_findings_run_on_the_same_evidence(fixture_lake, demo_truth):
    hipaa = fixture_lake.report("hipaa", **WINDOW)
    assert [section.section.control for section in hipaa.sections] == [
        "164.312(b)", "164.308(a)(1)(ii)(D)", "164.308(a)(5)(ii)(C)", "164.312(a)(1)", "164.312(c)(1)", "164.312(d)"]
    assert column_sum(results(hipaa)["failed-authentication"], "failures") == demo_truth.stories["unauthenticated"]
    findings = fixture_lake.report("security-findings", **WINDOW)
    assert results(findings)["exec-sessions"].flagged == (demo_truth.stories["exec_into_pod"] + demo_truth.stories["port_forward_or_attach"]
                                                          + attack_requests(demo_truth, lambda event: is_exec(event) and by_person(event)))


def test_the_change_log_is_every_deployment_change_with_its_diff(fixture_lake, demo_truth):
    change_log = fixture_lake.report("change-log", **WINDOW)
    deployments = results(change_log)["changes-deployments"]
    assert sorted(deployments.table.column("audit_id").to_pylist()) == sorted(change.audit_id for change in demo_truth.changes)
    page = report_render.markdown(change_log)
    assert "```diff" in page and "— image api:1.4.0 → api:1.4.1" in page
    assert "+        image: registry.example.com/payments/api:1.4.1" in page


def test_all_formats_are_written_with_dated_names(pci, tmp_path):
    written = report_render.write(pci, tmp_path, report_render.FORMATS)
    stem = "pci-dss-demo-2026-11-03"  # named by the last day the window covers
    assert {path.name for path in written if path.parent == tmp_path} == {f"{stem}.{kind}" for kind in ("html", "md", "json")}
    document = json.loads((tmp_path / f"{stem}.json").read_text())
    assert document["status"] == "attention" and len(document["sections"]) == 11
    assert document["evidence"]["events"] == pci.evidence.events
    summary = list(csv.DictReader((tmp_path / stem / "summary.csv").open()))
    assert {row["control"] for row in summary} == {section.section.control for section in pci.sections}
    per_check = tmp_path / stem / "10.2.1.4--failed-authentication.csv"
    assert sum(int(row["failures"]) for row in csv.DictReader(per_check.open())) == column_sum(results(pci)["failed-authentication"], "failures")
    assert json.loads((tmp_path / stem / "10.5.1.json").read_text())["control"] == "10.5.1"


def test_the_html_is_one_offline_file_with_charts(pci):
    page = report_render.html_page(pci)
    assert page.count("class=report-section") == len(pci.sections)
    assert page.count("<svg") >= 3  # activity per day, failed access, anomalies, top actors
    assert not re.search(r"""(src|href)=['"]?(https?:)?//""", page)  # nothing fetched: opens from an e-mail attachment
    assert "<script" not in page


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium; `make test` installs it as root)")
def test_the_html_renders_in_a_real_headless_browser(pci, tmp_path):
    path = report_render.write(pci, tmp_path, ("html",))[0]
    completed = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--enable-logging=stderr", "--v=0",
         f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", path.as_uri()],
        capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr[-2000:]
    dom = completed.stdout
    for section in pci.sections:  # the browser built every section, in order
        assert f'data-control="{section.section.control}"' in dom
    assert dom.count('class="report-section"') == len(pci.sections)
    assert dom.count("<svg") >= 3 and 'id="evidence"' in dom
    console = [line for line in completed.stderr.splitlines() if "CONSOLE" in line or "Failed to load resource" in line or "Uncaught" in line]
    assert console == []


def test_markdown_matches_the_golden(fixture_lake, pci):
    """The Markdown an auditor receives, byte for byte (regenerate: python tests/golden/regenerate.py)."""
    for pack, report in (("pci-dss", pci), ("change-log", fixture_lake.report("change-log", **WINDOW, now=GENERATED))):
        expected = (GOLDEN / f"{pack}-demo.md").read_text()
        actual = normalise_paths(report_render.markdown(report), fixture_lake)
        assert actual == expected, f"{pack}: the Markdown changed; if on purpose, run python tests/golden/regenerate.py"


def normalise_paths(text: str, lake: Lake) -> str:
    """Temporary directories differ per run, and so does the digest chain (its head is named by its batch's time, and other
    tests of the module commit to the same lake first); the golden says <tmp>, <head>, <n> digests."""
    text = text.replace(str(lake.path.parent), "<tmp>").replace(f"auditlake {report_render_version()}", "auditlake <version>")
    head = digests.load_chain(lake.path)[-1]
    text = text.replace(head.name, "<head>.json").replace(head.sha256, "<head sha256>")
    return re.sub(r"\), \d+ digests?, ", "), <n> digests, ", text)


def report_render_version() -> str:
    from auditlake.lake import version

    return version()


# ---- packs are data, checked strictly -----------------------------------------------------------
def test_every_pack_loads_and_names_only_real_queries():
    assert set(packs.available()) == {"pci-dss", "hipaa", "change-log", "security-findings", "least-privilege"}
    for summary in packs.summaries():
        assert summary.sections and summary.checks


@pytest.mark.parametrize(("snippet", "message"), [
    ("    checks:\n      - query: no-such-query\n", "no saved query named 'no-such-query'"),
    ("    checks:\n      - query: retention\n        atention: rows\n", "unknown key 'atention'"),
    ("    checks:\n      - query: retention\n        attention: sometimes\n", "attention must be one of"),
    ("    checks:\n      - query: retention\n        params: {namespace: x}\n", "the query has no parameter 'namespace'"),
])
def test_a_broken_pack_is_refused_with_its_line(tmp_path, snippet, message):
    path = tmp_path / "mine.yaml"
    path.write_text("title: Mine\nsections:\n  - control: x\n    title: X\n    requirement: R\n    checked: C\n" + snippet)
    with pytest.raises(QueryError, match=message) as error:
        packs.load(path)
    assert f"{path}:" in error.value.one_line()


def test_a_pack_of_your_own_runs_from_its_path(tmp_path, fixture_lake):
    path = tmp_path / "ours.yaml"
    path.write_text("title: Ours\nsections:\n  - control: A.1\n    title: Retention\n    requirement: Keep a year.\n"
                    "    checked: The lake's span.\n    checks:\n      - query: retention\n        attention: {where: NOT keeps_3_months}\n")
    report = fixture_lake.report(str(path), **WINDOW)
    assert report.sections[0].status == "attention" and report.stem == "ours-demo-2026-11-03"


def test_a_row_whose_attention_rule_is_unknown_needs_attention(tmp_path, fixture_lake):
    def status(where: str) -> str:
        path = tmp_path / "ours.yaml"
        path.write_text("title: Ours\nsections:\n  - control: A.2\n    title: Impersonation\n    requirement: None.\n"
                        "    checked: One user's requests.\n    checks:\n      - query: user-activity\n        params: {user: admin}\n"
                        f"        attention: {{where: \"{where}\"}}\n")
        return fixture_lake.report(str(path), since="2000-01-01", until="2100-01-01").sections[0].status
    assert status("impersonated_user = 'nobody'") == "attention"  # NULL: cannot tell, so it is not a pass
    assert status("coalesce(impersonated_user = 'nobody', false)") == "pass"


# ---- the CLI -------------------------------------------------------------------------------------
def test_report_from_the_cli_writes_files_and_fails_on_attention(fixture_lake, tmp_path):
    args = ["report", "pci-dss", "--lake", str(fixture_lake.path), "--since", "2026-11-01", "--until", "2026-11-04", "--cluster", "demo",
            "--out", str(tmp_path), "--format", "html,md,csv,json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "10.2.1.3" in result.output and "needs attention" in result.output
    assert (tmp_path / "pci-dss-demo-2026-11-03.html").is_file()
    assert runner.invoke(app, [*args, "--fail-on", "attention"]).exit_code == 1
    assert runner.invoke(app, [*args, "--format", "pdf"]).exit_code == 2
    next_day = runner.invoke(app, [*args[:7], "2026-11-05", *args[8:]])
    assert next_day.exit_code == 0 and (tmp_path / "pci-dss-demo-2026-11-04.html").is_file()  # daily runs never overwrite
    summary = json.loads(runner.invoke(app, [*args, "--print", "json"]).stdout)
    assert summary["status"] == "attention" and len(summary["sections"]) == 11


def test_a_window_without_events_passes_nothing(fixture_lake, tmp_path):
    empty = fixture_lake.report("pci-dss", since="2020-01-01", until="2020-02-01")
    assert empty.evidence.events == 0 and empty.count("pass") == 0 and empty.status == "attention"
    assert "the window holds no events, so nothing can pass" in report_render.markdown(empty)
    result = runner.invoke(app, ["report", "hipaa", "--lake", str(fixture_lake.path), "--since", "2020-01-01", "--until", "2020-02-01",
                                 "--out", str(tmp_path), "--fail-on", "attention"])
    assert result.exit_code == 1 and "the window holds no events" in result.stderr


def test_the_detect_tuning_applies_to_the_queries_a_pack_runs_and_is_recorded(fixture_lake, tmp_path):
    tuning = tmp_path / "tuning.yaml"
    tuning.write_text("privileged-pod: {count_root: false}\ndisallowed-user: {allowed_users: [admin]}\n")  # the second is not in the pack
    tuned = fixture_lake.report("security-findings", since="2026-11-01", until="2026-11-04", tuning=tuning)
    privileged = next(result for section in tuned.sections for result in section.checks if result.name == "privileged-pod")
    assert privileged.values["count_root"] is False
    assert tuned.evidence.params["privileged-pod.count_root"] is False and "--param privileged-pod.count_root=False" in tuned.evidence.command
    assert set(tuned.evidence.params) == {"admin_groups", "admin_users", "privileged-pod.count_root"}  # who counted as an administrator
    with pytest.raises(QueryError, match="no query of this pack named 'disallowed-user'"):
        fixture_lake.report("security-findings", since="2026-11-01", until="2026-11-04", params={"disallowed-user.allowed_users": "x"})
    tuning.write_text("no-such-query: {x: 1}\n")
    with pytest.raises(QueryError, match="no saved query named 'no-such-query'"):
        fixture_lake.report("security-findings", since="2026-11-01", until="2026-11-04", tuning=tuning)


def test_report_without_a_pack_lists_the_packs():
    listed = json.loads(runner.invoke(app, ["report", "--print", "json"]).stdout)
    assert {item["name"] for item in listed} == {"pci-dss", "hipaa", "change-log", "security-findings", "least-privilege"}
    unknown = runner.invoke(app, ["report", "sox"])
    assert unknown.exit_code == 2 and "no report pack named 'sox'" in unknown.output


# ---- real logs -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def real_lake(tmp_path_factory) -> Lake:
    lake = Lake(tmp_path_factory.mktemp("real") / "lake")
    lake.ingest([SHARED / "immudb-log-audit" / "k8s.log"], cluster="immudb")
    lake.ingest([SHARED / "audit2rbac" / "commit-501d132a" / "demo.log"], cluster="audit2rbac")
    return lake


@requires_shared
@pytest.mark.parametrize("pack", ["pci-dss", "hipaa", "change-log", "security-findings", "least-privilege"])
def test_every_pack_renders_on_real_logs(real_lake, pack, tmp_path):
    report = real_lake.report(pack, since="2000-01-01", until="2100-01-01")
    written = report_render.write(report, tmp_path, report_render.FORMATS)
    assert report.evidence.events == real_lake.sql("SELECT count(*) FROM events").item()
    assert all(path.stat().st_size > 0 for path in written)


@requires_shared
def test_record_completeness_on_the_immudb_log_matches_an_independent_count(real_lake):
    events = [json.loads(line) for line in (SHARED / "immudb-log-audit" / "k8s.log").read_text().splitlines() if line.strip()]
    final = [event for event in events if event["stage"] == "ResponseComplete"]
    with_user = sum(1 for event in final if event.get("user", {}).get("username") or event.get("responseStatus", {}).get("code") == 401)
    row = real_lake.query("record-completeness", since="2000-01-01", until="2100-01-01", cluster="immudb").to_dicts()[0]
    assert row["events"] == len(final) == 1_376
    assert row["user_pct"] == round(100 * with_user / len(final), 2)
    report = real_lake.report("pci-dss", since="2000-01-01", until="2100-01-01", cluster="immudb")
    retention = results(report)["retention"].table.to_pylist()[0]
    assert retention["keeps_12_months"] is False and results(report)["retention"].status == "attention"


# ---- scheduled runs, exactly as the README documents them ----------------------------------------
def readme_block(language: str, containing: str) -> str:
    blocks = re.findall(rf"```{language}\n(.*?)```", (REPO / "README.md").read_text(), re.DOTALL)
    return next(block for block in blocks if containing in block)


@pytest.fixture(scope="module")
def live_audit_log(tmp_path_factory) -> Path:
    """A small simulated audit log whose three days end about now, so `--since yesterday` finds events."""
    from auditlake.demo import recent_start, write_audit_log

    directory = tmp_path_factory.mktemp("apiserver") / "audit"
    write_audit_log(directory, 3_000, seed=5, start=recent_start())
    return directory


def run_documented(command: str, audit_log: Path, root: Path, env: dict[str, str] | None = None, shell: bool = True):
    """Run a documented command with the production paths swapped for temporary ones, as a scheduler would (no TTY)."""
    command = command.replace("/var/log/kubernetes/audit/", f"{audit_log}/").replace("/var/lib/auditlake", str(root))
    environment = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", **(env or {})}
    argv = ["sh", "-c", command] if shell else shlex.split(command)
    return subprocess.run(argv, capture_output=True, text=True, env=environment, timeout=300, cwd=root, stdin=subprocess.DEVNULL)


def assert_yesterdays_report(root: Path, completed) -> None:
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    stem = root / "reports" / f"pci-dss-prod-{yesterday}"
    assert stem.with_suffix(".html").is_file() and stem.with_suffix(".md").is_file(), completed.stderr
    document = json.loads(stem.with_suffix(".json").read_text())
    assert document["evidence"]["events"] > 0
    assert completed.returncode == (1 if document["status"] == "attention" else 0), completed.stderr  # --fail-on attention


def test_the_documented_cron_line_ingests_then_reports_yesterday(live_audit_log, tmp_path):
    line = next(line for line in readme_block("cron", "auditlake").splitlines() if line and not line.startswith("#"))
    fields = line.split(None, 5)
    assert fields[:5] == ["15", "2", "*", "*", "*"] and "%" not in fields[5]  # cron treats % as a newline
    completed = run_documented(fields[5], live_audit_log, tmp_path)
    assert_yesterdays_report(tmp_path, completed)
    again = run_documented(fields[5], live_audit_log, tmp_path)  # a rerun the same day: nothing new, same report
    assert again.returncode == completed.returncode
    assert Lake(tmp_path / "lake").status().events == Lake(tmp_path / "lake").sql("SELECT count(DISTINCT (audit_id, stage)) FROM events").item()


def test_the_documented_hourly_detect_line_alerts_once_per_finding(live_audit_log, tmp_path):
    line = [line for line in readme_block("cron", "auditlake").splitlines() if line and not line.startswith("#")][1]
    fields = line.split(None, 5)
    assert fields[:5] == ["5", "*", "*", "*", "*"] and "%" not in fields[5]
    command = fields[5].replace("--since 2h", "--since 3d")  # the small simulated log has its high findings spread over 3 days
    first = run_documented(command, live_audit_log, tmp_path)
    alerted = list(csv.DictReader(first.stdout.splitlines()))
    assert alerted and first.returncode == 1, first.stderr
    assert {row["severity"] for row in alerted} <= {"high", "critical"}
    again = run_documented(command, live_audit_log, tmp_path)  # the next hour's overlapping window: nothing twice
    assert again.returncode == 0 and list(csv.DictReader(again.stdout.splitlines())) == [], again.stderr
    kept = Lake(tmp_path / "lake").status().findings
    assert sum(kept.values()) >= len(alerted)


def systemd_unit(text: str) -> dict[str, list[tuple[str, str]]]:
    sections: dict[str, list[tuple[str, str]]] = {}
    current = ""
    for line in text.splitlines():
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
            sections[current] = []
        elif "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            sections[current].append((key, value))
    return sections


def test_the_documented_systemd_service_and_timer(live_audit_log, tmp_path):
    service = systemd_unit(readme_block("ini", "ExecStart="))
    timer = systemd_unit(readme_block("ini", "[Timer]"))
    assert dict(service["Service"])["Type"] == "oneshot"
    assert dict(timer["Timer"]) == {"OnCalendar": "*-*-* 02:15:00 UTC", "Persistent": "true"}
    assert dict(timer["Install"]) == {"WantedBy": "timers.target"}
    environment = dict(value.split("=", 1) for key, value in service["Service"] if key == "Environment")
    environment["AUDITLAKE_LAKE"] = environment["AUDITLAKE_LAKE"].replace("/var/lib/auditlake", str(tmp_path))
    commands = [value for key, value in service["Service"] if key == "ExecStart"]
    assert [shlex.split(command)[1] for command in commands] == ["ingest", "report"]
    completed = None
    for command in commands:  # oneshot: in order, stopping at the first failure
        completed = run_documented(command, live_audit_log, tmp_path, env=environment, shell=False)
        if completed.returncode:
            break
    assert_yesterdays_report(tmp_path, completed)


def test_the_documented_kubernetes_cronjob(live_audit_log, tmp_path):
    import yaml

    manifest = yaml.safe_load(readme_block("yaml", "kind: CronJob"))
    assert (manifest["apiVersion"], manifest["kind"], manifest["spec"]["concurrencyPolicy"]) == ("batch/v1", "CronJob", "Forbid")
    assert len(manifest["spec"]["schedule"].split()) == 5
    pod = manifest["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    container = pod["containers"][0]
    mounts = {mount["mountPath"] for mount in container["volumeMounts"]}
    assert mounts == {"/var/log/kubernetes/audit", "/var/lib/auditlake"}
    assert {volume["name"] for volume in pod["volumes"]} == {mount["name"] for mount in container["volumeMounts"]}
    assert container["command"] == ["sh", "-c"]
    completed = run_documented(container["args"][0], live_audit_log, tmp_path)
    assert_yesterdays_report(tmp_path, completed)


# ---- read without a calculator -------------------------------------------------------------------
@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0 s"), (0.25, "0.25 s"), (42, "42 s"), (90, "1 min 30 s"), (3599.6, "1 h"), (7_500, "2 h 5 min"), (288_000, "3 d 8 h"),
    (4.84768e+06 * 60, "3,366 d 11 h"),  # the 9-year "silence" a two-cluster lake used to report, in minutes
])
def test_durations_are_in_human_units(seconds, text):
    assert render_text.format_duration(seconds) == text


@pytest.fixture(scope="module")
def everything(fixture_lake):
    """pci-dss over all of the fixture lake: four clusters whose spans are years apart (2017, 2023, the demo's 2026)."""
    return fixture_lake.report("pci-dss", since="2000-01-01", until="2100-01-01", now=GENERATED)


def test_a_report_shows_durations_in_human_units(everything):
    page = report_render.markdown(everything)
    assert not re.search(r"\d\.?\d*e\+\d", page)  # no 4.84768e+06 anywhere
    sessions = results(everything)["exec-sessions"].table.to_pylist()
    longest = max(sessions, key=lambda row: row["duration_seconds"])
    assert render_text.format_duration(longest["duration_seconds"]) in page
    retention = next(line for line in page.splitlines() if re.match(r"\| demo \| 2026-11-01 \d\d:\d\d:\d\d \|", line))
    assert " | 3 d | 3 | " in retention  # days_of_history (3.0) as a duration, days_with_events (3) as a count
    html_page = report_render.html_page(everything)
    assert re.search(r"<td class=num>[\d.]+ (s|min)( \d+ s)?</td>", html_page)  # a session's duration_seconds


def test_coverage_gaps_stay_inside_each_clusters_own_span(fixture_lake, everything):
    spans = {row["cluster"]: (row["first_at"], row["last_at"]) for row in fixture_lake.sql_arrow(
        "SELECT cluster, min(received_at) AS first_at, max(received_at) AS last_at FROM events GROUP BY cluster").to_pylist()}
    assert len(spans) == 4
    for gap in everything.evidence.gaps:  # a cluster is not silent before its first event or after its last
        first, last = spans[gap["cluster"]]
        assert first <= gap["gap_start"] and gap["gap_end"] <= last + timedelta(minutes=1), gap
    assert all(gap["silence_minutes"] < 24 * 60 for gap in everything.evidence.gaps)
    # audit2rbac logged 19:55-20:02 and 20:27-20:29: a window starting in that silence is silent from its start,
    # one starting before its first event is not, and one inside the silence is silent throughout
    def gaps(since: str, until: str) -> list[tuple[str, str]]:
        rows = fixture_lake.query_arrow("coverage-gaps", cluster="audit2rbac", since=since, until=until).to_pylist()
        return [(f"{row['gap_start']:%H:%M}", f"{row['gap_end']:%H:%M}") for row in rows]
    assert gaps("2017-09-11 20:05", "2017-09-11 20:40") == [("20:05", "20:27")]
    assert gaps("2017-09-11 18:00", "2017-09-11 23:00") == [("20:02", "20:27")]
    assert gaps("2017-09-11 20:04", "2017-09-11 20:26") == [("20:04", "20:26")]


def test_many_coverage_gaps_are_summarised(pci):
    start = datetime(2026, 11, 1, tzinfo=UTC)
    gaps = [{"cluster": cluster, "gap_start": start + timedelta(hours=index), "gap_end": start + timedelta(hours=index, minutes=20 + index),
             "silence_minutes": 20.0 + index} for index in range(30) for cluster in ("a", "b")]
    report = dataclasses.replace(pci, evidence=dataclasses.replace(pci.evidence, gaps=gaps))
    page = report_render.markdown(report)
    assert f"Coverage gaps longer than 15 minutes: 60 ({render_text.format_duration(2 * 1035 * 60)} of silence in all;" in page
    assert "| a | 30 | 17 h 15 min | 49 min |" in page  # per cluster: how many, in all, the longest
    assert "The 10 longest, longest first (the JSON lists all 60):" in page
    shown = page.split("The 10 longest")[1].split("Input files")[0]
    assert shown.count("| 49 min |") == 2 and "| 20 min |" not in shown
    assert len(report_render.report_json(report)["evidence"]["gaps"]) == 60


def test_a_check_with_top_shows_the_largest_rows_and_their_total(pci):
    check = results(pci)["coverage-gaps"]
    assert check.check.top == ("silence_minutes", 10)
    table = pa.table({"cluster": ["a"] * 12, "gap_start": [f"s{index}" for index in range(12)], "gap_end": ["e"] * 12,
                      "silence_minutes": [20.0 + index for index in range(12)]})
    page = "\n".join(report_render._markdown_check(dataclasses.replace(check, table=table)))
    assert "The 10 longest (silence_minutes) of 12, longest first (every row is in the CSV/JSON); 5 h 6 min in all." in page
    assert "| a | s11 | e | 31 min |" in page and "| s0 |" not in page and "| s1 |" not in page


def svg_legend(svg: str) -> dict[str, str]:
    return dict((name, colour) for colour, name in re.findall(r"<rect x='\d+' y='22' width='10' height='10' fill='(#\w+)'/><text [^>]*>([^<]+)</text>", svg))


def test_each_audit_level_has_one_colour_in_every_chart(pci, fixture_lake):
    chart = packs.Chart("date", ("events",), series="level")
    volume = results(pci)["volume-per-day"].table
    every_level = svg_legend(charts.bar_chart(volume, chart))
    some = volume.filter(pa.compute.is_in(volume["level"], pa.array(["RequestResponse", "Request"])))
    fewer = svg_legend(charts.bar_chart(some, chart))
    assert set(every_level) == {"Metadata", "Request", "RequestResponse"} and set(fewer) == {"RequestResponse", "Request"}
    assert all(every_level[level] == fewer[level] == charts.FIXED_COLOURS[level] for level in fewer)
    assert len(set(every_level.values())) == 3
    assert list(every_level) == ["Metadata", "Request", "RequestResponse"] and list(fewer) == ["Request", "RequestResponse"]  # one order
    hipaa = report_render.html_page(fixture_lake.report("hipaa", **WINDOW))
    assert svg_legend(hipaa.split("<svg")[1]) == every_level
    failed = svg_legend(report_render.html_page(pci).partition("<title>Failed access per day")[2])  # 401 and 403 keep theirs
    assert failed["unauthenticated"] == charts.FIXED_COLOURS["failed_authentication"] != failed["forbidden"]


def test_axis_ticks_are_round(pci):
    assert charts.nice_scale(1234) == (1500, 500) and charts.nice_scale(3) == (3, 1)
    svg = charts.bar_chart(results(pci)["volume-per-day"].table, packs.Chart("date", ("events",), series="level"))
    ticks = re.findall(r"<text x='50' y='[\d.]+' text-anchor=end>([^<]+)</text>", svg)
    assert ticks[0] == "0" and len(ticks) >= 3
    values = [float(tick[:-1]) * 1000 if tick.endswith("k") else float(tick) for tick in ticks]
    step = values[1]
    assert all(value == index * step for index, value in enumerate(values))
    assert re.fullmatch(r"(1|2|2\.5|5)0*", f"{step:g}".replace("0.", "")) or step in (1, 2, 2.5, 5)


def test_chart_labels_stay_distinct():
    actors = ["system:serviceaccount:team-a:long-running-deployer-bot", "system:serviceaccount:team-b:long-running-deployer-bot",
              "system:serviceaccount:kube-system:endpointslice-controller", "system:serviceaccount:kube-system:endpointslicemirroring-controller"]
    svg = charts.bar_chart(pa.table({"actor": actors, "requests": [4, 3, 2, 1]}), packs.Chart("actor", ("requests",), horizontal=True))
    labels = re.findall(r"text-anchor=end><title>[^<]*</title>([^<]+)</text>", svg)
    assert len(labels) == 4 == len(set(labels)) and all(len(label) <= 40 for label in labels)
    assert all(len(label) <= 12 for label in charts.distinct_labels(actors, 12).values())
    assert len(set(charts.distinct_labels(actors, 12).values())) == 4


def test_html_tables_wrap_to_the_page(pci):
    style = pages.stylesheet()
    cells = re.search(r"th,td\{([^}]*)\}", style).group(1)
    assert "overflow-wrap:anywhere" in cells and "nowrap" not in cells  # a long value breaks instead of running off the page
    assert "display:block" not in re.search(r"\ntable\{([^}]*)\}", style).group(1)  # no table-sized scroll box
    assert "white-space:pre-wrap" in re.search(r"\npre\{([^}]*)\}", style).group(1)
    page = report_render.html_page(pci)
    assert "<th>source_<wbr>ip</th>" in page  # long headers may break at their underscores
