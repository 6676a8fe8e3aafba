"""Secret redaction: no Secret value or credential reaches disk, but "did this secret change?" stays answerable.

Owns: deciding which values of an audit Event are secrets or credentials and replacing each with a
keyed fingerprint. Redaction goes by what the request is about, not only by what a body says it is:

- **A request on `secrets`** (its `objectRef.resource`, or its URI when there is no objectRef): every
  body is read as one of the shapes the apiserver sends for secrets: a Secret, a merge or
  strategic-merge patch, an RFC 6902 JSON patch, a list (`SecretList`, GKE's `@type` lists, a
  `kind`-less list; its items carry no `kind`), a watch event, a `Table` (its rows' objects),
  `PartialObjectMetadata`, `DeleteOptions`, `Status`. A body of any other shape, or that is not a
  JSON object or patch (a YAML apply body sent as a string), is removed whole and replaced by a
  note that says so (fail closed).
- **Any body**: a Secret or SecretList nested anywhere (a `List` created, an admission review), the
  copy of a Secret inside `kubectl.kubernetes.io/last-applied-configuration`, and every value under
  a credential key (`token`: TokenRequest `status.token`, TokenReview `spec.token`, kubeconfig-like
  `access_token`, …).
- **Request URIs**: the values of credential query parameters (`?access_token=…`).
- **Quarantined raw lines**: a line that is JSON is redacted structurally, as above; one that is not
  JSON (cut short, a bad byte) and could concern secrets is cut before the first place a secret value
  could start, and the note says how much was removed.

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
from urllib.parse import quote, unquote

import orjson

from auditlake.ingest import jsontext

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
SECRET_FIELDS = ("data", "stringData")
PREFIX = "hmac-sha256:"
REDACTED_KEY = "auditlake:redacted"
# Keys whose value is a credential wherever they appear in a body (TokenRequest status.token, TokenReview spec.token, …).
CREDENTIAL_KEYS = frozenset({"token", "bearerToken", "accessToken", "access_token", "idToken", "id_token", "refreshToken",
                             "refresh_token"})
# Kinds a body of a request on secrets may have besides Secret itself: they hold no values, or hold Secrets where we look.
_SECRET_LIST_KINDS = frozenset({"SecretList", "List", "PartialObjectMetadataList"})
_VALUELESS_KINDS = frozenset({"Status", "DeleteOptions"})
# A raw line longer than this is quarantined cut to this length (the rest stays in the source file).
QUARANTINE_RAW_LIMIT = 1 << 20
# SQL and Python agree on what makes a body worth a look (the decoder's pre-filter, see eventsql.DECODE_SQL).
BODY_NEEDS_LOOK = r'Secret|"(' + "|".join(sorted(CREDENTIAL_KEYS)) + r')"\s*:'
URI_NEEDS_LOOK = r"(?i)[?&][^=&#]*(token|bearer|password|secret)[^=&#]*="
_BODY_NEEDS_LOOK = re.compile(BODY_NEEDS_LOOK)
_URI_CREDENTIAL = re.compile(r"(?i)([?&][^=&#]*(?:token|bearer|password|secret)[^=&#]*=)([^&#]*)")


class Redactor:
    """Redacts Secret values and credentials under one lake's key."""

    def __init__(self, key: bytes):
        self._key = key

    def fingerprint(self, value: Any, *, is_base64: bool = False) -> str:
        """`hmac-sha256:<16 hex>` of a secret value (decoded first when it is base64 `data`)."""
        if isinstance(value, str):
            raw: bytes | memoryview = value.encode()
            if is_base64:
                try:
                    raw = base64.b64decode(value, validate=True)
                except (binascii.Error, ValueError):
                    pass
        elif isinstance(value, (bytes, memoryview)):
            raw = value
        else:
            raw = jsontext.dumps(value, sort_keys=True)
        return PREFIX + hmac.new(self._key, raw, hashlib.sha256).hexdigest()[:16]

    # ---- bodies ---------------------------------------------------------------------------------
    def redact_body(self, text: str, *, is_secret_resource: bool) -> str:
        """A request/response body (JSON text) with every Secret value and credential replaced by its fingerprint."""
        try:
            body = orjson.loads(text)
        except orjson.JSONDecodeError:
            return jsontext.dumps(self._removed("the body is not JSON", text)).decode()
        return jsontext.dumps(self.redact_value(body, is_secret_resource=is_secret_resource)).decode()

    def redact_value(self, body: Any, *, is_secret_resource: bool) -> Any:
        """A parsed body, redacted (a new value where the whole body had to go, else the same one, changed in place)."""
        if is_secret_resource:
            understood = self._redact_secret_request_body(body)
            if understood is None:
                return self._removed(f"a body of a request on secrets that is {_shape(body)}, not a shape auditlake reads "
                                     "(Secret, list, patch, watch event, Table, Status)", body)
            body = understood
        self._walk(body)
        return body

    def looks_worth_redacting(self, text: str) -> bool:
        """Whether a body of a request not on secrets may hold a Secret or a credential (the decoder's pre-filter, in Python)."""
        return bool(_BODY_NEEDS_LOOK.search(text))

    def _removed(self, why: str, value: Any) -> dict[str, str]:
        return {REDACTED_KEY: f"removed whole: {why}", "fingerprint": self.fingerprint(value)}

    def _redact_secret_request_body(self, body: Any) -> Any | None:
        """A body of a request on secrets, redacted; None when its shape is not one the apiserver sends for secrets."""
        if isinstance(body, list):  # an RFC 6902 JSON patch
            if not all(isinstance(operation, dict) and "op" in operation for operation in body):
                return None
            self._redact_json_patch(body)
            return body
        if not isinstance(body, dict):
            return None
        kind = _kind(body)
        if kind == "Table":
            for row in body.get("rows") or []:
                if isinstance(row, dict) and row.get("object") is not None:
                    row["object"] = self._secret_item(row["object"])
            return body
        if kind == "WatchEvent" or (not kind and "object" in body and "type" in body):
            body["object"] = self._secret_item(body.get("object"))
            return body
        if kind in _SECRET_LIST_KINDS or (not kind and isinstance(body.get("items"), list)):
            items = body.get("items")
            if items is not None and not isinstance(items, list):
                return None
            body["items"] = [self._secret_item(item) for item in items or []]
            return body
        if kind in _VALUELESS_KINDS:
            return body
        if kind in ("Secret", "PartialObjectMetadata") or not kind:  # kind-less: a merge patch or a list item
            self._redact_secret_fields(body)
            return body
        return None

    def _secret_item(self, item: Any) -> Any:
        """One object inside a list, watch event or Table row of secrets (items of a list have no `kind`)."""
        if isinstance(item, dict) and _kind(item) in ("Secret", "PartialObjectMetadata", ""):
            self._redact_secret_fields(item)
            return item
        return self._removed(f"an item of a list of secrets that is {_shape(item)}", item)

    def _walk(self, value: Any) -> None:
        if isinstance(value, dict):
            self._redact_node(value)
            for child in value.values():
                if isinstance(child, (dict, list)):
                    self._walk(child)
        elif isinstance(value, list):
            for child in value:
                if isinstance(child, (dict, list)):
                    self._walk(child)

    def _redact_node(self, value: dict[str, Any]) -> bool:
        """The rules for one object, whatever the request: a Secret, a SecretList, credential keys. True if it is a Secret(List)."""
        kind = _kind(value)
        if kind == "Secret":
            self._redact_secret_fields(value)
        elif kind == "SecretList" and isinstance(value.get("items"), list):
            value["items"] = [self._secret_item(item) for item in value["items"]]
        for key, child in value.items():
            if key in CREDENTIAL_KEYS and child is not None and not isinstance(child, (dict, list)) and not _is_fingerprint(child):
                value[key] = self.fingerprint(child)
        return kind in ("Secret", "SecretList")

    def _redact_secret_fields(self, secret: dict[str, Any]) -> None:
        for field in SECRET_FIELDS:
            values = secret.get(field)
            if isinstance(values, dict):
                secret[field] = {key: item if item is None or _is_fingerprint(item) else self.fingerprint(item, is_base64=field == "data")
                                 for key, item in values.items()}
            elif values is not None and not _is_fingerprint(values):
                secret[field] = self.fingerprint(values)
        metadata = secret.get("metadata")
        annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
        if isinstance(annotations, dict) and annotations.get(LAST_APPLIED) is not None:
            annotations[LAST_APPLIED] = self._redact_last_applied(annotations[LAST_APPLIED])

    def _redact_last_applied(self, text: Any) -> Any:
        """The Secret kubectl kept in an annotation, redacted (anything else there is taken for a secret)."""
        if not isinstance(text, str):
            return self.fingerprint(text)
        try:
            applied = orjson.loads(text)
        except orjson.JSONDecodeError:
            return self.fingerprint(text)
        if not isinstance(applied, dict):
            return self.fingerprint(text)
        self._redact_secret_fields(applied)
        self._walk(applied)
        return jsontext.dumps(applied).decode() + ("\n" if text.endswith("\n") else "")

    def _redact_json_patch(self, operations: list[Any]) -> None:
        """RFC 6902 operations on a Secret: every value written anywhere but plain metadata is fingerprinted."""
        for operation in operations:
            if not isinstance(operation, dict) or "value" not in operation:
                continue
            path = str(operation.get("path", ""))
            value = operation["value"]
            if path in ("/data", "/stringData") and isinstance(value, dict):
                field = path[1:]
                operation["value"] = {key: None if item is None else self.fingerprint(item, is_base64=field == "data")
                                      for key, item in value.items()}
            elif path.startswith(("/data/", "/stringData/")):
                operation["value"] = self.fingerprint(value, is_base64=path.startswith("/data/"))
            elif path in ("", "/") and isinstance(value, dict):
                self._redact_secret_fields(value)
            elif path == "/metadata/annotations/" + LAST_APPLIED.replace("/", "~1"):
                operation["value"] = self._redact_last_applied(value)
            elif path in ("/metadata", "/metadata/annotations") and isinstance(value, dict):
                self._redact_secret_fields({"metadata": value} if path == "/metadata" else {"metadata": {"annotations": value}})
            elif not (path.startswith("/metadata/") or path in ("/type", "/immutable", "/kind", "/apiVersion")):
                operation["value"] = self.fingerprint(value)  # a path we cannot place: fail closed

    # ---- request URIs ---------------------------------------------------------------------------
    def redact_uri(self, uri: str) -> str:
        """A request URI with the values of credential query parameters (`access_token`, `token`, …) fingerprinted."""
        return _URI_CREDENTIAL.sub(lambda match: match.group(1) + quote(self.fingerprint(unquote(match.group(2))), safe=":"), uri)

    # ---- raw lines ------------------------------------------------------------------------------
    def scrub_raw(self, raw: bytes) -> tuple[bytes, str]:
        """A raw line for quarantine, with no secret value left in it, and a note of what was removed ("" if nothing).

        A line that parses as JSON is redacted structurally, the way its row would have been,
        including Events held as JSON text inside wrapper records. A line that does not parse, or is
        too long to keep whole, cannot be trusted to show where a secret starts: when it could
        concern secrets, it is cut before the first body, `data` or credential key.
        """
        if len(raw) > QUARANTINE_RAW_LIMIT:
            return self._cut(raw[:QUARANTINE_RAW_LIMIT], f"the line is {len(raw):,} bytes: only its first {QUARANTINE_RAW_LIMIT:,} are kept")
        document = _parse_json(raw)
        if document is _NOT_JSON:
            return self._cut(raw, "")
        before = jsontext.dumps(document)
        after = jsontext.dumps(self._scrub_document(document, depth=0))
        return (raw, "") if after == before else (after, "secret values replaced by fingerprints")

    def _scrub_document(self, value: Any, depth: int) -> Any:
        """A parsed quarantined document with every secret redacted, at any depth and inside JSON held as text."""
        if isinstance(value, list):
            if value and all(isinstance(item, dict) and "op" in item and "path" in item for item in value):
                self._redact_json_patch(value)  # a JSON patch out of context: it could be on a Secret
            return [self._scrub_document(item, depth) for item in value]
        if isinstance(value, str):
            return self._scrub_json_text(value, depth)
        if not isinstance(value, dict):
            return value
        bodies: tuple[str, ...] = ()
        if any(key in value for key in ("requestObject", "responseObject", "objectRef", "requestURI")):  # an audit Event
            bodies, is_secret = ("requestObject", "responseObject"), _is_about_secrets(value)
            if isinstance(value.get("requestURI"), str):
                value["requestURI"] = self.redact_uri(value["requestURI"])
        elif "methodName" in value or "resourceName" in value:  # a GKE AuditLog payload
            bodies, is_secret = ("request", "response"), bool(_GKE_SECRETS.search(str(value.get("resourceName") or "")))
        for key in bodies:
            if key in value:
                value[key] = self.redact_value(value[key], is_secret_resource=is_secret)
        for key in ("requestJson", "responseJson") if bodies == ("request", "response") else ():
            if isinstance(value.get(key), str):
                inner = _parse_json(value[key].encode())
                value[key] = (jsontext.dumps(self.redact_value(inner, is_secret_resource=is_secret)).decode() if inner is not _NOT_JSON
                              else self._cut(value[key].encode(), "")[0].decode("utf-8", "replace"))
        if self._redact_node(value):
            self._walk(value)  # a Secret (or list of them): done, nothing inside it is an Event
            return value
        return {key: child if key in bodies else self._scrub_document(child, depth) for key, child in value.items()}

    def _scrub_json_text(self, text: str, depth: int) -> str:
        """A string that holds JSON (AKS `properties.log`, a CloudWatch `message`), scrubbed as a document of its own."""
        if depth >= 3 or text[:1] not in ("{", "[") or len(text) < 2:
            return text
        inner = _parse_json(text.encode())
        if inner is _NOT_JSON:
            return self._cut(text.encode(), "")[0].decode("utf-8", "replace")
        before = jsontext.dumps(inner)
        after = jsontext.dumps(self._scrub_document(inner, depth + 1))
        return text if after == before else after.decode()

    def _cut(self, raw: bytes, note: str) -> tuple[bytes, str]:
        """Not JSON: keep it whole unless it could concern secrets; then keep only what comes before any value could."""
        if not _COULD_CONCERN_SECRETS.search(raw):
            return raw, note
        match = _SECRET_MAY_START.search(raw)
        if match is None:
            return raw, note
        removed = len(raw) - match.start()
        cut_note = (f"not valid JSON and it may concern secrets, so the {removed:,} bytes from byte {match.start() + 1:,} on were "
                    "removed; the source file has the whole line")
        return raw[: match.start()] + b"\xe2\x80\xa6", "; ".join(filter(None, (note, cut_note)))


def _kind(value: dict[str, Any]) -> str:
    """An object's kind: `kind`, else the last part of GKE's `@type` (`core.k8s.io/v1.SecretList` → SecretList)."""
    kind = value.get("kind")
    if isinstance(kind, str) and kind:
        return kind
    gke_type = value.get("@type")
    if isinstance(gke_type, str) and gke_type:
        return gke_type.rsplit(".", 1)[-1].rsplit("/", 1)[-1]
    return ""


def _shape(value: Any) -> str:
    if isinstance(value, dict):
        kind = _kind(value)
        return f"of kind {kind}" if kind else "an object"
    return {str: "a string", list: "a list", bool: "a boolean", type(None): "null"}.get(type(value), "a number")


def _is_fingerprint(value: Any) -> bool:
    """A value this module wrote (redaction runs over nested shapes more than once and must not fingerprint a fingerprint)."""
    return isinstance(value, str) and len(value) == len(PREFIX) + 16 and value.startswith(PREFIX)


_GKE_SECRETS = re.compile(r"(^|/)secrets(/|$)")
_SECRETS_URI = re.compile(r"^/api/v1/(namespaces/[^/]+/)?secrets([/?]|$)")


def _is_about_secrets(event: dict[str, Any]) -> bool:
    """Whether an Event (as parsed JSON) is a request on secrets: by its objectRef, else by its URI."""
    reference = event.get("objectRef")
    if isinstance(reference, dict) and reference.get("resource") is not None:
        return reference.get("resource") == "secrets"
    return bool(_SECRETS_URI.match(str(event.get("requestURI") or "")))


def is_secrets_uri_sql(uri: str) -> str:
    """The same URI test as `_is_about_secrets`, as DuckDB SQL over the expression `uri`."""
    return f"regexp_matches(coalesce({uri}, ''), '{_SECRETS_URI.pattern}')"


_NOT_JSON = object()


def _parse_json(raw: bytes) -> Any:
    text = raw[3:] if raw.startswith(b"\xef\xbb\xbf") else raw
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return _NOT_JSON


# Could a line that is not JSON hold a secret value? Only if it names secrets, a token, or hides words in \u escapes.
_COULD_CONCERN_SECRETS = re.compile(rb"(?i)secret|token|bearer|password|\\u[0-9a-f]{4}")
# Where a secret value could start in such a line: the first body, data or credential key (at any escaping depth), or escape.
_SECRET_MAY_START = re.compile(rb'(?i)requestObject|responseObject|"?(?:string)?data\\*"|token|bearer|password|\\u[0-9a-f]{4}|'
                               rb'last-applied|"value\\*"')
