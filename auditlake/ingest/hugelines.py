"""Lines too long for DuckDB's buffers: an Event's bodies set aside so the rest decodes in bounded memory.

Owns: finding where the top-level `requestObject` and `responseObject` of a long JSON line are
(`body_spans`, token by token, holding only positions), and `set_aside` (the line with each body
replaced by `null`, and each body as the JSON text it was, or, past MAX_BODY_BYTES, a note with its
size and fingerprint). The decoder runs the skeleton through DuckDB and puts the bodies back.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable

import orjson

from auditlake.ingest import jsontext
from auditlake.ingest.sources import BOM

MAX_BODY_BYTES = 32 << 20  # a body longer than this is stored as a note with its size and fingerprint, not its text
HUGE_DOCUMENT_BYTES = 64 << 20  # a long line that is not an Event (an EventList, an export) is parsed whole up to this
OMITTED_KEY = "auditlake:omitted"


def set_aside(line: bytes, spans: list[tuple[str, int, int]],
              fingerprint: Callable[[memoryview], str] | None) -> tuple[bytes, dict[str, str]]:
    """(the line with its bodies at `spans` replaced by `null`, each body by key as JSON text or a note).

    `fingerprint` names an omitted body (the redactor's keyed one); without it, a plain SHA-256.
    """
    pieces: list[bytes] = []
    bodies: dict[str, str] = {}
    position = 0
    for key, start, end in spans:
        pieces += [line[position:start], b"null"]
        position = end
        bodies[key] = _body_text(key, memoryview(line)[start:end], fingerprint)
    return b"".join(pieces) + line[position:], bodies


def _body_text(key: str, raw: memoryview, fingerprint: Callable[[memoryview], str] | None) -> str:
    """A body of a huge Event as JSON text: itself (checked to be JSON), or a note with its size when it is too long."""
    if len(raw) > MAX_BODY_BYTES:
        named = fingerprint(raw) if fingerprint is not None else "sha256:" + hashlib.sha256(raw).hexdigest()
        return jsontext.dumps({OMITTED_KEY: f"{key} of {len(raw):,} bytes is longer than the {MAX_BODY_BYTES >> 20} MiB kept "
                                          "per body; read it in the source file", "bytes": len(raw), "fingerprint": named}).decode()
    try:
        orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        return jsontext.dumps({OMITTED_KEY: f"{key} is not valid JSON ({error.msg} at character {error.pos + 1})",
                             "bytes": len(raw)}).decode()
    return str(raw, "utf-8", "replace")


# A JSON string (with an optional `:` after it, which makes it a key), or a bracket: enough to find where a value ends.
_JSON_TOKEN = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"(\s*:)?|[\[\]{}]', re.DOTALL)
_BODY_KEYS = ("requestObject", "responseObject")


def body_spans(line: bytes) -> list[tuple[str, int, int]] | None:
    """Where the top-level `requestObject` and `responseObject` values of a JSON object line are: (key, start, end).

    None when the line is not one JSON object whose bodies are objects, lists or strings. Reads the
    line once, token by token, holding nothing but positions (it may be hundreds of MB).
    """
    start = len(line) - len(line.lstrip(b" \t\r"))
    if line.startswith(BOM, start):
        start += len(BOM)
    if line[start:start + 1] != b"{":
        return None
    depth = 0
    spans: list[tuple[str, int, int]] = []
    current: str | None = None  # the body key whose value is being read
    value_start = 0
    for match in _JSON_TOKEN.finditer(line, start):
        token = match.group(0)
        if token[:1] == b'"':
            if depth != 1:
                continue
            if match.group(1) is not None:  # a top-level key
                quoted = token[: token.rindex(b'"') + 1]
                try:
                    key = orjson.loads(quoted)
                except orjson.JSONDecodeError:
                    return None
                current = key if key in _BODY_KEYS else None
                value_start = match.end()
            elif current is not None:  # a body that is a string
                spans.append((current, match.start(), match.end()))
                current = None
        elif token in (b"{", b"["):
            if depth == 1 and current is not None:
                value_start = match.start()
            depth += 1
        else:
            depth -= 1
            if depth == 1 and current is not None:
                spans.append((current, value_start, match.end()))
                current = None
            elif depth == 0:
                return spans if spans else None
    return None
