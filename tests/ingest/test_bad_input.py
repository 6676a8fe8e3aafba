"""No input line stops a file, a run or the pipeline: each is a row, a quarantine record, a duplicate or a blank.

The regressions of the adversarial run (issue `hardening`, items I1–I8): each test feeds the input that
once cost a file or a run and checks where every line went.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from auditlake import Lake
from auditlake.cli import app
from auditlake.ingest import hugelines, scratch
from tests.conftest import DATA

IMMUDB = (DATA / "immudb_first_300_lines.log").read_bytes().splitlines(keepends=True)


def ev(audit_id: str, time: str, **fields: object) -> bytes:
    """The issue's `ev`: a minimal Metadata Event (plus `fields`) as one line."""
    event = {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata", "auditID": audit_id, "stage": "ResponseComplete",
             "verb": "get", "requestURI": "/x", "user": {"username": "u"}, "requestReceivedTimestamp": time, **fields}
    return orjson.dumps(event) + b"\n"


def accounted(lake: Lake) -> tuple[set[int], dict[int, str]]:
    """The source lines that became rows, and the reasons of those quarantined, by line."""
    rows = set(lake.sql("select source_line from events").get_column("source_line").to_list())
    quarantined = dict(lake.sql("select source_line, reason from quarantine").iter_rows())
    return rows, quarantined


def run(*args: str):  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(app, list(args))
    result.said = " ".join(result.output.split())  # the terminal wraps long lines
    return result


# ---- I1: a time the calendar cannot hold -----------------------------------------------------------------
@pytest.mark.parametrize("time", ["99999-01-01T00:00:00Z", "-0001-01-01T00:00:00Z", "9999-12-31T23:30:00-05:00"])
def test_a_time_outside_years_1_to_9999_is_quarantined_and_the_file_lands(tmp_path, time):
    log = tmp_path / "i1.log"
    log.write_bytes(ev("a1", "2026-11-01T00:00:00Z") + ev("a2", time) + ev("a3", "2026-11-01T00:00:01Z"))
    lake = Lake(tmp_path / "lake")
    result = lake.ingest([log])
    assert (result.events_written, result.quarantined) == (2, 1)
    rows, quarantined = accounted(lake)
    assert rows == {1, 3} and quarantined[2].startswith("requestReceivedTimestamp out of range")
    assert lake.ingest([log]).sources_unchanged == 1  # and the next run does not fail either


def test_a_stage_time_outside_the_calendar_is_null_not_a_crash(tmp_path):
    log = tmp_path / "stage.log"
    log.write_bytes(ev("a1", "2026-11-01T00:00:00Z", stageTimestamp="99999-01-01T00:00:00Z"))
    lake = Lake(tmp_path / "lake")
    lake.ingest([log])
    assert lake.sql("select stage_at from events").to_dicts() == [{"stage_at": None}]


# ---- I2/I3: one document or lines, decided on whole lines ------------------------------------------------
def test_a_first_line_over_64_kib_does_not_turn_the_file_into_one_document(tmp_path):
    big = ev("big", "2026-11-01T00:00:00Z", level="RequestResponse", requestObject={"kind": "CustomResourceDefinition",
                                                                                   "spec": {"x": "y" * 100_000}})
    log = tmp_path / "crd.log"
    log.write_bytes(big + b"".join(IMMUDB[:50]))
    lake = Lake(tmp_path / "lake")
    assert lake.ingest([log]).events_written == 51
    log.write_bytes(big + b"".join(IMMUDB[:60]))  # appended to, then rerun: only the new lines are read
    result = lake.ingest([log])
    assert (result.events_written, result.duplicates) == (10, 0)


@pytest.mark.parametrize("first", [
    b'{"kind":"Event","auditID":"cut', b'\xff{"bad byte": 1}', b"[" * 1100 + b"]" * 1100, b'{"a":' * 1100 + b"1" + b"}" * 1100,
    b'\xef\xbb\xbf' + IMMUDB[0].rstrip(b"\n"),
], ids=["cut-short", "bad-byte", "nesting-over-1024", "object-nesting-over-1024", "byte-order-mark"])
def test_a_broken_first_line_costs_that_line_only(tmp_path, first):
    log = tmp_path / "broken-first.log"
    log.write_bytes(first + b"\n" + b"".join(IMMUDB[1:40]))
    lake = Lake(tmp_path / "lake")
    result = lake.ingest([log])
    rows, quarantined = accounted(lake)
    if first.startswith(b"\xef\xbb\xbf"):
        assert rows == set(range(1, 41)) and not quarantined  # a byte-order mark is not a problem
    else:
        assert rows == set(range(2, 41)) and set(quarantined) == {1}
    assert result.events_written == len(rows)


def test_a_partial_first_line_left_by_a_shipper_is_quarantined_and_the_rest_lands(tmp_path):
    log = tmp_path / "shipped.log"
    log.write_bytes(IMMUDB[0][40:] + b"".join(IMMUDB[1:20]))  # starts in the middle of an Event
    result = run("ingest", str(tmp_path), "--lake", str(tmp_path / "lake"), "--strict")
    assert result.exit_code == 1 and "1 line(s) quarantined" in result.said
    rows, quarantined = accounted(Lake(tmp_path / "lake"))
    assert rows == set(range(2, 21)) and set(quarantined) == {1}


def test_a_pretty_printed_document_that_does_not_parse_is_read_line_by_line(tmp_path):
    events = [orjson.loads(line) for line in IMMUDB[:3]]
    text = orjson.dumps({"kind": "EventList", "items": events}, option=orjson.OPT_INDENT_2)
    log = tmp_path / "eventlist.json"
    log.write_bytes(text[:-40])  # cut short: no longer one JSON value
    result = Lake(tmp_path / "lake").ingest([log])
    assert result.quarantined == text[:-40].count(b"\n") + 1 - result.blank_lines  # every line accounted for, none lost
    assert result.events_written == 0


# ---- I4/I5: byte-order marks ------------------------------------------------------------------------------
def test_a_line_with_a_byte_order_mark_lands_even_beside_a_refused_neighbour(tmp_path):
    log = tmp_path / "bom.log"
    log.write_bytes(IMMUDB[0] + b"\xef\xbb\xbf" + IMMUDB[1] + b'{"kind":"Event","auditID":"x","cut short\n' + IMMUDB[2])
    lake = Lake(tmp_path / "lake")
    lake.ingest([log])
    rows, quarantined = accounted(lake)
    assert rows == {1, 2, 4} and set(quarantined) == {3}


@pytest.mark.parametrize("junk", [b"\xef\xbb\xbf", b"\xbb\xef", b"\xbf\xbf\xbf", b"\xef\xbb\xbf\xef\xbb\xbf"])
def test_lines_of_only_byte_order_mark_bytes_are_quarantined_not_lost(tmp_path, junk):
    log = tmp_path / "junk.log"
    log.write_bytes(IMMUDB[0] + junk + b"\n" + IMMUDB[1])
    lake = Lake(tmp_path / "lake")
    result = lake.ingest([log])
    rows, quarantined = accounted(lake)
    assert rows == {1, 3} and set(quarantined) == {2} and result.quarantined == 1


def test_blank_lines_are_counted_so_every_line_is_accounted_for(tmp_path):
    log = tmp_path / "blank.log"
    log.write_bytes(IMMUDB[0] + b"\n  \t\r\n" + IMMUDB[1])
    result = Lake(tmp_path / "lake").ingest([log])
    assert (result.events_written, result.quarantined, result.blank_lines) == (2, 0, 2)


# ---- I6: an event of any size, in bounded memory ----------------------------------------------------------
def test_a_100_mb_event_lands_in_under_1_gib_with_its_body_set_aside(tmp_path):
    """Measured in a child process, so its peak RSS is its own."""
    log = tmp_path / "huge.log"
    body = {"kind": "ConfigMapList", "items": [{"metadata": {"name": f"cm-{i}"}, "data": {"k": "v" * 300}} for i in range(270_000)]}
    log.write_bytes(IMMUDB[0] + ev("huge", "2026-11-01T00:00:00Z", level="RequestResponse", verb="list", responseObject=body)
                    + IMMUDB[1])
    assert log.stat().st_size > 90 << 20
    script = ("import resource, sys; from auditlake import Lake; r = Lake(sys.argv[1]).ingest([sys.argv[2]]); "
              "print(r.events_written, r.quarantined, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    output = subprocess.run([sys.executable, "-c", script, str(tmp_path / "lake"), str(log)], capture_output=True, text=True,
                            check=True).stdout.split()
    written, quarantined, peak_kib = map(int, output)
    assert (written, quarantined) == (3, 0)
    assert peak_kib < 1 << 20, f"peak RSS {peak_kib / 1024:.0f} MiB"
    note = orjson.loads(Lake(tmp_path / "lake").sql("select response_object from events where audit_id = 'huge'").item())
    assert note["bytes"] > hugelines.MAX_BODY_BYTES and note["fingerprint"].startswith("hmac-sha256:")


def test_a_huge_line_that_is_not_json_is_quarantined_with_a_true_reason_and_a_bounded_raw_text(tmp_path):
    log = tmp_path / "huge-garbage.log"
    log.write_bytes(IMMUDB[0] + b'{"kind":"Event","auditID":"h","requestObject":{"x":"' + b"y" * (20 << 20) + b"\n" + IMMUDB[1])
    lake = Lake(tmp_path / "lake")
    lake.ingest([log])
    rows, quarantined = accounted(lake)
    assert rows == {1, 3} and "not JSON" in quarantined[2]
    assert lake.sql("select length(raw) as n from quarantine").item() <= (1 << 20) + 8


# ---- I7: an unreadable entry is skipped, said, counted --------------------------------------------------
def test_an_unreadable_directory_entry_is_skipped_and_the_rest_lands(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "audit-1.log").write_bytes(b"".join(IMMUDB[:10]))
    (logs / "audit-2.log").symlink_to(logs / "pruned-backup.log")  # dangling
    (logs / "audit.log").write_bytes(b"".join(IMMUDB[10:20]))
    lake = str(tmp_path / "lake")
    result = run("ingest", str(logs), "--lake", lake)
    assert result.exit_code == 0 and "audit-2.log: unreadable" in result.said
    assert Lake(lake).sql("select count(*) as n from events").item() == 20
    strict = run("ingest", str(logs), "--lake", lake, "--strict")
    assert strict.exit_code == 1 and "1 file(s) not read" in strict.said


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file: permissions cannot be tested as root")
def test_a_file_without_read_permission_is_skipped(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "audit.log").write_bytes(b"".join(IMMUDB[:10]))
    secret = logs / "audit-0.log"
    secret.write_bytes(IMMUDB[10])
    secret.chmod(0)
    result = Lake(tmp_path / "lake").ingest([logs])
    assert result.events_written == 10 and any(item.name == str(secret) and item.is_problem for item in result.skipped)


def test_a_file_that_is_not_json_in_a_directory_fails_strict(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "audit.log").write_bytes(b"".join(IMMUDB[:10]))
    (logs / "audit.log.1").write_bytes(gzip.compress(b"\x00\x01binary junk\n" * 10))
    result = run("ingest", str(logs), "--lake", str(tmp_path / "lake"), "--strict")
    assert result.exit_code == 1 and "not read" in result.said


# ---- I8: what a duplicate is ---------------------------------------------------------------------------
def test_one_audit_id_and_stage_at_two_times_are_two_requests_and_an_exact_repeat_is_a_duplicate(tmp_path):
    log = tmp_path / "ids.log"
    log.write_bytes(ev("same", "2026-11-01T00:00:00Z") + ev("same", "2026-11-02T00:00:00Z") + ev("same", "2026-11-01T00:00:00Z"))
    lake = Lake(tmp_path / "lake")
    result = lake.ingest([log])
    assert (result.events_written, result.duplicates) == (2, 1)
    other = tmp_path / "copy.log"
    other.write_bytes(ev("other", "2026-11-03T00:00:00Z") + ev("same", "2026-11-02T00:00:00Z"))
    assert (lambda r: (r.events_written, r.duplicates))(lake.ingest([other])) == (1, 1)


# ---- S3: nothing of a block outlives it ----------------------------------------------------------------
def test_decoding_leaves_no_scratch_file_behind_even_when_killed(tmp_path):
    log = tmp_path / "audit.log"
    log.write_bytes(b"".join(IMMUDB) * 300)
    shm = Path(scratch._scratch_dir())
    before = set(shm.glob("auditlake-*"))
    child = subprocess.Popen([sys.executable, "-c", "import sys; from auditlake import Lake; Lake(sys.argv[1]).ingest([sys.argv[2]])",
                              str(tmp_path / "lake"), str(log)])
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and child.poll() is None and not set(shm.glob("auditlake-*")) - before:
        time.sleep(0.005)  # killed the moment a scratch file shows, or after 3 s of decoding
    child.kill()
    child.wait()
    assert not set(shm.glob("auditlake-*")) - before


def test_scratch_files_of_dead_runs_are_swept(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True).stdout.strip()
    leftover = Path(scratch._scratch_dir()) / f"auditlake-{dead}-7.jsonl"
    leftover.write_bytes(b'{"data":{"password":"left by a killed run"}}\n')
    mine = Path(scratch._scratch_dir()) / f"auditlake-{os.getpid()}-7.jsonl"
    mine.write_bytes(b"{}\n")
    try:
        Lake(tmp_path / "lake").ingest([DATA / "immudb_first_300_lines.log"])
        assert not leftover.exists() and mine.exists()  # a live run's scratch is not touched
    finally:
        leftover.unlink(missing_ok=True)
        mine.unlink(missing_ok=True)


def test_a_reason_names_the_type_duckdb_refused_never_the_value(tmp_path):
    """A reason is printed and kept in clear: DuckDB's quoted value (the line's data, maybe a secret) stays out of it."""
    log = tmp_path / "typed.log"
    log.write_bytes(IMMUDB[0] + ev("t", "2026-11-01T00:00:00Z", sourceIPs={"leak": "hunter2-in-a-reason"}))
    lake = Lake(tmp_path / "lake")
    result = lake.ingest([log])
    _, quarantined = accounted(lake)
    assert quarantined[2].endswith("but got OBJECT") and "hunter2" not in " ".join(result.quarantine_reasons)
