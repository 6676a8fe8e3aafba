"""Reading sources: gzip (whole, multi-member, truncated, corrupt), tails, ordering, fingerprints."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

from auditlake.ingest.sources import Block, Tail, discover_sources, iter_blocks, open_source
from tests.conftest import DATA

LOG = DATA / "immudb_first_300_lines.log"


def read_all(path: Path, block_size: int = 1 << 20) -> tuple[list[Block], list[Tail]]:
    sources, _ = discover_sources([str(path)])
    opened = open_source(sources[0])
    items = list(iter_blocks(opened, start_offset=0, start_line=1, block_size=block_size))
    opened.stream.close()
    return [i for i in items if isinstance(i, Block)], [i for i in items if isinstance(i, Tail)]


def test_blocks_cover_every_line_once_with_its_number():
    blocks, tails = read_all(LOG, block_size=10_000)
    assert not tails
    assert len(blocks) > 5
    assert b"".join(block.data for block in blocks) == LOG.read_bytes()
    expected_first = 1
    for block in blocks:
        assert block.first_line == expected_first
        expected_first += block.line_count
    assert expected_first - 1 == 300


def test_gzip_is_recognised_by_content_and_reads_like_the_plain_file(tmp_path):
    compressed = tmp_path / "audit-2023-03-10T22-41-59.000.log"  # no .gz suffix: detection is by magic bytes
    compressed.write_bytes(gzip.compress(LOG.read_bytes()))
    blocks, tails = read_all(compressed)
    assert b"".join(block.data for block in blocks) == LOG.read_bytes() and not tails


def test_concatenated_gzip_members_read_as_one_stream(tmp_path):
    lines = LOG.read_bytes().splitlines(keepends=True)
    path = tmp_path / "audit.log.gz"
    path.write_bytes(gzip.compress(b"".join(lines[:100])) + gzip.compress(b"".join(lines[100:])))
    blocks, tails = read_all(path)
    assert b"".join(block.data for block in blocks) == LOG.read_bytes() and not tails


def test_truncated_gzip_keeps_whole_lines_and_reports_the_rest(tmp_path):
    data = gzip.compress(LOG.read_bytes())
    path = tmp_path / "audit.log.gz"
    path.write_bytes(data[: len(data) // 2])
    blocks, tails = read_all(path)
    text = b"".join(block.data for block in blocks)
    assert text and LOG.read_bytes().startswith(text)
    assert len(tails) == 1 and tails[0].reason == "truncated gzip stream"
    assert tails[0].line == text.count(b"\n") + 1
    assert LOG.read_bytes()[len(text):].startswith(tails[0].raw)


def test_corrupt_gzip_stops_at_the_damage_without_raising(tmp_path):
    data = bytearray(gzip.compress(LOG.read_bytes() * 3, compresslevel=1))
    for index in range(len(data) // 2, len(data) // 2 + 64):
        data[index] ^= 0xFF
    path = tmp_path / "audit.log.gz"
    path.write_bytes(bytes(data))
    blocks, tails = read_all(path)
    assert len(tails) == 1 and tails[0].reason.startswith(("corrupt gzip stream", "truncated gzip stream"))
    assert (LOG.read_bytes() * 3).startswith(b"".join(block.data for block in blocks))


def test_a_complete_last_event_without_newline_is_kept(tmp_path):
    path = tmp_path / "audit.log"
    path.write_bytes(LOG.read_bytes().rstrip(b"\n"))
    blocks, tails = read_all(path)
    assert not tails and sum(block.line_count for block in blocks) == 300


def test_a_cut_last_line_is_a_tail_not_a_block(tmp_path):
    path = tmp_path / "audit.log"
    path.write_bytes(LOG.read_bytes() + b'{"kind":"Event","auditID":"cut')
    blocks, tails = read_all(path)
    assert sum(block.line_count for block in blocks) == 300
    assert tails[0].line == 301 and tails[0].raw == b'{"kind":"Event","auditID":"cut'
    assert tails[0].offset == len(LOG.read_bytes())


def test_rotated_backups_come_before_the_live_log_and_the_lake_is_never_a_source(tmp_path):
    for name in ("audit.log", "audit-2026-11-02T00-00-00.000.log.gz", "audit-2026-11-01T00-00-00.000.log", "README.md"):
        (tmp_path / name).write_text("{}\n")
    (tmp_path / "lake" / "_manifest").mkdir(parents=True)
    (tmp_path / "lake" / "_manifest" / "manifest.json").write_text("{}\n")
    sources, skipped = discover_sources([str(tmp_path)], exclude=(tmp_path / "lake").resolve())
    assert [Path(source.name).name for source in sources] == [
        "audit-2026-11-01T00-00-00.000.log", "audit-2026-11-02T00-00-00.000.log.gz", "audit.log"]
    assert [Path(item.name).name for item in skipped] == ["README.md"]  # YAML is read: it may hold events (tests/ingest/test_yaml.py)


def test_fingerprint_is_the_same_for_a_file_and_its_gzipped_rotation(tmp_path):
    live = tmp_path / "audit.log"
    live.write_bytes(LOG.read_bytes())
    rotated = tmp_path / "audit-2023.log.gz"
    rotated.write_bytes(gzip.compress(LOG.read_bytes()[:50_000]))
    fingerprints = set()
    for path in (live, rotated):
        opened = open_source(discover_sources([str(path)])[0][0])
        fingerprints.add(opened.fingerprint)
        opened.stream.close()
    assert len(fingerprints) == 1


def test_zlib_raw_streams_are_not_mistaken_for_gzip(tmp_path):
    path = tmp_path / "audit.log"
    path.write_bytes(zlib.compress(LOG.read_bytes()))
    opened = open_source(discover_sources([str(path)])[0][0])
    assert not opened.stream.is_gzip and not opened.looks_like_json
