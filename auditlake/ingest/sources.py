"""Input discovery and byte streams: which files to read, and their lines in blocks.

Owns: expanding paths, directories, globs and object-store prefixes (`s3://bucket/prefix/`, listed
through objectstore.py) into `Source`s in the order the apiserver wrote them; opening plain files,
objects, gzip streams (by magic bytes, not by name) and stdin; fingerprinting a
source by its first line so a renamed or compressed rotation is recognised; cutting the
decompressed stream into `Block`s of whole lines with their line numbers; and reading a whole
JSON document (a pretty-printed EventList) when a file is not one JSON value per line.

A broken stream is data, not an exception: a truncated or corrupt gzip, or a last line without
its newline, ends the blocks and is reported as a `Tail`. Never decodes events, never writes.
"""

from __future__ import annotations

import contextlib
import functools
import glob
import hashlib
import io
import os
import sys
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import orjson

from auditlake import objectstore
from auditlake.errors import InputError
from auditlake.objectstore import ObjectStore, StoredObject

STDIN = "-"
STDIN_NAME = "<stdin>"
GZIP_MAGIC = b"\x1f\x8b"
FINGERPRINT_BYTES = 64 * 1024
SNIFF_BYTES = 1 << 20  # at most this much is read to tell lines from a document, and only when the first line does not tell
SNIFF_LINES = 32
BOM = b"\xef\xbb\xbf"
READ_SIZE = 4 * 1024 * 1024
ANCHOR_BYTES = 4096
DOCUMENT_LIMIT = 1024 * 1024 * 1024  # a whole-document input larger than this is refused, not loaded
IGNORED_SUFFIXES = (".md", ".txt", ".sh", ".py", ".toml", ".ini", ".cfg", ".pem", ".crt", ".key", ".parquet",
                    ".duckdb", ".tmp")


@dataclass(frozen=True)
class Source:
    """One input: a file (absolute path), an object in a bucket (its URL) or standard input."""

    name: str  # absolute path, object URL (s3://bucket/key), or <stdin>
    path: Path | None  # None for stdin and objects
    stored: StoredObject | None = None  # an object, with its size and ETag as listed

    @property
    def is_stdin(self) -> bool:
        return self.path is None and self.stored is None


UNREADABLE = "unreadable"
NOT_JSON = "not JSON"


@dataclass(frozen=True)
class Skipped:
    """An input found while walking a directory that is not an audit log, or could not be read."""

    name: str
    reason: str

    @property
    def is_problem(self) -> bool:
        """Unreadable, or not JSON: something `--strict` fails on (unlike a README skipped by its name, or an empty file)."""
        return self.reason.startswith((UNREADABLE, NOT_JSON))


@dataclass
class Block:
    """Whole lines of one source, each ending in a newline, ready for the decoder.

    The bytes are kept in the pieces they were read in (`chunks`), because the common path only
    hands them to DuckDB; `data` joins them for the rare block Python has to look inside.
    """

    chunks: Sequence[bytes | memoryview] | bytes
    first_line: int  # line number of the first line of `data` in the source
    line_count: int
    end_offset: int  # decompressed byte offset just after this block: where a rerun resumes
    line_numbers: list[int] | None = None  # per line, when not consecutive from `first_line`
    items: list[int | None] | None = None  # per line: its index inside a list (EventList items, wrapper records)
    anchor: str | None = None  # identifies `end_offset` as a resume point (see anchor_of)

    def __post_init__(self) -> None:
        if isinstance(self.chunks, (bytes, bytearray)):
            self.chunks = (bytes(self.chunks),)

    @property
    def pieces(self) -> Sequence[bytes | memoryview]:
        """`chunks`, always as a sequence (a single `bytes` is wrapped when the block is made)."""
        return (self.chunks,) if isinstance(self.chunks, bytes) else self.chunks

    @functools.cached_property
    def data(self) -> bytes:
        return b"".join(self.pieces)

    def has_line_longer_than(self, limit: int) -> bool:
        """Whether some line of the block is longer than `limit` bytes (found without joining the pieces)."""
        if sum(len(piece) for piece in self.pieces) <= limit:
            return False
        length = 0  # of the line being measured, across piece boundaries
        for piece in self.pieces:
            data = piece if isinstance(piece, bytes) else bytes(piece)
            start = 0
            while (end := data.find(b"\n", start)) >= 0:
                if length + end - start > limit:
                    return True
                length, start = 0, end + 1
            length += len(data) - start
        return length > limit

    def release(self) -> None:
        """Let go of the bytes (a decoded block is kept only for its offsets and line numbers until it is committed)."""
        self.chunks = ()
        self.__dict__.pop("data", None)

    def line_number(self, index: int) -> int:
        """The source line of the block's `index`-th line (0-based)."""
        return self.line_numbers[index] if self.line_numbers is not None else self.first_line + index


@dataclass
class Tail:
    """Bytes at the end of a source that do not form a whole line: a truncated write or a broken stream."""

    line: int
    raw: bytes
    reason: str
    offset: int  # where the tail starts; a rerun re-reads from here if the file grew


def discover_sources(inputs: list[str], exclude: Path | None = None, *, endpoint: str | None = None) -> tuple[list[Source], list[Skipped]]:
    """Expand CLI inputs (files, directories, globs, `-`, object-store prefixes) into sources, oldest rotation first.

    Directories are walked recursively; hidden entries and files that are obviously not audit
    logs (policies, READMEs, certificates) are listed as skipped rather than read. Names sort so
    that lumberjack backups (`audit-2026-11-01T10-00-00.000.log[.gz]`) come before the live
    `audit.log`, which is the order the apiserver wrote them in. Nothing under `exclude` (the
    lake itself, when it lives inside the directory being read) is ever a source. A prefix in
    a bucket is read like a directory, its keys in the same order; `endpoint` overrides the S3
    endpoint (see objectstore.s3_endpoint).
    """
    if not inputs:
        raise InputError("no input given", hint="name audit log files or directories, or - for standard input")
    sources: list[Source] = []
    skipped: list[Skipped] = []
    seen: set[str] = set()

    def add(path: Path) -> None:
        key = str(path)
        if key not in seen:
            seen.add(key)
            sources.append(Source(key, path))

    stores: dict[str, ObjectStore] = {}
    for text in inputs:
        if objectstore.is_object_url(text):
            scheme = objectstore.split_url(text)[0]
            store = stores.get(scheme) or stores.setdefault(scheme, ObjectStore(scheme, endpoint=endpoint))
            _add_objects(text, store, sources, skipped, seen)
            continue
        if text == STDIN:
            if STDIN_NAME not in seen:
                seen.add(STDIN_NAME)
                sources.append(Source(STDIN_NAME, None))
            continue
        matches = [text] if Path(text).exists() else sorted(glob.glob(text, recursive=True))
        if not matches:
            raise InputError(f"{text}: no such file or directory", hint="check the path; quote globs so the shell passes them on")
        for match in matches:
            path = Path(match).resolve()
            if exclude is not None and path.is_relative_to(exclude):
                continue
            if path.is_dir():
                for found in sorted(_walk(path, exclude, skipped)):
                    if found.name.lower().endswith(IGNORED_SUFFIXES):
                        skipped.append(Skipped(str(found), "not an audit log (by its name)"))
                    else:
                        add(found)
            elif path.is_file() or path.is_fifo() or path.is_char_device():
                add(path)
            else:
                raise InputError(f"{path}: not a regular file")
    return sources, skipped


def _add_objects(url: str, store: ObjectStore, sources: list[Source], skipped: list[Skipped], seen: set[str]) -> None:
    """The objects under a prefix, as `_walk` treats the files under a directory: hidden names left out, others skipped by name."""
    prefix = objectstore.split_url(url)[1].rstrip("/")
    for item in store.list(url):
        below = objectstore.split_url(item.url)[1][len(prefix):].lstrip("/")
        if any(part.startswith(".") for part in below.split("/")):
            continue
        if item.url.rsplit("/", 1)[-1].lower().endswith(IGNORED_SUFFIXES):
            skipped.append(Skipped(item.url, "not an audit log (by its name)"))
        elif item.url not in seen:
            seen.add(item.url)
            sources.append(Source(item.url, None, item))


def _walk(directory: Path, exclude: Path | None, skipped: list[Skipped]) -> Iterator[Path]:
    """Every file under `directory`; a directory that cannot be listed is skipped and said so, never fatal."""

    def unreadable(error: OSError) -> None:
        skipped.append(Skipped(str(error.filename), f"{UNREADABLE}: {error.strerror or error}"))

    for root, dirs, files in os.walk(directory, onerror=unreadable):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and (exclude is None or (Path(root) / d).resolve() != exclude))
        for name in files:
            if not name.startswith("."):
                yield Path(root) / name


class DecodedStream:
    """The decompressed bytes of one source, read front to back once, in bounded pieces.

    Gzip is recognised by its magic bytes and may have several members (as `cat a.gz b.gz`).
    A truncated or corrupt gzip stream ends the data and sets `problem`; it never raises.
    `raw_sha256` and `raw_bytes` describe the bytes as stored on disk, for the manifest.
    """

    def __init__(self, source: Source, file: BinaryIO | None = None):
        self.source = source
        self.problem = ""
        self.raw_bytes = 0
        self._hash = hashlib.sha256()
        try:
            self._file: BinaryIO = file or (sys.stdin.buffer if source.path is None else source.path.open("rb"))
        except OSError as error:
            raise InputError(f"{source.name}: cannot open ({error.strerror})") from None
        self._compressed = self._read_raw(READ_SIZE)  # raw bytes not yet handed out or inflated
        self.is_gzip = self._compressed.startswith(GZIP_MAGIC)
        self._inflater = zlib.decompressobj(wbits=47)
        self._eof = False

    @property
    def raw_sha256(self) -> str:
        return self._hash.hexdigest()

    @property
    def can_seek(self) -> bool:
        return not self.is_gzip and not self.source.is_stdin and self._file.seekable()

    def seek(self, offset: int) -> None:
        """Position a plain file (the sha256 then no longer covers the whole file)."""
        self._file.seek(offset)
        self._compressed = b""
        self._eof = False
        self._hash = hashlib.sha256()
        self.raw_bytes = offset

    def _read_raw(self, size: int) -> bytes:
        try:
            if self.source.stored is not None:  # the store failing mid-read stops the run (ObjectStoreError): a rerun reads it again
                chunk = self.source.stored.store.read(self.source.stored, self._file, size)
            else:
                chunk = self._file.read(size)
        except OSError as error:
            self.problem = f"read error: {error.strerror}"
            return b""
        self.raw_bytes += len(chunk)
        self._hash.update(chunk)
        return chunk

    def read(self, size: int = READ_SIZE) -> bytes:
        """Up to `size` decompressed bytes (plain files: about `size`); b"" at the end or at a broken stream."""
        if self._eof:
            return b""
        if not self.is_gzip:
            if self._compressed:  # what was read to sniff the format
                out, self._compressed = self._compressed[:size], self._compressed[size:]
                return out
            out = self._read_raw(size)
            self._eof = not out
            return out
        return self._inflate(size)

    def _inflate(self, size: int) -> bytes:
        pieces: list[bytes] = []
        produced = 0
        while produced < size:
            if not self._compressed:
                self._compressed = self._read_raw(READ_SIZE)
                if not self._compressed:
                    self._eof = True
                    if not self._inflater.eof and not self.problem:
                        self.problem = "truncated gzip stream"
                    break
            if self._inflater.eof:  # the next gzip member, or trailing bytes
                if not self._compressed.startswith(GZIP_MAGIC[: len(self._compressed)]):
                    if self._compressed.strip(b"\0"):
                        self.problem = "corrupt gzip stream: data after the last gzip member"
                    self._eof = True
                    break
                self._inflater = zlib.decompressobj(wbits=47)
            try:
                chunk = self._inflater.decompress(self._compressed, size - produced)
            except zlib.error as error:
                self.problem = f"corrupt gzip stream: {error}"
                self._eof = True
                break
            self._compressed = self._inflater.unused_data if self._inflater.eof else self._inflater.unconsumed_tail
            pieces.append(chunk)
            produced += len(chunk)
        return b"".join(pieces)

    def fileno(self) -> int:
        return self._file.fileno()

    def close(self) -> None:
        if not self.source.is_stdin:
            self._file.close()


@dataclass
class OpenedSource:
    """A source opened and sniffed: its fingerprint, and a stream positioned at its start."""

    source: Source
    stream: DecodedStream
    fingerprint: str
    head: bytes  # decompressed bytes already read for sniffing, handed out again by `blocks`
    size: int  # on-disk or object size (0 for stdin)
    is_final: bool  # gzip or stdin: will not grow
    looks_like_json: bool
    is_document: bool = False  # the first line is not a whole JSON value: read as one document
    stat: os.stat_result | None = None  # of the file when it was opened (None for stdin)
    probed: bool = False  # the stream was moved to look at a resume point: reading from the start needs a fresh open
    etag: str | None = None  # of the object read (None for files and stdin)

    def anchor_at(self, offset: int) -> str | None:
        """The anchor of a plain file at `offset` (None where that would mean decompressing, or at 0)."""
        if not self.stream.can_seek or offset == 0:
            return None
        self.probed = True
        self.stream.seek(max(0, offset - ANCHOR_BYTES))
        return anchor_of(self.stream.read(min(ANCHOR_BYTES, offset)))


def open_source(source: Source) -> OpenedSource:
    """Open a source and read enough of it to fingerprint it and tell how to read it.

    Raises InputError when it cannot be opened (the pipeline skips it and says so).
    """
    stored = source.stored.store.open(source.stored) if source.stored is not None else None
    stream = DecodedStream(source, stored.file if stored is not None else None)
    head = b""
    while b"\n" not in head and len(head) < FINGERPRINT_BYTES:
        chunk = stream.read(FINGERPRINT_BYTES)
        if not chunk:
            break
        head += chunk
    newline = head.find(b"\n")
    first_line = head[: newline + 1] if 0 <= newline < FINGERPRINT_BYTES else head[:FINGERPRINT_BYTES]
    head, looks_like_json, is_document = _sniff(head, stream)
    # An audit log's first line (an event with its auditID and time) names the file through renames,
    # compression and growth. A pretty-printed document's first line ("{") names nothing: use its head.
    fingerprint = hashlib.sha256(head[:FINGERPRINT_BYTES] if is_document else first_line).hexdigest()[:32]
    stat = None
    if source.path is not None:
        with contextlib.suppress(OSError):
            stat = os.fstat(stream.fileno())
    size = stat.st_size if stat else stored.size if stored else 0
    return OpenedSource(source, stream, fingerprint, head, size, stream.is_gzip or source.is_stdin, looks_like_json, is_document, stat,
                        etag=stored.etag if stored else None)


def opened_bytes(opened: OpenedSource, data: bytes) -> OpenedSource:
    """A source's decompressed bytes, already read, opened again to be read as lines (no file is opened twice)."""
    stream = DecodedStream(Source(opened.source.name, None), io.BytesIO(data))
    return OpenedSource(opened.source, stream, opened.fingerprint, b"", opened.size, True, True, False)


def _sniff(head: bytes, stream: DecodedStream) -> tuple[bytes, bool, bool]:
    """(head, looks like JSON, is one document): JSON lines, or one JSON document (a pretty-printed EventList)?

    Decided on whole lines, never on a first line cut short: when the first non-blank line is a JSON
    value it is a log. Otherwise (a partial line left by a shipper, a bad byte, a line over 64 KiB)
    up to SNIFF_LINES lines or SNIFF_BYTES are read: if any of them is a JSON object (or array) on its
    own, it is a log whose odd lines will be quarantined; if not, and it starts like JSON, it is one
    document. More than the first line is read only in that rare case.
    """
    lines = _whole_lines(head)
    if lines and _is_json_value(lines[0]):
        return head, True, False
    while len(lines) < SNIFF_LINES and len(head) < SNIFF_BYTES:
        chunk = stream.read(SNIFF_BYTES - len(head))
        if not chunk:
            lines = _whole_lines(head + b"\n")  # the end of the data ends the last line
            break
        head += chunk
        lines = _whole_lines(head)
    if lines and _is_json_value(lines[0]):
        return head, True, False
    if any(_is_json_container(line) for line in lines[:SNIFF_LINES]):
        return head, True, False
    starts_like_json = clean_line(head.lstrip(b" \t\r\n"))[:1] in (b"{", b"[")
    if starts_like_json and lines and len(lines[0]) < FINGERPRINT_BYTES:  # "{" or `{"kind": "EventList",`: pretty-printed
        return head, True, True
    if starts_like_json or any(line[:1] in (b"{", b"[") for line in lines[:SNIFF_LINES]):
        return head, True, False  # lines that look like JSON and are broken: each is quarantined with its reason
    return head, False, False


def _whole_lines(data: bytes) -> list[bytes]:
    """The non-blank whole lines of `data`, cleaned (the part after the last newline is not a whole line)."""
    return [cleaned for line in data.split(b"\n")[:-1] if (cleaned := clean_line(line))]


def clean_line(line: bytes) -> bytes:
    """A line without the whitespace around it and without one leading UTF-8 byte-order mark (only a whole one)."""
    line = line.strip(b" \t\r")
    return line[len(BOM):].strip(b" \t\r") if line.startswith(BOM) else line


def _is_json_value(line: bytes) -> bool:
    try:
        orjson.loads(clean_line(line))
    except orjson.JSONDecodeError:
        return False
    return True


def _is_json_container(line: bytes) -> bool:
    """A non-empty JSON object or array on one line: what a pretty-printed document never has."""
    if line[:1] not in (b"{", b"["):
        return False
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError:
        return False
    return bool(value) and isinstance(value, (dict, list))


class SourceChangedError(Exception):
    """The bytes before the recorded resume offset are not what an earlier run read there.

    A different file that happens to share its first line with a known source (a copy that was
    then edited, say): the pipeline reads it again from the start rather than trust the offset.
    """


def anchor_of(tail: bytes) -> str:
    """What identifies a resume point: the hash of the bytes just before it."""
    return hashlib.sha256(tail[-ANCHOR_BYTES:]).hexdigest()[:32]


def iter_blocks(opened: OpenedSource, *, start_offset: int, start_line: int, block_size: int,
                anchor: str | None = None) -> Iterator[Block | Tail]:
    """Blocks of whole lines from `start_offset` on, then at most one `Tail` for what was left over.

    `start_offset`/`start_line` resume a source that was partly ingested before; the offset is
    always at a line boundary because only whole lines are ever recorded as consumed. The bytes
    before it must hash to `anchor`, else `SourceChangedError` is raised before any block.
    """
    stream = opened.stream
    pending = opened.head
    before = b""  # the last ANCHOR_BYTES bytes before the current position
    if start_offset and stream.can_seek:
        stream.seek(max(0, start_offset - ANCHOR_BYTES))
        before = stream.read(min(ANCHOR_BYTES, start_offset))
        pending = b""
    else:
        offset = 0
        while offset + len(pending) <= start_offset and pending:  # gzip cannot seek: read past it
            offset += len(pending)
            before = (before + pending)[-ANCHOR_BYTES:]
            pending = stream.read(READ_SIZE)
        cut = start_offset - offset
        before = (before + pending[:cut])[-ANCHOR_BYTES:]
        pending = pending[cut:]
    if start_offset and anchor is not None and anchor_of(before) != anchor:
        raise SourceChangedError(opened.source.name)
    offset = start_offset
    line = start_line
    carry = pending  # bytes not yet handed out: the start of the next line (or the sniffed head)
    long_line: list[bytes] = []  # pieces of a line longer than a block, kept apart (joining them would copy it again and again)
    while True:
        if b"\n" in carry:  # the sniffed head holds whole lines: hand them out first
            cut = carry.rfind(b"\n")
            head, carry = carry[: cut + 1], carry[cut + 1 :]
            count = head.count(b"\n")
            offset += len(head)
            before = (before + head)[-ANCHOR_BYTES:]
            yield Block(head, line, count, offset, anchor=anchor_of(before))
            line += count
        chunk = stream.read(block_size)
        if not chunk:
            break
        cut = chunk.rfind(b"\n")
        if cut < 0:  # no line ends in this chunk (a line longer than a block): keep it whole
            long_line.append(chunk)
            continue
        if long_line:
            carry = b"".join([carry, *long_line])
            long_line = []
        view = memoryview(chunk)[: cut + 1]  # no copy: DuckDB gets the pieces as they are
        count = chunk.count(b"\n", 0, cut + 1)
        offset += len(carry) + cut + 1
        before = (before + carry[-ANCHOR_BYTES:] + bytes(view[-ANCHOR_BYTES:]))[-ANCHOR_BYTES:]
        yield Block([carry, view] if carry else [view], line, count, offset, anchor=anchor_of(before))
        line += count
        carry = chunk[cut + 1 :]
    pending = b"".join([carry, *long_line])
    if pending.strip():
        if _is_json_value(pending) and not stream.problem:
            # A complete last event whose newline was never written: keep it, it is whole.
            offset += len(pending)
            before = (before + pending)[-ANCHOR_BYTES:]
            yield Block(pending + b"\n", line, 1, offset, anchor=anchor_of(before))
        else:
            reason = stream.problem or "truncated last line (no newline at end of data)"
            yield Tail(line, pending, reason, offset)
    elif stream.problem:
        yield Tail(line, b"", stream.problem, offset)


def read_document(opened: OpenedSource) -> bytes | Tail:
    """The whole source as one JSON text (a pretty-printed EventList or Event), or a Tail if unreadable."""
    data = opened.head
    while chunk := opened.stream.read(READ_SIZE):
        data += chunk
        if len(data) > DOCUMENT_LIMIT:
            return Tail(1, data[:4096], "JSON document larger than 1 GiB: split it into one Event per line", 0)
    if opened.stream.problem:
        return Tail(1, data, opened.stream.problem, 0)
    return data
