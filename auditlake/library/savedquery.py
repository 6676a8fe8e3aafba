"""The saved-query file format: a YAML header in a leading `/* … */` comment, then one SQL statement.

Owns: finding `.sql` files (the project's `queries/`, then AUDITLAKE_QUERY_PATH), folder defaults
(`_defaults.yaml` of a query root and of a folder: parameters every query declares, parameters offered to
the queries whose SQL uses them, named `needs` sets; so headers do not repeat them),
strict loading (unknown keys, undeclared or unused `$name` parameters, duplicate names and SQL that
does not parse are one-line errors naming the file) and `SavedQuery`, the frozen record the rest of
the package reads. Never binds, runs or renders; DuckDB is imported only to check that SQL parses.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from auditlake import config
from auditlake.contract import FINDING_COLUMNS
from auditlake.errors import QueryError
from auditlake.library.suggest import did_you_mean
from auditlake.window import DEFAULT_SINCE

HEADER_KEYS = frozenset({"title", "description", "severity", "controls", "mitre", "params", "topic", "kind", "columns", "needs",
                         "reproduces", "engines", "enabled", "audit", "stateful"})
# libyaml's parser when PyYAML has it (every wheel does): each command that opens a lake reads ~130 headers and their folders' defaults
_HEADER_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
DEFAULTS_FILE = "_defaults.yaml"  # a root's or folder's defaults (see `Defaults`)
DEFAULTS_KEYS = frozenset({"params", "offers", "needs"})
DETECTIONS_TOPIC = "detections"  # queries/detections/: the Falco, Sigma and Panther rules (auditlake detect)
ENGINES = ("falco", "sigma", "panther")  # the public rule sets a detection can say it reproduces
# A detection's `audit:` entry per upstream rule it reproduces: that rule's default condition, ours with default
# parameters, the difference ("none" only when there is none), and optionally the parameters that give that rule exactly.
AUDIT_KEYS = ("upstream", "ours", "difference")
AUDIT_OPTIONAL_KEYS = ("params",)
# A detection that compares the window with what came before it (`stateful:`), reproducing no upstream rule: `first-seen`
# (a key the baseline never saw), `sequence` (an earlier step, then the event that completes it, within `$within`) or `rare`
# (a service account's habit it never had). Each reads `$baseline`, the span before the window that is read, never reported.
STATEFUL_KINDS = ("first-seen", "sequence", "rare")
# The engines a saved query can run on (`engines:`): DuckDB always; Spark through sqlglot (auditlake/scaleout).
QUERY_ENGINES = ("duckdb", "spark")
DEFAULT_ENGINES = ("duckdb",)  # a header without `engines:` (a view, a macro, a query of AUDITLAKE_QUERY_PATH)
NEED_KEYS = frozenset({"level", "group", "resources", "verbs"})
NEED_LEVELS = ("Metadata", "Request", "RequestResponse")
PARAM_KEYS = frozenset({"type", "default", "help", "required"})
SEVERITIES = ("info", "low", "medium", "high", "critical")
# What every detection returns, in this order (see `SavedQuery.statement`): where and when, which rule, who, what, the event.
KINDS = ("query", "view", "macro")
PARAM_TYPES = {
    "timestamptz": "TIMESTAMPTZ", "date": "DATE", "varchar": "VARCHAR", "integer": "INTEGER", "double": "DOUBLE",
    "boolean": "BOOLEAN", "interval": "INTERVAL", "varchar[]": "VARCHAR[]",
}
WINDOW_PARAMS = ("since", "until")
CONTROL = re.compile(r"^(pci-dss-4\.0|hipaa|soc2|iso27001|cis-k8s|nist-800-53):[A-Za-z0-9().-]+$")
MITRE = re.compile(r"^T\d{4}(\.\d{3})?$")
_HEADER = re.compile(r"\A\s*/\*(.*?)\*/", re.DOTALL)
PARAMETER = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
STRINGS_AND_COMMENTS = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|/\*.*?\*/", re.DOTALL)


def sub_in_code(pattern: re.Pattern[str], replacement: str | Callable[[re.Match[str]], str], sql: str) -> str:
    """`pattern.sub(replacement, …)` on the SQL between its strings and comments, which stay as they are."""
    pieces, last = [], 0
    for match in STRINGS_AND_COMMENTS.finditer(sql):
        pieces += [pattern.sub(replacement, sql[last:match.start()]), match.group(0)]
        last = match.end()
    return "".join(pieces) + pattern.sub(replacement, sql[last:])


@dataclass(frozen=True)
class Parameter:
    """A declared `$name`: its type, default (as written in the header), help, and whether a run must give it."""

    name: str
    type: str
    default: Any = None
    help: str = ""
    required: bool = False  # `required: true`: without a value the answer would be empty, so binding refuses
    setting: str = ""  # `default: {setting: NAME}`: the AUDITLAKE_* setting that gives the default (see `current_default`)

    def __post_init__(self) -> None:
        if isinstance(self.default, dict) and "setting" in self.default:
            object.__setattr__(self, "setting", str(self.default["setting"]))
        if self.setting:
            object.__setattr__(self, "default", self.current_default())

    def current_default(self) -> Any:
        """The default now: for `default: {setting: NAME}`, that setting's value in this environment (a list for
        `varchar[]`), read afresh because query headers are loaded once per process; else the header's default."""
        if not self.setting:
            return self.default
        if self.setting not in config.SETTINGS:
            raise QueryError(f"parameter {self.name!r}: no setting named {self.setting!r}{did_you_mean(self.setting, config.SETTINGS)}")
        value = config.setting(self.setting)
        return [item.strip() for item in value.split(",") if item.strip()] if self.type == "varchar[]" else value


@dataclass(frozen=True)
class Need:
    """What a question reads: requests (resources of a group, verbs; empty means any) logged at least at `level`."""

    level: str
    group: str = ""
    resources: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ()


@dataclass(frozen=True)
class SavedQuery:
    """One `.sql` file of the library (a question, a shared view, or a macro)."""

    name: str
    path: Path
    kind: str
    topic: str
    title: str
    description: str
    severity: str
    controls: tuple[str, ...]
    mitre: tuple[str, ...]
    params: tuple[Parameter, ...]
    sql: str  # the statement, header removed
    columns: dict[str, str] = field(default_factory=dict)  # documented output columns
    needs: tuple[Need, ...] = ()  # the audit level and requests it reads (policy simulate / recommend)
    reproduces: dict[str, tuple[str, ...]] = field(default_factory=dict)  # engine → upstream rule names/ids (detections)
    engines: tuple[str, ...] = DEFAULT_ENGINES  # where it runs (`engines:`), DuckDB first
    engine_notes: dict[str, str] = field(default_factory=dict)  # engine → why it does not run there
    has_engines: bool = False  # whether the header says `engines:` (every file of queries/ does; a test holds it)
    enabled: bool = True  # `enabled: false`: `detect` runs it only when named or enabled by tuning (upstream ships it disabled)
    audit: dict[str, dict[str, Any]] = field(default_factory=dict)  # upstream rule → {upstream, ours, difference, params}
    stateful: str = ""  # `stateful:` of a detection over history: one of STATEFUL_KINDS (it then reads $baseline)

    @property
    def macro_name(self) -> str:
        """The identifier the query has in the catalog (`secret-reads` → `secret_reads`)."""
        return self.name.replace("-", "_")

    @property
    def is_detection(self) -> bool:
        return self.kind == "query" and self.topic == DETECTIONS_TOPIC

    @property
    def statement(self) -> str:
        """The SQL that runs. A detection's file selects the rows it finds (usually `*` of a view such as
        `final_requests`, which carries `actor` and `object`) plus what is its own, `summary`; the finding
        projection is applied here, once: `FINDING_COLUMNS` in order, `rule` and `severity` from the file's
        name and header, ordered by time. So no file restates the projection, its name or its severity."""
        if not self.is_detection:
            return self.sql
        columns = ", ".join(f"'{self.name}' AS rule" if column == "rule" else f"'{self.severity}' AS severity" if column == "severity"
                            else column for column in FINDING_COLUMNS)
        return f"SELECT {columns} FROM (\n{self.sql}\n) ORDER BY received_at, audit_id"

    def parameter(self, name: str) -> Parameter | None:
        return next((p for p in self.params if p.name == name), None)


def normalise_name(name: str) -> str:
    return name.strip().lower().replace("_", "-")


def query_roots() -> list[Path]:
    """Where saved queries live: the project's `queries/`, then AUDITLAKE_QUERY_PATH (`:`-separated)."""
    package = Path(__file__).resolve().parents[1]
    roots = [path for path in (package.parent / "queries", package / "queries") if path.is_dir()][:1]
    return roots + config.query_path()


_LIBRARY_CACHE: dict[tuple[tuple[str, float, int], ...], dict[str, SavedQuery]] = {}


def load_library(roots: list[Path] | None = None) -> dict[str, SavedQuery]:
    """Every `.sql` file under the roots, by name; strict (see the module docstring).

    Cached per process while no file is added, removed or modified (loading parses every header).
    """
    roots = roots if roots is not None else query_roots()
    key = library_stamp(roots)
    if key not in _LIBRARY_CACHE:
        _LIBRARY_CACHE.clear()
        _LIBRARY_CACHE[key] = _load_library(roots)
    return dict(_LIBRARY_CACHE[key])


def library_stamp(roots: list[Path] | None = None) -> tuple[tuple[str, float, int], ...]:
    """What the library is read from: every query and defaults file under the roots with its mtime and size (a
    change to any of them, or a file added or removed, is another stamp), then the roots themselves."""
    roots = roots if roots is not None else query_roots()
    files = sorted(path for root in roots if root.is_dir() for pattern in ("*.sql", DEFAULTS_FILE) for path in root.rglob(pattern))
    return tuple((str(path), stat.st_mtime, stat.st_size) for path in files if (stat := path.stat())) + tuple((str(r), 0.0, 0) for r in roots)


def _load_library(roots: list[Path]) -> dict[str, SavedQuery]:
    library: dict[str, SavedQuery] = {}
    for root in roots:
        if not root.is_dir():
            raise QueryError(f"{root}: no such query directory", hint="check AUDITLAKE_QUERY_PATH")
        defaults: dict[Path, Defaults] = {}  # each folder's, read once (not once per file: ≈ 0.4 s of every command)
        for path in sorted(root.rglob("*.sql")):
            if path.parent not in defaults:
                defaults[path.parent] = folder_defaults(path.parent, root)
            query = load_file(path, root, defaults[path.parent])
            if query.name in library:
                raise QueryError(f"duplicate saved-query name {query.name!r} (also {library[query.name].path})", path=path,
                                 hint="names are file stems and must be unique across queries/")
            library[query.name] = query
    return library


def saved_queries(library: dict[str, SavedQuery]) -> list[SavedQuery]:
    return sorted((q for q in library.values() if q.kind == "query"), key=lambda q: (q.topic, q.name))


@dataclass(frozen=True)
class Defaults:
    """What `_defaults.yaml` files give the queries under them: the query root's, then the folder's (the folder's
    winning per name). `params`: declared by every query; `offers`: declared by a query only when its SQL uses
    `$name`; `needs`: named sets of needs a header may list by name (`needs: [pod_specs]`). A header's own
    declaration of a parameter wins over both."""

    params: dict[str, Any] = field(default_factory=dict)
    root_offers: dict[str, Any] = field(default_factory=dict)  # offered by the root: listed before a header's own
    folder_offers: dict[str, Any] = field(default_factory=dict)  # offered by the folder: listed after a header's own
    needs: dict[str, Any] = field(default_factory=dict)


def folder_defaults(folder: Path, root: Path | None = None) -> Defaults:
    """The defaults of the queries in `folder`: the root's `_defaults.yaml`, then the folder's own."""
    top = _read_defaults(root / DEFAULTS_FILE) if root is not None and root.resolve() != folder.resolve() else {}
    own = _read_defaults(folder / DEFAULTS_FILE)
    folder_offers = own.get("offers", {})
    root_offers = {name: spec for name, spec in top.get("offers", {}).items() if name not in folder_offers}
    return Defaults({**top.get("params", {}), **own.get("params", {})}, root_offers, folder_offers,
                    {**top.get("needs", {}), **own.get("needs", {})})


def _read_defaults(path: Path) -> dict[str, dict[str, Any]]:
    if not path.is_file():
        return {}
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_HEADER_LOADER) or {}
    except (OSError, yaml.YAMLError) as error:
        raise QueryError(f"folder defaults are not valid YAML ({str(error).splitlines()[0]})", path=path) from None
    if not isinstance(raw, dict):
        raise QueryError("folder defaults must be a YAML mapping (params:, offers: {NAME: {type, default, help}}; needs:)", path=path)
    for key in raw:
        if key not in DEFAULTS_KEYS:
            raise QueryError(f"unknown key {key!r} in folder defaults{did_you_mean(key, DEFAULTS_KEYS)}", path=path)
    for key in ("params", "offers"):
        if not isinstance(raw.get(key) or {}, dict):
            raise QueryError(f"{key} must be a mapping of name to {{type, default, help}}", path=path)
        _parameters(raw.get(key) or {}, path)  # checked here, so a bad declaration is an error even while no query uses it
    needs = raw.get("needs") or {}
    if not isinstance(needs, dict):
        raise QueryError("needs must map a name to a list of {level, group, resources, verbs}", path=path)
    for need_set in needs.values():
        _needs(need_set, path, {})
    return {"params": raw.get("params") or {}, "offers": raw.get("offers") or {}, "needs": needs}


def load_file(path: Path, root: Path, defaults: Defaults | None = None) -> SavedQuery:
    """Parse and check one file (with the defaults of its root and folder: `folder_defaults` when not given)."""
    import duckdb  # only to check the SQL parses: `import auditlake.library` stays cheap

    text = path.read_text()
    match = _HEADER.match(text)
    if not match:
        raise QueryError("no metadata header: start the file with a /* … */ comment holding YAML", path=path)
    try:
        header = yaml.load(match.group(1), Loader=_HEADER_LOADER) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        raise QueryError(f"header is not valid YAML ({getattr(error, 'problem', error)})", path=path,
                         line=mark.line + 1 if mark else None) from None
    if not isinstance(header, dict):
        raise QueryError("header must be a YAML mapping", path=path)
    for key in header:
        if not isinstance(key, str) or key not in HEADER_KEYS:
            raise QueryError(f"unknown header key {key!r}{did_you_mean(key, HEADER_KEYS)}", path=path)
    name = normalise_name(path.stem)
    kind = header.get("kind", "view" if path.parent.name == "views" else "query")
    if kind not in KINDS:
        raise QueryError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}", path=path)
    if not header.get("title"):
        raise QueryError("header needs a title", path=path)
    severity = header.get("severity", "info")
    if severity not in SEVERITIES:
        raise QueryError(f"severity must be one of {', '.join(SEVERITIES)}, not {severity!r}", path=path)
    controls = tuple(_strings(header.get("controls", []), "controls", path))
    for control in controls:
        if not CONTROL.match(control):
            raise QueryError(f"control {control!r} is not framework:id (e.g. pci-dss-4.0:10.2.1.2, hipaa:164.312(b))", path=path)
    mitre = tuple(_strings(header.get("mitre", []), "mitre", path))
    for technique in mitre:
        if not MITRE.match(technique):
            raise QueryError(f"MITRE ATT&CK id {technique!r} is not T#### or T####.###", path=path)
    own = header.get("params") or {}
    if not isinstance(own, dict):
        raise QueryError("params must be a mapping of name to {type, default, help}", path=path)
    defaults = defaults if defaults is not None else folder_defaults(path.parent, root)
    sql = text[match.end():].strip().rstrip(";").strip()
    used = sorted(set(PARAMETER.findall(STRINGS_AND_COMMENTS.sub(" ", sql))))
    # A query's parameters, in order: the defaults' params, the root's offers it uses, its header's own, the folder's offers it uses.
    offered = {name: spec for name, spec in {**defaults.root_offers, **defaults.folder_offers}.items() if name in used and name not in own}
    params = _parameters({**defaults.params, **{k: v for k, v in offered.items() if k in defaults.root_offers}, **own,
                          **{k: v for k, v in offered.items() if k in defaults.folder_offers}} if kind == "query" else own, path)
    declared = [p.name for p in params]
    for name_used in used:
        if name_used not in declared:
            raise QueryError(f"${name_used} is used but not declared under params", path=path)
    for name_declared in declared:
        if name_declared not in used:
            raise QueryError(f"parameter {name_declared!r} is declared but the SQL never uses ${name_declared}", path=path)
    if kind == "query" and not all(window in declared for window in WINDOW_PARAMS):
        raise QueryError("a saved query must declare and use $since and $until, so that it reads a bounded window", path=path)
    if kind != "query" and params:
        raise QueryError(f"a {kind} cannot take parameters", path=path)
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as error:
        raise QueryError(f"SQL does not parse: {str(error).splitlines()[0]}", path=path) from None
    if len(statements) != 1:
        raise QueryError(f"one statement per file, found {len(statements)}", path=path)
    columns = header.get("columns") or {}
    if not isinstance(columns, dict):
        raise QueryError("columns must map column names to descriptions", path=path)
    needs = _needs(header.get("needs"), path, defaults.needs)
    if kind == "query" and not needs:
        raise QueryError("a saved query must say what it needs (needs: [{level: Metadata, resources: [...], verbs: [...]}])", path=path)
    reproduces = _reproduces(header.get("reproduces"), path)
    engines, engine_notes = _engines(header.get("engines"), path)
    enabled = header.get("enabled", True)
    if not isinstance(enabled, bool):
        raise QueryError(f"enabled must be true or false, not {enabled!r}", path=path)
    audit = _audit(header.get("audit"), reproduces, path)
    for rule, entry in audit.items():
        for name_given in entry["params"]:
            if name_given not in declared:
                raise QueryError(f"audit: {rule}: params names {name_given!r}, which is not a parameter{did_you_mean(str(name_given), declared)}",
                                 path=path)
    stateful = str(header.get("stateful") or "")
    if stateful and stateful not in STATEFUL_KINDS:
        raise QueryError(f"stateful must be one of {', '.join(STATEFUL_KINDS)}, not {stateful!r}", path=path)
    if stateful and "baseline" not in declared:
        raise QueryError("a stateful detection reads the span before its window: use $baseline (offered by detections/_defaults.yaml)",
                         path=path)
    if stateful == "sequence" and "within" not in declared:
        raise QueryError("a sequence says how close its steps must be: use $within", path=path)
    relative = path.relative_to(root)
    topic = str(header.get("topic") or (relative.parts[0] if len(relative.parts) > 1 else "general"))
    return SavedQuery(name, path, kind, topic, str(header["title"]), str(header.get("description", "")).strip(), severity,
                      controls, mitre, params, sql, {str(k): str(v) for k, v in columns.items()}, needs, reproduces,
                      engines, engine_notes, "engines" in header, enabled, audit, stateful)


def _engines(raw: Any, path: Path) -> tuple[tuple[str, ...], dict[str, str]]:
    """`engines:`, either the list of engines a query runs on (`[duckdb, spark]`) or a mapping of each engine to
    `true` (runs there) or the reason it cannot (`{duckdb: true, spark: "uses json_exists, which Spark lacks"}`).
    DuckDB must be one of them: every saved query runs on the catalog. Absent: DuckDB only, with no reason."""
    if raw is None:
        return DEFAULT_ENGINES, {}
    shape = f"engines must be a list of {', '.join(QUERY_ENGINES)} or a mapping of each to true or the reason it cannot run there"
    if isinstance(raw, list):
        raw = {engine: True for engine in raw} if all(isinstance(engine, str) for engine in raw) else None
    if not isinstance(raw, dict):
        raise QueryError(shape, path=path)
    for engine, value in raw.items():
        if engine not in QUERY_ENGINES:
            raise QueryError(f"engines: unknown engine {engine!r} (one of {', '.join(QUERY_ENGINES)}){did_you_mean(str(engine), QUERY_ENGINES)}",
                             path=path)
        if value is not True and not (isinstance(value, str) and value.strip()):
            raise QueryError(f"engines: {engine} must be true or the reason it cannot run there, not {value!r}", path=path)
    if raw.get("duckdb") is not True:
        raise QueryError("engines: every saved query runs on duckdb (list it, or map it to true)", path=path)
    runs = tuple(engine for engine in QUERY_ENGINES if raw.get(engine) is True)
    notes = {engine: " ".join(str(value).split()) for engine, value in raw.items() if isinstance(value, str)}
    return runs, notes


def _reproduces(raw: Any, path: Path) -> dict[str, tuple[str, ...]]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise QueryError(f"reproduces must map an engine ({', '.join(ENGINES)}) to a list of rule names", path=path)
    for engine in raw:
        if engine not in ENGINES:
            raise QueryError(f"reproduces: unknown engine {engine!r} (one of {', '.join(ENGINES)})", path=path)
    return {engine: tuple(_strings(rules, f"reproduces.{engine}", path)) for engine, rules in raw.items()}


def _audit(raw: Any, reproduces: dict[str, tuple[str, ...]], path: Path) -> dict[str, dict[str, Any]]:
    """`audit:`, one entry per upstream rule the header reproduces: `{upstream, ours, difference}` strings and optional
    `params`, the values that give exactly that rule. An entry for a rule not in `reproduces` is refused."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise QueryError("audit must map each upstream rule to {upstream, ours, difference, params}", path=path)
    named = {rule for rules in reproduces.values() for rule in rules}
    audit: dict[str, dict[str, Any]] = {}
    for rule, entry in raw.items():
        if rule not in named:
            raise QueryError(f"audit: {rule!r} is not one of the rules under reproduces{did_you_mean(str(rule), named)}", path=path)
        if not isinstance(entry, dict):
            raise QueryError(f"audit: {rule} must be a mapping of {', '.join(AUDIT_KEYS)} (and params)", path=path)
        for key in entry:
            if key not in AUDIT_KEYS + AUDIT_OPTIONAL_KEYS:
                raise QueryError(f"audit: {rule}: unknown key {key!r}{did_you_mean(str(key), AUDIT_KEYS + AUDIT_OPTIONAL_KEYS)}", path=path)
        for key in AUDIT_KEYS:
            if not isinstance(entry.get(key), str) or not entry[key].strip():
                raise QueryError(f"audit: {rule} needs {key}: a sentence", path=path)
        if not isinstance(entry.get("params", {}), dict):
            raise QueryError(f"audit: {rule}: params must map parameter names to values", path=path)
        audit[str(rule)] = {**{key: " ".join(entry[key].split()) for key in AUDIT_KEYS}, "params": dict(entry.get("params") or {})}
    return audit


def _needs(raw: Any, path: Path, named: dict[str, Any]) -> tuple[Need, ...]:
    """A header's `needs`: each item a need, or the name of a set under `needs:` in the folder defaults."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise QueryError("needs must be a list of {level, group, resources, verbs}", path=path)
    needs: list[Need] = []
    for item in raw:
        if isinstance(item, str):
            if item not in named:
                raise QueryError(f"need: no set named {item!r} under needs: in _defaults.yaml{did_you_mean(item, named)}", path=path)
            needs += _needs(named[item], path, {})
            continue
        if not isinstance(item, dict):
            raise QueryError("each need must be a mapping {level, group, resources, verbs}", path=path)
        for key in item:
            if key not in NEED_KEYS:
                raise QueryError(f"need: unknown key {key!r}{did_you_mean(key, NEED_KEYS)}", path=path)
        if item.get("level") not in NEED_LEVELS:
            raise QueryError(f"need: level must be one of {', '.join(NEED_LEVELS)}", path=path)
        needs.append(Need(item["level"], str(item.get("group") or ""), tuple(_strings(item.get("resources", []), "need resources", path)),
                          tuple(_strings(item.get("verbs", []), "need verbs", path))))
    return tuple(needs)


def _strings(value: Any, key: str, path: Path) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise QueryError(f"{key} must be a list of strings", path=path)
    return value


def _parameters(raw: dict[Any, Any], path: Path) -> tuple[Parameter, ...]:
    params = []
    for name, spec in raw.items():
        spec = spec or {}
        if not isinstance(spec, dict):
            raise QueryError(f"parameter {name!r} must be a mapping with type, default, help", path=path)
        for key in spec:
            if not isinstance(key, str) or key not in PARAM_KEYS:
                raise QueryError(f"parameter {name!r}: unknown key {key!r}{did_you_mean(key, PARAM_KEYS)}", path=path)
        kind = str(spec.get("type", "varchar")).lower()
        if kind not in PARAM_TYPES:
            raise QueryError(f"parameter {name!r}: type {kind!r} is not one of {', '.join(PARAM_TYPES)}", path=path)
        default = spec.get("default")
        if isinstance(default, dict) and (set(default) != {"setting"} or default["setting"] not in config.SETTINGS):
            raise QueryError(f"parameter {name!r}: a default mapping is {{setting: NAME}}, NAME one of {', '.join(config.SETTINGS)}",
                             path=path)
        if name == "since" and default is None:
            default = DEFAULT_SINCE
        if name == "until" and default is None:
            default = "now"
        required = spec.get("required", False)
        if not isinstance(required, bool):
            raise QueryError(f"parameter {name!r}: required must be true or false", path=path)
        if required and default is not None:
            raise QueryError(f"parameter {name!r}: a required parameter has no default", path=path)
        params.append(Parameter(str(name), kind, default, str(spec.get("help", "")), required))
    return tuple(params)


def markdown_table(library: dict[str, SavedQuery]) -> str:
    """The README's list of saved queries, generated so it never drifts from the files."""
    lines = ["| topic | query | question | severity | controls |", "|---|---|---|---|---|"]
    for query in (q for q in saved_queries(library) if q.topic != DETECTIONS_TOPIC):  # detections have their own table
        controls = ", ".join(query.controls + tuple(f"ATT&CK {t}" for t in query.mitre))
        lines.append(f"| {query.topic} | `{query.name}` | {query.title} | {query.severity} | {controls} |")
    return "\n".join(lines)
