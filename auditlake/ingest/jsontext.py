"""JSON text out of parsed values, at any depth the parser accepts.

Owns: `dumps`, which the decoder and the redactor use wherever a parsed value becomes text again.
orjson is fast but writes at most 255 levels of nesting while it reads 1,024; a deeper value (an
adversary's line, a CRD schema gone wild) is written by the standard library instead, so that a valid
line never crashes a run. Never reads files, never logs.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def dumps(value: Any, *, sort_keys: bool = False) -> bytes:
    """Compact JSON of `value` as UTF-8 (orjson's output, or the standard library's for values nested past 255 levels)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS if sort_keys else None)
    except TypeError:
        if isinstance(value, (dict, list)):
            return json.dumps(value, sort_keys=sort_keys, ensure_ascii=False, separators=(",", ":")).encode()
        raise
