"""Secret redaction: Secret values never reach disk, but "did this secret change?" stays answerable.

Owns: replacing every value of a Secret's `data` and `stringData` with a keyed fingerprint, in
request and response bodies (Secrets, SecretLists, patches to secrets, JSON patches, the copy
inside `kubectl.kubernetes.io/last-applied-configuration`, Secrets nested anywhere in a body),
and scrubbing the same values out of raw lines before they are quarantined.

The fingerprint is HMAC-SHA256 under a per-lake key (`_manifest/redaction.key`), shortened to
16 hex digits: equal values give equal fingerprints inside one lake, while a leaked lake does
not let anyone test guesses against unsalted hashes from another. `data` values are base64:
they are fingerprinted decoded, so `data: {a: Zm9v}` and `stringData: {a: foo}` match.
Never writes anything itself and never logs a value it redacts.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from typing import Any

import orjson

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
SECRET_FIELDS = ("data", "stringData")
PREFIX = "hmac-sha256:"
REDACTED_BODY = "redacted: not a JSON object or patch; the whole body was replaced by its fingerprint"


class Redactor:
    """Redacts Secret values under one lake's key."""

    def __init__(self, key: bytes):
        self._key = key

    def fingerprint(self, value: Any, *, is_base64: bool = False) -> str:
        """`hmac-sha256:<16 hex>` of a secret value (decoded first when it is base64 `data`)."""
        if isinstance(value, str):
            raw = value.encode()
            if is_base64:
                try:
                    raw = base64.b64decode(value, validate=True)
                except (binascii.Error, ValueError):
                    pass
        else:
            raw = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        return PREFIX + hmac.new(self._key, raw, hashlib.sha256).hexdigest()[:16]

    # ---- bodies ---------------------------------------------------------------------------------
    def redact_body(self, text: str, *, is_secret_resource: bool) -> str:
        """A request/response body (JSON text) with every Secret value replaced by its fingerprint."""
        try:
            body = orjson.loads(text)
        except orjson.JSONDecodeError:
            return orjson.dumps(self.fingerprint(text)).decode()
        if is_secret_resource and not isinstance(body, (dict, list)):
            return orjson.dumps({"redacted": REDACTED_BODY, "fingerprint": self.fingerprint(body)}).decode()
        if is_secret_resource and isinstance(body, dict) and body.get("kind") not in ("Secret", "SecretList", "Status", "Table", "List"):
            self._redact_secret_fields(body)  # a merge or strategic-merge patch of a Secret has no kind
        if is_secret_resource and isinstance(body, list):
            self._redact_json_patch(body)
        self._walk(body)
        return orjson.dumps(body).decode()

    def _walk(self, value: Any) -> None:
        if isinstance(value, dict):
            if value.get("kind") == "Secret":
                self._redact_secret_fields(value)
            for child in value.values():
                if isinstance(child, (dict, list)):
                    self._walk(child)
        elif isinstance(value, list):
            for child in value:
                if isinstance(child, (dict, list)):
                    self._walk(child)

    def _redact_secret_fields(self, secret: dict[str, Any]) -> None:
        for field in SECRET_FIELDS:
            values = secret.get(field)
            if isinstance(values, dict):
                secret[field] = {
                    key: None if item is None else self.fingerprint(item, is_base64=field == "data") for key, item in values.items()
                }
            elif values is not None:
                secret[field] = self.fingerprint(values)
        metadata = secret.get("metadata")
        annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
        if isinstance(annotations, dict) and isinstance(annotations.get(LAST_APPLIED), str):
            annotations[LAST_APPLIED] = self._redact_last_applied(annotations[LAST_APPLIED])

    def _redact_last_applied(self, text: str) -> str:
        try:
            applied = orjson.loads(text)
        except orjson.JSONDecodeError:
            return self.fingerprint(text)
        if isinstance(applied, dict):
            if applied.get("kind") != "Secret":  # a Secret is redacted by the walk; anything else here still is one
                self._redact_secret_fields(applied)
            self._walk(applied)
        else:
            return self.fingerprint(text)
        return orjson.dumps(applied).decode() + ("\n" if text.endswith("\n") else "")

    def _redact_json_patch(self, operations: list[Any]) -> None:
        """RFC 6902 operations on a Secret: fingerprint values written under /data or /stringData."""
        for operation in operations:
            if not isinstance(operation, dict) or "value" not in operation:
                continue
            path = str(operation.get("path", ""))
            if path in ("/data", "/stringData") and isinstance(operation["value"], dict):
                field = path[1:]
                operation["value"] = {
                    key: self.fingerprint(item, is_base64=field == "data") for key, item in operation["value"].items()
                }
            elif path.startswith(("/data/", "/stringData/")):
                operation["value"] = self.fingerprint(operation["value"], is_base64=path.startswith("/data/"))
            elif path == "/metadata/annotations/" + LAST_APPLIED.replace("/", "~1") and isinstance(operation["value"], str):
                operation["value"] = self._redact_last_applied(operation["value"])
            elif path in ("", "/") and isinstance(operation["value"], dict):
                self._redact_secret_fields(operation["value"])

    # ---- raw lines ------------------------------------------------------------------------------
    def scrub_raw(self, raw: bytes) -> bytes:
        """A raw line (maybe truncated, maybe not JSON) with anything that looks like a Secret value scrubbed.

        Used only for quarantine, where structure cannot be trusted: every string value inside a
        `data` or `stringData` object, at any level of JSON escaping, is replaced by its
        fingerprint, up to the object's end or the end of the text.
        """
        if b"ecret" not in raw and b"data" not in raw.lower():
            return raw
        return _SECRET_BLOCK.sub(self._scrub_block, raw)

    def _scrub_block(self, match: re.Match[bytes]) -> bytes:
        head, body = match.group(1), match.group(2)
        scrubbed = _QUOTED_VALUE.sub(
            lambda value: value.group(1) + self.fingerprint(value.group(2).decode("utf-8", "replace")).encode() + value.group(3),
            body,
        )
        return head + scrubbed


# `"data": {` or `\"stringData\":{` at any escaping depth, then everything up to the first `}`.
_SECRET_BLOCK = re.compile(rb'((?:\\*")(?:data|stringData)(?:\\*")\s*:\s*\{)([^}]*)', re.IGNORECASE)
# `"key": "value"` inside such a block, at any escaping depth (the value may be cut short).
_QUOTED_VALUE = re.compile(rb'(:\s*\\*")((?:[^"\\]|\\(?!"))*)(\\*"|$)')
