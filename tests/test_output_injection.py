"""Text from audit events reaches no reader as instructions (issue items X1, X2, X3).

User agents, user names, annotations, object names and ConfigMap keys are written by whoever can
reach the apiserver. An adversarial run put the payloads below into every output; here they are
all in one small lake, and every text output must show them as data:

- X1: no CSV cell starts a spreadsheet formula (`=`, `+`, `-`, `@`, TAB, CR) unless `'` comes first;
- X2: Markdown grows no HTML, link, heading, table row or code-block end of the data's own;
- X3: no escape sequence, C1 control or bidi override reaches a terminal; each is shown instead.

The machine formats (JSON, JSONL, Parquet) keep the data exactly.
"""

from __future__ import annotations

import csv
import doctest
import io
import json
import re
from pathlib import Path

import pyarrow as pa
import pytest
from markdown_it import MarkdownIt  # a CommonMark renderer (rich depends on it); raw HTML passes through, as on GitHub
from typer.testing import CliRunner

from auditlake.cli import app
from auditlake.render import escape, formats

runner = CliRunner()
HYPERLINK = '=HYPERLINK("http://x","y")'
FORGED = "line1\r\n## Forged heading\n| forged | row |"
ESCAPES = "\x1b[2J\x1b[31m"
PAYLOADS = [HYPERLINK, "+1+1", "-2+3", "@SUM(1)", "\t=1", "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", FORGED,
            "[click](http://evil)", "```", ESCAPES, "\x9b31m", "\u202e"]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
TERMINAL_UNSAFE = ("\x1b", "\x9b", "\u202e")
WINDOW = ["--since", "2026-11-01", "--until", "2026-12-01"]
MARKDOWN = MarkdownIt("commonmark").enable(["table", "strikethrough"])


def event(index: int, payload: str, **fields: object) -> dict[str, object]:
    """A complete RequestResponse Event by the user `payload`, with `payload` as its user agent and authorization reason."""
    at = f"2026-11-20T10:{index // 60:02d}:{index % 60:02d}"
    return {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "RequestResponse", "stage": "ResponseComplete",
            "auditID": f"00000000-0000-4000-8000-{index:012d}", "requestURI": "/api/v1/namespaces/default/configmaps", "verb": "create",
            "user": {"username": payload, "groups": ["system:authenticated"]}, "sourceIPs": ["198.51.100.7"], "userAgent": payload,
            "objectRef": {"resource": "configmaps", "namespace": "default", "name": "evidence", "apiVersion": "v1"},
            "responseStatus": {"metadata": {}, "code": 201}, "requestReceivedTimestamp": f"{at}.000000Z", "stageTimestamp": f"{at}.010000Z",
            "annotations": {"authorization.k8s.io/decision": "allow", "authorization.k8s.io/reason": payload}, **fields}


def configmap(name: str, data: dict[str, str], note: str) -> dict[str, object]:
    return {"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": name, "namespace": "default", "annotations": {"note": note}},
            "data": data}


def payload_events() -> list[dict[str, object]]:
    """Per payload: ConfigMap `evidence` gains it as a key (one change each), a ConfigMap named by it, a privileged pod by it."""
    events, data = [], {}
    for number, payload in enumerate(PAYLOADS):
        data = {**data, payload: payload}
        evidence = configmap("evidence", data, payload)
        events.append(event(3 * number, payload, verb="create" if number == 0 else "update", userAgent=payload + "/1.0",
                            requestObject=evidence, responseObject=evidence))
        named = configmap(payload, {payload: payload}, payload)
        events.append(event(3 * number + 1, payload, objectRef={"resource": "configmaps", "namespace": "default", "name": payload, "apiVersion": "v1"},
                            requestObject=named, responseObject=named))
        events.append(event(3 * number + 2, payload, requestURI="/api/v1/namespaces/default/pods",
                            objectRef={"resource": "pods", "namespace": "default", "name": "app", "apiVersion": "v1"},
                            requestObject={"kind": "Pod", "spec": {"containers": [{"name": "app", "image": "nginx:1.27",
                                                                                   "securityContext": {"privileged": True}}]}}))
    # a line the lake quarantines, with a reason that quotes the data (it reaches `status` and the ingest summary)
    events.append(event(999, "mallory", requestReceivedTimestamp=ESCAPES + "\u202e"))
    return events


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """The lake, ingested through the CLI (whose summary on stderr is kept for the terminal checks)."""
    root = tmp_path_factory.mktemp("injection")
    log = root / "audit.log"
    log.write_text("".join(json.dumps(item) + "\n" for item in payload_events()))
    result = runner.invoke(app, ["ingest", str(log), "--lake", str(root / "lake"), "--cluster", "prod"])
    assert result.exit_code == 0, result.output
    return {"path": str(root / "lake"), "root": root, "ingest": result}


def run(*args: str, code: int = 0):  # type: ignore[no-untyped-def]
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result


# ---- what each reader must never see -----------------------------------------------------------
def assert_no_formula(text: str) -> list[list[str]]:
    """Every cell (header included) of a CSV that starts like a formula is neutralised with `'`; the rows, parsed."""
    rows = list(csv.reader(io.StringIO(text, newline="")))
    formulas = [cell for row in rows for cell in row if cell.startswith(FORMULA_STARTS)]
    assert formulas == [], f"CSV cells a spreadsheet would evaluate: {formulas[:5]}"
    return rows


def prose_lines(markdown: str) -> list[str]:
    """The Markdown's lines outside fenced code blocks (inside them the data is shown literally, `<script>` included)."""
    fenced: set[int] = set()
    for token in MARKDOWN.parse(markdown):
        if token.type == "fence" and token.map:
            fenced.update(range(*token.map))
    return [line for number, line in enumerate(markdown.split("\n")) if number not in fenced]


def assert_inert_markdown(markdown: str) -> str:
    """No HTML, link, heading, row or control character of the data's own, raw or rendered; the rendered HTML."""
    prose = prose_lines(markdown)
    assert not [line for line in prose if "<script" in line or "<img" in line]
    assert not [line for line in prose if line.lstrip().startswith(("## Forged", "| forged"))]
    assert not any(char in markdown for char in ("\r", *TERMINAL_UNSAFE))
    html = MARKDOWN.render(markdown)
    assert "<script" not in html and "<img" not in html and 'href="http://evil"' not in html
    assert not re.search(r"<h\d>\s*Forged", html)
    table_lines = [line for line in prose if line.startswith("|") and not line.startswith("|---")]
    assert html.count("<tr>") == len(table_lines), "a table row was split or forged"
    return html


def assert_terminal_safe(text: str) -> None:
    assert not [char for char in TERMINAL_UNSAFE if char in text], "a control sequence reached the terminal"


# ---- the helpers ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("cell", "written"), [
    (HYPERLINK, "'" + HYPERLINK), ("+1+1", "'+1+1"), ("-2+3", "'-2+3"), ("@SUM(1)", "'@SUM(1)"), ("\t=1", "'\t=1"), ("\r=1", "'\r=1"),
    ("kube-system", "kube-system"), ("a=b", "a=b"), ("'=already", "'=already"), ("", ""),
])
def test_csv_text_prefixes_a_quote_to_what_a_spreadsheet_would_evaluate(cell, written):
    assert escape.csv_text(cell) == written


def test_write_csv_touches_only_string_cells():
    table = pa.table({"n": [-5, 3], "at": pa.array([0, 1], pa.timestamp("s", tz="UTC")), "text": ["-5", "ok"],
                      "tags": [["=x"], []], "kind": pa.array(["@a", "b"]).dictionary_encode()})
    out = io.BytesIO()
    formats.write_csv(table, out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue().decode(), newline="")))
    assert [row["n"] for row in rows] == ["-5", "3"] and rows[0]["at"].startswith("1970-01-01 00:00:00")
    assert [row["text"] for row in rows] == ["'-5", "ok"] and rows[0]["kind"] == "'@a"
    assert rows[0]["tags"] == '["=x"]'  # a list flattened to JSON text starts with `[`: nothing to evaluate


def test_write_csv_neutralises_the_same_cells_whatever_the_string_type():
    """Plain strings are checked by their first character, other string types by RE2: the same cells either way."""
    cells = [HYPERLINK, "-", "+", "@", "\t=1", "\r\n", "", None, "é=1", "=é", "a=b", "'=already", " =1"]
    written = {}
    for kind in (pa.string(), pa.large_string()):
        out = io.BytesIO()
        formats.write_csv(pa.table({"cell": pa.array(cells, kind)}), out)
        written[kind] = out.getvalue()
    assert written[pa.string()] == written[pa.large_string()]
    assert_no_formula(written[pa.string()].decode())


def test_write_csv_writes_utc_times_as_arrow_does_and_other_zones_as_they_are():
    import pyarrow.csv as arrow_csv

    times = {unit: pa.array([1_700_000_000_123_456 // {"s": 10**6, "ms": 1000, "us": 1}[unit], None], pa.timestamp(unit, tz="UTC"))
             for unit in ("s", "ms", "us")}
    times["berlin"] = pa.array([1_700_000_000, None], pa.timestamp("s", tz="Europe/Berlin"))
    ours, arrows = io.BytesIO(), io.BytesIO()
    formats.write_csv(pa.table(times), ours)
    arrow_csv.write_csv(pa.table(times), arrows)
    assert list(csv.reader(io.StringIO(ours.getvalue().decode()))) == list(csv.reader(io.StringIO(arrows.getvalue().decode())))
    assert list(csv.reader(io.StringIO(ours.getvalue().decode())))[1] == [
        "2023-11-14 22:13:20Z", "2023-11-14 22:13:20.123Z", "2023-11-14 22:13:20.123456Z", "2023-11-14 23:13:20+0100"]


def test_python_rows_are_arrows_rows_each_time_the_same_instant_in_the_same_zone():
    instants = [1_700_000_000_123_456, None, -86_400_000_000]
    table = pa.table({zone or "naive": pa.array(instants, pa.timestamp("us", tz=zone))
                      for zone in ("UTC", "Etc/UTC", "+00:00", "+05:30", "-08:00", "Europe/Berlin", None)}
                     | {"other": pa.array(["a", None, "c"]), "day": pa.array([1, None, -1], pa.date32())})
    ours, arrows = formats.python_rows(table), table.to_pylist()
    assert ours == arrows  # datetimes compare as instants
    for mine, theirs in zip(ours, arrows, strict=True):
        for name, value in mine.items():
            if value is not None and name not in ("other", "day"):
                assert value.isoformat() == theirs[name].isoformat() and value.utcoffset() == theirs[name].utcoffset()


@pytest.mark.parametrize("instants", [[1_700_000_000_123_456] * 3, [1_700_000_000_123_456], [], [5, 5, None], [5, 6, 5]],
                         ids=["one instant throughout", "one row", "no rows", "one instant and a null", "two instants"])
def test_write_csv_writes_a_column_of_one_repeated_time_as_arrow_does(instants):
    """A run's `found_at` is one instant on every finding: formatted once and repeated, the same text as Arrow's."""
    import pyarrow.csv as arrow_csv

    table = pa.table({"found_at": pa.array(instants, pa.timestamp("us", tz="UTC"))})
    ours, arrows = io.BytesIO(), io.BytesIO()
    formats.write_csv(table, ours)
    arrow_csv.write_csv(table, arrows)
    assert list(csv.reader(io.StringIO(ours.getvalue().decode()))) == list(csv.reader(io.StringIO(arrows.getvalue().decode())))


@pytest.mark.parametrize(("text", "shown"), [
    ("kube-system/coredns-5d78c9869d", "kube-system/coredns-5d78c9869d"),
    ("system:serviceaccount:ci:deployer 10.0.3.21 allowed_users", "system:serviceaccount:ci:deployer 10.0.3.21 allowed_users"),
    ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
    ("AT&T &lt;", "AT&amp;T &amp;lt;"),
    (FORGED, "line1 ## Forged heading \\| forged \\| row \\|"),
    ("[click](http://evil)", "\\[click\\](http://evil)"),
    ("*bold* _em_ ~~gone~~ `code` \\", "\\*bold\\* \\_em\\_ \\~\\~gone\\~\\~ \\`code\\` \\\\"),
    (ESCAPES + "\u2028\u202e", "\\x1b\\[2J\\x1b\\[31m \\u202e"),
])
def test_markdown_text_renders_as_written_on_one_line(text, shown):
    assert escape.markdown_text(text) == shown
    html = MARKDOWN.render("| a |\n|---|\n| " + escape.markdown_text(text) + " |\n")
    assert html.count("<tr>") == 2 and "<script" not in html and "<a " not in html and "<em>" not in html and "<code>" not in html


def test_markdown_code_and_fence_cannot_be_closed_by_the_data():
    assert escape.markdown_code("/var/log/audit.log") == "`/var/log/audit.log`"
    assert escape.markdown_code("a``b") == "```a``b```" and escape.markdown_code("`x`") == "`` `x` ``"
    assert escape.markdown_code("a|b\nc", in_table=True) == "`a\\|b c`"
    fence = escape.markdown_fence(["+k: '```'", "+v: '````'", ESCAPES], "diff")
    assert fence == ["`````diff", "+k: '```'", "+v: '````'", "\\x1b[2J\\x1b[31m", "`````"]
    assert MARKDOWN.render("\n".join(fence)).count("<pre>") == 1
    assert escape.markdown_fence(["+a: 1"], "diff")[0] == "```diff"  # ordinary diffs keep the ordinary fence


@pytest.mark.parametrize(("text", "shown"), [
    (ESCAPES, "\\x1b[2J\\x1b[31m"), ("\x9b31m", "\\x9b31m"), ("\u202eexe.txt", "\\u202eexe.txt"), ("\u2066x\u2069", "\\u2066x\\u2069"),
    ("a\tb\r\nc\x7f\x00", "a\\tb\\r\\nc\\x7f\\x00"), ("kubectl/v1.31.2 (linux/amd64) [a-z]", "kubectl/v1.31.2 (linux/amd64) [a-z]"),
    ("café ✓ — →", "café ✓ — →"),
])
def test_terminal_text_shows_control_characters_instead_of_obeying_them(text, shown):
    assert escape.terminal_text(text) == shown


def test_the_helpers_examples_hold():
    assert doctest.testmod(escape).failed == 0 and doctest.testmod(formats).failed == 0


# ---- X1: CSV -------------------------------------------------------------------------------------
def test_sql_and_detect_csv_cells_are_never_formulas(lake):
    result = run("sql", "select user_name, user_agent, name, annotations, code from events order by audit_id", "--lake", lake["path"],
                 "--format", "csv")
    rows = assert_no_formula(result.stdout_bytes.decode())
    assert len(rows) == 1 + 3 * len(PAYLOADS) and ["'" + HYPERLINK, "'" + HYPERLINK + "/1.0", "evidence"] == rows[1][:3]
    assert rows[1][4] == "201"  # numbers stay numbers
    findings = run("detect", *WINDOW, "--lake", lake["path"], "--format", "csv")
    assert len(assert_no_formula(findings.stdout_bytes.decode())) > len(PAYLOADS)


def test_machine_formats_keep_the_data_exactly(lake):
    query = "select user_name from events where name = 'evidence' order by audit_id"
    as_json = run("sql", query, "--lake", lake["path"], "--format", "json").stdout_bytes.decode()
    assert [row["user_name"] for row in json.loads(as_json)] == PAYLOADS
    as_jsonl = run("sql", query, "--lake", lake["path"], "--format", "jsonl").stdout_bytes.decode()
    assert [json.loads(line)["user_name"] for line in as_jsonl.splitlines()] == PAYLOADS


# ---- X2: Markdown --------------------------------------------------------------------------------
def test_sql_markdown_is_one_table_row_per_result_row(lake):
    result = run("sql", "select user_name, name, annotations from events where verb = 'create' order by audit_id", "--lake", lake["path"],
                 "--format", "markdown")
    html = assert_inert_markdown(result.stdout)
    created = len(PAYLOADS) * 2 + 1  # `evidence`, then a ConfigMap and a pod per payload
    assert html.count("<tr>") == 1 + created
    assert "<td>line1 ## Forged heading | forged | row |</td>" in html  # the whole payload, in its one cell


def test_history_markdown_is_one_heading_and_one_diff_per_change(lake):
    target = ["history", "configmaps/default/evidence", "--lake", lake["path"], "--since", "2000-01-01"]
    markdown = run(*target, "--format", "markdown").stdout
    html = assert_inert_markdown(markdown)
    changes = json.loads(run(*target, "--format", "json").stdout)
    assert len(changes) == len(PAYLOADS)
    assert html.count("<h2>") == html.count('<code class="language-diff">') == len(PAYLOADS)  # the ``` key closed no fence early
    assert "key line1 ## Forged heading | forged | row | added" in html


def test_changes_markdown_is_one_heading_per_object_and_one_item_per_change(lake):
    markdown = run("changes", "--lake", lake["path"], *WINDOW, "--format", "markdown").stdout
    html = assert_inert_markdown(markdown)
    groups = json.loads(run("changes", "--lake", lake["path"], *WINDOW, "--format", "json").stdout)
    assert len(groups) == 2 + len(PAYLOADS)  # `evidence`, the pod, and a ConfigMap named by each payload
    assert html.count("<h2>") == len(groups) and html.count("<li>") == sum(len(group["changes"]) for group in groups)


def test_report_markdown_and_csv_hold_the_data_as_data(lake, tmp_path):
    result = run("report", "change-log", "--lake", lake["path"], *WINDOW, "--out", str(tmp_path), "--format", "md,csv")
    assert_terminal_safe(result.output)
    [markdown_file] = tmp_path.glob("*.md")
    markdown = markdown_file.read_text()
    html = assert_inert_markdown(markdown)
    entries = [line for line in prose_lines(markdown) if line.startswith("- **2026-11-20")]
    assert len(entries) == 2 * len(PAYLOADS) and html.count('<code class="language-diff">') == len(entries)  # one whole diff each
    csv_files = sorted(Path(markdown_file.with_suffix("")).glob("*.csv"))
    tables = {path.name: assert_no_formula(path.read_bytes().decode()) for path in csv_files}
    configmap_rows = tables["configuration--configmap-changes.csv"][1:]
    assert len(configmap_rows) == 2 * len(PAYLOADS) and any(row.count("'" + HYPERLINK) for row in configmap_rows)
    assert len([line for line in prose_lines(markdown) if line.startswith("| 2026-11-20")]) == len(configmap_rows)


# ---- X3: terminals -------------------------------------------------------------------------------
def test_the_terminal_table_shows_escape_sequences_instead_of_obeying_them(lake):
    result = run("sql", "select distinct user_name from events order by 1", "--lake", lake["path"])
    assert_terminal_safe(result.output)
    assert "\\x1b[2J\\x1b[31m" in result.stdout and "\\x9b31m" in result.stdout and "\\u202e" in result.stdout
    assert "<script>alert(1)</script>" in result.stdout and "[click](http://evil)" in result.stdout  # markup stays text


def test_history_and_changes_on_the_terminal(lake):
    history = run("history", "configmaps/default/evidence", "--lake", lake["path"], "--since", "2000-01-01")
    assert_terminal_safe(history.output)
    assert "key \\x9b31m added" in history.stdout and "by \\u202e via \\u202e" in history.stdout
    assert "line1\\r\\n## Forged heading\\n| forged | row |" in history.stdout
    assert_terminal_safe(run("changes", "--lake", lake["path"], *WINDOW).output)


def test_status_and_the_ingest_summary_show_what_the_data_said(lake):
    status = run("status", "--lake", lake["path"])
    assert_terminal_safe(status.output)
    assert "requestReceivedTimestamp is not a time: \\x1b[2J\\x1b[31m\\u202e" in status.stdout
    assert_terminal_safe(lake["ingest"].output)
    assert "not a time: \\x1b[2J" in lake["ingest"].stderr


def test_an_error_quoting_the_data_is_one_safe_line(lake):
    result = run("history", f"configmaps/default/nope{ESCAPES}", "--lake", lake["path"], code=2)
    assert_terminal_safe(result.output)
    assert result.stderr.startswith("error: no writes to configmaps/default/nope\\x1b[2J")
